/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel_int.h - shared internals of the kernel layer (private to kernel.c and kernel_msg.c).
 *
 * kernel.c holds the tables (processes, tasks, CMS record), their life cycle (§1, §7), the
 * driver's mmap checks (§2.3), the ioctl prelude and the small commands (§2.5, §3).
 * kernel_msg.c holds IPC_SEND_RECV_MSG (§4): buffer freeing, the write path, special objects
 * (§5), the read path with parking, timeouts and completions, and the death notice (§7.2).
 *
 * Node layout inside the destination pool (payload offset `node`, a multiple of LK_POOL_ALIGN),
 * in the *receiving* process's ABI profile R (abi.h):
 *
 *   [IpcMsg, R.msg_size B (80, or 96 for communication_ipc)]
 *   [link: u32 next node offset (0 = none), u32 profile of the objects in data (the sender's)]
 *   [data: dataSz B][offsets: spObjNum entries of R.entry_size (4 or 8) B, not realigned]
 *
 * The IpcMsg in the node holds the *user* addresses of data and offsets (uvaddr + offset), or
 * NULL for a zero size (Q3 fixed). The kernel itself never follows them: it finds the data at
 * node + LK_NODE_HDR. Pools are written only by the broker, so the node is trusted memory.
 */
#ifndef LITEIPC_KERNEL_INT_H
#define LITEIPC_KERNEL_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kernel.h"
#include "pool.h"

#define LK_NODE_LINK 8u /* the link after the IpcMsg */
#define LK_NO_DEADLINE UINT64_MAX
#define LK_RING_SIZE (2 * LK_MAX_TASKS) /* completions: at most one per parked task per call */

/* A TCB slot. Its IPC part (has_info, queue, access_map) is the driver's IpcTaskInfo (§1.4). */
typedef struct lk_task {
    bool in_use;
    bool exiting;   /* its cleanup runs, or its process dies: no longer alive (§4.3.9) */
    bool has_info;  /* IpcTaskInfo exists */
    bool parked;    /* blocked in the LiteIPC receive wait */
    bool parked_sync;
    int pid;
    uint32_t q_head, q_tail; /* FIFO of node offsets in the process's pool; 0 = empty */
    unsigned queued;
    uint64_t access_map;     /* bit p: accessMap[p] */
    uint64_t park_stamp;     /* the request timestamp a sync wait matches (§4.4.2) */
    uint64_t deadline;       /* sync wait: its end; LK_NO_DEADLINE otherwise */
    uint64_t last_stamp;     /* last request timestamp of this TID; kept across reuse */
} lk_task;

/* A PCB slot. Its IPC part (has_ipc and below) is the driver's ProcIpcInfo (§1.3). */
typedef struct lk_proc {
    bool in_use;
    bool has_ipc;
    uint32_t uid, gid;
    uint8_t abi;             /* lk_abi: the layout of what it sends and receives */
    uintptr_t uvaddr;        /* user address of the pool (kept after fork, §7.6) */
    unsigned char *kbase;    /* broker's writable mapping; NULL until attached */
    size_t pool_size;        /* 0 until attached */
    int ipc_task;            /* IPC thread, LK_INVALID_ID until IPC_SET_IPC_THREAD */
    uint64_t *used;          /* used list: bit (offset / LK_POOL_ALIGN) per pool payload */
    unsigned used_count;
    uint64_t access[2];      /* bit t: access[t] */
    size_t pool_peak;        /* high-water mark of the pool's use (lk_proc_view) */
} lk_proc;

struct lk_kernel {
    lk_config cfg;
    lk_ops ops;
    lk_event_fn ev_fn;
    void *ev_ctx;

    HandleStatus cms_status; /* §1.2: never cleared (Q1) */
    int cms_task;
    uint32_t cms_max;

    unsigned sync_parked;    /* tasks parked in a synchronous wait */
    lk_stats stats;

    lk_task tasks[LK_MAX_TASKS];
    lk_proc procs[LK_MAX_PROCS];

    uint8_t free_tids[LK_MAX_TASKS]; /* stack: the top is handed out next (LIFO) */
    unsigned n_free_tids;
    uint8_t free_pids[LK_MAX_PROCS]; /* ring: freed PIDs go to the tail (FIFO) */
    unsigned pid_head, n_free_pids;

    lk_completion ring[LK_RING_SIZE];
    unsigned ring_head, ring_count;

    struct lk_faults *faults; /* fault.c: NULL until a fault is first armed */
    int fault_caller;         /* a task killed in its own call gets no completion (0: none) */
};

/* ---- small helpers used by both files ------------------------------------------------------- */

static inline lk_task *lk__task(lk_kernel *k, int tid)
{
    if (tid < 0 || tid >= LK_MAX_TASKS || !k->tasks[tid].in_use)
        return NULL;
    return &k->tasks[tid];
}

static inline lk_proc *lk__proc(lk_kernel *k, int pid)
{
    if (pid < 0 || pid >= LK_MAX_PROCS || !k->procs[pid].in_use)
        return NULL;
    return &k->procs[pid];
}

/* IsPoolMapped (§1.3). */
static inline bool lk__pool_mapped(const lk_proc *p)
{
    return p->uvaddr != 0 && p->kbase != NULL && p->pool_size != 0;
}

/* "Alive" for LiteIPC (§4.3.9): a user task whose TCB is in use and not exiting. */
static inline bool lk__alive(const lk_kernel *k, uint32_t tid)
{
    if (tid < LK_FIRST_USER_TID || tid >= LK_MAX_TASKS)
        return false;
    return k->tasks[tid].in_use && !k->tasks[tid].exiting;
}

/* GetTid (§1.1) for h < MAX_SERVICE_NUM: 0 is the CMS task (0 if none was set). */
static inline int lk__resolve(const lk_kernel *k, uint32_t h)
{
    return h == 0 ? k->cms_task : (int)h;
}

/* After an allocation in p's pool: keep its high-water mark (lk_proc_view.pool_peak). */
static inline void lk__pool_note_use(lk_proc *p)
{
    size_t used = lk_pool_used(p->kbase);

    if (used > p->pool_peak)
        p->pool_peak = used;
}

static inline uint64_t lk__deadline(const lk_kernel *k, uint64_t now)
{
    return now > UINT64_MAX - k->cfg.timeout_ns ? UINT64_MAX - 1 : now + k->cfg.timeout_ns;
}

/* Events: one predictable branch when no sink is installed. src is given with its PID (the
   sender may be gone by the time its message is read); dst's PID is looked up. -1: none. */
void lk__emit_slow(lk_kernel *k, lk_event_type type, int err, uint64_t now, int src_tid,
                   int src_pid, int dst_tid, const IpcMsg *msg);
static inline void lk__emit(lk_kernel *k, lk_event_type type, int err, uint64_t now,
                            int src_tid, int src_pid, int dst_tid, const IpcMsg *msg)
{
    if (__builtin_expect(k->ev_fn != NULL, 0))
        lk__emit_slow(k, type, err, now, src_tid, src_pid, dst_tid, msg);
}

/* What an access-model event says beyond lk__emit's fields (see lk_event). */
typedef struct lk_ev_access {
    uint32_t cmd;
    int32_t cms_cmd, handle, grantee_pid;
    const IpcMsg *msg;
} lk_ev_access;
void lk__emit_access_slow(lk_kernel *k, lk_event_type type, int err, uint64_t now, int src_tid,
                          int dst_tid, const lk_ev_access *a);
static inline void lk__emit_access(lk_kernel *k, lk_event_type type, int err, uint64_t now,
                                   int src_tid, int dst_tid, const lk_ev_access *a)
{
    if (__builtin_expect(k->ev_fn != NULL, 0))
        lk__emit_access_slow(k, type, err, now, src_tid, dst_tid, a);
}

/* ---- access (§1.5), kernel.c ----------------------------------------------------------------- */

/* HasServiceAccess(h) for process pid. */
bool lk__has_access(const lk_kernel *k, int pid, uint32_t h);
/* AddServiceAccess, with the grantee named by its process; by: the task whose command grants
   (-1: no GRANT event), cms_cmd its CMS command (-1: an OBJ_SVC in message msg), for the GRANT
   event. Returns 0 or -EINVAL. */
int lk__grant(lk_kernel *k, int pid, uint32_t h, int by, int32_t cms_cmd, const IpcMsg *msg,
              uint64_t now);

/* ---- messages, kernel_msg.c ------------------------------------------------------------------ */

/* IPC_SEND_RECV_MSG after the prelude (§3.8, §4.1). */
int lk__cmd_send_recv(lk_kernel *k, int tid, const lk_ioctl_in *in, uint64_t now,
                      lk_ioctl_out *out);
/* §7.2 step 2: empty tid's queue, rolling back every node's objects. */
void lk__task_drain(lk_kernel *k, int tid, uint64_t now);
/* §7.2 step 4: tell process pid that task dead_tid died (silently lost on any failure). */
void lk__death_notice(lk_kernel *k, int dead_tid, int pid, uint64_t now);
/* End tid's parked receive (no completion by itself). */
void lk__unpark(lk_kernel *k, int tid);
/* Queue a completion for a receive that has ended. */
void lk__complete(lk_kernel *k, int tid, int result, uintptr_t in_msg);

/* ---- fault injection, fault.c: every hook is called behind `k->faults != NULL` ------------- */

/* lk_ioctl's entry: FAIL and KILL ON_CALL. Returns 0, or the negative errno the call returns. */
int lk__fault_call(lk_kernel *k, int tid, const lk_ioctl_in *in, uint64_t now);
/* lk_ioctl's end: run the kills the command triggered. Returns ret, or -ERFKILL if the caller
   itself died (*out is then cleared). */
int lk__fault_after(lk_kernel *k, int tid, int ret, uint64_t now, lk_ioctl_out *out);
/* §4.3.3: true if a NOMEM fault makes this allocation fail. */
bool lk__fault_alloc(lk_kernel *k, const IpcMsg *hdr, int dst_tid, uint64_t now);
/* §4.3.8, before queuing node: true if a DROP or DELAY fault took it. */
bool lk__fault_enqueue(lk_kernel *k, const IpcMsg *hdr, int src_pid, int dst_tid, uint32_t node,
                       uint64_t now);
/* A message was queued to (ON_WRITTEN) or received by (ON_READ) tid: KILL triggers. */
void lk__fault_moved(lk_kernel *k, liteipc_fault_on on, const IpcMsg *m, int tid);
/* lk_kernel_tick: deliver the delayed messages now due, then run the kills that triggered. */
void lk__fault_tick(lk_kernel *k, uint64_t now);
/* The earliest due time of a delayed message, or UINT64_MAX. */
uint64_t lk__fault_next_due(const lk_kernel *k);
/* Task tid dies or execs: its delayed messages are dropped as its queue is (§7.2). */
void lk__fault_drain(lk_kernel *k, int tid, uint64_t now);
void lk__fault_free(lk_kernel *k);

/* kernel.c: kill task tid (-1: every task of process pid, then the process), as on the device. */
void lk__kill(lk_kernel *k, int pid, int tid, uint64_t now);
/* kernel_msg.c: queue node, written already in dst_tid's pool from the kernel's copy hdr of
   the message (§4.3.8), and wake the task. */
void lk__enqueue(lk_kernel *k, int src_tid, int src_pid, int dst_tid, uint32_t node,
                 const IpcMsg *hdr, uint64_t now);
/* kernel_msg.c: roll back the objects of a node of pid's pool and free it (§4.4.3). */
void lk__node_discard(lk_kernel *k, int pid, uint32_t node);

#endif /* LITEIPC_KERNEL_INT_H */
