//! Reno (RFC 5681), byte counting per RFC 3465, with HyStart++ in the initial slow start.
use super::hystart::HyStart;
use super::{CcState, CongestionControl};
use crate::timer::Nanos;

/// RFC 5681 Reno, with HyStart++ in the initial slow start.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reno {
    /// HyStart++ (RFC 9406) for the initial slow start, on by default.
    pub hystart: HyStart,
}

impl CongestionControl for Reno {
    fn name(&self) -> &'static str {
        "reno"
    }

    #[inline]
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
}
