/*
 * device.c - the function-call device: open/mmap/ioctl/close of /dev/lite_ipc as calls into a
 * simulated kernel, and the client side of every simulated process living in this host.
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
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include "platform.h"
#include "runtime.h"

#ifndef CLIENT_SPIN_NS
/*
 * How long a caller polls for the broker's answer before sleeping, when there are CPUs to
 * spare. On fewer than three CPUs it does not poll at all: caller, broker and the task it
 * talks to would share two CPUs, and a polling caller only delays the one it waits for
 * (measured in docs/PERFORMANCE.md: polling there doubles the round trip).
 */
#define CLIENT_SPIN_NS 5000
#endif
#define CLIENT_WAKE_CHECK_NS 250000000u /* a sleeping caller checks the kernel is alive */
#define FD_OWNER_FORKED (-2)         /* owned by this fork child's process, not created yet */

/* ---- registry of kernels, for fork ---------------------------------------------------------- */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static liteipc_kernel *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static lk_cproc *default_proc_get(liteipc_kernel *k);

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
}

static void atfork_parent(void)
{
    for (liteipc_kernel *k = registry; k; k = k->next_registered)
        pthread_mutex_unlock(&k->c.lock);
    pthread_mutex_unlock(&registry_lock);
}

/* Drop, in a fork child, everything of the parent's simulated processes. */
static void client_forget_in_child(liteipc_kernel *k)
{
    int parent = k->c.fork_parent_pid;

    /* The mappings were not inherited (MADV_DONTFORK); the sockets were, and must go, or the
       broker would not see the parent's EOF when it dies. The records themselves are left:
       they are a copy that nothing references any more. */
    for (lk_cproc *p = k->c.procs; p; p = p->next) {
        close(p->sock);
        close(p->efd);
    }
    k->c.procs = NULL;
    k->c.default_proc = NULL;
    k->c.tasks = NULL;
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
static bool peer_is_us(int s)
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

    if (n < 0)
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
    if (p->bell)
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
    lk_wire_req rq = {.op = LK_OP_HELLO, .a = parent_pid};
    lk_wire_resp rs;
    int fds[3], err;

    err = lk_cproc_request(p, &rq, &rs, fds, 3);
    if (err >= 0 && (fds[0] < 0 || fds[1] < 0 || fds[2] < 0))
        err = -EPROTO;
    if (err >= 0) {
        p->pid = err;
        p->efd = fds[1];
        p->region_size = (size_t)rs.b;
        p->bell = lk_map_shared(fds[0], sizeof(lk_bell), PROT_READ | PROT_WRITE);
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

lk_cproc *lk_cproc_connect(liteipc_kernel *k, int parent_pid, int *err)
{
    lk_cproc *p = calloc(1, sizeof(*p));

    if (!p) {
        *err = -ENOMEM;
        return NULL;
    }
    p->k = k;
    p->efd = -1;
    pthread_mutex_init(&p->lock, NULL);
    p->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (p->sock < 0 || connect(p->sock, (struct sockaddr *)&k->b.addr, k->b.addrlen) < 0) {
        *err = errno == ECONNREFUSED || errno == ENOENT ? -ESHUTDOWN : -errno;
        cproc_free(p);
        return NULL;
    }
    if (!peer_is_us(p->sock)) {
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

/* The caller's simulated process: its virtual process, or this host's default process. */
static lk_cproc *current_proc(liteipc_kernel *k, int *err)
{
    lk_cproc *p = lk_vproc_current(k);

    if (p)
        return p;
    pthread_mutex_lock(&k->c.lock);
    p = k->c.default_proc;
    pthread_mutex_unlock(&k->c.lock);
    if (p)
        return p;
    p = lk_cproc_connect(k, k->c.fork_parent_pid, err);
    if (!p)
        return NULL;
    pthread_mutex_lock(&k->c.lock);
    if (k->c.default_proc) { /* another thread won the race: use its process */
        pthread_mutex_unlock(&k->c.lock);
        lk_cproc_exit(p);
        return default_proc_get(k);
    }
    k->c.default_proc = p;
    for (int fd = 0; fd < k->c.nfds; fd++)
        if (k->c.fds[fd].owner_pid == FD_OWNER_FORKED)
            k->c.fds[fd].owner_pid = p->pid;
    pthread_mutex_unlock(&k->c.lock);
    return p;
}

static lk_cproc *default_proc_get(liteipc_kernel *k)
{
    lk_cproc *p;

    pthread_mutex_lock(&k->c.lock);
    p = k->c.default_proc;
    pthread_mutex_unlock(&k->c.lock);
    return p;
}

/* ---- tasks ---------------------------------------------------------------------------------- */

static lk_ctask *task_lookup(liteipc_kernel *k)
{
    lk_ctask *t = pthread_getspecific(k->c.key);

    return (t && t->epoch == k->c.epoch) ? t : NULL;
}

static lk_ctask *current_task(liteipc_kernel *k, lk_cproc *p, int *err)
{
    lk_ctask *t = task_lookup(k);
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
static pthread_mutex_t orphan_lock = PTHREAD_MUTEX_INITIALIZER;
static lk_ctask *orphans;

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
    lk_wire_req rq = {.op = LK_OP_TASK_DETACH, .a = t->tid};
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

/* ---- the command path ---------------------------------------------------------------------- */

/* copy_from_user of what the kernel will read, into the channel (channel.h). */
static void stage_command(const liteipc_kernel *k, lk_chan *ch, unsigned long cmd, uintptr_t arg)
{
    ch->cmd = cmd;
    ch->arg = arg;
    ch->data_len = 0;
    ch->off_count = 0;
    if (arg == 0)
        return;
    if (cmd == IPC_CMS_CMD) {
        memcpy(&ch->cms, (const void *)arg, sizeof(ch->cms));
    } else if (cmd == IPC_SEND_RECV_MSG) {
        const IpcMsg *m;

        memcpy(&ch->content, (const void *)arg, sizeof(ch->content));
        m = ch->content.outMsg;
        if (!(ch->content.flag & SEND) || !m)
            return;
        memset(&ch->out, 0, sizeof(ch->out));
        memcpy(&ch->out, m, LK_MSG_SENDER_BYTES); /* never the kernel-filled tail (Q20) */
        if (ch->out.dataSz > 0 && ch->out.data && ch->out.dataSz <= k->cfg.data_max) {
            memcpy(ch->staging, ch->out.data, ch->out.dataSz);
            ch->data_len = ch->out.dataSz;
        }
        if (ch->out.spObjNum > 0 && ch->out.offsets && ch->out.spObjNum <= k->cfg.object_max) {
            memcpy(ch->staging + lk_chan_off_pos(k->cfg.data_max), ch->out.offsets,
                   (size_t)ch->out.spObjNum * sizeof(uint32_t));
            ch->off_count = ch->out.spObjNum;
        }
    }
}

static void ring_broker(lk_ctask *t)
{
    lk_cproc *p = t->proc;
    uint64_t one = 1;

    atomic_store_explicit(&t->ch->state, LK_CHAN_POSTED, memory_order_release);
    atomic_fetch_or(&p->region->pending_slots[t->slot >> 6], 1ull << (t->slot & 63));
    /* seq_cst RMW, then the load: the Dekker pair with the broker's sleep (broker.c). */
    atomic_fetch_or(&p->bell->pending_procs, 1ull << p->pid);
    if (atomic_load(&p->bell->broker_sleeping) && write(p->efd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is already non-zero, the broker will wake */
    }
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

/* Wait for DONE: spin briefly while the broker has not answered, then sleep on the futex. */
static int wait_done(lk_ctask *t)
{
    lk_chan *ch = t->ch;
    uint64_t until = lk_now_ns() + t->k->c.spin_ns;

    for (unsigned i = 1; t->k->c.spin_ns; i++) {
        uint32_t s = atomic_load_explicit(&ch->state, memory_order_acquire);

        if (s == LK_CHAN_DONE)
            return 0;
        if (s != LK_CHAN_POSTED || (i % 16 == 0 && lk_now_ns() > until))
            break; /* PARKED: another task will answer, not the broker */
        lk_cpu_relax();
    }
    for (;;) {
        uint32_t s = atomic_load_explicit(&ch->state, memory_order_acquire);

        if (s == LK_CHAN_DONE)
            return 0;
        if (s == LK_CHAN_WAITING ||
            atomic_compare_exchange_strong(&ch->state, &s, LK_CHAN_WAITING))
            lk_futex_wait(&ch->state, LK_CHAN_WAITING, lk_now_ns() + CLIENT_WAKE_CHECK_NS);
        if (atomic_load_explicit(&ch->state, memory_order_acquire) == LK_CHAN_DONE)
            return 0;
        if (atomic_load(&t->proc->bell->dead) || host_gone(t->proc))
            return -ESHUTDOWN;
    }
}

static void copy_out(lk_chan *ch, uintptr_t arg)
{
    switch (ch->copyout) {
    case LK_CHAN_COPYOUT_CMS:
        memcpy((void *)arg, &ch->cms_out, sizeof(ch->cms_out));
        break;
    case LK_CHAN_COPYOUT_VERSION:
        ((IpcVersion *)arg)->driverVersion = ch->version_out;
        break;
    case LK_CHAN_COPYOUT_INMSG:
        /* §4.1 step 6: only the inMsg field is written. */
        ((IpcContent *)arg)->inMsg = (IpcMsg *)(uintptr_t)ch->in_msg;
        break;
    default:
        break;
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

static int do_call(liteipc_kernel *k, lk_ctask *t, unsigned long cmd, uintptr_t arg)
{
    int ret;

    if (atomic_load(&t->proc->bell->dead) || atomic_load(&t->proc->dead))
        return -ESHUTDOWN;
    atomic_store_explicit(&t->in_call, 1, memory_order_relaxed);
    stage_command(k, t->ch, cmd, arg);
    ring_broker(t);
    ret = wait_done(t);
    if (ret == 0) {
        ret = t->ch->result;
        if (ret >= 0 && t->ch->fds_pending)
            fetch_fds(t, t->ch->fds_pending);
        if (ret >= 0)
            copy_out(t->ch, arg);
    }
    atomic_store_explicit(&t->ch->state, LK_CHAN_IDLE, memory_order_relaxed);
    atomic_store_explicit(&t->in_call, 0, memory_order_release);
    return ret;
}

/* ---- descriptors ----------------------------------------------------------------------------- */

static int fd_record(liteipc_kernel *k, int fd, int pid, int accmode)
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
static int fd_check(liteipc_kernel *k, lk_cproc *p, int fd)
{
    int mode = -EBADF;

    pthread_mutex_lock(&k->c.lock);
    if (fd >= 0 && fd < k->c.nfds && k->c.fds[fd].owner_pid == p->pid)
        mode = k->c.fds[fd].accmode;
    pthread_mutex_unlock(&k->c.lock);
    return mode;
}

static int fail(int err)
{
    errno = -err;
    return -1;
}

/* ---- public: kernels ---------------------------------------------------------------------------- */

void liteipc_config_init(liteipc_config *cfg)
{
    cfg->task_limit = MAX_SERVICE_NUM;
    cfg->process_limit = LITEIPC_PROCESS_LIMIT;
    cfg->pool_default_size = LITE_IPC_POOL_DEFAULT_SIZE;
    cfg->pool_max_size = LITE_IPC_POOL_MAX_SIZE;
    cfg->data_max = IPC_MSG_DATA_SZ_MAX;
    cfg->object_max = IPC_MSG_OBJECT_NUM_MAX;
    cfg->reply_timeout_ms = LITEIPC_TIMEOUT_MS;
    cfg->driver_version = DRIVER_VERSION;
}

static int config_valid(const liteipc_config *c)
{
    return c->task_limit > LK_FIRST_USER_TID && c->task_limit <= LK_MAX_TASKS &&
           c->process_limit > LK_FIRST_USER_PID && c->process_limit <= LK_MAX_PROCS &&
           c->pool_max_size >= LK_PAGE_SIZE && c->pool_max_size % LK_PAGE_SIZE == 0 &&
           c->pool_max_size < (1u << 30) && c->pool_default_size <= c->pool_max_size &&
           c->data_max > 0 && c->data_max <= (1u << 20) && c->object_max <= 65536 &&
           c->reply_timeout_ms > 0;
}

int lk_client_init(liteipc_kernel *k)
{
    int err = pthread_key_create(&k->c.key, task_destructor);

    if (err)
        return -err;
    pthread_mutex_init(&k->c.lock, NULL);
    k->c.fork_parent_pid = -1;
    k->c.spin_ns = sysconf(_SC_NPROCESSORS_ONLN) >= 3 ? CLIENT_SPIN_NS : 0;
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

static liteipc_kernel *kernel_alloc(const liteipc_config *cfg, int *err)
{
    liteipc_kernel *k = calloc(1, sizeof(*k));

    if (!k) {
        *err = -ENOMEM;
        return NULL;
    }
    if (cfg)
        k->cfg = *cfg;
    else
        liteipc_config_init(&k->cfg);
    atomic_init(&k->refs, 1);
    *err = config_valid(&k->cfg) ? lk_client_init(k) : -EINVAL;
    if (*err < 0) {
        free(k);
        return NULL;
    }
    return k;
}

static int kernel_host(const char *name, const liteipc_config *cfg, liteipc_kernel **out)
{
    liteipc_kernel *k;
    int err;

    if (!out)
        return -EINVAL;
    *out = NULL;
    k = kernel_alloc(cfg, &err);
    if (!k)
        return err;
    err = lk_broker_start(k, name);
    if (err < 0) {
        lk_client_fini(k);
        free(k);
        return err;
    }
    k->is_host = true;
    lk_registry_add(k);
    *out = k;
    return 0;
}

int liteipc_kernel_start(const liteipc_config *cfg, liteipc_kernel **out)
{
    return kernel_host(NULL, cfg, out);
}

int liteipc_kernel_serve(const char *name, const liteipc_config *cfg, liteipc_kernel **out)
{
    return name ? kernel_host(name, cfg, out) : -EINVAL;
}

/*
 * Connect to the kernel at addr and ask for its configuration. The connection stays open as
 * this program's presence (the daemon of an embedded default exits when none is left).
 * Returns the socket or -errno.
 */
static int fetch_config(const struct sockaddr_un *addr, socklen_t len, liteipc_config *cfg)
{
    lk_wire_req rq = {.op = LK_OP_CONFIG};
    lk_wire_config wc;
    int fds[4], err = 0;
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

    if (s < 0)
        return -errno;
    if (connect(s, (const struct sockaddr *)addr, len) < 0)
        err = (errno == ECONNREFUSED || errno == ENOENT) ? -ENOENT : -errno;
    else if (!peer_is_us(s))
        err = -EACCES;
    else if (lk_seq_send(s, &rq, sizeof(rq), NULL, 0) != (ssize_t)sizeof(rq) ||
             lk_seq_recv(s, &wc, sizeof(wc), fds, 4) != (ssize_t)sizeof(wc))
        err = -ECONNRESET;
    else if (wc.magic != LK_WIRE_MAGIC || wc.size != sizeof(wc))
        err = -EPROTO; /* a kernel from another build of the library */
    else
        *cfg = wc.cfg;
    if (err < 0) {
        close(s);
        return err;
    }
    return s;
}

int liteipc_kernel_attach(const char *name, liteipc_kernel **out)
{
    struct sockaddr_un addr;
    socklen_t len;
    liteipc_config cfg;
    liteipc_kernel *k;
    int err, presence;

    if (!out)
        return -EINVAL;
    *out = NULL;
    err = lk_kernel_address(name, &addr, &len);
    if (err == 0)
        err = fetch_config(&addr, len, &cfg);
    if (err < 0)
        return err;
    presence = err;
    k = kernel_alloc(&cfg, &err);
    if (!k) {
        close(presence);
        return err;
    }
    k->c.presence_fd = presence;
    k->b.addr = addr;
    k->b.addrlen = len;
    k->b.lfd = k->b.epfd = k->b.efd = k->b.bell_fd = -1;
    k->c.attached = true;
    lk_registry_add(k);
    *out = k;
    return 0;
}

int liteipc_kernel_detach(liteipc_kernel *k)
{
    lk_cproc *p;

    if (!k || k->is_host)
        return -EINVAL;
    pthread_mutex_lock(&k->c.lock);
    p = k->c.default_proc;
    k->c.default_proc = NULL;
    pthread_mutex_unlock(&k->c.lock);
    if (p)
        lk_cproc_exit(p);
    lk_kernel_unref(k);
    return 0;
}

const char *liteipc_device_name(void)
{
    const char *name = getenv(LITEIPC_DEVICE_ENV);
    struct sockaddr_un addr;
    socklen_t len;

    if (name && lk_kernel_address(name, &addr, &len) == 0)
        return name;
    return LITEIPC_DEFAULT_DEVICE;
}

void lk_kernel_unref(liteipc_kernel *k)
{
    if (atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    lk_registry_remove(k);
    lk_client_fini(k);
    free(k);
}

int liteipc_kernel_stop(liteipc_kernel *k)
{
    if (!k)
        return -EINVAL;
    if (!k->is_host || atomic_exchange(&k->stopped, 1))
        return -EPERM; /* a fork child, or stopped twice */
    lk_broker_stop(k);
    /* Callers released with ESHUTDOWN leave their channels before the memory goes. */
    pthread_mutex_lock(&k->c.lock);
    for (lk_ctask *t = k->c.tasks; t; t = t->next)
        while (atomic_load_explicit(&t->in_call, memory_order_acquire))
            sched_yield();
    pthread_mutex_unlock(&k->c.lock);
    lk_kernel_unref(k);
    return 0;
}

const liteipc_config *liteipc_kernel_config(const liteipc_kernel *k)
{
    return k ? &k->cfg : NULL;
}

int liteipc_self_pid(liteipc_kernel *k)
{
    int err = -EINVAL;
    lk_cproc *p = k ? current_proc(k, &err) : NULL;

    return p ? p->pid : err;
}

int liteipc_self_tid(liteipc_kernel *k)
{
    int err = -EINVAL;
    lk_cproc *p = k ? current_proc(k, &err) : NULL;
    lk_ctask *t = p ? current_task(k, p, &err) : NULL;

    return t ? t->tid : err;
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
    p = current_proc(k, &err);
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
    err = fd_record(k, fd, p->pid, acc);
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
    lk_cproc *p = k ? current_proc(k, &err) : NULL;

    if (!p)
        return fail(err);
    if (fd_check(k, p, fd) < 0)
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
    lk_cproc *p = k ? current_proc(k, &err) : NULL;

    if (!p)
        return fail(err);
    mode = fd_check(k, p, fd);
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

/* The generic mmap layer's checks (§2.3 steps 1-5). Returns the rounded length or -errno. */
static long mmap_generic_checks(liteipc_kernel *k, lk_cproc *p, size_t length, int prot,
                                int flags, int fd)
{
    size_t len = lk_round_up(length, LK_PAGE_SIZE);
    int share = flags & (MAP_SHARED | MAP_PRIVATE), mode;

    if (len == 0 || len > ((size_t)1 << 46))
        return -EINVAL;
    if (share != MAP_SHARED && share != MAP_PRIVATE)
        return -EINVAL;
    mode = fd_check(k, p, fd);
    if (mode < 0)
        return mode;
    if (mode == O_WRONLY)
        return -EACCES;
    if (share == MAP_SHARED && (prot & PROT_WRITE) && mode != O_RDWR)
        return -EACCES;
    return (long)len;
}

/* Map the pool memory file read-only and tell the broker where (steps 6-10). */
static void *mmap_pool_locked(lk_cproc *p, size_t len, int prot, int flags, void *addr)
{
    lk_wire_req rq = {.op = LK_OP_MMAP_PREPARE, .b = len, .c = (uint64_t)prot,
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
    lk_cproc *p = k ? current_proc(k, &err) : NULL;
    long len;
    void *u;

    (void)offset; /* the driver does not look at it */
    if (!p) {
        errno = -err;
        return MAP_FAILED;
    }
    len = mmap_generic_checks(k, p, length, prot, flags, fd);
    if (len < 0) {
        errno = (int)-len;
        return MAP_FAILED;
    }
    pthread_mutex_lock(&p->lock);
    u = mmap_pool_locked(p, (size_t)len, prot, flags, addr);
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
        p = default_proc_get(k); /* never creates a process: munmap is not a device call */
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
    p = current_proc(k, &err);
    if (!p)
        return fail(err);
    if (fd_check(k, p, fd) < 0)
        return fail(-EBADF);
    t = current_task(k, p, &err);
    if (!t)
        return fail(err);
    ret = do_call(k, t, request, arg);
    return ret < 0 ? fail(ret) : ret;
}

/* ---- the embedded default: a daemon started on demand ------------------------------------------ */

static const char *find_liteipcd(void)
{
    const char *env = getenv("LITEIPCD");

    if (env && *env)
        return env;
    if (access(LITEIPC_LITEIPCD_INSTALLED, X_OK) == 0)
        return LITEIPC_LITEIPCD_INSTALLED;
    if (access(LITEIPC_LITEIPCD_BUILD, X_OK) == 0)
        return LITEIPC_LITEIPCD_BUILD;
    return NULL;
}

/* In the intermediate child: detach from our session and exec the daemon in a grandchild, so
   that the kernel outlives whichever process happened to start it. Async-signal-safe only. */
static void exec_daemon(const char *path, const char *name, int ready_fd, const char *fdarg,
                        char *const envp[])
{
    int devnull;

    setsid();
    if (fork() != 0)
        _exit(0);
    devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
    }
    /* Only stdio and the ready pipe cross into the daemon. */
    if (ready_fd > 3)
        close_range(3, (unsigned)ready_fd - 1, 0);
    close_range((unsigned)ready_fd + 1, ~0u, 0);
    fcntl(ready_fd, F_SETFD, 0);
    {
        char *const argv[] = {"liteipcd", "--name", (char *)name, "--exit-when-unused",
                              "--ready-fd", (char *)fdarg, "--quiet", NULL};

        execve(path, argv, envp);
    }
    _exit(127);
}

/* Our environment without LD_PRELOAD: a preloaded shim has no business in the daemon. */
static char **daemon_environment(void)
{
    extern char **environ;
    size_t n = 0, j = 0;
    char **envp;

    while (environ[n])
        n++;
    envp = calloc(n + 1, sizeof(*envp));
    if (!envp)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
            envp[j++] = environ[i];
    return envp;
}

/* Start a liteipcd for name and wait (bounded) until it serves or gives up. */
static int spawn_daemon(const char *name)
{
    const char *path = find_liteipcd();
    int pfd[2];
    char fdarg[16], byte;
    struct pollfd pp;
    char **envp;
    pid_t pid;

    if (!path)
        return -ENOEXEC;
    envp = daemon_environment();
    if (!envp)
        return -ENOMEM;
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        free(envp);
        return -errno;
    }
    snprintf(fdarg, sizeof(fdarg), "%d", pfd[1]);
    pid = fork();
    if (pid == 0)
        exec_daemon(path, name, pfd[1], fdarg, envp);
    free(envp);
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        return -errno;
    }
    waitpid(pid, NULL, 0);
    /* One byte means "serving"; EOF means it exited (for example because another program
       started the same name first): either way, attaching again tells. */
    pp = (struct pollfd){.fd = pfd[0], .events = POLLIN};
    if (poll(&pp, 1, 10000) == 1 && read(pfd[0], &byte, 1) < 0) {
        /* nothing to do: the attach below reports the outcome */
    }
    close(pfd[0]);
    return 0;
}

int liteipc_kernel_attach_or_start(const char *name, liteipc_kernel **out)
{
    int err = liteipc_kernel_attach(name, out);

    if (err != -ENOENT)
        return err;
    err = spawn_daemon(name);
    if (err < 0)
        return err;
    return liteipc_kernel_attach(name, out);
}
