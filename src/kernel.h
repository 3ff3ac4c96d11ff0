/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel.h - the LiteIPC driver as pure logic (private to the library).
 *
 * This layer holds every table of the simulated kernel (processes, tasks, the CMS record,
 * access maps, message queues) and every check and errno of the driver, in the device's order
 * (LITEIPC_REFERENCE sections 1 to 7). It never creates threads, blocks, reads a clock or makes
 * a system call: time comes in as an argument (`now`, CLOCK_MONOTONIC nanoseconds), user data
 * comes in already copied (struct lk_ioctl_in), and a receive that has to wait is *parked* in
 * the task's state and finished later by lk_kernel_tick() or by a write that satisfies it;
 * finished waits come out through lk_kernel_take_completion(). So it is deterministic and can
 * be tested with no broker at all.
 *
 * Memory: pools are regions given to lk_pool_attach() by the caller (the broker's writable
 * mapping, plus the address at which the owning process mapped it read-only). The kernel
 * allocates its tables once in lk_kernel_init() and a used-buffer bitmap per pool in
 * lk_pool_attach(); nothing is allocated per message.
 *
 * Errors: every function returns 0 or a non-negative value, or a negative errno.
 */
#ifndef LITEIPC_KERNEL_H
#define LITEIPC_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liteipc/lite_ipc.h>
#include <liteipc/liteipc.h>

#include "abi.h"

#define LK_MAX_TASKS 128         /* MAX_SERVICE_NUM */
#define LK_MAX_PROCS 64          /* LOSCFG_BASE_CORE_PROCESS_LIMIT */
#define LK_FIRST_USER_TID 8      /* TIDs below this are kernel tasks: never alive for LiteIPC */
#define LK_FIRST_USER_PID 3      /* 0 idle, 1 init, 2 kernel root */
#define LK_PAGE_SIZE 4096u
#define LK_INVALID_ID (-1)

/* Sender bytes of IpcMsg read from user memory (Q20), host layout. */
#define LK_MSG_SENDER_BYTES LITEIPC_IPCMSG_SENDER_BYTES

typedef struct lk_config {
    unsigned task_limit;    /* <= LK_MAX_TASKS, > LK_FIRST_USER_TID */
    unsigned process_limit; /* <= LK_MAX_PROCS, > LK_FIRST_USER_PID */
    size_t pool_max_size;   /* multiple of LK_PAGE_SIZE */
    unsigned data_max;      /* IPC_MSG_DATA_SZ_MAX */
    unsigned object_max;    /* IPC_MSG_OBJECT_NUM_MAX */
    uint64_t timeout_ns;    /* LITEIPC_TIMEOUT_NS: each sync wait and the reply deadline */
    int32_t driver_version; /* DRIVER_VERSION */
} lk_config;

/* The device's values. */
void lk_config_default(lk_config *cfg);

/* ---- events (the device's trace hooks) ------------------------------------------------------ */

typedef enum lk_event_type {
    LK_EV_MSG_WRITTEN,
    LK_EV_MSG_READ,
    LK_EV_RECV_WAIT,
    LK_EV_RECV_TIMEOUT,
    LK_EV_RECV_KILLED,
    LK_EV_DROP_ON_WRITE,
    LK_EV_DROP_ON_READ,
    LK_EV_TASK_DEATH,
    LK_EV_EXEC, /* src: the exec'ing task and its process */
    /* The access model (src: the task whose command it was; cmd: that command). */
    LK_EV_SET_CMS,        /* src became the ServiceManager (IPC_SET_CMS) */
    LK_EV_SET_IPC_THREAD, /* src became its process's IPC thread */
    LK_EV_GEN_HANDLE,     /* CMS_GEN_HANDLE handed out handle (dst: the task it names) */
    LK_EV_GRANT,          /* process grantee_pid may call handle (dst: its task), granted by
                             CMS_GEN_HANDLE or CMS_ADD_ACCESS (cms_cmd), or by an OBJ_SVC
                             object sent by src (cms_cmd -1, msg: the message carrying it) */
    LK_EV_REFUSED,        /* src's ioctl cmd failed with err (msg: the header it tried to
                             send, if it was a send that got that far) */
    LK_EV_INJECTED,       /* a fault was injected (fault, fault_id, fault_ms; see fault.c) */
} lk_event_type;

typedef struct lk_event {
    lk_event_type type;
    int err;                  /* positive errno for drops and timeouts, else 0 */
    uint64_t time_ns;         /* the `now` of the call that produced it */
    int32_t src_tid, src_pid; /* -1 if none */
    int32_t dst_tid, dst_pid; /* -1 if none */
    IpcMsg msg;               /* header of the message concerned, zeroed if none */
    uint32_t cmd;             /* access-model events: the ioctl request, else 0 */
    int32_t cms_cmd;          /* GEN_HANDLE, GRANT, REFUSED of IPC_CMS_CMD: its cmd, else -1 */
    int32_t handle;           /* GEN_HANDLE, GRANT: the service handle, else -1 */
    int32_t grantee_pid;      /* GRANT: the process granted access, else -1 */
    int32_t fault, fault_id;  /* INJECTED: liteipc_fault_kind and id, else -1 */
    uint32_t fault_ms;        /* INJECTED of a DELAY: its delay, else 0 */
} lk_event;

typedef void (*lk_event_fn)(void *ctx, const lk_event *ev);

/* ---- counters (liteipc_stats) ---------------------------------------------------------------- */

#define LK_STATS_ERRNO 134 /* errnos 1..133 (Linux's) are counted one by one; [0]: any other */

/*
 * What the kernel has done since it was created. Plain counters, bumped by the kernel's own
 * logic whether or not anyone listens to events: one increment per step, no atomics (only the
 * thread that runs the kernel writes them; read them between two calls, like the views).
 */
typedef struct lk_stats {
    uint64_t calls;          /* MT_REQUEST messages queued that expect a reply */
    uint64_t oneway;         /* MT_REQUEST messages queued with LITEIPC_FLAG_ONEWAY */
    uint64_t replies;        /* MT_REPLY messages queued */
    uint64_t failed_replies; /* MT_FAILED_REPLY messages queued */
    uint64_t death_notices;  /* MT_DEATH_NOTIFY messages queued */
    uint64_t received;       /* messages handed to a receiver */
    uint64_t bytes;          /* dataSz of every message queued */
    uint64_t timeouts;       /* synchronous waits ended with ETIME */
    uint64_t killed;         /* waits ended with ERFKILL by their process's death */
    uint64_t task_deaths, process_deaths;
    uint64_t drop_write[LK_STATS_ERRNO]; /* sends that failed after their checks began */
    uint64_t drop_read[LK_STATS_ERRNO];  /* messages thrown away unread: ENOMSG (a stale
                                            reply), ESRCH (the receiver died) */
    uint64_t refused[LK_STATS_ERRNO];    /* failed ioctls, by errno */
} lk_stats;

static inline unsigned lk_stats_slot(int err)
{
    return err > 0 && err < LK_STATS_ERRNO ? (unsigned)err : 0;
}

/* ---- hooks for what pure logic cannot do itself ---------------------------------------------- */

typedef struct lk_ops {
    /*
     * OBJ_FD: install in process dst_pid a duplicate of descriptor fd of process src_pid.
     * Returns the new descriptor number (>= 0) or -EBADF/-EPERM/-ESRCH/-EINVAL.
     * NULL: OBJ_FD fails with -EBADF.
     */
    int (*fd_dup)(void *ctx, int src_pid, int fd, int dst_pid);
    /* Rollback of an installed OBJ_FD: close descriptor fd in process pid. May be NULL. */
    void (*fd_close)(void *ctx, int pid, int fd);
    void *ctx;
} lk_ops;

/* ---- the kernel ------------------------------------------------------------------------------- */

typedef struct lk_kernel lk_kernel; /* opaque; see kernel.c */

/* Allocate and initialise a kernel. Returns 0, -EINVAL (bad config) or -ENOMEM. */
int lk_kernel_new(const lk_config *cfg, const lk_ops *ops, lk_kernel **out);
/* Free everything (pools' memory belongs to the caller and is not touched). */
void lk_kernel_free(lk_kernel *k);
const lk_config *lk_kernel_cfg(const lk_kernel *k);

/* Install or remove (fn NULL) the event sink. With none installed events cost one branch. */
void lk_kernel_set_event_sink(lk_kernel *k, lk_event_fn fn, void *ctx);

/* ---- processes and tasks ------------------------------------------------------------------- */

/*
 * A new process with no IPC state (as before its first open()). PIDs are handed out from
 * LK_FIRST_USER_PID; freed PIDs are reused last (FIFO, like LiteOS PCBs).
 * Returns the PID, or -EAGAIN when the process table is full.
 */
int lk_proc_create(lk_kernel *k, uint32_t uid, uint32_t gid);

/*
 * A child forked from parent_pid (§7.6): a new process which has IPC state iff the parent has,
 * with the parent's uvaddr, no pool mapped, no IPC thread, no grants, nothing queued.
 * Returns the PID, or -EAGAIN, or -ESRCH if parent_pid is not a live process.
 */
int lk_proc_fork(lk_kernel *k, int parent_pid, uint32_t uid, uint32_t gid);

/*
 * The ABI profile of pid (abi.h): how the kernel reads what it sends and writes what it
 * receives. A new process has LK_ABI_DEFAULT; a fork child its parent's. Set it before the
 * process's first message. Returns 0, -ESRCH, or -EINVAL (unknown profile).
 */
int lk_proc_set_abi(lk_kernel *k, int pid, int abi);
/* The profile of pid, or -ESRCH. */
int lk_proc_abi(const lk_kernel *k, int pid);

/*
 * The OBJ_FD objects of the message at user address in_msg in pid's pool: fn(ctx, fd, pos) for
 * each, pos being the pool offset of its fd field (the kernel's own, trusted node). Returns how
 * many, or -ESRCH/-EINVAL.
 */
int lk_msg_fd_objects(const lk_kernel *k, int pid, uintptr_t in_msg,
                      void (*fn)(void *ctx, uint32_t fd, uint32_t pos), void *ctx);

/*
 * Copy up to n of the first bytes of the data of msg, a message in pid's pool (the header of an
 * LK_EV_MSG_WRITTEN or LK_EV_MSG_READ event), to buf: the payload previews of traces. Returns
 * how many (0 if the data is not in that pool).
 */
size_t lk_msg_peek(const lk_kernel *k, int pid, const IpcMsg *msg, void *buf, size_t n);

/* The driver's open (§2.2): give pid its IPC state if it has none. Returns 0 or -ESRCH. */
int lk_proc_open(lk_kernel *k, int pid);

/*
 * Process death (exit, crash, kill): every remaining task of pid dies first (§7.2, Q18), a
 * task parked in a receive ending with -ERFKILL (reported as a completion and a RECV_KILLED
 * event), then the process's IPC state is destroyed (§7.3) and the PID freed. The pool memory
 * is the caller's to unmap afterwards. Returns 0 or -ESRCH.
 */
int lk_proc_exit(lk_kernel *k, int pid, uint64_t now);

/*
 * Exec by task tid (§7.7): every other task of its process dies as at process exit (§7.2, a
 * parked receive ending with -ERFKILL), the queue of tid is drained with rollback (Q17 fixed),
 * and the process's IPC state is destroyed (§7.3): its ioctls and mmaps fail with EINVAL until
 * it opens the device again. The process keeps its PID, tid its TID and IpcTaskInfo (the
 * processes allowed to call it; the CMS role if it has it). Emits LK_EV_EXEC. The pool memory
 * is the caller's to unmap afterwards. Returns 0, -ESRCH, or -EBUSY if tid is parked.
 */
int lk_proc_exec(lk_kernel *k, int tid, uint64_t now);

/*
 * A new task (thread) of process pid. TIDs are handed out lowest-first from
 * LK_FIRST_USER_TID; a freed TID is the next one handed out (LIFO, like LiteOS TCBs).
 * The task has no IpcTaskInfo yet (§1.4). Returns the TID, -EAGAIN, or -ESRCH.
 */
int lk_task_create(lk_kernel *k, int pid);

/*
 * Task death (§7.2): a parked receive is cancelled (no completion: the thread is gone), the
 * queue is drained with rollback, death notices are sent to every process in the access map,
 * and the TID is freed. Returns 0 or -ESRCH.
 */
int lk_task_exit(lk_kernel *k, int tid, uint64_t now);

/* PID owning tid, or -ESRCH. */
int lk_task_pid(const lk_kernel *k, int tid);

/* ---- mmap (§2.3) ------------------------------------------------------------------------------- */

/*
 * The driver's checks 1-5 for an mmap of `length` bytes (already rounded up to a page by the
 * caller's generic mmap layer) with prot/flags as given by the user. Returns 0 or the driver's
 * negative errno (-EINVAL, -EEXIST). A failure never forgets an existing pool (Q2 fixed).
 */
int lk_mmap_check(lk_kernel *k, int pid, size_t length, int prot, int flags);

/*
 * Steps 7-10: lay the allocator over kbase[0..size) (the caller's writable mapping of fresh
 * zeroed memory) and record that the process sees it at user address uvaddr. After this the
 * pool is mapped. Returns 0, -EINVAL (allocator refused / not checked), -ENOMEM.
 */
int lk_pool_attach(lk_kernel *k, int pid, void *kbase, uintptr_t uvaddr, size_t size);

/* ---- ioctl ------------------------------------------------------------------------------------- */

/*
 * The end of the user address range (§2.5 A): an argument range reaching past it is -EFAULT
 * before anything else is looked at.
 */
#if defined(__x86_64__)
#define LK_USER_TOP ((uint64_t)1 << 47)
#elif defined(__aarch64__)
#define LK_USER_TOP ((uint64_t)1 << 48)
#else
#define LK_USER_TOP ((uint64_t)UINTPTR_MAX)
#endif

/* lk_ioctl_in.faults: user memory the device layer could not read (a copy_from_user fault). */
#define LK_FAULT_ARG 1u    /* the CmsCmdContent or IpcContent at arg: -EINVAL where it is read */
#define LK_FAULT_OUTMSG 2u /* the header at outMsg: -EINVAL where it is read (§4.1 step 3.2) */

/* What the device layer copied in from the caller's memory before posting the command. */
typedef struct lk_ioctl_in {
    unsigned long cmd;
    uintptr_t arg;     /* the raw argument: a user pointer, or the number for IPC_SET_CMS */
    uint32_t faults;   /* LK_FAULT_*: what could not be read (its fields are then zero) */
    CmsCmdContent cms; /* IPC_CMS_CMD with arg != 0: the 12 bytes at arg */
    IpcContent content; /* IPC_SEND_RECV_MSG with arg != 0: the struct at arg */
    /*
     * IPC_SEND_RECV_MSG with SEND and content.outMsg != NULL: the first LK_MSG_SENDER_BYTES of
     * *outMsg; the remaining fields are zero.
     */
    IpcMsg out;
    lk_msg_hi out_hi; /* the high halves of a 64-bit target token/cookie (abi.h), else 0 */
    /* Copies of out.dataSz bytes at out.data, and of out.spObjNum offsets at out.offsets
       (converted to u32 from the sender's entry size; an entry past UINT32_MAX as UINT32_MAX),
       when the user pointers are non-NULL and the counts within the configured maxima; else
       NULL. Special objects inside data are in the sender's profile's layout. */
    const void *data;
    const uint32_t *offsets;
    /*
     * OBJ_PTR sources: copy n bytes at user address src of the sending process to dst.
     * Returns 0 or -EFAULT. NULL: every OBJ_PTR copy faults (-EFAULT).
     */
    int (*copy_from_user)(void *ctx, void *dst, uintptr_t src, size_t n);
    void *copy_ctx;
} lk_ioctl_in;

/* What the device layer must copy back to the caller's memory after a successful command. */
typedef enum lk_copyout {
    LK_COPYOUT_NONE,
    LK_COPYOUT_CMS,     /* write out.cms to the CmsCmdContent at arg */
    LK_COPYOUT_VERSION, /* write out.version to the IpcVersion at arg */
    LK_COPYOUT_INMSG,   /* write out.in_msg to ((IpcContent *)arg)->inMsg, and nothing else */
} lk_copyout;

#define LK_PARKED 1 /* lk_ioctl result: the receive waits; a completion will come later */

typedef struct lk_ioctl_out {
    lk_copyout copyout;
    CmsCmdContent cms;
    IpcVersion version;
    uintptr_t in_msg; /* user address of the received IpcMsg in the caller's pool */
} lk_ioctl_out;

/*
 * Run one ioctl of task tid, from the syscall layer's argument checks (§2.5 A) through the
 * driver's prelude (§2.5 B) to the command. Returns:
 *   >= 0 and != LK_PARKED  the ioctl result (IPC_SET_IPC_THREAD: the TID), with *out filled;
 *   LK_PARKED              a receive is waiting (the task is parked; sync waits have a
 *                          deadline of now + timeout_ns, restarted after each drop, Q7);
 *   < 0                    the driver's negative errno.
 * Side effects on other tasks (a parked receiver satisfied by this send) come out as
 * completions.
 */
int lk_ioctl(lk_kernel *k, int tid, const lk_ioctl_in *in, uint64_t now, lk_ioctl_out *out);

/* A parked receive that has ended. */
typedef struct lk_completion {
    int tid;
    int result;       /* 0, or -ETIME, -ENOENT, -ERFKILL */
    uintptr_t in_msg; /* when result == 0: write it to the IpcContent's inMsg */
} lk_completion;

/* Pop the oldest completion into *c. Returns 1 if there was one, 0 if none. */
int lk_kernel_take_completion(lk_kernel *k, lk_completion *c);

/* End every synchronous wait whose deadline is <= now (-ETIME completions). */
void lk_kernel_tick(lk_kernel *k, uint64_t now);

/* The earliest deadline of a parked synchronous receive, or UINT64_MAX if none. */
uint64_t lk_kernel_next_deadline(const lk_kernel *k);

/* Is tid parked in a receive? (for the broker's bookkeeping and for tests) */
bool lk_task_is_parked(const lk_kernel *k, int tid);

/*
 * Cancel a parked receive without a result (used when the kernel stops). Returns 0 or -ESRCH.
 */
int lk_task_unpark(lk_kernel *k, int tid);

/* ---- fault injection (fault.c) ------------------------------------------------------------ */

/*
 * Arm fault f (liteipc.h). Returns its id (>= 0), -EINVAL, -ENOSPC or -ENOMEM. Until the first
 * one, faults cost the kernel one untaken branch per hook.
 */
int lk_kernel_fault_add(lk_kernel *k, const liteipc_fault *f);
/* Disarm every fault; messages already delayed are still delivered when due. */
void lk_kernel_fault_clear(lk_kernel *k);

/* A victim of a KILL fault, already dead in the kernel: the broker finishes the job. */
typedef struct lk_kill {
    int pid; /* its process (the process itself if tid is -1) */
    int tid; /* the task killed alone, or -1 for the whole process */
} lk_kill;

/* Pop the oldest kill into *kill. Returns 1 if there was one, 0 if none. */
int lk_kernel_take_kill(lk_kernel *k, lk_kill *kill);

/* ---- read-only views, for tests and the state dump ------------------------------------------- */

typedef struct lk_proc_view {
    bool in_use;
    bool has_ipc;          /* ProcIpcInfo exists */
    bool pool_mapped;      /* IsPoolMapped */
    uintptr_t uvaddr;
    size_t pool_size;
    int ipc_task;          /* -1 if none */
    unsigned used_buffers; /* entries of the used list */
    size_t pool_peak;      /* the most pool bytes ever taken at once (blocks and their
                              headers), since the pool was mapped */
    uint64_t access[2];    /* access[t] bit t%64 of word t/64 */
} lk_proc_view;

typedef struct lk_task_view {
    bool in_use;
    int pid;
    bool has_info;       /* IpcTaskInfo exists */
    unsigned queued;     /* messages in its queue */
    uint64_t access_map; /* bit p: process p may send requests to it */
    bool parked;
    bool parked_sync;
} lk_task_view;

typedef struct lk_cms_view {
    HandleStatus status;
    int task;          /* TID of the CMS task; 0 before IPC_SET_CMS */
    uint32_t max_msg_size;
} lk_cms_view;

int lk_proc_view_get(const lk_kernel *k, int pid, lk_proc_view *v);
int lk_task_view_get(const lk_kernel *k, int tid, lk_task_view *v);
void lk_cms_view_get(const lk_kernel *k, lk_cms_view *v);
/* Copy k's counters to *out. */
void lk_kernel_stats(const lk_kernel *k, lk_stats *out);
/*
 * A refusal decided outside lk_ioctl (a bad descriptor, a fault writing a result, mmap's checks,
 * a connection refused): counted, and an LK_EV_REFUSED event of task tid of process pid (-1:
 * none) for command cmd (an ioctl request, or LITEIPC_CMD_MMAP / LITEIPC_CMD_OPEN).
 */
void lk_note_refused(lk_kernel *k, int pid, int tid, uint32_t cmd, int err, uint64_t now);
/* The pool base (broker mapping) of pid, or NULL if not mapped: for pool statistics. */
void *lk_proc_pool_base(const lk_kernel *k, int pid);

#endif /* LITEIPC_KERNEL_H */
