import CFDT

/// Builds a flattened device tree with libfdt's sequential-write API
/// (fdt_create, fdt_begin_node, fdt_property, fdt_end_node, fdt_finish). The
/// buffer is the largest tree arm64 kernels accept, so running out of space
/// means the tree is too large, never that the buffer should grow.
public struct FDTWriter {
    private var buffer: [UInt8]
    private let capacity: Int

    public init(capacity: Int = Int(ARM64BootLayout.deviceTreeMaxSize)) throws(FDTError) {
        self.capacity = capacity
        buffer = [UInt8](repeating: 0, count: capacity)
        try call("fdt_create") { fdt_create($0, Int32($1)) }
        // No memory reservations: the device tree and initrd are described by /chosen.
        try call("fdt_finish_reservemap") { fdt, _ in fdt_finish_reservemap(fdt) }
    }

    public mutating func beginNode(_ name: String) throws(FDTError) {
        try call("fdt_begin_node(\(name))") { fdt, _ in name.withCString { fdt_begin_node(fdt, $0) } }
    }

    public mutating func endNode() throws(FDTError) {
        try call("fdt_end_node") { fdt, _ in fdt_end_node(fdt) }
    }

    /// A property with raw bytes as its value (empty for a boolean property).
    public mutating func property(_ name: String, bytes: [UInt8]) throws(FDTError) {
        try call("fdt_property(\(name))") { fdt, _ in
            name.withCString { cName in
                // SAFETY: libfdt copies `bytes.count` bytes from the pointer before returning.
                bytes.withUnsafeBytes { fdt_property(fdt, cName, $0.baseAddress, Int32($0.count)) }
            }
        }
    }

    public mutating func property(_ name: String) throws(FDTError) {
        try property(name, bytes: [])
    }

    /// A string list: each NUL-terminated, one after the other.
    public mutating func property(_ name: String, strings: [String]) throws(FDTError) {
        try property(name, bytes: strings.flatMap { Array($0.utf8) + [0] })
    }

    public mutating func property(_ name: String, string: String) throws(FDTError) {
        try property(name, strings: [string])
    }

    /// 32-bit cells, big-endian as the device tree stores them.
    public mutating func property(_ name: String, cells: [UInt32]) throws(FDTError) {
        try property(name, bytes: cells.flatMap { cell in (0..<4).map { UInt8(truncatingIfNeeded: cell >> (24 - 8 * $0)) } })
    }

    /// Finishes the tree and returns exactly its bytes (fdt_totalsize).
    public consuming func finish() throws(FDTError) -> [UInt8] {
        try call("fdt_finish") { fdt, _ in fdt_finish(fdt) }
        let totalSize = (4..<8).reduce(0) { $0 << 8 | Int(buffer[$1]) }
        return Array(buffer[..<totalSize])
    }

    /// Runs one libfdt call on the buffer; a negative result becomes an FDTError.
    private mutating func call(_ name: String, _ body: (UnsafeMutableRawPointer, Int) -> Int32) throws(FDTError) {
        // SAFETY: the buffer is `capacity` bytes and outlives the call; libfdt's
        // sequential-write state lives inside the buffer, not behind the pointer.
        let result = buffer.withUnsafeMutableBytes { body($0.baseAddress!, $0.count) }
        guard result >= 0 else {
            if result == -FDT_ERR_NOSPACE { throw .tooLarge(limit: capacity) }
            throw .libfdt(call: name, code: result, reason: String(cString: fdt_strerror(result)))
        }
    }
}
