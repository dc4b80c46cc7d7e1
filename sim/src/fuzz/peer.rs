//! The frame harness's end of the wire: what the peer knows of each connection, the frames
//! it builds from the input relative to that, and the checks on every frame the stack sends.
use super::Input;
use crate::harness::{PEER_IP, PEER_MAC, PORT, STACK_IP, STACK_MAC};
use linerate_proto::wire::arp::ArpPacket;
use linerate_proto::wire::ethernet::{EtherType, EthernetFrame, MacAddr};
use linerate_proto::wire::ipv4::Ipv4Packet;
use linerate_proto::wire::tcp::{flags, TcpOptions, TcpPacket};
use linerate_stack::ConnId;
use std::net::Ipv4Addr;
use std::sync::OnceLock;

/// An address in 198.18.0.0/15 from four input bytes.
fn addr(x: u32) -> Ipv4Addr {
    Ipv4Addr::from(0xc612_0000 | (x & 0x1_ffff))
}

/// A neighbour nobody answers ARP for (until the input does).
pub(super) const OTHER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
pub(super) const OTHER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x03]);

/// The pattern repeats with this (prime) period: whole slices of it are copied and compared
/// (a byte loop, instrumented for coverage, took most of an input's time).
const PERIOD: usize = 65_521;

/// `n` (at most 64 KiB) bytes of every stream from offset `off`: a segment carrying anything
/// else, or these bytes at another offset, is caught.
pub(super) fn pattern(off: u64, n: usize) -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    let t = TABLE.get_or_init(|| {
        (0..PERIOD as u64 + 65_536)
            .map(|i| ((i % PERIOD as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
            .collect()
    });
    let s = (off % PERIOD as u64) as usize;
    &t[s..s + n]
}

/// One connection (or a 4-tuple that has none) as the peer sees it.
#[derive(Debug, Clone)]
pub(super) struct Conn {
    pub lport: u16,
    pub rip: Ipv4Addr,
    pub id: Option<ConnId>,
    /// The peer's initial sequence number.
    pub irs: u32,
    /// Our ISS, from our SYN.
    pub iss: Option<u32>,
    /// The end of the highest sequence we sent (SYN and FIN count).
    pub snd_max: u32,
    /// The highest ACK the peer sent for data we sent.
    pub acked: u32,
    /// The ACK number of our last segment (our `rcv_nxt`).
    pub rcv_nxt: Option<u32>,
    /// Our last TSval, and the peer's clock.
    pub tsval: u32,
    pub peer_ts: u32,
    /// The largest payload we sent in one segment.
    pub seg: u32,
    /// Bytes the app handed to `send`, and whether it closed or shut down the connection.
    pub app: u64,
    pub fin: bool,
    /// The set-up made the handshake, so the stack's first sequence number from the peer is
    /// `irs` (else the input's SYN-ACK chose it); and the bytes the app read.
    pub irs_known: bool,
    pub rcvd: u64,
}

impl Conn {
    pub(super) fn new(i: usize, rip: Ipv4Addr) -> Conn {
        Conn {
            lport: 40_000 + i as u16,
            rip,
            id: None,
            irs: 0x7000_0000u32.wrapping_add((i as u32) << 24),
            iss: None,
            snd_max: 0,
            acked: 0,
            rcv_nxt: None,
            tsval: 0,
            peer_ts: 1000,
            seg: 1000,
            app: 0,
            fin: false,
            irs_known: false,
            rcvd: 0,
        }
    }

    /// Forgets the last connection on this tuple (a new one is opening).
    pub(super) fn reset(&mut self, id: ConnId) {
        *self = Conn {
            id: Some(id),
            irs: self.irs.wrapping_add(0x10_0000),
            peer_ts: self.peer_ts.wrapping_add(100_000),
            ..Conn::new(usize::from(self.lport - 40_000), self.rip)
        };
    }

    /// The sequence number the peer sends next.
    pub(super) fn peer_nxt(&self) -> u32 {
        self.rcv_nxt.unwrap_or(self.irs)
    }
}

/// A TCP segment from `c`'s peer with the given header fields, options and payload
/// length (the pattern's bytes at their sequence numbers); its checksum is wrong when
/// `bad_csum`.
#[allow(clippy::too_many_arguments)]
pub(super) fn tcp_frame(
    c: &Conn,
    seq: u32,
    ack: u32,
    fl: u8,
    wnd: u16,
    opts: &[u8],
    len: usize,
    bad_csum: bool,
) -> Vec<u8> {
    let thl = 20 + opts.len();
    let mut f = vec![0u8; 34 + thl + len];
    let mac = if c.rip == OTHER_IP {
        OTHER_MAC
    } else {
        PEER_MAC
    };
    f[0..6].copy_from_slice(&STACK_MAC.0);
    f[6..12].copy_from_slice(&mac.0);
    f[12..14].copy_from_slice(&EtherType::IPV4.to_be_bytes());
    Ipv4Packet::new_unchecked(&mut f[14..34]).emit_tcp(c.rip, STACK_IP, thl + len);
    let mut t = TcpPacket::new_unchecked(&mut f[34..]);
    t.set_src_port(PORT);
    t.set_dst_port(c.lport);
    t.set_seq_number(seq);
    t.set_ack_number(ack);
    t.set_header_len(thl);
    t.set_flags(fl);
    t.set_window_len(wnd);
    t.options_mut().copy_from_slice(opts);
    // The peer's stream follows the pattern too, from its first sequence number (offsets
    // modulo 2^32: a segment from before it has its tail at offset 0 on).
    let off = seq.wrapping_sub(c.irs.wrapping_add(1));
    let head = len.min(off.wrapping_neg() as usize);
    let p = t.payload_mut();
    p[..head].copy_from_slice(pattern(u64::from(off), head));
    p[head..].copy_from_slice(pattern(0, len - head));
    t.fill_checksum(c.rip, STACK_IP);
    if bad_csum {
        f[34 + 17] ^= 0x20;
    }
    f
}

/// An ARP packet in a frame to `dst`.
pub(super) fn arp_frame(
    dst: MacAddr,
    op: u16,
    smac: MacAddr,
    sip: Ipv4Addr,
    tip: Ipv4Addr,
) -> Vec<u8> {
    let mut f = vec![0u8; 42];
    f[0..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&smac.0);
    f[12..14].copy_from_slice(&EtherType::ARP.to_be_bytes());
    let mut a = ArpPacket::new_unchecked(&mut f[14..]);
    a.set_ethernet_ipv4();
    a.set_operation(op);
    a.set_sender_mac(smac);
    a.set_sender_ip(sip);
    a.set_target_ip(tip);
    f
}

/// Checks one frame the stack sent and learns from it: it parses, its checksums hold, it is
/// from our address, and a TCP segment of a known connection carries the app's bytes at
/// their offsets, its FIN right after the last of them and only once the app closed. Any
/// other segment is a RST (for a tuple with no connection).
pub(super) fn observe(conns: &mut [Conn], f: &[u8]) {
    let e = EthernetFrame::new_checked(f).expect("a runt from the stack");
    assert_eq!(e.src(), STACK_MAC, "source MAC");
    match e.ethertype() {
        EtherType::ARP => {
            let a = ArpPacket::new_checked(e.payload()).expect("our ARP parses");
            assert_eq!(a.sender_ip(), STACK_IP, "ARP from another address");
            return;
        }
        EtherType::IPV4 => {}
        t => panic!("the stack sent EtherType {t:#06x}"),
    }
    let ip = Ipv4Packet::new_checked(e.payload()).expect("our IPv4 parses");
    assert!(ip.verify_checksum(), "IPv4 checksum");
    assert_eq!(ip.src(), STACK_IP, "IPv4 source");
    assert!(!ip.is_fragment() && ip.dont_frag(), "fragment or no DF");
    assert_eq!(ip.protocol(), 6, "not TCP");
    let t = TcpPacket::new_checked(ip.payload()).expect("our TCP parses");
    assert!(t.verify_checksum(STACK_IP, ip.dst()), "TCP checksum");
    let opts = TcpOptions::parse(t.options()).expect("our options parse");
    let fl = t.flags();
    let tuple = (t.src_port(), ip.dst(), t.dst_port());
    // Stateless RSTs (for no connection, or the app's abort) teach nothing.
    if fl & flags::RST != 0 {
        assert!(t.payload().is_empty(), "data on a RST");
        return;
    }
    let c = conns
        .iter_mut()
        .find(|c| (c.lport, c.rip, PORT) == tuple)
        .filter(|c| c.iss.is_some() || fl & flags::SYN != 0)
        .unwrap_or_else(|| panic!("a segment for no connection: {tuple:?} flags {fl:#x}"));
    let seq = t.seq_number();
    if fl & flags::SYN != 0 {
        assert!(t.payload().is_empty(), "data on a SYN");
        match c.iss {
            None => {
                c.iss = Some(seq);
                c.snd_max = seq.wrapping_add(1);
                c.acked = seq;
            }
            Some(iss) => assert_eq!(seq, iss, "a SYN with another ISS"),
        }
    }
    let iss = c.iss.unwrap_or(seq);
    let len = t.payload().len() as u32;
    if len > 0 {
        let off = u64::from(seq.wrapping_sub(iss.wrapping_add(1)));
        assert!(
            off + u64::from(len) <= c.app,
            "bytes {off}..{} sent of {} the app gave",
            off + u64::from(len),
            c.app
        );
        assert!(
            t.payload() == pattern(off, len as usize),
            "bytes {off}.. of the stream"
        );
        c.seg = c.seg.max(len);
    }
    if fl & flags::FIN != 0 {
        assert!(c.fin, "FIN before the app closed");
        let end = u64::from(seq.wrapping_sub(iss.wrapping_add(1))) + u64::from(len);
        assert_eq!(end, c.app, "FIN not after the last byte");
    }
    let end = seq.wrapping_add(t.seq_len() as u32);
    if (end.wrapping_sub(c.snd_max) as i32) > 0 {
        c.snd_max = end;
    }
    if fl & flags::ACK != 0 && fl & flags::RST == 0 {
        c.rcv_nxt = Some(t.ack_number());
    }
    if let Some((v, _)) = opts.timestamps {
        c.tsval = v;
    }
}

/// A frame of raw input bytes, optionally addressed to us, with an IPv4 EtherType and
/// with its IPv4 and TCP checksums made right (so that more of them get past the checks).
pub(super) fn raw_frame(inp: &mut Input) -> Vec<u8> {
    let ctl = inp.u8();
    let len = usize::from(inp.u16()) % 1601;
    let mut f = inp.take(len).to_vec();
    if ctl & 1 != 0 && f.len() >= 6 {
        f[..6].copy_from_slice(&STACK_MAC.0);
    }
    if ctl & 2 != 0 && f.len() >= 14 {
        f[12..14].copy_from_slice(&EtherType::IPV4.to_be_bytes());
    }
    let hl = f.get(14).map_or(0, |b| usize::from(b & 15) * 4);
    if ctl & 4 != 0 && hl >= 20 && f.len() >= 14 + hl {
        let mut ip = Ipv4Packet::new_unchecked(&mut f[14..14 + hl]);
        if ctl & 16 != 0 {
            ip.set_src(PEER_IP);
            ip.set_dst(STACK_IP);
        }
        ip.fill_checksum();
    }
    if ctl & 8 != 0 {
        if let Ok(ip) = Ipv4Packet::new_checked(&f[14.min(f.len())..]) {
            let (src, dst) = (ip.src(), ip.dst());
            let (a, b) = (14 + hl, 14 + usize::from(ip.total_len()));
            if b >= a + 20 {
                TcpPacket::new_unchecked(&mut f[a..b]).fill_checksum(src, dst);
            }
        }
    }
    f
}

/// ARP requests and replies from the peer, the unanswered neighbour, us (a conflict) or
/// anyone in 198.18.0.0/15, possibly cut short.
pub(super) fn arp_input(inp: &mut Input) -> Vec<u8> {
    let ctl = inp.u8();
    let op = match ctl & 3 {
        1 => 2,
        3 => inp.u16(),
        _ => 1,
    };
    let pick = |sel: u8, inp: &mut Input| match sel & 3 {
        0 => PEER_IP,
        1 => OTHER_IP,
        2 => STACK_IP,
        _ => addr(inp.u32()),
    };
    let sip = pick(ctl >> 2, inp);
    let tip = pick((ctl >> 4) ^ 2, inp);
    let smac = if ctl & 0x40 != 0 {
        let b = inp.take(6);
        let mut m = [0u8; 6];
        m[..b.len()].copy_from_slice(b);
        MacAddr(m)
    } else if sip == PEER_IP {
        PEER_MAC
    } else {
        OTHER_MAC
    };
    let dst = if ctl & 0x80 != 0 {
        STACK_MAC
    } else {
        MacAddr([0xff; 6])
    };
    let mut f = arp_frame(dst, op, smac, sip, tip);
    let cut = usize::from(inp.u8());
    f.truncate(if cut < 42 { cut } else { 60 });
    f
}
