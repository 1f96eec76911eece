import FuzzSupport
import LKVMDevices

/// virtio-rng requests: writable chains filled from a fake entropy source.
struct PatternEntropy: EntropySource {
    func randomBytes(_ count: Int) throws(EntropyError) -> [UInt8] { [UInt8](repeating: 0xA5, count: count) }
}

let device = VirtioRNG(entropy: PatternEntropy())

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVirtioRNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzDevice(device, data, size)
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzVirtioRNG_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
