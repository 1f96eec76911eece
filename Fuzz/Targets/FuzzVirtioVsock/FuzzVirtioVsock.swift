import FuzzSupport
import Glibc
import LKVMDevices

/// virtio-vsock driven by a hostile guest: packets on tx (queue 1) from
/// chains the input lays out, answers into its rx buffers (queue 0). Guest
/// CID 3; a fresh device per run (`hostThread: false`), so host ports and
/// streams start the same every time.
///
/// - With host input, before the guest runs, a host client connects to
///   `PATH` and writes those bytes (a `CONNECT PORT` line, then data): its
///   stream is host port 2^30.
/// - A host service listens on port 1024 (`PATH_1024`), so a guest REQUEST
///   there makes a real stream; each round it accepts and sends the host
///   input on every new stream, and the device serves its sockets (poll
///   timeout 0).
///
/// Streams stay within the limits and credit; after the run (the harness
/// resets the device, then it is stopped) no descriptor may have leaked.
let directory = fuzzTemporaryDirectory("vsock")
let socketPath = directory + "/vm.vsock"
let limits = VsockLimits()
let service = listen(path: socketPath + "_1024")
/// Our ends of host clients and accepted service streams in this run.
nonisolated(unsafe) var ourEnds: [Int32] = []
/// The sockets and eventfds open after the first run: a leak adds to them.
/// (Other descriptors come and go: libFuzzer's symbolizer opens pipes.)
nonisolated(unsafe) var baseline: [String]?

/// The process's open sockets and eventfds, as /proc/self/fd names them.
/// Every run is checked, so a leaked descriptor is a low one: the first 128
/// are enough, and each costs a system call.
func socketsAndEventFDs() -> [String] {
    (0..<Int32(128)).compactMap { fd -> String? in
        guard fcntl(fd, F_GETFD) >= 0 else { return nil }
        var target = [CChar](repeating: 0, count: 256)
        let count = readlink("/proc/self/fd/\(fd)", &target, target.count - 1)
        guard count > 0 else { return nil }
        let name = String(decoding: target.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.hasPrefix("socket:") || name.hasPrefix("anon_inode:[eventfd]") ? "\(fd) -> \(name)" : nil
    }
}

/// A non-blocking Unix stream socket: listening at `path`, or connected to it.
func unixSocket(_ path: String, listening: Bool) -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    precondition(fd >= 0, "socket failed")
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
    // SAFETY: the path and its NUL fit in sun_path (checked above).
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    // SAFETY: sockaddr_un begins like every sockaddr; the kernel reads `size` bytes.
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            listening ? bind(fd, pointer, socklen_t(MemoryLayout<sockaddr_un>.size))
                : connect(fd, pointer, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    guard result == 0, !listening || Glibc.listen(fd, 64) == 0 else {
        close(fd)
        return -1
    }
    return fd
}

func listen(path: String) -> Int32 {
    let fd = unixSocket(path, listening: true)
    precondition(fd >= 0, "cannot listen on \(path)")
    return fd
}

func send(_ fd: Int32, _ bytes: [UInt8]) {
    _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
}

/// One round of the host side: the service answers the guest's streams, and
/// the device serves its sockets.
func hostInput(_ device: VirtioVsock, _ bytes: [UInt8]) {
    for _ in 0..<2 {
        device.serveHostSockets(timeout: 0)
        while true {
            let accepted = accept(service, nil, nil)
            guard accepted >= 0 else { break }
            ourEnds.append(accepted)
            if !bytes.isEmpty { send(accepted, bytes) }
        }
    }
    precondition(device.connectionCount <= limits.maxConnections, "more streams than the limit")
    precondition(device.bufferedToHost <= device.connectionCount * Int(limits.bufferAllocation),
                 "guest bytes held beyond the credit advertised")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVirtioVsock(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    do {
        let device = try! VirtioVsock(guestCID: 3, socketPath: socketPath, hostThread: false)
        // The harness's host input: byte 10 counts the bytes from byte 11.
        let input = UnsafeBufferPointer(start: data, count: size)
        let extra = Array(input.dropFirst(11).prefix(size > 10 ? Int(input[10]) : 0))
        if !extra.isEmpty {
            let client = unixSocket(socketPath, listening: false)
            precondition(client >= 0, "cannot connect to the device's socket")
            ourEnds.append(client)
            send(client, extra)
            device.serveHostSockets(timeout: 0)
            device.serveHostSockets(timeout: 0)
        }
        fuzzDevice(device, data, size) { bytes in hostInput(device, bytes) }
        precondition(device.connectionCount == 0 && device.bufferedToHost == 0, "a stream outlived the reset")
        device.stop()
    }
    for fd in ourEnds { close(fd) }
    ourEnds = []
    let open = socketsAndEventFDs()
    if let baseline {
        if open.count > baseline.count { fatalError("descriptors leaked: \(open.filter { !baseline.contains($0) })") }
    } else {
        baseline = open
    }
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzVirtioVsock_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzSilenceLogs()
    return fuzzDriver(argc, argv)
}
