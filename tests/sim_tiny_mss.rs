//! A peer that announces an MSS of 64 against the SACK receiver on the simulated wire: the
//! send buffer charges each queued segment at least `MIN_SEG_CHARGE` (1 KiB, as Linux
//! charges an skb's truesize), so the connection holds at most sndbuf / 1 KiB segments (and
//! mbufs) instead of sndbuf / 52, leaves the pool to everyone else, and still delivers every
//! byte (SHA-256, checked by `transfer`). Virtual time only.
mod common;

use linerate::SEC;
use linerate_sim::harness::payload;
use linerate_sim::sackpeer::{stack_config, SackSim};
use linerate_sim::SimConfig;

#[test]
fn sim_tiny_mss_peer_holds_a_bounded_number_of_mbufs() {
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, "tinymss", 4095);
    let cfg = stack_config();
    let sndbuf = cfg.tcp.sndbuf;
    let mut sim = SackSim::with_config(pool, SimConfig::clean(7), SimConfig::clean(8), cfg);
    sim.peer.mss = 64;
    let data = payload(9, 1 << 20);
    let mut most_segs = 0u32;
    let mut mss = 0;
    let out = sim.transfer_observed(&data, 120 * SEC, "tiny mss", |_, i| {
        if i.mss < 100 {
            mss = i.mss;
            most_segs = most_segs.max((i.in_flight + i.unsent_bytes).div_ceil(i.mss));
        }
    });
    assert_eq!(mss, 64 - 12, "the peer's MSS less the timestamp option");
    let bound = sndbuf / 1024 + 1;
    assert!(
        most_segs <= bound,
        "{most_segs} segments queued at most, bound {bound}"
    );
    assert!(most_segs > bound / 4, "the queue still fills: {most_segs}");
    assert_eq!(
        out.info.counters.alloc_failures, 0,
        "{:?}",
        out.info.counters
    );
}
