//! rte_flow steering of TCP destination ports to RX queues (`Port::steer_tcp_dst_ports`) on a
//! PMD without rte_flow (net_null): it refuses cleanly and the port keeps working. The
//! net_tap case, which changes the network namespace it runs in, is tests/dpdk_flow_tap.rs.
mod common;

use common::flow::{assert_net_null_pairs_pass_frames, assert_refused, two_queue_pairs};
use linerate_dpdk::{DpdkError, Eal, Port};
use linerate_sim::eal::{eal_args, pool};

fn eal() -> Eal {
    Eal::global(&eal_args(&["net_null0"])).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn net_null_refuses_steering_cleanly_and_keeps_working() {
    let eal = eal();
    let pool = pool(&eal, "t_flow_null", 2048);
    let port = Port::open(&eal, "net_null0", &two_queue_pairs(), pool.clone())
        .expect("net_null starts with two queue pairs");

    // Refused before DPDK is asked.
    let e = port.steer_tcp_dst_ports((40000, 40999), 2).unwrap_err();
    assert!(matches!(e, DpdkError::InvalidArg(_)), "{e:?}");
    assert!(e.to_string().contains("2 RX queue(s)"), "{e}");
    let e = port.steer_tcp_dst_ports((41000, 40000), 0).unwrap_err();
    assert!(matches!(e, DpdkError::InvalidArg(_)), "{e:?}");

    // net_null has no rte_flow at all: ethdev says ENOSYS.
    for (range, q) in [((40000, 40999), 0), ((41000, 41999), 1), ((7, 7), 1)] {
        let e = port.steer_tcp_dst_ports(range, q).unwrap_err();
        assert_refused(&e, "net_null");
        let DpdkError::Port { errno, .. } = &e else {
            unreachable!("checked above")
        };
        assert_eq!(*errno, 38, "ENOSYS: {e}");
        assert!(e.to_string().contains("Function not implemented"), "{e}");
    }

    // The port still passes frames on both queue pairs, and every mbuf comes back.
    assert_net_null_pairs_pass_frames(&port, &pool);
}
