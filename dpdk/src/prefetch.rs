//! Cache prefetch (DPDK's `rte_prefetch0`): a hint that memory is about to be read, so that
//! a loop can start the cache misses of the next items while it works on this one. With a
//! hundred thousand connections, every connection block an ACK reaches is a miss to DRAM;
//! started a few frames early, the misses overlap instead of queuing one behind another.

/// Bytes in a cache line.
const LINE: usize = 64;

/// Asks for the cache lines of `*r` (up to its first `max_lines`) to be brought into every
/// cache level. Never faults and never changes what a later read returns.
#[inline(always)]
pub fn prefetch<T>(r: &T, max_lines: usize) {
    let p = r as *const T as *const u8;
    let lines = std::mem::size_of::<T>().div_ceil(LINE).min(max_lines);
    for i in 0..lines {
        line(p.wrapping_add(i * LINE));
    }
}

#[inline(always)]
fn line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint: it does not fault on any address and has no effect a
    // program can observe but timing; `p` points into (or just past) a live `&T`.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefetch_any_size() {
        let big = [7u8; 1000];
        super::prefetch(&big, 16);
        super::prefetch(&(), 4);
        assert_eq!(big[999], 7, "a hint changes nothing");
    }
}
