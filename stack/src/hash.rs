//! The stack's 4-tuple key, and the hasher of the ACK peer's small maps (the established
//! table and the TIME-WAIT records hash the tuple with `ehash::FlowHasher`).
use linerate_proto::wire::ethernet::{EtherType, EthernetFrame};
use linerate_proto::wire::ipv4::{Ipv4Packet, Protocol};
use linerate_proto::wire::tcp::TcpPacket;
use std::net::Ipv4Addr;

/// A connection's key: (local address, remote address, remote port, local port).
pub(crate) type Tuple = (Ipv4Addr, Ipv4Addr, u16, u16);

/// The key of the connection an inbound Ethernet frame is for, if it is IPv4 TCP: a glance
/// for prefetching, not validation (input checks everything again).
#[inline]
pub(crate) fn tuple_of_frame(frame: &[u8]) -> Option<Tuple> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EtherType::IPV4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.protocol() != Protocol::TCP {
        return None;
    }
    let t = TcpPacket::new_checked(ip.payload()).ok()?;
    Some((ip.dst(), ip.src(), t.src_port(), t.dst_port()))
}

/// A fast keyed hash for the ACK peer's small maps (SipHash cost a few percent per
/// segment); the key is random per map.
#[cfg(feature = "ack-peer")]
#[derive(Clone)]
pub(crate) struct TupleHasher {
    key: u64,
}

#[cfg(feature = "ack-peer")]
impl TupleHasher {
    pub(crate) fn new() -> Self {
        use std::hash::BuildHasher;
        TupleHasher {
            key: std::collections::hash_map::RandomState::new().hash_one(0x6c69_6e65u64) | 1,
        }
    }
}

#[cfg(feature = "ack-peer")]
impl std::fmt::Debug for TupleHasher {
    /// The key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TupleHasher")
    }
}

#[cfg(feature = "ack-peer")]
impl std::hash::BuildHasher for TupleHasher {
    type Hasher = TupleHash;
    fn build_hasher(&self) -> TupleHash {
        TupleHash { h: self.key }
    }
}

#[cfg(feature = "ack-peer")]
pub(crate) struct TupleHash {
    h: u64,
}

#[cfg(feature = "ack-peer")]
impl std::hash::Hasher for TupleHash {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.write_u64(v as u64);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.h = (self.h.rotate_left(23) ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    #[inline]
    fn finish(&self) -> u64 {
        let h = self.h;
        (h ^ (h >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (h >> 32)
    }
}
