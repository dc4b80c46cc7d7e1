//! CUBIC (RFC 9438), Linux's default, with HyStart++ in the initial slow start.
use super::hystart::HyStart;
use super::{CcState, CongestionControl};
use crate::timer::{Nanos, SEC};

/// RFC 9438 §5.1: C = 0.4 (segments, seconds).
pub const CUBIC_C: f64 = 0.4;
/// RFC 9438 §4.6: β_cubic = 0.7.
pub const CUBIC_BETA: f64 = 0.7;
/// RFC 9438 §4.3: α_cubic = 3(1 − β)/(1 + β), Reno-friendly with β = 0.7.
pub const CUBIC_ALPHA: f64 = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);

/// RFC 9438 eq. (2): K = cbrt((W_max − cwnd_epoch) / C), in seconds, with windows in
/// segments. After a loss cwnd_epoch = β·W_max, so K = cbrt(W_max(1 − β)/C).
#[inline]
pub fn cubic_k(w_max_segs: f64, cwnd_epoch_segs: f64) -> f64 {
    ((w_max_segs - cwnd_epoch_segs).max(0.0) / CUBIC_C).cbrt()
}

/// RFC 9438 eq. (1): W_cubic(t) = C(t − K)^3 + W_max, in segments, `t` in seconds.
#[inline]
pub fn w_cubic(t: f64, k: f64, w_max_segs: f64) -> f64 {
    let d = t - k;
    CUBIC_C * d * d * d + w_max_segs
}

/// CUBIC (RFC 9438). Windows are kept in bytes (f64) and converted to segments for the
/// cubic function, whose constant C is defined in segments per second cubed. No allocation:
/// a few floating-point operations per ACK, one cube root per congestion epoch.
#[derive(Debug, Clone, Copy)]
pub struct Cubic {
    /// W_max: the window just before the last reduction (bytes); 0 = none yet.
    w_max: f64,
    /// cwnd_prior: cwnd when ssthresh was last set (bytes), for α_cubic's switch to 1 (§4.3).
    cwnd_prior: f64,
    /// Start of the current congestion-avoidance epoch; None until the first ACK in
    /// congestion avoidance after slow start or a reduction.
    epoch: Option<Nanos>,
    /// K for this epoch (seconds).
    k: f64,
    /// W_max used by W_cubic in this epoch (bytes): W_max, or cwnd_epoch when K = 0.
    epoch_w_max: f64,
    /// W_est, the Reno-friendly estimate (bytes, §4.3).
    w_est: f64,
    /// cwnd with its fraction (bytes); resynchronised when someone else moved `cwnd`.
    cwnd_f: f64,
    /// The first epoch after a timeout uses K = 0 and W_max = cwnd_epoch (§4.8).
    after_rto: bool,
    /// Fast convergence (§4.7), on as RFC 9438 recommends.
    pub fast_convergence: bool,
    /// HyStart++ (RFC 9406) in the initial slow start, on as in Linux (§4.10 allows it).
    pub hystart: HyStart,
}

impl Default for Cubic {
    fn default() -> Self {
        Cubic {
            w_max: 0.0,
            cwnd_prior: 0.0,
            epoch: None,
            k: 0.0,
            epoch_w_max: 0.0,
            w_est: 0.0,
            cwnd_f: 0.0,
            after_rto: false,
            fast_convergence: true,
            hystart: HyStart::default(),
        }
    }
}

impl Cubic {
    /// W_max (bytes) remembered from the last reduction.
    pub fn w_max(&self) -> f64 {
        self.w_max
    }

    /// K (seconds) of the current epoch.
    pub fn k(&self) -> f64 {
        self.k
    }

    /// W_est (bytes) of the current epoch.
    pub fn w_est(&self) -> f64 {
        self.w_est
    }

    /// The W_max the current epoch's cubic function uses (bytes): W_max, or cwnd at the
    /// epoch's start when K = 0 (after slow start ended without a loss, or an RTO).
    pub fn epoch_w_max(&self) -> f64 {
        self.epoch_w_max
    }

    /// Begins a congestion-avoidance epoch at `now` with the current window (§4.2).
    #[inline]
    fn start_epoch(&mut self, cwnd: f64, mss: f64, now: Nanos) {
        self.epoch = Some(now);
        if self.after_rto || self.w_max <= cwnd {
            // §4.8 (after a timeout) and §4.10 (slow start ended without a loss, or the
            // window is already past W_max): K = 0 and W_max = cwnd_epoch.
            self.k = 0.0;
            self.epoch_w_max = cwnd;
        } else {
            self.k = cubic_k(self.w_max / mss, cwnd / mss);
            self.epoch_w_max = self.w_max;
        }
        self.after_rto = false;
        // §4.3: W_est starts at cwnd_epoch.
        self.w_est = cwnd;
        if self.cwnd_prior == 0.0 {
            self.cwnd_prior = cwnd;
        }
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }

    #[inline]
    fn on_ack(
        &mut self,
        s: &mut CcState,
        acked: u32,
        cwnd_limited: bool,
        now: Nanos,
        srtt_us: u32,
    ) {
        if !cwnd_limited {
            // RFC 9438 §5.8: no growth while the window is not what limits the sender.
            return;
        }
        if s.in_slow_start() {
            // §4.10: slow start below ssthresh (HyStart++'s CSS grows at a quarter of it).
            // When HyStart++ ends it (ssthresh = cwnd, no loss, W_max = 0) the first epoch
            // has K = 0 and W_max = cwnd at the exit, as Linux's after HyStart.
            self.hystart.slow_start(s, acked);
            self.epoch = None;
            return;
        }
        let mss = s.mss.max(1) as f64;
        // Keep our fraction of a byte unless cwnd was changed outside (recovery, RTO).
        let mut cwnd = if self.cwnd_f as u32 == s.cwnd {
            self.cwnd_f
        } else {
            s.cwnd as f64
        };
        if self.epoch.is_none() {
            self.start_epoch(cwnd, mss, now);
        }
        let start = self.epoch.unwrap_or(now);
        let t = now.saturating_sub(start) as f64 / SEC as f64;
        let rtt = srtt_us as f64 / 1e6;
        let acked = acked as f64;

        // §4.3 Reno-friendly estimate: W_est += α·segments_acked/cwnd (here in bytes). α
        // becomes 1 once W_est reaches the window at the last reduction.
        let alpha = if self.w_est >= self.cwnd_prior {
            1.0
        } else {
            CUBIC_ALPHA
        };
        self.w_est += alpha * acked * mss / cwnd;

        let w_max_segs = self.epoch_w_max / mss;
        let cubic_now = w_cubic(t, self.k, w_max_segs) * mss;
        if cubic_now < self.w_est {
            // §4.3: the Reno-friendly region — cwnd follows W_est.
            cwnd = cwnd.max(self.w_est);
        } else {
            // §4.4 (concave, cwnd < W_max) and §4.5 (convex): aim at W_cubic one RTT ahead,
            // clamped to [cwnd, 1.5·cwnd], and close (target − cwnd)/cwnd per segment acked.
            let target = (w_cubic(t + rtt, self.k, w_max_segs) * mss).clamp(cwnd, 1.5 * cwnd);
            cwnd += (target - cwnd) / cwnd * acked;
        }
        let cwnd = cwnd.min(u32::MAX as f64);
        self.cwnd_f = cwnd;
        s.cwnd = cwnd as u32;
    }

    fn ssthresh_after_loss(&mut self, s: &CcState, _flight: u32) -> u32 {
        self.hystart.on_loss();
        let cwnd = s.cwnd as f64;
        // §4.7 fast convergence: a flow whose window keeps shrinking releases bandwidth by
        // lowering its plateau further.
        self.w_max = if self.fast_convergence && cwnd < self.w_max {
            cwnd * (1.0 + CUBIC_BETA) / 2.0
        } else {
            cwnd
        };
        self.cwnd_prior = cwnd;
        self.epoch = None;
        // §4.6 multiplicative decrease: ssthresh = cwnd·β_cubic (at least 2 segments).
        ((cwnd * CUBIC_BETA) as u32).max(2 * s.mss)
    }

    fn on_rto(&mut self, _s: &CcState) {
        // §4.8: the next congestion-avoidance epoch starts from the window reached by slow
        // start, with K = 0.
        self.epoch = None;
        self.after_rto = true;
    }

    #[inline]
    fn on_rtt_sample(
        &mut self,
        s: &mut CcState,
        rtt_us: Option<u32>,
        snd_una: u32,
        snd_max: u32,
        _now: Nanos,
    ) {
        self.hystart.on_ack(s, rtt_us, snd_una, snd_max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cc::Cc;
    use crate::timer::MS;

    #[test]
    fn k_and_w_cubic_by_hand() {
        // W_max = 100 segments, β = 0.7: K = cbrt(100·0.3/0.4) = cbrt(75) = 4.21716 s.
        let k = cubic_k(100.0, 70.0);
        assert!((k - 4.217_163).abs() < 1e-5, "{k}");
        // W_cubic(0) = 0.4·(−K)^3 + 100 = 100 − 0.4·75 = 70 = β·W_max.
        assert!((w_cubic(0.0, k, 100.0) - 70.0).abs() < 1e-9);
        assert!((w_cubic(k, k, 100.0) - 100.0).abs() < 1e-12, "plateau at K");
        // t = 2 s: 0.4·(2 − 4.21716)^3 + 100 = 100 − 0.4·10.8995 = 95.640.
        assert!((w_cubic(2.0, k, 100.0) - 95.640).abs() < 1e-3);
        // K + 1 s: W_max + C = 100.4; K + 3 s: 100 + 0.4·27 = 110.8.
        assert!((w_cubic(k + 1.0, k, 100.0) - 100.4).abs() < 1e-9);
        assert!((w_cubic(k + 3.0, k, 100.0) - 110.8).abs() < 1e-9);
        // W_max = 10 segments: K = cbrt(7.5) = 1.95743 s.
        assert!((cubic_k(10.0, 7.0) - 1.957_434).abs() < 1e-5);
        // No negative K when the epoch starts above W_max.
        assert_eq!(cubic_k(10.0, 12.0), 0.0);
        assert!((CUBIC_ALPHA - 0.529_411_76).abs() < 1e-6);
    }

    const MSS: u32 = 1000;

    /// A cwnd-limited flow: each RTT a full window is acked, one segment per ACK, at evenly
    /// spread times. Returns cwnd (bytes) after each RTT.
    fn run(cc: &mut Cc, s: &mut CcState, now: &mut Nanos, rtt: Nanos, rtts: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(rtts);
        for _ in 0..rtts {
            let n = (s.cwnd / MSS).max(1) as u64;
            for i in 0..n {
                cc.on_ack(s, MSS, true, *now + rtt * i / n, (rtt / 1000) as u32);
            }
            *now += rtt;
            out.push(s.cwnd);
        }
        out
    }

    /// A CUBIC flow that just lost at a window of `w_max_segs`, now in congestion avoidance.
    fn after_loss(w_max_segs: u32) -> (Cc, CcState) {
        let mut cc = Cc::by_name("cubic").unwrap();
        let mut s = CcState::new(MSS);
        s.cwnd = w_max_segs * MSS;
        let ss = cc.ssthresh_after_loss(&s, s.cwnd);
        s.ssthresh = ss;
        s.cwnd = ss;
        (cc, s)
    }

    #[test]
    fn multiplicative_decrease_is_0_7() {
        let (cc, s) = after_loss(100);
        assert_eq!(s.ssthresh, 70_000, "ssthresh = 0.7·cwnd");
        let Cc::Cubic(c) = cc else { panic!() };
        assert_eq!(c.w_max(), 100_000.0);
        let mut r = Cc::by_name("reno").unwrap();
        let st = CcState {
            cwnd: 100_000,
            ..CcState::new(MSS)
        };
        assert_eq!(r.ssthresh_after_loss(&st, 100_000), 50_000, "Reno halves");
        // Never below 2 segments.
        let mut c = Cc::default();
        let tiny = CcState {
            cwnd: 2 * MSS,
            ..CcState::new(MSS)
        };
        assert_eq!(c.ssthresh_after_loss(&tiny, 2 * MSS), 2 * MSS);
    }

    #[test]
    fn concave_growth_plateaus_at_w_max_then_convex() {
        // RTT 200 ms, W_max 100 segments: K = 4.217 s ≈ 21 RTTs; the Reno-friendly estimate
        // stays below W_cubic here (70 + 0.53 per RTT).
        let (mut cc, mut s) = after_loss(100);
        let mut now = 10 * SEC;
        let rtt = 200 * MS;
        let w = run(&mut cc, &mut s, &mut now, rtt, 40);
        let Cc::Cubic(c) = cc else { panic!() };
        assert!((c.k() - 4.217).abs() < 0.01, "K {}", c.k());
        // Concave: fast at first, then slowing down as it nears W_max.
        let first = w[4] - w[0];
        let near_k = w[20] - w[16];
        assert!(first > 3 * near_k, "concave: {first} then {near_k}: {w:?}");
        // Close to W_max around K (t ≈ 4.2 s ≈ RTT 21), not beyond it by much.
        assert!(
            (97_000..=102_000).contains(&w[20]),
            "plateau near W_max: {w:?}"
        );
        // Plateau: the window moves little over the second around K.
        assert!(w[23] - w[18] < 3_000, "plateau: {w:?}");
        // Convex beyond: K + 3 s (RTT ≈ 36) should be near W_cubic(K + 3 + RTT) ≈ 111+.
        assert!(w[36] > 108_000, "convex growth beyond W_max: {}", w[36]);
        let late = w[39] - w[35];
        assert!(late > near_k, "convex: accelerating ({late} vs {near_k})");
        // Never more than 1.5× per RTT.
        for p in w.windows(2) {
            assert!(p[1] as f64 <= p[0] as f64 * 1.5 + 1.0);
        }
    }

    #[test]
    fn reno_friendly_region_dominates_at_short_rtt() {
        // RTT 1 ms and W_max 20 segments: in 100 ms the cubic curve barely moves from 14
        // segments (K = cbrt(15) = 2.47 s), while W_est grows by α then 1 segment per RTT.
        let (mut cc, mut s) = after_loss(20);
        let mut now = SEC;
        let w = run(&mut cc, &mut s, &mut now, MS, 100);
        let Cc::Cubic(c) = cc else { panic!() };
        let cubic_at_end = w_cubic(0.1, c.k(), 20.0) * MSS as f64;
        assert!(cubic_at_end < 15_000.0);
        let last = *w.last().unwrap();
        assert!(
            last > 60_000,
            "cwnd follows W_est (Reno-like +1/RTT), not W_cubic: {last}"
        );
        assert!(
            (last as f64 - c.w_est()).abs() <= MSS as f64,
            "cwnd ≈ W_est"
        );
        // The first RTTs grow by α_cubic ≈ 0.53 segment per RTT (below cwnd_prior).
        let early = (w[10] - w[0]) as f64 / 10.0;
        assert!((400.0..700.0).contains(&early), "{early}");
    }

    #[test]
    fn fast_convergence_lowers_w_max() {
        let (mut cc, mut s) = after_loss(100);
        // A second loss before regaining W_max: W_max = cwnd·(1 + β)/2.
        s.cwnd = 80 * MSS;
        cc.ssthresh_after_loss(&s, s.cwnd);
        let Cc::Cubic(c) = cc else { panic!() };
        assert!((c.w_max() - 80_000.0 * 0.85).abs() < 1e-6, "{}", c.w_max());
        // Without fast convergence it is just cwnd.
        let mut nf = Cubic {
            fast_convergence: false,
            ..Cubic::default()
        };
        let mut st = CcState::new(MSS);
        st.cwnd = 100 * MSS;
        nf.ssthresh_after_loss(&st, st.cwnd);
        st.cwnd = 80 * MSS;
        nf.ssthresh_after_loss(&st, st.cwnd);
        assert_eq!(nf.w_max(), 80_000.0);
        // A loss above the old W_max: W_max = cwnd.
        let (mut cc, mut s) = after_loss(100);
        s.cwnd = 120 * MSS;
        cc.ssthresh_after_loss(&s, s.cwnd);
        let Cc::Cubic(c) = cc else { panic!() };
        assert_eq!(c.w_max(), 120_000.0);
    }

    #[test]
    fn rto_restarts_epoch_with_k_zero() {
        let (mut cc, mut s) = after_loss(100);
        let mut now = SEC;
        run(&mut cc, &mut s, &mut now, 100 * MS, 5);
        cc.ssthresh_after_loss(&s, s.cwnd);
        cc.on_rto(&s);
        s.ssthresh = 50 * MSS;
        s.cwnd = 50 * MSS; // as if slow start had climbed back to ssthresh
        run(&mut cc, &mut s, &mut now, 100 * MS, 1);
        let Cc::Cubic(c) = cc else { panic!() };
        assert_eq!(c.k(), 0.0, "§4.8: K = 0 after a timeout");
    }

    #[test]
    fn slow_start_and_not_cwnd_limited() {
        let mut cc = Cc::default();
        let mut s = CcState::new(MSS);
        cc.on_ack(&mut s, MSS, true, SEC, 1000);
        assert_eq!(s.cwnd, 11 * MSS, "slow start as Reno");
        cc.on_ack(&mut s, 5 * MSS, true, SEC, 1000);
        assert_eq!(s.cwnd, 13 * MSS, "ABC L = 2");
        s.ssthresh = 13 * MSS;
        let before = s.cwnd;
        for i in 0..100 {
            cc.on_ack(&mut s, MSS, false, SEC + i * MS, 1000);
        }
        assert_eq!(s.cwnd, before, "no growth when not cwnd-limited");
    }

    #[test]
    fn deterministic() {
        let go = || {
            let (mut cc, mut s) = after_loss(64);
            let mut now = 3 * SEC;
            let mut w = run(&mut cc, &mut s, &mut now, 30 * MS, 50);
            let ss = cc.ssthresh_after_loss(&s, s.cwnd);
            s.cwnd = ss;
            s.ssthresh = ss;
            w.extend(run(&mut cc, &mut s, &mut now, 30 * MS, 50));
            w
        };
        assert_eq!(go(), go());
    }
}
