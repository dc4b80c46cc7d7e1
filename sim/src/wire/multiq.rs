//! A NIC with several queue pairs on the stack's end of the wire, for tests of per-core
//! stacks: RSS spreads received frames over the RX queues by the Toeplitz hash of their
//! IPv4/TCP 4-tuple through a RETA, as hardware does (anything else goes to queue 0); every
//! queue transmits onto the one wire.
use super::{SimDevice, SimWire};
use linerate_dpdk::{Device, Mbuf, Mempool, Offloads, MAX_BURST};
use linerate_proto::rss::{ipv4_tcp_input, Reta, Toeplitz};
use linerate_proto::wire::ethernet::{EtherType, EthernetFrame, MacAddr};
use linerate_proto::wire::ipv4::{Ipv4Packet, Protocol};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

/// The NIC: its RSS state and the frames waiting on each RX queue.
pub struct SimMultiQueue {
    rx: SimDevice,
    toeplitz: Toeplitz,
    reta: Reta,
    queues: Vec<VecDeque<Mbuf>>,
    stage: Vec<Mbuf>,
    /// Frames received per queue.
    pub per_queue: Vec<u64>,
}

impl SimMultiQueue {
    /// A NIC on `wire` with one RX queue per distinct RETA entry, hashing with `key`.
    /// None when the key is too short for an IPv4/TCP tuple.
    pub fn new(
        wire: Rc<RefCell<SimWire>>,
        pool: Arc<Mempool>,
        mac: MacAddr,
        key: &[u8],
        reta: Reta,
    ) -> Option<Rc<RefCell<SimMultiQueue>>> {
        let n = reta.entries().iter().copied().max()? as usize + 1;
        Some(Rc::new(RefCell::new(SimMultiQueue {
            rx: SimDevice::new(wire, pool, mac),
            toeplitz: Toeplitz::new(key)?,
            reta,
            queues: (0..n).map(|_| VecDeque::new()).collect(),
            stage: Vec::with_capacity(MAX_BURST),
            per_queue: vec![0; n],
        })))
    }

    /// Queue pair `q` as a device.
    pub fn queue(nic: &Rc<RefCell<SimMultiQueue>>, q: usize) -> SimQueue {
        let tx = {
            let n = nic.borrow();
            SimDevice::new(n.rx.wire().clone(), n.rx.pool().clone(), n.rx.mac())
        };
        SimQueue {
            nic: nic.clone(),
            q,
            tx,
        }
    }

    /// The RX queue RSS picks for `frame`.
    fn queue_for(&self, frame: &[u8]) -> usize {
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return 0;
        };
        if eth.ethertype() != EtherType::IPV4 {
            return 0;
        }
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
            return 0;
        };
        let l4 = ip.payload();
        if ip.protocol() != Protocol::TCP || l4.len() < 4 {
            return 0;
        }
        let sport = u16::from_be_bytes([l4[0], l4[1]]);
        let dport = u16::from_be_bytes([l4[2], l4[3]]);
        let h = self
            .toeplitz
            .hash(&ipv4_tcp_input(ip.src(), ip.dst(), sport, dport));
        self.reta.queue_of(h) as usize
    }

    /// Moves every frame the wire has for the stack onto its RX queue.
    fn pull(&mut self) {
        let mut stage = std::mem::take(&mut self.stage);
        while self.rx.rx_burst(&mut stage) > 0 {
            for m in stage.drain(..) {
                let q = self.queue_for(m.data());
                self.per_queue[q] += 1;
                self.queues[q].push_back(m);
            }
        }
        self.stage = stage;
    }
}

/// One queue pair of a [`SimMultiQueue`].
pub struct SimQueue {
    nic: Rc<RefCell<SimMultiQueue>>,
    q: usize,
    tx: SimDevice,
}

impl Device for SimQueue {
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        let mut nic = self.nic.borrow_mut();
        nic.pull();
        let queue = &mut nic.queues[self.q];
        let n = queue.len().min(MAX_BURST);
        out.extend(queue.drain(..n));
        n
    }

    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        self.tx.tx_burst(pkts)
    }

    fn mac(&self) -> MacAddr {
        self.tx.mac()
    }

    fn offloads(&self) -> Offloads {
        Offloads::default()
    }
}
