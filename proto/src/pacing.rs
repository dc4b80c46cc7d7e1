//! Pacing: spreading a window over the round trip instead of handing the NIC all of it at
//! once (a line-rate sender would otherwise put whole windows into router queues).
//!
//! The rate is recomputed from cwnd and srtt whenever output runs (after every ACK and every
//! timer), with a headroom factor so that pacing never throttles below what the window
//! allows: ×2 while the window is still doubling in slow start, ×1.2 otherwise — the same
//! ratios as Linux's `tcp_pacing_ss_ratio` / `tcp_pacing_ca_ratio` (RFC 9438 §5.8 and
//! RFC 7661 discuss why a sender should not burst). Linux paces TCP when the fq qdisc is
//! installed; linerate has no qdisc, so it paces by default (`TcpConfig::pacing`).
//!
//! The gate is a token bucket in bytes: tokens accrue at the pacing rate and a segment may
//! go when the bucket holds its length. The bucket holds at most a small burst — four
//! segments, or about a millisecond of data at the current rate (up to 64 KiB) — so that TX
//! stays batched and the 1 ms timer wheel (which wakes a connection whose gate closed) does
//! not cap the rate. A connection the gate held back that is woken late, because one pass of
//! the polling loop over many connections takes longer than that millisecond, may send what
//! the rate earned while it waited, up to 64 KiB (one TSO unit): were the bucket cut to a
//! millisecond then, every slow pass would shrink the units, the costlier small units would
//! slow the pass and stretch the measured RTT further, and the lower rate would feed on
//! itself. Before the first RTT sample there is no rate and nothing is paced.
//! No allocation: a few integer operations per segment.
use crate::cc::CcState;
use crate::timer::{Nanos, MS, SEC};

/// Headroom over cwnd/srtt in slow start, percent.
pub const SS_RATIO_PCT: u64 = 200;
/// Headroom over cwnd/srtt in congestion avoidance, percent.
pub const CA_RATIO_PCT: u64 = 120;
/// The bucket always holds at least this many segments.
pub const MIN_BURST_SEGS: u64 = 4;
/// Time's worth of data the bucket may hold at the current rate...
pub const BURST_TIME: Nanos = MS;
/// ...but no more than this many bytes (beyond the `MIN_BURST_SEGS` floor).
pub const MAX_BURST_BYTES: u64 = 64 << 10;

/// Pacing rate in bytes per second for a window of `cwnd` bytes (or the bytes in flight,
/// if more, as during recovery) over `srtt_us`; 0 (no pacing) before the first RTT sample.
#[inline]
pub fn rate(s: &CcState, in_flight: u32, srtt_us: u32) -> u64 {
    if srtt_us == 0 {
        return 0;
    }
    // The window still doubles per RTT only while it is below half of ssthresh; from there
    // on the lower ratio is enough (and avoids overshooting into the queue).
    let ratio = if s.cwnd < s.ssthresh / 2 {
        SS_RATIO_PCT
    } else {
        CA_RATIO_PCT
    };
    let w = s.cwnd.max(in_flight) as u64;
    (w * 1_000_000 * ratio / 100 / srtt_us as u64).max(1)
}

/// The per-connection gate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pacer {
    /// Bytes per second; 0 = not pacing.
    pub rate: u64,
    /// Bytes that may leave now.
    pub tokens: u64,
    /// When `tokens` was last brought up to date.
    pub last: Nanos,
    /// The gate held a segment back since the last update ([`Pacer::held_back`]).
    pub waiting: bool,
}

impl Pacer {
    /// The most the bucket holds at `rate` for segments of `mss`.
    #[inline]
    pub fn burst(rate: u64, mss: u32) -> u64 {
        let time_worth = (rate as u128 * BURST_TIME as u128 / SEC as u128) as u64;
        (MIN_BURST_SEGS * mss as u64).max(time_worth.min(MAX_BURST_BYTES))
    }

    /// Accrues tokens for the time since the last update at the old rate, then takes the
    /// new `rate`. A connection that was not pacing starts with a full bucket. One the gate
    /// held back keeps what accrued while it waited, up to [`MAX_BURST_BYTES`], however late
    /// the wake-up (the module's note says why).
    #[inline]
    pub fn update(&mut self, now: Nanos, rate: u64, mss: u32) {
        let mut cap = Self::burst(rate, mss);
        if self.rate == 0 {
            self.tokens = cap;
        } else {
            let dt = now.saturating_sub(self.last);
            let add = (self.rate as u128 * dt as u128 / SEC as u128).min(u64::MAX as u128);
            if self.waiting {
                cap = cap.max(self.tokens.saturating_add(add as u64).min(MAX_BURST_BYTES));
            }
            self.tokens = self.tokens.saturating_add(add as u64).min(cap);
        }
        self.waiting = false;
        self.last = now;
        self.rate = rate;
    }

    /// The gate held a segment back: the connection waits for tokens with data to send.
    #[inline]
    pub fn held_back(&mut self) {
        self.waiting = true;
    }

    /// May `len` bytes leave now?
    #[inline]
    pub fn may_send(&self, len: u32) -> bool {
        self.rate == 0 || self.tokens >= len as u64
    }

    /// `len` bytes left.
    #[inline]
    pub fn on_sent(&mut self, len: u32) {
        self.tokens = self.tokens.saturating_sub(len as u64);
    }

    /// How long until `len` bytes may leave (0 if they may now).
    #[inline]
    pub fn wait(&self, len: u32) -> Nanos {
        let need = (len as u64).saturating_sub(self.tokens);
        if need == 0 || self.rate == 0 {
            return 0;
        }
        (need as u128 * SEC as u128).div_ceil(self.rate as u128) as Nanos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(cwnd: u32, ssthresh: u32) -> CcState {
        CcState {
            cwnd,
            ssthresh,
            ..CcState::new(1000)
        }
    }

    #[test]
    fn rate_from_cwnd_and_srtt() {
        // 100 000 bytes per 10 ms = 10 MB/s; ×2 in slow start, ×1.2 in avoidance.
        assert_eq!(rate(&state(100_000, u32::MAX), 0, 10_000), 20_000_000);
        assert_eq!(rate(&state(100_000, 150_000), 0, 10_000), 12_000_000);
        assert_eq!(rate(&state(100_000, 100_000), 0, 10_000), 12_000_000);
        assert_eq!(
            rate(&state(100_000, 250_000), 0, 10_000),
            20_000_000,
            "below ssthresh/2 the window still doubles"
        );
        assert_eq!(
            rate(&state(100_000, u32::MAX), 0, 0),
            0,
            "no srtt: no pacing"
        );
        assert_eq!(
            rate(&state(10_000, 10_000), 50_000, 10_000),
            6_000_000,
            "flight above cwnd (recovery) counts"
        );
        // Large windows and tiny RTTs do not overflow.
        assert!(rate(&state(u32::MAX, u32::MAX), 0, 1) > 0);
    }

    #[test]
    fn burst_bounds() {
        assert_eq!(Pacer::burst(1_000_000, 1000), 4000, "floor of 4 segments");
        assert_eq!(Pacer::burst(10_000_000, 1000), 10_000, "1 ms of data");
        assert_eq!(
            Pacer::burst(10_000_000_000, 1000),
            64 << 10,
            "capped at 64 KiB"
        );
    }

    #[test]
    fn gate_spreads_segments() {
        let mut p = Pacer::default();
        assert!(p.may_send(1000), "not pacing yet");
        let t0 = 5 * SEC;
        // 1 MB/s: one 1000-byte segment per ms; bucket of 4 segments.
        p.update(t0, 1_000_000, 1000);
        let mut sent = 0;
        while p.may_send(1000) {
            p.on_sent(1000);
            sent += 1;
        }
        assert_eq!(sent, 4, "a full bucket allows the burst, no more");
        assert_eq!(p.wait(1000), MS, "then one segment per ms");
        p.update(t0 + MS / 2, 1_000_000, 1000);
        assert!(!p.may_send(1000));
        assert_eq!(p.wait(1000), MS / 2);
        p.update(t0 + MS, 1_000_000, 1000);
        assert!(p.may_send(1000));
        p.on_sent(1000);
        assert!(!p.may_send(1000));
        // A long idle refills only up to the burst.
        p.update(t0 + 10 * SEC, 1_000_000, 1000);
        assert_eq!(p.tokens, 4000);
        // Zero-length segments (a bare FIN) always pass.
        p.tokens = 0;
        assert!(p.may_send(0));
        // Over one second at 1 MB/s, about 1 MB leaves (tokens accrue exactly).
        let mut p = Pacer::default();
        p.update(0, 1_000_000, 1000);
        let mut now = 0;
        let mut bytes = 0u64;
        while now < SEC {
            p.update(now, 1_000_000, 1000);
            while p.may_send(1000) {
                p.on_sent(1000);
                bytes += 1000;
            }
            now += p.wait(1000);
        }
        assert!((1_000_000..=1_005_000).contains(&bytes), "{bytes}");
    }

    #[test]
    fn a_late_wake_keeps_what_the_wait_earned() {
        // 4 MB/s, 1448-byte segments: the bucket holds 4 segments (1 ms is 4 KB). Woken only
        // every 5 ms (a slow pass of the loop), a backlogged connection still gets 4 MB/s.
        let run = |held_back: bool| {
            let mut p = Pacer::default();
            p.update(0, 4_000_000, 1448);
            let (mut bytes, mut now) = (0u64, 0);
            while now < SEC {
                p.update(now, 4_000_000, 1448);
                while p.may_send(1448) {
                    p.on_sent(1448);
                    bytes += 1448;
                }
                if held_back {
                    p.held_back();
                }
                now += 5 * MS;
            }
            bytes
        };
        let b = run(true);
        assert!((3_980_000..=4_030_000).contains(&b), "{b}");
        // Without the wait noted, the bucket caps at 4 segments per wake: 1.16 MB/s.
        let b = run(false);
        assert!(b < 1_200_000, "{b}");
        // An idle connection (not held back) refills only to the burst, however long it
        // idled; a held-back one at most to 64 KiB.
        let mut p = Pacer::default();
        p.update(0, 4_000_000, 1448);
        p.update(10 * SEC, 4_000_000, 1448);
        assert_eq!(p.tokens, 4 * 1448);
        p.held_back();
        p.update(20 * SEC, 4_000_000, 1448);
        assert_eq!(p.tokens, MAX_BURST_BYTES);
    }

    #[test]
    fn coarse_wakeups_do_not_cap_the_rate() {
        // 50 MB/s woken only every 1 ms (the wheel's tick): 50 KB per tick fits the bucket.
        let mut p = Pacer::default();
        p.update(0, 50_000_000, 1448);
        let mut bytes = 0u64;
        let mut now = 0;
        while now < 100 * MS {
            p.update(now, 50_000_000, 1448);
            while p.may_send(1448) {
                p.on_sent(1448);
                bytes += 1448;
            }
            now += MS;
        }
        assert!(bytes >= 4_900_000, "{bytes}");
    }
}
