#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# golden-check.sh [--update] ECHO_DEMO - a CTest: run the echo demo with --mermaid and --chrome
# and compare the diagram and the JSON with tests/golden/echo_demo.mmd and echo_demo.json, the
# JSON's timestamps set to 0 first (nothing else varies: the demo sequences its steps, and the
# drawings show simulated PIDs only). The JSON is also read by a real parser and checked by
# scripts/chrome-check.py (nesting, flows, the named tracks, client-B's EACCES, the grants).
# A run with --preview must show the messages' first bytes in both.
#
# After a deliberate change of the drawings: scripts/golden-check.sh --update
# build/examples/echo_demo (or `make golden`) rewrites the golden files; review their diff.
set -eu
update=0
if [ "${1:-}" = "--update" ]; then
    update=1
    shift
fi
demo=$1
here=$(cd "$(dirname "$0")" && pwd)
golden=$(cd "$here/.." && pwd)/tests/golden
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

fail() {
    echo "golden-check: FAIL: $*" >&2
    exit 1
}

command -v python3 >/dev/null || fail "python3 is needed (scripts/install-deps.sh installs it)"
"$demo" --mermaid "$dir/demo.mmd" --chrome "$dir/raw.json" >"$dir/out" || fail "echo_demo failed"
sed -E 's/"ts":[0-9]+\.[0-9]+/"ts":0/' "$dir/raw.json" >"$dir/demo.json"
python3 "$here/chrome-check.py" "$dir/raw.json" --task SM --task echo --task client-A \
    --task client-B --task main --refusal client-B:EACCES --grants 3 ||
    fail "the JSON does not hold what it should"
if [ "$update" = 1 ]; then
    cp "$dir/demo.mmd" "$golden/echo_demo.mmd"
    cp "$dir/demo.json" "$golden/echo_demo.json"
    echo "golden-check: updated $golden/echo_demo.mmd and echo_demo.json"
    exit 0
fi
diff -u "$golden/echo_demo.mmd" "$dir/demo.mmd" ||
    fail "the Mermaid diagram differs from tests/golden/echo_demo.mmd (above)"
diff -u "$golden/echo_demo.json" "$dir/demo.json" ||
    fail "the Chrome JSON differs from tests/golden/echo_demo.json (above)"

"$demo" --preview --mermaid "$dir/p.mmd" --chrome "$dir/p.json" >/dev/null ||
    fail "echo_demo --preview failed"
grep -q 'T10->>T9: request code 1 (14 B) \[hello, liteipc\]$' "$dir/p.mmd" ||
    fail "no preview in the diagram's arrow"
grep -q '"preview":"HELLO, LITEIPC"' "$dir/p.json" || fail "no preview in the JSON's args"
python3 "$here/chrome-check.py" "$dir/p.json" >/dev/null || fail "the preview JSON is broken"
echo "golden-check: the diagram and the JSON match tests/golden"
