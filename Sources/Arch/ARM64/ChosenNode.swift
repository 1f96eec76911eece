import LKVMCore

/// `/chosen`: the command line, the console, the initrd and boot-time entropy.
struct ChosenNode: FDTNodeWriter {
    let bootargs: String
    /// Path of the console UART node, nil when the board has none.
    let stdoutPath: String?
    let initrd: GuestRange?
    /// Random bytes: the first 8 seed KASLR, the rest the kernel's RNG; nil leaves both out.
    let seed: [UInt8]?

    func writeNode(to fdt: inout FDTWriter) throws(FDTError) {
        try fdt.beginNode("chosen")
        try fdt.property("bootargs", string: bootargs)
        if let stdoutPath { try fdt.property("stdout-path", string: stdoutPath) }
        if let initrd {
            try fdt.property("linux,initrd-start", cells: FDTCells.u64(initrd.start.raw))
            try fdt.property("linux,initrd-end", cells: FDTCells.u64(initrd.end))
        }
        if let seed, seed.count > 8 {
            try fdt.property("kaslr-seed", bytes: Array(seed.prefix(8)))
            try fdt.property("rng-seed", bytes: Array(seed.dropFirst(8)))
        }
        try fdt.endNode()
    }
}
