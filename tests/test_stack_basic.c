/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_basic.c - the device calls of LITEIPC_REFERENCE §2 and §3 through the
 * function-call device: open, close, mmap, read/write, the ioctl prelude and result matrix,
 * IPC_SET_CMS, IPC_SET_IPC_THREAD, IPC_GET_VERSION, IPC_CMS_CMD, descriptor ownership.
 */
#include "sfix.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BAD_CMD _IO('i', 9)

static int get_version(liteipc_kernel *k, int fd, int32_t *v)
{
    IpcVersion ver = {.driverVersion = -1};
    int r = liteipc_ioctl(k, fd, IPC_GET_VERSION, &ver);

    if (v)
        *v = ver.driverVersion;
    return r;
}

static void *mmap_pool(liteipc_kernel *k, int fd, size_t len)
{
    return liteipc_mmap(k, NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
}

#define assert_map_fails(expr, e)                                                          \
    do {                                                                                   \
        errno = 0;                                                                         \
        void *t_p_ = (expr);                                                               \
        int t_e_ = errno;                                                                  \
        if (t_p_ != MAP_FAILED || t_e_ != (e))                                             \
            fail_msg("%s: got %p errno %d (%s), expected MAP_FAILED %s", #expr, t_p_, t_e_, \
                     liteipc_errno_name(t_e_), #e);                                         \
    } while (0)

/* ---- open / close ------------------------------------------------------------------------ */

static void basic_open_accepts_any_flags(void **state)
{
    t_ctx *c = *state;
    const int flags[] = {O_RDONLY,          O_WRONLY,           O_RDWR,
                         O_RDWR | O_CREAT,  O_RDONLY | O_SYNC,  O_RDWR | O_CLOEXEC,
                         O_RDONLY | O_NONBLOCK, O_WRONLY | O_TRUNC | O_APPEND};
    enum { N = sizeof(flags) / sizeof(flags[0]) };
    int fds[N];

    for (int i = 0; i < N; i++) {
        fds[i] = liteipc_open(c->k, LITEIPC_DRIVER, flags[i]);
        if (fds[i] < 0)
            fail_msg("open with flags %#x: errno %d (%s)", flags[i], errno,
                     liteipc_errno_name(errno));
        for (int j = 0; j < i; j++)
            assert_int_not_equal(fds[i], fds[j]);
    }
    for (int i = 0; i < N; i++)
        assert_ok(liteipc_close(c->k, fds[i]));
}

static void basic_open_path_must_be_the_driver(void **state)
{
    t_ctx *c = *state;
    int fd = liteipc_open(c->k, NULL, O_RDWR);

    assert_true(fd >= 0);
    assert_ok(liteipc_close(c->k, fd));
    assert_errno(liteipc_open(c->k, "/dev/null", O_RDWR), ENOENT);
    assert_errno(liteipc_open(c->k, "/dev/lite_ipc2", O_RDWR), ENOENT);
}

static void basic_open_returns_real_host_descriptor(void **state)
{
    t_ctx *c = *state;
    int fd = t_dev_open(c->k);
    int host;

    assert_true(fd >= 0);
    assert_int_not_equal(fcntl(fd, F_GETFD), -1); /* reserved in the host's table */
    host = open("/dev/null", O_RDONLY);
    assert_true(host >= 0);
    assert_int_not_equal(host, fd);
    close(host);
    assert_ok(liteipc_close(c->k, fd));
}

static void basic_close_bad_descriptor_ebadf(void **state)
{
    t_ctx *c = *state;
    int fd = t_dev_open(c->k);

    assert_true(fd >= 0);
    assert_errno(liteipc_close(c->k, -1), EBADF);
    assert_ok(liteipc_close(c->k, fd));
    assert_errno(liteipc_close(c->k, fd), EBADF);
    assert_errno(liteipc_ioctl(c->k, fd, IPC_SET_CMS, 256UL), EBADF);
}

static void basic_close_keeps_pool_and_cms(void **state)
{
    t_ctx *c = *state;
    void *pool = NULL;
    int fd = t_dev_setup(c->k, T_POOL, &pool);
    int32_t v = 0;

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, 256));
    assert_ok(liteipc_close(c->k, fd));

    fd = t_dev_open(c->k);
    assert_true(fd >= 0);
    assert_ok(get_version(c->k, fd, &v)); /* the pool is still mapped: no ENOMEM */
    assert_int_equal(v, 2);
    assert_errno(t_set_cms(c->k, fd, 256), EEXIST);               /* the CMS is still set */
    assert_map_fails(mmap_pool(c->k, fd, 4096), ENOMEM);         /* EEXIST in the driver */
    assert_ok(liteipc_close(c->k, fd));
}

static void basic_close_keeps_queued_messages(void **state)
{
    t_ctx *c = *state;
    char data[100], *p;
    IpcMsg *m = NULL;
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int tid = liteipc_self_tid(c->k);

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    t_fill(data, sizeof(data), 7);
    assert_ok(t_send(c->k, fd, (uint32_t)tid, 42, LITEIPC_FLAG_ONEWAY, data, sizeof(data)));
    assert_ok(liteipc_close(c->k, fd));

    fd = t_dev_open(c->k);
    assert_true(fd >= 0);
    assert_ok(t_recv(c->k, fd, &m));
    assert_int_equal(m->code, 42);
    assert_int_equal(m->dataSz, sizeof(data));
    p = m->data;
    assert_true(t_check_fill(p, sizeof(data), 7));
    assert_ok(t_free(c->k, fd, m));
    assert_ok(liteipc_close(c->k, fd));
}

static void basic_close_keeps_ipc_thread(void **state)
{
    t_ctx *c = *state;
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int tid = liteipc_self_tid(c->k);

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, 256));
    assert_int_equal(t_set_ipc_thread(c->k, fd), tid);
    assert_ok(liteipc_close(c->k, fd));
    fd = t_dev_open(c->k);
    assert_true(fd >= 0);
    assert_errno(t_set_ipc_thread(c->k, fd), EINVAL);
    assert_ok(liteipc_close(c->k, fd));
}

/* ---- mmap ----------------------------------------------------------------------------------- */

static void basic_mmap_accepts_only_prot_read(void **state)
{
    t_ctx *c = *state;
    int fd = t_dev_open(c->k);
    void *p;

    assert_true(fd >= 0);
    assert_map_fails(liteipc_mmap(c->k, NULL, 4096, PROT_NONE, MAP_PRIVATE, fd, 0), ENOMEM);
    assert_map_fails(liteipc_mmap(c->k, NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0),
                     ENOMEM);
    assert_map_fails(liteipc_mmap(c->k, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0),
                     ENOMEM);
    assert_map_fails(liteipc_mmap(c->k, NULL, 4096, PROT_WRITE, MAP_PRIVATE, fd, 0), ENOMEM);
    p = liteipc_mmap(c->k, NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    assert_ok(liteipc_close(c->k, fd));
}

static void basic_mmap_accepts_only_map_private(void **state)
{
    t_ctx *c = *state;
    int fd = t_dev_open(c->k);

    assert_true(fd >= 0);
    /* the driver refuses MAP_SHARED (user sees ENOMEM) */
    assert_map_fails(liteipc_mmap(c->k, NULL, 4096, PROT_READ, MAP_SHARED, fd, 0), ENOMEM);
    /* the generic layer wants exactly one of SHARED / PRIVATE */
    assert_map_fails(liteipc_mmap(c->k, NULL, 4096, PROT_READ, MAP_SHARED | MAP_PRIVATE, fd, 0),
                     EINVAL);
    assert_map_fails(liteipc_mmap(c->k, NULL, 4096, PROT_READ, 0, fd, 0), EINVAL);
    assert_ptr_not_equal(mmap_pool(c->k, fd, 4096), MAP_FAILED);
    assert_ok(liteipc_close(c->k, fd));
}

static void basic_mmap_length_rules(void **state)
{
    t_ctx *c = *state;
    int fd = t_dev_open(c->k);

    assert_true(fd >= 0);
    assert_map_fails(mmap_pool(c->k, fd, 0), EINVAL);
    assert_map_fails(mmap_pool(c->k, fd, (size_t)-1), EINVAL); /* rounds up to 0 */
    assert_map_fails(mmap_pool(c->k, fd, LITE_IPC_POOL_MAX_SIZE + 1), ENOMEM);
    assert_map_fails(mmap_pool(c->k, fd, 2 * LITE_IPC_POOL_MAX_SIZE), ENOMEM);
#if SIZE_MAX > UINT32_MAX
    /* the user address space of a 64-bit process (64 TiB): the generic layer's EINVAL */
    assert_map_fails(mmap_pool(c->k, fd, (size_t)1 << 46), ENOMEM);
    assert_map_fails(mmap_pool(c->k, fd, ((size_t)1 << 46) + 1), EINVAL);
#else
    /* a 32-bit process addresses all 4 GiB: a length that does not wrap is the driver's */
    assert_map_fails(mmap_pool(c->k, fd, SIZE_MAX - 4095), ENOMEM);
#endif
    assert_ptr_not_equal(mmap_pool(c->k, fd, 1), MAP_FAILED); /* one page */
    assert_ok(liteipc_close(c->k, fd));
}

static void *map_max_pool(void *arg)
{
    liteipc_kernel *k = arg;
    int fd = t_dev_open(k);
    void *p;

    T_CHECK(fd >= 0);
    p = mmap_pool(k, fd, LITE_IPC_POOL_MAX_SIZE);
    T_CHECK(p != MAP_FAILED);
    if (p != MAP_FAILED) {
        volatile const char *b = p;
        (void)b[0];
        (void)b[LITE_IPC_POOL_MAX_SIZE - 1]; /* the whole length is readable */
    }
    liteipc_close(k, fd);
    return NULL;
}

static void basic_mmap_max_pool_size_accepted(void **state)
{
    t_ctx *c = *state;

    t_run_in_vproc(c->k, map_max_pool, c->k);
    t_assert_threads_ok();
}

static void basic_mmap_bad_descriptor_ebadf(void **state)
{
    t_ctx *c = *state;
    int host = open("/dev/null", O_RDONLY);
    int fd = t_dev_open(c->k);

    assert_true(host >= 0 && fd >= 0);
    assert_map_fails(mmap_pool(c->k, -1, 4096), EBADF);
    assert_map_fails(mmap_pool(c->k, host, 4096), EBADF); /* not a device descriptor */
    close(host);
    assert_ok(liteipc_close(c->k, fd));
    assert_map_fails(mmap_pool(c->k, fd, 4096), EBADF); /* closed */
}

static void basic_mmap_write_only_descriptor_eacces(void **state)
{
    t_ctx *c = *state;
    int wfd = liteipc_open(c->k, LITEIPC_DRIVER, O_WRONLY);
    int rfd = liteipc_open(c->k, LITEIPC_DRIVER, O_RDONLY);

    assert_true(wfd >= 0 && rfd >= 0);
    assert_map_fails(mmap_pool(c->k, wfd, 4096), EACCES);
    assert_ptr_not_equal(mmap_pool(c->k, rfd, 4096), MAP_FAILED);
    assert_ok(liteipc_close(c->k, wfd));
    assert_ok(liteipc_close(c->k, rfd));
}

static void basic_mmap_once_per_process_keeps_pool(void **state)
{
    t_ctx *c = *state;
    int fd = t_dev_open(c->k);
    int32_t v = 0;

    assert_true(fd >= 0);
    assert_ptr_not_equal(mmap_pool(c->k, fd, T_POOL), MAP_FAILED);
    assert_map_fails(mmap_pool(c->k, fd, T_POOL), ENOMEM);  /* EEXIST in the driver */
    assert_map_fails(mmap_pool(c->k, fd, 4096), ENOMEM);    /* whatever the size */
    /* a bad mmap after the good one must not make the kernel forget the pool (Q2, fixed) */
    assert_map_fails(liteipc_mmap(c->k, NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0),
                     ENOMEM);
    assert_ok(get_version(c->k, fd, &v));
    assert_ok(t_set_cms(c->k, fd, 256));
    assert_ok(t_prime_task(c->k, fd)); /* messages still land in the pool */
    assert_ok(liteipc_close(c->k, fd));
}

/* ---- read / write ----------------------------------------------------------------------- */

static void basic_read_write_always_fail(void **state)
{
    t_ctx *c = *state;
    char buf[16] = {0};
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int rd = liteipc_open(c->k, LITEIPC_DRIVER, O_RDONLY);
    int wr = liteipc_open(c->k, LITEIPC_DRIVER, O_WRONLY);

    assert_true(fd >= 0 && rd >= 0 && wr >= 0);
    /* no read or write method: EBADF; the access mode forbids the direction: EACCES */
    assert_errno(liteipc_read(c->k, fd, buf, sizeof(buf)), EBADF);
    assert_errno(liteipc_write(c->k, fd, buf, sizeof(buf)), EBADF);
    assert_errno(liteipc_read(c->k, wr, buf, sizeof(buf)), EACCES);
    assert_errno(liteipc_write(c->k, rd, buf, sizeof(buf)), EACCES);
    assert_errno(liteipc_read(c->k, rd, buf, 0), EBADF);
    assert_errno(liteipc_read(c->k, -1, buf, sizeof(buf)), EBADF);
    assert_ok(liteipc_close(c->k, fd));
    assert_ok(liteipc_close(c->k, rd));
    assert_ok(liteipc_close(c->k, wr));
}

/* ---- the ioctl prelude and result matrix (§2.5) ---------------------------------------------- */

static void basic_every_command_before_mmap_enomem(void **state)
{
    t_ctx *c = *state;
    CmsCmdContent cms = {.cmd = CMS_REMOVE_HANDLE, .taskID = 0, .serviceHandle = 1};
    IpcContent content = {.flag = 0};
    IpcVersion ver = {0};
    int fd = t_dev_open(c->k);

    assert_true(fd >= 0);
    assert_errno(t_set_cms(c->k, fd, 256), ENOMEM);
    assert_errno(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, &cms), ENOMEM);
    assert_errno(t_set_ipc_thread(c->k, fd), ENOMEM);
    assert_errno(liteipc_ioctl(c->k, fd, IPC_SEND_RECV_MSG, &content), ENOMEM);
    assert_errno(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, &ver), ENOMEM);
    assert_errno(liteipc_ioctl(c->k, fd, BAD_CMD, 0UL), ENOMEM);
    /* a NULL argument is refused by the syscall layer first */
    assert_errno(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, NULL), EINVAL);
    assert_errno(liteipc_ioctl(c->k, fd, IPC_SEND_RECV_MSG, NULL), EINVAL);
    assert_errno(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, NULL), EINVAL);
    assert_ok(liteipc_close(c->k, fd));
}

static void basic_unknown_ioctl_einval(void **state)
{
    t_ctx *c = *state;
    int arg = 0;
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_errno(liteipc_ioctl(c->k, fd, BAD_CMD, 0UL), EINVAL);
    assert_errno(liteipc_ioctl(c->k, fd, _IOWR('i', 4, int), &arg), EINVAL); /* wrong size */
    assert_errno(liteipc_ioctl(c->k, fd, _IO('j', 1), 0UL), EINVAL);        /* wrong magic */
    assert_ok(t_set_cms(c->k, fd, 256));
    assert_errno(liteipc_ioctl(c->k, fd, BAD_CMD, 0UL), EINVAL);
    assert_ok(liteipc_close(c->k, fd));
}

static void basic_null_argument_einval(void **state)
{
    t_ctx *c = *state;
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    for (int round = 0; round < 2; round++) { /* before and after a CMS exists */
        assert_errno(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, NULL), EINVAL);
        assert_errno(liteipc_ioctl(c->k, fd, IPC_SEND_RECV_MSG, NULL), EINVAL);
        assert_errno(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, NULL), EINVAL);
        if (round == 0)
            assert_ok(t_set_cms(c->k, fd, 256));
    }
    assert_ok(liteipc_close(c->k, fd));
}

static void basic_before_cms_no_message_moves(void **state)
{
    t_ctx *c = *state;
    CmsCmdContent cms = {.cmd = CMS_REMOVE_HANDLE, .taskID = 0, .serviceHandle = 1};
    IpcContent empty = {.flag = 0};
    int32_t v = 0;
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int tid = liteipc_self_tid(c->k);

    assert_true(fd >= 0 && tid > 0);
    assert_errno(t_set_ipc_thread(c->k, fd), EINVAL);
    assert_errno(liteipc_ioctl(c->k, fd, IPC_SEND_RECV_MSG, &empty), EINVAL);
    assert_errno(t_send(c->k, fd, (uint32_t)tid, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EINVAL);
    assert_errno(t_send(c->k, fd, 0, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EINVAL);
    assert_errno(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, &cms), EACCES);
    assert_ok(get_version(c->k, fd, &v));
    /* once a CMS exists, the same calls work */
    assert_ok(t_set_cms(c->k, fd, 256));
    assert_ok(liteipc_ioctl(c->k, fd, IPC_SEND_RECV_MSG, &empty));
    assert_ok(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, &cms));
    assert_int_equal(t_set_ipc_thread(c->k, fd), tid);
    assert_ok(liteipc_close(c->k, fd));
}

/* ---- IPC_GET_VERSION ------------------------------------------------------------------------- */

static void basic_get_version_reports_2_0(void **state)
{
    t_ctx *c = *state;
    int32_t v = 0;
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_ok(get_version(c->k, fd, &v));
    assert_int_equal(v, DRIVER_VERSION);
    assert_int_equal(v & 0xffff, 2);         /* major in the low 16 bits */
    assert_int_equal((v >> 16) & 0xffff, 0); /* minor in the high 16 bits */
    assert_ok(liteipc_close(c->k, fd));
}

static int setup_version_3_1(void **state)
{
    liteipc_config cfg;

    liteipc_config_init(&cfg);
    cfg.driver_version = 3 | (1 << 16);
    return t_setup_with(state, &cfg);
}

static void basic_get_version_follows_config(void **state)
{
    t_ctx *c = *state;
    int32_t v = 0;
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_ok(get_version(c->k, fd, &v));
    assert_int_equal(v, 3 | (1 << 16));
    assert_ok(liteipc_close(c->k, fd));
}

/* ---- IPC_SET_CMS ---------------------------------------------------------------------------- */

static void basic_set_cms_minimum_is_device_ipcmsg_size(void **state)
{
    t_ctx *c = *state;
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_errno(t_set_cms(c->k, fd, 0), EINVAL);
    assert_errno(t_set_cms(c->k, fd, LITEIPC_DEVICE_SIZEOF_IPCMSG - 1), EINVAL);
    assert_ok(t_set_cms(c->k, fd, LITEIPC_DEVICE_SIZEOF_IPCMSG));
    /* later: the size check still comes first, then EEXIST, from the same task too */
    assert_errno(t_set_cms(c->k, fd, 0), EINVAL);
    assert_errno(t_set_cms(c->k, fd, 256), EEXIST);
    assert_ok(liteipc_close(c->k, fd));
}

static void *other_sets_cms(void *arg)
{
    liteipc_kernel *k = arg;
    CmsCmdContent cms = {.cmd = CMS_REMOVE_HANDLE, .taskID = 0, .serviceHandle = 1};
    int fd = t_dev_setup(k, T_POOL, NULL);

    T_CHECK(fd >= 0);
    T_CHECK_ERR(t_set_cms(k, fd, 256), EEXIST);
    T_CHECK_ERR(t_set_cms(k, fd, 10), EINVAL);
    T_CHECK_ERR(liteipc_ioctl(k, fd, IPC_CMS_CMD, &cms), EACCES); /* not the CMS process */
    liteipc_close(k, fd);
    return NULL;
}

static void basic_set_cms_eexist_from_other_process(void **state)
{
    t_ctx *c = *state;
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, 256));
    t_run_in_vproc(c->k, other_sets_cms, c->k);
    t_assert_threads_ok();
    assert_ok(liteipc_close(c->k, fd));
}

/* ---- IPC_SET_IPC_THREAD ------------------------------------------------------------------------ */

struct ipc_thread_arg {
    liteipc_kernel *k;
    int fd; /* -1: open and map (a virtual process) */
    int tid;
    int result, err;
};

static void *try_set_ipc_thread(void *arg)
{
    struct ipc_thread_arg *a = arg;
    int fd = a->fd >= 0 ? a->fd : t_dev_setup(a->k, T_POOL, NULL);

    T_CHECK(fd >= 0);
    a->tid = liteipc_self_tid(a->k);
    errno = 0;
    a->result = t_set_ipc_thread(a->k, fd);
    a->err = errno;
    if (a->fd < 0)
        liteipc_close(a->k, fd);
    return NULL;
}

static void basic_set_ipc_thread_once_per_process(void **state)
{
    t_ctx *c = *state;
    struct ipc_thread_arg same = {.k = c->k}, other = {.k = c->k, .fd = -1};
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int tid = liteipc_self_tid(c->k);

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, 256));
    assert_int_equal(t_set_ipc_thread(c->k, fd), tid); /* returns the caller's TID */
    assert_errno(t_set_ipc_thread(c->k, fd), EINVAL);  /* even by the same thread */

    same.fd = fd; /* another thread of the same (host) process */
    t_thread_finish(t_thread_start(try_set_ipc_thread, &same));
    assert_int_equal(same.result, -1);
    assert_int_equal(same.err, EINVAL);

    t_run_in_vproc(c->k, try_set_ipc_thread, &other); /* another process has its own */
    assert_true(other.tid > 0);
    assert_int_equal(other.result, other.tid);
    assert_int_not_equal(other.tid, tid);
    t_assert_threads_ok();
    assert_ok(liteipc_close(c->k, fd));
}

/* ---- identity -------------------------------------------------------------------------------- */

struct ident {
    liteipc_kernel *k;
    int tid, pid;
};

static void *read_identity(void *arg)
{
    struct ident *id = arg;

    id->tid = liteipc_self_tid(id->k);
    id->pid = liteipc_self_pid(id->k);
    return NULL;
}

static void basic_task_and_process_ids_are_small(void **state)
{
    t_ctx *c = *state;
    struct ident a = {.k = c->k}, b = {.k = c->k};
    liteipc_vproc *vp;
    int tid = liteipc_self_tid(c->k);
    int pid = liteipc_self_pid(c->k);

    assert_in_range(tid, 8, MAX_SERVICE_NUM - 1); /* low TIDs are kernel tasks */
    assert_in_range(pid, 3, LITEIPC_PROCESS_LIMIT - 1);
    assert_int_equal(liteipc_self_tid(c->k), tid); /* stable */

    vp = t_vproc_start(c->k, read_identity, &a);
    int vpid = liteipc_vproc_pid(vp);
    t_vproc_finish(vp);
    assert_in_range(a.tid, 8, MAX_SERVICE_NUM - 1);
    assert_int_not_equal(a.tid, tid);
    assert_int_equal(a.pid, vpid);
    assert_int_not_equal(a.pid, pid);

    t_thread_finish(t_thread_start(read_identity, &b)); /* host thread: host's process */
    assert_int_equal(b.pid, pid);
    assert_int_not_equal(b.tid, tid);
    assert_in_range(b.tid, 8, MAX_SERVICE_NUM - 1);
}

/* ---- descriptor ownership ------------------------------------------------------------------ */

struct owner {
    liteipc_kernel *k;
    int fd;
    t_latch opened, release;
    int used_after;
};

static void *fd_owner(void *arg)
{
    struct owner *o = arg;
    int fd = t_dev_setup(o->k, T_POOL, NULL);

    t_latch_set(&o->opened, fd);
    T_CHECK(fd >= 0);
    T_CHECK_OK(t_latch_wait(&o->release, NULL, T_WAIT_MS));
    o->used_after = get_version(o->k, fd, NULL); /* still works for its owner */
    liteipc_close(o->k, fd);
    return NULL;
}

static void *fd_thief(void *arg)
{
    struct owner *o = arg;
    IpcVersion ver;
    int own = t_dev_open(o->k);

    T_CHECK(own >= 0); /* this process has its own state */
    T_CHECK_ERR(liteipc_ioctl(o->k, o->fd, IPC_GET_VERSION, &ver), EBADF);
    T_CHECK_ERR(liteipc_ioctl(o->k, o->fd, IPC_SET_CMS, 256UL), EBADF);
    T_CHECK(liteipc_mmap(o->k, NULL, 4096, PROT_READ, MAP_PRIVATE, o->fd, 0) == MAP_FAILED &&
            errno == EBADF);
    T_CHECK_ERR(liteipc_close(o->k, o->fd), EBADF);
    liteipc_close(o->k, own);
    return NULL;
}

static void basic_descriptor_owned_by_opening_process(void **state)
{
    t_ctx *c = *state;
    struct owner o = {.k = c->k};
    liteipc_vproc *owner;
    IpcVersion ver;
    long fd = -1;

    t_latch_init(&o.opened);
    t_latch_init(&o.release);
    owner = t_vproc_start(c->k, fd_owner, &o);
    T_CHECK_OK(t_latch_wait(&o.opened, &fd, T_WAIT_MS));
    o.fd = (int)fd;
    if (fd >= 0) {
        t_run_in_vproc(c->k, fd_thief, &o);
        /* the host's default process does not own it either */
        T_CHECK_ERR(liteipc_ioctl(c->k, o.fd, IPC_GET_VERSION, &ver), EBADF);
    }
    t_latch_set(&o.release, 1);
    t_vproc_finish(owner);
    t_assert_threads_ok();
    assert_true(fd >= 0);
    assert_int_equal(o.used_after, 0);
    t_latch_destroy(&o.opened);
    t_latch_destroy(&o.release);
}

/* ---- IPC_CMS_CMD (§3.4) ------------------------------------------------------------------------- */

struct peer {
    liteipc_kernel *k;
    t_latch ready, done;
    int tid;
    bool prime;
};

static void *idle_peer(void *arg)
{
    struct peer *p = arg;
    int fd = t_dev_setup(p->k, T_POOL, NULL);

    T_CHECK(fd >= 0);
    p->tid = liteipc_self_tid(p->k);
    if (p->prime)
        T_CHECK_OK(t_prime_task(p->k, fd));
    t_latch_set(&p->ready, p->tid);
    T_CHECK_OK(t_latch_wait(&p->done, NULL, T_WAIT_MS));
    liteipc_close(p->k, fd);
    return NULL;
}

static void *cms_cmd_other_thread(void *arg)
{
    struct peer *p = arg;
    int fd = t_dev_open(p->k);
    uint32_t h = 0;

    /* any task of the CMS process may issue CMS commands */
    T_CHECK_OK(t_gen_handle(p->k, fd, (uint32_t)p->tid, &h));
    T_CHECK_EQ(h, p->tid);
    liteipc_close(p->k, fd);
    return NULL;
}

static void basic_cms_cmd_rules(void **state)
{
    t_ctx *c = *state;
    struct peer p = {.k = c->k, .prime = false};
    CmsCmdContent cc;
    liteipc_vproc *vp;
    uint32_t h = 0;
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, 256));
    t_latch_init(&p.ready);
    t_latch_init(&p.done);
    vp = t_vproc_start(c->k, idle_peer, &p);
    T_CHECK_OK(t_latch_wait(&p.ready, NULL, T_WAIT_MS));

    /* GEN_HANDLE: the handle is the TID; for taskID 0 it is the caller, which is the CMS */
    T_CHECK_OK(t_gen_handle(c->k, fd, (uint32_t)p.tid, &h));
    T_CHECK_EQ(h, p.tid);
    T_CHECK_ERR(t_gen_handle(c->k, fd, 0, &h), EINVAL);
    T_CHECK_ERR(t_gen_handle(c->k, fd, MAX_SERVICE_NUM - 1, &h), EINVAL); /* not alive */
    T_CHECK_ERR(t_gen_handle(c->k, fd, 3, &h), EINVAL);                   /* kernel task */
    t_thread_finish(t_thread_start(cms_cmd_other_thread, &p));

    /* REMOVE_HANDLE does nothing but check the range */
    cc = (CmsCmdContent){.cmd = CMS_REMOVE_HANDLE, .serviceHandle = (uint32_t)p.tid};
    T_CHECK_OK(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, &cc));
    cc = (CmsCmdContent){.cmd = CMS_REMOVE_HANDLE, .serviceHandle = MAX_SERVICE_NUM};
    T_CHECK_ERR(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, &cc), EINVAL);

    /* ADD_ACCESS: live taskID, handle < 128, service with IpcTaskInfo (this one has none) */
    T_CHECK_ERR(t_add_access(c->k, fd, MAX_SERVICE_NUM - 1, 0), EINVAL);
    T_CHECK_ERR(t_add_access(c->k, fd, (uint32_t)p.tid, MAX_SERVICE_NUM), EINVAL);
    T_CHECK_ERR(t_add_access(c->k, fd, (uint32_t)liteipc_self_tid(c->k), (uint32_t)p.tid),
                EINVAL);

    /* unknown sub-command */
    cc = (CmsCmdContent){.cmd = (CmsCmd)7, .taskID = (uint32_t)p.tid};
    T_CHECK_ERR(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, &cc), EINVAL);

    t_latch_set(&p.done, 1);
    t_vproc_finish(vp);
    t_assert_threads_ok();
    t_latch_destroy(&p.ready);
    t_latch_destroy(&p.done);
    assert_ok(liteipc_close(c->k, fd));
}

static void basic_cms_add_access_to_primed_service(void **state)
{
    t_ctx *c = *state;
    struct peer svc = {.k = c->k, .prime = true};
    liteipc_vproc *vp;
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int me = liteipc_self_tid(c->k);

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, 256));
    assert_ok(t_prime_task(c->k, fd)); /* the CMS task too needs an IpcTaskInfo (§3.4) */
    t_latch_init(&svc.ready);
    t_latch_init(&svc.done);
    vp = t_vproc_start(c->k, idle_peer, &svc);
    T_CHECK_OK(t_latch_wait(&svc.ready, NULL, T_WAIT_MS));
    /* once the service task has an IpcTaskInfo, a grant succeeds; handle 0 names the CMS */
    T_CHECK_OK(t_add_access(c->k, fd, (uint32_t)svc.tid, 0));
    T_CHECK_OK(t_add_access(c->k, fd, (uint32_t)me, (uint32_t)svc.tid));
    t_latch_set(&svc.done, 1);
    t_vproc_finish(vp);
    t_assert_threads_ok();
    t_latch_destroy(&svc.ready);
    t_latch_destroy(&svc.done);
    assert_ok(liteipc_close(c->k, fd));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(basic_open_accepts_any_flags),
        T(basic_open_path_must_be_the_driver),
        T(basic_open_returns_real_host_descriptor),
        T(basic_close_bad_descriptor_ebadf),
        T(basic_close_keeps_pool_and_cms),
        T(basic_close_keeps_queued_messages),
        T(basic_close_keeps_ipc_thread),
        T(basic_mmap_accepts_only_prot_read),
        T(basic_mmap_accepts_only_map_private),
        T(basic_mmap_length_rules),
        T(basic_mmap_max_pool_size_accepted),
        T(basic_mmap_bad_descriptor_ebadf),
        T(basic_mmap_write_only_descriptor_eacces),
        T(basic_mmap_once_per_process_keeps_pool),
        T(basic_read_write_always_fail),
        T(basic_every_command_before_mmap_enomem),
        T(basic_unknown_ioctl_einval),
        T(basic_null_argument_einval),
        T(basic_before_cms_no_message_moves),
        T(basic_get_version_reports_2_0),
        cmocka_unit_test_setup_teardown(basic_get_version_follows_config, setup_version_3_1,
                                        t_teardown),
        T(basic_set_cms_minimum_is_device_ipcmsg_size),
        T(basic_set_cms_eexist_from_other_process),
        T(basic_set_ipc_thread_once_per_process),
        T(basic_task_and_process_ids_are_small),
        T(basic_descriptor_owned_by_opening_process),
        T(basic_cms_cmd_rules),
        T(basic_cms_add_access_to_primed_service),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
