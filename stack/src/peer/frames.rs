//! The peer's frames: how one is written (`build`), and each stack address's SYN-ACK and ACK
//! built once with the fields every connection shares (and their checksum words summed), so
//! that a connection's SYN-ACK and its ACK frame are a copy, a few stores and a checksum
//! fold, not a build and a checksum over the whole header (at several hundred thousand
//! connections a second, that was 8 % of the core).
use crate::tcp::header::{finish_checksum, ts_option_sum, write_ts_option, TcpHdr};
use linerate_dpdk::Mbuf;
use linerate_proto::wire::checksum;
use linerate_proto::wire::ethernet::{EtherType, MacAddr};
use linerate_proto::wire::ipv4::{Ipv4Packet, Protocol};
use linerate_proto::wire::tcp::flags;
use linerate_proto::wire::{ETH_HEADER_LEN, IPV4_HEADER_LEN, TCP_HEADER_LEN};
use std::net::Ipv4Addr;

/// Where TCP starts in the peer's frames.
const L4: usize = ETH_HEADER_LEN + IPV4_HEADER_LEN;
/// A pure ACK with timestamps: Ethernet, IPv4, TCP and its 12 bytes of options.
pub(super) const ACK_FRAME_LEN: usize = L4 + TCP_HEADER_LEN + 12;
/// A SYN-ACK: Ethernet, IPv4, TCP and 20 bytes of options (MSS, SACK-permitted, TS, WS).
pub(super) const SYN_ACK_LEN: usize = L4 + TCP_HEADER_LEN + 20;
/// Where the SYN-ACK's echoed timestamp sits in its TCP header.
const SYN_ACK_TSECR: usize = 32;

/// Who the peer is on the wire, and the window it offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ends {
    pub(super) stack_mac: MacAddr,
    pub(super) peer_mac: MacAddr,
    pub(super) peer_ip: Ipv4Addr,
    /// Bytes, and the scale announced.
    pub(super) window: u32,
    pub(super) wscale: u8,
}

/// One segment from the peer to the stack.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hdr {
    pub(super) stack_ip: Ipv4Addr,
    pub(super) stack_port: u16,
    pub(super) our_port: u16,
    pub(super) seq: u32,
    pub(super) ack: u32,
    pub(super) ts_recent: u32,
    /// Timestamps option on (always on a SYN-ACK).
    pub(super) ts_on: bool,
    pub(super) fl: u8,
    pub(super) syn: bool,
}

/// Writes the peer's segment `h` into `b` (exactly the frame's length: headers, options,
/// then payload, which is left zero).
pub(super) fn build(b: &mut [u8], e: &Ends, h: &Hdr) {
    let tcp_len = b.len() - L4;
    b.fill(0); // recycled mbufs hold old bytes
    b[0..6].copy_from_slice(&e.stack_mac.0);
    b[6..12].copy_from_slice(&e.peer_mac.0);
    b[12..14].copy_from_slice(&EtherType::IPV4.to_be_bytes());
    Ipv4Packet::new_unchecked(&mut b[ETH_HEADER_LEN..L4]).emit_tcp(e.peer_ip, h.stack_ip, tcp_len);
    let t = &mut b[L4..];
    let wnd = if h.syn {
        65535
    } else {
        (e.window >> e.wscale).min(65535)
    };
    let th = TcpHdr {
        src_port: h.our_port,
        dst_port: h.stack_port,
        seq: h.seq,
        ack: h.ack,
        flags: h.fl,
        window: wnd as u16,
    };
    let hl = TCP_HEADER_LEN
        + if h.syn {
            20
        } else if h.ts_on {
            12
        } else {
            0
        };
    th.write(&mut t[..hl]);
    let mut hsum = th.sum(hl);
    if h.syn {
        // MSS 1460, SACK-permitted, TS, NOP, WS — Linux's SYN-ACK layout.
        t[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
        t[24..26].copy_from_slice(&[4, 2]);
        t[26..28].copy_from_slice(&[8, 10]);
        t[28..32].copy_from_slice(&1u32.to_be_bytes());
        t[32..36].copy_from_slice(&h.ts_recent.to_be_bytes());
        t[36..40].copy_from_slice(&[1, 3, 3, e.wscale]);
        hsum += checksum::sum(&t[20..40], 0);
    } else if h.ts_on {
        write_ts_option(&mut t[20..], 1, h.ts_recent);
        hsum += ts_option_sum(1, h.ts_recent);
    }
    finish_checksum(t, e.peer_ip, h.stack_ip, tcp_len, hsum, 0, false);
}

/// One stack address's frames with ports, numbers and echoed timestamp zero, and the sums of
/// the rest (pseudo-header included); the ends they were built for.
#[derive(Debug, Clone)]
pub(super) struct BaseFrames {
    ack: [u8; ACK_FRAME_LEN],
    ack_sum: u32,
    syn_ack: [u8; SYN_ACK_LEN],
    syn_ack_sum: u32,
    pub(super) ends: Ends,
}

/// The two 16-bit halves of `x`, added.
#[inline]
fn w(x: u32) -> u32 {
    (x >> 16) + (x & 0xffff)
}

impl BaseFrames {
    /// The frames for stack address `stack_ip`.
    pub(super) fn new(e: &Ends, stack_ip: Ipv4Addr) -> Self {
        let h = Hdr {
            stack_ip,
            stack_port: 0,
            our_port: 0,
            seq: 0,
            ack: 0,
            ts_recent: 0,
            ts_on: true,
            fl: flags::ACK,
            syn: false,
        };
        let summed = |f: &mut [u8]| {
            let tcp = &mut f[L4..];
            tcp[16..18].copy_from_slice(&[0, 0]);
            let len = tcp.len() as u16;
            let ph = checksum::pseudo_header_v4(e.peer_ip, stack_ip, Protocol::TCP, len);
            checksum::sum(tcp, ph)
        };
        let mut ack = [0u8; ACK_FRAME_LEN];
        build(&mut ack, e, &h);
        let ack_sum = summed(&mut ack);
        let mut syn_ack = [0u8; SYN_ACK_LEN];
        let syn = Hdr {
            fl: flags::SYN | flags::ACK,
            syn: true,
            ..h
        };
        build(&mut syn_ack, e, &syn);
        let syn_ack_sum = summed(&mut syn_ack);
        BaseFrames {
            ack,
            ack_sum,
            syn_ack,
            syn_ack_sum,
            ends: *e,
        }
    }

    /// The pure-ACK frame (with timestamps) between `our_port` and `stack_port`, with
    /// sequence, ACK and echoed timestamp zero, and the sum of everything else.
    pub(super) fn ack_template(
        &self,
        our_port: u16,
        stack_port: u16,
    ) -> ([u8; ACK_FRAME_LEN], u32) {
        let mut f = self.ack;
        f[L4..L4 + 2].copy_from_slice(&our_port.to_be_bytes());
        f[L4 + 2..L4 + 4].copy_from_slice(&stack_port.to_be_bytes());
        (f, self.ack_sum + our_port as u32 + stack_port as u32)
    }

    /// Writes the SYN-ACK `h` (its ports, numbers and echoed timestamp; the rest is the
    /// base's) into `f`, `SYN_ACK_LEN` bytes.
    pub(super) fn write_syn_ack(&self, f: &mut [u8], h: &Hdr) {
        f.copy_from_slice(&self.syn_ack);
        let tcp = &mut f[L4..];
        tcp[0..2].copy_from_slice(&h.our_port.to_be_bytes());
        tcp[2..4].copy_from_slice(&h.stack_port.to_be_bytes());
        tcp[4..8].copy_from_slice(&h.seq.to_be_bytes());
        tcp[8..12].copy_from_slice(&h.ack.to_be_bytes());
        tcp[SYN_ACK_TSECR..SYN_ACK_TSECR + 4].copy_from_slice(&h.ts_recent.to_be_bytes());
        let sum = self.syn_ack_sum
            + h.our_port as u32
            + h.stack_port as u32
            + w(h.seq)
            + w(h.ack)
            + w(h.ts_recent);
        tcp[16..18].copy_from_slice(&checksum::fold(sum).to_be_bytes());
    }
}

/// Writes into empty `m` the ACK frame `f` (whose other words sum to `sum`) with sequence,
/// ACK and echoed timestamp `(seq, ack, ts)` and flags `extra` (FIN) added to ACK; false
/// without room.
#[inline]
pub(super) fn fill_ack(
    m: &mut Mbuf,
    f: &[u8; ACK_FRAME_LEN],
    sum: u32,
    t: (u32, u32, u32),
    extra: u8,
) -> bool {
    let (seq, ack, ts) = t;
    let Some(b) = m.append(ACK_FRAME_LEN) else {
        return false;
    };
    b.copy_from_slice(f);
    let tcp = &mut b[ETH_HEADER_LEN + IPV4_HEADER_LEN..];
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&ack.to_be_bytes());
    tcp[13] |= extra;
    write_ts_option(&mut tcp[TCP_HEADER_LEN..], 1, ts);
    // The flags are the low byte of the word with the header length.
    let sum = sum + w(seq) + w(ack) + w(ts) + extra as u32;
    tcp[16..18].copy_from_slice(&checksum::fold(sum).to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends() -> Ends {
        Ends {
            stack_mac: MacAddr([2, 0, 0, 0, 0, 1]),
            peer_mac: MacAddr([2, 0, 0, 0, 0, 2]),
            peer_ip: Ipv4Addr::new(198, 18, 0, 2),
            window: 16 << 20,
            wscale: 9,
        }
    }

    /// The templated frames are byte for byte what `build` writes, checksums included.
    #[test]
    fn templates_match_full_builds() {
        let e = ends();
        let stack_ip = Ipv4Addr::new(198, 18, 1, 77);
        let base = BaseFrames::new(&e, stack_ip);
        for (our, stack, seq, ack, ts) in [
            (
                5201u16,
                40000u16,
                0x1234_5678u32,
                0x9abc_def0u32,
                0xfedc_ba98u32,
            ),
            (1, 65535, u32::MAX, 0, 1),
            (65535, 1, 0, u32::MAX, u32::MAX),
        ] {
            let syn = Hdr {
                stack_ip,
                stack_port: stack,
                our_port: our,
                seq,
                ack,
                ts_recent: ts,
                ts_on: true,
                fl: flags::SYN | flags::ACK,
                syn: true,
            };
            let mut want = [0u8; SYN_ACK_LEN];
            build(&mut want, &e, &syn);
            let mut got = [0xaau8; SYN_ACK_LEN];
            base.write_syn_ack(&mut got, &syn);
            assert_eq!(got, want, "SYN-ACK {our} {stack} {seq:#x} {ack:#x} {ts:#x}");

            let (f, sum) = base.ack_template(our, stack);
            let mut want = [0u8; ACK_FRAME_LEN];
            let a = Hdr {
                fl: flags::ACK,
                syn: false,
                ..syn
            };
            build(&mut want, &e, &a);
            // What `fill_ack` writes: the template plus the numbers, the sum plus their words.
            let mut got = f;
            let tcp = &mut got[L4..];
            tcp[4..8].copy_from_slice(&seq.to_be_bytes());
            tcp[8..12].copy_from_slice(&ack.to_be_bytes());
            write_ts_option(&mut tcp[TCP_HEADER_LEN..], 1, ts);
            let s = sum + w(seq) + w(ack) + w(ts);
            tcp[16..18].copy_from_slice(&checksum::fold(s).to_be_bytes());
            assert_eq!(got, want, "ACK {our} {stack}");
        }
    }
}
