import Glibc
import LKVMCore

/// How much of a guest RAM mapping the host kernel holds in memory: the
/// `Rss:` of its entry in /proc/self/smaps, in bytes. nil when the entry
/// cannot be found (no procfs). Tests use it to see that memory given back
/// with `GuestMemory.discard` really left the process.
public func residentBytes(of mapping: HostMapping) -> UInt64? {
    guard let file = fopen("/proc/self/smaps", "r") else { return nil }
    defer { fclose(file) }
    let start = String(mapping.hostAddress, radix: 16)
    var inMapping = false
    var line = [CChar](repeating: 0, count: 4096)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if let dash = text.firstIndex(of: "-"), text[..<dash].allSatisfy(\.isHexDigit) {
            inMapping = text[..<dash] == start
            continue
        }
        guard inMapping, text.hasPrefix("Rss:") else { continue }
        let kib = text.dropFirst(4).split(separator: " ").first.flatMap { UInt64($0) }
        return kib.map { $0 * 1024 }
    }
    return nil
}
