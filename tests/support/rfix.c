/* SPDX-License-Identifier: Apache-2.0 */
/* rfix.c - fixtures for the real-process tests (see rfix.h). */
#include "rfix.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#ifndef R_PRELOAD_PATH
#error "R_PRELOAD_PATH must name libliteipc_preload.so (tests/CMakeLists.txt)"
#endif

const char *r_preload_path(void)
{
    return R_PRELOAD_PATH;
}

/* ---- fixture ---------------------------------------------------------------------------------- */

static int setup_common(void **state, bool serve, unsigned timeout_ms)
{
    static unsigned serial;
    r_ctx *c = calloc(1, sizeof(*c));
    int rc, shm;

    if (!c)
        return -1;
    *state = c;
    c->t = calloc(1, sizeof(*c->t));
    if (!c->t)
        return -1;
    c->t->ev = c->ev = calloc(1, sizeof(*c->ev));
    if (!c->ev)
        return -1;
    ltk_watchdog_arm(T_WATCHDOG_S);
    t_fail_reset();
    shm = t_shm_count_ours();
    if (shm != 0) {
        print_error("[rfix] /dev/shm holds %d liteipc object(s) before the test\n", shm);
        return -1;
    }
    c->t->shm_before = 0;
    c->t->memfd_before = t_memfd_map_count();
    c->t->fds_before = t_fd_count();
    snprintf(c->name, sizeof(c->name), "t-%d-%u", (int)getpid(), ++serial);
    liteipc_config_init(&c->cfg);
    c->cfg.reply_timeout_ms = timeout_ms;
    c->t->cfg = c->cfg;
    if (!serve)
        return 0;
    rc = liteipc_kernel_serve(c->name, &c->cfg, &c->k);
    if (rc != 0) {
        print_error("liteipc_kernel_serve(%s): %d (%s)\n", c->name, rc, liteipc_errno_name(-rc));
        return -1;
    }
    c->t->k = c->k;
    rc = t_evrec_start(c->ev, c->k);
    if (rc != 0) {
        print_error("liteipc_subscribe: %d\n", rc);
        return -1;
    }
    return 0;
}

int r_setup(void **state)
{
    return setup_common(state, true, R_TIMEOUT_MS);
}

int r_setup_slow(void **state)
{
    return setup_common(state, true, LITEIPC_TIMEOUT_MS);
}

int r_setup_nokernel(void **state)
{
    return setup_common(state, false, R_TIMEOUT_MS);
}

static void child_close_pipes(r_child *ch)
{
    if (ch->in >= 0)
        close(ch->in);
    if (ch->out >= 0)
        close(ch->out);
    ch->in = ch->out = -1;
}

int r_teardown(void **state)
{
    r_ctx *c = *state;
    void *tstate;
    int rc = 0, n;

    if (!c)
        return 0;
    for (int i = 0; i < c->nkids; i++) {
        r_child *ch = &c->kids[i];

        if (ch->pid > 0 && !ch->reaped) {
            kill(ch->pid, SIGKILL);
            waitpid(ch->pid, &ch->status, 0);
            ch->reaped = true;
        }
        child_close_pipes(ch);
    }
    tstate = c->t;
    if (c->t && t_teardown(&tstate) != 0)
        rc = -1;
    else if (!c->t)
        free(c->ev);
    n = t_shm_count_ours();
    if (n != 0) {
        print_error("[rfix] %d liteipc object(s) left in /dev/shm\n", n);
        rc = -1;
    }
    free(c);
    *state = NULL;
    ltk_watchdog_disarm();
    return rc;
}

/* ---- separate programs ----------------------------------------------------------------------------- */

static bool env_named(const char *entry, const char *spec)
{
    size_t n = strcspn(spec, "=");

    return strncmp(entry, spec, n) == 0 && entry[n] == '=';
}

/* environ, minus the names set or unset by specs, plus the "NAME=value" specs. */
static char **build_env(const char *const specs[], int nspecs)
{
    int n = 0, k = 0;
    char **env;

    while (environ[n])
        n++;
    env = calloc((size_t)(n + nspecs + 1), sizeof(*env));
    if (!env)
        return NULL;
    for (int i = 0; i < n; i++) {
        bool drop = false;

        for (int j = 0; j < nspecs && !drop; j++)
            drop = env_named(environ[i], specs[j]);
        if (!drop)
            env[k++] = environ[i];
    }
    for (int j = 0; j < nspecs; j++) {
        bool overridden = false;

        for (int l = j + 1; l < nspecs && !overridden; l++) /* a later spec wins */
            overridden = strcspn(specs[j], "=") == strcspn(specs[l], "=") &&
                         strncmp(specs[j], specs[l], strcspn(specs[j], "=")) == 0;
        if (!overridden && strchr(specs[j], '='))
            env[k++] = (char *)specs[j];
    }
    return env;
}

r_child *r_spawn(r_ctx *c, bool preload, const char *const argv[], const char *const extra_env[])
{
    char dev[96], pre[512];
    const char *specs[24];
    int nspecs = 0, pin[2], pout[2], err;
    posix_spawn_file_actions_t fa;
    r_child *ch;
    char **env;

    if (c->nkids >= R_MAX_CHILDREN)
        fail_msg("too many children in one test");
    ch = &c->kids[c->nkids++];
    memset(ch, 0, sizeof(*ch));
    ch->in = ch->out = -1;
    snprintf(dev, sizeof(dev), "%s=%s", LITEIPC_DEVICE_ENV, c->name);
    specs[nspecs++] = dev;
    specs[nspecs++] = "LITEIPCD=/nonexistent/liteipcd";
    if (preload) {
        snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", r_preload_path());
        specs[nspecs++] = pre;
    } else {
        specs[nspecs++] = "LD_PRELOAD";
    }
#ifdef R_ASAN
    /* the shim is preloaded ahead of an instrumented program's sanitizer runtime */
    specs[nspecs++] = "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0";
#endif
    for (int i = 0; extra_env && extra_env[i] && nspecs < 23; i++)
        specs[nspecs++] = extra_env[i];
    env = build_env(specs, nspecs);
    if (!env || pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0)
        fail_msg("r_spawn: no memory or pipes");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    fflush(NULL);
    err = posix_spawn(&ch->pid, argv[0], &fa, NULL, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(pin[0]);
    close(pout[1]);
    ch->in = pin[1];
    ch->out = pout[0];
    if (err != 0) {
        ch->pid = 0;
        fail_msg("posix_spawn(%s): %s", argv[0], strerror(err));
    }
    return ch;
}

/* One line from the buffer, if there is a whole one. */
static bool take_line(r_child *ch, char *line, size_t len)
{
    char *nl = memchr(ch->buf, '\n', ch->len);
    size_t n, used;

    if (!nl)
        return false;
    n = (size_t)(nl - ch->buf);
    used = n + 1;
    if (n >= len)
        n = len - 1;
    memcpy(line, ch->buf, n);
    line[n] = '\0';
    memmove(ch->buf, ch->buf + used, ch->len - used);
    ch->len -= used;
    return true;
}

/* 1: a line; 0: EOF; -1: timeout. */
static int read_line(r_child *ch, char *line, size_t len, unsigned timeout_ms)
{
    uint64_t until = t_now_ms() + timeout_ms;

    while (!take_line(ch, line, len)) {
        struct pollfd pfd = {.fd = ch->out, .events = POLLIN};
        uint64_t now = t_now_ms();
        ssize_t r;

        if (ch->out < 0 || now >= until || ch->len == sizeof(ch->buf))
            return -1;
        if (poll(&pfd, 1, (int)(until - now)) <= 0)
            continue;
        r = read(ch->out, ch->buf + ch->len, sizeof(ch->buf) - ch->len);
        if (r <= 0)
            return 0;
        ch->len += (size_t)r;
    }
    return 1;
}

void r_line(r_child *ch, char *line, size_t len)
{
    int r = read_line(ch, line, len, T_WAIT_MS);

    if (r == 0)
        fail_msg("child %d closed its output (status so far: see stderr)", (int)ch->pid);
    if (r < 0)
        fail_msg("child %d said nothing within %u ms", (int)ch->pid, T_WAIT_MS);
}

const char *r_expect(r_child *ch, const char *prefix, char *line, size_t len)
{
    size_t n = strlen(prefix);

    r_line(ch, line, len);
    if (strncmp(line, prefix, n) != 0)
        fail_msg("child %d said \"%s\", expected \"%s...\"", (int)ch->pid, line, prefix);
    return line + n;
}

/* One write for the line and its newline: a child that acts on what it read (host_main reads
   "stop" and exits) may have closed the pipe before a second write, which then killed the test
   with SIGPIPE. A write of at most PIPE_BUF bytes to a pipe is atomic. */
void r_say(r_child *ch, const char *line)
{
    char buf[R_LINE_MAX];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);

    if (n < 0 || (size_t)n >= sizeof(buf))
        fail_msg("child %d: line too long for r_say: %s", (int)ch->pid, line);
    if (write(ch->in, buf, (size_t)n) != n)
        fail_msg("child %d: cannot write to its input", (int)ch->pid);
}

void r_hangup(r_child *ch)
{
    if (ch->in >= 0)
        close(ch->in);
    ch->in = -1;
}

void r_drain(r_child *ch, char *out, size_t len)
{
    char line[R_LINE_MAX];
    size_t used = 0;

    out[0] = '\0';
    while (read_line(ch, line, sizeof(line), T_WAIT_MS) == 1) {
        int n = snprintf(out + used, len - used, "%s\n", line);

        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
}

/* ---- ends of children ------------------------------------------------------------------------------ */

static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int r_waitpid(pid_t pid)
{
    int status = 0, pfd = pidfd_open_(pid);
    pid_t r;

    if (pfd >= 0) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        int n;

        do {
            n = poll(&p, 1, (int)T_WAIT_MS);
        } while (n < 0 && errno == EINTR);
        close(pfd);
        if (n == 0)
            fail_msg("process %d did not end within %u ms", (int)pid, T_WAIT_MS);
    }
    do {
        r = waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r != pid)
        fail_msg("waitpid(%d): errno %d", (int)pid, errno);
    return status;
}

int r_wait(r_child *ch)
{
    if (!ch->reaped) {
        ch->status = r_waitpid(ch->pid);
        ch->reaped = true;
    }
    return ch->status;
}

int r_kill(r_child *ch)
{
    if (!ch->reaped)
        kill(ch->pid, SIGKILL);
    return r_wait(ch);
}

void r_assert_exit0(int status, const char *what)
{
    if (WIFSIGNALED(status))
        fail_msg("%s: killed by signal %d", what, WTERMSIG(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s: exit status %d (its failed checks are on stderr)", what,
                 WEXITSTATUS(status));
}

pid_t r_fork(void (*fn)(void *arg), void *arg)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid < 0)
        fail_msg("fork: errno %d", errno);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};

        setrlimit(RLIMIT_CORE, &no_core);
        /* cmocka catches these to report a test's crash; in a child they must kill it */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        signal(SIGILL, SIG_DFL);
        signal(SIGFPE, SIG_DFL);
        signal(SIGSYS, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        alarm(R_CHILD_ALARM_S);
        fn(arg);
        _exit(0);
    }
    return pid;
}

r_child *r_fork_child(r_ctx *c, r_child_fn fn, void *arg)
{
    int pin[2], pout[2];
    r_child *ch;
    pid_t pid;

    if (c->nkids >= R_MAX_CHILDREN)
        fail_msg("too many children in one test");
    if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0)
        fail_msg("pipe: errno %d", errno);
    ch = &c->kids[c->nkids++];
    memset(ch, 0, sizeof(*ch));
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        fail_msg("fork: errno %d", errno);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};

        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        signal(SIGILL, SIG_DFL);
        signal(SIGFPE, SIG_DFL);
        signal(SIGSYS, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        alarm(R_CHILD_ALARM_S);
        close(pin[1]);
        close(pout[0]);
        /* the test's ends of the other children's pipes: they must see EOF when it closes */
        for (int i = 0; i + 1 < c->nkids; i++)
            child_close_pipes(&c->kids[i]);
        fn(arg, pin[0], pout[1]);
        _exit(0);
    }
    close(pin[0]);
    close(pout[1]);
    ch->pid = pid;
    ch->in = pin[1];
    ch->out = pout[0];
    return ch;
}

/* ---- kernel events ------------------------------------------------------------------------------------ */

liteipc_event r_ev_wait(r_ctx *c, liteipc_event_type type, int tid, unsigned min, bool by_src)
{
    liteipc_event out[64];
    size_t n;
    int rc = by_src ? t_ev_wait_src(c->ev, type, tid, min, T_WAIT_MS)
                    : t_ev_wait(c->ev, type, tid, min, T_WAIT_MS);

    if (rc != 0)
        fail_msg("no %u %s event(s) for task %d within %u ms", min, liteipc_event_name(type),
                 tid, T_WAIT_MS);
    n = t_ev_collect(c->ev, (int)type, tid, out, 64);
    for (size_t i = 0; i < n; i++)
        if ((by_src ? out[i].src_tid : out[i].dst_tid) == tid)
            return out[i];
    fail_msg("%s event for task %d counted but not logged", liteipc_event_name(type), tid);
    return out[0]; /* not reached */
}

liteipc_event r_ev_wait_msg(r_ctx *c, liteipc_event_type type, int dst_tid, uint32_t code)
{
    uint64_t until = t_now_ms() + T_WAIT_MS;
    unsigned seen = 0;

    for (;;) {
        liteipc_event out[128];
        size_t n = t_ev_collect(c->ev, (int)type, dst_tid, out, 128);
        uint64_t now;

        for (size_t i = 0; i < n; i++)
            if (out[i].dst_tid == dst_tid && out[i].msg.code == code)
                return out[i];
        seen = t_ev_count(c->ev, type, dst_tid);
        now = t_now_ms();
        if (now >= until ||
            t_ev_wait(c->ev, type, dst_tid, seen + 1, (unsigned)(until - now)) != 0)
            break;
    }
    /* Say what did happen, for a failure that cannot be reproduced at will. */
    {
        liteipc_event out[64];
        size_t n = t_ev_collect(c->ev, -1, dst_tid, out, 64);

        fprintf(stderr, "events of task %d (%zu):\n", dst_tid, n);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "  %s %d/%d -> %d/%d code %#x err %d\n",
                    liteipc_event_name(out[i].type), out[i].src_pid, out[i].src_tid,
                    out[i].dst_pid, out[i].dst_tid, out[i].msg.code, out[i].err);
        for (int i = 0; i < c->nkids; i++)
            if (c->kids[i].pid > 0 && c->kids[i].len > 0)
                fprintf(stderr, "child %d had written, unread: %.*s\n", (int)c->kids[i].pid,
                        (int)c->kids[i].len, c->kids[i].buf);
        if (c->k)
            liteipc_kernel_dump(c->k, stderr);
    }
    fail_msg("no %s event to task %d with code %#x within %u ms", liteipc_event_name(type),
             dst_tid, code, T_WAIT_MS);
    return (liteipc_event){0}; /* not reached */
}

/* ---- /proc -------------------------------------------------------------------------------------------- */

int r_map_inodes(pid_t pid, const char *what, unsigned long *inodes, int max)
{
    char path[64], line[512];
    FILE *f;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s: errno %d", path, errno);
    while (fgets(line, sizeof(line), f)) {
        unsigned long ino = 0;
        bool seen = false;

        if (!strstr(line, what) || sscanf(line, "%*s %*s %*s %*s %lu", &ino) != 1)
            continue;
        for (int i = 0; i < n; i++)
            seen = seen || inodes[i] == ino;
        if (!seen && n < max)
            inodes[n++] = ino;
    }
    fclose(f);
    return n;
}

int r_fd_count_matching(pid_t pid, const char *what)
{
    char path[64], link[400], target[256];
    DIR *d;
    struct dirent *e;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    if (!d)
        fail_msg("cannot read %s: errno %d", path, errno);
    while ((e = readdir(d)) != NULL) {
        ssize_t len;

        if (e->d_name[0] == '.')
            continue;
        snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
        len = readlink(link, target, sizeof(target) - 1);
        if (len < 0)
            continue;
        target[len] = '\0';
        if (strstr(target, what))
            n++;
    }
    closedir(d);
    return n;
}

void r_report(int out, const char *fmt, ...)
{
    char line[R_LINE_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (write(out, line, (size_t)n) != n)
        _exit(20);
}
