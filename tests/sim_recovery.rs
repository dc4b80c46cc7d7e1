//! Loss recovery against a SACK/DSACK-generating receiver (tests/common/sackpeer.rs) on the
//! simulated wire: SACK recovery (RFC 6675) with PRR (RFC 6937), RACK-TLP (RFC 8985), DSACK
//! spurious-retransmission detection (RFC 2883/3708), Eifel spurious-RTO detection (RFC
//! 3522), reneging, and the NewReno fallback. Seeded impairments over many seeds check the
//! bytes (SHA-256), that no connection gives up, and the pool's accounting; constructed
//! scenarios check that each mechanism ran where it should.
mod common;

use linerate::dpdk::Mempool;
use linerate::{Nanos, MS, SEC};
use linerate_sim::harness::{payload, Sim, SimSetup};
use linerate_sim::sackpeer::{Fate, SackOutcome, SackSim};
use linerate_sim::SimConfig;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

/// Payload bytes per segment with timestamps (1460 − 12).
const MSS: u64 = 1448;

fn pool(name: &str) -> Arc<Mempool> {
    let eal = common::eal(&[]);
    common::pool(&eal, name, 4095)
}

fn wire(seed: u64, delay: Nanos) -> SimConfig {
    SimConfig {
        seed,
        delay,
        ..Default::default()
    }
}

#[derive(Debug, Default)]
struct Tot {
    runs: u64,
    retrans_segs: u64,
    bytes_retrans: u64,
    fast_retrans: u64,
    rtos: u64,
    tlps: u64,
    sack_recoveries: u64,
    sacked_bytes: u64,
    rack_lost: u64,
    dsacks_in: u64,
    spurious_retrans: u64,
    spurious_rtos: u64,
    undos: u64,
    reneges: u64,
    data_dropped: u64,
    segs_out: u64,
    data_segs_out: u64,
}

impl Tot {
    fn add(&mut self, o: &SackOutcome) {
        let c = o.info.counters;
        self.runs += 1;
        self.retrans_segs += c.retrans_segs;
        self.bytes_retrans += c.bytes_retrans;
        self.fast_retrans += c.fast_retrans;
        self.rtos += c.rtos;
        self.tlps += c.tlps;
        self.sack_recoveries += c.sack_recoveries;
        self.sacked_bytes += c.sacked_bytes;
        self.rack_lost += c.rack_lost;
        self.dsacks_in += c.dsacks_in;
        self.spurious_retrans += c.spurious_retrans;
        self.spurious_rtos += c.spurious_rtos;
        self.undos += c.undos;
        self.reneges += c.sack_reneges;
        self.data_dropped += o.to_peer.dropped;
        self.segs_out += c.segs_out;
        self.data_segs_out += c.data_segs_out;
    }
}

/// `seeds` transfers of `len` bytes against the SACK peer; `fwd`/`rev` impair the data and
/// ACK directions.
fn seeds(
    name: &str,
    range: std::ops::Range<u64>,
    len: usize,
    fwd: SimConfig,
    rev: SimConfig,
    sack: bool,
) -> Tot {
    let pool = pool(name);
    let t0 = Instant::now();
    let mut tot = Tot::default();
    for seed in range {
        let mut cfg = linerate_sim::sackpeer::stack_config();
        cfg.tcp.sack = sack;
        let mut sim = SackSim::with_config(
            pool.clone(),
            SimConfig {
                seed: seed * 2 + 1,
                ..fwd
            },
            SimConfig {
                seed: seed * 2 + 2,
                ..rev
            },
            cfg,
        );
        let data = payload(seed, len);
        let o = sim.transfer(&data, 300 * SEC, &format!("{name} seed {seed}"));
        tot.add(&o);
    }
    eprintln!("{name}: {:?} wall: {tot:?}", t0.elapsed());
    tot
}

#[test]
fn sack_recovery_1pct_loss() {
    let fwd = SimConfig {
        loss: 0.01,
        ..wire(0, 2 * MS)
    };
    let t = seeds("rec1", 0..20, 256 << 10, fwd, wire(0, 2 * MS), true);
    assert!(t.sack_recoveries > 0 && t.sacked_bytes > 0, "{t:?}");
    // SACK recovery resends what was lost, not what the receiver holds.
    assert!(
        t.retrans_segs <= t.data_dropped + t.data_dropped / 2 + t.tlps + 2,
        "retransmissions track losses: {t:?}"
    );
}

#[test]
fn sack_recovery_5pct_loss_both_directions() {
    let fwd = SimConfig {
        loss: 0.05,
        ..wire(0, 2 * MS)
    };
    let t = seeds("rec5", 100..120, 256 << 10, fwd, fwd, true);
    assert!(t.sack_recoveries > 0 && t.rack_lost > 0, "{t:?}");
}

#[test]
fn sack_recovery_10pct_loss() {
    let fwd = SimConfig {
        loss: 0.10,
        ..wire(0, 2 * MS)
    };
    let t = seeds("rec10", 200..215, 128 << 10, fwd, wire(0, 2 * MS), true);
    assert!(t.sack_recoveries > 0 && t.fast_retrans > 0, "{t:?}");
    assert!(
        t.retrans_segs <= 2 * t.data_dropped + t.tlps + 5,
        "retransmissions track losses: {t:?}"
    );
}

#[test]
fn reordering_25pct_with_delay() {
    let fwd = SimConfig {
        reorder: 0.25,
        reorder_delay: 3 * MS,
        ..wire(0, 2 * MS)
    };
    let t = seeds("reorder", 300..315, 256 << 10, fwd, wire(0, 2 * MS), true);
    // Reordering makes some retransmissions needless; DSACK must say so and RACK widens its
    // window, so they stay a minority of the segments.
    assert!(t.dsacks_in > 0 && t.spurious_retrans > 0, "{t:?}");
    assert!(t.retrans_segs < 15 * 40, "{t:?}");
}

#[test]
fn duplication_1pct() {
    let fwd = SimConfig {
        dup: 0.01,
        ..wire(0, 2 * MS)
    };
    let t = seeds("dup", 400..415, 256 << 10, fwd, fwd, true);
    assert!(t.dsacks_in > 0, "duplicated data is DSACKed: {t:?}");
    assert_eq!(
        t.spurious_retrans, 0,
        "network duplicates are not our retransmissions: {t:?}"
    );
}

#[test]
fn corruption_0_1pct() {
    let fwd = SimConfig {
        corrupt: 0.001,
        ..wire(0, 2 * MS)
    };
    seeds("corrupt", 500..515, 256 << 10, fwd, fwd, true);
}

#[test]
fn jitter_20ms_plus_minus_5ms() {
    let j = SimConfig {
        delay: 15 * MS,
        jitter: 10 * MS,
        ..wire(0, 0)
    };
    let t = seeds("jitter", 600..606, 256 << 10, j, j, true);
    eprintln!("jitter: {t:?}");
}

#[test]
fn newreno_fallback_without_sack() {
    let fwd = SimConfig {
        loss: 0.03,
        ..wire(0, 2 * MS)
    };
    let t = seeds("newreno", 700..715, 256 << 10, fwd, wire(0, 2 * MS), false);
    assert_eq!(t.sack_recoveries + t.sacked_bytes + t.tlps, 0, "{t:?}");
    assert!(t.fast_retrans > 0, "{t:?}");
}

/// One transfer of `segs` full segments with `hook` deciding each data segment's fate.
fn scripted(
    name: &str,
    segs: u64,
    hook: impl FnMut(Nanos, u64, u32, bool, u32) -> Fate + 'static,
) -> SackOutcome {
    let pool = pool(name);
    let mut sim = SackSim::new(pool.clone(), wire(1, 5 * MS), wire(2, 5 * MS));
    sim.peer.hook = Some(Box::new(hook));
    let data = payload(segs, (segs * MSS) as usize);
    let o = sim.transfer(&data, 60 * SEC, name);
    eprintln!(
        "{name}: {:?} peer {:?} elapsed {} ms",
        o.info.counters,
        o.peer,
        o.elapsed / MS
    );
    o
}

#[test]
fn tlp_repairs_tail_loss_without_rto() {
    // The last two segments (the last carries FIN) are lost once: only a probe can bring
    // feedback; it must come before the RTO.
    let total = 120 * MSS;
    let o = scripted("tlp", 120, move |_, off, len, _, times| {
        if times == 0 && off + len as u64 + MSS >= total {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    let c = o.info.counters;
    assert_eq!(o.peer.hook_dropped, 2);
    assert!(c.tlps >= 1, "{c:?}");
    assert_eq!(c.rtos, 0, "the probe made the RTO unnecessary: {c:?}");
    assert!(c.retrans_segs <= 3, "{c:?}");
}

#[test]
fn rack_marks_loss_by_time_without_three_dupacks() {
    // The third-to-last segment is lost: only two segments follow it, so there are never
    // three duplicate ACKs; RACK's reordering timer must mark it lost.
    let total = 120 * MSS;
    let o = scripted("rack", 120, move |_, off, _, _, times| {
        if times == 0 && off == total - 3 * MSS {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    let c = o.info.counters;
    assert!(c.rack_lost >= 1 && c.sack_recoveries >= 1, "{c:?}");
    assert!(c.dupacks_in < 3, "{c:?}");
    assert_eq!(c.rtos, 0, "{c:?}");
    assert_eq!(c.retrans_segs, 1, "only the lost segment is resent: {c:?}");
}

#[test]
fn sack_recovery_resends_only_the_holes() {
    // Drop every 10th segment once, in the middle of a window.
    let o = scripted("holes", 200, |_, off, _, _, times| {
        let k = off / MSS;
        if times == 0 && (40..120).contains(&k) && k.is_multiple_of(10) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    let c = o.info.counters;
    assert_eq!(o.peer.hook_dropped, 8);
    assert_eq!(c.retrans_segs, 8, "exactly the 8 holes: {c:?}");
    assert_eq!(c.bytes_retrans, 8 * MSS, "{c:?}");
    assert_eq!(c.rtos, 0, "{c:?}");
    assert!(c.sacked_bytes > 0 && c.sack_recoveries >= 1, "{c:?}");
    assert_eq!(o.peer.dup_segs, 0, "nothing the receiver held was resent");
}

#[test]
fn dsack_detects_spurious_retransmission_and_undoes() {
    // One segment is delayed 30 ms (RTT 10 ms): SACK recovery resends it, then the original
    // arrives and the receiver DSACKs the duplicate.
    let o = scripted("dsack", 400, |_, off, _, _, times| {
        if times == 0 && off == 50 * MSS {
            Fate::Hold(30 * MS)
        } else {
            Fate::Deliver
        }
    });
    let c = o.info.counters;
    assert!(o.peer.dsacks_sent >= 1, "{:?} {c:?}", o.peer);
    assert!(c.dsacks_in >= 1 && c.spurious_retrans >= 1, "{c:?}");
    assert!(c.undos >= 1, "the window reduction was undone: {c:?}");
    assert_eq!(c.rtos, 0, "{c:?}");
}

#[test]
fn timestamp_echo_undoes_recovery_for_a_delayed_original() {
    // One segment is delayed 15 ms (RTT 10 ms) and its retransmission 40 ms: RACK resends
    // it, but the original fills the hole first. The ACK echoes the original's TSval, older
    // than the retransmission's, so the recovery is undone at once (no DSACK needed) and
    // the reordering window widens.
    let o = scripted("tsundo", 400, |_, off, _, _, times| {
        match (off == 50 * MSS, times) {
            (true, 0) => Fate::Hold(15 * MS),
            (true, 1) => Fate::Hold(40 * MS),
            _ => Fate::Deliver,
        }
    });
    let c = o.info.counters;
    assert_eq!(c.sack_recoveries, 1, "{c:?}");
    // RACK may also find the held retransmission lost and send it once more before the
    // original's ACK is back (it depends on where the episode starts in the RTT).
    assert!((1..=2).contains(&c.retrans_segs), "{c:?}");
    assert_eq!(
        c.ts_undos, 1,
        "the echo showed the original filled the hole: {c:?}"
    );
    assert_eq!(c.undos, 1, "{c:?}");
    assert_eq!(c.rtos, 0, "{c:?}");
    assert_eq!(
        o.info.ssthresh,
        u32::MAX,
        "still in slow start after the undo: {:?}",
        o.info
    );
}

#[test]
fn timestamp_undo_is_not_taken_when_the_retransmission_filled_the_hole() {
    // A real loss: the original never arrives; the retransmission fills the hole, its echo
    // is not older than itself, and the reduction stands.
    let o = scripted("tsloss", 400, |_, off, _, _, times| {
        if off == 50 * MSS && times == 0 {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    let c = o.info.counters;
    assert_eq!(c.sack_recoveries, 1, "{c:?}");
    assert_eq!(c.ts_undos + c.undos, 0, "{c:?}");
    assert!(o.info.ssthresh < u32::MAX, "{:?}", o.info);
}

#[test]
fn eifel_detects_spurious_rto() {
    // Everything arriving in a 300 ms window from the 60th segment on is held until 250 ms
    // after that: the RTO fires and retransmits, then the originals arrive before the
    // retransmission. The ACK's timestamp echo proves the timeout spurious.
    let t0 = Rc::new(Cell::new(None::<Nanos>));
    let o = scripted("eifel", 120, move |now, off, _, _, _| {
        if t0.get().is_none() && off == 60 * MSS {
            t0.set(Some(now));
        }
        match t0.get() {
            Some(t) if now < t + 300 * MS => {
                let release = t + 250 * MS;
                if release > now {
                    Fate::Hold(release - now)
                } else {
                    Fate::Deliver
                }
            }
            _ => Fate::Deliver,
        }
    });
    let c = o.info.counters;
    assert!(c.rtos >= 1, "{c:?}");
    assert!(c.spurious_rtos >= 1, "{c:?}");
    assert!(c.undos >= 1, "{c:?}");
}

#[test]
fn reneging_receiver_is_survived() {
    let pool = pool("renege");
    let mut sim = SackSim::new(pool.clone(), wire(1, 5 * MS), wire(2, 5 * MS));
    sim.peer.renege_at = Some(5 * MSS as usize);
    sim.peer.hook = Some(Box::new(|_, off, _, _, times| {
        if times == 0 && off == 30 * MSS {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    }));
    let data = payload(9, (150 * MSS) as usize);
    let o = sim.transfer(&data, 60 * SEC, "renege");
    let c = o.info.counters;
    eprintln!("renege: {c:?} {:?}", o.peer);
    assert_eq!(o.peer.reneged, 1);
    assert!(c.sack_reneges >= 1, "{c:?}");
}

#[test]
fn smoltcp_single_block_sack_peer_5pct_loss() {
    // smoltcp reports one SACK block per ACK: recovery must still work with it.
    let pool = pool("smol");
    let mut tot_rec = 0;
    for seed in 0..10u64 {
        let mut setup = SimSetup::new(
            SimConfig {
                loss: 0.05,
                ..wire(seed * 2 + 1, 2 * MS)
            },
            wire(seed * 2 + 2, 2 * MS),
        );
        setup.peer_timestamps = true;
        let mut sim = Sim::new(pool.clone(), setup);
        let data = payload(seed, 256 << 10);
        let o =
            linerate_sim::harness::transfer(&mut sim, &data, 300 * SEC, &format!("smol {seed}"));
        tot_rec += o.info.counters.sack_recoveries;
        let base = sim.pool_base;
        drop(sim);
        assert_eq!(pool.in_use(), base);
    }
    assert!(tot_rec > 0);
}

#[test]
fn reordered_acks_are_processed_not_answered() {
    // ACKs overtake each other on the way back (0–6 ms of jitter, the peer's TSval ticks
    // every ms), while 1 % of data is lost. A late duplicate ACK carries an older TSval
    // than one already seen: PAWS must neither answer it (an ACK of ours per reordered
    // ACK would double the packet rate) nor drop its SACK blocks.
    let fwd = SimConfig {
        loss: 0.01,
        ..wire(0, 2 * MS)
    };
    let rev = SimConfig {
        jitter: 6 * MS,
        ..wire(0, 2 * MS)
    };
    let t = seeds("ackreorder", 800..806, 512 << 10, fwd, rev, true);
    // Beyond data we send the handshake's ACK, a FIN, ACKs of the peer's FIN and of late
    // ACKs that arrive after it: a few per run (answering reordered ACKs made ~200).
    let extra = t.segs_out - t.data_segs_out;
    assert!(extra <= 8 * t.runs, "{extra} segments without data: {t:?}");
    assert!(t.sack_recoveries > 0 && t.sacked_bytes > 0, "{t:?}");
}

#[test]
fn rate_limit_1gbit_shallow_queue() {
    // A 1 Gbit/s bottleneck with a 64 KiB drop-tail queue (0.5 ms, an eighth of the
    // 4 ms RTT's BDP), both ways: losses come in bursts when the queue overflows, not at
    // random. Recovery must repair them without timeouts piling up.
    let fwd = SimConfig {
        rate_bps: 1_000_000_000,
        queue_bytes: 64 << 10,
        ..wire(0, 2 * MS)
    };
    let rev = SimConfig {
        rate_bps: 1_000_000_000,
        queue_bytes: 64 << 10,
        ..wire(0, 2 * MS)
    };
    let t = seeds("rate", 900..906, 4 << 20, fwd, rev, true);
    assert!(t.data_dropped > 0, "the queue overflowed: {t:?}");
    assert!(t.sack_recoveries > 0 && t.sacked_bytes > 0, "{t:?}");
    // Every drop is resent once, and little else: no go-back-N after a burst of drops.
    assert!(t.retrans_segs >= t.data_dropped, "{t:?}");
    assert!(t.retrans_segs <= t.data_dropped + 2 * t.runs, "{t:?}");
    assert!(t.rtos <= t.runs, "{t:?}");
}
