//! Production time for a stack's `poll`: nanoseconds from the TSC.
use linerate_proto::timer::Nanos;

/// Nanoseconds from the TSC, for `poll` in production.
#[derive(Debug, Clone, Copy)]
pub struct TscClock {
    hz: u64,
    start: u64,
}

impl TscClock {
    /// Needs EAL initialised (it measures the TSC rate).
    pub fn new() -> Self {
        let hz = crate::tsc_hz().max(1);
        TscClock {
            hz,
            start: crate::rdtsc(),
        }
    }

    /// Nanoseconds since this clock was made.
    #[inline]
    pub fn now(&self) -> Nanos {
        let t = crate::rdtsc().wrapping_sub(self.start) as u128;
        (t * 1_000_000_000 / self.hz as u128) as Nanos
    }
}

impl Default for TscClock {
    fn default() -> Self {
        Self::new()
    }
}
