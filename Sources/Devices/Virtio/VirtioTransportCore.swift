import LKVMCore
import Logging
import Synchronization

/// The transport-independent half of a virtio transport: the status state
/// machine, feature negotiation, building queues at DRIVER_OK, notifications
/// and reset (virtio 1.2 sections 2.1, 2.2 and 3.1). virtio-mmio and
/// virtio-pci differ only in where the driver finds these fields; both
/// decode their registers and call in here with `state` locked, so a reset
/// never races a notification.
final class VirtioTransportCore: Sendable {
    let name: String
    let device: any VirtioDevice
    let offeredFeatures: UInt64
    let queueMaxSizes: [UInt16]
    let interrupt: any VirtioTransportInterrupt
    /// Where this device's virtqueue trace goes; nil when it is not traced.
    let tracer: VirtioTracer?
    let state: Mutex<VirtioTransportState>
    /// Set once by `startWorker`; nil: queue work runs on the notifying vCPU.
    private let offload = Mutex<VirtioQueueOffload?>(nil)
    private let memory: GuestMemory
    private let initialSizes: [UInt32]
    private let logger = Logger(label: "lkvm.virtio")

    /// - Parameter queueSizesAfterReset: true when QueueSize reads the
    ///   maximum after a reset (virtio-pci), false when it reads 0 (virtio-mmio).
    init(device: any VirtioDevice, memory: GuestMemory, interrupt: any VirtioTransportInterrupt, name: String,
         tracer: VirtioTracer?, queueSizesAfterReset: Bool) {
        self.name = name
        self.device = device
        self.memory = memory
        self.interrupt = interrupt
        self.tracer = tracer
        offeredFeatures = device.deviceFeatures | VirtioFeature.transportOffered
        queueMaxSizes = device.queueMaxSizes
        initialSizes = queueMaxSizes.map { queueSizesAfterReset ? UInt32($0) : 0 }
        state = Mutex(VirtioTransportState(initialSizes: initialSizes))
    }

    /// Moves queue work to a thread of this device's own; with `ioEvents`,
    /// each enabled queue's doorbell (from `doorbell`) is bound to it at
    /// DRIVER_OK so that the guest's notify never exits to lkvm. If the
    /// thread cannot be made, work stays on the vCPUs (and a warning says so).
    func startWorker(ioEvents: (any IOEventRegistry)?, doorbell: @escaping @Sendable (Int) -> VirtioDoorbell?) {
        do {
            let worker = try VirtioQueueWorker(queueCount: queueMaxSizes.count, name: "lkvm-\(name)") { [weak self] queue in
                guard let self else { return }
                self.state.withLock { self.notify(queue: queue, $0) }
            }
            offload.withLock { $0 = VirtioQueueOffload(worker: worker, ioEvents: ioEvents, doorbell: doorbell) }
        } catch {
            logger.warning("\(name): no worker thread (\(error)); queue work runs on the vCPUs")
        }
    }

    /// The driver rang a doorbell and lkvm saw the write (no ioeventfd, or
    /// one that did not match): wake the worker, or serve the queue here.
    func doorbellRang(queue index: Int) {
        if index >= 0, index < queueMaxSizes.count, let worker = offload.withLock({ $0?.worker }) {
            worker.kick(index)
            return
        }
        state.withLock { notify(queue: index, $0) }
    }

    /// The low or high word of the offered features (select 0 or 1; 0 beyond).
    func deviceFeatureWord(_ state: VirtioTransportState) -> UInt32 {
        switch state.deviceFeaturesSelect {
        case 0: UInt32(truncatingIfNeeded: offeredFeatures)
        case 1: UInt32(truncatingIfNeeded: offeredFeatures >> 32)
        default: 0
        }
    }

    /// Status as the driver reads it: its bits plus DEVICE_NEEDS_RESET.
    func status(_ state: VirtioTransportState) -> UInt32 {
        state.status | (interrupt.needsReset ? VirtioStatus.deviceNeedsReset : 0)
    }

    /// The driver status state machine.
    func writeStatus(_ value: UInt32, _ state: inout VirtioTransportState) {
        guard value != 0 else {
            tracer?.emit("reset (status 0)")
            reset(&state)
            return
        }
        let current = state.status
        var new = value & ~VirtioStatus.deviceNeedsReset & 0xFF  // that bit is the device's
        guard new & current == current else {
            logger.debug("\(name): driver cleared status bits", metadata: ["from": "\(hex(current))", "to": "\(hex(new))"])
            tracer?.statusIgnored(new, current: current)
            return
        }
        let added = new & ~current
        if added & VirtioStatus.featuresOK != 0, !state.featuresAcceptable(offered: offeredFeatures) {
            new &= ~VirtioStatus.featuresOK  // the driver re-reads Status and gives up
            logger.debug("\(name): refused features \(hex(state.driverFeatures)) of \(hex(offeredFeatures))")
            tracer?.features(state, offered: offeredFeatures, type: device.deviceType, accepted: false)
        } else if added & VirtioStatus.featuresOK != 0 {
            tracer?.features(state, offered: offeredFeatures, type: device.deviceType, accepted: true)
        }
        state.status = new
        tracer?.emit("status \(VirtioTraceFormat.status(new))")
        if added & VirtioStatus.driverOK != 0 { activate(&state) }
    }

    /// The driver enabled the selected queue (QueueReady / queue_enable).
    func enableSelectedQueue(_ state: inout VirtioTransportState) {
        state.updateSelectedQueue { $0.ready = true }
        tracer?.queueReady(state)
    }

    private func activate(_ state: inout VirtioTransportState) {
        guard state.status & VirtioStatus.featuresOK != 0 else {
            markNeedsReset(because: "DRIVER_OK without FEATURES_OK")
            return
        }
        var queues: [VirtQueue?] = []
        do {
            for (index, registers) in state.queues.enumerated() {
                guard registers.ready else {
                    queues.append(nil)
                    continue
                }
                guard let size = UInt16(exactly: registers.size) else {
                    throw VirtQueueError.badSize(registers.size, max: queueMaxSizes[index])
                }
                var queue = try VirtQueue(size: size, deviceMaxSize: queueMaxSizes[index],
                                          addresses: registers.addresses,
                                          features: state.driverFeatures, memory: memory)
                if let tracer { queue.trace = VirtQueueTrace(tracer: tracer, queueIndex: index) }
                queues.append(queue)
            }
        } catch {
            markNeedsReset(because: "queue \(queues.count): \(error)")
            return
        }
        state.activated = true
        let deviceInterrupt: any VirtioInterrupt =
            tracer.map { VirtioTraceInterrupt(inner: interrupt, tracer: $0) } ?? interrupt
        device.activate(memory: memory, queues: queues, features: state.driverFeatures, interrupt: deviceInterrupt)
        bindDoorbells(queues.indices.filter { queues[$0] != nil })
    }

    /// KVM signals the worker for these queues' doorbells from now on. A
    /// doorbell KVM refuses keeps working through exits.
    private func bindDoorbells(_ enabled: [Int]) {
        offload.withLock { offload in
            guard var current = offload, let ioEvents = current.ioEvents else { return }
            for queue in enabled {
                guard let bell = current.doorbell(queue) else { continue }
                do {
                    try ioEvents.addIOEvent(current.worker.events[queue], address: bell.address,
                                            length: bell.length, value: bell.value)
                    current.bound.append((queue, bell))
                } catch {
                    logger.debug("\(name): q\(queue) doorbell stays an exit: \(error)")
                }
            }
            offload = current
        }
    }

    private func unbindDoorbells() {
        offload.withLock { offload in
            guard var current = offload, let ioEvents = current.ioEvents else { return }
            for (queue, bell) in current.bound {
                try? ioEvents.removeIOEvent(current.worker.events[queue], address: bell.address,
                                            length: bell.length, value: bell.value)
            }
            current.bound = []
            offload = current
        }
    }

    func notify(queue index: Int, _ state: VirtioTransportState) {
        // Before DRIVER_OK, after an error, or for a queue that does not
        // exist, a notification is a no-op.
        guard state.activated, !interrupt.needsReset, index < queueMaxSizes.count else {
            logger.debug("\(name): ignored notification of queue \(index)")
            tracer?.ignoredNotification(queue: index, state, queueCount: queueMaxSizes.count,
                                        needsReset: interrupt.needsReset)
            return
        }
        tracer?.emit("q\(index) notify")
        do {
            try device.queueNotified(index)
        } catch {
            markNeedsReset(because: "queue \(index): \(error)")
        }
    }

    /// DEVICE_NEEDS_RESET for something the driver did; traced like the log, once.
    func markNeedsReset(because reason: String) {
        if let tracer, !interrupt.needsReset { tracer.emit("DEVICE_NEEDS_RESET: \(reason)") }
        interrupt.markNeedsReset(because: reason)
    }

    private func reset(_ state: inout VirtioTransportState) {
        unbindDoorbells()
        device.reset()
        state = VirtioTransportState(initialSizes: initialSizes)
        interrupt.reset()
    }

    func readConfig(at offset: UInt64, size: Int) -> UInt64 {
        guard let offset = configOffset(offset, size: size) else { return 0 }
        return state.withLock { _ in device.readConfig(offset: offset, size: size) }
    }

    func writeConfig(at offset: UInt64, size: Int, value: UInt64) {
        guard let offset = configOffset(offset, size: size) else { return }
        state.withLock { _ in device.writeConfig(offset: offset, size: size, value: value) }
    }

    /// The offset as an Int when `size` bytes there lie inside the config space.
    private func configOffset(_ offset: UInt64, size: Int) -> Int? {
        guard [1, 2, 4, 8].contains(size), offset < UInt64(device.configSize),
              Int(offset) + size <= device.configSize else { return nil }
        return Int(offset)
    }
}
