#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scenario.sh - OpenHarmony's own IPC stack over liteipc-sim: ServiceManager, service, client
# (the CTest entries ohos_<path>_kill and ohos_<path>_ipc_auth).
#
# Usage: scenario.sh LITEIPCD SAMGR SERVICE CLIENT PATH [kill|policy]
#   PATH is legacy or current (the programs' stack); the last word chooses the scenario.
# On a private device name, each as its own process, and with real-time scheduling refused
# (RLIMIT_RTPRIO 0, and no CAP_SYS_NICE when run as root), as for any unprivileged user:
#   liteipcd --timeout-ms 1000   the kernel, with a 1 s reply timeout instead of the device's 5 s
#   SAMGR                        samgr_lite's ServiceManager (upstream samgr_server + glue)
#   SERVICE                      the sample service ohos_echo with its remote feature echo
#   CLIENT                       looks echo up through samgr and calls it
# kill (default): the client calls ECHO then SLOW; the service is killed with SIGKILL while it
#   holds SLOW (the client logs with OHOS_LOG_LEVEL=error). Checks: the ServiceManager's
#   threads were created after SCHED_RR was refused; the client logged errors only;
#   the client's ECHO got the service's answer; its SLOW failed after the kernel's reply timeout
#   (ETIME: a death does not end a caller's wait, as on the device); the ServiceManager saw the
#   service's process die; SIGTERM stops the ServiceManager and liteipcd cleanly; nothing is
#   left in /dev/shm.
# policy: the ServiceManager runs with an IpcAuth policy file (OHOS_IPC_AUTH_POLICY) that lets
#   the feature register but no user ID of this host call it. Checks: the client finds no
#   feature, and the ServiceManager says why.
# Readiness is read from the programs' own log lines, with bounded waits.
# Exit status 0 if every check passed, 1 otherwise, 2 for a usage error.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ $# -lt 5 ] || [ $# -gt 6 ] || { [ "$5" != legacy ] && [ "$5" != current ]; }; then
    sed -n '2,24s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
fi
liteipcd=$1 samgr=$2 service=$3 client=$4 path=$5 mode=${6:-kill}
# Lines by which upstream says what happened (samgr_lite's own log messages, both revisions).
samgr_ready='Init service samgr <time: [0-9]+ms> success'
service_ready='Register endpoint<.*> and iunknown finished! remain<0>'
samgr_saw_death='IPC pid<[0-9]+> exit!'

# unprivileged CMD...: becomes CMD (exec: only in a background job, whose PID stays CMD's),
# without real-time scheduling, which root would otherwise keep.
unprivileged() {
    if [ "$(id -u)" = 0 ]; then
        exec prlimit --rtprio=0:0 setpriv --bounding-set -sys_nice "$@"
    fi
    exec prlimit --rtprio=0:0 "$@"
}

timeout_ms=1000
ohos_setup "$path-$mode" "$liteipcd"
shm_before=$(find /dev/shm -maxdepth 1 -name 'liteipc*' 2>/dev/null | sort)

start_liteipcd "$timeout_ms"

step "the ServiceManager ($(basename "$samgr"))"
if [ "$mode" = policy ]; then
    # user IDs 2147483000..2147483647 only: no test runs as one of them
    printf '# the sample feature may register, only unused user IDs may call it\n%s\n' \
        'ohos_echo echo 2147483000 2147483647' >"$logs/policy"
    export OHOS_IPC_AUTH_POLICY=$logs/policy
fi
launch samgr "$samgr_ready" 10 unprivileged "$samgr"
samgr_pid=$launched
unset OHOS_IPC_AUTH_POLICY
ok "samgr (pid $samgr_pid) has started its service"

step "the sample service ($(basename "$service"))"
launch service "$service_ready" 10 unprivileged "$service"
service_pid=$launched
ok "the service (pid $service_pid) has registered <ohos_echo, echo> with samgr"

if [ "$mode" = policy ]; then
    step "the client: the policy refuses it the feature"
    unprivileged "$client" >"$logs/client.log" 2>&1 &
    client_pid=$!
    pids+=("$client_pid")
    wait_exit "$client_pid" 10 || die "the client did not finish"
    if [ "$status" = 1 ]; then ok "the client exited with 1"; else
        fail "the client exited with $status, expected 1"; fi
else
    step "the client: ECHO, then SLOW"
    OHOS_LOG_LEVEL=error unprivileged "$client" --slow >"$logs/client.log" 2>&1 &
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
fi

step "stop the ServiceManager, then liteipcd (SIGTERM)"
stop_term samgr "$samgr_pid"
stop_term liteipcd "$daemon"

step "checks"
expect samgr.log "ohos glue: real-time scheduling refused" \
    "samgr's threads were created after SCHED_RR was refused"
if [ "$mode" = policy ]; then
    expect client.log "no feature <ohos_echo, echo>" "the client found no feature"
    expect samgr.log "IpcAuth: uid [0-9]+ may not call <ohos_echo, echo>" \
        "the ServiceManager's IpcAuth refused the lookup"
else
    expect client.log "ECHO 'hello' -> 'echo: hello'" "the client's ECHO returned the service's answer"
    ms=$(sed -nE 's/.*SLOW: failed with -?[0-9]+ after ([0-9]+) ms.*/\1/p' "$logs/client.log" |
        head -n1)
    if [ -n "$ms" ] && [ "$ms" -ge $((timeout_ms - 50)) ]; then
        ok "the client's SLOW failed after $ms ms (the reply timeout is $timeout_ms ms)"
    else
        fail "the client's SLOW should have failed after about $timeout_ms ms"
    fi
    expect liteipcd.log "synchronous wait ended with ETIME" "liteipcd ended the client's wait with ETIME"
    expect samgr.log "$samgr_saw_death" "the ServiceManager saw the service's process die"
    # the client ran with OHOS_LOG_LEVEL=error: upstream's errors, nothing below
    if grep -qE '^[^ ]+\[[0-9]+\] [DIW] ' "$logs/client.log"; then
        fail "the client logged below OHOS_LOG_LEVEL=error"
    else
        expect client.log '^[^ ]+\[[0-9]+\] E ' "the client logged errors only (OHOS_LOG_LEVEL=error)"
    fi
fi
shm_after=$(find /dev/shm -maxdepth 1 -name 'liteipc*' 2>/dev/null | sort)
if [ "$shm_after" = "$shm_before" ]; then ok "nothing new in /dev/shm"; else
    fail "new in /dev/shm: $shm_after"; fi

step "every program's output"
show_logs | sed 's/^/    /'
[ "$failed" = 0 ] || exit 1
printf '\nscenario %s %s: every check passed\n' "$path" "$mode"
