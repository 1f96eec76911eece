import ArchARM64
import Foundation
import XCTest

/// `lkvm run --dump-dtb FILE` end to end: the device tree a boot would use,
/// written on any host and read back with libfdt.
final class DumpDTBTests: XCTestCase {
    static let imageHead = BadInputTests.repo
        .appendingPathComponent("Tests/ARM64Tests/Fixtures/debian-6.1.0-57-cloud-arm64-image-first-4k.bin").path
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-dtb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = scratch.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// Runs lkvm; returns exit status, stdout and stderr.
    func lkvm(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLITestBinary.path)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// lkvm fails with one `lkvm: error:` line holding every fragment.
    func expectError(_ arguments: [String], contains fragments: [String], line: UInt = #line) throws {
        let outcome = try lkvm(arguments)
        XCTAssertNotEqual(outcome.status, 0, line: line)
        XCTAssertEqual(outcome.stdout, "", line: line)
        XCTAssertTrue(outcome.stderr.hasPrefix("lkvm: error: "), outcome.stderr, line: line)
        XCTAssertEqual(outcome.stderr.filter { $0 == "\n" }.count, 1, outcome.stderr, line: line)
        for fragment in fragments {
            XCTAssertTrue(outcome.stderr.contains(fragment), "\(outcome.stderr) lacks \(fragment)", line: line)
        }
    }

    /// A 4 MiB kernel: the Debian Image header, zero padded.
    func kernel() throws -> String {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.imageHead)))
        bytes += [UInt8](repeating: 0, count: (4 << 20) - bytes.count)
        return try file("Image", bytes)
    }

    func dump(_ arguments: [String]) throws -> FDTReader {
        let output = scratch.appendingPathComponent("out.dtb").path
        let outcome = try lkvm(["run", "--arch", "arm64", "-k", try kernel(), "--dump-dtb", output] + arguments)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        XCTAssertEqual(outcome.stderr, "")
        XCTAssertEqual(outcome.stdout, "")
        return try FDTReader([UInt8](try Data(contentsOf: URL(fileURLWithPath: output))))
    }

    func testDumpsTheTreeOfTheseArguments() throws {
        let initrd = try file("initrd", [UInt8](repeating: 3, count: 1000))
        let fdt = try dump(["-c", "4", "-m", "512", "-i", initrd, "-p", "quiet", "--rng"])
        XCTAssertEqual(fdt.strings("/", "compatible"), ["linux,dummy-virt"])
        XCTAssertEqual(fdt.children("/cpus").count, 4)
        XCTAssertEqual(fdt.cells("/memory@40000000", "reg"), [0, 0x4000_0000, 0, 0x2000_0000])
        XCTAssertEqual(fdt.strings("/chosen", "bootargs"), ["console=ttyAMA0 panic=-1 quiet"])
        let start = try XCTUnwrap(fdt.cells("/chosen", "linux,initrd-start"))
        let end = try XCTUnwrap(fdt.cells("/chosen", "linux,initrd-end"))
        XCTAssertEqual(end[1] - start[1], 1000)
        XCTAssertEqual(fdt.property("/chosen", "kaslr-seed")?.count, 8)
        XCTAssertEqual(fdt.strings("/virtio_mmio@a000000", "compatible"), ["virtio,mmio"])
    }

    func testOtherBoard() throws {
        let fdt = try dump(["--board", "kvmtool-arm64"])
        XCTAssertEqual(fdt.strings("/chosen", "stdout-path"), ["/serial@1000000"])
        XCTAssertTrue(fdt.hasNode("/memory@80000000"))
    }

    func testDumpedTreePassesDTC() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dtc") else {
            throw XCTSkip("dtc not installed (Debian: device-tree-compiler; make deps installs it)")
        }
        _ = try dump(["-c", "2", "--rng"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/dtc")
        process.arguments = ["-I", "dtb", "-O", "dts", "-o", "/dev/null", scratch.appendingPathComponent("out.dtb").path]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertEqual(stderr, "", "dtc warnings")
    }

    func testX86BoardHasNoDeviceTree() throws {
        try expectError(["run", "--board", "pc", "-k", "/bin/true", "--dump-dtb", scratch.appendingPathComponent("x").path],
                            contains: ["--dump-dtb", "x86_64", "no device tree"])
    }

    func testCompressedKernelIsNamed() throws {
        let gzip = try file("vmlinuz", [0x1F, 0x8B, 8, 0] + [UInt8](repeating: 0, count: 100))
        try expectError(["run", "--arch", "arm64", "-k", gzip, "--dump-dtb", scratch.appendingPathComponent("x").path],
                            contains: ["kernel '\(gzip)' is gzip-compressed: decompress it"])
    }

    func testUnwritableOutput() throws {
        try expectError(["run", "--arch", "arm64", "-k", try kernel(), "--dump-dtb", "/nonexistent/dir/x.dtb"],
                            contains: ["--dump-dtb '/nonexistent/dir/x.dtb'", "No such file"])
    }

    func testTooManyVCPUsForTheBoard() throws {
        try expectError(["run", "--arch", "arm64", "-k", try kernel(), "-c", "124", "--dump-dtb", scratch.appendingPathComponent("x").path],
                            contains: ["virt.toml", "at most 123"])
    }
}
