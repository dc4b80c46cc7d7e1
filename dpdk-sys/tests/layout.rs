//! bindgen's struct layouts must match what the C compiler sees with DPDK's own flags.
//! A mismatch would make every field access in the safe wrapper read the wrong memory.
use linerate_dpdk_sys::*;
use std::mem::{offset_of, size_of};

fn c(item: lr_layout_item) -> u64 {
    // SAFETY: lr_layout is a pure function over compile-time constants.
    unsafe { lr_layout(item as i32) }
}

#[test]
fn mbuf_layout_matches_c() {
    assert_eq!(size_of::<rte_mbuf>() as u64, c(LR_LAYOUT_MBUF_SIZE));
    assert_eq!(
        offset_of!(rte_mbuf, buf_addr) as u64,
        c(LR_LAYOUT_MBUF_BUF_ADDR)
    );
    assert_eq!(
        offset_of!(rte_mbuf, data_off) as u64,
        c(LR_LAYOUT_MBUF_DATA_OFF)
    );
    assert_eq!(
        offset_of!(rte_mbuf, nb_segs) as u64,
        c(LR_LAYOUT_MBUF_NB_SEGS)
    );
    assert_eq!(offset_of!(rte_mbuf, port) as u64, c(LR_LAYOUT_MBUF_PORT));
    assert_eq!(
        offset_of!(rte_mbuf, ol_flags) as u64,
        c(LR_LAYOUT_MBUF_OL_FLAGS)
    );
    assert_eq!(
        offset_of!(rte_mbuf, pkt_len) as u64,
        c(LR_LAYOUT_MBUF_PKT_LEN)
    );
    assert_eq!(
        offset_of!(rte_mbuf, data_len) as u64,
        c(LR_LAYOUT_MBUF_DATA_LEN)
    );
    assert_eq!(
        offset_of!(rte_mbuf, buf_len) as u64,
        c(LR_LAYOUT_MBUF_BUF_LEN)
    );
    assert_eq!(offset_of!(rte_mbuf, pool) as u64, c(LR_LAYOUT_MBUF_POOL));
    assert_eq!(offset_of!(rte_mbuf, next) as u64, c(LR_LAYOUT_MBUF_NEXT));
    // One cache line pair, as DPDK requires for its fast path.
    assert_eq!(size_of::<rte_mbuf>(), 128);
}

#[test]
fn ethdev_layouts_match_c() {
    assert_eq!(
        size_of::<rte_eth_stats>() as u64,
        c(LR_LAYOUT_ETH_STATS_SIZE)
    );
    assert_eq!(
        size_of::<rte_eth_dev_info>() as u64,
        c(LR_LAYOUT_ETH_DEV_INFO_SIZE)
    );
    assert_eq!(size_of::<rte_eth_conf>() as u64, c(LR_LAYOUT_ETH_CONF_SIZE));
    assert_eq!(
        size_of::<rte_eth_xstat>() as u64,
        c(LR_LAYOUT_ETH_XSTAT_SIZE)
    );
    assert_eq!(
        size_of::<rte_eth_xstat_name>() as u64,
        c(LR_LAYOUT_ETH_XSTAT_NAME_SIZE)
    );
    assert_eq!(size_of::<rte_eth_link>() as u64, c(LR_LAYOUT_ETH_LINK_SIZE));
    assert_eq!(
        size_of::<rte_ether_addr>() as u64,
        c(LR_LAYOUT_ETHER_ADDR_SIZE)
    );
    assert_eq!(size_of::<rte_mempool>() as u64, c(LR_LAYOUT_MEMPOOL_SIZE));
}

#[test]
fn offload_constants_are_dpdk_22_11_values() {
    // Values from rte_mbuf_core.h / rte_ethdev.h in 22.11; a changed ABI fails here.
    assert_eq!(LR_MBUF_F_TX_IPV4, 1 << 55);
    assert_eq!(LR_MBUF_F_TX_IP_CKSUM, 1 << 54);
    assert_eq!(LR_MBUF_F_TX_TCP_CKSUM, 1 << 52);
    assert_eq!(LR_MBUF_F_TX_TCP_SEG, 1 << 50);
    assert_eq!(LR_ETH_TX_OFFLOAD_TCP_TSO, 1 << 5);
    assert_eq!(LR_RTE_PKTMBUF_HEADROOM, 128);
}
