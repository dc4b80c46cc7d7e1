//! The safe wrapper over `dpdk-sys`: EAL, hugepage mempools, owning mbufs and ethdev ports.
//!
//! This is the only module outside `dpdk-sys` that contains `unsafe`. Everything it exports
//! is safe to use; each `unsafe` block states why it holds.
#![allow(unsafe_code)]

mod eal;
mod error;
mod mbuf;
mod mempool;
mod port;

pub use eal::{tsc_hz, Eal};
pub use error::{DpdkError, Result};
pub use mbuf::{Mbuf, TxOffload};
pub use mempool::Mempool;
pub use port::{
    find_port, port_names, LinkStatus, Offloads, Port, PortConfig, PortStats, QueuePair, MAX_BURST,
};

/// DPDK's headroom in front of packet data in every mbuf (RTE_PKTMBUF_HEADROOM).
pub const MBUF_HEADROOM: u16 = dpdk_sys::LR_RTE_PKTMBUF_HEADROOM as u16;
/// Default data room: 2048 bytes of data plus the headroom.
pub const MBUF_DEFAULT_DATAROOM: u16 = dpdk_sys::LR_RTE_MBUF_DEFAULT_BUF_SIZE as u16;

/// The calling thread's DPDK lcore id, or `None` for a thread EAL does not know.
pub fn lcore_id() -> Option<u32> {
    // SAFETY: reads a thread-local through the shim; no preconditions.
    let id = unsafe { dpdk_sys::lr_lcore_id() };
    (id != u32::MAX).then_some(id)
}

/// The TSC counter (cycles). Cheap: one `rdtsc`.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no preconditions.
    unsafe { dpdk_sys::lr_rdtsc() }
}

/// `rte_errno` of the calling thread.
fn errno() -> i32 {
    // SAFETY: reads a thread-local through the shim; no preconditions.
    unsafe { dpdk_sys::lr_errno() }
}

/// DPDK's text for an errno value.
fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated string.
    unsafe {
        let p = dpdk_sys::rte_strerror(errno);
        if p.is_null() {
            return format!("errno {errno}");
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}
