/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime.h - the simulator's private runtime: the kernel instance, its broker, and the
 * client side of the function-call device (private to the library).
 *
 * Locking overview (the only locks of the runtime):
 *   k->c.lock    client side of this host process: the list of simulated processes, the
 *                default process, the descriptor table, the list of task records. Never held
 *                while waiting for the broker.
 *   proc->lock   one simulated process's control socket: one request/response at a time.
 *                Taken after k->c.lock when both are needed, never the other way round.
 *   orphan_lock  (client.c) task records that outlived their kernel; taken after k->c.lock,
 *                or alone.
 *   k->b.sub_lock the event subscribers; taken by the broker while it delivers events and by
 *                liteipc_subscribe. Held by nobody else.
 *   k->b.vt.call_lock one liteipc_time_* call at a time: held by its caller while it waits
 *                for the broker; never taken by the broker.
 *   k->b.vt.lock the posted liteipc_time_* request and its answer; taken after call_lock by the
 *                caller, alone by the broker, and never held while the kernel runs.
 * The broker thread owns every other broker field and the whole pure kernel (src/kernel.h):
 * nothing else reads or writes them while it runs.
 */
#ifndef LITEIPC_RUNTIME_H
#define LITEIPC_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <liteipc/liteipc.h>

#include "channel.h"
#include "kernel.h"

/* ---- control protocol (SOCK_SEQPACKET, one connection per simulated process) -------------- */

enum lk_op {
    LK_OP_HELLO = 1,    /* a: parent PID for a fork child, or -1; b: ABI profile (lk_abi).
                           Reply fds: bell (read-only), the process's doorbell eventfd, its
                           region */
    LK_OP_OPEN,         /* the driver's open */
    LK_OP_TASK_ATTACH,  /* c, d: the thread's name (lk_wire_name). Reply a: TID, b: slot */
    LK_OP_TASK_DETACH,  /* a: TID, b: its slot + 1 (0: not said) */
    LK_OP_MMAP_PREPARE, /* b: rounded length, c: prot, d: flags. Reply fd: the pool memory */
    LK_OP_MMAP_COMMIT,  /* b: user address */
    LK_OP_MMAP_ABORT,
    LK_OP_EXIT,         /* the process ends now (virtual processes); the reply comes after */
    LK_OP_CONFIG,       /* before HELLO, on its own connection: reply is an lk_wire_config */
    LK_OP_FD_FETCH,     /* a: TID. Reply fd: the next OBJ_FD file delivered to that task */
    LK_OP_FD_PUT,       /* a: TID, b: the number it got in this process (-1: none) */
    LK_OP_EXEC,         /* a: TID of the only task left, which execs (§7.7); b: the new
                           program's ABI profile */
    LK_OP_SET_NAME,     /* a: a TID of the process, or -1 for the process; c, d: the name */
    LK_OP_STATUS,       /* before HELLO, on its own connection (liteipcctl): never a process
                           nor a user. Reply a: processes + (tasks << 16), b: uptime (ns),
                           c: length of the text; fd: a memory file holding the kernel's
                           tables as text (the dump) */
    LK_OP_MONITOR,      /* before HELLO, on its own connection (liteipcctl): the broker then
                           sends it every event as an lk_wire_event, never blocking on it */
    LK_OP_STATS,        /* before HELLO, on its own connection (liteipcctl): never a process
                           nor a user. Reply, then a second message: the liteipc_stats */
    LK_OP_REFUSED,      /* a: TID (-1: none), b: the command (an ioctl request, or
                           LITEIPC_CMD_MMAP), c: the positive errno. No reply: a refusal this
                           process decided itself, for the counters and events */
};

/* A name (a thread's, a program's) travels in the request's c and d: 15 bytes and a NUL. */
#define LK_NAME_MAX 16
_Static_assert(2 * sizeof(uint64_t) == LK_NAME_MAX, "a name fits in c and d");

#define LK_WIRE_MAGIC 0x4c495043u /* "LIPC" */

typedef struct lk_wire_config {
    uint32_t magic;
    uint32_t size; /* sizeof(lk_wire_config): both sides must run the same library */
    liteipc_config cfg;
} lk_wire_config;

typedef struct lk_wire_req {
    uint32_t op;
    int32_t a;
    uint64_t b, c, d;
} lk_wire_req;

typedef struct lk_wire_resp {
    int32_t result; /* 0 / value, or -errno */
    int32_t a;
    uint64_t b, c;
} lk_wire_resp;

/* An event sent to a monitor: dropped counts the events it lost before this one (its socket
   was full: the broker never waits for a monitor). */
/* LK_OP_MONITOR's request a: LK_MONITOR_PREVIEW asks for the events' payload previews. */
#define LK_MONITOR_PREVIEW 1
typedef struct lk_wire_event {
    liteipc_event ev;
    uint64_t dropped;
} lk_wire_event;

/* ---- broker side ---------------------------------------------------------------------------- */

#define LK_MAX_SUBSCRIBERS 8
#define LK_MAX_MONITORS 8

/*
 * An OBJ_FD file on its way to a real process: the broker holds it (bfd, also the placeholder
 * number the kernel wrote into the object) until the receiver's task fetches it over its
 * connection and reports the number it got, which the broker then writes into the object.
 */
typedef struct lk_fdpend {
    int bfd;
    int src_pid;      /* the sender, charged for it while the broker holds it */
    uint64_t src_serial;
    int tid;          /* -1 while the message is queued; the receiving task once delivered */
    uint32_t obj_pos; /* pool offset of the object's fd field, once delivered */
} lk_fdpend;

/*
 * A connection. Its peer is identified once, when it is accepted: the process that called
 * connect(), held by a pidfd from then on (SO_PEERPIDFD). Every later look-up goes through that
 * pidfd, and the connection ends when that process exits, whoever holds the socket then.
 */
typedef struct lk_bconn {
    int sock;
    int pidfd;           /* of the peer host process (-1 in this host) */
    lk_fdpend *pend;     /* OBJ_FD files on their way to this process */
    int npend, cap_pend;
    int fds_held;        /* OBJ_FD files this process sent that the broker holds */
    int pid;             /* -1 until HELLO */
    int efd;             /* the process's doorbell (eventfd), -1 until HELLO */
    bool in_host;        /* the peer is this very host process (virtual or default process) */
    bool closed;         /* ended, freed after the current batch of events */
    pid_t peer_pid;      /* the host process behind the connection, while pidfd is alive */
    uint32_t euid;       /* its effective uid when it connected (SO_PEERCRED) */
    uint32_t uid, gid;   /* its real ids, read when it connected */
    char prog[16];       /* its program name (comm), read when it connected */
    uint64_t serial;     /* unique to this connection (simulated PIDs are reused) */
    bool presence;       /* an attached program's first connection (counted as a user) */
    bool monitor;        /* LK_OP_MONITOR: receives the events (never a process or user) */
    uint64_t dropped;    /* monitor: events lost since the last one it was sent */
    bool previews;       /* monitor: asked for payload previews (LK_MONITOR_PREVIEW) */
    void *region;        /* the process's channels, broker mapping */
    size_t region_size;
    void *pool;          /* the pool, broker mapping (writable) */
    size_t pool_size;
    bool pool_pending;   /* MMAP_PREPARE done, COMMIT not yet */
    int16_t slot_tid[LK_MAX_TASKS]; /* -1: free */
    struct lk_bconn *next;
} lk_bconn;

typedef struct lk_subscriber {
    liteipc_event_fn fn;
    void *ctx;
    bool previews; /* wants the events' payload previews (LITEIPC_TRACE_PREVIEW) */
} lk_subscriber;

/* liteipc_subscribe, asking for payload previews in the events if previews is true. */
int lk_subscribe(liteipc_kernel *k, liteipc_event_fn fn, void *ctx, bool previews);

/* A wake-up handed to a poster, watched until it is due (broker.c). */
typedef struct lk_handed {
    int tid;
    uint64_t due;
} lk_handed;

#define LK_HAND_RING 256

/* Virtual time (vtime.c and broker.c): a liteipc_time_* request posted to the broker. */
enum lk_vt_op {
    LK_VT_ADVANCE = 1, /* arg: ns to move by */
    LK_VT_TO_NEXT,     /* to the next deadline */
    LK_VT_IDLE,        /* answered once the kernel is idle (liteipc_time_run_until_idle);
                          arg 1: answered at once, -ETIMEDOUT if it is not idle */
};

typedef struct lk_vtime {
    pthread_mutex_t call_lock;
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* on CLOCK_MONOTONIC: the answer is in */
    _Atomic int pending;   /* a request waits for the broker to take it */
    int op;                /* lk_vt_op */
    uint64_t arg;
    uint64_t seq;          /* of the current request: an answer is for it only */
    bool done;
    bool dead;             /* the broker has ended: every request gets -ESHUTDOWN */
    int64_t result;
    _Atomic uint64_t now;  /* the virtual clock (ns); written by the broker only */
    uint64_t idle_seq;     /* broker thread only: the LK_VT_IDLE request it watches, 0: none */
    /* Threads of this host's virtual processes, by PID, counted by vproc.c from their creation
       until their task (and, for the last one, their process) has ended. */
    _Atomic int threads[LK_MAX_PROCS];
} lk_vtime;

typedef struct lk_broker {
    pthread_t thread;
    /* Held by whoever runs kernel code, the only writer of kernel state, pools and the bell:
       the broker thread, or a virtual process's thread inside its own device call
       (lk_broker_serve, DESIGN.md invariant 1). The fields below marked "kern_lock" too. */
    pthread_mutex_t kern_lock;
    _Atomic unsigned long listen_sleeps; /* host tasks' waits asleep listening (for tests) */
    _Atomic unsigned long hand_settles;  /* handed wake-ups it did itself, late (for tests) */
    bool caller_kernel;          /* virtual processes' calls may run the kernel themselves */
    bool on_caller;              /* kern_lock: kernel code runs on a host task's thread */
    _Atomic int nreal;           /* live processes not of this host: written under
                                    kern_lock, read first without it (a caller's quick no) */
    uint64_t wake_by;            /* kern_lock: the sleeping broker looks at the kernel's
                                    deadlines by then; 0 while it is awake */
    int epfd, efd, lfd;          /* epoll, the broker's own eventfd (stop, subscriptions),
                                    listening socket */
    int tfd;                     /* timer re-arming the listener after accept ran out of fds */
    bool listen_paused;          /* the listener is out of epoll until tfd fires */
    uint64_t next_serial;
    int fds_held;                /* OBJ_FD files held for every process */
    int fds_budget;              /* at most this many (half of RLIMIT_NOFILE) */
    lk_bconn *graveyard;         /* closed connections, freed after the batch of events */
    bool no_pwait2;              /* the system lacks epoll_pwait2: fall back to epoll_wait */
    struct sockaddr_un addr;
    socklen_t addrlen;
    int bell_fd;
    lk_bell *bell;
    size_t chan_size;
    lk_bconn *conns;             /* every connection, with or without a process yet */
    lk_bconn *by_pid[LK_MAX_PROCS];
    lk_bconn *live[LK_MAX_PROCS]; /* connections with a process, densely: scanned for posts */
    unsigned long *owned;        /* bitmap by number: the descriptors the broker holds for
                                    the processes (a fork child closes them all), NULL: none */
    int owned_max;               /* its size in bits: descriptors at or above are not tracked */
    int owned_top;               /* above the highest descriptor ever marked: the walk's end */
    int nlive;
    lk_chan *hand_to;            /* the polling poster a wake-up may be handed to, or NULL */
    bool hand_real;              /* ... a real process's: never a private sleeper's (lk_wake) */
    lk_handed handed[LK_HAND_RING]; /* handed wake-ups, oldest (due first) at hand_head */
    int hand_head, nhanded;
    struct { int16_t pid, slot; } by_tid[LK_MAX_TASKS];
    char task_name[LK_MAX_TASKS][LK_NAME_MAX]; /* as its thread gave it at attach, or set */
    _Atomic int stop;

    pthread_mutex_t sub_lock;
    pthread_cond_t sub_cond;
    lk_subscriber subs[LK_MAX_SUBSCRIBERS];
    unsigned sub_gen;            /* bumped by liteipc_subscribe/unsubscribe */
    unsigned sub_applied;        /* the generation the broker has applied */
    _Atomic unsigned sub_pending;
    FILE *dump_to;               /* liteipc_kernel_dump: written with the next generation */
    int (*run_fn)(struct liteipc_kernel *k, void *arg); /* lk_broker_run: called likewise */
    void *run_arg;
    int run_ret;
    _Atomic bool faulty;         /* a fault was armed once: the kernel may report kills */

    pthread_mutex_t idle_lock;   /* nprocs and ever_used, for liteipc_kernel_wait_unused */
    pthread_cond_t idle_cond;
    int nusers;                  /* live simulated processes + attached programs */
    bool ever_used;
    lk_subscriber active[LK_MAX_SUBSCRIBERS]; /* the broker's own copy, read without a lock */
    int nactive;
    lk_bconn *monitors[LK_MAX_MONITORS]; /* LK_OP_MONITOR connections (broker thread only) */
    int nmonitors;
    lk_vtime vt;                 /* virtual time (cfg.virtual_time) */
    liteipc_stats *stats_to;     /* liteipc_kernel_stats: filled with the next generation */
    uint64_t started_ns;         /* CLOCK_MONOTONIC when the broker started (uptime) */
} lk_broker;

/*
 * Deterministic interleavings (sched.c, and the broker's side in broker.c). The threads that
 * take part ("counted": the virtual processes' threads, and the thread that started the kernel
 * until it joins them) keep `running` up to date: running is the low half of word, the number
 * of counted threads outside a device call; the high half counts every change, so the broker
 * can tell that nothing moved between two looks. A thread leaves after its post is visible and
 * comes back when it has seen its answer, before its channel is IDLE again (client.c).
 */
typedef struct lk_sched {
    _Atomic uint64_t word;       /* running | changes << 32 */
    pthread_t owner;             /* the thread that started the kernel */
    bool owner_counted;          /* it takes part (liteipc_kernel_start, not _serve) */
    /* broker thread only */
    uint64_t rng;                /* splitmix64 state */
    uint64_t pending[LK_MAX_PROCS][2]; /* posted slots taken from the regions, not yet run */
    uint64_t waiting_since;      /* when the broker began to wait with commands pending */
    bool warned;
    _Atomic unsigned forced;     /* commands run without every thread in a call */
} lk_sched;

/* A channel command of deterministic kernels only: a turn that does nothing, taken by a thread
   before it ends, so that its end falls at a point the seed chooses. Not an ioctl number of
   the device (its direction bits say "none" and its size is not 0); a program that passes it
   to liteipc_ioctl of a deterministic kernel gets 0 rather than EINVAL. */
#define LK_CHAN_CMD_FENCE 0x3fffffffu

/* sched.c */
void lk_sched_init(struct liteipc_kernel *k, bool owner_counted);
/* Take a turn that does nothing if the calling thread is a counted task of k (the fence). */
void lk_sched_fence(struct liteipc_kernel *k);
/* Does the calling thread take part in k's deterministic interleaving? */
bool lk_sched_counted(const struct liteipc_kernel *k);
/* The calling (counted) thread enters a device call or a wait (-1), or resumes running (+1). */
void lk_sched_running(struct liteipc_kernel *k, int delta);
/* The next PRNG value of the broker (splitmix64). */
uint64_t lk_sched_next(struct liteipc_kernel *k);

/* ---- client side ----------------------------------------------------------------------------- */

typedef struct lk_cproc {
    struct liteipc_kernel *k;
    int pid;
    int sock;
    pthread_mutex_t lock;
    lk_bell *bell;
    int efd;
    lk_proc_region *region;
    size_t region_size;
    _Atomic int dead;        /* the kernel's host is gone */
    int abi;                 /* lk_abi: the layout its user stack speaks (abi.h) */
    pid_t host_pid;          /* the host process it lives in (for process_vm_readv) */
    void *pool;
    size_t pool_size;
    bool virt;               /* a virtual process (vproc.c): its calls may run the kernel */
    bool own_bell;           /* bell mapped for it; else the broker's (the host's, lk_wake) */
    struct lk_cproc *next;
} lk_cproc;

/* Who frees a task record: its thread (LIVE, DETACHING) or nobody but its thread (ORPHANED). */
enum lk_ctask_state {
    LK_TASK_LIVE,
    LK_TASK_DETACHING, /* its thread is ending it now; the kernel waits before going away */
    LK_TASK_ORPHANED,  /* the kernel went away first; the record lives on a global list */
};

/* Wake-ups in a row that served nothing after which a host task stops listening for the rest
   of its wait (client.c): a process that keeps ringing its host_bell for nothing costs it that
   many at most. */
#ifndef LISTEN_IDLE_MAX
#define LISTEN_IDLE_MAX 64
#endif

typedef struct lk_ctask {
    struct liteipc_kernel *k;
    _Atomic int state;
    uint64_t epoch;
    lk_cproc *proc;
    int tid;
    int slot;
    lk_chan *ch;
    uintptr_t stack_lo, stack_hi; /* its thread's stack, for the fast user copies (client.c) */
    _Atomic int in_call;
    unsigned poll_misses; /* its polls for another task's answer that ended without it (client.c) */
    unsigned poll_probe;  /* its calls since it stopped polling, counted for the next probe */
    unsigned grace_misses, grace_probe; /* the same for its polls for a host task (client.c) */
    bool grace_sleep;     /* its post waits for a host task: its first sleep is short (client.c) */
    bool poll_long;       /* woken slowly: its next poll is a long one (client.c) */
    struct lk_ctask *next;
} lk_ctask;

typedef struct lk_fdent {
    int owner_pid; /* 0: not a device descriptor */
    int accmode;
} lk_fdent;

typedef struct lk_client {
    pthread_mutex_t lock;
    pthread_key_t key;
    uint64_t epoch;          /* bumped in a fork child: records of the parent become stale */
    lk_cproc *default_proc;
    bool attached;           /* a named kernel served by another process */
    int presence_fd;         /* attached: the connection that keeps us counted as a user */
    lk_cproc *procs;
    lk_ctask *tasks;
    lk_fdent *fds;
    int nfds;
    int fork_parent_pid;     /* the forking thread's PID, recorded before fork */
    uint64_t spin_ns;        /* how long a caller polls before sleeping (client.c) */
    bool no_waitv;           /* the system has no futex_waitv: host tasks do not listen */
    _Atomic unsigned long lost_wakes; /* calls answered but never woken: found DONE only at the
                                         caller's own CLIENT_WAKE_CHECK_NS check (tests: 0) */
} lk_client;

struct liteipc_kernel {
    liteipc_config cfg;
    _Atomic int refs;  /* the owner, plus one per virtual process not yet joined */
    _Atomic int stopped;
    lk_kernel *kern;   /* owned by the broker thread */
    lk_broker b;
    lk_client c;
    bool is_host;      /* the broker runs in this host process */
    struct liteipc_kernel *next_registered;
    lk_sched sched;    /* deterministic interleavings (sched.c) */
};

/* broker.c */
/* Start the broker, listening under `name` (NULL: a private name for this kernel alone). */
int lk_broker_start(struct liteipc_kernel *k, const char *name);
/* The abstract socket address of a named kernel. Returns 0 or -EINVAL (bad name). */
int lk_kernel_address(const char *name, struct sockaddr_un *addr, socklen_t *len);
void lk_broker_stop(struct liteipc_kernel *k);
void lk_broker_free(struct liteipc_kernel *k);
/* Serve the command a virtual process's task posted in its channel (state POSTED, no bit) on
   the calling thread, under the kernel lock. 0, or -EAGAIN: not here (the broker must). */
int lk_broker_serve(struct liteipc_kernel *k, int pid, int slot);
bool lk_broker_may_listen(struct liteipc_kernel *k);
bool lk_broker_serve_real(struct liteipc_kernel *k, bool wait);
int lk_broker_listen_begin(struct liteipc_kernel *k, _Atomic uint32_t **w, uint32_t *v, int max);
bool lk_broker_listen_end(struct liteipc_kernel *k);
bool lk_broker_poll_begin(struct liteipc_kernel *k);
void lk_broker_poll_end(struct liteipc_kernel *k);
/* Note a refusal a virtual process decided itself, likewise. 0, or -EAGAIN: tell the broker. */
int lk_broker_refused(struct liteipc_kernel *k, int pid, int tid, unsigned long cmd, int err);
/* Close, in a fork child, the broker's descriptors it inherited. */
void lk_broker_forget_in_child(struct liteipc_kernel *k);
/* Unmap the bell, with the kernel object: the host's own processes use it until then. */
void lk_broker_unmap_bell(struct liteipc_kernel *k);
/* Around fork (client.c's handlers): the broker obtains and closes no descriptor meanwhile, so
   that the child's copy of the bitmaps is exact. */
void lk_broker_fork_prepare(void);
void lk_broker_fork_parent(void);
void lk_broker_fork_child(void);
/* Run fn(k, arg) on the broker thread between two commands (it owns the kernel) and return its
   result, or -errno. Host side only. */
int lk_broker_run(struct liteipc_kernel *k, int (*fn)(struct liteipc_kernel *k, void *arg),
                  void *arg);
/* fault_api.c: arm the faults of $LITEIPC_FAULTS in a new kernel. Returns how many, or -EINVAL
   after saying why on stderr. */
int lk_fault_env_arm(lk_kernel *kern);

/* vtime.c */
void lk_vtime_init(lk_vtime *vt);
void lk_vtime_fini(lk_vtime *vt);
/* Broker thread: answer request seq (if it is still the current one) with result. */
void lk_vtime_answer(lk_vtime *vt, uint64_t seq, int64_t result);
/* Broker thread: take the posted request. Returns false if there was none. */
bool lk_vtime_take(lk_vtime *vt, int *op, uint64_t *arg, uint64_t *seq);
/* Broker thread, as it ends: every request, now and later, gets -ESHUTDOWN. */
void lk_vtime_shutdown(lk_vtime *vt);
/* vproc.c: a thread of virtual process pid of k begins / has ended (its task and, if it was the
   last, its process with it). */
void lk_vtime_thread_begin(struct liteipc_kernel *k, int pid);
void lk_vtime_thread_end(struct liteipc_kernel *k, int pid);
/* Wake the broker (its own eventfd). */
void lk_broker_kick(struct liteipc_kernel *k);

/* client.c */
int lk_client_init(struct liteipc_kernel *k);
void lk_client_fini(struct liteipc_kernel *k);
/* A new simulated process of this host speaking ABI profile abi (lk_abi). */
lk_cproc *lk_cproc_connect(struct liteipc_kernel *k, int parent_pid, int abi, int *err);
/* The profile named by $LITEIPC_ABI, or -EINVAL after saying why on stderr (once). */
int lk_env_abi(void);
int lk_cproc_request(lk_cproc *p, const lk_wire_req *req, lk_wire_resp *resp, int *fds, int nfds);
/* Put name (NULL: the calling thread's own) into req's c and d, cut to LK_NAME_MAX - 1 bytes. */
void lk_wire_put_name(lk_wire_req *req, const char *name);
/* End a simulated process of this host: EXIT, close, unmap, free. */
void lk_cproc_exit(lk_cproc *p);
/* Detach the calling thread's task of k, if it has one (thread about to end). */
void lk_task_detach_self(struct liteipc_kernel *k);
/* The caller's simulated process (its virtual process, or the default one, created if need be). */
lk_cproc *lk_current_proc(struct liteipc_kernel *k, int *err);
/* This host's default process of k if it exists (never creates one), or NULL. */
lk_cproc *lk_default_proc(struct liteipc_kernel *k);
/* The caller's task if it is attached already (no lock, no request), or NULL. */
lk_ctask *lk_task_lookup(struct liteipc_kernel *k);
/* The caller's task (attached on first use), or NULL with *err set. */
lk_ctask *lk_current_task(struct liteipc_kernel *k, lk_cproc *p, int *err);
/* Run one ioctl through the task's channel. Returns the result or -errno. */
int lk_do_call(struct liteipc_kernel *k, lk_ctask *t, unsigned long cmd, uintptr_t arg);
/* Tell the kernel, without waiting, that this process refused call cmd of task tid (-1: none)
   with err (LK_OP_REFUSED): lost if the connection is full. */
void lk_report_refused(lk_cproc *p, int tid, unsigned long cmd, int err);
/* Descriptor table: record fd as a device descriptor of process pid / its access mode or -EBADF. */
int lk_fd_record(struct liteipc_kernel *k, int fd, int pid, int accmode);
int lk_fd_check(struct liteipc_kernel *k, lk_cproc *p, int fd);
/* Is the peer of a connected socket our own user, or root? */
bool lk_peer_is_us(int s);

/* vproc.c: the virtual process of the calling thread for k, or NULL. */
lk_cproc *lk_vproc_current(struct liteipc_kernel *k);
void lk_vproc_forget_in_child(void);

/* The registry of kernels in this host (client.c), for fork handling. */
void lk_registry_add(struct liteipc_kernel *k);
void lk_registry_remove(struct liteipc_kernel *k);
/* Drop a reference; the last one frees the client side and k. */
void lk_kernel_unref(struct liteipc_kernel *k);

#endif /* LITEIPC_RUNTIME_H */
