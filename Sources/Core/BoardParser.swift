/// Turns board-file text into a `Board`, checking each key as it goes; the
/// rules that relate keys to each other live in BoardValidation.swift.
enum BoardParser {
    /// TOML allows no control character but tab, LF and CR (escaped in
    /// strings, nowhere else): refused up front with their position, as the
    /// toml++ parser lkvm used before aborted on some (docs/fuzzing.md).
    static func refuseControlCharacters(_ text: String, fileName: String) throws(BoardError) {
        var line = 1, column = 1
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if (value < 0x20 && value != 0x09 && value != 0x0A && value != 0x0D) || value == 0x7F {
                let hex = String(value, radix: 16, uppercase: true)
                let code = "U+" + String(repeating: "0", count: 4 - hex.count) + hex
                throw BoardError(file: fileName, line: line, column: column,
                                 message: "TOML syntax error: control character \(code) is not allowed")
            }
            if value == 0x0A { line += 1; column = 1 } else { column += 1 }
        }
    }

    /// A table header's `[` or `[[` not followed by a key (`[!a]`,
    /// `[[\u{FFFD}x]]`, on which toml++, the parser before lkvm's own, aborted)
    /// is refused with this message.
    /// A small scanner finds header brackets: a `[` first on its line, outside
    /// strings, comments and multi-line values.
    static func refuseKeylessTableHeaders(_ text: String, fileName: String) throws(BoardError) {
        let scalars = Array(text.unicodeScalars)
        var index = 0, line = 1, lineStartIndex = 0
        var open: [Unicode.Scalar] = [], atLineStart = true, inComment = false
        var quote: (delimiter: Unicode.Scalar, multiLine: Bool)? = nil
        // The next scalar that is not whitespace, a line end or in a comment.
        func nextSignificant(after start: Int) -> Unicode.Scalar? {
            var at = start + 1, comment = false
            while at < scalars.count {
                let next = scalars[at]
                if next == "\n" { comment = false } else if next == "#" { comment = true }
                else if !comment, next != " ", next != "\t", next != "\r" { return next }
                at += 1
            }
            return nil
        }
        func isTriple(_ at: Int, _ scalar: Unicode.Scalar) -> Bool {
            at + 2 < scalars.count && scalars[at] == scalar && scalars[at + 1] == scalar && scalars[at + 2] == scalar
        }
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\n" {
                line += 1; lineStartIndex = index + 1; inComment = false
                if quote?.multiLine == false { quote = nil }
                atLineStart = open.isEmpty && quote == nil
                index += 1; continue
            }
            if inComment { index += 1; continue }
            if let open = quote {
                if scalar == "\\" && open.delimiter == "\"" { index += 2; continue }
                if open.multiLine ? isTriple(index, open.delimiter) : scalar == open.delimiter {
                    quote = nil; index += open.multiLine ? 3 : 1
                } else {
                    index += 1
                }
                continue
            }
            switch scalar {
            case " ", "\t", "\r": index += 1; continue
            case "#": inComment = true
            case "\"", "'":
                let multiLine = isTriple(index, scalar)
                quote = (scalar, multiLine); index += multiLine ? 3 : 1; atLineStart = false; continue
            case "[" where atLineStart:
                var next = index + 1
                if next < scalars.count, scalars[next] == "[" { next += 1 }
                while next < scalars.count, scalars[next] == " " || scalars[next] == "\t" { next += 1 }
                let first = next < scalars.count ? scalars[next] : "\n"
                let isKeyStart = ("0"..."9").contains(first) || ("a"..."z").contains(first)
                    || ("A"..."Z").contains(first) || "_-\"']".unicodeScalars.contains(first)
                guard isKeyStart else {
                    throw BoardError(file: fileName, line: line, column: index - lineStartIndex + 1,
                                     message: "TOML syntax error: a table header must start with a key")
                }
                // The rest of the header line is not a value: its brackets do not nest.
                atLineStart = false; index = next
                while index < scalars.count, scalars[index] != "\n", scalars[index] != "#" {
                    if scalars[index] == "\"" || scalars[index] == "'" {
                        let delimiter = scalars[index]; index += 1
                        while index < scalars.count, scalars[index] != delimiter, scalars[index] != "\n" {
                            index += scalars[index] == "\\" && delimiter == "\"" ? 2 : 1
                        }
                        if index < scalars.count, scalars[index] == delimiter { index += 1 }
                    } else {
                        index += 1
                    }
                }
                continue
            case "[", "{", ",":
                if scalar == ",", open.last != "[" { break }  // a comma outside an array: nothing to check
                if scalar != "," { open.append(scalar) }
                // toml++ asserts (aborts) on a `}` where an array element should start.
                if open.last == "[", nextSignificant(after: index) == "}" {
                    throw BoardError(file: fileName, line: line, column: index - lineStartIndex + 1,
                                     message: "TOML syntax error: '}' inside an array")
                }
            case "]", "}": if !open.isEmpty { open.removeLast() }
            default: break
            }
            atLineStart = false
            index += 1
        }
    }

    static func parse(text: String, fileName: String) throws(BoardError) -> Board {
        try refuseControlCharacters(text, fileName: fileName)
        try refuseKeylessTableHeaders(text, fileName: fileName)
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(text)
        } catch {
            throw BoardError(file: fileName, line: error.line, column: error.column,
                             message: "TOML syntax error: \(error.message)")
        }
        let reader = BoardTOMLReader(table: root, path: "", file: fileName)

        let name = try reader.string("name")
        guard !name.isEmpty else { throw reader.error("name", "must not be empty") }
        let architectureName = try reader.choice("architecture", from: Architecture.allCases.map(\.rawValue),
                                                 what: "architecture")
        let description = try reader.optionalString("description") ?? ""
        let transportName = try reader.choice("default_transport", from: VirtioTransport.allCases.map(\.rawValue),
                                              what: "virtio transport")
        let cpus = try parseCPUs(try reader.table("cpus"))
        let ram = try parseRAM(try reader.table("ram"))
        let controller = try parseInterruptController(try reader.table("interrupt_controller"))
        var devices: [DeviceSpec] = []
        for deviceReader in try reader.arrayOfTables("devices") {
            devices.append(try parseDevice(deviceReader))
        }
        var pci: PCIWindows?
        if let sub = try reader.optionalTable("pci") { pci = try parsePCI(sub) }
        var virtioMMIO: VirtioMMIOWindow?
        if let sub = try reader.optionalTable("virtio_mmio") { virtioMMIO = try parseVirtioMMIO(sub) }
        try reader.finish()

        let board = Board(
            name: name, architecture: Architecture(rawValue: architectureName)!, description: description,
            fileName: fileName, cpus: cpus, ram: ram, interruptController: controller, devices: devices,
            pci: pci, virtioMMIO: virtioMMIO, defaultTransport: VirtioTransport(rawValue: transportName)!)
        try board.validateLayout()
        return board
    }

    static func parseCPUs(_ reader: BoardTOMLReader) throws(BoardError) -> CPUCount {
        let defaultCount = try reader.positiveInteger("default")
        let maxCount = try reader.positiveInteger("max")
        try reader.finish()
        guard defaultCount <= maxCount else {
            throw reader.error("default", "\(defaultCount) is above cpus.max (\(maxCount))")
        }
        return CPUCount(defaultCount: defaultCount, maxCount: maxCount)
    }

    static func parseRAM(_ reader: BoardTOMLReader) throws(BoardError) -> RAMLayout {
        let base = try reader.address("base")
        try requireAligned(base, RAMLayout.pageSize, reader, "base")
        let defaultMiB = try reader.positiveInteger("default_mib")
        let minimumMiB = try reader.optionalInteger("minimum_mib", max: Int.max)
        if let minimumMiB {
            guard minimumMiB > 0 else { throw reader.error("minimum_mib", "must be at least 1") }
            guard defaultMiB >= minimumMiB else {
                throw reader.error("default_mib", "\(defaultMiB) MiB is below ram.minimum_mib (\(minimumMiB) MiB)")
            }
        }
        let maxAddress = try reader.optionalAddress("max_address")
        if let maxAddress, maxAddress <= base {
            throw reader.error("max_address", "\(hex(maxAddress)) must lie above ram.base \(hex(base))")
        }

        var holes: [GuestRange] = []
        for hole in try reader.arrayOfTables("holes") {
            let range = try hole.rangeFields()
            try hole.finish()
            try requireAligned(range.start.raw, RAMLayout.pageSize, hole, "base")
            try requireAligned(range.size, RAMLayout.pageSize, hole, "size")
            guard range.start.raw > base else {
                throw hole.error("base", "\(hex(range.start.raw)) must lie above ram.base \(hex(base)) (RAM starts at base)")
            }
            if let other = holes.firstIndex(where: { $0.overlaps(range) }) {
                throw hole.error(nil, "\(range) overlaps ram.holes[\(other)] \(holes[other])")
            }
            holes.append(range)
        }

        var reserved: [NamedRange] = []
        for entry in try reader.arrayOfTables("reserved") {
            let name = try entry.string("name")
            guard !name.isEmpty else { throw entry.error("name", "must not be empty") }
            let range = try entry.rangeFields()
            try entry.finish()
            reserved.append(NamedRange(name: name, range: range))
        }
        try reader.finish()
        return RAMLayout(base: GuestAddress(base), defaultMiB: defaultMiB, minimumMiB: minimumMiB,
                         maxAddress: maxAddress, holes: holes, reserved: reserved, fileName: reader.file)
    }

    static func parsePCI(_ reader: BoardTOMLReader) throws(BoardError) -> PCIWindows {
        let ecam = try reader.range("ecam")
        try requireAligned(ecam.start.raw, PCIWindows.ecamBytesPerBus, reader, "ecam.base", unit: "1 MiB (ECAM)")
        try requireAligned(ecam.size, PCIWindows.ecamBytesPerBus, reader, "ecam.size", unit: "1 MiB (one bus)")
        guard ecam.size <= PCIWindows.ecamBytesPerBus * PCIWindows.maxBuses else {
            throw reader.error("ecam.size", "\(hex(ecam.size)) covers more than 256 buses (at most 0x10000000)")
        }

        let mmio32 = try reader.range("mmio32")
        try requireAligned(mmio32.start.raw, RAMLayout.pageSize, reader, "mmio32.base")
        try requireAligned(mmio32.size, RAMLayout.pageSize, reader, "mmio32.size")
        guard mmio32.end <= 1 << 32 else {
            throw reader.error("mmio32", "\(mmio32) must end at or below 4 GiB (32-bit BARs)")
        }

        let mmio64 = try reader.optionalRange("mmio64")
        if let mmio64 {
            try requireAligned(mmio64.start.raw, RAMLayout.pageSize, reader, "mmio64.base")
            try requireAligned(mmio64.size, RAMLayout.pageSize, reader, "mmio64.size")
            guard mmio64.start.raw >= 1 << 32 else {
                throw reader.error("mmio64.base", "\(hex(mmio64.start.raw)) must lie at or above 4 GiB (use mmio32 below)")
            }
        }

        var ioPorts: PortRange?
        if let ports = try reader.optionalTable("io_ports") {
            let base = try ports.port("base")
            let size = try ports.integer("size", max: 0x10000, hexadecimal: true)
            try ports.finish()
            guard let range = PortRange(start: base, count: UInt32(size)) else {
                throw ports.error("size", "\(hex(base)) + \(hex(size)) must be non-empty and end at or below 0x10000")
            }
            ioPorts = range
        }

        var intxIRQs: Range<Int>?
        if let lines = try reader.optionalTable("intx_irqs") {
            let first = try lines.integer("first", max: Int(Int32.max))
            let count = try lines.positiveInteger("count", max: 1024)
            try lines.finish()
            intxIRQs = first..<(first + count)
        }
        try reader.finish()
        return PCIWindows(ecam: ecam, mmio32: mmio32, mmio64: mmio64, ioPorts: ioPorts, intxIRQs: intxIRQs)
    }

    static func parseVirtioMMIO(_ reader: BoardTOMLReader) throws(BoardError) -> VirtioMMIOWindow {
        let base = try reader.address("base")
        try requireAligned(base, RAMLayout.pageSize, reader, "base")
        let stride = UInt64(try reader.integer("stride", hexadecimal: true))
        guard stride >= VirtioMMIOWindow.minimumStride, stride & (stride - 1) == 0 else {
            throw reader.error("stride",
                               "\(hex(stride)) must be a power of two of at least 0x200 (one virtio-mmio register block)")
        }
        let count = try reader.positiveInteger("count", max: 1024)
        let firstIRQ = try reader.integer("first_irq", max: Int(Int32.max))
        try reader.finish()
        let (size, overflow) = stride.multipliedReportingOverflow(by: UInt64(count))
        guard !overflow, GuestRange(start: GuestAddress(base), size: size) != nil else {
            throw reader.error("count",
                               "\(count) slots of \(hex(stride)) from \(hex(base)) run past the end of the address space")
        }
        return VirtioMMIOWindow(base: GuestAddress(base), stride: stride, count: count, firstIRQ: firstIRQ)
    }

    static func requireAligned(_ value: UInt64, _ alignment: UInt64, _ reader: BoardTOMLReader, _ key: String,
                               unit: String? = nil) throws(BoardError) {
        guard value % alignment != 0 else { return }
        let what = unit ?? (alignment == RAMLayout.pageSize ? "4 KiB (one page)" : hex(alignment))
        throw reader.error(key, "\(hex(value)) is not a multiple of \(what)")
    }
}
