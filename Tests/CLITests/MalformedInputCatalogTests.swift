import Foundation
import Glibc
import XCTest

/// Runs every case of MalformedInputCatalog through the real `lkvm` binary:
/// one `lkvm: error:` line holding the case's fragments, an exit status from
/// 1 to 127 (no signal), nothing on stdout, within a deadline (a hang is
/// killed and reported), and every input file byte-for-byte and mode as it
/// was (sha256sum of the case's workspace before and after).
final class MalformedInputCatalogTests: XCTestCase {
    static let deadline: TimeInterval = 20

    struct Outcome {
        let status: Int32
        let signalled: Bool
        let hung: Bool
        let stdout: String
        let stderr: String
    }

    /// lkvm with a deadline; stdout/stderr go to files so that a hung child
    /// cannot block the test on a full pipe.
    static func runLKVM(_ arguments: [String], asUser user: String?) throws -> Outcome {
        let process = Process()
        if let user {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(user)", "--regid=\(user)", "--clear-groups", CLITestBinary.path] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: CLITestBinary.path)
            process.arguments = arguments
        }
        let outputs = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-catalog-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outputs) }
        let outURL = outputs.appendingPathComponent("stdout"), errURL = outputs.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let end = Date().addingTimeInterval(deadline)
        while process.isRunning && Date() < end { usleep(5_000) }
        let hung = process.isRunning
        if hung { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                       hung: hung,
                       stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "<unreadable>",
                       stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "<not UTF-8>")
    }

    /// "sha256 mode path" of every file under `directory`, sorted.
    static func fingerprint(_ directory: URL) throws -> [String] {
        var lines: [String] = []
        let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            var info = stat()
            guard lstat(url.path, &info) == 0 else { continue }
            var line = "\(String(info.st_mode, radix: 8)) \(info.st_size) \(url.lastPathComponent)"
            if info.st_mode & S_IFMT == S_IFREG { line += " " + (try sha256(url.path)) }
            lines.append(line)
        }
        return lines.sorted()
    }

    static func sha256(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(text.prefix(64))
    }

    /// Who runs the unprivileged cases: nil when the tests are not root
    /// (those cases are skipped: the caller would own the files).
    static let unprivilegedUser: String? = {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return nil }
        return "65534"
    }()

    func testTheCatalogueHasAtLeastThirtyNamedCases() {
        let names = MalformedCLICase.all.map(\.name)
        XCTAssertGreaterThanOrEqual(names.count, 30)
        XCTAssertEqual(Set(names).count, names.count, "case names are unique")
    }

    func testBzImageKernels() throws { try runGroup(.bzImage) }
    func testARM64Images() throws { try runGroup(.arm64Image) }
    func testBoardFiles() throws { try runGroup(.board) }
    func testDiskImages() throws { try runGroup(.disk) }
    func testOptions() throws { try runGroup(.option) }

    func runGroup(_ group: MalformedCLICase.Group) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum") else {
            print("skipping the malformed-input catalogue: no /usr/bin/sha256sum to hash the inputs")
            throw XCTSkip("no /usr/bin/sha256sum")
        }
        XCTAssertFalse(MalformedInputWorkspace.arm64Image.isEmpty, "the arm64 Image fixture is missing")
        for entry in MalformedCLICase.all where entry.group == group {
            try check(entry)
        }
    }

    func check(_ entry: MalformedCLICase) throws {
        var user: String?
        if entry.unprivileged {
            guard let unprivileged = Self.unprivilegedUser else {
                print("skipping catalogue case '\(entry.name)': needs root and setpriv to run lkvm as another user")
                return
            }
            user = unprivileged
        }
        let workspace = try MalformedInputWorkspace()
        let arguments: [String]
        do { arguments = try entry.arguments(workspace) } catch {
            return XCTFail("\(entry.name): cannot build the input: \(error)")
        }
        let before = try Self.fingerprint(workspace.directory)
        let outcome = try Self.runLKVM(arguments, asUser: user)
        let context = "\(entry.name) (lkvm \(arguments.map { $0.count > 60 ? String($0.prefix(57)) + "..." : $0 }.joined(separator: " ")))"
        XCTAssertFalse(outcome.hung, "\(context): still running after \(Self.deadline) s (killed)")
        XCTAssertFalse(outcome.signalled, "\(context): killed by signal \(outcome.status): \(outcome.stderr)")
        XCTAssertTrue((1..<128).contains(outcome.status), "\(context): exit status \(outcome.status): \(outcome.stderr)")
        XCTAssertEqual(outcome.stdout, "", "\(context): stdout")
        let lines = outcome.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 2, "\(context): one error line, got: \(outcome.stderr)")
        XCTAssertEqual(lines.last, "", "\(context): the line ends with a newline")
        let message = String(lines.first ?? "")
        XCTAssertTrue(message.hasPrefix("lkvm: error: "), "\(context): \(message)")
        for fragment in entry.expected {
            XCTAssertTrue(message.contains(fragment), "\(context): '\(message)' lacks '\(fragment)'")
        }
        XCTAssertEqual(try Self.fingerprint(workspace.directory), before, "\(context): an input file changed")
        Self.record(entry, message)
    }

    /// LKVM_CATALOGUE_TABLE=FILE appends "group<TAB>case<TAB>answer" lines:
    /// the source of docs/malformed-inputs.md.
    static func record(_ entry: MalformedCLICase, _ answer: String) {
        guard let path = ProcessInfo.processInfo.environment["LKVM_CATALOGUE_TABLE"],
              let handle = FileHandle(forWritingAtPath: path) ?? {
                  _ = FileManager.default.createFile(atPath: path, contents: nil)
                  return FileHandle(forWritingAtPath: path)
              }() else { return }
        handle.seekToEndOfFile()
        handle.write(Data("cli\t\(entry.group.rawValue)\t\(entry.name)\t\(answer)\n".utf8))
        try? handle.close()
    }
}
