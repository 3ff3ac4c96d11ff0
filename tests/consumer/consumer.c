/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consumer.c - uses an installed liteipc-sim from C: start a kernel, open the device in the
 * default (host) process, map a pool, ask for the driver version, stop. Built as strict C11
 * with no feature-test macro: the installed headers must not need one.
 */
#include <liteipc/liteipc.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int main(void)
{
    liteipc_kernel *k = NULL;
    IpcVersion v = {0};
    int fd, rc, ok = 0;

    rc = liteipc_kernel_start(NULL, &k);
    if (rc < 0) {
        fprintf(stderr, "consumer (C): liteipc_kernel_start: %s\n", strerror(-rc));
        return 1;
    }
    fd = liteipc_open(k, LITEIPC_DRIVER, O_RDWR);
    if (fd < 0) {
        perror("consumer (C): liteipc_open");
    } else if (liteipc_mmap(k, NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED) {
        perror("consumer (C): liteipc_mmap");
    } else if (liteipc_ioctl(k, fd, IPC_GET_VERSION, &v) != 0) {
        perror("consumer (C): IPC_GET_VERSION");
    } else if (v.driverVersion != DRIVER_VERSION) {
        fprintf(stderr, "consumer (C): driver version %d, expected %d\n", (int)v.driverVersion,
                DRIVER_VERSION);
    } else {
        ok = 1;
    }
    if (fd >= 0)
        liteipc_close(k, fd);
    rc = liteipc_kernel_stop(k);
    if (rc < 0) {
        fprintf(stderr, "consumer (C): liteipc_kernel_stop: %s\n", strerror(-rc));
        ok = 0;
    }
    if (strcmp(liteipc_version(), LITEIPC_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer (C): library %s, headers %s\n", liteipc_version(),
                LITEIPC_VERSION_STRING);
        ok = 0;
    }
    if (ok)
        printf("consumer (C): liteipc %s, driver version %d.%d\n", LITEIPC_VERSION_STRING,
               (int)(v.driverVersion & 0xffff), (int)((unsigned)v.driverVersion >> 16));
    return ok ? 0 : 1;
}
