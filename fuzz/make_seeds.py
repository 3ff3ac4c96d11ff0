#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""make_seeds.py - write the hand-made seeds of fuzz/corpus/kernel/ and fuzz/corpus/device/
(scenarios that reach deep paths at once: a CMS, a service and a client exchanging a request with
special objects and its reply, also with the service and the client in other ABI profiles; through the device, a process sending itself objects, receiving,
freeing, calling with a timeout, and a second process calling handle 0). Each byte below is one
decision of the harness's decoder, in its order; if a decoder changes, the seeds still decode (to
something else) and the fuzzer still runs, but rewrite this to keep them useful. The rest of the
corpus was found by the fuzzers and minimised with -merge=1.
Usage: fuzz/make_seeds.py [CORPUS_DIR] (default fuzz/corpus)."""
import os
import sys

FIRST, SECOND, THIRD = 1, 9, 17  # the 1st, 2nd, 3rd live process or task
DEFAULT, IPC_LITE, COMM_IPC = 0, 1, 2  # ABI profiles (src/abi.h)
OBJ_SIZE = {DEFAULT: 24, IPC_LITE: 24, COMM_IPC: 32}  # sizeof(SpecialObj) on LP64


def ready(nth, abi=DEFAULT):
    # create (uid 0, gid 0, profile); open; mmap(PROT_READ, MAP_PRIVATE, 16 pages); task create
    return [0, 0, 0, abi] + [1, nth] + [8, nth, 0, 15] + [5, nth]


def ioctl(tid, cmd):
    return [9, tid, 1, cmd]


def set_cms(tid, n=256):
    return ioctl(tid, 0) + [1, n & 255, n >> 8]


def add_access(cms_tid, task, handle):
    return ioctl(cms_tid, 1) + [2, 1, task, 1, handle]


def send_recv(tid, flag, free_pick=0):
    # flag, outMsg non-NULL, buffToFree: 0 = none, 2 = the last message received
    return ioctl(tid, 3) + [flag, 1, free_pick] + ([0] if free_pick >= 2 else [])


def wide_ids(abi):
    # a sender with 64-bit tokens: no high halves
    return [1] if abi == COMM_IPC else []


def request(handle, code, oneway, data=b"", objects=(), abi=DEFAULT):
    hdr = [0, 0, 0, 1, handle, 0, 0, 0, 0, 0, code, 1 if oneway else 0] + wide_ids(abi)
    size = max(len(data), OBJ_SIZE[abi] * len(objects))
    body = [2, size & 255, size >> 8, len(objects)]
    fill = (bytes(data) + bytes(64))[: min(size, 64)]
    body += list(fill)
    for obj in objects:
        body += [1] + obj
    return hdr + body + [1, 1]


def reply(code, failed=False, abi=DEFAULT):
    return [0, 3 if failed else 1, 1, 0, code, 1] + wide_ids(abi) + [2, 4, 0, 0] + list(b"ok!!") \
        + [1, 1]


OBJ_FD = [0, 3]
OBJ_PTR = [1, 100, 0, 1, 0, 0]
OBJ_SVC = lambda tid: [2, 1, tid, 0, 0, 5]  # handle, token 0 (high half 0), cookie 5


def seeds():
    one = ready(FIRST) + set_cms(FIRST)
    yield "self-oneway", one + send_recv(FIRST, 1) + request(FIRST, 7, True, b"0123456789abcdef") \
        + send_recv(FIRST, 2) + send_recv(FIRST, 4, 2)
    three = ready(FIRST) + set_cms(FIRST) + ready(SECOND) + ready(THIRD)
    exchange = three + send_recv(SECOND, 2) + add_access(FIRST, THIRD, SECOND) \
        + send_recv(THIRD, 3) + request(SECOND, 9, False, b"", [OBJ_FD, OBJ_PTR, OBJ_SVC(THIRD)])
    yield "call-objects-reply", exchange + send_recv(SECOND, 5, 2) + reply(10) + send_recv(THIRD, 4, 2)
    yield "call-failed-reply", exchange + send_recv(SECOND, 5, 2) + reply(10, True)
    yield "call-timeout", exchange + [12, 0xff, 0xff] + send_recv(SECOND, 5, 2) + reply(10)
    yield "call-service-dies", exchange + [3, SECOND] + [12, 0xff, 0x40]
    yield "call-exec", exchange + [4, THIRD] + [2, FIRST, 0, 0]
    # a service and a client of two other profiles: headers, offsets and objects convert
    for name, svc, cli in (("lite-to-comm", COMM_IPC, IPC_LITE), ("comm-to-lite", IPC_LITE, COMM_IPC)):
        mixed = ready(FIRST) + set_cms(FIRST) + ready(SECOND, svc) + ready(THIRD, cli) \
            + send_recv(SECOND, 2) + add_access(FIRST, THIRD, SECOND) + send_recv(THIRD, 3) \
            + request(SECOND, 9, False, b"", [OBJ_FD, OBJ_PTR, OBJ_SVC(THIRD)], cli)
        yield "profiles-" + name, mixed + send_recv(SECOND, 5, 2) + reply(10, abi=svc) \
            + send_recv(THIRD, 4, 2)


# ---- fuzz_device.c ----

D_OPEN = [0, 0, 1, 0]                      # fds[0] = open(O_RDWR)
D_MMAP = [2, 0, 16, 0, 0]                  # 64 KiB, PROT_READ, MAP_PRIVATE, fds[0]
D_SET_CMS = [4, 0, 0, 0, 0, 0, 0x00, 0x01]  # IPC_SET_CMS 256
D_IPC_THREAD = [4, 1, 0, 0, 0, 0]
D_VERSION = [4, 2, 0, 0, 0, 0]
D_RECV = [6, 2, 0, 0]
D_FREE_LAST = [6, 4, 0, 2, 0]
D_MPROTECT = [3, 0]
D_CLOSE = [1, 0]


def d_send(flag, handle_self, handle, code, oneway, data=b"", objects=()):
    size = max(len(data), 24 * len(objects))
    hdr = [6, flag, 0, 0, 0, 0, len(objects), 0]
    hdr += [0] if handle_self else [1, handle]
    hdr += [0, code, 1 if oneway else 0, 1, size]
    body = list((bytes(data) + bytes(64))[: min(size, 64)])
    for obj in objects:
        body += [1] + obj
    return hdr + body + ([1] if size else []) + ([1] if objects else [])


D_OBJECTS = [[0, 2], [1, 100, 0, 0, 0], [2, 1, 8, 0]]  # OBJ_FD stderr, OBJ_PTR, OBJ_SVC


def device_seeds():
    host = D_OPEN + D_MMAP + D_SET_CMS + D_IPC_THREAD + D_VERSION
    yield "self-objects", [60, 0] + host + d_send(1, True, 0, 5, True, objects=D_OBJECTS) \
        + D_RECV + D_FREE_LAST + D_MPROTECT + d_send(3, True, 0, 9, False, b"abcd") + D_CLOSE
    # a phase starts with [calls - 1, 0 host | 1 new virtual process]
    yield "client-to-cms", [4, 0] + host + [3, 1] + D_OPEN + D_MMAP \
        + d_send(1, False, 0, 7, True, b"hello", D_OBJECTS) + d_send(3, False, 0, 8, False, b"x") \
        + [0, 0] + d_send(3, True, 0, 9, False, b"drop what is queued")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    for sub, gen in (("kernel", seeds), ("device", device_seeds)):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
        for name, data in gen():
            with open(os.path.join(out, sub, "seed-" + name), "wb") as f:
                f.write(bytes(data))


if __name__ == "__main__":
    main()
