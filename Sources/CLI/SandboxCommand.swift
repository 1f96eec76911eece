import ArchX86
import ArgumentParser
import Glibc
import LKVMCore
import LKVMDevices
import Logging

struct SandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run a command in a throwaway guest whose root is the host's, read-only.",
        discussion: """
            The guest's root is this host's / over virtio-9p, read-only; /tmp is a
            fresh writable directory that lkvm removes at exit. COMMAND runs as
            root in /tmp; its output is the console's. lkvm builds the guest's
            initramfs itself: a static busybox, the kernel's 9p and virtio modules
            (from /lib/modules/RELEASE, RELEASE read from the bzImage; --modules
            on arm64) and an init that mounts everything and runs COMMAND.

            Exit status: COMMAND's; 125 when the guest kernel panicked, the
            command did not finish, or lkvm could not set the sandbox up; 126
            when the command finished but the guest kernel reported an oops or BUG.
            See docs/sandbox.md.

            Examples:
              lkvm sandbox -k bzImage -- uname -a
              lkvm sandbox -k bzImage -c 2 -- trinity -q -N 10000
            """)

    @OptionGroup var options: VMRunOptions

    @Option(help: ArgumentHelp("A statically linked busybox for the guest's init.", valueName: "path"))
    var busybox = "/bin/busybox"

    @Option(help: ArgumentHelp("The kernel's modules directory (default /lib/modules/RELEASE of the bzImage); arm64 Images name no release, so give it there unless 9p is built in.", valueName: "dir"))
    var modules: String?

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    /// Modules the 9p root needs, in the order to ask for them, and the
    /// virtio transports loaded when the kernel has them as modules.
    static let requiredModules = ["9pnet_virtio", "9p"]
    static let transportModules = ["virtio_pci", "virtio_mmio"]
    /// Without -m, at least this much guest RAM.
    static let minimumMemMiB = 512

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = options.debug ? .debug : .warning
            return handler
        }
        do {
            throw ExitCode(try runSandbox())
        } catch let error as LKVMError {
            // lkvm's own failures are 125, never a status COMMAND could have.
            throw LKVMError(error.description, exitStatus: SandboxOutcome.guestFailureStatus)
        }
    }

    private func runSandbox() throws(LKVMError) -> Int32 {
        guard !command.isEmpty else { throw LKVMError("lkvm sandbox needs a command: lkvm sandbox [options] -- COMMAND [ARGS...]") }
        guard options.initrd == nil else { throw LKVMError("-i: lkvm sandbox builds its own initramfs") }
        let busyboxBytes = try Self.staticBusybox(busybox)
        var launch = try options.validatedOptions(minimumDefaultMemMiB: Self.minimumMemMiB)
        let moduleFiles = try Self.moduleFiles(directory: modules, kernel: launch.kernel, board: launch.board)
        let term = getenv("TERM").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "linux"
        let script = SandboxInitScript(command: command, modules: moduleFiles.map(\.name), term: term)
        launch.initrd = Self.initramfs(busybox: busyboxBytes, script: script, modules: moduleFiles)

        let scratch = try SandboxScratch()
        defer { scratch.remove() }
        let hostRoot: Virtio9P, scratchShare: Virtio9P
        do {
            hostRoot = try Virtio9P(sharing: "/", tag: SandboxInitScript.hostRootTag, readOnly: true)
            scratchShare = try Virtio9P(sharing: scratch.path, tag: SandboxInitScript.scratchTag)
        } catch { throw LKVMError("cannot share the host root or \(scratch.path): \(error)") }
        launch.virtio += [hostRoot, scratchShare]
        // printk.time=1: the panic watch knows kernel lines by their timestamp.
        launch.params = "quiet panic=-1 printk.time=1 rdinit=/init" + (launch.params.isEmpty ? "" : " " + launch.params)
        let console = PanicWatchingConsole(forwardingTo: StandardOutputConsole())
        launch.consoleOutput = console

        let stop = try Launcher.boot(launch)
        let findings = console.findings()
        let outcome = SandboxOutcome(statusFile: scratch.status(), panicLine: findings.panic,
                                     oopsLine: findings.oops, stop: stop)
        for message in outcome.messages { writeStandardError("lkvm: \(message)\n") }
        return outcome.exitStatus
    }

    static func staticBusybox(_ path: String) throws(LKVMError) -> [UInt8] {
        let need = "lkvm sandbox needs a static busybox (apt-get install busybox-static)"
        let bytes: [UInt8]
        do { bytes = try HostFile.read(path, limit: 64 << 20) } catch { throw LKVMError("\(need): '\(path)': \(error)") }
        let dynamic: Bool
        do { dynamic = try ELFInterpreter.needsInterpreter(bytes) } catch { throw LKVMError("\(need): '\(path)' is \(error)") }
        guard !dynamic else { throw LKVMError("\(need): '\(path)' is dynamically linked") }
        return bytes
    }

    /// The module files to put in the initramfs, in load order. No
    /// directory (and none asked for) means 9p and virtio are built in.
    static func moduleFiles(directory: String?, kernel: [UInt8],
                            board: Board) throws(LKVMError) -> [(name: String, bytes: [UInt8])] {
        let path: String
        if let directory {
            guard isDirectory(directory) else { throw LKVMError("--modules '\(directory)': no such directory") }
            path = directory
        } else {
            guard board.architecture == .x86_64, let release = SetupHeader.kernelRelease(of: kernel),
                  isDirectory("/lib/modules/\(release)") else { return [] }
            path = "/lib/modules/\(release)"
        }
        let dep: [UInt8]
        do { dep = try HostFile.read(path + "/modules.dep", limit: 64 << 20) } catch {
            throw LKVMError("'\(path)/modules.dep': \(error) (run depmod, or give --modules DIR)")
        }
        let builtin = (try? HostFile.read(path + "/modules.builtin", limit: 64 << 20)) ?? []
        let table = KernelModuleDependencies(modulesDep: String(decoding: dep, as: UTF8.self),
                                             modulesBuiltin: String(decoding: builtin, as: UTF8.self))
        let wanted = transportModules.filter { table.hasModule($0) } + requiredModules
        let order: [String]
        do { order = try table.loadOrder(for: wanted) } catch { throw LKVMError("'\(path)': \(error)") }
        var files: [(name: String, bytes: [UInt8])] = []
        for relative in order {
            let name = String(relative.split(separator: "/").last ?? "")
            guard name.hasSuffix(".ko") else {
                throw LKVMError("'\(path)/\(relative)': compressed modules are not supported (busybox insmod loads plain .ko files; decompress them into a directory and give --modules DIR)")
            }
            do { files.append((name, try HostFile.read(path + "/" + relative, limit: 256 << 20))) } catch {
                throw LKVMError("module '\(path)/\(relative)': \(error)")
            }
        }
        return files
    }

    static func initramfs(busybox: [UInt8], script: SandboxInitScript,
                          modules: [(name: String, bytes: [UInt8])]) -> [UInt8] {
        var archive = CPIOWriter()
        for directory in ["bin", "dev", "proc", "sys", "newroot", "scratch", "lib", SandboxInitScript.modulesDirectory] {
            archive.addDirectory(directory)
        }
        archive.addCharacterDevice("dev/console", major: 5, minor: 1)
        archive.addFile(SandboxInitScript.busyboxPath, contents: busybox, permissions: 0o755)
        archive.addFile("init", contents: Array(script.text.utf8), permissions: 0o755)
        for module in modules {
            archive.addFile(SandboxInitScript.modulesDirectory + "/" + module.name, contents: module.bytes)
        }
        return archive.finished()
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}
