import CKVM
import LKVMCore
import LKVMDevices
import LKVMKVM

/// An arm64 machine on KVM built from a boot plan: RAM with the Image,
/// initrd and device tree in it, a VM with the IPA size the board needs,
/// the in-kernel vGICv3 (+ ITS), vCPUs with in-kernel PSCI, and the board's
/// devices on the MMIO bus (`ARM64DeviceLayout`).
public final class ARM64Machine {
    public let controller: VMController
    public let vcpus: [KVMVCPU]
    public let buses: IOBuses
    /// The console UART, for host input.
    public let console: (any ConsoleReceiver)?
    let machine: KVMMachine
    let memory: GuestMemory
    let gic: GICv3Device

    public init(plan: ARM64BootPlan, kvm: KVMSystem, output: any ConsoleOutput) throws(ARM64MachineError) {
        let config = plan.config
        guard case .gicv3(let gicSpec) = config.board.interruptController else {
            throw .unsupportedBoard("\(config.board.fileName): an arm64 machine needs a gicv3 interrupt controller")
        }
        guard config.cpus <= kvm.maxVCPUs else {
            throw .hypervisor(.invalid("-c \(config.cpus): this host's KVM allows at most \(kvm.maxVCPUs) vCPUs"))
        }
        let ipa = ARM64IPASize(board: config.board, ram: plan.ram)
        try ipa.check(hostLimit: kvm.checkExtension(KVM_CAP_ARM_VM_IPA_SIZE), board: config.board)
        do { memory = try GuestMemory(ranges: plan.ram) } catch { throw .memory(error) }
        try plan.load(into: memory)
        do {
            machine = try kvm.createVM(machineType: ipa.machineType)
            // A guest access KVM cannot decode becomes an exit naming the address
            // (KVM_EXIT_ARM_NISV) rather than a bare KVM_RUN failure.
            if kvm.checkExtension(KVM_CAP_ARM_NISV_TO_USER) > 0 {
                try machine.enableCapability(KVM_CAP_ARM_NISV_TO_USER)
            }
            try machine.map(memory)
            gic = try GICv3Device(machine: machine, spec: gicSpec)
            let preferred = try ARM64VCPUSetup.preferredTarget(machine)
            var created: [KVMVCPU] = []
            for id in 0..<config.cpus {
                let vcpu = try machine.createVCPU(id: id)
                try ARM64VCPUSetup.initialize(vcpu, preferred: preferred)
                created.append(vcpu)
            }
            try gic.initialize()
            try ARM64VCPUSetup.setBootRegisters(created[0], entry: plan.entry, deviceTree: plan.deviceTreeAddress)
            vcpus = created
        } catch {
            throw .hypervisor(error)
        }
        controller = VMController(vcpus: vcpus, clock: ARM64GuestClock(vcpus: vcpus))
        let machine = self.machine
        let layout = try ARM64DeviceLayout(
            plan: plan, memory: memory, output: output,
            line: { spi in KVMInterruptLine(machine: machine, number: ARM64InterruptNumber.spi(spi)) },
            msi: machine, ioEvents: machine)
        buses = IOBuses(pio: Bus(kind: "port I/O"), mmio: layout.mmio)
        console = layout.consoleUART
    }

    /// Runs the guest until it stops; returns why.
    public func run() -> StopReason {
        VMRunner.run(vcpus: vcpus, buses: buses, controller: controller)
    }
}
