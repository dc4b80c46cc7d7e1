//! The impairment matrix against the kernel: 16 connections x 16 MiB through the router's
//! impairment stage, each case in both directions. In every case every byte arrives (SHA-256
//! per connection from `linerate sink`), every connection closes with FIN, none gives up, and
//! every mbuf is back in the pool. Needs root, the topology and lr-gen (scripts/test.sh).
mod common;

use common::e2e::*;
use linerate::TscClock;
use std::time::Duration;

struct ClearOnDrop;
impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        topology(&["clear"]);
    }
}

fn case(spec: &str, sink_port: u16) {
    let (env, _g) = env();
    let base = env.pool.in_use();
    topology(&["impair", spec]);
    let _clear = ClearOnDrop;
    let clock = TscClock::new();
    let mut stack = new_stack(env, stack_config(), &clock);
    let sink = Sink::start(sink_port, 16);
    let payloads: Vec<Vec<u8>> = (0..16)
        .map(|i| random_bytes(sink_port as u64 * 100 + i, 16 << 20))
        .collect();
    transfer(
        &mut stack,
        &clock,
        sink.addr(),
        &payloads,
        Duration::from_secs(600),
    );
    let reports = sink.finish();
    assert_eq!(reports.len(), 16, "{spec}: one report per connection");
    let mut want: Vec<(u64, String)> = payloads
        .iter()
        .map(|p| (p.len() as u64, sha256_hex(p)))
        .collect();
    let mut got: Vec<(u64, String)> = reports
        .iter()
        .map(|c| (c.bytes, c.sha256.clone()))
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "{spec}: every byte arrived intact");
    assert!(
        reports.iter().all(|c| c.closed == "fin"),
        "{spec}: every connection closed with FIN"
    );
    let st = stack.stats();
    assert_eq!(st.conn_errors, 0, "{spec}: no connection gave up");
    eprintln!(
        "{spec}: retrans {} fast {} rto {} tlp {} spurious {} rack-lost {}",
        st.tcp.retrans_segs,
        st.tcp.fast_retrans,
        st.tcp.rtos,
        st.tcp.tlps,
        st.tcp.spurious_retrans,
        st.tcp.rack_lost
    );
    settle(&mut stack, &clock, Duration::from_millis(1200));
    drop(stack);
    assert_eq!(
        env.pool.in_use(),
        base,
        "{spec}: every mbuf back in the pool"
    );
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn loss_0_1pct() {
    case("loss=0.1% seed=11", 5501);
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn loss_1pct() {
    case("loss=1% seed=12", 5502);
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn loss_5pct() {
    case("loss=5% seed=13", 5503);
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn loss_10pct() {
    case("loss=10% seed=14", 5504);
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn reorder_25pct_5ms() {
    case("reorder=25% delay=5ms seed=15", 5505);
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn dup_1pct() {
    case("dup=1% seed=16", 5506);
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn corrupt_0_1pct() {
    case("corrupt=0.1% seed=17", 5507);
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn jitter_20ms_5ms() {
    case("delay=20ms jitter=5ms seed=18", 5508);
}

#[test]
#[ignore = "needs root, the topology and the lr-gen namespace: run scripts/test.sh"]
fn rate_1gbit_shallow_queue() {
    case("rate=1gbit seed=19", 5509);
}
