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
    /// Bytes acked per connection.
    pub acked: Vec<u64>,
    pub data_segs: u64,
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
}

/// A worker that did not run, and why.
pub(super) struct Failed {
    pub lcore: u32,
    pub queue: u16,
    pub error: String,
}
