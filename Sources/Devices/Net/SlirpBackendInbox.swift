import Synchronization

/// Frames from the guest waiting for the slirp thread (libslirp is not
/// thread-safe, so only that thread may call `slirp_input`), and the request
/// to stop. Bounded: beyond `capacity` frames a new one is dropped, as a full
/// wire would.
final class SlirpBackendInbox: Sendable {
    static let capacity = 256

    private struct State {
        var frames: [[UInt8]] = []
        var isStopping = false
        var droppedFrames = 0
    }

    private let state = Mutex(State())

    /// Queues one Ethernet frame; false when it was dropped (queue full).
    func push(_ frame: [UInt8]) -> Bool {
        state.withLock { state in
            guard state.frames.count < Self.capacity else {
                state.droppedFrames += 1
                return false
            }
            state.frames.append(frame)
            return true
        }
    }

    /// Everything queued so far, and whether the loop should end.
    func take() -> (frames: [[UInt8]], isStopping: Bool) {
        state.withLock { state in
            defer { state.frames.removeAll(keepingCapacity: true) }
            return (state.frames, state.isStopping)
        }
    }

    func stop() { state.withLock { $0.isStopping = true } }

    var droppedFrames: Int { state.withLock { $0.droppedFrames } }
}
