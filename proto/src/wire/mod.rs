//! Zero-copy views over wire formats.
//!
//! Every format is a view struct generic over `T: AsRef<[u8]>` (read-only
//! access) with setters when `T: AsMut<[u8]>`. `new_checked` validates every
//! length the getters depend on, so getters on a checked view can never index
//! out of bounds; `new_unchecked` is for emitting into a buffer the caller has
//! already sized (getters/setters on an undersized unchecked view panic, as
//! slice indexing does, but never on packet contents of a checked view).

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod ipv4;
pub mod tcp;

use core::fmt;

/// Bytes of an Ethernet II header (no VLAN tag).
pub const ETH_HEADER_LEN: usize = 14;
/// Bytes of an IPv4 header without options (linerate sends none).
pub const IPV4_HEADER_LEN: usize = 20;
/// Bytes of a TCP header without options.
pub const TCP_HEADER_LEN: usize = 20;
/// Bytes of the options on every segment of a connection with timestamps: NOP, NOP, TS
/// (RFC 7323 Appendix A's layout).
pub const TCP_TS_OPTIONS_LEN: usize = 12;

pub use arp::{ArpOp, ArpPacket};
pub use ethernet::{EtherType, EthernetFrame, MacAddr, ParseMacError};
pub use ipv4::{Ipv4Cidr, Ipv4Packet, ParseCidrError, Protocol};
pub use tcp::{
    parse_options, OptionWriter, SackBlocks, SackIter, TcpOption, TcpOptionIter, TcpOptions,
    TcpPacket,
};

/// Error returned when a buffer cannot be interpreted as a wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer is shorter than the format (or one of its length fields) requires.
    Truncated,
    /// A field has a value this implementation does not accept.
    Malformed(&'static str),
    /// A checksum did not verify.
    BadChecksum,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => f.write_str("truncated packet"),
            WireError::Malformed(what) => write!(f, "malformed packet: {what}"),
            WireError::BadChecksum => f.write_str("bad checksum"),
        }
    }
}

impl std::error::Error for WireError {}

/// Result type of the wire module.
pub type Result<T> = core::result::Result<T, WireError>;

#[cfg(test)]
pub(crate) mod testutil {
    /// Decode a hex string, ignoring whitespace.
    pub fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .map(|b| match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => panic!("bad hex digit {b}"),
            })
            .collect();
        assert!(digits.len() & 1 == 0, "odd hex length");
        digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
    }

    /// Tiny xorshift64* PRNG for fuzz-style tests.
    pub struct XorShift(pub u64);

    impl XorShift {
        pub fn next_u64(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        pub fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }

        /// A random buffer of length `0..max_len`, biased so that some bytes
        /// take "plausible" values often.
        pub fn buf(&mut self, max_len: usize) -> Vec<u8> {
            let len = self.below(max_len + 1);
            (0..len).map(|_| self.next_u64() as u8).collect()
        }
    }

    #[test]
    fn hex_decodes() {
        assert_eq!(hex("00 ff\n1a"), vec![0x00, 0xff, 0x1a]);
    }

    #[test]
    fn wire_error_display() {
        use super::WireError;
        assert_eq!(WireError::Truncated.to_string(), "truncated packet");
        assert_eq!(WireError::Malformed("x").to_string(), "malformed packet: x");
        assert_eq!(WireError::BadChecksum.to_string(), "bad checksum");
        let e: Box<dyn std::error::Error> = Box::new(WireError::Truncated);
        assert!(!e.to_string().is_empty());
    }
}
