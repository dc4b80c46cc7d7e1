//! The simulation device: an in-memory wire with loss, duplication, reordering, corruption
//! and delay, driven by a virtual clock.
//!
//! A [`SimWire`] holds two directions of frames in flight, each ordered by delivery time
//! (stable for equal times), and its own seeded PRNG per direction so that a run is a pure
//! function of its seeds. It is shared (`Rc<RefCell<_>>`) between a [`SimDevice`], which the
//! stack uses like a NIC queue pair, and a [`SimPeer`], through which a test (or an
//! independent TCP implementation) exchanges raw Ethernet frames with the stack.
//!
//! Frames the stack sends are copied out of their mbuf and the mbuf is dropped at once, so
//! the pool accounting is exactly that of a NIC that completed the send. Frames for the
//! stack are copied into fresh mbufs from the stack's pool when the stack polls; when the
//! pool is empty they stay queued (backpressure), as on a NIC whose RX ring has no buffers.
//!
//! Time never passes by itself: `deliver_due(now)` moves every frame due by `now` to its
//! receiver's queue, and [`SimWire::next_event_time`] tells a test how far it can jump.
//! Byte buffers are recycled, so after warm-up the wire allocates nothing.
use linerate_dpdk::Device;
use linerate_dpdk::{Mbuf, Mempool, Offloads, MAX_BURST};
use linerate_proto::timer::Nanos;
use linerate_proto::wire::checksum;
use linerate_proto::wire::ethernet::{EtherType, MacAddr};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

/// Impairments of one direction of the wire. Probabilities are per frame and independent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimConfig {
    /// Seeds this direction's PRNG.
    pub seed: u64,
    /// Probability a frame is lost.
    pub loss: f64,
    /// Probability a frame is delivered twice.
    pub dup: f64,
    /// Probability a frame is held back by an extra `reorder_delay`.
    pub reorder: f64,
    /// Probability one random bit past the Ethernet header is flipped.
    pub corrupt: f64,
    /// One-way propagation delay.
    pub delay: Nanos,
    /// Extra delay drawn uniformly from `[0, jitter]` per frame.
    pub jitter: Nanos,
    /// Extra delay of a reordered frame.
    pub reorder_delay: Nanos,
    /// Most frames `tx_burst` takes per call (the NIC's free TX descriptors): exercises
    /// backpressure. Only used in the stack's direction.
    pub tx_ring: usize,
    /// Bottleneck rate in bits per second (0: none). Frames are serialised one after
    /// another at this rate before the propagation delay.
    pub rate_bps: u64,
    /// The bottleneck's drop-tail queue in bytes, the frame being serialised included: a
    /// frame that would take it past this is dropped (a router's shallow buffer). Only with
    /// `rate_bps`; a single frame always fits.
    pub queue_bytes: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            loss: 0.0,
            dup: 0.0,
            reorder: 0.0,
            corrupt: 0.0,
            delay: 20_000,
            jitter: 0,
            reorder_delay: 200_000,
            tx_ring: 32,
            rate_bps: 0,
            queue_bytes: 0,
        }
    }
}

impl SimConfig {
    /// A perfect wire with the default delay, seeded.
    pub fn clean(seed: u64) -> Self {
        SimConfig {
            seed,
            ..Default::default()
        }
    }
}

/// splitmix64: a small, fast, well-mixed PRNG (no dependency, deterministic per seed).
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        SimRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (no draw when `p` is 0, so a clean wire stays cheap).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.next_f64() < p
    }

    /// Uniform in [0, n) (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Fills `buf` with pseudo-random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// One delivery of a frame decided by the impairment engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Copy {
    /// When it arrives.
    pub at: Nanos,
    /// Bit index (from the start of the frame) to flip, if corrupted.
    pub flip_bit: Option<usize>,
    pub reordered: bool,
}

/// What happens to one frame: zero (lost), one or two (duplicated) deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fate {
    pub n: usize,
    pub copies: [Copy; 2],
    /// Lost because the bottleneck's queue was full (not to random loss).
    pub queue_full: bool,
}

impl Fate {
    pub fn copies(&self) -> &[Copy] {
        &self.copies[..self.n]
    }
}

/// The decision engine of one direction: pure arithmetic over its PRNG, no buffers.
#[derive(Debug, Clone)]
pub struct Impairer {
    pub cfg: SimConfig,
    rng: SimRng,
    /// When the bottleneck finishes serialising what it holds.
    busy_until: Nanos,
}

const ETH_HDR_BITS: usize = 14 * 8;

impl Impairer {
    pub fn new(cfg: SimConfig) -> Self {
        Impairer {
            cfg,
            rng: SimRng::new(cfg.seed),
            busy_until: 0,
        }
    }

    /// Decides the fate of a frame of `len` bytes sent at `now`.
    pub fn decide(&mut self, now: Nanos, len: usize) -> Fate {
        let mut fate = Fate::default();
        if self.rng.chance(self.cfg.loss) {
            return fate;
        }
        // The bottleneck: serialised after what it already holds, or dropped at its tail.
        let mut sent = now;
        if self.cfg.rate_bps > 0 {
            let start = self.busy_until.max(now);
            let queued = ((start - now) as u128 * self.cfg.rate_bps as u128 / 8_000_000_000) as u64;
            if queued + len as u64 > self.cfg.queue_bytes.max(len as u64) {
                fate.queue_full = true;
                return fate;
            }
            let tx = (len as u128 * 8_000_000_000).div_ceil(self.cfg.rate_bps as u128) as Nanos;
            self.busy_until = start + tx;
            sent = self.busy_until;
        }
        fate.n = if self.rng.chance(self.cfg.dup) { 2 } else { 1 };
        for c in &mut fate.copies[..fate.n] {
            let mut at = sent + self.cfg.delay;
            if self.cfg.jitter > 0 {
                at += self.rng.below(self.cfg.jitter + 1);
            }
            if self.rng.chance(self.cfg.reorder) {
                at += self.cfg.reorder_delay;
                c.reordered = true;
            }
            if len * 8 > ETH_HDR_BITS && self.rng.chance(self.cfg.corrupt) {
                c.flip_bit =
                    Some(ETH_HDR_BITS + self.rng.below((len * 8 - ETH_HDR_BITS) as u64) as usize);
            }
            c.at = at;
        }
        fate
    }
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames put on the wire.
    pub sent: u64,
    /// Frames handed to the receiver (duplicates count twice).
    pub delivered: u64,
    pub dropped: u64,
    /// Of `dropped`: at the bottleneck's full queue.
    pub queue_drops: u64,
    pub duplicated: u64,
    pub corrupted: u64,
    pub reordered: u64,
    /// Frames for the stack that waited because its pool was empty (counted per attempt).
    pub rx_no_mbuf: u64,
    /// Frames for the stack too large for an mbuf (dropped).
    pub rx_oversize: u64,
    /// `tx_burst` calls that took fewer frames than offered (ring full).
    pub tx_partial: u64,
}

#[derive(Debug)]
struct Timed {
    at: Nanos,
    frame: Vec<u8>,
}

/// One direction: frames in flight (sorted by arrival), frames arrived and not yet read.
#[derive(Debug)]
struct Link {
    imp: Impairer,
    flight: VecDeque<Timed>,
    ready: VecDeque<Vec<u8>>,
    stats: LinkStats,
}

impl Link {
    fn new(cfg: SimConfig) -> Self {
        Link {
            imp: Impairer::new(cfg),
            flight: VecDeque::with_capacity(4096),
            ready: VecDeque::with_capacity(4096),
            stats: LinkStats::default(),
        }
    }
}

/// A direction of the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From the stack (`SimDevice`) to the peer (`SimPeer`).
    ToPeer = 0,
    /// From the peer to the stack.
    ToStack = 1,
}

/// The shared wire.
#[derive(Debug)]
pub struct SimWire {
    now: Nanos,
    links: [Link; 2],
    /// Recycled frame buffers.
    free: Vec<Vec<u8>>,
}

/// Frame buffers are allocated with room for a full Ethernet frame.
const BUF_CAP: usize = 2048;

impl SimWire {
    /// A wire with the given impairments towards the peer and towards the stack.
    pub fn new(to_peer: SimConfig, to_stack: SimConfig) -> Rc<RefCell<SimWire>> {
        Rc::new(RefCell::new(SimWire {
            now: 0,
            links: [Link::new(to_peer), Link::new(to_stack)],
            free: Vec::with_capacity(8192),
        }))
    }

    /// A wire plus both of its ends: the device for a stack on `pool` with `mac`, and the
    /// peer's end.
    pub fn pair(
        to_peer: SimConfig,
        to_stack: SimConfig,
        pool: Arc<Mempool>,
        mac: MacAddr,
    ) -> (Rc<RefCell<SimWire>>, SimDevice, SimPeer) {
        let w = SimWire::new(to_peer, to_stack);
        let dev = SimDevice::new(w.clone(), pool, mac);
        let peer = SimPeer::new(w.clone());
        (w, dev, peer)
    }

    /// Keeps `n` frame buffers ready, so that even a window's growth allocates nothing
    /// (for allocation-counting tests).
    pub fn prealloc(&mut self, n: usize) {
        self.free
            .reserve(n.saturating_sub(self.free.capacity() - self.free.len()));
        while self.free.len() < n {
            self.free.push(Vec::with_capacity(BUF_CAP));
        }
    }

    /// The time of the last `deliver_due`/`set_now`.
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// Sets the clock that stamps frames sent from now on (never moves backwards).
    pub fn set_now(&mut self, now: Nanos) {
        self.now = self.now.max(now);
    }

    /// Advances the clock to `now` and moves every frame due by then to its receiver.
    /// Returns how many frames arrived.
    pub fn deliver_due(&mut self, now: Nanos) -> usize {
        self.set_now(now);
        let mut n = 0;
        for l in &mut self.links {
            while l.flight.front().is_some_and(|t| t.at <= self.now) {
                let Some(t) = l.flight.pop_front() else { break };
                l.ready.push_back(t.frame);
                n += 1;
            }
        }
        n
    }

    /// When the next frame in flight arrives; `Some(now)` when frames are waiting to be
    /// read; `None` when the wire is empty.
    pub fn next_event_time(&self) -> Option<Nanos> {
        if self.links.iter().any(|l| !l.ready.is_empty()) {
            return Some(self.now);
        }
        self.links
            .iter()
            .filter_map(|l| l.flight.front().map(|t| t.at))
            .min()
    }

    /// Frames in flight (not yet arrived) in `dir`.
    pub fn in_flight(&self, dir: Dir) -> usize {
        self.links[dir as usize].flight.len()
    }

    /// Frames arrived and not yet read in `dir`.
    pub fn pending(&self, dir: Dir) -> usize {
        self.links[dir as usize].ready.len()
    }

    /// True when nothing is in flight or waiting in either direction.
    pub fn is_idle(&self) -> bool {
        self.links
            .iter()
            .all(|l| l.flight.is_empty() && l.ready.is_empty())
    }

    pub fn stats(&self, dir: Dir) -> LinkStats {
        self.links[dir as usize].stats
    }

    pub fn config(&self, dir: Dir) -> SimConfig {
        self.links[dir as usize].imp.cfg
    }

    /// Changes `dir`'s impairments from now on (its PRNG continues).
    pub fn config_mut(&mut self, dir: Dir) -> &mut SimConfig {
        &mut self.links[dir as usize].imp.cfg
    }

    /// Drops everything in flight and waiting in `dir` (a cable pull).
    pub fn flush(&mut self, dir: Dir) {
        let l = &mut self.links[dir as usize];
        let dropped = (l.flight.len() + l.ready.len()) as u64;
        l.stats.dropped += dropped;
        let flight: Vec<Vec<u8>> = l.flight.drain(..).map(|t| t.frame).collect();
        let ready: Vec<Vec<u8>> = l.ready.drain(..).collect();
        self.free.extend(flight);
        self.free.extend(ready);
    }

    fn buf(&mut self) -> Vec<u8> {
        self.free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BUF_CAP))
    }

    fn recycle(&mut self, mut b: Vec<u8>) {
        b.clear();
        if self.free.len() < self.free.capacity() {
            self.free.push(b);
        }
    }

    /// Puts a frame on the wire in `dir` at the current time, through the impairments.
    pub fn send(&mut self, dir: Dir, frame: &[u8]) {
        let now = self.now;
        let fate = self.links[dir as usize].imp.decide(now, frame.len());
        let l = &mut self.links[dir as usize].stats;
        l.sent += 1;
        if fate.n == 0 {
            l.dropped += 1;
            l.queue_drops += fate.queue_full as u64;
            return;
        }
        if fate.n == 2 {
            l.duplicated += 1;
        }
        for c in fate.copies() {
            let mut b = self.buf();
            b.extend_from_slice(frame);
            let link = &mut self.links[dir as usize];
            if let Some(bit) = c.flip_bit {
                b[bit / 8] ^= 1 << (bit % 8);
                link.stats.corrupted += 1;
            }
            if c.reordered {
                link.stats.reordered += 1;
            }
            // After every frame due at or before `c.at`: stable for equal times.
            let pos = if link.flight.back().is_none_or(|t| t.at <= c.at) {
                link.flight.len()
            } else {
                link.flight.partition_point(|t| t.at <= c.at)
            };
            link.flight.insert(pos, Timed { at: c.at, frame: b });
        }
    }

    /// Every frame in `dir` not yet read, arrived ones first, without taking them (a tap).
    pub fn frames(&self, dir: Dir) -> impl Iterator<Item = &[u8]> + '_ {
        let l = &self.links[dir as usize];
        l.ready
            .iter()
            .map(|f| f.as_slice())
            .chain(l.flight.iter().map(|t| t.frame.as_slice()))
    }

    /// Takes the next arrived frame in `dir`.
    pub fn recv(&mut self, dir: Dir) -> Option<Vec<u8>> {
        let l = &mut self.links[dir as usize];
        let f = l.ready.pop_front()?;
        l.stats.delivered += 1;
        Some(f)
    }

    /// Copies the next arrived frame in `dir` into `out` (replacing its contents) and
    /// recycles the wire's buffer. False when none is waiting.
    pub fn recv_into(&mut self, dir: Dir, out: &mut Vec<u8>) -> bool {
        let Some(f) = self.recv(dir) else {
            return false;
        };
        out.clear();
        out.extend_from_slice(&f);
        self.recycle(f);
        true
    }
}

/// The stack's end of the wire: a `Device`.
#[derive(Debug)]
pub struct SimDevice {
    wire: Rc<RefCell<SimWire>>,
    pool: Arc<Mempool>,
    mac: MacAddr,
    offloads: Offloads,
}

impl SimDevice {
    /// Offloads default to none (checksums in software).
    pub fn new(wire: Rc<RefCell<SimWire>>, pool: Arc<Mempool>, mac: MacAddr) -> Self {
        SimDevice {
            wire,
            pool,
            mac,
            offloads: Offloads::default(),
        }
    }

    /// Pretends the NIC offers TX checksum offloads: the device then completes the IPv4 and
    /// TCP checksums of outgoing frames, as hardware would. (RX offloads are not emulated:
    /// received mbufs never carry "checksum good" flags.)
    pub fn with_offloads(mut self, o: Offloads) -> Self {
        self.offloads = o;
        self
    }

    pub fn wire(&self) -> &Rc<RefCell<SimWire>> {
        &self.wire
    }

    pub fn pool(&self) -> &Arc<Mempool> {
        &self.pool
    }
}

/// What a NIC with checksum offloads does to an outgoing frame: fills in the IPv4 header
/// checksum and the full TCP checksum.
fn complete_checksums(f: &mut [u8], o: Offloads) {
    if f.len() < 34 || u16::from_be_bytes([f[12], f[13]]) != EtherType::IPV4 {
        return;
    }
    let ihl = ((f[14] & 0x0f) as usize) * 4;
    let total = u16::from_be_bytes([f[16], f[17]]) as usize;
    if ihl < 20 || f.len() < 14 + ihl || total < ihl || f.len() < 14 + total {
        return;
    }
    if o.tx_ipv4_cksum {
        f[24] = 0;
        f[25] = 0;
        let c = checksum::checksum(&f[14..14 + ihl]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
    }
    if o.tx_tcp_cksum && f[23] == 6 && total >= ihl + 20 {
        let src = std::net::Ipv4Addr::new(f[26], f[27], f[28], f[29]);
        let dst = std::net::Ipv4Addr::new(f[30], f[31], f[32], f[33]);
        let l4 = 14 + ihl;
        let len = total - ihl;
        f[l4 + 16] = 0;
        f[l4 + 17] = 0;
        let ph = checksum::pseudo_header_v4(src, dst, 6, len as u16);
        let c = checksum::fold(checksum::sum(&f[l4..l4 + len], ph));
        f[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
    }
}

impl Device for SimDevice {
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        let mut w = self.wire.borrow_mut();
        let mut n = 0;
        while n < MAX_BURST {
            let link = &mut w.links[Dir::ToStack as usize];
            let Some(len) = link.ready.front().map(|f| f.len()) else {
                break;
            };
            let Some(mut m) = self.pool.alloc() else {
                link.stats.rx_no_mbuf += 1;
                break;
            };
            let Some(f) = link.ready.pop_front() else {
                break;
            };
            match m.append(len) {
                Some(d) => {
                    d.copy_from_slice(&f);
                    link.stats.delivered += 1;
                    out.push(m);
                    n += 1;
                }
                None => link.stats.rx_oversize += 1,
            }
            w.recycle(f);
        }
        n
    }

    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let mut w = self.wire.borrow_mut();
        let ring = w.links[Dir::ToPeer as usize].imp.cfg.tx_ring.max(1);
        let n = pkts.len().min(ring);
        if n < pkts.len() {
            w.links[Dir::ToPeer as usize].stats.tx_partial += 1;
        }
        let offl = self.offloads;
        let mut scratch = w.buf();
        for m in pkts.drain(..n) {
            scratch.clear();
            scratch.extend_from_slice(m.data());
            drop(m); // the NIC is done with it: back to the pool (or to its other owner)
            if offl.tx_ipv4_cksum || offl.tx_tcp_cksum {
                complete_checksums(&mut scratch, offl);
            }
            w.send(Dir::ToPeer, &scratch);
        }
        w.recycle(scratch);
        n
    }

    fn mac(&self) -> MacAddr {
        self.mac
    }

    fn offloads(&self) -> Offloads {
        self.offloads
    }
}

/// The far end of the wire, for tests: raw Ethernet frames in and out.
#[derive(Debug, Clone)]
pub struct SimPeer {
    wire: Rc<RefCell<SimWire>>,
}

impl SimPeer {
    pub fn new(wire: Rc<RefCell<SimWire>>) -> Self {
        SimPeer { wire }
    }

    pub fn wire(&self) -> &Rc<RefCell<SimWire>> {
        &self.wire
    }

    /// Sends a frame towards the stack (through the impairments).
    pub fn send(&self, frame: &[u8]) {
        self.wire.borrow_mut().send(Dir::ToStack, frame);
    }

    /// The next frame the stack sent that has arrived.
    pub fn recv(&self) -> Option<Vec<u8>> {
        self.wire.borrow_mut().recv(Dir::ToPeer)
    }

    /// Like `recv`, copying into `out` and keeping the wire's buffer for reuse.
    pub fn recv_into(&self, out: &mut Vec<u8>) -> bool {
        self.wire.borrow_mut().recv_into(Dir::ToPeer, out)
    }

    /// Gives a buffer from `recv` back for reuse.
    pub fn recycle(&self, b: Vec<u8>) {
        self.wire.borrow_mut().recycle(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: SimConfig, frames: usize) -> Vec<Fate> {
        let mut imp = Impairer::new(cfg);
        (0..frames)
            .map(|i| imp.decide(i as Nanos * 1000, 1514))
            .collect()
    }

    #[test]
    fn sim_rng_is_deterministic_and_uniform() {
        let a: Vec<u64> = {
            let mut r = SimRng::new(42);
            (0..100).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = SimRng::new(42);
            (0..100).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = SimRng::new(43);
            (0..100).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut r = SimRng::new(7);
        let n = 100_000;
        let mean = (0..n).map(|_| r.next_f64()).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let mut hist = [0u32; 10];
        for _ in 0..n {
            hist[r.below(10) as usize] += 1;
        }
        for h in hist {
            assert!((h as f64 - 10_000.0).abs() < 500.0, "{hist:?}");
        }
    }

    #[test]
    fn sim_bottleneck_serialises_and_drops_at_the_tail() {
        // 1 Gbit/s: a 1250-byte frame takes 10 µs. The queue holds 2500 bytes, the frame
        // being serialised included.
        let mut imp = Impairer::new(SimConfig {
            rate_bps: 1_000_000_000,
            queue_bytes: 2500,
            delay: 1000,
            ..Default::default()
        });
        let at = |f: Fate| (f.n, f.queue_full, f.copies[0].at);
        assert_eq!(at(imp.decide(0, 1250)), (1, false, 10_000 + 1000));
        assert_eq!(at(imp.decide(0, 1250)), (1, false, 20_000 + 1000));
        assert_eq!(
            at(imp.decide(0, 1250)),
            (0, true, 0),
            "2500 bytes held: full"
        );
        // 15 µs later 625 bytes are left to send; one more frame fits.
        assert_eq!(at(imp.decide(15_000, 1250)), (1, false, 30_000 + 1000));
        assert_eq!(at(imp.decide(15_000, 1250)), (0, true, 0));
        // An idle link sends at once.
        assert_eq!(
            at(imp.decide(1_000_000, 1250)),
            (1, false, 1_010_000 + 1000)
        );
        // No rate: no queue.
        let mut free = Impairer::new(SimConfig::default());
        assert!((0..1000).all(|_| free.decide(0, 1514).n == 1));
    }

    #[test]
    fn sim_impairments_are_deterministic_per_seed() {
        let cfg = SimConfig {
            seed: 9,
            loss: 0.1,
            dup: 0.1,
            reorder: 0.1,
            corrupt: 0.1,
            jitter: 5000,
            ..Default::default()
        };
        assert_eq!(run(cfg, 5000), run(cfg, 5000));
        assert_ne!(run(cfg, 5000), run(SimConfig { seed: 10, ..cfg }, 5000));
    }

    #[test]
    fn sim_clean_wire_delivers_everything_once_in_order() {
        let fates = run(SimConfig::clean(3), 1000);
        for (i, f) in fates.iter().enumerate() {
            assert_eq!(f.n, 1);
            assert_eq!(
                f.copies[0],
                Copy {
                    at: i as Nanos * 1000 + 20_000,
                    flip_bit: None,
                    reordered: false
                }
            );
        }
    }

    #[test]
    fn sim_rates_within_tolerance() {
        let n = 200_000;
        for seed in 0..5u64 {
            for p in [0.01, 0.05, 0.3] {
                let cfg = SimConfig {
                    seed,
                    loss: p,
                    dup: p,
                    reorder: p,
                    corrupt: p,
                    ..Default::default()
                };
                let fates = run(cfg, n);
                let lost = fates.iter().filter(|f| f.n == 0).count() as f64 / n as f64;
                let kept: Vec<&Fate> = fates.iter().filter(|f| f.n > 0).collect();
                let dup = kept.iter().filter(|f| f.n == 2).count() as f64 / kept.len() as f64;
                let copies: Vec<&Copy> = kept.iter().flat_map(|f| f.copies().iter()).collect();
                let reord =
                    copies.iter().filter(|c| c.reordered).count() as f64 / copies.len() as f64;
                let corr = copies.iter().filter(|c| c.flip_bit.is_some()).count() as f64
                    / copies.len() as f64;
                // Binomial: 5 standard deviations.
                let tol = |k: f64| 5.0 * (p * (1.0 - p) / k).sqrt();
                assert!(
                    (lost - p).abs() < tol(n as f64),
                    "seed {seed} p {p}: loss {lost}"
                );
                assert!(
                    (dup - p).abs() < tol(kept.len() as f64),
                    "seed {seed} p {p}: dup {dup}"
                );
                assert!(
                    (reord - p).abs() < tol(copies.len() as f64),
                    "seed {seed} p {p}: reorder {reord}"
                );
                assert!(
                    (corr - p).abs() < tol(copies.len() as f64),
                    "seed {seed} p {p}: corrupt {corr}"
                );
                for c in copies {
                    if let Some(b) = c.flip_bit {
                        assert!(
                            (14 * 8..1514 * 8).contains(&b),
                            "bit {b} outside the frame past Ethernet"
                        );
                    }
                    let extra = if c.reordered { cfg.reorder_delay } else { 0 };
                    assert!(c.at >= cfg.delay + extra);
                }
            }
        }
    }

    #[test]
    fn sim_jitter_stays_in_range_and_total_loss_drops_all() {
        let cfg = SimConfig {
            seed: 5,
            jitter: 10_000,
            ..Default::default()
        };
        let fates = run(cfg, 10_000);
        let extra: Vec<Nanos> = fates
            .iter()
            .enumerate()
            .map(|(i, f)| f.copies[0].at - i as Nanos * 1000 - cfg.delay)
            .collect();
        assert!(extra.iter().all(|&e| e <= 10_000));
        assert!(extra.iter().any(|&e| e > 9_000) && extra.iter().any(|&e| e < 1_000));
        assert!(run(SimConfig { loss: 1.0, ..cfg }, 1000)
            .iter()
            .all(|f| f.n == 0));
        // Tiny frames (only an Ethernet header) are never corrupted.
        let mut imp = Impairer::new(SimConfig {
            corrupt: 1.0,
            ..cfg
        });
        assert_eq!(imp.decide(0, 14).copies[0].flip_bit, None);
    }

    #[test]
    fn sim_wire_orders_by_time_stably_and_counts() {
        // No mbufs involved: exercise the queues through the peer direction only.
        let w = SimWire::new(
            SimConfig::clean(1),
            SimConfig {
                seed: 2,
                reorder: 0.5,
                reorder_delay: 50_000,
                ..Default::default()
            },
        );
        let mut wire = w.borrow_mut();
        for i in 0..200u32 {
            wire.set_now(i as Nanos * 100);
            wire.send(Dir::ToStack, &i.to_be_bytes());
            wire.send(Dir::ToPeer, &i.to_be_bytes());
        }
        assert_eq!(wire.in_flight(Dir::ToStack), 200);
        let first = wire.next_event_time().unwrap();
        assert_eq!(first, 20_000);
        assert_eq!(wire.deliver_due(first - 1), 0);
        wire.deliver_due(10_000_000);
        assert!(!wire.is_idle() && wire.in_flight(Dir::ToStack) == 0);
        let mut got = Vec::new();
        while let Some(f) = wire.recv(Dir::ToStack) {
            got.push(u32::from_be_bytes(f[..4].try_into().unwrap()));
        }
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..200).collect::<Vec<_>>(),
            "nothing lost or duplicated"
        );
        assert_ne!(got, sorted, "some frames were reordered");
        let s = wire.stats(Dir::ToStack);
        assert_eq!((s.sent, s.delivered, s.dropped), (200, 200, 0));
        assert!(s.reordered > 50 && s.reordered < 150, "{s:?}");
        // The clean direction keeps order exactly.
        let mut buf = Vec::new();
        let mut i = 0u32;
        while wire.recv_into(Dir::ToPeer, &mut buf) {
            assert_eq!(buf, i.to_be_bytes());
            i += 1;
        }
        assert_eq!(i, 200);
        assert!(wire.is_idle());
        assert_eq!(wire.next_event_time(), None);
    }

    #[test]
    fn sim_offload_emulation_fills_checksums() {
        // Ethernet + IPv4 + TCP(20) + 3 bytes payload with zeroed checksums.
        let mut f = vec![0u8; 14 + 20 + 23];
        f[12] = 0x08;
        f[14] = 0x45;
        f[16..18].copy_from_slice(&43u16.to_be_bytes());
        f[22] = 64;
        f[23] = 6;
        f[26..30].copy_from_slice(&[198, 18, 0, 1]);
        f[30..34].copy_from_slice(&[198, 18, 0, 2]);
        f[34 + 12] = 5 << 4;
        f[54..57].copy_from_slice(b"abc");
        complete_checksums(
            &mut f,
            Offloads {
                tx_ipv4_cksum: true,
                tx_tcp_cksum: true,
                ..Default::default()
            },
        );
        assert_eq!(
            checksum::checksum(&f[14..34]),
            0,
            "IPv4 header sums to zero"
        );
        let ph = checksum::pseudo_header_v4([198, 18, 0, 1].into(), [198, 18, 0, 2].into(), 6, 23);
        assert_eq!(
            checksum::fold(checksum::sum(&f[34..], ph)),
            0,
            "TCP segment sums to zero"
        );
    }
}
