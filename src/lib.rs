//! linerate: a user-space TCP sender on DPDK, for load generators, benchmark harnesses and
//! latency-sensitive apps that want TCP out of a NIC from polling cores.
//!
//! Build one [`Stack`] per lcore on a DPDK queue pair ([`DpdkDevice`]), `connect`, and call
//! [`Stack::send`] and [`Stack::poll`] from that core's loop: `poll` runs RX, timers and
//! TX in one pass, with no syscalls, locks or allocation on the data path. A full send
//! buffer returns [`IoError::WouldBlock`] (backpressure, never a drop).
//!
//! ```no_run
//! use linerate::dpdk::{Eal, Mempool, Port, PortConfig, MBUF_DEFAULT_DATAROOM};
//! use linerate::{DpdkDevice, Stack, StackConfig, TscClock};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let eal = Eal::init(&["-l", "0", "--vdev=net_null0"])?;
//!     let pool = std::sync::Arc::new(Mempool::new(&eal, "pool", 8191, 256, MBUF_DEFAULT_DATAROOM, None)?);
//!     let port = Port::open(&eal, "0", &PortConfig::default(), pool.clone())?;
//!     let clock = TscClock::new();
//!     let cfg = StackConfig::new("198.18.0.1/24".parse()?);
//!     let mut stack = Stack::new(DpdkDevice::new(port.queue(0)?)?, pool, cfg, clock.now());
//!     let conn = stack.connect("198.18.0.2:5201".parse()?, None)?;
//!     stack.poll(clock.now());
//!     let _ = stack.send(conn, b"hello");
//!     Ok(())
//! }
//! ```
//!
//! The crates underneath: `linerate-stack` (the TCP/IP layers), `linerate-dpdk` (the one
//! crate with `unsafe`: EAL, mempools, mbufs, ports) and `linerate-proto` (wire formats,
//! routes, timers, congestion control; pure). This crate is their public face: each type
//! has one path here. See docs/architecture.md.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use linerate_dpdk::{Device, DpdkDevice, TscClock};
pub use linerate_proto::cc::Cc;
pub use linerate_proto::route::{Route, RouteTable};
pub use linerate_proto::timer::{Nanos, MS, SEC};
pub use linerate_proto::wire::ethernet::MacAddr;
pub use linerate_proto::wire::ipv4::Ipv4Cidr;
pub use linerate_stack::{
    ConnId, ConnMemory, ConnectError, DevStats, IoError, NeighConfig, NeighState, NeighStats,
    NeighTable, Neighbour, RegionId, RxDrops, Stack, StackConfig, StackStats, State, TcpConfig,
    TcpConfigError, TcpCounters, TcpError, TcpInfo, TX_BACKLOG,
};

/// Readiness events from [`Stack::events`]: which connections changed, and how.
pub mod event {
    pub use linerate_stack::event::{
        Event, ACKED, CLOSED, CONNECTED, ERROR, FREED, READABLE, STATE, WRITABLE, ZC_DONE,
    };
}

/// The cross-thread handle: app threads submit connects, sends, shutdowns and closes to a
/// stack's lcore and take its replies and events through two bounded lock-free queues.
pub mod remote {
    pub use linerate_stack::remote::{
        remote, remotes, Message, RemoteHandle, RemotePort, Reply, Request,
    };
}

/// DPDK through its safe wrapper: EAL, hugepage mempools, mbufs, ports and queue pairs.
pub mod dpdk {
    pub use linerate_dpdk::{
        find_port, lcore_id, port_names, rdtsc, tsc_hz, DpdkError, Eal, LcoreError, LinkStatus,
        Mbuf, Mempool, Offloads, Port, PortConfig, PortStats, QueuePair, RssInfo, TxOffload,
        TxRegion, ZcRegion, MAX_BURST, MAX_TICKETS, MAX_VIEW_LEN, MBUF_DEFAULT_DATAROOM,
        MBUF_HEADROOM,
    };
}

/// Several per-core stacks on one port: each worker's slice of the ephemeral ports, RSS
/// steering of source ports (Toeplitz, RETA), the lockless mesh that redirects a frame to its
/// owner when it lands on another worker's queue, and route changes sent to every worker.
pub mod steer {
    pub use linerate_proto::rss::{ipv4_tcp_input, PortPicker, Reta, Toeplitz, RSS_KEY_MS};
    pub use linerate_stack::control::{control, Control, ControlPort, Missed, RouteChange};
    pub use linerate_stack::steer::{mesh, MeshPort, PortSplit, RssSteering, SteerStats, Steered};
}

/// The in-process ACK peer: a [`Device`] wrapper that answers like a TCP receiver, so the
/// stack's own per-segment cost can be measured on `net_null` (feature `ack-peer`).
#[cfg(feature = "ack-peer")]
pub mod peer {
    pub use linerate_stack::peer::{AckPeer, PeerStats};
}

/// A capture tap: a [`Device`] wrapper that writes every frame to a pcap file (feature
/// `pcap`).
#[cfg(feature = "pcap")]
pub mod pcap {
    pub use linerate_stack::pcap::{PcapDevice, PcapWriter};
}

/// README's examples compile (`cargo test --doc`).
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

// A stack is built on its lcore's thread or moved there: it must be `Send`.
const _: fn() = || {
    fn assert_send<T: Send>() {}
    assert_send::<Stack<DpdkDevice>>();
};
