//! `linerate send` from the outside: the built binary, its errors (one line each), the
//! settings echo, and a short run on net_null (no root, no topology needed).
mod common;

use common::{
    ack_peer_args, json_run, linerate, on_link_args, one_line_error, send_args, stderr, NULL_EAL,
};

#[test]
fn unknown_flag_is_exit_2_one_line() {
    let o = linerate(&send_args(&["--bogus"]));
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("--bogus"), "{e}");
}

#[test]
fn help_works() {
    let o = linerate(&["send", "--help"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for f in [
        "--dpdk",
        "--ip",
        "--dst",
        "-P",
        "--rate",
        "--payload-file",
        "--latency",
        "--msg-rate",
        "--json",
        "--hist-out",
        "--pcap",
        "--config",
        "--sndbuf",
        "--cc",
        "--mss",
    ] {
        assert!(out.contains(f), "{f} missing from help:\n{out}");
    }
}

#[test]
fn bad_values_name_the_flag() {
    one_line_error(&send_args(&["--size", "12Q"]), "--size: invalid size '12Q'");
    one_line_error(&send_args(&["--rate", "fast"]), "--rate: invalid rate");
    one_line_error(&send_args(&["-t", "10x"]), "-t: invalid duration");
    one_line_error(&send_args(&["--cc", "bogus"]), "known: cubic, reno");
    one_line_error(
        &[
            "send",
            "--dpdk",
            NULL_EAL,
            "--ip",
            "198.18.0.1",
            "--dst",
            "198.18.0.2:1",
        ],
        "--ip:",
    );
    one_line_error(
        &[
            "send",
            "--dpdk",
            NULL_EAL,
            "--ip",
            "300.1.2.3/24",
            "--dst",
            "198.18.0.2:1",
        ],
        "--ip: invalid address '300.1.2.3/24'",
    );
    one_line_error(
        &[
            "send",
            "--dpdk",
            NULL_EAL,
            "--ip",
            "198.18.0.1/24",
            "--dst",
            "198.18.0.2",
        ],
        "--dst: invalid destination '198.18.0.2' (expected ip:port",
    );
    let e = one_line_error(&send_args(&["--neigh", "nope"]), "--neigh:");
    assert!(e.contains("e.g."), "{e}");
}

#[test]
fn missing_payload_file_is_one_line() {
    let e = one_line_error(
        &send_args(&["--payload-file", "/nonexistent/lr-payload"]),
        "--payload-file: cannot read /nonexistent/lr-payload:",
    );
    assert!(e.contains("No such file"), "{e}");
}

#[test]
fn no_route_is_one_line() {
    let o = linerate(&[
        "send",
        "--dpdk",
        NULL_EAL,
        "--ip",
        "198.18.0.1/24",
        "--dst",
        "198.19.0.2:5201",
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("no route to 198.19.0.2"), "{e}");
}

#[test]
fn eal_failure_is_one_line() {
    let o = linerate(&[
        "send",
        "--dpdk",
        "--no-pci --no-huge --no-shconf -m 256 -l 0 --vdev=net_bogus0",
        "--ip",
        "198.18.0.1/24",
        "--dst",
        "198.18.0.2:1",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    let ours: Vec<&str> = e.lines().filter(|l| l.starts_with("linerate:")).collect();
    assert_eq!(ours.len(), 1, "{e}");
    assert!(ours[0].contains("EAL") || ours[0].contains("port"), "{e}");
}

#[test]
fn config_file_is_echoed_and_flags_override() {
    let dir = std::env::temp_dir().join(format!("lr-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("send.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
dpdk = "{NULL_EAL}"
ip = "198.18.0.1/24"
gw = "198.18.0.254"
neigh = ["198.18.0.254=02:00:00:00:00:01"]
dst = ["198.19.0.2:5201", "198.19.0.3:5202"]
connections = 5
time = "300ms"
size = "64KiB"
sndbuf = "1MiB"
rate = "2G"
"#
        ),
    )
    .unwrap();
    let o = linerate(&["send", "--config", cfg.to_str().unwrap(), "-P", "3"]);
    let e = stderr(&o);
    assert!(e.contains("connections 3"), "CLI overrides the file:\n{e}");
    assert!(e.contains("after 300ms"), "{e}");
    assert!(e.contains("64KiB per send"), "{e}");
    assert!(e.contains("sndbuf 1MiB"), "{e}");
    assert!(e.contains("2.000 Gbit/s total"), "{e}");
    assert!(e.contains("198.19.0.2:5201 198.19.0.3:5202"), "{e}");
    assert!(e.contains("mempool"), "{e}");
    // A bad key in the file is one line naming the file.
    std::fs::write(&cfg, "bogus_key = 1\n").unwrap();
    one_line_error(&["send", "--config", cfg.to_str().unwrap()], "--config");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn net_null_run_prints_a_json_report() {
    let o = linerate(&send_args(&["-P", "2", "-t", "1s", "--json", "--quiet"]));
    // Nothing answers on net_null: every connection stays in SYN-SENT, so the run fails as a
    // whole (exit 1) but still prints the report.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("all 2 connections failed"), "{e}");
    let out = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["schema"], 1);
    assert_eq!(v["ended_by"], "duration");
    for k in [
        "version",
        "settings",
        "duration_s",
        "goodput_gbps",
        "bytes_acked",
        "bytes_sent",
        "segments",
        "retransmits",
        "connections",
        "per_connection_gbps",
        "per_connection",
        "latency",
        "port",
        "stack",
    ] {
        assert!(v.get(k).is_some(), "missing {k} in {out}");
    }
    let c = &v["connections"];
    assert_eq!(c["requested"], 2);
    assert_eq!(c["established"], 0);
    assert_eq!(c["errors"], 2);
    assert_eq!(c["not_established"], 2);
    assert_eq!(c["completed"], 0);
    assert_eq!(v["bytes_acked"], 0);
    assert_eq!(v["port"]["driver"], "net_null");
    assert!(
        v["port"]["opackets"].as_u64().unwrap() >= 2,
        "SYNs went out"
    );
    assert_eq!(v["settings"]["connections"], 2);
    assert_eq!(v["per_connection"].as_array().unwrap().len(), 2);
    assert!(v["latency"]["send"].is_null());
    assert!(v["stack"]["drops"].is_object());
    assert!(v["stack"]["neigh"].is_object());
}

/// `--ack-peer` on net_null: the in-process receiver answers, so the run needs no network and
/// reports data segments, Mpps and ns/segment.
#[test]
fn ack_peer_run_on_net_null_reports_the_rate() {
    let o = linerate(&ack_peer_args(&["--size", "1448", "--nodelay"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["settings"]["ack_peer"], true);
    assert_eq!(v["connections"]["established"], 1);
    assert_eq!(v["connections"]["errors"], 0);
    assert!(v["segments"]["data_out"].as_u64().unwrap() > 100, "{out}");
    assert!(v["data_mpps"].as_f64().unwrap() > 0.0, "{out}");
    assert!(v["ns_per_segment"].as_f64().unwrap() > 0.0, "{out}");
    assert!(v["goodput_gbps"].as_f64().unwrap() > 0.0, "{out}");
    assert_eq!(v["retransmits"]["segments"], 0, "{out}");
}

#[test]
fn ack_peer_errors_are_one_line() {
    // The default --dst (198.19.0.2 via the gateway) is not on-link.
    one_line_error(
        &send_args(&["--ack-peer"]),
        "--ack-peer: --dst 198.19.0.2 must be another address on --ip",
    );
    one_line_error(
        &[
            "send",
            "--dpdk",
            NULL_EAL,
            "--ip",
            "198.18.0.1/24",
            "--dst",
            "198.18.0.2:1",
            "--dst",
            "198.18.0.3:1",
            "--ack-peer",
        ],
        "--ack-peer: every --dst must use one address",
    );
    let o = linerate(&["send", "--ack-peer=yes"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

/// `--ack-peer-offloads`: the peer presents checksum offload, the stack leaves the checksums
/// to the "NIC" (nobody computes them: an emulation), and the report says so.
#[test]
fn ack_peer_offloads_run_is_labelled() {
    one_line_error(
        &on_link_args("198.18.0.1/24", &["--ack-peer-offloads"]),
        "--ack-peer-offloads needs --ack-peer",
    );
    let o = linerate(&ack_peer_args(&["--ack-peer-offloads"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["settings"]["ack_peer_offloads"], true, "{out}");
    assert_eq!(v["connections"]["errors"], 0, "{out}");
    assert!(v["segments"]["data_out"].as_u64().unwrap() > 100, "{out}");
    assert_eq!(v["retransmits"]["segments"], 0, "{out}");
}

#[test]
fn ksend_argument_errors_are_one_line() {
    for (args, want) in [
        (vec!["ksend"], "--connect is required"),
        (
            vec!["ksend", "--connect", "198.19.0.2"],
            "--connect: invalid address '198.19.0.2'",
        ),
        (
            vec!["ksend", "--connect", "127.0.0.1:1", "--size", "0"],
            "--size:",
        ),
        (
            vec!["ksend", "--connect", "127.0.0.1:1", "--msg-rate", "lots"],
            "--msg-rate:",
        ),
        (vec!["ksend", "--connect", "127.0.0.1:1", "-t", "0s"], "-t:"),
        (vec!["ksend", "--bogus"], "--bogus"),
    ] {
        let o = linerate(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert_eq!(e.lines().count(), 1, "{args:?}: {e}");
        assert!(e.contains(want), "{args:?}: want {want:?} in {e:?}");
    }
    // Nothing listens: a run-time error, exit 1, one line.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    let o = linerate(&["ksend", "--connect", &addr, "-t", "100ms"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains(&format!("connect {addr}")), "{e}");
}

#[test]
fn ksend_runs_against_a_local_listener() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let t = std::thread::spawn(move || {
        use std::io::Read;
        let (mut s, _) = l.accept().unwrap();
        let mut v = Vec::new();
        s.read_to_end(&mut v).unwrap();
        v.len()
    });
    let v = json_run(&[
        "ksend",
        "--connect",
        &addr,
        "-t",
        "100ms",
        "--msg-rate",
        "1k",
        "--json",
    ]);
    assert_eq!(v["messages"], 100);
    assert_eq!(t.join().unwrap(), 6400);
    assert!(v["send"]["p999_us"].as_f64().unwrap() > 0.0);
    assert!(v["send_corrected"]["p50_us"].is_number());
}

#[test]
fn ksend_bulk_argument_errors_are_one_line() {
    for (args, want) in [
        (vec!["ksend", "--connect", "127.0.0.1:1", "-P", "8"], "-P:"),
        (vec!["ksend", "--connect", "127.0.0.1:1", "-n", "0"], "-n:"),
        (
            vec!["ksend", "--connect", "127.0.0.1:1", "-n", "lots"],
            "-n:",
        ),
        (
            vec![
                "ksend",
                "--connect",
                "127.0.0.1:1",
                "-n",
                "1MiB",
                "--rr",
                "1/1",
            ],
            "-n:",
        ),
        (
            vec!["ksend", "--connect", "127.0.0.1:1", "-n", "1MiB", "-P", "0"],
            "-P:",
        ),
        (
            vec!["ksend", "--connect", "127.0.0.1:1", "-n", "1MiB", "-P", "x"],
            "-P:",
        ),
        (
            vec![
                "ksend",
                "--connect",
                "127.0.0.1:1",
                "-n",
                "1MiB",
                "--cc",
                "a b",
            ],
            "--cc:",
        ),
    ] {
        let o = linerate(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert_eq!(e.lines().count(), 1, "{args:?}: {e}");
        assert!(e.contains(want), "{args:?}: want {want:?} in {e:?}");
    }
}

/// -P 3 -n 300000 against a local listener: every connection delivers exactly its bytes of
/// the generated payload, and the report says all three finished.
#[test]
fn ksend_bulk_delivers_every_connections_bytes() {
    use std::io::Read;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let t = std::thread::spawn(move || {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let (mut s, _) = l.accept().unwrap();
                std::thread::spawn(move || {
                    let mut v = Vec::new();
                    s.read_to_end(&mut v).unwrap();
                    v
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|r| r.join().unwrap())
            .collect::<Vec<_>>()
    });
    let v = json_run(&[
        "ksend",
        "--connect",
        &addr,
        "-P",
        "3",
        "-n",
        "300000",
        "--json",
    ]);
    assert_eq!(v["completed"], 3, "{v}");
    assert_eq!(v["bytes_per_connection"], 300000);
    let per = v["per_connection_s"].as_array().unwrap();
    assert!(
        per.iter().all(|s| s.as_f64().is_some_and(|s| s > 0.0)),
        "{v}"
    );
    assert!(v["completion_s"].as_f64().unwrap() >= per[0].as_f64().unwrap());
    for got in t.join().unwrap() {
        assert_eq!(got.len(), 300000);
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, &b)| b == ((i % (256 * 1024)) % 251) as u8));
    }
}
