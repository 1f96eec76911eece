/// PL011 register offsets (ARM PrimeCell UART (PL011) TRM, table 3-1).
enum PL011Register: UInt64 {
    case data = 0x000               // UARTDR
    case receiveStatus = 0x004      // UARTRSR (read) / UARTECR (write)
    case flags = 0x018              // UARTFR
    case irdaLowPower = 0x020       // UARTILPR
    case integerBaudRate = 0x024    // UARTIBRD
    case fractionalBaudRate = 0x028 // UARTFBRD
    case lineControl = 0x02C        // UARTLCR_H
    case control = 0x030            // UARTCR
    case fifoLevelSelect = 0x034    // UARTIFLS
    case interruptMask = 0x038      // UARTIMSC
    case rawInterruptStatus = 0x03C // UARTRIS
    case maskedInterruptStatus = 0x040 // UARTMIS
    case interruptClear = 0x044     // UARTICR
    case dmaControl = 0x048         // UARTDMACR
}
