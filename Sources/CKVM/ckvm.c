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
