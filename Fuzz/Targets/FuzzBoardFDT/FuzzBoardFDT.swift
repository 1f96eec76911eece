import FuzzSupport
import ArchARM64
import LKVMCore
import LKVMDevices

/// The device tree from a board: TOML text from the input; when it parses
/// and validates as an arm64 board, the boot plan builds the DTB (with two
/// virtio-mmio devices, an initrd and seeds) and libfdt reads every node back.
let kernel: [UInt8] = {
    var bytes = [UInt8](repeating: 0, count: 0x1000)
    bytes[18] = 0x02                    // image_size 0x20000 (little-endian at 16)
    bytes[24] = 0x0A                    // flags: little-endian, 4 KiB pages, anywhere
    bytes.replaceSubrange(56..<60, with: Array("ARM".utf8) + [0x64])
    return bytes
}()

func walk(_ fdt: FDTReader, _ path: String, depth: Int) {
    guard depth < 16 else { return }
    _ = fdt.property(path, "reg")
    _ = fdt.cells(path, "interrupts")
    _ = fdt.strings(path, "compatible")
    for child in fdt.children(path) {
        walk(fdt, path == "/" ? "/" + child : path + "/" + child, depth: depth + 1)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBoardFDT(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let board = try? BoardCatalog.parse(text: text, fileName: "fuzz.toml"),
          board.architecture == .arm64 else { return 0 }
    for (transport, cpus) in [(VirtioTransport.mmio, 1), (.pci, 3)] {
        let config = ARM64MachineConfig(board: board, memMiB: 256, cpus: cpus, kernel: kernel,
                                        initrd: [1, 2, 3], params: "console=hvc0",
                                        virtio: [VirtioRNG(), VirtioRNG()], virtioTransport: transport,
                                        seed: Array(repeating: 7, count: 16))
        guard let plan = try? ARM64BootPlan(config: config) else { continue }
        let fdt: FDTReader
        do { fdt = try FDTReader(plan.deviceTree) } catch { fatalError("lkvm built a DTB libfdt cannot read: \(error)") }
        precondition(fdt.hasNode("/chosen") && fdt.hasNode("/cpus"), "a DTB without /chosen or /cpus")
        walk(fdt, "/", depth: 0)
    }
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzBoardFDT_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
