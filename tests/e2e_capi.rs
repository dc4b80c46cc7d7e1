//! The C ABI end to end: capi/examples/send_file.c, compiled against capi/include/linerate.h
//! and liblinerate_capi.so, sends a file on four connections from lr-gen's veth through the
//! router to `linerate sink` in lr-sink; every connection must arrive whole (bytes, SHA-256,
//! FIN). Needs root, `scripts/topology.sh up`, to run inside lr-gen, and the library built
//! beside this test (`cargo build -p linerate-capi`; scripts/test.sh does all of it).
mod common;

use common::e2e::{assert_all_whole, linerate_bin, random_bytes, serial, sha256_hex, Sink};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Compiles the example against the header and the shared library next to `linerate`.
fn build_example(out: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = linerate_bin().parent().expect("target dir").to_path_buf();
    let lib = bin_dir.join("liblinerate_capi.so");
    assert!(
        lib.exists(),
        "{} missing: cargo build -p linerate-capi",
        lib.display()
    );
    let exe = out.join("send_file");
    let st = Command::new("cc")
        .args([
            "-std=c11",
            "-D_POSIX_C_SOURCE=200809L",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pthread",
        ])
        .arg("-I")
        .arg(root.join("capi/include"))
        .arg(root.join("capi/examples/send_file.c"))
        .arg("-L")
        .arg(&bin_dir)
        .arg("-llinerate_capi")
        .arg(format!("-Wl,-rpath,{}", bin_dir.display()))
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("run cc");
    assert!(st.success(), "the C example compiles without warnings");
    exe
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn c_example_sends_a_file_on_four_connections() {
    let _turn = serial();
    const CONNS: usize = 4;
    let dir = std::env::temp_dir().join(format!("lr-e2e-capi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = build_example(&dir);
    let data = random_bytes(77, (1 << 20) + 13);
    let file = dir.join("payload.bin");
    std::fs::write(&file, &data).unwrap();
    let vdev = "--vdev=net_af_packet0,iface=lr-gen0,framecnt=4096";
    let eal = if common::hugepages() > 0 {
        format!("-l 0 --no-pci --no-telemetry --in-memory {vdev}")
    } else {
        format!("-l 0 --no-pci --no-telemetry --no-huge --no-shconf -m 1024 {vdev}")
    };
    // Runs the example against a fresh sink and checks every connection's bytes; returns
    // its summary line.
    let send = |eal: &str, extra: &[&str]| -> String {
        let sink = Sink::start(5231, CONNS);
        let out = Command::new(&exe)
            .args([eal, "net_af_packet0", "198.18.0.1/24", "198.18.0.254"])
            .args([&sink.addr().to_string(), &CONNS.to_string()])
            .arg(&file)
            .args(extra)
            .output()
            .expect("run the example");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "send_file {extra:?} failed: {stdout}");
        let conns = sink.finish();
        assert_all_whole(&conns, CONNS, data.len() as u64, &sha256_hex(&data));
        stdout
    };
    let stdout = send(&eal, &[]);
    assert!(stdout.contains("4 closed whole, 0 failed"), "{stdout}");
    // The same from a zero-copy region: lr_send_zc, and every byte returned by
    // LR_EV_ZC_DONE only after the kernel acknowledged it; on two lcores, so two stacks on
    // two queue pairs and threads, the ACKs of one landing on the other's queue as the
    // kernel's fanout hashes them (the runtime's mesh passes them on).
    let eal2 = eal
        .replace("-l 0 ", "-l 0-1 ")
        .replace("framecnt=4096", "framecnt=4096,qpairs=2");
    let stdout = send(&eal2, &["zc"]);
    assert!(
        stdout.contains("on 2 stacks") && stdout.contains("(zero copy): 4 closed whole, 0 failed"),
        "{stdout}"
    );
    // A bad argument is one line naming it, and a failure exit (no panic, no crash).
    let bad = Command::new(&exe)
        .args([
            eal.as_str(),
            "net_af_packet0",
            "198.18.0.1/33",
            "-",
            "198.19.0.2:9",
            "1",
        ])
        .arg(&file)
        .output()
        .expect("run the example");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(err.contains("ip_cidr \"198.18.0.1/33\""), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
