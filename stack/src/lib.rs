//! linerate's per-core TCP/IP stack.
//!
//! One module per layer of the kernel's send path; see docs/architecture.md.
//! `unsafe` is denied everywhere except the `dpdk` module, which wraps `dpdk-sys`.
#![deny(unsafe_code)]

pub mod dpdk;
pub mod wire;
