//! Our TCP sender against an independent receiver (smoltcp) over the simulated wire, with a
//! virtual clock: clean and impaired transfers over many seeds (checked by SHA-256), refused
//! and timed-out connections, zero-window probing. Hand-made frames from the peer
//! (malformed input, a random fuzz, forged timestamps, floods) are in sim_peer_frames.rs.
//! The frames are real DPDK mbufs from a real mempool; only the device is simulated.
mod common;

use linerate::dpdk::{Mempool, Offloads};
use linerate::{IoError, State, TcpError};
use linerate::{Nanos, MS, SEC};
use linerate_sim::harness::*;
use linerate_sim::{Dir, SimConfig};
use smoltcp::socket::tcp;
use std::sync::Arc;
use std::time::Instant;

fn pool(name: &str) -> Arc<Mempool> {
    let eal = common::eal(&[]);
    common::pool(&eal, name, 4095)
}

/// One transfer of `len` bytes on a fresh simulation; checks the data, FIN, clean close and
/// the pool's accounting.
fn run_one(pool: &Arc<Mempool>, setup: SimSetup, seed: u64, len: usize, what: &str) -> Outcome {
    let data = payload(seed, len);
    let mut sim = Sim::new(pool.clone(), setup);
    let out = transfer(&mut sim, &data, 600 * SEC, what);
    assert!(out.peer_fin, "{what}: smoltcp saw our FIN");
    assert_eq!(
        sim.peer_sock().state(),
        tcp::State::Closed,
        "{what}: smoltcp closed"
    );
    assert_eq!(
        sim.stack.connections().count(),
        0,
        "{what}: our slot was freed"
    );
    assert_eq!(sim.stack.tx_backlog(), 0);
    let base = sim.pool_base;
    assert_eq!(
        sim.pool.in_use(),
        base,
        "{what}: every mbuf is back once the connection is done"
    );
    drop(sim);
    assert_eq!(pool.in_use(), base, "{what}: and after dropping the stack");
    out
}

#[derive(Default, Debug)]
struct Totals {
    runs: u32,
    retrans_segs: u64,
    fast_retrans: u64,
    rtos: u64,
    dupacks_in: u64,
    to_peer_dropped: u64,
    to_stack_dropped: u64,
    duplicated: u64,
    reordered: u64,
    corrupted_to_stack: u64,
    corrupted_to_peer: u64,
    checksum_drops: u64,
    virt: Nanos,
}

impl Totals {
    fn add(&mut self, o: &Outcome) {
        let c = o.info.counters;
        self.runs += 1;
        self.retrans_segs += c.retrans_segs;
        self.fast_retrans += c.fast_retrans;
        self.rtos += c.rtos;
        self.dupacks_in += c.dupacks_in;
        self.to_peer_dropped += o.to_peer.dropped;
        self.to_stack_dropped += o.to_stack.dropped;
        self.duplicated += o.to_peer.duplicated + o.to_stack.duplicated;
        self.reordered += o.to_peer.reordered + o.to_stack.reordered;
        self.corrupted_to_stack += o.to_stack.corrupted;
        self.corrupted_to_peer += o.to_peer.corrupted;
        let d = o.stats.drops;
        self.checksum_drops += d.bad_tcp_checksum + d.bad_ip_checksum + d.malformed;
        self.virt += o.elapsed;
    }
}

/// Runs `seeds` transfers of `len` bytes with both directions impaired by `cfg` (seeded
/// per run and direction).
fn many_seeds(
    name: &str,
    seeds: std::ops::Range<u64>,
    len: usize,
    cfg: SimConfig,
    both: bool,
) -> Totals {
    let pool = pool(name);
    let t0 = Instant::now();
    let mut tot = Totals::default();
    for seed in seeds {
        let to_peer = SimConfig {
            seed: seed * 2 + 1,
            ..cfg
        };
        let to_stack = if both {
            SimConfig {
                seed: seed * 2 + 2,
                ..cfg
            }
        } else {
            SimConfig::clean(seed * 2 + 2)
        };
        let o = run_one(
            &pool,
            SimSetup::new(to_peer, to_stack),
            seed,
            len,
            &format!("{name} seed {seed}"),
        );
        tot.add(&o);
    }
    eprintln!(
        "{name}: {} seeds x {} KiB in {:?} wall, {} ms virtual: {tot:?}",
        tot.runs,
        len / 1024,
        t0.elapsed(),
        tot.virt / MS
    );
    tot
}

#[test]
fn sim_clean_wire_several_mib() {
    let pool = pool("sim_clean");
    let t0 = Instant::now();
    let o = run_one(&pool, SimSetup::clean(1), 1, 6 << 20, "clean");
    let c = o.info.counters;
    eprintln!(
        "clean 6 MiB: {:?} wall, {} ms virtual, {c:?}",
        t0.elapsed(),
        o.elapsed / MS
    );
    assert_eq!(c.retrans_segs, 0, "a clean wire needs no retransmission");
    assert_eq!(c.rtos, 0);
    assert_eq!(c.bytes_sent, 6 << 20);
    assert_eq!(c.bytes_acked, 6 << 20);
    assert_eq!(o.stats.drops.total(), 0, "{:?}", o.stats.drops);
    assert_eq!(o.to_peer.dropped + o.to_stack.dropped, 0);
    assert!(
        o.states
            .ends_with(&[State::FinWait1, State::FinWait2, State::TimeWait])
            || o.states.contains(&State::TimeWait),
        "{:?}",
        o.states
    );
}

#[test]
fn sim_clean_wire_with_tx_offloads_and_small_tx_ring() {
    // The device completes checksums like a NIC (so the stack writes only the pseudo-header
    // sum), and takes at most 5 frames per burst (backpressure on the TX batcher).
    let pool = pool("sim_offl");
    let data = payload(77, 2 << 20);
    let mut setup = SimSetup::clean(77);
    setup.to_peer.tx_ring = 5;
    let mut sim = Sim::new(pool.clone(), setup);
    // Rebuild the stack on a device with offloads (the one Sim::new made has none).
    let dev = linerate_sim::SimDevice::new(sim.wire.clone(), pool.clone(), STACK_MAC)
        .with_offloads(Offloads {
            tx_ipv4_cksum: true,
            tx_tcp_cksum: true,
            ..Default::default()
        });
    let mut cfg = SimSetup::clean(77).stack;
    cfg.tcp.sndbuf = 1 << 20;
    sim.stack = linerate::Stack::new(dev, pool.clone(), cfg, sim.now);
    let o = transfer(&mut sim, &data, 60 * SEC, "offloads");
    assert!(
        o.stats.dev.tx_partial > 0,
        "the small TX ring pushed back: {:?}",
        o.stats.dev
    );
    assert!(o.to_peer.tx_partial > 0);
    assert_eq!(o.info.counters.retrans_segs, 0);
    let base = sim.pool_base;
    drop(sim);
    assert_eq!(pool.in_use(), base);
}

#[test]
fn sim_lossy_wire_with_tx_offloads() {
    // With TCP checksum offload the stack keeps no payload sums (the NIC sums the bytes), so
    // retransmissions and trimmed heads must come out right without them: the device
    // completes every checksum and smoltcp checks each one.
    let pool = pool("sim_offl_loss");
    let data = payload(78, 2 << 20);
    let lossy = |seed| SimConfig {
        seed,
        loss: 0.03,
        reorder: 0.02,
        delay: MS,
        ..Default::default()
    };
    let setup = SimSetup::new(lossy(78), lossy(1078));
    let mut sim = Sim::new(pool.clone(), setup);
    let dev = linerate_sim::SimDevice::new(sim.wire.clone(), pool.clone(), STACK_MAC)
        .with_offloads(Offloads {
            tx_ipv4_cksum: true,
            tx_tcp_cksum: true,
            ..Default::default()
        });
    let cfg = SimSetup::clean(78).stack;
    sim.stack = linerate::Stack::new(dev, pool.clone(), cfg, sim.now);
    let o = transfer(&mut sim, &data, 600 * SEC, "offloads under loss");
    assert!(
        o.info.counters.retrans_segs > 0,
        "the loss made retransmissions: {:?}",
        o.info.counters
    );
    let base = sim.pool_base;
    drop(sim);
    assert_eq!(pool.in_use(), base);
}

#[test]
fn sim_loss_1pct_many_seeds() {
    let t = many_seeds(
        "loss1",
        0..50,
        1 << 20,
        SimConfig {
            loss: 0.01,
            ..Default::default()
        },
        true,
    );
    assert!(t.to_peer_dropped > 0 && t.retrans_segs > 0, "{t:?}");
    assert!(t.fast_retrans + t.rtos > 0, "{t:?}");
}

#[test]
fn sim_loss_5pct_many_seeds() {
    let t = many_seeds(
        "loss5",
        100..150,
        512 << 10,
        SimConfig {
            loss: 0.05,
            ..Default::default()
        },
        true,
    );
    assert!(
        t.retrans_segs > 0 && t.fast_retrans > 0 && t.rtos > 0,
        "{t:?}"
    );
    assert!(t.dupacks_in > 0, "{t:?}");
}

#[test]
fn sim_loss_data_direction_only_many_seeds() {
    let t = many_seeds(
        "loss3fwd",
        200..220,
        512 << 10,
        SimConfig {
            loss: 0.03,
            ..Default::default()
        },
        false,
    );
    assert!(t.retrans_segs > 0 && t.fast_retrans > 0, "{t:?}");
    assert_eq!(t.to_stack_dropped, 0);
}

#[test]
fn sim_duplication_many_seeds() {
    let t = many_seeds(
        "dup1",
        300..340,
        512 << 10,
        SimConfig {
            dup: 0.01,
            ..Default::default()
        },
        true,
    );
    assert!(t.duplicated > 0, "{t:?}");
    assert_eq!(t.to_peer_dropped + t.to_stack_dropped, 0);
    let t = many_seeds(
        "dup10",
        350..360,
        256 << 10,
        SimConfig {
            dup: 0.10,
            ..Default::default()
        },
        true,
    );
    assert!(
        t.dupacks_in > 0,
        "duplicated ACKs count as duplicate ACKs: {t:?}"
    );
}

#[test]
fn sim_reordering_many_seeds() {
    let cfg = SimConfig {
        reorder: 0.03,
        reorder_delay: 150_000,
        jitter: 10_000,
        ..Default::default()
    };
    let t = many_seeds("reorder", 400..450, 512 << 10, cfg, true);
    assert!(t.reordered > 0, "{t:?}");
    assert!(
        t.dupacks_in > 0,
        "smoltcp answers out-of-order segments with duplicate ACKs: {t:?}"
    );
}

#[test]
fn sim_corruption_many_seeds() {
    let t = many_seeds(
        "corrupt",
        500..550,
        512 << 10,
        SimConfig {
            corrupt: 0.005,
            ..Default::default()
        },
        true,
    );
    assert!(t.corrupted_to_peer > 0 && t.corrupted_to_stack > 0, "{t:?}");
    assert!(
        t.checksum_drops > 0,
        "corrupted frames towards us are caught by the checksums: {t:?}"
    );
    assert!(
        t.retrans_segs > 0,
        "corrupted data is dropped by smoltcp and resent: {t:?}"
    );
    // Heavy corruption of the ACK direction only: a flipped bit in an IPv4 or TCP header or
    // payload always breaks a checksum, so (all but ARP frames) every corrupted frame must
    // show up in the drop counters.
    let pool = pool("corrupt_acks");
    let (mut corrupted, mut counted) = (0, 0);
    for seed in 600..616u64 {
        let to_stack = SimConfig {
            seed,
            corrupt: 0.2,
            ..Default::default()
        };
        let o = run_one(
            &pool,
            SimSetup::new(SimConfig::clean(seed + 50), to_stack),
            seed,
            128 << 10,
            &format!("corrupt-acks seed {seed}"),
        );
        let d = o.stats.drops;
        corrupted += o.to_stack.corrupted;
        counted += d.bad_tcp_checksum
            + d.bad_ip_checksum
            + d.malformed
            + d.not_for_us
            + d.martian_src
            + d.unsupported
            + d.fragments
            + o.stats.neigh.ignored;
    }
    eprintln!("corrupt-acks: {corrupted} corrupted, {counted} counted");
    assert!(
        corrupted > 10 && counted > 0 && counted <= corrupted && counted * 4 >= corrupted * 3,
        "corrupted {corrupted} counted {counted}"
    );
}

#[test]
fn sim_combined_impairments_many_seeds() {
    let cfg = SimConfig {
        loss: 0.02,
        dup: 0.01,
        reorder: 0.02,
        corrupt: 0.003,
        jitter: 20_000,
        reorder_delay: 100_000,
        ..Default::default()
    };
    let t = many_seeds("combined", 700..750, 512 << 10, cfg, true);
    assert!(t.retrans_segs > 0 && t.fast_retrans > 0, "{t:?}");
}

#[test]
fn sim_combined_with_peer_timestamps() {
    // smoltcp sends TCP timestamps: RTT from TSecr, PAWS and ts_recent are exercised.
    let pool = pool("tsopt");
    let cfg = SimConfig {
        loss: 0.02,
        reorder: 0.02,
        dup: 0.01,
        ..Default::default()
    };
    let mut tot = Totals::default();
    for seed in 800..812u64 {
        let mut s = SimSetup::new(
            SimConfig { seed, ..cfg },
            SimConfig {
                seed: seed + 1000,
                ..cfg
            },
        );
        s.peer_timestamps = true;
        let o = run_one(
            &pool,
            s,
            seed,
            256 << 10,
            &format!("timestamps seed {seed}"),
        );
        assert!(o.info.timestamps, "timestamps were negotiated");
        tot.add(&o);
    }
    assert!(tot.retrans_segs > 0, "{tot:?}");
}

#[test]
fn sim_refused_by_rst() {
    let pool = pool("refused");
    let mut s = SimSetup::clean(5);
    s.listen = false;
    let mut sim = Sim::new(pool.clone(), s);
    let id = sim.connect();
    let done = sim.run_until(5 * SEC, |sim| sim.stack.state(id) == Some(State::Closed));
    assert!(done, "{:?}", sim.stack.info(id));
    assert_eq!(sim.stack.error(id), Some(TcpError::Refused));
    assert_eq!(
        sim.stack.send(id, b"x"),
        Err(IoError::Conn(TcpError::Refused))
    );
    assert!(sim.now < 2 * SEC, "refused at once, not after a timeout");
    sim.stack.close(id).unwrap();
    sim.tick();
    assert_eq!(
        sim.stack.state(id),
        None,
        "closing a failed connection frees it"
    );
    let base = sim.pool_base;
    drop(sim);
    assert_eq!(pool.in_use(), base);
}

#[test]
fn sim_silent_peer_times_out() {
    let pool = pool("silent");
    let lost = SimConfig {
        loss: 1.0,
        ..SimConfig::clean(9)
    };
    let mut s = SimSetup::new(lost, lost);
    s.stack.tcp.syn_retries = 2;
    s.stack.static_neigh.push((PEER_IP, PEER_MAC)); // ARP would fail first otherwise
    let mut sim = Sim::new(pool.clone(), s);
    let t0 = sim.now;
    let id = sim.connect();
    let done = sim.run_until(60 * SEC, |sim| sim.stack.state(id) == Some(State::Closed));
    assert!(done);
    assert_eq!(sim.stack.error(id), Some(TcpError::TimedOut));
    let info = sim.stack.info(id).unwrap();
    assert_eq!(info.counters.rtos, 2, "two SYN retransmissions");
    let took = sim.now - t0;
    assert!(
        (7 * SEC..8 * SEC).contains(&took),
        "1 + 2 + 4 s of backoff, took {} ms",
        took / MS
    );
    assert_eq!(
        sim.link(Dir::ToPeer).sent,
        1 + 3,
        "the gratuitous ARP and three SYNs"
    );

    // Without a static entry, the ARP failure ends it first.
    let mut s = SimSetup::new(lost, lost);
    s.stack.tcp.syn_retries = 2;
    let mut sim2 = Sim::new(pool.clone(), s);
    let id = sim2.connect();
    assert!(sim2.run_until(60 * SEC, |sim| sim.stack.state(id) == Some(State::Closed)));
    assert_eq!(sim2.stack.error(id), Some(TcpError::HostUnreachable));
    assert!(sim2.stats().neigh.failed > 0);
    let base = sim.pool_base;
    drop(sim);
    drop(sim2);
    assert_eq!(pool.in_use(), base);
}

#[test]
fn sim_peer_vanishes_mid_transfer_times_out() {
    let pool = pool("vanish");
    let mut s = SimSetup::clean(11);
    s.stack.tcp.retries = 4;
    // All of it queued before the peer vanishes.
    s.stack.tcp.sndbuf_auto = false;
    let mut sim = Sim::new(pool.clone(), s);
    let id = sim.connect();
    assert!(sim.run_until(SEC, |sim| sim.stack.state(id) == Some(State::Established)));
    let data = payload(11, 200_000);
    let n = sim.stack.send(id, &data).unwrap();
    assert_eq!(n, data.len());
    sim.run_until(2 * MS, |_| false);
    sim.wire.borrow_mut().config_mut(Dir::ToPeer).loss = 1.0;
    sim.wire.borrow_mut().config_mut(Dir::ToStack).loss = 1.0;
    let t0 = sim.now;
    assert!(sim.run_until(120 * SEC, |sim| sim.stack.state(id) == Some(State::Closed)));
    assert_eq!(sim.stack.error(id), Some(TcpError::TimedOut));
    let c = sim.stack.info(id).unwrap().counters;
    assert_eq!(c.rtos, 4, "{c:?}");
    eprintln!("peer vanished: timed out after {} ms", (sim.now - t0) / MS);
    assert_eq!(
        sim.stack.send(id, b"more"),
        Err(IoError::Conn(TcpError::TimedOut))
    );
    sim.stack.close(id).unwrap();
    sim.tick();
    let base = sim.pool_base;
    assert_eq!(
        sim.pool.in_use(),
        base,
        "queued segments went back to the pool"
    );
}

#[test]
fn sim_zero_window_probes_then_completes() {
    let pool = pool("zwnd");
    let mut s = SimSetup::clean(21);
    s.peer_rx_buf = 8192;
    let mut sim = Sim::new(pool.clone(), s);
    let data = payload(21, 256 << 10);
    let id = sim.connect();
    assert!(sim.run_until(SEC, |sim| sim.stack.state(id) == Some(State::Established)));
    let mut off = 0;
    // The app does not read for 5 s of virtual time: the window closes.
    let t_read = sim.now + 5 * SEC;
    sim.run_until(5 * SEC, |sim| {
        while off < data.len() {
            match sim.stack.send(id, &data[off..]) {
                Ok(n) => off += n,
                Err(IoError::WouldBlock) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        false
    });
    assert!(sim.now >= t_read);
    let info = sim.stack.info(id).unwrap();
    // The window is closed (a probe carried what was left of it, smaller than a segment).
    assert!(info.snd_wnd < info.mss, "{info:?}");
    assert!(info.in_flight == 0 && info.unsent_bytes > 0, "{info:?}");
    assert!(
        info.counters.zero_window_probes >= 3,
        "persist timer probed the closed window: {info:?}"
    );
    assert_eq!(info.error, None);
    let probes = info.counters.zero_window_probes;
    // Now read: the rest of the data flows, then the normal close.
    let out = transfer_on(&mut sim, id, &data, off, 120 * SEC, "zero window");
    assert!(out.peer_fin);
    assert!(out.info.counters.zero_window_probes >= probes);
    eprintln!("zero window: {probes} probes, {:?}", out.info.counters);
    let base = sim.pool_base;
    drop(sim);
    assert_eq!(pool.in_use(), base);
}

/// Replays one impaired transfer; run with `LR_SIM_TRACE=1 cargo test --test sim_tcp
/// debug_replay -- --ignored --nocapture` to see every frame (edit the seed and config).
#[test]
#[ignore = "a debugging aid"]
fn debug_replay() {
    let pool = pool("dbg");
    let seed = 610;
    let to_stack = SimConfig {
        seed,
        corrupt: 0.2,
        ..Default::default()
    };
    run_one(
        &pool,
        SimSetup::new(SimConfig::clean(seed + 50), to_stack),
        seed,
        128 << 10,
        "replay",
    );
}
