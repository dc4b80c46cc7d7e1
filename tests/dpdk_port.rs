//! The real DPDK path without a network: EAL, hugepage mempool, mbuf ownership, and net_null /
//! net_ring ports. Runs in plain `cargo test` (as root, like every DPDK program).
mod common;

use linerate::dpdk::{DpdkError, Mbuf, Mempool, Port, PortConfig};
use linerate_proto::wire::ethernet::{EthernetFrame, MacAddr};
use std::sync::Arc;

fn eal() -> linerate::dpdk::Eal {
    common::eal(&[
        "net_null0",
        "net_ring0",
        "net_null1",
        "net_null2",
        "net_null3",
    ])
}

fn frame(pool: &Mempool, len: usize, seq: u32) -> Mbuf {
    let mut m = pool.alloc().expect("pool has room");
    let buf = m.append(len).expect("tailroom for a full frame");
    buf.fill(0);
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    eth.set_dst(MacAddr::BROADCAST);
    eth.set_src(MacAddr([0x02, 0, 0xc6, 0x12, 0, 1]));
    eth.set_ethertype(0x88b5); // IEEE local experimental
    buf[14..18].copy_from_slice(&seq.to_be_bytes());
    m
}

#[test]
fn net_null_tx_counts_every_frame_and_returns_every_mbuf() {
    let eal = eal();
    let pool = common::pool(&eal, "t_null", 4096);
    let port = Port::open(
        &eal,
        "net_null0",
        &PortConfig {
            rx_desc: 512,
            tx_desc: 512,
            ..Default::default()
        },
        pool.clone(),
    )
    .expect("net_null starts");
    assert_eq!(port.driver(), "net_null");
    let mut q = port.queue(0).unwrap();
    let start_in_use = pool.in_use();
    port.reset_stats();

    const N: usize = 10_000;
    const LEN: usize = 1514;
    let mut batch = Vec::with_capacity(32);
    let mut sent = 0;
    while sent < N {
        while batch.len() < 32 && sent + batch.len() < N {
            batch.push(frame(&pool, LEN, (sent + batch.len()) as u32));
        }
        sent += q.tx_burst(&mut batch);
    }
    assert!(batch.is_empty());
    let st = port.stats().unwrap();
    assert_eq!(st.opackets, N as u64, "every frame counted by the PMD");
    // net_null and net_ring count packets but not bytes in 22.11.
    assert_eq!(st.oerrors, 0);
    assert_eq!(pool.in_use(), start_in_use, "every mbuf back in the pool");
    // xstats are readable by name and agree with the basic counters.
    let xs = port.xstats().unwrap();
    assert!(!xs.is_empty());
    assert_eq!(port.xstat("tx_good_packets").unwrap(), Some(N as u64));
}

#[test]
fn net_ring_loops_frames_back_byte_exact() {
    let eal = eal();
    let pool = common::pool(&eal, "t_ring", 1024);
    let port = Port::open(
        &eal,
        "net_ring0",
        &PortConfig {
            rx_desc: 256,
            tx_desc: 256,
            ..Default::default()
        },
        pool.clone(),
    )
    .expect("net_ring starts");
    let mut q = port.queue(0).unwrap();
    let base = pool.in_use();
    let mut batch: Vec<Mbuf> = (0..20).map(|i| frame(&pool, 60 + i, i as u32)).collect();
    let want: Vec<Vec<u8>> = batch.iter().map(|m| m.data().to_vec()).collect();
    assert_eq!(q.tx_burst(&mut batch), 20);
    let mut rx = Vec::new();
    while q.rx_burst(&mut rx) > 0 {}
    let got: Vec<Vec<u8>> = rx.iter().map(|m| m.data().to_vec()).collect();
    assert_eq!(got, want, "frames come back in order, byte for byte");
    drop(rx);
    assert_eq!(pool.in_use(), base);
    let st = port.stats().unwrap();
    assert_eq!(st.opackets, 20);
    assert_eq!(st.ipackets, 20);
}

#[test]
fn mbuf_clone_is_a_reference_not_a_copy() {
    let eal = eal();
    let pool = common::pool(&eal, "t_clone", 64);
    let base = pool.in_use();
    let mut m = pool.alloc().unwrap();
    m.append(100).unwrap().copy_from_slice(&[7u8; 100]);
    let hr = m.headroom();
    assert_eq!(hr, linerate::dpdk::MBUF_HEADROOM as usize);
    let c = m.clone();
    assert_eq!(c.addr(), m.addr(), "same mbuf");
    assert_eq!(m.refcnt(), 2);
    assert_eq!(pool.in_use(), base + 1, "clone allocates nothing");
    // While shared, nobody may write.
    assert!(m.data_mut().is_none());
    assert!(m.prepend(10).is_none());
    assert!(m.append(1).is_none());
    drop(c);
    assert_eq!(m.refcnt(), 1);
    let h = m.prepend(54).expect("headroom for headers");
    h.fill(0xab);
    assert_eq!(m.len(), 154);
    assert_eq!(m.headroom(), hr - 54);
    assert!(m.adj(54));
    assert_eq!(m.data(), &[7u8; 100][..]);
    assert!(m.trim(40));
    assert_eq!(m.len(), 60);
    assert!(!m.trim(61), "cannot trim more than is there");
    assert!(m.prepend(hr + 1).is_none(), "headroom is bounded");
    drop(m);
    assert_eq!(pool.in_use(), base);
}

#[test]
fn tsc_clock_counts_nanoseconds() {
    let _eal = eal();
    let clock = linerate::TscClock::new();
    let (t0, w0) = (clock.now(), std::time::Instant::now());
    std::thread::sleep(std::time::Duration::from_millis(30));
    let (t1, w1) = (clock.now(), w0.elapsed());
    let tsc_ns = t1 - t0;
    let wall_ns = w1.as_nanos() as u64;
    // Units, not speed: the TSC reading must agree with the wall clock to a few percent.
    assert!(
        tsc_ns * 100 >= wall_ns * 95 && tsc_ns * 100 <= wall_ns * 105,
        "TSC says {tsc_ns} ns where the wall clock says {wall_ns} ns"
    );
}

#[test]
fn free_bulk_drops_one_reference_each() {
    let eal = eal();
    let pool = common::pool(&eal, "t_bulk", 64);
    let base = pool.in_use();
    let mut v: Vec<Mbuf> = (0..10).map(|_| pool.alloc().unwrap()).collect();
    // One of them is also held elsewhere (the NIC's reference to a segment in flight).
    let held = v[3].clone();
    assert_eq!(pool.in_use(), base + 10);
    let cap = v.capacity();
    Mbuf::free_bulk(&mut v);
    assert!(v.is_empty());
    assert_eq!(v.capacity(), cap, "the vector keeps its room");
    assert_eq!(
        pool.in_use(),
        base + 1,
        "the shared one stays until its last reference"
    );
    assert_eq!(held.refcnt(), 1);
    drop(held);
    assert_eq!(pool.in_use(), base);
    Mbuf::free_bulk(&mut v); // empty: nothing happens
    assert_eq!(pool.in_use(), base);
}

#[test]
fn pool_exhaustion_is_backpressure_not_a_crash() {
    let eal = eal();
    let pool = common::pool(&eal, "t_small", 16);
    let mut held = Vec::new();
    while let Some(m) = pool.alloc() {
        held.push(m);
    }
    assert_eq!(held.len(), 16);
    assert!(pool.alloc().is_none());
    let mut more = Vec::new();
    assert!(
        !pool.alloc_bulk(&mut more, 4),
        "bulk alloc is all or nothing"
    );
    assert!(more.is_empty());
    held.truncate(10);
    assert!(pool.alloc_bulk(&mut more, 4));
    assert_eq!(more.len(), 4);
    drop(held);
    drop(more);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn errors_name_what_to_fix() {
    let eal = eal();
    let pool = common::pool(&eal, "t_err", 64);
    match Port::open(&eal, "net_nope7", &PortConfig::default(), pool.clone()) {
        Err(e @ DpdkError::NoSuchPort { .. }) => {
            let s = e.to_string();
            assert!(s.contains("net_nope7") && s.contains("net_null0"), "{s}");
            assert!(!s.contains('\n'));
        }
        other => panic!("expected NoSuchPort, got {other:?}"),
    }
    // A pool too small for the RX rings it must fill.
    let tiny = common::pool(&eal, "t_tiny", 8);
    let e = Port::open(
        &eal,
        "net_null0",
        &PortConfig {
            rx_desc: 1024,
            ..Default::default()
        },
        tiny,
    )
    .unwrap_err();
    assert!(e.to_string().contains("too small"), "{e}");
    // An impossible pool size is a clean error carrying rte_errno's text.
    let e = Mempool::new(&eal, "t_huge", 4_000_000, 0, 2176, None).unwrap_err();
    assert!(matches!(e, DpdkError::Mempool { .. }), "{e:?}");
    assert!(!e.to_string().is_empty() && !e.to_string().contains('\n'));
    // A port that fails to come up names the step and carries DPDK's reason: here ethdev
    // refuses to reconfigure a port that is already running.
    let big = common::pool(&eal, "t_busy", 2048);
    let running =
        Port::open(&eal, "net_null2", &PortConfig::default(), big.clone()).expect("first open");
    let e = Port::open(&eal, "net_null2", &PortConfig::default(), big).unwrap_err();
    let s = e.to_string();
    assert!(
        matches!(
            e,
            DpdkError::Port {
                op: "configure",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        s.starts_with("port ") && s.contains("configure failed") && !s.contains('\n'),
        "{s}"
    );
    drop(running);
    // A second EAL in one process is refused, not undefined behaviour.
    assert_eq!(
        linerate::dpdk::Eal::init(&["--no-pci"]).unwrap_err(),
        DpdkError::EalAlreadyInitialized
    );
    drop(Arc::clone(&pool));
}

/// The whole stack on a real DPDK port (net_null) with the in-process ACK peer: connect,
/// 32 MiB out, every byte acknowledged, FIN exchanged, every mbuf back.
#[test]
fn stack_over_net_null_with_ack_peer() {
    use linerate::DpdkDevice;
    use linerate::{Stack, StackConfig, State, TscClock};
    use linerate_stack::peer::AckPeer;
    use std::net::{Ipv4Addr, SocketAddrV4};
    let eal = eal();
    let pool = common::pool(&eal, "t_peer", 16_384);
    let port = Port::open(
        &eal,
        "net_null1",
        &PortConfig {
            rx_desc: 512,
            tx_desc: 512,
            ..Default::default()
        },
        pool.clone(),
    )
    .unwrap();
    let base = pool.in_use();
    let clock = TscClock::new();
    let peer_ip = Ipv4Addr::new(198, 18, 0, 2);
    let dev = AckPeer::new(
        DpdkDevice::new(port.queue(0).unwrap()).unwrap(),
        pool.clone(),
        Ipv4Addr::new(198, 18, 0, 1),
        peer_ip,
    );
    let mut cfg = StackConfig::new("198.18.0.1/24".parse().unwrap());
    cfg.tcp.time_wait = 0;
    let mut stack = Stack::new(dev, pool.clone(), cfg, clock.now());
    let id = stack
        .connect(SocketAddrV4::new(peer_ip, 5201), None)
        .unwrap();
    let chunk = vec![0x5au8; 64 * 1024];
    let total: usize = 32 << 20;
    let mut sent = 0;
    let mut closed = false;
    let t0 = std::time::Instant::now();
    while stack.state(id).is_some() {
        stack.poll(clock.now());
        if stack.state(id) == Some(State::Established) && sent < total {
            if let Ok(n) = stack.send(id, &chunk[..chunk.len().min(total - sent)]) {
                sent += n;
            }
        }
        if sent == total && !closed {
            stack.close(id).unwrap();
            closed = true;
        }
        assert!(t0.elapsed().as_secs() < 60, "{:?}", stack.info(id));
    }
    let st = stack.stats();
    assert_eq!(st.tcp.bytes_acked, total as u64);
    assert_eq!(st.tcp.retrans_segs, 0);
    assert_eq!(st.conn_errors, 0);
    assert_eq!(
        stack.device().stats.data_bytes,
        total as u64,
        "the peer saw every byte in order"
    );
    assert_eq!(st.drops.total(), 0, "{:?}", st.drops);
    assert!(port.stats().unwrap().opackets >= (total / 1448) as u64);
    // The peer answers with ACKs of 66 bytes (Ethernet + IPv4 + TCP + timestamps) and one
    // 42-byte ARP reply: on average well over 54 bytes a frame.
    assert!(st.dev.rx_frames > 0);
    assert!(
        st.dev.rx_bytes >= st.dev.rx_frames * 54,
        "rx bytes counted: {:?}",
        st.dev
    );
    drop(stack);
    assert_eq!(pool.in_use(), base, "every mbuf back in the pool");
}

/// The cached route is checked against the table's generation (the kernel's `__sk_dst_check`):
/// after a more specific route is added mid-transfer, segments go to the new gateway's MAC.
#[test]
fn route_change_moves_a_connection_to_the_new_gateway() {
    use linerate::DpdkDevice;
    use linerate::Route;
    use linerate::{Stack, StackConfig, State, TscClock};
    use linerate_stack::pcap::{PcapDevice, PcapWriter};
    use linerate_stack::peer::AckPeer;
    use std::net::{Ipv4Addr, SocketAddrV4};
    let eal = eal();
    let pool = common::pool(&eal, "t_route", 8192);
    let port = Port::open(
        &eal,
        "net_null3",
        &PortConfig {
            rx_desc: 512,
            tx_desc: 512,
            ..Default::default()
        },
        pool.clone(),
    )
    .unwrap();
    let file = std::env::temp_dir().join(format!("lr-route-{}.pcap", std::process::id()));
    let clock = TscClock::new();
    let dst = Ipv4Addr::new(198, 19, 0, 2);
    let inner = PcapDevice::new(
        DpdkDevice::new(port.queue(0).unwrap()).unwrap(),
        Some(PcapWriter::create(&file, 0).unwrap()),
    );
    let dev = AckPeer::new(inner, pool.clone(), Ipv4Addr::new(198, 18, 0, 1), dst);
    let (gw1, gw2) = (
        Ipv4Addr::new(198, 18, 0, 254),
        Ipv4Addr::new(198, 18, 0, 253),
    );
    let (mac1, mac2) = (
        MacAddr([2, 0, 0, 0, 0, 0xfe]),
        MacAddr([2, 0, 0, 0, 0, 0xfd]),
    );
    let mut cfg = StackConfig::new("198.18.0.1/24".parse().unwrap());
    cfg.gateway = Some(gw1);
    cfg.static_neigh = vec![(gw1, mac1), (gw2, mac2)];
    cfg.tcp.nodelay = true;
    let mut stack = Stack::new(dev, pool.clone(), cfg, clock.now());
    let id = stack.connect(SocketAddrV4::new(dst, 5201), None).unwrap();
    let chunk = [7u8; 1448];
    let mut sent = 0;
    let mut switched = false;
    let acked = |stack: &Stack<_>| stack.info(id).unwrap().counters.bytes_acked;
    let t0 = std::time::Instant::now();
    while acked(&stack) < 400 * 1448 && t0.elapsed() < std::time::Duration::from_secs(10) {
        stack.poll(clock.now());
        if sent < 400
            && stack.state(id) == Some(State::Established)
            && stack.send(id, &chunk).is_ok()
        {
            sent += 1;
        }
        // Switch once 200 segments are acknowledged (they went to the old gateway): a count
        // of writes would say nothing of what had left.
        if acked(&stack) >= 200 * 1448 && !switched {
            stack.routes_mut().add(Route {
                dst: "198.19.0.0/24".parse().unwrap(),
                gateway: Some(gw2),
            });
            switched = true;
        }
    }
    // Read the capture back: count data frames per destination MAC, in order.
    drop(stack);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).ok();
    let mut off = 24;
    let mut seen = Vec::new();
    while off + 16 <= bytes.len() {
        let cap = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
        let f = &bytes[off + 16..off + 16 + cap];
        if f.len() > 1000 && f[12..14] == [8, 0] {
            seen.push(MacAddr(f[0..6].try_into().unwrap()));
        }
        off += 16 + cap;
    }
    assert!(
        seen.len() >= 400,
        "every data segment captured ({})",
        seen.len()
    );
    let first_new = seen
        .iter()
        .position(|m| *m == mac2)
        .expect("segments went to the new gateway");
    assert!(first_new >= 200, "the first part went to the old gateway");
    assert!(seen[..first_new].iter().all(|m| *m == mac1));
    assert!(
        seen[first_new..].iter().all(|m| *m == mac2),
        "after the change, only the new gateway"
    );
}
