//! `linerate send` end to end: the built binary as a child process on lr-gen's veth, against
//! `linerate sink` in lr-sink. Every connection's bytes and SHA-256 must match the payload
//! file (sent twice in bulk; once per connection in --cps mode), and the JSON report must
//! agree. Needs root, `scripts/topology.sh up`, and
//! to run inside lr-gen (scripts/test.sh does all three).
mod common;

use common::e2e::{
    assert_all_whole, random_bytes, run_report, run_report_within, send_to_sink, serial,
    sha256_hex, Sink,
};

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn send_payload_file_to_the_kernel_sink() {
    let _turn = serial();
    const CONNS: usize = 4;
    let size = (3 << 20) + 7;
    let data = random_bytes(42, size);
    let dir = std::env::temp_dir().join(format!("lr-e2e-send-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("payload.bin");
    std::fs::write(&file, &data).unwrap();
    let twice = [data.as_slice(), data.as_slice()].concat();
    let want_sha = sha256_hex(&twice);

    let sink = Sink::start(5401, CONNS);
    let v = run_report(send_to_sink(sink.addr(), "0", 1).args([
        "-P",
        &CONNS.to_string(),
        "-n",
        &(2 * size).to_string(),
        "--size",
        "100KiB",
        "--payload-file",
        file.to_str().unwrap(),
        "--json",
    ]));

    assert_all_whole(&sink.finish(), CONNS, 2 * size as u64, &want_sha);

    assert_eq!(v["schema"], 1);
    assert_eq!(v["ended_by"], "bytes");
    assert_eq!(v["bytes_acked"], (CONNS * 2 * size) as u64);
    assert_eq!(v["connections"]["requested"], CONNS);
    assert_eq!(v["connections"]["established"], CONNS);
    assert_eq!(v["connections"]["completed"], CONNS);
    assert_eq!(v["connections"]["errors"], 0);
    assert!(v["goodput_gbps"].as_f64().unwrap() > 0.0);
    for c in v["per_connection"].as_array().unwrap() {
        assert_eq!(c["bytes_acked"], (2 * size) as u64, "{c}");
        assert!(c["error"].is_null(), "{c}");
    }
    let send = &v["latency"]["send"];
    assert!(send["count"].as_u64().unwrap() > 0, "{send}");
    assert!(v["latency"]["ack_rtt"]["count"].as_u64().unwrap() > 0);
    assert!(v["port"]["opackets"].as_u64().unwrap() > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--cps` through af_packet and the router: connections opened at 2 000 a second, each sends
/// the payload file once and closes; the kernel sink sees every one whole (SHA-256) and
/// closed with FIN, and the report counts each as completed.
#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn cps_connections_each_arrive_byte_exact() {
    let _turn = serial();
    const CONNS: usize = 2000;
    let size = 10_000;
    let data = random_bytes(7, size);
    let dir = std::env::temp_dir().join(format!("lr-e2e-cps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("request.bin");
    std::fs::write(&file, &data).unwrap();
    let want_sha = sha256_hex(&data);

    let sink = Sink::start(5402, CONNS);
    let v = run_report(
        send_to_sink(sink.addr(), "0", 1)
            .args([
                "--cps",
                "2000",
                "-P",
                &CONNS.to_string(),
                "-n",
                &size.to_string(),
            ])
            .args([
                "-t",
                "30s",
                "--payload-file",
                file.to_str().unwrap(),
                "--json",
            ]),
    );

    assert_all_whole(&sink.finish(), CONNS, size as u64, &want_sha);
    assert_eq!(v["ended_by"], "bytes", "{v}");
    assert_eq!(v["cps"]["opened"], CONNS, "{v}");
    assert_eq!(v["connections"]["completed"], CONNS, "{v}");
    assert_eq!(v["connections"]["errors"], 0, "{v}");
    assert_eq!(v["bytes_acked"], (CONNS * size) as u64, "{v}");
    assert_eq!(v["latency"]["complete"]["count"], CONNS, "{v}");
    // Opened on schedule: 2 000 at 2 000/s take about a second.
    let rate = v["cps"]["achieved_per_s"].as_f64().unwrap();
    assert!(rate > 1000.0, "{rate} connections/s: {v}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A peer that talks back in a bulk run: the sink answers every 1 000 bytes with 1 000 of
/// its own. The sender reads and drops them (they are not buffered without bound, and an
/// unread byte would turn close() into an RST), so both ends close with FIN and every
/// byte arrives.
#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn bulk_send_reads_and_drops_what_the_peer_says() {
    let _turn = serial();
    const CONNS: usize = 2;
    const SIZE: u64 = 2 << 20;
    let sink = Sink::start_with(5404, CONNS, &["--respond", "1000", "--request", "1000"]);
    let v = run_report_within(
        send_to_sink(sink.addr(), "0", 1).args([
            "-P",
            &CONNS.to_string(),
            "-n",
            &SIZE.to_string(),
            "--json",
        ]),
        60,
    );
    let conns = sink.finish();
    assert_eq!(conns.len(), CONNS, "{conns:?}");
    for c in &conns {
        assert_eq!(c.closed, "fin", "the sender closed cleanly: {c:?}");
        assert_eq!(c.bytes, SIZE, "{c:?}");
        assert_eq!(c.responses, SIZE / 1000, "the sink talked back: {c:?}");
    }
    assert_eq!(v["bytes_acked"], CONNS as u64 * SIZE, "{v}");
    assert_eq!(v["connections"]["errors"], 0, "{v}");
    assert_eq!(v["stack"]["rst_sent"], 0, "{v}");
}

/// `--rr` against `linerate sink --respond`: each connection sends 100-byte requests and
/// reads 2 000-byte responses, one at a time. The sink answered every request it got, and
/// every transaction the report counts is a response the sink sent.
#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn request_response_against_the_kernel_sink() {
    let _turn = serial();
    const CONNS: usize = 4;
    let sink = Sink::start_with(5403, CONNS, &["--respond", "2000", "--request", "100"]);
    let v = run_report(send_to_sink(sink.addr(), "0", 1).args([
        "--rr",
        "100/2000",
        "-P",
        &CONNS.to_string(),
        "-t",
        "2s",
        "--json",
    ]));
    let conns = sink.finish();
    assert_eq!(conns.len(), CONNS, "one sink report per connection");
    let mut answered = 0;
    for c in &conns {
        assert_eq!(c.closed, "fin", "{c:?}");
        assert!(c.bytes > 0 && c.bytes % 100 == 0, "whole requests: {c:?}");
        assert_eq!(
            c.responses,
            c.bytes / 100,
            "one response per request: {c:?}"
        );
        answered += c.responses;
    }
    let done = v["rr"]["transactions"].as_u64().unwrap();
    // The requests still waiting for their response when the run ended, at most one each.
    assert!(
        done <= answered && answered <= done + CONNS as u64,
        "{done} transactions, {answered} responses"
    );
    assert!(done > 100, "{v}");
    assert_eq!(v["latency"]["transaction"]["count"], done, "{v}");
    assert_eq!(v["connections"]["errors"], 0, "{v}");
    assert_eq!(v["stack"]["rst_sent"], 0, "{v}");
}
