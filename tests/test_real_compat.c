/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_real_compat.c - code written for /dev/lite_ipc runs unchanged (issue 3, item 5): a
 * program with its own copies of the device's structures and ioctl numbers (tests/real/devprog.c)
 * gets the device's answers through LD_PRELOAD=libliteipc_preload.so, built fortified, and
 * linked with liteipc::compat, while its other files and descriptors stay the C library's.
 *
 * Each test serves its own kernel under a fresh name; the programs reach it through
 * LITEIPC_DEVICE. Nothing here sleeps: the test hears from a program on its stdout, and waits
 * for the kernel to have reaped it with liteipc_kernel_wait_unused.
 */
#include "rfix.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#define CODE_HELLO 0x51u

/* devprog's own checks, in a fresh kernel; then the kernel's view of what it did. */
static void run_check(r_ctx *c, const char *prog, bool preload)
{
    const char *argv[] = {prog, "check", NULL};
    r_child *ch = r_spawn(c, preload, argv, NULL);
    char out[4096];
    int fd, status;

    r_hangup(ch);
    r_drain(ch, out, sizeof(out));
    status = r_wait(ch);
    r_assert_exit0(status, prog);
    /* the program and its fork child were simulated processes of this kernel; both are gone */
    assert_int_equal(liteipc_kernel_wait_unused(c->k, (int)T_WAIT_MS), 0);
    assert_int_equal(liteipc_kernel_process_count(c->k), 0);
    /* it became the CMS, as on the device the role outlives its process (Q1) */
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_errno(t_set_cms(c->k, fd, 256), EEXIST);
    assert_ok(liteipc_close(c->k, fd));
}

static void compat_preloaded_program_gets_device_results(void **state)
{
    run_check(*state, R_DEVPROG, true);
}

static void compat_fortified_program_gets_device_results(void **state)
{
    run_check(*state, R_DEVPROG_FORTIFY, true);
}

static void compat_linked_program_gets_device_results(void **state)
{
    run_check(*state, R_DEVPROG_COMPAT, false);
}

/* Without the shim the same binary meets the host's /dev: there is no such device. */
static void compat_program_without_shim_finds_no_device(void **state)
{
    r_ctx *c = *state;
    const char *argv[] = {R_DEVPROG, "sendcms", "1", NULL};
    char out[256];
    int status;
    r_child *ch;

    if (access(LITEIPC_DRIVER, F_OK) == 0)
        skip(); /* a host with a real device node */
    ch = r_spawn(c, false, argv, NULL);
    r_drain(ch, out, sizeof(out));
    status = r_wait(ch);
    assert_string_equal(out, "");
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2); /* devprog: its open failed */
    assert_int_equal(liteipc_kernel_process_count(c->k), 0); /* it never reached the kernel */
}

/* A program that never opens the device starts nothing: no thread, no connection. */
static void run_nodevice(r_ctx *c, const char *prog, bool preload)
{
    const char *argv[] = {prog, "nodevice", NULL};
    r_child *ch = r_spawn(c, preload, argv, NULL);
    char line[R_LINE_MAX];

    assert_string_equal(r_expect(ch, "threads ", line, sizeof(line)), "1");
    /* it is alive and has done its I/O: the kernel has not heard of it */
    assert_int_equal(liteipc_kernel_process_count(c->k), 0);
    r_say(ch, "bye");
    r_assert_exit0(r_wait(ch), prog);
    assert_int_equal(liteipc_kernel_process_count(c->k), 0);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_MSG_WRITTEN, -1), 0);
}

static void compat_preloaded_program_without_device_starts_nothing(void **state)
{
    run_nodevice(*state, R_DEVPROG, true);
}

static void compat_linked_program_without_device_starts_nothing(void **state)
{
    run_nodevice(*state, R_DEVPROG_COMPAT, false);
}

/* A program that cannot reach any kernel: open fails, nothing is started, nothing left. */
static void compat_open_fails_when_no_kernel_can_be_reached(void **state)
{
    r_ctx *c = *state;
    const char *argv[] = {R_DEVPROG, "sendcms", "1", NULL};
    const char *env[] = {"LITEIPC_DEVICE=t-nobody-serves-this", NULL};
    r_child *ch = r_spawn(c, true, argv, env);
    char out[256];

    r_drain(ch, out, sizeof(out));
    assert_string_equal(out, "");
    assert_true(WIFEXITED(r_wait(ch)));
    assert_int_equal(WEXITSTATUS(ch->status), 2); /* devprog: the open failed */
    assert_int_equal(liteipc_kernel_process_count(c->k), 0);
}

/* Stop the test's CMS from this process; every thread of the test has ended cleanly. */
static void stop_cms(r_ctx *c, t_svc *cms)
{
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_ok(t_svc_quit(cms, c->k, fd, true));
    t_svc_join(cms);
    assert_ok(liteipc_close(c->k, fd));
    t_assert_threads_ok();
}

/* Two device programs, one preloaded and one linked, talk through the test's CMS. */
static void compat_programs_exchange_messages(void **state)
{
    r_ctx *c = *state;
    static t_svc cms; /* not on the stack: it outlives a failed test until the teardown */
    const char *svc_argv[] = {R_DEVPROG, "svc", NULL};
    char line[R_LINE_MAX], handle[16], code[16];
    unsigned tid, pid, type, gcode, from_tid, from_pid, uid, gid, size, token;
    int rc, err;
    unsigned long ms;
    liteipc_event ev;
    r_child *svc, *cl;

    memset(&cms, 0, sizeof(cms));
    cms.cms_size = T_CMS_BIG;
    t_svc_start(&cms, c->k);
    svc = r_spawn(c, true, svc_argv, NULL);
    assert_int_equal(sscanf(r_expect(svc, "ready ", line, sizeof(line)), "%u %u", &tid, &pid), 2);
    r_say(svc, "recv");
    snprintf(handle, sizeof(handle), "%u", tid);
    snprintf(code, sizeof(code), "%u", CODE_HELLO);
    {
        const char *cl_argv[] = {R_DEVPROG_COMPAT, "call", handle, code, "1", NULL};

        cl = r_spawn(c, false, cl_argv, NULL);
    }
    assert_string_equal(r_expect(cl, "granted ", line, sizeof(line)), "0");
    assert_int_equal(sscanf(r_expect(svc, "got ", line, sizeof(line)), "%u %u %u %u %u %u %u %u",
                            &type, &gcode, &from_tid, &from_pid, &uid, &gid, &size, &token),
                     8);
    assert_int_equal(type, MT_REQUEST);
    assert_int_equal(gcode, CODE_HELLO);
    assert_int_equal(size, 2);
    assert_int_equal(uid, getuid());
    assert_int_equal(gid, getgid());
    assert_int_not_equal(from_pid, pid);
    /* the kernel saw the same sender */
    ev = r_ev_wait_msg(c, LITEIPC_EV_MSG_WRITTEN, (int)tid, CODE_HELLO);
    assert_int_equal(ev.src_tid, (int)from_tid);
    assert_int_equal(ev.src_pid, (int)from_pid);
    r_say(svc, "reply");
    assert_string_equal(r_expect(svc, "reply ", line, sizeof(line)), "0 0");
    assert_int_equal(sscanf(r_expect(cl, "call ", line, sizeof(line)), "%d %d %lu", &rc, &err, &ms),
                     3);
    assert_int_equal(rc, 0);
    assert_int_equal(err, 0);
    r_assert_exit0(r_wait(cl), "client");
    r_say(svc, "quit");
    r_assert_exit0(r_wait(svc), "service");
    stop_cms(c, &cms);
    assert_int_equal(cms.requests, 2); /* the service's register, the client's grant */
    assert_int_equal(cms.deaths, 0);
}

/* A thread's ID is its LiteIPC handle, as on the device: once the process has opened the
   device, gettid() and syscall(SYS_gettid) answer the kernel's TID of the calling thread (a
   thread that has not used the device yet becomes a task); before, the host's TID. */
static void run_tid(r_ctx *c, const char *prog, bool preload)
{
    static t_svc cms; /* not on the stack: it outlives a failed test until the teardown */
    const char *argv[] = {prog, "tid", NULL};
    char line[R_LINE_MAX];
    long before, pid, g, sc, g2;
    unsigned ktid, ktid2;
    r_child *ch;

    memset(&cms, 0, sizeof(cms));
    cms.cms_size = T_CMS_BIG;
    t_svc_start(&cms, c->k);
    ch = r_spawn(c, preload, argv, NULL);
    assert_int_equal(sscanf(r_expect(ch, "tid ", line, sizeof(line)), "%ld %ld %u %ld %ld %u %ld",
                            &before, &pid, &ktid, &g, &sc, &ktid2, &g2),
                     7);
    r_assert_exit0(r_wait(ch), prog);
    assert_int_equal(before, pid); /* no kernel yet: the host's TID of the main thread */
    assert_int_equal(g, (long)ktid);
    assert_int_equal(sc, (long)ktid);
    assert_int_equal(g2, (long)ktid2); /* it became that task at its first gettid() */
    assert_int_not_equal(ktid2, ktid);
    stop_cms(c, &cms);
}

static void compat_preloaded_gettid_is_the_simulated_tid(void **state)
{
    run_tid(*state, R_DEVPROG, true);
}

static void compat_linked_gettid_is_the_simulated_tid(void **state)
{
    run_tid(*state, R_DEVPROG_COMPAT, false);
}

/* ---- a kernel started on demand ------------------------------------------------------------------ */

#ifdef R_LITEIPCD
/* The pid of the liteipcd serving name, found in /proc, or -1. */
static pid_t find_daemon(const char *name)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = -1;
    char want[96];

    snprintf(want, sizeof(want), " %s ", name); /* the whole argument, not a prefix */
    if (!d)
        return -1;
    while (found < 0 && (e = readdir(d)) != NULL) {
        char path[300], args[1024];
        FILE *f;
        size_t n;

        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        f = fopen(path, "r");
        if (!f)
            continue;
        n = fread(args, 1, sizeof(args) - 1, f);
        fclose(f);
        args[n] = '\0';
        if (!strstr(args, "liteipcd"))
            continue;
        for (size_t i = 0; i < n; i++) /* argv[] is NUL-separated */
            if (args[i] == '\0')
                args[i] = ' ';
        if (strstr(args, want))
            found = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return found;
}
#endif

static void compat_first_open_starts_kernel_that_leaves_with_last_user(void **state)
{
#ifdef R_LITEIPCD
    r_ctx *c = *state;
    const char *argv[] = {R_DEVPROG, "idle", NULL};
    const char *env[] = {"LITEIPCD=" R_LITEIPCD, NULL};
    char line[R_LINE_MAX];
    r_child *ch = r_spawn(c, true, argv, env);
    pid_t daemon;
    int pfd;

    r_expect(ch, "ready ", line, sizeof(line));
    daemon = find_daemon(c->name);
    assert_true(daemon > 0);
    pfd = (int)syscall(SYS_pidfd_open, daemon, 0);
    assert_true(pfd >= 0);
    r_say(ch, "quit");
    r_assert_exit0(r_wait(ch), "devprog idle");
    /* the daemon goes away once its last user has */
    {
        struct pollfd p = {.fd = pfd, .events = POLLIN};

        assert_int_equal(poll(&p, 1, (int)T_WAIT_MS), 1);
    }
    close(pfd);
    assert_int_equal(find_daemon(c->name), -1);
#else
    (void)state;
    skip(); /* no liteipcd in this build tree */
#endif
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, r_setup, r_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(compat_preloaded_program_gets_device_results),
        T(compat_fortified_program_gets_device_results),
        T(compat_linked_program_gets_device_results),
        T(compat_program_without_shim_finds_no_device),
        T(compat_preloaded_program_without_device_starts_nothing),
        T(compat_linked_program_without_device_starts_nothing),
        T(compat_open_fails_when_no_kernel_can_be_reached),
        T(compat_programs_exchange_messages),
        T(compat_preloaded_gettid_is_the_simulated_tid),
        T(compat_linked_gettid_is_the_simulated_tid),
        cmocka_unit_test_setup_teardown(compat_first_open_starts_kernel_that_leaves_with_last_user,
                                        r_setup_nokernel, r_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
