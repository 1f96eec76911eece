import Glibc
import LKVMCore
import Synchronization

/// An ARM PrimeCell real-time clock (PL031), as Linux's rtc-pl031 uses it:
/// RTCDR counts seconds from the host's clock (UTC), RTCLR sets the counter
/// (`hwclock -w`) by keeping an offset from the host clock, RTCMR with the
/// interrupt mask, status and clear registers for alarms, and the AMBA
/// identification registers.
///
/// The match interrupt is raised when a register access finds the counter
/// at or past RTCMR (no timer thread runs for it): an alarm fires at the
/// guest's next RTC access after its time, not on its own.
public final class PL031: BusDevice {
    /// PL031: part 0x031, designer ARM (0x41), revision 0.
    public static let identity = PrimeCellIdentity(peripheralID: 0x0004_1031)
    public static let length: UInt64 = 0x1000
    /// Seconds since the Unix epoch, UTC.
    public typealias Clock = @Sendable () -> Int64

    public static let hostClock: Clock = {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }

    private let interrupt: any InterruptLine
    private let clock: Clock
    private let state = Mutex(PL031State())

    public init(interrupt: any InterruptLine, clock: @escaping Clock = PL031.hostClock) {
        self.interrupt = interrupt
        self.clock = clock
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        guard AMBARegisterAccess.isValidSize(size) else { return floatingBusValue(size: size) }
        let (word, shift) = AMBARegisterAccess.word(offset)
        if let id = Self.identity.register(at: word) {
            return AMBARegisterAccess.narrow(UInt64(id) >> shift, size: size)
        }
        guard let register = PL031Register(rawValue: word) else { return 0 }
        let now = clock()
        return state.withLock { rtc in
            rtc.checkMatch(now: now)
            let value = rtc.read(register, now: now)
            updateLine(&rtc)
            return AMBARegisterAccess.narrow(UInt64(value) >> shift, size: size)
        }
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard AMBARegisterAccess.isValidSize(size), offset & 3 == 0,
              let register = PL031Register(rawValue: offset) else { return }
        let now = clock()
        state.withLock { rtc in
            rtc.write(register, UInt32(truncatingIfNeeded: value), now: now)
            rtc.checkMatch(now: now)
            updateLine(&rtc)
        }
    }

    private func updateLine(_ rtc: inout PL031State) {
        let asserted = rtc.raw & rtc.mask != 0
        guard asserted != rtc.lineAsserted else { return }
        rtc.lineAsserted = asserted
        interrupt.setLevel(asserted)
    }
}
