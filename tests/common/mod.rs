//! Shared set-up for the DPDK integration tests: one EAL per test process.
#![allow(dead_code)]

pub mod e2e;
pub mod sackpeer;
pub mod sim;

use linerate::dpdk::{Eal, Mempool};
use std::sync::Arc;

/// EAL arguments for tests: no PCI, no shared config (tests run side by side), hugepages
/// when reserved, else `--no-huge` (and say so).
pub fn eal_args(vdevs: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "--no-pci",
        "--no-telemetry",
        "-l",
        "0",
        "--log-level=*:error",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if hugepages() > 0 {
        a.push("--in-memory".into());
    } else {
        eprintln!(
            "note: no hugepages reserved; running DPDK with --no-huge (run scripts/setup.sh)"
        );
        a.extend([
            "--no-huge".into(),
            "--no-shconf".into(),
            "-m".into(),
            "512".into(),
        ]);
    }
    for v in vdevs {
        a.push(format!("--vdev={v}"));
    }
    a
}

pub fn hugepages() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("HugePages_Free:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub fn eal(vdevs: &[&str]) -> Eal {
    Eal::global(&eal_args(vdevs)).unwrap_or_else(|e| panic!("{e}"))
}

pub fn pool(eal: &Eal, name: &str, n: u32) -> Arc<Mempool> {
    Arc::new(
        Mempool::new(eal, name, n, 0, linerate::dpdk::MBUF_DEFAULT_DATAROOM, None)
            .unwrap_or_else(|e| panic!("{e}")),
    )
}
