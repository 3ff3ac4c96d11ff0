/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dump.c - the kernel's tables as text for a human (liteipc_kernel_dump, liteipcd's SIGUSR2):
 * the ServiceManager, every process and every task, written from the kernel's read-only views
 * (kernel.h). Run by the broker between two commands, so the snapshot is consistent.
 */
#include <inttypes.h>
#include <stdio.h>

#include "abi.h"
#include "dump.h"
#include "pool.h"

/* ", a, b, c" for every set bit of a 64-bit map, after `label`; nothing if the map is empty. */
static void put_bits(FILE *out, const char *label, const uint64_t *words, int nwords)
{
    const char *sep = label;

    for (int w = 0; w < nwords; w++) {
        for (uint64_t m = words[w]; m; m &= m - 1) {
            fprintf(out, "%s%d", sep, w * 64 + __builtin_ctzll(m));
            sep = ", ";
        }
    }
}

static void put_size(FILE *out, size_t bytes)
{
    if (bytes < 1024)
        fprintf(out, "%zu B", bytes);
    else if (bytes % 1024 == 0)
        fprintf(out, "%zu KiB", bytes / 1024);
    else
        fprintf(out, "%.1f KiB", (double)bytes / 1024.0);
}

/* A duration in the largest unit that shows it exactly (the reply timeout can be shrunk). */
static void put_duration(FILE *out, uint64_t ns)
{
    if (ns % 1000000u == 0)
        fprintf(out, "%" PRIu64 " ms", ns / 1000000u);
    else if (ns % 1000u == 0)
        fprintf(out, "%" PRIu64 " us", ns / 1000u);
    else
        fprintf(out, "%" PRIu64 " ns", ns);
}

static void dump_process(const lk_kernel *kern, int pid, const lk_proc_view *v,
                         const lk_dump_host *host, FILE *out)
{
    const void *base;
    lk_pool_stats st;

    fprintf(out, "  process %d", pid);
    if (host && host->pid > 0)
        fprintf(out, " (host %d %s)", (int)host->pid, host->prog);
    fputs(": ", out);
    if (!v->has_ipc) {
        fputs("no IPC state (it has not opened the device, or it exec'd)\n", out);
        return;
    }
    if (!v->pool_mapped) {
        fputs("opened, no pool mapped", out);
    } else {
        fputs("pool of ", out);
        put_size(out, v->pool_size);
        fprintf(out, " at 0x%" PRIxPTR, v->uvaddr);
        base = lk_proc_pool_base(kern, pid);
        if (base) {
            lk_pool_get_stats(base, &st);
            fprintf(out, ", %u message%s held", st.used_blocks, st.used_blocks == 1 ? "" : "s");
            if (v->used_buffers)
                fprintf(out, " (%u received, not freed)", v->used_buffers);
            fputs(", ", out);
            put_size(out, st.free_bytes);
            fputs(" free", out);
            fputs(", at most ", out); /* the high-water mark, since the pool was mapped */
            put_size(out, v->pool_peak);
            fputs(" used at once", out);
        }
    }
    if (v->ipc_task >= 0)
        fprintf(out, "; IPC thread %d", v->ipc_task);
    if (lk_proc_abi(kern, pid) > LK_ABI_DEFAULT) /* how it lays out what it sends (docs/ABI.md) */
        fprintf(out, "; ABI %s", lk_abi_layout_of(lk_proc_abi(kern, pid))->name);
    put_bits(out, "; may call tasks ", v->access, 2);
    fputc('\n', out);
}

static void dump_task(int tid, const lk_task_view *v, const char *name, FILE *out)
{
    fprintf(out, "  task %d", tid);
    if (name && name[0])
        fprintf(out, " '%s'", name);
    fprintf(out, " (process %d): ", v->pid);
    if (!v->has_info) {
        fputs("no IPC state yet (it has not received or been sent anything)", out);
    } else {
        fprintf(out, "%u queued", v->queued);
        put_bits(out, "; may be called by processes ", &v->access_map, 1);
    }
    if (v->parked)
        fputs(v->parked_sync ? "; waiting for a reply" : "; waiting in RECV", out);
    fputc('\n', out);
}

void lk_dump(const lk_kernel *kern, FILE *out, const lk_dump_host *hosts)
{
    lk_dump_names(kern, out, hosts, NULL);
}

void lk_dump_names(const lk_kernel *kern, FILE *out, const lk_dump_host *hosts,
                   const char (*task_names)[LK_DUMP_NAME])
{
    const lk_config *cfg = lk_kernel_cfg(kern);
    lk_proc_view pv;
    lk_task_view tv;
    lk_cms_view cms;
    int nprocs = 0, ntasks = 0;

    for (int pid = 0; pid < LK_MAX_PROCS; pid++)
        nprocs += lk_proc_view_get(kern, pid, &pv) == 0 && pv.in_use;
    for (int tid = 0; tid < LK_MAX_TASKS; tid++)
        ntasks += lk_task_view_get(kern, tid, &tv) == 0 && tv.in_use;
    fprintf(out, "liteipc kernel: %d process%s, %d task%s (limits %u and %u), reply timeout ",
            nprocs, nprocs == 1 ? "" : "es", ntasks, ntasks == 1 ? "" : "s", cfg->process_limit,
            cfg->task_limit);
    put_duration(out, cfg->timeout_ns);
    fprintf(out, ", driver version %d\n", (int)cfg->driver_version);
    lk_cms_view_get(kern, &cms);
    if (cms.status == HANDLE_REGISTED)
        fprintf(out, "ServiceManager: task %d (IPC_SET_CMS %u)\n", cms.task, cms.max_msg_size);
    else
        fputs("ServiceManager: none (no task has called IPC_SET_CMS)\n", out);
    if (nprocs)
        fputs("processes:\n", out);
    for (int pid = 0; pid < LK_MAX_PROCS; pid++)
        if (lk_proc_view_get(kern, pid, &pv) == 0 && pv.in_use)
            dump_process(kern, pid, &pv, hosts ? &hosts[pid] : NULL, out);
    if (ntasks)
        fputs("tasks:\n", out);
    for (int tid = 0; tid < LK_MAX_TASKS; tid++)
        if (lk_task_view_get(kern, tid, &tv) == 0 && tv.in_use)
            dump_task(tid, &tv, task_names ? task_names[tid] : NULL, out);
}
