import Glibc
import LKVMCore
import Synchronization

/// The PC's MC146818 real-time clock and CMOS RAM: index port at offset 0
/// (bit 7, the NMI mask, is ignored), data port at offset 1.
///
/// The time registers show the clock source's UTC time at the moment they
/// are read. Guest writes to them (`hwclock -w`) move the guest's clock by
/// keeping an offset from the source; while register B's SET bit is on, the
/// time is frozen so the guest can write all fields before it runs again.
/// The weekday is derived from the date, so writes to it are ignored.
/// Update-in-progress always reads 0, so Linux never waits on it.
/// No interrupt is delivered: periodic, alarm and update-ended interrupts
/// can be enabled in register B, but register C never reports a flag.
public final class CMOSRTC: BusDevice {
    public static let portSpan: UInt64 = 2
    /// Seconds since the Unix epoch, UTC.
    public typealias Clock = @Sendable () -> Int64

    public static let hostClock: Clock = {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }

    private let clock: Clock
    private let state = Mutex(RTCState())

    public init(clock: @escaping Clock = CMOSRTC.hostClock) {
        self.clock = clock
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        guard offset == 1 else { return 0xFF }  // the index port is write-only
        let now = clock()
        return UInt64(state.withLock { $0.readSelected(now: now) })
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        let byte = UInt8(truncatingIfNeeded: value)
        switch offset {
        case 0: state.withLock { $0.index = byte & 0x7F }
        case 1:
            let now = clock()
            state.withLock { $0.writeSelected(byte, now: now) }
        default: break
        }
    }
}

/// Register numbers and bits from the MC146818 datasheet; 0x32 is the PC's century byte.
enum RTCRegister {
    static let seconds: UInt8 = 0x00, minutes: UInt8 = 0x02, hours: UInt8 = 0x04
    static let weekday: UInt8 = 0x06, dayOfMonth: UInt8 = 0x07, month: UInt8 = 0x08, year: UInt8 = 0x09
    static let a: UInt8 = 0x0A, b: UInt8 = 0x0B, c: UInt8 = 0x0C, d: UInt8 = 0x0D
    static let century: UInt8 = 0x32

    static let dividerAnd1024Hz: UInt8 = 0x26  // register A: 32.768 kHz base, 1024 Hz rate
    static let updateInProgress: UInt8 = 0x80
    static let setClock: UInt8 = 0x80  // register B bits
    static let binaryMode: UInt8 = 0x04
    static let twentyFourHour: UInt8 = 0x02
    static let validRAMAndTime: UInt8 = 0x80  // register D
    static let postMeridiem: UInt8 = 0x80  // hour bit in 12-hour mode
}

/// Guarded by the device's mutex.
struct RTCState {
    var index: UInt8 = 0
    private var ram = [UInt8](repeating: 0, count: 128)
    private var registerA = RTCRegister.dividerAnd1024Hz
    private var registerB = RTCRegister.twentyFourHour
    /// Guest time minus clock source time, after guest writes.
    private var offsetSeconds: Int64 = 0
    /// The time being set while register B's SET bit is on.
    private var frozen: CalendarTime?

    private var binary: Bool { registerB & RTCRegister.binaryMode != 0 }
    private var twentyFourHour: Bool { registerB & RTCRegister.twentyFourHour != 0 }

    private func currentTime(now: Int64) -> CalendarTime {
        frozen ?? CalendarTime(secondsSinceEpoch: now &+ offsetSeconds)
    }

    mutating func readSelected(now: Int64) -> UInt8 {
        let time = currentTime(now: now)
        switch index {
        case RTCRegister.seconds: return encode(time.second)
        case RTCRegister.minutes: return encode(time.minute)
        case RTCRegister.hours: return encodeHour(time.hour)
        case RTCRegister.weekday: return encode(time.weekday)
        case RTCRegister.dayOfMonth: return encode(time.day)
        case RTCRegister.month: return encode(time.month)
        case RTCRegister.year: return encode(Int(time.year.modulo(100)))
        case RTCRegister.century: return encode(Int(time.year.floorDivided(by: 100)))
        case RTCRegister.a: return registerA  // update-in-progress stays clear
        case RTCRegister.b: return registerB
        case RTCRegister.c: return 0  // no interrupt flags are ever raised
        case RTCRegister.d: return RTCRegister.validRAMAndTime
        default: return ram[Int(index)]  // alarms and CMOS storage
        }
    }

    mutating func writeSelected(_ value: UInt8, now: Int64) {
        switch index {
        case RTCRegister.seconds, RTCRegister.minutes, RTCRegister.hours, RTCRegister.dayOfMonth,
             RTCRegister.month, RTCRegister.year, RTCRegister.century:
            setTimeField(index, value, now: now)
        case RTCRegister.weekday, RTCRegister.c, RTCRegister.d: break  // derived or read-only
        case RTCRegister.a: registerA = value & ~RTCRegister.updateInProgress
        case RTCRegister.b: writeRegisterB(value, now: now)
        default: ram[Int(index)] = value
        }
    }

    private mutating func writeRegisterB(_ value: UInt8, now: Int64) {
        let setting = value & RTCRegister.setClock != 0
        if setting, frozen == nil {
            frozen = currentTime(now: now)
        } else if !setting, let time = frozen {
            offsetSeconds = time.secondsSinceEpoch &- now
            frozen = nil
        }
        registerB = value
    }

    /// Out-of-range or malformed values are ignored, leaving the clock as it was.
    private mutating func setTimeField(_ register: UInt8, _ value: UInt8, now: Int64) {
        var time = currentTime(now: now)
        switch register {
        case RTCRegister.seconds: guard let v = decode(value, 0...59) else { return }; time.second = v
        case RTCRegister.minutes: guard let v = decode(value, 0...59) else { return }; time.minute = v
        case RTCRegister.hours: guard let v = decodeHour(value) else { return }; time.hour = v
        case RTCRegister.dayOfMonth: guard let v = decode(value, 1...31) else { return }; time.day = v
        case RTCRegister.month: guard let v = decode(value, 1...12) else { return }; time.month = v
        case RTCRegister.year:
            guard let v = decode(value, 0...99) else { return }
            time.year = time.year.floorDivided(by: 100) * 100 + Int64(v)
        default:  // century
            guard let v = decode(value, 0...99) else { return }
            time.year = Int64(v) * 100 + time.year.modulo(100)
        }
        if frozen != nil {
            frozen = time  // normalised (31 February and the like) when SET is released
        } else {
            offsetSeconds = time.secondsSinceEpoch &- now
        }
    }

    private func encode(_ value: Int) -> UInt8 {
        // Truncating: only an absurd clock source yields a century past 255.
        UInt8(truncatingIfNeeded: binary ? value : (value / 10) << 4 | value % 10)
    }

    private func decode(_ value: UInt8, _ range: ClosedRange<Int>) -> Int? {
        let decoded: Int
        if binary {
            decoded = Int(value)
        } else {
            guard value >> 4 <= 9, value & 0x0F <= 9 else { return nil }
            decoded = Int(value >> 4) * 10 + Int(value & 0x0F)
        }
        return range.contains(decoded) ? decoded : nil
    }

    /// 12-hour mode counts 12, 1, ..., 11 with bit 7 marking the afternoon.
    private func encodeHour(_ hour: Int) -> UInt8 {
        guard !twentyFourHour else { return encode(hour) }
        let clockHour = hour % 12 == 0 ? 12 : hour % 12
        return encode(clockHour) | (hour >= 12 ? RTCRegister.postMeridiem : 0)
    }

    private func decodeHour(_ value: UInt8) -> Int? {
        guard !twentyFourHour else { return decode(value, 0...23) }
        guard let clockHour = decode(value & ~RTCRegister.postMeridiem, 1...12) else { return nil }
        return clockHour % 12 + (value & RTCRegister.postMeridiem != 0 ? 12 : 0)
    }
}

/// A proleptic Gregorian UTC date and time, converted with Howard Hinnant's
/// civil-from-days algorithms.
struct CalendarTime: Equatable {
    var year: Int64
    var month: Int, day: Int, hour: Int, minute: Int, second: Int

    init(year: Int64, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        (self.year, self.month, self.day) = (year, month, day)
        (self.hour, self.minute, self.second) = (hour, minute, second)
    }

    init(secondsSinceEpoch seconds: Int64) {
        let secondOfDay = Int(seconds.modulo(86_400))
        let days = seconds.floorDivided(by: 86_400)
        let shifted = days + 719_468  // days since 0000-03-01
        let era = shifted.floorDivided(by: 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let marchBasedMonth = (5 * dayOfYear + 2) / 153
        day = Int(dayOfYear - (153 * marchBasedMonth + 2) / 5 + 1)
        month = Int(marchBasedMonth < 10 ? marchBasedMonth + 3 : marchBasedMonth - 9)
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        hour = secondOfDay / 3_600
        minute = secondOfDay / 60 % 60
        second = secondOfDay % 60
    }

    var daysSinceEpoch: Int64 {
        let marchBasedYear = year - (month <= 2 ? 1 : 0)
        let era = marchBasedYear.floorDivided(by: 400)
        let yearOfEra = marchBasedYear - era * 400
        let dayOfYear = Int64((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1)
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    var secondsSinceEpoch: Int64 {
        daysSinceEpoch &* 86_400 &+ Int64(hour * 3_600 + minute * 60 + second)
    }

    /// 1 = Sunday ... 7 = Saturday; 1970-01-01 was a Thursday.
    var weekday: Int { Int((daysSinceEpoch + 4).modulo(7)) + 1 }
}

fileprivate extension Int64 {
    /// Division rounding toward negative infinity, for dates before 1970.
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    func modulo(_ divisor: Int64) -> Int64 { self - floorDivided(by: divisor) * divisor }
}
