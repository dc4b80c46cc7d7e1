//! The C ABI's contract on bad input, called as C would call it: NULL pointers, bad strings,
//! bad and stale ids and bad sizes give -EINVAL (or NULL and a one-line message), never a
//! crash, and the errors that mean something else say so (-ENOTCONN before the handshake,
//! -ENETUNREACH without a route). On net_null, so no peer answers; then the zero-copy
//! calls with the in-process ACK peer behind net_null.
use linerate_capi::*;
use std::ffi::{c_char, CStr, CString};
use std::ptr;

fn msg(err: &[c_char]) -> String {
    // SAFETY: the library NUL-terminates whatever it writes into `err`.
    unsafe { CStr::from_ptr(err.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn bad_input_is_an_error_never_a_crash() {
    // SAFETY: every pointer passed is NULL or what the header asks for (live objects,
    // NUL-terminated strings, buffers as long as their lengths): the bad values are the
    // ones the library must check, not ones that break its contract.
    unsafe { calls() }
}

unsafe fn calls() {
    let mut err = [0 as c_char; 256];
    let (el, e) = (err.len(), err.as_mut_ptr());
    let c = |s: &str| CString::new(s).unwrap();

    // Nothing to work on.
    assert!(lr_runtime_new(ptr::null(), c("net_null0").as_ptr(), e, el).is_null());
    assert_eq!(msg(&err), "eal_args: NULL or not UTF-8");
    let mut tiny = [0x55 as c_char; 4];
    assert!(lr_runtime_new(ptr::null(), ptr::null(), tiny.as_mut_ptr(), 4).is_null());
    assert_eq!(msg(&tiny), "eal", "cut to fit, NUL-terminated");
    let ip = c("198.18.0.1/24");
    assert!(lr_stack_new(ptr::null_mut(), 0, ip.as_ptr(), ptr::null(), e, el).is_null());
    assert_eq!(msg(&err), "rt: NULL");
    let dst = c("198.18.0.2:5201");
    let mut ev = [lr_event {
        conn: 0,
        kind: 0,
        error: 0,
        bytes: 0,
    }; 8];
    let inval = -libc::EINVAL;
    assert_eq!(lr_connect(ptr::null_mut(), dst.as_ptr()), inval as i64);
    assert_eq!(
        lr_send(ptr::null_mut(), 0, b"x".as_ptr().cast(), 1),
        inval as i64
    );
    assert_eq!(lr_poll(ptr::null_mut(), ev.as_mut_ptr(), 8), inval);
    assert_eq!(lr_shutdown(ptr::null_mut(), 0), inval);
    assert_eq!(lr_close(ptr::null_mut(), 0), inval);
    lr_stack_free(ptr::null_mut());
    lr_runtime_free(ptr::null_mut());

    // A runtime on net_null.
    let mem = if linerate_sim::eal::hugepages() > 0 {
        "--in-memory"
    } else {
        "--no-huge --no-shconf -m 512"
    };
    let args = c(&format!(
        "-l 0 --no-pci --no-telemetry {mem} --vdev=net_null0"
    ));
    let rt = lr_runtime_new(args.as_ptr(), c("net_null0").as_ptr(), e, el);
    assert!(!rt.is_null(), "{}", msg(&err));
    assert!(lr_runtime_new(args.as_ptr(), c("net_null0").as_ptr(), e, el).is_null());
    assert!(
        msg(&err).contains("already"),
        "EAL starts once: {}",
        msg(&err)
    );
    assert!(lr_stack_new(rt, 0, c("198.18.0.1/33").as_ptr(), ptr::null(), e, el).is_null());
    assert!(
        msg(&err).starts_with("ip_cidr \"198.18.0.1/33\""),
        "{}",
        msg(&err)
    );
    assert!(lr_stack_new(rt, 0, ip.as_ptr(), c("gw").as_ptr(), e, el).is_null());
    assert_eq!(msg(&err), "gateway \"gw\": not an IPv4 address");
    assert!(lr_stack_new(rt, 7, ip.as_ptr(), ptr::null(), e, el).is_null());
    assert!(msg(&err).contains("no queue pair 7"), "{}", msg(&err));
    let s = lr_stack_new(rt, 0, ip.as_ptr(), ptr::null(), e, el);
    assert!(!s.is_null(), "{}", msg(&err));
    assert!(lr_stack_new(rt, 0, ip.as_ptr(), ptr::null(), e, el).is_null());
    assert!(msg(&err).contains("already owned"), "{}", msg(&err));

    // Connections.
    assert_eq!(lr_connect(s, ptr::null()), inval as i64);
    assert_eq!(
        lr_connect(s, c("198.18.0.2").as_ptr()),
        inval as i64,
        "no port"
    );
    let off_net = c("198.19.2.3:80");
    assert_eq!(lr_connect(s, off_net.as_ptr()), -libc::ENETUNREACH as i64);
    let id = lr_connect(s, dst.as_ptr());
    assert!(id >= 0, "{id}");
    assert_eq!(
        lr_send(s, id, b"x".as_ptr().cast(), 1),
        -libc::ENOTCONN as i64
    );
    assert_eq!(lr_send(s, id, ptr::null(), 1), inval as i64);
    assert_eq!(
        lr_send(s, id, b"x".as_ptr().cast(), usize::MAX),
        inval as i64
    );
    assert_eq!(lr_send(s, -1, b"x".as_ptr().cast(), 1), inval as i64);
    let other_gen = id + (1 << 32);
    assert_eq!(lr_send(s, other_gen, b"x".as_ptr().cast(), 1), inval as i64);
    assert_eq!(lr_shutdown(s, other_gen), inval);
    assert_eq!(lr_poll(s, ptr::null_mut(), 8), inval);
    assert_eq!(lr_poll(s, ev.as_mut_ptr(), -1), inval);
    assert_eq!(lr_poll(s, ev.as_mut_ptr(), 0), 0);
    assert_eq!(lr_close(s, id), 0, "closing in SYN-SENT aborts");
    let mut got = Vec::new();
    for _ in 0..100 {
        let n = lr_poll(s, ev.as_mut_ptr(), 1); // one at a time: the rest waits
        assert!(n >= 0);
        got.extend_from_slice(&ev[..n as usize]);
    }
    assert!(
        got.iter()
            .any(|e| e.conn == id && e.kind == lr_event_kind::LR_EV_CLOSED as u32),
        "{got:?}"
    );
    assert_eq!(lr_close(s, id), inval, "the id is stale once freed");
    lr_stack_free(s);
    zero_copy_with_completions(rt);
    lr_runtime_free(rt);
}

/// Polls `s` until `done` holds for the events so far (or 200 000 polls); returns them.
unsafe fn poll_until(
    s: *mut lr_stack,
    got: &mut Vec<lr_event>,
    done: impl Fn(&[lr_event]) -> bool,
) {
    for _ in 0..200_000 {
        poll_once(s, got);
        if done(got) {
            return;
        }
    }
    panic!("events never came: {got:?}");
}

/// One `lr_poll`, its events appended to `got`.
unsafe fn poll_once(s: *mut lr_stack, got: &mut Vec<lr_event>) {
    let mut ev = [lr_event {
        conn: 0,
        kind: 0,
        error: 0,
        bytes: 0,
    }; 64];
    let n = lr_poll(s, ev.as_mut_ptr(), 64);
    assert!(n >= 0);
    got.extend_from_slice(&ev[..n as usize]);
}

/// The zero-copy calls on queue 0 again, now with the in-process ACK peer behind it: a
/// region written in place, sends from it, LR_EV_ZC_DONE only for acknowledged bytes, and
/// the bytes writable again after it.
unsafe fn zero_copy_with_completions(rt: *mut lr_runtime) {
    let mut err = [0 as c_char; 256];
    let (e, el) = (err.as_mut_ptr(), err.len());
    let c = |s: &str| CString::new(s).unwrap();
    let ip = c("198.18.0.1/24");
    let inval = -libc::EINVAL;
    assert!(lr_stack_new_ack_peer(rt, 0, ip.as_ptr(), c("peer").as_ptr(), e, el).is_null());
    assert_eq!(msg(&err), "peer_ip: not an IPv4 address (want a.b.c.d)");
    let s = lr_stack_new_ack_peer(rt, 0, ip.as_ptr(), c("198.18.0.2").as_ptr(), e, el);
    assert!(!s.is_null(), "{}", msg(&err));

    assert_eq!(lr_zc_region_new(ptr::null_mut(), 4096, 4, e, el), inval);
    assert_eq!(lr_zc_region_new(s, 4096, 0, e, el), inval);
    assert!(msg(&err).starts_with("tickets: 0"), "{}", msg(&err));
    assert_eq!(lr_zc_region_new(s, 0, 4, e, el), inval);
    const LEN: usize = 1 << 20;
    let r = lr_zc_region_new(s, LEN, 8, e, el);
    assert!(r >= 0, "{}", msg(&err));
    assert!(lr_zc_region_base(s, r + 1).is_null());
    assert!(lr_zc_region_base(s, -1).is_null());
    let base = lr_zc_region_base(s, r).cast::<u8>();
    assert!(!base.is_null());
    for i in 0..LEN {
        *base.add(i) = (i * 7 % 251) as u8;
    }
    assert_eq!(lr_zc_region_busy(s, r, 0, LEN), 0);
    assert_eq!(lr_zc_region_busy(s, r, LEN, 1), inval);

    let id = lr_connect(s, c("198.18.0.2:5201").as_ptr());
    assert!(id >= 0, "{id}");
    assert_eq!(lr_send_zc(s, id, r, 0, 100), -libc::ENOTCONN as i64);
    let mut got = Vec::new();
    let is = |k: lr_event_kind| move |e: &lr_event| e.conn == id && e.kind == k as u32;
    poll_until(s, &mut got, |g| {
        g.iter().any(is(lr_event_kind::LR_EV_CONNECTED))
    });
    assert_eq!(
        lr_send_zc(s, id, r, LEN - 10, 11),
        inval as i64,
        "past the end"
    );
    assert_eq!(
        lr_send_zc(s, id, r + 1, 0, 10),
        inval as i64,
        "no such region"
    );
    assert_eq!(
        lr_send_zc(s, id + (1 << 32), r, 0, 10),
        inval as i64,
        "stale id"
    );
    let mut sent = 0usize;
    while sent < LEN {
        match lr_send_zc(s, id, r, sent, LEN - sent) {
            n if n > 0 => sent += n as usize,
            n if n == -libc::EAGAIN as i64 || n == -libc::ENOBUFS as i64 => {
                assert!(
                    lr_zc_region_busy(s, r, 0, sent) == 1
                        || got.iter().any(is(lr_event_kind::LR_EV_ZC_DONE))
                );
                poll_once(s, &mut got);
            }
            n => panic!("lr_send_zc: {n}"),
        }
    }
    poll_until(s, &mut got, |g| {
        g.iter()
            .any(|e| is(lr_event_kind::LR_EV_ZC_DONE)(e) && e.bytes == LEN as u64)
    });
    // Every completion is covered by an earlier (or the same poll's) ACK.
    let mut acked = 0;
    for e in got.iter().filter(|e| e.conn == id) {
        if e.kind == lr_event_kind::LR_EV_ACKED as u32 {
            acked = e.bytes;
        }
        if e.kind == lr_event_kind::LR_EV_ZC_DONE as u32 {
            assert!(
                e.bytes <= acked,
                "memory back before its ACK: {e:?} (acked {acked})"
            );
        }
    }
    assert_eq!(
        lr_zc_region_busy(s, r, 0, LEN),
        0,
        "every byte writable again"
    );
    // FIN both ways: LR_EV_CLOSED comes, and it is the connection's last event; nothing
    // was acknowledged before the connection said it was up.
    assert_eq!(lr_shutdown(s, id), 0);
    poll_until(s, &mut got, |g| {
        g.iter().any(is(lr_event_kind::LR_EV_CLOSED))
    });
    for _ in 0..1000 {
        poll_once(s, &mut got);
    }
    let mine: Vec<u32> = got
        .iter()
        .filter(|e| e.conn == id)
        .map(|e| e.kind)
        .collect();
    let first = |k: lr_event_kind| mine.iter().position(|&x| x == k as u32);
    let (c, a) = (
        first(lr_event_kind::LR_EV_CONNECTED),
        first(lr_event_kind::LR_EV_ACKED),
    );
    assert!(matches!((c, a), (Some(c), Some(a)) if c < a), "{mine:?}");
    assert_eq!(
        mine.last(),
        Some(&(lr_event_kind::LR_EV_CLOSED as u32)),
        "{mine:?}"
    );
    assert_eq!(lr_close(s, id), 0);
    lr_stack_free(s);
}
