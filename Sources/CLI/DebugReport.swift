import Glibc
import LKVMCore

/// The text `lkvm debug` prints: every vCPU's registers, read while the vCPUs
/// are parked (their register ioctls must not race KVM_RUN).
enum DebugReport {
    static func make(name: String, controller: VMController, options: LaunchOptions,
                     symbols: KernelSymbolsCache) -> String {
        let wasPaused = controller.isPaused
        let (table, note) = symbols.table()
        // Each vCPU's dump, then where it is in the kernel (KASLR undone).
        let dumps = controller.withVCPUsPaused { vcpus in
            vcpus.map { vcpu in
                let location = vcpu.debugState().map { "  " + KernelLocation.describe($0, symbols: table) }
                return vcpu.registerDump() + (location.map { "\n" + $0 } ?? "")
            }
        }
        var lines = ["VM \(name) (pid \(getpid())): \(options.cpus) vCPU\(options.cpus == 1 ? "" : "s"), "
                     + "\(options.memMiB) MiB, \(wasPaused ? "paused" : "running")", note]
        guard let dumps else {
            lines.append("registers unavailable: the VM is stopping or a vCPU did not leave the guest in time")
            return lines.joined(separator: "\n")
        }
        lines += dumps
        return lines.joined(separator: "\n")
    }
}
