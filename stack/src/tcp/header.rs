//! The one TCP header writer, for data, pure ACKs, SYNs and RSTs alike (and the ACK peer):
//! the fixed header through the `wire::tcp` view, the timestamps option, and the checksum
//! from partial sums.
use linerate_proto::wire::checksum;
use linerate_proto::wire::ipv4::Protocol;
use linerate_proto::wire::tcp::TcpPacket;
use linerate_proto::wire::TCP_TS_OPTIONS_LEN;
use std::net::Ipv4Addr;

/// The fields `tcp_transmit_skb` fills in a header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpHdr {
    pub(crate) src_port: u16,
    pub(crate) dst_port: u16,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: u8,
    pub(crate) window: u16,
}

impl TcpHdr {
    /// Writes the fixed 20 bytes at the front of `h`, whose length is the whole header with
    /// its options (a multiple of 4, 20..=60). Checksum and urgent pointer are zeroed.
    /// The ones'-complement word sum of the fixed header of `hdr_len` bytes (checksum field
    /// zero, options not included), from the fields themselves: summing bytes just stored
    /// would stall on store-to-load forwarding, on the hottest path there is.
    #[inline]
    pub(crate) fn sum(&self, hdr_len: usize) -> u32 {
        self.src_port as u32
            + self.dst_port as u32
            + words(self.seq)
            + words(self.ack)
            + (((hdr_len as u32 / 4) << 12) | self.flags as u32)
            + self.window as u32
    }

    #[inline]
    pub(crate) fn write(&self, h: &mut [u8]) {
        let hl = h.len();
        let mut t = TcpPacket::new_unchecked(h);
        t.set_src_port(self.src_port);
        t.set_dst_port(self.dst_port);
        t.set_seq_number(self.seq);
        t.set_ack_number(self.ack);
        t.set_header_len(hl);
        t.set_flags(self.flags);
        t.set_window_len(self.window);
        t.set_checksum(0);
        t.set_urgent_ptr(0);
    }
}

/// The two 16-bit halves of `x`, added.
#[inline]
fn words(x: u32) -> u32 {
    (x >> 16) + (x & 0xffff)
}

/// The word sum of the option [`write_ts_option`] writes.
#[inline]
pub(crate) fn ts_option_sum(tsval: u32, tsecr: u32) -> u32 {
    0x0101 + 0x080a + words(tsval) + words(tsecr)
}

/// Writes NOP, NOP, TS(`tsval`, `tsecr`) into the first 12 bytes of `o` (RFC 7323 Appendix
/// A's layout, the options of every segment once timestamps are on).
#[inline]
pub(crate) fn write_ts_option(o: &mut [u8], tsval: u32, tsecr: u32) {
    let o = &mut o[..TCP_TS_OPTIONS_LEN];
    o[0] = 1;
    o[1] = 1;
    o[2] = 8;
    o[3] = 10;
    o[4..8].copy_from_slice(&tsval.to_be_bytes());
    o[8..12].copy_from_slice(&tsecr.to_be_bytes());
}

/// Sets the TCP checksum of header `h` from the header's word sum `hdr_sum` (fixed part and
/// options, as [`TcpHdr::sum`] and [`ts_option_sum`] give it) and the payload's partial sum
/// kept when it was copied in: the pseudo-header sum only when the NIC completes the
/// checksum. `tcp_len` is header plus payload.
#[inline]
pub(crate) fn finish_checksum(
    h: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    tcp_len: usize,
    hdr_sum: u32,
    payload_sum: u32,
    offload: bool,
) {
    let ph = checksum::pseudo_header_v4(src, dst, Protocol::TCP, tcp_len as u16);
    let c = if offload {
        !checksum::fold(ph)
    } else {
        checksum::fold(checksum::add(checksum::add(ph, hdr_sum), payload_sum))
    };
    h[16..18].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_and_checksum() {
        let mut h = [0xeeu8; 32];
        let th = TcpHdr {
            src_port: 0x1234,
            dst_port: 5201,
            seq: 0x0102_0304,
            ack: 0x0a0b_0c0d,
            flags: 0x18,
            window: 0xfffe,
        };
        th.write(&mut h);
        write_ts_option(&mut h[20..], 7, 9);
        assert_eq!(
            h[..20],
            [
                0x12, 0x34, 0x14, 0x51, 1, 2, 3, 4, 10, 11, 12, 13, 0x80, 0x18, 0xff, 0xfe, 0, 0,
                0, 0
            ]
        );
        assert_eq!(h[20..], [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]);
        let (src, dst) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 19, 0, 2));
        let payload = b"hello, world";
        let mut seg = h.to_vec();
        seg.extend_from_slice(payload);
        let hdr_sum = checksum::sum(&seg[..32], 0);
        assert_eq!(
            checksum::fold(hdr_sum),
            checksum::fold(th.sum(32) + ts_option_sum(7, 9)),
            "the sum from the fields is the sum of the bytes"
        );
        finish_checksum(
            &mut seg[..32],
            src,
            dst,
            32 + payload.len(),
            hdr_sum,
            checksum::sum(payload, 0),
            false,
        );
        assert!(TcpPacket::new_checked(&seg[..])
            .unwrap()
            .verify_checksum(src, dst));
        // Offloaded: only the pseudo-header sum, as the NIC expects.
        finish_checksum(&mut h, src, dst, 44, 0, 0, true);
        let ph = checksum::pseudo_header_v4(src, dst, Protocol::TCP, 44);
        assert_eq!(u16::from_be_bytes([h[16], h[17]]), !checksum::fold(ph));
    }
}
