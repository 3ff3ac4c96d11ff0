/* SPDX-License-Identifier: Apache-2.0 */
/*
 * devprog.c - a program written only against the LiteIPC device ABI, as code for the device is:
 * plain open/mmap/ioctl/read/write/close on "/dev/lite_ipc", its OWN copies of the structures
 * and ioctl numbers, and no liteipc header or library. The tests run it three ways: through
 * LD_PRELOAD=libliteipc_preload.so, built with -D_FORTIFY_SOURCE=2 (so that the C library's
 * fortified entry points are used), and linked with liteipc::compat.
 *
 * Usage: devprog MODE [ARGS...]. It talks to the test on stdin/stdout in lines; failures of
 * its own checks go to stderr as "devprog: FAIL ..." and make the exit status non-zero.
 *
 *   check            the device's answers in a fresh kernel (no CMS yet), non-device I/O,
 *                    mprotect refused on the pool, state surviving close, fork. Exit 0
 *                    when every check passed.
 *   nodevice         plain I/O only; prints "threads N", waits for a line, exits.
 *   poolwrite        maps a pool and writes into it: must die of SIGSEGV (exit 3 otherwise).
 *   idle             opens, maps; prints "ready POOLADDR"; waits for EOF or "quit".
 *   svc              a service (needs a CMS that answers 0x7f01 "register" with {0, handle}):
 *                    registers, learns its TID and PID, prints "ready TID PID", then obeys
 *                    stdin commands: "recv" (prints "got TYPE CODE TASKID PID UID GID DATASZ
 *                    TOKEN" or "recv -1 ERRNO"), "reply" (replies to the last request, prints
 *                    "reply RC ERRNO"), "free", "quit".
 *   call H CODE G    asks the CMS for access to handle H if G is 1 (0x7f02 "grant"; prints
 *                    "granted RC"), then calls H with CODE and prints "call RC ERRNO MS".
 *   cms              becomes the CMS (256) and its IPC thread, prints "ready TID", then serves:
 *                    requests get an echo reply, a death notice prints "death TOKEN"; when a
 *                    receive fails it prints "recv -1 ERRNO MS" and exits.
 *   sendcms CODE     sends a one-way request to handle 0; prints "sent RC ERRNO".
 *   abiself LAYOUT CODE   becomes the CMS and its IPC thread, then sends itself a one-way
 *                    request laid out as the user stack LAYOUT does (default, ipc_lite,
 *                    communication_ipc; docs/ABI.md) with one OBJ_SVC naming itself, receives
 *                    it and prints "abi RC ERRNO" then, on success, " CODE DATASZ N ENTRY0
 *                    HANDLE_OK TOKEN SELF" as read in that layout (HANDLE_OK: the object names
 *                    this task; SELF: taskID is the sender).
 *                    If open fails: "open -1 ERRNO".
 *   tid              (needs the CMS of svc) prints "tid BEFORE PID KTID GETTID SYSCALL KTID2
 *                    GETTID2": gettid() before the first open, the host PID, then for the main
 *                    thread and for a second thread that never used the device before, the
 *                    TID the kernel gives it (register) and what gettid() and
 *                    syscall(SYS_gettid) answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the device ABI, as the program's own header would have it (the host's layout) ---------- */

#define DEV_PATH "/dev/lite_ipc"
#define POOL_SIZE 65536u
#define POOL_MAX (64u * 4096u)

enum { MT_REQUEST, MT_REPLY, MT_FAILED_REPLY, MT_DEATH_NOTIFY };
enum { CMS_GEN_HANDLE, CMS_REMOVE_HANDLE, CMS_ADD_ACCESS };
#define SEND 1u
#define RECV 2u
#define BUFF_FREE 4u
#define FLAG_ONEWAY 1u

typedef struct {
    uint32_t handle;
    uint32_t token;
    uint32_t cookie;
} SvcIdentity;

typedef struct {
    uint32_t type;
    SvcIdentity target;
    uint32_t code;
    uint32_t flag;
    uint64_t timestamp;
    uint32_t dataSz;
    void *data;
    uint32_t spObjNum;
    void *offsets;
    uint32_t processID;
    uint32_t taskID;
    uint32_t userID;
    uint32_t gid;
} IpcMsg;

typedef struct {
    uint32_t flag;
    IpcMsg *outMsg;
    IpcMsg *inMsg;
    void *buffToFree;
} IpcContent;

typedef struct {
    uint32_t cmd;
    uint32_t taskID;
    uint32_t serviceHandle;
} CmsCmdContent;

typedef struct {
    int32_t driverVersion;
} IpcVersion;

#define IPC_SET_CMS _IO('i', 1)
#define IPC_CMS_CMD _IOWR('i', 2, CmsCmdContent)
#define IPC_SET_IPC_THREAD _IO('i', 3)
#define IPC_SEND_RECV_MSG _IOWR('i', 4, IpcContent)
#define IPC_GET_VERSION _IOR('i', 5, IpcVersion)

#if defined(__LP64__)
_Static_assert(sizeof(IpcMsg) == 80 && sizeof(IpcContent) == 32, "LP64 device layout");
_Static_assert(IPC_SEND_RECV_MSG == 0xC0206904u, "ioctl number");
#else /* ILP32: exactly the device's own layout */
_Static_assert(sizeof(IpcMsg) == 64 && sizeof(IpcContent) == 16, "ILP32 device layout");
_Static_assert(IPC_SEND_RECV_MSG == 0xC0106904u, "ioctl number");
#endif
_Static_assert(IPC_CMS_CMD == 0xC00C6902u, "ioctl number");
_Static_assert(IPC_GET_VERSION == 0x80046905u && IPC_SET_CMS == 0x6901u, "ioctl numbers");

/* The test suite's request codes (tests/support/sfix.h). */
#define CODE_REGISTER 0x7f01u
#define CODE_GRANT 0x7f02u

/* ---- checks ----------------------------------------------------------------------------------- */

static int failures;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "devprog: FAIL line %d: %s (errno %d)\n", __LINE__, #cond,     \
                    errno);                                                                \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

/* expr must give -1 (or MAP_FAILED) with errno e. */
#define CHECK_ERR(expr, e)                                                                 \
    do {                                                                                   \
        errno = 0;                                                                         \
        long r_ = (long)(expr);                                                            \
        int e_ = errno;                                                                    \
        if (r_ != -1 || e_ != (e)) {                                                       \
            fprintf(stderr, "devprog: FAIL line %d: %s gave %ld errno %d, expected -1 %s\n", \
                    __LINE__, #expr, r_, e_, #e);                                          \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

#define CHECK_EQ(expr, want)                                                               \
    do {                                                                                   \
        errno = 0;                                                                         \
        long r_ = (long)(expr);                                                            \
        int e_ = errno;                                                                    \
        if (r_ != (long)(want)) {                                                          \
            fprintf(stderr, "devprog: FAIL line %d: %s gave %ld errno %d, expected %ld\n", \
                    __LINE__, #expr, r_, e_, (long)(want));                                \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* A line from the test, without its newline; NULL at EOF. */
static char *hear(char *buf, size_t len)
{
    if (!fgets(buf, (int)len, stdin))
        return NULL;
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

/* ---- device helpers ------------------------------------------------------------------------------ */

static int dev_setup(void **pool)
{
    int fd = open(DEV_PATH, O_RDWR);
    void *p;

    if (fd < 0)
        return -1;
    p = mmap(NULL, POOL_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        return -1;
    if (pool)
        *pool = p;
    return fd;
}

static int send_recv(int fd, uint32_t flag, IpcMsg *out, IpcMsg **in, void *to_free)
{
    IpcContent c = {.flag = flag, .outMsg = out, .buffToFree = to_free};
    int r = ioctl(fd, IPC_SEND_RECV_MSG, &c);

    if (r == 0 && in)
        *in = c.inMsg;
    return r;
}

static int request(int fd, uint32_t handle, uint32_t code, uint32_t flag, const void *data,
                   uint32_t size, IpcMsg **reply)
{
    IpcMsg m = {.type = MT_REQUEST, .target = {.handle = handle}, .code = code, .flag = flag,
                .dataSz = size, .data = (void *)data};

    return send_recv(fd, reply ? SEND | RECV : SEND, &m, reply, NULL);
}

static int reply_to(int fd, IpcMsg *req, const void *data, uint32_t size)
{
    IpcMsg m = {.type = MT_REPLY, .target = {.handle = req->taskID}, .code = req->code,
                .timestamp = req->timestamp, .dataSz = size, .data = (void *)data};

    return send_recv(fd, SEND | BUFF_FREE, &m, NULL, req);
}

static int buff_free(int fd, void *buf)
{
    return send_recv(fd, BUFF_FREE, NULL, NULL, buf);
}

/* A call to the test's CMS: 0 and *extra, or -1 (errno). */
static int cms_request(int fd, uint32_t code, uint32_t arg, uint32_t *extra)
{
    IpcMsg *r = NULL;
    int32_t res[2] = {-EPROTO, 0};

    if (request(fd, 0, code, 0, &arg, sizeof(arg), &r) != 0)
        return -1;
    if (r->dataSz >= sizeof(res))
        memcpy(res, r->data, sizeof(res));
    buff_free(fd, r);
    if (extra)
        *extra = (uint32_t)res[1];
    if (res[0] != 0) {
        errno = -res[0];
        return -1;
    }
    return 0;
}

static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

/* ---- mode check ------------------------------------------------------------------------------------ */

/* A file mapped at an offset past 4 GiB gets the data there: the whole 64-bit offset reaches
   the host, as it must where off_t has 64 bits (LP64, and a 32-bit build with
   _FILE_OFFSET_BITS=64, whose mmap is the C library's mmap64). The file is sparse. */
static void check_mmap_high_offset(int fd)
{
#if defined(__LP64__) || (defined(_FILE_OFFSET_BITS) && _FILE_OFFSET_BITS == 64)
    const off_t at = ((off_t)1 << 32) + 4096;
    void *m;

    CHECK_EQ(pwrite(fd, "high", 4, at), 4);
    m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, at);
    CHECK(m != MAP_FAILED && memcmp(m, "high", 4) == 0);
    if (m != MAP_FAILED)
        CHECK_EQ(munmap(m, 4096), 0);
#else
    (void)fd; /* a 32-bit off_t cannot name such an offset */
#endif
}

/* open/read/write/close/ioctl/mmap of ordinary files keep their usual meaning. */
static void check_plain_io(void)
{
    char path[] = "/tmp/devprog-XXXXXX", buf[16] = {0};
    int tmp = mkstemp(path), fd, pfd[2], avail = -1;
    void *m;

    CHECK(tmp >= 0);
    close(tmp);
    fd = open(path, O_RDWR | O_TRUNC);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, "hello", 5), 5);
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    CHECK_EQ(read(fd, buf, sizeof(buf)), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0); /* a file mapping is the kernel's */
    CHECK(m != MAP_FAILED && memcmp(m, "hello", 5) == 0);
    CHECK_EQ(munmap(m, 4096), 0);
    check_mmap_high_offset(fd);
    CHECK_EQ(close(fd), 0);
    CHECK_EQ(unlink(path), 0);
    CHECK_ERR(open(path, O_RDONLY), ENOENT);
    CHECK_ERR(open("/dev/lite_ipc0", O_RDWR), ENOENT); /* only the exact device path */
    fd = openat(AT_FDCWD, "/dev/null", O_RDONLY);
    CHECK(fd >= 0);
    CHECK_EQ(read(fd, buf, sizeof(buf)), 0);
    CHECK_ERR(ioctl(fd, IPC_GET_VERSION, buf), ENOTTY); /* not the device: the host's answer */
    CHECK_EQ(close(fd), 0);
    CHECK(pipe(pfd) == 0);
    CHECK_EQ(write(pfd[1], "abc", 3), 3);
    CHECK_EQ(ioctl(pfd[0], FIONREAD, &avail), 0);
    CHECK_EQ(avail, 3);
    close(pfd[0]);
    close(pfd[1]);
    CHECK_ERR(close(12345), EBADF);
}

static void check_before_mmap(int fd)
{
    IpcVersion ver = {0};
    volatile size_t unknown = 8; /* a length the compiler cannot see (fortified: __read_chk) */
    char buf[8];

    /* opened, pool not mapped: every command gives ENOMEM (§2.5) */
    CHECK_ERR(ioctl(fd, IPC_GET_VERSION, &ver), ENOMEM);
    CHECK_ERR(ioctl(fd, IPC_SET_CMS, 256UL), ENOMEM);
    CHECK_ERR(ioctl(fd, IPC_SET_IPC_THREAD, 0UL), ENOMEM);
    /* no read or write method (§2.4) */
    CHECK_ERR(read(fd, buf, sizeof(buf)), EBADF);
    CHECK_ERR(read(fd, buf, unknown), EBADF);
    CHECK_ERR(write(fd, "x", 1), EBADF);
    /* what the driver refuses is MAP_FAILED/ENOMEM; what the generic layer refuses keeps
       its own errno (§2.3) */
    CHECK(mmap(NULL, POOL_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) == MAP_FAILED &&
          errno == ENOMEM);
    CHECK(mmap(NULL, POOL_SIZE, PROT_NONE, MAP_PRIVATE, fd, 0) == MAP_FAILED && errno == ENOMEM);
    CHECK(mmap(NULL, POOL_SIZE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) == MAP_FAILED &&
          errno == ENOMEM);
    CHECK(mmap(NULL, POOL_SIZE, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == ENOMEM);
    CHECK(mmap(NULL, POOL_MAX + 1, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED &&
          errno == ENOMEM);
    CHECK(mmap(NULL, (size_t)-1, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED && errno == EINVAL);
    CHECK(mmap(NULL, POOL_SIZE, PROT_READ, MAP_SHARED | MAP_PRIVATE, fd, 0) == MAP_FAILED &&
          errno == EINVAL);
}

static void check_wronly(void)
{
    int fd = open(DEV_PATH, O_WRONLY | O_NONBLOCK | O_CLOEXEC); /* flags do not matter */
    char buf[4];

    CHECK(fd >= 0);
    CHECK(mmap(NULL, POOL_SIZE, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED && errno == EACCES);
    CHECK_ERR(read(fd, buf, sizeof(buf)), EACCES); /* that direction is forbidden */
    CHECK_ERR(write(fd, "x", 1), EBADF);
    CHECK_EQ(close(fd), 0);
}

/* A fresh kernel, no CMS yet. */
static void check_mapped(int fd, char *pool)
{
    IpcVersion ver = {0};
    IpcContent empty = {0};
    CmsCmdContent cc = {.cmd = CMS_REMOVE_HANDLE, .serviceHandle = 1};
    IpcMsg *in = NULL;
    long tid;

    CHECK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED && errno == ENOMEM);
    CHECK_EQ(ioctl(fd, IPC_GET_VERSION, &ver), 0);
    CHECK_EQ(ver.driverVersion, 2);
    CHECK_ERR(ioctl(fd, IPC_GET_VERSION, NULL), EINVAL);
    CHECK_ERR(ioctl(fd, 0x6999UL, &ver), EINVAL); /* unknown command */
    /* before any CMS */
    CHECK_ERR(ioctl(fd, IPC_SET_IPC_THREAD, 0UL), EINVAL);
    CHECK_ERR(ioctl(fd, IPC_SEND_RECV_MSG, &empty), EINVAL);
    CHECK_ERR(ioctl(fd, IPC_CMS_CMD, &cc), EACCES);
    CHECK_ERR(ioctl(fd, IPC_SET_CMS, 63UL), EINVAL); /* below the device's sizeof(IpcMsg) */
    CHECK_EQ(ioctl(fd, IPC_SET_CMS, 256UL), 0);
    CHECK_ERR(ioctl(fd, IPC_SET_CMS, 256UL), EEXIST);
    CHECK_EQ(ioctl(fd, IPC_CMS_CMD, &cc), 0);
    tid = ioctl(fd, IPC_SET_IPC_THREAD, 0UL);
    CHECK(tid > 0 && tid < 128);
    CHECK_ERR(ioctl(fd, IPC_SET_IPC_THREAD, 0UL), EINVAL);
    /* a message to itself lands in its own pool, stamped with its credentials */
    CHECK_EQ(request(fd, (uint32_t)tid, 7, FLAG_ONEWAY, "ping", 4, NULL), 0);
    if (failures)
        return; /* the receive below would wait forever */
    CHECK_EQ(send_recv(fd, RECV, NULL, &in, NULL), 0);
    if (in) {
        CHECK((char *)in >= pool && (char *)in < pool + POOL_SIZE);
        CHECK(in->type == MT_REQUEST && in->code == 7 && in->dataSz == 4);
        CHECK(in->data != NULL && memcmp(in->data, "ping", 4) == 0);
        CHECK_EQ(in->taskID, tid);
        CHECK_EQ(in->userID, getuid());
        CHECK_EQ(in->gid, getgid());
        CHECK_EQ(buff_free(fd, in), 0);
        CHECK_ERR(buff_free(fd, in), EFAULT);
    }
}

/* mprotect on the pool is refused with EPERM (driver 2024-09); elsewhere it is the host's. */
static void check_mprotect(char *pool)
{
    void *anon = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    CHECK_ERR(mprotect(pool, POOL_SIZE, PROT_READ | PROT_WRITE), EPERM);
    CHECK_ERR(mprotect(pool + 4096, 4096, PROT_READ), EPERM);
    CHECK_ERR(mprotect(pool, 4096, PROT_NONE), EPERM);
    CHECK(anon != MAP_FAILED);
    CHECK_EQ(mprotect(anon, 4096, PROT_READ | PROT_WRITE), 0);
    CHECK_EQ(munmap(anon, 4096), 0);
}

/* close does nothing to the process's IPC state (§2.2). */
static void check_survives_close(int fd, void *pool)
{
    IpcVersion ver = {0};
    int fd2;

    CHECK_EQ(close(fd), 0);
    CHECK_ERR(fcntl(fd, F_GETFD), EBADF); /* the descriptor number really was given back */
    CHECK_ERR(ioctl(fd, IPC_GET_VERSION, &ver), EBADF);
    fd2 = open(DEV_PATH, O_RDONLY);
    CHECK(fd2 >= 0);
    CHECK_EQ(ioctl(fd2, IPC_GET_VERSION, &ver), 0); /* the pool is still mapped */
    CHECK_ERR(ioctl(fd2, IPC_SET_CMS, 256UL), EEXIST);
    CHECK_ERR(ioctl(fd2, IPC_SET_IPC_THREAD, 0UL), EINVAL);
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd2, 0) == MAP_FAILED && errno == ENOMEM);
    /* munmap of the pool: the kernel still counts it as mapped (Q24) */
    CHECK_EQ(munmap(pool, POOL_SIZE), 0);
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd2, 0) == MAP_FAILED && errno == ENOMEM);
    CHECK_EQ(ioctl(fd2, IPC_GET_VERSION, &ver), 0);
    CHECK_EQ(close(fd2), 0);
}

/* A fork child keeps the descriptor and is a new process that needs its own pool (§7.6). */
static void check_fork(void)
{
    int fd = open(DEV_PATH, O_RDWR), status = -1;
    pid_t pid;

    CHECK(fd >= 0);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        IpcVersion ver = {0};
        void *p;
        int bad = 0;

        errno = 0;
        bad |= ioctl(fd, IPC_GET_VERSION, &ver) != -1 || errno != ENOMEM;
        p = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
        bad |= (p == MAP_FAILED) << 1;
        bad |= (ioctl(fd, IPC_GET_VERSION, &ver) != 0 || ver.driverVersion != 2) << 2;
        errno = 0;
        bad |= (ioctl(fd, IPC_SET_CMS, 256UL) != -1 || errno != EEXIST) << 3;
        bad |= (ioctl(fd, IPC_SET_IPC_THREAD, 0UL) <= 0) << 4; /* not inherited */
        bad |= (close(fd) != 0) << 5;
        _exit(bad);
    }
    CHECK(pid > 0);
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(close(fd), 0);
}

static int mode_check(void)
{
    /* flags the compiler cannot see (fortified builds then call __open_2) */
    volatile int rdwr = O_RDWR;
    void *pool;
    int fd;

    CHECK_EQ(thread_count(), 1); /* nothing runs before the device is opened */
    check_plain_io();
    fd = open(DEV_PATH, rdwr);
    CHECK(fd >= 0);
    if (fd < 0)
        return 1;
    check_before_mmap(fd);
    check_wronly();
    pool = mmap(NULL, POOL_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(pool != MAP_FAILED);
    if (pool == MAP_FAILED)
        return 1;
    check_mapped(fd, pool);
    check_mprotect(pool);
    check_survives_close(fd, pool);
    check_fork();
    check_plain_io(); /* and still untouched after the device was used */
    return failures != 0;
}

/* ---- other modes -------------------------------------------------------------------------------- */

static int mode_nodevice(void)
{
    char line[64];

    check_plain_io();
    say("threads %d\n", thread_count());
    hear(line, sizeof(line));
    return failures != 0;
}

static int mode_poolwrite(void)
{
    volatile char *pool = NULL;
    int fd = dev_setup((void **)&pool);

    if (fd < 0)
        return 2;
    signal(SIGSEGV, SIG_DFL); /* die of it, even where a sanitizer runtime would catch it */
    pool[100] = (char)(pool[100] + 1); /* only the kernel writes pools */
    return 3;
}

static int mode_idle(void)
{
    void *pool = NULL;
    char line[64];

    if (dev_setup(&pool) < 0)
        return 2;
    say("ready %p\n", pool);
    while (hear(line, sizeof(line)) && strcmp(line, "quit") != 0) {
    }
    return 0;
}

static int mode_svc(void)
{
    char line[64];
    uint32_t tid = 0;
    IpcMsg *in = NULL, *held = NULL;
    int fd = dev_setup(NULL);

    if (fd < 0 || cms_request(fd, CODE_REGISTER, 0, &tid) != 0)
        return 2;
    /* a message to itself tells it its process ID */
    if (request(fd, tid, 1, FLAG_ONEWAY, NULL, 0, NULL) != 0 ||
        send_recv(fd, RECV, NULL, &in, NULL) != 0)
        return 3;
    say("ready %u %u\n", tid, in->processID);
    buff_free(fd, in);
    while (hear(line, sizeof(line))) {
        if (strcmp(line, "recv") == 0) {
            if (send_recv(fd, RECV, NULL, &in, NULL) != 0) {
                say("recv -1 %d\n", errno);
                continue;
            }
            say("got %u %u %u %u %u %u %u %u\n", in->type, in->code, in->taskID, in->processID,
                in->userID, in->gid, in->dataSz, in->target.token);
            held = in;
        } else if (strcmp(line, "reply") == 0 && held) {
            int r = reply_to(fd, held, "pong", 4);

            say("reply %d %d\n", r, r ? errno : 0);
            held = NULL;
        } else if (strcmp(line, "free") == 0 && held) {
            buff_free(fd, held);
            held = NULL;
        } else if (strcmp(line, "quit") == 0) {
            break;
        }
    }
    return 0;
}

static int mode_call(uint32_t handle, uint32_t code, int grant)
{
    IpcMsg *r = NULL;
    uint64_t t0;
    int fd = dev_setup(NULL), rc;

    if (fd < 0)
        return 2;
    if (grant) {
        rc = cms_request(fd, CODE_GRANT, handle, NULL);
        say("granted %d\n", rc == 0 ? 0 : -errno);
    }
    t0 = now_ms();
    rc = request(fd, handle, code, 0, "hi", 2, &r);
    say("call %d %d %llu\n", rc, rc ? errno : 0, (unsigned long long)(now_ms() - t0));
    if (rc == 0)
        buff_free(fd, r);
    return 0;
}

static int mode_cms(void)
{
    int fd = dev_setup(NULL);
    long tid;

    if (fd < 0 || ioctl(fd, IPC_SET_CMS, 256UL) != 0)
        return 2;
    tid = ioctl(fd, IPC_SET_IPC_THREAD, 0UL);
    if (tid <= 0)
        return 3;
    say("ready %ld\n", tid);
    for (;;) {
        IpcMsg *in = NULL;
        uint64_t t0 = now_ms();

        if (send_recv(fd, RECV, NULL, &in, NULL) != 0) {
            say("recv -1 %d %llu\n", errno, (unsigned long long)(now_ms() - t0));
            return 0;
        }
        if (in->type == MT_DEATH_NOTIFY) {
            say("death %u\n", in->target.token);
            buff_free(fd, in);
        } else if (in->type == MT_REQUEST && in->flag != FLAG_ONEWAY) {
            reply_to(fd, in, in->data, in->dataSz);
        } else {
            buff_free(fd, in);
        }
    }
}

static int mode_sendcms(uint32_t code)
{
    int fd = dev_setup(NULL), rc;

    if (fd < 0)
        return 2;
    rc = request(fd, 0, code, FLAG_ONEWAY, NULL, 0, NULL);
    say("sent %d %d\n", rc, rc ? errno : 0);
    return 0;
}

/* communication_ipc's structures (its SvcIdentity holds uintptr_t token and cookie): 64-bit
   on LP64; on ILP32 they are the device's own, like every profile's. */
typedef struct {
    int32_t handle;
    uintptr_t token;
    uintptr_t cookie;
} CiSvc;

typedef struct {
    uint32_t type;
    CiSvc target;
    uint32_t code, flag;
    uint64_t timestamp;
    uint32_t dataSz;
    void *data;
    uint32_t spObjNum;
    void *offsets;
    uint32_t processID, taskID, userID, gid;
} CiMsg;

/* The special objects: the driver's (default, ipc_lite) and communication_ipc's. */
typedef struct {
    uint32_t buffSz;
    void *buff;
} BuffPtr;

typedef struct {
    uint32_t type;
    union {
        uint32_t fd;
        BuffPtr ptr;
        SvcIdentity svc;
    } content;
} SpecialObj;

typedef struct {
    uint32_t type;
    union {
        uint32_t fd;
        CiSvc svc;
    } content;
} CiObj;

#if defined(__LP64__)
_Static_assert(sizeof(CiMsg) == 96 && offsetof(CiMsg, dataSz) == 48, "communication_ipc");
_Static_assert(offsetof(SpecialObj, content.svc.token) == 12 && sizeof(SpecialObj) == 24, "obj");
_Static_assert(offsetof(CiObj, content.svc.token) == 16 && sizeof(CiObj) == 32, "ci obj");
#else /* ILP32: every profile is the device's layout */
_Static_assert(sizeof(CiMsg) == 64 && offsetof(CiMsg, dataSz) == 32, "communication_ipc");
_Static_assert(offsetof(CiMsg, offsets) == 44 && offsetof(CiMsg, taskID) == 52, "ci");
_Static_assert(offsetof(SpecialObj, content.svc.token) == 8 && sizeof(SpecialObj) == 16, "obj");
_Static_assert(offsetof(CiObj, content.svc.token) == 8 && sizeof(CiObj) == 16, "ci obj");
#endif

/* Build the request in layout L (0 default, 1 ipc_lite, 2 communication_ipc), at raw. */
static void abi_build(int L, void *raw, uint32_t tid, uint32_t code, char *data, void *offs)
{
    uint32_t obj_off = 4, entry32 = obj_off;
    size_t entry = obj_off;

    if (L == 2) {
        CiObj o = {.type = 2 /* OBJ_SVC */, .content.svc = {(int32_t)tid, 9, 0}};
        CiMsg m = {.type = MT_REQUEST, .target = {(int32_t)tid, 0x1234, 0}, .code = code,
                   .flag = FLAG_ONEWAY, .dataSz = 40, .data = data, .spObjNum = 1,
                   .offsets = offs};

        memcpy(data + obj_off, &o, sizeof(o));
        memcpy(offs, &entry, sizeof(entry));
        memcpy(raw, &m, sizeof(m));
        return;
    }
    SpecialObj o = {.type = 2 /* OBJ_SVC */, .content.svc = {tid, 9, 0}};
    IpcMsg m = {.type = MT_REQUEST, .target = {tid, 0x1234, 0}, .code = code,
                .flag = FLAG_ONEWAY, .dataSz = 40, .data = data, .spObjNum = 1, .offsets = offs};

    memcpy(data + obj_off, &o, sizeof(o));
    if (L == 0)
        memcpy(offs, &entry32, sizeof(entry32));
    else
        memcpy(offs, &entry, sizeof(entry));
    memcpy(raw, &m, sizeof(m));
}

static int mode_abiself(const char *layout, uint32_t code)
{
    int L = strcmp(layout, "communication_ipc") == 0 ? 2 : strcmp(layout, "ipc_lite") == 0;
    int fd = open(DEV_PATH, O_RDWR), tid, rc;
    unsigned char raw[96], in[96];
    char data[40] = {0};
    uint64_t offs = 0, token = 0;
    uint32_t entry32 = 0, handle, code_in, dsz, n, task;
    size_t entry = 0;
    IpcContent c = {.flag = SEND, .outMsg = (IpcMsg *)raw};

    if (fd < 0) {
        say("open -1 %d\n", errno);
        return 0;
    }
    if (mmap(NULL, POOL_SIZE, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED)
        return 2;
    CHECK_EQ(ioctl(fd, IPC_SET_CMS, 256UL), 0);
    tid = ioctl(fd, IPC_SET_IPC_THREAD, 0UL);
    CHECK(tid > 0);
    abi_build(L, raw, (uint32_t)tid, code, data, &offs);
    rc = ioctl(fd, IPC_SEND_RECV_MSG, &c);
    if (rc != 0) {
        say("abi %d %d\n", rc, errno);
        return 0;
    }
    c = (IpcContent){.flag = RECV};
    CHECK_EQ(ioctl(fd, IPC_SEND_RECV_MSG, &c), 0);
    memcpy(in, c.inMsg, L == 2 ? sizeof(CiMsg) : sizeof(IpcMsg));
    if (L == 2) {
        CiMsg *m = (CiMsg *)in;
        CiObj o;

        code_in = m->code, dsz = m->dataSz, n = m->spObjNum, task = m->taskID;
        memcpy(&entry, m->offsets, sizeof(entry));
        memcpy(&o, (char *)m->data + entry, sizeof(o));
        handle = (uint32_t)o.content.svc.handle, token = o.content.svc.token;
    } else {
        IpcMsg *m = (IpcMsg *)in;
        SpecialObj o;

        code_in = m->code, dsz = m->dataSz, n = m->spObjNum, task = m->taskID;
        if (L == 0)
            memcpy(&entry32, m->offsets, sizeof(entry32)), entry = entry32;
        else
            memcpy(&entry, m->offsets, sizeof(entry));
        memcpy(&o, (char *)m->data + entry, sizeof(o));
        handle = o.content.svc.handle, token = o.content.svc.token;
    }
    say("abi 0 0 %u %u %u %llu %d %llu %d\n", code_in, dsz, n, (unsigned long long)entry,
        handle == (uint32_t)tid, (unsigned long long)token, task == (uint32_t)tid);
    c = (IpcContent){.flag = BUFF_FREE, .buffToFree = c.inMsg};
    CHECK_EQ(ioctl(fd, IPC_SEND_RECV_MSG, &c), 0);
    return failures ? 1 : 0;
}

/* A second thread: what gettid() answers before its first device call, then its kernel TID. */
struct tid_probe {
    int fd;
    long gettid_value;
    uint32_t ktid;
    int rc;
};

static void *tid_probe_thread(void *arg)
{
    struct tid_probe *probe = arg;

    probe->gettid_value = (long)gettid();
    probe->rc = cms_request(probe->fd, CODE_REGISTER, 0, &probe->ktid);
    return NULL;
}

static int mode_tid(void)
{
    long before = (long)gettid(), g, sc;
    struct tid_probe probe = {.rc = -1};
    uint32_t ktid = 0;
    pthread_t th;
    int fd = dev_setup(NULL);

    if (fd < 0 || cms_request(fd, CODE_REGISTER, 0, &ktid) != 0)
        return 2;
    g = (long)gettid();
    sc = syscall(SYS_gettid);
    probe.fd = fd;
    if (pthread_create(&th, NULL, tid_probe_thread, &probe) != 0 || pthread_join(th, NULL) != 0 ||
        probe.rc != 0)
        return 3;
    say("tid %ld %ld %u %ld %ld %u %ld\n", before, (long)getpid(), ktid, g, sc, probe.ktid,
        probe.gettid_value);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";

    signal(SIGALRM, SIG_DFL);
    alarm(30); /* never outlive a test that lost track of this program */
    if (strcmp(mode, "check") == 0)
        return mode_check();
    if (strcmp(mode, "nodevice") == 0)
        return mode_nodevice();
    if (strcmp(mode, "poolwrite") == 0)
        return mode_poolwrite();
    if (strcmp(mode, "idle") == 0)
        return mode_idle();
    if (strcmp(mode, "svc") == 0)
        return mode_svc();
    if (strcmp(mode, "call") == 0 && argc > 4)
        return mode_call((uint32_t)strtoul(argv[2], NULL, 0), (uint32_t)strtoul(argv[3], NULL, 0),
                         atoi(argv[4]));
    if (strcmp(mode, "cms") == 0)
        return mode_cms();
    if (strcmp(mode, "tid") == 0)
        return mode_tid();
    if (strcmp(mode, "sendcms") == 0 && argc > 2)
        return mode_sendcms((uint32_t)strtoul(argv[2], NULL, 0));
    if (strcmp(mode, "abiself") == 0 && argc > 3)
        return mode_abiself(argv[2], (uint32_t)strtoul(argv[3], NULL, 0));
    fprintf(stderr, "devprog: unknown mode \"%s\"\n", mode);
    return 64;
}
