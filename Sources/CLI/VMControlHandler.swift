import Glibc
import LKVMCore
import Synchronization

/// Answers control requests inside a running VM (the server's thread).
final class VMControlHandler: ControlHandler, @unchecked Sendable {
    // @unchecked: `options` holds the VM's devices, shared with their own
    // threads by design; the handler only reads the scalars and looks up the balloon.
    let name: String
    let controller: VMController
    let options: LaunchOptions
    private let startSeconds: Double
    /// The balloon size asked for so far: inflate and deflate are relative.
    private let balloonTargetMiB = Mutex(0)

    init(name: String, controller: VMController, options: LaunchOptions) {
        self.name = name
        self.controller = controller
        self.options = options
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
            if sysrq != nil || nmi {
                return .failure("debug \(sysrq != nil ? "--sysrq" : "--nmi"): not supported yet")
            }
            return .success([("report", .string(DebugReport.make(name: name, controller: controller, options: options)))])
        case .stat:
            var fields: [(String, JSONValue)] = [("name", .string(name)), ("memory_mib", .int(Int64(options.memMiB))),
                                                 ("vcpus", .int(Int64(options.cpus)))]
            if let rss = Self.hostRSSKiB() { fields.append(("host_rss_kib", .int(rss))) }
            if let balloon {
                fields.append(("balloon", .object(balloon.statusFields.map { ($0.0, .int($0.1)) })))
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
}
