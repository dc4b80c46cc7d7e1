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

/// Bytes in a transparent huge page (x86-64).
const HUGE: usize = 2 << 20;

/// Asks the kernel to back the whole 2 MiB pages inside `v` with transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`, which THP's default `madvise` mode waits for). A table of many
/// megabytes reached at random otherwise misses the TLB on most accesses as well as the
/// cache, and under a hypervisor that page walk costs more than the miss; a prefetch that
/// misses the TLB also stalls where a plain one would not. Best done before the pages are
/// first touched. A refusal (THP off) changes nothing but speed, so it is ignored.
pub fn advise_huge_pages<T>(v: &[T]) {
    let start = (v.as_ptr() as usize).next_multiple_of(HUGE);
    let end = (v.as_ptr() as usize + std::mem::size_of_val(v)) & !(HUGE - 1);
    if end <= start {
        return;
    }
    // SAFETY: [start, end) lies inside `v`'s live allocation, and MADV_HUGEPAGE only changes
    // how those pages are backed, never their contents or who owns them.
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
    }
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

    #[test]
    fn huge_page_advice_keeps_contents() {
        let v: Vec<u64> = (0..1u64 << 20).collect();
        super::advise_huge_pages(&v);
        super::advise_huge_pages(&v[..3]);
        super::advise_huge_pages::<u8>(&[]);
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
    }
}
