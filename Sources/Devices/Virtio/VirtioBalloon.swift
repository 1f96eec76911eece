import Glibc
import LKVMCore
import Logging
import Synchronization

/// virtio-balloon (virtio 1.2 section 5.5): the host sets a target
/// (`num_pages`) and the guest's driver gives pages up on inflateq, takes
/// them back on deflateq and reports how many it holds in `actual`.
///
/// Inflated pages are given back to the host (`GuestMemory.discard`,
/// madvise MADV_DONTNEED on the private anonymous mapping), so the guest
/// reads zeros there if it ever touches them again. Deflating needs no host
/// work. With DEFLATE_ON_OOM the guest may deflate on its own; the target
/// stays what the host set, and `status` shows both.
///
/// The statistics queue holds one driver buffer at a time: the device keeps
/// it, and `refreshStatistics` returns it so that the driver refills it with
/// fresh figures.
///
/// Calls come from the transport (its lock held) and from control threads
/// (`setTarget`, `status`, `refreshStatistics`); all state is under `state`.
public final class VirtioBalloon: VirtioDevice {
    public static let queueSize: UInt16 = 128
    /// The longest `refreshStatistics` waits, whatever it is asked.
    public static let maxRefreshSeconds = 60.0

    private struct State {
        var queues: [VirtQueue?] = []
        var interrupt: (any VirtioInterrupt)?
        var memory: GuestMemory?
        var targetPages: UInt32 = 0
        var actualPages: UInt32 = 0
        var inflatedPages: UInt64 = 0
        var discardedBytes: UInt64 = 0
        var wildPFNs: UInt64 = 0
        var ignoredPFNBytes: UInt64 = 0
        /// The statsq buffer the device holds, by its head.
        var heldStatsBuffer: UInt16?
        var statistics: [(name: String, value: UInt64)] = []
        var statsUpdatedAt: Double?
        /// Counts statsq buffers received, so a waiter can tell a fresh one.
        var statsGeneration: UInt64 = 0
        var warnedAboutWildPFNs = false
        var warnedAboutDiscard = false

        var ramPages: UInt64? { memory.map { $0.totalSize / VirtioBalloonPage.size } }
    }

    private let state = Mutex(State())
    /// Signalled when a statsq buffer arrives; nil if no eventfd could be made
    /// (waiters then sleep in short slices).
    private let statsArrived = try? HostEventFD()
    private let logger = Logger(label: "lkvm.virtio.balloon")

    public init() {}

    public var deviceType: VirtioDeviceType { .balloon }
    public var deviceFeatures: UInt64 { VirtioBalloonFeature.offered }
    public var queueMaxSizes: [UInt16] { [Self.queueSize, Self.queueSize, Self.queueSize] }
    public var configSize: Int { VirtioBalloonConfigLayout.size }

    public func readConfig(offset: Int, size: Int) -> UInt64 {
        let (target, actual) = state.withLock { ($0.targetPages, $0.actualPages) }
        var bytes = [UInt8](repeating: 0, count: VirtioBalloonConfigLayout.size)
        for (field, value) in [(VirtioBalloonConfigLayout.numPages, target), (VirtioBalloonConfigLayout.actual, actual)] {
            for byte in 0..<4 { bytes[field + byte] = UInt8(truncatingIfNeeded: value >> (8 * byte)) }
        }
        return configSpaceValue(bytes, offset: offset, size: size)
    }

    /// The driver may write `actual` only; bytes of `num_pages` are the device's.
    public func writeConfig(offset: Int, size: Int, value: UInt64) {
        state.withLock { state in
            var actual = state.actualPages
            for byte in 0..<size {
                let field = offset + byte - VirtioBalloonConfigLayout.actual
                guard (0..<4).contains(field) else { continue }
                let mask = UInt32(0xFF) << (8 * field)
                actual = actual & ~mask | UInt32(truncatingIfNeeded: value >> (8 * byte)) << (8 * field) & mask
            }
            state.actualPages = actual
        }
    }

    /// Asks the guest to hold `mebibytes` in the balloon, with a
    /// configuration-change interrupt once the driver runs. Before the guest
    /// runs only the encoding limit is checked; at activation a target beyond
    /// guest RAM is cut to it.
    public func setTarget(mebibytes: Int) throws(VirtioBalloonError) {
        guard mebibytes >= 0 else { throw .negativeTarget(mebibytes: mebibytes) }
        try state.withLock { state throws(VirtioBalloonError) in
            let limitPages = min(state.ramPages ?? UInt64(UInt32.max), UInt64(UInt32.max))
            let limit = Int(limitPages / VirtioBalloonPage.perMebibyte)
            guard mebibytes <= limit else { throw .targetTooLarge(mebibytes: mebibytes, limitMebibytes: limit) }
            let pages = UInt32(UInt64(mebibytes) * VirtioBalloonPage.perMebibyte)
            guard pages != state.targetPages else { return }
            state.targetPages = pages
            state.interrupt?.signalConfigChange()
        }
    }

    public var status: VirtioBalloonStatus {
        state.withLock { state in
            VirtioBalloonStatus(targetPages: state.targetPages, actualPages: state.actualPages,
                                inflatedPages: state.inflatedPages, discardedBytes: state.discardedBytes,
                                wildPFNs: state.wildPFNs, ignoredPFNBytes: state.ignoredPFNBytes,
                                statistics: state.statistics, statsUpdatedAt: state.statsUpdatedAt,
                                statsAgeSeconds: state.statsUpdatedAt.map { max(0, monotonicSeconds() - $0) })
        }
    }

    public func activate(memory: GuestMemory, queues: [VirtQueue?], features: UInt64,
                         interrupt: any VirtioInterrupt) {
        state.withLock { state in
            state.memory = memory
            state.queues = queues
            state.interrupt = interrupt
            if let ram = state.ramPages, UInt64(state.targetPages) > ram {
                logger.warning("virtio-balloon: target of \(state.targetPages) pages is more than guest RAM; using \(ram)")
                state.targetPages = UInt32(ram)
            }
            // Linux posts its first statistics buffer before DRIVER_OK, when
            // notifications are still ignored.
            do throws(VirtQueueError) {
                for index in queues.indices { try serve(index, &state) }
            } catch {
                interrupt.signalDeviceNeedsReset(error)
            }
        }
    }

    public func queueNotified(_ index: Int) throws(VirtQueueError) {
        try state.withLock { state throws(VirtQueueError) in try serve(index, &state) }
    }

    /// Back to the state before `activate`. The host's target stays (the next
    /// driver is asked for it again), as do the since-boot counters; the
    /// guest's figures go: a new driver starts with an empty balloon.
    public func reset() {
        state.withLock { state in
            state.queues = []
            state.interrupt = nil
            state.actualPages = 0
            state.inflatedPages = 0
            state.heldStatsBuffer = nil
            state.statistics = []
            state.statsUpdatedAt = nil
        }
    }

    /// Returns the held statistics buffer so that the driver refills it, and
    /// waits up to `timeoutSeconds` (at most `maxRefreshSeconds`) for the
    /// fresh one. False when the guest has no statistics queue running or did
    /// not answer in time; `status` then still has the last figures.
    public func refreshStatistics(timeoutSeconds: Double) -> Bool {
        let deadline = monotonicSeconds() + (timeoutSeconds > 0 ? min(timeoutSeconds, Self.maxRefreshSeconds) : 0)
        let requested: UInt64? = state.withLock { state in
            guard state.queues.count > VirtioBalloonQueue.stats,
                  var queue = state.queues[VirtioBalloonQueue.stats] else { return nil }
            if let head = state.heldStatsBuffer {
                do throws(VirtQueueError) {
                    try queue.addUsed(head: head, writtenLength: 0)
                    state.heldStatsBuffer = nil
                    state.queues[VirtioBalloonQueue.stats] = queue
                    if try queue.needsNotification() { state.interrupt?.signalUsedBuffer(queue: VirtioBalloonQueue.stats) }
                } catch {
                    state.interrupt?.signalDeviceNeedsReset(error)
                    return nil
                }
            }
            return state.statsGeneration
        }
        guard let requested else { return false }
        while true {
            let (generation, running) = state.withLock { ($0.statsGeneration, $0.queues.count > VirtioBalloonQueue.stats) }
            if generation != requested { return true }
            guard running else { return false }  // reset while waiting: no refill is coming
            let remaining = deadline - monotonicSeconds()
            guard remaining > 0 else { return false }
            // Short slices: another waiter may drain the eventfd first.
            var poller = pollfd(fd: statsArrived?.fd ?? -1, events: Int16(POLLIN), revents: 0)
            _ = poll(&poller, 1, Int32(min(remaining, 0.05) * 1000) + 1)
            statsArrived?.drain()
        }
    }

    /// Drains one queue, returning buffers as the spec says for each.
    private func serve(_ index: Int, _ state: inout State) throws(VirtQueueError) {
        guard index < state.queues.count, var queue = state.queues[index], let memory = state.memory else { return }
        defer { state.queues[index] = queue }
        var wantsInterrupt = false
        switch index {
        case VirtioBalloonQueue.inflate, VirtioBalloonQueue.deflate:
            wantsInterrupt = try queue.serveAvailable { chain throws(VirtQueueError) in
                try takePages(chain, inflating: index == VirtioBalloonQueue.inflate, memory: memory, &state)
                return 0
            }
        case VirtioBalloonQueue.stats:
            while let chain = try queue.nextChain() {
                // Linux keeps one buffer out; a second one sends the older back.
                if let older = state.heldStatsBuffer { try queue.addUsed(head: older, writtenLength: 0) }
                let bytes = try chain.readReadableBytes(limit: VirtioBalloonStatistics.maxBytes)
                state.statistics = VirtioBalloonStatistics(bytes: bytes).values
                state.statsUpdatedAt = monotonicSeconds()
                state.statsGeneration &+= 1
                state.heldStatsBuffer = chain.head
                chain.traceNote("stats: \(state.statistics.count) known entries of \(bytes.count / VirtioBalloonStatTag.entrySize)")
                statsArrived?.signal()
            }
            wantsInterrupt = try queue.needsNotification()
        default:
            return
        }
        if wantsInterrupt { state.interrupt?.signalUsedBuffer(queue: index) }
    }

    /// One inflateq or deflateq buffer: counts its pages, and gives inflated
    /// ones back to the host.
    private func takePages(_ chain: DescriptorChain, inflating: Bool, memory: GuestMemory,
                           _ state: inout State) throws(VirtQueueError) {
        let bytes = try chain.readReadableBytes(limit: VirtioBalloonPageList.maxBytes)
        let list = VirtioBalloonPageList(bytes: bytes, offered: chain.readableLength, memory: memory)
        state.ignoredPFNBytes &+= list.ignoredBytes
        state.wildPFNs &+= list.wildPFNs
        if list.wildPFNs > 0, !state.warnedAboutWildPFNs {
            state.warnedAboutWildPFNs = true
            logger.warning("virtio-balloon: guest sent page numbers outside its RAM; skipped (counted in stat)")
        }
        chain.traceNote("\(inflating ? "inflate" : "deflate") \(list.validPages) pages in \(list.runs.count) runs, \(list.wildPFNs) wild")
        guard inflating else {
            state.inflatedPages -= min(state.inflatedPages, list.validPages)
            return
        }
        state.inflatedPages = min(state.inflatedPages + list.validPages, state.ramPages ?? 0)
        for run in list.runs {
            guard let whole = VirtioBalloonPageList.hostPageInterior(run, pageSize: GuestMemory.hostPageSize) else { continue }
            do {
                try memory.discard(whole)
                state.discardedBytes &+= whole.size
            } catch {
                if !state.warnedAboutDiscard {
                    state.warnedAboutDiscard = true
                    logger.warning("virtio-balloon: \(error)")
                }
            }
        }
    }
}

extension VirtioBalloon {
    static let catalogEntry = VirtioCatalogEntry(
        name: "balloon", type: .balloon,
        summary: "memory the host can ask back: inflated pages are returned with madvise; guest statistics",
        make: { argument throws(VirtioCatalogError) in
            try VirtioDeviceCatalog.noArgument("balloon", argument)
            return VirtioBalloon()
        })
}
