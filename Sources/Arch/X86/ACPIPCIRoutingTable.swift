import LKVMCore

/// The root bridge's `_PRT`: where INTx of each device on bus 0 arrives,
/// from `PCIWindows.intxIRQ` (the rule the devices and the MP table use too).
/// One entry per device 0-31 and pin INTA-INTD, in the static form (no link
/// device): Package { 0xDDDDFFFF, pin 0-3, Zero, GSI }. Linux gives such
/// GSIs level-triggered, active-low IOAPIC inputs, as PCI wants.
struct ACPIPCIRoutingTable: Sendable, Equatable {
    static let devicesPerBus = 32
    static let pinsPerDevice = 4

    struct Entry: Sendable, Equatable {
        var device: Int
        /// 0 = INTA ... 3 = INTD (the _PRT numbering; intxIRQ counts from 1).
        var pin: Int
        var gsi: Int
    }

    let entries: [Entry]

    /// Nil when the board wires no INTx: then devices have MSI-X only.
    init?(windows: PCIWindows) {
        var entries: [Entry] = []
        for device in 0..<Self.devicesPerBus {
            for pin in 0..<Self.pinsPerDevice {
                guard let gsi = windows.intxIRQ(device: device, pin: pin + 1) else { return nil }
                entries.append(Entry(device: device, pin: pin, gsi: gsi))
            }
        }
        self.entries = entries
    }

    /// Package (128) { Package (4) { address, pin, Zero, gsi }, ... }
    func aml() -> [UInt8] {
        AML.package(entries.map { entry in
            // _ADR form: device in the high word, 0xFFFF = any function.
            let address = UInt64(entry.device) << 16 | 0xFFFF
            return AML.package([AML.integer(address), AML.integer(UInt64(entry.pin)), AML.integer(0),
                                AML.integer(UInt64(entry.gsi))])
        })
    }
}
