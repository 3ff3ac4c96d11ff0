/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_abi.c - ABI profiles through the whole stack (docs/ABI.md): virtual processes of
 * every profile call each other with the function-call API, each writing and reading its own
 * layout; a size_t offset past 32 bits is refused; a fork child takes its profile from
 * LITEIPC_ABI, refuses to open with a bad one, and liteipc_exec reads it afresh.
 *
 * The test thread is the ServiceManager, in the host's default process (default profile).
 */
#include "abiview.h"
#include "child.h"
#include "sfix.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#define CODE_PING 0x4242u

struct world {
    liteipc_kernel *k;
    int fd;
};

static void world_init(t_ctx *c, struct world *w)
{
    w->k = c->k;
    w->fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(w->fd >= 0);
    assert_ok(t_set_cms(c->k, w->fd, T_CMS_BIG));
    assert_ok(t_prime_task(c->k, w->fd));
}

/* ---- one process sending to itself ------------------------------------------------------------ */

/*
 * Send a one-way request to oneself in profile abi, one OBJ_SVC naming oneself at offset
 * `entry` (a size_t entry may exceed 32 bits); if it is accepted, receive and check it.
 * Returns 0, the send's errno, or 100 + a failed check.
 */
static int self_roundtrip(liteipc_kernel *k, int fd, int abi, uint64_t entry)
{
    unsigned char raw[96], data[40] = {0};
    uint64_t offs[1];
    uint32_t tid = (uint32_t)liteipc_self_tid(k), type;
    uint64_t token;

    t_abi_put_obj(abi, data, 0, OBJ_SVC, tid, 5);
    t_abi_put_entry(abi, offs, 0, entry);
    t_abiview m = {.type = MT_REQUEST, .handle = tid, .code = CODE_PING,
                   .flag = LITEIPC_FLAG_ONEWAY, .dsz = sizeof(data), .data = (uintptr_t)data,
                   .n = 1, .offs = (uintptr_t)offs};
    t_abi_build(abi, &m, raw);
    IpcContent c = {.flag = SEND, .outMsg = (IpcMsg *)raw};
    if (liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c) != 0)
        return errno;
    c = (IpcContent){.flag = RECV};
    if (liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c) != 0)
        return 101;
    t_abiview v = t_abi_view(abi, c.inMsg);
    if (v.code != CODE_PING || v.n != 1 || v.dsz != sizeof(data) || v.tid != tid)
        return 102;
    if (t_abi_entry(abi, v.offs, 0) != 0 || t_abi_obj(abi, v.data, 0, &type, &token) != tid)
        return 103;
    c = (IpcContent){.flag = BUFF_FREE, .buffToFree = c.inMsg};
    return liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c) == 0 ? 0 : 104;
}

/* ---- a call between two virtual processes of given profiles --------------------------------- */

struct pair {
    liteipc_kernel *k;
    int ca, sa;
    t_latch server_tid, client_tid, go;
    /* what the server read, in its layout (the object in the client's) */
    t_abiview req;
    unsigned char req_data[64];
    uint64_t entry0, obj_handle, obj_token;
    uint32_t obj_type;
    /* what the client read */
    int call_rc, call_err;
    t_abiview rep;
    char rep_data[8];
};

static void *server_fn(void *arg)
{
    struct pair *p = arg;
    unsigned char raw[96];
    int fd = t_dev_setup(p->k, T_POOL, NULL);
    IpcContent c = {.flag = RECV};

    T_CHECK(fd >= 0);
    /* IpcTaskInfo before anyone grants access to it, with a message in its own layout */
    T_CHECK_OK(self_roundtrip(p->k, fd, p->sa, 0));
    t_latch_set(&p->server_tid, liteipc_self_tid(p->k));
    T_CHECK_OK(liteipc_ioctl(p->k, fd, IPC_SEND_RECV_MSG, &c));
    if (t_failed())
        return NULL;
    p->req = t_abi_view(p->sa, c.inMsg);
    memcpy(p->req_data, (const void *)p->req.data, p->req.dsz < 64 ? p->req.dsz : 64);
    if (p->req.n == 1) {
        p->entry0 = t_abi_entry(p->sa, p->req.offs, 0);
        p->obj_handle = t_abi_obj(p->ca, p->req.data, (uint32_t)p->entry0, &p->obj_type,
                                  &p->obj_token);
    }
    t_abiview r = {.type = MT_REPLY, .handle = p->req.tid, .code = p->req.code + 1,
                   .ts = p->req.ts, .dsz = 4, .data = (uintptr_t) "pong"};
    t_abi_build(p->sa, &r, raw);
    IpcContent rc = {.flag = SEND | BUFF_FREE, .outMsg = (IpcMsg *)raw, .buffToFree = c.inMsg};
    T_CHECK_OK(liteipc_ioctl(p->k, fd, IPC_SEND_RECV_MSG, &rc));
    T_CHECK_OK(liteipc_close(p->k, fd));
    return NULL;
}

static void *client_fn(void *arg)
{
    struct pair *p = arg;
    unsigned char raw[96], data[48];
    uint64_t offs[1];
    long stid = 0;
    int fd = t_dev_setup(p->k, T_POOL, NULL);
    uint32_t dsz = 4 + t_abi_obj_size(p->ca) + 4;

    T_CHECK(fd >= 0);
    t_latch_set(&p->client_tid, liteipc_self_tid(p->k));
    T_CHECK_OK(t_latch_wait(&p->go, &stid, T_WAIT_MS));
    memset(data, 0x33, sizeof(data));
    t_abi_put_obj(p->ca, data, 4, OBJ_SVC, UINT32_MAX, 1); /* "this is me" (§5.4) */
    t_abi_put_entry(p->ca, offs, 0, 4);
    t_abiview m = {.type = MT_REQUEST, .handle = (uint32_t)stid, .code = CODE_PING,
                   .token = 0x11223344u | (t_abi_wide_ids(p->ca) ? 0xA1ull << 32 : 0),
                   .dsz = dsz, .data = (uintptr_t)data, .n = 1, .offs = (uintptr_t)offs};
    t_abi_build(p->ca, &m, raw);
    IpcContent c = {.flag = SEND | RECV, .outMsg = (IpcMsg *)raw};
    errno = 0;
    p->call_rc = liteipc_ioctl(p->k, fd, IPC_SEND_RECV_MSG, &c);
    p->call_err = errno;
    if (p->call_rc == 0) {
        p->rep = t_abi_view(p->ca, c.inMsg);
        memcpy(p->rep_data, (const void *)p->rep.data, p->rep.dsz < 8 ? p->rep.dsz : 8);
        IpcContent f = {.flag = BUFF_FREE, .buffToFree = c.inMsg};
        T_CHECK_OK(liteipc_ioctl(p->k, fd, IPC_SEND_RECV_MSG, &f));
    }
    T_CHECK_OK(liteipc_close(p->k, fd));
    return NULL;
}

static void run_pair(struct world *w, int ca, int sa)
{
    struct pair p = {.k = w->k, .ca = ca, .sa = sa};
    liteipc_vproc *vs, *vc;
    long stid, ctid;

    t_latch_init(&p.server_tid);
    t_latch_init(&p.client_tid);
    t_latch_init(&p.go);
    assert_int_equal(liteipc_vproc_spawn_abi(w->k, (liteipc_abi)sa, server_fn, &p, &vs), 0);
    assert_int_equal(t_latch_wait(&p.server_tid, &stid, T_WAIT_MS), 0);
    assert_int_equal(liteipc_vproc_spawn_abi(w->k, (liteipc_abi)ca, client_fn, &p, &vc), 0);
    assert_int_equal(t_latch_wait(&p.client_tid, &ctid, T_WAIT_MS), 0);
    int spid = liteipc_vproc_pid(vs), cpid = liteipc_vproc_pid(vc);
    assert_ok(t_add_access(w->k, w->fd, (uint32_t)ctid, (uint32_t)stid));
    t_latch_set(&p.go, stid);
    assert_int_equal(liteipc_vproc_join(vc, NULL), 0);
    assert_int_equal(liteipc_vproc_join(vs, NULL), 0);
    t_assert_threads_ok();

    assert_int_equal(p.call_rc, 0);
    assert_int_equal(p.req.type, MT_REQUEST);
    assert_int_equal(p.req.handle, stid);
    /* the high half of a token reaches only a receiver whose token has one */
    uint64_t hi = t_abi_wide_ids(ca) && t_abi_wide_ids(sa) ? 0xA1ull << 32 : 0;
    assert_true(p.req.token == (0x11223344u | hi));
    assert_int_equal(p.req.code, CODE_PING);
    assert_int_equal(p.req.dsz, 4 + t_abi_obj_size(ca) + 4);
    assert_int_equal(p.req.n, 1);
    assert_int_equal(p.req.pid, cpid);
    assert_int_equal(p.req.tid, ctid);
    assert_int_equal(p.entry0, 4);
    assert_int_equal(p.obj_type, OBJ_SVC);
    assert_int_equal(p.obj_handle, ctid); /* -1 became the sender's TID, in its layout */
    assert_int_equal(p.obj_token, 1);
    assert_int_equal(p.req_data[0], 0x33);
    assert_int_equal(p.req_data[p.req.dsz - 1], 0x33);

    assert_int_equal(p.rep.type, MT_REPLY);
    assert_int_equal(p.rep.handle, ctid);
    assert_int_equal(p.rep.code, CODE_PING + 1);
    assert_int_equal(p.rep.dsz, 4);
    assert_memory_equal(p.rep_data, "pong", 4);
    assert_int_equal(p.rep.tid, stid);
    assert_int_equal(p.rep.pid, spid);
    t_latch_destroy(&p.server_tid);
    t_latch_destroy(&p.client_tid);
    t_latch_destroy(&p.go);
}

static void abi_stack_calls_between_every_pair(void **state)
{
    struct world w;
    world_init(*state, &w);
    for (int ca = 0; ca < T_ABI_COUNT; ca++)
        for (int sa = 0; sa < T_ABI_COUNT; sa++)
            run_pair(&w, ca, sa);
    assert_ok(liteipc_close(w.k, w.fd));
}

struct self_job {
    liteipc_kernel *k;
    int abi;
    int wide_rc, ok_rc;
};

static void *self_fn(void *arg)
{
    struct self_job *j = arg;
    int fd = t_dev_setup(j->k, T_POOL, NULL);

    T_CHECK(fd >= 0);
    j->wide_rc = self_roundtrip(j->k, fd, j->abi, sizeof(size_t) > 4 ? 1ull << 32 : SIZE_MAX);
    j->ok_rc = self_roundtrip(j->k, fd, j->abi, 0);
    T_CHECK_OK(liteipc_close(j->k, fd));
    return NULL;
}

/* A size_t offset entry past 32 bits is narrowed to one no object check accepts (on ILP32,
   where size_t has 32 bits, the largest entry it holds is refused the same way). */
static void abi_stack_wide_offset_einval(void **state)
{
    struct world w;
    liteipc_vproc *vp;
    world_init(*state, &w);
    for (int abi = T_ABI_IPC_LITE; abi < T_ABI_COUNT; abi++) {
        struct self_job j = {.k = w.k, .abi = abi};
        assert_int_equal(liteipc_vproc_spawn_abi(w.k, (liteipc_abi)abi, self_fn, &j, &vp), 0);
        assert_int_equal(liteipc_vproc_join(vp, NULL), 0);
        t_assert_threads_ok();
        assert_int_equal(j.wide_rc, EINVAL);
        assert_int_equal(j.ok_rc, 0);
    }
    assert_int_equal(liteipc_vproc_spawn_abi(w.k, (liteipc_abi)T_ABI_COUNT, self_fn, NULL, &vp),
                     -EINVAL);
    assert_ok(liteipc_close(w.k, w.fd));
}

/* ---- the host's processes: LITEIPC_ABI -------------------------------------------------------- */

static void child_env_profile(void *arg)
{
    liteipc_kernel *k = arg;
    int fd;

    setenv(LITEIPC_ABI_ENV, "communication_ipc", 1); /* read when the child's process begins */
    fd = t_dev_setup(k, T_POOL, NULL);
    CHILD_CHECK(fd >= 0, 2);
    CHILD_CHECK(self_roundtrip(k, fd, T_ABI_COMM_IPC, 8) == EINVAL, 3); /* 8 + 32 > 40 */
    CHILD_CHECK(self_roundtrip(k, fd, T_ABI_COMM_IPC, 0) == 0, 4);
}

static void child_bad_profile(void *arg)
{
    liteipc_kernel *k = arg;

    setenv(LITEIPC_ABI_ENV, "communication-ipc", 1);
    CHILD_ERR(liteipc_open(k, LITEIPC_DRIVER, O_RDWR), EINVAL, 2);
    CHILD_ERR(liteipc_open(k, LITEIPC_DRIVER, O_RDWR), EINVAL, 3); /* every time */
}

/* The exec'd program reads LITEIPC_ABI afresh (the process keeps its PID). */
static void child_exec_profile(void *arg)
{
    liteipc_kernel *k = arg;
    int fd, pid;

    unsetenv(LITEIPC_ABI_ENV);
    fd = t_dev_setup(k, T_POOL, NULL);
    CHILD_CHECK(fd >= 0, 2);
    CHILD_CHECK(self_roundtrip(k, fd, T_ABI_DEFAULT, 0) == 0, 3);
    pid = liteipc_self_pid(k);
    setenv(LITEIPC_ABI_ENV, "ipc_lite", 1);
    CHILD_CHECK(liteipc_exec(k) == 0, 4);
    fd = t_dev_setup(k, T_POOL, NULL);
    CHILD_CHECK(fd >= 0, 5);
    CHILD_CHECK(liteipc_self_pid(k) == pid, 6);
    CHILD_CHECK(self_roundtrip(k, fd, T_ABI_IPC_LITE, 0) == 0, 7);
    setenv(LITEIPC_ABI_ENV, "none", 1);
    CHILD_CHECK(liteipc_exec(k) == -EINVAL, 8);
}

static void abi_stack_fork_child_reads_env(void **state)
{
    struct world w;
    world_init(*state, &w);
    assert_child_passed(wait_child(fork_child(child_env_profile, w.k)));
    assert_child_passed(wait_child(fork_child(child_bad_profile, w.k)));
    assert_child_passed(wait_child(fork_child(child_exec_profile, w.k)));
    assert_ok(liteipc_close(w.k, w.fd));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(abi_stack_calls_between_every_pair, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(abi_stack_wide_offset_einval, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(abi_stack_fork_child_reads_env, t_setup, t_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
