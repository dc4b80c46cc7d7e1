//! TIME-WAIT port reuse (Linux's `tcp_tw_reuse`, RFC 6191): when every ephemeral port to a
//! destination is held by a connection in TIME-WAIT, `connect` may end one that the app has
//! closed, that negotiated timestamps and that has been in TIME-WAIT for at least 1 s, and
//! take its 4-tuple. Against the SACK receiver (`linerate_sim::sackpeer`: echoes timestamps,
//! answers our FIN with its own), a fresh one per connection, over a clean simulated wire
//! whose frames towards the receiver are tapped and parsed. Time is virtual throughout.
mod common;

use linerate::event::{Event, FREED};
use linerate::{ConnId, ConnectError, IoError, Nanos, State, MS, SEC};
use linerate_proto::wire::ethernet::{EtherType, EthernetFrame};
use linerate_proto::wire::ipv4::{Ipv4Packet, Protocol};
use linerate_proto::wire::tcp::{flags, TcpOptions, TcpPacket};
use linerate_sim::harness::{payload, sha256, PEER_IP, PORT, STACK_IP};
use linerate_sim::sackpeer::{stack_config, SackPeer, SackSim};
use linerate_sim::{Dir, SimConfig, SimPeer};
use std::net::SocketAddrV4;

const DST: SocketAddrV4 = SocketAddrV4::new(PEER_IP, PORT);
/// The first port of the narrowed ephemeral range.
const PORT0: u16 = 40_000;

/// One segment the stack put on the wire, as the receiver got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seg {
    /// Which connection of the test was the latest when it arrived (1 = the first).
    conn: usize,
    port: u16,
    flags: u8,
    seq: u32,
    /// Sequence space it occupies: payload, plus one each for SYN and FIN.
    slen: u32,
    tsval: Option<u32>,
}

impl Seg {
    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

fn parse(f: &[u8], conn: usize) -> Option<Seg> {
    let eth = EthernetFrame::new_checked(f).ok()?;
    if eth.ethertype() != EtherType::IPV4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.protocol() != Protocol::TCP {
        return None;
    }
    let t = TcpPacket::new_checked(ip.payload()).ok()?;
    let fl = t.flags();
    let opts = TcpOptions::parse(t.options()).expect("the stack's TCP options parse");
    Some(Seg {
        conn,
        port: t.src_port(),
        flags: fl,
        seq: t.seq_number(),
        slen: t.payload().len() as u32
            + (fl & flags::SYN != 0) as u32
            + (fl & flags::FIN != 0) as u32,
        tsval: opts.timestamps.map(|(v, _)| v),
    })
}

/// `a` comes after `b` in 32-bit serial arithmetic (sequence numbers, timestamps).
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// The stack and a receiver on a clean wire, with every stack→receiver frame recorded.
struct Tw {
    sim: SackSim,
    segs: Vec<Seg>,
    /// Connections opened so far.
    conns: usize,
    /// Events taken after each poll.
    events: Vec<Event>,
    /// Whether the last connection `finish` ran negotiated timestamps.
    last_timestamps: bool,
}

impl Tw {
    /// `ports` ephemeral ports from `PORT0`, TIME-WAIT of `time_wait`.
    fn new(name: &str, time_wait: Nanos, ports: u16, timestamps: bool) -> Tw {
        let eal = common::eal(&[]);
        let pool = common::pool(&eal, name, 4095);
        let mut cfg = stack_config();
        cfg.tcp.time_wait = time_wait;
        cfg.tcp.timestamps = timestamps;
        cfg.ephemeral = (PORT0, PORT0 + ports - 1);
        let sim = SackSim::with_config(pool, SimConfig::clean(1), SimConfig::clean(2), cfg);
        Tw {
            sim,
            segs: Vec::new(),
            conns: 0,
            events: Vec::new(),
            last_timestamps: false,
        }
    }

    /// Arrivals, the stack, the tap, the receiver, at the current time.
    fn tick(&mut self) {
        let s = &mut self.sim;
        s.wire.borrow_mut().deliver_due(s.now);
        s.stack.poll(s.now);
        let mut evs = [Event::EMPTY; 64];
        loop {
            let n = s.stack.events(&mut evs);
            self.events.extend_from_slice(&evs[..n]);
            if n < evs.len() {
                break;
            }
        }
        {
            let w = s.wire.borrow();
            let n = w.pending(Dir::ToPeer);
            let conn = self.conns;
            self.segs
                .extend(w.frames(Dir::ToPeer).take(n).filter_map(|f| parse(f, conn)));
        }
        s.peer.poll(s.now);
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

    /// `connect` with an ephemeral port; a fresh receiver for the new connection.
    fn connect(&mut self) -> Result<ConnId, ConnectError> {
        let r = self.sim.stack.connect(DST, None);
        if r.is_ok() {
            self.conns += 1;
            self.sim.peer = SackPeer::new(SimPeer::new(self.sim.wire.clone()));
        }
        r
    }

    /// Sends `data` on `id` and closes it, until it is in TIME-WAIT and the receiver has
    /// closed too; checks the receiver got exactly `data`. Returns when TIME-WAIT began (the
    /// poll that took the receiver's FIN, whose event frees the id in TIME-WAIT).
    fn finish(&mut self, id: ConnId, data: &[u8], what: &str) -> Nanos {
        let (mut off, mut closed, mut tw_at) = (0, false, None);
        let end = self.sim.now + 10 * SEC;
        self.events.clear();
        while self.sim.now < end {
            self.tick();
            let st = self.sim.stack.state(id);
            if let Some(i) = self.sim.stack.info(id) {
                assert_eq!(i.error, None, "{what}: failed: {i:?}");
                self.last_timestamps = i.timestamps;
            }
            let freed_in_tw = self
                .events
                .iter()
                .any(|e| e.conn == id && e.what & FREED != 0 && e.state == State::TimeWait);
            if tw_at.is_none() && freed_in_tw {
                assert_eq!(st, None, "{what}: the id is freed in TIME-WAIT");
                tw_at = Some(self.sim.now);
            }
            if tw_at.is_some() && self.sim.peer.closed {
                break;
            }
            common::app::write_then_close(&mut self.sim.stack, id, data, &mut off, &mut closed)
                .unwrap_or_else(|e| panic!("{what}: send at {off}: {e:?} {st:?}"));
            self.sim.stack.flush();
            self.sim.advance();
        }
        let tw_at = tw_at.unwrap_or_else(|| {
            panic!(
                "{what}: no TIME-WAIT: sent {off}/{} {:?} receiver got {}",
                data.len(),
                self.sim.stack.info(id),
                self.sim.peer.data.len()
            )
        });
        assert!(self.sim.peer.closed, "{what}: the receiver never closed");
        assert_eq!(self.sim.peer.data.len(), data.len(), "{what}: byte count");
        assert!(
            sha256(&self.sim.peer.data) == sha256(data),
            "{what}: SHA-256 at the receiver differs"
        );
        tw_at
    }

    fn port(&self, id: ConnId) -> u16 {
        self.sim.stack.local_port(id).expect("open connection")
    }

    fn state(&self, id: ConnId) -> Option<State> {
        self.sim.stack.state(id)
    }

    /// A TIME-WAIT record holds local port `port`'s tuple to `DST`.
    fn in_tw(&self, port: u16) -> bool {
        let local = SocketAddrV4::new(STACK_IP, port);
        self.sim.stack.in_time_wait(local, DST)
    }

    fn tw_reused(&self) -> u64 {
        self.sim.stack.stats().tcp.tw_reused
    }

    /// RSTs the stack sent in the whole test.
    fn rsts(&self) -> Vec<Seg> {
        self.segs
            .iter()
            .filter(|s| s.has(flags::RST))
            .copied()
            .collect()
    }
}

/// Two ephemeral ports, TIME-WAIT 5 s. A takes one port and reaches TIME-WAIT; B, 500 ms
/// later, the other. A third connect finds both in TIME-WAIT and fails (NoPorts), still 1 µs
/// before A has been in TIME-WAIT for 1 s; at exactly 1 s it ends A, takes A's port
/// (B's is too young), counts `tw_reused`, and delivers its bytes exactly. C's own record
/// then ends at its own end, not at the one A's record was queued for.
#[test]
fn time_wait_port_is_reused_after_a_second() {
    let mut tw = Tw::new("tw_reuse", 5 * SEC, 2, true);
    let data = payload(11, 48_000);
    let a = tw.connect().expect("first connect");
    let pa = tw.port(a);
    let ta = tw.finish(a, &data[..9_000], "A");
    assert!(tw.last_timestamps, "A negotiated timestamps");
    tw.run_to(ta + 500 * MS);
    let b = tw.connect().expect("second connect");
    let pb = tw.port(b);
    let tb = tw.finish(b, &data[..17_000], "B");
    assert_ne!(pa, pb, "the first two connections take the two ports");
    for p in [pa, pb] {
        assert!(
            (PORT0..=PORT0 + 1).contains(&p),
            "port {p} outside the range"
        );
    }
    assert!(tb >= ta + 500 * MS);
    assert!(tw.in_tw(pa) && tw.in_tw(pb), "both in TIME-WAIT");
    assert_eq!((tw.state(a), tw.state(b)), (None, None), "ids freed");

    assert_eq!(tw.connect(), Err(ConnectError::NoPorts), "both just closed");
    tw.run_to(ta + SEC - 1000);
    assert_eq!(
        tw.connect(),
        Err(ConnectError::NoPorts),
        "A has been in TIME-WAIT 1 µs short of 1 s"
    );
    assert_eq!(tw.tw_reused(), 0);
    assert!(tw.in_tw(pa), "a refused connect ends nothing");

    tw.run_to(ta + SEC);
    let c = tw
        .connect()
        .expect("a connect once A has been in TIME-WAIT for 1 s");
    assert_eq!(
        tw.port(c),
        pa,
        "C takes A's tuple (B's TIME-WAIT is younger than 1 s)"
    );
    assert_eq!(tw.tw_reused(), 1, "A was ended for reuse");
    assert!(!tw.in_tw(pa), "A's record is gone");
    assert!(tw.in_tw(pb), "B is untouched");
    assert_eq!(tw.state(c), Some(State::SynSent));
    assert_eq!(tw.connect(), Err(ConnectError::NoPorts), "B is still young");

    let tc = tw.finish(c, &data, "C on A's port");
    assert!(tw.last_timestamps);
    assert_eq!(tw.tw_reused(), 1, "nothing else was reused");
    // At B's 1 s in TIME-WAIT, C's is younger: B's tuple goes.
    assert!(tc > tb);
    tw.run_to(tb + SEC);
    let d = tw.connect().expect("a connect once B has aged");
    assert_eq!(tw.port(d), pb, "D takes B's tuple");
    assert_eq!(tw.tw_reused(), 2);
    tw.finish(d, &data[..1], "D on B's port");

    // A's record ended early, and C's record may have its slot: A's old end must not end
    // C (whose TIME-WAIT runs 5 s from tc), and C must end at its own.
    tw.run_to(ta + 5 * SEC + 5 * MS);
    assert!(tw.in_tw(pa), "C is held past A's old end");
    tw.run_to(tc + 5 * SEC - MS);
    assert!(tw.in_tw(pa), "C is held until its own end");
    tw.run_to(tc + 5 * SEC + 5 * MS);
    assert!(!tw.in_tw(pa), "C is gone after its own end");

    let syns = tw.segs.iter().filter(|s| s.has(flags::SYN)).count();
    assert_eq!(syns, 4, "one SYN per connection, none refused or retried");
    assert_eq!(tw.rsts(), vec![], "no RST ever went to the receiver");
}

/// One ephemeral port: three connections in turn on the same 4-tuple, each taken from its
/// predecessor's TIME-WAIT (2 s) after 1 s. Each new SYN's TSval is above every TSval the
/// previous connection sent, and its ISN above that connection's last snd_nxt (just past its
/// FIN); the receiver never sees an RST. (The ISN's 4 µs clock gains 250 000 a second, so
/// the ISN check holds only because each connection sends far fewer bytes than that per
/// second it waits: after a large transfer a reused tuple's ISN is lower, and the
/// timestamps alone keep old and new apart, as RFC 6191 allows.)
#[test]
fn reused_tuple_sends_higher_timestamps_and_isn() {
    let mut tw = Tw::new("tw_ts_isn", 2 * SEC, 1, true);
    let data = payload(12, 30_000);
    let mut tw_at = 0;
    for n in 1..=3usize {
        if n > 1 {
            tw.run_to(tw_at + SEC - 1000);
            assert_eq!(tw.connect(), Err(ConnectError::NoPorts), "connection {n}");
            tw.run_to(tw_at + SEC);
        }
        let id = tw.connect().expect("connect");
        assert_eq!(tw.port(id), PORT0, "the only port");
        tw_at = tw.finish(id, &data[..10_000 * n], "transfer");
        assert!(tw.last_timestamps, "connection {n} negotiated timestamps");
        assert_eq!(tw.tw_reused(), n as u64 - 1);
    }
    assert!(
        tw.segs.iter().all(|s| s.port == PORT0 && s.tsval.is_some()),
        "every segment on the one port carries a timestamp"
    );
    for n in 2..=3 {
        let old: Vec<Seg> = tw
            .segs
            .iter()
            .filter(|s| s.conn == n - 1)
            .copied()
            .collect();
        let new: Vec<Seg> = tw.segs.iter().filter(|s| s.conn == n).copied().collect();
        let syn = new[0];
        assert!(syn.has(flags::SYN) && !syn.has(flags::ACK), "{syn:?}");
        assert_eq!(new.iter().filter(|s| s.has(flags::SYN)).count(), 1);
        let syn_ts = syn.tsval.unwrap();
        for s in &old {
            let ts = s.tsval.unwrap();
            assert!(
                after(syn_ts, ts),
                "connection {n}'s SYN TSval {syn_ts} not above {ts} of {s:?}"
            );
        }
        // At least the second between them, in ms.
        let last_ts = old.last().unwrap().tsval.unwrap();
        assert!(
            syn_ts.wrapping_sub(last_ts) >= 1000,
            "{syn_ts} vs {last_ts}"
        );
        let fins: Vec<&Seg> = old.iter().filter(|s| s.has(flags::FIN)).collect();
        assert_eq!(fins.len(), 1, "one FIN, not retransmitted");
        // The FIN may ride on the last data segment: snd_nxt is where its segment ends.
        let snd_nxt = fins[0].seq.wrapping_add(fins[0].slen);
        for s in &old {
            let end = s.seq.wrapping_add(s.slen);
            assert!(!after(end, snd_nxt), "{s:?} ends after the FIN");
        }
        assert!(
            after(syn.seq, snd_nxt),
            "connection {n}'s ISN {} not above the old snd_nxt {snd_nxt}",
            syn.seq
        );
    }
    assert_eq!(tw.rsts(), vec![], "no RST ever went to the receiver");
}

/// Without timestamps a TIME-WAIT tuple is never taken: with one port and TIME-WAIT 2 s,
/// connect fails (NoPorts) 1 s in and 1 ms before the end; once TIME-WAIT ends the record
/// goes and the port is simply free. `tw_reused` stays 0.
#[test]
fn no_reuse_without_timestamps() {
    let mut tw = Tw::new("tw_no_ts", 2 * SEC, 1, false);
    let data = payload(13, 20_000);
    let a = tw.connect().expect("connect");
    let pa = tw.port(a);
    let ta = tw.finish(a, &data, "A");
    assert!(!tw.last_timestamps, "no timestamps were negotiated");
    for at in [ta + SEC, ta + 3 * SEC / 2, ta + 2 * SEC - MS] {
        tw.run_to(at);
        assert_eq!(
            tw.connect(),
            Err(ConnectError::NoPorts),
            "{} ms into TIME-WAIT",
            (at - ta) / MS
        );
        assert!(tw.in_tw(pa));
    }
    let end = ta + 3 * SEC;
    while tw.in_tw(pa) && tw.sim.now < end {
        tw.sim.advance();
        tw.tick();
    }
    assert!(!tw.in_tw(pa), "TIME-WAIT ended and the record went");
    assert!(tw.sim.now >= ta + 2 * SEC, "not before time_wait");
    let b = tw.connect().expect("connect after TIME-WAIT");
    assert_eq!(tw.port(b), PORT0);
    tw.finish(b, &data, "B");
    assert_eq!(tw.tw_reused(), 0, "nothing was reused");
    assert!(tw.segs.iter().all(|s| s.tsval.is_none()));
    assert_eq!(tw.rsts(), vec![], "no RST ever went to the receiver");
}

/// Ids carry their slot's generation: once a connection is freed and its slot holds the next
/// one, every call with the old id fails or answers `None`, and the new connection is left
/// alone (a close or abort through the stale id would have ended it before its bytes went).
#[test]
fn stale_ids_never_reach_the_next_connection() {
    let mut tw = Tw::new("tw_stale_id", 5 * SEC, 8, true);
    let data = payload(12, 20_000);
    let a = tw.connect().expect("first connect");
    tw.finish(a, &data[..6_000], "A");
    tw.tick(); // A's FREED is taken; the next poll hands its slot out again
    let b = tw.connect().expect("second connect");
    assert_eq!(a.index(), b.index(), "the slot is reused");
    assert_ne!(a.generation(), b.generation());
    assert_ne!(a, b);
    assert_eq!(ConnId::from_raw(b.to_raw()), Some(b));
    assert!(
        (b.to_raw() as i64) >= 0,
        "raw ids are never negative (C's -errno)"
    );
    let stack = &mut tw.sim.stack;
    assert_eq!(stack.send(a, b"stale"), Err(IoError::NotConnected));
    assert_eq!(stack.shutdown(a), Err(IoError::NotConnected));
    assert_eq!(stack.close(a), Err(IoError::NotConnected));
    assert_eq!(stack.abort(a), Err(IoError::NotConnected));
    assert_eq!(stack.recv(a, &mut [0; 8]), Err(IoError::NotConnected));
    assert_eq!(
        (stack.state(a), stack.error(a), stack.local_port(a)),
        (None, None, None)
    );
    assert!(stack.info(a).is_none());
    assert_eq!((stack.send_space(a), stack.recv_queue(a)), (0, 0));
    assert_eq!(stack.state(b), Some(State::SynSent));
    assert_eq!(stack.connections().collect::<Vec<_>>(), vec![b]);
    tw.finish(b, &data[6_000..], "B");
}
