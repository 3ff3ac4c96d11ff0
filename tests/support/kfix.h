/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kfix.h - fixture for tests of the pure kernel layer (src/kernel.h), no threads, no broker.
 *
 * A t_kfix owns one lk_kernel, the memory of every pool attached to it, a record of the events
 * the kernel emitted, and the bookkeeping of the OBJ_FD hooks. Time is explicit: every call
 * made through the fixture passes f->now, which tests move forward with t_advance(). The
 * default configuration is the device's, except a reply timeout of T_TIMEOUT_NS nanoseconds so
 * that timeouts are reached by moving the clock, never by sleeping.
 *
 * Pools are aligned_alloc'ed memory and mapped at uvaddr == kbase, so a test reads received
 * messages directly at the addresses the kernel hands out, as the owning process would.
 *
 * The ioctl wrappers fill struct lk_ioctl_in the way the device layer does: the raw argument,
 * the CmsCmdContent or IpcContent at it, the first LK_MSG_SENDER_BYTES of *outMsg (the rest
 * zero), and the data/offsets pointers of the user's message; then they copy the result back
 * (serviceHandle, driverVersion or inMsg) exactly as lk_ioctl_out asks.
 *
 * Teardown (t_kfix_free) kills every task, checks every live pool with lk_pool_check and,
 * unless the test called t_allow_leaks(), that each is whole again (no allocated block) and
 * that no used-list entry is left; then exits every process and frees everything.
 *
 * Every helper whose name starts with t_must_ asserts success (CMocka) and returns the value.
 */
#ifndef LITEIPC_TEST_KFIX_H
#define LITEIPC_TEST_KFIX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kernel.h"
#include "pool.h"
#include "shmcheck.h"

#define T_TIMEOUT_NS 1000u          /* default timeout of a fixture kernel */
#define T_START_NS 1000000000ull    /* the fixture clock's first value */
#define T_POOL_SIZE (64u * 1024u)   /* default pool size */
#define T_CMS_MAX 4096u             /* default IPC_SET_CMS argument of t_must_cms() */
#define T_MAX_EVENTS 2048
#define T_MAX_POOLS 256
#define T_MAX_FDS 64

/* Host layout of a SpecialObj: its size governs where objects may sit inside the data. */
#define T_HOST_OBJ ((uint32_t)sizeof(SpecialObj))
#define T_DEV_OBJ LITEIPC_DEVICE_SIZEOF_SPECIALOBJ

typedef struct t_pool_mem {
    int pid;
    void *mem;
    size_t size;
} t_pool_mem;

typedef struct t_kfix {
    lk_kernel *k;
    lk_config cfg;
    lk_ops ops;
    bool use_fd_ops;
    uint64_t now;

    /* events, in emission order */
    lk_event ev[T_MAX_EVENTS];
    unsigned nev;
    unsigned ev_lost;

    /* pools ever attached (memory is freed at teardown) */
    t_pool_mem pools[T_MAX_POOLS];
    unsigned npools;

    /* OBJ_FD hooks: every fd installed by fd_dup and not yet closed by fd_close or the test */
    int fds[T_MAX_FDS];
    unsigned nfds;
    unsigned fd_dups, fd_closes;
    int last_dup_src_pid, last_dup_dst_pid, last_close_pid;
    int closed[T_MAX_FDS];  /* fds passed to fd_close, in order */
    unsigned nclosed;

    /* OBJ_PTR copy hook */
    bool copy_fault;       /* make every copy_from_user fail with -EFAULT */
    bool no_copy_hook;     /* pass copy_from_user == NULL */
    unsigned copies;

    bool allow_leaks;      /* skip the "every pool whole" teardown check */
    uint32_t next_uid;
} t_kfix;

/* ---- fixture life -------------------------------------------------------------------------- */

/* Default configuration of a fixture kernel: the device's, with timeout T_TIMEOUT_NS. */
void t_config(lk_config *cfg);
/* A new fixture with cfg (NULL: t_config()) and the dup()/close() OBJ_FD hooks. */
t_kfix *t_kfix_new(const lk_config *cfg);
/* Same, choosing whether the OBJ_FD hooks are installed (ops.fd_dup == NULL when not). */
t_kfix *t_kfix_new_ops(const lk_config *cfg, bool fd_ops);
/* Teardown as described above. */
void t_kfix_free(t_kfix *f);
/* Tear down f's kernel and start a fresh one with cfg, in place. */
void t_kfix_restart(t_kfix *f, const lk_config *cfg, bool fd_ops);

/* CMocka setup/teardown: *state = a default fixture. */
int t_setup(void **state);
int t_teardown(void **state);

void t_allow_leaks(t_kfix *f);
void t_advance(t_kfix *f, uint64_t ns);

/* ---- processes, tasks, pools ------------------------------------------------------------- */

int t_must_proc(t_kfix *f);                        /* lk_proc_create, uid/gid distinct */
int t_must_proc_ids(t_kfix *f, uint32_t uid, uint32_t gid);
int t_must_task(t_kfix *f, int pid);               /* lk_task_create */
void t_must_open(t_kfix *f, int pid);              /* lk_proc_open */
/* mmap as the device does: lk_mmap_check(PROT_READ, MAP_PRIVATE) then lk_pool_attach. */
int t_map(t_kfix *f, int pid, size_t size);
void *t_must_map(t_kfix *f, int pid, size_t size);
/* Only the attach step (size must already be page-rounded). Returns lk_pool_attach's result. */
int t_attach(t_kfix *f, int pid, size_t size, void **mem_out);
/* Attach with a user address different from the kernel address (translation tests). */
int t_attach_at(t_kfix *f, int pid, size_t size, uintptr_t uvaddr, void **mem_out);
/* A process, opened, with a mapped pool of `size` bytes (0: T_POOL_SIZE). Returns the PID. */
int t_must_ready_proc(t_kfix *f, size_t size);
/* A ready process with one task. Returns the TID; *pid_out gets the PID if not NULL. */
int t_must_ready_task(t_kfix *f, size_t size, int *pid_out);
/* A ready process with one task that called IPC_SET_CMS(T_CMS_MAX). Returns the CMS TID. */
int t_must_cms(t_kfix *f);
int t_must_cms_size(t_kfix *f, uint32_t max_msg, int *pid_out);

int t_pid_of(t_kfix *f, int tid);
lk_proc_view t_pview(t_kfix *f, int pid);
lk_task_view t_tview(t_kfix *f, int tid);
lk_cms_view t_cview(t_kfix *f);
bool t_has_access_bit(const lk_proc_view *v, int tid);
/* Pool statistics of pid's live pool (asserts it is mapped and that lk_pool_check passes). */
lk_pool_stats t_pool_stats(t_kfix *f, int pid);
unsigned t_pool_used(t_kfix *f, int pid);
/* Is p inside pid's pool [uvaddr, uvaddr + size)? */
bool t_in_pool(t_kfix *f, int pid, const void *p, size_t n);

/* ---- messages ------------------------------------------------------------------------------ */

void t_msg(IpcMsg *m, MsgType type, uint32_t handle, uint32_t code, uint32_t flag);
void t_msg_data(IpcMsg *m, const void *data, uint32_t size);
void t_msg_objs(IpcMsg *m, const uint32_t *offsets, uint32_t n);
/* The reply (type) to a received request: handle = taskID, timestamp copied. */
void t_reply_to(IpcMsg *m, const IpcMsg *req, MsgType type, uint32_t code);
/* Write a SpecialObj (host layout) at data + off. */
void t_put_fd(void *data, uint32_t off, int fd);
void t_put_ptr(void *data, uint32_t off, void *buff, uint32_t size);
void t_put_svc(void *data, uint32_t off, uint32_t handle, uint32_t token, uint32_t cookie);
void t_put_type(void *data, uint32_t off, uint32_t type);
SpecialObj t_get_obj(const IpcMsg *m, uint32_t i);

/* ---- ioctl --------------------------------------------------------------------------------- */

/* Fill an lk_ioctl_in as the device layer would for (cmd, arg) of the calling process. */
void t_fill_in(t_kfix *f, lk_ioctl_in *in, unsigned long cmd, uintptr_t arg);
/* lk_ioctl(cmd, arg) at f->now, then the device's copy-out; *out (may be NULL) gets the result. */
int t_ioctl(t_kfix *f, int tid, unsigned long cmd, uintptr_t arg, lk_ioctl_out *out);
int t_set_cms(t_kfix *f, int tid, uint32_t max_msg);
int t_cms_cmd(t_kfix *f, int tid, CmsCmdContent *c);
int t_gen_handle(t_kfix *f, int tid, uint32_t task, uint32_t *handle_out);
int t_add_access(t_kfix *f, int tid, uint32_t task, uint32_t handle);
int t_remove_handle(t_kfix *f, int tid, uint32_t handle);
int t_set_ipc_thread(t_kfix *f, int tid);
int t_version(t_kfix *f, int tid, IpcVersion *v);
/* IPC_SEND_RECV_MSG with the given IpcContent fields; *in_msg (may be NULL) gets inMsg. */
int t_sr(t_kfix *f, int tid, uint32_t flag, const IpcMsg *out, void *buff_to_free, IpcMsg **in_msg);
int t_send(t_kfix *f, int tid, const IpcMsg *out);
int t_call(t_kfix *f, int tid, const IpcMsg *out, IpcMsg **in_msg);  /* SEND|RECV */
int t_recv(t_kfix *f, int tid, IpcMsg **in_msg);                      /* RECV */
int t_free(t_kfix *f, int tid, const void *buf);                      /* BUFF_FREE */
int t_reply(t_kfix *f, int tid, const IpcMsg *req, MsgType type, uint32_t code);
/* Convenience: a one-way (flag given) request from tid to handle, with optional data. */
int t_send_req(t_kfix *f, int tid, uint32_t handle, uint32_t code, uint32_t flag);
/* RECV that must return 0 at once; returns the message. */
IpcMsg *t_must_recv(t_kfix *f, int tid);
void t_must_free(t_kfix *f, int tid, const void *buf);
/* Receive one message at tid and free it; returns its code. */
uint32_t t_must_recv_free(t_kfix *f, int tid);

/* ---- common scenes ------------------------------------------------------------------------ */

/* Give task tid its IpcTaskInfo as the kernel does: tid sends itself a one-way request and
   receives and frees it. */
void t_give_info(t_kfix *f, int tid);
/*
 * A CMS (T_CMS_MAX), a service task s in its own process S (with IpcTaskInfo), and a client task
 * c in its own process C granted access to s with CMS_ADD_ACCESS. Returns the CMS TID.
 */
int t_client_server(t_kfix *f, int *c, int *c_pid, int *s, int *s_pid);
/* c sends a replyable request (SEND only, flag 0) to handle s, and s receives it. */
IpcMsg *t_request_received(t_kfix *f, int c, int s, uint32_t code);
/* A one-way message that tid sent to itself and received. */
IpcMsg *t_self_msg(t_kfix *f, int tid, uint32_t code);

/* ---- completions and events ---------------------------------------------------------------- */

int t_take(t_kfix *f, lk_completion *c);           /* lk_kernel_take_completion */
/* Pop exactly one completion, assert tid and result, return in_msg. */
IpcMsg *t_must_complete(t_kfix *f, int tid, int result);
void t_must_no_completion(t_kfix *f);
void t_tick(t_kfix *f);                             /* lk_kernel_tick(f->now) */

void t_ev_clear(t_kfix *f);
unsigned t_ev_count(t_kfix *f, lk_event_type type);
/* The n-th (0-based) event of that type, or NULL. */
const lk_event *t_ev_nth(t_kfix *f, lk_event_type type, unsigned n);

/* ---- OBJ_FD bookkeeping ------------------------------------------------------------------- */

bool t_fd_is_open(int fd);
bool t_fd_tracked(t_kfix *f, int fd);       /* installed by fd_dup and not closed since */
void t_close_received_fd(t_kfix *f, int fd); /* the receiver closes an fd it got */

#endif /* LITEIPC_TEST_KFIX_H */
