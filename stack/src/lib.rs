//! linerate's per-core TCP/IP stack: the kernel's send path rebuilt on DPDK mbufs.
//!
//! One module per layer, named after the kernel's, calling downward only:
//! `socket` (`tcp_sendmsg`, connect, close) → `stack` (the poll loop and connection table)
//! → `tcp` (`output`: `tcp_write_xmit`, `tcp_transmit_skb`; `input`: `tcp_ack`;
//! `timers`; `sack` and `rack` decide) → `ip` (`ip_queue_xmit`) → `neigh`
//! (`neigh_output`) → `dev` (`dev_queue_xmit`). Pure parts (wire views, routes, the timer
//! wheel, congestion control) are in `linerate-proto`; DPDK and all `unsafe` code are in
//! `linerate-dpdk`. Apps use this through the `linerate` crate. See docs/architecture.md.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod addr;
pub mod control;
mod dev;
mod ehash;
pub mod event;
mod gso;
mod hash;
mod hash_connect;
mod ip;
mod ip_input;
mod neigh;
mod ratelimit;
mod region;
pub mod remote;
mod socket;
mod stack;
mod stats;
pub mod steer;
mod tcp;
mod wait;
mod zc;

#[cfg(feature = "pcap")]
pub mod pcap;
#[cfg(feature = "ack-peer")]
pub mod peer;

pub use dev::{DevStats, TX_BACKLOG};
pub use ip_input::RxDrops;
pub use neigh::{NeighConfig, NeighState, NeighStats, NeighTable, Neighbour};
pub use ratelimit::ReplyLimitStats;
pub use region::RegionId;
pub use socket::{ConnectError, IoError};
pub use stack::{Stack, StackConfig};
pub use stats::{ConnMemory, StackStats};
pub use tcp::timewait::TimeWaitStats;
pub use tcp::{ConnId, State, TcpConfig, TcpConfigError, TcpCounters, TcpError, TcpInfo};
