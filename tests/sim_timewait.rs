//! TIME-WAIT records (`stack/src/tcp/timewait.rs`) against the simulated wire: a closed
//! connection in TIME-WAIT leaves a record that ACKs a retransmitted FIN and restarts
//! TIME-WAIT, ignores RSTs (RFC 1337), stays silent to bare ACKs, ACKs data and SYNs, gives
//! way when `max_time_wait` is reached, and is counted in `conn_memory`. The SACK receiver
//! (`linerate_sim::sackpeer`) closes each connection; the tests tap both directions of a
//! clean wire, drop one chosen frame, and inject raw frames of their own. Virtual time only.
mod common;

use linerate::event::{Event, FREED};
use linerate::{ConnId, ConnectError, Nanos, State, MS, SEC};
use linerate_proto::wire::ethernet::{EtherType, EthernetFrame};
use linerate_proto::wire::ipv4::{Ipv4Packet, Protocol};
use linerate_proto::wire::tcp::flags::{ACK, FIN, PSH, RST, SYN};
use linerate_proto::wire::tcp::{OptionWriter, TcpOptions, TcpPacket};
use linerate_sim::harness::{payload, PEER_IP, PORT, STACK_IP};
use linerate_sim::sackpeer::{stack_config, SackPeer, SackSim};
use linerate_sim::{Dir, SimConfig, SimPeer};
use std::net::SocketAddrV4;

const DST: SocketAddrV4 = SocketAddrV4::new(PEER_IP, PORT);
/// The first port of the narrowed ephemeral range.
const PORT0: u16 = 41_000;
/// TIME-WAIT in these tests: long against the receiver's 200 ms FIN retransmission.
const TW: Nanos = SEC;
/// Slack for the timer wheel (1 ms ticks) to end a record once it is due.
const WHEEL_SLACK: Nanos = 3 * MS;

/// One TCP segment on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seg {
    /// When it arrived (for a segment to the stack: the poll that read it).
    at: Nanos,
    src_port: u16,
    dst_port: u16,
    flags: u8,
    seq: u32,
    ack: u32,
    len: u32,
    window: u16,
    ts: Option<(u32, u32)>, // (TSval, TSecr)
}

impl Seg {
    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// The sequence number just past it (payload, SYN and FIN).
    fn end(&self) -> u32 {
        self.seq
            .wrapping_add(self.len)
            .wrapping_add(self.has(SYN) as u32 + self.has(FIN) as u32)
    }

    fn pure_ack(&self) -> bool {
        self.flags == ACK && self.len == 0
    }
}

fn parse(f: &[u8], at: Nanos) -> Option<Seg> {
    let eth = EthernetFrame::new_checked(f).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok();
    let ip =
        ip.filter(|ip| eth.ethertype() == EtherType::IPV4 && ip.protocol() == Protocol::TCP)?;
    let t = TcpPacket::new_checked(ip.payload()).ok()?;
    assert!(t.verify_checksum(ip.src(), ip.dst()), "TCP checksum");
    let opts = TcpOptions::parse(t.options()).expect("TCP options parse");
    Some(Seg {
        at,
        src_port: t.src_port(),
        dst_port: t.dst_port(),
        flags: t.flags(),
        seq: t.seq_number(),
        ack: t.ack_number(),
        len: t.payload().len() as u32,
        window: t.window_len(),
        ts: opts.timestamps,
    })
}

/// A frame from the receiver's address and port to the stack's `port`.
fn frame(port: u16, fl: u8, seq: u32, ack: u32, ts: Option<(u32, u32)>, data: &[u8]) -> Vec<u8> {
    let mut opts = [0u8; 12];
    let optlen = match ts {
        Some((v, e)) => OptionWriter::new(&mut opts)
            .nop()
            .and_then(|w| w.nop())
            .and_then(|w| w.timestamps(v, e))
            .expect("room for timestamps")
            .finish(),
        None => 0,
    };
    let tcp_len = 20 + optlen + data.len();
    let mut f = vec![0u8; 14 + 20 + tcp_len];
    linerate_sim::harness::peer_to_stack_headers(&mut f, tcp_len);
    let mut t = TcpPacket::new_unchecked(&mut f[34..]);
    t.set_src_port(PORT);
    t.set_dst_port(port);
    t.set_seq_number(seq);
    t.set_ack_number(ack);
    t.set_header_len(20 + optlen);
    t.set_flags(fl);
    t.set_window_len(1000);
    t.options_mut().copy_from_slice(&opts[..optlen]);
    t.payload_mut().copy_from_slice(data);
    t.fill_checksum(PEER_IP, STACK_IP);
    f
}

/// The stack and a receiver on a clean wire, both directions tapped.
struct Tw {
    sim: SackSim,
    /// Stack → receiver, as they arrived.
    out: Vec<Seg>,
    /// Receiver (or the test) → stack, as the stack read them.
    inp: Vec<Seg>,
    events: Vec<Event>,
    /// Drop the stack's next pure ACK of the receiver's FIN (our last ACK lost) ...
    drop_fin_ack: bool,
    /// ... which went here.
    dropped: Option<Seg>,
}

/// What `close_one` learnt about a connection that entered TIME-WAIT.
#[derive(Debug, Clone, Copy)]
struct Closed {
    port: u16,
    /// The poll that took the receiver's FIN (and freed the id).
    tw_at: Nanos,
    /// Our snd_nxt: just past our FIN.
    snd_nxt: u32,
    /// Our rcv_nxt: just past the receiver's FIN.
    rcv_nxt: u32,
    /// The receiver's FIN.
    fin: Seg,
    /// The state the FREED event gave: TIME-WAIT (a record took over), or CLOSED (the
    /// records' table was full).
    freed_in: State,
}

impl Tw {
    fn new(name: &str, timestamps: bool, max_time_wait: usize) -> Tw {
        let eal = common::eal(&[]);
        let pool = common::pool(&eal, name, 4095);
        let mut cfg = stack_config();
        cfg.tcp.time_wait = TW;
        cfg.tcp.timestamps = timestamps;
        cfg.ephemeral = (PORT0, PORT0 + 7);
        cfg.max_time_wait = max_time_wait;
        let sim = SackSim::with_config(pool, SimConfig::clean(1), SimConfig::clean(2), cfg);
        Tw {
            sim,
            out: Vec::new(),
            inp: Vec::new(),
            events: Vec::new(),
            drop_fin_ack: false,
            dropped: None,
        }
    }

    /// Arrivals, the stack, the taps (and the one drop), the receiver, at the current time.
    fn tick(&mut self) {
        let now = self.sim.now;
        let wire = self.sim.wire.clone();
        wire.borrow_mut().deliver_due(now);
        {
            let w = wire.borrow();
            let n = w.pending(Dir::ToStack);
            let segs = w.frames(Dir::ToStack).take(n);
            self.inp.extend(segs.filter_map(|f| parse(f, now)));
        }
        self.sim.stack.poll(now);
        let mut evs = [Event::EMPTY; 64];
        loop {
            let n = self.sim.stack.events(&mut evs);
            self.events.extend_from_slice(&evs[..n]);
            if n < evs.len() {
                break;
            }
        }
        let mut w = wire.borrow_mut();
        // The wire drops no chosen frame itself: take it off the front of the arrived ones
        // before the receiver reads them (on a clean wire it arrives alone).
        if self.drop_fin_ack {
            let fin = self.inp.iter().rev().find(|s| s.has(FIN)).copied();
            let front = w.frames(Dir::ToPeer).next().and_then(|f| parse(f, now));
            if let (Some(fin), Some(s), true) = (fin, front, w.pending(Dir::ToPeer) > 0) {
                if s.pure_ack() && s.ack == fin.end() {
                    w.recv(Dir::ToPeer);
                    self.dropped = Some(s);
                    self.drop_fin_ack = false;
                }
            }
        }
        let n = w.pending(Dir::ToPeer);
        let segs = w.frames(Dir::ToPeer).take(n);
        self.out.extend(segs.filter_map(|f| parse(f, now)));
        drop(w);
        self.sim.peer.poll(now);
    }

    /// Runs (steps of at most 1 ms) up to a last tick at exactly `t`.
    fn run_to(&mut self, t: Nanos) {
        loop {
            self.tick();
            if self.sim.now >= t {
                return;
            }
            self.sim.advance();
            self.sim.now = self.sim.now.min(t);
        }
    }

    /// `connect` (from `port`, or an ephemeral one), with a fresh receiver.
    fn connect(&mut self, port: Option<u16>) -> Result<ConnId, ConnectError> {
        let r = self.sim.stack.connect(DST, port);
        if r.is_ok() {
            self.sim.peer = SackPeer::new(SimPeer::new(self.sim.wire.clone()));
        }
        r
    }

    /// Opens a connection (from `port`, or an ephemeral one), sends `len` bytes, closes, and
    /// runs until the id is freed in TIME-WAIT and the receiver has closed (or, when our last
    /// ACK is to be lost, it was).
    fn close_one(&mut self, port: Option<u16>, len: usize) -> Closed {
        let id = self.connect(port).expect("connect");
        let port = self.sim.stack.local_port(id).unwrap();
        let data = payload(port as u64, len);
        let (mut off, mut closed, mut tw_at, mut freed_in) = (0, false, None, State::Closed);
        let end = self.sim.now + 10 * SEC;
        self.events.clear();
        while self.sim.now < end {
            self.tick();
            if let Some(i) = self.sim.stack.info(id) {
                assert_eq!(i.error, None, "{i:?}");
            }
            let freed = self
                .events
                .iter()
                .find(|e| e.conn == id && e.what & FREED != 0);
            if let (None, Some(e)) = (tw_at, freed) {
                assert!(matches!(e.state, State::TimeWait | State::Closed), "{e:?}");
                freed_in = e.state;
                assert_eq!(self.sim.stack.state(id), None, "the id is freed");
                tw_at = Some(self.sim.now);
            }
            if tw_at.is_some() && (self.sim.peer.closed || self.dropped.is_some()) {
                break;
            }
            common::app::write_then_close(&mut self.sim.stack, id, &data, &mut off, &mut closed)
                .expect("send and close");
            self.sim.stack.flush();
            self.sim.advance();
        }
        let tw_at = tw_at.expect("the connection reached TIME-WAIT");
        assert_eq!(self.sim.peer.data, data, "the receiver got every byte");
        let fin_of = |segs: &[Seg], p: fn(&Seg) -> u16| {
            *segs.iter().find(|s| p(s) == port && s.has(FIN)).unwrap()
        };
        let our_fin = fin_of(&self.out, |s| s.src_port);
        let fin = fin_of(&self.inp, |s| s.dst_port);
        Closed {
            port,
            tw_at,
            snd_nxt: our_fin.end(),
            rcv_nxt: fin.end(),
            fin,
            freed_in,
        }
    }

    /// Puts a frame on the wire towards the stack and runs 5 ms; returns what the stack
    /// sent to `port` meanwhile.
    fn inject(&mut self, port: u16, fl: u8, seq: u32, ack: u32, ts: bool, data: &[u8]) -> Vec<Seg> {
        let tsval = (self.sim.now / MS) as u32;
        let f = frame(port, fl, seq, ack, ts.then_some((tsval, 1)), data);
        self.inject_frame(port, &f)
    }

    fn inject_frame(&mut self, port: u16, f: &[u8]) -> Vec<Seg> {
        let from = self.out.len();
        self.sim.wire.borrow_mut().send(Dir::ToStack, f);
        self.run_to(self.sim.now + 5 * MS);
        let ours = self.out[from..].iter().filter(|s| s.src_port == port);
        ours.copied().collect()
    }

    fn in_tw(&self, port: u16) -> bool {
        let local = SocketAddrV4::new(STACK_IP, port);
        self.sim.stack.in_time_wait(local, DST)
    }

    /// `StackStats::time_wait`: (held, reused, overflow, segs_in, acks, rst_ignored).
    fn tws(&self) -> (usize, u64, u64, u64, u64, u64) {
        let s = self.sim.stack.stats().time_wait;
        (
            s.held,
            s.reused,
            s.overflow,
            s.segs_in,
            s.acks,
            s.rst_ignored,
        )
    }

    fn rsts(&self) -> usize {
        self.out.iter().filter(|s| s.has(RST)).count()
    }
}

/// The one ACK a record sent: our snd_nxt, the receiver's FIN + 1; timestamps exactly when
/// negotiated, echoing `tsecr` when given.
fn assert_record_ack(back: &[Seg], c: &Closed, ts: bool, tsecr: Option<u32>, what: &str) {
    assert_eq!(back.len(), 1, "{what}: one ACK back: {back:?}");
    let a = back[0];
    assert!(a.pure_ack(), "{what}: {a:?}");
    assert_eq!((a.seq, a.ack), (c.snd_nxt, c.rcv_nxt), "{what}: numbers");
    assert_eq!(a.ts.is_some(), ts, "{what}: timestamps iff negotiated");
    if let (Some(want), Some((_, got))) = (tsecr, a.ts) {
        assert_eq!(got, want, "{what}: TSecr");
    }
}

/// Our last ACK is lost; the receiver retransmits its FIN 200 ms later, to the record (the
/// id is long freed). The record sends the ACK the connection would have (the lost one's
/// numbers and window, its clock moved on, TSecr = the new FIN's TSval), counts it, and
/// restarts TIME-WAIT. Catches: a retransmitted FIN dropped or answered with wrong numbers
/// (the receiver never closes), missing timestamps or a stale TSecr (its PAWS would drop
/// the ACK), a wrong `ts_offset`, a record that keeps its first end (gone at it), and a
/// restart whose timer never re-arms (the record is never freed).
#[test]
fn retransmitted_fin_is_acked_and_restarts_time_wait() {
    let mut tw = Tw::new("tw_fin_again", true, 16);
    tw.drop_fin_ack = true;
    let c = tw.close_one(None, 20_000);
    let lost = tw.dropped.expect("our last ACK was dropped");
    assert_eq!((lost.seq, lost.ack), (c.snd_nxt, c.rcv_nxt), "{lost:?}");
    assert!(!tw.sim.peer.closed && tw.in_tw(c.port));
    assert_eq!(tw.tws(), (1, 0, 0, 0, 0, 0));

    let from = tw.out.len();
    tw.run_to(c.tw_at + 500 * MS);
    assert!(tw.sim.peer.closed, "the record's ACK closed the receiver");
    let fins: Vec<&Seg> = tw.inp.iter().filter(|s| s.has(FIN)).collect();
    assert_eq!(fins.len(), 2, "one FIN retransmission: {fins:?}");
    let again = *fins[1];
    assert_eq!(again.seq, c.fin.seq);
    assert!(again.at >= c.fin.at + 200 * MS, "{again:?}");
    let back = &tw.out[from..];
    let fin_ts = again.ts.expect("the receiver echoes timestamps").0;
    assert_record_ack(back, &c, true, Some(fin_ts), "FIN again");
    let ms = (again.at / MS - c.tw_at / MS) as u32;
    let tsval = back[0].ts.unwrap().0;
    assert_eq!(tsval.wrapping_sub(lost.ts.unwrap().0), ms, "our TS clock");
    assert_eq!(back[0].window, lost.window, "the connection's window");
    assert_eq!(tw.tws(), (1, 0, 0, 1, 1, 0));

    // TIME-WAIT now ends TW after the retransmitted FIN, not after the first one.
    let restarted = again.at + TW;
    tw.run_to(c.tw_at + TW + WHEEL_SLACK);
    assert!(tw.in_tw(c.port), "held past its first end");
    tw.run_to(restarted - MS);
    assert!(tw.in_tw(c.port), "held until the restarted end");
    tw.run_to(restarted + WHEEL_SLACK);
    assert!(!tw.in_tw(c.port), "gone after the restarted end");
    assert_eq!(tw.tws(), (0, 0, 0, 1, 1, 0));
    assert_eq!(tw.rsts(), 0);
}

/// RFC 1337: RSTs to a TIME-WAIT tuple, in sequence or not, with ACK or without, are
/// ignored: nothing goes back, `rst_ignored` counts each, and the record stays to its end
/// and still answers. Catches TIME-WAIT assassination (an RST ending the record or moving
/// its end earlier), and answering an RST (with an ACK, or with the no-connection RST).
#[test]
fn rst_is_ignored() {
    let mut tw = Tw::new("tw_rst", true, 16);
    let c = tw.close_one(None, 5_000);
    assert!(tw.sim.peer.closed);
    let (p, rcv, snd) = (c.port, c.rcv_nxt, c.snd_nxt);
    let cases = [
        ("in sequence", RST, rcv, 0, true),
        ("RST+ACK", RST | ACK, rcv, snd, true),
        ("out of window", RST, rcv.wrapping_add(100_000), 0, true),
        ("old", RST, c.fin.seq, 0, true),
        ("no timestamps", RST, rcv, 0, false),
    ];
    for (i, &(what, fl, seq, ack, ts)) in cases.iter().enumerate() {
        let back = tw.inject(p, fl, seq, ack, ts, &[]);
        assert_eq!(back, vec![], "{what}: nothing answers an RST");
        assert!(tw.in_tw(p), "{what}: the record stays");
        let n = i as u64 + 1;
        assert_eq!(tw.tws(), (1, 0, 0, n, 0, n), "{what}");
    }
    tw.run_to(c.tw_at + TW - MS);
    assert!(tw.in_tw(p), "held to its end");
    let back = tw.inject(p, ACK, rcv, snd, true, b"still there?");
    let fin_ts = c.fin.ts.map(|t| t.0);
    assert_record_ack(&back, &c, true, fin_ts, "data after the RSTs");
    assert_eq!(tw.sim.stack.stats().drops.rst_sent, 0);
    assert_eq!(tw.rsts(), 0);
}

/// A bare ACK to a record gets nothing (two ends must not ACK each other forever); data, a
/// SYN, and with timestamps a bare ACK that PAWS rejects, get an ACK that shows where we
/// are. Catches: a record that ACKs bare ACKs, one silent to data or SYN, and timestamps in
/// its ACK when none were negotiated (or none when they were).
fn bare_ack_silent_data_and_syn_acked(ts: bool, name: &str) {
    let mut tw = Tw::new(name, ts, 16);
    let c = tw.close_one(None, 3_000);
    assert!(tw.sim.peer.closed);
    let (p, rcv, snd) = (c.port, c.rcv_nxt, c.snd_nxt);
    let fin_ts = c.fin.ts.map(|t| t.0);
    assert_eq!(fin_ts.is_some(), ts);

    let back = tw.inject(p, ACK, rcv, snd, ts, &[]);
    assert_eq!(back, vec![], "a bare ACK gets nothing");
    assert_eq!(tw.tws(), (1, 0, 0, 1, 0, 0));
    let back = tw.inject(p, ACK | PSH, rcv, snd, ts, b"late data");
    assert_record_ack(&back, &c, ts, fin_ts, "data");
    let back = tw.inject(p, SYN, 0x1234_5678, 0, ts, &[]);
    assert_record_ack(&back, &c, ts, fin_ts, "SYN");
    assert_eq!(tw.tws(), (1, 0, 0, 3, 2, 0));
    if ts {
        let old = fin_ts.unwrap().wrapping_sub(1000);
        let back = tw.inject_frame(p, &frame(p, ACK, rcv, snd, Some((old, 1)), &[]));
        assert_record_ack(&back, &c, ts, None, "bare ACK with an old TSval");
        assert_ne!(
            back[0].ts.unwrap().1,
            old,
            "a PAWS-rejected TSval is not echoed"
        );
        assert_eq!(tw.tws(), (1, 0, 0, 4, 3, 0));
    }
    assert!(tw.in_tw(p));
    assert_eq!(tw.rsts(), 0);
}

#[test]
fn bare_ack_silent_data_and_syn_acked_with_timestamps() {
    bare_ack_silent_data_and_syn_acked(true, "tw_answers_ts");
}

#[test]
fn bare_ack_silent_data_and_syn_acked_without_timestamps() {
    bare_ack_silent_data_and_syn_acked(false, "tw_answers_nots");
}

/// `max_time_wait = 1`: A keeps the one record; B, closed next, skips TIME-WAIT (overflow):
/// its retransmitted FIN finds no record (RST), and `connect` may take its tuple at once,
/// while A's (too young for reuse) stays taken. Catches: a limit not enforced (two records),
/// overflow not counted, and an overflowed connection whose tuple stays taken.
#[test]
fn overflow_skips_time_wait_and_frees_the_tuple() {
    let mut tw = Tw::new("tw_overflow", true, 1);
    let a = tw.close_one(None, 4_000);
    assert_eq!(tw.tws(), (1, 0, 0, 0, 0, 0));
    let b = tw.close_one(None, 4_000);
    assert_ne!(a.port, b.port);
    assert_eq!(tw.tws(), (1, 0, 1, 0, 0, 0), "B overflowed");
    assert_eq!((a.freed_in, b.freed_in), (State::TimeWait, State::Closed));
    assert!(tw.in_tw(a.port) && !tw.in_tw(b.port));
    assert_eq!(tw.sim.stack.stats().conns_open, 0, "B's block is gone too");

    let back = tw.inject(b.port, FIN | ACK, b.fin.seq, b.snd_nxt, true, &[]);
    assert!(
        back.len() == 1 && back[0].has(RST),
        "no record for B: {back:?}"
    );
    assert_eq!(tw.tws(), (1, 0, 1, 0, 0, 0), "B's FIN reached no record");

    assert_eq!(tw.connect(Some(a.port)), Err(ConnectError::AddrInUse));
    let c = tw.close_one(Some(b.port), 4_000);
    assert_eq!(c.port, b.port, "B's tuple, taken at once");
    assert_eq!(tw.tws(), (1, 0, 2, 0, 0, 0), "A's record still fills it");
    assert!(tw.in_tw(a.port));
}

/// `conn_memory().time_wait` counts the records while they are held (in `total` too).
/// Catches a table whose memory is not reported.
#[test]
fn records_are_counted_in_conn_memory() {
    let mut tw = Tw::new("tw_memory", true, 16);
    let m0 = tw.sim.stack.conn_memory();
    for _ in 0..3 {
        tw.close_one(None, 2_000);
    }
    assert_eq!(tw.tws().0, 3);
    let m = tw.sim.stack.conn_memory();
    // A record (56 bytes) plus its index entry: over 64 bytes each.
    assert!(m.time_wait >= 3 * 64, "{m:?}");
    assert!(m.time_wait > m0.time_wait, "{m0:?} -> {m:?}");
    let rest = m.table + m.index + m.wheel + m.events + m.queues;
    assert_eq!(m.total(), rest + m.time_wait);
}
