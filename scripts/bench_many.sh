# shellcheck shell=bash
# Section 5 of scripts/bench.sh (sourced by it): many connections. The scale curve (one
# lcore, net_null + ACK peer, 1 to 100 000 connections, with the default ACK-every-second-
# segment receiver and with a GRO receiver), a million connections held, the connection
# rate (net_null, and through af_packet to the kernel sink with every connection's bytes
# checked), request/response against the kernel's own client, and the figures.
# Uses bench.sh's measure, jget, ratio, fmt, meets, cmd_of and its variables.

MANY_PORTS=(--dst 198.18.0.2:5201 --dst 198.18.0.2:5202 --dst 198.18.0.2:5203 --dst 198.18.0.2:5204)
SCALE_NS=(1 1000 10000 100000)
# The scale runs repeat in interleaved rounds (every count and receiver, then again), and the
# table shows medians: this machine's figures swing between minutes, and the target is a
# ratio taken within a round.
SCALE_ROUNDS=3
CPS_SINK_PORT=5206
RR_SINK_PORT=5207

# The file-name suffix of scale round $1 (round 1 has none: the figure and commands use it).
round_sfx() {
    if [ "$1" -gt 1 ]; then echo "-r$1"; fi
}

# Field $3 of scale run ($1 receiver, $2 connections) in every round.
scale_vals() {
    local r
    for r in $(seq "$SCALE_ROUNDS"); do jget "$LOGS/scale-$1-$2$(round_sfx "$r").out" "$3"; done
}

# Data Mpps of scale run ($1, $2) over that of one connection, round by round.
scale_ratios() {
    local r s
    for r in $(seq "$SCALE_ROUNDS"); do
        s=$(round_sfx "$r")
        ratio "$(jget "$LOGS/scale-$1-$2$s.out" .data_mpps)" "$(jget "$LOGS/scale-$1-1$s.out" .data_mpps)"
    done
}

# The largest of the arguments ("n/a" and empty ones skipped).
most() {
    printf '%s\n' "$@" | awk '$1 != "n/a" && $1 != "" && $1 != "null" { v = $1 + 0; if (!n++ || v > hi) hi = v }
        END { if (!n) print "n/a"; else print hi }'
}

many_measure() {
    local st=$((T < 10 ? T : 10)) n peer gro
    # Scale: the same bulk run at 1 to 100 000 connections, both receivers; the wall time of
    # each run is kept (connect and close included) beside its -t.
    local r name
    for r in $(seq "$SCALE_ROUNDS"); do
        for peer in default gro; do
            gro=(); [ "$peer" = gro ] && gro=(--ack-peer-gro)
            for n in "${SCALE_NS[@]}"; do
                name="scale-$peer-$n$(round_sfx "$r")"
                measure "$name" /usr/bin/time -f "%e" -o "$LOGS/$name.wall" \
                    "$BIN" send --dpdk "$NULL_EAL" --ip 198.18.0.1/24 "${MANY_PORTS[@]}" \
                    --ack-peer "${gro[@]}" -P "$n" -t "${st}s" --mbufs 65535 --json --quiet
            done
        done
    done
    # A million connections held on one lcore, 64 source addresses.
    measure hold-1m "$BIN" send --dpdk "$NULL_EAL" --ip 198.18.0.1/16 \
        --src-range 198.18.1.0-198.18.1.63 --dst 198.18.0.2:5201 --ack-peer -P 1000000 --hold \
        -t "$((st + 5))s" --mbufs 65535 --json --quiet
    # Connection rate on net_null: a 1-segment request each (1 000 bytes), asked for 2 M/s so
    # that what one core achieves shows (an open loop asked for 1 M/s cannot open more).
    measure cps-null "$BIN" send --dpdk "$NULL_EAL" --ip 198.18.0.1/16 \
        --src-range 198.18.1.0-198.18.1.255 --dst 198.18.0.2:5201 --ack-peer --cps 2M -n 1000 \
        -t "${st}s" --mbufs 131071 --json --quiet
    # Connection rate through af_packet to a sink of its own that reports every connection.
    head -c 1000 /dev/urandom >"$LOGS/cps-request.bin"
    ip netns exec lr-sink "$BIN" sink --listen "198.19.0.2:$CPS_SINK_PORT" --json \
        >"$LOGS/cps-sink.out" 2>"$LOGS/cps-sink.err" &
    echo $! >"$RUN/cps-sink.pid"
    for _ in $(seq 50); do grep -q listening "$LOGS/cps-sink.err" && break; sleep 0.1; done
    measure cps-afp ip netns exec lr-gen "$BIN" send --dpdk "$AFP_EAL" --ip 198.18.0.1/24 \
        --gw 198.18.0.254 --dst "198.19.0.2:$CPS_SINK_PORT" --cps 2000 -P $((2000 * st)) \
        -n 1000 --payload-file "$LOGS/cps-request.bin" -t "$((st + 20))s" --json --quiet
    sleep 1
    kill "$(cat "$RUN/cps-sink.pid")" 2>/dev/null || true
    rm -f "$RUN/cps-sink.pid"
    # Request/response: linerate and the kernel's client against one responder, and the
    # stack alone on net_null.
    ip netns exec lr-sink "$BIN" sink --listen "198.19.0.2:$RR_SINK_PORT" --respond 64 \
        --request 64 >"$LOGS/rr-sink.out" 2>"$LOGS/rr-sink.err" &
    echo $! >"$RUN/rr-sink.pid"
    for _ in $(seq 50); do grep -q listening "$LOGS/rr-sink.err" && break; sleep 0.1; done
    measure rr-linerate ip netns exec lr-gen "$BIN" send --dpdk "$AFP_EAL" --ip 198.18.0.1/24 \
        --gw 198.18.0.254 --dst "198.19.0.2:$RR_SINK_PORT" --rr 64/64 -P 1 -t "${st}s" \
        --json --quiet
    measure rr-kernel ip netns exec lr-kgen "$BIN" ksend --connect "198.19.0.2:$RR_SINK_PORT" \
        --rr 64/64 -t "${st}s" --json
    kill "$(cat "$RUN/rr-sink.pid")" 2>/dev/null || true
    rm -f "$RUN/rr-sink.pid"
    measure rr-null "$BIN" send --dpdk "$NULL_EAL" --ip 198.18.0.1/24 --dst 198.18.0.2:5201 \
        --ack-peer --rr 64/64 -P 1 -t "${st}s" --json --quiet
    MANY_ST=$st
}

# Connections the cps sink saw whole: the request's bytes and SHA-256, closed with FIN.
cps_exact() {
    local want
    want=$(sha256sum "$LOGS/cps-request.bin" | cut -d' ' -f1)
    jq -r --arg s "$want" 'select(.bytes == 1000 and .sha256 == $s and .closed == "fin") | .conn' \
        "$LOGS/cps-sink.out" 2>/dev/null | wc -l
}

many_figures() {
    local fig="$ROOT/docs/figures" scale_d="" scale_g="" n
    mkdir -p "$fig"
    for n in "${SCALE_NS[@]}"; do
        scale_d+="${scale_d:+,}$n:$LOGS/scale-default-$n.out"
        scale_g+="${scale_g:+,}$n:$LOGS/scale-gro-$n.out"
    done
    python3 "$ROOT/scripts/plot.py" scale "$fig/scale.svg" "ACK every 2nd=$scale_d" \
        "GRO receiver=$scale_g"
    python3 "$ROOT/scripts/plot.py" goodput "$fig/goodput.svg" \
        "linerate 1 conn=$LOGS/goodput-linerate-P1.out" "linerate 8 conns=$LOGS/goodput-linerate-P8.out"
    python3 "$ROOT/scripts/plot.py" cdf "$fig/latency.svg" \
        "stack alone=$LOGS/lat-linerate-ackpeer.out:latency.send" \
        "linerate af_packet=$LOGS/lat-linerate.out:latency.send" \
        "kernel write()=$LOGS/lat-kernel.out:send"
}

many_report() {
    local n w d1 g1 dn gn held
    echo "## 5. Many connections (one lcore, $MANY_ST s per run)"
    echo
    echo "net_null with the in-process ACK peer, as in section 1; bulk sends, 4 destination ports."
    echo "Two receivers: the default ACKs every second segment (no GRO); \`--ack-peer-gro\` ACKs"
    echo "once per burst of a connection, as Linux with GRO does. Wall time includes connecting"
    echo "and closing. \`no data\` counts connections that never had a byte acknowledged."
    echo
    echo "Each figure is the median of $SCALE_ROUNDS interleaved rounds (every count and receiver,"
    echo "then again); \`/ 1 conn\` is the median of each round's own ratio. \`no data\` and wall"
    echo "time are the worst round's."
    echo
    echo "| connections | ACK every 2nd: Mpps | ns/segment | / 1 conn | no data | wall s | GRO: Mpps | / 1 conn | no data | wall s |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    local row p
    for n in "${SCALE_NS[@]}"; do
        row="| $n |"
        for p in default gro; do
            row+=" $(fmt "$(median $(scale_vals "$p" "$n" .data_mpps))" 3) |"
            if [ "$p" = default ]; then
                row+=" $(fmt "$(median $(scale_vals "$p" "$n" .ns_per_segment))" 1) |"
            fi
            row+=" $(median $(scale_ratios "$p" "$n")) |"
            row+=" $(most $(scale_vals "$p" "$n" .connections.no_data)) |"
            row+=" $(most $(for r in $(seq "$SCALE_ROUNDS"); do tail -1 "$LOGS/scale-$p-$n$(round_sfx "$r").wall" 2>/dev/null || true; done)) |"
        done
        echo "$row"
    done
    echo
    w=$(median $(scale_ratios default 100000))
    echo "Target: 100 000 connections ≥ 0.67 × 1 connection: ACK every 2nd **$w** [$(spread $(scale_ratios default 100000))] ($(meets "$w" '>=' 0.67)),"
    w=$(median $(scale_ratios gro 100000))
    echo "GRO receiver **$w** [$(spread $(scale_ratios gro 100000))] ($(meets "$w" '>=' 0.67))."
    echo
    echo "- e.g. \`$(cmd_of scale-default-100000)\`"
    echo
    echo "![cost per segment against connections](figures/scale.svg)"
    echo
    held=$(jget "$LOGS/hold-1m.out" .memory.conns_held)
    echo "### A million connections held"
    echo
    echo "| held | established | errors | stack bytes per connection (idle + queues) | idle | process RSS per connection |"
    echo "| --- | --- | --- | --- | --- | --- |"
    echo "| $held | $(jget "$LOGS/hold-1m.out" .connections.established) | $(jget "$LOGS/hold-1m.out" .connections.errors) | $(fmt "$(jget "$LOGS/hold-1m.out" .memory.stack_bytes_per_conn)" 0) | $(fmt "$(jget "$LOGS/hold-1m.out" .memory.idle_bytes_per_conn)" 0) | $(fmt "$(jget "$LOGS/hold-1m.out" .memory.rss_per_conn)" 0) |"
    echo
    echo "- \`$(cmd_of hold-1m)\`"
    echo
    echo "### Connection rate"
    echo
    echo "| path | asked /s | opened /s | completed /s | completed | errors | connect p50 / p99 µs | complete p50 / p99 µs |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    for n in cps-null cps-afp; do
        echo "| $n | $(jget "$LOGS/$n.out" .cps.target_per_s) | $(fmt "$(jget "$LOGS/$n.out" .cps.achieved_per_s)" 0) | $(fmt "$(jget "$LOGS/$n.out" .cps.completed_per_s)" 0) | $(jget "$LOGS/$n.out" .connections.completed) | $(jget "$LOGS/$n.out" .connections.errors) | $(fmt "$(jget "$LOGS/$n.out" .latency.connect.p50_us)" 1) / $(fmt "$(jget "$LOGS/$n.out" .latency.connect.p99_us)" 1) | $(fmt "$(jget "$LOGS/$n.out" .latency.complete.p50_us)" 1) / $(fmt "$(jget "$LOGS/$n.out" .latency.complete.p99_us)" 1) |"
    done
    echo
    n=$(jget "$LOGS/cps-null.out" .cps.achieved_per_s)
    echo "Target ≥ 1 M connections/s per core on net_null: $(fmt "$n" 0)/s ($(meets "$n" '>=' 1000000)). Through"
    echo "af_packet, the sink saw $(cps_exact) connections byte-exact (SHA-256 of the 1 000-byte request,"
    echo "closed with FIN) of $(jget "$LOGS/cps-afp.out" .cps.opened) opened at 2 000/s."
    echo
    echo "- \`$(cmd_of cps-null)\`"
    echo "- \`$(cmd_of cps-afp)\` (against \`linerate sink --json\` on port $CPS_SINK_PORT)"
    echo
    echo "### Request/response (64/64 bytes, one connection, closed loop)"
    echo
    echo "| client | transactions/s | p50 µs | p99 µs | p99.9 µs |"
    echo "| --- | --- | --- | --- | --- |"
    echo "| linerate af_packet | $(fmt "$(jget "$LOGS/rr-linerate.out" .rr.per_s)" 0) | $(fmt "$(jget "$LOGS/rr-linerate.out" .latency.transaction.p50_us)" 1) | $(fmt "$(jget "$LOGS/rr-linerate.out" .latency.transaction.p99_us)" 1) | $(fmt "$(jget "$LOGS/rr-linerate.out" .latency.transaction.p999_us)" 1) |"
    echo "| kernel (lr-kgen) | $(fmt "$(jget "$LOGS/rr-kernel.out" .transactions_per_s)" 0) | $(fmt "$(jget "$LOGS/rr-kernel.out" .transaction.p50_us)" 1) | $(fmt "$(jget "$LOGS/rr-kernel.out" .transaction.p99_us)" 1) | $(fmt "$(jget "$LOGS/rr-kernel.out" .transaction.p999_us)" 1) |"
    echo "| linerate net_null + ACK peer (stack alone) | $(fmt "$(jget "$LOGS/rr-null.out" .rr.per_s)" 0) | $(fmt "$(jget "$LOGS/rr-null.out" .latency.transaction.p50_us)" 2) | $(fmt "$(jget "$LOGS/rr-null.out" .latency.transaction.p99_us)" 2) | $(fmt "$(jget "$LOGS/rr-null.out" .latency.transaction.p999_us)" 2) |"
    echo
    echo "linerate / kernel transactions/s: **$(ratio "$(jget "$LOGS/rr-linerate.out" .rr.per_s)" "$(jget "$LOGS/rr-kernel.out" .transactions_per_s)")** (same sink, \`linerate sink --respond 64 --request 64\`)."
    echo
    echo "- \`$(cmd_of rr-linerate)\`"
    echo "- \`$(cmd_of rr-kernel)\`"
    echo "- \`$(cmd_of rr-null)\`"
    echo
    echo "## Figures"
    echo
    echo "![goodput over time](figures/goodput.svg)"
    echo
    echo "![send latency by percentile](figures/latency.svg)"
    echo
}
