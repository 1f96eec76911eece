import LKVMCore

/// The board's BAR windows as firmware fills them: 64-bit memory BARs go to
/// mmio64 when the board has one, else to mmio32 like 32-bit ones; I/O BARs
/// go to the port window.
struct PCIBARAllocators: Sendable {
    private var mmio32: PCIBARAllocator
    private var mmio64: PCIBARAllocator?
    private var io: PCIBARAllocator?

    init(windows: PCIWindows) {
        mmio32 = PCIBARAllocator(name: "pci.mmio32", start: windows.mmio32.start.raw, end: windows.mmio32.end)
        mmio64 = windows.mmio64.map { PCIBARAllocator(name: "pci.mmio64", start: $0.start.raw, end: $0.end) }
        io = windows.ioPorts.map { PCIBARAllocator(name: "pci.io", start: UInt64($0.start), end: UInt64($0.end)) }
    }

    /// Bases for every BAR of `function`, largest first so that alignment
    /// wastes the least; all or nothing, since `self` is only changed on success.
    mutating func place(_ bars: [(index: Int, kind: PCIBARKind, size: UInt64)],
                        for function: PCIDeviceAddress) throws(PCIError) -> [(index: Int, address: UInt64)] {
        var trial = self
        var placed: [(index: Int, address: UInt64)] = []
        for bar in bars.sorted(by: { ($0.size, -$0.index) > ($1.size, -$1.index) }) {
            placed.append((bar.index, try trial.allocate(bar, for: function)))
        }
        self = trial
        return placed.sorted { $0.index < $1.index }
    }

    private mutating func allocate(_ bar: (index: Int, kind: PCIBARKind, size: UInt64),
                                   for function: PCIDeviceAddress) throws(PCIError) -> UInt64 {
        switch bar.kind {
        case .io:
            guard var window = io else { throw .noWindow(window: "pci.io", function: function, bar: bar.index) }
            defer { io = window }
            return try Self.allocate(bar, in: &window, for: function)
        case .memory64 where mmio64 != nil:
            var window = mmio64!
            defer { mmio64 = window }
            return try Self.allocate(bar, in: &window, for: function)
        case .memory32, .memory64:
            return try Self.allocate(bar, in: &mmio32, for: function)
        }
    }

    private static func allocate(_ bar: (index: Int, kind: PCIBARKind, size: UInt64), in window: inout PCIBARAllocator,
                                 for function: PCIDeviceAddress) throws(PCIError) -> UInt64 {
        guard let base = window.allocate(size: bar.size) else {
            throw .windowExhausted(window: window.name, function: function, bar: bar.index, size: bar.size)
        }
        return base
    }
}
