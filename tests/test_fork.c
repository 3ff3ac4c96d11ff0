/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fork.c - real host processes: a child forked from a thread attached to a kernel is a new
 * simulated process (LITEIPC_REFERENCE §7.6, Q16, Q25), and its death is noticed however it ends
 * (§7.2/§7.3, invariant 4 of DESIGN.md).
 *
 * A child reports through its exit status (0 = every check passed, otherwise the number of the
 * first failed check) and, where the parent needs a value, through a pipe. The parent always
 * waits for it. A child arms alarm() so that it can never hang its parent.
 */
#include "sfix.h"
#include "child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the inherited descriptor --------------------------------------------------------------- */

struct inherit {
    liteipc_kernel *k;
    int fd;
    int parent_pid, parent_tid;
};

static void child_inherits(void *arg)
{
    struct inherit *in = arg;
    liteipc_kernel *k = in->k;
    IpcVersion ver = {0};
    IpcContent empty = {.flag = 0};
    CmsCmdContent cc = {.cmd = CMS_REMOVE_HANDLE, .serviceHandle = 1};
    void *pool;
    int tid;

    /* the descriptor works without open(), but nothing does before the child's own mmap */
    CHILD_ERR(liteipc_ioctl(k, in->fd, IPC_GET_VERSION, &ver), ENOMEM, 1);
    CHILD_ERR(liteipc_ioctl(k, in->fd, IPC_SET_IPC_THREAD, 0UL), ENOMEM, 2);
    CHILD_ERR(liteipc_ioctl(k, in->fd, IPC_SEND_RECV_MSG, &empty), ENOMEM, 3);
    CHILD_ERR(liteipc_ioctl(k, in->fd, IPC_CMS_CMD, &cc), ENOMEM, 4);
    CHILD_ERR(liteipc_ioctl(k, in->fd, IPC_SET_CMS, 256UL), ENOMEM, 5);
    /* a pool of its own, of a size of its own */
    pool = liteipc_mmap(k, NULL, 8192, PROT_READ, MAP_PRIVATE, in->fd, 0);
    CHILD_CHECK(pool != MAP_FAILED, 6);
    CHILD_CHECK(liteipc_ioctl(k, in->fd, IPC_GET_VERSION, &ver) == 0, 7);
    CHILD_CHECK(ver.driverVersion == DRIVER_VERSION, 8);
    CHILD_ERR(liteipc_ioctl(k, in->fd, IPC_SET_CMS, 256UL), EEXIST, 9); /* the CMS is global */
    /* a new process with a new task */
    CHILD_CHECK(liteipc_self_pid(k) > 0 && liteipc_self_pid(k) != in->parent_pid, 10);
    tid = liteipc_self_tid(k);
    CHILD_CHECK(tid >= 8 && tid < MAX_SERVICE_NUM && tid != in->parent_tid, 11);
    /* neither the IPC thread nor the CMS role is inherited */
    CHILD_CHECK(liteipc_ioctl(k, in->fd, IPC_SET_IPC_THREAD, 0UL) == tid, 12);
    CHILD_ERR(liteipc_ioctl(k, in->fd, IPC_CMS_CMD, &cc), EACCES, 13);
    CHILD_CHECK(liteipc_mmap(k, NULL, 4096, PROT_READ, MAP_PRIVATE, in->fd, 0) == MAP_FAILED &&
                    errno == ENOMEM,
                14);
    /* and it can exchange messages */
    CHILD_CHECK(t_prime_task(k, in->fd) == 0, 15);
    _exit(0);
}

static void fork_child_inherits_descriptor_needs_own_pool(void **state)
{
    t_ctx *c = *state;
    struct inherit in = {.k = c->k};
    IpcVersion ver = {0};
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int status;

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, 256));
    in.fd = fd;
    in.parent_pid = liteipc_self_pid(c->k);
    in.parent_tid = liteipc_self_tid(c->k);
    assert_int_equal(t_set_ipc_thread(c->k, fd), in.parent_tid);
    status = wait_child(fork_child(child_inherits, &in));
    assert_child_passed(status);
    assert_ok(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, &ver)); /* the parent is not affected */
    assert_ok(t_prime_task(c->k, fd));
    assert_ok(liteipc_close(c->k, fd));
}

static void child_pool_sizes(void *arg)
{
    struct inherit *in = arg;

    CHILD_CHECK(liteipc_mmap(in->k, NULL, LITE_IPC_POOL_MAX_SIZE + 1, PROT_READ, MAP_PRIVATE,
                             in->fd, 0) == MAP_FAILED && errno == ENOMEM, 1);
    CHILD_CHECK(liteipc_mmap(in->k, NULL, LITE_IPC_POOL_MAX_SIZE, PROT_READ, MAP_PRIVATE, in->fd,
                             0) != MAP_FAILED, 2);
    _exit(0);
}

static void fork_child_pool_size_independent_of_parent(void **state)
{
    t_ctx *c = *state;
    struct inherit in = {.k = c->k};
    int fd = t_dev_setup(c->k, 4096, NULL);

    assert_true(fd >= 0);
    in.fd = fd;
    assert_child_passed(wait_child(fork_child(child_pool_sizes, &in)));
    assert_ok(liteipc_close(c->k, fd));
}

/* ---- the pool mapping ---------------------------------------------------------------------------- */

static void child_writes_pool(void *arg)
{
    struct inherit *in = arg;
    volatile char *pool = liteipc_mmap(in->k, NULL, 4096, PROT_READ, MAP_PRIVATE, in->fd, 0);
    char x;

    CHILD_CHECK((void *)pool != MAP_FAILED, 1);
    x = pool[100]; /* reading is fine */
    pool[100] = (char)(x + 1); /* writing must fault: only the kernel writes pools */
    _exit(2);
}

static void fork_child_writing_its_pool_segfaults(void **state)
{
    t_ctx *c = *state;
    struct inherit in = {.k = c->k};
    IpcVersion ver;
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int status;

    assert_true(fd >= 0);
    in.fd = fd;
    status = wait_child(fork_child(child_writes_pool, &in));
    if (WIFEXITED(status))
        fail_msg("child exited with %d: its write into the pool did not fault",
                 WEXITSTATUS(status));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    assert_ok(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, &ver)); /* the kernel lives on */
    assert_ok(liteipc_close(c->k, fd));
}

struct peek {
    liteipc_kernel *k;
    int fd;
    const char *parent_pool;
    char secret[32];
};

static bool address_mapped(const void *addr)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    bool found = false;

    if (!f)
        _exit(80);
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;

        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)addr >= lo &&
            (uintptr_t)addr < hi)
            found = true;
    }
    fclose(f);
    return found;
}

static void child_peeks(void *arg)
{
    struct peek *p = arg;
    char *own;

    /* the parent's pool is not mapped here (Q16 fixed); if something is, it must fault */
    if (address_mapped(p->parent_pool)) {
        volatile const char *v = p->parent_pool;
        char x = v[0];
        (void)x;
        _exit(1); /* readable: the child sees (some of) the parent's pool */
    }
    /* nor does the child's own fresh pool show the parent's data */
    own = liteipc_mmap(p->k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, p->fd, 0);
    CHILD_CHECK(own != MAP_FAILED, 2);
    CHILD_CHECK(memmem(own, T_POOL, p->secret, sizeof(p->secret)) == NULL, 3);
    _exit(0);
}

static void fork_child_cannot_see_parent_pool(void **state)
{
    t_ctx *c = *state;
    struct peek p = {.k = c->k};
    void *pool = NULL;
    IpcMsg *m = NULL;
    int fd = t_dev_setup(c->k, T_POOL, &pool);
    int status;

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, 256));
    t_fill(p.secret, sizeof(p.secret), 0x5ec);
    /* put the secret into the parent's pool and keep it there */
    assert_ok(t_send(c->k, fd, (uint32_t)liteipc_self_tid(c->k), 1, LITEIPC_FLAG_ONEWAY,
                     p.secret, sizeof(p.secret)));
    assert_ok(t_recv(c->k, fd, &m));
    assert_non_null(memmem(pool, T_POOL, p.secret, sizeof(p.secret)));
    p.fd = fd;
    p.parent_pool = pool;
    status = wait_child(fork_child(child_peeks, &p));
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)) /* faulting is fine too */
        assert_child_passed(status);
    assert_ok(t_free(c->k, fd, m));
    assert_ok(liteipc_close(c->k, fd));
}

/* Q25 (fixed): the child's first pool mmap leaves alone whatever the child itself has mapped at
   its parent's old pool address (the driver unmaps the region there, taking it for the alias). */
static void child_maps_at_parent_pool_address(void *arg)
{
    struct peek *p = arg;
    char *mine = mmap((void *)p->parent_pool, 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    char *own;

    CHILD_CHECK(mine == p->parent_pool, 1); /* nothing of the parent's is mapped there */
    mine[0] = 'q';
    own = liteipc_mmap(p->k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, p->fd, 0);
    CHILD_CHECK(own != MAP_FAILED, 2);
    CHILD_CHECK(address_mapped(mine) && mine[0] == 'q', 3);
    _exit(0);
}

static void fork_child_first_mmap_keeps_its_own_mapping_at_parent_pool_address(void **state)
{
    t_ctx *c = *state;
    struct peek p = {.k = c->k};
    void *pool = NULL;
    int fd = t_dev_setup(c->k, T_POOL, &pool);

    assert_true(fd >= 0);
    p.fd = fd;
    p.parent_pool = pool;
    assert_child_passed(wait_child(fork_child(child_maps_at_parent_pool_address, &p)));
    assert_ok(liteipc_close(c->k, fd));
}

/* ---- calls between the child and services of the parent ------------------------------------- */

struct caller {
    liteipc_kernel *k;
    int fd;
    uint32_t svc;
    int wpipe;
};

static void child_calls_after_grant(void *arg)
{
    struct caller *cl = arg;
    liteipc_kernel *k = cl->k;
    char data[3000];
    char *pool;
    IpcMsg *r = NULL;

    pool = liteipc_mmap(k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, cl->fd, 0);
    CHILD_CHECK(pool != MAP_FAILED, 1);
    t_fill(data, sizeof(data), 42);
    CHILD_ERR(t_call(k, cl->fd, cl->svc, T_CODE_ECHO, data, sizeof(data), &r), EACCES, 2);
    CHILD_CHECK(t_request_grant(k, cl->fd, cl->svc) == 0, 3); /* the CMS grants its process */
    CHILD_CHECK(t_call(k, cl->fd, cl->svc, T_CODE_ECHO, data, sizeof(data), &r) == 0, 4);
    CHILD_CHECK(r->type == MT_REPLY && r->dataSz == sizeof(data), 5);
    CHILD_CHECK(t_check_fill(r->data, sizeof(data), 42), 6);
    CHILD_CHECK(t_inside(r, sizeof(*r), pool, T_POOL), 7); /* in the child's own pool */
    CHILD_CHECK(t_free(k, cl->fd, r) == 0, 8);
    _exit(0);
}

static void fork_child_calls_parent_service_after_grant(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {.cms_size = T_CMS_BIG}, svc = {0};
    struct caller cl = {.k = c->k};
    int fd = t_dev_setup(c->k, T_POOL, NULL); /* attaches the forking thread to the kernel */
    int status;

    assert_true(fd >= 0);
    t_svc_start(&cms, c->k);
    t_svc_start(&svc, c->k);
    cl.fd = fd;
    cl.svc = (uint32_t)svc.tid;
    status = wait_child(fork_child(child_calls_after_grant, &cl));
    /* stop the services: this process asks for access to the service first */
    T_CHECK_OK(t_request_grant(c->k, fd, (uint32_t)svc.tid));
    T_CHECK_OK(t_svc_quit(&svc, c->k, fd, false));
    t_svc_join(&svc);
    T_CHECK_OK(t_svc_quit(&cms, c->k, fd, true));
    t_svc_join(&cms);
    assert_ok(liteipc_close(c->k, fd));
    t_assert_threads_ok();
    assert_child_passed(status);
    assert_int_equal(svc.requests, 1); /* the refused call never reached it */
}

static void child_without_parent_grant(void *arg)
{
    struct caller *cl = arg;
    liteipc_kernel *k = cl->k;
    int ids[2];
    IpcMsg *r = NULL;

    CHILD_CHECK(liteipc_mmap(k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, cl->fd, 0) != MAP_FAILED,
                1);
    ids[0] = liteipc_self_pid(k);
    ids[1] = liteipc_self_tid(k);
    write_pipe(cl->wpipe, ids, sizeof(ids));
    CHILD_ERR(t_call(k, cl->fd, cl->svc, T_CODE_ECHO, "x", 1, &r), EACCES, 2);
    CHILD_ERR(t_send(k, cl->fd, cl->svc, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EACCES, 3);
    /* handle 0 is open to everyone */
    CHILD_CHECK(t_send(k, cl->fd, 0, 0xc0, LITEIPC_FLAG_ONEWAY, NULL, 0) == 0, 4);
    _exit(0);
}

static void fork_child_cannot_call_service_granted_to_parent(void **state)
{
    t_ctx *c = *state;
    t_svc svc = {0};
    struct caller cl = {.k = c->k};
    int pfd[2], ids[2] = {-1, -1};
    IpcMsg *r = NULL, got;
    uint32_t h = 0;
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int status, rc_parent, rd;
    pid_t pid;

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    assert_ok(pipe(pfd));
    t_svc_start(&svc, c->k);
    T_CHECK_OK(t_gen_handle(c->k, fd, (uint32_t)svc.tid, &h)); /* this process is granted */
    rc_parent = t_call(c->k, fd, (uint32_t)svc.tid, T_CODE_ECHO, "p", 1, &r);
    if (rc_parent == 0)
        T_CHECK_OK(t_free(c->k, fd, r));
    cl.fd = fd;
    cl.svc = (uint32_t)svc.tid;
    cl.wpipe = pfd[1];
    pid = fork_child(child_without_parent_grant, &cl);
    close(pfd[1]);
    rd = read_pipe(pfd[0], ids, sizeof(ids));
    status = wait_child(pid);
    close(pfd[0]);
    memset(&got, 0, sizeof(got));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && t_recv(c->k, fd, &r) == 0) {
        got = *r;
        T_CHECK_OK(t_free(c->k, fd, r));
    }
    T_CHECK_OK(t_svc_quit(&svc, c->k, fd, false));
    t_svc_join(&svc);
    assert_ok(liteipc_close(c->k, fd));
    t_assert_threads_ok();
    assert_int_equal(rc_parent, 0);
    assert_child_passed(status);
    assert_int_equal(rd, 0);
    assert_int_equal(got.code, 0xc0);
    assert_int_equal(got.processID, ids[0]); /* stamped with the child's identity */
    assert_int_equal(got.taskID, ids[1]);
    assert_int_not_equal(ids[0], liteipc_self_pid(c->k));
}

/* ---- death of a child ----------------------------------------------------------------------- */

struct registrant {
    liteipc_kernel *k;
    int fd;
    int wpipe;
    bool block; /* after registering, block in RECV until killed */
};

static void child_registers(void *arg)
{
    struct registrant *rg = arg;
    liteipc_kernel *k = rg->k;
    int ids[2];
    IpcMsg *m = NULL;

    CHILD_CHECK(liteipc_mmap(k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, rg->fd, 0) != MAP_FAILED,
                1);
    CHILD_CHECK(t_prime_task(k, rg->fd) == 0, 2);         /* it has received a message */
    CHILD_CHECK(t_request_register(k, rg->fd) == 0, 3);   /* the CMS: CMS_GEN_HANDLE on it */
    ids[0] = liteipc_self_pid(k);
    ids[1] = liteipc_self_tid(k);
    write_pipe(rg->wpipe, ids, sizeof(ids));
    if (rg->block) {
        t_recv(k, rg->fd, &m); /* until SIGKILL */
        _exit(4);
    }
    _exit(0);
}

/* A child registers with the parent's CMS (which is its own IPC thread), then dies. */
static void run_child_death(t_ctx *c, bool kill_it, int *status, int ids[2], t_svc *cms,
                            long *token, int *got)
{
    struct registrant rg = {.k = c->k, .block = kill_it};
    int pfd[2], rd;
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    pid_t pid;

    assert_true(fd >= 0);
    assert_ok(pipe(pfd));
    cms->cms_size = T_CMS_BIG;
    cms->ipc_thread = true;
    t_svc_start(cms, c->k);
    rg.fd = fd;
    rg.wpipe = pfd[1];
    pid = fork_child(child_registers, &rg);
    close(pfd[1]);
    rd = read_pipe(pfd[0], ids, 2 * sizeof(int));
    close(pfd[0]);
    if (kill_it) {
        if (rd == 0) /* it is parked in its receive: kill it there */
            /* its second wait: the first was the synchronous call that registered it */
            T_CHECK_OK(t_ev_wait(c->ev, LITEIPC_EV_RECV_WAIT, ids[1], 2, T_WAIT_MS));
        kill(pid, SIGKILL);
    }
    *status = wait_child(pid);
    T_CHECK_EQ(rd, 0);
    *got = t_latch_wait(&cms->death, token, T_WAIT_MS);
    T_CHECK_OK(t_svc_quit(cms, c->k, fd, true));
    t_svc_join(cms);
    assert_ok(liteipc_close(c->k, fd));
    t_assert_threads_ok();
}

static void fork_child_exit_notifies_parent_cms(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {0};
    int status, ids[2] = {-1, -1}, got;
    long token = -1;

    run_child_death(c, false, &status, ids, &cms, &token, &got);
    assert_child_passed(status);
    assert_int_equal(got, 0);
    assert_int_equal(token, ids[1]);
    assert_int_equal(cms.death_msg.type, MT_DEATH_NOTIFY);
    assert_int_equal(cms.death_msg.target.handle, cms.tid);
    assert_int_equal(cms.death_msg.taskID, ids[1]);
    assert_int_equal(cms.death_msg.processID, ids[0]);
}

static void fork_child_sigkill_notifies_parent_cms(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {0};
    int status, ids[2] = {-1, -1}, got;
    long token = -1;

    run_child_death(c, true, &status, ids, &cms, &token, &got);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(got, 0);
    assert_int_equal(token, ids[1]);
    assert_int_equal(cms.death_msg.type, MT_DEATH_NOTIFY);
    assert_int_equal(cms.death_msg.target.handle, cms.tid);
    /* the child's task was parked in a receive when its process died */
    assert_ok(t_ev_wait(c->ev, LITEIPC_EV_RECV_KILLED, ids[1], 1, T_WAIT_MS));
    assert_int_equal(t_ev_count_src(c->ev, LITEIPC_EV_TASK_DEATH, ids[1]), 1);
}

static void child_sync_call_then_exit(void *arg)
{
    struct caller *cl = arg;
    IpcMsg *r = NULL;

    CHILD_CHECK(liteipc_mmap(cl->k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, cl->fd, 0) !=
                    MAP_FAILED,
                1);
    /* a reused PID does not inherit the grants of its previous owner (§7.3) */
    CHILD_ERR(t_call(cl->k, cl->fd, cl->svc, T_CODE_ECHO, "hi", 2, &r), EACCES, 4);
    CHILD_CHECK(t_request_grant(cl->k, cl->fd, cl->svc) == 0, 2);
    CHILD_CHECK(t_call(cl->k, cl->fd, cl->svc, T_CODE_ECHO, "bye", 3, &r) == 0, 3);
    /* leave with the reply unfreed and the pool mapped: the kernel cleans up (§7.3) */
    _exit(0);
}

static void fork_many_children_leave_nothing_behind(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {.cms_size = T_CMS_BIG}, svc = {0};
    struct caller cl = {.k = c->k};
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int failed = 0, last = 0;

    assert_true(fd >= 0);
    t_svc_start(&cms, c->k);
    t_svc_start(&svc, c->k);
    cl.fd = fd;
    cl.svc = (uint32_t)svc.tid;
    /* more children than the process table has PIDs: each one's PID must be given back */
    for (int i = 0; i < LITEIPC_PROCESS_LIMIT + 8; i++) {
        int st = wait_child(fork_child(child_sync_call_then_exit, &cl));

        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            failed++;
            last = st;
        }
    }
    T_CHECK_OK(t_request_grant(c->k, fd, (uint32_t)svc.tid));
    T_CHECK_OK(t_svc_quit(&svc, c->k, fd, false));
    t_svc_join(&svc);
    T_CHECK_OK(t_svc_quit(&cms, c->k, fd, true));
    t_svc_join(&cms);
    assert_ok(liteipc_close(c->k, fd));
    t_assert_threads_ok();
    if (failed)
        assert_child_passed(last);
    assert_int_equal(svc.requests, LITEIPC_PROCESS_LIMIT + 8);
}

/* An OBJ_PTR buffer from a forked child arrives intact in the parent's pool (§5.3): the
   broker reads the child's memory as the kernel reads user memory. */
#define PTR_BYTES 10000u

static void child_sends_ptr_object(void *arg)
{
    struct caller *cl = arg;
    liteipc_kernel *k = cl->k;
    static unsigned char buf[PTR_BYTES];
    unsigned char data[sizeof(SpecialObj)];
    SpecialObj obj = {.type = OBJ_PTR, .content.ptr = {.buffSz = PTR_BYTES, .buff = buf}};
    uint32_t off = 0;
    IpcMsg m = {.type = MT_REQUEST, .flag = LITEIPC_FLAG_ONEWAY, .code = 0x77,
                .dataSz = sizeof(data), .data = data, .spObjNum = 1, .offsets = &off};
    IpcContent ct = {.flag = SEND, .outMsg = &m};

    CHILD_CHECK(liteipc_mmap(k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, cl->fd, 0) != MAP_FAILED,
                1);
    t_fill(buf, sizeof(buf), 42);
    memcpy(data, &obj, sizeof(obj));
    CHILD_CHECK(liteipc_ioctl(k, cl->fd, IPC_SEND_RECV_MSG, &ct) == 0, 2);
    _exit(0);
}

static void fork_child_ptr_object_arrives_intact(void **state)
{
    t_ctx *c = *state;
    struct caller cl = {.k = c->k};
    void *pool = NULL;
    int fd = t_dev_setup(c->k, T_POOL, &pool);
    IpcMsg *m = NULL;
    SpecialObj obj;
    uint32_t off;
    int status;

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG)); /* this thread is handle 0 */
    cl.fd = fd;
    status = wait_child(fork_child(child_sends_ptr_object, &cl));
    assert_child_passed(status);
    assert_ok(t_recv(c->k, fd, &m));
    assert_int_equal(m->code, 0x77);
    assert_int_equal(m->spObjNum, 1);
    memcpy(&off, m->offsets, sizeof(off));
    memcpy(&obj, (char *)m->data + off, sizeof(obj));
    assert_int_equal(obj.type, OBJ_PTR);
    assert_int_equal(obj.content.ptr.buffSz, PTR_BYTES);
    assert_true(t_inside(obj.content.ptr.buff, PTR_BYTES, pool, T_POOL));
    assert_true(t_check_fill(obj.content.ptr.buff, PTR_BYTES, 42));
    assert_ok(t_free(c->k, fd, obj.content.ptr.buff)); /* freed on its own (§4.4.5) */
    assert_ok(t_free(c->k, fd, m));
    assert_ok(liteipc_close(c->k, fd));
}

/* OBJ_FD both ways between a forked child and its parent (§5.2): each side gets a working
   descriptor of the other's pipe, numbered >= 3 and without FD_CLOEXEC. */
static int fd_object_msg(IpcMsg *m, unsigned char *data, uint32_t *off, int fd)
{
    SpecialObj obj = {.type = OBJ_FD, .content.fd = (uint32_t)fd};

    memcpy(data, &obj, sizeof(obj));
    *off = 0;
    m->dataSz = sizeof(obj);
    m->data = data;
    m->spObjNum = 1;
    m->offsets = off;
    return 0;
}

static int fd_of(const IpcMsg *m)
{
    SpecialObj obj;
    uint32_t off;

    memcpy(&off, m->offsets, sizeof(off));
    memcpy(&obj, (const char *)m->data + off, sizeof(obj));
    return obj.type == OBJ_FD ? (int)obj.content.fd : -1;
}

static void child_swaps_fds(void *arg)
{
    struct caller *cl = arg;
    liteipc_kernel *k = cl->k;
    unsigned char data[sizeof(SpecialObj)];
    uint32_t off;
    char got[8] = {0};
    int pfd[2], fd;
    IpcMsg m = {.type = MT_REQUEST, .code = 0x66};
    IpcContent ct = {.flag = SEND | RECV, .outMsg = &m};

    CHILD_CHECK(liteipc_mmap(k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, cl->fd, 0) != MAP_FAILED,
                1);
    CHILD_CHECK(pipe(pfd) == 0 && write(pfd[1], "hello", 5) == 5, 2);
    fd_object_msg(&m, data, &off, pfd[0]);
    CHILD_CHECK(liteipc_ioctl(k, cl->fd, IPC_SEND_RECV_MSG, &ct) == 0, 3);
    fd = fd_of(ct.inMsg);
    CHILD_CHECK(fd >= 3 && fcntl(fd, F_GETFD) == 0, 4);
    CHILD_CHECK(read(fd, got, 5) == 5 && memcmp(got, "world", 5) == 0, 5);
    _exit(0);
}

static void fork_fd_objects_travel_both_ways(void **state)
{
    t_ctx *c = *state;
    struct caller cl = {.k = c->k};
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    unsigned char data[sizeof(SpecialObj)];
    uint32_t off;
    char got[8] = {0};
    IpcMsg *m = NULL, rep = {.type = MT_REPLY};
    IpcContent ct = {.flag = SEND | BUFF_FREE, .outMsg = &rep};
    int pfd[2], theirs, status;
    pid_t pid;

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    cl.fd = fd;
    pid = fork_child(child_swaps_fds, &cl);
    assert_ok(t_recv(c->k, fd, &m));
    theirs = fd_of(m);
    assert_true(theirs >= 3);
    assert_int_equal(fcntl(theirs, F_GETFD), 0);
    assert_int_equal(read(theirs, got, 5), 5);
    assert_memory_equal(got, "hello", 5);
    assert_ok(close(theirs));
    assert_ok(pipe(pfd));
    assert_int_equal(write(pfd[1], "world", 5), 5);
    rep.target.handle = m->taskID;
    rep.timestamp = m->timestamp;
    fd_object_msg(&rep, data, &off, pfd[0]);
    ct.buffToFree = m;
    assert_ok(liteipc_ioctl(c->k, fd, IPC_SEND_RECV_MSG, &ct));
    status = wait_child(pid);
    close(pfd[0]);
    close(pfd[1]);
    assert_child_passed(status);
    assert_ok(liteipc_close(c->k, fd));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(fork_child_inherits_descriptor_needs_own_pool),
        T(fork_child_pool_size_independent_of_parent),
        T(fork_child_writing_its_pool_segfaults),
        T(fork_child_cannot_see_parent_pool),
        T(fork_child_first_mmap_keeps_its_own_mapping_at_parent_pool_address),
        T(fork_child_calls_parent_service_after_grant),
        T(fork_child_cannot_call_service_granted_to_parent),
        T(fork_child_exit_notifies_parent_cms),
        T(fork_child_sigkill_notifies_parent_cms),
        T(fork_many_children_leave_nothing_behind),
        T(fork_child_ptr_object_arrives_intact),
        T(fork_fd_objects_travel_both_ways),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
