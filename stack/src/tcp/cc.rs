//! Congestion control. A trait with static dispatch through `Cc` (no allocation, no vtable
//! on the ACK path): Reno (RFC 5681, byte counting per RFC 3465) and CUBIC (RFC 9438), the
//! default, as in Linux. Both leave the initial slow start with HyStart++ (RFC 9406) on
//! rising delay, as Linux CUBIC does with HyStart, unless it is turned off
//! ([`Cc::with_hystart`]).
use super::seq_ge;
use super::timer::{Nanos, SEC};

/// The congestion state the algorithms read and write, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct CcState {
    pub cwnd: u32,
    pub ssthresh: u32,
    pub mss: u32,
    /// Bytes acked towards the next congestion-avoidance increase (RFC 5681 §3.1, byte counting).
    pub bytes_acked: u32,
}

impl CcState {
    /// Initial window of 10 segments (RFC 6928, Linux's default).
    pub fn new(mss: u32) -> Self {
        CcState {
            cwnd: 10 * mss,
            ssthresh: u32::MAX,
            mss,
            bytes_acked: 0,
        }
    }

    pub fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }
}

pub trait CongestionControl {
    fn name(&self) -> &'static str;
    /// New data was acknowledged (not in recovery). `cwnd_limited`: the sender was limited by
    /// cwnd, so growing it is meaningful (RFC 7661's rationale; Linux `tcp_is_cwnd_limited`).
    /// `now` is the stack's clock and `srtt_us` the smoothed RTT (0 before the first sample);
    /// time-based algorithms (CUBIC) need both.
    fn on_ack(&mut self, s: &mut CcState, acked: u32, cwnd_limited: bool, now: Nanos, srtt_us: u32);
    /// ssthresh after a loss is detected with `flight` bytes outstanding (fast retransmit or
    /// the first RTO of an episode).
    fn ssthresh_after_loss(&mut self, s: &CcState, flight: u32) -> u32;
    /// The retransmission timer expired (after `ssthresh_after_loss` when it is the first
    /// timeout of an episode). cwnd has been or will be collapsed by the caller.
    fn on_rto(&mut self, _s: &CcState) {}
    /// An ACK of new data arrived, before `on_ack`: `rtt_us` is its RTT sample (Karn-filtered;
    /// None when it gave none), `snd_una` the new cumulative ACK and `snd_max` the highest
    /// sequence sent so far (round tracking). HyStart++ (RFC 9406) runs here and may move the
    /// connection into Conservative Slow Start or set ssthresh = cwnd.
    fn on_rtt_sample(
        &mut self,
        _s: &mut CcState,
        _rtt_us: Option<u32>,
        _snd_una: u32,
        _snd_max: u32,
        _now: Nanos,
    ) {
    }
}

/// Slow start (RFC 5681 §3.1) with RFC 3465 byte counting, L = 2*SMSS per ACK, the increase
/// divided by `divisor` (RFC 9406 Conservative Slow Start: 4; else 1); never past ssthresh.
#[inline]
fn slow_start(s: &mut CcState, acked: u32, divisor: u32) {
    s.cwnd = s
        .cwnd
        .saturating_add(acked.min(2 * s.mss) / divisor)
        .min(s.ssthresh.max(s.cwnd));
}

/// RFC 9406 §4.3: a round's minimum RTT must rise by at least this much (µs)…
pub const HS_MIN_RTT_THRESH_US: u32 = 4_000;
/// …and never needs to rise by more than this (µs)…
pub const HS_MAX_RTT_THRESH_US: u32 = 16_000;
/// …and otherwise by lastRoundMinRTT / MIN_RTT_DIVISOR.
pub const HS_MIN_RTT_DIVISOR: u32 = 8;
/// RTT samples a round needs before it can decide anything.
pub const HS_N_RTT_SAMPLE: u32 = 8;
/// Conservative Slow Start grows cwnd by a quarter of what slow start would.
pub const HS_CSS_GROWTH_DIVISOR: u32 = 4;
/// Rounds of Conservative Slow Start before congestion avoidance.
pub const HS_CSS_ROUNDS: u32 = 5;

/// "Infinity" for the RTT variables (µs).
const INF: u32 = u32::MAX;

/// HyStart++ (RFC 9406): leaves slow start when the minimum RTT of a round has risen by
/// RttThresh over the previous round's, through Conservative Slow Start (CSS): CSS_ROUNDS
/// rounds growing at 1/CSS_GROWTH_DIVISOR the slow-start rate, back to slow start if a
/// round's minimum RTT falls below the one that triggered CSS (a spurious exit, e.g. jitter),
/// else ssthresh = cwnd and congestion avoidance.
///
/// A round ends when `snd_una` reaches `windowEnd`, the `snd_max` of the round's start.
/// It runs only during the initial slow start, while ssthresh still holds its initial
/// "arbitrarily high" value (§4.4); a loss sets ssthresh through the algorithm's
/// `ssthresh_after_loss` and so ends it (the round state is cleared, so that if that
/// reduction is later undone as spurious, HyStart++ starts again from a fresh round).
/// No allocation: a few integer operations per ACK.
#[derive(Debug, Clone, Copy)]
pub struct HyStart {
    /// On by default; off gives classic slow start up to the first loss.
    pub enabled: bool,
    /// windowEnd: the round ends when snd_una reaches it; None before the first round.
    window_end: Option<u32>,
    /// lastRoundMinRTT (µs), INF when unknown.
    last_round_min_rtt: u32,
    /// currentRoundMinRTT (µs), INF when no sample yet.
    current_round_min_rtt: u32,
    /// rttSampleCount of the current round.
    rtt_sample_count: u32,
    /// cssBaselineMinRtt (µs): INF in slow start, the minimum RTT that triggered CSS in CSS.
    css_baseline_min_rtt: u32,
    /// Rounds spent in CSS (the partial round of the entry counts).
    css_rounds: u32,
    /// Rounds started (observability).
    rounds: u32,
    /// Times slow start entered CSS (observability).
    css_entries: u32,
    /// HyStart++ ended slow start: ssthresh = cwnd after CSS_ROUNDS rounds.
    exited: bool,
}

impl Default for HyStart {
    fn default() -> Self {
        HyStart {
            enabled: true,
            window_end: None,
            last_round_min_rtt: INF,
            current_round_min_rtt: INF,
            rtt_sample_count: 0,
            css_baseline_min_rtt: INF,
            css_rounds: 0,
            rounds: 0,
            css_entries: 0,
            exited: false,
        }
    }
}

impl HyStart {
    /// Whether HyStart++ governs this window: on, and still the initial slow start.
    #[inline]
    fn active(&self, s: &CcState) -> bool {
        self.enabled && s.ssthresh == u32::MAX
    }

    /// In Conservative Slow Start now.
    pub fn in_css(&self, s: &CcState) -> bool {
        self.active(s) && self.css_baseline_min_rtt != INF
    }

    /// Rounds started so far.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// Rounds completed in the current CSS phase.
    pub fn css_rounds(&self) -> u32 {
        self.css_rounds
    }

    /// How many times slow start entered CSS.
    pub fn css_entries(&self) -> u32 {
        self.css_entries
    }

    /// HyStart++ ended slow start (ssthresh = cwnd without a loss).
    pub fn exited(&self) -> bool {
        self.exited
    }

    /// cssBaselineMinRtt (µs) while in CSS.
    pub fn css_baseline_min_rtt_us(&self) -> Option<u32> {
        (self.css_baseline_min_rtt != INF).then_some(self.css_baseline_min_rtt)
    }

    /// lastRoundMinRTT (µs), when known.
    pub fn last_round_min_rtt_us(&self) -> Option<u32> {
        (self.last_round_min_rtt != INF).then_some(self.last_round_min_rtt)
    }

    /// currentRoundMinRTT (µs), when the round has a sample.
    pub fn current_round_min_rtt_us(&self) -> Option<u32> {
        (self.current_round_min_rtt != INF).then_some(self.current_round_min_rtt)
    }

    /// rttSampleCount of the current round.
    pub fn rtt_sample_count(&self) -> u32 {
        self.rtt_sample_count
    }

    /// RttThresh for a previous round minimum of `last_us` (§4.2): last/8 clamped to
    /// [MIN_RTT_THRESH, MAX_RTT_THRESH].
    pub fn rtt_thresh_us(last_us: u32) -> u32 {
        (last_us / HS_MIN_RTT_DIVISOR).clamp(HS_MIN_RTT_THRESH_US, HS_MAX_RTT_THRESH_US)
    }

    /// The start of a round (§4.2): lastRoundMinRTT = currentRoundMinRTT, currentRoundMinRTT
    /// = infinity, rttSampleCount = 0, windowEnd = snd_max.
    #[inline]
    fn start_round(&mut self, snd_max: u32) {
        self.window_end = Some(snd_max);
        self.last_round_min_rtt = self.current_round_min_rtt;
        self.current_round_min_rtt = INF;
        self.rtt_sample_count = 0;
        self.rounds = self.rounds.wrapping_add(1);
    }

    /// Forgets the round state (slow start is over, or a loss ended it).
    #[inline]
    fn clear_rounds(&mut self) {
        self.window_end = None;
        self.last_round_min_rtt = INF;
        self.current_round_min_rtt = INF;
        self.rtt_sample_count = 0;
        self.css_baseline_min_rtt = INF;
        self.css_rounds = 0;
    }

    /// A loss (fast retransmit, SACK/RACK recovery, TLP repair, RTO) during slow start or
    /// CSS: the algorithm's loss response sets ssthresh, which ends HyStart++.
    pub fn on_loss(&mut self) {
        self.clear_rounds();
    }

    /// One ACK of new data (§4.2): the RTT sample into this round's minimum, the delay test
    /// in slow start, the spurious-exit test in CSS, then the end of the round.
    pub fn on_ack(&mut self, s: &mut CcState, rtt_us: Option<u32>, snd_una: u32, snd_max: u32) {
        if !self.enabled {
            return;
        }
        if !self.active(s) {
            if self.window_end.is_some() {
                self.clear_rounds();
            }
            return;
        }
        let window_end = match self.window_end {
            Some(w) => w,
            None => {
                self.start_round(snd_max);
                snd_max
            }
        };
        if let Some(rtt) = rtt_us {
            self.current_round_min_rtt = self.current_round_min_rtt.min(rtt);
            self.rtt_sample_count = self.rtt_sample_count.saturating_add(1);
            let enough = self.rtt_sample_count >= HS_N_RTT_SAMPLE;
            if self.css_baseline_min_rtt != INF {
                // CSS: a round minimum below the baseline says the exit was spurious.
                if enough && self.current_round_min_rtt < self.css_baseline_min_rtt {
                    self.css_baseline_min_rtt = INF;
                    self.css_rounds = 0;
                }
            }
            if self.css_baseline_min_rtt == INF
                && enough
                && self.current_round_min_rtt != INF
                && self.last_round_min_rtt != INF
            {
                let thresh = Self::rtt_thresh_us(self.last_round_min_rtt);
                if self.current_round_min_rtt >= self.last_round_min_rtt.saturating_add(thresh) {
                    // Delay increase: leave slow start for CSS.
                    self.css_baseline_min_rtt = self.current_round_min_rtt;
                    self.css_rounds = 0;
                    self.css_entries = self.css_entries.wrapping_add(1);
                }
            }
        }
        if seq_ge(snd_una, window_end) {
            if self.css_baseline_min_rtt != INF {
                self.css_rounds = self.css_rounds.saturating_add(1);
                if self.css_rounds >= HS_CSS_ROUNDS {
                    // CSS is over: congestion avoidance from here.
                    s.ssthresh = s.cwnd;
                    self.exited = true;
                    self.clear_rounds();
                    return;
                }
            }
            self.start_round(snd_max);
        }
    }

    /// Slow-start growth for one ACK: standard, or a quarter of it in CSS.
    #[inline]
    pub fn slow_start(&self, s: &mut CcState, acked: u32) {
        let divisor = if self.in_css(s) {
            HS_CSS_GROWTH_DIVISOR
        } else {
            1
        };
        slow_start(s, acked, divisor);
    }
}

/// RFC 5681 Reno, with HyStart++ in the initial slow start.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reno {
    pub hystart: HyStart,
}

impl CongestionControl for Reno {
    fn name(&self) -> &'static str {
        "reno"
    }

    fn on_ack(&mut self, s: &mut CcState, acked: u32, cwnd_limited: bool, _: Nanos, _: u32) {
        if !cwnd_limited {
            return;
        }
        if s.in_slow_start() {
            self.hystart.slow_start(s, acked);
            return;
        }
        // Congestion avoidance: one MSS per cwnd of acked bytes.
        s.bytes_acked = s.bytes_acked.saturating_add(acked);
        if s.bytes_acked >= s.cwnd {
            s.bytes_acked -= s.cwnd;
            s.cwnd = s.cwnd.saturating_add(s.mss);
        }
    }

    fn ssthresh_after_loss(&mut self, s: &CcState, flight: u32) -> u32 {
        self.hystart.on_loss();
        // RFC 5681 eq. (4).
        (flight / 2).max(2 * s.mss)
    }

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

/// RFC 9438 §5.1: C = 0.4 (segments, seconds).
pub const CUBIC_C: f64 = 0.4;
/// RFC 9438 §4.6: β_cubic = 0.7.
pub const CUBIC_BETA: f64 = 0.7;
/// RFC 9438 §4.3: α_cubic = 3(1 − β)/(1 + β), Reno-friendly with β = 0.7.
pub const CUBIC_ALPHA: f64 = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);

/// RFC 9438 eq. (2): K = cbrt((W_max − cwnd_epoch) / C), in seconds, with windows in
/// segments. After a loss cwnd_epoch = β·W_max, so K = cbrt(W_max(1 − β)/C).
pub fn cubic_k(w_max_segs: f64, cwnd_epoch_segs: f64) -> f64 {
    ((w_max_segs - cwnd_epoch_segs).max(0.0) / CUBIC_C).cbrt()
}

/// RFC 9438 eq. (1): W_cubic(t) = C(t − K)^3 + W_max, in segments, `t` in seconds.
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

/// The algorithms, statically dispatched.
#[derive(Debug, Clone, Copy)]
pub enum Cc {
    Reno(Reno),
    Cubic(Cubic),
}

impl Cc {
    /// By name, as `--cc` takes it.
    pub fn by_name(name: &str) -> Option<Cc> {
        match name {
            "reno" => Some(Cc::Reno(Reno::default())),
            "cubic" => Some(Cc::Cubic(Cubic::default())),
            _ => None,
        }
    }

    /// Every name `by_name` knows, for help and error messages.
    pub fn names() -> &'static [&'static str] {
        &["cubic", "reno"]
    }

    /// The same algorithm with HyStart++ (RFC 9406) on or off (on by default).
    pub fn with_hystart(mut self, on: bool) -> Cc {
        match &mut self {
            Cc::Reno(r) => r.hystart.enabled = on,
            Cc::Cubic(c) => c.hystart.enabled = on,
        }
        self
    }

    /// The HyStart++ state.
    pub fn hystart(&self) -> &HyStart {
        match self {
            Cc::Reno(r) => &r.hystart,
            Cc::Cubic(c) => &c.hystart,
        }
    }
}

impl Default for Cc {
    /// CUBIC, Linux's default.
    fn default() -> Self {
        Cc::Cubic(Cubic::default())
    }
}

impl CongestionControl for Cc {
    fn name(&self) -> &'static str {
        match self {
            Cc::Reno(r) => r.name(),
            Cc::Cubic(c) => c.name(),
        }
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
        match self {
            Cc::Reno(r) => r.on_ack(s, acked, cwnd_limited, now, srtt_us),
            Cc::Cubic(c) => c.on_ack(s, acked, cwnd_limited, now, srtt_us),
        }
    }
    fn ssthresh_after_loss(&mut self, s: &CcState, flight: u32) -> u32 {
        match self {
            Cc::Reno(r) => r.ssthresh_after_loss(s, flight),
            Cc::Cubic(c) => c.ssthresh_after_loss(s, flight),
        }
    }
    fn on_rto(&mut self, s: &CcState) {
        match self {
            Cc::Reno(r) => r.on_rto(s),
            Cc::Cubic(c) => c.on_rto(s),
        }
    }
    #[inline]
    fn on_rtt_sample(
        &mut self,
        s: &mut CcState,
        rtt_us: Option<u32>,
        snd_una: u32,
        snd_max: u32,
        now: Nanos,
    ) {
        match self {
            Cc::Reno(r) => r.on_rtt_sample(s, rtt_us, snd_una, snd_max, now),
            Cc::Cubic(c) => c.on_rtt_sample(s, rtt_us, snd_una, snd_max, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::timer::MS;

    #[test]
    fn slow_start_then_avoidance() {
        let mut s = CcState::new(1000);
        let mut cc = Cc::by_name("reno").unwrap();
        assert_eq!(s.cwnd, 10_000);
        cc.on_ack(&mut s, 1000, true, 0, 0);
        assert_eq!(s.cwnd, 11_000, "slow start: +acked");
        cc.on_ack(&mut s, 5000, true, 0, 0);
        assert_eq!(s.cwnd, 13_000, "ABC caps one ACK at 2*MSS");
        cc.on_ack(&mut s, 1000, false, 0, 0);
        assert_eq!(s.cwnd, 13_000, "no growth when not cwnd-limited");
        s.ssthresh = s.cwnd;
        for _ in 0..12 {
            cc.on_ack(&mut s, 1000, true, 0, 0);
        }
        assert_eq!(s.cwnd, 13_000, "CA: not yet a full window acked");
        cc.on_ack(&mut s, 1000, true, 0, 0);
        assert_eq!(s.cwnd, 14_000, "CA: +1 MSS per window");
        assert_eq!(cc.ssthresh_after_loss(&s, 20_000), 10_000);
        assert_eq!(cc.ssthresh_after_loss(&s, 1_000), 2_000, "floor of 2 MSS");
        assert!(Cc::by_name("bogus").is_none());
        assert_eq!(Cc::by_name("reno").unwrap().name(), "reno");
    }

    #[test]
    fn names_and_default() {
        assert_eq!(
            Cc::default().name(),
            "cubic",
            "CUBIC is the default, as in Linux"
        );
        assert_eq!(Cc::by_name("cubic").unwrap().name(), "cubic");
        assert!(Cc::by_name("CUBIC").is_none() && Cc::by_name("").is_none());
        assert!(Cc::by_name("bbr").is_none());
        for n in Cc::names() {
            assert_eq!(Cc::by_name(n).unwrap().name(), *n);
        }
        assert_eq!(Cc::names(), &["cubic", "reno"]);
    }

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

    // ---- HyStart++ (RFC 9406) ----

    /// A cwnd-limited sender driven ACK by ACK: every ACK covers one MSS and may carry an RTT
    /// sample; after it the sender fills the window (snd_max = snd_una + cwnd). Rounds are
    /// tracked here as RFC 9406 defines them (windowEnd = snd_max when a round starts; it
    /// ends when snd_una reaches windowEnd), independently of the code under test.
    struct Flow {
        cc: Cc,
        s: CcState,
        una: u32,
        max: u32,
        now: Nanos,
        end: Option<u32>,
        rounds: u32,
    }

    impl Flow {
        fn new(cc: Cc) -> Flow {
            let s = CcState::new(MSS);
            // Sequence numbers start near the wrap, so that rounds are compared mod 2^32.
            let una = u32::MAX - 5 * MSS;
            Flow {
                cc,
                s,
                una,
                max: una.wrapping_add(s.cwnd),
                now: SEC,
                end: None,
                rounds: 0,
            }
        }

        fn hs(&self) -> &HyStart {
            self.cc.hystart()
        }

        fn in_css(&self) -> bool {
            self.hs().in_css(&self.s)
        }

        /// One ACK; true when it ended a round.
        fn ack(&mut self, rtt: Option<u32>) -> bool {
            let max = self.max;
            self.una = self.una.wrapping_add(MSS);
            self.cc
                .on_rtt_sample(&mut self.s, rtt, self.una, max, self.now);
            self.cc
                .on_ack(&mut self.s, MSS, true, self.now, rtt.unwrap_or(50_000));
            self.now += MS;
            let fill = self.una.wrapping_add(self.s.cwnd);
            if seq_ge(fill, self.max) {
                self.max = fill;
            }
            let end = *self.end.get_or_insert_with(|| {
                self.rounds += 1;
                max
            });
            if seq_ge(self.una, end) {
                self.end = Some(max);
                self.rounds += 1;
                return true;
            }
            false
        }

        /// ACKs to the end of the current round, each with `rtt(i)` (i from 0); returns
        /// (bytes acked, cwnd growth) over the round.
        fn round_with(&mut self, mut rtt: impl FnMut(u32) -> Option<u32>) -> (u32, u32) {
            let (c0, u0) = (self.s.cwnd, self.una);
            let mut i = 0;
            while !self.ack(rtt(i)) {
                i += 1;
            }
            (self.una.wrapping_sub(u0), self.s.cwnd - c0)
        }

        fn round(&mut self, rtt_us: u32) -> (u32, u32) {
            self.round_with(|_| Some(rtt_us))
        }
    }

    const BASE: u32 = 50_000;
    /// RttThresh for a 50 ms base: 50/8 = 6.25 ms, inside [4, 16] ms.
    const THRESH: u32 = 6_250;

    fn both() -> [Cc; 2] {
        [Cc::by_name("reno").unwrap(), Cc::by_name("cubic").unwrap()]
    }

    #[test]
    fn hystart_is_on_by_default_and_can_be_turned_off() {
        for cc in both() {
            assert!(cc.hystart().enabled, "{}", cc.name());
            assert!(!cc.with_hystart(false).hystart().enabled);
            assert!(cc.with_hystart(false).with_hystart(true).hystart().enabled);
        }
        assert!(Cc::default().hystart().enabled);
        assert_eq!(HyStart::rtt_thresh_us(BASE), THRESH);
        assert_eq!(
            HyStart::rtt_thresh_us(20_000),
            4_000,
            "floor MIN_RTT_THRESH"
        );
        assert_eq!(HyStart::rtt_thresh_us(1_000), 4_000);
        assert_eq!(
            HyStart::rtt_thresh_us(200_000),
            16_000,
            "cap MAX_RTT_THRESH"
        );
        assert_eq!(HyStart::rtt_thresh_us(INF - 1), 16_000);
    }

    #[test]
    fn hystart_flat_rtt_stays_in_slow_start_doubling() {
        for cc in both() {
            let mut f = Flow::new(cc);
            let mut prev = f.s.cwnd;
            for r in 0..9 {
                // A little jitter below the threshold: still flat as far as HyStart++ goes.
                let (acked, grew) = f.round_with(|i| Some(BASE + (i % 3) * 1_000));
                assert_eq!(grew, acked, "{} round {r}: slow start, +acked", cc.name());
                if r >= 1 {
                    assert!(
                        f.s.cwnd >= 2 * prev - 2 * MSS,
                        "{} round {r}: cwnd doubles per round: {prev} -> {}",
                        cc.name(),
                        f.s.cwnd
                    );
                }
                prev = f.s.cwnd;
                assert_eq!(f.s.ssthresh, u32::MAX);
                assert!(!f.in_css());
                assert_eq!(f.hs().rounds(), f.rounds, "rounds as RFC 9406 counts them");
            }
            assert!(f.s.cwnd > 200 * MSS, "{}", f.s.cwnd);
            assert_eq!(f.hs().css_entries(), 0);
            assert_eq!(f.hs().last_round_min_rtt_us(), Some(BASE));
            assert!(!f.hs().exited());
        }
    }

    #[test]
    fn hystart_rtt_rise_enters_css_growing_a_quarter() {
        for cc in both() {
            let mut f = Flow::new(cc);
            for _ in 0..3 {
                f.round(BASE);
            }
            // A round whose samples rise to just under last + RttThresh: no exit.
            let mut g = Flow::new(cc);
            for _ in 0..3 {
                g.round(BASE);
            }
            g.round(BASE + THRESH - 1);
            assert!(
                !g.in_css() && g.hs().css_entries() == 0,
                "below the threshold"
            );
            // Exactly last + RttThresh: CSS at the 8th sample of the round, not before.
            for i in 0..HS_N_RTT_SAMPLE {
                assert!(
                    !f.in_css(),
                    "{}: no decision before 8 samples ({i})",
                    cc.name()
                );
                assert!(!f.ack(Some(BASE + THRESH)));
            }
            assert!(f.in_css(), "{}: CSS after 8 samples", cc.name());
            assert_eq!(f.hs().css_baseline_min_rtt_us(), Some(BASE + THRESH));
            assert_eq!(
                f.s.ssthresh,
                u32::MAX,
                "CSS is still slow start for ssthresh"
            );
            // Growth is a quarter of slow start's for the rest of this round and the next.
            let (c0, u0) = (f.s.cwnd, f.una);
            while !f.ack(Some(BASE + THRESH + 2_000)) {}
            assert_eq!(
                f.s.cwnd - c0,
                f.una.wrapping_sub(u0) / HS_CSS_GROWTH_DIVISOR
            );
            let (acked, grew) = f.round(BASE + THRESH + 3_000);
            assert_eq!(grew, acked / HS_CSS_GROWTH_DIVISOR, "{}", cc.name());
            assert!(f.in_css());
            assert_eq!(f.hs().css_rounds(), 2, "the entry round counts");
            assert_eq!(f.hs().css_entries(), 1);
        }
    }

    #[test]
    fn hystart_rtt_below_baseline_in_css_resumes_slow_start() {
        for cc in both() {
            let mut f = Flow::new(cc);
            f.round(BASE);
            f.round(BASE);
            f.round(60_000); // ≥ 50 + 6.25 ms: CSS, baseline 60 ms
            assert!(f.in_css());
            assert_eq!(f.hs().css_baseline_min_rtt_us(), Some(60_000));
            f.round(61_000);
            assert!(f.in_css(), "still above the baseline");
            // The next round's minimum is 52 ms < 60 ms: the exit was spurious, but only once
            // the round has 8 samples.
            for _ in 0..HS_N_RTT_SAMPLE - 1 {
                f.ack(Some(52_000));
                assert!(f.in_css(), "{}: 7 samples decide nothing", cc.name());
            }
            let c = f.s.cwnd;
            f.ack(Some(52_000));
            assert!(!f.in_css(), "{}: back to slow start", cc.name());
            assert_eq!(f.hs().css_baseline_min_rtt_us(), None);
            assert_eq!(f.hs().css_rounds(), 0);
            assert_eq!(f.s.cwnd - c, MSS, "full slow-start growth again");
            let (acked, grew) = f.round(52_000);
            assert_eq!(grew, acked, "{}: slow start", cc.name());
            assert_eq!(f.s.ssthresh, u32::MAX);
            // HyStart++ keeps running: a new rise enters CSS again.
            f.round(52_000 + HyStart::rtt_thresh_us(52_000));
            assert!(f.in_css());
            assert_eq!(f.hs().css_entries(), 2);
        }
    }

    #[test]
    fn hystart_css_rounds_then_congestion_avoidance() {
        for cc in both() {
            let mut f = Flow::new(cc);
            f.round(BASE);
            f.round(BASE);
            // Enter CSS at the 8th sample, in the middle of a round of 30-odd ACKs: that
            // partial round counts towards CSS_ROUNDS.
            for _ in 0..HS_N_RTT_SAMPLE {
                assert!(!f.ack(Some(70_000)));
            }
            assert!(f.in_css(), "{}", cc.name());
            while !f.ack(Some(70_000)) {}
            assert_eq!(f.hs().css_rounds(), 1);
            for n in 2..HS_CSS_ROUNDS {
                let (acked, grew) = f.round(72_000);
                assert_eq!(grew, acked / HS_CSS_GROWTH_DIVISOR);
                assert_eq!(f.hs().css_rounds(), n);
                assert_eq!(f.s.ssthresh, u32::MAX);
            }
            // The 5th round's last ACK ends CSS: ssthresh = cwnd, congestion avoidance.
            let before = loop {
                assert!(!f.hs().exited() && f.s.in_slow_start());
                let before = f.s.cwnd;
                if f.ack(Some(72_000)) {
                    break before;
                }
            };
            assert!(f.hs().exited(), "{}", cc.name());
            assert!(!f.in_css());
            assert!(!f.s.in_slow_start());
            assert_eq!(
                f.s.ssthresh,
                before,
                "{}: ssthresh = cwnd at the exit",
                cc.name()
            );
            assert!(f.s.cwnd <= before + MSS, "this ACK grew cwnd as avoidance");
            let exit_cwnd = f.s.ssthresh;
            // From here the window grows as in congestion avoidance, far below slow start's.
            let (acked, grew) = f.round(72_000);
            assert!(acked > 20 * MSS);
            assert!(
                grew <= 2 * MSS,
                "{}: congestion avoidance (+{grew} over {acked} acked)",
                cc.name()
            );
            assert_eq!(f.s.ssthresh, exit_cwnd, "no further HyStart++ decisions");
            if let Cc::Cubic(c) = &f.cc {
                // The first epoch after a loss-free exit: K = 0 and W_max = cwnd at the exit,
                // as Linux's CUBIC after HyStart.
                assert_eq!(c.k(), 0.0);
                assert_eq!(c.epoch_w_max(), exit_cwnd as f64);
                assert_eq!(c.w_max(), 0.0, "no loss yet");
            }
            // Later rounds never go back to slow start, whatever the RTT does.
            for _ in 0..5 {
                f.round(40_000);
            }
            assert!(!f.s.in_slow_start() && !f.in_css());
            assert!(f.s.cwnd < exit_cwnd + 10 * MSS, "{}", f.s.cwnd);
        }
    }

    #[test]
    fn hystart_fewer_than_8_samples_decide_nothing() {
        for cc in both() {
            // The first round has no previous round to compare with.
            let mut f = Flow::new(cc);
            f.round(BASE);
            assert!(f.hs().last_round_min_rtt_us().is_some());
            let mut f = Flow::new(cc);
            f.round(BASE);
            // Rounds where only 7 ACKs carry a sample (Karn's rule dropped the others), all
            // far above the threshold: no decision.
            for r in 0..4 {
                let (acked, grew) = f.round_with(|i| (i < 7).then_some(200_000));
                assert!(acked >= 10 * MSS);
                assert_eq!(grew, acked, "{} round {r}: slow start", cc.name());
                assert!(!f.in_css());
            }
            assert_eq!(f.hs().css_entries(), 0);
            // lastRoundMinRTT is now 200 ms; a round whose 8 samples rise by 16 ms enters CSS.
            f.round_with(|i| (i < 8).then_some(216_000));
            assert!(f.in_css(), "{}", cc.name());
            // A round with no sample at all leaves lastRoundMinRTT unknown for the next.
            let mut g = Flow::new(cc);
            g.round(BASE);
            g.round_with(|_| None);
            assert_eq!(g.hs().last_round_min_rtt_us(), None);
            g.round(BASE + 50_000);
            assert!(!g.in_css(), "no baseline round to compare with");
        }
    }

    #[test]
    fn hystart_off_is_classic_slow_start() {
        let rtts = [BASE, BASE, 60_000, 70_000, 80_000, 90_000, 100_000, 110_000];
        for cc in both() {
            let mut off = Flow::new(cc.with_hystart(false));
            let mut on = Flow::new(cc);
            for rtt in rtts {
                let (acked, grew) = off.round(rtt);
                assert_eq!(grew, acked, "{}: classic slow start", cc.name());
                on.round(rtt);
            }
            assert_eq!(off.s.ssthresh, u32::MAX);
            assert!(!off.in_css());
            assert_eq!(off.hs().css_entries(), 0);
            assert_eq!(off.hs().rounds(), 0, "no state kept when off");
            // The same rounds with HyStart++: CSS then congestion avoidance, far smaller.
            assert!(on.hs().exited(), "{}", cc.name());
            assert!(
                on.s.cwnd * 4 < off.s.cwnd,
                "{}: on {} off {}",
                cc.name(),
                on.s.cwnd,
                off.s.cwnd
            );
            // And with a flat RTT, on and off grow identically.
            let mut a = Flow::new(cc);
            let mut b = Flow::new(cc.with_hystart(false));
            for _ in 0..8 {
                a.round(BASE);
                b.round(BASE);
            }
            assert_eq!(a.s.cwnd, b.s.cwnd);
        }
    }

    #[test]
    fn hystart_loss_ends_it_and_the_loss_response_applies() {
        for cc in both() {
            let mut f = Flow::new(cc);
            f.round(BASE);
            f.round(BASE);
            f.round(70_000);
            assert!(f.in_css());
            // A loss in CSS: the algorithm's own response sets ssthresh.
            let flight = f.max.wrapping_sub(f.una);
            let cwnd = f.s.cwnd;
            let ss = f.cc.ssthresh_after_loss(&f.s, flight);
            let want = match cc {
                Cc::Reno(_) => flight / 2,
                Cc::Cubic(_) => (cwnd as f64 * CUBIC_BETA) as u32,
            };
            assert_eq!(ss, want, "{}", cc.name());
            f.s.ssthresh = ss;
            f.s.cwnd = ss;
            assert!(!f.in_css() && !f.hs().exited());
            for _ in 0..4 {
                let (acked, grew) = f.round(40_000);
                assert!(
                    grew <= 2 * MSS,
                    "{}: avoidance (+{grew}/{acked})",
                    cc.name()
                );
            }
            assert_eq!(f.s.ssthresh, ss, "HyStart++ no longer touches ssthresh");
            assert_eq!(f.hs().css_baseline_min_rtt_us(), None);
            assert_eq!(f.hs().last_round_min_rtt_us(), None, "round state cleared");
            // An undo back to the initial ssthresh (the loss was spurious) starts HyStart++
            // afresh: the first round only measures.
            f.s.ssthresh = u32::MAX;
            f.round(90_000);
            assert!(!f.in_css());
            f.round(90_000 + 16_000);
            assert!(f.in_css(), "{}", cc.name());
        }
    }
}
