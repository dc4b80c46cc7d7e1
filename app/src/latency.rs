//! Latency bookkeeping: send latency and ACK RTT, each measured from the actual send time
//! and (in latency mode) from the *intended* send time of a fixed-rate schedule, which corrects
//! for coordinated omission the way wrk2 does.
//!
//! All times are nanoseconds on one clock (the TSC clock in production).
use hdrhistogram::Histogram;
use std::collections::VecDeque;

/// Most sends awaiting their ACK that one connection tracks; sends beyond it go unsampled.
pub const RING: usize = 4096;

pub fn new_hist() -> Histogram<u64> {
    // 1 ns .. 1 h, 3 significant digits; auto-resize keeps outliers instead of dropping them.
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds");
    h.auto(true);
    h
}

/// The histograms of a run (corrected ones stay empty outside latency mode; connect and
/// complete outside --cps).
pub struct Hists {
    pub send: Histogram<u64>,
    pub ack_rtt: Histogram<u64>,
    pub send_corrected: Histogram<u64>,
    pub ack_rtt_corrected: Histogram<u64>,
    /// --cps: connect() to ESTABLISHED.
    pub connect: Histogram<u64>,
    /// --cps: connect() to every byte acked and both FINs done.
    pub complete: Histogram<u64>,
    /// --rr: a request's first send() to the last byte of its response read.
    pub transaction: Histogram<u64>,
    /// --rr with --msg-rate: from the request's intended time.
    pub transaction_corrected: Histogram<u64>,
}

impl Default for Hists {
    fn default() -> Self {
        Hists {
            send: new_hist(),
            ack_rtt: new_hist(),
            send_corrected: new_hist(),
            ack_rtt_corrected: new_hist(),
            connect: new_hist(),
            complete: new_hist(),
            transaction: new_hist(),
            transaction_corrected: new_hist(),
        }
    }
}

impl Hists {
    /// Adds another worker's samples.
    pub fn add(&mut self, o: &Hists) {
        // Same bounds on both sides, so adding cannot fail; a failure would only lose samples.
        let _ = self.send.add(&o.send);
        let _ = self.ack_rtt.add(&o.ack_rtt);
        let _ = self.send_corrected.add(&o.send_corrected);
        let _ = self.ack_rtt_corrected.add(&o.ack_rtt_corrected);
        let _ = self.connect.add(&o.connect);
        let _ = self.complete.add(&o.complete);
        let _ = self.transaction.add(&o.transaction);
        let _ = self.transaction_corrected.add(&o.transaction_corrected);
    }
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    /// Stream offset just past this send's last byte.
    end: u64,
    actual: u64,
    intended: Option<u64>,
}

/// Per-connection tracker of sends waiting for their ACK.
#[derive(Debug, Default)]
pub struct AckTracker {
    ring: VecDeque<Pending>,
    /// Sends not sampled because the ring was full.
    pub unsampled: u64,
}

impl AckTracker {
    pub fn new() -> Self {
        AckTracker {
            // Grown on use: a million idle connections hold no ring.
            ring: VecDeque::new(),
            unsampled: 0,
        }
    }

    /// Takes `old`'s ring allocation (emptied) for this tracker: a slot that sees a new
    /// connection every microsecond (`--cps`) then neither allocates nor frees.
    pub fn reuse_ring(&mut self, old: &mut AckTracker) {
        if self.ring.capacity() == 0 {
            std::mem::swap(&mut self.ring, &mut old.ring);
            self.ring.clear();
        }
    }

    /// A send call took the stream up to offset `end`. `start` is the time before the call,
    /// `done` the time after the flush that followed it, `intended` the scheduled time (latency
    /// mode).
    pub fn on_send(
        &mut self,
        h: &mut Hists,
        end: u64,
        start: u64,
        done: u64,
        intended: Option<u64>,
    ) {
        let _ = h.send.record(done.saturating_sub(start).max(1));
        if let Some(i) = intended {
            let _ = h.send_corrected.record(done.saturating_sub(i).max(1));
        }
        if self.ring.len() < RING {
            self.ring.push_back(Pending {
                end,
                actual: start,
                intended,
            });
        } else {
            self.unsampled += 1;
        }
    }

    /// The peer has acknowledged `acked` bytes of the stream as of `now`.
    pub fn on_acked(&mut self, h: &mut Hists, acked: u64, now: u64) {
        while let Some(p) = self.ring.front() {
            if p.end > acked {
                break;
            }
            let _ = h.ack_rtt.record(now.saturating_sub(p.actual).max(1));
            if let Some(i) = p.intended {
                let _ = h.ack_rtt_corrected.record(now.saturating_sub(i).max(1));
            }
            self.ring.pop_front();
        }
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub fn pending(&self) -> usize {
        self.ring.len()
    }
}

/// A fixed-rate schedule: message k is due at `start + k × interval` (wrk2's model). A late
/// sender sends the backlog back to back, and each message keeps its intended time.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: u64,
    interval_ns: f64,
    next: u64,
}

impl Schedule {
    pub fn new(start: u64, per_sec: u64) -> Self {
        Self::every(start, 1e9 / per_sec.max(1) as f64)
    }

    /// A message every `interval_ns`, the first at `start`.
    pub fn every(start: u64, interval_ns: f64) -> Self {
        Schedule {
            start,
            interval_ns,
            next: 0,
        }
    }

    /// The intended time of the next message.
    pub fn due(&self) -> u64 {
        self.start + (self.next as f64 * self.interval_ns) as u64
    }

    /// The next message is due by `now`.
    pub fn ready(&self, now: u64) -> bool {
        self.due() <= now
    }

    /// The next message went out.
    pub fn advance(&mut self) {
        self.next += 1;
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub fn sent(&self) -> u64 {
        self.next
    }
}

/// Summary of one histogram, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub min_us: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Option<Percentiles> {
        if h.is_empty() {
            return None;
        }
        let us = |ns: u64| ns as f64 / 1e3;
        Some(Percentiles {
            count: h.len(),
            min_us: us(h.min()),
            mean_us: h.mean() / 1e3,
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// A 1000 msg/s schedule where the sender stalls for 100 ms once: the uncorrected send
    /// latency never sees the stall, the corrected one charges it to every message it delayed.
    #[test]
    fn corrected_vs_uncorrected_on_a_stall() {
        let mut h = Hists::default();
        let mut t = AckTracker::new();
        let mut s = Schedule::new(0, 1000);
        let mut now = 0u64;
        let mut offset = 0u64;
        let send_cost = 10_000; // 10 µs per send call
        let rtt = 50_000; // 50 µs to the ACK
        while s.sent() < 1000 {
            if now == 500 * MS {
                now += 100 * MS; // the stall: nothing is sent for 100 ms
            }
            if !s.ready(now) {
                now = s.due();
                continue;
            }
            let intended = s.due();
            offset += 64;
            t.on_send(&mut h, offset, now, now + send_cost, Some(intended));
            now += send_cost;
            t.on_acked(&mut h, offset, now + rtt);
            s.advance();
        }
        assert_eq!(t.pending(), 0);
        assert_eq!(h.send.len(), 1000);
        assert_eq!(h.send_corrected.len(), 1000);
        // Uncorrected: every send took 10 µs.
        assert!(h.send.max() - h.send.min() <= 10);
        assert!((9_990..=10_010).contains(&h.send.value_at_quantile(0.999)));
        // Corrected: the message due at 500 ms waited 100 ms; ~100 messages were late.
        let late = h.send_corrected.len() - h.send_corrected.count_between(0, 20_000);
        assert!((99..=101).contains(&late), "late {late}");
        assert!(h.send_corrected.max() >= 100 * MS);
        assert!(h.send_corrected.value_at_quantile(0.95) > MS);
        // ACK RTT: uncorrected is send cost + rtt; corrected adds the schedule slip.
        assert!(h.ack_rtt.max() <= 61_000);
        assert!(h.ack_rtt_corrected.max() >= 100 * MS);
        let p = Percentiles::of(&h.send_corrected).unwrap();
        assert!(p.max_us >= 100_000.0 && p.p50_us < 20.0, "{p:?}");
    }

    #[test]
    fn acks_pop_only_covered_sends() {
        let mut h = Hists::default();
        let mut t = AckTracker::new();
        t.on_send(&mut h, 100, 0, 5, None);
        t.on_send(&mut h, 200, 10, 15, None);
        t.on_send(&mut h, 300, 20, 25, None);
        t.on_acked(&mut h, 199, 1000);
        assert_eq!(h.ack_rtt.len(), 1);
        assert_eq!(t.pending(), 2);
        t.on_acked(&mut h, 300, 2000);
        assert_eq!(h.ack_rtt.len(), 3);
        assert_eq!(h.ack_rtt.max(), 2000 - 10);
        assert!(h.ack_rtt_corrected.is_empty());
        assert!(h.send_corrected.is_empty());
        assert_eq!(Percentiles::of(&h.send_corrected), None);
    }

    #[test]
    fn ring_is_bounded() {
        let mut h = Hists::default();
        let mut t = AckTracker::new();
        for i in 0..(RING as u64 + 10) {
            t.on_send(&mut h, (i + 1) * 10, i, i + 1, None);
        }
        assert_eq!(t.pending(), RING);
        assert_eq!(t.unsampled, 10);
        assert_eq!(h.send.len(), RING as u64 + 10);
    }
}
