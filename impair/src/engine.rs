//! The seeded PRNG and the per-direction decision engine.
//!
//! Every packet consumes exactly [`DRAWS_PER_PACKET`] PRNG outputs whatever the outcome, so
//! packet *n* of a direction always gets the same decision for a given seed and spec: runs
//! repeat as long as the packet sequence does.

use crate::spec::Spec;

/// splitmix64 step: used to expand a seed into generator state.
pub fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// xoshiro256** generator, seeded through splitmix64.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let s = [
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ];
        Rng { s }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Direction index: 0 = fwd, 1 = rev. Each direction gets its own generator stream.
pub fn direction_seed(seed: u64, dir: usize) -> u64 {
    let mut x = seed ^ (dir as u64).wrapping_mul(0xd1b5_4a32_d192_ed03);
    splitmix64(&mut x)
}

pub const DRAWS_PER_PACKET: usize = 7;

/// What to do with one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Decision {
    pub drop: bool,
    /// This packet started a loss burst (`loss-burst`).
    pub burst_start: bool,
    pub dup: bool,
    /// Random word choosing the bit to flip, if the packet is to be corrupted.
    pub corrupt: Option<u64>,
    /// How long to hold the packet before the verdict.
    pub delay_ns: u64,
    /// Sent at once by `reorder` (it will overtake earlier, delayed packets).
    pub reordered: bool,
}

/// The decision engine of one direction.
#[derive(Clone, Debug)]
pub struct Engine {
    rng: Rng,
    loss: f64,
    burst: Option<(f64, f64)>,
    in_burst: bool,
    dup: f64,
    corrupt: f64,
    delay_ns: u64,
    jitter_ns: u64,
    reorder: f64,
}

impl Engine {
    pub fn new(spec: &Spec, dir: usize) -> Engine {
        Engine {
            rng: Rng::new(direction_seed(spec.seed, dir)),
            loss: spec.loss,
            burst: spec.burst,
            in_burst: false,
            dup: spec.dup,
            corrupt: spec.corrupt,
            delay_ns: spec.delay_ns,
            jitter_ns: spec.jitter_ns,
            reorder: spec.reorder,
        }
    }

    pub fn decide(&mut self) -> Decision {
        let u_loss = self.rng.next_f64();
        let u_burst = self.rng.next_f64();
        let u_dup = self.rng.next_f64();
        let u_corrupt = self.rng.next_f64();
        let bit_word = self.rng.next_u64();
        let u_jitter = self.rng.next_f64();
        let u_reorder = self.rng.next_f64();

        let mut drop = u_loss < self.loss;
        let mut burst_start = false;
        if let Some((p, len)) = self.burst {
            if self.in_burst {
                drop = true;
                // Leave after this packet with probability 1/len (u_burst is fresh).
                if u_burst < 1.0 / len {
                    self.in_burst = false;
                }
            } else if u_burst < p {
                drop = true;
                burst_start = true;
                // The burst-starting packet is dropped; whether the burst ends right after
                // it is decided by a derived draw so the per-packet draw count stays fixed.
                let u_end = (bit_word >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
                self.in_burst = u_end >= 1.0 / len;
            }
        }
        if drop {
            return Decision {
                drop: true,
                burst_start,
                ..Decision::default()
            };
        }
        let mut d = Decision {
            dup: u_dup < self.dup,
            corrupt: (u_corrupt < self.corrupt).then_some(bit_word),
            ..Decision::default()
        };
        if self.delay_ns > 0 {
            if u_reorder < self.reorder {
                d.reordered = true;
            } else {
                let j = self.jitter_ns as f64 * (2.0 * u_jitter - 1.0);
                d.delay_ns = (self.delay_ns as f64 + j).max(0.0).round() as u64;
            }
        }
        d
    }
}

/// Flips one bit of the IPv4 payload (everything after the IP header), chosen by `word`.
/// Returns false (and leaves the packet alone) if it is not IPv4 or has no payload.
pub fn corrupt_packet(pkt: &mut [u8], word: u64) -> bool {
    if pkt.len() < 20 || pkt[0] >> 4 != 4 {
        return false;
    }
    let ihl = usize::from(pkt[0] & 0xf) * 4;
    if ihl < 20 || pkt.len() <= ihl {
        return false;
    }
    let bits = ((pkt.len() - ihl) * 8) as u64;
    let bit = (word % bits) as usize;
    pkt[ihl + bit / 8] ^= 1 << (bit % 8);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse;

    #[test]
    fn rng_is_deterministic_per_seed() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..1000).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..1000).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = Rng::new(8);
            (0..1000).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Pin the stream so an accidental change of the generator is caught.
        let mut r = Rng::new(1);
        let first = r.next_u64();
        let mut r2 = Rng::new(1);
        assert_eq!(first, r2.next_u64());
        let mut x = 0u64;
        assert_eq!(splitmix64(&mut x), 0xe220_a839_7b1d_cdaf);
        assert_ne!(direction_seed(1, 0), direction_seed(1, 1));
    }

    #[test]
    fn f64_in_unit_interval_and_roughly_uniform() {
        let mut r = Rng::new(42);
        let n = 100_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let x = r.next_f64();
            assert!((0.0..1.0).contains(&x));
            sum += x;
        }
        let mean = sum / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }

    fn run(spec: &str, dir: usize, n: usize) -> Vec<Decision> {
        let s = parse(spec).unwrap();
        let mut e = Engine::new(&s, dir);
        (0..n).map(|_| e.decide()).collect()
    }

    fn frac(d: &[Decision], f: impl Fn(&Decision) -> bool) -> f64 {
        d.iter().filter(|x| f(x)).count() as f64 / d.len() as f64
    }

    #[test]
    fn loss_fraction_within_tolerance() {
        for (spec, p) in [
            ("loss=1%", 0.01),
            ("loss=5% seed=9", 0.05),
            ("loss=50%", 0.5),
        ] {
            let d = run(spec, 0, 100_000);
            let f = frac(&d, |x| x.drop);
            // 5 sigma of a binomial over 100k packets.
            let tol = 5.0 * (p * (1.0 - p) / 100_000.0f64).sqrt();
            assert!((f - p).abs() < tol, "{spec}: {f}");
        }
        assert_eq!(frac(&run("delay=1ms", 0, 10_000), |x| x.drop), 0.0);
    }

    #[test]
    fn dup_corrupt_fractions() {
        let d = run("dup=1% corrupt=2% seed=3", 1, 100_000);
        let fd = frac(&d, |x| x.dup);
        let fc = frac(&d, |x| x.corrupt.is_some());
        assert!((fd - 0.01).abs() < 0.0016, "{fd}");
        assert!((fc - 0.02).abs() < 0.0023, "{fc}");
    }

    #[test]
    fn same_seed_same_decisions_directions_differ() {
        let spec = "loss=3% dup=1% corrupt=1% delay=5ms jitter=2ms reorder=10% loss-burst=1%/4";
        let a = run(&format!("{spec} seed=11"), 0, 20_000);
        let b = run(&format!("{spec} seed=11"), 0, 20_000);
        let c = run(&format!("{spec} seed=12"), 0, 20_000);
        let r = run(&format!("{spec} seed=11"), 1, 20_000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, r);
    }

    #[test]
    fn burst_loss_produces_runs_with_expected_mean() {
        let spec = parse("loss-burst=1%/5 seed=5").unwrap();
        let mut e = Engine::new(&spec, 0);
        let n = 200_000;
        let d: Vec<bool> = (0..n).map(|_| e.decide().drop).collect();
        let drops = d.iter().filter(|&&x| x).count() as f64;
        let mut runs = Vec::new();
        let mut cur = 0;
        for &x in &d {
            if x {
                cur += 1;
            } else if cur > 0 {
                runs.push(cur);
                cur = 0;
            }
        }
        let mean = runs.iter().sum::<usize>() as f64 / runs.len() as f64;
        assert!((mean - 5.0).abs() < 0.5, "mean burst {mean}");
        let mut e = Engine::new(&spec, 0);
        let starts = (0..n).filter(|_| e.decide().burst_start).count() as f64;
        let mean2 = drops / starts;
        assert!((mean2 - 5.0).abs() < 0.5, "drops per burst {mean2}");
        assert!(runs.iter().any(|&r| r >= 10), "no long bursts");
        let f = drops / n as f64;
        let want = spec.expected_loss();
        assert!((f - want).abs() < 0.15 * want, "{f} vs {want}");
        // Random loss of the same rate would rarely produce runs this long.
        let r = run("loss=4.8% seed=5", 0, n);
        let mut longest = 0;
        let mut cur = 0;
        for x in &r {
            cur = if x.drop { cur + 1 } else { 0 };
            longest = longest.max(cur);
        }
        assert!(longest < *runs.iter().max().unwrap());
    }

    #[test]
    fn delay_jitter_reorder() {
        let d = run("delay=10ms", 0, 1000);
        assert!(d.iter().all(|x| x.delay_ns == 10_000_000 && !x.reordered));
        let d = run("delay=10ms jitter=2ms", 0, 100_000);
        assert!(d
            .iter()
            .all(|x| (8_000_000..=12_000_000).contains(&x.delay_ns)));
        let mean = d.iter().map(|x| x.delay_ns as f64).sum::<f64>() / d.len() as f64;
        assert!((mean - 10e6).abs() < 0.02e6, "{mean}");
        let d = run("delay=5ms reorder=25%", 0, 100_000);
        let f = frac(&d, |x| x.reordered);
        assert!((f - 0.25).abs() < 0.007, "{f}");
        assert!(
            d.iter()
                .all(|x| (x.reordered && x.delay_ns == 0)
                    || (!x.reordered && x.delay_ns == 5_000_000))
        );
        // Jitter larger than delay clamps at zero.
        let d = run("delay=1ms jitter=3ms", 0, 10_000);
        assert!(d.iter().any(|x| x.delay_ns == 0));
    }

    #[test]
    fn corrupt_flips_one_payload_bit() {
        let mut pkt = vec![0u8; 60];
        pkt[0] = 0x45;
        let orig = pkt.clone();
        for w in [0u64, 7, 12345, u64::MAX] {
            let mut p = orig.clone();
            assert!(corrupt_packet(&mut p, w));
            assert_eq!(p[..20], orig[..20], "IP header untouched");
            let flipped: u32 = p.iter().zip(&orig).map(|(a, b)| (a ^ b).count_ones()).sum();
            assert_eq!(flipped, 1);
        }
        let mut p = orig.clone();
        p[0] = 0x46; // 24-byte header
        assert!(corrupt_packet(&mut p, 0));
        assert_eq!(p[20..24], orig[20..24]);
        let mut hdr_only = orig[..20].to_vec();
        assert!(!corrupt_packet(&mut hdr_only, 1));
        let mut v6 = orig.clone();
        v6[0] = 0x60;
        assert!(!corrupt_packet(&mut v6, 1));
    }
}
