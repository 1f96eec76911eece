#include "ckvm.h"
#include <stdlib.h>
#include <sys/ioctl.h>

int ckvm_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }
int ckvm_ioctl_val(int fd, unsigned long request, unsigned long arg) { return ioctl(fd, request, arg); }

#if defined(__x86_64__)
struct kvm_cpuid2 *ckvm_cpuid_alloc(uint32_t count) {
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + count * sizeof(struct kvm_cpuid_entry2));
    if (cpuid) cpuid->nent = count;
    return cpuid;
}

struct kvm_msrs *ckvm_msrs_alloc(uint32_t count) {
    struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + count * sizeof(struct kvm_msr_entry));
    if (msrs) msrs->nmsrs = count;
    return msrs;
}
#endif

/* KVM_SET_GSI_ROUTING replaces the whole table, the in-kernel default
 * included; on x86 that default routes GSIs 0-15 to both PICs and the
 * IOAPIC and 16-23 to the IOAPIC, pin = GSI (KVM_IRQ_LINE and the PIT go
 * through it), so `legacy` > 0 re-creates it ahead of the MSI routes. */
int ckvm_set_msi_routing(int vmfd, uint32_t legacy, const uint32_t *gsis, const uint64_t *addresses,
                         const uint32_t *data, const uint32_t *devids, uint32_t count) {
    uint32_t legacyEntries = 0;
#if defined(__x86_64__)
    legacyEntries = legacy + (legacy < 16 ? legacy : 16);
#else
    (void)legacy;
#endif
    uint32_t total = legacyEntries + count;
    struct kvm_irq_routing *table = calloc(1, sizeof(*table) + total * sizeof(struct kvm_irq_routing_entry));
    if (!table) return -1;
    uint32_t n = 0;
#if defined(__x86_64__)
    for (uint32_t gsi = 0; gsi < legacy; gsi++) {
        struct kvm_irq_routing_entry *e = &table->entries[n++];
        e->gsi = gsi;
        e->type = KVM_IRQ_ROUTING_IRQCHIP;
        e->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
        e->u.irqchip.pin = gsi;
        if (gsi < 16) {
            e = &table->entries[n++];
            e->gsi = gsi;
            e->type = KVM_IRQ_ROUTING_IRQCHIP;
            e->u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
            e->u.irqchip.pin = gsi % 8;
        }
    }
#endif
    for (uint32_t i = 0; i < count; i++) {
        struct kvm_irq_routing_entry *e = &table->entries[n++];
        e->gsi = gsis[i];
        e->type = KVM_IRQ_ROUTING_MSI;
        e->u.msi.address_lo = (uint32_t)addresses[i];
        e->u.msi.address_hi = (uint32_t)(addresses[i] >> 32);
        e->u.msi.data = data[i];
        if (devids) {
            e->flags = KVM_MSI_VALID_DEVID;
            e->u.msi.devid = devids[i];
        }
    }
    table->nr = n;
    int result = ioctl(vmfd, KVM_SET_GSI_ROUTING, table);
    free(table);
    return result;
}
