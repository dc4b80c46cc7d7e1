//! What a stack can tell about itself: its counters summed over the connections
//! ([`StackStats`]) and the memory its connections take ([`ConnMemory`]).
use crate::dev::DevStats;
use crate::ip_input::RxDrops;
use crate::neigh::NeighStats;
use crate::ratelimit::ReplyLimitStats;
use crate::stack::Stack;
use crate::tcp::timewait::TimeWaitStats;
use crate::tcp::{Tcb, TcpCounters, TcpError};
use linerate_dpdk::Device;

/// Heap bytes a stack holds for its connections ([`Stack::conn_memory`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnMemory {
    /// The connection table: a block per slot ever used (`StackConfig::max_conns` slots are
    /// reserved, but a slot never used costs no RSS).
    pub table: usize,
    /// The 4-tuple index.
    pub index: usize,
    /// The timer wheel's buckets and entry slab.
    pub wheel: usize,
    /// The event queue.
    pub events: usize,
    /// Write queues and receive buffers: what in-flight and unread data take (a queue keeps
    /// its capacity once grown).
    pub queues: usize,
    /// TIME-WAIT records and their index (closed connections leave their block).
    pub time_wait: usize,
}

impl ConnMemory {
    /// All of it.
    pub fn total(&self) -> usize {
        self.table + self.index + self.wheel + self.events + self.queues + self.time_wait
    }
}

/// Stack-wide counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StackStats {
    /// Frames and bytes through the device.
    pub dev: DevStats,
    /// Frames dropped on input, by reason.
    pub drops: RxDrops,
    /// ARP counters.
    pub neigh: NeighStats,
    /// Connections the stack holds (any state, not yet freed).
    pub conns_open: usize,
    /// Closed connections in TIME-WAIT (records, not counted in `conns_open`).
    pub time_wait: TimeWaitStats,
    /// TCP counters summed over every connection, open or already freed.
    pub tcp: TcpCounters,
    /// Connections that ended with an error.
    pub conn_errors: u64,
    /// Replies to invalid segments that RFC 5961 §7's limits held back.
    pub limited: ReplyLimitStats,
}

impl StackStats {
    /// Adds `o` (another stack's counters): totals over the stacks of several cores.
    pub fn add(&mut self, o: &StackStats) {
        self.dev.add(&o.dev);
        self.drops.add(&o.drops);
        self.neigh.add(&o.neigh);
        self.conns_open += o.conns_open;
        self.time_wait.add(&o.time_wait);
        self.tcp.add(&o.tcp);
        self.conn_errors += o.conn_errors;
        self.limited.add(&o.limited);
    }
}

impl<D: Device> Stack<D> {
    /// Heap bytes the stack holds for its connections, by part. A walk over the connections.
    pub fn conn_memory(&self) -> ConnMemory {
        use std::mem::size_of;
        ConnMemory {
            table: self.conns.len() * size_of::<Option<Tcb>>(),
            index: self.by_tuple.memory(),
            wheel: self.wheel.memory(),
            events: self.events.memory(),
            queues: self
                .conns
                .iter()
                .flatten()
                .map(|t| t.queue.capacity() * size_of::<crate::tcp::Seg>() + t.rx_capacity())
                .sum(),
            time_wait: self.tw.memory(),
        }
    }

    /// The device's counters alone: O(1), where [`Stack::stats`] sums every connection.
    pub fn dev_stats(&self) -> DevStats {
        self.ip.dev.stats
    }

    /// Stack-wide counters (a walk over the connections: not for every poll).
    pub fn stats(&self) -> StackStats {
        let mut tcp = self.retired;
        tcp.tw_reused += self.tw.stats().reused;
        let mut conn_errors = self.retired_errors;
        for t in self.conns.iter().flatten() {
            tcp.add(&t.counters);
            conn_errors += t.error.is_some_and(|e| e != TcpError::Aborted) as u64;
        }
        StackStats {
            dev: self.ip.dev.stats,
            drops: self.ip.drops,
            neigh: self.ip.neigh.stats,
            conns_open: self.live_conns(),
            time_wait: self.tw.stats(),
            tcp,
            conn_errors,
            limited: self.ip.limits.stats,
        }
    }
}
