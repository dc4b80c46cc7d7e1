//! Shared set-up for the DPDK integration tests: one EAL per test process (the EAL helpers
//! are `linerate_sim::eal`, shared with the benchmarks).
#![allow(dead_code)]

pub mod app;
pub mod e2e;
pub mod flow;

#[allow(unused_imports)]
pub use linerate_sim::eal::{eal, eal_args, hugepages, pool};
