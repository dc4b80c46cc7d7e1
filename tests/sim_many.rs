//! Many connections from one stack, driven the way an app with many connections drives them:
//! by readiness events (`Stack::events`), never by walking every connection. Against a
//! receiver of our own (tests/common/many.rs: cumulative ACKs, a hash per connection) over the
//! simulated wire: 10 000 connections through 1 % loss each way all finish byte-exact; the
//! events of one connection's life (CONNECTED, ACKED, WRITABLE, CLOSED, ERROR, FREED) come as
//! documented; the send buffer starts at 64 KiB and grows with the window; and connections
//! held back by a full device backlog all get their turn.
mod common;
#[path = "common/many.rs"]
mod many;

use linerate::dpdk::Mempool;
use linerate::event::{self, Event};
use linerate::{ConnId, ConnectError, Device, IoError, State, TcpError, MS, SEC, TX_BACKLOG};
use linerate_sim::harness::{payload, PEER_IP, PORT};
use linerate_sim::{Dir, SimConfig};
use many::{fnv, LineRate, Net, FNV0};
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::Instant;

const DST: SocketAddrV4 = SocketAddrV4::new(PEER_IP, PORT);
/// The stack's ephemeral ports (`StackConfig::new`): a connection's starts at a keyed hash
/// of its destination (RFC 6056), and the next ones follow it around the range.
const PORT0: u16 = 32768;
const PORTS: usize = 60999 - 32768 + 1;
/// The send buffer a connection starts with (`SNDBUF_INIT`).
const SNDBUF_INIT: usize = 64 << 10;

fn pool(name: &str, n: u32) -> Arc<Mempool> {
    let eal = common::eal(&[]);
    common::pool(&eal, name, n)
}

/// A clean path of `delay` one way.
fn delayed(seed: u64, delay: linerate::Nanos) -> SimConfig {
    SimConfig {
        seed,
        delay,
        ..Default::default()
    }
}

const NO_EVENT: Event = Event::EMPTY;

/// Takes every pending event.
fn take_events<D: Device>(net: &mut Net<D>, out: &mut Vec<Event>) {
    let mut buf = [NO_EVENT; 256];
    loop {
        let n = net.stack.events(&mut buf);
        out.extend_from_slice(&buf[..n]);
        if n < buf.len() {
            return;
        }
    }
}

/// Connection `port`'s bytes: a window into one random buffer, distinct per port.
fn data_of(base: &[u8], port: u16, len: usize) -> &[u8] {
    let o = (port - PORT0) as usize * 13;
    &base[o..o + len]
}

/// What the app knows of one connection, from its events.
#[derive(Debug, Default)]
struct Conn {
    id: ConnId,
    port: u16,
    sent: usize,
    /// A send took less than asked: a WRITABLE is owed.
    short: bool,
    closing: bool,
    acked: u64,
    connected: u32,
    writable: u32,
    closed: bool,
    freed: bool,
    /// Events drained so far (to check one event per connection per drain).
    drain: u64,
}

/// Sends `c`'s bytes from where it stopped until the send buffer pushes back; closes once
/// everything is queued.
fn write(net: &mut Net, c: &mut Conn, data: &[u8]) {
    while c.sent < data.len() {
        match net.stack.send(c.id, &data[c.sent..]) {
            Ok(n) => {
                c.sent += n;
                if c.sent < data.len() {
                    c.short = true;
                    break;
                }
            }
            Err(IoError::WouldBlock) => {
                c.short = true;
                break;
            }
            Err(e) => panic!("send on port {}: {e} {:?}", c.port, net.stack.info(c.id)),
        }
    }
    if c.sent == data.len() && !c.closing {
        net.stack.close(c.id).expect("close");
        c.closing = true;
    }
}

/// 10 000 connections (each 32 KiB through an 8 KiB send buffer, so every one needs WRITABLE
/// three times or more) over 1 % loss each way, 2 ms one-way delay. Sends happen only on CONNECTED
/// and WRITABLE: a connection the stack forgets to wake never finishes. Every connection's
/// bytes must reach the receiver intact (FNV-1a per connection), every connection must end
/// cleanly and be freed, and loss must have been repaired by retransmission.
#[test]
fn many_connections_with_loss_none_starves() {
    // 10 000 × 32 KiB: about 1.4 s in release (0.9 s of it the run itself). The pool holds
    // every connection's full send buffer at once (the ignored test below shows why).
    run_many(10_000, 32 << 10, &pool("many_loss", 81_919));
}

/// Like the test above, but the pool is too small for every connection's send buffer at once:
/// sends fail on the pool's reserve (`alloc_failures`), not on the send buffer. A connection
/// with nothing in flight that gets `WouldBlock` this way has no ACK or timer left to note
/// the space coming back, so it never gets WRITABLE and never sends (Linux lets a socket with
/// an empty write queue always queue one skb, `tcp_stream_alloc_skb`'s `force_schedule`).
#[test]
fn pool_exhaustion_still_wakes_every_writer() {
    run_many(10_000, 32 << 10, &pool("many_small", 16_383));
}

fn run_many(n: usize, len: usize, pool: &Arc<Mempool>) {
    let t0 = Instant::now();
    let lossy = |seed| SimConfig {
        seed,
        loss: 0.01,
        delay: 2 * MS,
        ..Default::default()
    };
    let mut cfg = many::stack_config();
    cfg.tcp.sndbuf = 8 << 10;
    let mut net = Net::new(pool.clone(), lossy(21), lossy(22), cfg);
    let base = payload(5, PORTS * 13 + len);
    let mut conns: Vec<Conn> = Vec::with_capacity(n);
    let mut by_id: Vec<usize> = Vec::new();
    let mut first_port = None;
    for i in 0..n {
        let id = net.stack.connect(DST, None).expect("connect");
        let port = net.stack.local_port(id).unwrap();
        let first = *first_port.get_or_insert(port);
        let want = PORT0 + (((first - PORT0) as usize + i) % PORTS) as u16;
        assert_eq!(port, want, "ports to one destination follow each other");
        if by_id.len() <= id.index() {
            by_id.resize(id.index() + 1, usize::MAX);
        }
        by_id[id.index()] = i;
        conns.push(Conn {
            id,
            port,
            ..Default::default()
        });
    }
    let (mut evs, mut ready, mut freed, mut drains) = (Vec::new(), Vec::new(), 0, 0u64);
    let (mut max_pending, mut max_mbufs) = (0, 0);
    let end = net.now + 600 * SEC;
    while freed < n {
        net.tick();
        max_pending = max_pending.max(net.stack.events_pending());
        max_mbufs = max_mbufs.max(net.pool.in_use());
        evs.clear();
        take_events(&mut net, &mut evs);
        drains += 1;
        for ev in &evs {
            let i = by_id[ev.conn.index()];
            let c = &mut conns[i];
            assert!(!c.freed, "an event after FREED: {ev:?}");
            assert!(c.drain < drains, "two events for one connection: {ev:?}");
            c.drain = drains;
            assert!(
                ev.bytes_acked >= c.acked && ev.bytes_acked <= c.sent as u64,
                "{ev:?} {c:?}"
            );
            c.acked = ev.bytes_acked;
            assert_eq!(ev.what & event::ERROR, 0, "port {}: {ev:?}", c.port);
            if ev.what & event::CONNECTED != 0 {
                c.connected += 1;
                ready.push(i);
            }
            if ev.what & event::WRITABLE != 0 {
                assert!(c.short, "WRITABLE without a short send: {ev:?} {c:?}");
                c.short = false;
                c.writable += 1;
                ready.push(i);
            }
            if ev.what & event::CLOSED != 0 {
                assert!(
                    matches!(ev.state, State::TimeWait | State::Closed),
                    "{ev:?}"
                );
                c.closed = true;
            }
            if ev.what & event::FREED != 0 {
                // Closed, or in TIME-WAIT as a record that no longer needs the slot.
                assert!(
                    matches!(ev.state, State::Closed | State::TimeWait) && ev.error.is_none(),
                    "{ev:?}"
                );
                c.freed = true;
                freed += 1;
            }
        }
        for i in ready.drain(..) {
            let c = &mut conns[i];
            write(&mut net, c, data_of(&base, c.port, len));
        }
        net.stack.flush();
        if net.now >= end {
            let stuck: Vec<_> = conns.iter().filter(|c| !c.freed).take(5).collect();
            let info = stuck.first().map(|c| net.stack.info(c.id));
            panic!(
                "{} of {n} connections unfinished after 600 s, e.g. {stuck:?} {info:?}",
                n - freed
            );
        }
        net.advance();
    }
    let virt = net.now - SEC;
    net.drain(10 * SEC);
    let stats = net.stack.stats();
    let (fwd, rev) = (
        net.wire.borrow().stats(Dir::ToPeer),
        net.wire.borrow().stats(Dir::ToStack),
    );
    eprintln!(
        "{n} connections: {:.1} s real, {} ms virtual; max {max_pending} events pending, {max_mbufs} mbufs in use; \
         tcp {:?}; peer {:?}; wire to peer {fwd:?} to stack {rev:?}",
        t0.elapsed().as_secs_f64(),
        virt / MS,
        stats.tcp,
        net.peer.stats
    );
    for c in &conns {
        let rx = &net.peer.conns[&c.port];
        let want = fnv(FNV0, data_of(&base, c.port, len));
        assert_eq!(rx.bytes, len as u64, "port {}: bytes received", c.port);
        assert_eq!(rx.hash, want, "port {}: the bytes differ", c.port);
        assert!(rx.fin && !rx.rst, "port {}: FIN received, no RST", c.port);
        assert_eq!((c.connected, c.acked), (1, len as u64), "{c:?}");
        assert!(c.closed && c.writable >= 3, "{c:?}");
    }
    assert!(max_pending <= n);
    assert_eq!(net.peer.stats.bad_csum, 0);
    assert_eq!(stats.conn_errors, 0);
    assert_eq!(stats.conns_open, 0);
    // The loss was real and repaired: frames dropped both ways, segments retransmitted, and
    // the receiver saw holes (out-of-order data) and retransmitted duplicates.
    assert!(fwd.dropped > 1000 && rev.dropped > 1000, "{fwd:?} {rev:?}");
    assert!(stats.tcp.retrans_segs > 1000, "{:?}", stats.tcp);
    assert!(net.peer.stats.ooo_segs > 0, "{:?}", net.peer.stats);
    assert_eq!(
        net.pool.in_use(),
        net.pool_base,
        "every mbuf back in the pool"
    );
}

/// Ticks until `done(net, log)` (which may also send), appending every event to `log`;
/// false after `limit` of virtual time.
fn run_until<D: Device>(
    net: &mut Net<D>,
    limit: linerate::Nanos,
    log: &mut Vec<Event>,
    mut done: impl FnMut(&mut Net<D>, &[Event]) -> bool,
) -> bool {
    let end = net.now + limit;
    while net.now < end {
        net.tick();
        take_events(net, log);
        if done(net, log) {
            return true;
        }
        net.stack.flush();
        net.advance();
    }
    false
}

/// One connection's life, then an aborted, a refused and a reused one: each event says what
/// happened, once, with the state and byte counts of the time.
#[test]
fn events_report_connect_ack_writable_close() {
    use event::{ACKED, CLOSED, CONNECTED, ERROR, FREED, STATE, WRITABLE};
    let clean = |seed| delayed(seed, MS);
    let mut net = Net::new(
        pool("many_events", 8191),
        clean(31),
        clean(32),
        many::stack_config(),
    );
    let data = payload(9, 1 << 20);
    let mut log = Vec::new();

    // Connect: nothing to report while the SYN waits for ARP and the handshake runs.
    let a = net.stack.connect(DST, None).unwrap();
    let pa = net.stack.local_port(a).unwrap();
    assert_eq!(net.stack.events_pending(), 0);
    assert!(run_until(&mut net, SEC, &mut log, |_, l| !l.is_empty()));
    assert_eq!(net.peer.stats.arp_replies, 1);
    // (ACKED comes along: the SYN-ACK acknowledged our SYN, though no payload byte.)
    let e = log[0];
    assert_eq!(
        (log.len(), e.conn, e.what & !ACKED),
        (1, a, CONNECTED | STATE),
        "{log:?}"
    );
    assert_eq!(
        (e.state, e.error, e.bytes_acked),
        (State::Established, None, 0)
    );

    // 1 MiB through the send buffer, written on WRITABLE only: ACKED counts what the
    // receiver has, growing; WRITABLE comes only after a send that came up short.
    let (mut sent, mut short, mut acked, mut writable, mut acks) = (0, false, 0, 0, 0);
    let mut seen = log.len();
    let mut ready = true;
    let ok = run_until(&mut net, 30 * SEC, &mut log, |net, l| {
        for e in &l[seen..] {
            assert_eq!(e.conn, a);
            assert_eq!(e.what & !(ACKED | WRITABLE), 0, "{e:?}");
            assert_eq!((e.state, e.error), (State::Established, None));
            if e.what & ACKED != 0 {
                assert!(e.bytes_acked > acked, "{e:?} after {acked}");
                assert!(e.bytes_acked <= net.peer.conns[&pa].bytes, "{e:?}");
                acked = e.bytes_acked;
                acks += 1;
            }
            if e.what & WRITABLE != 0 {
                assert!(short, "WRITABLE without a short send: {e:?}");
                assert!(net.stack.send_space(a) > 0);
                (short, ready, writable) = (false, true, writable + 1);
            }
        }
        seen = l.len();
        if ready && sent < data.len() {
            match net.stack.send(a, &data[sent..]) {
                Ok(n) => sent += n,
                Err(e) => assert_eq!(e, IoError::WouldBlock),
            }
            short = sent < data.len();
            ready = !short;
        }
        sent == data.len() && acked == data.len() as u64
    });
    assert!(ok, "{sent} {acked} {:?}", net.stack.info(a));
    let rx = &net.peer.conns[&pa];
    assert_eq!((rx.bytes, rx.hash), (acked, fnv(FNV0, &data)));
    assert!(
        writable >= 3 && acks >= 10,
        "{writable} WRITABLE, {acks} ACKED"
    );

    // close(): the state changes, then CLOSED (no error) with FREED on entering TIME-WAIT:
    // the block goes and a record keeps TIME-WAIT; nothing after it.
    net.stack.close(a).unwrap();
    let from = log.len();
    assert!(run_until(&mut net, 5 * SEC, &mut log, |_, l| l
        .last()
        .is_some_and(|e| e.what & FREED != 0)));
    let tail = &log[from..];
    let ok = |e: &Event| e.conn == a && e.error.is_none() && e.bytes_acked == acked;
    assert!(
        tail.iter()
            .all(|e| ok(e) && e.what & (ERROR | CONNECTED) == 0),
        "{tail:?}"
    );
    assert_eq!(
        (tail[0].what, tail[0].state),
        (STATE, State::FinWait1),
        "{tail:?}"
    );
    let closed: Vec<_> = tail.iter().filter(|e| e.what & CLOSED != 0).collect();
    assert_eq!(closed.len(), 1, "{tail:?}");
    assert_eq!(
        (closed[0], closed[0].state, closed[0].what & FREED),
        (tail.last().unwrap(), State::TimeWait, FREED)
    );
    assert_eq!(net.stack.state(a), None);
    assert_eq!(net.stack.stats().time_wait.held, 1, "the TIME-WAIT record");
    assert_eq!(net.stack.stats().conns_open, 0);
    assert_eq!(net.stack.send(a, b"x"), Err(IoError::NotConnected));
    assert!(net.peer.conns[&pa].fin);

    // abort(): CLOSED (the app's own doing, not ERROR) with TcpError::Aborted, and FREED at
    // once, in one event; the receiver gets RST.
    let b = net.stack.connect(DST, None).unwrap();
    let pb = net.stack.local_port(b).unwrap();
    let from = log.len();
    assert!(run_until(&mut net, SEC, &mut log, |_, l| l.len() > from));
    assert_eq!(log[from].what & !ACKED, CONNECTED | STATE);
    net.stack.send(b, &data[..8000]).unwrap();
    net.stack.abort(b).unwrap();
    let from = log.len();
    take_events(&mut net, &mut log);
    let e = *log.last().unwrap();
    assert_eq!((log.len() - from, e.conn), (1, b), "{:?}", &log[from..]);
    assert_eq!(e.what & (CLOSED | FREED | ERROR), CLOSED | FREED, "{e:?}");
    assert_eq!((e.state, e.error), (State::Closed, Some(TcpError::Aborted)));
    assert!(run_until(&mut net, SEC, &mut log, |n, _| n.peer.conns[&pb].rst));

    // A refused connection: ERROR (not CLOSED) with TcpError::Refused; its slot stays until
    // close(), which brings FREED.
    net.peer.refuse.push(40_000);
    let c = net.stack.connect(DST, Some(40_000)).unwrap();
    let from = log.len();
    assert!(run_until(&mut net, SEC, &mut log, |_, l| l.len() > from));
    let e = log[from];
    assert_eq!((log.len() - from, e.conn), (1, c));
    assert_eq!(
        e.what & (CLOSED | FREED | ERROR | CONNECTED),
        ERROR,
        "{e:?}"
    );
    assert_eq!((e.state, e.error), (State::Closed, Some(TcpError::Refused)));
    net.stack.close(c).unwrap();
    take_events(&mut net, &mut log);
    let e = *log.last().unwrap();
    assert_eq!((log.len() - from, e.conn, e.what), (2, c, FREED), "{e:?}");
    assert_eq!(net.stack.state(c), None);

    // A slot freed while its FREED event is still queued is not handed out before the next
    // poll: a connect in between gets another slot, so no id names two connections until
    // the app has taken the old one's FREED.
    let d = net.stack.connect(DST, None).unwrap();
    let from = log.len();
    assert!(run_until(&mut net, SEC, &mut log, |_, l| l.len() > from));
    net.stack.abort(d).unwrap();
    let d2 = net.stack.connect(DST, None).unwrap();
    assert_ne!(
        d2.index(),
        d.index(),
        "the freed slot waits for the next poll"
    );
    let from = log.len();
    assert!(run_until(&mut net, SEC, &mut log, |_, l| l[from..]
        .iter()
        .any(|e| e.conn == d2 && e.what & CONNECTED != 0)));
    let old: Vec<&Event> = log[from..].iter().filter(|e| e.conn == d).collect();
    assert_eq!(old.len(), 1, "{old:?}");
    assert_eq!(old[0].what & (CLOSED | FREED), CLOSED | FREED, "{old:?}");
    let new: Vec<&Event> = log[from..].iter().filter(|e| e.conn == d2).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let n = (new[0].what & !ACKED, new[0].error, new[0].bytes_acked);
    assert_eq!(n, (CONNECTED | STATE, None, 0), "{new:?}");
    assert_eq!(new[0].state, State::Established);
    // After that poll (and its events taken), the old slot is free again.
    let d3 = net.stack.connect(DST, None).unwrap();
    assert_eq!(
        d3.index(),
        d.index(),
        "the freed slot is reused after a poll"
    );
    assert_ne!(d3, d, "under a new generation");
    assert_eq!(net.stack.state(d), None, "the old id names nothing");
}

/// A connection's send buffer starts at 64 KiB (`SNDBUF_INIT`), whatever `sndbuf` allows, and
/// grows with the congestion window (to twice it, never shrinking) up to `sndbuf` during a
/// long clean transfer; with `sndbuf_auto` off it is `sndbuf` from the start.
#[test]
fn send_buffer_grows_lazily() {
    const LEN: usize = 16 << 20;
    let path = |seed| delayed(seed, 5 * MS);
    let cfg = many::stack_config();
    let max = cfg.tcp.sndbuf as usize;
    let mut net = Net::new(pool("many_sndbuf", 16_383), path(41), path(42), cfg.clone());
    let a = net.stack.connect(DST, None).unwrap();
    let fixed = linerate::TcpConfig {
        sndbuf_auto: false,
        ..cfg.tcp
    };
    let f = net.stack.connect_with(DST, None, fixed).unwrap();
    // (In SYN-SENT the SYN's sequence number counts as one byte queued.)
    assert!((SNDBUF_INIT - 1..=SNDBUF_INIT).contains(&net.stack.send_space(a)));
    assert!((max - 1..=max).contains(&net.stack.send_space(f)));
    let mut log = Vec::new();
    assert!(run_until(&mut net, SEC, &mut log, |_, l| l.len() == 2));
    assert_eq!(net.stack.send_space(a), SNDBUF_INIT);
    assert_eq!(net.stack.send_space(f), max);
    // The first write takes the initial buffer, its last segment filled (as Linux checks
    // the buffer per skb): whole segments, less than one over.
    let data = payload(3, LEN);
    let mss = net.stack.info(a).unwrap().mss as usize;
    let first = SNDBUF_INIT.div_ceil(mss) * mss;
    assert_eq!(net.stack.send(a, &data), Ok(first));
    assert_eq!(net.stack.send_space(a), 0);
    net.stack.abort(f).unwrap();

    let (mut sent, mut limit, mut writable) = (first, SNDBUF_INIT, false);
    let mut seen = log.len();
    let mut limits = vec![limit];
    let ok = run_until(&mut net, 60 * SEC, &mut log, |net, l| {
        writable |= l[seen..]
            .iter()
            .any(|e| e.conn == a && e.what & event::WRITABLE != 0);
        seen = l.len();
        let info = net.stack.info(a).unwrap();
        // The buffer: free space plus what is queued and not yet acknowledged (up to a
        // segment less one over it, when a write filled its last segment).
        let now = net.stack.send_space(a) + sent - info.counters.bytes_acked as usize;
        assert!(now + mss > limit, "the send buffer shrank: {now} < {limit}");
        assert!(
            now >= (2 * info.cwnd as usize).min(max),
            "{now} < 2 × cwnd: {info:?}"
        );
        assert!(now < max + mss, "{now} > sndbuf {max} and a segment");
        if now > limit {
            limits.push(now);
            limit = now;
        }
        if writable && sent < LEN {
            sent += net.stack.send(a, &data[sent..]).unwrap_or(0);
            writable = false;
        }
        info.counters.bytes_acked == LEN as u64
    });
    assert!(ok, "{sent} {:?}", net.stack.info(a));
    let rx = &net.peer.conns[&net.stack.local_port(a).unwrap()];
    assert_eq!((rx.bytes, rx.hash), (LEN as u64, fnv(FNV0, &data)));
    eprintln!(
        "send buffer: {} steps to {limit}; {:?}",
        limits.len(),
        net.stack.info(a)
    );
    assert!(limits.len() >= 4, "grew step by step: {limits:?}");
    assert!(limit >= 1 << 20, "grew with the window: {limits:?}");
}

/// A registered region holding `data` and an established connection to write it on, with
/// the events so far.
fn region_conn(net: &mut Net, data: &[u8]) -> (linerate::RegionId, ConnId, Vec<Event>) {
    let eal = common::eal(&[]);
    let mut region = linerate::dpdk::TxRegion::new(&eal, data.len(), None).expect("region");
    region.fill(|b| b.copy_from_slice(data));
    let r = net
        .stack
        .register_region(Arc::new(region))
        .expect("register");
    let a = net.stack.connect(DST, None).unwrap();
    let mut log = Vec::new();
    assert!(run_until(net, SEC, &mut log, |net, _| {
        net.stack.state(a) == Some(State::Established)
    }));
    (r, a, log)
}

/// Zero-copy writes that the send buffer cuts short take whole segments, as Linux checks the
/// buffer per skb: a short segment left at the end of a write would leave alone once the
/// data before it is acked, and every later segment would start off the region's grid of
/// precomputed checksums. Every byte still arrives in order.
#[test]
fn buffer_limited_region_writes_end_on_a_segment() {
    const LEN: usize = 4 << 20;
    let path = |seed| delayed(seed, 2 * MS);
    let mut net = Net::new(
        pool("many_fill", 8191),
        path(43),
        path(44),
        many::stack_config(),
    );
    let data = payload(5, LEN);
    let (r, a, mut log) = region_conn(&mut net, &data);
    let mss = net.stack.info(a).unwrap().mss as usize;
    assert_eq!(
        net.stack.send_region(a, r, 0, LEN),
        Ok(SNDBUF_INIT.div_ceil(mss) * mss),
        "the first write fills its last segment"
    );
    let (mut sent, mut cut) = (SNDBUF_INIT.div_ceil(mss) * mss, 1);
    let ok = run_until(&mut net, 30 * SEC, &mut log, |net, _| {
        if sent < LEN {
            if let Ok(n) = net.stack.send_region(a, r, sent, LEN - sent) {
                sent += n;
                if n > 0 && sent < LEN {
                    cut += 1;
                    assert_eq!(sent % mss, 0, "a cut write ended inside a segment");
                }
            }
        }
        net.stack.info(a).unwrap().counters.bytes_acked == LEN as u64
    });
    assert!(ok, "{sent} {:?}", net.stack.info(a));
    assert!(cut > 5, "the buffer cut {cut} writes");
    let rx = &net.peer.conns[&net.stack.local_port(a).unwrap()];
    assert_eq!((rx.bytes, rx.hash), (LEN as u64, fnv(FNV0, &data)));
}

/// A zero-copy write is cut into segments only as they may leave (`Tcb::pend`): right after
/// 1 MiB is written on a new connection (the buffer holds it all), the write queue holds
/// no more entries than the initial window sends, not the 725 segments of the write; every
/// byte still arrives, in order, with the FIN after it.
#[test]
fn zero_copy_writes_are_cut_into_segments_as_they_leave() {
    const LEN: usize = 1 << 20;
    let mut cfg = many::stack_config();
    cfg.tcp.sndbuf = 4 << 20;
    cfg.tcp.sndbuf_auto = false;
    let path = |seed| delayed(seed, 2 * MS);
    let mut net = Net::new(pool("many_pend", 8191), path(45), path(46), cfg);
    let data = payload(9, LEN);
    let (r, a, mut log) = region_conn(&mut net, &data);
    let before = net.stack.conn_memory().queues;
    assert_eq!(net.stack.send_region(a, r, 0, LEN), Ok(LEN));
    net.stack.flush();
    let queued = net.stack.conn_memory().queues - before;
    let info = net.stack.info(a).unwrap();
    assert_eq!(info.unsent_bytes as usize + info.in_flight as usize, LEN);
    // 48-byte entries, a power of two of them: 64 hold the initial window and then some.
    assert!(
        queued <= 64 * 48,
        "{queued} bytes of queue entries for {} bytes in flight",
        info.in_flight
    );
    let port = net.stack.local_port(a).unwrap();
    net.stack.close(a).unwrap();
    let ok = run_until(&mut net, 30 * SEC, &mut log, |net, _| {
        net.stack
            .info(a)
            .is_none_or(|i| i.counters.bytes_acked == LEN as u64)
    });
    assert!(ok, "{:?}", net.stack.info(a));
    let rx = &net.peer.conns[&port];
    assert_eq!((rx.bytes, rx.hash), (LEN as u64, fnv(FNV0, &data)));
}

/// On a path that neither loses nor reorders, RACK sees no reordering on any connection,
/// whatever its initial sequence number. (RACK.fack started at 0, so every connection
/// whose sequence numbers lay within 2³¹ below 0, half of them, took its first ACK for
/// reordering and kept its reordering window open for good.)
#[test]
fn a_clean_path_shows_no_reordering_on_any_connection() {
    const N: usize = 64;
    let clean = |seed| delayed(seed, MS);
    let mut net = Net::new(
        pool("many_reo", 4095),
        clean(47),
        clean(48),
        many::stack_config(),
    );
    let ids: Vec<ConnId> = (0..N)
        .map(|_| net.stack.connect(DST, None).unwrap())
        .collect();
    let data = payload(11, 16 << 10);
    let mut log = Vec::new();
    let mut sent = vec![0usize; N];
    let ok = run_until(&mut net, 10 * SEC, &mut log, |net, _| {
        for (i, &id) in ids.iter().enumerate() {
            if sent[i] < data.len() {
                if let Ok(n) = net.stack.send(id, &data[sent[i]..]) {
                    sent[i] += n;
                }
            }
        }
        ids.iter().all(|&id| {
            net.stack
                .info(id)
                .is_some_and(|i| i.counters.bytes_acked == data.len() as u64)
        })
    });
    assert!(ok, "every connection delivered its bytes");
    let seen: Vec<usize> = (0..N)
        .filter(|&i| net.stack.info(ids[i]).unwrap().reordering_seen)
        .collect();
    assert!(seen.is_empty(), "reordering on a clean path: {seen:?}");
}

/// Settings the stack cannot honour are refused at connect, one line naming the field,
/// and leave nothing behind (they panicked later: `min_rto > max_rto` in the RTO clamp).
#[test]
fn bad_tcp_config_is_refused_at_connect() {
    let cfg = many::stack_config();
    let mut net = Net::new(
        pool("many_badcfg", 1023),
        SimConfig::default(),
        SimConfig::default(),
        cfg.clone(),
    );
    let bad = [
        (linerate::TcpConfig { mss: 11, ..cfg.tcp }, "mss"),
        (
            linerate::TcpConfig {
                min_rto: 2 * SEC,
                max_rto: SEC,
                ..cfg.tcp
            },
            "max_rto",
        ),
        (
            linerate::TcpConfig {
                rcvbuf: 0,
                ..cfg.tcp
            },
            "rcvbuf",
        ),
    ];
    for (c, field) in bad {
        match net.stack.connect_with(DST, None, c) {
            Err(ConnectError::Config(e)) => {
                assert_eq!(e.field, field);
                assert!(e
                    .to_string()
                    .starts_with(&format!("TcpConfig::{field} is ")));
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(net.stack.stats().conns_open, 0, "nothing was opened");
    let a = net.stack.connect(DST, None).unwrap();
    let mut log = Vec::new();
    assert!(run_until(&mut net, SEC, &mut log, |net, _| {
        net.stack.state(a) == Some(State::Established)
    }));
}

/// Ephemeral ports are not guessable (RFC 6056 §3.3.3): each destination's ports start at
/// a hash of it under the stack's secret key, so the first ports to eight destinations are
/// scattered over the range (not 32768 upwards) and another stack picks others; the ports
/// to one destination still follow each other.
#[test]
fn ephemeral_ports_start_at_a_keyed_hash_of_the_destination() {
    let firsts = |name: &str| -> Vec<u16> {
        let mut net = Net::new(
            pool(name, 1023),
            SimConfig::default(),
            SimConfig::default(),
            many::stack_config(),
        );
        (0..8u16)
            .map(|k| {
                let dst = SocketAddrV4::new(PEER_IP, PORT + 100 + k);
                let a = net.stack.connect(dst, None).unwrap();
                let b = net.stack.connect(dst, None).unwrap();
                let (pa, pb) = (
                    net.stack.local_port(a).unwrap(),
                    net.stack.local_port(b).unwrap(),
                );
                let next = if pa == 60999 { PORT0 } else { pa + 1 };
                assert_eq!(
                    pb, next,
                    "the second port to a destination follows the first"
                );
                pa
            })
            .collect()
    };
    let one = firsts("many_ports_a");
    let mut distinct = one.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() >= 7, "scattered: {one:?}");
    assert!(
        one.windows(2).filter(|w| w[1] == w[0] + 2).count() < 7,
        "not handed out in sequence: {one:?}"
    );
    assert_ne!(one, firsts("many_ports_b"), "another key, other ports");
}

/// A device with a line rate (two frames a microsecond) and 1 000 connections that each queue
/// 32 KiB at once, unpaced: the backlog fills (`TX_BACKLOG`) and most connections stop with
/// data they may send. They wait on the stack's round-robin list and go again as the device drains; none
/// may be left behind. When the first connection has everything acknowledged, every other
/// must have had bytes acknowledged too.
#[test]
fn device_backlog_waiters_are_fair() {
    const N: usize = 1000;
    const LEN: usize = 32 << 10;
    let to_peer = SimConfig {
        seed: 51,
        delay: MS,
        ..Default::default()
    };
    let to_stack = SimConfig {
        seed: 52,
        delay: MS,
        ..Default::default()
    };
    let mut cfg = many::stack_config();
    cfg.tcp.pacing = false; // each window leaves at once
    let pool = pool("many_backlog", 32_767);
    // Two frames a microsecond (about 24 Gbit/s of full frames).
    let mut net = Net::with_device(pool, to_peer, to_stack, cfg, |d| LineRate::new(d, 2));
    let base = payload(6, PORTS * 13 + LEN);
    let ids: Vec<ConnId> = (0..N)
        .map(|_| net.stack.connect(DST, None).unwrap())
        .collect();
    assert!(ids.iter().enumerate().all(|(i, &id)| id.index() == i));
    let ports: Vec<u16> = ids
        .iter()
        .map(|&id| net.stack.local_port(id).unwrap())
        .collect();
    let (mut acked, mut freed, mut max_backlog) = (vec![0u64; N], 0, 0);
    let mut first_done: Option<Vec<u64>> = None;
    let (mut log, mut seen) = (Vec::new(), 0);
    let ok = run_until(&mut net, 60 * SEC, &mut log, |net, l| {
        for e in &l[seen..] {
            let i = e.conn.index();
            assert_eq!(e.what & event::ERROR, 0, "{e:?}");
            acked[i] = e.bytes_acked;
            if e.what & event::CONNECTED != 0 {
                // The whole 32 KiB fits the initial send buffer: one write, then FIN.
                let n = net
                    .stack
                    .send(e.conn, data_of(&base, ports[i], LEN))
                    .unwrap();
                assert_eq!(n, LEN);
                net.stack.close(e.conn).unwrap();
            }
            freed += (e.what & event::FREED != 0) as usize;
        }
        seen = l.len();
        net.stack.flush();
        max_backlog = max_backlog.max(net.stack.tx_backlog());
        if first_done.is_none() && acked.contains(&(LEN as u64)) {
            first_done = Some(acked.clone());
        }
        freed == N
    });
    assert!(ok, "{freed} of {N} freed");
    let snap = first_done.unwrap();
    let min = *snap.iter().min().unwrap();
    let idle = snap.iter().filter(|&&a| a == 0).count();
    let mean = snap.iter().sum::<u64>() / N as u64;
    let dev = net.stack.dev_stats();
    eprintln!("backlog max {max_backlog}; at the first finish: acked min {min} mean {mean}");
    assert!(
        max_backlog >= TX_BACKLOG - linerate::dpdk::MAX_BURST,
        "the device backlog filled: {max_backlog}"
    );
    assert!(dev.tx_partial > 0, "{dev:?}");
    assert_eq!(idle, 0, "connections left behind by the device wait list");
    // Round robin: by then every connection is well on its way, not just started.
    assert!(min * 2 >= LEN as u64, "min {min} mean {mean}");
    for (i, &port) in ports.iter().enumerate() {
        let rx = &net.peer.conns[&port];
        let want = fnv(FNV0, data_of(&base, port, LEN));
        assert_eq!(
            (rx.bytes, rx.hash, rx.fin),
            (LEN as u64, want, true),
            "connection {i}"
        );
    }
}
