//! The run's connections as the loop sees them: what was handed to the stack, what the peer
//! acknowledged, the last state the stack reported and the latency bookkeeping of each
//! ([`Conn`]), and the table that finds a connection by its stack id and keeps the run's
//! tallies as events arrive ([`Conns`]), so that no pass walks every connection.
use crate::latency::{AckTracker, Hists, Schedule};
use crate::report::Connections;
use linerate::event::{self, Event};
use linerate::{ConnId, ConnectError, State, TcpError, TscClock};
use std::collections::VecDeque;
use std::net::SocketAddrV4;

pub(super) struct Conn {
    pub dst: SocketAddrV4,
    pub id: Option<ConnId>,
    /// connect() failed outright.
    pub connect_error: Option<ConnectError>,
    /// Stream bytes handed to send().
    pub queued: u64,
    pub acked: u64,
    /// The state the stack last reported (`None` before connect).
    pub state: Option<State>,
    pub established: bool,
    pub error: Option<TcpError>,
    pub close_called: bool,
    /// When -n bytes were acked.
    pub done_at: Option<u64>,
    /// Retransmitted segments and smoothed RTT, taken when the sending phase ends.
    pub retrans_segs: u64,
    pub srtt_us: u32,
    pub tracker: AckTracker,
    pub sched: Option<Schedule>,
    /// When connect() was called (--cps: connect and complete times count from it).
    pub opened_at: u64,
    /// On the list of connections the next send pass writes on.
    listed: bool,
    /// Incarnation of this slot of the table (--cps reuses slots): write-list entries of an
    /// earlier one are skipped.
    gen: u32,
    /// --cps: counted and gone; the slot waits for the next connection.
    pub retired: bool,
    /// Latency mode: bytes left of the current message, and its intended time.
    msg_left: u64,
    msg_intended: u64,
    /// --rr: the transaction under way.
    pub rr: Option<Rr>,
    /// Bytes the peer sent (read and dropped, or the responses of --rr).
    pub received: u64,
}

/// A request/response connection's transaction under way.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Rr {
    pub req: u64,
    pub resp: u64,
    /// Request bytes not yet handed to send().
    left: u64,
    /// Response bytes still to come (0: not waiting).
    wait: u64,
    /// When the request's first send() was called, and when it was due (with --msg-rate).
    t0: u64,
    intended: Option<u64>,
    /// Transactions done.
    pub done: u64,
}

impl Rr {
    pub fn new(req: u64, resp: u64) -> Self {
        Rr {
            req,
            resp,
            ..Default::default()
        }
    }
}

impl Conn {
    /// A connection to `dst` not yet opened; `sched` is the message schedule in latency mode.
    pub fn new(dst: SocketAddrV4, sched: Option<Schedule>) -> Self {
        Conn {
            dst,
            id: None,
            connect_error: None,
            queued: 0,
            acked: 0,
            state: None,
            established: false,
            error: None,
            close_called: false,
            done_at: None,
            retrans_segs: 0,
            srtt_us: 0,
            tracker: AckTracker::new(),
            sched,
            opened_at: 0,
            listed: false,
            gen: 0,
            retired: false,
            msg_left: 0,
            msg_intended: 0,
            rr: None,
            received: 0,
        }
    }

    /// --rr: waiting for a response (off the write list until it is in).
    pub fn awaits_response(&self) -> bool {
        self.rr.is_some_and(|r| r.wait > 0)
    }

    /// `n` bytes read from the peer at `now`: with --rr, a response's; true when they end it
    /// (its latency recorded: the connection may send its next request).
    pub fn on_received(&mut self, n: u64, now: u64, hists: &mut Hists) -> bool {
        self.received += n;
        let Some(rr) = self.rr.as_mut() else {
            return false;
        };
        if rr.wait == 0 {
            return false; // more than was asked for: dropped
        }
        rr.wait = rr.wait.saturating_sub(n);
        if rr.wait > 0 {
            return false;
        }
        rr.done += 1;
        let _ = hists.transaction.record(now.saturating_sub(rr.t0).max(1));
        if let Some(i) = rr.intended {
            let _ = hists
                .transaction_corrected
                .record(now.saturating_sub(i).max(1));
        }
        true
    }

    pub fn state(&self) -> Option<State> {
        self.state
    }

    /// `Aborted` is our own doing (abort, or a close in SYN-SENT), not the connection failing.
    pub fn failed(&self) -> bool {
        self.connect_error.is_some() || self.error.is_some_and(|e| e != TcpError::Aborted)
    }

    /// Still sending: neither failed nor done with -n.
    fn alive(&self) -> bool {
        !self.failed() && self.done_at.is_none()
    }

    /// The id of a connection the stack still holds in a state other than TIME-WAIT or
    /// CLOSED: one the close phase waits for.
    pub fn open_id(&self) -> Option<ConnId> {
        match self.state() {
            None | Some(State::TimeWait) | Some(State::Closed) => None,
            Some(_) => self.id,
        }
    }

    /// The error to show for this connection: connect()'s own, else the stack's.
    pub fn error_text(&self) -> Option<String> {
        self.connect_error
            .map(|e| e.to_string())
            .or(self.error.map(|e| e.to_string()))
    }

    /// The bytes of the next write (`want` in bulk mode) and, in latency mode, the intended
    /// send time of the message they belong to. A new message starts only when the schedule
    /// says it is due; `None` means none is.
    pub fn next_write(&mut self, want: u64, clock: &TscClock) -> Option<(u64, Option<u64>)> {
        if let Some(rr) = self.rr.as_mut() {
            if rr.wait > 0 {
                return None;
            }
            if rr.left == 0 {
                // A new request: now, or when the --msg-rate schedule says.
                let now = clock.now();
                rr.intended = match self.sched.as_mut() {
                    Some(s) if !s.ready(now) => return None,
                    Some(s) => {
                        let due = s.due();
                        s.advance();
                        Some(due)
                    }
                    None => None,
                };
                (rr.left, rr.t0) = (rr.req, now);
            }
            return Some((rr.left, rr.intended));
        }
        let Some(sched) = self.sched.as_mut() else {
            return Some((want, None));
        };
        if self.msg_left == 0 {
            if !sched.ready(clock.now()) {
                return None;
            }
            self.msg_left = want;
            self.msg_intended = sched.due();
            sched.advance();
        }
        Some((self.msg_left, Some(self.msg_intended)))
    }

    /// Counts this connection into `cs`, once its outcome is known (or at the end): whether
    /// it was established, failed and why, completed (`limit` bytes acked with -n or --cps;
    /// with -t, sending at the end); `requested` is the caller's.
    pub fn count_into(&self, cs: &mut Connections, limit: u64) {
        cs.established += self.established as u32;
        match (self.connect_error, self.error) {
            (Some(_), _) => cs.connect_failed += 1,
            (None, Some(TcpError::Refused)) => cs.refused += 1,
            (None, Some(TcpError::Reset)) => cs.reset += 1,
            (None, Some(TcpError::TimedOut)) => cs.timed_out += 1,
            (None, Some(TcpError::HostUnreachable)) => cs.unreachable += 1,
            (None, Some(TcpError::Aborted) | None) => {
                cs.not_established += !self.established as u32;
            }
        }
        let failed = self.failed() || !self.established;
        cs.errors += failed as u32;
        cs.no_data += (self.established && self.acked == 0) as u32;
        cs.completed += (!failed && (limit == u64::MAX || self.acked >= limit)) as u32;
    }

    /// Books `n` bytes that send() took at `t0`..`t1` for a write meant at `intended`.
    pub fn on_sent(&mut self, hists: &mut Hists, n: u64, t0: u64, t1: u64, intended: Option<u64>) {
        self.queued += n;
        if let Some(rr) = self.rr.as_mut() {
            rr.left -= n;
            if rr.left == 0 {
                rr.wait = rr.resp;
            }
        } else if self.sched.is_some() {
            self.msg_left -= n;
        }
        self.tracker.on_send(hists, self.queued, t0, t1, intended);
    }
}

/// The run's tallies, kept up to date event by event.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Tally {
    /// Connections neither failed nor done with -n.
    pub alive: usize,
    /// Connections in a state the close phase waits for.
    pub open: usize,
    pub established_now: u64,
    /// Bytes acked, summed over the connections.
    pub acked: u64,
    /// --cps: connections opened so far.
    pub opened: u64,
}

/// The connections of one stack, found by stack id, with the list of those the next send
/// pass writes on.
pub(super) struct Conns {
    pub list: Vec<Conn>,
    /// Index in `list` by stack id (ids are slot numbers: dense).
    by_id: Vec<u32>,
    /// Connections to write on, in turn (index and incarnation): connected, not blocked on a
    /// full send buffer, not done.
    writers: VecDeque<(u32, u32)>,
    pub tally: Tally,
    /// --cps: a connection leaves the table once its outcome is known, counted here, and its
    /// slot is reused; the bytes each must send (its -n).
    pub retired: Option<(Connections, u64)>,
    free: Vec<u32>,
    /// Events taken from the stack per call.
    buf: Vec<Event>,
    /// Where received bytes are read to (and dropped).
    scratch: Vec<u8>,
}

const NONE: u32 = u32::MAX;

impl Conns {
    pub fn with_capacity(n: usize) -> Self {
        Conns {
            list: Vec::with_capacity(n),
            by_id: Vec::new(),
            writers: VecDeque::with_capacity(n.min(1 << 16)),
            tally: Tally::default(),
            retired: None,
            free: Vec::new(),
            scratch: vec![0; 64 << 10],
            buf: vec![Event::EMPTY; 256],
        }
    }

    /// Connection-rate mode: connections leave the table once done (see `retired`), each to
    /// send `bytes`.
    pub fn recycle(&mut self, bytes: u64) {
        self.retired = Some((Connections::default(), bytes));
    }

    /// Adds a connection just opened (or one whose connect failed).
    pub fn push(&mut self, mut c: Conn) {
        let i = match self.free.pop() {
            Some(i) => {
                c.gen = self.list[i as usize].gen.wrapping_add(1);
                i
            }
            None => self.list.len() as u32,
        };
        if let Some(id) = c.id {
            let slot = id.index();
            if self.by_id.len() <= slot {
                self.by_id.resize(slot + 1, NONE);
            }
            self.by_id[slot] = i;
        }
        self.tally.alive += c.alive() as usize;
        self.tally.open += c.open_id().is_some() as usize;
        self.tally.opened += 1;
        let failed = c.connect_error.is_some();
        if (i as usize) < self.list.len() {
            c.tracker.reuse_ring(&mut self.list[i as usize].tracker);
            self.list[i as usize] = c;
        } else {
            self.list.push(c);
        }
        if failed && self.retired.is_some() {
            self.retire(i);
        }
    }

    /// --cps: counts connection `i`'s outcome and frees its slot. The stack may still hold
    /// it (TIME-WAIT): its later events find no connection and are skipped.
    fn retire(&mut self, i: u32) {
        let Some((cs, limit)) = self.retired.as_mut() else {
            return;
        };
        let c = &mut self.list[i as usize];
        c.count_into(cs, *limit);
        // Its share of the tallies goes, before the id does (open_id reads it).
        let t = &mut self.tally;
        t.alive -= c.alive() as usize;
        t.open -= c.open_id().is_some() as usize;
        t.established_now -= (c.state == Some(State::Established)) as u64;
        if let Some(id) = c.id.take() {
            if let Some(b) = self.by_id.get_mut(id.index()) {
                *b = NONE;
            }
        }
        c.listed = false;
        c.state = None;
        c.retired = true;
        // The slot keeps its incarnation number; the next push takes the one after.
        self.free.push(i);
    }

    /// Takes every event the stack has, applying each to its connection; `limit` is -n (the
    /// byte count that makes a connection done).
    pub fn take_events<D: linerate::Device>(
        &mut self,
        stack: &mut linerate::Stack<D>,
        hists: &mut Hists,
        now: u64,
        limit: u64,
    ) {
        loop {
            let n = stack.events(&mut self.buf);
            for k in 0..n {
                let ev = self.buf[k];
                if ev.what & event::READABLE != 0 {
                    self.read(stack, ev.conn, hists, now);
                }
                self.apply(&ev, hists, now, limit);
            }
            if n < self.buf.len() {
                return;
            }
        }
    }

    /// Reads what connection `id` received: --rr's responses, and in every other mode bytes
    /// the peer sends anyway, dropped (never left to fill the stack's buffer). A response
    /// that completes puts the connection back on the write list.
    fn read<D: linerate::Device>(
        &mut self,
        stack: &mut linerate::Stack<D>,
        id: ConnId,
        hists: &mut Hists,
        now: u64,
    ) {
        let Some(&i) = self.by_id.get(id.index()) else {
            return;
        };
        while let Ok(n) = stack.recv(id, &mut self.scratch) {
            if n == 0 {
                break; // end of stream
            }
            if i == NONE {
                continue;
            }
            let c = &mut self.list[i as usize];
            if c.on_received(n as u64, now, hists) && !c.listed {
                c.listed = true;
                self.writers.push_back((i, c.gen));
            }
        }
    }

    /// Reads and drops whatever connection `id` has received.
    pub fn drop_received<D: linerate::Device>(
        &mut self,
        stack: &mut linerate::Stack<D>,
        id: ConnId,
    ) {
        while stack.recv(id, &mut self.scratch).is_ok_and(|n| n > 0) {}
    }

    fn apply(&mut self, ev: &Event, hists: &mut Hists, now: u64, limit: u64) {
        let Some(&i) = self.by_id.get(ev.conn.index()) else {
            return;
        };
        if i == NONE {
            return;
        }
        if ev.what & event::FREED != 0 {
            self.by_id[ev.conn.index()] = NONE;
        }
        let c = &mut self.list[i as usize];
        let t = &mut self.tally;
        let (was_alive, was_open) = (c.alive(), c.open_id().is_some());
        let was_est = c.state == Some(State::Established);
        t.acked += ev.bytes_acked.saturating_sub(c.acked);
        c.acked = ev.bytes_acked;
        c.tracker.on_acked(hists, c.acked, now);
        c.state = Some(ev.state);
        if ev.what & event::CONNECTED != 0 {
            c.established = true;
        }
        if let Some(e) = ev.error {
            c.error.get_or_insert(e);
        }
        if c.done_at.is_none() && c.acked >= limit {
            c.done_at = Some(now);
        }
        if ev.what & event::FREED != 0 {
            c.id = None;
        }
        t.alive = t.alive + c.alive() as usize - was_alive as usize;
        t.open = t.open + c.open_id().is_some() as usize - was_open as usize;
        let est = c.state == Some(State::Established);
        t.established_now = t.established_now + est as u64 - was_est as u64;
        if self.retired.is_some() {
            if ev.what & event::CONNECTED != 0 {
                let _ = hists.connect.record(now.saturating_sub(c.opened_at).max(1));
            }
            // Its outcome is known: failed, or both FINs done (TIME-WAIT or CLOSED).
            let over = c.failed() || matches!(c.state, Some(State::TimeWait | State::Closed));
            if over {
                if !c.failed() && c.acked >= limit {
                    let _ = hists
                        .complete
                        .record(now.saturating_sub(c.opened_at).max(1));
                }
                self.retire(i);
                return;
            }
        }
        if ev.what & (event::CONNECTED | event::WRITABLE) != 0 && !c.listed {
            c.listed = true;
            self.writers.push_back((i, c.gen));
        }
    }

    /// The next connection to write on, from the front of the list (entries of a slot's
    /// earlier incarnation are dropped).
    pub fn next_writer(&mut self) -> Option<u32> {
        while let Some((i, gen)) = self.writers.pop_front() {
            let c = &self.list[i as usize];
            if c.gen == gen && c.listed {
                return Some(i);
            }
        }
        None
    }

    /// Puts writer `i` back at the end of the list, unless it left it.
    pub fn requeue(&mut self, i: u32) {
        let c = &self.list[i as usize];
        if c.listed {
            self.writers.push_back((i, c.gen));
        }
    }

    /// Connections on the write list.
    pub fn writers(&self) -> usize {
        self.writers.len()
    }

    /// Takes connection `i` off the write list until a WRITABLE event (a full send buffer)
    /// or for good (done, closed, failed).
    pub fn unlist(&mut self, i: u32) {
        self.list[i as usize].listed = false;
    }
}
