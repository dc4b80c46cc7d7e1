#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer through cargo-fuzz) of the targets in fuzz/: frame_input
# (frames, app calls and clock steps against a stack with a connection in every state) and
# tcp_options (option parsing and writing, the wire views, checksums); the harnesses are in
# sim/src/fuzz/. Installs cargo-fuzz if missing, builds the targets on the stable toolchain
# (`-s none`: coverage instrumentation without a sanitizer, so no nightly flags), runs each
# for SECONDS from the committed corpus and regressions, and prints one line per target on
# stdout (the rest goes to stderr):
#
#   fuzz: target=frame_input execs_per_s=2061 execs=61830 seconds=30 corpus=778 new=755 cov=1812 ft=4526
#
# corpus: inputs in the run's corpus at the end; new: of those, found in this run; cov/ft:
# libFuzzer's coverage (edges) and features. New inputs go to a temporary directory, never
# the committed corpus (which changes by hand: see fuzz/README.md). Exits 1 when a target
# crashes, fails a check or hangs, naming the input that did it; run it again with the
# target binary, or copy it into fuzz/regressions/<target>/ once fixed.
#
# Usage: scripts/fuzz.sh [SECONDS per target, default 20] [TARGET...]
# Env: LR_FUZZ_OUT=DIR keeps the run's corpus, logs and crashes there (default: a temporary
#      directory, removed unless something crashed).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
say() { printf 'fuzz: %s\n' "$*" >&2; }
die() { printf 'fuzz: error: %s\n' "$*" >&2; exit 2; }

secs=${1:-20}
[[ $secs =~ ^[1-9][0-9]*$ ]] || die "'$secs' is not a whole number of seconds >= 1"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frame_input tcp_options)

if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION" >&2
fi
host=$(rustc -vV | sed -n 's/^host: //p')
# The instrumented build keeps a target directory of its own, whatever the caller's
# CARGO_TARGET_DIR says: sharing one would rebuild every crate each time either side runs.
export CARGO_TARGET_DIR=$PWD/fuzz/target
say "building ${targets[*]} (instrumented, $host)"
t0=$SECONDS
for t in "${targets[@]}"; do
    cargo fuzz build -s none --target "$host" "$t" >&2
done
say "built in $((SECONDS - t0)) s"
bin=fuzz/target/$host/release

# A value of libFuzzer's -print_final_stats ("stat::NAME: VALUE") in log $1; "n/a" if none.
final_stat() {
    local v
    v=$(sed -n "s/^stat::$2: *//p" "$1" | tail -n 1)
    echo "${v:-n/a}"
}

# Field $2 ("cov", "ft", "corp") of the last status line ("#N ... cov: 1812 ft: 4526
# corp: 778/32Kb ...") in log $1; "n/a" if none.
last_status() {
    local v
    v=$(grep -E '^#[0-9]+.* cov: ' "$1" | tail -n 1 | sed -n "s/.* $2: \([0-9]*\).*/\1/p")
    echo "${v:-n/a}"
}

keep=${LR_FUZZ_OUT:-}
out=${keep:-$(mktemp -d "${TMPDIR:-/tmp}/linerate-fuzz.XXXXXX")}
mkdir -p "$out"
failed=()
for t in "${targets[@]}"; do
    [ -x "$bin/$t" ] || die "no target $t in $bin"
    mkdir -p "$out/$t/corpus" "$out/$t/crashes"
    dirs=("$out/$t/corpus" "fuzz/corpus/$t")
    [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
    log=$out/$t.log
    rc=0
    # The first directory takes what the run finds; the others are only read.
    "$bin/$t" "${dirs[@]}" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -max_len=4096 -artifact_prefix="$out/$t/crashes/" >"$log" 2>&1 || rc=$?
    new=$(find "$out/$t/corpus" -type f | wc -l)
    printf 'fuzz: target=%s execs_per_s=%s execs=%s seconds=%s corpus=%s new=%s cov=%s ft=%s\n' \
        "$t" "$(final_stat "$log" average_exec_per_sec)" "$(final_stat "$log" number_of_executed_units)" \
        "$secs" "$(last_status "$log" corp)" "$new" "$(last_status "$log" cov)" "$(last_status "$log" ft)"
    if [ "$rc" != 0 ]; then
        failed+=("$t")
        grep -E 'panicked at|^assertion|ERROR: libFuzzer|SUMMARY' "$log" | head -n 8 >&2 || true
        crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        say "$t failed (exit $rc); input: ${crash:-none written}; log: $log"
        say "replay: $bin/$t ${crash:-<input>}"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    say "failed: ${failed[*]} (kept $out)"
    exit 1
fi
[ -n "$keep" ] || rm -rf "$out"
