import ArchARM64
import ArchX86
import LKVMCore
import LKVMDevices
import LKVMKVM

/// arm64 guests from the command line. `--dump-dtb` works on any host (no
/// KVM needed); booting needs an arm64 host with KVM, and elsewhere lkvm
/// names the lab command that runs the same arguments.
enum LauncherARM64 {
    static let labCommand = "lab/arm64/run"
    /// Bytes for /chosen kaslr-seed (8) and rng-seed (32).
    static let seedSize = 40

    /// Why this host cannot run `architecture` guests, or nil when it can
    /// (or when only the device tree is wanted).
    static func hostRefusal(architecture: Architecture, dumpDTB: String?) -> LKVMError? {
        if architecture == .arm64, dumpDTB != nil || Architecture.host == .arm64 { return nil }
        guard architecture != .host else { return nil }
        let lab = architecture == .arm64 ? labCommand : "lab/run"
        return LKVMError("--arch \(architecture) needs an \(architecture) host with KVM; this host is \(Architecture.host). "
            + "Run the same arguments in the lab: \(lab) -- \(runArguments())")
    }

    /// `--dump-dtb` with a board that boots without a device tree.
    static func dumpDTBRefusal(board: Board, dumpDTB: String?) -> LKVMError? {
        guard dumpDTB != nil, board.architecture != .arm64 else { return nil }
        return LKVMError("--dump-dtb: board '\(board.name)' is \(board.architecture), which boots with no device tree "
            + "(lkvm describes x86 machines with ACPI and MP tables); use an arm64 board (--arch arm64)", exitStatus: 64)
    }

    static func boot(_ options: LaunchOptions) throws(LKVMError) -> StopReason {
        let plan = try makePlan(options)
        if let path = options.dumpDTB {
            do { try HostFile.write(plan.deviceTree, to: path) } catch {
                throw LKVMError("--dump-dtb '\(path)': \(error)")
            }
            return .powerOff  // nothing ran: exit 0
        }
        guard Architecture.host == .arm64 else {
            throw LKVMError("--arch arm64 needs an arm64 host with KVM; this host is \(Architecture.host). "
                + "Run the same arguments in the lab: \(labCommand) -- \(runArguments())")
        }
        let machine = try makeMachine(consuming: consume plan, options)
        return try Launcher.runGuest(options, uart: machine.console, controller: machine.controller, run: machine.run)
    }

    /// The machine, with the plan's kernel and initrd in its RAM; the plan
    /// (the last host copy of those bytes) dies when this returns.
    private static func makeMachine(consuming plan: consuming ARM64BootPlan,
                                    _ options: LaunchOptions) throws(LKVMError) -> ARM64Machine {
        let kvm: KVMSystem
        do { kvm = try KVMSystem(hooks: .arm64) } catch { throw LKVMError(error.description) }
        do { return try ARM64Machine(plan: plan, kvm: kvm, output: options.consoleOutput) } catch {
            throw LKVMError(error.description)
        }
    }

    /// The same plan a boot uses: Image, layout and device tree from the same options.
    static func makePlan(_ options: LaunchOptions) throws(LKVMError) -> ARM64BootPlan {
        let seed: [UInt8]
        do { seed = try HostEntropy().randomBytes(seedSize) } catch { throw LKVMError(error.description) }
        let files = options.bootFiles.take()  // the plan holds them now, until the machine is made
        let config = ARM64MachineConfig(board: options.board, memMiB: options.memMiB, cpus: options.cpus,
                                        kernel: files.kernel, initrd: files.initrd, params: options.params,
                                        virtio: options.virtio, virtioTransport: options.virtioTransport,
                                        virtioConsole: options.console == .virtio, seed: seed,
                                        traceVirtio: options.traceVirtio, traceSink: Launcher.traceSink)
        do { return try ARM64BootPlan(config: config) } catch {
            if case .image(let imageError) = error { throw LKVMError("kernel '\(options.kernelPath)' \(imageError)") }
            throw LKVMError(error.description)
        }
    }

    /// This run's arguments after `run`, quoted for a shell where needed.
    static func runArguments() -> String {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "run" { arguments.removeFirst() }
        let plain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=,:+@%")
        return arguments.map { argument in
            guard argument.isEmpty || !argument.allSatisfy(plain.contains) else { return argument }
            return "'" + argument.map { $0 == "'" ? "'\\''" : String($0) }.joined() + "'"
        }.joined(separator: " ")
    }
}
