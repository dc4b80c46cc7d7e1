//! What the C ABI adds to a send: `lr_send` called through a function pointer (as a C
//! program calls into liblinerate_capi.so) against `Stack::send` on the very same stack and
//! connection, in alternating rounds: net_null with the in-process ACK peer, 64-byte
//! messages with TCP_NODELAY (each leaves inside the call). Prints one line:
//! `abi_cost: rust_p50_ns=.. c_p50_ns=.. rust_mean_ns=.. c_mean_ns=.. added_mean_ns=..`.
//!
//! Usage: abi_cost [EAL args] [messages per round] [rounds]
use linerate_capi::*;
use std::ffi::{c_char, c_void, CStr, CString};
use std::hint::black_box;

const DEFAULT_EAL: &str = "-l 0 --in-memory --no-pci --no-telemetry --vdev=net_null0";

type SendFn = unsafe extern "C" fn(*mut lr_stack, i64, *const c_void, usize) -> i64;

fn arg(args: &[String], i: usize, default: usize, what: &str) -> usize {
    match args.get(i) {
        None => default,
        Some(s) => s.parse().unwrap_or_else(|_| {
            eprintln!("abi_cost: {what} must be a positive integer, not {s:?}");
            std::process::exit(2)
        }),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let eal = CString::new(args.first().map_or(DEFAULT_EAL, String::as_str)).expect("no NUL");
    let per_round = arg(&args, 1, 200_000, "messages per round").max(1);
    let rounds = arg(&args, 2, 10, "rounds").max(1);
    let mut err = [0 as c_char; 256];
    let c = |s: &str| CString::new(s).expect("no NUL");
    // SAFETY: every pointer is a live object or string from this function, as linerate.h asks;
    // `s` is used by this thread only.
    unsafe {
        let rt = lr_runtime_new(eal.as_ptr(), c("0").as_ptr(), err.as_mut_ptr(), err.len());
        let ip = c("198.18.0.1/24");
        let peer = c("198.18.0.2");
        let s = match rt.is_null() {
            true => std::ptr::null_mut(),
            false => lr_stack_new_ack_peer(
                rt,
                0,
                ip.as_ptr(),
                peer.as_ptr(),
                err.as_mut_ptr(),
                err.len(),
            ),
        };
        if s.is_null() {
            let m = CStr::from_ptr(err.as_ptr()).to_string_lossy();
            eprintln!("abi_cost: {m}");
            std::process::exit(1);
        }
        let id = lr_connect(s, c("198.18.0.2:5201").as_ptr());
        let mut ev = [lr_event {
            conn: 0,
            kind: 0,
            error: 0,
            bytes: 0,
        }; 64];
        let mut up = false;
        for _ in 0..1_000_000 {
            let n = lr_poll(s, ev.as_mut_ptr(), 64);
            up |= ev[..n.max(0) as usize]
                .iter()
                .any(|e| e.kind == lr_event_kind::LR_EV_CONNECTED as u32);
            if up {
                break;
            }
        }
        if id < 0 || !up {
            eprintln!("abi_cost: no handshake with the ACK peer (id {id})");
            std::process::exit(1);
        }
        let conn = linerate::ConnId::from_raw(id as u64).expect("a valid id");
        // Through a pointer the optimiser cannot see through: a call into a shared library.
        let send: SendFn = black_box(lr_send as SendFn);
        let msg = [0x4f_u8; 64];
        let hz = linerate::dpdk::tsc_hz() as f64;
        let (mut rust, mut cabi) = (Vec::new(), Vec::new());
        for round in 0..2 * rounds {
            let c_round = round % 2 == 1;
            let out = if c_round { &mut cabi } else { &mut rust };
            for i in 0..per_round {
                let t = linerate::dpdk::rdtsc();
                let n = if c_round {
                    send(s, id, msg.as_ptr().cast(), msg.len())
                } else {
                    // The length unknown at compile time, as in the C call: a constant would
                    // let the copy specialise and flatter the Rust side.
                    match (*s).stack_mut().send(conn, black_box(&msg[..])) {
                        Ok(n) => n as i64,
                        Err(_) => -1,
                    }
                };
                out.push(linerate::dpdk::rdtsc() - t);
                if n != 64 {
                    eprintln!("abi_cost: message {i} of round {round}: send gave {n}");
                    std::process::exit(1);
                }
                // The ACK peer's ACKs come back on a poll; a poll every 8 messages keeps
                // the send buffer open.
                if i % 8 == 7 {
                    lr_poll(s, ev.as_mut_ptr(), 64);
                }
            }
        }
        let stats = |v: &mut Vec<u64>| {
            v.sort_unstable();
            let ns = |t: u64| t as f64 * 1e9 / hz;
            let mean = v.iter().sum::<u64>() as f64 / v.len() as f64;
            (
                ns(v[v.len() / 2]),
                ns(v[v.len() * 99 / 100]),
                mean * 1e9 / hz,
            )
        };
        let (r50, r99, rmean) = stats(&mut rust);
        let (c50, c99, cmean) = stats(&mut cabi);
        println!(
            "abi_cost: rust_p50_ns={r50:.1} rust_p99_ns={r99:.1} c_p50_ns={c50:.1} c_p99_ns={c99:.1} rust_mean_ns={rmean:.1} c_mean_ns={cmean:.1} added_mean_ns={:.1} added_p50_ns={:.1} messages={}",
            cmean - rmean,
            c50 - r50,
            rust.len() + cabi.len()
        );
        lr_stack_free(s);
        lr_runtime_free(rt);
    }
}
