//! HyStart++ (RFC 9406): the exit from the initial slow start on rising delay, shared by
//! Reno and CUBIC.
use super::CcState;
use crate::seq::seq_ge;

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
    #[inline]
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
    #[inline]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cc::{Cc, CongestionControl, CUBIC_BETA};
    use crate::timer::{Nanos, MS, SEC};

    const MSS: u32 = 1000;

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
