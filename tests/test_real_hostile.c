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
#include "runtime.h"

#include <fcntl.h>
#include <poll.h>
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

/* A writable view of one mapping: the mapping itself, or a new mapping of the reopened file. */
typedef struct h_view {
    unsigned char *p;
    size_t len;
    bool own;      /* a new mapping of ours, to unmap */
    const char *name;
} h_view;

/*
 * Every way this process has to write the memory it was given: each mapping, if it is writable
 * or mprotect makes it so, else a new writable mapping of its reopened file. Returns how many
 * views it got (none, where every memory file is defended).
 */
static int h_writable_views(h_map *maps, int nmaps, h_view *v, int max)
{
    int n = 0;

    for (int i = 0; i < nmaps && n < max; i++) {
        size_t len = maps[i].hi - maps[i].lo;
        void *p = (void *)maps[i].lo;
        int fd;

        if (maps[i].perms[1] == 'w' || mprotect(p, len, PROT_READ | PROT_WRITE) == 0) {
            v[n++] = (h_view){.p = p, .len = len, .name = maps[i].name};
            continue;
        }
        fd = h_reopen(&maps[i]);
        if (fd < 0)
            continue;
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (p != MAP_FAILED)
            v[n++] = (h_view){.p = p, .len = len, .own = true, .name = maps[i].name};
    }
    return n;
}

static void h_views_release(h_view *v, int n)
{
    for (int i = 0; i < n; i++)
        if (v[i].own)
            munmap(v[i].p, v[i].len);
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

/* ---- the kernel-wide flags ------------------------------------------------------------------ */

struct flags_arg {
    liteipc_kernel *k;
    bool clear;   /* clear every word, round after round, until told to stop; else set once */
};

/*
 * Attach, then write the bell wherever this process can: set every word of its first cache
 * lines (`dead`, the broker's flags) once, or clear them, with the header of every other
 * memory file it can write (its posted bits), until the test says stop. Reports the writable
 * bell views it found, and at the end how many rounds it ran.
 */
static void flags_main(void *arg, int in, int out)
{
    struct flags_arg *a = arg;
    h_map maps[H_MAX_MAPS];
    h_view v[H_MAX_MAPS];
    struct pollfd pfd = {.fd = in, .events = POLLIN};
    int fd = t_dev_setup(a->k, T_POOL, NULL), nmaps, nv, bell_views = 0;
    unsigned long rounds = 0;

    if (fd < 0)
        _exit(10);
    nmaps = h_maps(maps, H_MAX_MAPS);
    nv = h_writable_views(maps, nmaps, v, H_MAX_MAPS);
    for (int i = 0; i < nv; i++)
        bell_views += strstr(v[i].name, "liteipc-bell") != NULL;
    h_report(out, "bell-views %d", bell_views);
    if (!a->clear) {
        for (int i = 0; i < nv; i++)
            if (strstr(v[i].name, "liteipc-bell"))
                for (size_t w = 0; w < 128 && w + 4 <= v[i].len; w += 4)
                    memcpy(v[i].p + w, &(uint32_t){1}, 4);
        h_report(out, "set");
        h_wait_word(in);
        h_views_release(v, nv);
        return;
    }
    do {
        for (int r = 0; r < 1000; r++, rounds++)
            for (int i = 0; i < nv; i++)
                memset(v[i].p, 0, 64); /* the bell's flags and pending bits, a region's bits */
    } while (poll(&pfd, 1, 0) == 0);
    h_wait_word(in); /* "stop" */
    h_report(out, "rounds %lu", rounds);
    h_wait_word(in);
    h_views_release(v, nv);
}

/* A process that sets every flag of the bell it can reach does not shut the kernel down for
   the others: it cannot write the bell at all. */
static void hostile_cannot_set_dead(void **state)
{
    r_ctx *c = *state;
    struct flags_arg a = {.k = c->k};
    char line[R_LINE_MAX], views[R_LINE_MAX];
    r_child *ch = r_fork_child(c, flags_main, &a);
    IpcVersion ver;
    int fd;

    r_expect(ch, "bell-views ", views, sizeof(views));
    r_expect(ch, "set", line, sizeof(line));
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, &ver)); /* not ESHUTDOWN */
    assert_ok(liteipc_close(c->k, fd));
    assert_string_equal(views, "bell-views 0");
    r_say(ch, "quit");
    r_assert_exit0(r_wait(ch), "hostile child");
}

/* While a process clears every posted bit it can write, round after round, the calls of the
   others are all served, promptly: none waits for its deadline, none is lost. */
static void hostile_clearing_posted_bits_loses_nothing_of_others(void **state)
{
    r_ctx *c = *state;
    struct flags_arg a = {.k = c->k, .clear = true};
    t_svc svc = {.cms_size = T_CMS_BIG};
    char line[R_LINE_MAX], data[64];
    unsigned i;
    r_child *ch;
    int fd, bad = 0;

    t_svc_start(&svc, c->k);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    ch = r_fork_child(c, flags_main, &a);
    r_expect(ch, "bell-views ", line, sizeof(line));
    for (i = 0; i < 2000 && !bad; i++) {
        IpcMsg *reply = NULL;

        t_fill(data, sizeof(data), i);
        if (t_call(c->k, fd, 0, T_CODE_ECHO, data, sizeof(data), &reply) != 0) {
            bad = errno;
            break;
        }
        bad = reply->dataSz != sizeof(data) || !t_check_fill(reply->data, sizeof(data), i)
                  ? EBADMSG
                  : 0;
        if (t_free(c->k, fd, reply) != 0 && !bad)
            bad = errno;
    }
    r_say(ch, "stop");
    r_expect(ch, "rounds ", line, sizeof(line));
    r_say(ch, "quit");
    r_assert_exit0(r_wait(ch), "hostile child");
    assert_int_equal(t_svc_quit(&svc, c->k, fd, true), 0);
    t_svc_join(&svc);
    assert_ok(liteipc_close(c->k, fd));
    if (bad)
        fail_msg("call %u: %s", i, t_errname(bad));
    /* and not one of those calls was answered only by its caller's periodic check */
    assert_int_equal(atomic_load(&c->k->c.lost_wakes), 0);
}

/* ---- wake-ups handed over ------------------------------------------------------------------- */

struct withhold_arg {
    liteipc_kernel *k;
    unsigned sends;
};

/*
 * Post a one-way request to handle 0 straight into the channel, as a program that speaks the
 * protocol itself would, and poll for the answer without ever doing the wake-up the broker
 * hands it (channel.h). Returns the result, or exits if the broker never answers.
 */
static int raw_oneway(lk_ctask *t)
{
    lk_chan *ch = t->ch;
    IpcMsg msg = {.type = MT_REQUEST, .code = T_CODE_ECHO, .flag = LITEIPC_FLAG_ONEWAY};
    IpcContent content = {.flag = SEND, .outMsg = &msg};
    uint64_t one = 1;

    ch->cmd = IPC_SEND_RECV_MSG;
    ch->arg = (uintptr_t)&content;
    ch->content = content;
    memset(&ch->out, 0, sizeof(ch->out));
    memcpy(&ch->out, &msg, LK_MSG_SENDER_BYTES);
    ch->data_len = ch->off_count = 0;
    atomic_store(&ch->state, LK_CHAN_POSTED);
    atomic_fetch_or(&t->proc->region->pending_slots[t->slot >> 6], 1ull << (t->slot & 63));
    if (atomic_load(&t->proc->bell->broker_sleeping) && write(t->proc->efd, &one, 8) != 8)
        _exit(12);
    for (unsigned long i = 0; atomic_load(&ch->state) != LK_CHAN_DONE; i++)
        if (i > 4000000000ul)
            _exit(13);
    atomic_store(&ch->wake_tid, 0); /* dropped, never done */
    atomic_store(&ch->state, LK_CHAN_IDLE);
    return ch->result;
}

/* Send handle 0 a few one-way requests, withholding every wake-up handed over. */
static void withhold_child(void *arg, int in, int out)
{
    struct withhold_arg *a = arg;
    IpcVersion ver;
    unsigned failed = 0;
    int fd = t_dev_setup(a->k, T_POOL, NULL);

    if (fd < 0 || liteipc_ioctl(a->k, fd, IPC_GET_VERSION, &ver) != 0)
        _exit(10);
    for (unsigned i = 0; i < a->sends; i++) {
        h_wait_word(in); /* the service sleeps in its receive again */
        failed += raw_oneway(lk_task_lookup(a->k)) != 0;
        h_report(out, "sent");
    }
    h_report(out, "failed %u", failed);
    h_wait_word(in);
}

/* A process that never does the wake-ups the broker hands it delays the task it should have
   woken by BROKER_HAND_GRACE_NS at most: the broker does them, and the service, in another
   process, never has to find its requests at its own 250 ms check. */
static void hostile_withheld_wake_is_done_by_broker(void **state)
{
    r_ctx *c = *state;
    struct withhold_arg a = {.k = c->k, .sends = 5};
    t_svc svc = {.cms_size = T_CMS_BIG};
    char line[R_LINE_MAX];
    unsigned waits;
    r_child *ch;
    int fd;

    t_svc_start(&svc, c->k);
    r_ev_wait(c, LITEIPC_EV_RECV_WAIT, svc.tid, 1, false);
    waits = t_ev_count(c->ev, LITEIPC_EV_RECV_WAIT, svc.tid);
    ch = r_fork_child(c, withhold_child, &a);
    for (unsigned i = 0; i < a.sends; i++) {
        /* each send finds the service asleep in its receive: its wake-up is handed over */
        r_ev_wait(c, LITEIPC_EV_RECV_WAIT, svc.tid, waits + i, false);
        r_say(ch, "go");
        r_expect(ch, "sent", line, sizeof(line));
    }
    r_expect(ch, "failed 0", line, sizeof(line));
    r_ev_wait(c, LITEIPC_EV_RECV_WAIT, svc.tid, waits + a.sends, false);
    r_say(ch, "quit");
    r_assert_exit0(r_wait(ch), "hostile child");
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_int_equal(t_svc_quit(&svc, c->k, fd, true), 0);
    t_svc_join(&svc);
    assert_ok(liteipc_close(c->k, fd));
    assert_int_equal(atomic_load(&svc.oneways), a.sends);
    /* woken by the broker in time, never by its own periodic check */
    assert_int_equal(atomic_load(&c->k->c.lost_wakes), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, r_setup, r_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(hostile_truncate_fails),
        T(hostile_cannot_set_dead),
        T(hostile_clearing_posted_bits_loses_nothing_of_others),
        T(hostile_withheld_wake_is_done_by_broker),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
