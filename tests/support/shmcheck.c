/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shmcheck.c - list the simulator's leftovers in /dev/shm (see shmcheck.h).
 */
#include "shmcheck.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>

int t_shm_liteipc_list(char *buf, size_t len)
{
    DIR *d = opendir("/dev/shm");
    if (d == NULL)
        return -errno;
    size_t used = 0;
    if (buf != NULL && len > 0)
        buf[0] = '\0';
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, T_SHM_PREFIX, strlen(T_SHM_PREFIX)) != 0)
            continue;
        count++;
        if (buf == NULL || len == 0)
            continue;
        size_t n = strlen(e->d_name);
        size_t sep = used > 0 ? 1 : 0;
        if (used + sep + n >= len)
            continue; /* truncated: keep counting */
        if (sep)
            buf[used++] = ' ';
        memcpy(buf + used, e->d_name, n);
        used += n;
        buf[used] = '\0';
    }
    closedir(d);
    return count;
}

int t_shm_liteipc_count(void)
{
    return t_shm_liteipc_list(NULL, 0);
}
