@testable import LKVMCore
import LKVMTestSupport
import Synchronization
import XCTest

final class StopDevice: BusDevice {
    let controller = Mutex<VMController?>(nil)
    func read(offset: UInt64, size: Int) -> UInt64 { 0 }
    func write(offset: UInt64, size: Int, value: UInt64) {
        controller.withLock { $0 }?.requestStop(value == 1 ? .powerOff : .reset)
    }
}

final class VMRunnerTests: XCTestCase {
    override func setUp() { VMController.blockHandledSignals() }

    func runScripted(_ scripts: [[FakeGuestStep]], device: StopDevice = StopDevice()) throws -> StopReason {
        let machine = try FakeHypervisor().createVM()
        let vcpus = try scripts.indices.map { try machine.createVCPU(id: $0) }
        for (vcpu, script) in zip(vcpus, scripts) { vcpu.setScript(script) }
        var pio = Bus(kind: "port I/O")
        try pio.register(device, name: "stop", base: 0x500, length: 1)
        let controller = VMController(vcpus: vcpus)
        device.controller.withLock { $0 = controller }
        return VMRunner.run(vcpus: vcpus, buses: IOBuses(pio: pio, mmio: Bus(kind: "MMIO")), controller: controller)
    }

    func testAPortWriteThatPowersOffStopsEveryVCPU() throws {
        let reason = try runScripted([[.portWrite(port: 0x500, size: 1, value: 1)], [], [], []])
        XCTAssertEqual(reason, .powerOff)
        XCTAssertEqual(reason.exitStatus, 0)
    }

    func testTheFirstStopReasonWins() throws {
        let reason = try runScripted([[.portWrite(port: 0x500, size: 1, value: 2),
                                       .portWrite(port: 0x500, size: 1, value: 1)]])
        XCTAssertEqual(reason, .reset)
    }

    func testFatalExitsCarryARegisterDumpAndFailTheRun() throws {
        let reason = try runScripted([[], [.exit(.shutdown)]])
        guard case .fatal(let message, let registers) = reason else { return XCTFail("\(reason)") }
        XCTAssertTrue(message.contains("vCPU 1"), message)
        XCTAssertTrue(message.contains("triple fault"), message)
        XCTAssertEqual(registers, "fake vCPU 1 registers")
        XCTAssertEqual(reason.exitStatus, 1)
    }

    func testInternalErrorAndFailedEntryAreFatal() throws {
        for exit in [VCPUExit.internalError(suberror: 1, data: [0x10]), .failEntry(reason: 7, cpu: 0),
                     .unknown(reason: 99), .systemEvent(.crash)] {
            guard case .fatal = try runScripted([[.exit(exit)]]) else { return XCTFail("\(exit) was not fatal") }
        }
    }

    func testGuestSystemEventsMapToCleanStops() throws {
        XCTAssertEqual(try runScripted([[.exit(.systemEvent(.powerOff))]]), .powerOff)
        XCTAssertEqual(try runScripted([[.exit(.systemEvent(.reset))]]), .reset)
        XCTAssertEqual(try runScripted([[.exit(.halt)]]), .halted)
    }

    func testAStopRequestedBeforeAnyVCPURunsIsNotLost() throws {
        let machine = try FakeHypervisor().createVM()
        let vcpus = try (0..<4).map { try machine.createVCPU(id: $0) }
        let controller = VMController(vcpus: vcpus)
        controller.requestStop(.consoleQuit)
        let reason = VMRunner.run(vcpus: vcpus, buses: IOBuses(pio: Bus(kind: "p"), mmio: Bus(kind: "m")),
                                  controller: controller)
        XCTAssertEqual(reason, .consoleQuit)
    }

    func testSignalStopsGiveConventionalExitStatus() {
        XCTAssertEqual(StopReason.signal(15).exitStatus, 143)
        XCTAssertEqual(StopReason.signal(2).exitStatus, 130)
    }
}
