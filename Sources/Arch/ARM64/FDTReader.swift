import CFDT

/// Reads a flattened device tree back with libfdt (fdt_check_header,
/// fdt_path_offset, fdt_getprop): tests and `--dump-dtb` use it to check that
/// what lkvm built is what a kernel will parse.
public struct FDTReader {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) throws(FDTError) {
        self.bytes = bytes
        let result = Self.withTree(bytes) { fdt_check_header($0) }
        guard result == 0 else { throw .libfdt(call: "fdt_check_header", code: result, reason: Self.reason(result)) }
    }

    /// Whether a node exists at `path` ("/", "/cpus/cpu@0").
    public func hasNode(_ path: String) -> Bool {
        offset(path) >= 0
    }

    /// The raw value of property `name` of the node at `path`, nil if either is missing.
    public func property(_ path: String, _ name: String) -> [UInt8]? {
        Self.withTree(bytes) { fdt -> [UInt8]? in
            let node = path.withCString { fdt_path_offset(fdt, $0) }
            guard node >= 0 else { return nil }
            var length: Int32 = 0
            guard let value = name.withCString({ fdt_getprop(fdt, node, $0, &length) }), length >= 0 else { return nil }
            // SAFETY: fdt_getprop points `length` bytes into the tree, which lives until the closure returns.
            return Array(UnsafeRawBufferPointer(start: value, count: Int(length)))
        }
    }

    /// The property as 32-bit big-endian cells.
    public func cells(_ path: String, _ name: String) -> [UInt32]? {
        guard let value = property(path, name), value.count % 4 == 0 else { return nil }
        return stride(from: 0, to: value.count, by: 4).map { index in
            value[index..<(index + 4)].reduce(0) { $0 << 8 | UInt32($1) }
        }
    }

    /// The property as a list of NUL-terminated strings.
    public func strings(_ path: String, _ name: String) -> [String]? {
        guard let value = property(path, name), value.last == 0 else { return nil }
        return value.dropLast().split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Names of the direct children of the node at `path`, in tree order.
    public func children(_ path: String) -> [String] {
        Self.withTree(bytes) { fdt -> [String] in
            var names: [String] = []
            let parent = path.withCString { fdt_path_offset(fdt, $0) }
            guard parent >= 0 else { return [] }
            var child = fdt_first_subnode(fdt, parent)
            while child >= 0 {
                if let name = fdt_get_name(fdt, child, nil) { names.append(String(cString: name)) }
                child = fdt_next_subnode(fdt, child)
            }
            return names
        }
    }

    private func offset(_ path: String) -> Int32 {
        Self.withTree(bytes) { fdt in path.withCString { fdt_path_offset(fdt, $0) } }
    }

    private static func reason(_ code: Int32) -> String { String(cString: fdt_strerror(code)) }

    private static func withTree<T>(_ bytes: [UInt8], _ body: (UnsafeRawPointer) -> T) -> T {
        // SAFETY: libfdt only reads the tree; fdt_check_header (run first) makes
        // sure its offsets stay inside the buffer, which lives for the call.
        bytes.withUnsafeBytes { body($0.baseAddress!) }
    }
}
