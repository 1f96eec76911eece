import Glibc
import LKVMCore

/// The text `lkvm debug` prints: every vCPU's registers, read while the vCPUs
/// are parked (their register ioctls must not race KVM_RUN).
enum DebugReport {
    static func make(name: String, controller: VMController, options: LaunchOptions) -> String {
        let wasPaused = controller.isPaused
        let dumps = controller.withVCPUsPaused { vcpus in vcpus.map { $0.registerDump() } }
        var lines = ["VM \(name) (pid \(getpid())): \(options.cpus) vCPU\(options.cpus == 1 ? "" : "s"), "
                     + "\(options.memMiB) MiB, \(wasPaused ? "paused" : "running")"]
        guard let dumps else {
            lines.append("registers unavailable: the VM is stopping or a vCPU did not leave the guest in time")
            return lines.joined(separator: "\n")
        }
        lines += dumps
        return lines.joined(separator: "\n")
    }
}
