//! Plain ACKs of one connection that arrive in the same RX burst are processed as one when
//! the later supersedes the earlier (`Stack`'s held-back ACK). Checks that this happens,
//! that every ACK is still counted as received, and that duplicate and SACK ACKs never merge:
//! loss recovery on the same runs still repairs every hole (SHA-256 of the bytes).
mod common;

use linerate::dpdk::{Eal, Mempool};
use linerate::{MS, SEC};
use linerate_sim::sackpeer::{SackOutcome, SackSim};
use linerate_sim::SimConfig;
use std::sync::Arc;

fn setup(name: &str) -> (Eal, Arc<Mempool>) {
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, name, 8191);
    (eal, pool)
}

fn transfer(pool: &Arc<Mempool>, eal: &Eal, seed: u64, fwd: SimConfig, what: &str) -> SackOutcome {
    let rev = SimConfig {
        seed: seed * 2 + 2,
        delay: 2 * MS,
        ..Default::default()
    };
    let fwd = SimConfig {
        seed: seed * 2 + 1,
        delay: 2 * MS,
        ..fwd
    };
    let mut sim = SackSim::new(pool.clone(), fwd, rev).zero_copy(eal);
    let data = linerate_sim::harness::payload(seed, 2 << 20);
    sim.transfer(&data, 120 * SEC, &format!("{what} seed {seed}"))
}

#[test]
fn acks_of_one_burst_coalesce_and_all_count() {
    let (eal, pool) = setup("ackc_clean");
    let o = transfer(&pool, &eal, 1, SimConfig::default(), "clean");
    // The stack's sum: the connection's block (and `info`) went when it entered TIME-WAIT.
    let c = o.stats.tcp;
    eprintln!("clean: {c:?} to_stack {:?} peer {:?}", o.to_stack, o.peer);
    assert!(c.acks_coalesced > 0, "ACKs arriving together merge: {c:?}");
    assert!(c.acks_coalesced < c.segs_in, "{c:?}");
    // Every TCP segment the wire delivered to the stack counts as received, merged or not.
    let arp = o.stats.neigh.replies_received;
    assert_eq!(c.segs_in + arp, o.to_stack.delivered, "{c:?} {:?}", o.stats);
    // A clean path: merged ACKs never look like duplicates or trigger recovery.
    assert_eq!((c.dupacks_in, c.retrans_segs), (0, 0), "{c:?}");
}

#[test]
fn duplicate_and_sack_acks_never_merge() {
    let (eal, pool) = setup("ackc_lossy");
    let (mut merged, mut dsacks, mut recoveries) = (0, 0, 0);
    for seed in 0..6 {
        let lossy = SimConfig {
            loss: 0.02,
            reorder: 0.02,
            reorder_delay: 3 * MS,
            ..Default::default()
        };
        // `transfer` checks the delivered bytes: every hole was repaired.
        let o = transfer(&pool, &eal, seed, lossy, "lossy");
        let c = o.info.counters;
        merged += c.acks_coalesced;
        dsacks += c.dsacks_in;
        recoveries += c.sack_recoveries;
        // The ACK path loses nothing, so every DSACK the receiver sent reached the stack's
        // scoreboard: an ACK carrying SACK blocks is never merged away.
        assert_eq!(
            c.dsacks_in, o.peer.dsacks_sent,
            "seed {seed}: {c:?} {:?}",
            o.peer
        );
    }
    assert!(
        merged > 0 && dsacks > 0 && recoveries > 0,
        "{merged} {dsacks} {recoveries}"
    );
}
