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
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

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
ohos_setup "$path" "$liteipcd"
shm_before=$(find /dev/shm -maxdepth 1 -name 'liteipc*' 2>/dev/null | sort)

start_liteipcd "$timeout_ms"

step "the ServiceManager ($(basename "$samgr"))"
launch samgr "$samgr_ready" 10 "$samgr"
samgr_pid=$launched
ok "samgr (pid $samgr_pid) has started its service"

step "the sample service ($(basename "$service"))"
launch service "$service_ready" 10 "$service"
service_pid=$launched
ok "the service (pid $service_pid) has registered <ohos_echo, echo> with samgr"

step "the client: ECHO, then SLOW"
"$client" --slow >"$logs/client.log" 2>&1 &
client_pid=$!
pids+=("$client_pid")
wait_for_line "$logs/service.log" "SLOW: working" 10 "$service_pid" ||
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
stop_term samgr "$samgr_pid"
stop_term liteipcd "$daemon"

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
