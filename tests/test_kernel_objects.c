/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernel_objects.c - special objects (LITEIPC_REFERENCE §5): validation of the offsets
 * array (bounds with the host SpecialObj size, the count check with the device size), bad types
 * after good objects and their rollback, OBJ_FD duplication and closing, OBJ_PTR copy, used-list
 * registration and rollback, OBJ_SVC grants including the handle -1 / token 1 form and its
 * errors, Q11 (grants are never rolled back) and the early offset walk of requests to handle 0.
 */
#include "kfix.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

static int send_objs(t_kfix *f, int from, uint32_t to, void *data, uint32_t size,
                     const uint32_t *offs, uint32_t n)
{
    IpcMsg m;
    t_msg(&m, MT_REQUEST, to, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, size);
    t_msg_objs(&m, offs, n);
    return t_send(f, from, &m);
}

/* Make s wait in a synchronous call (to itself): everything sent to it is now dropped. */
static void park_sync(t_kfix *f, int s)
{
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 99, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, s, &m, NULL), LK_PARKED);
    assert_true(t_tview(f, s).parked_sync);
}

static bool access_bit(t_kfix *f, int tid, int pid)
{
    return (t_tview(f, tid).access_map >> pid) & 1u;
}

/* ---- offsets (§5.1) ------------------------------------------------------------------------ */

static void objects_offset_past_end_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    /* The buffer is larger than dataSz: a valid object lies across the end of the data. */
    char data[3 * T_HOST_OBJ];
    memset(data, 0, sizeof data);
    uint32_t size = 2 * T_HOST_OBJ;
    uint32_t off = T_HOST_OBJ + 1;
    t_put_svc(data, off, (uint32_t)c, 0, 0);
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, size, &off, 1), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
    off = T_HOST_OBJ;
    t_put_svc(data, off, (uint32_t)c, 0, 0);
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, size, &off, 1), 0);
    assert_int_equal(t_must_recv_free(f, s), 1);
}

/* An object must fit whole in the data. On LP64 the device count check (16 bytes per object)
   passes while the host object (24) does not fit; in 32-bit the two sizes are the device's 16. */
static void objects_object_must_fit_host_size(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_svc(data, 0, (uint32_t)c, 0, 0);
    uint32_t off = 0;
    if (T_HOST_OBJ > T_DEV_OBJ)
        assert_int_equal(send_objs(f, c, (uint32_t)s, data, T_DEV_OBJ + 4, &off, 1), -EINVAL);
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, T_HOST_OBJ - 1, &off, 1), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, T_HOST_OBJ, &off, 1), 0);
    assert_int_equal(t_must_recv_free(f, s), 1);
}

static void objects_offsets_must_not_overlap(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char data[3 * T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_svc(data, 0, (uint32_t)c, 0, 0);
    t_put_svc(data, T_HOST_OBJ - 1, (uint32_t)c, 0, 0);
    uint32_t offs[2] = {0, T_HOST_OBJ - 1};
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, offs, 2), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
    t_put_svc(data, T_HOST_OBJ, (uint32_t)c, 0, 0);
    offs[1] = T_HOST_OBJ;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, offs, 2), 0);
    assert_int_equal(t_must_recv_free(f, s), 1);
}

static void objects_offsets_must_increase(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char data[2 * T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_svc(data, 0, (uint32_t)c, 0, 0);
    t_put_svc(data, T_HOST_OBJ, (uint32_t)c, 0, 0);
    uint32_t offs[2] = {T_HOST_OBJ, 0};
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, offs, 2), -EINVAL);
    offs[0] = 0;
    offs[1] = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, offs, 2), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void objects_unaligned_offset_accepted(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char data[5 + T_HOST_OBJ];
    memset(data, 0x11, sizeof data);
    t_put_svc(data, 5, (uint32_t)c, 0x44, 0x55);
    uint32_t off = 5;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), 0);
    IpcMsg *in = t_must_recv(f, s);
    SpecialObj o = t_get_obj(in, 0);
    assert_int_equal(o.type, OBJ_SVC);
    assert_int_equal(o.content.svc.handle, c);
    assert_int_equal(o.content.svc.token, 0x44);
    assert_int_equal(o.content.svc.cookie, 0x55);
    assert_memory_equal(in->data, data, 5);
    t_must_free(f, s, in);
}

static void objects_bad_type_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    uint32_t off = 0;
    const uint32_t types[] = {3, 4, 0xFFFF, 0x80000000u};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        t_put_type(data, 0, types[i]);
        assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), -EINVAL);
    }
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void objects_bad_type_after_good_rolls_back(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int p[2];
    assert_int_equal(pipe(p), 0);
    char buf[32] = "rolled back";
    char data[3 * T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_fd(data, 0, p[1]);
    t_put_ptr(data, T_HOST_OBJ, buf, sizeof buf);
    t_put_type(data, 2 * T_HOST_OBJ, 7);
    uint32_t offs[3] = {0, T_HOST_OBJ, 2 * T_HOST_OBJ};
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, offs, 3), -EINVAL);
    assert_int_equal(f->fd_dups, 1);
    assert_int_equal(f->fd_closes, 1);
    assert_int_equal(f->nfds, 0);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pview(f, s_pid).used_buffers, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
    assert_true(t_fd_is_open(p[1])); /* the sender's fd is untouched */
    close(p[0]);
    close(p[1]);
}

static void objects_rollback_in_reverse_order(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int p[2];
    assert_int_equal(pipe(p), 0);
    char data[3 * T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_fd(data, 0, p[0]);
    t_put_fd(data, T_HOST_OBJ, p[1]);
    t_put_type(data, 2 * T_HOST_OBJ, 9);
    uint32_t offs[3] = {0, T_HOST_OBJ, 2 * T_HOST_OBJ};
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, offs, 3), -EINVAL);
    assert_int_equal(f->fd_dups, 2);
    assert_int_equal(f->nclosed, 2);
    /* dup() hands out increasing numbers here, so the later object has the higher fd */
    assert_true(f->closed[0] > f->closed[1]);
    close(p[0]);
    close(p[1]);
}

/* ---- OBJ_FD (§5.2) ------------------------------------------------------------------------- */

static void objects_fd_installed_in_receiver(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int p[2];
    assert_int_equal(pipe(p), 0);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_fd(data, 0, p[1]);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), 0);
    assert_int_equal(f->fd_dups, 1);
    assert_int_equal(f->last_dup_src_pid, c_pid);
    assert_int_equal(f->last_dup_dst_pid, s_pid);

    IpcMsg *in = t_must_recv(f, s);
    SpecialObj o = t_get_obj(in, 0);
    assert_int_equal(o.type, OBJ_FD);
    int nfd = (int)o.content.fd;
    assert_int_not_equal(nfd, p[1]);
    assert_true(nfd >= 3);
    assert_true(t_fd_tracked(f, nfd));
    assert_int_equal(fcntl(nfd, F_GETFD) & FD_CLOEXEC, 0);
    assert_int_equal(write(nfd, "z", 1), 1);
    char ch = 0;
    assert_int_equal(read(p[0], &ch, 1), 1);
    assert_int_equal(ch, 'z');
    assert_true(t_fd_is_open(p[1]));
    assert_int_equal(f->fd_closes, 0);
    t_close_received_fd(f, nfd);
    t_must_free(f, s, in);
    assert_int_equal(f->fd_closes, 0); /* freeing the message does not close the fd */
    close(p[0]);
    close(p[1]);
}

static void objects_fd_invalid_ebadf(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    int bad = 1000;
    while (t_fd_is_open(bad))
        bad++;
    t_put_fd(data, 0, bad);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), -EBADF);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void objects_fd_without_hooks_ebadf(void **state)
{
    t_kfix *f = *state;
    t_kfix_restart(f, NULL, false);
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_fd(data, 0, 1);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), -EBADF);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void objects_fd_rollback_closes_in_receiver(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int p[2];
    assert_int_equal(pipe(p), 0);
    char data[2 * T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_fd(data, 0, p[0]);
    t_put_svc(data, T_HOST_OBJ, 0, 0, 0); /* handle 0 is refused (§5.4 step 2) */
    uint32_t offs[2] = {0, T_HOST_OBJ};
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, offs, 2), -EINVAL);
    assert_int_equal(f->fd_dups, 1);
    assert_int_equal(f->fd_closes, 1);
    assert_int_equal(f->last_close_pid, s_pid);
    assert_int_equal(f->nfds, 0);
    close(p[0]);
    close(p[1]);
}

static void objects_fd_dropped_message_closes_fd(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    park_sync(f, s);
    int p[2];
    assert_int_equal(pipe(p), 0);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_fd(data, 0, p[0]);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), 0);
    assert_int_equal(f->fd_dups, 1);
    assert_int_equal(f->fd_closes, 1);
    assert_int_equal(f->last_close_pid, s_pid);
    assert_int_equal(f->nfds, 0);
    assert_int_equal(t_tview(f, s).queued, 0);
    close(p[0]);
    close(p[1]);
}

/* ---- OBJ_PTR (§5.3) ------------------------------------------------------------------------ */

static void objects_ptr_copied_into_receiver_pool(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char buf[13] = "payload-1234";
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_ptr(data, 0, buf, sizeof buf);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), 0);
    assert_int_equal(f->copies, 1);
    memset(buf, 0, sizeof buf);
    IpcMsg *in = t_must_recv(f, s);
    SpecialObj o = t_get_obj(in, 0);
    assert_int_equal(o.type, OBJ_PTR);
    assert_int_equal(o.content.ptr.buffSz, 13);
    assert_ptr_not_equal(o.content.ptr.buff, buf);
    assert_true(t_in_pool(f, s_pid, o.content.ptr.buff, 13));
    assert_memory_equal(o.content.ptr.buff, "payload-1234", 13);
    t_must_free(f, s, o.content.ptr.buff);
    t_must_free(f, s, in);
}

static void objects_ptr_registered_at_write(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char buf[40] = {1};
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_ptr(data, 0, buf, sizeof buf);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), 0);
    assert_int_equal(t_pview(f, s_pid).used_buffers, 1); /* before any receive */
    assert_int_equal(t_pool_used(f, s_pid), 2);           /* node + buffer */
    IpcMsg *in = t_must_recv(f, s);
    assert_int_equal(t_pview(f, s_pid).used_buffers, 2);
    SpecialObj o = t_get_obj(in, 0);
    t_must_free(f, s, o.content.ptr.buff);
    t_must_free(f, s, in);
}

static void objects_ptr_freed_independently_of_message(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char buf[40] = "independent";
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_ptr(data, 0, buf, sizeof buf);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), 0);
    IpcMsg *in = t_must_recv(f, s);
    SpecialObj o = t_get_obj(in, 0);
    t_must_free(f, s, in);
    assert_int_equal(t_pview(f, s_pid).used_buffers, 1);
    assert_int_equal(t_pool_used(f, s_pid), 1);
    assert_memory_equal(o.content.ptr.buff, "independent", 12);
    t_must_free(f, s, o.content.ptr.buff);
    assert_int_equal(t_free(f, s, o.content.ptr.buff), -EFAULT);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void objects_ptr_null_buffer_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_ptr(data, 0, NULL, 16);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void objects_ptr_zero_size_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char buf[4];
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_ptr(data, 0, buf, 0);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

/* Q14: a buffer that does not fit gives EINVAL, not ENOMEM. */
static void objects_ptr_allocation_failure_einval(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s_pid;
    int s = t_must_ready_task(f, 4096, &s_pid);
    t_give_info(f, s);
    int c = t_must_ready_task(f, 0, NULL);
    assert_int_equal(t_add_access(f, cms, (uint32_t)c, (uint32_t)s), 0);
    static char buf[3500];
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_ptr(data, 0, buf, sizeof buf);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pview(f, s_pid).used_buffers, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void objects_ptr_copy_fault_efault(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char buf[16] = "x";
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_ptr(data, 0, buf, sizeof buf);
    uint32_t off = 0;
    f->copy_fault = true;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), -EFAULT);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pview(f, s_pid).used_buffers, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void objects_ptr_without_copy_hook_efault(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char buf[16] = "x";
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_ptr(data, 0, buf, sizeof buf);
    uint32_t off = 0;
    f->no_copy_hook = true;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), -EFAULT);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void objects_ptr_rollback_frees_buffer(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char buf1[16] = "one", buf2[24] = "two";
    char data[3 * T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_ptr(data, 0, buf1, sizeof buf1);
    t_put_ptr(data, T_HOST_OBJ, buf2, sizeof buf2);
    t_put_ptr(data, 2 * T_HOST_OBJ, NULL, 8);
    uint32_t offs[3] = {0, T_HOST_OBJ, 2 * T_HOST_OBJ};
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, offs, 3), -EINVAL);
    assert_int_equal(f->copies, 2);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pview(f, s_pid).used_buffers, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void objects_ptr_dropped_message_frees_buffer(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    park_sync(f, s);
    char buf[64] = "dropped";
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_ptr(data, 0, buf, sizeof buf);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), 0);
    assert_int_equal(f->copies, 1);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pview(f, s_pid).used_buffers, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

/* ---- OBJ_SVC (§5.4) ------------------------------------------------------------------------ */

static void objects_svc_passes_handle_and_grants_receiver(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int c2 = t_must_task(f, c_pid);
    assert_false(t_tview(f, c2).has_info);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_svc(data, 0, (uint32_t)c2, 7, 9);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), 0);
    assert_true(t_tview(f, c2).has_info);
    assert_true(access_bit(f, c2, s_pid));
    lk_proc_view pv = t_pview(f, s_pid);
    assert_true(t_has_access_bit(&pv, c2));

    IpcMsg *in = t_must_recv(f, s);
    SpecialObj o = t_get_obj(in, 0);
    assert_int_equal(o.type, OBJ_SVC);
    assert_int_equal(o.content.svc.handle, c2);
    assert_int_equal(o.content.svc.token, 7);
    assert_int_equal(o.content.svc.cookie, 9);
    t_must_free(f, s, in);
    assert_int_equal(t_send_req(f, s, (uint32_t)c2, 5, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, c2), 5);
}

static void objects_svc_minus_one_names_sender(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    assert_false(t_tview(f, c).has_info);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_svc(data, 0, 0xFFFFFFFFu, 1, 0x55);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), 0);
    assert_true(t_tview(f, c).has_info);
    assert_true(access_bit(f, c, s_pid));
    IpcMsg *in = t_must_recv(f, s);
    SpecialObj o = t_get_obj(in, 0);
    assert_int_equal(o.content.svc.handle, c);
    assert_int_equal(o.content.svc.token, 1);
    assert_int_equal(o.content.svc.cookie, 0x55);
    t_must_free(f, s, in);
    assert_int_equal(t_send_req(f, s, (uint32_t)c, 6, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, c), 6);
}

static void objects_svc_minus_one_token_not_1_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    uint32_t off = 0;
    t_put_svc(data, 0, 0xFFFFFFFFu, 0, 0);
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), -EINVAL);
    t_put_svc(data, 0, 0xFFFFFFFFu, 2, 0);
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), -EINVAL);
    assert_false(t_tview(f, c).has_info);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void objects_svc_minus_one_from_cms_einval(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, T_CMS_MAX, &cms_pid);
    int r = t_must_task(f, cms_pid);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_svc(data, 0, 0xFFFFFFFFu, 1, 0);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, cms, (uint32_t)r, data, sizeof data, &off, 1), -EINVAL);
    assert_int_equal(t_tview(f, r).queued, 0);
    assert_int_equal(t_pool_used(f, cms_pid), 0);
}

static void objects_svc_handle_zero_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_svc(data, 0, 0, 0, 0);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
}

static void objects_svc_dead_task_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    uint32_t off = 0;
    const uint32_t handles[] = {100, 3, 128, 0xFFFFFFFEu};
    for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++) {
        t_put_svc(data, 0, handles[i], 1, 0);
        assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), -EINVAL);
    }
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void objects_svc_without_access_eacces(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int b_pid;
    int b = t_must_ready_task(f, 0, &b_pid);
    t_give_info(f, b);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_svc(data, 0, (uint32_t)b, 0, 0);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), -EACCES);
    assert_int_equal(t_tview(f, b).access_map, 0);
    assert_int_equal(t_tview(f, s).queued, 0);
}

static void objects_svc_relayed_by_granted_process(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    int cms = t_client_server(f, &c, &c_pid, &s, &s_pid);
    int b_pid;
    int b = t_must_ready_task(f, 0, &b_pid);
    t_give_info(f, b);
    assert_int_equal(t_add_access(f, cms, (uint32_t)c, (uint32_t)b), 0);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_svc(data, 0, (uint32_t)b, 0, 0);
    uint32_t off = 0;
    assert_false(access_bit(f, b, s_pid));
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), 0);
    assert_true(access_bit(f, b, s_pid));
    assert_int_equal(t_must_recv_free(f, s), 1);
    assert_int_equal(t_send_req(f, s, (uint32_t)b, 8, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, b), 8);
}

static void objects_svc_in_reply_grants_client(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, T_CMS_MAX, &cms_pid);
    int s_pid;
    int s = t_must_ready_task(f, 0, &s_pid);
    t_give_info(f, s);
    assert_int_equal(t_gen_handle(f, cms, (uint32_t)s, NULL), 0);
    int k_pid;
    int k = t_must_ready_task(f, 0, &k_pid);
    assert_int_equal(t_send_req(f, k, (uint32_t)s, 1, 1), -EACCES);

    IpcMsg m;
    t_msg(&m, MT_REQUEST, 0, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, k, &m, NULL), LK_PARKED);
    IpcMsg *req = t_must_recv(f, cms);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_svc(data, 0, (uint32_t)s, 3, 0);
    uint32_t off = 0;
    IpcMsg r;
    t_reply_to(&r, req, MT_REPLY, 0);
    t_msg_data(&r, data, sizeof data);
    t_msg_objs(&r, &off, 1);
    assert_int_equal(t_sr(f, cms, SEND | BUFF_FREE, &r, req, NULL), 0);
    IpcMsg *rep = t_must_complete(f, k, 0);
    SpecialObj o = t_get_obj(rep, 0);
    assert_int_equal(o.content.svc.handle, s);
    assert_int_equal(o.content.svc.token, 3);
    t_must_free(f, k, rep);
    assert_true(access_bit(f, s, k_pid));
    assert_int_equal(t_send_req(f, k, (uint32_t)s, 2, 1), 0);
    assert_int_equal(t_must_recv_free(f, s), 2);
}

/* Q11: a failed send keeps the grants its objects made. */
static void objects_svc_grant_stays_after_failure(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int c2 = t_must_task(f, c_pid);
    char data[2 * T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_svc(data, 0, (uint32_t)c2, 0, 0);
    t_put_type(data, T_HOST_OBJ, 5);
    uint32_t offs[2] = {0, T_HOST_OBJ};
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, offs, 2), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_true(access_bit(f, c2, s_pid));
    assert_int_equal(t_send_req(f, s, (uint32_t)c2, 4, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, c2), 4);
}

/* Q11: a dropped message keeps the grants its objects made. */
static void objects_svc_grant_stays_after_drop(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int c2 = t_must_task(f, c_pid);
    int s2 = t_must_task(f, s_pid);
    park_sync(f, s);
    char data[T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_svc(data, 0, (uint32_t)c2, 0, 0);
    uint32_t off = 0;
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, &off, 1), 0);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_true(access_bit(f, c2, s_pid));
    assert_int_equal(t_send_req(f, s2, (uint32_t)c2, 4, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, c2), 4);
}

/* §4.3.5 / §5.1: through handle 0 the offsets are walked before any object takes effect. */
static void objects_handle_zero_checks_offsets_before_effects(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, T_CMS_MAX, &cms_pid);
    int c = t_must_ready_task(f, 0, NULL);
    int p[2];
    assert_int_equal(pipe(p), 0);
    char data[3 * T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_fd(data, 0, p[0]);
    t_put_fd(data, 10, p[1]);
    uint32_t offs[2] = {0, 10};
    assert_int_equal(send_objs(f, c, 0, data, sizeof data, offs, 2), -EINVAL);
    assert_int_equal(f->fd_dups, 0);
    assert_int_equal(t_tview(f, cms).queued, 0);
    assert_int_equal(t_pool_used(f, cms_pid), 0);
    close(p[0]);
    close(p[1]);
}

/* §5.1: elsewhere an offset is checked when its own object is reached. */
static void objects_direct_request_checks_offsets_in_order(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int p[2];
    assert_int_equal(pipe(p), 0);
    char data[3 * T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_fd(data, 0, p[0]);
    t_put_fd(data, 10, p[1]);
    uint32_t offs[2] = {0, 10};
    assert_int_equal(send_objs(f, c, (uint32_t)s, data, sizeof data, offs, 2), -EINVAL);
    assert_int_equal(f->fd_dups, 1);
    assert_int_equal(f->fd_closes, 1);
    assert_int_equal(f->nfds, 0);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(objects_offset_past_end_einval),
        T(objects_object_must_fit_host_size),
        T(objects_offsets_must_not_overlap),
        T(objects_offsets_must_increase),
        T(objects_unaligned_offset_accepted),
        T(objects_bad_type_einval),
        T(objects_bad_type_after_good_rolls_back),
        T(objects_rollback_in_reverse_order),
        T(objects_fd_installed_in_receiver),
        T(objects_fd_invalid_ebadf),
        T(objects_fd_without_hooks_ebadf),
        T(objects_fd_rollback_closes_in_receiver),
        T(objects_fd_dropped_message_closes_fd),
        T(objects_ptr_copied_into_receiver_pool),
        T(objects_ptr_registered_at_write),
        T(objects_ptr_freed_independently_of_message),
        T(objects_ptr_null_buffer_einval),
        T(objects_ptr_zero_size_einval),
        T(objects_ptr_allocation_failure_einval),
        T(objects_ptr_copy_fault_efault),
        T(objects_ptr_without_copy_hook_efault),
        T(objects_ptr_rollback_frees_buffer),
        T(objects_ptr_dropped_message_frees_buffer),
        T(objects_svc_passes_handle_and_grants_receiver),
        T(objects_svc_minus_one_names_sender),
        T(objects_svc_minus_one_token_not_1_einval),
        T(objects_svc_minus_one_from_cms_einval),
        T(objects_svc_handle_zero_einval),
        T(objects_svc_dead_task_einval),
        T(objects_svc_without_access_eacces),
        T(objects_svc_relayed_by_granted_process),
        T(objects_svc_in_reply_grants_client),
        T(objects_svc_grant_stays_after_failure),
        T(objects_svc_grant_stays_after_drop),
        T(objects_handle_zero_checks_offsets_before_effects),
        T(objects_direct_request_checks_offsets_in_order),
    };
    return cmocka_run_group_tests_name("kernel_objects", tests, NULL, NULL);
}
