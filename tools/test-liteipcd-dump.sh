#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# tools/test-liteipcd-dump.sh LITEIPCD - a CTest: liteipcd writes its kernel's tables to its log
# on SIGUSR2 and goes on serving; SIGTERM then stops it cleanly.
set -eu
daemon=$1
log=$(mktemp)
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -f "$log"' EXIT

# Wait (at most 10 s) until the log has a line matching $1.
wait_for() {
    i=0
    until grep -q "$1" "$log"; do
        i=$((i + 1))
        if [ "$i" -gt 200 ]; then
            echo "no '$1' in the log of liteipcd:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.05
    done
}

"$daemon" --name "liteipcd-dump-test-$$" 2>"$log" &
pid=$!
wait_for ': ready: serving'
kill -USR2 "$pid"
wait_for '^ServiceManager: none'
grep -q "the kernel's tables (SIGUSR2):" "$log"
grep -q '^liteipc kernel: 0 processes, 0 tasks (limits 64 and 128), reply timeout 5000 ms' "$log"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" -eq 0 ] || { echo "liteipcd exited with $status" >&2; cat "$log" >&2; exit 1; }
grep -q 'stopping on SIGTERM' "$log"
