//! linerate's per-core TCP/IP stack: the kernel's send path rebuilt on DPDK mbufs.
//!
//! One module per layer, named after the kernel's: `socket` (`tcp_sendmsg`), `tcp::output`
//! (`tcp_write_xmit`, `tcp_transmit_skb`), `tcp::input`, `tcp::cc`, `tcp::timer`, `ip`
//! (`ip_queue_xmit`), `route`, `neigh` (`neigh_output`) and `dev` (`dev_queue_xmit`). See
//! docs/architecture.md. `unsafe` is denied everywhere except the `dpdk` module, which wraps
//! `dpdk-sys`.
#![deny(unsafe_code)]

pub mod dev;
pub mod dpdk;
pub mod ip;
pub mod neigh;
pub mod pcap;
pub mod peer;
pub mod route;
pub mod sim;
pub mod socket;
pub mod stack;
pub mod tcp;
pub mod wire;

pub use socket::{ConnectError, IoError};
pub use stack::{Stack, StackConfig, StackStats, TscClock};
pub use tcp::{ConnId, State, TcpConfig, TcpError, TcpInfo};
