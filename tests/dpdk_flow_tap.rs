//! rte_flow steering of TCP destination ports to RX queues (`Port::steer_tcp_dst_ports`) on
//! net_tap: the kernel sends real SYNs into the port and each must land on the queue its
//! destination port is steered to. Its own process and EAL (with the net_tap port, which
//! creates an interface in the network namespace it runs in), and ignored unless asked for:
//! scripts/test.sh runs it inside lr-gen.
mod common;

use common::flow::{assert_refused, two_queue_pairs};
use linerate_dpdk::{DpdkError, Eal, FlowRules, Port, QueuePair};
use linerate_sim::eal::{eal_args, pool};
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

/// The kernel side of the net_tap port (the PMD creates it; it goes when the port closes).
const TAP_IF: &str = "lrflow0";
/// The DPDK side's address, which the kernel's SYNs are sent to.
const DPDK_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 9, 1);
/// The kernel side's address.
const KERNEL_CIDR: &str = "198.18.9.2/24";

fn eal() -> Eal {
    let args = eal_args(&[&format!("net_tap0,iface={TAP_IF}")]);
    Eal::global(&args).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip (apt-get install iproute2): {e}"));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Whether this kernel has what net_tap's rte_flow needs (TC flower, skbedit and multiq), from
/// its config; `None` when the config cannot be read.
fn kernel_has_tap_flow() -> Option<bool> {
    let config = Command::new("zcat")
        .arg("/proc/config.gz")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .or_else(|| {
            let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
            std::fs::read_to_string(format!("/boot/config-{}", release.trim())).ok()
        })?;
    let on = |opt: &str| {
        config
            .lines()
            .any(|l| l == format!("{opt}=y") || l == format!("{opt}=m"))
    };
    Some(
        [
            "CONFIG_NET_CLS_FLOWER",
            "CONFIG_NET_ACT_SKBEDIT",
            "CONFIG_NET_SCH_MULTIQ",
        ]
        .into_iter()
        .all(on),
    )
}

/// A TCP SYN the port received.
#[derive(Debug, Clone, Copy)]
struct Syn {
    queue: u16,
    dport: u16,
    sport: u16,
}

/// (destination port, source port) of an IPv4 TCP SYN to `DPDK_IP`; `None` for any other
/// frame (the kernel sends IPv6 and other chatter on a new interface too).
fn syn_to_us(f: &[u8]) -> Option<(u16, u16)> {
    if f.len() < 14 + 20 + 20 || f[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &f[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ip[0] >> 4 != 4 || ihl < 20 || ip[9] != 6 || ip[16..20] != DPDK_IP.octets() {
        return None;
    }
    let tcp = ip.get(ihl..ihl + 20)?;
    // SYN without ACK.
    (tcp[13] & 0x12 == 0x02).then(|| {
        (
            u16::from_be_bytes([tcp[2], tcp[3]]),
            u16::from_be_bytes([tcp[0], tcp[1]]),
        )
    })
}

/// Opens `n` connections from the kernel to each of `dports` at `DPDK_IP` at once (each from
/// its own ephemeral port; nothing answers, so each is one SYN before its timeout), and
/// returns the SYNs the port's queues receive meanwhile.
fn kernel_syns(queues: &mut [QueuePair; 2], dports: &[u16], n: usize) -> Vec<Syn> {
    let connects: Vec<_> = dports
        .iter()
        .flat_map(|&p| std::iter::repeat_n(p, n))
        .map(|p| {
            std::thread::spawn(move || {
                let to = SocketAddr::from((DPDK_IP, p));
                let _ = TcpStream::connect_timeout(&to, Duration::from_millis(300));
            })
        })
        .collect();
    let mut syns = Vec::new();
    let mut rx = Vec::new();
    let hard_stop = Instant::now() + Duration::from_secs(5);
    let mut done_at = None;
    // Until the connects are over, then a little longer for the last frames in flight.
    while done_at.is_none_or(|t: Instant| t.elapsed() < Duration::from_millis(200))
        && Instant::now() < hard_stop
    {
        for qp in queues.iter_mut() {
            rx.clear();
            qp.rx_burst(&mut rx);
            for m in &rx {
                if let Some((dport, sport)) = syn_to_us(m.data()) {
                    syns.push(Syn {
                        queue: qp.queue_id(),
                        dport,
                        sport,
                    });
                }
            }
        }
        if done_at.is_none() && connects.iter().all(|c| c.is_finished()) {
            done_at = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    for c in connects {
        c.join().unwrap();
    }
    syns
}

/// Steers `(range, queue)` pairs; all or nothing, the first refusal is the error.
fn steer(port: &Port, pairs: &[((u16, u16), u16)]) -> Result<Vec<FlowRules>, DpdkError> {
    pairs
        .iter()
        .map(|&(r, q)| port.steer_tcp_dst_ports(r, q))
        .collect()
}

#[test]
#[ignore = "needs root and /dev/net/tun, and adds interface lrflow0 (198.18.9.2/24) to this network namespace: run scripts/test.sh"]
fn net_tap_steers_kernel_syns_by_destination_port() {
    let eal = eal();
    let pool = pool(&eal, "t_flow_tap", 2048);
    let port = Port::open(&eal, "net_tap0", &two_queue_pairs(), pool).unwrap_or_else(|e| {
        panic!("net_tap on {TAP_IF} did not start (needs root and /dev/net/tun): {e}")
    });
    assert_eq!(port.driver(), "net_tap");
    let mac = port.mac().unwrap().to_string();
    // `replace`, so a re-run after a failure finds nothing in its way (the interface, and
    // with it this state, goes when the process ends anyway).
    ip(&["link", "set", TAP_IF, "up"]);
    ip(&["addr", "replace", KERNEL_CIDR, "dev", TAP_IF]);
    let dpdk_ip = DPDK_IP.to_string();
    ip(&[
        "neigh",
        "replace",
        &dpdk_ip,
        "lladdr",
        &mac,
        "dev",
        TAP_IF,
        "nud",
        "permanent",
    ]);
    // Less chatter on the port (best effort: the frames are filtered anyway).
    let _ = std::fs::write(
        format!("/proc/sys/net/ipv6/conf/{TAP_IF}/disable_ipv6"),
        "1",
    );
    let mut queues = [port.queue(0).unwrap(), port.queue(1).unwrap()];

    // What two per-core stacks ask for: a range each.
    let rules = match steer(&port, &[((40000, 40999), 0), ((41000, 41999), 1)]) {
        Ok(rules) => {
            eprintln!("note: net_tap took the port ranges as {:?}", rules);
            Some(rules)
        }
        Err(e) => {
            assert_refused(&e, "net_tap");
            eprintln!("note: net_tap refused the port ranges: {e}");
            // (40005, 40007) is 40005 exact, then 40006/0xfffe: net_tap matches exact ports
            // only, so the second is refused. Where the kernel took the first, the refusal
            // must destroy it, or the exact rule for 40005 below collides with it.
            let e = port
                .steer_tcp_dst_ports((40005, 40007), 1)
                .expect_err("net_tap takes no port masks");
            assert_refused(&e, "net_tap");
            match steer(&port, &[((40005, 40005), 0), ((41005, 41005), 1)]) {
                Ok(rules) => {
                    eprintln!("note: net_tap took exact-port rules: steering checked with those");
                    Some(rules)
                }
                Err(e) => {
                    assert_refused(&e, "net_tap");
                    let capable = kernel_has_tap_flow();
                    assert_ne!(
                        capable,
                        Some(true),
                        "this kernel has TC flower, skbedit and multiq, yet net_tap refused exact-port rules: {e}"
                    );
                    eprintln!(
                        "note: STEERING NOT CHECKED: net_tap refused exact-port rules too \
                         (kernel with TC flower, skbedit and multiq: {capable:?}): {e}; \
                         checking only that the port still receives"
                    );
                    None
                }
            }
        }
    };
    if let Some(rules) = &rules {
        assert!(rules.iter().all(|r| !r.is_empty()));
    }

    const N: usize = 4;
    let syns = kernel_syns(&mut queues, &[40005, 41005], N);
    for (dport, owner) in [(40005u16, 0u16), (41005, 1)] {
        let got: Vec<Syn> = syns.iter().copied().filter(|s| s.dport == dport).collect();
        let sources: BTreeSet<u16> = got.iter().map(|s| s.sport).collect();
        assert_eq!(sources.len(), N, "each SYN to {dport} arrives: {syns:?}");
        let queues: BTreeSet<u16> = got.iter().map(|s| s.queue).collect();
        if rules.is_some() {
            assert_eq!(
                queues,
                BTreeSet::from([owner]),
                "SYNs to {dport} land on queue {owner} only: {got:?}"
            );
        } else {
            eprintln!("note: without steering, SYNs to {dport} landed on queue(s) {queues:?}");
        }
    }
    // Rules go before the queues and the port (they hold the port open anyway).
    drop(rules);
}
