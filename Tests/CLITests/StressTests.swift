import Foundation
import Glibc
import LKVMTestSupport
import XCTest

/// Lifecycle stress (issue 6, part 4) on the host's KVM: the short CI run of
/// scripts/stress, and signals that arrive while the guest is busy writing
/// to COM1 on a terminal: lkvm must stop cleanly, give the terminal its mode
/// back and leave no file behind.
final class StressTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        guard access("/dev/kvm", R_OK | W_OK) == 0 else {
            print("skipping stress tests: /dev/kvm is not usable here")
            throw XCTSkip("/dev/kvm is not usable here")
        }
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-stress-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let scratch { try? FileManager.default.removeItem(at: scratch) } }

    /// scripts/stress with LKVM_STRESS_RUNS runs (default 30) at 1, 2 and 8
    /// vCPUs: no hang, crash or failure. `scripts/stress --runs 1000` is the
    /// long version (docs/stress.md).
    func testQuickExitRunsAtOneTwoAndEightVCPUs() throws {
        let runs = Int(ProcessInfo.processInfo.environment["LKVM_STRESS_RUNS"] ?? "") ?? 30
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [BadInputTests.repo.appendingPathComponent("scripts/stress").path,
                             "--lkvm", CLITestBinary.path, "--runs", String(runs), "--timeout", "10"]
        let log = scratch.appendingPathComponent("stress.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(Double(runs) * 3 * 2 + 60)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            XCTFail("scripts/stress did not finish in time")
        }
        let text = try String(contentsOf: log, encoding: .utf8)
        print(text, terminator: "")
        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("stress: summary: \(runs * 3) runs (vCPUs 1,2,8): \(runs * 3) ok, 0 hangs, 0 crashes, 0 non-zero exits"),
                      text)
    }

    // MARK: signals during guest I/O

    /// mov dx, 0x3f8; 1: mov al, 'x'; out dx, al; jmp 1b: COM1 output forever.
    static let com1Loop: [UInt8] = [0x66, 0xBA, 0xF8, 0x03, 0xB0, 0x78, 0xEE, 0xEB, 0xFB]

    /// A pseudo-terminal pair: lkvm gets the terminal side as stdin/stdout.
    struct PTY {
        let controller: Int32
        let terminal: Int32

        init() throws {
            // posix_openpt and friends, by hand: /dev/ptmx, unlock, the pts number.
            controller = open("/dev/ptmx", O_RDWR | O_NOCTTY)
            var unlock: Int32 = 0, number: UInt32 = 0
            guard controller >= 0, ioctl(controller, 0x4004_5431 /* TIOCSPTLCK */, &unlock) == 0,
                  ioctl(controller, 0x8004_5430 /* TIOCGPTN */, &number) == 0 else {
                throw CatalogError("no pseudo-terminal: errno \(errno)")
            }
            terminal = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
            guard terminal >= 0 else { throw CatalogError("cannot open /dev/pts/\(number): errno \(errno)") }
        }

        func close() { Glibc.close(controller); Glibc.close(terminal) }

        var mode: termios {
            var mode = termios()
            tcgetattr(terminal, &mode)
            return mode
        }
    }

    static func sameMode(_ a: termios, _ b: termios) -> Bool {
        var a = a, b = b
        let modes = a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag && a.c_lflag == b.c_lflag
        let characters = withUnsafeBytes(of: &a.c_cc) { x in withUnsafeBytes(of: &b.c_cc) { y in Array(x) == Array(y) } }
        return modes && characters
    }

    /// Runs the COM1 loop on a pty with a disk and a 9p share attached,
    /// sends `signal` once output flows, and checks the way out. With
    /// `drain` false nobody reads the pty: lkvm's console writes block.
    func signalDuringConsoleOutput(_ signal: Int32, drain: Bool, stderrOnTerminal: Bool = false) throws {
        let pty = try PTY()
        defer { pty.close() }
        let before = pty.mode
        XCTAssertNotEqual(before.c_lflag & tcflag_t(ICANON), 0, "the terminal starts in canonical mode")

        let kernel = scratch.appendingPathComponent("com1-loop")
        try Data(TinyBzImage.build(code: Self.com1Loop)).write(to: kernel)
        let disk = scratch.appendingPathComponent("disk.img")
        let diskBytes = (0..<(64 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(diskBytes).write(to: disk)
        let share = scratch.appendingPathComponent("share")
        try FileManager.default.createDirectory(at: share, withIntermediateDirectories: true)
        let tmp = scratch.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        let entriesBefore = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLITestBinary.path)
        process.arguments = ["run", "-k", kernel.path, "-c", "2", "-d", disk.path, "--9p", share.path, "--rng"]
        process.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": tmp.path]) { $1 }
        let terminalHandle = FileHandle(fileDescriptor: pty.terminal, closeOnDealloc: false)
        process.standardInput = terminalHandle
        process.standardOutput = terminalHandle
        let errURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardError = stderrOnTerminal ? terminalHandle : err
        try process.run()
        try? err.close()

        // The guest's output, read from the controller side (or left to fill the pty).
        let received = LockedCount()
        let controller = pty.controller
        var first = [UInt8](repeating: 0, count: 4096)
        var polled = pollfd(fd: controller, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&polled, 1, 5000), 1, "the guest writes to COM1")
        let firstCount = read(controller, &first, first.count)
        XCTAssertGreaterThan(firstCount, 0)
        XCTAssertTrue(first.prefix(max(firstCount, 0)).contains(UInt8(ascii: "x")), "the guest's output arrives")
        XCTAssertFalse(Self.sameMode(pty.mode, before), "lkvm put the terminal in raw mode")
        if drain {
            Thread.detachNewThread {
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = read(controller, &buffer, buffer.count)
                    if count <= 0 { return }
                    received.add(count)
                }
            }
            usleep(200_000)
        } else {
            usleep(500_000)  // long enough for the pty's buffer to fill
        }

        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        let hung = process.isRunning
        if hung {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        let context = "signal \(signal), \(drain ? "output drained" : "output blocked")\(stderrOnTerminal ? ", stderr too" : ""): \(stderr)"
        XCTAssertFalse(hung, "lkvm did not stop, \(context)")
        XCTAssertEqual(process.terminationReason, .exit, context)
        XCTAssertEqual(process.terminationStatus, 128 + signal, context)
        if !stderrOnTerminal { XCTAssertTrue(stderr.contains("stopped by signal \(signal)"), context) }
        XCTAssertTrue(Self.sameMode(pty.mode, before), "the terminal mode is restored, \(context)")
        XCTAssertEqual(try Data(contentsOf: disk), Data(diskBytes), "the disk image is intact, \(context)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "nothing left in TMPDIR, \(context)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: share.path), [], "nothing left in the share")
        let entriesAfter = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
        XCTAssertEqual(entriesAfter, (entriesBefore + ["stderr"]).sorted(), "no file or socket left beside the inputs")
        if drain { XCTAssertGreaterThan(received.value, 0, "output kept flowing until the signal") }
    }

    func testSIGTERMDuringConsoleOutput() throws { try signalDuringConsoleOutput(SIGTERM, drain: true) }
    func testSIGINTDuringConsoleOutput() throws { try signalDuringConsoleOutput(SIGINT, drain: true) }
    func testSIGTERMWhileConsoleOutputIsBlocked() throws { try signalDuringConsoleOutput(SIGTERM, drain: false) }
    func testSIGINTWhileConsoleOutputIsBlocked() throws { try signalDuringConsoleOutput(SIGINT, drain: false) }
    /// stderr on the same full terminal: lkvm's last line cannot get out either.
    func testSIGTERMWhileConsoleAndStderrAreBlocked() throws {
        try signalDuringConsoleOutput(SIGTERM, drain: false, stderrOnTerminal: true)
    }
}

/// A byte counter shared with the draining thread.
final class LockedCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int) { lock.lock(); count += n; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
