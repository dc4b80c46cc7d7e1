//! TIME-WAIT without the connection block (the kernel's `inet_timewait_sock`: `tcp_time_wait`
//! and `tcp_timewait_state_process` in `tcp_minisocks.c`). A connection the app has closed
//! that reaches TIME-WAIT gives its block back and leaves a 56-byte record behind, enough to
//! answer a retransmitted FIN, keep PAWS, and let `connect` reuse the 4-tuple (RFC 6191).
//! A load generator opening a million connections a second holds a second or two of them:
//! as blocks that was a gigabyte written once and read once; as records it is a few dozen
//! megabytes. The records have their own table, so the live connections' index stays small.
use super::stateless::Bare;
use super::tw_index::TwIndex;
use super::tw_queue::{Due, TwQueue};
use super::{seq_ge, seq_lt, Tcb};
use crate::ehash::FlowHasher;
use crate::hash::Tuple;
use linerate_proto::timer::{Nanos, MS, SEC};
use linerate_proto::wire::tcp::flags;
use std::net::Ipv4Addr;

/// Slots of the per-port record counts at first (they double with the records, to 65 536).
const MIN_PORT_SLOTS: usize = 1024;

/// How far behind the record being ended expiry starts the misses of the one it will end
/// later: its record and its index line, each a random place in tens of megabytes.
const EXPIRE_AHEAD: usize = 16;

/// How long a record must have been in TIME-WAIT before `connect` may take its 4-tuple
/// (Linux's `tcp_tw_reuse`, which waits for the timestamp clock to move on by a second).
pub(crate) const TW_REUSE_AGE: Nanos = SEC;

/// One TIME-WAIT record.
#[derive(Debug, Clone, Copy)]
struct TwSock {
    key: Tuple,
    snd_nxt: u32,
    rcv_nxt: u32,
    ts_recent: u32,
    ts_offset: u32,
    /// When TIME-WAIT ends.
    end: Nanos,
    /// The end its entry in the expiry queue was made for (a restart moves `end` later).
    queued: Nanos,
    time_wait_us: u32,
    /// The key's hash, which the index files the record under.
    hash: u32,
    /// The window field of our ACKs (already scaled).
    window: u16,
    ts_on: bool,
    live: bool,
}

/// The stack's TIME-WAIT records ([`crate::StackStats::time_wait`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeWaitStats {
    /// Records held now.
    pub held: usize,
    /// Tuples `connect` took before TIME-WAIT ended.
    pub reused: u64,
    /// Connections that skipped TIME-WAIT because the table was full (the kernel's
    /// "time wait bucket table overflow").
    pub overflow: u64,
    /// Segments that reached a record.
    pub segs_in: u64,
    /// ACKs the records sent.
    pub acks: u64,
    /// RSTs ignored (RFC 1337: an RST must not end TIME-WAIT early).
    pub rst_ignored: u64,
}

impl TimeWaitStats {
    /// Adds another stack's.
    pub fn add(&mut self, o: &TimeWaitStats) {
        self.held += o.held;
        self.reused += o.reused;
        self.overflow += o.overflow;
        self.segs_in += o.segs_in;
        self.acks += o.acks;
        self.rst_ignored += o.rst_ignored;
    }
}

/// What a segment to a TIME-WAIT record asks of the caller.
pub(crate) enum TwVerdict {
    /// Nothing to send.
    Drop,
    /// Send this ACK.
    Ack(Bare),
}

/// The TIME-WAIT records of one stack: a slab, its free list, a 4-tuple index and the queue
/// of their ends.
#[derive(Debug)]
pub(crate) struct TimeWaitTable {
    socks: Vec<TwSock>,
    free: Vec<u32>,
    index: TwIndex,
    queue: TwQueue,
    hasher: FlowHasher,
    /// Records per local port, ports folded onto a power-of-two table that grows with the
    /// records (to one slot per port): `connect` asks about each tuple it would take, and its
    /// walk goes port by port, so a zero here (a line read in order) answers "none" without
    /// a miss into the index. Folded, a few thousand records cost kilobytes, not 256 KiB.
    on_port: Vec<u32>,
    max: usize,
    counters: TimeWaitStats,
}

impl TimeWaitTable {
    /// A table that holds at most `max` records.
    pub(crate) fn new(max: usize) -> Self {
        TimeWaitTable {
            socks: Vec::new(),
            free: Vec::new(),
            index: TwIndex::new(),
            queue: TwQueue::default(),
            hasher: FlowHasher::new(),
            on_port: vec![0; MIN_PORT_SLOTS],
            max,
            counters: TimeWaitStats::default(),
        }
    }

    /// Makes room for `n` records (at most the table's limit) of TIME-WAIT length `len` (as
    /// `ConnCfg::time_wait` gives it, the length its connections' records are queued by), and
    /// writes it once, so that neither growing the slab, index and queue nor the kernel's
    /// first touch of their pages falls on connections closing later.
    pub(crate) fn reserve(&mut self, n: usize, len: Nanos) {
        let n = n.min(self.max);
        if n <= self.socks.len() {
            return;
        }
        self.queue.reserve(len, n);
        let vacant = TwSock {
            key: (Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0, 0),
            snd_nxt: 0,
            rcv_nxt: 0,
            ts_recent: 0,
            ts_offset: 0,
            end: 0,
            queued: 0,
            time_wait_us: 0,
            hash: 0,
            window: 0,
            ts_on: false,
            live: false,
        };
        let had = self.socks.len();
        self.socks.reserve_exact(n - had);
        linerate_dpdk::advise_huge_pages(self.socks.spare_capacity_mut());
        self.socks.resize(n, vacant);
        self.socks.truncate(had);
        self.free.reserve(n.saturating_sub(self.free.len()));
        self.index.reserve(n);
        if n > self.on_port.len() * 4 {
            self.refold_ports((n / 4).next_power_of_two().min(1 << 16));
        }
    }

    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// What the records did, and how many there are.
    pub(crate) fn stats(&self) -> TimeWaitStats {
        TimeWaitStats {
            held: self.len(),
            ..self.counters
        }
    }

    /// Heap bytes: the slab, the index and the queue.
    pub(crate) fn memory(&self) -> usize {
        self.socks.capacity() * std::mem::size_of::<TwSock>()
            + self.free.capacity() * 4
            + self.index.memory()
            + self.queue.memory()
            + self.on_port.capacity() * 4
    }

    /// The index's 32 bits of the key's hash: the top half, where it is well mixed.
    fn hash(&self, key: &Tuple) -> u32 {
        (self.hasher.hash(key) >> 32) as u32
    }

    /// `tcp_time_wait`: a record for `tcb` (in TIME-WAIT, with its end in `close_at`); false
    /// when the table is full (the connection then ends without TIME-WAIT, as in Linux).
    /// A connection the app let go after its TIME-WAIT began is queued behind the records
    /// entered before it: it may end that much late, never early.
    pub(crate) fn enter(&mut self, tcb: &Tcb, now: Nanos) -> bool {
        if self.len() >= self.max {
            self.counters.overflow += 1;
            return false;
        }
        let time_wait = tcb.cfg.time_wait();
        let end = tcb.close_at.get().unwrap_or(now + time_wait);
        let key = (tcb.local_ip, tcb.remote_ip, tcb.remote_port, tcb.local_port);
        // A live connection's tuple has no record (`connect` takes it), so none is looked for.
        let hash = self.hash(&key);
        let sock = TwSock {
            key,
            snd_nxt: tcb.snd_nxt,
            rcv_nxt: tcb.rcv_nxt,
            ts_recent: tcb.ts_recent,
            ts_offset: tcb.ts_offset,
            end,
            queued: end,
            time_wait_us: (time_wait / 1000).min(u32::MAX as Nanos) as u32,
            hash,
            window: (tcb.rcv_wnd() >> tcb.rcv_wscale).min(0xffff) as u16,
            ts_on: tcb.ts_on,
            live: true,
        };
        let slot = match self.free.pop() {
            Some(i) => {
                self.socks[i as usize] = sock;
                i
            }
            None => {
                let cap = self.socks.capacity();
                self.socks.push(sock);
                if self.socks.capacity() != cap {
                    linerate_dpdk::advise_huge_pages(self.socks.spare_capacity_mut());
                }
                (self.socks.len() - 1) as u32
            }
        };
        self.index.insert(hash, slot);
        self.queue.push(time_wait, Due { slot, hash, end });
        let folded = self.fold(key.3);
        self.on_port[folded] += 1;
        if self.index.len() > self.on_port.len() * 4 && self.on_port.len() < 1 << 16 {
            self.refold_ports(self.on_port.len() * 2);
        }
        true
    }

    /// The record on `key`, if any.
    pub(crate) fn find(&self, key: &Tuple) -> Option<u32> {
        if self.on_port[self.fold(key.3)] == 0 {
            return None;
        }
        let socks = &self.socks;
        self.index.find(self.hash(key), |slot| {
            socks.get(slot as usize).is_some_and(|s| s.key == *key)
        })
    }

    /// Whether `connect` may take `key` from its record: one that used timestamps and has
    /// been in TIME-WAIT for at least [`TW_REUSE_AGE`] (RFC 6191: the successor's higher
    /// TSvals let the peer's PAWS tell old duplicates from new segments).
    pub(crate) fn reusable(&self, slot: u32, now: Nanos) -> bool {
        self.socks.get(slot as usize).is_some_and(|s| {
            let began = s.end.saturating_sub(s.time_wait_us as Nanos * 1000);
            s.live && s.ts_on && began.saturating_add(TW_REUSE_AGE) <= now
        })
    }

    /// Ends the record on `key` for a new connection to take the tuple.
    pub(crate) fn take(&mut self, key: &Tuple) {
        if let Some(slot) = self.find(key) {
            self.release(slot);
            self.counters.reused += 1;
        }
    }

    /// Ends the record in `slot` (live, as the index holds only live ones).
    fn release(&mut self, slot: u32) {
        let s = &mut self.socks[slot as usize];
        s.live = false;
        let (hash, port) = (s.hash, s.key.3);
        self.index.remove(hash, slot);
        let folded = self.fold(port);
        self.on_port[folded] -= 1;
        self.free.push(slot);
    }

    /// The slot of `port`'s count.
    #[inline]
    fn fold(&self, port: u16) -> usize {
        port as usize & (self.on_port.len() - 1)
    }

    /// Recounts the live records per port into `slots` slots.
    fn refold_ports(&mut self, slots: usize) {
        self.on_port = vec![0; slots];
        for s in self.socks.iter().filter(|s| s.live) {
            self.on_port[s.key.3 as usize & (slots - 1)] += 1;
        }
    }

    /// Ends every record whose TIME-WAIT is over by `now`. Each one ended starts the misses
    /// of the record `EXPIRE_AHEAD` places behind it (due soon if not now), so that they are
    /// over when its turn comes.
    pub(crate) fn expire(&mut self, now: Nanos) {
        for f in 0..self.queue.fifos() {
            while let Some(d) = self.queue.pop_due(f, now) {
                if let Some(a) = self.queue.peek(f, EXPIRE_AHEAD) {
                    if let Some(s) = self.socks.get(a.slot as usize) {
                        linerate_dpdk::prefetch(s, 1);
                    }
                    self.index.prefetch(a.hash);
                }
                self.expire_one(d, now);
            }
        }
    }

    /// Queue entry `d` came up: its record ends, goes to the back of the queue (its
    /// TIME-WAIT restarted), or is not the entry's any more (ended early, the slot perhaps
    /// another record's since) and has a later entry of its own.
    fn expire_one(&mut self, d: Due, now: Nanos) {
        let Some(s) = self.socks.get_mut(d.slot as usize) else {
            return;
        };
        if !s.live || s.queued != d.end {
            return;
        }
        if s.end <= now {
            self.release(d.slot);
            return;
        }
        s.queued = s.end;
        let len = s.time_wait_us as Nanos * 1000;
        let again = Due { end: s.end, ..d };
        self.queue.push(len, again);
    }

    /// `tcp_timewait_state_process` for a segment of `seg_flags`, `seq`, `len` payload bytes
    /// and TSval `tsval` (if any) to `slot`. A retransmitted FIN (the peer lost our last ACK)
    /// is ACKed again and TIME-WAIT restarts (RFC 9293 §3.10.7.4; its queue entry, made for
    /// the old end, requeues it for the new one); a segment with data, SYN or an old
    /// timestamp gets an ACK that shows where we are; an RST is ignored (RFC 1337: TIME-WAIT
    /// is what guards the tuple against old duplicates, so a stray RST must not end it); a
    /// bare ACK gets nothing, so that two ends cannot ACK each other forever.
    pub(crate) fn rcv(
        &mut self,
        slot: u32,
        seg_flags: u8,
        seq: u32,
        len: u32,
        tsval: Option<u32>,
        now: Nanos,
    ) -> TwVerdict {
        self.counters.segs_in += 1;
        let Some(s) = self.socks.get_mut(slot as usize).filter(|s| s.live) else {
            return TwVerdict::Drop;
        };
        if seg_flags & flags::RST != 0 {
            self.counters.rst_ignored += 1;
            return TwVerdict::Drop;
        }
        let paws_reject = s.ts_on && tsval.is_some_and(|v| seq_lt(v, s.ts_recent));
        let fin_again =
            seg_flags & flags::FIN != 0 && seq.wrapping_add(len).wrapping_add(1) == s.rcv_nxt;
        if fin_again && !paws_reject {
            if let Some(v) = tsval.filter(|v| seq_ge(*v, s.ts_recent)) {
                s.ts_recent = v;
            }
            s.end = now + s.time_wait_us as Nanos * 1000;
        } else if !paws_reject && seg_flags & (flags::SYN | flags::FIN) == 0 && len == 0 {
            return TwVerdict::Drop;
        }
        self.counters.acks += 1;
        TwVerdict::Ack(Bare {
            local: (s.key.0, s.key.3),
            remote: (s.key.1, s.key.2),
            seq: s.snd_nxt,
            ack: s.rcv_nxt,
            flags: flags::ACK,
            window: s.window,
            ts: s
                .ts_on
                .then(|| (((now / MS) as u32).wrapping_add(s.ts_offset), s.ts_recent)),
        })
    }
}
