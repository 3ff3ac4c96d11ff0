/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker.c - the thread that plays the kernel.
 *
 * The broker owns the pure kernel (kernel.h) and is the only writer of kernel state and of
 * pools. It waits in one place, epoll, for three things: the doorbell eventfd (a task posted a
 * command while the broker slept), the listening socket (a simulated process connects), and the
 * connections (control requests, and EOF when a process dies, even by SIGKILL). Commands are
 * not read from sockets: they sit in the tasks' channels in shared memory (channel.h), and the
 * broker finds them through the bell's bitmap. Before sleeping it spins briefly, because a
 * sleep/wake pair costs tens of microseconds on these machines and commands come in bursts.
 *
 * Deadlines of synchronous receives are the kernel's; the broker sleeps until the earliest (a
 * kernel in virtual time reads its own clock instead, moved by liteipc_time_*: kernel_now).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "dump.h"
#include "platform.h"
#include "pool.h"
#include "runtime.h"

#ifndef BROKER_SPIN_NS
#define BROKER_SPIN_NS 20000  /* how long the broker polls the bell before sleeping */
#endif
#define BROKER_POLL_EVERY 64  /* busy iterations between two looks at the sockets */
#ifndef BROKER_HAND_GRACE_NS
/* How long a poster has to do a wake-up handed to it before the broker does it (channel.h). */
#define BROKER_HAND_GRACE_NS 1000000
#endif
/* epoll tags (data.u64): small numbers for the broker's own descriptors and the processes'
   doorbells; a connection's address for its socket, that address with the low bit set for its
   pidfd (connections are allocated, so their addresses are aligned and far above these). */
#define EV_DOORBELL 1u           /* the broker's own eventfd (stop, subscriptions) */
#define EV_LISTEN 2u
#define EV_RELISTEN 3u           /* the accept back-off timer */
#define EV_PROC_BELL 0x1000u     /* + PID: that process's doorbell */
#define EV_PIDFD_TAG 1u          /* low bit of a connection's address: its pidfd is readable */
#define ACCEPT_RETRY_NS 50000000 /* accept ran out of descriptors: listen again after 50 ms */

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; older C libraries do not name it */
#endif

static uint32_t prepare_fd_delivery(liteipc_kernel *k, lk_bconn *c, int tid, uintptr_t in_msg);

/* ---- the descriptors the broker holds for the processes ------------------------------------- */

/*
 * Every descriptor the broker obtains for a process (its connection, its pidfd, its doorbell,
 * its memory files, the OBJ_FD files held for it) is marked in k->b.owned, so that a fork child
 * of the host closes them all (lk_broker_forget_in_child): they are the other processes'
 * channels and files. A descriptor is obtained and marked, or unmarked and closed, under
 * fds_lock, which fork takes too (lk_broker_fork_prepare): the child's bitmap names exactly the
 * broker's descriptors at the instant of fork, never one it would not inherit, nor a number the
 * broker had closed and another thread of the host reused. A lock per connection, memory file
 * or OBJ_FD file; nothing per call.
 */
#define LONG_BITS ((int)(8 * sizeof(unsigned long)))

static pthread_mutex_t fds_lock = PTHREAD_MUTEX_INITIALIZER;

static void fds_begin(void)
{
    pthread_mutex_lock(&fds_lock);
}

/* End what fds_begin began: mark fd, if it is a descriptor, as the broker's. Returns fd. */
static int fds_end(liteipc_kernel *k, int fd)
{
    int err = errno;

    if (fd >= 0 && fd < k->b.owned_max) {
        k->b.owned[fd / LONG_BITS] |= 1ul << (fd % LONG_BITS);
        if (fd >= k->b.owned_top)
            k->b.owned_top = fd + 1;
    }
    pthread_mutex_unlock(&fds_lock);
    errno = err;
    return fd;
}

/* Close a descriptor obtained between fds_begin and fds_end. */
static void fd_drop(liteipc_kernel *k, int fd)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&fds_lock);
    if (fd < k->b.owned_max)
        k->b.owned[fd / LONG_BITS] &= ~(1ul << (fd % LONG_BITS));
    close(fd);
    pthread_mutex_unlock(&fds_lock);
}

void lk_broker_fork_prepare(void)
{
    pthread_mutex_lock(&fds_lock);
}

void lk_broker_fork_parent(void)
{
    pthread_mutex_unlock(&fds_lock);
}

/* The child's only thread is the one that took the lock: it releases it. (Initialising it
   again instead made TSan report a double lock in a child that starts a kernel of its own.) */
void lk_broker_fork_child(void)
{
    pthread_mutex_unlock(&fds_lock);
}

/* The bitmap's size: any descriptor the host may ever have (fs.nr_open, or its hard limit). */
static int owned_size(void)
{
    struct rlimit rl;
    long max = 1 << 20; /* fs.nr_open's default */
    FILE *f = fopen("/proc/sys/fs/nr_open", "re");

    if (f) {
        if (fscanf(f, "%ld", &max) != 1 || max <= 0 || max > INT_MAX - LONG_BITS)
            max = 1 << 20;
        fclose(f);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
        rl.rlim_max < (rlim_t)max)
        max = (long)rl.rlim_max;
    return (int)max;
}

/* ---- channels ------------------------------------------------------------------------------- */

static lk_chan *chan_of(const liteipc_kernel *k, const lk_bconn *c, int slot)
{
    return (lk_chan *)((char *)c->region + LK_REGION_HEADER + (size_t)slot * k->b.chan_size);
}

/* Take back a wake-up handed to the task of ch, which sleeps and cannot do it: do it here. */
static void reclaim_wake(liteipc_kernel *k, lk_chan *ch)
{
    int32_t tid = atomic_exchange_explicit(&ch->wake_tid, 0, memory_order_acq_rel);

    if (tid != 0)
        lk_wake_task(k->b.bell, tid);
}

/* The channel of task tid, if it is attached. */
static lk_chan *chan_of_tid(const liteipc_kernel *k, int tid)
{
    const lk_bconn *c;

    if (tid < 0 || tid >= LK_MAX_TASKS || k->b.by_tid[tid].pid < 0)
        return NULL;
    c = k->b.by_pid[k->b.by_tid[tid].pid];
    return c ? chan_of(k, c, k->b.by_tid[tid].slot) : NULL;
}

/*
 * Handed wake-ups are watched: the poster is another process, which may never do the wake
 * (killed, buggy, hostile). Past BROKER_HAND_GRACE_NS, a task still asleep on a complete
 * channel is woken by the broker. Wakes are handed in time order, so the watch is a ring whose
 * head is due first; a full ring settles its oldest entry early (a wake-up sent twice is
 * harmless: the sleeper re-checks its channel).
 */
static void hand_settle(liteipc_kernel *k, int tid)
{
    lk_chan *ch = chan_of_tid(k, tid);

    if (ch && atomic_load_explicit(&ch->state, memory_order_acquire) == LK_CHAN_DONE) {
        lk_wake_task(k->b.bell, tid); /* its word was bumped when the wake was handed */
        atomic_fetch_add_explicit(&k->b.hand_settles, 1, memory_order_relaxed);
    }
}

static void hand_watch(liteipc_kernel *k, int tid)
{
    lk_broker *b = &k->b;

    if (b->nhanded == LK_HAND_RING) {
        hand_settle(k, b->handed[b->hand_head].tid);
        b->hand_head = (b->hand_head + 1) % LK_HAND_RING;
        b->nhanded--;
    }
    b->handed[(b->hand_head + b->nhanded) % LK_HAND_RING] =
        (lk_handed){.tid = tid, .due = lk_now_ns() + BROKER_HAND_GRACE_NS};
    b->nhanded++;
}

/* When the oldest handed wake-up falls due, or UINT64_MAX. */
static uint64_t hand_next_due(const liteipc_kernel *k)
{
    return k->b.nhanded ? k->b.handed[k->b.hand_head].due : UINT64_MAX;
}

/* Settle the handed wake-ups due by now. The broker does it when it has nothing else to do (its
   idle spin), and every BROKER_POLL_EVERY turns when busy: never before a posted command. */
static void hand_check(liteipc_kernel *k, uint64_t now)
{
    lk_broker *b = &k->b;

    while (b->nhanded && b->handed[b->hand_head].due <= now) {
        hand_settle(k, b->handed[b->hand_head].tid);
        b->hand_head = (b->hand_head + 1) % LK_HAND_RING;
        b->nhanded--;
    }
}

/* Task tid sleeps and its channel is complete: bump its word (only the broker writes the bell),
   then wake it, or hand the FUTEX_WAKE to the task whose command is being served, if it is
   polling and has none yet (channel.h). */
static void wake_or_hand(liteipc_kernel *k, int tid)
{
    _Atomic uint32_t *word = &k->b.bell->wake[tid].seq;

    /* Pairs with the sleeper's load of its word before it re-checks its channel (wait_done):
       from here on its FUTEX_WAIT returns at once, so only a sleeper already queued needs the
       FUTEX_WAKE. A plain store, not an RMW: only kernel code, under the kernel lock, writes
       these words. seq_cst: a sleeper that marks itself private later sees it (lk_wake). */
    atomic_store(word, atomic_load_explicit(word, memory_order_relaxed) + 1);
    /* A private sleeper (lk_wake) is woken by the host's threads only, never by a real process:
       none was connected when it went to sleep, and one connected since can wait for us. */
    if (k->b.hand_to && !(k->b.hand_real && atomic_load(&k->b.bell->wake[tid].private))) {
        atomic_store_explicit(&k->b.hand_to->wake_tid, tid, memory_order_release);
        k->b.hand_to = NULL; /* one per command */
        if (!k->b.on_caller) /* else the poster is this library's own code (handle_slot) */
            hand_watch(k, tid);
    } else {
        lk_wake_task(k->b.bell, tid);
    }
}

/* Publish a result in task tid's channel and wake it if it sleeps (pairs with wait_done). */
static void chan_complete(liteipc_kernel *k, lk_chan *ch, int tid, int result,
                          const lk_ioctl_out *out, uint32_t fds)
{
    uint32_t old;

    ch->result = result;
    ch->done_cpu = lk_cpu();
    ch->fds_pending = fds;
    ch->copyout = LK_CHAN_COPYOUT_NONE;
    if (result >= 0 && out) {
        ch->copyout = (uint32_t)out->copyout;
        ch->cms_out = out->cms;
        ch->version_out = out->version.driverVersion;
        ch->in_msg = out->in_msg;
    }
    old = atomic_exchange_explicit(&ch->state, LK_CHAN_DONE, memory_order_acq_rel);
    if (old == LK_CHAN_WAITING) {
        wake_or_hand(k, tid);
        reclaim_wake(k, ch); /* asleep, it would do a handed wake-up only once woken */
    }
}

static void complete_tid(liteipc_kernel *k, int tid, int result, const lk_ioctl_out *out)
{
    lk_chan *ch = chan_of_tid(k, tid);
    lk_bconn *c;

    if (!ch)
        return;
    c = k->b.by_pid[k->b.by_tid[tid].pid];
    chan_complete(k, ch, tid, result, out,
                  result == 0 && out ? prepare_fd_delivery(k, c, tid, out->in_msg) : 0);
}

/* Fault injection (below): a slot whose task a fault killed holds this, not -1 (free). */
#define FAULT_SLOT_KILLED(tid) ((int16_t)(-2 - (tid)))
static void fault_kills(liteipc_kernel *k);
static void fault_killed_call(liteipc_kernel *k, lk_bconn *c, int slot);

static void deliver_completions(liteipc_kernel *k)
{
    lk_completion cp;

    while (lk_kernel_take_completion(k->kern, &cp)) {
        lk_ioctl_out out = {.copyout = LK_COPYOUT_INMSG, .in_msg = cp.in_msg};

        complete_tid(k, cp.tid, cp.result, cp.result == 0 ? &out : NULL);
    }
    if (__builtin_expect(k->b.faulty, 0))
        fault_kills(k); /* after the completions: the killed tasks' ERFKILL is in their channels */
}

/* ---- the kernel's clock ----------------------------------------------------------------------- */

/*
 * Every time the kernel sees (its commands, deadlines, exits, hence its events) comes from
 * kernel_now: the host's CLOCK_MONOTONIC, or the virtual clock of a kernel in virtual time,
 * which only liteipc_time_* moves (vt_serve below). The broker's own timers (spins, handed
 * wake-ups, the accept back-off) stay on the host clock: they decide when the broker looks,
 * never what the kernel does.
 */
static uint64_t kernel_now(const liteipc_kernel *k)
{
    return k->cfg.virtual_time ? atomic_load_explicit(&k->b.vt.now, memory_order_relaxed)
                               : lk_now_ns();
}

/* When the broker must wake up for the kernel's next deadline: in virtual time, never by
   itself (the deadlines fire as the clock is moved). */
static uint64_t kernel_wake_at(const liteipc_kernel *k)
{
    return k->cfg.virtual_time ? UINT64_MAX : lk_kernel_next_deadline(k->kern);
}

/* ---- hooks the pure kernel needs ------------------------------------------------------------ */

/*
 * Is the process that connected c still alive, so that its PID still names it? A PID is reused
 * only once its owner has exited and been reaped, and the pidfd is readable from the exit on.
 */
static bool peer_alive(const lk_bconn *c)
{
    struct pollfd p = {.fd = c->pidfd, .events = POLLIN};

    if (c->in_host)
        return true;
    return poll(&p, 1, 0) == 0;
}

static int copy_from_host(void *ctx, void *dst, uintptr_t src, size_t n)
{
    const lk_bconn *c = ctx;
    struct iovec local = {.iov_base = dst, .iov_len = n};
    struct iovec remote = {.iov_base = (void *)src, .iov_len = n};

    /* The kernel's copy_from_user: read the sender's memory, in this host or in another
       process of the same user. A bad pointer (or a process that refuses to be read, e.g.
       under a strict Yama ptrace policy) is EFAULT, never a crash of the broker. The PID is
       used only while the pidfd says its process lives, checked before and after the read:
       alive after, it was alive (and its PID not reused) throughout. */
    if (!peer_alive(c) || process_vm_readv(c->peer_pid, &local, 1, &remote, 1, 0) != (ssize_t)n ||
        !peer_alive(c))
        return -EFAULT;
    return 0;
}

/* A duplicate, held by the broker, of descriptor fd of the process behind c. */
static int grab_fd(const lk_bconn *c, int fd)
{
    int bfd;

    if (c->in_host)
        bfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    else
        bfd = (int)syscall(SYS_pidfd_getfd, c->pidfd, fd, 0);
    if (bfd >= 0)
        return bfd;
    if (errno == EMFILE || errno == ENFILE)
        return -ENOMEM; /* the broker is out of descriptors: the device would be out of memory */
    return errno == EBADF || errno == EPERM || errno == ESRCH ? -errno : -EBADF;
}

static int pend_add(liteipc_kernel *k, lk_bconn *s, lk_bconn *d, int bfd);

static int fd_dup_hook(void *ctx, int src_pid, int fd, int dst_pid)
{
    liteipc_kernel *k = ctx;
    lk_bconn *s = k->b.by_pid[src_pid], *d = k->b.by_pid[dst_pid];
    int bfd, nfd;

    if (!s || !d)
        return -ESRCH;
    if (s->in_host && d->in_host) {
        /* One descriptor table for both: lowest free number >= 3, no CLOEXEC (§5.2). */
        nfd = fcntl(fd, F_DUPFD, 3);
        return nfd >= 0 ? nfd : errno == EBADF ? -EBADF : -EPERM;
    }
    if (d->in_host) {
        /* The copy is the host's, not the broker's (a fork child may inherit it like any file
           of its parent's). It already is the lowest free number here; it only must not be
           CLOEXEC. */
        bfd = grab_fd(s, fd);
        if (bfd < 0)
            return bfd;
        if (bfd >= 3) {
            fcntl(bfd, F_SETFD, 0);
            return bfd;
        }
        nfd = fcntl(bfd, F_DUPFD, 3);
        close(bfd);
        return nfd < 0 ? -EPERM : nfd;
    }
    fds_begin();
    bfd = fds_end(k, grab_fd(s, fd));
    return bfd < 0 ? bfd : pend_add(k, s, d, bfd);
}

/*
 * Hold bfd, sent by s, until d's task fetches it. Each sender may have cfg.fd_pending_max files
 * held, and all together half the broker's descriptor limit: past either, the sender's send
 * fails with ENOMEM (as where the device runs out of memory) and nobody else notices.
 */
static int pend_add(liteipc_kernel *k, lk_bconn *s, lk_bconn *d, int bfd)
{
    if (s->fds_held >= (int)k->cfg.fd_pending_max || k->b.fds_held >= k->b.fds_budget) {
        fd_drop(k, bfd);
        return -ENOMEM;
    }
    if (d->npend == d->cap_pend) {
        int cap = d->cap_pend ? 2 * d->cap_pend : 8;
        lk_fdpend *p = realloc(d->pend, (size_t)cap * sizeof(*p));

        if (!p) {
            fd_drop(k, bfd);
            return -EPERM;
        }
        d->pend = p;
        d->cap_pend = cap;
    }
    d->pend[d->npend++] =
        (lk_fdpend){.bfd = bfd, .tid = -1, .src_pid = s->pid, .src_serial = s->serial};
    s->fds_held++;
    k->b.fds_held++;
    return bfd; /* a placeholder until the receiver has the file (prepare_fd_delivery) */
}

static int pend_find(const lk_bconn *c, int bfd, int tid)
{
    for (int i = 0; i < c->npend; i++)
        if (c->pend[i].bfd == bfd && c->pend[i].tid == tid)
            return i;
    return -1;
}

/* Close the i-th file held for c and discharge its sender (if it is still the same process). */
static void pend_release(liteipc_kernel *k, lk_bconn *c, int i)
{
    int src = c->pend[i].src_pid;
    lk_bconn *s = src >= 0 && src < LK_MAX_PROCS ? k->b.by_pid[src] : NULL;

    fd_drop(k, c->pend[i].bfd);
    if (s && s->serial == c->pend[i].src_serial)
        s->fds_held--;
    k->b.fds_held--;
    c->pend[i] = c->pend[--c->npend];
}

static void fd_close_hook(void *ctx, int pid, int fd)
{
    liteipc_kernel *k = ctx;
    lk_bconn *c = k->b.by_pid[pid];
    int i;

    if (!c)
        return;
    if (c->in_host) {
        close(fd);
        return;
    }
    i = pend_find(c, fd, -1); /* rollback of a message never delivered */
    if (i >= 0)
        pend_release(k, c, i);
}

static void pend_close_all(liteipc_kernel *k, lk_bconn *c)
{
    while (c->npend > 0)
        pend_release(k, c, c->npend - 1);
    free(c->pend);
    c->pend = NULL;
    c->npend = c->cap_pend = 0;
}

typedef struct fd_bind {
    lk_bconn *c;
    int tid;
    uint32_t n;
} fd_bind;

static void bind_fd_object(void *ctx, uint32_t fd, uint32_t pos)
{
    fd_bind *b = ctx;
    int p = pend_find(b->c, (int)fd, -1);

    if (p < 0)
        return;
    b->c->pend[p].tid = b->tid;
    b->c->pend[p].obj_pos = pos;
    b->n++;
}

/*
 * A message is being handed to task tid of the real process c: bind the OBJ_FD files it carries
 * to that task, which fetches them before its ioctl returns. Returns how many.
 */
static uint32_t prepare_fd_delivery(liteipc_kernel *k, lk_bconn *c, int tid, uintptr_t in_msg)
{
    fd_bind b = {.c = c, .tid = tid};

    if (c->in_host || c->npend == 0)
        return 0;
    /* The objects are read in the layout they were sent in (abi.h). */
    if (lk_msg_fd_objects(k->kern, c->pid, in_msg, bind_fd_object, &b) < 0)
        return 0;
    return b.n;
}

/* ---- events --------------------------------------------------------------------------------- */

_Static_assert((int)LITEIPC_EV_EXEC == (int)LK_EV_EXEC, "public and kernel event types align");
_Static_assert((int)LITEIPC_EV_REFUSED == (int)LK_EV_REFUSED, "public and kernel types align");
_Static_assert(sizeof(((liteipc_event *)0)->src_task) == LK_NAME_MAX, "task names fit");
/* Monitors get the event as it is (lk_wire_event; both sides run the same library): the preview
   was appended after every older field, and holds what add_preview copies. */
_Static_assert(offsetof(liteipc_event, preview_len) > offsetof(liteipc_event, grantee_prog) &&
                   sizeof(((liteipc_event *)0)->preview) == LITEIPC_PREVIEW_MAX,
               "the preview is the event's last field");

/* The host process behind simulated process pid, as identified when it connected. */
static void host_of(const liteipc_kernel *k, int pid, int32_t *host_pid, char prog[16])
{
    const lk_bconn *c = pid >= 0 && pid < LK_MAX_PROCS ? k->b.by_pid[pid] : NULL;

    *host_pid = c ? c->peer_pid : 0;
    memcpy(prog, c ? c->prog : "", c ? 16 : 1);
}

/* One event to a monitor, without waiting: a full socket loses it, and the next one says so. */
static void monitor_send(lk_bconn *c, const liteipc_event *e)
{
    lk_wire_event we = {.ev = *e, .dropped = c->dropped};

    if (send(c->sock, &we, sizeof(we), MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(we))
        c->dropped = 0;
    else
        c->dropped++;
}

/* The first bytes of the message's data (in the receiver's pool), if someone asked for them. */
static void add_preview(liteipc_kernel *k, const lk_event *ev, liteipc_event *e)
{
    bool want = false;

    for (int i = 0; i < k->b.nactive && !want; i++)
        want = k->b.active[i].previews;
    for (int i = 0; i < k->b.nmonitors && !want; i++)
        want = k->b.monitors[i]->previews;
    if (want)
        e->preview_len = (uint32_t)lk_msg_peek(k->kern, ev->dst_pid, &ev->msg, e->preview,
                                               sizeof(e->preview));
}

static void broker_event(void *ctx, const lk_event *ev)
{
    liteipc_kernel *k = ctx;
    liteipc_event e = {
        .type = (liteipc_event_type)ev->type,
        .err = ev->err,
        .time_ns = ev->time_ns,
        .src_tid = ev->src_tid,
        .src_pid = ev->src_pid,
        .dst_tid = ev->dst_tid,
        .dst_pid = ev->dst_pid,
        .msg = ev->msg,
        .cmd = ev->cmd,
        .cms_cmd = ev->cms_cmd,
        .handle = ev->handle,
        .grantee_pid = ev->grantee_pid,
        .fault = ev->fault,
        .fault_id = ev->fault_id,
        .fault_ms = ev->fault_ms,
    };
    int32_t unused;

    host_of(k, ev->src_pid, &e.src_host_pid, e.src_prog);
    host_of(k, ev->dst_pid, &e.dst_host_pid, e.dst_prog);
    host_of(k, ev->grantee_pid, &unused, e.grantee_prog);
    if (ev->src_tid >= 0 && ev->src_tid < LK_MAX_TASKS)
        memcpy(e.src_task, k->b.task_name[ev->src_tid], LK_NAME_MAX);
    if (ev->dst_tid >= 0 && ev->dst_tid < LK_MAX_TASKS)
        memcpy(e.dst_task, k->b.task_name[ev->dst_tid], LK_NAME_MAX);

    if (ev->type == LK_EV_MSG_WRITTEN || ev->type == LK_EV_MSG_READ)
        add_preview(k, ev, &e);
    for (int i = 0; i < k->b.nactive; i++)
        k->b.active[i].fn(&e, k->b.active[i].ctx);
    for (int i = 0; i < k->b.nmonitors; i++)
        monitor_send(k->b.monitors[i], &e);
}

/* The kernel reports events while someone listens: a subscriber here or a monitor. */
static void event_sink_update(liteipc_kernel *k)
{
    bool any = k->b.nactive > 0 || k->b.nmonitors > 0;

    lk_kernel_set_event_sink(k->kern, any ? broker_event : NULL, k);
}

_Static_assert(LK_STATS_ERRNO == LITEIPC_STATS_ERRNO, "errno slots of the counters align");
_Static_assert(LK_MAX_PROCS == LITEIPC_STATS_PROCS, "every process fits in liteipc_stats");

/* One live process's entry of liteipc_stats: who it is, its pool's use and high-water mark. */
static void stats_proc(const liteipc_kernel *k, int pid, const lk_proc_view *v,
                       liteipc_proc_stats *ps)
{
    const void *base = lk_proc_pool_base(k->kern, pid);

    ps->pid = pid;
    host_of(k, pid, &ps->host_pid, ps->prog);
    if (!base)
        return;
    ps->pool_size = v->pool_size;
    ps->pool_used = lk_pool_used(base);
    ps->pool_peak = v->pool_peak;
}

/* The kernel's counters and every live process's pool (broker thread, between commands). */
static void stats_fill(const liteipc_kernel *k, liteipc_stats *out)
{
    lk_stats ks;
    lk_proc_view v;

    memset(out, 0, sizeof(*out));
    lk_kernel_stats(k->kern, &ks);
    out->uptime_ns = lk_now_ns() - k->b.started_ns;
    out->calls = ks.calls;
    out->oneway = ks.oneway;
    out->replies = ks.replies;
    out->failed_replies = ks.failed_replies;
    out->death_notices = ks.death_notices;
    out->received = ks.received;
    out->bytes = ks.bytes;
    out->timeouts = ks.timeouts;
    out->killed = ks.killed;
    out->task_deaths = ks.task_deaths;
    out->process_deaths = ks.process_deaths;
    memcpy(out->drop_write, ks.drop_write, sizeof(out->drop_write));
    memcpy(out->drop_read, ks.drop_read, sizeof(out->drop_read));
    memcpy(out->refused, ks.refused, sizeof(out->refused));
    for (int pid = 0; pid < LK_MAX_PROCS; pid++) {
        if (lk_proc_view_get(k->kern, pid, &v) == 0 && v.in_use)
            stats_proc(k, pid, &v, &out->procs[out->nprocs++]);
    }
}

/* Take the subscribers' new generation (liteipc_subscribe waits for this). */
static void apply_subscriptions(liteipc_kernel *k)
{
    lk_broker *b = &k->b;

    atomic_store(&b->sub_pending, 0);
    pthread_mutex_lock(&b->sub_lock);
    b->nactive = 0;
    for (int i = 0; i < LK_MAX_SUBSCRIBERS; i++)
        if (b->subs[i].fn)
            b->active[b->nactive++] = b->subs[i];
    if (b->run_fn) {
        b->run_ret = b->run_fn(k, b->run_arg);
        b->run_fn = NULL;
    }
    if (b->dump_to) {
        lk_dump_host hosts[LK_MAX_PROCS];

        for (int p = 0; p < LK_MAX_PROCS; p++)
            host_of(k, p, &hosts[p].pid, hosts[p].prog);
        lk_dump_names(k->kern, b->dump_to, hosts, (const char(*)[LK_DUMP_NAME])b->task_name);
        b->dump_to = NULL;
    }
    if (b->stats_to) {
        stats_fill(k, b->stats_to);
        b->stats_to = NULL;
    }
    b->sub_applied = b->sub_gen;
    pthread_cond_broadcast(&b->sub_cond);
    pthread_mutex_unlock(&b->sub_lock);
    event_sink_update(k);
}

/* ---- commands posted in channels --------------------------------------------------------------- */

/* Copy the command out of the user-writable channel, once, into the kernel's input. */
static void read_command(const liteipc_kernel *k, const lk_bconn *c, const lk_chan *ch,
                         lk_ioctl_in *in)
{
    uint32_t data_len = ch->data_len, off_count = ch->off_count;

    memset(in, 0, sizeof(*in));
    in->cmd = (unsigned long)ch->cmd;
    in->arg = (uintptr_t)ch->arg;
    in->faults = ch->faults & (LK_FAULT_ARG | LK_FAULT_OUTMSG);
    in->cms = ch->cms;
    in->content = ch->content;
    memcpy(&in->out, &ch->out, LK_MSG_SENDER_BYTES);
    in->out_hi = ch->out_hi;
    /* Staged bytes are used only where they match the sizes of our own copy of the header. */
    if (in->out.dataSz > 0 && data_len == in->out.dataSz && data_len <= k->cfg.data_max)
        in->data = ch->staging;
    if (in->out.spObjNum > 0 && off_count == in->out.spObjNum && off_count <= k->cfg.object_max)
        in->offsets = (const uint32_t *)(ch->staging + lk_chan_off_pos(k->cfg.data_max));
    in->copy_from_user = copy_from_host;
    in->copy_ctx = (void *)c;
}

static void handle_slot(liteipc_kernel *k, lk_bconn *c, int slot)
{
    int tid = c->slot_tid[slot];
    lk_chan *ch;
    lk_ioctl_in in;
    lk_ioctl_out out;
    uint32_t st;
    int ret;

    if (tid < 0 || lk_task_is_parked(k->kern, tid)) {
        if (tid < -1)
            fault_killed_call(k, c, slot);
        return; /* a stray bit: nothing new was posted */
    }
    ch = chan_of(k, c, slot);
    st = atomic_load_explicit(&ch->state, memory_order_acquire);
    if (st != LK_CHAN_POSTED && st != LK_CHAN_WAITING)
        return;
    if (k->cfg.deterministic && ch->cmd == LK_CHAN_CMD_FENCE) {
        chan_complete(k, ch, tid, 0, NULL, 0); /* a turn, no command (sched.c) */
        return;
    }
    read_command(k, c, ch, &in);
    memset(&out, 0, sizeof(out));
    ret = lk_ioctl(k->kern, tid, &in, kernel_now(k), &out);
    /* The tasks this command completed first: a polling poster wakes one of them itself, so
       its handed TID must be in place before the poster's own answer. Handed only to a poster
       the broker watches (on its own thread) or to this library's own code (a host task's
       command on its thread); a host task serving a real process's post wakes them itself. */
    k->b.hand_to = st == LK_CHAN_POSTED && (c->in_host || !k->b.on_caller) ? ch : NULL;
    k->b.hand_real = !c->in_host;
    deliver_completions(k);
    k->b.hand_to = NULL;
    if (ret == LK_PARKED) {
        uint32_t posted = LK_CHAN_POSTED;

        /* Tell a polling task to sleep: its answer depends on another task now (PARKED also
           tells it the command was taken). One that sleeps already learns it from `taken`;
           written only then, the word never bounces between the broker and a polling task. */
        if (!atomic_compare_exchange_strong(&ch->state, &posted, LK_CHAN_PARKED)) {
            atomic_store_explicit(&ch->taken, 1, memory_order_relaxed);
            reclaim_wake(k, ch); /* it sleeps already */
        }
    } else {
        chan_complete(k, ch, tid, ret, &out,
                      ret == 0 && out.copyout == LK_COPYOUT_INMSG
                          ? prepare_fd_delivery(k, c, tid, out.in_msg)
                          : 0);
    }
}

/* Serve the posted slots of one process. Returns true if it had any. */
static bool scan_proc(liteipc_kernel *k, lk_bconn *c)
{
    lk_proc_region *r = c->region;
    bool any = false;

    for (int w = 0; w < 2; w++) {
        uint64_t slots;

        if (!atomic_load_explicit(&r->pending_slots[w], memory_order_relaxed))
            continue;
        slots = atomic_exchange(&r->pending_slots[w], 0);
        any |= slots != 0;
        while (slots) {
            int slot = w * 64 + __builtin_ctzll(slots);

            slots &= slots - 1;
            if (slot < (int)k->cfg.task_limit)
                handle_slot(k, c, slot);
        }
    }
    return any;
}

/* Serve every posted command, process by process. Returns true if there was any. A process
   finds the broker through its own bits only: whatever it writes there is its own business. */
static bool scan_procs(liteipc_kernel *k)
{
    bool any = false;

    for (int i = 0; i < k->b.nlive; i++)
        any |= scan_proc(k, k->b.live[i]);
    return any;
}

/* Has any process posted a slot? (a look, for the broker's spin and its sleep) */
static bool any_posted(const liteipc_kernel *k, memory_order mo)
{
    for (int i = 0; i < k->b.nlive; i++) {
        lk_proc_region *r = k->b.live[i]->region;

        if (atomic_load_explicit(&r->pending_slots[0], mo) ||
            atomic_load_explicit(&r->pending_slots[1], mo))
            return true;
    }
    return false;
}

/* ---- deterministic turns (sched.c, docs/TESTING.md) ------------------------------------------ */

#define SCHED_SPIN_NS 20000    /* how long the broker polls for the running threads to call */
#define SCHED_NAP_NS 200000    /* then how long it waits for a socket event before looking again */

static void handle_events(liteipc_kernel *k, uint64_t deadline);

typedef struct sched_cand {
    lk_bconn *c;
    int slot, tid;
} sched_cand;

/* Move every process's posted bits into the broker's pending set, where they stay until run. */
static void sched_gather(liteipc_kernel *k)
{
    for (int i = 0; i < k->b.nlive; i++) {
        lk_bconn *c = k->b.live[i];
        lk_proc_region *r = c->region;

        for (int w = 0; w < 2; w++)
            if (atomic_load_explicit(&r->pending_slots[w], memory_order_relaxed))
                k->sched.pending[c->pid][w] |= atomic_exchange(&r->pending_slots[w], 0);
    }
}

/* Does a task of this host hold an answer it has not taken yet (it runs again soon)? */
static bool sched_answer_untaken(const liteipc_kernel *k)
{
    for (int i = 0; i < k->b.nlive; i++) {
        const lk_bconn *c = k->b.live[i];

        if (!c->in_host)
            continue;
        for (int s = 0; s < (int)k->cfg.task_limit; s++)
            if (c->slot_tid[s] >= 0 &&
                atomic_load_explicit(&chan_of(k, c, s)->state, memory_order_acquire) ==
                    LK_CHAN_DONE)
                return true;
    }
    return false;
}

/*
 * Is every counted thread inside a device call or ended? The running count must be 0 and not
 * have moved while the channels were looked at (a thread that took its answer came back into
 * the count before its channel left DONE: client.c), and no answer may be waiting untaken. Its
 * seq_cst loads pair with lk_sched_running's RMW: each thread's post, made before it left the
 * count, is visible after the first load.
 */
static bool sched_quiet(liteipc_kernel *k)
{
    uint64_t w = atomic_load(&k->sched.word);

    if (w & 0xffffffffu)
        return false;
    if (sched_answer_untaken(k))
        return false;
    return atomic_load(&k->sched.word) == w;
}

static int sched_cand_cmp(const void *a, const void *b)
{
    return ((const sched_cand *)a)->tid - ((const sched_cand *)b)->tid;
}

/* The commands that can run now, in TID order (TIDs are given out in a deterministic order in
   this mode: vproc.c). Bits that name no runnable command are dropped. */
static int sched_candidates(liteipc_kernel *k, sched_cand *out)
{
    int n = 0;

    for (int pid = 0; pid < LK_MAX_PROCS; pid++) {
        lk_bconn *c = k->b.by_pid[pid];

        for (int w = 0; w < 2; w++) {
            uint64_t bits = k->sched.pending[pid][w];

            while (bits) {
                int slot = w * 64 + __builtin_ctzll(bits);
                int tid = c && slot < (int)k->cfg.task_limit ? c->slot_tid[slot] : -1;
                uint32_t st = tid >= 0 ? atomic_load_explicit(&chan_of(k, c, slot)->state,
                                                              memory_order_acquire)
                                       : LK_CHAN_IDLE;

                bits &= bits - 1;
                if (tid < 0 || lk_task_is_parked(k->kern, tid) ||
                    (st != LK_CHAN_POSTED && st != LK_CHAN_WAITING))
                    k->sched.pending[pid][w] &= ~(1ull << (slot & 63));
                else
                    out[n++] = (sched_cand){.c = c, .slot = slot, .tid = tid};
            }
        }
    }
    qsort(out, (size_t)n, sizeof(*out), sched_cand_cmp);
    return n;
}

/* Wait a little for the running threads to call (or to take their answers: a woken task may
   need the CPU this broker would spin on): poll, then serve sockets (a running thread may be
   attaching, opening, mapping or ending) until a post rings or SCHED_NAP_NS passes. */
static void sched_wait(liteipc_kernel *k)
{
    uint64_t until = lk_now_ns() + SCHED_SPIN_NS;

    for (unsigned i = 1;; i++) {
        lk_cpu_relax();
        if (i % 16 == 0 && (sched_quiet(k) || lk_now_ns() > until))
            break;
    }
    if (sched_quiet(k))
        return;
    /* The Dekker pair of broker_sleep: a task that posts from now on rings the doorbell. */
    atomic_store(&k->b.bell->broker_sleeping, 1);
    if (!any_posted(k, memory_order_seq_cst) && !atomic_load(&k->b.stop) &&
        !atomic_load(&k->b.sub_pending))
        handle_events(k, lk_now_ns() + SCHED_NAP_NS);
    atomic_store(&k->b.bell->broker_sleeping, 0);
}

/* A thread stayed outside the device past sched_stall_ms: run a command anyway, and say that
   the run no longer follows from its seed alone. */
static void sched_force(liteipc_kernel *k)
{
    atomic_fetch_add(&k->sched.forced, 1);
    if (k->sched.warned)
        return;
    k->sched.warned = true;
    fprintf(stderr,
            "liteipc: deterministic kernel (seed %llu): a thread stayed outside the device for "
            "%u ms (blocked on a lock or a latch?); the broker ran the next command anyway, so "
            "this run is not reproducible from its seed (docs/TESTING.md)\n",
            (unsigned long long)k->cfg.sched_seed, k->cfg.sched_stall_ms);
}

/* One turn of a deterministic kernel, in place of scan_procs: run at most one command, chosen
   by the seed among those posted, once no counted thread runs. Returns true if it ran one or
   waited for the running threads; false when no command is pending (the broker sleeps). */
static bool sched_turn(liteipc_kernel *k)
{
    sched_cand cands[LK_MAX_TASKS];
    bool quiet = sched_quiet(k);
    sched_cand *pick;
    int n;

    sched_gather(k); /* after the look: the posts of the threads it found in calls */
    n = sched_candidates(k, cands);
    if (n == 0) {
        k->sched.waiting_since = 0;
        return false;
    }
    if (!quiet) {
        uint64_t now = lk_now_ns();

        if (!k->sched.waiting_since)
            k->sched.waiting_since = now;
        if (now - k->sched.waiting_since < (uint64_t)k->cfg.sched_stall_ms * 1000000u) {
            pthread_mutex_unlock(&k->b.kern_lock); /* handle_events takes it */
            sched_wait(k);
            pthread_mutex_lock(&k->b.kern_lock);
            return true;
        }
        sched_force(k);
    }
    k->sched.waiting_since = 0;
    pick = &cands[lk_sched_next(k) % (uint64_t)n];
    k->sched.pending[pick->c->pid][pick->slot / 64] &= ~(1ull << (pick->slot & 63));
    handle_slot(k, pick->c, pick->slot);
    return true;
}

/* ---- connections ---------------------------------------------------------------------------- */

static void unmap_pool(lk_bconn *c)
{
    if (c->pool)
        munmap(c->pool, c->pool_size);
    c->pool = NULL;
    c->pool_size = 0;
    c->pool_pending = false;
}

/* Forget the task mappings of c (its TIDs are gone from the kernel). */
static void forget_tasks(liteipc_kernel *k, lk_bconn *c)
{
    for (int s = 0; s < LK_MAX_TASKS; s++) {
        int tid = c->slot_tid[s];

        if (tid >= 0)
            k->b.by_tid[tid].pid = k->b.by_tid[tid].slot = -1;
        c->slot_tid[s] = -1;
    }
}

/* Count simulated processes and attached programs, for liteipc_kernel_wait_unused. */
static void users_add(liteipc_kernel *k, int delta)
{
    pthread_mutex_lock(&k->b.idle_lock);
    k->b.nusers += delta;
    if (delta > 0)
        k->b.ever_used = true;
    pthread_cond_broadcast(&k->b.idle_cond);
    pthread_mutex_unlock(&k->b.idle_lock);
}

static void monitor_remove(liteipc_kernel *k, const lk_bconn *c)
{
    for (int i = 0; i < k->b.nmonitors; i++) {
        if (k->b.monitors[i] == c) {
            k->b.monitors[i] = k->b.monitors[--k->b.nmonitors];
            break;
        }
    }
    event_sink_update(k);
}

/* Do listening host tasks wait on process pid's host_bell? (client.c, "Listening") */
_Static_assert(sizeof(((lk_bell *)0)->heard) == LK_MAX_PROCS, "one heard flag per PID");

static void heard_set(liteipc_kernel *k, int pid, uint8_t on)
{
    lk_bell *bell = k->b.bell;

    atomic_store(&bell->heard[pid], on);
    atomic_fetch_add(&bell->listen_gen, 1);
    lk_futex_wake(&bell->listen_gen, INT32_MAX, false);
}

/* c is no longer scanned for posted commands. */
static void live_remove(liteipc_kernel *k, const lk_bconn *c)
{
    for (int i = 0; i < k->b.nlive; i++) {
        if (k->b.live[i] == c) {
            k->b.live[i] = k->b.live[--k->b.nlive];
            if (!c->in_host) {
                atomic_fetch_sub_explicit(&k->b.nreal, 1, memory_order_relaxed);
                heard_set(k, c->pid, 0);
            }
            return;
        }
    }
}

/* The process behind c is gone (EOF, EXIT, or the kernel stops): §7.2 for its tasks, §7.3. */
static void conn_close(liteipc_kernel *k, lk_bconn *c, bool run_exit)
{
    if (c->pid >= 0) {
        if (run_exit) {
            lk_proc_exit(k->kern, c->pid, kernel_now(k));
            deliver_completions(k);
        }
        forget_tasks(k, c);
        live_remove(k, c);
        k->b.by_pid[c->pid] = NULL;
        users_add(k, -1);
    }
    if (c->efd >= 0) {
        epoll_ctl(k->b.epfd, EPOLL_CTL_DEL, c->efd, NULL);
        fd_drop(k, c->efd);
        c->efd = -1;
    }
    if (c->presence)
        users_add(k, -1);
    if (c->monitor)
        monitor_remove(k, c);
    unmap_pool(c);
    pend_close_all(k, c);
    if (c->pidfd >= 0) {
        /* Explicitly: a fork child of this host may share the file, keeping it in the set. */
        epoll_ctl(k->b.epfd, EPOLL_CTL_DEL, c->pidfd, NULL);
        fd_drop(k, c->pidfd);
    }
    if (c->region)
        munmap(c->region, c->region_size);
    epoll_ctl(k->b.epfd, EPOLL_CTL_DEL, c->sock, NULL);
    fd_drop(k, c->sock);
    for (lk_bconn **pp = &k->b.conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    /* Events of this batch may still name c (its socket and its pidfd): free it after. */
    c->closed = true;
    c->next = k->b.graveyard;
    k->b.graveyard = c;
}

static void free_graveyard(liteipc_kernel *k)
{
    while (k->b.graveyard) {
        lk_bconn *c = k->b.graveyard;

        k->b.graveyard = c->next;
        free(c);
    }
}

/* ---- identity: who connected, read once ------------------------------------------------------ */

/*
 * The real uid and gid of host process pid (the device reports real ids; SO_PEERCRED gives
 * effective ones). Falls back to the effective ids if /proc cannot tell.
 */
static void real_ids(pid_t pid, uint32_t *uid, uint32_t *gid)
{
    char path[64], line[256];
    unsigned r;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "Uid: %u", &r) == 1)
            *uid = r;
        else if (sscanf(line, "Gid: %u", &r) == 1)
            *gid = r;
    }
    fclose(f);
}

/* The program name (comm) of host process pid ("self" for this one), or "?" */
static void prog_name(const char *pid, char name[16])
{
    char path[64];
    size_t n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%s/comm", pid);
    f = fopen(path, "re");
    if (f) {
        n = fread(name, 1, 15, f);
        fclose(f);
    }
    while (n > 0 && name[n - 1] == '\n')
        n--;
    if (n == 0)
        name[n++] = '?';
    name[n] = '\0';
}

/* When host process pid started, in clock ticks since boot (/proc/pid/stat field 22), or 0. */
static uint64_t start_ticks(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long t = 0;
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
                            "%*d %*d %*d %llu", &t) != 1)
        return 0;
    return t;
}

/*
 * Without SO_PEERPIDFD (Linux before 6.5): a pidfd opened by the PID SO_PEERCRED gives, kept only
 * if the process it names started before the connection was accepted. A PID reused after the
 * accept is refused; one reused between connect and accept (at a tick's resolution) is not
 * caught: the reason to prefer SO_PEERPIDFD.
 */
static int pidfd_by_pid(liteipc_kernel *k, lk_bconn *c, pid_t pid, uint64_t accepted_ns)
{
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t started;

    fds_begin();
    c->pidfd = fds_end(k, (int)syscall(SYS_pidfd_open, pid, 0));
    if (c->pidfd < 0)
        return -errno;
    started = start_ticks(pid);
    if (started == 0 || hz <= 0 || started > accepted_ns / (1000000000u / (uint64_t)hz))
        return -ESRCH;
    return 0;
}

/*
 * Identify the process that connected c, once: a pidfd for it, its real ids and program name.
 * What /proc says under its PID is about that process only if the pidfd shows it still alive
 * after the reads. The connection never looks the PID up again without the pidfd's word.
 */
static int conn_identify(liteipc_kernel *k, lk_bconn *c)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    struct timespec now;
    char pid[16];
    int got;

    clock_gettime(CLOCK_BOOTTIME, &now);
    if (getsockopt(c->sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -errno;
    if (cred.pid <= 0)
        return -ESRCH; /* gone already */
    c->peer_pid = cred.pid;
    c->euid = cred.uid;
    c->uid = cred.uid;
    c->gid = cred.gid;
    if (cred.pid == getpid()) {
        c->in_host = true;
        c->uid = getuid();
        c->gid = getgid();
        prog_name("self", c->prog);
        return 0;
    }
    len = sizeof(c->pidfd);
    fds_begin();
    got = getsockopt(c->sock, SOL_SOCKET, SO_PEERPIDFD, &c->pidfd, &len);
    fds_end(k, got == 0 ? c->pidfd : -1);
    if (got < 0) {
        int err = errno == ENOPROTOOPT
                      ? pidfd_by_pid(k, c, cred.pid,
                                     (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec)
                      : -errno;

        if (err < 0)
            return err;
    }
    real_ids(cred.pid, &c->uid, &c->gid);
    snprintf(pid, sizeof(pid), "%d", (int)cred.pid);
    prog_name(pid, c->prog);
    return peer_alive(c) ? 0 : -ESRCH;
}

/* Has the user behind c as many connections as it may have? (the host's own do not count) */
static bool user_at_cap(const liteipc_kernel *k, const lk_bconn *c)
{
    unsigned n = 0;

    if (c->in_host)
        return false;
    for (const lk_bconn *o = k->b.conns; o; o = o->next)
        n += !o->in_host && o->uid == c->uid;
    return n >= k->cfg.conn_user_max;
}

/* ---- connections: accept, with a back-off when descriptors run out ---------------------------- */

static int epoll_add(int epfd, int fd, uint64_t tag);

/* accept failed for want of descriptors: the listener stays readable, so retrying at once would
   spin. Take it out of epoll and let the timer put it back. */
static void listen_pause(liteipc_kernel *k)
{
    struct itimerspec it = {.it_value = {.tv_nsec = ACCEPT_RETRY_NS}};

    if (k->b.listen_paused)
        return;
    epoll_ctl(k->b.epfd, EPOLL_CTL_DEL, k->b.lfd, NULL);
    timerfd_settime(k->b.tfd, 0, &it, NULL);
    k->b.listen_paused = true;
}

static void listen_resume(liteipc_kernel *k)
{
    uint64_t n;

    if (read(k->b.tfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return;
    if (k->b.listen_paused && epoll_add(k->b.epfd, k->b.lfd, EV_LISTEN) == 0)
        k->b.listen_paused = false;
}

/*
 * Turn a connection away: its first request reads err (the connect itself succeeded). A socket
 * closed with unread data would make the peer's next read fail with ECONNRESET instead of
 * reading err: so no more may come in (the peer's sends fail with EPIPE) and what came is read.
 */
static void conn_refuse(liteipc_kernel *k, lk_bconn *c, int err)
{
    lk_wire_resp rs = {.result = err};
    char buf[sizeof(lk_wire_req)];

    lk_seq_send(c->sock, &rs, sizeof(rs), NULL, 0);
    shutdown(c->sock, SHUT_RD);
    while (recv(c->sock, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
    fd_drop(k, c->pidfd);
    fd_drop(k, c->sock);
    free(c);
}

static int conn_watch(liteipc_kernel *k, lk_bconn *c)
{
    int err = epoll_add(k->b.epfd, c->sock, (uint64_t)(uintptr_t)c);

    /* The connected process's exit ends the connection, whoever holds the socket then. */
    if (err == 0 && !c->in_host)
        err = epoll_add(k->b.epfd, c->pidfd, (uint64_t)(uintptr_t)c | EV_PIDFD_TAG);
    if (err < 0)
        epoll_ctl(k->b.epfd, EPOLL_CTL_DEL, c->sock, NULL);
    return err;
}

/*
 * A connection turned away: counted as a refusal of the device's open, and an event naming the
 * host process (it has no simulated PID), which liteipcd logs. The kernel's own event would not
 * know that process, so the kernel only counts and the event is made here.
 */
static void note_conn_refused(liteipc_kernel *k, const lk_bconn *c, int err)
{
    liteipc_event e = {
        .type = LITEIPC_EV_REFUSED, .err = err, .time_ns = kernel_now(k),
        .src_tid = -1, .src_pid = -1, .dst_tid = -1, .dst_pid = -1,
        .src_host_pid = c->peer_pid, .cmd = LITEIPC_CMD_OPEN,
        .cms_cmd = -1, .handle = -1, .grantee_pid = -1, .fault = -1, .fault_id = -1,
    };

    memcpy(e.src_prog, c->prog, sizeof(e.src_prog));
    lk_kernel_set_event_sink(k->kern, NULL, NULL);
    lk_note_refused(k->kern, -1, -1, LITEIPC_CMD_OPEN, err, e.time_ns);
    event_sink_update(k);
    for (int i = 0; i < k->b.nactive; i++)
        k->b.active[i].fn(&e, k->b.active[i].ctx);
    for (int i = 0; i < k->b.nmonitors; i++)
        monitor_send(k->b.monitors[i], &e);
}

static void accept_conn(liteipc_kernel *k)
{
    lk_bconn *c;
    int s, err;

    fds_begin();
    s = fds_end(k, accept4(k->b.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (s < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            listen_pause(k);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        fd_drop(k, s);
        return;
    }
    c->sock = s;
    c->pid = -1;
    c->pidfd = -1;
    c->efd = -1;
    c->serial = ++k->b.next_serial;
    for (int i = 0; i < LK_MAX_TASKS; i++)
        c->slot_tid[i] = -1;
    err = conn_identify(k, c);
    if (err == 0 && user_at_cap(k, c)) {
        err = -EUSERS;
        note_conn_refused(k, c, EUSERS);
    }
    if (err == 0)
        err = conn_watch(k, c);
    if (err < 0) {
        if (err == -EMFILE || err == -ENFILE)
            listen_pause(k);
        conn_refuse(k, c, err == -EMFILE || err == -ENFILE ? -ENOMEM : err);
        return;
    }
    c->next = k->b.conns;
    k->b.conns = c;
}

/*
 * The process's doorbell and channels: an eventfd of its own, which it writes when it posts
 * while the broker sleeps (its own, so that a process that reads the broker's wake-ups away, or
 * floods them, delays no one but itself), and its region, sealed to its size. Returns the
 * region's memory file, or -errno with neither.
 */
static int proc_channels(liteipc_kernel *k, lk_bconn *c, int pid)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_PROC_BELL + (uint64_t)pid};
    int rfd, err = -ENOMEM;

    fds_begin();
    c->efd = fds_end(k, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (c->efd < 0)
        return -ENOMEM;
    if (epoll_ctl(k->b.epfd, EPOLL_CTL_ADD, c->efd, &ev) < 0)
        goto fail_efd;
    c->region_size = LK_REGION_HEADER + (size_t)k->cfg.task_limit * k->b.chan_size;
    fds_begin();
    rfd = err = fds_end(k, lk_memfd_create("liteipc-channels", c->region_size));
    if (rfd < 0)
        goto fail_epoll;
    err = lk_memfd_seal_size(rfd);
    if (err < 0)
        goto fail_rfd;
    c->region = lk_map_shared(rfd, c->region_size, PROT_READ | PROT_WRITE);
    if (c->region)
        return rfd;
    err = -ENOMEM;
fail_rfd:
    fd_drop(k, rfd);
fail_epoll:
    epoll_ctl(k->b.epfd, EPOLL_CTL_DEL, c->efd, NULL);
fail_efd:
    fd_drop(k, c->efd);
    c->efd = -1;
    return err;
}

/* Abstract names have no permissions: a kernel is its user's (or, served by root, everyone's,
   like the device node). */
static bool peer_may_use(const lk_bconn *c)
{
    return c->euid == getuid() || getuid() == 0;
}

static int op_hello(liteipc_kernel *k, lk_bconn *c, const lk_wire_req *rq, lk_wire_resp *rs,
                    int *fds, int *nfds)
{
    int pid, rfd;

    if (c->pid >= 0)
        return -EINVAL;
    if (!peer_may_use(c))
        return -EACCES;
    pid = rq->a >= 0 ? lk_proc_fork(k->kern, rq->a, c->uid, c->gid) : -ESRCH;
    if (pid == -ESRCH) {
        pid = lk_proc_create(k->kern, c->uid, c->gid);
        /* A fork child whose parent has gone since: it inherited the parent's IPC state. */
        if (pid >= 0 && rq->a >= 0)
            lk_proc_open(k->kern, pid);
    }
    if (pid < 0)
        return pid;
    if (lk_proc_set_abi(k->kern, pid, rq->b > INT32_MAX ? -1 : (int)rq->b) < 0) {
        lk_proc_exit(k->kern, pid, kernel_now(k));
        return -EINVAL; /* not a profile this library knows */
    }
    rfd = proc_channels(k, c, pid); /* out of memory or of descriptors: the device's ENOMEM */
    if (rfd < 0) {
        lk_proc_exit(k->kern, pid, kernel_now(k));
        return rfd;
    }
    c->pid = pid;
    k->b.by_pid[pid] = c;
    k->b.live[k->b.nlive++] = c;
    if (!c->in_host) {
        atomic_fetch_add(&k->b.nreal, 1); /* seq_cst: before any hand-off to it (lk_wake) */
        heard_set(k, pid, 1);
    }
    users_add(k, 1);
    fds[0] = k->b.bell_fd;
    fds[1] = c->efd;
    fds[2] = rfd;
    *nfds = 3;
    rs->b = c->region_size;
    rs->c = k->b.chan_size;
    return pid;
}

/* A name sent by a process (which may be hostile): at most 15 bytes, printable, NUL-ended. */
static void name_take(char dst[LK_NAME_MAX], const lk_wire_req *rq)
{
    memcpy(dst, &rq->c, sizeof(rq->c));
    memcpy(dst + sizeof(rq->c), &rq->d, sizeof(rq->d));
    dst[LK_NAME_MAX - 1] = '\0';
    for (char *s = dst; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            *s = '?';
}

/* LK_OP_SET_NAME: a process names itself or one of its own tasks. */
static int op_set_name(liteipc_kernel *k, lk_bconn *c, const lk_wire_req *rq)
{
    if (rq->a == -1) {
        name_take(c->prog, rq);
        return 0;
    }
    if (rq->a < 0 || rq->a >= LK_MAX_TASKS || k->b.by_tid[rq->a].pid != c->pid)
        return -ESRCH;
    name_take(k->b.task_name[rq->a], rq);
    return 0;
}

static int op_task_attach(liteipc_kernel *k, lk_bconn *c, const lk_wire_req *rq,
                          lk_wire_resp *rs)
{
    int slot, tid;

    for (slot = 0; slot < (int)k->cfg.task_limit && c->slot_tid[slot] != -1; slot++)
        ;
    if (slot == (int)k->cfg.task_limit)
        return -EAGAIN;
    tid = lk_task_create(k->kern, c->pid);
    if (tid < 0)
        return tid;
    c->slot_tid[slot] = (int16_t)tid;
    k->b.by_tid[tid].pid = (int16_t)c->pid;
    k->b.by_tid[tid].slot = (int16_t)slot;
    /* a real task may not find the mark of a host task that had the TID before (lk_wake) */
    atomic_store(&k->b.bell->wake[tid].private, 0);
    name_take(k->b.task_name[tid], rq);
    atomic_store(&chan_of(k, c, slot)->state, LK_CHAN_IDLE);
    rs->a = slot;
    return tid;
}

static int op_task_detach(liteipc_kernel *k, lk_bconn *c, int tid, uint64_t b)
{
    int slot;

    if (tid < 0 || tid >= LK_MAX_TASKS)
        return -ESRCH;
    if (b > 0 && b <= LK_MAX_TASKS && c->slot_tid[b - 1] == FAULT_SLOT_KILLED(tid)) {
        c->slot_tid[b - 1] = -1; /* the thread of a task killed by a fault ends */
        return 0;
    }
    if (k->b.by_tid[tid].pid != c->pid || (b > 0 && k->b.by_tid[tid].slot != (int)b - 1))
        return -ESRCH; /* a process can only end its own tasks */
    slot = k->b.by_tid[tid].slot;
    lk_task_exit(k->kern, tid, kernel_now(k));
    deliver_completions(k);
    c->slot_tid[slot] = -1;
    k->b.by_tid[tid].pid = k->b.by_tid[tid].slot = -1;
    return 0;
}

/* tid if it is a task of c's process, else -1: what a process says of itself is checked. */
static int own_tid(const liteipc_kernel *k, const lk_bconn *c, int tid)
{
    return tid >= 0 && tid < LK_MAX_TASKS && k->b.by_tid[tid].pid == c->pid ? tid : -1;
}

/* LK_OP_REFUSED: a refusal c's process decided itself (no answer is sent). */
static void op_refused(liteipc_kernel *k, lk_bconn *c, const lk_wire_req *rq)
{
    if (c->pid < 0) {
        conn_close(k, c, true);
        return;
    }
    lk_note_refused(k->kern, c->pid, own_tid(k, c, rq->a), (uint32_t)rq->b,
                    rq->c < INT_MAX ? (int)rq->c : 0, kernel_now(k));
}

static int op_mmap_prepare(liteipc_kernel *k, lk_bconn *c, const lk_wire_req *rq, int *fds,
                           int *nfds)
{
    size_t len = (size_t)rq->b;
    int err, fd;

    if (c->pool_pending)
        return -EEXIST;
    err = lk_mmap_check(k->kern, c->pid, len, (int)rq->c, (int)rq->d);
    if (err < 0) { /* the driver's refusal (the caller sees ENOMEM): counted, an event */
        lk_note_refused(k->kern, c->pid, own_tid(k, c, rq->a), LITEIPC_CMD_MMAP, -err,
                        kernel_now(k));
        return err;
    }
    fds_begin();
    fd = fds_end(k, lk_memfd_create("liteipc-pool", len));
    if (fd < 0)
        return -ENOMEM;
    c->pool = lk_map_shared(fd, len, PROT_READ | PROT_WRITE);
    if (!c->pool || lk_memfd_seal_writes(fd) < 0) {
        if (c->pool)
            munmap(c->pool, len);
        c->pool = NULL;
        fd_drop(k, fd);
        return -ENOMEM;
    }
    c->pool_size = len;
    c->pool_pending = true;
    fds[0] = fd;
    *nfds = 1;
    return 0;
}

static int op_mmap_commit(liteipc_kernel *k, lk_bconn *c, uintptr_t uvaddr)
{
    int err;

    if (!c->pool_pending)
        return -EINVAL;
    err = lk_pool_attach(k->kern, c->pid, c->pool, uvaddr, c->pool_size);
    if (err < 0) {
        unmap_pool(c);
        return err;
    }
    c->pool_pending = false;
    return 0;
}

/*
 * Task tid execs (§7.7). The simulator cannot kill the host threads of its siblings, so it must
 * be the process's only task: on the device exec would kill the others. Then the pool goes.
 * The drains have already given back every OBJ_FD file on its way into it; should one remain,
 * it is closed here, so that no FD_PUT can ever write into the unmapped pool.
 */
static int op_exec(liteipc_kernel *k, lk_bconn *c, int tid, uint64_t abi)
{
    int err;

    if (tid < 0 || tid >= LK_MAX_TASKS || k->b.by_tid[tid].pid != c->pid)
        return -ESRCH;
    if (abi >= LK_ABI_COUNT)
        return -EINVAL;
    for (int s = 0; s < (int)k->cfg.task_limit; s++)
        if (c->slot_tid[s] >= 0 && c->slot_tid[s] != tid)
            return -EBUSY;
    err = lk_proc_exec(k->kern, tid, kernel_now(k));
    if (err < 0)
        return err;
    deliver_completions(k);
    unmap_pool(c);
    pend_close_all(k, c);
    return lk_proc_set_abi(k->kern, c->pid, (int)abi); /* the new program's profile */
}

/* Hand the receiver the next file delivered to its task tid (it stays ours until FD_PUT). */
static int op_fd_fetch(lk_bconn *c, int tid, int *fds, int *nfds)
{
    for (int i = 0; i < c->npend; i++) {
        if (c->pend[i].tid == tid) {
            fds[0] = c->pend[i].bfd;
            *nfds = 1;
            return 0;
        }
    }
    return -ENOENT;
}

/* The receiver got the file as descriptor number fd: write it into the object, forget it. */
static int op_fd_put(liteipc_kernel *k, lk_bconn *c, int tid, int fd)
{
    for (int i = 0; i < c->npend; i++) {
        if (c->pend[i].tid == tid) {
            uint32_t v = (uint32_t)fd;

            memcpy((char *)c->pool + c->pend[i].obj_pos, &v, sizeof(v));
            pend_release(k, c, i);
            return 0;
        }
    }
    return -ENOENT;
}

static int dispatch_op(liteipc_kernel *k, lk_bconn *c, const lk_wire_req *rq, lk_wire_resp *rs,
                       int *fds, int *nfds)
{
    if (rq->op == LK_OP_HELLO)
        return op_hello(k, c, rq, rs, fds, nfds);
    if (c->pid < 0)
        return -EINVAL;
    switch (rq->op) {
    case LK_OP_OPEN:
        return lk_proc_open(k->kern, c->pid);
    case LK_OP_TASK_ATTACH:
        return op_task_attach(k, c, rq, rs);
    case LK_OP_TASK_DETACH:
        return op_task_detach(k, c, rq->a, rq->b);
    case LK_OP_MMAP_PREPARE:
        return op_mmap_prepare(k, c, rq, fds, nfds);
    case LK_OP_MMAP_COMMIT:
        return op_mmap_commit(k, c, (uintptr_t)rq->b);
    case LK_OP_MMAP_ABORT:
        unmap_pool(c);
        return 0;
    case LK_OP_FD_FETCH:
        return op_fd_fetch(c, rq->a, fds, nfds);
    case LK_OP_FD_PUT:
        return op_fd_put(k, c, rq->a, (int)rq->b);
    case LK_OP_EXEC:
        return op_exec(k, c, rq->a, rq->b);
    case LK_OP_SET_NAME:
        return op_set_name(k, c, rq);
    default:
        return -EINVAL;
    }
}

/* The kernel's tables as text, in a new memory file of the broker's. Returns it or -errno. */
static int status_text(liteipc_kernel *k, size_t *len)
{
    lk_dump_host hosts[LK_MAX_PROCS];
    char *text = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&text, &n);
    int fd;

    if (!mem)
        return -ENOMEM;
    for (int p = 0; p < LK_MAX_PROCS; p++)
        host_of(k, p, &hosts[p].pid, hosts[p].prog);
    lk_dump_names(k->kern, mem, hosts, (const char(*)[LK_DUMP_NAME])k->b.task_name);
    if (fclose(mem) == EOF) {
        free(text);
        return -ENOMEM;
    }
    fds_begin();
    fd = fds_end(k, lk_memfd_create("liteipc-status", n));
    if (fd >= 0 && pwrite(fd, text, n, 0) != (ssize_t)n) {
        fd_drop(k, fd);
        fd = -EIO;
    }
    free(text);
    *len = n;
    return fd;
}

/*
 * LK_OP_STATUS: a look at the kernel from outside (liteipcctl). The connection is no process and
 * no user (it keeps no daemon alive); it counts towards its user's connections while it lasts.
 */
static void op_status(liteipc_kernel *k, lk_bconn *c)
{
    lk_wire_resp rs = {0};
    lk_proc_view pv;
    lk_task_view tv;
    size_t len = 0;
    int fd;

    if (c->pid >= 0 || c->presence) {
        conn_close(k, c, true);
        return;
    }
    if (!peer_may_use(c)) {
        rs.result = -EACCES; /* another user's tables are not theirs to read */
        if (lk_seq_send(c->sock, &rs, sizeof(rs), NULL, 0) != (ssize_t)sizeof(rs))
            conn_close(k, c, true);
        return;
    }
    /* a: processes, and tasks << 16 (at most 64 and 128); b: the kernel's uptime (ns). */
    for (int pid = 0; pid < LK_MAX_PROCS; pid++)
        rs.a += lk_proc_view_get(k->kern, pid, &pv) == 0 && pv.in_use;
    for (int tid = 0; tid < LK_MAX_TASKS; tid++)
        rs.a += (lk_task_view_get(k->kern, tid, &tv) == 0 && tv.in_use) << 16;
    rs.b = lk_now_ns() - k->b.started_ns;
    fd = status_text(k, &len);
    rs.result = fd < 0 ? fd : 0;
    rs.c = len;
    if (lk_seq_send(c->sock, &rs, sizeof(rs), &fd, fd >= 0) != (ssize_t)sizeof(rs))
        conn_close(k, c, true);
    fd_drop(k, fd);
}

/*
 * LK_OP_MONITOR: from now on the connection receives the kernel's events. Like LK_OP_STATUS, it
 * is no process and no user. Answers 0, or -EBUSY with LK_MAX_MONITORS monitors already.
 */
static void op_monitor(liteipc_kernel *k, lk_bconn *c, const lk_wire_req *rq)
{
    lk_wire_resp rs = {0};

    if (c->pid >= 0 || c->presence || c->monitor) {
        conn_close(k, c, true);
        return;
    }
    if (!peer_may_use(c))
        rs.result = -EACCES;
    else if (k->b.nmonitors == LK_MAX_MONITORS)
        rs.result = -EBUSY;
    if (lk_seq_send(c->sock, &rs, sizeof(rs), NULL, 0) != (ssize_t)sizeof(rs)) {
        conn_close(k, c, true);
        return;
    }
    if (rs.result < 0)
        return;
    c->monitor = true;
    c->previews = (rq->a & LK_MONITOR_PREVIEW) != 0;
    k->b.monitors[k->b.nmonitors++] = c;
    event_sink_update(k);
}

/*
 * LK_OP_STATS: the counters (liteipcctl stats), as a second message after the answer. Like
 * LK_OP_STATUS, the connection is no process and no user, and another user gets EACCES.
 */
static void op_stats(liteipc_kernel *k, lk_bconn *c)
{
    lk_wire_resp rs = {0};
    liteipc_stats *st;

    if (c->pid >= 0 || c->presence) {
        conn_close(k, c, true);
        return;
    }
    st = peer_may_use(c) ? malloc(sizeof(*st)) : NULL;
    rs.result = !peer_may_use(c) ? -EACCES : st ? 0 : -ENOMEM;
    if (st)
        stats_fill(k, st);
    if (lk_seq_send(c->sock, &rs, sizeof(rs), NULL, 0) != (ssize_t)sizeof(rs) ||
        (st && lk_seq_send(c->sock, st, sizeof(*st), NULL, 0) != (ssize_t)sizeof(*st)))
        conn_close(k, c, true);
    free(st);
}

static void handle_conn(liteipc_kernel *k, lk_bconn *c)
{
    lk_wire_req rq;
    lk_wire_resp rs;
    int fds[4], nfds = 0, own_fd = -1;
    /* Processes send us no descriptors: without room for any, the kernel discards those sent,
       and the broker never holds a file a fork child could inherit unmarked. */
    ssize_t n = lk_seq_recv(c->sock, &rq, sizeof(rq), NULL, 0);
    if (n == -EAGAIN)
        return;
    if (n != (ssize_t)sizeof(rq) || !peer_alive(c)) {
        /* EOF or garbage: the process is gone. Or the process that connected has exited and
           whoever holds its socket now speaks for nobody. */
        conn_close(k, c, true);
        return;
    }
    if (rq.op == LK_OP_CONFIG) {
        lk_wire_config wc = {.magic = LK_WIRE_MAGIC, .size = sizeof(wc), .cfg = k->cfg};

        if (c->pid >= 0 || c->presence) {
            conn_close(k, c, true);
            return;
        }
        /* The connection stays open as the attached program's presence: the kernel counts
           it as a user until the program detaches or dies (liteipc_kernel_wait_unused). */
        c->presence = true;
        users_add(k, 1);
        if (lk_seq_send(c->sock, &wc, sizeof(wc), NULL, 0) != (ssize_t)sizeof(wc))
            conn_close(k, c, true);
        return;
    }
    if (rq.op == LK_OP_STATUS) {
        op_status(k, c);
        return;
    }
    if (rq.op == LK_OP_MONITOR) {
        op_monitor(k, c, &rq);
        return;
    }
    if (rq.op == LK_OP_STATS) {
        op_stats(k, c);
        return;
    }
    if (rq.op == LK_OP_REFUSED) {
        op_refused(k, c, &rq);
        return;
    }
    memset(&rs, 0, sizeof(rs));
    if (rq.op == LK_OP_EXIT) {
        lk_proc_exit(k->kern, c->pid, kernel_now(k));
        deliver_completions(k);
        lk_seq_send(c->sock, &rs, sizeof(rs), NULL, 0);
        conn_close(k, c, false);
        return;
    }
    /* The socket does not block: a process that stops reading its answers is dropped rather
       than allowed to stall the broker. */
    rs.result = dispatch_op(k, c, &rq, &rs, fds, &nfds);
    if (rq.op == LK_OP_MMAP_PREPARE || rq.op == LK_OP_HELLO)
        own_fd = nfds > 0 ? fds[nfds - 1] : -1; /* the new memory file: ours to close once sent */
    if (rq.op == LK_OP_FD_FETCH)
        own_fd = -1; /* still ours until FD_PUT */
    n = lk_seq_send(c->sock, &rs, sizeof(rs), fds, nfds);
    fd_drop(k, own_fd);
    if (n != (ssize_t)sizeof(rs))
        conn_close(k, c, true);
}

/* ---- the loop ------------------------------------------------------------------------------- */

/*
 * epoll_pwait2 (nanosecond timeout) where the system has it; epoll_wait with the timeout
 * rounded up to a millisecond where it does not (older kernels, valgrind).
 */
static int broker_epoll(liteipc_kernel *k, struct epoll_event *evs, int max,
                        const struct timespec *tp)
{
    int n;

    if (!k->b.no_pwait2) {
        n = epoll_pwait2(k->b.epfd, evs, max, tp, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        k->b.no_pwait2 = true;
    }
    return epoll_wait(k->b.epfd, evs, max,
                      tp ? (int)(tp->tv_sec * 1000 + (tp->tv_nsec + 999999) / 1000000) : -1);
}

static void handle_events(liteipc_kernel *k, uint64_t deadline)
{
    struct epoll_event evs[16];
    struct timespec ts, *tp = NULL;
    int n;

    if (deadline != UINT64_MAX) {
        uint64_t now = lk_now_ns(), d = deadline > now ? deadline - now : 0;

        ts.tv_sec = (time_t)(d / 1000000000u);
        ts.tv_nsec = (long)(d % 1000000000u);
        tp = &ts;
    }
    n = broker_epoll(k, evs, 16, tp);
    pthread_mutex_lock(&k->b.kern_lock);
    k->b.wake_by = 0;
    for (int i = 0; i < n; i++) {
        uint64_t tag = evs[i].data.u64, v;
        lk_bconn *c = (lk_bconn *)(uintptr_t)(tag & ~(uint64_t)EV_PIDFD_TAG);

        if (tag == EV_DOORBELL) {
            if (read(k->b.efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                continue;
        } else if (tag == EV_LISTEN) {
            accept_conn(k);
        } else if (tag == EV_RELISTEN) {
            listen_resume(k);
        } else if (tag >= EV_PROC_BELL && tag < EV_PROC_BELL + LK_MAX_PROCS) {
            /* By PID, not by pointer: its connection may have closed earlier in this batch. */
            lk_bconn *p = k->b.by_pid[tag - EV_PROC_BELL];

            if (p && p->efd >= 0 && read(p->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                continue;
        } else if (c->closed) {
            continue;
        } else if (tag & EV_PIDFD_TAG) {
            conn_close(k, c, true); /* the process that connected has exited */
        } else {
            handle_conn(k, c);
        }
    }
    free_graveyard(k);
    pthread_mutex_unlock(&k->b.kern_lock);
}

static bool run_deadlines(liteipc_kernel *k)
{
    uint64_t now;

    if (lk_kernel_next_deadline(k->kern) == UINT64_MAX)
        return false;
    now = kernel_now(k);
    if (lk_kernel_next_deadline(k->kern) > now)
        return false;
    lk_kernel_tick(k->kern, now);
    deliver_completions(k);
    return true;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* ---- virtual time: liteipc_time_* requests (vtime.c), served between two commands ---------- */

/* Move the virtual clock to `to`, firing every deadline on the way in order, each with the
   clock at that deadline, so that its events carry its own time. */
static void vt_move(liteipc_kernel *k, uint64_t to)
{
    uint64_t d;

    while ((d = lk_kernel_next_deadline(k->kern)) <= to) {
        if (d > atomic_load_explicit(&k->b.vt.now, memory_order_relaxed))
            atomic_store_explicit(&k->b.vt.now, d, memory_order_relaxed);
        lk_kernel_tick(k->kern, kernel_now(k)); /* ends every wait due then: d moves on */
        deliver_completions(k);
    }
    atomic_store_explicit(&k->b.vt.now, to, memory_order_relaxed);
}

static int64_t vt_advance(liteipc_kernel *k, uint64_t ns)
{
    uint64_t now = kernel_now(k);

    if (ns > (uint64_t)INT64_MAX - now)
        return -EOVERFLOW;
    vt_move(k, now + ns);
    return 0;
}

static int64_t vt_advance_to_next(liteipc_kernel *k)
{
    uint64_t now = kernel_now(k), d = lk_kernel_next_deadline(k->kern);

    if (d == UINT64_MAX)
        return -ENOENT;
    if (d < now)
        d = now; /* cannot be (deadlines fire as the clock reaches them); never go back */
    vt_move(k, d);
    return (int64_t)(d - now);
}

/*
 * Is the kernel idle (liteipc_time_run_until_idle)? Nothing posted, and every counted thread of
 * each virtual process is a task parked in a receive. A thread that is not yet a task, or is
 * being served, or has been answered and not yet posted again, is not parked: it may still act.
 * Only the broker parks and unparks tasks, so an idle kernel stays idle until a thread that is
 * not counted acts or the clock moves.
 */
static bool vt_idle(const liteipc_kernel *k)
{
    int parked[LK_MAX_PROCS] = {0};

    if (any_posted(k, memory_order_seq_cst))
        return false;
    for (int tid = 0; tid < LK_MAX_TASKS; tid++) {
        int pid = k->b.by_tid[tid].pid;

        if (pid >= 0 && lk_task_is_parked(k->kern, tid))
            parked[pid]++;
    }
    for (int p = 0; p < LK_MAX_PROCS; p++)
        if (atomic_load(&k->b.vt.threads[p]) > parked[p])
            return false;
    return true;
}

/* Take a posted request, run it, answer it; answer a run_until_idle once the kernel is idle. */
static void vt_serve(liteipc_kernel *k)
{
    lk_vtime *vt = &k->b.vt;
    uint64_t arg, seq;
    int op;

    if (atomic_load(&vt->pending) && lk_vtime_take(vt, &op, &arg, &seq)) {
        vt->idle_seq = 0; /* a new request: the caller of an earlier one has gone */
        if (op == LK_VT_IDLE && arg && !vt_idle(k))
            lk_vtime_answer(vt, seq, -ETIMEDOUT); /* timeout 0: one look */
        else if (op == LK_VT_IDLE)
            vt->idle_seq = seq;
        else
            lk_vtime_answer(vt, seq,
                            op == LK_VT_ADVANCE ? vt_advance(k, arg) : vt_advance_to_next(k));
    }
    if (vt->idle_seq && vt_idle(k)) {
        lk_vtime_answer(vt, vt->idle_seq, 0);
        vt->idle_seq = 0;
    }
}

void lk_broker_kick(liteipc_kernel *k)
{
    uint64_t one = 1;

    if (write(k->b.efd, &one, sizeof(one)) < 0) {
        /* the counter cannot overflow here; nothing else can fail */
    }
}

/* Sleep until a command, a socket event, the next deadline or handed wake-up due. */
static void broker_sleep(liteipc_kernel *k)
{
    lk_bell *bell = k->b.bell;

    uint64_t until = lk_now_ns() + BROKER_SPIN_NS;

    for (unsigned i = 1;; i++) {
        if (any_posted(k, memory_order_relaxed))
            return;
        lk_cpu_relax();
        if (i % 16 == 0) {
            uint64_t now = lk_now_ns();

            atomic_fetch_add_explicit(&bell->beat, 1, memory_order_relaxed);
            /* A caller running the kernel holds the lock: it settles nothing meanwhile. */
            if (pthread_mutex_trylock(&k->b.kern_lock) == 0) {
                hand_check(k, now);
                pthread_mutex_unlock(&k->b.kern_lock);
            }
            if (now > until)
                break;
        }
    }
    /* Dekker pair with the task's post (client.c): announce sleep, then re-check. */
    atomic_store(&bell->broker_sleeping, 1);
    if (!any_posted(k, memory_order_seq_cst) && !atomic_load(&k->b.stop) &&
        !atomic_load(&k->b.sub_pending)) {
        uint64_t until_ns;

        /* A caller that sets an earlier deadline meanwhile rings (lk_broker_serve). */
        pthread_mutex_lock(&k->b.kern_lock);
        until_ns = min_u64(kernel_wake_at(k), hand_next_due(k));
        k->b.wake_by = until_ns ? until_ns : 1;
        pthread_mutex_unlock(&k->b.kern_lock);
        handle_events(k, until_ns);
    }
    atomic_store(&bell->broker_sleeping, 0);
}

/* The kernel stops: release every caller still waiting, then free everything. */
/*
 * The kernel stops: the simulated processes of this host die as on the device, so that §7.2's
 * rollback closes the OBJ_FD descriptors installed for messages never received (in this host
 * they are real descriptors of the host, which would otherwise leak; a real process's are the
 * broker's, closed with its connection). Their waiters were completed with ESHUTDOWN already:
 * the kernel's completions are dropped.
 */
static void end_host_procs(liteipc_kernel *k)
{
    lk_completion done;

    for (int p = 0; p < LK_MAX_PROCS; p++)
        if (k->b.by_pid[p] && k->b.by_pid[p]->in_host)
            lk_proc_exit(k->kern, p, kernel_now(k));
    while (lk_kernel_take_completion(k->kern, &done))
        continue;
}

static void broker_shutdown(liteipc_kernel *k)
{
    lk_broker *b = &k->b;

    atomic_store(&b->bell->dead, 1);
    lk_vtime_shutdown(&b->vt);
    for (int p = 0; p < LK_MAX_PROCS; p++) {
        lk_bconn *c = b->by_pid[p];

        if (!c)
            continue;
        for (int s = 0; s < (int)k->cfg.task_limit; s++) {
            lk_chan *ch = chan_of(k, c, s);
            uint32_t st = atomic_load(&ch->state);

            if (c->slot_tid[s] >= 0 &&
                (st == LK_CHAN_POSTED || st == LK_CHAN_WAITING || st == LK_CHAN_PARKED))
                chan_complete(k, ch, c->slot_tid[s], -ESHUTDOWN, NULL, 0);
        }
    }
    end_host_procs(k);
    while (b->conns)
        conn_close(k, b->conns, false);
    free_graveyard(k);
}

static void *broker_main(void *arg)
{
    liteipc_kernel *k = arg;
    unsigned busy = 0;

    for (;;) {
        bool worked;

        if (atomic_load(&k->b.stop))
            break;
        pthread_mutex_lock(&k->b.kern_lock);
        if (atomic_load(&k->b.sub_pending))
            apply_subscriptions(k);
        if (k->cfg.virtual_time)
            vt_serve(k);
        atomic_fetch_add_explicit(&k->b.bell->beat, 1, memory_order_relaxed); /* channel.h */
        worked = k->cfg.deterministic ? sched_turn(k) : scan_procs(k);
        worked |= run_deadlines(k);
        pthread_mutex_unlock(&k->b.kern_lock);
        if (!worked) {
            broker_sleep(k);
            busy = 0;
        } else if (++busy % BROKER_POLL_EVERY == 0) {
            handle_events(k, 0); /* deadline 0: poll the sockets without waiting */
            pthread_mutex_lock(&k->b.kern_lock);
            hand_check(k, lk_now_ns());
            pthread_mutex_unlock(&k->b.kern_lock);
        }
    }
    pthread_mutex_lock(&k->b.kern_lock);
    broker_shutdown(k);
    pthread_mutex_unlock(&k->b.kern_lock);
    return NULL;
}

/* ---- start and stop ---------------------------------------------------------------------------- */

static bool name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

int lk_kernel_address(const char *name, struct sockaddr_un *addr, socklen_t *len)
{
    int n;

    if (!name || !name_valid(name))
        return -EINVAL;
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    /* An abstract name, private to the user: nothing in the filesystem, gone with the last
       descriptor of the host, so a crashed host leaves nothing to recover. */
    n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "liteipc/%u/%s",
                 (unsigned)getuid(), name);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    return 0;
}

static int make_listener(liteipc_kernel *k, const char *name)
{
    static _Atomic unsigned serial;
    lk_broker *b = &k->b;
    char priv[64];
    int err;

    if (!name) {
        snprintf(priv, sizeof(priv), "anon-%d-%u-%lx", (int)getpid(),
                 atomic_fetch_add(&serial, 1), (unsigned long)lk_now_ns());
        name = priv;
    }
    err = lk_kernel_address(name, &b->addr, &b->addrlen);
    if (err < 0)
        return err;
    b->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (b->lfd < 0)
        return -errno;
    if (bind(b->lfd, (struct sockaddr *)&b->addr, b->addrlen) < 0)
        return errno == EADDRINUSE ? -EEXIST : -errno;
    if (listen(b->lfd, 128) < 0)
        return -errno;
    return 0;
}

static int epoll_add(int epfd, int fd, uint64_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Everything but the bell, which the host's own processes use as theirs (lk_wake): it goes with
   the kernel object (lk_broker_unmap_bell). */
static void broker_release(lk_broker *b)
{
    if (b->bell_fd >= 0)
        close(b->bell_fd);
    if (b->lfd >= 0)
        close(b->lfd);
    if (b->efd >= 0)
        close(b->efd);
    if (b->tfd >= 0)
        close(b->tfd);
    if (b->epfd >= 0)
        close(b->epfd);
    /* Under the lock: a fork meanwhile copies the bitmap whole or not at all. */
    pthread_mutex_lock(&fds_lock);
    free(b->owned);
    b->owned = NULL;
    b->owned_max = b->owned_top = 0;
    pthread_mutex_unlock(&fds_lock);
    pthread_mutex_destroy(&b->sub_lock);
    pthread_mutex_destroy(&b->kern_lock);
    pthread_cond_destroy(&b->sub_cond);
    pthread_mutex_destroy(&b->idle_lock);
    pthread_cond_destroy(&b->idle_cond);
}

/* How many OBJ_FD files the broker may hold for all processes: half its descriptor limit, so
   that connections, pools and channels always find descriptors. */
static int fd_budget(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur / 2 > INT_MAX)
        return INT_MAX;
    return (int)(rl.rlim_cur / 2);
}

static void to_lk_config(const liteipc_config *in, lk_config *out)
{
    out->task_limit = in->task_limit;
    out->process_limit = in->process_limit;
    out->pool_max_size = in->pool_max_size;
    out->data_max = in->data_max;
    out->object_max = in->object_max;
    out->timeout_ns = (uint64_t)in->reply_timeout_ms * 1000000u;
    out->driver_version = in->driver_version;
}

/*
 * May a virtual process's thread run the kernel itself for its own calls (lk_broker_serve)? Not
 * in virtual time or in a deterministic kernel, whose commands are ordered by the broker alone,
 * nor with $LITEIPC_CALLER_KERNEL set to 0 (to compare with the broker's path).
 */
static bool caller_kernel_setting(const liteipc_kernel *k)
{
    const char *v = getenv(LITEIPC_CALLER_KERNEL_ENV);

    if (k->cfg.virtual_time || k->cfg.deterministic)
        return false;
    return !v || strcmp(v, "0") != 0;
}

int lk_broker_start(liteipc_kernel *k, const char *name)
{
    lk_broker *b = &k->b;
    lk_config cfg;
    lk_ops ops = {.fd_dup = fd_dup_hook, .fd_close = fd_close_hook, .ctx = k};
    int err;

    b->epfd = b->efd = b->lfd = b->bell_fd = b->tfd = -1;
    b->started_ns = lk_now_ns();
    b->fds_budget = fd_budget();
    for (int i = 0; i < LK_MAX_TASKS; i++)
        b->by_tid[i].pid = b->by_tid[i].slot = -1;
    pthread_mutex_init(&b->sub_lock, NULL);
    pthread_mutex_init(&b->kern_lock, NULL);
    b->caller_kernel = caller_kernel_setting(k);
    pthread_cond_init(&b->sub_cond, NULL);
    pthread_mutex_init(&b->idle_lock, NULL);
    pthread_cond_init(&b->idle_cond, NULL);
    b->chan_size = lk_chan_size(k->cfg.data_max, k->cfg.object_max);
    b->owned_max = owned_size();
    b->owned = calloc(((size_t)b->owned_max + LONG_BITS - 1) / LONG_BITS, sizeof(*b->owned));
    if (!b->owned) {
        b->owned_max = 0;
        err = -ENOMEM;
        goto fail;
    }
    lk_sched_init(k, name == NULL); /* a served kernel's host thread never joins: not counted */
    to_lk_config(&k->cfg, &cfg);
    err = lk_kernel_new(&cfg, &ops, &k->kern);
    if (err < 0)
        goto fail;
    err = lk_fault_env_arm(k->kern); /* $LITEIPC_FAULTS, before any command can come */
    if (err < 0)
        goto fail;
    b->faulty = err > 0;
    b->bell_fd = err = lk_memfd_create("liteipc-bell", sizeof(lk_bell));
    if (err < 0)
        goto fail;
    b->bell = lk_map_shared(b->bell_fd, sizeof(lk_bell), PROT_READ | PROT_WRITE);
    /* Only the kernel's code writes the bell: other processes map it read-only and wait and wake
       on it; the host's own use this mapping (lk_wake). */
    if (b->bell && lk_memfd_seal_writes(b->bell_fd) < 0) {
        err = -ENOMEM;
        goto fail;
    }
    b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    b->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    err = (!b->bell || b->efd < 0 || b->tfd < 0 || b->epfd < 0) ? -errno : make_listener(k, name);
    if (!err)
        err = epoll_add(b->epfd, b->efd, EV_DOORBELL);
    if (!err)
        err = epoll_add(b->epfd, b->tfd, EV_RELISTEN);
    if (!err)
        err = epoll_add(b->epfd, b->lfd, EV_LISTEN);
    if (!err)
        err = -pthread_create(&b->thread, NULL, broker_main, k);
    if (!err)
        return 0;
fail:
    broker_release(b);
    lk_broker_unmap_bell(k);
    if (k->kern)
        lk_kernel_free(k->kern);
    k->kern = NULL;
    return err;
}

/*
 * The device runs an ioctl in its caller's context: a virtual process's thread, which lives in
 * this host process, runs the kernel for its own command under the kernel lock, as the broker
 * would, and spares the two hand-offs through the broker (docs/PERFORMANCE.md, "The kernel on
 * the caller's thread"). Not once a fault was armed: a KILL fault changes the list of
 * processes the broker scans without the lock. -EAGAIN then, and the caller posts to the
 * broker. lock_for_caller returns the process's connection with the kernel lock held, or NULL
 * (not held) where the caller may not run it.
 */
static lk_bconn *lock_for_caller(liteipc_kernel *k, int pid)
{
    lk_broker *b = &k->b;
    lk_bconn *c;

    pthread_mutex_lock(&b->kern_lock);
    c = pid >= 0 && pid < LK_MAX_PROCS ? b->by_pid[pid] : NULL;
    if (!c || !c->in_host || c->closed || b->faulty || atomic_load(&b->stop)) {
        pthread_mutex_unlock(&b->kern_lock);
        return NULL;
    }
    return c;
}

static bool serve_real(liteipc_kernel *k);

/*
 * A command run outside the broker thread may have set a deadline (a synchronous call's reply
 * timeout) before the one the sleeping broker waits for (wake_by): kick it to look again. A new
 * deadline is at most reply_timeout_ms from now, so the scan of the tables is needed only when
 * the broker waits for something later than that (or for nothing): once per timeout at most.
 */
static void kick_if_earlier(liteipc_kernel *k)
{
    lk_broker *b = &k->b;

    if (!b->wake_by || b->wake_by <= lk_now_ns() + (uint64_t)k->cfg.reply_timeout_ms * 1000000u)
        return;
    if (lk_kernel_next_deadline(k->kern) < b->wake_by)
        lk_broker_kick(k);
}

int lk_broker_serve(liteipc_kernel *k, int pid, int slot)
{
    lk_broker *b = &k->b;
    lk_bconn *c = lock_for_caller(k, pid);

    if (!c)
        return -EAGAIN;
    /* Posted before this command: served first, unless the broker is awake (it does it then,
       and the real processes' commands run beside this thread's own, not after them). */
    if (b->nreal > 0 && atomic_load_explicit(&b->bell->broker_sleeping, memory_order_relaxed)) {
        atomic_store_explicit(&b->bell->host_call_us, (uint32_t)(lk_now_ns() / 1000u),
                              memory_order_relaxed);
        serve_real(k);
    }
    b->on_caller = true;
    handle_slot(k, c, slot);
    b->on_caller = false;
    kick_if_earlier(k);
    pthread_mutex_unlock(&b->kern_lock);
    return 0;
}

/*
 * ---- listening: host tasks serve the real processes' posts while they wait -------------------
 *
 * A real process cannot run the kernel; a host task waiting in the kernel may run its commands
 * instead of the broker, sparing two hand-offs per call (docs/ARCHITECTURE.md, "Host tasks
 * serve the real processes while they wait"; the client side is in client.c). Whoever listens
 * counts itself in the bell first, then looks at the posted bits; a poster sets its bit, then
 * reads the count: one of them sees the other.
 */

/* Serve the posted commands of the real processes, on a host task's thread (kern_lock held).
   No wake-up is handed to a poster there (handle_slot): the broker would not watch it. */
static bool serve_real(liteipc_kernel *k)
{
    lk_broker *b = &k->b;
    bool any = false;

    b->on_caller = true;
    for (int i = 0; i < b->nlive; i++)
        if (!b->live[i]->in_host)
            any |= scan_proc(k, b->live[i]);
    b->on_caller = false;
    if (any)
        kick_if_earlier(k);
    return any;
}

/* May a host task listen now? Where it may run the kernel itself, and a real process is
   connected. */
bool lk_broker_may_listen(liteipc_kernel *k)
{
    lk_broker *b = &k->b;

    return b->caller_kernel && atomic_load_explicit(&b->nreal, memory_order_relaxed) > 0 &&
           !atomic_load_explicit(&b->faulty, memory_order_relaxed) && !atomic_load(&b->stop);
}

/* Serve what real processes posted, taking the kernel lock (wait) or trying it. Returns true
   if there was anything. */
bool lk_broker_serve_real(liteipc_kernel *k, bool wait)
{
    bool any;

    if (wait)
        pthread_mutex_lock(&k->b.kern_lock);
    else if (pthread_mutex_trylock(&k->b.kern_lock) != 0)
        return false;
    if (atomic_load(&k->b.faulty)) { /* armed meanwhile: the broker serves from now on */
        pthread_mutex_unlock(&k->b.kern_lock);
        lk_broker_kick(k);
        return false;
    }
    any = serve_real(k);
    pthread_mutex_unlock(&k->b.kern_lock);
    return any;
}

/*
 * A host task is about to sleep listening: fill w/v (at most max) with the words to wait on and
 * their values (listen_gen, then each heard process's host_bell), count it as a sleeping
 * listener, then serve what was posted. Returns the number of words; 0 if it served something
 * (it is not counted then: it looks at its own channel again); -EAGAIN where it may not listen.
 */
int lk_broker_listen_begin(liteipc_kernel *k, _Atomic uint32_t **w, uint32_t *v, int max)
{
    lk_broker *b = &k->b;
    lk_bell *bell = b->bell;
    int n = 0;

    if (!lk_broker_may_listen(k)) /* first without the lock: most waits have no real process */
        return -EAGAIN;
    pthread_mutex_lock(&b->kern_lock);
    if (!lk_broker_may_listen(k)) {
        pthread_mutex_unlock(&b->kern_lock);
        return -EAGAIN;
    }
    w[n] = &bell->listen_gen;
    v[n++] = atomic_load(&bell->listen_gen);
    for (int i = 0; i < b->nlive && n < max; i++) {
        lk_bconn *c = b->live[i];
        lk_proc_region *r = c->region;

        if (!c->in_host && atomic_load(&bell->heard[c->pid])) {
            w[n] = &r->host_bell;
            v[n++] = atomic_load(&r->host_bell);
        }
    }
    atomic_fetch_add(&bell->listeners, 1);
    atomic_fetch_add(&bell->sleepers, 1);
    atomic_fetch_add_explicit(&b->listen_sleeps, 1, memory_order_relaxed);
    if (serve_real(k)) {
        atomic_fetch_sub(&bell->sleepers, 1);
        atomic_fetch_sub(&bell->listeners, 1);
        n = 0;
    }
    pthread_mutex_unlock(&b->kern_lock);
    return n;
}

/* The listener woke: uncount it, then serve (a post may have counted on it). True if there was
   anything to serve. */
bool lk_broker_listen_end(liteipc_kernel *k)
{
    atomic_fetch_sub(&k->b.bell->sleepers, 1);
    atomic_fetch_sub(&k->b.bell->listeners, 1);
    return lk_broker_serve_real(k, true);
}

/* A host task polls for its answer: count it as a polling listener where it may listen (it
   then serves the posts it sees, lk_broker_serve_real). False where it may not. */
bool lk_broker_poll_begin(liteipc_kernel *k)
{
    if (!lk_broker_may_listen(k))
        return false;
    atomic_fetch_add(&k->b.bell->listeners, 1);
    atomic_fetch_add(&k->b.bell->pollers, 1);
    return true;
}

/* Its poll ended: uncount it, then serve (a post may have counted on it). */
void lk_broker_poll_end(liteipc_kernel *k)
{
    atomic_fetch_sub(&k->b.bell->pollers, 1);
    atomic_fetch_sub(&k->b.bell->listeners, 1);
    lk_broker_serve_real(k, true);
}

/* A refusal a virtual process decided itself (op_refused), noted at once on its thread, so that
   its event keeps its place among those of the calls this process's threads run themselves. */
int lk_broker_refused(liteipc_kernel *k, int pid, int tid, unsigned long cmd, int err)
{
    lk_bconn *c = lock_for_caller(k, pid);

    if (!c)
        return -EAGAIN;
    lk_note_refused(k->kern, pid, own_tid(k, c, tid), (uint32_t)cmd, err, kernel_now(k));
    pthread_mutex_unlock(&k->b.kern_lock);
    return 0;
}

void lk_broker_stop(liteipc_kernel *k)
{
    uint64_t one = 1;

    atomic_store(&k->b.stop, 1);
    if (write(k->b.efd, &one, sizeof(one)) < 0) {
        /* the counter cannot overflow here; nothing else can fail */
    }
    pthread_join(k->b.thread, NULL);
}

/* After lk_broker_stop, once no task is inside a device call: a listener woken by the end of
   the kernel still uncounts itself in the bell and takes the kernel lock on its way out. */
void lk_broker_free(liteipc_kernel *k)
{
    broker_release(&k->b);
    lk_kernel_free(k->kern);
    k->kern = NULL;
}

void lk_broker_unmap_bell(liteipc_kernel *k)
{
    if (k->b.bell)
        munmap(k->b.bell, sizeof(lk_bell));
    k->b.bell = NULL;
}

void lk_broker_forget_in_child(liteipc_kernel *k)
{
    /* The broker thread does not exist in a fork child. Its fixed descriptors must not keep
       the listening name bound or the doorbell alive after the host exits. */
    close(k->b.lfd);
    close(k->b.epfd);
    close(k->b.efd);
    close(k->b.tfd);
    close(k->b.bell_fd);
    k->b.lfd = k->b.epfd = k->b.efd = k->b.tfd = k->b.bell_fd = -1;
    k->b.bell = NULL; /* MADV_DONTFORK: not mapped here */
    /* Nor may a child hold what the broker holds for the processes (their connections,
       pidfds, doorbells, memory files, OBJ_FD files): it could read their control messages,
       their rings, their memory. Only the bitmap is read here, never the broker's lists,
       which fork may have caught half changed; fork held fds_lock, so it is exact. */
    for (int w = 0; w < (k->b.owned_top + LONG_BITS - 1) / LONG_BITS; w++)
        for (unsigned long m = k->b.owned[w]; m; m &= m - 1)
            close(w * LONG_BITS + __builtin_ctzl(m));
    free(k->b.owned);
    k->b.owned = NULL;
    k->b.owned_max = k->b.owned_top = 0;
}

/* ---- fault injection: the victims of KILL faults (fault.c), dead in the kernel already ---- */

/* A slot whose task a fault killed: its thread lives on, and every call of it fails ESRCH. */
static void fault_killed_call(liteipc_kernel *k, lk_bconn *c, int slot)
{
    lk_chan *ch = chan_of(k, c, slot);
    uint32_t st = atomic_load_explicit(&ch->state, memory_order_acquire);

    if (st == LK_CHAN_POSTED || st == LK_CHAN_WAITING)
        chan_complete(k, ch, -2 - c->slot_tid[slot], -ESRCH, NULL, 0);
}

/*
 * A process a fault killed. A real one gets SIGKILL, as it would die on the device; its
 * connection then ends as any dead process's. One of this host cannot be killed: its
 * connection is shut down, so its threads' calls fail with ESHUTDOWN. Either way it is no
 * longer scanned, and its PID, free in the kernel, names nobody here any more.
 */
static void fault_kill_proc(liteipc_kernel *k, int pid)
{
    lk_bconn *c = k->b.by_pid[pid];

    if (!c)
        return;
    if (!c->in_host && c->pidfd >= 0 &&
        syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0) < 0 && c->peer_pid > 0)
        kill(c->peer_pid, SIGKILL);
    shutdown(c->sock, SHUT_RDWR);
    if (c->efd >= 0)
        epoll_ctl(k->b.epfd, EPOLL_CTL_DEL, c->efd, NULL);
    forget_tasks(k, c);
    live_remove(k, c);
    k->b.by_pid[pid] = NULL;
    users_add(k, -1);
    c->pid = -1; /* its connection, closed later, must not end the PID's next owner */
}

static void fault_kills(liteipc_kernel *k)
{
    lk_kill kill;

    while (lk_kernel_take_kill(k->kern, &kill)) {
        int tid = kill.tid, slot;
        lk_bconn *c;

        if (tid < 0) {
            fault_kill_proc(k, kill.pid);
            continue;
        }
        slot = k->b.by_tid[tid].slot;
        c = k->b.by_pid[kill.pid];
        if (!c || slot < 0 || k->b.by_tid[tid].pid != kill.pid)
            continue;
        c->slot_tid[slot] = FAULT_SLOT_KILLED(tid);
        k->b.by_tid[tid].pid = k->b.by_tid[tid].slot = -1;
    }
}

/* ---- subscriptions -------------------------------------------------------------------------- */

static int wait_applied(liteipc_kernel *k, unsigned gen)
{
    uint64_t one = 1;

    atomic_store(&k->b.sub_pending, 1);
    if (write(k->b.efd, &one, sizeof(one)) < 0)
        return -errno;
    while ((int)(k->b.sub_applied - gen) < 0)
        pthread_cond_wait(&k->b.sub_cond, &k->b.sub_lock);
    return 0;
}

int lk_broker_run(liteipc_kernel *k, int (*fn)(liteipc_kernel *k, void *arg), void *arg)
{
    int err;

    pthread_mutex_lock(&k->b.sub_lock);
    k->b.run_fn = fn;
    k->b.run_arg = arg;
    err = wait_applied(k, ++k->b.sub_gen);
    k->b.run_fn = NULL;
    if (err == 0)
        err = k->b.run_ret;
    pthread_mutex_unlock(&k->b.sub_lock);
    return err;
}

int liteipc_subscribe(liteipc_kernel *k, liteipc_event_fn fn, void *ctx)
{
    return lk_subscribe(k, fn, ctx, false);
}

int lk_subscribe(liteipc_kernel *k, liteipc_event_fn fn, void *ctx, bool previews)
{
    int id = -ENOSPC;

    if (!k || !fn)
        return -EINVAL;
    if (!k->is_host)
        return -EPERM;
    pthread_mutex_lock(&k->b.sub_lock);
    for (int i = 0; i < LK_MAX_SUBSCRIBERS; i++) {
        if (!k->b.subs[i].fn) {
            k->b.subs[i].fn = fn;
            k->b.subs[i].ctx = ctx;
            k->b.subs[i].previews = previews;
            id = i;
            break;
        }
    }
    if (id >= 0) {
        int err = wait_applied(k, ++k->b.sub_gen);

        if (err < 0)
            id = err;
    }
    pthread_mutex_unlock(&k->b.sub_lock);
    return id;
}

/* Have the broker thread, between two commands, write its tables to out and/or fill *st (each
   may be NULL). Host side only. */
static int broker_snapshot(liteipc_kernel *k, FILE *out, liteipc_stats *st)
{
    int err;

    if (!k->is_host)
        return -EPERM;
    pthread_mutex_lock(&k->b.sub_lock);
    k->b.dump_to = out;
    k->b.stats_to = st;
    err = wait_applied(k, ++k->b.sub_gen);
    k->b.dump_to = NULL;
    k->b.stats_to = NULL;
    pthread_mutex_unlock(&k->b.sub_lock);
    return err;
}

int liteipc_kernel_dump(liteipc_kernel *k, FILE *out)
{
    int err;

    if (!k || !out)
        return -EINVAL;
    err = broker_snapshot(k, out, NULL);
    if (err == 0 && fflush(out) == EOF)
        err = -errno;
    return err;
}

int liteipc_kernel_stats(liteipc_kernel *k, liteipc_stats *out)
{
    if (!k || !out)
        return -EINVAL;
    return broker_snapshot(k, NULL, out);
}

int liteipc_unsubscribe(liteipc_kernel *k, int id)
{
    int err;

    if (!k || id < 0 || id >= LK_MAX_SUBSCRIBERS)
        return -EINVAL;
    if (!k->is_host)
        return -EPERM;
    pthread_mutex_lock(&k->b.sub_lock);
    if (!k->b.subs[id].fn) {
        pthread_mutex_unlock(&k->b.sub_lock);
        return -ENOENT;
    }
    k->b.subs[id].fn = NULL;
    err = wait_applied(k, ++k->b.sub_gen);
    pthread_mutex_unlock(&k->b.sub_lock);
    return err;
}

const char *liteipc_event_name(liteipc_event_type type)
{
    static const char *const names[] = {
        [LITEIPC_EV_MSG_WRITTEN] = "msg-written",   [LITEIPC_EV_MSG_READ] = "msg-read",
        [LITEIPC_EV_RECV_WAIT] = "recv-wait",       [LITEIPC_EV_RECV_TIMEOUT] = "recv-timeout",
        [LITEIPC_EV_RECV_KILLED] = "recv-killed",   [LITEIPC_EV_DROP_ON_WRITE] = "drop-on-write",
        [LITEIPC_EV_DROP_ON_READ] = "drop-on-read", [LITEIPC_EV_TASK_DEATH] = "task-death",
        [LITEIPC_EV_EXEC] = "exec",                 [LITEIPC_EV_SET_CMS] = "set-cms",
        [LITEIPC_EV_SET_IPC_THREAD] = "set-ipc-thread", [LITEIPC_EV_GEN_HANDLE] = "gen-handle",
        [LITEIPC_EV_GRANT] = "grant",               [LITEIPC_EV_REFUSED] = "refused",
        [LITEIPC_EV_INJECTED] = "injected",
    };

    if ((unsigned)type >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[type];
}

/* ---- users ---------------------------------------------------------------------------------- */

int liteipc_kernel_process_count(liteipc_kernel *k)
{
    int n;

    if (!k || !k->is_host)
        return -EINVAL;
    pthread_mutex_lock(&k->b.idle_lock);
    n = k->b.nusers;
    pthread_mutex_unlock(&k->b.idle_lock);
    return n;
}

int liteipc_kernel_wait_unused(liteipc_kernel *k, int timeout_ms)
{
    struct timespec until;
    int err = 0;

    if (!k || !k->is_host)
        return -EINVAL;
    clock_gettime(CLOCK_REALTIME, &until);
    if (timeout_ms >= 0) {
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&k->b.idle_lock);
    while (!(k->b.ever_used && k->b.nusers == 0) && err == 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&k->b.idle_cond, &k->b.idle_lock);
        else
            err = pthread_cond_timedwait(&k->b.idle_cond, &k->b.idle_lock, &until);
    }
    if (k->b.ever_used && k->b.nusers == 0)
        err = 0;
    pthread_mutex_unlock(&k->b.idle_lock);
    return err ? -ETIMEDOUT : 0;
}
