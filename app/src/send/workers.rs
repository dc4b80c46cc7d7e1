//! Several workers: one per-core stack per EAL lcore, each on its own queue pair with its own
//! slice of the source ports, running its share of the connections (connection `i` goes to
//! worker `i mod N`) with the same loop as a single stack. The main lcore is worker 0 and
//! prints the progress lines, summed over every worker; the report sums them too and lists
//! each in `workers`.
//!
//! ACKs find their worker in one of three ways. When the port takes our RSS key and RETA and
//! reads them back, each connection picks a source port whose ACKs RSS puts on its worker's
//! queue. Otherwise rte_flow rules put each worker's port range on its queue, where the PMD
//! takes them. Otherwise (af_packet's fanout, virtio, ...) or when either turns out wrong, a
//! frame that lands on another worker's queue is passed to its owner over a lockless channel,
//! counted as redirected. With --ack-peer, every worker's receiver answers on its own queue.
use super::board::Board;
use super::finish;
use super::part::{Failed, Part};
use super::run_loop::{Run, Sender};
use super::{
    ack_peer, payload_region, register, sigint, stack_config, tcp_config, Dpdk, SendError,
};
use crate::config::Settings;
use linerate::steer::{
    mesh, MeshPort, PortSplit, Reta, RssSteering, SteerStats, Steered, Toeplitz,
};
use linerate::{Device, DpdkDevice, Stack, StackConfig, TscClock};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What every worker shares: read-only, or behind the mesh's own synchronisation.
struct Shared<'a> {
    s: &'a Settings,
    payload: &'a [u8],
    dpdk: &'a Dpdk,
    split: PortSplit,
    rss: Option<(Arc<Toeplitz>, Reta)>,
    meshes: Mutex<Vec<Option<MeshPort>>>,
    board: Board,
    /// Workers done with their connections (or failed). One that is done keeps polling its
    /// queue until all are: frames of the others' connections may still land on it.
    finished: AtomicUsize,
}

/// Runs the load on every lcore of `dpdk.lcores`, one worker each, and reports.
pub(super) fn run(s: &Settings, payload: &[u8], dpdk: Dpdk) -> Result<(), SendError> {
    let n = dpdk.lcores.len();
    let split = PortSplit::new(StackConfig::new(s.ip).ephemeral, n).ok_or_else(|| {
        SendError::Usage(format!(
            "--workers {n}: too many for the ephemeral port range"
        ))
    })?;
    let rss = dpdk.port.rss().and_then(|i| {
        Some((
            Arc::new(Toeplitz::new(&i.key)?),
            Reta::from_entries(i.reta.clone())?,
        ))
    });
    // Without RSS to steer by, ask the NIC to put each worker's port range on its queue;
    // the rules live as long as the run.
    let flows = match (&rss, s.ack_peer) {
        (None, false) => Some(
            (0..n)
                .map(|i| dpdk.port.steer_tcp_dst_ports(split.range_of(i), i as u16))
                .collect::<Result<Vec<_>, _>>(),
        ),
        _ => None,
    };
    if !s.quiet {
        let how = match (&rss, s.ack_peer, &flows) {
            (_, true, _) => "each worker's ACK peer answers on its own queue".to_string(),
            (Some((_, reta)), _, _) => format!(
                "RSS (key and {}-entry RETA read back): source ports picked per queue, software redirect as fallback",
                reta.entries().len()
            ),
            (None, _, Some(Ok(rules))) => format!(
                "rte_flow ({} rules put each worker's port range on its queue), software redirect as fallback",
                rules.iter().map(|r| r.len()).sum::<usize>()
            ),
            (None, _, Some(Err(e))) => format!(
                "software redirect (port {} ({}) offers no RSS key and RETA to steer by, and {e})",
                dpdk.port.name(),
                dpdk.port.driver()
            ),
            (None, _, None) => "software redirect".to_string(),
        };
        eprintln!("  workers   {n} on lcores {:?}; {how}", dpdk.lcores);
    }
    let sh = Shared {
        s,
        payload,
        dpdk: &dpdk,
        split,
        rss,
        meshes: Mutex::new(mesh(n, 4096).into_iter().map(Some).collect()),
        board: Board::new(n),
        finished: AtomicUsize::new(0),
    };
    let port_before = dpdk.port.stats().unwrap_or_default();
    let results = dpdk
        .eal
        .run_on(&dpdk.lcores, |i| worker(&sh, i))
        .map_err(|e| SendError::Fail(e.to_string()))?;
    let (mut parts, mut failed) = (Vec::new(), Vec::new());
    for (i, r) in results.into_iter().enumerate() {
        let fail = |error: String| Failed {
            lcore: dpdk.lcores[i],
            queue: i as u16,
            error,
        };
        match r {
            Ok(Ok(p)) => parts.push(p),
            Ok(Err(e)) => failed.push(fail(e)),
            Err(e) => failed.push(fail(e.to_string())),
        }
    }
    for f in &failed {
        eprintln!(
            "linerate: worker {} (lcore {}) did not run: {}",
            f.queue, f.lcore, f.error
        );
    }
    // Every stack (and its mbufs) is gone with its worker: DPDK may go after the report.
    let r = finish::finish(&finish::Outcome {
        s,
        port: &dpdk.port,
        port_before: &port_before,
        pool: &dpdk.pool,
        parts: &parts,
        failed: &failed,
    });
    drop(sh);
    // The rules go before the port they were made on.
    drop(flows);
    drop(dpdk);
    r
}

/// Worker `i`: its queue pair (with the ACK peer or the redirect around it), its stack, its
/// connections.
fn worker(sh: &Shared, i: usize) -> Result<Part, String> {
    let done = Done {
        finished: &sh.finished,
        counted: Cell::new(false),
    };
    let mesh = sh
        .meshes
        .lock()
        .map_err(|_| "the mesh lock was poisoned".to_string())?
        .get_mut(i)
        .and_then(Option::take)
        .ok_or_else(|| format!("no mesh port for worker {i}"))?;
    let q = sh.dpdk.port.queue(i as u16).map_err(|e| e.to_string())?;
    let dev = DpdkDevice::new(q).map_err(|e| e.to_string())?;
    if sh.s.ack_peer {
        // The receiver answers on this queue: nothing to steer.
        drop(mesh);
        run_worker(sh, &done, i, ack_peer(sh.s, sh.dpdk, dev), None, |_| {
            SteerStats::default()
        })
    } else {
        let rss = sh.rss.as_ref().map(|(t, reta)| RssSteering {
            toeplitz: t.clone(),
            reta: reta.clone(),
            queue: i as u16,
        });
        let mut dev = Steered::new(dev, mesh, sh.split);
        if let Some(r) = &rss {
            dev = dev.check_rss(r.clone());
        }
        run_worker(sh, &done, i, dev, rss, |d: &Steered<DpdkDevice>| d.stats)
    }
}

/// Counts a worker as finished once, when it says so or however it ends (an error, a
/// panic): the others must not wait for it.
struct Done<'a> {
    finished: &'a AtomicUsize,
    counted: Cell<bool>,
}

impl Done<'_> {
    fn mark(&self) {
        if !self.counted.replace(true) {
            self.finished.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.mark();
    }
}

fn run_worker<D: Device>(
    sh: &Shared,
    done: &Done,
    i: usize,
    dev: D,
    rss: Option<RssSteering>,
    steer: impl Fn(&D) -> SteerStats,
) -> Result<Part, String> {
    let s = sh.s;
    let clock = TscClock::new();
    let tcp = tcp_config(s);
    let mut cfg = stack_config(s, tcp);
    cfg.ephemeral = sh.split.range_of(i);
    cfg.rss = rss;
    let mut stack = Stack::new(dev, sh.dpdk.pool.clone(), cfg, clock.now());
    // Each worker's own copy: one region shared by all would bounce its reference count
    // (two atomics per frame) between the cores.
    let region = payload_region(sh.dpdk, sh.payload).map_err(text)?;
    let region = register(&mut stack, region).map_err(text)?;
    let sender = Sender::new(s, sh.payload, region, clock, stack);
    let n = sh.dpdk.lcores.len();
    let plan: Vec<usize> = (i..s.connections as usize).step_by(n).collect();
    let mut run =
        Run::connect(sender, &sh.dpdk.port, tcp, &plan, Some((&sh.board, i))).map_err(text)?;
    let ended = run.send_until_done().map_err(text)?;
    run.close(ended.by);
    // Done here, but the others' frames may still land on this queue: keep receiving (and
    // passing them on) until every worker is done.
    done.mark();
    while sh.finished.load(Ordering::Acquire) < n && sigint::interrupts() < 2 {
        let now = run.tx.clock.now();
        run.tx.stack.poll(now);
    }
    let st = steer(run.tx.stack.device());
    Ok(run.into_part(ended, sh.dpdk.lcores[i], st))
}

fn text(e: SendError) -> String {
    match e {
        SendError::Usage(m) | SendError::Fail(m) => m,
    }
}
