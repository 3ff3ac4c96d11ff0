#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# demo-kill.sh - separate programs on one simulated /dev/lite_ipc, and a service killed mid-call.
#
# Starts, each as its own process, on a private device name (LITEIPC_DEVICE=demo-$$):
#   liteipcd --timeout-ms 1000    the kernel, with a 1 s reply timeout instead of the device's 5 s
#   liteipc-sm                    the ServiceManager (handle 0)
#   liteipc-echo --delay-ms 300   the echo service, which takes 300 ms per request
#   liteipc-client                calls echo back to back
# then kills the echo service with SIGKILL while it holds the client's third request, and shows
#   - the ServiceManager's IPC thread receiving MT_DEATH_NOTIFY and removing the service,
#   - the client's IPC thread receiving MT_DEATH_NOTIFY,
#   - the client's call ending with ETIME when the kernel's timeout runs out (a death does not
#     end a caller's wait, as on the device), and its next LOOKUP getting a FAILED_REPLY,
# stops the ServiceManager and liteipcd with SIGTERM, and checks that nothing is left: no
# process, no socket name, nothing in /dev/shm.
#
# Usage: scripts/demo-kill.sh [BUILD_DIR]           (default: build/ of this tree)
#        scripts/demo-kill.sh --liteipcd PATH --sm PATH --echo PATH --client PATH
# Exit status 0 if every check passed. Readiness is read from the programs' own log lines,
# with bounded waits; nothing is synchronised by a fixed sleep.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$here/build
liteipcd="" sm="" echo_svc="" client=""
while [ $# -gt 0 ]; do
    case "$1" in
    --liteipcd) liteipcd=$2; shift 2 ;;
    --sm) sm=$2; shift 2 ;;
    --echo) echo_svc=$2; shift 2 ;;
    --client) client=$2; shift 2 ;;
    -h | --help) sed -n '2,24s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "demo-kill: unknown option $1" >&2; exit 2 ;;
    *) build=$1; shift ;;
    esac
done
: "${liteipcd:=$build/tools/liteipcd}"
: "${sm:=$build/examples/multi/liteipc-sm}"
: "${echo_svc:=$build/examples/multi/liteipc-echo}"
: "${client:=$build/examples/multi/liteipc-client}"
for prog in "$liteipcd" "$sm" "$echo_svc" "$client"; do
    if [ ! -x "$prog" ]; then
        echo "demo-kill: $prog is not built (cmake --build BUILD_DIR)" >&2
        exit 2
    fi
done

timeout_ms=1000
export LITEIPC_DEVICE=demo-$$
unset LITEIPCD # nothing may start a daemon behind our back: every program runs with --no-start
logs=$(mktemp -d "${TMPDIR:-/tmp}/liteipc-demo.XXXXXX")
pids=()
failed=0
shm_before=$(find /dev/shm -maxdepth 1 -name 'liteipc*' 2>/dev/null | sort)

# Whatever happens, end the processes this script started (by their PIDs) and remove the logs.
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    for pid in "${pids[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$logs"
}
trap cleanup EXIT

# shellcheck source=testlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"

show_logs() {
    local f
    for f in "$logs"/*.log; do
        printf -- '---- %s\n' "$(basename "$f")"
        cat "$f"
    done
}

# Give up: show everything we have, then exit (the trap ends the processes).
die() {
    printf '    FAILED: %s\n' "$*"
    show_logs
    exit 1
}


step "liteipcd on device '$LITEIPC_DEVICE', reply timeout $timeout_ms ms"
"$liteipcd" --timeout-ms "$timeout_ms" 2>"$logs/liteipcd.log" &
daemon=$!
pids+=("$daemon")
wait_for_line "$logs/liteipcd.log" ' ready: ' 10 "$daemon" || die "liteipcd did not get ready"
ok "liteipcd (pid $daemon) is ready"

step "liteipc-sm: the ServiceManager"
"$sm" --no-start >"$logs/sm.log" 2>&1 &
sm_pid=$!
pids+=("$sm_pid")
wait_for_line "$logs/sm.log" ': ready: ' 10 "$sm_pid" || die "liteipc-sm did not get ready"
ok "liteipc-sm (pid $sm_pid) is handle 0"

step "liteipc-echo: the service, 300 ms per request"
"$echo_svc" --no-start --delay-ms 300 >"$logs/echo.log" 2>&1 &
echo_pid=$!
pids+=("$echo_pid")
wait_for_line "$logs/echo.log" ': ready: ' 10 "$echo_pid" || die "liteipc-echo did not get ready"
ok "liteipc-echo (pid $echo_pid) has registered 'echo'"

step "liteipc-client: 20 calls, back to back"
# With no pause between calls the service always holds a request, so the kill below lands
# while the client waits for a reply.
"$client" --no-start --count 20 --interval-ms 0 >"$logs/client.log" 2>&1 &
client_pid=$!
pids+=("$client_pid")
wait_for_line "$logs/echo.log" "UPPER 'hello #3'" 10 "$echo_pid" ||
    die "the echo service did not receive a third request"

step "kill -9 the echo service while it works on request #3"
exec 4>&2 2>/dev/null # bash would print a "Killed" line when it reaps the service
kill -KILL "$echo_pid"
wait_exit "$echo_pid" 5
reaped=$?
exec 2>&4 4>&-
[ "$reaped" = 0 ] || die "the echo service survived SIGKILL"
ok "liteipc-echo killed (status $status)"

step "the client's outcome"
wait_exit "$client_pid" $((timeout_ms / 1000 + 10)) || die "the client did not finish"
if [ "$status" = 3 ]; then ok "liteipc-client exited with 3: the service went away"; else
    fail "liteipc-client exited with $status, expected 3"; fi

step "stop the ServiceManager, then liteipcd (SIGTERM)"
kill -TERM "$sm_pid"
wait_exit "$sm_pid" 10 || die "liteipc-sm did not stop on SIGTERM"
if [ "$status" = 0 ]; then ok "liteipc-sm stopped cleanly"; else
    fail "liteipc-sm exited with $status"; fi
kill -TERM "$daemon"
wait_exit "$daemon" 10 || die "liteipcd did not stop on SIGTERM"
if [ "$status" = 0 ]; then ok "liteipcd stopped cleanly"; else
    fail "liteipcd exited with $status"; fi

step "timeline (every program's lines, by time)"
{
    sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2} //' "$logs/liteipcd.log"
    cat "$logs/sm.log" "$logs/echo.log" "$logs/client.log"
} | grep -E '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} ' | LC_ALL=C sort -s -k1,1 | sed 's/^/    /'

step "checks"
expect() { # FILE PATTERN WHAT
    if grep -qE -- "$2" "$logs/$1"; then ok "$3"; else fail "$3 (no /$2/ in $1)"; fi
}
expect sm.log "DEATH_NOTIFY: task [0-9]+ has died: service 'echo'" \
    "the ServiceManager received the echo service's MT_DEATH_NOTIFY and removed it"
expect client.log "IPC thread <- DEATH_NOTIFY: task [0-9]+ has died: it was 'echo'" \
    "the client's IPC thread received the echo service's MT_DEATH_NOTIFY"
expect liteipcd.log "task [0-9]+ of process [0-9]+ \(host [0-9]+ liteipc-echo\) ended" \
    "liteipcd logged the task's end, with its host PID and program"

# Did the service hold a request when it died (a request line after its last reply)?
held=$(awk '/<- UPPER/ { h = 1 } /-> REPLY/ { h = 0 } END { print h + 0 }' "$logs/echo.log")
if [ "$held" = 1 ]; then
    ms=$(sed -nE 's/.*<- ETIME after ([0-9]+) ms.*/\1/p' "$logs/client.log" | head -n1)
    if [ -n "$ms" ] && [ "$ms" -ge $((timeout_ms - 50)) ]; then
        ok "the client's call ended with ETIME after $ms ms (timeout $timeout_ms ms)"
    else
        fail "the client's call should have ended with ETIME after about $timeout_ms ms"
    fi
    expect liteipcd.log "synchronous wait ended with ETIME" "liteipcd logged the client's ETIME"
else
    # Between a reply and the next request (a window of microseconds): the next call fails at
    # once instead of timing out.
    expect client.log "no longer a live service of ours" \
        "the client's next call failed at once (the service died between two calls)"
fi
expect client.log "<- ENOENT: a FAILED_REPLY" "the client's new LOOKUP got a FAILED_REPLY (ENOENT)"
expect sm.log ": stopped$" "the ServiceManager logged its clean stop"
expect liteipcd.log "stopped; " "liteipcd logged its clean stop"

# Nothing left: processes, socket name, shared memory.
if [ ${#pids[@]} -eq 0 ]; then ok "every process of the demo has exited"; else
    fail "processes still running: ${pids[*]}"; fi
# A liteipcd started on demand for this name would run as `liteipcd --name NAME ...`.
daemons=""
for f in /proc/[0-9]*/cmdline; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$f") || continue # the process may end meanwhile
    case "$cmd" in *liteipcd*"--name $LITEIPC_DEVICE "*) daemons+=" ${f//[^0-9]/}" ;; esac
done
if [ -n "$daemons" ]; then fail "a liteipcd for $LITEIPC_DEVICE still runs:$daemons"; fi
if grep -q "@liteipc/$(id -u)/$LITEIPC_DEVICE\$" /proc/net/unix 2>/dev/null; then
    fail "the socket name @liteipc/$(id -u)/$LITEIPC_DEVICE is still bound"
else
    ok "the kernel's socket name is gone"
fi
shm_after=$(find /dev/shm -maxdepth 1 -name 'liteipc*' 2>/dev/null | sort)
new_shm=$(comm -13 <(printf '%s\n' "$shm_before") <(printf '%s\n' "$shm_after") | sed '/^$/d')
if [ -n "$new_shm" ]; then fail "left in /dev/shm: $new_shm"; else ok "nothing in /dev/shm"; fi
if "$client" --no-start --count 1 >"$logs/after.log" 2>&1; then
    fail "a client could still attach to $LITEIPC_DEVICE"
else
    expect after.log "no kernel serves device" "a new client finds no kernel under that name"
fi

if [ "$failed" != 0 ]; then
    printf '\ndemo-kill: FAILED\n'
    show_logs
    exit 1
fi
printf '\ndemo-kill: all checks passed\n'
exit 0
