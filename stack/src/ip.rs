//! `ip_queue_xmit` and IPv4 input: the IPv4 header on the way out (ID, DF, TTL, checksum in
//! software or offloaded), and validation on the way in.
use crate::dpdk::{Mbuf, Offloads, TxOffload};
use crate::wire::checksum;
use crate::wire::ipv4::{Ipv4Packet, Protocol};
use std::net::Ipv4Addr;

pub const IP_HDR: usize = 20;
pub const DEFAULT_TTL: u8 = 64;

/// Prepends the IPv4 header in front of an L4 segment of `l4_len` bytes already in `m`.
/// With `offloads.tx_ipv4_cksum` the NIC fills the header checksum; the TCP layer has already
/// set (or left to the NIC) its own. False when there is no headroom or `m` is shared.
// Every argument is a header field or an offload decision; a struct would only move them.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn push_header(
    m: &mut Mbuf,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
    ttl: u8,
    offloads: &Offloads,
    l4_hdr_len: u8,
    tcp_cksum_offloaded: bool,
) -> bool {
    let total = m.len() + IP_HDR;
    let Some(h) = m.prepend(IP_HDR) else {
        return false;
    };
    // Fixed fields in one write: version 4, IHL 5, DSCP 0, flags DF, fragment offset 0.
    h[0] = 0x45;
    h[1] = 0;
    h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    h[4..6].copy_from_slice(&ident.to_be_bytes());
    h[6] = 0x40;
    h[7] = 0;
    h[8] = ttl;
    h[9] = Protocol::TCP;
    h[10] = 0;
    h[11] = 0;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    if !offloads.tx_ipv4_cksum {
        let c = checksum::fold(checksum::sum(h, 0));
        h[10..12].copy_from_slice(&c.to_be_bytes());
    }
    if offloads.tx_ipv4_cksum || tcp_cksum_offloaded {
        m.set_tx_offload(TxOffload {
            ip_cksum: offloads.tx_ipv4_cksum,
            tcp_cksum: tcp_cksum_offloaded,
            tso_segsz: 0,
            l2_len: crate::neigh::ETH_HDR as u8,
            l3_len: IP_HDR as u16,
            l4_len: l4_hdr_len,
        });
    }
    true
}

/// Why an IPv4 packet was dropped on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpDrop {
    Malformed,
    BadChecksum,
    NotForUs,
    Fragment,
    UnsupportedProtocol,
}

/// A validated inbound IPv4 packet: addresses and the L4 payload's range in the frame.
#[derive(Debug, Clone, Copy)]
pub struct IpInput {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub l4_start: usize,
    pub l4_end: usize,
}

/// Validates an IPv4 packet (`pkt` starts at the IP header). `hw_cksum_good`: the NIC already
/// verified the header checksum.
pub fn input(pkt: &[u8], our_ip: Ipv4Addr, hw_cksum_good: bool) -> Result<IpInput, IpDrop> {
    let p = Ipv4Packet::new_checked(pkt).map_err(|_| IpDrop::Malformed)?;
    if !hw_cksum_good && !p.verify_checksum() {
        return Err(IpDrop::BadChecksum);
    }
    if p.dst() != our_ip {
        return Err(IpDrop::NotForUs);
    }
    if p.is_fragment() {
        // linerate never sends anything that would come back fragmented (DF, MSS-sized).
        return Err(IpDrop::Fragment);
    }
    if p.protocol() != Protocol::TCP {
        return Err(IpDrop::UnsupportedProtocol);
    }
    let hl = p.header_len();
    Ok(IpInput {
        src: p.src(),
        dst: p.dst(),
        protocol: p.protocol(),
        l4_start: hl,
        l4_end: p.total_len() as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_rejects_what_it_must() {
        let us = Ipv4Addr::new(198, 18, 0, 1);
        let mut b = [0u8; 40];
        {
            let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
            p.set_version(4);
            p.set_header_len(20);
            p.set_total_len(40);
            p.set_ttl(64);
            p.set_protocol(Protocol::TCP);
            p.set_src(Ipv4Addr::new(198, 19, 0, 2));
            p.set_dst(us);
            p.fill_checksum();
        }
        let ok = input(&b, us, false).unwrap();
        assert_eq!(
            (ok.l4_start, ok.l4_end, ok.src),
            (20, 40, Ipv4Addr::new(198, 19, 0, 2))
        );
        assert_eq!(
            input(&b, Ipv4Addr::new(198, 18, 0, 2), false).unwrap_err(),
            IpDrop::NotForUs
        );
        let mut bad = b;
        bad[8] = 1; // TTL changed, checksum not
        assert_eq!(input(&bad, us, false).unwrap_err(), IpDrop::BadChecksum);
        assert!(
            input(&bad, us, true).is_ok(),
            "NIC-verified checksum is trusted"
        );
        assert_eq!(input(&b[..19], us, false).unwrap_err(), IpDrop::Malformed);
        let mut frag = b;
        {
            let mut p = Ipv4Packet::new_unchecked(&mut frag[..]);
            p.set_more_frags(true);
            p.fill_checksum();
        }
        assert_eq!(input(&frag, us, false).unwrap_err(), IpDrop::Fragment);
        let mut udp = b;
        {
            let mut p = Ipv4Packet::new_unchecked(&mut udp[..]);
            p.set_protocol(Protocol::UDP);
            p.fill_checksum();
        }
        assert_eq!(
            input(&udp, us, false).unwrap_err(),
            IpDrop::UnsupportedProtocol
        );
    }
}
