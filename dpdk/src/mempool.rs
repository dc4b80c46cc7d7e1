use super::{errno, strerror, DpdkError, Eal, Mbuf, Result};
use std::ffi::CString;
use std::ptr::NonNull;

/// A hugepage pool of `rte_mbuf`s with a per-lcore cache: linerate's `sk_buff` allocator.
///
/// Dropping the pool frees it only when every mbuf is back; otherwise it is leaked (with the
/// EAL), because outstanding mbufs still point into it.
pub struct Mempool {
    ptr: NonNull<linerate_dpdk_sys::rte_mempool>,
    size: u32,
    name: String,
    eal: Option<Eal>,
}

// SAFETY: rte_mempool's default ops (multi-producer/multi-consumer ring) are thread-safe, and
// the per-lcore cache is indexed by the calling thread's lcore id.
unsafe impl Send for Mempool {}
// SAFETY: everything reachable through `&Mempool` is either an immutable field or a DPDK call
// that is thread-safe on an MP/MC pool (alloc, bulk alloc, occupancy counts).
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `n` mbufs with `data_room` bytes each (headroom included), a per-lcore
    /// cache of `cache` mbufs, on NUMA `socket` (`None`: any).
    pub fn new(
        eal: &Eal,
        name: &str,
        n: u32,
        cache: u32,
        data_room: u16,
        socket: Option<i32>,
    ) -> Result<Mempool> {
        let cname = CString::new(name).map_err(|_| {
            DpdkError::InvalidArg(format!("pool name {name:?} contains a NUL byte"))
        })?;
        let max_cache = linerate_dpdk_sys::RTE_MEMPOOL_CACHE_MAX_SIZE;
        if cache > max_cache {
            return Err(DpdkError::InvalidArg(format!(
                "mempool cache {cache} exceeds DPDK's maximum {max_cache}"
            )));
        }
        if n == 0 {
            return Err(DpdkError::InvalidArg(
                "mempool size must be at least 1 mbuf".into(),
            ));
        }
        // SAFETY: EAL is initialised (eal exists) and the name is a valid C string.
        let p = unsafe {
            linerate_dpdk_sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                n,
                cache,
                0,
                data_room,
                socket.unwrap_or(-1),
            )
        };
        match NonNull::new(p) {
            Some(ptr) => Ok(Mempool {
                ptr,
                size: n,
                name: name.to_owned(),
                eal: Some(eal.clone()),
            }),
            None => {
                let e = errno();
                let hint = if e == linerate_dpdk_sys::ENOMEM as i32 {
                    if super::eal::hugepages_total() == Some(0) {
                        "out of memory: no hugepages reserved; run scripts/setup.sh or lower the pool size"
                    } else {
                        "out of hugepage memory: reserve more (scripts/setup.sh, or -m) or lower the pool size"
                    }
                } else if e == linerate_dpdk_sys::EEXIST as i32 {
                    "a pool of that name exists already"
                } else {
                    ""
                };
                Err(DpdkError::Mempool {
                    name: name.to_owned(),
                    errno: e,
                    msg: strerror(e),
                    hint,
                })
            }
        }
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many mbufs the pool holds in all.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Mbufs currently allocated (not in the pool or its caches).
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is valid while self lives.
        unsafe { linerate_dpdk_sys::lr_mempool_in_use(self.ptr.as_ptr()) }
    }

    /// Mbufs available for allocation.
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is valid while self lives.
        unsafe { linerate_dpdk_sys::lr_mempool_avail(self.ptr.as_ptr()) }
    }

    /// Allocates one mbuf, reset, with the default headroom. `None` when the pool is empty:
    /// the caller applies backpressure.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool is valid; a non-null result is a fresh mbuf we now own.
        let m = unsafe { linerate_dpdk_sys::lr_pktmbuf_alloc(self.ptr.as_ptr()) };
        NonNull::new(m).map(Mbuf::from_nonnull)
    }

    /// Fills `out` up to `n` more mbufs, all or nothing. Returns false when the pool cannot
    /// supply `n`.
    pub fn alloc_bulk(&self, out: &mut Vec<Mbuf>, n: usize) -> bool {
        out.reserve(n);
        let len = out.len();
        // SAFETY: `Mbuf` is repr(transparent) over a non-null `*mut rte_mbuf`, and `out` has
        // room for `n` more; on success DPDK wrote `n` valid mbuf pointers there.
        unsafe {
            let dst = out.as_mut_ptr().add(len) as *mut *mut linerate_dpdk_sys::rte_mbuf;
            if linerate_dpdk_sys::lr_pktmbuf_alloc_bulk(self.ptr.as_ptr(), dst, n as u32) != 0 {
                return false;
            }
            out.set_len(len + n);
        }
        true
    }

    pub(crate) fn as_ptr(&self) -> *mut linerate_dpdk_sys::rte_mempool {
        self.ptr.as_ptr()
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        if self.in_use() == 0 {
            // SAFETY: no mbuf of this pool is alive, so nothing points into it.
            unsafe { linerate_dpdk_sys::rte_mempool_free(self.ptr.as_ptr()) }
        } else {
            // Outstanding mbufs still reference this memory: keep pool and EAL alive.
            std::mem::forget(self.eal.take());
        }
    }
}

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mempool")
            .field("name", &self.name)
            .field("size", &self.size)
            .field("in_use", &self.in_use())
            .finish()
    }
}
