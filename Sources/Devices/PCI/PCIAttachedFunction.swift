/// A function and the address it was attached at.
struct PCIAttachedFunction: Sendable {
    let address: PCIDeviceAddress
    let function: any PCIFunction
}
