#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# tools/test-liteipcctl.sh LITEIPCD LITEIPCCTL DEVPROG - a CTest: liteipcctl status, list,
# monitor and stats on a running liteipcd, with a program (DEVPROG cms: the ServiceManager)
# attached to it; an error for a kernel that does not run; and liteipcctl's own connections
# are no users of the kernel: the daemon (--exit-when-unused) stays for the program, goes once
# it is gone.
set -eu
daemon=$1 ctl=$2 prog=$3
name="liteipcctl-test-$$"
dir=$(mktemp -d)
pid= ppid_= mpid= jpid= tpid= qpid=
trap 'for m in $mpid $jpid $tpid $qpid; do kill -KILL "$m" 2>/dev/null; done;
      exec 7>&- 2>/dev/null || true;
      [ -n "$ppid_" ] && kill -KILL "$ppid_" 2>/dev/null;
      [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$dir"' EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$dir"/*; do [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }; done
    exit 1
}

# Wait (at most 10 s) until file $2 has a line matching $1.
wait_for() {
    i=0
    until grep -q "$1" "$2"; do
        i=$((i + 1))
        [ "$i" -le 200 ] || fail "no '$1' in $2"
        sleep 0.05
    done
}

"$daemon" --name "$name" --exit-when-unused 2>"$dir/log" &
pid=$!
wait_for ': ready: serving' "$dir/log"

# Before any user: the tables are empty, and asking does not make the daemon's first user.
"$ctl" status "$name" >"$dir/status0" || fail "status on an idle kernel"
grep -q "^kernel '$name', hosted by PID $pid, up [0-9.]* s\$" "$dir/status0" || fail "status0: host PID"
grep -q '^liteipc kernel: 0 processes, 0 tasks' "$dir/status0" || fail "status0: counts"

# A monitor, subscribed before the program comes: its first events are the program becoming
# the ServiceManager (IPC_SET_CMS) and its IPC thread.
"$ctl" monitor "$name" --count 2 >"$dir/monitor" &
mpid=$!
wait_for '^monitoring kernel ' "$dir/monitor"

mkfifo "$dir/in"
LITEIPC_DEVICE=$name "$prog" cms <"$dir/in" >"$dir/prog" 2>&1 &
ppid_=$!
exec 7>"$dir/in"
wait_for '^ready ' "$dir/prog"

wait "$mpid" || fail "monitor exited with $?"
mpid=
grep -q "^[0-9.]* set-cms  *from [0-9]*/[0-9]* (host $ppid_ real_devprog_co) ioctl 0x" \
    "$dir/monitor" || fail "monitor: set-cms"
grep -q "^[0-9.]* set-ipc-thread from [0-9]*/[0-9]* (host $ppid_ real_devprog_co)" \
    "$dir/monitor" || fail "monitor: set-ipc-thread"
[ "$(wc -l <"$dir/monitor")" -eq 3 ] || fail "monitor --count 2: not 2 events"

"$ctl" status "$name" >"$dir/status1" || fail "status with a program attached"
# The daemon that answers is the one started here (not one the program started on demand).
grep -q "^kernel '$name', hosted by PID $pid, up [0-9.]* s\$" "$dir/status1" || fail "status1: host PID"
grep -q '^liteipc kernel: 1 process, 1 task' "$dir/status1" || fail "status1: counts"
grep -q '^ServiceManager: task ' "$dir/status1" || fail "status1: no ServiceManager"
grep -q "^  process [0-9]* (host $ppid_ real_devprog_co)" "$dir/status1" ||
    fail "status1: the program's process with its host PID and name"

LITEIPC_DEVICE=$name "$ctl" status >"$dir/status2" || fail "status by \$LITEIPC_DEVICE"
grep -q "^kernel '$name', hosted by PID $pid, up [0-9.]* s\$" "$dir/status2" || fail "status2: host PID"

"$ctl" list >"$dir/list" || fail "list"
grep -q "^NAME  *PID  *UPTIME  *PROCESSES  *TASKS\$" "$dir/list" || fail "list: header"
grep -q "^$name  *$pid  *[0-9]*\.[0-9] s  *1  *1\$" "$dir/list" || fail "list: the kernel's line"

# monitor's filters, started before the calls below: the ServiceManager's process as JSON, its
# task as text, and everything as JSON. The call is the first thing that involves the
# ServiceManager after it waits: the request written to it, read by it, and its reply.
cms_pid=$(sed -n "s/^  process \([0-9]*\) (host $ppid_ .*/\1/p" "$dir/status1")
cms_tid=$(sed -n 's/^ready \([0-9]*\)$/\1/p' "$dir/prog")
[ -n "$cms_pid" ] && [ -n "$cms_tid" ] || fail "the ServiceManager's PID and TID"
"$ctl" monitor "$name" --pid "$cms_pid" --count 3 --json >"$dir/json" 2>"$dir/json.err" &
jpid=$!
"$ctl" monitor "$name" --tid "$cms_tid" --count 3 >"$dir/tidmon" &
tpid=$!
"$ctl" monitor "$name" --json >"$dir/all.json" 2>"$dir/all.err" &
qpid=$!
wait_for '^monitoring kernel ' "$dir/json.err"
wait_for '^monitoring kernel ' "$dir/tidmon"
wait_for '^monitoring kernel ' "$dir/all.err"
[ -s "$dir/json" ] && fail "monitor --json: stdout has more than JSON"

# Counters: a call to the ServiceManager (answered, "hi" both ways), a one-way to it, and a
# call to a handle nobody granted (EACCES). Each is counted before its program's call returns.
LITEIPC_DEVICE=$name "$prog" call 0 5 0 >"$dir/call" 2>&1 || fail "call"
grep -q '^call 0 0 ' "$dir/call" || fail "call: not answered"
LITEIPC_DEVICE=$name "$prog" sendcms 7 >"$dir/send" 2>&1 || fail "sendcms"
# The refused call comes from a program whose name needs escaping in JSON.
qprog="$dir/q\"u\\o"
cp "$prog" "$qprog"
LITEIPC_DEVICE=$name "$qprog" call 100 5 0 >"$dir/call2" 2>&1 || fail "refused call"
grep -q '^call -1 13 ' "$dir/call2" || fail "call to a handle not granted: not EACCES"

wait "$jpid" || fail "monitor --pid --json exited with $?"
jpid=
wait "$tpid" || fail "monitor --tid exited with $?"
tpid=
[ "$(jq -s length "$dir/json")" = 3 ] || fail "monitor --pid --count 3: not 3 JSON objects"
jq -e -s --argjson p "$cms_pid" --argjson t "$cms_tid" '
    all(.[]; .src.pid == $p or .dst.pid == $p) and
    .[0].type == "msg-written" and .[0].dst.tid == $t and .[0].msg.code == 5 and
    .[0].msg.type == 0 and .[0].msg.dataSz == 2 and .[0].dst.prog == "real_devprog_co" and
    .[1].type == "msg-read" and .[1].dst.tid == $t and
    .[2].type == "msg-written" and .[2].src.tid == $t and .[2].msg.type == 1 and
    .[2].src.host_pid > 0 and .[2].err == 0 and .[2].lost == 0' "$dir/json" >/dev/null ||
    fail "monitor --pid --json: the call's events"
[ "$(grep -c " [0-9]*/$cms_tid (host " "$dir/tidmon")" = 3 ] &&
    [ "$(wc -l <"$dir/tidmon")" -eq 4 ] || fail "monitor --tid: an event of another task"
wait_for '"type":"refused"' "$dir/all.json"
kill -TERM "$qpid"
wait "$qpid" || true
qpid=
jq -e -s 'map(select(.type == "refused"))[0] |
    .src.prog == "q\"u\\o" and .err == 13 and .errname == "EACCES" and .msg.code == 5' \
    "$dir/all.json" >/dev/null || fail "monitor --json: the refusal, its program's name escaped"
"$ctl" stats "$name" >"$dir/stats" || fail "stats"
grep -q "^kernel '$name', hosted by PID $pid, up [0-9.]* s\$" "$dir/stats" || fail "stats: head"
grep -q '^calls  *1$' "$dir/stats" || fail "stats: calls"
grep -q '^one-way  *1$' "$dir/stats" || fail "stats: one-way"
grep -q '^replies  *1$' "$dir/stats" || fail "stats: replies"
grep -q '^failed replies  *0$' "$dir/stats" || fail "stats: failed replies"
grep -q '^payload bytes  *4$' "$dir/stats" || fail "stats: bytes"
grep -q '^timeouts  *0$' "$dir/stats" || fail "stats: timeouts"
grep -q '^  EACCES  *1 (Permission denied)$' "$dir/stats" || fail "stats: EACCES"
grep -q '^  EPERM ' "$dir/stats" && fail "stats: an errno never seen is listed"
grep -q "^  process [0-9]* (host $ppid_ real_devprog_co): 0 B, [1-9][0-9]* B, 64.0 KiB\$" \
    "$dir/stats" || fail "stats: the ServiceManager's pool and its high-water mark"
status=0
"$ctl" stats "no-such-$name" 2>"$dir/err" >/dev/null || status=$?
[ "$status" -eq 1 ] || fail "stats of a missing kernel exited with $status"
grep -q "^liteipcctl: no kernel named 'no-such-$name' is running\$" "$dir/err" ||
    fail "stats of a missing kernel: message"
"$ctl" stats --help | grep -q '^usage: liteipcctl stats \[NAME\]' || fail "stats --help"

status=0
"$ctl" status "no-such-$name" 2>"$dir/err" >/dev/null || status=$?
[ "$status" -eq 1 ] || fail "status of a missing kernel exited with $status"
grep -q "^liteipcctl: no kernel named 'no-such-$name' is running\$" "$dir/err" ||
    fail "status of a missing kernel: message"
status=0
"$ctl" status 'bad/name' 2>"$dir/err" >/dev/null || status=$?
[ "$status" -eq 1 ] || fail "status of an invalid name exited with $status"
status=0
"$ctl" frobnicate 2>/dev/null >/dev/null || status=$?
[ "$status" -eq 2 ] || fail "an unknown command exited with $status"
"$ctl" status --help | grep -q '^usage: liteipcctl status \[NAME\]' || fail "status --help"

# The program goes: its kernel has no user left and the daemon exits by itself.
kill -TERM "$ppid_"
wait "$ppid_" || true
ppid_=
exec 7>&-
status=0
wait "$pid" || status=$?
pid=
[ "$status" -eq 0 ] || fail "liteipcd exited with $status"
status=0
"$ctl" status "$name" 2>/dev/null >/dev/null || status=$?
[ "$status" -eq 1 ] || fail "status after the daemon exited: $status"

# A connection past the user's cap (EUSERS) is logged by the daemon, naming the program, and
# counted among the refusals. The program's second connection is the one turned away.
"$daemon" --name "$name" --connections-per-user 1 2>"$dir/log2" &
pid=$!
wait_for ': ready: serving' "$dir/log2"
LITEIPC_DEVICE=$name "$prog" call 0 1 0 >"$dir/capped" 2>&1 || true
wait_for "refused a connection of host process [0-9]* (real_devprog_co) with EUSERS" "$dir/log2"
"$ctl" stats "$name" >"$dir/stats2" || fail "stats of the capped kernel"
grep -q '^  EUSERS  *1 ' "$dir/stats2" || fail "stats: the connection refused with EUSERS"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" -eq 0 ] || fail "the capped liteipcd exited with $status"
