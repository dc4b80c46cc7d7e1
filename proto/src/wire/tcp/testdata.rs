//! Segments shared by the TCP tests: real Linux frames and helpers.

use std::net::Ipv4Addr;

use super::{parse_options, TcpOption};
use crate::wire::ipv4::Ipv4Packet;
use crate::wire::Result;

pub(super) const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub(super) const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

// Linux-style SYN 198.18.0.1:43210 -> 198.18.0.2:5201 in an Ethernet
// frame: MSS 1460, SACK_PERM, TS(0x5b4f1a2c, 0), NOP, WS 7; window 64240.
// IPv4 checksum 0x7277, TCP checksum 0x37d8.
pub(super) const SYN_FRAME: &str = "020000000002 020000000001 0800
        4500 003c 3c1d 4000 4006 7277 c612 0001 c612 0002
        a8ca 1451 1a2b3c4d 00000000 a0 02 faf0 37d8 0000
        020405b4 0402080a 5b4f1a2c 00000000 01030307";

// Pure ACK 198.18.0.2:5201 -> 198.18.0.1:43210 with NOP,NOP,TS and
// NOP,NOP,SACK(1 block). IPv4 checksum 0xae90, TCP checksum 0x5939.
pub(super) const SACK_ACK_FRAME: &str = "020000000001 020000000002 0800
        4500 0040 0000 4000 4006 ae90 c612 0002 c612 0001
        1451 a8ca 9e3779b9 1a2b4400 b0 10 01f5 5939 0000
        0101080a 0012d687 5b4f1a30 0101050a 1a2b5000 1a2b55a8";

// IPv4 packet: PSH|ACK data segment with an odd-length payload
// "hello, world!" and NOP,NOP,TS. TCP checksum 0x0f9d.
pub(super) const DATA_PACKET: &str = "4500 0041 3c1e 4000 4006 7271 c612 0001 c612 0002
        a8ca 1451 1a2b3c4e 9e3779ba 80 18 01f6 0f9d 0000
        0101080a 5b4f1a31 0012d687
        68656c6c6f2c20776f726c6421";

/// The TCP segment inside an Ethernet/IPv4 frame.
pub(super) fn segment(frame: &[u8]) -> Vec<u8> {
    let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    assert!(ip.verify_checksum());
    ip.payload().to_vec()
}

pub(super) fn collect(opts: &[u8]) -> Vec<Result<TcpOption<'_>>> {
    parse_options(opts).collect()
}
