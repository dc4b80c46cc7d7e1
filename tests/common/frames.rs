//! Hand-made frames from the simulated peer (Ethernet, IPv4, TCP and ARP with their checksums
//! right), and `inject`, which sends one to the stack and tells which counters it moved.
use linerate::MS;
use linerate_proto::wire::checksum;
use linerate_sim::harness::{Sim, PEER_IP, PEER_MAC, STACK_IP, STACK_MAC};
use std::net::Ipv4Addr;

/// A frame from the peer to us: Ethernet + IPv4 (+ whatever `l4` holds), checksums right.
pub fn ip_frame(proto: u8, src: Ipv4Addr, dst: Ipv4Addr, l4: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(34 + l4.len());
    f.extend_from_slice(&STACK_MAC.0);
    f.extend_from_slice(&PEER_MAC.0);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let total = (20 + l4.len()) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[6] = 0x40; // DF
    ip[8] = 64;
    ip[9] = proto;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let c = checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(l4);
    f
}

/// A TCP segment (header + options + payload) with a correct checksum.
#[allow(clippy::too_many_arguments)]
pub fn tcp_seg(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    fl: u8,
    wnd: u16,
    opts: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    assert_eq!(opts.len() % 4, 0);
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = (((20 + opts.len()) / 4) as u8) << 4;
    t[13] = fl;
    t[14..16].copy_from_slice(&wnd.to_be_bytes());
    t.extend_from_slice(opts);
    t.extend_from_slice(payload);
    fix_tcp_checksum(&mut t, PEER_IP, STACK_IP);
    t
}

pub fn fix_tcp_checksum(t: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) {
    t[16] = 0;
    t[17] = 0;
    let ph = checksum::pseudo_header_v4(src, dst, 6, t.len() as u16);
    let c = checksum::fold(checksum::sum(t, ph));
    t[16..18].copy_from_slice(&c.to_be_bytes());
}

pub fn arp_frame(
    op: u16,
    sender_mac: [u8; 6],
    sender_ip: Ipv4Addr,
    target_ip: Ipv4Addr,
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&sender_mac);
    f.extend_from_slice(&0x0806u16.to_be_bytes());
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&sender_mac);
    f.extend_from_slice(&sender_ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target_ip.octets());
    f
}

/// Injects one frame from the peer and runs a little; returns the stack's drop/neigh
/// counters' change as (drops, neigh).
pub fn inject(sim: &mut Sim, f: &[u8]) -> (linerate::RxDrops, linerate::NeighStats) {
    let before = sim.stats();
    sim.dev.peer.send(f);
    sim.run_until(MS, |_| false);
    let after = sim.stats();
    (
        diff_drops(&after.drops, &before.drops),
        diff_neigh(&after.neigh, &before.neigh),
    )
}

pub fn diff_drops(a: &linerate::RxDrops, b: &linerate::RxDrops) -> linerate::RxDrops {
    linerate::RxDrops {
        malformed: a.malformed - b.malformed,
        bad_ip_checksum: a.bad_ip_checksum - b.bad_ip_checksum,
        bad_tcp_checksum: a.bad_tcp_checksum - b.bad_tcp_checksum,
        not_for_us: a.not_for_us - b.not_for_us,
        martian_src: a.martian_src - b.martian_src,
        fragments: a.fragments - b.fragments,
        unsupported: a.unsupported - b.unsupported,
        out_of_window: a.out_of_window - b.out_of_window,
        bad_rst: a.bad_rst - b.bad_rst,
        bad_syn: a.bad_syn - b.bad_syn,
        bad_ack: a.bad_ack - b.bad_ack,
        no_ack: a.no_ack - b.no_ack,
        paws: a.paws - b.paws,
        no_conn: a.no_conn - b.no_conn,
        rst_sent: a.rst_sent - b.rst_sent,
    }
}

pub fn diff_neigh(a: &linerate::NeighStats, b: &linerate::NeighStats) -> linerate::NeighStats {
    let mut d = *a;
    d.requests_sent -= b.requests_sent;
    d.replies_sent -= b.replies_sent;
    d.replies_received -= b.replies_received;
    d.resolved -= b.resolved;
    d.failed -= b.failed;
    d.pending_dropped -= b.pending_dropped;
    d.ignored -= b.ignored;
    d.evicted -= b.evicted;
    d
}
