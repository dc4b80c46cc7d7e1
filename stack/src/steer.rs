//! Several per-core stacks on one port: which worker owns an inbound frame, and the
//! lockless mesh that hands a frame to its owner when it landed on another worker's queue.
//!
//! Each worker owns a slice of the ephemeral ports ([`PortSplit`]), so a TCP frame's
//! destination port names its owner at once, with no shared table. Where the NIC's RSS can
//! be steered (a known key and RETA), connections pick ports whose ACKs hash to their own
//! queue and the mesh stays idle; where it cannot (af_packet's fanout, af_xdp, virtio, ENA)
//! or the key turns out wrong, [`Steered`] passes each stray frame to its owner over a
//! bounded channel: the software fallback, counted. ARP replies go to every worker, so a
//! neighbour one worker resolves is resolved for all (each keeps its own table, fed by
//! these copies); requests stay with the worker that answers them.
use linerate_dpdk::{Device, Mbuf, Offloads, MAX_BURST};
use linerate_proto::rss::{ipv4_tcp_input, Reta, Toeplitz};
use linerate_proto::wire::arp::{ArpOp, ArpPacket};
use linerate_proto::wire::ethernet::{EtherType, EthernetFrame, MacAddr};
use linerate_proto::wire::ipv4::{Ipv4Packet, Protocol};
use linerate_proto::wire::tcp::flags;
use linerate_proto::wire::ETH_HEADER_LEN;
use std::net::Ipv4Addr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// What `connect` needs to pick source ports whose inbound frames the NIC's RSS puts on
/// this stack's queue: the port's key (as a hasher) and RETA, read back from the NIC.
#[derive(Clone)]
pub struct RssSteering {
    /// The NIC's Toeplitz key.
    pub toeplitz: Arc<Toeplitz>,
    /// The NIC's redirection table.
    pub reta: Reta,
    /// This stack's RX queue.
    pub queue: u16,
}

impl std::fmt::Debug for RssSteering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RssSteering")
            .field("key_len", &self.toeplitz.key().len())
            .field("reta_len", &self.reta.entries().len())
            .field("queue", &self.queue)
            .finish()
    }
}

/// The ephemeral port range cut into one equal, contiguous slice per worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSplit {
    first: u16,
    per_worker: u16,
    workers: u16,
}

impl PortSplit {
    /// Cuts `range` (inclusive) into `workers` slices; ports beyond the last whole slice go
    /// unused. None when a worker would get no port.
    pub fn new(range: (u16, u16), workers: usize) -> Option<PortSplit> {
        let (lo, hi) = range;
        if workers == 0 || hi < lo {
            return None;
        }
        let len = (hi - lo) as usize + 1;
        let per = len / workers;
        if per == 0 || workers > u16::MAX as usize {
            return None;
        }
        Some(PortSplit {
            first: lo,
            per_worker: per as u16,
            workers: workers as u16,
        })
    }

    /// Worker `i`'s ports (inclusive): its stack's `StackConfig::ephemeral`.
    pub fn range_of(&self, i: usize) -> (u16, u16) {
        let lo = self.first + self.per_worker * i as u16;
        (lo, lo + (self.per_worker - 1))
    }

    /// The worker that owns local port `port`; None outside every slice.
    pub fn owner(&self, port: u16) -> Option<usize> {
        let off = port.checked_sub(self.first)? / self.per_worker;
        (off < self.workers).then_some(off as usize)
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.workers as usize
    }
}

/// One worker's ends of the mesh: a sender to every worker's inbox and its own inbox.
pub struct MeshPort {
    me: usize,
    to: Vec<SyncSender<Mbuf>>,
    inbox: Receiver<Mbuf>,
}

impl MeshPort {
    /// This worker's index.
    pub fn worker(&self) -> usize {
        self.me
    }
}

/// Builds the mesh for `workers` workers, each inbox holding up to `depth` frames; hand
/// element i to worker i. (std's bounded channel is a lock-free array queue: no lock and no
/// allocation per frame.)
pub fn mesh(workers: usize, depth: usize) -> Vec<MeshPort> {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..workers).map(|_| sync_channel(depth)).unzip();
    rxs.into_iter()
        .enumerate()
        .map(|(me, inbox)| MeshPort {
            me,
            to: txs.clone(),
            inbox,
        })
        .collect()
}

/// What [`Steered`] did with frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SteerStats {
    /// Frames other workers received for this one.
    pub redirected_in: u64,
    /// Frames this worker received for another and passed on.
    pub redirected_out: u64,
    /// Frames for another worker dropped because its inbox was full or gone (TCP resends).
    pub redirect_drops: u64,
    /// ARP replies copied to the other workers.
    pub arp_shared: u64,
    /// SYN-ACKs that RSS put on another queue than the key and RETA read back say
    /// (`Steered::check_rss`): RSS does not steer as configured, the redirect carries it.
    pub syn_acks_misrouted: u64,
    /// SYN-ACKs whose hash from the NIC (`Mbuf::rss_hash`) differs from our Toeplitz hash.
    pub rss_hash_mismatch: u64,
}

/// Where an inbound frame goes.
enum Dest {
    Here,
    Worker(usize),
    /// An ARP reply: here and a copy to every other worker.
    Everyone,
}

/// A TCP frame's IPv4 addresses (source, destination) and TCP bytes (at least its two
/// ports), through the wire views.
fn tcp_view(frame: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, &[u8])> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EtherType::IPV4 {
        return None;
    }
    // The Ethernet view checked the length; slicing the frame keeps the borrow on `frame`.
    let l3 = &frame[ETH_HEADER_LEN..];
    let ip = Ipv4Packet::new_checked(l3).ok()?;
    let l4 = &l3[ip.header_len()..usize::from(ip.total_len())];
    (ip.protocol() == Protocol::TCP && l4.len() >= 4).then(|| (ip.src(), ip.dst(), l4))
}

/// The owner of an inbound frame: TCP by destination port, ARP replies to all, anything
/// else (and anything malformed, which the stack counts) here.
fn dest(frame: &[u8], split: &PortSplit, me: usize) -> Dest {
    if let Some((_, _, l4)) = tcp_view(frame) {
        return match split.owner(u16::from_be_bytes([l4[2], l4[3]])) {
            Some(w) if w != me => Dest::Worker(w),
            _ => Dest::Here,
        };
    }
    match EthernetFrame::new_checked(frame) {
        Ok(eth) if eth.ethertype() == EtherType::ARP => match ArpPacket::new_checked(eth.payload())
        {
            Ok(a) if a.operation() == ArpOp::REPLY => Dest::Everyone,
            _ => Dest::Here,
        },
        _ => Dest::Here,
    }
}

/// The RSS input of a SYN-ACK (IPv4, TCP with SYN and ACK, no RST or FIN).
fn syn_ack_input(f: &[u8]) -> Option<[u8; 12]> {
    let (src, dst, l4) = tcp_view(f)?;
    let fl = *l4.get(13)?;
    if fl & (flags::SYN | flags::ACK) != flags::SYN | flags::ACK
        || fl & (flags::RST | flags::FIN) != 0
    {
        return None;
    }
    let port = |o: usize| u16::from_be_bytes([l4[o], l4[o + 1]]);
    Some(ipv4_tcp_input(src, dst, port(0), port(2)))
}

/// A worker's device: its queue pair, with frames for other workers passed on and frames
/// other workers passed on to it received first.
pub struct Steered<D: Device> {
    inner: D,
    mesh: MeshPort,
    split: PortSplit,
    check: Option<RssSteering>,
    stage: Vec<Mbuf>,
    /// Counters.
    pub stats: SteerStats,
}

impl<D: Device> Steered<D> {
    /// Worker `mesh.worker()`'s device over `inner`, owning its slice of `split`.
    pub fn new(inner: D, mesh: MeshPort, split: PortSplit) -> Self {
        Steered {
            inner,
            mesh,
            split,
            check: None,
            stage: Vec::with_capacity(MAX_BURST),
            stats: SteerStats::default(),
        }
    }

    /// Checks every SYN-ACK against the RSS state connect steers by: that it arrived on
    /// `rss.queue`, and that the NIC's hash (where the PMD gives one) is ours.
    pub fn check_rss(mut self, rss: RssSteering) -> Self {
        self.check = Some(rss);
        self
    }

    fn check_syn_ack(&mut self, m: &Mbuf) {
        let Some(rss) = &self.check else { return };
        let Some(input) = syn_ack_input(m.data()) else {
            return;
        };
        let h = rss.toeplitz.hash(&input);
        if rss.reta.queue_of(h) != rss.queue {
            self.stats.syn_acks_misrouted += 1;
        }
        if m.rss_hash().is_some_and(|nic| nic != h) {
            self.stats.rss_hash_mismatch += 1;
        }
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device and this worker's end of the mesh, for a new stack on the queue.
    pub fn into_parts(self) -> (D, MeshPort) {
        (self.inner, self.mesh)
    }

    fn pass_on(&mut self, w: usize, m: Mbuf) {
        match self.mesh.to[w].try_send(m) {
            Ok(()) => self.stats.redirected_out += 1,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.redirect_drops += 1
            }
        }
    }
}

impl<D: Device> Device for Steered<D> {
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        let before = out.len();
        // What others passed on first: it waited longest.
        while out.len() - before < MAX_BURST {
            match self.mesh.inbox.try_recv() {
                Ok(m) => {
                    self.stats.redirected_in += 1;
                    out.push(m);
                }
                Err(_) => break,
            }
        }
        if out.len() - before == MAX_BURST {
            return MAX_BURST;
        }
        let mut stage = std::mem::take(&mut self.stage);
        self.inner.rx_burst(&mut stage);
        let me = self.mesh.me;
        for m in stage.drain(..) {
            self.check_syn_ack(&m);
            match dest(m.data(), &self.split, me) {
                Dest::Here => out.push(m),
                Dest::Worker(w) => self.pass_on(w, m),
                Dest::Everyone => {
                    for w in (0..self.mesh.to.len()).filter(|&w| w != me) {
                        self.stats.arp_shared += 1;
                        self.pass_on(w, m.clone());
                    }
                    out.push(m);
                }
            }
        }
        self.stage = stage;
        out.len() - before
    }

    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        self.inner.tx_burst(pkts)
    }

    fn mac(&self) -> MacAddr {
        self.inner.mac()
    }

    fn offloads(&self) -> Offloads {
        self.inner.offloads()
    }

    fn tx_done_cleanup(&mut self) {
        self.inner.tx_done_cleanup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_cuts_the_range_evenly() {
        let s = PortSplit::new((32768, 60999), 3).unwrap();
        assert_eq!(s.range_of(0), (32768, 32768 + 9410 - 1));
        assert_eq!(s.range_of(1), (42178, 51587));
        assert_eq!(s.range_of(2), (51588, 60997));
        assert_eq!(s.owner(32768), Some(0));
        assert_eq!(s.owner(42177), Some(0));
        assert_eq!(s.owner(42178), Some(1));
        assert_eq!(s.owner(60997), Some(2));
        // The remainder and ports below the range belong to nobody.
        assert_eq!(s.owner(60998), None);
        assert_eq!(s.owner(32767), None);
        assert_eq!(s.owner(5201), None);
        assert_eq!(PortSplit::new((10, 11), 3), None);
        assert_eq!(PortSplit::new((10, 9), 1), None);
        assert_eq!(PortSplit::new((10, 10), 0), None);
        let one = PortSplit::new((1, u16::MAX), 1).unwrap();
        assert_eq!(one.range_of(0), (1, u16::MAX));
        assert_eq!(one.owner(u16::MAX), Some(0));
    }

    fn tcp_frame(dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12..14].copy_from_slice(&EtherType::IPV4.to_be_bytes());
        f[14] = 0x45;
        f[16..18].copy_from_slice(&40u16.to_be_bytes());
        f[23] = 6;
        f[34..36].copy_from_slice(&5201u16.to_be_bytes());
        f[36..38].copy_from_slice(&dport.to_be_bytes());
        f
    }

    #[test]
    fn frames_go_to_the_owner_of_their_port() {
        let s = PortSplit::new((40000, 40099), 2).unwrap();
        assert!(matches!(dest(&tcp_frame(40000), &s, 0), Dest::Here));
        assert!(matches!(dest(&tcp_frame(40050), &s, 0), Dest::Worker(1)));
        assert!(matches!(dest(&tcp_frame(40049), &s, 1), Dest::Worker(0)));
        // Not in any slice: stays, and the stack answers it (RST) or counts it.
        assert!(matches!(dest(&tcp_frame(80), &s, 1), Dest::Here));
        // Truncated or not TCP: stays, for the stack to count as malformed.
        assert!(matches!(dest(&tcp_frame(40050)[..36], &s, 0), Dest::Here));
        let mut udp = tcp_frame(40050);
        udp[23] = 17;
        assert!(matches!(dest(&udp, &s, 0), Dest::Here));
        assert!(matches!(dest(&[0u8; 5], &s, 0), Dest::Here));
    }

    #[test]
    fn syn_ack_input_reads_the_tuple_of_syn_acks_only() {
        let mut f = tcp_frame(40050);
        f[26..30].copy_from_slice(&[198, 19, 0, 2]);
        f[30..34].copy_from_slice(&[198, 18, 0, 1]);
        assert_eq!(syn_ack_input(&f), None, "no flags: not a SYN-ACK");
        f[34 + 13] = 0x12;
        let want = ipv4_tcp_input(
            Ipv4Addr::new(198, 19, 0, 2),
            Ipv4Addr::new(198, 18, 0, 1),
            5201,
            40050,
        );
        assert_eq!(syn_ack_input(&f), Some(want));
        f[34 + 13] = 0x16; // with RST
        assert_eq!(syn_ack_input(&f), None);
        f[34 + 13] = 0x10; // a plain ACK
        assert_eq!(syn_ack_input(&f), None);
        f[34 + 13] = 0x12;
        assert_eq!(syn_ack_input(&f[..40]), None, "truncated");
        f[23] = 17;
        assert_eq!(syn_ack_input(&f), None, "UDP");
    }

    #[test]
    fn arp_replies_go_to_everyone_requests_stay() {
        let s = PortSplit::new((40000, 40099), 2).unwrap();
        let mut f = vec![0u8; 14 + 28];
        f[12..14].copy_from_slice(&EtherType::ARP.to_be_bytes());
        f[14..16].copy_from_slice(&1u16.to_be_bytes());
        f[16..18].copy_from_slice(&EtherType::IPV4.to_be_bytes());
        f[18] = 6;
        f[19] = 4;
        f[20..22].copy_from_slice(&ArpOp::REPLY.to_be_bytes());
        assert!(matches!(dest(&f, &s, 0), Dest::Everyone));
        f[20..22].copy_from_slice(&ArpOp::REQUEST.to_be_bytes());
        assert!(matches!(dest(&f, &s, 0), Dest::Here));
    }
}
