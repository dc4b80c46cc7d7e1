//! `linerate send` with two workers end to end: lcores 0 and 1, each with its own queue pair
//! of lr-gen's veth (af_packet, `qpairs=2`), against `linerate sink` in lr-sink. af_packet
//! spreads received frames by its own fanout hash, so ACKs land on either queue and the
//! software redirect hands each to its connection's worker. Every connection's SHA-256 at the
//! sink must match the payload; both workers must carry data; redirected frames are counted.
//! Needs root, `scripts/topology.sh up`, and to run inside lr-gen (scripts/test.sh does all
//! three).
mod common;

use common::e2e::{assert_all_whole, random_bytes, run_report, send_to_sink, sha256_hex, Sink};

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn two_workers_over_af_packet_deliver_every_byte() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        eprintln!("note: {cpus} CPU; two workers need two lcores: skipped");
        return;
    }
    const CONNS: usize = 8;
    let size = 16 << 20;
    let data = random_bytes(7, size);
    let dir = std::env::temp_dir().join(format!("lr-e2e-workers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("payload.bin");
    std::fs::write(&file, &data).unwrap();
    let want_sha = sha256_hex(&data);

    let sink = Sink::start(5411, CONNS);
    let v = run_report(send_to_sink(sink.addr(), "0-1", 2).args([
        "-P",
        &CONNS.to_string(),
        "-n",
        &size.to_string(),
        "--payload-file",
        file.to_str().unwrap(),
        "--json",
    ]));
    let _ = std::fs::remove_dir_all(&dir);

    assert_all_whole(&sink.finish(), CONNS, size as u64, &want_sha);

    assert_eq!(v["ended_by"], "bytes");
    assert_eq!(v["connections"]["completed"], CONNS);
    assert_eq!(v["bytes_acked"], (CONNS * size) as u64);
    let workers = v["workers"].as_array().expect("workers array");
    assert_eq!(workers.len(), 2, "{workers:?}");
    let mut redirected = 0;
    for (i, w) in workers.iter().enumerate() {
        assert_eq!(w["queue"], i, "{w}");
        assert_eq!(w["lcore"], i, "{w}");
        assert!(w["error"].is_null(), "{w}");
        assert_eq!(w["connections"], CONNS / 2, "{w}");
        // Both workers carried their half of the data.
        assert_eq!(w["bytes_acked"], (CONNS / 2 * size) as u64, "{w}");
        assert!(w["data_mpps"].as_f64().unwrap() > 0.0, "{w}");
        redirected += w["redirected_in"].as_u64().unwrap();
    }
    // What one worker passed on, the other received.
    let out_sum: u64 = workers
        .iter()
        .map(|w| w["redirected_out"].as_u64().unwrap())
        .sum();
    let drops: u64 = workers
        .iter()
        .map(|w| w["redirect_drops"].as_u64().unwrap())
        .sum();
    assert_eq!(redirected + drops, out_sum, "{workers:?}");
    // af_packet's fanout ignores our port choice: some ACKs land on the other queue.
    assert!(redirected > 0, "frames were redirected: {workers:?}");
}
