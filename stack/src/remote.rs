//! A stack's cross-thread handle. A stack belongs to one lcore and takes no lock, so other
//! threads (a trading strategy, a storage engine's I/O threads) reach it through two bounded
//! lock-free single-producer single-consumer rings (`linerate_dpdk::spsc`: a hand-off moves
//! one slot between the cores, nothing else): requests in (connect, send, shutdown, close) and replies out (each
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
use linerate_dpdk::spsc::{spsc, Consumer, Producer};
use linerate_dpdk::Device;
use std::collections::VecDeque;
use std::net::SocketAddrV4;

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
    /// Queue a small message carried in the request itself: no buffer to fill, send and
    /// take back, and the stack's thread reads it from the queue slot it already has, not
    /// from another cache line the app thread wrote (the trading case's orders). Nothing
    /// comes back unless the connection refuses it ([`Reply::Failed`]).
    Message {
        /// The connection.
        conn: ConnId,
        /// The bytes.
        msg: Message,
    },
    /// FIN after everything sent before it.
    Shutdown(ConnId),
    /// Release the connection after everything sent before it.
    Close(ConnId),
}

/// A message of up to [`Message::MAX`] bytes, carried inline in a [`Request`] (which, with
/// it, fills two cache lines of the queue).
#[derive(Clone, Copy)]
pub struct Message {
    len: u8,
    data: [u8; Message::MAX],
}

impl Message {
    /// Most bytes a message carries.
    pub const MAX: usize = 110;

    /// `bytes` as a message; `None` when longer than [`Message::MAX`].
    #[inline]
    pub fn new(bytes: &[u8]) -> Option<Message> {
        let mut m = Message {
            len: u8::try_from(bytes.len())
                .ok()
                .filter(|&n| n as usize <= Self::MAX)?,
            data: [0; Self::MAX],
        };
        m.data[..bytes.len()].copy_from_slice(bytes);
        Some(m)
    }

    /// The message's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.data[..self.len as usize]
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Message({} bytes)", self.len)
    }
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
    /// A message, shutdown or close the stack refused (a message's bytes before the refusal
    /// went).
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
    requests: Producer<Request>,
    replies: Consumer<Reply>,
}

/// The stack thread's end: serves one handle ([`remote`]) or several ([`remotes`], one per
/// app thread).
pub struct RemotePort {
    chans: Vec<Chan>,
    /// Requests on connections not done yet, in arrival order, each with its handle.
    ops: VecDeque<(usize, Op)>,
    /// Which handle opened each connection slot (its events go there); others go to the
    /// first handle.
    owner: Vec<u16>,
    /// Connections whose earlier request waits for send space in this run.
    blocked: Vec<ConnId>,
    evs: Vec<Event>,
}

/// The port's end of one handle's two rings.
struct Chan {
    requests: Consumer<Request>,
    replies: Producer<Reply>,
    /// Replies that found the ring full, oldest first: they go before any new one.
    held: VecDeque<Reply>,
    /// This handle's requests taken off its ring and not done yet: at most a ring's worth,
    /// so that a stack that cannot keep up leaves the ring full (the app's backpressure)
    /// instead of queueing without bound here.
    queued: usize,
    cap: usize,
}

/// A request on one connection, with a send's progress.
#[derive(Debug)]
enum Op {
    Send {
        conn: ConnId,
        buf: Vec<u8>,
        off: usize,
    },
    Message {
        conn: ConnId,
        msg: Message,
        off: usize,
    },
    Shutdown(ConnId),
    Close(ConnId),
}

impl Op {
    fn conn(&self) -> ConnId {
        match self {
            Op::Send { conn, .. } | Op::Message { conn, .. } => *conn,
            Op::Shutdown(conn) | Op::Close(conn) => *conn,
        }
    }
}

/// A handle and its port, each ring holding at least `depth` messages (the next power of
/// two, at least 2).
pub fn remote(depth: usize) -> (RemoteHandle, RemotePort) {
    let (mut handles, port) = remotes(1, depth);
    (handles.remove(0), port)
}

/// `n` handles (at least 1), one per app thread, and the one port the stack's thread runs
/// for all of them. A handle's replies come back to it; a connection's events go to the
/// handle that opened it.
pub fn remotes(n: usize, depth: usize) -> (Vec<RemoteHandle>, RemotePort) {
    let (mut handles, mut chans) = (Vec::new(), Vec::new());
    for _ in 0..n.clamp(1, u16::MAX as usize) {
        let (req_in, req_out) = spsc(depth);
        let (rep_in, rep_out) = spsc(depth);
        handles.push(RemoteHandle {
            requests: req_in,
            replies: rep_out,
        });
        chans.push(Chan {
            requests: req_out,
            replies: rep_in,
            held: VecDeque::new(),
            queued: 0,
            cap: depth.max(2).next_power_of_two(),
        });
    }
    let port = RemotePort {
        chans,
        ops: VecDeque::new(),
        owner: Vec::new(),
        blocked: Vec::new(),
        evs: vec![Event::EMPTY; 64],
    };
    (handles, port)
}

impl RemoteHandle {
    /// Queues `r` for the stack; hands it back when the queue is full (the stack's thread
    /// has not caught up: take replies, then try again).
    pub fn submit(&mut self, r: Request) -> Result<(), Request> {
        self.requests.push(r)
    }

    /// [`Request::Connect`].
    pub fn connect(&mut self, dst: SocketAddrV4, tag: u64) -> Result<(), Request> {
        self.submit(Request::Connect { dst, tag })
    }

    /// [`Request::Send`].
    pub fn send(&mut self, conn: ConnId, buf: Vec<u8>) -> Result<(), Request> {
        self.submit(Request::Send { conn, buf })
    }

    /// [`Request::Message`]: `Err` with the request when the queue is full; `bytes` must be
    /// at most [`Message::MAX`] long (else `Err(None)`).
    pub fn send_message(&mut self, conn: ConnId, bytes: &[u8]) -> Result<(), Option<Request>> {
        let msg = Message::new(bytes).ok_or(None)?;
        self.submit(Request::Message { conn, msg }).map_err(Some)
    }

    /// The next reply, if any.
    pub fn take(&mut self) -> Option<Reply> {
        self.replies.pop()
    }
}

impl RemotePort {
    /// Applies the requests that came in, moves on the sends that waited for room, and
    /// forwards the stack's events: call it after each `poll`. The events go to the app
    /// threads, so the stack's thread does not take them itself.
    pub fn run<D: Device>(&mut self, stack: &mut Stack<D>) {
        for c in &mut self.chans {
            while let Some(r) = c.held.pop_front() {
                if let Err(r) = c.replies.push(r) {
                    c.held.push_front(r);
                    break;
                }
            }
        }
        for h in 0..self.chans.len() {
            while self.chans[h].queued < self.chans[h].cap {
                let Some(r) = self.chans[h].requests.pop() else {
                    break;
                };
                let op = match r {
                    Request::Connect { dst, tag } => {
                        let result = stack.connect(dst, None);
                        if let Ok(id) = result {
                            self.own(id, h);
                        }
                        self.reply(h, Reply::Connected { tag, result });
                        continue;
                    }
                    Request::Send { conn, buf } => Op::Send { conn, buf, off: 0 },
                    Request::Message { conn, msg } => Op::Message { conn, msg, off: 0 },
                    Request::Shutdown(conn) => Op::Shutdown(conn),
                    Request::Close(conn) => Op::Close(conn),
                };
                self.chans[h].queued += 1;
                self.ops.push_back((h, op));
            }
        }
        self.apply(stack);
        loop {
            let n = stack.events(&mut self.evs);
            for i in 0..n {
                let e = self.evs[i];
                let h = self.owner.get(e.conn.index()).copied().unwrap_or(0) as usize;
                self.reply(h, Reply::Event(e));
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

    /// Notes that handle `h` opened connection `id`.
    fn own(&mut self, id: ConnId, h: usize) {
        let i = id.index();
        if self.owner.len() <= i {
            self.owner.resize(i + 1, 0);
        }
        self.owner[i] = h as u16;
    }

    /// Runs each connection's requests in order until one must wait for send space; the
    /// other connections' go on.
    fn apply<D: Device>(&mut self, stack: &mut Stack<D>) {
        self.blocked.clear();
        let mut i = 0;
        while i < self.ops.len() {
            let conn = self.ops[i].1.conn();
            if self.blocked.contains(&conn) {
                i += 1;
                continue;
            }
            let (done, error) = match &mut self.ops[i].1 {
                Op::Send { buf, off, .. } => sent(stack.send(conn, &buf[*off..]), off, buf.len()),
                Op::Message { msg, off, .. } => {
                    let b = msg.as_bytes();
                    sent(stack.send(conn, &b[*off..]), off, b.len())
                }
                Op::Shutdown(_) => (true, stack.shutdown(conn).err()),
                Op::Close(_) => (true, stack.close(conn).err()),
            };
            if !done {
                self.blocked.push(conn);
                i += 1;
                continue;
            }
            let Some((h, op)) = self.ops.remove(i) else {
                break;
            };
            if let Some(c) = self.chans.get_mut(h) {
                c.queued -= 1;
            }
            let reply = match op {
                Op::Send { buf, off, .. } => Reply::Sent {
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
            self.reply(h, reply);
        }
    }

    /// Sends `r` to handle `h`'s thread, or holds it while its ring is full.
    fn reply(&mut self, h: usize, r: Reply) {
        let Some(c) = self.chans.get_mut(h) else {
            return;
        };
        if !c.held.is_empty() {
            c.held.push_back(r);
        } else if let Err(r) = c.replies.push(r) {
            c.held.push_back(r);
        }
    }
}

/// A send's progress from `send`'s result: (done, why the rest was refused).
fn sent(r: Result<usize, IoError>, off: &mut usize, len: usize) -> (bool, Option<IoError>) {
    match r {
        Ok(n) => {
            *off += n;
            (*off == len, None)
        }
        Err(IoError::WouldBlock) => (false, None),
        Err(e) => (true, Some(e)),
    }
}

// A request with its message fills two cache lines of the queue, its slot's stamp included.
const _: () = assert!(std::mem::size_of::<Request>() + 8 <= 128);
