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

    public var name: String { core.name }
    private let core: VirtioTransportCore
    private let interrupt: VirtioMMIOInterrupt

    /// - Parameter line: the interrupt input the board gave this transport;
    ///   asserted while InterruptStatus is not zero.
    /// - Parameter tracer: traces the device's virtqueue traffic when given.
    public init(device: any VirtioDevice, memory: GuestMemory, line: any InterruptLine, name: String,
                tracer: VirtioTracer? = nil) {
        interrupt = VirtioMMIOInterrupt(line: line, deviceName: name)
        core = VirtioTransportCore(device: device, memory: memory, interrupt: interrupt, name: name,
                                   tracer: tracer, queueSizesAfterReset: false)
    }

    /// Serves this device's queues on a thread of its own; with `ioEvents`,
    /// KVM wakes it straight from the guest's QueueNotify write (one
    /// ioeventfd per queue, matching the queue index written). `base` is
    /// where the machine put these registers.
    public func offloadQueues(ioEvents: (any IOEventRegistry)?, base: UInt64) {
        let notify = base + VirtioMMIORegister.queueNotify.rawValue
        core.startWorker(ioEvents: ioEvents) { queue in
            VirtioDoorbell(address: notify, length: 4, value: UInt64(queue))
        }
    }

    /// Bytes of address space to map: the registers and the configuration
    /// space, in whole 0x100 blocks (0x200 for most devices).
    public var length: UInt64 {
        let configBlocks = (UInt64(max(core.device.configSize, 1)) + 0xFF) / 0x100
        return VirtioMMIORegister.configSpaceOffset + configBlocks * 0x100
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        if offset >= VirtioMMIORegister.configSpaceOffset {
            return core.readConfig(at: offset - VirtioMMIORegister.configSpaceOffset, size: size)
        }
        guard size == 4, offset % 4 == 0, let register = VirtioMMIORegister(rawValue: offset) else { return 0 }
        return UInt64(core.state.withLock { readRegister(register, $0) })
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        if offset >= VirtioMMIORegister.configSpaceOffset {
            core.writeConfig(at: offset - VirtioMMIORegister.configSpaceOffset, size: size, value: value)
            return
        }
        guard size == 4, offset % 4 == 0, let register = VirtioMMIORegister(rawValue: offset) else { return }
        if register == .queueNotify {
            // No NOTIFICATION_DATA: the value is just the queue index. The
            // core takes the lock itself, or hands the queue to the worker.
            core.doorbellRang(queue: Int(UInt32(truncatingIfNeeded: value)))
            return
        }
        core.state.withLock { writeRegister(register, UInt32(truncatingIfNeeded: value), &$0) }
    }

    private func readRegister(_ register: VirtioMMIORegister, _ state: VirtioTransportState) -> UInt32 {
        switch register {
        case .magicValue: return Self.magicValue
        case .version: return Self.version
        case .deviceID: return core.device.deviceType.rawValue
        case .vendorID: return Self.vendorID
        case .deviceFeatures: return core.deviceFeatureWord(state)
        case .queueSizeMax: return state.selectedQueue.map { UInt32(core.queueMaxSizes[$0]) } ?? 0
        case .queueReady: return state.selectedQueue.map { state.queues[$0].ready ? 1 : 0 } ?? 0
        case .interruptStatus: return interrupt.interruptStatus
        case .status: return core.status(state)
        case .configGeneration: return interrupt.configGeneration
        // No shared memory regions: a length of all ones says so.
        case .sharedMemoryLengthLow, .sharedMemoryLengthHigh, .sharedMemoryBaseLow, .sharedMemoryBaseHigh:
            return UInt32.max
        default: return 0  // write-only registers
        }
    }

    private func writeRegister(_ register: VirtioMMIORegister, _ value: UInt32, _ state: inout VirtioTransportState) {
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
                core.tracer?.emit("q\(index) not ready")
            } else {
                core.enableSelectedQueue(&state)
            }
        case .queueDescriptorLow, .queueDescriptorHigh, .queueDriverLow, .queueDriverHigh, .queueDeviceLow,
             .queueDeviceHigh:
            if let half = register.queueAddressHalf { state.setSelectedQueueAddress(half, to: value) }
        case .interruptAcknowledge: interrupt.acknowledge(value)
        case .status: core.writeStatus(value, &state)
        default: break  // read-only registers, shared memory select with no regions, QueueNotify (in write)
        }
    }
}

extension VirtioMMIORegister {
    /// The queue address half this register holds, if it is one of them.
    var queueAddressHalf: VirtioQueueAddressHalf? {
        switch self {
        case .queueDescriptorLow, .queueDescriptorHigh:
            VirtioQueueAddressHalf(address: \.descriptorTable, high: self == .queueDescriptorHigh)
        case .queueDriverLow, .queueDriverHigh:
            VirtioQueueAddressHalf(address: \.availableRing, high: self == .queueDriverHigh)
        case .queueDeviceLow, .queueDeviceHigh:
            VirtioQueueAddressHalf(address: \.usedRing, high: self == .queueDeviceHigh)
        default: nil
        }
    }
}
