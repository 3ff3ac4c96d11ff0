/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consumer_compat.c - code written for the device, unchanged: plain open, mmap, ioctl and close
 * of /dev/lite_ipc, linked with the installed compat layer (liteipc::compat, or
 * `pkg-config --libs liteipc-compat`). The first open attaches to the kernel named by
 * $LITEIPC_DEVICE, starting the liteipcd named by $LITEIPCD if none serves it; the daemon exits
 * by itself once this program has gone.
 */
#include <liteipc/compat.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
    IpcVersion v = {0};
    int fd = open(LITEIPC_DRIVER, O_RDWR), ok = 0;

    if (fd < 0) {
        perror("consumer (compat): open " LITEIPC_DRIVER);
        return 1;
    }
    if (mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED)
        perror("consumer (compat): mmap");
    else if (ioctl(fd, IPC_GET_VERSION, &v) != 0)
        perror("consumer (compat): IPC_GET_VERSION");
    else if (v.driverVersion != DRIVER_VERSION)
        fprintf(stderr, "consumer (compat): driver version %d, expected %d\n",
                (int)v.driverVersion, DRIVER_VERSION);
    else
        ok = 1;
    close(fd);
    if (ok)
        printf("consumer (compat): open/mmap/ioctl of %s, driver version %d.%d\n", LITEIPC_DRIVER,
               (int)(v.driverVersion & 0xffff), (int)((unsigned)v.driverVersion >> 16));
    return ok ? 0 : 1;
}
