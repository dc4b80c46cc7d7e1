//! linerate's safe DPDK layer over `linerate-dpdk-sys`: EAL and its lcores, hugepage
//! mempools, owning mbufs, ethdev ports (with RSS) and queue pairs, the [`Device`] trait a
//! stack runs on with its DPDK implementation, and the TSC clock.
//!
//! This is the one crate in linerate whose code is `unsafe`; every other crate forbids it.
//! Everything it exports is safe to use, and each `unsafe` block states why it holds.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod clock;
mod device;
mod eal;
mod error;
mod flow;
mod lcore;
mod mbuf;
mod mempool;
mod port;
mod prefetch;
mod queue;
mod region;
mod rss;
pub mod spsc;

pub use clock::TscClock;
pub use device::{Device, DpdkDevice};
pub use eal::{tsc_hz, Eal};
pub use error::DpdkError;
pub use flow::{port_blocks, FlowRules};
pub use lcore::LcoreError;
// Not exported: a glob import of this crate must not shadow `std::result::Result`.
pub(crate) use error::Result;
pub use mbuf::{Mbuf, TxOffload};
pub use mempool::Mempool;
pub use port::{
    find_port, port_names, LinkStatus, Offloads, Port, PortConfig, PortStats, MAX_BURST,
};
pub use prefetch::{advise_huge_pages, prefetch};
pub use queue::QueuePair;
pub use region::{TxRegion, ZcRegion, MAX_FRAMES, MAX_TICKETS, MAX_VIEW_LEN};
pub use rss::RssInfo;

/// DPDK's headroom in front of packet data in every mbuf (RTE_PKTMBUF_HEADROOM).
pub const MBUF_HEADROOM: u16 = linerate_dpdk_sys::LR_RTE_PKTMBUF_HEADROOM as u16;
/// Default data room: 2048 bytes of data plus the headroom.
pub const MBUF_DEFAULT_DATAROOM: u16 = linerate_dpdk_sys::LR_RTE_MBUF_DEFAULT_BUF_SIZE as u16;

/// The calling thread's DPDK lcore id, or `None` for a thread EAL does not know.
pub fn lcore_id() -> Option<u32> {
    // SAFETY: reads a thread-local through the shim; no preconditions.
    let id = unsafe { linerate_dpdk_sys::lr_lcore_id() };
    (id != u32::MAX).then_some(id)
}

/// The TSC counter (cycles). Cheap: one `rdtsc`, inline (DPDK's `rte_rdtsc` is the same
/// instruction; the shim's call cost as much as the read).
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc exists on every x86_64 CPU and has no preconditions.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The TSC counter (cycles), through DPDK's `rte_rdtsc`.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no preconditions.
    unsafe { linerate_dpdk_sys::lr_rdtsc() }
}

/// `rte_errno` of the calling thread.
fn errno() -> i32 {
    // SAFETY: reads a thread-local through the shim; no preconditions.
    unsafe { linerate_dpdk_sys::lr_errno() }
}

/// DPDK's text for an errno value.
fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated string.
    unsafe {
        let p = linerate_dpdk_sys::rte_strerror(errno);
        if p.is_null() {
            return format!("errno {errno}");
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}
