//! The `tcp_options` harness: option parsing, option writing and the wire views on any
//! bytes, with the checksum helpers the views are verified by.
use super::Input;
use linerate_proto::wire::arp::ArpPacket;
use linerate_proto::wire::checksum::{self, PrefixSums};
use linerate_proto::wire::ethernet::EthernetFrame;
use linerate_proto::wire::ipv4::Ipv4Packet;
use linerate_proto::wire::tcp::{
    data_options_len, parse_options, syn_options_len, OptionWriter, TcpOption, TcpOptions,
    TcpPacket, MAX_WINDOW_SCALE,
};
use linerate_proto::wire::WireError;
use std::net::Ipv4Addr;

/// Runs one input: `data` as an options area, as a frame, IPv4 packet, TCP segment and ARP
/// packet, as bytes to checksum, and as a script for `OptionWriter`. Panics on a disagreement.
pub fn options(data: &[u8]) {
    parsers_agree(data);
    views(data);
    checksums(data);
    round_trip(data);
}

/// `parse_fast`, `parse_fast_into` and `parse` give one answer, and the iterator fails
/// exactly when `parse` does.
fn parsers_agree(opts: &[u8]) {
    let full = TcpOptions::parse(opts);
    assert_eq!(
        TcpOptions::parse_fast(opts),
        full,
        "parse_fast: {opts:02x?}"
    );
    let mut into = TcpOptions::default();
    let r = TcpOptions::parse_fast_into(opts, &mut into);
    assert_eq!(r.err(), full.err(), "parse_fast_into: {opts:02x?}");
    if let Ok(o) = full {
        assert_eq!(into, o, "parse_fast_into: {opts:02x?}");
        assert!(o.wscale.is_none_or(|s| s <= MAX_WINDOW_SCALE), "{o:?}");
        assert!(o.sack_len <= 4 && o.sack_blocks().len() == o.sack_len as usize);
    }
    let (mut failed, mut n) = (false, 0);
    for o in parse_options(opts) {
        n += 1;
        match o {
            Err(_) => failed = true,
            Ok(TcpOption::Eol) => break,
            Ok(TcpOption::Sack(b)) => {
                assert!((1..=4).contains(&b.len()), "{b:?}");
                assert_eq!(b.iter().count(), b.len());
                assert_eq!(b.iter().rev().count(), b.len());
                assert_eq!(b.as_bytes().len(), 8 * b.len());
            }
            Ok(_) => {}
        }
    }
    // Every option takes a byte at least, and an error ends the iteration.
    assert!(n <= opts.len());
    assert_eq!(failed, full.is_err(), "iterator vs parse: {opts:02x?}");
}

/// The views' constructors accept or refuse any bytes, and what they accept can be read
/// whole without a panic.
fn views(b: &[u8]) {
    if let Ok(e) = EthernetFrame::new_checked(b) {
        let _ = (e.dst(), e.src(), e.ethertype());
        assert_eq!(e.payload().len(), b.len() - 14);
    }
    if let Ok(ip) = Ipv4Packet::new_checked(b) {
        let hl = ip.header_len();
        assert!(
            hl >= 20 && hl <= usize::from(ip.total_len()) && usize::from(ip.total_len()) <= b.len()
        );
        assert_eq!(ip.options().len(), hl - 20);
        assert_eq!(ip.payload().len(), usize::from(ip.total_len()) - hl);
        let _ = (
            ip.verify_checksum(),
            ip.src(),
            ip.dst(),
            ip.protocol(),
            ip.ttl(),
        );
        let _ = (
            ip.is_fragment(),
            ip.frag_offset(),
            ip.ident(),
            ip.dscp(),
            ip.ecn(),
        );
    }
    if let Ok(t) = TcpPacket::new_checked(b) {
        let hl = t.header_len();
        assert!((20..=60).contains(&hl) && hl <= b.len());
        assert_eq!(t.options().len() + 20, hl);
        assert_eq!(t.payload().len(), b.len() - hl);
        assert!(t.seq_len() <= t.payload().len() + 2);
        let a = Ipv4Addr::new(198, 18, 0, 1);
        let _ = (
            t.verify_checksum(a, a),
            t.flags(),
            t.window_len(),
            t.urgent_ptr(),
        );
        let _ = (t.seq_number(), t.ack_number(), t.src_port(), t.dst_port());
        parsers_agree(t.options());
    }
    if let Ok(a) = ArpPacket::new_checked(b) {
        let _ = (a.operation(), a.sender_mac(), a.sender_ip());
        let _ = (a.target_mac(), a.target_ip());
    }
}

/// Ones' complement has two zeros (0x0000 and 0xffff): compare sums up to that.
fn same_sum(a: u32, b: u32) -> bool {
    let z = |x: u32| if x == 0xffff { 0 } else { x };
    z(a) == z(b)
}

/// RFC 1071 done the slow way: 16-bit big-endian words, end-around carry.
fn slow_sum(data: &[u8]) -> u32 {
    let mut acc: u32 = 0;
    for w in data.chunks(2) {
        let v = u32::from(w[0]) << 8 | u32::from(w.get(1).copied().unwrap_or(0));
        acc += v;
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// `sum`, its chaining, `PrefixSums::range` and the incremental updates against the slow
/// sum over the same bytes.
fn checksums(data: &[u8]) {
    let s = checksum::sum(data, 0);
    assert!(
        s <= 0xffff && same_sum(s, slow_sum(data)),
        "sum of {data:02x?}"
    );
    let mid = (data.len() / 2) & !1;
    let chained = checksum::sum(&data[mid..], checksum::sum(&data[..mid], 0));
    assert!(same_sum(chained, s), "chained sum");
    let added = checksum::add(
        checksum::sum(&data[..mid], 0),
        checksum::sum(&data[mid..], 0),
    );
    assert!(same_sum(added, s), "added sums");
    // A range set by the first bytes, in a table of the whole input.
    if data.len() >= 2 {
        let (a, b) = (
            data[0] as usize % data.len(),
            data[1] as usize % (data.len() + 1),
        );
        let (a, b) = (a.min(b), a.max(b));
        let r = PrefixSums::new(data).range(data, a, b);
        let want = if a < b {
            checksum::sum(&data[a..b], 0)
        } else {
            0
        };
        assert!(same_sum(r, want), "range {a}..{b} of {} bytes", data.len());
    }
    // A 16- and a 32-bit field changed in place: the updated checksum is the recomputed one.
    if data.len() >= 8 {
        let mut d = data.to_vec();
        let at = (d[0] as usize % (d.len() / 2 - 1)) * 2;
        let c0 = checksum::checksum(&d);
        let old = u16::from_be_bytes([d[at], d[at + 1]]);
        let new = u16::from_be_bytes([d[d.len() - 1], d[d.len() - 2]]);
        d[at..at + 2].copy_from_slice(&new.to_be_bytes());
        let c1 = checksum::checksum(&d);
        let u = checksum::update16(c0, old, new);
        assert!(same_sum(u.into(), c1.into()), "update16 at {at}");
        let at = at.min(d.len() - 4) & !1;
        let old = u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]);
        let new = old.rotate_left(7) ^ 0x5a5a_a5a5;
        d[at..at + 4].copy_from_slice(&new.to_be_bytes());
        let c2 = checksum::checksum(&d);
        let u = checksum::update32(c1, old, new);
        assert!(same_sum(u.into(), c2.into()), "update32 at {at}");
    }
}

/// What parsing an options area must give, kept as the writer writes it.
#[derive(Default)]
struct Want {
    o: TcpOptions,
    sack: Vec<(u32, u32)>,
}

impl Want {
    fn sack(&mut self, blocks: &[(u32, u32)]) {
        if !blocks.is_empty() {
            self.sack = blocks.to_vec();
        }
    }
}

fn blocks(inp: &mut Input, n: usize) -> Vec<(u32, u32)> {
    (0..n).map(|_| (inp.u32(), inp.u32())).collect()
}

/// Writes options as the input says into a buffer of the size it says; every write either
/// fits or fails leaving the buffer as it was, and what was written parses back to it.
fn round_trip(data: &[u8]) {
    let mut inp = Input::new(data);
    let cap = usize::from(inp.u8() % 41);
    let mut buf = [0xeeu8; 40];
    let mut w = OptionWriter::new(&mut buf[..cap]);
    let mut want = Want::default();
    while !inp.is_empty() {
        let before = w.len();
        let (r, grew): (Result<(), WireError>, Option<usize>) = match inp.u8() % 8 {
            0 => (w.nop().map(|_| ()), Some(1)),
            1 => {
                let m = inp.u16();
                let r = w.mss(m).map(|_| want.o.mss = Some(m));
                (r, Some(4))
            }
            2 => {
                let s = inp.u8();
                let r = w.window_scale(s).map(|_| {
                    want.o.wscale = Some(s.min(MAX_WINDOW_SCALE));
                });
                (r, Some(3))
            }
            3 => {
                let r = w.sack_permitted().map(|_| want.o.sack_permitted = true);
                (r, Some(2))
            }
            4 => {
                let ts = (inp.u32(), inp.u32());
                (
                    w.timestamps(ts.0, ts.1)
                        .map(|_| want.o.timestamps = Some(ts)),
                    Some(10),
                )
            }
            5 => {
                let n = usize::from(inp.u8() % 6);
                let b = blocks(&mut inp, n);
                let r = w.sack(&b).map(|_| want.sack(&b));
                if !(1..=4).contains(&n) {
                    assert!(matches!(r, Err(WireError::Malformed(_))), "{n} blocks");
                }
                (r, Some(2 + 8 * n))
            }
            6 => {
                let (mss, f, ws) = (inp.u16(), inp.u8(), inp.u8());
                let ts = (f & 2 != 0).then(|| (inp.u32(), inp.u32()));
                let (sack, wscale) = (f & 1 != 0, (f & 4 != 0).then_some(ws));
                let r = w.syn(mss, sack, ts, wscale).map(|_| {
                    want.o.mss = Some(mss);
                    want.o.sack_permitted |= sack;
                    want.o.timestamps = ts.or(want.o.timestamps);
                    want.o.wscale = wscale.map(|s| s.min(MAX_WINDOW_SCALE)).or(want.o.wscale);
                });
                let n = syn_options_len(sack, ts.is_some(), wscale.is_some());
                (r, Some(n))
            }
            _ => {
                let f = inp.u8();
                let ts = (f & 8 != 0).then(|| (inp.u32(), inp.u32()));
                let b = blocks(&mut inp, usize::from(f % 5));
                let r = w.data(ts, &b).map(|_| {
                    want.o.timestamps = ts.or(want.o.timestamps);
                    want.sack(&b);
                });
                (r, Some(data_options_len(ts.is_some(), b.len())))
            }
        };
        match (r, grew) {
            (Ok(()), Some(n)) => assert_eq!(w.len(), before + n, "a write of {n} bytes"),
            _ => assert_eq!(w.len(), before, "a failed write wrote"),
        }
    }
    let len = w.finish();
    assert!(len % 4 == 0 && len <= cap, "{len} of {cap}");
    let opts = &buf[..len];
    let got = TcpOptions::parse(opts).unwrap_or_else(|e| panic!("{e}: {opts:02x?}"));
    let w = &want.o;
    assert_eq!(
        (got.mss, got.wscale, got.sack_permitted, got.timestamps),
        (w.mss, w.wscale, w.sack_permitted, w.timestamps),
        "{opts:02x?}"
    );
    assert_eq!(got.sack_blocks(), &want.sack[..], "{opts:02x?}");
    parsers_agree(opts);
}
