/* SPDX-License-Identifier: Apache-2.0 */
/* dump.h - the kernel's tables as text (private to the library; see dump.c). */
#ifndef LITEIPC_DUMP_H
#define LITEIPC_DUMP_H

#include <stdio.h>

#include "kernel.h"

/* The host process behind a simulated process: its PID (0: unknown) and program name. */
typedef struct lk_dump_host {
    int32_t pid;
    char prog[16];
} lk_dump_host;

/* Write kern's tables to out. Call it where kern cannot change meanwhile (the broker). hosts:
   NULL, or one entry per simulated PID (LK_MAX_PROCS). */
void lk_dump(const lk_kernel *kern, FILE *out, const lk_dump_host *hosts);
/* lk_dump, naming each task after task_names[tid] ("" or a NULL array: no name). */
#define LK_DUMP_NAME 16
void lk_dump_names(const lk_kernel *kern, FILE *out, const lk_dump_host *hosts,
                   const char (*task_names)[LK_DUMP_NAME]);

#endif /* LITEIPC_DUMP_H */
