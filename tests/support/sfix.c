/* SPDX-License-Identifier: Apache-2.0 */
/* sfix.c - fixtures and helpers for the full-stack tests (see sfix.h). */
#include "sfix.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ---- failures recorded by threads ---------------------------------------------------------- */

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int fail_count;
static char fail_text[512];

void t_fail_record(const char *file, int line, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "[thread check] %s:%d: %s\n", file, line, msg);
    pthread_mutex_lock(&fail_lock);
    if (atomic_fetch_add(&fail_count, 1) == 0)
        snprintf(fail_text, sizeof(fail_text), "%s:%d: %s", file, line, msg);
    pthread_mutex_unlock(&fail_lock);
}

bool t_failed(void)
{
    return atomic_load(&fail_count) != 0;
}

void t_fail_reset(void)
{
    pthread_mutex_lock(&fail_lock);
    atomic_store(&fail_count, 0);
    fail_text[0] = '\0';
    pthread_mutex_unlock(&fail_lock);
}

void t_assert_threads_ok(void)
{
    char text[sizeof(fail_text)];
    int n;

    pthread_mutex_lock(&fail_lock);
    n = atomic_load(&fail_count);
    memcpy(text, fail_text, sizeof(text));
    pthread_mutex_unlock(&fail_lock);
    if (n != 0)
        fail_msg("%d failed check(s) in test threads; first: %s", n, text);
}

const char *t_errname(int e)
{
    switch (e) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case ETIME: return "ETIME";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ESHUTDOWN: return "ESHUTDOWN";
    case ERFKILL: return "ERFKILL";
    case ENOTTY: return "ENOTTY";
    default: return "?";
    }
}

/* ---- time, latches ----------------------------------------------------------------------------- */

uint64_t t_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timespec deadline_after(unsigned ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000u;
    ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

void t_latch_init(t_latch *l)
{
    pthread_mutex_init(&l->m, NULL);
    cond_init_monotonic(&l->c);
    l->set = 0;
    l->value = 0;
}

void t_latch_destroy(t_latch *l)
{
    pthread_cond_destroy(&l->c);
    pthread_mutex_destroy(&l->m);
}

void t_latch_set(t_latch *l, long value)
{
    pthread_mutex_lock(&l->m);
    if (!l->set) {
        l->set = 1;
        l->value = value;
    }
    pthread_cond_broadcast(&l->c);
    pthread_mutex_unlock(&l->m);
}

int t_latch_wait(t_latch *l, long *value, unsigned timeout_ms)
{
    struct timespec dl = deadline_after(timeout_ms);
    int rc = 0;

    pthread_mutex_lock(&l->m);
    while (!l->set && rc == 0)
        rc = pthread_cond_timedwait(&l->c, &l->m, &dl);
    if (l->set) {
        rc = 0;
        if (value)
            *value = l->value;
    } else {
        rc = -ETIMEDOUT;
    }
    pthread_mutex_unlock(&l->m);
    return rc;
}

bool t_latch_is_set(t_latch *l)
{
    bool set;

    pthread_mutex_lock(&l->m);
    set = l->set != 0;
    pthread_mutex_unlock(&l->m);
    return set;
}

/* ---- event recorder ---------------------------------------------------------------------------- */

static void ev_sink(const liteipc_event *ev, void *ctx)
{
    t_evrec *r = ctx;
    unsigned t = (unsigned)ev->type;

    pthread_mutex_lock(&r->m);
    if (t < T_EV_TYPES) {
        r->total[t]++;
        if (ev->dst_tid >= 0 && ev->dst_tid < T_EV_TIDS)
            r->by_dst[t][ev->dst_tid]++;
        if (ev->src_tid >= 0 && ev->src_tid < T_EV_TIDS)
            r->by_src[t][ev->src_tid]++;
    }
    if (r->nlog < T_EV_LOG_MAX)
        r->log[r->nlog++] = *ev;
    else
        r->dropped++;
    pthread_cond_broadcast(&r->c);
    pthread_mutex_unlock(&r->m);
}

int t_evrec_start(t_evrec *r, liteipc_kernel *k)
{
    int id;

    memset(r->by_dst, 0, sizeof(r->by_dst));
    memset(r->by_src, 0, sizeof(r->by_src));
    memset(r->total, 0, sizeof(r->total));
    r->nlog = 0;
    r->dropped = 0;
    pthread_mutex_init(&r->m, NULL);
    cond_init_monotonic(&r->c);
    r->k = k;
    id = liteipc_subscribe(k, ev_sink, r);
    r->sub_id = id < 0 ? -1 : id;
    return id < 0 ? id : 0;
}

void t_evrec_stop(t_evrec *r)
{
    if (r->sub_id >= 0 && r->k)
        liteipc_unsubscribe(r->k, r->sub_id);
    r->sub_id = -1;
}

static unsigned count_locked(t_evrec *r, liteipc_event_type type, int tid, bool src)
{
    unsigned t = (unsigned)type;

    if (t >= T_EV_TYPES)
        return 0;
    if (tid < 0)
        return r->total[t];
    if (tid >= T_EV_TIDS)
        return 0;
    return src ? r->by_src[t][tid] : r->by_dst[t][tid];
}

unsigned t_ev_count(t_evrec *r, liteipc_event_type type, int tid)
{
    unsigned n;

    pthread_mutex_lock(&r->m);
    n = count_locked(r, type, tid, false);
    pthread_mutex_unlock(&r->m);
    return n;
}

unsigned t_ev_count_src(t_evrec *r, liteipc_event_type type, int tid)
{
    unsigned n;

    pthread_mutex_lock(&r->m);
    n = count_locked(r, type, tid, true);
    pthread_mutex_unlock(&r->m);
    return n;
}

static int ev_wait(t_evrec *r, liteipc_event_type type, int tid, unsigned min, unsigned ms,
                   bool src)
{
    struct timespec dl = deadline_after(ms);
    int rc = 0;

    pthread_mutex_lock(&r->m);
    while (count_locked(r, type, tid, src) < min && rc == 0)
        rc = pthread_cond_timedwait(&r->c, &r->m, &dl);
    rc = count_locked(r, type, tid, src) >= min ? 0 : -ETIMEDOUT;
    pthread_mutex_unlock(&r->m);
    return rc;
}

int t_ev_wait(t_evrec *r, liteipc_event_type type, int tid, unsigned min, unsigned timeout_ms)
{
    return ev_wait(r, type, tid, min, timeout_ms, false);
}

int t_ev_wait_src(t_evrec *r, liteipc_event_type type, int tid, unsigned min,
                  unsigned timeout_ms)
{
    return ev_wait(r, type, tid, min, timeout_ms, true);
}

size_t t_ev_collect(t_evrec *r, int type, int tid, liteipc_event *out, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&r->m);
    for (size_t i = 0; i < r->nlog && n < max; i++) {
        const liteipc_event *e = &r->log[i];

        if (type >= 0 && (int)e->type != type)
            continue;
        if (tid >= 0 && e->dst_tid != tid && e->src_tid != tid)
            continue;
        out[n++] = *e;
    }
    pthread_mutex_unlock(&r->m);
    return n;
}

/* ---- leak checks ----------------------------------------------------------------------------- */

int t_shm_count_ours(void)
{
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (strcasestr(e->d_name, "liteipc") || strncmp(e->d_name, "lk-", 3) == 0 ||
            strncmp(e->d_name, "lk_", 3) == 0)
            n++;
    }
    closedir(d);
    return n;
}

int t_memfd_map_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, "/memfd:liteipc"))
            n++;
    fclose(f);
    return n;
}

int t_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* ---- watchdog ------------------------------------------------------------------------------- */

static void watchdog_fired(int sig)
{
    static const char msg[] = "\n[sfix] watchdog: the test ran longer than T_WATCHDOG_S "
                              "(a lost wake-up or a hang); aborting the test binary\n";
    (void)sig;
    if (write(2, msg, sizeof(msg) - 1) < 0) {
        /* nothing more to do */
    }
    _exit(99);
}

static void watchdog_arm(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = watchdog_fired;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(T_WATCHDOG_S);
}

/* ---- virtual processes tracked for teardown ----------------------------------------------- */

#define T_MAX_VPROCS 64
static liteipc_vproc *live_vprocs[T_MAX_VPROCS];

static void vproc_track(liteipc_vproc *vp, bool add)
{
    for (int i = 0; i < T_MAX_VPROCS; i++) {
        if (add && live_vprocs[i] == NULL) {
            live_vprocs[i] = vp;
            return;
        }
        if (!add && live_vprocs[i] == vp) {
            live_vprocs[i] = NULL;
            return;
        }
    }
}

static int vprocs_unjoined(void)
{
    int n = 0;

    for (int i = 0; i < T_MAX_VPROCS; i++)
        n += live_vprocs[i] != NULL;
    return n;
}

/* ---- fixture --------------------------------------------------------------------------------- */

int t_setup_with(void **state, const liteipc_config *cfg)
{
    t_ctx *c = calloc(1, sizeof(*c));
    int rc;

    if (!c)
        return -1;
    c->ev = calloc(1, sizeof(*c->ev));
    if (!c->ev) {
        free(c);
        return -1;
    }
    watchdog_arm();
    t_fail_reset();
    c->shm_before = t_shm_count_ours();
    c->memfd_before = t_memfd_map_count();
    c->fds_before = t_fd_count();
    if (cfg)
        c->cfg = *cfg;
    else
        liteipc_config_init(&c->cfg);
    rc = liteipc_kernel_start(&c->cfg, &c->k);
    if (rc != 0) {
        print_error("liteipc_kernel_start: %d (%s)\n", rc, t_errname(-rc));
        free(c->ev);
        free(c);
        return -1;
    }
    rc = t_evrec_start(c->ev, c->k);
    if (rc != 0) {
        print_error("liteipc_subscribe: %d (%s)\n", rc, t_errname(-rc));
        liteipc_kernel_stop(c->k);
        free(c->ev);
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

int t_setup(void **state)
{
    return t_setup_with(state, NULL);
}

int t_setup_fast(void **state)
{
    liteipc_config cfg;

    liteipc_config_init(&cfg);
    cfg.reply_timeout_ms = T_FAST_TIMEOUT_MS;
    return t_setup_with(state, &cfg);
}

int t_kernel_stop_now(t_ctx *c)
{
    int rc;

    t_evrec_stop(c->ev);
    rc = liteipc_kernel_stop(c->k);
    c->k = NULL;
    c->ev->k = NULL;
    return rc;
}

int t_teardown(void **state)
{
    t_ctx *c = *state;
    int rc = 0, n;

    if (!c)
        return 0;
    if (vprocs_unjoined() != 0)
        print_error("[sfix] %d virtual process(es) not joined by the test\n", vprocs_unjoined());
    if (c->k) {
        int r = t_kernel_stop_now(c);
        if (r != 0) {
            print_error("[sfix] liteipc_kernel_stop: %d\n", r);
            rc = -1;
        }
    }
    /* Virtual processes a failed test left behind: the stop released their blocked calls. */
    for (int i = 0; i < T_MAX_VPROCS; i++) {
        if (live_vprocs[i]) {
            liteipc_vproc_join(live_vprocs[i], NULL);
            live_vprocs[i] = NULL;
        }
    }
    n = t_shm_count_ours();
    if (n > c->shm_before) {
        print_error("[sfix] %d liteipc object(s) left in /dev/shm\n", n - c->shm_before);
        rc = -1;
    }
    n = t_memfd_map_count();
    if (n > c->memfd_before) {
        print_error("[sfix] %d memfd mapping(s) left after kernel stop\n", n - c->memfd_before);
        rc = -1;
    }
    n = t_fd_count();
    if (n > c->fds_before) {
        print_error("[sfix] %d descriptor(s) left open after kernel stop\n", n - c->fds_before);
        rc = -1;
    }
    if (t_failed()) {
        print_error("[sfix] failed checks in test threads (see above)\n");
        rc = -1;
    }
    alarm(0);
    free(c->ev);
    free(c);
    *state = NULL;
    return rc;
}

/* ---- device helpers ------------------------------------------------------------------------ */

int t_dev_open(liteipc_kernel *k)
{
    return liteipc_open(k, LITEIPC_DRIVER, O_RDWR);
}

int t_dev_setup(liteipc_kernel *k, size_t pool_size, void **pool)
{
    int fd = liteipc_open(k, LITEIPC_DRIVER, O_RDWR);
    void *p;

    if (fd < 0)
        return -1;
    p = liteipc_mmap(k, NULL, pool_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        liteipc_close(k, fd);
        errno = e;
        return -1;
    }
    if (pool)
        *pool = p;
    return fd;
}

static void msg_init(IpcMsg *m, MsgType type, uint32_t handle, uint32_t code, uint32_t flag,
                     const void *data, uint32_t size)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->target.handle = handle;
    m->code = code;
    m->flag = flag;
    m->dataSz = size;
    m->data = (void *)data;
}

int t_call(liteipc_kernel *k, int fd, uint32_t handle, uint32_t code, const void *data,
           uint32_t size, IpcMsg **reply)
{
    IpcMsg out;
    IpcContent c;
    int r;

    msg_init(&out, MT_REQUEST, handle, code, LITEIPC_FLAG_DEFAULT, data, size);
    memset(&c, 0, sizeof(c));
    c.flag = SEND | RECV;
    c.outMsg = &out;
    r = liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c);
    if (r == 0 && reply)
        *reply = c.inMsg;
    return r;
}

int t_send(liteipc_kernel *k, int fd, uint32_t handle, uint32_t code, uint32_t flag,
           const void *data, uint32_t size)
{
    IpcMsg out;
    IpcContent c;

    msg_init(&out, MT_REQUEST, handle, code, flag, data, size);
    memset(&c, 0, sizeof(c));
    c.flag = SEND;
    c.outMsg = &out;
    return liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c);
}

int t_recv(liteipc_kernel *k, int fd, IpcMsg **msg)
{
    IpcContent c;
    int r;

    memset(&c, 0, sizeof(c));
    c.flag = RECV;
    r = liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c);
    if (r == 0 && msg)
        *msg = c.inMsg;
    return r;
}

static int reply_common(liteipc_kernel *k, int fd, MsgType type, const IpcMsg *req,
                        const void *data, uint32_t size)
{
    IpcMsg out;
    IpcContent c;

    msg_init(&out, type, req->taskID, req->code, req->flag, data, size);
    out.timestamp = req->timestamp;
    memset(&c, 0, sizeof(c));
    c.flag = SEND | BUFF_FREE;
    c.outMsg = &out;
    c.buffToFree = (void *)req;
    return liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c);
}

int t_reply(liteipc_kernel *k, int fd, const IpcMsg *req, const void *data, uint32_t size)
{
    return reply_common(k, fd, MT_REPLY, req, data, size);
}

int t_failed_reply(liteipc_kernel *k, int fd, const IpcMsg *req)
{
    return reply_common(k, fd, MT_FAILED_REPLY, req, NULL, 0);
}

int t_free(liteipc_kernel *k, int fd, const void *buf)
{
    IpcContent c;

    memset(&c, 0, sizeof(c));
    c.flag = BUFF_FREE;
    c.buffToFree = (void *)buf;
    return liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c);
}

int t_set_cms(liteipc_kernel *k, int fd, unsigned long max_msg_size)
{
    return liteipc_ioctl(k, fd, IPC_SET_CMS, max_msg_size);
}

int t_set_ipc_thread(liteipc_kernel *k, int fd)
{
    return liteipc_ioctl(k, fd, IPC_SET_IPC_THREAD, 0UL);
}

int t_gen_handle(liteipc_kernel *k, int fd, uint32_t tid, uint32_t *handle)
{
    CmsCmdContent c = {.cmd = CMS_GEN_HANDLE, .taskID = tid, .serviceHandle = 0xdeadbeef};
    int r = liteipc_ioctl(k, fd, IPC_CMS_CMD, &c);

    if (r == 0 && handle)
        *handle = c.serviceHandle;
    return r;
}

int t_add_access(liteipc_kernel *k, int fd, uint32_t tid, uint32_t handle)
{
    CmsCmdContent c = {.cmd = CMS_ADD_ACCESS, .taskID = tid, .serviceHandle = handle};

    return liteipc_ioctl(k, fd, IPC_CMS_CMD, &c);
}

int t_prime_task(liteipc_kernel *k, int fd)
{
    int tid = liteipc_self_tid(k);
    IpcMsg *m;

    if (tid < 0) {
        errno = -tid;
        return -1;
    }
    if (t_send(k, fd, (uint32_t)tid, 0x7e01, LITEIPC_FLAG_ONEWAY, NULL, 0) != 0)
        return -1;
    if (t_recv(k, fd, &m) != 0)
        return -1;
    return t_free(k, fd, m);
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
    int rc = liteipc_vproc_spawn(k, fn, arg, &vp);

    if (rc != 0)
        fail_msg("liteipc_vproc_spawn: %d (%s)", rc, t_errname(-rc));
    vproc_track(vp, true);
    return vp;
}

void *t_vproc_finish(liteipc_vproc *vp)
{
    void *res = NULL;
    int rc;

    vproc_track(vp, false);
    rc = liteipc_vproc_join(vp, &res);
    if (rc != 0)
        fail_msg("liteipc_vproc_join: %d (%s)", rc, t_errname(-rc));
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
        t_fail_record(__FILE__, __LINE__, "actor setup: errno %d (%s)", errno, t_errname(errno));
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
