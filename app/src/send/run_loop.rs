//! The run loop of `linerate send`, in its phases: open every connection; poll and send until
//! the stop condition, with a progress line a second; then close and drain.
use super::board::{Board, Totals};
use super::bucket::TokenBucket;
use super::conn::{Conn, Conns, Rr};
use super::cps::Opener;
use super::part::{Ended, Mem, Part};
use super::{sigint, SendError, NS};
use crate::config::{Settings, Stop};
use crate::latency::{Hists, Schedule};
use linerate::dpdk::{Port, PortStats};
use linerate::steer::SteerStats;
use linerate::{ConnId, ConnectError, Device, RegionId, Stack, State, TcpConfig, TscClock};
use std::net::SocketAddrV4;

/// Sends per connection per loop pass (fairness between connections).
const SENDS_PER_PASS: usize = 16;
/// Connections a pass writes on before the loop polls again: with many connections, a pass
/// over all of them would send far more than one poll reads back, and their ACKs would wait.
/// As many as --cps opens per loop at most, so that the writers keep up with the opener.
const CONNS_PER_PASS: usize = 256;
/// The same for --cps, whose writers each write one request and close: a pass takes every
/// connection a poll established, since their handshake ACKs wait for those writes to carry
/// them (`TcpConfig::quickack`), and a writer left for the next pass sends its ACK alone.
const CPS_CONNS_PER_PASS: usize = 4096;

/// The stack and what every connection's writes share. Kept apart from the connections so
/// that a pass can borrow one connection and all of this mutably at once.
pub(super) struct Sender<'a, D: Device> {
    pub s: &'a Settings,
    pub clock: TscClock,
    pub stack: Stack<D>,
    pub hists: Hists,
    payload: &'a [u8],
    /// The payload as a registered region: what `send_region` references.
    region: RegionId,
    /// `--rate`; starts once every connection is opened.
    bucket: Option<TokenBucket>,
    /// -n: the bytes each connection sends (no limit with -t).
    limit: u64,
}

/// The run from the first connect to the end of the close phase: what the report is built
/// from.
pub(super) struct Run<'a, D: Device> {
    pub tx: Sender<'a, D>,
    pub conns: Conns,
    /// Each connection's place in the run's `-P` list (a worker runs a share of them).
    indices: Vec<usize>,
    /// With several workers: the progress board and this worker's slot (slot 0 prints).
    board: Option<(&'a Board, usize)>,
    pub port: &'a Port,
    /// The port's counters before the first connect: the report and progress lines show
    /// deltas.
    pub port_before: PortStats,
    /// Time zero of the run: just before the first connect.
    pub t_start: u64,
    deadline: Option<u64>,
    progress: Progress,
    /// --cps: opens connections on the schedule.
    opener: Option<Opener>,
    tcp: TcpConfig,
    /// The process's RSS before the first connect.
    rss_before: u64,
}

/// What one write leaves for the connection.
enum Write {
    /// It may write again now.
    More,
    /// Not now (latency schedule, --rate), but it stays on the write list.
    Later,
    /// Off the write list: full send buffer (until WRITABLE), done, or dead.
    Blocked,
}

/// When the next progress line is due, and the sample the previous one was taken from.
struct Progress {
    /// Next publication on the board (a few a second).
    publish: u64,
    next: u64,
    at: u64,
    acked: u64,
    tx_frames: u64,
    /// Retransmissions at the last line (a walk over the connections: once a line).
    retrans: u64,
    opened: u64,
}

impl<'a, D: Device> Sender<'a, D> {
    pub fn new(
        s: &'a Settings,
        payload: &'a [u8],
        region: RegionId,
        clock: TscClock,
        stack: Stack<D>,
    ) -> Self {
        Sender {
            s,
            clock,
            stack,
            hists: Hists::default(),
            payload,
            region,
            bucket: None,
            limit: match s.stop {
                Stop::BytesPerConn(n) | Stop::Cps { bytes: n, .. } => n,
                Stop::Duration(_) => u64::MAX,
            },
        }
    }

    /// connect() to `dst`. No route or settings the stack refuses are a usage error that
    /// ends the run; any other failure stays with the connection and shows in the report.
    pub(super) fn open(
        &mut self,
        dst: SocketAddrV4,
        tcp: TcpConfig,
        sched: Option<Schedule>,
    ) -> Result<Conn, SendError> {
        let mut c = Conn::new(dst, sched);
        match self.stack.connect_with(dst, None, tcp) {
            Ok(id) => {
                c.id = Some(id);
                c.state = self.stack.state(id);
            }
            Err(e @ (ConnectError::NoRoute(_) | ConnectError::Config(_))) => {
                return Err(SendError::Usage(e.to_string()))
            }
            Err(e) => c.connect_error = Some(e),
        }
        Ok(c)
    }

    /// Polls the stack (RX, timers, TX) at `now`, then takes the events of the connections
    /// that changed; returns the time after the poll.
    fn poll_at(&mut self, conns: &mut Conns, now: u64) -> u64 {
        self.stack.poll(now);
        let after = self.clock.now();
        conns.take_events(&mut self.stack, &mut self.hists, after, self.limit);
        after
    }

    /// One pass over the next CONNS_PER_PASS (CPS_CONNS_PER_PASS) connections that may write, round robin: up to
    /// SENDS_PER_PASS writes on each, within `--rate`. A connection whose send buffer fills
    /// leaves the list until its WRITABLE event, so a pass costs what the writable
    /// connections cost, not all of them.
    fn send_pass(&mut self, conns: &mut Conns, now: u64) {
        if let Some(b) = self.bucket.as_mut() {
            b.refill(now);
        }
        let most = match self.s.stop {
            Stop::Cps { .. } => CPS_CONNS_PER_PASS,
            _ => CONNS_PER_PASS,
        };
        for _ in 0..conns.writers().min(most) {
            let Some(i) = conns.next_writer() else { break };
            if !self.send_on(&mut conns.list[i as usize]) {
                conns.unlist(i);
            }
            conns.requeue(i);
        }
        // Bulk: one flush for the pass, so that the writes of a pass leave as TSO units.
        self.stack.flush();
    }

    /// Up to SENDS_PER_PASS writes on `c`; false when it leaves the write list (its send
    /// buffer is full, it is done, or it cannot send any more).
    fn send_on(&mut self, c: &mut Conn) -> bool {
        let Some(id) = c.id else { return false };
        if c.close_called || !c.state().is_some_and(|st| st.can_send()) {
            return false;
        }
        for _ in 0..SENDS_PER_PASS {
            match self.write(c, id) {
                Write::More => {}
                Write::Later => return true,
                Write::Blocked => return false,
            }
        }
        true
    }

    /// One send() on `c`.
    fn write(&mut self, c: &mut Conn, id: ConnId) -> Write {
        let remaining = self.limit.saturating_sub(c.queued);
        if remaining == 0 {
            // All of -n is queued: the FIN goes after it.
            let _ = self.stack.close(id);
            c.close_called = true;
            return Write::Blocked;
        }
        let Some((want, intended)) = c.next_write(self.s.size.min(remaining), &self.clock) else {
            // --rr waiting for its response: off the list until it is in. Otherwise the next
            // message is not due yet.
            return if c.awaits_response() {
                Write::Blocked
            } else {
                Write::Later
            };
        };
        // A write stops at the end of the payload buffer; the next one starts over at its
        // beginning.
        let plen = self.payload.len() as u64;
        let pos = c.queued % plen;
        let Some(len) = self.paced(want.min(plen - pos)) else {
            return Write::Later; // --rate: wait for the bucket
        };
        let t0 = self.clock.now();
        let sent = if self.s.copy {
            let chunk = &self.payload[pos as usize..(pos + len) as usize];
            self.stack.send(id, chunk)
        } else {
            self.stack
                .send_region(id, self.region, pos as usize, len as usize)
        };
        match sent {
            Ok(n) => {
                if self.s.latency.is_some() && self.stack.tx_backlog() > 0 {
                    // Latency mode times send() → frame accepted by the NIC. With nodelay
                    // the stack hands a small message to the NIC inside send; whatever is
                    // still waiting goes now.
                    self.stack.flush();
                }
                let t1 = self.clock.now();
                let n = n as u64;
                if let Some(b) = self.bucket.as_mut() {
                    b.take(n);
                }
                c.on_sent(&mut self.hists, n, t0, t1, intended);
                // A short write means the send buffer is full: the stack sends WRITABLE
                // once it has room again.
                if n >= len {
                    Write::More
                } else {
                    Write::Blocked
                }
            }
            // WouldBlock (the send buffer is full: WRITABLE follows), or a dead connection,
            // whose event reports its error.
            Err(_) => Write::Blocked,
        }
    }

    /// `len` cut to what `--rate` allows now; `None` when that is less than a segment (wait
    /// for the bucket rather than send a runt).
    fn paced(&self, len: u64) -> Option<u64> {
        let Some(b) = self.bucket.as_ref() else {
            return Some(len);
        };
        let avail = b.available();
        if avail >= len {
            Some(len)
        } else if avail >= self.s.mss as u64 {
            Some(avail)
        } else {
            None
        }
    }
}

impl<'a, D: Device> Run<'a, D> {
    /// Opens connections `plan` (places in the `-P` list, round-robin over the `--dst`s) and
    /// starts the run's clock; `board` is the progress board and this worker's slot when
    /// there are several workers.
    pub fn connect(
        mut tx: Sender<'a, D>,
        port: &'a Port,
        tcp: TcpConfig,
        plan: &[usize],
        board: Option<(&'a Board, usize)>,
    ) -> Result<Self, SendError> {
        let s = tx.s;
        let port_before = port.stats().unwrap_or_default();
        let rss_before = Mem::rss_now();
        if let Some(rate) = s.cps {
            // Every connection of the asked rate leaves a TIME-WAIT record: their table is
            // made (and its memory touched) before the clock starts, not while it runs.
            let workers = board.map_or(1, |(b, _)| b.workers() as u64).max(1);
            let secs = tcp.time_wait.div_ceil(NS);
            let records = (rate / workers).saturating_mul(secs).saturating_mul(5) / 4;
            tx.stack
                .reserve_time_wait(records.min(usize::MAX as u64) as usize);
        }
        let t_start = tx.clock.now();
        let deadline = match s.stop {
            Stop::Duration(d) | Stop::Cps { run: d, .. } => {
                Some(t_start.saturating_add(d.as_nanos() as u64))
            }
            Stop::BytesPerConn(_) => None,
        };
        let mut conns = Conns::with_capacity(plan.len());
        let opener = match (s.cps, s.stop) {
            (Some(rate), Stop::Cps { bytes, .. }) => {
                conns.recycle(bytes);
                // Each worker opens its share of the rate (and of -P, if given).
                let workers = board.map_or(1, |(b, _)| b.workers() as u64).max(1);
                let share = (rate / workers).max(1);
                let limit = if s.connections == 0 {
                    u64::MAX
                } else {
                    plan.len() as u64
                };
                Some(Opener::new(
                    share,
                    t_start,
                    deadline.unwrap_or(u64::MAX),
                    limit,
                ))
            }
            _ => None,
        };
        // --cps opens its connections as the run goes.
        let plan = if opener.is_some() { &[][..] } else { plan };
        let n = plan.len().max(1) as f64;
        for (k, &i) in plan.iter().enumerate() {
            let sched = match (s.latency, s.hold) {
                (Some(r), _) => Some(Schedule::new(t_start, r)),
                // Held connections' sends spread over the interval, not all at once.
                (None, Some(d)) => {
                    let every = d.as_nanos() as f64;
                    Some(Schedule::every(
                        t_start + (every * k as f64 / n) as u64,
                        every,
                    ))
                }
                (None, None) => None,
            };
            let mut c = tx.open(s.dst[i % s.dst.len()], tcp, sched)?;
            c.rr = s.rr.map(|(q, r)| Rr::new(q, r));
            conns.push(c);
            // Let the SYNs out in batches instead of queueing thousands behind one poll.
            if k % 64 == 63 {
                tx.poll_at(&mut conns, tx.clock.now());
            }
        }
        // The rate starts now, so that the connects do not bank a burst of tokens; each
        // worker takes its share of it.
        let share = plan.len() as f64 / s.connections.max(1) as f64;
        tx.bucket = s
            .rate
            .map(|r| TokenBucket::new(((r as f64 * share) as u64).max(1), s.size, tx.clock.now()));
        Ok(Run {
            tx,
            conns,
            indices: plan.to_vec(),
            board,
            port,
            port_before,
            t_start,
            deadline,
            opener,
            tcp,
            rss_before,
            progress: Progress {
                publish: t_start + NS / 10,
                next: t_start + NS,
                at: t_start,
                acked: 0,
                tx_frames: 0,
                retrans: 0,
                opened: 0,
            },
        })
    }

    /// The run's share for the report, once ended and closed.
    pub fn into_part(self, ended: Ended, lcore: u32, steer: SteerStats) -> Part {
        let opened = self.conns.tally.opened;
        let retired = self.conns.retired.map(|(cs, _)| cs);
        let mem = ended.mem;
        Part {
            mem,
            opened,
            retired,
            lcore,
            queue: self.board.map_or(0, |(_, i)| i as u16),
            stats: self.tx.stack.stats(),
            // --cps: the slots of connections already counted hold nothing more to report (and
            // its connections have no place in a -P list: they go by slot).
            conns: (self.conns.list.into_iter().enumerate())
                .filter(|(_, c)| !c.retired)
                .map(|(k, c)| (self.indices.get(k).copied().unwrap_or(k), c))
                .collect(),
            ended,
            t_start: self.t_start,
            hists: self.tx.hists,
            steer,
        }
    }

    /// The sending phase: poll, send and report progress until the stop condition.
    pub fn send_until_done(&mut self) -> Result<Ended, SendError> {
        let by = loop {
            let now = self.tx.clock.now();
            let now = self.tx.poll_at(&mut self.conns, now);
            if let Some(by) = self.stop_reason(now) {
                break by;
            }
            if let Some(o) = self.opener.as_mut() {
                for _ in 0..o.take_due(now) {
                    let s = self.tx.s;
                    let dst = s.dst[o.next_dst(s.dst.len())];
                    let mut c = self.tx.open(dst, self.tcp, None)?;
                    c.opened_at = now;
                    self.conns.push(c);
                }
            }
            self.tx.send_pass(&mut self.conns, now);
            self.tick(now);
        };
        let t_end = self.tx.clock.now();
        // Each connection's figures for the report, once (not per poll).
        for c in self.conns.list.iter_mut() {
            if let Some(i) = c.id.and_then(|id| self.tx.stack.info(id)) {
                (c.retrans_segs, c.srtt_us) = (i.counters.retrans_segs, i.srtt_us);
            }
        }
        let st = self.tx.stack.stats();
        let cm = self.tx.stack.conn_memory();
        let mem = Mem {
            stack_bytes: cm.total() as u64,
            queue_bytes: cm.queues as u64,
            conns_held: st.conns_open as u64,
            rss: Mem::rss_now(),
            rss_before: self.rss_before,
        };
        Ok(Ended {
            by,
            t_end,
            acked: (self.conns.list.iter())
                .filter(|c| !c.retired)
                .map(|c| c.acked)
                .collect(),
            acked_total: self.conns.tally.acked,
            data_segs: st.tcp.data_segs_out,
            mem,
        })
    }

    /// Why the sending phase ends now, if it does.
    fn stop_reason(&self, now: u64) -> Option<&'static str> {
        if sigint::interrupted() {
            return Some("interrupted");
        }
        if self.deadline.is_some_and(|d| now >= d) {
            return Some("duration");
        }
        // --cps runs to -t, or until its -P connections are all done.
        let opening = self.opener.as_ref().is_some_and(|o| !o.all_open());
        if self.conns.tally.alive > 0 || opening {
            return None;
        }
        Some(if self.conns.list.iter().all(|c| c.failed()) {
            "all_failed"
        } else {
            "bytes"
        })
    }

    /// A progress line a second (none with --quiet), from the first worker when there are
    /// several, summed over all; the others publish their totals a few times a second.
    fn tick(&mut self, now: u64) {
        // Nothing is printed with --quiet (but --json-lines), and only worker 0's line reads
        // the board.
        let s = self.tx.s;
        if (s.quiet && !s.json_lines) || now < self.progress.publish {
            return;
        }
        let due = now >= self.progress.next;
        if due {
            self.progress.next += NS;
        }
        let totals = match self.board {
            Some((b, i)) => {
                self.progress.publish = now + NS / 10;
                let t = self.totals(due);
                b.publish(i, &t);
                (i == 0 && due).then(|| b.sum())
            }
            // Alone, the totals (a walk over every connection) are only for the line.
            None => {
                self.progress.publish = self.progress.next;
                due.then(|| self.totals(true))
            }
        };
        if let Some(t) = totals {
            self.print_progress(now, &t);
        }
    }

    /// This stack's totals for the progress line: O(1) but for the retransmission count,
    /// which walks the connections and is refreshed only when a line is `due`.
    fn totals(&mut self, due: bool) -> Totals {
        if due {
            self.progress.retrans = self.tx.stack.stats().tcp.retrans_segs;
        }
        Totals {
            acked: self.conns.tally.acked,
            tx_frames: self.tx.stack.dev_stats().tx_frames,
            established: self.conns.tally.established_now,
            retrans: self.progress.retrans,
            opened: self.conns.tally.opened,
        }
    }

    /// Rates since the previous line, and the port's drop counters since the start: a text
    /// line on stderr, and with --json-lines one JSON object on stdout.
    fn print_progress(&mut self, now: u64, t: &Totals) {
        let p = &mut self.progress;
        let dt = now.saturating_sub(p.at) as f64 / 1e9;
        let gbps = t.acked.saturating_sub(p.acked) as f64 * 8.0 / dt / 1e9;
        let mpps = t.tx_frames.saturating_sub(p.tx_frames) as f64 / dt / 1e6;
        let cps = t.opened.saturating_sub(p.opened) as f64 / dt;
        (p.at, p.acked, p.tx_frames, p.opened) = (now, t.acked, t.tx_frames, t.opened);
        let ps = self.port.stats().unwrap_or_default();
        let before = &self.port_before;
        let secs = now.saturating_sub(self.t_start) as f64 / 1e9;
        if self.tx.s.json_lines {
            let line = serde_json::json!({
                "t_s": secs,
                "goodput_gbps": gbps,
                "tx_mpps": mpps,
                "bytes_acked": t.acked,
                "established": t.established,
                "opened": t.opened,
                "opened_per_s": cps,
                "retransmits": t.retrans,
                "imissed": ps.imissed.saturating_sub(before.imissed),
                "oerrors": ps.oerrors.saturating_sub(before.oerrors),
            });
            println!("{line}");
        }
        if self.tx.s.quiet {
            return;
        }
        eprintln!(
            "[{:>6.1}s] {:>8.3} Gbit/s {:>7.3} Mpps  conns {}/{}  retrans {}  drops imissed {} oerrors {} rx_nombuf {}",
            now.saturating_sub(self.t_start) as f64 / 1e9,
            gbps,
            mpps,
            t.established,
            self.tx.s.connections,
            t.retrans,
            ps.imissed.saturating_sub(before.imissed),
            ps.oerrors.saturating_sub(before.oerrors),
            ps.rx_nombuf.saturating_sub(before.rx_nombuf),
        );
    }

    /// The close phase: FIN after the queued data, then wait for the peers' FINs (TIME-WAIT)
    /// or give up and RST what is left.
    pub fn close(&mut self, ended_by: &str) {
        let limit = close_limit(ended_by, self.tx.s.stop);
        self.close_all();
        self.drain(limit);
        for c in &self.conns.list {
            if let Some(id) = c.open_id() {
                let _ = self.tx.stack.abort(id);
            }
        }
        self.tx.stack.poll(self.tx.clock.now());
    }

    /// FIN (or, before the SYN-ACK, abort) on every connection, polling between batches:
    /// a million FINs at once would bring back more answers than the pool holds.
    fn close_all(&mut self) {
        for i in 0..self.conns.list.len() {
            if i % 64 == 63 {
                let now = self.tx.clock.now();
                self.tx.poll_at(&mut self.conns, now);
            }
            let c = &self.conns.list[i];
            let (id, state) = match c.id {
                Some(id) if !c.close_called => (id, c.state()),
                _ => continue,
            };
            match state {
                // No SYN-ACK yet: nothing to close gracefully.
                Some(State::SynSent) => {
                    let _ = self.tx.stack.abort(id);
                }
                Some(_) => {
                    // Unread data would make close() an abort (RST): read it first.
                    self.conns.drop_received(&mut self.tx.stack, id);
                    let _ = self.tx.stack.close(id);
                }
                None => {}
            }
            self.conns.list[i].close_called = true;
        }
    }

    /// Polls until every connection is closed, `limit` ns pass, or another Ctrl-C comes.
    fn drain(&mut self, limit: u64) {
        let t_close = self.tx.clock.now();
        let start_interrupts = sigint::interrupts();
        loop {
            let now = self.tx.clock.now();
            self.tx.poll_at(&mut self.conns, now);
            if self.conns.tally.open == 0
                || now.saturating_sub(t_close) > limit
                || sigint::interrupts() > start_interrupts
            {
                break;
            }
        }
    }
}

/// How long the close phase may take: short after Ctrl-C (the user wants out), longest
/// after -n (the FINs wait behind data still in flight).
fn close_limit(ended_by: &str, stop: Stop) -> u64 {
    match (ended_by, stop) {
        ("interrupted", _) => NS,
        (_, Stop::BytesPerConn(_)) => 5 * NS,
        _ => 3 * NS,
    }
}
