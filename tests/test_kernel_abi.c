/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernel_abi.c - the 64-bit ABI profiles in the pure kernel (src/abi.h, docs/ABI.md):
 * every sender/receiver pair of profiles for requests, replies and special objects, death
 * notices, the object bounds of each profile, the pool cost of each node layout, and the CMS
 * size sum in device sizes whatever the profile; and src/abi.c's codec against the views.
 * In a 32-bit build every profile is the device's own layout (abiview.c asserts the views are),
 * so the same tests check that each profile reads and writes exactly that.
 *
 * The receiver's view is read through the tests' own copies of the upstream structures
 * (support/abiview.h), never through src/abi.c, so a translation that breaks fails here.
 */
#include "abiview.h"
#include "kfix.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

static const int profiles[] = {LK_ABI_DEFAULT, LK_ABI_IPC_LITE, LK_ABI_COMM_IPC};
#define NPROF 3

/* IPC_SEND_RECV_MSG with a canonical header, as the device layer stages it (with hi). */
static int send_as(t_kfix *f, int tid, uint32_t flag, const IpcMsg *m, lk_msg_hi hi,
                   void *free_buf, uintptr_t *in_msg)
{
    IpcContent c = {.flag = flag, .outMsg = (IpcMsg *)m, .buffToFree = free_buf};
    lk_ioctl_in in;
    lk_ioctl_out out;
    int r;

    memset(&out, 0, sizeof out);
    t_fill_in(f, &in, IPC_SEND_RECV_MSG, (uintptr_t)&c);
    in.out_hi = hi;
    r = lk_ioctl(f->k, tid, &in, f->now, &out);
    if (r == 0 && out.copyout == LK_COPYOUT_INMSG && in_msg)
        *in_msg = out.in_msg;
    return r;
}

static uintptr_t must_recv_raw(t_kfix *f, int tid)
{
    IpcContent c = {.flag = RECV};
    assert_int_equal(t_ioctl(f, tid, IPC_SEND_RECV_MSG, (uintptr_t)&c, NULL), 0);
    return (uintptr_t)c.inMsg;
}

typedef struct scene {
    int cms, c, c_pid, s, s_pid;
} scene;

static scene setup_scene(t_kfix *f)
{
    scene sc;
    sc.cms = t_client_server(f, &sc.c, &sc.c_pid, &sc.s, &sc.s_pid);
    return sc;
}

static void set_abis(t_kfix *f, const scene *sc, int ca, int sa)
{
    assert_int_equal(lk_proc_set_abi(f->k, sc->c_pid, ca), 0);
    assert_int_equal(lk_proc_set_abi(f->k, sc->s_pid, sa), 0);
    assert_int_equal(lk_proc_abi(f->k, sc->c_pid), ca);
}

/* ---- headers -------------------------------------------------------------------------------- */

/* A synchronous call and its reply, each header in its receiver's layout, for all 9 pairs. */
static void abi_request_reply_every_pair(void **state)
{
    t_kfix *f = *state;
    scene sc = setup_scene(f);

    for (int i = 0; i < NPROF; i++) {
        for (int j = 0; j < NPROF; j++) {
            int ca = profiles[i], sa = profiles[j];
            set_abis(f, &sc, ca, sa);
            /* A communication_ipc sender may use 64-bit tokens (LP64); others cannot. */
            lk_msg_hi hi = t_abi_wide_ids(ca) ? (lk_msg_hi){0xA1, 0xB2} : (lk_msg_hi){0, 0};
            IpcMsg m;
            t_msg(&m, MT_REQUEST, (uint32_t)sc.s, 0x100u + (uint32_t)(3 * i + j), 0);
            m.target.token = 0x11223344u;
            m.target.cookie = 0x55667788u;
            t_msg_data(&m, "abcdefg", 7);
            assert_int_equal(send_as(f, sc.c, SEND | RECV, &m, hi, NULL, NULL), LK_PARKED);

            uintptr_t in = must_recv_raw(f, sc.s);
            t_abiview v = t_abi_view(sa, (const void *)in);
            uint64_t th = t_abi_wide_ids(sa) ? (uint64_t)hi.token_hi << 32 : 0;
            uint64_t kh = t_abi_wide_ids(sa) ? (uint64_t)hi.cookie_hi << 32 : 0;
            assert_int_equal(v.type, MT_REQUEST);
            assert_int_equal(v.handle, sc.s);
            assert_true(v.token == (0x11223344u | th));
            assert_true(v.cookie == (0x55667788u | kh));
            assert_int_equal(v.code, 0x100u + (uint32_t)(3 * i + j));
            assert_int_equal(v.flag, 0);
            assert_true(v.ts != 0);
            assert_int_equal(v.dsz, 7);
            assert_true(v.data == in + t_abi_hdr_size(sa) + 8);
            assert_memory_equal((const void *)v.data, "abcdefg", 7);
            assert_int_equal(v.n, 0);
            assert_true(v.offs == 0);
            assert_int_equal(v.pid, sc.c_pid);
            assert_int_equal(v.tid, sc.c);
            assert_int_not_equal(v.uid, 0);
            assert_int_not_equal(v.gid, 0);

            IpcMsg r;
            t_msg(&r, MT_REPLY, v.tid, 0x200u, 0);
            r.timestamp = v.ts;
            t_msg_data(&r, "xyz", 3);
            assert_int_equal(send_as(f, sc.s, SEND | BUFF_FREE, &r, (lk_msg_hi){0, 0},
                                     (void *)in, NULL),
                             0);
            uintptr_t rep = (uintptr_t)t_must_complete(f, sc.c, 0);
            t_abiview w = t_abi_view(ca, (const void *)rep);
            assert_int_equal(w.type, MT_REPLY);
            assert_int_equal(w.handle, sc.c);
            assert_int_equal(w.code, 0x200u);
            assert_true(w.ts == v.ts);
            assert_int_equal(w.dsz, 3);
            assert_true(w.data == rep + t_abi_hdr_size(ca) + 8);
            assert_memory_equal((const void *)w.data, "xyz", 3);
            assert_int_equal(w.pid, sc.s_pid);
            assert_int_equal(w.tid, sc.s);
            t_must_free(f, sc.c, (const void *)rep);
        }
    }
}

/* The death notice is written in its receiver's layout: the dead TID in the 64-bit token. */
static void abi_death_notice_layout(void **state)
{
    t_kfix *f = *state;
    for (int i = 0; i < NPROF; i++) {
        int cms = t_must_cms(f);
        int r_pid, r = t_must_ready_task(f, 0, &r_pid);
        int s_pid, s = t_must_ready_task(f, 0, &s_pid);
        t_give_info(f, s);
        assert_int_equal(lk_proc_set_abi(f->k, r_pid, profiles[i]), 0);
        assert_int_equal(t_set_ipc_thread(f, r), r);
        assert_int_equal(t_add_access(f, cms, (uint32_t)r, (uint32_t)s), 0);
        assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
        uintptr_t in = must_recv_raw(f, r);
        t_abiview v = t_abi_view(profiles[i], (const void *)in);
        assert_int_equal(v.type, MT_DEATH_NOTIFY);
        assert_int_equal(v.handle, r);
        assert_true(v.token == (uint64_t)s);
        assert_int_equal(v.pid, s_pid);
        assert_int_equal(v.dsz, 0);
        t_must_free(f, r, (const void *)in);
        t_kfix_restart(f, NULL, true);
    }
}

/* ---- special objects ------------------------------------------------------------------------ */

/* OBJ_FD, OBJ_PTR, OBJ_SVC in the sender's layout, patched there, offsets in the receiver's. */
static void abi_objects_every_pair(void **state)
{
    t_kfix *f = *state;
    scene sc = setup_scene(f);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);

    for (int i = 0; i < NPROF; i++) {
        for (int j = 0; j < NPROF; j++) {
            int ca = profiles[i], sa = profiles[j];
            uint32_t os = t_abi_obj_size(ca);
            uint32_t offs[3] = {0, os, 2 * os + 4}; /* the last one misaligned for 8 bytes */
            uint32_t dsz = 3 * os + 4 + 3;
            char data[3 * 32 + 8], buf[] = "hello-ptr";
            set_abis(f, &sc, ca, sa);
            memset(data, 0x5a, sizeof data);
            t_abi_put_obj(ca, data, offs[0], OBJ_FD, (uint32_t)pfd[0], 0);
            t_abi_put_obj(ca, data, offs[1], OBJ_PTR, sizeof buf, (uintptr_t)buf);
            t_abi_put_obj(ca, data, offs[2], OBJ_SVC, (uint32_t)sc.c, 7);
            IpcMsg m;
            t_msg(&m, MT_REQUEST, (uint32_t)sc.s, 5, LITEIPC_FLAG_ONEWAY);
            t_msg_data(&m, data, dsz);
            t_msg_objs(&m, offs, 3);
            assert_int_equal(send_as(f, sc.c, SEND, &m, (lk_msg_hi){0, 0}, NULL, NULL), 0);

            uintptr_t in = must_recv_raw(f, sc.s);
            t_abiview v = t_abi_view(sa, (const void *)in);
            assert_int_equal(v.n, 3);
            assert_int_equal(v.dsz, dsz);
            assert_true(v.offs == v.data + dsz); /* not realigned */
            for (uint32_t k = 0; k < 3; k++)
                assert_true(t_abi_entry(sa, v.offs, k) == offs[k]);
            uint32_t type;
            uint64_t token;
            uint64_t fd = t_abi_obj(ca, v.data, offs[0], &type, &token);
            assert_int_equal(type, OBJ_FD);
            assert_true(fd != (uint64_t)pfd[0] && t_fd_is_open((int)fd));
            uint64_t buff = t_abi_obj(ca, v.data, offs[1], &type, &token);
            assert_int_equal(type, OBJ_PTR);
            assert_true(t_in_pool(f, sc.s_pid, (const void *)(uintptr_t)buff, sizeof buf));
            assert_memory_equal((const void *)(uintptr_t)buff, buf, sizeof buf);
            uint64_t h = t_abi_obj(ca, v.data, offs[2], &type, &token);
            assert_int_equal(type, OBJ_SVC);
            assert_true(h == (uint64_t)sc.c && token == 7);
            /* the payload bytes between objects are untouched */
            assert_int_equal((unsigned char)((const char *)v.data)[2 * os + 1], 0x5a);
            t_close_received_fd(f, (int)fd);
            t_must_free(f, sc.s, (const void *)(uintptr_t)buff);
            t_must_free(f, sc.s, (const void *)in);
        }
    }
    close(pfd[0]);
    close(pfd[1]);
}

/* Bounds use the sender's real object size: 32 bytes for communication_ipc, 24 otherwise on
   LP64; the device's 16 for every profile on ILP32. */
static void abi_object_bounds_per_profile(void **state)
{
    t_kfix *f = *state;
    scene sc = setup_scene(f);
    char data[128];
    const uint32_t dos = t_abi_obj_size(LK_ABI_DEFAULT); /* 24, or 16 on ILP32 */

    for (int i = 0; i < NPROF; i++) {
        int ca = profiles[i];
        uint32_t os = t_abi_obj_size(ca);
        set_abis(f, &sc, ca, LK_ABI_DEFAULT);
        memset(data, 0, sizeof data);
        t_abi_put_obj(ca, data, 0, OBJ_SVC, (uint32_t)sc.c, 0);
        t_abi_put_obj(ca, data, dos, OBJ_SVC, (uint32_t)sc.c, 0);
        uint32_t offs[2] = {0, dos};
        IpcMsg m;
        t_msg(&m, MT_REQUEST, (uint32_t)sc.s, 1, LITEIPC_FLAG_ONEWAY);
        t_msg_objs(&m, offs, 1);
        /* one object, data ending 1 byte short of it: EINVAL in every profile */
        t_msg_data(&m, data, os - 1);
        assert_int_equal(send_as(f, sc.c, SEND, &m, (lk_msg_hi){0, 0}, NULL, NULL), -EINVAL);
        /* a default-sized object fits in that many data bytes only where objects are that size */
        t_msg_data(&m, data, dos);
        assert_int_equal(send_as(f, sc.c, SEND, &m, (lk_msg_hi){0, 0}, NULL, NULL),
                         os == dos ? 0 : -EINVAL);
        if (os == dos)
            t_must_recv_free(f, sc.s);
        /* two objects that far apart overlap where objects are longer (32 bytes) */
        t_msg_data(&m, data, 64);
        t_msg_objs(&m, offs, 2);
        assert_int_equal(send_as(f, sc.c, SEND, &m, (lk_msg_hi){0, 0}, NULL, NULL),
                         os == dos ? 0 : -EINVAL);
        if (os == dos)
            t_must_recv_free(f, sc.s);
        /* an offset past 32 bits (a size_t entry narrowed to UINT32_MAX) */
        offs[0] = UINT32_MAX;
        t_msg_objs(&m, offs, 1);
        assert_int_equal(send_as(f, sc.c, SEND, &m, (lk_msg_hi){0, 0}, NULL, NULL), -EINVAL);
        assert_int_equal(t_tview(f, sc.s).queued, 0);
        assert_int_equal(t_pool_used(f, sc.s_pid), 0);
    }
}

/* ---- limits and capacity -------------------------------------------------------------------- */

/* The CMS sum counts the device's 64 + dataSz + 4 per object, whatever the sender's profile. */
static void abi_cms_limit_in_device_sizes(void **state)
{
    t_kfix *f = *state;
    for (int i = 0; i < NPROF; i++) {
        int cms_pid;
        (void)t_must_cms_size(f, 200, &cms_pid);
        int c_pid, c = t_must_ready_task(f, 0, &c_pid);
        char data[200];
        memset(data, 0, sizeof data);
        assert_int_equal(lk_proc_set_abi(f->k, c_pid, profiles[i]), 0);
        assert_int_equal(lk_proc_set_abi(f->k, cms_pid, profiles[i]), 0);
        IpcMsg m;
        t_msg(&m, MT_REQUEST, 0, 1, LITEIPC_FLAG_ONEWAY);
        t_msg_data(&m, data, 137);
        assert_int_equal(send_as(f, c, SEND, &m, (lk_msg_hi){0, 0}, NULL, NULL), -EINVAL);
        t_msg_data(&m, data, 136);
        assert_int_equal(send_as(f, c, SEND, &m, (lk_msg_hi){0, 0}, NULL, NULL), 0);
        t_allow_leaks(f);
        t_kfix_restart(f, NULL, true);
    }
}

/* A communication_ipc node costs 16 more header bytes, and size_t offsets 4 more per object
   (LP64); on ILP32 every profile's node is the device's. */
static void abi_node_pool_cost(void **state)
{
    t_kfix *f = *state;
    scene sc = setup_scene(f);
    size_t used[NPROF];
    char data[64];
    memset(data, 0, sizeof data);
    t_abi_put_obj(LK_ABI_DEFAULT, data, 0, OBJ_SVC, (uint32_t)sc.c, 0);
    uint32_t off = 0;

    for (int i = 0; i < NPROF; i++) {
        set_abis(f, &sc, LK_ABI_DEFAULT, profiles[i]);
        size_t before = t_pool_stats(f, sc.s_pid).free_bytes;
        IpcMsg m;
        t_msg(&m, MT_REQUEST, (uint32_t)sc.s, 1, LITEIPC_FLAG_ONEWAY);
        t_msg_data(&m, data, 41);
        t_msg_objs(&m, &off, 1);
        assert_int_equal(send_as(f, sc.c, SEND, &m, (lk_msg_hi){0, 0}, NULL, NULL), 0);
        used[i] = before - t_pool_stats(f, sc.s_pid).free_bytes;
        t_must_recv_free(f, sc.s);
    }
#if defined(__LP64__)
    assert_int_equal(used[LK_ABI_IPC_LITE] - used[LK_ABI_DEFAULT], 8); /* 4, rounded up to 8 */
    assert_int_equal(used[LK_ABI_COMM_IPC] - used[LK_ABI_DEFAULT], 16 + 8);
#else /* 64 + 8 + 41 + 4 = 117, rounded to 120: 8-byte entries or a longer header cost more */
    assert_int_equal(used[LK_ABI_IPC_LITE], used[LK_ABI_DEFAULT]);
    assert_int_equal(used[LK_ABI_COMM_IPC], used[LK_ABI_DEFAULT]);
#endif
}

/* ---- the codec ------------------------------------------------------------------------------ */

/* src/abi.c's layouts, encoder and decoder agree with the tests' own views of every profile
   (on ILP32 those are the device's layout, so each profile must be byte for byte the device's). */
static void abi_codec_matches_views(void **state)
{
    (void)state;
    for (int i = 0; i < NPROF; i++) {
        int p = profiles[i];
        const lk_abi_layout *L = lk_abi_layout_of(p);
        assert_int_equal(L->msg_size, t_abi_hdr_size(p));
        assert_int_equal(L->obj_size, t_abi_obj_size(p));
        assert_int_equal(L->entry_size, t_abi_entry_size(p));
        assert_int_equal(L->id_size, t_abi_wide_ids(p) ? 8 : 4);

        IpcMsg m = {.type = MT_REPLY, .target = {11, 12, 13}, .code = 14, .flag = 1,
                    .timestamp = 0x1516171819ull, .dataSz = 20, .data = (void *)(uintptr_t)0x2100,
                    .spObjNum = 22, .offsets = (void *)(uintptr_t)0x2300, .processID = 24,
                    .taskID = 25, .userID = 26, .gid = 27};
        lk_msg_hi hi = t_abi_wide_ids(p) ? (lk_msg_hi){0xA1, 0xB2} : (lk_msg_hi){0, 0};
        unsigned char raw[96 + 1];
        memset(raw, 0xee, sizeof raw);
        lk_abi_encode_msg(L, &m, &hi, raw);
        assert_int_equal(raw[t_abi_hdr_size(p)], 0xee); /* not a byte past the header */
#if !defined(__LP64__)
        assert_memory_equal(raw, &m, sizeof m); /* the device's header, byte for byte */
#endif
        t_abiview v = t_abi_view(p, raw);
        assert_int_equal(v.type, MT_REPLY);
        assert_int_equal(v.handle, 11);
        assert_true(v.token == (12 | (uint64_t)hi.token_hi << 32));
        assert_true(v.cookie == (13 | (uint64_t)hi.cookie_hi << 32));
        assert_int_equal(v.code, 14);
        assert_int_equal(v.flag, 1);
        assert_true(v.ts == 0x1516171819ull);
        assert_int_equal(v.dsz, 20);
        assert_true(v.data == 0x2100 && v.offs == 0x2300);
        assert_int_equal(v.n, 22);
        assert_int_equal(v.pid, 24);
        assert_int_equal(v.tid, 25);
        assert_int_equal(v.uid, 26);
        assert_int_equal(v.gid, 27);

        /* what a sender of the profile writes decodes to the same header and high halves */
        unsigned char sent[96];
        IpcMsg d;
        lk_msg_hi dh;
        memset(sent, 0, sizeof sent);
        t_abi_build(p, &v, sent);
        lk_abi_decode_sender(L, sent, &d, &dh);
        assert_int_equal(d.type, MT_REPLY);
        assert_int_equal(d.target.handle, 11);
        assert_int_equal(d.target.token, 12);
        assert_int_equal(d.target.cookie, 13);
        assert_true(dh.token_hi == hi.token_hi && dh.cookie_hi == hi.cookie_hi);
        assert_int_equal(d.code, 14);
        assert_int_equal(d.flag, 1);
        assert_true(d.timestamp == 0x1516171819ull);
        assert_int_equal(d.dataSz, 20);
        assert_true(d.data == m.data && d.offsets == m.offsets);
        assert_int_equal(d.spObjNum, 22);
        assert_int_equal(d.processID, 0); /* the sender part only (Q20) */
    }
}

/* Profiles are per process, known or refused. */
static void abi_set_profile_checks(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_proc(f);
    assert_int_equal(lk_proc_abi(f->k, pid), LK_ABI_DEFAULT);
    assert_int_equal(lk_proc_set_abi(f->k, pid, LK_ABI_COUNT), -EINVAL);
    assert_int_equal(lk_proc_set_abi(f->k, pid, -1), -EINVAL);
    assert_int_equal(lk_proc_set_abi(f->k, LK_MAX_PROCS - 1, 0), -ESRCH);
    assert_int_equal(lk_proc_set_abi(f->k, pid, LK_ABI_COMM_IPC), 0);
    t_must_open(f, pid);
    int child = lk_proc_fork(f->k, pid, 1, 1);
    assert_true(child >= 0);
    assert_int_equal(lk_proc_abi(f->k, child), LK_ABI_COMM_IPC); /* the same program */
    assert_int_equal(lk_abi_parse(NULL), LK_ABI_DEFAULT);
    assert_int_equal(lk_abi_parse("default"), LK_ABI_DEFAULT);
    assert_int_equal(lk_abi_parse("ipc_lite"), LK_ABI_IPC_LITE);
    assert_int_equal(lk_abi_parse("communication_ipc"), LK_ABI_COMM_IPC);
    assert_int_equal(lk_abi_parse("ipc-lite"), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(abi_request_reply_every_pair),
        T(abi_death_notice_layout),
        T(abi_objects_every_pair),
        T(abi_object_bounds_per_profile),
        T(abi_cms_limit_in_device_sizes),
        T(abi_node_pool_cost),
        T(abi_set_profile_checks),
        T(abi_codec_matches_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
