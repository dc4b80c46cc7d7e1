//! The cross-thread handle (`linerate::remote`): an app thread opens connections, sends a
//! payload on each in chunks and shuts them down, only through the handle's queues, while
//! the test's thread runs the stack and its `RemotePort` over the simulated wire. The queues
//! are four deep, so the app meets a full request queue and the port holds replies, and the
//! send buffer is half a chunk, so every send waits for room in the port; every
//! connection must still arrive byte-exact with FIN, each chunk's buffer must come back, and
//! the app must never need more buffers than it started with.
mod common;
#[path = "common/many.rs"]
#[allow(dead_code)] // the parts sim_many uses
mod many;

use linerate::event::{CLOSED, CONNECTED, ERROR};
use linerate::remote::{remote, remotes, Reply, Request};
use linerate::{ConnId, SEC};
use linerate_sim::harness::{payload, PEER_IP, PORT};
use linerate_sim::SimConfig;
use many::{fnv, Net, FNV0};
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

const DST: SocketAddrV4 = SocketAddrV4::new(PEER_IP, PORT);
const CONNS: usize = 6;
const LEN: usize = 300_000;
const CHUNK: usize = 16 << 10;
const BUFFERS: usize = 8;

/// The stack and the receiver on a clean wire, with a send buffer of half a chunk: every
/// send waits for room, so a connection's later requests (the next chunk, the shutdown)
/// queue behind its first in the port.
fn small_sndbuf_net(name: &str, seed: u64) -> Net {
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, name, 8191);
    let mut cfg = many::stack_config();
    cfg.tcp.sndbuf = 8 << 10;
    cfg.tcp.sndbuf_auto = false;
    Net::new(
        pool,
        SimConfig::clean(seed),
        SimConfig::clean(seed + 1),
        cfg,
    )
}

/// What the app thread saw.
#[derive(Debug, Default)]
struct AppLog {
    full: u64,
    sent_back: usize,
    connected: usize,
    closed: usize,
}

/// The app: connect, send `data` on each connection in chunks from a fixed set of buffers,
/// shut down, and wait for every CLOSED.
fn app(mut h: linerate::remote::RemoteHandle, data: Vec<u8>) -> AppLog {
    let mut log = AppLog::default();
    let mut free: Vec<Vec<u8>> = (0..BUFFERS).map(|_| Vec::with_capacity(CHUNK)).collect();
    let mut ids: Vec<Option<ConnId>> = vec![None; CONNS];
    let mut next_off = [0usize; CONNS];
    let mut shut = [false; CONNS];
    let mut waiting: Option<Request> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    let submit = |h: &mut linerate::remote::RemoteHandle,
                  r: Request,
                  log: &mut AppLog,
                  waiting: &mut Option<Request>| {
        if let Err(r) = h.submit(r) {
            log.full += 1;
            *waiting = Some(r);
        }
    };
    for tag in 0..CONNS {
        let mut r = Request::Connect {
            dst: DST,
            tag: tag as u64,
        };
        while let Err(back) = h.submit(r) {
            log.full += 1;
            r = back;
            std::thread::yield_now();
        }
    }
    while log.closed < CONNS {
        assert!(Instant::now() < deadline, "app timed out: {log:?}");
        while let Some(rep) = h.take() {
            match rep {
                Reply::Connected { tag, result } => {
                    ids[tag as usize] = Some(result.expect("connect"));
                }
                Reply::Sent {
                    buf, error, taken, ..
                } => {
                    assert_eq!(error, None);
                    assert_eq!(taken, buf.len());
                    log.sent_back += 1;
                    free.push(buf);
                }
                Reply::Failed { error, .. } => panic!("refused: {error}"),
                Reply::Event(e) => {
                    assert_eq!(e.what & ERROR, 0, "{e:?}");
                    log.connected += (e.what & CONNECTED != 0) as usize;
                    log.closed += (e.what & CLOSED != 0) as usize;
                }
            }
        }
        // One request at a time, retried while the queue is full.
        if let Some(r) = waiting.take() {
            submit(&mut h, r, &mut log, &mut waiting);
            std::thread::yield_now();
            continue;
        }
        for i in 0..CONNS {
            let Some(id) = ids[i] else { continue };
            if waiting.is_some() {
                break;
            }
            if next_off[i] < data.len() {
                let Some(mut buf) = free.pop() else { break };
                let end = (next_off[i] + CHUNK).min(data.len());
                buf.clear();
                buf.extend_from_slice(&data[next_off[i]..end]);
                next_off[i] = end;
                submit(
                    &mut h,
                    Request::Send { conn: id, buf },
                    &mut log,
                    &mut waiting,
                );
            }
            // The shutdown right behind the last chunk, which most likely still waits for
            // send space: it must not overtake it.
            if next_off[i] == data.len() && !shut[i] && waiting.is_none() {
                shut[i] = true;
                submit(&mut h, Request::Shutdown(id), &mut log, &mut waiting);
            }
        }
        std::thread::yield_now();
    }
    assert_eq!(free.len(), BUFFERS, "every buffer came back");
    log
}

#[test]
fn an_app_thread_drives_connections_through_the_handle() {
    let mut net = small_sndbuf_net("remote", 61);
    let (handle, mut port) = remote(4);
    let data = payload(9, LEN);
    let app = std::thread::spawn({
        let data = data.clone();
        move || app(handle, data)
    });
    // Virtual time runs only as fast as the app thread keeps up with (in real time): with
    // the wire idle and nothing waiting, the loop sleeps instead of racing ahead.
    let wall = Instant::now() + Duration::from_secs(60);
    while !app.is_finished() && Instant::now() < wall {
        net.tick();
        port.run(&mut net.stack);
        if net.wire.borrow().is_idle() && net.stack.tx_backlog() == 0 {
            std::thread::sleep(Duration::from_micros(50));
            net.now += 50 * 1000;
        } else {
            net.advance();
        }
    }
    assert!(
        app.is_finished(),
        "the app thread is stuck at {} s: {} requests pending, backlog {}, peer {:?}",
        net.now / SEC,
        port.pending(),
        net.stack.tx_backlog(),
        net.peer.conns.values().map(|c| c.bytes).collect::<Vec<_>>()
    );
    let log = app.join().expect("the app thread");
    eprintln!("{log:?}");
    assert!(log.full > 0, "the four-deep queue filled at least once");
    assert_eq!(log.connected, CONNS);
    assert_eq!(log.sent_back, CONNS * LEN.div_ceil(CHUNK));
    assert_eq!(port.pending(), 0);
    assert_eq!(net.peer.conns.len(), CONNS);
    let want = fnv(FNV0, &data);
    for (p, c) in &net.peer.conns {
        assert_eq!(
            (c.bytes, c.hash, c.fin),
            (LEN as u64, want, true),
            "port {p}"
        );
    }
}

/// In the port, a connection's later requests wait behind its send that is waiting for
/// room (a shutdown must not overtake the bytes before it), while other connections' go on.
#[test]
fn a_connections_requests_wait_behind_its_send() {
    let mut net = small_sndbuf_net("remote_order", 63);
    let (mut h, mut port) = remote(16);
    h.connect(DST, 0).unwrap();
    h.connect(DST, 1).unwrap();
    let (mut ids, mut connected) = (vec![None; 2], 0);
    for _ in 0..10_000 {
        net.tick();
        port.run(&mut net.stack);
        while let Some(r) = h.take() {
            match r {
                Reply::Connected { tag, result } => ids[tag as usize] = result.ok(),
                Reply::Event(e) => connected += (e.what & CONNECTED != 0) as usize,
                other => panic!("{other:?}"),
            }
        }
        if connected == 2 {
            break;
        }
        net.advance();
    }
    let (a, b) = (ids[0].unwrap(), ids[1].unwrap());
    let big = payload(21, 64 << 10);
    h.send(a, big.clone()).unwrap();
    h.submit(Request::Shutdown(a)).unwrap();
    h.send(b, vec![7; 4096]).unwrap();
    port.run(&mut net.stack);
    assert_eq!(
        net.stack.state(a),
        Some(linerate::State::Established),
        "no FIN yet"
    );
    assert_eq!(port.pending(), 2, "A's send and shutdown wait");
    match h.take() {
        Some(Reply::Sent {
            conn,
            taken,
            error: None,
            ..
        }) => assert_eq!((conn, taken), (b, 4096)),
        other => panic!("B's send went through at once: {other:?}"),
    }
    let end = net.now + 30 * SEC;
    while net.now < end && !net.peer.conns.values().any(|c| c.fin) {
        net.tick();
        port.run(&mut net.stack);
        while h.take().is_some() {}
        net.advance();
    }
    let pa = net.stack.local_port(a).unwrap();
    let rx = &net.peer.conns[&pa];
    assert_eq!(
        (rx.bytes, rx.hash, rx.fin),
        (big.len() as u64, fnv(FNV0, &big), true)
    );
}

/// Message `i` of producer `p`: its numbers, then bytes that depend on both.
fn stress_msg(p: u8, i: u32) -> [u8; 64] {
    let mut m = [0u8; 64];
    m[0] = p;
    m[1..5].copy_from_slice(&i.to_le_bytes());
    for (k, b) in m[5..].iter_mut().enumerate() {
        *b = (i as usize * 31 + k * 7 + p as usize) as u8;
    }
    m
}

const STRESS_MSGS: u32 = 500_000;

/// A producer thread: its own handle and connection, STRESS_MSGS inline messages, then FIN.
fn producer(mut h: linerate::remote::RemoteHandle, p: u8) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    let pump =
        |h: &mut linerate::remote::RemoteHandle, id: &mut Option<ConnId>, closed: &mut bool| {
            while let Some(r) = h.take() {
                match r {
                    Reply::Connected { result, .. } => *id = Some(result.expect("connect")),
                    Reply::Event(e) => {
                        assert_eq!(e.what & ERROR, 0, "{e:?}");
                        *closed |= e.what & CLOSED != 0;
                    }
                    other => panic!("producer {p}: {other:?}"),
                }
            }
            assert!(Instant::now() < deadline, "producer {p} timed out");
        };
    let (mut id, mut closed, mut full) = (None, false, 0u64);
    h.connect(DST, p as u64).unwrap();
    while id.is_none() {
        pump(&mut h, &mut id, &mut closed);
        std::thread::yield_now();
    }
    let conn = id.unwrap();
    for i in 0..STRESS_MSGS {
        let m = stress_msg(p, i);
        while h.send_message(conn, &m).is_err() {
            // Backpressure: the stack's thread needs the CPU more than this one.
            full += 1;
            pump(&mut h, &mut id, &mut closed);
            std::thread::yield_now();
        }
    }
    while h.submit(Request::Shutdown(conn)).is_err() {
        pump(&mut h, &mut id, &mut closed);
    }
    while !closed {
        pump(&mut h, &mut id, &mut closed);
        std::thread::yield_now();
    }
    full
}

#[test]
fn two_producer_threads_a_million_messages_byte_exact() {
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, "remote_stress", 16383);
    let mut net = Net::new(
        pool,
        SimConfig::clean(71),
        SimConfig::clean(72),
        many::stack_config(),
    );
    let (mut hs, mut port) = remotes(2, 256);
    let (hb, ha) = (hs.pop().unwrap(), hs.pop().unwrap());
    let a = std::thread::spawn(move || producer(ha, 1));
    let b = std::thread::spawn(move || producer(hb, 2));
    let wall = Instant::now() + Duration::from_secs(120);
    while !(a.is_finished() && b.is_finished()) && Instant::now() < wall {
        net.tick();
        port.run(&mut net.stack);
        net.advance();
    }
    assert!(
        a.is_finished() && b.is_finished(),
        "producers stuck at {} s: pending {}, peer {:?}",
        net.now / SEC,
        port.pending(),
        net.peer
            .conns
            .values()
            .map(|c| (c.bytes, c.fin))
            .collect::<Vec<_>>()
    );
    let fulls = (a.join().expect("producer 1"), b.join().expect("producer 2"));
    eprintln!("request ring full: {fulls:?}");
    assert!(
        fulls.0 + fulls.1 > 0,
        "the stack could not keep up: the rings pushed back"
    );
    let want = |p: u8| (0..STRESS_MSGS).fold(FNV0, |h, i| fnv(h, &stress_msg(p, i)));
    let mut got: Vec<_> = net
        .peer
        .conns
        .values()
        .map(|c| (c.bytes, c.hash, c.fin))
        .collect();
    got.sort();
    let mut expect: Vec<_> = [1u8, 2]
        .iter()
        .map(|&p| (STRESS_MSGS as u64 * 64, want(p), true))
        .collect();
    expect.sort();
    assert_eq!(
        got, expect,
        "each producer's messages arrive whole and in order"
    );
}
