//! The `frame_input` harness: a stack on the simulated wire, with a connection in each state
//! (set up the same way for every input), runs the input as a script and is checked after
//! every poll and at the end.
//!
//! The input's first byte picks the NIC's offloads and pacing; then each operation starts
//! with a byte whose value modulo 8 names it ([`SEG`], [`RAW`], [`ARP`], [`CLOCK`], [`APP`],
//! [`POLL`]) and reads the fields it needs (zeros past the end). See `seeds` for encoders.
use super::peer::{arp_input, observe, pattern, raw_frame, tcp_frame, Conn, OTHER_IP};
use super::{pool, Input};
use crate::harness::{PEER_IP, PEER_MAC, PORT, STACK_IP, STACK_MAC};
use crate::wire::{Dir, SimConfig, SimDevice, SimWire};
use linerate_dpdk::{Mempool, Offloads};
use linerate_proto::cc::Cc;
use linerate_proto::timer::{Nanos, MS, SEC};
use linerate_proto::wire::ipv4::Ipv4Cidr;
use linerate_proto::wire::tcp::{flags, OptionWriter};
use linerate_stack::event::Event;
use linerate_stack::{ConnId, ConnectError, RxDrops, Stack, StackConfig, State, TcpConfig};
use std::cell::RefCell;
use std::net::SocketAddrV4;
use std::rc::Rc;
use std::sync::Arc;

/// The connections (by index in `Harness::conns`) and the state the set-up leaves each in.
pub(super) const SYN_SENT: usize = 0;
/// SACK, timestamps and window scaling; 20 kB queued, the first window in flight.
pub(super) const ESTAB_SACK: usize = 1;
/// No options, Reno, `nodelay`; 5 kB queued.
pub(super) const ESTAB_PLAIN: usize = 2;
/// 300 bytes and a FIN unacknowledged.
pub(super) const FIN_WAIT1: usize = 3;
pub(super) const FIN_WAIT2: usize = 4;
/// The peer sent 100 bytes and FIN; the app has read nothing.
pub(super) const CLOSE_WAIT: usize = 5;
/// Closed by both: a TIME-WAIT record holds the tuple.
pub(super) const TIME_WAIT: usize = 6;
/// To `OTHER_IP`, whose ARP nobody answers: the SYN waits.
pub(super) const ARP_WAIT: usize = 7;
/// A tuple no connection has (answered with RST).
pub(super) const NO_CONN: usize = 8;
const N: usize = 9;

/// Operation codes (an operation's first byte modulo 8; `SEG` also as 1 and 2).
pub(super) const SEG: u8 = 0;
pub(super) const RAW: u8 = 3;
pub(super) const ARP: u8 = 4;
pub(super) const CLOCK: u8 = 5;
pub(super) const APP: u8 = 6;
pub(super) const POLL: u8 = 7;

/// Frames queued before a poll is forced (a burst: plain ACKs coalesce within one).
const BURST: usize = 8;

/// Runs one input. Panics when a check fails.
pub fn frames(data: &[u8]) {
    let pool = pool();
    let base = pool.in_use();
    let mut inp = Input::new(data);
    let mut h = Harness::new(pool.clone(), inp.u8());
    while !inp.is_empty() {
        h.op(&mut inp);
    }
    h.poll();
    if trace() {
        h.trace();
    }
    h.finish();
    drop(h);
    assert_eq!(
        pool.in_use(),
        base,
        "mbufs still out after the stack was dropped"
    );
}

/// `LR_FUZZ_TRACE=1`: print where each input leaves the connections (to check a seed).
fn trace() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("LR_FUZZ_TRACE").is_some())
}

struct Harness {
    wire: Rc<RefCell<SimWire>>,
    stack: Stack<SimDevice>,
    tcp: TcpConfig,
    conns: Vec<Conn>,
    now: Nanos,
    /// Frames put on the wire to the stack, and those since the last poll.
    injected: u64,
    queued: usize,
    /// The drop counters at the last poll.
    drops: RxDrops,
    /// Bytes every connection so far was given by the app.
    app_total: u64,
    buf: Vec<u8>,
}

fn seq_in(x: u32, lo: u32, hi: u32) -> bool {
    x.wrapping_sub(lo) <= hi.wrapping_sub(lo)
}

impl Harness {
    fn new(pool: Arc<Mempool>, variant: u8) -> Self {
        let clean = SimConfig {
            delay: 0,
            ..SimConfig::clean(1)
        };
        let now = SEC;
        let (wire, dev, _) = SimWire::pair(clean, clean, pool.clone(), STACK_MAC);
        wire.borrow_mut().set_now(now);
        let tso = variant & 2 != 0;
        let offloads = Offloads {
            tx_ipv4_cksum: variant & 3 != 0,
            tx_tcp_cksum: variant & 3 != 0,
            tx_tso: tso,
            tx_multi_seg: tso,
            tx_seg_max: if variant & 3 == 3 { 3 } else { 0 },
            ..Default::default()
        };
        let mut cfg = StackConfig::new(Ipv4Cidr {
            addr: STACK_IP,
            prefix_len: 24,
        });
        cfg.static_neigh.push((PEER_IP, PEER_MAC));
        cfg.max_conns = 16;
        cfg.tcp.time_wait = 5 * SEC;
        cfg.tcp.fin_timeout = 5 * SEC;
        cfg.tcp.pacing = variant & 4 == 0;
        let tcp = cfg.tcp;
        let stack = Stack::new(dev.with_offloads(offloads), pool, cfg, now);
        let conns = (0..N)
            .map(|i| Conn::new(i, if i == ARP_WAIT { OTHER_IP } else { PEER_IP }))
            .collect();
        let mut h = Harness {
            wire,
            stack,
            tcp,
            conns,
            now,
            injected: 0,
            queued: 0,
            drops: RxDrops::default(),
            app_total: 0,
            buf: Vec::with_capacity(2048),
        };
        h.set_up();
        h
    }

    /// Settings of connection `k`: the plain one offers no options and runs Reno.
    fn tcp_config(&self, k: usize) -> TcpConfig {
        let mut t = self.tcp;
        if k == ESTAB_PLAIN {
            t.timestamps = false;
            t.sack = false;
            t.window_scaling = false;
            t.nodelay = true;
            t.cc = Cc::by_name("reno").expect("reno");
        }
        t
    }

    fn connect(&mut self, k: usize) -> Result<ConnId, ConnectError> {
        let (cfg, c) = (self.tcp_config(k), &self.conns[k]);
        let to = SocketAddrV4::new(c.rip, PORT);
        self.stack.connect_with(to, Some(c.lport), cfg)
    }

    /// Brings every connection to its state (see the constants); panics if one is not.
    fn set_up(&mut self) {
        for k in 0..NO_CONN {
            let id = self.connect(k).expect("fuzz set-up: connect");
            self.conns[k].id = Some(id);
        }
        self.poll();
        // The peer's SYN-ACKs, with the options each connection is to have.
        for k in ESTAB_SACK..=TIME_WAIT {
            let (sack, ts, ws) = match k {
                ESTAB_SACK => (true, true, Some(7)),
                ESTAB_PLAIN => (false, false, None),
                FIN_WAIT1 => (true, true, None),
                FIN_WAIT2 => (true, false, Some(2)),
                CLOSE_WAIT => (false, true, Some(7)),
                _ => (false, true, None),
            };
            let c = &mut self.conns[k];
            c.peer_ts += 1;
            let mut o = [0u8; 40];
            let mut w = OptionWriter::new(&mut o);
            let mss = if k == ESTAB_PLAIN { 1200 } else { 1460 };
            let tsopt = ts.then_some((c.peer_ts, c.tsval));
            w.syn(mss, sack, tsopt, ws).expect("SYN options fit");
            let n = w.finish();
            let (seq, ack) = (c.irs, c.snd_max);
            c.irs_known = true;
            self.send_seg(
                k,
                seq,
                ack,
                flags::SYN | flags::ACK,
                65535,
                &o[..n],
                0,
                false,
            );
        }
        self.now += MS;
        self.poll();
        for (k, n) in [(ESTAB_SACK, 20_000), (ESTAB_PLAIN, 5000), (FIN_WAIT1, 300)] {
            self.app_send(k, n);
        }
        for k in [FIN_WAIT1, FIN_WAIT2, TIME_WAIT] {
            let id = self.conns[k].id.expect("set up");
            self.stack.close(id).expect("fuzz set-up: close");
            self.conns[k].fin = true;
        }
        self.stack.flush();
        self.now += MS;
        self.poll();
        for (k, fl, len) in [
            (FIN_WAIT2, flags::ACK, 0),
            (TIME_WAIT, flags::ACK | flags::FIN, 0),
            (CLOSE_WAIT, flags::ACK | flags::FIN | flags::PSH, 100),
        ] {
            let c = &self.conns[k];
            let (seq, ack) = (c.peer_nxt(), c.snd_max);
            let opts = self.ts_option(k, 0);
            self.send_seg(k, seq, ack, fl, 1024, &opts, len, false);
        }
        self.now += MS;
        self.poll();
        let want = [
            (SYN_SENT, State::SynSent),
            (ESTAB_SACK, State::Established),
            (ESTAB_PLAIN, State::Established),
            (FIN_WAIT1, State::FinWait1),
            (FIN_WAIT2, State::FinWait2),
            (CLOSE_WAIT, State::CloseWait),
            (ARP_WAIT, State::SynSent),
        ];
        for (k, s) in want {
            let id = self.conns[k].id.expect("set up");
            assert_eq!(self.stack.state(id), Some(s), "fuzz set-up: connection {k}");
        }
        let c = &self.conns[TIME_WAIT];
        let (local, remote) = (
            SocketAddrV4::new(STACK_IP, c.lport),
            SocketAddrV4::new(c.rip, PORT),
        );
        assert!(
            self.stack.in_time_wait(local, remote),
            "fuzz set-up: no TIME-WAIT record"
        );
    }

    /// NOP, NOP, timestamps when `k` has them on (the peer's clock ticks per segment), else
    /// nothing.
    fn ts_option(&mut self, k: usize, d: u8) -> Vec<u8> {
        let c = &mut self.conns[k];
        if !matches!(k, ESTAB_SACK | FIN_WAIT1 | CLOSE_WAIT | TIME_WAIT) {
            return Vec::new();
        }
        c.peer_ts = c.peer_ts.wrapping_add(1);
        let tsval = c.peer_ts.wrapping_add(((d as i8) >> 4) as u32);
        let tsecr = c.tsval.wrapping_sub(u32::from(d & 15));
        let mut o = [0u8; 12];
        let n = OptionWriter::new(&mut o)
            .data(Some((tsval, tsecr)), &[])
            .map_or(0, |w| w.finish());
        o[..n].to_vec()
    }

    /// Builds a segment of connection `k`, notes what the peer acknowledged, and puts it on
    /// the wire.
    #[allow(clippy::too_many_arguments)]
    fn send_seg(
        &mut self,
        k: usize,
        seq: u32,
        ack: u32,
        fl: u8,
        wnd: u16,
        opts: &[u8],
        len: usize,
        bad: bool,
    ) {
        let c = &mut self.conns[k];
        let f = tcp_frame(c, seq, ack, fl, wnd, opts, len, bad);
        if fl & flags::ACK != 0 && seq_in(ack, c.acked, c.snd_max) {
            c.acked = ack;
        }
        self.inject(&f);
    }

    fn inject(&mut self, f: &[u8]) {
        self.wire.borrow_mut().send(Dir::ToStack, f);
        self.injected += 1;
        self.queued += 1;
        if self.queued >= BURST {
            self.poll();
        }
    }

    /// Gives connection `k`'s app `n` more bytes of its stream to send.
    fn app_send(&mut self, k: usize, n: usize) {
        let c = &mut self.conns[k];
        let Some(id) = c.id else { return };
        if let Ok(sent) = self.stack.send(id, pattern(c.app, n)) {
            c.app += sent as u64;
            self.app_total += sent as u64;
        }
    }

    fn op(&mut self, inp: &mut Input) {
        if trace() {
            eprintln!("at {} ms: op {:?}", self.now / MS, inp.peek());
        }
        match inp.u8() % 8 {
            RAW => self.inject(&raw_frame(inp)),
            ARP => self.inject(&arp_input(inp)),
            CLOCK => {
                self.now += 1 << (inp.u8() % 33);
                self.poll();
            }
            APP => self.app(inp),
            POLL => self.poll(),
            _ => self.seg(inp),
        }
    }

    /// A segment of a connection, its fields relative to what the peer saw of it.
    fn seg(&mut self, inp: &mut Input) {
        let k = usize::from(inp.u8()) % N;
        let (fl, ctl) = (inp.u8(), inp.u8());
        let (dseq, dack) = (inp.u16() as i16 as i32, inp.u16() as i16 as i32);
        let wnd = inp.u16();
        let len = (usize::from(inp.u8()) * 6).min(1460);
        let c = &self.conns[k];
        let seq = if ctl & 0x40 != 0 {
            inp.u32()
        } else {
            c.peer_nxt().wrapping_add(dseq as u32)
        };
        let ack = if ctl & 0x80 != 0 {
            inp.u32()
        } else {
            let iss = c.iss.unwrap_or(0);
            match ctl & 3 {
                0 => c.acked.wrapping_add(dack as u32),
                1 => c.snd_max.wrapping_add(dack as u32),
                2 => iss.wrapping_add(1).wrapping_add(dack as u32),
                _ => c.acked.wrapping_add(dack.wrapping_mul(c.seg as i32) as u32),
            }
        };
        let opts = self.options(k, (ctl >> 2) & 3, ack, inp);
        self.send_seg(k, seq, ack, fl, wnd, &opts, len, ctl & 0x30 == 0x30);
    }

    /// Options of a segment: none, timestamps, SYN options (to a connection in SYN-SENT)
    /// or SACK blocks around `ack` in units of the segment size, or raw bytes.
    fn options(&mut self, k: usize, mode: u8, ack: u32, inp: &mut Input) -> Vec<u8> {
        if mode == 0 {
            return Vec::new();
        }
        let mut o = [0u8; 40];
        let mut w = OptionWriter::new(&mut o);
        let c = &mut self.conns[k];
        let d = inp.u8();
        c.peer_ts = c.peer_ts.wrapping_add(1);
        let ts = (
            c.peer_ts.wrapping_add(((d as i8) >> 4) as u32),
            c.tsval.wrapping_sub(u32::from(d & 15)),
        );
        let r = match mode {
            1 => w.data(Some(ts), &[]),
            2 if c.rcv_nxt.is_none() => {
                let (mss, f) = (inp.u16(), inp.u8());
                let ws = (f & 4 != 0).then(|| inp.u8());
                w.syn(mss, f & 1 != 0, (f & 2 != 0).then_some(ts), ws)
            }
            2 => {
                let f = inp.u8();
                let ts = (f & 4 == 0).then_some(ts);
                let n = 1 + usize::from(f % 4).min(if ts.is_some() { 2 } else { 3 });
                let seg = c.seg.max(1);
                let blocks: Vec<(u32, u32)> = (0..n)
                    .map(|_| {
                        let (a, b) = (inp.u8() as i8 as i32, inp.u8());
                        let left = ack.wrapping_add(a.wrapping_mul(seg as i32) as u32);
                        let right = if b & 0x80 != 0 {
                            left.wrapping_add(u32::from(b) * 97)
                        } else {
                            left.wrapping_add((u32::from(b % 16) + 1) * seg)
                        };
                        (left, right)
                    })
                    .collect();
                w.data(ts, &blocks)
            }
            _ => {
                let n = usize::from(d % 11) * 4;
                let raw = inp.take(n);
                o[..raw.len()].copy_from_slice(raw);
                return o[..n].to_vec();
            }
        };
        let n = r.map_or(0, |w| w.finish());
        o[..n].to_vec()
    }

    /// A call of a connection's app: send, close, shutdown, abort, read, reconnect, flush or
    /// read events.
    fn app(&mut self, inp: &mut Input) {
        let k = usize::from(inp.u8()) % NO_CONN;
        let what = inp.u8();
        let Some(id) = self.conns[k].id else { return };
        match what % 8 {
            0 => self.app_send(k, usize::from(inp.u16()) % 20_000),
            1 => {
                if self.stack.close(id).is_ok() {
                    self.conns[k].fin = true;
                }
            }
            2 => {
                if self.stack.shutdown(id).is_ok() {
                    self.conns[k].fin = true;
                }
            }
            3 => {
                let _ = self.stack.abort(id);
            }
            4 => self.app_recv(k),
            5 => {
                if self.stack.state(id).is_none() {
                    // What the old connection left for the NIC goes first: its frames
                    // cannot be told from the new one's once the peer forgets it.
                    for _ in 0..64 {
                        if self.stack.tx_backlog() == 0 {
                            break;
                        }
                        self.stack.flush();
                        self.drain();
                    }
                    if let Ok(id) = self.connect(k) {
                        self.conns[k].reset(id);
                    }
                }
            }
            6 => self.stack.flush(),
            _ => self.events(),
        }
        self.drain();
    }

    /// Reads what connection `k` received: the peer's bytes, in order, when the set-up made
    /// its handshake (so its first sequence number is known).
    fn app_recv(&mut self, k: usize) {
        let c = &mut self.conns[k];
        let Some(id) = c.id else { return };
        let mut b = [0u8; 4096];
        if let Ok(n) = self.stack.recv(id, &mut b) {
            assert!(n <= b.len());
            // Offsets as the peer numbers them (modulo 2^32).
            let off = u64::from(c.rcvd as u32);
            assert!(
                !c.irs_known || b[..n] == *pattern(off, n),
                "bytes {}.. received",
                c.rcvd
            );
            c.rcvd += n as u64;
        }
    }

    fn events(&mut self) {
        let mut evs = [Event::EMPTY; 16];
        while self.stack.events(&mut evs) == evs.len() {}
    }

    /// Delivers what is on the wire, polls, and checks what came out.
    fn poll(&mut self) {
        self.wire.borrow_mut().deliver_due(self.now);
        self.stack.poll(self.now);
        self.queued = 0;
        self.drain();
        self.events();
        self.check();
    }

    /// Takes every frame the stack sent and checks it.
    fn drain(&mut self) {
        self.wire.borrow_mut().deliver_due(self.now);
        while self.wire.borrow_mut().recv_into(Dir::ToPeer, &mut self.buf) {
            if trace() {
                eprintln!("  out {}", crate::harness::describe(&self.buf));
            }
            observe(&mut self.conns, &self.buf);
        }
    }

    /// What must hold after every poll.
    fn check(&mut self) {
        let st = self.stack.stats();
        assert_eq!(
            st.dev.rx_frames, self.injected,
            "frames injected vs received"
        );
        let d = st.drops;
        let early = d.malformed
            + d.bad_ip_checksum
            + d.bad_tcp_checksum
            + d.not_for_us
            + d.fragments
            + d.unsupported;
        assert!(early <= st.dev.rx_frames, "{d:?}");
        assert!(
            d.total() >= self.drops.total() && d.rst_sent >= self.drops.rst_sent,
            "drop counters went down: {:?} then {d:?}",
            self.drops
        );
        self.drops = d;
        assert_eq!(st.conns_open, self.stack.connections().count());
        assert!(st.tcp.bytes_acked <= self.app_total, "{:?}", st.tcp);
        for c in &self.conns {
            let Some(i) = c.id.and_then(|id| self.stack.info(id)) else {
                continue;
            };
            let n = &i.counters;
            assert!(
                n.bytes_acked <= c.app && n.bytes_sent <= c.app,
                "{} of {}: {i:?}",
                n.bytes_acked,
                c.app
            );
            assert!(n.bytes_received >= c.rcvd, "{i:?}");
            if i.state != State::Closed {
                let queued = u64::from(i.in_flight) + u64::from(i.unsent_bytes);
                assert!(
                    queued <= c.app - n.bytes_acked + 2,
                    "{queued} queued: {i:?}"
                );
                assert!((1..=1460).contains(&i.mss) && i.cwnd > 0, "{i:?}");
            }
        }
    }

    fn trace(&self) {
        for (k, c) in self.conns.iter().enumerate() {
            let i = c.id.and_then(|id| self.stack.info(id));
            let s = i.map(|i| (i.state, i.error, i.counters.bytes_acked, i.in_flight));
            eprintln!("conn {k}: app {} read {} {s:?}", c.app, c.rcvd);
        }
        let st = self.stack.stats();
        eprintln!(
            "drops {:?}\nneigh {:?}\ntcp {:?}",
            st.drops, st.neigh, st.tcp
        );
    }

    /// Aborts whatever is left and checks that nothing is.
    fn finish(&mut self) {
        for c in &self.conns {
            if let Some(id) = c.id {
                let _ = self.stack.abort(id);
            }
        }
        self.now += MS;
        self.poll();
        assert_eq!(
            self.stack.connections().count(),
            0,
            "connections left after abort"
        );
    }
}
