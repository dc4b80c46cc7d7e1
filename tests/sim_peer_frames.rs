//! Hand-made frames from the peer against a live connection: malformed frames are counted
//! and dropped, random frames never panic, a forged timestamp echo sets no RTO, a blind old
//! ACK cannot wedge PAWS, PAWS lapses after 24 idle days, and floods draw only limited
//! replies (RFC 5961 §7). The frames are real DPDK mbufs from a real mempool; only the
//! device is simulated.
mod common;

use common::frames::*;
use linerate::dpdk::Mempool;
use linerate::{ConnId, State};
use linerate::{Nanos, MS, SEC};
use linerate_proto::wire::checksum;
use linerate_sim::harness::*;
use linerate_sim::{Dir, SimConfig, SimRng};
use smoltcp::socket::tcp;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Instant;

fn pool(name: &str) -> Arc<Mempool> {
    let eal = common::eal(&[]);
    common::pool(&eal, name, 4095)
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;
const LPORT: u16 = 40000;

/// An established connection from `LPORT`, with the peer's next sequence number (our
/// rcv_nxt), read from the ACK field of a segment we send.
fn established(sim: &mut Sim) -> (ConnId, u32, u32) {
    let id = sim
        .stack
        .connect(SocketAddrV4::new(PEER_IP, PORT), Some(LPORT))
        .unwrap();
    assert!(
        sim.run_until(SEC, |sim| sim.stack.state(id) == Some(State::Established)
            && sim.peer_sock().state() == tcp::State::Established)
    );
    sim.run_until(50 * MS, |_| false);
    sim.stack.send(id, b"hi").unwrap();
    sim.stack.flush();
    let ack = sim
        .wire
        .borrow()
        .frames(Dir::ToPeer)
        .filter(|f| f.len() >= 54 && f[12..14] == [8, 0] && f[23] == 6)
        .map(|f| {
            let seq = u32::from_be_bytes(f[38..42].try_into().unwrap());
            (
                u32::from_be_bytes(f[42..46].try_into().unwrap()),
                seq.wrapping_add(2),
            )
        })
        .last();
    sim.run_until(100 * MS, |_| false);
    sim.read_peer();
    assert_eq!(sim.received, b"hi");
    sim.received.clear();
    let (ack, our_nxt) = ack.expect("our segment is on the wire");
    (id, ack, our_nxt)
}

#[test]
fn sim_malformed_frames_are_counted_not_fatal() {
    use linerate::RxDrops;
    let pool = pool("malformed");
    let mut sim = Sim::new(pool.clone(), SimSetup::clean(31));
    let (id, rseq, our_nxt) = established(&mut sim);
    let good = |seq: u32, fl: u8, opts: &[u8], pl: &[u8]| {
        ip_frame(
            6,
            PEER_IP,
            STACK_IP,
            &tcp_seg(PORT, LPORT, seq, 0, fl, 1024, opts, pl),
        )
    };
    let one = |f: fn(&mut RxDrops)| {
        let mut d = RxDrops::default();
        f(&mut d);
        d
    };

    // Truncated Ethernet.
    assert_eq!(
        inject(&mut sim, &[0x02, 0, 0, 0, 0, 1, 0x02, 0]).0,
        one(|d| d.malformed = 1)
    );
    // Truncated IPv4 (header cut short).
    let f = good(rseq, ACK, &[], &[]);
    assert_eq!(inject(&mut sim, &f[..14 + 12]).0, one(|d| d.malformed = 1));
    // Bad IP checksum.
    let mut f = good(rseq, ACK, &[], &[]);
    f[14 + 10] ^= 0x55;
    assert_eq!(inject(&mut sim, &f).0, one(|d| d.bad_ip_checksum = 1));
    // Bad TCP checksum.
    let mut f = good(rseq, ACK, &[], b"data");
    let n = f.len();
    f[n - 1] ^= 0x01;
    assert_eq!(inject(&mut sim, &f).0, one(|d| d.bad_tcp_checksum = 1));
    // Bad TCP data offset: 3 (< 5) and 15 (past the segment), checksums right.
    for off in [3u8, 15] {
        let mut t = tcp_seg(PORT, LPORT, rseq, 0, ACK, 1024, &[], &[]);
        t[12] = off << 4;
        fix_tcp_checksum(&mut t, PEER_IP, STACK_IP);
        assert_eq!(
            inject(&mut sim, &ip_frame(6, PEER_IP, STACK_IP, &t)).0,
            one(|d| d.malformed = 1),
            "data offset {off}"
        );
    }
    // Garbage options: length 0, length past the end, MSS of the wrong length.
    for opts in [[2u8, 0, 0, 0], [8, 40, 0, 0], [2, 3, 0, 0]] {
        assert_eq!(
            inject(&mut sim, &good(rseq, ACK, &opts, &[])).0,
            one(|d| d.malformed = 1),
            "options {opts:?}"
        );
    }
    // IPv4 for another address, UDP, a fragment, an unknown EtherType, another MAC.
    let seg = tcp_seg(PORT, LPORT, rseq, 0, ACK, 1024, &[], &[]);
    assert_eq!(
        inject(
            &mut sim,
            &ip_frame(6, PEER_IP, Ipv4Addr::new(198, 18, 0, 9), &seg)
        )
        .0,
        one(|d| d.not_for_us = 1)
    );
    assert_eq!(
        inject(&mut sim, &ip_frame(17, PEER_IP, STACK_IP, &[0; 8])).0,
        one(|d| d.unsupported = 1)
    );
    let mut frag = ip_frame(6, PEER_IP, STACK_IP, &seg);
    frag[14 + 6] = 0x20; // MF
    frag[14 + 10] = 0;
    frag[14 + 11] = 0;
    let c = checksum::checksum(&frag[14..34]);
    frag[24..26].copy_from_slice(&c.to_be_bytes());
    assert_eq!(inject(&mut sim, &frag).0, one(|d| d.fragments = 1));
    let mut other = good(rseq, ACK, &[], &[]);
    other[12] = 0x86;
    other[13] = 0xdd;
    assert_eq!(inject(&mut sim, &other).0, one(|d| d.unsupported = 1));
    let mut other = good(rseq, ACK, &[], &[]);
    other[5] = 0x77;
    assert_eq!(inject(&mut sim, &other).0, one(|d| d.not_for_us = 1));
    // ARP for another IP: ignored, no reply, no entry.
    let (d, n) = inject(
        &mut sim,
        &arp_frame(
            1,
            [0x02, 9, 9, 9, 9, 9],
            Ipv4Addr::new(198, 18, 0, 77),
            Ipv4Addr::new(198, 18, 0, 78),
        ),
    );
    assert_eq!(d, RxDrops::default());
    assert_eq!((n.ignored, n.replies_sent), (1, 0), "{n:?}");
    assert!(sim
        .stack
        .neigh()
        .find(Ipv4Addr::new(198, 18, 0, 77))
        .is_none());
    // Truncated ARP.
    let (_, n) = inject(
        &mut sim,
        &arp_frame(1, [0x02, 9, 9, 9, 9, 9], PEER_IP, STACK_IP)[..30],
    );
    assert_eq!(n.ignored, 1);
    // RST with a wrong (in-window, not exact) sequence number: challenge ACK, no reset.
    let (d, _) = inject(&mut sim, &good(rseq.wrapping_add(100), RST, &[], &[]));
    assert_eq!(d, one(|d| d.bad_rst = 1));
    // RST far outside the window.
    let (d, _) = inject(&mut sim, &good(rseq.wrapping_add(1 << 30), RST, &[], &[]));
    assert_eq!((d.bad_rst, d.out_of_window), (1, 1));
    // SYN on the established connection: challenge ACK.
    let (d, _) = inject(&mut sim, &good(rseq, SYN, &[], &[]));
    assert_eq!(d.bad_syn, 1);
    // A segment without ACK.
    let (d, _) = inject(&mut sim, &good(rseq, 0, &[], &[]));
    assert_eq!(d.no_ack, 1);
    // ACK for data never sent.
    let t = tcp_seg(
        PORT,
        LPORT,
        rseq,
        our_nxt.wrapping_add(100_000),
        ACK,
        1024,
        &[],
        &[],
    );
    let (d, _) = inject(&mut sim, &ip_frame(6, PEER_IP, STACK_IP, &t));
    assert_eq!(d.bad_ack, 1, "{d:?}");
    // A segment for no connection: counted and answered with RST.
    let t = tcp_seg(PORT, 999, 5, 7, ACK, 1024, &[], &[]);
    let (d, _) = inject(&mut sim, &ip_frame(6, PEER_IP, STACK_IP, &t));
    assert_eq!((d.no_conn, d.rst_sent), (1, 1));
    let t = tcp_seg(PORT, 999, 5, 7, RST | ACK, 1024, &[], &[]);
    let (d, _) = inject(&mut sim, &ip_frame(6, PEER_IP, STACK_IP, &t));
    assert_eq!((d.no_conn, d.rst_sent), (1, 0), "no RST for a RST");
    let _ = FIN;

    // The connection survived all of it: finish a transfer on it.
    assert_eq!(sim.stack.state(id), Some(State::Established));
    assert_eq!(sim.stack.error(id), None);
    let data = payload(31, 300_000);
    let out = transfer_on(&mut sim, id, &data, 0, 60 * SEC, "after malformed");
    assert!(out.peer_fin);
    let base = sim.pool_base;
    drop(sim);
    assert_eq!(pool.in_use(), base);
}

#[test]
fn sim_fuzz_random_frames_never_panic() {
    let pool = pool("fuzz");
    let mut sim = Sim::new(pool.clone(), SimSetup::clean(41));
    let (id, rseq, _) = established(&mut sim);
    let mut rng = SimRng::new(0xf022);
    let t0 = Instant::now();
    let frames = 6000;
    let before = sim.stats().drops.total();
    for i in 0..frames {
        let kind = rng.below(4);
        let f = match kind {
            // Pure noise, any length.
            0 => {
                let mut f = vec![0u8; rng.below(1600) as usize];
                rng.fill(&mut f);
                if rng.chance(0.5) && f.len() >= 6 {
                    f[..6].copy_from_slice(&STACK_MAC.0);
                }
                f
            }
            // Valid Ethernet + IPv4 header, random rest (IP checksum right).
            1 => {
                let mut l4 = vec![0u8; rng.below(200) as usize];
                rng.fill(&mut l4);
                let mut f = ip_frame(6, PEER_IP, STACK_IP, &l4);
                if rng.chance(0.3) {
                    // random IP header bytes too, then a correct checksum
                    let b = 14 + rng.below(20) as usize;
                    f[b] = rng.next_u64() as u8;
                    f[24] = 0;
                    f[25] = 0;
                    let c = checksum::checksum(&f[14..34]);
                    f[24..26].copy_from_slice(&c.to_be_bytes());
                }
                f
            }
            // A TCP segment for our connection with random fields and correct checksums.
            2 => {
                let fl = rng.next_u64() as u8;
                let seq = if rng.chance(0.5) {
                    rseq.wrapping_add(rng.below(3000) as u32).wrapping_sub(1000)
                } else {
                    rng.next_u64() as u32
                };
                let ack = rng.next_u64() as u32;
                let nopt = rng.below(11) as usize * 4;
                let mut opts = vec![0u8; nopt];
                rng.fill(&mut opts);
                let mut pl = vec![0u8; rng.below(100) as usize];
                rng.fill(&mut pl);
                // RST with the exact sequence would legitimately end the connection.
                let fl = if seq == rseq { fl & !RST } else { fl };
                ip_frame(
                    6,
                    PEER_IP,
                    STACK_IP,
                    &tcp_seg(PORT, LPORT, seq, ack, fl, rng.next_u64() as u16, &opts, &pl),
                )
            }
            // ARP with random fields.
            _ => {
                let mut a = arp_frame(
                    rng.below(4) as u16,
                    [0x02, 1, 2, 3, 4, rng.next_u64() as u8],
                    Ipv4Addr::from(rng.next_u64() as u32),
                    if rng.chance(0.5) {
                        STACK_IP
                    } else {
                        Ipv4Addr::from(rng.next_u64() as u32)
                    },
                );
                let n = rng.below(a.len() as u64 + 1) as usize;
                a.truncate(n.max(10));
                a
            }
        };
        sim.dev.peer.send(&f);
        if i % 16 == 0 {
            sim.tick();
            sim.advance();
        }
    }
    sim.run_until(100 * MS, |_| false);
    let st = sim.stats();
    eprintln!(
        "fuzz: {frames} frames in {:?}: drops {:?} neigh {:?} state {:?}",
        t0.elapsed(),
        st.drops,
        st.neigh,
        sim.stack.state(id)
    );
    assert!(
        st.drops.total() > before + frames as u64 / 2,
        "{:?}",
        st.drops
    );
    // Whatever happened to the connection (a random segment may have been a valid reset),
    // the stack still works and gives every mbuf back.
    if let Some(State::Established) = sim.stack.state(id) {
        sim.stack.abort(id).unwrap();
    } else if sim.stack.state(id).is_some() {
        sim.stack.close(id).unwrap();
    }
    sim.run_until(SEC, |sim| sim.stack.connections().count() == 0);
    let base = sim.pool_base;
    drop(sim);
    assert_eq!(pool.in_use(), base);
}

/// The TSval and TSecr of a TCP frame's timestamp option.
fn ts_of(f: &[u8]) -> Option<(u32, u32)> {
    let hl = ((f.get(46)? >> 4) as usize) * 4;
    let mut o = f.get(54..34 + hl)?;
    while let [k, rest @ ..] = o {
        match *k {
            0 => return None,
            1 => o = rest,
            8 if rest.len() >= 9 => {
                let v = u32::from_be_bytes(rest[1..5].try_into().ok()?);
                let e = u32::from_be_bytes(rest[5..9].try_into().ok()?);
                return Some((v, e));
            }
            _ => o = o.get(*o.get(1)? as usize..)?,
        }
    }
    None
}

/// A forged echo cannot set the RTO: against the SACK peer (which echoes timestamps), an
/// ACK that covers a retransmitted segment (so only its TSecr could give an RTT) but echoes
/// a time 100 s old, and then one our clock has not reached, give no sample; the data
/// still counts as acknowledged. (Before: RTO 120 s, the ceiling.)
#[test]
fn sim_forged_tsecr_gives_no_rtt_sample() {
    use linerate_sim::sackpeer::SackSim;
    let mut sim = SackSim::new(pool("tsecr"), SimConfig::default(), SimConfig::default());
    let id = sim
        .stack
        .connect(SocketAddrV4::new(PEER_IP, PORT), None)
        .unwrap();
    let lport = sim.stack.local_port(id).unwrap();
    let run = |sim: &mut SackSim, limit: Nanos, done: &dyn Fn(&SackSim) -> bool| {
        let end = sim.now + limit;
        while sim.now < end {
            sim.tick();
            if done(sim) {
                return true;
            }
            sim.stack.flush();
            sim.advance();
        }
        false
    };
    assert!(run(&mut sim, SEC, &|s| s.stack.state(id)
        == Some(State::Established)));
    sim.stack.send(id, &[7; 1000]).unwrap();
    assert!(run(&mut sim, SEC, &|s| s
        .stack
        .info(id)
        .is_some_and(|i| i.counters.bytes_acked == 1000)));
    let before = sim.stack.info(id).unwrap();
    assert!(before.timestamps, "the peer echoes timestamps");
    // Hold everything to the peer (it stays visible on the wire), so the data is resent.
    sim.wire.borrow_mut().config_mut(Dir::ToPeer).delay = 1000 * SEC;
    sim.stack.send(id, b"data").unwrap();
    assert!(run(&mut sim, 5 * SEC, &|s| s
        .stack
        .info(id)
        .is_some_and(|i| i.counters.retrans_segs >= 1)));
    let last = sim
        .wire
        .borrow()
        .frames(Dir::ToPeer)
        .last()
        .map(|f| f.to_vec())
        .expect("our retransmission is on the wire");
    let seq = u32::from_be_bytes(last[38..42].try_into().unwrap());
    let rseq = u32::from_be_bytes(last[42..46].try_into().unwrap());
    let (ours, echoed) = ts_of(&last).expect("timestamps on our segment");
    let drops = sim.stack.stats().drops;
    for (k, tsecr) in [ours.wrapping_sub(100_000), ours.wrapping_add(100_000)]
        .into_iter()
        .enumerate()
    {
        let mut opts = vec![1, 1, 8, 10];
        opts.extend_from_slice(&echoed.wrapping_add(1 + k as u32).to_be_bytes());
        opts.extend_from_slice(&tsecr.to_be_bytes());
        let ack = seq.wrapping_add(2 * (k as u32 + 1));
        let seg = tcp_seg(PORT, lport, rseq, ack, ACK, 1024, &opts, &[]);
        sim.wire
            .borrow_mut()
            .send(Dir::ToStack, &ip_frame(6, PEER_IP, STACK_IP, &seg));
        run(&mut sim, MS, &|_| false);
    }
    assert_eq!(sim.stack.stats().drops, drops, "both ACKs were taken");
    let after = sim.stack.info(id).unwrap();
    assert_eq!(after.counters.bytes_acked, 1004, "{after:?}");
    assert!(
        after.srtt_us < 1_000_000 && after.rto_us < 10_000_000,
        "no sample from the forged echoes: {after:?}"
    );
}

/// The peer's timestamp option: NOP, NOP, TSval, TSecr.
fn ts_opts(tsval: u32, tsecr: u32) -> Vec<u8> {
    let mut o = vec![1, 1, 8, 10];
    o.extend_from_slice(&tsval.to_be_bytes());
    o.extend_from_slice(&tsecr.to_be_bytes());
    o
}

/// An established connection to a peer that sends timestamps.
fn established_ts(name: &str, seed: u64) -> (Sim, ConnId, u32, u32) {
    let mut setup = SimSetup::clean(seed);
    setup.peer_timestamps = true;
    let mut sim = Sim::new(pool(name), setup);
    let (id, rseq, our_nxt) = established(&mut sim);
    assert!(sim.stack.info(id).unwrap().timestamps, "timestamps on");
    (sim, id, rseq, our_nxt)
}

/// RFC 5961 §5: a segment in the receive window whose ACK lies further below snd_una than
/// the peer ever opened its window is a blind guess: dropped (bad_ack), its timestamp not
/// remembered. Before, its TSval (here 2^30 ms ahead) became ts_recent, after which PAWS
/// dropped every real segment of the peer's and the connection was wedged.
#[test]
fn sim_blind_old_ack_cannot_wedge_paws() {
    let (mut sim, id, rseq, our_nxt) = established_ts("wedge", 41);
    let ahead = ((sim.now / MS) as u32).wrapping_add(1 << 30);
    let seg = tcp_seg(
        PORT,
        LPORT,
        rseq,
        our_nxt.wrapping_sub(1 << 30),
        ACK,
        1024,
        &ts_opts(ahead, 0),
        &[],
    );
    let (drops, _) = inject(&mut sim, &ip_frame(6, PEER_IP, STACK_IP, &seg));
    assert_eq!(drops.bad_ack, 1, "{drops:?}");
    // The connection goes on: 64 KiB more, delivered and acknowledged, nothing dropped by PAWS.
    let paws = sim.stats().drops.paws;
    let data = payload(5, 64 << 10);
    let mut off = 0;
    assert!(
        sim.run_until(10 * SEC, |s| {
            while let Ok(n) = s.stack.send(id, &data[off..]) {
                off += n;
                if off == data.len() {
                    break;
                }
            }
            s.stack.flush();
            s.read_peer();
            s.received.len() == data.len()
        }),
        "delivered {} of {}",
        sim.received.len(),
        data.len()
    );
    assert_eq!(sim.received, data);
    assert!(
        sim.run_until(SEC, |s| s.stack.info(id).unwrap().counters.bytes_acked
            == 2 + data.len() as u64)
    );
    assert_eq!(sim.stats().drops.paws, paws, "no real segment failed PAWS");
}

/// RFC 7323 §5.5: PAWS drops a segment whose TSval is older than ts_recent, but not once
/// ts_recent has sat untouched for more than 24 days (the peer's clock may have wrapped).
#[test]
fn sim_paws_lets_a_timestamp_lapse_after_24_idle_days() {
    let (mut sim, _id, rseq, our_nxt) = established_ts("paws24", 43);
    let old = ((sim.now / MS) as u32).wrapping_sub(500);
    let seg = tcp_seg(PORT, LPORT, rseq, our_nxt, ACK, 1024, &ts_opts(old, 0), &[]);
    let frame = ip_frame(6, PEER_IP, STACK_IP, &seg);
    let (drops, _) = inject(&mut sim, &frame);
    assert_eq!(
        drops.paws, 1,
        "an old timestamp is an old duplicate: {drops:?}"
    );
    sim.now += 25 * 24 * 3600 * SEC;
    let (drops, _) = inject(&mut sim, &frame);
    assert_eq!(
        drops.paws, 0,
        "after 25 idle days ts_recent has lapsed: {drops:?}"
    );
}

/// RFC 5961 §7: 5 000 in-window RSTs with the wrong sequence number within a second (each
/// asks for a challenge ACK) draw at most three (one per connection per 500 ms), the rest
/// counted as held back, and the connection lives on; 5 000 segments to a port nobody holds
/// draw at most 1 500 RSTs (the stack's budget varies between 500 and 1 500 a second).
/// Before, every one was answered: 10 000 frames, and their mbufs.
#[test]
fn sim_floods_draw_limited_replies() {
    let mut sim = Sim::new(pool("flood"), SimSetup::clean(45));
    let (id, rseq, _) = established(&mut sim);
    let flood = |sim: &mut Sim, seg: &dyn Fn(u32) -> Vec<u8>| {
        // Within one second of the stack's clock: one budget.
        let to_next_second = SEC - sim.now % SEC;
        sim.run_until(to_next_second, |_| false);
        let (sent, before) = (sim.link(Dir::ToPeer).sent, sim.stats());
        for k in 0..5000u32 {
            sim.dev.peer.send(&ip_frame(6, PEER_IP, STACK_IP, &seg(k)));
            if k % 50 == 49 {
                sim.run_until(9 * MS, |_| false); // 100 batches: 0.9 s
            }
        }
        let after = sim.stats();
        (sim.link(Dir::ToPeer).sent - sent, before, after)
    };
    let (acks, before, after) = flood(&mut sim, &|k| {
        tcp_seg(
            PORT,
            LPORT,
            rseq.wrapping_add(1 + k % 100),
            0,
            RST,
            0,
            &[],
            &[],
        )
    });
    assert_eq!(after.drops.bad_rst - before.drops.bad_rst, 5000);
    assert!(acks <= 3, "{acks} challenge ACKs");
    assert!(after.limited.challenge_acks - before.limited.challenge_acks >= 4997);
    assert_eq!(sim.stack.state(id), Some(State::Established));
    let (rsts, before, after) = flood(&mut sim, &|k| {
        tcp_seg(PORT, LPORT + 1, k, k, ACK, 1024, &[], &[])
    });
    assert_eq!(after.drops.no_conn - before.drops.no_conn, 5000);
    assert!((500..=1500).contains(&rsts), "{rsts} RSTs");
    assert_eq!(after.limited.rsts - before.limited.rsts, 5000 - rsts);
    assert_eq!(sim.stack.state(id), Some(State::Established));
}
