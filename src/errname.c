/* SPDX-License-Identifier: Apache-2.0 */
/*
 * errname.c - liteipc_errno_name: "EACCES" for EACCES, the one errno-name helper of the library,
 * its tools, examples and tests.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <liteipc/liteipc.h>

const char *liteipc_errno_name(int err)
{
    const char *name = NULL;

    if (err == 0)
        return "OK";
    if (err < 0)
        err = err == INT_MIN ? 0 : -err; /* INT_MIN has no positive: no errno */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    name = err ? strerrorname_np(err) : NULL;
#else
    /* Other C libraries: the errnos the device and the simulator give. */
    switch (err) {
    case EACCES: name = "EACCES"; break;
    case EAGAIN: name = "EAGAIN"; break;
    case EBADF: name = "EBADF"; break;
    case EBUSY: name = "EBUSY"; break;
    case EEXIST: name = "EEXIST"; break;
    case EFAULT: name = "EFAULT"; break;
    case EINTR: name = "EINTR"; break;
    case EINVAL: name = "EINVAL"; break;
    case EIO: name = "EIO"; break;
    case EMFILE: name = "EMFILE"; break;
    case ENOENT: name = "ENOENT"; break;
    case ENOEXEC: name = "ENOEXEC"; break;
    case ENOMEM: name = "ENOMEM"; break;
    case ENOSPC: name = "ENOSPC"; break;
    case ENOTTY: name = "ENOTTY"; break;
    case EPERM: name = "EPERM"; break;
    case EPROTO: name = "EPROTO"; break;
    case ERANGE: name = "ERANGE"; break;
    case ERFKILL: name = "ERFKILL"; break;
    case ESHUTDOWN: name = "ESHUTDOWN"; break;
    case ESRCH: name = "ESRCH"; break;
    case ETIME: name = "ETIME"; break;
    case ETIMEDOUT: name = "ETIMEDOUT"; break;
    case EUSERS: name = "EUSERS"; break;
    default: break;
    }
#endif
    return name ? name : "EUNKNOWN";
}
