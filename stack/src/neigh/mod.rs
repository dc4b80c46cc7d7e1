//! `neigh_output`: ARP resolution of next hops, with a prebuilt Ethernet header per entry
//! (the seed's `hh_cache`).
//!
//! States follow the kernel's: INCOMPLETE (asking), REACHABLE (confirmed recently), STALE
//! (usable, re-confirmed on use) and FAILED (no answer after `max_probes`). Frames that are
//! ready to go while an entry resolves wait in a bounded per-entry queue and leave when the
//! reply arrives. (Data segments do not wait here: they stay on their connection's write
//! queue until the next hop resolves, so nothing is copied or lost.)
//!
//! Connections hold the entry their cached route names (`hold`, `release`: the kernel's
//! neighbour refcount). An entry none holds may be collected (`gc`): at the table's limit
//! the least recently used goes to make room (`neigh_forced_gc`), and above `GC_THRESH1`
//! entries a failed one, or one unused for `gc_stale_time`, goes (`neigh_periodic_work`).
//! So senders of spoofed ARP, or of segments whose RSTs need entries, cannot fill the table
//! for good, and a connection's next hop never goes from under it. `poll` walks the table
//! only when an entry's timer is due (the kernel's per-entry timers, kept as one deadline).
use crate::addr::LocalAddrs;
use crate::dev::Dev;
use linerate_dpdk::{Device, Mbuf, Mempool};
use linerate_proto::timer::{Nanos, SEC};
use linerate_proto::wire::arp::{self, ArpOp, ArpPacket};
use linerate_proto::wire::ethernet::{EtherType, MacAddr};
use linerate_proto::wire::ETH_HEADER_LEN;
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

mod gc;

/// Frames held per entry while resolving (Linux's `unres_qlen` is in this range).
const PENDING_MAX: usize = 64;
/// Most next hops a stack tracks (Linux's `gc_thresh3`).
pub(crate) const MAX_ENTRIES: usize = 1024;
/// Longest `poll` goes without walking the table: a bound on a timer the earliest deadline
/// missed, and on how late a table that grew past `GC_THRESH1` is first collected.
const WALK_MAX_GAP: Nanos = SEC;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// The state of a neighbour entry, as the kernel's NUD states.
pub enum NeighState {
    /// Resolving: ARP requests are out, no answer yet.
    Incomplete,
    /// Confirmed by a reply within `NeighConfig::reachable`.
    Reachable,
    /// Usable but unconfirmed for a while; confirmed again on use.
    Stale,
    /// No answer after `max_probes` requests.
    Failed,
    /// Configured by hand; never expires.
    Permanent,
}

#[derive(Debug, Clone, Copy)]
/// ARP timing (the kernel's neigh parameters).
pub struct NeighConfig {
    /// Time between ARP requests while resolving (Linux: retrans_time, 1 s).
    pub retrans: Nanos,
    /// Requests before giving up (Linux: mcast_solicit, 3).
    pub max_probes: u8,
    /// How long a confirmation keeps an entry REACHABLE (Linux: base_reachable_time, 30 s).
    pub reachable: Nanos,
    /// How long a FAILED entry stays failed before a new use retries it.
    pub failed_hold: Nanos,
    /// How long an entry no connection holds may go unused before garbage collection takes
    /// it (Linux: gc_stale_time, 60 s).
    pub gc_stale_time: Nanos,
}

impl Default for NeighConfig {
    fn default() -> Self {
        NeighConfig {
            retrans: SEC,
            max_probes: 3,
            reachable: 30 * SEC,
            failed_hold: 3 * SEC,
            gc_stale_time: 60 * SEC,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
/// ARP counters.
pub struct NeighStats {
    /// ARP requests sent (gratuitous included).
    pub requests_sent: u64,
    /// ARP replies sent to requests for our address.
    pub replies_sent: u64,
    /// ARP replies received.
    pub replies_received: u64,
    /// Entries that became resolved.
    pub resolved: u64,
    /// Entries that failed.
    pub failed: u64,
    /// Pending frames dropped: the entry failed, or its queue was full (oldest goes).
    pub pending_dropped: u64,
    /// ARP frames about other hosts, or malformed.
    pub ignored: u64,
    /// Entries no connection used, removed by garbage collection: stale or failed ones, or
    /// the least recently used one to make room at the table's limit (`neigh_forced_gc`).
    pub evicted: u64,
}

impl NeighStats {
    /// Adds `o` field by field (totals over several stacks).
    pub fn add(&mut self, o: &NeighStats) {
        // Destructured, so that a new field cannot be left out of the sum.
        let NeighStats {
            requests_sent,
            replies_sent,
            replies_received,
            resolved,
            failed,
            pending_dropped,
            ignored,
            evicted,
        } = *o;
        self.requests_sent += requests_sent;
        self.replies_sent += replies_sent;
        self.replies_received += replies_received;
        self.resolved += resolved;
        self.failed += failed;
        self.pending_dropped += pending_dropped;
        self.ignored += ignored;
        self.evicted += evicted;
    }
}

#[derive(Debug)]
/// One next hop.
pub struct Neighbour {
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its state.
    pub state: NeighState,
    /// Its MAC, once resolved.
    pub mac: MacAddr,
    /// dst MAC, our MAC, EtherType IPv4: copied in front of every IPv4 frame.
    hh: [u8; ETH_HEADER_LEN],
    pending: VecDeque<Mbuf>,
    probes: u8,
    next_probe: Nanos,
    confirmed: Nanos,
    /// Connections whose cached route names this entry (the kernel's refcount, less the
    /// table's own).
    refs: u32,
    /// On the table's list of entries garbage collection may take (held by none, not
    /// PERMANENT), with its neighbours there (`gc::NIL` at the ends).
    listed: bool,
    gc_prev: u32,
    gc_next: u32,
    /// Last confirmed, used while unheld, or let go by its last connection: the age
    /// collection goes by.
    used: Nanos,
}

impl Neighbour {
    fn new(ip: Ipv4Addr, state: NeighState, now: Nanos) -> Self {
        Neighbour {
            ip,
            state,
            mac: MacAddr::ZERO,
            hh: [0; ETH_HEADER_LEN],
            pending: VecDeque::new(),
            probes: 0,
            next_probe: now,
            confirmed: 0,
            refs: 0,
            listed: false,
            gc_prev: gc::NIL,
            gc_next: gc::NIL,
            used: now,
        }
    }

    /// Usable: frames can go to it now.
    #[inline]
    fn resolved(&self) -> bool {
        matches!(
            self.state,
            NeighState::Reachable | NeighState::Stale | NeighState::Permanent
        )
    }
}

/// Why a frame could not go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NeighError {
    /// Resolution failed: EHOSTUNREACH.
    HostUnreachable,
    /// The table is full.
    TableFull,
}

/// The neighbour table of one stack: next hops and their ARP state.
pub struct NeighTable {
    /// Entries by index, `None` for a free slot: an entry keeps its index while it lives,
    /// since connections cache it (`Dst`).
    slots: Vec<Option<Neighbour>>,
    /// Free slots, used again before the table grows.
    free: Vec<u32>,
    /// Address to index (`neigh_lookup`'s hash table).
    by_ip: HashMap<Ipv4Addr, u32>,
    /// The last address looked up and its index: connections mostly share one next hop, and
    /// a connection rate of a million a second looks it up as often.
    last: (Ipv4Addr, u32),
    /// Entries garbage collection may take, least recently used first (the kernel's
    /// `gc_list`).
    gc: gc::GcList,
    /// When `poll` next has an entry to look at.
    next_due: Nanos,
    our_mac: MacAddr,
    /// Our addresses: the port's (`primary`, what our requests come from) and the source
    /// range; ARP requests for any of them are answered, IP input accepts them.
    local: LocalAddrs,
    /// Timing.
    pub cfg: NeighConfig,
    /// Counters.
    pub stats: NeighStats,
}

impl NeighTable {
    pub(crate) fn new(our_mac: MacAddr, local: LocalAddrs, cfg: NeighConfig) -> Self {
        NeighTable {
            slots: Vec::with_capacity(16),
            free: Vec::new(),
            by_ip: HashMap::with_capacity(16),
            last: (Ipv4Addr::UNSPECIFIED, gc::NIL),
            gc: gc::GcList::default(),
            next_due: 0,
            our_mac,
            local,
            cfg,
            stats: NeighStats::default(),
        }
    }

    /// Our addresses (for IP input's check and connect's choice of source).
    #[inline]
    pub(crate) fn local(&self) -> &LocalAddrs {
        &self.local
    }

    fn hh_for(&self, mac: MacAddr) -> [u8; ETH_HEADER_LEN] {
        let mut h = [0u8; ETH_HEADER_LEN];
        h[0..6].copy_from_slice(&mac.0);
        h[6..12].copy_from_slice(&self.our_mac.0);
        h[12..14].copy_from_slice(&EtherType::IPV4.to_be_bytes());
        h
    }

    /// The entry for `ip`, created INCOMPLETE if new: at the table's limit, in place of the
    /// least recently used entry no connection holds (`TableFull` when every one is held).
    pub(crate) fn lookup_or_create(
        &mut self,
        ip: Ipv4Addr,
        now: Nanos,
    ) -> Result<usize, NeighError> {
        // No walk is asked for: the caller's use kicks resolution (`kick`), or ARP input
        // resolves it at once.
        let i = match self.find(ip) {
            Some(i) => i,
            None => self.alloc(Neighbour::new(ip, NeighState::Incomplete, now))?,
        };
        self.last = (ip, i as u32);
        Ok(i)
    }

    /// The index of the entry for `ip`, if any.
    pub fn find(&self, ip: Ipv4Addr) -> Option<usize> {
        let (last_ip, last) = self.last;
        if last_ip == ip && self.get(last as usize).is_some_and(|e| e.ip == ip) {
            return Some(last as usize);
        }
        self.by_ip.get(&ip).map(|&i| i as usize)
    }

    /// The entry at `idx`.
    #[inline]
    pub fn get(&self, idx: usize) -> Option<&Neighbour> {
        self.slots.get(idx)?.as_ref()
    }

    #[inline]
    fn get_mut(&mut self, idx: usize) -> Option<&mut Neighbour> {
        self.slots.get_mut(idx)?.as_mut()
    }

    /// A static entry (`--neigh ip=mac`): never collected, and not held to the limit (it is
    /// configuration, not traffic).
    pub(crate) fn add_static(&mut self, ip: Ipv4Addr, mac: MacAddr) {
        let hh = self.hh_for(mac);
        let i = match self.find(ip) {
            Some(i) => i,
            None => self.insert(Neighbour::new(ip, NeighState::Permanent, 0)),
        };
        self.unlink(i);
        if let Some(e) = self.get_mut(i) {
            e.state = NeighState::Permanent;
            e.mac = mac;
            e.hh = hh;
        }
    }

    /// True when frames can go to this entry now.
    #[inline]
    pub(crate) fn is_resolved(&self, idx: usize) -> bool {
        self.get(idx).is_some_and(Neighbour::resolved)
    }

    #[inline]
    pub(crate) fn is_failed(&self, idx: usize) -> bool {
        self.get(idx).is_some_and(|e| e.state == NeighState::Failed)
    }

    /// `poll` walks the table at `at` at the latest.
    #[inline]
    fn due(&mut self, at: Nanos) {
        self.next_due = self.next_due.min(at);
    }

    /// Makes sure resolution is under way for `idx` (a use of a FAILED entry past its hold
    /// time, or of a STALE one, asks again).
    pub(crate) fn kick<D: Device>(
        &mut self,
        idx: usize,
        now: Nanos,
        dev: &mut Dev<D>,
        pool: &Mempool,
    ) {
        let cfg = self.cfg;
        let Some(e) = self.get_mut(idx) else {
            return;
        };
        match e.state {
            NeighState::Failed if now >= e.next_probe => {
                e.state = NeighState::Incomplete;
                e.probes = 0;
                e.next_probe = now;
            }
            NeighState::Reachable if now.saturating_sub(e.confirmed) > cfg.reachable => {
                e.state = NeighState::Stale;
            }
            _ => {}
        }
        let ip = e.ip;
        let due =
            matches!(e.state, NeighState::Incomplete | NeighState::Stale) && now >= e.next_probe;
        let resolving = matches!(e.state, NeighState::Incomplete | NeighState::Stale);
        if due {
            e.probes = e.probes.saturating_add(1);
            e.next_probe = now + cfg.retrans;
        }
        let next = e.next_probe;
        if due {
            self.send_request(ip, dev, pool);
        }
        if resolving {
            self.due(next);
        }
    }

    /// The cached Ethernet header of entry `idx` while it is usable (`neigh_hh_output`'s).
    #[inline]
    pub(crate) fn hh(&self, idx: usize) -> Option<&[u8; ETH_HEADER_LEN]> {
        let e = self.get(idx)?;
        e.resolved().then_some(&e.hh)
    }

    /// Prepends the cached Ethernet header to an IPv4 frame. False if unresolved or no
    /// headroom.
    #[inline]
    pub(crate) fn push_hh(&self, idx: usize, m: &mut Mbuf) -> bool {
        let Some(e) = self.get(idx) else {
            return false;
        };
        if !e.resolved() {
            return false;
        }
        match m.prepend(ETH_HEADER_LEN) {
            Some(h) => {
                h.copy_from_slice(&e.hh);
                true
            }
            None => false,
        }
    }

    /// Sends an owned IPv4 frame to the next hop, or queues it while the entry resolves.
    pub(crate) fn output<D: Device>(
        &mut self,
        idx: usize,
        mut m: Mbuf,
        now: Nanos,
        dev: &mut Dev<D>,
        pool: &Mempool,
    ) -> Result<(), NeighError> {
        // A use by a frame of no connection (an RST, a TIME-WAIT ACK) keeps it from
        // collection a while.
        self.touch(idx, now);
        if self.push_hh(idx, &mut m) {
            // A full backlog drops a control frame; TCP recovers it like a loss.
            let _ = dev.xmit(m);
            return Ok(());
        }
        if self.is_failed(idx) {
            self.kick(idx, now, dev, pool);
            if self.is_failed(idx) {
                return Err(NeighError::HostUnreachable);
            }
        }
        // The slot alone is borrowed: the counters are written beside it.
        let Some(Some(e)) = self.slots.get_mut(idx) else {
            return Err(NeighError::HostUnreachable);
        };
        if e.pending.len() >= PENDING_MAX {
            e.pending.pop_front();
            self.stats.pending_dropped += 1;
        }
        e.pending.push_back(m);
        self.kick(idx, now, dev, pool);
        Ok(())
    }

    fn send_request<D: Device>(&mut self, target: Ipv4Addr, dev: &mut Dev<D>, pool: &Mempool) {
        let me = self.local.primary;
        let to = (MacAddr::BROADCAST, MacAddr::ZERO, target);
        self.send_arp(ArpOp::REQUEST, me, to, dev, pool);
    }

    /// An ARP frame from `sender` (one of our addresses) to (Ethernet destination, target
    /// MAC, target IP).
    fn send_arp<D: Device>(
        &mut self,
        op: u16,
        sender: Ipv4Addr,
        (eth_dst, target_mac, target_ip): (MacAddr, MacAddr, Ipv4Addr),
        dev: &mut Dev<D>,
        pool: &Mempool,
    ) {
        let Some(mut m) = pool.alloc() else { return };
        let Some(buf) = m.append(arp::FRAME_LEN) else {
            return;
        };
        let ok = arp::emit_frame(
            buf,
            op,
            eth_dst,
            self.our_mac,
            sender,
            target_mac,
            target_ip,
        )
        .is_ok();
        if ok && dev.xmit(m).is_ok() {
            if op == ArpOp::REQUEST {
                self.stats.requests_sent += 1;
            } else {
                self.stats.replies_sent += 1;
            }
        }
    }

    /// Announces our address (gratuitous ARP request: sender = target = our IP).
    pub(crate) fn gratuitous<D: Device>(&mut self, dev: &mut Dev<D>, pool: &Mempool) {
        let ip = self.local.primary;
        self.send_request(ip, dev, pool);
    }

    /// Handles one ARP frame's body. Returns the entry that just became resolved, if any, so
    /// that the connections waiting on it can send.
    pub(crate) fn input<D: Device>(
        &mut self,
        body: &[u8],
        now: Nanos,
        dev: &mut Dev<D>,
        pool: &Mempool,
    ) -> Option<usize> {
        let Ok(p) = ArpPacket::new_checked(body) else {
            self.stats.ignored += 1;
            return None;
        };
        let (op, sip, smac, tip) = (p.operation(), p.sender_ip(), p.sender_mac(), p.target_ip());
        let for_us = self.local.contains(tip);
        // A martian sender (`arp_process` has `ip_route_input` check it): neither learnt
        // nor answered.
        if self.local.is_martian_src(sip) || !smac.is_unicast() {
            self.stats.ignored += 1;
            return None;
        }
        // RFC 826: update an entry we have; create one only if the frame is for us.
        let idx = match self.find(sip) {
            Some(i) => Some(i),
            None if for_us => self.lookup_or_create(sip, now).ok(),
            None => None,
        };
        let mut resolved = None;
        if let Some(i) = idx {
            let hh = self.hh_for(smac);
            let reachable = self.cfg.reachable;
            let mut was = None;
            if let Some(e) = self.get_mut(i).filter(|e| e.state != NeighState::Permanent) {
                was = Some(e.state);
                e.mac = smac;
                e.hh = hh;
                e.state = NeighState::Reachable;
                e.confirmed = now;
                e.probes = 0;
            }
            if let Some(was) = was {
                if was != NeighState::Reachable && was != NeighState::Stale {
                    self.stats.resolved += 1;
                }
                if op == ArpOp::REPLY {
                    self.stats.replies_received += 1;
                }
                resolved = Some(i);
            }
            // Send what waited for this answer, in order.
            while let Some(mut m) = self.get_mut(i).and_then(|e| e.pending.pop_front()) {
                if self.push_hh(i, &mut m) {
                    let _ = dev.xmit(m);
                } else {
                    self.stats.pending_dropped += 1;
                }
            }
            self.touch(i, now);
            self.due(now + reachable + 1);
        }
        if op == ArpOp::REQUEST && for_us {
            self.send_arp(ArpOp::REPLY, tip, (smac, smac, sip), dev, pool);
        } else if !for_us && idx.is_none() {
            self.stats.ignored += 1;
        }
        resolved
    }

    /// Runs retries, ageing and garbage collection, when one is due. Entries that just
    /// FAILED are appended to `failed`.
    pub(crate) fn poll<D: Device>(
        &mut self,
        now: Nanos,
        dev: &mut Dev<D>,
        pool: &Mempool,
        failed: &mut Vec<usize>,
    ) {
        if now < self.next_due {
            return;
        }
        self.next_due = now + WALK_MAX_GAP;
        self.periodic_gc(now);
        for i in 0..self.slots.len() {
            let cfg = self.cfg;
            let Some(e) = self.get_mut(i) else {
                continue;
            };
            match e.state {
                NeighState::Incomplete if now >= e.next_probe => {
                    if e.probes >= cfg.max_probes {
                        e.state = NeighState::Failed;
                        e.next_probe = now + cfg.failed_hold;
                        let n = e.pending.len() as u64;
                        e.pending.clear();
                        self.stats.pending_dropped += n;
                        self.stats.failed += 1;
                        failed.push(i);
                    } else {
                        self.kick(i, now, dev, pool);
                    }
                }
                // Only while a connection uses it: one no connection holds is probed only
                // when a frame needs it (the kernel's STALE → DELAY on use).
                NeighState::Stale if e.refs > 0 && now >= e.next_probe => {
                    if e.probes >= cfg.max_probes {
                        // Silent while in use: resolve from scratch.
                        e.state = NeighState::Incomplete;
                        e.probes = 0;
                    }
                    self.kick(i, now, dev, pool);
                }
                NeighState::Reachable if now.saturating_sub(e.confirmed) > cfg.reachable => {
                    e.state = NeighState::Stale;
                    e.probes = 0;
                    e.next_probe = now;
                }
                _ => {}
            }
            // Its next timer, after whatever just ran.
            let Some(e) = self.get(i) else {
                continue;
            };
            let next = match e.state {
                NeighState::Incomplete => e.next_probe,
                NeighState::Stale if e.refs > 0 => e.next_probe,
                NeighState::Reachable => e.confirmed + cfg.reachable + 1,
                _ => continue,
            };
            self.due(next);
        }
    }

    /// Every entry (in no particular order).
    pub fn entries(&self) -> impl Iterator<Item = &Neighbour> + '_ {
        self.slots.iter().flatten()
    }

    /// The address we answer ARP for.
    pub fn our_ip(&self) -> Ipv4Addr {
        self.local.primary
    }
}
