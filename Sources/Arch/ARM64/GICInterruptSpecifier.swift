/// A GICv3 interrupt specifier (#interrupt-cells = 3, arm,gic-v3 binding):
/// type (0 SPI, 1 PPI), number within that type (SPI: INTID - 32, which is
/// the board file's `irq`; PPI: INTID - 16), trigger flags.
struct GICInterruptSpecifier: Equatable {
    enum Trigger: UInt32 {
        case edgeRising = 1
        case levelHigh = 4
    }

    let type: UInt32
    let number: UInt32
    let trigger: Trigger

    static func spi(_ number: Int, _ trigger: Trigger) -> GICInterruptSpecifier {
        GICInterruptSpecifier(type: 0, number: UInt32(number), trigger: trigger)
    }

    static func ppi(_ number: Int, _ trigger: Trigger) -> GICInterruptSpecifier {
        GICInterruptSpecifier(type: 1, number: UInt32(number), trigger: trigger)
    }

    var cells: [UInt32] { [type, number, trigger.rawValue] }
}
