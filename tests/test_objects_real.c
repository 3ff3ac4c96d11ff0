/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_objects_real.c - special objects between real processes (LITEIPC_REFERENCE §5 with
 * §4.3-4.4): a child forked from the test (a simulated process of its own, §7.6) sends and
 * receives OBJ_PTR, OBJ_FD and OBJ_SVC; failing, dropped and drained messages leave the
 * receiving process's descriptor table and pool as they were, measured in that process; every
 * malformed offsets table is refused with the device's errno.
 *
 * The test thread is the ServiceManager (CMS), in the host process that also runs the broker.
 * A child reports through its exit status (0 = every check passed, otherwise the number of
 * the first failed check) and, where the parent needs values, through a pipe. Nothing sleeps:
 * the two sides hand over bytes on pipes (every read bounded by T_WAIT_MS) and the parent
 * waits for kernel events. A child arms alarm() so that it never hangs its parent.
 */
#include "child.h"
#include "ofix.h"
#include "sfix.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sanitizer.h"

/* Start a service and give the CMS access to it (CMS_GEN_HANDLE). */
static void service_up(struct world *w, t_svc *s)
{
    uint32_t h = 0;

    t_svc_start(s, w->k);
    assert_ok(t_gen_handle(w->k, w->fd, (uint32_t)s->tid, &h));
    assert_int_equal(h, s->tid);
}

static void service_down(struct world *w, t_svc *s)
{
    T_CHECK_OK(t_svc_quit(s, w->k, w->fd, false));
    t_svc_join(s);
}

/* Receive the next message of the test thread once it has been queued (never blocks for
   ever: a message that does not come within T_WAIT_MS gives -1/ETIMEDOUT). */
static int recv_soon(struct world *w, IpcMsg **m)
{
    unsigned done = t_ev_count(w->ev, LITEIPC_EV_MSG_READ, w->tid) +
                    t_ev_count(w->ev, LITEIPC_EV_DROP_ON_READ, w->tid);

    if (t_ev_wait(w->ev, LITEIPC_EV_MSG_WRITTEN, w->tid, done + 1, T_WAIT_MS) != 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    return t_recv(w->k, w->fd, m);
}

/* The next message of the test thread must be a plain one with this code. */
static void expect_plain(struct world *w, uint32_t code)
{
    IpcMsg *m = NULL;

    assert_ok(recv_soon(w, &m));
    assert_int_equal(m->code, code);
    assert_int_equal(m->spObjNum, 0);
    assert_ok(t_free(w->k, w->fd, m));
}

/* Messages written by task tid so far. */
static unsigned written_by(struct world *w, int tid)
{
    return t_ev_count_src(w->ev, LITEIPC_EV_MSG_WRITTEN, tid);
}

/* The next message must carry `nptr` OBJ_PTR buffers of these sizes; free them all. */
static void expect_ptrs(struct world *w, uint32_t code, uint32_t nptr, const uint32_t *sizes)
{
    IpcMsg *m = NULL;

    assert_ok(recv_soon(w, &m));
    assert_int_equal(m->code, code);
    assert_int_equal(m->spObjNum, nptr);
    for (uint32_t i = 0; i < nptr; i++) {
        SpecialObj s = obj_at(m, i);

        assert_int_equal(s.type, OBJ_PTR);
        assert_int_equal(s.content.ptr.buffSz, sizes[i]);
        assert_true(t_check_fill(s.content.ptr.buff, sizes[i], 3));
        assert_ok(t_free(w->k, w->fd, s.content.ptr.buff));
    }
    assert_ok(t_free(w->k, w->fd, m));
}

/* ---- counting descriptors ------------------------------------------------------------------ */

/* Descriptors of this process open on the same file as fd (fd included; both ends of a
   pipe count). */
static int copies_of(int fd)
{
    struct stat want, st;
    char path[64];
    int n = 0;

    if (fstat(fd, &want) != 0)
        return -1;
    for (int i = 0; i < 4096; i++) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", i);
        if (stat(path, &st) == 0 && st.st_ino == want.st_ino && st.st_dev == want.st_dev)
            n++;
    }
    return n;
}

/* ---- children -------------------------------------------------------------------------------- */

/*
 * A child: a simulated process with a pool of its own, its first task primed (it has an
 * IpcTaskInfo, so the CMS can grant access to it), then fn runs. Two pipes link it to the
 * parent: up (child to parent) and down (parent to child).
 */
struct kid;
typedef void (*kid_fn)(struct kid *kd);

struct kid {
    liteipc_kernel *k;
    int dev;           /* the parent's device descriptor, inherited (§7.6) */
    size_t pool_size;
    int up[2], down[2];
    kid_fn fn;
    void *arg;         /* the test's data (the child has its own copy) */
    uint32_t parent;   /* the parent's TID (the CMS task) */
    pid_t pid;         /* host PID */
    int vpid, tid;     /* simulated PID and TID of its first task */
    char *pool;        /* in the child */
};

/* Child side: write to / read from the parent; a broken pipe ends the child (90, 91). */
static void kid_put(struct kid *kd, const void *buf, size_t n)
{
    if (write(kd->up[1], buf, n) != (ssize_t)n)
        _exit(90);
}

static void kid_get(struct kid *kd, void *buf, size_t n)
{
    if (read_pipe(kd->down[0], buf, n) != 0)
        _exit(91);
}

static void kid_main(void *arg)
{
    struct kid *kd = arg;
    int ids[2];
    void *pool;

    close(kd->up[0]);
    close(kd->down[1]);
    pool = liteipc_mmap(kd->k, NULL, kd->pool_size, PROT_READ, MAP_PRIVATE, kd->dev, 0);
    CHILD_CHECK(pool != MAP_FAILED, 101);
    kd->pool = pool;
    CHILD_CHECK(t_prime_task(kd->k, kd->dev) == 0, 102);
    ids[0] = liteipc_self_pid(kd->k);
    ids[1] = liteipc_self_tid(kd->k);
    kid_put(kd, ids, sizeof(ids));
    kd->fn(kd);
    _exit(0);
}

/* Parent side: fork the child and wait until it is ready. */
static void kid_start(struct world *w, struct kid *kd, size_t pool, kid_fn fn, void *arg)
{
    int ids[2] = {-1, -1};

    kd->k = w->k;
    kd->dev = w->fd;
    kd->pool_size = pool ? pool : T_POOL;
    kd->fn = fn;
    kd->arg = arg;
    kd->parent = (uint32_t)w->tid;
    assert_ok(pipe2(kd->up, O_CLOEXEC));
    assert_ok(pipe2(kd->down, O_CLOEXEC));
    kd->pid = fork_child(kid_main, kd);
    close(kd->up[1]);
    close(kd->down[0]);
    if (read_pipe(kd->up[0], ids, sizeof(ids)) != 0) {
        kill(kd->pid, SIGKILL);
        assert_child_passed(wait_child(kd->pid));
        fail_msg("the child did not start");
    }
    kd->vpid = ids[0];
    kd->tid = ids[1];
}

/* Parent side: a byte or a struct to the child, a struct from it. */
static void kid_tell(struct kid *kd, const void *buf, size_t n)
{
    assert_int_equal(write(kd->down[1], buf, n), (ssize_t)n);
}

static void kid_go(struct kid *kd)
{
    kid_tell(kd, "g", 1);
}

static void kid_hear(struct kid *kd, void *buf, size_t n)
{
    if (read_pipe(kd->up[0], buf, n) != 0) {
        kill(kd->pid, SIGKILL);
        assert_child_passed(wait_child(kd->pid));
        fail_msg("no word from the child");
    }
}

/* Parent side: close the pipes and reap the child. Returns its wait status. */
static int kid_finish(struct kid *kd)
{
    close(kd->up[0]);
    close(kd->down[1]);
    return wait_child(kd->pid);
}

/* Child side: wait for the parent's go. */
static void kid_wait_go(struct kid *kd)
{
    char b;

    kid_get(kd, &b, 1);
}

/* ---- OBJ_PTR (§5.3) -------------------------------------------------------------------------- */

static const uint32_t ptr_sizes[] = {1, 4096, 60000};

static void child_sends_ptrs(struct kid *kd)
{
    omsg *o = malloc(sizeof(*o));

    CHILD_CHECK(o != NULL, 1);
    kid_wait_go(kd);
    for (int i = 0; i < 3; i++) {
        uint32_t n = ptr_sizes[i];
        unsigned char *buf = malloc(n);

        CHILD_CHECK(buf != NULL, 2);
        t_fill(buf, n, n);
        om_init(o, MT_REQUEST, kd->parent, n, LITEIPC_FLAG_ONEWAY, 8 + HOST_OBJ + 8);
        memcpy(o->data, "<before>", 8);
        om_put(o, 8, o_ptr(buf, n));
        memcpy(o->data + 8 + HOST_OBJ, "<after>", 8);
        CHILD_CHECK(om_send(kd->k, kd->dev, o) == 0, 10 + i);
        free(buf);
    }
    free(o);
}

/* §5.3: 1 byte, a page and 60000 bytes read from a forked child's memory arrive intact. */
static void real_ptr_from_child_arrives_intact(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;

    world_init(c, &w, LITE_IPC_POOL_MAX_SIZE, T_CMS_BIG);
    kid_start(&w, &kd, 0, child_sends_ptrs, NULL);
    grant(&w, kd.tid, w.tid);
    kid_go(&kd);
    assert_child_passed(kid_finish(&kd)); /* the copies were made while it lived */
    for (int i = 0; i < 3; i++) {
        uint32_t n = ptr_sizes[i];
        IpcMsg *m = NULL;
        SpecialObj s;

        assert_ok(recv_soon(&w, &m));
        assert_int_equal(m->code, n);
        assert_int_equal(m->taskID, kd.tid);
        assert_int_equal(m->spObjNum, 1);
        assert_memory_equal(m->data, "<before>", 8);
        assert_memory_equal((char *)m->data + 8 + HOST_OBJ, "<after>", 8);
        s = obj_at(m, 0);
        assert_int_equal(s.type, OBJ_PTR);
        assert_int_equal(s.content.ptr.buffSz, n);
        assert_true(t_inside(s.content.ptr.buff, n, w.pool, w.pool_len));
        assert_true(t_check_fill(s.content.ptr.buff, n, n));
        assert_ok(t_free(w.k, w.fd, s.content.ptr.buff));
        assert_ok(t_free(w.k, w.fd, m));
    }
    world_fini(&w);
}

static void child_receives_ptrs(struct kid *kd)
{
    for (int i = 0; i < 3; i++) {
        uint32_t n = ptr_sizes[i];
        IpcMsg *m = NULL;
        SpecialObj s;

        CHILD_CHECK(t_recv(kd->k, kd->dev, &m) == 0, 10 * i + 1);
        CHILD_CHECK(m->code == n && m->spObjNum == 1, 10 * i + 2);
        s = obj_at(m, 0);
        CHILD_CHECK(s.type == OBJ_PTR && s.content.ptr.buffSz == n, 10 * i + 3);
        CHILD_CHECK(t_inside(s.content.ptr.buff, n, kd->pool, kd->pool_size), 10 * i + 4);
        CHILD_CHECK(t_check_fill(s.content.ptr.buff, n, n), 10 * i + 5);
        /* the message and the buffer are freed apart (§4.4.5) */
        CHILD_CHECK(t_free(kd->k, kd->dev, m) == 0, 10 * i + 6);
        CHILD_ERR(t_free(kd->k, kd->dev, m), EFAULT, 10 * i + 7);
        CHILD_CHECK(t_check_fill(s.content.ptr.buff, n, n), 10 * i + 8);
        CHILD_CHECK(t_free(kd->k, kd->dev, s.content.ptr.buff) == 0, 10 * i + 9);
        CHILD_ERR(t_free(kd->k, kd->dev, s.content.ptr.buff), EFAULT, 10 * i + 10);
        kid_put(kd, "n", 1); /* only now the next: its allocations could reuse these blocks */
    }
}

/* §5.3, §4.4.5: buffers arrive intact in a forked child, which frees each apart from its
   message. */
static void real_ptr_in_child_freed_apart_from_message(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    omsg *o = malloc(sizeof(*o));

    assert_non_null(o);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    kid_start(&w, &kd, LITE_IPC_POOL_MAX_SIZE, child_receives_ptrs, NULL);
    grant(&w, w.tid, kd.tid);
    for (int i = 0; i < 3; i++) {
        uint32_t n = ptr_sizes[i];
        unsigned char *buf = malloc(n);
        char b;

        assert_non_null(buf);
        t_fill(buf, n, n);
        om_init(o, MT_REQUEST, (uint32_t)kd.tid, n, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
        om_put(o, 0, o_ptr(buf, n));
        assert_ok(om_send(w.k, w.fd, o));
        free(buf);
        kid_hear(&kd, &b, 1);
    }
    free(o);
    assert_child_passed(kid_finish(&kd));
    world_fini(&w);
}

struct limit_report {
    int rc[6], err[6];
};

static void child_cms_limit(struct kid *kd)
{
    static unsigned char buf[300];
    struct limit_report rep;
    omsg *o = malloc(sizeof(*o));
    int i = 0;

    CHILD_CHECK(o != NULL, 1);
    memset(&rep, 0, sizeof(rep));
    kid_wait_go(kd);
    t_fill(buf, sizeof(buf), 3);
    for (uint32_t n = PTR_FIT1; n <= PTR_FIT1 + 1; n++, i++) { /* LP64: 64 + 24 + 4 = 92 */
        om_init(o, MT_REQUEST, 0, (uint32_t)i + 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
        om_put(o, 0, o_ptr(buf, n));
        errno = 0;
        rep.rc[i] = om_send(kd->k, kd->dev, o);
        rep.err[i] = errno;
    }
    for (uint32_t n = PTR_FIT2; n <= PTR_FIT2 + 1; n++, i++) { /* 64 + 48 + 8, sizes summed */
        om_init(o, MT_REQUEST, 0, (uint32_t)i + 1, LITEIPC_FLAG_ONEWAY, 2 * HOST_OBJ);
        om_put(o, 0, o_ptr(buf, 100));
        om_put(o, HOST_OBJ, o_ptr(buf, n));
        errno = 0;
        rep.rc[i] = om_send(kd->k, kd->dev, o);
        rep.err[i] = errno;
    }
    om_init(o, MT_REQUEST, kd->parent, 5, LITEIPC_FLAG_ONEWAY, HOST_OBJ); /* Q19 */
    om_put(o, 0, o_ptr(buf, PTR_FIT1 + 1));
    errno = 0;
    rep.rc[4] = om_send(kd->k, kd->dev, o);
    rep.err[4] = errno;
    errno = 0;
    rep.rc[5] = t_send(kd->k, kd->dev, 0, CODE_MARK, LITEIPC_FLAG_ONEWAY, NULL, 0);
    rep.err[5] = errno;
    free(o);
    kid_put(kd, &rep, sizeof(rep));
}

/* §4.3.5: the CMS limit (maxMsgSize 256) of a child's handle-0 requests counts buffSz. */
static void real_ptr_cms_limit_counts_buffers(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    struct limit_report rep;
    const uint32_t fit1[] = {PTR_FIT1}, fit2[] = {100, PTR_FIT2}, over1[] = {PTR_FIT1 + 1};
    const int want[6] = {0, EINVAL, 0, EINVAL, 0, 0};

    world_init(c, &w, T_POOL, CMS_LIMIT);
    kid_start(&w, &kd, 0, child_cms_limit, NULL);
    grant(&w, kd.tid, w.tid);
    kid_go(&kd);
    kid_hear(&kd, &rep, sizeof(rep));
    assert_child_passed(kid_finish(&kd));
    for (int i = 0; i < 6; i++)
        if (want[i] ? rep.rc[i] != -1 || rep.err[i] != want[i] : rep.rc[i] != 0)
            fail_msg("send %d: got %d errno %s, expected %s", i, rep.rc[i],
                     liteipc_errno_name(rep.err[i]), want[i] ? liteipc_errno_name(want[i]) : "0");
    expect_ptrs(&w, 1, 1, fit1);
    expect_ptrs(&w, 3, 2, fit2);
    expect_ptrs(&w, 5, 1, over1);
    expect_plain(&w, CODE_MARK);
    world_fini(&w);
}

/* ---- OBJ_FD (§5.2) --------------------------------------------------------------------------- */

static void child_sends_pipe(struct kid *kd)
{
    omsg *o = malloc(sizeof(*o));
    int p[2];

    CHILD_CHECK(o != NULL, 1);
    kid_wait_go(kd);
    CHILD_CHECK(pipe2(p, O_CLOEXEC) == 0, 2); /* made after the fork: only the child has it */
    CHILD_CHECK(write(p[1], "from the child|", 15) == 15, 3);
    om_init(o, MT_REQUEST, kd->parent, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_fd(p[0]));
    CHILD_CHECK(om_send(kd->k, kd->dev, o) == 0, 4);
    close(p[0]);
    CHILD_CHECK(write(p[1], "after", 5) == 5, 5);
    close(p[1]);
    free(o);
}

/* §5.2: the parent reads, through its own descriptor, a pipe only the child had. */
static void real_fd_from_child_read_by_parent(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    IpcMsg *m = NULL;
    SpecialObj s;
    char text[64] = {0};
    int nfd;

    world_init(c, &w, T_POOL, T_CMS_BIG);
    kid_start(&w, &kd, 0, child_sends_pipe, NULL);
    grant(&w, kd.tid, w.tid);
    kid_go(&kd);
    assert_child_passed(kid_finish(&kd));
    assert_ok(recv_soon(&w, &m));
    assert_int_equal(m->spObjNum, 1);
    s = obj_at(m, 0);
    assert_ok(t_free(w.k, w.fd, m));
    nfd = (int)s.content.fd;
    assert_int_equal(s.type, OBJ_FD);
    assert_true(nfd >= 3);
    assert_int_equal(fcntl(nfd, F_GETFD), 0);
    assert_int_equal(read_all(nfd, text, sizeof(text) - 1), 20);
    assert_memory_equal(text, "from the child|after", 20); /* then EOF: the child closed it */
    assert_ok(close(nfd));
    world_fini(&w);
}

struct file_report {
    int fd, fdflags, flflags;
    long pos;
    char got[4];
    int same_file;
};

struct file_id {
    dev_t dev;
    ino_t ino;
};

static void child_receives_file(struct kid *kd)
{
    struct file_report rep;
    struct file_id id;
    struct stat st;
    IpcMsg *m = NULL;
    SpecialObj s;
    char b;

    memset(&rep, 0, sizeof(rep));
    kid_get(kd, &id, sizeof(id));
    CHILD_CHECK(t_recv(kd->k, kd->dev, &m) == 0, 1);
    CHILD_CHECK(m->spObjNum == 1, 2);
    s = obj_at(m, 0);
    CHILD_CHECK(s.type == OBJ_FD, 3);
    CHILD_CHECK(t_free(kd->k, kd->dev, m) == 0, 4);
    rep.fd = (int)s.content.fd;
    rep.fdflags = fcntl(rep.fd, F_GETFD);
    rep.flflags = fcntl(rep.fd, F_GETFL);
    rep.same_file = fstat(rep.fd, &st) == 0 && st.st_dev == id.dev && st.st_ino == id.ino;
    rep.pos = (long)lseek(rep.fd, 0, SEEK_CUR);
    CHILD_CHECK(read(rep.fd, rep.got, 3) == 3, 5);
    kid_put(kd, &rep, sizeof(rep));
    kid_get(kd, &b, 1); /* the parent moved the offset */
    CHILD_CHECK(lseek(rep.fd, 0, SEEK_CUR) == 1, 6);
    CHILD_CHECK(close(rep.fd) == 0, 7);
}

/* §5.2: a forked child gets the parent's open file: the same file, one offset shared by the
   two processes both ways, the status flags, and no FD_CLOEXEC. */
static void real_fd_file_from_parent_shares_offset_in_child(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    struct file_report rep;
    struct file_id id;
    struct stat st;
    omsg *o = malloc(sizeof(*o));
    int file;

    assert_non_null(o);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    kid_start(&w, &kd, 0, child_receives_file, NULL);
    grant(&w, w.tid, kd.tid);
    file = temp_file(); /* after the fork: the child has no copy */
    assert_true(file >= 0);
    assert_int_equal(write(file, "0123456789", 10), 10);
    assert_int_equal(lseek(file, 4, SEEK_SET), 4);
    assert_ok(fcntl(file, F_SETFL, O_APPEND));
    assert_ok(fstat(file, &st));
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    kid_tell(&kd, &id, sizeof(id));
    om_init(o, MT_REQUEST, (uint32_t)kd.tid, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_fd(file));
    assert_ok(om_send(w.k, w.fd, o));
    free(o);
    kid_hear(&kd, &rep, sizeof(rep));
    assert_int_equal(lseek(file, 0, SEEK_CUR), 7); /* the child's read moved ours */
    assert_int_equal(lseek(file, 1, SEEK_SET), 1);
    kid_go(&kd);
    assert_child_passed(kid_finish(&kd));
    assert_ok(close(file));
    world_fini(&w);
    assert_true(rep.fd >= 3);
    assert_int_equal(rep.fdflags, 0); /* no FD_CLOEXEC, though ours has it */
    assert_true(rep.flflags >= 0 && (rep.flflags & O_APPEND));
    assert_true(rep.same_file);
    assert_int_equal(rep.pos, 4);
    assert_memory_equal(rep.got, "456", 3);
}

struct lowest_report {
    int expect, got;
};

static void child_lowest(struct kid *kd)
{
    struct lowest_report rep;
    IpcMsg *m = NULL;
    int hole[3];

    for (int i = 0; i < 3; i++)
        hole[i] = dup(2);
    close(hole[1]); /* a hole among the low numbers */
    rep.expect = lowest_free_fd();
    kid_put(kd, "r", 1);
    CHILD_CHECK(t_recv(kd->k, kd->dev, &m) == 0, 1);
    CHILD_CHECK(m->spObjNum == 1, 2);
    rep.got = (int)obj_at(m, 0).content.fd;
    CHILD_CHECK(t_free(kd->k, kd->dev, m) == 0, 3);
    CHILD_CHECK(close(rep.got) == 0, 4);
    kid_put(kd, &rep, sizeof(rep));
}

/* §5.2: the descriptor a forked child gets is its lowest free number >= 3. */
static void real_fd_in_child_gets_lowest_free_number(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    struct lowest_report rep;
    omsg *o = malloc(sizeof(*o));
    char b;
    int p[2];

    assert_non_null(o);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    kid_start(&w, &kd, 0, child_lowest, NULL);
    grant(&w, w.tid, kd.tid);
    kid_hear(&kd, &b, 1);
    assert_ok(pipe(p));
    om_init(o, MT_REQUEST, (uint32_t)kd.tid, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_fd(p[1]));
    assert_ok(om_send(w.k, w.fd, o));
    free(o);
    kid_hear(&kd, &rep, sizeof(rep));
    assert_child_passed(kid_finish(&kd));
    close(p[0]);
    close(p[1]);
    world_fini(&w);
    assert_true(rep.expect >= 3);
    assert_int_equal(rep.got, rep.expect);
}

static void child_sends_any_fd(struct kid *kd)
{
    omsg *o = malloc(sizeof(*o));
    int p[2];

    CHILD_CHECK(o != NULL, 1);
    CHILD_CHECK(pipe(p) == 0, 2);
    kid_wait_go(kd);
    om_init(o, MT_REQUEST, kd->parent, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_fd(p[1]));
    CHILD_CHECK(om_send(kd->k, kd->dev, o) == 0, 3);
    free(o);
    kid_put(kd, "s", 1);
}

/* §5.2: a descriptor from a forked child is the parent's lowest free number >= 3. */
static void real_fd_from_child_gets_lowest_free_number(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    IpcMsg *m = NULL;
    int hole[3], expect, got;
    char b;

    world_init(c, &w, T_POOL, T_CMS_BIG);
    kid_start(&w, &kd, 0, child_sends_any_fd, NULL);
    grant(&w, kd.tid, w.tid);
    for (int i = 0; i < 3; i++)
        hole[i] = dup(2);
    close(hole[1]); /* a hole among the low numbers */
    expect = lowest_free_fd();
    kid_go(&kd);
    kid_hear(&kd, &b, 1); /* sent: our table must not change before */
    assert_child_passed(kid_finish(&kd));
    assert_ok(recv_soon(&w, &m));
    assert_int_equal(m->spObjNum, 1);
    got = (int)obj_at(m, 0).content.fd;
    assert_ok(t_free(w.k, w.fd, m));
    assert_ok(close(got));
    close(hole[0]);
    close(hole[2]);
    world_fini(&w);
    assert_true(expect >= 3);
    assert_int_equal(got, expect);
}

static void child_pipe_to_sibling(struct kid *kd)
{
    omsg *o = malloc(sizeof(*o));
    uint32_t to = 0;
    int p[2];

    CHILD_CHECK(o != NULL, 1);
    kid_get(kd, &to, sizeof(to));
    CHILD_CHECK(pipe(p) == 0, 2);
    CHILD_CHECK(write(p[1], "a to b", 6) == 6, 3);
    om_init(o, MT_REQUEST, to, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_fd(p[0]));
    CHILD_CHECK(om_send(kd->k, kd->dev, o) == 0, 4);
    close(p[0]);
    close(p[1]);
    free(o);
}

static void child_reads_sibling_pipe(struct kid *kd)
{
    IpcMsg *m = NULL;
    char text[16] = {0};
    int nfd;

    CHILD_CHECK(t_recv(kd->k, kd->dev, &m) == 0, 1);
    CHILD_CHECK(m->spObjNum == 1 && obj_at(m, 0).type == OBJ_FD, 2);
    nfd = (int)obj_at(m, 0).content.fd;
    CHILD_CHECK(t_free(kd->k, kd->dev, m) == 0, 3);
    CHILD_CHECK(nfd >= 3 && fcntl(nfd, F_GETFD) == 0, 4);
    CHILD_CHECK(read_all(nfd, text, sizeof(text) - 1) == 6, 5); /* then EOF */
    CHILD_CHECK(memcmp(text, "a to b", 6) == 0, 6);
    CHILD_CHECK(close(nfd) == 0, 7);
}

/* §5.2: a descriptor travels between two forked children, neither of them the broker's
   host. */
static void real_fd_between_two_children(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid a, b;
    uint32_t to;
    int sa, sb;

    world_init(c, &w, T_POOL, T_CMS_BIG);
    kid_start(&w, &b, 0, child_reads_sibling_pipe, NULL);
    kid_start(&w, &a, 0, child_pipe_to_sibling, NULL);
    grant(&w, a.tid, b.tid);
    to = (uint32_t)b.tid;
    kid_tell(&a, &to, sizeof(to));
    sa = kid_finish(&a);
    sb = kid_finish(&b);
    world_fini(&w);
    assert_child_passed(sa);
    assert_child_passed(sb);
}

struct badfd_report {
    int rc[4], err[4];
};

static void child_sends_bad_fds(struct kid *kd)
{
    static unsigned char buf[64];
    struct badfd_report rep;
    omsg *o = malloc(sizeof(*o));
    int theirs = -1;
    char b;

    CHILD_CHECK(o != NULL, 1);
    kid_get(kd, &theirs, sizeof(theirs));
    /* open in the parent (and so in the broker's host), not here */
    CHILD_CHECK(fcntl(theirs, F_GETFD) == -1 && errno == EBADF, 2);
    for (int i = 0; i < 3; i++) {
        om_init(o, MT_REQUEST, kd->parent, 1, LITEIPC_FLAG_ONEWAY, 2 * HOST_OBJ);
        if (i == 0) {
            om_put(o, 0, o_fd(theirs));
        } else if (i == 1) {
            om_put(o, 0, o_fd(-1));
        } else {
            om_put(o, 0, o_ptr(buf, sizeof(buf)));
            om_put(o, HOST_OBJ, o_fd(theirs));
        }
        errno = 0;
        rep.rc[i] = om_send(kd->k, kd->dev, o);
        rep.err[i] = errno;
    }
    errno = 0;
    rep.rc[3] = t_send(kd->k, kd->dev, kd->parent, CODE_MARK, LITEIPC_FLAG_ONEWAY, NULL, 0);
    rep.err[3] = errno;
    free(o);
    kid_put(kd, &rep, sizeof(rep));
    kid_get(kd, &b, 1);
}

/* §5.2: a number the sending child does not have (though its parent does) is EBADF, and
   nothing arrives. */
static void real_fd_invalid_in_sender_ebadf(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    struct badfd_report rep;
    long pool0, pool1;
    int fds0, fds1, p[2], theirs;

    world_init(c, &w, SMALL_POOL, T_CMS_BIG);
    kid_start(&w, &kd, 0, child_sends_bad_fds, NULL);
    grant(&w, kd.tid, w.tid);
    assert_ok(pipe(p));
    theirs = fcntl(p[0], F_DUPFD_CLOEXEC, 700);
    assert_true(theirs >= 700);
    pool0 = pool_largest(w.k, w.fd);
    fds0 = t_fd_count();
    kid_tell(&kd, &theirs, sizeof(theirs));
    kid_hear(&kd, &rep, sizeof(rep));
    fds1 = t_fd_count();
    expect_plain(&w, CODE_MARK);
    pool1 = pool_largest(w.k, w.fd);
    kid_go(&kd);
    assert_child_passed(kid_finish(&kd));
    close(theirs);
    close(p[0]);
    close(p[1]);
    world_fini(&w);
    for (int i = 0; i < 3; i++)
        if (rep.rc[i] != -1 || rep.err[i] != EBADF)
            fail_msg("send %d: got %d errno %s, expected EBADF", i, rep.rc[i],
                     liteipc_errno_name(rep.err[i]));
    assert_int_equal(rep.rc[3], 0);
    assert_int_equal(fds1, fds0);
    assert_true(pool0 > 0 && pool0 < IPC_MSG_DATA_SZ_MAX);
    assert_int_equal(pool1, pool0);
}

/* ---- OBJ_SVC (§5.4) -------------------------------------------------------------------------- */

struct svc_report {
    int probe_rc, probe_err;
    SpecialObj got;
    int call_rc, call_err;
    int echo_ok;
};

static void child_given_service(struct kid *kd)
{
    uint32_t svc = *(const uint32_t *)kd->arg;
    struct svc_report rep;
    IpcMsg *m = NULL, *r = NULL;

    memset(&rep, 0, sizeof(rep));
    errno = 0;
    rep.probe_rc = t_call(kd->k, kd->dev, svc, T_CODE_ECHO, "x", 1, &r);
    rep.probe_err = errno;
    CHILD_CHECK(rep.probe_rc != 0 || t_free(kd->k, kd->dev, r) == 0, 1);
    kid_put(kd, "p", 1);
    CHILD_CHECK(t_recv(kd->k, kd->dev, &m) == 0, 2);
    CHILD_CHECK(m->spObjNum == 1, 3);
    rep.got = obj_at(m, 0);
    CHILD_CHECK(t_free(kd->k, kd->dev, m) == 0, 4);
    errno = 0;
    rep.call_rc = t_call(kd->k, kd->dev, rep.got.content.svc.handle, T_CODE_ECHO, "hello", 5, &r);
    rep.call_err = errno;
    if (rep.call_rc == 0) {
        rep.echo_ok = r->type == MT_REPLY && r->dataSz == 5 && memcmp(r->data, "hello", 5) == 0;
        CHILD_CHECK(t_free(kd->k, kd->dev, r) == 0, 5);
    }
    kid_put(kd, &rep, sizeof(rep));
}

/* §5.4: a forked child given a service by the CMS calls it without asking the CMS. */
static void real_svc_child_calls_service_without_cms(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    struct svc_report rep;
    t_svc svc = {0};
    uint32_t h;
    omsg *o = malloc(sizeof(*o));
    liteipc_event evs[64];
    size_t nev;
    char b;

    assert_non_null(o);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    service_up(&w, &svc);
    h = (uint32_t)svc.tid;
    kid_start(&w, &kd, 0, child_given_service, &h);
    grant(&w, w.tid, kd.tid);
    kid_hear(&kd, &b, 1); /* it has found the service out of reach */
    om_init(o, MT_REQUEST, (uint32_t)kd.tid, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_svc(h, 5, 0xc00c));
    assert_ok(om_send(w.k, w.fd, o));
    free(o);
    kid_hear(&kd, &rep, sizeof(rep));
    assert_child_passed(kid_finish(&kd));
    nev = t_ev_collect(c->ev, LITEIPC_EV_MSG_WRITTEN, kd.tid, evs, 64);
    service_down(&w, &svc);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(rep.probe_rc, -1);
    assert_int_equal(rep.probe_err, EACCES);
    assert_int_equal(rep.got.type, OBJ_SVC);
    assert_int_equal(rep.got.content.svc.handle, h);
    assert_int_equal(rep.got.content.svc.token, 5);
    assert_int_equal(rep.got.content.svc.cookie, 0xc00c);
    assert_int_equal(rep.call_rc, 0);
    assert_true(rep.echo_ok);
    assert_int_equal(svc.requests, 1);
    for (size_t i = 0; i < nev; i++) /* it never wrote to the CMS */
        assert_false(evs[i].src_tid == kd.tid && evs[i].dst_tid == w.tid);
}

struct noaccess_report {
    int rc[3], err[3];
};

static void child_passes_unowned_service(struct kid *kd)
{
    uint32_t svc = *(const uint32_t *)kd->arg;
    static unsigned char buf[32];
    struct noaccess_report rep;
    omsg *o = malloc(sizeof(*o));

    CHILD_CHECK(o != NULL, 1);
    kid_wait_go(kd);
    om_init(o, MT_REQUEST, kd->parent, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_svc(svc, 0, 0));
    errno = 0;
    rep.rc[0] = om_send(kd->k, kd->dev, o);
    rep.err[0] = errno;
    om_init(o, MT_REQUEST, kd->parent, 2, LITEIPC_FLAG_ONEWAY, 2 * HOST_OBJ);
    om_put(o, 0, o_ptr(buf, sizeof(buf)));
    om_put(o, HOST_OBJ, o_svc(svc, 0, 0));
    errno = 0;
    rep.rc[1] = om_send(kd->k, kd->dev, o);
    rep.err[1] = errno;
    errno = 0;
    rep.rc[2] = t_send(kd->k, kd->dev, kd->parent, CODE_MARK, LITEIPC_FLAG_ONEWAY, NULL, 0);
    rep.err[2] = errno;
    free(o);
    kid_put(kd, &rep, sizeof(rep));
}

/* §5.4 step 3: a child passing a service it has no access to gets EACCES; nothing arrives
   and the receiver gains no access. */
static void real_svc_pass_without_access_eacces(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    struct noaccess_report rep;
    t_svc svc = {0};
    uint32_t h;

    world_init(c, &w, T_POOL, T_CMS_BIG);
    t_svc_start(&svc, w.k); /* nobody is granted access to it */
    h = (uint32_t)svc.tid;
    kid_start(&w, &kd, 0, child_passes_unowned_service, &h);
    grant(&w, kd.tid, w.tid);
    kid_go(&kd);
    kid_hear(&kd, &rep, sizeof(rep));
    assert_child_passed(kid_finish(&kd));
    expect_plain(&w, CODE_MARK);
    assert_errno(t_send(w.k, w.fd, h, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EACCES);
    grant(&w, w.tid, svc.tid); /* to stop it */
    service_down(&w, &svc);
    world_fini(&w);
    t_assert_threads_ok();
    for (int i = 0; i < 2; i++)
        if (rep.rc[i] != -1 || rep.err[i] != EACCES)
            fail_msg("send %d: got %d errno %s, expected EACCES", i, rep.rc[i],
                     liteipc_errno_name(rep.err[i]));
    assert_int_equal(rep.rc[2], 0);
}

static void child_offers_callback(struct kid *kd)
{
    omsg *o = malloc(sizeof(*o));
    IpcMsg *m = NULL;

    CHILD_CHECK(o != NULL, 1);
    kid_wait_go(kd);
    om_init(o, MT_REQUEST, kd->parent, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_svc(NO_HANDLE, 1, 0x77));
    CHILD_CHECK(om_send(kd->k, kd->dev, o) == 0, 2);
    free(o);
    CHILD_CHECK(t_recv(kd->k, kd->dev, &m) == 0, 3);
    CHILD_CHECK(m->type == MT_REQUEST && m->code == CODE_CB && m->taskID == kd->parent, 4);
    CHILD_CHECK(m->dataSz == 4 && memcmp(m->data, "ping", 4) == 0, 5);
    CHILD_CHECK(t_reply(kd->k, kd->dev, m, "pong", 4) == 0, 6);
}

/* §5.4 step 1: a forked child hands itself out anonymously (handle -1, token 1) and the
   receiver calls back into it. */
static void real_svc_anonymous_callback_into_child(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    IpcMsg *m = NULL, *r = NULL;
    SpecialObj s;

    world_init(c, &w, T_POOL, T_CMS_BIG);
    kid_start(&w, &kd, 0, child_offers_callback, NULL);
    grant(&w, kd.tid, w.tid);
    assert_errno(t_send(w.k, w.fd, (uint32_t)kd.tid, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EACCES);
    kid_go(&kd);
    assert_ok(recv_soon(&w, &m));
    assert_int_equal(m->spObjNum, 1);
    s = obj_at(m, 0);
    assert_ok(t_free(w.k, w.fd, m));
    assert_int_equal(s.type, OBJ_SVC);
    assert_int_equal(s.content.svc.handle, kd.tid);
    assert_int_equal(s.content.svc.token, 1);
    assert_int_equal(s.content.svc.cookie, 0x77);
    assert_ok(t_call(w.k, w.fd, s.content.svc.handle, CODE_CB, "ping", 4, &r));
    assert_int_equal(r->type, MT_REPLY);
    assert_int_equal(r->dataSz, 4);
    assert_memory_equal(r->data, "pong", 4);
    assert_ok(t_free(w.k, w.fd, r));
    assert_child_passed(kid_finish(&kd));
    world_fini(&w);
}

struct anon_report {
    int rc[4], err[4];
};

static void child_bad_anonymous(struct kid *kd)
{
    static unsigned char buf[32];
    const uint32_t tokens[3] = {0, 2, 0xFFFFFFFFu};
    struct anon_report rep;
    omsg *o = malloc(sizeof(*o));

    CHILD_CHECK(o != NULL, 1);
    kid_wait_go(kd);
    for (int i = 0; i < 3; i++) {
        om_init(o, MT_REQUEST, kd->parent, 1, LITEIPC_FLAG_ONEWAY, 2 * HOST_OBJ);
        om_put(o, 0, o_ptr(buf, sizeof(buf)));
        om_put(o, HOST_OBJ, o_svc(NO_HANDLE, tokens[i], 0));
        errno = 0;
        rep.rc[i] = om_send(kd->k, kd->dev, o);
        rep.err[i] = errno;
    }
    errno = 0;
    rep.rc[3] = t_send(kd->k, kd->dev, kd->parent, CODE_MARK, LITEIPC_FLAG_ONEWAY, NULL, 0);
    rep.err[3] = errno;
    free(o);
    kid_put(kd, &rep, sizeof(rep));
    kid_wait_go(kd); /* alive while the parent probes */
}

/* §5.4 step 1.1: handle -1 with a token other than 1 is EINVAL and grants nothing. */
static void real_svc_anonymous_token_not_one_einval(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    struct anon_report rep;

    world_init(c, &w, T_POOL, T_CMS_BIG);
    kid_start(&w, &kd, 0, child_bad_anonymous, NULL);
    grant(&w, kd.tid, w.tid);
    kid_go(&kd);
    kid_hear(&kd, &rep, sizeof(rep));
    expect_plain(&w, CODE_MARK);
    assert_errno(t_send(w.k, w.fd, (uint32_t)kd.tid, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EACCES);
    kid_go(&kd);
    assert_child_passed(kid_finish(&kd));
    world_fini(&w);
    for (int i = 0; i < 3; i++)
        if (rep.rc[i] != -1 || rep.err[i] != EINVAL)
            fail_msg("token case %d: got %d errno %s, expected EINVAL", i, rep.rc[i],
                     liteipc_errno_name(rep.err[i]));
    assert_int_equal(rep.rc[3], 0);
}

/* ---- rollback of failing messages, measured (§5.5) ------------------------------------------ */

struct measure {
    int fds;
    long pool;
};

/* Child side: its descriptors and the largest message its pool takes (-1 if anything was
   queued to it). */
static struct measure child_measure(struct kid *kd)
{
    struct measure m;

    m.fds = t_fd_count();
    m.pool = pool_largest(kd->k, kd->dev);
    return m;
}

static void child_measured_receiver(struct kid *kd)
{
    struct measure m[2];

    m[0] = child_measure(kd);
    kid_put(kd, &m[0], sizeof(m[0]));
    kid_wait_go(kd);
    m[1] = child_measure(kd);
    kid_put(kd, &m[1], sizeof(m[1]));
}

static void assert_measures_equal(const struct measure m[2])
{
    assert_true(m[0].pool > 0 && m[0].pool < IPC_MSG_DATA_SZ_MAX); /* a measure of a 4 KiB pool */
    assert_int_equal(m[1].pool, m[0].pool);
    assert_int_equal(m[1].fds, m[0].fds);
}

/* The parent sends FLOOD_N failing messages to a child with a 4 KiB pool. */
static void run_flood_to_child(t_ctx *c, int kind)
{
    struct world w;
    struct kid kd;
    struct measure m[2];
    struct flood_src *src = calloc(1, sizeof(*src));
    t_svc svc = {0};
    omsg *o = malloc(sizeof(*o));
    unsigned wrong = 0, written0, written1, drops0, drops1;
    int fds0, fds1, p[2];

    assert_non_null(src);
    assert_non_null(o);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    t_svc_start(&svc, w.k); /* a live task the parent has no access to */
    assert_ok(pipe(p));
    kid_start(&w, &kd, SMALL_POOL, child_measured_receiver, NULL);
    grant(&w, w.tid, kd.tid);
    src->good_fd = p[0];
    src->bad_fd = unused_fd();
    src->self = (uint32_t)w.tid;
    src->no_access = (uint32_t)svc.tid;
    kid_hear(&kd, &m[0], sizeof(m[0]));
    fds0 = t_fd_count();
    written0 = t_ev_count(c->ev, LITEIPC_EV_MSG_WRITTEN, kd.tid);
    drops0 = t_ev_count_src(c->ev, LITEIPC_EV_DROP_ON_WRITE, w.tid);
    for (unsigned i = 0; i < FLOOD_N; i++) {
        int want = flood_build(o, src, kind, i, (uint32_t)kd.tid);

        errno = 0;
        if (om_send(w.k, w.fd, o) != -1 || errno != want)
            wrong++;
    }
    fds1 = t_fd_count(); /* the broker's host: it held the files on their way */
    written1 = t_ev_count(c->ev, LITEIPC_EV_MSG_WRITTEN, kd.tid);
    drops1 = t_ev_count_src(c->ev, LITEIPC_EV_DROP_ON_WRITE, w.tid);
    kid_go(&kd);
    kid_hear(&kd, &m[1], sizeof(m[1]));
    assert_child_passed(kid_finish(&kd));
    grant(&w, w.tid, svc.tid);
    service_down(&w, &svc);
    close(p[0]);
    close(p[1]);
    free(o);
    free(src);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(wrong, 0);
    assert_measures_equal(m);
    assert_int_equal(fds1, fds0);
    assert_int_equal(written1, written0); /* nothing was delivered */
    assert_int_equal(drops1 - drops0, FLOOD_N);
}

/* §5.1/§5.5: good objects then a bad type, to a forked child, FLOOD_N times. */
static void real_flood_bad_type_leaves_child_unchanged(void **state)
{
    run_flood_to_child(*state, FK_BAD_TYPE);
}

/* §5.1/§5.5: good objects then a bad offset, to a forked child. */
static void real_flood_bad_offset_leaves_child_unchanged(void **state)
{
    run_flood_to_child(*state, FK_BAD_OFFSET);
}

/* §5.2-5.5: good objects then a failing one (EBADF, EACCES, bad buffers and handles). */
static void real_flood_failing_object_leaves_child_unchanged(void **state)
{
    run_flood_to_child(*state, FK_FAILING_OBJECT);
}

struct flood_report {
    unsigned wrong, first_wrong;
    int rc, err, want;
};

static void child_floods_parent(struct kid *kd)
{
    uint32_t no_access = *(const uint32_t *)kd->arg;
    struct flood_src *src = calloc(1, sizeof(*src));
    omsg *o = malloc(sizeof(*o));
    struct flood_report rep;
    int p[2];

    CHILD_CHECK(src && o, 1);
    memset(&rep, 0, sizeof(rep));
    CHILD_CHECK(pipe(p) == 0, 2);
    src->good_fd = p[0];
    src->bad_fd = unused_fd();
    src->self = (uint32_t)liteipc_self_tid(kd->k);
    src->no_access = no_access;
    kid_wait_go(kd);
    for (unsigned i = 0; i < FLOOD_N; i++) {
        int want = flood_build(o, src, (int)(i % 3), i / 3, kd->parent);
        int rc;

        errno = 0;
        rc = om_send(kd->k, kd->dev, o);
        if ((rc != -1 || errno != want) && rep.wrong++ == 0) {
            rep.first_wrong = i;
            rep.rc = rc;
            rep.err = errno;
            rep.want = want;
        }
    }
    kid_put(kd, &rep, sizeof(rep));
    kid_wait_go(kd); /* alive until the parent has measured */
}

/* §5.5 the other way: a forked child sends the host's process FLOOD_N failing messages (the
   three kinds in turn); its descriptors and pool are as before. */
static void real_flood_from_child_leaves_parent_unchanged(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    struct flood_report rep;
    t_svc svc = {0};
    uint32_t h;
    long pool0, pool1;
    int fds0, fds1;
    unsigned written0, written1;

    world_init(c, &w, SMALL_POOL, T_CMS_BIG);
    t_svc_start(&svc, w.k);
    h = (uint32_t)svc.tid;
    kid_start(&w, &kd, 0, child_floods_parent, &h);
    grant(&w, kd.tid, w.tid);
    pool0 = pool_largest(w.k, w.fd);
    fds0 = t_fd_count();
    written0 = written_by(&w, kd.tid);
    kid_go(&kd);
    kid_hear(&kd, &rep, sizeof(rep));
    fds1 = t_fd_count();
    pool1 = pool_largest(w.k, w.fd);
    written1 = written_by(&w, kd.tid);
    kid_go(&kd);
    assert_child_passed(kid_finish(&kd));
    grant(&w, w.tid, svc.tid);
    service_down(&w, &svc);
    world_fini(&w);
    t_assert_threads_ok();
    if (rep.wrong)
        fail_msg("%u of %u sends wrong; first #%u: got %d errno %s, expected %s", rep.wrong,
                 FLOOD_N, rep.first_wrong, rep.rc, liteipc_errno_name(rep.err),
                 liteipc_errno_name(rep.want));
    assert_true(pool0 > 0 && pool0 < IPC_MSG_DATA_SZ_MAX);
    assert_int_equal(pool1, pool0);
    assert_int_equal(fds1, fds0);
    assert_int_equal(written1, written0);
}

/* ---- rollback of dropped and drained messages, measured (§4.4.3, §7.2) ---------------------- */

struct stray_report {
    struct measure m[2];
    unsigned calls_ok;
    int call_err;
};

static void child_gets_strays(struct kid *kd)
{
    struct stray_report rep;

    memset(&rep, 0, sizeof(rep));
    kid_wait_go(kd);
    rep.m[0] = child_measure(kd);
    for (unsigned i = 0; i < DROP_N; i++) {
        IpcMsg *r = NULL;

        CHILD_CHECK(t_send(kd->k, kd->dev, kd->parent, CODE_R1, LITEIPC_FLAG_DEFAULT, NULL, 0) ==
                        0,
                    1);
        errno = 0;
        if (t_call(kd->k, kd->dev, kd->parent, CODE_R2, NULL, 0, &r) != 0) {
            rep.call_err = errno;
            break;
        }
        if (r->code == CODE_R2 && r->spObjNum == 0)
            rep.calls_ok++;
        CHILD_CHECK(t_free(kd->k, kd->dev, r) == 0, 2);
    }
    rep.m[1] = child_measure(kd);
    kid_put(kd, &rep, sizeof(rep));
    kid_wait_go(kd);
}

/* §4.4.3: replies carrying an OBJ_FD and an OBJ_PTR, dropped as strays by a forked child's
   synchronous calls, leave its descriptors and pool as before, DROP_N times. */
static void real_dropped_stray_replies_leave_child_unchanged(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    struct stray_report rep;
    static unsigned char buf[100];
    omsg *o = malloc(sizeof(*o));
    unsigned drops0;
    int fds0, fds1, p[2];

    assert_non_null(o);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    assert_ok(pipe(p));
    kid_start(&w, &kd, SMALL_POOL, child_gets_strays, NULL);
    grant(&w, kd.tid, w.tid);
    fds0 = t_fd_count();
    drops0 = t_ev_count(c->ev, LITEIPC_EV_DROP_ON_READ, kd.tid);
    kid_go(&kd);
    for (unsigned i = 0; i < DROP_N; i++) {
        IpcMsg *r1 = NULL, *r2 = NULL;

        assert_ok(recv_soon(&w, &r1));
        assert_ok(recv_soon(&w, &r2));
        assert_int_equal(r1->code, CODE_R1);
        assert_int_equal(r2->code, CODE_R2);
        om_init(o, MT_REPLY, 0, CODE_R1, 0, 2 * HOST_OBJ);
        om_put(o, 0, o_fd(p[0]));
        om_put(o, HOST_OBJ, o_ptr(buf, sizeof(buf)));
        assert_ok(om_reply(w.k, w.fd, o, r1)); /* accepted: it reaches the child's queue */
        assert_ok(t_reply(w.k, w.fd, r2, NULL, 0));
    }
    kid_hear(&kd, &rep, sizeof(rep));
    fds1 = t_fd_count();
    kid_go(&kd);
    assert_child_passed(kid_finish(&kd));
    close(p[0]);
    close(p[1]);
    free(o);
    world_fini(&w);
    assert_int_equal(rep.call_err, 0);
    assert_int_equal(rep.calls_ok, DROP_N);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_DROP_ON_READ, kd.tid) - drops0, DROP_N);
    assert_measures_equal(rep.m);
    assert_int_equal(fds1, fds0);
}

static void *child_second_task(void *arg)
{
    struct kid *kd = arg;
    int tid = liteipc_self_tid(kd->k);
    char b;

    if (t_prime_task(kd->k, kd->dev) != 0)
        tid = -1;
    kid_put(kd, &tid, sizeof(tid));
    kid_get(kd, &b, 1); /* then it ends, with its queue full */
    return NULL;
}

static void child_thread_dies_with_queue(struct kid *kd)
{
    struct measure m[2];
    pthread_t th;

    m[0] = child_measure(kd);
    CHILD_CHECK(pthread_create(&th, NULL, child_second_task, kd) == 0, 1);
    CHILD_CHECK(pthread_join(th, NULL) == 0, 2); /* its task has ended (§7.2) */
    m[1] = child_measure(kd);
    kid_put(kd, m, sizeof(m));
}

/* Send DRAIN_N messages, each with an OBJ_FD and an OBJ_PTR, to task `to`. */
static void send_drain_batch(struct world *w, uint32_t to, int fd)
{
    static unsigned char buf[64];
    omsg *o = malloc(sizeof(*o));

    assert_non_null(o);
    for (unsigned i = 0; i < DRAIN_N; i++) {
        om_init(o, MT_REQUEST, to, 1, LITEIPC_FLAG_ONEWAY, 2 * HOST_OBJ);
        om_put(o, 0, o_fd(fd));
        om_put(o, HOST_OBJ, o_ptr(buf, sizeof(buf)));
        if (om_send(w->k, w->fd, o) != 0) {
            free(o);
            fail_msg("send %u: errno %d (%s)", i, errno, liteipc_errno_name(errno));
        }
    }
    free(o);
}

/* §7.2/§5.5: a thread of a forked child dies with messages carrying objects queued to it:
   the child's descriptors and pool are as before, and no copy of the file is left anywhere
   in the broker's host. */
static void real_drained_at_thread_death_leave_child_unchanged(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    struct measure m[2];
    int x = -1, copies0, copies1, p[2];

    if (UNDER_TSAN)
        skip(); /* see UNDER_TSAN */
    world_init(c, &w, T_POOL, T_CMS_BIG);
    kid_start(&w, &kd, SMALL_POOL, child_thread_dies_with_queue, NULL);
    kid_hear(&kd, &x, sizeof(x));
    assert_true(x > 0);
    grant(&w, w.tid, x);
    assert_ok(pipe(p)); /* after the fork: copies of it exist only where the kernel put them */
    copies0 = copies_of(p[0]);
    send_drain_batch(&w, (uint32_t)x, p[0]);
    kid_go(&kd);
    assert_ok(t_ev_wait_src(c->ev, LITEIPC_EV_TASK_DEATH, x, 1, T_WAIT_MS));
    copies1 = copies_of(p[0]);
    kid_hear(&kd, m, sizeof(m));
    assert_child_passed(kid_finish(&kd));
    close(p[0]);
    close(p[1]);
    world_fini(&w);
    assert_measures_equal(m);
    assert_int_equal(copies1, copies0);
}

static void child_dies_with_queue(struct kid *kd)
{
    kid_wait_go(kd);
}

/* §7.2/§7.3: a forked child exits with messages carrying objects queued: every copy of the
   file made for it is closed. */
static void real_drained_at_process_death_close_copies(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct kid kd;
    int copies0, copies1, p[2];

    world_init(c, &w, T_POOL, T_CMS_BIG);
    kid_start(&w, &kd, SMALL_POOL, child_dies_with_queue, NULL);
    grant(&w, w.tid, kd.tid);
    assert_ok(pipe(p));
    copies0 = copies_of(p[0]);
    send_drain_batch(&w, (uint32_t)kd.tid, p[0]);
    kid_go(&kd);
    assert_child_passed(kid_finish(&kd));
    assert_ok(t_ev_wait_src(c->ev, LITEIPC_EV_TASK_DEATH, kd.tid, 1, T_WAIT_MS));
    copies1 = copies_of(p[0]);
    close(p[0]);
    close(p[1]);
    world_fini(&w);
    assert_int_equal(copies0, 2); /* the two ends of the pipe */
    assert_int_equal(copies1, copies0);
}

/* ---- malformed offsets tables (§4.3.1, §5.1) ---------------------------------------------- */

struct mal_report {
    unsigned bad, good;
    unsigned wrong, first_wrong;
    int wrong_rc, wrong_err, wrong_h0;
    int mark_rc;
};

/* Every variant to the parent by its TID and through handle 0, then a marker. */
static void child_sends_malformed(struct kid *kd)
{
    int kind = *(const int *)kd->arg;
    struct mal_report rep;
    omsg *o = malloc(sizeof(*o));
    int r;

    CHILD_CHECK(o != NULL, 1);
    memset(&rep, 0, sizeof(rep));
    kid_wait_go(kd);
    for (unsigned v = 0; (r = mal_build(o, kind, v, 0, (uint32_t)liteipc_self_tid(kd->k))) !=
                         MAL_END;
         v++) {
        for (int h0 = 0; h0 < 2; h0++) {
            int rc, e;

            o->m.target.handle = h0 ? 0 : kd->parent;
            o->m.code = r == MAL_GOOD ? 0x600u + 2 * v + (unsigned)h0 : 0x500u + v;
            errno = 0;
            rc = om_send(kd->k, kd->dev, o);
            e = errno;
            if (r == MAL_BAD ? rc == -1 && e == EINVAL : rc == 0) {
                if (r == MAL_BAD)
                    rep.bad++;
                else
                    rep.good++;
            } else if (rep.wrong++ == 0) {
                rep.first_wrong = v;
                rep.wrong_rc = rc;
                rep.wrong_err = e;
                rep.wrong_h0 = h0;
            }
        }
    }
    rep.mark_rc = t_send(kd->k, kd->dev, kd->parent, CODE_MARK, LITEIPC_FLAG_ONEWAY, NULL, 0);
    free(o);
    kid_put(kd, &rep, sizeof(rep));
}

static void run_malformed(t_ctx *c, int kind)
{
    struct world w;
    struct kid kd;
    struct mal_report rep;
    long pool0, pool1;

    world_init(c, &w, kind == MAL_TOO_MANY ? T_POOL : SMALL_POOL, T_CMS_BIG);
    pool0 = pool_largest(w.k, w.fd);
    kid_start(&w, &kd, 0, child_sends_malformed, &kind);
    grant(&w, kd.tid, w.tid);
    kid_go(&kd);
    kid_hear(&kd, &rep, sizeof(rep));
    assert_child_passed(kid_finish(&kd));
    if (rep.wrong)
        fail_msg("variant %u%s: got %d errno %s", rep.first_wrong,
                 rep.wrong_h0 ? " (handle 0)" : "", rep.wrong_rc,
                 liteipc_errno_name(rep.wrong_err));
    assert_int_equal(rep.mark_rc, 0);
    assert_true(rep.bad >= 2);
    for (unsigned i = 0; i < rep.good; i++) {
        IpcMsg *m = NULL;

        assert_ok(recv_soon(&w, &m));
        assert_int_equal(m->code & 0xF00u, 0x600u);
        assert_int_equal(m->code & 1u, i & 1u);
        assert_ok(t_free(w.k, w.fd, m));
    }
    expect_plain(&w, CODE_MARK);
    pool1 = pool_largest(w.k, w.fd);
    world_fini(&w);
    assert_int_equal(rep.good, 2);
    assert_true(pool0 > 0 && (kind == MAL_TOO_MANY || pool0 < IPC_MSG_DATA_SZ_MAX));
    assert_int_equal(pool1, pool0);
}

/* §5.1: an offset beyond dataSz - 24; dataSz - 24 itself is accepted. */
static void real_malformed_offset_past_end_einval(void **state)
{
    run_malformed(*state, MAL_PAST_END);
}

/* §5.1: objects that overlap. */
static void real_malformed_overlapping_offsets_einval(void **state)
{
    run_malformed(*state, MAL_OVERLAP);
}

/* §5.1: offsets that decrease or repeat. */
static void real_malformed_out_of_order_offsets_einval(void **state)
{
    run_malformed(*state, MAL_ORDER);
}

/* §4.3.1: spObjNum over 409; 273 objects (all that fit) pass. */
static void real_malformed_too_many_objects_einval(void **state)
{
    run_malformed(*state, MAL_TOO_MANY);
}

/* §4.3.1: dataSz < 16 * spObjNum, and data too short for one host object. */
static void real_malformed_data_too_short_einval(void **state)
{
    run_malformed(*state, MAL_SHORT_DATA);
}

/* §4.3.1: NULL offsets with spObjNum > 0, NULL data with dataSz > 0. */
static void real_malformed_null_pointers_einval(void **state)
{
    run_malformed(*state, MAL_NULL);
}

/* §5.1: an object type other than 0, 1, 2. */
static void real_malformed_bad_type_einval(void **state)
{
    run_malformed(*state, MAL_TYPE);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(real_ptr_from_child_arrives_intact),
        T(real_ptr_in_child_freed_apart_from_message),
        T(real_ptr_cms_limit_counts_buffers),
        T(real_fd_from_child_read_by_parent),
        T(real_fd_file_from_parent_shares_offset_in_child),
        T(real_fd_in_child_gets_lowest_free_number),
        T(real_fd_from_child_gets_lowest_free_number),
        T(real_fd_between_two_children),
        T(real_fd_invalid_in_sender_ebadf),
        T(real_svc_child_calls_service_without_cms),
        T(real_svc_pass_without_access_eacces),
        T(real_svc_anonymous_callback_into_child),
        T(real_svc_anonymous_token_not_one_einval),
        T(real_flood_bad_type_leaves_child_unchanged),
        T(real_flood_bad_offset_leaves_child_unchanged),
        T(real_flood_failing_object_leaves_child_unchanged),
        T(real_flood_from_child_leaves_parent_unchanged),
        T(real_dropped_stray_replies_leave_child_unchanged),
        T(real_drained_at_thread_death_leave_child_unchanged),
        T(real_drained_at_process_death_close_copies),
        T(real_malformed_offset_past_end_einval),
        T(real_malformed_overlapping_offsets_einval),
        T(real_malformed_out_of_order_offsets_einval),
        T(real_malformed_too_many_objects_einval),
        T(real_malformed_data_too_short_einval),
        T(real_malformed_null_pointers_einval),
        T(real_malformed_bad_type_einval),
    };

    return cmocka_run_group_tests_name("objects_real", tests, NULL, NULL);
}
