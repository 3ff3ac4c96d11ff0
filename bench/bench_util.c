/* SPDX-License-Identifier: Apache-2.0 */
/* bench_util.c - shared helpers of the benchmark programs (see bench_util.h). */
#include "bench_util.h"

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const unsigned bench_payloads[3] = {16u, 1024u, 6144u};

static const char *watchdog_who = "bench";
static unsigned watchdog_seconds = BENCH_WATCHDOG_S;

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_die(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "%s: ", watchdog_who);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void bench_samples_init(bench_samples *s, size_t cap)
{
    s->ns = malloc(cap * sizeof(*s->ns));
    if (!s->ns)
        bench_die("out of memory for %zu samples", cap);
    /* Touch every page now, so that no page fault lands inside a measured iteration. */
    memset(s->ns, 0, cap * sizeof(*s->ns));
    s->n = 0;
    s->cap = cap;
}

void bench_samples_free(bench_samples *s)
{
    free(s->ns);
    s->ns = NULL;
    s->n = s->cap = 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

double bench_quantile_ns(bench_samples *s, double q)
{
    size_t i;

    if (s->n == 0)
        return 0.0;
    qsort(s->ns, s->n, sizeof(*s->ns), cmp_u64);
    i = (size_t)(q * (double)(s->n - 1) + 0.5);
    return (double)s->ns[i < s->n ? i : s->n - 1];
}

void bench_row(const char *mechanism, unsigned payload, bench_samples *s)
{
    double med = bench_quantile_ns(s, 0.5) / 1000.0, p99 = bench_quantile_ns(s, 0.99) / 1000.0;

    printf("ROW\t%s\t%u\t%zu\t%.3f\t%.3f\n", mechanism, payload, s->n, med, p99);
    fflush(stdout);
}

void bench_rtt_run(const bench_rtt *r, const bench_opts *o)
{
    static unsigned char req[3][BENCH_MAX_PAYLOAD];
    bench_samples s[3];
    unsigned done[3] = {0, 0, 0}, total = o->warmup + o->iters;

    for (int p = 0; p < 3; p++) {
        bench_fill(req[p], bench_payloads[p], bench_payloads[p]);
        bench_samples_init(&s[p], o->iters);
    }
    while (done[2] < total) {
        for (int p = 0; p < 3; p++) {
            unsigned payload = bench_payloads[p];
            unsigned end = done[p] + BENCH_RTT_BLOCK < total ? done[p] + BENCH_RTT_BLOCK : total;

            for (; done[p] < end; done[p]++) {
                uint64_t t0 = bench_now_ns(), t1;
                int rc = r->call(r->ctx, req[p], payload);

                t1 = bench_now_ns();
                if (rc == 0 && r->check)
                    rc = r->check(r->ctx, req[p], payload);
                if (rc < 0)
                    bench_die("%s: %u B round trip: %s", r->mechanism, payload, strerror(-rc));
                if (done[p] >= o->warmup)
                    bench_samples_add(&s[p], t1 - t0);
            }
        }
    }
    for (int p = 0; p < 3; p++) {
        bench_row(r->mechanism, bench_payloads[p], &s[p]);
        bench_samples_free(&s[p]);
    }
}

void bench_metric(const char *name, double value, const char *note)
{
    printf("METRIC\t%s\t%.6g\t%s\n", name, value, note ? note : "");
    fflush(stdout);
}

static unsigned parse_uint(const char *s, const char *opt)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v > 100000000ul)
        bench_die("bad value '%s' for %s", s, opt);
    return (unsigned)v;
}

void bench_parse(int argc, char **argv, int first, bench_opts *o)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];

        if (i + 1 >= argc)
            bench_die("option %s needs a value (options: --iters --warmup --address --seconds "
                      "--count)", a);
        if (strcmp(a, "--iters") == 0)
            o->iters = parse_uint(argv[++i], a);
        else if (strcmp(a, "--warmup") == 0)
            o->warmup = parse_uint(argv[++i], a);
        else if (strcmp(a, "--address") == 0)
            o->address = argv[++i];
        else if (strcmp(a, "--seconds") == 0)
            o->seconds = strtod(argv[++i], NULL);
        else if (strcmp(a, "--count") == 0)
            o->count = parse_uint(argv[++i], a);
        else
            bench_die("unknown option %s", a);
    }
    if (o->iters == 0)
        bench_die("--iters must be at least 1");
}

static void on_alarm(int sig)
{
    static const char msg[] = ": watchdog: no progress, giving up\n";

    (void)sig;
    if (write(STDERR_FILENO, watchdog_who, strlen(watchdog_who)) < 0 ||
        write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
        /* nothing more to do */
    }
    _exit(3);
}

void bench_watchdog(unsigned seconds, const char *who)
{
    watchdog_who = who;
    watchdog_seconds = seconds;
    signal(SIGALRM, on_alarm);
    alarm(seconds);
}

void *bench_shared_alloc(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        bench_die("mmap of %zu shared bytes: %s", size, strerror(errno));
    memset(p, 0, size);
    return p;
}

void bench_futex_wait(_Atomic uint32_t *w, uint32_t expected)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, expected, NULL, NULL, 0);
}

void bench_futex_wake(_Atomic uint32_t *w, int n)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, n, NULL, NULL, 0);
}

void bench_gate_wait(bench_gate *g)
{
    while (atomic_load_explicit(&g->open, memory_order_acquire) == 0)
        bench_futex_wait(&g->open, 0);
}

void bench_gate_open(bench_gate *g)
{
    atomic_store_explicit(&g->open, 1, memory_order_release);
    bench_futex_wake(&g->open, 1 << 30);
}

void bench_gate_arrive(bench_gate *g)
{
    atomic_fetch_add(&g->arrived, 1);
    bench_futex_wake(&g->arrived, 1 << 30);
}

void bench_gate_wait_arrived(bench_gate *g, uint32_t n)
{
    for (;;) {
        uint32_t a = atomic_load(&g->arrived);

        if (a >= n)
            return;
        bench_futex_wait(&g->arrived, a);
    }
}

pid_t bench_fork(void)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0)
        alarm(watchdog_seconds);
    return pid;
}

int bench_wait_child(pid_t pid, const char *what)
{
    int status = 0;
    pid_t r;

    do {
        r = waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r != pid) {
        fprintf(stderr, "%s: waitpid(%s): %s\n", watchdog_who, what, strerror(errno));
        return -1;
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "%s: %s killed by signal %d\n", watchdog_who, what, WTERMSIG(status));
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s: %s exited with %d\n", watchdog_who, what, WEXITSTATUS(status));
        return -1;
    }
    return 0;
}

void bench_fill(unsigned char *buf, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(seed + i * 31u);
}
