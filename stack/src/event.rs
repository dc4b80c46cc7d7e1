//! Readiness events: what changed on which connection, so that an app with a million
//! connections visits only the few that changed (the kernel's `sk_data_ready` /
//! `sk_write_space` wake-ups, delivered as a queue as epoll does).
//!
//! The stack notes changes in `Stack::after_event`, which every input, timer and app call of
//! a connection already ends in. Each connection has at most one event in the queue: a later
//! change merges into it, so the queue never holds more than one event per connection plus
//! one per connection freed since the app last drained it.
use crate::tcp::{ConnId, State, Tcb, TcpError};
use linerate_proto::timer::Nanos;
use std::collections::VecDeque;

/// The connection's SYN was answered: ESTABLISHED.
pub const CONNECTED: u16 = 1;
/// Send space came back after a send that took less than it was given.
pub const WRITABLE: u16 = 2;
/// The peer acknowledged new bytes ([`Event::bytes_acked`]).
pub const ACKED: u16 = 4;
/// Bytes arrived to be read with `recv` ([`Event::bytes_received`]), or the peer's FIN.
pub const READABLE: u16 = 8;
/// The connection ended cleanly: both FINs done (TIME-WAIT or CLOSED), or aborted by the app.
pub const CLOSED: u16 = 16;
/// The connection failed ([`Event::error`]).
pub const ERROR: u16 = 32;
/// The state changed in another way (e.g. FIN-WAIT-1 → FIN-WAIT-2).
pub const STATE: u16 = 64;
/// The stack freed the connection's slot: its id may come back from a `connect` after the
/// next `poll`.
pub const FREED: u16 = 128;
/// Zero-copy sends from a reusable region completed: their memory may be written again
/// ([`Event::zc_done`]).
pub const ZC_DONE: u16 = 256;

/// What changed on one connection since the app last took its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The connection.
    pub conn: ConnId,
    /// Bits: [`CONNECTED`], [`WRITABLE`], [`ACKED`], [`READABLE`], [`CLOSED`], [`ERROR`],
    /// [`STATE`], [`FREED`], [`ZC_DONE`].
    pub what: u16,
    /// The state when the event was last updated.
    pub state: State,
    /// Why it failed, with [`ERROR`].
    pub error: Option<TcpError>,
    /// Payload bytes acknowledged since the connection opened.
    pub bytes_acked: u64,
    /// Payload bytes received in order since the connection opened.
    pub bytes_received: u64,
    /// Bytes of the connection's sends from reusable regions (`Stack::register_zc_region`)
    /// whose memory has come back, in send order since it opened: every byte of them is
    /// acknowledged and no frame reads it any more.
    pub zc_done: u64,
    /// When the event was last updated, on the stack's clock: for [`ACKED`], when those
    /// bytes were acknowledged (the storage case's completion time).
    pub at: Nanos,
}

impl Event {
    /// No event: what a caller's buffer for [`crate::Stack::events`] can start filled with.
    pub const EMPTY: Event = Event {
        conn: ConnId::NONE,
        what: 0,
        state: State::Closed,
        error: None,
        bytes_acked: 0,
        bytes_received: 0,
        zc_done: 0,
        at: 0,
    };
}

/// The stack's event queue.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    q: VecDeque<Event>,
    /// Number of the event at the front of `q` (wrapping).
    head: u32,
}

impl EventQueue {
    pub(crate) fn new() -> Self {
        EventQueue {
            q: VecDeque::new(),
            head: 1,
        }
    }

    /// Notes whatever changed on `tcb` (connection `id`) since its last report; `freed` when
    /// the stack frees its slot now.
    #[inline]
    pub(crate) fn note(&mut self, conn: ConnId, tcb: &mut Tcb, freed: bool, now: Nanos) {
        let writable = tcb.reported.want_write && tcb.writable();
        let r = &mut tcb.reported;
        let mut what = 0;
        // Payload bytes, not sequence space: the SYN's and FIN's ACKs are not news.
        let acked = tcb.counters.bytes_acked as u32;
        if acked != r.una {
            r.una = acked;
            what |= ACKED;
        }
        let rcvd = tcb.counters.bytes_received as u32;
        if rcvd != r.rcvd {
            r.rcvd = rcvd;
            what |= READABLE;
        }
        if tcb.zc_done as u32 != r.zc {
            r.zc = tcb.zc_done as u32;
            what |= ZC_DONE;
        }
        if tcb.state != r.state {
            what |= state_bits(r.state, tcb.state, tcb.error);
            if tcb.peer_fin && !r.fin {
                r.fin = true;
                what |= READABLE; // end of stream is news for a reader too
            }
            r.state = tcb.state;
        }
        if writable {
            r.want_write = false;
            what |= WRITABLE;
        }
        if freed {
            what |= FREED;
        }
        if what == 0 {
            return;
        }
        let ev = Event {
            conn,
            what,
            state: tcb.state,
            error: tcb.error,
            bytes_acked: tcb.counters.bytes_acked,
            bytes_received: tcb.counters.bytes_received,
            zc_done: tcb.zc_done,
            at: now,
        };
        // Still queued: merge. (`seq - head` is its place while it is at or after the head;
        // a connection's number is checked against the event's id.)
        let at = r.seq.wrapping_sub(self.head) as usize;
        if at < self.q.len() && self.q[at].conn == conn {
            if let Some(e) = self.q.get_mut(at) {
                *e = Event {
                    what: e.what | ev.what,
                    ..ev
                };
                return;
            }
        }
        r.seq = self.head.wrapping_add(self.q.len() as u32);
        self.q.push_back(ev);
    }

    /// Moves up to `out.len()` events into `out`, oldest first; returns how many.
    pub(crate) fn take(&mut self, out: &mut [Event]) -> usize {
        let n = out.len().min(self.q.len());
        for (o, e) in out.iter_mut().zip(self.q.drain(..n)) {
            *o = e;
        }
        self.head = self.head.wrapping_add(n as u32);
        n
    }

    /// Heap bytes of the queue.
    pub(crate) fn memory(&self) -> usize {
        self.q.capacity() * std::mem::size_of::<Event>()
    }

    /// Events waiting.
    pub(crate) fn len(&self) -> usize {
        self.q.len()
    }
}

/// The bits for a change from state `from` to `to`.
fn state_bits(from: State, to: State, error: Option<TcpError>) -> u16 {
    let mut b = STATE;
    if from == State::SynSent && to != State::Closed {
        b |= CONNECTED;
    }
    // Once: TIME-WAIT's end (→ CLOSED) is not a second close.
    if matches!(to, State::Closed | State::TimeWait) && from != State::TimeWait {
        b |= match error {
            Some(e) if e != TcpError::Aborted => ERROR,
            _ => CLOSED,
        };
    }
    b
}
