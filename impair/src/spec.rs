//! The impairment spec: space-separated `key=value` pairs.
//!
//! | key          | value                 | meaning                                              |
//! |--------------|-----------------------|------------------------------------------------------|
//! | `loss`       | `<p>%`                | drop each packet independently with probability p    |
//! | `loss-burst` | `<p>%/<len>`          | Gilbert-style burst loss, see below                  |
//! | `dup`        | `<p>%`                | forward the packet and also inject one copy          |
//! | `corrupt`    | `<p>%`                | flip one random bit of the IP payload (not the IP header), so the receiver's TCP/UDP checksum fails |
//! | `delay`      | `<n>us\|ms\|s`        | hold every packet this long                          |
//! | `jitter`     | `<n>us\|ms\|s`        | uniform ±jitter around `delay` (clamped at 0); reorders when it exceeds the packet gap; needs `delay` |
//! | `reorder`    | `<p>%`                | netem-style: this fraction is sent at once, the rest is delayed by `delay` (±jitter); needs `delay` |
//! | `rate`       | `<n>bit\|kbit\|mbit\|gbit` | tbf on the router's egress interface(s), decimal units |
//! | `limit`      | `<n>[b\|k\|kb\|m\|mb]`| tbf queue size in bytes (k = 1024); default shallow: burst + 5 ms at `rate`, at least 32 KiB; needs `rate` |
//! | `seed`       | `<u64>`               | PRNG seed, default 1                                 |
//! | `dir`        | `both\|fwd\|rev`      | fwd: clients → sink, rev: sink → clients; default both |
//!
//! **Burst loss** (`loss-burst=p%/len`) is a two-state Markov chain evaluated once per packet.
//! In the *good* state a packet starts a burst with probability `p`: the chain moves to *bad*
//! and that packet is dropped. In the *bad* state every packet is dropped, and after each one
//! the chain returns to *good* with probability `1/len`. Burst lengths are therefore
//! geometric with mean `len` (minimum 1), bursts start on average every `1/p` good packets,
//! and the long-run drop fraction is `p·len / (p·len + 1 − p)`. `loss` and `loss-burst` may
//! be combined; a packet is dropped if either drops it.
//!
//! Percentages are in `[0, 100]`, written with a `%` sign. Duplicate and unknown keys are
//! errors.

use std::fmt;

/// Which directions an impairment applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Both,
    Fwd,
    Rev,
}

impl Dir {
    pub fn fwd(self) -> bool {
        matches!(self, Dir::Both | Dir::Fwd)
    }
    pub fn rev(self) -> bool {
        matches!(self, Dir::Both | Dir::Rev)
    }
}

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dir::Both => "both",
            Dir::Fwd => "fwd",
            Dir::Rev => "rev",
        })
    }
}

/// A parsed, validated impairment spec. Probabilities are fractions in `[0, 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub loss: f64,
    /// `(p, mean_len)` of the Gilbert burst-loss chain.
    pub burst: Option<(f64, f64)>,
    pub dup: f64,
    pub corrupt: f64,
    pub delay_ns: u64,
    pub jitter_ns: u64,
    pub reorder: f64,
    pub rate_bps: Option<u64>,
    pub limit_bytes: Option<u64>,
    pub seed: u64,
    pub dir: Dir,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            loss: 0.0,
            burst: None,
            dup: 0.0,
            corrupt: 0.0,
            delay_ns: 0,
            jitter_ns: 0,
            reorder: 0.0,
            rate_bps: None,
            limit_bytes: None,
            seed: 1,
            dir: Dir::Both,
        }
    }
}

impl Spec {
    /// Whether any per-packet impairment needs the NFQUEUE handler (rate alone does not).
    pub fn needs_queue(&self) -> bool {
        self.loss > 0.0
            || self.burst.is_some()
            || self.dup > 0.0
            || self.corrupt > 0.0
            || self.delay_ns > 0
    }

    /// Whether the handler needs whole packets (to corrupt or duplicate them).
    pub fn needs_payload(&self) -> bool {
        self.dup > 0.0 || self.corrupt > 0.0
    }

    /// tbf burst in bytes: 1 ms at `rate`, at least two full frames.
    pub fn burst_bytes(&self) -> Option<u64> {
        self.rate_bps.map(|r| (r / 8 / 1000).max(2 * 1514))
    }

    /// tbf queue limit in bytes (explicit or the shallow default).
    pub fn effective_limit(&self) -> Option<u64> {
        let burst = self.burst_bytes()?;
        Some(self.limit_bytes.unwrap_or_else(|| {
            let r = self.rate_bps.unwrap_or(0);
            (burst + r / 8 / 200).max(32 * 1024)
        }))
    }

    /// The long-run drop fraction this spec configures (random and burst loss combined).
    pub fn expected_loss(&self) -> f64 {
        let b = match self.burst {
            Some((p, len)) => p * len / (p * len + 1.0 - p),
            None => 0.0,
        };
        1.0 - (1.0 - self.loss) * (1.0 - b)
    }
}

fn parse_pct(key: &str, v: &str) -> Result<f64, String> {
    let num = v
        .strip_suffix('%')
        .ok_or_else(|| format!("{key}={v}: expected a percentage like 1% or 0.5%"))?;
    let x: f64 = num
        .parse()
        .map_err(|_| format!("{key}={v}: '{num}' is not a number"))?;
    if !x.is_finite() || !(0.0..=100.0).contains(&x) {
        return Err(format!("{key}={v}: percentage must be within 0%..100%"));
    }
    Ok(x / 100.0)
}

fn split_num(v: &str) -> (&str, &str) {
    let end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    (&v[..end], &v[end..])
}

fn parse_duration_ns(key: &str, v: &str) -> Result<u64, String> {
    let (num, unit) = split_num(v);
    let mult = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => {
            return Err(format!(
                "{key}={v}: expected a duration like 10ms, 500us or 1s"
            ))
        }
    };
    let x: f64 = num
        .parse()
        .map_err(|_| format!("{key}={v}: '{num}' is not a number"))?;
    let ns = x * mult;
    if !ns.is_finite() || ns > 60e9 {
        return Err(format!("{key}={v}: at most 60s"));
    }
    Ok(ns.round() as u64)
}

fn parse_rate(key: &str, v: &str) -> Result<u64, String> {
    let (num, unit) = split_num(v);
    let mult = match unit.to_ascii_lowercase().as_str() {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        _ => {
            return Err(format!(
                "{key}={v}: expected a rate like 200mbit or 1gbit (units bit, kbit, mbit, gbit)"
            ))
        }
    };
    let x: f64 = num
        .parse()
        .map_err(|_| format!("{key}={v}: '{num}' is not a number"))?;
    let bps = (x * mult).round();
    if !bps.is_finite() || !(8000.0..=400e9).contains(&bps) {
        return Err(format!("{key}={v}: rate must be within 8kbit..400gbit"));
    }
    Ok(bps as u64)
}

fn parse_bytes(key: &str, v: &str) -> Result<u64, String> {
    let (num, unit) = split_num(v);
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(format!("{key}={v}: expected a size like 65536, 64k or 1m")),
    };
    let x: u64 = num
        .parse()
        .map_err(|_| format!("{key}={v}: '{num}' is not a whole number"))?;
    let b = x
        .checked_mul(mult)
        .filter(|b| (1514..=1 << 30).contains(b))
        .ok_or_else(|| format!("{key}={v}: limit must be within 1514 bytes..1 GiB"))?;
    Ok(b)
}

/// Parses and validates a spec. Errors are one line, naming the offending pair.
pub fn parse(s: &str) -> Result<Spec, String> {
    let mut spec = Spec::default();
    let mut seen: Vec<&str> = Vec::new();
    for kv in s.split_whitespace() {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("'{kv}': expected key=value"))?;
        if v.is_empty() {
            return Err(format!("'{kv}': empty value"));
        }
        if seen.contains(&k) {
            return Err(format!("'{k}' given twice"));
        }
        seen.push(k);
        match k {
            "loss" => spec.loss = parse_pct(k, v)?,
            "loss-burst" => {
                let (p, len) = v.split_once('/').ok_or_else(|| {
                    format!("{k}={v}: expected <p>%/<len>, e.g. loss-burst=1%/5")
                })?;
                let p = parse_pct(k, p)?;
                let len: f64 = len
                    .parse()
                    .map_err(|_| format!("{k}={v}: burst length '{len}' is not a number"))?;
                if !len.is_finite() || !(1.0..=1e6).contains(&len) {
                    return Err(format!("{k}={v}: burst length must be within 1..1000000"));
                }
                if p >= 1.0 {
                    return Err(format!("{k}={v}: burst start probability must be below 100%"));
                }
                spec.burst = Some((p, len));
            }
            "dup" => spec.dup = parse_pct(k, v)?,
            "corrupt" => spec.corrupt = parse_pct(k, v)?,
            "delay" => spec.delay_ns = parse_duration_ns(k, v)?,
            "jitter" => spec.jitter_ns = parse_duration_ns(k, v)?,
            "reorder" => spec.reorder = parse_pct(k, v)?,
            "rate" => spec.rate_bps = Some(parse_rate(k, v)?),
            "limit" => spec.limit_bytes = Some(parse_bytes(k, v)?),
            "seed" => {
                spec.seed = v
                    .parse()
                    .map_err(|_| format!("seed={v}: expected an unsigned 64-bit integer"))?
            }
            "dir" => {
                spec.dir = match v {
                    "both" => Dir::Both,
                    "fwd" => Dir::Fwd,
                    "rev" => Dir::Rev,
                    _ => return Err(format!("dir={v}: expected both, fwd or rev")),
                }
            }
            _ => {
                return Err(format!(
                    "unknown key '{k}' (known: loss loss-burst dup corrupt delay jitter reorder rate limit seed dir)"
                ))
            }
        }
    }
    if spec.jitter_ns > 0 && spec.delay_ns == 0 {
        return Err("jitter needs delay (jitter is ±around delay)".into());
    }
    if spec.reorder > 0.0 && spec.delay_ns == 0 {
        return Err("reorder needs delay (the non-reordered packets are delayed by it)".into());
    }
    if spec.limit_bytes.is_some() && spec.rate_bps.is_none() {
        return Err("limit needs rate (it is the tbf queue size)".into());
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_specs() {
        let s = parse("loss=1% seed=7").unwrap();
        assert_eq!(s.loss, 0.01);
        assert_eq!(s.seed, 7);
        assert_eq!(s.dir, Dir::Both);
        assert!(s.needs_queue());
        assert!(!s.needs_payload());

        let s = parse("  loss-burst=2%/5 dup=0.5% corrupt=0.1%  dir=fwd ").unwrap();
        assert_eq!(s.burst, Some((0.02, 5.0)));
        assert_eq!(s.dup, 0.005);
        assert!((s.corrupt - 0.001).abs() < 1e-12);
        assert_eq!(s.dir, Dir::Fwd);
        assert!(s.needs_payload());

        let s = parse("delay=10ms jitter=500us reorder=25%").unwrap();
        assert_eq!(s.delay_ns, 10_000_000);
        assert_eq!(s.jitter_ns, 500_000);
        assert_eq!(s.reorder, 0.25);

        let s = parse("rate=1gbit").unwrap();
        assert_eq!(s.rate_bps, Some(1_000_000_000));
        assert!(!s.needs_queue());
        assert_eq!(s.burst_bytes(), Some(125_000));
        assert_eq!(s.effective_limit(), Some(125_000 + 625_000));

        let s = parse("rate=200mbit limit=64k dir=rev").unwrap();
        assert_eq!(s.rate_bps, Some(200_000_000));
        assert_eq!(s.limit_bytes, Some(65536));
        assert_eq!(s.effective_limit(), Some(65536));

        let s = parse("delay=1.5ms seed=18446744073709551615").unwrap();
        assert_eq!(s.delay_ns, 1_500_000);
        assert_eq!(s.seed, u64::MAX);

        assert_eq!(parse("").unwrap(), Spec::default());
    }

    #[test]
    fn bad_specs() {
        for bad in [
            "loss=1",
            "loss=abc%",
            "loss=101%",
            "loss=-1%",
            "loss-burst=1%",
            "loss-burst=1%/0",
            "loss-burst=100%/3",
            "dup=1% dup=2%",
            "delay=10",
            "delay=10 ms",
            "delay=10min",
            "jitter=1ms",
            "reorder=25%",
            "rate=1gbps",
            "rate=100",
            "limit=64k",
            "rate=1gbit limit=12",
            "seed=-1",
            "seed=x",
            "dir=up",
            "speed=1",
            "loss",
            "loss=",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(!e.contains('\n'), "{bad}: multi-line error {e}");
        }
        assert!(parse("frobnicate=1")
            .unwrap_err()
            .contains("unknown key 'frobnicate'"));
    }

    #[test]
    fn expected_loss() {
        let s = parse("loss-burst=1%/5").unwrap();
        let e = s.expected_loss();
        assert!((e - 0.05 / 1.04).abs() < 1e-12, "{e}");
        let s = parse("loss=10%").unwrap();
        assert!((s.expected_loss() - 0.1).abs() < 1e-12);
    }
}
