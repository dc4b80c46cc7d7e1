//! lr-impair: linerate's impairment stage, an NFQUEUE handler for the test router
//! (design.md §5). The kernel here has no netem, so loss, burst loss, duplication,
//! corruption, delay, jitter and reordering are decided here per packet from a seeded PRNG;
//! rate limiting is tbf, set up by `scripts/topology.sh`.
//!
//! - [`spec`]: the spec grammar (documented there).
//! - [`engine`]: the PRNG and the per-direction decision engine.
//! - [`nl`]: nfnetlink_queue messages, encoded and decoded by hand (no libnetfilter_queue).
//! - `main.rs`: the daemon (sockets, timer heap, counters).

pub mod engine;
pub mod nl;
pub mod spec;

/// Per-direction counters, written as JSON by the daemon.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets queued to us.
    pub seen: u64,
    /// Dropped by `loss` or `loss-burst` (NF_DROP).
    pub dropped: u64,
    /// Loss bursts started by `loss-burst` (dropped / bursts ≈ mean burst length when
    /// `loss` is not also set).
    pub bursts: u64,
    /// Copies injected by `dup` (one per duplicated packet).
    pub duplicated: u64,
    /// Packets with one payload bit flipped.
    pub corrupted: u64,
    /// Packets held for a non-zero delay.
    pub delayed: u64,
    /// Packets sent at once by `reorder` (they overtake delayed ones).
    pub reordered: u64,
    /// Measured: packets released after a packet that arrived later (actual reordering).
    pub overtaken: u64,
    /// Bytes (IP length) of the packets seen.
    pub bytes: u64,
    /// Packets held right now.
    pub held: u64,
    /// Duplicates that could not be injected.
    pub inject_errors: u64,
}

impl Counters {
    pub fn to_json(&self) -> String {
        format!(
            "{{\"seen\":{},\"dropped\":{},\"bursts\":{},\"duplicated\":{},\"corrupted\":{},\"delayed\":{},\
             \"reordered\":{},\"overtaken\":{},\"bytes\":{},\"held\":{},\"inject_errors\":{}}}",
            self.seen,
            self.dropped,
            self.bursts,
            self.duplicated,
            self.corrupted,
            self.delayed,
            self.reordered,
            self.overtaken,
            self.bytes,
            self.held,
            self.inject_errors
        )
    }
}

/// JSON string literal for `s`.
pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Kernel-side counters of one queue from /proc/net/netfilter/nfnetlink_queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelQueue {
    pub queue_total: u64,
    pub queue_dropped: u64,
    pub user_dropped: u64,
}

/// Parses /proc/net/netfilter/nfnetlink_queue for `queue`.
pub fn parse_proc_queue(text: &str, queue: u16) -> Option<KernelQueue> {
    text.lines().find_map(|l| {
        let f: Vec<u64> = l
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        (f.len() >= 7 && f[0] == u64::from(queue)).then(|| KernelQueue {
            queue_total: f[2],
            queue_dropped: f[5],
            user_dropped: f[6],
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_json_is_valid_shape() {
        let c = Counters {
            seen: 10,
            dropped: 1,
            bytes: 15000,
            ..Counters::default()
        };
        let j = c.to_json();
        assert!(j.starts_with("{\"seen\":10,\"dropped\":1,"));
        assert!(j.contains("\"bytes\":15000"));
        assert!(j.ends_with("\"inject_errors\":0}"));
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }

    #[test]
    fn proc_queue() {
        let t = "    0  12345     3 2 65535     7     1   100  1\n    1  12345     0 2 65535     0     0   5  1\n";
        assert_eq!(
            parse_proc_queue(t, 0),
            Some(KernelQueue {
                queue_total: 3,
                queue_dropped: 7,
                user_dropped: 1
            })
        );
        assert_eq!(parse_proc_queue(t, 1).unwrap().queue_total, 0);
        assert_eq!(parse_proc_queue(t, 2), None);
    }
}
