@testable import LKVMCore
import LKVMTestSupport
import Glibc
import Synchronization
import XCTest

/// A spinning guest's vCPU counts how often it entered the guest.
final class CountingDevice: BusDevice {
    let writes = Atomic<Int>(0)
    func read(offset: UInt64, size: Int) -> UInt64 { 0 }
    func write(offset: UInt64, size: Int, value: UInt64) { writes.add(1, ordering: .relaxed) }
}

final class FreezeRecorder: GuestClockFreezer {
    let events = Mutex<[String]>([])
    func freeze() { events.withLock { $0.append("freeze") } }
    func thaw() { events.withLock { $0.append("thaw") } }
}

/// Where a background run leaves its controller and stop reason.
final class BackgroundRun: Sendable {
    let controller = Mutex<VMController?>(nil)
    let reason = Mutex<StopReason?>(nil)
}

final class VMPauseTests: XCTestCase {
    override func setUp() { VMController.blockHandledSignals() }

    /// Starts `count` idle fake vCPUs on a background runner; returns the
    /// controller and a lock holding the stop reason once the run ends.
    func startVM(count: Int, clock: (any GuestClockFreezer)? = nil)
        throws -> (VMController, [FakeVCPU], BackgroundRun, HostThread) {
        let machine = try FakeHypervisor().createVM()
        let vcpus = try (0..<count).map { try machine.createVCPU(id: $0) }
        let background = BackgroundRun()
        // The controller must be made on the thread that waits for the stop.
        let runner = try HostThread(name: "runner") {
            let controller = VMController(vcpus: vcpus, clock: clock)
            background.controller.withLock { $0 = controller }
            let reason = VMRunner.run(vcpus: vcpus, buses: IOBuses(pio: Bus(kind: "p"), mmio: Bus(kind: "m")),
                                      controller: controller)
            background.reason.withLock { $0 = reason }
        }
        while background.controller.withLock({ $0 }) == nil { sched_yield() }
        return (background.controller.withLock { $0 }!, vcpus, background, runner)
    }

    func testPauseParksEveryVCPUAndResumeLetsThemGo() throws {
        let recorder = FreezeRecorder()
        let (controller, _, result, runner) = try startVM(count: 3, clock: recorder)
        XCTAssertFalse(controller.isPaused)
        XCTAssertEqual(controller.pause(), .paused)
        XCTAssertTrue(controller.isPaused)
        XCTAssertEqual(controller.gate.withLock { controller.pauseState.parked }, 3)
        XCTAssertEqual(controller.pause(), .alreadyPaused)
        XCTAssertTrue(controller.resume())
        XCTAssertFalse(controller.isPaused)
        XCTAssertFalse(controller.resume())
        // Pausing again works: the kick of the first pause was cleared.
        XCTAssertEqual(controller.pause(), .paused)
        XCTAssertTrue(controller.resume())
        XCTAssertEqual(recorder.events.withLock { $0 }, ["freeze", "thaw", "freeze", "thaw"])
        controller.requestStop(.consoleQuit)
        runner.join()
        XCTAssertEqual(result.reason.withLock { $0 }, .consoleQuit)
    }

    func testAStopWhilePausedStopsTheVM() throws {
        let (controller, _, result, runner) = try startVM(count: 4)
        XCTAssertEqual(controller.pause(), .paused)
        controller.requestStop(.signal(SIGTERM))
        runner.join()
        XCTAssertEqual(result.reason.withLock { $0 }, .signal(SIGTERM))
    }

    func testWithVCPUsPausedRunsTheBodyWhileParkedAndRestoresTheState() throws {
        let (controller, _, _, runner) = try startVM(count: 2)
        let ids = controller.withVCPUsPaused { vcpus -> [Int] in
            XCTAssertTrue(controller.isPaused)
            return vcpus.map(\.id)
        }
        XCTAssertEqual(ids, [0, 1])
        XCTAssertFalse(controller.isPaused)
        XCTAssertEqual(controller.pause(), .paused)
        XCTAssertEqual(controller.withVCPUsPaused { $0.count }, 2)
        XCTAssertTrue(controller.isPaused, "a pause the user asked for outlives the debug read")
        controller.requestStop(.consoleQuit)
        runner.join()
        XCTAssertNil(controller.withVCPUsPaused { $0.count })
        XCTAssertEqual(controller.pause(), .stopping)
    }

    func testAPauseAVCPUNeverAnswersTimesOutAndIsUndone() throws {
        // No runner: nobody parks.
        let machine = try FakeHypervisor().createVM()
        let controller = VMController(vcpus: [try machine.createVCPU(id: 0)])
        XCTAssertEqual(controller.pause(timeout: 0.05), .timedOut)
        XCTAssertFalse(controller.isPaused)
        XCTAssertFalse(controller.gate.withLock { controller.pauseState.requested })
    }
}
