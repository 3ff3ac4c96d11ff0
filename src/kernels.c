/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernels.c - kernel instances as the API sees them: configuration, start and stop of a kernel
 * hosted here, named kernels served to or attached from other programs, and the daemon started
 * on demand for the embedded default.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "install_dir.h"
#include "platform.h"
#include "runtime.h"

/* ---- public: kernels ---------------------------------------------------------------------------- */

void liteipc_config_init(liteipc_config *cfg)
{
    cfg->task_limit = MAX_SERVICE_NUM;
    cfg->process_limit = LITEIPC_PROCESS_LIMIT;
    cfg->pool_default_size = LITE_IPC_POOL_DEFAULT_SIZE;
    cfg->pool_max_size = LITE_IPC_POOL_MAX_SIZE;
    cfg->data_max = IPC_MSG_DATA_SZ_MAX;
    cfg->object_max = IPC_MSG_OBJECT_NUM_MAX;
    cfg->reply_timeout_ms = LITEIPC_TIMEOUT_MS;
    cfg->driver_version = DRIVER_VERSION;
    cfg->fd_pending_max = LITEIPC_FD_PENDING_MAX;
    cfg->conn_user_max = LITEIPC_CONN_USER_MAX;
    cfg->virtual_time = false;
    cfg->deterministic = 0;
    cfg->sched_stall_ms = 1000;
    cfg->sched_seed = 0;
}

static int config_valid(const liteipc_config *c)
{
    return c->task_limit > LK_FIRST_USER_TID && c->task_limit <= LK_MAX_TASKS &&
           c->process_limit > LK_FIRST_USER_PID && c->process_limit <= LK_MAX_PROCS &&
           c->pool_max_size >= LK_PAGE_SIZE && c->pool_max_size % LK_PAGE_SIZE == 0 &&
           c->pool_max_size < (1u << 30) && c->pool_default_size <= c->pool_max_size &&
           c->data_max > 0 && c->data_max <= (1u << 20) && c->object_max <= 65536 &&
           c->reply_timeout_ms > 0 && c->fd_pending_max > 0 && c->conn_user_max > 0 &&
           c->deterministic <= 1 && (!c->deterministic || c->sched_stall_ms > 0);
}

static liteipc_kernel *kernel_alloc(const liteipc_config *cfg, int *err)
{
    liteipc_kernel *k = calloc(1, sizeof(*k));

    if (!k) {
        *err = -ENOMEM;
        return NULL;
    }
    if (cfg)
        k->cfg = *cfg;
    else
        liteipc_config_init(&k->cfg);
    atomic_init(&k->refs, 1);
    *err = config_valid(&k->cfg) ? lk_client_init(k) : -EINVAL;
    if (*err < 0) {
        free(k);
        return NULL;
    }
    lk_vtime_init(&k->b.vt); /* lives as long as k: vproc threads may end after the broker */
    return k;
}

static int kernel_host(const char *name, const liteipc_config *cfg, liteipc_kernel **out)
{
    liteipc_kernel *k;
    int err;

    if (!out)
        return -EINVAL;
    *out = NULL;
    k = kernel_alloc(cfg, &err);
    if (!k)
        return err;
    err = lk_broker_start(k, name);
    if (err < 0) {
        lk_client_fini(k);
        lk_vtime_fini(&k->b.vt);
        free(k);
        return err;
    }
    k->is_host = true;
    lk_registry_add(k);
    *out = k;
    return 0;
}

int liteipc_kernel_start(const liteipc_config *cfg, liteipc_kernel **out)
{
    return kernel_host(NULL, cfg, out);
}

int liteipc_kernel_serve(const char *name, const liteipc_config *cfg, liteipc_kernel **out)
{
    if (!name)
        return -EINVAL;
    /* Programs attached by name run on their own: nothing could tell when they are idle, so
       nothing could move a virtual clock at the right moments. */
    if (cfg && cfg->virtual_time)
        return -EOPNOTSUPP;
    return kernel_host(name, cfg, out);
}

/* Send rq, read the configuration into wc. True, with *err set, if that failed: -ECONNRESET,
   the error the kernel turned the connection away with (an lk_wire_resp in its place), or
   -EPROTO for a configuration of another build of the library. */
static bool refused(int s, const lk_wire_req *rq, lk_wire_config *wc, int *fds, int *err)
{
    ssize_t n = lk_seq_send(s, rq, sizeof(*rq), NULL, 0);

    if (n < 0 && n != -EPIPE && n != -ECONNRESET) {
        *err = -ECONNRESET;
        return true;
    }
    n = lk_seq_recv(s, wc, sizeof(*wc), fds, 4);
    if (n == (ssize_t)sizeof(lk_wire_resp)) {
        lk_wire_resp rs;

        memcpy(&rs, wc, sizeof(rs));
        if (rs.result < 0) { /* a refusal: a config starts with its (positive) magic */
            *err = rs.result;
            return true;
        }
    }
    if (n < (ssize_t)offsetof(lk_wire_config, cfg)) {
        *err = -ECONNRESET;
        return true;
    }
    if (wc->magic != LK_WIRE_MAGIC || wc->size != sizeof(*wc) || n != (ssize_t)sizeof(*wc)) {
        *err = -EPROTO; /* another build of the library: a 32-bit program and a 64-bit daemon
                           (or the reverse) share no layout, so they never share a kernel */
        return true;
    }
    return false;
}

/*
 * Connect to the kernel at addr and ask for its configuration. The connection stays open as
 * this program's presence (the daemon of an embedded default exits when none is left).
 * Returns the socket or -errno.
 */
static int fetch_config(const struct sockaddr_un *addr, socklen_t len, liteipc_config *cfg)
{
    lk_wire_req rq = {.op = LK_OP_CONFIG};
    lk_wire_config wc;
    int fds[4], err = 0;
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

    if (s < 0)
        return -errno;
    if (connect(s, (const struct sockaddr *)addr, len) < 0)
        err = (errno == ECONNREFUSED || errno == ENOENT) ? -ENOENT : -errno;
    else if (!lk_peer_is_us(s))
        err = -EACCES;
    else if (refused(s, &rq, &wc, fds, &err))
        ; /* err says why */
    else
        *cfg = wc.cfg;
    if (err < 0) {
        close(s);
        return err;
    }
    return s;
}

int liteipc_kernel_attach(const char *name, liteipc_kernel **out)
{
    struct sockaddr_un addr;
    socklen_t len;
    liteipc_config cfg;
    liteipc_kernel *k;
    int err, presence;

    if (!out)
        return -EINVAL;
    *out = NULL;
    err = lk_kernel_address(name, &addr, &len);
    if (err == 0)
        err = fetch_config(&addr, len, &cfg);
    if (err < 0)
        return err;
    presence = err;
    k = kernel_alloc(&cfg, &err);
    if (!k) {
        close(presence);
        return err;
    }
    k->c.presence_fd = presence;
    k->b.addr = addr;
    k->b.addrlen = len;
    k->b.lfd = k->b.epfd = k->b.efd = k->b.bell_fd = -1;
    k->c.attached = true;
    lk_registry_add(k);
    *out = k;
    return 0;
}

int liteipc_kernel_detach(liteipc_kernel *k)
{
    lk_cproc *p;

    if (!k || k->is_host)
        return -EINVAL;
    pthread_mutex_lock(&k->c.lock);
    p = k->c.default_proc;
    k->c.default_proc = NULL;
    pthread_mutex_unlock(&k->c.lock);
    if (p)
        lk_cproc_exit(p);
    lk_kernel_unref(k);
    return 0;
}

const char *liteipc_device_name(void)
{
    const char *name = getenv(LITEIPC_DEVICE_ENV);
    struct sockaddr_un addr;
    socklen_t len;

    if (name && lk_kernel_address(name, &addr, &len) == 0)
        return name;
    return LITEIPC_DEFAULT_DEVICE;
}

void lk_kernel_unref(liteipc_kernel *k)
{
    if (atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    lk_registry_remove(k);
    lk_client_fini(k);
    lk_broker_unmap_bell(k); /* after the host's processes, which use it as theirs */
    lk_vtime_fini(&k->b.vt);
    free(k);
}

int liteipc_kernel_stop(liteipc_kernel *k)
{
    if (!k)
        return -EINVAL;
    if (!k->is_host || atomic_exchange(&k->stopped, 1))
        return -EPERM; /* a fork child, or stopped twice */
    lk_broker_stop(k);
    /* Callers released with ESHUTDOWN leave their channels before the memory goes. */
    pthread_mutex_lock(&k->c.lock);
    for (lk_ctask *t = k->c.tasks; t; t = t->next)
        while (atomic_load_explicit(&t->in_call, memory_order_acquire))
            sched_yield();
    pthread_mutex_unlock(&k->c.lock);
    lk_broker_free(k);
    lk_kernel_unref(k);
    return 0;
}

const liteipc_config *liteipc_kernel_config(const liteipc_kernel *k)
{
    return k ? &k->cfg : NULL;
}

/* ---- the embedded default: a daemon started on demand ------------------------------------------ */

/* Where the daemon may be, in the order tried. A program must find the daemon of the
   installation its copy of the library came from, wherever that was installed: no path fixed
   when the library was configured is used, except the build tree's, for its own programs. */
enum { LK_DAEMON_PLACES = 6 };

/* Set by the library's build (CMakeLists.txt); a build without them looks next to the library
   and the program only. */
#ifndef LITEIPC_LIBDIR_TO_BINDIR
#define LITEIPC_LIBDIR_TO_BINDIR "../bin"
#endif
#ifndef LITEIPC_BUILD_ROOT
#define LITEIPC_BUILD_ROOT ""
#define LITEIPC_LITEIPCD_BUILD_DIR ""
#endif

/* On the heap: about 30 KiB, too much for the stack of a device program's small thread. */
typedef struct lk_daemon_places {
    char path[LK_DAEMON_PLACES][PATH_MAX];
    int n;
    char found[PATH_MAX];
} lk_daemon_places;

/* Add where/liteipcd, or with rel, liteipcd in the directory rel relative to the file where. */
static void add_place(lk_daemon_places *pl, const char *where, const char *rel)
{
    char *slash;

    if (pl->n >= LK_DAEMON_PLACES || !where || !*where)
        return;
    snprintf(pl->path[pl->n], PATH_MAX, "%s", where);
    if (rel) {
        slash = strrchr(pl->path[pl->n], '/');
        if (!slash)
            return;
        snprintf(slash, PATH_MAX - (size_t)(slash - pl->path[pl->n]), "/%s/liteipcd", rel);
    } else {
        snprintf(pl->path[pl->n] + strlen(pl->path[pl->n]),
                 PATH_MAX - strlen(pl->path[pl->n]), "/liteipcd");
    }
    for (int i = 0; i < pl->n; i++)
        if (strcmp(pl->path[i], pl->path[pl->n]) == 0)
            return; /* already listed */
    pl->n++;
}

static bool under_dir(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    return n > 0 && strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* The places next to this library and this program, then the build tree's. */
static void daemon_places(lk_daemon_places *pl)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    Dl_info info;

    pl->n = 0;
    exe[len > 0 ? len : 0] = '\0';
    /* A shared object holding this code (the LD_PRELOAD shim): <libdir>/../bin. */
    if (dladdr((void *)liteipc_kernel_attach_or_start, &info) && info.dli_fname &&
        info.dli_fname[0] == '/' && strcmp(info.dli_fname, exe) != 0)
        add_place(pl, info.dli_fname, LITEIPC_LIBDIR_TO_BINDIR);
    /* A program installed with the library: <bindir>/../bin. */
    add_place(pl, exe, "../bin");
    /* A program linked with the installed static library: the bindir of that installation. */
    add_place(pl, lk_installed_bindir, NULL);
    if (under_dir(exe, LITEIPC_BUILD_ROOT))
        add_place(pl, LITEIPC_LITEIPCD_BUILD_DIR, NULL);
}

static bool find_in_path(char *out)
{
    const char *path = getenv("PATH");
    const char *p = path, *end;

    while (p && *p) {
        end = strchr(p, ':');
        if (!end)
            end = p + strlen(p);
        if (end > p && snprintf(out, PATH_MAX, "%.*s/liteipcd", (int)(end - p), p) < PATH_MAX &&
            access(out, X_OK) == 0)
            return true;
        p = *end ? end + 1 : end;
    }
    return false;
}

/* The daemon to start, into pl->found: $LITEIPCD (an explicit choice wins), the places above,
   then PATH. */
static bool find_liteipcd(lk_daemon_places *pl)
{
    const char *env = getenv("LITEIPCD");

    if (env && *env) {
        snprintf(pl->found, PATH_MAX, "%s", env);
        return true;
    }
    daemon_places(pl);
    for (int i = 0; i < pl->n; i++)
        if (access(pl->path[i], X_OK) == 0) {
            snprintf(pl->found, PATH_MAX, "%s", pl->path[i]);
            return true;
        }
    return find_in_path(pl->found);
}

/* The one message a user needs when no daemon is found: every place tried, and the way out. */
static void report_no_liteipcd(const char *name, const lk_daemon_places *pl)
{
    fprintf(stderr, "liteipc: no liteipcd to start for the kernel \"%s\"; tried:\n", name);
    for (int i = 0; i < pl->n; i++)
        fprintf(stderr, "  %s\n", pl->path[i]);
    fprintf(stderr, "  each directory of $PATH\n"
                    "  set LITEIPCD=/path/to/liteipcd (unset now) to choose the daemon\n");
}

/* In the intermediate child: detach from our session and exec the daemon in a grandchild, so
   that the kernel outlives whichever process happened to start it. Async-signal-safe only. */
static void exec_daemon(const char *path, const char *name, int ready_fd, const char *fdarg,
                        char *const envp[])
{
    int devnull;

    setsid();
    if (fork() != 0)
        _exit(0);
    devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
    }
    /* Only stdio and the ready pipe cross into the daemon. */
    if (ready_fd > 3)
        close_range(3, (unsigned)ready_fd - 1, 0);
    close_range((unsigned)ready_fd + 1, ~0u, 0);
    fcntl(ready_fd, F_SETFD, 0);
    {
        char *const argv[] = {"liteipcd", "--name", (char *)name, "--exit-when-unused",
                              "--ready-fd", (char *)fdarg, "--quiet", NULL};

        execve(path, argv, envp);
    }
    _exit(127);
}

/* Our environment without LD_PRELOAD: a preloaded shim has no business in the daemon. */
static char **daemon_environment(void)
{
    extern char **environ;
    size_t n = 0, j = 0;
    char **envp;

    while (environ[n])
        n++;
    envp = calloc(n + 1, sizeof(*envp));
    if (!envp)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
            envp[j++] = environ[i];
    return envp;
}

/* Start the liteipcd at path for name and wait (bounded) until it serves or gives up. */
static int start_daemon(const char *path, const char *name)
{
    int pfd[2];
    char fdarg[16], byte;
    struct pollfd pp;
    char **envp;
    pid_t pid;

    envp = daemon_environment();
    if (!envp)
        return -ENOMEM;
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        free(envp);
        return -errno;
    }
    snprintf(fdarg, sizeof(fdarg), "%d", pfd[1]);
    pid = fork();
    if (pid == 0)
        exec_daemon(path, name, pfd[1], fdarg, envp);
    free(envp);
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        return -errno;
    }
    waitpid(pid, NULL, 0);
    /* One byte means "serving"; EOF means it exited (for example because another program
       started the same name first): either way, attaching again tells. */
    pp = (struct pollfd){.fd = pfd[0], .events = POLLIN};
    if (poll(&pp, 1, 10000) == 1 && read(pfd[0], &byte, 1) < 0) {
        /* nothing to do: the attach below reports the outcome */
    }
    close(pfd[0]);
    return 0;
}

/* Find the daemon, then start it for name. */
static int spawn_daemon(const char *name)
{
    lk_daemon_places *pl = calloc(1, sizeof(*pl));
    int err;

    if (!pl)
        return -ENOMEM;
    if (find_liteipcd(pl)) {
        err = start_daemon(pl->found, name);
    } else {
        report_no_liteipcd(name, pl);
        err = -ENOEXEC;
    }
    free(pl);
    return err;
}

int liteipc_kernel_attach_or_start(const char *name, liteipc_kernel **out)
{
    int err = liteipc_kernel_attach(name, out);

    if (err != -ENOENT)
        return err;
    err = spawn_daemon(name);
    if (err < 0)
        return err;
    return liteipc_kernel_attach(name, out);
}

