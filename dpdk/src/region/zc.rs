//! Zero-copy regions whose bytes the app reuses: completion tickets, the kernel's
//! MSG_ZEROCOPY notifications.
//!
//! A send from a [`ZcRegion`] leases its byte range under a ticket. Every frame of it (first
//! transmission or retransmission) is a view counted on the ticket's own shared info, so the
//! ticket knows both ends of the bytes' life: its sender releases it once the peer has
//! acknowledged them, and its last view is freed once no TX queue holds a frame of them (a
//! NIC frees descriptors lazily, often long after the ACK). Only then does
//! [`ZcRegion::reap`] call the ticket complete and the pages writable again.
//!
//! A `ZcRegion` belongs to one thread at a time (it is `Send`, not `Sync`): views are made and
//! tickets opened and released without locks, and `&mut self` proves no frame is being built
//! while the app writes.
use super::{DpdkError, Eal, Mbuf, Result, TxRegion, MAX_FRAMES, MAX_VIEW_LEN};
use linerate_dpdk_sys::rte_mbuf_ext_shared_info as ShInfo;
use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// Most tickets one region has (ticket numbers are 16-bit).
pub const MAX_TICKETS: u16 = u16::MAX - 1;

/// Granule of the leases: a page counts the tickets covering any of its bytes.
const PAGE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lease {
    /// Not open: the ticket may be opened.
    Free,
    /// Open and held by its sender: views may be made.
    Held(NonNull<ShInfo>),
    /// Released by its sender; complete when the shim has marked it free.
    Released,
}

#[derive(Clone, Copy, Debug)]
struct Span {
    off: usize,
    len: usize,
    lease: Lease,
}

/// A hugepage region for zero-copy sends whose memory comes back (see the module doc).
pub struct ZcRegion {
    inner: TxRegion,
    spans: Vec<Span>,
    /// Per page: open (held or released, not yet reaped) tickets covering it.
    pages: Vec<u16>,
    _one_thread: PhantomData<Cell<()>>,
}

// SAFETY: moving the region to another thread moves the whole handle; the ticket pointers it
// keeps point into memory the shim owns, which lives as long as the region (any thread may
// free views: their counts are atomic whenever a second reference exists).
unsafe impl Send for ZcRegion {}

impl ZcRegion {
    /// `len` bytes of zeroed hugepage memory with `tickets` completion tickets (at most
    /// [`MAX_TICKETS`]): as many sends as may be in flight at once.
    pub fn new(eal: &Eal, len: usize, tickets: u16, socket: Option<i32>) -> Result<ZcRegion> {
        if tickets == 0 || tickets > MAX_TICKETS {
            return Err(DpdkError::InvalidArg(format!(
                "a zero-copy region needs 1 to {MAX_TICKETS} tickets, not {tickets}"
            )));
        }
        let inner = TxRegion::new(eal, len, socket)?;
        // SAFETY: the region's shared info is live (the handle holds it); tickets are made
        // once, before any view exists.
        let rc =
            unsafe { linerate_dpdk_sys::lr_region_tickets(inner.shinfo.as_ptr(), tickets as u32) };
        if rc != 0 {
            return Err(DpdkError::InvalidArg(format!(
                "out of hugepage memory for {tickets} tickets: reserve more (scripts/setup.sh) or ask fewer"
            )));
        }
        let span = Span {
            off: 0,
            len: 0,
            lease: Lease::Free,
        };
        Ok(ZcRegion {
            spans: vec![span; tickets as usize],
            pages: vec![0; len.div_ceil(PAGE)],
            inner,
            _one_thread: PhantomData,
        })
    }

    /// Bytes in the region.
    pub fn len(&self) -> usize {
        self.inner.len
    }

    /// True for an empty region (never: `new` refuses those).
    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// Tickets the region has.
    pub fn tickets(&self) -> u16 {
        self.spans.len() as u16
    }

    /// The region's bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.inner.as_slice()
    }

    /// The first byte, for callers (C) that write the region in place: writing a byte that
    /// is [`busy`](Self::busy) changes data a frame may still carry.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.inner.base.as_ptr()
    }

    /// The pages of `len` bytes at `off`, or `None` outside the region.
    fn pages_of(&self, off: usize, len: usize) -> Option<std::ops::Range<usize>> {
        let end = off.checked_add(len).filter(|&e| e <= self.inner.len)?;
        Some(off / PAGE..end.div_ceil(PAGE))
    }

    /// True when some open ticket covers a page of `len` bytes at `off` (or the range leaves
    /// the region): a frame may still read them.
    pub fn busy(&self, off: usize, len: usize) -> bool {
        self.pages_of(off, len)
            .is_none_or(|p| self.pages[p].iter().any(|&c| c != 0))
    }

    /// The `len` bytes at `off` to write, or `None` while they are [`busy`](Self::busy).
    pub fn bytes_mut(&mut self, off: usize, len: usize) -> Option<&mut [u8]> {
        if self.busy(off, len) {
            return None;
        }
        // SAFETY: the range lies inside the region and no open ticket covers it, so no view
        // (hence no frame, no NIC) reads it; views are made only under open tickets, and
        // `&mut self` keeps any from being made meanwhile.
        Some(unsafe { std::slice::from_raw_parts_mut(self.inner.base.as_ptr().add(off), len) })
    }

    fn lock(&mut self, off: usize, len: usize, by: i32) {
        if len == 0 {
            return;
        }
        if let Some(p) = self.pages_of(off, len) {
            for c in &mut self.pages[p] {
                *c = (*c as i32 + by) as u16;
            }
        }
    }

    /// Opens ticket `t` over `len` bytes at `off`, leasing them; false when `t` is open
    /// already or out of range, or the bytes leave the region.
    pub fn open(&mut self, t: u16, off: usize, len: usize) -> bool {
        let free = self
            .spans
            .get(t as usize)
            .is_some_and(|s| s.lease == Lease::Free);
        if !free || self.pages_of(off, len).is_none() {
            return false;
        }
        // SAFETY: the region's shared info is live; the shim checks `t` and the ticket's
        // state atomically.
        let sh = unsafe { linerate_dpdk_sys::lr_ticket_open(self.inner.shinfo.as_ptr(), t as u32) };
        let Some(sh) = NonNull::new(sh) else {
            return false;
        };
        self.spans[t as usize] = Span {
            off,
            len,
            lease: Lease::Held(sh),
        };
        self.lock(off, len, 1);
        true
    }

    /// Adds the `more` bytes that follow held ticket `t`'s range to it (consecutive sends on
    /// one connection share a ticket); false when `t` is not held or they leave the region.
    pub fn extend(&mut self, t: u16, more: usize) -> bool {
        let Some(s) = self.spans.get(t as usize).copied() else {
            return false;
        };
        let end = s.off + s.len;
        if !matches!(s.lease, Lease::Held(_)) || self.pages_of(end, more).is_none() {
            return false;
        }
        // Lock the pages the range newly reaches (the last old page is locked already).
        let (old, new) = (
            self.pages_of(s.off, s.len),
            self.pages_of(s.off, s.len + more),
        );
        if let (Some(old), Some(new)) = (old, new) {
            let from = if s.len == 0 { new.start } else { old.end };
            for c in &mut self.pages[from..new.end] {
                *c += 1;
            }
        }
        self.spans[t as usize].len += more;
        true
    }

    /// The sender is done with ticket `t` (the peer acknowledged its bytes, or the connection
    /// is gone): no view of it will be made again. False when it was not held.
    pub fn release(&mut self, t: u16) -> bool {
        let Some(s) = self.spans.get_mut(t as usize) else {
            return false;
        };
        if !matches!(s.lease, Lease::Held(_)) {
            return false;
        }
        s.lease = Lease::Released;
        // SAFETY: the shim checks the ticket is held and drops the hold atomically.
        unsafe { linerate_dpdk_sys::lr_ticket_release(self.inner.shinfo.as_ptr(), t as u32) == 0 }
    }

    /// True once released ticket `t` is complete (no frame holds its bytes): its pages are
    /// writable again and it may be opened anew. False while a view lives, or when `t` was
    /// not released.
    pub fn reap(&mut self, t: u16) -> bool {
        let Some(s) = self.spans.get(t as usize).copied() else {
            return false;
        };
        if s.lease != Lease::Released {
            return false;
        }
        // SAFETY: the shim reads the ticket's state with acquire ordering.
        let st =
            unsafe { linerate_dpdk_sys::lr_ticket_state(self.inner.shinfo.as_ptr(), t as u32) };
        if st != linerate_dpdk_sys::LR_TICKET_FREE {
            return false;
        }
        self.spans[t as usize].lease = Lease::Free;
        self.lock(s.off, s.len, -1);
        true
    }

    /// Ticket `t`'s shared info, when it is held and covers `len` bytes at `off`.
    #[inline]
    fn held(&self, t: u16, off: usize, len: usize) -> Option<NonNull<ShInfo>> {
        let s = self.spans.get(t as usize)?;
        let Lease::Held(sh) = s.lease else {
            return None;
        };
        (off >= s.off && off.checked_add(len)? <= s.off + s.len).then_some(sh)
    }

    /// A view of `len` bytes at `off` under held ticket `t` (as [`TxRegion::view`]); `None`
    /// when the ticket is not held or does not cover them, or the view pool is dry.
    #[inline]
    pub fn view(&self, t: u16, off: usize, len: usize) -> Option<Mbuf> {
        if len > MAX_VIEW_LEN {
            return None;
        }
        let sh = self.held(t, off, len)?;
        self.inner.view_on(sh, off, len)
    }

    /// Frames for consecutive slices from `off` under held ticket `t` (as
    /// [`TxRegion::frames`]); false, with none built, when the ticket does not cover them.
    #[inline]
    pub fn frames(&self, t: u16, off: usize, lens: &[u32], out: &mut Vec<Mbuf>) -> bool {
        if lens.len() > MAX_FRAMES {
            return false;
        }
        let total: usize = lens.iter().map(|&l| l as usize).sum();
        match self.held(t, off, total) {
            Some(sh) => self.inner.frames_on(sh, off, lens, out),
            None => false,
        }
    }
}

impl Drop for ZcRegion {
    fn drop(&mut self) {
        // Held tickets would keep the region's memory forever; frames still in flight keep
        // it until they are freed.
        for t in 0..self.spans.len() {
            self.release(t as u16);
        }
    }
}

impl std::fmt::Debug for ZcRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.spans.iter().filter(|s| s.lease != Lease::Free).count();
        f.debug_struct("ZcRegion")
            .field("len", &self.inner.len)
            .field("tickets", &self.spans.len())
            .field("open", &open)
            .finish()
    }
}
