//! `skb_gso_segment` and `tcp_gso_segment`, at the device boundary: a TSO unit (one header
//! for up to 64 KiB of payload) leaves either as one frame the NIC cuts (hardware TSO) or
//! as one frame per segment cut here (software segmentation). Each software frame is a small
//! header mbuf, the unit's header template copied in with its lengths, IPv4 ID, sequence
//! number, flags and checksums patched, chained to a view of its slice of the payload. The
//! checksums come from the sums kept per segment, never from a pass over the payload.
use crate::dev::Dev;
use crate::region::Regions;
use linerate_dpdk::{Device, Mbuf, Mempool, TxOffload};
use linerate_proto::wire::checksum;
use linerate_proto::wire::{ETH_HEADER_LEN, IPV4_HEADER_LEN, TCP_HEADER_LEN, TCP_TS_OPTIONS_LEN};

/// Most segments in one unit (what one bulk frame allocation builds).
pub(crate) const MAX_UNIT_SEGS: usize = linerate_dpdk::MAX_FRAMES;

/// Most payload bytes in one view of a hardware TSO frame (i40e's limit per descriptor).
pub(crate) const TSO_VIEW_MAX: u32 = 16_383;

/// Field offsets in a frame that starts with Ethernet + IPv4 (no options) + TCP.
const IP_LEN: usize = ETH_HEADER_LEN + 2;
const IP_ID: usize = ETH_HEADER_LEN + 4;
const IP_CSUM: usize = ETH_HEADER_LEN + 10;
const L4: usize = ETH_HEADER_LEN + IPV4_HEADER_LEN;
const TCP_SEQ: usize = L4 + 4;
const TCP_FLAGS: usize = L4 + 13;
const TCP_CSUM: usize = L4 + 16;

/// The headers every frame of a unit shares, and their sums.
pub(crate) struct Template<'a> {
    /// Ethernet + IPv4 + TCP header of the unit's first segment: IPv4 total length, ID and
    /// both checksums zero; TCP flags those of a segment before the last.
    pub(crate) hdr: &'a [u8],
    /// Word sum of the IPv4 header as it is in `hdr`.
    pub(crate) ip_sum: u32,
    /// Word sum of the TCP header in `hdr` with its sequence number counted as zero.
    pub(crate) tcp_sum: u32,
    /// The pseudo-header's sum without the length (each frame adds its own).
    pub(crate) ph0: u32,
    /// The NIC fills in IPv4 header checksums.
    pub(crate) ip_csum_offload: bool,
    /// The NIC fills in TCP checksums (the header then carries the pseudo-header sum).
    pub(crate) tcp_csum_offload: bool,
}

/// A unit's payload: segments of `lens` bytes (with payload partial sums `sums`), back to
/// back from `off` of region `region`.
pub(crate) struct UnitPayload<'a> {
    pub(crate) region: u16,
    /// The ticket its bytes are leased under (reusable regions), or `NO_TICKET`.
    pub(crate) ticket: u16,
    pub(crate) off: u32,
    pub(crate) lens: &'a [u32],
    pub(crate) sums: &'a [u32],
    /// Sequence number and IPv4 ID of the first segment.
    pub(crate) seq: u32,
    pub(crate) ip_id: u16,
    /// Flags only the last segment carries (PSH, FIN).
    pub(crate) last_flags: u8,
}

/// Payloads up to this long are copied in after the headers rather than referenced: a view
/// costs a second mbuf and two reference-count updates, more than copying a few cache lines
/// (drivers' "copybreak"; the kernel, too, copies small MSG_ZEROCOPY sends).
const COPY_BREAK: u32 = 256;

/// The mbufs a frame needs for `len` payload bytes at `off` of region `r` (under ticket
/// `t` of a reusable region): a header mbuf
/// chained to a view of the bytes, or with them copied in when they are few or the port
/// lacks multi-segment TX. `None` when the pool is dry.
#[inline]
pub(crate) fn alloc_frame(
    pool: &Mempool,
    regions: &Regions,
    multi_seg: bool,
    (r, t): (u16, u16),
    off: u32,
    len: u32,
) -> Option<Mbuf> {
    let mut h = pool.alloc()?;
    if len == 0 {
        return Some(h);
    }
    if !multi_seg || len <= COPY_BREAK {
        let b = regions.bytes(r, off, len)?;
        h.append(b.len())?.copy_from_slice(b);
        return Some(h);
    }
    let v = regions.view(r, t, off, len)?;
    h.chain(v).ok()?;
    Some(h)
}

/// Software segmentation: one frame per segment of `p`, handed to `dev`. On a port that
/// takes chained mbufs, every frame's mbufs come in one bulk call (`scratch` holds them
/// meanwhile). Returns how many went (fewer than all when the pool or the device ran out:
/// the rest stay unsent).
pub(crate) fn segment<D: Device>(
    t: &Template,
    p: &UnitPayload,
    pool: &Mempool,
    regions: &Regions,
    multi_seg: bool,
    dev: &mut Dev<D>,
    scratch: &mut Vec<Mbuf>,
) -> usize {
    let n = p.lens.len().min(MAX_UNIT_SEGS);
    scratch.clear();
    // Units hold zero-copy segments, never empty ones: every length gets a view.
    let bulk = multi_seg && regions.frames(p.region, p.ticket, p.off, &p.lens[..n], scratch);
    let mut off = p.off;
    let mut seq = p.seq;
    let mut frames = scratch.drain(..);
    for (i, (&len, &psum)) in p.lens[..n].iter().zip(p.sums).enumerate() {
        if !dev.has_room() {
            return i;
        }
        let m = if bulk {
            frames.next()
        } else {
            alloc_frame(pool, regions, multi_seg, (p.region, p.ticket), off, len)
        };
        let Some(mut m) = m else {
            return i;
        };
        let last = i + 1 == n;
        let ip_id = p.ip_id.wrapping_add(i as u16);
        let extra = if last { p.last_flags } else { 0 };
        if !write_headers(&mut m, t, len, seq, ip_id, extra, psum) {
            return i;
        }
        if dev.xmit(m).is_err() {
            return i;
        }
        off += len;
        seq = seq.wrapping_add(len);
    }
    n
}

/// Hardware TSO: the whole unit as one frame with `tso_segsz = mss`; the NIC cuts it and
/// writes each segment's lengths, IDs, sequence numbers and checksums. The TCP checksum
/// field holds the pseudo-header sum without the length, as DPDK's TSO contract asks.
pub(crate) fn tso<D: Device>(
    t: &Template,
    p: &UnitPayload,
    mss: u16,
    pool: &Mempool,
    regions: &Regions,
    dev: &mut Dev<D>,
) -> bool {
    let total: u32 = p.lens.iter().sum();
    if !dev.has_room() {
        return false;
    }
    // The payload as views of at most TSO_VIEW_MAX bytes each: NICs limit the bytes one
    // descriptor carries (i40e: 16 383), and a view is one descriptor.
    let Some(mut m) = pool.alloc() else {
        return false;
    };
    let mut at = 0;
    while at < total {
        let len = (total - at).min(TSO_VIEW_MAX);
        let Some(v) = regions.view(p.region, p.ticket, p.off + at, len) else {
            return false;
        };
        if m.chain(v).is_err() {
            return false;
        }
        at += len;
    }
    let hl = t.hdr.len();
    let Some(h) = m.prepend(hl) else {
        return false;
    };
    copy_template(h, t.hdr);
    let ip_total = (hl - ETH_HEADER_LEN) as u32 + total;
    h[IP_LEN..IP_LEN + 2].copy_from_slice(&(ip_total.min(0xffff) as u16).to_be_bytes());
    h[IP_ID..IP_ID + 2].copy_from_slice(&p.ip_id.to_be_bytes());
    h[TCP_FLAGS] = t.hdr[TCP_FLAGS] | p.last_flags;
    h[TCP_CSUM..TCP_CSUM + 2].copy_from_slice(&(!checksum::fold(t.ph0)).to_be_bytes());
    m.set_tx_offload(TxOffload {
        ip_cksum: true,
        tcp_cksum: true,
        tso_segsz: mss,
        l2_len: ETH_HEADER_LEN as u8,
        l3_len: IPV4_HEADER_LEN as u16,
        l4_len: (hl - L4) as u8,
    });
    dev.xmit(m).is_ok()
}

/// `dst.copy_from_slice(src)`, with the usual header length (Ethernet, IPv4, TCP with
/// timestamps) as a fixed-size copy the compiler inlines: a memcpy call of unknown length
/// was a tenth of `write_headers`.
#[inline]
fn copy_template(dst: &mut [u8], src: &[u8]) {
    const TS_HDR: usize = L4 + TCP_HEADER_LEN + TCP_TS_OPTIONS_LEN;
    match (
        <&mut [u8; TS_HDR]>::try_from(&mut *dst),
        <&[u8; TS_HDR]>::try_from(src),
    ) {
        (Ok(d), Ok(s)) => *d = *s,
        _ => dst.copy_from_slice(src),
    }
}

/// Copies the template in front of the payload already in `m` and patches one segment's
/// fields. False without headroom.
#[inline]
fn write_headers(
    m: &mut Mbuf,
    t: &Template,
    len: u32,
    seq: u32,
    ip_id: u16,
    extra_flags: u8,
    psum: u32,
) -> bool {
    let hl = t.hdr.len();
    let thl = (hl - L4) as u32;
    let Some(h) = m.prepend(hl) else {
        return false;
    };
    copy_template(h, t.hdr);
    let ip_total = IPV4_HEADER_LEN as u32 + thl + len;
    h[IP_LEN..IP_LEN + 2].copy_from_slice(&(ip_total as u16).to_be_bytes());
    h[IP_ID..IP_ID + 2].copy_from_slice(&ip_id.to_be_bytes());
    if !t.ip_csum_offload {
        let c = checksum::fold(t.ip_sum + ip_total + ip_id as u32);
        h[IP_CSUM..IP_CSUM + 2].copy_from_slice(&c.to_be_bytes());
    }
    h[TCP_SEQ..TCP_SEQ + 4].copy_from_slice(&seq.to_be_bytes());
    // From the template, not `|=` on the copy: reading a byte just stored by the wide copy
    // stalls on store-to-load forwarding (it cost half of this function).
    h[TCP_FLAGS] = t.hdr[TCP_FLAGS] | extra_flags;
    let ph = t.ph0 + thl + len;
    let c = if t.tcp_csum_offload {
        !checksum::fold(ph)
    } else {
        // Flags are the low byte of their word, and `extra_flags` adds bits not yet set.
        let words = (seq >> 16) + (seq & 0xffff);
        checksum::fold(ph + t.tcp_sum + words + extra_flags as u32 + psum)
    };
    h[TCP_CSUM..TCP_CSUM + 2].copy_from_slice(&c.to_be_bytes());
    if t.ip_csum_offload || t.tcp_csum_offload {
        m.set_tx_offload(TxOffload {
            ip_cksum: t.ip_csum_offload,
            tcp_cksum: t.tcp_csum_offload,
            tso_segsz: 0,
            l2_len: ETH_HEADER_LEN as u8,
            l3_len: IPV4_HEADER_LEN as u16,
            l4_len: thl as u8,
        });
    }
    true
}
