import FuzzSupport
import LKVMDevices

/// virtio-console: guest output on the transmit queue, host input (the
/// input's extra bytes) into the guest's receive buffers.
let device = VirtioConsole(output: FuzzConsoleOutput(), receiveCapacity: 512,
                           size: VirtioConsoleSize(columns: 80, rows: 25))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVirtioConsole(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzDevice(device, data, size) { bytes in _ = device.receive(bytes) }
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzVirtioConsole_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
