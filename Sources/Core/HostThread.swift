import Glibc

// Glibc's module map hides the GNU-only pthread_setname_np; it takes a
// pthread_t and a C string, so it is declared here.
@_silgen_name("pthread_setname_np")
private func systemSetThreadName(_ thread: pthread_t, _ name: UnsafePointer<CChar>) -> Int32

/// A joinable POSIX thread running a Swift closure. Foundation's Thread is not
/// used so that lkvm starts fast and stays small.
public final class HostThread: @unchecked Sendable {
    // @unchecked: `handle` is written once in init, before the thread is shared.
    private var handle = pthread_t()

    private final class Box {
        let name: String
        let body: @Sendable () -> Void
        init(_ name: String, _ body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(HypervisorError) {
        let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
        // SAFETY: the retained box is released exactly once, by the new thread.
        let result = pthread_create(&handle, nil, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            // Shown by top -H and in /proc/PID/task/*/comm; Linux keeps 15 bytes.
            _ = systemSetThreadName(pthread_self(), String(decoding: box.name.utf8.prefix(15), as: UTF8.self))
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
