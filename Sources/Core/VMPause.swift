import Glibc

/// Freezes the guest's view of time while its vCPUs are parked, so that a
/// paused guest does not find its clock jumped on resume (x86: kvmclock
/// through KVM_GET_CLOCK / KVM_SET_CLOCK).
public protocol GuestClockFreezer: Sendable {
    func freeze()
    func thaw()
}

/// What `VMController.pause` achieved.
public enum PauseOutcome: Equatable, Sendable {
    /// Every vCPU is parked outside KVM_RUN.
    case paused
    /// It already was.
    case alreadyPaused
    /// The VM is stopping; nothing was paused.
    case stopping
    /// Some vCPU did not leave the guest in time (stuck in a device call):
    /// the pause was undone.
    case timedOut
}

struct PauseState {
    var requested = false
    /// vCPU threads currently parked.
    var parked = 0
    /// True once every vCPU is parked and the clock is frozen.
    var complete = false
}

extension VMController {
    /// True while the vCPUs are parked by `pause`.
    public var isPaused: Bool { gate.withLock { pauseState.complete } }

    /// Kicks every vCPU out of KVM_RUN and waits until all are parked (at most
    /// `timeout` seconds). A stop request still stops a paused VM at once.
    public func pause(timeout: Double = 5) -> PauseOutcome {
        if isStopping { return .stopping }
        let wasRequested = gate.withLock { () -> Bool in
            if pauseState.requested { return true }
            pauseState.requested = true
            return false
        }
        if wasRequested { return .alreadyPaused }
        // Flag first, kick second: a vCPU that clears its kick after the flag
        // is set sees the flag; one that cleared before gets this kick.
        for vcpu in vcpus { vcpu.requestExit() }
        let deadline = ParkingGate.monotonicSeconds() + timeout
        let outcome = gate.withLock { () -> PauseOutcome in
            while pauseState.parked < vcpus.count && !isStopping && ParkingGate.monotonicSeconds() < deadline {
                gate.wait(until: deadline)
            }
            if isStopping || pauseState.parked < vcpus.count {
                pauseState.requested = false
                gate.broadcast()
                return isStopping ? .stopping : .timedOut
            }
            return .paused
        }
        guard outcome == .paused else { return outcome }
        clock?.freeze()
        gate.withLock { pauseState.complete = true }
        return .paused
    }

    /// Lets parked vCPUs enter the guest again; false when not paused.
    @discardableResult
    public func resume() -> Bool {
        let paused = gate.withLock { pauseState.complete }
        guard paused else { return false }
        // The clock restarts from where it stopped before any vCPU can read it.
        clock?.thaw()
        gate.withLock {
            pauseState.requested = false
            pauseState.complete = false
            gate.broadcast()
        }
        return true
    }

    /// Runs `body` with every vCPU parked (their register ioctls then do not
    /// race KVM_RUN), pausing first unless already paused and resuming after.
    /// Nil when the VM could not be paused (stopping, or a vCPU stuck).
    public func withVCPUsPaused<T>(timeout: Double = 5, _ body: ([any VirtualCPU]) throws -> T) rethrows -> T? {
        switch pause(timeout: timeout) {
        case .alreadyPaused:
            // Someone else's pause: body runs only once it is complete.
            guard isPaused, !isStopping else { return nil }
            return try body(vcpus)
        case .paused:
            defer { resume() }
            return try body(vcpus)
        case .stopping, .timedOut:
            return nil
        }
    }

    /// Called by a vCPU thread outside KVM_RUN: sleeps while a pause is
    /// requested and the VM is not stopping. True when it did park.
    func parkIfPaused() -> Bool {
        gate.withLock {
            guard pauseState.requested, !isStopping else { return false }
            pauseState.parked += 1
            gate.broadcast()
            while pauseState.requested && !isStopping { gate.wait() }
            pauseState.parked -= 1
            return true
        }
    }
}
