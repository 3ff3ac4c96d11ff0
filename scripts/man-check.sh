#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# man-check.sh LITEIPCD PAGE - the man page of liteipcd renders without a warning (man -l if
# man-db is installed, else groff), documents every option of `liteipcd --help` and no other,
# and gives each option the default --help gives it.
# man-check.sh LITEIPCCTL PAGE - the same rendering check for liteipcctl's page, which must
# have a synopsis of every command of `liteipcctl --help` and name every option of each
# command's help; and every help of liteipcctl fits a screen (80 columns, 24 lines).
set -euo pipefail
daemon=$1
page=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/man-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0

# 1. Rendering: any message on stderr is a warning (or worse).
if command -v man >/dev/null; then
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" >"$tmp/rendered" 2>"$tmp/warn"
else
    groff -man -Tutf8 -ww "$page" >"$tmp/rendered" 2>"$tmp/warn"
fi
if [ -s "$tmp/warn" ] || [ ! -s "$tmp/rendered" ]; then
    echo "man-check: $page does not render cleanly:" >&2
    cat "$tmp/warn" >&2
    fail=1
fi

groff -man -Tascii -P-cbou -rHY=0 "$page" 2>/dev/null >"$tmp/page.txt"

# 2'. liteipcctl: every command of --help has a synopsis line and every option of each
#     command's help appears in the page; each help fits a screen (80 x 24).
if [ "$(basename "$daemon")" = liteipcctl ]; then
    "$daemon" --help >"$tmp/help.txt"
    cmds=$(sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' "$tmp/help.txt" | grep -vx help)
    [ -n "$cmds" ] || { echo "man-check: no commands read from --help" >&2; fail=1; }
    n=0
    for cmd in "" $cmds; do
        "$daemon" help $cmd >"$tmp/help-cmd.txt"
        width=$(awk '{ if (length > m) m = length } END { print m + 0 }' "$tmp/help-cmd.txt")
        if [ "$(wc -l <"$tmp/help-cmd.txt")" -gt 24 ] || [ "$width" -gt 80 ]; then
            echo "man-check: 'liteipcctl help $cmd' does not fit 80 x 24" >&2
            fail=1
        fi
        [ -n "$cmd" ] || continue
        grep -q "^ *liteipcctl $cmd\b" "$tmp/page.txt" ||
            { echo "man-check: $page: no synopsis of command $cmd" >&2; fail=1; }
        for opt in $(grep -o -- '--[a-z][a-z-]*' "$tmp/help-cmd.txt" | sort -u); do
            [ "$opt" = --help ] && continue
            n=$((n + 1))
            grep -q -- "$opt" "$tmp/page.txt" ||
                { echo "man-check: $page: command $cmd: no option $opt" >&2; fail=1; }
        done
    done
    [ $fail = 0 ] && echo "man-check: $page renders cleanly; commands $(echo $cmds) and" \
        "their $n options, as in --help"
    exit $fail
fi

# 2. Options and their defaults, from plain ASCII text without hyphenation. An option's text
#    runs from its own line to the next option line or the next section heading.
"$daemon" --help >"$tmp/help.txt"
# "OPTION<TAB>DEFAULT" (DEFAULT empty when the text gives no number) for each option line.
options_of() {
    awk '
    function flush() { if (opt != "") { d = ""; gsub(/ +/, " ", text); if (match(text, /default:? [0-9]+/)) {
                           d = substr(text, RSTART, RLENGTH); sub(/default:? /, "", d) }
                       n = split(opt, o, " "); for (i = 1; i <= n; i++) print o[i] "\t" d } }
    /^ +(-[a-zA-Z], )?--[a-z]/ {
        flush(); opt = ""; text = $0
        s = $0; while (match(s, /(^|[ ,])(-[a-zA-Z]|--[a-z][a-z-]*)/)) {
            t = substr(s, RSTART, RLENGTH); sub(/^[ ,]/, "", t); opt = opt " " t
            s = substr(s, RSTART + RLENGTH); if (s !~ /^,/) break }
        next }
    /^[^ ]/ { flush(); opt = ""; next }
    { text = text " " $0 }
    END { flush() }' "$1" | sort -u
}
options_of "$tmp/help.txt" >"$tmp/help.opts"
options_of "$tmp/page.txt" >"$tmp/page.opts"
if ! diff -u --label "liteipcd --help" --label "$page" "$tmp/help.opts" "$tmp/page.opts" >&2; then
    echo "man-check: options or defaults differ (lines: option, default)" >&2
    fail=1
fi
[ "$(wc -l <"$tmp/help.opts")" -ge 10 ] || { echo "man-check: no options read from --help" >&2; fail=1; }
[ $fail = 0 ] && echo "man-check: $page renders cleanly; $(wc -l <"$tmp/help.opts") options, as in --help"
exit $fail
