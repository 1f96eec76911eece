import FuzzSupport
import Glibc
import LKVMDevices

/// virtio-blk requests (header, data, status) against a 64 KiB temporary
/// image, writable and read-only.
let directory = fuzzTemporaryDirectory("blk")
let imagePath = directory + "/disk.img"
let devices: [VirtioBlock] = {
    let fd = open(imagePath, O_CREAT | O_RDWR | O_TRUNC, 0o600)
    precondition(fd >= 0 && ftruncate(fd, 0x1_0000) == 0)
    close(fd)
    return [try! VirtioBlock(path: imagePath), try! VirtioBlock(path: imagePath, readOnly: true)]
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVirtioBlock(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let device = devices[size > 0 && data[0] & 0x80 != 0 ? 1 : 0]
    fuzzDevice(device, data, size)
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzVirtioBlock_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
