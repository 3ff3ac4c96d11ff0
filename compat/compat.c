/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compat.c - the device's system calls, interposed: open/mmap/munmap/ioctl/read/write/close of
 * "/dev/lite_ipc" go to a simulated kernel, everything else to the C library (see
 * <liteipc/compat.h> for what is routed and what is not).
 *
 * One implementation, two packagings: compiled into libliteipc_preload.so (LD_PRELOAD) and into
 * libliteipc_compat.a (linked into a program). In both, these definitions come first in symbol
 * lookup, so they also catch the simulator library's own calls to close, mmap, read, ...: those
 * run with the thread's `inside` mark set and go straight to the C library. The C library's
 * functions are found with dlsym(RTLD_NEXT) on first use.
 *
 * gettid() and syscall(SYS_gettid) answer the simulated TID of the calling thread once the
 * process has opened the device (see <liteipc/compat.h>).
 *
 * State (all of it per process, none of it touched until the device is opened):
 *   kernel     the simulated kernel, attached on the first open of the device, kept for the
 *              life of the process (a fork child keeps the handle: the library makes it a new
 *              simulated process on its first call).
 *   dev_fds    a bitmap of the descriptors that open returned for the device.
 *   pool_*     the range of the pool this process mapped from the device, for munmap.
 */
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <liteipc/compat.h>
#include <liteipc/liteipc.h>

#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_PAGE 4096u

/* Device descriptors are tracked below this number; a higher one is refused with EMFILE. */
#define DEV_FD_MAX 65536

/* The fortified entry points of the C library (declared by its headers only with fortify). */
SHIM_EXPORT int __open_2(const char *path, int flags);
SHIM_EXPORT int __open64_2(const char *path, int flags);
SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags);
SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags);
SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen);

/* ---- the C library's functions -------------------------------------------------------------- */

enum real_id {
    R_OPEN,
    R_OPEN64,
    R_OPENAT,
    R_OPENAT64,
    R_OPEN_2,
    R_OPEN64_2,
    R_OPENAT_2,
    R_OPENAT64_2,
    R_CLOSE,
    R_READ,
    R_READ_CHK,
    R_WRITE,
    R_IOCTL,
    R_MMAP,
    R_MMAP64,
    R_MUNMAP,
    R_MPROTECT,
    R_SYSCALL,
    R_COUNT
};

static const char *const real_names[R_COUNT] = {
    [R_OPEN] = "open",         [R_OPEN64] = "open64",         [R_OPENAT] = "openat",
    [R_OPENAT64] = "openat64", [R_OPEN_2] = "__open_2",       [R_OPEN64_2] = "__open64_2",
    [R_OPENAT_2] = "__openat_2", [R_OPENAT64_2] = "__openat64_2", [R_CLOSE] = "close",
    [R_READ] = "read",         [R_READ_CHK] = "__read_chk",   [R_WRITE] = "write",
    [R_IOCTL] = "ioctl",       [R_MMAP] = "mmap",             [R_MMAP64] = "mmap64",
    [R_MUNMAP] = "munmap",       [R_MPROTECT] = "mprotect",
    [R_SYSCALL] = "syscall",
};

static void *_Atomic real_fns[R_COUNT];

/* Set while this thread runs simulator code (its system calls are the C library's) or looks
   up a C library function (dlsym may allocate, and an allocator may call mmap). */
static __thread int inside __attribute__((tls_model("initial-exec")));
static __thread int resolving __attribute__((tls_model("initial-exec")));

/* The C library's function, or NULL while this very thread is looking it up. */
static void *real(enum real_id id)
{
    void *f = atomic_load_explicit(&real_fns[id], memory_order_acquire);

    if (f || resolving)
        return f;
    /* syscall first: the fallbacks below call it (ours, which needs the C library's) while a
       lookup runs in this thread */
    if (id != R_SYSCALL)
        real(R_SYSCALL);
    resolving = 1;
    f = dlsym(RTLD_NEXT, real_names[id]);
    resolving = 0;
    /* pairs with the acquire above: other threads see a complete lookup */
    atomic_store_explicit(&real_fns[id], f, memory_order_release);
    return f;
}

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);
typedef int (*close_fn)(int);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*read_chk_fn)(int, void *, size_t, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef void *(*mmap64_fn)(void *, size_t, int, int, int, off64_t);
typedef int (*munmap_fn)(void *, size_t);
typedef long (*syscall_fn)(long, ...);

/* Without the C library's function (only while dlsym runs in this thread): the system call. */
static int real_openat(enum real_id id, int dirfd, const char *path, int flags, mode_t mode)
{
    void *f = real(id);

    switch (id) {
    case R_OPEN:
    case R_OPEN64:
        if (f)
            return ((open_fn)f)(path, flags, mode);
        break;
    case R_OPEN_2:
    case R_OPEN64_2:
        if (f)
            return ((open2_fn)f)(path, flags);
        break;
    case R_OPENAT:
    case R_OPENAT64:
        if (f)
            return ((openat_fn)f)(dirfd, path, flags, mode);
        break;
    case R_OPENAT_2:
    case R_OPENAT64_2:
        if (f)
            return ((openat2_fn)f)(dirfd, path, flags);
        break;
    default:
        break;
    }
    return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

static int real_close(int fd)
{
    close_fn f = (close_fn)real(R_CLOSE);

    return f ? f(fd) : (int)syscall(SYS_close, fd);
}

static ssize_t real_read(int fd, void *buf, size_t n)
{
    read_fn f = (read_fn)real(R_READ);

    return f ? f(fd, buf, n) : syscall(SYS_read, fd, buf, n);
}

static ssize_t real_write(int fd, const void *buf, size_t n)
{
    write_fn f = (write_fn)real(R_WRITE);

    return f ? f(fd, buf, n) : syscall(SYS_write, fd, buf, n);
}

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
#ifdef SYS_mmap2
    /* 32-bit: SYS_mmap is the old call that reads its arguments from memory; mmap2 takes the
       offset in pages */
    if (off & 4095) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    return (void *)syscall(SYS_mmap2, addr, len, prot, flags, fd, (unsigned long)(off >> 12));
#else
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
#endif
}

static void *real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    mmap_fn f = (mmap_fn)real(R_MMAP);

    return f ? f(addr, len, prot, flags, fd, off) : sys_mmap(addr, len, prot, flags, fd, off);
}

/* Not real_mmap: on 32-bit, mmap64's offset has 64 bits and mmap's 32, so each is called with
   its own type (a 64-bit offset passed as off_t reaches mmap64 with garbage in its top half). */
static void *real_mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    mmap64_fn f = (mmap64_fn)real(R_MMAP64);

    return f ? f(addr, len, prot, flags, fd, off) : sys_mmap(addr, len, prot, flags, fd, off);
}

static int real_munmap(void *addr, size_t len)
{
    munmap_fn f = (munmap_fn)real(R_MUNMAP);

    return f ? f(addr, len) : (int)syscall(SYS_munmap, addr, len);
}

/* ---- state ------------------------------------------------------------------------------------ */

static pthread_mutex_t kernel_lock = PTHREAD_MUTEX_INITIALIZER;
static liteipc_kernel *_Atomic kernel;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static bool reported; /* under kernel_lock: the reason open failed was printed */

static _Atomic uint64_t dev_fds[DEV_FD_MAX / 64];

static _Atomic uintptr_t pool_base;
static _Atomic size_t pool_len;

static bool is_dev_fd(int fd)
{
    if (fd < 0 || fd >= DEV_FD_MAX)
        return false;
    return (atomic_load_explicit(&dev_fds[fd >> 6], memory_order_relaxed) >> (fd & 63)) & 1u;
}

static void dev_fd_mark(int fd, bool on)
{
    uint64_t bit = 1ull << (fd & 63);

    if (on)
        atomic_fetch_or(&dev_fds[fd >> 6], bit);
    else
        atomic_fetch_and(&dev_fds[fd >> 6], ~bit);
}

/* Not inlined and not analysed across calls: the C library declares open's path nonnull, but
   a NULL path must still reach the C library (EFAULT), not crash here. */
__attribute__((noipa)) static bool is_dev_path(const char *path)
{
    return path != NULL && strcmp(path, LITEIPC_DRIVER) == 0;
}

static bool in_pool(const void *addr, size_t len)
{
    uintptr_t base = atomic_load_explicit(&pool_base, memory_order_relaxed);
    uintptr_t a = (uintptr_t)addr;

    if (base == 0)
        return false;
    return a < base + atomic_load_explicit(&pool_len, memory_order_relaxed) && base < a + len;
}

/* A fork child has no view of its parent's pool (the library maps it MADV_DONTFORK), and a
   thread of the parent may have held the lock. */
static void atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

    memcpy(&kernel_lock, &fresh, sizeof(fresh));
    atomic_store(&pool_base, 0);
    atomic_store(&pool_len, 0);
}

static void install_atfork(void)
{
    pthread_atfork(NULL, NULL, atfork_child);
}

/* The kernel of this process: attached (or started) on the first call. NULL and *err. */
static liteipc_kernel *kernel_get(int *err)
{
    liteipc_kernel *k = atomic_load_explicit(&kernel, memory_order_acquire);
    const char *name;
    int r;

    if (k)
        return k;
    pthread_once(&atfork_once, install_atfork);
    pthread_mutex_lock(&kernel_lock);
    k = atomic_load_explicit(&kernel, memory_order_acquire);
    if (!k) {
        name = liteipc_device_name();
        r = liteipc_kernel_attach_or_start(name, &k);
        if (r < 0) {
            k = NULL;
            *err = r;
            if (!reported) {
                reported = true;
                fprintf(stderr, "liteipc: cannot reach the kernel \"%s\" for %s: %s%s\n", name,
                        LITEIPC_DRIVER, strerror(-r),
                        r == -EPROTO ? " (another build of liteipc-sim serves it: a 32-bit "
                                       "and a 64-bit build never share a kernel)"
                                     : "");
            }
        } else {
            /* pairs with the acquire loads: a thread that sees k sees it complete */
            atomic_store_explicit(&kernel, k, memory_order_release);
        }
    }
    pthread_mutex_unlock(&kernel_lock);
    return k;
}

/* ---- the device's side ------------------------------------------------------------------------ */

static int dev_open(int flags)
{
    liteipc_kernel *k;
    int fd, err = 0;

    inside++;
    k = kernel_get(&err);
    if (!k) {
        inside--;
        errno = -err;
        return -1;
    }
    fd = liteipc_open(k, LITEIPC_DRIVER, flags);
    err = errno;
    if (fd >= DEV_FD_MAX) {
        liteipc_close(k, fd);
        fd = -1;
        err = EMFILE;
    }
    if (fd >= 0)
        dev_fd_mark(fd, true);
    inside--;
    errno = err;
    return fd;
}

static int dev_close(int fd)
{
    liteipc_kernel *k = atomic_load_explicit(&kernel, memory_order_acquire);
    int r, err;

    /* Forget the number first: from here on no other thread routes calls on it, and it is not
       free for reuse until the close below. */
    dev_fd_mark(fd, false);
    inside++;
    r = liteipc_close(k, fd);
    if (r < 0)
        r = real_close(fd); /* the kernel is unreachable: still give the number back */
    err = errno;
    inside--;
    errno = err;
    return r;
}

static ssize_t dev_read_write(int fd, bool is_read, void *rbuf, const void *wbuf, size_t n)
{
    liteipc_kernel *k = atomic_load_explicit(&kernel, memory_order_acquire);
    ssize_t r;
    int err;

    inside++;
    r = is_read ? liteipc_read(k, fd, rbuf, n) : liteipc_write(k, fd, wbuf, n);
    err = errno;
    inside--;
    errno = err;
    return r;
}

static int dev_ioctl(int fd, unsigned long request, void *arg)
{
    liteipc_kernel *k = atomic_load_explicit(&kernel, memory_order_acquire);
    int r, err;

    inside++;
    r = liteipc_ioctl(k, fd, request, (unsigned long)(uintptr_t)arg);
    err = errno;
    inside--;
    errno = err;
    return r;
}

static void *dev_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    liteipc_kernel *k = atomic_load_explicit(&kernel, memory_order_acquire);
    void *u;
    int err;

    inside++;
    u = liteipc_mmap(k, addr, len, prot, flags, fd, off);
    err = errno;
    if (u != MAP_FAILED) {
        atomic_store(&pool_len, (len + SHIM_PAGE - 1) & ~(size_t)(SHIM_PAGE - 1));
        atomic_store(&pool_base, (uintptr_t)u);
    }
    inside--;
    errno = err;
    return u;
}

static int dev_munmap(void *addr, size_t len)
{
    liteipc_kernel *k = atomic_load_explicit(&kernel, memory_order_acquire);
    uintptr_t base = atomic_load(&pool_base);
    int r, err;

    inside++;
    r = liteipc_munmap(k, addr, len);
    err = errno;
    /* the same rule as the library's: the pool is gone once its start is unmapped */
    if (r == 0 && (uintptr_t)addr <= base && base < (uintptr_t)addr + len) {
        atomic_store(&pool_base, 0);
        atomic_store(&pool_len, 0);
    }
    inside--;
    errno = err;
    return r;
}

/* ---- the interposed functions ------------------------------------------------------------------ */

/*
 * Linked from libliteipc_compat.a, this file must be in the program even when none of the
 * program's own objects calls open, mmap or ioctl (its device calls may come from a library
 * listed after the archive, like the test kit inside libliteipc.a) and when a sanitizer's
 * runtime, linked first, defines them too. The package asks the linker for this symbol
 * (--undefined), which pulls the whole file in.
 */
SHIM_EXPORT const char liteipc_compat_linked = 1;

/* The mode argument of an open, present only with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, last, mode)                                                       \
    do {                                                                                   \
        if (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE) {                   \
            va_list ap_;                                                                   \
            va_start(ap_, last);                                                           \
            (mode) = (mode_t)va_arg(ap_, int);                                             \
            va_end(ap_);                                                                   \
        }                                                                                  \
    } while (0)

SHIM_EXPORT int open(const char *path, int flags, ...)
{
    mode_t mode = 0;

    OPEN_MODE(flags, flags, mode);
    if (!inside && is_dev_path(path))
        return dev_open(flags);
    return real_openat(R_OPEN, AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;

    OPEN_MODE(flags, flags, mode);
    if (!inside && is_dev_path(path))
        return dev_open(flags);
    return real_openat(R_OPEN64, AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;

    OPEN_MODE(flags, flags, mode);
    if (!inside && is_dev_path(path))
        return dev_open(flags);
    return real_openat(R_OPENAT, dirfd, path, flags, mode);
}

SHIM_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;

    OPEN_MODE(flags, flags, mode);
    if (!inside && is_dev_path(path))
        return dev_open(flags);
    return real_openat(R_OPENAT64, dirfd, path, flags, mode);
}

SHIM_EXPORT int __open_2(const char *path, int flags)
{
    if (!inside && is_dev_path(path))
        return dev_open(flags);
    return real_openat(R_OPEN_2, AT_FDCWD, path, flags, 0);
}

SHIM_EXPORT int __open64_2(const char *path, int flags)
{
    if (!inside && is_dev_path(path))
        return dev_open(flags);
    return real_openat(R_OPEN64_2, AT_FDCWD, path, flags, 0);
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    if (!inside && is_dev_path(path))
        return dev_open(flags);
    return real_openat(R_OPENAT_2, dirfd, path, flags, 0);
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    if (!inside && is_dev_path(path))
        return dev_open(flags);
    return real_openat(R_OPENAT64_2, dirfd, path, flags, 0);
}

SHIM_EXPORT int close(int fd)
{
    if (!inside && is_dev_fd(fd))
        return dev_close(fd);
    return real_close(fd);
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t count)
{
    if (!inside && is_dev_fd(fd))
        return dev_read_write(fd, true, buf, NULL, count);
    return real_read(fd, buf, count);
}

SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen)
{
    read_chk_fn f;

    if (!inside && is_dev_fd(fd) && nbytes <= buflen)
        return dev_read_write(fd, true, buf, NULL, nbytes);
    f = (read_chk_fn)real(R_READ_CHK);
    return f ? f(fd, buf, nbytes, buflen) : real_read(fd, buf, nbytes);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
    if (!inside && is_dev_fd(fd))
        return dev_read_write(fd, false, NULL, buf, count);
    return real_write(fd, buf, count);
}

SHIM_EXPORT int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    void *arg;
    ioctl_fn f;

    /* Every ioctl passes at most one argument, an integer or a pointer (as the C library's
       own wrapper assumes). */
    va_start(ap, request);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (!inside && is_dev_fd(fd))
        return dev_ioctl(fd, request, arg);
    f = (ioctl_fn)real(R_IOCTL);
    return f ? f(fd, request, arg) : (int)syscall(SYS_ioctl, fd, request, arg);
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (!inside && !(flags & MAP_ANONYMOUS) && is_dev_fd(fd))
        return dev_mmap(addr, len, prot, flags, fd, off);
    return real_mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    if (!inside && !(flags & MAP_ANONYMOUS) && is_dev_fd(fd))
        return dev_mmap(addr, len, prot, flags, fd, (off_t)off);
    return real_mmap64(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT int munmap(void *addr, size_t len)
{
    if (!inside && in_pool(addr, len))
        return dev_munmap(addr, len);
    return real_munmap(addr, len);
}

/* ---- the thread's ID: its simulated TID ------------------------------------------------------ */

/* On the device a thread's ID is its task ID, which is also its LiteIPC handle: libraries publish
   gettid() as the handle of a service (communication_ipc's anonymous stubs). So once this
   process has a kernel, the calling thread's ID is its simulated TID; a thread that has not
   used the device yet becomes a task of the process, as every thread is one on the device.
   Before the first open (no kernel), or if the kernel cannot answer, the host's TID. */
static long sim_tid(void)
{
    liteipc_kernel *k = atomic_load_explicit(&kernel, memory_order_acquire);
    int tid, err = errno;

    if (!k || inside)
        return -1;
    inside++;
    tid = liteipc_self_tid(k);
    inside--;
    errno = err;
    return tid > 0 ? tid : -1;
}

static long real_syscall6(long number, long a0, long a1, long a2, long a3, long a4, long a5)
{
    syscall_fn f = (syscall_fn)real(R_SYSCALL);

    if (!f) { /* only while this thread looks the C library's function up */
        errno = ENOSYS;
        return -1;
    }
    return f(number, a0, a1, a2, a3, a4, a5);
}

SHIM_EXPORT pid_t gettid(void)
{
    long tid = sim_tid();

    return (pid_t)(tid > 0 ? tid : real_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0));
}

SHIM_EXPORT long syscall(long number, ...)
{
    long a[6];
    va_list ap;

    if (number == SYS_gettid) {
        long tid = sim_tid();

        if (tid > 0)
            return tid;
    }
    /* Six arguments, as the C library's own syscall() passes on whatever the caller gave. */
    va_start(ap, number);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    return real_syscall6(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---- mprotect: refused on every LiteIPC region (EPERM, driver 2024-09) ---------------------- */

typedef int (*mprotect_fn)(void *, size_t, int);

static int real_mprotect(void *addr, size_t len, int prot)
{
    mprotect_fn f = (mprotect_fn)real(R_MPROTECT);

    return f ? f(addr, len, prot) : (int)syscall(SYS_mprotect, addr, len, prot);
}

/* Before the device is opened there is no LiteIPC region: the C library's call, at no cost. */
SHIM_EXPORT int mprotect(void *addr, size_t len, int prot)
{
    liteipc_kernel *k = atomic_load_explicit(&kernel, memory_order_acquire);
    int r, err;

    if (inside || !k)
        return real_mprotect(addr, len, prot);
    inside++;
    r = liteipc_mprotect(k, addr, len, prot);
    err = errno;
    inside--;
    errno = err;
    return r;
}
