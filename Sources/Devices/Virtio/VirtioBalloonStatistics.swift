/// A statsq buffer (virtio 1.2 section 5.5.6.3): packed entries of a le16 tag
/// and a le64 value. Tags the spec defines are kept, by name, in tag order
/// (the last entry wins when a tag repeats); unknown tags and a trailing
/// partial entry are ignored.
struct VirtioBalloonStatistics {
    /// Entries read from one buffer. Linux sends one per tag it knows (10 to
    /// 16); a guest offering more gets the first ones read.
    static let maxEntries = 64
    static let maxBytes = maxEntries * VirtioBalloonStatTag.entrySize

    let values: [(name: String, value: UInt64)]

    init(bytes: [UInt8]) {
        var byTag: [UInt16: UInt64] = [:]
        var offset = 0
        while offset + VirtioBalloonStatTag.entrySize <= min(bytes.count, Self.maxBytes) {
            let tag = UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
            let value = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + 2 + $1]) << (8 * $1) }
            offset += VirtioBalloonStatTag.entrySize
            if VirtioBalloonStatTag.names[tag] != nil { byTag[tag] = value }
        }
        values = byTag.sorted { $0.key < $1.key }.compactMap { tag, value in
            VirtioBalloonStatTag.names[tag].map { (name: $0, value: value) }
        }
    }
}
