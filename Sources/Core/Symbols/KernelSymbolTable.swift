/// A kernel text symbol: where it starts and, when the source says, how long it is.
public struct KernelSymbol: Equatable, Sendable {
    public let name: String
    public let address: UInt64
    /// From an ELF symbol table; System.map does not give sizes.
    public let size: UInt64?

    public init(name: String, address: UInt64, size: UInt64? = nil) {
        self.name = name
        self.address = address
        self.size = size
    }
}

/// A kernel's text symbols, sorted, for turning an instruction pointer into
/// `function+0xoffset`. Addresses are link-time ones: a KASLR kernel runs
/// them shifted by a slide (`slide(anchor:runningAt:)`).
public struct KernelSymbolTable: Sendable {
    public let symbols: [KernelSymbol]
    /// Past the last symbol, addresses farther than this from it are not
    /// attributed to it (System.map gives no sizes).
    static let unsizedReach: UInt64 = 1 << 20

    public init(symbols: [KernelSymbol]) {
        // Sorted by address; among aliases a plain name (no leading "_" or
        // ".") goes first, so lookups name what a reader expects.
        self.symbols = symbols.sorted { a, b in
            if a.address != b.address { return a.address < b.address }
            let (rankA, rankB) = (Self.rank(a.name), Self.rank(b.name))
            return rankA != rankB ? rankA < rankB : a.name < b.name
        }
    }

    private static func rank(_ name: String) -> Int {
        name.hasPrefix(".") ? 2 : name.hasPrefix("_") ? 1 : 0
    }

    public var isEmpty: Bool { symbols.isEmpty }

    /// The symbol `name`'s address (the first one, if several share the name).
    public func address(of name: String) -> UInt64? {
        symbols.first { $0.name == name }?.address
    }

    /// The symbol covering `address` and the offset into it, or nil outside
    /// the kernel's text.
    public func lookup(_ address: UInt64) -> (symbol: KernelSymbol, offset: UInt64)? {
        // Last symbol at or below address; the first among equal addresses.
        var low = 0, high = symbols.count
        while low < high {
            let middle = (low + high) / 2
            if symbols[middle].address <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        var index = low - 1
        let start = symbols[index].address
        while index > 0 && symbols[index - 1].address == start { index -= 1 }
        let symbol = symbols[index]
        let offset = address - symbol.address
        if let size = symbol.size, size > 0 {
            guard offset < size else { return nil }
        } else if low == symbols.count, offset >= Self.unsizedReach {
            return nil
        }
        return (symbol, offset)
    }

    /// `function+0x1f/0x80` (the size when known), as Linux prints stack entries.
    public func describe(_ address: UInt64) -> String? {
        guard let (symbol, offset) = lookup(address) else { return nil }
        let size = symbol.size.map { "/0x" + String($0, radix: 16) } ?? ""
        return "\(symbol.name)+0x\(String(offset, radix: 16))\(size)"
    }

    /// How far a relocated (KASLR) kernel runs from its link addresses, from
    /// one symbol whose run-time address a register gives away (x86's LSTAR
    /// holds entry_SYSCALL_64, arm64's VBAR_EL1 holds vectors). Nil when the
    /// table lacks the anchor or the register is not set up yet (before the
    /// guest set it, it points below the kernel).
    /// The slide wraps: a table taken from another boot of the same kernel
    /// (its /proc/kallsyms) may sit above or below this boot's addresses.
    public func slide(anchor: String, runningAt runtimeAddress: UInt64) -> UInt64? {
        guard runtimeAddress != 0, let linked = address(of: anchor) else { return nil }
        return runtimeAddress &- linked
    }
}

/// System.map: `ffffffff81000000 T _text` per line; /proc/kallsyms has the
/// same shape (module symbols carry a `[module]` column and are skipped: they
/// live wherever the guest loaded them). Only text symbols (T, t, W, w) are
/// kept: an instruction pointer is never in data.
public enum SystemMap {
    public static func parse(_ text: String) -> KernelSymbolTable {
        var symbols: [KernelSymbol] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 3, fields[1].count == 1, "TtWw".contains(fields[1]),
                  let address = UInt64(fields[0], radix: 16), address != 0 else { continue }
            symbols.append(KernelSymbol(name: String(fields[2]), address: address))
        }
        return KernelSymbolTable(symbols: symbols)
    }
}
