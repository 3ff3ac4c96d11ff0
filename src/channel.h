/* SPDX-License-Identifier: Apache-2.0 */
/*
 * channel.h - what a task and the broker share (private to the library).
 *
 * Every byte a process can write is untrusted (DESIGN.md invariant 9): nothing the broker or
 * another process depends on lives there. Three kinds of shared object, made by the broker and
 * mapped by each process at its own address (so they hold no pointers), every memory file
 * sealed against resizing:
 *
 *   bell      one per kernel, written by the kernel's host alone: the broker's "am I asleep"
 *             flag, its beat, the kernel's `dead` flag, the listeners (below), and each task's
 *             futex word. Every process maps it read-only (sealed F_SEAL_FUTURE_WRITE): it
 *             waits and wakes on it, never writes it.
 *   doorbell  one eventfd per process, which it writes to wake a sleeping broker. Its own: a
 *             process that drains or floods it delays no one but itself.
 *   region    one per process: a header with the bitmap of its posted slots and its host_bell
 *             word, then one channel per task of the process. Mapped read-write by that
 *             process and the broker only.
 *
 * A channel is a task's command slot. The protocol is a single-producer hand-off on `state`:
 *
 *   IDLE --task stages a command, store-release--> POSTED
 *   POSTED --broker: the command waits for another task, CAS--> PARKED
 *   POSTED/PARKED --task goes to sleep, CAS--> WAITING
 *   POSTED/PARKED/WAITING --broker writes the result, exchange-release--> DONE --task--> IDLE
 *
 * A task polls briefly while its command is POSTED (the broker usually answers within a
 * microsecond or two) but sleeps at once when it is PARKED: then it waits for another task,
 * and a polling waiter only steals the CPU that task may need. It polls only while the broker
 * is on a CPU: not asleep, and its beat (bumped on every turn of its loop and every 16 polls of
 * its own idle spin) still moving; a broker that shares the caller's CPU gets it at once.
 *
 * The task rings the broker by setting its slot's bit in its region, then (only if the broker
 * said it sleeps) writing its doorbell. The broker finds posts by looking at the bitmap of every
 * connected process. It announces sleep with a seq_cst store and re-checks the bitmaps before
 * sleeping; the task sets its bit with a seq_cst RMW before loading the flag (a Dekker pair: one
 * of them always sees the other). A process that clears its own bits loses only its own posts,
 * and not for good: a task that sleeps rings again at its CLIENT_WAKE_CHECK_NS check unless it
 * knows the broker has taken the command: it saw PARKED, or the broker, parking it while the
 * task slept, marked it `taken` (and the broker ignores the ring of a command it has parked).
 *
 * A task sleeps on its word in the bell, wake[TID].seq, and only after saying so (WAITING). Whoever
 * completes a WAITING channel, always the broker, bumps the word, then FUTEX_WAKEs it (FUTEX_WAIT
 * and FUTEX_WAKE need only read access; a host task may sleep on a private futex, see lk_wake). The
 * broker hands that FUTEX_WAKE to the task whose command it is serving, when that task is awake and
 * polling (its channel still POSTED): it writes the TID into the poster's wake_tid before the
 * poster's own answer, and the poster, running on the CPU where the woken task last ran, wakes it
 * there (a local wake-up, not a cross-CPU one). If the poster went to sleep meanwhile, the broker
 * takes the TID back (an exchange: exactly one of them wakes). The poster may be another process,
 * and may never do it (killed, buggy, hostile): the broker watches every wake-up it hands, and does
 * those whose sleeper is still asleep on a complete channel after BROKER_HAND_GRACE_NS (1 ms)
 * itself. So a poster can delay another task's wake-up by that much at most; a wake_tid it writes
 * is checked, and at worst makes a spurious wake-up. Besides, a task that is never woken still
 * looks at its channel every CLIENT_WAKE_CHECK_NS.
 *
 * Listening (docs/ARCHITECTURE.md): a host task waiting in the kernel serves the real
 * processes' posts itself, counted in `listeners` (polling, `pollers`, or asleep in futex_waitv,
 * `sleepers`). A real process whose PID is `heard` then bumps its own host_bell and wakes it
 * instead of ringing the broker; the listener counts itself before it looks at the bits, the
 * poster sets its bit before it reads the count (the same Dekker pair as the broker's sleep).
 *
 * Everything in a channel is user-writable: the broker copies what it needs out of it once,
 * checks its own copy, and only copies payload bytes from the staging area (copy_from_user).
 */
#ifndef LITEIPC_CHANNEL_H
#define LITEIPC_CHANNEL_H

#include <stdatomic.h>
#include <stdint.h>

#include <liteipc/lite_ipc.h>

#include "abi.h"

enum lk_chan_state {
    LK_CHAN_IDLE = 0,
    LK_CHAN_POSTED = 1,
    LK_CHAN_WAITING = 2,
    LK_CHAN_DONE = 3,
    LK_CHAN_PARKED = 4,
};

/* Copy-out instructions for the task, after DONE (mirror of lk_copyout). */
enum lk_chan_copyout {
    LK_CHAN_COPYOUT_NONE,
    LK_CHAN_COPYOUT_CMS,
    LK_CHAN_COPYOUT_VERSION,
    LK_CHAN_COPYOUT_INMSG,
};

/*
 * A task's futex word, on its own cache line: bumped by whoever wakes the task. `private`: 1
 * while the task sleeps on it with a private futex, which spares the system a page lookup per
 * futex call. Only a task of the kernel's host does, which uses the broker's mapping of the bell
 * (a private futex is known by its address), and only while no real process is connected: its
 * wake-up can then be handed to nobody who could not do it (a real process). The task sets it
 * before it looks at the count of real processes; the broker counts a real process before it
 * hands a wake-up (a Dekker pair), and wakes a private sleeper itself, with a private FUTEX_WAKE
 * (lk_wake_task), after its bump of the word. The broker clears it when it gives the TID.
 */
typedef struct lk_wake {
    _Alignas(64) _Atomic uint32_t seq;
    _Atomic uint32_t private;
} lk_wake;

/* Written by the broker only; mapped read-only by every process of the kernel. */
typedef struct lk_bell {
    _Atomic uint32_t broker_sleeping;
    _Atomic uint32_t dead; /* the kernel has stopped: every call fails with ESHUTDOWN */
    _Alignas(64) _Atomic uint32_t beat; /* bumped by the broker as it runs (see above) */
    /* Host tasks that serve real processes' posts while they wait (see "Listening" above). */
    _Alignas(64) _Atomic uint32_t listeners; /* polling or asleep */
    _Atomic uint32_t pollers;                /* of which polling */
    _Atomic uint32_t sleepers;               /* of which asleep in futex_waitv */
    _Atomic uint32_t listen_gen;             /* bumped when `heard` changes */
    _Atomic uint32_t host_call_us;           /* when a host task last entered the kernel (µs,
                                                wrapping; 32 bits: read-only maps on 32-bit) */
    _Atomic uint8_t heard[64];               /* by PID: listeners wait on its host_bell */
    lk_wake wake[MAX_SERVICE_NUM]; /* by TID: where each task sleeps */
} lk_bell;

typedef struct lk_chan {
    _Atomic uint32_t state; /* enum lk_chan_state; the task's futex word */
    _Atomic uint32_t taken; /* 0 when posted; 1: the broker parked it while the task slept */
    /* command, written by the task */
    uint64_t cmd;
    uint64_t arg;
    CmsCmdContent cms;
    uint32_t pad1;
    IpcContent content;
    IpcMsg out;          /* the sender's header, decoded from its ABI profile (abi.h) */
    lk_msg_hi out_hi;    /* the high halves of a 64-bit target token/cookie */
    uint32_t data_len;   /* bytes staged for out.data */
    uint32_t off_count;  /* u32 entries staged for out.offsets, after the data */
    uint32_t faults;     /* LK_FAULT_* (kernel.h): user memory that could not be read */
    /* result, written by the broker (or by the host task that ran the kernel for it) */
    int32_t done_cpu;    /* the CPU the command was completed on, or -1: a hint (client.c) */
    int32_t result;
    uint32_t copyout;    /* enum lk_chan_copyout */
    uint64_t in_msg;
    CmsCmdContent cms_out;
    int32_t version_out;
    uint32_t fds_pending; /* OBJ_FD descriptors the task must fetch before returning (client.c) */
    _Atomic int32_t wake_tid; /* a task the broker asks this one to wake; 0: none (see above) */
    /* staging[0..data_len) data, then off_count u32 offsets (at an aligned position, with
       room for as many size_t entries: they are read there and narrowed in place) */
    _Alignas(16) unsigned char staging[];
} lk_chan;

typedef struct lk_proc_region {
    _Atomic uint64_t pending_slots[2]; /* bit s: slot s posted */
    _Atomic uint32_t host_bell;        /* bumped by the process after a post a listener serves */
    uint32_t pad0;
    uint64_t pad[5];
    /* then task_limit channels of lk_chan_size() bytes each, from LK_REGION_HEADER */
} lk_proc_region;

#define LK_REGION_HEADER 64u

/* FUTEX_WAKE task tid (a user TID, checked), whose word the broker has bumped already. */
void lk_wake_task(lk_bell *bell, int32_t tid);

/* Byte offset of the offsets array inside staging. */
static inline uint32_t lk_chan_off_pos(uint32_t data_max)
{
    return (data_max + 7u) & ~7u;
}

/* Size of one channel for the given maxima (page multiple, so channels never share pages). */
static inline size_t lk_chan_size(uint32_t data_max, uint32_t object_max)
{
    size_t n = sizeof(lk_chan) + lk_chan_off_pos(data_max) + 8u * (size_t)object_max;

    return (n + 4095u) & ~(size_t)4095u;
}

#endif /* LITEIPC_CHANNEL_H */
