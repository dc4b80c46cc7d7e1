//! Shared set-up for the DPDK integration tests: one EAL per test process (the EAL helpers
//! are `linerate_sim::eal`, shared with the benchmarks).
#![allow(dead_code)]

pub mod app;
pub mod e2e;
pub mod flow;
pub mod frames;

#[allow(unused_imports)]
pub use linerate_sim::eal::{eal, eal_args, hugepages, pool};

/// Example `name`, as scripts/test.sh builds it (`cargo build --examples --features
/// ack-peer`), next to the `linerate` binary.
pub fn example_bin(name: &str) -> std::path::PathBuf {
    let dir = e2e::linerate_bin();
    let bin = dir
        .parent()
        .expect("target dir")
        .join("examples")
        .join(name);
    assert!(
        bin.exists(),
        "{} missing: cargo build --examples --features ack-peer",
        bin.display()
    );
    bin
}

/// EAL arguments for one lcore on net_null (in hugepages when there are some).
pub fn null_eal() -> String {
    let mem = if hugepages() > 0 {
        "--in-memory"
    } else {
        "--no-huge --no-shconf -m 512"
    };
    format!("-l 0 --no-pci --no-telemetry {mem} --vdev=net_null0")
}

/// A lossy, reordering data direction (2 ms delay, reordered frames 3 ms late), for the
/// simulations that check recovery.
pub fn lossy(loss: f64, reorder: f64) -> linerate_sim::SimConfig {
    linerate_sim::SimConfig {
        delay: 2 * linerate::MS,
        loss,
        reorder,
        reorder_delay: 3 * linerate::MS,
        ..Default::default()
    }
}
