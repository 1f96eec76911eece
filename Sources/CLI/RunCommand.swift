import ArgumentParser
import ArchX86
import Glibc
import LKVMCore
import LKVMDevices
import LKVMKVM
import Logging

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Boot a kernel in a new virtual machine.",
        discussion: """
            lkvm adds console=, reboot= and panic= settings for the board to the
            kernel command line; -p appends yours after them.

            Examples:
              lkvm run -k bzImage
              lkvm run -k bzImage -i initramfs.cpio.gz -p "rdinit=/init quiet" -c 2 -m 1024
              lkvm run --arch x86_64 --board pc -k bzImage --name dev1
              lkvm run -k bzImage -m 2048 --rng --balloon --name dev2
            """)

    @OptionGroup var options: VMRunOptions

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = options.debug ? .debug : .warning
            return handler
        }
        let reason = try Launcher.boot(try options.validatedOptions())
        throw ExitCode(reason.exitStatus)
    }
}

struct LaunchOptions {
    let board: Board
    let memMiB: Int
    let cpus: Int
    let bootFiles: BootFiles
    var kernel: [UInt8] { bootFiles.kernel }
    var initrd: [UInt8]? {
        get { bootFiles.initrd }
        nonmutating set { bootFiles.initrd = newValue }
    }
    let kernelPath: String
    var params: String
    let name: String
    var virtio: [any VirtioDevice]
    let virtioTransport: VirtioTransport
    let console: GuestConsole
    let traceVirtio: VirtioTraceSelection?
    /// arm64: write the device tree here and exit instead of booting.
    var dumpDTB: String? = nil
    /// Kernel symbols for `lkvm debug` (--symbols, or found next to the kernel).
    var symbolsPath: String? = nil
    /// Where guest console output goes (the sandbox adds a panic watch).
    var consoleOutput: any ConsoleOutput = StandardOutputConsole()
    /// This VM's claim on its name; the control socket is served under it.
    var nameLock: VMNameLock? = nil
}

/// The host's physical RAM in MiB, or nil when sysconf cannot say.
func hostRAMMiB() -> Int? {
    let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
    guard pages > 0, pageSize > 0 else { return nil }
    return pages / (1 << 20 / pageSize)
}

/// /proc/self/exe, so that boards are found next to the binary wherever it is.
func executablePath() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard count > 0 else { return CommandLine.arguments.first ?? "lkvm" }
    return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Reads a whole input file; the error names the file and its role.
func readInput(_ path: String, what: String) throws(LKVMError) -> [UInt8] {
    let bytes: [UInt8]
    do { bytes = try HostFile.read(path, limit: 1 << 32) } catch {
        switch error {
        case .cannotOpen: throw LKVMError("cannot open \(what) '\(path)': \(error)")
        default: throw LKVMError("\(what) '\(path)': \(error)")
        }
    }
    guard !bytes.isEmpty else { throw LKVMError("\(what) '\(path)' is empty") }
    return bytes
}
