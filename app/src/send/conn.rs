//! One connection of the run as the loop sees it: what was handed to the stack, what the
//! peer acknowledged, the last state the stack reported, and the latency bookkeeping.
use crate::latency::{AckTracker, Hists, Schedule};
use linerate::{ConnId, ConnectError, Device, Stack, State, TcpError, TcpInfo, TscClock};
use std::net::SocketAddrV4;

pub(super) struct Conn {
    pub dst: SocketAddrV4,
    pub id: Option<ConnId>,
    /// connect() failed outright.
    pub connect_error: Option<ConnectError>,
    /// Stream bytes handed to send().
    pub queued: u64,
    pub acked: u64,
    pub info: Option<TcpInfo>,
    pub established: bool,
    pub error: Option<TcpError>,
    pub close_called: bool,
    /// When -n bytes were acked.
    pub done_at: Option<u64>,
    pub tracker: AckTracker,
    pub sched: Option<Schedule>,
    /// Latency mode: bytes left of the current message, and its intended time.
    msg_left: u64,
    msg_intended: u64,
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
            info: None,
            established: false,
            error: None,
            close_called: false,
            done_at: None,
            tracker: AckTracker::new(),
            sched,
            msg_left: 0,
            msg_intended: 0,
        }
    }

    pub fn state(&self) -> Option<State> {
        self.info.map(|i| i.state)
    }

    /// `Aborted` is our own doing (abort, or a close in SYN-SENT), not the connection failing.
    pub fn failed(&self) -> bool {
        self.connect_error.is_some() || self.error.is_some_and(|e| e != TcpError::Aborted)
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

    /// Books `n` bytes that send() took at `t0`..`t1` for a write meant at `intended`.
    pub fn on_sent(&mut self, hists: &mut Hists, n: u64, t0: u64, t1: u64, intended: Option<u64>) {
        self.queued += n;
        if self.sched.is_some() {
            self.msg_left -= n;
        }
        self.tracker.on_send(hists, self.queued, t0, t1, intended);
    }

    /// After a poll: takes the connection's ACK progress, state and error from the stack;
    /// `limit` is -n (the byte count that makes the connection done).
    pub fn observe<D: Device>(
        &mut self,
        stack: &Stack<D>,
        hists: &mut Hists,
        now: u64,
        limit: u64,
    ) {
        let Some(id) = self.id else { return };
        match stack.info(id) {
            Some(info) => {
                self.acked = info.counters.bytes_acked;
                self.tracker.on_acked(hists, self.acked, now);
                if info.state != State::SynSent && info.error.is_none() {
                    self.established = true;
                }
                if let Some(e) = info.error {
                    self.error.get_or_insert(e);
                }
                if self.done_at.is_none() && self.acked >= limit {
                    self.done_at = Some(now);
                }
                self.info = Some(info);
            }
            None => {
                // Closed and freed: keep the last snapshot.
                self.id = None;
                if let Some(i) = self.info.as_mut() {
                    i.state = State::Closed;
                }
            }
        }
    }
}
