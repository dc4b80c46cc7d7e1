//! Hostile hosts on the stack's own subnet, over the simulated wire (real mbufs, smoltcp as
//! the honest peer). Proves that:
//!
//! - spoofed ARP from 2 000 on-link senders, and spoofed SYNs whose RSTs need ARP entries of
//!   their own, cannot fill the neighbour table for good: entries no connection uses are
//!   evicted (`NeighStats::evicted`), a `connect` to a new neighbour after the flood
//!   succeeds and completes its transfer, the connection that was open all along keeps its
//!   next hop and delivers every byte (SHA-256 checked), and a minute later garbage
//!   collection has brought the table back under Linux's `gc_thresh1`;
//! - IPv4 from a martian source (limited or directed broadcast, the subnet's network
//!   address, multicast, 0/8, loopback, our own addresses) is counted under
//!   `RxDrops::martian_src` and goes no further: no RST answers it, no neighbour entry is
//!   made for it, an open connection does not see it; and ARP from such senders is ignored
//!   (no entry, no reply).
mod common;

use common::frames::*;
use linerate::{ConnId, IoError, NeighState, RxDrops, State};
use linerate::{Ipv4Cidr, MS, SEC};
use linerate_sim::harness::*;
use linerate_sim::Dir;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::{IpAddress, IpCidr};
use std::net::{Ipv4Addr, SocketAddrV4};

const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// A second address of the smoltcp peer: a neighbour the stack has not met before the flood.
const PEER2_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);

/// The `i`th spoofed on-link sender: 198.19.0.1 onwards, never the /15's broadcast.
fn spoofed(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 19, 0, 1)) + i)
}

fn spoofed_mac(i: u32) -> [u8; 6] {
    let b = i.to_be_bytes();
    [0x02, 0x5f, b[0], b[1], b[2], b[3]]
}

/// One of our connections and the smoltcp socket at its other end.
struct Flow {
    id: ConnId,
    sock: SocketHandle,
    data: Vec<u8>,
    /// Bytes the app may hand over so far (the rest waits for a later phase).
    allowed: usize,
    off: usize,
    closed: bool,
    got: Vec<u8>,
    peer_closed: bool,
}

impl Flow {
    fn new(id: ConnId, sock: SocketHandle, data: Vec<u8>, allowed: usize) -> Flow {
        Flow {
            id,
            sock,
            data,
            allowed,
            off: 0,
            closed: false,
            got: Vec::new(),
            peer_closed: false,
        }
    }

    /// One step of the app and of smoltcp's reader: hand the stack what it takes, close
    /// after the last byte, read what smoltcp has, close its side after our FIN. True once
    /// every byte has arrived and our connection is freed.
    fn step(&mut self, sim: &mut Sim, what: &str) -> bool {
        assert_eq!(sim.stack.error(self.id), None, "{what}: connection failed");
        while self.off < self.allowed {
            match sim.stack.send(self.id, &self.data[self.off..self.allowed]) {
                Ok(n) => self.off += n,
                Err(IoError::WouldBlock) => break,
                Err(e) => panic!("{what}: send at {}: {e:?}", self.off),
            }
        }
        if self.off == self.data.len() && !self.closed {
            sim.stack.close(self.id).expect("close");
            self.closed = true;
        }
        sim.stack.flush();
        let s = sim.sockets.get_mut::<tcp::Socket>(self.sock);
        while s.can_recv() {
            let got = &mut self.got;
            s.recv(|b| {
                got.extend_from_slice(b);
                (b.len(), ())
            })
            .unwrap();
        }
        let peer_done = !s.may_recv()
            && s.state() != tcp::State::Listen
            && s.state() != tcp::State::SynReceived;
        if self.closed && !self.peer_closed && peer_done {
            s.close();
            self.peer_closed = true;
        }
        self.closed && self.got.len() == self.data.len() && sim.stack.state(self.id).is_none()
    }

    fn check(&self, what: &str) {
        assert_eq!(self.got.len(), self.data.len(), "{what}: byte count");
        assert!(
            sha256(&self.got) == sha256(&self.data),
            "{what}: SHA-256 of the received bytes differs"
        );
    }
}

/// Drains the stack's event queue (the flows read state directly).
fn drain_events(sim: &mut Sim) {
    let mut evs = [linerate::event::Event::EMPTY; 16];
    while sim.stack.events(&mut evs) == evs.len() {}
}

#[test]
fn spoofed_arp_flood_cannot_fill_the_neighbour_table() {
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, "hostile_arp", 4095);
    let mut setup = SimSetup::clean(71);
    // A /15: every spoofed sender is on the subnet, as a host on the LAN could claim.
    setup.stack.ip = Ipv4Cidr {
        addr: STACK_IP,
        prefix_len: 15,
    };
    let mut sim = Sim::new(pool.clone(), setup);
    sim.iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(IpAddress::Ipv4(PEER2_IP), 24)).unwrap();
    });
    let mut sock2 = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; 1 << 20]),
        tcp::SocketBuffer::new(vec![0u8; 4096]),
    );
    sock2.listen(PORT).unwrap();
    let sock2 = sim.sockets.add(sock2);

    // A connection open before the flood, half its data through.
    let len = 4 << 20;
    let a = sim.connect();
    let mut fa = Flow::new(a, sim.sock, payload(71, len), len / 2);
    assert!(sim.run_until(30 * SEC, |sim| {
        drain_events(sim);
        fa.step(sim, "before the flood");
        fa.got.len() == len / 2
    }));
    let peer_entry = sim.stack.neigh().find(PEER_IP).expect("the peer's entry");

    // The flood, while another quarter of its data goes: ARP requests for our address from
    // 2 000 spoofed senders (each would be learnt), and SYNs to a closed port from 500 more
    // (each RST needs an entry for its sender, which never answers).
    fa.allowed = len * 3 / 4;
    let (arp_n, syn_n) = (2000u32, 500u32);
    for chunk in 0..(arp_n + syn_n) / 100 {
        for i in chunk * 100..(chunk + 1) * 100 {
            let f = if i < arp_n {
                arp_frame(1, spoofed_mac(i), spoofed(i), STACK_IP)
            } else {
                let src = spoofed(i);
                let mut t = tcp_seg(4000, 999, i, 0, SYN, 1024, &[], &[]);
                fix_tcp_checksum(&mut t, src, STACK_IP);
                ip_frame(6, src, STACK_IP, &t)
            };
            sim.dev.peer.send(&f);
        }
        sim.run_until(MS, |sim| {
            drain_events(sim);
            fa.step(sim, "during the flood");
            false
        });
    }
    // The open connection's next hop stayed where it was, resolved.
    assert_eq!(sim.stack.state(a), Some(State::Established));
    assert_eq!(sim.stack.neigh().find(PEER_IP), Some(peer_entry));
    let e = sim.stack.neigh().get(peer_entry).unwrap();
    assert!(
        matches!(e.state, NeighState::Reachable | NeighState::Stale),
        "{:?}",
        e.state
    );

    // A new neighbour after the flood: connect must find room, and the transfer complete.
    let b = sim
        .stack
        .connect(SocketAddrV4::new(PEER2_IP, PORT), None)
        .expect("connect to a new neighbour after the flood");
    let st = sim.stats();
    eprintln!("after the flood: {:?} {:?}", st.neigh, st.drops);
    assert!(st.neigh.evicted > 0, "{:?}", st.neigh);
    assert!(st.drops.no_conn >= syn_n as u64, "the SYNs came in");
    let mut fb = Flow::new(b, sock2, payload(72, 1 << 20), 1 << 20);
    fa.allowed = len;
    let done = sim.run_until(120 * SEC, |sim| {
        drain_events(sim);
        let da = fa.step(sim, "the connection open before the flood");
        let db = fb.step(sim, "the connection opened after it");
        da && db
    });
    assert!(
        done,
        "not done: a {}/{} b {}/{} {:?}",
        fa.got.len(),
        len,
        fb.got.len(),
        fb.data.len(),
        sim.stats()
    );
    fa.check("the connection open before the flood");
    fb.check("the connection opened after it");

    // Garbage collection: a minute on, the unused entries have gone down to Linux's
    // gc_thresh1 (128), below which it keeps what it has.
    let evicted = sim.stats().neigh.evicted;
    sim.run_until(70 * SEC, |sim| {
        drain_events(sim);
        false
    });
    let n = sim.stats().neigh;
    assert!(n.evicted > evicted, "{n:?}");
    assert!(sim.stack.neigh().entries().count() < 128, "{n:?}");
    let base = sim.pool_base;
    drop(sim);
    assert_eq!(pool.in_use(), base);
}

/// Sources no packet may come from, each with its kind: broadcast (limited, directed, the
/// network address), multicast, 0/8, loopback, and ours (the primary and the source range).
const MARTIANS: &[(&str, Ipv4Addr)] = &[
    ("limited broadcast", Ipv4Addr::BROADCAST),
    ("directed broadcast", Ipv4Addr::new(198, 18, 0, 255)),
    ("network address", Ipv4Addr::new(198, 18, 0, 0)),
    ("multicast", Ipv4Addr::new(224, 0, 0, 1)),
    ("this network", Ipv4Addr::UNSPECIFIED),
    ("loopback", Ipv4Addr::LOCALHOST),
    ("our address", STACK_IP),
    ("our source range", Ipv4Addr::new(198, 18, 0, 11)),
];

#[test]
fn martian_sources_are_counted_and_reach_no_connection() {
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, "hostile_martian", 4095);
    let mut setup = SimSetup::clean(73);
    // A default route, so that an RST to any of them would have somewhere to go.
    setup.stack.gateway = Some(PEER_IP);
    setup.stack.src_range = Some((Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 12)));
    let mut sim = Sim::new(pool.clone(), setup);
    let id = sim.connect();
    assert!(sim.run_until(SEC, |sim| {
        sim.stack.state(id) == Some(State::Established)
            && sim.peer_sock().state() == tcp::State::Established
    }));
    sim.run_until(50 * MS, |_| false);
    // Our end as the peer sees it: an address of the source range, an ephemeral port.
    let ours = sim.peer_sock().remote_endpoint().expect("connected");
    let IpAddress::Ipv4(lip) = ours.addr;
    let lport = ours.port;
    let martian = RxDrops {
        martian_src: 1,
        ..Default::default()
    };
    let sent_before = sim.link(Dir::ToPeer).sent;
    for &(kind, src) in MARTIANS {
        // A SYN to a closed port: before, counted for no connection and answered with RST.
        let mut t = tcp_seg(4000, 999, 1, 0, SYN, 1024, &[], &[]);
        fix_tcp_checksum(&mut t, src, STACK_IP);
        let (d, n) = inject(&mut sim, &ip_frame(6, src, STACK_IP, &t));
        assert_eq!(d, martian, "SYN from {kind} {src}");
        assert_eq!(n, Default::default(), "SYN from {kind} {src}");
        // An RST to the open connection's address and ports.
        let mut t = tcp_seg(PORT, lport, 0, 0, RST | ACK, 0, &[], &[]);
        fix_tcp_checksum(&mut t, src, lip);
        let (d, _) = inject(&mut sim, &ip_frame(6, src, lip, &t));
        assert_eq!(d, martian, "RST from {kind} {src}");
        // ARP from it: not learnt, not answered.
        if src != Ipv4Addr::UNSPECIFIED && src != STACK_IP {
            let (d, n) = inject(
                &mut sim,
                &arp_frame(1, [0x02, 7, 7, 7, 7, 7], src, STACK_IP),
            );
            assert_eq!(d, RxDrops::default(), "ARP from {kind} {src}");
            assert_eq!(
                (n.ignored, n.replies_sent, n.resolved),
                (1, 0, 0),
                "ARP from {kind} {src}: {n:?}"
            );
        }
        assert!(
            sim.stack.neigh().find(src).is_none(),
            "{kind} {src} got a neighbour entry"
        );
    }
    // Nothing went out in answer to any of it (the connection was idle).
    assert_eq!(sim.link(Dir::ToPeer).sent, sent_before);
    assert_eq!(sim.stack.state(id), Some(State::Established));
    let data = payload(73, 300_000);
    let out = transfer_on(&mut sim, id, &data, 0, 60 * SEC, "after the martians");
    assert!(out.peer_fin);
    let base = sim.pool_base;
    drop(sim);
    assert_eq!(pool.in_use(), base);
}
