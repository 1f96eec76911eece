import Foundation
import XCTest

/// `lkvm sandbox` with bad input: one error line, status 125 (never a
/// status the command could have had... except its own 125), before any VM.
final class SandboxBadInputTests: XCTestCase {
    private let kernel = BadInputTests.fixture
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-sandbox-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = scratch.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// One "lkvm: error:" line naming the problem, nothing on stdout, status 125.
    private func expectSandboxError(_ arguments: [String], contains expected: [String],
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLITestBinary.path)
        process.arguments = ["sandbox"] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 125, stderr, file: file, line: line)
        XCTAssertEqual(stdout.count, 0, file: file, line: line)
        let lines = stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, stderr, file: file, line: line)
        XCTAssertTrue(stderr.hasPrefix("lkvm: error: "), stderr, file: file, line: line)
        for text in expected {
            XCTAssertTrue(stderr.contains(text), "'\(stderr)' should mention '\(text)'", file: file, line: line)
        }
    }

    func testNoCommand() throws {
        try expectSandboxError(["-k", kernel], contains: ["needs a command", "-- COMMAND"])
        try expectSandboxError(["-k", kernel, "--"], contains: ["needs a command"])
    }

    func testMissingOrDynamicBusybox() throws {
        try expectSandboxError(["-k", kernel, "--busybox", "/nonexistent/busybox", "--", "true"],
                               contains: ["needs a static busybox (apt-get install busybox-static)", "/nonexistent/busybox"])
        try expectSandboxError(["-k", kernel, "--busybox", "/usr/bin/env", "--", "true"],
                               contains: ["needs a static busybox", "dynamically linked"])
        try expectSandboxError(["-k", kernel, "--busybox", try file("script", Array("#!/bin/sh\n".utf8)), "--", "true"],
                               contains: ["needs a static busybox", "not an ELF"])
    }

    func testMissingModulesDirectory() throws {
        guard FileManager.default.fileExists(atPath: "/bin/busybox") else { throw XCTSkip("no /bin/busybox") }
        try expectSandboxError(["-k", kernel, "--busybox", "/bin/busybox", "--modules", "/nonexistent/modules", "--", "true"],
                               contains: ["--modules", "/nonexistent/modules"])
        try expectSandboxError(["-k", kernel, "--busybox", "/bin/busybox", "--modules", scratch.path, "--", "true"],
                               contains: ["modules.dep"])
    }

    func testAnInitrdIsRefused() throws {
        try expectSandboxError(["-k", kernel, "-i", kernel, "--", "true"], contains: ["-i", "own initramfs"])
    }
}
