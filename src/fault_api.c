/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fault_api.c - liteipc_fault_add/clear (liteipc.h, "fault injection") and $LITEIPC_FAULTS.
 *
 * The kernel belongs to its broker thread, so faults are armed there, between two commands
 * (lk_broker_run); the matching itself is in fault.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

static int run_add(liteipc_kernel *k, void *arg)
{
    int id = lk_kernel_fault_add(k->kern, arg);

    if (id >= 0)
        atomic_store(&k->b.faulty, true);
    return id;
}

static int run_clear(liteipc_kernel *k, void *arg)
{
    (void)arg;
    lk_kernel_fault_clear(k->kern);
    return 0;
}

int liteipc_fault_add(liteipc_kernel *k, const liteipc_fault *f)
{
    if (!k || !f)
        return -EINVAL;
    if (!k->is_host)
        return -EPERM;
    return lk_broker_run(k, run_add, (void *)f);
}

int liteipc_fault_clear(liteipc_kernel *k)
{
    if (!k)
        return -EINVAL;
    if (!k->is_host)
        return -EPERM;
    return lk_broker_run(k, run_clear, NULL);
}

int lk_fault_env_arm(lk_kernel *kern)
{
    const char *text = getenv(LITEIPC_FAULTS_ENV);
    liteipc_fault f[LITEIPC_FAULT_MAX];
    char why[160];
    int n;

    if (!text || !*text)
        return 0;
    n = liteipc_fault_parse(text, f, LITEIPC_FAULT_MAX, why, sizeof(why));
    if (n < 0) {
        fprintf(stderr, "liteipc: %s=\"%s\": %s; the kernel does not start\n",
                LITEIPC_FAULTS_ENV, text, why);
        return -EINVAL;
    }
    for (int i = 0; i < n; i++) {
        int err = lk_kernel_fault_add(kern, &f[i]);

        if (err < 0) {
            fprintf(stderr, "liteipc: %s: fault %d: %s; the kernel does not start\n",
                    LITEIPC_FAULTS_ENV, i + 1, strerror(-err));
            return err;
        }
    }
    return n;
}
