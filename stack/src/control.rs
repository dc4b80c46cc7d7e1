//! Route changes for several per-core stacks. Each stack keeps its own route table (no table
//! is shared between cores, so lookups on the data path take no lock), so a change made once
//! reaches every worker as a message that the worker applies in its own loop.
use crate::stack::Stack;
use linerate_dpdk::Device;
use linerate_proto::route::Route;
use linerate_proto::wire::ipv4::Ipv4Cidr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// A change to every worker's route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteChange {
    /// Add a route, or replace the one to the same prefix.
    Add(Route),
    /// Remove the route to a prefix.
    Remove(Ipv4Cidr),
}

/// The workers a [`Control::broadcast`] did not reach: their inbox was full (they have not
/// applied the earlier changes yet) or gone (the worker ended). The others have the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missed(pub Vec<usize>);

impl std::fmt::Display for Missed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "workers {:?} did not take the route change (inbox full or worker gone): let them apply what waits, then send it again",
            self.0
        )
    }
}

impl std::error::Error for Missed {}

/// The sending end, for any thread: one inbox per worker.
#[derive(Clone)]
pub struct Control {
    to: Vec<SyncSender<RouteChange>>,
}

/// One worker's end: [`ControlPort::apply`] in its loop.
pub struct ControlPort {
    inbox: Receiver<RouteChange>,
}

/// A control channel for `workers` workers, each inbox holding up to `depth` changes; hand
/// port i to worker i.
pub fn control(workers: usize, depth: usize) -> (Control, Vec<ControlPort>) {
    let (to, ports) = (0..workers)
        .map(|_| {
            let (tx, rx) = sync_channel(depth);
            (tx, ControlPort { inbox: rx })
        })
        .unzip();
    (Control { to }, ports)
}

impl Control {
    /// Sends `c` to every worker. It takes effect on each when that worker next applies its
    /// inbox.
    pub fn broadcast(&self, c: RouteChange) -> Result<(), Missed> {
        let missed: Vec<usize> = (self.to.iter().enumerate())
            .filter(|(_, tx)| tx.try_send(c).is_err())
            .map(|(i, _)| i)
            .collect();
        if missed.is_empty() {
            Ok(())
        } else {
            Err(Missed(missed))
        }
    }
}

impl ControlPort {
    /// Applies every change waiting, in order, to `stack`; returns how many. Costs one
    /// channel check when none waits, so it can run every loop pass. Connections look their
    /// next hop up again after a change (the route table's generation moves).
    pub fn apply<D: Device>(&self, stack: &mut Stack<D>) -> usize {
        let mut n = 0;
        while let Ok(c) = self.inbox.try_recv() {
            let routes = stack.routes_mut();
            match c {
                RouteChange::Add(r) => routes.add(r),
                RouteChange::Remove(dst) => {
                    routes.remove(dst);
                }
            }
            n += 1;
        }
        n
    }
}
