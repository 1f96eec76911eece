import Foundation
import Glibc
import LKVMCore
@testable import LKVMDevices
import XCTest

/// The guest-side half of the malformed-input catalogue (issue 6): what a
/// hostile or broken guest driver can send, through the fake drivers
/// (VirtioTestDriver.swift, VirtioPCIDriver.swift) and the 9P test client.
/// Every case must end in an error status to the guest (DEVICE_NEEDS_RESET
/// with a configuration interrupt, a virtio-blk status byte, an Rlerror),
/// within a deadline, with no file descriptor left open and no host file
/// changed. The binary's half is MalformedInputCatalog in CLITests;
/// docs/malformed-inputs.md lists both.
struct GuestInputCase: Sendable {
    let group: String
    let name: String
    /// What the guest gets back, for docs/malformed-inputs.md.
    let answer: String
    let run: @Sendable () throws -> Void
}

struct GuestCatalogFailure: Error, CustomStringConvertible {
    let description: String
}

/// Throws (failing the case) unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw GuestCatalogFailure(description: message()) }
}

/// Queue layouts that break the split-virtqueue rules. VirtioHostileGuestTests
/// runs them too (with its own checks).
enum HostileRing {
    typealias Layout = @Sendable (inout FakeGuestRing) -> Void
    static let table: UInt64 = 0x20000

    static let layouts: [(String, Layout)] = [
        ("descriptor loop", { ring in
            ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 1)
            ring.setDescriptor(1, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 0)
            ring.makeAvailable(0)
        }),
        ("descriptor pointing at itself", { ring in
            ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 0)
            ring.makeAvailable(0)
        }),
        ("address outside RAM", { ring in
            ring.setDescriptor(0, address: 0x4000_0000, length: 4, flags: Desc.write)
            ring.makeAvailable(0)
        }),
        ("length running off RAM", { ring in
            ring.setDescriptor(0, address: 0x10000, length: UInt32.max, flags: Desc.write)
            ring.makeAvailable(0)
        }),
        ("address wrapping 64 bits", { ring in
            ring.setDescriptor(0, address: UInt64.max, length: 2, flags: Desc.write)
            ring.makeAvailable(0)
        }),
        ("chain of 4 GiB in total", { ring in
            for index in UInt16(0)..<4 {
                ring.setDescriptor(index, address: 0x10000, length: 0x4000_0000, flags: Desc.write | (index < 3 ? Desc.next : 0),
                                   next: index + 1)
            }
            ring.makeAvailable(0)
        }),
        ("readable after writable", { ring in
            ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 1)
            ring.setDescriptor(1, address: 0x11000, length: 4)
            ring.makeAvailable(0)
        }),
        ("next beyond the table", { ring in
            ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 0xFFFF)
            ring.makeAvailable(0)
        }),
        ("head beyond the table", { ring in ring.makeAvailable(8) }),
        ("indirect inside indirect", { ring in
            ring.setDescriptor(0, address: table, length: 16, flags: Desc.indirect)
            ring.setDescriptor(0, address: table, length: 16, flags: Desc.indirect, table: table)
            ring.makeAvailable(0)
        }),
        ("indirect table with a bad length", { ring in
            ring.setDescriptor(0, address: table, length: 20, flags: Desc.indirect)
            ring.makeAvailable(0)
        }),
        ("indirect table of length 0", { ring in
            ring.setDescriptor(0, address: table, length: 0, flags: Desc.indirect)
            ring.makeAvailable(0)
        }),
        ("indirect table outside RAM", { ring in
            ring.setDescriptor(0, address: 0x4000_0000, length: 16, flags: Desc.indirect)
            ring.makeAvailable(0)
        }),
        ("indirect with next", { ring in
            ring.setDescriptor(0, address: table, length: 16, flags: Desc.indirect | Desc.next, next: 1)
            ring.makeAvailable(0)
        }),
        ("loop inside an indirect table", { ring in
            ring.setDescriptor(0, address: table, length: 32, flags: Desc.indirect)
            ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 1, table: table)
            ring.setDescriptor(1, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 0, table: table)
            ring.makeAvailable(0)
        }),
        ("available index jumping by more than the size", { ring in ring.publishAvailableIndex(100) }),
    ]
}

/// One fake guest driver over either transport: what the catalogue needs.
final class CatalogGuest {
    enum Transport: String, CaseIterable { case mmio, pci }

    let transport: Transport
    private let mmio: FakeMMIODriver?
    private let pci: FakePCIDriver?

    init(_ transport: Transport, device: any VirtioDevice) throws {
        self.transport = transport
        switch transport {
        case .mmio: mmio = FakeMMIODriver(device: device); pci = nil
        case .pci: pci = try FakePCIDriver(device: device); mmio = nil
        }
    }

    var memory: GuestMemory { mmio?.memory ?? pci!.memory }
    var ring: FakeGuestRing {
        get { mmio?.ring ?? pci!.ring }
        set { if let mmio { mmio.ring = newValue } else { pci!.ring = newValue } }
    }

    func bringUp() { if let mmio { mmio.bringUp() } else { pci!.bringUp() } }
    func notify() { if let mmio { mmio.notify() } else { pci!.notify(0) } }
    var needsReset: Bool { mmio?.needsReset ?? pci!.needsReset }

    /// The driver was told its configuration changed (how DEVICE_NEEDS_RESET
    /// reaches it): InterruptStatus bit 1 on mmio, the config vector on pci.
    var configInterruptSent: Bool {
        if let mmio { return mmio.read(MMIO.interruptStatus) & 2 != 0 }
        return pci!.messages.contains(FakePCIDriver.message(0))
    }

    /// The transport still answers register reads.
    var transportAnswers: Bool {
        if let mmio { return mmio.read(MMIO.magic) == 0x7472_6976 }
        return pci!.config(0) & 0xFFFF == 0x1AF4
    }

    /// Reset, a fresh ring at `base`, and the whole bring-up again.
    func startOver(base: UInt64 = 0x40000) {
        ring = FakeGuestRing(memory: memory, size: 8, base: base)
        bringUp()
    }

    /// Chains `buffers` from descriptor 0, publishes it, notifies; true when
    /// the device answered it (the used index moved by one).
    func submit(_ buffers: [VirtioBlockTests.Buffer]) -> Bool {
        let before = ring.usedIndex
        for (index, buffer) in buffers.enumerated() {
            let last = index == buffers.count - 1
            ring.setDescriptor(UInt16(index), address: buffer.address, length: buffer.length,
                               flags: (buffer.writable ? Desc.write : 0) | (last ? 0 : Desc.next), next: UInt16(index + 1))
        }
        ring.makeAvailable(0)
        notify()
        return ring.usedIndex == before &+ 1
    }
}

/// Open file descriptors of this process.
func openFileDescriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// "size sha256-ish" of a file: its bytes, compared whole (small files).
func fileContents(_ path: String) -> [UInt8]? { try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) }

extension GuestInputCase {
    /// Every hostile ring over both transports, on virtio-rng.
    static let virtqueueCases: [GuestInputCase] = CatalogGuest.Transport.allCases.flatMap { transport in
        HostileRing.layouts.map { name, layout in
            GuestInputCase(group: "virtqueue (virtio-rng over \(transport.rawValue))", name: name,
                           answer: "DEVICE_NEEDS_RESET + config interrupt; nothing used; works again after reset") {
                let guest = try CatalogGuest(transport, device: VirtioRNG(entropy: CountingEntropy()))
                guest.bringUp()
                layout(&guest.ring)
                guest.notify()
                try require(guest.needsReset, "DEVICE_NEEDS_RESET is set")
                try require(guest.configInterruptSent, "a configuration interrupt was sent")
                try require(guest.ring.usedIndex == 0, "nothing was answered")
                try require(guest.transportAnswers, "the transport still answers")
                guest.notify()  // ignored until reset
                try require(guest.ring.usedIndex == 0, "notifications are ignored until reset")
                guest.startOver()
                try require(!guest.needsReset, "reset clears DEVICE_NEEDS_RESET")
                guest.ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write)
                guest.ring.makeAvailable(0)
                guest.notify()
                try require(guest.ring.usedIndex == 1 && guest.ring.usedEntry(0).length == 4, "works after reset")
            }
        }
    }

    /// virtio-blk requests that break its rules: a status byte, the image untouched.
    static let blockCases: [GuestInputCase] = CatalogGuest.Transport.allCases.flatMap { transport in
        typealias T = VirtioBlockTests
        let requests: [(String, VirtioBlockStatus, Bool, @Sendable (GuestMemory) -> [T.Buffer])] = [
            ("read beyond the capacity", .ioError, false, { T.layout(header: T.header(type: 0, sector: 7), writableData: [1024], memory: $0) }),
            ("write at sector 2^64-1", .ioError, false, { T.layout(header: T.header(type: 1, sector: .max), readableData: T.pattern(512), memory: $0) }),
            ("read of 100 bytes (not whole sectors)", .ioError, false, { T.layout(header: T.header(type: 0), writableData: [100], memory: $0) }),
            ("header of 8 bytes", .ioError, false, { T.layout(header: Array(T.header(type: 0).prefix(8)), writableData: [512], memory: $0) }),
            ("unknown request type 99", .unsupported, false, { T.layout(header: T.header(type: 99), memory: $0) }),
            ("read into a device-readable buffer", .ioError, false, { T.layout(header: T.header(type: 0), readableData: T.pattern(512), memory: $0) }),
            ("write to a read-only disk", .ioError, true, { T.layout(header: T.header(type: 1), readableData: T.pattern(512, seed: 9), memory: $0) }),
        ]
        return requests.map { name, expected, readOnly, layout in
            GuestInputCase(group: "virtio-blk request (over \(transport.rawValue))", name: name,
                           answer: "status \(expected == .ioError ? "VIRTIO_BLK_S_IOERR" : "VIRTIO_BLK_S_UNSUPP"); image unchanged; queue goes on") {
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-guest-blk-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let path = directory.appendingPathComponent("disk.img").path
                let image = T.pattern(8 * T.sector)
                try Data(image).write(to: URL(fileURLWithPath: path))
                try {
                    let guest = try CatalogGuest(transport, device: try VirtioBlock(path: path, readOnly: readOnly))
                    guest.bringUp()
                    try require(guest.submit(layout(guest.memory)), "the request was answered")
                    let status = try guest.memory.load(UInt8.self, at: GuestAddress(T.statusAddress))
                    try require(status == expected.rawValue, "status \(status), expected \(expected.rawValue)")
                    try require(!guest.needsReset, "the queue goes on")
                }()
                try require(fileContents(path) == image, "the image is unchanged")
            }
        }
    }

    /// 9P requests that try to leave the shared directory or break the protocol.
    static let ninePCases: [GuestInputCase] = {
        typealias Check = @Sendable (NinePTestClient) throws -> Void
        func expectErrno(_ request: NinePRequest, _ code: Int32) -> Check {
            { client in
                let got = try client.errno(request)
                try require(got == code, "errno \(got.map(String.init) ?? "none"), expected \(code)")
            }
        }
        func raw(_ mutate: @escaping @Sendable ([UInt8]) -> [UInt8], _ code: Int32?) -> Check {
            { client in
                let good = NinePMessage(tag: 7, NinePRequest.walk(fid: 0, newFid: 1, names: ["hello.txt"])).encoded()
                let reply = try NinePMessage<NinePReply>(decoding: client.server.handle(mutate(good), replyCapacity: 4096))
                guard case .error(let errno) = reply.body else { throw GuestCatalogFailure(description: "no Rlerror: \(reply.body)") }
                if let code { try require(errno == UInt32(code), "errno \(errno), expected \(code)") }
            }
        }
        let cases: [(String, String, Check)] = [
            ("walk ../../.. from the root", "the walk ends at the root", { client in
                guard case .walk(let qids) = try client.send(.walk(fid: 0, newFid: 1, names: ["..", "..", ".."])),
                      case .attach(let root) = try client.send(.attach(fid: 9, afid: NinePSizes.noFid, uname: "", aname: "", uid: 0))
                else { throw GuestCatalogFailure(description: "no Rwalk") }
                try require(qids.last == root, "'..' above the root is the root")
            }),
            ("walk to '../outside.txt' as one name", "Rlerror", { client in
                try require(try client.errno(.walk(fid: 0, newFid: 1, names: ["../outside.txt"])) != nil, "refused")
            }),
            ("mkdir '/etc'", "Rlerror", { client in
                try require(try client.errno(.mkdir(directoryFid: 0, name: "/etc", mode: 0o755, gid: 0)) != nil, "refused")
            }),
            ("renameat to '../stolen.txt'", "Rlerror EINVAL",
             expectErrno(.renameat(oldDirectoryFid: 0, oldName: "hello.txt", newDirectoryFid: 0, newName: "../stolen.txt"), EINVAL)),
            ("unlinkat '../outside.txt'", "Rlerror EINVAL",
             expectErrno(.unlinkat(directoryFid: 0, name: "../outside.txt", flags: 0), EINVAL)),
            ("open a guest-made symlink to ../outside.txt", "Rlerror ELOOP", { client in
                _ = try client.send(.symlink(fid: 0, name: "evil", target: "../outside.txt", gid: 0))
                _ = try client.send(.walk(fid: 0, newFid: 1, names: ["evil"]))
                let got = try client.errno(.lopen(fid: 1, flags: 2))
                try require(got == ELOOP, "errno \(String(describing: got)), expected ELOOP")
            }),
            ("create through a guest-made symlink to ../outside.txt", "Rlerror ELOOP", { client in
                _ = try client.send(.symlink(fid: 0, name: "evil", target: "../outside.txt", gid: 0))
                let got = try client.errno(.lcreate(fid: 0, name: "evil", flags: 0o1001, mode: 0o644, gid: 0))
                try require(got == ELOOP, "errno \(String(describing: got)), expected ELOOP")
            }),
            ("message cut short", "Rlerror", raw({ Array($0.prefix(12)) }, nil)),
            ("size field larger than the message", "Rlerror EPROTO", raw({ var m = $0; m[0] = 0xFF; return m }, EPROTO)),
            ("unknown message type", "Rlerror EOPNOTSUPP", raw({ var m = $0; m[4] = 99; return m }, EOPNOTSUPP)),
            ("read at offset 2^64-1", "Rlerror EINVAL", { client in
                _ = try client.send(.walk(fid: 0, newFid: 1, names: ["hello.txt"]))
                _ = try client.send(.lopen(fid: 1, flags: 0))
                let got = try client.errno(.read(fid: 1, offset: UInt64.max, count: 10))
                try require(got == EINVAL, "errno \(String(describing: got)), expected EINVAL")
            }),
            ("read of an unknown fid", "Rlerror EBADF", expectErrno(.read(fid: 77, offset: 0, count: 10), EBADF)),
        ]
        return cases.map { name, answer, check in
            GuestInputCase(group: "9p (NinePServer)", name: name, answer: answer + "; nothing outside the share changes") {
                let base = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-guest-9p-\(UUID().uuidString)")
                let shared = base.appendingPathComponent("shared")
                try FileManager.default.createDirectory(at: shared.appendingPathComponent("sub"), withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: base) }
                try Data("hello 9p\n".utf8).write(to: shared.appendingPathComponent("hello.txt"))
                let outside = base.appendingPathComponent("outside.txt").path
                try Data("secret".utf8).write(to: URL(fileURLWithPath: outside))
                try {
                    let client = try NinePTestClient(sharing: shared.path)
                    try client.mount()
                    try check(client)
                }()
                try require(fileContents(outside) == Array("secret".utf8), "outside.txt is unchanged")
                let entries = try FileManager.default.contentsOfDirectory(atPath: base.path).sorted()
                try require(entries == ["outside.txt", "shared"], "nothing appeared outside the share: \(entries)")
            }
        }
    }()

    /// 9P messages through virtio-9p's queue, over both transports: the
    /// reply room and the request bytes are the guest's to get wrong.
    static let ninePQueueCases: [GuestInputCase] = CatalogGuest.Transport.allCases.flatMap { transport in
        let request: @Sendable () -> [UInt8] = {
            NinePMessage(tag: 3, NinePRequest.version(msize: 8192, version: "9P2000.L")).encoded()
        }
        // (name, answer, request bytes, reply room, expected used length or nil for "an Rlerror")
        let cases: [(String, String, [UInt8], UInt32, UInt32?)] = [
            ("reply room of 4 bytes", "used length 0 (no reply fits); the queue goes on", request(), 4, 0),
            ("no reply room at all", "used length 0; the queue goes on", request(), 0, 0),
            ("no request bytes", "Rlerror EPROTO", [], 8192, nil),
            ("size field larger than the message", "Rlerror EPROTO",
             { var bytes = request(); bytes[0] = 0xFF; return bytes }(), 8192, nil),
            ("size field of 0", "Rlerror EPROTO", { var bytes = request(); bytes[0...3] = [0, 0, 0, 0]; return bytes }(), 8192, nil),
        ]
        return cases.map { name, answer, bytes, room, usedLength in
            GuestInputCase(group: "9p through the queue (over \(transport.rawValue))", name: name, answer: answer) {
                let share = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-guest-9pq-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: share, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: share) }
                try {
                    let guest = try CatalogGuest(transport, device: try Virtio9P(sharing: share.path, tag: "share"))
                    guest.bringUp()
                    try guest.memory.write(bytes[...], at: GuestAddress(0x10000))
                    var buffers: [VirtioBlockTests.Buffer] = []
                    if !bytes.isEmpty { buffers.append(.init(address: 0x10000, length: UInt32(bytes.count), writable: false)) }
                    if room > 0 { buffers.append(.init(address: 0x20000, length: room, writable: true)) }
                    try require(guest.submit(buffers), "the request was answered")
                    let used = guest.ring.usedEntry(0).length
                    if let usedLength {
                        try require(used == usedLength, "used length \(used), expected \(usedLength)")
                    } else {
                        let reply = try NinePMessage<NinePReply>(decoding: guest.memory.read(Int(used), at: GuestAddress(0x20000)))
                        try require(reply.body == .error(errno: UInt32(EPROTO)), "reply \(reply.body), expected Rlerror EPROTO")
                    }
                    try require(!guest.needsReset, "the queue goes on")
                    // And a good request after it is answered.
                    let good = request()
                    try guest.memory.write(good[...], at: GuestAddress(0x10000))
                    try require(guest.submit([.init(address: 0x10000, length: UInt32(good.count), writable: false),
                                              .init(address: 0x20000, length: 8192, writable: true)]), "a good request after it")
                }()
                try require(try FileManager.default.contentsOfDirectory(atPath: share.path).isEmpty, "the share is untouched")
            }
        }
    }

    /// virtio-balloon inflateq buffers no honest driver sends, over both
    /// transports: page numbers are guest data like any other.
    static let balloonCases: [GuestInputCase] = CatalogGuest.Transport.allCases.flatMap { transport in
        // (name, answer, PFN bytes (placed at 0x20000, after 0xFF-filling it), wild PFNs, ignored bytes)
        let cases: [(String, String, [UInt8], UInt64, UInt64)] = [
            ("inflate of PFNs outside guest RAM (0x100, 2^32-1)", "skipped and counted; buffer returned; queue goes on",
             [0x00, 0x01, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF], 2, 0),
            ("inflate array of 896 KiB, all wild", "every PFN skipped and counted; buffer returned; queue goes on",
             [UInt8](repeating: 0xFF, count: 0xE0000), 0xE0000 / 4, 0),
            ("inflate of 7 bytes (not whole PFNs)", "one PFN taken, 3 bytes ignored and counted; queue goes on",
             [0x41, 0, 0, 0, 1, 2, 3], 0, 3),
        ]
        return cases.map { name, answer, bytes, wild, ignored in
            GuestInputCase(group: "virtio-balloon inflateq (over \(transport.rawValue))", name: name, answer: answer) {
                let balloon = VirtioBalloon()
                let guest = try CatalogGuest(transport, device: balloon)
                guest.bringUp()
                try guest.memory.fill(0xAB, count: 0x1000, at: GuestAddress(0x10000))
                try guest.memory.write(bytes[...], at: GuestAddress(0x20000))
                try require(guest.submit([.init(address: 0x20000, length: UInt32(bytes.count), writable: false)]),
                            "the buffer was returned")
                let status = balloon.status
                try require(status.wildPFNs == wild, "wild PFNs \(status.wildPFNs), expected \(wild)")
                try require(status.ignoredPFNBytes == ignored, "ignored bytes \(status.ignoredPFNBytes), expected \(ignored)")
                try require(!guest.needsReset, "the queue goes on")
                try require(try guest.memory.read(0x1000, at: GuestAddress(0x10000)) == [UInt8](repeating: 0xAB, count: 0x1000),
                            "other guest pages are untouched")
                try guest.memory.write([0x30, 0, 0, 0], at: GuestAddress(0x20000))
                try require(guest.submit([.init(address: 0x20000, length: 4, writable: false)]), "a good inflate after it")
                try require(balloon.status.inflatedPages == status.inflatedPages + 1, "the good inflate counted")
            }
        }
    }

    static let all: [GuestInputCase] = virtqueueCases + blockCases + ninePCases + ninePQueueCases + balloonCases
}

final class MalformedGuestInputCatalogTests: XCTestCase {
    static let deadline: TimeInterval = 10

    func testTheCatalogueIsLargeAndNamed() {
        XCTAssertGreaterThanOrEqual(GuestInputCase.all.count, 30)
        let names = GuestInputCase.all.map { "\($0.group): \($0.name)" }
        XCTAssertEqual(Set(names).count, names.count, "case names are unique")
    }

    func testVirtqueues() { runCases(GuestInputCase.virtqueueCases) }
    func testVirtioBlockRequests() { runCases(GuestInputCase.blockCases) }
    func testNinePRequests() { runCases(GuestInputCase.ninePCases) }
    func testNinePThroughTheQueue() { runCases(GuestInputCase.ninePQueueCases) }
    func testBalloonInflateBuffers() { runCases(GuestInputCase.balloonCases) }

    /// Each case on its own thread with a deadline (a hang fails the case
    /// instead of the suite), then the descriptor count compared.
    func runCases(_ cases: [GuestInputCase]) {
        for entry in cases {
            let label = "\(entry.group): \(entry.name)"
            let fdsBefore = openFileDescriptorCount()
            let done = DispatchSemaphore(value: 0)
            let result = LockedBox<String?>(nil)
            let thread = Thread {
                do { try entry.run() } catch { result.set("\(error)") }
                done.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
            guard done.wait(timeout: .now() + Self.deadline) == .success else {
                XCTFail("\(label): still running after \(Self.deadline) s (a hang)")
                continue
            }
            if let failure = result.get() { XCTFail("\(label): \(failure)") }
            Self.record(entry)
            XCTAssertEqual(openFileDescriptorCount(), fdsBefore, "\(label): file descriptors leaked")
        }
    }

    /// LKVM_CATALOGUE_TABLE=FILE appends "guest<TAB>group<TAB>case<TAB>answer"
    /// lines: the source of docs/malformed-inputs.md.
    static func record(_ entry: GuestInputCase) {
        guard let path = ProcessInfo.processInfo.environment["LKVM_CATALOGUE_TABLE"] else { return }
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        handle.seekToEndOfFile()
        handle.write(Data("guest\t\(entry.group)\t\(entry.name)\t\(entry.answer)\n".utf8))
        try? handle.close()
    }
}

/// A value shared with a case's thread.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ newValue: Value) { lock.lock(); value = newValue; lock.unlock() }
}
