//! Completion tickets of a reusable zero-copy region on real DPDK: a ticket is complete only
//! once it is released and its last view is freed, whether the test or a net_null TX queue
//! frees it; leased pages are never handed out for writing.
mod common;

use linerate::dpdk::{Port, PortConfig, ZcRegion};

#[test]
fn a_ticket_completes_when_released_and_its_last_view_is_freed() {
    let eal = common::eal(&["net_null0"]);
    let mut r = ZcRegion::new(&eal, 64 << 10, 4, None).expect("region");
    assert!(
        ZcRegion::new(&eal, 4096, 0, None).is_err(),
        "no tickets refused"
    );
    r.bytes_mut(0, 8192).expect("fresh region").fill(0xab);

    assert!(r.open(0, 0, 8192));
    assert!(
        !r.open(0, 16384, 10),
        "an open ticket cannot be opened again"
    );
    assert!(!r.open(9, 0, 10), "no ticket 9");
    assert!(!r.open(1, 60 << 10, 8192), "a lease outside the region");
    assert!(
        r.bytes_mut(4000, 200).is_none(),
        "leased bytes are not writable"
    );
    assert!(r.busy(8191, 1) && !r.busy(8192, 1));
    assert!(r.bytes_mut(8192, 4096).is_some(), "the next page is");

    let v = r.view(0, 100, 1000).expect("a view under the held ticket");
    assert_eq!(v.data(), &[0xab; 1000][..]);
    assert!(r.view(0, 8000, 500).is_none(), "a view past the lease");
    assert!(r.view(1, 0, 10).is_none(), "a view under a ticket not held");

    assert!(r.release(0));
    assert!(!r.release(0), "released once");
    assert!(r.view(0, 0, 10).is_none(), "no views once released");
    assert!(!r.reap(0), "a view still reads the bytes");
    assert!(r.bytes_mut(0, 10).is_none());
    drop(v);
    assert!(r.reap(0), "its last view is gone");
    assert!(!r.reap(0), "reaped once");
    assert!(r.bytes_mut(0, 8192).is_some(), "writable again");
    assert!(r.open(0, 0, 100), "and the ticket can be opened again");
}

#[test]
fn tickets_sharing_a_page_and_growing_keep_it_leased_until_both_complete() {
    let eal = common::eal(&["net_null0"]);
    let mut r = ZcRegion::new(&eal, 64 << 10, 4, None).expect("region");
    assert!(r.open(1, 100, 100));
    assert!(r.open(2, 200, 100));
    assert!(r.extend(2, 10_000), "grows across pages 0..2");
    assert!(r.busy(10_250, 1) && !r.busy(12_288, 1));
    assert!(!r.extend(3, 10), "not held");
    assert!(r.release(1) && r.reap(1));
    assert!(
        r.bytes_mut(0, 50).is_none(),
        "page 0 still leased by ticket 2"
    );
    assert!(r.release(2) && r.reap(2));
    assert!(r.bytes_mut(0, 64 << 10).is_some());
}

#[test]
fn frames_sent_through_net_null_complete_their_ticket() {
    let eal = common::eal(&["net_null0"]);
    let pool = common::pool(&eal, "zc_null", 4095);
    let port = Port::open(&eal, "net_null0", &PortConfig::default(), pool).expect("net_null");
    let mut q = port.queue(0).expect("queue 0");
    let mut r = ZcRegion::new(&eal, 1 << 20, 2, None).expect("region");
    assert!(r.open(0, 0, 64 * 1448));
    let mut frames = Vec::new();
    assert!(r.frames(0, 0, &[1448; 64], &mut frames));
    assert!(
        !r.frames(0, 1448, &[1448; 64], &mut Vec::new()),
        "past the lease"
    );
    assert_eq!(frames.len(), 64);
    assert!(r.release(0));
    assert!(!r.reap(0), "64 frames still hold it");
    while !frames.is_empty() {
        q.tx_burst(&mut frames);
    }
    q.tx_done_cleanup();
    assert!(r.reap(0), "the PMD freed every frame");

    // A region dropped with a ticket held and a view alive: the view's bytes stay valid.
    r.bytes_mut(0, 4).expect("free").copy_from_slice(b"keep");
    assert!(r.open(1, 0, 4096));
    let v = r.view(1, 0, 4).expect("view");
    drop(r);
    assert_eq!(v.data(), b"keep");
}
