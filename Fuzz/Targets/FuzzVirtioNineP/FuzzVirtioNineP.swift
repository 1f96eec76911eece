import FuzzSupport
import LKVMDevices

/// virtio-9p: requests in the readable part of each chain, replies into the
/// writable part, served by a NinePServer over a temporary directory.
let directory = fuzzTemporaryDirectory("v9p")
let device = try! Virtio9P(sharing: directory, tag: "fuzz")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVirtioNineP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzDevice(device, data, size)
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzVirtioNineP_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
