//! The handshake's last ACK against smoltcp over the simulated wire: by default it goes at
//! once (Linux's quick ACK); with `TcpConfig::quickack` off the app's first segment carries
//! it, and an app with nothing to say gets it sent alone at its next poll. With
//! `TcpConfig::cork` a write followed by close leaves as one segment with the FIN. Read off
//! the frames on the wire. Virtual time only.
mod common;

use linerate::dpdk::Eal;
use linerate::{ConnId, Nanos, State, TcpConfig, MS, SEC};
use linerate_sim::harness::*;
use linerate_sim::Dir;
use std::net::SocketAddrV4;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

/// (TCP flags, payload bytes) of each TCP frame that has reached the peer and waits for it
/// to read (taken before it does).
fn arrived(sim: &Sim) -> Vec<(u8, usize)> {
    let mut w = sim.wire.borrow_mut();
    w.deliver_due(sim.now);
    let n = w.pending(Dir::ToPeer);
    w.frames(Dir::ToPeer)
        .take(n)
        .filter(|f| f.len() >= 54 && f[12..14] == [8, 0] && f[23] == 6)
        .map(|f| {
            let ip_len = u16::from_be_bytes([f[16], f[17]]) as usize;
            let tcp_hl = (f[46] >> 4) as usize * 4;
            (f[47], ip_len - 20 - tcp_hl)
        })
        .collect()
}

/// Runs for `limit` of virtual time or until `done`, noting every frame of the stack's.
fn run(sim: &mut Sim, sent: &mut Vec<(u8, usize)>, limit: Nanos, done: impl Fn(&mut Sim) -> bool) {
    let end = sim.now + limit;
    while sim.now < end {
        sent.extend(arrived(sim));
        sim.tick();
        sim.read_peer();
        if done(sim) {
            return;
        }
        sim.advance();
    }
}

/// Connects with `cfg` and runs until ESTABLISHED: the EAL (kept while the simulation
/// lives), the simulation, the connection and the stack's frames so far.
fn established(cfg: TcpConfig, name: &str) -> (Eal, Sim, ConnId, Vec<(u8, usize)>) {
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, name, 1023);
    let mut sim = Sim::new(pool, SimSetup::clean(1));
    let id = sim
        .stack
        .connect_with(SocketAddrV4::new(PEER_IP, PORT), None, cfg)
        .expect("connect");
    let mut sent = Vec::new();
    run(&mut sim, &mut sent, SEC, |s| {
        s.stack.state(id) == Some(State::Established)
    });
    assert_eq!(sim.stack.state(id), Some(State::Established));
    (eal, sim, id, sent)
}

/// Connects with `quickack`; once established, the app writes `request` (if any) on its
/// turn between polls; runs until the peer has it all (or 100 ms). Returns the stack's
/// frames and what the peer read.
fn handshake(quickack: bool, request: &[u8], name: &str) -> (Vec<(u8, usize)>, Vec<u8>) {
    let cfg = TcpConfig {
        quickack,
        ..TcpConfig::default()
    };
    let (_eal, mut sim, id, mut sent) = established(cfg, name);
    if !request.is_empty() {
        assert_eq!(sim.stack.send(id, request), Ok(request.len()));
        sim.stack.flush();
    }
    let want = request.len();
    run(&mut sim, &mut sent, 100 * MS, |s| {
        want > 0 && s.received.len() == want
    });
    (sent, std::mem::take(&mut sim.received))
}

#[test]
fn sim_quickack_answers_the_syn_ack_at_once() {
    let (frames, got) = handshake(true, b"GET /", "qa-on");
    assert_eq!(got, b"GET /");
    assert_eq!(frames[0].0 & SYN, SYN, "{frames:?}");
    assert_eq!(frames[1], (ACK, 0), "a pure ACK first: {frames:?}");
    assert_eq!(frames[2].1, 5, "then the request: {frames:?}");
}

#[test]
fn sim_without_quickack_the_request_carries_the_handshake_ack() {
    let (frames, got) = handshake(false, b"GET /", "qa-off");
    assert_eq!(got, b"GET /");
    assert_eq!(frames[0].0 & SYN, SYN, "{frames:?}");
    assert_eq!(frames.len(), 2, "no pure ACK: {frames:?}");
    assert_eq!(frames[1].0 & ACK, ACK, "{frames:?}");
    assert_eq!(frames[1].1, 5, "{frames:?}");
}

#[test]
fn sim_without_quickack_a_silent_app_still_acks_the_syn_ack() {
    let (frames, _) = handshake(false, b"", "qa-silent");
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[1], (ACK, 0), "the ACK went alone: {frames:?}");
}

/// Connects (quickack off, as a connection-rate client), writes `request` and closes at
/// once, in the app's turn between polls; returns the stack's frames after the SYN and what
/// the peer read.
fn write_and_close(cork: bool, request: &[u8], name: &str) -> (Vec<(u8, usize)>, Vec<u8>) {
    let cfg = TcpConfig {
        quickack: false,
        cork,
        ..TcpConfig::default()
    };
    let (_eal, mut sim, id, mut sent) = established(cfg, name);
    assert_eq!(sim.stack.tx_backlog(), 0, "nothing waits for the NIC");
    assert_eq!(sim.stack.send(id, request), Ok(request.len()));
    assert_eq!(sim.stack.close(id), Ok(()));
    sim.stack.flush();
    let want = request.len();
    run(&mut sim, &mut sent, 100 * MS, |s| s.received.len() == want);
    sent.remove(0);
    (sent, std::mem::take(&mut sim.received))
}

#[test]
fn sim_corked_write_and_close_leave_as_one_segment() {
    let (frames, got) = write_and_close(true, b"GET / HTTP/1.0\r\n\r\n", "cork-on");
    assert_eq!(got, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].0 & (ACK | FIN), ACK | FIN, "{frames:?}");
    assert_eq!(frames[0].1, 18, "{frames:?}");
}

#[test]
fn sim_uncorked_write_goes_at_once_and_the_fin_after_it() {
    let (frames, got) = write_and_close(false, b"GET / HTTP/1.0\r\n\r\n", "cork-off");
    assert_eq!(got, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!((frames[0].0 & FIN, frames[0].1), (0, 18), "{frames:?}");
    assert_eq!(frames[1], (ACK | FIN, 0), "{frames:?}");
}
