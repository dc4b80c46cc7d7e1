//! Zero-copy sends with completions (the storage case) on the simulated wire against the
//! SACK receiver: the writer reuses a small ring of blocks in a `ZcRegion`, writing a block
//! again only once a `ZC_DONE` event has returned it. Loss and reordering make
//! retransmissions read blocks late; every run checks the bytes (SHA-256), that no
//! completion ever ran ahead of the peer's ACK, and that a leased block cannot be written.
mod common;

use common::lossy;

use linerate::dpdk::{Offloads, ZcRegion};
use linerate::event::{self, Event};
use linerate::{IoError, RegionId, MS};
use linerate_sim::harness::{payload, sha256};
use linerate_sim::sackpeer::{stack_config, SackSim};
use linerate_sim::SimConfig;
use std::collections::VecDeque;
use std::net::SocketAddrV4;

const BLOCK: usize = 64 << 10;
const BLOCKS: usize = 4;

#[derive(Debug, Default)]
struct Log {
    completions: u64,
    /// Times a block still leased was refused to the writer.
    refused: u64,
    retrans_segs: u64,
    dropped: u64,
}

/// Sends `len` bytes through a ring of BLOCKS blocks, each rewritten only after its
/// completion; closes; checks the receiver got them all, byte for byte.
fn storage_run(name: &str, seed: u64, len: usize, fwd: SimConfig, o: Offloads) -> Log {
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, name, 8191);
    let fwd = SimConfig {
        seed: seed * 2 + 1,
        ..fwd
    };
    let rev = SimConfig {
        seed: seed * 2 + 2,
        delay: 2 * MS,
        ..Default::default()
    };
    let mut sim = SackSim::with_offloads(pool, fwd, rev, stack_config(), o);
    let region = ZcRegion::new(&eal, BLOCK * BLOCKS, 16, None).expect("zero-copy region");
    let r: RegionId = sim.stack.register_zc_region(region).expect("register");
    let id = sim
        .stack
        .connect(
            SocketAddrV4::new(linerate_sim::harness::PEER_IP, linerate_sim::harness::PORT),
            None,
        )
        .expect("connect");
    let data = payload(seed, len);
    let mut log = Log::default();
    // Blocks written and not yet returned, oldest first: (first data byte, end).
    let mut leased: VecDeque<(usize, usize)> = VecDeque::new();
    let (mut written, mut sent, mut done_bytes) = (0usize, 0usize, 0u64);
    let mut closed = false;
    let end = sim.now + 300 * linerate::SEC;
    let mut evs = [Event::EMPTY; 16];
    while sim.now < end {
        sim.tick();
        loop {
            let n = sim.stack.events(&mut evs);
            for e in evs[..n].iter().filter(|e| e.conn == id) {
                assert_eq!(e.what & event::ERROR, 0, "{name}: {e:?}");
                assert!(
                    e.zc_done <= e.bytes_acked,
                    "{name}: memory returned before the peer acknowledged it: {e:?}"
                );
                assert!(
                    e.zc_done >= done_bytes,
                    "{name}: completions go back: {e:?}"
                );
                if e.what & event::ZC_DONE != 0 {
                    assert!(
                        e.zc_done > done_bytes,
                        "{name}: ZC_DONE without news: {e:?}"
                    );
                    log.completions += 1;
                }
                done_bytes = e.zc_done;
            }
            if n < evs.len() {
                break;
            }
        }
        while leased.front().is_some_and(|&(_, e)| e as u64 <= done_bytes) {
            leased.pop_front();
        }
        // Bytes sent and not yet returned are not the writer's.
        if let Some(&(from, to)) = leased.front() {
            let (from, to) = (from.max(done_bytes as usize), to.min(sent));
            if to > from {
                let at = from % (BLOCK * BLOCKS);
                assert!(
                    sim.stack.zc_bytes_mut(r, at, to - from).is_none(),
                    "{name}: leased"
                );
                log.refused += 1;
            }
        }
        while leased.len() < BLOCKS && written < len {
            let n = BLOCK.min(len - written);
            let at = written % (BLOCK * BLOCKS);
            let buf = sim
                .stack
                .zc_bytes_mut(r, at, n)
                .unwrap_or_else(|| panic!("{name}: a returned block is writable ({at})"));
            buf.copy_from_slice(&data[written..written + n]);
            leased.push_back((written, written + n));
            written += n;
        }
        while sent < written {
            let at = sent % (BLOCK * BLOCKS);
            let n = (BLOCK - at % BLOCK).min(written - sent);
            match sim.stack.send_region(id, r, at, n) {
                Ok(k) => sent += k,
                Err(IoError::WouldBlock) => break,
                Err(e) => panic!("{name}: send failed at {sent}: {e:?}"),
            }
        }
        sim.stack.flush();
        if sent == len && !closed {
            sim.stack.close(id).expect("close");
            closed = true;
        }
        if closed && sim.stack.state(id).is_none() && sim.peer.closed {
            break;
        }
        sim.advance();
    }
    assert!(
        sim.stack.state(id).is_none() && sim.peer.closed,
        "{name}: did not finish: sent {sent}/{len}, returned {done_bytes}, peer has {}",
        sim.peer.data.len()
    );
    assert_eq!(sim.peer.data.len(), len, "{name}: byte count");
    assert!(
        sha256(&sim.peer.data) == sha256(&data),
        "{name}: SHA-256 differs"
    );
    assert_eq!(
        done_bytes, len as u64,
        "{name}: every byte's memory came back"
    );
    assert!(sim.stack.zc_bytes_mut(r, 0, BLOCK * BLOCKS).is_some());
    let s = sim.stack.stats();
    log.retrans_segs = s.tcp.retrans_segs;
    log.dropped = sim.wire.borrow().stats(linerate_sim::Dir::ToPeer).dropped;
    log
}

#[test]
fn completions_follow_the_acks_under_loss() {
    let chained = Offloads {
        tx_multi_seg: true,
        ..Default::default()
    };
    let mut tot = Log::default();
    for seed in 0..6 {
        let l = storage_run("zc_loss", seed, 1 << 20, lossy(0.02, 0.1), chained);
        tot.completions += l.completions;
        tot.refused += l.refused;
        tot.retrans_segs += l.retrans_segs;
        tot.dropped += l.dropped;
    }
    eprintln!("{tot:?}");
    assert!(
        tot.dropped > 0 && tot.retrans_segs > 0,
        "losses were repaired: {tot:?}"
    );
    // 16 blocks a run: the ring went round and the writer waited for it.
    assert!(tot.completions >= 6 * 4, "{tot:?}");
    assert!(tot.refused > 0, "{tot:?}");
}

#[test]
fn completions_with_flat_frames_and_checksum_offload() {
    // Frames copied flat (no multi-segment TX), and frames the NIC sums: the lease covers
    // the copy's read just the same.
    storage_run(
        "zc_flat",
        40,
        512 << 10,
        lossy(0.01, 0.0),
        Offloads::default(),
    );
    let offl = Offloads {
        tx_multi_seg: true,
        tx_tcp_cksum: true,
        tx_ipv4_cksum: true,
        ..Default::default()
    };
    storage_run("zc_csum", 41, 512 << 10, lossy(0.01, 0.0), offl);
}

#[test]
fn an_aborted_connection_returns_its_memory_before_its_id() {
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, "zc_abort", 8191);
    let mut sim = SackSim::new(pool, lossy(0.0, 0.0), lossy(0.0, 0.0));
    let region = ZcRegion::new(&eal, 1 << 20, 4, None).expect("region");
    let r = sim.stack.register_zc_region(region).expect("register");
    let id = sim
        .stack
        .connect(
            SocketAddrV4::new(linerate_sim::harness::PEER_IP, linerate_sim::harness::PORT),
            None,
        )
        .expect("connect");
    let mut sent = 0;
    for _ in 0..200 {
        sim.tick();
        if let Ok(n) = sim.stack.send_region(id, r, sent, (1 << 20) - sent) {
            sent += n;
        }
        sim.stack.flush();
        sim.advance();
        if sent > 256 << 10 {
            break;
        }
    }
    assert!(sent > 256 << 10, "sent {sent}");
    let last = sim.stack.zc_bytes_mut(r, sent - 4096, 4096);
    assert!(
        last.is_none(),
        "the last bytes sent are leased while in flight"
    );
    sim.stack.abort(id).expect("abort");
    let mut evs = [Event::EMPTY; 64];
    let mut seen = Vec::new();
    for _ in 0..50 {
        sim.tick();
        let n = sim.stack.events(&mut evs);
        seen.extend(evs[..n].iter().filter(|e| e.conn == id).copied());
        if seen.iter().any(|e| e.what & event::FREED != 0) {
            break;
        }
        sim.advance();
    }
    let ret = seen.iter().position(|e| e.zc_done == sent as u64);
    let freed = seen.iter().position(|e| e.what & event::FREED != 0);
    assert!(
        ret.is_some() && freed.is_some() && ret <= freed,
        "all {sent} bytes returned, then (or with) the id freed: {seen:?}"
    );
    assert!(sim.stack.zc_bytes_mut(r, 0, 1 << 20).is_some());
    assert!(matches!(
        sim.stack.send_region(id, r, 0, 10),
        Err(IoError::NotConnected)
    ));
}
