//! Helpers of the rte_flow tests (tests/dpdk_flow.rs, tests/dpdk_flow_tap.rs).
use linerate_dpdk::{DpdkError, Mbuf, Mempool, Port, PortConfig};

pub fn two_queue_pairs() -> PortConfig {
    PortConfig {
        rx_queues: 2,
        tx_queues: 2,
        rx_desc: 256,
        tx_desc: 256,
        ..Default::default()
    }
}

/// A refusal by the PMD: the steering op's error, on one line, naming the PMD.
pub fn assert_refused(e: &DpdkError, pmd: &str) {
    assert!(
        matches!(
            e,
            DpdkError::Port {
                op: "steer_tcp_dst_ports",
                ..
            }
        ),
        "{e:?}"
    );
    let line = e.to_string();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(
        line.contains(&format!("{pmd}'s rte_flow refused")),
        "{line}"
    );
}

/// net_null with two queue pairs passes frames on both (it makes up what it receives: no RSS
/// hash), counts what it sent, and gives every mbuf back.
pub fn assert_net_null_pairs_pass_frames(port: &Port, pool: &Mempool) {
    let base = pool.in_use();
    port.reset_stats();
    for q in 0..2 {
        let mut qp = port.queue(q).unwrap();
        let mut tx: Vec<Mbuf> = (0..8)
            .map(|_| {
                let mut m = pool.alloc().unwrap();
                m.append(60).unwrap().fill(0);
                m
            })
            .collect();
        assert_eq!(qp.tx_burst(&mut tx), 8);
        let mut rx = Vec::new();
        assert!(
            qp.rx_burst(&mut rx) > 0,
            "net_null hands out frames on queue {q}"
        );
        assert!(rx.iter().all(|m| m.rss_hash().is_none()), "no NIC hash");
    }
    assert_eq!(port.stats().unwrap().opackets, 16);
    assert_eq!(pool.in_use(), base);
}
