#!/usr/bin/env bash
# Sets up the machine and runs every test: unit and simulation tests, the DPDK tests, the
# end-to-end tests against the kernel in the namespace topology, the impairment-stage test,
# the format, lint and doc checks, the benchmark script's parsers, and a short fuzz run.
# Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

step() { printf '\n=== %s\n' "$*"; }

step setup
scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "bench.sh parsers"
scripts/bench.sh --self-test

step build
# The impairment stage runs from its release build; the tests use the debug build.
cargo build --release --quiet -p lr-impair
cargo build --quiet -p linerate-capi # the C example's liblinerate_capi.so (tests/e2e_capi.rs)
cargo build --quiet --examples --features ack-peer # tests/example_order_sender.rs runs them
cargo test --workspace --no-run --quiet
# Every platform's dependencies, not only this one's: cbindgen's `cargo metadata` (the C
# header test) resolves them all, and the tests below run offline.
cargo fetch --quiet

# Online, before the namespace: the first run installs cargo-fuzz and fetches the fuzz
# targets' crates. 20 s per target; the long run is in scripts/bench.sh.
step "fuzz (short)"
scripts/fuzz.sh 20

step topology
scripts/topology.sh up

# Every test, including the ones that need root and the topology, runs inside lr-gen: the
# DPDK side of the topology lives there. Offline, because the namespace has no route out.
step "cargo test (all, inside lr-gen)"
ip netns exec lr-gen env CARGO_NET_OFFLINE=true cargo test --workspace -- --include-ignored

step "impairment stage"
bash tests/topology_impair.sh

step done
echo "all test stages passed"
