import LKVMCore
import Synchronization

/// The kernel's symbols for `lkvm debug`, read on the first request (not at
/// boot: a vmlinux has ~100k symbols and most runs never ask).
final class KernelSymbolsCache: Sendable {
    let path: String?
    private let loaded = Mutex<Result<KernelSymbolTable, KernelSymbolError>?>(nil)

    init(path: String?) { self.path = path }

    /// The table, or why there is none, in words for the report.
    func table() -> (table: KernelSymbolTable?, note: String) {
        guard let path else {
            return (nil, "no kernel symbols (none next to the kernel; pass --symbols vmlinux|System.map to lkvm run)")
        }
        let result = loaded.withLock { cached in
            if let cached { return cached }
            let result: Result<KernelSymbolTable, KernelSymbolError>
            do throws(KernelSymbolError) { result = .success(try KernelSymbolFiles.load(path: path)) } catch {
                result = .failure(error)
            }
            cached = result
            return result
        }
        switch result {
        case .success(let table): return (table, "kernel symbols: \(path) (\(table.symbols.count) functions)")
        case .failure(let error): return (nil, "no kernel symbols: \(error)")
        }
    }
}
