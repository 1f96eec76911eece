import LKVMCore
@testable import LKVMDevices
import LKVMTestSupport
import XCTest

/// The virtio-pci transport on a PC board's PCI root, driven through config
/// space and BAR 0 the way Linux's virtio_pci_modern drives it.
final class VirtioPCITransportTests: XCTestCase {
    private static let rngFeatures = Feature.indirect | Feature.eventIndex | Feature.version1

    private func rngDriver(intx: Bool = true) throws -> FakePCIDriver {
        try FakePCIDriver(device: VirtioRNG(entropy: CountingEntropy()), intx: intx)
    }

    /// One 32-byte writable request on queue 0 at 0x10000, notified.
    private func requestRandomBytes(_ driver: FakePCIDriver, head: UInt16 = 0) {
        driver.ring.setDescriptor(head, address: 0x10000, length: 32, flags: Desc.write)
        driver.ring.makeAvailable(head)
        driver.notify(0)
    }

    // MARK: Identity and capabilities

    func testIdentityReadsTheSameThroughECAMAndTheConfigPorts() throws {
        let driver = try rngDriver()
        for path in [FakePCIDriver.ConfigPath.ecam, .ports] {
            driver.configPath = path
            XCTAssertEqual(driver.config(PCIConfig.vendorID, size: 2), 0x1AF4, "\(path)")
            XCTAssertEqual(driver.config(PCIConfig.deviceID, size: 2), 0x1044, "0x1040 + type 4, \(path)")
            XCTAssertEqual(driver.config(PCIConfig.revision, size: 1), 1, "\(path)")
            XCTAssertEqual(driver.config(PCIConfig.revision) >> 8, 0x10_80_00, "class code, \(path)")
            XCTAssertEqual(driver.config(PCIConfig.subsystemVendorID, size: 2), 0x1AF4, "\(path)")
            XCTAssertGreaterThanOrEqual(driver.config(PCIConfig.subsystemID, size: 2), 0x40, "\(path)")
            XCTAssertEqual(driver.config(PCIConfig.interruptPin, size: 1), 1, "INTA, \(path)")
            XCTAssertEqual(driver.config(PCIConfig.interruptLine, size: 1), 17, "16 + (device 1 + INTA - 1) % 4")
            XCTAssertEqual(driver.config(PCIConfig.command, size: 2) & PCIConfig.commandMemory,
                           PCIConfig.commandMemory, "memory decode enabled by firmware")
        }
        XCTAssertEqual(driver.root.configRead(PCIDeviceAddress(device: 0), offset: 0, size: 4), 0x0008_1B36,
                       "the host bridge at 00:00.0")
    }

    func testEveryDeviceTypeHasItsDeviceIDAndClass() throws {
        let devices: [(any VirtioDevice, UInt32, UInt32)] = [
            (VirtioRNG(entropy: CountingEntropy()), 0x1044, 0x10_80_00),
            (EchoDevice(), 0x1043, 0x07_80_00),
        ]
        for (device, deviceID, classCode) in devices {
            let driver = try FakePCIDriver(device: device)
            XCTAssertEqual(driver.config(PCIConfig.deviceID, size: 2), deviceID)
            XCTAssertEqual(driver.config(PCIConfig.revision) >> 8, classCode)
        }
    }

    func testWithoutAnINTxLineTheInterruptPinIsZero() throws {
        let driver = try rngDriver(intx: false)
        XCTAssertEqual(driver.config(PCIConfig.interruptPin, size: 1), 0)
        XCTAssertTrue(driver.probe())
    }

    func testBAR0IsA32KiBMemoryBARInTheMMIO32Window() throws {
        let driver = try rngDriver()
        let base = driver.barAddress
        let window = PCBoardPCI.windows.mmio32
        XCTAssertEqual(driver.config(PCIConfig.bar0) & 0xF, 0, "32-bit, non-prefetchable memory")
        XCTAssertTrue(base >= window.start.raw && base + 0x8000 <= window.end, "\(hex(base))")
        XCTAssertEqual(base % 0x8000, 0, "naturally aligned")
        for register in 1..<6 {
            XCTAssertEqual(driver.config(PCIConfig.bar0 + 4 * register), 0, "BAR \(register) is not implemented")
        }

        // __pci_read_base: decode off, all ones, read the size back, restore.
        let command = driver.config(PCIConfig.command, size: 2)
        driver.setConfig(PCIConfig.command, size: 2, command & ~PCIConfig.commandMemory)
        driver.setConfig(PCIConfig.bar0, 0xFFFF_FFFF)
        let mask = driver.config(PCIConfig.bar0)
        XCTAssertEqual(~(mask & ~0xF) &+ 1, 0x8000)
        driver.setConfig(PCIConfig.bar0, UInt32(base))
        driver.setConfig(PCIConfig.command, size: 2, command)
        XCTAssertEqual(driver.barAddress, base)
        XCTAssertTrue(driver.probe())
        XCTAssertEqual(driver.common(CommonCfg.numQueues), 1, "BAR 0 answers again at its base")

        // The guest may move the BAR inside the window; the old place goes dark.
        let oldOffset = base - window.start.raw
        driver.setConfig(PCIConfig.bar0, UInt32(window.start.raw + 0x10_0000))
        XCTAssertEqual(driver.barAddress, window.start.raw + 0x10_0000)
        XCTAssertEqual(driver.common(CommonCfg.numQueues), 1)
        if oldOffset != 0x10_0000 {
            XCTAssertEqual(driver.root.mmio32Window.read(offset: oldOffset + CommonCfg.numQueues, size: 2), 0xFFFF)
        }
        driver.setConfig(PCIConfig.command, size: 2, command & ~PCIConfig.commandMemory)
        XCTAssertEqual(driver.bar(CommonCfg.numQueues, size: 2), 0xFFFF, "memory decode off")
    }

    func testTheCapabilityChainIsWellFormed() throws {
        let driver = try rngDriver()
        XCTAssertNotEqual(driver.config(PCIConfig.status, size: 2) & PCIConfig.statusCapabilitiesList, 0)
        let list = driver.capabilityList()
        XCTAssertLessThan(list.count, 48, "the list ends")
        XCTAssertEqual(Set(list.map(\.position)).count, list.count, "no capability twice")
        for (_, position) in list {
            XCTAssertTrue(position >= 0x40 && position < 0x100 && position % 4 == 0, "\(hex(position))")
        }
        XCTAssertTrue(driver.probe())
        XCTAssertEqual(driver.capabilities.map(\.type),
                       [VirtioCfgType.common, VirtioCfgType.notify, VirtioCfgType.isr, VirtioCfgType.pciConfig])
        XCTAssertNil(driver.capability(VirtioCfgType.device), "virtio-rng has no configuration space")

        var structures: [Range<UInt64>] = []
        for cap in driver.capabilities where cap.type != VirtioCfgType.pciConfig {
            XCTAssertEqual(cap.bar, 0, "type \(cap.type)")
            XCTAssertGreaterThan(cap.size, 0, "type \(cap.type)")
            XCTAssertLessThanOrEqual(UInt64(cap.offset) + UInt64(cap.size), 0x8000, "type \(cap.type) inside BAR 0")
            XCTAssertEqual(cap.length, cap.type == VirtioCfgType.notify ? 20 : 16, "cap_len of type \(cap.type)")
            structures.append(UInt64(cap.offset)..<(UInt64(cap.offset) + UInt64(cap.size)))
        }
        XCTAssertGreaterThanOrEqual(driver.capability(VirtioCfgType.common)!.size, 0x38)
        XCTAssertEqual(driver.capability(VirtioCfgType.pciConfig)!.length, 20)
        XCTAssertEqual(driver.notifyMultiplier, 4)
        // vp_modern_map_capability maps 2 bytes at the last queue's notify offset.
        let queues = UInt32(driver.common(CommonCfg.numQueues))
        XCTAssertLessThanOrEqual((queues - 1) * driver.notifyMultiplier + 2,
                                 driver.capability(VirtioCfgType.notify)!.size)

        // MSI-X: one vector per queue plus one for configuration changes.
        XCTAssertNotNil(driver.msixPosition)
        XCTAssertEqual(driver.msixTableSize, 2)
        XCTAssertEqual(driver.msixTable.bar, 0)
        XCTAssertEqual(driver.msixPBA.bar, 0)
        structures.append(driver.msixTable.offset..<(driver.msixTable.offset + 16 * 2))
        structures.append(driver.msixPBA.offset..<(driver.msixPBA.offset + 8))
        for structure in structures { XCTAssertLessThanOrEqual(structure.upperBound, 0x8000) }
        for (index, first) in structures.enumerated() {
            for second in structures[(index + 1)...] { XCTAssertFalse(first.overlaps(second), "\(first) \(second)") }
        }
    }

    func testADeviceWithAConfigurationSpaceHasTheDeviceCapability() throws {
        let driver = try FakePCIDriver(device: EchoDevice())
        XCTAssertTrue(driver.probe())
        let device = try XCTUnwrap(driver.capability(VirtioCfgType.device))
        XCTAssertEqual(device.bar, 0)
        XCTAssertEqual(device.size, 12)
        let bytes = (0..<12).map { UInt8(driver.bar(UInt64(device.offset) + UInt64($0), size: 1)) }
        XCTAssertEqual(bytes, Array(0..<12))
        XCTAssertEqual(driver.bar(UInt64(device.offset) + 4, size: 4), 0x0706_0504)
        XCTAssertEqual(driver.bar(UInt64(device.offset) + 12, size: 1), 0, "past the configuration space")
        XCTAssertEqual(driver.msixTableSize, 3, "two queues and the config vector")
    }

    // MARK: Bring-up and interrupts

    func testLinuxBringUpThenAnRNGRequestSendsTheQueueVector() throws {
        let driver = try rngDriver()
        XCTAssertTrue(driver.probe())
        XCTAssertEqual(driver.deviceFeatures(), Self.rngFeatures)
        driver.bringUp()
        XCTAssertEqual(driver.common(CommonCfg.numQueues), 1)
        XCTAssertEqual(driver.notifyOffsets[0], 0)
        XCTAssertEqual(driver.common(CommonCfg.queueEnable), 1)
        setTheDriverFeaturesReadBack(driver)

        requestRandomBytes(driver)
        XCTAssertEqual(driver.ring.usedIndex, 1)
        XCTAssertEqual(driver.ring.usedEntry(0).head, 0)
        XCTAssertEqual(driver.ring.usedEntry(0).length, 32)
        XCTAssertEqual(try driver.memory.read(32, at: GuestAddress(0x10000)), Array(1...32))
        XCTAssertEqual(driver.messages, [FakePCIDriver.message(1)], "queue 0's vector, as programmed in entry 1")
        XCTAssertEqual(driver.line?.history, [], "no INTx with MSI-X")
        XCTAssertEqual(driver.readISR(), 0)
    }

    private func setTheDriverFeaturesReadBack(_ driver: FakePCIDriver, file: StaticString = #filePath,
                                              line: UInt = #line) {
        driver.setCommon(CommonCfg.driverFeatureSelect, 0)
        let low = UInt64(driver.common(CommonCfg.driverFeature))
        driver.setCommon(CommonCfg.driverFeatureSelect, 1)
        let high = UInt64(driver.common(CommonCfg.driverFeature))
        XCTAssertEqual(high << 32 | low, Self.rngFeatures, file: file, line: line)
    }

    func testWithoutMSIXTheISRAndINTxCarryTheInterrupt() throws {
        let driver = try rngDriver()
        driver.bringUp(msix: false)
        requestRandomBytes(driver)
        XCTAssertEqual(driver.ring.usedIndex, 1)
        XCTAssertEqual(driver.line?.isAsserted, true)
        XCTAssertEqual(driver.readISR(), 1, "a used buffer")
        XCTAssertEqual(driver.line?.isAsserted, false, "reading ISR lowers INTx")
        XCTAssertEqual(driver.line?.history, [true, false])
        XCTAssertEqual(driver.readISR(), 0, "and clears it")
        XCTAssertEqual(driver.messages, [])
    }

    func testWithoutALineTheISRStillCarriesTheInterrupt() throws {
        let driver = try rngDriver(intx: false)
        driver.bringUp(msix: false)
        requestRandomBytes(driver)
        XCTAssertEqual(driver.readISR(), 1)
        XCTAssertEqual(driver.readISR(), 0)
    }

    func testAMaskedVectorIsPendingAndSentOnUnmask() throws {
        let driver = try rngDriver()
        XCTAssertTrue(driver.probe())
        XCTAssertTrue(driver.negotiate())
        driver.enableMSIX(masked: [1])
        driver.setConfigVector(0)
        XCTAssertEqual(driver.setUpQueue(0, vector: 1), 1)
        driver.driverOK()
        requestRandomBytes(driver)
        XCTAssertEqual(driver.ring.usedIndex, 1)
        XCTAssertEqual(driver.messages, [], "masked")
        XCTAssertTrue(driver.isPending(1))
        XCTAssertFalse(driver.isPending(0))
        XCTAssertEqual(driver.readISR(), 0, "MSI-X is enabled: no ISR bit")
        driver.setVectorMasked(1, false)
        XCTAssertEqual(driver.messages, [FakePCIDriver.message(1)])
        XCTAssertFalse(driver.isPending(1))
        XCTAssertEqual(driver.line?.history, [])
    }

    func testAVectorBeyondTheTableReadsNoVectorAndSendsNothing() throws {
        let driver = try rngDriver()
        XCTAssertTrue(driver.probe())
        XCTAssertTrue(driver.negotiate())
        driver.enableMSIX()
        XCTAssertEqual(driver.setConfigVector(2), FakePCIDriver.noVector, "the table has vectors 0 and 1")
        XCTAssertEqual(driver.setConfigVector(0), 0)
        XCTAssertEqual(driver.setUpQueue(0, vector: 2), FakePCIDriver.noVector)
        driver.driverOK()
        requestRandomBytes(driver)
        XCTAssertEqual(driver.ring.usedIndex, 1, "the request is served")
        XCTAssertEqual(driver.messages, [], "NO_VECTOR: no message, and no ISR either")
        XCTAssertFalse(driver.isPending(0) || driver.isPending(1))
        XCTAssertEqual(driver.readISR(), 0)
        XCTAssertEqual(driver.line?.history, [])
    }

    func testNotifyingThroughEachQueuesNotifyAddressReachesThatQueue() throws {
        let device = EchoDevice()
        let driver = try FakePCIDriver(device: device)
        XCTAssertTrue(driver.probe())
        XCTAssertEqual(driver.deviceFeatures(), 1 << 0 | 1 << 40 | Self.rngFeatures)
        XCTAssertTrue(driver.negotiate())
        driver.enableMSIX()
        driver.setConfigVector(0)
        XCTAssertEqual(driver.common(CommonCfg.numQueues), 2)
        var second = FakeGuestRing(memory: driver.memory, size: 8, base: 0x8000)
        XCTAssertEqual(driver.setUpQueue(0, vector: 1), 1)
        XCTAssertEqual(driver.setUpQueue(1, ring: second, vector: 2), 2)
        XCTAssertEqual(driver.notifyOffsets, [0: 0, 1: 1])
        driver.driverOK()
        XCTAssertEqual(device.activationCount, 1)

        try driver.memory.write([9, 8, 7], at: GuestAddress(0x20000))
        second.setDescriptor(0, address: 0x20000, length: 3, flags: Desc.next, next: 1)
        second.setDescriptor(1, address: 0x21000, length: 3, flags: Desc.write)
        second.makeAvailable(0)
        driver.notify(1)
        XCTAssertEqual(device.record.withLock { $0.notifications }, [1])
        XCTAssertEqual(second.usedIndex, 1)
        XCTAssertEqual(second.usedEntry(0).length, 3)
        XCTAssertEqual(try driver.memory.read(3, at: GuestAddress(0x21000)), [9, 8, 7])
        XCTAssertEqual(driver.messages, [FakePCIDriver.message(2)])

        driver.notify(0)
        XCTAssertEqual(device.record.withLock { $0.notifications }, [1, 0])
        let notify = UInt64(driver.capability(VirtioCfgType.notify)!.offset)
        driver.setBar(notify + 4 * 7, size: 2, 7)  // no queue 7: ignored
        XCTAssertEqual(device.record.withLock { $0.notifications }, [1, 0])
        XCTAssertFalse(driver.needsReset)
    }

    func testTheFunctionMaskHoldsEveryVectorUntilCleared() throws {
        let driver = try rngDriver()
        driver.bringUp()
        driver.setConfig(driver.msixPosition! + 2, size: 2, PCIConfig.msixEnable | PCIConfig.msixFunctionMask)
        requestRandomBytes(driver)
        XCTAssertEqual(driver.messages, [])
        XCTAssertTrue(driver.isPending(1))
        driver.setConfig(driver.msixPosition! + 2, size: 2, PCIConfig.msixEnable)
        XCTAssertEqual(driver.messages, [FakePCIDriver.message(1)])
        XCTAssertFalse(driver.isPending(1))
    }

    func testTheINTxDisableBitKeepsTheLineLowButTheISRStillSet() throws {
        let driver = try rngDriver()
        driver.bringUp(msix: false)
        let command = driver.config(PCIConfig.command, size: 2)
        driver.setConfig(PCIConfig.command, size: 2, command | PCIConfig.commandINTxDisable)
        requestRandomBytes(driver)
        XCTAssertEqual(driver.line?.history, [])
        XCTAssertEqual(driver.readISR(), 1)
    }

    /// A line left high by INTx must come down once MSI-X takes over: the
    /// first MSI-X event lowers it, as the interrupt code promises.
    func testSwitchingToMSIXLowersALineLeftAssertedByINTx() throws {
        let driver = try rngDriver()
        driver.bringUp(msix: false)
        requestRandomBytes(driver)
        XCTAssertEqual(driver.line?.isAsserted, true)
        driver.enableMSIX()
        driver.setConfigVector(0)
        driver.setCommon(CommonCfg.queueSelect, 0)
        driver.setCommon(CommonCfg.queueMSIXVector, 1)
        driver.ring.setUsedEvent(1)  // EVENT_IDX: the driver wants the next one
        driver.ring.setDescriptor(1, address: 0x11000, length: 8, flags: Desc.write)
        driver.ring.makeAvailable(1)
        driver.notify(0)
        XCTAssertEqual(driver.ring.usedIndex, 2)
        XCTAssertEqual(driver.messages, [FakePCIDriver.message(1)])
        XCTAssertEqual(driver.line?.isAsserted, false, "INTx disabled and MSI-X enabled")
    }

    func testADeviceConfigChangeSendsTheConfigVectorAndBumpsTheGeneration() throws {
        let device = EchoDevice()
        let driver = try FakePCIDriver(device: device)
        driver.bringUp()
        let generation = driver.common(CommonCfg.configGeneration)
        device.record.withLock { $0.interrupt }?.signalConfigChange()
        XCTAssertEqual(driver.messages, [FakePCIDriver.message(0)])
        XCTAssertEqual(driver.common(CommonCfg.configGeneration), (generation + 1) & 0xFF)
        XCTAssertEqual(driver.readISR(), 0)
    }

    func testADeviceConfigChangeSetsISRBit2WithoutMSIX() throws {
        let device = EchoDevice()
        let driver = try FakePCIDriver(device: device)
        driver.bringUp(msix: false)
        device.record.withLock { $0.interrupt }?.signalConfigChange()
        XCTAssertEqual(driver.line?.isAsserted, true)
        XCTAssertEqual(driver.readISR(), 2)
        XCTAssertEqual(driver.line?.isAsserted, false)
    }

    func testAQueueThatDoesNotExistReadsSizeZeroAndTakesNothing() throws {
        let driver = try rngDriver()
        XCTAssertTrue(driver.probe())
        XCTAssertTrue(driver.negotiate())
        driver.enableMSIX()
        driver.setCommon(CommonCfg.queueSelect, 1)
        XCTAssertEqual(driver.common(CommonCfg.queueSize), 0, "setup_vq stops at size 0")
        driver.setCommon(CommonCfg.queueMSIXVector, 0)
        XCTAssertEqual(UInt16(driver.common(CommonCfg.queueMSIXVector)), FakePCIDriver.noVector)
        driver.setCommon(CommonCfg.queueEnable, 1)
        XCTAssertEqual(driver.common(CommonCfg.queueEnable), 0)
        driver.setCommon(CommonCfg.queueSelect, 0)
        XCTAssertEqual(driver.common(CommonCfg.queueSize), 256)
    }

    // MARK: Mistakes and reset

    func testAFeatureNotOfferedIsRefused() throws {
        let driver = try rngDriver()
        XCTAssertTrue(driver.probe())
        XCTAssertFalse(driver.negotiate(Self.rngFeatures | 1 << 0))
        XCTAssertEqual(driver.status, Status.acknowledge | Status.driver, "FEATURES_OK stays clear")
        XCTAssertFalse(driver.negotiate(Feature.eventIndex), "VERSION_1 is required")
        XCTAssertTrue(driver.negotiate(Feature.version1))
    }

    func testDriverOKWithoutFeaturesOKNeedsResetAndSendsTheConfigVector() throws {
        let driver = try rngDriver()
        XCTAssertTrue(driver.probe())
        driver.reset()
        driver.addStatus(Status.acknowledge)
        driver.addStatus(Status.driver)
        driver.enableMSIX()
        XCTAssertEqual(driver.setConfigVector(0), 0)
        driver.setUpQueue(0, vector: 1)
        driver.driverOK()
        XCTAssertTrue(driver.needsReset)
        XCTAssertEqual(driver.messages, [FakePCIDriver.message(0)], "a config change on vector 0")
        requestRandomBytes(driver)
        XCTAssertEqual(driver.ring.usedIndex, 0, "the device never started")
    }

    func testDriverOKWithoutFeaturesOKRaisesTheConfigISRBitWithoutMSIX() throws {
        let driver = try rngDriver()
        XCTAssertTrue(driver.probe())
        driver.reset()
        driver.addStatus(Status.acknowledge | Status.driver)
        driver.driverOK()
        XCTAssertTrue(driver.needsReset)
        XCTAssertEqual(driver.line?.isAsserted, true)
        XCTAssertEqual(driver.readISR(), 2, "a configuration change")
        XCTAssertEqual(driver.line?.isAsserted, false)
        driver.reset()
        XCTAssertFalse(driver.needsReset)
    }

    func testHostileRingsNeedResetWithTheConfigVectorAndTheDeviceRecovers() throws {
        let layouts: [(String, (inout FakeGuestRing) -> Void)] = [
            ("descriptor loop", { ring in
                ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 1)
                ring.setDescriptor(1, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 0)
                ring.makeAvailable(0)
            }),
            ("address outside RAM", { ring in
                ring.setDescriptor(0, address: 0x4000_0000, length: 4, flags: Desc.write)
                ring.makeAvailable(0)
            }),
            ("head beyond the table", { ring in ring.makeAvailable(8) }),
        ]
        for (name, layout) in layouts {
            let driver = try rngDriver()
            driver.bringUp()
            layout(&driver.ring)
            driver.notify(0)
            XCTAssertTrue(driver.needsReset, name)
            XCTAssertEqual(driver.messages, [FakePCIDriver.message(0)], "the config vector only, \(name)")
            XCTAssertEqual(driver.ring.usedIndex, 0, name)
            driver.notify(0)
            XCTAssertEqual(driver.messages.count, 1, "notifications are ignored until reset, \(name)")

            // The driver resets and starts over with a good ring.
            driver.ring = FakeGuestRing(memory: driver.memory, size: 8)
            try driver.memory.write(Array(repeating: 0, count: 0x400), at: GuestAddress(0x1000))
            driver.bringUp()
            XCTAssertFalse(driver.needsReset, name)
            requestRandomBytes(driver)
            XCTAssertEqual(driver.ring.usedIndex, 1, name)
            XCTAssertEqual(driver.messages.last, FakePCIDriver.message(1), name)
        }
    }

    func testABadQueueAtDriverOKNeedsResetWithTheConfigVector() throws {
        let cases: [(String, UInt16, UInt64)] = [
            ("size not a power of two", 6, 0x1000),
            ("size above the maximum", 512, 0x1000),
            ("rings outside RAM", 8, 0x4000_0000),
        ]
        for (name, size, base) in cases {
            let driver = try rngDriver()
            XCTAssertTrue(driver.probe())
            XCTAssertTrue(driver.negotiate())
            driver.enableMSIX()
            driver.setConfigVector(0)
            let ring = FakeGuestRing(memory: driver.memory, size: 8, base: base)
            driver.setCommon(CommonCfg.queueSelect, 0)
            driver.setCommon(CommonCfg.queueSize, UInt32(size))
            for (low, address) in [(CommonCfg.queueDescLow, ring.addresses.descriptorTable),
                                   (CommonCfg.queueAvailLow, ring.addresses.availableRing),
                                   (CommonCfg.queueUsedLow, ring.addresses.usedRing)] {
                driver.setCommon(low, UInt32(truncatingIfNeeded: address.raw))
                driver.setCommon(low + 4, UInt32(truncatingIfNeeded: address.raw >> 32))
            }
            driver.setCommon(CommonCfg.queueMSIXVector, 1)
            driver.setCommon(CommonCfg.queueEnable, 1)
            driver.driverOK()
            XCTAssertTrue(driver.needsReset, name)
            XCTAssertEqual(driver.messages, [FakePCIDriver.message(0)], name)
        }
    }

    func testAHostileRingWithoutMSIXRaisesISRBit2() throws {
        let driver = try rngDriver()
        driver.bringUp(msix: false)
        driver.ring.setDescriptor(0, address: 0x4000_0000, length: 4, flags: Desc.write)
        driver.ring.makeAvailable(0)
        driver.notify(0)
        XCTAssertTrue(driver.needsReset)
        XCTAssertEqual(driver.line?.isAsserted, true)
        XCTAssertEqual(driver.readISR(), 2)
    }

    func testResetLowersAnAssertedLine() throws {
        let driver = try rngDriver()
        driver.bringUp(msix: false)
        requestRandomBytes(driver)
        XCTAssertEqual(driver.line?.isAsserted, true)
        driver.reset()
        XCTAssertEqual(driver.line?.isAsserted, false)
        XCTAssertEqual(driver.readISR(), 0)
    }

    func testResetClearsVectorsQueuesAndStatus() throws {
        let driver = try rngDriver()
        driver.bringUp()
        driver.reset()
        XCTAssertEqual(driver.status, 0)
        XCTAssertEqual(UInt16(driver.common(CommonCfg.msixConfig)), FakePCIDriver.noVector)
        driver.setCommon(CommonCfg.queueSelect, 0)
        XCTAssertEqual(UInt16(driver.common(CommonCfg.queueMSIXVector)), FakePCIDriver.noVector)
        XCTAssertEqual(driver.common(CommonCfg.queueSize), 256, "back to the maximum")
        XCTAssertEqual(driver.common(CommonCfg.queueEnable), 0)
        for field in [CommonCfg.queueDescLow, CommonCfg.queueDescHigh, CommonCfg.queueAvailLow,
                      CommonCfg.queueAvailHigh, CommonCfg.queueUsedLow, CommonCfg.queueUsedHigh] {
            XCTAssertEqual(driver.common(field), 0, "\(field)")
        }
        driver.setCommon(CommonCfg.driverFeatureSelect, 1)
        XCTAssertEqual(driver.common(CommonCfg.driverFeature), 0, "driver features cleared")

        requestRandomBytes(driver)
        XCTAssertEqual(driver.ring.usedIndex, 0, "a reset device ignores notifications")
        XCTAssertEqual(driver.messages, [])
    }

    // MARK: Access widths and the configuration access capability

    func testQueueAddressesTakeEightByteAccesses() throws {
        let driver = try rngDriver()
        XCTAssertTrue(driver.probe())
        let common = UInt64(driver.capability(VirtioCfgType.common)!.offset)
        driver.setCommon(CommonCfg.queueSelect, 0)
        driver.setBar(common + CommonCfg.queueDescLow, size: 8, 0x1234_5678_9ABC_DEF0)
        driver.setBar(common + CommonCfg.queueUsedLow, size: 8, 0x0000_0001_0000_2000)
        XCTAssertEqual(driver.bar(common + CommonCfg.queueDescLow, size: 8), 0x1234_5678_9ABC_DEF0)
        XCTAssertEqual(driver.common(CommonCfg.queueDescLow), 0x9ABC_DEF0)
        XCTAssertEqual(driver.common(CommonCfg.queueDescHigh), 0x1234_5678)
        XCTAssertEqual(driver.bar(common + CommonCfg.queueUsedLow, size: 8), 0x1_0000_2000)
        XCTAssertEqual(driver.common(CommonCfg.queueAvailLow), 0, "its neighbour is untouched")

        // An 8-byte ring setup works end to end.
        driver.reset()
        driver.addStatus(Status.acknowledge | Status.driver)
        driver.writeDriverFeatures(Self.rngFeatures)
        driver.addStatus(Status.featuresOK)
        driver.setCommon(CommonCfg.queueSelect, 0)
        driver.setCommon(CommonCfg.queueSize, 8)
        let addresses = driver.ring.addresses
        driver.setBar(common + CommonCfg.queueDescLow, size: 8, addresses.descriptorTable.raw)
        driver.setBar(common + CommonCfg.queueAvailLow, size: 8, addresses.availableRing.raw)
        driver.setBar(common + CommonCfg.queueUsedLow, size: 8, addresses.usedRing.raw)
        driver.setCommon(CommonCfg.queueEnable, 1)
        driver.driverOK()
        XCTAssertFalse(driver.needsReset)
        requestRandomBytes(driver)
        XCTAssertEqual(driver.ring.usedIndex, 1)
    }

    func testWrongWidthCommonAccessesReadZeroAndAreIgnored() throws {
        let driver = try rngDriver()
        XCTAssertTrue(driver.probe())
        let common = UInt64(driver.capability(VirtioCfgType.common)!.offset)
        XCTAssertEqual(driver.bar(common + CommonCfg.numQueues, size: 4), 0)
        XCTAssertEqual(driver.bar(common + CommonCfg.numQueues, size: 1), 0)
        XCTAssertEqual(driver.bar(common + CommonCfg.queueSize, size: 4), 0)
        XCTAssertEqual(driver.bar(common + CommonCfg.deviceFeature, size: 2), 0)
        XCTAssertEqual(driver.bar(common + CommonCfg.deviceStatus, size: 2), 0)
        XCTAssertEqual(driver.bar(common + CommonCfg.queueDescLow, size: 2), 0)
        XCTAssertEqual(driver.bar(common + CommonCfg.deviceFeature, size: 8), 0, "8 bytes only for queue addresses")
        XCTAssertEqual(driver.bar(common + CommonCfg.numQueues + 1, size: 1), 0, "inside a field")

        driver.setBar(common + CommonCfg.queueSelect, size: 4, 5)
        XCTAssertEqual(driver.common(CommonCfg.queueSelect), 0)
        driver.setBar(common + CommonCfg.deviceStatus, size: 2, UInt64(Status.acknowledge))
        XCTAssertEqual(driver.status, 0)
        driver.setBar(common + CommonCfg.queueSize, size: 1, 4)
        XCTAssertEqual(driver.common(CommonCfg.queueSize), 256)
        driver.setBar(common + CommonCfg.queueDescLow, size: 2, 0x1000)
        XCTAssertEqual(driver.common(CommonCfg.queueDescLow), 0)
        driver.setBar(common + CommonCfg.deviceFeatureSelect, size: 8, 1)
        XCTAssertEqual(driver.common(CommonCfg.deviceFeatureSelect), 0)
        XCTAssertEqual(driver.common(CommonCfg.numQueues), 1, "the right width still works")
    }

    func testThePCIConfigurationAccessCapabilityReachesBAR0() throws {
        let driver = try FakePCIDriver(device: EchoDevice())
        XCTAssertTrue(driver.probe())
        let cap = try XCTUnwrap(driver.capability(VirtioCfgType.pciConfig)).position
        let common = driver.capability(VirtioCfgType.common)!.offset
        for path in [FakePCIDriver.ConfigPath.ecam, .ports] {
            driver.configPath = path
            driver.setConfig(cap + 4, size: 1, 0)
            driver.setConfig(cap + 8, common + UInt32(CommonCfg.numQueues))
            driver.setConfig(cap + 12, 2)
            XCTAssertEqual(driver.config(cap + 4, size: 1), 0)
            XCTAssertEqual(driver.config(cap + 8), common + UInt32(CommonCfg.numQueues))
            XCTAssertEqual(driver.config(cap + 12), 2)
            XCTAssertEqual(driver.config(cap + 16), 2, "num_queues through pci_cfg_data, \(path)")
        }

        // Writes go through too: status, then read back the same way.
        driver.setConfig(cap + 8, common + UInt32(CommonCfg.deviceStatus))
        driver.setConfig(cap + 12, 1)
        driver.setConfig(cap + 16, Status.acknowledge)
        XCTAssertEqual(driver.config(cap + 16), Status.acknowledge)
        XCTAssertEqual(driver.status, Status.acknowledge)

        // A window that is not 1, 2 or 4 aligned bytes of BAR 0 reads 0 and writes nothing.
        driver.setConfig(cap + 8, common + UInt32(CommonCfg.numQueues))
        driver.setConfig(cap + 12, 3)
        XCTAssertEqual(driver.config(cap + 16), 0)
        driver.setConfig(cap + 12, 2)
        driver.setConfig(cap + 4, size: 1, 1)
        XCTAssertEqual(driver.config(cap + 16), 0, "BAR 1")
        driver.setConfig(cap + 4, size: 1, 0)
        driver.setConfig(cap + 8, 0x8000)
        XCTAssertEqual(driver.config(cap + 16), 0, "past BAR 0")
        XCTAssertEqual(driver.config(cap + 3, size: 1), UInt32(VirtioCfgType.pciConfig), "cfg_type is read-only")
    }
}
