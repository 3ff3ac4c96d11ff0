/* SPDX-License-Identifier: Apache-2.0 */
/*
 * testkit.c - the test kit (<liteipc/testkit.h>): errno names, failures recorded by threads,
 * latches, the event recorder, the watchdog and the per-test fixture. The device helpers are in
 * testkit_dev.c, the reference ServiceManager in testkit_sm.c.
 */
#include <liteipc/testkit.h>

#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testkit_int.h"

/* ---- failures recorded by threads ---------------------------------------------------------- */

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static int fail_count;
static char fail_text[400];

void ltk_fail_record(const char *file, int line, const char *fmt, ...)
{
    char msg[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "[thread check] %s:%d: %s\n", file, line, msg);
    pthread_mutex_lock(&fail_lock);
    if (fail_count++ == 0)
        snprintf(fail_text, sizeof(fail_text), "%s:%d: %s", file, line, msg);
    pthread_mutex_unlock(&fail_lock);
}

int ltk_failures(char *buf, size_t size)
{
    int n;

    pthread_mutex_lock(&fail_lock);
    n = fail_count;
    if (buf && size)
        snprintf(buf, size, "%s", fail_text);
    pthread_mutex_unlock(&fail_lock);
    return n;
}

void ltk_fail_reset(void)
{
    pthread_mutex_lock(&fail_lock);
    fail_count = 0;
    fail_text[0] = '\0';
    pthread_mutex_unlock(&fail_lock);
}

/* ---- time, latches ----------------------------------------------------------------------- */

struct timespec ltk__deadline(unsigned ms)
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

bool ltk__passed(const struct timespec *deadline)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Deadlines are on CLOCK_MONOTONIC: a change of the wall clock does not stretch a wait. */
void ltk__cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

void ltk_latch_init(ltk_latch *l)
{
    pthread_mutex_init(&l->m, NULL);
    ltk__cond_init(&l->c);
    l->set = 0;
    l->value = 0;
}

void ltk_latch_destroy(ltk_latch *l)
{
    pthread_cond_destroy(&l->c);
    pthread_mutex_destroy(&l->m);
}

void ltk_latch_set(ltk_latch *l, long value)
{
    pthread_mutex_lock(&l->m);
    if (!l->set) {
        l->set = 1;
        l->value = value;
    }
    pthread_cond_broadcast(&l->c);
    pthread_mutex_unlock(&l->m);
}

int ltk_latch_wait(ltk_latch *l, long *value, unsigned timeout_ms)
{
    struct timespec dl = ltk__deadline(timeout_ms);
    int rc = 0;

    pthread_mutex_lock(&l->m);
    while (!l->set && rc == 0)
        rc = pthread_cond_timedwait(&l->c, &l->m, &dl);
    rc = l->set ? 0 : -ETIMEDOUT;
    if (rc == 0 && value)
        *value = l->value;
    pthread_mutex_unlock(&l->m);
    return rc;
}

bool ltk_latch_is_set(ltk_latch *l)
{
    bool set;

    pthread_mutex_lock(&l->m);
    set = l->set != 0;
    pthread_mutex_unlock(&l->m);
    return set;
}

/* ---- event recorder ------------------------------------------------------------------------- */

_Static_assert(LITEIPC_EV_INJECTED < LTK_EV_TYPES, "LTK_EV_TYPES must count every event type");

/* On the broker thread: quick, and never calls the device. */
static void ev_sink(const liteipc_event *ev, void *ctx)
{
    ltk_evrec *r = ctx;
    unsigned t = (unsigned)ev->type;

    pthread_mutex_lock(&r->m);
    if (t < LTK_EV_TYPES) {
        r->total[t]++;
        if (ev->dst_tid >= 0 && ev->dst_tid < LTK_EV_TIDS)
            r->by_dst[t][ev->dst_tid]++;
        if (ev->src_tid >= 0 && ev->src_tid < LTK_EV_TIDS)
            r->by_src[t][ev->src_tid]++;
    }
    if (r->nlog < LTK_EV_LOG_MAX)
        r->log[r->nlog++] = *ev;
    else
        r->dropped++;
    pthread_cond_broadcast(&r->c);
    pthread_mutex_unlock(&r->m);
}

int ltk_evrec_start(ltk_evrec *r, liteipc_kernel *k)
{
    int id;

    memset(r->by_dst, 0, sizeof(r->by_dst));
    memset(r->by_src, 0, sizeof(r->by_src));
    memset(r->total, 0, sizeof(r->total));
    r->nlog = 0;
    r->dropped = 0;
    pthread_mutex_init(&r->m, NULL);
    ltk__cond_init(&r->c);
    r->k = k;
    id = liteipc_subscribe(k, ev_sink, r);
    r->sub_id = id < 0 ? -1 : id;
    return id < 0 ? id : 0;
}

void ltk_evrec_stop(ltk_evrec *r)
{
    if (r->sub_id >= 0 && r->k)
        liteipc_unsubscribe(r->k, r->sub_id);
    r->sub_id = -1;
}

void ltk_evrec_destroy(ltk_evrec *r)
{
    ltk_evrec_stop(r);
    pthread_cond_destroy(&r->c);
    pthread_mutex_destroy(&r->m);
}

static unsigned count_locked(ltk_evrec *r, liteipc_event_type type, int tid, bool src)
{
    unsigned t = (unsigned)type;

    if (t >= LTK_EV_TYPES)
        return 0;
    if (tid < 0)
        return r->total[t];
    if (tid >= LTK_EV_TIDS)
        return 0;
    return src ? r->by_src[t][tid] : r->by_dst[t][tid];
}

static unsigned ev_count(ltk_evrec *r, liteipc_event_type type, int tid, bool src)
{
    unsigned n;

    pthread_mutex_lock(&r->m);
    n = count_locked(r, type, tid, src);
    pthread_mutex_unlock(&r->m);
    return n;
}

unsigned ltk_ev_count(ltk_evrec *r, liteipc_event_type type, int tid)
{
    return ev_count(r, type, tid, false);
}

unsigned ltk_ev_count_src(ltk_evrec *r, liteipc_event_type type, int tid)
{
    return ev_count(r, type, tid, true);
}

static int ev_wait(ltk_evrec *r, liteipc_event_type type, int tid, unsigned min, unsigned ms,
                   bool src)
{
    struct timespec dl = ltk__deadline(ms);
    int rc = 0;

    pthread_mutex_lock(&r->m);
    while (count_locked(r, type, tid, src) < min && rc == 0)
        rc = pthread_cond_timedwait(&r->c, &r->m, &dl);
    rc = count_locked(r, type, tid, src) >= min ? 0 : -ETIMEDOUT;
    pthread_mutex_unlock(&r->m);
    return rc;
}

int ltk_ev_wait(ltk_evrec *r, liteipc_event_type type, int tid, unsigned min,
                unsigned timeout_ms)
{
    return ev_wait(r, type, tid, min, timeout_ms, false);
}

int ltk_ev_wait_src(ltk_evrec *r, liteipc_event_type type, int tid, unsigned min,
                    unsigned timeout_ms)
{
    return ev_wait(r, type, tid, min, timeout_ms, true);
}

size_t ltk_ev_collect(ltk_evrec *r, int type, int tid, liteipc_event *out, size_t max)
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

/* ---- watchdog ----------------------------------------------------------------------------- */

/* Composed when armed: the handler may only write(2) and _exit(2). */
static char watchdog_msg[256];
static size_t watchdog_len;

static void watchdog_fired(int sig)
{
    (void)sig;
    if (write(2, watchdog_msg, watchdog_len) < 0) {
        /* nothing more to do */
    }
    _exit(99);
}

void ltk_watchdog_arm(unsigned seconds)
{
    extern char *program_invocation_short_name;
    struct sigaction sa;
    int n;

    n = snprintf(watchdog_msg, sizeof(watchdog_msg),
                 "\n[liteipc testkit] watchdog: %s ran longer than %u s in one test (a hang "
                 "or a lost wake-up); ending it with status 99\n",
                 program_invocation_short_name, seconds);
    watchdog_len = n < 0 ? 0 : (size_t)n < sizeof(watchdog_msg) ? (size_t)n
                                                                 : sizeof(watchdog_msg) - 1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = watchdog_fired;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(seconds);
}

void ltk_watchdog_disarm(void)
{
    alarm(0);
}

/* ---- leak counts --------------------------------------------------------------------------- */

/* Entries of dir for which ours(name) holds; -1 if dir cannot be read. */
static int count_entries(const char *dir, bool (*ours)(const char *name))
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += ours(e->d_name);
    closedir(d);
    return n;
}

static bool liteipc_shm(const char *name)
{
    return strcasestr(name, "liteipc") || strncmp(name, "lk-", 3) == 0 ||
           strncmp(name, "lk_", 3) == 0;
}

static bool not_dot(const char *name)
{
    return name[0] != '.';
}

int ltk_shm_count_ours(void)
{
    int n = count_entries("/dev/shm", liteipc_shm);

    return n < 0 ? 0 : n;
}

int ltk_memfd_map_count(void)
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

int ltk_fd_count(void)
{
    int n = count_entries("/proc/self/fd", not_dot);

    return n < 1 ? 0 : n - 1; /* the directory's own descriptor */
}

/* ---- virtual processes the teardown joins ------------------------------------------------- */

#define LTK_MAX_VPROCS 64
static liteipc_vproc *live_vprocs[LTK_MAX_VPROCS];

static void vproc_track(liteipc_vproc *vp, bool add)
{
    for (int i = 0; i < LTK_MAX_VPROCS; i++) {
        if (live_vprocs[i] == (add ? NULL : vp)) {
            live_vprocs[i] = add ? vp : NULL;
            return;
        }
    }
}

int ltk_vproc_start(liteipc_kernel *k, liteipc_thread_fn fn, void *arg, liteipc_vproc **out)
{
    int rc = liteipc_vproc_spawn(k, fn, arg, out);

    if (rc == 0)
        vproc_track(*out, true);
    return rc;
}

int ltk_vproc_finish(liteipc_vproc *vp, void **first_result)
{
    vproc_track(vp, false);
    return liteipc_vproc_join(vp, first_result);
}

static int join_left_vprocs(void)
{
    int n = 0;

    for (int i = 0; i < LTK_MAX_VPROCS; i++) {
        if (live_vprocs[i]) {
            liteipc_vproc_join(live_vprocs[i], NULL);
            live_vprocs[i] = NULL;
            n++;
        }
    }
    return n;
}

static int vprocs_left(void)
{
    int n = 0;

    for (int i = 0; i < LTK_MAX_VPROCS; i++)
        n += live_vprocs[i] != NULL;
    return n;
}

/* ---- fixture ----------------------------------------------------------------------------- */

static void fixture_free(ltk_fixture *f)
{
    if (f->ev)
        ltk_evrec_destroy(f->ev);
    free(f->ev);
    free(f);
}

int ltk_setup_with(void **state, const liteipc_config *cfg)
{
    ltk_fixture *f = calloc(1, sizeof(*f));
    int rc;

    if (!f || !(f->ev = calloc(1, sizeof(*f->ev)))) {
        fprintf(stderr, "[liteipc testkit] setup: out of memory\n");
        free(f);
        return -1;
    }
    ltk_watchdog_arm(LTK_WATCHDOG_S);
    ltk_fail_reset();
    f->shm_before = ltk_shm_count_ours();
    f->memfd_before = ltk_memfd_map_count();
    f->fds_before = ltk_fd_count();
    if (cfg)
        f->cfg = *cfg;
    else
        liteipc_config_init(&f->cfg);
    rc = liteipc_kernel_start(&f->cfg, &f->k);
    if (rc != 0) {
        fprintf(stderr, "[liteipc testkit] liteipc_kernel_start: %s\n", liteipc_errno_name(rc));
        goto fail;
    }
    rc = ltk_evrec_start(f->ev, f->k);
    if (rc != 0) {
        fprintf(stderr, "[liteipc testkit] liteipc_subscribe: %s\n", liteipc_errno_name(rc));
        liteipc_kernel_stop(f->k);
        goto fail;
    }
    *state = f;
    return 0;
fail:
    pthread_cond_destroy(&f->ev->c);
    pthread_mutex_destroy(&f->ev->m);
    free(f->ev);
    free(f);
    return -1;
}

int ltk_setup(void **state)
{
    return ltk_setup_with(state, NULL);
}

int ltk_setup_fast(void **state)
{
    liteipc_config cfg;

    liteipc_config_init(&cfg);
    cfg.reply_timeout_ms = LTK_FAST_TIMEOUT_MS;
    return ltk_setup_with(state, &cfg);
}

int ltk_setup_sm(void **state)
{
    ltk_fixture *f;
    int rc;

    if (ltk_setup_fast(state) != 0)
        return -1;
    f = *state;
    rc = ltk_sm_start(f->k, &f->sm);
    if (rc != 0) {
        fprintf(stderr, "[liteipc testkit] ltk_sm_start: %s\n", liteipc_errno_name(rc));
        ltk_teardown(state);
        return -1;
    }
    return 0;
}

int ltk_kernel_stop_now(ltk_fixture *f)
{
    int rc;

    ltk_evrec_stop(f->ev);
    rc = liteipc_kernel_stop(f->k);
    f->k = NULL;
    f->ev->k = NULL;
    return rc;
}

/* One leak check of the teardown: prints what is left, -1 if anything is. */
static int check_left(const char *what, int now, int before)
{
    if (now <= before)
        return 0;
    fprintf(stderr, "[liteipc testkit] %d %s left after the test\n", now - before, what);
    return -1;
}

int ltk_teardown(void **state)
{
    ltk_fixture *f = *state;
    int rc = 0, r;

    if (!f)
        return 0;
    if (f->sm && (r = ltk_sm_stop(f->sm)) != 0) {
        fprintf(stderr, "[liteipc testkit] ltk_sm_stop: %s\n", liteipc_errno_name(r));
        rc = -1;
    }
    f->sm = NULL;
    if (vprocs_left() != 0)
        fprintf(stderr, "[liteipc testkit] %d virtual process(es) not joined by the test\n",
                vprocs_left());
    if (f->k && (r = ltk_kernel_stop_now(f)) != 0) {
        fprintf(stderr, "[liteipc testkit] liteipc_kernel_stop: %s\n", liteipc_errno_name(r));
        rc = -1;
    }
    /* Processes a failed test left behind: the stop released their blocked calls. */
    join_left_vprocs();
    rc |= check_left("liteipc object(s) in /dev/shm", ltk_shm_count_ours(), f->shm_before);
    rc |= check_left("memfd mapping(s)", ltk_memfd_map_count(), f->memfd_before);
    rc |= check_left("open descriptor(s)", ltk_fd_count(), f->fds_before);
    if (ltk_failures(NULL, 0) != 0) {
        fprintf(stderr, "[liteipc testkit] failed checks in test threads (see above)\n");
        rc = -1;
    }
    ltk_watchdog_disarm();
    fixture_free(f);
    *state = NULL;
    return rc;
}
