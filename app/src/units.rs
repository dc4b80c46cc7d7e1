//! Unit parsing for the command line and the config file.
//!
//! - Rates (bits/s, decimal SI): `10G`, `10Gbit`, `10Gbit/s`, `10Gbps`, `500M`, `1.5G`, `1000`.
//! - Sizes (bytes): binary with `iB`/`i` (`64KiB`, `1MiB`), decimal with `B` or a bare prefix
//!   (`1GB`, `64kB`, `64k`, `1500`).
//! - Durations: `10s`, `500ms`, `250us`, `2m`, `1h`, `1.5s`; a bare number is seconds.
//! - Counts (messages/s): `1000`, `10k`, `1M`, optionally followed by `/s`.
//!
//! Every parser returns a one-line error naming what it expected; callers prefix the flag.
use std::time::Duration;

pub const RATE_EXAMPLES: &str = "e.g. 10G, 10Gbit, 500M, 1.5Gbit/s";
pub const SIZE_EXAMPLES: &str = "e.g. 1500, 64KiB, 1MiB, 1GB";
pub const DURATION_EXAMPLES: &str = "e.g. 10s, 500ms, 2m, 1h";
pub const COUNT_EXAMPLES: &str = "e.g. 1000, 10k, 1M";

/// A non-negative decimal number kept exactly: `int` + `frac` / 10^`frac_digits`.
struct Decimal {
    int: u128,
    frac: u128,
    frac_digits: u32,
}

impl Decimal {
    /// `self × mult`, truncated to an integer; `None` when it overflows u64.
    fn times(&self, mult: u128) -> Option<u64> {
        let whole = self.int.checked_mul(mult)?;
        let frac = self
            .frac
            .checked_mul(mult)?
            .checked_div(10u128.checked_pow(self.frac_digits)?)?;
        u64::try_from(whole.checked_add(frac)?).ok()
    }
}

/// Splits `s` into a decimal number and the suffix after it.
fn split_number(s: &str) -> Result<(Decimal, &str), String> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(end);
    let num: String = num.chars().filter(|&c| c != '_').collect();
    if num.is_empty() {
        return Err("missing number".into());
    }
    let (ip, fp) = match num.split_once('.') {
        Some((a, b)) => (a, b),
        None => (num.as_str(), ""),
    };
    if fp.contains('.') || (ip.is_empty() && fp.is_empty()) {
        return Err("not a number".into());
    }
    let too_big = || "number too large".to_string();
    let int = if ip.is_empty() {
        0
    } else {
        ip.parse::<u128>().map_err(|_| too_big())?
    };
    let fp = fp.trim_end_matches('0');
    if fp.len() > 18 {
        return Err("too many decimal places".into());
    }
    let frac = if fp.is_empty() {
        0
    } else {
        fp.parse::<u128>().map_err(|_| too_big())?
    };
    Ok((
        Decimal {
            int,
            frac,
            frac_digits: fp.len() as u32,
        },
        suffix.trim(),
    ))
}

fn si(prefix: &str) -> Option<u128> {
    Some(match prefix {
        "" => 1,
        "k" | "K" => 1_000,
        "m" | "M" => 1_000_000,
        "g" | "G" => 1_000_000_000,
        "t" | "T" => 1_000_000_000_000,
        _ => return None,
    })
}

/// A rate in bits per second (decimal SI prefixes).
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("invalid rate '{s}': {why} ({RATE_EXAMPLES})");
    let (d, suffix) = split_number(s).map_err(|e| bad(&e))?;
    let lower = suffix.to_ascii_lowercase();
    let prefix = ["bits/s", "bit/s", "bits", "bit", "bps", "b/s"]
        .iter()
        .find_map(|u| lower.strip_suffix(u))
        .unwrap_or(&lower);
    if prefix.len() == lower.len() && suffix.ends_with('B') {
        return Err(bad("rates are in bits/s, not bytes (write 8G for 1 GB/s)"));
    }
    let mult = si(prefix).ok_or_else(|| bad(&format!("unknown unit '{suffix}'")))?;
    let v = d.times(mult).ok_or_else(|| bad("too large"))?;
    if v == 0 {
        return Err(bad("must be greater than 0"));
    }
    Ok(v)
}

/// A size in bytes: binary prefixes with `i` (`KiB`), decimal without (`kB`, `k`).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("invalid size '{s}': {why} ({SIZE_EXAMPLES})");
    let (d, suffix) = split_number(s).map_err(|e| bad(&e))?;
    let lower = suffix.to_ascii_lowercase();
    let unit = lower
        .strip_suffix("bytes")
        .or_else(|| lower.strip_suffix("byte"))
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let mult: u128 = match unit {
        "" => 1,
        "k" => 1_000,
        "m" => 1_000_000,
        "g" => 1_000_000_000,
        "t" => 1_000_000_000_000,
        "ki" => 1 << 10,
        "mi" => 1 << 20,
        "gi" => 1 << 30,
        "ti" => 1 << 40,
        _ => return Err(bad(&format!("unknown unit '{suffix}'"))),
    };
    d.times(mult).ok_or_else(|| bad("too large"))
}

/// A duration; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = |why: &str| format!("invalid duration '{s}': {why} ({DURATION_EXAMPLES})");
    let (d, suffix) = split_number(s).map_err(|e| bad(&e))?;
    let ns_per: u128 = match suffix {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "" | "s" | "sec" | "secs" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(bad(&format!("unknown unit '{suffix}'"))),
    };
    let ns = d.times(ns_per).ok_or_else(|| bad("too large"))?;
    Ok(Duration::from_nanos(ns))
}

/// A count or a per-second count (`10k`, `1M/s`), decimal SI.
pub fn parse_count(s: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("invalid count '{s}': {why} ({COUNT_EXAMPLES})");
    let (d, suffix) = split_number(s).map_err(|e| bad(&e))?;
    let suffix = suffix.strip_suffix("/s").unwrap_or(suffix).trim();
    let mult = si(suffix).ok_or_else(|| bad(&format!("unknown unit '{suffix}'")))?;
    d.times(mult).ok_or_else(|| bad("too large"))
}

/// `12.345 Gbit/s`-style formatting of a bit rate.
pub fn fmt_rate(bps: f64) -> String {
    if bps >= 1e9 {
        format!("{:.3} Gbit/s", bps / 1e9)
    } else if bps >= 1e6 {
        format!("{:.3} Mbit/s", bps / 1e6)
    } else {
        format!("{:.3} kbit/s", bps / 1e3)
    }
}

/// Bytes with a binary unit when exact (`4MiB`), else plain.
pub fn fmt_bytes(b: u64) -> String {
    for (shift, u) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if b >= (1 << shift) && b & ((1 << shift) - 1) == 0 {
            return format!("{}{u}", b >> shift);
        }
    }
    format!("{b} bytes")
}

/// `10s`, `500ms`, `1.5s`.
pub fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if (ns / 1_000_000_000) * 1_000_000_000 == ns {
        format!("{}s", ns / 1_000_000_000)
    } else if (ns / 1_000_000) * 1_000_000 == ns {
        format!("{}ms", ns / 1_000_000)
    } else {
        format!("{:.6}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("10G").unwrap(), 10_000_000_000);
        assert_eq!(parse_rate("10Gbit").unwrap(), 10_000_000_000);
        assert_eq!(parse_rate("10gbit/s").unwrap(), 10_000_000_000);
        assert_eq!(parse_rate("10Gbps").unwrap(), 10_000_000_000);
        assert_eq!(parse_rate("500M").unwrap(), 500_000_000);
        assert_eq!(parse_rate("500m").unwrap(), 500_000_000);
        assert_eq!(parse_rate("1.5G").unwrap(), 1_500_000_000);
        assert_eq!(parse_rate("64k").unwrap(), 64_000);
        assert_eq!(parse_rate("1000").unwrap(), 1000);
        assert_eq!(parse_rate("1000bit").unwrap(), 1000);
        assert_eq!(parse_rate(" 2T ").unwrap(), 2_000_000_000_000);
        assert_eq!(parse_rate("1_000M").unwrap(), 1_000_000_000);
    }

    #[test]
    fn bad_rates() {
        for s in [
            "",
            "G",
            "abc",
            "10X",
            "10GB",
            "1.2.3G",
            "-5G",
            "0",
            "10Gi",
            "10 furlongs",
        ] {
            let e = parse_rate(s).unwrap_err();
            assert!(e.contains("invalid rate"), "{s}: {e}");
            assert!(!e.contains('\n'));
        }
        assert!(parse_rate("10GB").unwrap_err().contains("bits/s"));
        // Overflow: u64::MAX bits/s is ~18.4 Ebit/s.
        assert!(parse_rate("20000000000T")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_rate("99999999999999999999999999999999999999999")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1500").unwrap(), 1500);
        assert_eq!(parse_bytes("64KiB").unwrap(), 65536);
        assert_eq!(parse_bytes("64kib").unwrap(), 65536);
        assert_eq!(parse_bytes("64Ki").unwrap(), 65536);
        assert_eq!(parse_bytes("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_bytes("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_bytes("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_bytes("64kB").unwrap(), 64_000);
        assert_eq!(parse_bytes("64k").unwrap(), 64_000);
        assert_eq!(parse_bytes("2M").unwrap(), 2_000_000);
        assert_eq!(parse_bytes("1.5KiB").unwrap(), 1536);
        assert_eq!(parse_bytes("100B").unwrap(), 100);
        assert_eq!(parse_bytes("0").unwrap(), 0);
        assert_eq!(
            parse_bytes("16EiB".replace("E", "T").as_str()).unwrap(),
            16 << 40
        );
    }

    #[test]
    fn bad_sizes() {
        for s in ["", "KiB", "12Q", "1.2.3", "-1", "1 MiBs", "x1"] {
            let e = parse_bytes(s).unwrap_err();
            assert!(e.contains("invalid size"), "{s}: {e}");
        }
        assert!(parse_bytes("20000000TiB")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_bytes("18446744073709551616")
            .unwrap_err()
            .contains("too large"));
        assert_eq!(parse_bytes("18446744073709551615").unwrap(), u64::MAX);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("0.001s").unwrap(), Duration::from_millis(1));
    }

    #[test]
    fn bad_durations() {
        for s in ["", "s", "10x", "ten", "1..5s", "10 days"] {
            let e = parse_duration(s).unwrap_err();
            assert!(e.contains("invalid duration"), "{s}: {e}");
        }
        assert!(parse_duration("999999999999999h")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("1000").unwrap(), 1000);
        assert_eq!(parse_count("10k").unwrap(), 10_000);
        assert_eq!(parse_count("1M/s").unwrap(), 1_000_000);
        assert_eq!(parse_count("2.5k").unwrap(), 2500);
        assert!(parse_count("10kB").is_err());
        assert!(parse_count("lots").is_err());
    }

    #[test]
    fn formatting() {
        assert_eq!(fmt_bytes(4 << 20), "4MiB");
        assert_eq!(fmt_bytes(1500), "1500 bytes");
        assert_eq!(fmt_duration(Duration::from_secs(10)), "10s");
        assert_eq!(fmt_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(fmt_rate(9.5e9), "9.500 Gbit/s");
    }
}
