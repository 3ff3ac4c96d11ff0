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
#include <sys/mman.h>
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

/* The refusal of cmd with err among n events, from task tid. */
static bool has_refusal(const liteipc_event *ev, size_t n, int tid, uint32_t cmd, int err)
{
    for (size_t i = 0; i < n; i++)
        if (ev[i].src_tid == tid && ev[i].cmd == cmd && ev[i].err == err)
            return true;
    return false;
}

/* Refusals decided outside the kernel's ioctl code are events and are counted too: a bad
   descriptor and a fault writing a result (decided in this process, reported to the kernel),
   mmap's generic checks (here) and the driver's mmap checks (in the broker). */
static void refusals_outside_the_ioctl_code(void **state)
{
    t_ctx *c = *state;
    liteipc_event ev[8];
    liteipc_stats st;
    IpcVersion v;
    int fd = t_dev_setup(c->k, T_POOL, NULL), tid = liteipc_self_tid(c->k);
    void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    size_t n;

    assert_true(fd >= 0 && tid > 0 && ro != MAP_FAILED);
    assert_errno(liteipc_ioctl(c->k, fd + 100, IPC_GET_VERSION, &v), EBADF);
    assert_errno(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, ro), EFAULT);
    assert_true(liteipc_mmap(c->k, NULL, 0, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED);
    assert_int_equal(errno, EINVAL); /* the generic layer: a zero length */
    assert_true(liteipc_mmap(c->k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED);
    assert_int_equal(errno, ENOMEM); /* the driver's EEXIST: a pool is mapped already */
    munmap(ro, 4096);

    assert_int_equal(t_ev_wait_src(c->ev, LITEIPC_EV_REFUSED, tid, 4, T_WAIT_MS), 0);
    n = t_ev_collect(c->ev, LITEIPC_EV_REFUSED, tid, ev, 8);
    assert_int_equal(n, 4);
    assert_true(has_refusal(ev, n, tid, IPC_GET_VERSION, EBADF));
    assert_true(has_refusal(ev, n, tid, IPC_GET_VERSION, EFAULT));
    assert_true(has_refusal(ev, n, tid, LITEIPC_CMD_MMAP, EINVAL));
    assert_true(has_refusal(ev, n, tid, LITEIPC_CMD_MMAP, EEXIST));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ev[i].src_pid, liteipc_self_pid(c->k));
    assert_int_equal(liteipc_kernel_stats(c->k, &st), 0);
    assert_int_equal(st.refused[EBADF], 1);
    assert_int_equal(st.refused[EFAULT], 1);
    assert_int_equal(st.refused[EINVAL], 1);
    assert_int_equal(st.refused[EEXIST], 1);
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
        T(refusals_outside_the_ioctl_code),
        T(bad_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
