/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client.c - the client side of every simulated process living in this host: which process
 * and task a thread is, the command path through its channel, and fork handling.
 *
 * A host thread's device call works out, in this order: its simulated process (its virtual
 * process, or the host's default process of that kernel, created on first use), its task
 * (attached on first use: a TID and a channel), then it stages the command in the channel,
 * rings the broker and waits (channel.h gives the protocol). Control operations that move
 * descriptors or change the process (hello, open, attach, mmap, exit) go over the process's
 * socket instead, one at a time under the process's lock.
 *
 * Fork: the at-fork handlers keep this side consistent. A child keeps none of the parent's
 * simulated processes: it becomes a new one (LITEIPC_REFERENCE §7.6) on its first call, with
 * the parent's device descriptors, and without any view of the parent's pools.
 */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform.h"
#include "runtime.h"

#ifndef CLIENT_SPIN_NS
/*
 * How long a caller polls for the broker's answer before sleeping. It polls only while the
 * broker is on a CPU (channel.h), and gives up as soon as the broker's beat has not moved for
 * CLIENT_STALL_NS: a broker that shares the caller's CPU then gets it at once. The poll pays
 * twice: the caller skips a sleep and a wake-up, and it is awake to do the wake-up the broker
 * hands it (docs/PERFORMANCE.md measures both).
 */
#define CLIENT_SPIN_NS 5000
#endif
#ifndef CLIENT_STALL_NS
#define CLIENT_STALL_NS 1000
#endif
#define CLIENT_WAKE_CHECK_NS 250000000u /* a sleeping caller checks the kernel is alive */
#define FD_OWNER_FORKED (-2)         /* owned by this fork child's process, not created yet */

/* ---- registry of kernels, for fork ---------------------------------------------------------- */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

/* Task records whose kernel went away before their thread (see orphan_tasks). */
static pthread_mutex_t orphan_lock = PTHREAD_MUTEX_INITIALIZER;
static lk_ctask *orphans;

static liteipc_kernel *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;


/* Lock order: the registry, each kernel's client lock, the orphan list, then the broker's
   descriptor lock (broker.c: its descriptors are obtained and closed, never half, at fork). */
static void atfork_prepare(void)
{
    pthread_mutex_lock(&registry_lock);
    for (liteipc_kernel *k = registry; k; k = k->next_registered) {
        lk_cproc *p = lk_vproc_current(k);

        pthread_mutex_lock(&k->c.lock);
        if (!p)
            p = k->c.default_proc;
        k->c.fork_parent_pid = p ? p->pid : -1;
    }
    pthread_mutex_lock(&orphan_lock);
    lk_broker_fork_prepare();
}

static void atfork_parent(void)
{
    lk_broker_fork_parent();
    pthread_mutex_unlock(&orphan_lock);
    for (liteipc_kernel *k = registry; k; k = k->next_registered)
        pthread_mutex_unlock(&k->c.lock);
    pthread_mutex_unlock(&registry_lock);
}

/* Drop, in a fork child, everything of the parent's simulated processes. */
static void client_forget_in_child(liteipc_kernel *k)
{
    int parent = k->c.fork_parent_pid;

    /* The mappings were not inherited (MADV_DONTFORK); the sockets were, and must go, or the
       broker would not see the parent's EOF when it dies. The parent's task records may still
       be in the forking thread's key: they become orphans, freed only by that thread. */
    while (k->c.procs) {
        lk_cproc *p = k->c.procs;

        /* Close, never munmap: the child did not inherit those ranges, and whatever it has
           mapped there since fork (a sanitizer's memory, say) is not ours (Q25). */
        k->c.procs = p->next;
        close(p->sock);
        close(p->efd);
        free(p);
    }
    while (k->c.tasks) {
        lk_ctask *t = k->c.tasks;

        k->c.tasks = t->next;
        atomic_store(&t->state, LK_TASK_ORPHANED);
        t->next = orphans;
        orphans = t;
    }
    k->c.default_proc = NULL;
    k->c.epoch++;
    for (int fd = 0; fd < k->c.nfds; fd++) {
        lk_fdent *e = &k->c.fds[fd];

        if (e->owner_pid != 0)
            e->owner_pid = (parent >= 0 && e->owner_pid == parent) ? FD_OWNER_FORKED : 0;
    }
    if (k->is_host) {
        lk_broker_forget_in_child(k);
        k->is_host = false;
    }
    pthread_mutex_init(&k->c.lock, NULL);
}

static void atfork_child(void)
{
    lk_vproc_forget_in_child();
    for (liteipc_kernel *k = registry; k; k = k->next_registered)
        client_forget_in_child(k);
    lk_broker_fork_child();
    pthread_mutex_init(&orphan_lock, NULL);
    pthread_mutex_init(&registry_lock, NULL);
}

static void install_atfork(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

void lk_registry_add(liteipc_kernel *k)
{
    pthread_once(&atfork_once, install_atfork);
    pthread_mutex_lock(&registry_lock);
    k->next_registered = registry;
    registry = k;
    pthread_mutex_unlock(&registry_lock);
}

void lk_registry_remove(liteipc_kernel *k)
{
    pthread_mutex_lock(&registry_lock);
    for (liteipc_kernel **pp = &registry; *pp; pp = &(*pp)->next_registered) {
        if (*pp == k) {
            *pp = k->next_registered;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

/* ---- simulated processes of this host --------------------------------------------------------- */

/* Is the kernel behind a connected socket served by our own user or root? (never talk to a
   kernel another user put under our name) */
bool lk_peer_is_us(int s)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    return getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
           (cred.uid == getuid() || cred.uid == 0);
}

int lk_cproc_request(lk_cproc *p, const lk_wire_req *req, lk_wire_resp *resp, int *fds, int nfds)
{
    ssize_t n = lk_seq_send(p->sock, req, sizeof(*req), NULL, 0);
    int tmp[4];

    /* A broker that turned the connection away closed it after writing why: read that. */
    if (n < 0 && n != -EPIPE && n != -ECONNRESET)
        return -ESHUTDOWN;
    n = lk_seq_recv(p->sock, resp, sizeof(*resp), fds ? fds : tmp, fds ? nfds : 4);
    if (!fds)
        for (int i = 0; i < 4; i++)
            if (tmp[i] >= 0)
                close(tmp[i]);
    if (n != (ssize_t)sizeof(*resp))
        return -ESHUTDOWN; /* the broker is gone */
    return resp->result;
}

static void cproc_free(lk_cproc *p)
{
    if (p->sock >= 0)
        close(p->sock);
    if (p->efd >= 0)
        close(p->efd);
    if (p->bell && p->own_bell)
        munmap(p->bell, sizeof(lk_bell));
    if (p->region)
        munmap(p->region, p->region_size);
    if (p->pool)
        munmap(p->pool, p->pool_size);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static int cproc_hello(lk_cproc *p, int parent_pid)
{
    lk_wire_req rq = {.op = LK_OP_HELLO, .a = parent_pid, .b = (uint64_t)p->abi};
    lk_wire_resp rs;
    int fds[3], err;

    err = lk_cproc_request(p, &rq, &rs, fds, 3);
    if (err >= 0 && (fds[0] < 0 || fds[1] < 0 || fds[2] < 0))
        err = -EPROTO;
    if (err >= 0) {
        p->pid = err;
        p->efd = fds[1];
        p->region_size = (size_t)rs.b;
        /* The host's processes use the broker's own mapping, where their tasks may sleep on
           private futexes (channel.h, lk_wake). Any other maps it read-only: the broker's. */
        p->own_bell = !p->k->is_host;
        p->bell = p->own_bell ? lk_map_shared(fds[0], sizeof(lk_bell), PROT_READ) : p->k->b.bell;
        p->region = lk_map_shared(fds[2], p->region_size, PROT_READ | PROT_WRITE);
        if (!p->bell || !p->region)
            err = -ENOMEM;
        fds[1] = -1;
    }
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return err;
}

lk_cproc *lk_cproc_connect(liteipc_kernel *k, int parent_pid, int abi, int *err)
{
    lk_cproc *p = calloc(1, sizeof(*p));

    if (!p) {
        *err = -ENOMEM;
        return NULL;
    }
    p->k = k;
    p->abi = abi;
    p->host_pid = getpid();
    p->efd = -1;
    pthread_mutex_init(&p->lock, NULL);
    p->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (p->sock < 0 || connect(p->sock, (struct sockaddr *)&k->b.addr, k->b.addrlen) < 0) {
        *err = errno == ECONNREFUSED || errno == ENOENT ? -ESHUTDOWN : -errno;
        cproc_free(p);
        return NULL;
    }
    if (!lk_peer_is_us(p->sock)) {
        *err = -EACCES;
        cproc_free(p);
        return NULL;
    }
    *err = cproc_hello(p, parent_pid);
    if (*err < 0) {
        cproc_free(p);
        return NULL;
    }
    pthread_mutex_lock(&k->c.lock);
    p->next = k->c.procs;
    k->c.procs = p;
    pthread_mutex_unlock(&k->c.lock);
    return p;
}

/* Close, as a process exit does, the device descriptors the process owned. */
static void close_fds_of_locked(liteipc_kernel *k, int pid)
{
    for (int fd = 0; fd < k->c.nfds; fd++) {
        if (k->c.fds[fd].owner_pid == pid) {
            k->c.fds[fd].owner_pid = 0;
            close(fd);
        }
    }
}

void lk_cproc_exit(lk_cproc *p)
{
    liteipc_kernel *k = p->k;
    lk_wire_req rq = {.op = LK_OP_EXIT};
    lk_wire_resp rs;

    pthread_mutex_lock(&p->lock);
    lk_cproc_request(p, &rq, &rs, NULL, 0); /* the reply comes after §7.2/§7.3 ran */
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_lock(&k->c.lock);
    for (lk_cproc **pp = &k->c.procs; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    close_fds_of_locked(k, p->pid);
    pthread_mutex_unlock(&k->c.lock);
    cproc_free(p);
}

int lk_env_abi(void)
{
    static atomic_flag told = ATOMIC_FLAG_INIT;
    const char *v = getenv(LITEIPC_ABI_ENV);
    int abi = lk_abi_parse(v);

    if (abi >= 0 || atomic_flag_test_and_set(&told))
        return abi;
    fprintf(stderr,
            "liteipc: %s=\"%s\" is not an ABI profile (default, ipc_lite, communication_ipc): "
            "every device call fails with EINVAL\n",
            LITEIPC_ABI_ENV, v);
    return abi;
}

/* The caller's simulated process: its virtual process, or this host's default process. */
lk_cproc *lk_current_proc(liteipc_kernel *k, int *err)
{
    lk_cproc *p = lk_vproc_current(k);
    int abi;

    if (p)
        return p;
    pthread_mutex_lock(&k->c.lock);
    p = k->c.default_proc;
    pthread_mutex_unlock(&k->c.lock);
    if (p)
        return p;
    abi = lk_env_abi(); /* read when the process comes into being: first call, fork child */
    if (abi < 0) {
        *err = abi;
        return NULL;
    }
    p = lk_cproc_connect(k, k->c.fork_parent_pid, abi, err);
    if (!p)
        return NULL;
    pthread_mutex_lock(&k->c.lock);
    if (k->c.default_proc) { /* another thread won the race: use its process */
        pthread_mutex_unlock(&k->c.lock);
        lk_cproc_exit(p);
        return lk_default_proc(k);
    }
    k->c.default_proc = p;
    for (int fd = 0; fd < k->c.nfds; fd++)
        if (k->c.fds[fd].owner_pid == FD_OWNER_FORKED)
            k->c.fds[fd].owner_pid = p->pid;
    pthread_mutex_unlock(&k->c.lock);
    return p;
}

lk_cproc *lk_default_proc(liteipc_kernel *k)
{
    lk_cproc *p;

    pthread_mutex_lock(&k->c.lock);
    p = k->c.default_proc;
    pthread_mutex_unlock(&k->c.lock);
    return p;
}

/* ---- tasks ---------------------------------------------------------------------------------- */

/* The calling thread's stack [lo, hi), or an empty range if it cannot be known. */
static void thread_stack(uintptr_t *lo, uintptr_t *hi)
{
    pthread_attr_t a;
    void *addr;
    size_t size;

    *lo = *hi = 0;
    if (pthread_getattr_np(pthread_self(), &a) != 0)
        return;
    if (pthread_attr_getstack(&a, &addr, &size) == 0) {
        *lo = (uintptr_t)addr;
        *hi = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&a);
}

lk_ctask *lk_task_lookup(liteipc_kernel *k)
{
    lk_ctask *t = pthread_getspecific(k->c.key);

    return (t && t->epoch == k->c.epoch) ? t : NULL;
}

void lk_wire_put_name(lk_wire_req *req, const char *name)
{
    char buf[LK_NAME_MAX] = "";

    if (name)
        strncpy(buf, name, sizeof(buf) - 1);
    else if (pthread_getname_np(pthread_self(), buf, sizeof(buf)) != 0)
        buf[0] = '\0';
    memcpy(&req->c, buf, sizeof(req->c));
    memcpy(&req->d, buf + sizeof(req->c), sizeof(req->d));
}

lk_ctask *lk_current_task(liteipc_kernel *k, lk_cproc *p, int *err)
{
    lk_ctask *t = lk_task_lookup(k);
    lk_wire_req rq = {.op = LK_OP_TASK_ATTACH};
    lk_wire_resp rs;
    int tid;

    if (t)
        return t;
    t = calloc(1, sizeof(*t));
    if (!t) {
        *err = -ENOMEM;
        return NULL;
    }
    lk_wire_put_name(&rq, NULL); /* the task carries its thread's name */
    pthread_mutex_lock(&p->lock);
    tid = lk_cproc_request(p, &rq, &rs, NULL, 0);
    pthread_mutex_unlock(&p->lock);
    if (tid < 0) {
        free(t);
        *err = tid;
        return NULL;
    }
    t->k = k;
    t->proc = p;
    t->tid = tid;
    thread_stack(&t->stack_lo, &t->stack_hi);
    t->slot = rs.a;
    t->ch = (lk_chan *)((char *)p->region + LK_REGION_HEADER +
                        (size_t)t->slot * lk_chan_size(k->cfg.data_max, k->cfg.object_max));
    pthread_mutex_lock(&k->c.lock);
    t->epoch = k->c.epoch;
    t->next = k->c.tasks;
    k->c.tasks = t;
    pthread_mutex_unlock(&k->c.lock);
    pthread_setspecific(k->c.key, t);
    return t;
}

static void task_unlink_locked(liteipc_kernel *k, lk_ctask *t)
{
    for (lk_ctask **pp = &k->c.tasks; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            return;
        }
    }
}

/*
 * Task records outlive their kernel when a thread that used it is still running (or is the
 * main thread, whose destructors never run) at stop. Such records are orphaned: kept reachable
 * on this list, and freed only by their own thread if it ever ends. A record is therefore freed
 * exactly once, by its thread, and the kernel never frees memory a thread may still touch.
 */

static void orphan_free(lk_ctask *t)
{
    pthread_mutex_lock(&orphan_lock);
    for (lk_ctask **pp = &orphans; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    pthread_mutex_unlock(&orphan_lock);
    free(t);
}

static void task_detach(lk_ctask *t)
{
    liteipc_kernel *k = t->k;
    /* b: its slot + 1, so that a task killed by a fault frees its slot, not its TID's new
       owner's */
    lk_wire_req rq = {.op = LK_OP_TASK_DETACH, .a = t->tid, .b = (uint64_t)t->slot + 1};
    lk_wire_resp rs;
    int live = LK_TASK_LIVE;

    if (!atomic_compare_exchange_strong(&t->state, &live, LK_TASK_DETACHING)) {
        orphan_free(t); /* the kernel is gone: touch nothing of it */
        return;
    }
    if (t->epoch == k->c.epoch) {
        pthread_mutex_lock(&t->proc->lock);
        lk_cproc_request(t->proc, &rq, &rs, NULL, 0);
        pthread_mutex_unlock(&t->proc->lock);
        pthread_mutex_lock(&k->c.lock);
        task_unlink_locked(k, t);
        pthread_mutex_unlock(&k->c.lock);
    }
    free(t);
}

/* Orphan every task record of k, waiting for those whose thread is detaching right now. */
static void orphan_tasks(liteipc_kernel *k)
{
    bool busy;

    do {
        lk_ctask **pp;

        busy = false;
        pthread_mutex_lock(&k->c.lock);
        pp = &k->c.tasks;
        while (*pp) {
            lk_ctask *t = *pp;
            int live = LK_TASK_LIVE;

            if (!atomic_compare_exchange_strong(&t->state, &live, LK_TASK_ORPHANED)) {
                busy = true;
                pp = &t->next;
                continue;
            }
            *pp = t->next;
            pthread_mutex_lock(&orphan_lock);
            t->next = orphans;
            orphans = t;
            pthread_mutex_unlock(&orphan_lock);
        }
        pthread_mutex_unlock(&k->c.lock);
        if (busy)
            sched_yield();
    } while (busy);
}

void lk_task_detach_self(liteipc_kernel *k)
{
    lk_ctask *t = pthread_getspecific(k->c.key);

    if (!t)
        return;
    pthread_setspecific(k->c.key, NULL);
    task_detach(t);
}

/* Thread exit: the task ends as on the device (§7.2). */
static void task_destructor(void *arg)
{
    task_detach(arg);
}

/* ---- user memory: the device path's copy_from_user and copy_to_user ------------------------- */

/*
 * A bad user pointer must give the driver's error, never a crash of the caller (DESIGN note 10),
 * so user memory is read and written with process_vm_readv/writev on our own process, which
 * fail with EFAULT instead of faulting. They cost about a microsecond each, so memory that is
 * surely there is copied directly: the calling thread's live stack (from its current frame up
 * to the top of its stack: the frames of its callers) and, for reads, its own pool and the
 * main program's loaded segments.
 */

static bool on_live_stack(const lk_ctask *t, uintptr_t a, size_t n)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

    if (sp < t->stack_lo || sp >= t->stack_hi) /* on another stack (sigaltstack, coroutine) */
        return false;
    return a >= sp && a < t->stack_hi && n <= t->stack_hi - a;
}

static bool in_own_pool(const lk_ctask *t, uintptr_t a, size_t n)
{
    uintptr_t base = (uintptr_t)t->proc->pool;
    size_t size = t->proc->pool_size;

    return base != 0 && a >= base && a - base < size && n <= size - (a - base);
}

/*
 * The loaded segments of the main program (its code, constants, static data and bss): mapped
 * for the whole life of the process, so a string literal or a static buffer is copied
 * directly. Found once, on first need; never a library (dlclose may unmap those).
 */
#define PROGRAM_SEGMENTS 8

static struct {
    pthread_once_t once;
    int n;
    uintptr_t lo[PROGRAM_SEGMENTS], hi[PROGRAM_SEGMENTS];
} program = {.once = PTHREAD_ONCE_INIT};

static int note_program(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    for (int i = 0; i < info->dlpi_phnum && program.n < PROGRAM_SEGMENTS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R))
            continue;
        program.lo[program.n] = info->dlpi_addr + ph->p_vaddr;
        program.hi[program.n++] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
    }
    return 1; /* the first object is the main program */
}

static void find_program(void)
{
    dl_iterate_phdr(note_program, NULL);
}

static bool in_program(uintptr_t a, size_t n)
{
    pthread_once(&program.once, find_program);
    for (int i = 0; i < program.n; i++)
        if (a >= program.lo[i] && a < program.hi[i] && n <= program.hi[i] - a)
            return true;
    return false;
}

static bool surely_readable(const lk_ctask *t, const void *src, size_t n)
{
    uintptr_t a = (uintptr_t)src;

    return on_live_stack(t, a, n) || in_own_pool(t, a, n) || in_program(a, n);
}

/* Read cnt ranges (remote[i] into local[i]) in one system call. 0 or -EFAULT. */
static int user_readv(const lk_ctask *t, struct iovec *local, struct iovec *remote, int cnt)
{
    size_t total = 0;
    ssize_t n;

    for (int i = 0; i < cnt; i++)
        total += remote[i].iov_len;
    n = process_vm_readv(t->proc->host_pid, local, (unsigned long)cnt, remote,
                         (unsigned long)cnt, 0);
    if (n == (ssize_t)total)
        return 0;
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) { /* forbidden here: copy as before */
        for (int i = 0; i < cnt; i++)
            memcpy(local[i].iov_base, remote[i].iov_base, remote[i].iov_len);
        return 0;
    }
    return -EFAULT;
}

/* copy_from_user of two ranges (either may be empty), with one system call at most. */
static int user_read2(const lk_ctask *t, void *d1, const void *s1, size_t n1, void *d2,
                      const void *s2, size_t n2)
{
    struct iovec local[2], remote[2];
    int cnt = 0;

    if (n1 > 0 && surely_readable(t, s1, n1))
        memcpy(d1, s1, n1);
    else if (n1 > 0)
        local[cnt] = (struct iovec){d1, n1}, remote[cnt++] = (struct iovec){(void *)s1, n1};
    if (n2 > 0 && surely_readable(t, s2, n2))
        memcpy(d2, s2, n2);
    else if (n2 > 0)
        local[cnt] = (struct iovec){d2, n2}, remote[cnt++] = (struct iovec){(void *)s2, n2};
    return cnt == 0 ? 0 : user_readv(t, local, remote, cnt);
}

static int user_read(const lk_ctask *t, void *dst, const void *src, size_t n)
{
    return user_read2(t, dst, src, n, NULL, NULL, 0);
}

/* copy_to_user. 0 or -EFAULT (the pool is never written: it is read-only to its owner). */
static int user_write(const lk_ctask *t, void *dst, const void *src, size_t n)
{
    struct iovec local = {(void *)src, n}, remote = {dst, n};
    ssize_t r;

    if (on_live_stack(t, (uintptr_t)dst, n)) {
        memcpy(dst, src, n);
        return 0;
    }
    r = process_vm_writev(t->proc->host_pid, &local, 1, &remote, 1, 0);
    if (r == (ssize_t)n)
        return 0;
    if (r < 0 && (errno == ENOSYS || errno == EPERM)) {
        memcpy(dst, src, n);
        return 0;
    }
    return -EFAULT;
}

/* ---- the command path ---------------------------------------------------------------------- */

/*
 * The message of a SEND, read in the sender's profile L: its header decoded into ch->out, its
 * data, and its offsets converted to the u32 entries the kernel reads. An unreadable header is
 * LK_FAULT_OUTMSG; unreadable data or offsets are simply not staged, which the kernel answers
 * with EFAULT where the driver's copy would fault (Q12).
 */
static void stage_message(const liteipc_kernel *k, lk_ctask *t, const lk_abi_layout *L)
{
    lk_chan *ch = t->ch;
    unsigned char hdr[128];
    unsigned char *offs = ch->staging + lk_chan_off_pos(k->cfg.data_max);
    uint32_t dsz, n;

    if (user_read(t, hdr, ch->content.outMsg, L->sender_bytes) < 0) { /* not the tail (Q20) */
        ch->faults |= LK_FAULT_OUTMSG;
        return;
    }
    lk_abi_decode_sender(L, hdr, &ch->out, &ch->out_hi);
    dsz = ch->out.dataSz;
    n = ch->out.spObjNum;
    /* Sizes the kernel refuses before its copy (§4.3.1): read nothing, as the driver does. */
    if ((dsz > 0 && !ch->out.data) || (n > 0 && !ch->out.offsets) || dsz > k->cfg.data_max ||
        n > k->cfg.object_max || (uint64_t)dsz < (uint64_t)n * LITEIPC_DEVICE_SIZEOF_SPECIALOBJ)
        return;
    if (user_read2(t, ch->staging, ch->out.data, dsz, offs, ch->out.offsets,
                   (size_t)n * L->entry_size) < 0)
        return;
    /* size_t entries, narrowed in place front to back (entry i is read before it can be
       overwritten); one past UINT32_MAX fails every object check. */
    for (uint32_t i = 0; L->entry_size != sizeof(uint32_t) && i < n; i++) {
        uint32_t v = lk_abi_offset_get(L, offs, i);

        memcpy(offs + 4u * i, &v, sizeof(v));
    }
    ch->data_len = dsz;
    ch->off_count = n;
}

/* copy_from_user of what the kernel will read, into the channel (channel.h). */
static void stage_command(const liteipc_kernel *k, lk_ctask *t, unsigned long cmd, uintptr_t arg)
{
    lk_chan *ch = t->ch;

    ch->cmd = cmd;
    ch->arg = arg;
    ch->data_len = 0;
    ch->off_count = 0;
    ch->faults = 0;
    if (arg == 0 || (uint64_t)arg > LK_USER_TOP - _IOC_SIZE(cmd))
        return; /* the kernel's syscall layer refuses it before anything is read */
    if (cmd == IPC_CMS_CMD) {
        if (user_read(t, &ch->cms, (const void *)arg, sizeof(ch->cms)) < 0) {
            memset(&ch->cms, 0, sizeof(ch->cms));
            ch->faults |= LK_FAULT_ARG;
        }
    } else if (cmd == IPC_SEND_RECV_MSG) {
        if (user_read(t, &ch->content, (const void *)arg, sizeof(ch->content)) < 0) {
            memset(&ch->content, 0, sizeof(ch->content));
            ch->faults |= LK_FAULT_ARG;
        } else if ((ch->content.flag & SEND) && ch->content.outMsg) {
            stage_message(k, t, lk_abi_layout_of(t->proc->abi));
        }
    }
}

static bool serves_itself(const lk_cproc *p);

/*
 * A command this thread ran itself parked: its answer comes from another task, often the one it
 * has just woken, within microseconds when that task runs on another CPU. Poll for it as long
 * as a caller polls for the broker (spin_ns) before sleeping: a sleeper on a quiet machine is
 * woken across CPUs, which costs tens of microseconds on small virtual machines. On a busy
 * machine, where the task shares this CPU, a poll only delays it: after POLL_MISSES polls in a
 * row without the answer, the task sleeps at once, except one call in POLL_PROBE_EVERY, which
 * polls for up to POLL_PROBE_NS: long enough for the answer of a task woken across CPUs (the
 * other task may have stopped polling too), rare enough to stay out of the 99th percentile.
 */
#define POLL_MISSES 4
#define POLL_PROBE_EVERY 1024
#define POLL_PROBE_NS 100000
#ifndef POLL_SLOW_WAKE_NS
#define POLL_SLOW_WAKE_NS 25000
#endif
#ifndef POLL_SLOW_WAKE_MAX_NS
#define POLL_SLOW_WAKE_MAX_NS 100000
#endif

#ifndef LISTEN_GRACE_NS
#define LISTEN_GRACE_NS 2000
#endif
#ifndef LISTEN_GRACE_SLEEP_NS
#define LISTEN_GRACE_SLEEP_NS 5000000
#endif
#ifndef LISTEN_RECENT_NS
#define LISTEN_RECENT_NS 50000
#endif

/* Is a poll due for a task whose polls missed *misses times in a row? Always below POLL_MISSES;
   past it, one call in POLL_PROBE_EVERY (a probe). */
static bool poll_due(unsigned misses, unsigned *probe)
{
    return misses < POLL_MISSES || ++*probe % POLL_PROBE_EVERY == 0;
}

/* Count a poll: one that paid ends the misses, one that did not adds one. */
static void count_poll(unsigned *misses, bool paid)
{
    if (paid)
        *misses = 0;
    else if (*misses < POLL_MISSES)
        (*misses)++;
}

/* Wake a host task that listens and hears this process (channel.h), if there is one. */
static bool wake_listener(lk_cproc *p)
{
    if (!atomic_load(&p->bell->listeners) || !atomic_load(&p->bell->heard[p->pid % LK_MAX_PROCS]))
        return false;
    atomic_fetch_add(&p->region->host_bell, 1); /* then its futex_waitv cannot miss us */
    if (atomic_load(&p->bell->sleepers))
        lk_futex_wake(&p->region->host_bell, 1, false);
    return true;
}

/* Poll LISTEN_GRACE_NS for a host task that takes our post or starts listening. */
static bool taken_by_host_soon(lk_ctask *t)
{
    uint64_t until = lk_now_ns() + LISTEN_GRACE_NS;

    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&t->ch->state, memory_order_acquire) != LK_CHAN_POSTED)
            return true;
        if (wake_listener(t->proc))
            return true;
        if (i % 8 == 0 && lk_now_ns() > until)
            return false;
        lk_cpu_relax();
    }
}

/* Did a host task enter the kernel within LISTEN_RECENT_NS? Then it is likely between two of
   its calls, and back soon. */
static bool host_in_kernel_lately(const lk_cproc *p)
{
    uint32_t at = atomic_load_explicit(&p->bell->host_call_us, memory_order_relaxed);

    return at != 0 && (uint32_t)(lk_now_ns() / 1000u) - at < LISTEN_RECENT_NS / 1000u;
}

/* A reply (the channel is the poster's own: a hint, never trusted by the kernel). */
static bool is_reply(const lk_chan *ch)
{
    return ch->cmd == IPC_SEND_RECV_MSG && (ch->content.flag & SEND) &&
           (ch->out.type == MT_REPLY || ch->out.type == MT_FAILED_REPLY);
}

/* A synchronous call: its caller waits for an answer from another task anyway. */
static bool waits_for_answer(const lk_chan *ch)
{
    return ch->cmd == IPC_SEND_RECV_MSG && (ch->content.flag & (SEND | RECV)) == (SEND | RECV);
}

/*
 * No host task listens, but one entered the kernel lately: between two of its calls, it serves
 * our post at its next one (lk_broker_serve serves the real processes' posts first), sparing
 * the broker's two hand-offs. Wait for that instead of waking the sleeping broker: poll
 * LISTEN_GRACE_NS where such polls pay (the host task runs on another CPU), else sleep up to
 * LISTEN_GRACE_SLEEP_NS (wait_done), which leaves our CPU to the host task where it shares it;
 * the broker is rung only if that sleep ends with the post still untaken.
 */
static void defer_to_host(lk_ctask *t)
{
    if (poll_due(t->grace_misses, &t->grace_probe)) {
        bool taken = taken_by_host_soon(t);

        count_poll(&t->grace_misses, taken);
        if (taken)
            return;
    }
    t->grace_sleep = true;
}

/*
 * Set the slot's bit in our region; then wake a host task that listens, or ring our doorbell if
 * the broker sleeps. The bit first (a seq_cst RMW), then the loads: the Dekker pairs with the
 * broker's sleep (broker.c) and with a listener's count (channel.h).
 */
static void ring_broker(lk_ctask *t, bool may_defer)
{
    lk_cproc *p = t->proc;
    uint64_t one = 1;

    atomic_fetch_or(&p->region->pending_slots[t->slot >> 6], 1ull << (t->slot & 63));
    if (!serves_itself(p)) {
        bool call = waits_for_answer(t->ch);

        if (!atomic_load(&p->bell->broker_sleeping))
            return; /* the broker is awake: it takes the post within a microsecond or two */
        /* A call or a reply: the host task it wakes is often the one that must answer it or
           waits for it. A one-way message is better run by the broker beside its receiver. */
        if ((call || is_reply(t->ch)) && wake_listener(p))
            return;
        if (call && may_defer && host_in_kernel_lately(p)) {
            defer_to_host(t);
            return;
        }
    }
    if (atomic_load(&p->bell->broker_sleeping) && write(p->efd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is already non-zero, the broker will wake */
    }
}

static void post_command(lk_ctask *t)
{
    atomic_store_explicit(&t->ch->taken, 0, memory_order_relaxed);
    atomic_store_explicit(&t->ch->state, LK_CHAN_POSTED, memory_order_release);
    ring_broker(t, true);
}

static void run_handed_wake(lk_ctask *t);

static bool broker_asleep(const liteipc_kernel *k)
{
    return atomic_load_explicit(&k->b.bell->broker_sleeping, memory_order_relaxed) != 0;
}

/* Parked (another task answers), or posted and not yet taken (a real caller's, which a host
   task will take): what poll_answer polls for. */
static bool unanswered(const lk_chan *ch)
{
    uint32_t s = atomic_load_explicit(&ch->state, memory_order_acquire);

    return s == LK_CHAN_PARKED || s == LK_CHAN_POSTED;
}

/*
 * Was a sleep of this length ended by a wake-up that crossed to an idle CPU? On a quiet machine
 * such a wake-up takes tens of microseconds on small virtual machines; on a busy one a task is
 * woken by a task on its own CPU within a few, or waits a whole time slice (milliseconds) when
 * that task was preempted: neither says that polling would pay.
 */
static bool slow_wake(uint64_t slept_ns)
{
    return slept_ns > POLL_SLOW_WAKE_NS && slept_ns < POLL_SLOW_WAKE_MAX_NS;
}

/* Was the command completed on the CPU this thread runs on (chan_complete's hint)? */
static bool answered_here(const lk_chan *ch)
{
    int cpu = lk_cpu();

    return cpu >= 0 && ch->done_cpu == cpu;
}

static void poll_answer(lk_ctask *t)
{
    uint64_t budget = t->k->c.spin_ns, until;
    bool listen;

    run_handed_wake(t); /* first: the task we woke may be what we wait for */
    if (!budget || !unanswered(t->ch))
        return; /* answered already: no poll, which must not count as one that paid */
    if (t->poll_long) {
        t->poll_long = false;
        budget = POLL_PROBE_NS;
    } else if (!poll_due(t->poll_misses, &t->poll_probe)) {
        return;
    } else if (t->poll_misses >= POLL_MISSES) {
        budget = POLL_PROBE_NS;
    }
    listen = serves_itself(t->proc) && lk_broker_poll_begin(t->k);
    until = lk_now_ns() + budget;
    for (unsigned i = 1;; i++) {
        if (!unanswered(t->ch)) {
            count_poll(&t->poll_misses, true);
            break;
        }
        if (i % 8 == 0) {
            if (listen && broker_asleep(t->k)) /* else it serves them itself */
                lk_broker_serve_real(t->k, false);
            if (lk_now_ns() > until) {
                count_poll(&t->poll_misses, false);
                break;
            }
        }
        lk_cpu_relax();
    }
    if (listen)
        lk_broker_poll_end(t->k);
}

/* Do this process's threads run the kernel themselves (a virtual process of the kernel's host,
   the caller path on)? lk_broker_serve may still refuse, and the caller then posts. */
static bool serves_itself(const lk_cproc *p)
{
    return p->virt && p->k->is_host && p->k->b.caller_kernel;
}

/* A virtual process's command: run the kernel on this thread (lk_broker_serve), or, where it
   may not, ring the broker as any post does. Its channel is POSTED either way, no bit set. */
static void serve_here(liteipc_kernel *k, lk_ctask *t)
{
    atomic_store_explicit(&t->ch->taken, 0, memory_order_relaxed);
    atomic_store_explicit(&t->ch->state, LK_CHAN_POSTED, memory_order_release);
    if (lk_broker_serve(k, t->proc->pid, t->slot) < 0)
        ring_broker(t, false);
    else
        poll_answer(t);
}

/*
 * Has the kernel's host died? Its end of our connection is then closed. Checked only by a
 * caller that has slept a while, so it costs nothing on the fast path.
 */
static bool host_gone(lk_cproc *p)
{
    struct pollfd pfd = {.fd = p->sock, .events = POLLRDHUP};

    if (atomic_load(&p->dead))
        return true;
    if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)))
        atomic_store(&p->dead, 1);
    return atomic_load(&p->dead);
}

void lk_wake_task(lk_bell *bell, int32_t tid)
{
    if (tid < LK_FIRST_USER_TID || tid >= LK_MAX_TASKS)
        return;
    /* The broker has bumped the word already; a private sleeper is a host task (lk_wake). */
    lk_futex_wake(&bell->wake[tid].seq, 1, atomic_load(&bell->wake[tid].private) != 0);
}

/* Do the wake-up the broker handed us, if any (channel.h). */
static void run_handed_wake(lk_ctask *t)
{
    int32_t tid = atomic_exchange_explicit(&t->ch->wake_tid, 0, memory_order_acq_rel);

    if (tid != 0)
        lk_wake_task(t->proc->bell, tid);
}

/*
 * May this task sleep on a private futex (channel.h, lk_wake)? A task of the host, while no real
 * process is connected: it marks itself first, then looks at the count (seq_cst both), and the
 * broker counts a real process before it hands it any wake-up, then looks at the mark.
 */
static bool sleep_private(lk_ctask *t)
{
    lk_cproc *p = t->proc;
    _Atomic uint32_t *mark = &p->bell->wake[t->tid].private;

    if (p->own_bell)
        return false; /* not the host's: its bell is read-only, its words shared */
    atomic_store(mark, 1);
    if (atomic_load(&p->k->b.nreal) == 0)
        return true;
    atomic_store(mark, 0);
    return false;
}

/*
 * Wait for DONE: poll briefly while the broker, awake, has not answered; then do any wake-up it
 * handed us, and sleep on our word in the bell until DONE.
 */
static int wait_done(lk_ctask *t)
{
    lk_chan *ch = t->ch;
    lk_bell *bell = t->proc->bell;
    _Atomic uint32_t *word = &bell->wake[t->tid].seq;
    uint64_t until = lk_now_ns() + t->k->c.spin_ns;
    unsigned idle_wakes = 0; /* listening wake-ups in a row that served nothing */
    uint64_t slept_from = 0;  /* when its last sleep began */

    uint32_t beat = atomic_load_explicit(&bell->beat, memory_order_relaxed);
    uint64_t beat_at = lk_now_ns();

    for (unsigned i = 1; t->k->c.spin_ns; i++) {
        if (atomic_load_explicit(&ch->state, memory_order_acquire) != LK_CHAN_POSTED)
            break; /* DONE, or PARKED: another task will answer, not the broker */
        bool polled = atomic_load_explicit(&bell->pollers, memory_order_relaxed) != 0;

        if (!polled && atomic_load_explicit(&bell->broker_sleeping, memory_order_relaxed))
            break;
        if (i % 8 == 0) { /* is the broker still on a CPU? (channel.h) */
            uint32_t b = atomic_load_explicit(&bell->beat, memory_order_relaxed);
            uint64_t now = lk_now_ns();

            if (now > until)
                break;
            if (polled) {
                beat_at = now;
            } else if (b != beat) {
                beat = b;
                beat_at = now;
            } else if (now - beat_at > CLIENT_STALL_NS) {
                break;
            }
        }
        lk_cpu_relax();
    }
    /* A real caller whose command a host task will take, or took, polls for the answer as a
       host caller does (that task often answers within microseconds from the other CPU). */
    if (!serves_itself(t->proc) && unanswered(ch) &&
        atomic_load_explicit(&bell->listeners, memory_order_relaxed))
        poll_answer(t);
    for (bool parked = false;;) {
        uint32_t seq = atomic_load_explicit(word, memory_order_acquire);
        uint32_t s = atomic_load_explicit(&ch->state, memory_order_acquire);
        bool timed_out = false, grace;
        _Atomic uint32_t *w[LK_MAX_PROCS + 2];
        uint32_t v[LK_MAX_PROCS + 2];
        int n = -1;

        parked |= s == LK_CHAN_PARKED; /* the broker has taken the command */
        run_handed_wake(t); /* before we sleep: the task we must wake may be what we wait for */
        if (s == LK_CHAN_DONE)
            return 0;
        if (parked && idle_wakes < LISTEN_IDLE_MAX && serves_itself(t->proc) &&
            !t->k->c.no_waitv) {
            n = lk_broker_listen_begin(t->k, w + 1, v + 1, LK_MAX_PROCS + 1);
            if (n == 0)
                continue; /* it served posts: look at our channel again */
        }
        grace = t->grace_sleep;
        t->grace_sleep = false;
        if (s == LK_CHAN_WAITING ||
            atomic_compare_exchange_strong(&ch->state, &s, LK_CHAN_WAITING)) {
            bool private_sleep = sleep_private(t);
            uint64_t dl;

            slept_from = lk_now_ns();
            dl = slept_from + (grace ? LISTEN_GRACE_SLEEP_NS : CLIENT_WAKE_CHECK_NS);

            if (n > 0) {
                int rc;

                w[0] = word;
                v[0] = seq;
                rc = lk_futex_waitv(w, v, n + 1, dl, private_sleep);
                if (rc == -ENOSYS) { /* no longer counted as listening: posts ring again */
                    t->k->c.no_waitv = true;
                    n = -1;
                    if (!lk_broker_listen_end(t->k))
                        rc = lk_futex_wait(word, seq, dl, private_sleep);
                }
                timed_out = rc == -ETIMEDOUT;
            } else {
                timed_out = lk_futex_wait(word, seq, dl, private_sleep) == -ETIMEDOUT;
            }
        }
        if (n > 0) {
            uint32_t waiting = LK_CHAN_WAITING;

            /* Awake: what we serve next must not wake us (a system call for nothing). */
            atomic_compare_exchange_strong(&ch->state, &waiting, LK_CHAN_PARKED);
            if (lk_broker_listen_end(t->k) || waiting == LK_CHAN_DONE)
                idle_wakes = 0;
            else
                idle_wakes++;
        }
        if (atomic_load_explicit(&ch->state, memory_order_acquire) == LK_CHAN_DONE) {
            if (timed_out && !grace) { /* complete, yet nobody woke us: a wake-up was lost */
                atomic_fetch_add_explicit(&t->k->c.lost_wakes, 1, memory_order_relaxed);
            } else if (slept_from && slow_wake(lk_now_ns() - slept_from) &&
                       !answered_here(ch)) {
                /* A slow wake-up crossed to an idle CPU: polling pays again. The first poll is
                   long enough to bridge the other side's own slow wake-up, so that both end up
                   polling at once (each poll alone is shorter than a wake-up). An answer given
                   on our own CPU says nothing of the kind: whoever gave it ran while we slept,
                   and a poll would only keep it, or the next one, off this CPU (where all the
                   tasks share one CPU, each long poll delayed every message by 100 µs). */
                t->poll_misses = t->grace_misses = 0;
                t->poll_long = true;
            }
            run_handed_wake(t);
            return 0;
        }
        if (atomic_load(&bell->dead) || host_gone(t->proc))
            return -ESHUTDOWN;
        /* Our bits are ours to write and to lose (a scribble, a bug): ring again if the broker
           has not taken the command yet (channel.h). */
        if (timed_out && !parked && !atomic_load_explicit(&ch->taken, memory_order_relaxed))
            ring_broker(t, false);
    }
}

/*
 * copy_to_user of the result. A fault writing inMsg is the driver's -EINVAL (§4.1 step 6; the
 * message stays in the used list, lost); one writing a CmsCmdContent or IpcVersion returns a
 * positive count on the device (Q12), -EFAULT here.
 */
static int copy_out(const lk_ctask *t, uintptr_t arg)
{
    const lk_chan *ch = t->ch;
    IpcMsg *in_msg = (IpcMsg *)(uintptr_t)ch->in_msg;
    CmsCmdContent cms = ch->cms_out;
    IpcVersion v = {.driverVersion = ch->version_out};

    switch (ch->copyout) {
    case LK_CHAN_COPYOUT_CMS:
        return user_write(t, (void *)arg, &cms, sizeof(cms));
    case LK_CHAN_COPYOUT_VERSION:
        return user_write(t, (void *)arg, &v, sizeof(v));
    case LK_CHAN_COPYOUT_INMSG: /* §4.1 step 6: only the inMsg field is written */
        if (user_write(t, (char *)arg + offsetof(IpcContent, inMsg), &in_msg, sizeof(in_msg)) < 0)
            return -EINVAL;
        return 0;
    default:
        return 0;
    }
}

/* Install one OBJ_FD file the broker sends us: lowest free number >= 3, no CLOEXEC (§5.2). */
static int install_fd(int fd)
{
    int nfd;

    if (fd < 0)
        return -1;
    if (fd >= 3) {
        fcntl(fd, F_SETFD, 0);
        return fd;
    }
    nfd = fcntl(fd, F_DUPFD, 3);
    close(fd);
    return nfd;
}

/*
 * A message delivered to this real process carries OBJ_FD files: fetch each from the broker
 * and tell it the number we got, which it writes into the object before we hand the message
 * to the caller.
 */
static void fetch_fds(lk_ctask *t, uint32_t n)
{
    lk_cproc *p = t->proc;

    pthread_mutex_lock(&p->lock);
    for (uint32_t i = 0; i < n; i++) {
        lk_wire_req rq = {.op = LK_OP_FD_FETCH, .a = t->tid};
        lk_wire_resp rs;
        int fd = -1;

        if (lk_cproc_request(p, &rq, &rs, &fd, 1) < 0)
            break;
        rq = (lk_wire_req){.op = LK_OP_FD_PUT, .a = t->tid, .b = (uint64_t)(int64_t)install_fd(fd)};
        if (lk_cproc_request(p, &rq, &rs, NULL, 0) < 0)
            break;
    }
    pthread_mutex_unlock(&p->lock);
}

void lk_report_refused(lk_cproc *p, int tid, unsigned long cmd, int err)
{
    lk_wire_req rq = {.op = LK_OP_REFUSED, .a = tid, .b = cmd, .c = (uint64_t)err};

    if (serves_itself(p) && lk_broker_refused(p->k, p->pid, tid, cmd, err) == 0)
        return;
    /* Under the lock, so that it never comes between a request and its answer. */
    pthread_mutex_lock(&p->lock);
    if (send(p->sock, &rq, sizeof(rq), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        /* full, or the kernel is gone: the refusal goes unseen */
    }
    pthread_mutex_unlock(&p->lock);
}

int lk_do_call(liteipc_kernel *k, lk_ctask *t, unsigned long cmd, uintptr_t arg)
{
    bool counted = lk_sched_counted(k); /* a deterministic kernel waits for us (sched.c) */
    int ret;

    if (atomic_load(&t->proc->bell->dead) || atomic_load(&t->proc->dead))
        return -ESHUTDOWN;
    atomic_store_explicit(&t->in_call, 1, memory_order_relaxed);
    stage_command(k, t, cmd, arg);
    if (serves_itself(t->proc))
        serve_here(k, t);
    else
        post_command(t);
    if (counted)
        lk_sched_running(k, -1); /* after the post: the broker sees it once we are out */
    ret = wait_done(t);
    if (counted)
        lk_sched_running(k, +1); /* before IDLE: the broker waits while our answer is DONE */
    if (ret == 0) {
        ret = t->ch->result;
        if (ret >= 0 && t->ch->fds_pending)
            fetch_fds(t, t->ch->fds_pending);
        if (ret >= 0) {
            int err = copy_out(t, arg);

            if (err < 0) /* decided here, after the kernel's success: it must be told */
                lk_report_refused(t->proc, t->tid, cmd, -err);
            ret = err < 0 ? err : ret;
        }
    }
    atomic_store_explicit(&t->ch->state, LK_CHAN_IDLE, memory_order_relaxed);
    atomic_store_explicit(&t->in_call, 0, memory_order_release);
    return ret;
}

/* ---- descriptors ----------------------------------------------------------------------------- */

int lk_fd_record(liteipc_kernel *k, int fd, int pid, int accmode)
{
    if (fd >= k->c.nfds) {
        int n = fd + 64;
        lk_fdent *t = realloc(k->c.fds, (size_t)n * sizeof(*t));

        if (!t)
            return -ENOMEM;
        memset(t + k->c.nfds, 0, (size_t)(n - k->c.nfds) * sizeof(*t));
        k->c.fds = t;
        k->c.nfds = n;
    }
    k->c.fds[fd].owner_pid = pid;
    k->c.fds[fd].accmode = accmode;
    return 0;
}

/* The access mode of device descriptor fd of process p, or -EBADF. */
int lk_fd_check(liteipc_kernel *k, lk_cproc *p, int fd)
{
    int mode = -EBADF;

    pthread_mutex_lock(&k->c.lock);
    if (fd >= 0 && fd < k->c.nfds && k->c.fds[fd].owner_pid == p->pid)
        mode = k->c.fds[fd].accmode;
    pthread_mutex_unlock(&k->c.lock);
    return mode;
}

/* How long callers poll: $LITEIPC_POLL_NS (0 to 1000000) if set and valid, else CLIENT_SPIN_NS. */
static uint64_t poll_ns_setting(void)
{
    const char *v = getenv(LITEIPC_POLL_ENV);
    char *end;
    unsigned long long n;

    if (!v || !*v)
        return CLIENT_SPIN_NS;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno || *end || n > 1000000u)
        return CLIENT_SPIN_NS;
    return n;
}

int lk_client_init(liteipc_kernel *k)
{
    int err = pthread_key_create(&k->c.key, task_destructor);

    if (err)
        return -err;
    pthread_mutex_init(&k->c.lock, NULL);
    k->c.fork_parent_pid = -1;
    k->c.spin_ns = poll_ns_setting();
    return 0;
}

void lk_client_fini(liteipc_kernel *k)
{
    pthread_key_delete(k->c.key);
    orphan_tasks(k);
    while (k->c.procs) {
        lk_cproc *p = k->c.procs;

        k->c.procs = p->next;
        close_fds_of_locked(k, p->pid);
        cproc_free(p);
    }
    free(k->c.fds);
    if (k->c.attached)
        close(k->c.presence_fd);
    pthread_mutex_destroy(&k->c.lock);
}

