//! linerate's pure protocol parts: everything the TCP/IP stack decides or parses that needs
//! no DPDK, no packet buffers and no clock of its own.
//!
//! - [`wire`]: zero-copy views over Ethernet, ARP, IPv4 and TCP bytes, and the checksum.
//! - [`seq`]: TCP sequence-space arithmetic modulo 2^32.
//! - [`route`]: the FIB, a longest-prefix match over connected subnets and gateways.
//! - [`timer`]: the per-core hashed timer wheel and the RFC 6298 RTO estimator.
//! - [`cc`]: congestion control (Reno, CUBIC, HyStart++).
//! - [`pacing`]: the pacing rate and the token bucket.
//! - [`rss`]: the Toeplitz hash, the RETA, and picking source ports whose inbound frames
//!   RSS puts on a given queue.
//!
//! It builds and tests with plain `cargo test`, on any machine: no libdpdk, no root.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cc;
pub mod pacing;
pub mod route;
pub mod rss;
pub mod seq;
pub mod timer;
pub mod wire;
