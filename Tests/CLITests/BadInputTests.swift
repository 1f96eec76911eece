import Foundation
import XCTest

/// `lkvm run` with bad input: one `lkvm: error:` line on stderr naming the
/// problem, a non-zero exit, no crash, no stack trace, nothing on stdout.
final class BadInputTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let binary = CLITestBinary.path
    static let fixture = repo.appendingPathComponent("Tests/X86Tests/Fixtures/debian-6.1.0-57-amd64-bzimage-first-24k.bin").path
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = scratch.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    struct Outcome { let status: Int32; let stdout: String; let stderr: String }

    func lkvm(_ arguments: [String], user: String? = nil) throws -> Outcome {
        let process = Process()
        if let user {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(user)", "--regid=\(user)", "--clear-groups", Self.binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = arguments
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Runs lkvm and checks the one-line error contract; returns the line.
    @discardableResult
    func expectError(_ arguments: [String], contains expected: [String], user: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let outcome = try lkvm(arguments, user: user)
        XCTAssertNotEqual(outcome.status, 0, "exit status", file: file, line: line)
        XCTAssertLessThan(outcome.status, 128, "killed by a signal: \(outcome.stderr)", file: file, line: line)
        XCTAssertEqual(outcome.stdout, "", file: file, line: line)
        let lines = outcome.stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertEqual(lines.count, 1, "exactly one line: \(outcome.stderr)", file: file, line: line)
        let message = String(lines.first ?? "")
        XCTAssertTrue(message.hasPrefix("lkvm: error: "), message, file: file, line: line)
        for text in expected {
            XCTAssertTrue(message.contains(text), "'\(message)' should mention '\(text)'", file: file, line: line)
        }
        return message
    }

    func realKernelHead() throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: Self.fixture))) }

    func testMissingKernel() throws {
        try expectError(["run", "-k", "/nonexistent/bzImage"], contains: ["/nonexistent/bzImage", "No such file"])
    }

    func testUnreadableSymbolsFile() throws {
        try expectError(["run", "-k", "/bin/true", "--symbols", "/nonexistent/System.map"],
                        contains: ["--symbols", "/nonexistent/System.map", "No such file"])
    }

    func testKernelThatIsADirectory() throws {
        try expectError(["run", "-k", scratch.path], contains: ["Is a directory"])
        try expectError(["run", "-k", "/dev/null"], contains: ["not a regular file"])
    }

    func testEmptyKernel() throws {
        try expectError(["run", "-k", try file("empty", [])], contains: ["empty"])
    }

    func testTextFileIsNotABzImage() throws {
        try expectError(["run", "-k", try file("notes.txt", Array(String(repeating: "hello\n", count: 200).utf8))],
                        contains: ["not a bzImage"])
    }

    func testELFVmlinuxIsRecognised() throws {
        try expectError(["run", "-k", "/bin/true"], contains: ["ELF"])
    }

    func testGzipFileIsRecognised() throws {
        try expectError(["run", "-k", try file("k.gz", [0x1F, 0x8B, 0x08, 0] + [UInt8](repeating: 0, count: 4096))],
                        contains: ["gzip"])
    }

    func testTruncatedRealKernel() throws {
        let head = try realKernelHead()
        try expectError(["run", "-k", try file("trunc", Array(head.prefix(0x220)))], contains: ["kernel"])
        try expectError(["run", "-k", try file("trunc2", head)], contains: ["truncated"])
    }

    func testMissingInitrd() throws {
        try expectError(["run", "-k", "/bin/true", "-i", "/nonexistent/initrd"], contains: ["initrd", "No such file"])
    }

    func testZeroAndNegativeVCPUs() throws {
        try expectError(["run", "-k", "/bin/true", "-c", "0"], contains: ["-c 0"])
        try expectError(["run", "-k", "/bin/true", "--cpus=-3"], contains: ["-3"])
    }

    func testMoreVCPUsThanTheBoardDescribes() throws {
        try expectError(["run", "-k", "/bin/true", "-c", "300"], contains: ["300"])
    }

    func testTooLittleMemory() throws {
        try expectError(["run", "-k", "/bin/true", "-m", "0"], contains: ["-m 0"])
        try expectError(["run", "-k", "/bin/true", "-m", "8"], contains: ["8"])
    }

    func testNonNumericOption() throws {
        try expectError(["run", "-k", "/bin/true", "-m", "lots"], contains: ["lots"])
    }

    func testUnknownArchitecture() throws {
        try expectError(["run", "-k", "/bin/true", "--arch", "sparc"], contains: ["sparc"])
    }

    func testForeignArchitectureNamesTheLab() throws {
        try expectError(["run", "-k", "/bin/true", "--arch", "arm64"],
                        contains: ["needs an arm64 host with KVM", "lab/arm64/run -- -k /bin/true --arch arm64"])
    }

    func testUnknownBoardListsTheBoards() throws {
        try expectError(["run", "-k", "/bin/true", "--board", "nosuchboard"], contains: ["nosuchboard", "pc"])
    }

    func testBrokenBoardFileNamesFileAndKey() throws {
        let pc = try String(contentsOf: Self.repo.appendingPathComponent("Boards/pc.toml"), encoding: .utf8)
        let broken = try file("broken.toml", Array(pc.replacingOccurrences(of: "irq = 4", with: "irq = 40").utf8))
        try expectError(["run", "-k", "/bin/true", "--board", broken], contains: ["broken.toml", "irq"])
        let syntax = try file("syntax.toml", Array("name = \"x\"\n[ram\nbase = 1\n".utf8))
        try expectError(["run", "-k", "/bin/true", "--board", syntax], contains: ["syntax.toml"])
    }

    func testBadVMName() throws {
        try expectError(["run", "-k", "/bin/true", "--name", "two words"], contains: ["--name", "two words"])
        try expectError(["run", "-k", "/bin/true", "--name", String(repeating: "n", count: 65)], contains: ["--name"])
    }

    func testVirtioTransportChoices() throws {
        try expectError(["run", "-k", "/bin/true", "--virtio-transport", "smoke-signals"], contains: ["smoke-signals"])
        // pci is accepted: the next problem is the kernel.
        try expectError(["run", "-k", "/bin/true", "--rng", "--virtio-transport", "pci"], contains: ["kernel"])
    }

    func testVirtioPCIOnABoardWithoutPCI() throws {
        let pc = try String(contentsOf: Self.repo.appendingPathComponent("Boards/pc.toml"), encoding: .utf8)
        let pciStart = try XCTUnwrap(pc.range(of: "[pci]"))
        let pciEnd = try XCTUnwrap(pc.range(of: "[virtio_mmio]"))
        let noPCI = pc.replacingCharacters(in: pciStart.lowerBound..<pciEnd.lowerBound, with: "")
            .replacingOccurrences(of: "default_transport = \"pci\"", with: "default_transport = \"mmio\"")
        let board = try file("nopci.toml", Array(noPCI.utf8))
        try expectError(["run", "-k", "/bin/true", "--board", board, "--rng", "--virtio-transport", "pci"],
                        contains: ["[pci]", "--virtio-transport mmio"])
    }

    func testVirtioDeviceArgumentsAreCheckedBeforeBoot() throws {
        try expectError(["run", "-k", "/bin/true", "--virtio-transport", "mmio", "--9p", "/nonexistent/share"],
                        contains: ["/nonexistent/share"])
        try expectError(["run", "-k", "/bin/true", "--virtio-transport", "mmio", "-d", "/nonexistent/disk.img"],
                        contains: ["/nonexistent/disk.img"])
        try expectError(["run", "-k", "/bin/true", "--virtio-transport", "mmio", "-d", "x.img,sideways"],
                        contains: ["sideways"])
        try expectError(["run", "-k", "/bin/true", "--console", "virtio"], contains: ["kernel"])
        try expectError(["run", "-k", "/bin/true", "--trace-virtio", "toaster"], contains: ["toaster"])
    }

    func testUnknownConsole() throws {
        try expectError(["run", "-k", "/bin/true", "--console", "telegraph"], contains: ["telegraph"])
    }

    func testInitrdThatDoesNotFit() throws {
        var kernel = try realKernelHead()
        let setup = (Int(kernel[0x1F1]) + 1) * 512
        let syssize = Int(kernel[0x1F4]) | Int(kernel[0x1F5]) << 8 | Int(kernel[0x1F6]) << 16 | Int(kernel[0x1F7]) << 24
        kernel += [UInt8](repeating: 0, count: setup + syssize * 16 - kernel.count)
        let big = try file("big-initrd", [UInt8](repeating: 7, count: 100 << 20))
        try expectError(["run", "-k", try file("bzImage", kernel), "-i", big, "-m", "128"], contains: ["initrd"])
    }

    func testUnknownOptionAndMissingKernel() throws {
        try expectError(["run", "-k", "/bin/true", "--frobnicate"], contains: ["frobnicate"])
        try expectError(["run"], contains: ["kernel"])
    }

    func testKVMNotPermittedSaysWhatToDo() throws {
        guard getuid() == 0, FileManager.default.fileExists(atPath: "/dev/kvm"),
              FileManager.default.fileExists(atPath: "/usr/bin/setpriv") else {
            throw XCTSkip("needs root, /dev/kvm and setpriv to try as an unprivileged user")
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: "/dev/kvm")
        guard let mode = attributes[.posixPermissions] as? Int, mode & 0o006 == 0 else {
            throw XCTSkip("/dev/kvm is world-accessible here")
        }
        var kernel = try realKernelHead()
        let setup = (Int(kernel[0x1F1]) + 1) * 512
        let syssize = Int(kernel[0x1F4]) | Int(kernel[0x1F5]) << 8 | Int(kernel[0x1F6]) << 16 | Int(kernel[0x1F7]) << 24
        kernel += [UInt8](repeating: 0, count: setup + syssize * 16 - kernel.count)
        let path = try file("bzImage", kernel)
        chmod(scratch.path, 0o755)
        chmod(path, 0o644)
        try expectError(["run", "-k", path], contains: ["/dev/kvm", "permission denied", "kvm"], user: "65534")
    }

    func testHelpHasExamples() throws {
        let top = try lkvm(["--help"])
        XCTAssertEqual(top.status, 0)
        XCTAssertTrue(top.stdout.contains("Examples"), top.stdout)
        let run = try lkvm(["run", "--help"])
        XCTAssertEqual(run.status, 0)
        XCTAssertTrue(run.stdout.contains("lkvm run -k"), run.stdout)
        XCTAssertTrue(run.stdout.contains("--kernel"), run.stdout)
    }
}
