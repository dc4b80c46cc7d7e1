//! Bad DPDK input gives one clear line naming what to fix, a non-zero exit, no panic and no
//! hang: failing EAL args, a missing vdev interface or port, no hugepages, a port that fails
//! to start (that one is in dpdk_port.rs). Runs the `linerate` binary (each case needs its own EAL, so its own process).
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

fn run(args: &[&str]) -> (i32, String) {
    let t0 = Instant::now();
    let out = Command::new(common::e2e::linerate_bin())
        .args(args)
        .output()
        .expect("linerate runs");
    assert!(t0.elapsed() < Duration::from_secs(30), "no hang");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), err)
}

/// Exactly one line on stderr, starting with linerate's error prefix, containing `want`.
fn one_line(args: &[&str], want: &[&str]) {
    let (code, err) = run(args);
    assert_ne!(code, 0, "non-zero exit for {args:?}");
    assert_ne!(code, 101, "no panic: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got: {err}");
    assert!(lines[0].starts_with("linerate: error: "), "{err}");
    for w in want {
        assert!(lines[0].contains(w), "{:?} should mention {w:?}", lines[0]);
    }
}

const NOHUGE: &str = "--no-huge --no-shconf -m 256 --no-pci --no-telemetry";

#[test]
fn failing_eal_args() {
    one_line(
        &["info", "--dpdk", &format!("{NOHUGE} --bogus-flag")],
        &["unrecognized option '--bogus-flag'", "EAL"],
    );
    one_line(
        &["info", "--dpdk", &format!("{NOHUGE} -l 7")],
        &["invalid core list"],
    );
}

#[test]
fn missing_interface_or_port() {
    one_line(
        &[
            "info",
            "--dpdk",
            &format!("{NOHUGE} -l 0 --vdev=net_af_packet0,iface=lr-nope0"),
        ],
        &["failed to probe", "No such device"],
    );
    one_line(
        &[
            "info",
            "--dpdk",
            &format!("{NOHUGE} -l 0 --vdev=net_null0"),
            "--port",
            "net_null5",
        ],
        &["no DPDK port 'net_null5'", "available: net_null0"],
    );
}

#[test]
#[ignore = "needs root; empties the hugepage reservation for a moment: run scripts/test.sh"]
fn no_hugepages() {
    let path = "/proc/sys/vm/nr_hugepages";
    let before = std::fs::read_to_string(path)
        .expect("root")
        .trim()
        .to_owned();
    std::fs::write(path, "0").expect("root can change nr_hugepages");
    let r = std::panic::catch_unwind(|| {
        one_line(
            &[
                "info",
                "--dpdk",
                "-l 0 --no-pci --no-telemetry --in-memory --vdev=net_null0",
            ],
            &["hugepage", "scripts/setup.sh"],
        );
    });
    std::fs::write(path, &before).expect("restore nr_hugepages");
    if let Err(e) = r {
        std::panic::resume_unwind(e);
    }
}
