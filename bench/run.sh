#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/run.sh - the benchmark suite of issues 5 and 12 in one go.
#
# Usage: bench/run.sh [--quick] [--wait-quiet] [--keep] [--load N[,N...] | --no-load]
#   --quick       fewer iterations (a smoke run, about a minute; figures are rough)
#   --wait-quiet  first wait (at most 5 minutes) until the 1-minute load average is below 1
#   --keep        keep the private directory (daemon logs, raw results) and print its path
#   --load N,...  only the rounds under load: round trips and one-way throughput of every
#                 peer and of liteipc-sim with N busy-loop processes running, each loaded round
#                 preceded by a quiet one (the same minutes); without it, the full quiet suite
#                 then load levels 1 and 2 (issue 12)
#   --no-load     only the quiet suite (no load levels, no one-CPU round)
#
# Steps: install what the peers need from Debian (apt-get, only what is missing); build the
# benchmarks in Release into build-bench/ (BUILD_DIR overrides); start a private dbus-daemon
# (its socket in a private directory) and iox-roudi (iceoryx's own fixed names under /tmp and
# /dev/shm, with a small memory configuration); run every benchmark; stop what was started
# (busy loops included, on every exit path); print the table, the targets, and last one
# `name: value` line per headline figure, `loadN_*` ratios per load level. After the load levels,
# the loaded round's benchmarks once more with every thread on one CPU (taskset): `cpu1_*` lines.
#
# Environment: ITERS (round trips per payload, 20000), DBUS_ITERS (10000), LOAD_ROUNDS (quiet +
# loaded pairs per level, 2), BUILD_DIR, JOBS.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build-bench}
jobs=${JOBS:-2}
iters=${ITERS:-20000}
dbus_iters=${DBUS_ITERS:-10000}
warmup=2000
seconds=1.0
idle_seconds=10
oneway_count=100000
alloc_count=1000000
load_rounds=${LOAD_ROUNDS:-2}
quick=0
wait_quiet=0
keep=0
loads=1,2
quiet_suite=1

while [ $# -gt 0 ]; do
    arg=$1
    shift
    case "$arg" in
    --quick) quick=1 ;;
    --load)
        if [ $# -eq 0 ]; then
            echo "run.sh: --load needs a list of levels, e.g. --load 1,2" >&2
            exit 2
        fi
        loads=$1 quiet_suite=0
        shift
        ;;
    --load=*) loads=${arg#--load=} quiet_suite=0 ;;
    --no-load) loads= ;;
    --wait-quiet) wait_quiet=1 ;;
    --keep) keep=1 ;;
    -h | --help)
        sed -n '3,24s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *)
        echo "run.sh: unknown option '$arg'" >&2
        exit 2
        ;;
    esac
done
if ! [[ "$loads" =~ ^([1-9][0-9]?(,[1-9][0-9]?)*)?$ ]]; then
    echo "run.sh: --load wants levels 1-99 separated by commas, not '$loads'" >&2
    exit 2
fi
if [ "$quick" = 1 ]; then
    iters=3000 dbus_iters=1000 warmup=300 seconds=0.3 idle_seconds=2
    oneway_count=50000 alloc_count=50000 load_rounds=1
fi

say() { printf '== %s\n' "$*" >&2; }

# ---- packages ----------------------------------------------------------------------------------

have_deb() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

install_missing() {
    local want=(cmake gcc make pkg-config libdbus-1-dev dbus-daemon iceoryx
                libiceoryx-binding-c-dev) missing=() sudo=()
    command -v dpkg-query >/dev/null 2>&1 || return 0
    for p in "${want[@]}"; do
        have_deb "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    say "installing from Debian: ${missing[*]}"
    if ! { "${sudo[@]}" apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null; }; then
        say "apt-get failed: benchmarks whose peer is missing are reported as n/a"
    fi
}

# ---- private daemons ----------------------------------------------------------------------------

tmp=$(mktemp -d /tmp/liteipc-bench.XXXXXX)
dbus_pid=
roudi_pid=
dbus_addr=
roudi_note=
busy_pids=()

# N busy-loop processes, the load of issue 12. Each runs under timeout(1) as well, so that
# even a run killed with SIGKILL leaves none behind for long.
start_busy() {
    for _ in $(seq "$1"); do
        timeout 1200 sh -c 'while :; do :; done' &
        busy_pids+=($!)
    done
}

stop_busy() {
    local p
    for p in "${busy_pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    busy_pids=()
}

cleanup() {
    stop_busy
    if [ -n "$roudi_pid" ] && kill -0 "$roudi_pid" 2>/dev/null; then
        kill -INT "$roudi_pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$roudi_pid" 2>/dev/null || break; sleep 0.1; done
        if kill -KILL "$roudi_pid" 2>/dev/null; then
            # Killed, it leaves its fixed names behind: ours, as no other RouDi ran (start_roudi).
            wait "$roudi_pid" 2>/dev/null || true
            rm -f /dev/shm/iceoryx_mgmt "/dev/shm/$(id -gn)" /tmp/roudi /tmp/roudi.lock \
                /tmp/liteipc-bench-client /tmp/liteipc-bench-client.lock \
                /tmp/liteipc-bench-server /tmp/liteipc-bench-server.lock
        fi
        wait "$roudi_pid" 2>/dev/null || true
    fi
    if [ -n "$dbus_pid" ] && kill -0 "$dbus_pid" 2>/dev/null; then
        kill -TERM "$dbus_pid" 2>/dev/null || true
        wait "$dbus_pid" 2>/dev/null || true
    fi
    if [ "$keep" = 1 ]; then
        echo "run.sh: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_dbus() {
    command -v dbus-daemon >/dev/null 2>&1 || return 0
    [ -x "$build/bench/bench_dbus" ] || return 0
    cat >"$tmp/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$tmp/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
    dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile --nosyslog \
        --print-address=3 3>"$tmp/bus.addr" 2>"$tmp/dbus.log" &
    dbus_pid=$!
    for _ in $(seq 100); do
        [ -s "$tmp/bus.addr" ] && break
        sleep 0.05
    done
    dbus_addr=$(head -n1 "$tmp/bus.addr" 2>/dev/null || true)
    [ -n "$dbus_addr" ] || say "dbus-daemon did not start (see its log): D-Bus is n/a"
}

start_roudi() {
    command -v iox-roudi >/dev/null 2>&1 || { roudi_note="iox-roudi not installed"; return 1; }
    [ -x "$build/bench/bench_iceoryx" ] || { roudi_note="iceoryx C binding missing"; return 1; }
    if pgrep -x iox-roudi >/dev/null 2>&1; then
        roudi_note="another iox-roudi is running: not started, not measured"
        return 1
    fi
    # Chunks hold a chunk header and a request/response header besides the payload.
    cat >"$tmp/roudi.toml" <<EOF
[general]
version = 1

[[segment]]

[[segment.mempool]]
size = 256
count = 512

[[segment.mempool]]
size = 2048
count = 256

[[segment.mempool]]
size = 8192
count = 256
EOF
    iox-roudi -c "$tmp/roudi.toml" -l info -m off >"$tmp/roudi.log" 2>&1 &
    roudi_pid=$!
    for _ in $(seq 200); do
        grep -q "RouDi is ready" "$tmp/roudi.log" 2>/dev/null && return 0
        kill -0 "$roudi_pid" 2>/dev/null || break
        sleep 0.05
    done
    roudi_note="iox-roudi did not become ready"
    say "$roudi_note; its log:"
    tail -n 5 "$tmp/roudi.log" >&2 || true
    return 1
}

# ---- running -------------------------------------------------------------------------------------

results=$tmp/results.tsv
: >"$results"
dest=$results # where run() appends: the quiet suite's results, or a load level's

# Run one benchmark program; its ROW/METRIC lines go to $dest, the rest to the terminal.
run() {
    local name=$1
    shift
    say "$name"
    if ! timeout 300 "$@" >"$tmp/out.txt" 2>"$tmp/err.txt"; then
        say "$name FAILED:"
        cat "$tmp/err.txt" >&2
    fi
    grep -E '^(ROW|METRIC)' "$tmp/out.txt" >>"$dest" || true
    grep -vE '^(ROW|METRIC)' "$tmp/out.txt" >&2 || true
}

wait_for_quiet() {
    local load
    for _ in $(seq 60); do
        load=$(cut -d' ' -f1 /proc/loadavg)
        awk -v l="$load" 'BEGIN { exit !(l < 1.0) }' && return 0
        sleep 5
    done
    say "load average still $load after 5 minutes: running anyway"
}

install_missing
say "building (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLITEIPC_BUILD_TESTS=OFF \
    -DLITEIPC_BUILD_EXAMPLES=OFF -DLITEIPC_BUILD_BENCH=ON >"$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log" >&2; exit 1; }
cmake --build "$build" -j"$jobs" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; exit 1; }
b=$build/bench

[ "$wait_quiet" = 1 ] && wait_for_quiet
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)

rt=(--iters "$iters" --warmup "$warmup")
start_dbus
roudi_up=0
start_roudi && roudi_up=1

# Round trips and one-way throughput of every peer and of liteipc-sim: what a load level measures.
run_round() {
    run "futex ping-pong (floor)" "$b/bench_futex" "${rt[@]}"
    run "Unix SOCK_SEQPACKET" "$b/bench_uds" "${rt[@]}"
    run "Unix SOCK_SEQPACKET, one-way throughput" "$b/bench_uds" oneway --count "$oneway_count"
    if [ -n "$dbus_addr" ]; then
        run "D-Bus (private dbus-daemon)" "$b/bench_dbus" --address "$dbus_addr" \
            --iters "$dbus_iters" --warmup $((dbus_iters / 10))
    fi
    if [ "$roudi_up" = 1 ]; then
        run "iceoryx request/response (iox-roudi)" "$b/bench_iceoryx" "${rt[@]}"
    fi
    run "liteipc-sim, virtual processes" "$b/bench_liteipc" rtt-virtual "${rt[@]}"
    run "liteipc-sim, real processes" "$b/bench_liteipc" rtt-real "${rt[@]}"
    run "liteipc-sim, one-way throughput" "$b/bench_liteipc" oneway --count "$oneway_count"
}

if [ "$quiet_suite" = 1 ]; then
    run "what the machine charges (system call, yield, wake, copy)" "$b/bench_machine"
    run_round
    run "liteipc-sim, 1/2/4/8 client processes" "$b/bench_liteipc" clients --seconds "$seconds"
    run "liteipc-sim, 120 tasks vs 2" "$b/bench_liteipc" tasks "${rt[@]}"
    run "liteipc-sim, kernel start+stop" "$b/bench_liteipc" startstop
    run "liteipc-sim, idle kernel CPU (${idle_seconds} s)" "$b/bench_liteipc" idle \
        --seconds "$idle_seconds"
    run "liteipc-sim, heap and RSS over $alloc_count calls" "$b/bench_liteipc" allocs \
        --count "$alloc_count"
fi

# Issue 12: each loaded round follows a quiet one, so that both see the same minutes of a
# shared machine; the quiet rounds of every level make level 0.
: >"$tmp/level0.tsv"
for level in ${loads//,/ }; do
    : >"$tmp/level$level.tsv"
    for round in $(seq "$load_rounds"); do
        dest=$tmp/level0.tsv
        say "quiet round $round before load $level"
        run_round
        dest=$tmp/level$level.tsv
        say "load $level, round $round: $level busy-loop processes"
        start_busy "$level"
        run_round
        stop_busy
    done
done
# The same round with every thread on one CPU: where the scheduler often puts the three threads
# of a one-way run under load (docs/PERFORMANCE.md), and the ceiling of a send that waits for
# another thread there.
one_cpu=
if [ -n "$loads" ] && command -v taskset >/dev/null 2>&1; then
    one_cpu=$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//')
    dest=$tmp/cpu1.tsv
    : >"$dest"
    say "one CPU: every thread on CPU $one_cpu"
    b_real=$b b=
    for prog in bench_futex bench_uds bench_liteipc; do
        printf '#!/bin/sh\nexec taskset -c %s %q "$@"\n' "$one_cpu" "$b_real/$prog" \
            >"$tmp/$prog"
        chmod +x "$tmp/$prog"
    done
    saved_dbus=$dbus_addr saved_roudi=$roudi_up
    b=$tmp dbus_addr= roudi_up=0 # the peers the round needs: the futex floor and the socket
    run_round
    b=$b_real dbus_addr=$saved_dbus roudi_up=$saved_roudi
fi
dest=$results
elapsed=$(($(date +%s) - started))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report --------------------------------------------------------------------------------------

echo
echo "liteipc-sim benchmarks: $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' \
    /proc/cpuinfo)), $(uname -r); load average $load_before before, $load_after after; \
${elapsed} s"
if [ "$quiet_suite" = 1 ]; then
    echo "round trips: median / p99 in microseconds (iterations per payload in brackets)"
    awk -F'\t' -v roudi_note="$roudi_note" '
    $1 == "ROW" {
        key = $2; if (!(key in seen)) { seen[key] = 1; order[n++] = key }
        cell[key, $3] = sprintf("%9.2f / %-9.2f", $5, $6); it[key] = $4
    }
    END {
        printf "%-26s %-21s %-21s %-21s\n", "mechanism", "16 B", "1 KiB", "6 KiB"
        for (i = 0; i < n; i++) {
            k = order[i]
            printf "%-26s %-21s %-21s %-21s [%s]\n", k, cell[k, 16], cell[k, 1024], cell[k, 6144],
                it[k]
        }
        if (!("iceoryx" in seen))
            printf "%-26s n/a (%s)\n", "iceoryx", roudi_note == "" ? "not measured" : roudi_note
        if (!("dbus-daemon" in seen))
            printf "%-26s n/a\n", "dbus-daemon"
    }' "$results"
    echo
    echo "other figures:"
    awk -F'\t' '$1 == "METRIC" { printf "  %-32s %-14s %s\n", $2, $3, $4 }' "$results"

    # Headline figures and their targets.
    awk -F'\t' '
    function med(k, p) { return ((k SUBSEP p) in m) ? m[k, p] : "" }
    function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "n/a" : sprintf("%.3f", a / b) }
    function val(x, fmt) { return x == "" ? "n/a" : sprintf(fmt, x) }
    function check(v, op, t) {
        if (v == "n/a") return "n/a"
        if (op == "<=") return (v + 0 <= t) ? "met" : "NOT met"
        if (op == "<") return (v + 0 < t) ? "met" : "NOT met"
        return (v + 0 >= t) ? "met" : "NOT met"
    }
    $1 == "ROW" { m[$2, $3] = $5 }
    $1 == "METRIC" { x[$2] = $3 }
    END {
        real = med("liteipc-real", 16); uds = med("uds-seqpacket", 16); iox = med("iceoryx", 16)
        floor = med("futex-blocking", 16)
        h["rtt_16b_real_us"] = val(real, "%.2f")
        h["rtt_16b_uds_us"] = val(uds, "%.2f")
        h["rtt_16b_iceoryx_us"] = val(iox, "%.2f")
        h["rtt_vs_futex_floor"] = ratio(real, floor)
        h["rtt_6k_over_16b"] = ratio(med("liteipc-real", 6144), real)
        h["oneway_msgs_per_s"] = val(x["oneway_msgs_per_s"], "%.0f")
        h["sync_8clients_over_1client"] = val(x["sync_8clients_over_1client"], "%.3f")
        h["rtt_120tasks_over_2tasks"] = val(x["rtt_120tasks_over_2tasks"], "%.3f")
        h["kernel_start_stop_us"] = val(x["kernel_start_stop_us"], "%.1f")
        h["idle_cpu_percent"] = val(x["idle_cpu_percent"], "%.3f")
        h["allocs_per_call"] = val(x["allocs_per_call"], "%.4g")

        half = ""
        if (real != "" && uds != "") {
            half = (real < uds / 2) ? "met" : "NOT met"
            if (iox != "") half = (half == "met" && real < iox / 2) ? "met" : "NOT met"
            else half = half " (iceoryx n/a)"
        }
        print ""
        print "targets (issue 5):"
        printf "  %-28s %-10s %-40s %s\n", "line", "value", "target", "verdict"
        printf "  %-28s %-10s %-40s %s; stretch <2: %s\n", "rtt_16b_real_us", \
            h["rtt_16b_real_us"], "< half of uds and of iceoryx", half == "" ? "n/a" : half, \
            check(h["rtt_16b_real_us"], "<", 2)
        printf "  %-28s %-10s %-40s %s\n", "rtt_vs_futex_floor", h["rtt_vs_futex_floor"], \
            "<= 1.0", \
            check(h["rtt_vs_futex_floor"], "<=", 1.0)
        printf "  %-28s %-10s %-40s %s\n", "rtt_6k_over_16b", h["rtt_6k_over_16b"], "<= 2.0", \
            check(h["rtt_6k_over_16b"], "<=", 2.0)
        printf "  %-28s %-10s %-40s %s\n", "oneway_msgs_per_s", h["oneway_msgs_per_s"], \
            ">= 1000000", \
            check(h["oneway_msgs_per_s"], ">=", 1000000)
        printf "  %-28s %-10s %-40s %s\n", "sync_8clients_over_1client", \
            h["sync_8clients_over_1client"], ">= 0.8", \
            check(h["sync_8clients_over_1client"], ">=", 0.8)
        printf "  %-28s %-10s %-40s %s\n", "rtt_120tasks_over_2tasks", \
            h["rtt_120tasks_over_2tasks"], \
            "<= 1.1", check(h["rtt_120tasks_over_2tasks"], "<=", 1.1)
        printf "  %-28s %-10s %-40s %s\n", "kernel_start_stop_us", h["kernel_start_stop_us"], \
            "<= 1000", check(h["kernel_start_stop_us"], "<=", 1000)
        printf "  %-28s %-10s %-40s %s\n", "idle_cpu_percent", h["idle_cpu_percent"], "< 1", \
            check(h["idle_cpu_percent"], "<", 1)
        rss = ("rss_growth_kib" in x) ? x["rss_growth_kib"] : ""
        printf "  %-28s %-10s %-40s %s; RSS growth %s KiB (< 1024: %s)\n", "allocs_per_call", \
            h["allocs_per_call"], "0, RSS growth < 1 MiB", check(h["allocs_per_call"], "<=", 0), \
            rss == "" ? "n/a" : rss, rss == "" ? "n/a" : check(rss, "<", 1024)
        print ""
        n = split("rtt_16b_real_us rtt_16b_uds_us rtt_16b_iceoryx_us rtt_vs_futex_floor " \
                  "rtt_6k_over_16b oneway_msgs_per_s sync_8clients_over_1client " \
                  "rtt_120tasks_over_2tasks kernel_start_stop_us idle_cpu_percent allocs_per_call",
                  names, " ")
        for (i = 1; i <= n; i++)
            printf "%s: %s\n", names[i], h[names[i]]
    }' "$results"
fi

# ---- under load (issue 12) ----------------------------------------------------------------------

[ -n "$loads" ] || exit 0
echo
echo "under load: N busy-loop processes on $(nproc) CPUs, $load_rounds round(s) per level, each" \
    "after a quiet one (level 0: those quiet rounds); means over the rounds"
levels="0 ${loads//,/ }"
for level in $levels; do
    awk -F'\t' -v L="$level" '$1 == "ROW" || $1 == "METRIC" { print L "\t" $0 }' \
        "$tmp/level$level.tsv"
done | awk -F'\t' -v levels="$levels" '
function mean(k) { return (k in cnt) ? sum[k] / cnt[k] : "" }
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "n/a" : sprintf("%.3f", a / b) }
function check(v, op, t) {
    if (v == "n/a") return "n/a"
    return (op == "<=" ? v + 0 <= t : v + 0 >= t) ? "met" : "NOT met"
}
$2 == "ROW" && $4 == 16 {
    if (!($3 in seen)) { seen[$3] = 1; order[n++] = $3 }
    sum[$1, $3, "med"] += $6; cnt[$1, $3, "med"]++
    sum[$1, $3, "p99"] += $7; cnt[$1, $3, "p99"]++
}
$2 == "METRIC" { sum[$1, $3] += $4; cnt[$1, $3]++ }
END {
    nl = split(levels, lv, " ")
    printf "%-26s", "16 B median / p99 (us)"
    for (j = 1; j <= nl; j++) printf " %-21s", "load " lv[j]
    printf "\n"
    for (i = 0; i < n; i++) {
        printf "%-26s", order[i]
        for (j = 1; j <= nl; j++) {
            m = mean(lv[j] SUBSEP order[i] SUBSEP "med")
            p = mean(lv[j] SUBSEP order[i] SUBSEP "p99")
            printf " %-21s", m == "" ? "n/a" : sprintf("%9.2f / %-9.2f", m, p)
        }
        printf "\n"
    }
    printf "%-26s", "one-way liteipc / uds (k/s)"
    for (j = 1; j <= nl; j++) {
        a = mean(lv[j] SUBSEP "oneway_msgs_per_s"); b = mean(lv[j] SUBSEP "uds_oneway_msgs_per_s")
        printf " %-21s", a == "" || b == "" ? "n/a" : sprintf("%9.0f / %-9.0f", a / 1e3, b / 1e3)
    }
    printf "\n\ntargets (issue 12, for each load level N >= 1):\n"
    printf "  %-32s %-10s %-8s %s\n", "line", "value", "target", "verdict"
    split("rtt_real_over_uds rtt_virtual_over_futex p99_real_over_uds p99_virtual_over_futex " \
          "oneway_over_uds", names, " ")
    split("<= <= <= <= >=", ops, " "); split("1.0 1.5 2.0 2.0 1.0", tg, " ")
    for (j = 1; j <= nl; j++) {
        L = lv[j]
        v["rtt_real_over_uds"] = ratio(mean(L SUBSEP "liteipc-real" SUBSEP "med"),
                                       mean(L SUBSEP "uds-seqpacket" SUBSEP "med"))
        v["rtt_virtual_over_futex"] = ratio(mean(L SUBSEP "liteipc-virtual" SUBSEP "med"),
                                            mean(L SUBSEP "futex-blocking" SUBSEP "med"))
        v["p99_real_over_uds"] = ratio(mean(L SUBSEP "liteipc-real" SUBSEP "p99"),
                                       mean(L SUBSEP "uds-seqpacket" SUBSEP "p99"))
        v["p99_virtual_over_futex"] = ratio(mean(L SUBSEP "liteipc-virtual" SUBSEP "p99"),
                                            mean(L SUBSEP "futex-blocking" SUBSEP "p99"))
        v["oneway_over_uds"] = ratio(mean(L SUBSEP "oneway_msgs_per_s"),
                                     mean(L SUBSEP "uds_oneway_msgs_per_s"))
        for (i = 1; i <= 5; i++) {
            key = "load" L "_" names[i]
            line[key] = v[names[i]]; keys[nk++] = key
            printf "  %-32s %-10s %-8s %s\n", key, v[names[i]], ops[i] " " tg[i],
                L == 0 ? "(quiet, for comparison)" : check(v[names[i]], ops[i], tg[i])
        }
    }
    print ""
    for (i = 0; i < nk; i++)
        printf "%s: %s\n", keys[i], line[keys[i]]
}'

[ -n "$one_cpu" ] || exit 0
echo
echo "on one CPU (every thread of each benchmark on CPU $one_cpu):"
awk -F'\t' '
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "n/a" : sprintf("%.3f", a / b) }
$1 == "ROW" && $3 == 16 { med[$2] = $5 }
$1 == "METRIC" { m[$2] = $3 }
END {
    printf "  16 B median (us): futex %s, uds %s, liteipc virtual %s, real %s\n",
        med["futex-blocking"], med["uds-seqpacket"], med["liteipc-virtual"], med["liteipc-real"]
    printf "  one-way (k/s): uds %.0f, liteipc %.0f\n", m["uds_oneway_msgs_per_s"] / 1e3,
        m["oneway_msgs_per_s"] / 1e3
    bound = med["futex-blocking"] > 0 ? 1e6 / med["futex-blocking"] : ""
    printf "  a send that waits for another thread on its CPU: at most one per futex round trip,\n"
    printf "  %.0f k/s\n\n", bound / 1e3
    printf "cpu1_rtt_real_over_uds: %s\n", ratio(med["liteipc-real"], med["uds-seqpacket"])
    printf "cpu1_rtt_virtual_over_futex: %s\n", ratio(med["liteipc-virtual"], med["futex-blocking"])
    printf "cpu1_oneway_over_uds: %s\n", ratio(m["oneway_msgs_per_s"], m["uds_oneway_msgs_per_s"])
    printf "cpu1_sync_send_bound_over_uds: %s\n", ratio(bound, m["uds_oneway_msgs_per_s"])
}' "$tmp/cpu1.tsv"
