//! Simulation harness: our `Stack` on a `SimDevice`, and an independent TCP receiver
//! (smoltcp) on the `SimPeer` end of the same wire, both driven by one virtual clock.
use crate::wire::{Dir, LinkStats, SimConfig, SimDevice, SimPeer, SimRng, SimWire};
use linerate_dpdk::Mempool;
use linerate_proto::timer::{Nanos, MS, SEC};
use linerate_proto::wire::ethernet::MacAddr;
use linerate_proto::wire::ipv4::Ipv4Cidr;
use linerate_stack::{ConnId, IoError, Stack, StackConfig, StackStats, State, TcpInfo};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};
use std::cell::{Cell, RefCell};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;
use std::sync::Arc;

pub const STACK_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const STACK_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
pub const PEER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);
pub const PORT: u16 = 5201;

/// Writes the Ethernet and IPv4 headers of a frame from the simulated peer to the stack
/// (DF, TTL 64, checksum filled) into `f[..34]`, for `tcp_len` bytes of TCP after them.
pub fn peer_to_stack_headers(f: &mut [u8], tcp_len: usize) {
    use linerate_proto::wire::ethernet::EtherType;
    use linerate_proto::wire::ipv4::Ipv4Packet;
    f[0..6].copy_from_slice(&STACK_MAC.0);
    f[6..12].copy_from_slice(&PEER_MAC.0);
    f[12..14].copy_from_slice(&EtherType::IPV4.to_be_bytes());
    Ipv4Packet::new_unchecked(&mut f[14..34]).emit_tcp(PEER_IP, STACK_IP, tcp_len);
}

thread_local! {
    /// The virtual clock in ms, for smoltcp's timestamp generator (a plain `fn`).
    static VIRT_MS: Cell<u32> = const { Cell::new(0) };
}

fn tsval() -> u32 {
    VIRT_MS.with(|c| c.get())
}

/// smoltcp's view of the peer end of the wire.
pub struct PeerDev {
    pub peer: SimPeer,
}

pub struct Rx {
    buf: Vec<u8>,
    peer: SimPeer,
}

pub struct Tx<'a> {
    peer: &'a SimPeer,
}

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.buf);
        self.peer.recycle(self.buf);
        r
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        self.peer.send(&buf);
        r
    }
}

impl phy::Device for PeerDev {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _t: Instant) -> Option<(Rx, Tx<'_>)> {
        let buf = self.peer.recv()?;
        Some((
            Rx {
                buf,
                peer: self.peer.clone(),
            },
            Tx { peer: &self.peer },
        ))
    }

    fn transmit(&mut self, _t: Instant) -> Option<Tx<'_>> {
        Some(Tx { peer: &self.peer })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = 1514;
        c
    }
}

pub fn ts(now: Nanos) -> Instant {
    Instant::from_micros((now / 1000) as i64)
}

/// Seeded pseudo-random payload.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    SimRng::new(seed ^ 0xdead_beef_cafe_f00d).fill(&mut v);
    v
}

pub fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

/// How a simulation is built.
#[derive(Clone)]
pub struct SimSetup {
    pub to_peer: SimConfig,
    pub to_stack: SimConfig,
    pub stack: StackConfig,
    /// smoltcp's receive buffer.
    pub peer_rx_buf: usize,
    /// Put a listener on `PORT`.
    pub listen: bool,
    /// smoltcp sends TCP timestamps.
    pub peer_timestamps: bool,
    /// Largest jump of the clock when idle (stack timers run on a 1 ms wheel).
    pub max_step: Nanos,
}

impl SimSetup {
    pub fn new(to_peer: SimConfig, to_stack: SimConfig) -> Self {
        let mut stack = StackConfig::new(Ipv4Cidr {
            addr: STACK_IP,
            prefix_len: 24,
        });
        stack.tcp.sndbuf = 1 << 20;
        stack.tcp.time_wait = 10 * MS;
        stack.tcp.fin_timeout = 5 * SEC;
        stack.max_conns = 16;
        SimSetup {
            to_peer,
            to_stack,
            stack,
            peer_rx_buf: 1 << 20,
            listen: true,
            peer_timestamps: false,
            max_step: MS,
        }
    }

    pub fn clean(seed: u64) -> Self {
        Self::new(
            SimConfig::clean(seed),
            SimConfig::clean(seed.wrapping_add(1000)),
        )
    }
}

pub struct Sim {
    pub wire: Rc<RefCell<SimWire>>,
    pub stack: Stack<SimDevice>,
    pub iface: Interface,
    pub dev: PeerDev,
    pub sockets: SocketSet<'static>,
    pub sock: SocketHandle,
    pub pool: Arc<Mempool>,
    pub now: Nanos,
    pub max_step: Nanos,
    /// Bytes smoltcp delivered to the test.
    pub received: Vec<u8>,
    /// Pool mbufs in use before the stack existed.
    pub pool_base: u32,
    /// Print every frame as it arrives (`LR_SIM_TRACE=1`).
    pub trace: bool,
}

/// One line about a frame: TCP flags/seq/ack/len/window, or the EtherType.
pub fn describe(f: &[u8]) -> String {
    if f.len() < 14 {
        return format!("runt {}", f.len());
    }
    let et = u16::from_be_bytes([f[12], f[13]]);
    if et != 0x0800 || f.len() < 34 || f[23] != 6 {
        return format!("ethertype {et:#06x} len {}", f.len());
    }
    let ihl = (f[14] & 15) as usize * 4;
    let total = u16::from_be_bytes([f[16], f[17]]) as usize;
    let t = &f[14 + ihl..(14 + total).min(f.len())];
    if t.len() < 20 {
        return "short tcp".into();
    }
    let thl = (t[12] >> 4) as usize * 4;
    let fl = t[13];
    let names: String = [
        (0x02, 'S'),
        (0x01, 'F'),
        (0x04, 'R'),
        (0x08, 'P'),
        (0x10, '.'),
    ]
    .iter()
    .filter(|(b, _)| fl & b != 0)
    .map(|(_, c)| *c)
    .collect();
    format!(
        "{}>{} [{names}] seq {} ack {} win {} len {}",
        u16::from_be_bytes([t[0], t[1]]),
        u16::from_be_bytes([t[2], t[3]]),
        u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
        u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
        u16::from_be_bytes([t[14], t[15]]),
        t.len().saturating_sub(thl)
    )
}

impl Sim {
    pub fn new(pool: Arc<Mempool>, s: SimSetup) -> Sim {
        let pool_base = pool.in_use();
        let now = SEC; // start away from zero
        let (wire, dev, peer) = SimWire::pair(s.to_peer, s.to_stack, pool.clone(), STACK_MAC);
        wire.borrow_mut().set_now(now);
        let stack = Stack::new(dev, pool.clone(), s.stack, now);
        let mut dev = PeerDev { peer };
        let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(PEER_MAC.0)));
        cfg.random_seed = s.to_peer.seed;
        let mut iface = Interface::new(cfg, &mut dev, ts(now));
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::Ipv4(PEER_IP), 24)).unwrap();
        });
        let mut sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; s.peer_rx_buf]),
            tcp::SocketBuffer::new(vec![0u8; 4096]),
        );
        if s.listen {
            sock.listen(PORT).unwrap();
        }
        if s.peer_timestamps {
            sock.set_tsval_generator(Some(tsval));
        }
        let mut sockets = SocketSet::new(Vec::new());
        let sock = sockets.add(sock);
        Sim {
            wire,
            stack,
            iface,
            dev,
            sockets,
            sock,
            pool,
            now,
            max_step: s.max_step,
            received: Vec::new(),
            pool_base,
            trace: std::env::var_os("LR_SIM_TRACE").is_some(),
        }
    }

    pub fn peer_sock(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(self.sock)
    }

    /// One round at the current time: arrivals, the stack, smoltcp.
    pub fn tick(&mut self) {
        VIRT_MS.with(|c| c.set((self.now / MS) as u32));
        self.wire.borrow_mut().deliver_due(self.now);
        if self.trace {
            let w = self.wire.borrow();
            for (d, name) in [(Dir::ToPeer, ">"), (Dir::ToStack, "<")] {
                for f in w.frames(d).take(w.pending(d)) {
                    eprintln!("{:>12} {name} {}", self.now / 1000, describe(f));
                }
            }
        }
        self.stack.poll(self.now);
        self.iface
            .poll(ts(self.now), &mut self.dev, &mut self.sockets);
    }

    /// Moves the clock to the next thing that can happen (at most `max_step` ahead).
    pub fn advance(&mut self) {
        let now = self.now;
        let mut t = now + self.max_step;
        if let Some(w) = self.wire.borrow().next_event_time() {
            t = t.min(w);
        }
        if let Some(d) = self.iface.poll_delay(ts(now), &self.sockets) {
            t = t.min(now + d.total_micros() * 1000);
        }
        if self.stack.tx_backlog() > 0 {
            t = now;
        }
        self.now = t.max(now + 1000);
    }

    /// Reads whatever smoltcp has for the app.
    pub fn read_peer(&mut self) -> usize {
        let mut n = 0;
        let s = self.sockets.get_mut::<tcp::Socket>(self.sock);
        while s.can_recv() {
            let got = s.recv(|b| (b.len(), b.to_vec())).unwrap();
            n += got.len();
            self.received.extend_from_slice(&got);
        }
        n
    }

    pub fn connect(&mut self) -> ConnId {
        self.stack
            .connect(SocketAddrV4::new(PEER_IP, PORT), None)
            .expect("connect")
    }

    pub fn stats(&self) -> StackStats {
        self.stack.stats()
    }

    pub fn link(&self, d: Dir) -> LinkStats {
        self.wire.borrow().stats(d)
    }

    /// Runs until `done` or `limit` of virtual time has passed; returns whether `done`.
    pub fn run_until(&mut self, limit: Nanos, mut done: impl FnMut(&mut Sim) -> bool) -> bool {
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
}

/// What a transfer saw.
#[derive(Debug)]
pub struct Outcome {
    /// The connection's last snapshot before it was freed.
    pub info: TcpInfo,
    pub stats: StackStats,
    pub to_peer: LinkStats,
    pub to_stack: LinkStats,
    /// Virtual time from connect to the slot being freed.
    pub elapsed: Nanos,
    /// The peer socket saw FIN.
    pub peer_fin: bool,
    /// States our connection went through, in order.
    pub states: Vec<State>,
}

/// Connects, sends `data`, closes, reads everything with smoltcp, closes smoltcp's side
/// once it has seen our FIN, and runs until our connection is freed. Panics with context
/// on any failure; checks the payload's SHA-256 and the pool's accounting.
pub fn transfer(sim: &mut Sim, data: &[u8], limit: Nanos, what: &str) -> Outcome {
    let id = sim.connect();
    transfer_on(sim, id, data, 0, limit, what)
}

/// `transfer` on an open connection, from byte `off` of `data` (what smoltcp already
/// received counts: `sim.received` must hold `data[..]` up to what was sent).
pub fn transfer_on(
    sim: &mut Sim,
    id: ConnId,
    data: &[u8],
    off: usize,
    limit: Nanos,
    what: &str,
) -> Outcome {
    let start = sim.now;
    let mut off = off;
    let mut closed = false;
    let mut peer_fin = false;
    let mut peer_closed = false;
    let mut info = sim.stack.info(id).unwrap();
    let mut states = vec![info.state];
    let ok = sim.run_until(limit, |sim| {
        if let Some(i) = sim.stack.info(id) {
            assert_eq!(i.error, None, "{what}: connection failed: {i:?}");
            if states.last() != Some(&i.state) {
                states.push(i.state);
            }
            info = i;
        }
        let mut sent_any = false;
        while off < data.len() {
            match sim.stack.send(id, &data[off..]) {
                Ok(n) => {
                    off += n;
                    sent_any = true;
                }
                Err(IoError::WouldBlock) => break,
                Err(e) => panic!(
                    "{what}: send failed at {off}: {e:?} {:?}",
                    sim.stack.info(id)
                ),
            }
        }
        if sent_any {
            sim.stack.flush();
        }
        if off == data.len() && !closed {
            sim.stack.close(id).expect("close");
            sim.stack.flush();
            closed = true;
        }
        // A connection closed by the app leaves TIME-WAIT to a record and frees its id as it
        // enters it: the event says so (and `info` has nothing more to say).
        let mut evs = [linerate_stack::event::Event::EMPTY; 16];
        loop {
            let n = sim.stack.events(&mut evs);
            for e in evs[..n].iter().filter(|e| e.conn == id) {
                if e.what & linerate_stack::event::FREED != 0 && states.last() != Some(&e.state) {
                    states.push(e.state);
                }
            }
            if n < evs.len() {
                break;
            }
        }
        sim.read_peer();
        let s = sim.peer_sock();
        if closed
            && !peer_closed
            && !s.may_recv()
            && s.state() != tcp::State::Listen
            && s.state() != tcp::State::SynReceived
        {
            peer_fin = true;
            s.close();
            peer_closed = true;
        }
        closed && sim.stack.state(id).is_none()
    });
    let info_now = sim.stack.info(id);
    assert!(ok, "{what}: did not finish in {} ms of virtual time: sent {off}/{} received {} ours {info_now:?} peer {:?} wire {:?} / {:?} stats {:?}", limit / MS, data.len(), sim.received.len(), sim.peer_sock().state(), sim.link(Dir::ToPeer), sim.link(Dir::ToStack), sim.stats());
    // Let smoltcp finish its side (LAST-ACK → CLOSED).
    // (If our ACK of its FIN was lost, its retransmitted FIN meets our RST after TIME-WAIT.)
    sim.run_until(30 * SEC, |sim| {
        sim.peer_sock().state() == tcp::State::Closed
    });
    assert_eq!(sim.received.len(), data.len(), "{what}: byte count");
    assert!(
        sha256(&sim.received) == sha256(data),
        "{what}: SHA-256 of the received bytes differs"
    );
    assert!(states.contains(&State::Established), "{what}: {states:?}");
    assert_eq!(info.error, None, "{what}");
    Outcome {
        info,
        stats: sim.stats(),
        to_peer: sim.link(Dir::ToPeer),
        to_stack: sim.link(Dir::ToStack),
        elapsed: sim.now - start,
        peer_fin,
        states,
    }
}
