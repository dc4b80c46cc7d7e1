//! A receiver for thousands of connections at once (tests/sim_many.rs), on the peer end of a
//! `SimWire`, written without the stack's code: it answers ARP, accepts every SYN to `PORT`
//! (or answers RST on ports listed in `refuse`), keeps out-of-order data, acknowledges every
//! segment cumulatively (no SACK, no timestamps), hashes each connection's in-order bytes
//! (FNV-1a) and answers the stack's FIN with its own. One `RxConn` per source port.
use linerate::dpdk::{Mbuf, Mempool, Offloads, MAX_BURST};
use linerate::{Device, MacAddr, Nanos, Stack, StackConfig, MS, SEC};
use linerate_proto::wire::arp::{self, ArpOp, ArpPacket};
use linerate_proto::wire::checksum;
use linerate_proto::wire::ethernet::{EtherType, EthernetFrame};
use linerate_proto::wire::ipv4::{Ipv4Cidr, Ipv4Packet, Protocol};
use linerate_proto::wire::tcp::{flags, TcpOptions, TcpPacket};
use linerate_sim::harness::{PEER_IP, PEER_MAC, PORT, STACK_IP, STACK_MAC};
use linerate_sim::{Dir, SimConfig, SimDevice, SimPeer, SimWire};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

/// The receive window we offer, and its scale.
pub const WINDOW: u32 = 4 << 20;
const WSCALE: u8 = 7;

pub const FNV0: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `b`, continuing from `h`.
pub fn fnv(h: u64, b: &[u8]) -> u64 {
    b.iter()
        .fold(h, |h, &x| (h ^ x as u64).wrapping_mul(0x100_0000_01b3))
}

/// One connection as the receiver sees it.
#[derive(Debug, Default)]
pub struct RxConn {
    irs: u32,
    iss: u32,
    wscale: bool,
    /// In-order payload bytes received, and their FNV-1a.
    pub bytes: u64,
    pub hash: u64,
    ooo: BTreeMap<u64, Vec<u8>>,
    fin_at: Option<u64>,
    /// The stack's FIN arrived in order (and ours went out).
    pub fin: bool,
    /// The stack acknowledged our FIN.
    pub closed: bool,
    /// The stack sent RST.
    pub rst: bool,
    pub syns: u32,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct PeerStats {
    pub arp_replies: u64,
    pub data_segs: u64,
    pub ooo_segs: u64,
    pub dup_segs: u64,
    pub bad_csum: u64,
    pub acks_sent: u64,
}

pub struct ManyPeer {
    peer: SimPeer,
    pub conns: HashMap<u16, RxConn>,
    /// Source ports whose SYN gets RST (connection refused).
    pub refuse: Vec<u16>,
    pub stats: PeerStats,
    inb: Vec<u8>,
    out: Vec<u8>,
}

impl ManyPeer {
    pub fn new(peer: SimPeer) -> Self {
        ManyPeer {
            peer,
            conns: HashMap::new(),
            refuse: Vec::new(),
            stats: PeerStats::default(),
            inb: Vec::with_capacity(2048),
            out: Vec::with_capacity(128),
        }
    }

    /// Takes every frame that has arrived and answers it.
    pub fn poll(&mut self) {
        let mut b = std::mem::take(&mut self.inb);
        while self.peer.recv_into(&mut b) {
            self.frame(&b);
        }
        self.inb = b;
    }

    fn frame(&mut self, f: &[u8]) {
        let Ok(eth) = EthernetFrame::new_checked(f) else {
            return;
        };
        if eth.ethertype() == EtherType::ARP {
            let Ok(a) = ArpPacket::new_checked(eth.payload()) else {
                return;
            };
            if a.operation() == ArpOp::REQUEST && a.target_ip() == PEER_IP {
                let mut r = [0u8; arp::FRAME_LEN];
                let (mac, ip) = (a.sender_mac(), a.sender_ip());
                arp::emit_frame(&mut r, ArpOp::REPLY, mac, PEER_MAC, PEER_IP, mac, ip).unwrap();
                self.peer.send(&r);
                self.stats.arp_replies += 1;
            }
            return;
        }
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
            return;
        };
        if ip.protocol() != Protocol::TCP || ip.dst() != PEER_IP {
            return;
        }
        let Ok(t) = TcpPacket::new_checked(ip.payload()) else {
            return;
        };
        if !ip.verify_checksum() || !t.verify_checksum(ip.src(), ip.dst()) {
            self.stats.bad_csum += 1;
            return;
        }
        if t.dst_port() != PORT {
            return;
        }
        let (port, fl, seq) = (t.src_port(), t.flags(), t.seq_number());
        if fl & flags::RST != 0 {
            if let Some(c) = self.conns.get_mut(&port) {
                c.rst = true;
            }
            return;
        }
        if fl & flags::SYN != 0 {
            if self.refuse.contains(&port) {
                self.emit(port, 0, seq.wrapping_add(1), flags::RST | flags::ACK, 0);
                return;
            }
            let ws = TcpOptions::parse(t.options()).is_ok_and(|o| o.wscale.is_some());
            let c = self.conns.entry(port).or_default();
            if c.syns == 0 || c.irs != seq {
                // A new connection (or the port's next one): fresh state.
                *c = RxConn {
                    irs: seq,
                    iss: (port as u32).wrapping_mul(0x9e37_79b9),
                    wscale: ws,
                    hash: FNV0,
                    ..Default::default()
                };
            }
            c.syns += 1;
            let (iss, ack) = (c.iss, seq.wrapping_add(1));
            self.emit(port, iss, ack, flags::SYN | flags::ACK, 65535);
            return;
        }
        let Some(c) = self.conns.get_mut(&port) else {
            return;
        };
        if fl & flags::ACK != 0 && c.fin && t.ack_number() == c.iss.wrapping_add(2) {
            c.closed = true;
        }
        let p = t.payload();
        let fin = fl & flags::FIN != 0;
        if p.is_empty() && !fin {
            return; // a pure ACK
        }
        let off = seq.wrapping_sub(c.irs.wrapping_add(1)) as u64;
        let end = off + p.len() as u64;
        if !p.is_empty() {
            self.stats.data_segs += 1;
            if end <= c.bytes {
                self.stats.dup_segs += 1;
            } else if off <= c.bytes {
                let new = &p[(c.bytes - off) as usize..];
                c.hash = fnv(c.hash, new);
                c.bytes = end;
                // Out-of-order data that became contiguous.
                while let Some(e) = c.ooo.first_entry() {
                    let (o, seg) = (*e.key(), e.get());
                    if o > c.bytes {
                        break;
                    }
                    let e_end = o + seg.len() as u64;
                    if e_end > c.bytes {
                        c.hash = fnv(c.hash, &seg[(c.bytes - o) as usize..]);
                        c.bytes = e_end;
                    }
                    e.remove();
                }
            } else if off - c.bytes < WINDOW as u64 {
                self.stats.ooo_segs += 1;
                let e = c.ooo.entry(off).or_default();
                if e.len() < p.len() {
                    *e = p.to_vec();
                }
            }
        }
        if fin {
            c.fin_at = Some(end);
        }
        if c.fin_at == Some(c.bytes) {
            c.fin = true;
        }
        let ack = c
            .irs
            .wrapping_add(1)
            .wrapping_add(c.bytes as u32)
            .wrapping_add(c.fin as u32);
        // Once the stack's FIN is in, every answer carries ours (so a lost one is resent when
        // the stack retransmits its FIN).
        let fl = if c.fin {
            flags::FIN | flags::ACK
        } else {
            flags::ACK
        };
        let wnd = if c.wscale {
            (WINDOW >> WSCALE) as u16
        } else {
            65535
        };
        let seq = c.iss.wrapping_add(1);
        self.emit(port, seq, ack, fl, wnd);
    }

    fn emit(&mut self, port: u16, seq: u32, ack: u32, fl: u8, wnd: u16) {
        // A SYN-ACK offers MSS 1460 and, when the SYN did, window scaling.
        let ws = fl & flags::SYN != 0 && self.conns.get(&port).is_some_and(|c| c.wscale);
        let opts: &[u8] = match (fl & flags::SYN != 0, ws) {
            (true, true) => &[2, 4, 0x05, 0xb4, 1, 3, 3, WSCALE],
            (true, false) => &[2, 4, 0x05, 0xb4],
            _ => &[],
        };
        let tcp_len = 20 + opts.len();
        let f = &mut self.out;
        f.clear();
        f.resize(14 + 20 + tcp_len, 0);
        linerate_sim::harness::peer_to_stack_headers(f, tcp_len);
        let t = &mut f[34..];
        t[0..2].copy_from_slice(&PORT.to_be_bytes());
        t[2..4].copy_from_slice(&port.to_be_bytes());
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[8..12].copy_from_slice(&ack.to_be_bytes());
        t[12] = ((tcp_len / 4) as u8) << 4;
        t[13] = fl;
        t[14..16].copy_from_slice(&wnd.to_be_bytes());
        t[20..].copy_from_slice(opts);
        let ph = checksum::pseudo_header_v4(PEER_IP, STACK_IP, Protocol::TCP, tcp_len as u16);
        let cs = checksum::fold(checksum::sum(t, ph));
        t[16..18].copy_from_slice(&cs.to_be_bytes());
        self.stats.acks_sent += 1;
        self.peer.send(f);
    }
}

/// The stack's settings here: ARP through the receiver (no static entry), a short TIME-WAIT.
pub fn stack_config() -> StackConfig {
    let mut cfg = StackConfig::new(Ipv4Cidr {
        addr: STACK_IP,
        prefix_len: 24,
    });
    cfg.tcp.time_wait = 10 * MS;
    cfg.tcp.fin_timeout = 5 * SEC;
    cfg
}

/// A NIC with a line rate: `tx_burst` takes at most `per_us` frames per microsecond of the
/// wire's clock (no credit saved beyond a burst), so frames back up in the stack as on a real
/// port. (`SimConfig::tx_ring` alone limits frames per call, and the stack calls again at
/// every 32 frames it queues.)
pub struct LineRate {
    inner: SimDevice,
    per_us: u64,
    start: Nanos,
    sent: u64,
}

impl LineRate {
    pub fn new(inner: SimDevice, per_us: u64) -> Self {
        let start = inner.wire().borrow().now();
        LineRate {
            inner,
            per_us,
            start,
            sent: 0,
        }
    }
}

impl Device for LineRate {
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        self.inner.rx_burst(out)
    }

    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let now = self.inner.wire().borrow().now();
        let earned = (now - self.start) / 1000 * self.per_us;
        self.sent = self.sent.max(earned.saturating_sub(MAX_BURST as u64));
        let k = (earned - self.sent).min(pkts.len() as u64) as usize;
        if k == 0 {
            return 0;
        }
        self.inner
            .wire()
            .borrow_mut()
            .config_mut(Dir::ToPeer)
            .tx_ring = k;
        let n = self.inner.tx_burst(pkts);
        self.sent += n as u64;
        n
    }

    fn mac(&self) -> MacAddr {
        self.inner.mac()
    }

    fn offloads(&self) -> Offloads {
        self.inner.offloads()
    }
}

/// Our stack and the receiver on one wire, on a virtual clock.
pub struct Net<D: Device = SimDevice> {
    pub wire: Rc<RefCell<SimWire>>,
    pub stack: Stack<D>,
    pub peer: ManyPeer,
    pub pool: Arc<Mempool>,
    pub pool_base: u32,
    pub now: Nanos,
}

impl Net {
    pub fn new(
        pool: Arc<Mempool>,
        to_peer: SimConfig,
        to_stack: SimConfig,
        cfg: StackConfig,
    ) -> Net {
        Net::with_device(pool, to_peer, to_stack, cfg, |d| d)
    }
}

impl<D: Device> Net<D> {
    /// `new` with the stack on a wrapper `dev` builds around the simulated device.
    pub fn with_device(
        pool: Arc<Mempool>,
        to_peer: SimConfig,
        to_stack: SimConfig,
        cfg: StackConfig,
        dev: impl FnOnce(SimDevice) -> D,
    ) -> Net<D> {
        let pool_base = pool.in_use();
        let now = SEC;
        let (wire, sim, peer) = SimWire::pair(to_peer, to_stack, pool.clone(), STACK_MAC);
        wire.borrow_mut().set_now(now);
        let stack = Stack::new(dev(sim), pool.clone(), cfg, now);
        Net {
            wire,
            stack,
            peer: ManyPeer::new(peer),
            pool,
            pool_base,
            now,
        }
    }

    /// Arrivals, the stack, the receiver, at the current time.
    pub fn tick(&mut self) {
        self.wire.borrow_mut().deliver_due(self.now);
        self.stack.poll(self.now);
        self.peer.poll();
    }

    /// To the next arrival, at most 1 ms on (the stack's timer tick); 1 µs while frames wait
    /// for the device.
    pub fn advance(&mut self) {
        let now = self.now;
        let mut t = now + MS;
        if let Some(w) = self.wire.borrow().next_event_time() {
            t = t.min(w);
        }
        if self.stack.tx_backlog() > 0 {
            t = now;
        }
        self.now = t.max(now + 1000);
    }

    /// Runs until the wire is empty and the device idle (at most `limit`); then every mbuf
    /// should be back in the pool.
    pub fn drain(&mut self, limit: Nanos) {
        let end = self.now + limit;
        while self.now < end && !(self.wire.borrow().is_idle() && self.stack.tx_backlog() == 0) {
            self.tick();
            self.advance();
        }
    }
}
