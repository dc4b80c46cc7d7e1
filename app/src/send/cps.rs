//! Connection-rate mode (`--cps`): new connections on a fixed schedule, open loop. The n-th
//! connection is due at n / rate seconds after the start, whether or not earlier ones have
//! finished; a loop that falls behind opens what is due at once (and the achieved rate in
//! the report shows it). Each connection sends -n bytes and closes with FIN; the table
//! (`Conns::recycle`) counts it and reuses its slot once both FINs are done.
use super::NS;

/// Most connections opened in one call, so that polls keep up while the loop catches up.
const MAX_PER_CALL: u64 = 256;

pub(super) struct Opener {
    per_sec: u64,
    t0: u64,
    /// No new connection at or after this.
    until: u64,
    opened: u64,
    /// -P: no more than this many in all.
    limit: u64,
    /// The next --dst, round robin.
    next_dst: usize,
}

impl Opener {
    /// `per_sec` from `t0` until `until`, `limit` in all.
    pub fn new(per_sec: u64, t0: u64, until: u64, limit: u64) -> Self {
        Opener {
            per_sec,
            t0,
            until,
            opened: 0,
            limit,
            next_dst: 0,
        }
    }

    /// Every connection it may open is open.
    pub fn all_open(&self) -> bool {
        self.opened >= self.limit
    }

    /// Connections due by `now`.
    fn due(&self, now: u64) -> u64 {
        let t = now.min(self.until).saturating_sub(self.t0) as u128;
        (t * self.per_sec as u128 / NS as u128) as u64
    }

    /// How many connections to open now (at most MAX_PER_CALL): counted as opened.
    pub fn take_due(&mut self, now: u64) -> u64 {
        let due = self
            .due(now)
            .min(self.opened + MAX_PER_CALL)
            .min(self.limit);
        let n = due.saturating_sub(self.opened);
        self.opened += n;
        n
    }

    /// The --dst (an index into them) of the next connection, round robin.
    pub fn next_dst(&mut self, dsts: usize) -> usize {
        self.next_dst += 1;
        (self.next_dst - 1) % dsts.max(1)
    }
}
