/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shmcheck.h - what a test run left in /dev/shm.
 *
 * Every shared-memory object of the simulator is named "liteipc..."; stack tests call these
 * before and after a kernel's life to prove that nothing outlived it.
 */
#ifndef LITEIPC_TEST_SHMCHECK_H
#define LITEIPC_TEST_SHMCHECK_H

#include <stddef.h>

#define T_SHM_PREFIX "liteipc"

/*
 * List the entries of /dev/shm whose names start with T_SHM_PREFIX. Their names, separated by
 * single spaces, go into buf (truncated to len - 1 bytes, always NUL-terminated when len > 0;
 * buf may be NULL when len is 0). Returns the number of entries, or -errno if /dev/shm cannot
 * be read.
 */
int t_shm_liteipc_list(char *buf, size_t len);

/* The number of such entries, or -errno. */
int t_shm_liteipc_count(void);

#endif /* LITEIPC_TEST_SHMCHECK_H */
