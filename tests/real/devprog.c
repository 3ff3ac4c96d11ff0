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
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the device ABI, as the program's own header would have it (64-bit layout) -------------- */

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

_Static_assert(sizeof(IpcMsg) == 80 && sizeof(IpcContent) == 32, "LP64 device layout");
_Static_assert(IPC_SEND_RECV_MSG == 0xC0206904u && IPC_CMS_CMD == 0xC00C6902u, "ioctl numbers");
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
    if (strcmp(mode, "sendcms") == 0 && argc > 2)
        return mode_sendcms((uint32_t)strtoul(argv[2], NULL, 0));
    fprintf(stderr, "devprog: unknown mode \"%s\"\n", mode);
    return 64;
}
