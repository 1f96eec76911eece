import LKVMCore
@testable import LKVMDevices
import Synchronization
import XCTest

/// Collects trace lines, as the CLI's stderr sink would print them.
final class TraceLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    var sink: @Sendable (String) -> Void { { line in self.lines.withLock { $0.append(line) } } }
    func clear() { lines.withLock { $0 = [] } }
}

/// `--trace-virtio`: virtio-rng behind the mmio transport, brought up the
/// way Linux does, with a tracer collecting lines.
final class VirtioTraceTests: XCTestCase {
    private var lines: TraceLines!
    private var memory: GuestMemory!
    private var ring: FakeGuestRing!
    private var transport: VirtioMMIOTransport!

    override func setUp() {
        lines = TraceLines()
        memory = makeGuestMemory()
        ring = FakeGuestRing(memory: memory, size: 8)
    }

    private func attach(_ device: any VirtioDevice, selection: VirtioTraceSelection = .all) {
        let tracer = selection.tracer(for: device, transportName: "virtio-mmio0", sink: lines.sink)
        transport = VirtioMMIOTransport(device: device, memory: memory, line: RecordingInterruptLine(),
                                        name: "virtio-mmio0", tracer: tracer)
    }

    private func write(_ offset: UInt64, _ value: UInt32) {
        transport.write(offset: offset, size: 4, value: UInt64(value))
    }

    /// FakeMMIODriver's bring-up (Linux's order) on the traced transport.
    private func bringUp(features: UInt64) {
        write(MMIO.status, 0)
        write(MMIO.status, Status.acknowledge)
        write(MMIO.status, Status.acknowledge | Status.driver)
        write(MMIO.driverFeaturesSel, 1)
        write(MMIO.driverFeatures, UInt32(truncatingIfNeeded: features >> 32))
        write(MMIO.driverFeaturesSel, 0)
        write(MMIO.driverFeatures, UInt32(truncatingIfNeeded: features))
        write(MMIO.status, Status.acknowledge | Status.driver | Status.featuresOK)
        write(MMIO.queueSel, 0)
        write(MMIO.queueNum, UInt32(ring.size))
        for (low, address) in [(MMIO.queueDescLow, ring.addresses.descriptorTable),
                               (MMIO.queueDriverLow, ring.addresses.availableRing),
                               (MMIO.queueDeviceLow, ring.addresses.usedRing)] {
            write(low, UInt32(truncatingIfNeeded: address.raw))
            write(low + 4, UInt32(truncatingIfNeeded: address.raw >> 32))
        }
        write(MMIO.queueReady, 1)
        write(MMIO.status, Status.acknowledge | Status.driver | Status.featuresOK | Status.driverOK)
    }

    private func bringUpRNG(features: UInt64 = Feature.version1 | Feature.indirect) {
        attach(VirtioRNG(entropy: CountingEntropy()))
        bringUp(features: features)
        lines.clear()
    }

    func testBringUpTracesStatusFeaturesAndQueueSetup() {
        attach(VirtioRNG(entropy: CountingEntropy()))
        bringUp(features: Feature.version1 | Feature.eventIndex)
        XCTAssertEqual(lines.all, [
            "virtio-mmio0 (rng): reset (status 0)",
            "virtio-mmio0 (rng): status ACKNOWLEDGE (0x1)",
            "virtio-mmio0 (rng): status ACKNOWLEDGE|DRIVER (0x3)",
            "virtio-mmio0 (rng): features 0x120000000 EVENT_IDX|VERSION_1 (not taken: INDIRECT_DESC)",
            "virtio-mmio0 (rng): status ACKNOWLEDGE|DRIVER|FEATURES_OK (0xb)",
            "virtio-mmio0 (rng): q0 ready size 8 desc 0x1000 avail 0x1080 used 0x1098",
            "virtio-mmio0 (rng): status ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK (0xf)",
        ])
        XCTAssertEqual(ring.addresses.usedRing, GuestAddress(0x1098))
    }

    func testRefusedFeaturesSayWhy() {
        attach(VirtioRNG(entropy: CountingEntropy()))
        bringUp(features: Feature.indirect)
        XCTAssertTrue(lines.all.contains(
            "virtio-mmio0 (rng): features 0x10000000 INDIRECT_DESC refused (no VERSION_1); FEATURES_OK stays clear"))
        XCTAssertTrue(lines.all.contains("virtio-mmio0 (rng): DEVICE_NEEDS_RESET: DRIVER_OK without FEATURES_OK"))
    }

    func testEachRequestTracesNotifyChainUsedLengthAndInterrupt() throws {
        bringUpRNG()
        ring.setDescriptor(0, address: 0x10000, length: 16, flags: Desc.next, next: 1)
        ring.setDescriptor(1, address: 0x11000, length: 32, flags: Desc.write)
        ring.makeAvailable(0)
        write(MMIO.queueNotify, 0)
        XCTAssertEqual(lines.all, [
            "virtio-mmio0 (rng): q0 notify",
            "virtio-mmio0 (rng): q0 head 0: [R 16 @0x10000] [W 32 @0x11000]",
            "virtio-mmio0 (rng): q0 used head 0 len 32",
            "virtio-mmio0 (rng): q0 interrupt",
        ])
        XCTAssertEqual(ring.usedEntry(0).length, 32, "tracing changes nothing")
    }

    func testIndirectTablesAndZeroLengthDescriptorsAreShown() {
        bringUpRNG()
        ring.setDescriptor(5, address: 0x20000, length: 32, flags: Desc.indirect)
        ring.setDescriptor(0, address: 0x12000, length: 8, flags: Desc.write | Desc.next, next: 1, table: 0x20000)
        ring.setDescriptor(1, address: 0x13000, length: 0, flags: Desc.write, table: 0x20000)
        ring.makeAvailable(5)
        write(MMIO.queueNotify, 0)
        XCTAssertTrue(lines.all.contains(
            "virtio-mmio0 (rng): q0 head 5: indirect @0x20000 (2 descriptors): [W 8 @0x12000] [W 0 @0x13000]"),
            "\(lines.all)")
        XCTAssertTrue(lines.all.contains("virtio-mmio0 (rng): q0 used head 5 len 8"))
    }

    func testASuppressedInterruptIsTraced() {
        bringUpRNG()
        ring.setAvailableFlags(1)  // VIRTQ_AVAIL_F_NO_INTERRUPT
        ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write)
        ring.makeAvailable(0)
        write(MMIO.queueNotify, 0)
        XCTAssertEqual(lines.all.last, "virtio-mmio0 (rng): q0 no interrupt: driver set VIRTQ_AVAIL_F_NO_INTERRUPT")
    }

    func testARejectedChainIsShownThenTheResetReason() {
        bringUpRNG()
        ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 1)
        ring.setDescriptor(1, address: 0x10004, length: 4, flags: Desc.write | Desc.next, next: 0)
        ring.makeAvailable(0)
        write(MMIO.queueNotify, 0)
        write(MMIO.queueNotify, 0)
        let loop = Array(repeating: "[W 4 @0x10000] [W 4 @0x10004]", count: 4).joined(separator: " ")
        XCTAssertEqual(lines.all, [
            "virtio-mmio0 (rng): q0 notify",
            "virtio-mmio0 (rng): q0 head 0 rejected: \(loop)",
            "virtio-mmio0 (rng): DEVICE_NEEDS_RESET: queue 0: descriptor chain longer than 8: it loops",
            "virtio-mmio0 (rng): q0 notify ignored: the device needs a reset",
        ])
    }

    func testNotificationsBeforeDriverOKOrForMissingQueuesAreMarkedIgnored() {
        attach(VirtioRNG(entropy: CountingEntropy()))
        write(MMIO.queueNotify, 0)
        bringUp(features: Feature.version1)
        lines.clear()
        write(MMIO.queueNotify, 3)
        XCTAssertEqual(lines.all, ["virtio-mmio0 (rng): q3 notify ignored: no such queue"])
    }

    func testResetIsTraced() {
        bringUpRNG()
        write(MMIO.status, 0)
        XCTAssertEqual(lines.all, ["virtio-mmio0 (rng): reset (status 0)"])
    }

    func testAnUnselectedDeviceEmitsNothingAndBehavesTheSame() throws {
        attach(VirtioRNG(entropy: CountingEntropy()), selection: try VirtioTraceSelection(parsing: "blk"))
        bringUp(features: Feature.version1)
        ring.setDescriptor(0, address: 0x10000, length: 32, flags: Desc.write)
        ring.makeAvailable(0)
        write(MMIO.queueNotify, 0)
        XCTAssertEqual(lines.all, [])
        XCTAssertEqual(ring.usedIndex, 1)
        XCTAssertEqual(ring.usedEntry(0).length, 32)
        XCTAssertEqual(try memory.read(4, at: GuestAddress(0x10000)), [1, 2, 3, 4])
    }

    func testDeviceNotesAndInterruptsFromTheDevice() throws {
        let device = EchoDevice()
        attach(device)
        bringUp(features: Feature.version1)
        lines.clear()
        var queue = try XCTUnwrap(device.record.withLock { $0.queues[0] })
        ring.setDescriptor(2, address: 0x10000, length: 16)
        ring.makeAvailable(2)
        let chain = try XCTUnwrap(try queue.nextChain())
        XCTAssertTrue(chain.isTraced)
        chain.traceNote("IN sector 2048 x8 -> OK")
        device.record.withLock { $0.interrupt }?.signalConfigChange()
        let label = "virtio-mmio0 (\(consoleLabel))"
        XCTAssertEqual(lines.all, [
            "\(label): q0 head 2: [R 16 @0x10000]",
            "\(label): q0 note head 2: IN sector 2048 x8 -> OK",
            "\(label): config interrupt",
        ])
    }

    /// EchoDevice claims to be a console: labelled by the catalog's name for
    /// that type once the console device has one.
    private var consoleLabel: String {
        VirtioDeviceCatalog.entries.first { $0.type == .console }?.name ?? "type 3"
    }

    func testAnUntracedChainNeverBuildsItsNote() throws {
        var queue = try VirtQueue(size: 8, deviceMaxSize: 8, addresses: ring.addresses,
                                  features: Feature.version1, memory: memory)
        ring.setDescriptor(0, address: 0x10000, length: 16)
        ring.makeAvailable(0)
        let chain = try XCTUnwrap(try queue.nextChain())
        XCTAssertFalse(chain.isTraced)
        chain.traceNote({ XCTFail("note built without a tracer"); return "" }())
    }
}

/// `--trace-virtio LIST` parsing and the line formats.
final class VirtioTraceSelectionTests: XCTestCase {
    func testAllAndNamesFromTheCatalog() throws {
        XCTAssertEqual(try VirtioTraceSelection(parsing: "all"), .all)
        XCTAssertEqual(try VirtioTraceSelection(parsing: "blk,rng").names, ["blk", "rng"])
        XCTAssertEqual(try VirtioTraceSelection(parsing: " rng ").names, ["rng"])
        XCTAssertEqual(try VirtioTraceSelection(parsing: "rng,rng").names, ["rng"])
    }

    func testUnknownAndEmptyNamesAreClearErrors() {
        let known = VirtioDeviceCatalog.entries.map(\.name)
        XCTAssertThrowsError(try VirtioTraceSelection(parsing: "blk,disk")) { error in
            XCTAssertEqual(error as? VirtioTraceSelectionError, .unknownDevice("disk", known: known))
            XCTAssertEqual("\(error)",
                           "no virtio device is called 'disk' (trace \(known.joined(separator: ", ")) or all)")
        }
        for list in ["", "rng,", ",blk"] {
            XCTAssertThrowsError(try VirtioTraceSelection(parsing: list)) { error in
                XCTAssertEqual(error as? VirtioTraceSelectionError, .emptyName, list)
            }
        }
    }

    func testSelectionMatchesDevicesByTheirCatalogType() throws {
        let rng = VirtioRNG(entropy: CountingEntropy())
        XCTAssertTrue(try VirtioTraceSelection(parsing: "rng").includes(rng))
        XCTAssertFalse(try VirtioTraceSelection(parsing: "blk").includes(rng))
        XCTAssertTrue(VirtioTraceSelection.all.includes(rng))
        XCTAssertNil(try VirtioTraceSelection(parsing: "blk").tracer(for: rng, transportName: "virtio-mmio1") { _ in })
        let tracer = VirtioTraceSelection.all.tracer(for: rng, transportName: "virtio-mmio1") { _ in }
        XCTAssertEqual(tracer?.label, "virtio-mmio1 (rng)")
    }

    func testStatusAndFeatureSpelling() {
        XCTAssertEqual(VirtioTraceFormat.status(0), "0")
        XCTAssertEqual(VirtioTraceFormat.status(0x4F),
                       "ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK|DEVICE_NEEDS_RESET (0x4f)")
        XCTAssertEqual(VirtioTraceFormat.status(0x81), "ACKNOWLEDGE|FAILED (0x81)")
        XCTAssertEqual(VirtioTraceFormat.status(0x11), "ACKNOWLEDGE|0x10 (0x11)")
        XCTAssertEqual(VirtioTraceFormat.features(1 << 2 | 1 << 9 | Feature.version1 | 1 << 41, type: .block),
                       "0x20100000204 SEG_MAX|FLUSH|VERSION_1|bit41")
        XCTAssertEqual(VirtioTraceFormat.features(1 << 2, type: .entropy), "0x4 bit2")
        XCTAssertEqual(VirtioTraceFormat.features(0, type: .entropy), "0x0 none")
    }

    func testLongChainsAreCut() {
        let layout = Array(repeating: VirtioTraceDescriptor.buffer(address: 0x1000, length: 1, writable: true),
                           count: VirtioTraceFormat.maxDescriptorsShown + 3)
        XCTAssertTrue(VirtioTraceFormat.layout(layout).hasSuffix("[W 1 @0x1000] ... (+3 more)"))
        XCTAssertEqual(VirtioTraceFormat.layout([]), "(no descriptors)")
    }
}
