//! TCP segments (RFC 9293) and options (RFC 9293, RFC 7323, RFC 2018).

use core::fmt;
use core::iter::FusedIterator;
use core::slice::ChunksExact;
use std::net::Ipv4Addr;

use super::checksum;
use super::ipv4::Protocol;
use super::{Result, WireError};

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

// ---------------------------------------------------------------------------
// Options: parsing.

/// Zero-copy view of the blocks of a SACK option: `8 * n` raw bytes, each
/// block a (left edge, right edge) pair of sequence numbers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SackBlocks<'a> {
    raw: &'a [u8],
}

impl<'a> SackBlocks<'a> {
    /// View `raw` as SACK blocks; `None` unless its length is a multiple of 8.
    #[inline]
    pub fn new(raw: &'a [u8]) -> Option<Self> {
        if raw.len() & 7 == 0 {
            Some(SackBlocks { raw })
        } else {
            None
        }
    }

    /// Number of blocks.
    #[inline]
    pub fn len(&self) -> usize {
        self.raw.len() / 8
    }

    /// `true` if there are no blocks.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Block `i` as (left, right), or `None` if out of range.
    #[inline]
    pub fn get(&self, i: usize) -> Option<(u32, u32)> {
        let start = i.checked_mul(8)?;
        let b = self.raw.get(start..start.checked_add(8)?)?;
        Some((be32(&b[..4]), be32(&b[4..])))
    }

    /// Iterate over the blocks as (left, right).
    #[inline]
    pub fn iter(&self) -> SackIter<'a> {
        SackIter {
            chunks: self.raw.chunks_exact(8),
        }
    }

    /// The raw bytes.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
}

impl fmt::Debug for SackBlocks<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for SackBlocks<'a> {
    type Item = (u32, u32);
    type IntoIter = SackIter<'a>;
    #[inline]
    fn into_iter(self) -> SackIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &SackBlocks<'a> {
    type Item = (u32, u32);
    type IntoIter = SackIter<'a>;
    #[inline]
    fn into_iter(self) -> SackIter<'a> {
        self.iter()
    }
}

/// Iterator over [`SackBlocks`].
#[derive(Debug, Clone)]
pub struct SackIter<'a> {
    chunks: ChunksExact<'a, u8>,
}

impl Iterator for SackIter<'_> {
    type Item = (u32, u32);

    #[inline]
    fn next(&mut self) -> Option<(u32, u32)> {
        let b = self.chunks.next()?;
        Some((be32(&b[..4]), be32(&b[4..])))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl DoubleEndedIterator for SackIter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<(u32, u32)> {
        let b = self.chunks.next_back()?;
        Some((be32(&b[..4]), be32(&b[4..])))
    }
}

impl ExactSizeIterator for SackIter<'_> {}
impl FusedIterator for SackIter<'_> {}

/// One TCP option, borrowing from the options area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// End of option list (the parser stops after it).
    Eol,
    /// No operation.
    Nop,
    /// Maximum segment size.
    Mss(u16),
    /// Window scale shift count (raw, may exceed 14).
    WindowScale(u8),
    /// SACK permitted.
    SackPermitted,
    /// 1..=4 SACK blocks.
    Sack(SackBlocks<'a>),
    /// Timestamps.
    Timestamps {
        /// Sender's timestamp value.
        tsval: u32,
        /// Echo of the peer's most recent timestamp.
        tsecr: u32,
    },
    /// Any other kind, with its data (excluding kind and length bytes).
    Unknown {
        /// Option kind.
        kind: u8,
        /// Option data.
        data: &'a [u8],
    },
}

/// Iterate over the options in `opts` (e.g. [`TcpPacket::options`]).
#[inline]
pub fn parse_options(opts: &[u8]) -> TcpOptionIter<'_> {
    TcpOptionIter { rest: opts }
}

/// Iterator returned by [`parse_options`]. Yields options in order; stops
/// after `Eol`, and after yielding one `Err` for a malformed option.
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptionIter<'a> {
    /// Bytes not parsed yet.
    #[inline]
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// Parse a kind/length/data option at the start of `data` (`kind` is
    /// `data[0]`, not EOL/NOP); returns the option and what follows it.
    #[inline]
    fn parse_tlv(data: &'a [u8], kind: u8) -> Result<(TcpOption<'a>, &'a [u8])> {
        let len = match data.get(1) {
            Some(&l) => usize::from(l),
            None => return Err(WireError::Malformed("TCP option length missing")),
        };
        if len < 2 {
            return Err(WireError::Malformed("TCP option length < 2"));
        }
        if len > data.len() {
            return Err(WireError::Malformed(
                "TCP option runs past the options area",
            ));
        }
        let (opt, rest) = data.split_at(len);
        let body = &opt[2..];
        let parsed = match (kind, body) {
            (kind::MSS, &[a, b]) => TcpOption::Mss(u16::from_be_bytes([a, b])),
            (kind::MSS, _) => return Err(WireError::Malformed("TCP MSS option length != 4")),
            (kind::WINDOW_SCALE, &[s]) => TcpOption::WindowScale(s),
            (kind::WINDOW_SCALE, _) => {
                return Err(WireError::Malformed("TCP window scale option length != 3"))
            }
            (kind::SACK_PERMITTED, &[]) => TcpOption::SackPermitted,
            (kind::SACK_PERMITTED, _) => {
                return Err(WireError::Malformed(
                    "TCP SACK-permitted option length != 2",
                ))
            }
            (kind::TIMESTAMPS, &[a, b, c, d, e, f, g, h]) => TcpOption::Timestamps {
                tsval: u32::from_be_bytes([a, b, c, d]),
                tsecr: u32::from_be_bytes([e, f, g, h]),
            },
            (kind::TIMESTAMPS, _) => {
                return Err(WireError::Malformed("TCP timestamps option length != 10"))
            }
            (kind::SACK, _) => {
                if body.is_empty() || body.len() & 7 != 0 || body.len() > 32 {
                    return Err(WireError::Malformed(
                        "TCP SACK option length not 2 + 8n, n in 1..=4",
                    ));
                }
                TcpOption::Sack(SackBlocks { raw: body })
            }
            (kind, data) => TcpOption::Unknown { kind, data },
        };
        Ok((parsed, rest))
    }
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = Result<TcpOption<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let data = self.rest;
        let (&k, after) = data.split_first()?;
        match k {
            kind::EOL => {
                self.rest = &[];
                Some(Ok(TcpOption::Eol))
            }
            kind::NOP => {
                self.rest = after;
                Some(Ok(TcpOption::Nop))
            }
            _ => match Self::parse_tlv(data, k) {
                Ok((opt, rest)) => {
                    self.rest = rest;
                    Some(Ok(opt))
                }
                Err(e) => {
                    self.rest = &[];
                    Some(Err(e))
                }
            },
        }
    }
}

impl FusedIterator for TcpOptionIter<'_> {}

/// Summary of the options tcp input cares about, parsed without allocation.
/// Later occurrences of an option override earlier ones; unknown options are
/// ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift, clamped to [`MAX_WINDOW_SCALE`] (RFC 7323 §2.3).
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
    /// SACK blocks; only the first `sack_len` are meaningful.
    pub sack: [(u32, u32); 4],
    /// Number of valid entries in `sack` (0..=4).
    pub sack_len: u8,
}

impl TcpOptions {
    /// The usual options of an established connection — none, or NOP, NOP, timestamps —
    /// read directly; anything else goes through [`TcpOptions::parse`] (the kernel's
    /// `tcp_fast_parse_options`).
    #[inline]
    pub fn parse_fast(opts: &[u8]) -> Result<TcpOptions> {
        match opts {
            [] => Ok(TcpOptions::default()),
            [1, 1, 8, 10, v0, v1, v2, v3, e0, e1, e2, e3] => Ok(TcpOptions {
                timestamps: Some((
                    u32::from_be_bytes([*v0, *v1, *v2, *v3]),
                    u32::from_be_bytes([*e0, *e1, *e2, *e3]),
                )),
                ..TcpOptions::default()
            }),
            _ => TcpOptions::parse(opts),
        }
    }

    /// Parse an options area. Any malformed option fails the whole parse.
    pub fn parse(opts: &[u8]) -> Result<TcpOptions> {
        let mut out = TcpOptions::default();
        for opt in parse_options(opts) {
            match opt? {
                TcpOption::Eol => break,
                TcpOption::Nop | TcpOption::Unknown { .. } => {}
                TcpOption::Mss(m) => out.mss = Some(m),
                TcpOption::WindowScale(s) => out.wscale = Some(s.min(MAX_WINDOW_SCALE)),
                TcpOption::SackPermitted => out.sack_permitted = true,
                TcpOption::Timestamps { tsval, tsecr } => out.timestamps = Some((tsval, tsecr)),
                TcpOption::Sack(blocks) => {
                    let mut n = 0;
                    for (slot, block) in out.sack.iter_mut().zip(blocks.iter()) {
                        *slot = block;
                        n += 1;
                    }
                    out.sack_len = n;
                }
            }
        }
        Ok(out)
    }

    /// The valid SACK blocks.
    #[inline]
    pub fn sack_blocks(&self) -> &[(u32, u32)] {
        let n = usize::from(self.sack_len).min(self.sack.len());
        &self.sack[..n]
    }
}

// ---------------------------------------------------------------------------
// Options: emitting.

/// Length of the SYN options [`OptionWriter::syn`] writes (Linux layout).
#[inline]
pub const fn syn_options_len(sack_permitted: bool, timestamps: bool, wscale: bool) -> usize {
    let mut n = 4; // MSS
    if timestamps {
        n += 12; // SACKOK,TS or NOP,NOP,TS
    } else if sack_permitted {
        n += 4; // NOP,NOP,SACKOK
    }
    if wscale {
        n += 4; // NOP,WS
    }
    n
}

/// Length of the options [`OptionWriter::data`] writes (Linux layout).
#[inline]
pub const fn data_options_len(timestamps: bool, sack_blocks: usize) -> usize {
    let mut n = 0;
    if timestamps {
        n += 12; // NOP,NOP,TS
    }
    if sack_blocks > 0 {
        n += 4 + 8 * sack_blocks; // NOP,NOP,SACK
    }
    n
}

/// The most SACK blocks that fit in a segment's options (3 with timestamps).
#[inline]
pub const fn max_sack_blocks(timestamps: bool) -> usize {
    (MAX_OPTIONS_LEN - data_options_len(timestamps, 0) - 4) / 8
}

/// Writes TCP options into a buffer (normally [`TcpPacket::options_mut`] or
/// a 40-byte scratch area). Each method fails with `Truncated`, writing
/// nothing, if the option plus padding to a multiple of 4 does not fit.
#[derive(Debug)]
pub struct OptionWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> OptionWriter<'a> {
    /// Start writing at the beginning of `buf`.
    #[inline]
    pub fn new(buf: &'a mut [u8]) -> Self {
        OptionWriter { buf, len: 0 }
    }

    /// Bytes written so far (unpadded).
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` if nothing has been written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    const fn padded(n: usize) -> usize {
        (n + 3) & !3
    }

    /// Check that `n` more bytes (plus padding) fit.
    #[inline]
    fn check(&self, n: usize) -> Result<()> {
        if Self::padded(self.len + n) > self.buf.len() {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<&mut Self> {
        self.check(bytes.len())?;
        let end = self.len + bytes.len();
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(WireError::Truncated)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(self)
    }

    /// NOP (kind 1).
    #[inline]
    pub fn nop(&mut self) -> Result<&mut Self> {
        self.put(&[kind::NOP])
    }

    /// MSS (kind 2, 4 bytes).
    #[inline]
    pub fn mss(&mut self, mss: u16) -> Result<&mut Self> {
        let [a, b] = mss.to_be_bytes();
        self.put(&[kind::MSS, 4, a, b])
    }

    /// Window scale (kind 3, 3 bytes).
    #[inline]
    pub fn window_scale(&mut self, shift: u8) -> Result<&mut Self> {
        self.put(&[kind::WINDOW_SCALE, 3, shift])
    }

    /// SACK permitted (kind 4, 2 bytes).
    #[inline]
    pub fn sack_permitted(&mut self) -> Result<&mut Self> {
        self.put(&[kind::SACK_PERMITTED, 2])
    }

    /// Timestamps (kind 8, 10 bytes).
    #[inline]
    pub fn timestamps(&mut self, tsval: u32, tsecr: u32) -> Result<&mut Self> {
        let [a, b, c, d] = tsval.to_be_bytes();
        let [e, f, g, h] = tsecr.to_be_bytes();
        self.put(&[kind::TIMESTAMPS, 10, a, b, c, d, e, f, g, h])
    }

    /// SACK (kind 5, 2 + 8n bytes) with 1..=4 blocks; `Malformed` otherwise.
    #[inline]
    pub fn sack(&mut self, blocks: &[(u32, u32)]) -> Result<&mut Self> {
        if blocks.is_empty() || blocks.len() > 4 {
            return Err(WireError::Malformed("SACK option needs 1..=4 blocks"));
        }
        let n = 2 + 8 * blocks.len();
        self.check(n)?;
        self.put(&[kind::SACK, n as u8])?;
        for &(left, right) in blocks {
            let [a, b, c, d] = left.to_be_bytes();
            let [e, f, g, h] = right.to_be_bytes();
            self.put(&[a, b, c, d, e, f, g, h])?;
        }
        Ok(self)
    }

    /// Linux's SYN/SYN-ACK layout ([`syn_options_len`] bytes, 20 with all
    /// options): `MSS`, then `SACKOK,TS` (or `NOP,NOP,TS` without SACK),
    /// then `NOP,WS`, then `NOP,NOP,SACKOK` if SACK without timestamps.
    pub fn syn(
        &mut self,
        mss: u16,
        sack_permitted: bool,
        timestamps: Option<(u32, u32)>,
        wscale: Option<u8>,
    ) -> Result<&mut Self> {
        self.check(syn_options_len(
            sack_permitted,
            timestamps.is_some(),
            wscale.is_some(),
        ))?;
        self.mss(mss)?;
        if let Some((tsval, tsecr)) = timestamps {
            if sack_permitted {
                self.sack_permitted()?;
            } else {
                self.nop()?.nop()?;
            }
            self.timestamps(tsval, tsecr)?;
        }
        if let Some(shift) = wscale {
            self.nop()?.window_scale(shift)?;
        }
        if sack_permitted && timestamps.is_none() {
            self.nop()?.nop()?.sack_permitted()?;
        }
        Ok(self)
    }

    /// Linux's layout for non-SYN segments ([`data_options_len`] bytes):
    /// `NOP,NOP,TS` (12 bytes), then `NOP,NOP,SACK` if `sack` is non-empty
    /// (at most [`max_sack_blocks`] fit in 40 bytes).
    pub fn data(
        &mut self,
        timestamps: Option<(u32, u32)>,
        sack: &[(u32, u32)],
    ) -> Result<&mut Self> {
        if sack.len() > 4 {
            return Err(WireError::Malformed("SACK option needs 1..=4 blocks"));
        }
        self.check(data_options_len(timestamps.is_some(), sack.len()))?;
        if let Some((tsval, tsecr)) = timestamps {
            self.nop()?.nop()?.timestamps(tsval, tsecr)?;
        }
        if !sack.is_empty() {
            self.nop()?.nop()?.sack(sack)?;
        }
        Ok(self)
    }

    /// Pad with EOL/zero bytes to a multiple of 4 and return the padded
    /// length (the value to add to the 20-byte header).
    #[inline]
    pub fn finish(&mut self) -> usize {
        let end = Self::padded(self.len);
        if let Some(pad) = self.buf.get_mut(self.len..end) {
            pad.fill(kind::EOL);
            self.len = end;
        }
        self.len
    }
}

#[cfg(test)]
mod fast_parse_tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_full_parser() {
        let ts = [1u8, 1, 8, 10, 0, 0, 1, 2, 0xde, 0xad, 0xbe, 0xef];
        assert_eq!(TcpOptions::parse_fast(&ts), TcpOptions::parse(&ts));
        assert_eq!(
            TcpOptions::parse_fast(&ts).unwrap().timestamps,
            Some((0x102, 0xdead_beef))
        );
        assert_eq!(TcpOptions::parse_fast(&[]), Ok(TcpOptions::default()));
        // Other layouts take the full parser, errors included.
        let sack = [1u8, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2];
        assert_eq!(TcpOptions::parse_fast(&sack), TcpOptions::parse(&sack));
        assert!(TcpOptions::parse_fast(&[2, 9, 0, 0]).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4::Ipv4Packet;
    use crate::wire::testutil::{hex, XorShift};

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    // Linux-style SYN 198.18.0.1:43210 -> 198.18.0.2:5201 in an Ethernet
    // frame: MSS 1460, SACK_PERM, TS(0x5b4f1a2c, 0), NOP, WS 7; window 64240.
    // IPv4 checksum 0x7277, TCP checksum 0x37d8.
    const SYN_FRAME: &str = "020000000002 020000000001 0800
        4500 003c 3c1d 4000 4006 7277 c612 0001 c612 0002
        a8ca 1451 1a2b3c4d 00000000 a0 02 faf0 37d8 0000
        020405b4 0402080a 5b4f1a2c 00000000 01030307";

    // Pure ACK 198.18.0.2:5201 -> 198.18.0.1:43210 with NOP,NOP,TS and
    // NOP,NOP,SACK(1 block). IPv4 checksum 0xae90, TCP checksum 0x5939.
    const SACK_ACK_FRAME: &str = "020000000001 020000000002 0800
        4500 0040 0000 4000 4006 ae90 c612 0002 c612 0001
        1451 a8ca 9e3779b9 1a2b4400 b0 10 01f5 5939 0000
        0101080a 0012d687 5b4f1a30 0101050a 1a2b5000 1a2b55a8";

    // IPv4 packet: PSH|ACK data segment with an odd-length payload
    // "hello, world!" and NOP,NOP,TS. TCP checksum 0x0f9d.
    const DATA_PACKET: &str = "4500 0041 3c1e 4000 4006 7271 c612 0001 c612 0002
        a8ca 1451 1a2b3c4e 9e3779ba 80 18 01f6 0f9d 0000
        0101080a 5b4f1a31 0012d687
        68656c6c6f2c20776f726c6421";

    /// The TCP segment inside an Ethernet/IPv4 frame.
    fn segment(frame: &[u8]) -> Vec<u8> {
        let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
        assert!(ip.verify_checksum());
        ip.payload().to_vec()
    }

    fn collect(opts: &[u8]) -> Vec<Result<TcpOption<'_>>> {
        parse_options(opts).collect()
    }

    #[test]
    fn parse_linux_syn() {
        let seg = segment(&hex(SYN_FRAME));
        let t = TcpPacket::new_checked(&seg[..]).unwrap();
        assert_eq!(t.src_port(), 43210);
        assert_eq!(t.dst_port(), 5201);
        assert_eq!(t.seq_number(), 0x1a2b_3c4d);
        assert_eq!(t.ack_number(), 0);
        assert_eq!(t.header_len(), 40);
        assert_eq!(t.flags(), flags::SYN);
        assert!(t.syn());
        assert!(!(t.fin() || t.rst() || t.psh() || t.ack() || t.urg() || t.ece() || t.cwr()));
        assert_eq!(t.window_len(), 64240);
        assert_eq!(t.checksum(), 0x37d8);
        assert_eq!(t.urgent_ptr(), 0);
        assert_eq!(t.options().len(), 20);
        assert!(t.payload().is_empty());
        assert_eq!(t.seq_len(), 1);
        assert!(t.verify_checksum(A, B));
        assert!(!t.verify_checksum(B, Ipv4Addr::new(198, 18, 0, 3)));

        assert_eq!(
            collect(t.options()),
            vec![
                Ok(TcpOption::Mss(1460)),
                Ok(TcpOption::SackPermitted),
                Ok(TcpOption::Timestamps {
                    tsval: 0x5b4f_1a2c,
                    tsecr: 0
                }),
                Ok(TcpOption::Nop),
                Ok(TcpOption::WindowScale(7)),
            ]
        );
        let o = TcpOptions::parse(t.options()).unwrap();
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.wscale, Some(7));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamps, Some((0x5b4f_1a2c, 0)));
        assert_eq!(o.sack_len, 0);
        assert!(o.sack_blocks().is_empty());
    }

    #[test]
    fn emit_linux_syn() {
        let frame = hex(SYN_FRAME);
        let expected = segment(&frame);
        let mut buf = vec![0xaau8; 40];
        let mut t = TcpPacket::new_unchecked(&mut buf[..]);
        t.set_src_port(43210);
        t.set_dst_port(5201);
        t.set_seq_number(0x1a2b_3c4d);
        t.set_ack_number(0);
        t.set_header_len(40);
        let n = OptionWriter::new(t.options_mut())
            .syn(1460, true, Some((0x5b4f_1a2c, 0)), Some(7))
            .unwrap()
            .finish();
        assert_eq!(n, 20);
        assert_eq!(n, syn_options_len(true, true, true));
        t.set_flags(0);
        t.set_syn(true);
        t.set_window_len(64240);
        t.set_urgent_ptr(0);
        t.fill_checksum(A, B);
        assert_eq!(t.checksum(), 0x37d8);
        assert_eq!(buf, expected);
    }

    #[test]
    fn parse_ack_with_sack() {
        let seg = segment(&hex(SACK_ACK_FRAME));
        let t = TcpPacket::new_checked(&seg[..]).unwrap();
        assert_eq!((t.src_port(), t.dst_port()), (5201, 43210));
        assert_eq!(t.seq_number(), 0x9e37_79b9);
        assert_eq!(t.ack_number(), 0x1a2b_4400);
        assert_eq!(t.header_len(), 44);
        assert_eq!(t.flags(), flags::ACK);
        assert!(t.ack() && !t.syn());
        assert_eq!(t.window_len(), 501);
        assert!(t.payload().is_empty());
        assert_eq!(t.seq_len(), 0);
        assert!(t.verify_checksum(B, A));

        let opts = collect(t.options());
        assert_eq!(opts.len(), 6);
        assert_eq!(opts[0], Ok(TcpOption::Nop));
        assert_eq!(opts[1], Ok(TcpOption::Nop));
        assert_eq!(
            opts[2],
            Ok(TcpOption::Timestamps {
                tsval: 0x0012_d687,
                tsecr: 0x5b4f_1a30
            })
        );
        assert_eq!(opts[3], Ok(TcpOption::Nop));
        assert_eq!(opts[4], Ok(TcpOption::Nop));
        let Ok(TcpOption::Sack(blocks)) = opts[5] else {
            panic!("expected SACK, got {:?}", opts[5]);
        };
        assert_eq!(blocks.len(), 1);
        assert!(!blocks.is_empty());
        assert_eq!(blocks.get(0), Some((0x1a2b_5000, 0x1a2b_55a8)));
        assert_eq!(blocks.get(1), None);
        assert_eq!(blocks.get(usize::MAX), None);
        assert_eq!(
            blocks.iter().collect::<Vec<_>>(),
            vec![(0x1a2b_5000, 0x1a2b_55a8)]
        );
        assert_eq!(blocks.as_bytes().len(), 8);
        assert_eq!(
            format!("{blocks:?}"),
            format!("{:?}", [(0x1a2b_5000u32, 0x1a2b_55a8u32)])
        );

        let o = TcpOptions::parse(t.options()).unwrap();
        assert_eq!(o.timestamps, Some((0x0012_d687, 0x5b4f_1a30)));
        assert_eq!(o.sack_blocks(), &[(0x1a2b_5000, 0x1a2b_55a8)]);
        assert_eq!((o.mss, o.wscale, o.sack_permitted), (None, None, false));
    }

    #[test]
    fn emit_ack_with_sack() {
        let expected = segment(&hex(SACK_ACK_FRAME));
        let mut opts = [0u8; MAX_OPTIONS_LEN];
        let mut w = OptionWriter::new(&mut opts);
        w.data(
            Some((0x0012_d687, 0x5b4f_1a30)),
            &[(0x1a2b_5000, 0x1a2b_55a8)],
        )
        .unwrap();
        let n = w.finish();
        assert_eq!(n, 24);
        assert_eq!(n, data_options_len(true, 1));

        let mut buf = vec![0u8; 20 + n];
        buf[20..].copy_from_slice(&opts[..n]);
        let mut t = TcpPacket::new_unchecked(&mut buf[..]);
        t.set_src_port(5201);
        t.set_dst_port(43210);
        t.set_seq_number(0x9e37_79b9);
        t.set_ack_number(0x1a2b_4400);
        t.set_header_len(20 + n);
        t.set_flags(flags::ACK);
        t.set_window_len(501);
        t.fill_checksum(B, A);
        assert_eq!(buf, expected);
    }

    #[test]
    fn data_segment_odd_payload() {
        let bytes = hex(DATA_PACKET);
        let ip = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        assert!(ip.verify_checksum());
        let t = TcpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(t.header_len(), 32);
        assert_eq!(t.flags(), flags::PSH | flags::ACK);
        assert!(t.psh() && t.ack());
        assert_eq!(t.payload(), b"hello, world!");
        assert_eq!(t.seq_len(), 13);
        assert_eq!(t.checksum(), 0x0f9d);
        assert!(t.verify_checksum(A, B));
        let o = TcpOptions::parse(t.options()).unwrap();
        assert_eq!(o.timestamps, Some((0x5b4f_1a31, 0x0012_d687)));

        // Emit the same segment from scratch.
        let mut buf = [0u8; 32 + 13];
        let mut t2 = TcpPacket::new_unchecked(&mut buf[..]);
        t2.set_src_port(43210);
        t2.set_dst_port(5201);
        t2.set_seq_number(0x1a2b_3c4e);
        t2.set_ack_number(0x9e37_79ba);
        t2.set_header_len(32);
        let n = OptionWriter::new(t2.options_mut())
            .data(Some((0x5b4f_1a31, 0x0012_d687)), &[])
            .unwrap()
            .finish();
        assert_eq!(n, 12);
        t2.set_psh(true);
        t2.set_ack(true);
        t2.set_window_len(502);
        t2.payload_mut().copy_from_slice(b"hello, world!");
        t2.fill_checksum(A, B);
        assert_eq!(&buf[..], t.as_bytes());

        // Corruption is detected.
        let mut bad = t.as_bytes().to_vec();
        *bad.last_mut().unwrap() ^= 0x01;
        assert!(!TcpPacket::new_checked(&bad[..])
            .unwrap()
            .verify_checksum(A, B));
    }

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
    fn bad_option_lengths() {
        let malformed = |opts: &[u8]| {
            let v = collect(opts);
            let last = v.last().expect("at least one item");
            assert!(
                matches!(last, Err(WireError::Malformed(_))),
                "{opts:02x?}: {v:?}"
            );
            assert_eq!(v.iter().filter(|r| r.is_err()).count(), 1);
            assert!(TcpOptions::parse(opts).is_err());
        };
        malformed(&[2]); // length byte missing
        malformed(&[1, 1, 8]); // length byte missing after NOPs
        malformed(&[2, 0, 5, 0xb4]); // length 0
        malformed(&[2, 1, 5, 0xb4]); // length 1
        malformed(&[2, 4, 5]); // past end
        malformed(&[30, 200, 0, 0]); // unknown kind, past end
        malformed(&[2, 3, 5, 0]); // MSS length 3
        malformed(&[2, 5, 5, 0xb4, 0]); // MSS length 5
        malformed(&[3, 2, 0, 0]); // WS length 2
        malformed(&[3, 4, 7, 0]); // WS length 4
        malformed(&[4, 3, 0, 0]); // SACKperm length 3
        malformed(&[8, 8, 0, 0, 0, 0, 0, 0]); // TS length 8
        malformed(&[8, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // TS length 11
        malformed(&[5, 2, 0, 0]); // SACK with no blocks
        malformed(&[5, 9, 0, 0, 0, 0, 0, 0, 0]); // SACK not 2 + 8n
        let mut five = vec![5u8, 42];
        five.extend_from_slice(&[0; 40]);
        malformed(&five); // SACK with 5 blocks
                          // Error then garbage: iteration ends after the error.
        let v = collect(&[1, 2, 0, 1, 1, 1]);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], Ok(TcpOption::Nop));
        assert!(v[1].is_err());

        // SACK with 4 blocks is fine.
        let mut four = vec![5u8, 34];
        for i in 0..8u32 {
            four.extend_from_slice(&(i * 100).to_be_bytes());
        }
        let o = TcpOptions::parse(&four).unwrap();
        assert_eq!(
            o.sack_blocks(),
            &[(0, 100), (200, 300), (400, 500), (600, 700)]
        );
        let Some(Ok(TcpOption::Sack(b))) = parse_options(&four).next() else {
            panic!()
        };
        assert_eq!(b.iter().next_back(), Some((600, 700)));
        assert_eq!(b.iter().len(), 4);
        assert_eq!((&b).into_iter().count(), 4);
        assert_eq!(b.into_iter().map(|(l, _)| l).sum::<u32>(), 1200);
    }

    #[test]
    fn eol_unknown_and_clamping() {
        // EOL ends parsing even if garbage follows.
        let v = collect(&[1, 0, 2, 0xff, 0xff]);
        assert_eq!(v, vec![Ok(TcpOption::Nop), Ok(TcpOption::Eol)]);
        let mut it = parse_options(&[0, 9, 9]);
        assert_eq!(it.next(), Some(Ok(TcpOption::Eol)));
        assert!(it.remaining().is_empty());
        assert_eq!(it.next(), None);
        assert_eq!(it.next(), None);
        assert!(collect(&[]).is_empty());

        // Unknown options are passed through, and skipped by the summary.
        let opts = [30u8, 4, 0xab, 0xcd, 34, 2, 3, 3, 20, 4, 2, 0];
        let v = collect(&opts);
        assert_eq!(
            v,
            vec![
                Ok(TcpOption::Unknown {
                    kind: 30,
                    data: &[0xab, 0xcd]
                }),
                Ok(TcpOption::Unknown {
                    kind: 34,
                    data: &[]
                }),
                Ok(TcpOption::WindowScale(20)),
                Ok(TcpOption::SackPermitted),
                Ok(TcpOption::Eol),
            ]
        );
        let o = TcpOptions::parse(&opts).unwrap();
        assert_eq!(o.wscale, Some(MAX_WINDOW_SCALE), "clamped per RFC 7323");
        assert!(o.sack_permitted);
        // Options after EOL are ignored by the summary too.
        let o = TcpOptions::parse(&[0, 2, 4, 5, 0xb4]).unwrap();
        assert_eq!(o, TcpOptions::default());
        // Later occurrences win.
        let o = TcpOptions::parse(&[2, 4, 1, 0, 2, 4, 2, 0]).unwrap();
        assert_eq!(o.mss, Some(0x200));
    }

    #[test]
    fn sack_blocks_view() {
        assert!(SackBlocks::new(&[0; 7]).is_none());
        let empty = SackBlocks::new(&[]).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.get(0), None);
        let raw = hex("00000001 00000002 fffffffe ffffffff");
        let b = SackBlocks::new(&raw).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b.get(1), Some((0xffff_fffe, 0xffff_ffff)));
        assert_eq!(
            b.iter().collect::<Vec<_>>(),
            vec![(1, 2), (0xffff_fffe, 0xffff_ffff)]
        );
        let mut o = TcpOptions {
            sack_len: 200,
            ..TcpOptions::default()
        };
        assert_eq!(
            o.sack_blocks().len(),
            4,
            "out-of-range sack_len does not panic"
        );
        o.sack_len = 0;
        assert!(o.sack_blocks().is_empty());
    }

    #[test]
    fn option_writer() {
        // Truncation: nothing is written on failure.
        let mut small = [0x55u8; 4];
        let mut w = OptionWriter::new(&mut small);
        assert_eq!(w.timestamps(1, 2).err(), Some(WireError::Truncated));
        assert!(w.is_empty());
        w.mss(536).unwrap();
        assert_eq!(w.nop().err(), Some(WireError::Truncated));
        assert_eq!(w.len(), 4);
        assert_eq!(w.finish(), 4);
        assert_eq!(small, [2, 4, 2, 0x18]);

        // Padding: MSS + WS = 7 bytes -> 8 with EOL.
        let mut buf = [0xeeu8; 8];
        let n = OptionWriter::new(&mut buf)
            .mss(1460)
            .unwrap()
            .window_scale(9)
            .unwrap()
            .finish();
        assert_eq!(n, 8);
        assert_eq!(buf, [2, 4, 5, 0xb4, 3, 3, 9, 0]);
        let o = TcpOptions::parse(&buf).unwrap();
        assert_eq!((o.mss, o.wscale), (Some(1460), Some(9)));

        // Padding must fit: a 7-byte buffer cannot hold MSS + WS.
        let mut buf = [0u8; 7];
        let mut w = OptionWriter::new(&mut buf);
        w.mss(1460).unwrap();
        assert_eq!(w.window_scale(9).err(), Some(WireError::Truncated));
        assert_eq!(w.finish(), 4);

        // Empty writer.
        let mut buf = [0u8; 0];
        assert_eq!(OptionWriter::new(&mut buf).finish(), 0);

        // SACK block counts.
        let mut buf = [0u8; 40];
        let mut w = OptionWriter::new(&mut buf);
        assert!(matches!(w.sack(&[]), Err(WireError::Malformed(_))));
        assert!(matches!(w.sack(&[(0, 1); 5]), Err(WireError::Malformed(_))));
        assert!(matches!(
            w.data(None, &[(0, 1); 5]),
            Err(WireError::Malformed(_))
        ));
        assert!(w.is_empty());
        w.nop()
            .unwrap()
            .nop()
            .unwrap()
            .sack(&[(1, 2), (3, 4), (5, 6), (7, 8)])
            .unwrap();
        assert_eq!(w.finish(), 36);
        let o = TcpOptions::parse(&buf[..36]).unwrap();
        assert_eq!(o.sack_blocks(), &[(1, 2), (3, 4), (5, 6), (7, 8)]);

        // Four SACK blocks + TS do not fit in 40 bytes; three do.
        assert_eq!(max_sack_blocks(true), 3);
        assert_eq!(max_sack_blocks(false), 4);
        let mut buf = [0u8; MAX_OPTIONS_LEN];
        let mut w = OptionWriter::new(&mut buf);
        assert_eq!(
            w.data(Some((1, 2)), &[(0, 1); 4]).err(),
            Some(WireError::Truncated)
        );
        assert!(w.is_empty(), "nothing written on failure");
        w.data(Some((1, 2)), &[(0, 1); 3]).unwrap();
        assert_eq!(w.finish(), 40);
        let o = TcpOptions::parse(&buf).unwrap();
        assert_eq!(o.timestamps, Some((1, 2)));
        assert_eq!(o.sack_len, 3);
    }

    #[test]
    fn syn_layouts_round_trip() {
        for sack in [false, true] {
            for ts in [None, Some((0xdead_beef, 0x0102_0304))] {
                for ws in [None, Some(7), Some(14)] {
                    let mut buf = [0u8; MAX_OPTIONS_LEN];
                    let mut w = OptionWriter::new(&mut buf);
                    w.syn(1448, sack, ts, ws).unwrap();
                    let unpadded = w.len();
                    let n = w.finish();
                    assert_eq!(unpadded, n, "Linux layouts need no padding");
                    assert_eq!(n, syn_options_len(sack, ts.is_some(), ws.is_some()));
                    let o = TcpOptions::parse(&buf[..n]).unwrap();
                    assert_eq!(o.mss, Some(1448));
                    assert_eq!(o.sack_permitted, sack);
                    assert_eq!(o.timestamps, ts);
                    assert_eq!(o.wscale, ws);
                    // Too small a buffer fails without writing.
                    let mut short = vec![0u8; n - 1];
                    let mut w = OptionWriter::new(&mut short);
                    assert_eq!(w.syn(1448, sack, ts, ws).err(), Some(WireError::Truncated));
                    assert!(w.is_empty());
                }
            }
        }
        // Exact Linux byte layouts.
        let mut buf = [0u8; 40];
        let n = OptionWriter::new(&mut buf)
            .syn(1460, true, Some((1, 0)), Some(7))
            .unwrap()
            .finish();
        assert_eq!(
            &buf[..n],
            &hex("020405b4 0402080a 00000001 00000000 01030307")[..]
        );
        let n = OptionWriter::new(&mut buf)
            .syn(1460, true, None, Some(7))
            .unwrap()
            .finish();
        assert_eq!(&buf[..n], &hex("020405b4 01030307 01010402")[..]);
        let n = OptionWriter::new(&mut buf)
            .syn(1460, false, Some((1, 0)), None)
            .unwrap()
            .finish();
        assert_eq!(&buf[..n], &hex("020405b4 0101080a 00000001 00000000")[..]);
        let n = OptionWriter::new(&mut buf)
            .data(Some((5, 6)), &[])
            .unwrap()
            .finish();
        assert_eq!(&buf[..n], &hex("0101080a 00000005 00000006")[..]);
        assert_eq!(data_options_len(false, 0), 0);
        assert_eq!(data_options_len(false, 2), 20);
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
