/// A piece of the machine that describes itself in the device tree: each
/// device, CPU set and controller writes its own node(s), and
/// `ARM64DeviceTree` walks the pieces in order.
public protocol FDTNodeWriter {
    func writeNode(to fdt: inout FDTWriter) throws(FDTError)
}
