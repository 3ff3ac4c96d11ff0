/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_real_death.c - death by SIGKILL of separate programs, and of the kernel's host
 * (issue 3, item 3; LITEIPC_REFERENCE §7.2-§7.5).
 *
 * The test process serves the kernel under a fresh name and usually plays the ServiceManager
 * (a t_svc in a virtual process: it answers "register" with CMS_GEN_HANDLE and "grant" with
 * CMS_ADD_ACCESS, and it is its process's IPC thread, so it receives death notices). Services,
 * clients and other ServiceManagers are device programs (tests/real/devprog.c) run through the
 * LD_PRELOAD shim. The test knows a task is parked from LITEIPC_EV_RECV_WAIT and that a killed
 * process was reaped from LITEIPC_EV_TASK_DEATH; the only time it waits out is a shrunk reply
 * timeout, which it asserts.
 */
#include "rfix.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CODE_WORK 0x51u

typedef struct got {
    unsigned type, code, tid, pid, uid, gid, size, token;
} got;

static got parse_got(r_child *ch)
{
    char line[R_LINE_MAX];
    got g;

    if (sscanf(r_expect(ch, "got ", line, sizeof(line)), "%u %u %u %u %u %u %u %u", &g.type,
               &g.code, &g.tid, &g.pid, &g.uid, &g.gid, &g.size, &g.token) != 8)
        fail_msg("bad \"got\" line: %s", line);
    return g;
}

/* A device program registered with the test's CMS: its TID and PID. */
static r_child *start_service(r_ctx *c, unsigned *tid, unsigned *pid)
{
    const char *argv[] = {R_DEVPROG, "svc", NULL};
    char line[R_LINE_MAX];
    r_child *svc = r_spawn(c, true, argv, NULL);

    if (sscanf(r_expect(svc, "ready ", line, sizeof(line)), "%u %u", tid, pid) != 2)
        fail_msg("bad \"ready\" line: %s", line);
    return svc;
}

/* A device program that gets access to handle from the CMS, then calls it. */
static r_child *start_client(r_ctx *c, unsigned handle)
{
    char h[16], code[16], line[R_LINE_MAX];
    const char *argv[] = {R_DEVPROG, "call", h, code, "1", NULL};
    r_child *cl;

    snprintf(h, sizeof(h), "%u", handle);
    snprintf(code, sizeof(code), "%u", CODE_WORK);
    cl = r_spawn(c, true, argv, NULL);
    assert_string_equal(r_expect(cl, "granted ", line, sizeof(line)), "0");
    return cl;
}

/* The client's "call RC ERRNO MS" line. */
static void client_result(r_child *cl, int *rc, int *err, unsigned long *ms)
{
    char line[R_LINE_MAX];

    if (sscanf(r_expect(cl, "call ", line, sizeof(line)), "%d %d %lu", rc, err, ms) != 3)
        fail_msg("bad \"call\" line: %s", line);
}

static void assert_killed(int status)
{
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* The CMS got exactly one death notice, about dead_tid of dead_pid, on its IPC thread. */
static void assert_death_notice(t_svc *cms, unsigned dead_tid, unsigned dead_pid)
{
    long token = -1;

    assert_int_equal(t_latch_wait(&cms->death, &token, T_WAIT_MS), 0);
    assert_int_equal(token, (long)dead_tid);
    assert_int_equal(cms->death_msg.type, MT_DEATH_NOTIFY);
    assert_int_equal(cms->death_msg.target.handle, (uint32_t)cms->tid);
    assert_int_equal(cms->death_msg.target.token, dead_tid);
    assert_int_equal(cms->death_msg.code, 0);
    assert_int_equal(cms->death_msg.dataSz, 0);
    assert_int_equal(cms->death_msg.taskID, dead_tid);
    assert_int_equal(cms->death_msg.processID, dead_pid);
}

/* Death notices the kernel delivered to dst_tid about token (-1: any). */
static int death_notices(r_ctx *c, int dst_tid, long token)
{
    static liteipc_event evs[T_EV_LOG_MAX];
    size_t n = t_ev_collect(c->ev, LITEIPC_EV_MSG_WRITTEN, dst_tid, evs, T_EV_LOG_MAX);
    int count = 0;

    for (size_t i = 0; i < n; i++)
        if (evs[i].msg.type == MT_DEATH_NOTIFY && (dst_tid < 0 || evs[i].dst_tid == dst_tid) &&
            (token < 0 || evs[i].msg.target.token == (uint32_t)token))
            count++;
    return count;
}

/* Messages with this code that dst_tid received. */
static int received_with_code(r_ctx *c, int dst_tid, uint32_t code)
{
    static liteipc_event evs[T_EV_LOG_MAX];
    size_t n = t_ev_collect(c->ev, LITEIPC_EV_MSG_READ, dst_tid, evs, T_EV_LOG_MAX);
    int count = 0;

    for (size_t i = 0; i < n; i++)
        if (evs[i].dst_tid == dst_tid && evs[i].msg.code == code)
            count++;
    return count;
}

/* The test's ServiceManager: a CMS that is its process's IPC thread. Static, not on the test's
   stack: if a test fails, its virtual process still runs until the teardown stops the kernel. */
static t_svc *cms_fresh(void)
{
    static t_svc cms;

    memset(&cms, 0, sizeof(cms));
    cms.cms_size = T_CMS_BIG;
    cms.ipc_thread = true;
    return &cms;
}

/* Stop the test's CMS from the test thread; fd: its device descriptor, or -1 if the test
   process has not mapped its pool yet. */
static void stop_cms(r_ctx *c, t_svc *cms, int fd)
{
    if (fd < 0)
        fd = t_dev_setup(c->k, T_POOL, NULL);
    else
        fd = t_dev_open(c->k);
    assert_true(fd >= 0);
    assert_ok(t_svc_quit(cms, c->k, fd, true));
    t_svc_join(cms);
    assert_ok(liteipc_close(c->k, fd));
    t_assert_threads_ok();
}

/* A synchronous call that ended with ETIME at its deadline, and not long after it. */
static void assert_timed_out(int rc, int err, unsigned long ms, unsigned timeout_ms)
{
    assert_int_equal(rc, -1);
    assert_int_equal(err, ETIME);
    assert_true(ms + 2 >= timeout_ms);
    assert_true(ms < timeout_ms + T_WAIT_MS);
}

/* ---- the service dies ---------------------------------------------------------------------------- */

static void death_service_killed_holding_request(void **state)
{
    r_ctx *c = *state;
    t_svc *cms = cms_fresh();
    unsigned tid, pid;
    unsigned long ms;
    int rc, err;
    r_child *svc, *cl;
    got g;

    t_svc_start(cms, c->k);
    svc = start_service(c, &tid, &pid);
    r_say(svc, "recv");
    cl = start_client(c, tid);
    g = parse_got(svc); /* it holds the request now */
    assert_int_equal(g.type, MT_REQUEST);
    assert_int_equal(g.code, CODE_WORK);
    assert_killed(r_kill(svc));
    /* the ServiceManager, which has access to the service, is told on its IPC thread */
    assert_death_notice(cms, tid, pid);
    /* nobody answers the client: its call ends with ETIME at its deadline (§7.4) */
    client_result(cl, &rc, &err, &ms);
    assert_timed_out(rc, err, ms, c->cfg.reply_timeout_ms);
    r_assert_exit0(r_wait(cl), "client");
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_RECV_TIMEOUT, (int)g.tid), 1);
    assert_int_equal(t_ev_count_src(c->ev, LITEIPC_EV_TASK_DEATH, (int)tid), 1);
    /* the client had access too, but no IPC thread: its notice was lost (§7.2) */
    assert_int_equal(death_notices(c, -1, -1), 1);
    assert_int_equal(death_notices(c, cms->tid, tid), 1);
    stop_cms(c, cms, -1);
    assert_int_equal(cms->deaths, 1);
}

static void death_service_killed_while_idle(void **state)
{
    r_ctx *c = *state;
    t_svc *cms = cms_fresh();
    unsigned tid, pid;
    IpcMsg *r = NULL;
    r_child *svc;
    int fd;

    t_svc_start(cms, c->k);
    svc = start_service(c, &tid, &pid);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(t_request_grant(c->k, fd, tid)); /* this process may call it */
    r_say(svc, "recv");
    /* its second wait: the first was its registration call */
    r_ev_wait(c, LITEIPC_EV_RECV_WAIT, (int)tid, 2, false);
    assert_killed(r_kill(svc));
    assert_death_notice(cms, tid, pid);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_RECV_KILLED, (int)tid), 1);
    assert_int_equal(t_ev_count_src(c->ev, LITEIPC_EV_TASK_DEATH, (int)tid), 1);
    /* the grant died with the task: the handle is refused, not queued to a dead task */
    assert_errno(t_call(c->k, fd, tid, CODE_WORK, "x", 1, &r), EACCES);
    assert_errno(t_send(c->k, fd, tid, CODE_WORK, LITEIPC_FLAG_ONEWAY, NULL, 0), EACCES);
    assert_ok(liteipc_close(c->k, fd));
    stop_cms(c, cms, fd);
    assert_int_equal(cms->deaths, 1);
}

static void death_service_killed_with_client_request_queued(void **state)
{
    r_ctx *c = *state;
    t_svc *cms = cms_fresh();
    unsigned tid, pid;
    unsigned long ms;
    int rc, err;
    liteipc_event ev;
    r_child *svc, *cl;

    t_svc_start(cms, c->k);
    svc = start_service(c, &tid, &pid); /* and it never receives */
    cl = start_client(c, tid);
    ev = r_ev_wait_msg(c, LITEIPC_EV_MSG_WRITTEN, (int)tid, CODE_WORK);
    /* the client waits in its call: its second wait (the first was for its grant) */
    r_ev_wait(c, LITEIPC_EV_RECV_WAIT, ev.src_tid, 2, false);
    assert_killed(r_kill(svc));
    assert_death_notice(cms, tid, pid);
    client_result(cl, &rc, &err, &ms);
    assert_timed_out(rc, err, ms, c->cfg.reply_timeout_ms);
    r_assert_exit0(r_wait(cl), "client");
    /* the request was drained with the dead task's queue, never read by anyone */
    assert_int_equal(received_with_code(c, (int)tid, CODE_WORK), 0);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_RECV_TIMEOUT, ev.src_tid), 1);
    assert_int_equal(death_notices(c, -1, -1), 1);
    assert_int_equal(death_notices(c, cms->tid, tid), 1);
    stop_cms(c, cms, -1);
    assert_int_equal(cms->deaths, 1);
}

/* ---- the client dies ------------------------------------------------------------------------------- */

/* Default timeout: the service's reply below must come before the reply deadline. */
static void death_client_killed_while_waiting(void **state)
{
    r_ctx *c = *state;
    t_svc *cms = cms_fresh();
    char line[R_LINE_MAX];
    unsigned tid, pid;
    r_child *svc, *cl;
    int fd, client;
    got g;

    t_svc_start(cms, c->k);
    svc = start_service(c, &tid, &pid);
    r_say(svc, "recv");
    cl = start_client(c, tid);
    g = parse_got(svc);
    client = (int)g.tid;
    r_ev_wait(c, LITEIPC_EV_RECV_WAIT, client, 2, false); /* parked in its call */
    assert_killed(r_kill(cl));
    r_ev_wait(c, LITEIPC_EV_TASK_DEATH, client, 1, true);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_RECV_KILLED, client), 1);
    /* the reply's destination is dead (§4.3.2) */
    r_say(svc, "reply");
    assert_string_equal(r_expect(svc, "reply ", line, sizeof(line)), "-1 22");
    /* the service is fine: it still serves this process */
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(t_request_grant(c->k, fd, tid));
    assert_ok(t_send(c->k, fd, tid, 0x77, LITEIPC_FLAG_ONEWAY, NULL, 0));
    r_say(svc, "recv");
    g = parse_got(svc);
    assert_int_equal(g.code, 0x77);
    assert_int_equal(g.tid, (unsigned)liteipc_self_tid(c->k));
    r_say(svc, "free");
    r_say(svc, "quit");
    r_assert_exit0(r_wait(svc), "service");
    r_ev_wait(c, LITEIPC_EV_TASK_DEATH, (int)tid, 1, true);
    assert_ok(liteipc_close(c->k, fd));
    /* nobody had been given the client's handle: no one was told of its death; the CMS,
       which registered the service, was told when the service exited */
    assert_int_equal(death_notices(c, -1, client), 0);
    assert_int_equal(death_notices(c, -1, -1), 1);
    assert_int_equal(death_notices(c, cms->tid, tid), 1);
    stop_cms(c, cms, fd);
    assert_int_equal(cms->deaths, 1);
    assert_int_equal(cms->death_msg.target.token, tid);
}

/* ---- the ServiceManager dies ----------------------------------------------------------------------- */

static void death_cms_process_killed(void **state)
{
    r_ctx *c = *state;
    const char *argv[] = {R_DEVPROG, "cms", NULL};
    char line[R_LINE_MAX];
    r_child *cms = r_spawn(c, true, argv, NULL);
    IpcMsg *r = NULL;
    int fd, cms_tid;

    cms_tid = atoi(r_expect(cms, "ready ", line, sizeof(line)));
    assert_true(cms_tid > 0);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(t_call(c->k, fd, 0, 0x42, "abc", 3, &r)); /* handle 0 is that program */
    assert_int_equal(r->type, MT_REPLY);
    assert_int_equal(r->taskID, cms_tid);
    assert_ok(t_free(c->k, fd, r));
    assert_killed(r_kill(cms));
    r_ev_wait(c, LITEIPC_EV_TASK_DEATH, cms_tid, 1, true);
    /* the record stays, pointing at a dead task (§7.5, Q1) */
    assert_errno(t_call(c->k, fd, 0, 0x42, "abc", 3, &r), EINVAL);
    assert_errno(t_send(c->k, fd, 0, 0x42, LITEIPC_FLAG_ONEWAY, NULL, 0), EINVAL);
    assert_errno(t_set_cms(c->k, fd, 256), EEXIST);
    assert_ok(liteipc_close(c->k, fd));
    /* no one had been granted handle 0: no one was told (§7.5) */
    assert_int_equal(death_notices(c, -1, -1), 0);
}

/* ---- the kernel's host dies ------------------------------------------------------------------------- */

struct host {
    const char *name;
    liteipc_config cfg;
    int out;
};

/* In the host: report every task that blocks in a receive (a write to a pipe is quick). */
static void host_event(const liteipc_event *ev, void *ctx)
{
    struct host *h = ctx;
    char line[32];
    int n;

    if (ev->type != LITEIPC_EV_RECV_WAIT)
        return;
    n = snprintf(line, sizeof(line), "W %d\n", ev->dst_tid);
    if (write(h->out, line, (size_t)n) != n)
        _exit(91);
}

static void host_main(void *arg, int in, int out)
{
    struct host *h = arg;
    liteipc_kernel *k = NULL;
    char byte;
    int rc;

    h->out = out;
    rc = liteipc_kernel_serve(h->name, &h->cfg, &k);

    if (rc == 0)
        rc = liteipc_subscribe(k, host_event, h);
    if (rc < 0) {
        fprintf(stderr, "host: cannot serve %s: %d\n", h->name, rc);
        _exit(1);
    }
    if (write(out, "up\n", 3) != 3)
        _exit(2);
    while (read(in, &byte, 1) > 0) { /* until killed */
    }
    _exit(3);
}

static void death_kernel_host_killed_while_others_wait(void **state)
{
    r_ctx *c = *state;
    struct host h = {.name = c->name, .cfg = c->cfg};
    const char *argv[] = {R_DEVPROG, "cms", NULL};
    char line[R_LINE_MAX], want[32];
    r_child *host, *waiter;
    liteipc_kernel *k = NULL;
    IpcVersion ver;
    unsigned long ms;
    int fd, err, tid;

    host = r_fork_child(c, host_main, &h);
    r_expect(host, "up", line, sizeof(line));
    assert_int_equal(liteipc_kernel_attach(c->name, &k), 0);
    fd = t_dev_setup(k, T_POOL, NULL);
    assert_true(fd >= 0);
    waiter = r_spawn(c, true, argv, NULL);
    tid = atoi(r_expect(waiter, "ready ", line, sizeof(line)));
    /* the waiter sits in a plain receive, which has no deadline */
    snprintf(want, sizeof(want), "W %d", tid);
    do {
        r_line(host, line, sizeof(line));
    } while (strcmp(line, want) != 0);
    assert_killed(r_kill(host));
    /* every waiter and every later call learns it, promptly */
    if (sscanf(r_expect(waiter, "recv -1 ", line, sizeof(line)), "%d %lu", &err, &ms) != 2)
        fail_msg("bad \"recv\" line: %s", line);
    assert_int_equal(err, ESHUTDOWN);
    assert_true(ms < T_WAIT_MS);
    r_assert_exit0(r_wait(waiter), "waiter");
    assert_errno(liteipc_ioctl(k, fd, IPC_GET_VERSION, &ver), ESHUTDOWN);
    assert_errno(liteipc_open(k, LITEIPC_DRIVER, O_RDWR), ESHUTDOWN);
    assert_int_equal(liteipc_kernel_attach(c->name, &(liteipc_kernel *){NULL}), -ENOENT);
    assert_ok(liteipc_close(k, fd));
    assert_int_equal(liteipc_kernel_detach(k), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, r_setup, r_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(death_service_killed_holding_request),
        T(death_service_killed_while_idle),
        T(death_service_killed_with_client_request_queued),
        cmocka_unit_test_setup_teardown(death_client_killed_while_waiting, r_setup_slow,
                                        r_teardown),
        T(death_cms_process_killed),
        cmocka_unit_test_setup_teardown(death_kernel_host_killed_while_others_wait,
                                        r_setup_nokernel, r_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
