//! The stack's wait lists, so that nothing walks every connection: connections whose output
//! stopped on a full device (the kernel's TSQ wake-up), connections waiting for a next hop's
//! ARP reply (the neighbour's queue), and connections the pool turned away with nothing
//! queued (`sk_stream_wait_memory`). Each is listed once (a `Tcb::waits` bit) and run again
//! when what it waits for comes.
use crate::stack::Stack;
use crate::tcp::output;
use crate::tcp::{State, TcpError, LISTED_DEV, LISTED_NEIGH, LISTED_POOL, WAIT_NEIGH};
use linerate_dpdk::Device;

impl<D: Device> Stack<D> {
    /// The pool has room again: connections it turned away with nothing queued hear
    /// WRITABLE (they try again; one refused again is listed again).
    pub(crate) fn wake_pool_waiters(&mut self) {
        let mut waiters = std::mem::take(&mut self.pool_waiters);
        for id in waiters.drain(..) {
            if let Some(Some(tcb)) = self.conns.get_mut(id as usize) {
                if tcb.waits & LISTED_POOL != 0 {
                    tcb.waits &= !LISTED_POOL;
                    self.after_event(id);
                }
            }
        }
        waiters.append(&mut self.pool_waiters);
        self.pool_waiters = waiters;
    }

    /// Runs output again for connections that stopped on a full device, oldest first, while
    /// the device has room; one that stops again goes to the back.
    pub(crate) fn run_dev_waiters(&mut self) {
        for _ in 0..self.dev_waiters.len() {
            if !self.ip.has_room() {
                break;
            }
            let Some(id) = self.dev_waiters.pop_front() else {
                break;
            };
            let Some(Some(tcb)) = self.conns.get_mut(id as usize) else {
                continue;
            };
            if tcb.waits & LISTED_DEV == 0 {
                continue; // a stale entry: the slot was freed and reused
            }
            tcb.waits &= !LISTED_DEV;
            self.after_event(id);
        }
    }

    /// ARP finished for some next hops: wake or fail the connections waiting on them (only
    /// those: the waiters list, not every connection).
    pub(crate) fn neigh_changed(&mut self) {
        let failed = std::mem::take(&mut self.failed_neigh);
        let resolved = std::mem::take(&mut self.resolved_neigh);
        let mut waiters = std::mem::take(&mut self.neigh_waiters);
        let now = self.now;
        for id in waiters.drain(..) {
            let Some(Some(tcb)) = self.conns.get_mut(id as usize) else {
                continue;
            };
            if tcb.waits & LISTED_NEIGH == 0 {
                continue;
            }
            tcb.waits &= !LISTED_NEIGH;
            if self.ip.dst_uses(&tcb.dst, &failed) && tcb.state == State::SynSent {
                tcb.fail(TcpError::HostUnreachable);
            } else if self.ip.dst_uses(&tcb.dst, &resolved) {
                tcb.waits &= !WAIT_NEIGH;
                if tcb.state == State::SynSent {
                    output::send_syn(tcb, &mut self.ip, now);
                } else {
                    output::write_xmit(tcb, &mut self.ip, now);
                }
            } else {
                // Another next hop: keep waiting.
                tcb.waits |= WAIT_NEIGH;
            }
            self.after_event(id);
        }
        // Waiters listed again meanwhile are in the new list; keep the capacity.
        waiters.append(&mut self.neigh_waiters);
        self.neigh_waiters = waiters;
        self.failed_neigh = failed;
        self.failed_neigh.clear();
        self.resolved_neigh = resolved;
        self.resolved_neigh.clear();
    }
}
