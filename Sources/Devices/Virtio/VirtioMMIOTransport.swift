import LKVMCore
import Logging
import Synchronization

/// A virtio-mmio version 2 transport (virtio 1.2 section 4.2) around one
/// device: the registers Linux's virtio_mmio driver programs, the status
/// state machine and feature negotiation. The device sees only `VirtioDevice`.
///
/// Control registers answer 32-bit aligned accesses only; anything else reads
/// 0 and is ignored on write. The configuration space takes 1, 2, 4 and 8
/// byte accesses inside the device's `configSize`. Device calls happen with
/// the transport's lock held, so a reset never races a notification.
public final class VirtioMMIOTransport: BusDevice {
    public static let magicValue: UInt32 = 0x7472_6976  // "virt"
    public static let version: UInt32 = 2
    public static let vendorID: UInt32 = 0x4C4B_564D  // "LKVM"

    public let name: String
    private let device: any VirtioDevice
    private let memory: GuestMemory
    private let offeredFeatures: UInt64
    private let queueMaxSizes: [UInt16]
    private let interrupt: VirtioMMIOInterrupt
    private let state: Mutex<VirtioMMIOState>
    private let logger = Logger(label: "lkvm.virtio")
    /// Where this device's virtqueue trace goes; nil when it is not traced.
    private let tracer: VirtioTracer?

    /// - Parameter line: the interrupt input the board gave this transport;
    ///   asserted while InterruptStatus is not zero.
    /// - Parameter tracer: traces the device's virtqueue traffic when given.
    public init(device: any VirtioDevice, memory: GuestMemory, line: any InterruptLine, name: String,
                tracer: VirtioTracer? = nil) {
        self.name = name
        self.tracer = tracer
        self.device = device
        self.memory = memory
        offeredFeatures = device.deviceFeatures | VirtioFeature.transportOffered
        queueMaxSizes = device.queueMaxSizes
        interrupt = VirtioMMIOInterrupt(line: line, deviceName: name)
        state = Mutex(VirtioMMIOState(queueCount: device.queueMaxSizes.count))
    }

    /// Bytes of address space to map: the registers and the configuration
    /// space, in whole 0x100 blocks (0x200 for most devices).
    public var length: UInt64 {
        let configBlocks = (UInt64(max(device.configSize, 1)) + 0xFF) / 0x100
        return VirtioMMIORegister.configSpaceOffset + configBlocks * 0x100
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        if offset >= VirtioMMIORegister.configSpaceOffset {
            return readConfig(at: offset - VirtioMMIORegister.configSpaceOffset, size: size)
        }
        guard size == 4, offset % 4 == 0, let register = VirtioMMIORegister(rawValue: offset) else { return 0 }
        return UInt64(state.withLock { readRegister(register, $0) })
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        if offset >= VirtioMMIORegister.configSpaceOffset {
            writeConfig(at: offset - VirtioMMIORegister.configSpaceOffset, size: size, value: value)
            return
        }
        guard size == 4, offset % 4 == 0, let register = VirtioMMIORegister(rawValue: offset) else { return }
        state.withLock { writeRegister(register, UInt32(truncatingIfNeeded: value), &$0) }
    }

    private func readRegister(_ register: VirtioMMIORegister, _ state: VirtioMMIOState) -> UInt32 {
        switch register {
        case .magicValue: return Self.magicValue
        case .version: return Self.version
        case .deviceID: return device.deviceType.rawValue
        case .vendorID: return Self.vendorID
        case .deviceFeatures:
            switch state.deviceFeaturesSelect {
            case 0: return UInt32(truncatingIfNeeded: offeredFeatures)
            case 1: return UInt32(truncatingIfNeeded: offeredFeatures >> 32)
            default: return 0
            }
        case .queueSizeMax: return state.selectedQueue.map { UInt32(queueMaxSizes[$0]) } ?? 0
        case .queueReady: return state.selectedQueue.map { state.queues[$0].ready ? 1 : 0 } ?? 0
        case .interruptStatus: return interrupt.interruptStatus
        case .status: return state.status | (interrupt.needsReset ? VirtioStatus.deviceNeedsReset : 0)
        case .configGeneration: return interrupt.configGeneration
        // No shared memory regions: a length of all ones says so.
        case .sharedMemoryLengthLow, .sharedMemoryLengthHigh, .sharedMemoryBaseLow, .sharedMemoryBaseHigh:
            return UInt32.max
        default: return 0  // write-only registers
        }
    }

    private func writeRegister(_ register: VirtioMMIORegister, _ value: UInt32, _ state: inout VirtioMMIOState) {
        switch register {
        case .deviceFeaturesSelect: state.deviceFeaturesSelect = value
        case .driverFeaturesSelect: state.driverFeaturesSelect = value
        case .driverFeatures: state.writeDriverFeatures(value)
        case .queueSelect: state.queueSelect = value
        case .queueSize: state.updateSelectedQueue { $0.size = value }
        case .queueReady:
            if value & 1 == 0, let index = state.selectedQueue {
                // Linux's vm_del_vq clears it and warns unless it reads back
                // 0; a running device keeps its queue until the reset.
                state.queues[index].ready = false
                tracer?.emit("q\(index) not ready")
            } else {
                state.updateSelectedQueue { $0.ready = true }
                tracer?.queueReady(state)
            }
        case .queueDescriptorLow, .queueDescriptorHigh:
            state.updateSelectedQueue {
                $0.descriptorTable = settingHalf(of: $0.descriptorTable, high: register == .queueDescriptorHigh, to: value)
            }
        case .queueDriverLow, .queueDriverHigh:
            state.updateSelectedQueue {
                $0.availableRing = settingHalf(of: $0.availableRing, high: register == .queueDriverHigh, to: value)
            }
        case .queueDeviceLow, .queueDeviceHigh:
            state.updateSelectedQueue {
                $0.usedRing = settingHalf(of: $0.usedRing, high: register == .queueDeviceHigh, to: value)
            }
        case .queueNotify: notify(queue: Int(value), state)  // no NOTIFICATION_DATA: just the index
        case .interruptAcknowledge: interrupt.acknowledge(value)
        case .status: writeStatus(value, &state)
        default: break  // read-only registers, and shared memory select with no regions
        }
    }

    /// The driver status state machine (virtio 1.2 sections 2.1 and 3.1).
    private func writeStatus(_ value: UInt32, _ state: inout VirtioMMIOState) {
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

    private func activate(_ state: inout VirtioMMIOState) {
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
    }

    private func notify(queue index: Int, _ state: VirtioMMIOState) {
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
    private func markNeedsReset(because reason: String) {
        if let tracer, !interrupt.needsReset { tracer.emit("DEVICE_NEEDS_RESET: \(reason)") }
        interrupt.markNeedsReset(because: reason)
    }

    private func reset(_ state: inout VirtioMMIOState) {
        device.reset()
        state = VirtioMMIOState(queueCount: queueMaxSizes.count)
        interrupt.reset()
    }

    private func readConfig(at offset: UInt64, size: Int) -> UInt64 {
        guard let offset = configOffset(offset, size: size) else { return 0 }
        return state.withLock { _ in device.readConfig(offset: offset, size: size) }
    }

    private func writeConfig(at offset: UInt64, size: Int, value: UInt64) {
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
