import LKVMCore

/// What the driver wrote for one queue before DRIVER_OK.
struct VirtioQueueRegisters {
    var size: UInt32 = 0
    var ready = false
    var descriptorTable: UInt64 = 0
    var availableRing: UInt64 = 0
    var usedRing: UInt64 = 0

    var addresses: VirtQueueAddresses {
        VirtQueueAddresses(descriptorTable: GuestAddress(descriptorTable),
                           availableRing: GuestAddress(availableRing),
                           usedRing: GuestAddress(usedRing))
    }
}

/// What a driver programs through any transport (virtio-mmio registers or
/// the virtio-pci common configuration); guarded by the transport's lock.
/// Writing 0 to Status replaces it with a fresh value.
struct VirtioTransportState {
    var deviceFeaturesSelect: UInt32 = 0
    var driverFeaturesSelect: UInt32 = 0
    var driverFeatures: UInt64 = 0
    /// The driver wrote a 1 to a feature word beyond the 64 bits offered.
    var driverWroteHighFeatureWord = false
    var queueSelect: UInt32 = 0
    var queues: [VirtioQueueRegisters]
    var status: UInt32 = 0
    var activated = false

    /// - Parameter initialSizes: QueueSize after reset, per queue: 0 for
    ///   virtio-mmio (the driver must write it), the maximum for virtio-pci.
    init(initialSizes: [UInt32]) {
        queues = initialSizes.map { VirtioQueueRegisters(size: $0) }
    }

    var selectedQueue: Int? {
        Int(queueSelect) < queues.count ? Int(queueSelect) : nil
    }

    /// Queue registers may change only while the device is not running.
    mutating func updateSelectedQueue(_ change: (inout VirtioQueueRegisters) -> Void) {
        guard !activated, let index = selectedQueue else { return }
        change(&queues[index])
    }

    /// One 32-bit half of a queue address of the selected queue, as both
    /// transports' drivers write them (ignored once the device runs).
    mutating func setSelectedQueueAddress(_ half: VirtioQueueAddressHalf, to word: UInt32) {
        updateSelectedQueue { $0[keyPath: half.address] = settingHalf(of: $0[keyPath: half.address], high: half.high, to: word) }
    }

    /// Driver features are frozen once FEATURES_OK is set.
    mutating func writeDriverFeatures(_ word: UInt32) {
        guard status & VirtioStatus.featuresOK == 0 else { return }
        switch driverFeaturesSelect {
        case 0, 1: driverFeatures = settingHalf(of: driverFeatures, high: driverFeaturesSelect == 1, to: word)
        default: if word != 0 { driverWroteHighFeatureWord = true }
        }
    }

    /// FEATURES_OK holds only for a subset of what is offered, with VERSION_1
    /// (this transport has no legacy interface).
    func featuresAcceptable(offered: UInt64) -> Bool {
        !driverWroteHighFeatureWord && driverFeatures & ~offered == 0
            && driverFeatures & VirtioFeature.version1 != 0
    }
}

/// Which 32 bits of which queue address a transport register holds.
struct VirtioQueueAddressHalf {
    let address: WritableKeyPath<VirtioQueueRegisters, UInt64>
    let high: Bool

    /// The half's value in `registers`.
    func read(_ registers: VirtioQueueRegisters) -> UInt32 {
        UInt32(truncatingIfNeeded: registers[keyPath: address] >> (high ? 32 : 0))
    }
}

/// Replaces the low or high 32 bits of a 64-bit register pair.
func settingHalf(of value: UInt64, high: Bool, to word: UInt32) -> UInt64 {
    high ? value & 0xFFFF_FFFF | UInt64(word) << 32 : value & 0xFFFF_FFFF_0000_0000 | UInt64(word)
}
