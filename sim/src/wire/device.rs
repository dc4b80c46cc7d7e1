//! The two ends of the wire: [`SimDevice`] for the stack (a `Device`) and [`SimPeer`] for
//! the test.

use super::{Dir, SimWire};
use linerate_dpdk::Device;
use linerate_dpdk::{Mbuf, Mempool, Offloads, MAX_BURST};
use linerate_proto::wire::checksum;
use linerate_proto::wire::ethernet::{EtherType, MacAddr};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// The stack's end of the wire: a `Device`.
#[derive(Debug)]
pub struct SimDevice {
    wire: Rc<RefCell<SimWire>>,
    pool: Arc<Mempool>,
    mac: MacAddr,
    offloads: Offloads,
}

impl SimDevice {
    /// Offloads default to none (checksums in software).
    pub fn new(wire: Rc<RefCell<SimWire>>, pool: Arc<Mempool>, mac: MacAddr) -> Self {
        SimDevice {
            wire,
            pool,
            mac,
            offloads: Offloads::default(),
        }
    }

    /// Pretends the NIC offers TX checksum offloads (and TSO, with `tx_tso`): the device then
    /// completes the IPv4 and TCP checksums of outgoing frames and cuts TSO frames, as
    /// hardware would. (RX offloads are not emulated:
    /// received mbufs never carry "checksum good" flags.)
    pub fn with_offloads(mut self, o: Offloads) -> Self {
        self.offloads = o;
        self
    }

    pub fn wire(&self) -> &Rc<RefCell<SimWire>> {
        &self.wire
    }

    pub fn pool(&self) -> &Arc<Mempool> {
        &self.pool
    }
}

/// What a NIC with checksum offloads does to an outgoing frame: fills in the IPv4 header
/// checksum, and the TCP checksum by summing the TCP bytes with the checksum field as the
/// stack seeded it (the pseudo-header sum, DPDK's contract). A wrong seed gives a wrong
/// checksum, which the peer rejects.
fn complete_checksums(f: &mut [u8], o: Offloads) {
    if f.len() < 34 || u16::from_be_bytes([f[12], f[13]]) != EtherType::IPV4 {
        return;
    }
    let ihl = ((f[14] & 0x0f) as usize) * 4;
    let total = u16::from_be_bytes([f[16], f[17]]) as usize;
    if ihl < 20 || f.len() < 14 + ihl || total < ihl || f.len() < 14 + total {
        return;
    }
    if o.tx_ipv4_cksum {
        f[24] = 0;
        f[25] = 0;
        let c = checksum::checksum(&f[14..14 + ihl]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
    }
    if o.tx_tcp_cksum && f[23] == 6 && total >= ihl + 20 {
        let l4 = 14 + ihl;
        let len = total - ihl;
        let c = checksum::fold(checksum::sum(&f[l4..l4 + len], 0));
        f[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
    }
}

/// What a NIC with TSO does to a frame with `tso_segsz` set: cuts its TCP payload into
/// `segsz` pieces, each under a copy of the headers with its own IPv4 total length and ID
/// (counting up), sequence number, and FIN/PSH only on the last; the checksum seed (the
/// pseudo-header sum without the length) gets each segment's length added before the
/// checksums are completed as [`complete_checksums`] does.
fn tso_segments(f: &[u8], segsz: usize, o: Offloads, mut out: impl FnMut(&[u8])) {
    if f.len() < 34 || segsz == 0 {
        return;
    }
    let ihl = ((f[14] & 0x0f) as usize) * 4;
    if f.len() < 14 + ihl + 20 {
        return;
    }
    let l4 = 14 + ihl;
    let thl = ((f[l4 + 12] >> 4) as usize) * 4;
    let hl = l4 + thl;
    if thl < 20 || f.len() < hl {
        return;
    }
    let id0 = u16::from_be_bytes([f[18], f[19]]);
    let seq0 = u32::from_be_bytes([f[l4 + 4], f[l4 + 5], f[l4 + 6], f[l4 + 7]]);
    let seed = u16::from_be_bytes([f[l4 + 16], f[l4 + 17]]) as u32;
    let payload = &f[hl..];
    let n = payload.len().div_ceil(segsz);
    let mut seg = Vec::with_capacity(hl + segsz);
    for (i, chunk) in payload.chunks(segsz).enumerate() {
        seg.clear();
        seg.extend_from_slice(&f[..hl]);
        seg.extend_from_slice(chunk);
        let total = (ihl + thl + chunk.len()) as u16;
        seg[16..18].copy_from_slice(&total.to_be_bytes());
        seg[18..20].copy_from_slice(&id0.wrapping_add(i as u16).to_be_bytes());
        let seq = seq0.wrapping_add((i * segsz) as u32);
        seg[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        if i + 1 < n {
            seg[l4 + 13] &= !0x09; // FIN and PSH belong to the last segment
        }
        let with_len = !checksum::fold(seed + (thl + chunk.len()) as u32);
        seg[l4 + 16..l4 + 18].copy_from_slice(&with_len.to_be_bytes());
        complete_checksums(&mut seg, o);
        out(&seg);
    }
}

impl Device for SimDevice {
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        let mut w = self.wire.borrow_mut();
        let mut n = 0;
        while n < MAX_BURST {
            let link = &mut w.links[Dir::ToStack as usize];
            let Some(len) = link.ready.front().map(|f| f.len()) else {
                break;
            };
            let Some(mut m) = self.pool.alloc() else {
                link.stats.rx_no_mbuf += 1;
                break;
            };
            let Some(f) = link.ready.pop_front() else {
                break;
            };
            match m.append(len) {
                Some(d) => {
                    d.copy_from_slice(&f);
                    link.stats.delivered += 1;
                    out.push(m);
                    n += 1;
                }
                None => link.stats.rx_oversize += 1,
            }
            w.recycle(f);
        }
        n
    }

    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let mut w = self.wire.borrow_mut();
        let ring = w.links[Dir::ToPeer as usize].imp.cfg.tx_ring.max(1);
        let n = pkts.len().min(ring);
        if n < pkts.len() {
            w.links[Dir::ToPeer as usize].stats.tx_partial += 1;
        }
        let offl = self.offloads;
        let mut scratch = w.buf();
        for m in pkts.drain(..n) {
            scratch.clear();
            m.copy_to(&mut scratch);
            // A NIC acts on what each mbuf asks for, within what the port has enabled.
            let req = m.tx_offload();
            drop(m); // the NIC is done with it: back to the pool (or to its other owner)
            let mut o = offl;
            o.tx_ipv4_cksum &= req.ip_cksum;
            o.tx_tcp_cksum &= req.tcp_cksum;
            if req.tso_segsz > 0 && offl.tx_tso {
                w.links[Dir::ToPeer as usize].stats.tso_frames += 1;
                let segsz = req.tso_segsz as usize;
                tso_segments(&scratch, segsz, o, |seg| w.send(Dir::ToPeer, seg));
                continue;
            }
            if o.tx_ipv4_cksum || o.tx_tcp_cksum {
                complete_checksums(&mut scratch, o);
            }
            w.send(Dir::ToPeer, &scratch);
        }
        w.recycle(scratch);
        n
    }

    fn mac(&self) -> MacAddr {
        self.mac
    }

    fn offloads(&self) -> Offloads {
        self.offloads
    }
}

/// The far end of the wire, for tests: raw Ethernet frames in and out.
#[derive(Debug, Clone)]
pub struct SimPeer {
    wire: Rc<RefCell<SimWire>>,
}

impl SimPeer {
    pub fn new(wire: Rc<RefCell<SimWire>>) -> Self {
        SimPeer { wire }
    }

    pub fn wire(&self) -> &Rc<RefCell<SimWire>> {
        &self.wire
    }

    /// Sends a frame towards the stack (through the impairments).
    pub fn send(&self, frame: &[u8]) {
        self.wire.borrow_mut().send(Dir::ToStack, frame);
    }

    /// The next frame the stack sent that has arrived.
    pub fn recv(&self) -> Option<Vec<u8>> {
        self.wire.borrow_mut().recv(Dir::ToPeer)
    }

    /// Like `recv`, copying into `out` and keeping the wire's buffer for reuse.
    pub fn recv_into(&self, out: &mut Vec<u8>) -> bool {
        self.wire.borrow_mut().recv_into(Dir::ToPeer, out)
    }

    /// Gives a buffer from `recv` back for reuse.
    pub fn recycle(&self, b: Vec<u8>) {
        self.wire.borrow_mut().recycle(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_offload_emulation_fills_checksums() {
        // Ethernet + IPv4 + TCP(20) + 3 bytes payload; the TCP checksum field seeded with the
        // pseudo-header sum, as DPDK's offload contract asks of the stack.
        let mut f = vec![0u8; 14 + 20 + 23];
        f[12] = 0x08;
        f[14] = 0x45;
        f[16..18].copy_from_slice(&43u16.to_be_bytes());
        f[22] = 64;
        f[23] = 6;
        f[26..30].copy_from_slice(&[198, 18, 0, 1]);
        f[30..34].copy_from_slice(&[198, 18, 0, 2]);
        f[34 + 12] = 5 << 4;
        f[54..57].copy_from_slice(b"abc");
        let ph = checksum::pseudo_header_v4([198, 18, 0, 1].into(), [198, 18, 0, 2].into(), 6, 23);
        f[34 + 16..34 + 18].copy_from_slice(&(!checksum::fold(ph)).to_be_bytes());
        complete_checksums(
            &mut f,
            Offloads {
                tx_ipv4_cksum: true,
                tx_tcp_cksum: true,
                ..Default::default()
            },
        );
        assert_eq!(
            checksum::checksum(&f[14..34]),
            0,
            "IPv4 header sums to zero"
        );
        assert_eq!(
            checksum::fold(checksum::sum(&f[34..], ph)),
            0,
            "TCP segment sums to zero"
        );
        // A wrong seed (here: none) gives a wrong checksum, as on a real NIC.
        f[34 + 16..34 + 18].copy_from_slice(&[0, 0]);
        complete_checksums(
            &mut f,
            Offloads {
                tx_tcp_cksum: true,
                ..Default::default()
            },
        );
        assert_ne!(checksum::fold(checksum::sum(&f[34..], ph)), 0);
    }

    #[test]
    fn sim_tso_emulation_cuts_frames() {
        // One TSO frame: 10 bytes of payload cut at 4, seeded with the pseudo-header sum
        // without length; FIN|PSH|ACK must stay on the last piece only.
        let mut f = vec![0u8; 14 + 20 + 20 + 10];
        f[12] = 0x08;
        f[14] = 0x45;
        f[16..18].copy_from_slice(&50u16.to_be_bytes());
        f[18..20].copy_from_slice(&7u16.to_be_bytes());
        f[22] = 64;
        f[23] = 6;
        f[26..30].copy_from_slice(&[198, 18, 0, 1]);
        f[30..34].copy_from_slice(&[198, 18, 0, 2]);
        f[34 + 4..34 + 8].copy_from_slice(&1000u32.to_be_bytes());
        f[34 + 12] = 5 << 4;
        f[34 + 13] = 0x19;
        let (src, dst) = ([198, 18, 0, 1].into(), [198, 18, 0, 2].into());
        let ph0 = checksum::pseudo_header_v4(src, dst, 6, 0);
        f[34 + 16..34 + 18].copy_from_slice(&(!checksum::fold(ph0)).to_be_bytes());
        f[54..64].copy_from_slice(b"0123456789");
        let o = Offloads {
            tx_ipv4_cksum: true,
            tx_tcp_cksum: true,
            tx_tso: true,
            ..Default::default()
        };
        let mut segs = Vec::new();
        tso_segments(&f, 4, o, |s| segs.push(s.to_vec()));
        assert_eq!(segs.len(), 3);
        for (i, s) in segs.iter().enumerate() {
            let len = s.len() - 54;
            assert_eq!(&s[54..], &b"0123456789"[i * 4..i * 4 + len]);
            assert_eq!(u16::from_be_bytes([s[16], s[17]]) as usize, 40 + len);
            assert_eq!(
                u16::from_be_bytes([s[18], s[19]]),
                7 + i as u16,
                "IDs count up"
            );
            let seq = u32::from_be_bytes([s[38], s[39], s[40], s[41]]);
            assert_eq!(seq, 1000 + 4 * i as u32);
            let fl = s[34 + 13];
            assert_eq!(
                fl,
                if i == 2 { 0x19 } else { 0x10 },
                "FIN and PSH on the last"
            );
            assert_eq!(checksum::checksum(&s[14..34]), 0);
            let ph = checksum::pseudo_header_v4(src, dst, 6, (20 + len) as u16);
            assert_eq!(
                checksum::fold(checksum::sum(&s[34..], ph)),
                0,
                "segment {i}"
            );
        }
    }
}
