#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tools/test-liteipcctl-trace.sh LITEIPCD LITEIPCCTL SM ECHO CLIENT - a CTest: liteipcctl trace
# on a live liteipcd, in both formats at once, while the ServiceManager, the echo service and a
# client (examples/multi) run on it; the recordings end when the kernel goes (the daemon runs
# with --exit-when-unused). The JSON is read by python3 and checked by scripts/chrome-check.py.
# Also: a recording of an idle kernel that ends after its --seconds, one ended by SIGINT, and
# the errors.
set -uo pipefail
daemon=$1 ctl=$2 sm=$3 echo_svc=$4 client=$5
scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")/../scripts" && pwd)
name="liteipcctl-trace-$$"
dir=$(mktemp -d)
pids=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$dir"
}
trap cleanup EXIT
# shellcheck source=scripts/testlib.sh
. "$scripts/testlib.sh"

die() {
    echo "FAIL: $*" >&2
    for f in "$dir"/*; do [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }; done
    exit 1
}

# start NAME PROGRAM ARG...: run it in the background, its output in $dir/NAME.
start() {
    local out=$dir/$1
    shift
    "$@" >"$out" 2>&1 &
    pids+=($!)
}

# ends WHAT PID: PID exits (within 10 s) with status 0.
ends() {
    wait_exit "$2" 10 || die "$1 did not end"
    [ "$status" = 0 ] || die "$1 exited with $status"
}

start daemon "$daemon" --name "$name" --exit-when-unused
daemon_pid=${pids[-1]}
wait_for_line "$dir/daemon" ': ready: serving' 10 "$daemon_pid" || die "liteipcd is not ready"

# An idle kernel: the recording ends after its time, and is still a valid file.
"$ctl" trace "$name" --seconds 0.1 --chrome "$dir/idle.json" >"$dir/idle.out" ||
    die "trace of an idle kernel"
grep -q '^0 events written to ' "$dir/idle.out" || die "idle: not 0 events"
python3 "$scripts/chrome-check.py" "$dir/idle.json" >/dev/null || die "idle: invalid JSON"

# Interrupted (SIGINT, as ^C): the recording ends at once, and the file is complete.
start int.out "$ctl" trace "$name" --seconds 60 --mermaid "$dir/int.mmd"
wait_for_line "$dir/int.out" '^tracing kernel ' 10 "${pids[-1]}" || die "trace did not start"
kill -INT "${pids[-1]}"
ends "trace, interrupted" "${pids[-1]}"
[ "$(cat "$dir/int.mmd")" = sequenceDiagram ] || die "interrupted: not an empty diagram"

start t1.out "$ctl" trace "$name" --seconds 60 --chrome "$dir/t.json" --preview
t1=${pids[-1]}
start t2.out env LITEIPC_DEVICE="$name" "$ctl" trace --mermaid "$dir/t.mmd" --seconds 60
t2=${pids[-1]}
wait_for_line "$dir/t1.out" '^tracing kernel ' 10 "$t1" || die "trace --chrome did not start"
wait_for_line "$dir/t2.out" '^tracing kernel ' 10 "$t2" || die "trace --mermaid did not start"

export LITEIPC_DEVICE=$name
start sm "$sm" --no-start
sm_pid=${pids[-1]}
wait_for_line "$dir/sm" ': ready: ' 10 "$sm_pid" || die "liteipc-sm is not ready"
start echo "$echo_svc" --no-start
echo_pid=${pids[-1]}
wait_for_line "$dir/echo" ': ready: ' 10 "$echo_pid" || die "liteipc-echo is not ready"
"$client" --no-start --count 2 --interval-ms 0 --text trace-me >"$dir/client" 2>&1 ||
    die "the client failed"
kill -TERM "$echo_pid" "$sm_pid"
ends "the echo service" "$echo_pid"
ends "the ServiceManager" "$sm_pid"
# Nobody uses the kernel now: the daemon goes, and so the recordings end.
ends liteipcd "$daemon_pid"
ends "trace --chrome" "$t1"
ends "trace --mermaid" "$t2"

python3 "$scripts/chrome-check.py" "$dir/t.json" --task liteipc-sm --task liteipc-echo \
    --task liteipc-client --grants 2 >/dev/null || die "the recorded JSON"
grep -q '"preview":"trace-me' "$dir/t.json" || die "no preview in the JSON"
grep -q '^sequenceDiagram$' "$dir/t.mmd" || die "mermaid: no header"
grep -q '^    participant T[0-9]* as liteipc-client (task ' "$dir/t.mmd" ||
    die "mermaid: no client participant"
grep -q 'may call handle [0-9]* (CMS_ADD_ACCESS)$' "$dir/t.mmd" || die "mermaid: no grant"
grep -q '^[1-9][0-9]* events written to ' "$dir/t2.out" || die "mermaid: no events counted"

rc=0
"$ctl" trace "no-such-$name" --seconds 1 --chrome "$dir/x.json" 2>"$dir/err" || rc=$?
[ "$rc" -eq 1 ] || die "trace of a missing kernel exited with $rc"
grep -q "^liteipcctl: no kernel named 'no-such-$name' is running\$" "$dir/err" ||
    die "trace of a missing kernel: message"
[ ! -e "$dir/x.json" ] || die "trace of a missing kernel left a file"
rc=0
"$ctl" trace "$name" --chrome "$dir/x.json" 2>"$dir/err" || rc=$?
[ "$rc" -eq 2 ] || die "trace without --seconds exited with $rc"
rc=0
"$ctl" trace "$name" --seconds 1 --chrome a --mermaid b 2>"$dir/err" || rc=$?
[ "$rc" -eq 2 ] || die "trace with two formats exited with $rc"
echo "liteipcctl trace: OK"
