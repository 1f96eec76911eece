/// libslirp's timers (timer_new / timer_mod / timer_free), serviced by the
/// slirp thread's loop. Deadlines are in milliseconds of CLOCK_MONOTONIC, as
/// libslirp computes them from `clock_get_ns`. Used by the slirp thread only.
final class SlirpTimerList {
    private struct Timer {
        let fire: () -> Void
        var deadline: Int64?
    }

    private var timers: [UInt: Timer] = [:]
    private var nextIdentifier: UInt = 1

    /// A new disarmed timer; its identifier is never 0.
    func add(fire: @escaping () -> Void) -> UInt {
        let identifier = nextIdentifier
        nextIdentifier += 1
        timers[identifier] = Timer(fire: fire, deadline: nil)
        return identifier
    }

    func arm(_ identifier: UInt, deadline: Int64) { timers[identifier]?.deadline = deadline }

    func remove(_ identifier: UInt) { timers[identifier] = nil }

    var count: Int { timers.count }

    /// Milliseconds until the earliest armed deadline (0 if one is past);
    /// nil when none is armed.
    func millisecondsUntilNext(now: Int64) -> Int64? {
        timers.values.compactMap(\.deadline).min().map { max(0, $0 - now) }
    }

    /// Disarms and runs every timer whose deadline has come. A timer's
    /// callback may arm, add or remove timers, itself included.
    func fireExpired(now: Int64) {
        let expired = timers.filter { ($0.value.deadline ?? .max) <= now }.keys.sorted()
        for identifier in expired { timers[identifier]?.deadline = nil }
        for identifier in expired {
            guard let timer = timers[identifier] else { continue }
            timer.fire()
        }
    }
}
