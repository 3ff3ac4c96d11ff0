/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chaos.c - kill -9 chaos against one liteipcd, with exact accounting (`make chaos`).
 *
 * Usage: chaos [--seconds N] [--liteipcd PATH] [--services N] [--clients N] [--seed S]
 *
 * Starts a liteipcd of its own (a private device name, a 500 ms reply timeout), then, as real
 * processes forked from this one: a ServiceManager (CMS and IPC thread: it registers services
 * with CMS_GEN_HANDLE, grants clients with CMS_ADD_ACCESS, and counts the death notices of the
 * services it registered), services (register, then answer every request with a payload derived
 * from it), and clients (look a service up, call it synchronously, verify the reply's payload
 * and its stamps: sender task, process, user, group). For N seconds it kill -9s a random service
 * or client every 20-200 ms and starts a new one in its place; the ServiceManager lives on.
 *
 * At the end it stops the clients, kills the services, waits (with a deadline) until the
 * ServiceManager has noticed every registered service's death and until the daemon has let go of
 * every process, and prints:
 *   calls made, verified replies, corrupted replies, lost calls (the service's reply was
 *   accepted by the kernel, but the caller got ETIME), errors by errno, hangs (a call not back
 *   within the reply timeout + 2 s), kills, services registered and deaths noticed, and the
 *   daemon's RSS and open descriptors (/proc/<pid>/status and /proc/<pid>/fd) before and after.
 * Exit status 0 only if no call was lost or corrupted, nothing hung, every death was noticed,
 * no call failed with an errno the chaos cannot explain, the daemon let go of every
 * descriptor and its RSS did not grow by more than 16 MiB. Nothing is left behind: every
 * child dies with this process (PR_SET_PDEATHSIG), and the daemon is stopped with SIGTERM.
 *
 * Sleeps here are the workload (when to kill, a client's pause when a service is down), never
 * a way to wait for something: waits are on pipes and process exits, each with a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <liteipc/liteipc.h>

#define MAX_SVC 8
#define MAX_CLI 16
#define NERR 134
#define TIMEOUT_MS 500
#define HANG_MS (TIMEOUT_MS + 2000)
#define CMS_MAX 256
#define POOL (64u * 1024u)
#define BODY_MAX 512u
#define CODE_REGISTER 1u
#define CODE_LOOKUP 2u
#define CODE_CALL 3u
#define MAGIC_REQ 0x43484151u /* "CHAQ" */
#define MAGIC_REP 0x43484152u
#define RSS_SLACK_KB (16 * 1024)

/* ---- shared accounting (an anonymous shared mapping made before the first fork) ------------ */

typedef struct ch_cli {
    _Atomic uint64_t calls, verified, corrupted, lost, lookups, lookup_miss, lookup_err;
    _Atomic uint64_t stale; /* verified, but answered by another service (a reused task ID) */
    _Atomic uint64_t err[NERR];
    _Atomic uint32_t next_seq;
    _Atomic uint64_t call_start_ns; /* 0 when not in a call */
} ch_cli;

typedef struct ch_svc {
    _Atomic uint32_t replied_seq[MAX_CLI]; /* the last seq whose reply the kernel accepted */
    _Atomic uint64_t requests, replies, bad_requests;
    _Atomic uint64_t reply_err[NERR];
} ch_svc;

typedef struct ch_shared {
    ch_cli cli[MAX_CLI];
    ch_svc svc[MAX_SVC];
} ch_shared;

typedef struct req_body {
    uint32_t magic, client, seq, svc;
    uint8_t bytes[BODY_MAX];
} req_body;

typedef struct reply_body {
    uint32_t magic, client, seq, svc;
    uint32_t sum; /* of the request's bytes */
} reply_body;

static ch_shared *S;
static const char *Name;
static int Nsvc = 3, Ncli = 4;
static volatile sig_atomic_t Stop;

/* ---- small helpers --------------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pause_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static unsigned errno_slot(int e)
{
    return e > 0 && e < NERR ? (unsigned)e : 0;
}

static uint32_t body_sum(const uint8_t *b, uint32_t n)
{
    uint32_t s = 2166136261u;

    for (uint32_t i = 0; i < n; i++)
        s = (s ^ b[i]) * 16777619u;
    return s;
}

static void body_fill(uint8_t *b, uint32_t n, uint32_t client, uint32_t seq)
{
    uint32_t x = client * 2654435761u ^ seq * 40503u ^ 0x9e3779b9u;

    for (uint32_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (uint8_t)(x >> 16);
    }
}

/* ---- the device, for the children ----------------------------------------------------------- */

typedef struct dev {
    liteipc_kernel *k;
    int fd;
    char *pool;
} dev;

static void die(const char *what)
{
    fprintf(stderr, "chaos[%d]: %s: %s\n", (int)getpid(), what, strerror(errno));
    _exit(3);
}

static void dev_up(dev *d)
{
    int r = liteipc_kernel_attach(Name, &d->k);

    if (r < 0) {
        errno = -r;
        die("attach");
    }
    d->fd = liteipc_open(d->k, LITEIPC_DRIVER, O_RDWR);
    if (d->fd < 0)
        die("open");
    d->pool = liteipc_mmap(d->k, NULL, POOL, PROT_READ, MAP_PRIVATE, d->fd, 0);
    if (d->pool == MAP_FAILED)
        die("mmap");
}

static int send_recv(dev *d, uint32_t flag, IpcMsg *out, IpcMsg **in, void *to_free)
{
    IpcContent c = {.flag = flag, .outMsg = out, .buffToFree = to_free};
    int r = liteipc_ioctl(d->k, d->fd, IPC_SEND_RECV_MSG, &c);

    if (r == 0 && in)
        *in = c.inMsg;
    return r;
}

static int call(dev *d, uint32_t handle, uint32_t code, const void *data, uint32_t n, IpcMsg **rep)
{
    IpcMsg m = {.type = MT_REQUEST, .target.handle = handle, .code = code,
                .dataSz = n, .data = (void *)data};

    return send_recv(d, SEND | RECV, &m, rep, NULL);
}

static int reply(dev *d, IpcMsg *req, const void *data, uint32_t n)
{
    IpcMsg m = {.type = MT_REPLY, .target.handle = req->taskID, .code = req->code,
                .timestamp = req->timestamp, .dataSz = n, .data = (void *)data};

    return send_recv(d, SEND | BUFF_FREE, &m, NULL, req);
}

static void buff_free(dev *d, void *buf)
{
    send_recv(d, BUFF_FREE, NULL, NULL, buf);
}

/* ---- ServiceManager ------------------------------------------------------------------------- */

/*
 * Lines to the driver: "S" once serving, "R" per registration whose reply reached the service
 * (its task was alive after CMS_GEN_HANDLE granted this process, so its death must be noticed),
 * "D" per death notice of such a registration, "U" per other notice (a service that died while
 * registering: the grant may or may not have been made). Counted per task ID, since IDs are
 * reused.
 */
typedef struct sm_state {
    uint32_t handle[MAX_SVC], pid[MAX_SVC]; /* for LOOKUP */
    unsigned expect[MAX_SERVICE_NUM];       /* registrations whose death is still to come */
    int out;
} sm_state;

static void sm_tell(const sm_state *sm, char what)
{
    char line[2] = {what, '\n'};

    if (write(sm->out, line, 2) != 2)
        _exit(4);
}

static void sm_register(dev *d, sm_state *sm, IpcMsg *m, uint32_t svc)
{
    CmsCmdContent cc = {.cmd = CMS_GEN_HANDLE, .taskID = m->taskID};
    uint32_t ans[2] = {0, 0}, pid = m->processID; /* m is freed by the reply */

    if (liteipc_ioctl(d->k, d->fd, IPC_CMS_CMD, &cc) < 0) {
        reply(d, m, ans, sizeof(ans));
        return;
    }
    ans[0] = cc.serviceHandle;
    if (reply(d, m, ans, sizeof(ans)) == 0 && cc.serviceHandle < MAX_SERVICE_NUM) {
        sm->handle[svc] = cc.serviceHandle;
        sm->pid[svc] = pid;
        sm->expect[cc.serviceHandle]++;
        sm_tell(sm, 'R');
    }
}

static void sm_request(dev *d, sm_state *sm, IpcMsg *m)
{
    uint32_t svc = MAX_SVC, ans[2] = {0, 0};
    CmsCmdContent cc;

    if (m->dataSz >= sizeof(svc))
        memcpy(&svc, m->data, sizeof(svc));
    if (svc < MAX_SVC && m->code == CODE_REGISTER) {
        sm_register(d, sm, m, svc);
        return;
    }
    if (svc < MAX_SVC && m->code == CODE_LOOKUP && sm->handle[svc]) {
        cc = (CmsCmdContent){.cmd = CMS_ADD_ACCESS, .taskID = m->taskID,
                             .serviceHandle = sm->handle[svc]};
        if (liteipc_ioctl(d->k, d->fd, IPC_CMS_CMD, &cc) == 0) {
            ans[0] = sm->handle[svc];
            ans[1] = sm->pid[svc];
        }
    }
    reply(d, m, ans, sizeof(ans));
}

static void sm_death(sm_state *sm, uint32_t tid)
{
    for (int i = 0; i < MAX_SVC; i++)
        if (sm->handle[i] == tid)
            sm->handle[i] = 0;
    if (tid < MAX_SERVICE_NUM && sm->expect[tid]) {
        sm->expect[tid]--;
        sm_tell(sm, 'D');
    } else {
        sm_tell(sm, 'U');
    }
}

static void run_sm(int out)
{
    static sm_state sm;
    dev d;
    IpcMsg *m = NULL;

    sm.out = out;
    dev_up(&d);
    if (liteipc_ioctl(d.k, d.fd, IPC_SET_CMS, (unsigned long)CMS_MAX) < 0)
        die("IPC_SET_CMS");
    if (liteipc_ioctl(d.k, d.fd, IPC_SET_IPC_THREAD, 0UL) < 0)
        die("IPC_SET_IPC_THREAD");
    sm_tell(&sm, 'S');
    for (;;) {
        if (send_recv(&d, RECV, NULL, &m, NULL) < 0)
            die("ServiceManager RECV");
        if (m->type == MT_REQUEST) {
            sm_request(&d, &sm, m);
            continue;
        }
        if (m->type == MT_DEATH_NOTIFY)
            sm_death(&sm, m->target.token);
        buff_free(&d, m);
    }
}

/* ---- services ------------------------------------------------------------------------------- */

static bool request_ok(const IpcMsg *m, const req_body *b, uint32_t n)
{
    uint8_t want[BODY_MAX];

    if (m->dataSz < offsetof(req_body, bytes) || b->magic != MAGIC_REQ || b->client >= MAX_CLI)
        return false;
    body_fill(want, n, b->client, b->seq);
    return m->userID == getuid() && m->gid == getgid() && memcmp(want, b->bytes, n) == 0;
}

static void run_service(int slot)
{
    ch_svc *st = &S->svc[slot];
    uint32_t me = (uint32_t)slot;
    dev d;
    IpcMsg *m = NULL;

    dev_up(&d);
    if (call(&d, 0, CODE_REGISTER, &me, sizeof(me), &m) < 0)
        die("REGISTER");
    buff_free(&d, m);
    for (;;) {
        const req_body *b;
        reply_body rb;
        uint32_t n;

        if (send_recv(&d, RECV, NULL, &m, NULL) < 0)
            die("service RECV");
        if (m->type != MT_REQUEST || m->flag == LITEIPC_FLAG_ONEWAY) {
            buff_free(&d, m);
            continue;
        }
        atomic_fetch_add(&st->requests, 1);
        b = m->data;
        n = m->dataSz - (uint32_t)offsetof(req_body, bytes);
        if (!request_ok(m, b, n)) {
            atomic_fetch_add(&st->bad_requests, 1);
            buff_free(&d, m);
            continue;
        }
        rb = (reply_body){.magic = MAGIC_REP, .client = b->client, .seq = b->seq,
                          .svc = me, .sum = body_sum(b->bytes, n)};
        if (reply(&d, m, &rb, sizeof(rb)) == 0) {
            atomic_fetch_add(&st->replies, 1);
            atomic_store(&st->replied_seq[rb.client], rb.seq);
        } else {
            atomic_fetch_add(&st->reply_err[errno_slot(errno)], 1);
        }
    }
}

/* ---- clients --------------------------------------------------------------------------------- */

typedef struct cli_cache {
    uint32_t handle, pid;
} cli_cache;

static bool lookup(dev *d, ch_cli *st, uint32_t svc, cli_cache *c)
{
    IpcMsg *m = NULL;
    uint32_t ans[2];

    atomic_fetch_add(&st->lookups, 1);
    if (call(d, 0, CODE_LOOKUP, &svc, sizeof(svc), &m) < 0) {
        atomic_fetch_add(&st->lookup_err, 1);
        return false;
    }
    memcpy(ans, m->data, sizeof(ans));
    buff_free(d, m);
    if (ans[0] == 0) {
        atomic_fetch_add(&st->lookup_miss, 1);
        return false;
    }
    *c = (cli_cache){.handle = ans[0], .pid = ans[1]};
    return true;
}

enum { REPLY_OK, REPLY_STALE, REPLY_BAD };

/*
 * A reply must answer this very request (client, seq, checksum of the payload) and carry the
 * kernel's stamps: the task called, its user and group. One from another service than the one
 * meant is not corrupt but stale: task IDs are reused, and a handle cached for a service that
 * died may now name another service this process was granted (as on the device).
 */
static int check_reply(const IpcMsg *m, const cli_cache *c, const req_body *rq, uint32_t n,
                       uint32_t svc)
{
    reply_body rb;

    if (m->type != MT_REPLY || m->dataSz != sizeof(rb) || m->taskID != c->handle ||
        m->userID != getuid() || m->gid != getgid())
        return REPLY_BAD;
    memcpy(&rb, m->data, sizeof(rb));
    if (rb.magic != MAGIC_REP || rb.client != rq->client || rb.seq != rq->seq ||
        rb.sum != body_sum(rq->bytes, n) || rb.svc >= MAX_SVC)
        return REPLY_BAD;
    if (rb.svc != svc)
        return REPLY_STALE;
    return m->processID == c->pid ? REPLY_OK : REPLY_BAD;
}

/* The first corrupted replies of a client, in full: what was expected, what came. */
static void describe_bad(int slot, const IpcMsg *m, const cli_cache *c, const req_body *rq,
                         uint32_t svc)
{
    reply_body rb = {0, 0, 0, 0, 0};

    if (m->dataSz >= sizeof(rb))
        memcpy(&rb, m->data, sizeof(rb));
    fprintf(stderr,
            "chaos: client %d: bad reply: type %d dataSz %u task %u (called %u) process %u "
            "(expected %u) uid %u gid %u; body magic %#x client %u seq %u (sent %u) svc %u "
            "(called %u)\n",
            slot, (int)m->type, m->dataSz, m->taskID, c->handle, m->processID, c->pid, m->userID,
            m->gid, rb.magic, rb.client, rb.seq, rq->seq, rb.svc, svc);
}

static void on_term(int sig)
{
    (void)sig;
    Stop = 1;
}

static void run_client(int slot)
{
    ch_cli *st = &S->cli[slot];
    cli_cache cache[MAX_SVC] = {{0, 0}};
    unsigned seed = (unsigned)getpid();
    req_body rq;
    dev d;

    signal(SIGTERM, on_term);
    dev_up(&d);
    while (!Stop) {
        uint32_t svc = (uint32_t)(rand_r(&seed) % (unsigned)Nsvc), n = rand_r(&seed) % BODY_MAX;
        IpcMsg *m = NULL;
        int r;

        if (!cache[svc].handle && !lookup(&d, st, svc, &cache[svc])) {
            pause_ms(2); /* the service is down: the workload waits a little */
            continue;
        }
        rq = (req_body){.magic = MAGIC_REQ, .client = (uint32_t)slot, .svc = svc,
                        .seq = atomic_fetch_add(&st->next_seq, 1) + 1};
        body_fill(rq.bytes, n, rq.client, rq.seq);
        atomic_store(&st->call_start_ns, now_ns());
        r = call(&d, cache[svc].handle, CODE_CALL, &rq, (uint32_t)offsetof(req_body, bytes) + n,
                 &m);
        atomic_store(&st->call_start_ns, 0);
        atomic_fetch_add(&st->calls, 1);
        if (r == 0) {
            int v = check_reply(m, &cache[svc], &rq, n, svc);

            atomic_fetch_add(v == REPLY_BAD ? &st->corrupted : &st->verified, 1);
            if (v == REPLY_BAD && st->corrupted <= 3)
                describe_bad(slot, m, &cache[svc], &rq, svc);
            if (v == REPLY_STALE) {
                atomic_fetch_add(&st->stale, 1);
                cache[svc] = (cli_cache){0, 0};
            }
            buff_free(&d, m);
            continue;
        }
        atomic_fetch_add(&st->err[errno_slot(errno)], 1);
        if (errno == ETIME && atomic_load(&S->svc[svc].replied_seq[slot]) == rq.seq)
            atomic_fetch_add(&st->lost, 1);
        cache[svc] = (cli_cache){0, 0}; /* dead, restarted or not granted: look it up again */
    }
    _exit(0);
}

/* ---- the driver ------------------------------------------------------------------------------ */

typedef struct child {
    pid_t pid;
    char kind; /* 'm', 's', 'c' */
    int slot;
} child;

static child Kids[2 + MAX_SVC + MAX_CLI];
static int Nkids;
static pid_t Daemon = -1;

/* Every child dies with the driver, however the driver ends. */
static void child_prologue(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static pid_t spawn(char kind, int slot, int sm_out)
{
    pid_t pid = fork();

    if (pid < 0) {
        perror("chaos: fork");
        exit(2);
    }
    if (pid > 0)
        return pid;
    child_prologue();
    if (kind == 'm')
        run_sm(sm_out);
    if (sm_out >= 0)
        close(sm_out);
    if (kind == 's')
        run_service(slot);
    run_client(slot);
    _exit(0);
}

static pid_t start_daemon(const char *liteipcd)
{
    int p[2];
    char fdarg[16], b;
    pid_t pid;
    struct pollfd pf;

    if (pipe(p) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        child_prologue();
        close(p[0]);
        snprintf(fdarg, sizeof(fdarg), "%d", p[1]);
        execl(liteipcd, liteipcd, "--name", Name, "--timeout-ms", "500", "--ready-fd", fdarg,
              "--quiet", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    pf = (struct pollfd){.fd = p[0], .events = POLLIN};
    if (pid < 0 || poll(&pf, 1, 10000) != 1 || read(p[0], &b, 1) != 1) {
        close(p[0]);
        fprintf(stderr, "chaos: %s did not become ready\n", liteipcd);
        return -1;
    }
    close(p[0]);
    return pid;
}

typedef struct daemon_use {
    long rss_kb; /* -1: not readable */
    int fds;     /* -1: not readable (a non-dumpable daemon of another user) */
} daemon_use;

static daemon_use daemon_read(void)
{
    daemon_use u = {-1, -1};
    char path[64], line[256];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)Daemon);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &u.rss_kb) == 1)
            break;
    if (f)
        fclose(f);
    snprintf(path, sizeof(path), "ls /proc/%d/fd 2>/dev/null | wc -l", (int)Daemon);
    f = popen(path, "r");
    if (f && fgets(line, sizeof(line), f))
        u.fds = atoi(line);
    if (f)
        pclose(f);
    if (u.fds == 0)
        u.fds = -1; /* nothing listed: not ours to read */
    return u;
}

typedef struct sm_count {
    long registered, deaths, others, started;
} sm_count;

/* Read the ServiceManager's lines until *field >= want (field NULL: only what is there now) or
   the deadline passes. */
static void sm_read(int in, sm_count *c, const long *field, long want, int deadline_ms)
{
    uint64_t end = now_ns() + (uint64_t)deadline_ms * 1000000u;
    char buf[256];

    for (;;) {
        struct pollfd pf = {.fd = in, .events = POLLIN};
        int64_t left = (int64_t)(end - now_ns()) / 1000000;
        ssize_t n;

        if (field && *field >= want)
            return;
        if (poll(&pf, 1, field ? (int)(left > 0 ? left : 0) : 0) != 1)
            return;
        n = read(in, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (ssize_t i = 0; i < n; i++) {
            c->registered += buf[i] == 'R';
            c->deaths += buf[i] == 'D';
            c->others += buf[i] == 'U';
            c->started += buf[i] == 'S';
        }
    }
}

static int kill_and_reap(pid_t pid)
{
    int status;

    if (pid <= 0)
        return -1; /* never kill(-1) or a process group */
    kill(pid, SIGKILL);
    return waitpid(pid, &status, 0) == pid ? status : -1;
}

typedef struct tally {
    long kills_svc, kills_cli, kills_in_call, hangs, unexpected_exits;
} tally;

/* A live client whose call has not come back within HANG_MS: a hang (then replaced). */
static void check_hangs(tally *t, int sm_out)
{
    uint64_t now = now_ns();

    for (int i = 0; i < Nkids; i++) {
        uint64_t start;

        if (Kids[i].kind != 'c')
            continue;
        start = atomic_load(&S->cli[Kids[i].slot].call_start_ns);
        if (start && now > start && now - start > (uint64_t)HANG_MS * 1000000u) {
            t->hangs++;
            fprintf(stderr, "chaos: client %d hung in a call for %llu ms\n", Kids[i].slot,
                    (unsigned long long)((now - start) / 1000000u));
            kill_and_reap(Kids[i].pid);
            atomic_store(&S->cli[Kids[i].slot].call_start_ns, 0);
            Kids[i].pid = spawn('c', Kids[i].slot, sm_out);
        }
    }
}

/* A child that exited by itself (it found an error it cannot live with) is a failure. */
static void check_exits(tally *t, int sm_out)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < Nkids; i++) {
            if (Kids[i].pid != pid)
                continue;
            t->unexpected_exits++;
            fprintf(stderr, "chaos: %c%d (pid %d) ended by itself: status %#x\n", Kids[i].kind,
                    Kids[i].slot, (int)pid, status);
            Kids[i].pid = Kids[i].kind == 'm' ? -1 : spawn(Kids[i].kind, Kids[i].slot, sm_out);
        }
    }
}

static void chaos_loop(unsigned seconds, unsigned seed, tally *t, int sm_out)
{
    uint64_t end = now_ns() + (uint64_t)seconds * 1000000000u;

    while (now_ns() < end) {
        int v = 1 + (int)(rand_r(&seed) % (unsigned)(Nkids - 1)); /* never the ServiceManager */

        pause_ms(20 + rand_r(&seed) % 180); /* when to kill: the workload, not a wait */
        check_exits(t, sm_out);
        check_hangs(t, sm_out);
        if (Kids[v].kind == 'c' && atomic_load(&S->cli[Kids[v].slot].call_start_ns))
            t->kills_in_call++;
        kill_and_reap(Kids[v].pid);
        if (Kids[v].kind == 'c')
            atomic_store(&S->cli[Kids[v].slot].call_start_ns, 0);
        if (Kids[v].kind == 's')
            t->kills_svc++;
        else
            t->kills_cli++;
        Kids[v].pid = spawn(Kids[v].kind, Kids[v].slot, sm_out);
    }
}

/* Wait for pid to exit until the deadline (a pidfd becomes readable when it does). Returns pid
   (reaped, *status set) or 0. */
static pid_t wait_exit(pid_t pid, int *status, uint64_t end)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct pollfd pf = {.fd = pfd, .events = POLLIN};
    uint64_t now = now_ns();

    if (pfd >= 0) {
        poll(&pf, 1, now < end ? (int)((end - now) / 1000000u) : 0);
        close(pfd);
    }
    return waitpid(pid, status, WNOHANG);
}

/* Clients finish their call and leave; a client still in a call after HANG_MS has hung. */
static void stop_clients(tally *t)
{
    for (int i = 0; i < Nkids; i++)
        if (Kids[i].kind == 'c')
            kill(Kids[i].pid, SIGTERM);
    for (int i = 0; i < Nkids; i++) {
        uint64_t end = now_ns() + (uint64_t)HANG_MS * 1000000u;
        int status;
        pid_t r = 0;

        if (Kids[i].kind != 'c')
            continue;
        r = wait_exit(Kids[i].pid, &status, end);
        if (r == 0) {
            t->hangs++;
            fprintf(stderr, "chaos: client %d did not stop within %d ms\n", Kids[i].slot, HANG_MS);
            kill_and_reap(Kids[i].pid);
        } else if (r == Kids[i].pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
                   !(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)) {
            /* (SIGTERM before its handler was installed: it had just been started) */
            t->unexpected_exits++;
        }
        Kids[i].pid = -1;
    }
}

/* ---- the report ------------------------------------------------------------------------------ */

typedef struct totals {
    uint64_t calls, verified, corrupted, lost, lookups, lookup_miss, lookup_err, stale;
    uint64_t requests, replies, bad_requests, unexpected_err;
    uint64_t err[NERR], reply_err[NERR];
} totals;

/* What a call may fail with while its service is killed and restarted: ETIME (it died with
   the request), EINVAL (not alive), EACCES (a new instance, not granted yet). */
static bool expected_errno(int e)
{
    return e == ETIME || e == EINVAL || e == EACCES;
}

static void sum_up(totals *t)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < Ncli; i++) {
        ch_cli *c = &S->cli[i];

        t->calls += c->calls;
        t->verified += c->verified;
        t->corrupted += c->corrupted;
        t->lost += c->lost;
        t->lookups += c->lookups;
        t->lookup_miss += c->lookup_miss;
        t->lookup_err += c->lookup_err;
        t->stale += c->stale;
        for (int e = 0; e < NERR; e++)
            t->err[e] += c->err[e];
    }
    for (int i = 0; i < Nsvc; i++) {
        ch_svc *v = &S->svc[i];

        t->requests += v->requests;
        t->replies += v->replies;
        t->bad_requests += v->bad_requests;
        for (int e = 0; e < NERR; e++)
            t->reply_err[e] += v->reply_err[e];
    }
    for (int e = 0; e < NERR; e++)
        if (!expected_errno(e))
            t->unexpected_err += t->err[e];
}

static void print_errnos(const char *what, const uint64_t *err)
{
    printf("%-28s", what);
    for (int e = 0; e < NERR; e++)
        if (err[e])
            printf(" %s %llu", e ? liteipc_errno_name(e) : "other",
                   (unsigned long long)err[e]);
    printf("\n");
}

static bool report(const totals *t, const tally *ty, const sm_count *sm, daemon_use before,
                   daemon_use after, int fds_idle, int daemon_status, unsigned seconds)
{
    /* More than at idle is a leak; fewer is not (the idle count, read just after the daemon
       started, may include a descriptor of its start-up that it has closed since). */
    bool fd_leak = after.fds >= 0 && fds_idle >= 0 && after.fds > fds_idle;
    bool rss_grew = before.rss_kb >= 0 && after.rss_kb > before.rss_kb + RSS_SLACK_KB;
    bool ok;

    printf("chaos: %u s, %d services and %d clients on one liteipcd\n", seconds, Nsvc, Ncli);
    printf("%-28s %ld services, %ld clients (%ld of them in a call)\n", "kill -9", ty->kills_svc,
           ty->kills_cli, ty->kills_in_call);
    printf("%-28s %llu made, %llu verified (payload and stamps; %llu by another service "
           "through a reused task ID)\n", "calls", (unsigned long long)t->calls,
           (unsigned long long)t->verified, (unsigned long long)t->stale);
    printf("%-28s %llu corrupted, %llu lost, %ld hangs\n", "failures",
           (unsigned long long)t->corrupted, (unsigned long long)t->lost, ty->hangs);
    print_errnos("call errors by errno", t->err);
    printf("%-28s %llu requests, %llu replies, %llu bad requests\n", "services",
           (unsigned long long)t->requests, (unsigned long long)t->replies,
           (unsigned long long)t->bad_requests);
    print_errnos("reply errors by errno", t->reply_err);
    printf("%-28s %llu, %llu found no service, %llu failed\n", "lookups",
           (unsigned long long)t->lookups, (unsigned long long)t->lookup_miss,
           (unsigned long long)t->lookup_err);
    printf("%-28s %ld registered, %ld deaths noticed, %ld other notices\n", "ServiceManager",
           sm->registered, sm->deaths, sm->others);
    printf("%-28s RSS %ld -> %ld KiB, descriptors %d (idle %d) -> %d, exit status %d\n",
           "daemon", before.rss_kb, after.rss_kb, before.fds, fds_idle, after.fds,
           daemon_status);
    ok = t->corrupted == 0 && t->lost == 0 && ty->hangs == 0 && t->unexpected_err == 0 &&
         t->bad_requests == 0 && ty->unexpected_exits == 0 && sm->deaths == sm->registered &&
         !fd_leak && !rss_grew && daemon_status == 0 && t->verified > 0;
    if (!ok)
        printf("chaos: FAILED:%s%s%s%s%s%s%s%s%s%s\n", t->corrupted ? " corrupted replies" : "",
               t->lost ? " lost calls" : "", ty->hangs ? " hangs" : "",
               t->unexpected_err ? " unexpected errors" : "",
               t->bad_requests ? " corrupted requests" : "",
               ty->unexpected_exits ? " a program failed" : "",
               sm->deaths != sm->registered ? " deaths not noticed" : "",
               fd_leak ? " daemon descriptors leaked" : "", rss_grew ? " daemon RSS grew" : "",
               t->verified == 0 ? " no call succeeded" : "");
    else
        printf("chaos: ok: nothing lost, corrupted or hung; every death noticed; no leak\n");
    return ok;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: chaos [--seconds N] [--liteipcd PATH] [--services N (1-%d)] "
                    "[--clients N (1-%d)] [--seed S]\n", MAX_SVC, MAX_CLI);
    exit(2);
}

/* The daemon has let go of every process when its descriptors are back to the idle count (or
   below it: see report()). */
static daemon_use wait_daemon_idle(int fds_idle)
{
    uint64_t end = now_ns() + 5000000000u;
    daemon_use u = daemon_read();

    while (u.fds >= 0 && u.fds > fds_idle && now_ns() < end) {
        pause_ms(10); /* bounded wait for a count nothing can notify us of */
        u = daemon_read();
    }
    return u;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seconds", required_argument, NULL, 't'}, {"liteipcd", required_argument, NULL, 'd'},
        {"services", required_argument, NULL, 's'}, {"clients", required_argument, NULL, 'c'},
        {"seed", required_argument, NULL, 'r'},     {NULL, 0, NULL, 0}};
    const char *liteipcd = getenv("LITEIPCD");
    unsigned seconds = 60, seed = (unsigned)time(NULL);
    char name[64];
    int o, smp[2], status = -1, fds_idle;
    daemon_use before, after;
    sm_count sm = {0, 0, 0, 0};
    tally ty = {0, 0, 0, 0, 0};
    totals t;

    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 't')
            seconds = (unsigned)strtoul(optarg, NULL, 10);
        else if (o == 'd')
            liteipcd = optarg;
        else if (o == 's')
            Nsvc = atoi(optarg);
        else if (o == 'c')
            Ncli = atoi(optarg);
        else if (o == 'r')
            seed = (unsigned)strtoul(optarg, NULL, 10);
        else
            usage();
    }
    if (!liteipcd || Nsvc < 1 || Nsvc > MAX_SVC || Ncli < 1 || Ncli > MAX_CLI)
        usage();
    snprintf(name, sizeof(name), "chaos-%d", (int)getpid());
    Name = name;
    printf("chaos: seed %u (--seed to replay the kill schedule)\n", seed);
    fflush(stdout);
    S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (S == MAP_FAILED || pipe(smp) < 0)
        return 2;
    Daemon = start_daemon(liteipcd);
    if (Daemon < 0)
        return 2;
    fds_idle = daemon_read().fds;
    Kids[Nkids++] = (child){.pid = spawn('m', 0, smp[1]), .kind = 'm'};
    sm_read(smp[0], &sm, &sm.started, 1, 10000);
    if (!sm.started) {
        fprintf(stderr, "chaos: the ServiceManager did not start\n");
        return 2;
    }
    for (int i = 0; i < Nsvc; i++)
        Kids[Nkids++] = (child){.pid = spawn('s', i, smp[1]), .kind = 's', .slot = i};
    for (int i = 0; i < Ncli; i++)
        Kids[Nkids++] = (child){.pid = spawn('c', i, smp[1]), .kind = 'c', .slot = i};
    sm_read(smp[0], &sm, &sm.registered, Nsvc, 10000); /* "before": the services are up */
    before = daemon_read();
    chaos_loop(seconds, seed, &ty, smp[1]);
    stop_clients(&ty);
    for (int i = 0; i < Nkids; i++)
        if (Kids[i].kind == 's')
            kill_and_reap(Kids[i].pid);
    sm_read(smp[0], &sm, NULL, 0, 0);
    sm_read(smp[0], &sm, &sm.deaths, sm.registered, 5000); /* every one registered is dead */
    kill_and_reap(Kids[0].pid);
    after = wait_daemon_idle(fds_idle);
    kill(Daemon, SIGTERM);
    waitpid(Daemon, &status, 0);
    sum_up(&t);
    return report(&t, &ty, &sm, before, after, fds_idle,
                  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), seconds)
               ? 0
               : 1;
}
