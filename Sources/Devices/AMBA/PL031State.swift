/// A PL031's registers; guarded by the device's mutex. The counter is the
/// host clock plus an offset that RTCLR writes move; RTCLR reads back the
/// last value loaded.
struct PL031State {
    static let interruptBit: UInt32 = 1
    static let startBit: UInt32 = 1

    var offset: Int64 = 0
    var loaded: UInt32 = 0
    var match: UInt32 = 0
    /// The match interrupt fires once per RTCMR write, when the counter reaches it.
    var matchArmed = false
    var raw: UInt32 = 0
    var mask: UInt32 = 0
    var lineAsserted = false

    func counter(now: Int64) -> UInt32 { UInt32(truncatingIfNeeded: now &+ offset) }

    /// Raises the match interrupt if the counter has reached RTCMR.
    mutating func checkMatch(now: Int64) {
        guard matchArmed else { return }
        // Reached: no more than half the 32-bit range behind the counter.
        if counter(now: now) &- match < 0x8000_0000 {
            raw |= Self.interruptBit
            matchArmed = false
        }
    }

    mutating func read(_ register: PL031Register, now: Int64) -> UInt32 {
        switch register {
        case .data: return counter(now: now)
        case .match: return match
        case .load: return loaded
        case .control: return Self.startBit  // started at reset; only a reset stops it
        case .interruptMask: return mask
        case .rawInterruptStatus: return raw
        case .maskedInterruptStatus: return raw & mask
        case .interruptClear: return 0
        }
    }

    mutating func write(_ register: PL031Register, _ value: UInt32, now: Int64) {
        switch register {
        case .match:
            match = value
            matchArmed = true
        case .load:
            loaded = value
            offset = Int64(value) - now
        case .interruptMask: mask = value & Self.interruptBit
        case .interruptClear: raw &= ~(value & Self.interruptBit)
        case .data, .control, .rawInterruptStatus, .maskedInterruptStatus: break
        }
    }
}
