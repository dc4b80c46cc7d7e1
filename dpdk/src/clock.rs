//! Production time for a stack's `poll`: nanoseconds from the TSC.
use linerate_proto::timer::Nanos;

/// Fraction bits of the cycles-to-nanoseconds factor: a relative error below 1e-14.
const SHIFT: u32 = 48;

/// Nanoseconds from the TSC, for `poll` in production.
#[derive(Debug, Clone, Copy)]
pub struct TscClock {
    /// Nanoseconds per cycle in fixed point (`SHIFT` fraction bits): a multiply per reading
    /// instead of a 128-bit division, which cost as much as the rest of a send.
    ns_per_cycle: u128,
    start: u64,
}

impl TscClock {
    /// Needs EAL initialised (it measures the TSC rate).
    pub fn new() -> Self {
        // A floor keeps the product below 2^128 for any TSC reading (TSCs run at GHz).
        let hz = crate::tsc_hz().max(1_000_000);
        TscClock {
            ns_per_cycle: (1_000_000_000u128 << SHIFT) / hz as u128,
            start: crate::rdtsc(),
        }
    }

    /// Nanoseconds since this clock was made.
    #[inline]
    pub fn now(&self) -> Nanos {
        let t = crate::rdtsc().wrapping_sub(self.start) as u128;
        ((t * self.ns_per_cycle) >> SHIFT) as Nanos
    }
}

impl Default for TscClock {
    fn default() -> Self {
        Self::new()
    }
}
