//! The per-core stack: one RX/TX queue pair, its connections, its timer wheel and its mbuf
//! pool. `poll(now)` runs RX, timers and TX in one pass; time is an argument so that the
//! simulation can drive it with a virtual clock.
//!
//! RX goes up from here: `dev` rx_burst → Ethernet demux → `neigh` (ARP) or `ip_input::input` →
//! the connection table → `tcp::input`. After input, a timer or an app call a connection
//! gets one `after_event`: output may send, an owed ACK goes, and its timer is re-armed.
//! Pure ACKs leave it to the end of the RX burst, so a burst of them runs output once.
use crate::addr::LocalAddrs;
use crate::dev::Dev;
use crate::ehash::Ehash;
use crate::event::EventQueue;
use crate::hash::tuple_of_frame;
use crate::ip::IpLayer;
use crate::ip_input;
use crate::neigh::{NeighConfig, NeighTable};
use crate::steer::RssSteering;
use crate::tcp::config::ConnCfg;
use crate::tcp::input::{self, PlainAck};
use crate::tcp::output;
use crate::tcp::segment::SegIn;
use crate::tcp::stateless::{self, RstFor};
use crate::tcp::timers;
use crate::tcp::timewait::{TimeWaitTable, TwVerdict};
use crate::tcp::{ConnId, Seg, Slot, State, Tcb, TcpConfig, TcpCounters, TcpError};
use crate::tcp::{ZcList, LISTED_DEV, LISTED_NEIGH, WAIT_DEV, WAIT_NEIGH};
use linerate_dpdk::{Device, Mbuf, Mempool, Offloads};
use linerate_proto::route::{Route, RouteTable};
use linerate_proto::timer::{Deadline, Nanos, TimerWheel, MS};
use linerate_proto::wire::ethernet::{EtherType, EthernetFrame, MacAddr};
use linerate_proto::wire::ipv4::Ipv4Cidr;
use linerate_proto::wire::tcp::{flags, TcpOptions, TcpPacket};
use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::Arc;

pub(crate) use crate::hash::Tuple;

/// Most RX bursts one `poll` reads (32 768 frames, a few milliseconds of work): enough that
/// ACKs keep up with what a pass over thousands of connections sends (with 8 192, ACKs
/// waited a pass and more, the RTT and so the pacing rate followed, and units shrank to 5
/// segments at 10 000 connections), few enough that timers and TX are not held up long
/// behind a flood.
const RX_BURSTS: usize = 1024;

/// Most emptied write queues kept for reuse, and the largest kept (in segments): enough for
/// a connection-rate run's churn without holding a bulk sender's large queues.
const SPARE_QUEUES: usize = 1024;
const SPARE_QUEUE_SEGS: usize = 64;

/// Connections from which RX prefetches their blocks (below, they stay in cache anyway).
const PREFETCH_FROM: usize = 256;

/// A key no connection has (the blank of `by_tuple`'s empty entries).
const NO_TUPLE: Tuple = (Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0, 0);

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
    /// Default settings of every connection (`connect_with` overrides them).
    pub tcp: TcpConfig,
    /// ARP timing.
    pub neigh: NeighConfig,
    /// Most connections open at once.
    pub max_conns: usize,
    /// Further source addresses for connections, `first..=last` (inclusive), on `ip`'s
    /// subnet: connections take them in turn, each with the whole ephemeral port range, and
    /// the stack answers ARP for all of them. `None`: `ip` alone.
    pub src_range: Option<(Ipv4Addr, Ipv4Addr)>,
    /// Ephemeral source ports (inclusive); split this between cores
    /// ([`crate::steer::PortSplit`]).
    pub ephemeral: (u16, u16),
    /// With several stacks on one port: pick source ports whose inbound frames the NIC's RSS
    /// puts on this stack's queue (a port in the range that does is always preferred; when
    /// none is free, any free port, and the software redirect carries its frames).
    pub rss: Option<RssSteering>,
    /// Timer wheel granularity.
    pub timer_tick: Nanos,
    /// Most connections in TIME-WAIT at once (Linux's `tcp_max_tw_buckets`; a record is 56
    /// bytes plus its index entry). Past it, a closed connection skips TIME-WAIT.
    pub max_time_wait: usize,
    /// Mbufs `send` must leave in the pool: enough to refill the RX ring and send ACKs, ARP
    /// and RSTs. Below it, `send` returns WouldBlock.
    pub pool_reserve: u32,
}

impl StackConfig {
    /// Defaults (Linux's where it has one) for a stack at `ip`.
    pub fn new(ip: Ipv4Cidr) -> Self {
        StackConfig {
            ip,
            gateway: None,
            routes: Vec::new(),
            static_neigh: Vec::new(),
            tcp: TcpConfig::default(),
            neigh: NeighConfig::default(),
            max_conns: 65_536,
            max_time_wait: 262_144,
            src_range: None,
            ephemeral: (32768, 60999),
            rss: None,
            timer_tick: MS,
            pool_reserve: 2048,
        }
    }
}

/// A per-core TCP/IP stack on one NIC queue pair: one per lcore.
pub struct Stack<D: Device> {
    pub(crate) ip: IpLayer<D>,
    pub(crate) conns: Vec<Option<Tcb>>,
    /// Each slot's generation: the next connection in it gets this one (`ConnId`).
    pub(crate) gens: Vec<u32>,
    pub(crate) free: Vec<Slot>,
    /// Slots freed since the last `poll`: they join `free` when it starts, so that an id's
    /// FREED event (taken after a poll) comes before the id names a new connection.
    pub(crate) freed: Vec<Slot>,
    pub(crate) by_tuple: Ehash<Tuple>,
    /// The last 4-tuple found in `by_tuple` (the kernel's early demux: a burst of ACKs is
    /// mostly one connection's); cleared when that entry goes.
    demux_cache: Option<(Tuple, Slot)>,
    /// A plain ACK held back until the next frame shows whether a later ACK of the same
    /// connection supersedes it (`input::plain_ack`); processed by the end of the RX burst.
    pending_ack: Option<(Slot, PlainAck)>,
    /// Closed connections in TIME-WAIT, as records without a block.
    pub(crate) tw: TimeWaitTable,
    pub(crate) wheel: TimerWheel,
    expired: Vec<u32>,
    rx: Vec<Mbuf>,
    /// Connections whose output waits for the end of the RX burst or the app's flush
    /// (`Tcb::deferred`).
    touched: Vec<Slot>,
    /// Connections whose handshake ACK waits for the app's turn (`TcpConfig::quickack`).
    late_acks: Vec<Slot>,
    pub(crate) failed_neigh: Vec<usize>,
    pub(crate) resolved_neigh: Vec<usize>,
    /// Connections whose output stopped on a full device, in the order they stopped: run
    /// again, round robin, as the device drains (the kernel's TSQ wake-up).
    pub(crate) dev_waiters: VecDeque<Slot>,
    /// Connections waiting for a next hop's ARP reply: all that `neigh_changed` visits.
    pub(crate) neigh_waiters: Vec<Slot>,
    /// Connections whose `send` the pool's reserve refused while they had nothing queued:
    /// told WRITABLE once the pool has room again (Linux lets such a socket queue one skb
    /// regardless, `tcp_stream_alloc_skb`'s force_schedule; here it waits, without spinning).
    pub(crate) pool_waiters: Vec<Slot>,
    /// Connections whose released zero-copy tickets wait for their frames (`crate::zc`).
    pub(crate) zc_waiters: Vec<Slot>,
    /// Emptied write queues of freed connections, for new ones: a connection a microsecond
    /// long would otherwise cost an allocation and a free (at a million a second, the free
    /// alone took 8 % of the core).
    pub(crate) spare_queues: Vec<VecDeque<Seg>>,
    mac: MacAddr,
    pub(crate) now: Nanos,
    /// RFC 6056's `next_ephemeral`: added to each destination's keyed offset in the
    /// ephemeral range.
    pub(crate) next_port: u32,
    /// Recent destinations' port offsets, with the range span they are for
    /// (`Stack::port_offset`); empty entries hold 0.0.0.0:0 and span 0.
    pub(crate) port_offsets: [(Ipv4Addr, u16, u32, u32); 16],
    /// The source address the next connection takes (an index into the source range).
    pub(crate) next_src: u32,
    pub(crate) cfg: StackConfig,
    pub(crate) isn_key: std::collections::hash_map::RandomState,
    /// Readiness events for the app (`Stack::events`).
    pub(crate) events: EventQueue,
    /// Counters of connections already freed.
    pub(crate) retired: TcpCounters,
    pub(crate) retired_errors: u64,
}

impl<D: Device> Stack<D> {
    /// Builds a stack on `dev`, sends a gratuitous ARP, and is ready to `connect`.
    pub fn new(dev: D, pool: Arc<Mempool>, cfg: StackConfig, now: Nanos) -> Self {
        let mac = dev.mac();
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
        let local = LocalAddrs::new(cfg.ip, cfg.src_range);
        let mut neigh = NeighTable::new(mac, local, cfg.neigh);
        for (ip, m) in &cfg.static_neigh {
            neigh.add_static(*ip, *m);
        }
        let pool_reserve = cfg.pool_reserve.min(pool.size() / 2);
        let mut ip = IpLayer::new(Dev::new(dev), neigh, routes, pool, cfg.ip, pool_reserve);
        ip.neigh.gratuitous(&mut ip.dev, &ip.pool);
        ip.dev.flush();
        Stack {
            ip,
            conns: Vec::new(),
            gens: Vec::new(),
            free: Vec::new(),
            freed: Vec::new(),
            by_tuple: Ehash::with_capacity(1024, NO_TUPLE),
            demux_cache: None,
            pending_ack: None,
            tw: TimeWaitTable::new(cfg.max_time_wait),
            wheel: TimerWheel::new(cfg.timer_tick, 4096, now),
            expired: Vec::with_capacity(1024),
            touched: Vec::with_capacity(1024),
            late_acks: Vec::with_capacity(1024),
            rx: Vec::with_capacity(linerate_dpdk::MAX_BURST * 2),
            failed_neigh: Vec::new(),
            resolved_neigh: Vec::new(),
            dev_waiters: VecDeque::new(),
            neigh_waiters: Vec::new(),
            pool_waiters: Vec::new(),
            zc_waiters: Vec::new(),
            spare_queues: Vec::new(),
            mac,
            now,
            next_port: 0,
            port_offsets: [(Ipv4Addr::UNSPECIFIED, 0, 0, 0); 16],
            next_src: 0,
            cfg,
            isn_key: Default::default(),
            events: EventQueue::new(),
            retired: TcpCounters::default(),
            retired_errors: 0,
        }
    }

    /// One pass: receive and process a few bursts, run due timers, run ARP, and flush TX.
    pub fn poll(&mut self, now: Nanos) {
        self.now = now;
        self.free.append(&mut self.freed);
        // Handshake ACKs left for the app by an earlier poll: the app has had its turn.
        let late = self.late_acks.len();
        let mut frames = std::mem::take(&mut self.rx);
        // Read until the queue is empty, up to RX_BURSTS bursts: what one poll sends with many
        // connections (a unit each) brings back far more ACKs than a burst or four.
        for _ in 0..RX_BURSTS {
            let n = self.ip.dev.rx_burst(&mut frames);
            if n == 0 {
                break;
            }
            self.prefetch_conns(&frames);
            for m in frames.iter() {
                self.input_frame(m);
            }
            self.rcv_pending_ack();
            Mbuf::free_bulk(&mut frames);
            if n < linerate_dpdk::MAX_BURST {
                break;
            }
        }
        self.rx = frames;
        self.run_deferred();
        self.send_late_acks(late);

        self.tw.expire(now);
        self.wheel.expire(now, &mut self.expired);
        let mut expired = std::mem::take(&mut self.expired);
        for id in expired.drain(..) {
            if let Some(Some(tcb)) = self.conns.get_mut(id as usize) {
                // Entries are cancelled lazily: one whose connection has no deadline due
                // (re-armed earlier, its timers all stopped, or the slot another
                // connection's since) has nothing to run. A connection-rate load leaves
                // two such entries per connection, and each ran a whole output pass.
                if tcb.wheel_at.is_none_or(|w| w > now) {
                    continue;
                }
                tcb.wheel_at = Deadline::NONE;
                timers::on_timers(tcb, &mut self.ip, now);
                self.after_event(id);
            }
        }
        self.expired = expired;

        let ip = &mut self.ip;
        ip.neigh
            .poll(now, &mut ip.dev, &ip.pool, &mut self.failed_neigh);
        if !self.failed_neigh.is_empty() || !self.resolved_neigh.is_empty() {
            self.neigh_changed();
        }
        self.ip.dev.flush();
        if !self.dev_waiters.is_empty() {
            self.run_dev_waiters();
            self.ip.dev.flush();
        }
        self.ip.dev.release();
        if !self.pool_waiters.is_empty() && self.ip.pool_has_room() {
            self.wake_pool_waiters();
        }
        if !self.zc_waiters.is_empty() {
            self.run_zc_waiters();
        }
        self.ip.return_stash();
    }

    /// Connections held (slots in use, freed ones not yet reusable excepted): O(1).
    pub(crate) fn live_conns(&self) -> usize {
        self.conns.len() - self.free.len() - self.freed.len()
    }

    /// Room in the timer wheel for an entry per connection and 1 024 more, made at connect
    /// time so that arming timers on the data path does not allocate (lazy cancelling can
    /// leave a connection a second entry; past the headroom the slab doubles, once).
    pub(crate) fn reserve_timers(&mut self) {
        self.wheel.reserve(self.conns.len() + self.tw.len() + 1024);
    }

    /// Runs output for the connections that sends and ACKs touched since the last call,
    /// then pushes out whatever is queued for the NIC (`poll` does this too). While frames
    /// wait for the NIC, a `send` leaves its output to this call (the kernel's autocork), so
    /// that a batch of writes leaves as TSO units: call it after a batch of sends.
    pub fn flush(&mut self) {
        self.run_deferred();
        self.send_late_acks(self.late_acks.len());
        self.ip.dev.flush();
        self.ip.return_stash();
    }

    /// The first `n` of the handshake ACKs left for the app's turn: those its writes did not
    /// carry go alone now (`TcpConfig::quickack`).
    fn send_late_acks(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let mut late = std::mem::take(&mut self.late_acks);
        for id in late.drain(..n) {
            if let Some(Some(tcb)) = self.conns.get(id as usize) {
                if tcb.ack_now {
                    self.after_event(id);
                }
            }
        }
        // As in `run_deferred`: what was left for later stays, in order.
        late.append(&mut self.late_acks);
        self.late_acks = late;
    }

    /// Leaves connection `id`'s output (and timer re-arm) to the next `run_deferred`.
    pub(crate) fn defer(&mut self, id: Slot) {
        if let Some(Some(tcb)) = self.conns.get_mut(id as usize) {
            if !tcb.deferred {
                tcb.deferred = true;
                self.touched.push(id);
            }
        }
    }

    /// Output once per connection a burst of ACKs or a batch of sends touched, not once per
    /// ACK or per send.
    fn run_deferred(&mut self) {
        if self.touched.is_empty() {
            return;
        }
        let mut touched = std::mem::take(&mut self.touched);
        for id in touched.drain(..) {
            // Not if an `after_event` since did the deferred output (and re-arm) already.
            if let Some(Some(tcb)) = self.conns.get_mut(id as usize) {
                if tcb.deferred {
                    self.after_event(id);
                }
            }
        }
        // The emptied vector (with its capacity) goes back; anything deferred meanwhile
        // stays queued rather than being dropped with the other one.
        touched.append(&mut self.touched);
        self.touched = touched;
    }

    /// After input, a timer or an app call: let output send, answer with an ACK if one is
    /// owed, re-arm the wheel, and free the slot of a finished, released connection.
    pub(crate) fn after_event(&mut self, id: Slot) {
        let now = self.now;
        let Some(Some(tcb)) = self.conns.get_mut(id as usize) else {
            return;
        };
        // What a `defer` left for `run_deferred` is done here.
        tcb.deferred = false;
        if tcb.state == State::SynSent && tcb.waits == 0 {
            // A SYN out and nothing waiting (ARP, the device): no output in SYN-SENT and
            // nothing to report, only the timer (every connect of a connection-rate load).
            Self::arm(&mut self.wheel, tcb, id);
            return;
        }
        if tcb.zc.head != ZcList::EMPTY.head {
            crate::tcp::zc::progress_listed(tcb, &mut self.ip.regions, &mut self.zc_waiters, id);
        }
        output::write_xmit(tcb, &mut self.ip, now);
        if tcb.ack_now && tcb.state != State::Closed && tcb.state != State::SynSent {
            if tcb.ack_after_app {
                tcb.ack_after_app = false;
                self.late_acks.push(id);
            } else {
                output::send_ack(tcb, &mut self.ip, now);
            }
        }
        tcb.expand_sndbuf();
        if tcb.state != State::Closed {
            if tcb.waits & (WAIT_DEV | LISTED_DEV) == WAIT_DEV {
                tcb.waits |= LISTED_DEV;
                self.dev_waiters.push_back(id);
            }
            if tcb.waits & (WAIT_NEIGH | LISTED_NEIGH) == WAIT_NEIGH {
                tcb.waits |= LISTED_NEIGH;
                self.neigh_waiters.push(id);
            }
        }
        // A closed connection in TIME-WAIT leaves a record and gives its block back.
        // (With the records' table full it skips TIME-WAIT, and the event says CLOSED.)
        // Not while zero-copy sends wait for their frames: their completions need the id.
        let zc_open = tcb.zc.head != ZcList::EMPTY.head;
        let to_tw = tcb.state == State::TimeWait && tcb.released && !zc_open;
        if to_tw && !self.tw.enter(tcb, now) {
            tcb.end();
        }
        let freed = (tcb.state == State::Closed || to_tw) && tcb.released && !zc_open;
        let conn = ConnId::new(id, self.gens[id as usize]);
        self.events.note(conn, tcb, freed, now);
        if to_tw {
            tcb.end();
        }
        if tcb.state == State::Closed {
            tcb.rto_at = Deadline::NONE;
            tcb.delack_at = Deadline::NONE;
            tcb.persist_at = Deadline::NONE;
            tcb.close_at = Deadline::NONE;
            if tcb.released && !zc_open {
                self.retired.add(&tcb.counters);
                self.retired_errors += tcb.error.is_some_and(|e| e != TcpError::Aborted) as u64;
                let key = (tcb.local_ip, tcb.remote_ip, tcb.remote_port, tcb.local_port);
                self.by_tuple.remove(&key);
                if self.demux_cache.is_some_and(|(k, _)| k == key) {
                    self.demux_cache = None;
                }
                let queue = std::mem::take(&mut tcb.queue);
                if queue.is_empty()
                    && queue.capacity() <= SPARE_QUEUE_SEGS
                    && self.spare_queues.len() < SPARE_QUEUES
                {
                    self.spare_queues.push(queue);
                }
                self.ip.dst_release(&tcb.dst, now);
                // `take` and drop: assigning `None` copied a whole block's worth of bytes
                // (a kilobyte memcpy per connection).
                drop(self.conns.get_mut(id as usize).and_then(Option::take));
                let gen = &mut self.gens[id as usize];
                *gen = gen.wrapping_add(1) & ConnId::GEN_MASK;
                self.freed.push(id);
            }
            return;
        }
        Self::arm(&mut self.wheel, tcb, id);
    }

    /// Puts connection `id`'s next deadline on the wheel, unless an entry that fires no
    /// later is there already (later ones are cancelled lazily).
    #[inline]
    fn arm(wheel: &mut TimerWheel, tcb: &mut Tcb, id: Slot) {
        if let Some(d) = tcb.next_deadline() {
            if tcb.wheel_at.is_none_or(|w| wheel.fires_before(d, w)) {
                wheel.schedule(id, d);
                tcb.wheel_at = Deadline::at(d);
            }
        }
    }

    /// Starts the cache misses of the connection blocks a burst's frames reach, all at once,
    /// before any is processed, and then those of their write queues' heads (which an ACK
    /// walks first): with many connections each is a miss to DRAM, and taken one after
    /// another they were most of the cost of an ACK.
    fn prefetch_conns(&self, frames: &[Mbuf]) {
        if self.by_tuple.len() < PREFETCH_FROM {
            return;
        }
        // Three passes, each starting the misses the next one needs: the table entries,
        // the blocks they name, the write queues' heads those hold.
        let mut keys = [(NO_TUPLE, 0u64); linerate_dpdk::MAX_BURST];
        let mut n = 0;
        for m in frames.iter().take(keys.len()) {
            let Some(key) = tuple_of_frame(m.data()) else {
                continue;
            };
            if n > 0 && keys[n - 1].0 == key {
                continue;
            }
            let h = self.by_tuple.hash(&key);
            self.by_tuple.prefetch(h);
            keys[n] = (key, h);
            n += 1;
        }
        let mut ids = [0 as Slot; linerate_dpdk::MAX_BURST];
        let mut found = 0;
        for (key, h) in &keys[..n] {
            if let Some(id) = self.by_tuple.get_hashed(key, *h) {
                if let Some(Some(tcb)) = self.conns.get(id as usize) {
                    linerate_dpdk::prefetch(tcb, 16);
                    ids[found] = id;
                    found += 1;
                }
            }
        }
        for &id in &ids[..found] {
            if let Some(Some(tcb)) = self.conns.get(id as usize) {
                // The head the ACK frees, and the first segments not yet sent, which the
                // output after the ACK reads next (written by the app long before).
                if let Some(seg) = tcb.queue.front() {
                    linerate_dpdk::prefetch(seg, 1);
                }
                if let Some(seg) = tcb.queue.get(tcb.unsent) {
                    linerate_dpdk::prefetch(seg, 1);
                }
            }
        }
    }

    fn input_frame(&mut self, m: &Mbuf) {
        let now = self.now;
        let Ok(eth) = EthernetFrame::new_checked(m.data()) else {
            self.ip.drops.malformed += 1;
            return;
        };
        let dst = eth.dst();
        if dst != self.mac && !dst.is_broadcast() {
            self.ip.drops.not_for_us += 1;
            return;
        }
        match eth.ethertype() {
            EtherType::ARP => {
                let ip = &mut self.ip;
                if let Some(i) = ip.neigh.input(eth.payload(), now, &mut ip.dev, &ip.pool) {
                    self.resolved_neigh.push(i);
                    self.neigh_changed();
                }
            }
            EtherType::IPV4 => {
                let hw_good = m.rx_cksum_good();
                let pkt = eth.payload();
                match ip_input::input(pkt, self.ip.neigh.local(), hw_good) {
                    Ok(ipin) => {
                        let l4 = &pkt[ipin.l4_start..ipin.l4_end];
                        self.input_tcp(ipin.src, ipin.dst, l4, hw_good);
                    }
                    Err(d) => self.ip.drops.count_ip(d),
                }
            }
            _ => self.ip.drops.unsupported += 1,
        }
    }

    fn input_tcp(&mut self, src: Ipv4Addr, dst: Ipv4Addr, l4: &[u8], hw_good: bool) {
        let now = self.now;
        let Ok(t) = TcpPacket::new_checked(l4) else {
            self.ip.drops.malformed += 1;
            return;
        };
        if !hw_good && !t.verify_checksum(src, dst) {
            self.ip.drops.bad_tcp_checksum += 1;
            return;
        }
        let mut seg = SegIn {
            seq: t.seq_number(),
            ack: t.ack_number(),
            flags: t.flags(),
            wnd: t.window_len(),
            opts: TcpOptions::default(),
            payload: t.payload(),
        };
        if TcpOptions::parse_fast_into(t.options(), &mut seg.opts).is_err() {
            self.ip.drops.malformed += 1;
            return;
        }
        let key = (dst, src, t.src_port(), t.dst_port());
        let id = match self.demux_cache {
            Some((k, id)) if k == key => Some(id),
            _ => {
                let found = self.by_tuple.get(&key);
                if let Some(id) = found {
                    self.demux_cache = Some((key, id));
                }
                found
            }
        };
        match id {
            Some(id) => {
                let Some(Some(tcb)) = self.conns.get_mut(id as usize) else {
                    return;
                };
                if let Some((pid, older)) = &self.pending_ack {
                    if *pid == id && older.superseded_by(tcb, &seg) {
                        tcb.counters.segs_in += 1;
                        tcb.counters.acks_coalesced += 1;
                        self.pending_ack = Some((id, PlainAck::of(&seg)));
                        return;
                    }
                    self.rcv_pending_ack();
                }
                let Some(Some(tcb)) = self.conns.get(id as usize) else {
                    return;
                };
                if input::plain_ack(tcb, &seg) {
                    self.pending_ack = Some((id, PlainAck::of(&seg)));
                } else {
                    self.rcv(id, &seg);
                }
            }
            None => {
                if let Some(slot) = self.tw.find(&key) {
                    let tsval = seg.opts.timestamps.map(|(v, _)| v);
                    let len = seg.payload.len() as u32;
                    let v = self.tw.rcv(slot, seg.flags, seg.seq, len, tsval, now);
                    if let TwVerdict::Ack(b) = v {
                        if self.ip.limits.tw_reply(now) {
                            stateless::send_bare(&mut self.ip, &b, now);
                        }
                    }
                    return;
                }
                self.ip.drops.no_conn += 1;
                if seg.flags & flags::RST == 0 && self.ip.limits.reset(now) {
                    let to = RstFor {
                        local: (dst, t.dst_port()),
                        remote: (src, t.src_port()),
                        seq: seg.seq,
                        ack: seg.ack,
                        flags: seg.flags,
                        len: seg.payload.len() as u32,
                    };
                    if stateless::send_reset(&mut self.ip, &to, now) {
                        self.ip.drops.rst_sent += 1;
                    }
                }
            }
        }
    }

    /// Processes the held-back plain ACK, if any.
    fn rcv_pending_ack(&mut self) {
        if let Some((id, ack)) = self.pending_ack.take() {
            self.rcv(id, &ack.seg());
        }
    }

    /// `tcp::input` for connection `id`; output runs now if an ACK is owed, else at the end
    /// of the burst.
    fn rcv(&mut self, id: Slot, seg: &SegIn) {
        let now = self.now;
        if let Some(Some(tcb)) = self.conns.get_mut(id as usize) {
            input::rcv(tcb, &mut self.ip, seg, now);
            if tcb.ack_now || tcb.state == State::Closed {
                // An owed ACK goes now (with data if output has some), as before.
                self.after_event(id);
            } else {
                self.defer(id);
            }
        }
    }

    /// The mbuf pool the stack allocates from.
    pub fn pool(&self) -> &Arc<Mempool> {
        &self.ip.pool
    }

    /// The device underneath.
    pub fn device(&self) -> &D {
        self.ip.dev.device()
    }

    /// The device underneath, mutably (to read a tap's capture, say).
    pub fn device_mut(&mut self) -> &mut D {
        self.ip.dev.device_mut()
    }

    /// Ends the stack (as dropping it does: connections end without a FIN, frames not yet
    /// handed over are freed) and gives its device back, to be used again.
    pub fn into_device(self) -> D {
        self.ip.dev.into_inner()
    }

    /// The neighbour (ARP) table.
    pub fn neigh(&self) -> &NeighTable {
        &self.ip.neigh
    }

    /// The route table; a change makes connections look their next hop up again.
    pub fn routes_mut(&mut self) -> &mut RouteTable {
        &mut self.ip.routes
    }

    /// The offloads the device has enabled.
    pub fn offloads(&self) -> Offloads {
        self.ip.offloads
    }

    /// The device's MAC address.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// The clock value of the last `poll`.
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// Frames waiting for the NIC.
    pub fn tx_backlog(&self) -> usize {
        self.ip.dev.backlog()
    }

    /// Makes room for `records` TIME-WAIT records (up to `StackConfig::max_time_wait`) and
    /// their timers now. A connection-rate load holds its rate times `TcpConfig::time_wait`
    /// of them: reserved up front, the table neither grows (copying itself) nor takes its
    /// pages from the kernel while connections are closing.
    pub fn reserve_time_wait(&mut self, records: usize) {
        self.tw
            .reserve(records, ConnCfg::of(&self.cfg.tcp).time_wait());
        let records = records.min(self.cfg.max_time_wait);
        // The records have a queue of their own, but the connections before them leave
        // lazily cancelled timer entries behind (each until its retransmission timeout
        // would have fired): room for as many.
        self.wheel
            .reserve(self.wheel.len() + records + self.conns.len() + 1024);
    }
}
