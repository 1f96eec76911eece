/// One direction of a two-queue device (receive or transmit), kept under its
/// own lock: its interrupt, and whether a queue error stopped it.
protocol VirtioQueueHalf {
    var interrupt: (any VirtioInterrupt)? { get }
    var isBroken: Bool { get set }
}

extension VirtioQueueHalf {
    /// Runs `work` (which says whether the driver wants an interrupt) and
    /// signals queue `queue` if so. A queue error stops this half until reset
    /// and goes on to the caller.
    mutating func pump(queue: Int, _ work: (inout Self) throws(VirtQueueError) -> Bool) throws(VirtQueueError) {
        do throws(VirtQueueError) {
            if try work(&self) { interrupt?.signalUsedBuffer(queue: queue) }
        } catch {
            isBroken = true
            throw error
        }
    }
}

extension VirtioConsoleReceiver: VirtioQueueHalf {}
extension VirtioConsoleTransmitter: VirtioQueueHalf {}
extension VirtioNetReceiver: VirtioQueueHalf {}
extension VirtioNetTransmitter: VirtioQueueHalf {}
