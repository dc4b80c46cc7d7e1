//! HyStart++ (RFC 9406) on the simulated wire: one connection through a rate-limited
//! bottleneck with a deep drop-tail FIFO in front of the SACK receiver
//! (tests/common/sackpeer.rs). Classic slow start fills the queue until it overflows, so the
//! RTT climbs to the queue's depth and a window's worth of segments is lost; with HyStart++
//! slow start ends on the delay increase, without a loss, with the queue (and srtt) a
//! fraction of that. Every transfer checks the bytes (SHA-256) and the pool's accounting.
mod common;

use linerate::dpdk::Mempool;
use linerate::Cc;
use linerate::{Nanos, MS, SEC};
use linerate_sim::harness::payload;
use linerate_sim::sackpeer::{stack_config, Fate, SackSim};
use linerate_sim::SimConfig;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

fn pool(name: &str) -> Arc<Mempool> {
    let eal = common::eal(&[]);
    common::pool(&eal, name, 4095)
}

/// The bottleneck: `rate` bytes per second, a drop-tail FIFO of `limit` bytes.
#[derive(Debug, Default, Clone)]
struct Link {
    rate: u64,
    limit: u64,
    /// When the frame last accepted has left the link.
    busy_until: Nanos,
    /// Most bytes ever waiting, and most queueing delay ever.
    max_backlog: u64,
    max_delay: Nanos,
    drops: u64,
    frames: u64,
}

/// Ethernet + IPv4 + TCP with timestamps: the bytes a segment takes on the link besides its
/// payload.
const OVERHEAD: u64 = 14 + 20 + 32;

impl Link {
    /// A data segment of `len` payload bytes arrives at `now`: its fate at the bottleneck.
    fn arrive(&mut self, now: Nanos, len: u32) -> Fate {
        let size = len as u64 + OVERHEAD;
        let wait = self.busy_until.saturating_sub(now);
        let backlog = wait as u128 * self.rate as u128 / SEC as u128;
        if backlog as u64 + size > self.limit {
            self.drops += 1;
            return Fate::Drop;
        }
        self.frames += 1;
        self.max_backlog = self.max_backlog.max(backlog as u64 + size);
        self.max_delay = self.max_delay.max(wait);
        self.busy_until = now.max(self.busy_until) + size * SEC / self.rate;
        // Delivered once it has been serialised.
        Fate::Hold(self.busy_until - now)
    }
}

#[derive(Debug)]
struct Run {
    max_srtt_us: u32,
    min_srtt_us: u32,
    /// ssthresh when it first left its initial value, and cwnd just before.
    first_ssthresh: Option<(u32, u32)>,
    /// Whether any loss had been seen (retransmission, recovery, RTO) by then.
    loss_before_exit: bool,
    link: Link,
    retrans_segs: u64,
    sack_recoveries: u64,
    rtos: u64,
    elapsed: Nanos,
}

/// 20 Mbit/s (2.5 MB/s), 40 ms base RTT (BDP 100 kB), a 1.5 MB queue (600 ms, the depth
/// measured on the deep-buffered bottleneck that motivated HyStart++ here).
const RATE: u64 = 2_500_000;
const QUEUE: u64 = 1_500_000;
const ONE_WAY: Nanos = 20 * MS;

fn run(pool: &Arc<Mempool>, cc: Cc, len: usize, seed: u64, what: &str) -> Run {
    let wire = |seed| SimConfig {
        seed,
        delay: ONE_WAY,
        ..SimConfig::default()
    };
    let mut cfg = stack_config();
    cfg.tcp.cc = cc;
    cfg.tcp.sndbuf = 3 << 20;
    let mut sim = SackSim::with_config(pool.clone(), wire(seed), wire(seed + 1), cfg);
    let link = Rc::new(RefCell::new(Link {
        rate: RATE,
        limit: QUEUE,
        ..Link::default()
    }));
    let l = link.clone();
    sim.peer.hook = Some(Box::new(move |now, _off, len, _fin, _times| {
        l.borrow_mut().arrive(now, len)
    }));
    let data = payload(seed, len);
    let start = sim.now;
    let mut max_srtt_us = 0;
    let mut min_srtt_us = u32::MAX;
    let mut first_ssthresh = None;
    let mut loss_before_exit = false;
    let mut prev_cwnd = 0;
    let mut next_print = 0;
    let trace = std::env::var_os("LR_HYSTART_TRACE").is_some();
    let l = link.clone();
    let o = sim.transfer_observed(&data, 300 * SEC, what, |now, i| {
        if i.srtt_us > 0 {
            max_srtt_us = max_srtt_us.max(i.srtt_us);
            min_srtt_us = min_srtt_us.min(i.srtt_us);
        }
        if first_ssthresh.is_none() && i.ssthresh != u32::MAX {
            first_ssthresh = Some((i.ssthresh, prev_cwnd));
            let c = i.counters;
            loss_before_exit =
                c.retrans_segs > 0 || c.sack_recoveries > 0 || c.rtos > 0 || c.tlps > 0;
        }
        if trace && now >= next_print {
            // LR_HYSTART_TRACE=1: the window, srtt and the bottleneck's queue every 20 ms.
            next_print = now + 20 * MS;
            let q = l.borrow().busy_until.saturating_sub(now);
            eprintln!(
                "{what} t={} ms cwnd={} ssthresh={} srtt={} ms queue={} ms",
                (now - start) / MS,
                i.cwnd,
                i.ssthresh,
                i.srtt_us / 1000,
                q / MS
            );
        }
        prev_cwnd = i.cwnd;
    });
    assert_eq!(o.to_peer.dropped, 0, "only the link drops");
    let c = o.info.counters;
    let link = link.borrow().clone();
    let r = Run {
        max_srtt_us,
        min_srtt_us,
        first_ssthresh,
        loss_before_exit,
        link,
        retrans_segs: c.retrans_segs,
        sack_recoveries: c.sack_recoveries,
        rtos: c.rtos,
        elapsed: sim.now - start,
    };
    eprintln!(
        "{what}: srtt {}..{} ms, queue max {} kB / {} ms, link drops {}, first ssthresh {:?}, \
         retrans {}, recoveries {}, rtos {}, {} ms",
        r.min_srtt_us / 1000,
        r.max_srtt_us / 1000,
        r.link.max_backlog / 1000,
        r.link.max_delay / MS,
        r.link.drops,
        r.first_ssthresh,
        r.retrans_segs,
        r.sack_recoveries,
        r.rtos,
        r.elapsed / MS
    );
    r
}

#[test]
fn hystart_exits_slow_start_before_the_deep_queue_fills() {
    let pool = pool("hystart");
    let len = 8 << 20;
    let on = run(&pool, Cc::default(), len, 11, "cubic + hystart++");
    let off = run(
        &pool,
        Cc::default().with_hystart(false),
        len,
        11,
        "cubic, classic slow start",
    );
    let reno = run(
        &pool,
        Cc::by_name("reno").unwrap(),
        len,
        13,
        "reno + hystart++",
    );

    // Classic slow start: the window grows until the 750 kB queue overflows. srtt climbs
    // towards the queue's 300 ms on top of the 40 ms path, and a burst of segments is lost.
    assert!(off.link.drops > 20, "{off:?}");
    assert!(off.link.max_delay > 250 * MS, "{off:?}");
    assert!(off.max_srtt_us > 200_000, "{off:?}");
    assert!(off.retrans_segs >= off.link.drops, "{off:?}");
    assert!(off.sack_recoveries >= 1);
    assert!(off.loss_before_exit, "slow start ended by a loss: {off:?}");

    for r in [&on, &reno] {
        // HyStart++: slow start ends on the delay increase, before any loss, and nothing is
        // ever dropped in this short transfer.
        let (ss, cwnd) = r.first_ssthresh.expect("ssthresh was set");
        assert!(!r.loss_before_exit, "{r:?}");
        assert!(
            ss >= cwnd,
            "ssthresh = cwnd at the exit, not a loss reduction: {r:?}"
        );
        assert_eq!(r.link.drops, 0, "{r:?}");
        assert_eq!(r.retrans_segs, 0, "{r:?}");
        assert_eq!((r.sack_recoveries, r.rtos), (0, 0), "{r:?}");
        // The window left slow start above the path's BDP (100 kB): it filled the pipe.
        assert!(ss > 100_000, "{r:?}");
        // Far less queue and delay than classic slow start.
        assert!(
            r.link.max_backlog * 3 < off.link.max_backlog,
            "queue {} vs {}",
            r.link.max_backlog,
            off.link.max_backlog
        );
        assert!(
            r.max_srtt_us * 2 < off.max_srtt_us,
            "srtt {} vs {} us",
            r.max_srtt_us,
            off.max_srtt_us
        );
        assert!(r.min_srtt_us >= 40_000, "{r:?}");
    }
    // And the link was kept busy: the transfer takes no longer than classic slow start's
    // (which loses a window and recovers).
    assert!(
        on.elapsed <= off.elapsed + off.elapsed / 10,
        "{} vs {} ms",
        on.elapsed / MS,
        off.elapsed / MS
    );
}
