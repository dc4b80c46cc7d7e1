#!/usr/bin/env bash
# Root test of the test topology and its impairment stage (scripts/topology.sh, lr-impair).
#
# Brings the topology up (twice: `up` must be idempotent), then for each impairment spec
# sends 8 MiB of seeded random data from lr-kgen to a sink in lr-sink through the router,
# checks the bytes arrived intact (SHA-256 at the sink == sender's), and checks the handler's
# counters against the spec. After every case, `clear` must leave no rule, table, qdisc or
# process behind that was not in lr-rtr before the first case (what the user had there,
# such as a capture or a table of their own, is not counted). Prints "N passed, M failed"; exits non-zero on any failure.
#
# The sink is `linerate sink` when the built binary ($LINERATE_BIN, else target/release or
# target/debug) has it, else a Python stand-in with the same JSON output.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOPO="$ROOT/scripts/topology.sh"
STATS=/run/linerate/impair-stats.json
PORT=5301
SIZE=$((8 * 1024 * 1024))
TMP=$(mktemp -d /tmp/lr-topo-test.XXXXXX)
PASS=0
FAIL=0

[[ $(id -u) -eq 0 ]] || { echo "topology_impair.sh: must run as root" >&2; exit 1; }
command -v python3 >/dev/null || { echo "topology_impair.sh: python3 missing" >&2; exit 1; }

was_up=0
"$TOPO" status >/dev/null 2>&1 && was_up=1

cleanup() {
    local p
    for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
    "$TOPO" clear >/dev/null 2>&1 || true
    [[ $was_up == 1 ]] || "$TOPO" down >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { # check <description> <command...>
    local d=$1; shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}

cat >"$TMP/helper.py" <<'EOF'
import hashlib, json, random, socket, statistics, sys, time

def send(host, port, size, seed):
    data = random.Random(seed).randbytes(size)
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    s.close()
    print(hashlib.sha256(data).hexdigest())

def sink(port, count):
    # Stand-in for `linerate sink --json --count N`.
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", port))
    l.listen(16)
    print("listening 0.0.0.0:%d" % port, file=sys.stderr, flush=True)
    l.settimeout(60)
    for n in range(1, count + 1):
        c, peer = l.accept()
        t0, h, b, closed = time.time(), hashlib.sha256(), 0, "fin"
        try:
            while True:
                d = c.recv(1 << 18)
                if not d:
                    break
                h.update(d)
                b += len(d)
        except ConnectionResetError:
            closed = "rst"
        secs = time.time() - t0
        c.close()
        print(json.dumps({"conn": n, "peer": "%s:%d" % peer, "bytes": b, "sha256": h.hexdigest(),
                          "secs": secs, "gbps": b * 8 / secs / 1e9 if secs else 0,
                          "closed": closed}), flush=True)

def rtt(host, port, n):
    # Time to a refused connect (SYN out, RST back) is one round trip.
    samples = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(3)
        t0 = time.perf_counter()
        try:
            s.connect((host, port))
        except (ConnectionRefusedError, socket.timeout, OSError):
            pass
        samples.append((time.perf_counter() - t0) * 1000)
        s.close()
    print("%.3f" % statistics.median(samples))

cmd = sys.argv[1]
if cmd == "send":
    send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
elif cmd == "sink":
    sink(int(sys.argv[2]), int(sys.argv[3]))
elif cmd == "rtt":
    rtt(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
EOF

# Pick the sink.
SINK=()
for b in ${LINERATE_BIN:+"$LINERATE_BIN"} "$ROOT/target/release/linerate" "$ROOT/target/debug/linerate"; do
    if [[ -x "$b" ]] && "$b" sink --help >/dev/null 2>&1; then
        SINK=("$b" sink --listen "0.0.0.0:$PORT" --json --count 1 --timeout 60)
        break
    fi
done
if [[ ${#SINK[@]} -eq 0 ]]; then
    echo "# linerate sink not built; using the Python stand-in sink"
    SINK=(python3 "$TMP/helper.py" sink "$PORT" 1)
else
    echo "# sink: ${SINK[0]} sink"
fi

# json <file> <python expression over d> — prints the value.
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# fcheck <python boolean expression> KEY=VAL... — the expression sees the KEYs as floats.
fcheck() {
    python3 - "$@" <<'EOF'
import sys
v = {k: float(x) for k, x in (a.split("=", 1) for a in sys.argv[2:])}
sys.exit(0 if eval(sys.argv[1], {}, v) else 1)
EOF
}

rtt_ms() { ip netns exec lr-kgen python3 "$TMP/helper.py" rtt 198.19.0.2 9 7; }

# transfer <tag>: sends SIZE bytes lr-kgen -> lr-sink; writes $TMP/<tag>.sink (JSON line).
transfer() {
    local tag=$1 seed=${2:-1}
    : >"$TMP/$tag.err"
    ip netns exec lr-sink "${SINK[@]}" >"$TMP/$tag.sink" 2>"$TMP/$tag.err" &
    local spid=$! n=0
    until grep -q '^listening' "$TMP/$tag.err"; do
        n=$((n + 1))
        if [[ $n -gt 100 ]]; then echo "sink did not start" >&2; return 1; fi
        sleep 0.05
    done
    local sent
    sent=$(ip netns exec lr-kgen timeout 60 python3 "$TMP/helper.py" send 198.19.0.2 "$PORT" "$SIZE" "$seed") || return 1
    wait "$spid" || return 1
    echo "$sent" >"$TMP/$tag.sent"
}

intact() { # intact <tag>
    local tag=$1 got bytes
    got=$(json "$TMP/$tag.sink" 'd["sha256"]')
    bytes=$(json "$TMP/$tag.sink" 'd["bytes"]')
    [[ "$got" == "$(cat "$TMP/$tag.sent")" && "$bytes" == "$SIZE" ]]
}

# Everything in lr-rtr that a case could leave behind, one item per line, sorted: nft
# rules, legacy iptables rules, qdiscs, processes.
rtr_state() {
    {
        ip netns exec lr-rtr nft list ruleset 2>/dev/null | sed 's/^/nft: /'
        ip netns exec lr-rtr iptables-legacy-save 2>/dev/null | grep -E '^-A' | sed 's/^/iptables: /'
        ip netns exec lr-rtr tc qdisc show | grep -v noqueue | sed 's/^/qdisc: /'
        ip netns pids lr-rtr | sed 's/^/pid: /'
    } | sort || true
}

# What is in lr-rtr now and was not before the first case: whatever the user had there (a
# packet capture, a table of their own) is theirs, not a leftover.
added_to_rtr() {
    comm -13 "$TMP/rtr.before" <(rtr_state)
}

no_new_process() {
    local r
    r=$(added_to_rtr)
    ! grep -q '^pid: ' <<<"$r"
}

nothing_left() {
    local r
    r=$(added_to_rtr)
    [[ -z "$r" ]] || { echo "  left in lr-rtr: $r"; return 1; }
    [[ ! -e /run/linerate/impair.pid ]] || { echo "  pidfile left"; return 1; }
}

# ------------------------------------------------------------------------------------------
t0=$(date +%s)
check "topology up" sh -c "'$TOPO' up >/dev/null"
check "topology up again (idempotent)" sh -c "'$TOPO' up >/dev/null"
"$TOPO" clear >/dev/null
rtr_state >"$TMP/rtr.before"
check "status exits 0 when up" sh -c "'$TOPO' status >/dev/null"
check "lr-gen0 has no IPv4 address" test -z "$(ip -n lr-gen -4 -o addr show dev lr-gen0)"
check "lr-gen0 has IPv6 disabled" test "$(ip netns exec lr-gen sysctl -n net.ipv6.conf.lr-gen0.disable_ipv6)" = 1
check "lr-gen0 MAC pinned" test "$(ip -n lr-gen -o link show lr-gen0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)" = 02:00:c6:12:00:01
check "lr-rtr0 tx checksum offload off" sh -c "ip netns exec lr-rtr ethtool -k lr-rtr0 | grep -q '^tx-checksumming: off'"
check "bad spec rejected with one line" sh -c "! '$TOPO' impair 'loss=5' 2>'$TMP/badspec' && test \$(wc -l <'$TMP/badspec') -eq 1"
check "unknown key rejected" sh -c "! '$TOPO' impair 'speed=1' 2>/dev/null"
check "nothing left after a rejected spec" nothing_left

base_rtt=$(rtt_ms)
echo "# base RTT ${base_rtt} ms"
if transfer base 1 && intact base; then ok "baseline transfer intact"; else bad "baseline transfer not intact"; fi

run_case() { # run_case <tag> <spec> <checks-function>
    local tag=$1 spec=$2 fn=$3
    echo "# case $tag: $spec"
    if ! "$TOPO" impair "$spec" >/dev/null; then
        bad "$tag: impair '$spec' failed"
        return
    fi
    "$fn" "$tag" pre
    if transfer "$tag" 7 && intact "$tag"; then
        ok "$tag: 8 MiB intact through '$spec'"
    else
        bad "$tag: transfer through '$spec' not intact ($(cat "$TMP/$tag.sink" "$TMP/$tag.err" 2>/dev/null | tr '\n' ' '))"
    fi
    "$TOPO" clear >/dev/null
    cp "$STATS" "$TMP/$tag.stats" 2>/dev/null || echo '{}' >"$TMP/$tag.stats"
    echo "#   fwd $(json "$TMP/$tag.stats" 'd.get("fwd")')"
    "$fn" "$tag" post
    check "$tag: nothing left after clear" nothing_left
}

st() { json "$TMP/$1.stats" "d[\"$2\"][\"$3\"]"; } # st <tag> <dir> <counter>

c_loss() {
    [[ $2 == post ]] || return 0
    local s d
    s=$(st "$1" fwd seen); d=$(st "$1" fwd dropped)
    check "$1: fwd drop fraction $d/$s within 0.55%..1.5%" fcheck 'd/s >= 0.0055 and d/s <= 0.015' s="$s" d="$d"
    check "$1: rev direction also impaired" fcheck 's > 0' s="$(st "$1" rev seen)"
}
c_dup() {
    [[ $2 == post ]] || return 0
    local s d
    s=$(st "$1" fwd seen); d=$(st "$1" fwd duplicated)
    check "$1: fwd dup fraction $d/$s within 0.5%..1.6%" fcheck 'd/s >= 0.005 and d/s <= 0.016' s="$s" d="$d"
    check "$1: no injection errors" fcheck 'e == 0' e="$(st "$1" fwd inject_errors)"
}
c_delay() {
    if [[ $2 == pre ]]; then
        local r
        r=$(rtt_ms)
        echo "#   RTT ${r} ms (base ${base_rtt})"
        check "$1: RTT rose by ~2x10ms (16..30 ms over base)" fcheck 'r - b >= 16 and r - b <= 30' r="$r" b="$base_rtt"
        return 0
    fi
    check "$1: every packet delayed" fcheck 'd == s and s > 0' s="$(st "$1" fwd seen)" d="$(st "$1" fwd delayed)"
}
CSUM0=0
csum_errs() { ip netns exec lr-sink nstat -az TcpInCsumErrors | awk '/TcpInCsumErrors/ {print $2}'; }
c_corrupt() {
    if [[ $2 == pre ]]; then CSUM0=$(csum_errs); return 0; fi
    local s c e
    s=$(st "$1" fwd seen); c=$(st "$1" fwd corrupted)
    e=$(( $(csum_errs) - CSUM0 ))
    check "$1: fwd corrupt fraction $c/$s within 0.15%..0.9%" fcheck 'c/s >= 0.0015 and c/s <= 0.009' s="$s" c="$c"
    check "$1: sink saw $e checksum errors for $c corrupted packets" fcheck 'e >= c - 2 and e <= c' e="$e" c="$c"
}
c_reorder() {
    [[ $2 == post ]] || return 0
    local s r o
    s=$(st "$1" fwd seen); r=$(st "$1" fwd reordered); o=$(st "$1" fwd overtaken)
    check "$1: fwd reorder fraction $r/$s within 20%..30%" fcheck 'r/s >= 0.20 and r/s <= 0.30' s="$s" r="$r"
    check "$1: packets actually overtaken ($o)" fcheck 'o > 0' o="$o"
}
c_burst() {
    [[ $2 == post ]] || return 0
    local s d b
    s=$(st "$1" fwd seen); d=$(st "$1" fwd dropped); b=$(st "$1" fwd bursts)
    # p=1%, len=4: expected loss 0.04/1.03 = 3.9%; mean burst length 4.
    check "$1: fwd drop fraction $d/$s within 2%..6.5%" fcheck 'd/s >= 0.02 and d/s <= 0.065' s="$s" d="$d"
    check "$1: mean burst length $d/$b within 2.5..6" fcheck 'b > 0 and d/b >= 2.5 and d/b <= 6' b="$b" d="$d"
}
c_dirfwd() {
    [[ $2 == post ]] || return 0
    check "$1: rev direction untouched" fcheck 's == 0' s="$(st "$1" rev seen)"
    check "$1: fwd drops happened" fcheck 'd > 0' d="$(st "$1" fwd dropped)"
}
c_rate() {
    if [[ $2 == pre ]]; then
        check "$1: tbf installed on lr-rtr2" sh -c "ip netns exec lr-rtr tc qdisc show dev lr-rtr2 | grep -q tbf"
        check "$1: no handler for a rate-only spec" no_new_process
        return 0
    fi
    local g
    g=$(json "$TMP/$1.sink" 'd["gbps"]')
    echo "#   throughput ${g} Gbit/s"
    check "$1: throughput $g Gbit/s below 0.2 Gbit/s (+5%)" fcheck 'g <= 0.21 and g > 0.05' g="$g"
}

run_case loss "loss=1% seed=7" c_loss
run_case dup "dup=1% seed=3" c_dup
run_case delay "delay=10ms jitter=2ms" c_delay
run_case corrupt "corrupt=0.5%" c_corrupt
run_case reorder "reorder=25% delay=5ms" c_reorder
run_case burst "loss-burst=1%/4 seed=11" c_burst
run_case dirfwd "loss=2% dir=fwd seed=5" c_dirfwd
run_case rate "rate=200mbit" c_rate

check "status still up" sh -c "'$TOPO' status >/dev/null"
if [[ $was_up == 0 ]]; then
    check "down" sh -c "'$TOPO' down >/dev/null"
    check "down again (idempotent)" sh -c "'$TOPO' down >/dev/null"
    check "status exits 1 when down" sh -c "! '$TOPO' status >/dev/null"
fi
echo "# runtime $(( $(date +%s) - t0 )) s"
echo "$PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
