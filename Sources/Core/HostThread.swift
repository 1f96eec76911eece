import Glibc

/// A joinable POSIX thread running a Swift closure. Foundation's Thread is not
/// used so that lkvm starts fast and stays small.
public final class HostThread: @unchecked Sendable {
    // @unchecked: `handle` is written once in init, before the thread is shared.
    private var handle = pthread_t()

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(HypervisorError) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        // SAFETY: the retained box is released exactly once, by the new thread.
        let result = pthread_create(&handle, nil, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw .request("pthread_create(\(name))", .init(rawValue: result))
        }
    }

    public var id: pthread_t { handle }

    public func join() { pthread_join(handle, nil) }
}
