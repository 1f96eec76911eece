import Dispatch
import Glibc
import LKVMCore
@testable import LKVMDevices
import LKVMTestSupport
import Synchronization
import XCTest

/// A guest driving virtio-balloon through the mmio transport as Linux's
/// virtio_balloon does: inflateq (0), deflateq (1) and statsq (2), arrays of
/// le32 PFNs, one statistics buffer primed before DRIVER_OK.
final class FakeBalloonGuest {
    static let pfnBuffer: UInt64 = 0x8000
    static let statsBuffer: UInt64 = 0xC000
    static let allFeatures = VirtioBalloonFeature.offered | Feature.indirect | Feature.eventIndex | Feature.version1

    let balloon: VirtioBalloon
    let driver: FakeMMIODriver
    var rings: [FakeGuestRing]
    private var nextDescriptor: [UInt16] = [0, 0, 0]

    init(balloon: VirtioBalloon = VirtioBalloon(), memorySize: UInt64 = 0x10_0000) {
        self.balloon = balloon
        let memory = makeGuestMemory(size: memorySize)
        driver = FakeMMIODriver(device: balloon, memory: memory)
        rings = (0..<3).map { FakeGuestRing(memory: memory, size: 8, base: 0x1000 * (1 + UInt64($0))) }
    }

    var memory: GuestMemory { driver.memory }

    /// Probe, negotiate, the queues, the first statistics buffer, DRIVER_OK.
    func bringUp(features: UInt64 = FakeBalloonGuest.allFeatures, stats: [(UInt16, UInt64)]? = [(4, 1000)]) {
        XCTAssertEqual(driver.probe(), 5)
        XCTAssertTrue(driver.negotiate(features))
        let queueCount = features & VirtioBalloonFeature.statsQueue != 0 ? 3 : 2
        for index in 0..<queueCount {
            driver.ring = rings[index]
            driver.setUpQueue(index: UInt32(index))
        }
        if queueCount == 3, let stats { postStats(stats) }  // init_vqs kicks before DRIVER_OK
        driver.driverOK()
        XCTAssertEqual(driver.status & Status.driverOK, Status.driverOK)
        driver.handleInterrupt()
    }

    /// Puts `bytes` in a device-readable buffer on `queue` and notifies.
    func send(_ bytes: [UInt8], queue: Int, at address: UInt64) {
        try! memory.write(bytes, at: GuestAddress(address))
        let descriptor = nextDescriptor[queue]
        nextDescriptor[queue] = (descriptor + 1) % rings[queue].size
        rings[queue].setDescriptor(descriptor, address: address, length: UInt32(bytes.count))
        rings[queue].makeAvailable(descriptor)
        driver.notify(UInt32(queue))
    }

    func inflate(_ pfns: [UInt32]) { send(Self.encode(pfns), queue: VirtioBalloonQueue.inflate, at: Self.pfnBuffer) }
    func deflate(_ pfns: [UInt32]) { send(Self.encode(pfns), queue: VirtioBalloonQueue.deflate, at: Self.pfnBuffer) }
    func postStats(_ entries: [(UInt16, UInt64)]) {
        send(Self.encode(entries), queue: VirtioBalloonQueue.stats, at: Self.statsBuffer)
    }

    /// virtio_cwrite_le(actual).
    func writeActual(_ pages: UInt32) { driver.write(MMIO.config + 4, pages) }
    var numPages: UInt32 { driver.read(MMIO.config) }
    var actual: UInt32 { driver.read(MMIO.config + 4) }

    func usedCount(_ queue: Int) -> UInt16 { rings[queue].usedIndex }

    /// Waits (at most 30 s) for the device to hand the stats buffer back:
    /// the driver's cue to refill it.
    func waitForStatsBufferReturned() {
        var polls = 0
        while usedCount(2) == 0 && polls < 30_000 {
            usleep(1000)
            polls += 1
        }
    }

    static func encode(_ pfns: [UInt32]) -> [UInt8] {
        pfns.flatMap { pfn in (0..<4).map { UInt8(truncatingIfNeeded: pfn >> (8 * $0)) } }
    }

    static func encode(_ entries: [(UInt16, UInt64)]) -> [UInt8] {
        entries.flatMap { tag, value in
            (0..<2).map { UInt8(truncatingIfNeeded: tag >> (8 * $0)) } + (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
    }
}

/// What Linux's virtio_balloon relies on: pages given back and zeroed,
/// counts that cannot be driven wrong, num_pages and its interrupt, and the
/// statistics handshake.
final class VirtioBalloonTests: XCTestCase {
    private let page = Int(VirtioBalloonPage.size)

    private func skipUnlessHostPagesAre4KiB() throws {
        try XCTSkipIf(GuestMemory.hostPageSize != 4096, "host pages of \(GuestMemory.hostPageSize) bytes: 4 KiB runs are not given back")
    }

    func testItIsDevice5WithThreeFeaturesAndAnEmptyBalloon() {
        let guest = FakeBalloonGuest()
        XCTAssertEqual(guest.driver.probe(), 5)
        XCTAssertEqual(guest.driver.deviceFeatures(), FakeBalloonGuest.allFeatures)
        XCTAssertEqual(VirtioBalloonFeature.offered, 0b111, "MUST_TELL_HOST, STATS_VQ, DEFLATE_ON_OOM")
        guest.bringUp()
        XCTAssertEqual(guest.numPages, 0)
        XCTAssertEqual(guest.actual, 0)
        XCTAssertEqual(guest.driver.read(MMIO.config + 8), 0, "past the configuration space")
    }

    func testInflateZeroesThePagesAndLeavesTheirNeighbours() throws {
        try skipUnlessHostPagesAre4KiB()
        let guest = FakeBalloonGuest()
        guest.bringUp()
        try guest.memory.fill(0xAB, count: 8 * page, at: GuestAddress(0x40000))
        guest.inflate([0x41, 0x42, 0x44])
        XCTAssertEqual(guest.usedCount(0), 1, "the buffer comes back")
        XCTAssertEqual(guest.driver.handleInterrupt(), 1)
        let zeros = [UInt8](repeating: 0, count: page), pattern = [UInt8](repeating: 0xAB, count: page)
        for (pfn, expected) in [(0x40, pattern), (0x41, zeros), (0x42, zeros), (0x43, pattern), (0x44, zeros), (0x45, pattern)] {
            XCTAssertEqual(try guest.memory.read(page, at: GuestAddress(UInt64(pfn) << 12)), expected, "PFN \(pfn)")
        }
        let status = guest.balloon.status
        XCTAssertEqual(status.inflatedPages, 3)
        XCTAssertEqual(status.discardedBytes, 3 * UInt64(page))
        XCTAssertEqual(status.wildPFNs, 0)
        XCTAssertFalse(guest.driver.needsReset)
    }

    func testInflatedMemoryLeavesTheHostProcess() throws {
        try skipUnlessHostPagesAre4KiB()
        let guest = FakeBalloonGuest(memorySize: 0x40_0000)
        guest.bringUp()
        let mapping = try XCTUnwrap(guest.memory.hostMappings.first)
        try guest.memory.fill(0x5A, count: 0x20_0000, at: GuestAddress(0x10_0000))
        try guest.memory.fill(0, count: page, at: GuestAddress(FakeBalloonGuest.pfnBuffer))  // resident before, too
        let before = try XCTUnwrap(residentBytes(of: mapping), "no /proc/self/smaps entry for guest RAM")
        guest.inflate(Array(0x100..<0x200))  // 1 MiB in one buffer of 256 PFNs, as Linux sends them
        let after = try XCTUnwrap(residentBytes(of: mapping))
        XCTAssertEqual(before - after, 0x10_0000, "1 MiB given back to the host")
        XCTAssertEqual(guest.balloon.status.discardedBytes, 0x10_0000)
    }

    func testContiguousPagesAreOneRunAndRunsStopAtGapsAndRAMEnds() throws {
        let memory = try GuestMemory(ranges: [GuestRange(start: GuestAddress(0), size: 0x10000)!,
                                              GuestRange(start: GuestAddress(0x10000), size: 0x10000)!])
        let bytes = FakeBalloonGuest.encode([1, 2, 3, 5, 0xF, 0x10, 0x11, 0x20])
        let list = VirtioBalloonPageList(bytes: bytes, offered: UInt64(bytes.count), memory: memory)
        XCTAssertEqual(list.runs, [GuestRange(start: GuestAddress(0x1000), size: 0x3000)!,
                                   GuestRange(start: GuestAddress(0x5000), size: 0x1000)!,
                                   GuestRange(start: GuestAddress(0xF000), size: 0x1000)!,
                                   GuestRange(start: GuestAddress(0x10000), size: 0x2000)!],
                       "0xF and 0x10 lie in different regions: two madvise calls")
        XCTAssertEqual(list.validPages, 7)
        XCTAssertEqual(list.wildPFNs, 1)
        XCTAssertEqual(list.ignoredBytes, 0)
        XCTAssertEqual(VirtioBalloonPageList.hostPageInterior(GuestRange(start: GuestAddress(0x1000), size: 0x20000)!,
                                                              pageSize: 0x10000),
                       GuestRange(start: GuestAddress(0x10000), size: 0x10000)!, "64 KiB host pages: the whole ones only")
        XCTAssertNil(VirtioBalloonPageList.hostPageInterior(GuestRange(start: GuestAddress(0x1000), size: 0x3000)!,
                                                            pageSize: 0x10000))
    }

    func testWildPFNsAreSkippedAndCountedWithoutHarm() throws {
        try skipUnlessHostPagesAre4KiB()
        let guest = FakeBalloonGuest()
        guest.bringUp()
        try guest.memory.fill(0xAB, count: page, at: GuestAddress(0xFF000))
        guest.inflate([0xFFFF_FFFF, 0x100, 0xFF, 0x1_0000])  // 0x100 is the first PFN past 1 MiB of RAM
        XCTAssertEqual(guest.usedCount(0), 1)
        let status = guest.balloon.status
        XCTAssertEqual(status.wildPFNs, 3)
        XCTAssertEqual(status.inflatedPages, 1)
        XCTAssertEqual(status.discardedBytes, UInt64(page))
        XCTAssertEqual(try guest.memory.read(page, at: GuestAddress(0xFF000)), [UInt8](repeating: 0, count: page))
        XCTAssertFalse(guest.driver.needsReset)
    }

    func testOddLengthsAndHugeArraysAreBoundedAndCounted() {
        let guest = FakeBalloonGuest(memorySize: 0x40_0000)
        guest.bringUp()
        // One PFN and three stray bytes.
        guest.send(FakeBalloonGuest.encode([0x41]) + [1, 2, 3], queue: 0, at: FakeBalloonGuest.pfnBuffer)
        XCTAssertEqual(guest.balloon.status.inflatedPages, 1)
        XCTAssertEqual(guest.balloon.status.ignoredPFNBytes, 3)
        // 2 MiB of PFNs 0xFFFFFFFF: the first 1 MiB is read, the rest ignored.
        try! guest.memory.fill(0xFF, count: 0x20_0000, at: GuestAddress(0x20_0000))
        guest.rings[0].setDescriptor(5, address: 0x20_0000, length: 0x20_0000)
        guest.rings[0].makeAvailable(5)
        guest.driver.notify(0)
        XCTAssertEqual(guest.usedCount(0), 2)
        let status = guest.balloon.status
        XCTAssertEqual(status.wildPFNs, UInt64(VirtioBalloonPageList.maxBytes / 4))
        XCTAssertEqual(status.ignoredPFNBytes, 3 + UInt64(0x20_0000 - VirtioBalloonPageList.maxBytes))
        XCTAssertEqual(status.inflatedPages, 1)
        XCTAssertFalse(guest.driver.needsReset)
    }

    func testAWritableOnlyOrEmptyPFNBufferIsReturnedWithNothingDone() {
        let guest = FakeBalloonGuest()
        guest.bringUp()
        guest.rings[0].setDescriptor(6, address: 0x8000, length: 16, flags: Desc.write)
        guest.rings[0].makeAvailable(6)
        guest.rings[0].setDescriptor(7, address: 0x8000, length: 0)
        guest.rings[0].makeAvailable(7)
        guest.driver.notify(0)
        XCTAssertEqual(guest.usedCount(0), 2)
        XCTAssertEqual(guest.rings[0].usedEntry(0).length, 0)
        XCTAssertEqual(guest.balloon.status.inflatedPages, 0)
        XCTAssertFalse(guest.driver.needsReset)
    }

    func testDeflateIsCountedAndTheCountNeverGoesNegativeOrPastRAM() {
        let guest = FakeBalloonGuest()
        guest.bringUp()
        guest.inflate([0x40, 0x41, 0x42, 0x43])
        guest.deflate([0x40, 0x41])
        XCTAssertEqual(guest.usedCount(1), 1, "with MUST_TELL_HOST the driver waits for this")
        XCTAssertEqual(guest.balloon.status.inflatedPages, 2)
        guest.deflate([0x42, 0x43, 0x44, 0x45, 0x46, 0xFFFF_FFFF])
        XCTAssertEqual(guest.balloon.status.inflatedPages, 0)
        XCTAssertEqual(guest.balloon.status.wildPFNs, 1)
        // The same page 300 times: never more than the guest's 256 pages.
        for _ in 0..<2 { guest.inflate([UInt32](repeating: 0x41, count: 150)) }
        XCTAssertEqual(guest.balloon.status.inflatedPages, 256)
        XCTAssertFalse(guest.driver.needsReset)
    }

    func testATargetChangeRaisesAConfigInterruptAndReadsBackAsNumPages() {
        let guest = FakeBalloonGuest()
        guest.bringUp()
        XCTAssertNoThrow(try guest.balloon.setTarget(mebibytes: 1))
        XCTAssertEqual(guest.driver.handleInterrupt(), 2, "the configuration-change bit")
        XCTAssertEqual(guest.numPages, 256)
        XCTAssertEqual(guest.driver.read(MMIO.configGeneration) & 1, 1)
        XCTAssertNoThrow(try guest.balloon.setTarget(mebibytes: 1))
        XCTAssertEqual(guest.driver.handleInterrupt(), 0, "no change, no interrupt")
        XCTAssertThrowsError(try guest.balloon.setTarget(mebibytes: 2)) {
            XCTAssertEqual($0 as? VirtioBalloonError, .targetTooLarge(mebibytes: 2, limitMebibytes: 1))
        }
        XCTAssertThrowsError(try guest.balloon.setTarget(mebibytes: -1)) {
            XCTAssertEqual($0 as? VirtioBalloonError, .negativeTarget(mebibytes: -1))
        }
        XCTAssertEqual(guest.numPages, 256, "refused targets change nothing")
        guest.writeActual(100)
        guest.driver.write(MMIO.config, 7)  // num_pages is the device's
        XCTAssertEqual(guest.actual, 100)
        XCTAssertEqual(guest.numPages, 256)
        XCTAssertEqual(guest.balloon.status.actualPages, 100)
        XCTAssertEqual(guest.balloon.status.targetPages, 256)
    }

    func testATargetSetBeforeBootIsCutToGuestRAMAtActivation() {
        let balloon = VirtioBalloon()
        XCTAssertNoThrow(try balloon.setTarget(mebibytes: 8))
        XCTAssertThrowsError(try balloon.setTarget(mebibytes: 1 << 24), "num_pages cannot say 16 TiB")
        XCTAssertEqual(balloon.status.targetPages, 8 * 256)
        let guest = FakeBalloonGuest(balloon: balloon)
        guest.bringUp()
        XCTAssertEqual(guest.numPages, 256)
    }

    func testDeflateOnOOMKeepsTheHostsTarget() {
        let guest = FakeBalloonGuest()
        guest.bringUp()
        XCTAssertNoThrow(try guest.balloon.setTarget(mebibytes: 1))
        guest.inflate(Array(0x80..<0x90))
        guest.writeActual(16)
        // The guest ran out of memory and took 8 pages back on its own.
        guest.deflate(Array(0x80..<0x88))
        guest.writeActual(8)
        let status = guest.balloon.status
        XCTAssertEqual(status.targetPages, 256)
        XCTAssertEqual(status.actualPages, 8)
        XCTAssertEqual(status.inflatedPages, 8)
        XCTAssertEqual(guest.numPages, 256)
    }

    func testStatisticsParseKnownTagsAndIgnoreUnknownTagsAndTruncatedEntries() {
        var bytes = FakeBalloonGuest.encode([(4, 0x1234_5678_9ABC), (0x7777, 5), (0, 1), (9, 3), (4, 42), (16, 9)])
        bytes += [5, 0, 1, 2, 3]  // half an entry
        let values = VirtioBalloonStatistics(bytes: bytes).values
        XCTAssertEqual(values.map(\.name), ["swap-in", "free-memory", "hugetlb-failures"])
        XCTAssertEqual(values.map(\.value), [1, 42, 3], "the last entry of a tag wins")
        let everyTag = FakeBalloonGuest.encode((0..<10).map { (UInt16($0), UInt64($0) * 10) })
        XCTAssertEqual(VirtioBalloonStatistics(bytes: everyTag).values.map(\.name),
                       ["swap-in", "swap-out", "major-faults", "minor-faults", "free-memory", "total-memory",
                        "available-memory", "disk-caches", "hugetlb-allocations", "hugetlb-failures"])
        // Entries past the limit are not read.
        let many = FakeBalloonGuest.encode([(UInt16, UInt64)](repeating: (0x7777, 0), count: VirtioBalloonStatistics.maxEntries) + [(5, 1)])
        XCTAssertTrue(VirtioBalloonStatistics(bytes: many).values.isEmpty)
        XCTAssertTrue(VirtioBalloonStatistics(bytes: []).values.isEmpty)
    }

    func testTheFirstStatisticsBufferIsReadAtDriverOKAndKept() {
        let guest = FakeBalloonGuest()
        XCTAssertNil(guest.balloon.status.statsUpdatedAt)
        guest.bringUp(stats: [(4, 1000), (5, 4000)])
        let status = guest.balloon.status
        XCTAssertEqual(status.statistics.map(\.name), ["free-memory", "total-memory"])
        XCTAssertEqual(status.statistics.map(\.value), [1000, 4000])
        XCTAssertNotNil(status.statsUpdatedAt)
        XCTAssertEqual(guest.usedCount(2), 0, "the device keeps the buffer until it wants fresh figures")
    }

    func testARefreshReturnsTheBufferAndTheRefillBringsFreshFigures() {
        let guest = FakeBalloonGuest()
        guest.bringUp(stats: [(4, 1000)])
        XCTAssertFalse(guest.balloon.refreshStatistics(timeoutSeconds: 0), "nobody refilled it yet")
        XCTAssertEqual(guest.usedCount(2), 1)
        XCTAssertEqual(guest.rings[2].usedEntry(0).length, 0)
        XCTAssertEqual(guest.driver.handleInterrupt(), 1)
        guest.postStats([(4, 2000), (6, 3000)])
        let status = guest.balloon.status
        XCTAssertEqual(status.statistics.map(\.value), [2000, 3000])
        XCTAssertEqual(guest.usedCount(2), 1, "the refill is held again")
        // A refresh while the driver has the buffer asks for nothing more.
        XCTAssertFalse(guest.balloon.refreshStatistics(timeoutSeconds: 0))
        XCTAssertFalse(guest.balloon.refreshStatistics(timeoutSeconds: 0))
        XCTAssertEqual(guest.usedCount(2), 2)
    }

    func testARefreshWaitsForTheDriversRefill() {
        let guest = FakeBalloonGuest()
        guest.bringUp(stats: [(4, 1000)])
        let answered = Mutex<Bool?>(nil)
        let done = DispatchSemaphore(value: 0)
        let balloon = guest.balloon
        DispatchQueue.global().async {
            let result = balloon.refreshStatistics(timeoutSeconds: 30)
            answered.withLock { $0 = result }
            done.signal()
        }
        // The driver's side: wait (bounded) for the buffer, then refill it.
        guest.waitForStatsBufferReturned()
        XCTAssertEqual(guest.usedCount(2), 1)
        guest.postStats([(4, 5000)])
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(answered.withLock { $0 }, true)
        XCTAssertEqual(guest.balloon.status.statistics.first?.value, 5000)
    }

    func testAResetEndsAWaitingRefresh() {
        let guest = FakeBalloonGuest()
        guest.bringUp(stats: [(4, 1000)])
        let answered = Mutex<Bool?>(nil)
        let done = DispatchSemaphore(value: 0)
        let balloon = guest.balloon
        DispatchQueue.global().async {
            let result = balloon.refreshStatistics(timeoutSeconds: VirtioBalloon.maxRefreshSeconds)
            answered.withLock { $0 = result }
            done.signal()
        }
        guest.waitForStatsBufferReturned()
        guest.driver.write(MMIO.status, 0)  // the driver goes away instead of refilling
        XCTAssertEqual(done.wait(timeout: .now() + VirtioBalloon.maxRefreshSeconds / 2), .success,
                       "the waiter is not left hanging for the whole timeout")
        XCTAssertEqual(answered.withLock { $0 }, false)
    }

    func testWithoutAStatisticsQueueARefreshAnswersFalseAtOnce() {
        let guest = FakeBalloonGuest()
        XCTAssertFalse(guest.balloon.refreshStatistics(timeoutSeconds: 5), "before the driver runs")
        guest.bringUp(features: Feature.version1 | VirtioBalloonFeature.mustTellHost)
        XCTAssertFalse(guest.balloon.refreshStatistics(timeoutSeconds: 5))
        guest.inflate([0x41])
        XCTAssertEqual(guest.balloon.status.inflatedPages, 1, "the other queues work without it")
    }

    func testASecondStatisticsBufferSendsTheFirstBack() {
        let guest = FakeBalloonGuest()
        guest.bringUp(stats: [(4, 1)])
        guest.send(FakeBalloonGuest.encode([(4, 2)]), queue: 2, at: 0xD000)
        XCTAssertEqual(guest.usedCount(2), 1)
        XCTAssertEqual(guest.rings[2].usedEntry(0).head, 0, "the older buffer")
        XCTAssertEqual(guest.balloon.status.statistics.first?.value, 2)
        // A buffer with nothing readable is fresh (empty) statistics, not an error.
        guest.rings[2].setDescriptor(3, address: 0xD000, length: 20, flags: Desc.write)
        guest.rings[2].makeAvailable(3)
        guest.driver.notify(2)
        XCTAssertTrue(guest.balloon.status.statistics.isEmpty)
        XCTAssertFalse(guest.driver.needsReset)
    }

    func testResetClearsTheGuestsFiguresAndKeepsTheHostsTarget() {
        let guest = FakeBalloonGuest()
        guest.bringUp()
        XCTAssertNoThrow(try guest.balloon.setTarget(mebibytes: 1))
        guest.inflate([0x41, 0x42])
        guest.writeActual(2)
        guest.driver.write(MMIO.status, 0)
        let status = guest.balloon.status
        XCTAssertEqual(status.inflatedPages, 0)
        XCTAssertEqual(status.actualPages, 0)
        XCTAssertTrue(status.statistics.isEmpty)
        XCTAssertNil(status.statsUpdatedAt)
        XCTAssertEqual(status.targetPages, 256)
        XCTAssertFalse(guest.balloon.refreshStatistics(timeoutSeconds: 1), "no queue after a reset")
        XCTAssertNoThrow(try guest.balloon.queueNotified(0), "a reset device has nothing to do")
        try! guest.memory.fill(0, count: 0x3000, at: GuestAddress(0x1000))  // the new driver's fresh rings
        guest.rings = (0..<3).map { FakeGuestRing(memory: guest.memory, size: 8, base: 0x1000 * (1 + UInt64($0))) }
        guest.bringUp()
        XCTAssertEqual(guest.numPages, 256, "the next driver is asked for the same")
    }

    func testTheCatalogBuildsIt() throws {
        let entry = try VirtioDeviceCatalog.entry(named: "balloon")
        XCTAssertEqual(entry.type, .balloon)
        XCTAssertTrue(try entry.make(nil) is VirtioBalloon)
        XCTAssertThrowsError(try entry.make("x"))
        XCTAssertEqual(VirtioTraceFormat.features(0b111, type: .balloon), "0x7 MUST_TELL_HOST|STATS_VQ|DEFLATE_ON_OOM")
    }

    // MARK: Over virtio-pci

    func testOverPCIInflateZeroesPagesAndATargetSendsTheConfigVector() throws {
        try skipUnlessHostPagesAre4KiB()
        let balloon = VirtioBalloon()
        let driver = try FakePCIDriver(device: balloon)
        XCTAssertTrue(driver.probe())
        XCTAssertEqual(driver.config(PCIConfig.deviceID, size: 2), 0x1045)
        XCTAssertTrue(driver.negotiate(FakeBalloonGuest.allFeatures))
        driver.enableMSIX()
        XCTAssertEqual(driver.setConfigVector(0), 0)
        var rings = (0..<3).map { FakeGuestRing(memory: driver.memory, size: 8, base: 0x1000 * (1 + UInt64($0))) }
        for index in 0..<3 { XCTAssertEqual(driver.setUpQueue(UInt16(index), ring: rings[index], vector: UInt16(index + 1)), UInt16(index + 1)) }
        try driver.memory.write(FakeBalloonGuest.encode([(5, 77)]), at: GuestAddress(0xC000))
        rings[2].setDescriptor(0, address: 0xC000, length: 10)
        rings[2].makeAvailable(0)
        driver.notify(2)
        driver.driverOK()
        XCTAssertEqual(balloon.status.statistics.first?.value, 77)

        try driver.memory.fill(0xAB, count: 3 * page, at: GuestAddress(0x40000))
        try driver.memory.write(FakeBalloonGuest.encode([0x41]), at: GuestAddress(0x8000))
        rings[0].setDescriptor(0, address: 0x8000, length: 4)
        rings[0].makeAvailable(0)
        driver.notify(0)
        XCTAssertEqual(rings[0].usedIndex, 1)
        XCTAssertEqual(try driver.memory.read(page, at: GuestAddress(0x41000)), [UInt8](repeating: 0, count: page))
        XCTAssertEqual(try driver.memory.read(page, at: GuestAddress(0x42000)), [UInt8](repeating: 0xAB, count: page))
        XCTAssertEqual(driver.messages, [FakePCIDriver.message(1)])

        try balloon.setTarget(mebibytes: 1)
        XCTAssertEqual(driver.messages.last, FakePCIDriver.message(0))
        let config = try XCTUnwrap(driver.capability(VirtioCfgType.device))
        XCTAssertEqual(config.size, 8)
        XCTAssertEqual(driver.bar(UInt64(config.offset), size: 4), 256)
        driver.setBar(UInt64(config.offset) + 4, size: 4, 1)
        XCTAssertEqual(balloon.status.actualPages, 1)
    }
}
