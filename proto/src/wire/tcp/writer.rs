//! TCP options: emitting, in Linux's layouts.

use super::{kind, MAX_OPTIONS_LEN};
use crate::wire::{Result, WireError};

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
///
/// [`TcpPacket::options_mut`]: super::TcpPacket::options_mut
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
mod tests {
    use super::super::testdata::{segment, A, B, DATA_PACKET, SACK_ACK_FRAME, SYN_FRAME};
    use super::super::{flags, TcpOptions, TcpPacket};
    use super::*;
    use crate::wire::ipv4::Ipv4Packet;
    use crate::wire::testutil::hex;

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
}
