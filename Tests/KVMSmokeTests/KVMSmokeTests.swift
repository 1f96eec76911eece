import ArchX86
import Glibc
import LKVMCore
import LKVMDevices
import LKVMKVM
import Synchronization
import XCTest

final class RecordingConsole: ConsoleOutput {
    let bytes = Mutex<[UInt8]>([])
    func write(_ data: [UInt8]) { bytes.withLock { $0 += data } }
    var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
}

struct NoInterrupt: InterruptLine { func setLevel(_ asserted: Bool) {} }

final class KVMSmokeTests: XCTestCase {
    func testRealModeGuestPrintsOnCOM1ThroughThe8250() throws {
        let guest = try RealModeGuest(code: Asm16.print("Hello, lkvm\n") + Asm16.hlt)
        let console = RecordingConsole()
        var pio = Bus(kind: "port I/O")
        try pio.register(Serial8250(interrupt: NoInterrupt(), output: console), name: "com1", base: 0x3F8, length: 8)
        let exit = try guest.vcpus[0].run(buses: IOBuses(pio: pio, mmio: Bus(kind: "MMIO")))
        XCTAssertEqual(exit, .halt)
        XCTAssertEqual(console.text, "Hello, lkvm\n")
    }

    func testPortReadsAndWritesReachTheRightDeviceAtItsOffset() throws {
        // in al, 0x71 (device B offset 1) then out 0x70 (device A offset 0) with it.
        let code = Asm16.movDX(0x71) + Asm16.inALDX + Asm16.movDX(0x70) + Asm16.outDXAL
            + Asm16.movDX(0x99) + Asm16.inALDX + Asm16.movDX(0x72) + Asm16.outDXAL + Asm16.hlt
        let guest = try RealModeGuest(code: code)
        let a = RecordingDevice(), b = RecordingDevice(readValue: 0x5A), c = RecordingDevice()
        var pio = Bus(kind: "port I/O")
        try pio.register(a, name: "a", base: 0x70, length: 1)
        try pio.register(b, name: "b", base: 0x71, length: 1)
        try pio.register(c, name: "c", base: 0x72, length: 1)
        XCTAssertEqual(try guest.vcpus[0].run(buses: IOBuses(pio: pio, mmio: Bus(kind: "MMIO"))), .halt)
        XCTAssertEqual(a.writes.withLock { $0.map(\.value) }, [0x5A])
        XCTAssertEqual(a.writes.withLock { $0.map(\.offset) }, [0])
        // Port 0x99 is unclaimed: the read floats high (0xFF) and lkvm keeps going.
        XCTAssertEqual(c.writes.withLock { $0.map(\.value) }, [0xFF])
    }

    func testMMIOWritesAndReadsAreDispatchedWithOffsets() throws {
        // ds = 0xD000 -> linear 0xD0000, outside the 64 KiB of RAM: MMIO exits.
        let code = Asm16.movAX(0xD000) + Asm16.movDSAX + Asm16.movByteToMemory(0x10, 0xA5)
            + Asm16.movALFromMemory(0x20) + Asm16.movDX(0x80) + Asm16.outDXAL + Asm16.hlt
        let guest = try RealModeGuest(code: code)
        let device = RecordingDevice(readValue: 0x3C), port = RecordingDevice()
        var mmio = Bus(kind: "MMIO")
        try mmio.register(device, name: "dev", base: 0xD0000, length: 0x1000)
        var pio = Bus(kind: "port I/O")
        try pio.register(port, name: "debug", base: 0x80, length: 1)
        XCTAssertEqual(try guest.vcpus[0].run(buses: IOBuses(pio: pio, mmio: mmio)), .halt)
        XCTAssertEqual(device.writes.withLock { $0.map { [$0.offset, UInt64($0.size), $0.value] } }, [[0x10, 1, 0xA5]])
        XCTAssertEqual(port.writes.withLock { $0.map(\.value) }, [0x3C])
    }

    /// kvmtool hangs in about 30 of 100 quick-exit runs with 2 vCPUs: a stop
    /// request must reach every vCPU whether or not it has entered KVM_RUN.
    func testQuickExitRunsWithSeveralVCPUsNeverHang() throws {
        let iterations = Int(getenv("LKVM_STRESS_ITERATIONS").flatMap { Int(String(cString: $0)) } ?? 30)
        VMController.blockHandledSignals()
        // A hang must fail the run, not stall CI: SIGALRM kills the process.
        alarm(UInt32(60 + iterations * 4))
        defer { alarm(0) }
        for cpus in [1, 2, 4, 8] {
            for _ in 0..<iterations {
                // Every vCPU spins without exits, except that the first to run
                // writes the power-off port: the others must be kicked out.
                let code = Asm16.movDX(0x501) + Asm16.outDXAL + Asm16.spin
                let guest = try RealModeGuest(code: code, cpus: cpus)
                let power = PowerOffPort()
                var pio = Bus(kind: "port I/O")
                try pio.register(power, name: "poweroff", base: 0x501, length: 1)
                let controller = VMController(vcpus: guest.vcpus)
                power.controller.withLock { $0 = controller }
                let reason = VMRunner.run(vcpus: guest.vcpus, buses: IOBuses(pio: pio, mmio: Bus(kind: "MMIO")),
                                          controller: controller)
                XCTAssertEqual(reason, .powerOff)
            }
        }
    }
}
