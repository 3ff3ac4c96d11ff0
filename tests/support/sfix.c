/* SPDX-License-Identifier: Apache-2.0 */
/* sfix.c - helpers for the full-stack tests (see sfix.h); the fixture and the device helpers
   are the installed test kit's (src/testkit*.c). */
#include "sfix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- time ----------------------------------------------------------------------------------- */

uint64_t t_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- device helpers: the kit's, with the device's -1/errno convention ------------------------ */

static int t_err(int r)
{
    if (r >= 0)
        return r;
    errno = -r;
    return -1;
}

int t_dev_open(liteipc_kernel *k)
{
    return t_err(ltk_dev_open(k));
}

int t_dev_setup(liteipc_kernel *k, size_t pool_size, void **pool)
{
    return t_err(ltk_dev_setup(k, pool_size, pool));
}

/* Unlike ltk_call, a reply nobody asked for is left in the pool, as the tests expect. */
int t_call(liteipc_kernel *k, int fd, uint32_t handle, uint32_t code, const void *data,
           uint32_t size, IpcMsg **reply)
{
    IpcMsg *r = NULL;
    int rc = ltk_call(k, fd, handle, code, data, size, &r);

    if (rc == 0 && reply)
        *reply = r;
    return t_err(rc);
}

int t_send(liteipc_kernel *k, int fd, uint32_t handle, uint32_t code, uint32_t flag,
           const void *data, uint32_t size)
{
    return t_err(ltk_send(k, fd, handle, code, flag, data, size));
}

int t_recv(liteipc_kernel *k, int fd, IpcMsg **msg)
{
    return t_err(ltk_recv(k, fd, msg));
}

int t_reply(liteipc_kernel *k, int fd, const IpcMsg *req, const void *data, uint32_t size)
{
    return t_err(ltk_reply(k, fd, req, data, size));
}

int t_failed_reply(liteipc_kernel *k, int fd, const IpcMsg *req)
{
    return t_err(ltk_failed_reply(k, fd, req));
}

int t_free(liteipc_kernel *k, int fd, const void *buf)
{
    return t_err(ltk_free(k, fd, buf));
}

int t_set_cms(liteipc_kernel *k, int fd, unsigned long max_msg_size)
{
    return t_err(ltk_set_cms(k, fd, max_msg_size));
}

int t_set_ipc_thread(liteipc_kernel *k, int fd)
{
    return t_err(ltk_set_ipc_thread(k, fd));
}

int t_gen_handle(liteipc_kernel *k, int fd, uint32_t tid, uint32_t *handle)
{
    return t_err(ltk_gen_handle(k, fd, tid, handle));
}

int t_add_access(liteipc_kernel *k, int fd, uint32_t tid, uint32_t handle)
{
    return t_err(ltk_add_access(k, fd, tid, handle));
}

int t_prime_task(liteipc_kernel *k, int fd)
{
    return t_err(ltk_prime_task(k, fd));
}

bool t_inside(const void *p, size_t n, const void *base, size_t len)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;

    return p != NULL && a >= b && n <= len && a - b <= len - n;
}

void t_fill(void *buf, size_t n, unsigned seed)
{
    unsigned char *b = buf;
    uint32_t x = seed * 2654435761u + 1u;

    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)x;
    }
}

bool t_check_fill(const void *buf, size_t n, unsigned seed)
{
    const unsigned char *b = buf;
    uint32_t x = seed * 2654435761u + 1u;

    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (b[i] != (unsigned char)x)
            return false;
    }
    return true;
}

/* ---- virtual processes and threads -------------------------------------------------------- */

liteipc_vproc *t_vproc_start(liteipc_kernel *k, liteipc_thread_fn fn, void *arg)
{
    liteipc_vproc *vp = NULL;
    int rc = ltk_vproc_start(k, fn, arg, &vp);

    if (rc != 0)
        fail_msg("liteipc_vproc_spawn: %d (%s)", rc, liteipc_errno_name(-rc));
    return vp;
}

void *t_vproc_finish(liteipc_vproc *vp)
{
    void *res = NULL;
    int rc = ltk_vproc_finish(vp, &res);

    if (rc != 0)
        fail_msg("liteipc_vproc_join: %d (%s)", rc, liteipc_errno_name(-rc));
    return res;
}

void *t_run_in_vproc(liteipc_kernel *k, liteipc_thread_fn fn, void *arg)
{
    return t_vproc_finish(t_vproc_start(k, fn, arg));
}

pthread_t t_thread_start(liteipc_thread_fn fn, void *arg)
{
    pthread_t th;
    int rc = pthread_create(&th, NULL, fn, arg);

    if (rc != 0)
        fail_msg("pthread_create: %d", rc);
    return th;
}

void *t_thread_finish(pthread_t th)
{
    struct timespec dl;
    void *res = NULL;
    int rc;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += T_WAIT_MS / 1000u;
    rc = pthread_timedjoin_np(th, &res, &dl);
    if (rc != 0)
        fail_msg("thread did not end within %u ms (%d)", T_WAIT_MS, rc);
    return res;
}

/* ---- actors ---------------------------------------------------------------------------------- */

static void *actor_main(void *arg)
{
    t_actor *a = arg;
    size_t psz = a->pool_size ? a->pool_size : T_POOL;
    void *pool = NULL;

    a->fd = a->open_only ? t_dev_open(a->k) : t_dev_setup(a->k, psz, &pool);
    if (a->fd < 0) {
        t_fail_record(__FILE__, __LINE__, "actor setup: errno %d (%s)", errno,
                      liteipc_errno_name(errno));
        t_latch_set(&a->ready, -1);
        return NULL;
    }
    a->pool = pool;
    a->pool_len = pool ? psz : 0;
    a->tid = liteipc_self_tid(a->k);
    a->pid = liteipc_self_pid(a->k);
    if (a->prime)
        T_CHECK_OK(t_prime_task(a->k, a->fd));
    t_latch_set(&a->ready, a->tid);
    if (t_latch_wait(&a->go, NULL, T_WAIT_MS) != 0)
        t_fail_record(__FILE__, __LINE__, "actor %d: never released", a->tid);
    else if (a->body)
        a->body(a);
    liteipc_close(a->k, a->fd);
    return NULL;
}

void t_actor_start(t_actor *a, liteipc_kernel *k)
{
    long tid = -1;

    a->k = k;
    a->fd = -1;
    a->tid = -1;
    a->pid = -1;
    a->vp = NULL;
    t_latch_init(&a->ready);
    t_latch_init(&a->go);
    if (a->host_thread)
        a->th = t_thread_start(actor_main, a);
    else
        a->vp = t_vproc_start(k, actor_main, a);
    if (t_latch_wait(&a->ready, &tid, T_WAIT_MS) != 0 || tid < 0)
        t_fail_record(__FILE__, __LINE__, "actor did not become ready");
}

void t_actor_go(t_actor *a)
{
    t_latch_set(&a->go, 1);
}

void t_actor_join(t_actor *a)
{
    t_latch_set(&a->go, 1);
    if (a->host_thread)
        t_thread_finish(a->th);
    else if (a->vp)
        t_vproc_finish(a->vp);
    a->vp = NULL;
    t_latch_destroy(&a->ready);
    t_latch_destroy(&a->go);
}

/* ---- generic service ---------------------------------------------------------------------- */

static void svc_reply_result(t_svc *s, IpcMsg *m, int r, int err, uint32_t extra)
{
    int32_t res[2];

    res[0] = r == 0 ? 0 : -err;
    res[1] = (int32_t)extra;
    T_CHECK_OK(t_reply(s->k, s->fd, m, res, sizeof(res)));
}

static bool svc_builtin(t_svc *s, IpcMsg *m)
{
    uint32_t handle = 0;
    int r;

    switch (m->code) {
    case T_CODE_QUIT:
        if (m->flag == LITEIPC_FLAG_ONEWAY)
            T_CHECK_OK(t_free(s->k, s->fd, m));
        else
            T_CHECK_OK(t_reply(s->k, s->fd, m, NULL, 0));
        return false;
    case T_CODE_REGISTER:
        r = t_gen_handle(s->k, s->fd, m->taskID, &handle);
        svc_reply_result(s, m, r, errno, handle);
        return true;
    case T_CODE_GRANT:
        if (m->dataSz >= sizeof(uint32_t))
            memcpy(&handle, m->data, sizeof(handle));
        r = t_add_access(s->k, s->fd, m->taskID, handle);
        svc_reply_result(s, m, r, errno, 0);
        return true;
    default:
        if (m->flag == LITEIPC_FLAG_ONEWAY) {
            s->oneways++;
            T_CHECK_OK(t_free(s->k, s->fd, m));
        } else {
            T_CHECK_OK(t_reply(s->k, s->fd, m, m->data, m->dataSz));
        }
        return true;
    }
}

static void *svc_main(void *arg)
{
    t_svc *s = arg;
    liteipc_kernel *k = s->k;
    size_t psz = s->pool_size ? s->pool_size : T_POOL;
    void *pool = NULL;

    s->fd = t_dev_setup(k, psz, &pool);
    if (s->fd < 0) {
        t_fail_record(__FILE__, __LINE__, "service setup: errno %d", errno);
        t_latch_set(&s->ready, -1);
        return NULL;
    }
    s->pool = pool;
    s->pool_len = psz;
    s->tid = liteipc_self_tid(k);
    s->pid = liteipc_self_pid(k);
    if (s->cms_size)
        T_CHECK_OK(t_set_cms(k, s->fd, s->cms_size));
    if (s->ipc_thread)
        T_CHECK_EQ(t_set_ipc_thread(k, s->fd), s->tid);
    if (!s->no_prime)
        T_CHECK_OK(t_prime_task(k, s->fd));
    t_latch_set(&s->ready, s->tid);

    for (;;) {
        IpcMsg *m = NULL;

        if (t_recv(k, s->fd, &m) != 0) {
            s->exit_errno = errno;
            break;
        }
        if (m->type == MT_DEATH_NOTIFY) {
            if (s->deaths++ == 0) {
                s->death_msg = *m;
                t_latch_set(&s->death, (long)m->target.token);
            }
            T_CHECK_OK(t_free(k, s->fd, m));
            continue;
        }
        if (m->type != MT_REQUEST) {
            s->strays++;
            T_CHECK_OK(t_free(k, s->fd, m));
            continue;
        }
        if (m->code != T_CODE_QUIT)
            s->requests++;
        if (s->handler && m->code != T_CODE_QUIT) {
            int h = s->handler(s, m);
            if (h == T_SVC_HANDLED)
                continue;
            if (h == T_SVC_STOP)
                break;
        }
        if (!svc_builtin(s, m))
            break;
    }
    liteipc_close(k, s->fd);
    return NULL;
}

void t_svc_start(t_svc *s, liteipc_kernel *k)
{
    long tid = -1;

    s->k = k;
    s->fd = -1;
    s->tid = -1;
    s->pid = -1;
    s->exit_errno = 0;
    t_latch_init(&s->ready);
    t_latch_init(&s->death);
    s->vp = t_vproc_start(k, svc_main, s);
    if (t_latch_wait(&s->ready, &tid, T_WAIT_MS) != 0)
        fail_msg("service did not become ready");
    if (tid < 0)
        fail_msg("service setup failed");
}

int t_svc_quit(const t_svc *s, liteipc_kernel *k, int fd, bool via_handle0)
{
    return t_send(k, fd, via_handle0 ? 0u : (uint32_t)s->tid, T_CODE_QUIT, LITEIPC_FLAG_ONEWAY,
                  NULL, 0);
}

void t_svc_join(t_svc *s)
{
    if (s->vp)
        t_vproc_finish(s->vp);
    s->vp = NULL;
    t_latch_destroy(&s->ready);
    t_latch_destroy(&s->death);
}

static int cms_request(liteipc_kernel *k, int fd, uint32_t code, uint32_t arg, uint32_t *extra)
{
    IpcMsg *r = NULL;
    int32_t res[2] = {-EPROTO, 0};

    if (t_call(k, fd, 0, code, &arg, sizeof(arg), &r) != 0)
        return -1;
    if (r->dataSz >= sizeof(res))
        memcpy(res, r->data, sizeof(res));
    t_free(k, fd, r);
    if (extra)
        *extra = (uint32_t)res[1];
    if (res[0] != 0) {
        errno = -res[0];
        return -1;
    }
    return 0;
}

int t_request_grant(liteipc_kernel *k, int fd, uint32_t handle)
{
    return cms_request(k, fd, T_CODE_GRANT, handle, NULL);
}

int t_request_register(liteipc_kernel *k, int fd)
{
    return cms_request(k, fd, T_CODE_REGISTER, 0, NULL);
}
