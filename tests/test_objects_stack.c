/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_objects_stack.c - special objects through the whole stack (LITEIPC_REFERENCE §5 with
 * §4.3-4.4): OBJ_PTR, OBJ_FD and OBJ_SVC between virtual processes and host threads; the
 * rollback of messages that fail, are dropped by the receive path or are drained at task death,
 * measured in the receiver (its descriptor table and its pool); every malformed offsets table
 * refused with the device's errno.
 *
 * Unless a test says otherwise the test thread is the ServiceManager (CMS), in the host's
 * default process, and senders and receivers are virtual processes (t_actor). Virtual
 * processes share the host's descriptor table, so the receiver's descriptor table is the
 * host's, counted in /proc/self/fd. A process's pool is measured by the largest message it can
 * still take (found by sending itself probes): a 4 KiB pool whose every block was given back
 * takes exactly the same largest message as before.
 */
#include "ofix.h"
#include "sfix.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CODE_HOLD 0x686fu  /* a call the holder answers only when told */

/* A primed actor in a new virtual process (pool 0: T_POOL), released later by t_actor_go. */
static void actor_up(struct world *w, t_actor *a, t_actor_fn body, void *user, size_t pool)
{
    memset(a, 0, sizeof(*a));
    a->body = body;
    a->user = user;
    a->pool_size = pool;
    a->prime = true;
    t_actor_start(a, w->k);
    assert_true(a->tid > 0);
}

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

/* Release a receiver from its loop (the CMS was granted access to it). */
static void quit(struct world *w, int tid)
{
    (void)t_send(w->k, w->fd, (uint32_t)tid, T_CODE_QUIT, LITEIPC_FLAG_ONEWAY, NULL, 0);
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

/* ---- a receiver that hands each message to a check, until QUIT ----------------------------- */

struct rx;
typedef void (*rx_check_fn)(t_actor *a, struct rx *r, IpcMsg *m); /* frees m */

struct rx {
    rx_check_fn check;
    void *ctx;
    unsigned got;
};

static void rx_body(t_actor *a)
{
    struct rx *r = a->user;

    for (;;) {
        IpcMsg *m = NULL;

        if (t_recv(a->k, a->fd, &m) != 0) {
            t_fail_record(__FILE__, __LINE__, "receive: errno %d", errno);
            return;
        }
        if (m->code == T_CODE_QUIT) {
            T_CHECK_OK(t_free(a->k, a->fd, m));
            return;
        }
        r->got++;
        r->check(a, r, m);
    }
}

/* ---- OBJ_PTR (§5.3) -------------------------------------------------------------------------- */

static const uint32_t ptr_sizes[] = {1, 4096, 60000};

struct ptr_job {
    uint32_t to;
    int rc[3], err[3];
};

/* Each size as one OBJ_PTR between plain bytes; the source is freed right after the send. */
static void ptr_sender_body(t_actor *a)
{
    struct ptr_job *j = a->user;
    omsg *o = malloc(sizeof(*o));

    T_CHECK(o != NULL);
    for (int i = 0; o && i < 3; i++) {
        uint32_t n = ptr_sizes[i];
        unsigned char *buf = malloc(n);

        T_CHECK(buf != NULL);
        if (!buf)
            break;
        t_fill(buf, n, n);
        om_init(o, MT_REQUEST, j->to, n, LITEIPC_FLAG_ONEWAY, 8 + HOST_OBJ + 8);
        memcpy(o->data, "<before>", 8);
        om_put(o, 8, o_ptr(buf, n));
        memcpy(o->data + 8 + HOST_OBJ, "<after>", 8);
        errno = 0;
        j->rc[i] = om_send(a->k, a->fd, o);
        j->err[i] = errno;
        memset(buf, 0, n);
        free(buf);
    }
    free(o);
}

static void ptr_check(t_actor *a, struct rx *r, IpcMsg *m)
{
    uint32_t n = m->code;
    SpecialObj s;

    (void)r;
    T_CHECK_EQ(m->spObjNum, 1);
    T_CHECK_EQ(m->dataSz, 8 + HOST_OBJ + 8);
    if (m->spObjNum != 1 || m->dataSz != 8 + HOST_OBJ + 8) {
        T_CHECK_OK(t_free(a->k, a->fd, m));
        return;
    }
    s = obj_at(m, 0);
    T_CHECK(memcmp(m->data, "<before>", 8) == 0);
    T_CHECK(memcmp((char *)m->data + 8 + HOST_OBJ, "<after>", 8) == 0);
    T_CHECK_EQ(s.type, OBJ_PTR);
    T_CHECK_EQ(s.content.ptr.buffSz, n);
    T_CHECK(t_inside(s.content.ptr.buff, n, a->pool, a->pool_len));
    T_CHECK(t_check_fill(s.content.ptr.buff, n, n));
    T_CHECK_OK(t_free(a->k, a->fd, s.content.ptr.buff));
    T_CHECK_OK(t_free(a->k, a->fd, m));
}

/* §5.3: 1 byte, a page and 60000 bytes arrive intact in the receiving virtual process. */
static void objects_ptr_bytes_arrive_intact(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor rx, tx;
    struct rx r = {.check = ptr_check};
    struct ptr_job j;

    memset(&j, 0, sizeof(j));
    world_init(c, &w, T_POOL, T_CMS_BIG);
    actor_up(&w, &rx, rx_body, &r, LITE_IPC_POOL_MAX_SIZE);
    j.to = (uint32_t)rx.tid;
    actor_up(&w, &tx, ptr_sender_body, &j, 0);
    grant(&w, tx.tid, rx.tid);
    grant(&w, w.tid, rx.tid);
    t_actor_go(&rx);
    t_actor_go(&tx);
    t_actor_join(&tx);
    quit(&w, rx.tid);
    t_actor_join(&rx);
    world_fini(&w);
    t_assert_threads_ok();
    for (int i = 0; i < 3; i++)
        if (j.rc[i] != 0)
            fail_msg("send of %u bytes: errno %d (%s)", ptr_sizes[i], j.err[i],
                     liteipc_errno_name(j.err[i]));
    assert_int_equal(r.got, 3);
}

struct one_ptr {
    uint32_t to, size;
    int rc, err;
};

static void one_ptr_body(t_actor *a)
{
    struct one_ptr *p = a->user;
    unsigned char *buf = malloc(p->size);
    omsg *o = malloc(sizeof(*o));

    T_CHECK(buf && o);
    if (buf && o) {
        t_fill(buf, p->size, 7);
        om_init(o, MT_REQUEST, p->to, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
        om_put(o, 0, o_ptr(buf, p->size));
        errno = 0;
        p->rc = om_send(a->k, a->fd, o);
        p->err = errno;
    }
    free(o);
    free(buf);
}

/* §4.4.5: the buffer is the receiver's apart from the message: freeing the message leaves it,
   BUFF_FREE of the buffer gives the pool back whole. */
static void objects_ptr_freed_apart_from_message(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor tx;
    struct one_ptr p = {.size = 1000};
    long before, with_buffer, after;
    IpcMsg *m = NULL;
    SpecialObj s;

    world_init(c, &w, SMALL_POOL, T_CMS_BIG);
    before = pool_largest(w.k, w.fd);
    p.to = (uint32_t)w.tid;
    actor_up(&w, &tx, one_ptr_body, &p, 0);
    grant(&w, tx.tid, w.tid);
    t_actor_join(&tx);
    assert_ok(p.rc);
    assert_ok(recv_soon(&w, &m));
    assert_int_equal(m->spObjNum, 1);
    s = obj_at(m, 0);
    assert_int_equal(s.type, OBJ_PTR);
    assert_true(t_inside(s.content.ptr.buff, 1000, w.pool, w.pool_len));
    assert_ok(t_free(w.k, w.fd, m));
    assert_errno(t_free(w.k, w.fd, m), EFAULT);
    assert_true(t_check_fill(s.content.ptr.buff, 1000, 7)); /* still the receiver's */
    with_buffer = pool_largest(w.k, w.fd);
    assert_ok(t_free(w.k, w.fd, s.content.ptr.buff));
    assert_errno(t_free(w.k, w.fd, s.content.ptr.buff), EFAULT);
    after = pool_largest(w.k, w.fd);
    world_fini(&w);
    t_assert_threads_ok();
    assert_true(before > 0 && before < IPC_MSG_DATA_SZ_MAX);
    assert_true(with_buffer >= 0 && with_buffer < before);
    assert_int_equal(after, before);
}

struct cms_limit_job {
    uint32_t cms_tid;
    int rc[6], err[6];
};

/* Requests to handle 0 of a CMS with maxMsgSize 256 (64 + dataSz + 4n + every buffSz). */
static void cms_limit_body(t_actor *a)
{
    struct cms_limit_job *j = a->user;
    static unsigned char buf[300];
    omsg *o = malloc(sizeof(*o));
    int i = 0;

    T_CHECK(o != NULL);
    if (!o)
        return;
    t_fill(buf, sizeof(buf), 3);
    /* one object: 64 + 24 + 4 = 92 on LP64, so 164 bytes of buffer fit and 165 do not */
    for (uint32_t n = PTR_FIT1; n <= PTR_FIT1 + 1; n++, i++) {
        om_init(o, MT_REQUEST, 0, (uint32_t)i + 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
        om_put(o, 0, o_ptr(buf, n));
        errno = 0;
        j->rc[i] = om_send(a->k, a->fd, o);
        j->err[i] = errno;
    }
    /* two objects: 64 + 48 + 8 = 120; the sizes are summed: 100 + 36 fit, 100 + 37 do not */
    for (uint32_t n = PTR_FIT2; n <= PTR_FIT2 + 1; n++, i++) {
        om_init(o, MT_REQUEST, 0, (uint32_t)i + 1, LITEIPC_FLAG_ONEWAY, 2 * HOST_OBJ);
        om_put(o, 0, o_ptr(buf, 100));
        om_put(o, HOST_OBJ, o_ptr(buf, n));
        errno = 0;
        j->rc[i] = om_send(a->k, a->fd, o);
        j->err[i] = errno;
    }
    /* Q19: naming the CMS by its TID skips the limit */
    om_init(o, MT_REQUEST, j->cms_tid, 5, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_ptr(buf, PTR_FIT1 + 1));
    errno = 0;
    j->rc[4] = om_send(a->k, a->fd, o);
    j->err[4] = errno;
    errno = 0;
    j->rc[5] = t_send(a->k, a->fd, 0, CODE_MARK, LITEIPC_FLAG_ONEWAY, NULL, 0);
    j->err[5] = errno;
    free(o);
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

/* §4.3.5: the CMS size limit of handle-0 requests counts the OBJ_PTR sizes. */
static void objects_ptr_cms_limit_counts_buffers(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor tx;
    struct cms_limit_job j;
    const uint32_t fit1[] = {PTR_FIT1}, fit2[] = {100, PTR_FIT2}, over1[] = {PTR_FIT1 + 1};

    memset(&j, 0, sizeof(j));
    world_init(c, &w, T_POOL, CMS_LIMIT);
    j.cms_tid = (uint32_t)w.tid;
    actor_up(&w, &tx, cms_limit_body, &j, 0);
    grant(&w, tx.tid, w.tid);
    t_actor_join(&tx);
    assert_int_equal(j.rc[0], 0);
    assert_int_equal(j.rc[1], -1);
    assert_int_equal(j.err[1], EINVAL);
    assert_int_equal(j.rc[2], 0);
    assert_int_equal(j.rc[3], -1);
    assert_int_equal(j.err[3], EINVAL);
    assert_int_equal(j.rc[4], 0);
    assert_int_equal(j.rc[5], 0);
    /* what was refused never arrived */
    expect_ptrs(&w, 1, 1, fit1);
    expect_ptrs(&w, 3, 2, fit2);
    expect_ptrs(&w, 5, 1, over1);
    expect_plain(&w, CODE_MARK);
    world_fini(&w);
    t_assert_threads_ok();
}

struct bad_ptr_job {
    uint32_t to;
    int rc[5], err[5];
};

static void bad_ptr_body(t_actor *a)
{
    struct bad_ptr_job *j = a->user;
    static unsigned char big[2 * SMALL_POOL];
    omsg *o = malloc(sizeof(*o));
    const SpecialObj objs[4] = {
        o_ptr(NULL, 16),               /* EINVAL */
        o_ptr(big, 0),                 /* EINVAL */
        o_ptr(big, sizeof(big)),       /* larger than the receiver's pool: EINVAL (Q14) */
        o_ptr((void *)(uintptr_t)8, 16), /* unreadable: EFAULT (Q12, DEVIATIONS) */
    };

    T_CHECK(o != NULL);
    if (!o)
        return;
    for (int i = 0; i < 4; i++) {
        om_init(o, MT_REQUEST, j->to, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
        om_put(o, 0, objs[i]);
        errno = 0;
        j->rc[i] = om_send(a->k, a->fd, o);
        j->err[i] = errno;
    }
    errno = 0;
    j->rc[4] = t_send(a->k, a->fd, j->to, CODE_MARK, LITEIPC_FLAG_ONEWAY, NULL, 0);
    j->err[4] = errno;
    free(o);
}

/* §5.3 steps 1-4: a NULL or empty buffer, one that does not fit the receiver's pool, and one
   that cannot be read are refused, and the receiver's pool is as before. */
static void objects_ptr_bad_buffer_refused(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor tx;
    struct bad_ptr_job j;
    const int want[4] = {EINVAL, EINVAL, EINVAL, EFAULT};
    long before, after;

    memset(&j, 0, sizeof(j));
    world_init(c, &w, SMALL_POOL, T_CMS_BIG);
    before = pool_largest(w.k, w.fd);
    j.to = (uint32_t)w.tid;
    actor_up(&w, &tx, bad_ptr_body, &j, 0);
    grant(&w, tx.tid, w.tid);
    t_actor_join(&tx);
    expect_plain(&w, CODE_MARK);
    after = pool_largest(w.k, w.fd);
    world_fini(&w);
    t_assert_threads_ok();
    for (int i = 0; i < 4; i++)
        if (j.rc[i] != -1 || j.err[i] != want[i])
            fail_msg("object %d: got %d errno %s, expected %s", i, j.rc[i],
                     liteipc_errno_name(j.err[i]),
                     liteipc_errno_name(want[i]));
    assert_int_equal(j.rc[4], 0);
    assert_true(before > 0);
    assert_int_equal(after, before);
}

/* ---- OBJ_FD (§5.2) --------------------------------------------------------------------------- */

struct pipe_job {
    uint32_t to;
    int rc, err;
    int fd_seen; /* the receiver's number */
    int cloexec;
    char text[64];
    ssize_t len;
};

/* Send the read end of a fresh pipe (O_CLOEXEC), then close it and write more. */
static void pipe_sender_body(t_actor *a)
{
    struct pipe_job *j = a->user;
    omsg *o = malloc(sizeof(*o));
    int p[2];

    T_CHECK(o != NULL);
    if (!o || pipe2(p, O_CLOEXEC) != 0) {
        free(o);
        j->rc = -2;
        return;
    }
    T_CHECK_EQ(write(p[1], "before|", 7), 7);
    om_init(o, MT_REQUEST, j->to, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_fd(p[0]));
    errno = 0;
    j->rc = om_send(a->k, a->fd, o);
    j->err = errno;
    close(p[0]);
    T_CHECK_EQ(write(p[1], "after", 5), 5);
    close(p[1]);
    free(o);
}

static void pipe_check(t_actor *a, struct rx *r, IpcMsg *m)
{
    struct pipe_job *j = r->ctx;
    SpecialObj s;

    T_CHECK_EQ(m->spObjNum, 1);
    if (m->spObjNum == 1) {
        s = obj_at(m, 0);
        T_CHECK_EQ(s.type, OBJ_FD);
        j->fd_seen = (int)s.content.fd;
        j->cloexec = fcntl(j->fd_seen, F_GETFD);
        j->len = read_all(j->fd_seen, j->text, sizeof(j->text) - 1);
        T_CHECK_OK(close(j->fd_seen));
    }
    T_CHECK_OK(t_free(a->k, a->fd, m));
}

/* §5.2: the receiving virtual process reads the sender's pipe through its own descriptor. */
static void objects_fd_pipe_read_by_receiver(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor rx, tx;
    struct pipe_job j;
    struct rx r = {.check = pipe_check, .ctx = &j};

    memset(&j, 0, sizeof(j));
    world_init(c, &w, T_POOL, T_CMS_BIG);
    actor_up(&w, &rx, rx_body, &r, 0);
    j.to = (uint32_t)rx.tid;
    actor_up(&w, &tx, pipe_sender_body, &j, 0);
    grant(&w, tx.tid, rx.tid);
    grant(&w, w.tid, rx.tid);
    t_actor_go(&rx);
    t_actor_go(&tx);
    t_actor_join(&tx);
    quit(&w, rx.tid);
    t_actor_join(&rx);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(j.rc, 0);
    assert_int_equal(r.got, 1);
    assert_true(j.fd_seen >= 3);
    assert_int_equal(j.cloexec, 0); /* open, and no FD_CLOEXEC although the sender's had it */
    assert_int_equal(j.len, 12);
    assert_memory_equal(j.text, "before|after", 12); /* and EOF: the sender's writer closed */
}

struct file_job {
    uint32_t to;
    int file, rc, err;
};

static void file_sender_body(t_actor *a)
{
    struct file_job *j = a->user;
    omsg *o = malloc(sizeof(*o));

    j->file = temp_file();
    T_CHECK(o != NULL && j->file >= 0);
    if (!o || j->file < 0) {
        free(o);
        j->rc = -2;
        return;
    }
    T_CHECK_EQ(write(j->file, "0123456789", 10), 10);
    T_CHECK_EQ(lseek(j->file, 4, SEEK_SET), 4);
    T_CHECK_OK(fcntl(j->file, F_SETFL, O_APPEND));
    om_init(o, MT_REQUEST, j->to, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_fd(j->file));
    errno = 0;
    j->rc = om_send(a->k, a->fd, o);
    j->err = errno;
    free(o);
}

/* §5.2: the descriptor is the same open file as the sender's: offset and status flags are
   shared, as with dup, but FD_CLOEXEC is not. */
static void objects_fd_file_shares_offset_and_flags(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor tx;
    struct file_job j = {.file = -1};
    struct stat st_a, st_b;
    IpcMsg *m = NULL;
    SpecialObj s;
    char buf[4] = {0};
    int nfd;

    world_init(c, &w, T_POOL, T_CMS_BIG);
    j.to = (uint32_t)w.tid;
    actor_up(&w, &tx, file_sender_body, &j, 0);
    grant(&w, tx.tid, w.tid);
    t_actor_join(&tx);
    assert_int_equal(j.rc, 0);
    assert_ok(recv_soon(&w, &m));
    assert_int_equal(m->spObjNum, 1);
    s = obj_at(m, 0);
    assert_ok(t_free(w.k, w.fd, m));
    nfd = (int)s.content.fd;
    assert_int_equal(s.type, OBJ_FD);
    assert_true(nfd >= 3);
    assert_int_not_equal(nfd, j.file);
    assert_int_equal(fcntl(nfd, F_GETFD), 0);
    assert_int_equal(fcntl(j.file, F_GETFD), FD_CLOEXEC); /* the sender's is untouched */
    assert_true(fcntl(nfd, F_GETFL) & O_APPEND);
    assert_ok(fstat(nfd, &st_a));
    assert_ok(fstat(j.file, &st_b));
    assert_true(st_a.st_ino == st_b.st_ino && st_a.st_dev == st_b.st_dev);
    assert_int_equal(lseek(nfd, 0, SEEK_CUR), 4);
    assert_int_equal(read(nfd, buf, 3), 3);
    assert_memory_equal(buf, "456", 3);
    assert_int_equal(lseek(j.file, 0, SEEK_CUR), 7);
    assert_ok(close(nfd));
    assert_int_equal(pread(j.file, buf, 1, 0), 1); /* the sender's still works */
    assert_ok(close(j.file));
    world_fini(&w);
    t_assert_threads_ok();
}

struct lowest_job {
    uint32_t to;
    int expect, rc, err;
};

static void lowest_sender_body(t_actor *a)
{
    struct lowest_job *j = a->user;
    omsg *o = malloc(sizeof(*o));
    int hole[3];

    T_CHECK(o != NULL);
    if (!o)
        return;
    /* a hole among the low numbers, so that "lowest" is not just "next" */
    for (int i = 0; i < 3; i++)
        hole[i] = dup(2);
    close(hole[1]);
    om_init(o, MT_REQUEST, j->to, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_fd(hole[2]));
    j->expect = lowest_free_fd(); /* of the host, the table of every virtual process */
    errno = 0;
    j->rc = om_send(a->k, a->fd, o);
    j->err = errno;
    close(hole[0]);
    close(hole[2]);
    free(o);
}

/* §5.2: the new descriptor is the lowest free number >= 3 of the receiver's table. */
static void objects_fd_gets_lowest_free_number(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor tx;
    struct lowest_job j;
    IpcMsg *m = NULL;
    SpecialObj s;

    memset(&j, 0, sizeof(j));
    world_init(c, &w, T_POOL, T_CMS_BIG);
    j.to = (uint32_t)w.tid;
    actor_up(&w, &tx, lowest_sender_body, &j, 0);
    grant(&w, tx.tid, w.tid);
    t_actor_join(&tx);
    assert_int_equal(j.rc, 0);
    assert_ok(recv_soon(&w, &m));
    s = obj_at(m, 0);
    assert_ok(t_free(w.k, w.fd, m));
    assert_ok(close((int)s.content.fd));
    world_fini(&w);
    t_assert_threads_ok();
    assert_true(j.expect >= 3);
    assert_int_equal(s.content.fd, j.expect);
}

struct badfd_job {
    uint32_t to;
    int rc[4], err[4];
};

static void badfd_body(t_actor *a)
{
    struct badfd_job *j = a->user;
    static unsigned char buf[64];
    omsg *o = malloc(sizeof(*o));
    int bad = unused_fd();

    T_CHECK(o != NULL && bad > 0);
    if (!o) /* (bad <= 0: sends below fail the test anyway) */
        return;
    for (int i = 0; i < 3; i++) {
        om_init(o, MT_REQUEST, j->to, 1, LITEIPC_FLAG_ONEWAY, 2 * HOST_OBJ);
        if (i == 0)
            om_put(o, 0, o_fd(bad));
        else if (i == 1)
            om_put(o, 0, o_fd(-1));
        else { /* after a good object, which is rolled back */
            om_put(o, 0, o_ptr(buf, sizeof(buf)));
            om_put(o, HOST_OBJ, o_fd(bad));
        }
        errno = 0;
        j->rc[i] = om_send(a->k, a->fd, o);
        j->err[i] = errno;
    }
    errno = 0;
    j->rc[3] = t_send(a->k, a->fd, j->to, CODE_MARK, LITEIPC_FLAG_ONEWAY, NULL, 0);
    j->err[3] = errno;
    free(o);
}

/* §5.2: a descriptor the sender does not have is EBADF, and nothing arrives. */
static void objects_fd_invalid_sender_fd_ebadf(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor tx;
    struct badfd_job j;
    long pool0, pool1;
    int fds0, fds1;

    memset(&j, 0, sizeof(j));
    world_init(c, &w, SMALL_POOL, T_CMS_BIG);
    j.to = (uint32_t)w.tid;
    fds0 = t_fd_count();
    pool0 = pool_largest(w.k, w.fd);
    actor_up(&w, &tx, badfd_body, &j, 0);
    grant(&w, tx.tid, w.tid);
    t_actor_join(&tx);
    expect_plain(&w, CODE_MARK);
    fds1 = t_fd_count();
    pool1 = pool_largest(w.k, w.fd);
    world_fini(&w);
    t_assert_threads_ok();
    for (int i = 0; i < 3; i++)
        if (j.rc[i] != -1 || j.err[i] != EBADF)
            fail_msg("send %d: got %d errno %s, expected EBADF", i, j.rc[i],
                     liteipc_errno_name(j.err[i]));
    assert_int_equal(j.rc[3], 0);
    assert_int_equal(fds1, fds0);
    assert_true(pool0 > 0);
    assert_int_equal(pool1, pool0);
}

/* ---- OBJ_SVC (§5.4) -------------------------------------------------------------------------- */

struct svc_pass {
    uint32_t svc, to;
    t_latch probed;
    int probe_rc, probe_err;
    int send_rc, send_err;
    bool got_obj;
    SpecialObj got;
    int call_rc, call_err;
    bool echo_ok;
};

/* The receiver: cannot call the service, is sent it, then calls it. */
static void svc_receiver_body(t_actor *a)
{
    struct svc_pass *p = a->user;
    IpcMsg *m = NULL, *r = NULL;

    errno = 0;
    p->probe_rc = t_call(a->k, a->fd, p->svc, T_CODE_ECHO, "x", 1, &r);
    p->probe_err = errno;
    if (p->probe_rc == 0)
        T_CHECK_OK(t_free(a->k, a->fd, r));
    t_latch_set(&p->probed, 1);
    if (t_recv(a->k, a->fd, &m) != 0) {
        t_fail_record(__FILE__, __LINE__, "receive: errno %d", errno);
        return;
    }
    if (m->code != T_CODE_QUIT && m->spObjNum == 1) {
        p->got = obj_at(m, 0);
        p->got_obj = true;
    }
    T_CHECK_OK(t_free(a->k, a->fd, m));
    if (!p->got_obj)
        return;
    errno = 0;
    p->call_rc = t_call(a->k, a->fd, p->got.content.svc.handle, T_CODE_ECHO, "hello", 5, &r);
    p->call_err = errno;
    if (p->call_rc == 0) {
        p->echo_ok = r->type == MT_REPLY && r->dataSz == 5 && memcmp(r->data, "hello", 5) == 0;
        T_CHECK_OK(t_free(a->k, a->fd, r));
    }
}

static void svc_sender_body(t_actor *a)
{
    struct svc_pass *p = a->user;
    omsg *o = malloc(sizeof(*o));

    T_CHECK(o != NULL);
    if (!o)
        return;
    om_init(o, MT_REQUEST, p->to, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_svc(p->svc, 5, 0xc00c));
    errno = 0;
    p->send_rc = om_send(a->k, a->fd, o);
    p->send_err = errno;
    free(o);
}

/* §5.4: the receiver of a service may call it at once, without asking the ServiceManager. */
static void objects_svc_receiver_calls_service_without_cms(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_svc svc = {0};
    t_actor rx, tx;
    struct svc_pass p;
    liteipc_event evs[64];
    size_t nev;

    memset(&p, 0, sizeof(p));
    t_latch_init(&p.probed);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    service_up(&w, &svc);
    p.svc = (uint32_t)svc.tid;
    actor_up(&w, &rx, svc_receiver_body, &p, 0);
    p.to = (uint32_t)rx.tid;
    actor_up(&w, &tx, svc_sender_body, &p, 0);
    grant(&w, tx.tid, svc.tid); /* the sender may call it, so it may pass it */
    grant(&w, tx.tid, rx.tid);
    grant(&w, w.tid, rx.tid);
    t_actor_go(&rx);
    T_CHECK_OK(t_latch_wait(&p.probed, NULL, T_WAIT_MS));
    t_actor_go(&tx);
    t_actor_join(&tx);
    if (p.send_rc != 0)
        quit(&w, rx.tid);
    t_actor_join(&rx);
    nev = t_ev_collect(c->ev, LITEIPC_EV_MSG_WRITTEN, rx.tid, evs, 64);
    service_down(&w, &svc);
    world_fini(&w);
    t_latch_destroy(&p.probed);
    t_assert_threads_ok();
    assert_int_equal(p.probe_rc, -1);
    assert_int_equal(p.probe_err, EACCES);
    assert_int_equal(p.send_rc, 0);
    assert_true(p.got_obj);
    assert_int_equal(p.got.type, OBJ_SVC);
    assert_int_equal(p.got.content.svc.handle, svc.tid);
    assert_int_equal(p.got.content.svc.token, 5);
    assert_int_equal(p.got.content.svc.cookie, 0xc00c);
    assert_int_equal(p.call_rc, 0);
    assert_true(p.echo_ok);
    for (size_t i = 0; i < nev; i++) /* the receiver never wrote to the CMS */
        assert_false(evs[i].src_tid == rx.tid && evs[i].dst_tid == w.tid);
}

struct svc_noaccess {
    uint32_t svc, to;
    int rc[3], err[3];
    unsigned first_code;
    int probe_rc, probe_err;
};

static void noaccess_sender_body(t_actor *a)
{
    struct svc_noaccess *p = a->user;
    static unsigned char buf[32];
    omsg *o = malloc(sizeof(*o));

    T_CHECK(o != NULL);
    if (!o)
        return;
    om_init(o, MT_REQUEST, p->to, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_svc(p->svc, 0, 0));
    errno = 0;
    p->rc[0] = om_send(a->k, a->fd, o);
    p->err[0] = errno;
    om_init(o, MT_REQUEST, p->to, 2, LITEIPC_FLAG_ONEWAY, 2 * HOST_OBJ);
    om_put(o, 0, o_ptr(buf, sizeof(buf)));
    om_put(o, HOST_OBJ, o_svc(p->svc, 0, 0));
    errno = 0;
    p->rc[1] = om_send(a->k, a->fd, o);
    p->err[1] = errno;
    errno = 0;
    p->rc[2] = t_send(a->k, a->fd, p->to, CODE_MARK, LITEIPC_FLAG_ONEWAY, NULL, 0);
    p->err[2] = errno;
    free(o);
}

static void noaccess_receiver_body(t_actor *a)
{
    struct svc_noaccess *p = a->user;
    IpcMsg *m = NULL, *r = NULL;

    if (t_recv(a->k, a->fd, &m) != 0) {
        t_fail_record(__FILE__, __LINE__, "receive: errno %d", errno);
        return;
    }
    p->first_code = m->code;
    T_CHECK_OK(t_free(a->k, a->fd, m));
    errno = 0;
    p->probe_rc = t_call(a->k, a->fd, p->svc, T_CODE_ECHO, "x", 1, &r);
    p->probe_err = errno;
    if (p->probe_rc == 0)
        T_CHECK_OK(t_free(a->k, a->fd, r));
}

/* §5.4 step 3: passing a service the sender has no access to is EACCES; nothing arrives and
   the receiver gains nothing. */
static void objects_svc_pass_without_access_eacces(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_svc svc = {0};
    t_actor rx, tx;
    struct svc_noaccess p;

    memset(&p, 0, sizeof(p));
    world_init(c, &w, T_POOL, T_CMS_BIG);
    service_up(&w, &svc);
    p.svc = (uint32_t)svc.tid;
    actor_up(&w, &rx, noaccess_receiver_body, &p, 0);
    p.to = (uint32_t)rx.tid;
    actor_up(&w, &tx, noaccess_sender_body, &p, 0);
    grant(&w, tx.tid, rx.tid);
    t_actor_join(&tx);
    t_actor_go(&rx);
    if (p.rc[2] != 0) {
        grant(&w, w.tid, rx.tid);
        quit(&w, rx.tid);
    }
    t_actor_join(&rx);
    service_down(&w, &svc);
    world_fini(&w);
    t_assert_threads_ok();
    for (int i = 0; i < 2; i++)
        if (p.rc[i] != -1 || p.err[i] != EACCES)
            fail_msg("send %d: got %d errno %s, expected EACCES", i, p.rc[i],
                     liteipc_errno_name(p.err[i]));
    assert_int_equal(p.rc[2], 0);
    assert_int_equal(p.first_code, CODE_MARK);
    assert_int_equal(p.probe_rc, -1);
    assert_int_equal(p.probe_err, EACCES);
}

struct callback {
    uint32_t client, server;
    t_latch probed, sent;
    int probe_rc, probe_err;
    bool got_obj;
    SpecialObj got;
    int call_rc, call_err;
    bool pong, served;
};

/* The server: cannot reach the client, is handed it anonymously, calls it back. */
static void cb_server_body(t_actor *a)
{
    struct callback *cb = a->user;
    IpcMsg *m = NULL, *r = NULL;

    errno = 0;
    cb->probe_rc = t_send(a->k, a->fd, cb->client, 1, LITEIPC_FLAG_ONEWAY, NULL, 0);
    cb->probe_err = errno;
    t_latch_set(&cb->probed, 1);
    if (t_recv(a->k, a->fd, &m) != 0) {
        t_fail_record(__FILE__, __LINE__, "receive: errno %d", errno);
        return;
    }
    if (m->code != T_CODE_QUIT && m->spObjNum == 1) {
        cb->got = obj_at(m, 0);
        cb->got_obj = true;
    }
    T_CHECK_OK(t_free(a->k, a->fd, m));
    if (!cb->got_obj)
        return;
    errno = 0;
    cb->call_rc = t_call(a->k, a->fd, cb->got.content.svc.handle, CODE_CB, "ping", 4, &r);
    cb->call_err = errno;
    if (cb->call_rc == 0) {
        cb->pong = r->type == MT_REPLY && r->dataSz == 4 && memcmp(r->data, "pong", 4) == 0;
        T_CHECK_OK(t_free(a->k, a->fd, r));
    }
}

/* The client: a one-way message carrying "me" (handle -1, token 1), then it serves. */
static void cb_client_body(t_actor *a)
{
    struct callback *cb = a->user;
    omsg *o = malloc(sizeof(*o));
    IpcMsg *m = NULL;
    int rc, e;

    T_CHECK(o != NULL);
    if (!o) {
        t_latch_set(&cb->sent, ENOMEM);
        return;
    }
    om_init(o, MT_REQUEST, cb->server, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_svc(NO_HANDLE, 1, 0x77));
    errno = 0;
    rc = om_send(a->k, a->fd, o);
    e = errno;
    free(o);
    t_latch_set(&cb->sent, rc == 0 ? 0 : (e ? e : -1));
    if (rc != 0)
        return;
    if (t_recv(a->k, a->fd, &m) != 0) {
        t_fail_record(__FILE__, __LINE__, "receive: errno %d", errno);
        return;
    }
    if (m->code == T_CODE_QUIT) {
        T_CHECK_OK(t_free(a->k, a->fd, m));
        return;
    }
    cb->served = m->type == MT_REQUEST && m->code == CODE_CB && m->taskID == cb->server &&
                 m->dataSz == 4 && memcmp(m->data, "ping", 4) == 0;
    T_CHECK_OK(t_reply(a->k, a->fd, m, "pong", 4));
}

/* §5.4 step 1: handle -1 with token 1 makes the sender's task a service of the receiver,
   which then calls back into it. */
static void objects_svc_anonymous_callback(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor srv, cli;
    struct callback cb;
    long sent = -1;

    memset(&cb, 0, sizeof(cb));
    t_latch_init(&cb.probed);
    t_latch_init(&cb.sent);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    actor_up(&w, &srv, cb_server_body, &cb, 0);
    actor_up(&w, &cli, cb_client_body, &cb, 0);
    cb.server = (uint32_t)srv.tid;
    cb.client = (uint32_t)cli.tid;
    grant(&w, cli.tid, srv.tid);
    grant(&w, w.tid, srv.tid);
    grant(&w, w.tid, cli.tid);
    t_actor_go(&srv);
    T_CHECK_OK(t_latch_wait(&cb.probed, NULL, T_WAIT_MS));
    t_actor_go(&cli);
    T_CHECK_OK(t_latch_wait(&cb.sent, &sent, T_WAIT_MS));
    if (sent != 0)
        quit(&w, srv.tid);
    t_actor_join(&srv);
    if (cb.call_rc != 0 || !cb.got_obj)
        quit(&w, cli.tid);
    t_actor_join(&cli);
    world_fini(&w);
    t_latch_destroy(&cb.probed);
    t_latch_destroy(&cb.sent);
    t_assert_threads_ok();
    assert_int_equal(cb.probe_rc, -1);
    assert_int_equal(cb.probe_err, EACCES);
    assert_int_equal(sent, 0);
    assert_true(cb.got_obj);
    assert_int_equal(cb.got.type, OBJ_SVC);
    assert_int_equal(cb.got.content.svc.handle, cli.tid); /* rewritten to the sender's TID */
    assert_int_equal(cb.got.content.svc.token, 1);
    assert_int_equal(cb.got.content.svc.cookie, 0x77);
    assert_int_equal(cb.call_rc, 0);
    assert_true(cb.served);
    assert_true(cb.pong);
}

struct anon_bad {
    t_latch sent, probed;
    uint32_t to;
    int rc[4], err[4];
    unsigned first_code;
    int probe_rc, probe_err;
    uint32_t sender;
};

static void anon_bad_sender_body(t_actor *a)
{
    struct anon_bad *p = a->user;
    static unsigned char buf[32];
    const uint32_t tokens[3] = {0, 2, 0xFFFFFFFFu};
    omsg *o = malloc(sizeof(*o));

    T_CHECK(o != NULL);
    if (!o)
        return;
    for (int i = 0; i < 3; i++) {
        om_init(o, MT_REQUEST, p->to, 1, LITEIPC_FLAG_ONEWAY, 2 * HOST_OBJ);
        om_put(o, 0, o_ptr(buf, sizeof(buf))); /* a good object first */
        om_put(o, HOST_OBJ, o_svc(NO_HANDLE, tokens[i], 0));
        errno = 0;
        p->rc[i] = om_send(a->k, a->fd, o);
        p->err[i] = errno;
    }
    errno = 0;
    p->rc[3] = t_send(a->k, a->fd, p->to, CODE_MARK, LITEIPC_FLAG_ONEWAY, NULL, 0);
    p->err[3] = errno;
    free(o);
    t_latch_set(&p->sent, 1);
    /* stay alive until probed, so that the probe meets a live task */
    T_CHECK_OK(t_latch_wait(&p->probed, NULL, T_WAIT_MS));
}

/* The first message must be the marker; then the sender must still be out of reach. */
static void anon_bad_receiver_body(t_actor *a)
{
    struct anon_bad *p = a->user;
    IpcMsg *m = NULL;

    if (t_recv(a->k, a->fd, &m) != 0) {
        t_fail_record(__FILE__, __LINE__, "receive: errno %d", errno);
        return;
    }
    p->first_code = m->code;
    T_CHECK_OK(t_free(a->k, a->fd, m));
    errno = 0;
    p->probe_rc = t_send(a->k, a->fd, p->sender, 1, LITEIPC_FLAG_ONEWAY, NULL, 0);
    p->probe_err = errno;
    t_latch_set(&p->probed, 1);
}

/* §5.4 step 1.1: handle -1 with a token other than 1 is EINVAL and grants nothing. */
static void objects_svc_anonymous_token_not_one_einval(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor rx, tx;
    struct anon_bad p;

    memset(&p, 0, sizeof(p));
    t_latch_init(&p.sent);
    t_latch_init(&p.probed);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    actor_up(&w, &rx, anon_bad_receiver_body, &p, 0);
    actor_up(&w, &tx, anon_bad_sender_body, &p, 0);
    p.to = (uint32_t)rx.tid;
    p.sender = (uint32_t)tx.tid;
    grant(&w, tx.tid, rx.tid);
    grant(&w, w.tid, rx.tid);
    t_actor_go(&tx);
    T_CHECK_OK(t_latch_wait(&p.sent, NULL, T_WAIT_MS));
    t_actor_go(&rx);
    if (p.rc[3] != 0)
        quit(&w, rx.tid);
    t_actor_join(&rx);
    t_latch_set(&p.probed, 1);
    t_actor_join(&tx);
    world_fini(&w);
    t_latch_destroy(&p.sent);
    t_latch_destroy(&p.probed);
    t_assert_threads_ok();
    for (int i = 0; i < 3; i++)
        if (p.rc[i] != -1 || p.err[i] != EINVAL)
            fail_msg("token case %d: got %d errno %s, expected EINVAL", i, p.rc[i],
                     liteipc_errno_name(p.err[i]));
    assert_int_equal(p.rc[3], 0);
    assert_int_equal(p.first_code, CODE_MARK);
    /* the failed forms granted nothing: the sender, still alive, stays out of reach */
    assert_int_equal(p.probe_rc, -1);
    assert_int_equal(p.probe_err, EACCES);
}

struct cms_anon {
    unsigned first_code;
    uint32_t cms;
    int probe_rc, probe_err;
};

static void cms_anon_receiver_body(t_actor *a)
{
    struct cms_anon *p = a->user;
    IpcMsg *m = NULL;

    if (t_recv(a->k, a->fd, &m) != 0) {
        t_fail_record(__FILE__, __LINE__, "receive: errno %d", errno);
        return;
    }
    p->first_code = m->code;
    T_CHECK_OK(t_free(a->k, a->fd, m));
    errno = 0;
    p->probe_rc = t_send(a->k, a->fd, p->cms, 1, LITEIPC_FLAG_ONEWAY, NULL, 0);
    p->probe_err = errno;
}

/* §5.4 step 1.3: the CMS task cannot hand itself out anonymously. */
static void objects_svc_anonymous_from_cms_einval(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor rx;
    struct cms_anon p;
    omsg *o = malloc(sizeof(*o));

    memset(&p, 0, sizeof(p));
    assert_non_null(o);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    p.cms = (uint32_t)w.tid;
    actor_up(&w, &rx, cms_anon_receiver_body, &p, 0);
    grant(&w, w.tid, rx.tid);
    om_init(o, MT_REQUEST, (uint32_t)rx.tid, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_svc(NO_HANDLE, 1, 0));
    assert_errno(om_send(w.k, w.fd, o), EINVAL);
    assert_ok(t_send(w.k, w.fd, (uint32_t)rx.tid, CODE_MARK, LITEIPC_FLAG_ONEWAY, NULL, 0));
    t_actor_join(&rx);
    free(o);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(p.first_code, CODE_MARK);
    assert_int_equal(p.probe_rc, -1); /* by its TID the CMS stays out of reach */
    assert_int_equal(p.probe_err, EACCES);
}

struct grant_kept {
    uint32_t svc, to;
    t_latch probed, sent;
    int probe_rc, probe_err;
    int send_rc, send_err;
    int call_rc, call_err;
};

static void kept_receiver_body(t_actor *a)
{
    struct grant_kept *p = a->user;
    IpcMsg *r = NULL;

    errno = 0;
    p->probe_rc = t_call(a->k, a->fd, p->svc, T_CODE_ECHO, "x", 1, &r);
    p->probe_err = errno;
    if (p->probe_rc == 0)
        T_CHECK_OK(t_free(a->k, a->fd, r));
    t_latch_set(&p->probed, 1);
    if (t_latch_wait(&p->sent, NULL, T_WAIT_MS) != 0)
        return;
    errno = 0;
    p->call_rc = t_call(a->k, a->fd, p->svc, T_CODE_ECHO, "y", 1, &r);
    p->call_err = errno;
    if (p->call_rc == 0)
        T_CHECK_OK(t_free(a->k, a->fd, r));
}

static void kept_sender_body(t_actor *a)
{
    struct grant_kept *p = a->user;
    omsg *o = malloc(sizeof(*o));

    T_CHECK(o != NULL);
    if (o) {
        om_init(o, MT_REQUEST, p->to, 1, LITEIPC_FLAG_ONEWAY, 2 * HOST_OBJ);
        om_put(o, 0, o_svc(p->svc, 0, 0));
        om_put(o, HOST_OBJ, o_type(7));
        errno = 0;
        p->send_rc = om_send(a->k, a->fd, o);
        p->send_err = errno;
    }
    free(o);
    t_latch_set(&p->sent, 1);
}

/* §5.4/§5.5, Q11: a failed message does not take back the grant its OBJ_SVC made. */
static void objects_svc_grant_kept_after_rollback(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_svc svc = {0};
    t_actor rx, tx;
    struct grant_kept p;

    memset(&p, 0, sizeof(p));
    t_latch_init(&p.probed);
    t_latch_init(&p.sent);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    service_up(&w, &svc);
    p.svc = (uint32_t)svc.tid;
    actor_up(&w, &rx, kept_receiver_body, &p, 0);
    p.to = (uint32_t)rx.tid;
    actor_up(&w, &tx, kept_sender_body, &p, 0);
    grant(&w, tx.tid, svc.tid);
    grant(&w, tx.tid, rx.tid);
    t_actor_go(&rx);
    T_CHECK_OK(t_latch_wait(&p.probed, NULL, T_WAIT_MS));
    t_actor_go(&tx);
    t_actor_join(&tx);
    t_actor_join(&rx);
    service_down(&w, &svc);
    world_fini(&w);
    t_latch_destroy(&p.probed);
    t_latch_destroy(&p.sent);
    t_assert_threads_ok();
    assert_int_equal(p.probe_rc, -1);
    assert_int_equal(p.probe_err, EACCES);
    assert_int_equal(p.send_rc, -1);
    assert_int_equal(p.send_err, EINVAL);
    assert_int_equal(p.call_rc, 0);
    assert_int_equal(svc.requests, 1);
}

/* ---- rollback of failing messages, measured (§5.5) ------------------------------------------ */

struct flood {
    t_latch done, release; /* the sender stays alive until the receiver has measured */
    struct flood_src *src;
    int kind;
    uint32_t to;
    unsigned n;
    unsigned wrong, first_wrong;
    int wrong_rc, wrong_err, wrong_want;
};

static void flood_body(t_actor *a)
{
    struct flood *f = a->user;
    omsg *o = malloc(sizeof(*o));

    T_CHECK(o != NULL);
    if (!o)
        return;
    f->src->self = (uint32_t)a->tid;
    for (unsigned i = 0; i < f->n; i++) {
        int want = flood_build(o, f->src, f->kind, i, f->to);
        int rc;

        errno = 0;
        rc = om_send(a->k, a->fd, o);
        if (rc != -1 || errno != want) {
            if (f->wrong++ == 0) {
                f->first_wrong = i;
                f->wrong_rc = rc;
                f->wrong_err = errno;
                f->wrong_want = want;
            }
        }
    }
    free(o);
    t_latch_set(&f->done, 1);
    T_CHECK_OK(t_latch_wait(&f->release, NULL, T_WAIT_MS));
}

/* A receiver that measures its process before and after (its queue must stay empty). */
struct meter {
    t_latch measured, done;
    int fds0, fds1;
    long pool0, pool1;
};

static void meter_body(t_actor *a)
{
    struct meter *mt = a->user;

    mt->fds0 = t_fd_count();
    mt->pool0 = pool_largest(a->k, a->fd);
    t_latch_set(&mt->measured, 1);
    if (t_latch_wait(&mt->done, NULL, T_WAIT_MS) != 0)
        t_fail_record(__FILE__, __LINE__, "meter: never told to measure again");
    mt->pool1 = pool_largest(a->k, a->fd); /* -1 if anything was delivered */
    mt->fds1 = t_fd_count();
}

static void assert_flood_ok(const struct flood *f)
{
    if (f->wrong)
        fail_msg("%u of %u sends wrong; first #%u: got %d errno %s, expected %s", f->wrong, f->n,
                 f->first_wrong, f->wrong_rc, liteipc_errno_name(f->wrong_err),
                 liteipc_errno_name(f->wrong_want));
}

static void assert_meter_equal(const struct meter *mt)
{
    assert_true(mt->pool0 > 0 && mt->pool0 < IPC_MSG_DATA_SZ_MAX); /* a measure of a small pool */
    assert_int_equal(mt->pool1, mt->pool0);
    assert_int_equal(mt->fds1, mt->fds0);
}

/* A virtual process with a 4 KiB pool receives FLOOD_N failing messages from another. */
static void run_flood(t_ctx *c, int kind)
{
    struct world w;
    t_actor rx, tx;
    struct meter mt;
    struct flood f;
    struct flood_src *src = calloc(1, sizeof(*src));
    unsigned written0, drops0;
    int p[2];

    assert_non_null(src);
    memset(&mt, 0, sizeof(mt));
    memset(&f, 0, sizeof(f));
    t_latch_init(&mt.measured);
    t_latch_init(&mt.done);
    t_latch_init(&f.done);
    t_latch_init(&f.release);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    assert_ok(pipe(p));
    src->good_fd = p[0];
    src->bad_fd = unused_fd();
    src->no_access = (uint32_t)w.tid; /* the CMS task, by its TID */
    actor_up(&w, &rx, meter_body, &mt, SMALL_POOL);
    actor_up(&w, &tx, flood_body, &f, 0);
    f.src = src;
    f.kind = kind;
    f.to = (uint32_t)rx.tid;
    f.n = FLOOD_N;
    grant(&w, tx.tid, rx.tid);
    t_actor_go(&rx);
    T_CHECK_OK(t_latch_wait(&mt.measured, NULL, T_WAIT_MS));
    written0 = written_by(&w, tx.tid);
    drops0 = t_ev_count_src(c->ev, LITEIPC_EV_DROP_ON_WRITE, tx.tid);
    t_actor_go(&tx);
    T_CHECK_OK(t_latch_wait(&f.done, NULL, T_WAIT_MS));
    t_latch_set(&mt.done, 1);
    t_actor_join(&rx);
    t_latch_set(&f.release, 1);
    t_actor_join(&tx);
    close(p[0]);
    close(p[1]);
    world_fini(&w);
    t_latch_destroy(&mt.measured);
    t_latch_destroy(&mt.done);
    t_latch_destroy(&f.done);
    t_latch_destroy(&f.release);
    free(src);
    t_assert_threads_ok();
    assert_flood_ok(&f);
    assert_meter_equal(&mt);
    assert_int_equal(written_by(&w, tx.tid), written0); /* nothing was delivered */
    assert_int_equal(t_ev_count_src(c->ev, LITEIPC_EV_DROP_ON_WRITE, tx.tid) - drops0, FLOOD_N);
}

/* §5.1/§5.5: good objects then a bad type: each one undone, FLOOD_N times. */
static void objects_flood_bad_type_leaves_receiver_unchanged(void **state)
{
    run_flood(*state, FK_BAD_TYPE);
}

/* §5.1/§5.5: good objects then a bad offset (overlapping, decreasing, past the end). */
static void objects_flood_bad_offset_leaves_receiver_unchanged(void **state)
{
    run_flood(*state, FK_BAD_OFFSET);
}

/* §5.2-5.5: good objects then a failing one (EBADF, EACCES, a bad buffer, bad handles). */
static void objects_flood_failing_object_leaves_receiver_unchanged(void **state)
{
    run_flood(*state, FK_FAILING_OBJECT);
}

/* ---- rollback of dropped and drained messages, measured (§4.4.3, §7.2) ---------------------- */

struct stray {
    uint32_t server;
    int pipe_fd;
    unsigned n;
    /* client */
    int fds0, fds1;
    long pool0, pool1;
    unsigned calls_ok;
    int call_err;
    /* server */
    unsigned served;
    t_latch measured; /* the server stays alive until the client has measured */
};

/* The client: a request it does not wait for, then a synchronous call, n times. */
static void stray_client_body(t_actor *a)
{
    struct stray *s = a->user;

    s->fds0 = t_fd_count();
    s->pool0 = pool_largest(a->k, a->fd);
    for (unsigned i = 0; i < s->n; i++) {
        IpcMsg *r = NULL;

        T_CHECK_OK(t_send(a->k, a->fd, s->server, CODE_R1, LITEIPC_FLAG_DEFAULT, NULL, 0));
        errno = 0;
        if (t_call(a->k, a->fd, s->server, CODE_R2, NULL, 0, &r) != 0) {
            s->call_err = errno;
            break;
        }
        if (r->code == CODE_R2 && r->spObjNum == 0)
            s->calls_ok++;
        T_CHECK_OK(t_free(a->k, a->fd, r));
    }
    s->pool1 = pool_largest(a->k, a->fd);
    s->fds1 = t_fd_count();
    t_latch_set(&s->measured, 1);
}

/* The server answers the first request while the client waits for the second: the answer,
   with an OBJ_FD and an OBJ_PTR, is a stray the client's call drops (§4.4.2). */
static void stray_server_body(t_actor *a)
{
    struct stray *s = a->user;
    static unsigned char buf[100];
    omsg *o = malloc(sizeof(*o));

    T_CHECK(o != NULL);
    for (unsigned i = 0; o && i < s->n; i++) {
        IpcMsg *r1 = NULL, *r2 = NULL;

        if (t_recv(a->k, a->fd, &r1) != 0 || r1->code == T_CODE_QUIT)
            break;
        if (t_recv(a->k, a->fd, &r2) != 0 || r2->code == T_CODE_QUIT)
            break;
        T_CHECK_EQ(r1->code, CODE_R1);
        T_CHECK_EQ(r2->code, CODE_R2);
        om_init(o, MT_REPLY, 0, CODE_R1, 0, 2 * HOST_OBJ);
        om_put(o, 0, o_fd(s->pipe_fd));
        om_put(o, HOST_OBJ, o_ptr(buf, sizeof(buf)));
        T_CHECK_OK(om_reply(a->k, a->fd, o, r1));
        T_CHECK_OK(t_reply(a->k, a->fd, r2, NULL, 0));
        s->served++;
    }
    free(o);
    T_CHECK_OK(t_latch_wait(&s->measured, NULL, T_WAIT_MS));
}

/* §4.4.3: a stray reply carrying objects, dropped by a synchronous call, closes the
   descriptor installed in the receiver and frees its buffer, DROP_N times. */
static void objects_dropped_stray_reply_leaves_receiver_unchanged(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor cli, srv;
    struct stray s;
    unsigned drops0;
    int p[2];

    memset(&s, 0, sizeof(s));
    t_latch_init(&s.measured);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    assert_ok(pipe(p));
    s.pipe_fd = p[0];
    s.n = DROP_N;
    actor_up(&w, &cli, stray_client_body, &s, SMALL_POOL);
    actor_up(&w, &srv, stray_server_body, &s, 0);
    s.server = (uint32_t)srv.tid;
    grant(&w, cli.tid, srv.tid);
    grant(&w, w.tid, srv.tid);
    drops0 = t_ev_count(c->ev, LITEIPC_EV_DROP_ON_READ, cli.tid);
    t_actor_go(&srv);
    t_actor_go(&cli);
    t_actor_join(&cli);
    if (s.calls_ok != DROP_N)
        quit(&w, srv.tid);
    t_actor_join(&srv);
    close(p[0]);
    close(p[1]);
    world_fini(&w);
    t_latch_destroy(&s.measured);
    t_assert_threads_ok();
    assert_int_equal(s.call_err, 0);
    assert_int_equal(s.calls_ok, DROP_N);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_DROP_ON_READ, cli.tid) - drops0, DROP_N);
    assert_true(s.pool0 > 0 && s.pool0 < IPC_MSG_DATA_SZ_MAX);
    assert_int_equal(s.pool1, s.pool0);
    assert_int_equal(s.fds1, s.fds0);
}

struct held_call {
    uint32_t holder;
    t_latch held, release, measured;
    int fds0, fds1;
    long pool0, pool1;
    int call_rc, call_err;
};

/* Measures, then waits in a synchronous call while requests with objects are sent to it. */
static void held_caller_body(t_actor *a)
{
    struct held_call *h = a->user;
    IpcMsg *r = NULL;

    h->fds0 = t_fd_count();
    h->pool0 = pool_largest(a->k, a->fd);
    errno = 0;
    h->call_rc = t_call(a->k, a->fd, h->holder, CODE_HOLD, NULL, 0, &r);
    h->call_err = errno;
    if (h->call_rc == 0)
        T_CHECK_OK(t_free(a->k, a->fd, r));
    h->pool1 = pool_largest(a->k, a->fd);
    h->fds1 = t_fd_count();
    t_latch_set(&h->measured, 1);
}

static void holder_body(t_actor *a)
{
    struct held_call *h = a->user;
    IpcMsg *m = NULL;

    if (t_recv(a->k, a->fd, &m) != 0) {
        t_fail_record(__FILE__, __LINE__, "receive: errno %d", errno);
        return;
    }
    t_latch_set(&h->held, 1);
    T_CHECK_OK(t_latch_wait(&h->release, NULL, T_WAIT_MS));
    T_CHECK_OK(t_reply(a->k, a->fd, m, NULL, 0));
    T_CHECK_OK(t_latch_wait(&h->measured, NULL, T_WAIT_MS));
}

/* §4.4.2 (Q5): requests with objects queued to a task in a synchronous call are dropped, and
   each one's descriptor and buffer go with it, FLOOD_N times. */
static void objects_requests_dropped_by_sync_call_leave_receiver_unchanged(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor caller, holder;
    struct held_call h;
    static unsigned char buf[FLOOD_PTR];
    omsg *o = malloc(sizeof(*o));
    unsigned drops0, ok = 0;
    int p[2];

    assert_non_null(o);
    memset(&h, 0, sizeof(h));
    t_latch_init(&h.held);
    t_latch_init(&h.release);
    t_latch_init(&h.measured);
    world_init(c, &w, T_POOL, T_CMS_BIG);
    assert_ok(pipe(p));
    actor_up(&w, &caller, held_caller_body, &h, SMALL_POOL);
    actor_up(&w, &holder, holder_body, &h, 0);
    h.holder = (uint32_t)holder.tid;
    grant(&w, caller.tid, holder.tid);
    grant(&w, w.tid, caller.tid);
    drops0 = t_ev_count(c->ev, LITEIPC_EV_DROP_ON_READ, caller.tid);
    t_actor_go(&holder);
    t_actor_go(&caller);
    T_CHECK_OK(t_latch_wait(&h.held, NULL, T_WAIT_MS)); /* the caller waits for its reply */
    for (unsigned i = 0; i < FLOOD_N; i++) { /* from the test thread (the CMS) */
        om_init(o, MT_REQUEST, (uint32_t)caller.tid, 1, LITEIPC_FLAG_ONEWAY, 3 * HOST_OBJ);
        om_put(o, 0, o_fd(p[0]));
        om_put(o, HOST_OBJ, o_ptr(buf, sizeof(buf)));
        om_put(o, 2 * HOST_OBJ, o_svc((uint32_t)w.tid, 0, 0));
        ok += om_send(w.k, w.fd, o) == 0;
    }
    t_latch_set(&h.release, 1);
    t_actor_join(&holder);
    t_actor_join(&caller);
    close(p[0]);
    close(p[1]);
    world_fini(&w);
    t_latch_destroy(&h.held);
    t_latch_destroy(&h.release);
    t_latch_destroy(&h.measured);
    free(o);
    t_assert_threads_ok();
    assert_int_equal(ok, FLOOD_N);
    assert_int_equal(h.call_rc, 0);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_DROP_ON_READ, caller.tid) - drops0, FLOOD_N);
    assert_true(h.pool0 > 0 && h.pool0 < IPC_MSG_DATA_SZ_MAX);
    assert_int_equal(h.pool1, h.pool0);
    assert_int_equal(h.fds1, h.fds0);
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

/* §7.2/§5.5: a host thread of the test's process dies with messages carrying objects queued
   to it: its descriptors are closed and its buffers freed in the process, which lives on. */
static void objects_drained_at_thread_death_leave_process_unchanged(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor x;
    long pool0, pool_mid, pool1;
    int fds0, fds_mid, fds1, p[2];

    world_init(c, &w, SMALL_POOL, T_CMS_BIG);
    assert_ok(pipe(p));
    fds0 = t_fd_count();
    pool0 = pool_largest(w.k, w.fd);
    memset(&x, 0, sizeof(x));
    x.host_thread = true;
    x.open_only = true; /* the process already has its pool */
    x.prime = true;
    t_actor_start(&x, w.k);
    assert_true(x.tid > 0);
    grant(&w, w.tid, x.tid);
    send_drain_batch(&w, (uint32_t)x.tid, p[0]);
    fds_mid = t_fd_count();
    pool_mid = pool_largest(w.k, w.fd);
    t_actor_join(&x); /* its body is empty: the thread ends with its queue full */
    assert_int_equal(t_ev_count_src(c->ev, LITEIPC_EV_TASK_DEATH, x.tid), 1);
    fds1 = t_fd_count();
    pool1 = pool_largest(w.k, w.fd);
    close(p[0]);
    close(p[1]);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(fds_mid, fds0 + 1 + (int)DRAIN_N); /* its device descriptor + the objects */
    assert_true(pool_mid >= 0 && pool_mid < pool0);
    assert_int_equal(fds1, fds0);
    assert_true(pool0 > 0 && pool0 < IPC_MSG_DATA_SZ_MAX);
    assert_int_equal(pool1, pool0);
}

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

/* §7.2: a virtual process dies with such messages queued: the descriptors installed for it
   in the host's table are closed when its task dies, before the process goes. (Copies of the
   sent file are counted: the host's table also holds the process's own connection, which is
   released after it.) */
static void objects_drained_at_vproc_death_close_descriptors(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor x;
    int copies0, copies_mid, copies1, p[2];

    world_init(c, &w, T_POOL, T_CMS_BIG);
    assert_ok(pipe(p));
    copies0 = copies_of(p[0]);
    actor_up(&w, &x, NULL, NULL, SMALL_POOL);
    grant(&w, w.tid, x.tid);
    send_drain_batch(&w, (uint32_t)x.tid, p[0]);
    copies_mid = copies_of(p[0]);
    t_actor_join(&x);
    assert_ok(t_ev_wait_src(c->ev, LITEIPC_EV_TASK_DEATH, x.tid, 1, T_WAIT_MS));
    copies1 = copies_of(p[0]);
    close(p[0]);
    close(p[1]);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(copies0, 2); /* the two ends of the pipe */
    assert_int_equal(copies_mid, copies0 + (int)DRAIN_N);
    assert_int_equal(copies1, copies0);
}

/* ---- malformed offsets tables (§4.3.1, §5.1) ---------------------------------------------- */

struct mal_job {
    int kind;
    uint32_t to;
    unsigned bad, good;
    unsigned wrong, first_wrong;
    int wrong_rc, wrong_err;
    bool wrong_h0;
};

/* Every variant to the CMS by its TID and through handle 0 (whose size check walks the
   offsets first), then a marker. */
static void mal_body(t_actor *a)
{
    struct mal_job *j = a->user;
    omsg *o = malloc(sizeof(*o));
    int r;

    T_CHECK(o != NULL);
    if (!o)
        return;
    for (unsigned v = 0; (r = mal_build(o, j->kind, v, 0, (uint32_t)a->tid)) != MAL_END; v++) {
        for (int h0 = 0; h0 < 2; h0++) {
            int rc, e;

            o->m.target.handle = h0 ? 0 : j->to;
            o->m.code = r == MAL_GOOD ? 0x600u + 2 * v + (unsigned)h0 : 0x500u + v;
            errno = 0;
            rc = om_send(a->k, a->fd, o);
            e = errno;
            if (r == MAL_BAD ? rc == -1 && e == EINVAL : rc == 0) {
                if (r == MAL_BAD)
                    j->bad++;
                else
                    j->good++;
            } else if (j->wrong++ == 0) {
                j->first_wrong = v;
                j->wrong_rc = rc;
                j->wrong_err = e;
                j->wrong_h0 = h0 != 0;
            }
        }
    }
    T_CHECK_OK(t_send(a->k, a->fd, j->to, CODE_MARK, LITEIPC_FLAG_ONEWAY, NULL, 0));
    free(o);
}

static void run_malformed(t_ctx *c, int kind)
{
    struct world w;
    t_actor tx;
    struct mal_job j;
    long pool0, pool1;
    int fds0, fds1;

    memset(&j, 0, sizeof(j));
    j.kind = kind;
    /* two 273-object messages need more than a small pool */
    world_init(c, &w, kind == MAL_TOO_MANY ? T_POOL : SMALL_POOL, T_CMS_BIG);
    pool0 = pool_largest(w.k, w.fd);
    fds0 = t_fd_count();
    j.to = (uint32_t)w.tid;
    actor_up(&w, &tx, mal_body, &j, 0);
    grant(&w, tx.tid, w.tid);
    t_actor_join(&tx);
    if (j.wrong)
        fail_msg("variant %u%s: got %d errno %s", j.first_wrong, j.wrong_h0 ? " (handle 0)" : "",
                 j.wrong_rc, liteipc_errno_name(j.wrong_err));
    assert_true(j.bad >= 2);
    /* only the accepted limit cases arrive, each once by TID and once through handle 0 */
    for (unsigned i = 0; i < j.good; i++) {
        IpcMsg *m = NULL;

        assert_ok(recv_soon(&w, &m));
        assert_int_equal(m->code & 0xF00u, 0x600u);
        assert_int_equal(m->code & 1u, i & 1u);
        assert_ok(t_free(w.k, w.fd, m));
    }
    expect_plain(&w, CODE_MARK);
    pool1 = pool_largest(w.k, w.fd);
    fds1 = t_fd_count();
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(j.good, 2);
    assert_true(pool0 > 0 && (kind == MAL_TOO_MANY || pool0 < IPC_MSG_DATA_SZ_MAX));
    assert_int_equal(pool1, pool0);
    assert_int_equal(fds1, fds0);
}

/* §5.1: an offset beyond dataSz - 24 (the object would not fit); dataSz - 24 is accepted. */
static void objects_malformed_offset_past_end_einval(void **state)
{
    run_malformed(*state, MAL_PAST_END);
}

/* §5.1: objects that overlap (offset < previous + 24). */
static void objects_malformed_overlapping_offsets_einval(void **state)
{
    run_malformed(*state, MAL_OVERLAP);
}

/* §5.1: offsets that decrease or repeat. */
static void objects_malformed_out_of_order_offsets_einval(void **state)
{
    run_malformed(*state, MAL_ORDER);
}

/* §4.3.1: spObjNum over IPC_MSG_OBJECT_NUM_MAX (409); 273 objects (all that fit) pass. */
static void objects_malformed_too_many_objects_einval(void **state)
{
    run_malformed(*state, MAL_TOO_MANY);
}

/* §4.3.1: dataSz < 16 * spObjNum (device size), and data too short for one host object. */
static void objects_malformed_data_too_short_einval(void **state)
{
    run_malformed(*state, MAL_SHORT_DATA);
}

/* §4.3.1: NULL offsets with spObjNum > 0, NULL data with dataSz > 0. */
static void objects_malformed_null_pointers_einval(void **state)
{
    run_malformed(*state, MAL_NULL);
}

/* §5.1: an object type other than OBJ_FD, OBJ_PTR, OBJ_SVC. */
static void objects_malformed_bad_type_einval(void **state)
{
    run_malformed(*state, MAL_TYPE);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(objects_ptr_bytes_arrive_intact),
        T(objects_ptr_freed_apart_from_message),
        T(objects_ptr_cms_limit_counts_buffers),
        T(objects_ptr_bad_buffer_refused),
        T(objects_fd_pipe_read_by_receiver),
        T(objects_fd_file_shares_offset_and_flags),
        T(objects_fd_gets_lowest_free_number),
        T(objects_fd_invalid_sender_fd_ebadf),
        T(objects_svc_receiver_calls_service_without_cms),
        T(objects_svc_pass_without_access_eacces),
        T(objects_svc_anonymous_callback),
        T(objects_svc_anonymous_token_not_one_einval),
        T(objects_svc_anonymous_from_cms_einval),
        T(objects_svc_grant_kept_after_rollback),
        T(objects_flood_bad_type_leaves_receiver_unchanged),
        T(objects_flood_bad_offset_leaves_receiver_unchanged),
        T(objects_flood_failing_object_leaves_receiver_unchanged),
        T(objects_dropped_stray_reply_leaves_receiver_unchanged),
        T(objects_requests_dropped_by_sync_call_leave_receiver_unchanged),
        T(objects_drained_at_thread_death_leave_process_unchanged),
        T(objects_drained_at_vproc_death_close_descriptors),
        T(objects_malformed_offset_past_end_einval),
        T(objects_malformed_overlapping_offsets_einval),
        T(objects_malformed_out_of_order_offsets_einval),
        T(objects_malformed_too_many_objects_einval),
        T(objects_malformed_data_too_short_einval),
        T(objects_malformed_null_pointers_einval),
        T(objects_malformed_bad_type_einval),
    };

    return cmocka_run_group_tests_name("objects_stack", tests, NULL, NULL);
}
