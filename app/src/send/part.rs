//! What a run leaves for the report: how each stack's sending phase ended ([`Ended`]), its
//! share of the run once closed ([`Part`]), and the workers that never ran ([`Failed`]). Data
//! only, so that the loop that makes them and the report that reads them need not know each
//! other.
use super::conn::Conn;
use crate::latency::Hists;
use linerate::steer::SteerStats;
use linerate::StackStats;

/// How the sending phase ended, and its totals at that moment: the report's rates leave out
/// the close phase.
pub(super) struct Ended {
    /// The report's `ended_by`.
    pub by: &'static str,
    pub t_end: u64,
    /// Bytes acked per connection still in the table (--cps: those not yet done).
    pub acked: Vec<u64>,
    /// Bytes acked over every connection the stack ran, gone ones included.
    pub acked_total: u64,
    pub data_segs: u64,
    pub mem: Mem,
}

/// One stack's share of a run, once closed: what the report sums and lists.
pub(super) struct Part {
    pub lcore: u32,
    pub queue: u16,
    /// Each connection's place in the run's list (`-P` order), then the connection.
    pub conns: Vec<(usize, Conn)>,
    pub ended: Ended,
    pub t_start: u64,
    pub stats: StackStats,
    pub hists: Hists,
    pub steer: SteerStats,
    /// At the end of the sending phase: the stack's connection memory and the connections it
    /// held, and the process's RSS then and before the first connect.
    pub mem: Mem,
    /// Connections opened (--cps opens them through the run).
    pub opened: u64,
    /// --cps: the connections already done, counted as they finished.
    pub retired: Option<crate::report::Connections>,
}

/// Memory at the end of the sending phase.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Mem {
    pub stack_bytes: u64,
    /// Of `stack_bytes`: write queues and receive buffers.
    pub queue_bytes: u64,
    pub conns_held: u64,
    pub rss: u64,
    pub rss_before: u64,
}

/// A worker that did not run, and why.
pub(super) struct Failed {
    pub lcore: u32,
    pub queue: u16,
    pub error: String,
}

impl Mem {
    /// The process's resident set now (VmRSS), in bytes; 0 when /proc cannot tell.
    pub fn rss_now() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
}
