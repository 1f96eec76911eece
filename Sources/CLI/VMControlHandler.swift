import Glibc
import LKVMCore
import LKVMDevices
import Synchronization

/// Answers control requests inside a running VM (the server's thread).
final class VMControlHandler: ControlHandler, @unchecked Sendable {
    // @unchecked: `options` holds the VM's devices, shared with their own
    // threads by design; the handler only reads the scalars and looks up the balloon.
    let name: String
    let controller: VMController
    let options: LaunchOptions
    /// The serial console a SysRq goes through (a break, then the key).
    let uart: (any ConsoleReceiver)?
    let symbols: KernelSymbolsCache
    private let startSeconds: Double
    /// The balloon size asked for so far: inflate and deflate are relative.
    private let balloonTargetMiB = Mutex(0)

    init(name: String, controller: VMController, options: LaunchOptions, uart: (any ConsoleReceiver)?) {
        self.name = name
        self.controller = controller
        self.options = options
        self.uart = uart
        self.symbols = KernelSymbolsCache(path: options.symbolsPath)
        self.startSeconds = Self.monotonicSeconds()
    }

    func handle(_ request: ControlRequest) -> ControlResponse {
        switch request {
        case .list:
            return .success([("name", .string(name)), ("pid", .int(Int64(getpid()))),
                             ("state", .string(controller.isPaused ? "paused" : "running")),
                             ("vcpus", .int(Int64(options.cpus))), ("memory_mib", .int(Int64(options.memMiB))),
                             ("uptime_s", .int(Int64(Self.monotonicSeconds() - startSeconds)))])
        case .stop:
            controller.requestStop(.stopRequested)
            return .success([("state", .string("stopping"))])
        case .pause:
            switch controller.pause() {
            case .paused: return .success([("state", .string("paused"))])
            case .alreadyPaused: return .failure("VM \(name) is already paused")
            case .stopping: return .failure("VM \(name) is stopping")
            case .timedOut: return .failure("VM \(name): a vCPU did not leave the guest within 5 s; not paused")
            }
        case .resume:
            guard controller.resume() else { return .failure("VM \(name) is not paused") }
            return .success([("state", .string("running"))])
        case .debug(let sysrq, let nmi):
            var report = DebugReport.make(name: name, controller: controller, options: options, symbols: symbols)
            if let sysrq {
                switch sendSysrq(sysrq) {
                case .success(let text): report += "\n" + text
                case .failure(let error): return .failure(error.text)
                }
            }
            if nmi {
                switch injectNMI() {
                case .success(let text): report += "\n" + text
                case .failure(let error): return .failure(error.text)
                }
            }
            return .success([("report", .string(report))])
        case .stat:
            var fields: [(String, JSONValue)] = [("name", .string(name)), ("memory_mib", .int(Int64(options.memMiB))),
                                                 ("vcpus", .int(Int64(options.cpus)))]
            if let rss = Self.hostRSSKiB() { fields.append(("host_rss_kib", .int(rss))) }
            if let balloon {
                // The stats queue: the guest refills the buffer we hand back.
                let fresh = balloon.refreshStatistics(timeoutSeconds: 2)
                fields.append(("balloon", .object(balloon.statusFields.map { ($0.0, .int($0.1)) })))
                fields.append(("balloon_stats_fresh", .bool(fresh)))
            }
            return .success(fields)
        case .balloon(let delta):
            guard let balloon else { return .failure("VM \(name) has no balloon (start it with --balloon)") }
            return balloonTargetMiB.withLock { target -> ControlResponse in
                let wanted = min(max(target + delta, 0), options.memMiB)
                do { try balloon.setTarget(mebibytes: wanted) } catch {
                    return .failure("VM \(name): balloon: \(error)")
                }
                target = wanted
                return .success([("target_mib", .int(Int64(wanted)))])
            }
        }
    }

    private var balloon: (any BalloonControl)? {
        options.virtio.lazy.compactMap { $0 as? any BalloonControl }.first
    }

    /// VmRSS of this process, from /proc/self/status.
    static func hostRSSKiB() -> Int64? {
        guard let bytes = try? HostFile.read("/proc/self/status", limit: 1 << 16) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmRSS:") {
            // "VmRSS:\t   12345 kB"
            return Int64(line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }

    private static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// A magic SysRq through the serial console: a break, then the key.
    /// Linux takes it only on the port that is its console (console=ttyS0 /
    /// ttyAMA0) and only for keys kernel.sysrq allows.
    private func sendSysrq(_ key: String) -> Result<String, HandlerFailure> {
        guard key.utf8.count == 1, let byte = key.utf8.first, byte > 0x20, byte < 0x7F else {
            return .failure(HandlerFailure("--sysrq '\(key)': give one printable key, such as t or l"))
        }
        guard let breaker = uart as? any BreakReceiver else {
            return .failure(HandlerFailure("VM \(name) has no serial console to send a SysRq through"))
        }
        guard breaker.receiveBreak(followedBy: [byte]) else {
            return .failure(HandlerFailure("VM \(name): the serial console's input is full or a break is still unread; try again"))
        }
        let caveat = options.console == .virtio ? " (the guest's console is hvc0: Linux takes SysRq from a serial console only)" : ""
        return .success("sent SysRq '\(key)' on the serial console: the guest prints its answer there\(caveat)")
    }

    /// An NMI on every vCPU, delivered when they run again.
    private func injectNMI() -> Result<String, HandlerFailure> {
        let outcome = controller.withVCPUsPaused { vcpus -> HypervisorError? in
            for vcpu in vcpus {
                do throws(HypervisorError) { try vcpu.injectNMI() } catch { return error }
            }
            return nil
        }
        guard let outcome else { return .failure(HandlerFailure("VM \(name): cannot pause the vCPUs to inject an NMI")) }
        if let error = outcome { return .failure(HandlerFailure("VM \(name): NMI: \(error)")) }
        return .success("injected an NMI into \(options.cpus) vCPU\(options.cpus == 1 ? "" : "s")")
    }
}

struct HandlerFailure: Error {
    let text: String
    init(_ text: String) { self.text = text }
}
