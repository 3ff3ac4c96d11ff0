/* SPDX-License-Identifier: Apache-2.0 */
/*
 * liteipc.h - the liteipc-sim API: start and stop simulated LiteIPC kernels, run virtual
 * processes, and call the device (/dev/lite_ipc) as functions.
 *
 * Conventions:
 *   - Management functions (liteipc_kernel_*, liteipc_vproc_*, liteipc_subscribe, ...) return 0
 *     or a positive value on success and a negative errno on failure. They never set errno.
 *   - Device functions (liteipc_open, liteipc_mmap, liteipc_ioctl, liteipc_close, liteipc_read,
 *     liteipc_write, liteipc_munmap) return what the system call returns on the device: a
 *     non-negative result, or -1 (MAP_FAILED for mmap) with errno set to the driver's error.
 *
 * A "process" below is a simulated LiteOS process: either the host process itself (the
 * default for threads that are not part of a virtual process), a virtual process (a group of
 * host threads, see liteipc_vproc_spawn), or a child created by fork(). A "task" is a host
 * thread that has used the device; it gets a small task ID (never 0) on its first device call.
 */
#ifndef LITEIPC_LITEIPC_H
#define LITEIPC_LITEIPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <liteipc/lite_ipc.h>
#include <liteipc/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library linked in, "MAJOR.MINOR.PATCH": LITEIPC_VERSION_STRING is that of
   the headers (include/liteipc/version.h). */
const char *liteipc_version(void);

/* The symbolic name of an errno value, positive or negative: "EACCES" for EACCES or -EACCES,
   "OK" for 0, "EUNKNOWN" for a value that is no errno of this host. Never NULL. */
const char *liteipc_errno_name(int err);

/* ---- kernels ---------------------------------------------------------------------------- */

typedef struct liteipc_kernel liteipc_kernel;

/* Defaults of the host limits of liteipc_config (not the device's: it has no such limits). */
#define LITEIPC_FD_PENDING_MAX 128
#define LITEIPC_CONN_USER_MAX 256

/* Kernel limits. Every field defaults to the device's value (liteipc_config_init). */
typedef struct liteipc_config {
    unsigned task_limit;       /* TIDs 0..task_limit-1; at most 128 (MAX_SERVICE_NUM) */
    unsigned process_limit;    /* PIDs 0..process_limit-1; at most 64 */
    size_t pool_default_size;  /* 65536: LITE_IPC_POOL_DEFAULT_SIZE, for programs to use */
    size_t pool_max_size;      /* 262144: largest pool mmap accepts */
    unsigned data_max;         /* 6553: IPC_MSG_DATA_SZ_MAX */
    unsigned object_max;       /* 409: IPC_MSG_OBJECT_NUM_MAX */
    unsigned reply_timeout_ms; /* 5000: each synchronous wait, and the reply deadline */
    int32_t driver_version;    /* 2: what IPC_GET_VERSION reports */
    /* Host limits, not the device's: what one process may make the broker hold. */
    unsigned fd_pending_max;   /* 128: OBJ_FD files a process has sent that are not yet
                                  received; past it its send fails with ENOMEM */
    unsigned conn_user_max;    /* 256: connections of one host user (programs of the host
                                  itself excepted); past it the device's open fails EUSERS */
    /* Not the device's: false (the host's CLOCK_MONOTONIC). true: the kernel's clock is
       virtual and moves only when the host says so (see "virtual time" below). */
    bool virtual_time;
    /* Deterministic interleavings (docs/TESTING.md): with deterministic set, the broker runs
       a command only when every thread of the kernel's virtual processes (and the thread that
       called liteipc_kernel_start, while it does not wait in liteipc_vproc_join) is inside a
       device call or has ended, and picks which of the posted commands runs from sched_seed.
       Other host threads and real processes are not waited for. */
    unsigned deterministic;    /* 0: off (default), 1: on */
    unsigned sched_stall_ms;   /* 1000: a thread outside the device this long (blocked on
                                  something else) makes the broker run a command anyway; the
                                  run is then not reproducible (liteipc_sched_forced) */
    uint64_t sched_seed;       /* 0: the PRNG's seed */
} liteipc_config;

/* Fill *cfg with the device's values. */
void liteipc_config_init(liteipc_config *cfg);

/*
 * Start a kernel whose broker thread runs in the calling process. cfg may be NULL for the
 * device's defaults. Several kernels may run at once, in one process or in parallel tests.
 * Returns 0, or -EINVAL (a limit out of range), -ENOMEM, or the error of a failed system call.
 */
int liteipc_kernel_start(const liteipc_config *cfg, liteipc_kernel **out);

/*
 * Stop a kernel: every process attached to it is destroyed as on the device, callers still
 * blocked in it return -1/ESHUTDOWN (as does every later call, in any process), and every
 * resource is freed once the virtual processes have been joined. Call it from the process that
 * started the kernel. Returns 0, -EINVAL if k is NULL, -EPERM if this process does not host k
 * (a fork child, or an attached program: see liteipc_kernel_detach) or stopped it already.
 */
int liteipc_kernel_stop(liteipc_kernel *k);

/* The configuration the kernel runs with. */
const liteipc_config *liteipc_kernel_config(const liteipc_kernel *k);

/* ---- named kernels, shared by separate programs --------------------------------------------- */

/*
 * Programs reach a kernel by its device name: 1 to 64 characters among [A-Za-z0-9._-]. A name
 * is private to the host user (two users may each serve "lite_ipc"). Nothing of a kernel is
 * left in the filesystem or in /dev/shm: its name and memory vanish with its last process.
 */
#define LITEIPC_DEVICE_ENV "LITEIPC_DEVICE"
/*
 * Tuning, read when a kernel is started or attached in this process: how long (ns, 0 to 1000000)
 * a device call polls for the broker's answer, or, when it ran the kernel itself and waits for
 * another task, for that answer, before sleeping; default 5000. 0 never polls:
 * every call sleeps and every wake-up is the broker's (slower; for machines where a polling
 * thread is not welcome). docs/PERFORMANCE.md explains the polling.
 */
#define LITEIPC_POLL_ENV "LITEIPC_POLL_NS"
/*
 * Read when a kernel is started: "0" makes every device call of a virtual process go through
 * the broker thread. By default such a call runs the kernel on the calling thread (the device
 * runs an ioctl in its caller's context), under the kernel's lock, unless the kernel is in
 * virtual time or deterministic, a real process is connected, or a fault was armed
 * (docs/PERFORMANCE.md). Observable behaviour is the same either way; only speed differs.
 */
#define LITEIPC_CALLER_KERNEL_ENV "LITEIPC_CALLER_KERNEL"
#define LITEIPC_DEFAULT_DEVICE "lite_ipc"

/*
 * ABI profiles (docs/ABI.md). No LP64 device exists, so each OpenHarmony user stack lays out
 * the driver's structures its own way on a 64-bit host; every simulated process speaks one
 * profile, and the kernel reads what it sends and writes what it receives in that profile:
 *   LITEIPC_ABI_DEFAULT            <liteipc/lite_ipc.h>: host structs, u32 offset entries;
 *   LITEIPC_ABI_IPC_LITE           communication_ipc_lite: the same structs, size_t offsets;
 *   LITEIPC_ABI_COMMUNICATION_IPC  communication_ipc: SvcIdentity {int32; uintptr_t; uintptr_t},
 *                                  a 96-byte IpcMsg, 32-byte SpecialObj, size_t offsets.
 * A host process's default process (and a fork child's, and an exec'd program's) takes its
 * profile from $LITEIPC_ABI ("default" or unset, "ipc_lite", "communication_ipc"): any other
 * value is reported on stderr and every device call of that process fails with EINVAL.
 * A virtual process's is chosen with liteipc_vproc_spawn_abi.
 */
#define LITEIPC_ABI_ENV "LITEIPC_ABI"

typedef enum liteipc_abi {
    LITEIPC_ABI_DEFAULT = 0,
    LITEIPC_ABI_IPC_LITE = 1,
    LITEIPC_ABI_COMMUNICATION_IPC = 2,
} liteipc_abi;

/* The device name this program uses: $LITEIPC_DEVICE if set and valid, else "lite_ipc". */
const char *liteipc_device_name(void);

/*
 * Start a kernel, hosted by this process, that other programs can attach to by name (what
 * liteipcd does). Returns 0, -EEXIST if a running kernel already serves that name, -EINVAL
 * (bad name or configuration), -EOPNOTSUPP (cfg->virtual_time: programs attached by name run
 * on their own, so nothing could tell when they are idle), or another negative errno.
 */
int liteipc_kernel_serve(const char *name, const liteipc_config *cfg, liteipc_kernel **out);

/*
 * Attach to the kernel served under name by another process. The returned handle works like
 * one from liteipc_kernel_start (device calls, virtual processes, fork) except that it cannot
 * be stopped, only detached. Returns 0, -ENOENT if no kernel serves that name, -EPROTO if
 * another build of the library serves it (a 32-bit program and a 64-bit daemon, or the reverse,
 * never share a kernel), or -errno.
 */
int liteipc_kernel_attach(const char *name, liteipc_kernel **out);

/*
 * Attach to the kernel served under name, first starting one if none is running: a liteipcd
 * process that lives as long as any process uses the kernel and exits, leaving nothing, when
 * the last one has gone. The daemon is $LITEIPCD, else the liteipcd of the installation this
 * library belongs to (found next to the shared library or program, or where the static library
 * was installed), of the build tree for its own programs, or on PATH. Returns 0, or -errno
 * (-ENOEXEC if no liteipcd was found: the places tried are printed on stderr).
 */
int liteipc_kernel_attach_or_start(const char *name, liteipc_kernel **out);

/*
 * End this program's use of an attached kernel: its simulated processes exit as processes do
 * on the device, and k is freed. Returns 0, or -EINVAL (NULL, or a kernel this process hosts:
 * use liteipc_kernel_stop).
 */
int liteipc_kernel_detach(liteipc_kernel *k);

/*
 * Host side: wait until no simulated process is attached any more (after at least one has
 * been), or until timeout_ms has passed (-1: forever).
 * Returns 0 when idle, -ETIMEDOUT, or -EINVAL. Used by liteipcd to exit when unused.
 */
int liteipc_kernel_wait_unused(liteipc_kernel *k, int timeout_ms);

/* Simulated processes attached right now (host side), or -EINVAL. */
int liteipc_kernel_process_count(liteipc_kernel *k);

/* ---- identity of the caller --------------------------------------------------------------- */

/* The simulated PID of the calling thread's process, or a negative errno. */
int liteipc_self_pid(liteipc_kernel *k);
/* The simulated TID of the calling thread (attaching it as a task if needed), or -errno. */
int liteipc_self_tid(liteipc_kernel *k);

/* ---- names --------------------------------------------------------------------------------- */

/*
 * Names shown by events (liteipc_event), the Mermaid trace and the dump. A task is named after
 * its host thread (pthread_setname_np) when it first uses the device, and a process after its
 * program (comm) when it connects; these calls change them. Set the calling thread's task name
 * (attaching the thread as a task if needed); NULL reads the thread's name again (after a
 * pthread_setname_np). Returns 0, -ERANGE (15 bytes at most), or -errno.
 */
int liteipc_set_task_name(liteipc_kernel *k, const char *name);
/* Name the calling thread's simulated process. Returns 0, -ERANGE, -EINVAL (NULL), or -errno. */
int liteipc_set_process_name(liteipc_kernel *k, const char *name);

/* ---- virtual processes ------------------------------------------------------------------- */

typedef struct liteipc_vproc liteipc_vproc;
typedef void *(*liteipc_thread_fn)(void *arg);

/*
 * Run fn(arg) on a new host thread that is the first task of a new simulated process. The
 * process ends, as a process exits on the device, when its last thread has returned.
 * Returns 0, or -EAGAIN (process limit), -ENOMEM, or a pthread_create error.
 */
int liteipc_vproc_spawn(liteipc_kernel *k, liteipc_thread_fn fn, void *arg, liteipc_vproc **out);

/* liteipc_vproc_spawn of a process speaking ABI profile abi. Returns as it does, or -EINVAL
   for an unknown profile. */
int liteipc_vproc_spawn_abi(liteipc_kernel *k, liteipc_abi abi, liteipc_thread_fn fn, void *arg,
                            liteipc_vproc **out);

/* Run fn(arg) on a new host thread of an existing virtual process. Returns 0 or -errno. */
int liteipc_vproc_add_thread(liteipc_vproc *vp, liteipc_thread_fn fn, void *arg);

/*
 * Wait for every thread of vp to return, then free vp. *first_result (may be NULL) receives
 * the return value of the thread started by liteipc_vproc_spawn. Returns 0 or -errno.
 */
int liteipc_vproc_join(liteipc_vproc *vp, void **first_result);

/* The simulated PID of a virtual process (assigned when it was spawned). */
int liteipc_vproc_pid(const liteipc_vproc *vp);

/* ---- exec ---------------------------------------------------------------------------------- */

/*
 * The calling thread's process execs (§7.7 of the device's behaviour). The process keeps its
 * PID and the thread its TID, with the processes allowed to call it (and the CMS role if it has
 * it), but the process's IPC state is destroyed: its pool is unmapped, the grants it held are
 * withdrawn, messages queued to the thread are dropped (their senders are not told), and every
 * ioctl and mmap fails with EINVAL (mmap: MAP_FAILED, errno ENOMEM) until the process calls
 * liteipc_open again, which starts from scratch. Device descriptors opened with O_CLOEXEC are
 * closed; the others stay open. On the device exec kills the process's other threads; here
 * they must have ended first. Returns 0, -EBUSY (another thread of the process is a task),
 * -ESHUTDOWN (the kernel is gone) or -EINVAL.
 */
int liteipc_exec(liteipc_kernel *k);

/* ---- the device as function calls ---------------------------------------------------------- */

/*
 * open("/dev/lite_ipc", flags). The path is accepted for symmetry and must be the driver's
 * path (LITEIPC_DRIVER) or NULL; any other path gives ENOENT. The returned descriptor is a real
 * descriptor number of the host (it refers to /dev/null), owned by the caller's simulated
 * process. Close it with liteipc_close.
 */
int liteipc_open(liteipc_kernel *k, const char *path, int flags);
int liteipc_close(liteipc_kernel *k, int fd);
void *liteipc_mmap(liteipc_kernel *k, void *addr, size_t length, int prot, int flags, int fd,
                   off_t offset);
int liteipc_munmap(liteipc_kernel *k, void *addr, size_t length);
/*
 * mprotect(addr, len, prot), as the device answers it (driver 2024-09): -1/EPERM if the range
 * touches any LiteIPC region of k mapped in this host (a pool, a channel region or the bell of
 * any simulated process of this host), else the host's mprotect. The compat library and the
 * LD_PRELOAD shim route mprotect here, so device code calling mprotect gets the same answer.
 */
int liteipc_mprotect(liteipc_kernel *k, void *addr, size_t len, int prot);
/*
 * ioctl(fd, request, arg): arg is a pointer, or an integer for IPC_SET_CMS. User memory is read
 * and written as the driver's copy_from_user/copy_to_user do: a bad pointer gives the driver's
 * error in the driver's order (EINVAL for an unreadable IpcContent, CmsCmdContent or outMsg, or
 * an inMsg that cannot be written; EFAULT past the user address range, and where the driver's
 * copy of data, offsets or a result would fault, docs/DEVIATIONS.md Q12), never a crash.
 */
int liteipc_ioctl(liteipc_kernel *k, int fd, unsigned long request, ...);
ssize_t liteipc_read(liteipc_kernel *k, int fd, void *buf, size_t count);
ssize_t liteipc_write(liteipc_kernel *k, int fd, const void *buf, size_t count);

/* ---- virtual time ----------------------------------------------------------------------------- */

/*
 * A kernel started with cfg.virtual_time reads a virtual clock instead of CLOCK_MONOTONIC: it
 * starts at 0 when the kernel starts and moves only through the calls below, so the device's
 * 5 s reply timeout costs no wall time. Everything the kernel computes from the time follows
 * it: the deadline of each synchronous wait (restarted after a drop, Q7), the reply deadline
 * of a request, message timestamps and liteipc_event.time_ns (hence traces and diagrams).
 * The host-side timers of the simulator (the broker's polling, its checks of wake-ups handed
 * to callers, a sleeping caller's look at whether the kernel still lives) stay on the host
 * clock: they change when things happen, never what happens.
 *
 * These calls are host side (the process that started the kernel), made from a thread that is
 * not a task blocked in the kernel (the test's own thread). The broker serves them between two
 * commands; one runs at a time (the others wait their turn). Each returns -EINVAL if k is NULL
 * or does not run in virtual time, -EPERM in another process than the host (a fork child, or a
 * program attached by name), -ESHUTDOWN if the kernel is being stopped meanwhile.
 *
 * Works with virtual processes. Real processes (fork children of the host) run on the virtual
 * clock too, but liteipc_time_run_until_idle does not wait for them; a kernel served by name
 * (liteipc_kernel_serve, liteipcd) cannot run in virtual time: -EOPNOTSUPP.
 */

/* The virtual clock, in nanoseconds since the kernel started, or a negative errno. */
int64_t liteipc_time_now(liteipc_kernel *k);

/*
 * Move the virtual clock forward by ns. Every deadline reached on the way fires in order, the
 * clock reading each deadline's own time when it fires (its events carry that time), and the
 * tasks it ends (ETIME) have been completed when this returns. The move is one step for the
 * tasks: a task woken by it runs its next device call at the new time, after the move (to let
 * it run in between, move to each deadline in turn: liteipc_time_advance_to_next and
 * liteipc_time_run_until_idle). Returns 0, -EOVERFLOW (past INT64_MAX ns), or as above.
 */
int liteipc_time_advance(liteipc_kernel *k, uint64_t ns);

/*
 * Move the virtual clock to the earliest pending deadline and fire the deadlines due then.
 * Returns how far it moved (ns, 0 if that deadline was now), -ENOENT if no task waits with a
 * deadline (the clock does not move), or as above.
 */
int64_t liteipc_time_advance_to_next(liteipc_kernel *k);

/*
 * Wait until the kernel is idle: no device call posted or being served, and every thread of
 * every virtual process of this host is either blocked in a device call the kernel has parked
 * (a receive, or a synchronous call waiting for its answer) or has returned. Threads outside
 * the virtual processes (the caller's, the default process's, fork children's) are not waited
 * for. A thread counts from liteipc_vproc_spawn / liteipc_vproc_add_thread until its process
 * has ended (for the last one) or its task has, so idle means: nothing can happen in the
 * kernel until the clock moves or a thread that is not counted acts. The clock does not move.
 * timeout_ms (host time; -1: no limit; 0: look once) bounds the wait for threads that never
 * block. Returns 0, -ETIMEDOUT, or as above.
 */
int liteipc_time_run_until_idle(liteipc_kernel *k, int timeout_ms);

/* ---- observability --------------------------------------------------------------------------- */

/* One step of the kernel, as the device's trace hooks report it. */
typedef enum liteipc_event_type {
    LITEIPC_EV_MSG_WRITTEN,    /* a message was queued to dst */
    LITEIPC_EV_MSG_READ,       /* dst received a message */
    LITEIPC_EV_RECV_WAIT,      /* dst blocks in a receive (sync: with a deadline) */
    LITEIPC_EV_RECV_TIMEOUT,   /* dst's synchronous wait ended with ETIME */
    LITEIPC_EV_RECV_KILLED,    /* dst was waiting when its process died (ERFKILL) */
    LITEIPC_EV_DROP_ON_WRITE,  /* a send failed after its checks began; err says why */
    LITEIPC_EV_DROP_ON_READ,   /* dst's receive threw a message away */
    LITEIPC_EV_TASK_DEATH,     /* task src ended; its queue was drained */
    LITEIPC_EV_EXEC,           /* task src exec'd (liteipc_exec): its process lost its IPC state */
    /* The access model: src is the task whose ioctl it was, cmd that ioctl's request. */
    LITEIPC_EV_SET_CMS,        /* src became the ServiceManager (IPC_SET_CMS) */
    LITEIPC_EV_SET_IPC_THREAD, /* src became its process's IPC thread (IPC_SET_IPC_THREAD) */
    LITEIPC_EV_GEN_HANDLE,     /* CMS_GEN_HANDLE gave out handle, naming task dst */
    LITEIPC_EV_GRANT,          /* process grantee_pid may now call handle (task dst): granted by
                                  the ServiceManager (cms_cmd CMS_GEN_HANDLE or CMS_ADD_ACCESS)
                                  or by an OBJ_SVC object src sent (cms_cmd -1; msg: the
                                  message that carried it) */
    LITEIPC_EV_REFUSED,        /* src's ioctl cmd failed with err (EACCES, EINVAL, ENOMEM...);
                                  cms_cmd for IPC_CMS_CMD; msg: the header of a refused send,
                                  and handle its target (-1: the ioctl sent no message) */
    LITEIPC_EV_INJECTED,       /* fault fault_id (liteipc_fault_add) of kind fault was injected:
                                  src is the caller or sender, dst the receiver or the victim of
                                  a kill (dst_tid -1: its whole process), msg the message, cmd
                                  the ioctl, err the errno injected (FAIL, NOMEM) */
} liteipc_event_type;

/*
 * LITEIPC_EV_REFUSED's cmd for refusals of calls that are no ioctl (every ioctl request is
 * larger). Refusals decided outside the driver's ioctl code are events too: mmap refused by the
 * generic mmap layer (EINVAL, EACCES, EBADF) or by the driver (EINVAL, EEXIST: the caller sees
 * ENOMEM), cmd LITEIPC_CMD_MMAP; an ioctl on a descriptor that is not this process's device
 * descriptor (EBADF), and a fault writing an ioctl's result (EINVAL for inMsg, EFAULT), cmd the
 * request; a connection turned away because its user has conn_user_max (EUSERS), cmd
 * LITEIPC_CMD_OPEN, src -1 and src_host_pid the program's PID. Those decided in the calling
 * program are reported by it to the kernel without waiting (one lost if its connection is
 * full). ESHUTDOWN is never an event: the kernel is gone. Nor are read, write and close.
 */
#define LITEIPC_CMD_MMAP 0u
#define LITEIPC_CMD_OPEN 1u
/* The most bytes of a message's data an event carries as its payload preview. */
#define LITEIPC_PREVIEW_MAX 16

typedef struct liteipc_event {
    liteipc_event_type type;
    int err;           /* 0, or the positive errno of a drop or timeout */
    uint64_t time_ns;  /* the kernel's clock: CLOCK_MONOTONIC, or the virtual clock */
    int32_t src_tid, src_pid; /* sender (or the dead task for TASK_DEATH); -1 if none */
    int32_t dst_tid, dst_pid; /* receiver; -1 if none */
    IpcMsg msg;        /* the message header (pointers are not meaningful); zero if none */
    /* The host process behind src_pid / dst_pid and its program name (comm), as identified
       when it connected; 0 and "" if none. */
    int32_t src_host_pid, dst_host_pid;
    char src_prog[16], dst_prog[16];
    /* The tasks' names (their threads' names when they first used the device, or as set with
       liteipc_set_task_name); "" if none. src_prog/dst_prog become the name given with
       liteipc_set_process_name. */
    char src_task[16], dst_task[16];
    /* The access-model events (SET_CMS to REFUSED); 0 / -1 for the others. */
    uint32_t cmd;        /* the ioctl request (IPC_SET_CMS, IPC_CMS_CMD, IPC_SEND_RECV_MSG...) */
    int32_t cms_cmd;     /* CMS_GEN_HANDLE, CMS_ADD_ACCESS...: the CmsCmdContent's cmd, or -1 */
    int32_t handle;      /* GEN_HANDLE, GRANT: the service handle; REFUSED: a refused send's
                            target handle; or -1 */
    int32_t grantee_pid; /* GRANT: the process that may now call handle, or -1 */
    char grantee_prog[16]; /* its program name, as src_prog */
    /* INJECTED: the fault's kind (liteipc_fault_kind), its id, and for a DELAY its delay in
       ms of kernel time; -1, -1, 0 for the other events. */
    int32_t fault, fault_id;
    uint32_t fault_ms;
    /* MSG_WRITTEN, MSG_READ: the first preview_len bytes of the message's data, copied only
       while a trace asked for payload previews (LITEIPC_TRACE_PREVIEW); else 0. */
    uint32_t preview_len;
    unsigned char preview[LITEIPC_PREVIEW_MAX];
} liteipc_event;

typedef void (*liteipc_event_fn)(const liteipc_event *ev, void *ctx);

/*
 * Report every event of k to fn(ev, ctx), called by whoever runs the kernel: the broker thread,
 * or the thread of a virtual process inside its own device call (LITEIPC_CALLER_KERNEL_ENV),
 * always under the kernel's lock, so never two calls at once and in the kernel's order. fn must
 * be quick, must not call the device and must not wait for another task's progress. Returns a
 * subscription id (>= 0), or -ENOSPC (at most 8).
 * With no subscriber the kernel pays nothing but one untaken branch per step.
 */
int liteipc_subscribe(liteipc_kernel *k, liteipc_event_fn fn, void *ctx);
int liteipc_unsubscribe(liteipc_kernel *k, int id);

const char *liteipc_event_name(liteipc_event_type type);

/*
 * Draw k's events, from now until liteipc_trace_stop, as a Mermaid sequence diagram on out (text
 * that GitHub and many Markdown viewers render; see docs/USAGE.md). One participant per task,
 * named after it, one arrow per message the kernel queues (request ->>, one-way -), reply -->>,
 * death notice --), a send that failed -x), one note per wait, timeout, drop, task death, exec,
 * IPC_SET_CMS, IPC_SET_IPC_THREAD, handle generated, grant and refused command. The lines are
 * written on the broker thread, which waits while out blocks: give a file or a memory stream,
 * not a pipe nobody drains. Host side only. Returns 0 and *trace, or -EINVAL, -EPERM (an
 * attached kernel), -ENOSPC (8 subscribers already) or -ENOMEM.
 */
typedef struct liteipc_trace liteipc_trace;
int liteipc_trace_start(liteipc_kernel *k, FILE *out, liteipc_trace **trace);
/* Stop drawing, flush out (it stays open) and free trace. Returns 0 or -errno. */
int liteipc_trace_stop(liteipc_trace *trace);

/*
 * What liteipc_trace_start_format draws: one format, optionally with payload previews.
 *   LITEIPC_TRACE_MERMAID  the diagram of liteipc_trace_start.
 *   LITEIPC_TRACE_CHROME   Chrome trace-event JSON, for ui.perfetto.dev and chrome://tracing: a
 *                          track per task (pid: simulated process, tid: task, both named),
 *                          slices for calls (a request until its reply) and waits, a flow
 *                          arrow per message from its write to its read, instants for grants,
 *                          refusals (with the errno's name), drops, timeouts, deaths and exec;
 *                          time in µs from the first event. liteipc_trace_stop ends the slices
 *                          still open and the JSON, so the file is valid whenever it stops.
 *   LITEIPC_TRACE_PREVIEW  (or'ed) the first bytes of each message's data (text if printable,
 *                          else hex): in the arrows' labels, or as the JSON's args. The kernel
 *                          copies them only while such a trace runs.
 */
#define LITEIPC_TRACE_MERMAID 0u
#define LITEIPC_TRACE_CHROME 1u
#define LITEIPC_TRACE_PREVIEW 0x100u
/* liteipc_trace_start in the format given. Returns as it does, or -EINVAL (unknown format). */
int liteipc_trace_start_format(liteipc_kernel *k, FILE *out, unsigned format,
                               liteipc_trace **trace);

/*
 * Write a snapshot of k's tables to out, as text for a human: the ServiceManager, every process
 * (the host process behind it, "process 3 (host 12345 samgr)", its pool and its use, IPC
 * thread, the services it was granted) and every task (messages queued,
 * what it waits for, the processes granted access to it). Written by the broker thread between
 * two commands, so it is consistent (and the kernel waits while out blocks). Host side only,
 * like liteipc_subscribe; for a kernel served by liteipcd, send the daemon SIGUSR2. Returns 0,
 * -EINVAL, -EPERM (an attached kernel), or the error of flushing out.
 */
int liteipc_kernel_dump(liteipc_kernel *k, FILE *out);

/* ---- counters ------------------------------------------------------------------------------ */

/* Refusals and drops are counted per errno 1..LITEIPC_STATS_ERRNO-1; [0] counts any other. */
#define LITEIPC_STATS_ERRNO 134
#define LITEIPC_STATS_PROCS 64 /* the most processes a kernel has */

/* One live simulated process and its pool. */
typedef struct liteipc_proc_stats {
    int32_t pid;         /* the simulated PID */
    int32_t host_pid;    /* the host process behind it, and its program name, as identified */
    char prog[16];       /* when it connected (or named with liteipc_set_process_name) */
    uint64_t pool_size;  /* 0 while no pool is mapped */
    uint64_t pool_used;  /* bytes its messages take in the pool now (with allocator headers) */
    uint64_t pool_peak;  /* the most pool_used has been since the pool was mapped */
} liteipc_proc_stats;

/*
 * What a kernel has done since it started. The kernel counts whether or not anyone subscribes
 * (a plain increment per step, on the broker thread). A message is counted when it is queued.
 */
typedef struct liteipc_stats {
    uint64_t uptime_ns;       /* since the kernel started */
    uint64_t calls;           /* requests queued that expect a reply (IPC_SEND_RECV_MSG) */
    uint64_t oneway;          /* requests queued with LITEIPC_FLAG_ONEWAY */
    uint64_t replies;         /* MT_REPLY queued */
    uint64_t failed_replies;  /* MT_FAILED_REPLY queued */
    uint64_t death_notices;   /* MT_DEATH_NOTIFY queued by the kernel */
    uint64_t received;        /* messages handed to a receiver */
    uint64_t bytes;           /* payload (dataSz) of the messages queued */
    uint64_t timeouts;        /* synchronous waits ended with ETIME */
    uint64_t killed;          /* waits ended with ERFKILL by their process's death */
    uint64_t task_deaths;     /* tasks ended (each drains its queue, sends death notices) */
    uint64_t process_deaths;  /* simulated processes ended */
    /* Sends that failed after their checks began (as LITEIPC_EV_DROP_ON_WRITE), by errno. */
    uint64_t drop_write[LITEIPC_STATS_ERRNO];
    /* Messages thrown away unread (LITEIPC_EV_DROP_ON_READ): ENOMSG, a reply nobody waits for;
       ESRCH, queued to a task that died. */
    uint64_t drop_read[LITEIPC_STATS_ERRNO];
    /* Failed ioctls (LITEIPC_EV_REFUSED), by errno. A failed send counts here and in
       drop_write when it failed after its checks began. */
    uint64_t refused[LITEIPC_STATS_ERRNO];
    uint32_t nprocs;          /* entries of procs, by PID */
    liteipc_proc_stats procs[LITEIPC_STATS_PROCS];
} liteipc_stats;

/*
 * Copy k's counters to *out, read by the broker thread between two commands (like the dump).
 * Host side only; for a kernel served by liteipcd, run `liteipcctl stats`. Returns 0, -EINVAL,
 * or -EPERM (an attached kernel).
 */
int liteipc_kernel_stats(liteipc_kernel *k, liteipc_stats *out);
/* ---- fault injection ------------------------------------------------------------------------ */

/*
 * Make the kernel misbehave on purpose, at an exact point of its logic, so that a test can see
 * what a program does when the device fails, loses or delays a message, or when a peer dies at
 * the worst moment. Faults are applied by the kernel itself (at no cost while none is armed)
 * and each injection is reported as a LITEIPC_EV_INJECTED event before its consequences.
 * docs/TESTING.md, "Fault injection", has examples.
 */
typedef enum liteipc_fault_kind {
    LITEIPC_FAULT_FAIL,  /* the matching command fails with err before it runs */
    LITEIPC_FAULT_NOMEM, /* the matching send finds the receiver's pool full: -ENOMEM where the
                            driver allocates the message (§4.3.3), after every check before it
                            (access, alive, reply validity); a BUFF_FREE in the call still frees */
    LITEIPC_FAULT_DROP,  /* the matching message is lost where it would be queued: its send
                            succeeds, the receiver never gets it (its objects are rolled back) */
    LITEIPC_FAULT_DELAY, /* the matching message is queued delay_ms of kernel time later */
    LITEIPC_FAULT_KILL,  /* a task or a process is killed when the matching event happens */
} liteipc_fault_kind;

/* KILL: the event that triggers it. */
typedef enum liteipc_fault_on {
    LITEIPC_ON_CALL,    /* a matching command is called (it never runs: the victim dies first) */
    LITEIPC_ON_WRITTEN, /* a matching message has been queued to its receiver */
    LITEIPC_ON_READ,    /* a matching message has been received */
} liteipc_fault_on;

/* What kind of message matches. */
typedef enum liteipc_fault_msg {
    LITEIPC_MSG_ANY,
    LITEIPC_MSG_REQUEST,      /* MT_REQUEST, synchronous */
    LITEIPC_MSG_ONEWAY,       /* MT_REQUEST with LITEIPC_FLAG_ONEWAY */
    LITEIPC_MSG_REPLY,        /* MT_REPLY */
    LITEIPC_MSG_FAILED_REPLY, /* MT_FAILED_REPLY */
    LITEIPC_MSG_DEATH_NOTIFY, /* MT_DEATH_NOTIFY (made by the kernel) */
} liteipc_fault_msg;

#define LITEIPC_FAULT_ALWAYS 0xffffffffu /* count: every match from the nth on */
#define LITEIPC_FAULT_MAX 16             /* faults armed at once in a kernel */

/*
 * A fault. Zero-initialised fields match anything (TID 0 and PID 0 are never user tasks or
 * processes), so only what matters is set: {.kind = LITEIPC_FAULT_NOMEM, .dst_pid = 4}.
 * Matching: FAIL and KILL ON_CALL look at the command (cmd, its IpcContent flag, the type of
 * the message it sends, the caller tid/pid); NOMEM, DROP, DELAY and KILL ON_WRITTEN/ON_READ at
 * each message (its sender tid/pid, its receiver dst_tid/dst_pid, its type, and the flag and
 * cmd of the command in progress that moves it: the sender's for a write; for a read, the
 * reader's own receive or the send that woke it). Messages moved outside a command (death
 * notices of an exiting process, a delayed message released by the clock) have cmd and flag 0.
 */
typedef struct liteipc_fault {
    liteipc_fault_kind kind;
    uint32_t cmd;             /* the ioctl request (IPC_SEND_RECV_MSG...); 0: any */
    uint32_t flags;           /* IpcContent flag bits the command must have (SEND|RECV...) */
    liteipc_fault_msg type;   /* the message's type */
    int32_t tid, pid;         /* the caller, or the message's sender */
    int32_t dst_tid, dst_pid; /* the message's receiver */
    uint32_t nth;             /* fire at the nth match (0 and 1: the first) */
    uint32_t count;           /* then this many times in all (0 and 1: once; or ALWAYS) */
    int err;                  /* FAIL: the positive errno the command returns */
    uint32_t delay_ms;        /* DELAY: kernel milliseconds before the message is queued */
    liteipc_fault_on on;      /* KILL: the triggering event */
    int32_t kill_tid;         /* KILL: the task to kill (its thread's process survives) */
    int32_t kill_pid;         /* KILL: the process to kill; with kill_tid 0 too, the process of
                                 the event's task (caller, receiver or reader), or that task
                                 alone if task_only */
    int32_t task_only;
} liteipc_fault;

/*
 * Arm fault f in k, from the next command on. Returns its id (>= 0), -EINVAL (f is not a valid
 * fault), -ENOSPC (LITEIPC_FAULT_MAX armed), -EPERM (an attached kernel: faults are armed where
 * the kernel lives, with LITEIPC_FAULTS) or -ENOMEM.
 *
 * What a kill means: the victim dies inside the kernel exactly as on the device (task death,
 * §7.2, or process exit: its queued messages dropped, death notices sent, its parked receives
 * ended with ERFKILL), at once, before the next command runs. The killed threads of this host
 * cannot be stopped: the call of a killed task in progress returns -1/ERFKILL; later, a task
 * killed alone gets -1/ESRCH from every call, and the threads of a killed process get
 * -1/ESHUTDOWN (after a check of up to 250 ms). A real process (a program attached to the
 * kernel) is killed for real: SIGKILL, as its death on the device would be.
 */
int liteipc_fault_add(liteipc_kernel *k, const liteipc_fault *f);
/* Disarm every fault of k (messages already delayed are still delivered). Returns 0 or -errno. */
int liteipc_fault_clear(liteipc_kernel *k);

/*
 * Faults as text, as in $LITEIPC_FAULTS: faults separated by ';', each a kind followed by
 * ':'-separated settings, e.g. "nomem:dst_pid=4:nth=2;kill:on=written:type=request:dst_pid=5".
 * Kinds: fail, nomem, exhaust (nomem with count=all), drop, delay, kill. Settings: cmd=
 * (send_recv, set_cms, cms_cmd, set_ipc_thread, get_version, or a number), flag= (send, recv,
 * buff_free joined by '+'), type= (request, oneway, reply, failed_reply, death), tid=, pid=,
 * dst_tid=, dst_pid=, nth=, count= (a number or all), errno= (EINVAL, ENOMEM, ETIME... or a
 * number), ms=, on= (call, written, read), kill_tid=, kill_pid=, and the word task.
 * Fills out[0..max) and returns how many, or -EINVAL with the reason in why (may be NULL).
 */
int liteipc_fault_parse(const char *text, liteipc_fault *out, int max, char *why, size_t whylen);

/*
 * The process where the kernel lives reads $LITEIPC_FAULTS when it starts it: liteipc_kernel_start
 * and liteipc_kernel_serve (so liteipcd, including one started by liteipc_kernel_attach_or_start,
 * which inherits the environment of the program that started it). A program that only attaches
 * does not read it. A bad value is reported on stderr and the start fails with -EINVAL.
 */
#define LITEIPC_FAULTS_ENV "LITEIPC_FAULTS"
/* ---- deterministic interleavings (docs/TESTING.md) --------------------------------------- */

/*
 * Commands a deterministic kernel ran without every thread inside a device call (a thread
 * stayed outside longer than sched_stall_ms): 0 means the run is reproducible from its seed.
 * Returns the count, or -EINVAL.
 */
int liteipc_sched_forced(liteipc_kernel *k);

/* The environment variable that makes liteipc_explore run one seed only (decimal or 0x hex). */
#define LITEIPC_SEED_ENV "LITEIPC_SEED"

/*
 * A test body for liteipc_explore: it runs on the thread that started k (a fresh deterministic
 * kernel), spawns virtual processes, joins them all, and returns 0 when the run was correct,
 * anything else when it found a bug. To release tasks stuck in the device (a failed run), it
 * may call liteipc_kernel_stop(k) before joining them; the explorer stops k otherwise.
 */
typedef int (*liteipc_explore_fn)(liteipc_kernel *k, uint64_t seed, void *ctx);

typedef struct liteipc_explore_opts {
    const liteipc_config *cfg; /* NULL: the device's values; deterministic and sched_seed are
                                  set by the explorer */
    uint64_t first_seed;       /* the seeds tried: first_seed, first_seed + 1, ... */
    unsigned seeds;            /* how many (0: 1) */
    FILE *report;              /* where a failing seed and its trace go (NULL: stderr) */
    unsigned quiet;            /* 1: report nothing */
    unsigned keep_trace;       /* 1: hand back the trace in trace (below) */
    /* Out. */
    unsigned runs;             /* seeds run */
    uint64_t failed_seed;      /* the failing seed, when liteipc_explore returns 1 */
    char *trace;               /* keep_trace: the event trace of the failing seed, or of the
                                  last seed run if none failed: one line per event, with no
                                  time in it; malloc'd, free it */
} liteipc_explore_opts;

/*
 * Run body under many seeds, each with a fresh deterministic kernel, until one fails. With
 * $LITEIPC_SEED set, run that seed only (the replay). On failure, write the seed, the command
 * that replays it and the run's event trace to opts->report. Returns 0 (every seed passed),
 * 1 (a seed failed: opts->failed_seed), or -errno (a kernel could not start: -EINVAL for a bad
 * configuration or $LITEIPC_SEED).
 */
int liteipc_explore(liteipc_explore_opts *opts, liteipc_explore_fn body, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* LITEIPC_LITEIPC_H */
