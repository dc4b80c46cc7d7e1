//! The TCP send path end to end against the Linux kernel's TCP receiver, through the kernel
//! router of the namespace topology. Needs root, `scripts/topology.sh up`, and to run inside
//! lr-gen (scripts/test.sh does all three).
mod common;

use common::e2e::*;
use linerate::{State, TcpError, TscClock};
use std::net::SocketAddrV4;
use std::time::Duration;

fn check(sink: Vec<SinkConn>, payloads: &[Vec<u8>]) {
    assert_eq!(sink.len(), payloads.len(), "one sink report per connection");
    let mut want: Vec<(u64, String)> = payloads
        .iter()
        .map(|p| (p.len() as u64, sha256_hex(p)))
        .collect();
    let mut got: Vec<(u64, String)> = sink.iter().map(|c| (c.bytes, c.sha256.clone())).collect();
    want.sort();
    got.sort();
    assert_eq!(
        got, want,
        "every byte arrived intact (SHA-256 per connection)"
    );
    assert!(
        sink.iter().all(|c| c.closed == "fin"),
        "every connection closed with FIN: {sink:?}"
    );
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn a_one_connection_256mib() {
    let (env, _g) = env();
    let base = env.pool.in_use();
    let clock = TscClock::new();
    let mut stack = new_stack(env, stack_config(), &clock);
    let sink = Sink::start(5301, 1);
    let payloads = vec![random_bytes(1, 256 << 20)];
    let ids = transfer(
        &mut stack,
        &clock,
        sink.addr(),
        &payloads,
        Duration::from_secs(300),
    );
    check(sink.finish(), &payloads);
    settle(&mut stack, &clock, Duration::from_millis(1200));
    assert!(
        ids.iter().all(|&id| stack.state(id).is_none()),
        "connections freed after TIME-WAIT"
    );
    let st = stack.stats();
    assert!(st.dev.tx_frames > (256 << 20) / 1448, "{st:?}");
    drop(stack);
    assert_eq!(env.pool.in_use(), base, "every mbuf back in the pool");
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn b_32_connections_8mib_each() {
    let (env, _g) = env();
    let base = env.pool.in_use();
    let clock = TscClock::new();
    let mut stack = new_stack(env, stack_config(), &clock);
    let sink = Sink::start(5302, 32);
    let payloads: Vec<Vec<u8>> = (0..32).map(|i| random_bytes(100 + i, 8 << 20)).collect();
    transfer(
        &mut stack,
        &clock,
        sink.addr(),
        &payloads,
        Duration::from_secs(300),
    );
    check(sink.finish(), &payloads);
    settle(&mut stack, &clock, Duration::from_millis(1200));
    assert_eq!(stack.connections().count(), 0);
    drop(stack);
    assert_eq!(env.pool.in_use(), base, "every mbuf back in the pool");
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn c_32_connections_under_loss_dup_delay() {
    let (env, _g) = env();
    let base = env.pool.in_use();
    topology(&["impair", "loss=1% dup=0.5% delay=10ms seed=42"]);
    let guard = ClearOnDrop;
    let clock = TscClock::new();
    let mut stack = new_stack(env, stack_config(), &clock);
    let sink = Sink::start(5303, 32);
    let payloads: Vec<Vec<u8>> = (0..32).map(|i| random_bytes(200 + i, 8 << 20)).collect();
    transfer(
        &mut stack,
        &clock,
        sink.addr(),
        &payloads,
        Duration::from_secs(600),
    );
    check(sink.finish(), &payloads);
    let st = stack.stats();
    let retrans = st.tcp.retrans_segs;
    drop(guard);
    settle(&mut stack, &clock, Duration::from_millis(1200));
    assert!(
        retrans > 0,
        "1% loss must have caused retransmissions: {st:?}"
    );
    assert_eq!(st.conn_errors, 0, "no connection gave up");
    // The impairment stage's own counters show the spec was applied.
    let stats =
        std::fs::read_to_string("/run/linerate/impair-stats.json").expect("impairment counters");
    let v: serde_json::Value = serde_json::from_str(&stats).expect("JSON counters");
    for dir in ["fwd", "rev"] {
        assert!(
            v[dir]["dropped"].as_u64().unwrap_or(0) > 0,
            "{dir} saw loss: {v}"
        );
        assert!(
            v[dir]["duplicated"].as_u64().unwrap_or(0) > 0,
            "{dir} saw duplicates: {v}"
        );
    }
    drop(stack);
    assert_eq!(env.pool.in_use(), base, "every mbuf back in the pool");
}

struct ClearOnDrop;
impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        topology(&["clear"]);
    }
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn d_closed_port_is_refused() {
    let (env, _g) = env();
    let clock = TscClock::new();
    let mut stack = new_stack(env, stack_config(), &clock);
    let id = stack
        .connect(SocketAddrV4::new(SINK_IP, 5399), None)
        .expect("connect starts");
    let t0 = std::time::Instant::now();
    while stack.state(id) == Some(State::SynSent) && t0.elapsed() < Duration::from_secs(10) {
        stack.poll(clock.now());
    }
    assert_eq!(stack.state(id), Some(State::Closed));
    assert_eq!(stack.error(id), Some(TcpError::Refused));
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "refused promptly, not by timeout"
    );
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn e_silent_gateway_is_host_unreachable() {
    let (env, _g) = env();
    let clock = TscClock::new();
    let mut cfg = stack_config();
    // 198.18.0.253 is on our subnet but nobody owns it: ARP is never answered.
    cfg.gateway = Some(std::net::Ipv4Addr::new(198, 18, 0, 253));
    let mut stack = new_stack(env, cfg, &clock);
    let id = stack
        .connect(SocketAddrV4::new(SINK_IP, 5201), None)
        .expect("connect starts");
    let t0 = std::time::Instant::now();
    while stack.state(id) == Some(State::SynSent) && t0.elapsed() < Duration::from_secs(15) {
        stack.poll(clock.now());
    }
    assert_eq!(stack.error(id), Some(TcpError::HostUnreachable));
    let el = t0.elapsed();
    assert!(
        el >= Duration::from_secs(2),
        "waited for the ARP retries ({el:?})"
    );
    assert!(
        stack.neigh().stats.requests_sent >= 3,
        "{:?}",
        stack.neigh().stats
    );
    assert!(stack.neigh().stats.failed >= 1);
}
