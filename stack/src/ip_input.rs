//! `ip_rcv`: validation of inbound IPv4 packets, and the per-port drop counters of the input
//! path (`RxDrops`).
use crate::addr::LocalAddrs;
use linerate_proto::wire::ipv4::{Ipv4Packet, Protocol};
use std::net::Ipv4Addr;

/// Frames dropped on input, by reason: the per-port drop counters. Nothing on the wire makes
/// the stack panic; everything it cannot use is counted here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxDrops {
    /// Truncated or malformed Ethernet, IPv4 or TCP (including bad TCP options).
    pub malformed: u64,
    /// IPv4 header checksum wrong.
    pub bad_ip_checksum: u64,
    /// TCP checksum wrong.
    pub bad_tcp_checksum: u64,
    /// Unicast to another MAC, or IPv4 to another address.
    pub not_for_us: u64,
    /// IPv4 from a source no host may have (the kernel's martian sources): broadcast,
    /// multicast, 0/8, loopback, or one of our own addresses.
    pub martian_src: u64,
    /// IPv4 fragments (we send with DF and never reassemble).
    pub fragments: u64,
    /// IPv4 protocols other than TCP, and EtherTypes other than IPv4 and ARP.
    pub unsupported: u64,
    /// Segments outside the receive window (RFC 9293 §3.10.7.4).
    pub out_of_window: u64,
    /// RSTs that failed the sequence check (RFC 5961 §3).
    pub bad_rst: u64,
    /// SYNs on synchronized connections, and unexpected segments in SYN-SENT.
    pub bad_syn: u64,
    /// ACKs for data never sent.
    pub bad_ack: u64,
    /// Segments without ACK on a synchronized connection.
    pub no_ack: u64,
    /// Old timestamps (PAWS, RFC 7323 §5).
    pub paws: u64,
    /// Segments for no connection (answered with RST).
    pub no_conn: u64,
    /// RSTs we sent in reply to such segments.
    pub rst_sent: u64,
}

impl RxDrops {
    /// Adds `o` field by field (totals over several stacks).
    pub fn add(&mut self, o: &RxDrops) {
        // Destructured, so that a new field cannot be left out of the sum.
        let RxDrops {
            malformed,
            bad_ip_checksum,
            bad_tcp_checksum,
            not_for_us,
            martian_src,
            fragments,
            unsupported,
            out_of_window,
            bad_rst,
            bad_syn,
            bad_ack,
            no_ack,
            paws,
            no_conn,
            rst_sent,
        } = *o;
        self.malformed += malformed;
        self.bad_ip_checksum += bad_ip_checksum;
        self.bad_tcp_checksum += bad_tcp_checksum;
        self.not_for_us += not_for_us;
        self.martian_src += martian_src;
        self.fragments += fragments;
        self.unsupported += unsupported;
        self.out_of_window += out_of_window;
        self.bad_rst += bad_rst;
        self.bad_syn += bad_syn;
        self.bad_ack += bad_ack;
        self.no_ack += no_ack;
        self.paws += paws;
        self.no_conn += no_conn;
        self.rst_sent += rst_sent;
    }
    /// Every dropped frame (excludes `rst_sent`, which counts replies).
    pub fn total(&self) -> u64 {
        self.malformed
            + self.bad_ip_checksum
            + self.bad_tcp_checksum
            + self.not_for_us
            + self.martian_src
            + self.fragments
            + self.unsupported
            + self.out_of_window
            + self.bad_rst
            + self.bad_syn
            + self.bad_ack
            + self.no_ack
            + self.paws
            + self.no_conn
    }
}

/// Why an IPv4 packet was dropped on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpDrop {
    Malformed,
    BadChecksum,
    NotForUs,
    MartianSrc,
    Fragment,
    UnsupportedProtocol,
}

impl RxDrops {
    /// Counts an IPv4 input drop.
    pub(crate) fn count_ip(&mut self, d: IpDrop) {
        match d {
            IpDrop::Malformed => self.malformed += 1,
            IpDrop::BadChecksum => self.bad_ip_checksum += 1,
            IpDrop::NotForUs => self.not_for_us += 1,
            IpDrop::MartianSrc => self.martian_src += 1,
            IpDrop::Fragment => self.fragments += 1,
            IpDrop::UnsupportedProtocol => self.unsupported += 1,
        }
    }
}

/// A validated inbound IPv4 packet: addresses and the L4 payload's range in the frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpInput {
    pub(crate) src: Ipv4Addr,
    pub(crate) dst: Ipv4Addr,
    pub(crate) l4_start: usize,
    pub(crate) l4_end: usize,
}

/// `ip_rcv` (and `ip_route_input`'s source check): validates an IPv4 packet (`pkt` starts at
/// the IP header). `hw_cksum_good`: the NIC already verified the header checksum.
#[inline]
pub(crate) fn input(
    pkt: &[u8],
    local: &LocalAddrs,
    hw_cksum_good: bool,
) -> Result<IpInput, IpDrop> {
    let p = Ipv4Packet::new_checked(pkt).map_err(|_| IpDrop::Malformed)?;
    if !hw_cksum_good && !p.verify_checksum() {
        return Err(IpDrop::BadChecksum);
    }
    if !local.contains(p.dst()) {
        return Err(IpDrop::NotForUs);
    }
    if local.is_martian_src(p.src()) {
        // Nothing may answer it: an RST would go to a broadcast or multicast group, or to
        // ourselves, and a forged one must not reach a connection.
        return Err(IpDrop::MartianSrc);
    }
    if p.is_fragment() {
        // linerate never sends anything that would come back fragmented (DF, MSS-sized).
        return Err(IpDrop::Fragment);
    }
    if p.protocol() != Protocol::TCP {
        return Err(IpDrop::UnsupportedProtocol);
    }
    Ok(IpInput {
        src: p.src(),
        dst: p.dst(),
        l4_start: p.header_len(),
        l4_end: p.total_len() as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use linerate_proto::wire::ipv4::Ipv4Cidr;

    fn at(addr: Ipv4Addr, range: Option<(Ipv4Addr, Ipv4Addr)>) -> LocalAddrs {
        let prefix_len = 24;
        LocalAddrs::new(Ipv4Cidr { addr, prefix_len }, range)
    }

    #[test]
    fn input_rejects_what_it_must() {
        let us = Ipv4Addr::new(198, 18, 0, 1);
        let ours = at(us, None);
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
        let ok = input(&b, &ours, false).unwrap();
        assert_eq!(
            (ok.l4_start, ok.l4_end, ok.src),
            (20, 40, Ipv4Addr::new(198, 19, 0, 2))
        );
        assert_eq!(
            input(&b, &at(Ipv4Addr::new(198, 18, 0, 2), None), false).unwrap_err(),
            IpDrop::NotForUs
        );
        // A source range makes its addresses ours too, and only those.
        let range = |a, b| Some((Ipv4Addr::new(198, 18, 0, a), Ipv4Addr::new(198, 18, 0, b)));
        let other = Ipv4Addr::new(198, 18, 0, 9);
        assert!(input(&b, &at(other, range(1, 4)), false).is_ok());
        assert_eq!(
            input(&b, &at(other, range(2, 4)), false).unwrap_err(),
            IpDrop::NotForUs
        );
        // A martian source: checked after the destination, before anything else.
        for src in [
            Ipv4Addr::new(198, 18, 0, 255),
            us,
            Ipv4Addr::new(224, 0, 0, 1),
        ] {
            let mut m = b;
            {
                let mut p = Ipv4Packet::new_unchecked(&mut m[..]);
                p.set_src(src);
                p.set_more_frags(true);
                p.fill_checksum();
            }
            assert_eq!(input(&m, &ours, false).unwrap_err(), IpDrop::MartianSrc);
        }
        let mut bad = b;
        bad[8] = 1; // TTL changed, checksum not
        assert_eq!(input(&bad, &ours, false).unwrap_err(), IpDrop::BadChecksum);
        assert!(
            input(&bad, &ours, true).is_ok(),
            "NIC-verified checksum is trusted"
        );
        assert_eq!(
            input(&b[..19], &ours, false).unwrap_err(),
            IpDrop::Malformed
        );
        let mut frag = b;
        {
            let mut p = Ipv4Packet::new_unchecked(&mut frag[..]);
            p.set_more_frags(true);
            p.fill_checksum();
        }
        assert_eq!(input(&frag, &ours, false).unwrap_err(), IpDrop::Fragment);
        let mut udp = b;
        {
            let mut p = Ipv4Packet::new_unchecked(&mut udp[..]);
            p.set_protocol(Protocol::UDP);
            p.fill_checksum();
        }
        assert_eq!(
            input(&udp, &ours, false).unwrap_err(),
            IpDrop::UnsupportedProtocol
        );
    }
}
