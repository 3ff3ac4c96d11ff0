# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# lib.sh - shell helpers of the ohos/ test scripts (sourced by scenario.sh and c_lite.sh).
# ohos_setup gives the script a private device, a log directory ($logs: NAME.log files), and
# a trap that kills what it started ($pids: processes, $groups: process groups) and removes
# the logs; $failed says whether a check failed.
# shellcheck disable=SC2034 # variables of the including script

# ohos_setup NAME LITEIPCD: a private device name from NAME, and the trap.
ohos_setup() {
    export LITEIPC_DEVICE=ohos-$1-$$
    export LITEIPCD=$2
    logs=$(mktemp -d "${TMPDIR:-/tmp}/liteipc-ohos.XXXXXX")
    pids=()
    groups=()
    failed=0
    trap ohos_cleanup EXIT
}

# shellcheck disable=SC2317 # called by the trap
ohos_cleanup() {
    local p
    for p in "${groups[@]}"; do
        kill -KILL -- "-$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$logs"
}

# shellcheck source=../../scripts/testlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/testlib.sh"

show_logs() {
    local f
    for f in "$logs"/*.log; do
        printf -- '---- %s\n' "$(basename "$f")"
        grep -v '^$' "$f"
    done
}

# Give up: show everything, then exit (the including script's trap ends the processes).
die() {
    printf '    FAILED: %s\n' "$*"
    show_logs
    exit 1
}


# stop_term NAME PID: SIGTERM, then the exit status must be 0.
stop_term() {
    kill -TERM "$2"
    wait_exit "$2" 10 || die "$1 did not stop on SIGTERM"
    if [ "$status" = 0 ]; then ok "$1 stopped cleanly"; else fail "$1 exited with $status"; fi
}

# expect FILE PATTERN WHAT: FILE (under $logs) has a line matching PATTERN.
expect() {
    if grep -qE -- "$2" "$logs/$1"; then ok "$3"; else fail "$3 (no /$2/ in $1)"; fi
}

# launch NAME PATTERN SECONDS COMMAND...: start COMMAND (output in NAME.log; its PID in
# $launched and $pids) and wait until it logs a line matching PATTERN, or die.
launch() {
    local name=$1 pattern=$2 seconds=$3
    shift 3
    "$@" >"$logs/$name.log" 2>&1 &
    launched=$!
    pids+=("$launched")
    wait_for_line "$logs/$name.log" "$pattern" "$seconds" "$launched" ||
        die "$name did not log /$pattern/ within $seconds s"
}

# start_liteipcd TIMEOUT_MS: the kernel, with a short reply timeout; its PID in $daemon.
start_liteipcd() {
    step "liteipcd on device '$LITEIPC_DEVICE', reply timeout $1 ms${LITEIPC_ABI:+, LITEIPC_ABI=$LITEIPC_ABI}"
    launch liteipcd ' ready: ' 10 "$LITEIPCD" --timeout-ms "$1"
    daemon=$launched
    ok "liteipcd (pid $daemon) is ready"
}
