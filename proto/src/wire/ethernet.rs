//! Ethernet II frames (no FCS; the NIC strips and appends it).

use core::fmt;
use core::str::FromStr;

use super::{Result, WireError};

/// A 48-bit IEEE 802 MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// `00:00:00:00:00:00` (e.g. the target hardware address of an ARP request).
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Build an address from a slice of exactly 6 bytes.
    #[inline]
    pub fn from_bytes(b: &[u8]) -> Option<MacAddr> {
        b.try_into().ok().map(MacAddr)
    }

    /// The six address bytes.
    #[inline]
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// `true` for `ff:ff:ff:ff:ff:ff`.
    #[inline]
    pub const fn is_broadcast(&self) -> bool {
        let b = self.0;
        b[0] == 0xff && b[1] == 0xff && b[2] == 0xff && b[3] == 0xff && b[4] == 0xff && b[5] == 0xff
    }

    /// `true` if the group bit is set (this includes broadcast).
    #[inline]
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// `true` if the group bit is clear.
    #[inline]
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// `true` if the locally-administered bit is set.
    #[inline]
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl From<[u8; 6]> for MacAddr {
    #[inline]
    fn from(b: [u8; 6]) -> Self {
        MacAddr(b)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// Error parsing a [`MacAddr`] from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseMacError(&'static str);

impl ParseMacError {
    /// What was wrong with the input.
    pub fn message(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for ParseMacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid MAC address: {}", self.0)
    }
}

impl std::error::Error for ParseMacError {}

impl FromStr for MacAddr {
    type Err = ParseMacError;

    /// Parse six two-digit hex groups separated by `:` or `-` (one separator
    /// style throughout), e.g. `02:00:00:00:00:01` or `02-00-00-00-00-01`.
    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        let sep = if s.contains(':') { ':' } else { '-' };
        let mut out = [0u8; 6];
        let mut n = 0;
        for group in s.split(sep) {
            if n == 6 {
                return Err(ParseMacError("more than 6 groups"));
            }
            if group.len() != 2 || !group.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(ParseMacError("each group must be 2 hex digits"));
            }
            out[n] =
                u8::from_str_radix(group, 16).map_err(|_| ParseMacError("invalid hex digit"))?;
            n += 1;
        }
        if n != 6 {
            return Err(ParseMacError("fewer than 6 groups"));
        }
        Ok(MacAddr(out))
    }
}

/// EtherType values (namespace of `u16` constants; compare with
/// [`EthernetFrame::ethertype`]).
#[derive(Debug)]
pub enum EtherType {}

impl EtherType {
    /// Internet Protocol version 4.
    pub const IPV4: u16 = 0x0800;
    /// Address Resolution Protocol.
    pub const ARP: u16 = 0x0806;
    /// 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// Internet Protocol version 6.
    pub const IPV6: u16 = 0x86DD;
}

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
}

/// A view of an Ethernet II frame (header + payload, without FCS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetFrame<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Length of the Ethernet II header.
    pub const HEADER_LEN: usize = 14;

    /// Wrap a buffer without checking its length. Accessors panic if the
    /// buffer is shorter than [`Self::HEADER_LEN`].
    #[inline]
    pub const fn new_unchecked(buf: T) -> Self {
        EthernetFrame { buf }
    }

    /// Wrap a buffer, checking it holds at least a full header.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        if buf.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(EthernetFrame { buf })
    }

    /// Give back the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buf
    }

    /// The whole frame.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Destination address.
    #[inline]
    pub fn dst(&self) -> MacAddr {
        let b = &self.buf.as_ref()[field::DST];
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// Source address.
    #[inline]
    pub fn src(&self) -> MacAddr {
        let b = &self.buf.as_ref()[field::SRC];
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// EtherType (see [`EtherType`]).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        let b = &self.buf.as_ref()[field::ETHERTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Everything after the header (may include padding to the 60-byte minimum).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[Self::HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Set the destination address.
    #[inline]
    pub fn set_dst(&mut self, addr: MacAddr) {
        self.buf.as_mut()[field::DST].copy_from_slice(&addr.0);
    }

    /// Set the source address.
    #[inline]
    pub fn set_src(&mut self, addr: MacAddr) {
        self.buf.as_mut()[field::SRC].copy_from_slice(&addr.0);
    }

    /// Set the EtherType.
    #[inline]
    pub fn set_ethertype(&mut self, ethertype: u16) {
        self.buf.as_mut()[field::ETHERTYPE].copy_from_slice(&ethertype.to_be_bytes());
    }

    /// Mutable access to everything after the header.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[Self::HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for EthernetFrame<T> {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.buf.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testutil::{hex, XorShift};

    // ARP request for 198.18.0.2 from 02:00:00:00:00:01, padded to 60 bytes.
    const ARP_REQUEST: &str = "ffffffffffff 020000000001 0806
        0001 0800 06 04 0001 020000000001 c6120001 000000000000 c6120002
        000000000000000000000000000000000000";

    #[test]
    fn parse_real_frame() {
        let bytes = hex(ARP_REQUEST);
        assert_eq!(bytes.len(), 60);
        let f = EthernetFrame::new_checked(&bytes[..]).unwrap();
        assert_eq!(f.dst(), MacAddr::BROADCAST);
        assert_eq!(f.src(), MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(f.ethertype(), EtherType::ARP);
        assert_eq!(f.payload().len(), 46);
        assert_eq!(&f.payload()[..8], &hex("0001 0800 0604 0001")[..]);
        assert_eq!(f.as_bytes(), &bytes[..]);
    }

    #[test]
    fn emit_and_round_trip() {
        let mut buf = [0u8; 18];
        let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
        f.set_dst(MacAddr([2, 0, 0, 0, 0, 2]));
        f.set_src(MacAddr([2, 0, 0, 0, 0, 1]));
        f.set_ethertype(EtherType::IPV4);
        f.payload_mut().copy_from_slice(&[0x45, 0, 0, 0x14]);
        assert_eq!(
            &buf[..],
            &hex("020000000002 020000000001 0800 45000014")[..]
        );
        let f = EthernetFrame::new_checked(&buf[..]).unwrap();
        assert_eq!(f.dst(), MacAddr([2, 0, 0, 0, 0, 2]));
        assert_eq!(f.src(), MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(f.ethertype(), 0x0800);
        assert_eq!(f.payload(), &[0x45, 0, 0, 0x14]);
        let inner: &[u8] = f.into_inner();
        assert_eq!(inner.len(), 18);
    }

    #[test]
    fn vlan_is_just_an_ethertype() {
        let bytes = hex("ffffffffffff 020000000001 8100 0064 0800");
        let f = EthernetFrame::new_checked(&bytes[..]).unwrap();
        assert_eq!(f.ethertype(), EtherType::VLAN);
        assert_eq!(f.payload(), &hex("0064 0800")[..]);
    }

    #[test]
    fn truncated() {
        let bytes = hex(ARP_REQUEST);
        for n in 0..EthernetFrame::<&[u8]>::HEADER_LEN {
            assert_eq!(
                EthernetFrame::new_checked(&bytes[..n]),
                Err(WireError::Truncated),
                "len {n}"
            );
        }
        let f = EthernetFrame::new_checked(&bytes[..14]).unwrap();
        assert!(f.payload().is_empty());
    }

    #[test]
    fn mac_properties() {
        assert!(MacAddr::BROADCAST.is_broadcast());
        assert!(MacAddr::BROADCAST.is_multicast());
        assert!(!MacAddr::BROADCAST.is_unicast());
        let m = MacAddr([0x01, 0x00, 0x5e, 0, 0, 1]);
        assert!(m.is_multicast() && !m.is_broadcast());
        let u = MacAddr([0x02, 0, 0, 0, 0, 1]);
        assert!(u.is_unicast() && u.is_local() && !u.is_broadcast());
        assert!(MacAddr::ZERO.is_unicast());
        assert_eq!(
            MacAddr::from_bytes(&[1, 2, 3, 4, 5, 6]),
            Some(MacAddr([1, 2, 3, 4, 5, 6]))
        );
        assert_eq!(MacAddr::from_bytes(&[1, 2, 3]), None);
    }

    #[test]
    fn mac_display_and_parse() {
        let m = MacAddr([0xaa, 0xbb, 0xcc, 0x0d, 0xee, 0xff]);
        assert_eq!(m.to_string(), "aa:bb:cc:0d:ee:ff");
        assert_eq!("aa:bb:cc:0d:ee:ff".parse::<MacAddr>(), Ok(m));
        assert_eq!("AA-BB-CC-0D-EE-FF".parse::<MacAddr>(), Ok(m));
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb:cc:dd:ee:f",
            "aa:bb:cc:dd:ee:fff",
            "aa:bb:cc:dd:ee:gg",
            "aa:bb-cc:dd:ee:ff",
            "aabbccddeeff",
            "+a:bb:cc:dd:ee:ff",
            "é:bb:cc:dd:ee:ff",
        ] {
            let err = bad.parse::<MacAddr>().unwrap_err();
            assert!(!err.to_string().is_empty(), "{bad}");
            assert!(!err.message().is_empty());
        }
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..5000 {
            let b = rng.buf(40);
            if let Ok(f) = EthernetFrame::new_checked(&b[..]) {
                let _ = (f.dst(), f.src(), f.ethertype(), f.payload().len());
                assert_eq!(f.payload().len() + 14, b.len());
            } else {
                assert!(b.len() < 14);
            }
            let s: String = b.iter().map(|&c| (c % 96 + 32) as char).collect();
            let _ = s.parse::<MacAddr>();
        }
    }
}
