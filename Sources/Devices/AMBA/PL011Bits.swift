/// PL011 register bits (TRM chapter 3), as Linux's amba-pl011 driver uses them.
enum PL011Bits {
    // UARTFR
    static let clearToSend: UInt32 = 0x001
    static let dataSetReady: UInt32 = 0x002
    static let dataCarrierDetect: UInt32 = 0x004
    static let busy: UInt32 = 0x008
    static let receiveFIFOEmpty: UInt32 = 0x010
    static let transmitFIFOFull: UInt32 = 0x020
    static let receiveFIFOFull: UInt32 = 0x040
    static let transmitFIFOEmpty: UInt32 = 0x080
    // Interrupt bits, the same in IMSC, RIS, MIS and ICR.
    static let receiveInterrupt: UInt32 = 0x010      // RXIM
    static let transmitInterrupt: UInt32 = 0x020     // TXIM
    static let receiveTimeoutInterrupt: UInt32 = 0x040 // RTIM
    static let breakInterrupt: UInt32 = 0x200        // BEIM
    static let overrunInterrupt: UInt32 = 0x400      // OEIM
    static let allInterrupts: UInt32 = 0x7FF
    // UARTDR / UARTRSR error bits
    static let dataBreak: UInt32 = 0x400
    static let dataOverrun: UInt32 = 0x800
    static let statusOverrun: UInt32 = 0x008
    // UARTLCR_H
    static let fifoEnable: UInt32 = 0x10
    // UARTCR
    static let loopbackEnable: UInt32 = 0x080
    // Reset values
    static let controlReset: UInt32 = 0x300          // TXE | RXE
    static let fifoLevelReset: UInt32 = 0x12         // both triggers at 1/2
    /// Register widths: what reads back of a write.
    static let integerBaudRateMask: UInt32 = 0xFFFF
    static let fractionalBaudRateMask: UInt32 = 0x3F
    static let lineControlMask: UInt32 = 0xFF
    static let controlMask: UInt32 = 0xFF87          // bits 6:3 are reserved
    static let fifoLevelMask: UInt32 = 0x3F
    static let dmaControlMask: UInt32 = 0x7
    static let irdaMask: UInt32 = 0xFF
}
