#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# readme-code.sh - keep the code and output shown in README.md identical to their sources.
#
# Usage: scripts/readme-code.sh --check|--update [DEMO]
#   A line `<!-- FILE -->` (FILE under examples/) followed by a fenced block: the block is the
#   file's content. A line `<!-- output of echo_demo -->` followed by a fenced block: the block
#   is what the program DEMO prints (only when DEMO is given, e.g. build/examples/echo_demo).
#   --check fails if a block differs; --update rewrites the blocks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode=${1:---check}
demo=${2:-}
readme=README.md
tmp=$(mktemp)
out=$(mktemp)
trap 'rm -f "$tmp" "$out"' EXIT

if [ -n "$demo" ]; then
    "$demo" >"$out"
fi

# Print README with every marked block replaced by its source.
awk -v demo_out="$([ -n "$demo" ] && echo "$out")" '
    /^<!-- [A-Za-z0-9_.-]+\.c -->$/ { print; src = "examples/" $2; pending = 1; next }
    /^<!-- output of echo_demo -->$/ { print; src = demo_out; pending = (src != ""); next }
    pending && /^```/ { print; while ((getline line < src) > 0) print line; close(src);
                        skipping = 1; pending = 0; next }
    skipping && /^```$/ { print; skipping = 0; next }
    skipping { next }
    { print }
' "$readme" >"$tmp"

case "$mode" in
--check)
    if ! diff -u "$readme" "$tmp"; then
        echo "readme-code: README.md differs from its sources (run $0 --update ${demo})" >&2
        exit 1
    fi
    ;;
--update)
    cmp -s "$readme" "$tmp" || cp "$tmp" "$readme"
    ;;
*)
    echo "usage: $0 --check|--update [DEMO]" >&2
    exit 2
    ;;
esac
