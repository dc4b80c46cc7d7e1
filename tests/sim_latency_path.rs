//! The latency path: with `nodelay`, a message of up to one MSS that the windows allow is on
//! the wire when `send` returns (header written, then the device's burst), not at the next
//! `flush` or `poll`; without it, the frame waits for them (the kernel's autocork), so that a
//! bulk writer's sends leave together. Against the SACK receiver on a clean simulated wire.
mod common;

use linerate::State;
use linerate_proto::wire::ethernet::EthernetFrame;
use linerate_proto::wire::ipv4::Ipv4Packet;
use linerate_proto::wire::tcp::TcpPacket;
use linerate_sim::harness::{PEER_IP, PORT};
use linerate_sim::sackpeer::{stack_config, SackSim};
use linerate_sim::{Dir, SimConfig};
use std::net::SocketAddrV4;

/// The TCP payload of a frame on the wire, if it is TCP.
fn payload_of(f: &[u8]) -> Option<Vec<u8>> {
    let eth = EthernetFrame::new_checked(f).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let t = TcpPacket::new_checked(ip.payload()).ok()?;
    Some(t.payload().to_vec())
}

/// Frames towards the receiver right after one 64-byte `send` on an established connection
/// (before any flush or poll), and the payload of the last of them.
fn after_one_send(name: &str, nodelay: bool) -> (usize, Option<Vec<u8>>) {
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, name, 4095);
    let mut cfg = stack_config();
    cfg.tcp.nodelay = nodelay;
    let mut sim = SackSim::with_config(pool, SimConfig::clean(1), SimConfig::clean(2), cfg);
    let id = sim
        .stack
        .connect(SocketAddrV4::new(PEER_IP, PORT), None)
        .unwrap();
    for _ in 0..1000 {
        sim.wire.borrow_mut().deliver_due(sim.now);
        sim.stack.poll(sim.now);
        sim.peer.poll(sim.now);
        if sim.stack.state(id) == Some(State::Established) {
            break;
        }
        sim.advance();
    }
    assert_eq!(sim.stack.state(id), Some(State::Established));
    sim.stack.flush();
    let on_wire = |w: &linerate_sim::SimWire| w.pending(Dir::ToPeer) + w.in_flight(Dir::ToPeer);
    let before = on_wire(&sim.wire.borrow());
    let msg: Vec<u8> = (0..64u8).collect();
    assert_eq!(sim.stack.send(id, &msg), Ok(64));
    let w = sim.wire.borrow();
    let n = on_wire(&w) - before;
    let last = w.frames(Dir::ToPeer).last().and_then(payload_of);
    (n, last)
}

#[test]
fn a_nodelay_message_is_on_the_wire_when_send_returns() {
    let msg: Vec<u8> = (0..64u8).collect();
    let (n, last) = after_one_send("lat_nodelay", true);
    assert_eq!(n, 1, "one frame left inside send");
    assert_eq!(last, Some(msg), "and it carries the message");
    let (n, _) = after_one_send("lat_cork", false);
    assert_eq!(n, 0, "without nodelay the frame waits for flush or poll");
}
