/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kfix.c - fixture for tests of the pure kernel layer (see kfix.h).
 */
#include "kfix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- hooks --------------------------------------------------------------------------------- */

static void fx_event(void *ctx, const lk_event *ev)
{
    t_kfix *f = ctx;
    if (f->nev < T_MAX_EVENTS)
        f->ev[f->nev++] = *ev;
    else
        f->ev_lost++;
}

static void fd_track(t_kfix *f, int fd)
{
    if (f->nfds < T_MAX_FDS)
        f->fds[f->nfds++] = fd;
}

static bool fd_untrack(t_kfix *f, int fd)
{
    for (unsigned i = 0; i < f->nfds; i++) {
        if (f->fds[i] == fd) {
            f->fds[i] = f->fds[--f->nfds];
            return true;
        }
    }
    return false;
}

/* dup() in this process: the lowest free descriptor >= 3, without CLOEXEC. */
static int fx_fd_dup(void *ctx, int src_pid, int fd, int dst_pid)
{
    t_kfix *f = ctx;
    int n = fcntl(fd, F_DUPFD, 3);
    if (n < 0)
        return -errno;
    fd_track(f, n);
    f->fd_dups++;
    f->last_dup_src_pid = src_pid;
    f->last_dup_dst_pid = dst_pid;
    return n;
}

static void fx_fd_close(void *ctx, int pid, int fd)
{
    t_kfix *f = ctx;
    f->fd_closes++;
    f->last_close_pid = pid;
    if (f->nclosed < T_MAX_FDS)
        f->closed[f->nclosed++] = fd;
    if (fd_untrack(f, fd))
        close(fd);
}

static int fx_copy_from_user(void *ctx, void *dst, uintptr_t src, size_t n)
{
    t_kfix *f = ctx;
    if (f->copy_fault || src == 0)
        return -EFAULT;
    memcpy(dst, (const void *)src, n);
    f->copies++;
    return 0;
}

/* ---- fixture life -------------------------------------------------------------------------- */

void t_config(lk_config *cfg)
{
    lk_config_default(cfg);
    cfg->timeout_ns = T_TIMEOUT_NS;
}

static void kernel_up(t_kfix *f, const lk_config *cfg, bool fd_ops)
{
    if (cfg != NULL)
        f->cfg = *cfg;
    else
        t_config(&f->cfg);
    f->use_fd_ops = fd_ops;
    memset(&f->ops, 0, sizeof f->ops);
    if (fd_ops) {
        f->ops.fd_dup = fx_fd_dup;
        f->ops.fd_close = fx_fd_close;
    }
    f->ops.ctx = f;
    f->now = T_START_NS;
    f->nev = 0;
    f->ev_lost = 0;
    f->npools = 0;
    f->nfds = 0;
    f->fd_dups = f->fd_closes = 0;
    f->nclosed = 0;
    f->last_dup_src_pid = f->last_dup_dst_pid = f->last_close_pid = -1;
    f->copy_fault = false;
    f->no_copy_hook = false;
    f->copies = 0;
    f->allow_leaks = false;
    f->next_uid = 1000;
    f->k = NULL;
    int r = lk_kernel_new(&f->cfg, &f->ops, &f->k);
    assert_int_equal(r, 0);
    assert_non_null(f->k);
    lk_kernel_set_event_sink(f->k, fx_event, f);
}

static void kernel_down(t_kfix *f)
{
    if (f->k == NULL)
        return;
    lk_kernel *k = f->k;

    /* 1. Every task dies (§7.2): queues are drained, parked receives cancelled. */
    for (int tid = 0; tid < LK_MAX_TASKS; tid++) {
        lk_task_view tv;
        if (lk_task_view_get(k, tid, &tv) == 0 && tv.in_use)
            assert_int_equal(lk_task_exit(k, tid, f->now), 0);
    }
    lk_completion c;
    while (lk_kernel_take_completion(k, &c) == 1) {
    }

    /* 2. Every live pool is consistent and, unless allowed, whole again. */
    for (int pid = 0; pid < LK_MAX_PROCS; pid++) {
        lk_proc_view pv;
        if (lk_proc_view_get(k, pid, &pv) != 0 || !pv.in_use || !pv.pool_mapped)
            continue;
        void *base = lk_proc_pool_base(k, pid);
        assert_non_null(base);
        assert_int_equal(lk_pool_check(base), 0);
        if (!f->allow_leaks) {
            lk_pool_stats st;
            lk_pool_get_stats(base, &st);
            if (st.used_blocks != 0 || pv.used_buffers != 0)
                print_error("teardown: pid %d pool has %u used blocks, %u used-list entries\n",
                            pid, st.used_blocks, pv.used_buffers);
            assert_int_equal(st.used_blocks, 0);
            assert_int_equal(pv.used_buffers, 0);
        }
    }

    /* 3. Every process exits (§7.3). */
    for (int pid = 0; pid < LK_MAX_PROCS; pid++) {
        lk_proc_view pv;
        if (lk_proc_view_get(k, pid, &pv) == 0 && pv.in_use)
            assert_int_equal(lk_proc_exit(k, pid, f->now), 0);
    }
    while (lk_kernel_take_completion(k, &c) == 1) {
    }

    lk_kernel_free(k);
    f->k = NULL;
    for (unsigned i = 0; i < f->npools; i++)
        free(f->pools[i].mem);
    f->npools = 0;
    while (f->nfds > 0)
        close(f->fds[--f->nfds]);
}

t_kfix *t_kfix_new_ops(const lk_config *cfg, bool fd_ops)
{
    t_kfix *f = calloc(1, sizeof *f);
    assert_non_null(f);
    kernel_up(f, cfg, fd_ops);
    return f;
}

t_kfix *t_kfix_new(const lk_config *cfg)
{
    return t_kfix_new_ops(cfg, true);
}

void t_kfix_free(t_kfix *f)
{
    if (f == NULL)
        return;
    kernel_down(f);
    free(f);
}

void t_kfix_restart(t_kfix *f, const lk_config *cfg, bool fd_ops)
{
    kernel_down(f);
    kernel_up(f, cfg, fd_ops);
}

int t_setup(void **state)
{
    *state = t_kfix_new(NULL);
    return 0;
}

int t_teardown(void **state)
{
    t_kfix_free(*state);
    *state = NULL;
    return 0;
}

void t_allow_leaks(t_kfix *f)
{
    f->allow_leaks = true;
}

void t_advance(t_kfix *f, uint64_t ns)
{
    f->now += ns;
}

/* ---- processes, tasks, pools ------------------------------------------------------------- */

int t_must_proc_ids(t_kfix *f, uint32_t uid, uint32_t gid)
{
    int pid = lk_proc_create(f->k, uid, gid);
    assert_true(pid >= LK_FIRST_USER_PID);
    return pid;
}

int t_must_proc(t_kfix *f)
{
    uint32_t uid = f->next_uid++;
    return t_must_proc_ids(f, uid, uid + 1000);
}

int t_must_task(t_kfix *f, int pid)
{
    int tid = lk_task_create(f->k, pid);
    assert_true(tid >= LK_FIRST_USER_TID);
    assert_int_equal(lk_task_pid(f->k, tid), pid);
    return tid;
}

void t_must_open(t_kfix *f, int pid)
{
    assert_int_equal(lk_proc_open(f->k, pid), 0);
}

int t_attach(t_kfix *f, int pid, size_t size, void **mem_out)
{
    return t_attach_at(f, pid, size, 0, mem_out);
}

int t_attach_at(t_kfix *f, int pid, size_t size, uintptr_t uvaddr, void **mem_out)
{
    assert_true(f->npools < T_MAX_POOLS);
    void *mem = aligned_alloc(LK_PAGE_SIZE, size);
    assert_non_null(mem);
    memset(mem, 0, size);
    f->pools[f->npools].pid = pid;
    f->pools[f->npools].mem = mem;
    f->pools[f->npools].size = size;
    f->npools++;
    if (mem_out != NULL)
        *mem_out = mem;
    return lk_pool_attach(f->k, pid, mem, uvaddr != 0 ? uvaddr : (uintptr_t)mem, size);
}

int t_map(t_kfix *f, int pid, size_t size)
{
    int r = lk_mmap_check(f->k, pid, size, PROT_READ, MAP_PRIVATE);
    if (r != 0)
        return r;
    return t_attach(f, pid, size, NULL);
}

void *t_must_map(t_kfix *f, int pid, size_t size)
{
    assert_int_equal(lk_mmap_check(f->k, pid, size, PROT_READ, MAP_PRIVATE), 0);
    void *mem = NULL;
    assert_int_equal(t_attach(f, pid, size, &mem), 0);
    return mem;
}

int t_must_ready_proc(t_kfix *f, size_t size)
{
    int pid = t_must_proc(f);
    t_must_open(f, pid);
    t_must_map(f, pid, size != 0 ? size : T_POOL_SIZE);
    return pid;
}

int t_must_ready_task(t_kfix *f, size_t size, int *pid_out)
{
    int pid = t_must_ready_proc(f, size);
    if (pid_out != NULL)
        *pid_out = pid;
    return t_must_task(f, pid);
}

int t_must_cms_size(t_kfix *f, uint32_t max_msg, int *pid_out)
{
    int tid = t_must_ready_task(f, 0, pid_out);
    assert_int_equal(t_set_cms(f, tid, max_msg), 0);
    return tid;
}

int t_must_cms(t_kfix *f)
{
    return t_must_cms_size(f, T_CMS_MAX, NULL);
}

int t_pid_of(t_kfix *f, int tid)
{
    return lk_task_pid(f->k, tid);
}

lk_proc_view t_pview(t_kfix *f, int pid)
{
    lk_proc_view v;
    memset(&v, 0, sizeof v);
    (void)lk_proc_view_get(f->k, pid, &v);
    return v;
}

lk_task_view t_tview(t_kfix *f, int tid)
{
    lk_task_view v;
    memset(&v, 0, sizeof v);
    (void)lk_task_view_get(f->k, tid, &v);
    return v;
}

lk_cms_view t_cview(t_kfix *f)
{
    lk_cms_view v;
    memset(&v, 0, sizeof v);
    lk_cms_view_get(f->k, &v);
    return v;
}

bool t_has_access_bit(const lk_proc_view *v, int tid)
{
    return (v->access[tid / 64] >> (tid % 64)) & 1u;
}

lk_pool_stats t_pool_stats(t_kfix *f, int pid)
{
    void *base = lk_proc_pool_base(f->k, pid);
    assert_non_null(base);
    assert_int_equal(lk_pool_check(base), 0);
    lk_pool_stats st;
    lk_pool_get_stats(base, &st);
    return st;
}

unsigned t_pool_used(t_kfix *f, int pid)
{
    return t_pool_stats(f, pid).used_blocks;
}

bool t_in_pool(t_kfix *f, int pid, const void *p, size_t n)
{
    lk_proc_view v = t_pview(f, pid);
    uintptr_t a = (uintptr_t)p;
    return v.pool_mapped && a >= v.uvaddr && a + n <= v.uvaddr + v.pool_size && a + n >= a;
}

/* ---- messages ------------------------------------------------------------------------------ */

void t_msg(IpcMsg *m, MsgType type, uint32_t handle, uint32_t code, uint32_t flag)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    m->target.handle = handle;
    m->code = code;
    m->flag = flag;
}

void t_msg_data(IpcMsg *m, const void *data, uint32_t size)
{
    m->data = (void *)data;
    m->dataSz = size;
}

void t_msg_objs(IpcMsg *m, const uint32_t *offsets, uint32_t n)
{
    m->offsets = (void *)offsets;
    m->spObjNum = n;
}

void t_reply_to(IpcMsg *m, const IpcMsg *req, MsgType type, uint32_t code)
{
    t_msg(m, type, req->taskID, code, 0);
    m->timestamp = req->timestamp;
}

static void put_obj(void *data, uint32_t off, const SpecialObj *o)
{
    memcpy((char *)data + off, o, sizeof *o);
}

void t_put_fd(void *data, uint32_t off, int fd)
{
    SpecialObj o;
    memset(&o, 0, sizeof o);
    o.type = OBJ_FD;
    o.content.fd = (uint32_t)fd;
    put_obj(data, off, &o);
}

void t_put_ptr(void *data, uint32_t off, void *buff, uint32_t size)
{
    SpecialObj o;
    memset(&o, 0, sizeof o);
    o.type = OBJ_PTR;
    o.content.ptr.buff = buff;
    o.content.ptr.buffSz = size;
    put_obj(data, off, &o);
}

void t_put_svc(void *data, uint32_t off, uint32_t handle, uint32_t token, uint32_t cookie)
{
    SpecialObj o;
    memset(&o, 0, sizeof o);
    o.type = OBJ_SVC;
    o.content.svc.handle = handle;
    o.content.svc.token = token;
    o.content.svc.cookie = cookie;
    put_obj(data, off, &o);
}

void t_put_type(void *data, uint32_t off, uint32_t type)
{
    memcpy((char *)data + off, &type, sizeof type);
}

SpecialObj t_get_obj(const IpcMsg *m, uint32_t i)
{
    uint32_t off;
    assert_true(i < m->spObjNum);
    assert_non_null(m->offsets);
    memcpy(&off, (const char *)m->offsets + 4u * i, sizeof off);
    SpecialObj o;
    memcpy(&o, (const char *)m->data + off, sizeof o);
    return o;
}

/* ---- ioctl --------------------------------------------------------------------------------- */

void t_fill_in(t_kfix *f, lk_ioctl_in *in, unsigned long cmd, uintptr_t arg)
{
    memset(in, 0, sizeof *in);
    in->cmd = cmd;
    in->arg = arg;
    if (cmd == IPC_CMS_CMD && arg != 0)
        memcpy(&in->cms, (const void *)arg, sizeof in->cms);
    if (cmd == IPC_SEND_RECV_MSG && arg != 0) {
        memcpy(&in->content, (const void *)arg, sizeof in->content);
        if ((in->content.flag & SEND) && in->content.outMsg != NULL) {
            memcpy(&in->out, in->content.outMsg, LK_MSG_SENDER_BYTES);
            if (in->out.data != NULL && in->out.dataSz <= f->cfg.data_max)
                in->data = in->out.data;
            if (in->out.offsets != NULL && in->out.spObjNum <= f->cfg.object_max)
                in->offsets = in->out.offsets;
        }
    }
    in->copy_from_user = f->no_copy_hook ? NULL : fx_copy_from_user;
    in->copy_ctx = f;
}

int t_ioctl(t_kfix *f, int tid, unsigned long cmd, uintptr_t arg, lk_ioctl_out *out)
{
    lk_ioctl_in in;
    lk_ioctl_out o;
    t_fill_in(f, &in, cmd, arg);
    memset(&o, 0, sizeof o);
    int r = lk_ioctl(f->k, tid, &in, f->now, &o);
    if (r >= 0 && r != LK_PARKED) {
        switch (o.copyout) {
        case LK_COPYOUT_NONE:
            break;
        case LK_COPYOUT_CMS:
            memcpy((void *)arg, &o.cms, sizeof o.cms);
            break;
        case LK_COPYOUT_VERSION:
            memcpy((void *)arg, &o.version, sizeof o.version);
            break;
        case LK_COPYOUT_INMSG:
            ((IpcContent *)arg)->inMsg = (IpcMsg *)o.in_msg;
            break;
        }
    }
    if (out != NULL)
        *out = o;
    return r;
}

int t_set_cms(t_kfix *f, int tid, uint32_t max_msg)
{
    return t_ioctl(f, tid, IPC_SET_CMS, max_msg, NULL);
}

int t_cms_cmd(t_kfix *f, int tid, CmsCmdContent *c)
{
    return t_ioctl(f, tid, IPC_CMS_CMD, (uintptr_t)c, NULL);
}

int t_gen_handle(t_kfix *f, int tid, uint32_t task, uint32_t *handle_out)
{
    CmsCmdContent c = {.cmd = CMS_GEN_HANDLE, .taskID = task, .serviceHandle = 0xDEADBEEF};
    int r = t_cms_cmd(f, tid, &c);
    if (handle_out != NULL)
        *handle_out = c.serviceHandle;
    return r;
}

int t_add_access(t_kfix *f, int tid, uint32_t task, uint32_t handle)
{
    CmsCmdContent c = {.cmd = CMS_ADD_ACCESS, .taskID = task, .serviceHandle = handle};
    return t_cms_cmd(f, tid, &c);
}

int t_remove_handle(t_kfix *f, int tid, uint32_t handle)
{
    CmsCmdContent c = {.cmd = CMS_REMOVE_HANDLE, .taskID = 0, .serviceHandle = handle};
    return t_cms_cmd(f, tid, &c);
}

int t_set_ipc_thread(t_kfix *f, int tid)
{
    return t_ioctl(f, tid, IPC_SET_IPC_THREAD, 0, NULL);
}

int t_version(t_kfix *f, int tid, IpcVersion *v)
{
    return t_ioctl(f, tid, IPC_GET_VERSION, (uintptr_t)v, NULL);
}

int t_sr(t_kfix *f, int tid, uint32_t flag, const IpcMsg *out, void *buff_to_free, IpcMsg **in_msg)
{
    IpcContent c;
    memset(&c, 0, sizeof c);
    c.flag = flag;
    c.outMsg = (IpcMsg *)out;
    c.buffToFree = buff_to_free;
    c.inMsg = NULL;
    int r = t_ioctl(f, tid, IPC_SEND_RECV_MSG, (uintptr_t)&c, NULL);
    if (in_msg != NULL)
        *in_msg = c.inMsg;
    return r;
}

int t_send(t_kfix *f, int tid, const IpcMsg *out)
{
    return t_sr(f, tid, SEND, out, NULL, NULL);
}

int t_call(t_kfix *f, int tid, const IpcMsg *out, IpcMsg **in_msg)
{
    return t_sr(f, tid, SEND | RECV, out, NULL, in_msg);
}

int t_recv(t_kfix *f, int tid, IpcMsg **in_msg)
{
    return t_sr(f, tid, RECV, NULL, NULL, in_msg);
}

int t_free(t_kfix *f, int tid, const void *buf)
{
    return t_sr(f, tid, BUFF_FREE, NULL, (void *)buf, NULL);
}

int t_reply(t_kfix *f, int tid, const IpcMsg *req, MsgType type, uint32_t code)
{
    IpcMsg m;
    t_reply_to(&m, req, type, code);
    return t_sr(f, tid, SEND | BUFF_FREE, &m, (void *)req, NULL);
}

int t_send_req(t_kfix *f, int tid, uint32_t handle, uint32_t code, uint32_t flag)
{
    IpcMsg m;
    t_msg(&m, MT_REQUEST, handle, code, flag);
    return t_send(f, tid, &m);
}

IpcMsg *t_must_recv(t_kfix *f, int tid)
{
    IpcMsg *in = NULL;
    assert_int_equal(t_recv(f, tid, &in), 0);
    assert_non_null(in);
    return in;
}

void t_must_free(t_kfix *f, int tid, const void *buf)
{
    assert_int_equal(t_free(f, tid, buf), 0);
}

uint32_t t_must_recv_free(t_kfix *f, int tid)
{
    IpcMsg *in = t_must_recv(f, tid);
    uint32_t code = in->code;
    t_must_free(f, tid, in);
    return code;
}

/* ---- common scenes ------------------------------------------------------------------------ */

void t_give_info(t_kfix *f, int tid)
{
    assert_int_equal(t_send_req(f, tid, (uint32_t)tid, 0xABC, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, tid), 0xABC);
    assert_true(t_tview(f, tid).has_info);
}

int t_client_server(t_kfix *f, int *c, int *c_pid, int *s, int *s_pid)
{
    int cms = t_must_cms(f);
    *s = t_must_ready_task(f, 0, s_pid);
    t_give_info(f, *s);
    *c = t_must_ready_task(f, 0, c_pid);
    assert_int_equal(t_add_access(f, cms, (uint32_t)*c, (uint32_t)*s), 0);
    return cms;
}

IpcMsg *t_request_received(t_kfix *f, int c, int s, uint32_t code)
{
    assert_int_equal(t_send_req(f, c, (uint32_t)s, code, LITEIPC_FLAG_DEFAULT), 0);
    IpcMsg *in = t_must_recv(f, s);
    assert_int_equal(in->type, MT_REQUEST);
    assert_int_equal(in->code, code);
    return in;
}

IpcMsg *t_self_msg(t_kfix *f, int tid, uint32_t code)
{
    assert_int_equal(t_send_req(f, tid, (uint32_t)tid, code, LITEIPC_FLAG_ONEWAY), 0);
    return t_must_recv(f, tid);
}

/* ---- completions and events ---------------------------------------------------------------- */

int t_take(t_kfix *f, lk_completion *c)
{
    return lk_kernel_take_completion(f->k, c);
}

IpcMsg *t_must_complete(t_kfix *f, int tid, int result)
{
    lk_completion c;
    memset(&c, 0, sizeof c);
    assert_int_equal(t_take(f, &c), 1);
    assert_int_equal(c.tid, tid);
    assert_int_equal(c.result, result);
    return (IpcMsg *)c.in_msg;
}

void t_must_no_completion(t_kfix *f)
{
    lk_completion c;
    assert_int_equal(t_take(f, &c), 0);
}

void t_tick(t_kfix *f)
{
    lk_kernel_tick(f->k, f->now);
}

void t_ev_clear(t_kfix *f)
{
    f->nev = 0;
    f->ev_lost = 0;
}

unsigned t_ev_count(t_kfix *f, lk_event_type type)
{
    unsigned n = 0;
    for (unsigned i = 0; i < f->nev; i++)
        n += f->ev[i].type == type;
    return n;
}

const lk_event *t_ev_nth(t_kfix *f, lk_event_type type, unsigned n)
{
    for (unsigned i = 0; i < f->nev; i++) {
        if (f->ev[i].type == type && n-- == 0)
            return &f->ev[i];
    }
    return NULL;
}

/* ---- OBJ_FD bookkeeping ------------------------------------------------------------------- */

bool t_fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

bool t_fd_tracked(t_kfix *f, int fd)
{
    for (unsigned i = 0; i < f->nfds; i++) {
        if (f->fds[i] == fd)
            return true;
    }
    return false;
}

void t_close_received_fd(t_kfix *f, int fd)
{
    assert_true(fd_untrack(f, fd));
    close(fd);
}
