import Foundation
import Glibc
import LKVMTestSupport
import XCTest

/// The lkvm binary on the host's KVM with tiny hand-assembled kernels: how a
/// run ends (signals, the console escape, guest reset, fatal exits).
final class LifecycleTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        guard access("/dev/kvm", R_OK | W_OK) == 0 else {
            print("skipping lifecycle tests: /dev/kvm is not usable here")
            throw XCTSkip("/dev/kvm is not usable here")
        }
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-life-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let scratch { try? FileManager.default.removeItem(at: scratch) } }

    func kernel(_ code: [UInt8]) throws -> String {
        let url = scratch.appendingPathComponent("tiny-\(UUID().uuidString)")
        try Data(TinyBzImage.build(code: code)).write(to: url)
        return url.path
    }

    /// Starts lkvm; returns the process and its stderr/stdout pipes.
    func start(_ arguments: [String], stdin: Pipe? = nil) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BadInputTests.binary)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdin ?? FileHandle.nullDevice
        try process.run()
        return (process, out, err)
    }

    /// Waits for exit with a deadline: a hang fails the test instead of CI.
    func wait(_ process: Process, seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        guard process.isRunning else { return true }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return false
    }

    func testGuestResetExitsZero() throws {
        let (process, _, err) = try start(["run", "-k", try kernel(Asm64.resetThroughI8042 + Asm64.hltLoop), "-c", "2"])
        XCTAssertTrue(wait(process))
        XCTAssertEqual(process.terminationStatus, 0, String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    func testSIGTERMAndSIGINTStopASpinningGuestCleanly() throws {
        for (signal, status) in [(SIGTERM, Int32(143)), (SIGINT, Int32(130))] {
            let (process, _, err) = try start(["run", "-k", try kernel(Asm64.spin), "-c", "4", "--name", "spinner"])
            usleep(300_000)
            let comm = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/comm", encoding: .utf8)
            XCTAssertEqual(comm, "lkvm:spinner\n", "--name shows in ps")
            kill(process.processIdentifier, signal)
            XCTAssertTrue(wait(process), "lkvm did not stop on signal \(signal)")
            XCTAssertEqual(process.terminationReason, .exit, "lkvm must exit, not die of the signal")
            XCTAssertEqual(process.terminationStatus, status)
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertTrue(text.contains("spinner stopped by signal \(signal)"), text)
        }
    }

    func testCtrlAXOnStdinQuits() throws {
        let input = Pipe()
        let (process, _, err) = try start(["run", "-k", try kernel(Asm64.spin)], stdin: input)
        input.fileHandleForWriting.write(Data([0x01, UInt8(ascii: "x")]))
        XCTAssertTrue(wait(process), "Ctrl-A x did not stop lkvm")
        XCTAssertEqual(process.terminationStatus, 0)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.contains("quit"), text)
    }

    func testEndOfStdinDoesNotStopTheGuest() throws {
        // stdin at EOF at once; the guest still runs until it resets itself.
        let code: [UInt8] = [0xB9, 0x00, 0x00, 0x10, 0x00, 0xFF, 0xC9, 0x75, 0xFC] // mov ecx, 2^20; loop
        let (process, _, _) = try start(["run", "-k", try kernel(code + Asm64.resetThroughI8042 + Asm64.hltLoop)])
        XCTAssertTrue(wait(process))
        XCTAssertEqual(process.terminationStatus, 0)
    }

    func testTripleFaultPrintsOneErrorLineAndRegisters() throws {
        let (process, _, err) = try start(["run", "-k", try kernel(Asm64.ud2)])
        XCTAssertTrue(wait(process))
        XCTAssertEqual(process.terminationStatus, 1)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.filter { $0.hasPrefix("lkvm: error:") }.count, 1, text)
        XCTAssertTrue(text.contains("triple fault"), text)
        XCTAssertTrue(text.contains("rip 0000000001000200"), text)
    }

    /// kvmtool hung in ~30 of 100 quick runs with 2 vCPUs. Whole-process runs
    /// here (the in-process stress is in KVMSmokeTests).
    func testQuickExitProcessesNeverHang() throws {
        let path = try kernel(Asm64.resetThroughI8042 + Asm64.hltLoop)
        let runs = Int(ProcessInfo.processInfo.environment["LKVM_STRESS_PROCESSES"] ?? "") ?? 40
        for index in 0..<runs {
            let (process, _, err) = try start(["run", "-k", path, "-c", String([1, 2, 8][index % 3])])
            XCTAssertTrue(wait(process, seconds: 10), "run \(index) hung")
            XCTAssertEqual(process.terminationStatus, 0,
                           String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }
    }
}
