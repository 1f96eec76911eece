// The baseline for lkvm's exit round trip: the least a VMM can do. Loads the
// payload of a tiny bzImage (scripts/tiny-bzimage.py) at 16 MiB, enters it in
// long mode at +0x200 like lkvm, answers port exits with nothing, and stops at
// the i8042 reset write (port 0x64). Built by scripts/bench at bench time.
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE (64UL << 20)
#define LOAD 0x1000000UL
#define CHECK(x) do { if ((x) < 0) { perror(#x); exit(1); } } while (0)

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: exit-loop TINY_BZIMAGE\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    static uint8_t image[1 << 20];
    size_t size = fread(image, 1, sizeof image, f);
    fclose(f);
    size_t setup = (image[0x1F1] + 1) * 512;

    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    CHECK(kvm);
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    CHECK(vm);
    uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    memcpy(mem + LOAD, image + setup, size - setup);
    // Identity page tables for the first 1 GiB (2 MiB pages) and a flat GDT.
    uint64_t *pml4 = (uint64_t *)(mem + 0x9000), *pdpt = (uint64_t *)(mem + 0xA000), *pd = (uint64_t *)(mem + 0xB000);
    pml4[0] = 0xA000 | 3;
    pdpt[0] = 0xB000 | 3;
    for (int i = 0; i < 512; i++) pd[i] = ((uint64_t)i << 21) | 0x83;
    uint64_t *gdt = (uint64_t *)(mem + 0x500);
    gdt[2] = 0x00AF9B000000FFFFULL;
    gdt[3] = 0x00CF93000000FFFFULL;
    struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
                                                  .userspace_addr = (uint64_t)mem };
    CHECK(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region));
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    CHECK(vcpu);
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    struct kvm_sregs sregs;
    CHECK(ioctl(vcpu, KVM_GET_SREGS, &sregs));
    struct kvm_segment code = { .base = 0, .limit = 0xFFFFFFFF, .selector = 0x10, .type = 11, .present = 1,
                                .s = 1, .l = 1, .g = 1 };
    struct kvm_segment data = { .base = 0, .limit = 0xFFFFFFFF, .selector = 0x18, .type = 3, .present = 1,
                                .s = 1, .db = 1, .g = 1 };
    sregs.cs = code;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    sregs.gdt.base = 0x500;
    sregs.gdt.limit = 31;
    sregs.cr0 = 0x80000011;
    sregs.cr3 = 0x9000;
    sregs.cr4 = 0x20;
    sregs.efer = 0x500;
    CHECK(ioctl(vcpu, KVM_SET_SREGS, &sregs));
    struct kvm_regs regs = { .rip = LOAD + 0x200, .rflags = 2 };
    CHECK(ioctl(vcpu, KVM_SET_REGS, &regs));

    unsigned long exits = 0;
    for (;;) {
        CHECK(ioctl(vcpu, KVM_RUN, 0));
        if (run->exit_reason != KVM_EXIT_IO) {
            fprintf(stderr, "exit-loop: unexpected exit %u\n", run->exit_reason);
            return 1;
        }
        exits++;
        if (run->io.port == 0x64) break;
    }
    printf("%lu\n", exits);
    return 0;
}
