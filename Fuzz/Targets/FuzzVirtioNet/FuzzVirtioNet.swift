import FuzzSupport
import LKVMDevices

/// virtio-net: transmit chains (header + frame) handed to a backend that
/// drops them, and host packets (the input's extra bytes) received into the
/// guest's receive buffers, however small or hostile.
final class DropBackend: NetBackend, @unchecked Sendable {
    var name: String { "fuzz" }
    var identity: String { "fuzz:0" }
    var sent = 0
    func send(_ packet: [UInt8]) throws(NetBackendError) {
        precondition(packet.count >= 12, "a packet without its virtio-net header")
        sent += 1
    }
    func start(deliver: @escaping @Sendable ([UInt8]) -> Void) throws(NetBackendError) {}
    func close() {}
}

let device = VirtioNet(backend: DropBackend())

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVirtioNet(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzDevice(device, data, size) { bytes in _ = device.receive(bytes) }
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzVirtioNet_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
