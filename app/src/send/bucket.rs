//! Open-loop pacing for `--rate`.

/// Open-loop pacing: a token bucket of payload bytes on the TSC clock.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    bytes_per_ns: f64,
    depth: f64,
    tokens: f64,
    last: u64,
}

impl TokenBucket {
    pub fn new(bits_per_sec: u64, write: u64, now: u64) -> Self {
        let bytes_per_ns = bits_per_sec as f64 / 8.0 / 1e9;
        // Five milliseconds of rate (a loop pass can take a few ms on a slow PMD), and at least
        // two writes.
        let depth = (bytes_per_ns * 5e6).max(2.0 * write as f64);
        TokenBucket {
            bytes_per_ns,
            depth,
            tokens: write as f64,
            last: now,
        }
    }

    pub fn refill(&mut self, now: u64) {
        let dt = now.saturating_sub(self.last) as f64;
        self.last = now;
        self.tokens = (self.tokens + dt * self.bytes_per_ns).min(self.depth);
    }

    /// Whole bytes available now.
    pub fn available(&self) -> u64 {
        self.tokens.max(0.0) as u64
    }

    pub fn take(&mut self, n: u64) {
        self.tokens -= n as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_paces() {
        // 8 Mbit/s = 1 byte/µs; 1000-byte writes.
        let mut b = TokenBucket::new(8_000_000, 1000, 0);
        assert_eq!(b.available(), 1000);
        b.take(1000);
        b.refill(500_000);
        assert_eq!(b.available(), 500);
        // Depth: 5 ms of rate (5000 bytes) caps a long idle gap.
        b.refill(1_000_000_000);
        assert_eq!(b.available(), 5000);
    }
}
