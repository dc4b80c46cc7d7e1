//! Sequence-space comparisons (RFC 9293 §3.4): 32-bit sequence numbers compared modulo 2^32,
//! so that a number less than half the space ahead counts as later.

/// `a` is before `b`.
#[inline]
pub fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `a` is before or at `b`.
#[inline]
pub fn seq_le(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}

/// `a` is after `b`.
#[inline]
pub fn seq_gt(a: u32, b: u32) -> bool {
    seq_lt(b, a)
}

/// `a` is at or after `b`.
#[inline]
pub fn seq_ge(a: u32, b: u32) -> bool {
    seq_le(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_comparisons_wrap() {
        assert!(seq_lt(1, 2));
        assert!(seq_lt(u32::MAX, 0), "wraps");
        assert!(seq_gt(5, u32::MAX - 5));
        assert!(seq_le(7, 7) && seq_ge(7, 7));
        assert!(
            seq_lt(0, 0x7fff_ffff),
            "less than half the space ahead is later"
        );
        assert!(
            seq_gt(0, 0x8000_0001),
            "more than half the space ahead is earlier"
        );
    }
}
