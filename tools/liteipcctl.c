/* SPDX-License-Identifier: Apache-2.0 */
/*
 * liteipcctl - look at the running kernels of this user from outside, without attaching to them
 * and without restarting anything.
 *
 *     liteipcctl status [NAME]   the kernel's tables (as liteipcd logs them on SIGUSR2)
 *     liteipcctl list            the kernels of this user: name, daemon PID, uptime, processes,
 *                                tasks
 *     liteipcctl monitor [NAME] [--pid P] [--tid T] [--count N] [--json]   the kernel's
 *                                events, one line (or JSON object) each
 *     liteipcctl stats [NAME]    the kernel's counters since it started (LK_OP_STATS)
 *     liteipcctl trace [NAME] --seconds S (--chrome FILE | --mermaid FILE)   a recording
 *
 * NAME defaults to $LITEIPC_DEVICE if set and valid, else "lite_ipc". They speak LK_OP_STATUS
 * or LK_OP_MONITOR on a connection of their own (src/runtime.h): the kernel does not count it
 * as a process nor as a user, so a daemon started with --exit-when-unused is not kept alive by
 * it. A kernel served by another user is refused, as liteipc_kernel_attach refuses it. A monitor
 * that reads too slowly loses events (counted and reported): the kernel never waits for it.
 *
 * Exit status: 0, 1 on an error (no such kernel, another user's, a failed request), 2 for a
 * usage error.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <liteipc/liteipc.h>

#include "platform.h"
#include "render.h"
#include "runtime.h"

/* What LK_OP_STATUS tells about a kernel. text: NULL unless asked for. */
typedef struct kstatus {
    pid_t host_pid;
    int nprocs, ntasks;
    uint64_t uptime_ns;
    char *text;
    size_t len;
} kstatus;

static int read_text(int fd, size_t len, char **out)
{
    char *text = malloc(len + 1);
    ssize_t n;

    if (!text)
        return -ENOMEM;
    n = pread(fd, text, len, 0);
    if (n != (ssize_t)len) {
        free(text);
        return n < 0 ? -errno : -EIO;
    }
    text[len] = '\0';
    *out = text;
    return 0;
}

/* The process that listens on connected socket s: the kernel's host. 0 or -errno. */
static int kernel_host(int s, pid_t *pid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -errno;
    *pid = cred.pid;
    return 0;
}

/* The first line of status and stats. */
static void print_head(const char *name, pid_t host, uint64_t uptime_ns)
{
    printf("kernel '%s', hosted by PID %d, up %.1f s\n", name, (int)host,
           (double)uptime_ns / 1e9);
}

/* The reply to LK_OP_STATUS on connected socket s. */
static int request_status(int s, kstatus *st, bool want_text)
{
    lk_wire_req rq = {.op = LK_OP_STATUS};
    lk_wire_resp rs;
    int fds[4], err = kernel_host(s, &st->host_pid);
    ssize_t n;

    if (err < 0)
        return err;
    n = lk_seq_send(s, &rq, sizeof(rq), NULL, 0);
    /* A broker that turned the connection away closed it after writing why: read that. */
    if (n < 0 && n != -EPIPE && n != -ECONNRESET)
        return (int)n;
    n = lk_seq_recv(s, &rs, sizeof(rs), fds, 4);
    if (n != (ssize_t)sizeof(rs))
        err = n < 0 ? (int)n : -ECONNRESET;
    else
        err = rs.result;
    if (err == 0 && fds[0] < 0)
        err = -EPROTO;
    if (err == 0) {
        st->nprocs = rs.a & 0xffff;
        st->ntasks = rs.a >> 16;
        st->uptime_ns = rs.b;
        st->len = (size_t)rs.c;
        if (want_text)
            err = read_text(fds[0], st->len, &st->text);
    }
    for (int i = 0; n == (ssize_t)sizeof(rs) && i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return err;
}

/* A connection to the kernel named name. Returns the socket or -errno (-ENOENT: none runs). */
static int kernel_connect(const char *name)
{
    struct sockaddr_un addr;
    socklen_t len;
    int s, err = lk_kernel_address(name, &addr, &len);

    if (err < 0)
        return err;
    s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (connect(s, (const struct sockaddr *)&addr, len) < 0)
        err = (errno == ECONNREFUSED || errno == ENOENT) ? -ENOENT : -errno;
    else if (!lk_peer_is_us(s))
        err = -EACCES;
    if (err < 0) {
        close(s);
        return err;
    }
    return s;
}

/* Ask the kernel named name for its status. Returns 0 or -errno (-ENOENT: none runs). */
static int kernel_status(const char *name, kstatus *st, bool want_text)
{
    int s = kernel_connect(name), err;

    memset(st, 0, sizeof(*st));
    if (s < 0)
        return s;
    err = request_status(s, st, want_text);
    close(s);
    return err;
}

static void say_error(const char *name, int err)
{
    if (err == -ENOENT)
        fprintf(stderr, "liteipcctl: no kernel named '%s' is running\n", name);
    else if (err == -EACCES)
        fprintf(stderr, "liteipcctl: the kernel named '%s' belongs to another user\n", name);
    else if (err == -EINVAL)
        fprintf(stderr, "liteipcctl: '%s' is not a device name (1-64 characters among "
                        "A-Z a-z 0-9 . _ -)\n", name);
    else if (err == -EBUSY)
        fprintf(stderr, "liteipcctl: kernel '%s' has as many monitors as it may have (%d)\n",
                name, LK_MAX_MONITORS);
    else if (err == -EUSERS)
        fprintf(stderr, "liteipcctl: kernel '%s': this user has as many connections as it may "
                        "have\n", name);
    else
        fprintf(stderr, "liteipcctl: kernel '%s': %s\n", name, strerror(-err));
}

/* ---- status ---------------------------------------------------------------------------------- */

static int cmd_status(const char *name)
{
    kstatus st;
    int err = kernel_status(name, &st, true);

    if (err < 0) {
        say_error(name, err);
        return 1;
    }
    print_head(name, st.host_pid, st.uptime_ns);
    fwrite(st.text, 1, st.len, stdout);
    free(st.text);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- list ------------------------------------------------------------------------------------ */

/* Add name to the list names[*n] unless it is there. */
static int name_add(char ***names, size_t *n, const char *name)
{
    char **grown;

    for (size_t i = 0; i < *n; i++)
        if (strcmp((*names)[i], name) == 0)
            return 0;
    grown = realloc(*names, (*n + 1) * sizeof(**names));
    if (!grown)
        return -ENOMEM;
    *names = grown;
    grown[*n] = strdup(name);
    if (!grown[*n])
        return -ENOMEM;
    (*n)++;
    return 0;
}

/*
 * The names under which sockets of this user's prefix listen, from /proc/net/unix: an abstract
 * name shows as "@liteipc/UID/NAME"; a listening socket has __SO_ACCEPTCON (0x10000) in Flags.
 */
static int listening_names(char ***names, size_t *n)
{
    char prefix[64], line[512];
    size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "@liteipc/%u/", (unsigned)getuid());
    FILE *f = fopen("/proc/net/unix", "r");
    int err = 0;

    if (!f)
        return -errno;
    while (err == 0 && fgets(line, sizeof(line), f)) {
        unsigned long flags;
        char path[256];

        if (sscanf(line, "%*s %*s %*s %lx %*s %*s %*s %255s", &flags, path) != 2)
            continue;
        if ((flags & 0x10000) && strncmp(path, prefix, plen) == 0 && path[plen])
            err = name_add(names, n, path + plen);
    }
    fclose(f);
    return err;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_list(void)
{
    char **names = NULL;
    size_t n = 0;
    int err = listening_names(&names, &n), rc = 0;

    if (err < 0) {
        fprintf(stderr, "liteipcctl: reading /proc/net/unix: %s\n", strerror(-err));
        rc = 1;
        goto out;
    }
    qsort(names, n, sizeof(*names), by_name);
    printf("%-24s %8s %10s %9s %5s\n", "NAME", "PID", "UPTIME", "PROCESSES", "TASKS");
    for (size_t i = 0; i < n; i++) {
        kstatus st;

        err = kernel_status(names[i], &st, false);
        if (err == -ENOENT || err == -EINVAL || err == -ECONNRESET || err == -EPIPE)
            continue; /* stopped meanwhile, or a name that is not a kernel's */
        if (err < 0) {
            say_error(names[i], err);
            rc = 1;
            continue;
        }
        printf("%-24s %8d %8.1f s %9d %5d\n", names[i], (int)st.host_pid,
               (double)st.uptime_ns / 1e9, st.nprocs, st.ntasks);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* ---- monitor --------------------------------------------------------------------------------- */

static void print_event(const liteipc_event *ev)
{
    printf("%llu.%09llu %-14s", (unsigned long long)(ev->time_ns / 1000000000u),
           (unsigned long long)(ev->time_ns % 1000000000u), liteipc_event_name(ev->type));
    if (ev->src_tid >= 0)
        printf(" from %d/%d (host %d %.16s)", ev->src_pid, ev->src_tid, (int)ev->src_host_pid,
               ev->src_prog);
    if (ev->dst_tid >= 0)
        printf(" to %d/%d (host %d %.16s)", ev->dst_pid, ev->dst_tid, (int)ev->dst_host_pid,
               ev->dst_prog);
    if (ev->type == LITEIPC_EV_MSG_WRITTEN || ev->type == LITEIPC_EV_MSG_READ ||
        ev->type == LITEIPC_EV_DROP_ON_WRITE || ev->type == LITEIPC_EV_DROP_ON_READ)
        printf(" code %u", ev->msg.code);
    if (ev->type == LITEIPC_EV_REFUSED && ev->cmd == LITEIPC_CMD_MMAP)
        printf(" mmap");
    else if (ev->type == LITEIPC_EV_REFUSED && ev->cmd == LITEIPC_CMD_OPEN)
        printf(" open");
    else if (ev->cmd)
        printf(" ioctl 0x%x", (unsigned)ev->cmd);
    if (ev->handle >= 0 && (ev->type == LITEIPC_EV_GEN_HANDLE || ev->type == LITEIPC_EV_GRANT))
        printf(" handle %d", (int)ev->handle);
    if (ev->type == LITEIPC_EV_INJECTED)
        printf(" fault %d kind %d ms %u", (int)ev->fault_id, (int)ev->fault, ev->fault_ms);
    if (ev->err)
        printf(" err %s", strerror(ev->err));
    putchar('\n');
}

/* What monitor shows: events of a process or task only (-1: any), as text or JSON lines. */
typedef struct monitor_opts {
    long pid, tid;
    bool json;
} monitor_opts;

/* Is ev one the options ask for? (its sender or its receiver is the process / task) */
static bool monitor_wants(const monitor_opts *o, const liteipc_event *ev)
{
    if (o->pid >= 0 && ev->src_pid != o->pid && ev->dst_pid != o->pid)
        return false;
    if (o->tid >= 0 && ev->src_tid != o->tid && ev->dst_tid != o->tid)
        return false;
    return true;
}

/* A JSON string of the at most n bytes at s (a name: NUL-terminated or n bytes long). Bytes
   outside printable ASCII are escaped as \u00XX, so the line stays valid UTF-8 JSON. */
static void json_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n && s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* "src" or "dst": the task, its process, the host process behind it and their names. */
static void json_end(const char *key, int32_t tid, int32_t pid, int32_t host, const char *prog,
                     const char *task)
{
    printf("\"%s\":{\"tid\":%d,\"pid\":%d,\"host_pid\":%d,\"prog\":", key, (int)tid, (int)pid,
           (int)host);
    json_str(prog, 16);
    printf(",\"task\":");
    json_str(task, 16);
    putchar('}');
}

static void json_msg(const IpcMsg *m)
{
    printf("\"msg\":{\"type\":%u,\"target\":{\"handle\":%u,\"token\":%u,\"cookie\":%u},"
           "\"code\":%u,\"flag\":%u,\"timestamp\":%llu,\"dataSz\":%u,\"spObjNum\":%u,"
           "\"processID\":%u,\"taskID\":%u,\"userID\":%u,\"gid\":%u}",
           (unsigned)m->type, m->target.handle, m->target.token, m->target.cookie, m->code,
           m->flag, (unsigned long long)m->timestamp, m->dataSz, m->spObjNum, m->processID,
           m->taskID, m->userID, m->gid);
}

/* One event as a JSON object on one line: every field of liteipc_event, named as there, and
   lost: the events this monitor lost just before it (it read too slowly). */
static void print_event_json(const liteipc_event *ev, uint64_t lost)
{
    const char *errname = ev->err ? liteipc_errno_name(ev->err) : NULL;

    printf("{\"time_ns\":%llu,\"type\":", (unsigned long long)ev->time_ns);
    json_str(liteipc_event_name(ev->type), 32);
    printf(",\"err\":%d,\"errname\":", ev->err);
    json_str(errname ? errname : "", 32);
    putchar(',');
    json_end("src", ev->src_tid, ev->src_pid, ev->src_host_pid, ev->src_prog, ev->src_task);
    putchar(',');
    json_end("dst", ev->dst_tid, ev->dst_pid, ev->dst_host_pid, ev->dst_prog, ev->dst_task);
    putchar(',');
    json_msg(&ev->msg);
    printf(",\"cmd\":%u,\"cms_cmd\":%d,\"handle\":%d,\"grantee_pid\":%d,\"grantee_prog\":",
           (unsigned)ev->cmd, (int)ev->cms_cmd, (int)ev->handle, (int)ev->grantee_pid);
    json_str(ev->grantee_prog, 16);
    printf(",\"lost\":%llu}\n", (unsigned long long)lost);
}

/* A connection to the kernel named name that receives its events (LK_OP_MONITOR, flags: its
   request's a). Returns the socket, or -1 after saying why. */
static int monitor_open(const char *name, int32_t flags)
{
    lk_wire_req rq = {.op = LK_OP_MONITOR, .a = flags};
    lk_wire_resp rs;
    int s = kernel_connect(name), err = 0;
    ssize_t n;

    if (s < 0) {
        say_error(name, s);
        return -1;
    }
    n = lk_seq_send(s, &rq, sizeof(rq), NULL, 0);
    if (n < 0 && n != -EPIPE && n != -ECONNRESET)
        err = (int)n;
    else if ((n = lk_seq_recv(s, &rs, sizeof(rs), NULL, 0)) != (ssize_t)sizeof(rs))
        err = n < 0 ? (int)n : -ECONNRESET;
    else
        err = rs.result;
    if (err < 0) {
        say_error(name, err);
        close(s);
        return -1;
    }
    return s;
}

/* Print the kernel's events the options ask for until count of them (0: no end) or the kernel
   goes. */
static int cmd_monitor(const char *name, unsigned long count, const monitor_opts *o)
{
    lk_wire_event we;
    int s = monitor_open(name, 0);
    uint64_t lost = 0;
    ssize_t n = 0;

    if (s < 0)
        return 1;
    /* Said once subscribed: events from here on are reported (a test waits for this line).
       On stderr with --json, so that stdout holds JSON only. */
    fprintf(o->json ? stderr : stdout, "monitoring kernel '%s'\n", name);
    fflush(o->json ? stderr : stdout);
    for (unsigned long seen = 0; count == 0 || seen < count;) {
        n = lk_seq_recv(s, &we, sizeof(we), NULL, 0);
        if (n != (ssize_t)sizeof(we))
            break; /* the kernel stopped */
        lost += we.dropped;
        if (!monitor_wants(o, &we.ev))
            continue;
        if (o->json)
            print_event_json(&we.ev, lost);
        else if (lost)
            printf("(%llu events lost: this monitor read too slowly)\n",
                   (unsigned long long)lost);
        if (!o->json)
            print_event(&we.ev);
        lost = 0;
        seen++;
        fflush(stdout);
    }
    close(s);
    return n == (ssize_t)sizeof(we) || n == 0 ? 0 : 1;
}

static int parse_count(const char *arg, unsigned long *count)
{
    char *end;

    errno = 0;
    *count = strtoul(arg, &end, 10);
    return errno == 0 && *end == '\0' && *arg >= '1' && *arg <= '9' ? 0 : -EINVAL;
}

/* The number after option opt (argv[*i]), a decimal >= 0 (>= 1 for --count). */
static int option_number(int argc, char **argv, int *i, unsigned long *out)
{
    const char *opt = argv[*i];
    char *end;

    if (*i + 1 >= argc) {
        fprintf(stderr, "liteipcctl: monitor: %s wants a number\n", opt);
        return -EINVAL;
    }
    if (strcmp(opt, "--count") == 0 && parse_count(argv[*i + 1], out) == 0) {
        (*i)++;
        return 0;
    }
    errno = 0;
    *out = strtoul(argv[++*i], &end, 10);
    if (strcmp(opt, "--count") != 0 && errno == 0 && *end == '\0' && *argv[*i] >= '0' &&
        *argv[*i] <= '9' && *out <= INT_MAX)
        return 0;
    fprintf(stderr, "liteipcctl: monitor: %s wants a %s number, not '%s'\n", opt,
            strcmp(opt, "--count") == 0 ? "positive" : "non-negative", argv[*i]);
    return -EINVAL;
}

/* monitor [NAME] [--pid P] [--tid T] [--count N] [--json], in any order. Returns the exit
   status. */
static int monitor_main(int argc, char **argv)
{
    const char *name = NULL;
    unsigned long count = 0, num;
    monitor_opts o = {.pid = -1, .tid = -1};

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--count") == 0 || strcmp(a, "--pid") == 0 || strcmp(a, "--tid") == 0) {
            if (option_number(argc, argv, &i, &num) < 0)
                return 2;
            if (a[2] == 'c')
                count = num;
            else if (a[2] == 'p')
                o.pid = (long)num;
            else
                o.tid = (long)num;
        } else if (strcmp(a, "--json") == 0) {
            o.json = true;
        } else if (!name && a[0] != '-') {
            name = a;
        } else {
            fprintf(stderr, "liteipcctl: monitor: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    return cmd_monitor(name ? name : liteipc_device_name(), count, &o);
}

/* ---- stats ----------------------------------------------------------------------------------- */

/* The reply to LK_OP_STATS on connected socket s: the answer, then the counters. */
static int request_stats(int s, liteipc_stats *st)
{
    lk_wire_req rq = {.op = LK_OP_STATS};
    lk_wire_resp rs;
    ssize_t n = lk_seq_send(s, &rq, sizeof(rq), NULL, 0);

    /* A broker that turned the connection away closed it after writing why: read that. */
    if (n < 0 && n != -EPIPE && n != -ECONNRESET)
        return (int)n;
    n = lk_seq_recv(s, &rs, sizeof(rs), NULL, 0);
    if (n != (ssize_t)sizeof(rs))
        return n < 0 ? (int)n : -ECONNRESET;
    if (rs.result < 0)
        return rs.result;
    n = lk_seq_recv(s, st, sizeof(*st), NULL, 0);
    if (n != (ssize_t)sizeof(*st))
        return n < 0 ? (int)n : -EPROTO;
    return 0;
}

/* A byte count as people read it: "512 B", "1.5 KiB", "3.0 MiB". */
static void put_bytes(uint64_t n)
{
    if (n < 1024)
        printf("%llu B", (unsigned long long)n);
    else if (n < 1024 * 1024)
        printf("%.1f KiB", (double)n / 1024);
    else
        printf("%.1f MiB", (double)n / (1024 * 1024));
}

static void put_counter(const char *what, uint64_t n)
{
    printf("%-16s %llu\n", what, (unsigned long long)n);
}

/* One line per errno with a non-zero count, under a line with their total (zeros omitted). */
static void put_by_errno(const char *what, const uint64_t *by_errno)
{
    uint64_t total = 0;

    for (int e = 0; e < LITEIPC_STATS_ERRNO; e++)
        total += by_errno[e];
    put_counter(what, total);
    for (int e = 1; e < LITEIPC_STATS_ERRNO; e++) {
        if (by_errno[e])
            printf("  %-14s %llu (%s)\n", liteipc_errno_name(e), (unsigned long long)by_errno[e],
                   strerror(e));
    }
    if (by_errno[0])
        printf("  %-14s %llu\n", "other errno", (unsigned long long)by_errno[0]);
}

static void print_stats(const char *name, pid_t host, const liteipc_stats *st)
{
    print_head(name, host, st->uptime_ns);
    put_counter("calls", st->calls);
    put_counter("one-way", st->oneway);
    put_counter("replies", st->replies);
    put_counter("failed replies", st->failed_replies);
    put_counter("death notices", st->death_notices);
    put_counter("received", st->received);
    put_counter("payload bytes", st->bytes);
    put_counter("timeouts", st->timeouts);
    put_counter("waits killed", st->killed);
    put_counter("task deaths", st->task_deaths);
    put_counter("process deaths", st->process_deaths);
    put_by_errno("drops on write", st->drop_write);
    put_by_errno("drops on read", st->drop_read);
    put_by_errno("refused", st->refused);
    printf("pools (in use now, high-water mark, size):\n");
    for (uint32_t i = 0; i < st->nprocs && i < LITEIPC_STATS_PROCS; i++) {
        const liteipc_proc_stats *p = &st->procs[i];

        printf("  process %d (host %d %.16s): ", (int)p->pid, (int)p->host_pid, p->prog);
        if (!p->pool_size) {
            printf("no pool\n");
            continue;
        }
        put_bytes(p->pool_used);
        printf(", ");
        put_bytes(p->pool_peak);
        printf(", ");
        put_bytes(p->pool_size);
        putchar('\n');
    }
}

static int cmd_stats(const char *name)
{
    liteipc_stats *st = malloc(sizeof(*st));
    pid_t host = 0;
    int s = kernel_connect(name), err;

    if (s < 0 || !st)
        err = s < 0 ? s : -ENOMEM;
    else if ((err = kernel_host(s, &host)) == 0)
        err = request_stats(s, st);
    if (s >= 0)
        close(s);
    if (err == 0)
        print_stats(name, host, st);
    else
        say_error(name, err);
    free(st);
    return err == 0 && fflush(stdout) == 0 ? 0 : 1;
}

/* stats [NAME]. Returns the exit status. */
static int stats_main(int argc, char **argv)
{
    if (argc > 3 || (argc == 3 && argv[2][0] == '-')) {
        fprintf(stderr, "liteipcctl: stats: unexpected argument '%s'\n", argv[argc - 1]);
        return 2;
    }
    return cmd_stats(argc == 3 ? argv[2] : liteipc_device_name());
}

/* ---- trace ----------------------------------------------------------------------------------- */

static volatile sig_atomic_t trace_interrupted;

static void on_trace_signal(int sig)
{
    (void)sig;
    trace_interrupted = 1;
}

/* SIGINT and SIGTERM end the recording (the file is then finished), without SA_RESTART so
   that poll returns. */
static void trace_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_trace_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Feed the events of monitor socket s to r until the deadline (CLOCK_MONOTONIC ns), a signal
   or the kernel's end. Returns how many events, *lost how many the kernel could not send. */
static unsigned long trace_record(int s, lk_render *r, uint64_t deadline, uint64_t *lost)
{
    unsigned long events = 0;
    lk_wire_event we;

    *lost = 0;
    while (!trace_interrupted) {
        uint64_t now = lk_now_ns();
        struct pollfd pfd = {.fd = s, .events = POLLIN};
        int rc;

        if (now >= deadline)
            break;
        rc = poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            break;
        if (lk_seq_recv(s, &we, sizeof(we), NULL, 0) != (ssize_t)sizeof(we))
            break; /* the kernel stopped */
        *lost += we.dropped;
        lk_render_event(r, &we.ev);
        events++;
    }
    return events;
}

/* Record kernel name's events for seconds into path, in format (LITEIPC_TRACE_*). */
static int cmd_trace(const char *name, double seconds, unsigned format, const char *path)
{
    int s = monitor_open(name, (format & LITEIPC_TRACE_PREVIEW) ? LK_MONITOR_PREVIEW : 0);
    uint64_t lost, deadline;
    unsigned long events;
    lk_render *r = NULL;
    FILE *out;
    int err;

    if (s < 0)
        return 1;
    out = fopen(path, "w");
    err = out ? lk_render_new(format, out, &r) : -errno;
    if (err < 0) {
        fprintf(stderr, "liteipcctl: trace: %s: %s\n", path, strerror(-err));
        if (out)
            fclose(out);
        close(s);
        return 1;
    }
    trace_signals();
    /* Said once subscribed: events from here on are recorded (a test waits for this line). */
    printf("tracing kernel '%s' for %g s into %s\n", name, seconds, path);
    fflush(stdout);
    deadline = lk_now_ns() + (uint64_t)(seconds * 1e9);
    events = trace_record(s, r, deadline, &lost);
    close(s);
    err = lk_render_end(r);
    if (fclose(out) != 0 && err == 0)
        err = -errno;
    if (err < 0) {
        fprintf(stderr, "liteipcctl: trace: writing %s: %s\n", path, strerror(-err));
        return 1;
    }
    if (lost > 0)
        fprintf(stderr, "liteipcctl: trace: %llu events lost (this recording read too slowly)\n",
                (unsigned long long)lost);
    printf("%lu events written to %s\n", events, path);
    return 0;
}

static int parse_seconds(const char *arg, double *seconds)
{
    char *end;

    errno = 0;
    *seconds = strtod(arg, &end);
    return errno == 0 && end != arg && *end == '\0' && *seconds > 0 && *seconds <= 1e6 ? 0
                                                                                     : -EINVAL;
}

/* trace [NAME] --seconds S (--chrome FILE | --mermaid FILE) [--preview], in any order. */
static int trace_main(int argc, char **argv)
{
    const char *name = NULL, *path = NULL;
    unsigned format = 0, formats = 0;
    double seconds = 0;

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            if (parse_seconds(argv[++i], &seconds) < 0) {
                fprintf(stderr, "liteipcctl: trace: --seconds wants a positive number, not "
                                "'%s'\n", argv[i]);
                return 2;
            }
        } else if ((strcmp(argv[i], "--chrome") == 0 || strcmp(argv[i], "--mermaid") == 0) &&
                   i + 1 < argc) {
            format |= argv[i][2] == 'c' ? LITEIPC_TRACE_CHROME : LITEIPC_TRACE_MERMAID;
            formats++;
            path = argv[++i];
        } else if (strcmp(argv[i], "--preview") == 0) {
            format |= LITEIPC_TRACE_PREVIEW;
        } else if (!name && argv[i][0] != '-') {
            name = argv[i];
        } else {
            fprintf(stderr, "liteipcctl: trace: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (seconds == 0 || formats != 1) {
        fprintf(stderr, "liteipcctl: trace: wants --seconds S and one of --chrome FILE, "
                        "--mermaid FILE\n");
        return 2;
    }
    return cmd_trace(name ? name : liteipc_device_name(), seconds, format, path);
}

/* ---- command line ---------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: liteipcctl COMMAND [ARG]...\n"
            "Look at the running liteipc kernels of this user, without attaching to them.\n"
            "\n"
            "  status [NAME]  the kernel's tables: the ServiceManager, every process (with\n"
            "                 the host PID and program behind it), task and message\n"
            "  list           the kernels of this user: name, PID of the host (liteipcd),\n"
            "                 uptime, processes and tasks\n"
            "  monitor [NAME] [--pid P] [--tid T] [--count N] [--json]\n"
            "                 the kernel's events, one line each, until interrupted or N\n"
            "  stats [NAME]   the kernel's counters since it started, and each pool\n"
            "  trace [NAME] --seconds S (--chrome FILE | --mermaid FILE)\n"
            "                 a recording of the kernel's events: a timeline or a diagram\n"
            "  help [COMMAND] this help, or a command's\n"
            "\n"
            "NAME defaults to $%s if set and valid, else '%s'.\n"
            "Exit status: 0; 1 on an error (no such kernel, another user's); 2 for a\n"
            "usage error.\n",
            LITEIPC_DEVICE_ENV, LITEIPC_DEFAULT_DEVICE);
}

static void usage_status(FILE *f)
{
    fprintf(f,
            "usage: liteipcctl status [NAME]\n"
            "Print the tables of the kernel served under NAME by this user (default\n"
            "$%s, else '%s'): the text liteipcd logs on SIGUSR2, preceded\n"
            "by the host's PID. The kernel does not count the request as a process or\n"
            "user.\n"
            "Exit status 1 if no kernel of that name runs or it belongs to another user.\n",
            LITEIPC_DEVICE_ENV, LITEIPC_DEFAULT_DEVICE);
}

static void usage_list(FILE *f)
{
    fprintf(f, "usage: liteipcctl list\n"
               "One line per kernel this user serves (found in /proc/net/unix, each asked\n"
               "for its status): NAME, the host's PID, the kernel's UPTIME, the simulated\n"
               "PROCESSES and TASKS.\n");
}

static void usage_monitor(FILE *f)
{
    fprintf(f,
            "usage: liteipcctl monitor [NAME] [--pid P] [--tid T] [--count N] [--json]\n"
            "Print the events of the kernel served under NAME by this user (default\n"
            "$%s, else '%s'), one line each: time (CLOCK_MONOTONIC), event,\n"
            "sender and receiver as PID/TID with the host PID and program behind them,\n"
            "message code, ioctl, handle, error. Ends after N events, when interrupted,\n"
            "or when the kernel stops. The kernel never waits for a monitor: events it\n"
            "could not send are counted, and the next line says how many were lost.\n"
            "At most %d monitors per kernel.\n"
            "  --pid P    only events whose sender or receiver is simulated process P\n"
            "  --tid T    only events whose sender or receiver is task T\n"
            "  --count N  stop after N events (those shown)\n"
            "  --json     one JSON object per line instead, with every field of the\n"
            "             event (src, dst, msg, cmd, cms_cmd, handle, grantee, err and\n"
            "             its name) and lost; the 'monitoring' line goes to stderr\n",
            LITEIPC_DEVICE_ENV, LITEIPC_DEFAULT_DEVICE, LK_MAX_MONITORS);
}

static void usage_stats(FILE *f)
{
    fprintf(f,
            "usage: liteipcctl stats [NAME]\n"
            "Print the counters of the kernel served under NAME by this user (default\n"
            "$%s, else '%s') since it started, one per line: calls, one-way\n"
            "messages, replies, failed replies, death notices, messages received,\n"
            "payload bytes, timeouts, waits killed, task and process deaths; drops on\n"
            "write and on read, and refused commands, each with its count per errno\n"
            "(errnos never seen are not listed); then each process's pool: in use now,\n"
            "its high-water mark, its size. The kernel counts whether or not anyone\n"
            "asks, and does not count the request as a process or user.\n",
            LITEIPC_DEVICE_ENV, LITEIPC_DEFAULT_DEVICE);
}

static void usage_trace(FILE *f)
{
    fprintf(f,
            "usage: liteipcctl trace [NAME] --seconds S (--chrome FILE | --mermaid FILE)\n"
            "                        [--preview]\n"
            "Record the events of the kernel served under NAME by this user (default\n"
            "$%s, else '%s') for S seconds, or until interrupted (SIGINT,\n"
            "SIGTERM) or until the kernel stops, into FILE:\n"
            "  --chrome FILE   Chrome trace-event JSON: open it in https://ui.perfetto.dev\n"
            "                  or chrome://tracing. A track per task, slices for calls and\n"
            "                  waits, an arrow per message, instants for grants, refusals\n"
            "                  and deaths\n"
            "  --mermaid FILE  a Mermaid sequence diagram (GitHub draws it in a ```mermaid\n"
            "                  block)\n"
            "  --preview       the first %d bytes of each message, as text or hex\n"
            "The file is complete however the recording ends. Like monitor, it never makes\n"
            "the kernel wait: events it could not read in time are counted and reported.\n",
            LITEIPC_DEVICE_ENV, LITEIPC_DEFAULT_DEVICE, LITEIPC_PREVIEW_MAX);
}

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* The help of command cmd (NULL: the general one). Returns 0, or 2 for an unknown command. */
static int help(const char *cmd, FILE *f)
{
    if (!cmd)
        usage(f);
    else if (strcmp(cmd, "status") == 0)
        usage_status(f);
    else if (strcmp(cmd, "list") == 0)
        usage_list(f);
    else if (strcmp(cmd, "monitor") == 0)
        usage_monitor(f);
    else if (strcmp(cmd, "stats") == 0)
        usage_stats(f);
    else if (strcmp(cmd, "trace") == 0)
        usage_trace(f);
    else {
        fprintf(stderr, "liteipcctl: unknown command '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (!cmd) {
        usage(stderr);
        return 2;
    }
    if (is_help(cmd))
        return help(NULL, stdout);
    if (strcmp(cmd, "help") == 0)
        return argc > 3 ? (usage(stderr), 2) : help(argc > 2 ? argv[2] : NULL, stdout);
    if (argc > 2 && is_help(argv[2]))
        return help(cmd, stdout);
    if (strcmp(cmd, "status") == 0 && argc <= 3)
        return cmd_status(argc > 2 ? argv[2] : liteipc_device_name());
    if (strcmp(cmd, "list") == 0 && argc == 2)
        return cmd_list();
    if (strcmp(cmd, "monitor") == 0)
        return monitor_main(argc, argv);
    if (strcmp(cmd, "stats") == 0)
        return stats_main(argc, argv);

    if (strcmp(cmd, "trace") == 0)
        return trace_main(argc, argv);
    if (strcmp(cmd, "status") == 0 || strcmp(cmd, "list") == 0) {
        fprintf(stderr, "liteipcctl: %s: too many arguments\n", cmd);
        help(cmd, stderr);
        return 2;
    }
    return help(cmd, stderr);
}
