import ArchX86
import Glibc
import LKVMCore
import LKVMKVM
import Synchronization
import XCTest

/// Counts the guest's writes to its port: the guest's "work".
final class WorkCounter: BusDevice {
    let count = Atomic<Int>(0)
    func read(offset: UInt64, size: Int) -> UInt64 { 0 }
    func write(offset: UInt64, size: Int, value: UInt64) { count.add(1, ordering: .relaxed) }
}

final class KVMRunResult: Sendable {
    let controller = Mutex<VMController?>(nil)
    let reason = Mutex<StopReason?>(nil)
}

final class KVMPauseTests: XCTestCase {
    /// A real vCPU looping on `out 0x80` is parked by pause (its work stops),
    /// its registers can be read while parked, it runs again after resume,
    /// and a stop while paused ends the run.
    func testPauseStopsGuestWorkAndResumeContinuesIt() throws {
        VMController.blockHandledSignals()
        alarm(120)  // a hang fails the run instead of stalling CI
        defer { alarm(0) }
        // loop: out dx, al ; jmp loop
        let guest = try RealModeGuest(code: Asm16.movDX(0x80) + Asm16.outDXAL + [0xEB, 0xFD], cpus: 2)
        let counter = WorkCounter()
        var pio = Bus(kind: "port I/O")
        try pio.register(counter, name: "work", base: 0x80, length: 1)
        let buses = IOBuses(pio: pio, mmio: Bus(kind: "MMIO"))
        let result = KVMRunResult()
        let vcpus = guest.vcpus, machine = guest.machine
        let runner = try HostThread(name: "runner") {
            let controller = VMController(vcpus: vcpus, clock: X86GuestClock(machine: machine))
            result.controller.withLock { $0 = controller }
            let reason = VMRunner.run(vcpus: vcpus, buses: buses, controller: controller)
            result.reason.withLock { $0 = reason }
        }
        while result.controller.withLock({ $0 }) == nil { sched_yield() }
        let controller = result.controller.withLock { $0 }!
        waitForWork(counter, beyond: 0)

        XCTAssertEqual(controller.pause(), .paused)
        let atPause = counter.count.load(ordering: .relaxed)
        let dumps = controller.withVCPUsPaused { vcpus in vcpus.map { $0.registerDump() } } ?? []
        XCTAssertEqual(dumps.count, 2)
        XCTAssertTrue(dumps.allSatisfy { $0.contains("rip") }, "\(dumps)")
        XCTAssertTrue(controller.isPaused)
        // Parked vCPUs do no work, however long the pause lasts.
        usleep(100_000)
        XCTAssertEqual(counter.count.load(ordering: .relaxed), atPause)

        XCTAssertTrue(controller.resume())
        waitForWork(counter, beyond: atPause)

        XCTAssertEqual(controller.pause(), .paused)
        controller.requestStop(.consoleQuit)
        runner.join()
        XCTAssertEqual(result.reason.withLock { $0 }, .consoleQuit)
    }

    /// Waits (bounded by the alarm) until the guest has done more than `count` units of work.
    private func waitForWork(_ counter: WorkCounter, beyond count: Int) {
        while counter.count.load(ordering: .relaxed) <= count { usleep(1000) }
    }
}
