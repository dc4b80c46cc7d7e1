//! examples/storage_writer.rs, as built by scripts/test.sh (`cargo build --examples --features
//! ack-peer`), run on net_null against its in-process ACK peer: every byte written through
//! the zero-copy ring must come back by completion, block by block, and the summary line
//! must read in order (p50 ≤ p99).
mod common;

use std::process::Command;

const TOTAL: u64 = 64 << 20;
const BLOCK: u64 = 256 << 10;

/// The value of `key=` in `line`.
fn field<T: std::str::FromStr>(line: &str, key: &str) -> T {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a number for {key}= in {line}"))
}

#[test]
#[ignore = "needs the example built with --features ack-peer: run scripts/test.sh"]
fn storage_writer_gets_every_block_back() {
    let bin = common::example_bin("storage_writer");
    let eal = common::null_eal();
    let (total, block) = (TOTAL.to_string(), BLOCK.to_string());
    let out = Command::new(&bin)
        .args(["--eal", &eal, "--bytes", &total, "--block", &block])
        .args(["--blocks", "8", "--conns", "2"])
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    let line = stdout.lines().last().unwrap_or("");
    assert!(line.starts_with("storage_writer: "), "{line}");
    assert_eq!(field::<u64>(line, "bytes"), TOTAL, "{line}");
    assert_eq!(field::<u64>(line, "blocks"), TOTAL / BLOCK, "{line}");
    let completions: u64 = field(line, "completions");
    // A block leaves in several sends (as send space allows), each a completion or merged.
    assert!(completions > 0, "{line}");
    let (gbit, p50, p99): (f64, f64, f64) = (
        field(line, "gbit_s"),
        field(line, "p50_complete_us"),
        field(line, "p99_complete_us"),
    );
    assert!(gbit > 0.0 && p50 > 0.0 && p50 <= p99, "{line}");
}
