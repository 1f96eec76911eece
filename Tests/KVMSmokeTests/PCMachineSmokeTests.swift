import ArchX86
import Glibc
import LKVMCore
import LKVMDevices
import LKVMKVM
import Synchronization
import LKVMTestSupport
import XCTest

/// Builds the real `pc` board machine around tiny kernels and runs it on the
/// host's KVM: the path `lkvm run` takes, minus the command line.
final class PCMachineSmokeTests: XCTestCase {
    static let pcBoard = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Boards/pc.toml").path

    override func setUp() { VMController.blockHandledSignals() }

    func makeMachine(code: [UInt8], cpus: Int = 1, params: String = "", initrd: [UInt8]? = nil,
                     console: RecordingConsole = RecordingConsole(),
                     virtio: [any VirtioDevice] = []) throws -> PCMachine {
        let kvm = try RealModeGuest.openKVM()
        let board = try BoardCatalog.load(path: Self.pcBoard)
        let config = PCMachineConfig(board: board, memMiB: 64, cpus: cpus, kernel: TinyBzImage.build(code: code),
                                     initrd: initrd, params: params, virtio: virtio)
        return try PCMachine(image: PCGuestImage(config: config), kvm: kvm, output: console)
    }

    /// What `lkvm debug` reads: RIP at the kernel's 64-bit entry before the
    /// first run, LSTAR still 0 (no KASLR anchor yet), and an NMI accepted.
    func testDebugStateAndNMIOnARealVCPU() throws {
        let machine = try makeMachine(code: Asm64.resetThroughI8042 + Asm64.hltLoop)
        let state = try XCTUnwrap(machine.vcpus[0].debugState())
        XCTAssertEqual(state.instructionPointer, 0x100_0000 + 0x200, "startup_64 of a kernel loaded at its 16 MiB pref_address")
        XCTAssertEqual(state.anchorSymbol, "entry_SYSCALL_64")
        XCTAssertEqual(state.anchorValue, 0)
        XCTAssertNoThrow(try machine.vcpus[0].injectNMI())
    }

    func testGuestResetThroughTheI8042EndsTheRunCleanly() throws {
        let machine = try makeMachine(code: Asm64.resetThroughI8042 + Asm64.hltLoop, cpus: 2)
        XCTAssertEqual(machine.run(), .reset)
    }

    func testTheKernelIsEnteredInLongModeWithRSIAtTheZeroPage() throws {
        // Report RSI, then the zero page's cmd_line_ptr (0x228) and e820_entries (0x1e8).
        let code = Asm64.movEAXESI + Asm64.outEAXTo80 + Asm64.movEAXFromRSI(0x228) + Asm64.outEAXTo80
            + Asm64.movEAXFromRSI(0x1E8) + Asm64.outEAXTo80 + Asm64.resetThroughI8042 + Asm64.hltLoop
        let machine = try makeMachine(code: code)
        let probe = RecordingDevice()
        var pio = machine.buses.pio
        try pio.register(probe, name: "probe", base: 0x80, length: 4)
        let reason = VMRunner.run(vcpus: machine.vcpus, buses: IOBuses(pio: pio, mmio: machine.buses.mmio),
                                  controller: machine.controller)
        XCTAssertEqual(reason, .reset)
        let values = probe.writes.withLock { $0.map(\.value) }
        XCTAssertEqual(values.count, 3)
        XCTAssertEqual(values.first, 0x7000, "RSI must point at the zero page")
        XCTAssertEqual(values.dropFirst().first, 0x20000, "cmd_line_ptr")
        XCTAssertEqual(values.last.map { $0 & 0xFF }, 4,
                       "e820: low RAM, EBDA/BIOS reserved, RAM above 1 MiB, PCI ECAM reserved")
    }

    func testVirtioDevicesAppearOnTheBoardsMMIOSlots() throws {
        // mov ebx, 0xF0000000; mov eax, [rbx] (magic); out; mov eax, [rbx + 8] (device id); out
        let code: [UInt8] = [0xBB, 0x00, 0x00, 0x00, 0xF0, 0x8B, 0x03] + Asm64.outEAXTo80
            + [0x8B, 0x43, 0x08] + Asm64.outEAXTo80 + Asm64.resetThroughI8042 + Asm64.hltLoop
        let machine = try makeMachine(code: code, virtio: [VirtioRNG()])
        let probe = RecordingDevice()
        var pio = machine.buses.pio
        try pio.register(probe, name: "probe", base: 0x80, length: 4)
        let reason = VMRunner.run(vcpus: machine.vcpus, buses: IOBuses(pio: pio, mmio: machine.buses.mmio),
                                  controller: machine.controller)
        XCTAssertEqual(reason, .reset)
        XCTAssertEqual(probe.writes.withLock { $0.map(\.value) }, [0x7472_6976, 4], "virtio magic, then device id 4 (rng)")
    }

    func testATripleFaultIsFatalWithARegisterDump() throws {
        let machine = try makeMachine(code: Asm64.ud2)
        let reason = machine.run()
        guard case .fatal(let message, let registers) = reason else { return XCTFail("\(reason)") }
        XCTAssertTrue(message.contains("triple fault") || message.contains("internal error"), message)
        XCTAssertTrue(registers?.contains("rip") ?? false, registers ?? "no registers")
        XCTAssertEqual(reason.exitStatus, 1)
    }

    func testGuestSerialOutputReachesTheConsole() throws {
        // mov dx, 0x3f8; mov al, 'K'; out dx, al (x3: "OK\n")
        var code: [UInt8] = [0x66, 0xBA, 0xF8, 0x03]
        for byte in Array("OK\n".utf8) { code += [0xB0, byte, 0xEE] }
        let console = RecordingConsole()
        let machine = try makeMachine(code: code + Asm64.resetThroughI8042 + Asm64.hltLoop, console: console)
        XCTAssertEqual(machine.run(), .reset)
        XCTAssertEqual(console.text, "OK\n")
    }

    func testAnInitrdThatDoesNotFitIsRefusedBeforeTheGuestRuns() throws {
        XCTAssertThrowsError(try makeMachine(code: Asm64.hltLoop, initrd: [UInt8](repeating: 1, count: 80 << 20))) { error in
            XCTAssertTrue("\(error)".contains("initrd"), "\(error)")
        }
    }

    func testTooManyVCPUsForKVMIsAClearError() throws {
        let kvm = try RealModeGuest.openKVM()
        XCTAssertThrowsError(try makeMachine(code: Asm64.hltLoop, cpus: kvm.maxVCPUs + 1)) { error in
            XCTAssertTrue("\(error)".contains("at most") || "\(error)".contains("1 to 254"), "\(error)")
        }
    }
}
