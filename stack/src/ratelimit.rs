//! RFC 5961 §7: budgets for what invalid segments make the stack send, so that a flood of forged
//! RSTs, SYNs, out-of-window segments or segments to closed ports costs the stack a counter
//! increment, not a frame (and its mbuf) each. As Linux: challenge ACKs at most one per
//! connection per 500 ms (`tcp_oow_rate_limited`, `tcp_invalid_ratelimit`) and about 1 000
//! a second for the stack (`tcp_challenge_ack_limit`, randomised each second since
//! CVE-2016-5696 so that an off-path sender cannot count them to learn about other
//! connections); stateless RSTs and TIME-WAIT replies under the same kind of budget.
use linerate_proto::timer::{Nanos, MS, SEC};

/// Challenge ACKs (and TIME-WAIT replies) a second for the stack, on average.
pub(crate) const CHALLENGE_ACKS_PER_SEC: u32 = 1000;
/// Stateless RSTs a second for the stack, on average.
pub(crate) const RSTS_PER_SEC: u32 = 1000;
/// At most one challenge ACK per connection in this long (Linux's default 500 ms).
pub(crate) const OOW_ACK_INTERVAL: Nanos = 500 * MS;

/// What the limits held back ([`crate::StackStats::limited`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyLimitStats {
    /// Challenge ACKs not sent: the connection's 500 ms or the stack's budget.
    pub challenge_acks: u64,
    /// RSTs to segments for no connection not sent: the stack's budget.
    pub rsts: u64,
}

impl ReplyLimitStats {
    /// Adds another stack's.
    pub fn add(&mut self, o: &ReplyLimitStats) {
        self.challenge_acks += o.challenge_acks;
        self.rsts += o.rsts;
    }
}

/// A budget refilled each second with between half and one and a half times its rate.
#[derive(Debug)]
struct Budget {
    per_sec: u32,
    second: u64,
    left: u32,
}

impl Budget {
    fn new(per_sec: u32) -> Self {
        Budget {
            per_sec,
            second: u64::MAX,
            left: 0,
        }
    }

    fn take(&mut self, now: Nanos, rng: &mut u64) -> bool {
        let s = now / SEC;
        if s != self.second {
            self.second = s;
            self.left = self.per_sec / 2 + (next(rng) % (u64::from(self.per_sec) + 1)) as u32;
        }
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        true
    }
}

/// xorshift64: the budget's jitter needs to be unpredictable off-path, not strong.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// The stack's reply budgets.
#[derive(Debug)]
pub(crate) struct ReplyLimits {
    challenge: Budget,
    reset: Budget,
    rng: u64,
    pub(crate) stats: ReplyLimitStats,
}

impl ReplyLimits {
    pub(crate) fn new() -> Self {
        use std::hash::BuildHasher;
        ReplyLimits {
            challenge: Budget::new(CHALLENGE_ACKS_PER_SEC),
            reset: Budget::new(RSTS_PER_SEC),
            rng: std::collections::hash_map::RandomState::new().hash_one(0x5961u32) | 1,
            stats: ReplyLimitStats::default(),
        }
    }

    /// Whether a challenge ACK may go now for a connection that last sent one at `last`
    /// (0: never); counts it if not.
    pub(crate) fn challenge(&mut self, last: Nanos, now: Nanos) -> bool {
        let ok = (last == 0 || now.saturating_sub(last) >= OOW_ACK_INTERVAL)
            && self.challenge.take(now, &mut self.rng);
        self.stats.challenge_acks += u64::from(!ok);
        ok
    }

    /// Whether a reply from a TIME-WAIT record may go now (the stack's challenge budget).
    pub(crate) fn tw_reply(&mut self, now: Nanos) -> bool {
        let ok = self.challenge.take(now, &mut self.rng);
        self.stats.challenge_acks += u64::from(!ok);
        ok
    }

    /// Whether a stateless RST may go now; counts it if not.
    pub(crate) fn reset(&mut self, now: Nanos) -> bool {
        let ok = self.reset.take(now, &mut self.rng);
        self.stats.rsts += u64::from(!ok);
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_gives_half_to_one_and_a_half_times_its_rate_each_second() {
        let mut l = ReplyLimits::new();
        for s in 1..20u64 {
            let n = (0..10_000).filter(|_| l.reset(s * SEC)).count() as u32;
            assert!(
                (RSTS_PER_SEC / 2..=RSTS_PER_SEC * 3 / 2).contains(&n),
                "second {s}: {n}"
            );
        }
        assert!(l.stats.rsts > 19 * 8000);
    }

    #[test]
    fn a_connection_gets_one_challenge_ack_per_interval() {
        let mut l = ReplyLimits::new();
        let t = 10 * SEC;
        assert!(l.challenge(0, t));
        assert!(!l.challenge(t, t + OOW_ACK_INTERVAL - 1));
        assert!(l.challenge(t, t + OOW_ACK_INTERVAL));
        assert_eq!(l.stats.challenge_acks, 1);
    }
}
