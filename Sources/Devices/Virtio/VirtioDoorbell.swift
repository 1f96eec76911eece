import LKVMCore

/// The guest write that notifies one queue: where, how wide, and (for
/// virtio-mmio, where every queue shares one register) the value.
struct VirtioDoorbell: Equatable, Sendable {
    let address: UInt64
    let length: Int
    let value: UInt64?
}

/// A transport's worker thread and the doorbells bound to it in KVM.
struct VirtioQueueOffload: Sendable {
    let worker: VirtioQueueWorker
    let ioEvents: (any IOEventRegistry)?
    /// Where queue n's doorbell is now (nil: nowhere to bind, e.g. no BAR).
    let doorbell: @Sendable (Int) -> VirtioDoorbell?
    var bound: [(queue: Int, doorbell: VirtioDoorbell)] = []
}
