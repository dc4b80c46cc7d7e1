//! `lr_event`: the stack's merged per-connection events, one C event per kind.
use linerate::event::{Event, ACKED, CLOSED, CONNECTED, ERROR, READABLE, WRITABLE, ZC_DONE};
use std::collections::VecDeque;
use std::ffi::c_int;

/// What `lr_poll` reports.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lr_event_kind {
    /// The handshake finished: the connection may send.
    LR_EV_CONNECTED = 1,
    /// Send space came back after an `lr_send` that took less than it was given (or
    /// `-EAGAIN`).
    LR_EV_WRITABLE = 2,
    /// The peer acknowledged more: `bytes` is the total acknowledged since the connect.
    LR_EV_ACKED = 3,
    /// Data or the peer's FIN arrived: `bytes` is the total received since the connect.
    LR_EV_READABLE = 4,
    /// Both sides closed (or the app aborted): `error` is 0.
    LR_EV_CLOSED = 5,
    /// The connection failed: `error` is the errno (ECONNREFUSED, ECONNRESET, ETIMEDOUT,
    /// EHOSTUNREACH). From `lr_remote_poll` also a request the stack refused (`bytes`: what
    /// a refused send had taken).
    LR_EV_ERROR = 6,
    /// From `lr_remote_poll`: the outcome of `lr_remote_connect`. `bytes` is its tag; `conn`
    /// the new id, or -1 with the errno in `error`.
    LR_EV_OPENED = 7,
    /// Memory of `lr_send_zc` sends came back (acknowledged, and no frame reads it any
    /// more): `bytes` is the total of the connection's zero-copy bytes returned, in send
    /// order since the connect.
    LR_EV_ZC_DONE = 8,
}

/// One thing that happened to one connection.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct lr_event {
    /// The connection, as `lr_connect` returned it.
    pub conn: i64,
    /// An `lr_event_kind`.
    pub kind: u32,
    /// With `LR_EV_ERROR`, the errno; else 0.
    pub error: i32,
    /// With `LR_EV_ACKED`, bytes acknowledged; with `LR_EV_READABLE`, bytes received; with
    /// `LR_EV_ZC_DONE`, zero-copy bytes returned (all since the connect); else 0.
    pub bytes: u64,
}

/// Appends the C events of one stack event, in the order they happened: connected, acked,
/// zero-copy memory returned, writable, readable, then closed; or, for a failure, the error
/// before the memory it returned.
pub(crate) fn expand(e: &Event, out: &mut VecDeque<lr_event>) {
    let conn = e.conn.to_raw() as i64;
    let mut push = |kind: lr_event_kind, error: i32, bytes: u64| {
        out.push_back(lr_event {
            conn,
            kind: kind as u32,
            error,
            bytes,
        })
    };
    if e.what & CONNECTED != 0 {
        push(lr_event_kind::LR_EV_CONNECTED, 0, 0);
    }
    if e.what & ACKED != 0 {
        push(lr_event_kind::LR_EV_ACKED, 0, e.bytes_acked);
    }
    if e.what & WRITABLE != 0 {
        push(lr_event_kind::LR_EV_WRITABLE, 0, 0);
    }
    if e.what & READABLE != 0 {
        push(lr_event_kind::LR_EV_READABLE, 0, e.bytes_received);
    }
    // Memory back before a clean close (all of it acknowledged, and CLOSED is last), after
    // an error (which says why it came back unacknowledged).
    let (zc, failed) = (e.what & ZC_DONE != 0, e.what & ERROR != 0);
    if zc && !failed {
        push(lr_event_kind::LR_EV_ZC_DONE, 0, e.zc_done);
    }
    if e.what & CLOSED != 0 {
        push(lr_event_kind::LR_EV_CLOSED, 0, 0);
    }
    if failed {
        let errno = e.error.map_or(libc::EIO, crate::errno::tcp);
        push(lr_event_kind::LR_EV_ERROR, errno, 0);
        if zc {
            push(lr_event_kind::LR_EV_ZC_DONE, 0, e.zc_done);
        }
    }
}

/// Moves up to `max` of `pending` into the caller's `ev` and returns how many (the rest stay
/// for the next call). The caller has checked `ev` and `max` (`max >= 0`, `ev` not NULL
/// unless `max` is 0).
///
/// # Safety
/// `ev` has room for `max` events.
pub(crate) unsafe fn hand_out(
    pending: &mut VecDeque<lr_event>,
    ev: *mut lr_event,
    max: c_int,
) -> c_int {
    if max <= 0 {
        return 0;
    }
    // SAFETY: `ev` is not NULL and the caller gives room for `max` events there.
    let out = unsafe { std::slice::from_raw_parts_mut(ev, max as usize) };
    let k = out.len().min(pending.len());
    for (o, e) in out.iter_mut().zip(pending.drain(..k)) {
        *o = e;
    }
    k as c_int
}
