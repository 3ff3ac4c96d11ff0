/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_stats.c - the kernel's counters through the whole stack (issue 11,
 * `liteipcctl stats`): liteipc_kernel_stats on a hosted kernel and LK_OP_STATS on a control
 * connection give the same counters, and every live process with its host, program, pool use
 * and high-water mark.
 */
#include "sfix.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "platform.h"
#include "runtime.h"

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

/* The counters as LK_OP_STATS answers them on a control connection to k. */
static void stats_over_control(liteipc_kernel *k, liteipc_stats *st)
{
    lk_wire_req rq = {.op = LK_OP_STATS};
    lk_wire_resp rs;
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

    assert_true(s >= 0);
    assert_int_equal(connect(s, (const struct sockaddr *)&k->b.addr, k->b.addrlen), 0);
    assert_int_equal(lk_seq_send(s, &rq, sizeof(rq), NULL, 0), sizeof(rq));
    assert_int_equal(lk_seq_recv(s, &rs, sizeof(rs), NULL, 0), sizeof(rs));
    assert_int_equal(rs.result, 0);
    assert_int_equal(lk_seq_recv(s, st, sizeof(*st), NULL, 0), sizeof(*st));
    close(s);
}

static void counters_and_pools(void **state)
{
    t_ctx *c = *state;
    char data[100] = "hello";
    liteipc_stats *st = calloc(2, sizeof(*st));
    IpcMsg *in = NULL;
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_non_null(st);
    assert_true(fd >= 0);
    assert_int_equal(t_set_cms(c->k, fd, 4096), 0);
    /* A one-way message to handle 0, ourselves: counted with its bytes, then received. */
    assert_int_equal(t_send(c->k, fd, 0, 1, LITEIPC_FLAG_ONEWAY, data, sizeof(data)), 0);
    assert_int_equal(t_recv(c->k, fd, &in), 0);
    assert_int_equal(t_free(c->k, fd, in), 0);
    assert_errno(t_send(c->k, fd, 100, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EACCES);
    assert_errno(t_send(c->k, fd, 100, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EACCES);

    assert_int_equal(liteipc_kernel_stats(c->k, &st[0]), 0);
    assert_int_equal(st[0].oneway, 1);
    assert_int_equal(st[0].calls, 0);
    assert_int_equal(st[0].bytes, sizeof(data));
    assert_int_equal(st[0].received, 1);
    assert_int_equal(st[0].refused[EACCES], 2);
    assert_true(st[0].uptime_ns > 0);
    assert_int_equal(st[0].nprocs, 1);
    assert_int_equal(st[0].procs[0].pid, liteipc_self_pid(c->k));
    assert_int_equal(st[0].procs[0].host_pid, getpid());
    assert_int_equal(st[0].procs[0].pool_size, T_POOL);
    assert_int_equal(st[0].procs[0].pool_used, 0); /* the message was freed */
    assert_true(st[0].procs[0].pool_peak >= sizeof(data));

    stats_over_control(c->k, &st[1]);
    assert_true(st[1].uptime_ns >= st[0].uptime_ns);
    st[1].uptime_ns = st[0].uptime_ns;
    assert_memory_equal(&st[0], &st[1], sizeof(*st)); /* the control connection changes none */
    free(st);
}

static void bad_arguments(void **state)
{
    t_ctx *c = *state;
    liteipc_stats st;

    assert_int_equal(liteipc_kernel_stats(NULL, &st), -EINVAL);
    assert_int_equal(liteipc_kernel_stats(c->k, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(counters_and_pools),
        T(bad_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
