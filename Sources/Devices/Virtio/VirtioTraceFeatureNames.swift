/// Feature bit names for trace lines, as the virtio 1.2 spec spells them
/// without their `VIRTIO_F_` / `VIRTIO_BLK_F_` prefixes. Bits 24 to 40 are
/// the transport's and ring's (section 6); bits below 24 belong to the device
/// type (section 5).
enum VirtioTraceFeatureNames {
    static func name(ofBit bit: Int, type: VirtioDeviceType) -> String? {
        if let name = common[bit] { return name }
        guard bit < 24 else { return nil }
        switch type {
        case .block: return block[bit]
        case .console: return console[bit]
        case .network: return network[bit]
        case .ninePTransport: return bit == 0 ? "MOUNT_TAG" : nil
        case .entropy: return nil
        case .socket: return bit == 0 ? "STREAM" : bit == 1 ? "SEQPACKET" : nil
        case .balloon: return balloon[bit]
        }
    }

    static let common: [Int: String] = [
        24: "NOTIFY_ON_EMPTY", 27: "ANY_LAYOUT", 28: "INDIRECT_DESC", 29: "EVENT_IDX",
        32: "VERSION_1", 33: "ACCESS_PLATFORM", 34: "RING_PACKED", 35: "IN_ORDER",
        36: "ORDER_PLATFORM", 37: "SR_IOV", 38: "NOTIFICATION_DATA", 39: "NOTIF_CONFIG_DATA",
        40: "RING_RESET",
    ]

    static let block: [Int: String] = [
        1: "SIZE_MAX", 2: "SEG_MAX", 4: "GEOMETRY", 5: "RO", 6: "BLK_SIZE", 9: "FLUSH",
        10: "TOPOLOGY", 11: "CONFIG_WCE", 12: "MQ", 13: "DISCARD", 14: "WRITE_ZEROES",
        15: "LIFETIME", 16: "SECURE_ERASE", 17: "ZONED",
    ]

    static let balloon: [Int: String] = [
        0: "MUST_TELL_HOST", 1: "STATS_VQ", 2: "DEFLATE_ON_OOM", 3: "FREE_PAGE_HINT",
        4: "PAGE_POISON", 5: "PAGE_REPORTING",
    ]

    static let console: [Int: String] = [0: "SIZE", 1: "MULTIPORT", 2: "EMERG_WRITE"]

    static let network: [Int: String] = [
        0: "CSUM", 1: "GUEST_CSUM", 2: "CTRL_GUEST_OFFLOADS", 3: "MTU", 5: "MAC",
        7: "GUEST_TSO4", 8: "GUEST_TSO6", 9: "GUEST_ECN", 10: "GUEST_UFO", 11: "HOST_TSO4",
        12: "HOST_TSO6", 13: "HOST_ECN", 14: "HOST_UFO", 15: "MRG_RXBUF", 16: "STATUS",
        17: "CTRL_VQ", 18: "CTRL_RX", 19: "CTRL_VLAN", 21: "GUEST_ANNOUNCE", 22: "MQ",
        23: "CTRL_MAC_ADDR",
    ]
}
