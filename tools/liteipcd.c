/* SPDX-License-Identifier: Apache-2.0 */
/*
 * liteipcd.c - host a named liteipc-sim kernel that separate programs attach to.
 *
 * NAME
 *     liteipcd - the simulated /dev/lite_ipc of liteipc-sim, as a daemon
 *
 * SYNOPSIS
 *     liteipcd [--name NAME] [--tasks N] [--processes N] [--pool-default BYTES]
 *              [--pool-max BYTES] [--data-max BYTES] [--objects-max N] [--timeout-ms MS]
 *              [--driver-version V] [--fd-pending-max N] [--connections-per-user N]
 *              [--exit-when-unused] [--ready-fd FD] [--trace]
 *              [--mermaid FILE] [--quiet]
 *     liteipcd --help | --version
 *
 * DESCRIPTION
 *     Starts one simulated LiteIPC kernel (liteipc_kernel_serve) under a device name and serves
 *     it until stopped. Programs reach it with liteipc_kernel_attach(NAME) or
 *     liteipc_kernel_attach_or_start(NAME); with no --name, the name is liteipc_device_name():
 *     $LITEIPC_DEVICE if set and valid, else "lite_ipc". Names are private to the host user.
 *
 *     It runs in the foreground and logs to stderr, one line per fact, each with a timestamp:
 *     the configuration at start, "ready" once it serves, the end of every task, every
 *     synchronous wait that ended with ETIME, every connection refused with EUSERS (with the
 *     program turned away), and the stop.
 *
 *     liteipc_kernel_attach_or_start() runs it as
 *         liteipcd --name NAME --exit-when-unused --ready-fd FD --quiet
 *     so these option names are an interface and must not change.
 *
 * SIGNALS
 *     SIGINT, SIGTERM, SIGHUP: stop. Every process still attached then gets ESHUTDOWN from its
 *     next device call (and any call blocked in the kernel returns with it).
 *     SIGUSR2: write the kernel's tables to the log (liteipc_kernel_dump): the ServiceManager,
 *     every process and every task, with what each one waits for.
 *
 * EXIT STATUS
 *     0 after a clean stop, 1 if the kernel could not be served (the name is already served,
 *     a limit is out of range, a system call failed), 2 for a usage error.
 *
 * NOTHING TO RECOVER
 *     A kernel lives in this process's memory, in memory files (memfd) and behind an abstract
 *     Unix socket name. None of these is in the filesystem or in /dev/shm, and the system
 *     removes all of them when the process ends, however it ends (even by SIGKILL). So a new
 *     liteipcd never has leftovers of a crashed predecessor to clean up: the name is free again
 *     as soon as the old process is gone. Programs that were attached to a dead kernel get
 *     ESHUTDOWN from their calls and must attach again.
 *
 * SECURITY
 *     The process makes itself non-dumpable (PR_SET_DUMPABLE 0), so that other processes of
 *     the same user cannot open its memory or descriptors through /proc (notably the
 *     writable mappings of every pool).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <liteipc/liteipc.h>

#define EXIT_USAGE 2
#define EVENT_RING_SIZE 256      /* events waiting to be logged; more are counted as dropped */
#define UNUSED_POLL_MS 250       /* how often the idle watcher looks at its stop flag */
#define FIRST_USE_GRACE_MS 30000 /* --exit-when-unused: default --first-use-timeout-ms */

/* ---- logging --------------------------------------------------------------------------------- */

static const char *g_name = LITEIPC_DEFAULT_DEVICE; /* for the log prefix */
static bool g_quiet;

/* "2025-01-31 12:34:56.789" for a CLOCK_REALTIME time. */
static void format_time(char *buf, size_t size, const struct timespec *ts)
{
    struct tm tm;
    char sec[32];

    localtime_r(&ts->tv_sec, &tm);
    strftime(sec, sizeof sec, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03ld", sec, ts->tv_nsec / 1000000L);
}

/* One line on stderr, written with one write(2) so that lines of two threads never mix. */
static void vlog_at(const struct timespec *when, const char *fmt, va_list ap)
{
    char line[1024], stamp[48];
    int n, m;

    format_time(stamp, sizeof stamp, when);
    n = snprintf(line, sizeof line, "%s liteipcd[%d] %s: ", stamp, (int)getpid(), g_name);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (m < 0)
        return;
    n += m;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* stderr is gone: nothing better to do */
    }
}

__attribute__((format(printf, 2, 3)))
static void log_at(const struct timespec *when, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog_at(when, fmt, ap);
    va_end(ap);
}

/* An informational line; silent with --quiet. */
__attribute__((format(printf, 1, 2)))
static void log_info(const char *fmt, ...)
{
    struct timespec now;
    va_list ap;

    if (g_quiet)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    va_start(ap, fmt);
    vlog_at(&now, fmt, ap);
    va_end(ap);
}

/* An error: always printed. */
__attribute__((format(printf, 1, 2)))
static void log_error(const char *fmt, ...)
{
    struct timespec now;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &now);
    va_start(ap, fmt);
    vlog_at(&now, fmt, ap);
    va_end(ap);
}

/* ---- kernel events: queued by the broker thread, logged by a thread of ours ------------------ */

/*
 * The event callback runs on the broker thread, which must not wait for a slow stderr (a full
 * pipe would stall every process of the kernel). So the callback only copies the event into a
 * ring under a lock held for a few instructions, and the logger thread formats and writes.
 */
struct event_log {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    liteipc_event ring[EVENT_RING_SIZE];
    unsigned head, tail;    /* tail - head events are queued; indexes wrap modulo the size */
    unsigned long dropped;  /* events lost because the ring was full */
    bool stop;
    bool trace;             /* log every event, not only deaths and timeouts */
    unsigned timeout_ms;
    pthread_t thread;
};

static bool event_is_logged(const struct event_log *log, liteipc_event_type type)
{
    return log->trace || type == LITEIPC_EV_TASK_DEATH || type == LITEIPC_EV_RECV_TIMEOUT ||
           type == LITEIPC_EV_RECV_KILLED || type == LITEIPC_EV_INJECTED;
}

/* A program's connection turned away (EUSERS): always logged, it explains its failure. */
static bool conn_refused(const liteipc_event *ev)
{
    return ev->type == LITEIPC_EV_REFUSED && ev->cmd == LITEIPC_CMD_OPEN;
}

static void on_event(const liteipc_event *ev, void *ctx)
{
    struct event_log *log = ctx;
    bool wake;

    if (!event_is_logged(log, ev->type) && !conn_refused(ev))
        return;
    pthread_mutex_lock(&log->lock);
    wake = log->tail == log->head;
    if (log->tail - log->head < EVENT_RING_SIZE)
        log->ring[log->tail++ % EVENT_RING_SIZE] = *ev;
    else
        log->dropped++;
    pthread_mutex_unlock(&log->lock);
    if (wake)
        pthread_cond_signal(&log->nonempty); /* pairs with the wait in logger_main */
}

static const char *msg_type_name(uint32_t type)
{
    static const char *const names[] = {"REQUEST", "REPLY", "FAILED_REPLY", "DEATH_NOTIFY"};
    return type < MT_NUM ? names[type] : "?";
}

/* The wall-clock time of an event stamped with CLOCK_MONOTONIC. */
static struct timespec event_wall_time(const liteipc_event *ev)
{
    struct timespec real, mono;
    int64_t ns;

    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    ns = (int64_t)real.tv_sec * 1000000000LL + real.tv_nsec -
         ((int64_t)mono.tv_sec * 1000000000LL + mono.tv_nsec - (int64_t)ev->time_ns);
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000LL),
                             .tv_nsec = (long)(ns % 1000000000LL)};
}

/* " (host PID program)": the host process behind a simulated one, or nothing if unknown. */
static const char *host_note(char *buf, size_t size, int32_t host_pid, const char *prog)
{
    if (host_pid <= 0)
        return "";
    snprintf(buf, size, " (host %d %.16s)", (int)host_pid, prog);
    return buf;
}

static void log_event(const struct event_log *log, const liteipc_event *ev)
{
    struct timespec when = event_wall_time(ev);
    char sb[48], db[48];
    const char *src = host_note(sb, sizeof sb, ev->src_host_pid, ev->src_prog);
    const char *dst = host_note(db, sizeof db, ev->dst_host_pid, ev->dst_prog);

    if (conn_refused(ev)) {
        log_at(&when, "refused a connection of host process %d (%.16s) with %s: its user has "
                      "as many connections as it may have (--connections-per-user)",
               (int)ev->src_host_pid, ev->src_prog, liteipc_errno_name(ev->err));
        return;
    }
    switch (ev->type) {
    case LITEIPC_EV_TASK_DEATH:
        log_at(&when, "task %d of process %d%s ended (processes with access to it get a death "
                      "notice)", ev->src_tid, ev->src_pid, src);
        return;
    case LITEIPC_EV_EXEC:
        log_at(&when, "task %d of process %d%s exec'd (the process has no IPC state until it "
                      "opens the device again)", ev->src_tid, ev->src_pid, src);
        return;
    case LITEIPC_EV_RECV_TIMEOUT:
        log_at(&when, "task %d of process %d%s: synchronous wait ended with ETIME (no reply "
                      "within %u ms)",
               ev->dst_tid, ev->dst_pid, dst, log->timeout_ms);
        return;
    case LITEIPC_EV_RECV_KILLED:
        log_at(&when, "task %d of process %d%s was waiting when its process ended (ERFKILL)",
               ev->dst_tid, ev->dst_pid, dst);
        return;
    case LITEIPC_EV_MSG_WRITTEN:
    case LITEIPC_EV_MSG_READ:
    case LITEIPC_EV_DROP_ON_WRITE:
    case LITEIPC_EV_DROP_ON_READ:
        log_at(&when, "%-13s pid/tid %d/%d%s -> %d/%d%s %s code %u%s%s",
               liteipc_event_name(ev->type), ev->src_pid, ev->src_tid, src, ev->dst_pid,
               ev->dst_tid, dst, msg_type_name((uint32_t)ev->msg.type), ev->msg.code,
               ev->err ? " err " : "", ev->err ? liteipc_errno_name(ev->err) : "");
        return;
    case LITEIPC_EV_SET_CMS:
    case LITEIPC_EV_SET_IPC_THREAD:
    case LITEIPC_EV_REFUSED:
        log_at(&when, "%-13s task %d '%.16s' of process %d%s ioctl 0x%x%s%s",
               liteipc_event_name(ev->type), ev->src_tid, ev->src_task, ev->src_pid, src,
               (unsigned)ev->cmd, ev->err ? " err " : "", ev->err ? liteipc_errno_name(ev->err) : "");
        return;
    case LITEIPC_EV_GEN_HANDLE:
        log_at(&when, "%-13s by task %d of process %d%s: handle %d for task %d '%.16s'",
               liteipc_event_name(ev->type), ev->src_tid, ev->src_pid, src, (int)ev->handle,
               ev->dst_tid, ev->dst_task);
        return;
    case LITEIPC_EV_GRANT:
        log_at(&when, "%-13s by task %d of process %d%s: process %d (%.16s) may call handle %d",
               liteipc_event_name(ev->type), ev->src_tid, ev->src_pid, src, (int)ev->grantee_pid,
               ev->grantee_prog, (int)ev->handle);
        return;
    case LITEIPC_EV_INJECTED: /* armed by $LITEIPC_FAULTS: say which fault did what */
        log_at(&when, "%-13s fault %d (kind %d) on task %d of process %d%s -> %d/%d%s code %u%s%s",
               liteipc_event_name(ev->type), (int)ev->fault_id, (int)ev->fault, ev->src_tid,
               ev->src_pid, src, ev->dst_pid, ev->dst_tid, dst, ev->msg.code,
               ev->err ? " err " : "", ev->err ? liteipc_errno_name(ev->err) : "");
        return;
    default:
        log_at(&when, "%-13s task %d of process %d%s", liteipc_event_name(ev->type), ev->dst_tid,
               ev->dst_pid, dst);
        return;
    }
}

static void *logger_main(void *arg)
{
    struct event_log *log = arg;

    for (;;) {
        liteipc_event ev;
        unsigned long dropped;

        pthread_mutex_lock(&log->lock);
        while (log->head == log->tail && !log->stop)
            pthread_cond_wait(&log->nonempty, &log->lock);
        if (log->head == log->tail) { /* stopping, and everything is written */
            pthread_mutex_unlock(&log->lock);
            return NULL;
        }
        ev = log->ring[log->head++ % EVENT_RING_SIZE];
        dropped = log->dropped;
        log->dropped = 0;
        pthread_mutex_unlock(&log->lock);

        if (dropped > 0)
            log_info("%lu events were not logged: the log could not keep up", dropped);
        log_event(log, &ev);
    }
}

static int event_log_start(struct event_log *log, bool trace, unsigned timeout_ms)
{
    int err;

    pthread_mutex_init(&log->lock, NULL);
    pthread_cond_init(&log->nonempty, NULL);
    log->trace = trace;
    log->timeout_ms = timeout_ms;
    err = pthread_create(&log->thread, NULL, logger_main, log);
    return -err;
}

/* Write what is queued, then end the logger thread. Call after unsubscribing. */
static void event_log_stop(struct event_log *log)
{
    pthread_mutex_lock(&log->lock);
    log->stop = true;
    pthread_mutex_unlock(&log->lock);
    pthread_cond_signal(&log->nonempty);
    pthread_join(log->thread, NULL);
}

/* ---- exit when unused ------------------------------------------------------------------------ */

/*
 * liteipc_kernel_wait_unused cannot be interrupted, and the kernel must not be stopped while a
 * thread waits in it. So the watcher waits in slices and looks at its stop flag in between.
 * When the kernel becomes unused it raises SIGUSR1, which main receives with sigwait.
 */
struct unused_watch {
    liteipc_kernel *k;
    unsigned first_use_ms; /* give up if no program has attached by then */
    atomic_bool stop;    /* main asks the watcher to end */
    atomic_bool unused;  /* the watcher saw the kernel unused (then raised SIGUSR1) */
    pthread_t thread;
};

static uint64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *unused_main(void *arg)
{
    struct unused_watch *w = arg;
    uint64_t started = monotonic_ms();
    bool used = false;

    while (!atomic_load(&w->stop)) {
        int rc = liteipc_kernel_wait_unused(w->k, UNUSED_POLL_MS);

        /* A program that started us on demand but died before attaching would otherwise
           leave us waiting for a first user forever. */
        if (rc == -ETIMEDOUT && !used) {
            used = liteipc_kernel_process_count(w->k) > 0;
            if (!used && monotonic_ms() - started > w->first_use_ms)
                rc = 0;
        }
        if (rc == 0) {
            atomic_store(&w->unused, true); /* read by main after sigwait returns SIGUSR1 */
            kill(getpid(), SIGUSR1);
            break;
        }
        if (rc != -ETIMEDOUT) {
            log_error("waiting for the kernel to become unused: %s", strerror(-rc));
            break;
        }
    }
    return NULL;
}

/* ---- options --------------------------------------------------------------------------------- */

struct options {
    liteipc_config cfg;
    const char *name;
    bool exit_when_unused;
    unsigned first_use_ms;
    bool quiet;
    bool trace;
    const char *mermaid; /* draw the kernel's events as a sequence diagram into this file */
    int ready_fd;
};

enum {
    OPT_TASKS = 256,
    OPT_PROCESSES,
    OPT_POOL_DEFAULT,
    OPT_POOL_MAX,
    OPT_DATA_MAX,
    OPT_OBJECTS_MAX,
    OPT_TIMEOUT_MS,
    OPT_DRIVER_VERSION,
    OPT_FD_PENDING_MAX,
    OPT_CONN_USER_MAX,
    OPT_EXIT_WHEN_UNUSED,
    OPT_FIRST_USE_TIMEOUT,
    OPT_READY_FD,
    OPT_TRACE,
    OPT_MERMAID,
};

static const struct option long_options[] = {
    {"name", required_argument, NULL, 'n'},
    {"tasks", required_argument, NULL, OPT_TASKS},
    {"processes", required_argument, NULL, OPT_PROCESSES},
    {"pool-default", required_argument, NULL, OPT_POOL_DEFAULT},
    {"pool-max", required_argument, NULL, OPT_POOL_MAX},
    {"data-max", required_argument, NULL, OPT_DATA_MAX},
    {"objects-max", required_argument, NULL, OPT_OBJECTS_MAX},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS},
    {"driver-version", required_argument, NULL, OPT_DRIVER_VERSION},
    {"fd-pending-max", required_argument, NULL, OPT_FD_PENDING_MAX},
    {"connections-per-user", required_argument, NULL, OPT_CONN_USER_MAX},
    {"exit-when-unused", no_argument, NULL, OPT_EXIT_WHEN_UNUSED},
    {"first-use-timeout-ms", required_argument, NULL, OPT_FIRST_USE_TIMEOUT},
    {"ready-fd", required_argument, NULL, OPT_READY_FD},
    {"trace", no_argument, NULL, OPT_TRACE},
    {"mermaid", required_argument, NULL, OPT_MERMAID},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    liteipc_config d;

    liteipc_config_init(&d);
    fprintf(f,
            "usage: liteipcd [OPTION]...\n"
            "Host a simulated LiteIPC kernel (/dev/lite_ipc) that separate programs attach to\n"
            "by its device name. Runs in the foreground and logs to stderr; SIGINT, SIGTERM or\n"
            "SIGHUP stop it, SIGUSR2 logs the kernel's tables.\n"
            "\n"
            "  -n, --name NAME         device name to serve (default: $%s if set, else '%s');\n"
            "                          1-64 characters among A-Z a-z 0-9 . _ -\n"
            "      --tasks N           task IDs 0..N-1 (default %u; 9..%d, as IDs 0..7 are\n"
            "                          the kernel's own)\n"
            "      --processes N       process IDs 0..N-1 (default %u; 4..%d, as IDs 0..2 are\n"
            "                          the kernel's own)\n"
            "      --pool-default SIZE pool size programs should map (default %zu)\n"
            "      --pool-max SIZE     largest pool mmap accepts, a multiple of 4096\n"
            "                          (default %zu)\n"
            "      --data-max BYTES    largest message data (default %u)\n"
            "      --objects-max N     most special objects in a message (default %u)\n"
            "      --timeout-ms MS     synchronous wait and reply deadline (default %u)\n"
            "      --driver-version V  what IPC_GET_VERSION reports (default %d)\n"
            "      --fd-pending-max N  OBJ_FD files one process may have sent and not yet\n"
            "                          delivered; past it its send fails with ENOMEM (default %u)\n"
            "      --connections-per-user N  connections of one user; past it open fails\n"
            "                          with EUSERS (default %u)\n"
            "      --exit-when-unused  stop when the last process using the kernel has gone\n"
            "                          (or when none has come within --first-use-timeout-ms)\n"
            "      --first-use-timeout-ms MS  with --exit-when-unused (default 30000)\n"
            "      --ready-fd FD       once serving, write one byte to descriptor FD and close it\n"
            "      --trace             also log every kernel event (every message, every wait)\n"
            "      --mermaid FILE      draw every kernel event into FILE as a Mermaid sequence\n"
            "                          diagram, until liteipcd stops\n"
            "  -q, --quiet             log errors only\n"
            "  -h, --help              show this help and exit\n"
            "  -V, --version           show the version and exit\n"
            "SIZE accepts a K or M suffix (KiB, MiB).\n"
            "\n"
            "A kernel leaves nothing in the filesystem or in /dev/shm: its socket name is\n"
            "abstract and its memory is in memory files, and the system removes both when\n"
            "liteipcd exits, even by SIGKILL. A new liteipcd has nothing of a crashed one to\n"
            "recover; programs attached to a dead kernel get ESHUTDOWN and must attach again.\n"
            "\n"
            "Exit status: 0 after a clean stop; 1 if the kernel could not be served (for example\n"
            "the name is already served); 2 for a usage error.\n",
            LITEIPC_DEVICE_ENV, LITEIPC_DEFAULT_DEVICE, d.task_limit, MAX_SERVICE_NUM,
            d.process_limit, LITEIPC_PROCESS_LIMIT, d.pool_default_size, d.pool_max_size,
            d.data_max, d.object_max, d.reply_timeout_ms, (int)d.driver_version,
            d.fd_pending_max, d.conn_user_max);
}

/* A decimal number in [min, max]; a K or M suffix multiplies by 1024 or 1024*1024 if allowed. */
static bool parse_number(const char *opt, const char *s, long long min, long long max,
                         bool suffix, long long *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || errno == ERANGE)
        goto bad;
    if (suffix && (*end == 'K' || *end == 'k') && v <= LLONG_MAX / 1024) {
        v *= 1024;
        end++;
    } else if (suffix && (*end == 'M' || *end == 'm') && v <= LLONG_MAX / (1024LL * 1024)) {
        v *= 1024LL * 1024;
        end++;
    }
    if (*end != '\0' || v < min || v > max)
        goto bad;
    *out = v;
    return true;
bad:
    fprintf(stderr, "liteipcd: --%s: '%s' is not a number in %lld..%lld%s\n", opt, s, min, max,
            suffix ? " (K and M suffixes allowed)" : "");
    return false;
}

static bool name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n < 1 || n > 64)
        return false;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Apply one configuration option; false on a bad value. */
static bool set_config_option(struct options *o, int opt, const char *arg)
{
    const char *opt_name = NULL;
    long long v;

    for (const struct option *lo = long_options; lo->name; lo++)
        if (lo->val == opt)
            opt_name = lo->name;
    switch (opt) {
    case OPT_TASKS:
        if (!parse_number(opt_name, arg, 1, MAX_SERVICE_NUM, false, &v))
            return false;
        o->cfg.task_limit = (unsigned)v;
        return true;
    case OPT_PROCESSES:
        if (!parse_number(opt_name, arg, 1, LITEIPC_PROCESS_LIMIT, false, &v))
            return false;
        o->cfg.process_limit = (unsigned)v;
        return true;
    case OPT_POOL_DEFAULT:
        if (!parse_number(opt_name, arg, 0, 1LL << 30, true, &v))
            return false;
        o->cfg.pool_default_size = (size_t)v;
        return true;
    case OPT_POOL_MAX:
        if (!parse_number(opt_name, arg, 4096, 1LL << 30, true, &v))
            return false;
        o->cfg.pool_max_size = (size_t)v;
        return true;
    case OPT_DATA_MAX:
        if (!parse_number(opt_name, arg, 1, 1LL << 20, true, &v))
            return false;
        o->cfg.data_max = (unsigned)v;
        return true;
    case OPT_OBJECTS_MAX:
        if (!parse_number(opt_name, arg, 0, 65536, false, &v))
            return false;
        o->cfg.object_max = (unsigned)v;
        return true;
    case OPT_TIMEOUT_MS:
        if (!parse_number(opt_name, arg, 1, UINT_MAX, false, &v))
            return false;
        o->cfg.reply_timeout_ms = (unsigned)v;
        return true;
    case OPT_DRIVER_VERSION:
        if (!parse_number(opt_name, arg, INT32_MIN, INT32_MAX, false, &v))
            return false;
        o->cfg.driver_version = (int32_t)v;
        return true;
    case OPT_FD_PENDING_MAX:
        if (!parse_number(opt_name, arg, 1, INT_MAX, false, &v))
            return false;
        o->cfg.fd_pending_max = (unsigned)v;
        return true;
    case OPT_CONN_USER_MAX:
        if (!parse_number(opt_name, arg, 1, INT_MAX, false, &v))
            return false;
        o->cfg.conn_user_max = (unsigned)v;
        return true;
    default:
        return false;
    }
}

/* 0: run; 1: exit 0 now (--help, --version); -1: usage error (already reported). */
static int parse_options(int argc, char **argv, struct options *o)
{
    long long v;
    int opt;

    liteipc_config_init(&o->cfg);
    o->ready_fd = -1;
    o->first_use_ms = FIRST_USE_GRACE_MS;
    while ((opt = getopt_long(argc, argv, "n:qhV", long_options, NULL)) != -1) {
        switch (opt) {
        case 'n':
            o->name = optarg;
            break;
        case OPT_EXIT_WHEN_UNUSED:
            o->exit_when_unused = true;
            break;
        case OPT_FIRST_USE_TIMEOUT:
            if (!parse_number("first-use-timeout-ms", optarg, 1, INT_MAX, false, &v))
                return -1;
            o->first_use_ms = (unsigned)v;
            break;
        case OPT_READY_FD:
            if (!parse_number("ready-fd", optarg, 0, INT_MAX, false, &v))
                return -1;
            o->ready_fd = (int)v;
            break;
        case OPT_TRACE:
            o->trace = true;
            break;
        case OPT_MERMAID:
            o->mermaid = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            printf("liteipcd (liteipc-sim) %s; LiteIPC driver version %d\n",
                   LITEIPC_VERSION_STRING, DRIVER_VERSION);
            return 1;
        case '?':
            usage(stderr);
            return -1;
        default:
            if (!set_config_option(o, opt, optarg))
                return -1;
            break;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "liteipcd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    if (!o->name) {
        const char *env = getenv(LITEIPC_DEVICE_ENV);

        o->name = liteipc_device_name();
        if (env && strcmp(env, o->name) != 0)
            fprintf(stderr, "liteipcd: warning: $%s='%s' is not a valid device name; serving "
                            "'%s'\n", LITEIPC_DEVICE_ENV, env, o->name);
    }
    if (!name_valid(o->name)) {
        fprintf(stderr, "liteipcd: --name: '%s' is not a device name (1-64 characters among "
                        "A-Z a-z 0-9 . _ -)\n", o->name);
        return -1;
    }
    if (o->ready_fd >= 0 && fcntl(o->ready_fd, F_GETFD) < 0) {
        fprintf(stderr, "liteipcd: --ready-fd: descriptor %d is not open\n", o->ready_fd);
        return -1;
    }
    return 0;
}

/* ---- main ------------------------------------------------------------------------------------ */

/* $LITEIPC_FAULTS, which the kernel arms when it starts: said in the log, and a bad value
   reported as such (the start would fail with EINVAL, like a bad limit). */
static bool faults_env_ok(void)
{
    const char *text = getenv(LITEIPC_FAULTS_ENV);
    liteipc_fault f[LITEIPC_FAULT_MAX];
    char why[160];

    if (!text || !*text)
        return true;
    if (liteipc_fault_parse(text, f, LITEIPC_FAULT_MAX, why, sizeof(why)) < 0) {
        log_error("%s=\"%s\": %s", LITEIPC_FAULTS_ENV, text, why);
        return false;
    }
    log_info("faults armed from %s: %s", LITEIPC_FAULTS_ENV, text);
    return true;
}

static void log_config(const liteipc_config *c)
{
    log_info("starting: tasks %u, processes %u, pool %zu bytes (default) .. %zu (max), data max "
             "%u, objects max %u, timeout %u ms, driver version %d",
             c->task_limit, c->process_limit, c->pool_default_size, c->pool_max_size,
             c->data_max, c->object_max, c->reply_timeout_ms, (int)c->driver_version);
}

/* Tell whoever started us (liteipc_kernel_attach_or_start) that the kernel is serving. */
static void signal_ready(int fd)
{
    static const char byte = 'R';

    if (fd < 0)
        return;
    if (write(fd, &byte, 1) < 0)
        log_error("--ready-fd %d: %s", fd, strerror(errno));
    close(fd);
}

static void report_serve_error(const struct options *o, int err)
{
    switch (err) {
    case -EEXIST:
        log_error("the device name '%s' is already served by a running kernel (another "
                  "liteipcd, or a program that serves it); stop that one first or choose "
                  "another --name", o->name);
        return;
    case -EINVAL:
        log_error("cannot serve '%s': a limit is out of range (tasks 9..%d and processes 4..%d, "
                  "as the lowest IDs are the kernel's own; pool-max a multiple of 4096 below "
                  "1 GiB; pool-default <= pool-max; data-max 1..1048576; objects-max <= 65536; "
                  "timeout-ms > 0)",
                  o->name, MAX_SERVICE_NUM, LITEIPC_PROCESS_LIMIT);
        return;
    default:
        log_error("cannot serve '%s': %s", o->name, strerror(-err));
        return;
    }
}

/* SIGUSR2: the kernel's tables, written to the log in one piece. */
static void log_dump(liteipc_kernel *k)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    int rc = mem ? liteipc_kernel_dump(k, mem) : -errno;

    if (mem)
        fclose(mem);
    if (rc < 0) {
        log_error("dumping the kernel's tables: %s", strerror(-rc));
    } else {
        log_info("the kernel's tables (SIGUSR2):");
        flockfile(stderr);
        fwrite(text, 1, len, stderr);
        fflush(stderr);
        funlockfile(stderr);
    }
    free(text);
}

/* Wait for a stop signal, or for SIGUSR1 from the unused watcher; log why we stop. SIGUSR2
   dumps the tables and goes on waiting. */
static void wait_for_stop(liteipc_kernel *k, const sigset_t *set,
                          const struct unused_watch *watch)
{
    for (;;) {
        int sig;

        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGUSR2) {
            log_dump(k);
            continue;
        }
        if (sig != SIGUSR1) {
            log_info("stopping on %s",
                     sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP");
            return;
        }
        if (atomic_load(&watch->unused)) {
            log_info("stopping: the last process using the kernel has gone");
            return;
        }
        /* a SIGUSR1 from someone else: not a reason to stop */
    }
}

int main(int argc, char **argv)
{
    struct options o = {.name = NULL};
    struct event_log evlog = {.head = 0};
    struct unused_watch watch = {.k = NULL};
    liteipc_kernel *k = NULL;
    liteipc_trace *diagram = NULL;
    FILE *diagram_out = NULL;
    sigset_t stop_set;
    int rc, sub = -1, procs;
    bool logging = false;

    rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : EXIT_USAGE;
    g_name = o.name;
    g_quiet = o.quiet;

    /* Nobody may read our memory (every pool is mapped writable here) through /proc. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        log_error("prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
    /* A reader of --ready-fd or of stderr that has gone must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    /* Every thread, the broker's included, inherits this mask: only sigwait sees them. */
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGHUP);
    sigaddset(&stop_set, SIGUSR1);
    sigaddset(&stop_set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);

    log_config(&o.cfg);
    if (!faults_env_ok())
        return 1;
    rc = liteipc_kernel_serve(o.name, &o.cfg, &k);
    if (rc < 0) {
        report_serve_error(&o, rc);
        return 1;
    }
    if (!o.quiet) {
        rc = event_log_start(&evlog, o.trace, o.cfg.reply_timeout_ms);
        if (rc == 0) {
            logging = true;
            sub = liteipc_subscribe(k, on_event, &evlog);
            if (sub < 0)
                log_error("liteipc_subscribe: %s; kernel events are not logged",
                          strerror(-sub));
        } else {
            log_error("starting the logger thread: %s; kernel events are not logged",
                      strerror(-rc));
        }
    }
    if (o.mermaid) {
        diagram_out = fopen(o.mermaid, "w");
        rc = diagram_out ? liteipc_trace_start(k, diagram_out, &diagram) : -errno;
        if (rc < 0) {
            log_error("%s: %s; no sequence diagram is drawn", o.mermaid, strerror(-rc));
            if (diagram_out)
                fclose(diagram_out);
            diagram_out = NULL;
        }
    }
    if (o.exit_when_unused) {
        watch.k = k;
        watch.first_use_ms = o.first_use_ms;
        rc = pthread_create(&watch.thread, NULL, unused_main, &watch);
        if (rc != 0) {
            log_error("starting the idle watcher: %s", strerror(rc));
            watch.k = NULL;
        }
    }
    log_info("ready: serving device '%s'%s", o.name,
             o.exit_when_unused ? " until its last process has gone" : "");
    signal_ready(o.ready_fd);

    wait_for_stop(k, &stop_set, &watch);

    if (watch.k) {
        atomic_store(&watch.stop, true);
        pthread_join(watch.thread, NULL);
    }
    procs = liteipc_kernel_process_count(k);
    if (procs > 0)
        log_info("%d process%s still attached: %s get ESHUTDOWN", procs, procs == 1 ? "" : "es",
                 procs == 1 ? "it will" : "they will");
    if (sub >= 0)
        liteipc_unsubscribe(k, sub);
    if (diagram && (liteipc_trace_stop(diagram) < 0 || fclose(diagram_out) != 0))
        log_error("%s: writing the sequence diagram failed", o.mermaid);
    if (logging)
        event_log_stop(&evlog); /* after unsubscribing: no callback can run any more */
    rc = liteipc_kernel_stop(k);
    if (rc < 0) {
        log_error("liteipc_kernel_stop: %s", strerror(-rc));
        return 1;
    }
    log_info("stopped; its socket name and memory are gone");
    return 0;
}
