//! One run writes a pcap of linerate's frames and the kernel's replies; tshark dissects it and
//! must find no malformed frame and no checksum error, by its own verdict.
mod common;

use common::e2e::*;
use linerate::DpdkDevice;
use linerate::{Stack, TscClock};
use linerate_stack::pcap::{PcapDevice, PcapWriter};
use std::process::Command;
use std::time::Duration;

fn tshark_count(file: &std::path::Path, filter: &str) -> usize {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-Y",
            filter,
        ])
        .output()
        .expect("tshark is installed (scripts/setup.sh)");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn pcap_of_a_transfer_is_clean_by_tsharks_verdict() {
    let (env, _g) = env();
    let base = env.pool.in_use();
    let dir = std::env::temp_dir().join(format!("linerate-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("transfer.pcap");
    let clock = TscClock::new();
    let q = env.port.queue(0).unwrap();
    let dev = PcapDevice::new(
        DpdkDevice::new(q).unwrap(),
        Some(PcapWriter::create(&file, 0).unwrap()),
    );
    let mut stack: Stack<PcapDevice<DpdkDevice>> =
        Stack::new(dev, env.pool.clone(), stack_config(), clock.now());
    let sink = Sink::start(5310, 2);
    let payloads = vec![random_bytes(7, 300_001), random_bytes(8, 65_537)];
    transfer(
        &mut stack,
        &clock,
        sink.addr(),
        &payloads,
        Duration::from_secs(60),
    );
    let reports = sink.finish();
    assert_eq!(reports.len(), 2);
    settle(&mut stack, &clock, Duration::from_millis(1200));
    let frames = stack.device_mut().finish().expect("pcap written");
    drop(stack);
    assert_eq!(env.pool.in_use(), base);
    assert!(frames > 250, "captured both directions ({frames} frames)");

    assert_eq!(
        tshark_count(&file, "frame"),
        frames as usize,
        "tshark reads every frame"
    );
    assert_eq!(
        tshark_count(&file, "_ws.malformed || _ws.expert.severity == error"),
        0,
        "no malformed frames"
    );
    assert_eq!(
        tshark_count(
            &file,
            "ip.checksum.status == \"Bad\" || tcp.checksum.status == \"Bad\""
        ),
        0,
        "no checksum errors"
    );
    // Checksums were really verified (not left "Unverified"), and all came out good.
    let tcp = tshark_count(&file, "tcp");
    assert_eq!(
        tshark_count(
            &file,
            "tcp.checksum.status == \"Good\" && ip.checksum.status == \"Good\""
        ),
        tcp
    );
    // The capture has what we expect on the wire: our SYN with options, data, FIN, ARP.
    assert!(tshark_count(&file, "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.options.mss_val == 1460 && tcp.options.sack_perm && tcp.options.timestamp.tsval && tcp.options.wscale.shift == 5") >= 2);
    assert!(
        tshark_count(
            &file,
            "ip.src == 198.18.0.1 && ip.flags.df == 1 && ip.ttl == 64 && tcp.len == 1448"
        ) > 200
    );
    assert!(tshark_count(&file, "ip.src == 198.18.0.1 && tcp.flags.fin == 1") >= 2);
    assert!(tshark_count(&file, "arp.opcode == 1 && arp.src.proto_ipv4 == 198.18.0.1") >= 1);
    std::fs::remove_dir_all(&dir).ok();
}
