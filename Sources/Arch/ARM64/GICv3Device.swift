import CKVM
import Glibc
import LKVMCore
import LKVMKVM

/// KVM's in-kernel GICv3 (Documentation/virt/kvm/devices/arm-vgic-v3.rst)
/// and, when the board has one, its ITS (arm-vgic-its.rst). Created before
/// the vCPUs; `initialize` places the frames, sets the interrupt count and
/// initialises both once every vCPU exists.
final class GICv3Device {
    let spec: GICv3Spec
    private let gic: KVMDevice
    private let its: KVMDevice?

    init(machine: KVMMachine, spec: GICv3Spec) throws(HypervisorError) {
        self.spec = spec
        do {
            gic = try machine.createDevice(type: ckvm_DEV_TYPE_ARM_VGIC_V3(), name: "vGICv3")
        } catch {
            if case .request(_, let code) = error, code.rawValue == ENODEV {
                throw .unsupported("a GICv3 for guests (KVM_DEV_TYPE_ARM_VGIC_V3); lkvm has no GICv2 support")
            }
            throw error
        }
        // The ITS before the GIC's initialisation, so that the GIC knows it has LPIs.
        its = spec.its == nil ? nil : try machine.createDevice(type: ckvm_DEV_TYPE_ARM_VGIC_ITS(), name: "vGIC ITS")
    }

    /// All interrupt IDs the distributor handles: SGIs and PPIs, then the SPIs.
    var interruptCount: UInt32 { UInt32(ARM64InterruptNumber.firstSPI + spec.spis) }

    /// After every vCPU is created and initialised, before any runs.
    func initialize() throws(HypervisorError) {
        let address = UInt32(CKVM_DEV_ARM_VGIC_GRP_ADDR)
        try gic.setAttribute(group: address, attribute: UInt64(CKVM_VGIC_V3_ADDR_TYPE_DIST),
                             value: spec.distributor.start.raw)
        try gic.setAttribute(group: address, attribute: UInt64(CKVM_VGIC_V3_ADDR_TYPE_REDIST),
                             value: spec.redistributors.start.raw)
        try gic.setAttribute(group: UInt32(CKVM_DEV_ARM_VGIC_GRP_NR_IRQS), attribute: 0, value32: interruptCount)
        if let its, let range = spec.its {
            try its.setAttribute(group: address, attribute: UInt64(CKVM_VGIC_ITS_ADDR_TYPE), value: range.start.raw)
        }
        let control = UInt32(CKVM_DEV_ARM_VGIC_GRP_CTRL), initialise = UInt64(CKVM_DEV_ARM_VGIC_CTRL_INIT)
        try gic.setAttribute(group: control, attribute: initialise)
        try its?.setAttribute(group: control, attribute: initialise)
    }
}
