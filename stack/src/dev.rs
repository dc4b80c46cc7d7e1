//! `dev_queue_xmit`: batches frames for the NIC's TX queue and takes frames from its RX queue.
//!
//! The stack is generic over [`Device`] (static dispatch): a DPDK queue pair in production,
//! the in-memory wire of `sim` in simulation. Frames the NIC does not accept stay queued, in
//! order, and go first on the next flush; they are never dropped silently. When the backlog
//! reaches its bound the layers above see `has_room() == false` and hold their data (it stays
//! on the write queue): backpressure, not loss.
use crate::dpdk::{Mbuf, Offloads, QueuePair, MAX_BURST};
use crate::wire::ethernet::MacAddr;

/// What the stack needs from a NIC queue (or a simulated one).
pub trait Device {
    /// Appends received frames to `out`; returns how many.
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize;
    /// Hands frames to the device, taking them from the front of `pkts`; returns how many it
    /// took. The rest stay in `pkts`.
    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize;
    fn mac(&self) -> MacAddr;
    fn offloads(&self) -> Offloads;
}

/// A DPDK ethdev queue pair as a `Device`.
pub struct DpdkDevice {
    q: QueuePair,
    mac: MacAddr,
    offloads: Offloads,
}

impl DpdkDevice {
    pub fn new(q: QueuePair) -> crate::dpdk::Result<Self> {
        let mac = q.port().mac()?;
        let offloads = q.port().offloads();
        Ok(DpdkDevice { q, mac, offloads })
    }

    pub fn queue(&self) -> &QueuePair {
        &self.q
    }
}

impl Device for DpdkDevice {
    #[inline]
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        self.q.rx_burst(out)
    }
    #[inline]
    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        self.q.tx_burst(pkts)
    }
    fn mac(&self) -> MacAddr {
        self.mac
    }
    fn offloads(&self) -> Offloads {
        self.offloads
    }
}

/// Device-level counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DevStats {
    pub tx_frames: u64,
    pub tx_bytes: u64,
    /// tx_burst calls that left frames behind (the NIC ring was full).
    pub tx_partial: u64,
    pub rx_frames: u64,
    pub rx_bytes: u64,
}

/// Most frames waiting for the NIC; beyond this, senders hold back.
pub const TX_BACKLOG: usize = 4096;

/// The TX batcher over a device.
pub struct Dev<D: Device> {
    pub(crate) dev: D,
    txq: Vec<Mbuf>,
    pub stats: DevStats,
}

impl<D: Device> Dev<D> {
    pub fn new(dev: D) -> Self {
        Dev {
            dev,
            txq: Vec::with_capacity(TX_BACKLOG),
            stats: DevStats::default(),
        }
    }

    /// True while another frame may be queued.
    #[inline]
    pub fn has_room(&self) -> bool {
        self.txq.len() < TX_BACKLOG
    }

    /// Queues one frame; sends a burst once `MAX_BURST` are waiting. Returns the frame back
    /// when the backlog is full (callers check `has_room` first, so this is a bug guard).
    #[inline]
    pub fn xmit(&mut self, m: Mbuf) -> Result<(), Mbuf> {
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
    pub fn flush(&mut self) {
        // Devices take at most a burst per call from the front of the vector (a DPDK queue
        // pair caps it at MAX_BURST), so no split and no allocation here.
        while !self.txq.is_empty() {
            let before = self.txq.len();
            let bytes_before: usize = self.txq.iter().map(|m| m.len()).sum();
            let n = self.dev.tx_burst(&mut self.txq);
            self.stats.tx_frames += n as u64;
            self.stats.tx_bytes +=
                (bytes_before - self.txq.iter().map(|m| m.len()).sum::<usize>()) as u64;
            if n == 0 || (n < MAX_BURST && n < before) {
                self.stats.tx_partial += 1;
                break;
            }
        }
    }

    /// Frames waiting for the NIC.
    pub fn backlog(&self) -> usize {
        self.txq.len()
    }

    #[inline]
    pub fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        let n = self.dev.rx_burst(out);
        self.stats.rx_frames += n as u64;
        n
    }

    pub fn mac(&self) -> MacAddr {
        self.dev.mac()
    }

    pub fn offloads(&self) -> Offloads {
        self.dev.offloads()
    }

    pub fn device(&self) -> &D {
        &self.dev
    }

    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }
}
