#!/usr/bin/env bash
# Installs and prepares everything linerate needs on a fresh Debian 12 machine, idempotently:
# packages, Rust build deps, 2 MiB hugepages, hugetlbfs and bpffs. Run as root.
# Env: LR_HUGEPAGES (default 1024 = 2 GiB), LR_SKIP_APT=1 to skip package installation.
set -euo pipefail

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (DPDK needs hugepages, namespaces and raw sockets)"

PKGS=(libdpdk-dev dpdk dpdk-dev jq libclang-dev clang pkg-config build-essential iproute2 iperf3 tshark
      nftables iptables ethtool python3 procps kmod linux-perf)

if [ "${LR_SKIP_APT:-0}" != 1 ]; then
    missing=()
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        # tshark asks whether non-root users may capture; answer no, non-interactively.
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
        apt-get update -qq || die "apt-get update failed: check the Debian mirror is reachable"
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
            || die "apt-get install failed for: ${missing[*]}"
    fi
fi
pkg-config --atleast-version=22.11 libdpdk || die "DPDK >= 22.11 not found by pkg-config (apt-get install libdpdk-dev)"
command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"

# Hugepages: DPDK's mempools live there. Fall back to --no-huge (tests say so) if impossible.
want=${LR_HUGEPAGES:-1024}
have=$(awk '/HugePages_Total/ {print $2}' /proc/meminfo)
if [ "${have:-0}" -lt "$want" ]; then
    echo "$want" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
    have=$(awk '/HugePages_Total/ {print $2}' /proc/meminfo)
fi
if [ "${have:-0}" -gt 0 ]; then
    mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; } \
        || say "warning: cannot mount hugetlbfs at /dev/hugepages; tests will use --no-huge"
    say "hugepages: $have x 2 MiB reserved"
else
    say "warning: cannot reserve 2 MiB hugepages here; DPDK tests fall back to --no-huge"
fi
# bpffs for net_af_xdp.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null \
    || say "warning: cannot mount bpffs at /sys/fs/bpf (net_af_xdp unavailable; net_af_packet still works)"
say "ok"
