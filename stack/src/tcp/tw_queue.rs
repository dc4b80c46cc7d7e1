//! When TIME-WAIT records end: one FIFO per TIME-WAIT length, in the order the records were
//! entered (FreeBSD's `twq_2msl` list does the same). Every record of a FIFO lasts as long,
//! and the clock only moves on, so each FIFO is in order of its records' ends: expiry pops
//! its front while that is due, and knows which records come next. A load generator ends a
//! million records a second; through the timer wheel each one was a bucket entry written,
//! linked and walked back, where here it is 16 bytes appended to a ring and read in order.
//!
//! An entry carries the end it was queued for. A record whose TIME-WAIT restarted (a
//! retransmitted FIN) ends later than its entry says: it goes to the back again when the
//! entry comes up. A record ended early (`connect` took its tuple) leaves its entry behind,
//! and the entry no longer matches what the slot holds when it comes up: it is skipped.
use linerate_proto::timer::Nanos;
use std::collections::VecDeque;

/// One queued expiry: the record's slot, its index hash (so that the index line can be
/// prefetched without reading the record first) and the end it was queued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Due {
    pub(crate) slot: u32,
    pub(crate) hash: u32,
    pub(crate) end: Nanos,
}

/// The FIFOs, one per TIME-WAIT length in use (a stack has one or two).
#[derive(Debug, Default)]
pub(crate) struct TwQueue {
    fifos: Vec<(Nanos, VecDeque<Due>)>,
}

impl TwQueue {
    /// The FIFO of TIME-WAIT length `len`, made if new.
    fn fifo(&mut self, len: Nanos) -> &mut VecDeque<Due> {
        let i = match self.fifos.iter().position(|(l, _)| *l == len) {
            Some(i) => i,
            None => {
                self.fifos.push((len, VecDeque::new()));
                self.fifos.len() - 1
            }
        };
        &mut self.fifos[i].1
    }

    /// Queues `d`, which ends after a TIME-WAIT of `len`.
    pub(crate) fn push(&mut self, len: Nanos, d: Due) {
        self.fifo(len).push_back(d);
    }

    /// Room for `n` entries in the FIFO of TIME-WAIT length `len`, written once, so that
    /// neither growing the ring (a copy) nor the kernel's first touch of its pages falls on
    /// connections closing later.
    pub(crate) fn reserve(&mut self, len: Nanos, n: usize) {
        let q = self.fifo(len);
        if q.capacity() >= n {
            return;
        }
        let had: Vec<Due> = q.drain(..).collect();
        q.reserve(n);
        let blank = Due {
            slot: 0,
            hash: 0,
            end: 0,
        };
        q.resize(q.capacity(), blank);
        q.clear();
        q.extend(had);
    }

    /// How many FIFOs there are (they are numbered from 0).
    pub(crate) fn fifos(&self) -> usize {
        self.fifos.len()
    }

    /// The front of FIFO `f`, taken if it is due by `now`.
    pub(crate) fn pop_due(&mut self, f: usize, now: Nanos) -> Option<Due> {
        let q = &mut self.fifos.get_mut(f)?.1;
        match q.front() {
            Some(d) if d.end <= now => q.pop_front(),
            _ => None,
        }
    }

    /// The entry `k` places behind the front of FIFO `f`.
    pub(crate) fn peek(&self, f: usize, k: usize) -> Option<Due> {
        self.fifos.get(f)?.1.get(k).copied()
    }

    /// Entries queued, stale ones included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.fifos.iter().map(|(_, q)| q.len()).sum()
    }

    /// Heap bytes.
    pub(crate) fn memory(&self) -> usize {
        self.fifos
            .iter()
            .map(|(_, q)| q.capacity() * std::mem::size_of::<Due>())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(slot: u32, end: Nanos) -> Due {
        Due {
            slot,
            hash: slot * 7,
            end,
        }
    }

    /// All due entries of `q` by `now`, FIFO by FIFO.
    fn drain(q: &mut TwQueue, now: Nanos) -> Vec<u32> {
        let mut out = Vec::new();
        for f in 0..q.fifos() {
            while let Some(d) = q.pop_due(f, now) {
                assert_eq!(d.hash, d.slot * 7);
                out.push(d.slot);
            }
        }
        out
    }

    /// Each FIFO gives its due entries in order, and a shorter TIME-WAIT entered after a
    /// longer one is not held behind it.
    #[test]
    fn fifos_pop_due_entries_in_order() {
        let mut q = TwQueue::default();
        q.push(100, due(1, 100));
        q.push(100, due(2, 110));
        q.push(10, due(3, 25)); // entered at 15 with a shorter TIME-WAIT
        q.push(100, due(4, 130));
        assert_eq!(q.fifos(), 2);
        assert_eq!(drain(&mut q, 30), [3]);
        assert_eq!(q.peek(0, 1), Some(due(2, 110)));
        assert_eq!(q.peek(0, 3), None);
        assert_eq!(drain(&mut q, 110), [1, 2]);
        assert_eq!(q.len(), 1);
        assert_eq!(drain(&mut q, 129), Vec::<u32>::new());
        assert_eq!(drain(&mut q, 1000), [4]);
        assert_eq!(q.len(), 0);
        assert_eq!(q.pop_due(7, 1000), None, "no such FIFO");
    }

    /// A reserve keeps what is queued, and a reserved FIFO takes its entries without
    /// growing.
    #[test]
    fn reserve_keeps_entries_and_stops_growth() {
        let mut q = TwQueue::default();
        q.push(5, due(0, 5));
        q.reserve(5, 8);
        let reserved = q.memory();
        assert!(reserved >= 8 * 16, "{reserved}");
        for s in 1..8 {
            q.push(5, due(s, 5 + s as Nanos));
        }
        assert_eq!(q.memory(), reserved);
        assert_eq!(drain(&mut q, 100), [0, 1, 2, 3, 4, 5, 6, 7]);
    }
}
