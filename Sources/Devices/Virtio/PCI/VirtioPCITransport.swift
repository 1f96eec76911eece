import LKVMCore

/// A modern virtio-pci function (virtio 1.2 section 4.1) around one device:
/// vendor 0x1AF4, device 0x1040 + type, one 32-bit memory BAR holding the
/// common configuration, ISR, device configuration, notifications and the
/// MSI-X table (`VirtioPCILayout`), described by vendor capabilities; MSI-X
/// with one vector per queue plus one for configuration changes, INTx when
/// the driver does not enable MSI-X. The device sees only `VirtioDevice`;
/// the status machine is `VirtioTransportCore`, as for virtio-mmio.
public final class VirtioPCITransport: PCIFunction {
    public let configSpace: PCIConfigSpace
    public var name: String { registers.core.name }
    private let registers: VirtioPCIRegisters

    /// - Parameters:
    ///   - msi: where MSI-X messages go (KVM).
    ///   - msiDeviceID: the requester ID an arm64 ITS needs; nil on x86.
    ///   - intx: the line INTA is wired to (`PCIWindows.intxIRQ`), nil for none.
    ///   - tracer: traces the device's virtqueue traffic when given.
    public init(device: any VirtioDevice, memory: GuestMemory, msi: any MSIController, msiDeviceID: UInt32? = nil,
                intx: (any InterruptLine)?, name: String, tracer: VirtioTracer? = nil) {
        let type = device.deviceType
        let queueCount = device.queueMaxSizes.count
        let vectorCount = min(queueCount + 1, VirtioPCILayout.maxVectors)
        let config = PCIConfigSpace(
            vendorID: VirtioPCIIdentity.vendorID, deviceID: VirtioPCIIdentity.deviceID(type),
            revision: VirtioPCIIdentity.revision, classCode: VirtioPCIIdentity.classCode(type),
            subsystemVendorID: VirtioPCIIdentity.subsystemVendorID, subsystemID: VirtioPCIIdentity.subsystemID,
            interruptPin: intx == nil ? 0 : 1)
        config.declareBAR(VirtioPCILayout.bar, kind: .memory32, size: VirtioPCILayout.barSize)
        let msix = MSIXVectors(count: vectorCount, tableBAR: VirtioPCILayout.bar,
                               tableOffset: UInt32(VirtioPCILayout.msixTable), pbaBAR: VirtioPCILayout.bar,
                               pbaOffset: UInt32(VirtioPCILayout.msixPBA), controller: msi, deviceID: msiDeviceID)
        let interrupt = VirtioPCIInterrupt(msix: msix, vectorCount: vectorCount, line: intx, configSpace: config,
                                           queueCount: queueCount, deviceName: name)
        let core = VirtioTransportCore(device: device, memory: memory, interrupt: interrupt, name: name,
                                       tracer: tracer, queueSizesAfterReset: true)
        registers = VirtioPCIRegisters(core: core, interrupt: interrupt, msix: msix)
        configSpace = config

        let bar = VirtioPCILayout.bar
        config.addCapability(VirtioPCICapability(.commonConfig, bar: bar, offset: VirtioPCILayout.commonConfig,
                                                 length: VirtioPCILayout.commonConfigLength))
        config.addCapability(VirtioPCICapability(.notifyConfig, bar: bar, offset: VirtioPCILayout.notify,
                                                 length: UInt64(queueCount) * UInt64(VirtioPCILayout.notifyOffsetMultiplier),
                                                 notifyMultiplier: VirtioPCILayout.notifyOffsetMultiplier))
        config.addCapability(VirtioPCICapability(.isrConfig, bar: bar, offset: VirtioPCILayout.isr,
                                                 length: VirtioPCILayout.isrLength))
        if device.configSize > 0 {
            config.addCapability(VirtioPCICapability(.deviceConfig, bar: bar, offset: VirtioPCILayout.deviceConfig,
                                                     length: UInt64(device.configSize)))
        }
        config.addCapability(VirtioPCIConfigAccessCapability(registers: registers))
        config.addCapability(msix)
    }

    /// Serves this device's queues on a thread of its own; with `ioEvents`,
    /// KVM wakes it straight from the guest's 16-bit notify write, at the
    /// queue's doorbell in BAR 0 as the BAR stands at DRIVER_OK.
    public func offloadQueues(ioEvents: (any IOEventRegistry)?) {
        let config = configSpace
        registers.core.startWorker(ioEvents: ioEvents) { queue in
            config.barAddress(VirtioPCILayout.bar).map {
                VirtioDoorbell(address: $0 + VirtioPCILayout.notify
                                   + UInt64(queue) * UInt64(VirtioPCILayout.notifyOffsetMultiplier),
                               length: 2, value: nil)
            }
        }
    }

    public func readBAR(_ index: Int, offset: UInt64, size: Int) -> UInt64 {
        guard index == VirtioPCILayout.bar else { return floatingBusValue(size: size) }
        return registers.read(offset: offset, size: size)
    }

    public func writeBAR(_ index: Int, offset: UInt64, size: Int, value: UInt64) {
        guard index == VirtioPCILayout.bar else { return }
        registers.write(offset: offset, size: size, value: value)
    }
}
