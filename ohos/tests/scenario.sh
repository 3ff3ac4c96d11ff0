#!/usr/bin/env bash
# scenario.sh - OpenHarmony's own IPC stack over liteipc-sim: ServiceManager, service, client,
# and a kill -9 of the service mid-call (the CTest entries ohos_<path>_kill).
#
# Usage: scenario.sh LITEIPCD SAMGR SERVICE CLIENT PATH      (PATH: legacy or current)
# On a private device name, each as its own process:
#   liteipcd --timeout-ms 1000   the kernel, with a 1 s reply timeout instead of the device's 5 s
#   SAMGR                        samgr_lite's ServiceManager (upstream samgr_server + glue)
#   SERVICE                      the sample service ohos_echo with its remote feature echo
#   CLIENT --slow                looks echo up through samgr, calls ECHO, then SLOW
# kills the service with SIGKILL while it holds SLOW, and checks: the client's ECHO got the
# service's answer; its SLOW failed after the kernel's reply timeout (ETIME: a death does not
# end a caller's wait, as on the device); the ServiceManager saw the service's process die;
# SIGTERM stops the ServiceManager and liteipcd cleanly; nothing is left in /dev/shm.
# Readiness is read from the programs' own log lines, with bounded waits.
# Exit status 0 if every check passed, 1 otherwise, 2 for a usage error.
set -uo pipefail

if [ $# -ne 5 ]; then
    sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
fi
liteipcd=$1 samgr=$2 service=$3 client=$4 path=$5
# Lines by which upstream says what happened (samgr_lite's own log messages).
case "$path" in
legacy)
    samgr_ready='Init service samgr <time: [0-9]+ms> success'
    service_ready='Register endpoint<.*> and iunknown finished! remain<0>'
    samgr_saw_death='IPC pid<[0-9]+> exit!'
    ;;
current)
    samgr_ready='Init service samgr <time: [0-9]+ms> success'
    service_ready='Register endpoint<.*> and iunknown finished! remain<0>'
    samgr_saw_death='IPC pid<[0-9]+> exit!'
    ;;
*) echo "scenario: unknown path '$path' (legacy or current)" >&2; exit 2 ;;
esac

timeout_ms=1000
export LITEIPC_DEVICE=ohos-$path-$$
export LITEIPCD=$liteipcd
logs=$(mktemp -d "${TMPDIR:-/tmp}/liteipc-ohos.XXXXXX")
pids=()
failed=0
shm_before=$(find /dev/shm -maxdepth 1 -name 'liteipc*' 2>/dev/null | sort)

# Whatever happens, end the processes this script started (by their PIDs), remove the logs.
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    for pid in "${pids[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$logs"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
fail() {
    printf '    FAILED: %s\n' "$*"
    failed=1
}
show_logs() {
    local f
    for f in "$logs"/*.log; do
        printf -- '---- %s\n' "$(basename "$f")"
        cat "$f"
    done
}
die() {
    printf '    FAILED: %s\n' "$*"
    show_logs
    exit 1
}

# wait_for_line FILE PATTERN PID SECONDS: until FILE has a line matching PATTERN (grep -E),
# while process PID lives, for at most SECONDS.
wait_for_line() {
    local file=$1 pattern=$2 pid=$3 i
    for ((i = 0; i < $4 * 50; i++)); do
        grep -qE -- "$pattern" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { grep -qE -- "$pattern" "$file" 2>/dev/null; return; }
        sleep 0.02
    done
    return 1
}

# wait_exit PID SECONDS: wait (bounded) for our child PID to exit; sets $status.
wait_exit() {
    local pid=$1 i p left
    for ((i = 0; i < $2 * 50; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            status=$?
            left=()
            for p in "${pids[@]}"; do [ "$p" = "$pid" ] || left+=("$p"); done
            pids=("${left[@]}")
            return 0
        fi
        sleep 0.02
    done
    status=-1
    return 1
}

expect() { # FILE PATTERN WHAT
    if grep -qE -- "$2" "$logs/$1"; then ok "$3"; else fail "$3 (no /$2/ in $1)"; fi
}

step "liteipcd on device '$LITEIPC_DEVICE', reply timeout $timeout_ms ms${LITEIPC_ABI:+, LITEIPC_ABI=$LITEIPC_ABI}"
"$liteipcd" --timeout-ms "$timeout_ms" 2>"$logs/liteipcd.log" &
daemon=$!
pids+=("$daemon")
wait_for_line "$logs/liteipcd.log" ' ready: ' "$daemon" 10 || die "liteipcd did not get ready"
ok "liteipcd (pid $daemon) is ready"

step "the ServiceManager ($(basename "$samgr"))"
"$samgr" >"$logs/samgr.log" 2>&1 &
samgr_pid=$!
pids+=("$samgr_pid")
wait_for_line "$logs/samgr.log" "$samgr_ready" "$samgr_pid" 10 || die "samgr did not start"
ok "samgr (pid $samgr_pid) has started its service"

step "the sample service ($(basename "$service"))"
"$service" >"$logs/service.log" 2>&1 &
service_pid=$!
pids+=("$service_pid")
wait_for_line "$logs/service.log" "$service_ready" "$service_pid" 10 ||
    die "the service did not register its feature"
ok "the service (pid $service_pid) has registered <ohos_echo, echo> with samgr"

step "the client: ECHO, then SLOW"
"$client" --slow >"$logs/client.log" 2>&1 &
client_pid=$!
pids+=("$client_pid")
wait_for_line "$logs/service.log" "SLOW: working" "$service_pid" 10 ||
    die "the service did not receive SLOW"

step "kill -9 the service while it holds SLOW"
exec 4>&2 2>/dev/null # bash would print a "Killed" line when it reaps the service
kill -KILL "$service_pid"
wait_exit "$service_pid" 5
reaped=$?
exec 2>&4 4>&-
[ "$reaped" = 0 ] || die "the service survived SIGKILL"
ok "the service was killed (status $status)"

step "the client's outcome"
wait_exit "$client_pid" $((timeout_ms / 1000 + 10)) || die "the client did not finish"
if [ "$status" = 0 ]; then ok "the client exited with 0"; else
    fail "the client exited with $status, expected 0"; fi

step "stop the ServiceManager, then liteipcd (SIGTERM)"
kill -TERM "$samgr_pid"
wait_exit "$samgr_pid" 10 || die "samgr did not stop on SIGTERM"
if [ "$status" = 0 ]; then ok "samgr stopped cleanly"; else fail "samgr exited with $status"; fi
kill -TERM "$daemon"
wait_exit "$daemon" 10 || die "liteipcd did not stop on SIGTERM"
if [ "$status" = 0 ]; then ok "liteipcd stopped cleanly"; else fail "liteipcd exited with $status"; fi

step "checks"
expect client.log "ECHO 'hello' -> 'echo: hello'" "the client's ECHO returned the service's answer"
ms=$(sed -nE 's/.*SLOW: failed with -?[0-9]+ after ([0-9]+) ms.*/\1/p' "$logs/client.log" | head -n1)
if [ -n "$ms" ] && [ "$ms" -ge $((timeout_ms - 50)) ]; then
    ok "the client's SLOW failed after $ms ms (the reply timeout is $timeout_ms ms)"
else
    fail "the client's SLOW should have failed after about $timeout_ms ms"
fi
expect liteipcd.log "synchronous wait ended with ETIME" "liteipcd ended the client's wait with ETIME"
expect samgr.log "$samgr_saw_death" "the ServiceManager saw the service's process die"
shm_after=$(find /dev/shm -maxdepth 1 -name 'liteipc*' 2>/dev/null | sort)
if [ "$shm_after" = "$shm_before" ]; then ok "nothing new in /dev/shm"; else
    fail "new in /dev/shm: $shm_after"; fi

step "every program's output"
show_logs | sed 's/^/    /'
[ "$failed" = 0 ] || exit 1
printf '\nscenario %s: every check passed\n' "$path"
