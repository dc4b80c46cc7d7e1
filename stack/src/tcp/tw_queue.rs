//! When TIME-WAIT records end: one FIFO per TIME-WAIT length, in the order the records were
//! entered (FreeBSD's `twq_2msl` list does the same). Every record of a FIFO lasts as long,
//! and the clock only moves on, so each FIFO is in order of its records' ends: expiry pops
//! its front while that is due. A load generator ends a million records a second; through
//! the timer wheel each one was a bucket entry written, linked and walked back, where here
//! it is 16 bytes appended to a ring and read in order.
//!
//! An entry carries the end it was queued for. A record whose TIME-WAIT restarted (a
//! retransmitted FIN) ends later than its entry says: it goes to the back again when the
//! entry comes up. A record ended early (`connect` took its tuple) leaves its entry behind,
//! and the entry no longer matches what the slot holds when it comes up: it is skipped.
use linerate_proto::timer::Nanos;
use std::collections::VecDeque;

/// One queued expiry: the record's slot and the end it was queued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Due {
    pub(crate) slot: u32,
    pub(crate) end: Nanos,
}

/// The FIFOs, one per TIME-WAIT length in use (a stack has one or two).
#[derive(Debug, Default)]
pub(crate) struct TwQueue {
    fifos: Vec<(Nanos, VecDeque<Due>)>,
}

impl TwQueue {
    /// Queues `slot`, which ends at `end` after a TIME-WAIT of `len`.
    pub(crate) fn push(&mut self, len: Nanos, slot: u32, end: Nanos) {
        let d = Due { slot, end };
        match self.fifos.iter_mut().find(|(l, _)| *l == len) {
            Some((_, q)) => q.push_back(d),
            None => self.fifos.push((len, VecDeque::from([d]))),
        }
    }

    /// Room for `n` entries in the FIFO of TIME-WAIT length `len`, written once, so that
    /// neither growing the ring (a copy) nor the kernel's first touch of its pages falls on
    /// connections closing later.
    pub(crate) fn reserve(&mut self, len: Nanos, n: usize) {
        let i = match self.fifos.iter().position(|(l, _)| *l == len) {
            Some(i) => i,
            None => {
                self.fifos.push((len, VecDeque::new()));
                self.fifos.len() - 1
            }
        };
        let q = &mut self.fifos[i].1;
        if q.capacity() >= n {
            return;
        }
        let had: Vec<Due> = q.drain(..).collect();
        q.reserve(n);
        q.resize(q.capacity(), Due { slot: 0, end: 0 });
        q.clear();
        q.extend(had);
    }

    /// Takes the entries due by `now`, oldest first per FIFO, into `out` (at most `max`).
    pub(crate) fn pop_due(&mut self, now: Nanos, max: usize, out: &mut Vec<Due>) {
        for (_, q) in self.fifos.iter_mut() {
            while out.len() < max {
                match q.front() {
                    Some(d) if d.end <= now => {
                        out.push(*d);
                        q.pop_front();
                    }
                    _ => break,
                }
            }
        }
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

    /// Each FIFO gives its due entries in order, and a shorter TIME-WAIT entered after a
    /// longer one is not held behind it.
    #[test]
    fn fifos_pop_due_entries_in_order() {
        let mut q = TwQueue::default();
        q.push(100, 1, 100);
        q.push(100, 2, 110);
        q.push(10, 3, 25); // entered at 15 with a shorter TIME-WAIT
        q.push(100, 4, 130);
        let mut out = Vec::new();
        q.pop_due(30, 16, &mut out);
        assert_eq!(out, vec![Due { slot: 3, end: 25 }]);
        out.clear();
        q.pop_due(110, 16, &mut out);
        assert_eq!(out.iter().map(|d| d.slot).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(q.len(), 1);
        out.clear();
        q.pop_due(1000, 16, &mut out);
        assert_eq!(out, vec![Due { slot: 4, end: 130 }]);
        assert_eq!(q.len(), 0);
    }

    /// `max` bounds one call; the rest stay queued, in order. A reserve keeps what is
    /// queued, and a reserved FIFO takes its entries without growing.
    #[test]
    fn pop_due_stops_at_max() {
        let mut q = TwQueue::default();
        q.push(5, 0, 5);
        q.reserve(5, 8);
        let reserved = q.memory();
        assert!(reserved >= 8 * 16, "{reserved}");
        for s in 1..8 {
            q.push(5, s, 5 + s as Nanos);
        }
        assert_eq!(q.memory(), reserved);
        let mut out = Vec::new();
        q.pop_due(100, 3, &mut out);
        assert_eq!(out.iter().map(|d| d.slot).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(q.len(), 5);
    }
}
