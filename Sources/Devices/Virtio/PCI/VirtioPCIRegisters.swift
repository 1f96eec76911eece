import LKVMCore

/// BAR 0 of a virtio-pci function: the common configuration, ISR status,
/// device configuration, notification and MSI-X pages of `VirtioPCILayout`.
/// Shared by the BAR and by the PCI configuration access capability.
final class VirtioPCIRegisters: Sendable {
    let core: VirtioTransportCore
    let interrupt: VirtioPCIInterrupt
    let msix: MSIXVectors

    init(core: VirtioTransportCore, interrupt: VirtioPCIInterrupt, msix: MSIXVectors) {
        self.core = core
        self.interrupt = interrupt
        self.msix = msix
    }

    func read(offset: UInt64, size: Int) -> UInt64 {
        let (region, inner) = VirtioPCILayout.region(offset)
        switch region {
        case VirtioPCILayout.commonConfig: return readCommon(inner, size: size)
        case VirtioPCILayout.isr: return inner == 0 ? UInt64(interrupt.readAndClearISR()) : 0
        case VirtioPCILayout.deviceConfig: return core.readConfig(at: inner, size: size)
        case VirtioPCILayout.msixTable: return msix.readTable(offset: inner, size: size)
        case VirtioPCILayout.msixPBA: return msix.readPBA(offset: inner, size: size)
        default: return 0  // notification page and unused pages
        }
    }

    func write(offset: UInt64, size: Int, value: UInt64) {
        let (region, inner) = VirtioPCILayout.region(offset)
        switch region {
        case VirtioPCILayout.commonConfig: writeCommon(inner, size: size, value: value)
        case VirtioPCILayout.deviceConfig: core.writeConfig(at: inner, size: size, value: value)
        case VirtioPCILayout.notify:
            // The written value is the queue index (no NOTIFICATION_DATA);
            // the address already says which queue.
            let queue = Int(inner / UInt64(VirtioPCILayout.notifyOffsetMultiplier))
            core.doorbellRang(queue: queue)
        case VirtioPCILayout.msixTable: msix.writeTable(offset: inner, size: size, value: value)
        default: break  // ISR and PBA are read-only
        }
    }

    /// A common-configuration field read at its own width; a 64-bit queue
    /// address also as one 8-byte access. Anything else reads 0.
    private func readCommon(_ offset: UInt64, size: Int) -> UInt64 {
        guard let field = VirtioPCICommonConfig(rawValue: offset) else { return 0 }
        if size == 8, let high = VirtioPCICommonConfig(rawValue: offset + 4), field.isQueueAddressLow {
            return core.state.withLock { readField(field, $0) | readField(high, $0) << 32 }
        }
        guard size == field.size else { return 0 }
        return core.state.withLock { readField(field, $0) }
    }

    private func writeCommon(_ offset: UInt64, size: Int, value: UInt64) {
        guard let field = VirtioPCICommonConfig(rawValue: offset) else { return }
        if size == 8, let high = VirtioPCICommonConfig(rawValue: offset + 4), field.isQueueAddressLow {
            core.state.withLock { state in
                writeField(field, UInt32(truncatingIfNeeded: value), &state)
                writeField(high, UInt32(truncatingIfNeeded: value >> 32), &state)
            }
            return
        }
        guard size == field.size else { return }
        core.state.withLock { writeField(field, UInt32(truncatingIfNeeded: value), &$0) }
    }

    private func readField(_ field: VirtioPCICommonConfig, _ state: VirtioTransportState) -> UInt64 {
        let queue = state.selectedQueue
        let registers = queue.map { state.queues[$0] }
        let value: UInt32 = switch field {
        case .deviceFeatureSelect: state.deviceFeaturesSelect
        case .deviceFeature: core.deviceFeatureWord(state)
        case .driverFeatureSelect: state.driverFeaturesSelect
        case .driverFeature: state.driverFeaturesSelect < 2
            ? UInt32(truncatingIfNeeded: state.driverFeatures >> (32 * UInt64(state.driverFeaturesSelect))) : 0
        case .configMSIXVector: UInt32(interrupt.configVector)
        case .numQueues: UInt32(core.queueMaxSizes.count)
        case .deviceStatus: core.status(state)
        case .configGeneration: UInt32(interrupt.configGeneration)
        case .queueSelect: state.queueSelect
        // A queue that does not exist reads size 0: the driver stops there.
        case .queueSize: registers?.size ?? 0
        case .queueMSIXVector: UInt32(queue.map { interrupt.queueVector($0) } ?? virtioNoVector)
        case .queueEnable: registers?.ready == true ? 1 : 0
        case .queueNotifyOffset: UInt32(queue ?? 0)
        case .queueDescriptorLow, .queueDescriptorHigh, .queueDriverLow, .queueDriverHigh, .queueDeviceLow,
             .queueDeviceHigh:
            registers.flatMap { field.queueAddressHalf?.read($0) } ?? 0
        case .queueNotifyData, .queueReset: 0
        }
        return UInt64(value)
    }

    private func writeField(_ field: VirtioPCICommonConfig, _ value: UInt32, _ state: inout VirtioTransportState) {
        switch field {
        case .deviceFeatureSelect: state.deviceFeaturesSelect = value
        case .driverFeatureSelect: state.driverFeaturesSelect = value
        case .driverFeature: state.writeDriverFeatures(value)
        case .configMSIXVector: interrupt.setConfigVector(UInt16(truncatingIfNeeded: value))
        case .deviceStatus: core.writeStatus(value & 0xFF, &state)
        case .queueSelect: state.queueSelect = value & 0xFFFF
        case .queueSize: state.updateSelectedQueue { $0.size = value & 0xFFFF }
        case .queueMSIXVector:
            if let queue = state.selectedQueue { interrupt.setQueueVector(queue, UInt16(truncatingIfNeeded: value)) }
        // Writing 0 is forbidden to the driver (4.1.4.3.2): only 1 counts.
        case .queueEnable: if value & 1 == 1 { core.enableSelectedQueue(&state) }
        case .queueDescriptorLow, .queueDescriptorHigh, .queueDriverLow, .queueDriverHigh, .queueDeviceLow,
             .queueDeviceHigh:
            if let half = field.queueAddressHalf { state.setSelectedQueueAddress(half, to: value) }
        case .deviceFeature, .numQueues, .configGeneration, .queueNotifyOffset, .queueNotifyData, .queueReset:
            break  // read-only
        }
    }
}

extension VirtioPCICommonConfig {
    var isQueueAddressLow: Bool {
        self == .queueDescriptorLow || self == .queueDriverLow || self == .queueDeviceLow
    }

    /// The queue address half this field holds, if it is one of them.
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
