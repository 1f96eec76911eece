import XCTest
@testable import ArchARM64
import LKVMCore
import LKVMDevices
import LKVMTestSupport
import Synchronization

/// Records the SPI levels devices drive.
private final class SPIRecorder: Sendable {
    private let log = Mutex<[(spi: Int, level: Bool)]>([])
    var events: [(spi: Int, level: Bool)] { log.withLock { $0 } }
    func line(_ spi: Int) -> any InterruptLine { Line(spi: spi, recorder: self) }
    fileprivate func record(_ spi: Int, _ level: Bool) { log.withLock { $0.append((spi, level)) } }

    private struct Line: InterruptLine {
        let spi: Int
        let recorder: SPIRecorder
        func setLevel(_ asserted: Bool) { recorder.record(spi, asserted) }
    }
}

/// Collects console output.
private final class OutputRecorder: ConsoleOutput {
    private let bytes = Mutex<[UInt8]>([])
    func write(_ newBytes: [UInt8]) { bytes.withLock { $0 += newBytes } }
    var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
}

/// The arm64 machine's MMIO bus built from the shipped boards, without KVM.
final class ARM64DeviceLayoutTests: XCTestCase {
    override func setUp() { VMController.blockHandledSignals() }

    private func layout(_ plan: ARM64BootPlan, spis: SPIRecorder = SPIRecorder(), output: OutputRecorder = OutputRecorder(),
                        msi: FakeMSIController = FakeMSIController()) throws -> ARM64DeviceLayout {
        try ARM64DeviceLayout(plan: plan, memory: GuestMemory(ranges: plan.ram), output: output,
                              line: { spis.line($0) }, msi: msi)
    }

    private func gic(_ plan: ARM64BootPlan) throws -> GICv3Spec {
        guard case .gicv3(let spec) = plan.config.board.interruptController else { throw XCTSkip("no GICv3") }
        return spec
    }

    /// Addresses the bus must leave alone: the in-kernel GIC's frames and RAM.
    private func assertUnclaimed(_ plan: ARM64BootPlan, _ bus: Bus, file: StaticString = #filePath, line: UInt = #line) throws {
        let spec = try gic(plan)
        var ranges = [spec.distributor, spec.redistributors] + plan.ram
        if let its = spec.its { ranges.append(its) }
        for range in ranges {
            for address in [range.start.raw, range.end - 1] {
                XCTAssertNil(bus.deviceName(at: address), "\(hex(address)) belongs to KVM", file: file, line: line)
            }
        }
    }

    func testVirtBoardWithVirtioMMIO() throws {
        let plan = try ARM64Fixtures.plan(board: "virt", virtio: 2)
        let devices = try layout(plan)
        let bus = devices.mmio
        XCTAssertEqual(bus.deviceName(at: 0x0900_0000), "pl011@0")
        XCTAssertEqual(bus.deviceName(at: 0x0900_0FFF), "pl011@0")
        XCTAssertEqual(bus.deviceName(at: 0x0901_0000), "pl031")
        XCTAssertEqual(bus.deviceName(at: 0x0A00_0000), "virtio-mmio0")
        XCTAssertEqual(bus.deviceName(at: 0x0A00_0200), "virtio-mmio1")
        XCTAssertNil(bus.deviceName(at: 0x0A00_0400), "only the slots in use")
        XCTAssertEqual(bus.deviceName(at: 0x3F00_0000), "pci-ecam")
        XCTAssertEqual(bus.deviceName(at: 0x1000_0000), "pci-mmio32")
        XCTAssertEqual(bus.deviceName(at: 0x80_0000_0000), "pci-mmio64")
        XCTAssertNotNil(devices.pciRoot)
        XCTAssertTrue(devices.consoleUART is PL011)
        try assertUnclaimed(plan, bus)
        // virtio-mmio magic "virt" at slot 0.
        XCTAssertEqual(bus.read(0x0A00_0000, size: 4), 0x7472_6976)
        // AMBA IDs of the PL011 and PL031 where the device tree puts them.
        XCTAssertEqual(bus.read(0x0900_0FE0, size: 4), 0x11)
        XCTAssertEqual(bus.read(0x0901_0FE0, size: 4), 0x31)
    }

    func testKvmtoolBoardWithItsMMIO8250() throws {
        let plan = try ARM64Fixtures.plan(board: "kvmtool-arm64", virtio: 1)
        let output = OutputRecorder()
        let spis = SPIRecorder()
        let devices = try layout(plan, spis: spis, output: output)
        let bus = devices.mmio
        XCTAssertEqual(bus.deviceName(at: 0x0100_0000), "uart8250@0")
        XCTAssertEqual(bus.deviceName(at: 0x0101_0000), "pl031")
        XCTAssertEqual(bus.deviceName(at: 0x0300_0000), "virtio-mmio0")
        XCTAssertEqual(bus.deviceName(at: 0x4000_0000), "pci-ecam")
        XCTAssertEqual(bus.deviceName(at: 0x5000_0000), "pci-mmio32")
        XCTAssertTrue(devices.consoleUART is Serial8250)
        try assertUnclaimed(plan, bus)
        // The 8250's byte-wide registers at offsets 0-7: THR, then IER raising THRE on SPI 0.
        bus.write(0x0100_0000, size: 1, value: UInt64(UInt8(ascii: "k")))
        XCTAssertEqual(output.text, "k")
        XCTAssertEqual(bus.read(0x0100_0005, size: 1) & 0x60, 0x60, "LSR: THR and transmitter empty")
        bus.write(0x0100_0001, size: 1, value: 0x02)
        XCTAssertEqual(spis.events.last?.spi, 0)
        XCTAssertEqual(spis.events.last?.level, true)
    }

    func testPL011OutputAndInterruptReachTheBoardsSPI() throws {
        let plan = try ARM64Fixtures.plan(board: "virt")
        let output = OutputRecorder()
        let spis = SPIRecorder()
        let devices = try layout(plan, spis: spis, output: output)
        for byte in "ok\n".utf8 { devices.mmio.write(0x0900_0000, size: 1, value: UInt64(byte)) }
        XCTAssertEqual(output.text, "ok\n")
        devices.mmio.write(0x0900_0038, size: 2, value: 0x10)  // IMSC.RXIM
        devices.consoleUART?.receive([0x61])
        XCTAssertEqual(spis.events.map(\.spi), [1])
        XCTAssertEqual(spis.events.map(\.level), [true])
        XCTAssertEqual(devices.mmio.read(0x0900_0000, size: 2), 0x61)
        XCTAssertEqual(spis.events.map(\.level), [true, false])
    }

    /// virtio-pci functions at 00:01.0.. found through ECAM, MSIs tagged with the requester ID.
    func testVirtioPCIFunctionsThroughECAM() throws {
        let plan = try ARM64Fixtures.plan(board: "virt", virtio: 2, transport: .pci)
        let devices = try layout(plan)
        let bus = devices.mmio
        XCTAssertNil(bus.deviceName(at: 0x0A00_0000), "no virtio-mmio slots used over PCI")
        let ecam: UInt64 = 0x3F00_0000
        func configDword(device: UInt64, offset: UInt64) -> UInt64 { bus.read(ecam + (device << 15) + offset, size: 4) }
        XCTAssertEqual(configDword(device: 0, offset: 0) & 0xFFFF, 0x1B36, "host bridge at 00:00.0")
        XCTAssertEqual(configDword(device: 1, offset: 0), 0x1044_1AF4, "virtio-rng, modern")
        XCTAssertEqual(configDword(device: 2, offset: 0), 0x1044_1AF4)
        XCTAssertEqual(configDword(device: 3, offset: 0), 0xFFFF_FFFF)
        XCTAssertEqual(ARM64DeviceLayout.requesterID(device: 1), 0x08)
        XCTAssertEqual(ARM64DeviceLayout.requesterID(device: 31), 0xF8)
        // INTA of device 1 on the board's INTx rule (SPIs 3-6), in the interrupt line register.
        XCTAssertEqual(configDword(device: 1, offset: 0x3C) & 0xFFFF, 0x0100 | UInt64(plan.config.board.pci!.intxIRQ(device: 1, pin: 1)!))
    }

    /// A scripted guest on the fake hypervisor: PL011 output, then PSCI SYSTEM_OFF.
    func testFakeGuestWritesToTheConsoleAndPowersOff() throws {
        let plan = try ARM64Fixtures.plan(board: "virt", cpus: 2)
        let output = OutputRecorder()
        let devices = try layout(plan, output: output)
        let machine = try FakeHypervisor().createVM()
        let vcpus = try (0..<2).map { try machine.createVCPU(id: $0) }
        vcpus[0].setScript([.mmioWrite(address: 0x0900_0000, size: 1, value: 0x68),
                            .mmioWrite(address: 0x0900_0000, size: 1, value: 0x69),
                            .mmioRead(address: 0x0FFF_0000, size: 4),
                            .exit(.systemEvent(.powerOff))])
        let controller = VMController(vcpus: vcpus)
        let reason = VMRunner.run(vcpus: vcpus, buses: IOBuses(pio: Bus(kind: "port I/O"), mmio: devices.mmio),
                                  controller: controller)
        XCTAssertEqual(reason, .powerOff)
        XCTAssertEqual(reason.exitStatus, 0)
        XCTAssertEqual(output.text, "hi")
        XCTAssertEqual(vcpus[0].readValues, [0xFFFF_FFFF], "an unclaimed MMIO read floats high and the VM runs on")
    }

    func testUndecodableMMIOStopsWithOneLine() throws {
        let machine = try FakeHypervisor().createVM()
        let vcpu = try machine.createVCPU(id: 0)
        vcpu.setScript([.exit(.undecodableMMIO(address: 0x0900_0000, syndrome: 0x93))])
        let controller = VMController(vcpus: [vcpu])
        let reason = VMRunner.run(vcpus: [vcpu], buses: IOBuses(pio: Bus(kind: "port I/O"), mmio: Bus(kind: "MMIO")),
                                  controller: controller)
        guard case .fatal(let message, _) = reason else { return XCTFail("\(reason)") }
        XCTAssertTrue(message.contains("MMIO access at 0x9000000"), message)
        XCTAssertTrue(message.contains("KVM_EXIT_ARM_NISV"), message)
    }
}
