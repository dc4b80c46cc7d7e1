//! The per-core stack: one RX/TX queue pair, its connections, its timer wheel and its mbuf
//! pool. `poll(now)` runs RX, timers and TX in one pass; time is an argument so that the
//! simulation can drive it with a virtual clock.
use crate::dev::{Dev, DevStats, Device};
use crate::dpdk::{Mbuf, Mempool, Offloads};
use crate::ip::{self, IpDrop};
use crate::neigh::{NeighConfig, NeighStats, NeighTable};
use crate::route::{Route, RouteTable};
use crate::tcp::input::{self, SegIn};
use crate::tcp::output;
use crate::tcp::timer::{Nanos, TimerWheel, MS};
use crate::tcp::{ConnId, State, Tcb, TcpConfig, TcpCounters};
use crate::wire::ethernet::{EtherType, EthernetFrame, MacAddr};
use crate::wire::ipv4::Ipv4Cidr;
use crate::wire::tcp::{flags, TcpOptions, TcpPacket};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Frames dropped on input, by reason: the per-port drop counters. Nothing on the wire makes
/// the stack panic; everything it cannot use is counted here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxDrops {
    /// Truncated or malformed Ethernet, IPv4 or TCP (including bad TCP options).
    pub malformed: u64,
    pub bad_ip_checksum: u64,
    pub bad_tcp_checksum: u64,
    /// Unicast to another MAC, or IPv4 to another address.
    pub not_for_us: u64,
    pub fragments: u64,
    /// IPv4 protocols other than TCP, and EtherTypes other than IPv4 and ARP.
    pub unsupported: u64,
    /// Segments outside the receive window (RFC 9293 §3.10.7.4).
    pub out_of_window: u64,
    /// RSTs that failed the sequence check (RFC 5961 §3).
    pub bad_rst: u64,
    /// SYNs on synchronized connections, and unexpected segments in SYN-SENT.
    pub bad_syn: u64,
    /// ACKs for data never sent.
    pub bad_ack: u64,
    pub no_ack: u64,
    /// Old timestamps (PAWS, RFC 7323 §5).
    pub paws: u64,
    /// Segments for no connection (answered with RST).
    pub no_conn: u64,
    /// RSTs we sent in reply to such segments.
    pub rst_sent: u64,
}

impl RxDrops {
    /// Every dropped frame (excludes `rst_sent`, which counts replies).
    pub fn total(&self) -> u64 {
        self.malformed
            + self.bad_ip_checksum
            + self.bad_tcp_checksum
            + self.not_for_us
            + self.fragments
            + self.unsupported
            + self.out_of_window
            + self.bad_rst
            + self.bad_syn
            + self.bad_ack
            + self.no_ack
            + self.paws
            + self.no_conn
    }
}

/// Everything below TCP: what the output path needs from the layers under it.
pub struct NetCtx<D: Device> {
    pub dev: Dev<D>,
    pub neigh: NeighTable,
    pub routes: RouteTable,
    pub pool: Arc<Mempool>,
    pub ip: Ipv4Cidr,
    pub mac: MacAddr,
    pub offloads: Offloads,
    pub drops: RxDrops,
    /// Mbufs the send path leaves in the pool for RX descriptors and control frames.
    pub pool_reserve: u32,
    /// Send-path allocations allowed before the pool is looked at again (counting a pool's
    /// free mbufs walks every lcore cache, too slow to do per segment).
    pub(crate) pool_budget: u32,
}

impl<D: Device> NetCtx<D> {
    /// May `send` take another mbuf without eating into the reserve?
    #[inline]
    pub(crate) fn may_take_send_mbuf(&mut self) -> bool {
        if self.pool_budget == 0 {
            let avail = self.pool.available();
            // Re-check at least every 64 mbufs, sooner as the pool runs low.
            self.pool_budget = (avail.saturating_sub(self.pool_reserve) / 2).min(64);
            if self.pool_budget == 0 {
                return false;
            }
        }
        self.pool_budget -= 1;
        true
    }
}

/// How to build a stack.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Our address and subnet on the port.
    pub ip: Ipv4Cidr,
    /// Default gateway, if any.
    pub gateway: Option<Ipv4Addr>,
    /// Extra routes.
    pub routes: Vec<Route>,
    /// Static ARP entries.
    pub static_neigh: Vec<(Ipv4Addr, MacAddr)>,
    pub tcp: TcpConfig,
    pub neigh: NeighConfig,
    pub max_conns: usize,
    /// Ephemeral source ports (inclusive); split this between cores.
    pub ephemeral: (u16, u16),
    /// Timer wheel granularity.
    pub timer_tick: Nanos,
    /// Mbufs `send` must leave in the pool: enough to refill the RX ring and send ACKs, ARP
    /// and RSTs. Below it, `send` returns WouldBlock.
    pub pool_reserve: u32,
}

impl StackConfig {
    pub fn new(ip: Ipv4Cidr) -> Self {
        StackConfig {
            ip,
            gateway: None,
            routes: Vec::new(),
            static_neigh: Vec::new(),
            tcp: TcpConfig::default(),
            neigh: NeighConfig::default(),
            max_conns: 65_536,
            ephemeral: (32768, 60999),
            timer_tick: MS,
            pool_reserve: 2048,
        }
    }
}

/// Stack-wide counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StackStats {
    pub dev: DevStats,
    pub drops: RxDrops,
    pub neigh: NeighStats,
    pub conns_open: usize,
    /// TCP counters summed over every connection, open or already freed.
    pub tcp: TcpCounters,
    /// Connections that ended with an error.
    pub conn_errors: u64,
}

/// One per lcore.
pub struct Stack<D: Device> {
    pub(crate) net: NetCtx<D>,
    pub(crate) conns: Vec<Option<Tcb>>,
    pub(crate) free: Vec<ConnId>,
    pub(crate) by_tuple: HashMap<(Ipv4Addr, u16, u16), ConnId, TupleHasher>,
    wheel: TimerWheel,
    expired: Vec<u32>,
    rx: Vec<Mbuf>,
    failed_neigh: Vec<usize>,
    resolved_neigh: Vec<usize>,
    pub(crate) now: Nanos,
    pub(crate) next_port: u16,
    pub(crate) cfg: StackConfig,
    pub(crate) isn_key: std::collections::hash_map::RandomState,
    /// Counters of connections already freed.
    retired: TcpCounters,
    retired_errors: u64,
}

impl<D: Device> Stack<D> {
    /// Builds a stack on `dev`, sends a gratuitous ARP, and is ready to `connect`.
    pub fn new(dev: D, pool: Arc<Mempool>, cfg: StackConfig, now: Nanos) -> Self {
        let mac = dev.mac();
        let offloads = dev.offloads();
        let mut routes = RouteTable::new();
        routes.add_connected(cfg.ip);
        if let Some(gw) = cfg.gateway {
            routes.add(Route {
                dst: Ipv4Cidr {
                    addr: Ipv4Addr::UNSPECIFIED,
                    prefix_len: 0,
                },
                gateway: Some(gw),
            });
        }
        for r in &cfg.routes {
            routes.add(*r);
        }
        let mut neigh = NeighTable::new(mac, cfg.ip.addr, cfg.neigh);
        for (ip, m) in &cfg.static_neigh {
            neigh.add_static(*ip, *m);
        }
        let pool_reserve = cfg.pool_reserve.min(pool.size() / 2);
        let mut net = NetCtx {
            dev: Dev::new(dev),
            neigh,
            routes,
            pool,
            ip: cfg.ip,
            mac,
            offloads,
            drops: RxDrops::default(),
            pool_reserve,
            pool_budget: 0,
        };
        let pool = net.pool.clone();
        net.neigh.gratuitous(&mut net.dev, &pool);
        net.dev.flush();
        Stack {
            net,
            conns: Vec::new(),
            free: Vec::new(),
            by_tuple: HashMap::with_capacity_and_hasher(1024, TupleHasher::new()),
            wheel: TimerWheel::new(cfg.timer_tick, 4096, now),
            expired: Vec::with_capacity(1024),
            rx: Vec::with_capacity(crate::dpdk::MAX_BURST * 2),
            failed_neigh: Vec::new(),
            resolved_neigh: Vec::new(),
            now,
            next_port: cfg.ephemeral.0,
            cfg,
            isn_key: Default::default(),
            retired: TcpCounters::default(),
            retired_errors: 0,
        }
    }

    /// One pass: receive and process a few bursts, run due timers, run ARP, and flush TX.
    pub fn poll(&mut self, now: Nanos) {
        self.now = now;
        let mut frames = std::mem::take(&mut self.rx);
        for _ in 0..4 {
            if self.net.dev.rx_burst(&mut frames) == 0 {
                break;
            }
            for m in frames.drain(..) {
                self.input_frame(&m);
            }
        }
        self.rx = frames;

        self.wheel.expire(now, &mut self.expired);
        let mut expired = std::mem::take(&mut self.expired);
        for id in expired.drain(..) {
            if let Some(Some(tcb)) = self.conns.get_mut(id as usize) {
                tcb.wheel_at = None;
                output::on_timers(tcb, &mut self.net, now);
                self.after_event(id);
            }
        }
        self.expired = expired;

        let pool = self.net.pool.clone();
        self.net
            .neigh
            .poll(now, &mut self.net.dev, &pool, &mut self.failed_neigh);
        if !self.failed_neigh.is_empty() || !self.resolved_neigh.is_empty() {
            self.neigh_changed();
        }
        self.net.dev.flush();
    }

    /// Room in the timer wheel for every connection's few outstanding entries, made at
    /// connect time so that arming timers on the data path never allocates.
    pub(crate) fn reserve_timers(&mut self) {
        self.wheel.reserve(8 * self.conns.len() + 1024);
    }

    /// Pushes out whatever is queued for the NIC now (`poll` does this too).
    pub fn flush(&mut self) {
        self.net.dev.flush();
    }

    /// ARP finished for some next hops: wake or fail the connections behind them.
    fn neigh_changed(&mut self) {
        let failed = std::mem::take(&mut self.failed_neigh);
        let resolved = std::mem::take(&mut self.resolved_neigh);
        for id in 0..self.conns.len() {
            let Some(tcb) = self.conns[id].as_mut() else {
                continue;
            };
            if failed.contains(&tcb.neigh) && tcb.state == State::SynSent {
                input::fail(tcb, crate::tcp::TcpError::HostUnreachable);
            } else if resolved.contains(&tcb.neigh) {
                output::write_xmit(tcb, &mut self.net, self.now);
            }
            self.after_event(id as ConnId);
        }
        self.failed_neigh = failed;
        self.failed_neigh.clear();
        self.resolved_neigh = resolved;
        self.resolved_neigh.clear();
    }

    /// After input, a timer or an app call: let output send, answer with an ACK if one is
    /// owed, re-arm the wheel, and free the slot of a finished, released connection.
    pub(crate) fn after_event(&mut self, id: ConnId) {
        let now = self.now;
        let Some(Some(tcb)) = self.conns.get_mut(id as usize) else {
            return;
        };
        output::write_xmit(tcb, &mut self.net, now);
        if tcb.ack_now && tcb.state != State::Closed && tcb.state != State::SynSent {
            output::send_ack(tcb, &mut self.net, now);
        }
        if tcb.state == State::Closed {
            tcb.rto_at = None;
            tcb.delack_at = None;
            tcb.persist_at = None;
            tcb.close_at = None;
            if tcb.released {
                self.retired.add(&tcb.counters);
                self.retired_errors += tcb
                    .error
                    .is_some_and(|e| e != crate::tcp::TcpError::Aborted)
                    as u64;
                let key = (tcb.remote_ip, tcb.remote_port, tcb.local_port);
                self.by_tuple.remove(&key);
                self.conns[id as usize] = None;
                self.free.push(id);
            }
            return;
        }
        if let Some(d) = tcb.next_deadline() {
            if tcb.wheel_at.is_none_or(|w| d < w) {
                self.wheel.schedule(id, d);
                tcb.wheel_at = Some(d);
            }
        }
    }

    fn input_frame(&mut self, m: &Mbuf) {
        let now = self.now;
        let Ok(eth) = EthernetFrame::new_checked(m.data()) else {
            self.net.drops.malformed += 1;
            return;
        };
        let dst = eth.dst();
        if dst != self.net.mac && !dst.is_broadcast() {
            self.net.drops.not_for_us += 1;
            return;
        }
        match eth.ethertype() {
            EtherType::ARP => {
                let pool = self.net.pool.clone();
                if let Some(i) = self
                    .net
                    .neigh
                    .input(eth.payload(), now, &mut self.net.dev, &pool)
                {
                    self.resolved_neigh.push(i);
                    self.neigh_changed();
                }
            }
            EtherType::IPV4 => {
                let hw_good = m.rx_cksum_good();
                let pkt = eth.payload();
                match ip::input(pkt, self.net.ip.addr, hw_good) {
                    Ok(ipin) => {
                        let l4 = &pkt[ipin.l4_start..ipin.l4_end];
                        self.input_tcp(ipin.src, ipin.dst, l4, hw_good);
                    }
                    Err(IpDrop::Malformed) => self.net.drops.malformed += 1,
                    Err(IpDrop::BadChecksum) => self.net.drops.bad_ip_checksum += 1,
                    Err(IpDrop::NotForUs) => self.net.drops.not_for_us += 1,
                    Err(IpDrop::Fragment) => self.net.drops.fragments += 1,
                    Err(IpDrop::UnsupportedProtocol) => self.net.drops.unsupported += 1,
                }
            }
            _ => self.net.drops.unsupported += 1,
        }
    }

    fn input_tcp(&mut self, src: Ipv4Addr, dst: Ipv4Addr, l4: &[u8], hw_good: bool) {
        let now = self.now;
        let Ok(t) = TcpPacket::new_checked(l4) else {
            self.net.drops.malformed += 1;
            return;
        };
        if !hw_good && !t.verify_checksum(src, dst) {
            self.net.drops.bad_tcp_checksum += 1;
            return;
        }
        let Ok(opts) = TcpOptions::parse_fast(t.options()) else {
            self.net.drops.malformed += 1;
            return;
        };
        let seg = SegIn {
            seq: t.seq_number(),
            ack: t.ack_number(),
            flags: t.flags(),
            wnd: t.window_len(),
            opts,
            payload: t.payload(),
        };
        match self
            .by_tuple
            .get(&(src, t.src_port(), t.dst_port()))
            .copied()
        {
            Some(id) => {
                if let Some(Some(tcb)) = self.conns.get_mut(id as usize) {
                    input::rcv(tcb, &mut self.net, &seg, now);
                    self.after_event(id);
                }
            }
            None => {
                self.net.drops.no_conn += 1;
                if seg.flags & flags::RST == 0 {
                    output::send_reset_reply(
                        &mut self.net,
                        dst,
                        src,
                        t.dst_port(),
                        t.src_port(),
                        seg.seq,
                        seg.ack,
                        seg.flags,
                        seg.payload.len() as u32,
                        now,
                    );
                }
            }
        }
    }

    /// Stack-wide counters.
    pub fn stats(&self) -> StackStats {
        let mut tcp = self.retired;
        let mut conn_errors = self.retired_errors;
        for t in self.conns.iter().flatten() {
            tcp.add(&t.counters);
            conn_errors += t.error.is_some_and(|e| e != crate::tcp::TcpError::Aborted) as u64;
        }
        StackStats {
            dev: self.net.dev.stats,
            drops: self.net.drops,
            neigh: self.net.neigh.stats,
            conns_open: self.conns.iter().flatten().count(),
            tcp,
            conn_errors,
        }
    }

    pub fn pool(&self) -> &Arc<Mempool> {
        &self.net.pool
    }

    pub fn device(&self) -> &D {
        self.net.dev.device()
    }

    pub fn device_mut(&mut self) -> &mut D {
        self.net.dev.device_mut()
    }

    pub fn neigh(&self) -> &NeighTable {
        &self.net.neigh
    }

    pub fn routes_mut(&mut self) -> &mut RouteTable {
        &mut self.net.routes
    }

    pub fn offloads(&self) -> Offloads {
        self.net.offloads
    }

    pub fn mac(&self) -> MacAddr {
        self.net.mac
    }

    /// The clock value of the last `poll`.
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// Frames waiting for the NIC.
    pub fn tx_backlog(&self) -> usize {
        self.net.dev.backlog()
    }
}

/// A fast keyed hash for the connection table (SipHash cost a few percent per segment). The
/// table only holds our own connections, and the key is random per stack, so a peer cannot
/// aim lookups at a long chain.
#[derive(Clone)]
pub(crate) struct TupleHasher {
    key: u64,
}

impl TupleHasher {
    fn new() -> Self {
        use std::hash::BuildHasher;
        TupleHasher {
            key: std::collections::hash_map::RandomState::new().hash_one(0x6c69_6e65u64) | 1,
        }
    }
}

impl std::hash::BuildHasher for TupleHasher {
    type Hasher = TupleHash;
    fn build_hasher(&self) -> TupleHash {
        TupleHash { h: self.key }
    }
}

pub(crate) struct TupleHash {
    h: u64,
}

impl std::hash::Hasher for TupleHash {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.write_u64(v as u64);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.h = (self.h.rotate_left(23) ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    #[inline]
    fn finish(&self) -> u64 {
        let h = self.h;
        (h ^ (h >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (h >> 32)
    }
}

/// Nanoseconds from the TSC, for `poll` in production.
#[derive(Debug, Clone, Copy)]
pub struct TscClock {
    hz: u64,
    start: u64,
}

impl TscClock {
    /// Needs EAL initialised (it measures the TSC rate).
    pub fn new() -> Self {
        let hz = crate::dpdk::tsc_hz().max(1);
        TscClock {
            hz,
            start: crate::dpdk::rdtsc(),
        }
    }

    #[inline]
    pub fn now(&self) -> Nanos {
        let t = crate::dpdk::rdtsc().wrapping_sub(self.start) as u128;
        (t * 1_000_000_000 / self.hz as u128) as Nanos
    }
}

impl Default for TscClock {
    fn default() -> Self {
        Self::new()
    }
}
