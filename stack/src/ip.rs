//! `ip_queue_xmit`, and the layer below TCP as TCP sees it (input is `ip_input`).
//!
//! [`IpLayer`] owns what lies under TCP: the route table, the neighbour table, the device
//! and the mbuf pool. TCP reaches all of it through this one narrow interface: allocate a
//! buffer, check a connection's cached route, ask whether its next hop can take frames, and
//! `queue_xmit` a segment whose TCP header is written. This layer then writes the IPv4
//! header, `neigh` writes the Ethernet header, and `dev` batches the frame for the NIC.
use crate::dev::Dev;
pub(crate) use crate::gso::MAX_UNIT_SEGS;
use crate::gso::{self, Template, UnitPayload};
use crate::ip_input::RxDrops;
use crate::neigh::NeighTable;
use crate::ratelimit::ReplyLimits;
use crate::region::Regions;
use linerate_dpdk::{Device, Mbuf, Mempool, Offloads, TxOffload};
use linerate_proto::route::RouteTable;
use linerate_proto::timer::Nanos;
use linerate_proto::wire::ipv4::{Ipv4Cidr, Protocol};
use linerate_proto::wire::{checksum, ETH_HEADER_LEN, IPV4_HEADER_LEN};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// TTL of every packet we send (Linux's `ip_default_ttl`).
const DEFAULT_TTL: u8 = 64;

/// A connection's cached route (the kernel's `sk_dst_cache`): its next hop's neighbour entry,
/// the route table generation it was looked up in, and the IPv4 ID counter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dst {
    pub(crate) src: Ipv4Addr,
    pub(crate) dst: Ipv4Addr,
    neigh: usize,
    route_gen: u32,
    ip_id: u16,
}

/// Why a frame did not leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XmitError {
    /// No headroom, a shared buffer, or the device backlog is full: try again later.
    Busy,
    /// ARP for the next hop failed: EHOSTUNREACH.
    Unreachable,
}

/// A TSO unit as TCP hands it to [`IpLayer::queue_xmit_unit`]: segments back to back in a
/// payload region, under one TCP header.
pub(crate) struct Unit<'a> {
    /// TCP header of the first segment: checksum zero, flags of a segment before the last.
    pub(crate) tcp: &'a [u8],
    /// Its word sum with the sequence number counted as zero.
    pub(crate) tcp_sum: u32,
    pub(crate) seq: u32,
    /// Flags of the last segment only (PSH, FIN).
    pub(crate) last_flags: u8,
    pub(crate) region: u16,
    /// Its ticket (reusable regions) or `NO_TICKET`.
    pub(crate) ticket: u16,
    pub(crate) off: u32,
    /// Each segment's payload length.
    pub(crate) lens: &'a [u32],
    /// Each segment's payload partial sum.
    pub(crate) sums: &'a [u32],
    /// Segment size for hardware TSO (every segment but the last is this long).
    pub(crate) mss: u16,
    /// The TCP checksum is the NIC's.
    pub(crate) csum_offloaded: bool,
}

/// What the IPv4 layer needs to know of the L4 segment it carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct L4 {
    /// TCP header length, options included (for the NIC's offload fields).
    pub(crate) hdr_len: u8,
    /// The TCP checksum holds only the pseudo-header sum: the NIC completes it.
    pub(crate) csum_offloaded: bool,
}

/// The layers below TCP: routes, neighbours, the device and the mbuf pool.
pub(crate) struct IpLayer<D: Device> {
    pub(crate) dev: Dev<D>,
    pub(crate) neigh: NeighTable,
    pub(crate) routes: RouteTable,
    pub(crate) pool: Arc<Mempool>,
    pub(crate) addr: Ipv4Cidr,
    pub(crate) offloads: Offloads,
    pub(crate) drops: RxDrops,
    /// RFC 5961 §7 budgets for what invalid segments make TCP send (`ratelimit`).
    pub(crate) limits: ReplyLimits,
    /// Registered zero-copy payload regions.
    pub(crate) regions: Regions,
    /// Frames of the unit being cut (`gso::segment`'s scratch, kept to avoid allocating).
    frames: Vec<Mbuf>,
    /// Mbufs the send path leaves in the pool for RX descriptors and control frames.
    pool_reserve: u32,
    /// Send-path allocations allowed before the pool is looked at again (counting a pool's
    /// free mbufs walks every lcore cache, too slow to do per segment).
    pool_budget: u32,
    /// Mbufs for control frames, taken from the pool in bulk: one call per `STASH` frames
    /// instead of one each (a connection-rate load sends two control frames per
    /// connection). Given back by `return_stash` at the end of every poll and flush, so
    /// the pool's figures never count them between calls.
    stash: Vec<Mbuf>,
}

/// Mbufs a bulk refill of the control-frame stash takes.
const STASH: usize = 16;

impl<D: Device> IpLayer<D> {
    pub(crate) fn new(
        dev: Dev<D>,
        neigh: NeighTable,
        routes: RouteTable,
        pool: Arc<Mempool>,
        addr: Ipv4Cidr,
        pool_reserve: u32,
    ) -> Self {
        let offloads = dev.offloads();
        IpLayer {
            dev,
            neigh,
            routes,
            pool,
            addr,
            offloads,
            drops: RxDrops::default(),
            limits: ReplyLimits::new(),
            regions: Regions::default(),
            frames: Vec::with_capacity(gso::MAX_UNIT_SEGS),
            pool_reserve,
            pool_budget: 0,
            stash: Vec::with_capacity(STASH),
        }
    }

    /// An mbuf for a control frame (it may use the reserve).
    #[inline]
    pub(crate) fn alloc(&mut self) -> Option<Mbuf> {
        if let Some(m) = self.stash.pop() {
            return Some(m);
        }
        if self.pool.alloc_bulk(&mut self.stash, STASH) {
            return self.stash.pop();
        }
        // Fewer than a refill left: one at a time, to the last.
        self.pool.alloc()
    }

    /// Gives the stash's mbufs back to the pool.
    #[inline]
    pub(crate) fn return_stash(&mut self) {
        if !self.stash.is_empty() {
            Mbuf::free_bulk(&mut self.stash);
        }
    }

    /// An mbuf for queued data, unless that would eat into the reserve: a send buffer that
    /// drained the pool would starve the ACKs that free it.
    #[inline]
    /// More mbufs free than `send` must leave (plus a burst's worth).
    pub(crate) fn pool_has_room(&self) -> bool {
        self.pool.available() > self.pool_reserve + linerate_dpdk::MAX_BURST as u32
    }

    pub(crate) fn alloc_send(&mut self) -> Option<Mbuf> {
        if self.pool_budget == 0 {
            let avail = self.pool.available();
            // Re-check at least every 64 mbufs, sooner as the pool runs low.
            self.pool_budget = (avail.saturating_sub(self.pool_reserve) / 2).min(64);
            if self.pool_budget == 0 {
                return None;
            }
        }
        self.pool_budget -= 1;
        self.pool.alloc()
    }

    /// A frame of `len` bytes at `off` of region `r` (`t`: its ticket): a header mbuf
    /// (headers go into its headroom) chained to a view of the payload, no copy
    /// (`gso::alloc_frame`).
    #[inline]
    pub(crate) fn alloc_region_frame(&self, r: (u16, u16), off: u32, len: u32) -> Option<Mbuf> {
        let multi = self.offloads.tx_multi_seg;
        gso::alloc_frame(&self.pool, &self.regions, multi, r, off, len)
    }

    /// True when the port cuts TSO frames itself (and takes chained mbufs).
    #[inline]
    pub(crate) fn tso(&self) -> bool {
        self.offloads.tx_tso && self.offloads.tx_multi_seg
    }

    /// `ip_queue_xmit` for a TSO unit (`tcp` is the TCP header of its first segment, see
    /// [`Unit`]): the IPv4 and Ethernet headers join it in one template, and the unit leaves
    /// as one hardware TSO frame or as segments cut in software (`gso`). Needs a resolved
    /// next hop. Returns how many of its segments left, from the front.
    pub(crate) fn queue_xmit_unit(&mut self, d: &mut Dst, u: &Unit) -> usize {
        let Some(hh) = self.neigh.hh(d.neigh) else {
            return 0;
        };
        let thl = u.tcp.len();
        let mut buf = [0u8; ETH_HEADER_LEN + IPV4_HEADER_LEN + 60];
        let hl = ETH_HEADER_LEN + IPV4_HEADER_LEN + thl;
        buf[..ETH_HEADER_LEN].copy_from_slice(hh);
        let h = &mut buf[ETH_HEADER_LEN..];
        h[0] = 0x45;
        h[6] = 0x40;
        h[8] = DEFAULT_TTL;
        h[9] = Protocol::TCP;
        h[12..16].copy_from_slice(&d.src.octets());
        h[16..20].copy_from_slice(&d.dst.octets());
        h[IPV4_HEADER_LEN..IPV4_HEADER_LEN + thl].copy_from_slice(u.tcp);
        let t = Template {
            hdr: &buf[..hl],
            ip_sum: header_sum(0, 0, d.src, d.dst),
            tcp_sum: u.tcp_sum,
            ph0: checksum::pseudo_header_v4(d.src, d.dst, Protocol::TCP, 0),
            ip_csum_offload: self.offloads.tx_ipv4_cksum,
            tcp_csum_offload: u.csum_offloaded,
        };
        let p = UnitPayload {
            region: u.region,
            ticket: u.ticket,
            off: u.off,
            lens: u.lens,
            sums: u.sums,
            seq: u.seq,
            ip_id: d.ip_id.wrapping_add(1),
            last_flags: u.last_flags,
        };
        // Hardware TSO when the port has it and takes the frame's segments (header + views).
        let max = self.offloads.tx_seg_max;
        let fits = |lens: &[u32]| {
            let views = lens.iter().sum::<u32>().div_ceil(gso::TSO_VIEW_MAX);
            max == 0 || views < max as u32
        };
        let n = if self.tso() && u.lens.len() > 1 && fits(u.lens) {
            let ok = gso::tso(&t, &p, u.mss, &self.pool, &self.regions, &mut self.dev);
            self.dev.stats.tso_frames += ok as u64;
            if ok {
                u.lens.len()
            } else {
                0
            }
        } else {
            let multi = self.offloads.tx_multi_seg;
            let (pool, regions, dev) = (&self.pool, &self.regions, &mut self.dev);
            let n = gso::segment(&t, &p, pool, regions, multi, dev, &mut self.frames);
            self.dev.stats.gso_units += 1;
            self.dev.stats.gso_frames += n as u64;
            n
        };
        d.ip_id = d.ip_id.wrapping_add(n as u16);
        n
    }

    /// True when the NIC completes TCP checksums (TCP then writes the pseudo-header sum).
    #[inline]
    pub(crate) fn tcp_csum_offload(&self) -> bool {
        self.offloads.tx_tcp_cksum
    }

    /// `ip_route_output`: the route to `dst` and its next hop's neighbour entry (created
    /// INCOMPLETE if new). `None`: no route, or the neighbour table is full. A connection
    /// that keeps the result holds it (`dst_hold`); one frame's use needs no hold.
    pub(crate) fn route_output(&mut self, dst: Ipv4Addr, now: Nanos) -> Option<Dst> {
        let hop = self.routes.lookup(dst)?;
        let neigh = self.neigh.lookup_or_create(hop.addr, now).ok()?;
        Some(Dst {
            src: self.addr.addr,
            dst,
            neigh,
            route_gen: hop.generation,
            ip_id: 0,
        })
    }

    /// The seed's `__sk_dst_check`, for a connection's held `d`: when the route table has
    /// changed since `d` was looked up, look it up again (the hold moves to the new next
    /// hop). A destination that lost its route keeps the old next hop (its segments still go
    /// out; RTOs end it if the path is really gone).
    #[inline]
    pub(crate) fn dst_check(&mut self, d: &mut Dst, now: Nanos) {
        if d.route_gen == self.routes.generation() {
            return;
        }
        d.route_gen = self.routes.generation();
        if let Some(hop) = self.routes.lookup(d.dst) {
            if let Ok(n) = self.neigh.lookup_or_create(hop.addr, now) {
                if n != d.neigh {
                    self.neigh.hold(n);
                    self.neigh.release(d.neigh, now);
                    d.neigh = n;
                }
            }
        }
    }

    /// A connection caches `d` from now on: its next hop's entry stays in the neighbour
    /// table while it does (the reference a `dst_entry` holds on its neighbour).
    #[inline]
    pub(crate) fn dst_hold(&mut self, d: &Dst) {
        self.neigh.hold(d.neigh);
    }

    /// The connection that held `d` is gone: its next hop may be collected once no other
    /// connection holds it.
    #[inline]
    pub(crate) fn dst_release(&mut self, d: &Dst, now: Nanos) {
        self.neigh.release(d.neigh, now);
    }

    /// True when frames to `d` can go out now. An unresolved next hop gets (or keeps) an ARP
    /// request under way; the caller's data waits on its own queue meanwhile.
    #[inline]
    pub(crate) fn dst_ready(&mut self, d: &Dst, now: Nanos) -> bool {
        if self.neigh.is_resolved(d.neigh) {
            return true;
        }
        self.neigh.kick(d.neigh, now, &mut self.dev, &self.pool);
        false
    }

    /// True when the next hop of `d` is resolved (no ARP is started).
    #[inline]
    pub(crate) fn dst_resolved(&self, d: &Dst) -> bool {
        self.neigh.is_resolved(d.neigh)
    }

    /// The next hop of `d` answered no ARP request.
    #[inline]
    pub(crate) fn dst_failed(&self, d: &Dst) -> bool {
        self.neigh.is_failed(d.neigh)
    }

    /// The next hop of `d` is one of `entries`.
    #[inline]
    pub(crate) fn dst_uses(&self, d: &Dst, entries: &[usize]) -> bool {
        entries.contains(&d.neigh)
    }

    /// True while the device takes another frame.
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        self.dev.has_room()
    }

    /// `ip_queue_xmit` for a segment TCP keeps for retransmission: writes the IPv4 and
    /// Ethernet headers into `m`'s headroom and hands the device a reference (refcount + 1),
    /// the seed's `skb_clone`. Needs a resolved next hop, a unique `m` and room in the device:
    /// the caller checks the last two before it writes its own header into `m` (so they are
    /// not paid twice per segment). On failure `m` holds what it held before.
    #[inline]
    pub(crate) fn queue_xmit_ref(
        &mut self,
        m: &mut Mbuf,
        d: &mut Dst,
        l4: L4,
    ) -> Result<(), XmitError> {
        debug_assert!(
            m.is_unique() && self.dev.has_room(),
            "checked by the caller"
        );
        let l4_len = m.len();
        d.ip_id = d.ip_id.wrapping_add(1);
        if !push_header(m, d.src, d.dst, d.ip_id, &self.offloads, l4)
            || !self.neigh.push_hh(d.neigh, m)
        {
            // Undo so the segment stays as TCP left it.
            let pushed = m.len() - l4_len;
            m.adj(pushed);
            return Err(XmitError::Busy);
        }
        if self.dev.xmit(m.clone()).is_err() {
            m.adj(m.len() - l4_len);
            return Err(XmitError::Busy);
        }
        Ok(())
    }

    /// `ip_queue_xmit` for a frame TCP gives away (SYN, ACK, RST, probes): it may wait in
    /// the neighbour's queue while the next hop resolves. `ident` is the IPv4 ID.
    pub(crate) fn queue_xmit(
        &mut self,
        mut m: Mbuf,
        d: &mut Dst,
        ident: Option<u16>,
        l4: L4,
        now: Nanos,
    ) -> Result<(), XmitError> {
        let id = match ident {
            Some(i) => i,
            None => {
                d.ip_id = d.ip_id.wrapping_add(1);
                d.ip_id
            }
        };
        if !push_header(&mut m, d.src, d.dst, id, &self.offloads, l4) {
            return Err(XmitError::Busy);
        }
        self.neigh
            .output(d.neigh, m, now, &mut self.dev, &self.pool)
            .map_err(|_| XmitError::Unreachable)
    }
}

impl Dst {
    /// Sends from `src` (one of the stack's source addresses).
    pub(crate) fn with_src(mut self, src: Ipv4Addr) -> Self {
        self.src = src;
        self
    }

    /// Starts the IPv4 ID counter (a per-connection random start).
    pub(crate) fn with_ip_id(mut self, id: u16) -> Self {
        self.ip_id = id;
        self
    }
}

/// Prepends the IPv4 header in front of an L4 segment already in `m`. With
/// `offloads.tx_ipv4_cksum` the NIC fills the header checksum; TCP has already set (or left
/// to the NIC) its own. False when there is no headroom or `m` is shared.
#[inline]
fn push_header(
    m: &mut Mbuf,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
    offloads: &Offloads,
    l4: L4,
) -> bool {
    let total = m.pkt_len() + IPV4_HEADER_LEN;
    let Some(h) = m.prepend(IPV4_HEADER_LEN) else {
        return false;
    };
    // Fixed fields in one write: version 4, IHL 5, DSCP 0, flags DF, fragment offset 0.
    h[0] = 0x45;
    h[1] = 0;
    h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    h[4..6].copy_from_slice(&ident.to_be_bytes());
    h[6] = 0x40;
    h[7] = 0;
    h[8] = DEFAULT_TTL;
    h[9] = Protocol::TCP;
    h[10] = 0;
    h[11] = 0;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    if !offloads.tx_ipv4_cksum {
        let sum = header_sum(total as u16, ident, src, dst);
        h[10..12].copy_from_slice(&checksum::fold(sum).to_be_bytes());
    }
    if offloads.tx_ipv4_cksum || l4.csum_offloaded {
        m.set_tx_offload(TxOffload {
            ip_cksum: offloads.tx_ipv4_cksum,
            tcp_cksum: l4.csum_offloaded,
            tso_segsz: 0,
            l2_len: ETH_HEADER_LEN as u8,
            l3_len: IPV4_HEADER_LEN as u16,
            l4_len: l4.hdr_len,
        });
    }
    true
}

/// The word sum of the header `push_header` writes, from the fields: summing the bytes just
/// stored would stall on store-to-load forwarding (it cost more than the rest of the header).
#[inline]
fn header_sum(total: u16, ident: u16, src: Ipv4Addr, dst: Ipv4Addr) -> u32 {
    let (s, d) = (u32::from(src), u32::from(dst));
    0x4500
        + total as u32
        + ident as u32
        + 0x4000
        + ((DEFAULT_TTL as u32) << 8 | Protocol::TCP as u32)
        + (s >> 16)
        + (s & 0xffff)
        + (d >> 16)
        + (d & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use linerate_proto::wire::ipv4::Ipv4Packet;

    #[test]
    fn header_checksum_from_the_fields_verifies() {
        // The sum from the fields must be the sum over the bytes of the same header.
        for (ident, total, src, dst) in [
            (0u16, 40u16, [198, 18, 0, 1], [198, 19, 0, 2]),
            (0xffff, 1500, [255, 255, 255, 254], [198, 18, 255, 255]),
            (0x1234, 20, [0, 0, 0, 0], [1, 2, 3, 4]),
        ] {
            let (src, dst) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
            let mut h = [0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&total.to_be_bytes());
            h[4..6].copy_from_slice(&ident.to_be_bytes());
            h[6] = 0x40;
            h[8] = DEFAULT_TTL;
            h[9] = Protocol::TCP;
            h[12..16].copy_from_slice(&src.octets());
            h[16..20].copy_from_slice(&dst.octets());
            let sum = header_sum(total, ident, src, dst);
            assert_eq!(checksum::fold(sum), checksum::fold(checksum::sum(&h, 0)));
            h[10..12].copy_from_slice(&checksum::fold(sum).to_be_bytes());
            assert!(Ipv4Packet::new_unchecked(&h[..]).verify_checksum());
        }
    }
}
