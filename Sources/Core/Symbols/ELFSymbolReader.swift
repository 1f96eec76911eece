import CElf
import Glibc

/// Why a kernel's symbols could not be read.
public enum KernelSymbolError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case notELF(path: String)
    case noSymbols(path: String)
    case noTextSymbols(path: String)
    case elf(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open kernel symbols '\(path)': \(reason)"
        case .notELF(let path): "'\(path)' is neither an ELF kernel (vmlinux) nor a System.map"
        case .noSymbols(let path): "'\(path)' has no function symbols (a stripped kernel?)"
        case .noTextSymbols(let path):
            "'\(path)' lists no kernel text symbols (Debian's System.map is a placeholder: the real one is in "
                + "the linux-image-VERSION-dbg package; /proc/kallsyms of the same kernel also works)"
        case .elf(let path, let reason): "'\(path)': \(reason)"
        }
    }
}

/// Function symbols of an ELF kernel (vmlinux), through libelf.
public enum ELFSymbolReader {
    public static func read(path: String) throws(KernelSymbolError) -> KernelSymbolTable {
        guard elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE) else {
            throw .elf(path: path, reason: "libelf is too old")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard let elf = elf_begin(fd, ELF_C_READ, nil) else { throw .elf(path: path, reason: errorText()) }
        defer { elf_end(elf) }
        guard elf_kind(elf) == ELF_K_ELF else { throw .notELF(path: path) }
        var symbols: [KernelSymbol] = []
        var section = elf_nextscn(elf, nil)
        while let current = section {
            var header = GElf_Shdr()
            if gelf_getshdr(current, &header) != nil, header.sh_type == UInt32(SHT_SYMTAB), header.sh_entsize > 0,
               let data = elf_getdata(current, nil) {
                let count = Int(header.sh_size / header.sh_entsize)
                for index in 0..<count {
                    var symbol = GElf_Sym()
                    guard gelf_getsym(data, Int32(index), &symbol) != nil else { break }
                    // ELF64_ST_TYPE: the low nibble of st_info.
                    guard symbol.st_info & 0xF == UInt8(STT_FUNC), symbol.st_value != 0,
                          let name = elf_strptr(elf, Int(header.sh_link), Int(symbol.st_name)) else { continue }
                    symbols.append(KernelSymbol(name: String(cString: name), address: symbol.st_value,
                                                size: symbol.st_size))
                }
            }
            section = elf_nextscn(elf, current)
        }
        guard !symbols.isEmpty else { throw .noSymbols(path: path) }
        return KernelSymbolTable(symbols: symbols)
    }

    private static func errorText() -> String {
        guard let message = elf_errmsg(-1) else { return "libelf failed" }
        return String(cString: message)
    }
}

/// Finds and loads a kernel's symbols: an explicit file, else the places a
/// kernel developer's tree and Debian put them next to the kernel image.
public enum KernelSymbolFiles {
    /// Files that may hold `kernelPath`'s symbols, most specific first.
    /// A build tree's `arch/ARCH/boot/bzImage` has `vmlinux` and
    /// `System.map` three levels up; Debian's `/boot/vmlinuz-VER` has
    /// `/boot/System.map-VER` beside it.
    public static func candidates(kernelPath: String) -> [String] {
        let parts = kernelPath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let directory = parts.count > 1 ? parts.dropLast().joined(separator: "/") : "."
        let file = parts.last ?? kernelPath
        var found: [String] = []
        if file.hasPrefix("vmlinuz-") || file.hasPrefix("vmlinux-") {
            let version = String(file.dropFirst("vmlinuz-".count))
            found += ["\(directory)/System.map-\(version)", "/usr/lib/debug/boot/vmlinux-\(version)"]
        }
        found += ["\(directory)/System.map", "\(directory)/vmlinux"]
        if parts.count >= 4, parts[parts.count - 2] == "boot", parts[parts.count - 4] == "arch" {
            let tree = parts.dropLast(4).joined(separator: "/")
            let root = tree.isEmpty && kernelPath.hasPrefix("/") ? "" : (tree.isEmpty ? "." : tree)
            found += ["\(root)/System.map", "\(root)/vmlinux"]
        }
        return found
    }

    /// The first candidate that exists, or nil.
    public static func locate(kernelPath: String) -> String? {
        candidates(kernelPath: kernelPath).first { access($0, R_OK) == 0 }
    }

    /// Reads an ELF kernel or a System.map, whichever `path` is.
    public static func load(path: String) throws(KernelSymbolError) -> KernelSymbolTable {
        let head: [UInt8]
        do { head = try HostFile.readPrefix(path, count: 4) } catch {
            throw .cannotOpen(path: path, reason: error.description)
        }
        if head == [0x7F, 0x45, 0x4C, 0x46] { return try ELFSymbolReader.read(path: path) }
        let bytes: [UInt8]
        do { bytes = try HostFile.read(path, limit: 256 << 20) } catch {
            throw .cannotOpen(path: path, reason: error.description)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let table = SystemMap.parse(text)
        guard !table.isEmpty else {
            // Text with symbol-table lines but no code symbols, or something else entirely.
            let looksLikeAMap = text.split(separator: "\n").prefix(4).contains { $0.split(separator: " ").count >= 3 }
            throw looksLikeAMap ? .noTextSymbols(path: path) : .notELF(path: path)
        }
        return table
    }
}
