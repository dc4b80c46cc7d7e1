//! Progress across workers: each worker publishes its running totals in relaxed atomics a
//! few times a second, and the main lcore's worker prints their sums once a second. Nothing
//! here is on the data path's hot loop but a time check.
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A worker's running totals.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Totals {
    pub acked: u64,
    pub tx_frames: u64,
    pub established: u64,
    pub retrans: u64,
    /// Connections opened so far (grows through a --cps run).
    pub opened: u64,
}

/// One worker's slot, on its own cache line so that workers never write a shared line.
#[derive(Default)]
#[repr(align(64))]
struct Slot {
    acked: AtomicU64,
    tx_frames: AtomicU64,
    established: AtomicU64,
    retrans: AtomicU64,
    opened: AtomicU64,
}

/// The slots of every worker.
pub(super) struct Board {
    slots: Vec<Slot>,
}

impl Board {
    pub fn new(workers: usize) -> Self {
        Board {
            slots: (0..workers).map(|_| Slot::default()).collect(),
        }
    }

    /// How many workers publish here.
    pub fn workers(&self) -> usize {
        self.slots.len()
    }

    /// Worker `i`'s totals now.
    pub fn publish(&self, i: usize, t: &Totals) {
        if let Some(s) = self.slots.get(i) {
            s.acked.store(t.acked, Relaxed);
            s.tx_frames.store(t.tx_frames, Relaxed);
            s.established.store(t.established, Relaxed);
            s.retrans.store(t.retrans, Relaxed);
            s.opened.store(t.opened, Relaxed);
        }
    }

    /// The sum of what every worker last published.
    pub fn sum(&self) -> Totals {
        self.slots.iter().fold(Totals::default(), |a, s| Totals {
            acked: a.acked + s.acked.load(Relaxed),
            tx_frames: a.tx_frames + s.tx_frames.load(Relaxed),
            established: a.established + s.established.load(Relaxed),
            retrans: a.retrans + s.retrans.load(Relaxed),
            opened: a.opened + s.opened.load(Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_last_published_totals() {
        let b = Board::new(2);
        let t = |n| Totals {
            acked: n,
            tx_frames: 2 * n,
            established: 1,
            retrans: n / 10,
            opened: n + 1,
        };
        b.publish(0, &t(100));
        b.publish(1, &t(10));
        b.publish(1, &t(30)); // replaces, not adds
        b.publish(7, &t(1_000)); // no such worker: ignored
        let s = b.sum();
        assert_eq!(
            (s.acked, s.tx_frames, s.established, s.retrans, s.opened),
            (130, 260, 2, 13, 132)
        );
    }
}
