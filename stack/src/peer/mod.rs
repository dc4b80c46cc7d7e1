//! An in-process TCP receiver that answers everything: the "ACK peer" of the benchmark
//! protocol (design.md §6). It wraps a device (net_null, net_ring, or anything), watches the
//! frames the stack hands to it, and feeds back ARP replies, SYN-ACKs, cumulative ACKs (one
//! per `ack_every` data segments, like a delayed-ACK receiver) and FIN-ACKs on the RX side.
//! With it the stack's full per-segment cost (copy, transmit, ACK processing, freeing) can be
//! measured on one core without a network.
mod frames;

use crate::ehash::Ehash;
use crate::hash::TupleHasher;
use frames::{build, fill_ack, BaseFrames, Ends, Hdr, ACK_FRAME_LEN, SYN_ACK_LEN};

use linerate_dpdk::{Device, Mbuf, Mempool, Offloads};
use linerate_proto::wire::arp::{self, ArpOp, ArpPacket};
use linerate_proto::wire::ethernet::{EtherType, EthernetFrame, MacAddr};
use linerate_proto::wire::ipv4::{Ipv4Packet, Protocol};
use linerate_proto::wire::tcp::{flags, TcpOptions, TcpPacket};
use linerate_proto::wire::{ETH_HEADER_LEN, IPV4_HEADER_LEN, TCP_HEADER_LEN};
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// The receiver's per-connection state.
#[derive(Debug, Clone, Copy)]
struct PeerConn {
    /// The stack's address on this connection (one of several with source ranges).
    stack_ip: Ipv4Addr,
    our_port: u16,
    rcv_nxt: u32,
    snd_nxt: u32,
    ts_recent: u32,
    ts_on: bool,
    pending_segs: u32,
    fin_acked: bool,
    /// On the `owed` list.
    owed: bool,
    /// Request bytes received since the last response.
    req_got: u32,
}

/// A connection of the peer: (stack address, stack port, peer port).
type Key = (Ipv4Addr, u16, u16);

/// The receiver's state of one connection and, once timestamps are on, its prebuilt
/// pure-ACK frame with sequence, ACK and echo zero, and the partial sum of the rest.
#[derive(Debug, Clone, Copy)]
struct PeerEntry {
    c: PeerConn,
    tmpl: Option<([u8; ACK_FRAME_LEN], u32)>,
}

/// Counters of the peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Data segments the stack sent to the peer.
    pub data_segs: u64,
    /// Their payload bytes.
    pub data_bytes: u64,
    /// Segments the peer answered with (SYN-ACKs, ACKs, FIN-ACKs).
    pub acks_sent: u64,
    /// Data segments that did not start at the peer's `rcv_nxt`.
    pub out_of_order: u64,
    /// Answers lost because the pool had no mbuf (the stack sees them as lost ACKs).
    pub alloc_failures: u64,
    /// Most frames waiting for the stack's RX at once.
    pub rxq_max: u64,
    /// Response bytes sent (`respond`).
    pub resp_bytes: u64,
}

/// What `tx_burst` noted about one frame, processed when the stack next polls RX.
#[derive(Debug, Clone, Copy)]
enum Seen {
    ArpRequest {
        mac: MacAddr,
        ip: Ipv4Addr,
    },
    Tcp {
        src: Ipv4Addr,
        sport: u16,
        dport: u16,
        seq: u32,
        len: u32,
        /// MSS segments the frame stands for (more than one for a TSO frame).
        segs: u32,
        fl: u8,
        tsval: Option<u32>,
    },
}

/// The ACK peer: wraps a device and answers the stack's frames on its RX side.
pub struct AckPeer<D: Device> {
    inner: D,
    pool: Arc<Mempool>,
    /// The peer's MAC (what the stack resolves by ARP).
    pub peer_mac: MacAddr,
    /// The peer's IPv4 address.
    pub peer_ip: Ipv4Addr,
    stack_mac: MacAddr,
    /// Advertised window in bytes (scaled by `wscale`).
    pub window: u32,
    /// Window scale shift the peer announces.
    pub wscale: u8,
    /// Data segments per cumulative ACK (2 is a delayed-ACK receiver).
    pub ack_every: u32,
    /// Request/response: after every `.0` bytes received in order, send `.1` bytes of data
    /// back (zeros), which also ACKs the request; `None`: receive only.
    pub respond: Option<(u32, u32)>,
    /// Connections by (stack address, stack port, peer port): a hash table of slots in
    /// `entries`, so that a million connections cost what one does, and no entry (with its
    /// pure-ACK frame) moves when the hot one changes.
    conns: Ehash<Key>,
    entries: Vec<PeerEntry>,
    free_entries: Vec<u32>,
    /// The connection of the last frame and its slot: the frames of a unit are one
    /// connection's in a row, so most frames need no hashing at all.
    hot: Option<(Key, u32)>,
    /// Each stack address's base frames (`frames`).
    bases: HashMap<Ipv4Addr, BaseFrames, TupleHasher>,
    seen: Vec<Seen>,
    /// Connections holding back an ACK (fewer than `ack_every` segments since the last):
    /// answered at the end of the batch, as a receiver ACKs once its receive queue is
    /// drained, instead of leaving an odd last segment to the sender's loss probe.
    owed: Vec<Key>,
    rxq: VecDeque<Mbuf>,
    /// Mbufs taken in bulk for the ACKs of one `process` call; what is left goes back at its
    /// end, so the pool's figures never count the peer holding any.
    spare: Vec<Mbuf>,
    /// Offloads presented to the stack instead of the inner device's (`emulate_offloads`).
    offloads: Option<Offloads>,
    /// Counters.
    pub stats: PeerStats,
}

impl<D: Device> AckPeer<D> {
    /// A peer at `peer_ip` answering in mbufs from `pool`. It answers each connection at the
    /// address its SYN came from, so the stack's address (`_stack_ip`, kept for callers) is
    /// not needed: a stack with several source addresses is served as one with one.
    pub fn new(inner: D, pool: Arc<Mempool>, _stack_ip: Ipv4Addr, peer_ip: Ipv4Addr) -> Self {
        let stack_mac = inner.mac();
        AckPeer {
            inner,
            pool,
            peer_mac: MacAddr([0x02, 0, 0xc6, 0x13, 0xbe, 0xef]),
            peer_ip,
            stack_mac,
            window: 16 << 20,
            wscale: 9,
            ack_every: 2,
            respond: None,
            conns: Ehash::with_capacity(64, (Ipv4Addr::UNSPECIFIED, 0, 0)),
            entries: Vec::new(),
            free_entries: Vec::new(),
            hot: None,
            bases: HashMap::with_hasher(TupleHasher::new()),
            seen: Vec::with_capacity(4096),
            owed: Vec::with_capacity(256),
            rxq: VecDeque::with_capacity(4096),
            spare: Vec::with_capacity(SPARE_BATCH),
            offloads: None,
            stats: PeerStats::default(),
        }
    }

    /// Presents the port to the stack as doing IPv4 and TCP checksums in hardware, as a
    /// ConnectX or E810 does, so that the stack's offload path can be measured on a device
    /// that has none (net_null). Nothing fills the checksums in: this peer never reads them,
    /// so frames leave with the pseudo-header sum only. An emulation, to be labelled so.
    pub fn emulate_offloads(mut self) -> Self {
        let mut o = self.inner.offloads();
        o.tx_ipv4_cksum = true;
        o.tx_tcp_cksum = true;
        o.tx_multi_seg = true;
        self.offloads = Some(o);
        self
    }

    /// As [`AckPeer::emulate_offloads`], and TSO too: the stack hands over frames of up to
    /// 64 KiB with `tso_segsz` set, and the peer counts each as the MSS segments a NIC would
    /// cut it into (one ACK per frame, as a GRO receiver gives). An emulation, labelled so.
    pub fn emulate_tso(self) -> Self {
        let mut p = self.emulate_offloads();
        if let Some(o) = p.offloads.as_mut() {
            o.tx_tso = true;
        }
        p
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// What frame `m` is. Headers are in its first segment; the payload may be chained
    /// after them (zero-copy frames) and, as a TSO frame, span several segments' worth.
    fn note(&self, m: &Mbuf) -> Option<Seen> {
        let eth = EthernetFrame::new_checked(m.data()).ok()?;
        match eth.ethertype() {
            EtherType::ARP => {
                let a = ArpPacket::new_checked(eth.payload()).ok()?;
                (a.operation() == ArpOp::REQUEST && a.target_ip() == self.peer_ip).then(|| {
                    Seen::ArpRequest {
                        mac: a.sender_mac(),
                        ip: a.sender_ip(),
                    }
                })
            }
            EtherType::IPV4 => {
                // Only the header must be in the first segment; the total length covers the
                // chained payload too.
                let l3 = eth.payload();
                if l3.len() < IPV4_HEADER_LEN {
                    return None;
                }
                let ip = Ipv4Packet::new_unchecked(l3);
                let ihl = ip.header_len();
                if ihl < IPV4_HEADER_LEN || ihl > l3.len() {
                    return None;
                }
                if ip.dst() != self.peer_ip || ip.protocol() != Protocol::TCP {
                    return None;
                }
                let t = TcpPacket::new_checked(&l3[ihl..]).ok()?;
                let len = (ip.total_len() as usize)
                    .checked_sub(ihl + t.header_len())?
                    .min(m.pkt_len()) as u32;
                // A pure ACK asks nothing of a receiver that sends only in answer to data, a
                // SYN or a FIN (each of which brings a newer timestamp to echo): not looked
                // up at all. The last ACK of every connection-rate connection is one.
                if len == 0 && t.flags() & (flags::SYN | flags::FIN | flags::RST) == 0 {
                    return None;
                }
                // The usual NOP, NOP, timestamps read in place; anything else parsed (a SYN's
                // usual layout fast too).
                let tsval = match t.options() {
                    [1, 1, 8, 10, v @ ..] if v.len() == 8 => {
                        Some(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
                    }
                    o => TcpOptions::parse_fast(o)
                        .ok()
                        .and_then(|o| o.timestamps)
                        .map(|(v, _)| v),
                };
                let segsz = m.tso_segsz() as u32;
                let segs = if segsz > 0 { len.div_ceil(segsz) } else { 1 };
                Some(Seen::Tcp {
                    src: ip.src(),
                    sport: t.src_port(),
                    dport: t.dst_port(),
                    seq: t.seq_number(),
                    len,
                    segs,
                    fl: t.flags(),
                    tsval,
                })
            }
            _ => None,
        }
    }

    fn process(&mut self) {
        let seen = std::mem::take(&mut self.seen);
        // Frames up to `ahead` belong to connections already prefetched.
        let mut ahead = 0;
        for (i, s) in seen.iter().enumerate() {
            if i >= ahead {
                ahead = self.prefetch(&seen[i..]) + i;
            }
            match *s {
                Seen::ArpRequest { mac, ip } => self.arp_reply(mac, ip),
                Seen::Tcp {
                    src,
                    sport,
                    dport,
                    seq,
                    len,
                    segs,
                    fl,
                    tsval,
                } => self.tcp((src, sport, dport), seq, (len, segs), fl, tsval),
            }
        }
        self.seen = seen;
        self.seen.clear();
        let mut owed = std::mem::take(&mut self.owed);
        for key in owed.drain(..) {
            self.ack_owed(key);
        }
        self.owed = owed;
        Mbuf::free_bulk(&mut self.spare);
    }

    /// Starts the misses of the connections `seen` names, all at once: their table
    /// entries, then their states. One at a time, with many connections, they were most of
    /// the peer's cost (as the stack's own demux, `Stack::prefetch_conns`).
    /// Covers the next `PREFETCH_AHEAD` connections (a unit's frames are one connection's
    /// in a row); returns how many frames of `seen` they span.
    fn prefetch(&self, seen: &[Seen]) -> usize {
        if self.conns.len() < 256 {
            return seen.len();
        }
        let mut keys = [((Ipv4Addr::UNSPECIFIED, 0, 0), 0u64); PREFETCH_AHEAD];
        let (mut n, mut spanned) = (0, seen.len());
        for (i, s) in seen.iter().enumerate() {
            if let Seen::Tcp {
                src, sport, dport, ..
            } = *s
            {
                let key = (src, sport, dport);
                if n > 0 && keys[n - 1].0 == key {
                    continue;
                }
                if n == PREFETCH_AHEAD {
                    spanned = i;
                    break;
                }
                let h = self.conns.hash(&key);
                self.conns.prefetch(h);
                keys[n] = (key, h);
                n += 1;
            }
        }
        for (key, h) in &keys[..n] {
            if let Some(e) = self
                .conns
                .get_hashed(key, *h)
                .and_then(|i| self.entries.get(i as usize))
            {
                linerate_dpdk::prefetch(e, 2);
            }
        }
        spanned.max(1)
    }

    /// Who the peer is on the wire, from its (public, settable) fields.
    fn ends(&self) -> Ends {
        Ends {
            stack_mac: self.stack_mac,
            peer_mac: self.peer_mac,
            peer_ip: self.peer_ip,
            window: self.window,
            wscale: self.wscale,
        }
    }

    /// The base frames for stack address `ip`, built on first use (and again if the peer's
    /// addresses or window changed since).
    fn base(&mut self, ip: Ipv4Addr) -> &BaseFrames {
        let ends = self.ends();
        let b = self
            .bases
            .entry(ip)
            .or_insert_with(|| BaseFrames::new(&ends, ip));
        if b.ends != ends {
            *b = BaseFrames::new(&ends, ip);
        }
        b
    }

    /// Connection `c`'s SYN-ACK (sequence `iss`) to the stack's port `stack_port`, and its
    /// pure-ACK template if it has timestamps, from one look-up of its base frames (a
    /// connection-rate run opens a million connections a second).
    fn syn_ack(
        &mut self,
        stack_port: u16,
        c: PeerConn,
        iss: u32,
    ) -> Option<([u8; ACK_FRAME_LEN], u32)> {
        let m = self.alloc();
        let b = self.base(c.stack_ip);
        let tmpl = c.ts_on.then(|| b.ack_template(c.our_port, stack_port));
        let h = Hdr {
            stack_ip: c.stack_ip,
            stack_port,
            our_port: c.our_port,
            seq: iss,
            ack: c.rcv_nxt,
            ts_recent: c.ts_recent,
            ts_on: true,
            fl: flags::SYN | flags::ACK,
            syn: true,
        };
        let syn = m.and_then(|mut m| {
            b.write_syn_ack(m.append(SYN_ACK_LEN)?, &h);
            Some(m)
        });
        if let Some(m) = syn {
            self.stats.acks_sent += 1;
            self.rxq.push_back(m);
        }
        tmpl
    }

    /// An mbuf for a frame to the stack, from a bulk allocation (one call per few ACKs).
    fn alloc(&mut self) -> Option<Mbuf> {
        if self.spare.is_empty() && !self.pool.alloc_bulk(&mut self.spare, SPARE_BATCH) {
            let m = self.pool.alloc();
            self.stats.alloc_failures += m.is_none() as u64;
            return m;
        }
        self.spare.pop()
    }

    fn arp_reply(&mut self, mac: MacAddr, ip: Ipv4Addr) {
        let Some(mut m) = self.alloc() else {
            return;
        };
        let Some(b) = m.append(arp::FRAME_LEN) else {
            return;
        };
        if arp::emit_frame(b, ArpOp::REPLY, mac, self.peer_mac, self.peer_ip, mac, ip).is_ok() {
            self.rxq.push_back(m);
        }
    }

    /// Makes connection `key` the hot one (`self.hot`); false when there is no such one.
    #[inline]
    fn make_hot(&mut self, key: Key) -> bool {
        if self.hot.is_none_or(|(k, _)| k != key) {
            let Some(i) = self.conns.get(&key) else {
                return false;
            };
            self.hot = Some((key, i));
        }
        true
    }

    /// Drops connection `key`, hot or not.
    fn forget(&mut self, key: Key) {
        if self.hot.is_some_and(|(k, _)| k == key) {
            self.hot = None;
        }
        if let Some(i) = self.conns.remove(&key) {
            self.free_entries.push(i);
        }
    }

    fn tcp(&mut self, key: Key, seq: u32, (len, segs): (u32, u32), fl: u8, tsval: Option<u32>) {
        if fl & flags::RST != 0 {
            self.forget(key);
            return;
        }
        let (stack_ip, sport, dport) = key;
        if fl & flags::SYN != 0 {
            let iss = 0x1000_0000u32.wrapping_add(sport as u32 * 7919);
            let c = PeerConn {
                stack_ip,
                our_port: dport,
                rcv_nxt: seq.wrapping_add(1),
                snd_nxt: iss.wrapping_add(1),
                ts_recent: tsval.unwrap_or(0),
                ts_on: tsval.is_some(),
                pending_segs: 0,
                fin_acked: false,
                owed: false,
                req_got: 0,
            };
            let tmpl = self.syn_ack(sport, c, iss);
            let e = PeerEntry { c, tmpl };
            let i = match self.free_entries.pop() {
                Some(i) => {
                    self.entries[i as usize] = e;
                    i
                }
                None => {
                    self.entries.push(e);
                    (self.entries.len() - 1) as u32
                }
            };
            // A SYN on a tuple the peer still holds (a reused port) starts it afresh.
            if let Some(old) = self.conns.insert(key, i) {
                self.free_entries.push(old);
            }
            self.hot = Some((key, i));
            return;
        }
        let every = self.ack_every;
        // In place: copying the entry out and back stalled on store forwarding, per segment.
        if !self.make_hot(key) {
            return;
        }
        let Some(e) = self.hot.and_then(|(_, i)| self.entries.get_mut(i as usize)) else {
            return;
        };
        let c = &mut e.c;
        if let Some(v) = tsval {
            c.ts_recent = v;
        }
        let mut ack_now = false;
        if len > 0 {
            if seq == c.rcv_nxt {
                c.rcv_nxt = c.rcv_nxt.wrapping_add(len);
                c.pending_segs += segs;
                ack_now = c.pending_segs >= every || fl & flags::PSH != 0;
                if !ack_now && !c.owed {
                    c.owed = true;
                    self.owed.push(key);
                }
                self.stats.data_segs += segs as u64;
                self.stats.data_bytes += len as u64;
            } else {
                self.stats.out_of_order += 1;
                ack_now = true;
            }
        }
        if fl & flags::FIN != 0 && seq.wrapping_add(len) == c.rcv_nxt && !c.fin_acked {
            c.rcv_nxt = c.rcv_nxt.wrapping_add(1);
            c.fin_acked = true;
            c.pending_segs = 0;
            // ACK the FIN and close our side at once (FIN+ACK). Both sides closed: forget it
            // (the last ACK finds nothing and needs nothing), so that a connection-rate run
            // does not grow the table without end.
            self.answer(sport, flags::FIN);
            self.forget(key);
            return;
        }
        let responses = match self.respond {
            Some((req, _)) if len > 0 && seq.wrapping_add(len) == c.rcv_nxt => {
                c.req_got += len;
                let n = c.req_got / req.max(1);
                c.req_got %= req.max(1);
                n
            }
            _ => 0,
        };
        if responses > 0 {
            c.pending_segs = 0; // the response carries the ACK
            let c = *c;
            self.respond_with(key, c, responses);
            return;
        }
        if ack_now {
            c.pending_segs = 0;
            self.answer(key.1, 0);
        }
    }

    /// Sends `n` responses on connection `key`, in segments of at most an MSS.
    fn respond_with(&mut self, key: Key, mut c: PeerConn, n: u32) {
        let Some((_, resp)) = self.respond else {
            return;
        };
        let seg_max = if c.ts_on { 1448 } else { 1460 };
        let mut left = resp as u64 * n as u64;
        while left > 0 {
            let len = left.min(seg_max) as u32;
            left -= len as u64;
            let fl = flags::ACK | if left == 0 { flags::PSH } else { 0 };
            self.emit_data(key.1, c, c.snd_nxt, fl, false, len);
            c.snd_nxt = c.snd_nxt.wrapping_add(len);
            self.stats.resp_bytes += len as u64;
        }
        if self.make_hot(key) {
            if let Some(e) = self.hot.and_then(|(_, i)| self.entries.get_mut(i as usize)) {
                e.c.snd_nxt = c.snd_nxt;
            }
        }
    }

    /// The ACK connection `key` holds back, if it still does.
    fn ack_owed(&mut self, key: Key) {
        if !self.make_hot(key) {
            return;
        }
        let Some(e) = self.hot.and_then(|(_, i)| self.entries.get_mut(i as usize)) else {
            return;
        };
        e.c.owed = false;
        if e.c.pending_segs > 0 {
            e.c.pending_segs = 0;
            self.answer(key.1, 0);
        }
    }

    /// Sends the hot connection's cumulative ACK (with flags `extra`, FIN, added), written from
    /// its prebuilt frame in place (no copy of the frame) when it has one.
    fn answer(&mut self, sport: u16, extra: u8) {
        let m = self.alloc();
        let (c, frame) = match self.hot.and_then(|(_, i)| self.entries.get(i as usize)) {
            Some(e) => (e.c, e.tmpl.as_ref().filter(|_| e.c.ts_on)),
            None => return,
        };
        if let (Some(mut m), Some((f, sum))) = (m, frame) {
            if fill_ack(&mut m, f, *sum, (c.snd_nxt, c.rcv_nxt, c.ts_recent), extra) {
                self.stats.acks_sent += 1;
                self.rxq.push_back(m);
            }
        } else {
            self.emit(sport, c, c.snd_nxt, flags::ACK | extra, false);
        }
    }

    /// Writes one segment from the peer to the stack into an mbuf on the RX queue (pure ACKs
    /// go through `answer` once the connection has its prebuilt frame).
    fn emit(&mut self, stack_port: u16, c: PeerConn, seq: u32, fl: u8, syn: bool) {
        self.emit_data(stack_port, c, seq, fl, syn, 0);
    }

    /// `emit` with `len` bytes of payload (zeros) after the header.
    fn emit_data(&mut self, stack_port: u16, c: PeerConn, seq: u32, fl: u8, syn: bool, len: u32) {
        let Some(mut m) = self.alloc() else {
            return;
        };
        let opt_len = if syn {
            20
        } else if c.ts_on {
            12
        } else {
            0
        };
        let total = ETH_HEADER_LEN + IPV4_HEADER_LEN + TCP_HEADER_LEN + opt_len + len as usize;
        let Some(b) = m.append(total) else { return };
        let h = Hdr {
            stack_ip: c.stack_ip,
            stack_port,
            our_port: c.our_port,
            seq,
            ack: c.rcv_nxt,
            ts_recent: c.ts_recent,
            ts_on: c.ts_on,
            fl,
            syn,
        };
        build(b, &self.ends(), &h);
        self.stats.acks_sent += 1;
        self.rxq.push_back(m);
    }
}

/// Connections of `seen` prefetched together.
const PREFETCH_AHEAD: usize = 16;

/// Mbufs per bulk allocation of ACK frames.
const SPARE_BATCH: usize = 8;

impl<D: Device> Device for AckPeer<D> {
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        self.process();
        self.stats.rxq_max = self.stats.rxq_max.max(self.rxq.len() as u64);
        let n = self.rxq.len().min(linerate_dpdk::MAX_BURST);
        out.extend(self.rxq.drain(..n));
        n
    }

    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        // Note each frame before the device owns it, keep only what it accepted: the stack
        // hands the rest over again later.
        const MAX: usize = 64;
        let k = pkts.len().min(MAX);
        // Notes go straight onto `seen`; `noted` marks the frames that gave one, so that the
        // notes of frames the device did not take can be dropped again.
        let base = self.seen.len();
        let mut noted = 0u64;
        for (i, m) in pkts.iter().take(k).enumerate() {
            if let Some(s) = self.note(m) {
                self.seen.push(s);
                noted |= 1 << i;
            }
        }
        let n = if pkts.len() > MAX {
            let mut rest = pkts.split_off(MAX);
            let n = self.inner.tx_burst(pkts);
            pkts.append(&mut rest);
            n
        } else {
            self.inner.tx_burst(pkts)
        };
        let taken = if n >= MAX {
            noted
        } else {
            noted & ((1u64 << n) - 1)
        };
        self.seen.truncate(base + taken.count_ones() as usize);
        n
    }

    fn mac(&self) -> MacAddr {
        self.inner.mac()
    }

    fn offloads(&self) -> Offloads {
        self.offloads.unwrap_or_else(|| self.inner.offloads())
    }

    fn tx_done_cleanup(&mut self) {
        self.inner.tx_done_cleanup();
    }
}
