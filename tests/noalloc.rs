//! The data path allocates nothing: in steady state (send → transmit → ACK → free), a
//! counting global allocator sees no heap allocation during `Stack::send` and `Stack::poll`.
//! The peer (smoltcp, on the simulated wire) runs with the counter disarmed.
mod common;

use linerate::dpdk::{Offloads, TxRegion};
use linerate::{IoError, State};
use linerate::{MS, SEC};
use linerate_sim::harness::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::Mutex;

struct Counting;

thread_local! {
    /// Armed per thread: only the thread running the stack is counted, not the test harness
    /// or other tests' threads.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}
static COUNT: AtomicU64 = AtomicU64::new(0);
/// Where the first armed allocation came from.
static FIRST: Mutex<Option<String>> = Mutex::new(None);

impl Counting {
    fn note(&self) {
        // Disarm while recording so the backtrace's own allocations are not counted.
        if ARMED.with(|a| a.replace(false)) {
            if COUNT.fetch_add(1, Ordering::SeqCst) == 0 {
                let bt = std::backtrace::Backtrace::force_capture().to_string();
                if let Ok(mut f) = FIRST.lock() {
                    *f = Some(bt);
                }
            }
            ARMED.with(|a| a.set(true));
        }
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        self.note();
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        self.note();
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        self.note();
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn armed<R>(f: impl FnOnce() -> R) -> R {
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    r
}

#[test]
fn steady_state_send_path_does_not_allocate() {
    run(linerate_sim::SimConfig::clean(1), "noalloc_clean", false);
}

/// Zero-copy sends from a registered region, cut into frames in bulk (chained mbufs), with
/// 1% loss: units, views and the chunk-sum table allocate nothing after warm-up either.
#[test]
fn zero_copy_send_path_does_not_allocate() {
    let lossy = linerate_sim::SimConfig {
        seed: 11,
        loss: 0.01,
        ..Default::default()
    };
    run(lossy, "noalloc_zc", true);
}

/// With 1% loss both ways: fast retransmit, recovery and RTOs arm timers too, and the wheel's
/// entry slab is reserved at connect time, so this path does not allocate either.
#[test]
fn lossy_send_path_does_not_allocate() {
    let lossy = linerate_sim::SimConfig {
        seed: 7,
        loss: 0.01,
        ..Default::default()
    };
    run(lossy, "noalloc_lossy", false);
}

/// The counter is process-wide: tests take turns.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(wire: linerate_sim::SimConfig, name: &str, zero_copy: bool) {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    COUNT.store(0, Ordering::SeqCst);
    let eal = common::eal(&[]);
    let pool = common::pool(&eal, name, 4095);
    let mut setup = SimSetup::new(
        wire,
        linerate_sim::SimConfig {
            seed: wire.seed + 1,
            ..wire
        },
    );
    // A send buffer of fixed size (`SO_SNDBUF`): one that grows with cwnd grows its queue
    // with it, which is warm-up however late a lossy path lets cwnd get there.
    setup.stack.tcp.sndbuf = 512 << 10;
    setup.stack.tcp.sndbuf_auto = false;
    let mut sim = Sim::new(pool.clone(), setup);
    // The simulated NIC's own frame buffers: enough for any window, allocated up front.
    sim.wire.borrow_mut().prealloc(8192);
    let chunk: Vec<u8> = payload(5, 64 << 10);
    let region = zero_copy.then(|| {
        // A NIC that takes chained frames, so segments go out as header + view.
        let dev = linerate_sim::SimDevice::new(sim.wire.clone(), pool.clone(), STACK_MAC)
            .with_offloads(Offloads {
                tx_multi_seg: true,
                ..Default::default()
            });
        let mut cfg = SimSetup::clean(1).stack;
        cfg.tcp.sndbuf = 512 << 10;
        cfg.tcp.sndbuf_auto = false;
        sim.stack = linerate::Stack::new(dev, pool.clone(), cfg, sim.now);
        let mut r = TxRegion::new(&eal, chunk.len(), None).unwrap();
        r.fill(|b| b.copy_from_slice(&chunk));
        sim.stack.register_region(Arc::new(r)).unwrap()
    });
    let id = sim.connect();
    assert!(sim.run_until(SEC, |sim| sim.stack.state(id) == Some(State::Established)));

    let warmup: u64 = 2 << 20;
    let total: u64 = 24 << 20;
    let mut sent: u64 = 0;
    let mut measured_calls = 0u64;
    let mut count_at_warm = None;
    let mut off = 0usize;
    let end = sim.now + 600 * SEC;
    while sim.stack.info(id).unwrap().counters.bytes_acked < total && sim.now < end {
        let warm = sent >= warmup;
        if warm && count_at_warm.is_none() {
            count_at_warm = Some(COUNT.load(Ordering::SeqCst));
        }
        sim.wire.borrow_mut().deliver_due(sim.now);
        let now = sim.now;
        let stack = &mut sim.stack;
        let mut step = || {
            stack.poll(now);
            while sent < total {
                let r = match region {
                    Some(r) => stack.send_region(id, r, off, chunk.len() - off),
                    None => stack.send(id, &chunk[off..]),
                };
                match r {
                    Ok(n) => {
                        sent += n as u64;
                        off = (off + n) % chunk.len();
                    }
                    Err(IoError::WouldBlock) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            stack.flush();
        };
        if warm {
            armed(&mut step);
            measured_calls += 1;
        } else {
            step();
        }
        sim.iface.poll(ts(sim.now), &mut sim.dev, &mut sim.sockets);
        sim.read_peer();
        sim.received.clear();
        sim.advance();
    }
    let info = sim.stack.info(id).unwrap();
    assert!(
        info.counters.bytes_acked >= total,
        "transfer finished: {info:?}"
    );
    let allocs = COUNT.load(Ordering::SeqCst) - count_at_warm.expect("warmed up");
    eprintln!("{name}: {} MiB sent after warm-up over {measured_calls} poll+send rounds, {allocs} allocations, {:?}", (total - warmup) >> 20, info.counters);
    if allocs > 0 {
        eprintln!(
            "first allocation:\n{}",
            FIRST.lock().unwrap().clone().unwrap_or_default()
        );
    }
    assert!(measured_calls > 100);
    if zero_copy {
        let dev = sim.stack.stats().dev;
        assert!(
            dev.gso_frames > 2 * dev.gso_units,
            "units were cut: {dev:?}"
        );
    }
    assert_eq!(allocs, 0, "the steady-state data path allocated");
    sim.stack.close(id).unwrap();
    sim.run_until(5 * SEC, |sim| sim.stack.connections().count() == 0);
    let _ = MS;
}
