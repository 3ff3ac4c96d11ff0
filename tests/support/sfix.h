/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sfix.h - fixtures and helpers for the full-stack tests (kernel + broker + virtual and forked
 * processes), through the public API only. The fixture, latch, event recorder, watchdog and
 * device helpers are the installed test kit's (<liteipc/testkit.h>); this header gives them the
 * names the tests use, with the device's -1/errno convention for the device helpers, and keeps
 * what only this project's tests need (actors, the generic service t_svc, fill patterns).
 *
 * Threads other than the CMocka test thread must not use cmocka's assert_* (they longjmp into
 * the test thread's context). They use T_CHECK*, which records the first failure; the test
 * thread turns it into a test failure with t_assert_threads_ok() (also done by t_teardown).
 *
 * Waiting: nothing here sleeps for synchronisation. Threads hand values over with t_latch, and
 * "task X is now blocked in a receive" is observed with the event recorder
 * (LITEIPC_EV_RECV_WAIT with dst_tid = X). Every wait is bounded (T_WAIT_MS); a wait that runs
 * out is a failure, and a watchdog ends a test binary that hangs anyway.
 */
#ifndef LITEIPC_TESTS_SFIX_H
#define LITEIPC_TESTS_SFIX_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include <liteipc/liteipc.h>
#include <liteipc/testkit.h>

/* The kit's bounds (see <liteipc/testkit.h>), under the names the tests have always used. */
#define T_WAIT_MS LTK_WAIT_MS
#define T_WATCHDOG_S LTK_WATCHDOG_S
#define T_FAST_TIMEOUT_MS LTK_FAST_TIMEOUT_MS
#define T_POOL LTK_POOL
/* maxMsgSize the tests' ServiceManagers register with (no limit in practice). */
#define T_CMS_BIG 65536u

/* Request codes understood by t_svc (test protocol, not the driver's). */
enum {
    T_CODE_ECHO = 1,     /* reply with the same data (one-way: just free) */
    T_CODE_QUIT = 0x7f00, /* reply if a reply is expected, then leave the loop */
    T_CODE_REGISTER,     /* CMS: CMS_GEN_HANDLE{taskID = sender}; reply {int32 result, u32 handle} */
    T_CODE_GRANT,        /* CMS: CMS_ADD_ACCESS{taskID = sender, data u32 handle}; reply int32 */
};

/* ---- failures recorded by threads ---------------------------------------------------------- */

#define t_fail_record ltk_fail_record
static inline bool t_failed(void)
{
    return ltk_failures(NULL, 0) != 0;
}
static inline void t_fail_reset(void)
{
    ltk_fail_reset();
}
/* Fail the current test (test thread only) if any thread recorded a failure. */
static inline void t_assert_threads_ok(void)
{
    LTK_ASSERT_THREADS_OK();
}

#define T_CHECK(cond)                                                                      \
    do {                                                                                   \
        if (!(cond))                                                                       \
            t_fail_record(__FILE__, __LINE__, "check failed: %s", #cond);                  \
    } while (0)

#define T_CHECK_EQ(a, b)                                                                   \
    do {                                                                                   \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                            \
        if (t_a_ != t_b_)                                                                  \
            t_fail_record(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, t_a_, \
                          #b, t_b_);                                                       \
    } while (0)

/* expr must give -1 (or MAP_FAILED) with errno == e. */
#define T_CHECK_ERR(expr, e)                                                               \
    do {                                                                                   \
        errno = 0;                                                                         \
        long t_r_ = (long)(expr);                                                          \
        int t_e_ = errno;                                                                  \
        if (t_r_ != -1 || t_e_ != (e))                                                     \
            t_fail_record(__FILE__, __LINE__, "%s: got %ld errno %d (%s), expected -1 %s", \
                          #expr, t_r_, t_e_, liteipc_errno_name(t_e_), #e);                \
    } while (0)

/* expr must give 0. */
#define T_CHECK_OK(expr)                                                                   \
    do {                                                                                   \
        errno = 0;                                                                         \
        long t_r_ = (long)(expr);                                                          \
        int t_e_ = errno;                                                                  \
        if (t_r_ != 0)                                                                     \
            t_fail_record(__FILE__, __LINE__, "%s: got %ld errno %d (%s), expected 0",     \
                          #expr, t_r_, t_e_, liteipc_errno_name(t_e_));                    \
    } while (0)

/* Test-thread versions with cmocka messages. */
#define assert_errno(expr, e)                                                              \
    do {                                                                                   \
        errno = 0;                                                                         \
        long t_r_ = (long)(expr);                                                          \
        int t_e_ = errno;                                                                  \
        if (t_r_ != -1 || t_e_ != (e))                                                     \
            fail_msg("%s: got %ld errno %d (%s), expected -1 %s", #expr, t_r_, t_e_,       \
                     liteipc_errno_name(t_e_), #e);                                        \
    } while (0)

#define assert_ok(expr)                                                                    \
    do {                                                                                   \
        errno = 0;                                                                         \
        long t_r_ = (long)(expr);                                                          \
        int t_e_ = errno;                                                                  \
        if (t_r_ != 0)                                                                     \
            fail_msg("%s: got %ld errno %d (%s), expected 0", #expr, t_r_, t_e_,           \
                     liteipc_errno_name(t_e_));                                            \
    } while (0)

/* ---- latches: one value handed from one thread to others ------------------------------------ */

typedef ltk_latch t_latch;

static inline void t_latch_init(t_latch *l)
{
    ltk_latch_init(l);
}
static inline void t_latch_destroy(t_latch *l)
{
    ltk_latch_destroy(l);
}
static inline void t_latch_set(t_latch *l, long value)
{
    ltk_latch_set(l, value);
}
/* 0 and *value (may be NULL) once set, or -ETIMEDOUT after timeout_ms. */
static inline int t_latch_wait(t_latch *l, long *value, unsigned timeout_ms)
{
    return ltk_latch_wait(l, value, timeout_ms);
}
static inline bool t_latch_is_set(t_latch *l)
{
    return ltk_latch_is_set(l);
}

/* ---- event recorder ------------------------------------------------------------------------- */

#define T_EV_TYPES LTK_EV_TYPES
#define T_EV_TIDS LTK_EV_TIDS
#define T_EV_LOG_MAX LTK_EV_LOG_MAX
typedef ltk_evrec t_evrec;

static inline int t_evrec_start(t_evrec *r, liteipc_kernel *k) /* 0 or -errno */
{
    return ltk_evrec_start(r, k);
}
static inline void t_evrec_stop(t_evrec *r)
{
    ltk_evrec_stop(r);
}
/* Events of type with dst_tid == tid (tid -1: any). */
static inline unsigned t_ev_count(t_evrec *r, liteipc_event_type type, int tid)
{
    return ltk_ev_count(r, type, tid);
}
/* Events of type with src_tid == tid. */
static inline unsigned t_ev_count_src(t_evrec *r, liteipc_event_type type, int tid)
{
    return ltk_ev_count_src(r, type, tid);
}
/* Wait until t_ev_count(type, tid) >= min. 0, or -ETIMEDOUT. */
static inline int t_ev_wait(t_evrec *r, liteipc_event_type type, int tid, unsigned min,
                            unsigned timeout_ms)
{
    return ltk_ev_wait(r, type, tid, min, timeout_ms);
}
static inline int t_ev_wait_src(t_evrec *r, liteipc_event_type type, int tid, unsigned min,
                                unsigned timeout_ms)
{
    return ltk_ev_wait_src(r, type, tid, min, timeout_ms);
}
/* Copy out logged events (in order) of type (-1: any) whose dst or src is tid (-1: any). */
static inline size_t t_ev_collect(t_evrec *r, int type, int tid, liteipc_event *out, size_t max)
{
    return ltk_ev_collect(r, type, tid, out, max);
}

/* ---- per-test fixture ------------------------------------------------------------------------ */

typedef ltk_fixture t_ctx;

/* CMocka setups: a fresh kernel with the device's defaults / with reply_timeout_ms shrunk. */
static inline int t_setup(void **state)
{
    return ltk_setup(state);
}
static inline int t_setup_fast(void **state)
{
    return ltk_setup_fast(state);
}
static inline int t_setup_with(void **state, const liteipc_config *cfg)
{
    return ltk_setup_with(state, cfg);
}
/* Stop the kernel (unless the test did), check nothing leaked, check thread failures. */
static inline int t_teardown(void **state)
{
    return ltk_teardown(state);
}
/* For tests of kernel stop: unsubscribe the recorder and stop the kernel now. */
static inline int t_kernel_stop_now(t_ctx *c)
{
    return ltk_kernel_stop_now(c);
}

static inline int t_shm_count_ours(void)
{
    return ltk_shm_count_ours();
}
static inline int t_memfd_map_count(void)
{
    return ltk_memfd_map_count();
}
static inline int t_fd_count(void)
{
    return ltk_fd_count();
}

/* ---- device helpers (any thread; return what the device returns: -1 with errno) ------------- */
/* The kit's helpers (ltk_call...) with the device's convention: ltk_ results below 0 become -1
   with errno set. */

/* open(O_RDWR) + mmap(pool_size, PROT_READ, MAP_PRIVATE). fd, or -1 (errno). *pool optional. */
int t_dev_setup(liteipc_kernel *k, size_t pool_size, void **pool);
/* open only (the process already mapped its pool). */
int t_dev_open(liteipc_kernel *k);

/* Synchronous call: SEND|RECV of an MT_REQUEST. *reply gets inMsg on success. */
int t_call(liteipc_kernel *k, int fd, uint32_t handle, uint32_t code, const void *data,
           uint32_t size, IpcMsg **reply);
/* SEND of an MT_REQUEST with flag (LITEIPC_FLAG_ONEWAY for a one-way message). */
int t_send(liteipc_kernel *k, int fd, uint32_t handle, uint32_t code, uint32_t flag,
           const void *data, uint32_t size);
/* Plain RECV (waits forever). */
int t_recv(liteipc_kernel *k, int fd, IpcMsg **msg);
/* MT_REPLY to req with SEND|BUFF_FREE (frees req). */
int t_reply(liteipc_kernel *k, int fd, const IpcMsg *req, const void *data, uint32_t size);
/* MT_FAILED_REPLY to req with SEND|BUFF_FREE. */
int t_failed_reply(liteipc_kernel *k, int fd, const IpcMsg *req);
/* BUFF_FREE. */
int t_free(liteipc_kernel *k, int fd, const void *buf);
int t_set_cms(liteipc_kernel *k, int fd, unsigned long max_msg_size);
/* IPC_SET_IPC_THREAD: the TID, or -1. */
int t_set_ipc_thread(liteipc_kernel *k, int fd);
int t_gen_handle(liteipc_kernel *k, int fd, uint32_t tid, uint32_t *handle);
int t_add_access(liteipc_kernel *k, int fd, uint32_t tid, uint32_t handle);
/* Give the calling task an IpcTaskInfo (§1.4) by sending itself a one-way request and
   receiving and freeing it. Needs a CMS. 0 or -1. */
int t_prime_task(liteipc_kernel *k, int fd);

/* Is [p, p+n) inside [base, base+len)? */
bool t_inside(const void *p, size_t n, const void *base, size_t len);
/* Deterministic byte pattern. */
void t_fill(void *buf, size_t n, unsigned seed);
bool t_check_fill(const void *buf, size_t n, unsigned seed);
uint64_t t_now_ms(void);

/* ---- virtual processes (test thread) ----------------------------------------------------------- */

liteipc_vproc *t_vproc_start(liteipc_kernel *k, liteipc_thread_fn fn, void *arg);
/* Join; returns the first thread's result. */
void *t_vproc_finish(liteipc_vproc *vp);
/* Start and join. */
void *t_run_in_vproc(liteipc_kernel *k, liteipc_thread_fn fn, void *arg);

/* A plain host thread (member of the host's default process); bounded join. */
pthread_t t_thread_start(liteipc_thread_fn fn, void *arg);
void *t_thread_finish(pthread_t th);

/* ---- actors: a body run in a fresh virtual process (or a host thread), with its device set up */

typedef struct t_actor t_actor;
typedef void (*t_actor_fn)(t_actor *a);

struct t_actor {
    /* set by the test before t_actor_start */
    t_actor_fn body;  /* runs after `go` (t_actor_go) */
    void *user;
    size_t pool_size; /* 0: T_POOL */
    bool prime;       /* create the task's IpcTaskInfo before reporting ready (needs a CMS) */
    bool host_thread; /* a plain host thread of the host's default process, not a vproc */
    bool open_only;   /* do not mmap (the process already has its pool) */
    /* filled in */
    liteipc_kernel *k;
    liteipc_vproc *vp;
    pthread_t th;
    t_latch ready, go;
    int fd, tid, pid;
    const char *pool;
    size_t pool_len;
};

/* Start the actor and wait until it has set up its device and reported its TID (test thread).
   Its body runs once t_actor_go is called. */
void t_actor_start(t_actor *a, liteipc_kernel *k);
void t_actor_go(t_actor *a);
/* Release (if not yet) and join. */
void t_actor_join(t_actor *a);

/* ---- a generic service loop in a virtual process ------------------------------------------- */

struct t_svc;
enum { T_SVC_DEFAULT, T_SVC_HANDLED, T_SVC_STOP };
/* Called for every MT_REQUEST before the built-in handling; returns one of the above. */
typedef int (*t_svc_handler)(struct t_svc *s, IpcMsg *msg);

typedef struct t_svc {
    /* set by the test before t_svc_start */
    size_t pool_size;       /* 0: T_POOL */
    unsigned long cms_size; /* != 0: become the CMS with this maxMsgSize */
    bool ipc_thread;        /* call IPC_SET_IPC_THREAD (needs a CMS) */
    bool no_prime;          /* do not create the IpcTaskInfo before reporting ready */
    t_svc_handler handler;
    void *user;
    /* filled by the service */
    liteipc_kernel *k;
    liteipc_vproc *vp;
    int fd;
    const char *pool;
    size_t pool_len;
    int tid, pid;
    t_latch ready; /* value: tid, or -1 if the setup failed */
    _Atomic unsigned requests, oneways, deaths, strays; /* requests: QUIT not counted */
    t_latch death; /* set by the first MT_DEATH_NOTIFY, value = target.token */
    IpcMsg death_msg; /* copy of the first death notice */
    int exit_errno;   /* errno of the RECV that ended the loop; 0 after QUIT */
} t_svc;

/* Spawn the service in a new virtual process and wait until it is ready (test thread). */
void t_svc_start(t_svc *s, liteipc_kernel *k);
/* Send the service a one-way QUIT from (k, fd) (the caller's process needs access; to handle 0
   if it is the CMS). Returns what t_send returns. */
int t_svc_quit(const t_svc *s, liteipc_kernel *k, int fd, bool via_handle0);
/* Join the service's virtual process and release the latches (test thread). */
void t_svc_join(t_svc *s);

/* Ask the CMS (handle 0, a t_svc with cms_size) to grant the caller's process access to
   `handle`: the result of CMS_ADD_ACCESS in the CMS, or -1 if the call failed. */
int t_request_grant(liteipc_kernel *k, int fd, uint32_t handle);
/* Ask the CMS to run CMS_GEN_HANDLE on the calling task: the result, or -1. */
int t_request_register(liteipc_kernel *k, int fd);

#endif /* LITEIPC_TESTS_SFIX_H */
