import Glibc

/// A mutex and condition variable for threads that must sleep until another
/// thread changes shared state (parked vCPUs, a pause waiting for them).
/// Synchronization.Mutex has no condition variable, hence pthread's.
final class ParkingGate: @unchecked Sendable {
    // @unchecked: the pthread objects are only touched through pthread calls
    // made while `mutex` is held (or for init/destroy, by the sole owner).
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        // SAFETY: pthread objects must not move once initialised: they live in
        // their own allocations, freed only in deinit when nobody can wait.
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Wakes every waiter; call with the lock held or after changing state under it.
    func broadcast() { pthread_cond_broadcast(condition) }

    /// With the lock held: sleeps until woken. Callers loop on their condition.
    func wait() { pthread_cond_wait(condition, mutex) }

    /// With the lock held: sleeps until woken or `deadline` (CLOCK_MONOTONIC
    /// seconds) passes.
    func wait(until deadline: Double) {
        var limit = timespec()
        limit.tv_sec = Int(deadline)
        limit.tv_nsec = Int((deadline - Double(Int(deadline))) * 1e9)
        pthread_cond_timedwait(condition, mutex, &limit)
    }

    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
