import Glibc

/// Hand-built frames for the slirp tests: what a guest would send, and
/// readers for what libslirp sends back. Offsets from RFC 894 (Ethernet),
/// 791 (IPv4), 792 (ICMP), 768 (UDP), 793 (TCP), 826 (ARP), 951/2131/2132 (BOOTP, DHCP).
enum SlirpTestFrames {
    static let guestMAC: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
    static let guestAddress: [UInt8] = [10, 0, 2, 15]
    static let ethernetHeaderSize = 14
    static let vnetHeader = [UInt8](repeating: 0, count: 12)

    /// A DHCPDISCOVER from `guestMAC`: broadcast, 0.0.0.0:68 → 255.255.255.255:67.
    static func dhcpDiscover(transaction: UInt32) -> [UInt8] {
        var bootp = [UInt8](repeating: 0, count: 240)
        bootp[0] = 1                                  // op BOOTREQUEST
        bootp[1] = 1                                  // htype Ethernet
        bootp[2] = 6                                  // hlen
        bootp.replaceSubrange(4..<8, with: bigEndian(transaction))
        bootp.replaceSubrange(28..<34, with: guestMAC) // chaddr
        bootp.replaceSubrange(236..<240, with: [0x63, 0x82, 0x53, 0x63]) // magic cookie
        bootp += [53, 1, 1, 255]                      // DHCP message type DISCOVER, end
        bootp += [UInt8](repeating: 0, count: 548 - bootp.count) // BOOTP's minimum size
        let udp = bigEndian(UInt16(68)) + bigEndian(UInt16(67)) + bigEndian(UInt16(8 + bootp.count)) + [0, 0] + bootp
        let ip = ipv4Header(protocolNumber: 17, source: [0, 0, 0, 0], destination: [255, 255, 255, 255],
                            payloadLength: udp.count) + udp
        return [UInt8](repeating: 0xFF, count: 6) + guestMAC + [0x08, 0x00] + ip
    }

    /// An ICMP echo request from 10.0.2.15 to 10.0.2.2, the gateway (libslirp's MAC 52:55:0a:00:02:02).
    static func echoRequestToGateway(sequence: UInt16) -> [UInt8] {
        var icmp: [UInt8] = [8, 0, 0, 0, 0x12, 0x34] + bigEndian(sequence) + Array("lkvm".utf8)
        icmp.replaceSubrange(2..<4, with: bigEndian(internetChecksum(icmp)))
        let ip = ipv4Header(protocolNumber: 1, source: guestAddress, destination: [10, 0, 2, 2],
                            payloadLength: icmp.count) + icmp
        return [0x52, 0x55, 0x0A, 0x00, 0x02, 0x02] + guestMAC + [0x08, 0x00] + ip
    }

    /// An ICMP echo reply's source address and sequence number.
    static func echoReply(_ frame: [UInt8]) -> (source: [UInt8], sequence: UInt16)? {
        guard let (protocolNumber, _, icmp) = ipv4Payload(frame), protocolNumber == 1, icmp.count >= 8, icmp[0] == 0 else {
            return nil
        }
        return (Array(frame[26..<30]), port(icmp, at: 6))
    }

    /// The guest's ARP reply to `request` when it asks for 10.0.2.15; nil otherwise.
    static func arpReply(to request: [UInt8]) -> [UInt8]? {
        guard etherType(request) == 0x0806, request.count >= 14 + 28 else { return nil }
        let arp = Array(request[14...])
        guard arp[6] == 0, arp[7] == 1, Array(arp[24..<28]) == guestAddress else { return nil }
        let asker = Array(arp[8..<14])
        let askerAddress = Array(arp[14..<18])
        return asker + guestMAC + [0x08, 0x06]
            + [0, 1, 0x08, 0x00, 6, 4, 0, 2] + guestMAC + guestAddress + asker + askerAddress
    }

    static func etherType(_ frame: [UInt8]) -> UInt16? {
        frame.count >= 14 ? UInt16(frame[12]) << 8 | UInt16(frame[13]) : nil
    }

    /// IPv4 protocol number and payload (after the header), if an IPv4 frame.
    static func ipv4Payload(_ frame: [UInt8]) -> (protocolNumber: UInt8, destination: [UInt8], payload: [UInt8])? {
        guard etherType(frame) == 0x0800, frame.count >= 14 + 20 else { return nil }
        let ip = Array(frame[14...])
        let headerLength = Int(ip[0] & 0x0F) * 4
        let totalLength = Int(ip[2]) << 8 | Int(ip[3])
        guard ip[0] >> 4 == 4, headerLength >= 20, totalLength <= ip.count, headerLength <= totalLength else { return nil }
        return (ip[9], Array(ip[16..<20]), Array(ip[headerLength..<totalLength]))
    }

    /// A DHCP reply's offered address and message type (option 53).
    static func dhcpReply(_ frame: [UInt8]) -> (offered: [UInt8], messageType: UInt8?)? {
        guard let (protocolNumber, _, udp) = ipv4Payload(frame), protocolNumber == 17, udp.count >= 8 + 240,
              port(udp, at: 0) == 67, port(udp, at: 2) == 68 else { return nil }
        let bootp = Array(udp[8...])
        guard bootp[0] == 2, Array(bootp[236..<240]) == [0x63, 0x82, 0x53, 0x63] else { return nil }
        var index = 240
        var messageType: UInt8?
        while index + 1 < bootp.count, bootp[index] != 255 {
            if bootp[index] == 0 { index += 1; continue }
            let length = Int(bootp[index + 1])
            if bootp[index] == 53, length == 1, index + 2 < bootp.count { messageType = bootp[index + 2] }
            index += 2 + length
        }
        return (Array(bootp[16..<20]), messageType)
    }

    /// A TCP segment's destination address and port and whether it is a bare SYN.
    static func tcpSegment(_ frame: [UInt8]) -> (destination: [UInt8], port: UInt16, isSyn: Bool)? {
        guard let (protocolNumber, destination, tcp) = ipv4Payload(frame), protocolNumber == 6, tcp.count >= 20 else {
            return nil
        }
        let flags = tcp[13]
        return (destination, port(tcp, at: 2), flags & 0x02 != 0 && flags & 0x10 == 0)
    }

    private static func port(_ bytes: [UInt8], at offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    private static func ipv4Header(protocolNumber: UInt8, source: [UInt8], destination: [UInt8],
                                   payloadLength: Int) -> [UInt8] {
        var header: [UInt8] = [0x45, 0] + bigEndian(UInt16(20 + payloadLength)) + [0, 0, 0, 0, 64, protocolNumber, 0, 0]
            + source + destination
        header.replaceSubrange(10..<12, with: bigEndian(internetChecksum(header)))
        return header
    }

    /// RFC 1071: the one's complement of the one's complement sum of 16-bit words.
    private static func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        for index in stride(from: 0, to: bytes.count, by: 2) {
            sum += UInt32(bytes[index]) << 8 | UInt32(index + 1 < bytes.count ? bytes[index + 1] : 0)
        }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    private static func bigEndian(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}
