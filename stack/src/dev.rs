//! `dev_queue_xmit`: batches frames for the NIC's TX queue and takes frames from its RX queue.
//!
//! The stack is generic over [`Device`] (static dispatch): a DPDK queue pair in production,
//! the simulated wire of `linerate-sim` in tests. Frames the NIC does not accept stay queued, in
//! order, and go first on the next flush; they are never dropped silently. When the backlog
//! reaches its bound the layers above see `has_room() == false` and hold their data (it stays
//! on the write queue): backpressure, not loss.
use linerate_dpdk::{Device, Mbuf, Offloads, MAX_BURST};

/// Device-level counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DevStats {
    /// Frames the device took.
    pub tx_frames: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// tx_burst calls that left frames behind (the NIC ring was full).
    pub tx_partial: u64,
    /// Frames received.
    pub rx_frames: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// TSO units cut into frames in software (`gso`).
    pub gso_units: u64,
    /// Frames of those units.
    pub gso_frames: u64,
    /// TSO frames handed to the NIC to cut.
    pub tso_frames: u64,
}

impl DevStats {
    /// Adds `o` field by field (totals over several stacks).
    pub fn add(&mut self, o: &DevStats) {
        // Destructured, so that a new field cannot be left out of the sum.
        let DevStats {
            tx_frames,
            tx_bytes,
            tx_partial,
            rx_frames,
            rx_bytes,
            gso_units,
            gso_frames,
            tso_frames,
        } = *o;
        self.tx_frames += tx_frames;
        self.tx_bytes += tx_bytes;
        self.tx_partial += tx_partial;
        self.rx_frames += rx_frames;
        self.rx_bytes += rx_bytes;
        self.gso_units += gso_units;
        self.gso_frames += gso_frames;
        self.tso_frames += tso_frames;
    }
}

/// Acknowledged mbufs collected before they are freed in bulk.
const FREE_BATCH: usize = 256;

/// Most frames waiting for the NIC; beyond this, senders hold back.
pub const TX_BACKLOG: usize = 4096;

/// The TX batcher over a device.
pub(crate) struct Dev<D: Device> {
    dev: D,
    txq: Vec<Mbuf>,
    /// Acknowledged mbufs waiting to go back to the pool in one bulk free.
    freed: Vec<Mbuf>,
    pub(crate) stats: DevStats,
}

impl<D: Device> Dev<D> {
    pub(crate) fn new(dev: D) -> Self {
        Dev {
            dev,
            txq: Vec::with_capacity(TX_BACKLOG),
            freed: Vec::with_capacity(FREE_BATCH),
            stats: DevStats::default(),
        }
    }

    /// True while another frame may be queued.
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        self.txq.len() < TX_BACKLOG
    }

    /// Queues one frame; sends a burst once `MAX_BURST` are waiting. Returns the frame back
    /// when the backlog is full (callers check `has_room` first, so this is a bug guard).
    #[inline]
    pub(crate) fn xmit(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if !self.has_room() {
            return Err(m);
        }
        self.txq.push(m);
        if self.txq.len() >= MAX_BURST && self.txq.len() % MAX_BURST == 0 {
            self.flush();
        }
        Ok(())
    }

    /// Hands everything queued to the device, in bursts of up to `MAX_BURST`, until the
    /// device stops taking frames. What it did not take waits for the next flush.
    pub(crate) fn flush(&mut self) {
        // Devices take at most a burst per call from the front of the vector (a DPDK queue
        // pair caps it at MAX_BURST), so no split and no allocation here.
        while !self.txq.is_empty() {
            let before = self.txq.len();
            // Bytes of the frames a burst can take (the device takes at most MAX_BURST from
            // the front); those it leaves are still at the front afterwards.
            let k = before.min(MAX_BURST);
            let offered: usize = self.txq[..k].iter().map(|m| m.pkt_len()).sum();
            let n = self.dev.tx_burst(&mut self.txq);
            let left: usize = self.txq[..k.saturating_sub(n)]
                .iter()
                .map(|m| m.pkt_len())
                .sum();
            self.stats.tx_frames += n as u64;
            self.stats.tx_bytes += (offered - left) as u64;
            if n == 0 || (n < MAX_BURST && n < before) {
                self.stats.tx_partial += 1;
                break;
            }
        }
    }

    /// Gives `m` back to its pool, with others in one bulk free (`release` ends the batch).
    #[inline]
    pub(crate) fn free_later(&mut self, m: Mbuf) {
        self.freed.push(m);
        if self.freed.len() >= FREE_BATCH {
            Mbuf::free_bulk(&mut self.freed);
        }
    }

    /// The device, the frames still queued for it freed.
    pub(crate) fn into_inner(self) -> D {
        self.dev
    }

    /// Frees what `free_later` collected.
    pub(crate) fn release(&mut self) {
        Mbuf::free_bulk(&mut self.freed);
    }

    /// Lets the device free the mbufs of frames it has sent (`Device::tx_done_cleanup`).
    pub(crate) fn tx_done_cleanup(&mut self) {
        self.dev.tx_done_cleanup();
    }

    /// Frames waiting for the NIC.
    pub(crate) fn backlog(&self) -> usize {
        self.txq.len()
    }

    #[inline]
    pub(crate) fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        let before = out.len();
        let n = self.dev.rx_burst(out);
        self.stats.rx_frames += n as u64;
        self.stats.rx_bytes += out[before..]
            .iter()
            .map(|m| m.pkt_len() as u64)
            .sum::<u64>();
        n
    }

    pub(crate) fn offloads(&self) -> Offloads {
        self.dev.offloads()
    }

    pub(crate) fn device(&self) -> &D {
        &self.dev
    }

    pub(crate) fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }
}
