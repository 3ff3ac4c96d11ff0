/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_real_isolation.c - identity and isolation of real processes, and nothing left behind
 * (issue 3, items 4 and 6; LITEIPC_REFERENCE §4.3.6, invariants 1 and 7 of DESIGN.md).
 *
 * Senders are forked children of the test (which serves the kernel) and device programs run
 * through the LD_PRELOAD shim; the receiver is the test thread, which is the CMS so that
 * everyone may send to handle 0. Isolation is read from /proc: which memory files each process
 * maps, and which descriptors it holds.
 */
#include "rfix.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- credentials ---------------------------------------------------------------------------------- */

struct sender {
    liteipc_kernel *k;
    uint32_t code;
    /* ids to take before the first device call (root only); 0: keep the test's */
    uid_t ruid, euid;
    gid_t rgid, egid;
};

/* A forked sender: change identity, send one-way to handle 0, say "sent", wait for the test. */
static void sender_main(void *arg, int in, int out)
{
    struct sender *s = arg;
    char byte;
    int fd;

    if (s->ruid != 0) {
        if (setgroups(0, NULL) != 0 || setresgid(s->rgid, s->egid, s->rgid) != 0 ||
            setresuid(s->ruid, s->euid, s->ruid) != 0)
            _exit(10);
    }
    fd = t_dev_setup(s->k, T_POOL, NULL);
    if (fd < 0)
        _exit(11);
    if (t_send(s->k, fd, 0, s->code, LITEIPC_FLAG_ONEWAY, NULL, 0) != 0)
        _exit(12);
    if (write(out, "sent\n", 5) != 5)
        _exit(13);
    while (read(in, &byte, 1) > 0) { /* stay a live process until the test is done */
    }
    _exit(0);
}

/* Receive (test thread) the message with code, which has been queued to this task. */
static IpcMsg recv_code(r_ctx *c, int fd, uint32_t code)
{
    IpcMsg *m = NULL, copy;

    r_ev_wait_msg(c, LITEIPC_EV_MSG_WRITTEN, liteipc_self_tid(c->k), code);
    assert_ok(t_recv(c->k, fd, &m));
    copy = *m;
    assert_ok(t_free(c->k, fd, m));
    assert_int_equal(copy.type, MT_REQUEST);
    assert_int_equal(copy.code, code);
    return copy;
}

static void isolation_credentials_are_the_senders(void **state)
{
    r_ctx *c = *state;
    struct sender a = {.k = c->k, .code = 0xa1}, b = {.k = c->k, .code = 0xb1};
    const char *argv[] = {R_DEVPROG, "sendcms", "0xc1", NULL};
    char line[R_LINE_MAX];
    bool root = geteuid() == 0;
    IpcMsg ma, mb = {0}, mc;
    r_child *ca, *cb = NULL, *cc;
    int fd, me_pid, me_tid;

    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    me_pid = liteipc_self_pid(c->k);
    me_tid = liteipc_self_tid(c->k);
    /* three live senders: a forked child, one with other ids (root only), a device program */
    ca = r_fork_child(c, sender_main, &a);
    r_expect(ca, "sent", line, sizeof(line));
    ma = recv_code(c, fd, 0xa1);
    if (root) {
        b.ruid = b.euid = 4243;
        b.rgid = b.egid = 4242;
        cb = r_fork_child(c, sender_main, &b);
        r_expect(cb, "sent", line, sizeof(line));
        mb = recv_code(c, fd, 0xb1);
    }
    cc = r_spawn(c, true, argv, NULL);
    assert_string_equal(r_expect(cc, "sent ", line, sizeof(line)), "0 0");
    mc = recv_code(c, fd, 0xc1);
    /* the ids are the sender process's, whoever it is */
    assert_int_equal(ma.userID, getuid());
    assert_int_equal(ma.gid, getgid());
    assert_int_equal(mc.userID, getuid());
    assert_int_equal(mc.gid, getgid());
    if (root) {
        assert_int_equal(mb.userID, 4243);
        assert_int_equal(mb.gid, 4242);
    }
    /* one simulated process per host process, and its own task */
    assert_int_not_equal(ma.processID, (uint32_t)me_pid);
    assert_int_not_equal(mc.processID, (uint32_t)me_pid);
    assert_int_not_equal(ma.processID, mc.processID);
    assert_int_not_equal(ma.taskID, (uint32_t)me_tid);
    assert_int_not_equal(ma.taskID, mc.taskID);
    if (root) {
        assert_int_not_equal(mb.processID, ma.processID);
        assert_int_not_equal(mb.processID, mc.processID);
        assert_int_not_equal(mb.processID, (uint32_t)me_pid);
    }
    r_hangup(ca);
    r_assert_exit0(r_wait(ca), "sender a");
    if (cb) {
        r_hangup(cb);
        r_assert_exit0(r_wait(cb), "sender b");
    }
    r_assert_exit0(r_wait(cc), "devprog sendcms");
    assert_ok(liteipc_close(c->k, fd));
}

/* The device stamps the real uid and gid (§4.3.6), not the effective ones. */
static void isolation_credentials_are_real_not_effective_ids(void **state)
{
    r_ctx *c = *state;
    struct sender s = {.k = c->k, .code = 0xd1, .ruid = 4252, .euid = 4253, .rgid = 4250,
                       .egid = 4251};
    char line[R_LINE_MAX];
    r_child *ch;
    IpcMsg m;
    int fd;

    if (geteuid() != 0)
        skip(); /* needs root to take other ids */
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    ch = r_fork_child(c, sender_main, &s);
    r_expect(ch, "sent", line, sizeof(line));
    m = recv_code(c, fd, 0xd1);
    r_hangup(ch);
    r_assert_exit0(r_wait(ch), "sender");
    assert_ok(liteipc_close(c->k, fd));
    assert_int_equal(m.userID, 4252);
    assert_int_equal(m.gid, 4250);
}

/* ---- pools and channels ------------------------------------------------------------------------------ */

#define MAX_INODES 16

static bool has_inode(const unsigned long *set, int n, unsigned long ino)
{
    for (int i = 0; i < n; i++)
        if (set[i] == ino)
            return true;
    return false;
}

/* The perms field ("r--s") of pid's mapping whose path contains what, in perms[5]. */
static void map_perms(pid_t pid, const char *what, char perms[5], unsigned long *lo,
                      unsigned long *hi)
{
    char path[64], line[512];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    f = fopen(path, "r");
    assert_non_null(f);
    perms[0] = '\0';
    while (fgets(line, sizeof(line), f))
        if (strstr(line, what) && sscanf(line, "%lx-%lx %4s", lo, hi, perms) == 3)
            break;
    fclose(f);
}

static void isolation_pool_and_channels_mapped_only_by_owner(void **state)
{
    r_ctx *c = *state;
    const char *argv[] = {R_DEVPROG, "idle", NULL};
    char line[R_LINE_MAX], perms[5];
    unsigned long pa[MAX_INODES], pb[MAX_INODES], cha[MAX_INODES], chb[MAX_INODES];
    unsigned long alla[MAX_INODES], allb[MAX_INODES], lo = 0, hi = 0;
    int npa, npb, ncha, nchb, nalla, nallb;
    r_child *a = r_spawn(c, true, argv, NULL), *b = r_spawn(c, true, argv, NULL);

    r_expect(a, "ready ", line, sizeof(line));
    r_expect(b, "ready ", line, sizeof(line));
    npa = r_map_inodes(a->pid, "memfd:liteipc-pool", pa, MAX_INODES);
    npb = r_map_inodes(b->pid, "memfd:liteipc-pool", pb, MAX_INODES);
    ncha = r_map_inodes(a->pid, "memfd:liteipc-channels", cha, MAX_INODES);
    nchb = r_map_inodes(b->pid, "memfd:liteipc-channels", chb, MAX_INODES);
    nalla = r_map_inodes(a->pid, "memfd:liteipc", alla, MAX_INODES);
    nallb = r_map_inodes(b->pid, "memfd:liteipc", allb, MAX_INODES);
    /* each maps exactly its own pool and its own channels */
    assert_int_equal(npa, 1);
    assert_int_equal(npb, 1);
    assert_int_equal(ncha, 1);
    assert_int_equal(nchb, 1);
    assert_false(has_inode(allb, nallb, pa[0]));
    assert_false(has_inode(allb, nallb, cha[0]));
    assert_false(has_inode(alla, nalla, pb[0]));
    assert_false(has_inode(alla, nalla, chb[0]));
    /* its pool read-only (only the kernel writes pools) */
    map_perms(a->pid, "memfd:liteipc-pool", perms, &lo, &hi);
    assert_string_equal(perms, "r--s");
    /* and no one keeps a descriptor of a pool that another could be handed or open */
    assert_int_equal(r_fd_count_matching(a->pid, "memfd:liteipc-pool"), 0);
    assert_int_equal(r_fd_count_matching(b->pid, "memfd:liteipc-pool"), 0);
    assert_int_equal(r_fd_count_matching(getpid(), "memfd:liteipc-pool"), 0);
    r_say(a, "quit");
    r_say(b, "quit");
    r_assert_exit0(r_wait(a), "devprog a");
    r_assert_exit0(r_wait(b), "devprog b");
}

/* Even reached through /proc (root can open another process's mappings), a pool is sealed
   against writing: neither write() nor a writable mapping is possible. */
static void isolation_pool_of_another_process_cannot_be_written(void **state)
{
    r_ctx *c = *state;
    const char *argv[] = {R_DEVPROG, "idle", NULL};
    char line[R_LINE_MAX], perms[5], path[128];
    unsigned long lo = 0, hi = 0;
    r_child *a = r_spawn(c, true, argv, NULL);
    void *m;
    int fd;

    r_expect(a, "ready ", line, sizeof(line));
    map_perms(a->pid, "memfd:liteipc-pool", perms, &lo, &hi);
    assert_true(hi > lo);
    snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", (int)a->pid, lo, hi);
    fd = open(path, O_RDWR);
    if (fd < 0) {
        /* not even openable for writing (no CAP_SYS_ADMIN, or a kernel that refuses it) */
        assert_true(errno == EPERM || errno == EACCES);
        fd = open(path, O_RDONLY);
    } else {
        errno = 0;
        assert_int_equal(write(fd, "x", 1), -1);
        assert_int_equal(errno, EPERM);
    }
    if (fd >= 0) {
        m = mmap(NULL, hi - lo, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        assert_true(m == MAP_FAILED);
        assert_true(errno == EPERM || errno == EACCES);
        m = mmap(NULL, hi - lo, PROT_READ, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED) {
            errno = 0;
            assert_int_equal(mprotect(m, hi - lo, PROT_READ | PROT_WRITE), -1);
            assert_true(errno == EACCES || errno == EPERM);
            munmap(m, hi - lo);
        }
        close(fd);
    }
    r_say(a, "quit");
    r_assert_exit0(r_wait(a), "devprog idle");
}

static void isolation_writing_own_pool_faults(void **state)
{
    r_ctx *c = *state;
    const char *argv[] = {R_DEVPROG, "poolwrite", NULL};
    r_child *ch = r_spawn(c, true, argv, NULL);
    IpcVersion ver;
    int status = r_wait(ch), fd;

    if (WIFEXITED(status))
        fail_msg("devprog exited with %d: its write into the pool did not fault",
                 WEXITSTATUS(status));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    /* reaped, and the kernel works on */
    assert_int_equal(liteipc_kernel_wait_unused(c->k, (int)T_WAIT_MS), 0);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, &ver));
    assert_ok(liteipc_close(c->k, fd));
}

/* ---- nothing left behind ------------------------------------------------------------------------------ */

/* Does any socket in /proc/net/unix carry the kernel's abstract name? */
static bool kernel_name_bound(const char *name)
{
    char want[128], line[512];
    FILE *f = fopen("/proc/net/unix", "r");
    bool found = false;

    assert_non_null(f);
    snprintf(want, sizeof(want), "@liteipc/%u/%s", (unsigned)getuid(), name);
    while (!found && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        found = strlen(line) >= strlen(want) &&
                strcmp(line + strlen(line) - strlen(want), want) == 0;
    }
    fclose(f);
    return found;
}

struct host {
    const char *name;
    liteipc_config cfg;
};

/* Serve the kernel; "stop" stops it cleanly and exits; otherwise wait to be killed. */
static void host_main(void *arg, int in, int out)
{
    struct host *h = arg;
    liteipc_kernel *k = NULL;
    char cmd[8] = {0};

    if (liteipc_kernel_serve(h->name, &h->cfg, &k) != 0)
        _exit(1);
    if (write(out, "up\n", 3) != 3)
        _exit(2);
    if (read(in, cmd, sizeof(cmd) - 1) > 0 && strncmp(cmd, "stop", 4) == 0)
        _exit(liteipc_kernel_stop(k) == 0 ? 0 : 3);
    _exit(4);
}

/* SIGKILL the ServiceManager program, whose host was killed before it. It may have ended by
   itself first: its receive then returned ESHUTDOWN, as when a kernel's host dies
   (docs/DEVICE_CODE.md), and it said so and exited 0. Either end is right; nothing else is. */
static void kill_cms_after_host(r_child *cms)
{
    char line[R_LINE_MAX];
    int st = r_kill(cms), err = 0;

    if (WIFSIGNALED(st)) {
        assert_int_equal(WTERMSIG(st), SIGKILL);
        return;
    }
    r_assert_exit0(st, "devprog cms");
    if (sscanf(r_expect(cms, "recv -1 ", line, sizeof(line)), "%d", &err) != 1)
        fail_msg("bad \"recv\" line: %s", line);
    assert_int_equal(err, ESHUTDOWN);
}

/* A host, a ServiceManager and a service program: all of them end, then nothing is left. */
static void run_all_end(r_ctx *c, bool kill_them)
{
    struct host h = {.name = c->name, .cfg = c->cfg};
    const char *cms_argv[] = {R_DEVPROG, "cms", NULL};
    const char *idle_argv[] = {R_DEVPROG, "idle", NULL};
    char line[R_LINE_MAX];
    r_child *host, *cms, *idle;
    int st;

    host = r_fork_child(c, host_main, &h);
    r_expect(host, "up", line, sizeof(line));
    assert_true(kernel_name_bound(c->name));
    cms = r_spawn(c, true, cms_argv, NULL);
    r_expect(cms, "ready ", line, sizeof(line));
    idle = r_spawn(c, true, idle_argv, NULL);
    r_expect(idle, "ready ", line, sizeof(line));
    assert_true(r_map_inodes(idle->pid, "memfd:liteipc", (unsigned long[8]){0}, 8) >= 3);
    if (kill_them) {
        assert_true(WIFSIGNALED(r_kill(idle)));
        assert_true(WIFSIGNALED(r_kill(host)));
        kill_cms_after_host(cms);
    } else {
        r_say(idle, "quit");
        r_assert_exit0(r_wait(idle), "devprog idle");
        r_say(host, "stop");
        r_assert_exit0(r_wait(host), "host");
        st = r_wait(cms); /* its receive ends with ESHUTDOWN: it says so and exits */
        r_assert_exit0(st, "devprog cms");
    }
    /* no name, no memory: /dev/shm is checked by the teardown */
    assert_false(kernel_name_bound(c->name));
    assert_int_equal(t_shm_count_ours(), 0);
    assert_int_equal(liteipc_kernel_attach(c->name, &(liteipc_kernel *){NULL}), -ENOENT);
}

static void isolation_nothing_left_when_all_are_killed(void **state)
{
    run_all_end(*state, true);
}

static void isolation_nothing_left_when_all_exit(void **state)
{
    run_all_end(*state, false);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, r_setup, r_teardown)
#define T_NOKERNEL(fn) cmocka_unit_test_setup_teardown(fn, r_setup_nokernel, r_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(isolation_credentials_are_the_senders),
        T(isolation_credentials_are_real_not_effective_ids),
        T(isolation_pool_and_channels_mapped_only_by_owner),
        T(isolation_pool_of_another_process_cannot_be_written),
        T(isolation_writing_own_pool_faults),
        T_NOKERNEL(isolation_nothing_left_when_all_are_killed),
        T_NOKERNEL(isolation_nothing_left_when_all_exit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
