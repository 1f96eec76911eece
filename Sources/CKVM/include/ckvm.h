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
static inline unsigned long ckvm_GET_LAPIC(void) { return KVM_GET_LAPIC; }
static inline unsigned long ckvm_SET_LAPIC(void) { return KVM_SET_LAPIC; }
#endif

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
