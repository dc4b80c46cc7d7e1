//! What the `linerate` binary's tests share: running it, its one-line errors, and the flags
//! of a run on net_null.
#![allow(dead_code)] // each test file uses its own subset

use std::process::{Command, Output};

pub const NULL_EAL: &str = "--no-pci --no-huge --no-shconf -m 256 -l 0 --vdev=net_null0";

pub fn linerate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args(args)
        .output()
        .expect("run linerate")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and asserts success; the JSON object on stdout's last line.
pub fn json_run(args: &[&str]) -> serde_json::Value {
    let o = linerate(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(out.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{args:?}: {e} in {out:?}"))
}

/// Flags of a valid run on net_null that nothing answers, plus `extra`.
pub fn send_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "send",
        "--dpdk",
        NULL_EAL,
        "--ip",
        "198.18.0.1/24",
        "--gw",
        "198.18.0.254",
        "--neigh",
        "198.18.0.254=02:00:00:00:00:01",
        "--dst",
        "198.19.0.2:5201",
    ];
    v.extend_from_slice(extra);
    v
}

/// Runs and asserts a usage error: non-zero exit and exactly one stderr line containing `want`.
pub fn one_line_error(args: &[&str], want: &str) -> String {
    let o = linerate(args);
    let e = stderr(&o);
    assert!(!o.status.success(), "{args:?} succeeded: {e}");
    assert_eq!(e.lines().count(), 1, "{args:?}: want one line, got:\n{e}");
    assert!(e.contains(want), "{args:?}: want {want:?} in {e:?}");
    e
}

/// A send on net_null from `ip` (address/prefix) to 198.18.0.2:5201, on-link, plus `extra`.
pub fn on_link_args<'a>(ip: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "send",
        "--dpdk",
        NULL_EAL,
        "--ip",
        ip,
        "--dst",
        "198.18.0.2:5201",
    ];
    a.extend_from_slice(extra);
    a
}

/// A 300 ms `--ack-peer` run on net_null with a JSON report, plus `extra`.
pub fn ack_peer_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = on_link_args(
        "198.18.0.1/24",
        &["--ack-peer", "-t", "300ms", "--json", "--quiet"],
    );
    a.extend_from_slice(extra);
    a
}
