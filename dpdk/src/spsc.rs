//! A bounded single-producer single-consumer ring for handing messages between two cores
//! (the stack's cross-thread handle), built so that a hand-off moves one slot's cache lines
//! and nothing else.
//!
//! Each slot carries its own sequence number, written by the producer with the value: the
//! consumer polls the slot at its head, never an index the producer writes. The producer
//! knows how far it may go from a copy of the consumer's head, which it reads again only
//! when that copy says the ring is full. So on the common path the producer writes one slot
//! and the consumer reads it: one transfer between the cores, where a queue of shared head
//! and tail indices (an MPMC array queue, or rte_ring) moves three or four.
//!
//! It lives in this crate because the slots need `unsafe` (values written and read in place),
//! and this is the crate that holds linerate's `unsafe`.
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One slot: a pair of cache lines (the spatial prefetcher brings the second with the first).
#[repr(align(128))]
struct Slot<T> {
    /// `lap position + 1` once the value for that position is written.
    seq: AtomicU64,
    val: UnsafeCell<MaybeUninit<T>>,
}

/// The consumer's head, on a line of its own.
#[repr(align(128))]
struct Head(AtomicU64);

struct Ring<T> {
    slots: Box<[Slot<T>]>,
    mask: u64,
    head: Head,
}

// SAFETY: a value is written by the producer only while its slot is free (the consumer's head
// has passed it) and read by the consumer only after the Release store of its sequence
// number, which it reads with Acquire; each value moves between threads once, so `T: Send`
// is enough.
unsafe impl<T: Send> Sync for Ring<T> {}
// SAFETY: as above; the ring owns the values in its slots.
unsafe impl<T: Send> Send for Ring<T> {}

/// The writing end.
pub struct Producer<T> {
    ring: Arc<Ring<T>>,
    tail: u64,
    /// The consumer's head as last read: positions before `head_seen + capacity` are free.
    head_seen: u64,
}

/// The reading end.
pub struct Consumer<T> {
    ring: Arc<Ring<T>>,
    head: u64,
}

/// A ring of at least `capacity` slots (rounded up to a power of two, at least 2).
pub fn spsc<T: Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let n = capacity.max(2).next_power_of_two();
    let slots = (0..n)
        .map(|_| Slot {
            seq: AtomicU64::new(0),
            val: UnsafeCell::new(MaybeUninit::uninit()),
        })
        .collect();
    let ring = Arc::new(Ring {
        slots,
        mask: n as u64 - 1,
        head: Head(AtomicU64::new(0)),
    });
    (
        Producer {
            ring: ring.clone(),
            tail: 0,
            head_seen: 0,
        },
        Consumer { ring, head: 0 },
    )
}

impl<T: Send> Producer<T> {
    /// Appends `v`; gives it back when the ring is full.
    #[inline]
    pub fn push(&mut self, v: T) -> Result<(), T> {
        let cap = self.ring.mask + 1;
        if self.tail - self.head_seen >= cap {
            self.head_seen = self.ring.head.0.load(Ordering::Acquire);
            if self.tail - self.head_seen >= cap {
                return Err(v);
            }
        }
        let s = &self.ring.slots[(self.tail & self.ring.mask) as usize];
        // SAFETY: the consumer's head is past this position's previous lap (checked above,
        // and its Acquire load pairs with the consumer's Release store after it read the
        // value), so nobody reads or writes this slot until the Release store below.
        unsafe { (*s.val.get()).write(v) };
        s.seq.store(self.tail + 1, Ordering::Release);
        self.tail += 1;
        Ok(())
    }

    /// Slots the ring has.
    pub fn capacity(&self) -> usize {
        self.ring.slots.len()
    }
}

impl<T: Send> Consumer<T> {
    /// Takes the oldest value, if one is there.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let s = &self.ring.slots[(self.head & self.ring.mask) as usize];
        if s.seq.load(Ordering::Acquire) != self.head + 1 {
            return None;
        }
        // SAFETY: the Acquire load saw this position's Release store: the value is written,
        // and the producer does not touch the slot again until the head store below.
        let v = unsafe { (*s.val.get()).assume_init_read() };
        self.head += 1;
        self.ring.head.0.store(self.head, Ordering::Release);
        Some(v)
    }

    /// True when no value is waiting.
    pub fn is_empty(&self) -> bool {
        let s = &self.ring.slots[(self.head & self.ring.mask) as usize];
        s.seq.load(Ordering::Acquire) != self.head + 1
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // Values written and never read: the consumer's head is where the unread ones start
        // (both ends are gone, so nothing moves now).
        let head = *self.head.0.get_mut();
        for s in self.slots.iter_mut() {
            // A slot's last value was for position `seq - 1`: unread if at or after the head.
            if *s.seq.get_mut() > head {
                // SAFETY: written (sequence stored) and never read (at or after the head).
                unsafe { s.val.get_mut().assume_init_drop() };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_capacity_and_drop() {
        let (mut p, mut c) = spsc::<Arc<u32>>(3);
        assert_eq!(p.capacity(), 4);
        let v = Arc::new(7);
        for _ in 0..4 {
            p.push(v.clone()).unwrap();
        }
        assert!(p.push(v.clone()).is_err(), "full at four");
        assert_eq!(Arc::strong_count(&v), 5);
        assert!(c.pop().is_some() && c.pop().is_some());
        p.push(v.clone()).unwrap();
        assert!(!c.is_empty());
        drop((p, c));
        assert_eq!(Arc::strong_count(&v), 1, "the three unread were dropped");
    }

    #[test]
    fn two_threads_keep_order() {
        let (mut p, mut c) = spsc::<u64>(8);
        let t = std::thread::spawn(move || {
            for i in 0..200_000u64 {
                let mut v = i;
                while let Err(back) = p.push(v) {
                    v = back;
                    std::hint::spin_loop();
                }
            }
        });
        let mut want = 0;
        while want < 200_000 {
            if let Some(v) = c.pop() {
                assert_eq!(v, want);
                want += 1;
            }
        }
        t.join().unwrap();
        assert!(c.pop().is_none());
    }
}
