/// PL031 register offsets (ARM PrimeCell RTC (PL031) TRM, table 3-1).
enum PL031Register: UInt64 {
    case data = 0x00                   // RTCDR: the counter, seconds
    case match = 0x04                  // RTCMR
    case load = 0x08                   // RTCLR: writing sets the counter
    case control = 0x0C                // RTCCR: bit 0 starts the counter
    case interruptMask = 0x10          // RTCIMSC
    case rawInterruptStatus = 0x14     // RTCRIS
    case maskedInterruptStatus = 0x18  // RTCMIS
    case interruptClear = 0x1C         // RTCICR
}
