# shellcheck shell=bash
# Section 4b of scripts/bench.sh (sourced by it): fixed-size transfers under loss. 8
# connections of 8 MiB each, linerate (lr-gen) against the kernel (`linerate ksend -P 8 -n
# 8MiB` from lr-kgen), both with CUBIC, through the same impairment stage (both directions,
# seeded) to the same `linerate sink`. Both count a connection done when all its bytes are
# acknowledged; the run's time is the last connection's. Every loss and every lost
# retransmission is paid in full here, where a timed run would hide the tail. Each case runs
# RECOVERY_REPS rounds of linerate, then the kernel, in turn; the ratio is the median of the
# round-by-round ratios. The kernel with BBR (this machine's default) runs once a round as
# information: a different congestion control, which linerate does not have.
# Uses bench.sh's measure, median, spread, fmt, meets, ratio, jget, cmd_of and its variables.

RECOVERY_CASES=("loss=1%" "loss=5%" "loss=10%" "loss=5% reorder=25% delay=1ms" "loss=5% dup=1%"
                "loss=5% corrupt=0.1%" "loss=5% delay=1ms jitter=500us")
RECOVERY_REPS=3
# The kernel's CUBIC needs minutes for some cases (about 100-200 s at 10 % loss); a kernel
# run is cut at this limit and marked so, which only makes its ratio look worse for linerate.
RECOVERY_LIMIT=60

recovery_measure() {
    local i=0 spec full r
    for spec in "${RECOVERY_CASES[@]}"; do
        i=$((i + 1))
        full="$spec seed=$((60 + i))"
        scripts/topology.sh impair "$full" >/dev/null
        for r in $(seq "$RECOVERY_REPS"); do
            measure "fixed-$i-$r-linerate" timeout 600 ip netns exec lr-gen "$BIN" send \
                --dpdk "$AFP_EAL" --ip 198.18.0.1/24 --gw 198.18.0.254 \
                --dst "198.19.0.2:$LR_PORT" -P 8 -n 8MiB --cc cubic --json --quiet
            measure "fixed-$i-$r-kernel" ip netns exec lr-kgen "$BIN" ksend \
                --connect "198.19.0.2:$LR_PORT" -P 8 -n 8MiB --cc cubic -t "${RECOVERY_LIMIT}s" --json
            measure "fixed-$i-$r-bbr" ip netns exec lr-kgen "$BIN" ksend \
                --connect "198.19.0.2:$LR_PORT" -P 8 -n 8MiB --cc bbr -t "${RECOVERY_LIMIT}s" --json
            for side in linerate kernel bbr; do
                sed -i "1s#^#scripts/topology.sh impair '$full' \&\& #" "$LOGS/fixed-$i-$r-$side.cmd"
            done
        done
        scripts/topology.sh clear >/dev/null
    done
}

# How many of case $1's kernel runs ($2 = kernel | bbr) were cut at the limit: " (N cut)", or
# nothing.
recovery_cut() {
    local r n=0
    for r in $(seq "$RECOVERY_REPS"); do
        [ "$(jget "$LOGS/fixed-$1-$r-$2.out" 'if .completed == .connections then "done" else "cut" end')" = cut ] && n=$((n + 1))
    done
    [ "$n" = 0 ] || echo " ($n cut at $RECOVERY_LIMIT s)"
}

# Case $1's round-by-round ratios, linerate time / kernel time.
recovery_ratios() {
    local r
    for r in $(seq "$RECOVERY_REPS"); do
        ratio "$(jget "$LOGS/fixed-$1-$r-linerate.out" .duration_s)" \
            "$(jget "$LOGS/fixed-$1-$r-kernel.out" .completion_s)"
    done
}

# Median over the rounds of field $3 of case $1's side $2.
recovery_med() {
    local r
    # shellcheck disable=SC2046
    median $(for r in $(seq "$RECOVERY_REPS"); do jget "$LOGS/fixed-$1-$r-$2.out" "$3"; done)
}

# The cases whose median ratio is within 1.1 (linerate's time ≤ 1.1 × the kernel's).
recovery_met() {
    local i met=0
    for i in $(seq ${#RECOVERY_CASES[@]}); do
        # shellcheck disable=SC2046
        [ "$(meets "$(median $(recovery_ratios "$i"))" '<=' 1.1)" = "**yes**" ] && met=$((met + 1))
    done
    echo "$met"
}

recovery_targets() {
    local met
    met=$(recovery_met)
    echo "| fixed-size transfers under loss (8 × 8 MiB, CUBIC): median time ≤ 1.1 × the kernel's in every case | $met of ${#RECOVERY_CASES[@]} cases | $( [ "$met" = ${#RECOVERY_CASES[@]} ] && echo '**yes**' || echo no) |"
}

recovery_report() {
    local i=0 spec rr sp
    echo "## 4b. Fixed-size transfers under loss (8 × 8 MiB, CUBIC, $RECOVERY_REPS rounds)"
    echo
    echo "8 connections, each sending 8 MiB, through the router's impairment stage (both"
    echo "directions, seeded) to \`linerate sink\` in lr-sink: linerate from lr-gen, the kernel from"
    echo "lr-kgen (\`linerate ksend -P 8 -n 8MiB --cc cubic\`, TSO/GSO as the namespace has them)."
    echo "Both count a connection done when all its bytes are acknowledged (the kernel's from"
    echo "\`/proc/net/tcp\`, polled every ms); the time is the last connection's. Retransmission"
    echo "timeouts: linerate's \`retransmits.rto\`, the kernel's \`TCPTimeouts\` in lr-kgen over the"
    echo "run. Times are medians in seconds; the ratio is the median of the round-by-round ratios"
    echo "(range in brackets), linerate / kernel, so lower is better. Kernel runs stop after"
    echo "$RECOVERY_LIMIT s (marked \"cut\"; its time is then the limit), which can only raise linerate's"
    echo "ratio."
    echo
    echo "The kernel's default congestion control on this machine is BBR, which does not reduce its"
    echo "rate on random loss. Its column is information: another congestion control, not loss"
    echo "recovery, and linerate has no BBR."
    echo
    echo "| case | linerate s | RTOs | kernel CUBIC s | RTOs | ratio | ≤ 1.1 × | kernel BBR s | RTOs |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for spec in "${RECOVERY_CASES[@]}"; do
        i=$((i + 1))
        # shellcheck disable=SC2046
        {
            rr=$(median $(recovery_ratios "$i"))
            sp=$(spread $(recovery_ratios "$i"))
        }
        echo "| $spec | $(fmt "$(recovery_med "$i" linerate .duration_s)" 2) | $(fmt "$(recovery_med "$i" linerate .retransmits.rto)" 0) | $(fmt "$(recovery_med "$i" kernel .completion_s)" 2)$(recovery_cut "$i" kernel) | $(fmt "$(recovery_med "$i" kernel .kernel.rtos)" 0) | **$(fmt "$rr" 3)** [$sp] | $(meets "$rr" '<=' 1.1) | $(fmt "$(recovery_med "$i" bbr .completion_s)" 2)$(recovery_cut "$i" bbr) | $(fmt "$(recovery_med "$i" bbr .kernel.rtos)" 0) |"
    done
    echo
    echo "- linerate, e.g.: \`$(cmd_of fixed-2-1-linerate)\`"
    echo "- kernel, e.g.: \`$(cmd_of fixed-2-1-kernel)\`"
    echo "- kernel BBR, e.g.: \`$(cmd_of fixed-2-1-bbr)\`"
    echo
}

# bench.sh --self-test's fixtures for this section (LOGS is the self-test's directory; `check`
# is its comparison). Two rounds of one case: the kernel's second run was cut at the limit.
recovery_self_test() {
    local RECOVERY_REPS=2 RECOVERY_CASES=("loss=5%") RECOVERY_LIMIT=60
    echo '{"duration_s":2.0,"retransmits":{"rto":3}}' >"$LOGS/fixed-1-1-linerate.out"
    echo '{"duration_s":3.0,"retransmits":{"rto":5}}' >"$LOGS/fixed-1-2-linerate.out"
    echo '{"completion_s":4.0,"completed":8,"connections":8,"kernel":{"rtos":10}}' >"$LOGS/fixed-1-1-kernel.out"
    echo '{"completion_s":60.0,"completed":5,"connections":8,"kernel":{"rtos":30}}' >"$LOGS/fixed-1-2-kernel.out"
    check "recovery ratios" "$(recovery_ratios 1 | tr '\n' ' ')" "0.500 0.050 "
    check "recovery median RTOs" "$(recovery_med 1 kernel .kernel.rtos)" 20.000
    check "recovery cut" "$(recovery_cut 1 kernel)" " (1 cut at 60 s)"
    check "recovery not cut" "$(recovery_cut 1 linerate)" ""
    check "recovery met" "$(recovery_met)" 1
    echo '{"duration_s":9.0,"retransmits":{"rto":3}}' >"$LOGS/fixed-1-1-linerate.out"
    check "recovery not met" "$(recovery_met)" 0
}
