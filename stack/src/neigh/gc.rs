//! The neighbour table's storage and garbage collection (the kernel's `neigh_alloc`,
//! `neigh_forced_gc` and `neigh_periodic_work`).
//!
//! Every operation is O(1) but the periodic sweep, which runs with `poll`'s walk (when a
//! timer is due, at least once a second) and only above `GC_THRESH1` entries. Entries no
//! connection holds are on an intrusive list through their slots, least recently used
//! first: making room at the limit takes its head.
use super::{NeighError, NeighState, NeighTable, Neighbour, MAX_ENTRIES};
use linerate_proto::timer::Nanos;

/// No entry: the ends of the list, and a free slot's links.
pub(super) const NIL: u32 = u32::MAX;

/// Entries below which the periodic sweep leaves the table alone (Linux's `gc_thresh1`): a
/// sender's few next hops stay, held or not.
const GC_THRESH1: usize = 128;

/// The ends of the list of entries garbage collection may take.
#[derive(Debug)]
pub(super) struct GcList {
    head: u32,
    tail: u32,
}

impl Default for GcList {
    fn default() -> Self {
        GcList {
            head: NIL,
            tail: NIL,
        }
    }
}

impl NeighTable {
    /// Entries held (free slots aside).
    #[inline]
    pub(super) fn live(&self) -> usize {
        self.by_ip.len()
    }

    /// Stores a new entry no connection holds yet: at the table's limit in place of the
    /// least recently used one no connection holds (`neigh_alloc` calling
    /// `neigh_forced_gc`), `TableFull` when every entry is held.
    pub(super) fn alloc(&mut self, e: Neighbour) -> Result<usize, NeighError> {
        if self.live() >= MAX_ENTRIES && !self.forced_gc() {
            return Err(NeighError::TableFull);
        }
        let i = self.insert(e);
        self.link_tail(i);
        Ok(i)
    }

    /// Stores `e` in a free slot or a new one, with no limit.
    pub(super) fn insert(&mut self, e: Neighbour) -> usize {
        let ip = e.ip;
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(e);
                i as usize
            }
            None => {
                self.slots.push(Some(e));
                self.slots.len() - 1
            }
        };
        self.by_ip.insert(ip, i as u32);
        i
    }

    /// Removes the least recently used entry no connection holds. False when there is none.
    fn forced_gc(&mut self) -> bool {
        let head = self.gc.head;
        if head == NIL {
            return false;
        }
        self.evict(head as usize);
        true
    }

    /// Removes entry `i` (no connection holds it): its waiting frames are dropped and its
    /// slot is free.
    fn evict(&mut self, i: usize) {
        self.unlink(i);
        let Some(e) = self.slots.get_mut(i).and_then(Option::take) else {
            return;
        };
        self.by_ip.remove(&e.ip);
        self.free.push(i as u32);
        self.stats.pending_dropped += e.pending.len() as u64;
        self.stats.evicted += 1;
    }

    /// `neigh_periodic_work`: above `GC_THRESH1` entries, removes those no connection holds
    /// that FAILED (past their hold time) or went unused for `gc_stale_time`; and asks
    /// `poll` back when the next one comes due. A walk over the list only, oldest first.
    pub(super) fn periodic_gc(&mut self, now: Nanos) {
        if self.live() < GC_THRESH1 {
            return;
        }
        let stale = self.cfg.gc_stale_time;
        let mut i = self.gc.head;
        while let Some(e) = self.get(i as usize) {
            let next = e.gc_next;
            let failed_out = e.state == NeighState::Failed && now >= e.next_probe;
            let at = e.used.saturating_add(stale);
            if failed_out || now >= at {
                self.evict(i as usize);
            } else if e.state == NeighState::Failed {
                self.due(e.next_probe.min(at));
            } else {
                self.due(at);
            }
            i = next;
        }
    }

    /// A connection's cached route names entry `i` from now on: it is not collected while
    /// any does (`neigh_hold`).
    pub(crate) fn hold(&mut self, i: usize) {
        let Some(e) = self.get_mut(i) else {
            return;
        };
        e.refs = e.refs.saturating_add(1);
        let stale = e.state == NeighState::Stale;
        let next_probe = e.next_probe;
        self.unlink(i);
        if stale {
            // STALE entries are probed only while held.
            self.due(next_probe);
        }
    }

    /// A connection that held entry `i` is gone (`neigh_release`): with no other holding
    /// it, it may be collected once unused for `gc_stale_time`.
    pub(crate) fn release(&mut self, i: usize, now: Nanos) {
        let stale = self.cfg.gc_stale_time;
        let Some(e) = self.get_mut(i) else {
            return;
        };
        e.refs = e.refs.saturating_sub(1);
        if e.refs == 0 {
            e.used = now;
            self.link_tail(i);
            self.due(now.saturating_add(stale));
        }
    }

    /// A use or confirmation of entry `i`: one no connection holds goes to the back of the
    /// list, the last collection takes from.
    #[inline]
    pub(super) fn touch(&mut self, i: usize, now: Nanos) {
        let Some(e) = self.get_mut(i) else {
            return;
        };
        if !e.listed {
            return;
        }
        e.used = now;
        self.unlink(i);
        self.link_tail(i);
    }

    /// Puts entry `i` at the back of the list, unless it is there, held or PERMANENT.
    fn link_tail(&mut self, i: usize) {
        let tail = self.gc.tail;
        let Some(e) = self.get_mut(i) else {
            return;
        };
        if e.listed || e.refs > 0 || e.state == NeighState::Permanent {
            return;
        }
        e.listed = true;
        e.gc_prev = tail;
        e.gc_next = NIL;
        match self.get_mut(tail as usize) {
            Some(t) => t.gc_next = i as u32,
            None => self.gc.head = i as u32,
        }
        self.gc.tail = i as u32;
    }

    /// Takes entry `i` off the list, if it is on it.
    pub(super) fn unlink(&mut self, i: usize) {
        let Some(e) = self.get_mut(i) else {
            return;
        };
        if !e.listed {
            return;
        }
        e.listed = false;
        let (prev, next) = (e.gc_prev, e.gc_next);
        e.gc_prev = NIL;
        e.gc_next = NIL;
        match self.get_mut(prev as usize) {
            Some(p) => p.gc_next = next,
            None => self.gc.head = next,
        }
        match self.get_mut(next as usize) {
            Some(n) => n.gc_prev = prev,
            None => self.gc.tail = prev,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::LocalAddrs;
    use linerate_proto::timer::SEC;
    use linerate_proto::wire::ethernet::MacAddr;
    use linerate_proto::wire::ipv4::Ipv4Cidr;
    use std::net::Ipv4Addr;

    fn table() -> NeighTable {
        let ip = Ipv4Cidr {
            addr: Ipv4Addr::new(198, 18, 0, 1),
            prefix_len: 15,
        };
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        NeighTable::new(mac, LocalAddrs::new(ip, None), Default::default())
    }

    fn host(i: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 19, 0, 1)) + i)
    }

    /// The list from head to tail, checked against the back links and the entries' marks.
    fn listed(t: &NeighTable) -> Vec<Ipv4Addr> {
        let mut out = Vec::new();
        let (mut i, mut prev) = (t.gc.head, NIL);
        while let Some(e) = t.get(i as usize) {
            assert!(e.listed && e.refs == 0 && e.gc_prev == prev);
            out.push(e.ip);
            (prev, i) = (i, e.gc_next);
        }
        assert_eq!(t.gc.tail, prev);
        assert_eq!(out.len(), t.entries().filter(|e| e.listed).count());
        out
    }

    #[test]
    fn held_entries_stay_and_the_least_recently_used_goes() {
        let mut t = table();
        let gw = Ipv4Addr::new(198, 18, 0, 254);
        t.add_static(Ipv4Addr::new(198, 18, 0, 253), MacAddr([2, 0, 0, 0, 0, 9]));
        let g = t.lookup_or_create(gw, 0).unwrap();
        t.hold(g);
        t.hold(g);
        let mut at = 0;
        while t.live() < MAX_ENTRIES {
            at += 1;
            t.lookup_or_create(host(at as u32), at).unwrap();
        }
        assert_eq!(t.stats.evicted, 0);
        assert_eq!(
            listed(&t).len(),
            MAX_ENTRIES - 2,
            "static and held are not listed"
        );
        // Touching the oldest moves it back: the next one goes first.
        let first = t.find(host(1)).unwrap();
        t.touch(first, at + 1);
        let i = t.lookup_or_create(host(5000), at + 2).unwrap();
        assert_eq!(t.stats.evicted, 1);
        assert!(t.find(host(2)).is_none() && t.find(host(1)).is_some());
        assert_eq!(t.find(host(5000)), Some(i));
        assert_eq!(t.live(), MAX_ENTRIES);
        // A flood churns only what no one holds.
        for n in 0..3 * MAX_ENTRIES as u32 {
            t.lookup_or_create(host(10_000 + n), at + 3).unwrap();
        }
        assert_eq!(t.find(gw), Some(g), "the gateway stays");
        assert_eq!(t.get(g).unwrap().refs, 2);
        assert!(
            t.find(Ipv4Addr::new(198, 18, 0, 253)).is_some(),
            "so does a static one"
        );
        assert_eq!(t.live(), MAX_ENTRIES);
        listed(&t);
        // Let go once: still held. Twice: collectable, and the next to go after the rest.
        t.release(g, at + 4);
        assert!(!t.get(g).unwrap().listed);
        t.release(g, at + 5);
        assert_eq!(listed(&t).last(), Some(&gw));
    }

    #[test]
    fn a_table_of_held_entries_is_full() {
        let mut t = table();
        for n in 0..MAX_ENTRIES as u32 {
            let i = t.lookup_or_create(host(n), 0).unwrap();
            t.hold(i);
        }
        assert_eq!(
            t.lookup_or_create(host(9999), 1),
            Err(NeighError::TableFull)
        );
        assert!(listed(&t).is_empty());
        t.release(t.find(host(7)).unwrap(), 2);
        let i = t.lookup_or_create(host(9999), 3).unwrap();
        assert!(t.find(host(7)).is_none());
        assert_eq!(t.get(i).map(|e| e.ip), Some(host(9999)));
        assert_eq!(t.stats.evicted, 1);
    }

    #[test]
    fn periodic_gc_takes_stale_and_failed_entries_above_thresh1() {
        let mut t = table();
        let stale = t.cfg.gc_stale_time;
        for n in 0..GC_THRESH1 as u32 - 1 {
            t.lookup_or_create(host(n), 0).unwrap();
        }
        t.periodic_gc(10 * stale);
        assert_eq!(
            (t.live(), t.stats.evicted),
            (GC_THRESH1 - 1, 0),
            "below thresh1"
        );
        let held = t.lookup_or_create(host(1000), 0).unwrap();
        t.hold(held);
        let fresh = t.lookup_or_create(host(1001), stale).unwrap();
        let failed = t.lookup_or_create(host(1002), stale).unwrap();
        if let Some(e) = t.get_mut(failed) {
            e.state = NeighState::Failed;
            e.next_probe = stale + 3 * SEC;
        }
        t.next_due = Nanos::MAX;
        t.periodic_gc(stale + SEC);
        assert_eq!(t.live(), 3, "every unused entry went");
        assert_eq!(t.stats.evicted, GC_THRESH1 as u64 - 1);
        assert_eq!(
            t.next_due,
            stale + 3 * SEC,
            "back when the failed one's hold ends"
        );
        assert!(t.get(held).is_some() && t.get(fresh).is_some() && t.get(failed).is_some());
        // Freed slots are used again before the table grows.
        let slots = t.slots.len();
        for n in 0..10 {
            t.lookup_or_create(host(2000 + n), stale + 2 * SEC).unwrap();
        }
        assert_eq!(t.slots.len(), slots);
        listed(&t);
    }
}
