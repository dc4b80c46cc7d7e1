//! Per-core stacks over a simulated two-queue NIC that spreads frames by RSS (Toeplitz with
//! its key, through a RETA), against smoltcp as the receiver. With the NIC's key, every
//! connection picks a source port whose frames land on its own stack's queue, and nothing is
//! redirected but ARP replies. With a wrong key, frames land on the wrong queue and the
//! software redirect hands them to their owner: every transfer is still byte-exact
//! (SHA-256 per connection). ARP learned by one worker reaches the other.
mod common;

use linerate::steer::{mesh, PortSplit, RssSteering, SteerStats, Steered};
use linerate::steer::{Reta, Toeplitz, RSS_KEY_MS};
use linerate::{ConnId, IoError, Ipv4Cidr, Stack, StackConfig, State, MS, SEC};
use linerate_sim::harness::{payload, sha256, ts, PeerDev, PEER_IP, PEER_MAC, PORT, STACK_IP};
use linerate_sim::wire::{SimMultiQueue, SimQueue};
use linerate_sim::{SimConfig, SimPeer, SimWire};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};
use std::net::SocketAddrV4;
use std::sync::Arc;

const WORKERS: usize = 2;
/// Enough connections that under a wrong key some land on the other worker's queue
/// whatever ports the stacks' secret picks (RFC 6056): each does with even odds, so all 16
/// staying home is a 1-in-65 536 chance.
const CONNS_PER_WORKER: usize = 8;
const LEN: usize = 256 << 10;
const STACK_MAC: linerate::MacAddr = linerate::MacAddr([0x02, 0, 0, 0, 0, 0x01]);

struct Conn {
    worker: usize,
    id: ConnId,
    port: u16,
    data: Vec<u8>,
    sent: usize,
    closed: bool,
}

struct Outcome {
    steer: Vec<SteerStats>,
    per_queue: Vec<u64>,
    bytes_acked: Vec<u64>,
}

/// 2 workers × 2 connections of 1 MiB each; the NIC hashes with `nic_key`, the stacks pick
/// ports for `stack_key`.
fn run(nic_key: &[u8], stack_key: &[u8], seed: u64, what: &str) -> Outcome {
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, &format!("workers{seed}"), 16383);
    let mut now = SEC;
    let fwd = SimConfig {
        seed: seed * 2 + 1,
        delay: MS,
        ..Default::default()
    };
    let rev = SimConfig {
        seed: seed * 2 + 2,
        delay: MS,
        ..Default::default()
    };
    let wire = SimWire::new(fwd, rev);
    wire.borrow_mut().set_now(now);
    let reta = Reta::round_robin(128, WORKERS as u16);
    let nic = SimMultiQueue::new(wire.clone(), pool.clone(), STACK_MAC, nic_key, reta.clone())
        .expect("NIC");
    let split = PortSplit::new((32768, 60999), WORKERS).unwrap();
    let toeplitz = Arc::new(Toeplitz::new(stack_key).expect("key"));
    let mut stacks: Vec<Stack<Steered<SimQueue>>> = mesh(WORKERS, 1024)
        .into_iter()
        .enumerate()
        .map(|(i, mp)| {
            let rss = RssSteering {
                toeplitz: toeplitz.clone(),
                reta: reta.clone(),
                queue: i as u16,
            };
            let dev = Steered::new(SimMultiQueue::queue(&nic, i), mp, split).check_rss(rss.clone());
            let mut cfg = StackConfig::new(Ipv4Cidr {
                addr: STACK_IP,
                prefix_len: 24,
            });
            cfg.ephemeral = split.range_of(i);
            cfg.rss = Some(rss);
            cfg.tcp.sndbuf = 256 << 10;
            cfg.tcp.time_wait = 10 * MS;
            cfg.max_conns = 16;
            Stack::new(dev, pool.clone(), cfg, now)
        })
        .collect();

    // smoltcp: one listening socket per connection.
    let mut dev = PeerDev {
        peer: SimPeer::new(wire.clone()),
    };
    let mut icfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(PEER_MAC.0)));
    icfg.random_seed = seed;
    let mut iface = Interface::new(icfg, &mut dev, ts(now));
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(IpAddress::Ipv4(PEER_IP), 24)).unwrap();
    });
    let mut sockets = SocketSet::new(Vec::new());
    let socks: Vec<SocketHandle> = (0..WORKERS * CONNS_PER_WORKER)
        .map(|_| {
            let mut s = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0u8; 256 << 10]),
                tcp::SocketBuffer::new(vec![0u8; 4096]),
            );
            s.listen(PORT).unwrap();
            sockets.add(s)
        })
        .collect();
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); socks.len()];
    let mut port_of_sock: Vec<Option<u16>> = vec![None; socks.len()];

    let mut conns: Vec<Conn> = Vec::new();
    for (w, st) in stacks.iter_mut().enumerate() {
        for k in 0..CONNS_PER_WORKER {
            let id = st
                .connect(SocketAddrV4::new(PEER_IP, PORT), None)
                .unwrap_or_else(|e| panic!("{what}: connect: {e}"));
            let port = st.local_port(id).expect("local port");
            let (lo, hi) = split.range_of(w);
            assert!(
                (lo..=hi).contains(&port),
                "{what}: port {port} outside worker {w}'s slice"
            );
            conns.push(Conn {
                worker: w,
                id,
                port,
                data: payload(seed * 100 + (w * CONNS_PER_WORKER + k) as u64, LEN),
                sent: 0,
                closed: false,
            });
        }
    }

    let end = now + 120 * SEC;
    loop {
        assert!(now < end, "{what}: no finish in 120 s of virtual time");
        wire.borrow_mut().deliver_due(now);
        for st in stacks.iter_mut() {
            st.poll(now);
        }
        iface.poll(ts(now), &mut dev, &mut sockets);
        for c in conns.iter_mut() {
            let st = &mut stacks[c.worker];
            if let Some(i) = st.info(c.id) {
                assert_eq!(i.error, None, "{what}: port {}: {i:?}", c.port);
            }
            while c.sent < c.data.len() {
                match st.send(c.id, &c.data[c.sent..]) {
                    Ok(n) => c.sent += n,
                    Err(IoError::WouldBlock) => break,
                    Err(e) => panic!("{what}: send on port {}: {e:?}", c.port),
                }
            }
            if c.sent == c.data.len() && !c.closed {
                st.close(c.id).expect("close");
                c.closed = true;
            }
            st.flush();
        }
        for (i, h) in socks.iter().enumerate() {
            let s = sockets.get_mut::<tcp::Socket>(*h);
            if port_of_sock[i].is_none() {
                port_of_sock[i] = s.remote_endpoint().map(|e| e.port);
            }
            while s.can_recv() {
                s.recv(|b| {
                    got[i].extend_from_slice(b);
                    (b.len(), ())
                })
                .unwrap();
            }
            if !s.may_recv() && s.state() == tcp::State::CloseWait {
                s.close();
            }
        }
        let all_done = conns.iter().all(|c| {
            stacks[c.worker]
                .info(c.id)
                .is_none_or(|i| i.state == State::Closed || i.state == State::TimeWait)
        }) && got.iter().map(Vec::len).sum::<usize>() == conns.len() * LEN;
        if all_done {
            break;
        }
        let mut t = now + MS;
        if let Some(w) = wire.borrow().next_event_time() {
            t = t.min(w);
        }
        if let Some(d) = iface.poll_delay(ts(now), &sockets) {
            t = t.min(now + d.total_micros() * 1000);
        }
        if stacks.iter().any(|s| s.tx_backlog() > 0) {
            t = now;
        }
        now = t.max(now + 1000);
        wire.borrow_mut().set_now(now);
    }

    for c in &conns {
        let i = port_of_sock
            .iter()
            .position(|p| *p == Some(c.port))
            .unwrap_or_else(|| panic!("{what}: no receiver saw port {}", c.port));
        assert_eq!(got[i].len(), c.data.len(), "{what}: port {}", c.port);
        assert_eq!(
            sha256(&got[i]),
            sha256(&c.data),
            "{what}: port {} bytes",
            c.port
        );
    }
    let per_queue = nic.borrow().per_queue.clone();
    Outcome {
        steer: stacks.iter().map(|s| s.device().stats).collect(),
        per_queue,
        bytes_acked: stacks.iter().map(|s| s.stats().tcp.bytes_acked).collect(),
    }
}

#[test]
fn steered_ports_keep_every_connection_on_its_queue() {
    let o = run(&RSS_KEY_MS, &RSS_KEY_MS, 1, "right key");
    eprintln!("right key: {:?} queues {:?}", o.steer, o.per_queue);
    for (w, s) in o.steer.iter().enumerate() {
        assert_eq!(
            s.redirected_out, s.arp_shared,
            "worker {w}: only ARP is passed on: {s:?}"
        );
        assert_eq!(s.redirect_drops, 0, "worker {w}: {s:?}");
        assert_eq!(s.syn_acks_misrouted, 0, "worker {w}: {s:?}");
    }
    // Both workers carried their connections' data, and both queues received frames.
    let want = (CONNS_PER_WORKER * LEN) as u64;
    assert!(
        o.bytes_acked.iter().all(|&b| b == want),
        "{:?}",
        o.bytes_acked
    );
    assert!(o.per_queue.iter().all(|&n| n > 20), "{:?}", o.per_queue);
}

#[test]
fn wrong_key_is_repaired_by_redirection() {
    // Steering computed for another key: RSS puts many frames on the other worker's queue.
    let wrong = [0x6d, 0x5a].repeat(20);
    let o = run(&RSS_KEY_MS, &wrong, 2, "wrong key");
    eprintln!("wrong key: {:?} queues {:?}", o.steer, o.per_queue);
    let out: u64 = o
        .steer
        .iter()
        .map(|s| s.redirected_out - s.arp_shared)
        .sum();
    let inn: u64 = o.steer.iter().map(|s| s.redirected_in).sum();
    let arp: u64 = o.steer.iter().map(|s| s.arp_shared).sum();
    assert!(out > 20, "frames were redirected: {:?}", o.steer);
    // The run-time check saw it: SYN-ACKs arrived where the stacks' key did not send them.
    let misrouted: u64 = o.steer.iter().map(|s| s.syn_acks_misrouted).sum();
    assert!(misrouted > 0, "{:?}", o.steer);
    assert_eq!(
        inn,
        out + arp,
        "every frame passed on arrived: {:?}",
        o.steer
    );
    let want = (CONNS_PER_WORKER * LEN) as u64;
    assert!(
        o.bytes_acked.iter().all(|&b| b == want),
        "{:?}",
        o.bytes_acked
    );
}

#[test]
fn a_route_change_reaches_every_worker() {
    use linerate::steer::{control, Missed, RouteChange};
    use linerate::Route;
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, "workers_routes", 8191);
    let wire = SimWire::new(SimConfig::default(), SimConfig::default());
    let mut stacks: Vec<_> = (0..WORKERS)
        .map(|_| {
            let dev = linerate_sim::SimDevice::new(wire.clone(), pool.clone(), STACK_MAC);
            let cfg = StackConfig::new(Ipv4Cidr {
                addr: STACK_IP,
                prefix_len: 24,
            });
            Stack::new(dev, pool.clone(), cfg, SEC)
        })
        .collect();
    let far = "198.20.1.1".parse().unwrap();
    let gw = "198.18.0.254".parse().unwrap();
    let (ctl, ports) = control(WORKERS, 1);
    for st in stacks.iter_mut() {
        assert_eq!(st.routes_mut().lookup(far), None, "no route yet");
    }
    let route = Route {
        dst: "198.20.0.0/16".parse().unwrap(),
        gateway: Some(gw),
    };
    ctl.broadcast(RouteChange::Add(route))
        .expect("every inbox has room");
    // A second change before the workers applied the first: every inbox (depth 1) is full,
    // so none takes it, and the error names them all.
    let again = ctl.broadcast(RouteChange::Remove(route.dst));
    assert_eq!(again, Err(Missed(vec![0, 1])));
    for (st, p) in stacks.iter_mut().zip(&ports) {
        assert_eq!(p.apply(st), 1);
        assert_eq!(st.routes_mut().lookup(far).map(|h| h.addr), Some(gw));
        assert_eq!(p.apply(st), 0, "nothing left");
    }
    ctl.broadcast(RouteChange::Remove(route.dst)).unwrap();
    for (st, p) in stacks.iter_mut().zip(&ports) {
        assert_eq!(p.apply(st), 1);
        assert_eq!(st.routes_mut().lookup(far), None, "removed on every worker");
    }
    // Workers that are gone are reported too.
    drop(ports);
    assert_eq!(
        ctl.broadcast(RouteChange::Add(route)),
        Err(Missed(vec![0, 1]))
    );
}
