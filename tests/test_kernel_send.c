/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernel_send.c - IPC_SEND_RECV_MSG up to the write path (LITEIPC_REFERENCE §4.1-§4.3):
 * flag combinations and the order of the phases, BUFF_FREE validation (Q13, Q14), size and type
 * checks, access checks, reply validation condition by condition, the reply deadline, dead and
 * unmapped destinations, pool exhaustion, the CMS size limit (Q19), the fields the kernel fills,
 * FIFO order and the node layout (Q3 fixed).
 */
#include "kfix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

/* ---- flags and phases (§4.1) --------------------------------------------------------------- */

static void send_flag_zero_does_nothing(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    t_ev_clear(f);
    IpcContent c = {.flag = 0, .outMsg = NULL, .inMsg = (IpcMsg *)0x1234, .buffToFree = NULL};
    lk_ioctl_out out;
    assert_int_equal(t_ioctl(f, cms, IPC_SEND_RECV_MSG, (uintptr_t)&c, &out), 0);
    assert_int_equal(out.copyout, LK_COPYOUT_NONE);
    assert_ptr_equal(c.inMsg, (IpcMsg *)0x1234);
    assert_false(t_tview(f, cms).parked);
    assert_int_equal(t_ev_count(f, LK_EV_MSG_WRITTEN), 0);
    assert_int_equal(t_ev_count(f, LK_EV_RECV_WAIT), 0);
}

static void send_unknown_flag_bits_ignored(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    assert_int_equal(t_sr(f, s, 0x8, NULL, NULL, NULL), 0);
    assert_int_equal(t_sr(f, s, 0x100 | 0x80000000u, NULL, NULL, NULL), 0);
    assert_false(t_tview(f, s).parked);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 42, LITEIPC_FLAG_ONEWAY);
    assert_int_equal(t_sr(f, s, SEND | 0x10 | 0x80000000u, &m, NULL, NULL), 0);
    assert_false(t_tview(f, s).parked);
    assert_int_equal(t_tview(f, s).queued, 1);
    assert_int_equal(t_must_recv_free(f, s), 42);
}

static void send_null_outmsg_einval(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    assert_int_equal(t_sr(f, s, SEND, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(t_sr(f, s, SEND | RECV, NULL, NULL, NULL), -EINVAL);
    assert_false(t_tview(f, s).parked);
}

static void send_death_notify_and_unknown_types_einval(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    const uint32_t types[] = {MT_DEATH_NOTIFY, MT_NUM, 17, 0x7FFFFFFF};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        IpcMsg m;
        t_msg(&m, (MsgType)types[i], (uint32_t)s, 1, 0);
        assert_int_equal(t_send(f, s, &m), -EINVAL);
    }
    assert_int_equal(t_tview(f, s).queued, 0);
}

static void send_failure_skips_recv(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    assert_int_equal(t_send_req(f, s, (uint32_t)s, 9, LITEIPC_FLAG_ONEWAY), 0);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, 200, 1, 0);
    assert_int_equal(t_call(f, s, &m, NULL), -EACCES);
    lk_task_view tv = t_tview(f, s);
    assert_false(tv.parked);
    assert_int_equal(tv.queued, 1); /* a synchronous receive would have dropped it */
    assert_int_equal(t_must_recv_free(f, s), 9);
}

static void send_alone_does_not_wait(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 3, LITEIPC_FLAG_DEFAULT);
    lk_ioctl_out out;
    IpcContent ct = {.flag = SEND, .outMsg = &m};
    assert_int_equal(t_ioctl(f, c, IPC_SEND_RECV_MSG, (uintptr_t)&ct, &out), 0);
    assert_int_equal(out.copyout, LK_COPYOUT_NONE);
    assert_false(t_tview(f, c).parked);
    assert_int_equal(t_tview(f, s).queued, 1);
    t_must_no_completion(f);
    assert_int_equal(t_must_recv_free(f, s), 3);
}

static void send_recv_parks_synchronously(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 3, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    lk_task_view tv = t_tview(f, c);
    assert_true(tv.parked);
    assert_true(tv.parked_sync);
    assert_int_equal(lk_kernel_next_deadline(f->k), f->now + T_TIMEOUT_NS);
    assert_int_equal(t_tview(f, s).queued, 1);
    t_must_no_completion(f);
}

static void send_reply_recv_buff_free_waits_in_sync_mode(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg *in = t_request_received(f, c, s, 4);
    IpcMsg r;
    t_reply_to(&r, in, MT_REPLY, 40);
    assert_int_equal(t_sr(f, s, SEND | RECV | BUFF_FREE, &r, in, NULL), LK_PARKED);
    lk_task_view tv = t_tview(f, s);
    assert_true(tv.parked);
    assert_true(tv.parked_sync);
    assert_int_equal(lk_kernel_next_deadline(f->k), f->now + T_TIMEOUT_NS);
    assert_int_equal(t_tview(f, c).queued, 1); /* the reply went out */

    /* A new request arriving now is dropped, not returned. */
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 5, LITEIPC_FLAG_ONEWAY), 0);
    t_must_no_completion(f);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_true(t_tview(f, s).parked);
    assert_int_equal(t_pool_used(f, s_pid), 0);
    t_advance(f, T_TIMEOUT_NS);
    t_tick(f);
    t_must_complete(f, s, -ETIME);
}

static void send_recv_buff_free_frees_then_waits_forever(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    IpcMsg *in = t_self_msg(f, s, 1);
    assert_int_equal(t_sr(f, s, RECV | BUFF_FREE, NULL, in, NULL), LK_PARKED);
    lk_task_view tv = t_tview(f, s);
    assert_true(tv.parked);
    assert_false(tv.parked_sync);
    assert_int_equal(t_pview(f, pid).used_buffers, 0);
    assert_int_equal(lk_kernel_next_deadline(f->k), UINT64_MAX);
    assert_int_equal(t_pool_used(f, pid), 0);
}

/* ---- BUFF_FREE (§4.2) ---------------------------------------------------------------------- */

static void buff_free_null_einval(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    assert_int_equal(t_free(f, s, NULL), -EINVAL);
}

static void buff_free_below_pool_einval(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    lk_proc_view v = t_pview(f, pid);
    assert_int_equal(t_free(f, s, (void *)(v.uvaddr - 1)), -EINVAL);
    assert_int_equal(t_free(f, s, (void *)(v.uvaddr - 4096)), -EINVAL);
}

static void buff_free_above_pool_einval(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    lk_proc_view v = t_pview(f, pid);
    assert_int_equal(t_free(f, s, (void *)(v.uvaddr + v.pool_size + 1)), -EINVAL);
    assert_int_equal(t_free(f, s, (void *)(v.uvaddr + v.pool_size + 4096)), -EINVAL);
}

/* Q14: the upper bound is inclusive. */
static void buff_free_end_of_pool_efault(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    lk_proc_view v = t_pview(f, pid);
    assert_int_equal(t_free(f, s, (void *)(v.uvaddr + v.pool_size)), -EFAULT);
}

static void buff_free_address_not_in_used_list_efault(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    lk_proc_view v = t_pview(f, pid);
    assert_int_equal(t_free(f, s, (void *)v.uvaddr), -EFAULT);
    assert_int_equal(t_free(f, s, (void *)(v.uvaddr + 2048)), -EFAULT);
    assert_int_equal(t_pool_used(f, pid), 0);
}

static void buff_free_interior_address_efault(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    IpcMsg *in = t_self_msg(f, s, 1);
    assert_int_equal(t_free(f, s, (char *)in + 8), -EFAULT);
    assert_int_equal(t_free(f, s, (char *)in - 8), -EFAULT);
    assert_int_equal(t_pview(f, pid).used_buffers, 1);
    t_must_free(f, s, in);
}

static void buff_free_twice_efault(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    IpcMsg *in = t_self_msg(f, s, 1);
    t_must_free(f, s, in);
    assert_int_equal(t_free(f, s, in), -EFAULT);
}

static void buff_free_releases_node_and_used_entry(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    assert_int_equal(t_send_req(f, s, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_pool_used(f, pid), 1);
    assert_int_equal(t_pview(f, pid).used_buffers, 0); /* queued, not yet handed out */
    IpcMsg *in = t_must_recv(f, s);
    assert_int_equal(t_pview(f, pid).used_buffers, 1);
    assert_int_equal(t_pool_used(f, pid), 1);
    lk_ioctl_out out;
    IpcContent ct = {.flag = BUFF_FREE, .buffToFree = in, .inMsg = NULL};
    assert_int_equal(t_ioctl(f, s, IPC_SEND_RECV_MSG, (uintptr_t)&ct, &out), 0);
    assert_int_equal(out.copyout, LK_COPYOUT_NONE);
    assert_int_equal(t_pview(f, pid).used_buffers, 0);
    assert_int_equal(t_pool_used(f, pid), 0);
}

static void buff_free_by_any_thread_of_process(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    int sibling = t_must_task(f, pid);
    IpcMsg *in = t_self_msg(f, s, 1);
    t_must_free(f, sibling, in);
    assert_int_equal(t_free(f, s, in), -EFAULT);
}

static void buff_free_foreign_pool_address_einval(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    int other = t_must_ready_task(f, 0, NULL);
    IpcMsg *in = t_self_msg(f, s, 1);
    assert_int_equal(t_free(f, other, in), -EINVAL);
    t_must_free(f, s, in);
}

static void buff_free_failure_returns_before_send(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    lk_proc_view v = t_pview(f, pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    assert_int_equal(t_sr(f, s, SEND | BUFF_FREE, &m, (void *)(v.uvaddr + 2048), NULL), -EFAULT);
    assert_int_equal(t_sr(f, s, SEND | BUFF_FREE, &m, NULL, NULL), -EINVAL);
    assert_int_equal(t_sr(f, s, SEND | RECV | BUFF_FREE, &m, NULL, NULL), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_false(t_tview(f, s).parked);
    assert_int_equal(t_pool_used(f, pid), 0);
}

/* Q13: the buffer is freed even though the reply is refused. */
static void buff_free_done_even_if_reply_fails(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg *in = t_request_received(f, c, s, 1);
    IpcMsg r;
    t_reply_to(&r, in, MT_REPLY, 0);
    r.timestamp += 1;
    assert_int_equal(t_sr(f, s, SEND | BUFF_FREE, &r, in, NULL), -EINVAL);
    assert_int_equal(t_free(f, s, in), -EFAULT);
    assert_int_equal(t_pool_used(f, s_pid), 0);
    assert_int_equal(t_pview(f, s_pid).used_buffers, 0);
    assert_int_equal(t_tview(f, c).queued, 0);
}

/* Q13 with a request that is refused. */
static void buff_free_done_even_if_request_fails(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    IpcMsg *in = t_self_msg(f, s, 1);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, 200, 1, 0);
    assert_int_equal(t_sr(f, s, SEND | BUFF_FREE, &m, in, NULL), -EACCES);
    assert_int_equal(t_free(f, s, in), -EFAULT);
    assert_int_equal(t_pool_used(f, pid), 0);
}

/* ---- size checks (§4.3.1) ------------------------------------------------------------------ */

static void send_data_size_without_pointer_einval(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    m.dataSz = 4;
    m.data = NULL;
    assert_int_equal(t_send(f, s, &m), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
}

static void send_objects_without_offsets_einval(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    char data[64] = {0};
    t_put_svc(data, 0, (uint32_t)s, 0, 0);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof data);
    m.spObjNum = 1;
    m.offsets = NULL;
    assert_int_equal(t_send(f, s, &m), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
}

static void send_data_size_above_max_einval(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    char *data = calloc(1, IPC_MSG_DATA_SZ_MAX + 1);
    assert_non_null(data);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, IPC_MSG_DATA_SZ_MAX + 1);
    int r = t_send(f, s, &m);
    free(data);
    assert_int_equal(r, -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
}

static void send_data_size_at_max_accepted(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    char *data = malloc(IPC_MSG_DATA_SZ_MAX);
    assert_non_null(data);
    for (unsigned i = 0; i < IPC_MSG_DATA_SZ_MAX; i++)
        data[i] = (char)(i * 7 + 1);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, IPC_MSG_DATA_SZ_MAX);
    assert_int_equal(t_send(f, s, &m), 0);
    IpcMsg *in = t_must_recv(f, s);
    assert_int_equal(in->dataSz, IPC_MSG_DATA_SZ_MAX);
    assert_memory_equal(in->data, data, IPC_MSG_DATA_SZ_MAX);
    free(data);
    t_must_free(f, s, in);
}

static void send_object_count_above_max_einval(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    uint32_t n = IPC_MSG_OBJECT_NUM_MAX + 1;
    char *data = calloc(1, IPC_MSG_DATA_SZ_MAX);
    uint32_t *offs = calloc(n, sizeof *offs);
    assert_non_null(data);
    assert_non_null(offs);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, IPC_MSG_DATA_SZ_MAX);
    t_msg_objs(&m, offs, n);
    int r = t_send(f, s, &m);
    free(data);
    free(offs);
    assert_int_equal(r, -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
}

static void send_data_smaller_than_objects_einval(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    char data[64] = {0};
    uint32_t offs[2] = {0, 16};
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, 2 * T_DEV_OBJ - 1);
    t_msg_objs(&m, offs, 2);
    assert_int_equal(t_send(f, s, &m), -EINVAL);
    t_msg_data(&m, data, T_DEV_OBJ - 1);
    t_msg_objs(&m, offs, 1);
    assert_int_equal(t_send(f, s, &m), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, pid), 0);
}

/* §4.3: the size checks (4.3.1) run before the checks by type (4.3.2). */
static void send_size_checks_precede_access_check(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    char data[64] = {0};
    uint32_t off = 0;
    IpcMsg m;
    t_msg(&m, MT_REQUEST, 200, 1, LITEIPC_FLAG_ONEWAY); /* a forbidden handle: EACCES */
    assert_int_equal(t_send(f, s, &m), -EACCES);
    t_msg_data(&m, data, T_DEV_OBJ - 1);
    t_msg_objs(&m, &off, 1); /* fewer data bytes than one device SpecialObj */
    assert_int_equal(t_send(f, s, &m), -EINVAL);
    t_msg_objs(&m, NULL, 1);
    t_msg_data(&m, data, sizeof data);
    assert_int_equal(t_send(f, s, &m), -EINVAL);
    t_msg_objs(&m, NULL, 0);
    t_msg_data(&m, NULL, 4);
    assert_int_equal(t_send(f, s, &m), -EINVAL);
    /* a reply that would pass validation is size-checked too */
    assert_int_equal(t_send_req(f, s, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT), 0);
    IpcMsg *in = t_must_recv(f, s);
    static char big[IPC_MSG_DATA_SZ_MAX + 1];
    t_reply_to(&m, in, MT_REPLY, 0);
    t_msg_data(&m, big, sizeof big);
    assert_int_equal(t_sr(f, s, SEND | BUFF_FREE, &m, in, NULL), -EINVAL);
    assert_int_equal(t_free(f, s, in), -EFAULT);
    assert_int_equal(t_tview(f, s).queued, 0);
}

/* ---- access (§4.3.2, §1.5) ----------------------------------------------------------------- */

static void send_request_handle_out_of_range_eacces(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    assert_int_equal(t_send_req(f, s, 128, 1, 1), -EACCES);
    assert_int_equal(t_send_req(f, s, 1000, 1, 1), -EACCES);
    assert_int_equal(t_send_req(f, s, 0xFFFFFFFFu, 1, 1), -EACCES);
}

static void send_request_handle_zero_reaches_cms(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int c = t_must_ready_task(f, 0, NULL);
    assert_int_equal(t_send_req(f, c, 0, 77, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_tview(f, cms).queued, 1);
    IpcMsg *in = t_must_recv(f, cms);
    assert_int_equal(in->target.handle, 0);
    assert_int_equal(in->code, 77);
    assert_int_equal(in->taskID, c);
    t_must_free(f, cms, in);
}

static void send_request_same_process_needs_no_grant(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int pid;
    int a = t_must_ready_task(f, 0, &pid);
    int b = t_must_task(f, pid);
    assert_false(t_tview(f, b).has_info);
    assert_int_equal(t_send_req(f, a, (uint32_t)b, 5, LITEIPC_FLAG_ONEWAY), 0);
    assert_true(t_tview(f, b).has_info);
    assert_int_equal(t_tview(f, b).access_map, 0);
    assert_int_equal(t_must_recv_free(f, b), 5);
}

static void send_request_to_self_allowed(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int a = t_must_ready_task(f, 0, NULL);
    assert_int_equal(t_send_req(f, a, (uint32_t)a, 6, LITEIPC_FLAG_ONEWAY), 0);
    IpcMsg *in = t_must_recv(f, a);
    assert_int_equal(in->code, 6);
    assert_int_equal(in->taskID, a);
    t_must_free(f, a, in);
}

static void send_request_other_process_without_task_info_eacces(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int s = t_must_ready_task(f, 0, NULL);
    int c = t_must_ready_task(f, 0, NULL);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, 1), -EACCES);
    assert_false(t_tview(f, s).has_info);
}

static void send_request_other_process_without_grant_eacces(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int s = t_must_ready_task(f, 0, NULL);
    t_give_info(f, s);
    int c = t_must_ready_task(f, 0, NULL);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, 1), -EACCES);
    assert_int_equal(t_tview(f, s).queued, 0);
}

/* ---- reply validation (§4.3.2) ------------------------------------------------------------ */

static void reply_without_buff_free_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg *in = t_request_received(f, c, s, 1);
    IpcMsg r;
    t_reply_to(&r, in, MT_REPLY, 0);
    assert_int_equal(t_send(f, s, &r), -EINVAL);
    t_reply_to(&r, in, MT_FAILED_REPLY, 0);
    assert_int_equal(t_send(f, s, &r), -EINVAL);
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_pview(f, s_pid).used_buffers, 1);
    t_must_free(f, s, in);
}

static void reply_to_reply_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    IpcMsg *req = t_must_recv(f, s);
    assert_int_equal(t_reply(f, s, req, MT_REPLY, 2), 0);
    IpcMsg *rep = t_must_complete(f, c, 0);
    assert_int_equal(rep->type, MT_REPLY);
    /* c answers the reply as if it were a request: its target and timestamp match, its type not. */
    assert_int_equal(t_reply(f, c, rep, MT_REPLY, 3), -EINVAL);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_free(f, c, rep), -EFAULT); /* Q13: freed anyway */
}

static void reply_to_oneway_request_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), 0);
    IpcMsg *in = t_must_recv(f, s);
    assert_int_equal(in->flag, LITEIPC_FLAG_ONEWAY);
    assert_int_equal(t_reply(f, s, in, MT_REPLY, 0), -EINVAL);
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_free(f, s, in), -EFAULT);
}

static void reply_timestamp_mismatch_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg *in = t_request_received(f, c, s, 1);
    IpcMsg r;
    t_reply_to(&r, in, MT_REPLY, 0);
    r.timestamp = in->timestamp - 1;
    assert_int_equal(t_sr(f, s, SEND | BUFF_FREE, &r, in, NULL), -EINVAL);
    assert_int_equal(t_tview(f, c).queued, 0);
}

static void reply_handle_not_requester_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int c2 = t_must_task(f, c_pid);
    IpcMsg *in = t_request_received(f, c, s, 1);
    IpcMsg r;
    t_reply_to(&r, in, MT_REPLY, 0);
    r.target.handle = (uint32_t)c2;
    assert_int_equal(t_sr(f, s, SEND | BUFF_FREE, &r, in, NULL), -EINVAL);
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_tview(f, c2).queued, 0);
}

static void reply_from_process_not_owning_request_target_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int s2 = t_must_task(f, s_pid);
    IpcMsg *in = t_request_received(f, c, s, 1);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    int x_pid = t_must_ready_proc(f, 0);
    assert_int_equal(t_must_task(f, x_pid), s); /* the TID now belongs to another process */
    assert_int_equal(t_reply(f, s2, in, MT_REPLY, 0), -EINVAL);
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_free(f, s2, in), -EFAULT);
}

static void reply_from_other_thread_of_receiving_process(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int s2 = t_must_task(f, s_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    IpcMsg *in = t_must_recv(f, s);
    assert_int_equal(t_reply(f, s2, in, MT_REPLY, 11), 0);
    IpcMsg *rep = t_must_complete(f, c, 0);
    assert_int_equal(rep->code, 11);
    assert_int_equal(rep->taskID, s2);
    t_must_free(f, c, rep);
}

static void reply_to_handle_zero_request_from_cms_process(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, T_CMS_MAX, &cms_pid);
    int helper = t_must_task(f, cms_pid);
    int c = t_must_ready_task(f, 0, NULL);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, 0, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    IpcMsg *in = t_must_recv(f, cms);
    assert_int_equal(t_reply(f, helper, in, MT_REPLY, 12), 0);
    IpcMsg *rep = t_must_complete(f, c, 0);
    assert_int_equal(rep->code, 12);
    t_must_free(f, c, rep);
}

static void reply_after_deadline_etime(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg *in = t_request_received(f, c, s, 1);
    t_advance(f, T_TIMEOUT_NS + 1);
    assert_int_equal(t_reply(f, s, in, MT_REPLY, 0), -ETIME);
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_free(f, s, in), -EFAULT); /* freed anyway (phase 4) */
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void reply_at_deadline_accepted(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg *in = t_request_received(f, c, s, 1);
    t_advance(f, T_TIMEOUT_NS);
    assert_int_equal(t_reply(f, s, in, MT_FAILED_REPLY, 0), 0);
    assert_int_equal(t_tview(f, c).queued, 1);
}

static void reply_to_dead_requester_einval(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg *in = t_request_received(f, c, s, 1);
    assert_int_equal(lk_task_exit(f->k, c, f->now), 0);
    assert_int_equal(t_reply(f, s, in, MT_REPLY, 0), -EINVAL);
    assert_int_equal(t_free(f, s, in), -EFAULT);
}

/* ---- destination (§4.3.2 alive, §4.3.3) --------------------------------------------------- */

static void send_request_to_dead_cms_einval(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int c = t_must_ready_task(f, 0, NULL);
    assert_int_equal(lk_task_exit(f->k, cms, f->now), 0);
    assert_int_equal(t_send_req(f, c, 0, 1, 1), -EINVAL);
}

static void send_to_unmapped_destination_enomem(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int c = t_must_ready_task(f, 0, NULL);
    assert_int_equal(lk_task_exit(f->k, cms, f->now), 0);
    int x = t_must_proc(f);
    t_must_open(f, x);
    assert_int_equal(t_must_task(f, x), cms); /* handle 0 now names a task of x */
    assert_int_equal(t_send_req(f, c, 0, 1, 1), -ENOMEM);
    assert_int_equal(t_tview(f, cms).queued, 0);
}

static void send_to_destination_without_ipc_state_einval(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int c = t_must_ready_task(f, 0, NULL);
    assert_int_equal(lk_task_exit(f->k, cms, f->now), 0);
    int x = t_must_proc(f);
    assert_int_equal(t_must_task(f, x), cms);
    assert_int_equal(t_send_req(f, c, 0, 1, 1), -EINVAL);
}

static void send_larger_than_destination_pool_enomem(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s_pid;
    int s = t_must_ready_task(f, 4096, &s_pid);
    t_give_info(f, s);
    int c = t_must_ready_task(f, 0, NULL);
    assert_int_equal(t_add_access(f, cms, (uint32_t)c, (uint32_t)s), 0);
    static char data[3200];
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, 4096 - LK_POOL_OVERHEAD + 1);
    assert_int_equal(t_send(f, c, &m), -ENOMEM);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
    t_msg_data(&m, data, 2000);
    assert_int_equal(t_send(f, c, &m), 0);
    assert_int_equal(t_must_recv_free(f, s), 1);
}

/* §4.6: a fresh 4 KiB pool takes one message of at most 3 136 bytes of node, data and offsets.
   A node starts with the host IpcMsg and a two-pointer link: 72 bytes in a 32-bit build, as on
   the device, leaving 3 064 data bytes; 88 on LP64, leaving 3 048 (DEVIATIONS). */
static void send_largest_message_of_4k_pool(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s = t_must_ready_task(f, 4096, NULL);
    t_give_info(f, s);
    int c = t_must_ready_task(f, 0, NULL);
    assert_int_equal(t_add_access(f, cms, (uint32_t)c, (uint32_t)s), 0);
    const uint32_t fit = UINTPTR_MAX > UINT32_MAX ? 3048 : 3064;
    static char data[3200];
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, fit + 1);
    assert_int_equal(t_send(f, c, &m), -ENOMEM);
    t_msg_data(&m, data, fit);
    assert_int_equal(t_send(f, c, &m), 0);
    assert_int_equal(t_must_recv_free(f, s), 1);
}

static void send_until_destination_pool_full_enomem(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s_pid;
    int s = t_must_ready_task(f, 4096, &s_pid);
    t_give_info(f, s);
    int c = t_must_ready_task(f, 0, NULL);
    assert_int_equal(t_add_access(f, cms, (uint32_t)c, (uint32_t)s), 0);
    static char data[1000];
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof data);
    int sent = 0, r;
    while ((r = t_send(f, c, &m)) == 0 && sent < 10)
        sent++;
    assert_int_equal(r, -ENOMEM);
    assert_true(sent >= 2 && sent <= 3);
    assert_int_equal(t_tview(f, s).queued, (unsigned)sent);
    t_must_recv_free(f, s);
    assert_int_equal(t_send(f, c, &m), 0);
    for (int i = 0; i < sent; i++)
        t_must_recv_free(f, s);
}

/* ---- CMS size limit (§4.3.5) -------------------------------------------------------------- */

static void send_cms_limit_counts_header_and_data(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, 200, &cms_pid);
    int c = t_must_ready_task(f, 0, NULL);
    static char data[256];
    IpcMsg m;
    t_msg(&m, MT_REQUEST, 0, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, 200 - LITEIPC_DEVICE_SIZEOF_IPCMSG + 1);
    assert_int_equal(t_send(f, c, &m), -EINVAL);
    assert_int_equal(t_tview(f, cms).queued, 0);
    assert_int_equal(t_pool_used(f, cms_pid), 0);
    t_msg_data(&m, data, 200 - LITEIPC_DEVICE_SIZEOF_IPCMSG);
    assert_int_equal(t_send(f, c, &m), 0);
    assert_int_equal(t_must_recv_free(f, cms), 1);
}

static void send_cms_limit_counts_offsets_and_ptr_buffers(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, 200, &cms_pid);
    int c = t_must_ready_task(f, 0, NULL);
    static char buf[200];
    char data[T_HOST_OBJ];
    uint32_t off = 0;
    uint32_t fixed = LITEIPC_DEVICE_SIZEOF_IPCMSG + T_HOST_OBJ + 4;
    IpcMsg m;
    t_msg(&m, MT_REQUEST, 0, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof data);
    t_msg_objs(&m, &off, 1);

    t_put_ptr(data, 0, buf, 200 - fixed + 1);
    assert_int_equal(t_send(f, c, &m), -EINVAL);
    assert_int_equal(t_tview(f, cms).queued, 0);
    assert_int_equal(t_pool_used(f, cms_pid), 0);

    t_put_ptr(data, 0, buf, 200 - fixed);
    assert_int_equal(t_send(f, c, &m), 0);
    IpcMsg *in = t_must_recv(f, cms);
    SpecialObj o = t_get_obj(in, 0);
    assert_int_equal(o.content.ptr.buffSz, 200 - fixed);
    t_must_free(f, cms, o.content.ptr.buff);
    t_must_free(f, cms, in);
}

/* Q19 */
static void send_cms_limit_only_through_handle_zero(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, 200, &cms_pid);
    int sibling = t_must_task(f, cms_pid);
    static char data[1000];
    IpcMsg m;
    t_msg(&m, MT_REQUEST, 0, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof data);
    assert_int_equal(t_send(f, sibling, &m), -EINVAL);
    m.target.handle = (uint32_t)cms;
    assert_int_equal(t_send(f, sibling, &m), 0);
    IpcMsg *in = t_must_recv(f, cms);
    assert_int_equal(in->dataSz, sizeof data);
    t_must_free(f, cms, in);
}

/* Q20 (fixed): only the sender's part of the message is taken; identity fields are the kernel's. */
static void send_sender_identity_fields_ignored(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_proc_ids(f, 77, 88);
    t_must_open(f, pid);
    t_must_map(f, pid, 8192);
    int s = t_must_task(f, pid);
    assert_int_equal(t_set_cms(f, s, T_CMS_MAX), 0);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    IpcContent ct = {.flag = SEND, .outMsg = &m};
    lk_ioctl_in in;
    lk_ioctl_out out;
    t_fill_in(f, &in, IPC_SEND_RECV_MSG, (uintptr_t)&ct);
    in.out.processID = 0x11111111u; /* as if the device layer had copied a full struct */
    in.out.taskID = 0x22222222u;
    in.out.userID = 0x33333333u;
    in.out.gid = 0x44444444u;
    assert_int_equal(lk_ioctl(f->k, s, &in, f->now, &out), 0);
    IpcMsg *got = t_must_recv(f, s);
    assert_int_equal(got->processID, pid);
    assert_int_equal(got->taskID, s);
    assert_int_equal(got->userID, 77);
    assert_int_equal(got->gid, 88);
    t_must_free(f, s, got);
}

/* Q12 (deviation): data the device layer could not copy in gives EFAULT, nothing is queued. */
static void send_uncopyable_data_efault(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    char data[8] = {0};
    uint32_t off = 0;
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof data);
    IpcContent ct = {.flag = SEND, .outMsg = &m};
    lk_ioctl_in in;
    lk_ioctl_out out;
    t_fill_in(f, &in, IPC_SEND_RECV_MSG, (uintptr_t)&ct);
    in.data = NULL; /* the user pointer is non-NULL but faulted */
    assert_int_equal(lk_ioctl(f->k, s, &in, f->now, &out), -EFAULT);
    char objdata[T_HOST_OBJ];
    memset(objdata, 0, sizeof objdata);
    t_put_svc(objdata, 0, (uint32_t)s, 0, 0);
    t_msg_data(&m, objdata, sizeof objdata);
    t_msg_objs(&m, &off, 1);
    t_fill_in(f, &in, IPC_SEND_RECV_MSG, (uintptr_t)&ct);
    in.offsets = NULL;
    assert_int_equal(lk_ioctl(f->k, s, &in, f->now, &out), -EFAULT);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_used(f, pid), 0);
}

/* ---- what the receiver sees (§4.3.4, §4.3.6) --------------------------------------------- */

static void send_kernel_fills_sender_identity(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s_pid;
    int s = t_must_ready_task(f, 0, &s_pid);
    t_give_info(f, s);
    int c_pid = t_must_proc_ids(f, 4242, 4343);
    t_must_open(f, c_pid);
    t_must_map(f, c_pid, 8192);
    int c = t_must_task(f, c_pid);
    assert_int_equal(t_add_access(f, cms, (uint32_t)c, (uint32_t)s), 0);

    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    assert_int_equal(t_send(f, c, &m), 0);
    IpcMsg *in = t_must_recv(f, s);
    assert_int_equal(in->taskID, c);
    assert_int_equal(in->processID, c_pid);
    assert_int_equal(in->userID, 4242);
    assert_int_equal(in->gid, 4343);
    t_must_free(f, s, in);
}

static void send_request_timestamp_is_send_time(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    m.timestamp = 12345;
    t_advance(f, 777);
    uint64_t sent_at = f->now;
    assert_int_equal(t_send(f, s, &m), 0);
    t_advance(f, 50);
    IpcMsg *in = t_must_recv(f, s);
    assert_int_equal(in->timestamp, sent_at);
    t_must_free(f, s, in);
}

static void send_fields_delivered_as_sent(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    char data[5] = {1, 2, 3, 4, 5};
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 0xC0DE, 0x77);
    m.target.token = 0x1111;
    m.target.cookie = 0x2222;
    t_msg_data(&m, data, sizeof data);
    assert_int_equal(t_send(f, s, &m), 0);
    IpcMsg *in = t_must_recv(f, s);
    assert_int_equal(in->type, MT_REQUEST);
    assert_int_equal(in->target.handle, s);
    assert_int_equal(in->target.token, 0x1111);
    assert_int_equal(in->target.cookie, 0x2222);
    assert_int_equal(in->code, 0xC0DE);
    assert_int_equal(in->flag, 0x77);
    assert_int_equal(in->dataSz, 5);
    assert_int_equal(in->spObjNum, 0);
    assert_memory_equal(in->data, data, 5);
    t_must_free(f, s, in);
}

static void send_reply_keeps_request_timestamp(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    uint64_t t0 = f->now;
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    IpcMsg *in = t_must_recv(f, s);
    t_advance(f, 500);
    IpcMsg r;
    t_reply_to(&r, in, MT_REPLY, 9);
    r.target.token = 0x33;
    assert_int_equal(t_sr(f, s, SEND | BUFF_FREE, &r, in, NULL), 0);
    IpcMsg *rep = t_must_complete(f, c, 0);
    assert_int_equal(rep->type, MT_REPLY);
    assert_int_equal(rep->timestamp, t0);
    assert_int_equal(rep->target.handle, c);
    assert_int_equal(rep->target.token, 0x33);
    assert_int_equal(rep->code, 9);
    assert_int_equal(rep->taskID, s);
    assert_int_equal(rep->processID, s_pid);
    t_must_free(f, c, rep);
}

static void send_queue_is_fifo(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    int a = t_must_task(f, pid);
    assert_int_equal(t_send_req(f, a, (uint32_t)s, 1, 1), 0);
    assert_int_equal(t_send_req(f, s, (uint32_t)s, 2, 1), 0);
    assert_int_equal(t_send_req(f, a, (uint32_t)s, 3, 1), 0);
    assert_int_equal(t_tview(f, s).queued, 3);
    assert_int_equal(t_must_recv_free(f, s), 1);
    assert_int_equal(t_must_recv_free(f, s), 2);
    assert_int_equal(t_must_recv_free(f, s), 3);
}

static void send_node_layout_data_then_offsets(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    int a = t_must_task(f, pid);
    /* 3 bytes of payload, then an object: dataSz is odd, so offsets end up misaligned. */
    char data[3 + T_HOST_OBJ];
    memset(data, 0x5A, sizeof data);
    t_put_svc(data, 3, (uint32_t)a, 4, 5);
    uint32_t off = 3;
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof data);
    t_msg_objs(&m, &off, 1);
    assert_int_equal(t_send(f, a, &m), 0);
    IpcMsg *in = t_must_recv(f, s);
    assert_true(t_in_pool(f, pid, in, sizeof *in));
    assert_true((char *)in->data >= (char *)in + sizeof(IpcMsg));
    assert_true(t_in_pool(f, pid, in->data, in->dataSz));
    assert_ptr_equal(in->offsets, (char *)in->data + sizeof data);
    assert_true(t_in_pool(f, pid, in->offsets, 4));
    uint32_t got;
    memcpy(&got, in->offsets, 4);
    assert_int_equal(got, 3);
    assert_memory_equal(in->data, data, 3);
    SpecialObj o = t_get_obj(in, 0);
    assert_int_equal(o.type, OBJ_SVC);
    assert_int_equal(o.content.svc.handle, a);
    t_must_free(f, s, in);
}

/* Q3 (fixed): zero sizes give NULL pointers. */
static void send_zero_sizes_give_null_pointers(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    char data[8] = {0};
    uint32_t off = 0;
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    m.data = data;     /* non-NULL pointers with zero counts */
    m.offsets = &off;
    assert_int_equal(t_send(f, s, &m), 0);
    IpcMsg *in = t_must_recv(f, s);
    assert_int_equal(in->dataSz, 0);
    assert_int_equal(in->spObjNum, 0);
    assert_null(in->data);
    assert_null(in->offsets);
    t_must_free(f, s, in);

    t_msg_data(&m, data, sizeof data);
    m.offsets = NULL;
    assert_int_equal(t_send(f, s, &m), 0);
    in = t_must_recv(f, s);
    assert_non_null(in->data);
    assert_null(in->offsets);
    t_must_free(f, s, in);
}

static void send_data_copied_at_send_time(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    char data[16];
    memset(data, 'a', sizeof data);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof data);
    assert_int_equal(t_send(f, s, &m), 0);
    memset(data, 'b', sizeof data);
    IpcMsg *in = t_must_recv(f, s);
    assert_ptr_not_equal(in->data, data);
    for (unsigned i = 0; i < sizeof data; i++)
        assert_int_equal(((char *)in->data)[i], 'a');
    t_must_free(f, s, in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(send_flag_zero_does_nothing),
        T(send_unknown_flag_bits_ignored),
        T(send_null_outmsg_einval),
        T(send_death_notify_and_unknown_types_einval),
        T(send_failure_skips_recv),
        T(send_alone_does_not_wait),
        T(send_recv_parks_synchronously),
        T(send_reply_recv_buff_free_waits_in_sync_mode),
        T(send_recv_buff_free_frees_then_waits_forever),
        T(buff_free_null_einval),
        T(buff_free_below_pool_einval),
        T(buff_free_above_pool_einval),
        T(buff_free_end_of_pool_efault),
        T(buff_free_address_not_in_used_list_efault),
        T(buff_free_interior_address_efault),
        T(buff_free_twice_efault),
        T(buff_free_releases_node_and_used_entry),
        T(buff_free_by_any_thread_of_process),
        T(buff_free_foreign_pool_address_einval),
        T(buff_free_failure_returns_before_send),
        T(buff_free_done_even_if_reply_fails),
        T(buff_free_done_even_if_request_fails),
        T(send_data_size_without_pointer_einval),
        T(send_objects_without_offsets_einval),
        T(send_data_size_above_max_einval),
        T(send_data_size_at_max_accepted),
        T(send_object_count_above_max_einval),
        T(send_data_smaller_than_objects_einval),
        T(send_size_checks_precede_access_check),
        T(send_request_handle_out_of_range_eacces),
        T(send_request_handle_zero_reaches_cms),
        T(send_request_same_process_needs_no_grant),
        T(send_request_to_self_allowed),
        T(send_request_other_process_without_task_info_eacces),
        T(send_request_other_process_without_grant_eacces),
        T(reply_without_buff_free_einval),
        T(reply_to_reply_einval),
        T(reply_to_oneway_request_einval),
        T(reply_timestamp_mismatch_einval),
        T(reply_handle_not_requester_einval),
        T(reply_from_process_not_owning_request_target_einval),
        T(reply_from_other_thread_of_receiving_process),
        T(reply_to_handle_zero_request_from_cms_process),
        T(reply_after_deadline_etime),
        T(reply_at_deadline_accepted),
        T(reply_to_dead_requester_einval),
        T(send_request_to_dead_cms_einval),
        T(send_to_unmapped_destination_enomem),
        T(send_to_destination_without_ipc_state_einval),
        T(send_larger_than_destination_pool_enomem),
        T(send_largest_message_of_4k_pool),
        T(send_until_destination_pool_full_enomem),
        T(send_cms_limit_counts_header_and_data),
        T(send_cms_limit_counts_offsets_and_ptr_buffers),
        T(send_cms_limit_only_through_handle_zero),
        T(send_kernel_fills_sender_identity),
        T(send_sender_identity_fields_ignored),
        T(send_uncopyable_data_efault),
        T(send_request_timestamp_is_send_time),
        T(send_fields_delivered_as_sent),
        T(send_reply_keeps_request_timestamp),
        T(send_queue_is_fifo),
        T(send_node_layout_data_then_offsets),
        T(send_zero_sizes_give_null_pointers),
        T(send_data_copied_at_send_time),
    };
    return cmocka_run_group_tests_name("kernel_send", tests, NULL, NULL);
}
