/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compat.h - run code written for the LiteIPC device (/dev/lite_ipc) unchanged on the host.
 *
 * Code written for the device calls open("/dev/lite_ipc"), mmap, ioctl and close. The compat
 * layer routes exactly those calls, and only those, to a simulated kernel; every other path and
 * descriptor goes to the C library untouched. It comes in two packagings of one implementation:
 *
 *   libliteipc_compat.a   link it into the program (CMake: liteipc::compat). The program's
 *                         own definitions of open, ioctl, ... take precedence over the C
 *                         library's, so its calls reach the simulator:
 *                             target_link_libraries(app PRIVATE liteipc::compat)
 *                         or by hand: cc app.c -lliteipc_compat -lliteipc -lpthread -ldl
 *                         (the compat archive before libliteipc.a). Include this header instead
 *                         of the program's own copy of the device definitions, or keep the
 *                         program's copy: the layer only needs the calls, not the header.
 *   libliteipc_preload.so an unmodified dynamically linked binary, run as
 *                             LD_PRELOAD=/path/to/libliteipc_preload.so ./app
 *
 * Which kernel: the first open of the device in a process attaches to the kernel named by
 * $LITEIPC_DEVICE (default "lite_ipc"), starting a liteipcd for it if none is running
 * (liteipc_kernel_attach_or_start). The process keeps that kernel until it exits. A program
 * that never opens the device starts nothing: no kernel, no thread, no connection.
 *
 * What is routed (everything else is the C library's):
 *   open, open64, openat, openat64, __open_2, __open64_2, __openat_2, __openat64_2
 *       when the path is exactly "/dev/lite_ipc" (LITEIPC_DRIVER; no other spelling of it).
 *       The descriptor returned is a real descriptor number (of /dev/null).
 *   ioctl, read, write, __read_chk, close     on a descriptor returned by such an open.
 *   mmap, mmap64      on such a descriptor (anonymous mappings are never routed).
 *   munmap            of a range overlapping the pool this process mapped from the device.
 *   gettid, syscall(SYS_gettid)   the thread's ID, once the process has opened the device: its
 *       simulated TID, as on LiteOS-A, where a thread's ID is its task ID and its LiteIPC handle
 *       (communication_ipc publishes syscall(SYS_gettid) as the handle of an anonymous stub). A
 *       thread that has not used the device yet becomes a task of the process on that call, as
 *       every thread is a task on the device. Before the process's first open (no kernel), or if
 *       the kernel cannot answer, the host's TID. Every other syscall() goes to the C library.
 *   mprotect          once the device is open: EPERM on any LiteIPC region (liteipc_mprotect).
 * Results and errno are the device's (LITEIPC_REFERENCE §2): read and write fail, mmap refuses
 * with MAP_FAILED/ENOMEM what the driver refuses, close does nothing to the process's IPC state
 * (pool, CMS role, IPC thread and messages survive it, and a later open finds them), and if
 * the kernel's host is gone, every call fails with ESHUTDOWN. If no kernel can be reached, open
 * fails with the error of liteipc_kernel_attach_or_start (for example ENOEXEC: no liteipcd) and
 * says why once on stderr.
 *
 * fork: the child keeps the device descriptors and becomes a new simulated process on its first
 * device call, as on the device (§7.6): it must mmap its own pool.
 *
 * Not routed (documented limits):
 *   - dup, dup2, dup3, fcntl(F_DUPFD*), close_range/closefrom on a device descriptor: the copy,
 *     or the closed number, is not known to the layer (dup2/dup3 or close_range over a device
 *     descriptor closes the underlying /dev/null behind its back);
 *   - stdio (fopen("/dev/lite_ipc")) and raw syscall(SYS_openat, ...): the C library makes
 *     these calls internally, where no interposition reaches;
 *   - exec: the new program image does not know the descriptors it inherited, so they act as
 *     /dev/null (on the device they give EINVAL until the next open, §7.7). Open again after
 *     exec, as device code must anyway;
 *   - other spellings of the path ("//dev/lite_ipc", "/dev/./lite_ipc", a relative path from
 *     /dev, a symbolic link);
 *   - statically linked executables (the layer finds the C library's functions with dlsym).
 */
#ifndef LITEIPC_COMPAT_H
#define LITEIPC_COMPAT_H

#include <liteipc/lite_ipc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The name of the shared library to put in LD_PRELOAD. */
#define LITEIPC_PRELOAD_LIBRARY "libliteipc_preload.so"

#ifdef __cplusplus
}
#endif
#endif /* LITEIPC_COMPAT_H */
