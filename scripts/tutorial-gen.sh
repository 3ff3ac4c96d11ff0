#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tutorial-gen.sh - the diagrams of docs/TUTORIAL.md, generated from real runs.
#
# Usage: scripts/tutorial-gen.sh [--check] [PROGRAM]
#   Every block of docs/TUTORIAL.md between a line `<!-- tutorial:NAME -->` and a line
#   `<!-- /tutorial -->` is the Mermaid diagram that `PROGRAM NAME` prints (a ```mermaid fence
#   around it). PROGRAM is examples/tutorial.c built, by default build/examples/tutorial.
#   Without --check the blocks are rewritten; with --check nothing is written and the script
#   fails, showing the difference, when a committed diagram is not what the code draws now.
#   The diagrams hold nothing that varies between runs (no host PID, no time), so they are
#   compared as they are. The sizes in them are those of a 64-bit host.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

check=no
if [ "${1:-}" = --check ]; then
    check=yes
    shift
fi
program=${1:-build/examples/tutorial}
doc=docs/TUTORIAL.md

if [ ! -x "$program" ]; then
    echo "tutorial-gen: $program: no such program (build it: make build)" >&2
    exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Run every scenario the document names, once.
names=$(sed -n 's/^<!-- tutorial:\([A-Za-z0-9_-]*\) -->$/\1/p' "$doc" | sort -u)
if [ -z "$names" ]; then
    echo "tutorial-gen: $doc has no <!-- tutorial:NAME --> block" >&2
    exit 2
fi
for name in $names; do
    if ! "$program" "$name" >"$tmp/$name.mmd"; then
        echo "tutorial-gen: '$program $name' failed: the scenario no longer runs as written" >&2
        exit 1
    fi
done

# The document with every block replaced by its scenario's diagram.
awk -v dir="$tmp" '
    /^<!-- tutorial:[A-Za-z0-9_-]+ -->$/ {
        if (inside) { print "unterminated block before line " NR > "/dev/stderr"; exit 3 }
        print
        name = substr($2, length("tutorial:") + 1)
        print "```mermaid"
        while ((getline line < (dir "/" name ".mmd")) > 0)
            print line
        close(dir "/" name ".mmd")
        print "```"
        inside = 1
        next
    }
    /^<!-- \/tutorial -->$/ { inside = 0 }
    inside { next }
    { print }
    END { if (inside) { print "unterminated block at the end" > "/dev/stderr"; exit 3 } }
' "$doc" >"$tmp/doc" || { echo "tutorial-gen: $doc: a block lacks its <!-- /tutorial -->" >&2
                          exit 2; }

if [ "$check" = yes ]; then
    if ! diff -u --label "$doc (committed)" --label "$doc (what the code draws)" \
            "$doc" "$tmp/doc"; then
        echo "tutorial-gen: a diagram of $doc no longer matches what examples/tutorial.c" \
             "draws; run scripts/tutorial-gen.sh (or make tutorial) and commit the result" >&2
        exit 1
    fi
    echo "tutorial-gen: the diagrams of $doc match their runs ($(echo $names | wc -w))"
    exit 0
fi
if cmp -s "$doc" "$tmp/doc"; then
    echo "tutorial-gen: $doc is up to date"
else
    cp "$tmp/doc" "$doc"
    echo "tutorial-gen: $doc rewritten"
fi
