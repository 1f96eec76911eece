import Glibc
import LKVMCore
import Logging

/// A device's own thread for queue work, so that a disk write or a packet
/// never holds up the vCPU that rang the doorbell. Each queue has an
/// eventfd: KVM signals it straight from the guest's notify write when an
/// ioeventfd is bound, and the transport signals it when the write came as
/// an exit instead. The thread serves the queues whose eventfd fired.
final class VirtioQueueWorker: Sendable {
    let events: [HostEventFD]
    private let stopEvent: HostEventFD
    private let thread: HostThread
    private static let logger = Logger(label: "lkvm.virtio")

    /// - Parameter serve: called on the worker thread with a queue index.
    init(queueCount: Int, name: String, serve: @escaping @Sendable (Int) -> Void) throws(HypervisorError) {
        var created: [HostEventFD] = []
        for _ in 0..<queueCount { created.append(try HostEventFD()) }
        let events = created
        let stopEvent = try HostEventFD()
        self.events = events
        self.stopEvent = stopEvent
        thread = try HostThread(name: name) {
            Self.loop(events: events, stop: stopEvent, serve: serve)
        }
    }

    /// The doorbell of `queue` rang as an exit (no ioeventfd, or a write
    /// the ioeventfd does not match).
    func kick(_ queue: Int) {
        guard queue >= 0, queue < events.count else { return }
        events[queue].signal()
    }

    /// Ends the thread after the work in hand; for tests and orderly exits.
    func stop() {
        stopEvent.signal()
        thread.join()
    }

    private static func loop(events: [HostEventFD], stop: HostEventFD, serve: @Sendable (Int) -> Void) {
        var fds = (events + [stop]).map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        while true {
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.error("virtio worker: poll failed (errno \(errno)); queue work stops")
                return
            }
            if fds[events.count].revents != 0 { return }
            for index in events.indices where fds[index].revents != 0 {
                fds[index].revents = 0
                // Drain before serving: a doorbell rung while serving is
                // seen on the next turn, never lost.
                events[index].drain()
                serve(index)
            }
        }
    }
}
