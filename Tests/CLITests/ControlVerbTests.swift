import Foundation
import Glibc
import LKVMTestSupport
import XCTest

/// The control verbs against real lkvm processes on the host's KVM (tiny
/// spinning guests), each test with its own run directory (LKVM_RUN_DIR).
final class ControlVerbTests: XCTestCase {
    var scratch: URL!
    var runDir: String { scratch.appendingPathComponent("run").path }
    var started: [Process] = []

    override func setUpWithError() throws {
        guard access("/dev/kvm", R_OK | W_OK) == 0 else {
            print("skipping control verb tests: /dev/kvm is not usable here")
            throw XCTSkip("/dev/kvm is not usable here")
        }
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-ctl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        for process in started where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["LKVM_RUN_DIR"] = runDir
        return environment
    }

    func spinningKernel() throws -> String {
        let url = scratch.appendingPathComponent("spin")
        try Data(TinyBzImage.build(code: Asm64.spin)).write(to: url)
        return url.path
    }

    /// Starts `lkvm run` in the background and waits until its socket answers.
    func startVM(_ name: String, cpus: Int = 2, extra: [String] = []) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BadInputTests.binary)
        process.arguments = ["run", "-k", try spinningKernel(), "-c", String(cpus), "-m", "64", "--name", name] + extra
        process.environment = environment
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        started.append(process)
        let socket = "\(runDir)/\(name).sock"
        let deadline = Date().addingTimeInterval(20)
        while access(socket, F_OK) != 0 && process.isRunning && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(access(socket, F_OK), 0, "VM \(name) never created its control socket")
        return (process, err)
    }

    /// Runs one lkvm verb to its end: exit status, stdout, stderr.
    @discardableResult
    func lkvm(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BadInputTests.binary)
        process.arguments = arguments
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    func listRows() throws -> [[String]] {
        let result = try lkvm(["list"])
        XCTAssertEqual(result.status, 0, result.err)
        return result.out.split(separator: "\n").dropFirst().map { $0.split(separator: " ").map(String.init) }
    }

    func testListPauseResumeDebugStatStopOnTwoNamedVMs() throws {
        let (first, firstErr) = try startVM("alpha")
        let (second, _) = try startVM("beta", cpus: 1)
        var rows = try listRows()
        XCTAssertEqual(rows.map { $0[0] }, ["alpha", "beta"])
        XCTAssertEqual(rows[0], ["alpha", String(first.processIdentifier), "running", "2", "64", "MiB"])
        XCTAssertEqual(rows[1][1...3], [String(second.processIdentifier), "running", "1"])

        XCTAssertEqual(try lkvm(["pause", "alpha"]).out, "VM alpha paused\n")
        XCTAssertEqual(try listRows()[0][2], "paused")
        let again = try lkvm(["pause", "alpha"])
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(again.err, "lkvm: error: VM alpha is already paused\n")

        let debug = try lkvm(["debug", "alpha"])
        XCTAssertEqual(debug.status, 0, debug.err)
        XCTAssertTrue(debug.out.contains("vCPU 0 registers") && debug.out.contains("vCPU 1 registers"), debug.out)
        XCTAssertTrue(debug.out.contains("rip "), debug.out)
        XCTAssertTrue(debug.out.contains("no kernel symbols"), debug.out)
        let sysrq = try lkvm(["debug", "alpha", "--sysrq", "t"])
        XCTAssertEqual(sysrq.status, 0, sysrq.err)
        XCTAssertTrue(sysrq.out.contains("sent SysRq 't' on the serial console"), sysrq.out)
        let busy = try lkvm(["debug", "alpha", "--sysrq", "l"])
        XCTAssertEqual(busy.status, 1, "the spinning guest never reads the first break")
        XCTAssertTrue(busy.err.contains("a break is still unread"), busy.err)

        let stat = try lkvm(["stat", "alpha"])
        XCTAssertTrue(stat.out.contains("guest memory  64 MiB"), stat.out)
        XCTAssertTrue(stat.out.contains("host RSS"), stat.out)
        XCTAssertFalse(stat.out.contains("balloon"), stat.out)
        let balloon = try lkvm(["balloon", "alpha", "--inflate", "8"])
        XCTAssertEqual(balloon.status, 1)
        XCTAssertEqual(balloon.err, "lkvm: error: VM alpha has no balloon (start it with --balloon)\n")

        XCTAssertEqual(try lkvm(["resume", "alpha"]).out, "VM alpha resumed\n")
        XCTAssertEqual(try lkvm(["resume", "alpha"]).err, "lkvm: error: VM alpha is not paused\n")

        // stop waits for the VM to exit; the stopped VM exits 0 and cleans up.
        let stop = try lkvm(["stop", "alpha"])
        XCTAssertEqual(stop.status, 0, stop.err)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        let text = String(decoding: firstErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.contains("alpha stopped by lkvm stop"), text)
        XCTAssertNotEqual(access("\(runDir)/alpha.sock", F_OK), 0)
        XCTAssertNotEqual(access("\(runDir)/alpha.lock", F_OK), 0)

        XCTAssertEqual(try lkvm(["stop", "--all"]).status, 0)
        second.waitUntilExit()
        rows = try listRows()
        XCTAssertEqual(rows, [])
    }

    /// The instruction pointer named from a System.map (the spinning guest's
    /// code starts at the kernel's 64-bit entry, 16 MiB + 0x200), and a
    /// balloon's figures and target through stat and balloon.
    func testDebugNamesTheSymbolAndBalloonAnswers() throws {
        let map = scratch.appendingPathComponent("System.map")
        try Data("0000000001000000 T startup_32\n0000000001000200 T lkvm_test_spin\n".utf8).write(to: map)
        let (process, err) = try startVM("gamma", cpus: 2, extra: ["--symbols", map.path, "--balloon"])
        let debug = try lkvm(["debug", "gamma"])
        XCTAssertEqual(debug.status, 0, debug.err)
        XCTAssertTrue(debug.out.contains("kernel symbols: \(map.path) (2 functions)"), debug.out)
        XCTAssertTrue(debug.out.range(of: #"ip 0x10002[0-9a-f]{2} = lkvm_test_spin\+0x[0-9a-f]+"#,
                                      options: .regularExpression) != nil, debug.out)
        let inflate = try lkvm(["balloon", "gamma", "--inflate", "8"])
        XCTAssertEqual(inflate.status, 0, inflate.err)
        let stat = try lkvm(["stat", "gamma"])
        XCTAssertTrue(stat.out.contains("balloon:") && stat.out.contains("target-pages  2048"), stat.out)
        // The spinning guest has no IDT: a delivered NMI triple-faults it.
        let nmi = try lkvm(["debug", "gamma", "--nmi"])
        XCTAssertEqual(nmi.status, 0, nmi.err)
        XCTAssertTrue(nmi.out.contains("injected an NMI into 2 vCPUs"), nmi.out)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 1)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.contains("triple fault"), text)
    }

    func testAStopWhilePausedStopsTheVM() throws {
        let (process, _) = try startVM("frozen")
        XCTAssertEqual(try lkvm(["pause", "frozen"]).status, 0)
        XCTAssertEqual(try lkvm(["stop", "frozen"]).status, 0)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
    }

    func testASecondVMWithTheSameNameIsRefusedBeforeItBoots() throws {
        let (first, _) = try startVM("twin")
        let second = try lkvm(["run", "-k", try spinningKernel(), "--name", "twin"])
        XCTAssertEqual(second.status, 1)
        XCTAssertEqual(second.err, "lkvm: error: a VM named twin is already running (pid \(first.processIdentifier))\n")
        XCTAssertEqual(try listRows().map { $0[0] }, ["twin"])
    }

    func testSIGTERMRemovesTheSocketAndLockFile() throws {
        let (process, _) = try startVM("termed")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 143)
        XCTAssertNotEqual(access("\(runDir)/termed.sock", F_OK), 0)
        XCTAssertNotEqual(access("\(runDir)/termed.lock", F_OK), 0)
    }

    func testAKilledVMIsNeverListedAndItsNameCanBeReused() throws {
        let (process, _) = try startVM("doomed")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(access("\(runDir)/doomed.sock", F_OK), 0, "SIGKILL leaves the socket behind")
        XCTAssertEqual(try listRows(), [])
        XCTAssertNotEqual(access("\(runDir)/doomed.sock", F_OK), 0, "list cleaned the stale socket")
        let (again, _) = try startVM("doomed")
        XCTAssertEqual(try listRows().first?[1], String(again.processIdentifier))
    }

    func testVerbsOnUnknownNamesFailWithOneLine() throws {
        for verb in ["stop", "pause", "resume", "debug", "stat"] {
            let result = try lkvm([verb, "nosuch"])
            XCTAssertEqual(result.status, 1, verb)
            XCTAssertEqual(result.err, "lkvm: error: no VM named nosuch is running\n", verb)
        }
        XCTAssertEqual(try lkvm(["stop", "../etc"]).err, "lkvm: error: no VM named ../etc is running\n")
        XCTAssertEqual(try lkvm(["balloon", "x", "--inflate", "1", "--deflate", "1"]).status, 64)
    }
}
