//! Zero-copy sends in TSO units on the simulated wire, against the SACK receiver: software
//! segmentation with chained frames and with frames copied flat (a port without multi-segment
//! TX), and hardware TSO with checksum offload as the simulated NIC does it (seeded checksums
//! completed, TSO frames cut). Seeded loss and reordering make SACK blocks and
//! retransmissions land inside units; every run checks the bytes (SHA-256), that no frame
//! arrived with a bad checksum, and that units were really used.
mod common;

use common::lossy;

use linerate::dpdk::{Eal, Mempool, Offloads};
use linerate::MS;
use linerate_sim::sackpeer::{SackOutcome, SackSim};
use linerate_sim::SimConfig;
use std::sync::Arc;

fn setup(name: &str) -> (Eal, Arc<Mempool>) {
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, name, 8191);
    (eal, pool)
}

#[derive(Debug, Default)]
struct Tot {
    runs: u64,
    gso_units: u64,
    gso_frames: u64,
    tso_frames: u64,
    nic_tso_frames: u64,
    sack_recoveries: u64,
    retrans_segs: u64,
    sacked_bytes: u64,
    bad_csum: u64,
    dropped: u64,
}

impl Tot {
    fn add(&mut self, o: &SackOutcome) {
        self.runs += 1;
        self.gso_units += o.stats.dev.gso_units;
        self.gso_frames += o.stats.dev.gso_frames;
        self.tso_frames += o.stats.dev.tso_frames;
        self.nic_tso_frames += o.to_peer.tso_frames;
        self.sack_recoveries += o.info.counters.sack_recoveries;
        self.retrans_segs += o.info.counters.retrans_segs;
        self.sacked_bytes += o.info.counters.sacked_bytes;
        self.bad_csum += o.peer.bad_csum;
        self.dropped += o.to_peer.dropped;
    }
}

/// Zero-copy transfers of `len` bytes over `seeds`, the data direction impaired by `fwd`, on
/// a NIC offering `offloads`.
fn runs(name: &str, seeds: std::ops::Range<u64>, len: usize, fwd: SimConfig, o: Offloads) -> Tot {
    let (eal, pool) = setup(name);
    let mut tot = Tot::default();
    for seed in seeds {
        let cfg = linerate_sim::sackpeer::stack_config();
        let rev = SimConfig {
            seed: seed * 2 + 2,
            delay: 2 * MS,
            ..Default::default()
        };
        let fwd = SimConfig {
            seed: seed * 2 + 1,
            ..fwd
        };
        let mut sim = SackSim::with_offloads(pool.clone(), fwd, rev, cfg, o).zero_copy(&eal);
        let data = linerate_sim::harness::payload(seed, len);
        let o = sim.transfer(&data, 300 * linerate::SEC, &format!("{name} seed {seed}"));
        tot.add(&o);
    }
    eprintln!("{name}: {tot:?}");
    tot
}

fn chained() -> Offloads {
    Offloads {
        tx_multi_seg: true,
        ..Default::default()
    }
}

#[test]
fn software_segmentation_of_chained_frames_recovers_losses() {
    let t = runs("units_chain", 0..12, 512 << 10, lossy(0.02, 0.0), chained());
    assert_eq!(
        t.bad_csum, 0,
        "every frame's checksums from partial sums: {t:?}"
    );
    assert!(
        t.gso_frames > 2 * t.gso_units,
        "units of several segments: {t:?}"
    );
    assert!(
        t.dropped > 0 && t.sack_recoveries > 0 && t.sacked_bytes > 0,
        "{t:?}"
    );
    assert_eq!(
        t.tso_frames + t.nic_tso_frames,
        0,
        "no TSO on this port: {t:?}"
    );
}

#[test]
fn software_segmentation_copied_flat_survives_reordering() {
    // No multi-segment TX: the payload is copied into each frame at the device boundary.
    let t = runs(
        "units_flat",
        20..30,
        512 << 10,
        lossy(0.01, 0.2),
        Offloads::default(),
    );
    assert_eq!(t.bad_csum, 0, "{t:?}");
    assert!(t.gso_frames > 2 * t.gso_units, "{t:?}");
    assert!(t.retrans_segs > 0, "{t:?}");
}

#[test]
fn hardware_tso_with_checksum_offload_recovers_losses_inside_units() {
    let o = Offloads {
        tx_ipv4_cksum: true,
        tx_tcp_cksum: true,
        tx_tso: true,
        tx_multi_seg: true,
        ..Default::default()
    };
    let t = runs("units_tso", 40..52, 512 << 10, lossy(0.02, 0.05), o);
    // The simulated NIC completes checksums from the stack's seeds: a wrong seed shows here.
    assert_eq!(t.bad_csum, 0, "{t:?}");
    assert!(
        t.tso_frames > 0 && t.nic_tso_frames == t.tso_frames,
        "{t:?}"
    );
    assert_eq!(t.gso_units, 0, "units go to the NIC whole: {t:?}");
    assert!(
        t.sack_recoveries > 0 && t.sacked_bytes > 0,
        "SACK inside units: {t:?}"
    );
}

#[test]
fn hardware_tso_keeps_to_the_drivers_segment_limit() {
    // A driver that takes at most 3 segments per TSO packet: a 64 KiB unit needs a header and
    // four payload views of at most 16 383 bytes, so such units are cut in software instead.
    let o = Offloads {
        tx_ipv4_cksum: true,
        tx_tcp_cksum: true,
        tx_tso: true,
        tx_multi_seg: true,
        tx_seg_max: 3,
        ..Default::default()
    };
    let t = runs("units_seglim", 60..64, 512 << 10, lossy(0.0, 0.0), o);
    assert_eq!(t.bad_csum, 0, "{t:?}");
    assert!(t.gso_units > 0 && t.gso_frames > 2 * t.gso_units, "{t:?}");
    assert_eq!(t.nic_tso_frames, t.tso_frames, "{t:?}");
}
