//! TCP options: parsing (RFC 9293, RFC 7323, RFC 2018).

use core::fmt;
use core::iter::FusedIterator;
use core::slice::ChunksExact;

use super::{be32, kind, MAX_WINDOW_SCALE};
use crate::wire::{Result, WireError};

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
///
/// [`TcpPacket::options`]: super::TcpPacket::options
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

/// Linux's SYN and SYN-ACK options, 20 bytes (`tcp_options_write`; linerate writes the same):
/// MSS, SACK-permitted, timestamps, NOP, window scale. Read into `out` (holding the defaults)
/// in one match: the general parser took some 500 instructions for them, once per connection
/// of a connection-rate load. False, with `out` untouched, for any other layout.
#[inline]
fn read_linux_syn(opts: &[u8], out: &mut TcpOptions) -> bool {
    let [2, 4, m0, m1, 4, 2, 8, 10, v0, v1, v2, v3, e0, e1, e2, e3, 1, 3, 3, ws] = *opts else {
        return false;
    };
    out.mss = Some(u16::from_be_bytes([m0, m1]));
    out.sack_permitted = true;
    out.timestamps = Some((
        u32::from_be_bytes([v0, v1, v2, v3]),
        u32::from_be_bytes([e0, e1, e2, e3]),
    ));
    out.wscale = Some(ws.min(MAX_WINDOW_SCALE));
    true
}

impl TcpOptions {
    /// The usual options of an established connection — none, or NOP, NOP, timestamps —
    /// and Linux's SYN layout read directly; anything else goes through
    /// [`TcpOptions::parse`] (the kernel's `tcp_fast_parse_options`).
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
            _ => {
                let mut out = TcpOptions::default();
                if read_linux_syn(opts, &mut out) {
                    Ok(out)
                } else {
                    TcpOptions::parse(opts)
                }
            }
        }
    }

    /// [`TcpOptions::parse_fast`] into `out`, which should hold the defaults: the hot path
    /// then moves no large value through a `Result` (that copy stalled on store
    /// forwarding). On an error `out` may be partly written.
    #[inline]
    pub fn parse_fast_into(opts: &[u8], out: &mut TcpOptions) -> Result<()> {
        match opts {
            [] => Ok(()),
            [1, 1, 8, 10, v0, v1, v2, v3, e0, e1, e2, e3] => {
                out.timestamps = Some((
                    u32::from_be_bytes([*v0, *v1, *v2, *v3]),
                    u32::from_be_bytes([*e0, *e1, *e2, *e3]),
                ));
                Ok(())
            }
            _ if read_linux_syn(opts, out) => Ok(()),
            _ => {
                *out = TcpOptions::parse(opts)?;
                Ok(())
            }
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
        // In place: the same answers.
        for o in [&ts[..], &[], &sack[..]] {
            let mut out = TcpOptions::default();
            TcpOptions::parse_fast_into(o, &mut out).unwrap();
            assert_eq!(Ok(out), TcpOptions::parse(o));
        }
        let mut out = TcpOptions::default();
        assert!(TcpOptions::parse_fast_into(&[2, 9, 0, 0], &mut out).is_err());
    }

    /// Linux's SYN layout, read directly: byte for byte what the full parser reads, a window
    /// scale above 14 capped the same way, and a layout one byte off left to the parser.
    #[test]
    fn linux_syn_layout_agrees_with_full_parser() {
        let mut syn = [
            2u8, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let fast = TcpOptions::parse_fast(&syn).unwrap();
        assert_eq!(Ok(fast), TcpOptions::parse(&syn));
        assert_eq!(
            (fast.mss, fast.sack_permitted, fast.timestamps, fast.wscale),
            (Some(1460), true, Some((0x1234_5678, 0)), Some(7))
        );
        let mut out = TcpOptions::default();
        TcpOptions::parse_fast_into(&syn, &mut out).unwrap();
        assert_eq!(out, fast);
        syn[19] = 200;
        assert_eq!(TcpOptions::parse_fast(&syn), TcpOptions::parse(&syn));
        assert_eq!(TcpOptions::parse_fast(&syn).unwrap().wscale, Some(14));
        // SACK-permitted with a bad length: not the layout, and the parser's error stands.
        syn[5] = 3;
        assert!(TcpOptions::parse_fast(&syn).is_err());
        let mut out = TcpOptions::default();
        assert!(TcpOptions::parse_fast_into(&syn, &mut out).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{collect, segment, A, B, SACK_ACK_FRAME, SYN_FRAME};
    use super::super::{flags, TcpPacket};
    use super::*;
    use crate::wire::testutil::hex;
    use std::net::Ipv4Addr;

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
}
