import FuzzSupport
import LKVMCore

/// The board file parser and validator: TOML text from the input, then the
/// board validated for a few RAM sizes and CPU counts, and its RAM laid out.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBoard(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let board = try? BoardCatalog.parse(text: text, fileName: "fuzz.toml") else { return 0 }
    for (ramMiB, cpus) in [(256, 1), (4096, 8), (1, 255)] {
        guard (try? board.validate(ramMiB: ramMiB, cpus: cpus)) != nil else { continue }
        _ = try? board.ram.ranges(forMiB: ramMiB)
    }
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzBoard_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
