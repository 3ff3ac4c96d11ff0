/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_real_hostile.c - a process can only hurt itself (issue 10, item 1; DESIGN.md invariant
 * 9): whatever a hostile or buggy process does to the memory it is given (truncate it, write
 * over it, set or clear its flags), the broker and the other processes go on unharmed.
 *
 * The hostile process is a forked child of the test, which serves the kernel; it reaches every
 * memory file of the kernel it maps through /proc/self/map_files, as root can (a process
 * without that right cannot reopen them at all, and hostile_truncate_fails is skipped). Nothing
 * sleeps for synchronisation: children say what they did in lines, and an attack lasts a count
 * of rounds.
 */
#include "rfix.h"
#include "runtime.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sanitizer.h"

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

/* Wait for the test to say anything (or hang up). */
static void h_wait_word(int in)
{
    char byte;

    while (read(in, &byte, 1) == 1 && byte != '\n') {
    }
}

/* ---- truncation ------------------------------------------------------------------------------ */

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
            r_report(out, "skip %s", maps[i].name);
            h_wait_word(in);
            return;
        }
        if (mfd < 0) {
            r_report(out, "bad reopen %s: %s", maps[i].name, strerror(-mfd));
            h_wait_word(in);
            return;
        }
        shrink = ftruncate(mfd, 0) == 0 ? 0 : errno;
        grow = ftruncate(mfd, (off_t)(maps[i].hi - maps[i].lo) * 2) == 0 ? 0 : errno;
        close(mfd);
        if (shrink != EPERM || grow != EPERM) {
            r_report(out, "bad %s: shrink %s, grow %s", maps[i].name, liteipc_errno_name(shrink),
                     liteipc_errno_name(grow));
            h_wait_word(in);
            return;
        }
        tried++;
    }
    r_report(out, "ok %d", tried);
    r_report(out, "version %d", liteipc_ioctl(a->k, fd, IPC_GET_VERSION, &ver) == 0 ? 0 : errno);
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
    r_report(out, "bell-views %d", bell_views);
    if (!a->clear) {
        for (int i = 0; i < nv; i++)
            if (strstr(v[i].name, "liteipc-bell"))
                for (size_t w = 0; w < 128 && w + 4 <= v[i].len; w += 4)
                    memcpy(v[i].p + w, &(uint32_t){1}, 4);
        r_report(out, "set");
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
    r_report(out, "rounds %lu", rounds);
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
        fail_msg("call %u: %s", i, liteipc_errno_name(bad));
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
        r_report(out, "sent");
    }
    r_report(out, "failed %u", failed);
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

/* ---- what a child of the kernel's host inherits ------------------------------------------------- */

/* Count this process's eventfds (the only ones of the kernel are doorbells). */
static void count_eventfds(void *arg, int in, int out)
{
    (void)arg;
    r_report(out, "eventfds %d", r_fd_count_matching(getpid(), "anon_inode:[eventfd]"));
    h_wait_word(in);
}

/* A process forked by the kernel's host holds none of the other processes' doorbells, which it
   could otherwise drain (their rings would be lost). */
static void hostile_host_child_holds_no_doorbells(void **state)
{
    r_ctx *c = *state;
    t_svc svc = {.cms_size = T_CMS_BIG};
    char line[R_LINE_MAX];
    r_child *ch;
    int fd;

    t_svc_start(&svc, c->k); /* a process with a doorbell, in this host */
    fd = t_dev_setup(c->k, T_POOL, NULL); /* and this thread's */
    assert_true(fd >= 0);
    assert_true(r_fd_count_matching(getpid(), "anon_inode:[eventfd]") >= 2);
    ch = r_fork_child(c, count_eventfds, NULL);
    r_expect(ch, "eventfds ", line, sizeof(line));
    r_say(ch, "quit");
    r_assert_exit0(r_wait(ch), "child");
    assert_int_equal(t_svc_quit(&svc, c->k, fd, true), 0);
    t_svc_join(&svc);
    assert_ok(liteipc_close(c->k, fd));
    assert_string_equal(line, "eventfds 0");
}

/* ---- its own posts lost --------------------------------------------------------------------- */

struct lose_arg {
    liteipc_kernel *k;
    lk_ctask *t;
    _Atomic bool called; /* the call has returned */
    bool lost;           /* the broker had not taken the command when its task went to sleep */
};

/* Clear the process's posted bits until its task sleeps on its call (or has its answer). */
static void *lose_main(void *arg)
{
    struct lose_arg *a = arg;
    lk_chan *ch = a->t->ch;
    _Atomic uint64_t *bits = a->t->proc->region->pending_slots;
    uint32_t st;

    while ((st = atomic_load(&ch->state)) != LK_CHAN_WAITING && !atomic_load(&a->called)) {
        atomic_store_explicit(&bits[0], 0, memory_order_relaxed);
        atomic_store_explicit(&bits[1], 0, memory_order_relaxed);
    }
    atomic_store(&bits[0], 0); /* whatever it posted last, too */
    atomic_store(&bits[1], 0);
    a->lost = st == LK_CHAN_WAITING && !atomic_load(&ch->taken);
    return NULL;
}

/* Calls while a thread of its own clears the bits it posts with, until one call was lost
   that way (at most 20 tries). Reports "tries N lost L failed F". */
static void lose_child(void *arg, int in, int out)
{
    struct lose_arg *a = arg;
    unsigned tries = 0, lost = 0, failed = 0;
    IpcVersion ver;
    int fd = t_dev_setup(a->k, T_POOL, NULL);

    if (fd < 0 || liteipc_ioctl(a->k, fd, IPC_GET_VERSION, &ver) != 0)
        _exit(10);
    a->t = lk_task_lookup(a->k);
    while (lost == 0 && tries++ < 20) {
        pthread_t th;
        IpcMsg *r = NULL;

        atomic_store(&a->called, false);
        if (pthread_create(&th, NULL, lose_main, a) != 0)
            _exit(11);
        if (t_call(a->k, fd, 0, T_CODE_ECHO, &tries, sizeof(tries), &r) != 0 ||
            r->dataSz != sizeof(tries) || memcmp(r->data, &tries, sizeof(tries)) != 0 ||
            t_free(a->k, fd, r) != 0)
            failed++;
        atomic_store(&a->called, true);
        pthread_join(th, NULL);
        lost += a->lost;
    }
    r_report(out, "tries %u lost %u failed %u", tries, lost, failed);
    h_wait_word(in);
}

/* A process that loses its own posts (it clears the bits it rings the broker with) has its
   calls served all the same: a sleeping task rings again at its periodic check. */
static void hostile_own_lost_post_is_rung_again(void **state)
{
    r_ctx *c = *state;
    struct lose_arg a = {.k = c->k};
    t_svc svc = {.cms_size = T_CMS_BIG};
    char line[R_LINE_MAX];
    unsigned tries = 0, lost = 0, failed = 1;
    r_child *ch;
    int fd;

    if (UNDER_TSAN)
        skip(); /* see UNDER_TSAN */
    t_svc_start(&svc, c->k);
    ch = r_fork_child(c, lose_child, &a);
    r_expect(ch, "tries ", line, sizeof(line));
    print_message("%s\n", line);
    assert_int_equal(sscanf(line, "tries %u lost %u failed %u", &tries, &lost, &failed), 3);
    r_say(ch, "quit");
    r_assert_exit0(r_wait(ch), "child");
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_int_equal(t_svc_quit(&svc, c->k, fd, true), 0);
    t_svc_join(&svc);
    assert_ok(liteipc_close(c->k, fd));
    assert_int_equal(failed, 0);
    if (lost == 0)
        skip(); /* the broker always saw the bit before the thread cleared it */
}

/* ---- a hostile process among a ServiceManager, a service and clients ------------------------ */

#define H_ROUNDS 300       /* of the hostile process: about a second */
#define H_CLIENTS 2
#define H_CODE_CHECKED 0x4853u /* a request whose sender's stamps the service checks */
#define H_MAGIC 0x686f7374u
#define H_DATA 256u

/* What a client puts first in each request: who it is, as the kernel must stamp it. */
typedef struct h_claim {
    uint32_t magic, pid, tid, uid, seq;
} h_claim;

struct h_world {
    liteipc_kernel *k;
    int sm_pid, sm_tid, svc_pid, svc_tid; /* for the clients */
    int id;               /* a client's number */
};

/* The service's check of every H_CODE_CHECKED request: the stamps are the sender's. */
static int svc_check_stamps(t_svc *s, IpcMsg *m)
{
    _Atomic unsigned *bad = s->user;
    h_claim cl;

    /* The hostile process's own calls to the ServiceManager (h_own_calls): it exits with one
       of them in flight, and a reply to a requester that has exited is refused with EINVAL
       (§4.3.2), as on the device. Any other failure of the reply is one. */
    if (m->code == T_CODE_ECHO && m->flag != LITEIPC_FLAG_ONEWAY) {
        if (t_reply(s->k, s->fd, m, m->data, m->dataSz) != 0)
            T_CHECK_EQ(errno, EINVAL);
        return T_SVC_HANDLED;
    }
    if (m->code != H_CODE_CHECKED || m->dataSz < sizeof(cl))
        return T_SVC_DEFAULT;
    memcpy(&cl, m->data, sizeof(cl));
    if (cl.magic != H_MAGIC)
        return T_SVC_DEFAULT; /* not one of the clients' (the hostile process's garbage) */
    if (m->processID != cl.pid || m->taskID != cl.tid || m->userID != cl.uid)
        atomic_fetch_add(bad, 1);
    return T_SVC_DEFAULT; /* echo */
}

/* A ServiceManager (cms) or a service in a process of its own, until told to quit. Reports
   "ready PID TID", then "served N bad B". */
static void h_server(liteipc_kernel *k, bool cms, int in, int out)
{
    _Atomic unsigned bad = 0;
    t_svc s = {.cms_size = cms ? T_CMS_BIG : 0, .handler = svc_check_stamps, .user = &bad};
    int fd;

    t_svc_start(&s, k);
    r_report(out, "ready %d %d", s.pid, s.tid);
    h_wait_word(in);
    fd = t_dev_setup(k, T_POOL, NULL);
    if (fd < 0 || (!cms && t_request_grant(k, fd, (uint32_t)s.tid) != 0) ||
        t_svc_quit(&s, k, fd, cms) != 0)
        _exit(30);
    t_svc_join(&s);
    r_report(out, "served %u bad %u lost-wakes %lu", atomic_load(&s.requests), atomic_load(&bad),
             atomic_load(&k->c.lost_wakes));
    h_wait_word(in);
    _exit(t_failed() ? 31 : 0);
}

static void sm_main(void *arg, int in, int out)
{
    h_server(((struct h_world *)arg)->k, true, in, out);
}

static void svc_main(void *arg, int in, int out)
{
    h_server(((struct h_world *)arg)->k, false, in, out);
}

/* One verified call: the reply holds our data, stamped with the callee's identity. 0 or an
   errno (EBADMSG: a reply that is not ours). */
static int h_checked_call(liteipc_kernel *k, int fd, uint32_t handle, int pid, int tid,
                          uint32_t seq)
{
    unsigned char data[H_DATA];
    h_claim cl = {H_MAGIC, (uint32_t)liteipc_self_pid(k), (uint32_t)liteipc_self_tid(k),
                  (uint32_t)getuid(), seq};
    IpcMsg *r = NULL;
    int err = 0;

    t_fill(data, sizeof(data), seq);
    memcpy(data, &cl, sizeof(cl));
    if (t_call(k, fd, handle, H_CODE_CHECKED, data, sizeof(data), &r) != 0)
        return errno ? errno : EIO;
    if (r->type != MT_REPLY || r->dataSz != sizeof(data) || memcmp(r->data, data, sizeof(data)) ||
        r->processID != (uint32_t)pid || r->taskID != (uint32_t)tid || r->userID != getuid())
        err = EBADMSG;
    if (t_free(k, fd, r) != 0 && !err)
        err = errno;
    return err;
}

/* A client: calls the service, verifying each reply, until told to stop; then one call to the
   ServiceManager and one to the service. Reports "calls N failed F errno E slowest-ms M". */
static void client_main(void *arg, int in, int out)
{
    struct h_world *w = arg;
    struct pollfd pfd = {.fd = in, .events = POLLIN};
    unsigned calls = 0, failed = 0, seq = (unsigned)w->id << 24;
    uint64_t slowest = 0;
    int fd = t_dev_setup(w->k, T_POOL, NULL), first = 0, err;

    if (fd < 0 || t_request_grant(w->k, fd, (uint32_t)w->svc_tid) != 0)
        _exit(40);
    r_report(out, "ready");
    while (poll(&pfd, 1, 0) == 0) {
        uint64_t t0 = t_now_ms(), took;

        err = h_checked_call(w->k, fd, (uint32_t)w->svc_tid, w->svc_pid, w->svc_tid, seq++);
        took = t_now_ms() - t0;
        slowest = took > slowest ? took : slowest;
        calls++;
        if (err && failed++ == 0)
            first = err;
    }
    h_wait_word(in); /* "stop": the hostile process is done */
    err = h_checked_call(w->k, fd, 0, w->sm_pid, w->sm_tid, seq++);
    if (!err)
        err = h_checked_call(w->k, fd, (uint32_t)w->svc_tid, w->svc_pid, w->svc_tid, seq++);
    calls += 2;
    if (err && failed++ == 0)
        first = err;
    r_report(out, "calls %u failed %u errno %d slowest-ms %llu lost-wakes %lu", calls, failed,
             first, (unsigned long long)slowest, atomic_load(&w->k->c.lost_wakes));
    h_wait_word(in);
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Shrink and grow every memory file this process holds, by descriptor or reopened from its
   mappings. Returns how many of those succeeded. */
static unsigned h_truncate_all(const h_map *maps, int nmaps)
{
    char path[64], link[128];
    unsigned done = 0;
    struct dirent *e;
    DIR *d = opendir("/proc/self/fd");

    while (d && (e = readdir(d))) {
        int fd = atoi(e->d_name);
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, link, sizeof(link) - 1);
        if (n <= 0 || fd == dirfd(d))
            continue;
        link[n] = '\0';
        if (strstr(link, "memfd:"))
            done += (ftruncate(fd, 0) == 0) + (ftruncate(fd, 1 << 20) == 0);
    }
    if (d)
        closedir(d);
    for (int i = 0; i < nmaps; i++) {
        int fd = h_reopen(&maps[i]);

        if (fd < 0)
            continue;
        done += (ftruncate(fd, 0) == 0) + (ftruncate(fd, 1 << 20) == 0);
        close(fd);
    }
    return done;
}

/* One round over what this process can write: random bytes, every bit set, or every bit clear. */
static void h_scribble(h_view *v, int nv, unsigned round, uint64_t *rng)
{
    for (int i = 0; i < nv; i++) {
        if (round % 3 == 0) {
            for (size_t o = 0; o + 8 <= v[i].len; o += 8) {
                uint64_t x = xorshift(rng);

                memcpy(v[i].p + o, &x, 8);
            }
        } else {
            memset(v[i].p, round % 3 == 1 ? 0xff : 0, v[i].len);
        }
    }
}

/* FUTEX_WAKE every word of the bell: spurious wake-ups for every task of the kernel. */
static unsigned long h_wake_all(const h_map *maps, int nmaps)
{
    unsigned long woken = 0;

    for (int i = 0; i < nmaps; i++) {
        if (!strstr(maps[i].name, "liteipc-bell"))
            continue;
        for (unsigned long a = maps[i].lo; a + 4 <= maps[i].hi; a += 4) {
            long n = syscall(SYS_futex, (uint32_t *)a, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);

            woken += n > 0 ? (unsigned long)n : 0;
        }
    }
    return woken;
}

struct h_own {
    liteipc_kernel *k;
    int fd;
    _Atomic unsigned ok, failed;
};

/* The hostile process's own calls to the ServiceManager: they may fail, or never end. */
static void *h_own_calls(void *arg)
{
    struct h_own *o = arg;

    for (;;) {
        IpcMsg *r = NULL;
        uint32_t x = 7;

        if (t_call(o->k, o->fd, 0, T_CODE_ECHO, &x, sizeof(x), &r) == 0 &&
            t_free(o->k, o->fd, r) == 0)
            atomic_fetch_add(&o->ok, 1);
        else
            atomic_fetch_add(&o->failed, 1);
    }
    return NULL;
}

/*
 * The hostile process: for H_ROUNDS rounds, truncate every memory file it holds, scribble over
 * every shared mapping it can write, wake every futex word it can see, while a thread of its
 * own calls the ServiceManager. Reports "rounds R trunc-ok T views V own-ok O", where T must be
 * 0 and V only its own channels.
 */
static void hostile_main(void *arg, int in, int out)
{
    struct h_world *w = arg;
    struct h_own own = {.k = w->k};
    h_map maps[H_MAX_MAPS];
    h_view v[H_MAX_MAPS];
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    unsigned trunc_ok = 0, r;
    unsigned long woken = 0;
    char names[128] = "";
    pthread_t th;
    int nmaps, nv;

    own.fd = t_dev_setup(w->k, T_POOL, NULL);
    if (own.fd < 0 || pthread_create(&th, NULL, h_own_calls, &own) != 0)
        _exit(50);
    nmaps = h_maps(maps, H_MAX_MAPS);
    nv = h_writable_views(maps, nmaps, v, H_MAX_MAPS);
    for (int i = 0; i < nv; i++)
        snprintf(names + strlen(names), sizeof(names) - strlen(names), " %s", v[i].name);
    r_report(out, "started");
    for (r = 0; r < H_ROUNDS; r++) {
        trunc_ok += h_truncate_all(maps, nmaps);
        h_scribble(v, nv, r, &rng);
        woken += h_wake_all(maps, nmaps);
    }
    r_report(out, "rounds %u trunc-ok %u views %d own-ok %u own-failed %u woken %lu writable%.80s",
             r, trunc_ok, nv, atomic_load(&own.ok), atomic_load(&own.failed), woken, names);
    h_wait_word(in);
    _exit(0); /* its calling thread may wait forever on what it has done to its own channel */
}

/* Read a child's "ready PID TID". */
static void h_ready_ids(r_child *ch, int *pid, int *tid)
{
    char line[R_LINE_MAX];

    r_expect(ch, "ready ", line, sizeof(line));
    assert_int_equal(sscanf(line, "ready %d %d", pid, tid), 2);
}

/*
 * Issue 10's hostile process: while a ServiceManager, a service and clients run as processes of
 * their own, a process that truncates, scribbles over and wakes everything it can for about a
 * second harms none of them: every call of theirs is served and verified (data, and the
 * processID, taskID and userID stamps, checked by both sides), none fails or ends at its
 * deadline (the device's 5 s), and the kernel serves on. The attacker may slow them down: it
 * takes CPU time, and its futex storm wakes every task of the kernel for nothing.
 */
static void hostile_process_harms_nobody(void **state)
{
    r_ctx *c = *state;
    struct h_world w = {.k = c->k};
    char line[R_LINE_MAX];
    r_child *sm, *svc, *cl[H_CLIENTS], *bad;
    unsigned rounds = 0, trunc_ok = 1, own_ok = 0, own_failed = 0, served = 0, sbad = 1;
    unsigned long client_calls = 0;
    IpcVersion ver;
    int views = -1, fd;

    if (UNDER_TSAN)
        skip(); /* see UNDER_TSAN */
    sm = r_fork_child(c, sm_main, &w);
    h_ready_ids(sm, &w.sm_pid, &w.sm_tid);
    svc = r_fork_child(c, svc_main, &w);
    h_ready_ids(svc, &w.svc_pid, &w.svc_tid);
    for (int i = 0; i < H_CLIENTS; i++) {
        w.id = i + 1;
        cl[i] = r_fork_child(c, client_main, &w);
        r_expect(cl[i], "ready", line, sizeof(line));
    }
    bad = r_fork_child(c, hostile_main, &w);
    r_expect(bad, "started", line, sizeof(line));
    r_expect(bad, "rounds ", line, sizeof(line));
    print_message("hostile: %s\n", line);
    assert_true(sscanf(line, "rounds %u trunc-ok %u views %d own-ok %u own-failed %u", &rounds,
                       &trunc_ok, &views, &own_ok, &own_failed) == 5);
    for (int i = 0; i < H_CLIENTS; i++) {
        unsigned calls = 0, failed = 1;
        int err = 0;

        r_say(cl[i], "stop");
        r_expect(cl[i], "calls ", line, sizeof(line));
        print_message("client %d: %s\n", i + 1, line);
        assert_true(sscanf(line, "calls %u failed %u errno %d", &calls, &failed, &err) == 3);
        if (failed)
            fail_msg("client %d: %u of %u calls failed, the first with %s", i + 1, failed, calls,
                     liteipc_errno_name(err));
        client_calls += calls;
        r_say(cl[i], "quit");
        r_assert_exit0(r_wait(cl[i]), "client");
    }
    r_say(bad, "quit");
    r_wait(bad);
    for (int i = 0; i < 2; i++) { /* the service first: it needs the CMS to be stopped */
        r_child *s = i ? sm : svc;

        r_say(s, "quit");
        r_expect(s, "served ", line, sizeof(line));
        print_message("%s: %s\n", i ? "ServiceManager" : "service", line);
        assert_true(sscanf(line, "served %u bad %u", &served, &sbad) == 2);
        assert_int_equal(sbad, 0); /* every request stamped with its sender's identity */
        if (!i)
            assert_true(served >= client_calls - H_CLIENTS); /* the last calls: one to the SM */
        r_say(s, "quit");
        r_assert_exit0(r_wait(s), i ? "ServiceManager" : "service");
    }
    assert_int_equal(rounds, H_ROUNDS);
    assert_int_equal(trunc_ok, 0); /* no memory file could be resized */
    assert_int_equal(views, 1);    /* it could write its own channels, nothing else */
    /* the kernel serves on */
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(liteipc_ioctl(c->k, fd, IPC_GET_VERSION, &ver));
    assert_ok(liteipc_close(c->k, fd));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, r_setup, r_teardown)
/* With the device's 5 s reply timeout: a call that ends with ETIME was not served, however
   loaded the machine (sanitizers, two shared vCPUs, the attacker's own load). */
#define T_SLOW(fn) cmocka_unit_test_setup_teardown(fn, r_setup_slow, r_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(hostile_truncate_fails),
        T(hostile_cannot_set_dead),
        T(hostile_clearing_posted_bits_loses_nothing_of_others),
        T(hostile_withheld_wake_is_done_by_broker),
        T(hostile_own_lost_post_is_rung_again),
        T(hostile_host_child_holds_no_doorbells),
        T_SLOW(hostile_process_harms_nobody),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
