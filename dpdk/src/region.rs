//! Zero-copy TX regions: hugepage memory whose bytes frames carry without being copied.
//!
//! A [`TxRegion`] is one `rte_malloc` block with an `rte_mbuf_ext_shared_info`. A
//! [`TxRegion::view`] is a fresh mbuf from a pool attached to a byte range of the region as
//! an external buffer (`rte_pktmbuf_attach_extbuf`): the NIC reads the region's bytes in
//! place. The shared info counts the region's own handle plus one per live view, so the
//! memory outlives both the handle and every frame still in a TX ring.
use super::{DpdkError, Eal, Mbuf, Mempool, Result};
use std::ptr::NonNull;

mod zc;
pub use zc::{ZcRegion, MAX_TICKETS};

/// Views one region can have live at once (frames in TX queues and rings): its view pool.
const VIEW_POOL: u32 = 16_383;

/// Numbers the regions' view pools (DPDK pool names are process-wide).
static REGION_SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Most bytes one view may cover (an mbuf's `buf_len` is 16 bits).
pub const MAX_VIEW_LEN: usize = u16::MAX as usize;

/// A block of hugepage memory that frames reference instead of copying (see the module doc).
pub struct TxRegion {
    shinfo: NonNull<linerate_dpdk_sys::rte_mbuf_ext_shared_info>,
    base: NonNull<u8>,
    len: usize,
    iova: u64,
    /// Mbufs without a data room of their own, for views (compact: two cache lines each).
    views: Mempool,
    /// Mbufs with only a headroom, for the headers in front of views (`frames`).
    heads: Mempool,
    _eal: Eal,
}

// SAFETY: the region's bytes are only written through `&mut self` while no view exists
// (`fill` checks), views are created and freed with atomic refcount updates, and the memory is
// freed only when the last reference (handle or view) goes.
unsafe impl Send for TxRegion {}
// SAFETY: `&TxRegion` gives read access to immutable bytes and creates views (atomic refcount).
unsafe impl Sync for TxRegion {}

impl TxRegion {
    /// `len` bytes of zeroed hugepage memory on NUMA `socket` (`None`: any).
    pub fn new(eal: &Eal, len: usize, socket: Option<i32>) -> Result<TxRegion> {
        if len == 0 {
            return Err(DpdkError::InvalidArg(
                "a TX region needs at least 1 byte".into(),
            ));
        }
        let mut base: *mut std::ffi::c_void = std::ptr::null_mut();
        // SAFETY: EAL is up (`eal` exists); `base` is a valid out-pointer.
        let sh = unsafe { linerate_dpdk_sys::lr_region_new(len, socket.unwrap_or(-1), &mut base) };
        let (Some(shinfo), Some(base)) = (NonNull::new(sh), NonNull::new(base.cast::<u8>())) else {
            return Err(DpdkError::InvalidArg(format!(
                "out of hugepage memory for a {len}-byte TX region: reserve more (scripts/setup.sh) or use a smaller payload"
            )));
        };
        // SAFETY: `base` is the start of a live rte_malloc block.
        let iova = unsafe { linerate_dpdk_sys::lr_virt2iova(base.as_ptr().cast()) };
        let n = REGION_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pools = Mempool::new(eal, &format!("lr_views_{n}"), VIEW_POOL, 256, 0, socket)
            .and_then(|v| {
                let room = crate::MBUF_HEADROOM;
                let h = Mempool::new(eal, &format!("lr_heads_{n}"), VIEW_POOL, 256, room, socket)?;
                Ok((v, h))
            });
        let (views, heads) = match pools {
            Ok(p) => p,
            Err(e) => {
                // SAFETY: this handle owns the only references (HANDLE_REFS); no view exists.
                unsafe {
                    linerate_dpdk_sys::lr_region_put(shinfo.as_ptr());
                    linerate_dpdk_sys::lr_region_put(shinfo.as_ptr());
                }
                return Err(e);
            }
        };
        Ok(TxRegion {
            shinfo,
            base,
            len,
            iova,
            views,
            heads,
            _eal: eal.clone(),
        })
    }

    /// Bytes in the region.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for an empty region (never: `new` refuses those).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The region's bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: [base, base + len) is a live allocation owned (in part) by this handle, and
        // it is written only through `fill`, which needs `&mut self` and no views.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.len) }
    }

    /// Live views of the region (frames in flight or queued).
    pub fn views(&self) -> usize {
        // SAFETY: the shared info lives as long as any reference, this handle included.
        unsafe { linerate_dpdk_sys::lr_region_refcnt(self.shinfo.as_ptr()) as usize - HANDLE_REFS }
    }

    /// Writes the region's bytes with `f`; `None` while views exist (a NIC may be reading).
    pub fn fill<R>(&mut self, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
        if self.views() != 0 {
            return None;
        }
        // SAFETY: `&mut self` and no views: nobody else can read or write these bytes.
        let s = unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr(), self.len) };
        Some(f(s))
    }

    /// An mbuf (from the region's own pool of data-less mbufs) whose data is `len` bytes of
    /// the region at `off`, not copied. `None` when that pool is empty, or the range is
    /// outside the region or longer than [`MAX_VIEW_LEN`].
    #[inline]
    pub fn view(&self, off: usize, len: usize) -> Option<Mbuf> {
        self.view_on(self.shinfo, off, len)
    }

    /// `view` with the mbuf counted on `sh`: the region's own shared info, or a completion
    /// ticket's (`ZcRegion`), which holds a reference on the region.
    #[inline]
    fn view_on(
        &self,
        sh: NonNull<linerate_dpdk_sys::rte_mbuf_ext_shared_info>,
        off: usize,
        len: usize,
    ) -> Option<Mbuf> {
        if len == 0 || len > MAX_VIEW_LEN || off.checked_add(len)? > self.len {
            return None;
        }
        // SAFETY: the range lies inside the region (checked above); the shim takes a
        // reference on the shared info for the new mbuf, so the memory lives until the mbuf
        // is freed.
        let m = unsafe {
            linerate_dpdk_sys::lr_pktmbuf_ext_view(
                self.views.as_ptr(),
                sh.as_ptr(),
                self.base.as_ptr().add(off).cast(),
                self.iova + off as u64,
                len as u16,
            )
        };
        NonNull::new(m).map(Mbuf::from_nonnull)
    }

    /// Frames for consecutive slices of the region: for each of `lens`, a fresh header mbuf
    /// (empty, with the 128-byte headroom for headers and no more) chained to a view of the
    /// next that many bytes from `off`, appended to `out`. Headers and views come from the
    /// region's own compact pools, each in one bulk allocation (so frames never eat into the
    /// pool that refills RX), and the region is referenced once for all: what software
    /// segmentation needs per unit. False, with nothing allocated, when those pools run
    /// short (frames still in TX rings: backpressure), `lens` has more than [`MAX_FRAMES`]
    /// entries, or the slices leave the region.
    pub fn frames(&self, off: usize, lens: &[u32], out: &mut Vec<Mbuf>) -> bool {
        self.frames_on(self.shinfo, off, lens, out)
    }

    /// `frames` with the views counted on `sh` (see `view_on`).
    fn frames_on(
        &self,
        sh: NonNull<linerate_dpdk_sys::rte_mbuf_ext_shared_info>,
        off: usize,
        lens: &[u32],
        out: &mut Vec<Mbuf>,
    ) -> bool {
        let n = lens.len();
        if n == 0 || n > MAX_FRAMES || lens.iter().any(|&l| l as usize > MAX_VIEW_LEN) {
            return false;
        }
        let total: usize = lens.iter().map(|&l| l as usize).sum();
        if off.checked_add(total).is_none_or(|end| end > self.len) {
            return false;
        }
        out.reserve(n);
        // SAFETY: the slices lie inside the region (checked above) and `out` has room for `n`
        // more pointers; the shim writes exactly `n` owned mbuf pointers on success (each
        // holding its view's region reference) and none on failure, so `set_len` covers only
        // initialised handles. `Mbuf` is repr(transparent) over the pointer.
        unsafe {
            let dst = out.as_mut_ptr().add(out.len()).cast();
            let got = linerate_dpdk_sys::lr_pktmbuf_ext_frames(
                self.heads.as_ptr(),
                self.views.as_ptr(),
                sh.as_ptr(),
                self.base.as_ptr().add(off).cast(),
                self.iova + off as u64,
                lens.as_ptr(),
                n as u32,
                dst,
            );
            if got as usize != n {
                return false;
            }
            out.set_len(out.len() + n);
        }
        true
    }
}

/// Most frames one [`TxRegion::frames`] call builds.
pub const MAX_FRAMES: usize = 64;

/// References the handle holds (see `lr_region_new`: never 1 while lcores share it).
const HANDLE_REFS: usize = 2;

impl Drop for TxRegion {
    fn drop(&mut self) {
        for _ in 0..HANDLE_REFS {
            // SAFETY: this handle owns HANDLE_REFS references; the last one anywhere frees
            // the memory.
            unsafe { linerate_dpdk_sys::lr_region_put(self.shinfo.as_ptr()) }
        }
    }
}

impl std::fmt::Debug for TxRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxRegion")
            .field("len", &self.len)
            .field("views", &self.views())
            .finish()
    }
}
