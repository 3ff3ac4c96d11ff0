/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernel_device.c - the device as the pure kernel layer sees it (LITEIPC_REFERENCE §2, §3):
 * open, the driver's mmap checks, the checks that run before every ioctl (§2.5, row by row of
 * the result matrix), IPC_SET_CMS, IPC_CMS_CMD and its three commands, IPC_SET_IPC_THREAD,
 * IPC_GET_VERSION, unknown commands, and quirks Q1 (record kept), Q2 (fixed), Q8, Q10.
 */
#include "kfix.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

/* The three per-process states of the result matrix's first columns. */
static int task_without_ipc(t_kfix *f)
{
    return t_must_task(f, t_must_proc(f));
}

static int task_unmapped(t_kfix *f)
{
    int pid = t_must_proc(f);
    t_must_open(f, pid);
    return t_must_task(f, pid);
}

static int task_mapped(t_kfix *f)
{
    return t_must_ready_task(f, 0, NULL);
}

/* A request that needs no grant: to the CMS through handle 0. */
static void req_to_cms(IpcMsg *m)
{
    t_msg(m, MT_REQUEST, 0, 1, LITEIPC_FLAG_ONEWAY);
}

/* ---- §2.2 open ----------------------------------------------------------------------------- */

static void device_open_creates_ipc_state(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_proc(f);
    lk_proc_view v = t_pview(f, pid);
    assert_true(v.in_use);
    assert_false(v.has_ipc);

    t_must_open(f, pid);
    v = t_pview(f, pid);
    assert_true(v.has_ipc);
    assert_false(v.pool_mapped);
    assert_int_equal(v.pool_size, 0);
    assert_int_equal(v.ipc_task, -1);
    assert_int_equal(v.used_buffers, 0);
    assert_int_equal(v.access[0], 0);
    assert_int_equal(v.access[1], 0);
}

static void device_open_again_keeps_state(void **state)
{
    t_kfix *f = *state;
    int pid;
    int tid = t_must_ready_task(f, 8192, &pid);
    assert_int_equal(t_set_cms(f, tid, 256), 0);
    assert_int_equal(t_set_ipc_thread(f, tid), tid);
    lk_proc_view before = t_pview(f, pid);

    t_must_open(f, pid);
    lk_proc_view after = t_pview(f, pid);
    assert_true(after.pool_mapped);
    assert_int_equal(after.uvaddr, before.uvaddr);
    assert_int_equal(after.pool_size, 8192);
    assert_int_equal(after.ipc_task, tid);
    assert_int_equal(t_cview(f).task, tid);
}

static void device_open_unknown_process_esrch(void **state)
{
    t_kfix *f = *state;
    assert_int_equal(lk_proc_open(f->k, 40), -ESRCH);
    int pid = t_must_proc(f);
    assert_int_equal(lk_proc_exit(f->k, pid, f->now), 0);
    assert_int_equal(lk_proc_open(f->k, pid), -ESRCH);
}

/* ---- §2.3 mmap ----------------------------------------------------------------------------- */

static void device_mmap_without_open_einval(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_proc(f);
    assert_int_equal(lk_mmap_check(f->k, pid, 4096, PROT_READ, MAP_PRIVATE), -EINVAL);
    assert_false(t_pview(f, pid).pool_mapped);
}

static void device_mmap_above_max_size_einval(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_proc(f);
    t_must_open(f, pid);
    assert_int_equal(lk_mmap_check(f->k, pid, LITE_IPC_POOL_MAX_SIZE + 4096, PROT_READ,
                                   MAP_PRIVATE), -EINVAL);
    assert_int_equal(lk_mmap_check(f->k, pid, 1024u * 1024u, PROT_READ, MAP_PRIVATE), -EINVAL);
    assert_false(t_pview(f, pid).pool_mapped);
}

static void device_mmap_max_size_accepted(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_proc(f);
    t_must_open(f, pid);
    void *mem = t_must_map(f, pid, LITE_IPC_POOL_MAX_SIZE);
    lk_proc_view v = t_pview(f, pid);
    assert_true(v.pool_mapped);
    assert_int_equal(v.pool_size, LITE_IPC_POOL_MAX_SIZE);
    assert_int_equal(v.uvaddr, (uintptr_t)mem);
}

static void device_mmap_one_page_accepted(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_proc(f);
    t_must_open(f, pid);
    void *mem = t_must_map(f, pid, 4096);
    lk_proc_view v = t_pview(f, pid);
    assert_true(v.pool_mapped);
    assert_int_equal(v.pool_size, 4096);
    assert_int_equal(v.uvaddr, (uintptr_t)mem);
    assert_ptr_equal(lk_proc_pool_base(f->k, pid), mem);
}

static void device_mmap_prot_must_be_read_only(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_proc(f);
    t_must_open(f, pid);
    const int bad[] = {PROT_NONE, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC, PROT_WRITE,
                       PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(lk_mmap_check(f->k, pid, 4096, bad[i], MAP_PRIVATE), -EINVAL);
    assert_int_equal(lk_mmap_check(f->k, pid, 4096, PROT_READ, MAP_PRIVATE), 0);
}

static void device_mmap_shared_einval(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_proc(f);
    t_must_open(f, pid);
    assert_int_equal(lk_mmap_check(f->k, pid, 4096, PROT_READ, MAP_SHARED), -EINVAL);
    assert_int_equal(lk_mmap_check(f->k, pid, 4096, PROT_READ, MAP_SHARED | MAP_FIXED), -EINVAL);
}

static void device_mmap_fixed_flag_not_looked_at(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_proc(f);
    t_must_open(f, pid);
    assert_int_equal(lk_mmap_check(f->k, pid, 4096, PROT_READ, MAP_PRIVATE | MAP_FIXED), 0);
}

static void device_mmap_twice_eexist(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_ready_proc(f, 8192);
    assert_int_equal(lk_mmap_check(f->k, pid, 8192, PROT_READ, MAP_PRIVATE), -EEXIST);
    assert_int_equal(lk_mmap_check(f->k, pid, 4096, PROT_READ, MAP_PRIVATE), -EEXIST);
    assert_int_equal(lk_mmap_check(f->k, pid, LITE_IPC_POOL_MAX_SIZE, PROT_READ, MAP_PRIVATE),
                     -EEXIST);
    assert_int_equal(t_pview(f, pid).pool_size, 8192);
}

static void device_mmap_bad_args_checked_before_eexist(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_ready_proc(f, 8192);
    assert_int_equal(lk_mmap_check(f->k, pid, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE),
                     -EINVAL);
    assert_int_equal(lk_mmap_check(f->k, pid, 4096, PROT_READ, MAP_SHARED), -EINVAL);
    assert_int_equal(lk_mmap_check(f->k, pid, LITE_IPC_POOL_MAX_SIZE + 4096, PROT_READ,
                                   MAP_PRIVATE), -EINVAL);
}

/* Q2 (fixed): a bad mmap after a good one fails and the pool is kept. */
static void device_mmap_bad_after_good_keeps_pool(void **state)
{
    t_kfix *f = *state;
    int pid;
    int tid = t_must_ready_task(f, 8192, &pid);
    void *base = lk_proc_pool_base(f->k, pid);
    lk_proc_view before = t_pview(f, pid);
    assert_int_equal(t_set_cms(f, tid, 256), 0);
    assert_int_equal(t_send_req(f, tid, 0, 1, 1), 0); /* a node in the pool */

    assert_int_not_equal(lk_mmap_check(f->k, pid, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE), 0);
    assert_int_not_equal(lk_mmap_check(f->k, pid, 4096, PROT_READ, MAP_SHARED), 0);
    assert_int_not_equal(
        lk_mmap_check(f->k, pid, LITE_IPC_POOL_MAX_SIZE * 2, PROT_READ, MAP_PRIVATE), 0);

    lk_proc_view after = t_pview(f, pid);
    assert_true(after.pool_mapped);
    assert_int_equal(after.uvaddr, before.uvaddr);
    assert_int_equal(after.pool_size, before.pool_size);
    assert_ptr_equal(lk_proc_pool_base(f->k, pid), base);
    IpcVersion v = {0};
    assert_int_equal(t_version(f, tid, &v), 0);
    assert_int_equal(t_must_recv_free(f, tid), 1);
    assert_int_equal(lk_mmap_check(f->k, pid, 4096, PROT_READ, MAP_PRIVATE), -EEXIST);
}

static void device_pool_attach_records_mapping(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_proc(f);
    t_must_open(f, pid);
    assert_null(lk_proc_pool_base(f->k, pid));
    assert_int_equal(lk_mmap_check(f->k, pid, 12288, PROT_READ, MAP_PRIVATE), 0);
    void *mem = NULL;
    uintptr_t ua = 0x10000000u;
    assert_int_equal(t_attach_at(f, pid, 12288, ua, &mem), 0);
    lk_proc_view v = t_pview(f, pid);
    assert_true(v.pool_mapped);
    assert_int_equal(v.uvaddr, ua);
    assert_int_equal(v.pool_size, 12288);
    assert_ptr_equal(lk_proc_pool_base(f->k, pid), mem);
    lk_pool_stats st = t_pool_stats(f, pid);
    assert_int_equal(st.size, 12288);
    assert_int_equal(st.used_blocks, 0);
    assert_int_equal(st.largest_free, 12288 - LK_POOL_OVERHEAD);
}

static void device_pool_attach_without_ipc_state_einval(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_proc(f);
    assert_int_equal(t_attach(f, pid, 4096, NULL), -EINVAL);
    assert_false(t_pview(f, pid).pool_mapped);
}

/* ---- §2.5 result matrix, row by row -------------------------------------------------------- */

static void device_matrix_set_cms(void **state)
{
    t_kfix *f = *state;
    int a = task_without_ipc(f), b = task_unmapped(f), c = task_mapped(f), d = task_mapped(f);
    assert_int_equal(t_set_cms(f, a, 256), -EINVAL);
    assert_int_equal(t_set_cms(f, b, 256), -ENOMEM);
    assert_int_equal(t_set_cms(f, b, 0), -ENOMEM); /* the prelude runs before the size check */
    assert_int_equal(t_set_cms(f, c, LITEIPC_DEVICE_SIZEOF_IPCMSG - 1), -EINVAL);
    assert_int_equal(t_set_cms(f, c, LITEIPC_DEVICE_SIZEOF_IPCMSG), 0);
    assert_int_equal(t_set_cms(f, d, 256), -EEXIST);
    assert_int_equal(t_set_cms(f, d, LITEIPC_DEVICE_SIZEOF_IPCMSG - 1), -EINVAL);
    assert_int_equal(t_set_cms(f, a, 256), -EINVAL);
    assert_int_equal(t_set_cms(f, b, 256), -ENOMEM);
}

static void device_matrix_cms_cmd_null_arg(void **state)
{
    t_kfix *f = *state;
    int a = task_without_ipc(f), b = task_unmapped(f), c = task_mapped(f);
    assert_int_equal(t_ioctl(f, a, IPC_CMS_CMD, 0, NULL), -EINVAL);
    assert_int_equal(t_ioctl(f, b, IPC_CMS_CMD, 0, NULL), -EINVAL);
    assert_int_equal(t_ioctl(f, c, IPC_CMS_CMD, 0, NULL), -EINVAL);
    int cms = t_must_cms(f);
    assert_int_equal(t_ioctl(f, c, IPC_CMS_CMD, 0, NULL), -EINVAL);
    assert_int_equal(t_ioctl(f, cms, IPC_CMS_CMD, 0, NULL), -EINVAL);
}

static void device_matrix_cms_cmd_valid(void **state)
{
    t_kfix *f = *state;
    int a = task_without_ipc(f), b = task_unmapped(f), c = task_mapped(f);
    assert_int_equal(t_remove_handle(f, a, 5), -EINVAL);
    assert_int_equal(t_remove_handle(f, b, 5), -ENOMEM);
    assert_int_equal(t_remove_handle(f, c, 5), -EACCES); /* no CMS yet: nobody is the CMS */
    int cms = t_must_cms(f);
    assert_int_equal(t_remove_handle(f, cms, 5), 0);
    assert_int_equal(t_remove_handle(f, c, 5), -EACCES);
    assert_int_equal(t_remove_handle(f, a, 5), -EINVAL);
    assert_int_equal(t_remove_handle(f, b, 5), -ENOMEM);
}

static void device_matrix_set_ipc_thread(void **state)
{
    t_kfix *f = *state;
    int a = task_without_ipc(f), b = task_unmapped(f), c = task_mapped(f);
    assert_int_equal(t_set_ipc_thread(f, a), -EINVAL);
    assert_int_equal(t_set_ipc_thread(f, b), -ENOMEM);
    assert_int_equal(t_set_ipc_thread(f, c), -EINVAL); /* no CMS yet */
    assert_int_equal(t_pview(f, t_pid_of(f, c)).ipc_task, -1);
    t_must_cms(f);
    assert_int_equal(t_set_ipc_thread(f, c), c);
    assert_int_equal(t_set_ipc_thread(f, c), -EINVAL);
    assert_int_equal(t_set_ipc_thread(f, a), -EINVAL);
    assert_int_equal(t_set_ipc_thread(f, b), -ENOMEM);
}

static void device_matrix_send_recv_null_arg(void **state)
{
    t_kfix *f = *state;
    int a = task_without_ipc(f), b = task_unmapped(f), c = task_mapped(f);
    assert_int_equal(t_ioctl(f, a, IPC_SEND_RECV_MSG, 0, NULL), -EINVAL);
    assert_int_equal(t_ioctl(f, b, IPC_SEND_RECV_MSG, 0, NULL), -EINVAL);
    assert_int_equal(t_ioctl(f, c, IPC_SEND_RECV_MSG, 0, NULL), -EINVAL);
    int cms = t_must_cms(f);
    assert_int_equal(t_ioctl(f, c, IPC_SEND_RECV_MSG, 0, NULL), -EINVAL);
    assert_int_equal(t_ioctl(f, cms, IPC_SEND_RECV_MSG, 0, NULL), -EINVAL);
}

static void device_matrix_send_recv_valid(void **state)
{
    t_kfix *f = *state;
    int a = task_without_ipc(f), b = task_unmapped(f), c = task_mapped(f);
    IpcMsg m;
    req_to_cms(&m);
    assert_int_equal(t_sr(f, a, 0, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(t_sr(f, b, 0, NULL, NULL, NULL), -ENOMEM);
    assert_int_equal(t_sr(f, c, 0, NULL, NULL, NULL), -EINVAL); /* no CMS: nothing moves */
    assert_int_equal(t_send(f, c, &m), -EINVAL);
    int cms = t_must_cms(f);
    assert_int_equal(t_sr(f, c, 0, NULL, NULL, NULL), 0);
    assert_int_equal(t_send(f, c, &m), 0);
    assert_int_equal(t_must_recv_free(f, cms), 1);
    assert_int_equal(t_send(f, a, &m), -EINVAL);
    assert_int_equal(t_send(f, b, &m), -ENOMEM);
}

static void device_matrix_get_version_null_arg(void **state)
{
    t_kfix *f = *state;
    int a = task_without_ipc(f), b = task_unmapped(f), c = task_mapped(f);
    assert_int_equal(t_ioctl(f, a, IPC_GET_VERSION, 0, NULL), -EINVAL);
    assert_int_equal(t_ioctl(f, b, IPC_GET_VERSION, 0, NULL), -EINVAL);
    assert_int_equal(t_ioctl(f, c, IPC_GET_VERSION, 0, NULL), -EINVAL);
    t_must_cms(f);
    assert_int_equal(t_ioctl(f, c, IPC_GET_VERSION, 0, NULL), -EINVAL);
}

static void device_matrix_get_version_valid(void **state)
{
    t_kfix *f = *state;
    int a = task_without_ipc(f), b = task_unmapped(f), c = task_mapped(f);
    IpcVersion v = {.driverVersion = -7};
    assert_int_equal(t_version(f, a, &v), -EINVAL);
    assert_int_equal(t_version(f, b, &v), -ENOMEM);
    assert_int_equal(v.driverVersion, -7);
    assert_int_equal(t_version(f, c, &v), 0);
    assert_int_equal(v.driverVersion, 2);
    t_must_cms(f);
    v.driverVersion = -7;
    assert_int_equal(t_version(f, c, &v), 0);
    assert_int_equal(v.driverVersion, 2);
}

static void device_matrix_unknown_command(void **state)
{
    t_kfix *f = *state;
    int a = task_without_ipc(f), b = task_unmapped(f), c = task_mapped(f);
    const unsigned long cmds[] = {_IO('i', 6), _IO('i', 0), _IO('j', 1), 0x12345678ul};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        assert_int_equal(t_ioctl(f, a, cmds[i], 0, NULL), -EINVAL);
        assert_int_equal(t_ioctl(f, b, cmds[i], 0, NULL), -ENOMEM);
        assert_int_equal(t_ioctl(f, c, cmds[i], 0, NULL), -EINVAL);
    }
    t_must_cms(f);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        assert_int_equal(t_ioctl(f, c, cmds[i], 0, NULL), -EINVAL);
}

/* §2.5 A: the syscall layer checks the argument of every command that has a direction. */
static void device_directional_command_null_arg_einval_before_prelude(void **state)
{
    t_kfix *f = *state;
    int b = task_unmapped(f);
    int x = 0;
    assert_int_equal(t_ioctl(f, b, _IOR('i', 9, int), 0, NULL), -EINVAL);
    assert_int_equal(t_ioctl(f, b, _IOR('i', 9, int), (uintptr_t)&x, NULL), -ENOMEM);
}

static void device_directional_command_zero_size_einval(void **state)
{
    t_kfix *f = *state;
    int b = task_unmapped(f);
    IpcVersion v = {0};
    assert_int_equal(t_ioctl(f, b, _IOC(_IOC_READ, 'i', 5, 0), (uintptr_t)&v, NULL), -EINVAL);
    assert_int_equal(t_ioctl(f, b, _IOC(_IOC_READ | _IOC_WRITE, 'i', 4, 0), (uintptr_t)&v, NULL),
                     -EINVAL);
}

/* ---- §3.5 IPC_SET_CMS ---------------------------------------------------------------------- */

static void device_set_cms_records_cms(void **state)
{
    t_kfix *f = *state;
    lk_cms_view v = t_cview(f);
    assert_int_equal(v.status, HANDLE_NOT_USED);
    assert_int_equal(v.task, 0);
    int tid = task_mapped(f);
    assert_int_equal(t_set_cms(f, tid, 300), 0);
    v = t_cview(f);
    assert_int_equal(v.status, HANDLE_REGISTED);
    assert_int_equal(v.task, tid);
    assert_int_equal(v.max_msg_size, 300);
}

static void device_set_cms_again_eexist_from_anyone(void **state)
{
    t_kfix *f = *state;
    int pid;
    int cms = t_must_cms_size(f, 300, &pid);
    int sibling = t_must_task(f, pid);
    int other = task_mapped(f);
    assert_int_equal(t_set_cms(f, cms, 300), -EEXIST);
    assert_int_equal(t_set_cms(f, cms, 500), -EEXIST);
    assert_int_equal(t_set_cms(f, sibling, 500), -EEXIST);
    assert_int_equal(t_set_cms(f, other, 500), -EEXIST);
    lk_cms_view v = t_cview(f);
    assert_int_equal(v.task, cms);
    assert_int_equal(v.max_msg_size, 300);
}

static void device_set_cms_too_small_checked_first(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    assert_int_equal(t_set_cms(f, cms, 0), -EINVAL);
    assert_int_equal(t_set_cms(f, cms, LITEIPC_DEVICE_SIZEOF_IPCMSG - 1), -EINVAL);
    assert_int_equal(t_set_cms(f, cms, LITEIPC_DEVICE_SIZEOF_IPCMSG), -EEXIST);
}

/* ---- §3.4 IPC_CMS_CMD ---------------------------------------------------------------------- */

static void device_cms_cmd_non_cms_eacces_before_cmd_check(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int other = task_mapped(f);
    CmsCmdContent c = {.cmd = (CmsCmd)7, .taskID = 0, .serviceHandle = 0};
    assert_int_equal(t_cms_cmd(f, other, &c), -EACCES);
    assert_int_equal(t_cms_cmd(f, cms, &c), -EINVAL);
    c.cmd = (CmsCmd)3;
    assert_int_equal(t_cms_cmd(f, cms, &c), -EINVAL);
}

static void device_cms_cmd_any_task_of_cms_process(void **state)
{
    t_kfix *f = *state;
    int pid;
    t_must_cms_size(f, 256, &pid);
    int sibling = t_must_task(f, pid);
    assert_int_equal(t_remove_handle(f, sibling, 1), 0);
    uint32_t h = 0;
    int s = task_mapped(f);
    assert_int_equal(t_gen_handle(f, sibling, (uint32_t)s, &h), 0);
    assert_int_equal(h, s);
}

static void device_gen_handle_returns_task_id(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s = task_mapped(f);
    CmsCmdContent c = {.cmd = CMS_GEN_HANDLE, .taskID = (uint32_t)s, .serviceHandle = 99};
    lk_ioctl_out out;
    assert_int_equal(t_ioctl(f, cms, IPC_CMS_CMD, (uintptr_t)&c, &out), 0);
    assert_int_equal(out.copyout, LK_COPYOUT_CMS);
    assert_int_equal(out.cms.cmd, CMS_GEN_HANDLE);
    assert_int_equal(out.cms.taskID, s);
    assert_int_equal(out.cms.serviceHandle, s);
    assert_int_equal(c.serviceHandle, s);
}

static void device_gen_handle_zero_means_caller(void **state)
{
    t_kfix *f = *state;
    int pid;
    t_must_cms_size(f, 256, &pid);
    int sibling = t_must_task(f, pid);
    CmsCmdContent c = {.cmd = CMS_GEN_HANDLE, .taskID = 0, .serviceHandle = 99};
    assert_int_equal(t_cms_cmd(f, sibling, &c), 0);
    assert_int_equal(c.cmd, CMS_GEN_HANDLE);
    assert_int_equal(c.taskID, 0);
    assert_int_equal(c.serviceHandle, sibling);
}

static void device_gen_handle_of_cms_task_einval(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    uint32_t h = 0;
    lk_ioctl_out out;
    CmsCmdContent c = {.cmd = CMS_GEN_HANDLE, .taskID = 0, .serviceHandle = 99};
    assert_int_equal(t_ioctl(f, cms, IPC_CMS_CMD, (uintptr_t)&c, &out), -EINVAL);
    assert_int_equal(c.serviceHandle, 99); /* nothing written back */
    assert_int_equal(t_gen_handle(f, cms, (uint32_t)cms, &h), -EINVAL);
    assert_int_equal(h, 0xDEADBEEF);
}

static void device_gen_handle_dead_task_einval(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s = task_mapped(f);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    assert_int_equal(t_gen_handle(f, cms, (uint32_t)s, NULL), -EINVAL);
    assert_int_equal(t_gen_handle(f, cms, 100, NULL), -EINVAL);
    assert_int_equal(t_gen_handle(f, cms, 3, NULL), -EINVAL); /* a kernel task */
    assert_int_equal(t_gen_handle(f, cms, 128, NULL), -EINVAL);
    assert_int_equal(t_gen_handle(f, cms, 0xFFFFFFFFu, NULL), -EINVAL);
}

static void device_gen_handle_grants_cms_process(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, 256, &cms_pid);
    int s_pid;
    int s = t_must_ready_task(f, 0, &s_pid);
    assert_int_equal(t_recv(f, s, NULL), LK_PARKED); /* s gets its IpcTaskInfo */
    assert_int_equal(t_send_req(f, cms, (uint32_t)s, 1, 1), -EACCES);

    assert_int_equal(t_gen_handle(f, cms, (uint32_t)s, NULL), 0);
    assert_true(t_tview(f, s).access_map & (1ull << cms_pid));
    lk_proc_view pv = t_pview(f, cms_pid);
    assert_true(t_has_access_bit(&pv, s));
    assert_int_equal(t_send_req(f, cms, (uint32_t)s, 5, 1), 0);
    IpcMsg *in = t_must_complete(f, s, 0);
    assert_int_equal(in->code, 5);
    t_must_free(f, s, in);
}

/* Q10: no IpcTaskInfo, no grant, and still success. */
static void device_gen_handle_without_task_info_grants_nothing(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, 256, &cms_pid);
    int s = task_mapped(f);
    uint32_t h = 0;
    assert_int_equal(t_gen_handle(f, cms, (uint32_t)s, &h), 0);
    assert_int_equal(h, s);
    lk_task_view tv = t_tview(f, s);
    assert_false(tv.has_info);
    assert_int_equal(tv.access_map, 0);
    lk_proc_view pv = t_pview(f, cms_pid);
    assert_false(t_has_access_bit(&pv, s));
    assert_int_equal(t_send_req(f, cms, (uint32_t)s, 1, 1), -EACCES);
}

/* §3.4 GEN_HANDLE step 3/5: the handle of the CMS itself fails but the grant still runs. */
static void device_gen_handle_of_cms_task_still_grants(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, 256, &cms_pid);
    assert_int_equal(t_recv(f, cms, NULL), LK_PARKED); /* the CMS task gets IpcTaskInfo */
    assert_false(t_tview(f, cms).access_map & (1ull << cms_pid));
    int sibling = t_must_task(f, cms_pid);
    assert_int_equal(t_gen_handle(f, sibling, (uint32_t)cms, NULL), -EINVAL);
    assert_true(t_tview(f, cms).access_map & (1ull << cms_pid));
}

/* Q8 */
static void device_remove_handle_is_noop(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, 256, &cms_pid);
    int ipc = t_must_task(f, cms_pid);
    assert_int_equal(t_set_ipc_thread(f, ipc), ipc);
    int s = task_mapped(f);
    assert_int_equal(t_recv(f, s, NULL), LK_PARKED);
    assert_int_equal(t_gen_handle(f, cms, (uint32_t)s, NULL), 0);
    uint64_t map = t_tview(f, s).access_map;

    assert_int_equal(t_remove_handle(f, cms, (uint32_t)s), 0);
    assert_int_equal(t_tview(f, s).access_map, map);
    assert_int_equal(t_tview(f, ipc).queued, 0);
    assert_false(t_tview(f, ipc).has_info);
    assert_int_equal(t_send_req(f, cms, (uint32_t)s, 1, 1), 0);
    t_must_free(f, s, t_must_complete(f, s, 0));
}

static void device_remove_handle_out_of_range_einval(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    assert_int_equal(t_remove_handle(f, cms, 128), -EINVAL);
    assert_int_equal(t_remove_handle(f, cms, 0xFFFFFFFFu), -EINVAL);
    assert_int_equal(t_remove_handle(f, cms, 127), 0);
    assert_int_equal(t_remove_handle(f, cms, 0), 0);
}

static void device_add_access_grants_whole_process(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s_pid;
    int s = t_must_ready_task(f, 0, &s_pid);
    assert_int_equal(t_recv(f, s, NULL), LK_PARKED);
    int c_pid;
    int c1 = t_must_ready_task(f, 0, &c_pid);
    int c2 = t_must_task(f, c_pid);
    assert_int_equal(t_send_req(f, c2, (uint32_t)s, 1, 1), -EACCES);

    CmsCmdContent c = {.cmd = CMS_ADD_ACCESS, .taskID = (uint32_t)c1,
                       .serviceHandle = (uint32_t)s};
    lk_ioctl_out out;
    assert_int_equal(t_ioctl(f, cms, IPC_CMS_CMD, (uintptr_t)&c, &out), 0);
    assert_int_equal(out.copyout, LK_COPYOUT_NONE);
    assert_int_equal(c.taskID, c1);
    assert_int_equal(c.serviceHandle, s);
    assert_true(t_tview(f, s).access_map & (1ull << c_pid));
    lk_proc_view pv = t_pview(f, c_pid);
    assert_true(t_has_access_bit(&pv, s));

    assert_int_equal(t_send_req(f, c2, (uint32_t)s, 7, 1), 0);
    IpcMsg *in = t_must_complete(f, s, 0);
    assert_int_equal(in->code, 7);
    assert_int_equal(in->taskID, c2);
    t_must_free(f, s, in);
}

static void device_add_access_dead_task_einval(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s = task_mapped(f);
    assert_int_equal(t_recv(f, s, NULL), LK_PARKED);
    assert_int_equal(t_add_access(f, cms, 100, (uint32_t)s), -EINVAL);
    assert_int_equal(t_add_access(f, cms, 3, (uint32_t)s), -EINVAL);
    assert_int_equal(t_add_access(f, cms, 200, (uint32_t)s), -EINVAL);
    assert_int_equal(t_tview(f, s).access_map, 0);
}

static void device_add_access_service_without_info_einval(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s = task_mapped(f);
    int c = task_mapped(f);
    assert_int_equal(t_add_access(f, cms, (uint32_t)c, (uint32_t)s), -EINVAL);
    assert_false(t_tview(f, s).has_info);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, 1), -EACCES);
}

static void device_add_access_handle_out_of_range_einval(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int c = task_mapped(f);
    assert_int_equal(t_add_access(f, cms, (uint32_t)c, 128), -EINVAL);
    assert_int_equal(t_add_access(f, cms, (uint32_t)c, 0xFFFFFFFFu), -EINVAL);
}

static void device_add_access_client_without_ipc_state_einval(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s = task_mapped(f);
    assert_int_equal(t_recv(f, s, NULL), LK_PARKED);
    int c = task_without_ipc(f);
    assert_int_equal(t_add_access(f, cms, (uint32_t)c, (uint32_t)s), -EINVAL);
    assert_int_equal(t_tview(f, s).access_map, 0);
}

static void device_add_access_handle_zero_is_cms_task(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, T_CMS_MAX, &cms_pid);
    int sibling = t_must_task(f, cms_pid);
    int c_pid;
    int c = t_must_ready_task(f, 0, &c_pid);
    assert_int_equal(t_add_access(f, cms, (uint32_t)c, 0), -EINVAL); /* CMS has no info yet */
    assert_int_equal(t_recv(f, cms, NULL), LK_PARKED);
    assert_int_equal(t_add_access(f, sibling, (uint32_t)c, 0), 0);
    assert_true(t_tview(f, cms).access_map & (1ull << c_pid));
    lk_proc_view pv = t_pview(f, c_pid);
    assert_true(t_has_access_bit(&pv, cms));
}

/* ---- §3.6 IPC_SET_IPC_THREAD --------------------------------------------------------------- */

static void device_set_ipc_thread_returns_tid(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int pid;
    int t1 = t_must_ready_task(f, 0, &pid);
    int t2 = t_must_task(f, pid);
    lk_ioctl_out out;
    assert_int_equal(t_ioctl(f, t2, IPC_SET_IPC_THREAD, 12345, &out), t2);
    assert_int_equal(out.copyout, LK_COPYOUT_NONE);
    assert_int_equal(t_pview(f, pid).ipc_task, t2);
    (void)t1;
}

static void device_set_ipc_thread_once_per_process(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int pid;
    int t1 = t_must_ready_task(f, 0, &pid);
    int t2 = t_must_task(f, pid);
    int other = task_mapped(f);
    assert_int_equal(t_set_ipc_thread(f, t1), t1);
    assert_int_equal(t_set_ipc_thread(f, t1), -EINVAL);
    assert_int_equal(t_set_ipc_thread(f, t2), -EINVAL);
    assert_int_equal(t_pview(f, pid).ipc_task, t1);
    assert_int_equal(t_set_ipc_thread(f, other), other);
}

/* ---- §3.7 IPC_GET_VERSION ------------------------------------------------------------------ */

static void device_get_version_writes_driver_version(void **state)
{
    t_kfix *f = *state;
    int tid = task_mapped(f);
    IpcVersion v = {.driverVersion = 0};
    lk_ioctl_out out;
    assert_int_equal(t_ioctl(f, tid, IPC_GET_VERSION, (uintptr_t)&v, &out), 0);
    assert_int_equal(out.copyout, LK_COPYOUT_VERSION);
    assert_int_equal(out.version.driverVersion, DRIVER_VERSION);
    assert_int_equal(v.driverVersion & 0xFFFF, 2);      /* major */
    assert_int_equal((v.driverVersion >> 16) & 0xFFFF, 0); /* minor */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(device_open_creates_ipc_state),
        T(device_open_again_keeps_state),
        T(device_open_unknown_process_esrch),
        T(device_mmap_without_open_einval),
        T(device_mmap_above_max_size_einval),
        T(device_mmap_max_size_accepted),
        T(device_mmap_one_page_accepted),
        T(device_mmap_prot_must_be_read_only),
        T(device_mmap_shared_einval),
        T(device_mmap_fixed_flag_not_looked_at),
        T(device_mmap_twice_eexist),
        T(device_mmap_bad_args_checked_before_eexist),
        T(device_mmap_bad_after_good_keeps_pool),
        T(device_pool_attach_records_mapping),
        T(device_pool_attach_without_ipc_state_einval),
        T(device_matrix_set_cms),
        T(device_matrix_cms_cmd_null_arg),
        T(device_matrix_cms_cmd_valid),
        T(device_matrix_set_ipc_thread),
        T(device_matrix_send_recv_null_arg),
        T(device_matrix_send_recv_valid),
        T(device_matrix_get_version_null_arg),
        T(device_matrix_get_version_valid),
        T(device_matrix_unknown_command),
        T(device_directional_command_null_arg_einval_before_prelude),
        T(device_directional_command_zero_size_einval),
        T(device_set_cms_records_cms),
        T(device_set_cms_again_eexist_from_anyone),
        T(device_set_cms_too_small_checked_first),
        T(device_cms_cmd_non_cms_eacces_before_cmd_check),
        T(device_cms_cmd_any_task_of_cms_process),
        T(device_gen_handle_returns_task_id),
        T(device_gen_handle_zero_means_caller),
        T(device_gen_handle_of_cms_task_einval),
        T(device_gen_handle_dead_task_einval),
        T(device_gen_handle_grants_cms_process),
        T(device_gen_handle_without_task_info_grants_nothing),
        T(device_gen_handle_of_cms_task_still_grants),
        T(device_remove_handle_is_noop),
        T(device_remove_handle_out_of_range_einval),
        T(device_add_access_grants_whole_process),
        T(device_add_access_dead_task_einval),
        T(device_add_access_service_without_info_einval),
        T(device_add_access_handle_out_of_range_einval),
        T(device_add_access_client_without_ipc_state_einval),
        T(device_add_access_handle_zero_is_cms_task),
        T(device_set_ipc_thread_returns_tid),
        T(device_set_ipc_thread_once_per_process),
        T(device_get_version_writes_driver_version),
    };
    return cmocka_run_group_tests_name("kernel_device", tests, NULL, NULL);
}
