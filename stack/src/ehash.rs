//! The established-connection table (the kernel's `inet_ehash`): a 4-tuple to a slot, in
//! one open-addressed array whose entries hold the key and the slot together.
//!
//! With 100 000 connections a lookup in `std`'s map missed twice, one after the other (its
//! control bytes, then the bucket), and the demux of a burst of ACKs paid those misses
//! frame by frame. Here a key's entry is in the line its hash names or a few after it
//! (linear probing at most three quarters full: a hit reads 2.5 entries on average, 40
//! bytes, where half full cost twice the memory per connection at unlucky sizes), and
//! [`Ehash::prefetch`] starts that miss early, so
//! that a burst's lookups all miss at once before the first is processed.
//!
//! Removal shifts the entries after it back (no tombstones), so a long-lived table of
//! connections that come and go never fills with dead entries.
use std::hash::BuildHasher;
use std::net::Ipv4Addr;

/// A key as two words, for the table's own hash: two multiplies, where hashing the tuple
/// field by field (addresses byte by byte) took ten, paid again for every entry a removal
/// shifts (a connection-rate run removes a million a second).
pub(crate) trait FlowKey: Copy + Eq {
    fn words(&self) -> (u64, u64);
}

impl FlowKey for (Ipv4Addr, Ipv4Addr, u16, u16) {
    #[inline]
    fn words(&self) -> (u64, u64) {
        let (a, b, c, d) = *self;
        (
            u64::from(u32::from(a)) << 32 | u64::from(u32::from(b)),
            u64::from(c) << 16 | u64::from(d),
        )
    }
}

impl FlowKey for (Ipv4Addr, u16, u16) {
    #[inline]
    fn words(&self) -> (u64, u64) {
        let (a, b, c) = *self;
        (u64::from(u32::from(a)), u64::from(b) << 16 | u64::from(c))
    }
}

/// The keyed two-multiply hash of a [`FlowKey`]: the established table's, and the TIME-WAIT
/// records' (which enter and leave a million a second under a connection-rate load). The
/// top bits are the well-mixed ones. The seed is random per hasher: only our own
/// connections are hashed, and a peer cannot aim them at one chain without it.
#[derive(Clone, Copy)]
pub(crate) struct FlowHasher {
    seed: (u64, u64),
}

impl FlowHasher {
    pub(crate) fn new() -> Self {
        let r = std::collections::hash_map::RandomState::new();
        FlowHasher {
            seed: (r.hash_one(1u8), r.hash_one(2u8)),
        }
    }

    #[inline]
    pub(crate) fn hash<K: FlowKey>(&self, key: &K) -> u64 {
        let (a, b) = key.words();
        let h = (a ^ self.seed.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h.rotate_left(29) ^ b ^ self.seed.1).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
    }
}

impl std::fmt::Debug for FlowHasher {
    /// The seed stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FlowHasher")
    }
}

/// A slot value that marks an empty entry.
const EMPTY: u32 = u32::MAX;

/// Smallest table, entries.
const MIN_CAP: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Entry<K> {
    key: K,
    val: u32,
}

/// A key to `u32` map for fixed-size keys (4-tuples); `u32::MAX` is not a valid value.
#[derive(Clone)]
pub(crate) struct Ehash<K> {
    v: Vec<Entry<K>>,
    /// `64 - log2(capacity)`: a hash's top bits pick its home entry (the multiply in the
    /// hash mixes upwards, so the top bits are the well-mixed ones).
    shift: u32,
    len: usize,
    /// Random per table.
    hasher: FlowHasher,
    /// The key empty entries hold (any key: `val` says the entry is empty).
    blank: K,
}

impl<K> std::fmt::Debug for Ehash<K> {
    /// Sizes only: the seed stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ehash")
            .field("len", &self.len)
            .field("capacity", &self.v.len())
            .finish()
    }
}

impl<K: FlowKey> Ehash<K> {
    /// A table sized for `n` keys without growing; `blank` is any key.
    pub(crate) fn with_capacity(n: usize, blank: K) -> Self {
        let cap = (n * 4).div_ceil(3).max(MIN_CAP).next_power_of_two();
        Ehash {
            v: Self::empty(cap, blank),
            shift: 64 - cap.trailing_zeros(),
            len: 0,
            hasher: FlowHasher::new(),
            blank,
        }
    }

    fn empty(cap: usize, blank: K) -> Vec<Entry<K>> {
        vec![
            Entry {
                key: blank,
                val: EMPTY,
            };
            cap
        ]
    }

    /// The hash of `key`, for `prefetch` and `get_hashed`.
    #[inline]
    pub(crate) fn hash(&self, key: &K) -> u64 {
        self.hasher.hash(key)
    }

    #[inline]
    fn home(&self, h: u64) -> usize {
        (h >> self.shift) as usize
    }

    /// Starts loading the entry a key of hash `h` lives at (a hint, no effect otherwise).
    #[inline]
    pub(crate) fn prefetch(&self, h: u64) {
        if let Some(e) = self.v.get(self.home(h)) {
            linerate_dpdk::prefetch(e, 1);
        }
    }

    /// The index of `key`'s entry.
    #[inline]
    fn find(&self, key: &K, h: u64) -> Option<usize> {
        let mask = self.v.len() - 1;
        let mut i = self.home(h);
        loop {
            let e = &self.v[i];
            if e.val == EMPTY {
                return None;
            }
            if e.key == *key {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The value of `key`, whose hash is `h` (from [`Ehash::hash`]).
    #[inline]
    pub(crate) fn get_hashed(&self, key: &K, h: u64) -> Option<u32> {
        self.find(key, h).map(|i| self.v[i].val)
    }

    /// The value of `key`.
    #[inline]
    pub(crate) fn get(&self, key: &K) -> Option<u32> {
        self.get_hashed(key, self.hash(key))
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `val` (not `u32::MAX`); returns the value it replaced.
    pub(crate) fn insert(&mut self, key: K, val: u32) -> Option<u32> {
        debug_assert_ne!(val, EMPTY);
        if (self.len + 1) * 4 > self.v.len() * 3 {
            self.grow();
        }
        let h = self.hash(&key);
        let mask = self.v.len() - 1;
        let mut i = self.home(h);
        loop {
            let e = &mut self.v[i];
            if e.val == EMPTY {
                *e = Entry { key, val };
                self.len += 1;
                return None;
            }
            if e.key == key {
                return Some(std::mem::replace(&mut e.val, val));
            }
            i = (i + 1) & mask;
        }
    }

    /// Takes `key` out; returns its value.
    pub(crate) fn remove(&mut self, key: &K) -> Option<u32> {
        let mut hole = self.find(key, self.hash(key))?;
        let val = self.v[hole].val;
        let mask = self.v.len() - 1;
        // Backward shift: an entry after the hole moves into it unless its home lies
        // (cyclically) after the hole and at or before the entry, where it already is
        // reachable without the hole.
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let e = self.v[j];
            if e.val == EMPTY {
                break;
            }
            let home = self.home(self.hash(&e.key));
            let reachable = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !reachable {
                self.v[hole] = e;
                hole = j;
            }
        }
        self.v[hole].val = EMPTY;
        self.len -= 1;
        Some(val)
    }

    fn grow(&mut self) {
        let cap = self.v.len() * 2;
        let old = std::mem::replace(&mut self.v, Self::empty(cap, self.blank));
        self.shift = 64 - cap.trailing_zeros();
        self.len = 0;
        for e in old.into_iter().filter(|e| e.val != EMPTY) {
            self.insert(e.key, e.val);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes.
    pub(crate) fn memory(&self) -> usize {
        self.v.capacity() * std::mem::size_of::<Entry<K>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::net::Ipv4Addr;

    type T = (Ipv4Addr, Ipv4Addr, u16, u16);
    const BLANK: T = (Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0, 0);

    fn key(i: u32) -> T {
        (
            Ipv4Addr::new(198, 18, 0, 1),
            Ipv4Addr::from(0xc612_0000 + (i % 7)),
            5201,
            (i % 60_000) as u16,
        )
    }

    /// Random inserts, replacements and removals against `HashMap`, through growth and
    /// through runs of colliding entries that removals must shift back.
    #[test]
    fn matches_a_map_through_inserts_and_removals() {
        let mut t: Ehash<T> = Ehash::with_capacity(0, BLANK);
        let mut m: HashMap<T, u32> = HashMap::new();
        let mut x = 0x9e37_79b9u32;
        for step in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let k = key(x % 5_000);
            match x % 3 {
                0 | 1 => assert_eq!(t.insert(k, step), m.insert(k, step)),
                _ => assert_eq!(t.remove(&k), m.remove(&k)),
            }
            assert_eq!(t.len(), m.len());
            if step % 997 == 0 {
                for (k, v) in &m {
                    assert_eq!(t.get(k), Some(*v));
                }
            }
        }
        for i in 0..5_000 {
            let k = key(i);
            assert_eq!(t.get(&k), m.get(&k).copied());
            assert_eq!(t.contains_key(&k), m.contains_key(&k));
        }
    }

    #[test]
    fn stays_at_most_three_quarters_full() {
        let mut t: Ehash<T> = Ehash::with_capacity(10, BLANK);
        for i in 0..100_000 {
            t.insert(key(i), i);
        }
        assert_eq!(t.len(), 100_000, "distinct keys");
        assert!(4 * t.len() <= 3 * t.v.len());
        assert_eq!(
            t.memory(),
            t.v.len() * 16,
            "16-byte entries: four to a line"
        );
        assert_eq!(t.get_hashed(&key(7), t.hash(&key(7))), Some(7));
        assert_eq!(t.get(&key(100_000)), None);
    }
}
