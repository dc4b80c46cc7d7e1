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
use linerate_dpdk::Mempool;
use linerate_proto::timer::Nanos;
use linerate_proto::wire::ethernet::MacAddr;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

mod device;
mod impair;
mod multiq;

pub use device::{SimDevice, SimPeer};
pub use impair::{Copy, Fate, Impairer, SimConfig, SimRng};
pub use multiq::{SimMultiQueue, SimQueue};

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
    /// TSO frames the device cut into segments (`SimDevice::with_offloads` with `tx_tso`).
    pub tso_frames: u64,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
