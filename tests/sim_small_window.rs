//! Receivers that are stingy or hostile with their window (issue 14), on the simulated wire
//! with real mbufs and a virtual clock. The receiver here is written for these tests: it
//! offers the window a test asks for (its buffer less what its app has not read), answers a
//! probe with that window, and checks every data segment against the window it offered.
//! Proves that:
//!
//! - a receiver that never offers a full segment's window (500 bytes against an MSS of
//!   1460), or has a tiny MSS and a window smaller still, gets its data byte-exact, every
//!   segment cut to fit the window (sender-side silly-window avoidance as Linux does it:
//!   segments bounded by the largest window the peer offered), copied or zero-copy;
//! - a window smaller than even a minimum-sized segment still moves: the persist timer's
//!   probe carries what fits, cutting a queued segment of either kind;
//! - a receiver that closes its window and vanishes is given up on: the unanswered probes
//!   end the connection `TimedOut` within the bound its retries set, and its mbufs go back;
//! - a receiver that holds its window shut for ten minutes answering every probe is kept,
//!   and the part of its window smaller than a segment was filled first (the probe carried
//!   it); once it reads, the transfer completes byte-exact.
mod common;

use linerate::dpdk::{Mempool, TxRegion};
use linerate::{ConnId, IoError, Nanos, RegionId, Stack, State, TcpError, TcpInfo, MS, SEC};
use linerate_proto::seq::seq_gt;
use linerate_proto::wire::checksum;
use linerate_proto::wire::ethernet::{EtherType, EthernetFrame};
use linerate_proto::wire::ipv4::{Ipv4Packet, Protocol};
use linerate_proto::wire::tcp::{flags, OptionWriter, TcpPacket};
use linerate_sim::harness::{payload, peer_to_stack_headers, sha256, PEER_IP, PORT, STACK_IP};
use linerate_sim::sackpeer::stack_config;
use linerate_sim::{SimConfig, SimDevice, SimPeer, SimWire};
use std::cell::RefCell;
use std::net::SocketAddrV4;
use std::rc::Rc;
use std::sync::Arc;

/// The receiver's initial sequence number.
const ISS: u32 = 0x4000_0000;

/// A plain TCP receiver (no options but MSS, so no window scaling) with a small buffer.
struct Receiver {
    end: SimPeer,
    /// The MSS its SYN-ACK announces.
    mss: u16,
    /// Its buffer: the window offered is what of it the app has not left unread.
    buf: u32,
    /// The app reads all that arrives at once (else the buffer fills and the window closes).
    reading: bool,
    /// Vanished: drops whatever arrives and sends nothing.
    gone: bool,
    port: u16,
    irs: u32,
    synced: bool,
    /// The bytes received in order.
    data: Vec<u8>,
    unread: u32,
    fin_in: bool,
    fin_out: bool,
    /// Our FIN is acknowledged.
    closed: bool,
    /// The right edge of the window last offered (sequence space).
    edge: u32,
    /// Data segments that went past the window offered, and the largest payload seen.
    over_edge: u32,
    max_seg: u32,
    /// Segments below the window (the sender's zero-window probes) answered.
    probes_answered: u32,
    frame: Vec<u8>,
}

impl Receiver {
    fn new(end: SimPeer, mss: u16, buf: u32, reading: bool) -> Self {
        Receiver {
            end,
            mss,
            buf,
            reading,
            gone: false,
            port: 0,
            irs: 0,
            synced: false,
            data: Vec::new(),
            unread: 0,
            fin_in: false,
            fin_out: false,
            closed: false,
            edge: 0,
            over_edge: 0,
            max_seg: 0,
            probes_answered: 0,
            frame: Vec::new(),
        }
    }

    fn rcv_nxt(&self) -> u32 {
        self.irs
            .wrapping_add(1 + self.data.len() as u32 + self.fin_in as u32)
    }

    fn wnd(&self) -> u32 {
        self.buf - self.unread
    }

    fn poll(&mut self) {
        let mut f = std::mem::take(&mut self.frame);
        while self.end.recv_into(&mut f) {
            if !self.gone {
                self.input(&f);
            }
        }
        self.frame = f;
    }

    /// The app reads what is waiting, and from now on all that arrives: a window update.
    fn read_all(&mut self) {
        self.reading = true;
        self.unread = 0;
        self.emit(flags::ACK);
    }

    fn input(&mut self, f: &[u8]) {
        let Ok(eth) = EthernetFrame::new_checked(f) else {
            return;
        };
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
            return;
        };
        if eth.ethertype() != EtherType::IPV4 || ip.protocol() != Protocol::TCP {
            return;
        }
        let Ok(t) = TcpPacket::new_checked(ip.payload()) else {
            return;
        };
        let (fl, seq) = (t.flags(), t.seq_number());
        if t.dst_port() != PORT || fl & flags::RST != 0 {
            return;
        }
        if fl & flags::SYN != 0 {
            (self.port, self.irs, self.synced) = (t.src_port(), seq, true);
            self.emit(flags::SYN | flags::ACK);
            return;
        }
        if !self.synced {
            return;
        }
        if self.fin_out && t.ack_number() == ISS.wrapping_add(2) {
            self.closed = true;
        }
        let (p, fin, nxt) = (t.payload(), fl & flags::FIN != 0, self.rcv_nxt());
        if p.is_empty() && !fin {
            if seq != nxt {
                // Below the window: a probe, answered with the window as it is.
                self.probes_answered += 1;
                self.emit(flags::ACK);
            }
            return;
        }
        if !p.is_empty() {
            self.max_seg = self.max_seg.max(p.len() as u32);
            if seq_gt(seq.wrapping_add(p.len() as u32), self.edge) {
                self.over_edge += 1;
            }
        }
        // In order or overlapping the left edge: take what the buffer has room for.
        let skip = nxt.wrapping_sub(seq) as usize;
        if !self.fin_in && skip <= p.len() {
            let take = (p.len() - skip).min(self.wnd() as usize);
            self.data.extend_from_slice(&p[skip..skip + take]);
            if !self.reading {
                self.unread += take as u32;
            }
            self.fin_in = fin && skip + take == p.len();
        }
        self.emit(flags::ACK);
        if self.fin_in && !self.fin_out {
            self.fin_out = true;
            self.emit(flags::FIN | flags::ACK);
        }
    }

    fn emit(&mut self, fl: u8) {
        let mut opts = [0u8; 40];
        let optlen = if fl & flags::SYN != 0 {
            let mut w = OptionWriter::new(&mut opts);
            w.syn(self.mss, false, None, None).unwrap();
            w.finish()
        } else {
            0
        };
        let seq = if fl & flags::SYN != 0 {
            ISS
        } else if self.fin_out && fl & flags::FIN == 0 {
            ISS.wrapping_add(2)
        } else {
            ISS.wrapping_add(1)
        };
        let (ack, wnd) = (self.rcv_nxt(), self.wnd().min(0xffff));
        self.edge = ack.wrapping_add(wnd);
        let tcp_len = 20 + optlen;
        let mut f = vec![0u8; 34 + tcp_len];
        peer_to_stack_headers(&mut f, tcp_len);
        let t = &mut f[34..];
        t[0..2].copy_from_slice(&PORT.to_be_bytes());
        t[2..4].copy_from_slice(&self.port.to_be_bytes());
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[8..12].copy_from_slice(&ack.to_be_bytes());
        t[12] = ((tcp_len / 4) as u8) << 4;
        t[13] = fl;
        t[14..16].copy_from_slice(&(wnd as u16).to_be_bytes());
        t[20..].copy_from_slice(&opts[..optlen]);
        let ph = checksum::pseudo_header_v4(PEER_IP, STACK_IP, Protocol::TCP, tcp_len as u16);
        let c = checksum::fold(checksum::sum(t, ph));
        t[16..18].copy_from_slice(&c.to_be_bytes());
        self.end.send(&f);
    }
}

/// Our stack, one connection to the receiver, and the app's progress through `data`.
struct Run {
    wire: Rc<RefCell<SimWire>>,
    stack: Stack<SimDevice>,
    rx: Receiver,
    pool: Arc<Mempool>,
    base: u32,
    now: Nanos,
    id: ConnId,
    data: Vec<u8>,
    /// `data` in a registered region, when the app sends with zero copy.
    region: Option<RegionId>,
    off: usize,
    closed: bool,
}

impl Run {
    /// Connects to a receiver announcing `mss` with a buffer of `buf`, to send `len` bytes
    /// (zero copy when `zc`), with `retries` for the connection.
    fn new(
        name: &str,
        (mss, buf, reading): (u16, u32, bool),
        len: usize,
        zc: bool,
        retries: u8,
    ) -> Run {
        let eal = common::eal(&[]);
        let pool = common::pool(&eal, name, 4095);
        let base = pool.in_use();
        let now = SEC;
        let clean = SimConfig::clean(7);
        let (wire, dev, end) =
            SimWire::pair(clean, clean, pool.clone(), linerate_sim::harness::STACK_MAC);
        wire.borrow_mut().set_now(now);
        let mut cfg = stack_config();
        cfg.tcp.retries = retries;
        let mut stack = Stack::new(dev, pool.clone(), cfg, now);
        let data = payload(buf as u64 ^ len as u64, len);
        let region = zc.then(|| {
            let mut r = TxRegion::new(&eal, len, None).expect("TX region");
            r.fill(|b| b[..len].copy_from_slice(&data));
            stack.register_region(Arc::new(r)).expect("register")
        });
        let id = stack
            .connect(SocketAddrV4::new(PEER_IP, PORT), None)
            .expect("connect");
        let mut run = Run {
            wire,
            stack,
            rx: Receiver::new(end, mss, buf, reading),
            pool,
            base,
            now,
            id,
            data,
            region,
            off: 0,
            closed: false,
        };
        assert!(run.run_until(SEC, |r| r.stack.state(r.id) == Some(State::Established)));
        run
    }

    fn info(&self) -> TcpInfo {
        self.stack.info(self.id).expect("connection")
    }

    /// The app writes what the send buffer takes, and closes once all is written if `close`.
    fn pump(&mut self, close: bool) {
        while self.off < self.data.len() {
            let rest = self.data.len() - self.off;
            let sent = match self.region {
                Some(r) => self.stack.send_region(self.id, r, self.off, rest),
                None => self.stack.send(self.id, &self.data[self.off..]),
            };
            match sent {
                Ok(n) => self.off += n,
                Err(IoError::WouldBlock) => break,
                Err(e) => panic!("send at {}: {e:?} {:?}", self.off, self.stack.info(self.id)),
            }
        }
        if close && self.off == self.data.len() && !self.closed {
            self.stack.close(self.id).expect("close");
            self.closed = true;
        }
        self.stack.flush();
    }

    fn tick(&mut self) {
        self.wire.borrow_mut().deliver_due(self.now);
        self.stack.poll(self.now);
        self.rx.poll();
    }

    fn advance(&mut self) {
        let mut t = self.now + MS;
        if let Some(w) = self.wire.borrow().next_event_time() {
            t = t.min(w);
        }
        if self.stack.tx_backlog() > 0 {
            t = self.now;
        }
        self.now = t.max(self.now + 1000);
    }

    fn run_until(&mut self, limit: Nanos, mut done: impl FnMut(&mut Run) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            self.tick();
            if done(self) {
                return true;
            }
            self.advance();
        }
        false
    }

    /// Sends the rest of the data, closes, and runs until the connection is freed and the
    /// receiver closed; checks the bytes, the window and that every mbuf is back.
    fn finish(&mut self, limit: Nanos, what: &str) {
        let t0 = self.now;
        let ok = self.run_until(limit, |r| {
            if let Some(i) = r.stack.info(r.id) {
                assert_eq!(i.error, None, "{what}: {i:?}");
            }
            r.pump(true);
            r.closed && r.stack.state(r.id).is_none() && r.rx.closed
        });
        assert!(
            ok,
            "{what}: not done in {} s: written {}/{}, received {}, ours {:?}",
            limit / SEC,
            self.off,
            self.data.len(),
            self.rx.data.len(),
            self.stack.info(self.id)
        );
        eprintln!(
            "{what}: {} bytes in {} ms of virtual time, largest segment {}",
            self.data.len(),
            (self.now - t0) / MS,
            self.rx.max_seg
        );
        assert_eq!(self.rx.data.len(), self.data.len(), "{what}: byte count");
        assert!(
            sha256(&self.rx.data) == sha256(&self.data),
            "{what}: SHA-256 differs"
        );
        assert_eq!(
            self.rx.over_edge, 0,
            "{what}: segments past the window offered"
        );
        self.drain();
        assert_eq!(
            self.pool.in_use(),
            self.base,
            "{what}: mbufs back in the pool"
        );
    }

    /// Runs until nothing is left on the wire (frames hold no mbufs, but the stack's
    /// frees of what the NIC had may wait for a poll).
    fn drain(&mut self) {
        for _ in 0..2000 {
            if self.wire.borrow().is_idle() {
                break;
            }
            self.tick();
            self.advance();
        }
        self.tick();
    }

    /// Runs until the receiver's buffer is full and nothing is in flight.
    fn fill_window(&mut self, what: &str) {
        let full = self.run_until(30 * SEC, |r| {
            r.pump(false);
            r.rx.wnd() == 0 && r.stack.info(r.id).is_some_and(|i| i.in_flight == 0)
        });
        assert!(
            full,
            "{what}: the receiver's {} bytes were never filled: it holds {}, ours {:?}",
            self.rx.buf,
            self.rx.unread,
            self.info()
        );
    }
}

#[test]
fn window_of_500_against_an_mss_of_1460() {
    for zc in [false, true] {
        let what = format!("500-byte window, zero copy {zc}");
        let mut run = Run::new(&format!("sws500_{zc}"), (1460, 500, true), 64 << 10, zc, 15);
        run.finish(60 * SEC, &what);
        assert!(run.rx.max_seg <= 500, "{what}: {}", run.rx.max_seg);
    }
}

#[test]
fn tiny_mss_and_a_window_smaller_still() {
    let what = "MSS 100, 60-byte window";
    let mut run = Run::new("sws_tiny", (100, 60, true), 8 << 10, false, 15);
    assert_eq!(run.info().mss, 100);
    run.finish(60 * SEC, what);
    assert_eq!(run.rx.max_seg, 60, "{what}: segments fill the window");
}

#[test]
fn window_below_a_minimum_segment_moves_by_probes() {
    // Even a minimum-sized segment (48 bytes) does not fit 30 bytes: only the persist
    // timer's probes, carrying 30 bytes cut from a queued segment, move the data.
    for zc in [false, true] {
        let what = format!("30-byte window, zero copy {zc}");
        let mut run = Run::new(&format!("sws30_{zc}"), (1460, 30, true), 2 << 10, zc, 15);
        run.finish(120 * SEC, &what);
        assert!(run.rx.max_seg <= 30, "{what}: {}", run.rx.max_seg);
    }
}

/// The longest the persist timer takes to give up after the window closes: its first
/// probe one RTO on, then `retries` probes at doubling intervals, the last unanswered
/// (each timer up to 2 ms late on the 1 ms timer wheel).
fn give_up_bound(rto: Nanos, retries: u8) -> Nanos {
    rto * ((1 << (retries + 1)) - 1) + 2 * MS * (retries as Nanos + 1)
}

#[test]
fn closed_window_then_vanished_peer_times_out() {
    // Three whole segments fill the buffer: the window closes at a segment boundary.
    let retries = 4;
    let mut run = Run::new("zw_gone", (1460, 3 * 1460, false), 64 << 10, false, retries);
    run.fill_window("vanish");
    run.rx.gone = true;
    let (t0, before) = (run.now, run.info());
    let bound = give_up_bound(before.rto_us as Nanos * 1000, retries);
    let ended = run.run_until(10 * bound, |r| r.info().state == State::Closed);
    let info = run.info();
    assert!(ended, "probing a vanished peer never gave up: {info:?}");
    let took = run.now - t0;
    eprintln!(
        "zero window, peer gone: timed out after {} ms (bound {} ms)",
        took / MS,
        bound / MS
    );
    assert_eq!(info.error, Some(TcpError::TimedOut));
    assert_eq!(
        info.counters.zero_window_probes - before.counters.zero_window_probes,
        retries as u64,
        "{info:?}"
    );
    assert!(
        took <= bound,
        "took {} ms, bound {} ms",
        took / MS,
        bound / MS
    );
    assert!(
        took > bound / 2,
        "backed off between probes: {} ms",
        took / MS
    );
    assert_eq!(
        run.stack.send(run.id, b"more"),
        Err(IoError::Conn(TcpError::TimedOut))
    );
    // Failing freed the queued data, before the app lets go of the connection.
    run.drain();
    assert_eq!(
        run.pool.in_use(),
        run.base,
        "the queued segments went back to the pool"
    );
    run.stack.close(run.id).unwrap();
    run.tick();
    assert_eq!(run.stack.state(run.id), None);
    assert_eq!(run.pool.in_use(), run.base);
}

#[test]
fn closed_window_with_answered_probes_is_kept_then_completes() {
    // 4 096 bytes are two segments and 1 176 bytes: the window is full only once a probe
    // has carried those.
    let retries = 4;
    let mut run = Run::new("zw_kept", (1460, 4096, false), 64 << 10, false, retries);
    run.fill_window("kept");
    let before = run.info();
    let bound = give_up_bound(before.rto_us as Nanos * 1000, retries);
    let hold = 600 * SEC;
    assert!(hold > 10 * bound);
    let failed = run.run_until(hold, |r| r.info().error.is_some());
    let info = run.info();
    assert!(
        !failed,
        "a peer answering every probe was dropped: {info:?}"
    );
    let probes = info.counters.zero_window_probes - before.counters.zero_window_probes;
    eprintln!(
        "zero window held {} s: {probes} probes, all answered",
        hold / SEC
    );
    assert!(probes > 2 * retries as u64, "{info:?}");
    assert!(
        run.rx.probes_answered as u64 >= probes,
        "{}",
        run.rx.probes_answered
    );
    assert_eq!((info.state, info.in_flight), (State::Established, 0));
    run.rx.read_all();
    run.finish(120 * SEC, "kept, then opened");
}
