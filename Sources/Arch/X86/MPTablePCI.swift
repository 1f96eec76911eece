import LKVMCore

/// PCI in the MP table, for kernels booted with acpi=off: Linux finds the
/// bus itself (config ports 0xCF8/0xCFC) and asks the MP table where each
/// device's INTx pin arrives (IO_APIC_get_PCI_irq_vector, matching the bus
/// id against the PCI bus number).
extension MPTable {
    /// The MP bus id of PCI bus 0: equal to its PCI bus number.
    public static let pciBus: UInt8 = 0
    /// The pin every lkvm PCI device interrupts on without MSI-X.
    public static let pciDevicePin = 1  // INTA

    /// One entry per device for INTA, wired by `PCIWindows.intxIRQ`:
    /// source IRQ (device << 2) | (pin - 1), level-triggered, active-low as
    /// PCI INTx is. None when the board wires no INTx (MSI-X only).
    static func pciInterrupts(pci: PCIWindows, devices: [Int], ioapicID: UInt8) throws(BootError) -> [IOInterrupt] {
        var interrupts: [IOInterrupt] = []
        for device in devices {
            guard (0..<32).contains(device) else {
                throw .invalidMPTable("PCI device \(device) is not a device number on bus 0 (0-31)")
            }
            guard let irq = pci.intxIRQ(device: device, pin: pciDevicePin) else { continue }
            guard let ioapicPin = UInt8(exactly: irq) else {
                throw .invalidMPTable("PCI device \(device) INTA on IOAPIC pin \(irq)")
            }
            interrupts.append(IOInterrupt(flags: .level | .activeLow, sourceBus: pciBus,
                                          sourceIRQ: UInt8(device << 2 | (pciDevicePin - 1)),
                                          ioapicID: ioapicID, ioapicPin: ioapicPin))
        }
        return interrupts
    }
}
