import Glibc

/// The host calls behind `TapBackend`, and the only unsafe pointers in the
/// network code: an open /dev/net/tun descriptor attached to one TAP
/// interface, and a pipe that wakes its poller. Facts from the kernel's
/// Documentation/networking/tuntap.rst and include/uapi/linux/if_tun.h.
final class TapFile: Sendable {
    // _IOW('T', 202, int), _IOW('T', 216, int), _IOW('T', 208, unsigned int):
    // (1 << 30 write) | (sizeof(int) 4 << 16) | ('T' 0x54 << 8) | number.
    // Swift cannot expand the _IOW macros, so they are computed here by hand.
    static let tunSetInterface: UInt = 0x4004_54CA       // TUNSETIFF
    static let tunSetVnetHeaderSize: UInt = 0x4004_54D8  // TUNSETVNETHDRSZ
    static let tunSetOffload: UInt = 0x4004_54D0         // TUNSETOFFLOAD
    // struct ifreq flags for TUNSETIFF (if_tun.h).
    static let interfaceTap: Int16 = 0x0002               // IFF_TAP
    static let interfaceNoPacketInfo: Int16 = 0x1000      // IFF_NO_PI
    static let interfaceVnetHeader: Int16 = 0x4000        // IFF_VNET_HDR
    /// struct ifreq: ifr_name[IFNAMSIZ = 16], then a 24-byte union whose
    /// ifr_flags (short) is at offset 16.
    static let ifreqSize = 40
    static let interfaceNameSize = 16

    let interface: String
    let descriptor: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32

    /// Opens /dev/net/tun non-blocking and attaches it to TAP interface
    /// `name` (made if it does not exist; then it lasts as long as this
    /// descriptor), with IFF_NO_PI, IFF_VNET_HDR, a 12-byte header and no
    /// offloads.
    init(name: String, headerSize: Int32) throws(NetBackendError) {
        #if _endian(big)
        #error("ifr_flags and the vnet header are written little-endian")
        #endif
        let path = "/dev/net/tun"
        let descriptor = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            let error = errno
            close(descriptor)
            throw .hostCall(call: "pipe", interface: name, errno: error)
        }
        for end in pipeEnds {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
        }
        self.descriptor = descriptor
        wakeRead = pipeEnds[0]
        wakeWrite = pipeEnds[1]
        // From here on deinit closes all three.
        var request = [UInt8](repeating: 0, count: Self.ifreqSize)
        let nameBytes = Array(name.utf8.prefix(Self.interfaceNameSize - 1))
        request.replaceSubrange(0..<nameBytes.count, with: nameBytes)
        let flags = UInt16(bitPattern: Self.interfaceTap | Self.interfaceNoPacketInfo | Self.interfaceVnetHeader)
        request[Self.interfaceNameSize] = UInt8(truncatingIfNeeded: flags)
        request[Self.interfaceNameSize + 1] = UInt8(truncatingIfNeeded: flags >> 8)
        // SAFETY: the kernel reads and writes the 40 bytes of struct ifreq,
        // which the array holds for the duration of the call.
        let attached = request.withUnsafeMutableBytes { ioctl(descriptor, Self.tunSetInterface, $0.baseAddress!) }
        // The kernel writes back the name it used (the same, for a name without %d).
        let used = request[0..<Self.interfaceNameSize].prefix { $0 != 0 }
        interface = attached == 0 ? String(decoding: used, as: UTF8.self) : name
        guard attached == 0 else { throw .ioctlFailed(request: "TUNSETIFF", interface: name, errno: errno) }
        var size = headerSize
        // SAFETY: TUNSETVNETHDRSZ reads one int from the pointer, alive for the call.
        guard ioctl(descriptor, Self.tunSetVnetHeaderSize, &size) == 0 else {
            throw .ioctlFailed(request: "TUNSETVNETHDRSZ", interface: name, errno: errno)
        }
        // TUNSETOFFLOAD takes its flags as the argument itself: 0, no
        // checksum or segmentation offload, so every frame read is complete.
        guard ioctl(descriptor, Self.tunSetOffload, CInt(0)) == 0 else {
            throw .ioctlFailed(request: "TUNSETOFFLOAD", interface: name, errno: errno)
        }
    }

    deinit {
        close(descriptor)
        close(wakeRead)
        close(wakeWrite)
    }

    enum ReadResult: Equatable {
        case packet([UInt8])
        case wouldBlock
        case failed(Int32)
    }

    /// One packet (the tap gives one per read, cut to the buffer's size),
    /// read through `buffer`, or why there is none.
    func readPacket(using buffer: inout [UInt8]) -> ReadResult {
        while true {
            // SAFETY: read(2) writes at most `count` bytes into the array's buffer.
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count >= 0 { return .packet(Array(buffer[..<count])) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case let error: return .failed(error)
            }
        }
    }

    /// Writes one packet whole. Returns false when the tap's queue is full
    /// (EAGAIN); throws on other errors.
    func writePacket(_ packet: [UInt8]) throws(NetBackendError) -> Bool {
        while true {
            // SAFETY: write(2) reads `count` bytes from the array's buffer.
            let count = packet.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count >= 0 { return true }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return false
            case let error: throw .hostCall(call: "write", interface: interface, errno: error)
            }
        }
    }

    enum Readiness: Equatable {
        case readable
        case woken
        case failed(Int32)
    }

    /// Waits until the tap has a packet or `wake()` was called.
    func waitReadable() -> Readiness {
        var fds = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        while true {
            // SAFETY: poll(2) reads and writes the two entries of the array.
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return .failed(errno)
            }
            if fds[1].revents != 0 { return .woken }
            if fds[0].revents & Int16(POLLIN) != 0 { return .readable }
            // POLLERR/POLLHUP without data: the interface went away.
            if fds[0].revents != 0 { return .failed(EIO) }
        }
    }

    /// Makes `waitReadable` return `.woken`, now and from then on.
    func wake() {
        let byte: [UInt8] = [1]
        // SAFETY: write(2) reads the one byte of the array.
        _ = byte.withUnsafeBytes { write(wakeWrite, $0.baseAddress, 1) }
    }
}
