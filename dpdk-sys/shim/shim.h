/* linerate's C shim over DPDK's static-inline fast path.
 * DPDK's hot functions are static inline and have no symbols; Rust calls these
 * out-of-line wrappers instead. Thread-locals (rte_errno, rte_lcore_id) are read here
 * too, because bindgen would bind them as plain statics and read the wrong memory. */
#ifndef LINERATE_SHIM_H
#define LINERATE_SHIM_H

#include <stdint.h>
#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ethdev.h>
#include <rte_ring.h>
#include <rte_log.h>
#include <rte_malloc.h>

/* mbuf allocation */
struct rte_mbuf *lr_pktmbuf_alloc(struct rte_mempool *mp);
int lr_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned count);
void lr_pktmbuf_free(struct rte_mbuf *m);
void lr_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned count);

/* mbuf data manipulation; each returns NULL / negative on lack of room */
char *lr_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *lr_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *lr_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int lr_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
uint8_t *lr_pktmbuf_data(const struct rte_mbuf *m);
uint16_t lr_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t lr_pktmbuf_tailroom(const struct rte_mbuf *m);
int lr_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail);

/* reference counting: the retransmit queue keeps the original, the NIC gets a reference */
uint16_t lr_mbuf_refcnt_read(const struct rte_mbuf *m);
uint16_t lr_mbuf_refcnt_update(struct rte_mbuf *m, int16_t value);

/* TX offload metadata */
void lr_mbuf_set_tx_offload(struct rte_mbuf *m, uint64_t ol_flags, uint8_t l2_len,
                            uint16_t l3_len, uint8_t l4_len, uint16_t tso_segsz);
uint64_t lr_mbuf_ol_flags(const struct rte_mbuf *m);
uint16_t lr_mbuf_tso_segsz(const struct rte_mbuf *m);
uint32_t lr_mbuf_tx_lens(const struct rte_mbuf *m);
/* RX: the NIC's RSS hash (`hash.rss`, a union member); valid when RTE_MBUF_F_RX_RSS_HASH is set. */
uint32_t lr_mbuf_rss_hash(const struct rte_mbuf *m);

/* burst I/O */
uint16_t lr_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t lr_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);

/* thread-locals and time */
int lr_errno(void);
unsigned lr_lcore_id(void);
uint64_t lr_rdtsc(void);
uint64_t lr_tsc_hz(void);

/* Zero-copy TX regions: hugepage memory that mbufs attach to as external buffers. The
 * region's shared info (at the front of its struct) counts the region's own reference plus
 * one per attached mbuf; the last put frees the memory if the region owns it. */
struct rte_mbuf_ext_shared_info *lr_region_new(size_t len, int socket, void **base);
void lr_region_put(struct rte_mbuf_ext_shared_info *shinfo);
uint16_t lr_region_refcnt(const struct rte_mbuf_ext_shared_info *shinfo);

/* Completion tickets (see shim.c): n per region, made once. A ticket is opened (FREE to
 * HELD, taking a region reference), has views attached to its shared info while HELD, is
 * released by its sender (HELD to RELEASED, dropping the hold) and goes back to FREE when its
 * last view is freed, on whichever thread frees it. */
enum { LR_TICKET_FREE = 0, LR_TICKET_HELD = 1, LR_TICKET_RELEASED = 2 };
int lr_region_tickets(struct rte_mbuf_ext_shared_info *shinfo, uint32_t n);
struct rte_mbuf_ext_shared_info *lr_ticket_open(struct rte_mbuf_ext_shared_info *shinfo, uint32_t i);
int lr_ticket_release(struct rte_mbuf_ext_shared_info *shinfo, uint32_t i);
uint32_t lr_ticket_state(const struct rte_mbuf_ext_shared_info *shinfo, uint32_t i);
uint64_t lr_virt2iova(const void *addr);
/* A fresh mbuf from `mp` whose data is [addr, addr + len) of the region: no copy. */
struct rte_mbuf *lr_pktmbuf_ext_view(struct rte_mempool *mp,
                                     struct rte_mbuf_ext_shared_info *shinfo, void *addr,
                                     uint64_t iova, uint16_t len);
/* `n` (at most 64) frames of a TSO unit cut in software: each a fresh header mbuf chained
 * to a view of the next lens[i] bytes from addr, the region referenced n times at once.
 * 2n mbufs come from `mp` in bulk. Returns n, or 0 (nothing allocated) if `mp` runs short. */
unsigned lr_pktmbuf_ext_frames(struct rte_mempool *mp, struct rte_mempool *vp,
                               struct rte_mbuf_ext_shared_info *shinfo,
                               char *addr, uint64_t iova, const uint32_t *lens, unsigned n,
                               struct rte_mbuf **out);
/* Chained packets: total length and segment count of the head. */
uint32_t lr_pktmbuf_pkt_len(const struct rte_mbuf *m);
uint16_t lr_pktmbuf_nb_segs(const struct rte_mbuf *m);
const struct rte_mbuf *lr_pktmbuf_next(const struct rte_mbuf *m);

/* rte_flow: one rule steering IPv4 TCP frames whose destination port matches
 * (dport & mask) to RX queue `queue` (pattern ETH / IPV4 / TCP dst_port under `mask`, action
 * QUEUE, ingress). Ports and mask in host byte order. Validates, then creates. Returns 0 with
 * the rule in *out, or a negative errno with rte_flow's message (empty if it gave none) in
 * `err`. Opaque to Rust: only handed back to lr_flow_destroy. */
struct rte_flow;
int lr_flow_tcp_dport_queue(uint16_t port, uint16_t dport, uint16_t mask, uint16_t queue,
                            struct rte_flow **out, char *err, size_t errlen);
int lr_flow_destroy(uint16_t port, struct rte_flow *flow);

/* mempool occupancy */
unsigned lr_mempool_in_use(const struct rte_mempool *mp);
unsigned lr_mempool_avail(const struct rte_mempool *mp);

/* Offload flag constants. They are RTE_BIT64() macros, which bindgen cannot evaluate,
 * so they are re-exported here as plain integers. */
enum {
    LR_RTE_PKTMBUF_HEADROOM = RTE_PKTMBUF_HEADROOM,
    LR_RTE_MBUF_DEFAULT_BUF_SIZE = RTE_MBUF_DEFAULT_BUF_SIZE,
    LR_ETH_RETA_GROUP_SIZE = RTE_ETH_RETA_GROUP_SIZE,
    LR_RTE_MAX_LCORE = RTE_MAX_LCORE,
};
static const uint64_t LR_MBUF_F_TX_IPV4 = RTE_MBUF_F_TX_IPV4;
static const uint64_t LR_MBUF_F_TX_IP_CKSUM = RTE_MBUF_F_TX_IP_CKSUM;
static const uint64_t LR_MBUF_F_TX_TCP_CKSUM = RTE_MBUF_F_TX_TCP_CKSUM;
static const uint64_t LR_MBUF_F_TX_TCP_SEG = RTE_MBUF_F_TX_TCP_SEG;
static const uint64_t LR_MBUF_F_TX_L4_MASK = RTE_MBUF_F_TX_L4_MASK;
static const uint64_t LR_MBUF_F_RX_IP_CKSUM_MASK = RTE_MBUF_F_RX_IP_CKSUM_MASK;
static const uint64_t LR_MBUF_F_RX_IP_CKSUM_BAD = RTE_MBUF_F_RX_IP_CKSUM_BAD;
static const uint64_t LR_MBUF_F_RX_IP_CKSUM_GOOD = RTE_MBUF_F_RX_IP_CKSUM_GOOD;
static const uint64_t LR_MBUF_F_RX_L4_CKSUM_MASK = RTE_MBUF_F_RX_L4_CKSUM_MASK;
static const uint64_t LR_MBUF_F_RX_L4_CKSUM_BAD = RTE_MBUF_F_RX_L4_CKSUM_BAD;
static const uint64_t LR_MBUF_F_RX_L4_CKSUM_GOOD = RTE_MBUF_F_RX_L4_CKSUM_GOOD;
static const uint64_t LR_ETH_TX_OFFLOAD_IPV4_CKSUM = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
static const uint64_t LR_ETH_TX_OFFLOAD_TCP_CKSUM = RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
static const uint64_t LR_ETH_TX_OFFLOAD_TCP_TSO = RTE_ETH_TX_OFFLOAD_TCP_TSO;
static const uint64_t LR_ETH_TX_OFFLOAD_MULTI_SEGS = RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
static const uint64_t LR_ETH_TX_OFFLOAD_MBUF_FAST_FREE = RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
static const uint64_t LR_ETH_RX_OFFLOAD_IPV4_CKSUM = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
static const uint64_t LR_ETH_RX_OFFLOAD_TCP_CKSUM = RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
static const uint32_t LR_ETH_LINK_UP = RTE_ETH_LINK_UP;
static const uint64_t LR_MBUF_F_RX_RSS_HASH = RTE_MBUF_F_RX_RSS_HASH;
static const uint64_t LR_ETH_RX_OFFLOAD_RSS_HASH = RTE_ETH_RX_OFFLOAD_RSS_HASH;
static const uint64_t LR_ETH_RSS_IPV4 = RTE_ETH_RSS_IPV4;
static const uint64_t LR_ETH_RSS_NONFRAG_IPV4_TCP = RTE_ETH_RSS_NONFRAG_IPV4_TCP;

#endif

/* C's view of struct layouts, so `cargo test` can check bindgen's against it. */
enum lr_layout_item {
    LR_LAYOUT_MBUF_SIZE, LR_LAYOUT_MBUF_BUF_ADDR, LR_LAYOUT_MBUF_DATA_OFF, LR_LAYOUT_MBUF_REFCNT,
    LR_LAYOUT_MBUF_NB_SEGS, LR_LAYOUT_MBUF_PORT, LR_LAYOUT_MBUF_OL_FLAGS, LR_LAYOUT_MBUF_PKT_LEN,
    LR_LAYOUT_MBUF_DATA_LEN, LR_LAYOUT_MBUF_BUF_LEN, LR_LAYOUT_MBUF_POOL, LR_LAYOUT_MBUF_NEXT,
    LR_LAYOUT_ETH_STATS_SIZE, LR_LAYOUT_ETH_DEV_INFO_SIZE, LR_LAYOUT_ETH_CONF_SIZE,
    LR_LAYOUT_ETH_XSTAT_SIZE, LR_LAYOUT_ETH_XSTAT_NAME_SIZE, LR_LAYOUT_ETH_LINK_SIZE,
    LR_LAYOUT_ETHER_ADDR_SIZE, LR_LAYOUT_MEMPOOL_SIZE,
};
uint64_t lr_layout(int item);
