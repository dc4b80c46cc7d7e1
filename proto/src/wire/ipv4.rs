//! IPv4 packets (RFC 791) and CIDR prefixes.

use core::fmt;
use core::str::FromStr;
use std::net::Ipv4Addr;

use super::checksum;
use super::{Result, WireError};

/// IP protocol numbers (namespace of `u8` constants).
#[derive(Debug)]
pub enum Protocol {}

impl Protocol {
    /// Internet Control Message Protocol.
    pub const ICMP: u8 = 1;
    /// Transmission Control Protocol.
    pub const TCP: u8 = 6;
    /// User Datagram Protocol.
    pub const UDP: u8 = 17;
}

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet.
///
/// The buffer may be longer than the packet (Ethernet padding): the
/// packet's extent is given by its total-length field, which
/// [`Ipv4Packet::new_checked`] verifies fits in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Length of a header without options.
    pub const HEADER_LEN: usize = 20;

    /// Wrap a buffer without checking it. Accessors panic if the buffer is
    /// shorter than the header or the header/total length fields claim.
    #[inline]
    pub const fn new_unchecked(buf: T) -> Self {
        Ipv4Packet { buf }
    }

    /// Wrap a buffer, validating version, header length and total length.
    /// The checksum is not verified (see [`Self::verify_checksum`]).
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        let p = Ipv4Packet { buf };
        let len = p.buf.as_ref().len();
        if len < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if p.version() != 4 {
            return Err(WireError::Malformed("IP version is not 4"));
        }
        let header_len = p.header_len();
        if header_len < Self::HEADER_LEN {
            return Err(WireError::Malformed("IPv4 IHL < 5"));
        }
        if header_len > len {
            return Err(WireError::Truncated);
        }
        let total_len = usize::from(p.total_len());
        if total_len < header_len {
            return Err(WireError::Malformed("IPv4 total length < header length"));
        }
        if total_len > len {
            return Err(WireError::Truncated);
        }
        Ok(p)
    }

    /// Give back the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buf
    }

    /// The whole underlying buffer (possibly longer than `total_len`).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// IP version (4).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buf.as_ref()[field::VER_IHL] >> 4
    }

    /// Internet header length in 32-bit words.
    #[inline]
    pub fn ihl(&self) -> u8 {
        self.buf.as_ref()[field::VER_IHL] & 0x0f
    }

    /// Header length in bytes (`ihl * 4`).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    /// The DSCP/ECN byte (formerly type of service).
    #[inline]
    pub fn dscp_ecn(&self) -> u8 {
        self.buf.as_ref()[field::DSCP_ECN]
    }

    /// Differentiated services code point (upper 6 bits of `dscp_ecn`).
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.dscp_ecn() >> 2
    }

    /// ECN codepoint (lower 2 bits of `dscp_ecn`).
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.dscp_ecn() & 0x03
    }

    /// Total length of the packet (header + payload) in bytes.
    #[inline]
    pub fn total_len(&self) -> u16 {
        let b = &self.buf.as_ref()[field::TOTAL_LEN];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        let b = &self.buf.as_ref()[field::IDENT];
        u16::from_be_bytes([b[0], b[1]])
    }

    #[inline]
    fn flags_frag(&self) -> u16 {
        let b = &self.buf.as_ref()[field::FLAGS_FRAG];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Don't-fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.flags_frag() & FLAG_DF != 0
    }

    /// More-fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.flags_frag() & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field value times 8).
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (self.flags_frag() & FRAG_MASK) << 3
    }

    /// `true` if this is a fragment (MF set or non-zero offset).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.flags_frag() & (FLAG_MF | FRAG_MASK) != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buf.as_ref()[field::TTL]
    }

    /// Protocol of the payload (see [`Protocol`]).
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buf.as_ref()[field::PROTOCOL]
    }

    /// Header checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        let b = &self.buf.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Source address.
    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        let b = &self.buf.as_ref()[field::SRC];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Destination address.
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        let b = &self.buf.as_ref()[field::DST];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Header options (between the fixed header and `header_len`).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buf.as_ref()[Self::HEADER_LEN..self.header_len()]
    }

    /// Payload: from `header_len` to `total_len` (excludes any padding
    /// after the packet in the buffer).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..usize::from(self.total_len())]
    }

    /// `true` if the header checksum is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(&self.buf.as_ref()[..self.header_len()]) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Set the version (normally 4).
    #[inline]
    pub fn set_version(&mut self, v: u8) {
        let b = &mut self.buf.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (v << 4);
    }

    /// Set the header length in bytes (a multiple of 4, 20..=60).
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        debug_assert!(
            len & 3 == 0 && (20..=60).contains(&len),
            "bad IPv4 header length {len}"
        );
        let b = &mut self.buf.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) as u8 & 0x0f);
    }

    /// Set the DSCP/ECN byte.
    #[inline]
    pub fn set_dscp_ecn(&mut self, v: u8) {
        self.buf.as_mut()[field::DSCP_ECN] = v;
    }

    /// Set the total length.
    #[inline]
    pub fn set_total_len(&mut self, v: u16) {
        self.buf.as_mut()[field::TOTAL_LEN].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the identification.
    #[inline]
    pub fn set_ident(&mut self, v: u16) {
        self.buf.as_mut()[field::IDENT].copy_from_slice(&v.to_be_bytes());
    }

    #[inline]
    fn set_flags_frag(&mut self, v: u16) {
        self.buf.as_mut()[field::FLAGS_FRAG].copy_from_slice(&v.to_be_bytes());
    }

    /// Set or clear the don't-fragment flag.
    #[inline]
    pub fn set_dont_frag(&mut self, on: bool) {
        let v = self.flags_frag();
        self.set_flags_frag(if on { v | FLAG_DF } else { v & !FLAG_DF });
    }

    /// Set or clear the more-fragments flag.
    #[inline]
    pub fn set_more_frags(&mut self, on: bool) {
        let v = self.flags_frag();
        self.set_flags_frag(if on { v | FLAG_MF } else { v & !FLAG_MF });
    }

    /// Set the fragment offset in bytes (must be a multiple of 8). DF and MF
    /// are kept; the reserved flag bit is cleared.
    #[inline]
    pub fn set_frag_offset(&mut self, bytes: u16) {
        debug_assert!(
            bytes & 7 == 0,
            "fragment offset {bytes} not a multiple of 8"
        );
        let v = self.flags_frag();
        self.set_flags_frag((v & (FLAG_DF | FLAG_MF)) | ((bytes >> 3) & FRAG_MASK));
    }

    /// Set the time to live.
    #[inline]
    pub fn set_ttl(&mut self, v: u8) {
        self.buf.as_mut()[field::TTL] = v;
    }

    /// Set the protocol.
    #[inline]
    pub fn set_protocol(&mut self, v: u8) {
        self.buf.as_mut()[field::PROTOCOL] = v;
    }

    /// Store a checksum value.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.buf.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the source address.
    #[inline]
    pub fn set_src(&mut self, a: Ipv4Addr) {
        self.buf.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Set the destination address.
    #[inline]
    pub fn set_dst(&mut self, a: Ipv4Addr) {
        self.buf.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// Mutable header options.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buf.as_mut()[Self::HEADER_LEN..hl]
    }

    /// Mutable payload (from `header_len` to `total_len`).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (hl, tl) = (self.header_len(), usize::from(self.total_len()));
        &mut self.buf.as_mut()[hl..tl]
    }

    /// Compute and store the header checksum.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(&self.buf.as_ref()[..self.header_len()]);
        self.set_checksum(c);
    }

    /// Writes a whole option-less header of a TCP packet from `src` to `dst` carrying
    /// `payload_len` bytes: DF, TTL 64, ident 0, checksum filled (what a test peer sends).
    pub fn emit_tcp(&mut self, src: Ipv4Addr, dst: Ipv4Addr, payload_len: usize) {
        self.set_version(4);
        self.set_header_len(20);
        self.set_dscp_ecn(0);
        self.set_total_len((20 + payload_len) as u16);
        self.set_ident(0);
        self.set_dont_frag(true);
        self.set_more_frags(false);
        self.set_frag_offset(0);
        self.set_ttl(64);
        self.set_protocol(Protocol::TCP);
        self.set_src(src);
        self.set_dst(dst);
        self.fill_checksum();
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Ipv4Packet<T> {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.buf.as_ref()
    }
}

/// An IPv4 address with a prefix length, e.g. `198.18.0.1/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    /// The address (host bits are kept).
    pub addr: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    /// `None` if `prefix_len > 32`.
    #[inline]
    pub const fn new(addr: Ipv4Addr, prefix_len: u8) -> Option<Ipv4Cidr> {
        if prefix_len > 32 {
            None
        } else {
            Some(Ipv4Cidr { addr, prefix_len })
        }
    }

    #[inline]
    fn mask_bits(&self) -> u32 {
        match self.prefix_len {
            0 => 0,
            p if p >= 32 => u32::MAX,
            p => u32::MAX << (32 - u32::from(p)),
        }
    }

    /// The netmask, e.g. `255.255.255.0` for `/24`.
    #[inline]
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask_bits())
    }

    /// The network address (host bits cleared).
    #[inline]
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask_bits())
    }

    /// The directed broadcast address (host bits set).
    #[inline]
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask_bits())
    }

    /// `true` if `ip` is in this prefix.
    #[inline]
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let m = self.mask_bits();
        u32::from(ip) & m == u32::from(self.addr) & m
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// Error parsing an [`Ipv4Cidr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseCidrError(&'static str);

impl ParseCidrError {
    /// What was wrong with the input.
    pub fn message(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for ParseCidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid IPv4 CIDR: {}", self.0)
    }
}

impl std::error::Error for ParseCidrError {}

impl FromStr for Ipv4Cidr {
    type Err = ParseCidrError;

    /// Parse `a.b.c.d/len` with `len` in 0..=32.
    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        let (addr, len) = s
            .split_once('/')
            .ok_or(ParseCidrError("missing '/prefix_len'"))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| ParseCidrError("bad address"))?;
        if len.is_empty() || len.len() > 2 || !len.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ParseCidrError("bad prefix length"));
        }
        let prefix_len: u8 = len
            .parse()
            .map_err(|_| ParseCidrError("bad prefix length"))?;
        Ipv4Cidr::new(addr, prefix_len).ok_or(ParseCidrError("prefix length > 32"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_tcp_bytes() {
        let mut b = [0xeeu8; 20];
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.emit_tcp(
            Ipv4Addr::new(198, 18, 0, 2),
            Ipv4Addr::new(198, 18, 1, 7),
            32,
        );
        assert_eq!(
            b[..12],
            [0x45, 0, 0, 52, 0, 0, 0x40, 0, 64, 6, b[10], b[11]],
            "version/IHL, length 52, DF, TTL 64, TCP"
        );
        assert_eq!(b[12..], [198, 18, 0, 2, 198, 18, 1, 7]);
        assert!(Ipv4Packet::new_unchecked(&b[..]).verify_checksum());
    }
    use crate::wire::testutil::{hex, XorShift};

    // IPv4 part of a Linux-style SYN 198.18.0.1:43210 -> 198.18.0.2:5201
    // (DF, TTL 64, ident 0x3c1d), header checksum 0x7277.
    const SYN_PACKET: &str = "4500003c3c1d400040067277c6120001c6120002
        a8ca14511a2b3c4d00000000a002faf037d80000020405b40402080a5b4f1a2c0000000001030307";

    const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    #[test]
    fn parse_real_packet() {
        let bytes = hex(SYN_PACKET);
        let p = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.ihl(), 5);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.dscp_ecn(), 0);
        assert_eq!((p.dscp(), p.ecn()), (0, 0));
        assert_eq!(p.total_len(), 60);
        assert_eq!(p.ident(), 0x3c1d);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert!(!p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), Protocol::TCP);
        assert_eq!(p.checksum(), 0x7277);
        assert_eq!(p.src(), SRC);
        assert_eq!(p.dst(), DST);
        assert!(p.options().is_empty());
        assert_eq!(p.payload(), &bytes[20..]);
        assert!(p.verify_checksum());
    }

    #[test]
    fn well_known_udp_header() {
        // Header-only example: total length 0x73 exceeds the buffer.
        let h = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
        assert_eq!(Ipv4Packet::new_checked(&h[..]), Err(WireError::Truncated));
        let p = Ipv4Packet::new_unchecked(&h[..]);
        assert!(p.verify_checksum());
        assert_eq!(p.protocol(), Protocol::UDP);
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        // A 40-byte IPv4/TCP pure ACK padded by Ethernet to 46 bytes.
        let mut bytes = hex(SYN_PACKET);
        bytes.truncate(40);
        bytes[2..4].copy_from_slice(&40u16.to_be_bytes());
        bytes.extend_from_slice(&[0u8; 6]);
        let mut p = Ipv4Packet::new_checked(&mut bytes[..]).unwrap();
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert_eq!(p.payload().len(), 20);
        assert_eq!(p.payload_mut().len(), 20);
        assert_eq!(p.as_bytes().len(), 46);
    }

    #[test]
    fn emit_matches_real_packet() {
        let expected = hex(SYN_PACKET);
        let mut buf = [0xeeu8; 60];
        buf[20..].copy_from_slice(&expected[20..]);
        let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
        p.set_version(4);
        p.set_header_len(20);
        p.set_dscp_ecn(0);
        p.set_total_len(60);
        p.set_ident(0x3c1d);
        p.set_dont_frag(false);
        p.set_more_frags(false);
        p.set_frag_offset(0);
        p.set_dont_frag(true);
        p.set_ttl(64);
        p.set_protocol(Protocol::TCP);
        p.set_src(SRC);
        p.set_dst(DST);
        p.fill_checksum();
        assert_eq!(p.checksum(), 0x7277);
        assert_eq!(&buf[..], &expected[..]);
    }

    #[test]
    fn setters_round_trip() {
        let mut buf = [0u8; 64];
        let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
        p.set_version(4);
        p.set_header_len(24);
        p.set_dscp_ecn(0xb9);
        p.set_total_len(50);
        p.set_ident(0xbeef);
        p.set_dont_frag(false);
        p.set_more_frags(true);
        p.set_frag_offset(1480);
        p.set_ttl(3);
        p.set_protocol(Protocol::ICMP);
        p.set_src(DST);
        p.set_dst(SRC);
        p.options_mut().copy_from_slice(&[1, 1, 1, 0]);
        p.payload_mut().fill(0x77);
        p.fill_checksum();
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 24);
        assert_eq!((p.dscp(), p.ecn()), (0xb9 >> 2, 1));
        assert_eq!(p.total_len(), 50);
        assert_eq!(p.ident(), 0xbeef);
        assert!(!p.dont_frag());
        assert!(p.more_frags());
        assert_eq!(p.frag_offset(), 1480);
        assert!(p.is_fragment());
        assert_eq!(p.ttl(), 3);
        assert_eq!(p.protocol(), Protocol::ICMP);
        assert_eq!(p.src(), DST);
        assert_eq!(p.dst(), SRC);
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload(), &[0x77u8; 26][..]);
        assert!(p.verify_checksum());
        assert_eq!(buf[6..8], [0x20, 0xb9]);
    }

    #[test]
    fn bad_checksum_detected() {
        let mut bytes = hex(SYN_PACKET);
        bytes[8] = 63; // TTL changed without updating the checksum
        let p = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        assert!(!p.verify_checksum());
    }

    #[test]
    fn truncated_at_every_length() {
        let bytes = hex(SYN_PACKET);
        for n in 0..bytes.len() {
            assert_eq!(
                Ipv4Packet::new_checked(&bytes[..n]),
                Err(WireError::Truncated),
                "len {n}"
            );
        }
    }

    #[test]
    fn malformed() {
        let good = hex(SYN_PACKET);
        let check = |f: &dyn Fn(&mut Vec<u8>), want: WireError| {
            let mut b = good.clone();
            f(&mut b);
            assert_eq!(Ipv4Packet::new_checked(&b[..]), Err(want));
        };
        let bad = WireError::Malformed;
        // Bad version.
        check(&|b| b[0] = 0x65, bad("IP version is not 4"));
        check(&|b| b[0] = 0x05, bad("IP version is not 4"));
        // IHL < 5.
        for ihl in 0..5 {
            check(&move |b| b[0] = 0x40 | ihl, bad("IPv4 IHL < 5"));
        }
        // IHL larger than the buffer.
        check(&|b| b.truncate(30), WireError::Truncated);
        check(
            &|b| {
                b.truncate(59);
                b[0] = 0x4f;
            },
            WireError::Truncated,
        );
        // Total length too big / smaller than the header.
        check(
            &|b| b[2..4].copy_from_slice(&61u16.to_be_bytes()),
            WireError::Truncated,
        );
        check(
            &|b| b[2..4].copy_from_slice(&19u16.to_be_bytes()),
            bad("IPv4 total length < header length"),
        );
        check(
            &|b| {
                b[0] = 0x46;
                b[2..4].copy_from_slice(&20u16.to_be_bytes())
            },
            bad("IPv4 total length < header length"),
        );
        // Valid edge cases.
        let mut b = good.clone();
        b[2..4].copy_from_slice(&20u16.to_be_bytes());
        assert!(Ipv4Packet::new_checked(&b[..])
            .unwrap()
            .payload()
            .is_empty());
        let mut b = good.clone();
        b[0] = 0x4f;
        b[2..4].copy_from_slice(&60u16.to_be_bytes());
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.options().len(), 40);
        assert!(p.payload().is_empty());
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift(0x0123_4567_89ab_cdef);
        let good = hex(SYN_PACKET);
        for i in 0..5000 {
            let mut b = if i % 2 == 0 {
                rng.buf(80)
            } else {
                let mut b = good.clone();
                for _ in 0..1 + rng.below(3) {
                    let k = rng.below(8);
                    b[k] = rng.next_u64() as u8;
                }
                b.truncate(rng.below(b.len() + 1));
                b
            };
            if i % 3 == 0 && !b.is_empty() {
                b[0] = 0x40 | (b[0] & 0x0f);
            }
            if let Ok(p) = Ipv4Packet::new_checked(&b[..]) {
                let _ = (
                    p.version(),
                    p.ihl(),
                    p.dscp_ecn(),
                    p.ident(),
                    p.dont_frag(),
                    p.more_frags(),
                    p.frag_offset(),
                    p.is_fragment(),
                    p.ttl(),
                    p.protocol(),
                    p.checksum(),
                    p.src(),
                    p.dst(),
                    p.verify_checksum(),
                );
                assert_eq!(p.header_len(), 20 + p.options().len());
                assert_eq!(
                    p.header_len() + p.payload().len(),
                    usize::from(p.total_len())
                );
                assert!(usize::from(p.total_len()) <= b.len());
            }
        }
    }

    #[test]
    fn cidr() {
        let c: Ipv4Cidr = "198.18.0.1/24".parse().unwrap();
        assert_eq!(c.addr, SRC);
        assert_eq!(c.prefix_len, 24);
        assert_eq!(c.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(c.network(), Ipv4Addr::new(198, 18, 0, 0));
        assert_eq!(c.broadcast(), Ipv4Addr::new(198, 18, 0, 255));
        assert!(c.contains(DST));
        assert!(c.contains(Ipv4Addr::new(198, 18, 0, 255)));
        assert!(!c.contains(Ipv4Addr::new(198, 18, 1, 2)));
        assert_eq!(c.to_string(), "198.18.0.1/24");

        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert_eq!(all.netmask(), Ipv4Addr::UNSPECIFIED);
        assert!(all.contains(Ipv4Addr::BROADCAST));
        let host: Ipv4Cidr = "198.19.0.7/32".parse().unwrap();
        assert_eq!(host.netmask(), Ipv4Addr::BROADCAST);
        assert!(host.contains(Ipv4Addr::new(198, 19, 0, 7)));
        assert!(!host.contains(Ipv4Addr::new(198, 19, 0, 6)));
        let odd: Ipv4Cidr = "198.18.0.1/15".parse().unwrap();
        assert_eq!(odd.netmask(), Ipv4Addr::new(255, 254, 0, 0));
        assert_eq!(odd.network(), Ipv4Addr::new(198, 18, 0, 0));
        assert!(odd.contains(Ipv4Addr::new(198, 19, 255, 1)));

        assert_eq!(Ipv4Cidr::new(SRC, 33), None);
        // Out-of-range prefix set directly through the public field: no panic.
        let wide = Ipv4Cidr {
            addr: SRC,
            prefix_len: 200,
        };
        assert_eq!(wide.netmask(), Ipv4Addr::BROADCAST);

        for bad in [
            "198.18.0.1",
            "198.18.0.1/33",
            "198.18.0.1/",
            "198.18.0.1/-1",
            "198.18.0.1/+8",
            "198.18.0.1/100",
            "198.18.0.1/2 4",
            "198.18.0/24",
            "198.18.0.256/24",
            "/24",
            "host/24",
            "",
        ] {
            let e = bad.parse::<Ipv4Cidr>().unwrap_err();
            assert!(!e.to_string().is_empty(), "{bad}");
            assert!(!e.message().is_empty());
        }
    }
}
