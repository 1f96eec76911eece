/// What a PCI function is: its config space plus handlers for its BARs.
public protocol PCIFunction: AnyObject, Sendable {
    var configSpace: PCIConfigSpace { get }
    /// offset from the BAR's start; size 1, 2, 4 or 8.
    func readBAR(_ index: Int, offset: UInt64, size: Int) -> UInt64
    func writeBAR(_ index: Int, offset: UInt64, size: Int, value: UInt64)
}
