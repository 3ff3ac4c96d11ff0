/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_kernel.c - libFuzzer harness over the pure kernel (src/kernel*.c, no threads, no
 * system calls): the input is decoded into a sequence of steps (process create, open, fork,
 * exec, exit; task create, exit; mmap; every ioctl with fuzzed structures, data, offsets and
 * special objects; BUFF_FREE and replies built from what was received; clock ticks) and after
 * every step the kernel's invariants are checked. Every process created gets an ABI profile
 * from the input (abi.h; a fork child keeps its parent's), so the kernel writes what a process
 * receives in its layout and reads the special objects a process sends in that one's; the
 * harness decodes every received message in the receiver's layout. Invariants:
 *   - every mapped pool passes lk_pool_check, and its allocated blocks are exactly the
 *     process's used buffers plus the messages queued to its tasks (nothing leaks, nothing is
 *     freed twice);
 *   - every message handed out lies inside the receiver's pool (as a user address, which is
 *     deliberately different from where the harness keeps the memory: the kernel must never
 *     dereference a user address);
 *   - the kernel closes (OBJ_FD rollback) only descriptors it installed, in the process it
 *     installed them in, once;
 *   - at the end every process exits and the kernel frees cleanly (ASan: no leak).
 * A broken invariant aborts with a message, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz_input.h"
#include "kernel.h"
#include "pool.h"

#define FK_TASKS 24
#define FK_PROCS 12
#define FK_POOL_MAX (64u * 1024u)
#define FK_SCRATCH 4096u
#define FK_GOT 4
#define FK_FDS 512
#define FK_FIRST_FD 1000
#define FK_VALID_SRC_FD 16 /* descriptors 0..15 exist in every process */
#define FK_DATA_MAX 512u   /* the harness's usual payload; larger sizes are tried too */
#define FK_UVADDR(pid) ((uintptr_t)0x10000000u + (uintptr_t)(pid) * 0x100000u)

typedef struct fk_pool {
    void *mem;
    size_t size;
} fk_pool;

typedef struct fk_fd {
    int num, owner; /* owner 0: free slot */
} fk_fd;

typedef struct fk {
    lk_kernel *k;
    lk_config cfg;
    uint64_t now;
    fk_pool pools[LK_MAX_PROCS];
    bool parked[LK_MAX_TASKS];
    uintptr_t got[LK_MAX_TASKS][FK_GOT]; /* user addresses of messages received */
    fk_fd fds[FK_FDS];
    int next_fd;
    uint8_t scratch[FK_SCRATCH]; /* the sender's user memory, for OBJ_PTR sources */
    uint8_t data[IPC_MSG_DATA_SZ_MAX + 64];
    uint32_t offsets[IPC_MSG_OBJECT_NUM_MAX + 8];
} fk;

static fk F;

/* ---- the hooks: descriptors as numbers in a table ------------------------------------------ */

static int fk_fd_dup(void *ctx, int src_pid, int fd, int dst_pid)
{
    (void)ctx;
    (void)src_pid;
    if (fd < 0 || fd >= FK_VALID_SRC_FD)
        return -EBADF;
    for (int i = 0; i < FK_FDS; i++) {
        if (F.fds[i].owner == 0) {
            F.fds[i] = (fk_fd){.num = F.next_fd++, .owner = dst_pid};
            return F.fds[i].num;
        }
    }
    return -EMFILE;
}

static void fk_fd_close(void *ctx, int pid, int fd)
{
    (void)ctx;
    for (int i = 0; i < FK_FDS; i++) {
        if (F.fds[i].owner != 0 && F.fds[i].num == fd) {
            FZ_ASSERT(F.fds[i].owner == pid, "fd %d of process %d closed in process %d", fd,
                      F.fds[i].owner, pid);
            F.fds[i].owner = 0;
            return;
        }
    }
    FZ_ASSERT(false, "fd %d closed in process %d was never installed (or closed twice)", fd, pid);
}

/* The process is gone: its descriptors with it, as the host's kernel closes them. */
static void fk_fds_drop(int pid)
{
    for (int i = 0; i < FK_FDS; i++)
        if (F.fds[i].owner == pid)
            F.fds[i].owner = 0;
}

static int fk_copy_from_user(void *ctx, void *dst, uintptr_t src, size_t n)
{
    uintptr_t lo = (uintptr_t)F.scratch;

    (void)ctx;
    if (src < lo || src > lo + FK_SCRATCH || n > lo + FK_SCRATCH - src)
        return -EFAULT;
    memcpy(dst, (const void *)src, n);
    return 0;
}

/* ---- bookkeeping ------------------------------------------------------------------------- */

static void fk_pool_release(int pid)
{
    free(F.pools[pid].mem);
    F.pools[pid] = (fk_pool){0};
}

static void fk_forget_task(int tid)
{
    F.parked[tid] = false;
    memset(F.got[tid], 0, sizeof(F.got[tid]));
}

static void fk_remember(int tid, uintptr_t in_msg)
{
    memmove(&F.got[tid][1], &F.got[tid][0], sizeof(uintptr_t) * (FK_GOT - 1));
    F.got[tid][0] = in_msg;
}

/* The layout of pid's profile: what it sends and receives (the default for no process). */
static const lk_abi_layout *fk_layout(int pid)
{
    return lk_abi_layout_of(lk_proc_abi(F.k, pid));
}

/* Where user address u of pid's process is in the harness's memory, if [u, u + n) is in its
   pool; else NULL. */
static const unsigned char *fk_user(int pid, uintptr_t u, uintptr_t n)
{
    if (pid < 0 || !F.pools[pid].mem || u < FK_UVADDR(pid) || n > F.pools[pid].size ||
        u - FK_UVADDR(pid) > F.pools[pid].size - n)
        return NULL;
    return (const unsigned char *)F.pools[pid].mem + (u - FK_UVADDR(pid));
}

/* The message at user address u of tid's process, decoded from that process's layout into *m;
   false if it does not lie in the pool. */
static bool fk_kview(int tid, uintptr_t u, IpcMsg *m)
{
    int pid = lk_task_pid(F.k, tid);
    const lk_abi_layout *L = fk_layout(pid);
    const unsigned char *p = fk_user(pid, u, L->msg_size);

    if (p == NULL)
        return false;
    lk_abi_decode_msg(L, p, m);
    return true;
}

/* A message handed to tid must lie in its pool, with its data and its offsets (entries of the
   receiver's size), and every offset must be one the kernel accepted: increasing, each object
   inside data. The sender's object size is not known here (it may have exited): the default's
   SpecialObj is the smallest of every profile's. */
static void fk_check_received(int tid, uintptr_t u)
{
    int pid = lk_task_pid(F.k, tid);
    const lk_abi_layout *L = fk_layout(pid);
    uint32_t min_obj = lk_abi_layout_of(LK_ABI_DEFAULT)->obj_size, prev = 0;
    const unsigned char *offs;
    IpcMsg m;

    FZ_ASSERT(fk_kview(tid, u, &m), "message %#lx handed to task %d outside its pool",
              (unsigned long)u, tid);
    if (m.dataSz)
        FZ_ASSERT(fk_user(pid, (uintptr_t)m.data, m.dataSz) != NULL,
                  "data of a message to task %d outside its pool", tid);
    if (m.spObjNum == 0)
        return;
    offs = fk_user(pid, (uintptr_t)m.offsets, (uintptr_t)L->entry_size * m.spObjNum);
    FZ_ASSERT(offs != NULL, "offsets of a message to task %d outside its pool", tid);
    for (uint32_t i = 0; i < m.spObjNum; i++) {
        uint32_t off = lk_abi_offset_get(L, offs, i);

        FZ_ASSERT(m.dataSz >= min_obj && off <= m.dataSz - min_obj &&
                      (i == 0 || off >= prev + min_obj),
                  "task %d (%s) received object %u at offset %u of %u data bytes", tid, L->name,
                  i, off, m.dataSz);
        prev = off;
    }
}

static void fk_drain_completions(void)
{
    lk_completion c;

    while (lk_kernel_take_completion(F.k, &c)) {
        FZ_ASSERT(c.tid >= 0 && c.tid < FK_TASKS && F.parked[c.tid],
                  "completion for task %d, which was not parked", c.tid);
        F.parked[c.tid] = false;
        if (c.result == 0) {
            fk_check_received(c.tid, c.in_msg);
            fk_remember(c.tid, c.in_msg);
        }
    }
}

/* Pool accounting: allocated blocks = used buffers + messages queued to the process's tasks. */
static void fk_check_invariants(void)
{
    unsigned queued[LK_MAX_PROCS] = {0};
    lk_task_view tv;
    lk_proc_view pv;

    for (int tid = 0; tid < FK_TASKS; tid++)
        if (lk_task_view_get(F.k, tid, &tv) == 0 && tv.in_use && tv.pid >= 0 &&
            tv.pid < LK_MAX_PROCS)
            queued[tv.pid] += tv.queued;
    for (int pid = 0; pid < FK_PROCS; pid++) {
        lk_pool_stats st;

        if (lk_proc_view_get(F.k, pid, &pv) != 0 || !pv.in_use || !pv.pool_mapped)
            continue;
        FZ_ASSERT(F.pools[pid].mem && lk_proc_pool_base(F.k, pid) == F.pools[pid].mem,
                  "process %d: the kernel's pool is not the one it was given", pid);
        FZ_ASSERT(lk_pool_check(F.pools[pid].mem) == 0, "process %d: pool corrupt", pid);
        lk_pool_get_stats(F.pools[pid].mem, &st);
        FZ_ASSERT(st.used_blocks == pv.used_buffers + queued[pid],
                  "process %d: %u blocks allocated, %u used buffers + %u queued", pid,
                  st.used_blocks, pv.used_buffers, queued[pid]);
    }
}

/* ---- steps ------------------------------------------------------------------------------- */

/* Mostly a live process or task (the n-th one), sometimes any number: both paths matter. */
static int fk_pick_pid(fz_in *in)
{
    uint8_t b = fz_u8(in);
    lk_proc_view v;
    int live[FK_PROCS], n = 0;

    for (int pid = 0; pid < FK_PROCS; pid++)
        if (lk_proc_view_get(F.k, pid, &v) == 0 && v.in_use)
            live[n++] = pid;
    return (b & 7) == 0 || n == 0 ? (int)(b % FK_PROCS) : live[(b >> 3) % n];
}

static int fk_pick_tid(fz_in *in)
{
    uint8_t b = fz_u8(in);
    int live[FK_TASKS], n = 0;

    for (int tid = 0; tid < FK_TASKS; tid++)
        if (lk_task_pid(F.k, tid) >= 0)
            live[n++] = tid;
    return (b & 7) == 0 || n == 0 ? (int)(b % FK_TASKS) : live[(b >> 3) % n];
}

static void step_mmap(fz_in *in)
{
    int pid = fk_pick_pid(in);
    unsigned shape = fz_pick(in, 8);
    size_t len = (size_t)(1 + fz_pick(in, FK_POOL_MAX / LK_PAGE_SIZE + 1)) * LK_PAGE_SIZE;
    int prot = shape == 1 ? PROT_READ | PROT_WRITE : shape == 2 ? PROT_NONE : PROT_READ;
    int flags = shape == 3 ? MAP_SHARED : MAP_PRIVATE;
    void *mem;

    if (lk_mmap_check(F.k, pid, len, prot, flags) != 0)
        return;
    mem = aligned_alloc(LK_PAGE_SIZE, len);
    FZ_ASSERT(mem != NULL, "out of memory");
    memset(mem, 0, len);
    if (lk_pool_attach(F.k, pid, mem, FK_UVADDR(pid), len) != 0) {
        free(mem);
        return;
    }
    F.pools[pid] = (fk_pool){.mem = mem, .size = len};
}

static void step_proc_exit(fz_in *in)
{
    int pid = fk_pick_pid(in);

    if (lk_proc_exit(F.k, pid, F.now) != 0)
        return;
    fk_drain_completions(); /* the ERFKILLs of its parked receivers */
    for (int tid = 0; tid < FK_TASKS; tid++)
        if (lk_task_pid(F.k, tid) < 0)
            fk_forget_task(tid);
    fk_pool_release(pid);
    fk_fds_drop(pid);
}

static void step_exec(fz_in *in)
{
    int tid = fk_pick_tid(in), pid = lk_task_pid(F.k, tid);

    if (pid < 0 || F.parked[tid] || lk_proc_exec(F.k, tid, F.now) != 0)
        return;
    fk_drain_completions();
    for (int t = 0; t < FK_TASKS; t++)
        if (lk_task_pid(F.k, t) < 0 || t == tid)
            fk_forget_task(t);
    fk_pool_release(pid);
}

static void step_task_exit(fz_in *in)
{
    int tid = fk_pick_tid(in);

    if (lk_task_exit(F.k, tid, F.now) == 0)
        fk_forget_task(tid);
}

static void fk_put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

/* A token or cookie of layout L's width (4 or 8 bytes) at p. */
static void fk_put_id(const lk_abi_layout *L, unsigned char *p, uint64_t v)
{
    if (L->id_size == 8)
        memcpy(p, &v, sizeof(v));
    else
        fk_put32(p, (uint32_t)v);
}

/*
 * A special object of a fuzzed kind at data + off, in the sender's layout L, as its stack would
 * write it: the kernel reads objects in the sender's layout, so objects in the default layout
 * sent by a communication_ipc process (32-byte objects, 64-bit tokens) would be misread and
 * mostly refused, and its OBJ_SVC and OBJ_FD paths would go unexercised. The fuzzed bytes
 * around them still try every misreading.
 */
static void put_object(fz_in *in, const lk_abi_layout *L, uint32_t off)
{
    unsigned char *o = F.data + off, *c = o + L->obj_content;
    uint32_t type = fz_pick(in, 4);
    void *buff;

    memset(o, 0, L->obj_size);
    switch (type) {
    case OBJ_FD:
        fk_put32(c, fz_pick(in, FK_VALID_SRC_FD + 4));
        break;
    case OBJ_PTR: /* BuffPtr is the driver's own in every profile */
        fk_put32(c + offsetof(BuffPtr, buffSz), fz_u16(in) % (FK_SCRATCH + 64));
        buff = fz_pick(in, 8) == 0 ? (void *)(uintptr_t)fz_u32(in)
                                   : (void *)(F.scratch + fz_u16(in) % FK_SCRATCH);
        memcpy(c + offsetof(BuffPtr, buff), &buff, sizeof(buff));
        break;
    case OBJ_SVC:
        fk_put32(c, fz_pick(in, 8) == 0 ? UINT32_MAX : (uint32_t)fk_pick_tid(in));
        /* a 64-bit token with a high half: what only communication_ipc can carry */
        fk_put_id(L, c + L->id_size, fz_pick(in, 3) | (uint64_t)fz_pick(in, 2) << 32);
        fk_put_id(L, c + 2 * L->id_size, fz_u8(in));
        break;
    default:
        type = fz_u32(in);
        break;
    }
    fk_put32(o, type);
}

/* The payload and objects of a message in the sender's layout L: sizes and offsets mostly
   sane, sometimes not. The offsets are u32 whatever the profile: the device layer converts
   them before the kernel sees them (lk_ioctl_in). */
static void fill_payload(fz_in *in, const lk_abi_layout *L, IpcMsg *out, lk_ioctl_in *io)
{
    unsigned shape = fz_pick(in, 16);
    uint32_t n;

    out->dataSz = shape == 0 ? fz_u16(in) % (IPC_MSG_DATA_SZ_MAX + 64) : fz_u16(in) % FK_DATA_MAX;
    n = shape == 1 ? fz_u16(in) % (IPC_MSG_OBJECT_NUM_MAX + 8) : fz_pick(in, 5);
    out->spObjNum = n;
    fz_fill(in, F.data, out->dataSz);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t off = fz_pick(in, 4) == 0 ? fz_u16(in) : i * L->obj_size;

        F.offsets[i] = off;
        if (i < 8 && (uint64_t)off + L->obj_size <= out->dataSz)
            put_object(in, L, off);
    }
    out->data = fz_pick(in, 16) == 0 ? NULL : F.data;
    out->offsets = fz_pick(in, 16) == 0 ? NULL : F.offsets;
    /* what the device layer copies in: only within the configured maxima (kernel.h) */
    io->data = out->data && out->dataSz <= F.cfg.data_max ? F.data : NULL;
    io->offsets = out->offsets && out->spObjNum <= F.cfg.object_max ? F.offsets : NULL;
}

/* A reply to a message tid received (read in tid's layout), or a fresh message with fuzzed
   header fields; a sender with 64-bit tokens (L) also gives their high halves. */
static void fill_header(fz_in *in, int tid, const lk_abi_layout *L, lk_ioctl_in *io)
{
    IpcMsg *out = &io->out, req;
    bool got_req = fk_kview(tid, F.got[tid][fz_pick(in, FK_GOT)], &req);
    unsigned kind = fz_pick(in, 4);

    memset(out, 0, sizeof(*out));
    if (got_req && kind != 0) {
        out->type = kind == 3 ? MT_FAILED_REPLY : MT_REPLY;
        out->target.handle = req.taskID;
        out->timestamp = fz_pick(in, 8) == 0 ? fz_u32(in) : req.timestamp;
    } else {
        out->type = (MsgType)fz_pick(in, MT_NUM + 1);
        out->target.handle = fz_pick(in, 6) == 0 ? fz_u32(in) : (uint32_t)fk_pick_tid(in);
        out->timestamp = fz_u32(in);
    }
    out->target.token = fz_u8(in);
    out->code = fz_u8(in);
    out->flag = fz_pick(in, 3) == 0 ? LITEIPC_FLAG_DEFAULT : LITEIPC_FLAG_ONEWAY;
    if (L->id_size == 8 && fz_pick(in, 4) == 0) {
        io->out_hi.token_hi = fz_u8(in);
        io->out_hi.cookie_hi = fz_u32(in);
    }
}

static uintptr_t pick_buff_to_free(fz_in *in, int tid)
{
    int pid = lk_task_pid(F.k, tid);

    switch (fz_pick(in, 4)) {
    case 0:
        return 0;
    case 1:
        return pid >= 0 ? FK_UVADDR(pid) + fz_u16(in) * 8u : fz_u32(in);
    default:
        return F.got[tid][fz_pick(in, FK_GOT)];
    }
}

static void fill_ioctl(fz_in *in, int tid, lk_ioctl_in *io)
{
    static const unsigned long cmds[] = {IPC_SET_CMS, IPC_CMS_CMD, IPC_SET_IPC_THREAD,
                                         IPC_SEND_RECV_MSG, IPC_GET_VERSION, _IO('i', 9)};
    static IpcMsg outmsg;
    bool null_arg = fz_pick(in, 16) == 0;

    memset(io, 0, sizeof(*io));
    io->cmd = cmds[fz_pick(in, 6)];
    io->arg = null_arg ? 0 : (uintptr_t)&outmsg; /* any user address: only NULL is checked */
    io->copy_from_user = fk_copy_from_user;
    if (io->cmd == IPC_SET_CMS)
        io->arg = fz_pick(in, 4) == 0 ? fz_u32(in) : fz_u16(in) % 1024u;
    if (io->cmd == IPC_CMS_CMD) {
        io->cms.cmd = (CmsCmd)fz_pick(in, 4);
        io->cms.taskID = fz_pick(in, 8) == 0 ? fz_u32(in) : (uint32_t)fk_pick_tid(in);
        io->cms.serviceHandle = fz_pick(in, 8) == 0 ? fz_u32(in) : (uint32_t)fk_pick_tid(in);
    }
    if (io->cmd != IPC_SEND_RECV_MSG || null_arg)
        return;
    io->content.flag = fz_u8(in) & 7u;
    io->content.outMsg = fz_pick(in, 16) == 0 ? NULL : &outmsg;
    io->content.buffToFree = (void *)pick_buff_to_free(in, tid);
    if ((io->content.flag & SEND) && io->content.outMsg) {
        const lk_abi_layout *L = fk_layout(lk_task_pid(F.k, tid));

        fill_header(in, tid, L, io);
        fill_payload(in, L, &io->out, io);
    }
}

static void step_ioctl(fz_in *in)
{
    int tid = fk_pick_tid(in);
    lk_ioctl_in io;
    lk_ioctl_out out;
    int r;

    fill_ioctl(in, tid, &io);
    if (F.parked[tid])
        return; /* a thread blocked in a receive makes no other call */
    memset(&out, 0, sizeof(out));
    r = lk_ioctl(F.k, tid, &io, F.now, &out);
    if (r == LK_PARKED) {
        F.parked[tid] = true;
    } else if (r >= 0 && out.copyout == LK_COPYOUT_INMSG) {
        fk_check_received(tid, out.in_msg);
        fk_remember(tid, out.in_msg);
    }
    fk_drain_completions();
}

static void step_tick(fz_in *in)
{
    F.now += (uint64_t)fz_u16(in) * 100000u; /* up to 6.5 s */
    lk_kernel_tick(F.k, F.now);
    fk_drain_completions();
}

/* A new process with a profile from the input; sometimes one no stack has (-EINVAL). */
static void step_proc_create(fz_in *in)
{
    unsigned uid = fz_pick(in, 3), gid = fz_pick(in, 3);
    int abi = (int)fz_pick(in, LK_ABI_COUNT + 1);
    int pid = lk_proc_create(F.k, uid, gid);

    if (pid < 0)
        return;
    FZ_ASSERT(lk_proc_set_abi(F.k, pid, abi) == (abi < LK_ABI_COUNT ? 0 : -EINVAL),
              "process %d: lk_proc_set_abi(%d) gave the wrong result", pid, abi);
    FZ_ASSERT(lk_proc_abi(F.k, pid) == (abi < LK_ABI_COUNT ? abi : LK_ABI_DEFAULT),
              "process %d: profile %d after lk_proc_set_abi(%d)", pid, lk_proc_abi(F.k, pid), abi);
}

static void step_proc_fork(fz_in *in)
{
    int parent = fk_pick_pid(in);
    unsigned uid = fz_pick(in, 3), gid = fz_pick(in, 3);
    int child = lk_proc_fork(F.k, parent, uid, gid);

    if (child >= 0)
        FZ_ASSERT(lk_proc_abi(F.k, child) == lk_proc_abi(F.k, parent),
                  "fork child %d has profile %d, its parent %d has %d", child,
                  lk_proc_abi(F.k, child), parent, lk_proc_abi(F.k, parent));
}

static void step(fz_in *in)
{
    switch (fz_pick(in, 14)) {
    case 0:
        step_proc_create(in);
        break;
    case 1:
        lk_proc_open(F.k, fk_pick_pid(in));
        break;
    case 2:
        step_proc_fork(in);
        break;
    case 3:
        step_proc_exit(in);
        break;
    case 4:
        step_exec(in);
        break;
    case 5:
    case 6:
        lk_task_create(F.k, fk_pick_pid(in));
        break;
    case 7:
        step_task_exit(in);
        break;
    case 8:
        step_mmap(in);
        break;
    case 12:
        step_tick(in);
        break;
    default:
        step_ioctl(in);
        break;
    }
    /* Any step may end a parked receive (a task's death sends notices, which wake receivers):
       take the completions now, as the broker does after every operation. */
    fk_drain_completions();
    fk_check_invariants();
}

static void fk_teardown(void)
{
    for (int pid = 0; pid < FK_PROCS; pid++) {
        if (lk_proc_exit(F.k, pid, F.now) == 0) {
            fk_pool_release(pid);
            fk_fds_drop(pid);
        }
        fk_drain_completions();
    }
    for (int tid = 0; tid < FK_TASKS; tid++)
        FZ_ASSERT(lk_task_pid(F.k, tid) < 0, "task %d outlived every process", tid);
    lk_kernel_free(F.k);
    for (int pid = 0; pid < LK_MAX_PROCS; pid++)
        FZ_ASSERT(F.pools[pid].mem == NULL, "process %d: pool still held", pid);
    for (int i = 0; i < FK_FDS; i++)
        FZ_ASSERT(F.fds[i].owner == 0, "descriptor %d outlived its process", F.fds[i].num);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {.p = data, .n = size};
    lk_ops ops = {.fd_dup = fk_fd_dup, .fd_close = fk_fd_close};

    memset(&F, 0, sizeof(F));
    F.next_fd = FK_FIRST_FD;
    F.now = 1000000000u;
    lk_config_default(&F.cfg);
    F.cfg.task_limit = FK_TASKS;
    F.cfg.process_limit = FK_PROCS;
    F.cfg.pool_max_size = FK_POOL_MAX;
    F.cfg.timeout_ns = 1000000000u;
    if (lk_kernel_new(&F.cfg, &ops, &F.k) != 0)
        abort();
    for (int i = 0; i < 1000 && !fz_done(&in); i++)
        step(&in);
    fk_teardown();
    return 0;
}
