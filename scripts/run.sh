#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: sets the machine up, builds linerate,
# brings up the namespace topology, starts the kernel sink in lr-sink, and runs the load
# generator from lr-gen for about 10 s, printing its report.
# Extra arguments go to `linerate send` (e.g. scripts/run.sh -P 8 -t 30s --json).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
echo "run: building (release)" >&2
cargo build --release --quiet -p linerate-app -p lr-impair
scripts/topology.sh up >/dev/null

BIN=target/release/linerate
SINK_LOG=$(mktemp)
ip netns exec lr-sink "$BIN" sink --listen 198.19.0.2:5201 >"$SINK_LOG" 2>&1 &
SINK=$!
trap 'kill $SINK 2>/dev/null || true; wait $SINK 2>/dev/null || true; rm -f "$SINK_LOG"' EXIT
for _ in $(seq 50); do grep -q listening "$SINK_LOG" && break; sleep 0.1; done
grep -q listening "$SINK_LOG" || { cat "$SINK_LOG" >&2; echo "run: the sink did not start" >&2; exit 1; }

if grep -q '^HugePages_Free: *[1-9]' /proc/meminfo; then MEM="--in-memory"; else MEM="--no-huge --no-shconf -m 1024"; fi
ip netns exec lr-gen "$BIN" send \
    --dpdk "-l 0 $MEM --no-pci --no-telemetry --vdev=net_af_packet0,iface=lr-gen0,framecnt=4096" \
    --ip 198.18.0.1/24 --gw 198.18.0.254 --dst 198.19.0.2:5201 -P 4 -t 10s "$@"
