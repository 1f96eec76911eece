import Glibc
import Synchronization

/// A few threads that run the parts of one job beside the calling thread,
/// for work that is latency-bound and divisible: one large disk request
/// copied by two or more cores finishes sooner than by one. Calls to `run`
/// are serialised; the threads sleep in poll(2) between jobs.
public final class HostWorkerPool: Sendable {
    /// Threads besides the caller: `run` moves up to `helperCount + 1` parts at once.
    public let helperCount: Int
    private let helpers: [Helper]
    private let done: HostEventFD
    private let stop: HostEventFD
    private let threads: [HostThread]
    private let runLock = Mutex(())

    /// One helper's mailbox: a wake-up and the part it is to run.
    private final class Helper: Sendable {
        let wake: HostEventFD
        let part = Mutex<(@Sendable () -> Void)?>(nil)
        init() throws(HypervisorError) { wake = try HostEventFD() }
    }

    public init(helpers count: Int, name: String) throws(HypervisorError) {
        var helpers: [Helper] = []
        for _ in 0..<max(count, 0) { helpers.append(try Helper()) }
        let done = try HostEventFD()
        let stop = try HostEventFD()
        var threads: [HostThread] = []
        for (index, helper) in helpers.enumerated() {
            do {
                threads.append(try HostThread(name: "\(name)-\(index)") { Self.loop(helper, done: done, stop: stop) })
            } catch {
                stop.signal()
                for thread in threads { thread.join() }
                throw error
            }
        }
        self.helperCount = helpers.count
        self.helpers = helpers
        self.done = done
        self.stop = stop
        self.threads = threads
    }

    deinit {
        stop.signal()
        for thread in threads { thread.join() }
    }

    /// The number of online CPUs, at least 1.
    public static var onlineCPUs: Int { max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1) }

    /// Runs `parts[0]` on the calling thread and the others on helpers, and
    /// returns when every part has finished. Parts beyond `helperCount + 1`
    /// run on the calling thread after the first.
    public func run(_ parts: [@Sendable () -> Void]) {
        runLock.withLock { _ in
            let handedOut = min(max(parts.count - 1, 0), helpers.count)
            for index in 0..<handedOut {
                helpers[index].part.withLock { $0 = parts[index + 1] }
                helpers[index].wake.signal()
            }
            for part in parts.indices where part == 0 || part > handedOut { parts[part]() }
            var finished: UInt64 = 0
            while finished < UInt64(handedOut) { finished += Self.waitForCount(done) }
        }
    }

    /// Blocks until `event` is signalled; returns and clears its count.
    private static func waitForCount(_ event: HostEventFD) -> UInt64 {
        var descriptor = pollfd(fd: event.fd, events: Int16(POLLIN), revents: 0)
        while true {
            let count = event.takeCount()
            if count > 0 { return count }
            _ = poll(&descriptor, 1, -1)  // EINTR or ready: look again
        }
    }

    private static func loop(_ helper: Helper, done: HostEventFD, stop: HostEventFD) {
        var fds = [pollfd(fd: helper.wake.fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0)]
        while true {
            if poll(&fds, 2, -1) < 0 { continue }  // EINTR: nothing else can fail here
            if fds[1].revents != 0 { return }
            guard helper.wake.drain() else { continue }
            guard let part = helper.part.withLock({ part in defer { part = nil }; return part }) else { continue }
            part()
            done.signal()
        }
    }
}
