//! A hashed timer wheel per core, plus the RTO estimator of RFC 6298.
//!
//! Each connection keeps its own deadlines (RTO, delayed ACK, persist, TIME_WAIT) and puts
//! *one* entry in the wheel for the earliest of them. Cancelling is lazy: an entry that fires
//! early or twice only makes the connection look at its deadlines, which is idempotent. So
//! arming, re-arming and cancelling are O(1), and nothing is allocated once each slot's
//! vector has grown to its working size.

/// Nanoseconds on the stack's clock (the caller's: TSC-derived or virtual).
pub type Nanos = u64;

/// One millisecond, in [`Nanos`].
pub const MS: Nanos = 1_000_000;
/// One second, in [`Nanos`].
pub const SEC: Nanos = 1_000_000_000;

const NIL: u32 = u32::MAX;

/// A deadline that may be unset, in 8 bytes where `Option<Nanos>` takes 16 (a connection
/// block has eight of them): 0 means unset, so a deadline at time 0 is kept as 1 ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deadline(Nanos);

impl Deadline {
    /// No deadline.
    pub const NONE: Deadline = Deadline(0);

    /// A deadline at `t`.
    #[inline]
    pub fn at(t: Nanos) -> Self {
        Deadline(t.max(1))
    }

    /// The time, if set.
    #[inline]
    pub fn get(self) -> Option<Nanos> {
        (self.0 != 0).then_some(self.0)
    }

    /// Unset.
    #[inline]
    pub fn is_none(self) -> bool {
        self.0 == 0
    }

    /// Set.
    #[inline]
    pub fn is_some(self) -> bool {
        self.0 != 0
    }

    /// Set and `f` holds for it.
    #[inline]
    pub fn is_some_and(self, f: impl FnOnce(Nanos) -> bool) -> bool {
        self.0 != 0 && f(self.0)
    }

    /// Unset, or `f` holds for it.
    #[inline]
    pub fn is_none_or(self, f: impl FnOnce(Nanos) -> bool) -> bool {
        self.0 == 0 || f(self.0)
    }
}

impl From<Option<Nanos>> for Deadline {
    fn from(t: Option<Nanos>) -> Self {
        t.map_or(Deadline::NONE, Deadline::at)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    id: u32,
    deadline: Nanos,
    next: u32,
}

/// The wheel: `slots.len()` buckets of `tick` nanoseconds; deadlines beyond one revolution
/// stay in their bucket until their round comes. Buckets are intrusive lists threaded through
/// one entry slab with a free list, so scheduling never allocates once the slab has room
/// (`reserve` it as connections are opened).
#[derive(Debug)]
pub struct TimerWheel {
    heads: Vec<u32>,
    entries: Vec<Entry>,
    free: u32,
    tick: Nanos,
    /// The last tick whose bucket has been processed.
    done_tick: u64,
    len: usize,
}

impl TimerWheel {
    /// `tick`: granularity; `slots`: rounded up to a power of two.
    pub fn new(tick: Nanos, slots: usize, now: Nanos) -> Self {
        let slots = slots.next_power_of_two().max(2);
        let tick = tick.max(1);
        let mut w = TimerWheel {
            heads: vec![NIL; slots],
            entries: Vec::new(),
            free: NIL,
            tick,
            done_tick: now / tick,
            len: 0,
        };
        w.reserve(1024);
        w
    }

    /// Makes room for `n` entries in all, so that `schedule` does not allocate.
    pub fn reserve(&mut self, n: usize) {
        while self.entries.len() < n {
            let i = self.entries.len() as u32;
            self.entries.push(Entry {
                id: 0,
                deadline: 0,
                next: self.free,
            });
            self.free = i;
        }
    }

    #[inline]
    fn mask(&self) -> u64 {
        self.heads.len() as u64 - 1
    }

    /// Arms a timer for `id` at `deadline`. A deadline in the past fires on the next `expire`.
    #[inline]
    pub fn schedule(&mut self, id: u32, deadline: Nanos) {
        // Round up: the bucket of tick t is processed once now >= t*tick, and a deadline
        // between ticks must not land in a bucket that is processed before it is due.
        let t = deadline.div_ceil(self.tick).max(self.done_tick + 1);
        let slot = (t & self.mask()) as usize;
        if self.free == NIL {
            let n = (self.entries.len() * 2).max(64);
            self.reserve(n);
        }
        let i = self.free;
        let e = &mut self.entries[i as usize];
        self.free = e.next;
        *e = Entry {
            id,
            deadline,
            next: self.heads[slot],
        };
        self.heads[slot] = i;
        self.len += 1;
    }

    /// Whether an entry for `d` would fire in an earlier `expire` than one for `armed`
    /// (deadlines in the same tick fire together, so re-arming for the earlier is no use).
    #[inline]
    pub fn fires_before(&self, d: Nanos, armed: Nanos) -> bool {
        // Most calls are answered without the two divisions (a re-arm for the same or a later
        // deadline, or one a tick or more earlier): rounding up to ticks keeps the order, and
        // a gap of a whole tick always crosses a tick boundary.
        if d >= armed {
            return false;
        }
        if armed - d >= self.tick {
            return true;
        }
        d.div_ceil(self.tick) < armed.div_ceil(self.tick)
    }

    /// Moves the ids whose deadline is `<= now` into `out`.
    #[inline]
    pub fn expire(&mut self, now: Nanos, out: &mut Vec<u32>) {
        let now_tick = now / self.tick;
        if now_tick <= self.done_tick {
            return;
        }
        // After one revolution every bucket has been seen; more would only repeat them.
        let n = (now_tick - self.done_tick).min(self.heads.len() as u64);
        let first = now_tick + 1 - n;
        let mask = self.mask();
        for t in first..=now_tick {
            let slot = (t & mask) as usize;
            let mut prev = NIL;
            let mut i = self.heads[slot];
            while i != NIL {
                let e = self.entries[i as usize];
                if e.deadline <= now {
                    out.push(e.id);
                    if prev == NIL {
                        self.heads[slot] = e.next;
                    } else {
                        self.entries[prev as usize].next = e.next;
                    }
                    self.entries[i as usize].next = self.free;
                    self.free = i;
                    self.len -= 1;
                } else {
                    prev = i;
                }
                i = e.next;
            }
        }
        self.done_tick = now_tick;
    }

    /// Heap bytes of the wheel (buckets and entry slab).
    pub fn memory(&self) -> usize {
        self.heads.capacity() * 4 + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    /// Entries in the wheel (including lazily cancelled ones).
    pub fn len(&self) -> usize {
        self.len
    }

    /// No entries in the wheel, not even lazily cancelled ones.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// RFC 6298 round-trip estimator with Linux's floor on RTO.
#[derive(Debug, Clone, Copy)]
pub struct RttEstimator {
    /// Smoothed RTT in microseconds; 0 until the first sample.
    pub srtt_us: u32,
    /// RTT variation (RTTVAR, RFC 6298 §2) in microseconds.
    pub rttvar_us: u32,
    /// The RTO from the last sample (SRTT + max(G, 4·RTTVAR), G = 1 ms), clamped to
    /// [`min_rto`, `max_rto`]; without backoff, which [`current`](Self::current) applies.
    pub rto: Nanos,
    /// Lower bound on the RTO. RFC 6298 §2.4 asks for 1 s; Linux uses 200 ms, and so does
    /// the stack by default.
    pub min_rto: Nanos,
    /// Upper bound on the RTO, backoff included (RFC 6298 §2.5: at least 60 s).
    pub max_rto: Nanos,
    /// Exponential backoff shift applied to `rto` (RFC 6298 §5.5).
    pub backoff: u8,
}

impl RttEstimator {
    /// RFC 6298 §2.1: RTO starts at 1 s before any sample.
    pub fn new(min_rto: Nanos, max_rto: Nanos) -> Self {
        RttEstimator {
            srtt_us: 0,
            rttvar_us: 0,
            rto: SEC.max(min_rto),
            min_rto,
            max_rto,
            backoff: 0,
        }
    }

    /// Feeds one RTT sample (RFC 6298 §2.2–2.3; alpha 1/8, beta 1/4, K 4, G = 1 ms).
    #[inline]
    pub fn sample(&mut self, rtt_us: u32) {
        let r = rtt_us.max(1);
        if self.srtt_us == 0 {
            self.srtt_us = r;
            self.rttvar_us = r / 2;
        } else {
            let err = self.srtt_us.abs_diff(r);
            self.rttvar_us = ((3 * self.rttvar_us as u64 + err as u64) / 4) as u32;
            self.srtt_us = ((7 * self.srtt_us as u64 + r as u64) / 8) as u32;
        }
        let rto_us = self.srtt_us as u64 + (4 * self.rttvar_us as u64).max(1000);
        self.rto = (rto_us * 1000).clamp(self.min_rto, self.max_rto);
        // §5.7: a new sample after backoff collapses it.
        self.backoff = 0;
    }

    /// The timer value to arm now, with backoff (§5.5), capped at `max_rto`.
    #[inline]
    pub fn current(&self) -> Nanos {
        self.rto
            .saturating_mul(1u64 << self.backoff.min(20))
            .min(self.max_rto)
    }

    /// A retransmission timeout: doubles the timer (RFC 6298 §5.5), by a shift of at most
    /// 20; [`current`](Self::current) still caps it at `max_rto`.
    pub fn back_off(&mut self) {
        self.backoff = self.backoff.saturating_add(1).min(20);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_deadline_not_before() {
        let mut w = TimerWheel::new(MS, 64, 0);
        w.schedule(1, 5 * MS);
        w.schedule(2, 5 * MS + 1);
        w.schedule(3, 200 * MS); // beyond one revolution (64 ms)
        let mut out = Vec::new();
        w.expire(4 * MS, &mut out);
        assert!(out.is_empty());
        w.expire(5 * MS, &mut out);
        assert_eq!(out, vec![1]);
        out.clear();
        w.expire(6 * MS, &mut out);
        assert_eq!(out, vec![2]);
        out.clear();
        w.expire(199 * MS, &mut out);
        assert!(out.is_empty(), "a far deadline waits for its round");
        w.expire(200 * MS, &mut out);
        assert_eq!(out, vec![3]);
        assert!(w.is_empty());
    }

    #[test]
    fn big_jumps_and_past_deadlines() {
        let mut w = TimerWheel::new(MS, 16, 1000 * MS);
        w.schedule(7, 10 * MS); // already past: fires on next expire
        w.schedule(8, 5000 * MS);
        let mut out = Vec::new();
        w.expire(1001 * MS, &mut out);
        assert_eq!(out, vec![7]);
        out.clear();
        w.expire(10_000 * MS, &mut out); // jump of many revolutions
        assert_eq!(out, vec![8]);
    }

    #[test]
    fn deadline_is_an_option_in_eight_bytes() {
        assert_eq!(std::mem::size_of::<Deadline>(), 8);
        assert_eq!(Deadline::NONE.get(), None);
        assert_eq!(Deadline::at(5).get(), Some(5));
        assert_eq!(Deadline::at(0).get(), Some(1), "time 0 is kept as 1 ns");
        assert!(Deadline::at(5).is_some_and(|t| t <= 5));
        assert!(!Deadline::NONE.is_some_and(|_| true));
        assert!(Deadline::NONE.is_none_or(|_| false));
        assert_eq!(Deadline::from(Some(7)), Deadline::at(7));
        assert_eq!(Deadline::from(None), Deadline::NONE);
    }

    #[test]
    fn slab_reuses_entries() {
        let mut w = TimerWheel::new(MS, 16, 0);
        let mut out = Vec::new();
        for round in 1..=100u64 {
            for id in 0..50 {
                w.schedule(id, round * MS);
            }
            w.expire(round * MS, &mut out);
            assert_eq!(out.len(), 50);
            out.clear();
        }
        assert!(w.entries.len() <= 1024, "freed entries are reused");
        assert!(w.is_empty());
    }

    #[test]
    fn rto_follows_rfc6298() {
        let mut r = RttEstimator::new(200 * MS, 120 * SEC);
        assert_eq!(r.current(), SEC, "initial RTO is 1 s");
        r.sample(100_000); // 100 ms
        assert_eq!(r.srtt_us, 100_000);
        assert_eq!(r.rttvar_us, 50_000);
        assert_eq!(r.rto, 300 * MS, "srtt + 4*rttvar");
        r.sample(100_000);
        assert_eq!(r.rttvar_us, 37_500);
        r.sample(10); // tiny RTT: floor applies
        let mut small = RttEstimator::new(200 * MS, 120 * SEC);
        small.sample(50);
        assert_eq!(small.rto, 200 * MS, "min RTO floor");
        small.back_off();
        small.back_off();
        assert_eq!(small.current(), 800 * MS, "exponential backoff");
        small.sample(50);
        assert_eq!(small.current(), 200 * MS, "a new sample resets backoff");
        let mut big = RttEstimator::new(200 * MS, 2 * SEC);
        for _ in 0..30 {
            big.back_off();
        }
        assert_eq!(big.current(), 2 * SEC, "capped at max RTO");
    }

    /// The shortcuts agree with comparing the rounded-up ticks, around tick boundaries and
    /// far apart, for a tick that is not a power of two.
    #[test]
    fn fires_before_agrees_with_rounded_ticks() {
        let w = TimerWheel::new(MS, 16, 0);
        let base = 7 * MS;
        let offsets = [0, 1, MS - 1, MS, MS + 1, 2 * MS - 1, 2 * MS, 5 * MS + 3];
        for &a in &offsets {
            for &b in &offsets {
                let (d, armed) = (base + a, base + b);
                let want = d.div_ceil(MS) < armed.div_ceil(MS);
                assert_eq!(w.fires_before(d, armed), want, "d={d} armed={armed}");
            }
        }
        assert!(w.fires_before(0, 1), "tick 0 before tick 1");
        assert!(!w.fires_before(1, MS), "the same tick");
    }
}
