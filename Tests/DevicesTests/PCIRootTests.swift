import LKVMCore
@testable import LKVMDevices
import XCTest

/// Attaching functions, config access through ECAM and ports 0xCF8/0xCFC,
/// and BAR windows, as firmware and Linux use them.
final class PCIRootTests: XCTestCase {
    private typealias W = PCITestWindows

    private func ecamRead(_ root: PCIRoot, device: UInt64, function: UInt64 = 0, bus: UInt64 = 0,
                          register: UInt64, size: Int = 4) -> UInt64 {
        root.ecam.read(offset: W.ecamOffset(bus: bus, device: device, function: function, register: register), size: size)
    }

    private func ecamWrite(_ root: PCIRoot, device: UInt64, register: UInt64, size: Int = 4, value: UInt64) {
        root.ecam.write(offset: W.ecamOffset(device: device, register: register), size: size, value: value)
    }

    func testECAMDecodesBusDeviceFunctionRegister() throws {
        let root = PCIRoot(windows: W.make())
        try root.attach(PCIHostBridge(), at: PCIDeviceAddress(device: 0))
        try root.attach(PCITestFunction(vendorID: 0x1234), at: PCIDeviceAddress(device: 3, function: 2))
        XCTAssertEqual(ecamRead(root, device: 0, register: 0), 0x0008_1B36)
        XCTAssertEqual(ecamRead(root, device: 0, register: 0x0A, size: 2), 0x0600, "host bridge class")
        XCTAssertEqual(ecamRead(root, device: 3, function: 2, register: 0), 0x1041_1234)
        XCTAssertEqual(ecamRead(root, device: 3, function: 2, register: 0x2E, size: 2), 0x0001)
        XCTAssertEqual(ecamRead(root, device: 3, function: 2, register: 0x01, size: 1), 0x12)
        ecamWrite(root, device: 0, register: 0x3C, size: 1, value: 7)
        XCTAssertEqual(root.configRead(PCIDeviceAddress(device: 0), offset: 0x3C, size: 1), 7)
        XCTAssertEqual(ecamRead(root, device: 0, register: 0, size: 8), UInt64.max, "no 8-byte config accesses")
    }

    func testAbsentFunctionsReadAllOnes() throws {
        let root = PCIRoot(windows: W.make())
        try root.attach(PCIHostBridge(), at: PCIDeviceAddress(device: 0))
        XCTAssertEqual(ecamRead(root, device: 1, register: 0), 0xFFFF_FFFF)
        XCTAssertEqual(ecamRead(root, device: 0, function: 1, register: 0, size: 2), 0xFFFF)
        XCTAssertEqual(ecamRead(root, device: 0, bus: 1, register: 0, size: 1), 0xFF)
        XCTAssertEqual(root.configRead(PCIDeviceAddress(device: 31, function: 7), offset: 0x0E, size: 1), 0xFF)
        root.configWrite(PCIDeviceAddress(device: 9), offset: 4, size: 2, value: 7)  // dropped, no trap
    }

    func testConfigPortsNeedTheEnableBitAndHonourByteOffsets() throws {
        let root = PCIRoot(windows: W.make())
        try root.attach(PCITestFunction(interruptPin: 2), at: PCIDeviceAddress(device: 2))
        let ports = PCIConfigPorts(root: root)
        let select = { (device: UInt32, register: UInt32, enable: Bool) in
            ports.write(offset: 0, size: 4, value: UInt64((enable ? 1 << 31 : 0) | device << 11 | register))
        }
        select(2, 0x00, false)
        XCTAssertEqual(ports.read(offset: 4, size: 4), 0xFFFF_FFFF, "enable bit clear")
        select(2, 0x00, true)
        XCTAssertEqual(ports.read(offset: 4, size: 4), 0x1041_1AF4)
        XCTAssertEqual(ports.read(offset: 6, size: 2), 0x1041, "0xCFE")
        XCTAssertEqual(ports.read(offset: 5, size: 1), 0x1A, "0xCFD")
        XCTAssertEqual(ports.read(offset: 7, size: 1), 0x10, "0xCFF")
        select(2, 0x3C, true)
        XCTAssertEqual(ports.read(offset: 5, size: 1), 2, "interrupt pin at 0x3D")
        ports.write(offset: 4, size: 1, value: 9)
        XCTAssertEqual(root.configRead(PCIDeviceAddress(device: 2), offset: 0x3C, size: 1), 9)
        select(2, 0x04, true)
        ports.write(offset: 4, size: 2, value: 0x4)
        XCTAssertTrue(root.functions[0].function.configSpace.busMasterEnabled)
        select(3, 0x00, true)
        XCTAssertEqual(ports.read(offset: 4, size: 2), 0xFFFF, "absent device")
        XCTAssertEqual(ports.read(offset: 5, size: 2), 0xFFFF, "unaligned data access")
    }

    /// Linux's type 1 probe writes 0x80000000 to 0xCF8 and reads it back.
    func testConfigPortsAddressRegisterReadsBackItsImplementedBits() {
        let ports = PCIConfigPorts(root: PCIRoot(windows: W.make()))
        ports.write(offset: 3, size: 1, value: 1)
        ports.write(offset: 0, size: 4, value: 0x8000_0000)
        XCTAssertEqual(ports.read(offset: 0, size: 4), 0x8000_0000)
        ports.write(offset: 0, size: 4, value: 0xFFFF_FFFF)
        XCTAssertEqual(ports.read(offset: 0, size: 4), 0x80FF_FFFC, "reserved bits 30:24 and 1:0 read 0")
        XCTAssertEqual(ports.read(offset: 1, size: 1), 0xFF, "byte accesses at 0xCF8..0xCFB are not the address register")
    }

    func testAttachAssignsNaturallyAlignedBARsAndEnablesDecode() throws {
        let root = PCIRoot(windows: W.make())
        let first = PCITestFunction(bars: [(0, .memory32, 0x100)])
        let second = PCITestFunction(bars: [(0, .memory32, 0x1000), (1, .io, 0x20), (2, .memory32, 0x10_0000)])
        try root.attach(first, at: PCIDeviceAddress(device: 1))
        try root.attach(second, at: PCIDeviceAddress(device: 2))
        XCTAssertEqual(first.configSpace.barAddress(0), W.mmio32Base)
        let addresses = [0, 2].map { second.configSpace.barAddress($0)! }
        XCTAssertEqual(addresses[1], W.mmio32Base + 0x10_0000, "the 1 MiB BAR aligned past the first function")
        XCTAssertEqual(addresses[0], W.mmio32Base + 0x20_0000)
        XCTAssertEqual(second.configSpace.barAddress(1), 0x1000)
        for (bar, size) in [(0, UInt64(0x1000)), (1, 0x20), (2, 0x10_0000)] {
            XCTAssertEqual(second.configSpace.barAddress(bar)! % size, 0, "BAR \(bar) naturally aligned")
        }
        XCTAssertTrue(second.configSpace.memoryDecodeEnabled)
        XCTAssertTrue(second.configSpace.ioDecodeEnabled)
        XCTAssertFalse(first.configSpace.ioDecodeEnabled, "no I/O BAR, no I/O decode")
        XCTAssertFalse(second.configSpace.busMasterEnabled, "the driver enables mastering")
        XCTAssertEqual(root.configRead(PCIDeviceAddress(device: 2), offset: 0x14, size: 4), 0x1001)
    }

    func testMemory64GoesToMMIO64WhenPresentElseMMIO32() throws {
        let withWindow = PCIRoot(windows: W.make())
        let function = PCITestFunction(bars: [(0, .memory64(prefetchable: true), 0x4000)])
        try withWindow.attach(function, at: PCIDeviceAddress(device: 1))
        XCTAssertEqual(function.configSpace.barAddress(0), W.mmio64Base)
        XCTAssertEqual(withWindow.configRead(PCIDeviceAddress(device: 1), offset: 0x14, size: 4), 0x80)

        let without = PCIRoot(windows: W.make(mmio64: false))
        let other = PCITestFunction(bars: [(4, .memory64(prefetchable: false), 0x4000)])
        try without.attach(other, at: PCIDeviceAddress(device: 1))
        XCTAssertEqual(other.configSpace.barAddress(4), W.mmio32Base)
        XCTAssertNil(without.mmio64Window)
    }

    func testAnIOBARWithoutAPortWindowIsRefused() {
        let root = PCIRoot(windows: W.make(ioPorts: false))
        XCTAssertNil(root.ioWindow)
        XCTAssertThrowsError(try root.attach(PCITestFunction(bars: [(3, .io, 0x10)]), at: PCIDeviceAddress(device: 1))) {
            XCTAssertEqual($0 as? PCIError, .noWindow(window: "pci.io", function: PCIDeviceAddress(device: 1), bar: 3))
        }
    }

    func testWindowExhaustionNamesTheWindowAndFunctionAndConsumesNothing() throws {
        let root = PCIRoot(windows: W.make(mmio32Size: 0x10000, mmio64: false))
        try root.attach(PCITestFunction(bars: [(0, .memory32, 0x8000)]), at: PCIDeviceAddress(device: 1))
        let tooBig = PCITestFunction(bars: [(0, .memory32, 0x4000), (1, .memory32, 0x8000)])
        XCTAssertThrowsError(try root.attach(tooBig, at: PCIDeviceAddress(device: 2))) {
            XCTAssertEqual($0 as? PCIError, .windowExhausted(window: "pci.mmio32", function: PCIDeviceAddress(device: 2),
                                                             bar: 0, size: 0x4000), "the larger BAR went first and fit")
            XCTAssertEqual("\($0)", "PCI 00:02.0 BAR 0 (0x4000 bytes) does not fit in what is left of the pci.mmio32 window")
        }
        XCTAssertEqual(root.functions.count, 1)
        let fits = PCITestFunction(bars: [(0, .memory32, 0x8000)])
        try root.attach(fits, at: PCIDeviceAddress(device: 2))
        XCTAssertEqual(fits.configSpace.barAddress(0), W.mmio32Base + 0x8000, "the failed attach took no space")
    }

    func testBadAddressesAndTakenSlotsAreRefused() throws {
        let root = PCIRoot(windows: W.make())
        let cases: [(PCIDeviceAddress, PCIError)] = [
            (PCIDeviceAddress(bus: 1, device: 0), .busNotSupported(PCIDeviceAddress(bus: 1, device: 0))),
            (PCIDeviceAddress(device: 32), .deviceOutOfRange(PCIDeviceAddress(device: 32))),
            (PCIDeviceAddress(device: 1, function: 8), .functionOutOfRange(PCIDeviceAddress(device: 1, function: 8))),
        ]
        for (address, expected) in cases {
            XCTAssertThrowsError(try root.attach(PCITestFunction(), at: address)) { XCTAssertEqual($0 as? PCIError, expected) }
        }
        let function = PCITestFunction()
        try root.attach(function, at: PCIDeviceAddress(device: 4))
        XCTAssertThrowsError(try root.attach(PCITestFunction(), at: PCIDeviceAddress(device: 4))) {
            XCTAssertEqual($0 as? PCIError, .slotTaken(PCIDeviceAddress(device: 4)))
        }
        XCTAssertThrowsError(try root.attach(function, at: PCIDeviceAddress(device: 5))) {
            XCTAssertEqual($0 as? PCIError, .alreadyAttached(PCIDeviceAddress(device: 5), existing: PCIDeviceAddress(device: 4)))
        }
        XCTAssertThrowsError(try PCIRoot(windows: W.make()).attach(function, at: PCIDeviceAddress(device: 4))) {
            XCTAssertEqual($0 as? PCIError, .attachedElsewhere(PCIDeviceAddress(device: 4)))
        }
    }

    func testErrorsAreOneLine() {
        let errors: [PCIError] = [
            .busNotSupported(PCIDeviceAddress(bus: 1, device: 0)), .deviceOutOfRange(PCIDeviceAddress(device: 40)),
            .functionOutOfRange(PCIDeviceAddress(device: 1, function: 9)), .slotTaken(PCIDeviceAddress(device: 3)),
            .alreadyAttached(PCIDeviceAddress(device: 3), existing: PCIDeviceAddress(device: 2)),
            .attachedElsewhere(PCIDeviceAddress(device: 3)),
            .noWindow(window: "pci.io", function: PCIDeviceAddress(device: 3), bar: 0),
            .windowExhausted(window: "pci.mmio32", function: PCIDeviceAddress(device: 3), bar: 0, size: 16),
        ]
        for error in errors {
            XCTAssertFalse(error.description.isEmpty)
            XCTAssertFalse(error.description.contains("\n"))
        }
        XCTAssertEqual(PCIError.deviceOutOfRange(PCIDeviceAddress(device: 40)).description,
                       "PCI device number 40 is out of range (0 to 31)")
    }

    func testAddressFormatsAndRequesterID() {
        let address = PCIDeviceAddress(bus: 0x1F, device: 0x1A, function: 5)
        XCTAssertEqual(address.description, "1f:1a.5")
        XCTAssertEqual(PCIDeviceAddress(device: 3).description, "00:03.0")
        XCTAssertEqual(address.requesterID, 0x1F << 8 | 0x1A << 3 | 5)
    }

    func testMMIO32WindowFollowsABARTheGuestMovedAndStopsWithDecodeOff() throws {
        let root = PCIRoot(windows: W.make())
        let function = PCITestFunction(bars: [(1, .memory32, 0x1000)])
        try root.attach(function, at: PCIDeviceAddress(device: 1))
        let window = root.mmio32Window
        XCTAssertEqual(window.read(offset: 0x10, size: 4), PCITestFunction.answer(bar: 1, offset: 0x10))

        // Linux moves a BAR with decode off: command, BAR, command.
        ecamWrite(root, device: 1, register: 0x04, size: 2, value: 0)
        XCTAssertEqual(window.read(offset: 0x10, size: 4), 0xFFFF_FFFF, "memory decode off")
        ecamWrite(root, device: 1, register: 0x14, value: W.mmio32Base + 0x5000)
        ecamWrite(root, device: 1, register: 0x04, size: 2, value: 2)
        XCTAssertEqual(window.read(offset: 0x10, size: 4), 0xFFFF_FFFF, "nothing left at the old base")
        XCTAssertEqual(window.read(offset: 0x5FF8, size: 8), PCITestFunction.answer(bar: 1, offset: 0xFF8))
        window.write(offset: 0x5004, size: 2, value: 0xBEEF)
        let write = try XCTUnwrap(function.writes.withLock { $0.last })
        XCTAssertEqual([write.bar, Int(write.offset), write.size, Int(write.value)], [1, 4, 2, 0xBEEF])
        XCTAssertEqual(window.read(offset: 0x5FFC, size: 8), UInt64.max, "an access running past the BAR")
    }

    func testABARMovedOutsideTheWindowIsUnreachable() throws {
        let root = PCIRoot(windows: W.make())
        let function = PCITestFunction(bars: [(0, .memory32, 0x1000)])
        try root.attach(function, at: PCIDeviceAddress(device: 1))
        ecamWrite(root, device: 1, register: 0x10, value: 0x1000_0000)
        XCTAssertEqual(function.configSpace.barAddress(0), 0x1000_0000)
        for offset in stride(from: UInt64(0), to: 0x10000, by: 0x1000) {
            XCTAssertEqual(root.mmio32Window.read(offset: offset, size: 4), 0xFFFF_FFFF)
        }
    }

    func testIOAndMMIO64WindowsDispatchToTheirBARs() throws {
        let root = PCIRoot(windows: W.make())
        let function = PCITestFunction(bars: [(0, .io, 0x40), (2, .memory64(prefetchable: false), 0x2000)])
        try root.attach(function, at: PCIDeviceAddress(device: 1))
        let io = try XCTUnwrap(root.ioWindow), mmio64 = try XCTUnwrap(root.mmio64Window)
        XCTAssertEqual(io.read(offset: 0x3C, size: 4), PCITestFunction.answer(bar: 0, offset: 0x3C))
        XCTAssertEqual(mmio64.read(offset: 0x1000, size: 8), PCITestFunction.answer(bar: 2, offset: 0x1000))
        XCTAssertEqual(root.mmio32Window.read(offset: 0, size: 4), 0xFFFF_FFFF, "an I/O BAR is not in memory space")
        ecamWrite(root, device: 1, register: 0x04, size: 2, value: 2)
        XCTAssertEqual(io.read(offset: 0, size: 1), 0xFF, "I/O decode off")
        XCTAssertEqual(mmio64.read(offset: 0, size: 4), PCITestFunction.answer(bar: 2, offset: 0))
    }

    func testFunctionZeroIsMarkedMultiFunctionWhenItHasSiblings() throws {
        let root = PCIRoot(windows: W.make())
        try root.attach(PCITestFunction(), at: PCIDeviceAddress(device: 5, function: 3))
        try root.attach(PCITestFunction(), at: PCIDeviceAddress(device: 5))
        try root.attach(PCITestFunction(), at: PCIDeviceAddress(device: 6))
        XCTAssertEqual(ecamRead(root, device: 5, register: 0x0E, size: 1), 0x80)
        XCTAssertEqual(ecamRead(root, device: 5, function: 3, register: 0x0E, size: 1), 0x00)
        XCTAssertEqual(ecamRead(root, device: 6, register: 0x0E, size: 1), 0x00)
        XCTAssertEqual(root.functions.map(\.address.description), ["00:05.0", "00:05.3", "00:06.0"])
    }

    func testInterruptLineFollowsTheBoardsSwizzle() throws {
        let root = PCIRoot(windows: W.make())
        let functions = [PCITestFunction(interruptPin: 1), PCITestFunction(interruptPin: 2), PCITestFunction()]
        for (device, function) in functions.enumerated() { try root.attach(function, at: PCIDeviceAddress(device: UInt8(device + 1))) }
        XCTAssertEqual(functions[0].configSpace.interruptLine, 6, "device 1 INTA")
        XCTAssertEqual(functions[1].configSpace.interruptLine, 8, "device 2 INTB")
        XCTAssertEqual(functions[2].configSpace.interruptLine, 0, "no pin, untouched")

        let noINTx = PCIRoot(windows: W.make(intx: nil))
        let function = PCITestFunction(interruptPin: 1)
        try noINTx.attach(function, at: PCIDeviceAddress(device: 1))
        XCTAssertEqual(function.configSpace.interruptLine, 0xFF, "unknown / not connected")
    }

    /// Registered on real buses, as the machine builder does: absolute addresses in, window offsets out.
    func testRegisteredOnBusesWithAbsoluteAddresses() throws {
        let windows = W.make()
        let root = PCIRoot(windows: windows)
        let function = PCITestFunction(bars: [(0, .memory32, 0x1000), (1, .io, 0x20)])
        try root.attach(function, at: PCIDeviceAddress(device: 3))
        var mmio = Bus(kind: "mmio"), pio = Bus(kind: "pio")
        try mmio.register(root.ecam, name: "pci.ecam", base: windows.ecam.start.raw, length: windows.ecam.size)
        try mmio.register(root.mmio32Window, name: "pci.mmio32", base: windows.mmio32.start.raw, length: windows.mmio32.size)
        let ports = try XCTUnwrap(windows.ioPorts), io = try XCTUnwrap(root.ioWindow)
        try pio.register(io, name: "pci.io", base: UInt64(ports.start), length: UInt64(ports.count))
        try pio.register(PCIConfigPorts(root: root), name: "pci.cf8", base: 0xCF8, length: PCIConfigPorts.length)

        XCTAssertEqual(mmio.read(W.ecamBase + W.ecamOffset(device: 3, register: 2), size: 2), 0x1041)
        pio.write(0xCF8, size: 4, value: 0x8000_1810)
        XCTAssertEqual(pio.read(0xCFC, size: 4), W.mmio32Base)
        let bar = try XCTUnwrap(function.configSpace.barAddress(0)), port = try XCTUnwrap(function.configSpace.barAddress(1))
        XCTAssertEqual(mmio.read(bar + 8, size: 4), PCITestFunction.answer(bar: 0, offset: 8))
        XCTAssertEqual(pio.read(port + 2, size: 1), PCITestFunction.answer(bar: 1, offset: 2))
    }
}
