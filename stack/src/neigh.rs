//! `neigh_output`: ARP resolution of next hops, with a prebuilt Ethernet header per entry
//! (the seed's `hh_cache`).
//!
//! States follow the kernel's: INCOMPLETE (asking), REACHABLE (confirmed recently), STALE
//! (usable, re-confirmed on use) and FAILED (no answer after `max_probes`). Frames that are
//! ready to go while an entry resolves wait in a bounded per-entry queue and leave when the
//! reply arrives. (Data segments do not wait here: they stay on their connection's write
//! queue until the next hop resolves, so nothing is copied or lost.)
use crate::addr::LocalAddrs;
use crate::dev::Dev;
use linerate_dpdk::{Device, Mbuf, Mempool};
use linerate_proto::timer::{Nanos, SEC};
use linerate_proto::wire::arp::{self, ArpOp, ArpPacket};
use linerate_proto::wire::ethernet::{EtherType, MacAddr};
use linerate_proto::wire::ETH_HEADER_LEN;
use std::collections::VecDeque;
use std::net::Ipv4Addr;

/// Frames held per entry while resolving (Linux's `unres_qlen` is in this range).
const PENDING_MAX: usize = 64;
/// Most next hops a stack tracks.
pub(crate) const MAX_ENTRIES: usize = 1024;

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
}

impl Default for NeighConfig {
    fn default() -> Self {
        NeighConfig {
            retrans: SEC,
            max_probes: 3,
            reachable: 30 * SEC,
            failed_hold: 3 * SEC,
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
    entries: Vec<Neighbour>,
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
            entries: Vec::with_capacity(16),
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

    /// The entry for `ip`, created INCOMPLETE if new.
    pub(crate) fn lookup_or_create(
        &mut self,
        ip: Ipv4Addr,
        now: Nanos,
    ) -> Result<usize, NeighError> {
        if let Some(i) = self.find(ip) {
            return Ok(i);
        }
        if self.entries.len() >= MAX_ENTRIES {
            return Err(NeighError::TableFull);
        }
        self.entries.push(Neighbour {
            ip,
            state: NeighState::Incomplete,
            mac: MacAddr::ZERO,
            hh: [0; ETH_HEADER_LEN],
            pending: VecDeque::new(),
            probes: 0,
            next_probe: now,
            confirmed: 0,
        });
        Ok(self.entries.len() - 1)
    }

    /// The index of the entry for `ip`, if any.
    pub fn find(&self, ip: Ipv4Addr) -> Option<usize> {
        self.entries.iter().position(|e| e.ip == ip)
    }

    /// The entry at `idx`.
    pub fn get(&self, idx: usize) -> Option<&Neighbour> {
        self.entries.get(idx)
    }

    /// A static entry (`--neigh ip=mac`).
    pub(crate) fn add_static(&mut self, ip: Ipv4Addr, mac: MacAddr) {
        let hh = self.hh_for(mac);
        let e = Neighbour {
            ip,
            state: NeighState::Permanent,
            mac,
            hh,
            pending: VecDeque::new(),
            probes: 0,
            next_probe: 0,
            confirmed: 0,
        };
        match self.find(ip) {
            Some(i) => self.entries[i] = e,
            None => self.entries.push(e),
        }
    }

    /// True when frames can go to this entry now.
    #[inline]
    pub(crate) fn is_resolved(&self, idx: usize) -> bool {
        matches!(
            self.entries.get(idx).map(|e| e.state),
            Some(NeighState::Reachable | NeighState::Stale | NeighState::Permanent)
        )
    }

    #[inline]
    pub(crate) fn is_failed(&self, idx: usize) -> bool {
        matches!(
            self.entries.get(idx).map(|e| e.state),
            Some(NeighState::Failed)
        )
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
        let Some(e) = self.entries.get_mut(idx) else {
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
        if due {
            e.probes = e.probes.saturating_add(1);
            e.next_probe = now + cfg.retrans;
            self.send_request(ip, dev, pool);
        }
    }

    /// The cached Ethernet header of entry `idx` while it is usable (`neigh_hh_output`'s).
    #[inline]
    pub(crate) fn hh(&self, idx: usize) -> Option<&[u8; ETH_HEADER_LEN]> {
        let e = self.entries.get(idx)?;
        matches!(
            e.state,
            NeighState::Reachable | NeighState::Stale | NeighState::Permanent
        )
        .then_some(&e.hh)
    }

    /// Prepends the cached Ethernet header to an IPv4 frame. False if unresolved or no
    /// headroom.
    #[inline]
    pub(crate) fn push_hh(&self, idx: usize, m: &mut Mbuf) -> bool {
        let Some(e) = self.entries.get(idx) else {
            return false;
        };
        if !matches!(
            e.state,
            NeighState::Reachable | NeighState::Stale | NeighState::Permanent
        ) {
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
        let Some(e) = self.entries.get_mut(idx) else {
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
            let e = &mut self.entries[i];
            if e.state != NeighState::Permanent {
                let was = e.state;
                e.mac = smac;
                e.hh = hh;
                e.state = NeighState::Reachable;
                e.confirmed = now;
                e.probes = 0;
                if was != NeighState::Reachable && was != NeighState::Stale {
                    self.stats.resolved += 1;
                }
                if op == ArpOp::REPLY {
                    self.stats.replies_received += 1;
                }
                resolved = Some(i);
            }
            // Send what waited for this answer, in order.
            while let Some(mut m) = self.entries[i].pending.pop_front() {
                if self.push_hh(i, &mut m) {
                    let _ = dev.xmit(m);
                } else {
                    self.stats.pending_dropped += 1;
                }
            }
        }
        if op == ArpOp::REQUEST && for_us {
            self.send_arp(ArpOp::REPLY, tip, (smac, smac, sip), dev, pool);
        } else if !for_us && idx.is_none() {
            self.stats.ignored += 1;
        }
        resolved
    }

    /// Runs retries and ageing. Entries that just FAILED are appended to `failed`.
    pub(crate) fn poll<D: Device>(
        &mut self,
        now: Nanos,
        dev: &mut Dev<D>,
        pool: &Mempool,
        failed: &mut Vec<usize>,
    ) {
        for i in 0..self.entries.len() {
            let cfg = self.cfg;
            let e = &mut self.entries[i];
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
                NeighState::Stale if now >= e.next_probe => {
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
        }
    }

    /// Every entry.
    pub fn entries(&self) -> &[Neighbour] {
        &self.entries
    }

    /// The address we answer ARP for.
    pub fn our_ip(&self) -> Ipv4Addr {
        self.local.primary
    }
}
