/* SPDX-License-Identifier: Apache-2.0 */
/*
 * platform.h - the only place that talks to Linux directly (private to the library): futexes,
 * clocks, memory-file regions, descriptor passing. Wrappers return 0 / a value or -errno; they
 * are the only functions that read errno.
 */
#ifndef LITEIPC_PLATFORM_H
#define LITEIPC_PLATFORM_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t lk_now_ns(void);

/*
 * Wait while *word == expected, until woken or until the absolute CLOCK_MONOTONIC deadline
 * (0 = none). The word may live in memory shared between processes; `private`: it is waited
 * on and woken by the threads of this process only, at this address (a private futex, which
 * spares the kernel a page lookup per call). Returns 0 (woken, or the value had changed),
 * -ETIMEDOUT, or -EINTR.
 */
int lk_futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns, bool private);
/* Wake up to n waiters of word (`private` as the waiters' wait). */
void lk_futex_wake(_Atomic uint32_t *word, int n, bool private);
/* Wait until any of n words (n <= 128) differs from its expected value or is woken, or the
   deadline passes: 0, -ETIMEDOUT, or -ENOSYS where the system has no futex_waitv. The first
   word is private if first_private, the others shared. */
int lk_futex_waitv(_Atomic uint32_t *const *words, const uint32_t *expected, int n,
                   uint64_t deadline_ns, bool first_private);

/* A cheap pause for spin loops. */
static inline void lk_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* The CPU this thread runs on now (glibc reads it from the rseq area or the vDSO), or -1: where
   a command was completed, for its caller's next poll (client.c, answered_here). */
static inline int lk_cpu(void)
{
    return sched_getcpu();
}

/* An anonymous memory file (memfd) of `size` bytes, close-on-exec. Returns the fd or -errno. */
int lk_memfd_create(const char *name, size_t size);
/* Forbid every later writable mapping of fd (the broker's own mapping stays), any change of
   size, and any further seal. 0 or -errno. */
int lk_memfd_seal_writes(int fd);
/* Forbid any change of fd's size and any further seal (a memory its users write). 0 or -errno. */
int lk_memfd_seal_size(int fd);

/*
 * Map `size` bytes of fd shared with prot, excluded from fork children (MADV_DONTFORK: a child
 * must not inherit a view of kernel memory, quirk Q16). Returns the address or NULL (errno).
 */
void *lk_map_shared(int fd, size_t size, int prot);
/* Same, at a fixed address over a reservation made earlier. */
void *lk_map_shared_at(void *addr, int fd, size_t size, int prot);

/*
 * Send a datagram of len bytes with up to 4 descriptors on a SOCK_SEQPACKET socket; receive
 * one, storing received descriptors in fds[] (unused slots set to -1). Both retry EINTR.
 * Return bytes moved, 0 on EOF (recv), or -errno.
 */
ssize_t lk_seq_send(int sock, const void *buf, size_t len, const int *fds, int nfds);
ssize_t lk_seq_recv(int sock, void *buf, size_t len, int *fds, int maxfds);

/* Round n up to a multiple of a power of two `align`, or 0 on overflow. */
static inline size_t lk_round_up(size_t n, size_t align)
{
    if (n > SIZE_MAX - (align - 1))
        return 0;
    return (n + align - 1) & ~(align - 1);
}

#endif /* LITEIPC_PLATFORM_H */
