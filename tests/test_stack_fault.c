/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_fault.c - bad user pointers through the whole stack (DESIGN note 10,
 * LITEIPC_REFERENCE §2.5, §3.4, §4.1, Q12): an unmapped page, a PROT_NONE page, an address in
 * the middle of nowhere and one past the user address range, given as the ioctl argument, as
 * outMsg, data, offsets and buffToFree, and as the targets the kernel writes back (inMsg,
 * CmsCmdContent, IpcVersion). Each gives the device's errno in the device's order, the calling
 * program survives, and the kernel keeps serving.
 *
 * The test thread is the ServiceManager in the host's default process and sends to itself.
 */
#include "sfix.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CODE 0x77u

struct bad {
    char *area;   /* 3 pages: PROT_NONE, a hole, read-only */
    void *none;   /* a PROT_NONE page */
    void *hole;   /* an unmapped page */
    void *ro;     /* a read-only page */
    void *nowhere; /* far from anything mapped */
    void *kernel; /* past the user address range */
};

/* An address far from anything mapped: the middle of the largest gap between mappings
   (sanitizers map much of the address space for themselves: ask, don't guess). */
static void *nowhere(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    unsigned long lo, hi, prev = 0x10000, best_lo = 0, best_len = 0;
#if ULONG_MAX > 0xFFFFFFFFul
    const unsigned long top = 1ul << 46; /* well inside the user range of every 64-bit host */
#else
    const unsigned long top = ULONG_MAX; /* a 32-bit process: its whole address space */
#endif

    assert_non_null(f);
    while (fscanf(f, "%lx-%lx%*[^\n]", &lo, &hi) == 2 && prev < top) {
        lo = lo < top ? lo : top;
        if (lo > prev && lo - prev > best_len) {
            best_lo = prev;
            best_len = lo - prev;
        }
        prev = hi > prev ? hi : prev;
    }
    fclose(f);
    assert_true(best_len >= (1ul << 20));
    return (void *)((best_lo + best_len / 2) & ~0xffful) + 0x123;
}

static void bad_init(struct bad *b)
{
    long pg = sysconf(_SC_PAGESIZE);

    b->area = mmap(NULL, 3 * (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(b->area != MAP_FAILED);
    assert_ok(munmap(b->area + pg, (size_t)pg));
    assert_ok(mprotect(b->area + 2 * pg, (size_t)pg, PROT_READ));
    b->none = b->area;
    b->hole = b->area + pg;
    b->ro = b->area + 2 * pg;
    b->nowhere = nowhere();
#if UINTPTR_MAX > 0xFFFFFFFFu
    b->kernel = (void *)(uintptr_t)0xffff800000000000ull;
#else /* a 32-bit process has no kernel half: the last bytes, every argument running past them */
    b->kernel = (void *)(UINTPTR_MAX - 2);
#endif
}

static void bad_fini(struct bad *b)
{
    long pg = sysconf(_SC_PAGESIZE);

    munmap(b->area, (size_t)pg);
    munmap(b->area + 2 * pg, (size_t)pg);
}

/* The user pointers that fault (not the one past the user range). */
static void *faulting(const struct bad *b, int i)
{
    return i == 0 ? b->none : i == 1 ? b->hole : b->nowhere;
}

static int send_recv(liteipc_kernel *k, int fd, IpcContent *c)
{
    return liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, c);
}

/* Nothing was queued, and a message still goes round: the kernel serves on. */
static void assert_still_serving(liteipc_kernel *k, int fd)
{
    IpcMsg *m = NULL;
    int tid = liteipc_self_tid(k);

    assert_ok(t_send(k, fd, (uint32_t)tid, CODE + 1, LITEIPC_FLAG_ONEWAY, "ok", 2));
    assert_ok(t_recv(k, fd, &m));
    assert_int_equal(m->code, CODE + 1); /* the first queued: nothing bad got in before it */
    assert_ok(t_free(k, fd, m));
}

static int world(t_ctx *c, bool cms)
{
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    if (cms) {
        assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
        assert_ok(t_prime_task(c->k, fd));
    }
    return fd;
}

/* ---- the argument ------------------------------------------------------------------------- */

/* Before any CMS exists nothing is read: EINVAL, whatever the pointers (§3.8). */
static void fault_no_cms_einval_before_reading(void **state)
{
    t_ctx *c = *state;
    struct bad b;
    int fd = world(c, false);

    bad_init(&b);
    for (int i = 0; i < 3; i++)
        assert_errno(liteipc_ioctl(c->k, fd, IPC_SEND_RECV_MSG, faulting(&b, i)), EINVAL);
    IpcContent ct = {.flag = SEND, .outMsg = b.none};
    assert_errno(send_recv(c->k, fd, &ct), EINVAL);
    /* the syscall layer comes first, CMS or not */
    assert_errno(liteipc_ioctl(c->k, fd, IPC_SEND_RECV_MSG, b.kernel), EFAULT);
    bad_fini(&b);
    assert_ok(liteipc_close(c->k, fd));
}

static void fault_arg_unreadable(void **state)
{
    t_ctx *c = *state;
    struct bad b;
    int fd = world(c, true);
    IpcVersion v;

    bad_init(&b);
    for (int i = 0; i < 3; i++) {
        void *p = faulting(&b, i);
        assert_errno(liteipc_ioctl(c->k, fd, IPC_SEND_RECV_MSG, p), EINVAL); /* §4.1 step 1 */
        assert_errno(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, p), EINVAL);       /* §3.4 step 3 */
        assert_errno(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, p), EFAULT);   /* Q12 */
    }
    /* past the user range: the syscall layer's EFAULT, for every pointer command */
    assert_errno(liteipc_ioctl(c->k, fd, IPC_SEND_RECV_MSG, b.kernel), EFAULT);
    assert_errno(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, b.kernel), EFAULT);
    assert_errno(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, b.kernel), EFAULT);
    /* a range that ends past it */
    assert_errno(liteipc_ioctl(c->k, fd, IPC_SEND_RECV_MSG, (char *)b.kernel - 8), EFAULT);
    assert_errno(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, b.ro), EFAULT); /* read-only target */
    assert_ok(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, &v));
    assert_int_equal(v.driverVersion, DRIVER_VERSION);
    assert_still_serving(c->k, fd);
    bad_fini(&b);
    assert_ok(liteipc_close(c->k, fd));
}

struct cms_job {
    liteipc_kernel *k;
    void *bad;
    int err;
};

static void *non_cms_fn(void *arg)
{
    struct cms_job *j = arg;
    int fd = t_dev_setup(j->k, T_POOL, NULL);

    T_CHECK(fd >= 0);
    errno = 0;
    T_CHECK_EQ(liteipc_ioctl(j->k, fd, IPC_CMS_CMD, j->bad), -1);
    j->err = errno;
    T_CHECK_OK(liteipc_close(j->k, fd));
    return NULL;
}

/* A second task of the calling process, alive until told. */
struct helper {
    liteipc_kernel *k;
    t_latch tid, done;
};

static void *helper_fn(void *arg)
{
    struct helper *h = arg;

    t_latch_set(&h->tid, liteipc_self_tid(h->k));
    T_CHECK_OK(t_latch_wait(&h->done, NULL, T_WAIT_MS));
    return NULL;
}

/* IPC_CMS_CMD: "not the CMS" (EACCES) comes before the copy (§3.4). */
static void fault_cms_cmd_order(void **state)
{
    t_ctx *c = *state;
    struct bad b;
    int fd = world(c, true);
    liteipc_vproc *vp;

    bad_init(&b);
    struct cms_job j = {.k = c->k, .bad = b.hole};
    assert_int_equal(liteipc_vproc_spawn(c->k, non_cms_fn, &j, &vp), 0);
    assert_int_equal(liteipc_vproc_join(vp, NULL), 0);
    t_assert_threads_ok();
    assert_int_equal(j.err, EACCES);
    /* read from a read-only page: REMOVE_HANDLE copies nothing back and succeeds; GEN_HANDLE
       for a live task is done, but its copy back faults (Q12: EFAULT here) */
    long pg = sysconf(_SC_PAGESIZE);
    struct helper h = {.k = c->k};
    pthread_t th;
    long tid;
    t_latch_init(&h.tid);
    t_latch_init(&h.done);
    assert_int_equal(pthread_create(&th, NULL, helper_fn, &h), 0);
    assert_int_equal(t_latch_wait(&h.tid, &tid, T_WAIT_MS), 0);
    CmsCmdContent *ro = b.ro;
    assert_ok(mprotect(b.ro, (size_t)pg, PROT_READ | PROT_WRITE));
    *ro = (CmsCmdContent){.cmd = CMS_REMOVE_HANDLE, .serviceHandle = 1};
    assert_ok(mprotect(b.ro, (size_t)pg, PROT_READ));
    assert_ok(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, ro));
    assert_ok(mprotect(b.ro, (size_t)pg, PROT_READ | PROT_WRITE));
    *ro = (CmsCmdContent){.cmd = CMS_GEN_HANDLE, .taskID = (uint32_t)tid};
    assert_ok(mprotect(b.ro, (size_t)pg, PROT_READ));
    assert_errno(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, ro), EFAULT);
    CmsCmdContent ok = {.cmd = CMS_GEN_HANDLE, .taskID = (uint32_t)tid};
    assert_ok(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, &ok));
    assert_int_equal(ok.serviceHandle, tid);
    t_latch_set(&h.done, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    t_latch_destroy(&h.tid);
    t_latch_destroy(&h.done);
    bad_fini(&b);
    assert_ok(liteipc_close(c->k, fd));
}

/* RECV whose IpcContent is read-only: received, but writing inMsg faults: EINVAL (§4.1). */
static void fault_inmsg_copy_out_einval(void **state)
{
    t_ctx *c = *state;
    struct bad b;
    int fd = world(c, true);
    int tid = liteipc_self_tid(c->k);
    long pg = sysconf(_SC_PAGESIZE);

    bad_init(&b);
    assert_ok(t_send(c->k, fd, (uint32_t)tid, CODE, LITEIPC_FLAG_ONEWAY, "lost", 4));
    assert_ok(mprotect(b.ro, (size_t)pg, PROT_READ | PROT_WRITE));
    *(IpcContent *)b.ro = (IpcContent){.flag = RECV};
    assert_ok(mprotect(b.ro, (size_t)pg, PROT_READ));
    assert_errno(send_recv(c->k, fd, b.ro), EINVAL);
    assert_still_serving(c->k, fd); /* the lost message was taken: the next one comes first */
    bad_fini(&b);
    assert_ok(liteipc_close(c->k, fd));
}

/* ---- the message ---------------------------------------------------------------------------- */

static void fault_outmsg_einval(void **state)
{
    t_ctx *c = *state;
    struct bad b;
    int fd = world(c, true);

    bad_init(&b);
    for (int i = 0; i < 3; i++) {
        IpcContent ct = {.flag = SEND, .outMsg = faulting(&b, i)};
        assert_errno(send_recv(c->k, fd, &ct), EINVAL);
        ct.flag = SEND | RECV;
        assert_errno(send_recv(c->k, fd, &ct), EINVAL);
    }
    assert_still_serving(c->k, fd);
    bad_fini(&b);
    assert_ok(liteipc_close(c->k, fd));
}

/* data or offsets unreadable: the driver's copy faults after every check (Q12: EFAULT). */
static void fault_data_and_offsets_efault(void **state)
{
    t_ctx *c = *state;
    struct bad b;
    int fd = world(c, true);
    uint32_t tid = (uint32_t)liteipc_self_tid(c->k);
    char data[64] = {0};
    uint32_t off = 0;

    bad_init(&b);
    for (int i = 0; i < 3; i++) {
        IpcMsg m = {.type = MT_REQUEST, .target = {.handle = tid}, .code = CODE,
                    .flag = LITEIPC_FLAG_ONEWAY, .dataSz = 16, .data = faulting(&b, i)};
        IpcContent ct = {.flag = SEND, .outMsg = &m};
        assert_errno(send_recv(c->k, fd, &ct), EFAULT);
        m.dataSz = 64, m.data = data, m.spObjNum = 1, m.offsets = faulting(&b, i);
        assert_errno(send_recv(c->k, fd, &ct), EFAULT);
        /* the checks before the copy still come first */
        m.dataSz = IPC_MSG_DATA_SZ_MAX + 1, m.data = faulting(&b, i), m.spObjNum = 0;
        assert_errno(send_recv(c->k, fd, &ct), EINVAL);
        m.dataSz = 16, m.target.handle = MAX_SERVICE_NUM;
        assert_errno(send_recv(c->k, fd, &ct), EACCES);
    }
    /* a good message whose object table is fine is delivered */
    IpcMsg m = {.type = MT_REQUEST, .target = {.handle = tid}, .code = CODE,
                .flag = LITEIPC_FLAG_ONEWAY, .dataSz = 64, .data = data, .spObjNum = 1,
                .offsets = &off};
    SpecialObj o = {.type = OBJ_SVC, .content.svc = {.handle = tid}};
    memcpy(data, &o, sizeof(o));
    IpcContent ct = {.flag = SEND, .outMsg = &m};
    assert_ok(send_recv(c->k, fd, &ct));
    IpcMsg *in = NULL;
    assert_ok(t_recv(c->k, fd, &in));
    assert_int_equal(in->code, CODE);
    assert_ok(t_free(c->k, fd, in));
    assert_still_serving(c->k, fd);
    bad_fini(&b);
    assert_ok(liteipc_close(c->k, fd));
}

/* buffToFree is never dereferenced: outside the pool EINVAL, inside not a buffer EFAULT. */
static void fault_buff_to_free(void **state)
{
    t_ctx *c = *state;
    struct bad b;
    void *pool = NULL;
    int fd = t_dev_setup(c->k, T_POOL, &pool);

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    bad_init(&b);
    for (int i = 0; i < 3; i++) {
        IpcContent ct = {.flag = BUFF_FREE, .buffToFree = faulting(&b, i)};
        assert_errno(send_recv(c->k, fd, &ct), EINVAL);
    }
    IpcContent ct = {.flag = BUFF_FREE, .buffToFree = (char *)pool + 100};
    assert_errno(send_recv(c->k, fd, &ct), EFAULT);
    assert_still_serving(c->k, fd);
    bad_fini(&b);
    assert_ok(liteipc_close(c->k, fd));
}

/* Another process is not disturbed by one that passes garbage. */
struct peer_job {
    liteipc_kernel *k;
    const struct bad *b;
    int rc_outmsg, rc_data;
};

static void *garbage_fn(void *arg)
{
    struct peer_job *j = arg;
    int fd = t_dev_setup(j->k, T_POOL, NULL);
    uint32_t tid = (uint32_t)liteipc_self_tid(j->k);

    T_CHECK(fd >= 0);
    IpcContent ct = {.flag = SEND | RECV, .outMsg = j->b->hole};
    j->rc_outmsg = send_recv(j->k, fd, &ct) == -1 ? errno : 0;
    IpcMsg m = {.type = MT_REQUEST, .target = {.handle = tid}, .dataSz = 8, .data = j->b->none,
                .flag = LITEIPC_FLAG_ONEWAY};
    ct = (IpcContent){.flag = SEND, .outMsg = &m};
    j->rc_data = send_recv(j->k, fd, &ct) == -1 ? errno : 0;
    T_CHECK_OK(liteipc_close(j->k, fd));
    return NULL;
}

static void fault_other_process_unharmed(void **state)
{
    t_ctx *c = *state;
    struct bad b;
    int fd = world(c, true);
    liteipc_vproc *vp;

    bad_init(&b);
    struct peer_job j = {.k = c->k, .b = &b};
    assert_int_equal(liteipc_vproc_spawn(c->k, garbage_fn, &j, &vp), 0);
    assert_int_equal(liteipc_vproc_join(vp, NULL), 0);
    t_assert_threads_ok();
    assert_int_equal(j.rc_outmsg, EINVAL);
    assert_int_equal(j.rc_data, EFAULT);
    assert_still_serving(c->k, fd);
    bad_fini(&b);
    assert_ok(liteipc_close(c->k, fd));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fault_no_cms_einval_before_reading, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(fault_arg_unreadable, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(fault_cms_cmd_order, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(fault_inmsg_copy_out_einval, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(fault_outmsg_einval, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(fault_data_and_offsets_efault, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(fault_buff_to_free, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(fault_other_process_unharmed, t_setup, t_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
