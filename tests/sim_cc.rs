//! Congestion control and pacing on the simulated wire, against smoltcp: CUBIC transfers
//! complete byte-exact on clean and lossy wires; a loss takes CUBIC's window to 0.7× (Reno's
//! to 0.5×); pacing spreads a window over the RTT where an unpaced sender bursts it.
mod common;

use linerate::dpdk::Mempool;
use linerate::Cc;
use linerate::IoError;
use linerate::{Nanos, MS, SEC};
use linerate_proto::pacing;
use linerate_sim::harness::*;
use linerate_sim::SimConfig;
use std::collections::BTreeMap;
use std::sync::Arc;

fn pool(name: &str) -> Arc<Mempool> {
    let eal = common::eal(&[]);
    common::pool(&eal, name, 4095)
}

fn setup(cc: &str, to_peer: SimConfig, to_stack: SimConfig) -> SimSetup {
    let mut s = SimSetup::new(to_peer, to_stack);
    s.stack.tcp.cc = Cc::by_name(cc).unwrap();
    s
}

#[test]
fn cubic_is_the_default_and_transfers_complete_clean_and_lossy() {
    let pool = pool("cc_xfer");
    let mut sim = Sim::new(pool.clone(), SimSetup::clean(7));
    let data = payload(7, 2 << 20);
    let o = transfer(&mut sim, &data, 120 * SEC, "cubic clean");
    assert_eq!(o.info.cc, "cubic", "CUBIC is the default");
    assert_eq!(o.info.counters.retrans_segs, 0);
    drop(sim);
    for seed in 1..=4u64 {
        let lossy = SimConfig {
            seed: seed * 2 + 1,
            loss: 0.01,
            ..SimConfig::default()
        };
        let back = SimConfig {
            seed: seed * 2 + 2,
            loss: 0.01,
            ..SimConfig::default()
        };
        let mut sim = Sim::new(pool.clone(), setup("cubic", lossy, back));
        let data = payload(seed, 1 << 20);
        let what = format!("cubic 1% loss seed {seed}");
        let o = transfer(&mut sim, &data, 300 * SEC, &what);
        assert_eq!(o.info.cc, "cubic");
        assert!(o.to_peer.dropped > 0, "{what}: the wire dropped frames");
        assert!(o.info.counters.retrans_segs > 0, "{what}");
        let base = sim.pool_base;
        drop(sim);
        assert_eq!(pool.in_use(), base, "{what}: every mbuf back");
    }
}

/// Runs a transfer under 1 % loss towards the peer and returns, for every multiplicative
/// decrease that is not an RTO's, ssthresh divided by the window (cwnd) and by the bytes in
/// flight just before it.
fn decrease_ratios(pool: &Arc<Mempool>, cc: &str, seed: u64) -> Vec<(f64, f64)> {
    let lossy = SimConfig {
        seed,
        loss: 0.01,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(pool.clone(), setup(cc, lossy, SimConfig::clean(seed + 100)));
    let data = payload(seed, 4 << 20);
    let id = sim.connect();
    let mut off = 0;
    let mut prev: Option<(u32, u32, u32, u64)> = None;
    let mut ratios = Vec::new();
    let done = sim.run_until(120 * SEC, |sim| {
        let Some(i) = sim.stack.info(id) else {
            return true;
        };
        assert_eq!(i.cc, cc);
        if let Some((cwnd, flight, ss, rtos)) = prev {
            if i.ssthresh != ss && i.counters.rtos == rtos && cwnd > 8 * i.mss && flight > 0 {
                let ss = i.ssthresh as f64;
                ratios.push((ss / cwnd as f64, ss / flight as f64));
            }
        }
        prev = Some((i.cwnd, i.in_flight, i.ssthresh, i.counters.rtos));
        while off < data.len() {
            match sim.stack.send(id, &data[off..]) {
                Ok(n) => off += n,
                Err(IoError::WouldBlock) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        sim.stack.flush();
        sim.read_peer();
        sim.received.len() == data.len()
    });
    assert!(done, "{cc} seed {seed}: transfer finished");
    assert!(sim.received == data, "{cc} seed {seed}: bytes intact");
    ratios
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[test]
fn loss_takes_cubic_to_0_7_and_reno_to_0_5() {
    let pool = pool("cc_beta");
    let mut cubic = Vec::new();
    let mut reno = Vec::new();
    for seed in [3u64, 5, 9] {
        cubic.extend(decrease_ratios(&pool, "cubic", seed));
        reno.extend(decrease_ratios(&pool, "reno", seed));
    }
    assert!(cubic.len() >= 5 && reno.len() >= 5, "{cubic:?} {reno:?}");
    // CUBIC: ssthresh = β·cwnd (RFC 9438 §4.6). Reno: ssthresh = FlightSize/2 (RFC 5681
    // eq. 4), so compare it with the bytes in flight.
    let mc = median(cubic.iter().map(|r| r.0).collect());
    let mr = median(reno.iter().map(|r| r.1).collect());
    eprintln!("decrease ratios: cubic/cwnd median {mc:.3} {cubic:.3?}; reno/flight median {mr:.3} {reno:.3?}");
    // The window is sampled once per poll, before the ACKs that preceded the loss in the
    // same poll grew it, so the ratios sit a little above β.
    assert!(
        (0.68..=0.76).contains(&mc),
        "CUBIC: ssthresh = 0.7·cwnd ({mc})"
    );
    assert!(
        (0.45..=0.62).contains(&mr),
        "Reno: ssthresh = 0.5·flight ({mr})"
    );
    assert!(mc - mr > 0.1, "CUBIC backs off less than Reno");
}

/// Sends 512 KiB over a 100 ms RTT wire to a 64 KiB receive window and returns the number
/// of data segments that left at each instant of virtual time, the virtual time the
/// transfer took, and the largest pacing rate seen.
fn bursts(pool: &Arc<Mempool>, pacing_on: bool) -> (BTreeMap<Nanos, u64>, Nanos, u64) {
    let wire = |seed| SimConfig {
        seed,
        delay: 50 * MS,
        ..SimConfig::default()
    };
    let mut s = setup("cubic", wire(11), wire(12));
    s.stack.tcp.pacing = pacing_on;
    s.peer_rx_buf = 64 << 10;
    let mut sim = Sim::new(pool.clone(), s);
    let data = payload(11, 512 << 10);
    let start = sim.now;
    let id = sim.connect();
    let mut off = 0;
    let mut last = 0u64;
    let mut per_instant = BTreeMap::new();
    let mut max_rate = 0;
    let done = sim.run_until(60 * SEC, |sim| {
        while off < data.len() {
            match sim.stack.send(id, &data[off..]) {
                Ok(n) => off += n,
                Err(IoError::WouldBlock) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        sim.stack.flush();
        let i = sim.stack.info(id).unwrap();
        max_rate = max_rate.max(i.pacing_rate);
        // Everything since the previous call happened at this instant (the poll, then sends).
        let n = i.counters.data_segs_out - last;
        last = i.counters.data_segs_out;
        if n > 0 {
            *per_instant.entry(sim.now).or_insert(0) += n;
        }
        sim.read_peer();
        sim.received.len() == data.len()
    });
    assert!(done, "pacing {pacing_on}: transfer finished");
    assert!(sim.received == data, "bytes intact");
    (per_instant, sim.now - start, max_rate)
}

#[test]
fn pacing_spreads_the_window_and_off_bursts_it() {
    let pool = pool("cc_pace");
    let (paced, t_paced, rate) = bursts(&pool, true);
    let (unpaced, t_unpaced, rate_off) = bursts(&pool, false);
    let max_paced = paced.values().copied().max().unwrap();
    let max_unpaced = unpaced.values().copied().max().unwrap();
    eprintln!(
        "paced: {} instants with data, largest burst {max_paced}, {} ms, rate ≤ {rate} B/s; \
         unpaced: {} instants, largest burst {max_unpaced}, {} ms",
        paced.len(),
        t_paced / MS,
        unpaced.len(),
        t_unpaced / MS
    );
    assert_eq!(rate_off, 0, "no pacing rate reported when off");
    assert!(rate > 0, "a pacing rate once srtt is known");
    // The bucket at these rates (≤ 2·128 KiB per 100 ms) is the 4-segment floor.
    assert!(
        pacing::Pacer::burst(rate, 1460) <= pacing::MIN_BURST_SEGS * 1460,
        "{rate}"
    );
    assert!(
        max_paced <= pacing::MIN_BURST_SEGS,
        "paced: no burst beyond the bucket: {paced:?}"
    );
    assert!(
        max_unpaced >= 10,
        "unpaced: the initial window leaves at once ({max_unpaced})"
    );
    assert!(
        paced.len() > 3 * unpaced.len(),
        "paced spreads over many instants"
    );
    // Pacing at 1.2–2× cwnd/srtt costs little time.
    assert!(
        t_paced <= t_unpaced + t_unpaced / 2,
        "paced {t_paced} vs unpaced {t_unpaced}"
    );
    // Gaps between paced departures within one round trip are bounded by the rate: no
    // instant sends more than the burst, and within any 10 ms no more than the bucket plus
    // what the rate allows (rate·10 ms).
    let times: Vec<(Nanos, u64)> = paced.iter().map(|(t, n)| (*t, *n)).collect();
    for (i, &(t0, _)) in times.iter().enumerate() {
        let in_window: u64 = times[i..]
            .iter()
            .take_while(|(t, _)| *t < t0 + 10 * MS)
            .map(|(_, n)| n)
            .sum();
        let allowed = pacing::MIN_BURST_SEGS + (rate * 10 / 1000).div_ceil(1460) + 1;
        assert!(
            in_window <= allowed,
            "at {t0}: {in_window} segments in 10 ms > {allowed}"
        );
    }
}
