//! The TIME-WAIT records' 4-tuple index: open addressing over 8-byte entries of (32 bits of
//! the key's hash, slot). A load generator enters and ends a million records a second, each
//! a random place in a table of dozens of megabytes: a general map reads its control bytes
//! and then its bucket, two misses to DRAM, where this is one. Removal names the slot, so it
//! never reads a record; only a lookup, which is rare (a segment to a closed tuple), compares
//! keys, through the caller.

/// Entries per table at least (a power of two).
const MIN_CAP: usize = 1024;

/// Inserts wait this many later inserts in `pending`, their entries' lines prefetched, so
/// that the miss is over when they land (a record's insert otherwise waited on DRAM in
/// the middle of an ACK's processing).
const PENDING: usize = 8;

/// Hash-and-slot entries, linearly probed, at most half full. An entry of 0 is empty.
#[derive(Debug)]
pub(crate) struct TwIndex {
    entries: Vec<u64>,
    len: usize,
    /// Entries inserted but not yet placed, oldest first.
    pending: [u64; PENDING],
    pending_len: usize,
}

#[inline]
fn entry(h: u32, slot: u32) -> u64 {
    ((h as u64) << 32) | (slot as u64 + 1)
}

#[inline]
fn hash_of(e: u64) -> u32 {
    (e >> 32) as u32
}

impl TwIndex {
    pub(crate) fn new() -> Self {
        TwIndex {
            entries: vec![0; MIN_CAP],
            len: 0,
            pending: [0; PENDING],
            pending_len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len + self.pending_len
    }

    /// Heap bytes.
    pub(crate) fn memory(&self) -> usize {
        self.entries.capacity() * 8
    }

    #[inline]
    fn mask(&self) -> usize {
        self.entries.len() - 1
    }

    /// Adds `slot` under hash `h` (a slot is added once; the caller removes it before
    /// reusing it).
    pub(crate) fn insert(&mut self, h: u32, slot: u32) {
        if self.pending_len == PENDING {
            let oldest = self.pending[0];
            self.pending.copy_within(1.., 0);
            self.pending_len -= 1;
            if (self.len + 1) * 2 > self.entries.len() {
                self.grow();
            }
            self.place(oldest);
            self.len += 1;
        }
        self.prefetch(h);
        self.pending[self.pending_len] = entry(h, slot);
        self.pending_len += 1;
    }

    /// Room for `n` entries without growing (at most half full), the table written once.
    pub(crate) fn reserve(&mut self, n: usize) {
        let want = (n * 2).next_power_of_two();
        if want > self.entries.len() {
            self.resize(want);
        }
    }

    /// Starts the miss of the line where hash `h`'s probe begins.
    pub(crate) fn prefetch(&self, h: u32) {
        linerate_dpdk::prefetch(&self.entries[h as usize & self.mask()], 1);
    }

    fn place(&mut self, e: u64) {
        let mask = self.mask();
        let mut i = hash_of(e) as usize & mask;
        while self.entries[i] != 0 {
            i = (i + 1) & mask;
        }
        self.entries[i] = e;
    }

    fn grow(&mut self) {
        self.resize(self.entries.len() * 2);
    }

    /// Moves the entries into a table of `cap` (a power of two) entries.
    fn resize(&mut self, cap: usize) {
        let mut table = Vec::with_capacity(cap);
        linerate_dpdk::advise_huge_pages(table.spare_capacity_mut());
        // Written, not calloc'd: the pages are touched here rather than on first insert.
        table.resize(cap, 0u64);
        let old = std::mem::replace(&mut self.entries, table);
        for e in old.into_iter().filter(|&e| e != 0) {
            self.place(e);
        }
    }

    /// The slots whose hash is `h`, for the caller to compare keys: the first for which
    /// `is_key` holds.
    pub(crate) fn find(&self, h: u32, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        for &e in &self.pending[..self.pending_len] {
            let slot = (e as u32).wrapping_sub(1);
            if hash_of(e) == h && is_key(slot) {
                return Some(slot);
            }
        }
        let mask = self.mask();
        let mut i = h as usize & mask;
        loop {
            let e = self.entries[i];
            if e == 0 {
                return None;
            }
            let slot = (e as u32).wrapping_sub(1);
            if hash_of(e) == h && is_key(slot) {
                return Some(slot);
            }
            i = (i + 1) & mask;
        }
    }

    /// Removes `slot`, added under hash `h`. Returns whether it was there.
    pub(crate) fn remove(&mut self, h: u32, slot: u32) -> bool {
        let want = entry(h, slot);
        if let Some(p) = self.pending[..self.pending_len]
            .iter()
            .position(|&e| e == want)
        {
            self.pending.copy_within(p + 1.., p);
            self.pending_len -= 1;
            return true;
        }
        let mask = self.mask();
        let mut i = h as usize & mask;
        loop {
            match self.entries[i] {
                0 => return false,
                e if e == want => break,
                _ => i = (i + 1) & mask,
            }
        }
        // Backward-shift deletion: an entry after the hole moves into it unless its home
        // lies cyclically in (hole, entry], so every probe run stays unbroken.
        let mut hole = i;
        let mut j = (i + 1) & mask;
        loop {
            let e = self.entries[j];
            if e == 0 {
                break;
            }
            let home = hash_of(e) as usize & mask;
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.entries[hole] = e;
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.entries[hole] = 0;
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random inserts and removes with hashes crowded into few homes (long, wrapping probe
    /// runs) agree with a map after every step, across growth.
    #[test]
    fn agrees_with_a_map_under_collisions() {
        let mut idx = TwIndex::new();
        let mut model: Vec<(u32, u32)> = Vec::new(); // (slot, hash)
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next_slot = 0u32;
        for step in 0..60_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // One in eight hashes from a few homes at the table's end, so runs wrap.
            let h = if x % 8 == 0 {
                ((x >> 40) as u32 % 16).wrapping_sub(8)
            } else {
                (x >> 32) as u32
            };
            if x % 3 != 0 || model.is_empty() {
                idx.insert(h, next_slot);
                model.push((next_slot, h));
                next_slot += 1;
            } else {
                let (victim, vh) = model.swap_remove((x >> 20) as usize % model.len());
                assert!(idx.remove(vh, victim), "step {step}: slot {victim} missing");
                assert!(!idx.remove(vh, victim), "step {step}: slot {victim} twice");
            }
            if step % 997 == 0 {
                assert_eq!(idx.len(), model.len());
                for &(s, hh) in &model {
                    assert_eq!(idx.find(hh, |c| c == s), Some(s), "step {step}");
                }
            }
        }
        for &(s, hh) in &model {
            assert_eq!(idx.find(hh, |c| c == s), Some(s));
            assert_eq!(idx.find(hh ^ 0x0100_0000, |c| c == s), None);
        }
        assert!(idx.memory() >= idx.len() * 16);
    }

    /// A reserved index takes its entries without growing, and keeps what it held before.
    #[test]
    fn reserve_keeps_entries_and_stops_growth() {
        let mut idx = TwIndex::new();
        for s in 0..100u32 {
            idx.insert(s.wrapping_mul(0x9e37_79b9), s);
        }
        idx.reserve(50_000);
        let reserved = idx.memory();
        assert!(reserved >= 100_000 * 8, "{reserved}");
        for s in 100..50_000u32 {
            idx.insert(s.wrapping_mul(0x9e37_79b9), s);
        }
        assert_eq!(idx.memory(), reserved, "no growth");
        assert_eq!(idx.len(), 50_000);
        for s in (0..50_000u32).step_by(7) {
            assert_eq!(idx.find(s.wrapping_mul(0x9e37_79b9), |c| c == s), Some(s));
        }
    }

    #[test]
    fn slot_zero_and_hash_zero_are_not_empty() {
        let mut idx = TwIndex::new();
        idx.insert(0, 0);
        assert_eq!(idx.find(0, |_| true), Some(0));
        assert!(idx.remove(0, 0));
        assert_eq!(idx.find(0, |_| true), None);
        assert_eq!(idx.len(), 0);
    }
}
