/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device.c - the function-call device: open/mmap/ioctl/close/read/write of /dev/lite_ipc, with
 * the device's checks that come before the driver (the generic mmap layer, descriptor checks)
 * and the conversion of negative errnos to -1/errno, once, at this boundary.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform.h"
#include "runtime.h"

static int fail(int err)
{
    errno = -err;
    return -1;
}

int liteipc_self_pid(liteipc_kernel *k)
{
    int err = -EINVAL;
    lk_cproc *p = k ? lk_current_proc(k, &err) : NULL;

    return p ? p->pid : err;
}

int liteipc_self_tid(liteipc_kernel *k)
{
    int err = -EINVAL;
    lk_cproc *p = k ? lk_current_proc(k, &err) : NULL;
    lk_ctask *t = p ? lk_current_task(k, p, &err) : NULL;

    return t ? t->tid : err;
}

/* ---- public: names -------------------------------------------------------------------------- */

static int set_name(lk_cproc *p, int tid, const char *name)
{
    lk_wire_req rq = {.op = LK_OP_SET_NAME, .a = tid};
    lk_wire_resp rs;
    int ret;

    if (name && strlen(name) >= LK_NAME_MAX)
        return -ERANGE;
    lk_wire_put_name(&rq, name);
    pthread_mutex_lock(&p->lock);
    ret = lk_cproc_request(p, &rq, &rs, NULL, 0);
    pthread_mutex_unlock(&p->lock);
    return ret;
}

int liteipc_set_task_name(liteipc_kernel *k, const char *name)
{
    int err = -EINVAL;
    lk_cproc *p = k ? lk_current_proc(k, &err) : NULL;
    lk_ctask *t = p ? lk_current_task(k, p, &err) : NULL;

    return t ? set_name(p, t->tid, name) : err;
}

int liteipc_set_process_name(liteipc_kernel *k, const char *name)
{
    int err = -EINVAL;
    lk_cproc *p = k && name ? lk_current_proc(k, &err) : NULL;

    return p ? set_name(p, -1, name) : err;
}

/* ---- public: the device ------------------------------------------------------------------------ */

int liteipc_open(liteipc_kernel *k, const char *path, int flags)
{
    lk_wire_req rq = {.op = LK_OP_OPEN};
    lk_wire_resp rs;
    int err = -EINVAL, fd, acc = flags & O_ACCMODE;
    lk_cproc *p;

    if (!k)
        return fail(-EINVAL);
    if (path && strcmp(path, LITEIPC_DRIVER) != 0)
        return fail(-ENOENT);
    p = lk_current_proc(k, &err);
    if (!p)
        return fail(err);
    pthread_mutex_lock(&p->lock);
    err = lk_cproc_request(p, &rq, &rs, NULL, 0);
    pthread_mutex_unlock(&p->lock);
    if (err < 0)
        return fail(err);
    /* A real descriptor number, so that close/dup elsewhere never collide with it. */
    fd = open("/dev/null", (acc == O_ACCMODE ? O_RDWR : acc) | (flags & O_CLOEXEC));
    if (fd < 0)
        return -1;
    pthread_mutex_lock(&k->c.lock);
    err = lk_fd_record(k, fd, p->pid, acc);
    pthread_mutex_unlock(&k->c.lock);
    if (err < 0) {
        close(fd);
        return fail(err);
    }
    return fd;
}

int liteipc_close(liteipc_kernel *k, int fd)
{
    int err = -EINVAL;
    lk_cproc *p = k ? lk_current_proc(k, &err) : NULL;

    if (!p)
        return fail(err);
    if (lk_fd_check(k, p, fd) < 0)
        return fail(-EBADF);
    /* The driver's close does nothing: the process's IPC state stays (§2.2). */
    pthread_mutex_lock(&k->c.lock);
    k->c.fds[fd].owner_pid = 0;
    pthread_mutex_unlock(&k->c.lock);
    close(fd);
    return 0;
}

static ssize_t read_write(liteipc_kernel *k, int fd, int forbidden_mode)
{
    int err = -EINVAL, mode;
    lk_cproc *p = k ? lk_current_proc(k, &err) : NULL;

    if (!p)
        return fail(err);
    mode = lk_fd_check(k, p, fd);
    if (mode < 0)
        return fail(mode);
    /* The driver has no read or write method (§2.4). */
    return fail(mode == forbidden_mode ? -EACCES : -EBADF);
}

ssize_t liteipc_read(liteipc_kernel *k, int fd, void *buf, size_t count)
{
    (void)buf;
    (void)count;
    return read_write(k, fd, O_WRONLY);
}

ssize_t liteipc_write(liteipc_kernel *k, int fd, const void *buf, size_t count)
{
    (void)buf;
    (void)count;
    return read_write(k, fd, O_RDONLY);
}

/* The user address space that the generic mmap layer measures a rounded length against (§2.3
   step 2): beyond it, EINVAL. 64 TiB for a 64-bit process. A 32-bit process under a 64-bit
   kernel addresses all of its 4 GiB, so there only a length that wraps to 0 when rounded up
   fails this check, and any other length is left to the driver's size check. */
#define LK_USER_ASPACE_SIZE                                                                      \
    (SIZE_MAX > ((uint64_t)1 << 46) ? (size_t)((uint64_t)1 << 46) : SIZE_MAX)

/* The generic mmap layer's checks (§2.3 steps 1-5). Returns 0 and the rounded length in *lenp,
   or -errno (not the length itself: on 32-bit a length above 2 GiB does not fit a long). */
static int mmap_generic_checks(liteipc_kernel *k, lk_cproc *p, size_t length, int prot,
                               int flags, int fd, size_t *lenp)
{
    size_t len = lk_round_up(length, LK_PAGE_SIZE);
    int share = flags & (MAP_SHARED | MAP_PRIVATE), mode;

    if (len == 0 || len > LK_USER_ASPACE_SIZE)
        return -EINVAL;
    if (share != MAP_SHARED && share != MAP_PRIVATE)
        return -EINVAL;
    mode = lk_fd_check(k, p, fd);
    if (mode < 0)
        return mode;
    if (mode == O_WRONLY)
        return -EACCES;
    if (share == MAP_SHARED && (prot & PROT_WRITE) && mode != O_RDWR)
        return -EACCES;
    *lenp = len;
    return 0;
}

/* Map the pool memory file read-only and tell the broker where (steps 6-10). */
static void *mmap_pool_locked(lk_cproc *p, int tid, size_t len, int prot, int flags, void *addr)
{
    lk_wire_req rq = {.op = LK_OP_MMAP_PREPARE, .a = tid, .b = len, .c = (uint64_t)prot,
                      .d = (uint64_t)(unsigned)flags};
    lk_wire_resp rs;
    int fd, err;
    void *u;

    err = lk_cproc_request(p, &rq, &rs, &fd, 1);
    if (err < 0 || fd < 0) {
        if (fd >= 0)
            close(fd);
        return NULL; /* every driver error is ENOMEM to the user */
    }
    u = (flags & MAP_FIXED) ? lk_map_shared_at(addr, fd, len, PROT_READ)
                            : lk_map_shared(fd, len, PROT_READ);
    close(fd);
    rq = (lk_wire_req){.op = u ? LK_OP_MMAP_COMMIT : LK_OP_MMAP_ABORT, .b = (uintptr_t)u};
    if (lk_cproc_request(p, &rq, &rs, NULL, 0) < 0 || !u) {
        if (u)
            munmap(u, len);
        return NULL;
    }
    p->pool = u;
    p->pool_size = len;
    return u;
}

void *liteipc_mmap(liteipc_kernel *k, void *addr, size_t length, int prot, int flags, int fd,
                   off_t offset)
{
    int err = -EINVAL;
    lk_cproc *p = k ? lk_current_proc(k, &err) : NULL;
    lk_ctask *t = p ? lk_task_lookup(k) : NULL; /* its TID for the events, if it has one */
    int tid = t && t->proc == p ? t->tid : -1;
    size_t len = 0;
    void *u;

    (void)offset; /* the driver does not look at it */
    if (!p) {
        errno = -err;
        return MAP_FAILED;
    }
    err = mmap_generic_checks(k, p, length, prot, flags, fd, &len);
    if (err < 0) {
        lk_report_refused(p, tid, LITEIPC_CMD_MMAP, -err);
        errno = -err;
        return MAP_FAILED;
    }
    pthread_mutex_lock(&p->lock);
    u = mmap_pool_locked(p, tid, len, prot, flags, addr);
    pthread_mutex_unlock(&p->lock);
    if (!u) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return u;
}

int liteipc_munmap(liteipc_kernel *k, void *addr, size_t length)
{
    /* The driver never hears of munmap: the kernel still counts the pool as mapped (Q24); it
       writes only through its own mapping, so nothing is ever written to unmapped memory. */
    lk_cproc *p = k ? lk_vproc_current(k) : NULL;

    if (k && !p)
        p = lk_default_proc(k); /* never creates a process: munmap is not a device call */
    if (munmap(addr, length) < 0)
        return -1;
    if (!p)
        return 0;
    pthread_mutex_lock(&p->lock);
    if (p->pool && (char *)addr <= (char *)p->pool &&
        (char *)p->pool < (char *)addr + length) {
        p->pool = NULL; /* gone from user space; never unmapped twice */
        p->pool_size = 0;
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}

/* Exec closes the process's device descriptors that have FD_CLOEXEC; the others stay. */
static void close_cloexec_fds(liteipc_kernel *k, int pid)
{
    pthread_mutex_lock(&k->c.lock);
    for (int fd = 0; fd < k->c.nfds; fd++) {
        int flags;

        if (k->c.fds[fd].owner_pid != pid)
            continue;
        flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && (flags & FD_CLOEXEC)) {
            k->c.fds[fd].owner_pid = 0;
            close(fd);
        }
    }
    pthread_mutex_unlock(&k->c.lock);
}

int liteipc_exec(liteipc_kernel *k)
{
    lk_wire_req rq = {.op = LK_OP_EXEC};
    lk_wire_resp rs;
    int err = -EINVAL, abi;
    lk_cproc *p = k ? lk_current_proc(k, &err) : NULL;
    lk_ctask *t = p ? lk_current_task(k, p, &err) : NULL;

    if (!t)
        return err;
    /* The new program image of a host process reads $LITEIPC_ABI afresh; a virtual one keeps
       the profile it was spawned with. */
    abi = p == lk_vproc_current(k) ? p->abi : lk_env_abi();
    if (abi < 0)
        return abi;
    rq.a = t->tid;
    rq.b = (uint64_t)abi;
    pthread_mutex_lock(&p->lock);
    err = lk_cproc_request(p, &rq, &rs, NULL, 0);
    if (err == 0)
        p->abi = abi;
    if (err == 0 && p->pool) { /* the new program image has no such mapping */
        munmap(p->pool, p->pool_size);
        p->pool = NULL;
        p->pool_size = 0;
    }
    pthread_mutex_unlock(&p->lock);
    if (err < 0)
        return err;
    close_cloexec_fds(k, p->pid);
    return 0;
}

int liteipc_ioctl(liteipc_kernel *k, int fd, unsigned long request, ...)
{
    va_list ap;
    uintptr_t arg;
    int err = -EINVAL, ret;
    lk_cproc *p;
    lk_ctask *t;

    va_start(ap, request);
    arg = (uintptr_t)va_arg(ap, unsigned long);
    va_end(ap);
    if (!k)
        return fail(-EINVAL);
    /* An attached thread's task knows its process: no lookup of the default process (and its
       lock) on the path of every call. */
    t = lk_task_lookup(k);
    p = t ? t->proc : lk_current_proc(k, &err);
    if (!p)
        return fail(err);
    if (lk_fd_check(k, p, fd) < 0) {
        lk_report_refused(p, t ? t->tid : -1, request, EBADF);
        return fail(-EBADF);
    }
    if (!t)
        t = lk_current_task(k, p, &err);
    if (!t)
        return fail(err);
    ret = lk_do_call(k, t, request, arg);
    return ret < 0 ? fail(ret) : ret;
}

