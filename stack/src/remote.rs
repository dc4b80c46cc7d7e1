//! A stack's cross-thread handle. A stack belongs to one lcore and takes no lock, so other
//! threads (a trading strategy, a storage engine's I/O threads) reach it through two bounded
//! lock-free queues: requests in (connect, send, shutdown, close) and replies out (each
//! connect's id, each send's buffer once the stack has taken all of it, and the stack's
//! events). The lcore calls [`RemotePort::run`] after each `poll`; the app thread holds the
//! [`RemoteHandle`]. Buffers travel with their messages and come back, so neither side
//! allocates per message once warm, and a full queue hands the request back (backpressure)
//! or holds the reply (never lost).
//!
//! Threading: one thread at a time uses a `RemoteHandle` (it is `Send`, not `Clone`: a
//! single producer of requests and single consumer of replies); the stack's own thread runs
//! the `RemotePort`. Calls on the stack itself stay on its thread.
use crate::event::Event;
use crate::socket::{ConnectError, IoError};
use crate::stack::Stack;
use crate::tcp::ConnId;
use crossbeam::queue::ArrayQueue;
use linerate_dpdk::Device;
use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::sync::Arc;

/// What an app thread asks of the stack.
#[derive(Debug)]
pub enum Request {
    /// Open a connection to `dst` from an ephemeral port; the reply carries `tag` back.
    Connect {
        /// The destination.
        dst: SocketAddrV4,
        /// The app's name for this connect, returned in [`Reply::Connected`].
        tag: u64,
    },
    /// Queue all of `buf` on `conn` (copied into the send queue as room comes; the buffer
    /// returns in [`Reply::Sent`]). A connection's sends, shutdown and close apply in order.
    Send {
        /// The connection.
        conn: ConnId,
        /// The bytes.
        buf: Vec<u8>,
    },
    /// FIN after everything sent before it.
    Shutdown(ConnId),
    /// Release the connection after everything sent before it.
    Close(ConnId),
}

/// What the stack tells the app thread.
#[derive(Debug)]
pub enum Reply {
    /// The outcome of [`Request::Connect`] `tag`.
    Connected {
        /// The request's tag.
        tag: u64,
        /// The connection's id, or why `connect` refused.
        result: Result<ConnId, ConnectError>,
    },
    /// A send is done with its buffer: every byte is in the send queue (`error` is `None`),
    /// or the connection refused the rest (`error` says why; the bytes before it went).
    Sent {
        /// The connection.
        conn: ConnId,
        /// The buffer, the app's again.
        buf: Vec<u8>,
        /// Bytes of `buf` the connection took.
        taken: usize,
        /// Why the rest was refused, if it was.
        error: Option<IoError>,
    },
    /// A shutdown or close the stack refused.
    Failed {
        /// The connection.
        conn: ConnId,
        /// Why.
        error: IoError,
    },
    /// One of the stack's events ([`Stack::events`]).
    Event(Event),
}

/// The app thread's end.
pub struct RemoteHandle {
    requests: Arc<ArrayQueue<Request>>,
    replies: Arc<ArrayQueue<Reply>>,
}

/// The stack thread's end.
pub struct RemotePort {
    requests: Arc<ArrayQueue<Request>>,
    replies: Arc<ArrayQueue<Reply>>,
    /// Connection requests not done yet, in arrival order.
    ops: VecDeque<Op>,
    /// Replies that found the queue full, oldest first: they go before any new one.
    held: VecDeque<Reply>,
    /// Connections whose earlier request waits for send space in this run.
    blocked: Vec<ConnId>,
    evs: Vec<Event>,
}

/// A request on one connection, with a send's progress.
#[derive(Debug)]
enum Op {
    Send {
        conn: ConnId,
        buf: Vec<u8>,
        off: usize,
    },
    Shutdown(ConnId),
    Close(ConnId),
}

impl Op {
    fn conn(&self) -> ConnId {
        match self {
            Op::Send { conn, .. } | Op::Shutdown(conn) | Op::Close(conn) => *conn,
        }
    }
}

/// A handle and its port, each queue holding up to `depth` messages (at least 1).
pub fn remote(depth: usize) -> (RemoteHandle, RemotePort) {
    let requests = Arc::new(ArrayQueue::new(depth.max(1)));
    let replies = Arc::new(ArrayQueue::new(depth.max(1)));
    (
        RemoteHandle {
            requests: requests.clone(),
            replies: replies.clone(),
        },
        RemotePort {
            requests,
            replies,
            ops: VecDeque::new(),
            held: VecDeque::new(),
            blocked: Vec::new(),
            evs: vec![Event::EMPTY; 64],
        },
    )
}

impl RemoteHandle {
    /// Queues `r` for the stack; hands it back when the queue is full (the stack's thread
    /// has not caught up: take replies, then try again).
    pub fn submit(&self, r: Request) -> Result<(), Request> {
        self.requests.push(r)
    }

    /// [`Request::Connect`].
    pub fn connect(&self, dst: SocketAddrV4, tag: u64) -> Result<(), Request> {
        self.submit(Request::Connect { dst, tag })
    }

    /// [`Request::Send`].
    pub fn send(&self, conn: ConnId, buf: Vec<u8>) -> Result<(), Request> {
        self.submit(Request::Send { conn, buf })
    }

    /// The next reply, if any.
    pub fn take(&self) -> Option<Reply> {
        self.replies.pop()
    }
}

impl RemotePort {
    /// Applies the requests that came in, moves on the sends that waited for room, and
    /// forwards the stack's events: call it after each `poll`. The events go to the app
    /// thread, so the stack's thread does not take them itself.
    pub fn run<D: Device>(&mut self, stack: &mut Stack<D>) {
        while let Some(r) = self.held.pop_front() {
            if let Err(r) = self.replies.push(r) {
                self.held.push_front(r);
                break;
            }
        }
        while let Some(r) = self.requests.pop() {
            match r {
                Request::Connect { dst, tag } => {
                    let result = stack.connect(dst, None);
                    self.reply(Reply::Connected { tag, result });
                }
                Request::Send { conn, buf } => self.ops.push_back(Op::Send { conn, buf, off: 0 }),
                Request::Shutdown(conn) => self.ops.push_back(Op::Shutdown(conn)),
                Request::Close(conn) => self.ops.push_back(Op::Close(conn)),
            }
        }
        self.apply(stack);
        loop {
            let n = stack.events(&mut self.evs);
            for i in 0..n {
                let e = self.evs[i];
                self.reply(Reply::Event(e));
            }
            if n < self.evs.len() {
                break;
            }
        }
    }

    /// Requests not done yet (sends waiting for room included).
    pub fn pending(&self) -> usize {
        self.ops.len()
    }

    /// Runs each connection's requests in order until one must wait for send space; the
    /// other connections' go on.
    fn apply<D: Device>(&mut self, stack: &mut Stack<D>) {
        self.blocked.clear();
        let mut i = 0;
        while i < self.ops.len() {
            let conn = self.ops[i].conn();
            if self.blocked.contains(&conn) {
                i += 1;
                continue;
            }
            let (done, error) = match &mut self.ops[i] {
                Op::Send { buf, off, .. } => match stack.send(conn, &buf[*off..]) {
                    Ok(n) => {
                        *off += n;
                        (*off == buf.len(), None)
                    }
                    Err(IoError::WouldBlock) => (false, None),
                    Err(e) => (true, Some(e)),
                },
                Op::Shutdown(_) => (true, stack.shutdown(conn).err()),
                Op::Close(_) => (true, stack.close(conn).err()),
            };
            if !done {
                self.blocked.push(conn);
                i += 1;
                continue;
            }
            let reply = match self.ops.remove(i) {
                Some(Op::Send { buf, off, .. }) => Reply::Sent {
                    conn,
                    buf,
                    taken: off,
                    error,
                },
                _ => match error {
                    Some(error) => Reply::Failed { conn, error },
                    None => continue,
                },
            };
            self.reply(reply);
        }
    }

    /// Sends `r` to the app thread, or holds it while the queue is full.
    fn reply(&mut self, r: Reply) {
        if !self.held.is_empty() {
            self.held.push_back(r);
        } else if let Err(r) = self.replies.push(r) {
            self.held.push_back(r);
        }
    }
}
