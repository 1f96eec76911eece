import ArchX86
import Glibc
import LKVMCore
import LKVMDevices
import LKVMKVM

/// Builds the machine for the board's architecture and runs it to the end.
enum Launcher {
    /// Why the VM stopped (its `exitStatus` is `lkvm run`'s).
    static func boot(_ launch: LaunchOptions) throws(LKVMError) -> StopReason {
        var options = launch
        // The name is taken before the VM is built (lkvm run and sandbox
        // alike): a second VM of the same name is refused at once, with the
        // first one's pid. A dumped device tree starts no VM.
        if options.dumpDTB == nil {
            do { options.nameLock = try VMNameLock(directory: RunDirectory.resolve(), name: options.name) } catch {
                throw LKVMError(error.description)
            }
        }
        defer { options.nameLock?.release() }
        // Before any thread exists, so that only the waiting thread takes
        // SIGINT/SIGTERM and the wake-up signal.
        VMController.blockHandledSignals()
        // A closed stdout (lkvm run ... | head) must not kill the VM mid-write.
        signal(SIGPIPE, SIG_IGN)
        raiseFileDescriptorLimit()
        ProcessName.set("lkvm:" + options.name)
        switch options.board.architecture {
        case .x86_64:
            return try bootPC(options)
        case .arm64:
            return try LauncherARM64.boot(options)
        }
    }

    /// Virtqueue traces go to stderr, with \r too: stderr may share a raw-mode terminal.
    static let traceSink: @Sendable (String) -> Void = { line in
        _ = (line + "\r\n").withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }

    static func bootPC(_ options: LaunchOptions) throws(LKVMError) -> StopReason {
        #if !arch(x86_64)
        throw LKVMError("x86-64 guests need an x86-64 host")
        #else
        let image = try makePCImage(options)
        let kvm: KVMSystem
        do { kvm = try KVMSystem(hooks: .x86) } catch { throw LKVMError(error.description) }
        let machine: PCMachine
        do {
            machine = try PCMachine(image: image, kvm: kvm, output: options.consoleOutput)
        } catch { throw LKVMError(error.description) }
        return try runGuest(options, uart: machine.console, controller: machine.controller, run: machine.run)
        #endif
    }

    #if arch(x86_64)
    /// Guest RAM loaded from the options' boot files, which are taken: the
    /// only host copies of the kernel and initrd die when this returns.
    private static func makePCImage(_ options: LaunchOptions) throws(LKVMError) -> PCGuestImage {
        let files = options.bootFiles.take()
        let config = PCMachineConfig(board: options.board, memMiB: options.memMiB, cpus: options.cpus,
                                     kernel: files.kernel, initrd: files.initrd, params: options.params,
                                     virtio: options.virtio, virtioTransport: options.virtioTransport,
                                     console: options.console,
                                     traceVirtio: options.traceVirtio,
                                     traceSink: traceSink)
        do { return try PCGuestImage(config: config) } catch {
            if case .boot(let boot) = error, boot.isAboutTheKernelFile {
                throw LKVMError("kernel '\(options.kernelPath)': \(error)")
            }
            throw LKVMError(error.description)
        }
    }
    #endif

    /// What every architecture does around its machine's run: guest output
    /// from either console to stdout, stdin to the chosen one (raw mode on a
    /// terminal), NICs started, the machine run to its end, the stop reported.
    static func runGuest(_ options: LaunchOptions, uart: (any ConsoleReceiver)?, controller: VMController,
                         run: () -> StopReason) throws(LKVMError) -> StopReason {
        let virtioConsole = options.virtio.lazy.compactMap { $0 as? VirtioConsole }.first
        virtioConsole?.attach(output: options.consoleOutput)
        let target: (any ConsoleReceiver)? = options.console == .virtio ? (virtioConsole ?? uart) : uart
        if let target {
            TerminalMode.enterRaw()
            do { try ConsoleInputPump.start(deliver: { bytes in target.receive(bytes) }, controller: controller) } catch {
                throw LKVMError(error.description)
            }
        }
        // NICs start receiving from their backends only now that the guest can run.
        let nics = options.virtio.compactMap { $0 as? VirtioNet }
        for nic in nics {
            do { try nic.start() } catch { throw LKVMError(error.description) }
        }
        // The control socket: lkvm list/stop/pause/... reach the VM through it.
        var server: ControlServer?
        if let lock = options.nameLock {
            let handler = VMControlHandler(name: options.name, controller: controller, options: options, uart: uart)
            do { server = try ControlServer(lock: lock, handler: handler) } catch { throw LKVMError(error.description) }
        }
        defer { server?.shutdown() }
        StartupProbe.report()
        let reason = run()
        // Gone before the exit report: a `lkvm stop` waiting on the lock returns now.
        server?.shutdown()
        for nic in nics { nic.stop() }
        // The vsock poll threads end and the VM's vsock sockets go.
        for device in options.virtio { (device as? VirtioVsock)?.stop() }
        TerminalMode.restore()
        report(reason, name: options.name)
        return reason
    }

    static func report(_ reason: StopReason, name: String) {
        switch reason {
        case .fatal(let message, let registers):
            printError(message)
            if let registers { writeStandardError(registers + "\n") }
        case .signal(let number):
            writeStandardError("\nlkvm: \(name) stopped by signal \(number)\n")
        case .consoleQuit:
            writeStandardError("\nlkvm: \(name): quit from the console\n")
        case .stopRequested:
            writeStandardError("\nlkvm: \(name) stopped by lkvm stop\n")
        case .powerOff, .reset, .halted:
            break
        }
    }
}

/// `LKVM_STARTUP_T0_NS=<CLOCK_REALTIME ns before exec>` makes lkvm print how
/// long it took from there to launching the vCPUs (each enters KVM_RUN at
/// once): the figure `make bench` reports.
enum StartupProbe {
    static func report() {
        guard let value = getenv("LKVM_STARTUP_T0_NS"), let t0 = UInt64(String(cString: value)) else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nanoseconds = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
        let micros = nanoseconds >= t0 ? (nanoseconds - t0) / 1000 : 0
        let line = "lkvm: startup to first KVM_RUN: \(micros / 1000).\(String(micros % 1000 + 1000).dropFirst()) ms\n"
        _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }
}

/// The name `ps` and `top` show for lkvm (the kernel keeps 15 bytes of it).
enum ProcessName {
    static func set(_ name: String) {
        let fd = open("/proc/self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

/// virtio-9p holds a host descriptor per guest fid: allow as many as the
/// hard limit lets the process have.
func raiseFileDescriptorLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
