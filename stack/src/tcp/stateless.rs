//! Segments sent without a connection block (`tcp_ipv4.c`'s `tcp_v4_send_reset` and
//! `tcp_v4_send_ack`): the RST that answers a segment no connection owns, and the ACK a
//! TIME-WAIT record sends. Each looks its route up, which is fine for what is rare.
use super::header::{finish_checksum, ts_option_sum, write_ts_option, TcpHdr};
use crate::ip::{IpLayer, L4};
use linerate_dpdk::Device;
use linerate_proto::timer::Nanos;
use linerate_proto::wire::tcp::flags;
use linerate_proto::wire::{TCP_HEADER_LEN, TCP_TS_OPTIONS_LEN};
use std::net::Ipv4Addr;

/// The segment a stateless RST answers: its addresses, ports, numbers, flags and length.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RstFor {
    /// Our address and port (the segment's destination).
    pub(crate) local: (Ipv4Addr, u16),
    /// The sender's address and port.
    pub(crate) remote: (Ipv4Addr, u16),
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: u8,
    /// Payload bytes.
    pub(crate) len: u32,
}

/// A header-only segment to send with no connection behind it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bare {
    pub(crate) local: (Ipv4Addr, u16),
    pub(crate) remote: (Ipv4Addr, u16),
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: u8,
    pub(crate) window: u16,
    /// (TSval, TSecr), when the segment carries timestamps.
    pub(crate) ts: Option<(u32, u32)>,
}

/// `tcp_v4_send_reset`: a stateless RST in reply to a segment that matches no connection
/// (RFC 9293 §3.10.7.1). Returns true when it went out (or waits for ARP).
pub(crate) fn send_reset<D: Device>(ip: &mut IpLayer<D>, to: &RstFor, now: Nanos) -> bool {
    let (seq, ack, fl) = if to.flags & flags::ACK != 0 {
        (to.ack, 0, flags::RST)
    } else {
        let syn_fin = (to.flags & (flags::SYN | flags::FIN)).count_ones();
        (
            0,
            to.seq.wrapping_add(to.len).wrapping_add(syn_fin),
            flags::RST | flags::ACK,
        )
    };
    let bare = Bare {
        local: to.local,
        remote: to.remote,
        seq,
        ack,
        flags: fl,
        window: 0,
        ts: None,
    };
    send_bare(ip, &bare, now)
}

/// `tcp_v4_send_ack` (as `tcp_v4_timewait_ack` uses it): sends `b`. True when it went out
/// (or waits for ARP).
pub(crate) fn send_bare<D: Device>(ip: &mut IpLayer<D>, b: &Bare, now: Nanos) -> bool {
    let Some(mut dst) = ip.route_output(b.remote.0, now) else {
        return false;
    };
    dst.src = b.local.0;
    let Some(mut m) = ip.alloc() else {
        return false;
    };
    let len = TCP_HEADER_LEN + b.ts.map_or(0, |_| TCP_TS_OPTIONS_LEN);
    let Some(h) = m.prepend(len) else {
        return false;
    };
    let th = TcpHdr {
        src_port: b.local.1,
        dst_port: b.remote.1,
        seq: b.seq,
        ack: b.ack,
        flags: b.flags,
        window: b.window,
    };
    th.write(h);
    let mut hsum = th.sum(len);
    if let Some((tsval, tsecr)) = b.ts {
        write_ts_option(&mut h[TCP_HEADER_LEN..], tsval, tsecr);
        hsum += ts_option_sum(tsval, tsecr);
    }
    finish_checksum(h, b.local.0, b.remote.0, len, hsum, 0, false);
    let l4 = L4 {
        hdr_len: len as u8,
        csum_offloaded: false,
    };
    ip.queue_xmit(m, &mut dst, Some(0), l4, now).is_ok()
}
