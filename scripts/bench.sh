#!/usr/bin/env bash
# The benchmark protocol of design.md §6 in one go, as root: builds linerate (release), brings
# the namespace topology up, measures linerate and its baseline in the same run, and writes
# docs/benchmarks.md (values, baselines, ratios, targets met or not, and the exact command line
# of every measurement). Raw outputs go to target/bench/ (overwritten each run).
#
#   1. Stack cost:  linerate send --ack-peer on net_null (one lcore, MSS segments, payload
#                   copy), and the same with --ack-peer-offloads (emulated checksum offload)
#                   vs  dpdk-testpmd --forward-mode=txonly on net_null (1514-byte frames)
#   2. Goodput:     linerate send lr-gen -> linerate sink in lr-sink  vs  iperf3 lr-kgen ->
#                   iperf3 -s in lr-sink, 1 and 8 connections, lr-kgen's TSO/GSO off and on
#   3. Latency:     linerate send --latency --msg-rate 10k --size 64  vs  linerate ksend (the
#                   kernel's write() on a TCP socket, lr-kgen -> lr-sink), plus the same
#                   linerate run on net_null with the in-process ACK peer (the stack alone)
#   4. Impairment matrix: linerate (CUBIC) vs iperf3 -C cubic (TSO/GSO off and on), 16 connections each, through the
#                   router's impairment stage (loss 0.1/1/5/10 %, 25 % reordering, 1 % dup,
#                   0.1 % corruption, 20 ms ± 5 ms jitter, 1 Gbit/s rate), both directions
#   4b. Fixed-size transfers under loss (scripts/bench_recovery.sh): 8 x 8 MiB, linerate vs
#                   linerate ksend (kernel CUBIC; BBR as information), 1 to 10 % loss alone and
#                   with reordering, duplication, corruption, jitter: completion time and RTOs
#   5. Many connections (scripts/bench_many.sh): the scale curve 1 to 100 000 connections,
#                   a million held, the connection rate (net_null; af_packet to the kernel
#                   sink, every connection checked), request/response vs the kernel's client;
#                   the figures in docs/figures/ (scripts/plot.py)
#   6. Embedding (scripts/bench_embed.sh): what the C ABI adds to a send, what a cross-thread
#                   submit adds over the stack's own thread, the zero-copy storage writer
#   7. Fuzzing (scripts/fuzz.sh): each fuzz target 120 s from the committed corpus, execs/s
#
# Usage: scripts/bench.sh [--short | --long | --time SECONDS] [--no-matrix] [--matrix-reps N]
#                         [--out FILE] [--self-test]
#   default: 25 s per measurement (about 5-6 minutes in all); --short 5 s (about 2 minutes);
#   --long 60 s (about 14 minutes); the matrix adds N (--matrix-reps, default 3) rounds of
#   3 x 9 runs of min(T, 10) s (13.5 minutes at 10 s; 7 with --short), and 4b about 12
#   minutes more. --no-matrix skips both. --self-test checks the output parsers on fixtures
#   and exits (no root needed).
# Env: LR_SKIP_SETUP=1 skips scripts/setup.sh; LR_SKIP_BUILD=1 skips cargo build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Parsers and arithmetic (covered by --self-test).

# The median of testpmd's per-second "Tx-pps:" samples in file $1, skipping the first (it
# covers start-up); prints packets/s, or nothing when there is no sample.
testpmd_pps() {
    local v
    v=$(tr -d '\r' <"$1" | grep -a -o 'Tx-pps: *[0-9]*' | awk '{print $2}') || true
    [ -n "$v" ] || return 0
    if [ "$(wc -l <<<"$v")" -gt 1 ]; then v=$(tail -n +2 <<<"$v"); fi
    sort -n <<<"$v" | awk '{ a[NR] = $1 }
        END { if (NR % 2) printf "%d\n", a[(NR + 1) / 2]; else printf "%d\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# a / b with 3 decimals; "n/a" when either is missing or b is 0.
ratio() {
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN {
        if (a == "" || b == "" || a == "n/a" || b == "n/a" || b + 0 == 0) { print "n/a"; exit }
        printf "%.3f\n", a / b }'
}

# The median of the numbers given as arguments ("n/a" ones skipped); "n/a" when none is left.
median() {
    printf '%s\n' "$@" | awk '$1 != "n/a" && $1 != "" { a[++n] = $1 + 0 }
        END { if (!n) { print "n/a"; exit }
              for (i = 2; i <= n; i++) { v = a[i]; for (j = i - 1; j > 0 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
              printf "%.3f\n", (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }'
}

# The smallest and largest of the arguments as "min–max" ("n/a" ones skipped).
spread() {
    printf '%s\n' "$@" | awk '$1 != "n/a" && $1 != "" { v = $1 + 0; if (!n++ || v < lo) lo = v; if (n == 1 || v > hi) hi = v }
        END { if (!n) print "n/a"; else printf "%.2f–%.2f\n", lo, hi }'
}

# Formats number $1 with $2 decimals ("n/a" passes through).
fmt() {
    awk -v a="${1:-}" -v d="${2:-2}" 'BEGIN {
        if (a == "" || a == "n/a" || a == "null") { print "n/a"; exit }
        printf "%.*f\n", d, a }'
}

# yes/no: $1 $2 $3 as "a >= b" or "a <= b" ($2 is the operator); "n/a" when a is missing.
meets() {
    awk -v a="${1:-}" -v op="$2" -v b="$3" 'BEGIN {
        if (a == "" || a == "n/a") { print "n/a"; exit }
        ok = (op == ">=") ? (a + 0 >= b + 0) : (a + 0 <= b + 0)
        print ok ? "**yes**" : "no" }'
}

# A field of a JSON file with jq ($1 file, $2 filter); "n/a" when missing or null. A file of
# several objects (--json-lines, then the report) is read for its last.
jget() {
    local v
    v=$(jq -rs "last | ($2) // \"n/a\"" "$1" 2>/dev/null) || v=n/a
    [ -n "$v" ] || v=n/a
    printf '%s\n' "$v"
}

# iperf3 -J: received goodput in Gbit/s.
iperf_gbps() {
    local b
    b=$(jget "$1" '.end.sum_received.bits_per_second')
    [ "$b" = n/a ] && { echo n/a; return; }
    awk -v b="$b" 'BEGIN { printf "%.3f\n", b / 1e9 }'
}

# A command line for people: arguments with spaces in double quotes.
show_cmd() {
    local out="" a
    for a in "$@"; do
        if [[ $a =~ [[:space:]] ]]; then out+="\"$a\" "; else out+="$a "; fi
    done
    printf '%s\n' "${out% }"
}

# Section 5's measurements and report.
# shellcheck source=scripts/bench_many.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench_many.sh"
# Section 6's.
# shellcheck source=scripts/bench_embed.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench_embed.sh"
# Section 4b's.
# shellcheck source=scripts/bench_recovery.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench_recovery.sh"

self_test() {
    local d fail=0
    d=$(mktemp -d)
    # shellcheck disable=SC2064
    trap "rm -rf '$d'" RETURN
    check() { if [ "$2" != "$3" ]; then echo "self-test: $1: want '$3', got '$2'" >&2; fail=1; fi; }
    printf '%s\r\n' "Port statistics ====" "  Tx-pps:     35062141          Tx-bps:            0" \
        "  Tx-pps:     60000000          Tx-bps:            0" \
        "  Tx-pps:     64000000          Tx-bps:            0" \
        "  Tx-pps:     62000000          Tx-bps:            0" "Bye..." >"$d/tp"
    check "testpmd median skips the first sample" "$(testpmd_pps "$d/tp")" 62000000
    printf '%s\n' "  Rx-pps:  0  Tx-pps:  5000000 " >"$d/tp1"
    check "testpmd one sample" "$(testpmd_pps "$d/tp1")" 5000000
    printf '%s\n' "  Tx-pps: 10" "  Tx-pps: 20" "  Tx-pps: 40" >"$d/tp2"
    check "testpmd even count" "$(testpmd_pps "$d/tp2")" 30
    printf 'EAL: error\n' >"$d/tp3"
    check "testpmd no sample" "$(testpmd_pps "$d/tp3")" ""
    check "ratio" "$(ratio 1.5 3)" 0.500
    check "ratio by zero" "$(ratio 1 0)" n/a
    check "ratio missing" "$(ratio n/a 2)" n/a
    check "fmt" "$(fmt 3.14159 2)" 3.14
    check "fmt null" "$(fmt null 2)" n/a
    check "meets >=" "$(meets 11 '>=' 10)" "**yes**"
    check "meets <=" "$(meets 1.5 '<=' 1)" no
    check "meets n/a" "$(meets n/a '<=' 1)" n/a
    echo '{"end":{"sum_received":{"bits_per_second":12345678901.2}}}' >"$d/ip.json"
    check "iperf3 gbps" "$(iperf_gbps "$d/ip.json")" 12.346
    echo '{"error":"unable to connect"}' >"$d/ip2.json"
    check "iperf3 error" "$(iperf_gbps "$d/ip2.json")" n/a
    echo '{"latency":{"send":{"p999_us":0.9},"send_corrected":null},"data_mpps":1.5}' >"$d/lr.json"
    check "jget" "$(jget "$d/lr.json" .latency.send.p999_us)" 0.9
    check "jget null" "$(jget "$d/lr.json" .latency.send_corrected.p999_us)" n/a
    check "jget missing file" "$(jget "$d/nope.json" .x)" n/a
    printf '%s\n' '{"t_s":1,"goodput_gbps":2}' '{"t_s":2,"goodput_gbps":3}' '{"data_mpps":7}' >"$d/jl.json"
    check "jget json-lines: the report" "$(jget "$d/jl.json" .data_mpps)" 7
    check "show_cmd" "$(show_cmd a --dpdk "-l 0 --x" b)" 'a --dpdk "-l 0 --x" b'
    check "median odd" "$(median 0.9 n/a 0.5 0.7)" 0.700
    check "median even" "$(median 4 1 3 2)" 2.500
    check "median none" "$(median n/a)" n/a
    check "spread" "$(spread 0.93 n/a 0.81 1.2)" "0.81–1.20"
    LOGS=$d
    echo "noise" >"$d/kv.out"
    echo "abi_cost: rust_mean_ns=100.5 added_mean_ns=7.5" >>"$d/kv.out"
    check "kv" "$(kv kv added_mean_ns)" 7.5
    check "kv missing key" "$(kv kv nope)" n/a
    check "kv missing file" "$(kv nofile x)" n/a
    echo "fuzz: target=frame_input execs_per_s=2061 execs=61830 seconds=30 corpus=778 new=755 cov=1812 ft=4526" >"$d/fz.out"
    check "fuzz execs/s" "$(kv fz execs_per_s)" 2061
    check "fuzz cov" "$(kv fz cov)" 1812
    echo "order_sender: 10 messages of 64 bytes at 10000/s: send-to-wire p50 123 ns, p99 231 ns, p99.9 384 ns, max 900 ns; 640 of 640 bytes acked" >"$d/ord.out"
    check "order p50" "$(order_pct ord p50)" 123
    check "order p99" "$(order_pct ord p99)" 231
    check "order p99.9" "$(order_pct ord p99.9)" 384
    recovery_self_test
    [ "$fail" = 0 ] && echo "self-test: ok" >&2
    return "$fail"
}

# ---------------------------------------------------------------------------------------------
# Arguments.

T=25
OUT=docs/benchmarks.md
MODE=default
MATRIX=1
REPS=3
while [ $# -gt 0 ]; do
    case $1 in
        --short) T=5; MODE=short ;;
        --long) T=60; MODE=long ;;
        --time) [ $# -ge 2 ] || die "--time needs seconds"; T=$2; MODE=custom; shift ;;
        --out) [ $# -ge 2 ] || die "--out needs a file"; OUT=$2; shift ;;
        --no-matrix) MATRIX=0 ;;
        --matrix-reps) [ $# -ge 2 ] || die "--matrix-reps needs a count"; REPS=$2; shift ;;
        --self-test) self_test; exit $? ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see scripts/bench.sh --help)" ;;
    esac
    shift
done
[[ $T =~ ^[1-9][0-9]*$ ]] || die "--time: '$T' is not a whole number of seconds >= 1"
[[ $REPS =~ ^[1-9]$ ]] || die "--matrix-reps: '$REPS' is not a count from 1 to 9"
[ "$(id -u)" = 0 ] || die "run as root (DPDK, hugepages and network namespaces)"

# ---------------------------------------------------------------------------------------------
# Set-up: packages, build, topology, servers.

RUN=/run/linerate/bench
LOGS="$ROOT/target/bench"
BIN="$ROOT/target/release/linerate"
LR_PORT=5201
IPERF_PORT=5202

mkdir -p "$RUN"
# Idempotence: stop servers a previous, interrupted run left behind (only the PIDs it wrote).
for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
    rm -f "$f"
done
rm -rf "$LOGS"
mkdir -p "$LOGS"

if [ "${LR_SKIP_SETUP:-0}" != 1 ]; then scripts/setup.sh; fi
missing=()
command -v dpdk-testpmd >/dev/null || missing+=(dpdk-dev)   # Debian ships testpmd in dpdk-dev
command -v jq >/dev/null || missing+=(jq)
command -v iperf3 >/dev/null || missing+=(iperf3)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
fi
if [ "${LR_SKIP_BUILD:-0}" != 1 ]; then
    say "building (release)"
    cargo build --release --quiet -p linerate-app -p lr-impair
    embed_build
fi
[ -x "$BIN" ] || die "$BIN is missing (build failed?)"
scripts/topology.sh up >/dev/null
topo_status=$(scripts/topology.sh status 2>/dev/null || true)
if ! grep -q '^impairment: none' <<<"$topo_status"; then
    say "an impairment is active on lr-rtr; clearing it (benchmarks need a clean path)"
    scripts/topology.sh clear >/dev/null
fi

# Remember the kernel client's offloads to put them back at the end.
KGEN_IF=lr-kgen0
tso_was=$(ip netns exec lr-kgen ethtool -k "$KGEN_IF" | awk '/^tcp-segmentation-offload:/ {print $2}')
gso_was=$(ip netns exec lr-kgen ethtool -k "$KGEN_IF" | awk '/^generic-segmentation-offload:/ {print $2}')

cleanup() {
    local f pid
    for f in "$RUN"/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f")
        if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
        rm -f "$f"
    done
    ip netns exec lr-kgen ethtool -K "$KGEN_IF" tso "${tso_was:-on}" gso "${gso_was:-on}" 2>/dev/null || true
    scripts/topology.sh clear >/dev/null 2>&1 || true
}
trap cleanup EXIT

ip netns exec lr-sink "$BIN" sink --listen "198.19.0.2:$LR_PORT" >"$LOGS/sink.log" 2>&1 &
echo $! >"$RUN/sink.pid"
ip netns exec lr-sink iperf3 -s -B 198.19.0.2 -p "$IPERF_PORT" >"$LOGS/iperf3-server.log" 2>&1 &
echo $! >"$RUN/iperf3.pid"
for _ in $(seq 50); do grep -q listening "$LOGS/sink.log" && break; sleep 0.1; done
grep -q listening "$LOGS/sink.log" || die "the sink did not start: $(cat "$LOGS/sink.log")"
for _ in $(seq 50); do grep -q 'Server listening' "$LOGS/iperf3-server.log" && break; sleep 0.1; done

if grep -q '^HugePages_Free: *[1-9]' /proc/meminfo; then MEM=(--in-memory); else MEM=(--no-huge --no-shconf -m 1024); fi
NULL_EAL="-l 0 ${MEM[*]} --no-pci --no-telemetry --vdev=net_null0"
# Two lcores on net_null (two queue pairs): the per-core stacks' scaling rows.
NULL_EAL2="-l 0-1 ${MEM[*]} --no-pci --no-telemetry --vdev=net_null0"
AFP_EAL="-l 0 ${MEM[*]} --no-pci --no-telemetry --vdev=net_af_packet0,iface=lr-gen0,framecnt=4096"
REL_BIN=target/release/linerate

# Runs "$@" with stdout to $LOGS/$1.out and stderr to $LOGS/$1.err (the name is $1, the command
# the rest) and records the display command in $LOGS/$1.cmd. Never fails the script: a failed
# measurement becomes "n/a" in the table, and the script exits 1 at the end. OK_RC names one
# more exit status that counts as success (timeout's 124 for testpmd).
FAILED=()
measure() {
    local name=$1; shift
    show_cmd "$@" | sed "s#$BIN#$REL_BIN#g" >"$LOGS/$name.cmd"
    say "$name: $(cat "$LOGS/$name.cmd")"
    local rc=0
    "$@" >"$LOGS/$name.out" 2>"$LOGS/$name.err" || rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != "${OK_RC:-0}" ]; then
        say "$name: failed (exit $rc); see $LOGS/$name.err"
        FAILED+=("$name")
    fi
    return 0
}
cmd_of() { cat "$LOGS/$1.cmd" 2>/dev/null || echo "(not run)"; }

START=$(date +%s)

# ---------------------------------------------------------------------------------------------
# 1. Stack cost.

# Every row runs COST_ROUNDS times, interleaved with testpmd (linerate rows, testpmd, again),
# CT seconds each; the tables show medians, so a noisy minute moves one sample, not a row.
COST_ROUNDS=3
CT=$(( T / COST_ROUNDS > 5 ? T / COST_ROUNDS : 5 ))
TP_SECS=$((CT + 3))
for r in $(seq "$COST_ROUNDS"); do
    # Bulk sends with zero copy (the default): TSO units cut in software into MSS frames.
    measure "cost-linerate-r$r" "$BIN" send --dpdk "$NULL_EAL" --ip 198.18.0.1/24 \
        --dst 198.18.0.2:5201 --ack-peer -P 1 -t "${CT}s" --json --quiet
    # The same, copying the payload into the stack on every write (`send`).
    measure "cost-linerate-copy-r$r" "$BIN" send --dpdk "$NULL_EAL" --ip 198.18.0.1/24 \
        --dst 198.18.0.2:5201 --ack-peer -P 1 -t "${CT}s" --copy --json --quiet
    # Small sends: one MSS per write, Nagle off.
    measure "cost-linerate-small-r$r" "$BIN" send --dpdk "$NULL_EAL" --ip 198.18.0.1/24 \
        --dst 198.18.0.2:5201 --ack-peer -P 1 -t "${CT}s" --size 1448 --nodelay --json --quiet
    # The ACK peer presenting IPv4/TCP checksum offload, then TSO as well: the stack leaves
    # the checksums (and the cutting) to the "NIC", which on net_null does nothing (emulated
    # offload, labelled so).
    measure "cost-linerate-offl-r$r" "$BIN" send --dpdk "$NULL_EAL" --ip 198.18.0.1/24 \
        --dst 198.18.0.2:5201 --ack-peer --ack-peer-offloads -P 1 -t "${CT}s" --json --quiet
    measure "cost-linerate-tso-r$r" "$BIN" send --dpdk "$NULL_EAL" --ip 198.18.0.1/24 \
        --dst 198.18.0.2:5201 --ack-peer --ack-peer-tso -P 1 -t "${CT}s" --json --quiet
    # Per-core stacks: the same two connections on one worker, then on two (one per lcore,
    # each with its own ACK peer on its own queue).
    measure "cost-linerate-w1-r$r" "$BIN" send --dpdk "$NULL_EAL2" --ip 198.18.0.1/24 \
        --dst 198.18.0.2:5201 --ack-peer -P 2 --workers 1 -t "${CT}s" --json --quiet
    measure "cost-linerate-w2-r$r" "$BIN" send --dpdk "$NULL_EAL2" --ip 198.18.0.1/24 \
        --dst 198.18.0.2:5201 --ack-peer -P 2 --workers 2 -t "${CT}s" --json --quiet
    # testpmd: main lcore 0 + one forwarding lcore; it forwards until SIGINT, printing stats
    # each second; timeout's exit status (124) is the normal end.
    OK_RC=124 measure "cost-testpmd-r$r" timeout -s INT "$TP_SECS" dpdk-testpmd -l 0-1 --no-pci \
        "${MEM[@]}" --no-telemetry --vdev=net_null0 -- --forward-mode=txonly --txpkts=1514 \
        --nb-cores=1 --stats-period 1
done
# The median over the rounds of field $2 of row $1.
cost_med() {
    local r v=()
    for r in $(seq "$COST_ROUNDS"); do v+=("$(jget "$LOGS/$1-r$r.out" "$2")"); done
    median "${v[@]}"
}
LR_MPPS=$(cost_med cost-linerate .data_mpps)
LR_NS=$(cost_med cost-linerate .ns_per_segment)
LR_COST_GBPS=$(cost_med cost-linerate .goodput_gbps)
TP_SAMPLES=()
for r in $(seq "$COST_ROUNDS"); do TP_SAMPLES+=("$(testpmd_pps "$LOGS/cost-testpmd-r$r.out")"); done
TP_PPS=$(median "${TP_SAMPLES[@]}")
[ "$TP_PPS" = n/a ] && TP_PPS=
if [ -n "$TP_PPS" ]; then
    TP_MPPS=$(awk -v p="$TP_PPS" 'BEGIN { printf "%.3f\n", p / 1e6 }')
    TP_NS=$(awk -v p="$TP_PPS" 'BEGIN { printf "%.1f\n", 1e9 / p }')
    TP_GBPS=$(awk -v p="$TP_PPS" 'BEGIN { printf "%.3f\n", p * 1514 * 8 / 1e9 }')
else
    TP_MPPS=n/a; TP_NS=n/a; TP_GBPS=n/a
fi
COST_RATIO=$(ratio "$LR_MPPS" "$TP_MPPS")
LRO_MPPS=$(cost_med cost-linerate-offl .data_mpps)
LRO_NS=$(cost_med cost-linerate-offl .ns_per_segment)
LRO_GBPS=$(cost_med cost-linerate-offl .goodput_gbps)
COST_RATIO_OFFL=$(ratio "$LRO_MPPS" "$TP_MPPS")
LRC_MPPS=$(cost_med cost-linerate-copy .data_mpps)
LRC_NS=$(cost_med cost-linerate-copy .ns_per_segment)
LRC_GBPS=$(cost_med cost-linerate-copy .goodput_gbps)
LRS_MPPS=$(cost_med cost-linerate-small .data_mpps)
LRS_NS=$(cost_med cost-linerate-small .ns_per_segment)
LRS_GBPS=$(cost_med cost-linerate-small .goodput_gbps)
LRW1_MPPS=$(cost_med cost-linerate-w1 .data_mpps)
LRW2_MPPS=$(cost_med cost-linerate-w2 .data_mpps)
SCALE2=$(ratio "$LRW2_MPPS" "$LRW1_MPPS")
LRT_MPPS=$(cost_med cost-linerate-tso .data_mpps)
LRT_NS=$(cost_med cost-linerate-tso .ns_per_segment)
LRT_GBPS=$(cost_med cost-linerate-tso .goodput_gbps)

# ---------------------------------------------------------------------------------------------
# 2. Goodput to the kernel.

# The path's ceiling for any DPDK app: testpmd txonly through the same port, router and sink
# (1514-byte UDP frames to the sink, which drops them), frames per second.
OK_RC=124 measure afp-testpmd ip netns exec lr-gen timeout -s INT "$((T + 3))" dpdk-testpmd -l 0-1 \
    --no-pci "${MEM[@]}" --no-telemetry --vdev=net_af_packet0,iface=lr-gen0,framecnt=4096 -- \
    --forward-mode=txonly --txpkts=1514 --nb-cores=1 --stats-period 1 \
    --tx-ip=198.18.0.1,198.19.0.2 --eth-peer=0,02:00:c6:12:00:fe
AFP_TP_PPS=$(testpmd_pps "$LOGS/afp-testpmd.out")
AFP_TP_MPPS=$( [ -n "$AFP_TP_PPS" ] && awk -v p="$AFP_TP_PPS" 'BEGIN { printf "%.4f\n", p / 1e6 }' || echo n/a)

for p in 1 8; do
    measure "goodput-linerate-P$p" ip netns exec lr-gen "$BIN" send --dpdk "$AFP_EAL" \
        --ip 198.18.0.1/24 --gw 198.18.0.254 --dst "198.19.0.2:$LR_PORT" -P "$p" -t "${T}s" \
        --json-lines --json --quiet
    for off in off on; do
        ip netns exec lr-kgen ethtool -K "$KGEN_IF" tso "$off" gso "$off"
        measure "goodput-iperf3-P$p-tso-$off" ip netns exec lr-kgen iperf3 -c 198.19.0.2 \
            -p "$IPERF_PORT" -t "$T" -P "$p" -J
        # The ethtool step is part of reproducing the row.
        sed -i "1s#^#ip netns exec lr-kgen ethtool -K $KGEN_IF tso $off gso $off \&\& #" \
            "$LOGS/goodput-iperf3-P$p-tso-$off.cmd"
    done
done
ip netns exec lr-kgen ethtool -K "$KGEN_IF" tso "${tso_was:-on}" gso "${gso_was:-on}"

# ---------------------------------------------------------------------------------------------
# 3. Send latency.

measure lat-linerate ip netns exec lr-gen "$BIN" send --dpdk "$AFP_EAL" --ip 198.18.0.1/24 \
    --gw 198.18.0.254 --dst "198.19.0.2:$LR_PORT" --latency --msg-rate 10k --size 64 \
    -t "${T}s" --json --quiet
measure lat-linerate-ackpeer "$BIN" send --dpdk "$NULL_EAL" --ip 198.18.0.1/24 \
    --dst 198.18.0.2:5201 --ack-peer --latency --msg-rate 10k --size 64 -t "${T}s" --json --quiet
measure lat-kernel ip netns exec lr-kgen "$BIN" ksend --connect "198.19.0.2:$LR_PORT" \
    --size 64 --msg-rate 10k -t "${T}s" --json

# ---------------------------------------------------------------------------------------------
# 6. The embedded library (scripts/bench_embed.sh).

embed_measure

# ---------------------------------------------------------------------------------------------
# 5. Many connections (scripts/bench_many.sh), before the matrix (which changes the path).

many_measure

# ---------------------------------------------------------------------------------------------
# 4. Impairment matrix: the same impairment for linerate and the kernel, same CC (CUBIC).

MATRIX_CASES=("loss=0.1%" "loss=1%" "loss=5%" "loss=10%" "reorder=25% delay=5ms" "dup=1%"
              "corrupt=0.1%" "delay=20ms jitter=5ms" "rate=1gbit")
MT=$((T < 10 ? T : 10))
if [ "$MATRIX" = 1 ]; then
    i=0
    for spec in "${MATRIX_CASES[@]}"; do
        i=$((i + 1))
        full="$spec seed=$((40 + i))"
        scripts/topology.sh impair "$full" >/dev/null
        # REPS rounds of linerate, then the kernel with TSO/GSO off (MSS-sized frames, as
        # linerate over af_packet sends) and on (section 2, design.md §6), in turn: the
        # ratios are taken round by round, so that drift on a noisy machine cancels.
        for r in $(seq "$REPS"); do
            measure "matrix-$i-$r-linerate" ip netns exec lr-gen "$BIN" send --dpdk "$AFP_EAL" \
                --ip 198.18.0.1/24 --gw 198.18.0.254 --dst "198.19.0.2:$LR_PORT" -P 16 \
                -t "${MT}s" --cc cubic --json --quiet
            for off in off on; do
                ip netns exec lr-kgen ethtool -K "$KGEN_IF" tso "$off" gso "$off"
                measure "matrix-$i-$r-iperf3-tso-$off" ip netns exec lr-kgen iperf3 \
                    -c 198.19.0.2 -p "$IPERF_PORT" -t "$MT" -P 16 -C cubic -J
                sed -i "1s#^#ip netns exec lr-kgen ethtool -K $KGEN_IF tso $off gso $off \&\& #" \
                    "$LOGS/matrix-$i-$r-iperf3-tso-$off.cmd"
            done
            ip netns exec lr-kgen ethtool -K "$KGEN_IF" tso "${tso_was:-on}" gso "${gso_was:-on}"
            for side in linerate iperf3-tso-off iperf3-tso-on; do
                sed -i "1s#^#scripts/topology.sh impair '$full' \&\& #" \
                    "$LOGS/matrix-$i-$r-$side.cmd"
            done
        done
        scripts/topology.sh clear >/dev/null
    done
    recovery_measure
fi

# Per matrix case $1: the linerate goodputs, the kernel's ($2 = off|on), and the round-by-round
# ratios, one line each.
matrix_lr() { for r in $(seq "$REPS"); do jget "$LOGS/matrix-$1-$r-linerate.out" .goodput_gbps; done; }
matrix_k() { for r in $(seq "$REPS"); do iperf_gbps "$LOGS/matrix-$1-$r-iperf3-tso-$2.out"; done; }
matrix_ratios() {
    for r in $(seq "$REPS"); do
        ratio "$(jget "$LOGS/matrix-$1-$r-linerate.out" .goodput_gbps)" \
            "$(iperf_gbps "$LOGS/matrix-$1-$r-iperf3-tso-$2.out")"
    done
}

# ---------------------------------------------------------------------------------------------
# 7. Fuzzing (scripts/fuzz.sh): each target from the committed corpus, for its execs/s.

FUZZ_T=120
for t in frame_input tcp_options; do
    measure "fuzz-$t" scripts/fuzz.sh "$FUZZ_T" "$t"
done

END=$(date +%s)

# ---------------------------------------------------------------------------------------------
# The report.

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
dpdk_ver=$(pkg-config --modversion libdpdk 2>/dev/null || echo unknown)
git_rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then git_rev+=" (with uncommitted changes)"; fi
mtu=$(ip -n lr-kgen link show "$KGEN_IF" | awk '{for (i = 1; i < NF; i++) if ($i == "mtu") print $(i + 1)}')

lat() { jget "$LOGS/$1.out" "$2"; }  # a latency field of a linerate or ksend JSON report
# linerate's JSON keeps the histograms under .latency, ksend's at the top level.
L_SEND=.latency.send; L_CORR=.latency.send_corrected
K_SEND=.send; K_CORR=.send_corrected

LAT_LR_999=$(lat lat-linerate "$L_SEND.p999_us")
LAT_AP_999=$(lat lat-linerate-ackpeer "$L_SEND.p999_us")
LAT_K_999=$(lat lat-kernel "$K_SEND.p999_us")
LAT_RATIO=$(ratio "$LAT_K_999" "$LAT_LR_999")
LAT_RATIO_AP=$(ratio "$LAT_K_999" "$LAT_AP_999")

G1=$(jget "$LOGS/goodput-linerate-P1.out" .goodput_gbps)
G1_MPPS=$(jget "$LOGS/goodput-linerate-P1.out" .data_mpps)
AFP_RATIO=$(ratio "$G1_MPPS" "$AFP_TP_MPPS")
LAT_AP_50=$(lat lat-linerate-ackpeer "$L_SEND.p50_us")
LAT_AP_99=$(lat lat-linerate-ackpeer "$L_SEND.p99_us")
G8=$(jget "$LOGS/goodput-linerate-P8.out" .goodput_gbps)
I1OFF=$(iperf_gbps "$LOGS/goodput-iperf3-P1-tso-off.out")
I1ON=$(iperf_gbps "$LOGS/goodput-iperf3-P1-tso-on.out")
I8OFF=$(iperf_gbps "$LOGS/goodput-iperf3-P8-tso-off.out")
I8ON=$(iperf_gbps "$LOGS/goodput-iperf3-P8-tso-on.out")

many_figures
TMP_OUT=$(mktemp)
{
    echo "# Benchmarks"
    echo
    echo "Generated by \`scripts/bench.sh\` (design.md §6); do not edit by hand. Every ratio is"
    echo "against a baseline measured in the same run, on the same machine, minutes apart."
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
    echo "| machine | $(nproc) CPUs, $cpu |"
    echo "| kernel | $(uname -r) |"
    echo "| DPDK | $dpdk_ver |"
    echo "| linerate | $("$BIN" --version 2>/dev/null | awk '{print $2}'), git $git_rev |"
    echo "| run | \`scripts/bench.sh$( [ "$MODE" = default ] || echo " --time $T")\`: $T s per measurement, $((END - START)) s in all |"
    echo "| path MTU | $mtu (all veths) |"
    echo
    echo "## Targets"
    echo
    echo "| target | measured | met |"
    echo "| --- | --- | --- |"
    echo "| stack cost, software segmentation, bulk: ≥ 10 Mpps of MSS frames per core | $(fmt "$LR_MPPS" 3) Mpps | $(meets "$LR_MPPS" '>=' 10) |"
    echo "| stack cost, software segmentation, bulk: ≥ 0.15 × testpmd txonly | $(fmt "$COST_RATIO" 3) × | $(meets "$COST_RATIO" '>=' 0.15) |"
    echo "| stack cost, EMULATED TSO + checksum offload: ≥ 100 Gbit/s of payload per core | $(fmt "$LRT_GBPS" 1) Gbit/s | $(meets "$LRT_GBPS" '>=' 100) |"
    echo "| small sends (\`--size 1448 --nodelay\`): ≥ 6 Mpps | $(fmt "$LRS_MPPS" 3) Mpps | $(meets "$LRS_MPPS" '>=' 6) |"
    echo "| send latency, stack alone (64-byte messages): p50 ≤ 150 ns (§3) | $(fmt "$(awk -v v="$LAT_AP_50" 'BEGIN { if (v == "" || v == "n/a") print "n/a"; else printf "%.0f", v * 1000 }')" 0) ns | $(meets "$LAT_AP_50" '<=' 0.150) |"
    echo "| send latency, stack alone (64-byte messages): p99 ≤ 500 ns (§3) | $(fmt "$(awk -v v="$LAT_AP_99" 'BEGIN { if (v == "" || v == "n/a") print "n/a"; else printf "%.0f", v * 1000 }')" 0) ns | $(meets "$LAT_AP_99" '<=' 0.500) |"
    embed_targets
    echo "| per-core stacks: 2 lcores ≥ 1.7 × the aggregate data Mpps of 1 lcore (net_null, ACK peer) | $(fmt "$SCALE2" 3) × | $(meets "$SCALE2" '>=' 1.7) |"
    echo "| over af_packet to the kernel sink: frames ≥ 0.9 × testpmd txonly's through the same path | $(fmt "$AFP_RATIO" 3) × | $(meets "$AFP_RATIO" '>=' 0.9) |"
    echo "| goodput ≥ iperf3 kernel→kernel, TSO off, 1 connection | $(fmt "$(ratio "$G1" "$I1OFF")" 3) × | $(meets "$(ratio "$G1" "$I1OFF")" '>=' 1) |"
    echo "| goodput ≥ iperf3 kernel→kernel, TSO off, 8 connections | $(fmt "$(ratio "$G8" "$I8OFF")" 3) × | $(meets "$(ratio "$G8" "$I8OFF")" '>=' 1) |"
    echo "| send latency p99.9 ≤ 1 µs (over af_packet, the topology path) | $(fmt "$LAT_LR_999" 2) µs | $(meets "$LAT_LR_999" '<=' 1) |"
    echo "| send latency p99.9 ≥ 10 × lower than the kernel's send() | $(fmt "$LAT_RATIO" 2) × | $(meets "$LAT_RATIO" '>=' 10) |"
    echo "| (stack alone, net_null + ACK peer) send latency p99.9 ≤ 1 µs | $(fmt "$LAT_AP_999" 2) µs | $(meets "$LAT_AP_999" '<=' 1) |"
    echo "| (stack alone, net_null + ACK peer) p99.9 ≥ 10 × lower than the kernel's send() | $(fmt "$LAT_RATIO_AP" 2) × | $(meets "$LAT_RATIO_AP" '>=' 10) |"
    if [ "$MATRIX" = 1 ]; then
        for off in off on; do
            met=0
            for i in $(seq ${#MATRIX_CASES[@]}); do
                # shellcheck disable=SC2046
                r=$(median $(matrix_ratios "$i" "$off"))
                [ "$(meets "$r" '>=' 0.9)" = "**yes**" ] && met=$((met + 1))
            done
            echo "| impairment matrix: median goodput ratio ≥ 0.9 × iperf3 (cubic, TSO/GSO $off) in every case | $met of ${#MATRIX_CASES[@]} cases | $( [ "$met" = ${#MATRIX_CASES[@]} ] && echo '**yes**' || echo no) |"
        done
        recovery_targets
    fi
    echo
    if [ ${#FAILED[@]} -gt 0 ]; then
        echo "**Failed measurements** (n/a below): ${FAILED[*]}; see target/bench/*.err."
        echo
    fi

    echo "## 1. Stack cost (one lcore into net_null)"
    echo
    echo "linerate: one connection to the in-process ACK peer (\`--ack-peer\`, which answers ARP,"
    echo "the handshake, a cumulative ACK per two segments, and FIN), on one lcore. Bulk rows: the"
    echo "load generator's payload lies once in hugepage memory and every write references it"
    echo "(\`send_region\`); \`write_xmit\` groups the segments into TSO units of up to 64 KiB, and"
    echo "since net_null offers no TSO the units are cut at the device boundary into MSS frames, each"
    echo "a header mbuf (template copied, fields patched, checksum from partial sums) chained to a"
    echo "view of the payload. The copy row copies the payload into the stack on every write"
    echo "(\`send\`, csum-and-copy). ns/segment is the whole loop (writes, flush, poll, ACKs, the"
    echo "ACK peer's own work, the report's bookkeeping) per data segment. testpmd txonly sends"
    echo "1514-byte frames from one forwarding lcore without copying or checksumming anything."
    echo
    echo "| row | Mpps | payload Gbit/s | ns/segment | / testpmd |"
    echo "| --- | --- | --- | --- | --- |"
    echo "| linerate, zero copy, software segmentation | $(fmt "$LR_MPPS" 3) | $(fmt "$LR_COST_GBPS" 2) | $(fmt "$LR_NS" 1) | **$(fmt "$COST_RATIO" 3)** |"
    echo "| linerate, payload copied per write (\`--copy\`) | $(fmt "$LRC_MPPS" 3) | $(fmt "$LRC_GBPS" 2) | $(fmt "$LRC_NS" 1) | $(fmt "$(ratio "$LRC_MPPS" "$TP_MPPS")" 3) |"
    echo "| linerate, small sends (\`--size 1448 --nodelay\`) | $(fmt "$LRS_MPPS" 3) | $(fmt "$LRS_GBPS" 2) | $(fmt "$LRS_NS" 1) | $(fmt "$(ratio "$LRS_MPPS" "$TP_MPPS")" 3) |"
    echo "| linerate, EMULATED checksum offload | $(fmt "$LRO_MPPS" 3) | $(fmt "$LRO_GBPS" 2) | $(fmt "$LRO_NS" 1) | $(fmt "$COST_RATIO_OFFL" 3) |"
    echo "| linerate, EMULATED TSO + checksum offload (MSS-segment equivalents) | $(fmt "$LRT_MPPS" 3) | **$(fmt "$LRT_GBPS" 1)** | $(fmt "$LRT_NS" 1) | |"
    echo "| dpdk-testpmd txonly (frame Gbit/s) | $(fmt "$TP_MPPS" 3) | $(fmt "$TP_GBPS" 2) | $(fmt "$TP_NS" 1) | 1 |"
    echo
    echo "Per-core stacks: two connections on one worker (lcore 0), then one worker per lcore (0 and"
    echo "1), each with its own queue pair of net_null, its own ACK peer and its own copy of the"
    echo "payload; aggregate data Mpps (the machine has $(nproc) CPUs)."
    echo
    echo "| row | Mpps | × 1 lcore |"
    echo "| --- | --- | --- |"
    echo "| 1 worker, 2 connections | $(fmt "$LRW1_MPPS" 3) | 1 |"
    echo "| 2 workers (lcores 0, 1), 2 connections | $(fmt "$LRW2_MPPS" 3) | **$(fmt "$SCALE2" 3)** |"
    echo
    echo "- 1 worker: \`$(cmd_of cost-linerate-w1-r1)\`"
    echo "- 2 workers: \`$(cmd_of cost-linerate-w2-r1)\`"
    echo
    echo "The EMULATED rows: \`--ack-peer-offloads\` makes the ACK peer present IPv4 and TCP"
    echo "checksum offload, as a ConnectX or E810 does, so the stack leaves the checksums to the NIC;"
    echo "\`--ack-peer-tso\` presents TSO too, so each unit leaves as one frame of up to 64 KiB with"
    echo "\`tso_segsz\` set, and the peer counts it as the MSS segments a NIC would cut. net_null"
    echo "computes and cuts nothing: these are the stack's cost on such a NIC, not a measurement of"
    echo "one (the simulation tests check the frames such a NIC would send)."
    echo
    echo "- linerate: \`$(cmd_of cost-linerate-r1)\`"
    echo "- linerate, copy: \`$(cmd_of cost-linerate-copy-r1)\`"
    echo "- linerate, small sends: \`$(cmd_of cost-linerate-small-r1)\`"
    echo "- linerate, emulated checksum offload: \`$(cmd_of cost-linerate-offl-r1)\`"
    echo "- linerate, emulated TSO: \`$(cmd_of cost-linerate-tso-r1)\`"
    echo "- testpmd (median of its per-second Tx-pps, first second skipped): \`$(cmd_of cost-testpmd-r1)\`"
    echo
    echo "Each row is the median of $COST_ROUNDS runs of $CT s, interleaved round by round with testpmd"
    echo "(whose figure is the median of its $COST_ROUNDS runs' medians)."
    echo

    echo "## 2. Goodput to the kernel"
    echo
    echo "linerate from lr-gen (net_af_packet on lr-gen0) through the kernel router to"
    echo "\`linerate sink\` in lr-sink; iperf3 from lr-kgen (kernel TCP) through the same router to"
    echo "\`iperf3 -s\` in lr-sink. MTU $mtu everywhere, MSS 1460. The kernel client's TSO/GSO is"
    echo "switched with \`ethtool -K lr-kgen0\`; it does not affect linerate (which sends MSS frames)."
    echo "Gbit/s is payload: bytes acknowledged (linerate) / received (iperf3) per second."
    echo
    echo "| connections | linerate Gbit/s | iperf3 TSO/GSO off | ratio | iperf3 TSO/GSO on | ratio |"
    echo "| --- | --- | --- | --- | --- | --- |"
    echo "| 1 | $(fmt "$G1" 3) | $(fmt "$I1OFF" 3) | **$(fmt "$(ratio "$G1" "$I1OFF")" 3)** | $(fmt "$I1ON" 3) | $(fmt "$(ratio "$G1" "$I1ON")" 3) |"
    echo "| 8 | $(fmt "$G8" 3) | $(fmt "$I8OFF" 3) | **$(fmt "$(ratio "$G8" "$I8OFF")" 3)** | $(fmt "$I8ON" 3) | $(fmt "$(ratio "$G8" "$I8ON")" 3) |"
    echo
    echo "The path's ceiling for a DPDK app: testpmd txonly through the same port (net_af_packet on"
    echo "lr-gen0), the same router and on to the sink, in frames per second:"
    echo
    echo "| row | Mframes/s |"
    echo "| --- | --- |"
    echo "| dpdk-testpmd txonly, 1514-byte UDP frames to lr-sink | $(fmt "$AFP_TP_MPPS" 4) |"
    echo "| linerate -P 1, MSS data frames (TCP) | $(fmt "$G1_MPPS" 4) |"
    echo "| **ratio linerate / testpmd** | **$(fmt "$AFP_RATIO" 3)** |"
    echo
    echo "On this path the kernel's work lands on the sending core: af_packet's \`sendto()\` copies"
    echo "each frame and runs veth, the router and, in softirq, the sink's TCP receive and its ACKs"
    echo "back through af_packet. testpmd's UDP frames are dropped at the sink's UDP layer, so that"
    echo "TCP receive work is the gap between the two rows, not linerate's own code (a few per cent"
    echo "of the core; see the issue note's profile). The kernel's own TCP with TSO/GSO does not pay"
    echo "af_packet's per-frame copies at all: its 64 KiB GSO frames are not reachable through this"
    echo "port by any DPDK app, so the TSO-on column is information, not a ceiling."
    echo
    echo "- testpmd over af_packet: \`$(cmd_of afp-testpmd)\`"
    echo
    echo "The sink (\`$REL_BIN sink --listen 198.19.0.2:$LR_PORT\`) and the iperf3 server"
    echo "(\`iperf3 -s -B 198.19.0.2 -p $IPERF_PORT\`) run in lr-sink (\`ip netns exec lr-sink ...\`)."
    echo
    for p in 1 8; do
        echo "- linerate -P $p: \`$(cmd_of "goodput-linerate-P$p")\`"
        for off in off on; do
            echo "- iperf3 -P $p TSO/GSO $off: \`$(cmd_of "goodput-iperf3-P$p-tso-$off")\`"
        done
    done
    echo

    echo "## 3. Send latency (64-byte messages, 10 000/s, one connection)"
    echo
    echo "linerate: \`send()\` call → its frame accepted by \`rte_eth_tx_burst\`. On net_af_packet"
    echo "that includes the PMD's \`sendto()\` kick, so the kernel's veth and router path run inside"
    echo "it; the net_null + ACK-peer row is the stack alone. Kernel: \`linerate ksend\`, one"
    echo "\`write()\` on a TCP socket with TCP_NODELAY (\`std::net::TcpStream\`) timed with \`Instant\`,"
    echo "lr-kgen → lr-sink. *corrected* counts from each message's intended time on the fixed-rate"
    echo "schedule (coordinated omission); both senders spin between messages. All in µs."
    echo
    echo "| row | p50 | p99 | p99.9 | max | corrected p50 | corrected p99 | corrected p99.9 | corrected max |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for row in "linerate (af_packet, lr-gen → lr-sink)|lat-linerate|$L_SEND|$L_CORR" \
               "linerate (net_null + ACK peer, stack alone)|lat-linerate-ackpeer|$L_SEND|$L_CORR" \
               "kernel write() (lr-kgen → lr-sink)|lat-kernel|$K_SEND|$K_CORR"; do
        IFS='|' read -r label name s c <<<"$row"
        line="| $label"
        for k in p50_us p99_us p999_us max_us; do line+=" | $(fmt "$(lat "$name" "$s.$k")" 2)"; done
        for k in p50_us p99_us p999_us max_us; do line+=" | $(fmt "$(lat "$name" "$c.$k")" 2)"; done
        echo "$line |"
    done
    echo
    echo "| ratio at p99.9 (kernel / linerate) | |"
    echo "| --- | --- |"
    echo "| kernel / linerate af_packet | **$(fmt "$LAT_RATIO" 2)** |"
    echo "| kernel / linerate net_null + ACK peer | **$(fmt "$LAT_RATIO_AP" 2)** |"
    echo
    echo "- linerate af_packet: \`$(cmd_of lat-linerate)\`"
    echo "- linerate net_null + ACK peer: \`$(cmd_of lat-linerate-ackpeer)\`"
    echo "- kernel: \`$(cmd_of lat-kernel)\` (against the same sink)"
    echo
    if [ "$MATRIX" = 1 ]; then
        echo "## 4. Impairment matrix (16 connections, CUBIC, $MT s per run, $REPS rounds)"
        echo
        echo "Each case is set on the router with \`scripts/topology.sh impair\` (both directions,"
        echo "seeded) and cleared after; linerate (lr-gen) and iperf3 (lr-kgen, \`-C cubic\`) cross the"
        echo "same impairment stage to the same lr-sink. Byte-exact delivery under the same cases is a"
        echo "test (tests/e2e_matrix.rs); this table is throughput. The kernel runs with TSO/GSO off"
        echo "(MSS-sized frames, like linerate over af_packet, which has no TSO) and on. Each case runs"
        echo "$REPS rounds of linerate, iperf3 TSO off, iperf3 TSO on in turn; goodputs are medians, and"
        echo "the ratio is the median of the round-by-round ratios (their range in brackets). On a small"
        echo "VM the path's per-packet cost (af_packet, forwarding, the stage) is most of the CPU, so"
        echo "TSO/GSO on mostly measures fewer, larger packets rather than loss recovery."
        echo
        echo "| case | linerate Gbit/s | retransmits | recoveries (undone) | iperf3 TSO off | retransmits | ratio | ≥ 0.9 × | iperf3 TSO on | ratio |"
        echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        i=0
        for spec in "${MATRIX_CASES[@]}"; do
            i=$((i + 1))
            # shellcheck disable=SC2046
            {
                g=$(median $(matrix_lr "$i"))
                lrr=$(median $(for r in $(seq "$REPS"); do jget "$LOGS/matrix-$i-$r-linerate.out" .retransmits.segments; done))
                rec=$(median $(for r in $(seq "$REPS"); do jget "$LOGS/matrix-$i-$r-linerate.out" .retransmits.recoveries; done))
                und=$(median $(for r in $(seq "$REPS"); do jget "$LOGS/matrix-$i-$r-linerate.out" .retransmits.undos; done))
                koff=$(median $(matrix_k "$i" off))
                kr=$(median $(for r in $(seq "$REPS"); do jq -r '.end.sum_sent.retransmits // "n/a"' "$LOGS/matrix-$i-$r-iperf3-tso-off.out" 2>/dev/null || echo n/a; done))
                kon=$(median $(matrix_k "$i" on))
                roff=$(median $(matrix_ratios "$i" off))
                soff=$(spread $(matrix_ratios "$i" off))
                ron=$(median $(matrix_ratios "$i" on))
            }
            echo "| $spec | $(fmt "$g" 3) | $(fmt "$lrr" 0) | $(fmt "$rec" 0) ($(fmt "$und" 0)) | $(fmt "$koff" 3) | $(fmt "$kr" 0) | **$(fmt "$roff" 3)** [$soff] | $(meets "$roff" '>=' 0.9) | $(fmt "$kon" 3) | $(fmt "$ron" 3) |"
        done
        echo
        echo "Figures in this table are medians over the rounds."
        echo
        echo "- linerate, e.g.: \`$(cmd_of matrix-1-1-linerate)\`"
        echo "- iperf3, e.g.: \`$(cmd_of matrix-1-1-iperf3-tso-off)\`"
        echo
        recovery_report
    fi
    many_report
    embed_report
    echo "## 7. Fuzzing (\`scripts/fuzz.sh $FUZZ_T\`)"
    echo
    echo "libFuzzer through cargo-fuzz on the stable toolchain (\`-s none\`: coverage, no sanitizer),"
    echo "$FUZZ_T s per target on one core from the committed corpus (\`fuzz/corpus/\`); new inputs"
    echo "are not kept. \`frame_input\` drives a stack with a connection in every state through"
    echo "Ethernet, ARP, IPv4 and TCP; \`tcp_options\` the option parser and writer."
    echo
    echo "| target | execs/s | execs | corpus at the end | edges (cov) | features (ft) |"
    echo "|---|---|---|---|---|---|"
    for t in frame_input tcp_options; do
        echo "| $t | $(kv "fuzz-$t" execs_per_s) | $(kv "fuzz-$t" execs) | $(kv "fuzz-$t" corpus) | $(kv "fuzz-$t" cov) | $(kv "fuzz-$t" ft) |"
    done
    echo
    echo "## Not measured here yet"
    echo
    echo "design.md §6 also asks for message → ACK RTT against the kernel; \`scripts/bench.sh\`"
    echo "does not compare it yet. linerate's ACK RTT is in its JSON reports under target/bench/"
    echo "(\`.latency.ack_rtt\`)."
} >"$TMP_OUT"
mkdir -p "$(dirname "$OUT")"
mv "$TMP_OUT" "$OUT"
chmod 644 "$OUT"
say "wrote $OUT ($((END - START)) s of measurements; raw outputs in target/bench/)"
if [ ${#FAILED[@]} -gt 0 ]; then
    say "failed measurements: ${FAILED[*]}"
    exit 1
fi
