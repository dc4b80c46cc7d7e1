//! `lr_remote`: the cross-thread handle (`linerate::remote`) from C. The stack's thread
//! makes it; one other thread at a time uses it: connects, sends and closes go to the stack
//! through a bounded lock-free queue, and replies and events come back through another, as
//! `lr_event`s. A send's bytes are copied into a buffer the handle recycles.
use crate::event::{expand, hand_out, lr_event, lr_event_kind};
use crate::stack::{lr_stack, stack};
use crate::{errno, guard, raw_id, str_arg};
use linerate::remote::{remote, Message, RemoteHandle, Reply, Request};
use linerate::ConnId;
use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void};
use std::net::SocketAddrV4;
use std::ptr;

/// An app thread's end of a stack.
pub struct lr_remote {
    handle: RemoteHandle,
    /// Buffers back from the stack, for the next sends.
    spare: Vec<Vec<u8>>,
    /// Events a full `lr_remote_poll` buffer left over.
    pending: VecDeque<lr_event>,
}

/// Attaches a cross-thread handle to `s`, with queues of `depth` messages each; call it on
/// the stack's thread. From then on `lr_poll` applies the handle's requests and its events go
/// to the handle. NULL when `s` is NULL or already has one.
///
/// # Safety
/// `s` is NULL or a live stack no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn lr_remote_new(s: *mut lr_stack, depth: usize) -> *mut lr_remote {
    guard(ptr::null_mut(), || {
        // SAFETY: `s` is NULL or a live stack only this thread uses (the call's contract).
        let Some(s) = (unsafe { stack(s) }) else {
            return ptr::null_mut();
        };
        if s.remote.is_some() {
            return ptr::null_mut();
        }
        let (handle, port) = remote(depth);
        s.remote = Some(port);
        Box::into_raw(Box::new(lr_remote {
            handle,
            spare: Vec::new(),
            pending: VecDeque::new(),
        }))
    })
}

/// Frees the handle (NULL is allowed). Its stack keeps running what it already took.
///
/// # Safety
/// `r` is NULL or from `lr_remote_new`, not in use on another thread, and not used again.
#[no_mangle]
pub unsafe extern "C" fn lr_remote_free(r: *mut lr_remote) {
    guard((), || {
        if !r.is_null() {
            // SAFETY: `r` came from lr_remote_new and is freed once (the caller's contract).
            drop(unsafe { Box::from_raw(r) });
        }
    })
}

/// The handle behind `r`, if not NULL.
///
/// # Safety
/// `r` is NULL or from `lr_remote_new`, not freed, and used by no other thread meanwhile.
unsafe fn handle<'a>(r: *mut lr_remote) -> Option<&'a mut lr_remote> {
    // SAFETY: a non-NULL `r` came from lr_remote_new, is not freed, and only the calling
    // thread uses it now (the contract of every lr_remote call).
    unsafe { r.as_mut() }
}

/// Submits `req`: 0, or -EAGAIN when the queue is full (nothing was taken).
fn submit(r: &mut lr_remote, req: Request) -> c_int {
    match r.handle.submit(req) {
        Ok(()) => 0,
        Err(Request::Send { buf, .. }) => {
            r.spare.push(buf);
            -libc::EAGAIN
        }
        Err(_) => -libc::EAGAIN,
    }
}

/// Asks for a connection to `dst_ip_port`. 0, -EAGAIN (queue full), or -EINVAL. The outcome
/// comes from `lr_remote_poll` as `LR_EV_OPENED`: `bytes` is `tag`, `conn` the id (or -1 with
/// the errno in `error`).
///
/// # Safety
/// `r` is NULL or a live handle no other thread is using; `dst_ip_port` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn lr_remote_connect(
    r: *mut lr_remote,
    dst_ip_port: *const c_char,
    tag: u64,
) -> c_int {
    guard(-libc::EIO, || {
        // SAFETY: `r` is NULL or a live handle only this thread uses (the call's contract).
        let Some(r) = (unsafe { handle(r) }) else {
            return -libc::EINVAL;
        };
        // SAFETY: the string is NULL or NUL-terminated (the call's contract).
        let Some(dst) =
            unsafe { str_arg(dst_ip_port) }.and_then(|d| d.parse::<SocketAddrV4>().ok())
        else {
            return -libc::EINVAL;
        };
        submit(r, Request::Connect { dst, tag })
    })
}

/// Copies `len` bytes of `buf` and queues them for `conn` (they go in order with the
/// connection's other requests, as send space comes). Returns `len`, -EAGAIN when the queue
/// is full (nothing taken), or -EINVAL. A refusal later comes as `LR_EV_ERROR` with `bytes`
/// the count the connection took of this send.
///
/// # Safety
/// `r` is NULL or a live handle no other thread is using; `buf` is NULL or `len` readable
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn lr_remote_send(
    r: *mut lr_remote,
    conn: i64,
    buf: *const c_void,
    len: usize,
) -> i64 {
    guard(-libc::EIO as i64, || {
        // SAFETY: `r` is NULL or a live handle only this thread uses (the call's contract).
        let Some(r) = (unsafe { handle(r) }) else {
            return -libc::EINVAL as i64;
        };
        let Some(id) = raw_id(conn) else {
            return -libc::EINVAL as i64;
        };
        if (buf.is_null() && len > 0) || len > isize::MAX as usize {
            return -libc::EINVAL as i64;
        }
        let data: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: `buf` is not NULL and the caller gives `len` readable bytes there for
            // the call (they are copied before it returns).
            unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) }
        };
        // A small message travels inside the request (no buffer, one slot between cores).
        let req = match Message::new(data) {
            Some(msg) => Request::Message { conn: id, msg },
            None => {
                let mut b = r.spare.pop().unwrap_or_default();
                b.clear();
                b.extend_from_slice(data);
                Request::Send { conn: id, buf: b }
            }
        };
        match submit(r, req) {
            0 => len as i64,
            e => e as i64,
        }
    })
}

/// FIN after the connection's earlier sends: 0, -EAGAIN, or -EINVAL.
///
/// # Safety
/// `r` is NULL or a live handle no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn lr_remote_shutdown(r: *mut lr_remote, conn: i64) -> c_int {
    conn_request(r, conn, Request::Shutdown)
}

/// Releases the id after the connection's earlier sends: 0, -EAGAIN, or -EINVAL.
///
/// # Safety
/// `r` is NULL or a live handle no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn lr_remote_close(r: *mut lr_remote, conn: i64) -> c_int {
    conn_request(r, conn, Request::Close)
}

fn conn_request(r: *mut lr_remote, conn: i64, req: fn(ConnId) -> Request) -> c_int {
    guard(-libc::EIO, || {
        // SAFETY: `r` is NULL or a live handle only this thread uses (the call's contract).
        let (Some(r), Some(id)) = (unsafe { handle(r) }, raw_id(conn)) else {
            return -libc::EINVAL;
        };
        submit(r, req(id))
    })
}

/// Writes up to `max` of the stack's replies and events into `ev`; returns how many (the
/// rest come first next time), or -EINVAL.
///
/// # Safety
/// `r` is NULL or a live handle no other thread is using; `ev` is NULL or room for `max`
/// events.
#[no_mangle]
pub unsafe extern "C" fn lr_remote_poll(r: *mut lr_remote, ev: *mut lr_event, max: c_int) -> c_int {
    guard(-libc::EIO, || {
        // SAFETY: `r` is NULL or a live handle only this thread uses (the call's contract).
        let Some(r) = (unsafe { handle(r) }) else {
            return -libc::EINVAL;
        };
        if max < 0 || (ev.is_null() && max > 0) {
            return -libc::EINVAL;
        }
        while let Some(rep) = r.handle.take() {
            let mut push = |conn: i64, kind: lr_event_kind, error: i32, bytes: u64| {
                r.pending.push_back(lr_event {
                    conn,
                    kind: kind as u32,
                    error,
                    bytes,
                })
            };
            match rep {
                Reply::Connected { tag, result } => match result {
                    Ok(id) => push(id.to_raw() as i64, lr_event_kind::LR_EV_OPENED, 0, tag),
                    Err(e) => push(-1, lr_event_kind::LR_EV_OPENED, errno::connect(e), tag),
                },
                Reply::Sent {
                    conn,
                    buf,
                    taken,
                    error,
                } => {
                    if let Some(e) = error {
                        let raw = conn.to_raw() as i64;
                        push(raw, lr_event_kind::LR_EV_ERROR, errno::io(e), taken as u64);
                    }
                    r.spare.push(buf);
                }
                Reply::Failed { conn, error } => {
                    let raw = conn.to_raw() as i64;
                    push(raw, lr_event_kind::LR_EV_ERROR, errno::io(error), 0);
                }
                Reply::Event(e) => expand(&e, &mut r.pending),
            }
        }
        // SAFETY: `ev` has room for `max` events, checked not NULL above (the call's contract).
        unsafe { hand_out(&mut r.pending, ev, max) }
    })
}
