/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_monitor.c - the control connections of liteipcctl (issue 11 item 1): LK_OP_STATUS
 * answers the kernel's counts and tables without making the asker a process or a user, and
 * LK_OP_MONITOR sends every event to a monitor without ever waiting for it: a monitor that does
 * not read loses events, and the count of those it lost arrives, exactly, with its next one.
 * Neither answers another user.
 */
#include "sfix.h"

#include <grp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform.h"
#include "runtime.h"

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

/* More events than a socket's buffer holds (a record is over 200 bytes). */
#define FLOOD 4000

/* A control connection to k that has sent op and read the answer into rs; fd: its descriptor,
   if any (-1 otherwise). */
static int control(liteipc_kernel *k, uint32_t op, lk_wire_resp *rs, int *fd)
{
    lk_wire_req rq = {.op = op};
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), fds[4];

    assert_true(s >= 0);
    assert_int_equal(connect(s, (const struct sockaddr *)&k->b.addr, k->b.addrlen), 0);
    assert_int_equal(lk_seq_send(s, &rq, sizeof(rq), NULL, 0), sizeof(rq));
    assert_int_equal(lk_seq_recv(s, rs, sizeof(*rs), fds, 4), sizeof(*rs));
    *fd = fds[0];
    return s;
}

static void status_is_no_process_nor_user(void **state)
{
    t_ctx *c = *state;
    lk_wire_resp rs;
    char text[4096];
    int fd, s, users, dev = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(dev >= 0);
    T_CHECK_ERR(t_set_ipc_thread(c->k, dev), EINVAL); /* a first call: the thread's task */
    t_assert_threads_ok();
    users = liteipc_kernel_process_count(c->k);
    s = control(c->k, LK_OP_STATUS, &rs, &fd);
    assert_int_equal(rs.result, 0);
    assert_int_equal(rs.a & 0xffff, 1); /* this thread's process */
    assert_int_equal(rs.a >> 16, 1);    /* and task */
    assert_true(rs.b > 0); /* the uptime */
    assert_true(fd >= 0 && rs.c > 0 && rs.c < sizeof(text));
    assert_int_equal(pread(fd, text, rs.c, 0), (ssize_t)rs.c);
    text[rs.c] = '\0';
    assert_non_null(strstr(text, "liteipc kernel: 1 process, 1 task"));
    assert_int_equal(liteipc_kernel_process_count(c->k), users);
    close(fd);
    close(s);
}

/* Take the records waiting on s (all of them, or at least one with block), counting them and
   the events they say were lost. */
static void take(int s, bool block, uint64_t *got, uint64_t *lost)
{
    lk_wire_event we;
    struct pollfd p = {.fd = s, .events = POLLIN};

    if (block)
        assert_int_equal(poll(&p, 1, T_WAIT_MS), 1);
    while (recv(s, &we, sizeof(we), MSG_DONTWAIT) == (ssize_t)sizeof(we)) {
        assert_int_equal(we.ev.type, LITEIPC_EV_REFUSED);
        (*got)++;
        *lost += we.dropped;
    }
}

static void slow_monitor_loses_counted_events(void **state)
{
    t_ctx *c = *state;
    lk_wire_resp rs;
    uint64_t got = 0, lost = 0;
    int fd, s, dev = t_dev_setup(c->k, T_POOL, NULL), users;

    assert_true(dev >= 0);
    users = liteipc_kernel_process_count(c->k);
    s = control(c->k, LK_OP_MONITOR, &rs, &fd);
    assert_int_equal(rs.result, 0);
    assert_int_equal(fd, -1);
    assert_int_equal(liteipc_kernel_process_count(c->k), users);
    /* Nobody reads meanwhile: every call still completes (the broker never waits). */
    for (int i = 0; i < FLOOD; i++)
        T_CHECK_ERR(t_set_ipc_thread(c->k, dev), EINVAL); /* refused: no ServiceManager */
    t_assert_threads_ok();
    take(s, false, &got, &lost);
    assert_true(got < FLOOD);
    /* One more, into an empty socket: it brings the count of those lost since the last taken. */
    T_CHECK_ERR(t_set_ipc_thread(c->k, dev), EINVAL);
    while (got + lost < FLOOD + 1)
        take(s, true, &got, &lost);
    assert_int_equal(got + lost, FLOOD + 1);
    assert_true(lost > 0);
    close(s);
}

/* A forked child, as user nobody, serves a kernel until its input ends; out gets its address. */
static void serve_as_nobody(int in, int out)
{
    liteipc_kernel *k;
    char byte;

    if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0 || liteipc_kernel_start(NULL, &k) != 0)
        _exit(10);
    if (write(out, &k->b.addr, sizeof(k->b.addr)) != sizeof(k->b.addr) ||
        write(out, &k->b.addrlen, sizeof(k->b.addrlen)) != sizeof(k->b.addrlen))
        _exit(11);
    while (read(in, &byte, 1) > 0) {
    }
    liteipc_kernel_stop(k);
    _exit(0);
}

/* The answer to op on a new connection to addr. */
static int ask(const struct sockaddr_un *addr, socklen_t len, uint32_t op)
{
    lk_wire_req rq = {.op = op};
    lk_wire_resp rs = {.result = 1};
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), fds[4];

    assert_true(s >= 0);
    assert_int_equal(connect(s, (const struct sockaddr *)addr, len), 0);
    assert_int_equal(lk_seq_send(s, &rq, sizeof(rq), NULL, 0), sizeof(rq));
    assert_int_equal(lk_seq_recv(s, &rs, sizeof(rs), fds, 4), sizeof(rs));
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    close(s);
    return rs.result;
}

/* Another user's kernel shows neither its tables nor its events (root's test: it can be
   another user). */
static void another_users_kernel_is_refused(void **state)
{
    struct sockaddr_un addr;
    socklen_t len;
    int to[2], from[2], status;
    pid_t child;

    (void)state;
    if (geteuid() != 0)
        skip();
    assert_int_equal(pipe(to), 0);
    assert_int_equal(pipe(from), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(to[1]);
        close(from[0]);
        serve_as_nobody(to[0], from[1]);
    }
    close(to[0]);
    close(from[1]);
    assert_int_equal(read(from[0], &addr, sizeof(addr)), sizeof(addr));
    assert_int_equal(read(from[0], &len, sizeof(len)), sizeof(len));
    assert_int_equal(ask(&addr, len, LK_OP_STATUS), -EACCES);
    assert_int_equal(ask(&addr, len, LK_OP_MONITOR), -EACCES);
    assert_int_equal(ask(&addr, len, LK_OP_STATS), -EACCES);
    close(to[1]);
    close(from[0]);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(status_is_no_process_nor_user),
        T(slow_monitor_loses_counted_events),
        cmocka_unit_test(another_users_kernel_is_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
