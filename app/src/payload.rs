//! The generated payload: deterministic pseudo-random bytes from a seed, so that a sink's
//! SHA-256 can be checked against what was sent.

/// splitmix64 (Steele, Lea and Flood): small, fast and well mixed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// `n` pseudo-random bytes from `seed`: little-endian splitmix64 words.
pub fn random_payload(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = SplitMix64(seed);
    let mut v = vec![0u8; n];
    for chunk in v.chunks_mut(8) {
        let w = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&w[..chunk.len()]);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_splitmix64_little_endian() {
        // splitmix64 from seed 0: the first output is 0xe220a8397b1dcdaf.
        let p = random_payload(0, 11);
        assert_eq!(p[..8], 0xe220_a839_7b1d_cdafu64.to_le_bytes());
        assert_eq!(p.len(), 11);
        assert_eq!(
            random_payload(7, 64),
            random_payload(7, 64),
            "deterministic"
        );
        assert_ne!(random_payload(7, 64), random_payload(8, 64));
    }

    #[test]
    fn random_payload_is_deterministic() {
        assert_eq!(random_payload(1, 100), random_payload(1, 100));
        assert_ne!(random_payload(1, 100), random_payload(2, 100));
        assert_eq!(random_payload(1, 13).len(), 13);
    }
}
