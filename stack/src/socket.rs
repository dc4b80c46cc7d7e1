//! The app's side of a connection (`tcp_sendmsg`, `tcp_recvmsg`, `connect`, `shutdown`,
//! `close`): non-blocking calls on the stack of the calling core.
use crate::event::Event;
use crate::region::{RegionId, NO_TICKET};
use crate::stack::{Stack, Tuple};
use crate::tcp::rack::RackState;
use crate::tcp::{output, sendmsg};
use crate::tcp::{
    wscale_for, ConnId, Reported, Slot, State, Tcb, TcpConfig, TcpCounters, TcpError, TcpInfo,
};
use crate::tcp::{ConnCfg, TcpConfigError, ZcList, LISTED_POOL, SNDBUF_INIT, WAIT_NEIGH};
use linerate_dpdk::{Device, TxRegion};
use linerate_proto::cc::CcState;
use linerate_proto::pacing::Pacer;
use linerate_proto::timer::{Deadline, RttEstimator};
use linerate_proto::wire::tcp::flags;
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

/// `send_region` copies writes up to this long rather than referencing them.
const COPY_BREAK: usize = 256;

/// Why `connect` refused at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// No route to the destination.
    NoRoute(Ipv4Addr),
    /// The 4-tuple is in use.
    AddrInUse,
    /// No free ephemeral port for this destination.
    NoPorts,
    /// The stack's connection limit is reached.
    TooManyConnections,
    /// The neighbour table is full of entries connections hold (one no connection holds
    /// makes room).
    NeighTableFull,
    /// A `TcpConfig` value is out of range.
    Config(TcpConfigError),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::NoRoute(ip) => {
                write!(f, "no route to {ip}: add --gw or a route that covers it")
            }
            ConnectError::AddrInUse => {
                f.write_str("address in use: that source port is taken for this destination")
            }
            ConnectError::NoPorts => f.write_str("no free ephemeral port for this destination"),
            ConnectError::TooManyConnections => f.write_str("connection limit reached"),
            ConnectError::NeighTableFull => f.write_str("neighbour table full"),
            ConnectError::Config(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Why `send`/`recv` did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoError {
    /// Nothing could be done now (send buffer full, pool empty, handshake not finished, or no
    /// data to read): poll and try again. Nothing was lost.
    WouldBlock,
    /// No such connection (never opened, or closed and freed).
    NotConnected,
    /// Writing after shutdown(Write)/close.
    Shutdown,
    /// The connection failed.
    Conn(TcpError),
    /// `send_region` named a region this stack did not register, or a range outside it.
    BadRegion,
    /// Every ticket of the reusable region is leased: send again after a
    /// [`crate::event::ZC_DONE`] event (or give the region more tickets).
    NoTicket,
}

impl std::fmt::Display for IoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IoError::WouldBlock => f.write_str("would block"),
            IoError::NotConnected => f.write_str("not connected"),
            IoError::Shutdown => f.write_str("connection shut down for writing"),
            IoError::Conn(e) => e.fmt(f),
            IoError::BadRegion => {
                f.write_str("unknown region, or a range outside it (register_region first)")
            }
            IoError::NoTicket => f.write_str(
                "every ticket of the zero-copy region is in use: send again after a ZC_DONE event, or make the region with more tickets",
            ),
        }
    }
}

impl std::error::Error for IoError {}

impl<D: Device> Stack<D> {
    /// Active open to `remote` from `local_port` (or an ephemeral one). The SYN goes out (or
    /// waits for ARP) at once; watch `state()` for ESTABLISHED or an error.
    pub fn connect(
        &mut self,
        remote: SocketAddrV4,
        local_port: Option<u16>,
    ) -> Result<ConnId, ConnectError> {
        self.connect_with(remote, local_port, self.cfg.tcp)
    }

    /// `connect` with per-connection TCP settings (e.g. `nodelay`, congestion control).
    pub fn connect_with(
        &mut self,
        remote: SocketAddrV4,
        local_port: Option<u16>,
        cfg: TcpConfig,
    ) -> Result<ConnId, ConnectError> {
        cfg.validate().map_err(ConnectError::Config)?;
        let now = self.now;
        let rip = *remote.ip();
        let rport = remote.port();
        if self.ip.routes.lookup(rip).is_none() {
            return Err(ConnectError::NoRoute(rip));
        }
        // Before the port search, which may end a TIME-WAIT record to reuse its tuple.
        // Records do not count: they have a table (and a limit) of their own.
        if self.live_conns() >= self.cfg.max_conns {
            return Err(ConnectError::TooManyConnections);
        }
        let (local_ip, lport) = match local_port {
            Some(p) => {
                let lip = self.ip.neigh.local().primary;
                let key = (lip, rip, rport, p);
                if !self.tuple_free(&key) {
                    return Err(ConnectError::AddrInUse);
                }
                self.tw.take(&key);
                (lip, p)
            }
            None => self.ephemeral(rip, rport).ok_or(ConnectError::NoPorts)?,
        };
        let dst = self
            .ip
            .route_output(rip, now)
            .ok_or(ConnectError::NeighTableFull)?
            .with_src(local_ip);
        // Held until the slot is freed (`Stack::after_event`).
        self.ip.dst_hold(&dst);
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                if self.conns.capacity() == 0 {
                    // Exactly what may be open (virtual until used): doubling would leave up
                    // to half the table's memory unused.
                    self.conns.reserve_exact(self.cfg.max_conns.min(1 << 24));
                }
                self.conns.push(None);
                self.gens.push(0);
                (self.conns.len() - 1) as Slot
            }
        };
        // RFC 6528: a keyed hash of the 4-tuple plus a 4 µs clock. The hash's other half is
        // the timestamp offset, per 4-tuple too (not per connection): a later connection on
        // the same tuple (a reused TIME-WAIT port) sends higher timestamps, which is what
        // makes reuse safe. One SipHash for both, of the tuple packed in one word (field by
        // field it took six writes, each address a length-prefixed array): a
        // connection-rate load opens a million a second.
        let packed = u128::from(u32::from(local_ip)) << 64
            | u128::from(u32::from(rip)) << 32
            | u128::from(lport) << 16
            | u128::from(rport);
        let tuple_hash = self.isn_key.hash_one(packed);
        let iss = (tuple_hash as u32).wrapping_add((now / 4000) as u32);
        let mss_guess = cfg.mss as u32;
        let rcv_wscale = if cfg.window_scaling {
            wscale_for(cfg.rcvbuf)
        } else {
            0
        };
        let gen = self.gens[id as usize];
        self.by_tuple.insert((local_ip, rip, rport, lport), id);
        self.reserve_timers();
        let queue = self.spare_queues.pop().unwrap_or_default();
        // Built in its slot: a block built aside was a kilobyte copied per connect.
        let tcb = self.conns[id as usize].insert(Tcb {
            state: State::SynSent,
            local_ip,
            local_port: lport,
            remote_ip: rip,
            remote_port: rport,
            cfg: ConnCfg::of(&cfg),
            iss,
            snd_una: iss,
            snd_nxt: iss.wrapping_add(1),
            snd_max: iss.wrapping_add(1),
            write_seq: iss.wrapping_add(1),
            snd_wnd: 0,
            max_window: 0,
            snd_wl1: 0,
            snd_wl2: 0,
            snd_wscale: 0,
            rcv_wscale,
            irs: 0,
            rcv_nxt: 0,
            mss: mss_guess,
            ts_on: false,
            ts_recent: 0,
            ts_recent_at: 0,
            ts_offset: (tuple_hash >> 32) as u32,
            sack_ok: false,
            // Grown as the send buffer grows: an idle connection holds no queue at all.
            sndbuf: if cfg.sndbuf_auto {
                SNDBUF_INIT.min(cfg.sndbuf)
            } else {
                cfg.sndbuf
            },
            queue,
            unsent: 0,
            pend: Default::default(),
            copied_segs: 0,
            rtt: RttEstimator::new(cfg.min_rto, cfg.max_rto),
            cc: cfg.cc,
            ccs: CcState::new(mss_guess),
            cwnd_limited: false,
            dupacks: 0,
            in_recovery: false,
            recover: iss,
            retries: 0,
            rto_at: Deadline::NONE,
            delack_at: Deadline::NONE,
            persist_at: Deadline::NONE,
            persist_backoff: 0,
            probes_out: 0,
            close_at: Deadline::NONE,
            wheel_at: Deadline::NONE,
            deferred: false,
            rx: None,
            ack_now: false,
            oow_ack_at: 0,
            ack_after_app: false,
            segs_unacked: 0,
            fin_wanted: false,
            fin_queued: false,
            peer_fin: false,
            released: false,
            error: None,
            dst: dst.with_ip_id((iss >> 16) as u16),
            syn_at: now,
            counters: TcpCounters::default(),
            pacer: Pacer::default(),
            pace_at: Deadline::NONE,
            sb: Default::default(),
            // RACK.fack starts at the ISS: at 0 half of all connections (those whose
            // sequence numbers lie within 2³¹ below 0) took their first ACK for reordering.
            rack: RackState {
                fack: iss,
                ..Default::default()
            },
            tlp_at: Deadline::NONE,
            reo_at: Deadline::NONE,
            reported: Reported::new(),
            waits: 0,
            zc: ZcList::EMPTY,
            zc_done: 0,
        });
        if self.ip.dst_ready(&tcb.dst, now) {
            output::send_syn(tcb, &mut self.ip, now);
        } else {
            // ARP is under way: the SYN goes when it resolves (`Stack::neigh_changed`), not
            // into the neighbour's small pending queue, where thousands would be dropped.
            // The timer stays armed in case it never does.
            tcb.waits |= WAIT_NEIGH;
            tcb.rto_at = Deadline::at(now + tcb.rtt.current());
        }
        self.after_event(id);
        Ok(ConnId::new(id, gen))
    }

    /// No connection holds `key`, or only a TIME-WAIT record that may give it up
    /// (`TimeWaitTable::reusable`, Linux's `tcp_tw_reuse`). The successor's timestamps are
    /// higher (the offset is per tuple, the clock a second on), so the peer's PAWS tells old
    /// duplicates from new segments (RFC 6191); its ISN is higher too unless the old
    /// connection sent more than the ISN clock's 250 000 per second covers.
    pub(crate) fn tuple_free(&self, key: &Tuple) -> bool {
        !self.by_tuple.contains_key(key)
            && self
                .tw
                .find(key)
                .is_none_or(|slot| self.tw.reusable(slot, self.now))
    }

    /// The slot `id` names while its connection lives (a stale generation names nothing).
    pub(crate) fn slot_of(&self, id: ConnId) -> Result<Slot, IoError> {
        self.tcb(id).map(|_| id.slot()).ok_or(IoError::NotConnected)
    }

    fn tcb(&self, id: ConnId) -> Option<&Tcb> {
        if self.gens.get(id.index()) != Some(&id.generation()) {
            return None;
        }
        self.conns.get(id.index()).and_then(|c| c.as_ref())
    }

    fn tcb_mut(&mut self, id: ConnId) -> Result<&mut Tcb, IoError> {
        if self.gens.get(id.index()) != Some(&id.generation()) {
            return Err(IoError::NotConnected);
        }
        self.conns
            .get_mut(id.index())
            .and_then(|c| c.as_mut())
            .ok_or(IoError::NotConnected)
    }

    /// `tcp_sendmsg`: queues as much of `data` as the send buffer and the pool allow and
    /// returns how much that was. `WouldBlock` when none; a partial count is counted in
    /// `partial_writes`. Bytes taken are never dropped.
    pub fn send(&mut self, id: ConnId, data: &[u8]) -> Result<usize, IoError> {
        let slot = self.slot_of(id)?;
        let tcb = Self::sendable(&mut self.conns, slot)?;
        let n = sendmsg::copy_to_queue(tcb, &mut self.ip, data);
        self.after_send(slot, n, data.len())
    }

    /// Registers a zero-copy payload region with this stack, for [`Stack::send_region`]. Its
    /// bytes must not change from now on (the `Arc` keeps `TxRegion::fill` out). Unless the
    /// port does TCP checksums, this reads the region once to build its checksum table (as
    /// large as the region). `None` when 65 536 regions are registered already, or the region
    /// is 4 GiB or larger (offsets are 32-bit).
    pub fn register_region(&mut self, region: Arc<TxRegion>) -> Option<RegionId> {
        let offload = self.ip.tcp_csum_offload();
        self.ip.regions.register(region, offload)
    }

    /// `send` without a copy: queues `len` bytes at `off` of registered region `r`. Segments
    /// point into the region and each transmission is a header mbuf chained to a view of
    /// it; writes of up to 256 bytes are copied instead (cheaper). Returns the bytes taken
    /// (the send buffer may take fewer), like `send`.
    pub fn send_region(
        &mut self,
        id: ConnId,
        r: RegionId,
        off: usize,
        len: usize,
    ) -> Result<usize, IoError> {
        // One look at the region: the range, and whether it is reusable (tickets).
        match self.ip.regions.kind(r, off, len) {
            None => return Err(IoError::BadRegion),
            Some(true) => return self.send_zc(id, r, off, len),
            Some(false) => {}
        }
        let slot = self.slot_of(id)?;
        let tcb = Self::sendable(&mut self.conns, slot)?;
        if len <= COPY_BREAK {
            // A reference costs more than copying a few cache lines: small writes are copied
            // (as the kernel falls back to copying small MSG_ZEROCOPY sends).
            // The table moves out for the call (three words, no allocation) so that the
            // bytes can be read straight from the region while the IP layer is borrowed.
            // Pending zero-copy bytes become segments first, while the table is here to
            // sum them.
            sendmsg::materialize(tcb, &mut self.ip, u32::MAX);
            let regions = std::mem::take(&mut self.ip.regions);
            let b = regions.bytes(r.0, off as u32, len as u32).unwrap_or(&[]);
            let n = sendmsg::copy_to_queue(tcb, &mut self.ip, b);
            self.ip.regions = regions;
            return self.after_send(slot, n, len);
        }
        let (off, len) = (off as u32, len.min(u32::MAX as usize) as u32);
        let n = sendmsg::region_to_queue(tcb, &mut self.ip, (r, NO_TICKET), off, len) as usize;
        self.after_send(slot, n, len as usize)
    }

    /// The connection `id` if it may queue data now.
    pub(crate) fn sendable(conns: &mut [Option<Tcb>], slot: Slot) -> Result<&mut Tcb, IoError> {
        let tcb = conns
            .get_mut(slot as usize)
            .and_then(|c| c.as_mut())
            .ok_or(IoError::NotConnected)?;
        if let Some(e) = tcb.error {
            return Err(IoError::Conn(e));
        }
        if tcb.fin_wanted {
            return Err(IoError::Shutdown);
        }
        if !tcb.state.can_send() {
            return Err(if tcb.state == State::SynSent {
                IoError::WouldBlock
            } else {
                IoError::Shutdown
            });
        }
        Ok(tcb)
    }

    /// Counts a short or empty write of `n` of `want` bytes and lets output run.
    pub(crate) fn after_send(&mut self, id: Slot, n: usize, want: usize) -> Result<usize, IoError> {
        let Some(Some(tcb)) = self.conns.get_mut(id as usize) else {
            return Err(IoError::NotConnected);
        };
        if n == 0 && want > 0 {
            tcb.counters.would_block += 1;
            tcb.reported.want_write = true;
            if tcb.write_seq == tcb.snd_una && tcb.waits & LISTED_POOL == 0 {
                // Nothing queued, so no ACK will come to say WRITABLE: the pool refused it.
                tcb.waits |= LISTED_POOL;
                self.pool_waiters.push(id);
            }
            return Err(IoError::WouldBlock);
        }
        if n < want {
            tcb.counters.partial_writes += 1;
            tcb.reported.want_write = true;
        }
        // The latency path: a nodelay message of up to one MSS goes to the NIC in this call.
        let now_out = tcb.cfg.nodelay && n <= tcb.mss as usize;
        // The kernel's autocork: while frames wait for the NIC, output waits for the next
        // flush or poll, so that the writes made by then leave together (as TSO units);
        // with nothing waiting, it runs now. Corked, it always waits.
        if self.ip.dev.backlog() > 0 || tcb.cfg.cork {
            self.defer(id);
        } else {
            self.after_event(id);
            if now_out {
                self.ip.dev.flush();
            }
        }
        Ok(n)
    }

    /// Moves up to `out.len()` readiness events into `out`, oldest first, and returns how
    /// many: the connections that connected, got bytes acknowledged, became writable again
    /// after a short send, got data, closed or failed since the last call (one event per
    /// connection, its bits merged). An app with many connections visits only these instead
    /// of asking `info` of each. Take them after every `poll`: a slot whose event says
    /// [`crate::event::FREED`] may go to a `connect` after the next `poll` (never before, so
    /// the FREED of an id is always taken before the id names another connection).
    pub fn events(&mut self, out: &mut [Event]) -> usize {
        self.events.take(out)
    }

    /// Events waiting to be taken with [`Stack::events`].
    pub fn events_pending(&self) -> usize {
        self.events.len()
    }

    /// Free space in the send buffer (it starts small and grows with the congestion window
    /// up to `TcpConfig::sndbuf`).
    pub fn send_space(&self, id: ConnId) -> usize {
        self.tcb(id).map_or(0, |t| t.send_space() as usize)
    }

    /// `tcp_recvmsg`: copies in-order data out. `Ok(0)` is end of stream (the peer sent FIN).
    pub fn recv(&mut self, id: ConnId, buf: &mut [u8]) -> Result<usize, IoError> {
        let slot = id.slot();
        let tcb = self.tcb_mut(id)?;
        if tcb.rx_len() == 0 {
            if tcb.peer_fin {
                return Ok(0);
            }
            if let Some(e) = tcb.error {
                return Err(IoError::Conn(e));
            }
            return Err(IoError::WouldBlock);
        }
        let before = tcb.rcv_wnd();
        let n = buf.len().min(tcb.rx_len());
        if let Some(q) = tcb.rx.as_mut() {
            for (d, s) in buf[..n].iter_mut().zip(q.drain(..n)) {
                *d = s;
            }
        }
        // Window update once reading reopens at least half the buffer (the kernel's
        // tcp_cleanup_rbuf rule, simplified).
        let half = tcb.cfg.rcvbuf / 2;
        if before < half && tcb.rcv_wnd() >= half {
            tcb.ack_now = true;
            self.after_event(slot);
        }
        Ok(n)
    }

    /// shutdown(SHUT_WR): FIN after everything queued.
    pub fn shutdown(&mut self, id: ConnId) -> Result<(), IoError> {
        self.shutdown_wr(id).map(|_| ())
    }

    /// `shutdown`; true when it ran the connection's output (`after_event`).
    fn shutdown_wr(&mut self, id: ConnId) -> Result<bool, IoError> {
        let slot = id.slot();
        let tcb = self.tcb_mut(id)?;
        match tcb.state {
            State::Established => tcb.state = State::FinWait1,
            State::CloseWait => tcb.state = State::LastAck,
            State::SynSent => {
                tcb.fail(TcpError::Aborted);
                return Ok(false);
            }
            _ => return Ok(false),
        }
        tcb.fin_wanted = true;
        self.after_event(slot);
        Ok(true)
    }

    /// close(): FIN after queued data, and the slot is freed once the connection is done.
    /// Unread received data makes it an abort (RST), as in Linux (RFC 2525 §2.17).
    pub fn close(&mut self, id: ConnId) -> Result<(), IoError> {
        let now = self.now;
        let tcb = self.tcb_mut(id)?;
        if tcb.rx_len() > 0 {
            return self.abort(id);
        }
        tcb.released = true;
        if tcb.state == State::FinWait2 {
            tcb.close_at = Deadline::at(now + tcb.cfg.fin_timeout());
        }
        // Output once: a second pass after shutdown's found nothing to do, once per
        // connection of a connection-rate load.
        if !self.shutdown_wr(id)? {
            self.after_event(id.slot());
        }
        Ok(())
    }

    /// abort(): RST now, drop everything queued, free the slot.
    pub fn abort(&mut self, id: ConnId) -> Result<(), IoError> {
        let now = self.now;
        let slot = self.slot_of(id)?;
        let Some(Some(tcb)) = self.conns.get_mut(slot as usize) else {
            return Err(IoError::NotConnected);
        };
        if !matches!(tcb.state, State::Closed | State::SynSent | State::TimeWait) {
            let seq = tcb.snd_nxt;
            let _ = output::send_control(tcb, &mut self.ip, flags::RST | flags::ACK, seq, now);
        }
        tcb.fail(TcpError::Aborted);
        tcb.released = true;
        self.after_event(id.slot());
        Ok(())
    }

    /// Connection state; `None` once closed and freed.
    pub fn state(&self, id: ConnId) -> Option<State> {
        self.tcb(id).map(|t| t.state)
    }

    /// The error that ended the connection, if any.
    pub fn error(&self, id: ConnId) -> Option<TcpError> {
        self.tcb(id).and_then(|t| t.error)
    }

    /// Bytes waiting to be read.
    pub fn recv_queue(&self, id: ConnId) -> usize {
        self.tcb(id).map_or(0, |t| t.rx_len())
    }

    /// `ss -ti` for one connection.
    pub fn info(&self, id: ConnId) -> Option<TcpInfo> {
        self.tcb(id).map(|t| t.info())
    }

    /// The local (source) port of connection `id`.
    pub fn local_port(&self, id: ConnId) -> Option<u16> {
        self.tcb(id).map(|t| t.local_port)
    }

    /// Whether a TIME-WAIT record holds the 4-tuple `local` → `remote` (a connection the app
    /// closed; its id is already freed, as a closed socket's TIME-WAIT has no descriptor).
    pub fn in_time_wait(&self, local: SocketAddrV4, remote: SocketAddrV4) -> bool {
        let key = (*local.ip(), *remote.ip(), remote.port(), local.port());
        self.tw.find(&key).is_some()
    }

    /// Ids of all connections the stack holds.
    pub fn connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_some())
            .map(|(i, _)| ConnId::new(i as Slot, self.gens[i]))
    }
}
