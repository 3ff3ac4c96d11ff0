# SPDX-License-Identifier: Apache-2.0
# testlib.sh - what the test scripts share (sourced by scripts/demo-kill.sh and
# ohos/tests/lib.sh): their step/ok/fail lines, and bounded waits on the programs they started.
# The caller keeps the PIDs its trap kills in the array `pids`; fail sets `failed`.

step() { printf '\n==> %s\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
fail() {
    printf '    FAILED: %s\n' "$*"
    failed=1
}

# wait_for_line FILE PATTERN SECONDS [PID]: until FILE has a line matching PATTERN (grep -E),
# for at most SECONDS, and while process PID (if given) lives.
wait_for_line() {
    local file=$1 pattern=$2 pid=${4:-} i
    for ((i = 0; i < $3 * 50; i++)); do
        grep -qE -- "$pattern" "$file" 2>/dev/null && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            grep -qE -- "$pattern" "$file" 2>/dev/null
            return
        fi
        sleep 0.02
    done
    return 1
}

# wait_exit PID SECONDS: wait (bounded) for our child PID to exit; sets $status. A reaped PID
# leaves $pids (the processes the script's trap kills) at once: the number may be reused.
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

# wait_daemon_gone NAME SECONDS: wait (bounded) until no `liteipcd --name NAME` runs (a daemon
# started on demand exits once its last user has gone).
wait_daemon_gone() {
    local i
    for ((i = 0; i < $2 * 50; i++)); do
        pgrep -f -- "liteipcd --name $1 " >/dev/null || return 0
        sleep 0.02
    done
    return 1
}
