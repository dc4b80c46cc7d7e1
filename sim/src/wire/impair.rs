//! The impairment engine: per-direction configuration, PRNG and the fate of each frame
//! (loss, duplication, reordering, corruption, delay, and the bottleneck's rate and queue).

use linerate_proto::timer::Nanos;

/// Impairments of one direction of the wire. Probabilities are per frame and independent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimConfig {
    /// Seeds this direction's PRNG.
    pub seed: u64,
    /// Probability a frame is lost.
    pub loss: f64,
    /// Probability a frame is delivered twice.
    pub dup: f64,
    /// Probability a frame is held back by an extra `reorder_delay`.
    pub reorder: f64,
    /// Probability one random bit past the Ethernet header is flipped.
    pub corrupt: f64,
    /// One-way propagation delay.
    pub delay: Nanos,
    /// Extra delay drawn uniformly from `[0, jitter]` per frame.
    pub jitter: Nanos,
    /// Extra delay of a reordered frame.
    pub reorder_delay: Nanos,
    /// Most frames `tx_burst` takes per call (the NIC's free TX descriptors): exercises
    /// backpressure. Only used in the stack's direction.
    pub tx_ring: usize,
    /// Bottleneck rate in bits per second (0: none). Frames are serialised one after
    /// another at this rate before the propagation delay.
    pub rate_bps: u64,
    /// The bottleneck's drop-tail queue in bytes, the frame being serialised included: a
    /// frame that would take it past this is dropped (a router's shallow buffer). Only with
    /// `rate_bps`; a single frame always fits.
    pub queue_bytes: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            loss: 0.0,
            dup: 0.0,
            reorder: 0.0,
            corrupt: 0.0,
            delay: 20_000,
            jitter: 0,
            reorder_delay: 200_000,
            tx_ring: 32,
            rate_bps: 0,
            queue_bytes: 0,
        }
    }
}

impl SimConfig {
    /// A perfect wire with the default delay, seeded.
    pub fn clean(seed: u64) -> Self {
        SimConfig {
            seed,
            ..Default::default()
        }
    }
}

/// splitmix64: a small, fast, well-mixed PRNG (no dependency, deterministic per seed).
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        SimRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (no draw when `p` is 0, so a clean wire stays cheap).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.next_f64() < p
    }

    /// Uniform in [0, n) (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Fills `buf` with pseudo-random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// One delivery of a frame decided by the impairment engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Copy {
    /// When it arrives.
    pub at: Nanos,
    /// Bit index (from the start of the frame) to flip, if corrupted.
    pub flip_bit: Option<usize>,
    pub reordered: bool,
}

/// What happens to one frame: zero (lost), one or two (duplicated) deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fate {
    pub n: usize,
    pub copies: [Copy; 2],
    /// Lost because the bottleneck's queue was full (not to random loss).
    pub queue_full: bool,
}

impl Fate {
    pub fn copies(&self) -> &[Copy] {
        &self.copies[..self.n]
    }
}

/// The decision engine of one direction: pure arithmetic over its PRNG, no buffers.
#[derive(Debug, Clone)]
pub struct Impairer {
    pub cfg: SimConfig,
    rng: SimRng,
    /// When the bottleneck finishes serialising what it holds.
    busy_until: Nanos,
}

const ETH_HDR_BITS: usize = 14 * 8;

impl Impairer {
    pub fn new(cfg: SimConfig) -> Self {
        Impairer {
            cfg,
            rng: SimRng::new(cfg.seed),
            busy_until: 0,
        }
    }

    /// Decides the fate of a frame of `len` bytes sent at `now`.
    pub fn decide(&mut self, now: Nanos, len: usize) -> Fate {
        let mut fate = Fate::default();
        if self.rng.chance(self.cfg.loss) {
            return fate;
        }
        // The bottleneck: serialised after what it already holds, or dropped at its tail.
        let mut sent = now;
        if self.cfg.rate_bps > 0 {
            let start = self.busy_until.max(now);
            let queued = ((start - now) as u128 * self.cfg.rate_bps as u128 / 8_000_000_000) as u64;
            if queued + len as u64 > self.cfg.queue_bytes.max(len as u64) {
                fate.queue_full = true;
                return fate;
            }
            let tx = (len as u128 * 8_000_000_000).div_ceil(self.cfg.rate_bps as u128) as Nanos;
            self.busy_until = start + tx;
            sent = self.busy_until;
        }
        fate.n = if self.rng.chance(self.cfg.dup) { 2 } else { 1 };
        for c in &mut fate.copies[..fate.n] {
            let mut at = sent + self.cfg.delay;
            if self.cfg.jitter > 0 {
                at += self.rng.below(self.cfg.jitter + 1);
            }
            if self.rng.chance(self.cfg.reorder) {
                at += self.cfg.reorder_delay;
                c.reordered = true;
            }
            if len * 8 > ETH_HDR_BITS && self.rng.chance(self.cfg.corrupt) {
                c.flip_bit =
                    Some(ETH_HDR_BITS + self.rng.below((len * 8 - ETH_HDR_BITS) as u64) as usize);
            }
            c.at = at;
        }
        fate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: SimConfig, frames: usize) -> Vec<Fate> {
        let mut imp = Impairer::new(cfg);
        (0..frames)
            .map(|i| imp.decide(i as Nanos * 1000, 1514))
            .collect()
    }

    #[test]
    fn sim_rng_is_deterministic_and_uniform() {
        let a: Vec<u64> = {
            let mut r = SimRng::new(42);
            (0..100).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = SimRng::new(42);
            (0..100).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = SimRng::new(43);
            (0..100).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut r = SimRng::new(7);
        let n = 100_000;
        let mean = (0..n).map(|_| r.next_f64()).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let mut hist = [0u32; 10];
        for _ in 0..n {
            hist[r.below(10) as usize] += 1;
        }
        for h in hist {
            assert!((h as f64 - 10_000.0).abs() < 500.0, "{hist:?}");
        }
    }

    #[test]
    fn sim_bottleneck_serialises_and_drops_at_the_tail() {
        // 1 Gbit/s: a 1250-byte frame takes 10 µs. The queue holds 2500 bytes, the frame
        // being serialised included.
        let mut imp = Impairer::new(SimConfig {
            rate_bps: 1_000_000_000,
            queue_bytes: 2500,
            delay: 1000,
            ..Default::default()
        });
        let at = |f: Fate| (f.n, f.queue_full, f.copies[0].at);
        assert_eq!(at(imp.decide(0, 1250)), (1, false, 10_000 + 1000));
        assert_eq!(at(imp.decide(0, 1250)), (1, false, 20_000 + 1000));
        assert_eq!(
            at(imp.decide(0, 1250)),
            (0, true, 0),
            "2500 bytes held: full"
        );
        // 15 µs later 625 bytes are left to send; one more frame fits.
        assert_eq!(at(imp.decide(15_000, 1250)), (1, false, 30_000 + 1000));
        assert_eq!(at(imp.decide(15_000, 1250)), (0, true, 0));
        // An idle link sends at once.
        assert_eq!(
            at(imp.decide(1_000_000, 1250)),
            (1, false, 1_010_000 + 1000)
        );
        // No rate: no queue.
        let mut free = Impairer::new(SimConfig::default());
        assert!((0..1000).all(|_| free.decide(0, 1514).n == 1));
    }

    #[test]
    fn sim_impairments_are_deterministic_per_seed() {
        let cfg = SimConfig {
            seed: 9,
            loss: 0.1,
            dup: 0.1,
            reorder: 0.1,
            corrupt: 0.1,
            jitter: 5000,
            ..Default::default()
        };
        assert_eq!(run(cfg, 5000), run(cfg, 5000));
        assert_ne!(run(cfg, 5000), run(SimConfig { seed: 10, ..cfg }, 5000));
    }

    #[test]
    fn sim_clean_wire_delivers_everything_once_in_order() {
        let fates = run(SimConfig::clean(3), 1000);
        for (i, f) in fates.iter().enumerate() {
            assert_eq!(f.n, 1);
            assert_eq!(
                f.copies[0],
                Copy {
                    at: i as Nanos * 1000 + 20_000,
                    flip_bit: None,
                    reordered: false
                }
            );
        }
    }

    #[test]
    fn sim_rates_within_tolerance() {
        let n = 200_000;
        for seed in 0..5u64 {
            for p in [0.01, 0.05, 0.3] {
                let cfg = SimConfig {
                    seed,
                    loss: p,
                    dup: p,
                    reorder: p,
                    corrupt: p,
                    ..Default::default()
                };
                let fates = run(cfg, n);
                let lost = fates.iter().filter(|f| f.n == 0).count() as f64 / n as f64;
                let kept: Vec<&Fate> = fates.iter().filter(|f| f.n > 0).collect();
                let dup = kept.iter().filter(|f| f.n == 2).count() as f64 / kept.len() as f64;
                let copies: Vec<&Copy> = kept.iter().flat_map(|f| f.copies().iter()).collect();
                let reord =
                    copies.iter().filter(|c| c.reordered).count() as f64 / copies.len() as f64;
                let corr = copies.iter().filter(|c| c.flip_bit.is_some()).count() as f64
                    / copies.len() as f64;
                // Binomial: 5 standard deviations.
                let tol = |k: f64| 5.0 * (p * (1.0 - p) / k).sqrt();
                assert!(
                    (lost - p).abs() < tol(n as f64),
                    "seed {seed} p {p}: loss {lost}"
                );
                assert!(
                    (dup - p).abs() < tol(kept.len() as f64),
                    "seed {seed} p {p}: dup {dup}"
                );
                assert!(
                    (reord - p).abs() < tol(copies.len() as f64),
                    "seed {seed} p {p}: reorder {reord}"
                );
                assert!(
                    (corr - p).abs() < tol(copies.len() as f64),
                    "seed {seed} p {p}: corrupt {corr}"
                );
                for c in copies {
                    if let Some(b) = c.flip_bit {
                        assert!(
                            (14 * 8..1514 * 8).contains(&b),
                            "bit {b} outside the frame past Ethernet"
                        );
                    }
                    let extra = if c.reordered { cfg.reorder_delay } else { 0 };
                    assert!(c.at >= cfg.delay + extra);
                }
            }
        }
    }

    #[test]
    fn sim_jitter_stays_in_range_and_total_loss_drops_all() {
        let cfg = SimConfig {
            seed: 5,
            jitter: 10_000,
            ..Default::default()
        };
        let fates = run(cfg, 10_000);
        let extra: Vec<Nanos> = fates
            .iter()
            .enumerate()
            .map(|(i, f)| f.copies[0].at - i as Nanos * 1000 - cfg.delay)
            .collect();
        assert!(extra.iter().all(|&e| e <= 10_000));
        assert!(extra.iter().any(|&e| e > 9_000) && extra.iter().any(|&e| e < 1_000));
        assert!(run(SimConfig { loss: 1.0, ..cfg }, 1000)
            .iter()
            .all(|f| f.n == 0));
        // Tiny frames (only an Ethernet header) are never corrupted.
        let mut imp = Impairer::new(SimConfig {
            corrupt: 1.0,
            ..cfg
        });
        assert_eq!(imp.decide(0, 14).copies[0].flip_bit, None);
    }
}
