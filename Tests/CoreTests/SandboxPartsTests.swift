import Foundation
@testable import LKVMCore
import XCTest

/// The sandbox's pure parts: initramfs archive, module order, init script,
/// console panic watch, and the outcome lkvm reports.
final class CPIOWriterTests: XCTestCase {
    func testGoldenBytesOfOneFile() {
        var archive = CPIOWriter()
        archive.addFile("a", contents: Array("hi".utf8), permissions: 0o644)
        let bytes = archive.finished()
        let header = "070701" + "00000001" + "000081A4" + "00000000" + "00000000" + "00000001" + "00000000"
            + "00000002" + "00000000" + "00000000" + "00000000" + "00000000" + "00000002" + "00000000"
        XCTAssertEqual(Array(bytes[0..<110]), Array(header.utf8))
        // name "a\0" then padding to 4 (110 + 2 = 112), data "hi" + 2 bytes padding.
        XCTAssertEqual(Array(bytes[110..<116]), [0x61, 0, 0x68, 0x69, 0, 0])
        XCTAssertEqual(bytes.count % 4, 0)
        let trailer = String(decoding: bytes[(116 + 110)...], as: UTF8.self)  // next header's name
        XCTAssertTrue(trailer.hasPrefix("TRAILER!!!\0"), trailer)
    }

    func testCpioListsAndExtractsWhatWasWritten() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/cpio") else {
            throw XCTSkip("no /usr/bin/cpio to check the archive with")
        }
        var archive = CPIOWriter()
        archive.addDirectory("bin")
        archive.addFile("bin/tool", contents: Array("#!/bin/sh\necho tool\n".utf8), permissions: 0o755)
        archive.addFile("odd name.txt", contents: Array(repeating: 0xAB, count: 4097))
        archive.addFile("empty", contents: [])
        archive.addSymlink("link", target: "bin/tool")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-cpio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("a.cpio")
        try Data(archive.finished()).write(to: file)

        XCTAssertEqual(try run(["-t", "--quiet", "-F", file.path], in: directory).split(separator: "\n"),
                       ["bin", "bin/tool", "odd name.txt", "empty", "link"])
        let out = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        _ = try run(["-i", "-d", "--quiet", "--no-absolute-filenames", "-F", file.path], in: out)
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("bin/tool"), encoding: .utf8),
                       "#!/bin/sh\necho tool\n")
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("odd name.txt")),
                       Data(repeating: 0xAB, count: 4097))
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("empty")).count, 0)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: out.appendingPathComponent("link").path),
                       "bin/tool")
        let mode = try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent("bin/tool").path)[.posixPermissions]
        XCTAssertEqual(mode as? Int, 0o755)
    }

    func testACharacterDeviceCarriesItsNumbers() {
        var archive = CPIOWriter()
        archive.addCharacterDevice("dev/console", major: 5, minor: 1)
        let header = String(decoding: archive.finished()[0..<110], as: UTF8.self)
        XCTAssertEqual(Array(header.dropFirst(6)).chunked(8)[1], "00002180")  // S_IFCHR | 0600
        XCTAssertEqual(Array(header.dropFirst(6)).chunked(8)[9], "00000005")
        XCTAssertEqual(Array(header.dropFirst(6)).chunked(8)[10], "00000001")
    }

    private func run(_ arguments: [String], in directory: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/cpio")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "cpio \(arguments)")
        return String(decoding: data, as: UTF8.self)
    }
}

private extension Array where Element == Character {
    func chunked(_ size: Int) -> [String] {
        stride(from: 0, to: count, by: size).map { String(self[$0..<Swift.min($0 + size, count)]) }
    }
}

final class KernelModuleDependenciesTests: XCTestCase {
    /// Lines from Debian 6.1's modules.dep.
    static let debian = """
        kernel/fs/netfs/netfs.ko:
        kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
        kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
        kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
        kernel/drivers/virtio/virtio_ring.ko:
        kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
        kernel/drivers/virtio/virtio_pci_modern_dev.ko:
        kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/net/9p/9pnet.ko:
        kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko

        """

    func testDependenciesComeFirstAndNothingTwice() throws {
        let table = KernelModuleDependencies(modulesDep: Self.debian)
        let order = try table.loadOrder(for: ["virtio_pci", "9pnet_virtio", "9p"])
        XCTAssertEqual(order, [
            "kernel/drivers/virtio/virtio_pci_legacy_dev.ko", "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
            "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
            "kernel/drivers/virtio/virtio_pci.ko", "kernel/net/9p/9pnet.ko", "kernel/net/9p/9pnet_virtio.ko",
            "kernel/fs/netfs/netfs.ko", "kernel/fs/fscache/fscache.ko", "kernel/fs/9p/9p.ko",
        ])
        for (index, path) in order.enumerated() {
            // Every dependency of a module is loaded before it.
            let line = Self.debian.split(separator: "\n").first { $0.hasPrefix(path + ":") }!
            for dependency in line.split(separator: ":")[1...].joined().split(separator: " ") {
                XCTAssertLessThan(order.firstIndex(of: String(dependency))!, index, "\(dependency) before \(path)")
            }
        }
    }

    func testDashesAndUnderscoresAreTheSameName() throws {
        let table = KernelModuleDependencies(modulesDep: Self.debian)
        XCTAssertEqual(try table.loadOrder(for: ["virtio_rng"]).last, "kernel/drivers/char/hw_random/virtio-rng.ko")
        XCTAssertTrue(table.hasModule("9pnet-virtio"))
    }

    func testBuiltinModulesAreSkippedAndUnknownOnesRefused() throws {
        let table = KernelModuleDependencies(modulesDep: "kernel/net/9p/9pnet.ko:\n",
                                             modulesBuiltin: "kernel/fs/9p/9p.ko\nkernel/net/9p/9pnet_virtio.ko\n")
        XCTAssertEqual(try table.loadOrder(for: ["9pnet_virtio", "9p"]), [])
        XCTAssertThrowsError(try table.loadOrder(for: ["no_such_module"])) { error in
            XCTAssertEqual(error as? KernelModuleDependencies.ResolveError, .notFound("no_such_module"))
        }
    }

    func testADependencyWithoutItsOwnLineIsAnError() {
        let table = KernelModuleDependencies(modulesDep: "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko\n")
        XCTAssertThrowsError(try table.loadOrder(for: ["9p"])) { error in
            XCTAssertEqual(error as? KernelModuleDependencies.ResolveError,
                           .missingEntry(path: "kernel/net/9p/9pnet.ko", neededBy: "kernel/fs/9p/9p.ko"))
        }
    }

    func testACycleIsAnErrorNotARecursionWithoutEnd() {
        let table = KernelModuleDependencies(modulesDep: "a.ko: b.ko\nb.ko: c.ko\nc.ko: a.ko\n")
        XCTAssertThrowsError(try table.loadOrder(for: ["a"])) { error in
            XCTAssertEqual(error as? KernelModuleDependencies.ResolveError, .cycle(["a.ko", "b.ko", "c.ko", "a.ko"]))
        }
    }

    func testCompressedNamesKeepTheirModuleName() {
        XCTAssertEqual(KernelModuleDependencies.moduleName(ofPath: "kernel/net/9p/9pnet_virtio.ko.xz"), "9pnet_virtio")
        XCTAssertEqual(KernelModuleDependencies.moduleName(ofPath: "kernel/x/virtio-rng.ko.zst"), "virtio_rng")
    }
}
