import Dispatch
import LKVMCore
@testable import LKVMDevices
import LKVMTestSupport
import XCTest

/// MSI-X as Linux's pci_msix code drives it: capability, table, PBA, masking.
final class PCIMSIXVectorsTests: XCTestCase {
    private var controller: FakeMSIController!
    private var vectors: MSIXVectors!
    private var space: PCIConfigSpace!
    private var capability = 0

    override func setUp() {
        controller = FakeMSIController()
        vectors = MSIXVectors(count: 3, tableBAR: 2, tableOffset: 0x1000, pbaBAR: 2, pbaOffset: 0x1800,
                              controller: controller, deviceID: nil)
        space = PCIConfigSpace(vendorID: 0x1AF4, deviceID: 0x1041, revision: 1, classCode: 0x02_00_00,
                               subsystemVendorID: 0x1AF4, subsystemID: 1, interruptPin: 1)
        capability = space.addCapability(vectors)
    }

    private var sent: [MSIMessage] { controller.messages.withLock { $0 } }

    /// What Linux writes: the address, the data, then clears the entry mask.
    private func program(_ vector: Int, address: UInt64, data: UInt32, unmask: Bool = true) {
        let entry = UInt64(vector * 16)
        vectors.writeTable(offset: entry, size: 4, value: address & 0xFFFF_FFFF)
        vectors.writeTable(offset: entry + 4, size: 4, value: address >> 32)
        vectors.writeTable(offset: entry + 8, size: 4, value: UInt64(data))
        if unmask { vectors.writeTable(offset: entry + 12, size: 4, value: 0) }
    }

    private func writeMessageControl(_ value: UInt32) { space.write(offset: capability + 2, size: 2, value: value) }

    func testCapabilityRegistersThroughConfigSpace() {
        XCTAssertEqual(capability, 0x40)
        XCTAssertEqual(space.read(offset: capability, size: 1), 0x11)
        XCTAssertEqual(space.read(offset: capability + 2, size: 2), 2, "table size N-1, disabled, unmasked")
        XCTAssertEqual(space.read(offset: capability + 4, size: 4), 0x1002, "table offset | BIR")
        XCTAssertEqual(space.read(offset: capability + 8, size: 4), 0x1802, "PBA offset | BIR")
        writeMessageControl(0xFFFF)
        XCTAssertEqual(space.read(offset: capability + 2, size: 2), 0xC002, "only enable and function mask are writable")
        XCTAssertTrue(vectors.isEnabled)
        space.write(offset: capability + 3, size: 1, value: 0x80)
        XCTAssertEqual(space.read(offset: capability, size: 4), 0x8002_0011, "byte write to the high half of Message Control")
        space.write(offset: capability + 4, size: 4, value: 0)
        XCTAssertEqual(space.read(offset: capability + 4, size: 4), 0x1002, "offsets are read-only")
        XCTAssertEqual(vectors.tableBytes, 48)
        XCTAssertEqual(vectors.pbaBytes, 8)
    }

    func testEntriesResetMasked() {
        for vector in 0..<3 {
            XCTAssertEqual(vectors.readTable(offset: UInt64(vector * 16 + 12), size: 4), 1)
            XCTAssertEqual(vectors.readTable(offset: UInt64(vector * 16), size: 8), 0)
        }
    }

    func testDisabledSignalReturnsFalseAndSendsNothing() {
        program(0, address: 0xFEE0_0000, data: 0x41)
        XCTAssertFalse(vectors.signal(vector: 0))
        XCTAssertTrue(sent.isEmpty)
        XCTAssertFalse(vectors.isPending(vector: 0), "no pending bits while disabled")
    }

    func testEnabledUnmaskedVectorSendsTheProgrammedMessage() {
        program(1, address: 0x1_FEE0_100C, data: 0x4031)
        writeMessageControl(0x8000)
        XCTAssertTrue(vectors.signal(vector: 1))
        XCTAssertEqual(sent, [MSIMessage(address: 0x1_FEE0_100C, data: 0x4031, deviceID: nil)])
    }

    func testDeviceIDRidesAlongForAnITS() {
        let its = MSIXVectors(count: 1, tableBAR: 0, tableOffset: 0, pbaBAR: 0, pbaOffset: 0x800,
                              controller: controller, deviceID: 0x0018)
        its.writeTable(offset: 0, size: 8, value: 0x0000_0000_0809_0040)
        its.writeTable(offset: 8, size: 8, value: 0x0000_0000_0000_0007)  // data 7, unmasked
        its.write(offset: 2, size: 2, value: 0x8000)
        XCTAssertTrue(its.signal(vector: 0))
        XCTAssertEqual(sent, [MSIMessage(address: 0x0809_0040, data: 7, deviceID: 0x18)])
    }

    func testQwordTableAccesses() {
        vectors.writeTable(offset: 16, size: 8, value: 0x0000_0001_FEE0_0004)
        vectors.writeTable(offset: 24, size: 8, value: 0x0000_0001_0000_0022)
        XCTAssertEqual(vectors.readTable(offset: 16, size: 8), 0x0000_0001_FEE0_0004)
        XCTAssertEqual(vectors.readTable(offset: 24, size: 8), 0x0000_0001_0000_0022)
        XCTAssertEqual(vectors.readTable(offset: 28, size: 4), 1, "still masked")
        XCTAssertEqual(vectors.readTable(offset: 2, size: 2), 0xFFFF, "a word access is undefined")
        XCTAssertEqual(vectors.readTable(offset: 4, size: 8), UInt64.max, "a misaligned qword")
        XCTAssertEqual(vectors.readTable(offset: 48, size: 4), 0xFFFF_FFFF, "past the table")
        vectors.writeTable(offset: 48, size: 4, value: 0)  // ignored, no trap
    }

    func testMaskedVectorGoesPendingAndIsDeliveredWhenTheEntryIsUnmasked() {
        program(2, address: 0xFEE0_0000, data: 0x51, unmask: false)
        writeMessageControl(0x8000)
        XCTAssertTrue(vectors.signal(vector: 2))
        XCTAssertTrue(sent.isEmpty)
        XCTAssertEqual(vectors.readPBA(offset: 0, size: 8), 0b100)
        XCTAssertEqual(vectors.readPBA(offset: 0, size: 4), 0b100)
        XCTAssertEqual(vectors.readPBA(offset: 4, size: 4), 0)
        vectors.writeTable(offset: 2 * 16 + 12, size: 4, value: 0)
        XCTAssertEqual(sent, [MSIMessage(address: 0xFEE0_0000, data: 0x51)])
        XCTAssertEqual(vectors.readPBA(offset: 0, size: 8), 0, "delivered, no longer pending")
        vectors.writeTable(offset: 2 * 16 + 12, size: 4, value: 1)
        vectors.writeTable(offset: 2 * 16 + 12, size: 4, value: 0)
        XCTAssertEqual(sent.count, 1, "unmasking again sends nothing new")
    }

    func testFunctionMaskHoldsVectorsUntilCleared() {
        program(0, address: 0xFEE0_0000, data: 0x60)
        program(1, address: 0xFEE0_1000, data: 0x61)
        writeMessageControl(0xC000)
        XCTAssertTrue(vectors.signal(vector: 0))
        XCTAssertTrue(vectors.signal(vector: 0))
        XCTAssertTrue(vectors.signal(vector: 1))
        vectors.writeTable(offset: 16 + 12, size: 4, value: 1)  // vector 1 masked on its own too
        XCTAssertTrue(sent.isEmpty)
        XCTAssertEqual(vectors.readPBA(offset: 0, size: 8), 0b11)
        writeMessageControl(0x8000)
        XCTAssertEqual(sent, [MSIMessage(address: 0xFEE0_0000, data: 0x60)], "one message per pending bit")
        XCTAssertTrue(vectors.isPending(vector: 1), "still masked by its entry")
        vectors.writeTable(offset: 16 + 12, size: 4, value: 0)
        XCTAssertEqual(sent.last, MSIMessage(address: 0xFEE0_1000, data: 0x61))
        XCTAssertEqual(sent.count, 2)
    }

    func testOutOfRangeAndNoVectorSendNothing() {
        program(0, address: 0xFEE0_0000, data: 1)
        writeMessageControl(0x8000)
        XCTAssertTrue(vectors.signal(vector: 3))
        XCTAssertTrue(vectors.signal(vector: MSIXVectors.noVector))
        XCTAssertTrue(sent.isEmpty)
        XCTAssertEqual(vectors.readPBA(offset: 0, size: 8), 0)
    }

    func testBadPBAAccessesReadAllOnes() {
        XCTAssertEqual(vectors.readPBA(offset: 8, size: 8), UInt64.max, "past the PBA")
        XCTAssertEqual(vectors.readPBA(offset: 1, size: 4), 0xFFFF_FFFF)
    }

    func testPBASpansSeveralQwords() {
        let many = MSIXVectors(count: 70, tableBAR: 0, tableOffset: 0, pbaBAR: 0, pbaOffset: 0x800,
                               controller: controller, deviceID: nil)
        XCTAssertEqual(many.pbaBytes, 16)
        many.write(offset: 2, size: 2, value: 0x8000)
        XCTAssertTrue(many.signal(vector: 69))
        XCTAssertEqual(many.readPBA(offset: 8, size: 8), 1 << 5)
        XCTAssertEqual(many.read(offset: 2, size: 2) & 0x7FF, 69)
    }

    /// Device threads signal while the guest masks and unmasks: every
    /// vector ends up either delivered or pending, never lost.
    func testConcurrentSignalsAndMaskingLoseNothing() {
        program(0, address: 0xFEE0_0000, data: 0x70)
        writeMessageControl(0x8000)
        let vectors = self.vectors!
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for round in 0..<2000 {
                if worker == 0 {
                    vectors.writeTable(offset: 12, size: 4, value: UInt64(round & 1))
                } else {
                    XCTAssertTrue(vectors.signal(vector: 0))
                }
            }
        }
        vectors.writeTable(offset: 12, size: 4, value: 0)
        XCTAssertFalse(vectors.isPending(vector: 0), "unmasked at the end: anything pending was sent")
        XCTAssertGreaterThan(sent.count, 0)
        XCTAssertTrue(sent.allSatisfy { $0 == MSIMessage(address: 0xFEE0_0000, data: 0x70) })
    }
}
