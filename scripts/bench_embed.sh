# shellcheck shell=bash
# Section 6 of scripts/bench.sh (sourced by it): the embedded library. The stack alone in a
# minimal app (examples/order_sender.rs: 64-byte messages at 10 000/s, as section 3). What the C ABI adds
# to a send (capi/examples/abi_cost.rs: lr_send through a function pointer against
# Stack::send on the same stack and connection, alternating rounds), what a cross-thread
# submit adds over a send on the stack's own thread (examples/remote_latency.rs, both
# timed from the call to the frame reaching the device, alternating rounds), and the
# storage writer (examples/storage_writer.rs: zero-copy blocks reused on completion). All on
# net_null with the in-process ACK peer; each run three times, medians reported.
# Uses bench.sh's measure, median, spread, fmt, meets, cmd_of and its variables.

EMBED_RUNS=3

embed_build() {
    cargo build --release --quiet -p linerate-capi --examples
    cargo build --release --quiet --examples --features ack-peer
}

embed_measure() {
    # Relative, as the commands are shown (bench.sh runs from the repository root).
    local r ex=target/release/examples
    for r in $(seq "$EMBED_RUNS"); do
        measure "order-$r" "$ex/order_sender" "$NULL_EAL" 100000 10000
        measure "abi-cost-$r" "$ex/abi_cost" "$NULL_EAL" 200000 10
        measure "remote-lat-$r" "$ex/remote_latency" "$NULL_EAL" 20000 10
    done
    measure storage-writer "$ex/storage_writer" --eal "$NULL_EAL" --bytes 4G --conns 4
}

# The value of key=... in the last line of $LOGS/$1.out; "n/a" when missing.
kv() {
    local v
    v=$(tail -n 1 "$LOGS/$1.out" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1)
    echo "${v:-n/a}"
}

# order_sender's percentile $2 ("p50", "p99", "p99.9") in ns from $LOGS/$1.out; "n/a" when missing.
order_pct() {
    local v
    v=$(tail -n 1 "$LOGS/$1.out" 2>/dev/null | sed -n "s/.* $2 \([0-9]*\) ns.*/\1/p")
    echo "${v:-n/a}"
}
order_median() {
    median $(for r in $(seq "$EMBED_RUNS"); do order_pct "order-$r" "$1"; done)
}

# A section-3 latency field ($2 of report $1, in µs) in whole ns; "n/a" when missing.
lat_ns() {
    awk -v v="$(lat "$1" "$2")" 'BEGIN { if (v == "n/a" || v == "") print "n/a"; else printf "%.0f", v * 1000 }'
}

# Medians of key $2 over the runs of measurement family $1.
kv_median() {
    median $(for r in $(seq "$EMBED_RUNS"); do kv "$1-$r" "$2"; done)
}
kv_spread() {
    spread $(for r in $(seq "$EMBED_RUNS"); do kv "$1-$r" "$2"; done)
}

embed_targets() {
    local added p
    p=$(order_median p50)
    echo "| send latency, the stack alone in a minimal app (order_sender, 64 B, 10 000/s): p50 ≤ 150 ns (§6) | $(fmt "$p" 0) ns | $(meets "$p" '<=' 150) |"
    p=$(order_median p99)
    echo "| the same: p99 ≤ 500 ns (§6) | $(fmt "$p" 0) ns | $(meets "$p" '<=' 500) |"
    added=$(kv_median abi-cost added_mean_ns)
    echo "| the C ABI adds ≤ 10 ns per send over the Rust call (§6) | $(fmt "$added" 1) ns | $(meets "$added" '<=' 10) |"
    added=$(kv_median remote-lat added_p50_ns)
    echo "| a cross-thread submit → wire adds ≤ 300 ns p50 over the same-thread path (§6) | $(fmt "$added" 0) ns | $(meets "$added" '<=' 300) |"
}

embed_report() {
    echo "## 6. The embedded library (net_null + ACK peer, 64-byte messages)"
    echo
    echo "Each row is the median of $EMBED_RUNS runs [min–max]; within a run the two sides"
    echo "alternate in rounds on the same stack, so drift cancels. Times are per call, from"
    echo "the call to its return (C ABI) or to the frame reaching the device (cross-thread)."
    echo
    echo "### The stack alone in a minimal app"
    echo
    echo "\`examples/order_sender.rs\`: one nodelay connection, 64-byte messages at 10 000/s (as in"
    echo "section 3), each timed from \`send\` to its return with the frame accepted by"
    echo "\`rte_eth_tx_burst\`; the app polls the stack between messages and does nothing else"
    echo "(the load generator's own loop, around the same call in section 3, is the difference)."
    echo "Same run: section 3's kernel \`write()\` row."
    echo
    echo "| ns | p50 | p99 | p99.9 |"
    echo "| --- | --- | --- | --- |"
    echo "| order_sender (median of $EMBED_RUNS) | $(fmt "$(order_median p50)" 0) | $(fmt "$(order_median p99)" 0) | $(fmt "$(order_median p99.9)" 0) |"
    echo "| kernel \`write()\` (section 3) | $(lat_ns lat-kernel .send.p50_us) | $(lat_ns lat-kernel .send.p99_us) | $(lat_ns lat-kernel .send.p999_us) |"
    echo
    echo "- \`$(cmd_of order-1)\`"
    echo
    echo "### What the C ABI adds to a send"
    echo
    echo "\`lr_send\` called through a function pointer (as a C program calls into"
    echo "liblinerate_capi.so) against \`Stack::send\` on the same stack and connection; the"
    echo "message length is opaque to the compiler on both sides. Each send leaves in the call"
    echo "(TCP_NODELAY), so a send includes its \`rte_eth_tx_burst\`."
    echo
    echo "| | Rust \`Stack::send\` | C \`lr_send\` | added |"
    echo "| --- | --- | --- | --- |"
    echo "| mean ns | $(fmt "$(kv_median abi-cost rust_mean_ns)" 1) | $(fmt "$(kv_median abi-cost c_mean_ns)" 1) | **$(fmt "$(kv_median abi-cost added_mean_ns)" 1)** [$(kv_spread abi-cost added_mean_ns)] |"
    echo "| p50 ns | $(fmt "$(kv_median abi-cost rust_p50_ns)" 1) | $(fmt "$(kv_median abi-cost c_p50_ns)" 1) | $(fmt "$(kv_median abi-cost added_p50_ns)" 1) |"
    echo "| p99 ns | $(fmt "$(kv_median abi-cost rust_p99_ns)" 1) | $(fmt "$(kv_median abi-cost c_p99_ns)" 1) | |"
    echo
    echo "- \`$(cmd_of abi-cost-1)\`"
    echo
    echo "### A cross-thread submit against a send on the stack's thread"
    echo
    echo "The app thread stamps a message and submits it through the \`remote\` handle's"
    echo "lock-free queue; the stack's thread applies it on its next pass. The same-thread path"
    echo "stamps and calls \`send\` on the stack's thread. Both are timed where the frame"
    echo "reaches the device. With 2 vCPUs, the app thread and the polling lcore share the machine"
    echo "with nothing else."
    echo
    echo "| ns | p50 | p99 | p99.9 |"
    echo "| --- | --- | --- | --- |"
    echo "| same thread | $(fmt "$(kv_median remote-lat same_p50_ns)" 0) | $(fmt "$(kv_median remote-lat same_p99_ns)" 0) | $(fmt "$(kv_median remote-lat same_p999_ns)" 0) |"
    echo "| cross thread | $(fmt "$(kv_median remote-lat cross_p50_ns)" 0) | $(fmt "$(kv_median remote-lat cross_p99_ns)" 0) | $(fmt "$(kv_median remote-lat cross_p999_ns)" 0) |"
    echo "| added | **$(fmt "$(kv_median remote-lat added_p50_ns)" 0)** [$(kv_spread remote-lat added_p50_ns)] | | |"
    echo
    echo "- \`$(cmd_of remote-lat-1)\`"
    echo
    echo "### Storage writer (zero-copy blocks, reused on completion)"
    echo
    echo "4 connections write 4 GiB in 256 KiB blocks from a ring of 8 in one reusable region;"
    echo "a block is written again only after \`ZC_DONE\` returns it (acknowledged, and no"
    echo "frame holds it). No copy: the payload's checksums are summed from the block once."
    echo
    echo "| Gbit/s | blocks | completion events | block → completion p50 µs | p99 µs |"
    echo "| --- | --- | --- | --- | --- |"
    echo "| $(kv storage-writer gbit_s) | $(kv storage-writer blocks) | $(kv storage-writer completions) | $(kv storage-writer p50_complete_us) | $(kv storage-writer p99_complete_us) |"
    echo
    echo "- \`$(cmd_of storage-writer)\`"
    echo
    echo "The stack-alone send latency against the kernel's \`write()\` is section 3's net_null row."
    echo
}
