/* dump.h - the kernel's tables as text (private to the library; see dump.c). */
#ifndef LITEIPC_DUMP_H
#define LITEIPC_DUMP_H

#include <stdio.h>

#include "kernel.h"

/* Write kern's tables to out. Call it where kern cannot change meanwhile (the broker). */
void lk_dump(const lk_kernel *kern, FILE *out);

#endif /* LITEIPC_DUMP_H */
