/* SPDX-License-Identifier: Apache-2.0 */
/* platform.c - Linux system interfaces used by the runtime (see platform.h). */
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/time_types.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t lk_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int lk_futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns, bool private)
{
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a spurious wake-up
       never stretches the wait. */
    int op = FUTEX_WAIT_BITSET | (private ? FUTEX_PRIVATE_FLAG : 0);
    struct timespec ts, *tp = NULL;
    long rc;

    if (deadline_ns != 0) {
        ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
        ts.tv_nsec = (long)(deadline_ns % 1000000000u);
        tp = &ts;
    }
    rc = syscall(SYS_futex, (uint32_t *)word, op, expected, tp, NULL, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0 || errno == EAGAIN)
        return 0;
    return -errno;
}

void lk_futex_wake(_Atomic uint32_t *word, int n, bool private)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE | (private ? FUTEX_PRIVATE_FLAG : 0), n, NULL,
            NULL, 0);
}

int lk_futex_waitv(_Atomic uint32_t *const *words, const uint32_t *expected, int n,
                   uint64_t deadline_ns, bool first_private)
{
#ifdef SYS_futex_waitv
    struct futex_waitv v[FUTEX_WAITV_MAX];
    struct __kernel_timespec ts; /* 64-bit times on every ABI, 32-bit builds included */
    long rc;

    for (int i = 0; i < n && i < FUTEX_WAITV_MAX; i++)
        v[i] = (struct futex_waitv){
            .val = expected[i], .uaddr = (uintptr_t)words[i],
            .flags = FUTEX_32 | (i == 0 && first_private ? FUTEX_PRIVATE_FLAG : 0)};
    ts.tv_sec = (long long)(deadline_ns / 1000000000u);
    ts.tv_nsec = (long long)(deadline_ns % 1000000000u);
    rc = syscall(SYS_futex_waitv, v, (unsigned)n, 0u, &ts, CLOCK_MONOTONIC);
    if (rc >= 0 || errno == EAGAIN || errno == EFAULT || errno == EINTR)
        return 0;
    return -errno;
#else
    (void)words, (void)expected, (void)n, (void)deadline_ns, (void)first_private;
    return -ENOSYS;
#endif
}

int lk_memfd_create(const char *name, size_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)size) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

static void *map_common(void *addr, int fd, size_t size, int prot, int extra)
{
    void *p = mmap(addr, size, prot, MAP_SHARED | extra, fd, 0);

    if (p == MAP_FAILED)
        return NULL;
    if (madvise(p, size, MADV_DONTFORK) < 0) {
        int err = errno;
        munmap(p, size);
        errno = err;
        return NULL;
    }
    return p;
}

void *lk_map_shared(int fd, size_t size, int prot)
{
    return map_common(NULL, fd, size, prot, 0);
}

void *lk_map_shared_at(void *addr, int fd, size_t size, int prot)
{
    return map_common(addr, fd, size, prot, MAP_FIXED);
}

ssize_t lk_seq_send(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;

    if (nfds > 4)
        return -EINVAL;
    if (nfds > 0) {
        struct cmsghdr *c;

        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    }
    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

ssize_t lk_seq_recv(int sock, void *buf, size_t len, int *fds, int maxfds)
{
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *c;
    ssize_t n;
    int got = 0;

    for (int i = 0; i < maxfds; i++)
        fds[i] = -1;
    if (maxfds > 0) { /* with no room, the kernel discards descriptors sent (MSG_CTRUNC) */
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
    }
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        size_t count;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (got < maxfds)
                fds[got++] = fd;
            else
                close(fd); /* more than we asked for: never leak them */
        }
    }
    return n;
}

int lk_memfd_seal_writes(int fd)
{
    /* Mappings made from now on can never become writable (mprotect fails), while the
       broker's existing writable mapping keeps working: the memory is the kernel's to write.
       Nobody can resize it (a shrunk file is SIGBUS for every mapper), or add seals. */
    int seals = F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

    if (fcntl(fd, F_ADD_SEALS, seals) < 0)
        return -errno;
    return 0;
}

int lk_memfd_seal_size(int fd)
{
    /* The size is fixed (a shrunk file is SIGBUS for every mapper, the broker included), and
       no seal can be added later (F_SEAL_WRITE would stop the broker's answers). */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        return -errno;
    return 0;
}
