/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_identity.c - a process is identified once, when it connects, and can make the
 * broker hold only so much (DESIGN.md invariant 9):
 *   - a connection handed to another process ends with the process that made it: its simulated
 *     process is reaped, the holder's requests fail, and a PID reused afterwards (a real reuse in
 *     a new PID namespace, as root) inherits nothing;
 *   - OBJ_FD files held for one sender are capped: past fd_pending_max its send fails with
 *     ENOMEM, while another process maps its pool, calls and sends files as usual;
 *   - connections per host user are capped: past conn_user_max the device's open fails with
 *     EUSERS, and a closed connection makes room again;
 *   - a broker out of descriptors stops accepting for a while instead of spinning on a readable
 *     listener: its CPU time over a window with a flood of connections waiting stays small;
 *   - a fork child of the host holds none of the descriptors the broker holds for the processes
 *     (their connections, pidfds, doorbells, memory files, OBJ_FD files).
 * The wire protocol is spoken raw (runtime.h) where a test needs a connection the library would
 * never make: one handed to a child, or one left idle.
 */
#include "sfix.h"
#include "child.h"
#include "sanitizer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "platform.h"
#include "runtime.h"

#define T_FD_CAP 8u   /* fd_pending_max of the descriptor test */
#define T_CONN_CAP 4u /* conn_user_max of the connection test */

/* ---- the wire protocol, raw ------------------------------------------------------------------- */

static int raw_connect(liteipc_kernel *k, int flags)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | flags, 0);

    if (s < 0)
        return -1;
    if (connect(s, (struct sockaddr *)&k->b.addr, k->b.addrlen) < 0) {
        close(s);
        return -1;
    }
    return s;
}

/* One request: its result, or -ESHUTDOWN if the broker closed the connection. Descriptors
   that come with the answer are closed. */
static int raw_request(int s, uint32_t op, int a)
{
    lk_wire_req rq = {.op = op, .a = a};
    lk_wire_resp rs;
    int fds[4];
    ssize_t n = lk_seq_send(s, &rq, sizeof(rq), NULL, 0);

    if (n < 0 && n != -EPIPE && n != -ECONNRESET)
        return -ESHUTDOWN;
    n = lk_seq_recv(s, &rs, sizeof(rs), fds, 4);
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return n == (ssize_t)sizeof(rs) ? rs.result : -ESHUTDOWN;
}

static char *dump_of(liteipc_kernel *k)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_non_null(out);
    assert_int_equal(liteipc_kernel_dump(k, out), 0);
    assert_int_equal(fclose(out), 0);
    return text;
}

/* ---- a connection handed to a child --------------------------------------------------------- */

struct handover {
    liteipc_kernel *k;
    int report;        /* write end: {simulated PID, TID, holder's host PID} */
    int a_go, b_go;    /* read ends: the connector may exit / the holder may try again */
};

/* The holder: uses the connection while its maker lives, then again once it has exited. */
static void holder(struct handover *h, int s, int pid)
{
    int info[3] = {pid, -1, (int)getpid()};
    char x;

    alarm(CHILD_ALARM_S); /* not inherited from its parent */
    info[1] = raw_request(s, LK_OP_TASK_ATTACH, 0);
    write_pipe(h->report, info, sizeof(info));
    CHILD_CHECK(read(h->b_go, &x, 1) == 1, 21);
    CHILD_CHECK(raw_request(s, LK_OP_TASK_ATTACH, 0) == -ESHUTDOWN, 22);
    CHILD_CHECK(raw_request(s, LK_OP_OPEN, 0) == -ESHUTDOWN, 23);
    _exit(0);
}

static void child_connects_and_hands_over(void *arg)
{
    struct handover *h = arg;
    int s = raw_connect(h->k, 0), pid;
    pid_t b;
    char x;

    CHILD_CHECK(s >= 0, 1);
    pid = raw_request(s, LK_OP_HELLO, -1);
    CHILD_CHECK(pid > 0, 2);
    CHILD_CHECK(raw_request(s, LK_OP_OPEN, 0) == 0, 3);
    b = fork();
    CHILD_CHECK(b >= 0, 4);
    if (b == 0)
        holder(h, s, pid);
    CHILD_CHECK(read(h->a_go, &x, 1) == 1, 5);
    _exit(0);
}

static void handed_connection_ends_with_the_process_that_made_it(void **state)
{
    t_ctx *c = *state;
    struct handover h = {.k = c->k};
    int rep[2], ago[2], bgo[2], info[3] = {-1, -1, -1};
    liteipc_event ev[4];
    char want[64], *text;
    pid_t a;
    size_t n;

    assert_ok(pipe(rep));
    assert_ok(pipe(ago));
    assert_ok(pipe(bgo));
    h.report = rep[1];
    h.a_go = ago[0];
    h.b_go = bgo[0];
    assert_ok(prctl(PR_SET_CHILD_SUBREAPER, 1)); /* the holder becomes ours when A exits */
    a = fork_child(child_connects_and_hands_over, &h);
    assert_ok(read_pipe(rep[0], info, sizeof(info)));
    assert_true(info[0] > 0);
    assert_true(info[1] >= 0); /* while its maker lives, the holder's requests are served */
    assert_int_equal(write(ago[1], "x", 1), 1);
    assert_child_passed(wait_child(a));
    /* The maker's exit alone reaps its simulated process (the holder has said nothing). */
    assert_ok(t_ev_wait_src(c->ev, LITEIPC_EV_TASK_DEATH, info[1], 1, T_WAIT_MS));
    n = t_ev_collect(c->ev, LITEIPC_EV_TASK_DEATH, info[1], ev, 4);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].src_pid, info[0]);
    assert_int_equal(ev[0].src_host_pid, a); /* named after the process that connected */
    assert_int_equal(write(bgo[1], "x", 1), 1);
    assert_child_passed(wait_child(info[2]));
    assert_ok(prctl(PR_SET_CHILD_SUBREAPER, 0));
    text = dump_of(c->k);
    snprintf(want, sizeof want, "process %d (host", info[0]);
    assert_null(strstr(text, want));
    free(text);
    for (int i = 0; i < 2; i++) {
        close(rep[i]);
        close(ago[i]);
        close(bgo[i]);
    }
}

/* ---- a real PID reuse, in a PID namespace of our own ---------------------------------------- */

/* PID 1 of a new PID namespace: a kernel of its own; its child A connects and hands the
   connection to B, exits; ns_last_pid makes the next child C get A's PID; then B says HELLO.
   Exit status: 0 if B was refused, 77 if the reuse could not be arranged, else a failure. */
static int ns_init(void)
{
    liteipc_kernel *k;
    int bgo[2], cgo[2], st, code = 0;
    pid_t a, c, w;
    FILE *f;

    alarm(CHILD_ALARM_S); /* here and in each child: a failure never leaves a process behind */
    if (liteipc_kernel_start(NULL, &k) != 0 || pipe(bgo) < 0 || pipe(cgo) < 0)
        return 30;
    a = fork();
    if (a == 0) {
        int s = raw_connect(k, 0);

        alarm(CHILD_ALARM_S);
        if (s < 0)
            _exit(31);
        if (fork() == 0) { /* B: waits until A's PID belongs to C, then speaks */
            char x;

            alarm(CHILD_ALARM_S);
            if (read(bgo[0], &x, 1) != 1)
                _exit(32);
            /* refused (the connection is closed, or turned away if A died before it was
               accepted), never served as C */
            _exit(raw_request(s, LK_OP_HELLO, -1) < 0 ? 0 : 33);
        }
        _exit(0);
    }
    if (a < 0 || waitpid(a, &st, 0) != a || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 34;
    f = fopen("/proc/sys/kernel/ns_last_pid", "we");
    if (!f)
        return 77;
    fprintf(f, "%d", (int)a - 1);
    if (fclose(f) != 0)
        return 77;
    c = fork();
    if (c == 0) { /* C: lives under A's PID until told */
        char x;

        alarm(CHILD_ALARM_S);
        /* without the broker's ends of the connections, which it inherited */
        if (cgo[0] > 3)
            close_range(3, (unsigned)cgo[0] - 1, 0);
        close_range((unsigned)cgo[0] + 1, ~0u, 0);
        _exit(read(cgo[0], &x, 1) == 1 ? 0 : 35);
    }
    if (c != a)
        code = 77;
    if (write(bgo[1], "x", 1) != 1)
        code = 36;
    /* B, reparented to us, reports first (C waits for cgo) */
    w = waitpid(-1, &st, 0);
    if (code == 0 && (w == c || !WIFEXITED(st) || WEXITSTATUS(st) != 0))
        code = w == c ? 37 : WIFEXITED(st) ? WEXITSTATUS(st) : 38;
    if (write(cgo[1], "x", 1) != 1)
        code = code ? code : 39;
    while (waitpid(-1, &st, 0) > 0)
        ;
    liteipc_kernel_stop(k);
    return code;
}

static void child_in_new_pid_namespace(void *arg)
{
    pid_t init;
    int st;

    (void)arg;
    if (unshare(CLONE_NEWPID) < 0)
        _exit(77);
    init = fork();
    if (init == 0)
        _exit(ns_init());
    if (init < 0 || waitpid(init, &st, 0) != init)
        _exit(40);
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 41);
}

static void reused_pid_inherits_nothing(void **state)
{
    int st;

    (void)state;
    if (UNDER_TSAN)
        skip(); /* the child starts threads after a fork of a threaded process: sanitizer.h */
    st = wait_child(fork_child(child_in_new_pid_namespace, NULL));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
        skip(); /* not permitted here: no PID namespace or no ns_last_pid */
    assert_child_passed(st);
}

/* ---- OBJ_FD files held for a sender --------------------------------------------------------- */

struct fdcap {
    liteipc_kernel *k;
    int fd;           /* the test's device descriptor, inherited */
    uint32_t handle;  /* the receiver that never receives */
    uint32_t svc;     /* a plain service in the test */
    int report;       /* write end */
    int go;           /* read end */
};

static int send_fd_object(liteipc_kernel *k, int dev, uint32_t handle, int fd)
{
    SpecialObj obj = {.type = OBJ_FD, .content.fd = (uint32_t)fd};
    uint32_t off = 0;
    IpcMsg m = {.type = MT_REQUEST, .flag = LITEIPC_FLAG_ONEWAY, .target.handle = handle,
                .code = 0x66, .dataSz = sizeof(obj), .data = &obj, .spObjNum = 1,
                .offsets = &off};
    IpcContent ct = {.flag = SEND, .outMsg = &m};

    return liteipc_ioctl(k, dev, IPC_SEND_RECV_MSG, &ct);
}

/* Registers with the CMS, reports its handle, and never receives until told to exit. */
static void child_never_receives(void *arg)
{
    struct fdcap *fc = arg;
    int handle;
    char x;

    CHILD_CHECK(liteipc_mmap(fc->k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, fc->fd, 0) !=
                    MAP_FAILED,
                1);
    CHILD_CHECK(t_prime_task(fc->k, fc->fd) == 0, 2);
    CHILD_CHECK(t_request_register(fc->k, fc->fd) == 0, 3);
    handle = liteipc_self_tid(fc->k);
    write_pipe(fc->report, &handle, sizeof(handle));
    CHILD_CHECK(read(fc->go, &x, 1) == 1, 4);
    _exit(0);
}

/* Sends files until its cap, then one more: ENOMEM. */
static void child_floods_fds(void *arg)
{
    struct fdcap *fc = arg;
    int p[2], done = 1;

    CHILD_CHECK(liteipc_mmap(fc->k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, fc->fd, 0) !=
                    MAP_FAILED,
                1);
    CHILD_CHECK(pipe(p) == 0, 2);
    CHILD_CHECK(t_request_grant(fc->k, fc->fd, fc->handle) == 0, 3);
    for (unsigned i = 0; i < T_FD_CAP; i++)
        CHILD_CHECK(send_fd_object(fc->k, fc->fd, fc->handle, p[0]) == 0, 4);
    CHILD_ERR(send_fd_object(fc->k, fc->fd, fc->handle, p[0]), ENOMEM, 5);
    CHILD_ERR(send_fd_object(fc->k, fc->fd, fc->handle, p[1]), ENOMEM, 6);
    write_pipe(fc->report, &done, sizeof(done));
    _exit(0);
}

/* Meanwhile: a pool of its own, a call, a file sent to the same receiver. */
static void child_lives_normally(void *arg)
{
    struct fdcap *fc = arg;
    IpcMsg *r = NULL;
    int p[2];

    CHILD_CHECK(liteipc_mmap(fc->k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, fc->fd, 0) !=
                    MAP_FAILED,
                1);
    CHILD_CHECK(t_request_grant(fc->k, fc->fd, fc->svc) == 0, 2);
    CHILD_CHECK(t_call(fc->k, fc->fd, fc->svc, T_CODE_ECHO, "hi", 2, &r) == 0, 3);
    CHILD_CHECK(r->dataSz == 2 && memcmp(r->data, "hi", 2) == 0, 4);
    CHILD_CHECK(t_free(fc->k, fc->fd, r) == 0, 5);
    CHILD_CHECK(pipe(p) == 0, 6);
    CHILD_CHECK(t_request_grant(fc->k, fc->fd, fc->handle) == 0, 7);
    CHILD_CHECK(send_fd_object(fc->k, fc->fd, fc->handle, p[0]) == 0, 8);
    _exit(0);
}

static int setup_fd_cap(void **state)
{
    liteipc_config cfg;

    liteipc_config_init(&cfg);
    cfg.fd_pending_max = T_FD_CAP;
    return t_setup_with(state, &cfg);
}

static void fd_objects_past_the_senders_cap_enomem_others_unharmed(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {.cms_size = T_CMS_BIG}, svc = {0};
    struct fdcap fc = {.k = c->k};
    int rep[2], go[2], handle = -1, done = 0;
    pid_t rcv, flood;

    fc.fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fc.fd >= 0);
    assert_ok(pipe(rep));
    assert_ok(pipe(go));
    fc.report = rep[1];
    fc.go = go[0];
    t_svc_start(&cms, c->k);
    t_svc_start(&svc, c->k);
    fc.svc = (uint32_t)svc.tid;
    rcv = fork_child(child_never_receives, &fc);
    assert_ok(read_pipe(rep[0], &handle, sizeof(handle)));
    fc.handle = (uint32_t)handle;
    flood = fork_child(child_floods_fds, &fc);
    assert_ok(read_pipe(rep[0], &done, sizeof(done)));
    assert_int_equal(done, 1);
    /* the flooder is at its cap, and stays there while it lives */
    assert_child_passed(wait_child(fork_child(child_lives_normally, &fc)));
    assert_child_passed(wait_child(flood));
    assert_int_equal(write(go[1], "x", 1), 1);
    assert_child_passed(wait_child(rcv));
    T_CHECK_OK(t_request_grant(c->k, fc.fd, fc.svc));
    T_CHECK_OK(t_svc_quit(&svc, c->k, fc.fd, false));
    t_svc_join(&svc);
    T_CHECK_OK(t_svc_quit(&cms, c->k, fc.fd, true));
    t_svc_join(&cms);
    assert_int_equal(svc.requests, 1);
    assert_ok(liteipc_close(c->k, fc.fd));
    for (int i = 0; i < 2; i++) {
        close(rep[i]);
        close(go[i]);
    }
}

/* ---- connections per user --------------------------------------------------------------------- */

struct conncap {
    liteipc_kernel *k;
};

static void child_fills_its_connections(void *arg)
{
    struct conncap *cc = arg;
    int s[T_CONN_CAP], fd;

    /* Idle connections, each one identified and counted: a request proves it was accepted. */
    for (unsigned i = 0; i < T_CONN_CAP; i++) {
        s[i] = raw_connect(cc->k, 0);
        CHILD_CHECK(s[i] >= 0, 1);
    }
    CHILD_CHECK(raw_request(s[T_CONN_CAP - 1], LK_OP_FD_FETCH, 0) == -EINVAL, 2);
    /* One more, the library's: the device's open says why it cannot have it. */
    CHILD_ERR(liteipc_open(cc->k, LITEIPC_DRIVER, O_RDWR), EUSERS, 3);
    /* A connection that ends makes room (its EOF is seen before the next request's answer). */
    close(s[0]);
    CHILD_CHECK(raw_request(s[1], LK_OP_FD_FETCH, 0) == -EINVAL, 4);
    fd = liteipc_open(cc->k, LITEIPC_DRIVER, O_RDWR);
    CHILD_CHECK(fd >= 0, 5);
    CHILD_CHECK(liteipc_mmap(cc->k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, fd, 0) != MAP_FAILED,
                6);
    _exit(0);
}

static int setup_conn_cap(void **state)
{
    liteipc_config cfg;

    liteipc_config_init(&cfg);
    cfg.conn_user_max = T_CONN_CAP;
    return t_setup_with(state, &cfg);
}

static void connections_past_the_users_cap_eusers(void **state)
{
    t_ctx *c = *state;
    struct conncap cc = {.k = c->k};
    liteipc_event ev[8];
    liteipc_stats st;
    pid_t child = fork_child(child_fills_its_connections, &cc);
    int fd;

    assert_child_passed(wait_child(child));
    /* The refusal is counted, and an event names the program that was turned away. */
    assert_int_equal(t_ev_collect(c->ev, LITEIPC_EV_REFUSED, -1, ev, 8), 1);
    assert_int_equal(ev[0].err, EUSERS);
    assert_int_equal(ev[0].cmd, LITEIPC_CMD_OPEN);
    assert_int_equal(ev[0].src_host_pid, child);
    assert_int_equal(ev[0].src_pid, -1);
    assert_int_equal(liteipc_kernel_stats(c->k, &st), 0);
    assert_int_equal(st.refused[EUSERS], 1);
    /* the host's own processes do not count */
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(liteipc_close(c->k, fd));
}

/* ---- a broker out of descriptors -------------------------------------------------------------- */

#define T_FLOOD 300           /* connections waiting to be accepted */
#define T_WINDOW_MS 400       /* CPU time is measured over this much wall time */
#define T_CPU_MAX_PERCENT 20  /* spinning on accept would be close to 100 */

struct flood {
    liteipc_kernel *k;
    int report, go;
};

static void child_floods_connections(void *arg)
{
    struct flood *fl = arg;
    struct rlimit rl;
    int n = 0;
    char x;

    /* our own table needs room: the limit the test lowered is for the broker */
    CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, 1);
    rl.rlim_cur = rl.rlim_max;
    CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, 2);
    for (int i = 0; i < T_FLOOD; i++)
        n += raw_connect(fl->k, SOCK_NONBLOCK) >= 0; /* a full backlog refuses (EAGAIN) */
    write_pipe(fl->report, &n, sizeof(n));
    CHILD_CHECK(read(fl->go, &x, 1) == 1, 3);
    _exit(0);
}

static uint64_t cpu_ns_self(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int fds_in_use(void)
{
    int n = 0;

    for (int fd = 0; fd < 4096; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

static void broker_out_of_descriptors_backs_off(void **state)
{
    t_ctx *c = *state;
    struct flood fl = {.k = c->k};
    struct rlimit old, low;
    struct timespec window = {.tv_sec = 0, .tv_nsec = T_WINDOW_MS * 1000000L};
    int rep[2], go[2], n = 0, fd;
    uint64_t cpu;
    pid_t pid;

    assert_ok(pipe(rep));
    assert_ok(pipe(go));
    fl.report = rep[1];
    fl.go = go[0];
    assert_ok(getrlimit(RLIMIT_NOFILE, &old));
    low = old;
    low.rlim_cur = (rlim_t)fds_in_use() + 8; /* a few connections, then EMFILE */
    pid = fork_child(child_floods_connections, &fl);
    assert_ok(setrlimit(RLIMIT_NOFILE, &low));
    assert_ok(read_pipe(rep[0], &n, sizeof(n)));
    assert_true(n > 8); /* more are waiting than the broker can take */
    /* The listener stays readable: a broker retrying accept at once would burn this window. */
    cpu = cpu_ns_self();
    while (nanosleep(&window, &window) < 0 && errno == EINTR)
        ;
    cpu = cpu_ns_self() - cpu;
    print_message("broker CPU over %d ms with %d connections waiting: %.1f ms\n", T_WINDOW_MS, n,
                  (double)cpu / 1e6);
    assert_ok(setrlimit(RLIMIT_NOFILE, &old));
    assert_true(cpu < (uint64_t)T_WINDOW_MS * 1000000u * T_CPU_MAX_PERCENT / 100u);
    assert_int_equal(write(go[1], "x", 1), 1);
    assert_child_passed(wait_child(pid));
    /* descriptors back: the kernel serves a new process again */
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(liteipc_close(c->k, fd));
    for (int i = 0; i < 2; i++) {
        close(rep[i]);
        close(go[i]);
    }
}

/* ---- a fork child of the host ----------------------------------------------------------------- */

/* Sends the receiver a socket, which the broker holds for it, and lives until told to exit. */
static void child_sends_a_socket(void *arg)
{
    struct fdcap *fc = arg;
    int sv[2], done = 1;
    char x;

    CHILD_CHECK(liteipc_mmap(fc->k, NULL, T_POOL, PROT_READ, MAP_PRIVATE, fc->fd, 0) !=
                    MAP_FAILED,
                1);
    CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, 2);
    CHILD_CHECK(t_request_grant(fc->k, fc->fd, fc->handle) == 0, 3);
    CHILD_CHECK(send_fd_object(fc->k, fc->fd, fc->handle, sv[0]) == 0, 4);
    write_pipe(fc->report, &done, sizeof(done));
    CHILD_CHECK(read(fc->go, &x, 1) == 1, 5);
    _exit(0);
}

/* Forked by the host: none of the broker's descriptors (a socket of any kind, a pidfd, an
   eventfd, epoll, a timer, a memory file of the kernel's) is among its own. */
static void child_holds_nothing_of_the_brokers(void *arg)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    (void)arg;
    CHILD_CHECK(d != NULL, 1);
    while ((e = readdir(d)) != NULL) {
        char path[300], link[256];
        ssize_t n;

        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        n = readlink(path, link, sizeof(link) - 1);
        CHILD_CHECK(n > 0, 2);
        link[n] = '\0';
        CHILD_CHECK(strncmp(link, "socket:", 7) != 0, 3);
        CHILD_CHECK(strstr(link, "pidfd") == NULL, 4);
        CHILD_CHECK(strstr(link, "[eventfd") == NULL, 5);
        CHILD_CHECK(strstr(link, "memfd:liteipc") == NULL, 6);
        CHILD_CHECK(strstr(link, "[eventpoll]") == NULL && strstr(link, "[timerfd]") == NULL, 7);
    }
    closedir(d);
    _exit(0);
}

static void fork_child_of_the_host_holds_none_of_the_brokers_descriptors(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {.cms_size = T_CMS_BIG};
    struct fdcap fc = {.k = c->k};
    int rep[2], go[2], handle = -1, done = 0;
    pid_t rcv, snd;

    /* The host is a process too (its connection, doorbell, channels and pool); two children
       are others, one of which the broker holds a file for. */
    fc.fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fc.fd >= 0);
    assert_ok(pipe(rep));
    assert_ok(pipe(go));
    fc.report = rep[1];
    fc.go = go[0];
    t_svc_start(&cms, c->k);
    rcv = fork_child(child_never_receives, &fc);
    assert_ok(read_pipe(rep[0], &handle, sizeof(handle)));
    fc.handle = (uint32_t)handle;
    snd = fork_child(child_sends_a_socket, &fc);
    assert_ok(read_pipe(rep[0], &done, sizeof(done)));
    assert_int_equal(done, 1);
    assert_child_passed(wait_child(fork_child(child_holds_nothing_of_the_brokers, NULL)));
    assert_int_equal(write(go[1], "xx", 2), 2);
    assert_child_passed(wait_child(snd));
    assert_child_passed(wait_child(rcv));
    T_CHECK_OK(t_svc_quit(&cms, c->k, fc.fd, true));
    t_svc_join(&cms);
    assert_ok(liteipc_close(c->k, fc.fd));
    for (int i = 0; i < 2; i++) {
        close(rep[i]);
        close(go[i]);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(handed_connection_ends_with_the_process_that_made_it),
        T(reused_pid_inherits_nothing),
        cmocka_unit_test_setup_teardown(fd_objects_past_the_senders_cap_enomem_others_unharmed,
                                        setup_fd_cap, t_teardown),
        cmocka_unit_test_setup_teardown(connections_past_the_users_cap_eusers, setup_conn_cap,
                                        t_teardown),
        T(broker_out_of_descriptors_backs_off),
        T(fork_child_of_the_host_holds_none_of_the_brokers_descriptors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
