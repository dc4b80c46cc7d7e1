//! Helpers of the rte_flow tests (tests/dpdk_flow.rs, tests/dpdk_flow_tap.rs).
use linerate_dpdk::{DpdkError, PortConfig};

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
