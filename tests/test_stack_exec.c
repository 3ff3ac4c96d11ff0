/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_exec.c - exec through the whole stack (LITEIPC_REFERENCE §7.7, Q17 fixed):
 * liteipc_exec keeps the PID and the TID, destroys the process's IPC state (pool unmapped,
 * ioctl and mmap refused until a new open), closes O_CLOEXEC descriptors, drops what was
 * queued to the thread (its senders time out), keeps the CMS role, and is refused while
 * another thread of the process is a task.
 */
#include "sfix.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)
#define T_FAST(fn) cmocka_unit_test_setup_teardown(fn, t_setup_fast, t_teardown)

/* ---- identity and process state ---------------------------------------------------------------- */

/* Is address p inside one of this process's mappings? (/proc/self/maps: no system call on p,
   which valgrind would report.) */
static bool mapped(const void *p)
{
    FILE *f = fopen("/proc/self/maps", "r");
    unsigned long lo, hi, a = (unsigned long)(uintptr_t)p;
    char line[512];
    bool found = false;

    T_CHECK(f != NULL);
    while (f && !found && fgets(line, sizeof line, f))
        found = sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi;
    if (f)
        fclose(f);
    return found;
}

struct ids {
    liteipc_kernel *k;
    int tid;
};

static void *keeps_ids_body(void *arg)
{
    struct ids *ids = arg;
    liteipc_kernel *k = ids->k;
    void *pool = NULL, *again;
    IpcVersion v;
    int fd = t_dev_setup(k, T_POOL, &pool), fd2;
    int pid = liteipc_self_pid(k), tid = liteipc_self_tid(k);

    T_CHECK(fd >= 0);
    T_CHECK(mapped(pool));
    ids->tid = tid;
    T_CHECK_OK(liteipc_exec(k));
    T_CHECK_EQ(liteipc_self_pid(k), pid);
    T_CHECK_EQ(liteipc_self_tid(k), tid);
    /* the old image's pool mapping is gone */
    T_CHECK(pool != NULL && !mapped(pool));
    /* the descriptor survives, but the process has no IPC state (§2.5 B, §2.3 check 1) */
    T_CHECK_ERR(liteipc_ioctl(k, fd, IPC_GET_VERSION, &v), EINVAL);
    T_CHECK(liteipc_mmap(k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED);
    T_CHECK_EQ(errno, ENOMEM);
    /* a new open starts from scratch: opened, not mapped, then usable through either fd */
    fd2 = t_dev_open(k);
    T_CHECK(fd2 >= 0);
    T_CHECK_ERR(liteipc_ioctl(k, fd, IPC_GET_VERSION, &v), ENOMEM);
    again = liteipc_mmap(k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, fd2, 0);
    T_CHECK(again != MAP_FAILED);
    T_CHECK_OK(liteipc_ioctl(k, fd, IPC_GET_VERSION, &v));
    T_CHECK_EQ(v.driverVersion, 2);
    liteipc_close(k, fd);
    liteipc_close(k, fd2);
    return NULL;
}

static void exec_keeps_ids_and_needs_a_new_open(void **state)
{
    t_ctx *c = *state;
    struct ids ids = {.k = c->k, .tid = -1};

    t_run_in_vproc(c->k, keeps_ids_body, &ids);
    t_assert_threads_ok();
    assert_int_equal(t_ev_count_src(c->ev, LITEIPC_EV_EXEC, ids.tid), 1);
}

static void *cloexec_body(void *arg)
{
    liteipc_kernel *k = arg;
    int keep = liteipc_open(k, LITEIPC_DRIVER, O_RDWR);
    int gone = liteipc_open(k, LITEIPC_DRIVER, O_RDWR | O_CLOEXEC);
    IpcVersion v;

    T_CHECK(keep >= 0 && gone >= 0);
    T_CHECK(liteipc_mmap(k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, keep, 0) != MAP_FAILED);
    T_CHECK_OK(liteipc_exec(k));
    T_CHECK_ERR(fcntl(gone, F_GETFD), EBADF); /* closed in the host too */
    T_CHECK_ERR(liteipc_ioctl(k, gone, IPC_GET_VERSION, &v), EBADF);
    T_CHECK_ERR(liteipc_ioctl(k, keep, IPC_GET_VERSION, &v), EINVAL);
    T_CHECK_OK(liteipc_close(k, keep));
    return NULL;
}

static void exec_closes_cloexec_descriptors(void **state)
{
    t_ctx *c = *state;

    t_run_in_vproc(c->k, cloexec_body, c->k);
    t_assert_threads_ok();
}

/* ---- the only task left ------------------------------------------------------------------------ */

struct sibling {
    liteipc_kernel *k;
    t_latch is_task, may_end;
};

static void *sibling_main(void *arg)
{
    struct sibling *s = arg;

    T_CHECK(liteipc_self_tid(s->k) > 0); /* a device call makes this thread a task */
    t_latch_set(&s->is_task, 0);
    T_CHECK_OK(t_latch_wait(&s->may_end, NULL, T_WAIT_MS));
    return NULL;
}

static void exec_refused_while_another_thread_is_a_task(void **state)
{
    t_ctx *c = *state;
    struct sibling s = {.k = c->k};
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    pthread_t th;
    int busy;

    assert_true(fd >= 0);
    t_latch_init(&s.is_task);
    t_latch_init(&s.may_end);
    th = t_thread_start(sibling_main, &s);
    assert_int_equal(t_latch_wait(&s.is_task, NULL, T_WAIT_MS), 0);
    busy = liteipc_exec(c->k);
    t_latch_set(&s.may_end, 0);
    t_thread_finish(th); /* its task ends with the thread */
    assert_int_equal(busy, -EBUSY);
    assert_int_equal(liteipc_exec(c->k), 0);
    assert_errno(liteipc_ioctl(c->k, fd, IPC_SET_IPC_THREAD, 0), EINVAL);
    liteipc_close(c->k, fd);
    t_latch_destroy(&s.is_task);
    t_latch_destroy(&s.may_end);
    t_assert_threads_ok();
}

/* ---- Q17: what was queued to the thread -------------------------------------------------------- */

struct cms_exec {
    liteipc_kernel *k;
    t_latch ready;    /* value: the CMS task's TID */
    t_latch do_exec;
    t_latch reopened;
    uint32_t first_code; /* of the first message received after exec */
};

/* The CMS: waits for the test to queue messages to it, execs, opens and maps again, and
   receives the first message that comes. */
static void *cms_exec_main(void *arg)
{
    struct cms_exec *x = arg;
    int fd = t_dev_setup(x->k, T_POOL, NULL), fd2;
    IpcMsg *m = NULL;

    T_CHECK(fd >= 0);
    T_CHECK_OK(t_set_cms(x->k, fd, T_CMS_BIG));
    t_latch_set(&x->ready, liteipc_self_tid(x->k));
    T_CHECK_OK(t_latch_wait(&x->do_exec, NULL, T_WAIT_MS));
    T_CHECK_OK(liteipc_exec(x->k));
    fd2 = t_dev_setup(x->k, T_POOL, NULL);
    T_CHECK(fd2 >= 0);
    t_latch_set(&x->reopened, 0);
    T_CHECK_OK(t_recv(x->k, fd2, &m));
    if (m) {
        x->first_code = m->code;
        T_CHECK_OK(t_free(x->k, fd2, m));
    }
    liteipc_close(x->k, fd);
    liteipc_close(x->k, fd2);
    return NULL;
}

struct caller {
    liteipc_kernel *k;
    int fd;
    int result, err;
};

static void *caller_main(void *arg)
{
    struct caller *cl = arg;
    IpcMsg *r = NULL;

    errno = 0;
    cl->result = t_call(cl->k, cl->fd, 0, T_CODE_ECHO, "q", 1, &r);
    cl->err = errno;
    if (cl->result == 0 && r)
        t_free(cl->k, cl->fd, r);
    return NULL;
}

static void exec_drops_what_was_queued_to_the_thread(void **state)
{
    t_ctx *c = *state;
    struct cms_exec x = {.k = c->k};
    struct caller cl = {.k = c->k};
    liteipc_vproc *vp;
    pthread_t th;
    long cms_tid = -1;
    int fd;

    t_latch_init(&x.ready);
    t_latch_init(&x.do_exec);
    t_latch_init(&x.reopened);
    vp = t_vproc_start(c->k, cms_exec_main, &x);
    assert_int_equal(t_latch_wait(&x.ready, &cms_tid, T_WAIT_MS), 0);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    cl.fd = fd;
    assert_ok(t_send(c->k, fd, 0, 1, LITEIPC_FLAG_ONEWAY, "old", 3));
    th = t_thread_start(caller_main, &cl);
    /* both messages sit in the CMS task's queue */
    assert_int_equal(t_ev_wait(c->ev, LITEIPC_EV_MSG_WRITTEN, (int)cms_tid, 2, T_WAIT_MS), 0);
    t_latch_set(&x.do_exec, 0);
    assert_int_equal(t_latch_wait(&x.reopened, NULL, T_WAIT_MS), 0);
    /* the CMS role stayed with the task: handle 0 still reaches it */
    assert_ok(t_send(c->k, fd, 0, 3, LITEIPC_FLAG_ONEWAY, "new", 3));
    t_vproc_finish(vp);
    t_thread_finish(th);
    liteipc_close(c->k, fd);
    t_latch_destroy(&x.ready);
    t_latch_destroy(&x.do_exec);
    t_latch_destroy(&x.reopened);
    t_assert_threads_ok();
    assert_int_equal(x.first_code, 3);
    assert_int_equal(cl.result, -1); /* nobody told the caller: it timed out */
    assert_int_equal(cl.err, ETIME);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_DROP_ON_READ, (int)cms_tid), 2);
    assert_int_equal(t_ev_count_src(c->ev, LITEIPC_EV_EXEC, (int)cms_tid), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(exec_keeps_ids_and_needs_a_new_open),
        T(exec_closes_cloexec_descriptors),
        T(exec_refused_while_another_thread_is_a_task),
        T_FAST(exec_drops_what_was_queued_to_the_thread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
