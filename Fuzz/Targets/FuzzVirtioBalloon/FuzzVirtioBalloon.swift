import FuzzSupport
import LKVMCore
import LKVMDevices

/// virtio-balloon: page frame numbers on inflateq (0) and deflateq (1),
/// statistics on statsq (2), all from chains the input lays out in the
/// harness's 64 KiB of guest RAM (so most PFNs are wild, and inflating
/// gives the guest's own rings back to the host). The host side (the
/// input's extra bytes) sets targets, writes `actual`, and asks for fresh
/// statistics without waiting.
let device = VirtioBalloon()
let ramPages: UInt64 = 2 * FuzzGuest.lowSize / VirtioBalloonPage.size

func hostInput(_ bytes: [UInt8]) {
    var input = FuzzInput(bytes: bytes)
    let target = Int(input.byte()) - 8  // negative and beyond RAM too
    _ = try? device.setTarget(mebibytes: target % 2 == 0 ? target : 0)
    device.writeConfig(offset: Int(input.byte() % 8), size: 1 << Int(input.byte() % 3), value: input.u64())
    _ = device.refreshStatistics(timeoutSeconds: 0)
    let status = device.status
    precondition(status.inflatedPages <= ramPages, "more pages inflated than guest RAM has")
    precondition(status.statistics.count <= VirtioBalloonStatTag.names.count, "statistics beyond the known tags")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVirtioBalloon(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzDevice(device, data, size, hostInput: hostInput)
    precondition(device.status.inflatedPages == 0 && device.status.statistics.isEmpty, "guest figures outlived the reset")
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzVirtioBalloon_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
