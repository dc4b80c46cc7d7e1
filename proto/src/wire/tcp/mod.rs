//! TCP segments (RFC 9293) and options (RFC 9293, RFC 7323, RFC 2018).

use std::net::Ipv4Addr;

use super::checksum;
use super::ipv4::Protocol;
use super::{Result, WireError};

mod options;
#[cfg(test)]
mod testdata;
mod writer;

pub use options::{parse_options, SackBlocks, SackIter, TcpOption, TcpOptionIter, TcpOptions};
pub use writer::{data_options_len, max_sack_blocks, syn_options_len, OptionWriter};

/// TCP header flag bits (byte 13 of the header).
pub mod flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer field is significant.
    pub const URG: u8 = 0x20;
    /// ECN echo.
    pub const ECE: u8 = 0x40;
    /// Congestion window reduced.
    pub const CWR: u8 = 0x80;
}

/// TCP option kinds.
pub mod kind {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No operation (padding).
    pub const NOP: u8 = 1;
    /// Maximum segment size.
    pub const MSS: u8 = 2;
    /// Window scale.
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted.
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK blocks.
    pub const SACK: u8 = 5;
    /// Timestamps.
    pub const TIMESTAMPS: u8 = 8;
}

/// Maximum length of the options area (data offset 15 -> 60-byte header).
pub const MAX_OPTIONS_LEN: usize = 40;

/// Largest window-scale shift a receiver may use (RFC 7323 §2.3).
pub const MAX_WINDOW_SCALE: u8 = 14;

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
}

#[inline]
fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

#[inline]
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A view of a TCP segment: header, options and payload. The view's extent
/// is the whole segment (e.g. [`super::Ipv4Packet::payload`]), since the
/// checksum covers the buffer's full length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<T> {
    buf: T,
}

macro_rules! flag_getters {
    ($($(#[$m:meta])* $name:ident = $bit:ident;)*) => {$(
        $(#[$m])*
        #[inline]
        pub fn $name(&self) -> bool {
            self.flags() & flags::$bit != 0
        }
    )*};
}

macro_rules! flag_setters {
    ($($(#[$m:meta])* $name:ident = $bit:ident;)*) => {$(
        $(#[$m])*
        #[inline]
        pub fn $name(&mut self, on: bool) {
            let f = self.flags();
            self.set_flags(if on { f | flags::$bit } else { f & !flags::$bit });
        }
    )*};
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Length of a header without options.
    pub const HEADER_LEN: usize = 20;

    /// Wrap a buffer without checking it. Accessors panic if the buffer is
    /// shorter than the header or the data offset claims.
    #[inline]
    pub const fn new_unchecked(buf: T) -> Self {
        TcpPacket { buf }
    }

    /// Wrap a buffer, validating the data offset. The checksum is not
    /// verified (see [`Self::verify_checksum`]); options are parsed lazily.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        let p = TcpPacket { buf };
        let len = p.buf.as_ref().len();
        if len < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let header_len = p.header_len();
        if header_len < Self::HEADER_LEN {
            return Err(WireError::Malformed("TCP data offset < 5"));
        }
        if header_len > len {
            return Err(WireError::Truncated);
        }
        Ok(p)
    }

    /// Give back the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buf
    }

    /// The whole segment.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(&self.buf.as_ref()[field::SRC_PORT])
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(&self.buf.as_ref()[field::DST_PORT])
    }

    /// Sequence number (raw).
    #[inline]
    pub fn seq_number(&self) -> u32 {
        be32(&self.buf.as_ref()[field::SEQ])
    }

    /// Acknowledgment number (raw; meaningful only with ACK set).
    #[inline]
    pub fn ack_number(&self) -> u32 {
        be32(&self.buf.as_ref()[field::ACK])
    }

    /// Header length in bytes (data offset * 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buf.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    /// The raw flags byte (see [`flags`]).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buf.as_ref()[field::FLAGS]
    }

    flag_getters! {
        /// FIN flag.
        fin = FIN;
        /// SYN flag.
        syn = SYN;
        /// RST flag.
        rst = RST;
        /// PSH flag.
        psh = PSH;
        /// ACK flag.
        ack = ACK;
        /// URG flag.
        urg = URG;
        /// ECE flag.
        ece = ECE;
        /// CWR flag.
        cwr = CWR;
    }

    /// Window field (unscaled).
    #[inline]
    pub fn window_len(&self) -> u16 {
        be16(&self.buf.as_ref()[field::WINDOW])
    }

    /// Checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(&self.buf.as_ref()[field::CHECKSUM])
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent_ptr(&self) -> u16 {
        be16(&self.buf.as_ref()[field::URGENT])
    }

    /// Raw options (between the fixed header and `header_len`); parse them
    /// with [`parse_options`] or [`TcpOptions::parse`].
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buf.as_ref()[Self::HEADER_LEN..self.header_len()]
    }

    /// Payload (everything after the header).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..]
    }

    /// Sequence space consumed: payload length plus one each for SYN and FIN.
    #[inline]
    pub fn seq_len(&self) -> usize {
        self.payload().len() + usize::from(self.syn()) + usize::from(self.fin())
    }

    /// `true` if the checksum over the whole view plus the IPv4
    /// pseudo-header is correct.
    #[inline]
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let b = self.buf.as_ref();
        let ph = checksum::pseudo_header_v4(src, dst, Protocol::TCP, b.len() as u16);
        checksum::fold(checksum::sum(b, ph)) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Set the source port.
    #[inline]
    pub fn set_src_port(&mut self, v: u16) {
        self.buf.as_mut()[field::SRC_PORT].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, v: u16) {
        self.buf.as_mut()[field::DST_PORT].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, v: u32) {
        self.buf.as_mut()[field::SEQ].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the acknowledgment number.
    #[inline]
    pub fn set_ack_number(&mut self, v: u32) {
        self.buf.as_mut()[field::ACK].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the header length in bytes (a multiple of 4, 20..=60). This writes
    /// the whole data-offset byte: the reserved bits are cleared.
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        debug_assert!(
            len & 3 == 0 && (20..=60).contains(&len),
            "bad TCP header length {len}"
        );
        self.buf.as_mut()[field::DATA_OFF] = ((len / 4) as u8) << 4;
    }

    /// Set the raw flags byte.
    #[inline]
    pub fn set_flags(&mut self, v: u8) {
        self.buf.as_mut()[field::FLAGS] = v;
    }

    flag_setters! {
        /// Set or clear FIN.
        set_fin = FIN;
        /// Set or clear SYN.
        set_syn = SYN;
        /// Set or clear RST.
        set_rst = RST;
        /// Set or clear PSH.
        set_psh = PSH;
        /// Set or clear ACK.
        set_ack = ACK;
        /// Set or clear URG.
        set_urg = URG;
        /// Set or clear ECE.
        set_ece = ECE;
        /// Set or clear CWR.
        set_cwr = CWR;
    }

    /// Set the window field.
    #[inline]
    pub fn set_window_len(&mut self, v: u16) {
        self.buf.as_mut()[field::WINDOW].copy_from_slice(&v.to_be_bytes());
    }

    /// Store a checksum value.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.buf.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the urgent pointer.
    #[inline]
    pub fn set_urgent_ptr(&mut self, v: u16) {
        self.buf.as_mut()[field::URGENT].copy_from_slice(&v.to_be_bytes());
    }

    /// Mutable options area (size it first with [`Self::set_header_len`]).
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buf.as_mut()[Self::HEADER_LEN..hl]
    }

    /// Mutable payload.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buf.as_mut()[hl..]
    }

    /// Compute and store the checksum over the whole view plus the IPv4
    /// pseudo-header (whose length is the view's length).
    #[inline]
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let b = self.buf.as_ref();
        let ph = checksum::pseudo_header_v4(src, dst, Protocol::TCP, b.len() as u16);
        let c = checksum::fold(checksum::sum(b, ph));
        self.set_checksum(c);
    }

    /// Store the folded, *uncomplemented* pseudo-header sum in the checksum
    /// field, as NIC TCP checksum offload expects (the NIC then sums the
    /// segment and stores the final checksum).
    #[inline]
    pub fn fill_pseudo_header_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let len = self.buf.as_ref().len() as u16;
        let ph = checksum::pseudo_header_v4(src, dst, Protocol::TCP, len);
        self.set_checksum(!checksum::fold(ph));
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for TcpPacket<T> {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.buf.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::testdata::{collect, segment, A, B, DATA_PACKET, SACK_ACK_FRAME, SYN_FRAME};
    use super::*;
    use crate::wire::testutil::{hex, XorShift};

    #[test]
    fn pseudo_header_checksum_for_offload() {
        let seg = hex(DATA_PACKET)[20..].to_vec();
        let mut buf = seg.clone();
        let mut t = TcpPacket::new_checked(&mut buf[..]).unwrap();
        t.fill_pseudo_header_checksum(A, B);
        // What the NIC does: checksum the segment as it stands.
        let nic = checksum::fold(checksum::sum(t.as_bytes(), 0));
        assert_eq!(nic, 0x0f9d);
    }

    #[test]
    fn setters_round_trip() {
        let mut buf = [0xffu8; 60];
        let mut t = TcpPacket::new_unchecked(&mut buf[..]);
        t.set_src_port(1);
        t.set_dst_port(65535);
        t.set_seq_number(0xffff_fffe);
        t.set_ack_number(7);
        t.set_header_len(60);
        t.set_flags(0);
        for (i, set) in [
            TcpPacket::set_fin,
            TcpPacket::set_syn,
            TcpPacket::set_rst,
            TcpPacket::set_psh,
            TcpPacket::set_ack,
            TcpPacket::set_urg,
            TcpPacket::set_ece,
            TcpPacket::set_cwr,
        ]
        .into_iter()
        .enumerate()
        {
            set(&mut t, true);
            assert_eq!(t.flags(), (1u16 << (i + 1)).wrapping_sub(1) as u8);
        }
        t.set_syn(false);
        t.set_window_len(1234);
        t.set_checksum(0xbeef);
        t.set_urgent_ptr(99);
        let t = TcpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(t.src_port(), 1);
        assert_eq!(t.dst_port(), 65535);
        assert_eq!(t.seq_number(), 0xffff_fffe);
        assert_eq!(t.ack_number(), 7);
        assert_eq!(t.header_len(), 60);
        assert_eq!(t.options().len(), 40);
        assert!(t.payload().is_empty());
        assert_eq!(t.flags(), 0xfd);
        assert!(
            t.fin() && !t.syn() && t.rst() && t.psh() && t.ack() && t.urg() && t.ece() && t.cwr()
        );
        assert_eq!(t.window_len(), 1234);
        assert_eq!(t.checksum(), 0xbeef);
        assert_eq!(t.urgent_ptr(), 99);
        assert_eq!(buf[12], 0xf0, "reserved bits cleared");
        assert_eq!(t.seq_len(), 1);
    }

    #[test]
    fn truncated_at_every_length() {
        for frame in [SYN_FRAME, SACK_ACK_FRAME] {
            let seg = segment(&hex(frame));
            for n in 0..seg.len() {
                assert_eq!(
                    TcpPacket::new_checked(&seg[..n]),
                    Err(WireError::Truncated),
                    "len {n}"
                );
            }
            assert!(TcpPacket::new_checked(&seg[..]).is_ok());
            // Every prefix of the options area: never panics; a cut inside an
            // option is an error, a cut between options is fine.
            let opts = &seg[20..];
            for n in 0..=opts.len() {
                let _ = collect(&opts[..n]);
                let _ = TcpOptions::parse(&opts[..n]);
            }
        }
        let syn = segment(&hex(SYN_FRAME));
        let opts = &syn[20..];
        let boundaries = [0, 4, 6, 16, 17, 20];
        for n in 0..=opts.len() {
            let ok = TcpOptions::parse(&opts[..n]).is_ok();
            assert_eq!(ok, boundaries.contains(&n), "options cut at {n}");
        }
    }

    #[test]
    fn bad_data_offset() {
        let mut seg = segment(&hex(SYN_FRAME));
        for off in 0..5u8 {
            seg[12] = off << 4;
            assert_eq!(
                TcpPacket::new_checked(&seg[..]),
                Err(WireError::Malformed("TCP data offset < 5"))
            );
        }
        for off in 11..16u8 {
            seg[12] = off << 4;
            assert_eq!(TcpPacket::new_checked(&seg[..]), Err(WireError::Truncated));
        }
        seg[12] = 10 << 4;
        assert!(TcpPacket::new_checked(&seg[..]).is_ok());
        seg[12] = 5 << 4;
        let t = TcpPacket::new_checked(&seg[..]).unwrap();
        assert!(t.options().is_empty());
        assert_eq!(t.payload().len(), 20);
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift(0x5eed_1234_abcd_0001);
        let templates = [segment(&hex(SYN_FRAME)), segment(&hex(SACK_ACK_FRAME))];
        let kinds = [0u8, 1, 2, 3, 4, 5, 8, 30];
        for i in 0..6000 {
            let b = match i % 3 {
                0 => rng.buf(80),
                1 => {
                    // Mutated real segment.
                    let mut b = templates[rng.below(2)].clone();
                    for _ in 0..1 + rng.below(4) {
                        let k = rng.below(b.len());
                        b[k] = rng.next_u64() as u8;
                    }
                    b.truncate(rng.below(b.len() + 1));
                    b
                }
                _ => {
                    // Header with a random, mostly plausible options area.
                    let olen = 4 * rng.below(11);
                    let mut b = vec![0u8; 20 + olen];
                    b[12] = ((5 + olen / 4) as u8) << 4;
                    for x in &mut b[20..] {
                        *x = if rng.below(2) == 0 {
                            kinds[rng.below(kinds.len())]
                        } else {
                            rng.below(12) as u8
                        };
                    }
                    b
                }
            };
            if let Ok(t) = TcpPacket::new_checked(&b[..]) {
                let _ = (
                    t.src_port(),
                    t.dst_port(),
                    t.seq_number(),
                    t.ack_number(),
                    t.flags(),
                    t.fin() | t.syn() | t.rst() | t.psh() | t.ack() | t.urg() | t.ece() | t.cwr(),
                    t.window_len(),
                    t.checksum(),
                    t.urgent_ptr(),
                    t.seq_len(),
                    t.verify_checksum(A, B),
                );
                assert_eq!(t.header_len(), 20 + t.options().len());
                assert_eq!(t.header_len() + t.payload().len(), b.len());
                let mut errors = 0;
                for opt in parse_options(t.options()) {
                    match opt {
                        Ok(TcpOption::Sack(blocks)) => {
                            assert!((1..=4).contains(&blocks.len()));
                            for i in 0..=blocks.len() {
                                let _ = blocks.get(i);
                            }
                            let _ = blocks.iter().count();
                        }
                        Ok(_) => {}
                        Err(_) => errors += 1,
                    }
                }
                assert!(errors <= 1);
                if let Ok(o) = TcpOptions::parse(t.options()) {
                    assert!(o.sack_len <= 4);
                    assert!(o.wscale.unwrap_or(0) <= MAX_WINDOW_SCALE);
                }
            }
            // The options parser on arbitrary bytes.
            let _ = TcpOptions::parse(&b);
            assert!(parse_options(&b).filter(|r| r.is_err()).count() <= 1);
        }
    }
}
