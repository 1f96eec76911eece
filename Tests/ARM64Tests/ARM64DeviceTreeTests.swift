import XCTest
@testable import ArchARM64
import LKVMCore

/// The device tree read back with libfdt, node by node, for both shipped boards.
final class ARM64DeviceTreeTests: XCTestCase {
    func tree(_ plan: ARM64BootPlan) throws -> FDTReader { try FDTReader(plan.deviceTree) }

    func u64(_ cells: [UInt32]?) -> UInt64? {
        guard let cells, cells.count == 2 else { return nil }
        return UInt64(cells[0]) << 32 | UInt64(cells[1])
    }

    func testRootAndChosenOnVirt() throws {
        let plan = try ARM64Fixtures.plan(board: "virt", params: "quiet")
        let fdt = try tree(plan)
        XCTAssertEqual(fdt.strings("/", "compatible"), ["linux,dummy-virt"])
        XCTAssertEqual(fdt.cells("/", "#address-cells"), [2])
        XCTAssertEqual(fdt.cells("/", "#size-cells"), [2])
        XCTAssertEqual(fdt.cells("/", "interrupt-parent"), [1])
        XCTAssertEqual(fdt.cells("/intc@8000000", "phandle"), [1])
        XCTAssertEqual(fdt.strings("/chosen", "bootargs"), ["console=ttyAMA0 panic=-1 quiet"])
        XCTAssertEqual(plan.commandLine, "console=ttyAMA0 panic=-1 quiet")
        XCTAssertEqual(fdt.strings("/chosen", "stdout-path"), ["/pl011@9000000"])
        XCTAssertTrue(fdt.hasNode("/pl011@9000000"))
        XCTAssertNil(fdt.property("/chosen", "linux,initrd-start"))
        XCTAssertNil(fdt.property("/chosen", "kaslr-seed"))
        XCTAssertEqual(fdt.children("/"), ["chosen", "memory@40000000", "cpus", "psci", "timer", "intc@8000000",
                                           "apb-pclk", "pl011@9000000", "pl031@9010000", "pcie@3f000000"])
    }

    func testInitrdAndSeedsInChosen() throws {
        let initrd = [UInt8](repeating: 7, count: 100_000)
        let seed = (0..<40).map { UInt8($0) }
        let plan = try ARM64Fixtures.plan(board: "virt", initrd: initrd, seed: seed)
        let fdt = try tree(plan)
        let range = try XCTUnwrap(plan.initrd)
        XCTAssertEqual(u64(fdt.cells("/chosen", "linux,initrd-start")), range.start.raw)
        XCTAssertEqual(u64(fdt.cells("/chosen", "linux,initrd-end")), range.end)
        XCTAssertEqual(range.size, 100_000)
        XCTAssertEqual(fdt.property("/chosen", "kaslr-seed"), Array(seed.prefix(8)))
        XCTAssertEqual(fdt.property("/chosen", "rng-seed"), Array(seed.dropFirst(8)))
        XCTAssertEqual(plan.deviceTreeAddress, GuestAddress(0x4FE0_0000))
        XCTAssertEqual(plan.entry, GuestAddress(0x4000_0000))
    }

    func testMemoryNode() throws {
        let fdt = try tree(try ARM64Fixtures.plan(board: "virt", memMiB: 512))
        XCTAssertEqual(fdt.strings("/memory@40000000", "device_type"), ["memory"])
        XCTAssertEqual(fdt.cells("/memory@40000000", "reg"), [0, 0x4000_0000, 0, 0x2000_0000])
    }

    func testCPUsForOneAndFourAndSeventeen() throws {
        for count in [1, 4, 17] {
            let fdt = try tree(try ARM64Fixtures.plan(board: "virt", cpus: count))
            XCTAssertEqual(fdt.cells("/cpus", "#address-cells"), [1])
            XCTAssertEqual(fdt.cells("/cpus", "#size-cells"), [0])
            let names = fdt.children("/cpus")
            XCTAssertEqual(names.count, count)
            for index in 0..<count {
                let mpidr = UInt32(index % 16) | UInt32(index / 16) << 8
                let path = "/cpus/cpu@" + String(mpidr, radix: 16)
                XCTAssertEqual(fdt.cells(path, "reg"), [mpidr], path)
                XCTAssertEqual(fdt.strings(path, "device_type"), ["cpu"])
                XCTAssertEqual(fdt.strings(path, "compatible"), ["arm,armv8"])
                XCTAssertEqual(fdt.strings(path, "enable-method"), ["psci"])
            }
        }
        XCTAssertEqual(CPUNodes.mpidrAffinity(vcpu: 16), 0x100)
        XCTAssertEqual(CPUNodes.mpidrAffinity(vcpu: 511), 0x1F0F)
    }

    func testPSCIAndTimer() throws {
        let fdt = try tree(try ARM64Fixtures.plan(board: "virt"))
        XCTAssertEqual(fdt.strings("/psci", "compatible"), ["arm,psci-0.2"])
        XCTAssertEqual(fdt.strings("/psci", "method"), ["hvc"])
        XCTAssertEqual(fdt.strings("/timer", "compatible"), ["arm,armv8-timer"])
        XCTAssertEqual(fdt.cells("/timer", "interrupts"), [1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4])
        XCTAssertEqual(fdt.property("/timer", "always-on"), [])
    }

    func testGICv3WithITSOnVirt() throws {
        let fdt = try tree(try ARM64Fixtures.plan(board: "virt"))
        let gic = "/intc@8000000"
        XCTAssertEqual(fdt.strings(gic, "compatible"), ["arm,gic-v3"])
        XCTAssertEqual(fdt.cells(gic, "#interrupt-cells"), [3])
        XCTAssertEqual(fdt.property(gic, "interrupt-controller"), [])
        XCTAssertEqual(fdt.cells(gic, "reg"), [0, 0x0800_0000, 0, 0x10000, 0, 0x080A_0000, 0, 0xF6_0000])
        XCTAssertEqual(fdt.cells(gic, "interrupts"), [1, 9, 4])
        XCTAssertNil(fdt.property(gic, "#redistributor-regions"))
        let its = gic + "/its@8080000"
        XCTAssertEqual(fdt.strings(its, "compatible"), ["arm,gic-v3-its"])
        XCTAssertEqual(fdt.property(its, "msi-controller"), [])
        XCTAssertEqual(fdt.cells(its, "#msi-cells"), [1])
        XCTAssertEqual(fdt.cells(its, "reg"), [0, 0x0808_0000, 0, 0x20000])
        XCTAssertEqual(fdt.cells(its, "phandle"), [2])
    }

    func testPrimeCellDevicesAndClock() throws {
        let fdt = try tree(try ARM64Fixtures.plan(board: "virt"))
        XCTAssertEqual(fdt.strings("/apb-pclk", "compatible"), ["fixed-clock"])
        XCTAssertEqual(fdt.cells("/apb-pclk", "clock-frequency"), [24_000_000])
        XCTAssertEqual(fdt.cells("/apb-pclk", "#clock-cells"), [0])
        XCTAssertEqual(fdt.cells("/apb-pclk", "phandle"), [3])
        let uart = "/pl011@9000000"
        XCTAssertEqual(fdt.strings(uart, "compatible"), ["arm,pl011", "arm,primecell"])
        XCTAssertEqual(fdt.cells(uart, "reg"), [0, 0x0900_0000, 0, 0x1000])
        XCTAssertEqual(fdt.cells(uart, "interrupts"), [0, 1, 4])
        XCTAssertEqual(fdt.cells(uart, "clocks"), [3, 3])
        XCTAssertEqual(fdt.strings(uart, "clock-names"), ["uartclk", "apb_pclk"])
        let rtc = "/pl031@9010000"
        XCTAssertEqual(fdt.strings(rtc, "compatible"), ["arm,pl031", "arm,primecell"])
        XCTAssertEqual(fdt.cells(rtc, "interrupts"), [0, 2, 4])
        XCTAssertEqual(fdt.cells(rtc, "clocks"), [3])
        XCTAssertEqual(fdt.strings(rtc, "clock-names"), ["apb_pclk"])
    }

    func testVirtioMMIODevicesTakeSlotsInOrder() throws {
        let plan = try ARM64Fixtures.plan(board: "virt", virtio: 3)
        let fdt = try tree(plan)
        for slot in 0..<3 {
            let base = 0x0A00_0000 + UInt32(slot) * 0x200
            let path = "/virtio_mmio@" + String(base, radix: 16)
            XCTAssertEqual(fdt.strings(path, "compatible"), ["virtio,mmio"], path)
            XCTAssertEqual(fdt.cells(path, "reg"), [0, base, 0, 0x200])
            XCTAssertEqual(fdt.cells(path, "interrupts"), [0, 16 + UInt32(slot), 1], "edge rising")
            XCTAssertEqual(fdt.property(path, "dma-coherent"), [])
        }
        XCTAssertEqual(plan.virtioSlots.map(\.irq), [16, 17, 18])
        XCTAssertFalse(fdt.hasNode("/virtio_mmio@a000600"))
    }

    func testVirtioOverPCIHasNoNodesOfItsOwn() throws {
        let plan = try ARM64Fixtures.plan(board: "virt", virtio: 2, transport: .pci)
        let fdt = try tree(plan)
        XCTAssertEqual(plan.pciDevices, [1, 2])
        XCTAssertTrue(fdt.children("/").allSatisfy { !$0.hasPrefix("virtio") })
    }

    func testPCIHostOnVirt() throws {
        let board = try ARM64Fixtures.board("virt")
        let pci = try XCTUnwrap(board.pci)
        let fdt = try tree(try ARM64Fixtures.plan(board: "virt"))
        let host = "/pcie@3f000000"
        XCTAssertEqual(fdt.strings(host, "compatible"), ["pci-host-ecam-generic"])
        XCTAssertEqual(fdt.strings(host, "device_type"), ["pci"])
        XCTAssertEqual(fdt.cells(host, "#address-cells"), [3])
        XCTAssertEqual(fdt.cells(host, "#size-cells"), [2])
        XCTAssertEqual(fdt.cells(host, "#interrupt-cells"), [1])
        XCTAssertEqual(fdt.cells(host, "bus-range"), [0, 15])
        XCTAssertEqual(fdt.cells(host, "reg"), [0, 0x3F00_0000, 0, 0x100_0000])
        XCTAssertEqual(fdt.cells(host, "ranges"), [0x0200_0000, 0, 0x1000_0000, 0, 0x1000_0000, 0, 0x2EFF_0000,
                                                   0x0300_0000, 0x80, 0, 0x80, 0, 0x80, 0])
        XCTAssertEqual(fdt.cells(host, "interrupt-map-mask"), [0xF800, 0, 0, 7])
        let map = try XCTUnwrap(fdt.cells(host, "interrupt-map"))
        XCTAssertEqual(map.count, 32 * 4 * 10)
        for device in 0..<32 {
            for pin in 1...4 {
                let entry = Array(map[((device * 4 + pin - 1) * 10)...].prefix(10))
                let irq = UInt32(try XCTUnwrap(pci.intxIRQ(device: device, pin: pin)))
                XCTAssertEqual(entry, [UInt32(device) << 11, 0, 0, UInt32(pin), 1, 0, 0, 0, irq, 4], "device \(device) pin \(pin)")
            }
        }
        XCTAssertEqual(fdt.cells(host, "msi-map"), [0, 2, 0, 0x10000])
        XCTAssertEqual(fdt.property(host, "dma-coherent"), [])
    }

    func testKvmtoolBoardTree() throws {
        for cpus in [1, 4] {
            let plan = try ARM64Fixtures.plan(board: "kvmtool-arm64", cpus: cpus, initrd: [1, 2, 3], virtio: 2)
            let fdt = try tree(plan)
            XCTAssertEqual(fdt.children("/"), ["chosen", "memory@80000000", "cpus", "psci", "timer", "intc@3fff0000",
                                               "apb-pclk", "serial@1000000", "pl031@1010000", "virtio_mmio@3000000",
                                               "virtio_mmio@3000200", "pcie@40000000"])
            XCTAssertEqual(fdt.children("/cpus").count, cpus)
            XCTAssertEqual(fdt.strings("/chosen", "stdout-path"), ["/serial@1000000"])
            XCTAssertEqual(fdt.strings("/chosen", "bootargs"), ["console=ttyS0 panic=-1"])
            XCTAssertEqual(fdt.strings("/serial@1000000", "compatible"), ["ns16550a"])
            XCTAssertEqual(fdt.cells("/serial@1000000", "interrupts"), [0, 0, 4])
            XCTAssertEqual(fdt.cells("/serial@1000000", "clock-frequency"), [1_843_200])
            XCTAssertEqual(fdt.cells("/intc@3fff0000", "reg"), [0, 0x3FFF_0000, 0, 0x10000, 0, 0x3F7F_0000, 0, 0x80_0000])
            XCTAssertTrue(fdt.hasNode("/intc@3fff0000/its@3f7d0000"))
            XCTAssertEqual(fdt.cells("/virtio_mmio@3000200", "interrupts"), [0, 33, 1])
            XCTAssertEqual(fdt.cells("/pcie@40000000", "bus-range"), [0, 255])
            XCTAssertEqual(fdt.cells("/pcie@40000000", "ranges"), [0x0200_0000, 0, 0x5000_0000, 0, 0x5000_0000, 0, 0x3000_0000])
            XCTAssertEqual(fdt.cells("/memory@80000000", "reg"), [0, 0x8000_0000, 0, 0x1000_0000])
            XCTAssertEqual(plan.entry, GuestAddress(0x8000_0000))
            XCTAssertEqual(u64(fdt.cells("/chosen", "linux,initrd-end")), plan.initrd?.end)
        }
    }

    func testConsoleParams() throws {
        XCTAssertEqual(try ARM64Fixtures.plan(board: "virt", params: "console=hvc0 quiet").commandLine,
                       "panic=-1 console=hvc0 quiet")
    }

    func testLoadIntoGuestMemory() throws {
        let initrd: [UInt8] = [9, 8, 7, 6]
        let plan = try ARM64Fixtures.plan(board: "virt", memMiB: 64, initrd: initrd)
        let memory = try GuestMemory(ranges: plan.ram)
        try plan.load(into: memory)
        XCTAssertEqual(try memory.read(64, at: plan.entry), Array(plan.image.bytes.prefix(64)))
        XCTAssertEqual(try memory.read(4, at: try XCTUnwrap(plan.initrd).start), initrd)
        XCTAssertEqual(try memory.read(plan.deviceTree.count, at: plan.deviceTreeAddress), plan.deviceTree)
    }

    func testBoardErrorsThroughThePlan() throws {
        XCTAssertThrowsError(try ARM64Fixtures.plan(board: "virt", virtio: 33)) { error in
            XCTAssertTrue("\(error)".contains("33 virtio devices, but virtio_mmio.count is 32"), "\(error)")
        }
        XCTAssertThrowsError(try ARM64Fixtures.plan(board: "virt", cpus: 124)) { error in
            XCTAssertTrue("\(error)".contains("at most 123"), "\(error)")
        }
    }
}
