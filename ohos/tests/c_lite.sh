#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# c_lite.sh - communication_ipc's own C IPC tests (test/unittest/c_lite/ipc) over liteipc-sim:
# its samgr, server and client programs, unchanged, and a kill -9 of the server at the end (the
# CTest entry ohos_ipc_c_lite).
#
# Usage: c_lite.sh LITEIPCD SAMGR SERVER CLIENT
# Each program forks and its parent exits (the child goes on with the tests), so each runs in a
# session of its own (setsid) and is ended by its process group. On a private device name:
#   liteipcd --timeout-ms 1000; SAMGR (becomes the CMS: "set samgr success"); SERVER (tests
#   001-005, then serves in 006); CLIENT (tests 001-008 against the server; 009 adds two death
#   recipients for the server and spins). Once the client spins in 009, the server is killed
#   with SIGKILL: the client's death callbacks 11 and 22 must run.
# Checks: every test of the server and the client passes, except IpcClientTest006, which fails
# on the device too (ProcessAddDeathRecipient returns ERR_NONE for a handle it does not know);
# the death callbacks ran; liteipcd stops cleanly on SIGTERM. Readiness comes from the programs'
# own lines (googletest flushes each result), with bounded waits.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ $# -ne 4 ]; then
    sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
fi
liteipcd=$1 samgr=$2 server=$3 client=$4
timeout_ms=1000
ohos_setup c-lite "$liteipcd"

# start NAME PROGRAM: in a session of its own; its group is remembered for the end.
start() {
    setsid "$2" >"$logs/$1.log" 2>&1 &
    groups+=("$!")
}

# cpu_ticks PID: user time of the process's main thread, in clock ticks.
cpu_ticks() {
    awk '{ sub(/^.*\) /, ""); print $12 }' "/proc/$1/stat" 2>/dev/null || echo -1
}

start_liteipcd "$timeout_ms"

step "samgr: the test's ServiceManager"
start samgr "$samgr"
wait_for_line "$logs/samgr.log" 'set samgr success' 10 || die "samgr did not become the CMS"
ok "samgr is the CMS"

step "server: tests 001-005, then it serves (006)"
start server "$server"
wait_for_line "$logs/server.log" '\[ RUN      \] IpcServerTest.IpcServerTest006' 20 ||
    die "the server did not reach test 006"
ok "the server serves"

step "client: tests 001-009"
start client "$client"
wait_for_line "$logs/client.log" '\[ RUN      \] IpcClientTest.IpcClientTest009' 20 ||
    die "the client did not reach test 009"
client_pid=$(sed -nE 's/.*\[([0-9]+)\] I LOG_CORE: -+test case for ipc client start.*/\1/p' \
    "$logs/client.log" | head -n1)
[ -n "$client_pid" ] || die "the client's test process is unknown"
# 009 adds its death recipients, then spins in while (1): 50 ms of CPU time spent after its
# start line means it is in that loop.
start_ticks=$(cpu_ticks "$client_pid")
for ((i = 0; i < 250; i++)); do
    [ "$(cpu_ticks "$client_pid")" -ge $((start_ticks + 5)) ] && break
    sleep 0.02
done
ok "the client (pid $client_pid) has added its death recipients and spins"

step "kill -9 the server"
kill -KILL -- "-${groups[1]}"
wait_for_line "$logs/client.log" 'server dead callback22 called' 10 ||
    fail "the client's death callbacks did not run"

step "stop: the client and samgr (SIGKILL, they never end), liteipcd (SIGTERM)"
kill -KILL -- "-${groups[2]}" "-${groups[0]}"
stop_term liteipcd "$daemon"

step "checks"
for n in 1 2 3 4 5; do
    if grep -q "\[       OK \] IpcServerTest.IpcServerTest00$n " "$logs/server.log"; then
        ok "IpcServerTest00$n passed"
    else
        fail "IpcServerTest00$n did not pass"
    fi
done
for t in 001 002 002_01 003 004 005 007 008; do
    name=IpcClientTest$t
    [ "$t" = 002_01 ] && name=IpcServerTest002_01
    if grep -q "\[       OK \] IpcClientTest.$name " "$logs/client.log"; then
        ok "$name passed"
    else
        fail "$name did not pass"
    fi
done
if grep -q '\[  FAILED  \] IpcClientTest.IpcClientTest006 ' "$logs/client.log"; then
    ok "IpcClientTest006 failed, as on the device (AddDeathRecipient of an unknown handle gives ERR_NONE)"
fi
others=$(grep -h '\[  FAILED  \]' "$logs"/*.log | grep -v 'IpcClientTest006 ' || true)
if [ -z "$others" ]; then ok "no other test failed"; else fail "other failures: $others"; fi
for cb in 11 22; do
    if grep -q "server dead callback$cb called" "$logs/client.log"; then
        ok "the client's death callback $cb ran after the server's kill -9"
    else
        fail "the client's death callback $cb did not run"
    fi
done
if grep -q "server dead callback33 called" "$logs/client.log"; then
    fail "death callback 33, removed in test 005, ran"
fi

step "every program's output"
show_logs | sed 's/^/    /'
[ "$failed" = 0 ] || exit 1
printf '\ncommunication_ipc c_lite tests: every check passed\n'
