/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel.c - the LiteIPC driver as pure logic: tables, life cycle, mmap, the ioctl prelude and
 * the small commands (LITEIPC_REFERENCE §1, §2, §3, §7). IPC_SEND_RECV_MSG is in kernel_msg.c.
 *
 * Nothing here blocks, reads a clock or makes a system call; malloc is used only by
 * lk_kernel_new and lk_pool_attach (the used-list bitmap), never per message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernel_int.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif

/* ---- configuration -------------------------------------------------------------------------- */

void lk_config_default(lk_config *cfg)
{
    cfg->task_limit = LK_MAX_TASKS;
    cfg->process_limit = LK_MAX_PROCS;
    cfg->pool_max_size = LITE_IPC_POOL_MAX_SIZE;
    cfg->data_max = IPC_MSG_DATA_SZ_MAX;
    cfg->object_max = IPC_MSG_OBJECT_NUM_MAX;
    cfg->timeout_ns = LITEIPC_TIMEOUT_NS;
    cfg->driver_version = DRIVER_VERSION;
}

static bool config_valid(const lk_config *c)
{
    if (c->task_limit <= LK_FIRST_USER_TID || c->task_limit > LK_MAX_TASKS)
        return false;
    if (c->process_limit <= LK_FIRST_USER_PID || c->process_limit > LK_MAX_PROCS)
        return false;
    if (c->pool_max_size < LK_PAGE_SIZE || c->pool_max_size % LK_PAGE_SIZE != 0 ||
        c->pool_max_size >= ((size_t)1 << 31))
        return false;
    return true;
}

/* ---- the kernel ----------------------------------------------------------------------------- */

int lk_kernel_new(const lk_config *cfg, const lk_ops *ops, lk_kernel **out)
{
    lk_kernel *k;

    *out = NULL;
    if (cfg == NULL || !config_valid(cfg))
        return -EINVAL;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return -ENOMEM;
    k->cfg = *cfg;
    if (ops != NULL)
        k->ops = *ops;
    k->cms_status = HANDLE_NOT_USED;
    /* §1.1: at boot TIDs are handed out lowest-first; the stack's top is the next one. */
    for (unsigned t = cfg->task_limit; t-- > LK_FIRST_USER_TID;)
        k->free_tids[k->n_free_tids++] = (uint8_t)t;
    for (unsigned p = LK_FIRST_USER_PID; p < cfg->process_limit; p++)
        k->free_pids[k->n_free_pids++] = (uint8_t)p;
    *out = k;
    return 0;
}

void lk_kernel_free(lk_kernel *k)
{
    if (k == NULL)
        return;
    for (int p = 0; p < LK_MAX_PROCS; p++)
        free(k->procs[p].used);
    lk__fault_free(k);
    free(k);
}

const lk_config *lk_kernel_cfg(const lk_kernel *k)
{
    return &k->cfg;
}

void lk_kernel_set_event_sink(lk_kernel *k, lk_event_fn fn, void *ctx)
{
    k->ev_fn = fn;
    k->ev_ctx = fn != NULL ? ctx : NULL;
}

static int32_t pid_of_tid(const lk_kernel *k, int tid)
{
    if (tid < 0 || tid >= LK_MAX_TASKS || !k->tasks[tid].in_use)
        return -1;
    return k->tasks[tid].pid;
}

/* An event with its common fields, no message, and none of the access model's. */
static void ev_init(const lk_kernel *k, lk_event *ev, lk_event_type type, int err, uint64_t now,
                    int src_tid, int src_pid, int dst_tid)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->err = err;
    ev->time_ns = now;
    ev->src_tid = src_tid;
    ev->src_pid = src_pid;
    ev->dst_tid = dst_tid;
    ev->dst_pid = pid_of_tid(k, dst_tid);
    ev->cms_cmd = ev->handle = ev->grantee_pid = -1;
    ev->fault = ev->fault_id = -1;
}

void lk__emit_slow(lk_kernel *k, lk_event_type type, int err, uint64_t now, int src_tid,
                   int src_pid, int dst_tid, const IpcMsg *msg)
{
    lk_event ev;

    ev_init(k, &ev, type, err, now, src_tid, src_pid, dst_tid);
    if (msg != NULL)
        ev.msg = *msg;
    k->ev_fn(k->ev_ctx, &ev);
}

void lk__emit_access_slow(lk_kernel *k, lk_event_type type, int err, uint64_t now, int src_tid,
                          int dst_tid, const lk_ev_access *a)
{
    lk_event ev;

    ev_init(k, &ev, type, err, now, src_tid, pid_of_tid(k, src_tid), dst_tid);
    if (a->msg != NULL)
        ev.msg = *a->msg;
    ev.cmd = a->cmd;
    ev.cms_cmd = a->cms_cmd;
    ev.handle = a->handle;
    ev.grantee_pid = a->grantee_pid;
    k->ev_fn(k->ev_ctx, &ev);
}

/* ---- access (§1.5) -------------------------------------------------------------------------- */

bool lk__has_access(const lk_kernel *k, int pid, uint32_t h)
{
    const lk_task *t;

    if (h >= MAX_SERVICE_NUM)
        return false;
    if (h == 0)
        return true; /* everyone may call the CMS; the size limit applies (§4.3.5) */
    t = &k->tasks[h];
    if (t->in_use && t->pid == pid)
        return true; /* same process, including oneself */
    if (!t->in_use || !t->has_info)
        return false;
    return (t->access_map >> pid) & 1u;
}

int lk__grant(lk_kernel *k, int pid, uint32_t h, int by, int32_t cms_cmd, const IpcMsg *msg,
              uint64_t now)
{
    lk_ev_access ev = {
        .cmd = cms_cmd < 0 ? IPC_SEND_RECV_MSG : IPC_CMS_CMD,
        .cms_cmd = cms_cmd,
        .handle = (int32_t)h,
        .grantee_pid = pid,
        .msg = msg,
    };
    int svc;
    lk_task *t;
    lk_proc *p = lk__proc(k, pid);

    if (h >= MAX_SERVICE_NUM)
        return -EINVAL;
    svc = lk__resolve(k, h);
    t = lk__task(k, svc);
    /* Q10: nothing is granted while the service task has no IpcTaskInfo. */
    if (t == NULL || !t->has_info || p == NULL || !p->has_ipc)
        return -EINVAL;
    t->access_map |= (uint64_t)1 << pid;
    p->access[svc / 64] |= (uint64_t)1 << (svc % 64);
    if (by >= 0)
        lk__emit_access(k, LK_EV_GRANT, 0, now, by, svc, &ev);
    return 0;
}

/* ---- processes ------------------------------------------------------------------------------ */

static int pid_alloc(lk_kernel *k)
{
    int pid;

    if (k->n_free_pids == 0)
        return -EAGAIN;
    pid = k->free_pids[k->pid_head];
    k->pid_head = (k->pid_head + 1) % LK_MAX_PROCS;
    k->n_free_pids--;
    return pid;
}

/* §1.1: freed PCBs go to the tail (FIFO reuse). */
static void pid_release(lk_kernel *k, int pid)
{
    k->free_pids[(k->pid_head + k->n_free_pids) % LK_MAX_PROCS] = (uint8_t)pid;
    k->n_free_pids++;
}

static void proc_ipc_init(lk_proc *p)
{
    p->has_ipc = true;
    p->uvaddr = 0;
    p->kbase = NULL;
    p->pool_size = 0;
    p->ipc_task = LK_INVALID_ID;
    p->used = NULL;
    p->used_count = 0;
    p->access[0] = p->access[1] = 0;
}

int lk_proc_create(lk_kernel *k, uint32_t uid, uint32_t gid)
{
    int pid = pid_alloc(k);
    lk_proc *p;

    if (pid < 0)
        return pid;
    p = &k->procs[pid];
    memset(p, 0, sizeof(*p));
    p->in_use = true;
    p->uid = uid;
    p->gid = gid;
    p->ipc_task = LK_INVALID_ID;
    return pid;
}

/* §7.6: IPC state iff the parent has it, with the parent's uvaddr and no pool mapped. */
int lk_proc_fork(lk_kernel *k, int parent_pid, uint32_t uid, uint32_t gid)
{
    lk_proc *parent = lk__proc(k, parent_pid);
    int pid;

    if (parent == NULL)
        return -ESRCH;
    pid = lk_proc_create(k, uid, gid);
    if (pid < 0)
        return pid;
    k->procs[pid].abi = parent->abi; /* the same program: until it says otherwise */
    if (!parent->has_ipc)
        return pid;
    proc_ipc_init(&k->procs[pid]);
    k->procs[pid].uvaddr = parent->uvaddr;
    return pid;
}

int lk_proc_set_abi(lk_kernel *k, int pid, int abi)
{
    lk_proc *p = lk__proc(k, pid);

    if (p == NULL)
        return -ESRCH;
    if (abi < 0 || abi >= LK_ABI_COUNT)
        return -EINVAL;
    p->abi = (uint8_t)abi;
    return 0;
}

int lk_proc_abi(const lk_kernel *k, int pid)
{
    if (pid < 0 || pid >= LK_MAX_PROCS || !k->procs[pid].in_use)
        return -ESRCH;
    return k->procs[pid].abi;
}

/* §2.2: the first open gives the process its ProcIpcInfo; later opens find it unchanged. */
int lk_proc_open(lk_kernel *k, int pid)
{
    lk_proc *p = lk__proc(k, pid);

    if (p == NULL)
        return -ESRCH;
    if (!p->has_ipc)
        proc_ipc_init(p);
    return 0;
}

/* §7.3: the pool is released wholesale (no per-object rollback; fds go with the process's
   descriptor table), grants held by the process are withdrawn, then ProcIpcInfo goes. */
static void proc_ipc_destroy(lk_kernel *k, int pid)
{
    lk_proc *p = &k->procs[pid];

    if (!p->has_ipc)
        return;
    free(p->used);
    for (int t = 0; t < LK_MAX_TASKS; t++) {
        if (!((p->access[t / 64] >> (t % 64)) & 1u))
            continue;
        if (k->tasks[t].in_use && k->tasks[t].has_info)
            k->tasks[t].access_map &= ~((uint64_t)1 << pid);
    }
    proc_ipc_init(p);
    p->has_ipc = false;
    p->ipc_task = LK_INVALID_ID;
}

static void task_death(lk_kernel *k, int tid, uint64_t now);

/*
 * Process death. Q18 (fixed): every task's cleanup (§7.2) runs before the process cleanup
 * (§7.3). All tasks are marked exiting first, as the device kills every thread before the
 * last one cleans up: none of them is alive for messages sent during the teardown.
 */
/* A killed task's cleanup; a parked receive, woken by the kill, returns -ERFKILL (§4.4.1),
   unless the task is the caller of the command that killed it (lk_ioctl returns it). */
static void kill_task(lk_kernel *k, int t, uint64_t now)
{
    if (k->tasks[t].parked) {
        lk__unpark(k, t);
        if (t != k->fault_caller)
            lk__complete(k, t, -ERFKILL, 0);
        lk__emit(k, LK_EV_RECV_KILLED, ERFKILL, now, -1, -1, t, NULL);
        k->stats.killed++;
    }
    task_death(k, t, now);
}

/* Every task of pid but `spare` (-1: none) is killed: all are marked exiting first, then each
   one's cleanup runs. */
static void kill_tasks(lk_kernel *k, int pid, int spare, uint64_t now)
{
    for (int t = 0; t < LK_MAX_TASKS; t++) {
        if (k->tasks[t].in_use && k->tasks[t].pid == pid && t != spare)
            k->tasks[t].exiting = true;
    }
    for (int t = 0; t < LK_MAX_TASKS; t++) {
        lk_task *task = &k->tasks[t];

        if (!task->in_use || task->pid != pid || t == spare)
            continue;
        kill_task(k, t, now);
    }
}

int lk_proc_exit(lk_kernel *k, int pid, uint64_t now)
{
    lk_proc *p = lk__proc(k, pid);

    if (p == NULL)
        return -ESRCH;
    kill_tasks(k, pid, -1, now);
    proc_ipc_destroy(k, pid);
    k->stats.process_deaths++;
    p->in_use = false;
    pid_release(k, pid);
    return 0;
}

void lk__kill(lk_kernel *k, int pid, int tid, uint64_t now)
{
    if (tid < 0) {
        (void)lk_proc_exit(k, pid, now);
        return;
    }
    if (lk__task(k, tid) == NULL)
        return;
    k->tasks[tid].exiting = true;
    kill_task(k, tid, now);
}

/*
 * §7.7: the other threads die, then the process's IPC state goes, and the exec'ing task stays
 * with its TID and IpcTaskInfo. Q17 (fixed): its queue would keep pointing into the released
 * pool; it is drained with rollback first, as at task death, without the death notices.
 */
int lk_proc_exec(lk_kernel *k, int tid, uint64_t now)
{
    lk_task *t = lk__task(k, tid);

    if (t == NULL)
        return -ESRCH;
    if (t->parked)
        return -EBUSY; /* the thread is inside an ioctl: it cannot be calling exec */
    kill_tasks(k, t->pid, tid, now);
    if (t->has_info)
        lk__task_drain(k, tid, now);
    proc_ipc_destroy(k, t->pid);
    lk__emit(k, LK_EV_EXEC, 0, now, tid, t->pid, -1, NULL);
    return 0;
}

/* ---- tasks ---------------------------------------------------------------------------------- */

int lk_task_create(lk_kernel *k, int pid)
{
    lk_proc *p = lk__proc(k, pid);
    lk_task *t;
    uint64_t stamp;
    int tid;

    if (p == NULL)
        return -ESRCH;
    if (k->n_free_tids == 0)
        return -EAGAIN;
    tid = k->free_tids[--k->n_free_tids];
    t = &k->tasks[tid];
    stamp = t->last_stamp; /* request stamps stay unique per TID, across reuse */
    memset(t, 0, sizeof(*t));
    t->last_stamp = stamp;
    t->in_use = true;
    t->pid = pid;
    t->deadline = LK_NO_DEADLINE;
    return tid;
}

/* §7.2 step 4: every process in the access map is told, and loses its access[] entry. */
static void send_death_notices(lk_kernel *k, int tid, uint64_t now)
{
    lk_task *t = &k->tasks[tid];

    t->access_map &= ~((uint64_t)1 << t->pid); /* step 3 */
    while (t->access_map != 0) {
        int p = __builtin_ctzll(t->access_map);

        t->access_map &= t->access_map - 1;
        lk__death_notice(k, tid, p, now);
    }
}

/* §7.2 (LiteIpcRemoveServiceHandle), then the TCB is freed. */
static void task_death(lk_kernel *k, int tid, uint64_t now)
{
    lk_task *t = &k->tasks[tid];

    t->exiting = true;
    if (t->parked)
        lk__unpark(k, tid); /* the thread is gone: nobody to complete */
    if (t->has_info) {
        lk__task_drain(k, tid, now);
        send_death_notices(k, tid, now);
        t->has_info = false;
        t->access_map = 0;
    }
    lk__emit(k, LK_EV_TASK_DEATH, 0, now, tid, t->pid, -1, NULL);
    k->stats.task_deaths++;
    t->in_use = false;
    t->exiting = false;
    /* §1.1: a freed TID is the next one handed out (LIFO). */
    k->free_tids[k->n_free_tids++] = (uint8_t)tid;
}

int lk_task_exit(lk_kernel *k, int tid, uint64_t now)
{
    if (lk__task(k, tid) == NULL)
        return -ESRCH;
    task_death(k, tid, now);
    return 0;
}

int lk_task_pid(const lk_kernel *k, int tid)
{
    int32_t pid = pid_of_tid(k, tid);

    return pid < 0 ? -ESRCH : pid;
}

/* ---- mmap (§2.3) ---------------------------------------------------------------------------- */

int lk_mmap_check(lk_kernel *k, int pid, size_t length, int prot, int flags)
{
    lk_proc *p = lk__proc(k, pid);

    if (p == NULL)
        return -ESRCH;
    if (!p->has_ipc)
        return -EINVAL;
    if (length > k->cfg.pool_max_size)
        return -EINVAL;
    if (prot != PROT_READ)
        return -EINVAL;
    if ((flags & (MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE)) != MAP_PRIVATE)
        return -EINVAL;
    /* Q2 (fixed): the failures above leave an existing pool alone. */
    if (lk__pool_mapped(p))
        return -EEXIST;
    return 0;
}

int lk_pool_attach(lk_kernel *k, int pid, void *kbase, uintptr_t uvaddr, size_t size)
{
    lk_proc *p = lk__proc(k, pid);
    size_t words;

    if (p == NULL)
        return -ESRCH;
    if (!p->has_ipc || lk__pool_mapped(p) || kbase == NULL || uvaddr == 0)
        return -EINVAL;
    if (size == 0 || size > k->cfg.pool_max_size || size % LK_PAGE_SIZE != 0)
        return -EINVAL;
    words = (size / LK_POOL_ALIGN + 63) / 64;
    free(p->used);
    p->used = calloc(words, sizeof(uint64_t));
    if (p->used == NULL)
        return -ENOMEM;
    if (lk_pool_init(kbase, size) != 0) {
        free(p->used);
        p->used = NULL;
        return -EINVAL;
    }
    p->used_count = 0;
    p->pool_peak = 0;
    p->kbase = kbase;
    p->uvaddr = uvaddr;
    p->pool_size = size;
    return 0;
}

/* ---- ioctl: the small commands (§3) -------------------------------------------------------- */

/* The CMS process is whoever owns TCB cms_task right now (§1.2). */
static bool in_cms_process(const lk_kernel *k, const lk_task *caller)
{
    const lk_task *cms;

    if (k->cms_status != HANDLE_REGISTED)
        return false;
    cms = &k->tasks[k->cms_task];
    return cms->in_use && cms->pid == caller->pid;
}

/* §3.5: arg is the number maxMsgSize. */
static int kcmd_set_cms(lk_kernel *k, int tid, uintptr_t arg, uint64_t now)
{
    const lk_ev_access ev = {.cmd = IPC_SET_CMS, .cms_cmd = -1, .handle = -1, .grantee_pid = -1};

    if (arg < LITEIPC_DEVICE_SIZEOF_IPCMSG)
        return -EINVAL;
    if (k->cms_status != HANDLE_NOT_USED)
        return -EEXIST; /* Q1: for the life of the kernel */
    k->cms_status = HANDLE_REGISTED;
    k->cms_task = tid;
    k->cms_max = arg > UINT32_MAX ? UINT32_MAX : (uint32_t)arg;
    lk__emit_access(k, LK_EV_SET_CMS, 0, now, tid, -1, &ev);
    return 0;
}

/* §3.4 CMS_GEN_HANDLE. */
static int cms_gen_handle(lk_kernel *k, int tid, const lk_ioctl_in *in, uint64_t now,
                          lk_ioctl_out *out)
{
    lk_ev_access ev = {.cmd = IPC_CMS_CMD, .cms_cmd = CMS_GEN_HANDLE, .grantee_pid = -1};
    uint32_t handle = in->cms.taskID;
    int cms_pid = k->tasks[k->cms_task].pid;
    int ret = 0;

    if (handle != 0 && !lk__alive(k, handle))
        return -EINVAL;
    if (handle == 0)
        handle = (uint32_t)tid;
    if (handle == (uint32_t)k->cms_task) {
        ret = -EINVAL; /* nothing written back, but the grant below still runs */
    } else {
        out->cms = in->cms;
        out->cms.serviceHandle = handle;
        out->copyout = LK_COPYOUT_CMS;
        ev.handle = (int32_t)handle;
        lk__emit_access(k, LK_EV_GEN_HANDLE, 0, now, tid, (int)handle, &ev);
    }
    /* Q10: silently nothing without IpcTaskInfo */
    (void)lk__grant(k, cms_pid, handle, tid, CMS_GEN_HANDLE, NULL, now);
    return ret;
}

/* §3.4. IPC_CMS_CMD with arg == 0 never gets here (§2.5 A). */
static int kcmd_cms_cmd(lk_kernel *k, int tid, const lk_ioctl_in *in, uint64_t now,
                        lk_ioctl_out *out)
{
    if (!in_cms_process(k, &k->tasks[tid]))
        return -EACCES;
    if (in->faults & LK_FAULT_ARG)
        return -EINVAL; /* copying the 12 bytes in failed (step 3) */
    switch (in->cms.cmd) {
    case CMS_GEN_HANDLE:
        return cms_gen_handle(k, tid, in, now, out);
    case CMS_REMOVE_HANDLE: /* Q8: a no-op */
        return in->cms.serviceHandle >= MAX_SERVICE_NUM ? -EINVAL : 0;
    case CMS_ADD_ACCESS:
        if (!lk__alive(k, in->cms.taskID))
            return -EINVAL;
        return lk__grant(k, k->tasks[in->cms.taskID].pid, in->cms.serviceHandle, tid,
                         CMS_ADD_ACCESS, NULL, now);
    default:
        return -EINVAL;
    }
}

/* §3.6: once per process, never reset (Q9). Returns the TID. */
static int kcmd_set_ipc_thread(lk_kernel *k, int tid, uint64_t now)
{
    const lk_ev_access ev = {
        .cmd = IPC_SET_IPC_THREAD, .cms_cmd = -1, .handle = -1, .grantee_pid = -1};
    lk_proc *p = &k->procs[k->tasks[tid].pid];

    if (k->cms_status != HANDLE_REGISTED)
        return -EINVAL;
    if (p->ipc_task != LK_INVALID_ID)
        return -EINVAL;
    p->ipc_task = tid;
    lk__emit_access(k, LK_EV_SET_IPC_THREAD, 0, now, tid, -1, &ev);
    return tid;
}

/* §3.7 */
static int kcmd_get_version(lk_kernel *k, lk_ioctl_out *out)
{
    out->version.driverVersion = k->cfg.driver_version;
    out->copyout = LK_COPYOUT_VERSION;
    return 0;
}

/* §2.5 A: the generic syscall layer, for commands that carry a pointer. A range that is user
   memory but not mapped is not its business: the driver's copy faults later (LK_FAULT_*). */
static int syscall_layer(const lk_ioctl_in *in)
{
    uint64_t size = _IOC_SIZE(in->cmd);

    if (_IOC_DIR(in->cmd) == _IOC_NONE)
        return 0;
    if (size == 0 || in->arg == 0)
        return -EINVAL;
    if ((uint64_t)in->arg > LK_USER_TOP - size)
        return -EFAULT;
    return 0;
}

static int ioctl_run(lk_kernel *k, int tid, const lk_ioctl_in *in, uint64_t now,
                     lk_ioctl_out *out)
{
    lk_task *t = lk__task(k, tid);
    lk_proc *p;
    int ret;

    if (t == NULL || t->exiting)
        return -ESRCH;
    if (t->parked)
        return -EBUSY; /* the caller is still inside its previous ioctl */
    ret = syscall_layer(in);
    if (ret != 0)
        return ret;
    p = &k->procs[t->pid];
    if (!p->has_ipc) /* §2.5 B */
        return -EINVAL;
    if (!lk__pool_mapped(p))
        return -ENOMEM;
    switch (in->cmd) {
    case IPC_SET_CMS:
        return kcmd_set_cms(k, tid, in->arg, now);
    case IPC_CMS_CMD:
        return kcmd_cms_cmd(k, tid, in, now, out);
    case IPC_SET_IPC_THREAD:
        return kcmd_set_ipc_thread(k, tid, now);
    case IPC_SEND_RECV_MSG:
        return lk__cmd_send_recv(k, tid, in, now, out);
    case IPC_GET_VERSION:
        return kcmd_get_version(k, out);
    default:
        return -EINVAL;
    }
}

/* The REFUSED event of a failed command: what it was, and for a send the header it carried. */
static void emit_refused(lk_kernel *k, int tid, const lk_ioctl_in *in, int err, uint64_t now)
{
    bool sent = in->cmd == IPC_SEND_RECV_MSG && (in->content.flag & SEND) &&
                in->content.outMsg != NULL && !(in->faults & LK_FAULT_OUTMSG);
    bool cms = in->cmd == IPC_CMS_CMD && in->arg != 0 && !(in->faults & LK_FAULT_ARG);
    lk_ev_access ev = {
        .cmd = (uint32_t)in->cmd,
        .cms_cmd = cms ? (int32_t)in->cms.cmd : -1,
        .handle = sent ? (int32_t)in->out.target.handle : -1, /* -1: it sent nothing */
        .grantee_pid = -1,
        .msg = sent ? &in->out : NULL,
    };

    lk__emit_access(k, LK_EV_REFUSED, err, now, tid, -1, &ev);
}

int lk_ioctl(lk_kernel *k, int tid, const lk_ioctl_in *in, uint64_t now, lk_ioctl_out *out)
{
    int ret;

    memset(out, 0, sizeof(*out));
    out->copyout = LK_COPYOUT_NONE;
    ret = 0;
    if (__builtin_expect(k->faults != NULL, 0))
        ret = lk__fault_call(k, tid, in, now); /* FAIL, or a kill before the command */
    if (ret == 0)
        ret = ioctl_run(k, tid, in, now, out);
    if (ret < 0 && ret != -ERFKILL) {
        k->stats.refused[lk_stats_slot(-ret)]++;
        if (__builtin_expect(k->ev_fn != NULL, 0))
            emit_refused(k, tid, in, -ret, now);
    }
    if (__builtin_expect(k->faults != NULL, 0))
        ret = lk__fault_after(k, tid, ret, now, out);
    return ret;
}

/* ---- read-only views ------------------------------------------------------------------------ */

int lk_proc_view_get(const lk_kernel *k, int pid, lk_proc_view *v)
{
    const lk_proc *p;

    if (pid < 0 || pid >= LK_MAX_PROCS)
        return -EINVAL;
    p = &k->procs[pid];
    memset(v, 0, sizeof(*v));
    v->ipc_task = LK_INVALID_ID;
    if (!p->in_use)
        return 0;
    v->in_use = true;
    v->has_ipc = p->has_ipc;
    if (!p->has_ipc)
        return 0;
    v->pool_mapped = lk__pool_mapped(p);
    v->uvaddr = p->uvaddr;
    v->pool_size = p->pool_size;
    v->ipc_task = p->ipc_task;
    v->used_buffers = p->used_count;
    v->pool_peak = p->pool_peak;
    v->access[0] = p->access[0];
    v->access[1] = p->access[1];
    return 0;
}

int lk_task_view_get(const lk_kernel *k, int tid, lk_task_view *v)
{
    const lk_task *t;

    if (tid < 0 || tid >= LK_MAX_TASKS)
        return -EINVAL;
    t = &k->tasks[tid];
    memset(v, 0, sizeof(*v));
    v->pid = -1;
    if (!t->in_use)
        return 0;
    v->in_use = true;
    v->pid = t->pid;
    v->has_info = t->has_info;
    v->queued = t->queued;
    v->access_map = t->access_map;
    v->parked = t->parked;
    v->parked_sync = t->parked && t->parked_sync;
    return 0;
}

void lk_cms_view_get(const lk_kernel *k, lk_cms_view *v)
{
    v->status = k->cms_status;
    v->task = k->cms_task;
    v->max_msg_size = k->cms_max;
}

void lk_kernel_stats(const lk_kernel *k, lk_stats *out)
{
    *out = k->stats;
}

void lk_note_refused(lk_kernel *k, int pid, int tid, uint32_t cmd, int err, uint64_t now)
{
    lk_event ev;

    k->stats.refused[lk_stats_slot(err)]++;
    if (__builtin_expect(k->ev_fn == NULL, 1))
        return;
    ev_init(k, &ev, LK_EV_REFUSED, err, now, tid, pid, -1);
    ev.cmd = cmd;
    k->ev_fn(k->ev_ctx, &ev);
}

void *lk_proc_pool_base(const lk_kernel *k, int pid)
{
    const lk_proc *p;

    if (pid < 0 || pid >= LK_MAX_PROCS)
        return NULL;
    p = &k->procs[pid];
    return p->in_use && p->has_ipc && lk__pool_mapped(p) ? p->kbase : NULL;
}
