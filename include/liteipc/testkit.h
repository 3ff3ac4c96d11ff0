/* SPDX-License-Identifier: Apache-2.0 */
/*
 * testkit.h - a kit for testing LiteIPC code with liteipc-sim: a per-test kernel fixture,
 * call/reply/free helpers, a reference ServiceManager, an event recorder with bounded waits, a
 * latch, a watchdog, and a wait for the ServiceManager for device code. docs/TESTKIT.md has a
 * complete example and the ServiceManager's wire protocol.
 *
 * It is part of libliteipc.a (link liteipc::liteipc, or pkg-config liteipc): a static archive
 * brings its members into a program only when the program calls them, so a program that does
 * not use the kit pays nothing for it. It does not need CMocka: the fixture's setup and teardown
 * have CMocka's signature (int fn(void **state)) and can be passed to cmocka_unit_test_setup_
 * teardown as they are, and the LTK_ASSERT_* macros use CMocka's fail_msg only where they are
 * expanded, so include <cmocka.h> before using them.
 *
 * Conventions:
 *   - Every ltk_ function returns 0 (or a count, a descriptor, a TID) or a negative errno, and
 *     leaves errno alone unless it says otherwise; liteipc_errno_name gives the errno's name.
 *   - The device helpers take the kernel k, as liteipc_ioctl does. k == NULL means this
 *     program's device through the plain system calls open, mmap and ioctl: device code under
 *     the LD_PRELOAD shim or linked with the compat library (or on the real device).
 *   - Every wait is bounded (timeout_ms); nothing in the kit sleeps to synchronise, except the
 *     short backoff of ltk_wait_cms / ltk_sm_wait_service when it cannot watch the kernel's
 *     events (device code, an attached kernel).
 *   - Threads other than a CMocka test's own thread must not use assert_* (they longjmp into the
 *     test thread's context): they use LTK_CHECK*, which records the first failure; the
 *     fixture's teardown, or LTK_ASSERT_THREADS_OK in the test, turns it into a test failure.
 */
#ifndef LITEIPC_TESTKIT_H
#define LITEIPC_TESTKIT_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liteipc/liteipc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bound of a wait for something that must happen promptly (generous: loaded 2-core CI). */
#define LTK_WAIT_MS 10000u
/* The fixture's watchdog: a test binary whose current test runs longer is killed. */
#define LTK_WATCHDOG_S 40u
/* The reply timeout of ltk_setup_fast and ltk_setup_sm (the device's is 5000 ms). */
#define LTK_FAST_TIMEOUT_MS 150u
/* The pool size the kit maps (the device's LITE_IPC_POOL_DEFAULT_SIZE). */
#define LTK_POOL 65536u

/* ---- failures recorded by threads ----------------------------------------------------------- */

/* Record a failure (any thread): printed on stderr at once, the first one kept. */
void ltk_fail_record(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Failures recorded since the last ltk_fail_reset; the first one's text into buf (may be NULL). */
int ltk_failures(char *buf, size_t size);
void ltk_fail_reset(void);

#define LTK_CHECK(cond)                                                                    \
    do {                                                                                   \
        if (!(cond))                                                                       \
            ltk_fail_record(__FILE__, __LINE__, "check failed: %s", #cond);                \
    } while (0)

#define LTK_CHECK_EQ(a, b)                                                                 \
    do {                                                                                   \
        long long ltk_a_ = (long long)(a), ltk_b_ = (long long)(b);                        \
        if (ltk_a_ != ltk_b_)                                                              \
            ltk_fail_record(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a,     \
                            ltk_a_, #b, ltk_b_);                                           \
    } while (0)

/* expr (an ltk_ call) must give 0; a negative result is named as an errno. */
#define LTK_CHECK_OK(expr)                                                                 \
    do {                                                                                   \
        long ltk_r_ = (long)(expr);                                                        \
        if (ltk_r_ != 0)                                                                   \
            ltk_fail_record(__FILE__, __LINE__, "%s: got %ld (%s), expected 0", #expr,     \
                            ltk_r_, liteipc_errno_name((int)ltk_r_));                      \
    } while (0)

/* CMocka test thread only (include <cmocka.h> first). */
#define LTK_ASSERT_OK(expr)                                                                \
    do {                                                                                   \
        long ltk_r_ = (long)(expr);                                                        \
        if (ltk_r_ != 0)                                                                   \
            fail_msg("%s: got %ld (%s), expected 0", #expr, ltk_r_,                        \
                     liteipc_errno_name((int)ltk_r_));                                     \
    } while (0)

/* expr (an ltk_ call) must give -e. */
#define LTK_ASSERT_ERR(expr, e)                                                            \
    do {                                                                                   \
        long ltk_r_ = (long)(expr);                                                        \
        if (ltk_r_ != -(long)(e))                                                          \
            fail_msg("%s: got %ld (%s), expected -%s", #expr, ltk_r_,                      \
                     liteipc_errno_name((int)ltk_r_), #e);                                 \
    } while (0)

/* Fail the test if any thread recorded a failure. */
#define LTK_ASSERT_THREADS_OK()                                                            \
    do {                                                                                   \
        char ltk_t_[400];                                                                  \
        int ltk_n_ = ltk_failures(ltk_t_, sizeof(ltk_t_));                                 \
        if (ltk_n_ != 0)                                                                   \
            fail_msg("%d failed check(s) in test threads; first: %s", ltk_n_, ltk_t_);     \
    } while (0)

/* ---- latch: one value handed from one thread to others ---------------------------------- */

typedef struct ltk_latch {
    pthread_mutex_t m;
    pthread_cond_t c;
    int set;
    long value;
} ltk_latch;

void ltk_latch_init(ltk_latch *l);
void ltk_latch_destroy(ltk_latch *l);
/* The first value set is kept; later calls only wake waiters again. */
void ltk_latch_set(ltk_latch *l, long value);
/* 0 and *value (may be NULL) once set, or -ETIMEDOUT after timeout_ms. */
int ltk_latch_wait(ltk_latch *l, long *value, unsigned timeout_ms);
bool ltk_latch_is_set(ltk_latch *l);

/* ---- event recorder --------------------------------------------------------------------- */

/* Room for the event types the library has and may add (checked in src/testkit.c). */
#define LTK_EV_TYPES 32
#define LTK_EV_TIDS 128
#define LTK_EV_LOG_MAX 8192

/* Counts every event of a kernel by type and task, and logs the first LTK_EV_LOG_MAX. Large
   (about 2 MB): allocate it. Read it through the functions below only. */
typedef struct ltk_evrec {
    pthread_mutex_t m;
    pthread_cond_t c;
    liteipc_kernel *k;
    int sub_id; /* -1: not subscribed */
    unsigned by_dst[LTK_EV_TYPES][LTK_EV_TIDS];
    unsigned by_src[LTK_EV_TYPES][LTK_EV_TIDS];
    unsigned total[LTK_EV_TYPES];
    size_t nlog;    /* events in log */
    size_t dropped; /* events not logged (log full); still counted */
    liteipc_event log[LTK_EV_LOG_MAX];
} ltk_evrec;

/* Subscribe r to k's events (a kernel this process hosts). 0, or -errno (-EPERM: attached). */
int ltk_evrec_start(ltk_evrec *r, liteipc_kernel *k);
/* Unsubscribe; the counts stay readable. Call ltk_evrec_destroy once r is no longer used. */
void ltk_evrec_stop(ltk_evrec *r);
void ltk_evrec_destroy(ltk_evrec *r);
/* Events of type with dst_tid == tid (tid -1: any). */
unsigned ltk_ev_count(ltk_evrec *r, liteipc_event_type type, int tid);
/* Events of type with src_tid == tid (tid -1: any). */
unsigned ltk_ev_count_src(ltk_evrec *r, liteipc_event_type type, int tid);
/* Wait until ltk_ev_count(type, tid) >= min: 0, or -ETIMEDOUT. */
int ltk_ev_wait(ltk_evrec *r, liteipc_event_type type, int tid, unsigned min,
                unsigned timeout_ms);
int ltk_ev_wait_src(ltk_evrec *r, liteipc_event_type type, int tid, unsigned min,
                    unsigned timeout_ms);
/* Copy out logged events (in order) of type (-1: any) whose dst or src is tid (-1: any). */
size_t ltk_ev_collect(ltk_evrec *r, int type, int tid, liteipc_event *out, size_t max);

/* ---- watchdog ----------------------------------------------------------------------------- */

/* After seconds, print "watchdog: <program> ran longer than N s ..." on stderr and end the
   program with status 99 (SIGALRM; re-arming replaces the previous deadline). */
void ltk_watchdog_arm(unsigned seconds);
void ltk_watchdog_disarm(void);

/* ---- fixture: a kernel per test ------------------------------------------------------------ */

typedef struct ltk_sm ltk_sm;

typedef struct ltk_fixture {
    liteipc_kernel *k; /* NULL once the test stopped it itself (ltk_kernel_stop_now) */
    liteipc_config cfg;
    ltk_evrec *ev;     /* recording every event of k */
    ltk_sm *sm;        /* the reference ServiceManager of ltk_setup_sm, else NULL */
    int shm_before;    /* leak baselines, checked by ltk_teardown */
    int memfd_before;
    int fds_before;
} ltk_fixture;

/*
 * Setups, usable directly as CMocka setup functions (group or test): *state becomes an
 * ltk_fixture with a fresh kernel, recorded by an event recorder, and the watchdog armed
 * (LTK_WATCHDOG_S). ltk_setup: the device's defaults; ltk_setup_fast: reply_timeout_ms shrunk to
 * LTK_FAST_TIMEOUT_MS, so that a test of a timeout is quick; ltk_setup_sm: as fast, with the
 * reference ServiceManager running (fixture->sm); ltk_setup_with: the given configuration.
 * 0, or -1 with the reason on stderr.
 */
int ltk_setup(void **state);
int ltk_setup_fast(void **state);
int ltk_setup_sm(void **state);
int ltk_setup_with(void **state, const liteipc_config *cfg);
/*
 * Stop the ServiceManager and the kernel (unless the test did), join the virtual processes the
 * test left (ltk_vproc_start), and check that nothing is left over: no liteipc object in
 * /dev/shm, no memory mapping of a pool, no descriptor more than before the setup, no failure
 * recorded by a thread. 0, or -1 with each finding on stderr (a CMocka failure).
 */
int ltk_teardown(void **state);
/* For tests of kernel stop: unsubscribe the recorder and stop the kernel now. */
int ltk_kernel_stop_now(ltk_fixture *f);

/* What the teardown counts: entries of /dev/shm that belong to liteipc, mappings of liteipc
   memory files in this process, open descriptors. */
int ltk_shm_count_ours(void);
int ltk_memfd_map_count(void);
int ltk_fd_count(void);

/* Virtual processes the fixture's teardown joins if the test does not (test thread only). */
int ltk_vproc_start(liteipc_kernel *k, liteipc_thread_fn fn, void *arg, liteipc_vproc **out);
int ltk_vproc_finish(liteipc_vproc *vp, void **first_result);

/* ---- device helpers (any thread; k NULL: the plain system calls) ----------------------------- */

/* open(O_RDWR) and mmap(pool_size, PROT_READ, MAP_PRIVATE): the descriptor, or -errno.
   *pool (may be NULL) gets the pool. */
int ltk_dev_setup(liteipc_kernel *k, size_t pool_size, void **pool);
/* open only (the process mapped its pool already): the descriptor, or -errno. */
int ltk_dev_open(liteipc_kernel *k);
int ltk_dev_close(liteipc_kernel *k, int fd);

/* Synchronous call: an MT_REQUEST sent with SEND|RECV. *reply (may be NULL: then it is freed)
   gets the answer, which the caller frees with ltk_free. 0 or -errno: -ETIME (no reply in
   time), -ENOENT (the service sent an MT_FAILED_REPLY; nothing to free), the send's error. */
int ltk_call(liteipc_kernel *k, int fd, uint32_t handle, uint32_t code, const void *data,
             uint32_t size, IpcMsg **reply);
/* SEND of an MT_REQUEST with flag (LITEIPC_FLAG_ONEWAY for a one-way message). */
int ltk_send(liteipc_kernel *k, int fd, uint32_t handle, uint32_t code, uint32_t flag,
             const void *data, uint32_t size);
/* Plain RECV: waits for the next message, without a deadline. */
int ltk_recv(liteipc_kernel *k, int fd, IpcMsg **msg);
/* MT_REPLY to req (same code and flag) with SEND|BUFF_FREE, which frees req. */
int ltk_reply(liteipc_kernel *k, int fd, const IpcMsg *req, const void *data, uint32_t size);
/* MT_FAILED_REPLY to req with SEND|BUFF_FREE. */
int ltk_failed_reply(liteipc_kernel *k, int fd, const IpcMsg *req);
/* BUFF_FREE of a received message (or OBJ_PTR buffer). */
int ltk_free(liteipc_kernel *k, int fd, const void *buf);
int ltk_set_cms(liteipc_kernel *k, int fd, unsigned long max_msg_size);
/* IPC_SET_IPC_THREAD: the calling TID, or -errno. */
int ltk_set_ipc_thread(liteipc_kernel *k, int fd);
int ltk_gen_handle(liteipc_kernel *k, int fd, uint32_t tid, uint32_t *handle);
int ltk_add_access(liteipc_kernel *k, int fd, uint32_t tid, uint32_t handle);
/* Give the calling task its IPC state (a message queue, LITEIPC_REFERENCE §1.4), which the
   ServiceManager's grants and death notices need, by sending itself a one-way request and
   receiving and freeing it. Needs a CMS. 0 or -errno. */
int ltk_prime_task(liteipc_kernel *k, int fd);

/*
 * Wait until a ServiceManager exists (some process called IPC_SET_CMS): before that, every
 * IPC_SEND_RECV_MSG fails with EINVAL (LITEIPC_REFERENCE §3.8). Probes with an IpcContent of
 * flag 0, which does nothing once a CMS is set. On a kernel this process hosts it waits for the
 * kernel's SET_CMS event; otherwise (device code, an attached kernel) it probes again after a
 * backoff of 1 ms doubling up to 50 ms. 0, -ETIMEDOUT, or the probe's error (-ENOMEM: the pool
 * is not mapped, -ESHUTDOWN...).
 */
int ltk_wait_cms(liteipc_kernel *k, int fd, unsigned timeout_ms);

/* ---- the reference ServiceManager ----------------------------------------------------------- */

/*
 * A ServiceManager over LiteIPC itself, in a virtual process of its own: the CMS (handle 0) and
 * its process's IPC thread. Its wire protocol (docs/TESTKIT.md) is plain LiteIPC, so device
 * code can speak it with ioctls: every request is a synchronous MT_REQUEST to handle 0 whose
 * data is a service name (1 to LTK_SM_NAME_MAX - 1 bytes, no NUL needed; a trailing NUL is
 * accepted); the MT_REPLY's data begins with an ltk_sm_reply. An unknown code gets an
 * MT_FAILED_REPLY (the call fails with ENOENT); one-way requests are freed unanswered.
 *   LTK_SM_REGISTER    the sending task becomes the service `name`: CMS_GEN_HANDLE for it,
 *                      which also grants the ServiceManager access to it, so that its death
 *                      notice reaches the ServiceManager. reply.handle = its handle (its TID).
 *                      -EEXIST (name taken), -ENOSPC (LTK_SM_MAX_SERVICES), the error of
 *                      CMS_GEN_HANDLE. The grant (and so the death notice) needs the task's
 *                      IPC state, which its synchronous call gives it (§1.4).
 *   LTK_SM_LOOKUP      CMS_ADD_ACCESS for the sender's process: reply.handle = the handle.
 *                      -ENOENT, or the error of CMS_ADD_ACCESS.
 *   LTK_SM_UNREGISTER  remove the name. -ENOENT, -EPERM (another process registered it). The
 *                      handle stays valid for those granted it (CMS_REMOVE_HANDLE does nothing
 *                      on the device).
 *   LTK_SM_LIST        the names beginning with the request's data (empty: all), sorted:
 *                      reply.result = their number n, reply.handle = 0, then n ltk_sm_entry.
 * When a death notice arrives (a registered task ended), every name of that task is removed.
 * Errors are negative errnos in reply.result.
 */
#define LTK_SM_NAME_MAX 32
#define LTK_SM_MAX_SERVICES 64
/* The ServiceManager's IPC_SET_CMS argument: the largest request to handle 0, header included. */
#define LTK_SM_MAX_MSG 4096u

enum {
    LTK_SM_REGISTER = 1,
    LTK_SM_LOOKUP = 2,
    LTK_SM_UNREGISTER = 3,
    LTK_SM_LIST = 4,
};

typedef struct ltk_sm_reply {
    int32_t result;  /* 0 (LIST: the number of entries), or a negative errno */
    uint32_t handle; /* REGISTER, LOOKUP: the service's handle */
} ltk_sm_reply;

typedef struct ltk_sm_entry {
    uint32_t handle;
    char name[LTK_SM_NAME_MAX]; /* NUL-terminated */
} ltk_sm_entry;

/* Start the ServiceManager in a new virtual process of k and wait until it serves. 0, -EEXIST
   (k has a CMS already), or -errno. Works on a hosted or an attached kernel. */
int ltk_sm_start(liteipc_kernel *k, ltk_sm **out);
/* Stop it (a one-way quit sent from its own process), join its process and free sm. Call it
   while the kernel runs; after liteipc_kernel_stop it only joins. 0 or -errno. */
int ltk_sm_stop(ltk_sm *sm);
/* Its task (the CMS) and process. */
int ltk_sm_tid(const ltk_sm *sm);
int ltk_sm_pid(const ltk_sm *sm);
/* Wait until it has handled at least n death notices: 0 or -ETIMEDOUT. */
int ltk_sm_wait_deaths(ltk_sm *sm, unsigned n, unsigned timeout_ms);

/* Clients (any task; k NULL: device code). 0 and *handle, or -errno: the device's error of the
   call, or the ServiceManager's (-ENOENT, -EEXIST...), -EPROTO for a malformed reply. */
int ltk_sm_register(liteipc_kernel *k, int fd, const char *name, uint32_t *handle);
int ltk_sm_lookup(liteipc_kernel *k, int fd, const char *name, uint32_t *handle);
int ltk_sm_unregister(liteipc_kernel *k, int fd, const char *name);
/* The names beginning with prefix ("" or NULL: all), sorted: their number (up to max copied to
   out), or -errno. */
int ltk_sm_list(liteipc_kernel *k, int fd, const char *prefix, ltk_sm_entry *out, size_t max);
/* For a client that may start before the ServiceManager or the service: ltk_wait_cms, then
   look name up again, after a backoff of 1 ms doubling up to 50 ms, while it is -ENOENT.
   0 and *handle; -ETIMEDOUT (no ServiceManager) or -ENOENT (no such service) at the deadline;
   or another error of ltk_wait_cms or ltk_sm_lookup. */
int ltk_sm_wait_service(liteipc_kernel *k, int fd, const char *name, unsigned timeout_ms,
                        uint32_t *handle);

#ifdef __cplusplus
}
#endif
#endif /* LITEIPC_TESTKIT_H */
