//! The NIC queue a per-core stack runs on, as a trait with static dispatch (as smoltcp's
//! `phy::Device`): a DPDK ethdev queue pair in production ([`DpdkDevice`]); the simulated
//! wire, the in-process ACK peer and the pcap tap in tests and benchmarks.
use crate::{Mbuf, Offloads, QueuePair};
use linerate_proto::wire::ethernet::MacAddr;

/// What a stack needs from a NIC queue pair (or a simulated one).
pub trait Device {
    /// Appends received frames to `out`; returns how many.
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize;
    /// Hands frames to the device, taking them from the front of `pkts`; returns how many it
    /// took. The rest stay in `pkts`.
    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize;
    /// The port's MAC address.
    fn mac(&self) -> MacAddr;
    /// The TX/RX offloads the port has enabled.
    fn offloads(&self) -> Offloads;
    /// Frees the mbufs of frames already sent now, where the device would otherwise keep
    /// them until its ring fills (a NIC's lazy descriptor cleanup): zero-copy completions
    /// wait for those frees.
    fn tx_done_cleanup(&mut self) {}
}

/// A DPDK ethdev queue pair as a [`Device`].
pub struct DpdkDevice {
    q: QueuePair,
    mac: MacAddr,
    offloads: Offloads,
}

impl DpdkDevice {
    /// Wraps queue pair `q`, reading the port's MAC and offloads once.
    pub fn new(q: QueuePair) -> Result<Self, crate::DpdkError> {
        let mac = q.port().mac()?;
        let offloads = q.port().offloads();
        Ok(DpdkDevice { q, mac, offloads })
    }

    /// The queue pair underneath.
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
    fn tx_done_cleanup(&mut self) {
        // Drivers without it (-ENOTSUP) free on their own schedule.
        let _ = self.q.tx_done_cleanup();
    }
}
