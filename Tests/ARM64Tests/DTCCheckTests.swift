import Foundation
import XCTest
@testable import ArchARM64
import LKVMCore

/// dtc (device-tree-compiler) decompiles every tree lkvm builds without a
/// single warning; skipped with the reason when dtc is not installed.
final class DTCCheckTests: XCTestCase {
    static let dtcPath = ["/usr/bin/dtc", "/usr/local/bin/dtc"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs `dtc -I dtb -O dts` on `bytes`; returns (status, stderr).
    static func decompile(_ bytes: [UInt8]) throws -> (status: Int32, stderr: String) {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-dtc-\(UUID().uuidString).dtb")
        try Data(bytes).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try XCTUnwrap(dtcPath))
        process.arguments = ["-I", "dtb", "-O", "dts", "-o", "/dev/null", input.path]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }

    func testEveryVariantDecompilesWithoutWarnings() throws {
        guard Self.dtcPath != nil else {
            throw XCTSkip("dtc not installed (Debian: device-tree-compiler; make deps installs it)")
        }
        for board in ["virt", "kvmtool-arm64"] {
            for cpus in [1, 4] {
                for initrd in [nil, [UInt8](repeating: 1, count: 5000)] {
                    for (virtio, transport) in [(0, VirtioTransport.mmio), (3, .mmio), (2, .pci)] {
                        let plan = try ARM64Fixtures.plan(board: board, cpus: cpus, initrd: initrd, virtio: virtio,
                                                          transport: transport, seed: [UInt8](repeating: 5, count: 40))
                        let result = try Self.decompile(plan.deviceTree)
                        let variant = "\(board) cpus=\(cpus) initrd=\(initrd != nil) virtio=\(virtio) \(transport)"
                        XCTAssertEqual(result.status, 0, variant)
                        XCTAssertEqual(result.stderr, "", variant)
                    }
                }
            }
        }
    }
}
