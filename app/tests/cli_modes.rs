//! `linerate send`'s many-connection modes from the outside: --src-range, --hold, --cps,
//! --json-lines, --ack-peer-gro. Bad values are one line that says what to fix; short runs on
//! net_null with the in-process ACK peer report what the mode promises.
mod common;

use common::{ack_peer_args, linerate, on_link_args, one_line_error, send_args, stderr};

/// A send on net_null to the ACK peer's address on a /16, plus `extra` (no run flags).
fn peer16<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = on_link_args("198.18.0.1/16", &["--ack-peer"]);
    v.extend_from_slice(extra);
    v
}

#[test]
fn mode_flag_errors_are_one_line() {
    for (extra, want) in [
        (vec!["--cps", "0", "-n", "1KiB"], "--cps: must be > 0"),
        (
            vec!["--cps", "lots", "-n", "1KiB"],
            "--cps: invalid count 'lots'",
        ),
        (vec!["--cps", "1k"], "--cps needs -n"),
        (
            vec!["--cps", "1k", "-n", "1KiB", "--rate", "1G"],
            "--cps and --rate exclude",
        ),
        (
            vec!["--hold", "--cps", "1k", "-n", "1"],
            "--hold and --cps exclude each other",
        ),
        (
            vec!["--hold", "-n", "1MiB"],
            "--hold keeps connections open for -t",
        ),
        (
            vec!["--hold-interval", "1s"],
            "--hold-interval only applies with --hold",
        ),
        (
            vec!["--hold", "--hold-interval", "0s"],
            "--hold-interval: must be at least 1ms",
        ),
        (
            vec!["--hold", "--hold-interval", "soon"],
            "--hold-interval: invalid duration",
        ),
        (vec!["--ack-peer-gro"], "--ack-peer-gro needs --ack-peer"),
        (vec!["--rr", "0/x"], "--rr: invalid"),
        (vec!["--rr", "0/64"], "--rr: 0/64 is out of range"),
        (vec!["--rr", "64"], "--rr: '64' has no '/'"),
        (vec!["--rr", "64/64", "-n", "1MiB"], "--rr runs for -t"),
        (
            vec!["--rr", "64/64", "--latency", "--msg-rate", "1k"],
            "--rr and --latency exclude",
        ),
        (
            vec!["--rr", "64/64", "--msg-rate", "0"],
            "--msg-rate: must be > 0",
        ),
        (
            vec!["--src-range", "198.18.0.10"],
            "--src-range: invalid range",
        ),
        (
            vec!["--src-range", "198.18.0.20-198.18.0.10"],
            "comes after",
        ),
        (
            vec!["--src-range", "198.18.1.1-198.18.1.9"],
            "is not inside --ip 198.18.0.1/24",
        ),
        (
            vec!["--src-range", "198.18.0.1-198.18.0.9"],
            "includes 198.18.0.1",
        ),
        (
            vec!["--src-range", "198.18.0.250-198.18.0.254"],
            "includes 198.18.0.254",
        ),
    ] {
        one_line_error(&send_args(&extra), want);
    }
}

/// More connections than ports × source addresses × destinations: refused before EAL starts,
/// with the most that fit.
#[test]
fn too_many_connections_say_how_many_fit() {
    let e = one_line_error(
        &send_args(&["-P", "30000"]),
        "-P 30000: at most 28232 connections fit",
    );
    assert!(e.contains("--src-range"), "{e}");
    one_line_error(
        &send_args(&["-P", "60000", "--src-range", "198.18.0.10-198.18.0.11"]),
        "-P 60000: at most 56464 connections fit (28232 ports × 2 source address(es) × 1",
    );
}

fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    let out = String::from_utf8_lossy(&o.stdout);
    let last = out.lines().last().unwrap_or("");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line is the report ({e}): {out}"))
}

/// --cps: connections opened on the schedule, each sends -n bytes and closes; every one is
/// counted as completed, with connect and complete times.
#[test]
fn cps_run_opens_on_schedule_and_completes_each() {
    let o = linerate(&peer16(&[
        "--cps", "2000", "-n", "3000", "-t", "500ms", "--json", "--quiet",
    ]));
    let v = json(&o);
    assert_eq!(v["ended_by"], "duration", "{v}");
    let c = &v["cps"];
    assert_eq!(c["target_per_s"], 2000, "{v}");
    // 2 000/s for 0.5 s: up to 999 (the 1 000th is due at 0.5 s, when opening stops), less
    // those due after the loop's last look before the end (a few ms in a debug build).
    let opened = c["opened"].as_u64().unwrap();
    assert!((900..=999).contains(&opened), "{v}");
    let n = &v["connections"];
    assert_eq!(n["requested"], opened, "{v}");
    assert_eq!(n["completed"], opened, "{v}");
    assert_eq!(n["errors"], 0, "{v}");
    assert_eq!(v["bytes_acked"], opened * 3000, "{v}");
    assert_eq!(v["latency"]["connect"]["count"], opened, "{v}");
    assert_eq!(v["latency"]["complete"]["count"], opened, "{v}");
    assert_eq!(v["settings"]["cps"], 2000, "{v}");
    assert_eq!(v["retransmits"]["segments"], 0, "{v}");
    // The peer's templated SYN-ACKs and ACKs all pass the stack's software checksums.
    assert_eq!(v["stack"]["drops_total"], 0, "{v}");

    // With -P, exactly that many, and the run ends when they are done.
    let o = linerate(&peer16(&[
        "--cps", "5000", "-P", "300", "-n", "2000", "-t", "5s", "--mbufs", "16383", "--json",
        "--quiet",
    ]));
    let v = json(&o);
    assert_eq!(v["ended_by"], "bytes", "{v}");
    assert_eq!(v["cps"]["opened"], 300, "{v}");
    assert_eq!(v["connections"]["completed"], 300, "{v}");
    assert_eq!(v["bytes_acked"], 300 * 2000, "{v}");
    assert!(
        v["duration_s"].as_f64().unwrap() < 1.0,
        "300 at 5 000/s: {v}"
    );
}

/// --hold with --src-range: every connection established and sending its small message each
/// interval, from the range's addresses; the memory section counts them.
#[test]
fn hold_run_keeps_every_connection_and_reports_memory() {
    let o = linerate(&peer16(&[
        "--hold",
        "--hold-interval",
        "100ms",
        "-P",
        "3000",
        "--src-range",
        "198.18.1.0-198.18.1.1",
        "--mbufs",
        "16383",
        "-t",
        "1s",
        "--json",
        "--quiet",
    ]));
    let v = json(&o);
    let n = &v["connections"];
    assert_eq!(
        (n["established"].as_u64(), n["errors"].as_u64()),
        (Some(3000), Some(0)),
        "{v}"
    );
    let m = &v["memory"];
    assert_eq!(m["conns_held"], 3000, "{v}");
    let idle = m["idle_bytes_per_conn"].as_f64().unwrap();
    assert!(
        idle > 500.0 && idle <= 1024.0,
        "idle bytes per connection: {idle} ({v})"
    );
    // 64-byte messages, one per connection per 100 ms for about a second.
    let acked = v["bytes_acked"].as_u64().unwrap();
    assert!(acked >= 3000 * 64 * 5, "{acked} bytes acked ({v})");
    assert_eq!(acked % 64, 0, "whole messages: {acked}");
    assert_eq!(v["settings"]["src_range"], "198.18.1.0-198.18.1.1", "{v}");
}

/// --json-lines: one object per second before the report, with the running totals.
#[test]
fn json_lines_print_a_time_series() {
    let mut a = ack_peer_args(&["--json-lines", "--ack-peer-gro"]);
    let t = a.iter().position(|x| *x == "300ms").unwrap();
    a[t] = "2500ms";
    let o = linerate(&a);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 3, "two one-second lines and the report: {out}");
    assert_eq!(lines[0]["t_s"].as_f64().map(f64::round), Some(1.0), "{out}");
    assert_eq!(lines[1]["t_s"].as_f64().map(f64::round), Some(2.0), "{out}");
    let a0 = lines[0]["bytes_acked"].as_u64().unwrap();
    let a1 = lines[1]["bytes_acked"].as_u64().unwrap();
    assert!(a0 > 0 && a1 > a0, "{out}");
    assert!(lines[1]["goodput_gbps"].as_f64().unwrap() > 0.0, "{out}");
    assert_eq!(lines[2]["settings"]["ack_peer_gro"], true, "{out}");
}

/// --rr on net_null: the in-process peer answers each request with the response; the report
/// counts transactions and times them (from the intended time too with --msg-rate).
#[test]
fn rr_run_counts_and_times_transactions() {
    let o = linerate(&ack_peer_args(&["--rr", "64/3000", "-P", "4"]));
    let v = json(&o);
    let rr = &v["rr"];
    assert_eq!(
        (rr["request_bytes"].as_u64(), rr["response_bytes"].as_u64()),
        (Some(64), Some(3000)),
        "{v}"
    );
    let n = rr["transactions"].as_u64().unwrap();
    assert!(n > 100, "{v}");
    assert_eq!(v["latency"]["transaction"]["count"], n, "{v}");
    assert!(
        v["latency"]["transaction_corrected"].is_null(),
        "closed loop: {v}"
    );
    // Every request is whole: 64 bytes each, the last maybe still unanswered.
    let sent = v["bytes_sent"].as_u64().unwrap();
    assert_eq!(sent % 64, 0, "{v}");
    assert!(
        sent / 64 >= n && sent / 64 <= n + 4,
        "{sent} bytes for {n} transactions"
    );

    // At a fixed rate: 1 000 requests/s per connection for 300 ms.
    let o = linerate(&ack_peer_args(&["--rr", "64/100", "--msg-rate", "1000"]));
    let v = json(&o);
    let n = v["rr"]["transactions"].as_u64().unwrap();
    assert!((295..=301).contains(&n), "{v}");
    assert_eq!(v["latency"]["transaction_corrected"]["count"], n, "{v}");
}
