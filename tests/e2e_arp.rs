//! First proof of the real path: a DPDK port on net_af_packet over lr-gen's veth asks for the
//! router's MAC with an ARP request built from our wire views, and the kernel's reply comes
//! back through the PMD's RX queue.
//!
//! Needs root and the topology (`scripts/topology.sh up`), and must run inside the lr-gen
//! namespace; `scripts/test.sh` does all three.
mod common;

use linerate::dpdk::{Port, PortConfig};
use linerate_proto::wire::arp::{self, ArpPacket};
use linerate_proto::wire::ethernet::{EtherType, EthernetFrame, MacAddr};
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

const OUR_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const ROUTER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 254);

/// The router's MAC as the kernel reports it (`ip -n lr-rtr link show lr-rtr0`).
fn router_mac() -> MacAddr {
    let out = Command::new("ip")
        .args(["-n", "lr-rtr", "-o", "link", "show", "lr-rtr0"])
        .output()
        .expect("iproute2 installed");
    let s = String::from_utf8_lossy(&out.stdout);
    let mac = s
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC in {s:?}: is the topology up?"));
    mac.parse().expect("kernel prints a valid MAC")
}

#[test]
#[ignore = "needs root, scripts/topology.sh up, and the lr-gen namespace: run scripts/test.sh"]
fn arp_for_router_through_af_packet() {
    let want = router_mac();
    let eal = common::eal(&["net_af_packet0,iface=lr-gen0,qpairs=1"]);
    let pool = common::pool(&eal, "arp_pool", 2048);
    let port = Port::open(
        &eal,
        "net_af_packet0",
        &PortConfig {
            rx_desc: 512,
            tx_desc: 512,
            ..Default::default()
        },
        pool.clone(),
    )
    .expect("af_packet port starts");
    assert_eq!(port.driver(), "net_af_packet");
    let our_mac = port.mac().unwrap();
    let mut q = port.queue(0).unwrap();
    let base = pool.in_use();

    let mut got = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut next_req = Instant::now();
    let mut rx = Vec::new();
    while got.is_none() && Instant::now() < deadline {
        if Instant::now() >= next_req {
            let mut m = pool.alloc().unwrap();
            let buf = m.append(arp::FRAME_LEN).unwrap();
            arp::emit_frame(
                buf,
                arp::ArpOp::REQUEST,
                MacAddr::BROADCAST,
                our_mac,
                OUR_IP,
                MacAddr::ZERO,
                ROUTER_IP,
            )
            .unwrap();
            let mut b = vec![m];
            assert_eq!(q.tx_burst(&mut b), 1, "PMD takes the request");
            next_req = Instant::now() + Duration::from_millis(500);
        }
        q.rx_burst(&mut rx);
        for m in rx.drain(..) {
            let Ok(eth) = EthernetFrame::new_checked(m.data()) else {
                continue;
            };
            if eth.ethertype() != EtherType::ARP {
                continue;
            }
            let Ok(a) = ArpPacket::new_checked(eth.payload()) else {
                continue;
            };
            if a.operation() == arp::ArpOp::REPLY
                && a.sender_ip() == ROUTER_IP
                && a.target_ip() == OUR_IP
            {
                assert_eq!(eth.dst(), our_mac, "reply is unicast to us");
                assert_eq!(a.target_mac(), our_mac);
                got = Some(a.sender_mac());
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        got,
        Some(want),
        "the kernel router answered with its own MAC"
    );
    assert!(port.stats().unwrap().opackets >= 1);
    assert_eq!(pool.in_use(), base, "no mbuf leaked");
}
