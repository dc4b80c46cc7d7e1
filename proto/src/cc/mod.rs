//! Congestion control. A trait with static dispatch through `Cc` (no allocation, no vtable
//! on the ACK path): Reno (RFC 5681, byte counting per RFC 3465) and CUBIC (RFC 9438), the
//! default, as in Linux. Both leave the initial slow start with HyStart++ (RFC 9406) on
//! rising delay, as Linux CUBIC does with HyStart, unless it is turned off
//! ([`Cc::with_hystart`]).
mod cubic;
mod hystart;
mod reno;

pub use cubic::{cubic_k, w_cubic, Cubic, CUBIC_ALPHA, CUBIC_BETA, CUBIC_C};
pub use hystart::{
    HyStart, HS_CSS_GROWTH_DIVISOR, HS_CSS_ROUNDS, HS_MAX_RTT_THRESH_US, HS_MIN_RTT_DIVISOR,
    HS_MIN_RTT_THRESH_US, HS_N_RTT_SAMPLE,
};
pub use reno::Reno;

use crate::timer::Nanos;

/// The congestion state the algorithms read and write, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct CcState {
    /// The congestion window (RFC 5681 §2): how many bytes may be in flight.
    pub cwnd: u32,
    /// The slow-start threshold (RFC 5681 §3.1): slow start while cwnd is below it,
    /// congestion avoidance from it on. Starts at `u32::MAX`, RFC 5681's "arbitrarily high"
    /// initial value, until a loss (or HyStart++) sets it.
    pub ssthresh: u32,
    /// The sender's maximum segment size (SMSS): the unit of the window's increases and of
    /// the two-segment floor after a loss.
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

    /// In slow start (cwnd < ssthresh) rather than congestion avoidance (RFC 5681 §3.1).
    #[inline]
    pub fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }
}

/// A congestion-control algorithm: how cwnd grows as data is acknowledged and what ssthresh
/// becomes after a loss. The caller owns the [`CcState`], applies the returned ssthresh and
/// collapses cwnd itself on loss and timeout; the algorithm keeps only its own state.
/// Called on the ACK path, so implementations must not allocate.
pub trait CongestionControl {
    /// The algorithm's name, as [`Cc::by_name`] takes it ("reno", "cubic").
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
    #[inline]
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

/// The algorithms, statically dispatched.
#[derive(Debug, Clone, Copy)]
pub enum Cc {
    /// Reno (RFC 5681).
    Reno(Reno),
    /// CUBIC (RFC 9438), the default.
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
    #[inline]
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
}
