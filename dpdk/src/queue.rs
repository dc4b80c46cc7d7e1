//! A queue pair of a port: the one owner of its RX and TX queue, handed out by
//! [`Port::queue`].
use super::{Mbuf, Port, MAX_BURST};
use std::sync::atomic::Ordering;

/// The owner of one RX/TX queue pair of a port. Send (moves to its lcore); the burst calls
/// take `&mut self`, so only one thread at a time uses the queue.
pub struct QueuePair {
    pub(crate) port: Port,
    pub(crate) queue: u16,
}

impl QueuePair {
    /// The port the queue pair belongs to.
    pub fn port(&self) -> &Port {
        &self.port
    }

    /// The queue index (the same for the RX and the TX queue).
    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// Receives up to `MAX_BURST` frames, appended to `out`. Returns how many.
    #[inline]
    pub fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        out.reserve(MAX_BURST);
        let len = out.len();
        // SAFETY: `out` has room for MAX_BURST more `Mbuf`s, which are repr(transparent) over
        // `*mut rte_mbuf`; DPDK writes `n` owned mbuf pointers there.
        unsafe {
            let dst = out.as_mut_ptr().add(len) as *mut *mut linerate_dpdk_sys::rte_mbuf;
            let n = linerate_dpdk_sys::lr_eth_rx_burst(
                self.port.inner.id,
                self.queue,
                dst,
                MAX_BURST as u16,
            ) as usize;
            out.set_len(len + n);
            n
        }
    }

    /// Hands up to `MAX_BURST` frames from the front of `pkts` to the NIC. The ones it took are removed from the front of
    /// `pkts`; the rest stay, in order, for the caller to retry. Returns how many were taken.
    #[inline]
    pub fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let len = pkts.len();
        if len == 0 {
            return 0;
        }
        // One burst per call keeps a stuck NIC's calls bounded; the caller loops.
        let n = len.min(MAX_BURST) as u16;
        // SAFETY: the first `n` elements are owned `Mbuf`s (repr(transparent) pointers). DPDK
        // takes ownership of the first `sent`; we then shift the rest down without dropping
        // the taken ones, so each mbuf keeps exactly one owner.
        unsafe {
            let base = pkts.as_mut_ptr();
            let sent = linerate_dpdk_sys::lr_eth_tx_burst(
                self.port.inner.id,
                self.queue,
                base as *mut *mut linerate_dpdk_sys::rte_mbuf,
                n,
            ) as usize;
            std::ptr::copy(base.add(sent), base, len - sent);
            pkts.set_len(len - sent);
            sent
        }
    }

    /// Asks the driver to free the mbufs of frames it has finished sending now, not when its
    /// ring next passes the free threshold (`rte_eth_tx_done_cleanup`); a driver without it
    /// frees them later anyway. Returns how many it freed, or a negative errno.
    pub fn tx_done_cleanup(&mut self) -> i32 {
        // SAFETY: the port and queue exist while this queue pair does; 0 means "all".
        unsafe { linerate_dpdk_sys::rte_eth_tx_done_cleanup(self.port.inner.id, self.queue, 0) }
    }
}

impl Drop for QueuePair {
    fn drop(&mut self) {
        self.port
            .inner
            .claimed
            .fetch_and(!(1u64 << self.queue), Ordering::AcqRel);
    }
}

// SAFETY: the burst calls take `&mut self`, so the queue is used by one thread at a time; DPDK
// allows a queue to move between threads as long as calls are not concurrent.
unsafe impl Send for QueuePair {}
