import Foundation
import XCTest
@testable import ArchARM64
import LKVMCore
import LKVMDevices

enum ARM64Fixtures {
    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }  // Tests/ARM64Tests/x.swift → repo
        return url.path
    }()

    /// The first 4 KiB of Debian's vmlinuz-6.1.0-57-cloud-arm64 (bookworm
    /// 6.1.192-3), a raw Image: text_offset 0, image_size 0x1ab0000, flags 0xa.
    static func debianImageHead() throws -> [UInt8] {
        let path = repositoryRoot + "/Tests/ARM64Tests/Fixtures/debian-6.1.0-57-cloud-arm64-image-first-4k.bin"
        let data = try XCTUnwrap(FileManager.default.contents(atPath: path), "missing fixture \(path)")
        return [UInt8](data)
    }

    /// A small valid little-endian Image: 64-byte header, `size` bytes in all.
    static func syntheticImage(size: Int = 0x10000, textOffset: UInt64 = 0, imageSize: UInt64 = 0x20000,
                               flags: UInt64 = 0xA) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        put(textOffset, at: 8, in: &bytes)
        put(imageSize, at: 16, in: &bytes)
        put(flags, at: 24, in: &bytes)
        bytes.replaceSubrange(56..<60, with: Array("ARM".utf8) + [0x64])
        return bytes
    }

    static func put(_ value: UInt64, at offset: Int, in bytes: inout [UInt8]) {
        for index in 0..<8 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    static func board(_ name: String) throws -> Board {
        try BoardCatalog.resolve(nameOrPath: name, architecture: .arm64, searchDirectories: [repositoryRoot + "/Boards"])
    }

    /// A boot plan for `board` with the Debian Image header padded to a 4 MiB kernel.
    static func plan(board name: String, cpus: Int = 1, memMiB: Int = 256, initrd: [UInt8]? = nil,
                     virtio: Int = 0, transport: VirtioTransport = .mmio, params: String = "",
                     seed: [UInt8]? = nil) throws -> ARM64BootPlan {
        var kernel = try debianImageHead()
        kernel += [UInt8](repeating: 0, count: (4 << 20) - kernel.count)
        let config = ARM64MachineConfig(board: try board(name), memMiB: memMiB, cpus: cpus, kernel: kernel,
                                        initrd: initrd, params: params,
                                        virtio: (0..<virtio).map { _ in VirtioRNG() }, virtioTransport: transport,
                                        seed: seed)
        return try ARM64BootPlan(config: config)
    }
}

/// The typed error `body` throws, or nil with a test failure.
func thrownError<E: Error, T>(_: E.Type, file: StaticString = #filePath, line: UInt = #line,
                              _ body: () throws -> T) -> E? {
    do {
        _ = try body()
        XCTFail("expected an error", file: file, line: line)
    } catch let error as E {
        return error
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
    return nil
}
