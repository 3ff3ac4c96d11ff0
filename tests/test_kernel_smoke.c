/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernel_smoke.c - end-to-end scenes of the pure kernel layer, with their own helpers
 * (independent of kfix): CMS set-up, a request/reply round trip with data, a synchronous
 * timeout through lk_kernel_tick, a death notice, a kill of a waiting process, special objects
 * with rollback, and the TID/PID reuse order. Pools are mapped at a user address different from
 * the broker's, so every address handed out is translated back before it is read.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "kernel.h"
#include "pool.h"

#define S_TIMEOUT 1000u
#define S_POOL (16u * 4096u)
/* user address = kernel address + this: 4 GiB on 64-bit; 2 GiB in 32-bit, where the sum may
   wrap, which only matters for a pool lying right below 2 GiB (the heap is far below) */
#define S_UV_SHIFT (UINTPTR_MAX > UINT32_MAX ? (uintptr_t)0x100000000ull : (uintptr_t)0x80000000u)

typedef struct s_env {
    lk_kernel *k;
    uint64_t now;
    void *mem[LK_MAX_PROCS];
    lk_event ev[256];
    unsigned nev;
} s_env;

static void s_sink(void *ctx, const lk_event *ev)
{
    s_env *e = ctx;

    if (e->nev < 256)
        e->ev[e->nev++] = *ev;
}

static int s_copy(void *ctx, void *dst, uintptr_t src, size_t n)
{
    (void)ctx;
    if (src == 0)
        return -EFAULT;
    memcpy(dst, (const void *)src, n);
    return 0;
}

static int s_setup(void **state)
{
    s_env *e = calloc(1, sizeof(*e));
    lk_config cfg;

    lk_config_default(&cfg);
    cfg.timeout_ns = S_TIMEOUT;
    assert_int_equal(lk_kernel_new(&cfg, NULL, &e->k), 0);
    lk_kernel_set_event_sink(e->k, s_sink, e);
    e->now = 1000000;
    *state = e;
    return 0;
}

static int s_teardown(void **state)
{
    s_env *e = *state;

    for (int pid = 0; pid < LK_MAX_PROCS; pid++) {
        lk_proc_view v;

        if (lk_proc_view_get(e->k, pid, &v) == 0 && v.in_use)
            assert_int_equal(lk_proc_exit(e->k, pid, e->now), 0);
        free(e->mem[pid]);
    }
    lk_kernel_free(e->k);
    free(e);
    return 0;
}

/* A process that opened and mapped a pool; returns its PID. */
static int s_proc(s_env *e)
{
    int pid = lk_proc_create(e->k, 1000, 2000);

    assert_true(pid >= LK_FIRST_USER_PID);
    assert_int_equal(lk_proc_open(e->k, pid), 0);
    assert_int_equal(lk_mmap_check(e->k, pid, S_POOL, PROT_READ, MAP_PRIVATE), 0);
    e->mem[pid] = aligned_alloc(4096, S_POOL);
    memset(e->mem[pid], 0, S_POOL);
    assert_int_equal(lk_pool_attach(e->k, pid, e->mem[pid],
                                    (uintptr_t)e->mem[pid] + S_UV_SHIFT, S_POOL), 0);
    return pid;
}

/* A user address handed out by the kernel, as the broker sees it. */
static void *s_k(const void *user)
{
    return user == NULL ? NULL : (void *)((uintptr_t)user - S_UV_SHIFT);
}

static int s_sr(s_env *e, int tid, uint32_t flag, const IpcMsg *m, const void *free_user,
                uintptr_t *in_msg)
{
    lk_ioctl_in in;
    lk_ioctl_out out;
    int r;

    memset(&in, 0, sizeof(in));
    in.cmd = IPC_SEND_RECV_MSG;
    in.arg = 0x1000; /* a non-NULL user pointer: its content is in.content */
    in.content.flag = flag;
    in.content.outMsg = (IpcMsg *)m;
    in.content.buffToFree = (void *)free_user;
    if (m != NULL) {
        memcpy(&in.out, m, LK_MSG_SENDER_BYTES);
        in.data = m->data;
        in.offsets = m->offsets;
    }
    in.copy_from_user = s_copy;
    r = lk_ioctl(e->k, tid, &in, e->now, &out);
    if (in_msg != NULL)
        *in_msg = r == 0 && out.copyout == LK_COPYOUT_INMSG ? out.in_msg : 0;
    return r;
}

static int s_simple(s_env *e, int tid, unsigned long cmd, uintptr_t arg, lk_ioctl_out *out)
{
    lk_ioctl_in in;
    lk_ioctl_out o;

    memset(&in, 0, sizeof(in));
    in.cmd = cmd;
    in.arg = arg;
    if (cmd == IPC_CMS_CMD && arg != 0)
        memcpy(&in.cms, (const void *)arg, sizeof(in.cms));
    return lk_ioctl(e->k, tid, &in, e->now, out != NULL ? out : &o);
}

static void s_msg(IpcMsg *m, MsgType type, uint32_t handle, uint32_t code)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->target.handle = handle;
    m->code = code;
}

static unsigned s_count(const s_env *e, lk_event_type type)
{
    unsigned n = 0;

    for (unsigned i = 0; i < e->nev; i++)
        n += e->ev[i].type == type;
    return n;
}

static void s_pool_whole(s_env *e, int pid)
{
    lk_pool_stats st;
    lk_proc_view v;

    lk_pool_get_stats(lk_proc_pool_base(e->k, pid), &st);
    assert_int_equal(lk_pool_check(lk_proc_pool_base(e->k, pid)), 0);
    assert_int_equal(st.used_blocks, 0);
    assert_int_equal(lk_proc_view_get(e->k, pid, &v), 0);
    assert_int_equal(v.used_buffers, 0);
}

/* CMS (samgr's 256), a service with IpcTaskInfo, and a client granted access to it. */
static int s_scene(s_env *e, int *c, int *cp, int *s, int *sp)
{
    int mp = s_proc(e), cms = lk_task_create(e->k, mp);
    CmsCmdContent cc = {.cmd = CMS_ADD_ACCESS};

    assert_int_equal(s_simple(e, cms, IPC_SET_CMS, 256, NULL), 0);
    *sp = s_proc(e);
    *s = lk_task_create(e->k, *sp);
    *cp = s_proc(e);
    *c = lk_task_create(e->k, *cp);
    /* Entering a receive gives the service its IpcTaskInfo (§1.4), needed for a grant. */
    assert_int_equal(s_sr(e, *s, RECV, NULL, NULL, NULL), LK_PARKED);
    assert_int_equal(lk_task_unpark(e->k, *s), 0);
    cc.taskID = (uint32_t)*c;
    cc.serviceHandle = (uint32_t)*s;
    assert_int_equal(s_simple(e, cms, IPC_CMS_CMD, (uintptr_t)&cc, NULL), 0);
    return cms;
}

/* ---- scenes ---------------------------------------------------------------------------------- */

static void smoke_cms_and_small_commands(void **state)
{
    s_env *e = *state;
    int pid = s_proc(e), t = lk_task_create(e->k, pid), t2 = lk_task_create(e->k, pid);
    IpcVersion ver = {0};
    lk_ioctl_out out;
    lk_cms_view cv;

    assert_int_equal(s_simple(e, t, IPC_SET_IPC_THREAD, 0, NULL), -EINVAL); /* no CMS yet */
    assert_int_equal(s_simple(e, t, IPC_SET_CMS, 63, NULL), -EINVAL);
    assert_int_equal(s_simple(e, t, IPC_SET_CMS, 64, NULL), 0);
    assert_int_equal(s_simple(e, t2, IPC_SET_CMS, 64, NULL), -EEXIST);
    assert_int_equal(s_simple(e, t, IPC_GET_VERSION, 0, NULL), -EINVAL);
    assert_int_equal(s_simple(e, t, IPC_GET_VERSION, (uintptr_t)&ver, &out), 0);
    assert_int_equal(out.copyout, LK_COPYOUT_VERSION);
    assert_int_equal(out.version.driverVersion, 2);
    assert_int_equal(s_simple(e, t2, IPC_SET_IPC_THREAD, 0, NULL), t2);
    assert_int_equal(s_simple(e, t, IPC_SET_IPC_THREAD, 0, NULL), -EINVAL);
    assert_int_equal(s_simple(e, t, _IO('i', 9), 0, NULL), -EINVAL);
    lk_cms_view_get(e->k, &cv);
    assert_int_equal(cv.status, HANDLE_REGISTED);
    assert_int_equal(cv.task, t);
    assert_int_equal(cv.max_msg_size, 64);
}

static void smoke_round_trip_with_data(void **state)
{
    s_env *e = *state;
    int c, cp, s, sp;
    char req_data[37], rep_data[5] = "pong";
    IpcMsg m, *req, *rep;
    uintptr_t in;
    lk_completion done;

    s_scene(e, &c, &cp, &s, &sp);
    memset(req_data, 'q', sizeof(req_data));
    s_msg(&m, MT_REQUEST, (uint32_t)s, 7);
    m.data = req_data;
    m.dataSz = sizeof(req_data);
    assert_int_equal(s_sr(e, c, SEND | RECV, &m, NULL, NULL), LK_PARKED);
    assert_true(lk_task_is_parked(e->k, c));
    assert_int_equal(lk_kernel_next_deadline(e->k), e->now + S_TIMEOUT);

    e->now += 10;
    assert_int_equal(s_sr(e, s, RECV, NULL, NULL, &in), 0);
    req = s_k((void *)in);
    assert_int_equal(req->code, 7);
    assert_int_equal(req->taskID, c);
    assert_int_equal(req->processID, cp);
    assert_int_equal(req->userID, 1000);
    assert_int_equal(req->dataSz, sizeof(req_data));
    assert_ptr_equal(s_k(req->data), (char *)req + sizeof(IpcMsg) + 8);
    assert_memory_equal(s_k(req->data), req_data, sizeof(req_data));
    assert_null(req->offsets);

    s_msg(&m, MT_REPLY, req->taskID, 8);
    m.timestamp = req->timestamp;
    m.data = rep_data;
    m.dataSz = sizeof(rep_data);
    assert_int_equal(s_sr(e, s, SEND | BUFF_FREE, &m, (void *)in, NULL), 0);
    assert_int_equal(lk_kernel_take_completion(e->k, &done), 1);
    assert_int_equal(done.tid, c);
    assert_int_equal(done.result, 0);
    assert_false(lk_task_is_parked(e->k, c));
    rep = s_k((void *)done.in_msg);
    assert_int_equal(rep->type, MT_REPLY);
    assert_int_equal(rep->code, 8);
    assert_string_equal(s_k(rep->data), "pong");
    assert_int_equal(s_sr(e, c, BUFF_FREE, NULL, (void *)done.in_msg, NULL), 0);
    assert_int_equal(s_sr(e, c, BUFF_FREE, NULL, (void *)done.in_msg, NULL), -EFAULT);
    s_pool_whole(e, cp);
    s_pool_whole(e, sp);
    assert_int_equal(s_count(e, LK_EV_MSG_WRITTEN), 2);
    assert_int_equal(s_count(e, LK_EV_MSG_READ), 2);
}

static void smoke_sync_timeout_by_tick(void **state)
{
    s_env *e = *state;
    int c, cp, s, sp;
    IpcMsg m;
    lk_completion done;
    uintptr_t in;

    s_scene(e, &c, &cp, &s, &sp);
    s_msg(&m, MT_REQUEST, (uint32_t)s, 1);
    assert_int_equal(s_sr(e, c, SEND | RECV, &m, NULL, NULL), LK_PARKED);
    e->now += S_TIMEOUT - 1;
    lk_kernel_tick(e->k, e->now);
    assert_int_equal(lk_kernel_take_completion(e->k, &done), 0);
    e->now += 1;
    lk_kernel_tick(e->k, e->now);
    assert_int_equal(lk_kernel_take_completion(e->k, &done), 1);
    assert_int_equal(done.tid, c);
    assert_int_equal(done.result, -ETIME);
    assert_int_equal(s_count(e, LK_EV_RECV_TIMEOUT), 1);
    assert_int_equal(lk_kernel_next_deadline(e->k), UINT64_MAX);

    /* A late reply is refused (reply deadline) and the request is freed anyway (Q13). */
    assert_int_equal(s_sr(e, s, RECV, NULL, NULL, &in), 0);
    e->now += 1;
    s_msg(&m, MT_REPLY, (uint32_t)c, 0);
    m.timestamp = ((IpcMsg *)s_k((void *)in))->timestamp;
    assert_int_equal(s_sr(e, s, SEND | BUFF_FREE, &m, (void *)in, NULL), -ETIME);
    s_pool_whole(e, sp);
}

static void smoke_death_notice(void **state)
{
    s_env *e = *state;
    int c, cp, s, sp, ipc;
    lk_completion done;
    IpcMsg *dn;
    lk_proc_view v;

    s_scene(e, &c, &cp, &s, &sp);
    ipc = lk_task_create(e->k, cp);
    assert_int_equal(s_simple(e, ipc, IPC_SET_IPC_THREAD, 0, NULL), ipc);
    assert_int_equal(s_sr(e, ipc, RECV, NULL, NULL, NULL), LK_PARKED);
    assert_int_equal(lk_proc_view_get(e->k, cp, &v), 0);
    assert_true((v.access[s / 64] >> (s % 64)) & 1u);

    e->now += 5;
    assert_int_equal(lk_task_exit(e->k, s, e->now), 0);
    assert_int_equal(lk_kernel_take_completion(e->k, &done), 1);
    assert_int_equal(done.tid, ipc);
    assert_int_equal(done.result, 0);
    dn = s_k((void *)done.in_msg);
    assert_int_equal(dn->type, MT_DEATH_NOTIFY);
    assert_int_equal(dn->target.handle, ipc);
    assert_int_equal(dn->target.token, s);
    assert_int_equal(dn->taskID, s);     /* Q15 fixed */
    assert_int_equal(dn->processID, sp);
    assert_int_equal(dn->timestamp, e->now);
    assert_null(dn->data);
    assert_int_equal(lk_proc_view_get(e->k, cp, &v), 0);
    assert_false((v.access[s / 64] >> (s % 64)) & 1u);
    assert_int_equal(s_sr(e, ipc, BUFF_FREE, NULL, (void *)done.in_msg, NULL), 0);
    assert_int_equal(s_count(e, LK_EV_TASK_DEATH), 1);
    /* LIFO reuse: the dead TID is the next one, with no grants. */
    assert_int_equal(lk_task_create(e->k, sp), s);
    s_pool_whole(e, cp);
}

static void smoke_process_exit_kills_waiters(void **state)
{
    s_env *e = *state;
    int c, cp, s, sp;
    lk_completion done;
    uintptr_t got;
    IpcMsg m;

    s_scene(e, &c, &cp, &s, &sp);
    assert_int_equal(s_sr(e, s, RECV, NULL, NULL, NULL), LK_PARKED);
    s_msg(&m, MT_REQUEST, (uint32_t)s, 1);
    m.flag = LITEIPC_FLAG_ONEWAY;
    assert_int_equal(s_sr(e, c, SEND, &m, NULL, NULL), 0); /* completes s at once */
    assert_int_equal(lk_kernel_take_completion(e->k, &done), 1);
    assert_int_equal(done.tid, s);
    got = done.in_msg;
    assert_int_equal(s_sr(e, c, RECV, NULL, NULL, NULL), LK_PARKED);
    assert_int_equal(lk_proc_exit(e->k, cp, e->now), 0);
    assert_int_equal(lk_kernel_take_completion(e->k, &done), 1);
    assert_int_equal(done.tid, c);
    assert_int_equal(done.result, -ERFKILL);
    assert_int_equal(s_count(e, LK_EV_RECV_KILLED), 1);
    assert_int_equal(lk_task_pid(e->k, c), -ESRCH);
    /* The service's process is untouched: it frees what it got. */
    assert_int_equal(s_sr(e, s, BUFF_FREE, NULL, (void *)got, NULL), 0);
    s_pool_whole(e, sp);
}

static void smoke_objects_and_rollback(void **state)
{
    s_env *e = *state;
    int c, cp, s, sp;
    char src[100], data[2 * sizeof(SpecialObj) + 3];
    uint32_t offs[2] = {0, sizeof(SpecialObj) + 3};
    SpecialObj o;
    IpcMsg m, *got;
    uintptr_t in;

    s_scene(e, &c, &cp, &s, &sp);
    memset(src, 'p', sizeof(src));
    memset(data, 0, sizeof(data));
    o.type = OBJ_PTR;
    o.content.ptr.buff = src;
    o.content.ptr.buffSz = sizeof(src);
    memcpy(data, &o, sizeof(o));
    memset(&o, 0, sizeof(o));
    o.type = (ObjType)7; /* bad type: object 0 must be rolled back */
    memcpy(data + offs[1], &o, sizeof(o));
    s_msg(&m, MT_REQUEST, (uint32_t)s, 1);
    m.flag = LITEIPC_FLAG_ONEWAY;
    m.data = data;
    m.dataSz = sizeof(data);
    m.offsets = offs;
    m.spObjNum = 2;
    assert_int_equal(s_sr(e, c, SEND, &m, NULL, NULL), -EINVAL);
    s_pool_whole(e, sp);

    /* Object 1 becomes an OBJ_SVC naming the client itself (-1 form): granted to s. */
    o.type = OBJ_SVC;
    o.content.svc.handle = UINT32_MAX;
    o.content.svc.token = 1;
    o.content.svc.cookie = 99;
    memcpy(data + offs[1], &o, sizeof(o));
    assert_int_equal(s_sr(e, c, SEND, &m, NULL, NULL), 0);
    assert_int_equal(s_sr(e, s, RECV, NULL, NULL, &in), 0);
    got = s_k((void *)in);
    memcpy(&o, (char *)s_k(got->data) + 0, sizeof(o));
    assert_int_equal(o.type, OBJ_PTR);
    assert_memory_equal(s_k(o.content.ptr.buff), src, sizeof(src));
    assert_int_equal(s_sr(e, s, BUFF_FREE, NULL, o.content.ptr.buff, NULL), 0);
    memcpy(&o, (char *)s_k(got->data) + offs[1], sizeof(o));
    assert_int_equal(o.content.svc.handle, c);
    assert_int_equal(o.content.svc.cookie, 99);
    assert_int_equal(s_sr(e, s, BUFF_FREE, NULL, (void *)in, NULL), 0);
    s_pool_whole(e, sp);
    /* s may now call c. */
    s_msg(&m, MT_REQUEST, (uint32_t)c, 2);
    m.flag = LITEIPC_FLAG_ONEWAY;
    assert_int_equal(s_sr(e, s, SEND, &m, NULL, NULL), 0);
    assert_int_equal(s_sr(e, c, RECV, NULL, NULL, &in), 0);
    assert_int_equal(s_sr(e, c, BUFF_FREE, NULL, (void *)in, NULL), 0);
}

static void smoke_id_reuse_order(void **state)
{
    s_env *e = *state;
    int a = lk_proc_create(e->k, 0, 0), b = lk_proc_create(e->k, 0, 0);
    int t1 = lk_task_create(e->k, a), t2 = lk_task_create(e->k, a);

    assert_int_equal(a, LK_FIRST_USER_PID);
    assert_int_equal(b, LK_FIRST_USER_PID + 1);
    assert_int_equal(t1, LK_FIRST_USER_TID);
    assert_int_equal(t2, LK_FIRST_USER_TID + 1);
    assert_int_equal(lk_task_exit(e->k, t1, e->now), 0);
    assert_int_equal(lk_task_create(e->k, b), t1); /* LIFO */
    assert_int_equal(lk_proc_exit(e->k, a, e->now), 0);
    assert_int_equal(lk_proc_create(e->k, 0, 0), LK_FIRST_USER_PID + 2); /* FIFO */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(smoke_cms_and_small_commands, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(smoke_round_trip_with_data, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(smoke_sync_timeout_by_tick, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(smoke_death_notice, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(smoke_process_exit_kills_waiters, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(smoke_objects_and_rollback, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(smoke_id_reuse_order, s_setup, s_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
