import Glibc
@testable import LKVMCore
import Synchronization
import XCTest

/// Answers every request with its verb and counts them.
final class EchoHandler: ControlHandler {
    let requests = Mutex<[ControlRequest]>([])
    func handle(_ request: ControlRequest) -> ControlResponse {
        requests.withLock { $0.append(request) }
        return .success([("verb", .string(request.verb))])
    }
}

final class ControlServerTests: XCTestCase {
    var directory: RunDirectory!

    override func setUpWithError() throws {
        var template = Array("/tmp/lkvm-ctl-XXXXXX".utf8CString)
        let made = try XCTUnwrap(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) })
        directory = RunDirectory(path: String(cString: made))
    }

    override func tearDown() {
        for name in ControlClient.candidateNames(in: directory) {
            unlink(directory.controlSocket(name: name))
            unlink(directory.lockFile(name: name))
        }
        rmdir(directory.path)
    }

    func startServer(_ name: String = "vm1", handler: any ControlHandler = EchoHandler(),
                     clientTimeout: Double = 2) throws -> ControlServer {
        try ControlServer(lock: VMNameLock(directory: directory, name: name), handler: handler,
                          clientTimeout: clientTimeout)
    }

    func testARequestGetsTheHandlersAnswerAndTheSocketIsPrivate() throws {
        let server = try startServer()
        defer { server.shutdown() }
        let response = try ControlClient.send(.pause, directory: directory, name: "vm1")
        XCTAssertEqual(response["verb"], .string("pause"))
        var info = stat()
        XCTAssertEqual(stat(directory.controlSocket(name: "vm1"), &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        XCTAssertEqual(VMNameLock.ownerPID(directory: directory, name: "vm1"), getpid())
    }

    func testASecondVMWithTheSameNameIsRefused() throws {
        let server = try startServer()
        defer { server.shutdown() }
        XCTAssertThrowsError(try VMNameLock(directory: directory, name: "vm1")) { error in
            XCTAssertEqual(error as? ControlServerError, .alreadyRunning(name: "vm1", pid: getpid()))
            XCTAssertEqual("\(error)", "a VM named vm1 is already running (pid \(getpid()))")
        }
        // The running one is untouched.
        XCTAssertEqual(try ControlClient.send(.list, directory: directory, name: "vm1")["verb"], .string("list"))
    }

    func testShutdownRemovesSocketAndLockAndFreesTheName() throws {
        let server = try startServer()
        server.shutdown()
        XCTAssertNotEqual(access(directory.controlSocket(name: "vm1"), F_OK), 0)
        XCTAssertNotEqual(access(directory.lockFile(name: "vm1"), F_OK), 0)
        XCTAssertThrowsError(try ControlClient.send(.list, directory: directory, name: "vm1")) {
            XCTAssertEqual($0 as? ControlClientError, .notRunning(name: "vm1"))
        }
        let again = try startServer()
        again.shutdown()
    }

    func testAStaleSocketWithAFreeLockIsCleanedAndNeverAnswers() throws {
        // What a killed VM leaves: a bound socket nobody listens on and an unlocked lock file.
        let path = directory.controlSocket(name: "dead")
        let fd = try UnixSocket.make()
        XCTAssertEqual(UnixSocket.withAddress(path) { bind(fd, $0, $1) }, 0)
        close(fd)
        let lockFD = open(directory.lockFile(name: "dead"), O_CREAT | O_RDWR, 0o600)
        close(lockFD)
        XCTAssertEqual(ControlClient.candidateNames(in: directory), ["dead"])
        XCTAssertThrowsError(try ControlClient.send(.list, directory: directory, name: "dead")) {
            XCTAssertEqual($0 as? ControlClientError, .notRunning(name: "dead"))
        }
        XCTAssertEqual(ControlClient.candidateNames(in: directory), [])
        // And a new VM may take the name even when the leftovers are still there.
        XCTAssertEqual(UnixSocket.withAddress(path) { bind(try! UnixSocket.make(), $0, $1) }, 0)
        let server = try startServer("dead")
        defer { server.shutdown() }
        XCTAssertEqual(try ControlClient.send(.stat, directory: directory, name: "dead")["verb"], .string("stat"))
    }

    func testGarbageAndOversizedLinesGetErrorsAndTheServerKeepsServing() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown() }
        let garbage = try ControlClient.send(line: Array("\u{00}\u{FF}garbage\n".utf8), directory: directory, name: "vm1")
        guard case .failure(let message) = garbage else { return XCTFail("\(garbage)") }
        XCTAssertTrue(message.contains("malformed JSON"), message)
        let huge = [UInt8](repeating: UInt8(ascii: "["), count: 200_000) + [0x0A]
        let oversized = try ControlClient.send(line: huge, directory: directory, name: "vm1")
        XCTAssertEqual(oversized, .failure("bad request: longer than 65536 bytes"))
        let unknown = try ControlClient.send(line: Array(#"{"version":1,"verb":"fly"}"#.utf8) + [0x0A],
                                             directory: directory, name: "vm1")
        guard case .failure(let unknownMessage) = unknown else { return XCTFail("\(unknown)") }
        XCTAssertTrue(unknownMessage.hasPrefix("unknown verb 'fly'"), unknownMessage)
        XCTAssertEqual(try ControlClient.send(.resume, directory: directory, name: "vm1")["verb"], .string("resume"))
        XCTAssertEqual(handler.requests.withLock { $0 }, [.resume])
    }

    func testAClientThatSendsNothingIsDroppedAndOthersAreServedAfterIt() throws {
        let server = try startServer(clientTimeout: 0.2)
        defer { server.shutdown() }
        let silent = try UnixSocket.make()
        defer { close(silent) }
        XCTAssertEqual(UnixSocket.withAddress(directory.controlSocket(name: "vm1")) { connect(silent, $0, $1) }, 0)
        XCTAssertEqual(try ControlClient.send(.list, directory: directory, name: "vm1")["verb"], .string("list"))
        // The silent client was closed by the server without an answer.
        UnixSocket.setTimeouts(silent, seconds: 5)
        XCTAssertEqual(UnixSocket.readLine(silent, limit: 100), .closed)
    }

    func testAVMThatHoldsItsNameButHasNoSocketYetIsStartingNotStale() throws {
        let lock = try VMNameLock(directory: directory, name: "booting")
        defer { lock.release() }
        XCTAssertThrowsError(try ControlClient.send(.list, directory: directory, name: "booting")) {
            XCTAssertEqual($0 as? ControlClientError, .starting(name: "booting"))
        }
        XCTAssertEqual(access(directory.lockFile(name: "booting"), F_OK), 0, "a live VM's lock file is never cleaned")
    }

    func testTheClientTimesOutOnAVMThatDoesNotAnswer() throws {
        // A listener that never accepts: connect succeeds (backlog), no answer comes.
        let lock = try VMNameLock(directory: directory, name: "stuck")
        defer { lock.release() }
        let fd = try UnixSocket.make()
        defer { close(fd) }
        XCTAssertEqual(UnixSocket.withAddress(directory.controlSocket(name: "stuck")) { bind(fd, $0, $1) }, 0)
        XCTAssertEqual(listen(fd, 4), 0)
        XCTAssertThrowsError(try ControlClient.send(.list, directory: directory, name: "stuck", timeout: 0.2)) {
            XCTAssertEqual($0 as? ControlClientError, .timedOut(name: "stuck"))
        }
    }
}

final class RunDirectoryTests: XCTestCase {
    func testTheEnvironmentPicksTheDirectoryAndForeignHomesAreSkipped() {
        let env = ["LKVM_RUN_DIR": "/r", "XDG_RUNTIME_DIR": "/run/user/5", "HOME": "/home/u"]
        XCTAssertEqual(RunDirectory.resolve(environment: { env[$0] }, isOurs: { _ in true }).path, "/r")
        XCTAssertEqual(RunDirectory.resolve(environment: { $0 == "LKVM_RUN_DIR" ? nil : env[$0] },
                                            isOurs: { _ in true }).path, "/run/user/5/lkvm")
        XCTAssertEqual(RunDirectory.resolve(environment: { $0 == "HOME" ? env[$0] : nil }, isOurs: { _ in true }).path,
                       "/home/u/.lkvm")
        // sudo -u keeps the caller's HOME: not ours, so the per-uid /tmp directory.
        XCTAssertEqual(RunDirectory.resolve(environment: { $0 == "LKVM_RUN_DIR" ? nil : env[$0] },
                                            isOurs: { _ in false }).path, "/tmp/lkvm-\(geteuid())")
    }

    func testPrepareRefusesADirectoryOthersCanEnter() throws {
        let path = "/tmp/lkvm-open-\(getpid())"
        mkdir(path, 0o755)
        chmod(path, 0o755)
        defer { rmdir(path) }
        XCTAssertThrowsError(try RunDirectory(path: path).prepare()) {
            XCTAssertEqual($0 as? RunDirectoryError, .openToOthers(path: path, mode: 0o755))
        }
    }
}
