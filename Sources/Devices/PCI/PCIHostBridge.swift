import LKVMCore

/// Function 0 of device 0: a host bridge (class 0x060000), no BARs. Linux
/// only needs it to exist; the IDs are those registered for a virtual
/// machine's PCIe host bridge (Red Hat, 1b36:0008).
public final class PCIHostBridge: PCIFunction {
    public static let vendorID: UInt16 = 0x1B36
    public static let deviceID: UInt16 = 0x0008
    public static let classCode: UInt32 = 0x06_00_00

    public let configSpace = PCIConfigSpace(
        vendorID: PCIHostBridge.vendorID, deviceID: PCIHostBridge.deviceID, revision: 0,
        classCode: PCIHostBridge.classCode,
        subsystemVendorID: PCIHostBridge.vendorID, subsystemID: PCIHostBridge.deviceID, interruptPin: 0)

    public init() {}

    /// No BARs: nothing ever dispatches here.
    public func readBAR(_ index: Int, offset: UInt64, size: Int) -> UInt64 { floatingBusValue(size: size) }
    public func writeBAR(_ index: Int, offset: UInt64, size: Int, value: UInt64) {}
}
