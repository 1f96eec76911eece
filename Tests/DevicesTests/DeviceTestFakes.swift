import LKVMCore
import LKVMDevices
import Synchronization

/// Records every level an interrupt line is driven to.
final class RecordingInterruptLine: InterruptLine {
    private let levels = Mutex<[Bool]>([])
    func setLevel(_ asserted: Bool) { levels.withLock { $0.append(asserted) } }
    var history: [Bool] { levels.withLock { $0 } }
    /// The current level: the last one driven, low before any.
    var isAsserted: Bool { history.last ?? false }
}

/// Collects what a device transmits.
final class RecordingConsoleOutput: ConsoleOutput {
    private let bytes = Mutex<[UInt8]>([])
    private let calls = Mutex(0)
    func write(_ newBytes: [UInt8]) {
        bytes.withLock { $0 += newBytes }
        calls.withLock { $0 += 1 }
    }
    var written: [UInt8] { bytes.withLock { $0 } }
    var writeCount: Int { calls.withLock { $0 } }
}
