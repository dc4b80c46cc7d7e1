//! Congestion control. A trait with static dispatch through `Cc` (no allocation, no vtable
//! on the ACK path). Reno (RFC 5681) is here; CUBIC joins in the loss-recovery work.

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
    fn on_ack(&mut self, s: &mut CcState, acked: u32, cwnd_limited: bool);
    /// ssthresh after a loss is detected with `flight` bytes outstanding.
    fn ssthresh_after_loss(&mut self, s: &CcState, flight: u32) -> u32;
}

/// RFC 5681 Reno.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reno;

impl CongestionControl for Reno {
    fn name(&self) -> &'static str {
        "reno"
    }

    fn on_ack(&mut self, s: &mut CcState, acked: u32, cwnd_limited: bool) {
        if !cwnd_limited {
            return;
        }
        if s.in_slow_start() {
            // RFC 5681 §3.1 with RFC 3465 byte counting, L = 2*SMSS per ACK.
            s.cwnd = s
                .cwnd
                .saturating_add(acked.min(2 * s.mss))
                .min(s.ssthresh.max(s.cwnd));
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
        // RFC 5681 eq. (4).
        (flight / 2).max(2 * s.mss)
    }
}

/// The algorithms, statically dispatched.
#[derive(Debug, Clone, Copy)]
pub enum Cc {
    Reno(Reno),
}

impl Cc {
    /// By name, as `--cc` takes it.
    pub fn by_name(name: &str) -> Option<Cc> {
        match name {
            "reno" => Some(Cc::Reno(Reno)),
            _ => None,
        }
    }
}

impl Default for Cc {
    fn default() -> Self {
        Cc::Reno(Reno)
    }
}

impl CongestionControl for Cc {
    fn name(&self) -> &'static str {
        match self {
            Cc::Reno(r) => r.name(),
        }
    }
    fn on_ack(&mut self, s: &mut CcState, acked: u32, cwnd_limited: bool) {
        match self {
            Cc::Reno(r) => r.on_ack(s, acked, cwnd_limited),
        }
    }
    fn ssthresh_after_loss(&mut self, s: &CcState, flight: u32) -> u32 {
        match self {
            Cc::Reno(r) => r.ssthresh_after_loss(s, flight),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_then_avoidance() {
        let mut s = CcState::new(1000);
        let mut cc = Cc::default();
        assert_eq!(s.cwnd, 10_000);
        cc.on_ack(&mut s, 1000, true);
        assert_eq!(s.cwnd, 11_000, "slow start: +acked");
        cc.on_ack(&mut s, 5000, true);
        assert_eq!(s.cwnd, 13_000, "ABC caps one ACK at 2*MSS");
        cc.on_ack(&mut s, 1000, false);
        assert_eq!(s.cwnd, 13_000, "no growth when not cwnd-limited");
        s.ssthresh = s.cwnd;
        for _ in 0..12 {
            cc.on_ack(&mut s, 1000, true);
        }
        assert_eq!(s.cwnd, 13_000, "CA: not yet a full window acked");
        cc.on_ack(&mut s, 1000, true);
        assert_eq!(s.cwnd, 14_000, "CA: +1 MSS per window");
        assert_eq!(cc.ssthresh_after_loss(&s, 20_000), 10_000);
        assert_eq!(cc.ssthresh_after_loss(&s, 1_000), 2_000, "floor of 2 MSS");
        assert!(Cc::by_name("bogus").is_none());
        assert_eq!(Cc::by_name("reno").unwrap().name(), "reno");
    }
}
