//! Zero-copy sends from reusable hugepage regions, with completions (the storage case).
//!
//! The app writes its data in place in a region the stack owns, sends byte ranges of it
//! with `lr_send_zc`, and may write a range again once `LR_EV_ZC_DONE` events of the
//! connections that sent it say their memory came back (or `lr_zc_region_busy` says 0).
use crate::stack::{lr_stack, send_errno, stack};
use crate::{guard, put_err, raw_id};
use linerate::dpdk::{ZcRegion, MAX_TICKETS};
use linerate::RegionId;
use std::ffi::{c_char, c_int, c_void};
use std::ptr;

/// Makes a reusable zero-copy region of `len` bytes of hugepage memory (zeroed) with
/// `tickets` completion tickets (1 to 65 534: how many sends, merged per connection when
/// they follow each other, may be in flight at once) and gives it to stack `s`. Returns its
/// number (>= 0), or -EINVAL (bad arguments) or -ENOMEM (no hugepage memory), with a
/// reason in `err`. The region lives as long as the stack.
///
/// # Safety
/// `s` is NULL or a live stack no other thread is using; `err` is NULL or `errlen`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn lr_zc_region_new(
    s: *mut lr_stack,
    len: usize,
    tickets: u32,
    err: *mut c_char,
    errlen: usize,
) -> c_int {
    guard(-libc::EIO, || {
        let fail = |code: c_int, msg: &str| {
            // SAFETY: `err` is NULL or `errlen` writable bytes (the call's contract).
            unsafe { put_err(err, errlen, msg) };
            -code
        };
        // SAFETY: `s` is NULL or a live stack only this thread uses (the call's contract).
        let Some(s) = (unsafe { stack(s) }) else {
            return fail(libc::EINVAL, "s: NULL");
        };
        let Some(t) = u16::try_from(tickets)
            .ok()
            .filter(|&t| t > 0 && t <= MAX_TICKETS)
        else {
            return fail(
                libc::EINVAL,
                &format!("tickets: {tickets}, want 1 to {MAX_TICKETS}"),
            );
        };
        if len == 0 || len > u32::MAX as usize {
            return fail(
                libc::EINVAL,
                &format!("len: {len}, want 1 byte to 4 GiB - 1"),
            );
        }
        let region = match ZcRegion::new(&s.eal, len, t, None) {
            Ok(r) => r,
            Err(e) => return fail(libc::ENOMEM, &e.to_string()),
        };
        match s.stack.register_zc_region(region) {
            Some(r) => r.to_raw() as c_int,
            None => fail(libc::EINVAL, "the stack has 65 536 regions already"),
        }
    })
}

/// The first byte of region `region` of `s`, to write data into; NULL for a bad stack or
/// region. Write only bytes no send still leases (`lr_zc_region_busy`): a retransmission may
/// read them until their LR_EV_ZC_DONE.
///
/// # Safety
/// `s` is NULL or a live stack no other thread is using. The pointer is valid while the
/// stack lives.
#[no_mangle]
pub unsafe extern "C" fn lr_zc_region_base(s: *mut lr_stack, region: c_int) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: `s` is NULL or a live stack only this thread uses (the call's contract).
        let Some(s) = (unsafe { stack(s) }) else {
            return ptr::null_mut();
        };
        let Some(r) = region_id(region) else {
            return ptr::null_mut();
        };
        s.stack
            .zc_region_base(r)
            .map_or(ptr::null_mut(), |p| p.cast())
    })
}

/// 1 when a send still leases some byte of the `len` bytes at `off` of region `region` (a
/// frame may still carry them: do not write them), 0 when they are free to write, -EINVAL
/// for a bad stack, region or range.
///
/// # Safety
/// `s` is NULL or a live stack no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn lr_zc_region_busy(
    s: *mut lr_stack,
    region: c_int,
    off: usize,
    len: usize,
) -> c_int {
    guard(-libc::EIO, || {
        // SAFETY: `s` is NULL or a live stack only this thread uses (the call's contract).
        let Some(s) = (unsafe { stack(s) }) else {
            return -libc::EINVAL;
        };
        let Some(z) = region_id(region).and_then(|r| s.stack.zc_region(r)) else {
            return -libc::EINVAL;
        };
        if off.checked_add(len).is_none_or(|end| end > z.len()) {
            return -libc::EINVAL;
        }
        z.busy(off, len) as c_int
    })
}

/// Queues `len` bytes at `off` of region `region` on `conn` without copying them. Returns
/// the bytes taken (may be fewer than `len`: send the rest after LR_EV_WRITABLE), -EAGAIN
/// when the send buffer is full, -ENOBUFS when every ticket of the region is leased (send
/// again after an LR_EV_ZC_DONE), -ENOTCONN before the handshake finished, -EPIPE after
/// lr_shutdown, the connection's errno once it failed, -EINVAL for a bad stack, id, region
/// or range. The bytes taken come back with LR_EV_ZC_DONE events: `bytes` there counts
/// this connection's zero-copy bytes returned so far, in send order.
///
/// # Safety
/// `s` is NULL or a live stack no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn lr_send_zc(
    s: *mut lr_stack,
    conn: i64,
    region: c_int,
    off: usize,
    len: usize,
) -> i64 {
    guard(-libc::EIO as i64, || {
        // SAFETY: `s` is NULL or a live stack only this thread uses (the call's contract).
        let Some(s) = (unsafe { stack(s) }) else {
            return -libc::EINVAL as i64;
        };
        let (Some(id), Some(r)) = (raw_id(conn), region_id(region)) else {
            return -libc::EINVAL as i64;
        };
        match s.stack.send_region(id, r, off, len) {
            Ok(n) => n as i64,
            Err(e) => -send_errno(s, id, e) as i64,
        }
    })
}

/// The region numbered `n`, if it is a number regions have.
fn region_id(n: c_int) -> Option<RegionId> {
    u16::try_from(n).ok().map(RegionId::from_raw)
}
