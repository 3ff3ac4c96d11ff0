/* SPDX-License-Identifier: Apache-2.0 */
// consumer.cpp - uses an installed liteipc-sim from C++: the same steps as consumer.c.
#include <liteipc/liteipc.h>
#include <liteipc/testkit.h> // C++-clean too: its errno names are used below

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>

namespace {

struct Kernel {
    liteipc_kernel *k = nullptr;
    Kernel() = default;
    Kernel(const Kernel &) = delete;
    Kernel &operator=(const Kernel &) = delete;
    ~Kernel()
    {
        if (k != nullptr)
            liteipc_kernel_stop(k);
    }
};

bool fail(const char *what)
{
    std::fprintf(stderr, "consumer (C++): %s: %s\n", what, std::strerror(errno));
    return false;
}

bool run(liteipc_kernel *k, IpcVersion &v)
{
    int fd = liteipc_open(k, LITEIPC_DRIVER, O_RDWR);
    if (fd < 0)
        return fail("liteipc_open");
    bool ok = liteipc_mmap(k, nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0) != MAP_FAILED;
    if (!ok)
        fail("liteipc_mmap");
    else if (!(ok = liteipc_ioctl(k, fd, IPC_GET_VERSION, &v) == 0))
        fail("IPC_GET_VERSION");
    liteipc_close(k, fd);
    return ok;
}

} // namespace

int main()
{
    static_assert(sizeof(IpcMsg) == 80 || sizeof(void *) != 8, "IpcMsg has the LP64 layout");
    Kernel kernel;
    int rc = liteipc_kernel_start(nullptr, &kernel.k);
    if (rc < 0) {
        std::fprintf(stderr, "consumer (C++): liteipc_kernel_start: %s\n", std::strerror(-rc));
        return 1;
    }
    IpcVersion v{};
    if (!run(kernel.k, v))
        return 1;
    if (v.driverVersion != DRIVER_VERSION) {
        std::fprintf(stderr, "consumer (C++): driver version %d, expected %d\n",
                     static_cast<int>(v.driverVersion), DRIVER_VERSION);
        return 1;
    }
    rc = liteipc_kernel_stop(kernel.k);
    kernel.k = nullptr;
    if (rc < 0) {
        std::fprintf(stderr, "consumer (C++): liteipc_kernel_stop: %s\n", liteipc_errno_name(rc));
        return 1;
    }
    std::printf("consumer (C++): liteipc %s, driver version %d.%d\n", LITEIPC_VERSION_STRING,
                static_cast<int>(v.driverVersion & 0xffff),
                static_cast<int>(static_cast<unsigned>(v.driverVersion) >> 16));
    return 0;
}
