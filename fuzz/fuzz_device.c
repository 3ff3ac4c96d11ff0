/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_device.c - libFuzzer harness over the device calls (liteipc_open, mmap, ioctl, close,
 * read, write, mprotect) of a kernel started in this process for each input, through the whole
 * stack: the channel, the broker and the kernel.
 *
 * The input is cut into phases, each run to its end by the host's default process (its state
 * carries over to its next phase) or by a new virtual process (which ends with the phase: a
 * process death, with its notices). A phase is a sequence of device calls with fuzzed
 * arguments: IpcContent, IpcMsg headers, data, offsets and special objects, BUFF_FREE addresses
 * and replies built from what was received. Only valid memory is passed (bad pointers are
 * another matter: issue 10 item 4). Receives that could wait forever are not made: a plain RECV
 * only when a message the caller sent itself is known to be queued; every other wait has the
 * shrunk reply timeout.
 *
 * Checked after every call and at the end:
 *   - every result is a success or -1 with one of the device's errnos: never ESHUTDOWN (the
 *     kernel died), EPROTO or EIO;
 *   - a received message, its data and offsets lie in the caller's pool;
 *   - mprotect on the pool fails with EPERM;
 *   - liteipc_kernel_stop returns 0 and every descriptor opened during the input is closed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <liteipc/liteipc.h>

#include "fuzz_input.h"

#define FD_POOL_MAX (64u * 1024u)
#define FD_SCRATCH 2048u
#define FD_GOT 4
#define FD_FDS 4
#define FD_PHASES 4
#define FD_STEPS 64

/* One simulated process's view, as its program keeps it. */
typedef struct fd_proc {
    int fds[FD_FDS];  /* device descriptors it opened (-1: none) */
    char *pool;       /* its mapped pool, or NULL */
    size_t pool_size;
    int tid;          /* its task, once known (IPC_SET_IPC_THREAD, or a received message) */
    unsigned self_queued; /* one-way requests it sent itself and has not received yet */
    uintptr_t got[FD_GOT];
} fd_proc;

typedef struct fd_phase {
    liteipc_kernel *k;
    fd_proc *pr;
    fz_in *in;
} fd_phase;

static liteipc_kernel *K;
static fd_proc Host; /* the host's default process: lives for the whole input */
static uint8_t Scratch[FD_SCRATCH];

/* A device call's result: success, or one of the device's errors (the kernel is alive). */
static void check_result(const char *what, long r)
{
    int e = errno;

    if (r >= 0)
        return;
    FZ_ASSERT(e != ESHUTDOWN && e != EPROTO && e != EIO && e != EPIPE && e != ECONNRESET &&
                  e != 0,
              "%s: -1 with errno %d (%s)", what, e, strerror(e));
}

static int open_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* ---- what a program would do with what it received --------------------------------------- */

static bool in_pool(const fd_proc *pr, uintptr_t a, size_t n)
{
    uintptr_t lo = (uintptr_t)pr->pool;

    return pr->pool && a >= lo && n <= pr->pool_size && a - lo <= pr->pool_size - n;
}

/* A received OBJ_FD is the receiver's descriptor: a program closes it when done. (The offsets
   follow the data unaligned, as on the device, §4.3.4: read them with memcpy.) */
static void close_received_fds(const IpcMsg *m)
{
    const uint8_t *offs = m->offsets;

    for (uint32_t i = 0; i < m->spObjNum && offs; i++) {
        SpecialObj o;
        uint32_t off;

        memcpy(&off, offs + 4u * i, sizeof(off));
        if ((uint64_t)off + sizeof(o) > m->dataSz)
            continue;
        memcpy(&o, (const uint8_t *)m->data + off, sizeof(o));
        if (o.type == OBJ_FD && o.content.fd > 2)
            close((int)o.content.fd);
    }
}

static void took(fd_proc *pr, const IpcMsg *m)
{
    uintptr_t u = (uintptr_t)m;
    volatile uint8_t sum = 0;

    FZ_ASSERT(in_pool(pr, u, sizeof(IpcMsg)), "inMsg %p outside the pool", (void *)m);
    FZ_ASSERT(m->dataSz == 0 || in_pool(pr, (uintptr_t)m->data, m->dataSz),
              "data of a received message outside the pool");
    FZ_ASSERT(m->spObjNum == 0 || in_pool(pr, (uintptr_t)m->offsets, 4u * (size_t)m->spObjNum),
              "offsets of a received message outside the pool");
    for (uint32_t i = 0; i < m->dataSz; i++)
        sum += ((const uint8_t *)m->data)[i]; /* really readable */
    (void)sum;
    close_received_fds(m);
    if (m->type == MT_REQUEST && m->taskID == (uint32_t)pr->tid && pr->self_queued)
        pr->self_queued--;
    memmove(&pr->got[1], &pr->got[0], sizeof(uintptr_t) * (FD_GOT - 1));
    pr->got[0] = u;
}

/* ---- calls --------------------------------------------------------------------------------- */

static int pick_fd(fd_phase *ph)
{
    unsigned i = fz_pick(ph->in, FD_FDS + 1);

    return i < FD_FDS ? ph->pr->fds[i] : (int)fz_u8(ph->in) - 8; /* sometimes not ours */
}

static void call_open(fd_phase *ph)
{
    static const int modes[] = {O_RDWR, O_RDONLY, O_WRONLY, O_RDWR | O_CLOEXEC};
    unsigned i = fz_pick(ph->in, FD_FDS);
    const char *path;
    int fd;

    if (ph->pr->fds[i] >= 0)
        return;
    path = fz_pick(ph->in, 16) ? LITEIPC_DRIVER : "/dev/other";
    fd = liteipc_open(ph->k, path, modes[fz_pick(ph->in, 4)]);
    check_result("open", fd);
    ph->pr->fds[i] = fd;
}

static void call_close(fd_phase *ph)
{
    unsigned i = fz_pick(ph->in, FD_FDS);

    if (ph->pr->fds[i] < 0)
        return;
    check_result("close", liteipc_close(ph->k, ph->pr->fds[i]));
    ph->pr->fds[i] = -1;
}

static void call_mmap(fd_phase *ph)
{
    unsigned shape = fz_pick(ph->in, 8);
    size_t pages = fz_pick(ph->in, FD_POOL_MAX / 4096u + 2);
    size_t len = pages * 4096u + fz_pick(ph->in, 2);
    int prot = shape == 1 ? PROT_READ | PROT_WRITE : shape == 2 ? PROT_NONE : PROT_READ;
    int flags = shape == 3 ? MAP_SHARED : MAP_PRIVATE;
    int fd = pick_fd(ph);
    void *p;

    if (len > FD_POOL_MAX)
        len = FD_POOL_MAX + 4096u; /* refused, but not absurdly large */
    p = liteipc_mmap(ph->k, NULL, len, prot, flags, fd, 0);
    if (p == MAP_FAILED) {
        check_result("mmap", -1);
        return;
    }
    FZ_ASSERT(ph->pr->pool == NULL, "a second pool was mapped");
    ph->pr->pool = p;
    ph->pr->pool_size = (len + 4095u) & ~(size_t)4095u;
}

static void call_mprotect(fd_phase *ph)
{
    size_t off = fz_pick(ph->in, 16) * 4096u;

    if (!ph->pr->pool || off >= ph->pr->pool_size)
        return;
    errno = 0;
    FZ_ASSERT(liteipc_mprotect(ph->k, ph->pr->pool + off, 4096, PROT_READ | PROT_WRITE) == -1 &&
                  errno == EPERM,
              "mprotect on the pool: errno %d, not EPERM", errno);
}

static void call_small_ioctl(fd_phase *ph)
{
    static const unsigned long cmds[] = {IPC_SET_CMS, IPC_SET_IPC_THREAD, IPC_GET_VERSION,
                                         IPC_CMS_CMD, _IO('i', 9), IPC_SEND_RECV_MSG};
    unsigned c = fz_pick(ph->in, 6);
    int fd = pick_fd(ph);
    CmsCmdContent cc;
    IpcVersion v;
    int r;

    cc.cmd = (CmsCmd)fz_pick(ph->in, 4);
    cc.taskID = fz_u8(ph->in) % 40u;
    cc.serviceHandle = fz_u8(ph->in) % 40u;
    if (c == 0) {
        r = liteipc_ioctl(ph->k, fd, IPC_SET_CMS, (unsigned long)fz_u16(ph->in) % 1024ul);
    } else if (c == 1) {
        r = liteipc_ioctl(ph->k, fd, IPC_SET_IPC_THREAD, 0ul);
        if (r > 0)
            ph->pr->tid = r;
    } else if (c == 2) {
        r = liteipc_ioctl(ph->k, fd, IPC_GET_VERSION, &v);
    } else if (c == 3) {
        r = liteipc_ioctl(ph->k, fd, IPC_CMS_CMD, &cc);
    } else {
        r = liteipc_ioctl(ph->k, fd, cmds[c], NULL); /* NULL or unknown: EINVAL */
    }
    check_result("ioctl", r);
}

/* A SpecialObj of a fuzzed kind, written into data at off. */
static void put_object(fd_phase *ph, uint8_t *data, uint32_t off)
{
    SpecialObj o;

    memset(&o, 0, sizeof(o));
    o.type = (ObjType)fz_pick(ph->in, 4);
    if (o.type == OBJ_FD) {
        o.content.fd = (uint32_t)fz_pick(ph->in, 3); /* stdin..stderr: real descriptors */
    } else if (o.type == OBJ_PTR) {
        o.content.ptr.buffSz = fz_u16(ph->in) % FD_SCRATCH;
        o.content.ptr.buff = Scratch + fz_u16(ph->in) % (FD_SCRATCH - o.content.ptr.buffSz);
    } else if (o.type == OBJ_SVC) {
        o.content.svc.handle = fz_pick(ph->in, 8) == 0 ? UINT32_MAX : fz_u8(ph->in) % 40u;
        o.content.svc.token = fz_pick(ph->in, 3);
    } else {
        o.type = (ObjType)fz_u32(ph->in);
    }
    memcpy(data + off, &o, sizeof(o));
}

/* Header, payload and objects of a message to send; data and offsets point into buffers. */
static void build_msg(fd_phase *ph, IpcMsg *m, uint8_t *data, size_t data_cap, uint32_t *offs)
{
    const IpcMsg *req = (const IpcMsg *)ph->pr->got[fz_pick(ph->in, FD_GOT)];
    unsigned kind = fz_pick(ph->in, 4);
    uint32_t n = fz_pick(ph->in, 4);

    memset(m, 0, sizeof(*m));
    if (req && kind != 0 && in_pool(ph->pr, (uintptr_t)req, sizeof(*req))) {
        m->type = kind == 3 ? MT_FAILED_REPLY : MT_REPLY;
        m->target.handle = req->taskID;
        m->timestamp = req->timestamp;
    } else {
        m->type = (MsgType)fz_pick(ph->in, MT_NUM + 1);
        m->target.handle = fz_pick(ph->in, 4) == 0 ? (uint32_t)ph->pr->tid : fz_u8(ph->in) % 40u;
        m->timestamp = fz_u8(ph->in);
    }
    m->code = fz_u8(ph->in);
    m->flag = fz_pick(ph->in, 3) == 0 ? LITEIPC_FLAG_DEFAULT : LITEIPC_FLAG_ONEWAY;
    m->dataSz = fz_pick(ph->in, 16) == 0 ? fz_u16(ph->in) % data_cap : fz_u8(ph->in);
    fz_fill(ph->in, data, m->dataSz);
    for (uint32_t i = 0; i < n; i++) {
        offs[i] = fz_pick(ph->in, 4) == 0 ? fz_u16(ph->in) : i * (uint32_t)sizeof(SpecialObj);
        if ((uint64_t)offs[i] + sizeof(SpecialObj) <= m->dataSz)
            put_object(ph, data, offs[i]);
    }
    m->spObjNum = n;
    m->data = m->dataSz && fz_pick(ph->in, 16) ? data : NULL;
    m->offsets = n && fz_pick(ph->in, 16) ? offs : NULL;
}

static void *pick_buff_to_free(fd_phase *ph)
{
    switch (fz_pick(ph->in, 4)) {
    case 0:
        return NULL;
    case 1:
        return ph->pr->pool ? ph->pr->pool + fz_u16(ph->in) % (ph->pr->pool_size + 8) : NULL;
    default:
        return (void *)ph->pr->got[fz_pick(ph->in, FD_GOT)];
    }
}

static void call_send_recv(fd_phase *ph)
{
    static uint8_t data[IPC_MSG_DATA_SZ_MAX + 64];
    uint32_t offs[4];
    IpcMsg out;
    IpcContent c = {.flag = fz_u8(ph->in) & 7u};
    int fd = pick_fd(ph), r;

    if ((c.flag & RECV) && !(c.flag & SEND) && ph->pr->self_queued == 0)
        c.flag &= ~(uint32_t)RECV; /* a plain RECV that could wait forever */
    c.buffToFree = pick_buff_to_free(ph);
    if (c.flag & SEND) {
        build_msg(ph, &out, data, sizeof(data), offs);
        c.outMsg = &out;
    }
    r = liteipc_ioctl(ph->k, fd, IPC_SEND_RECV_MSG, &c);
    check_result("IPC_SEND_RECV_MSG", r);
    if ((c.flag & SEND) && (c.flag & RECV))
        ph->pr->self_queued = 0; /* a synchronous call drops what was queued to it (Q5) */
    if (r == 0 && (c.flag & SEND) && !(c.flag & RECV) && out.type == MT_REQUEST &&
        out.flag == LITEIPC_FLAG_ONEWAY && out.target.handle == (uint32_t)ph->pr->tid &&
        ph->pr->tid > 0)
        ph->pr->self_queued++;
    if (r == 0 && (c.flag & RECV) && c.inMsg)
        took(ph->pr, c.inMsg);
}

static void call(fd_phase *ph)
{
    switch (fz_pick(ph->in, 10)) {
    case 0:
        call_open(ph);
        break;
    case 1:
        call_close(ph);
        break;
    case 2:
        call_mmap(ph);
        break;
    case 3:
        call_mprotect(ph);
        break;
    case 4:
    case 5:
        call_small_ioctl(ph);
        break;
    default:
        call_send_recv(ph);
        break;
    }
}

/* ---- phases ------------------------------------------------------------------------------- */

static void run_phase(fd_phase *ph, unsigned steps)
{
    if (ph->pr->tid <= 0)
        ph->pr->tid = liteipc_self_tid(ph->k);
    for (unsigned i = 0; i < steps && !fz_done(ph->in); i++)
        call(ph);
}

typedef struct vp_arg {
    fz_in *in;
    unsigned steps;
} vp_arg;

static void *vproc_phase(void *arg)
{
    vp_arg *a = arg;
    fd_proc pr = {.fds = {-1, -1, -1, -1}};
    fd_phase ph = {.k = K, .pr = &pr, .in = a->in};

    run_phase(&ph, a->steps);
    for (int i = 0; i < FD_FDS; i++)
        if (pr.fds[i] >= 0)
            check_result("close", liteipc_close(K, pr.fds[i]));
    return NULL;
}

static void start_kernel(void)
{
    liteipc_config cfg;

    liteipc_config_init(&cfg);
    cfg.task_limit = 40;
    cfg.process_limit = 12;
    cfg.pool_max_size = FD_POOL_MAX;
    cfg.reply_timeout_ms = 2; /* every bounded wait is short */
    FZ_ASSERT(liteipc_kernel_start(&cfg, &K) == 0, "cannot start a kernel");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {.p = data, .n = size};
    int fds_before = open_fd_count();

    start_kernel();
    Host = (fd_proc){.fds = {-1, -1, -1, -1}};
    for (unsigned p = 0; p < FD_PHASES && !fz_done(&in); p++) {
        unsigned steps = 1 + fz_pick(&in, FD_STEPS);

        if (fz_pick(&in, 2) == 0) {
            fd_phase ph = {.k = K, .pr = &Host, .in = &in};

            run_phase(&ph, steps);
        } else {
            vp_arg a = {.in = &in, .steps = steps};
            liteipc_vproc *vp;

            FZ_ASSERT(liteipc_vproc_spawn(K, vproc_phase, &a, &vp) == 0, "vproc_spawn");
            FZ_ASSERT(liteipc_vproc_join(vp, NULL) == 0, "vproc_join");
        }
    }
    for (int i = 0; i < FD_FDS; i++)
        if (Host.fds[i] >= 0)
            check_result("close", liteipc_close(K, Host.fds[i]));
    FZ_ASSERT(liteipc_kernel_stop(K) == 0, "kernel stop");
    K = NULL;
    FZ_ASSERT(open_fd_count() == fds_before, "%d descriptor(s) left open",
              open_fd_count() - fds_before);
    return 0;
}
