//! The cross-thread handle from C: a second thread connects, sends and polls through
//! `lr_remote_*` while the test's thread runs `lr_poll`. On net_null nothing answers ARP, so
//! the connection the handle opens must fail with EHOSTUNREACH and its queued send must come
//! back refused; an off-link connect must come back as LR_EV_OPENED with ENETUNREACH; a full
//! queue says -EAGAIN; bad arguments say -EINVAL.
use linerate_capi::*;
use std::ffi::{c_char, CString};
use std::ptr;
use std::time::{Duration, Instant};

/// The handle's address, to move it to the app thread (which alone uses it from then on).
struct Remote(usize);

const EV0: lr_event = lr_event {
    conn: 0,
    kind: 0,
    error: 0,
    bytes: 0,
};

/// The app thread: everything it saw, in order.
fn app(r: Remote) -> Vec<lr_event> {
    let r = r.0 as *mut lr_remote;
    let c = |s: &str| CString::new(s).unwrap();
    let mut seen = Vec::new();
    let mut ev = [EV0; 4];
    // SAFETY: `r` is a live handle that only this thread uses; the strings and buffers are
    // valid for each call.
    unsafe {
        assert_eq!(lr_remote_connect(r, ptr::null(), 1), -libc::EINVAL);
        assert_eq!(
            lr_remote_send(r, -5, b"x".as_ptr().cast(), 1),
            -libc::EINVAL as i64
        );
        assert_eq!(lr_remote_poll(r, ptr::null_mut(), 4), -libc::EINVAL);
        assert_eq!(lr_remote_connect(r, c("198.18.0.2:5201").as_ptr(), 42), 0);
        assert_eq!(lr_remote_connect(r, c("198.19.9.9:1").as_ptr(), 43), 0);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut id = None;
        while Instant::now() < deadline {
            let n = lr_remote_poll(r, ev.as_mut_ptr(), 4);
            assert!(n >= 0);
            for e in &ev[..n as usize] {
                seen.push(*e);
                if e.kind == lr_event_kind::LR_EV_OPENED as u32 && e.bytes == 42 {
                    id = Some(e.conn);
                    // Queued behind the handshake, which never finishes.
                    assert_eq!(lr_remote_send(r, e.conn, b"hello".as_ptr().cast(), 5), 5);
                }
            }
            let failed = |k: lr_event_kind| {
                seen.iter()
                    .filter(|e| Some(e.conn) == id && e.kind == k as u32)
                    .count()
            };
            if failed(lr_event_kind::LR_EV_ERROR) >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    seen
}

#[test]
fn a_second_thread_drives_the_stack_through_lr_remote() {
    let mut err = [0 as c_char; 256];
    let (el, e) = (err.len(), err.as_mut_ptr());
    let mem = if linerate_sim::eal::hugepages() > 0 {
        "--in-memory"
    } else {
        "--no-huge --no-shconf -m 512"
    };
    let args = CString::new(format!(
        "-l 0 --no-pci --no-telemetry {mem} --vdev=net_null0"
    ))
    .unwrap();
    let port = CString::new("net_null0").unwrap();
    let ip = CString::new("198.18.0.1/24").unwrap();
    // SAFETY: every pointer is NULL or what the header asks for; the stack stays on this
    // thread and the handle moves to the app thread, which alone uses it.
    unsafe {
        let rt = lr_runtime_new(args.as_ptr(), port.as_ptr(), e, el);
        assert!(!rt.is_null());
        let s = lr_stack_new(rt, 0, ip.as_ptr(), ptr::null(), e, el);
        assert!(!s.is_null());
        assert!(lr_remote_new(ptr::null_mut(), 4).is_null());
        let r = lr_remote_new(s, 2);
        assert!(!r.is_null());
        assert!(lr_remote_new(s, 2).is_null(), "one handle per stack");
        // The queue holds two: a third request waits for the stack's thread.
        let dst = CString::new("198.18.0.9:9").unwrap();
        assert_eq!(lr_remote_connect(r, dst.as_ptr(), 7), 0);
        assert_eq!(lr_remote_connect(r, dst.as_ptr(), 8), 0);
        assert_eq!(lr_remote_connect(r, dst.as_ptr(), 9), -libc::EAGAIN);
        let mut ev = [EV0; 8];
        assert_eq!(
            lr_poll(s, ev.as_mut_ptr(), 8),
            0,
            "the events go to the handle"
        );
        let mut drained = Vec::new();
        let until = Instant::now() + Duration::from_secs(5);
        while drained.len() < 2 && Instant::now() < until {
            let n = lr_remote_poll(r, ev.as_mut_ptr(), 8);
            drained.extend_from_slice(&ev[..n as usize]);
        }
        let tags: Vec<u64> = drained.iter().map(|e| e.bytes).collect();
        assert_eq!(tags, vec![7, 8]);
        assert!(drained
            .iter()
            .all(|e| e.kind == 7 && e.conn >= 0 && e.error == 0));

        let app = std::thread::spawn({
            let h = Remote(r as usize);
            move || app(h)
        });
        let wall = Instant::now() + Duration::from_secs(30);
        while !app.is_finished() && Instant::now() < wall {
            assert_eq!(lr_poll(s, ev.as_mut_ptr(), 8), 0);
        }
        let seen = app.join().expect("the app thread");
        let off_link = seen
            .iter()
            .find(|e| e.bytes == 43)
            .expect("the off-link connect");
        assert_eq!(
            (off_link.kind, off_link.conn, off_link.error),
            (7, -1, libc::ENETUNREACH)
        );
        let id = seen
            .iter()
            .find(|e| e.kind == 7 && e.bytes == 42)
            .expect("opened")
            .conn;
        let errors: Vec<&lr_event> = seen
            .iter()
            .filter(|e| e.conn == id && e.kind == 6)
            .collect();
        assert_eq!(errors.len(), 2, "the connection and its send: {seen:?}");
        assert!(
            errors
                .iter()
                .all(|e| e.error == libc::EHOSTUNREACH && e.bytes == 0),
            "{errors:?}"
        );
        lr_remote_free(r);
        lr_stack_free(s);
        lr_runtime_free(rt);
    }
}
