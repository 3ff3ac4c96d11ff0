#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# tools/test-liteipcctl-trace.sh LITEIPCD LITEIPCCTL SM ECHO CLIENT - a CTest: liteipcctl trace
# on a live liteipcd, in both formats at once, while the ServiceManager, the echo service and a
# client (examples/multi) run on it; the recordings end when the kernel goes (the daemon runs
# with --exit-when-unused). The JSON is read by python3 and checked by scripts/chrome-check.py.
# Also: a recording of an idle kernel that ends after its --seconds, and the errors.
set -eu
daemon=$1 ctl=$2 sm=$3 echo_svc=$4 client=$5
checker=$(cd "$(dirname "$0")/../scripts" && pwd)/chrome-check.py
name="liteipcctl-trace-$$"
dir=$(mktemp -d)
pid= smpid= epid= tpid1= tpid2=
trap 'for p in $tpid1 $tpid2 $epid $smpid $pid; do kill -KILL "$p" 2>/dev/null; done
      rm -rf "$dir"' EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$dir"/*; do [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }; done
    exit 1
}

# Wait (at most 10 s) until file $2 has a line matching $1.
wait_for() {
    i=0
    until grep -q "$1" "$2" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -le 200 ] || fail "no '$1' in $2"
        sleep 0.05
    done
}

# Wait (at most 10 s) for child $1 to end; fail unless its status is 0.
wait_ok() {
    i=0
    while kill -0 "$1" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -le 200 ] || fail "$2 did not end"
        sleep 0.05
    done
    wait "$1" || fail "$2 exited with $?"
}

"$daemon" --name "$name" --exit-when-unused 2>"$dir/log" &
pid=$!
wait_for ': ready: serving' "$dir/log"

# An idle kernel: the recording ends after its time, and is still a valid file.
"$ctl" trace "$name" --seconds 0.1 --chrome "$dir/idle.json" >"$dir/idle.out" ||
    fail "trace of an idle kernel"
grep -q '^0 events written to ' "$dir/idle.out" || fail "idle: not 0 events"
python3 "$checker" "$dir/idle.json" >/dev/null || fail "idle: the JSON is not valid"

"$ctl" trace "$name" --seconds 60 --chrome "$dir/t.json" --preview >"$dir/t1.out" &
tpid1=$!
LITEIPC_DEVICE=$name "$ctl" trace --mermaid "$dir/t.mmd" --seconds 60 >"$dir/t2.out" &
tpid2=$!
wait_for '^tracing kernel ' "$dir/t1.out"
wait_for '^tracing kernel ' "$dir/t2.out"

LITEIPC_DEVICE=$name "$sm" --no-start >"$dir/sm" 2>&1 &
smpid=$!
wait_for ': ready: ' "$dir/sm"
LITEIPC_DEVICE=$name "$echo_svc" --no-start >"$dir/echo" 2>&1 &
epid=$!
wait_for ': ready: ' "$dir/echo"
LITEIPC_DEVICE=$name "$client" --no-start --count 2 --interval-ms 0 --text trace-me \
    >"$dir/client" 2>&1 || fail "the client failed"
kill -TERM "$epid" "$smpid"
wait_ok "$epid" "the echo service"
epid=
wait_ok "$smpid" "the ServiceManager"
smpid=
# Nobody uses the kernel now: the daemon goes, and so the recordings end.
wait_ok "$pid" "liteipcd"
pid=
wait_ok "$tpid1" "trace --chrome"
tpid1=
wait_ok "$tpid2" "trace --mermaid"
tpid2=

python3 "$checker" "$dir/t.json" --task liteipc-sm --task liteipc-echo --task liteipc-client \
    --grants 2 >/dev/null || fail "the recorded JSON"
grep -q '"preview":"trace-me' "$dir/t.json" || fail "no preview in the JSON"
grep -q '^sequenceDiagram$' "$dir/t.mmd" || fail "mermaid: no header"
grep -q '^    participant T[0-9]* as liteipc-client (task ' "$dir/t.mmd" ||
    fail "mermaid: no client participant"
grep -q 'may call handle [0-9]* (CMS_ADD_ACCESS)$' "$dir/t.mmd" || fail "mermaid: no grant"
grep -q '^[1-9][0-9]* events written to ' "$dir/t2.out" || fail "mermaid: no events counted"

status=0
"$ctl" trace "no-such-$name" --seconds 1 --chrome "$dir/x.json" 2>"$dir/err" || status=$?
[ "$status" -eq 1 ] || fail "trace of a missing kernel exited with $status"
grep -q "^liteipcctl: no kernel named 'no-such-$name' is running\$" "$dir/err" ||
    fail "trace of a missing kernel: message"
[ ! -e "$dir/x.json" ] || fail "trace of a missing kernel left a file"
status=0
"$ctl" trace "$name" --chrome "$dir/x.json" 2>"$dir/err" || status=$?
[ "$status" -eq 2 ] || fail "trace without --seconds exited with $status"
status=0
"$ctl" trace "$name" --seconds 1 --chrome a --mermaid b 2>"$dir/err" || status=$?
[ "$status" -eq 2 ] || fail "trace with two formats exited with $status"
[ -z "${KEEP:-}" ] || cp "$dir/t.json" "$dir/t.mmd" "$KEEP"
echo "liteipcctl trace: OK"
