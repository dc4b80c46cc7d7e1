//! ARP for Ethernet/IPv4 (RFC 826) only.

use std::net::Ipv4Addr;

use super::ethernet::{EtherType, MacAddr};
use super::{Result, WireError};

/// ARP operation codes (namespace of `u16` constants).
#[derive(Debug)]
pub enum ArpOp {}

impl ArpOp {
    /// Who has `target_ip`?
    pub const REQUEST: u16 = 1;
    /// `sender_ip` is at `sender_mac`.
    pub const REPLY: u16 = 2;
}

/// Hardware type for Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// A view of an Ethernet/IPv4 ARP packet. The buffer may be longer than
/// [`Self::LEN`] (Ethernet padding); the extra bytes are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpPacket<T> {
    buf: T,
}

#[inline]
fn mac_at(b: &[u8]) -> MacAddr {
    MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
}

#[inline]
fn ip_at(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Length of an Ethernet/IPv4 ARP packet.
    pub const LEN: usize = 28;

    /// Wrap a buffer without checking it. Accessors panic if it is shorter
    /// than [`Self::LEN`].
    #[inline]
    pub const fn new_unchecked(buf: T) -> Self {
        ArpPacket { buf }
    }

    /// Wrap a buffer, checking its length and that it is Ethernet/IPv4 ARP.
    pub fn new_checked(buf: T) -> Result<Self> {
        let p = ArpPacket { buf };
        if p.buf.as_ref().len() < Self::LEN {
            return Err(WireError::Truncated);
        }
        if p.hardware_type() != HTYPE_ETHERNET {
            return Err(WireError::Malformed("ARP hardware type is not Ethernet"));
        }
        if p.protocol_type() != EtherType::IPV4 {
            return Err(WireError::Malformed("ARP protocol type is not IPv4"));
        }
        if p.hlen() != 6 {
            return Err(WireError::Malformed("ARP hardware address length is not 6"));
        }
        if p.plen() != 4 {
            return Err(WireError::Malformed("ARP protocol address length is not 4"));
        }
        Ok(p)
    }

    /// Give back the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buf
    }

    /// The whole underlying buffer (including any trailing padding).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Hardware type (1 for Ethernet).
    #[inline]
    pub fn hardware_type(&self) -> u16 {
        let b = &self.buf.as_ref()[field::HTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Protocol type (0x0800 for IPv4).
    #[inline]
    pub fn protocol_type(&self) -> u16 {
        let b = &self.buf.as_ref()[field::PTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Hardware address length.
    #[inline]
    pub fn hlen(&self) -> u8 {
        self.buf.as_ref()[field::HLEN]
    }

    /// Protocol address length.
    #[inline]
    pub fn plen(&self) -> u8 {
        self.buf.as_ref()[field::PLEN]
    }

    /// Operation (see [`ArpOp`]).
    #[inline]
    pub fn operation(&self) -> u16 {
        let b = &self.buf.as_ref()[field::OPER];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Sender hardware address.
    #[inline]
    pub fn sender_mac(&self) -> MacAddr {
        mac_at(&self.buf.as_ref()[field::SHA])
    }

    /// Sender protocol address.
    #[inline]
    pub fn sender_ip(&self) -> Ipv4Addr {
        ip_at(&self.buf.as_ref()[field::SPA])
    }

    /// Target hardware address.
    #[inline]
    pub fn target_mac(&self) -> MacAddr {
        mac_at(&self.buf.as_ref()[field::THA])
    }

    /// Target protocol address.
    #[inline]
    pub fn target_ip(&self) -> Ipv4Addr {
        ip_at(&self.buf.as_ref()[field::TPA])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Set the hardware type.
    #[inline]
    pub fn set_hardware_type(&mut self, v: u16) {
        self.buf.as_mut()[field::HTYPE].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the protocol type.
    #[inline]
    pub fn set_protocol_type(&mut self, v: u16) {
        self.buf.as_mut()[field::PTYPE].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the hardware address length.
    #[inline]
    pub fn set_hlen(&mut self, v: u8) {
        self.buf.as_mut()[field::HLEN] = v;
    }

    /// Set the protocol address length.
    #[inline]
    pub fn set_plen(&mut self, v: u8) {
        self.buf.as_mut()[field::PLEN] = v;
    }

    /// Set the operation.
    #[inline]
    pub fn set_operation(&mut self, v: u16) {
        self.buf.as_mut()[field::OPER].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the sender hardware address.
    #[inline]
    pub fn set_sender_mac(&mut self, mac: MacAddr) {
        self.buf.as_mut()[field::SHA].copy_from_slice(&mac.0);
    }

    /// Set the sender protocol address.
    #[inline]
    pub fn set_sender_ip(&mut self, ip: Ipv4Addr) {
        self.buf.as_mut()[field::SPA].copy_from_slice(&ip.octets());
    }

    /// Set the target hardware address.
    #[inline]
    pub fn set_target_mac(&mut self, mac: MacAddr) {
        self.buf.as_mut()[field::THA].copy_from_slice(&mac.0);
    }

    /// Set the target protocol address.
    #[inline]
    pub fn set_target_ip(&mut self, ip: Ipv4Addr) {
        self.buf.as_mut()[field::TPA].copy_from_slice(&ip.octets());
    }

    /// Write the fixed Ethernet/IPv4 fields (htype, ptype, hlen, plen).
    #[inline]
    pub fn set_ethernet_ipv4(&mut self) {
        self.set_hardware_type(HTYPE_ETHERNET);
        self.set_protocol_type(EtherType::IPV4);
        self.set_hlen(6);
        self.set_plen(4);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for ArpPacket<T> {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.buf.as_ref()
    }
}

fn emit(
    buf: &mut [u8],
    op: u16,
    sender_mac: MacAddr,
    sender_ip: Ipv4Addr,
    target_mac: MacAddr,
    target_ip: Ipv4Addr,
) -> Result<usize> {
    let body = buf
        .get_mut(..ArpPacket::<&[u8]>::LEN)
        .ok_or(WireError::Truncated)?;
    let mut p = ArpPacket::new_unchecked(body);
    p.set_ethernet_ipv4();
    p.set_operation(op);
    p.set_sender_mac(sender_mac);
    p.set_sender_ip(sender_ip);
    p.set_target_mac(target_mac);
    p.set_target_ip(target_ip);
    Ok(ArpPacket::<&[u8]>::LEN)
}

/// Length of an Ethernet frame carrying an ARP packet (without padding).
pub const FRAME_LEN: usize =
    crate::wire::ethernet::EthernetFrame::<&[u8]>::HEADER_LEN + ArpPacket::<&[u8]>::LEN;

/// Write a whole ARP frame — Ethernet header (to `eth_dst`, from `src_mac`, EtherType ARP)
/// and the 28-byte body — at the start of `buf`. A request ignores `target_mac` (zero on the
/// wire). Returns [`FRAME_LEN`].
pub fn emit_frame(
    buf: &mut [u8],
    op: u16,
    eth_dst: MacAddr,
    src_mac: MacAddr,
    src_ip: Ipv4Addr,
    target_mac: MacAddr,
    target_ip: Ipv4Addr,
) -> Result<usize> {
    use crate::wire::ethernet::EthernetFrame;
    if buf.len() < FRAME_LEN {
        return Err(WireError::Truncated);
    }
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    eth.set_dst(eth_dst);
    eth.set_src(src_mac);
    eth.set_ethertype(EtherType::ARP);
    let target_mac = if op == ArpOp::REQUEST {
        MacAddr::ZERO
    } else {
        target_mac
    };
    emit(
        &mut buf[EthernetFrame::<&[u8]>::HEADER_LEN..],
        op,
        src_mac,
        src_ip,
        target_mac,
        target_ip,
    )?;
    Ok(FRAME_LEN)
}

/// Write a 28-byte ARP request body ("who has `target_ip`? tell `src_ip`")
/// at the start of `buf`; the target hardware address is zero. Returns the
/// number of bytes written.
pub fn emit_request(
    buf: &mut [u8],
    src_mac: MacAddr,
    src_ip: Ipv4Addr,
    target_ip: Ipv4Addr,
) -> Result<usize> {
    emit(
        buf,
        ArpOp::REQUEST,
        src_mac,
        src_ip,
        MacAddr::ZERO,
        target_ip,
    )
}

/// Write a 28-byte ARP reply body ("`src_ip` is at `src_mac`", sent to
/// `dst_mac`/`dst_ip`, normally the requester's sender fields) at the start
/// of `buf`. Returns the number of bytes written.
pub fn emit_reply(
    buf: &mut [u8],
    src_mac: MacAddr,
    src_ip: Ipv4Addr,
    dst_mac: MacAddr,
    dst_ip: Ipv4Addr,
) -> Result<usize> {
    emit(buf, ArpOp::REPLY, src_mac, src_ip, dst_mac, dst_ip)
}

#[cfg(test)]
mod frame_tests {
    use super::*;

    #[test]
    fn whole_request_frame() {
        let mut b = [0xffu8; 64];
        let us = MacAddr([2, 0, 0xc6, 0x12, 0, 1]);
        let n = emit_frame(
            &mut b,
            ArpOp::REQUEST,
            MacAddr::BROADCAST,
            us,
            Ipv4Addr::new(198, 18, 0, 1),
            us,
            Ipv4Addr::new(198, 18, 0, 254),
        )
        .unwrap();
        assert_eq!(n, 42);
        assert_eq!(
            &b[..14],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0xc6, 0x12, 0, 1, 0x08, 0x06]
        );
        let p = ArpPacket::new_checked(&b[14..42]).unwrap();
        assert_eq!(p.operation(), ArpOp::REQUEST);
        assert_eq!(
            p.target_mac(),
            MacAddr::ZERO,
            "a request carries no target MAC"
        );
        assert_eq!(p.target_ip(), Ipv4Addr::new(198, 18, 0, 254));
        assert_eq!(
            emit_frame(
                &mut b[..41],
                ArpOp::REPLY,
                us,
                us,
                Ipv4Addr::LOCALHOST,
                us,
                Ipv4Addr::LOCALHOST
            ),
            Err(WireError::Truncated)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet::EthernetFrame;
    use crate::wire::testutil::{hex, XorShift};

    // Ethernet frame: ARP request "who has 198.18.0.2? tell 198.18.0.1",
    // padded to the 60-byte minimum.
    const REQUEST_FRAME: &str = "ffffffffffff 020000000001 0806
        0001 0800 06 04 0001 020000000001 c6120001 000000000000 c6120002
        000000000000000000000000000000000000";
    // Ethernet frame: ARP reply "198.18.0.2 is at 02:00:00:00:00:02".
    const REPLY_FRAME: &str = "020000000001 020000000002 0806
        0001 0800 06 04 0002 020000000002 c6120002 020000000001 c6120001";

    const MAC1: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const MAC2: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
    const IP1: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const IP2: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    #[test]
    fn parse_request() {
        let frame = hex(REQUEST_FRAME);
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!(eth.ethertype(), EtherType::ARP);
        let arp = ArpPacket::new_checked(eth.payload()).unwrap();
        assert_eq!(arp.hardware_type(), 1);
        assert_eq!(arp.protocol_type(), 0x0800);
        assert_eq!(arp.hlen(), 6);
        assert_eq!(arp.plen(), 4);
        assert_eq!(arp.operation(), ArpOp::REQUEST);
        assert_eq!(arp.sender_mac(), MAC1);
        assert_eq!(arp.sender_ip(), IP1);
        assert_eq!(arp.target_mac(), MacAddr::ZERO);
        assert_eq!(arp.target_ip(), IP2);
        assert_eq!(arp.as_bytes().len(), 46);
    }

    #[test]
    fn parse_reply() {
        let frame = hex(REPLY_FRAME);
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        let arp = ArpPacket::new_checked(eth.payload()).unwrap();
        assert_eq!(arp.operation(), ArpOp::REPLY);
        assert_eq!(arp.sender_mac(), MAC2);
        assert_eq!(arp.sender_ip(), IP2);
        assert_eq!(arp.target_mac(), MAC1);
        assert_eq!(arp.target_ip(), IP1);
    }

    #[test]
    fn emit_matches_real_frames() {
        let expected = hex(REQUEST_FRAME);
        let mut buf = [0u8; 60];
        let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
        eth.set_dst(MacAddr::BROADCAST);
        eth.set_src(MAC1);
        eth.set_ethertype(EtherType::ARP);
        assert_eq!(emit_request(eth.payload_mut(), MAC1, IP1, IP2), Ok(28));
        assert_eq!(&buf[..], &expected[..]);

        let expected = hex(REPLY_FRAME);
        let mut buf = [0u8; 42];
        let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
        eth.set_dst(MAC1);
        eth.set_src(MAC2);
        eth.set_ethertype(EtherType::ARP);
        assert_eq!(emit_reply(eth.payload_mut(), MAC2, IP2, MAC1, IP1), Ok(28));
        assert_eq!(&buf[..], &expected[..]);
    }

    #[test]
    fn setters_round_trip() {
        let mut buf = [0xa5u8; 28];
        let mut p = ArpPacket::new_unchecked(&mut buf[..]);
        p.set_hardware_type(1);
        p.set_protocol_type(0x0800);
        p.set_hlen(6);
        p.set_plen(4);
        p.set_operation(ArpOp::REPLY);
        p.set_sender_mac(MAC2);
        p.set_sender_ip(IP2);
        p.set_target_mac(MAC1);
        p.set_target_ip(IP1);
        let p = ArpPacket::new_checked(p.into_inner()).unwrap();
        assert_eq!(p.operation(), ArpOp::REPLY);
        assert_eq!(p.sender_mac(), MAC2);
        assert_eq!(p.sender_ip(), IP2);
        assert_eq!(p.target_mac(), MAC1);
        assert_eq!(p.target_ip(), IP1);
        let mut again = [0u8; 28];
        emit_reply(&mut again, MAC2, IP2, MAC1, IP1).unwrap();
        assert_eq!(p.as_bytes(), &again[..]);
    }

    #[test]
    fn emit_too_short() {
        for n in 0..28 {
            let mut buf = vec![0u8; n];
            assert_eq!(
                emit_request(&mut buf, MAC1, IP1, IP2),
                Err(WireError::Truncated)
            );
            assert_eq!(
                emit_reply(&mut buf, MAC1, IP1, MAC2, IP2),
                Err(WireError::Truncated)
            );
            assert!(buf.iter().all(|&b| b == 0), "nothing written");
        }
    }

    #[test]
    fn truncated_at_every_length() {
        let frame = hex(REPLY_FRAME);
        let body = &frame[14..];
        assert_eq!(body.len(), 28);
        for n in 0..body.len() {
            assert_eq!(
                ArpPacket::new_checked(&body[..n]),
                Err(WireError::Truncated),
                "len {n}"
            );
        }
        assert!(ArpPacket::new_checked(body).is_ok());
    }

    #[test]
    fn malformed() {
        let frame = hex(REPLY_FRAME);
        let good = frame[14..].to_vec();
        for (offset, value) in [
            (1usize, 6u8),
            (0, 1),
            (2, 0x86),
            (3, 0x06),
            (4, 16),
            (4, 0),
            (5, 6),
            (5, 16),
        ] {
            let mut b = good.clone();
            b[offset] = value;
            assert!(
                matches!(ArpPacket::new_checked(&b[..]), Err(WireError::Malformed(_))),
                "byte {offset} = {value:#x}"
            );
        }
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift(0xdead_beef_cafe_f00d);
        let good = hex(REPLY_FRAME)[14..].to_vec();
        for i in 0..5000 {
            let b = if i % 2 == 0 {
                rng.buf(40)
            } else {
                // Mutate a valid packet so that the checks are exercised.
                let mut b = good.clone();
                let k = rng.below(b.len());
                b[k] ^= 1 << rng.below(8);
                b.truncate(rng.below(b.len() + 1));
                b
            };
            if let Ok(p) = ArpPacket::new_checked(&b[..]) {
                let _ = (
                    p.hardware_type(),
                    p.protocol_type(),
                    p.hlen(),
                    p.plen(),
                    p.operation(),
                    p.sender_mac(),
                    p.sender_ip(),
                    p.target_mac(),
                    p.target_ip(),
                );
                assert!(b.len() >= 28);
            }
        }
    }
}
