import ArgumentParser
import ArchX86
import Glibc
import LKVMCore
import LKVMDevices
import LKVMKVM
import Logging

/// The options `lkvm run` and `lkvm sandbox` share, and their checks.
struct VMRunOptions: ParsableArguments {
    @Option(name: [.short, .customLong("kernel")], help: "Kernel image to boot (bzImage or ELF vmlinux on x86_64).")
    var kernel: String

    @Option(name: [.short, .customLong("initrd")], help: "Initial ramdisk (initramfs) to load.")
    var initrd: String?

    @Option(name: [.short, .customLong("params")], help: "Extra kernel command-line parameters.")
    var params: String?

    @Option(name: [.short, .customLong("mem")], help: "Guest RAM in MiB (default: the board's).")
    var mem: Int?

    @Option(name: [.short, .customLong("cpus")], help: "Number of vCPUs (default: the board's).")
    var cpus: Int?

    @Option(name: .long, help: "A name for this VM (letters, digits, '.', '_', '-'); shown by ps and in lkvm's messages. Default: guest-PID.")
    var name: String?

    @Option(name: .long, help: "Guest console on lkvm's stdin/stdout: serial (COM1, ttyS0) or virtio (hvc0; early output still on COM1).")
    var console: String = "serial"

    @Option(name: .customLong("9p"), help: "Share a host directory over virtio-9p: DIR[,TAG[,ro]] (tag default lkvm; ro: the guest cannot change it; repeatable).")
    var ninePShares: [String] = []

    @Option(name: .long, help: "Board: a name from Boards/ or a path to a .toml file.")
    var board: String?

    @Option(name: .long, help: "Guest architecture: x86_64 or arm64 (default: the host's).")
    var arch: String?

    @Option(name: .customLong("dump-dtb"), help: ArgumentHelp("arm64: write the device tree this boot would use to FILE and exit (any host, no KVM needed).", valueName: "file"))
    var dumpDTB: String?

    @Option(name: [.short, .customLong("disk")],
            help: "Add a virtio-blk disk: IMAGE[,ro][,direct] (a raw image; repeatable).")
    var disks: [String] = []

    @Option(name: [.short, .customLong("network")],
            help: "Add a virtio-net card: mode=tap,tapif=NAME or mode=user[,hostfwd=tcp:HOSTPORT-:GUESTPORT...], each with [,guest_mac=XX:XX:XX:XX:XX:XX] (repeatable).")
    var networks: [String] = []

    @Flag(name: .long, help: "Add a virtio-rng device (random bytes from the host's getrandom).")
    var rng = false

    @Option(name: .long,
            help: "Add a virtio-vsock device: CID[,socket=PATH] (CID 3 to 4294967294; the host connects to PATH and writes 'CONNECT PORT', the guest's connections to host port P go to PATH_P; default PATH: the run directory's NAME.vsock).")
    var vsock: String?

    @Flag(name: .long, help: "Add a virtio-balloon device: the host can ask guest memory back (lkvm balloon) and read the guest's memory statistics (lkvm stat).")
    var balloon = false

    @Option(name: .long, help: "virtio transport: mmio or pci (default: the board's).")
    var virtioTransport: String?

    @Option(name: .customLong("trace-virtio"),
            help: "Trace virtqueue traffic of these virtio devices on stderr: all, or names such as blk,rng.")
    var traceVirtio: String?

    @Option(name: .long, help: ArgumentHelp("Kernel symbols for `lkvm debug`: a vmlinux (ELF) or System.map (default: looked for next to the kernel, in its build tree, or /boot/System.map-VERSION).", valueName: "file"))
    var symbols: String?

    @Flag(name: .long, help: "Log debug messages (unclaimed I/O, setup steps) to stderr.")
    var debug = false

    /// Checks everything that can be checked without KVM, so that bad input
    /// is reported the same way on any host.
    /// `minimumDefaultMemMiB`: without -m, at least this much RAM (the
    /// sandbox wants more than some boards' defaults).
    func validatedOptions(minimumDefaultMemMiB: Int = 0) throws(LKVMError) -> LaunchOptions {
        let architecture: Architecture
        if let arch {
            guard let parsed = Architecture(rawValue: arch == "x86-64" ? "x86_64" : arch) else {
                throw LKVMError("--arch \(arch): unknown architecture (use x86_64 or arm64)", exitStatus: 64)
            }
            architecture = parsed
        } else {
            architecture = .host
        }
        if let refusal = LauncherARM64.hostRefusal(architecture: architecture, dumpDTB: dumpDTB) { throw refusal }
        guard let guestConsole = GuestConsole(rawValue: console) else {
            throw LKVMError("--console \(console): unknown console (serial or virtio)", exitStatus: 64)
        }
        let boardName = board ?? BoardCatalog.defaultBoardName(for: architecture)
        let resolved: Board
        do {
            resolved = try BoardCatalog.resolve(
                nameOrPath: boardName, architecture: architecture,
                searchDirectories: BoardCatalog.searchDirectories(executablePath: executablePath()))
        } catch { throw LKVMError(error.description) }
        if let refusal = LauncherARM64.dumpDTBRefusal(board: resolved, dumpDTB: dumpDTB) { throw refusal }
        let cpuCount = cpus ?? resolved.cpus.defaultCount
        guard cpuCount >= 1 else { throw LKVMError("-c \(cpuCount): a VM needs at least one vCPU", exitStatus: 64) }
        let memMiB = mem ?? max(resolved.ram.defaultMiB, minimumDefaultMemMiB)
        guard memMiB >= 1 else { throw LKVMError("-m \(memMiB): guest RAM must be at least 1 MiB", exitStatus: 64) }
        do { try resolved.validate(ramMiB: memMiB, cpus: cpuCount) } catch { throw LKVMError(error.description) }
        // More guest RAM than the host has is a typo, not a plan: KVM would
        // spend seconds and gigabytes on the memslot's bookkeeping alone
        // (-m 4194304 took 17 s here). A dumped device tree maps no RAM.
        if dumpDTB == nil, let hostMiB = hostRAMMiB(), memMiB > hostMiB {
            throw LKVMError("-m \(memMiB): more guest RAM than this host has (\(hostMiB) MiB)", exitStatus: 64)
        }
        let vmName = name ?? "guest-\(getpid())"
        guard (1...64).contains(vmName.utf8.count),
              vmName.utf8.allSatisfy({ $0 < 0x80 && (isalnum(Int32($0)) != 0 || "._-".utf8.contains($0)) }) else {
            throw LKVMError("--name '\(vmName)': use 1 to 64 letters, digits, '.', '_' or '-'", exitStatus: 64)
        }
        let virtioRequests = disks.map { ("blk", Optional($0)) } + ninePShares.map { ("9p", Optional($0)) }
            + networks.map { ("net", Optional($0)) }
            + (rng ? [("rng", nil)] : []) + (balloon ? [("balloon", nil)] : [])
            + (guestConsole == .virtio ? [("console", nil)] : [])
        // Files first: a device such as vsock binds host sockets when it is
        // made, and a bad kernel should not leave one behind.
        let kernelBytes = try readInput(kernel, what: "kernel")
        let initrdBytes = try initrd.map { path throws(LKVMError) in try readInput(path, what: "initrd") }
        let virtioRequestsWithVsock = virtioRequests + (try vsockRequest(vmName: vmName).map { [("vsock", Optional($0))] } ?? [])
        let transportName = virtioTransport ?? resolved.defaultTransport.rawValue
        guard let transport = VirtioTransport(rawValue: transportName) else {
            throw LKVMError("--virtio-transport \(transportName): unknown transport (use mmio or pci)", exitStatus: 64)
        }
        var virtioDevices: [any VirtioDevice] = []
        for (deviceName, argument) in virtioRequestsWithVsock {
            do { virtioDevices.append(try VirtioDeviceCatalog.entry(named: deviceName).make(argument)) } catch {
                throw LKVMError(error.description)
            }
        }
        var traceSelection: VirtioTraceSelection?
        if let traceVirtio {
            do { traceSelection = try VirtioTraceSelection(parsing: traceVirtio) } catch {
                throw LKVMError("--trace-virtio \(traceVirtio): \(error)", exitStatus: 64)
            }
        }
        let symbolsPath: String?
        if let symbols {
            // Checked now, loaded when `lkvm debug` first asks: a bad file is
            // a typo the user wants to hear about before the guest boots.
            guard access(symbols, R_OK) == 0 else {
                throw LKVMError("--symbols \(symbols): \(String(cString: strerror(errno)))", exitStatus: 64)
            }
            symbolsPath = symbols
        } else {
            symbolsPath = KernelSymbolFiles.locate(kernelPath: kernel)
        }
        return LaunchOptions(board: resolved, memMiB: memMiB, cpus: cpuCount,
                             bootFiles: BootFiles(kernel: kernelBytes, initrd: initrdBytes),
                             kernelPath: kernel, params: params ?? "", name: vmName,
                             virtio: virtioDevices, virtioTransport: transport, console: guestConsole,
                             traceVirtio: traceSelection, dumpDTB: dumpDTB, symbolsPath: symbolsPath)
    }
}

extension VMRunOptions {
    /// The --vsock text with socket= filled in: the run directory's
    /// NAME.vsock (the directory made and checked) when the user named none.
    func vsockRequest(vmName: String) throws(LKVMError) -> String? {
        guard let vsock else { return nil }
        let options: VsockOptions
        do { options = try VsockOptions(parsing: vsock) } catch { throw LKVMError("--vsock: \(error)", exitStatus: 64) }
        if options.socketPath != nil { return options.text(socketPath: "") }
        let directory = RunDirectory.resolve()
        let path = directory.vsockSocket(name: vmName)
        do {
            try directory.prepare()
            try RunDirectory.checkSocketPath(path)
        } catch { throw LKVMError("--vsock: \(error)") }
        return options.text(socketPath: path)
    }
}
