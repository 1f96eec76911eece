// What Swift cannot import from <linux/kvm.h>: function-like request macros
// (_IO/_IOW/_IOR), the variadic ioctl, anonymous unions in struct kvm_run and
// structs ending in flexible arrays. Everything else Swift uses directly.
#ifndef CKVM_H
#define CKVM_H

#include <linux/kvm.h>
#include <stdint.h>
#include <stddef.h>

// Non-variadic ioctl forms; return -1 with errno set on failure.
int ckvm_ioctl_ptr(int fd, unsigned long request, void *arg);
int ckvm_ioctl_val(int fd, unsigned long request, unsigned long arg);
/// KVM_SET_GSI_ROUTING with `count` MSI routes (devids may be NULL), after the
/// x86 default routes for GSIs below `legacy` (ignored elsewhere). -1/errno on failure.
int ckvm_set_msi_routing(int vmfd, uint32_t legacy, const uint32_t *gsis, const uint64_t *addresses,
                         const uint32_t *data, const uint32_t *devids, uint32_t count);

// Request numbers.
static inline unsigned long ckvm_GET_API_VERSION(void) { return KVM_GET_API_VERSION; }
static inline unsigned long ckvm_CREATE_VM(void) { return KVM_CREATE_VM; }
static inline unsigned long ckvm_CHECK_EXTENSION(void) { return KVM_CHECK_EXTENSION; }
static inline unsigned long ckvm_GET_VCPU_MMAP_SIZE(void) { return KVM_GET_VCPU_MMAP_SIZE; }
static inline unsigned long ckvm_SET_USER_MEMORY_REGION(void) { return KVM_SET_USER_MEMORY_REGION; }
static inline unsigned long ckvm_CREATE_VCPU(void) { return KVM_CREATE_VCPU; }
static inline unsigned long ckvm_RUN(void) { return KVM_RUN; }
static inline unsigned long ckvm_IRQ_LINE(void) { return KVM_IRQ_LINE; }
static inline unsigned long ckvm_CREATE_IRQCHIP(void) { return KVM_CREATE_IRQCHIP; }
static inline unsigned long ckvm_SIGNAL_MSI(void) { return KVM_SIGNAL_MSI; }
static inline unsigned long ckvm_IRQFD(void) { return KVM_IRQFD; }
static inline unsigned long ckvm_IOEVENTFD(void) { return KVM_IOEVENTFD; }
static inline unsigned long ckvm_SET_GSI_ROUTING(void) { return KVM_SET_GSI_ROUTING; }
static inline unsigned long ckvm_GET_REGS(void) { return KVM_GET_REGS; }
static inline unsigned long ckvm_SET_REGS(void) { return KVM_SET_REGS; }
static inline unsigned long ckvm_GET_SREGS(void) { return KVM_GET_SREGS; }
static inline unsigned long ckvm_SET_SREGS(void) { return KVM_SET_SREGS; }
static inline unsigned long ckvm_SET_FPU(void) { return KVM_SET_FPU; }
static inline unsigned long ckvm_GET_MP_STATE(void) { return KVM_GET_MP_STATE; }
#if defined(__x86_64__)
static inline unsigned long ckvm_SET_TSS_ADDR(void) { return KVM_SET_TSS_ADDR; }
static inline unsigned long ckvm_SET_IDENTITY_MAP_ADDR(void) { return KVM_SET_IDENTITY_MAP_ADDR; }
static inline unsigned long ckvm_CREATE_PIT2(void) { return KVM_CREATE_PIT2; }
static inline unsigned long ckvm_GET_SUPPORTED_CPUID(void) { return KVM_GET_SUPPORTED_CPUID; }
static inline unsigned long ckvm_SET_CPUID2(void) { return KVM_SET_CPUID2; }
static inline unsigned long ckvm_SET_MSRS(void) { return KVM_SET_MSRS; }
static inline unsigned long ckvm_GET_MSRS(void) { return KVM_GET_MSRS; }
static inline unsigned long ckvm_NMI(void) { return KVM_NMI; }
static inline unsigned long ckvm_GET_LAPIC(void) { return KVM_GET_LAPIC; }
static inline unsigned long ckvm_SET_LAPIC(void) { return KVM_SET_LAPIC; }
static inline unsigned long ckvm_GET_CLOCK(void) { return KVM_GET_CLOCK; }
static inline unsigned long ckvm_SET_CLOCK(void) { return KVM_SET_CLOCK; }
#endif

// The arm64 KVM API. <asm/kvm.h> of an x86 host lacks it, and the numbers
// are the same on every host (asm-generic ioctl encoding), so lkvm defines
// what it uses here under its own names; the x86 lkvm compiles ArchARM64 too.
// Values from arch/arm64/include/uapi/asm/kvm.h and Documentation/virt/kvm.
struct ckvm_vcpu_init {
    uint32_t target;
    uint32_t features[7];
};
static inline unsigned long ckvm_ARM_VCPU_INIT(void) { return _IOW(KVMIO, 0xae, struct ckvm_vcpu_init); }
static inline unsigned long ckvm_ARM_PREFERRED_TARGET(void) { return _IOR(KVMIO, 0xaf, struct ckvm_vcpu_init); }
static inline unsigned long ckvm_CREATE_DEVICE(void) { return KVM_CREATE_DEVICE; }
static inline unsigned long ckvm_SET_DEVICE_ATTR(void) { return KVM_SET_DEVICE_ATTR; }
static inline unsigned long ckvm_HAS_DEVICE_ATTR(void) { return KVM_HAS_DEVICE_ATTR; }
static inline unsigned long ckvm_GET_ONE_REG(void) { return KVM_GET_ONE_REG; }
static inline unsigned long ckvm_SET_ONE_REG(void) { return KVM_SET_ONE_REG; }
static inline unsigned long ckvm_ENABLE_CAP(void) { return KVM_ENABLE_CAP; }

enum {
    // kvm_vcpu_init.features[0] bits
    CKVM_ARM_VCPU_POWER_OFF = 0,
    CKVM_ARM_VCPU_PSCI_0_2 = 2,
    // VGIC device attribute groups and attributes
    CKVM_DEV_ARM_VGIC_GRP_ADDR = 0,
    CKVM_DEV_ARM_VGIC_GRP_NR_IRQS = 3,
    CKVM_DEV_ARM_VGIC_GRP_CTRL = 4,
    CKVM_DEV_ARM_VGIC_CTRL_INIT = 0,
    CKVM_VGIC_V3_ADDR_TYPE_DIST = 2,
    CKVM_VGIC_V3_ADDR_TYPE_REDIST = 3,
    CKVM_VGIC_ITS_ADDR_TYPE = 4,
    // KVM_IRQ_LINE's irq field: type << 24 | vcpu << 16 | number
    CKVM_ARM_IRQ_TYPE_SHIFT = 24,
    CKVM_ARM_IRQ_VCPU_SHIFT = 16,
    CKVM_ARM_IRQ_TYPE_SPI = 1,
    CKVM_ARM_IRQ_TYPE_PPI = 2,
};
// Device types and capabilities are in <linux/kvm.h> on every host.
static inline uint32_t ckvm_DEV_TYPE_ARM_VGIC_V3(void) { return KVM_DEV_TYPE_ARM_VGIC_V3; }
static inline uint32_t ckvm_DEV_TYPE_ARM_VGIC_ITS(void) { return KVM_DEV_TYPE_ARM_VGIC_ITS; }

// ONE_REG ids of arm64 core registers: KVM_REG_ARM64 | KVM_REG_SIZE_U64 |
// KVM_REG_ARM_CORE (0x10 << 16) | the register's offset in struct kvm_regs
// (struct user_pt_regs {regs[31], sp, pc, pstate} first, then sp_el1,
// elr_el1, spsr[5]) in 32-bit words.
static inline uint64_t ckvm_arm64_core_reg(uint32_t byte_offset) {
    return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | (0x0010ULL << 16) | (byte_offset / 4);
}
static inline uint64_t ckvm_arm64_reg_x(uint32_t n) { return ckvm_arm64_core_reg(n * 8); }
static inline uint64_t ckvm_arm64_reg_sp(void) { return ckvm_arm64_core_reg(31 * 8); }
static inline uint64_t ckvm_arm64_reg_pc(void) { return ckvm_arm64_core_reg(32 * 8); }
static inline uint64_t ckvm_arm64_reg_pstate(void) { return ckvm_arm64_core_reg(33 * 8); }
static inline uint64_t ckvm_arm64_reg_sp_el1(void) { return ckvm_arm64_core_reg(34 * 8); }
static inline uint64_t ckvm_arm64_reg_elr_el1(void) { return ckvm_arm64_core_reg(35 * 8); }
// AArch64 system registers: KVM_REG_ARM64_SYSREG (0x13 << 16) | op0:op1:CRn:CRm:op2.
static inline uint64_t ckvm_arm64_sysreg(uint32_t op0, uint32_t op1, uint32_t crn, uint32_t crm, uint32_t op2) {
    return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | (0x0013ULL << 16) | ((uint64_t)(op0 & 3) << 14)
        | ((uint64_t)(op1 & 7) << 11) | ((uint64_t)(crn & 15) << 7) | ((uint64_t)(crm & 15) << 3) | (op2 & 7);
}

// struct kvm_run accessors (its exit data lives in an anonymous union).
static inline uint32_t ckvm_run_exit_reason(const struct kvm_run *run) { return run->exit_reason; }
static inline void ckvm_run_set_immediate_exit(struct kvm_run *run, uint8_t value) {
    __atomic_store_n(&run->immediate_exit, value, __ATOMIC_SEQ_CST);
}
static inline uint8_t ckvm_run_io_direction(const struct kvm_run *run) { return run->io.direction; }
static inline uint8_t ckvm_run_io_size(const struct kvm_run *run) { return run->io.size; }
static inline uint16_t ckvm_run_io_port(const struct kvm_run *run) { return run->io.port; }
static inline uint32_t ckvm_run_io_count(const struct kvm_run *run) { return run->io.count; }
static inline uint64_t ckvm_run_io_data_offset(const struct kvm_run *run) { return run->io.data_offset; }
static inline uint64_t ckvm_run_mmio_address(const struct kvm_run *run) { return run->mmio.phys_addr; }
static inline uint32_t ckvm_run_mmio_length(const struct kvm_run *run) { return run->mmio.len; }
static inline uint8_t ckvm_run_mmio_is_write(const struct kvm_run *run) { return run->mmio.is_write; }
static inline uint64_t ckvm_run_mmio_data(const struct kvm_run *run) {
    uint64_t value = 0;
    __builtin_memcpy(&value, run->mmio.data, run->mmio.len <= 8 ? run->mmio.len : 8);
    return value;
}
static inline void ckvm_run_set_mmio_data(struct kvm_run *run, uint64_t value) {
    __builtin_memcpy(run->mmio.data, &value, run->mmio.len <= 8 ? run->mmio.len : 8);
}
static inline uint32_t ckvm_run_internal_suberror(const struct kvm_run *run) { return run->internal.suberror; }
static inline uint32_t ckvm_run_internal_ndata(const struct kvm_run *run) {
    return run->internal.ndata <= 16 ? run->internal.ndata : 16;
}
static inline uint64_t ckvm_run_internal_data(const struct kvm_run *run, uint32_t index) {
    return index < 16 ? run->internal.data[index] : 0;
}
static inline uint64_t ckvm_run_fail_entry_reason(const struct kvm_run *run) {
    return run->fail_entry.hardware_entry_failure_reason;
}
static inline uint32_t ckvm_run_fail_entry_cpu(const struct kvm_run *run) { return run->fail_entry.cpu; }
static inline uint32_t ckvm_run_system_event_type(const struct kvm_run *run) { return run->system_event.type; }
static inline uint64_t ckvm_run_arm_nisv_fault_ipa(const struct kvm_run *run) { return run->arm_nisv.fault_ipa; }
static inline uint64_t ckvm_run_arm_nisv_esr_iss(const struct kvm_run *run) { return run->arm_nisv.esr_iss; }
static inline uint64_t ckvm_run_unknown_reason(const struct kvm_run *run) { return run->hw.hardware_exit_reason; }

#if defined(__x86_64__)
// Variable-length structs, allocated zeroed with room for `count` entries.
struct kvm_cpuid2 *ckvm_cpuid_alloc(uint32_t count);
struct kvm_msrs *ckvm_msrs_alloc(uint32_t count);
static inline struct kvm_cpuid_entry2 *ckvm_cpuid_entry(struct kvm_cpuid2 *cpuid, uint32_t index) {
    return &cpuid->entries[index];
}
static inline struct kvm_msr_entry *ckvm_msr_entry(struct kvm_msrs *msrs, uint32_t index) {
    return &msrs->entries[index];
}

// struct kvm_lapic_state is a 1 KiB byte array of APIC registers.
static inline uint32_t ckvm_lapic_get(const struct kvm_lapic_state *lapic, uint32_t offset) {
    uint32_t value = 0;
    if (offset + 4 <= sizeof(lapic->regs)) __builtin_memcpy(&value, &lapic->regs[offset], 4);
    return value;
}
static inline void ckvm_lapic_set(struct kvm_lapic_state *lapic, uint32_t offset, uint32_t value) {
    if (offset + 4 <= sizeof(lapic->regs)) __builtin_memcpy(&lapic->regs[offset], &value, 4);
}
#endif

#endif
