//! `inet_hash_connect`: the source address and ephemeral port of an active open.
//!
//! RFC 6056 §3.3.3 (Algorithm 3), as Linux's `__inet_hash_connect`: the search for a free
//! port starts at a hash of the destination under the stack's secret key plus a counter,
//! so a port cannot be guessed from other connections' ports, while the ports to one
//! destination still come in sequence.
use crate::stack::Stack;
use linerate_dpdk::Device;
use linerate_proto::rss::PortPicker;
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, SocketAddrV4};

/// Keeps the port hash apart from the ISN hash, which shares its key.
const PORT_SALT: u32 = 0x6056;

impl<D: Device> Stack<D> {
    /// A free (source address, port) for a connection to `rip:rport`: each port with every
    /// source address in turn before the next port, so that a tuple comes back only after
    /// all sources × ports were used (stepping both together would visit only a
    /// `gcd`-th of the pairs).
    pub(crate) fn ephemeral(&mut self, rip: Ipv4Addr, rport: u16) -> Option<(Ipv4Addr, u16)> {
        let local = *self.ip.neigh.local();
        let n = local.sources();
        for _ in 0..n {
            let lip = local.source(self.next_src);
            // Compared, not divided: a connection-rate load connects a million times a second.
            self.next_src = if self.next_src + 1 >= n {
                0
            } else {
                self.next_src + 1
            };
            let next_port_too = self.next_src == 0;
            if let Some(p) = self.ephemeral_port(lip, rip, rport, next_port_too) {
                return Some((lip, p));
            }
        }
        None
    }

    /// A free port from `lip` to `rip:rport` (RFC 6056 §3.3.3, Algorithm 3): the search
    /// starts at a keyed hash of the destination plus the counter `next_port`, so no one
    /// can tell the next port from another connection's, and the ports to one destination
    /// still come in sequence. A found port moves the counter to it, and past it when
    /// `advance`.
    fn ephemeral_port(
        &mut self,
        lip: Ipv4Addr,
        rip: Ipv4Addr,
        rport: u16,
        advance: bool,
    ) -> Option<u16> {
        let (lo, hi) = self.cfg.ephemeral;
        let span = (hi as u32).saturating_sub(lo as u32) + 1;
        // The destination alone picks the offset (RFC 6056 hashes the local address too):
        // all source addresses then take a port in turn before the next port, as before,
        // which kept `--cps`'s TIME-WAIT look-ups local (with per-source offsets they
        // scattered and cost 13 % of the connection rate).
        let offset = self.port_offset(rip, rport, span);
        let start = lo + below(offset + self.next_port, span) as u16;
        let after = |p: u16| if p >= hi { lo } else { p + 1 };
        // The counter value that names port `p` for this destination.
        let counter = |p: u16| below(u32::from(p - lo) + span - offset + u32::from(advance), span);
        if let Some(rss) = &self.cfg.rss {
            let remote = SocketAddrV4::new(rip, rport);
            let picker = PortPicker::new(&rss.toeplitz, lip, remote);
            let taken = |p| !self.tuple_free(&(lip, rip, rport, p));
            if let Some(p) = picker.find(&rss.reta, rss.queue, (lo, hi), start, taken) {
                self.next_port = counter(p);
                self.tw.take(&(lip, rip, rport, p));
                return Some(p);
            }
        }
        let mut p = start;
        for _ in 0..span {
            if self.tuple_free(&(lip, rip, rport, p)) {
                self.next_port = counter(p);
                self.tw.take(&(lip, rip, rport, p));
                return Some(p);
            }
            p = after(p);
        }
        None
    }

    /// Where a destination's ports start in a range of `span`: the keyed hash of the
    /// destination (SipHash under the stack's secret key) modulo `span`, from a 16-entry
    /// cache: a load generator has few destinations, and the hash cost 2 % of `--cps`'s
    /// connection rate.
    fn port_offset(&mut self, rip: Ipv4Addr, rport: u16, span: u32) -> u32 {
        let i = (u32::from(rip) ^ u32::from(rport)) as usize % self.port_offsets.len();
        match self.port_offsets[i] {
            // Empty entries hold 0.0.0.0:0 and span 0, which no range has.
            (ip, port, sp, off) if ip == rip && port == rport && sp == span => off,
            _ => {
                let h = self.isn_key.hash_one((rip, rport, PORT_SALT));
                let off = (h % u64::from(span.max(1))) as u32;
                self.port_offsets[i] = (rip, rport, span, off);
                off
            }
        }
    }
}

/// `x mod m` for `x < 3 m`, by subtraction (what the port search's sums can reach).
#[inline]
fn below(mut x: u32, m: u32) -> u32 {
    while x >= m {
        x -= m;
    }
    x
}
