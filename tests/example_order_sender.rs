//! examples/order_sender.rs, as built by scripts/test.sh (`cargo build --examples --features
//! ack-peer`), run on net_null against its in-process ACK peer: every message must be sent
//! and acknowledged, and its latency line must read in order (p50 ≤ p99 ≤ p99.9 ≤ max).
mod common;

use std::process::Command;

/// The nanosecond figure after `label` in `line`.
fn ns_after(line: &str, label: &str) -> u64 {
    let rest = &line[line
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {line}"))
        + label.len()..];
    rest.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a number after {label} in {line}"))
}

#[test]
#[ignore = "needs the example built with --features ack-peer: run scripts/test.sh"]
fn order_sender_sends_and_times_every_message() {
    let bin = common::example_bin("order_sender");
    let eal = common::null_eal();
    let out = Command::new(&bin)
        .args([eal.as_str(), "20000", "200000"])
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    let line = stdout.lines().last().unwrap_or("");
    assert!(
        line.contains("20000 messages of 64 bytes at 200000/s"),
        "{line}"
    );
    assert!(line.contains("1280000 of 1280000 bytes acked"), "{line}");
    let p = [
        ns_after(line, "p50 "),
        ns_after(line, "p99 "),
        ns_after(line, "p99.9 "),
        ns_after(line, "max "),
    ];
    assert!(
        p.windows(2).all(|w| w[0] <= w[1]) && p[0] > 0,
        "{p:?}: {line}"
    );
}
