/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_testkit.c - the installed test kit (<liteipc/testkit.h>) through its own API: the
 * fixture's leak checks, the call/reply/free helpers, the reference ServiceManager (register,
 * lookup, unregister, list, removal on a death notice, its wire protocol), ltk_wait_cms and
 * ltk_sm_wait_service, and the watchdog.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <liteipc/testkit.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a service in its own virtual process ---------------------------------------------------- */

struct service {
    liteipc_kernel *k;
    const char *names[3]; /* registered in this order */
    unsigned serve;       /* requests to answer before returning (the task then dies) */
    ltk_latch ready;      /* its handle, or -errno */
    ltk_latch release;    /* set by the test: return now */
    int fd;
    uint32_t handle;
};

/* Answers code N with code N and the data plus one in each byte; code 99 with a failed reply. */
static void serve_one(struct service *s)
{
    IpcMsg *m;
    unsigned char buf[64];

    LTK_CHECK_OK(ltk_recv(s->k, s->fd, &m));
    if (m->code == 99) {
        LTK_CHECK_OK(ltk_failed_reply(s->k, s->fd, m));
        return;
    }
    for (uint32_t i = 0; i < m->dataSz && i < sizeof(buf); i++)
        buf[i] = (unsigned char)(((const unsigned char *)m->data)[i] + 1);
    LTK_CHECK_OK(ltk_reply(s->k, s->fd, m, buf, m->dataSz));
}

static void *service_main(void *arg)
{
    struct service *s = arg;
    int r;

    s->fd = ltk_dev_setup(s->k, LTK_POOL, NULL);
    r = s->fd < 0 ? s->fd : 0;
    for (int i = 0; r == 0 && i < 3 && s->names[i]; i++)
        r = ltk_sm_register(s->k, s->fd, s->names[i], &s->handle);
    ltk_latch_set(&s->ready, r == 0 ? (long)s->handle : r);
    for (unsigned i = 0; r == 0 && i < s->serve; i++)
        serve_one(s);
    if (r == 0)
        LTK_CHECK_OK(ltk_latch_wait(&s->release, NULL, LTK_WAIT_MS));
    if (s->fd >= 0)
        ltk_dev_close(s->k, s->fd);
    return NULL;
}

static liteipc_vproc *service_start(struct service *s, liteipc_kernel *k)
{
    liteipc_vproc *vp;
    long handle = -1;

    s->k = k;
    ltk_latch_init(&s->ready);
    ltk_latch_init(&s->release);
    assert_int_equal(ltk_vproc_start(k, service_main, s, &vp), 0);
    assert_int_equal(ltk_latch_wait(&s->ready, &handle, LTK_WAIT_MS), 0);
    assert_true(handle > 0);
    return vp;
}

static void service_finish(struct service *s, liteipc_vproc *vp)
{
    ltk_latch_set(&s->release, 1);
    assert_int_equal(ltk_vproc_finish(vp, NULL), 0);
    ltk_latch_destroy(&s->ready);
    ltk_latch_destroy(&s->release);
}

/* The test thread as a client: a task of the host's default process with its pool. */
static int client_fd(liteipc_kernel *k)
{
    int fd = ltk_dev_setup(k, LTK_POOL, NULL);

    assert_true(fd >= 0);
    return fd;
}

/* ---- call, reply, free ---------------------------------------------------------------------- */

static void tk_call_gets_reply_and_failed_reply(void **state)
{
    ltk_fixture *f = *state;
    struct service s = {.names = {"echo"}, .serve = 2};
    liteipc_vproc *vp = service_start(&s, f->k);
    int fd = client_fd(f->k);
    unsigned char data[3] = {1, 2, 3};
    uint32_t h = 0;
    IpcMsg *r;

    LTK_ASSERT_OK(ltk_sm_lookup(f->k, fd, "echo", &h));
    assert_int_equal(h, s.handle);
    LTK_ASSERT_OK(ltk_call(f->k, fd, h, 7, data, sizeof(data), &r));
    assert_int_equal(r->type, MT_REPLY);
    assert_int_equal(r->code, 7);
    assert_int_equal(r->dataSz, 3);
    assert_memory_equal(r->data, "\2\3\4", 3);
    LTK_ASSERT_OK(ltk_free(f->k, fd, r));
    LTK_ASSERT_ERR(ltk_free(f->k, fd, r), EFAULT); /* the device's answer to a double free */
    /* A failed reply ends the call with ENOENT, and leaves nothing to free (§4.4). */
    LTK_ASSERT_ERR(ltk_call(f->k, fd, h, 99, NULL, 0, &r), ENOENT);
    service_finish(&s, vp);
    ltk_dev_close(f->k, fd);
}

/* Without a grant the device refuses the call: the kit returns its errno, negated. */
static void tk_call_without_grant_is_refused(void **state)
{
    ltk_fixture *f = *state;
    struct service s = {.names = {"secret"}};
    liteipc_vproc *vp = service_start(&s, f->k);
    int fd = client_fd(f->k);

    LTK_ASSERT_ERR(ltk_call(f->k, fd, s.handle, 1, NULL, 0, NULL), EACCES);
    LTK_ASSERT_ERR(ltk_send(f->k, fd, s.handle, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EACCES);
    assert_string_equal(liteipc_errno_name(-EACCES), "EACCES");
    service_finish(&s, vp);
    ltk_dev_close(f->k, fd);
}

/* ---- the reference ServiceManager ----------------------------------------------------------- */

static void tk_sm_register_lookup_unregister_list(void **state)
{
    ltk_fixture *f = *state;
    struct service s = {.names = {"b.svc", "a.svc", "other"}};
    liteipc_vproc *vp = service_start(&s, f->k);
    int fd = client_fd(f->k);
    ltk_sm_entry list[4];
    uint32_t h = 0;

    assert_int_equal(ltk_sm_list(f->k, fd, NULL, list, 4), 3);
    assert_string_equal(list[0].name, "a.svc");
    assert_string_equal(list[1].name, "b.svc");
    assert_string_equal(list[2].name, "other");
    assert_int_equal(list[0].handle, s.handle);
    assert_int_equal(ltk_sm_list(f->k, fd, "b.", list, 4), 1);
    assert_string_equal(list[0].name, "b.svc");
    assert_int_equal(ltk_sm_list(f->k, fd, "a", list, 0), 1); /* counted, none copied */

    LTK_ASSERT_ERR(ltk_sm_lookup(f->k, fd, "nope", &h), ENOENT);
    LTK_ASSERT_ERR(ltk_sm_register(f->k, fd, "a.svc", &h), EEXIST);
    LTK_ASSERT_ERR(ltk_sm_register(f->k, fd, "", &h), EINVAL);
    LTK_ASSERT_ERR(ltk_sm_register(f->k, fd, "0123456789abcdef0123456789abcdef", &h), EINVAL);
    LTK_ASSERT_ERR(ltk_sm_unregister(f->k, fd, "a.svc"), EPERM); /* not its process */
    LTK_ASSERT_OK(ltk_sm_lookup(f->k, fd, "a.svc", &h));
    assert_int_equal(h, s.handle);

    service_finish(&s, vp); /* the service's death removes its three names */
    LTK_ASSERT_OK(ltk_sm_wait_deaths(f->sm, 1, LTK_WAIT_MS));
    assert_int_equal(ltk_sm_list(f->k, fd, "", list, 4), 0);
    ltk_dev_close(f->k, fd);
}

static void tk_sm_unregister_by_owner(void **state)
{
    ltk_fixture *f = *state;
    int fd = client_fd(f->k);
    uint32_t h = 0, h2 = 0;

    LTK_ASSERT_OK(ltk_prime_task(f->k, fd));
    LTK_ASSERT_OK(ltk_sm_register(f->k, fd, "mine", &h));
    assert_int_equal((int)h, liteipc_self_tid(f->k));
    LTK_ASSERT_OK(ltk_sm_lookup(f->k, fd, "mine", &h2));
    assert_int_equal(h2, h);
    LTK_ASSERT_OK(ltk_sm_unregister(f->k, fd, "mine"));
    LTK_ASSERT_ERR(ltk_sm_lookup(f->k, fd, "mine", &h2), ENOENT);
    LTK_ASSERT_ERR(ltk_sm_unregister(f->k, fd, "mine"), ENOENT);
    ltk_dev_close(f->k, fd);
}

/* The wire protocol as device code speaks it: raw requests to handle 0. */
static void tk_sm_wire_protocol(void **state)
{
    ltk_fixture *f = *state;
    int fd = client_fd(f->k);
    ltk_sm_reply head;
    IpcMsg *r;

    LTK_ASSERT_OK(ltk_prime_task(f->k, fd));
    /* A trailing NUL is accepted. */
    LTK_ASSERT_OK(ltk_call(f->k, fd, 0, LTK_SM_REGISTER, "raw", 4, &r));
    assert_int_equal(r->type, MT_REPLY);
    assert_int_equal(r->dataSz, sizeof(head));
    memcpy(&head, r->data, sizeof(head));
    assert_int_equal(head.result, 0);
    assert_int_equal((int)head.handle, liteipc_self_tid(f->k));
    LTK_ASSERT_OK(ltk_free(f->k, fd, r));
    /* A NUL inside the name: -EINVAL in the reply. */
    LTK_ASSERT_OK(ltk_call(f->k, fd, 0, LTK_SM_LOOKUP, "r\0w", 3, &r));
    memcpy(&head, r->data, sizeof(head));
    assert_int_equal(head.result, -EINVAL);
    LTK_ASSERT_OK(ltk_free(f->k, fd, r));
    /* An unknown code: a failed reply, which ends the call with ENOENT. */
    LTK_ASSERT_ERR(ltk_call(f->k, fd, 0, 77, "raw", 3, &r), ENOENT);
    ltk_dev_close(f->k, fd);
}

/* The ServiceManager is the CMS: a second one cannot start. ltk_sm_tid and ltk_sm_pid name the
   task that became the CMS and its process. */
static void tk_sm_second_is_refused(void **state)
{
    ltk_fixture *f = *state;
    ltk_sm *sm2 = NULL;
    liteipc_event ev;

    assert_int_equal(ltk_sm_start(f->k, &sm2), -EEXIST);
    assert_null(sm2);
    assert_int_equal(ltk_ev_count_src(f->ev, LITEIPC_EV_SET_CMS, ltk_sm_tid(f->sm)), 1);
    assert_int_equal(ltk_ev_collect(f->ev, LITEIPC_EV_SET_CMS, ltk_sm_tid(f->sm), &ev, 1), 1);
    assert_int_equal(ev.src_pid, ltk_sm_pid(f->sm));
}

/* ---- waiting for the ServiceManager ---------------------------------------------------------- */

struct waiter {
    liteipc_kernel *k;
    const char *name; /* NULL: ltk_wait_cms */
    int result;
    uint32_t handle;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    int fd = ltk_dev_setup(w->k, LTK_POOL, NULL);

    if (fd < 0) {
        w->result = fd;
        return NULL;
    }
    w->result = w->name ? ltk_sm_wait_service(w->k, fd, w->name, LTK_WAIT_MS, &w->handle)
                        : ltk_wait_cms(w->k, fd, LTK_WAIT_MS);
    ltk_dev_close(w->k, fd);
    return NULL;
}

/* Before a CMS, the device refuses every message with EINVAL; the wait ends when one is set. */
static void tk_wait_cms_until_set(void **state)
{
    ltk_fixture *f = *state;
    int fd = client_fd(f->k);
    struct waiter w = {.k = f->k, .result = 1};
    liteipc_vproc *vp;
    ltk_sm *sm = NULL;

    LTK_ASSERT_ERR(ltk_send(f->k, fd, 0, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EINVAL);
    LTK_ASSERT_ERR(ltk_wait_cms(f->k, fd, 20), ETIMEDOUT);
    assert_int_equal(ltk_vproc_start(f->k, waiter_main, &w, &vp), 0);
    LTK_ASSERT_OK(ltk_sm_start(f->k, &sm));
    assert_int_equal(ltk_vproc_finish(vp, NULL), 0);
    assert_int_equal(w.result, 0);
    LTK_ASSERT_OK(ltk_wait_cms(f->k, fd, 0)); /* set: no wait at all */
    LTK_ASSERT_OK(ltk_sm_stop(sm));
    ltk_dev_close(f->k, fd);
}

/* A client started before the service finds it once it registers. */
static void tk_sm_wait_service_until_registered(void **state)
{
    ltk_fixture *f = *state;
    struct waiter w = {.k = f->k, .name = "late", .result = 1};
    struct service s = {.names = {"late"}};
    liteipc_vproc *wvp, *svp;

    assert_int_equal(ltk_vproc_start(f->k, waiter_main, &w, &wvp), 0);
    svp = service_start(&s, f->k);
    assert_int_equal(ltk_vproc_finish(wvp, NULL), 0);
    assert_int_equal(w.result, 0);
    assert_int_equal(w.handle, s.handle);
    service_finish(&s, svp);
}

/* ---- fixture and watchdog ----------------------------------------------------------------- */

/* The teardown fails a test that leaves a descriptor open or a thread's failed check. */
static void tk_teardown_reports_leftovers(void **state)
{
    void *st = NULL;
    int fd;

    (void)state;
    assert_int_equal(ltk_setup_fast(&st), 0);
    fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(ltk_teardown(&st), -1);
    close(fd);
    assert_int_equal(ltk_setup(&st), 0);
    LTK_CHECK_EQ(1, 2);
    assert_int_equal(ltk_failures(NULL, 0), 1);
    assert_int_equal(ltk_teardown(&st), -1);
    ltk_fail_reset();
    assert_int_equal(ltk_setup_sm(&st), 0);
    assert_int_equal(ltk_teardown(&st), 0);
}

/* A hung test binary ends with status 99 and says why. */
static void tk_watchdog_ends_hung_program(void **state)
{
    char out[512] = "";
    int p[2], status = 0;
    ssize_t n;
    pid_t pid;

    (void)state;
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 2);
        ltk_watchdog_arm(1);
        for (;;)
            pause();
    }
    close(p[1]);
    n = read(p[0], out, sizeof(out) - 1);
    close(p[0]);
    assert_true(n > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 99);
    assert_non_null(strstr(out, "watchdog: test_testkit ran longer than 1 s"));
}

#define SM(fn) cmocka_unit_test_setup_teardown(fn, ltk_setup_sm, ltk_teardown)
#define FAST(fn) cmocka_unit_test_setup_teardown(fn, ltk_setup_fast, ltk_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        SM(tk_call_gets_reply_and_failed_reply),
        SM(tk_call_without_grant_is_refused),
        SM(tk_sm_register_lookup_unregister_list),
        SM(tk_sm_unregister_by_owner),
        SM(tk_sm_wire_protocol),
        SM(tk_sm_second_is_refused),
        FAST(tk_wait_cms_until_set),
        SM(tk_sm_wait_service_until_registered),
        cmocka_unit_test(tk_teardown_reports_leftovers),
        cmocka_unit_test(tk_watchdog_ends_hung_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
