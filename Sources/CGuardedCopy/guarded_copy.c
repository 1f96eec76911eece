#include "guarded_copy.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

static struct sigaction previous_action;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_result = -1;
static int install_errno;
// The copy this thread is in, if any: where a SIGBUS jumps to.
static __thread sigjmp_buf *active_guard;

static void on_sigbus(int signal, siginfo_t *info, void *context) {
    (void)context;
    sigjmp_buf *guard = active_guard;
    if (guard != NULL) siglongjmp(*guard, 1);
    // Not a guarded copy's: hand the signal to the action from before. A
    // fault re-runs its instruction when this returns; a sent signal is sent again.
    sigaction(SIGBUS, &previous_action, NULL);
    if (info->si_code <= 0) raise(signal);
}

static void install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_sigbus;
    // SA_NODEFER: the jump out of the handler leaves SIGBUS unblocked without
    // sigsetjmp saving and restoring the mask (a system call on every copy).
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    install_result = sigaction(SIGBUS, &action, &previous_action);
    install_errno = errno;
}

int guarded_copy_prepare(void) {
    pthread_once(&install_once, install);
    if (install_result != 0) errno = install_errno;
    return install_result;
}

// 64-bit words, not memcpy: on x86 glibc's memcpy and the kernel's
// copy_to_user move page-sized blocks with `rep movsb`, which QEMU's TCG (the
// lab's L1) runs a byte at a time, 8x slower than these loads and stores
// (docs/performance.md). no_builtin keeps the compiler from turning the loop
// back into a memcpy call, and the empty asm from merging the words into
// 16-byte vector moves, which TCG runs at half the speed of these.
typedef uint64_t __attribute__((aligned(1), may_alias)) unaligned_word;

__attribute__((no_builtin("memcpy")))
static void copy_words(unsigned char *destination, const unsigned char *source, size_t count) {
    size_t done = 0;
#pragma clang loop vectorize(disable) interleave(disable)
    for (; done + 32 <= count; done += 32) {
        uint64_t a = *(const unaligned_word *)(source + done);
        uint64_t b = *(const unaligned_word *)(source + done + 8);
        uint64_t c = *(const unaligned_word *)(source + done + 16);
        uint64_t d = *(const unaligned_word *)(source + done + 24);
        __asm__("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d));
        *(unaligned_word *)(destination + done) = a;
        *(unaligned_word *)(destination + done + 8) = b;
        *(unaligned_word *)(destination + done + 16) = c;
        *(unaligned_word *)(destination + done + 24) = d;
    }
#pragma clang loop vectorize(disable) interleave(disable)
    for (; done < count; done++) destination[done] = source[done];
}

enum { page_size_floor = 4096 };

size_t guarded_copy(void *destination, const void *source, size_t count) {
    sigjmp_buf guard;
    // Read after the jump: volatile, so it holds the last page's progress.
    volatile size_t copied = 0;
    if (sigsetjmp(guard, 0) != 0) {
        active_guard = NULL;
        return copied;
    }
    active_guard = &guard;
    // In pieces that cross no page boundary on either side, so a fault
    // tells how far the copy got, whichever side faulted.
    while (copied < count) {
        size_t done = copied;
        size_t to_source_page = page_size_floor - ((uintptr_t)source + done) % page_size_floor;
        size_t to_destination_page = page_size_floor - ((uintptr_t)destination + done) % page_size_floor;
        size_t chunk = to_source_page < to_destination_page ? to_source_page : to_destination_page;
        if (chunk > count - done) chunk = count - done;
        copy_words((unsigned char *)destination + done, (const unsigned char *)source + done, chunk);
        copied = done + chunk;
    }
    active_guard = NULL;
    return copied;
}
