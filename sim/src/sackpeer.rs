//! A minimal SACK-generating TCP receiver for the simulation (smoltcp reports at most one
//! SACK block and never DSACK). Written for the recovery tests, independent of the stack:
//! it keeps out-of-order data, acknowledges every segment at once with up to three SACK
//! blocks (RFC 2018 §4: the block holding the newest segment first, then the most recently
//! reported ones), reports duplicates with a DSACK block first (RFC 2883 §4), echoes
//! timestamps per RFC 7323 §4.3, and closes with FIN when it has all data and our FIN.
//! A test hook decides per data segment whether it is delivered, dropped or held back.
use crate::harness::{sha256, PEER_IP, PEER_MAC, PORT, STACK_IP, STACK_MAC};
use crate::wire::{Dir, LinkStats, SimConfig, SimDevice, SimPeer, SimWire};
use linerate_dpdk::{Eal, Mempool, Offloads, TxRegion};
use linerate_proto::timer::{Nanos, MS, SEC};
use linerate_proto::wire::checksum;
use linerate_proto::wire::ethernet::{EtherType, EthernetFrame};
use linerate_proto::wire::ipv4::{Ipv4Cidr, Ipv4Packet, Protocol};
use linerate_proto::wire::tcp::{flags, OptionWriter, TcpOptions, TcpPacket};
use linerate_stack::{ConnId, IoError, Stack, StackConfig, StackStats, TcpInfo};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddrV4;
use std::rc::Rc;
use std::sync::Arc;

/// What the test hook does with one arriving data segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Deliver,
    Drop,
    /// Process it this much later.
    Hold(Nanos),
}

/// Called with (now, payload offset, payload length, FIN, how many times this offset
/// arrived before).
pub type Hook = Box<dyn FnMut(Nanos, u64, u32, bool, u32) -> Fate>;

#[derive(Debug, Default, Clone, Copy)]
pub struct PeerStats {
    pub data_segs: u64,
    pub ooo_segs: u64,
    pub dup_segs: u64,
    pub dsacks_sent: u64,
    pub acks_sent: u64,
    pub sack_acks_sent: u64,
    pub hook_dropped: u64,
    pub hook_held: u64,
    pub reneged: u64,
    /// Frames with a wrong IPv4 or TCP checksum (dropped).
    pub bad_csum: u64,
}

pub struct SackPeer {
    peer: SimPeer,
    stack_port: u16,
    irs: u32,
    iss: u32,
    synced: bool,
    /// Payload bytes received in order (offset of the next expected byte = `data.len()`).
    pub data: Vec<u8>,
    /// Out-of-order segments by payload offset.
    ooo: BTreeMap<u64, Vec<u8>>,
    /// Out-of-order ranges, most recently changed first (what the SACK blocks report).
    blocks: Vec<(u64, u64)>,
    ts_recent: u32,
    ts_on: bool,
    fin_in: bool,
    fin_off: Option<u64>,
    fin_out_at: Option<Nanos>,
    pub closed: bool,
    pub hook: Option<Hook>,
    seen: HashMap<u64, u32>,
    held: Vec<(Nanos, Vec<u8>)>,
    /// Discard all out-of-order data once this many bytes are held out of order (a
    /// reneging receiver, RFC 2018 §8).
    pub renege_at: Option<usize>,
    /// Send SACK blocks (off: a receiver that permits SACK but never sends blocks).
    pub send_sack: bool,
    /// The MSS our SYN-ACK announces.
    pub mss: u16,
    pub stats: PeerStats,
    buf: Vec<u8>,
}

const WSCALE: u8 = 7;
const WINDOW: u32 = 4 << 20;

impl SackPeer {
    pub fn new(peer: SimPeer) -> Self {
        SackPeer {
            peer,
            stack_port: 0,
            irs: 0,
            iss: 0x7000_0000,
            synced: false,
            data: Vec::new(),
            ooo: BTreeMap::new(),
            blocks: Vec::new(),
            ts_recent: 0,
            ts_on: false,
            fin_in: false,
            fin_off: None,
            fin_out_at: None,
            closed: false,
            hook: None,
            seen: HashMap::new(),
            held: Vec::new(),
            renege_at: None,
            send_sack: true,
            mss: 1460,
            stats: PeerStats::default(),
            buf: Vec::new(),
        }
    }

    fn rcv_nxt(&self) -> u32 {
        self.irs
            .wrapping_add(1)
            .wrapping_add(self.data.len() as u32)
            .wrapping_add(self.fin_in as u32)
    }

    /// When the peer next needs to run (a held frame, our FIN's retransmission).
    pub fn next_event(&self) -> Option<Nanos> {
        let h = self.held.iter().map(|(t, _)| *t).min();
        match (h, self.fin_out_at) {
            (Some(a), Some(b)) => Some(a.min(b + 200 * MS)),
            (a, None) => a,
            (None, Some(b)) if !self.closed => Some(b + 200 * MS),
            _ => None,
        }
    }

    pub fn poll(&mut self, now: Nanos) {
        let mut buf = std::mem::take(&mut self.buf);
        while self.peer.recv_into(&mut buf) {
            self.frame(&buf, now, false);
        }
        self.buf = buf;
        // Held frames that are due, in the order they arrived.
        if self.held.iter().any(|(t, _)| *t <= now) {
            let held = std::mem::take(&mut self.held);
            let (due, later): (Vec<_>, Vec<_>) = held.into_iter().partition(|(t, _)| *t <= now);
            self.held = later;
            for (_, f) in due {
                self.frame(&f, now, true);
            }
        }
        if let Some(t) = self.fin_out_at {
            if !self.closed && now >= t + 200 * MS {
                self.send_fin(now);
            }
        }
    }

    fn frame(&mut self, f: &[u8], now: Nanos, released: bool) {
        let Ok(eth) = EthernetFrame::new_checked(f) else {
            return;
        };
        if eth.ethertype() != EtherType::IPV4 {
            return;
        }
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
            return;
        };
        if !ip.verify_checksum() {
            self.stats.bad_csum += 1;
            return;
        }
        if ip.protocol() != Protocol::TCP || ip.dst() != PEER_IP {
            return;
        }
        let Ok(t) = TcpPacket::new_checked(ip.payload()) else {
            return;
        };
        if !t.verify_checksum(ip.src(), ip.dst()) {
            self.stats.bad_csum += 1;
            return;
        }
        if t.dst_port() != PORT {
            return;
        }
        let Ok(opts) = TcpOptions::parse(t.options()) else {
            return;
        };
        let fl = t.flags();
        let seq = t.seq_number();
        if fl & flags::RST != 0 {
            // Our FIN's ACK was lost and the stack already freed the connection.
            if self.fin_out_at.is_some() {
                self.closed = true;
            }
            return;
        }
        if fl & flags::SYN != 0 {
            self.stack_port = t.src_port();
            self.irs = seq;
            self.synced = true;
            self.ts_on = opts.timestamps.is_some();
            self.ts_recent = opts.timestamps.map(|(v, _)| v).unwrap_or(0);
            self.emit(now, self.iss, flags::SYN | flags::ACK, None, true);
            return;
        }
        if !self.synced {
            return;
        }
        if fl & flags::ACK != 0
            && self.fin_out_at.is_some()
            && t.ack_number() == self.iss.wrapping_add(2)
        {
            self.closed = true;
        }
        let payload = t.payload();
        let fin = fl & flags::FIN != 0;
        if payload.is_empty() && !fin {
            return; // a pure ACK
        }
        let off = seq.wrapping_sub(self.irs.wrapping_add(1)) as u64;
        if !released && !payload.is_empty() {
            let n = self.seen.entry(off).or_insert(0);
            let times = *n;
            *n += 1;
            if let Some(h) = self.hook.as_mut() {
                match h(now, off, payload.len() as u32, fin, times) {
                    Fate::Deliver => {}
                    Fate::Drop => {
                        self.stats.hook_dropped += 1;
                        return;
                    }
                    Fate::Hold(d) => {
                        self.stats.hook_held += 1;
                        self.held.push((now + d, f.to_vec()));
                        return;
                    }
                }
            }
        }
        // RFC 7323 §4.3: TS.Recent from segments at or before the left edge.
        if let Some((tsval, _)) = opts.timestamps {
            if (seq.wrapping_sub(self.rcv_nxt()) as i32) <= 0 {
                self.ts_recent = tsval;
            }
        }
        let dsack = self.data_in(off, payload);
        let end = off + payload.len() as u64;
        if fin {
            self.fin_off = Some(end); // kept even when it arrives out of order
        }
        if !self.fin_in && self.fin_off == Some(self.data.len() as u64) {
            self.fin_in = true;
        }
        self.emit(now, self.iss.wrapping_add(1), flags::ACK, dsack, false);
        if self.fin_in && self.fin_out_at.is_none() {
            self.send_fin(now);
        }
    }

    /// Takes a data segment; returns the DSACK range if it duplicated data we hold.
    fn data_in(&mut self, off: u64, p: &[u8]) -> Option<(u64, u64)> {
        if p.is_empty() {
            return None;
        }
        self.stats.data_segs += 1;
        let end = off + p.len() as u64;
        let nxt = self.data.len() as u64;
        if end <= nxt {
            self.stats.dup_segs += 1;
            return Some((off, end));
        }
        if off <= nxt {
            let dsack = (off < nxt).then_some((off, nxt));
            self.data.extend_from_slice(&p[(nxt - off) as usize..]);
            self.drain();
            return dsack;
        }
        // Out of order: a duplicate if a block holds all of it.
        self.stats.ooo_segs += 1;
        if self.blocks.iter().any(|&(a, b)| a <= off && end <= b) {
            self.stats.dup_segs += 1;
            return Some((off, end));
        }
        self.ooo.insert(off, p.to_vec());
        let (mut a, mut b) = (off, end);
        self.blocks.retain(|&(x, y)| {
            if x <= b && a <= y {
                a = a.min(x);
                b = b.max(y);
                false
            } else {
                true
            }
        });
        self.blocks.insert(0, (a, b));
        if let Some(lim) = self.renege_at {
            let held: u64 = self.blocks.iter().map(|(x, y)| y - x).sum();
            if held as usize >= lim {
                self.ooo.clear();
                self.blocks.clear();
                self.renege_at = None;
                self.stats.reneged += 1;
            }
        }
        None
    }

    /// Moves out-of-order data that became contiguous into `data`.
    fn drain(&mut self) {
        loop {
            let nxt = self.data.len() as u64;
            let Some((&o, _)) = self.ooo.iter().next() else {
                break;
            };
            if o > nxt {
                break;
            }
            let p = self.ooo.remove(&o).unwrap();
            let end = o + p.len() as u64;
            if end > nxt {
                self.data.extend_from_slice(&p[(nxt - o) as usize..]);
            }
        }
        let nxt = self.data.len() as u64;
        self.blocks.retain(|&(_, b)| b > nxt);
        for blk in &mut self.blocks {
            blk.0 = blk.0.max(nxt);
        }
    }

    fn send_fin(&mut self, now: Nanos) {
        self.fin_out_at = Some(now);
        self.emit(
            now,
            self.iss.wrapping_add(1),
            flags::FIN | flags::ACK,
            None,
            false,
        );
    }

    fn emit(&mut self, now: Nanos, seq: u32, fl: u8, dsack: Option<(u64, u64)>, syn: bool) {
        let mut opts = [0u8; 40];
        let optlen = {
            let mut w = OptionWriter::new(&mut opts);
            let tsval = (now / MS) as u32;
            if syn {
                w.syn(
                    self.mss,
                    true,
                    self.ts_on.then_some((tsval, self.ts_recent)),
                    Some(WSCALE),
                )
                .unwrap();
            } else {
                if self.ts_on {
                    w.nop().unwrap().nop().unwrap();
                    w.timestamps(tsval, self.ts_recent).unwrap();
                }
                let base = self.irs.wrapping_add(1);
                let mut blocks = [(0u32, 0u32); 4];
                let mut n = 0;
                let max = if self.ts_on { 3 } else { 4 };
                if let Some((a, b)) = dsack {
                    blocks[n] = (base.wrapping_add(a as u32), base.wrapping_add(b as u32));
                    n += 1;
                    self.stats.dsacks_sent += 1;
                }
                if self.send_sack {
                    for &(a, b) in self.blocks.iter().take(max - n) {
                        blocks[n] = (base.wrapping_add(a as u32), base.wrapping_add(b as u32));
                        n += 1;
                    }
                }
                if n > 0 {
                    w.nop().unwrap().nop().unwrap();
                    w.sack(&blocks[..n]).unwrap();
                    self.stats.sack_acks_sent += 1;
                }
            }
            w.finish()
        };
        let tcp_len = 20 + optlen;
        let mut f = vec![0u8; 14 + 20 + tcp_len];
        crate::harness::peer_to_stack_headers(&mut f, tcp_len);
        let ack = self.rcv_nxt();
        let t = &mut f[34..];
        t[0..2].copy_from_slice(&PORT.to_be_bytes());
        t[2..4].copy_from_slice(&self.stack_port.to_be_bytes());
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[8..12].copy_from_slice(&ack.to_be_bytes());
        t[12] = ((tcp_len / 4) as u8) << 4;
        t[13] = fl;
        let wnd = if syn {
            65535
        } else {
            (WINDOW >> WSCALE).min(65535)
        };
        t[14..16].copy_from_slice(&(wnd as u16).to_be_bytes());
        t[20..20 + optlen].copy_from_slice(&opts[..optlen]);
        let ph = checksum::pseudo_header_v4(PEER_IP, STACK_IP, Protocol::TCP, tcp_len as u16);
        let cs = checksum::fold(checksum::sum(t, ph));
        t[16..18].copy_from_slice(&cs.to_be_bytes());
        self.stats.acks_sent += 1;
        self.peer.send(&f);
    }
}

/// The stack's settings for these simulations (a static ARP entry for the peer).
pub fn stack_config() -> StackConfig {
    let mut cfg = StackConfig::new(Ipv4Cidr {
        addr: STACK_IP,
        prefix_len: 24,
    });
    cfg.tcp.sndbuf = 1 << 20;
    cfg.tcp.time_wait = 10 * MS;
    cfg.tcp.fin_timeout = 5 * SEC;
    cfg.max_conns = 16;
    cfg.static_neigh.push((PEER_IP, PEER_MAC));
    cfg
}

/// Our stack and the SACK peer on one simulated wire.
pub struct SackSim {
    pub wire: Rc<RefCell<SimWire>>,
    pub stack: Stack<SimDevice>,
    pub peer: SackPeer,
    pub pool: Arc<Mempool>,
    pub now: Nanos,
    pub pool_base: u32,
    /// `Some`: send through a registered region (`zero_copy`).
    zero_copy: Option<Eal>,
}

/// What a transfer against the SACK peer saw.
#[derive(Debug)]
pub struct SackOutcome {
    pub info: TcpInfo,
    pub stats: StackStats,
    pub peer: PeerStats,
    pub to_peer: LinkStats,
    pub to_stack: LinkStats,
    pub elapsed: Nanos,
}

impl SackSim {
    pub fn new(pool: Arc<Mempool>, to_peer: SimConfig, to_stack: SimConfig) -> Self {
        Self::with_config(pool, to_peer, to_stack, stack_config())
    }

    pub fn with_config(
        pool: Arc<Mempool>,
        to_peer: SimConfig,
        to_stack: SimConfig,
        cfg: StackConfig,
    ) -> Self {
        Self::with_offloads(pool, to_peer, to_stack, cfg, Offloads::default())
    }

    /// `with_config` on a simulated NIC that offers `offloads` (checksums, TSO,
    /// multi-segment TX), completing and cutting frames as hardware would.
    pub fn with_offloads(
        pool: Arc<Mempool>,
        to_peer: SimConfig,
        to_stack: SimConfig,
        cfg: StackConfig,
        offloads: Offloads,
    ) -> Self {
        let pool_base = pool.in_use();
        let now = SEC;
        let (wire, dev, peer) = SimWire::pair(to_peer, to_stack, pool.clone(), STACK_MAC);
        wire.borrow_mut().set_now(now);
        let stack = Stack::new(dev.with_offloads(offloads), pool.clone(), cfg, now);
        SackSim {
            wire,
            stack,
            peer: SackPeer::new(peer),
            pool,
            now,
            pool_base,
            zero_copy: None,
        }
    }

    /// Transfers send their data with zero copy: laid out in a hugepage region registered
    /// with the stack, queued with `send_region`.
    pub fn zero_copy(mut self, eal: &Eal) -> Self {
        self.zero_copy = Some(eal.clone());
        self
    }

    pub fn tick(&mut self) {
        self.wire.borrow_mut().deliver_due(self.now);
        self.stack.poll(self.now);
        self.peer.poll(self.now);
    }

    pub fn advance(&mut self) {
        let now = self.now;
        let mut t = now + MS;
        if let Some(w) = self.wire.borrow().next_event_time() {
            t = t.min(w);
        }
        if let Some(p) = self.peer.next_event() {
            t = t.min(p);
        }
        if self.stack.tx_backlog() > 0 {
            t = now;
        }
        self.now = t.max(now + 1000);
    }

    /// Connects, sends `data`, closes, and runs until our connection is freed and the peer
    /// has closed. Checks the bytes (SHA-256), that the connection never failed, and that
    /// every mbuf is back in the pool.
    pub fn transfer(&mut self, data: &[u8], limit: Nanos, what: &str) -> SackOutcome {
        self.transfer_observed(data, limit, what, |_, _| {})
    }

    /// `transfer`, calling `observe(now, info)` with the connection's state on every tick.
    pub fn transfer_observed(
        &mut self,
        data: &[u8],
        limit: Nanos,
        what: &str,
        mut observe: impl FnMut(Nanos, &TcpInfo),
    ) -> SackOutcome {
        let start = self.now;
        let id: ConnId = self
            .stack
            .connect(SocketAddrV4::new(PEER_IP, PORT), None)
            .expect("connect");
        let region = self.zero_copy.as_ref().map(|eal| {
            let mut r = TxRegion::new(eal, data.len().max(1), None).expect("TX region");
            r.fill(|b| b[..data.len()].copy_from_slice(data));
            self.stack.register_region(Arc::new(r)).expect("register")
        });
        let mut off = 0;
        let mut closed = false;
        let mut info = self.stack.info(id).unwrap();
        let end = start + limit;
        let mut done = false;
        while self.now < end {
            self.tick();
            if let Some(i) = self.stack.info(id) {
                assert_eq!(i.error, None, "{what}: connection failed: {i:?}");
                observe(self.now, &i);
                info = i;
            }
            while off < data.len() {
                let sent = match region {
                    Some(r) => self.stack.send_region(id, r, off, data.len() - off),
                    None => self.stack.send(id, &data[off..]),
                };
                match sent {
                    Ok(n) => off += n,
                    Err(IoError::WouldBlock) => break,
                    Err(e) => panic!("{what}: send failed at {off}: {e:?}"),
                }
            }
            self.stack.flush();
            if off == data.len() && !closed {
                self.stack.close(id).expect("close");
                self.stack.flush();
                closed = true;
            }
            if closed && self.stack.state(id).is_none() && self.peer.closed {
                done = true;
                break;
            }
            self.advance();
        }
        assert!(
            done,
            "{what}: did not finish in {} ms: sent {off}/{} received {} info {:?} peer {:?}",
            limit / MS,
            data.len(),
            self.peer.data.len(),
            self.stack.info(id),
            self.peer.stats
        );
        assert_eq!(self.peer.data.len(), data.len(), "{what}: byte count");
        assert!(
            sha256(&self.peer.data) == sha256(data),
            "{what}: SHA-256 differs"
        );
        assert_eq!(info.error, None);
        assert_eq!(self.stack.tx_backlog(), 0);
        // Let the wire drain so that no frame (mbuf) is left on it.
        for _ in 0..2000 {
            if self.wire.borrow().is_idle() {
                break;
            }
            self.tick();
            self.advance();
        }
        assert_eq!(
            self.pool.in_use(),
            self.pool_base,
            "{what}: every mbuf is back once the connection is done"
        );
        SackOutcome {
            info,
            stats: self.stack.stats(),
            peer: self.peer.stats,
            to_peer: self.wire.borrow().stats(Dir::ToPeer),
            to_stack: self.wire.borrow().stats(Dir::ToStack),
            elapsed: self.now - start,
        }
    }
}
