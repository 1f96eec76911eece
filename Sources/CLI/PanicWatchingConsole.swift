import LKVMCore
import LKVMDevices
import Synchronization

/// The sandbox's console output: everything goes on to stdout as for
/// `lkvm run`, and a copy passes a `GuestPanicWatch` (only the sandbox pays
/// for the line scanning).
final class PanicWatchingConsole: ConsoleOutput {
    private let inner: any ConsoleOutput
    private let watch = Mutex(GuestPanicWatch())

    init(forwardingTo inner: any ConsoleOutput) {
        self.inner = inner
    }

    func write(_ bytes: [UInt8]) {
        inner.write(bytes)
        watch.withLock { $0.consume(bytes) }
    }

    /// The first panic and oops lines seen, once the guest has stopped.
    func findings() -> (panic: String?, oops: String?) {
        watch.withLock { watch in
            watch.finish()
            return (watch.panicLine, watch.oopsLine)
        }
    }
}
