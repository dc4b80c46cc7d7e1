/* Out-of-line wrappers for DPDK's static-inline fast path; see shim.h. */
#include "shim.h"

struct rte_mbuf *lr_pktmbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }
int lr_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned count)
{
    return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}
void lr_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }
void lr_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned count) { rte_pktmbuf_free_bulk(mbufs, count); }

char *lr_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_prepend(m, len); }
char *lr_pktmbuf_append(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_append(m, len); }
char *lr_pktmbuf_adj(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_adj(m, len); }
int lr_pktmbuf_trim(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_trim(m, len); }
uint8_t *lr_pktmbuf_data(const struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, uint8_t *); }
uint16_t lr_pktmbuf_headroom(const struct rte_mbuf *m) { return rte_pktmbuf_headroom(m); }
uint16_t lr_pktmbuf_tailroom(const struct rte_mbuf *m) { return rte_pktmbuf_tailroom(m); }
int lr_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail) { return rte_pktmbuf_chain(head, tail); }

/* The region's bookkeeping: the shared info first, so the free callback's opaque pointer
 * is the whole struct. */
struct lr_region {
    struct rte_mbuf_ext_shared_info shinfo;
    void *base;
    struct lr_ticket *tickets;
    uint32_t nticket;
};

/* A completion ticket: the shared info that one zero-copy send's views attach to. Its count
 * is the sender's hold plus one per live view; at zero, the callback marks it done (its
 * bytes are no longer read by anyone) and drops the region reference the ticket held. */
struct lr_ticket {
    struct rte_mbuf_ext_shared_info shinfo;
    struct lr_region *region;
    uint32_t state; /* LR_TICKET_FREE, _HELD or _RELEASED; written atomically */
};

static void lr_region_free(void *addr, void *opaque)
{
    struct lr_region *r = opaque;
    (void)addr;
    rte_free(r->tickets);
    rte_free(r->base);
    rte_free(r);
}

static void lr_ticket_free(void *addr, void *opaque)
{
    struct lr_ticket *t = opaque;
    struct lr_region *r = t->region;

    (void)addr;
    __atomic_store_n(&t->state, LR_TICKET_FREE, __ATOMIC_RELEASE);
    lr_region_put(&r->shinfo);
}

int lr_region_tickets(struct rte_mbuf_ext_shared_info *shinfo, uint32_t n)
{
    struct lr_region *r = shinfo->fcb_opaque;
    uint32_t i;

    if (r->tickets != NULL || n == 0)
        return -1;
    r->tickets = rte_zmalloc("lr_tickets", (size_t)n * sizeof(struct lr_ticket), RTE_CACHE_LINE_SIZE);
    if (r->tickets == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        r->tickets[i].shinfo.free_cb = lr_ticket_free;
        r->tickets[i].shinfo.fcb_opaque = &r->tickets[i];
        r->tickets[i].region = r;
    }
    r->nticket = n;
    return 0;
}

struct rte_mbuf_ext_shared_info *lr_ticket_open(struct rte_mbuf_ext_shared_info *shinfo, uint32_t i)
{
    struct lr_region *r = shinfo->fcb_opaque;
    uint32_t free_state = LR_TICKET_FREE;
    struct lr_ticket *t;

    if (i >= r->nticket)
        return NULL;
    t = &r->tickets[i];
    if (!__atomic_compare_exchange_n(&t->state, &free_state, LR_TICKET_HELD, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return NULL;
    /* The ticket keeps the region's memory alive until its last view goes. */
    rte_mbuf_ext_refcnt_update(&r->shinfo, 1);
    rte_mbuf_ext_refcnt_set(&t->shinfo, 1);
    return &t->shinfo;
}

int lr_ticket_release(struct rte_mbuf_ext_shared_info *shinfo, uint32_t i)
{
    struct lr_region *r = shinfo->fcb_opaque;
    uint32_t held = LR_TICKET_HELD;
    struct lr_ticket *t;

    if (i >= r->nticket)
        return -1;
    t = &r->tickets[i];
    if (!__atomic_compare_exchange_n(&t->state, &held, LR_TICKET_RELEASED, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return -1;
    if (rte_mbuf_ext_refcnt_update(&t->shinfo, -1) == 0)
        lr_ticket_free(NULL, t);
    return 0;
}

uint32_t lr_ticket_state(const struct rte_mbuf_ext_shared_info *shinfo, uint32_t i)
{
    const struct lr_region *r = shinfo->fcb_opaque;

    if (i >= r->nticket)
        return LR_TICKET_FREE;
    return __atomic_load_n(&r->tickets[i].state, __ATOMIC_ACQUIRE);
}

struct rte_mbuf_ext_shared_info *lr_region_new(size_t len, int socket, void **base)
{
    struct lr_region *r = rte_zmalloc_socket("lr_region", sizeof(*r), RTE_CACHE_LINE_SIZE, socket);
    if (r == NULL)
        return NULL;
    r->base = rte_zmalloc_socket("lr_region_data", len, RTE_CACHE_LINE_SIZE, socket);
    if (r->base == NULL) {
        rte_free(r);
        return NULL;
    }
    r->shinfo.free_cb = lr_region_free;
    r->shinfo.fcb_opaque = r;
    /* The handle holds two references: DPDK updates a count that reads 1 with a plain
     * store (its sole-owner fast path), which loses updates when lcores sharing the region
     * take and drop views at once. Held at 2 or more while the handle lives, the count is
     * only ever changed atomically; the handle drops both at the end. */
    rte_mbuf_ext_refcnt_set(&r->shinfo, 2);
    *base = r->base;
    return &r->shinfo;
}

void lr_region_put(struct rte_mbuf_ext_shared_info *shinfo)
{
    if (rte_mbuf_ext_refcnt_update(shinfo, -1) == 0)
        shinfo->free_cb(NULL, shinfo->fcb_opaque);
}

uint16_t lr_region_refcnt(const struct rte_mbuf_ext_shared_info *shinfo)
{
    return rte_mbuf_ext_refcnt_read(shinfo);
}

uint64_t lr_virt2iova(const void *addr) { return rte_malloc_virt2iova(addr); }

struct rte_mbuf *lr_pktmbuf_ext_view(struct rte_mempool *mp,
                                     struct rte_mbuf_ext_shared_info *shinfo, void *addr,
                                     uint64_t iova, uint16_t len)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
    if (m == NULL)
        return NULL;
    rte_mbuf_ext_refcnt_update(shinfo, 1);
    rte_pktmbuf_attach_extbuf(m, addr, iova, len, shinfo);
    m->data_len = len;
    m->pkt_len = len;
    return m;
}

unsigned lr_pktmbuf_ext_frames(struct rte_mempool *mp, struct rte_mempool *vp,
                               struct rte_mbuf_ext_shared_info *shinfo,
                               char *addr, uint64_t iova, const uint32_t *lens, unsigned n,
                               struct rte_mbuf **out)
{
    struct rte_mbuf *views[64];
    uint64_t off = 0;
    unsigned i;

    if (n == 0 || n > 64)
        return 0;
    if (rte_pktmbuf_alloc_bulk(mp, out, n) != 0)
        return 0;
    if (rte_pktmbuf_alloc_bulk(vp, views, n) != 0) {
        rte_pktmbuf_free_bulk(out, n);
        return 0;
    }
    rte_mbuf_ext_refcnt_update(shinfo, (int16_t)n);
    for (i = 0; i < n; i++) {
        struct rte_mbuf *v = views[i], *h = out[i];
        uint16_t len = (uint16_t)lens[i];

        rte_pktmbuf_attach_extbuf(v, addr + off, iova + off, len, shinfo);
        v->data_len = len;
        v->pkt_len = len;
        h->next = v;
        h->nb_segs = 2;
        h->pkt_len = len;
        off += len;
    }
    return n;
}

uint32_t lr_pktmbuf_pkt_len(const struct rte_mbuf *m) { return m->pkt_len; }
uint16_t lr_pktmbuf_nb_segs(const struct rte_mbuf *m) { return m->nb_segs; }
const struct rte_mbuf *lr_pktmbuf_next(const struct rte_mbuf *m) { return m->next; }

uint16_t lr_mbuf_refcnt_read(const struct rte_mbuf *m) { return rte_mbuf_refcnt_read(m); }
uint16_t lr_mbuf_refcnt_update(struct rte_mbuf *m, int16_t value) { return rte_mbuf_refcnt_update(m, value); }

void lr_mbuf_set_tx_offload(struct rte_mbuf *m, uint64_t ol_flags, uint8_t l2_len,
                            uint16_t l3_len, uint8_t l4_len, uint16_t tso_segsz)
{
    m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_TX_OFFLOAD_MASK) | ol_flags;
    m->l2_len = l2_len;
    m->l3_len = l3_len;
    m->l4_len = l4_len;
    m->tso_segsz = tso_segsz;
}
uint64_t lr_mbuf_ol_flags(const struct rte_mbuf *m) { return m->ol_flags; }
uint16_t lr_mbuf_tso_segsz(const struct rte_mbuf *m) { return m->tso_segsz; }
uint32_t lr_mbuf_rss_hash(const struct rte_mbuf *m) { return m->hash.rss; }
/* l2_len | l3_len << 8 | l4_len << 16 (each fits 8 bits for IPv4/TCP). */
uint32_t lr_mbuf_tx_lens(const struct rte_mbuf *m)
{
    return (uint32_t)m->l2_len | (uint32_t)m->l3_len << 8 | (uint32_t)m->l4_len << 16;
}

uint16_t lr_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
    return rte_eth_rx_burst(port, queue, pkts, n);
}
uint16_t lr_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
    return rte_eth_tx_burst(port, queue, pkts, n);
}

int lr_errno(void) { return rte_errno; }
unsigned lr_lcore_id(void) { return rte_lcore_id(); }
uint64_t lr_rdtsc(void) { return rte_rdtsc(); }
uint64_t lr_tsc_hz(void) { return rte_get_tsc_hz(); }

unsigned lr_mempool_in_use(const struct rte_mempool *mp) { return rte_mempool_in_use_count(mp); }
unsigned lr_mempool_avail(const struct rte_mempool *mp) { return rte_mempool_avail_count(mp); }

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <rte_flow.h>

/* The PMD's message, if any, for the caller's error line; a failure without an errno is
 * still a failure. */
static int lr_flow_fail(int rc, const struct rte_flow_error *e, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", e->message != NULL ? e->message : "");
    return rc < 0 ? rc : -EIO;
}

int lr_flow_tcp_dport_queue(uint16_t port, uint16_t dport, uint16_t mask, uint16_t queue,
                            struct rte_flow **out, char *err, size_t errlen)
{
    const struct rte_flow_attr attr = { .ingress = 1 };
    const struct rte_flow_item_tcp tcp_spec = {
        .hdr.dst_port = rte_cpu_to_be_16(dport & mask),
    };
    const struct rte_flow_item_tcp tcp_mask = { .hdr.dst_port = rte_cpu_to_be_16(mask) };
    /* ETH and IPV4 without spec match any frame of their kind, so only the port selects;
     * TAP and others infer the IP protocol from the TCP item. */
    const struct rte_flow_item pattern[] = {
        { .type = RTE_FLOW_ITEM_TYPE_ETH },
        { .type = RTE_FLOW_ITEM_TYPE_IPV4 },
        { .type = RTE_FLOW_ITEM_TYPE_TCP, .spec = &tcp_spec, .mask = &tcp_mask },
        { .type = RTE_FLOW_ITEM_TYPE_END },
    };
    const struct rte_flow_action_queue to = { .index = queue };
    const struct rte_flow_action actions[] = {
        { .type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &to },
        { .type = RTE_FLOW_ACTION_TYPE_END },
    };
    struct rte_flow_error e;
    struct rte_flow *f;
    int rc;

    *out = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    /* A PMD may fail without filling the error in: start from "no message". */
    memset(&e, 0, sizeof(e));
    rc = rte_flow_validate(port, &attr, pattern, actions, &e);
    if (rc != 0)
        return lr_flow_fail(rc, &e, err, errlen);
    /* Validation does not reserve anything (TAP checks only the pattern's shape there), so
     * create can still refuse. */
    memset(&e, 0, sizeof(e));
    f = rte_flow_create(port, &attr, pattern, actions, &e);
    if (f == NULL)
        return lr_flow_fail(-rte_errno, &e, err, errlen);
    *out = f;
    return 0;
}

int lr_flow_destroy(uint16_t port, struct rte_flow *flow)
{
    struct rte_flow_error e;

    memset(&e, 0, sizeof(e));
    return rte_flow_destroy(port, flow, &e);
}

#include <stddef.h>
uint64_t lr_layout(int item)
{
    switch (item) {
    case LR_LAYOUT_MBUF_SIZE: return sizeof(struct rte_mbuf);
    case LR_LAYOUT_MBUF_BUF_ADDR: return offsetof(struct rte_mbuf, buf_addr);
    case LR_LAYOUT_MBUF_DATA_OFF: return offsetof(struct rte_mbuf, data_off);
    case LR_LAYOUT_MBUF_REFCNT: return offsetof(struct rte_mbuf, refcnt);
    case LR_LAYOUT_MBUF_NB_SEGS: return offsetof(struct rte_mbuf, nb_segs);
    case LR_LAYOUT_MBUF_PORT: return offsetof(struct rte_mbuf, port);
    case LR_LAYOUT_MBUF_OL_FLAGS: return offsetof(struct rte_mbuf, ol_flags);
    case LR_LAYOUT_MBUF_PKT_LEN: return offsetof(struct rte_mbuf, pkt_len);
    case LR_LAYOUT_MBUF_DATA_LEN: return offsetof(struct rte_mbuf, data_len);
    case LR_LAYOUT_MBUF_BUF_LEN: return offsetof(struct rte_mbuf, buf_len);
    case LR_LAYOUT_MBUF_POOL: return offsetof(struct rte_mbuf, pool);
    case LR_LAYOUT_MBUF_NEXT: return offsetof(struct rte_mbuf, next);
    case LR_LAYOUT_ETH_STATS_SIZE: return sizeof(struct rte_eth_stats);
    case LR_LAYOUT_ETH_DEV_INFO_SIZE: return sizeof(struct rte_eth_dev_info);
    case LR_LAYOUT_ETH_CONF_SIZE: return sizeof(struct rte_eth_conf);
    case LR_LAYOUT_ETH_XSTAT_SIZE: return sizeof(struct rte_eth_xstat);
    case LR_LAYOUT_ETH_XSTAT_NAME_SIZE: return sizeof(struct rte_eth_xstat_name);
    case LR_LAYOUT_ETH_LINK_SIZE: return sizeof(struct rte_eth_link);
    case LR_LAYOUT_ETHER_ADDR_SIZE: return sizeof(struct rte_ether_addr);
    case LR_LAYOUT_MEMPOOL_SIZE: return sizeof(struct rte_mempool);
    default: return UINT64_MAX;
    }
}
