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
use linerate::remote::{remote, Reply, Request};
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
fn app(h: linerate::remote::RemoteHandle, data: Vec<u8>) -> AppLog {
    let mut log = AppLog::default();
    let mut free: Vec<Vec<u8>> = (0..BUFFERS).map(|_| Vec::with_capacity(CHUNK)).collect();
    let mut ids: Vec<Option<ConnId>> = vec![None; CONNS];
    let mut next_off = [0usize; CONNS];
    let mut shut = [false; CONNS];
    let mut waiting: Option<Request> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    let submit = |r: Request, log: &mut AppLog, waiting: &mut Option<Request>| {
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
            submit(r, &mut log, &mut waiting);
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
                submit(Request::Send { conn: id, buf }, &mut log, &mut waiting);
            }
            // The shutdown right behind the last chunk, which most likely still waits for
            // send space: it must not overtake it.
            if next_off[i] == data.len() && !shut[i] && waiting.is_none() {
                shut[i] = true;
                submit(Request::Shutdown(id), &mut log, &mut waiting);
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
    let (h, mut port) = remote(16);
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
