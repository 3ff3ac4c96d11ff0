/*
 * test_real_hostile.c - a process can only hurt itself (issue 10, item 1; DESIGN.md invariant
 * 9): whatever a hostile or buggy process does to the memory it is given (truncate it, write
 * over it, set or clear its flags), the broker and the other processes go on unharmed.
 *
 * The hostile process is a forked child of the test, which serves the kernel; it reaches every
 * memory file of the kernel it maps through /proc/self/map_files, as root can (a process
 * without that right cannot reopen them at all: the test is then skipped).
 */
#include "rfix.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- the memory a process maps --------------------------------------------------------------- */

#define H_MAX_MAPS 16

typedef struct h_map {
    unsigned long lo, hi;
    char perms[5];
    char name[64]; /* e.g. "memfd:liteipc-bell" */
} h_map;

/* This process's mappings of liteipc memory files (at most max). */
static int h_maps(h_map *m, int max)
{
    char line[512];
    FILE *f = fopen("/proc/self/maps", "r");
    int n = 0;

    if (!f)
        return 0;
    while (n < max && fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "memfd:liteipc");

        if (!p || sscanf(line, "%lx-%lx %4s", &m[n].lo, &m[n].hi, m[n].perms) != 3)
            continue;
        snprintf(m[n].name, sizeof(m[n].name), "%.*s", (int)strcspn(p, " \n"), p);
        n++;
    }
    fclose(f);
    return n;
}

/* The memory file behind a mapping, reopened read-write (root), or -errno. */
static int h_reopen(const h_map *m)
{
    char path[96];
    int fd;

    snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", m->lo, m->hi);
    fd = open(path, O_RDWR | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Write one line to the test (a forked child's report). */
static void h_report(int out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void h_report(int out, const char *fmt, ...)
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

/* Wait for the test to say anything (or hang up). */
static void h_wait_word(int in)
{
    char byte;

    while (read(in, &byte, 1) == 1 && byte != '\n') {
    }
}

/* ---- truncation --------------------------------------------------------------------------------- */

struct trunc_arg {
    liteipc_kernel *k;
};

/*
 * Attach, then try to shrink and to grow every memory file mapped (the bell, the channels, the
 * pool). Reports "skip" (cannot reopen them), "bad ..." or "ok N", then whether its own device
 * still answers, and waits for the test.
 */
static void trunc_main(void *arg, int in, int out)
{
    struct trunc_arg *a = arg;
    h_map maps[H_MAX_MAPS];
    IpcVersion ver;
    int fd = t_dev_setup(a->k, T_POOL, NULL), n, tried = 0;

    if (fd < 0 || liteipc_ioctl(a->k, fd, IPC_GET_VERSION, &ver) != 0)
        _exit(10);
    n = h_maps(maps, H_MAX_MAPS);
    for (int i = 0; i < n; i++) {
        int mfd = h_reopen(&maps[i]), shrink, grow;

        if (mfd == -EPERM || mfd == -EACCES) {
            h_report(out, "skip %s", maps[i].name);
            h_wait_word(in);
            return;
        }
        if (mfd < 0) {
            h_report(out, "bad reopen %s: %s", maps[i].name, strerror(-mfd));
            h_wait_word(in);
            return;
        }
        shrink = ftruncate(mfd, 0) == 0 ? 0 : errno;
        grow = ftruncate(mfd, (off_t)(maps[i].hi - maps[i].lo) * 2) == 0 ? 0 : errno;
        close(mfd);
        if (shrink != EPERM || grow != EPERM) {
            h_report(out, "bad %s: shrink %s, grow %s", maps[i].name, t_errname(shrink),
                     t_errname(grow));
            h_wait_word(in);
            return;
        }
        tried++;
    }
    h_report(out, "ok %d", tried);
    h_report(out, "version %d", liteipc_ioctl(a->k, fd, IPC_GET_VERSION, &ver) == 0 ? 0 : errno);
    h_wait_word(in);
}

/* Skip the test if the child says it cannot reopen its memory files. */
static void skip_if_told(r_child *ch, const char *line)
{
    if (strncmp(line, "skip", 4) == 0) {
        r_say(ch, "quit");
        r_assert_exit0(r_wait(ch), "hostile child");
        skip();
    }
}

/* A process that truncates its bell, its channels or its pool only gets EPERM: the broker
   (this process) and the process itself live on. */
static void hostile_truncate_fails(void **state)
{
    r_ctx *c = *state;
    struct trunc_arg a = {.k = c->k};
    char line[R_LINE_MAX];
    r_child *ch = r_fork_child(c, trunc_main, &a);
    IpcVersion ver;
    int fd;

    r_line(ch, line, sizeof(line));
    skip_if_told(ch, line);
    if (strncmp(line, "ok ", 3) != 0)
        fail_msg("hostile child: %s", line);
    assert_int_equal(atoi(line + 3), 3); /* bell, channels, pool */
    r_expect(ch, "version 0", line, sizeof(line));
    r_say(ch, "quit");
    r_assert_exit0(r_wait(ch), "hostile child");
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, &ver));
    assert_ok(liteipc_close(c->k, fd));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, r_setup, r_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(hostile_truncate_fails),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
