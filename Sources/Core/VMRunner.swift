import Glibc
import Synchronization

/// Why a VM stopped.
public enum StopReason: Equatable, Sendable {
    case powerOff
    case reset
    /// A vCPU halted with nothing to wake it (only without an in-kernel irqchip).
    case halted
    /// SIGINT or SIGTERM.
    case signal(Int32)
    /// The user typed the console's quit sequence (Ctrl-A x).
    case consoleQuit
    /// `lkvm stop` through the control socket.
    case stopRequested
    /// Something went wrong: one line, plus a register dump when a vCPU caused it.
    case fatal(message: String, registers: String?)

    /// lkvm's exit status: 0 when the guest itself asked to stop.
    public var exitStatus: Int32 {
        switch self {
        case .powerOff, .reset, .halted, .consoleQuit, .stopRequested: 0
        case .signal(let number): 128 + number
        case .fatal: 1
        }
    }
}

/// Collects the first stop request and makes every vCPU leave KVM_RUN. A stop
/// request is never lost: vCPUs that have not entered KVM_RUN yet see it when
/// they do (immediate exit), and the waiting thread is woken by a signal that
/// stays pending until it waits.
public final class VMController: Sendable {
    private let reason = Mutex<StopReason?>(nil)
    /// The VM's vCPUs, in id order. Their register ioctls must not race
    /// KVM_RUN: use them inside `withVCPUsPaused`.
    public let vcpus: [any VirtualCPU]
    private let waiter: pthread_t
    /// Pause state, guarded by `gate`: parked vCPU threads sleep on it.
    let gate = ParkingGate()
    nonisolated(unsafe) var pauseState = PauseState()
    /// Stops the guest's clock while paused (x86 kvmclock), if the backend can.
    let clock: (any GuestClockFreezer)?

    /// Signal used to wake the thread in `waitForStop`.
    public static let wakeSignal = SIGUSR2

    /// Must be created on the thread that will call `waitForStop`.
    public init(vcpus: [any VirtualCPU], clock: (any GuestClockFreezer)? = nil) {
        self.vcpus = vcpus
        self.waiter = pthread_self()
        self.clock = clock
    }

    public var stopReason: StopReason? { reason.withLock { $0 } }

    public var isStopping: Bool { stopReason != nil }

    /// Records `stop` unless a reason is already set, then kicks every vCPU.
    public func requestStop(_ stop: StopReason) {
        let first = reason.withLock { current -> Bool in
            guard current == nil else { return false }
            current = stop
            return true
        }
        guard first else { return }
        for vcpu in vcpus { vcpu.requestExit() }
        // Parked vCPUs and a pause waiting for them must see the stop too.
        gate.withLock { gate.broadcast() }
        pthread_kill(waiter, Self.wakeSignal)
    }

    /// Signals `waitForStop` handles. Block them in the process before any
    /// other thread starts so that they are delivered only to the waiter.
    public static var handledSignals: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGINT, SIGTERM, wakeSignal] { sigaddset(&set, signal) }
        return set
    }

    public static func blockHandledSignals() {
        var set = handledSignals
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Blocks until a stop is requested, by a vCPU, another thread or SIGINT/SIGTERM.
    public func waitForStop() -> StopReason {
        var set = Self.handledSignals
        while true {
            if let stop = stopReason { return stop }
            var signal: Int32 = 0
            guard sigwait(&set, &signal) == 0 else { continue }
            if signal == SIGINT || signal == SIGTERM { requestStop(.signal(signal)) }
        }
    }
}

/// Runs each vCPU on its own thread until the VM stops, then joins them all.
public enum VMRunner {
    /// How long a stopped VM waits for its vCPU threads before leaving the
    /// stragglers behind (the process exits without them).
    public static let stopGrace: Double = 2

    /// vCPU threads that have left their run loop.
    private final class FinishedThreads: Sendable {
        let count = Mutex(0)
    }

    public static func run<CPU: VirtualCPU>(vcpus: [CPU], buses: IOBuses, controller: VMController) -> StopReason {
        var threads: [HostThread] = []
        let finished = FinishedThreads()
        for vcpu in vcpus {
            do {
                threads.append(try HostThread(name: "vcpu\(vcpu.id)") {
                    runLoop(vcpu, buses: buses, controller: controller)
                    finished.count.withLock { $0 += 1 }
                })
            } catch {
                controller.requestStop(.fatal(message: "cannot start vCPU \(vcpu.id): \(error)", registers: nil))
                break
            }
        }
        let reason = controller.waitForStop()
        // A kick ends KVM_RUN, but not a device call that blocks again after
        // its EINTR: a COM1 write to a terminal nobody reads kept SIGTERM
        // from ever stopping lkvm. Such a thread is left behind after a grace
        // period; exiting the process ends it.
        let deadline = monotonicSeconds() + stopGrace
        while finished.count.withLock({ $0 }) < threads.count && monotonicSeconds() < deadline { usleep(500) }
        if finished.count.withLock({ $0 }) == threads.count {
            for thread in threads { thread.join() }
        }
        return reason
    }

    private static func monotonicSeconds() -> Double { ParkingGate.monotonicSeconds() }

    static func runLoop<CPU: VirtualCPU>(_ vcpu: CPU, buses: IOBuses, controller: VMController) {
        while true {
            // Clear the last kick before looking at the flags: a stop or pause
            // set after this look kicks again, after the clear, so none is lost.
            vcpu.clearExitRequest()
            if controller.isStopping { return }
            if controller.parkIfPaused() { continue }
            let exit: VCPUExit
            do { exit = try vcpu.run(buses: buses) } catch {
                controller.requestStop(.fatal(message: "vCPU \(vcpu.id): \(error)", registers: vcpu.registerDump()))
                return
            }
            if let stop = stopReason(for: exit, vcpu: vcpu) { controller.requestStop(stop) }
        }
    }

    /// Maps a vCPU exit to a VM stop, or nil to keep running.
    static func stopReason<CPU: VirtualCPU>(for exit: VCPUExit, vcpu: CPU) -> StopReason? {
        let cpu = "vCPU \(vcpu.id)"
        switch exit {
        case .interrupted: return nil
        case .halt: return .halted
        case .systemEvent(.powerOff): return .powerOff
        case .systemEvent(.reset): return .reset
        case .systemEvent(.crash):
            return .fatal(message: "\(cpu): the guest reported a crash", registers: vcpu.registerDump())
        case .systemEvent(.other(let type)):
            return .fatal(message: "\(cpu): unknown system event \(type)", registers: vcpu.registerDump())
        case .shutdown:
            return .fatal(message: "\(cpu): triple fault (KVM_EXIT_SHUTDOWN)", registers: vcpu.registerDump())
        case .internalError(let suberror, let data):
            let detail = data.map { hex($0) }.joined(separator: " ")
            let kind = suberror == 1 ? "instruction emulation failed" : "suberror \(suberror)"
            return .fatal(message: "\(cpu): KVM internal error: \(kind) [\(detail)]", registers: vcpu.registerDump())
        case .failEntry(let reason, let hostCPU):
            return .fatal(message: "\(cpu): VM entry failed (hardware reason \(hex(reason)), host CPU \(hostCPU))",
                          registers: vcpu.registerDump())
        case .undecodableMMIO(let address, let syndrome):
            return .fatal(message: "\(cpu): MMIO access at \(hex(address)) by an instruction KVM cannot decode "
                + "(KVM_EXIT_ARM_NISV, ESR ISS \(hex(syndrome))): no device can emulate it",
                          registers: vcpu.registerDump())
        case .unknown(let reason):
            return .fatal(message: "\(cpu): unhandled exit reason \(reason)", registers: vcpu.registerDump())
        }
    }
}
