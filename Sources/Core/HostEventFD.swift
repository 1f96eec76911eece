import Glibc

// Glibc's module map leaves out <sys/eventfd.h>; eventfd(2) takes and returns
// plain C ints, so it is declared here. EFD_CLOEXEC and EFD_NONBLOCK are
// O_CLOEXEC and O_NONBLOCK by definition.
@_silgen_name("eventfd")
private func systemEventFD(_ initial: UInt32, _ flags: Int32) -> Int32

/// A Linux eventfd: a counter that one thread (or KVM, through an
/// ioeventfd) signals and another waits on with poll(2).
public final class HostEventFD: Sendable {
    public let fd: Int32

    public init() throws(HypervisorError) {
        let fd = systemEventFD(0, O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .request("eventfd", .init(rawValue: errno)) }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Adds one to the counter, waking a waiter.
    public func signal() {
        var one: UInt64 = 1
        // Fails only when the counter would overflow: it is signalled then.
        _ = write(fd, &one, MemoryLayout<UInt64>.size)
    }

    /// Resets the counter and returns it: how many signals came since the
    /// last reset (0 when none).
    public func takeCount() -> UInt64 {
        var count: UInt64 = 0
        return read(fd, &count, MemoryLayout<UInt64>.size) == MemoryLayout<UInt64>.size ? count : 0
    }

    /// Resets the counter; returns whether it had been signalled.
    @discardableResult
    public func drain() -> Bool { takeCount() > 0 }
}

/// Guest writes the hypervisor turns into eventfd signals without an exit
/// (KVM_IOEVENTFD): the doorbells of virtio queues served by worker threads.
public protocol IOEventRegistry: Sendable {
    /// A guest write of exactly `length` bytes at MMIO `address` (of the value
    /// `value`, when given) signals `event` instead of exiting.
    func addIOEvent(_ event: HostEventFD, address: UInt64, length: Int, value: UInt64?) throws(HypervisorError)
    func removeIOEvent(_ event: HostEventFD, address: UInt64, length: Int, value: UInt64?) throws(HypervisorError)
}
