//! RFC 1071 internet checksum and RFC 1624 incremental update.
//!
//! The checksum of a byte string is computed in two steps: [`sum`] accumulates
//! the big-endian 16-bit words of one or more byte strings (chain calls through
//! the `initial` argument), and [`fold`] turns the accumulated sum into the
//! ones-complement value stored in the header.
//!
//! ```text
//! let csum = fold(sum(segment, pseudo_header_v4(src, dst, 6, len)));
//! ```
//!
//! Verifying a received header works the same way over the bytes *including*
//! the stored checksum: the result of [`fold`] is `0` if the checksum is right.

use std::net::Ipv4Addr;

/// Adds two partial sums from [`sum`] (each at most `0xffff`), folding the carry: a segment's
/// checksum from its header's sum and its payload's sum kept from when the payload was copied.
#[inline]
pub fn add(a: u32, b: u32) -> u32 {
    let s = a + b;
    (s & 0xffff) + (s >> 16)
}

/// Add the big-endian 16-bit words of `data` to `initial` (ones-complement
/// arithmetic). A trailing odd byte is padded with a zero byte.
///
/// The result is folded to at most `0xffff`, so results of several calls can
/// be chained (`sum(b, sum(a, 0))`) or added together without overflow. When
/// chaining, every piece but the last must have even length.
#[inline]
pub fn sum(data: &[u8], initial: u32) -> u32 {
    // Sum native-endian 32-bit words into a wide accumulator (no per-word byte swap, and a
    // shape the compiler vectorises), then fold and swap once: the ones'-complement sum is
    // byte-order independent up to that final swap (RFC 1071 §2(B)).
    let mut chunks = data.chunks_exact(4);
    let mut acc: u64 = 0;
    for c in &mut chunks {
        acc += u64::from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    acc += u64::from(u32::from_ne_bytes(tail));
    let mut folded = fold_to_u16(acc);
    if cfg!(target_endian = "little") {
        folded = folded.swap_bytes();
    }
    u32::from(fold_to_u16(u64::from(folded) + u64::from(initial)))
}

/// Two end-around-carry additions (halves of 64 bits, then of 32): an add and an add of
/// the carry each, where masking and shifting took five dependent rounds.
#[inline]
fn fold_to_u16(acc: u64) -> u16 {
    let (s, c) = (acc as u32).overflowing_add((acc >> 32) as u32);
    // After a carry out, s ≤ 2^32 − 2, so adding it back cannot carry again.
    let s = s + c as u32;
    let (t, c) = (s as u16).overflowing_add((s >> 16) as u16);
    t + c as u16
}

/// Fold an accumulated sum to 16 bits and complement it: the value to store
/// in a checksum field (or `0` when verifying a correct checksum).
#[inline]
pub fn fold(sum: u32) -> u16 {
    !fold_to_u16(u64::from(sum))
}

/// Convenience: the checksum of a single byte string, `fold(sum(data, 0))`.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    fold(sum(data, 0))
}

/// Sum of the IPv4 pseudo-header used by TCP and UDP (RFC 9293 §3.1):
/// source address, destination address, zero, protocol, and the length of
/// the transport header plus payload.
#[inline]
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u32 {
    let s = u32::from(src);
    let d = u32::from(dst);
    let acc = u64::from(s >> 16)
        + u64::from(s & 0xffff)
        + u64::from(d >> 16)
        + u64::from(d & 0xffff)
        + u64::from(proto)
        + u64::from(len);
    u32::from(fold_to_u16(acc))
}

/// Incrementally update a stored checksum after a 16-bit field changed from
/// `old` to `new` (RFC 1624, eqn. 3: `HC' = ~(~HC + ~m + m')`).
#[inline]
pub fn update16(old_csum: u16, old: u16, new: u16) -> u16 {
    let acc = u64::from(!old_csum) + u64::from(!old) + u64::from(new);
    !fold_to_u16(acc)
}

/// Incrementally update a stored checksum after a 32-bit field (e.g. a
/// sequence number or an address) changed from `old` to `new`.
#[inline]
pub fn update32(old_csum: u16, old: u32, new: u32) -> u16 {
    let acc = u64::from(!old_csum)
        + u64::from(!(old >> 16) & 0xffff)
        + u64::from(!old & 0xffff)
        + u64::from(new >> 16)
        + u64::from(new & 0xffff);
    !fold_to_u16(acc)
}

/// Bytes between two entries of a [`PrefixSums`] table.
const PREFIX_STEP: usize = 4;

/// Running partial sums of a long byte string that does not change (zero-copy payload), one
/// per 4 bytes, so that the sum of any range of it costs two table reads and at most 6 bytes
/// summed: a segment's checksum without a pass over its payload. Segments of a multiple of
/// 4 bytes (1448 and 1460 are) read no payload at all. The table is as large as the string.
#[derive(Debug, Clone, Default)]
pub struct PrefixSums {
    /// `at[i]`: the sum of the first `4·i` bytes, with [`sum`]'s folded block sums added
    /// modulo 2³² (exact for any range up to 256 KiB, so differences need no carry handling).
    at: Vec<u32>,
}

impl PrefixSums {
    /// The table for `data`.
    pub fn new(data: &[u8]) -> Self {
        let mut at = Vec::with_capacity(data.len() / PREFIX_STEP + 1);
        let mut acc = 0u32;
        at.push(acc);
        for c in data.chunks_exact(PREFIX_STEP) {
            acc = acc.wrapping_add(sum(c, 0));
            at.push(acc);
        }
        PrefixSums { at }
    }

    /// The partial sum of `data[a..b]` as [`sum`] would give it (as if the range started a
    /// segment). `data` must be the bytes the table was built from; ranges over 256 KiB or
    /// outside `data` give 0 (callers keep to segments of at most 64 KiB).
    #[inline]
    pub fn range(&self, data: &[u8], a: usize, b: usize) -> u32 {
        if a >= b || b > data.len() || b - a > 256 << 10 {
            return 0;
        }
        let (ia, ib) = (a.div_ceil(PREFIX_STEP), b / PREFIX_STEP);
        if ia > ib || ib >= self.at.len() {
            return sum(&data[a..b], 0);
        }
        // The whole range in the string's own word frame (words at even offsets): the head
        // piece starts at `a`, so when `a` is odd its sum is byte-swapped into that frame
        // (RFC 1071 §2(B)); the result is swapped back into the range's frame the same way.
        let mut head = sum(&data[a..ia * PREFIX_STEP], 0) as u16;
        if a & 1 == 1 {
            head = head.swap_bytes();
        }
        let mid = self.at[ib].wrapping_sub(self.at[ia]);
        let tail = sum(&data[ib * PREFIX_STEP..b], 0);
        let mut t = fold_to_u16(u64::from(head) + u64::from(mid) + u64::from(tail));
        if a & 1 == 1 {
            t = t.swap_bytes();
        }
        u32::from(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testutil::{hex, XorShift};

    /// Straightforward reference implementation, 16 bits at a time.
    fn reference_sum(data: &[u8]) -> u32 {
        let mut s: u32 = 0;
        for pair in data.chunks(2) {
            let w = if pair.len() == 2 {
                u16::from_be_bytes([pair[0], pair[1]])
            } else {
                u16::from_be_bytes([pair[0], 0])
            };
            s += u32::from(w);
            s = (s & 0xffff) + (s >> 16);
        }
        s
    }

    /// The fold against one end-around carry at a time, 16 bits per round, on the values
    /// where carries chain (all ones, a carry out of each half) and on random ones.
    #[test]
    fn fold_matches_reference() {
        fn reference(mut acc: u64) -> u16 {
            while acc > 0xffff {
                acc = (acc & 0xffff) + (acc >> 16);
            }
            acc as u16
        }
        let mut edge = vec![
            0,
            1,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x1_0000_0000,
            0xffff_ffff_ffff_ffff,
            0xffff_ffff_0000_0001,
            0x0000_ffff_ffff_0001,
            0x8000_0000_8000_0000,
            0xfffe_ffff_ffff_ffff,
        ];
        let mut rng = XorShift(0x5eed_f01d);
        edge.extend((0..10_000).map(|_| rng.next_u64()));
        for v in edge {
            assert_eq!(fold_to_u16(v), reference(v), "{v:#x}");
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        let data = hex("0001 f203 f4f5 f6f7");
        assert_eq!(sum(&data, 0), 0xddf2);
        assert_eq!(fold(sum(&data, 0)), 0x220d);
        assert_eq!(checksum(&data), 0x220d);
    }

    #[test]
    fn real_ipv4_header() {
        // The widely published example IPv4 header (UDP, checksum 0xb861). Only its bytes are
        // summed; nothing is sent anywhere.
        let mut h = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
        assert_eq!(checksum(&h), 0, "verifies as stored");
        h[10] = 0;
        h[11] = 0;
        assert_eq!(checksum(&h), 0xb861);
    }

    #[test]
    fn odd_length_and_empty() {
        assert_eq!(sum(&[], 0), 0);
        assert_eq!(fold(0), 0xffff);
        assert_eq!(sum(&[0xab], 0), 0xab00);
        assert_eq!(sum(&[0x12, 0x34, 0x56], 0), 0x1234 + 0x5600);
        // Every remainder length against the reference.
        let data: Vec<u8> = (0u8..=40).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
        for n in 0..data.len() {
            assert_eq!(sum(&data[..n], 0), reference_sum(&data[..n]), "len {n}");
        }
    }

    #[test]
    fn all_ones_does_not_overflow() {
        let data = vec![0xffu8; 70_001];
        let s = sum(&data, 0xffff_ffff);
        assert!(s <= 0xffff);
        assert_eq!(s, reference_sum(&data));
    }

    #[test]
    fn chaining_matches_one_shot() {
        let data = hex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7 0102 03");
        for split in (0..data.len()).step_by(2) {
            let chained = sum(&data[split..], sum(&data[..split], 0));
            assert_eq!(fold(chained), checksum(&data), "split {split}");
        }
    }

    #[test]
    fn pseudo_header() {
        // 198.18.0.1 -> 198.18.0.2, TCP, length 40.
        let ph = hex("c612 0001 c612 0002 0006 0028");
        let src = Ipv4Addr::new(198, 18, 0, 1);
        let dst = Ipv4Addr::new(198, 18, 0, 2);
        assert_eq!(pseudo_header_v4(src, dst, 6, 40), sum(&ph, 0));
        let max = pseudo_header_v4(Ipv4Addr::BROADCAST, Ipv4Addr::BROADCAST, 255, 0xffff);
        assert!(max <= 0xffff);
    }

    #[test]
    fn incremental_update_matches_recompute() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        for _ in 0..2000 {
            let mut data: Vec<u8> = (0..20).map(|_| rng.next_u64() as u8).collect();
            data[10] = 0;
            data[11] = 0;
            let c = checksum(&data);
            let i = 2 * rng.below(10);
            if i == 10 {
                continue;
            }
            let old = u16::from_be_bytes([data[i], data[i + 1]]);
            let new = rng.next_u64() as u16;
            data[i..i + 2].copy_from_slice(&new.to_be_bytes());
            let updated = update16(c, old, new);
            // Both encodings of zero are equivalent for verification.
            data[10..12].copy_from_slice(&updated.to_be_bytes());
            assert_eq!(checksum(&data), 0);
            data[10] = 0;
            data[11] = 0;
            let fresh = checksum(&data);
            assert!(
                updated == fresh
                    || (updated, fresh) == (0xffff, 0)
                    || (updated, fresh) == (0, 0xffff)
            );

            // 32-bit update at an aligned offset.
            let j = 4 * rng.below(5);
            if j == 8 {
                continue;
            }
            let c = checksum(&data);
            let old = u32::from_be_bytes([data[j], data[j + 1], data[j + 2], data[j + 3]]);
            let new = rng.next_u64() as u32;
            data[j..j + 4].copy_from_slice(&new.to_be_bytes());
            let updated = update32(c, old, new);
            data[10..12].copy_from_slice(&updated.to_be_bytes());
            assert_eq!(checksum(&data), 0);
        }
    }

    #[test]
    fn update16_rfc1624_example() {
        // RFC 1624 §4: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000.
        assert_eq!(update16(0xdd2f, 0x5555, 0x3285), 0x0000);
    }

    #[test]
    fn partial_sums_add() {
        let data: Vec<u8> = (0..301u32).map(|i| (i * 7) as u8).collect();
        let whole = sum(&data, 0);
        // Split at an even and an odd offset, as `send` does when copying in pieces.
        for cut in [100usize, 101] {
            let a = sum(&data[..cut], 0);
            let mut b = sum(&data[cut..], 0);
            if cut % 2 == 1 {
                b = (b as u16).swap_bytes() as u32;
            }
            assert_eq!(fold(add(a, b)), fold(whole), "cut {cut}");
        }
    }

    #[test]
    fn prefix_sums_give_every_range_sum() {
        let data: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let t = PrefixSums::new(&data);
        let mut x = 12345u64;
        for _ in 0..4000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let a = (x >> 33) as usize % data.len();
            let b = a + ((x >> 11) as usize % (data.len() - a + 1));
            assert_eq!(
                fold(t.range(&data, a, b)),
                fold(sum(&data[a..b], 0)),
                "range {a}..{b}"
            );
        }
        for (a, b) in [
            (0, 0),
            (0, 32),
            (1, 33),
            (31, 64),
            (0, 5000),
            (4999, 5000),
            (3, 3),
        ] {
            assert_eq!(fold(t.range(&data, a, b)), fold(sum(&data[a..b], 0)));
        }
    }
}
