import ArchX86
import LKVMCore
import LKVMKVM
import XCTest

/// MSI routes and irqfds on the host's real KVM: routes are made once per
/// message, and the IOAPIC's default routes survive KVM_SET_GSI_ROUTING.
final class KVMIrqfdTests: XCTestCase {
    func testEachDistinctMessageGetsOneRouteAndLegacyLinesStillWork() throws {
        let kvm = try RealModeGuest.openKVM()
        let machine = try kvm.createVM()
        try machine.createX86InterruptControllers()
        let msi = KVMIrqfdMSIController(machine: machine, legacyGSIs: 24)
        let first = MSIMessage(address: 0xFEE0_0000, data: 0x4031)
        msi.signalMSI(first)
        msi.signalMSI(first)
        XCTAssertEqual(msi.routeCount, 1, "the same message reuses its route")
        msi.signalMSI(MSIMessage(address: 0xFEE0_0000, data: 0x4032))
        XCTAssertEqual(msi.routeCount, 2)
        // Lines still go through KVM_IRQ_LINE (the lab proves the IOAPIC routes deliver).
        XCTAssertNoThrow(try machine.setInterruptLevel(line: 4, asserted: true))
        XCTAssertNoThrow(try machine.setInterruptLevel(line: 4, asserted: false))
        XCTAssertNoThrow(try machine.setInterruptLevel(line: 17, asserted: true))
    }
}
