import LKVMCore
@testable import LKVMDevices
import LKVMTestSupport
import XCTest

/// Offsets in struct virtio_pci_common_cfg, as Linux's virtio_pci.h names
/// them (VIRTIO_PCI_COMMON_*); kept apart from lkvm's own enum on purpose.
enum CommonCfg {
    static let deviceFeatureSelect: UInt64 = 0, deviceFeature: UInt64 = 4
    static let driverFeatureSelect: UInt64 = 8, driverFeature: UInt64 = 12
    static let msixConfig: UInt64 = 16, numQueues: UInt64 = 18
    static let deviceStatus: UInt64 = 20, configGeneration: UInt64 = 21
    static let queueSelect: UInt64 = 22, queueSize: UInt64 = 24, queueMSIXVector: UInt64 = 26
    static let queueEnable: UInt64 = 28, queueNotifyOff: UInt64 = 30
    static let queueDescLow: UInt64 = 32, queueDescHigh: UInt64 = 36
    static let queueAvailLow: UInt64 = 40, queueAvailHigh: UInt64 = 44
    static let queueUsedLow: UInt64 = 48, queueUsedHigh: UInt64 = 52
}

/// Configuration header registers and capability IDs a PCI driver uses.
enum PCIConfig {
    static let vendorID = 0x00, deviceID = 0x02, command = 0x04, status = 0x06, revision = 0x08
    static let classCode = 0x09, bar0 = 0x10, subsystemVendorID = 0x2C, subsystemID = 0x2E
    static let capabilitiesPointer = 0x34, interruptLine = 0x3C, interruptPin = 0x3D
    static let statusCapabilitiesList: UInt32 = 1 << 4
    static let commandMemory: UInt32 = 1 << 1, commandBusMaster: UInt32 = 1 << 2
    static let commandINTxDisable: UInt32 = 1 << 10
    static let vendorCapability: UInt8 = 0x09, msixCapability: UInt8 = 0x11
    static let msixEnable: UInt32 = 1 << 15, msixFunctionMask: UInt32 = 1 << 14
}

/// cfg_type of a virtio vendor capability.
enum VirtioCfgType {
    static let common: UInt8 = 1, notify: UInt8 = 2, isr: UInt8 = 3, device: UInt8 = 4, pciConfig: UInt8 = 5
}

/// One virtio vendor capability as the driver reads it from config space.
struct VirtioCapabilityInfo: Equatable {
    /// Where the capability starts in config space.
    let position: Int
    let length: UInt8
    let type: UInt8
    let bar: UInt8
    let offset: UInt32
    let size: UInt32
}

/// The board's `[pci]` windows, as in Boards/pc.toml.
enum PCBoardPCI {
    static let windows = PCIWindows(
        ecam: GuestRange(start: GuestAddress(0xE000_0000), size: 0x1000_0000)!,
        mmio32: GuestRange(start: GuestAddress(0xC000_0000), size: 0x2000_0000)!,
        mmio64: nil, ioPorts: PortRange(start: 0x1000, count: 0xF000)!, intxIRQs: 16..<20)
}

/// A guest driver that finds a virtio-pci function on a PCI root and
/// programs it as Linux's virtio_pci_modern and virtio core do: capability
/// walk, BAR 0 mapping, reset, feature negotiation, MSI-X vectors, queue
/// setup, DRIVER_OK, notifications and interrupts.
final class FakePCIDriver {
    /// How the driver reaches configuration space.
    enum ConfigPath { case ecam, ports }

    static let address = PCIDeviceAddress(device: 1)
    /// VIRTIO_MSI_NO_VECTOR.
    static let noVector: UInt16 = 0xFFFF
    /// The MSI message vector `v` is programmed with: x86's LAPIC window
    /// and a data word that tells vectors apart.
    static func msiAddress(_ vector: Int) -> UInt64 { 0xFEE0_0000 | UInt64(vector) << 12 }
    static func msiData(_ vector: Int) -> UInt32 { 0x4040 + UInt32(vector) }

    let memory: GuestMemory
    let root: PCIRoot
    let ports: PCIConfigPorts
    let msi = FakeMSIController()
    let line: RecordingInterruptLine?
    let transport: VirtioPCITransport
    var ring: FakeGuestRing
    var configPath: ConfigPath = .ecam

    // What probe() found.
    private(set) var capabilities: [VirtioCapabilityInfo] = []
    private(set) var msixPosition: Int?
    private(set) var notifyMultiplier: UInt32 = 0
    /// Per queue, from queue_notify_off after setup.
    private(set) var notifyOffsets: [Int: UInt16] = [:]

    /// - Parameter intx: whether the board wires INTA to a line.
    init(device: any VirtioDevice, queueSize: UInt16 = 8, intx: Bool = true,
         memory: GuestMemory = makeGuestMemory()) throws {
        self.memory = memory
        line = intx ? RecordingInterruptLine() : nil
        root = PCIRoot(windows: PCBoardPCI.windows)
        ports = PCIConfigPorts(root: root)
        transport = VirtioPCITransport(device: device, memory: memory, msi: msi, intx: line, name: "virtio-pci-test")
        ring = FakeGuestRing(memory: memory, size: queueSize)
        try root.attach(PCIHostBridge(), at: PCIDeviceAddress(device: 0))
        try root.attach(transport, at: Self.address)
    }

    // MARK: Configuration space

    func config(_ offset: Int, size: Int = 4) -> UInt32 {
        switch configPath {
        case .ecam:
            let ecamOffset = UInt64(Self.address.device) << 15 | UInt64(offset)
            return UInt32(truncatingIfNeeded: root.ecam.read(offset: ecamOffset, size: size))
        case .ports:
            selectPortRegister(offset)
            return UInt32(truncatingIfNeeded: ports.read(offset: 4 + UInt64(offset & 3), size: size))
        }
    }

    func setConfig(_ offset: Int, size: Int = 4, _ value: UInt32) {
        switch configPath {
        case .ecam:
            let ecamOffset = UInt64(Self.address.device) << 15 | UInt64(offset)
            root.ecam.write(offset: ecamOffset, size: size, value: UInt64(value))
        case .ports:
            selectPortRegister(offset)
            ports.write(offset: 4 + UInt64(offset & 3), size: size, value: UInt64(value))
        }
    }

    /// 0xCF8: enable, bus 0, the device, function 0, the dword.
    private func selectPortRegister(_ offset: Int) {
        let value = 1 << 31 | UInt32(Self.address.device) << 11 | UInt32(offset & 0xFC)
        ports.write(offset: 0, size: 4, value: UInt64(value))
    }

    /// pci_find_capability's walk: status bit 4, the pointer at 0x34, each
    /// ID and next pointer; (ID, position) in list order. Stops after 48
    /// entries as Linux does, so a looping list fails the test instead of
    /// hanging it.
    func capabilityList() -> [(id: UInt8, position: Int)] {
        guard config(PCIConfig.status, size: 2) & PCIConfig.statusCapabilitiesList != 0 else { return [] }
        var list: [(id: UInt8, position: Int)] = []
        var position = Int(config(PCIConfig.capabilitiesPointer, size: 1)) & ~3
        while position >= 0x40, list.count < 48 {
            list.append((UInt8(config(position, size: 1)), position))
            position = Int(config(position + 1, size: 1)) & ~3
        }
        return list
    }

    /// vp_modern_probe: the vendor capabilities and MSI-X; false unless the
    /// IDs are a modern virtio device and the common, notify and ISR
    /// structures are all there.
    @discardableResult
    func probe() -> Bool {
        guard config(PCIConfig.vendorID, size: 2) == 0x1AF4 else { return false }
        let device = config(PCIConfig.deviceID, size: 2)
        guard (0x1040...0x107F).contains(device) else { return false }
        capabilities = []
        for (id, position) in capabilityList() {
            switch id {
            case PCIConfig.vendorCapability:
                capabilities.append(VirtioCapabilityInfo(
                    position: position, length: UInt8(config(position + 2, size: 1)),
                    type: UInt8(config(position + 3, size: 1)), bar: UInt8(config(position + 4, size: 1)),
                    offset: config(position + 8), size: config(position + 12)))
            case PCIConfig.msixCapability:
                msixPosition = position
            default:
                break
            }
        }
        guard let notify = capability(VirtioCfgType.notify), capability(VirtioCfgType.common) != nil,
              capability(VirtioCfgType.isr) != nil else { return false }
        notifyMultiplier = config(notify.position + 16)
        return true
    }

    /// The first capability of `type`, as virtio_pci_find_capability picks it.
    func capability(_ type: UInt8) -> VirtioCapabilityInfo? { capabilities.first { $0.type == type } }

    // MARK: BAR 0

    /// BAR 0's base as the driver reads it (memory BAR: low 4 bits are flags).
    var barAddress: UInt64 { UInt64(config(PCIConfig.bar0) & ~0xF) }

    private func windowOffset(_ barOffset: UInt64) -> UInt64 {
        barAddress - PCBoardPCI.windows.mmio32.start.raw + barOffset
    }

    func bar(_ offset: UInt64, size: Int) -> UInt64 {
        root.mmio32Window.read(offset: windowOffset(offset), size: size)
    }

    func setBar(_ offset: UInt64, size: Int, _ value: UInt64) {
        root.mmio32Window.write(offset: windowOffset(offset), size: size, value: value)
    }

    private var commonBase: UInt64 { UInt64(capability(VirtioCfgType.common)!.offset) }

    /// A common configuration field at its natural width (from `CommonCfg`).
    func common(_ field: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: bar(commonBase + field, size: Self.width(field)))
    }

    func setCommon(_ field: UInt64, _ value: UInt32) {
        setBar(commonBase + field, size: Self.width(field), UInt64(value))
    }

    /// Width of a common configuration field, as Linux accesses it.
    static func width(_ field: UInt64) -> Int {
        switch field {
        case CommonCfg.deviceStatus, CommonCfg.configGeneration: 1
        case CommonCfg.msixConfig, CommonCfg.numQueues, CommonCfg.queueSelect, CommonCfg.queueSize,
             CommonCfg.queueMSIXVector, CommonCfg.queueEnable, CommonCfg.queueNotifyOff: 2
        default: 4
        }
    }

    var status: UInt32 { common(CommonCfg.deviceStatus) }
    var needsReset: Bool { status & Status.needsReset != 0 }

    /// The ISR byte; reading it clears it.
    func readISR() -> UInt8 { UInt8(truncatingIfNeeded: bar(UInt64(capability(VirtioCfgType.isr)!.offset), size: 1)) }

    // MARK: MSI-X

    private var msixControl: UInt32 { config(msixPosition! + 2, size: 2) }
    /// Message Control's table size field plus one.
    var msixTableSize: Int { Int(msixControl & 0x7FF) + 1 }
    /// (BIR, offset) of the table and of the PBA.
    var msixTable: (bar: Int, offset: UInt64) { split(config(msixPosition! + 4)) }
    var msixPBA: (bar: Int, offset: UInt64) { split(config(msixPosition! + 8)) }
    private func split(_ value: UInt32) -> (bar: Int, offset: UInt64) { (Int(value & 7), UInt64(value & ~7)) }

    func msixEntryOffset(_ vector: Int, _ field: UInt64) -> UInt64 { msixTable.offset + 16 * UInt64(vector) + field }

    /// Vector control of table entry `vector`: bit 0 masks it.
    func setVectorMasked(_ vector: Int, _ masked: Bool) {
        setBar(msixEntryOffset(vector, 12), size: 4, masked ? 1 : 0)
    }

    /// The PBA bit of `vector`.
    func isPending(_ vector: Int) -> Bool {
        bar(msixPBA.offset + 8 * UInt64(vector / 64), size: 8) & (1 << UInt64(vector % 64)) != 0
    }

    /// msix_capability_init then request_irq: enable with the function
    /// masked, program every entry, unmask the function, set INTx disable
    /// (pci_intx_for_msi), unmask the entries (`masked` stay masked).
    func enableMSIX(masked: Set<Int> = []) {
        setConfig(msixPosition! + 2, size: 2, PCIConfig.msixEnable | PCIConfig.msixFunctionMask)
        for vector in 0..<msixTableSize {
            setBar(msixEntryOffset(vector, 0), size: 4, UInt64(Self.msiAddress(vector) & 0xFFFF_FFFF))
            setBar(msixEntryOffset(vector, 4), size: 4, Self.msiAddress(vector) >> 32)
            setBar(msixEntryOffset(vector, 8), size: 4, UInt64(Self.msiData(vector)))
        }
        setConfig(msixPosition! + 2, size: 2, PCIConfig.msixEnable)
        setConfig(PCIConfig.command, size: 2, config(PCIConfig.command, size: 2) | PCIConfig.commandINTxDisable)
        for vector in 0..<msixTableSize where !masked.contains(vector) { setVectorMasked(vector, false) }
    }

    /// What the controller received, in order.
    var messages: [MSIMessage] { msi.messages.withLock { $0 } }

    static func message(_ vector: Int) -> MSIMessage {
        MSIMessage(address: msiAddress(vector), data: msiData(vector))
    }

    // MARK: The virtio core's sequence

    /// vp_reset: write 0, then poll until the device reads 0.
    func reset() {
        setCommon(CommonCfg.deviceStatus, 0)
        var polls = 0
        while status != 0 && polls < 100 { polls += 1 }
        XCTAssertEqual(status, 0, "reset reads back 0")
    }

    func addStatus(_ bits: UInt32) { setCommon(CommonCfg.deviceStatus, status | bits) }

    /// vp_get_features: 64 bits through device_feature_select 0 and 1.
    func deviceFeatures() -> UInt64 {
        setCommon(CommonCfg.deviceFeatureSelect, 0)
        let low = UInt64(common(CommonCfg.deviceFeature))
        setCommon(CommonCfg.deviceFeatureSelect, 1)
        return UInt64(common(CommonCfg.deviceFeature)) << 32 | low
    }

    func writeDriverFeatures(_ features: UInt64) {
        setCommon(CommonCfg.driverFeatureSelect, 0)
        setCommon(CommonCfg.driverFeature, UInt32(truncatingIfNeeded: features))
        setCommon(CommonCfg.driverFeatureSelect, 1)
        setCommon(CommonCfg.driverFeature, UInt32(truncatingIfNeeded: features >> 32))
    }

    /// Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK and the re-read:
    /// true when the device kept FEATURES_OK.
    @discardableResult
    func negotiate(_ wanted: UInt64? = nil) -> Bool {
        reset()
        addStatus(Status.acknowledge)
        addStatus(Status.driver)
        writeDriverFeatures(wanted ?? deviceFeatures())
        addStatus(Status.featuresOK)
        return status & Status.featuresOK != 0
    }

    /// vp_modern_config_vector: write msix_config, return what reads back.
    @discardableResult
    func setConfigVector(_ vector: UInt16) -> UInt16 {
        setCommon(CommonCfg.msixConfig, UInt32(vector))
        return UInt16(common(CommonCfg.msixConfig))
    }

    /// setup_vq: select, read the maximum size, write the size and the
    /// vector (read back), the three ring addresses as two halves each,
    /// read queue_notify_off, then queue_enable = 1. Returns the vector
    /// the device kept.
    @discardableResult
    func setUpQueue(_ index: UInt16 = 0, ring queueRing: FakeGuestRing? = nil, vector: UInt16? = nil) -> UInt16 {
        let queueRing = queueRing ?? ring
        setCommon(CommonCfg.queueSelect, UInt32(index))
        XCTAssertEqual(common(CommonCfg.queueEnable), 0, "a queue is disabled before setup")
        XCTAssertGreaterThanOrEqual(UInt16(common(CommonCfg.queueSize)), queueRing.size, "the maximum size")
        setCommon(CommonCfg.queueSize, UInt32(queueRing.size))
        var kept = Self.noVector
        if let vector {
            setCommon(CommonCfg.queueMSIXVector, UInt32(vector))
            kept = UInt16(common(CommonCfg.queueMSIXVector))
        }
        let addresses = queueRing.addresses
        for (low, address) in [(CommonCfg.queueDescLow, addresses.descriptorTable),
                               (CommonCfg.queueAvailLow, addresses.availableRing),
                               (CommonCfg.queueUsedLow, addresses.usedRing)] {
            setCommon(low, UInt32(truncatingIfNeeded: address.raw))
            setCommon(low + 4, UInt32(truncatingIfNeeded: address.raw >> 32))
        }
        notifyOffsets[Int(index)] = UInt16(common(CommonCfg.queueNotifyOff))
        setCommon(CommonCfg.queueEnable, 1)
        return kept
    }

    func driverOK() { addStatus(Status.driverOK) }

    /// The whole bring-up of queue 0. With `msix`, Linux's per-queue
    /// vectors: config on vector 0, queue 0 on vector 1.
    func bringUp(features: UInt64? = nil, msix: Bool = true) {
        XCTAssertTrue(probe())
        XCTAssertTrue(negotiate(features))
        if msix {
            enableMSIX()  // vp_find_vqs, after FEATURES_OK
            XCTAssertEqual(setConfigVector(0), 0)
            XCTAssertEqual(setUpQueue(0, vector: 1), 1)
        } else {
            setUpQueue(0)
        }
        driverOK()
        XCTAssertEqual(status & Status.driverOK, Status.driverOK)
    }

    /// vp_notify: a 16-bit write of the queue index at the queue's address
    /// in the notify structure.
    func notify(_ queue: UInt16 = 0) {
        let notify = UInt64(capability(VirtioCfgType.notify)!.offset)
        let offset = UInt64(notifyOffsets[Int(queue)] ?? queue) * UInt64(notifyMultiplier)
        setBar(notify + offset, size: 2, UInt64(queue))
    }
}
