#!/usr/bin/env bash
# linerate test topology (design.md §5): four network namespaces joined by veth pairs to a
# kernel router, plus an optional impairment stage on that router.
#
#   lr-gen  [lr-gen0  (no IP; DPDK owns 198.18.0.1)] --- [lr-rtr0 198.18.0.254/24] \
#   lr-kgen [lr-kgen0 198.18.1.1/24]                 --- [lr-rtr1 198.18.1.254/24]  lr-rtr
#   lr-sink [lr-sink0 198.19.0.2/24]                 --- [lr-rtr2 198.19.0.254/24] /
#
# Usage: scripts/topology.sh up|down|status|impair "<spec>"|clear|impair-stats
#
# Impairment: `impair "<spec>"` starts lr-impair (our NFQUEUE handler, see impair/src/lib.rs
# for the spec grammar) inside lr-rtr, queues forwarded IPv4 packets to it with iptables
# (iptables-nft; the kernel has the xt NFQUEUE target but not nft's native queue expression),
# and adds tbf qdiscs on the router's egress interfaces for `rate=`. `clear` removes every
# rule, table, qdisc and the daemon, so nothing extra stays in the path.
# Queue 0 = fwd (anything routed out lr-rtr2, i.e. lr-gen/lr-kgen -> sink),
# queue 1 = rev (anything that came in on lr-rtr2, i.e. sink -> clients).
#
# While an impairment is active, GRO is turned off on the router's ingress veths (it is off
# by default on veth anyway) and the handler does not ask for NFQA_CFG_F_GSO, so the kernel
# segments GSO/TSO super-packets (from lr-kgen's TCP) into wire-size packets before queueing
# them: every impairment decision is per wire packet, and checksums are resolved, so a
# corrupted packet fails the receiver's checksum.
#
# Environment: LR_IMPAIR_BIN overrides the handler binary (default target/release/lr-impair,
# rebuilt with cargo when missing or older than its sources).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR=/run/linerate
PIDFILE="$RUN_DIR/impair.pid"
STATS="$RUN_DIR/impair-stats.json"
SPECFILE="$RUN_DIR/impair.spec"
LOGFILE="$RUN_DIR/impair.log"
CHAIN=LR_IMPAIR

NS_ALL=(lr-gen lr-rtr lr-kgen lr-sink)
# pair: ns_a if_a mac_a ns_b if_b mac_b
PAIRS=(
    "lr-gen lr-gen0 02:00:c6:12:00:01 lr-rtr lr-rtr0 02:00:c6:12:00:fe"
    "lr-kgen lr-kgen0 02:00:c6:12:01:01 lr-rtr lr-rtr1 02:00:c6:12:01:fe"
    "lr-sink lr-sink0 02:00:c6:13:00:02 lr-rtr lr-rtr2 02:00:c6:13:00:fe"
)
RTR_IFS=(lr-rtr0 lr-rtr1 lr-rtr2)

die() { echo "topology.sh: $*" >&2; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
ns_exists() { [[ -e "/run/netns/$1" ]]; }
link_in_ns() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }
sysctl_ns() { nsx "$1" sysctl -qw "$2" >/dev/null || die "sysctl $2 failed in $1"; }

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root"; }
need_tools() {
    local t
    for t in ip ethtool iptables nft tc sysctl; do
        command -v "$t" >/dev/null || die "missing tool '$t' (install iproute2 ethtool iptables nftables procps)"
    done
}

# ---------------------------------------------------------------------------------------------
# up / down / status

cmd_up() {
    local ns pair a ia ma b ib mb i
    for ns in "${NS_ALL[@]}"; do
        ns_exists "$ns" || ip netns add "$ns" || die "cannot create namespace $ns"
        nsx "$ns" ip link set lo up
        # New interfaces in this namespace start with IPv6 disabled: the kernel emits nothing.
        sysctl_ns "$ns" net.ipv6.conf.all.disable_ipv6=1
        sysctl_ns "$ns" net.ipv6.conf.default.disable_ipv6=1
    done
    for pair in "${PAIRS[@]}"; do
        read -r a ia ma b ib mb <<<"$pair"
        if link_in_ns "$a" "$ia" && link_in_ns "$b" "$ib"; then
            :
        elif link_in_ns "$a" "$ia" || link_in_ns "$b" "$ib"; then
            die "half of veth pair $ia/$ib exists; run '$0 down' first"
        else
            ip link add "$ia" netns "$a" type veth peer name "$ib" netns "$b" \
                || die "cannot create veth pair $ia/$ib"
        fi
        for i in "$a $ia $ma" "$b $ib $mb"; do
            read -r ns dev mac <<<"$i"
            nsx "$ns" ip link set dev "$dev" address "$mac" mtu 1500
            sysctl_ns "$ns" "net.ipv6.conf.$dev.disable_ipv6=1"
            nsx "$ns" ip link set dev "$dev" up
        done
    done

    # lr-gen: no address; the DPDK PMD owns 198.18.0.1. No offloads that would hand the
    # af_packet/af_xdp reader super-frames or partial checksums.
    nsx lr-gen ip -4 addr flush dev lr-gen0
    nsx lr-gen ethtool -K lr-gen0 gro off lro off tso off gso off tx off >/dev/null 2>&1 || true
    nsx lr-gen sysctl -qw net.ipv4.conf.lr-gen0.arp_ignore=8 >/dev/null || true

    # lr-rtr: the router.
    sysctl_ns lr-rtr net.ipv4.ip_forward=1
    sysctl_ns lr-rtr net.ipv4.conf.all.rp_filter=0
    sysctl_ns lr-rtr net.ipv4.conf.default.rp_filter=0
    sysctl_ns lr-rtr net.ipv4.conf.all.send_redirects=0
    for i in "${RTR_IFS[@]}"; do
        sysctl_ns lr-rtr "net.ipv4.conf.$i.rp_filter=0"
        sysctl_ns lr-rtr "net.ipv4.conf.$i.send_redirects=0"
    done
    nsx lr-rtr ip addr replace 198.18.0.254/24 dev lr-rtr0
    nsx lr-rtr ip addr replace 198.18.1.254/24 dev lr-rtr1
    nsx lr-rtr ip addr replace 198.19.0.254/24 dev lr-rtr2
    # Frames towards the DPDK side must carry complete checksums and be at most one MTU.
    nsx lr-rtr ethtool -K lr-rtr0 tx off tso off gso off >/dev/null 2>&1 \
        || die "ethtool -K lr-rtr0 tx off failed"

    # lr-kgen: kernel-baseline client.
    nsx lr-kgen ip addr replace 198.18.1.1/24 dev lr-kgen0
    nsx lr-kgen ip route replace default via 198.18.1.254 dev lr-kgen0

    # lr-sink: kernel TCP sink; the default route covers 198.18.0.0/15.
    nsx lr-sink ip addr replace 198.19.0.2/24 dev lr-sink0
    nsx lr-sink ip route replace default via 198.19.0.254 dev lr-sink0

    mkdir -p "$RUN_DIR"
    echo "topology up"
}

cmd_down() {
    impair_clear quiet
    local ns
    for ns in "${NS_ALL[@]}"; do
        if ns_exists "$ns"; then
            ip netns del "$ns" || die "cannot delete namespace $ns"
        fi
    done
    echo "topology down"
}

is_up() {
    local pair a ia ma b ib mb ns
    for ns in "${NS_ALL[@]}"; do ns_exists "$ns" || return 1; done
    for pair in "${PAIRS[@]}"; do
        read -r a ia ma b ib mb <<<"$pair"
        link_in_ns "$a" "$ia" && link_in_ns "$b" "$ib" || return 1
    done
    return 0
}

cmd_status() {
    local ns
    for ns in "${NS_ALL[@]}"; do
        if ns_exists "$ns"; then
            echo "netns $ns:"
            nsx "$ns" ip -br -4 addr show | grep -v '^lo ' | sed 's/^/  addr /' || true
            nsx "$ns" ip -br link show | grep -v '^lo ' | sed 's/^/  link /' || true
        else
            echo "netns $ns: missing"
        fi
    done
    if impair_running; then
        echo "impairment: active pid $(cat "$PIDFILE") spec '$(cat "$SPECFILE" 2>/dev/null)'"
    elif ns_exists lr-rtr && nsx lr-rtr nft list table ip filter 2>/dev/null | grep -q "$CHAIN"; then
        echo "impairment: STALE rules without a handler (run '$0 clear')"
    else
        echo "impairment: none"
    fi
    if is_up; then echo "topology: up"; return 0; fi
    echo "topology: down"
    return 1
}

# ---------------------------------------------------------------------------------------------
# impairment

impair_running() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

impair_bin() {
    if [[ -n "${LR_IMPAIR_BIN:-}" ]]; then
        [[ -x "$LR_IMPAIR_BIN" ]] || die "LR_IMPAIR_BIN=$LR_IMPAIR_BIN is not executable"
        echo "$LR_IMPAIR_BIN"
        return
    fi
    local bin="$ROOT/target/release/lr-impair"
    if [[ ! -x "$bin" ]] || [[ -n "$(find "$ROOT/impair" -newer "$bin" -type f \
            \( -name '*.rs' -o -name Cargo.toml \) -print -quit)" ]]; then
        (cd "$ROOT" && cargo build --release -q -p lr-impair >&2) || die "cargo build -p lr-impair failed"
    fi
    echo "$bin"
}

# Removes everything the impairment stage adds. $1=quiet suppresses the message.
impair_clear() {
    local quiet=${1:-}
    if impair_running; then
        local pid i
        pid=$(cat "$PIDFILE")
        # Rules first (no listener + no bypass would drop), then the handler, which releases
        # any held packets and writes its final counters on SIGTERM.
        rules_del
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            echo "topology.sh: lr-impair (pid $pid) did not exit on SIGTERM; killed" >&2
        fi
    fi
    rm -f "$PIDFILE" "$SPECFILE"
    if ns_exists lr-rtr; then
        rules_del
        local i
        for i in "${RTR_IFS[@]}"; do
            if link_in_ns lr-rtr "$i"; then
                nsx lr-rtr tc qdisc del dev "$i" root >/dev/null 2>&1 || true
            fi
        done
    fi
    [[ "$quiet" == quiet ]] || echo "impairment cleared"
}

rules_del() {
    ns_exists lr-rtr || return 0
    while nsx lr-rtr iptables -w -D FORWARD -j "$CHAIN" >/dev/null 2>&1; do :; done
    nsx lr-rtr iptables -w -F "$CHAIN" >/dev/null 2>&1 || true
    nsx lr-rtr iptables -w -X "$CHAIN" >/dev/null 2>&1 || true
    # iptables-nft leaves an empty `ip filter` table with hooked base chains behind: drop it
    # when it holds no rules, so no hook stays in the forwarding path.
    if nsx lr-rtr nft list table ip filter >/dev/null 2>&1 \
        && ! nsx lr-rtr iptables-save -t filter 2>/dev/null | grep -q '^-A'; then
        nsx lr-rtr nft delete table ip filter >/dev/null 2>&1 || true
    fi
}

# Parses the subset of the spec topology.sh itself needs (rate/dir); lr-impair
# validates the whole spec first (--check), so errors come from one place.
spec_get() {
    local key=$1 spec=$2 kv
    for kv in $spec; do
        if [[ "$kv" == "$key="* ]]; then echo "${kv#*=}"; return; fi
    done
}

cmd_impair() {
    local spec=${1:-}
    [[ -n "$spec" ]] || die "usage: $0 impair \"<spec>\" (e.g. \"loss=1% delay=10ms seed=7\")"
    is_up || die "topology is down; run '$0 up' first"
    local bin
    bin=$(impair_bin)
    # Validate; prints one clear line on error. --check also prints derived facts.
    local facts
    facts=$("$bin" --check --spec "$spec") || exit 1
    impair_clear quiet

    local dir rate needs_queue
    dir=$(spec_get dir "$spec"); dir=${dir:-both}
    rate=$(spec_get rate "$spec")
    needs_queue=$(sed -n 's/^needs_queue=//p' <<<"$facts")

    mkdir -p "$RUN_DIR"
    rm -f "$STATS"
    echo "$spec" >"$SPECFILE"
    if [[ "$needs_queue" == 1 ]]; then
        local i
        for i in "${RTR_IFS[@]}"; do
            nsx lr-rtr ethtool -K "$i" gro off >/dev/null 2>&1 || true
        done
        # setsid: the handler survives this shell; its stdout/stderr go to the log.
        ip netns exec lr-rtr setsid "$bin" --spec "$spec" --stats "$STATS" \
            --pidfile "$PIDFILE" --fwd-queue 0 --rev-queue 1 >"$LOGFILE" 2>&1 </dev/null &
        local n=0
        until [[ -s "$STATS" ]]; do
            n=$((n + 1))
            if [[ $n -gt 100 ]] || ! kill -0 $! 2>/dev/null; then
                echo "topology.sh: lr-impair failed to start: $(tail -n 3 "$LOGFILE" | tr '\n' ' ')" >&2
                impair_clear quiet
                exit 1
            fi
            sleep 0.05
        done
        nsx lr-rtr iptables -w -N "$CHAIN"
        nsx lr-rtr iptables -w -I FORWARD 1 -j "$CHAIN"
        if [[ "$dir" == both || "$dir" == fwd ]]; then
            nsx lr-rtr iptables -w -A "$CHAIN" -o lr-rtr2 -j NFQUEUE --queue-num 0
        fi
        if [[ "$dir" == both || "$dir" == rev ]]; then
            nsx lr-rtr iptables -w -A "$CHAIN" -i lr-rtr2 -j NFQUEUE --queue-num 1
        fi
    fi
    if [[ "$needs_queue" != 1 ]]; then
        # No per-packet impairment: no handler runs; say so in the stats.
        printf '{"spec":"%s","handler":false}\n' "$spec" >"$STATS"
    fi
    if [[ -n "$rate" ]]; then
        local bps burst lim devs=()
        bps=$(sed -n 's/^rate_bps=//p' <<<"$facts")
        burst=$(sed -n 's/^burst_bytes=//p' <<<"$facts")
        lim=$(sed -n 's/^limit_bytes=//p' <<<"$facts")
        [[ "$dir" == both || "$dir" == fwd ]] && devs+=(lr-rtr2)
        [[ "$dir" == both || "$dir" == rev ]] && devs+=(lr-rtr0 lr-rtr1)
        local d
        for d in "${devs[@]}"; do
            nsx lr-rtr tc qdisc replace dev "$d" root tbf rate "${bps}bit" burst "$burst" limit "$lim" \
                || { impair_clear quiet; die "tc tbf on $d failed"; }
        done
    fi
    echo "impairment active: $spec"
}

cmd_impair_stats() {
    if [[ -f "$STATS" ]]; then
        cat "$STATS"
        echo
    else
        die "no impairment statistics ($STATS missing; is an impairment active?)"
    fi
}

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        up) need_root; need_tools; cmd_up ;;
        down) need_root; cmd_down ;;
        status) need_root; cmd_status ;;
        impair) need_root; need_tools; cmd_impair "$@" ;;
        clear) need_root; impair_clear ;;
        impair-stats) cmd_impair_stats ;;
        *) die "usage: $0 up|down|status|impair \"<spec>\"|clear|impair-stats" ;;
    esac
}

main "$@"
