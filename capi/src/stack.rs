//! `lr_stack`: one stack on one queue pair, and the calls on its connections.
use crate::event::{expand, hand_out, lr_event};
use crate::runtime::lr_runtime;
use crate::{errno, guard, put_err, raw_id, str_arg};
use linerate::dpdk::{Eal, Mbuf, Offloads};
use linerate::event::Event;
use linerate::peer::AckPeer;
use linerate::remote::RemotePort;
use linerate::steer::{MeshPort, PortSplit, Reta, RssSteering, Steered, Toeplitz};
use linerate::{ConnId, Device, DpdkDevice, IoError, Ipv4Cidr, MacAddr};
use linerate::{Stack, StackConfig, State, TscClock};
use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ptr;
use std::sync::{Arc, Mutex};

/// A stack on one queue pair of the runtime's port, with its clock and the events not yet
/// handed out.
pub struct lr_stack {
    pub(crate) stack: Stack<Nic>,
    /// For the zero-copy regions it makes (`lr_region_new`).
    pub(crate) eal: Eal,
    clock: TscClock,
    /// `Stack::events`' buffer.
    evs: Vec<Event>,
    /// Events a full `lr_poll` buffer left over, handed out first next time.
    pending: VecDeque<lr_event>,
    /// The port of the cross-thread handle, once `lr_remote_new` made one: `lr_poll` runs
    /// it, and the events go to the handle.
    pub(crate) remote: Option<RemotePort>,
    /// Where this stack's end of the runtime's mesh goes back when it is freed.
    mesh_home: Arc<Mutex<Vec<Option<MeshPort>>>>,
}

/// A stack on queue pair `queue` of `rt`'s port, at `ip_cidr` ("198.18.0.1/24") with
/// `gateway` as default route (NULL: none). With several queue pairs, each stack takes its
/// slice of the ephemeral ports and picks ports whose replies the NIC's RSS sends to its
/// queue. Connections send with TCP_NODELAY: a message of up to one MSS leaves inside
/// `lr_send`. Call it on the thread that will poll the stack. NULL on failure, with a reason
/// in `err`.
///
/// # Safety
/// `rt` is NULL or a live runtime; the strings are NULL or NUL-terminated; `err` is NULL
/// or `errlen` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn lr_stack_new(
    rt: *mut lr_runtime,
    queue: u16,
    ip_cidr: *const c_char,
    gateway: *const c_char,
    err: *mut c_char,
    errlen: usize,
) -> *mut lr_stack {
    guard(ptr::null_mut(), || {
        // SAFETY: a non-NULL `rt` came from lr_runtime_new and is not being freed (contract).
        let r = match unsafe { rt.as_ref() } {
            // SAFETY: the caller's contract for the strings.
            Some(rt) => unsafe { new(rt, queue, ip_cidr, gateway, None) },
            None => Err("rt: NULL".into()),
        };
        match r {
            Ok(s) => Box::into_raw(Box::new(s)),
            Err(msg) => {
                // SAFETY: `err` is NULL or `errlen` writable bytes (the call's contract).
                unsafe { put_err(err, errlen, &msg) };
                ptr::null_mut()
            }
        }
    })
}

/// `lr_stack_new` with the port's other end played by linerate's in-process ACK peer at
/// `peer_ip` (it answers ARP, handshakes, data with cumulative ACKs, and FINs): on net_null
/// this measures the stack's own cost per send, as `linerate send --ack-peer` does. NULL on
/// failure, with a reason in `err`.
///
/// # Safety
/// As `lr_stack_new`; `peer_ip` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn lr_stack_new_ack_peer(
    rt: *mut lr_runtime,
    queue: u16,
    ip_cidr: *const c_char,
    peer_ip: *const c_char,
    err: *mut c_char,
    errlen: usize,
) -> *mut lr_stack {
    guard(ptr::null_mut(), || {
        // SAFETY: the caller's contract for `peer_ip` (NULL or NUL-terminated).
        let peer = unsafe { str_arg(peer_ip) }.map(|p| p.parse::<Ipv4Addr>());
        // SAFETY: a non-NULL `rt` came from lr_runtime_new and is not being freed (contract).
        let r = match (unsafe { rt.as_ref() }, peer) {
            (None, _) => Err("rt: NULL".into()),
            (_, None) => Err("peer_ip: NULL or not UTF-8".into()),
            (_, Some(Err(_))) => Err("peer_ip: not an IPv4 address (want a.b.c.d)".into()),
            (Some(rt), Some(Ok(ip))) => {
                // SAFETY: the caller's contract for `ip_cidr`.
                unsafe { new(rt, queue, ip_cidr, ptr::null(), Some(ip)) }
            }
        };
        match r {
            Ok(s) => Box::into_raw(Box::new(s)),
            Err(msg) => {
                // SAFETY: the caller's contract for `err` and `errlen`.
                unsafe { put_err(err, errlen, &msg) };
                ptr::null_mut()
            }
        }
    })
}

/// What a C stack runs on: a queue pair of the port, or one with the in-process ACK peer
/// behind it (`lr_stack_new_ack_peer`).
pub enum Nic {
    /// A queue pair of the runtime's port.
    Port(DpdkDevice),
    /// The same with the ACK peer answering behind it.
    AckPeer(Box<AckPeer<DpdkDevice>>),
    /// One of several queue pairs, with frames for the other stacks passed on to them.
    Steered(Box<Steered<DpdkDevice>>),
}

impl lr_stack {
    /// The Rust stack behind a C handle, for apps that mix Rust and C on one stack (and
    /// for measuring what the C ABI adds to a call).
    pub fn stack_mut(&mut self) -> &mut Stack<Nic> {
        &mut self.stack
    }
}

impl Device for Nic {
    #[inline]
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        match self {
            Nic::Port(d) => d.rx_burst(out),
            Nic::AckPeer(d) => d.rx_burst(out),
            Nic::Steered(d) => d.rx_burst(out),
        }
    }
    #[inline]
    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        match self {
            Nic::Port(d) => d.tx_burst(pkts),
            Nic::AckPeer(d) => d.tx_burst(pkts),
            Nic::Steered(d) => d.tx_burst(pkts),
        }
    }
    fn mac(&self) -> MacAddr {
        match self {
            Nic::Port(d) => d.mac(),
            Nic::AckPeer(d) => d.mac(),
            Nic::Steered(d) => d.mac(),
        }
    }
    fn offloads(&self) -> Offloads {
        match self {
            Nic::Port(d) => d.offloads(),
            Nic::AckPeer(d) => d.offloads(),
            Nic::Steered(d) => d.offloads(),
        }
    }
    fn tx_done_cleanup(&mut self) {
        match self {
            Nic::Port(d) => d.tx_done_cleanup(),
            Nic::AckPeer(d) => d.tx_done_cleanup(),
            Nic::Steered(d) => d.tx_done_cleanup(),
        }
    }
}

/// # Safety
/// The strings are NULL or NUL-terminated.
unsafe fn new(
    rt: &lr_runtime,
    queue: u16,
    ip_cidr: *const c_char,
    gateway: *const c_char,
    peer: Option<Ipv4Addr>,
) -> Result<lr_stack, String> {
    // SAFETY: the string is NULL or NUL-terminated (the call's contract).
    let ip_s = unsafe { str_arg(ip_cidr) }.ok_or("ip_cidr: NULL or not UTF-8")?;
    let ip: Ipv4Cidr = ip_s
        .parse()
        .map_err(|e| format!("ip_cidr {ip_s:?}: {e} (want a.b.c.d/len)"))?;
    let gateway = match gateway.is_null() {
        true => None,
        false => {
            // SAFETY: the string is NULL or NUL-terminated (the call's contract).
            let g = unsafe { str_arg(gateway) }.ok_or("gateway: not UTF-8")?;
            Some(
                g.parse::<Ipv4Addr>()
                    .map_err(|_| format!("gateway {g:?}: not an IPv4 address"))?,
            )
        }
    };
    let mut cfg = StackConfig::new(ip);
    cfg.gateway = gateway;
    // TCP_NODELAY, as latency-bound C callers set it: a message leaves inside lr_send.
    cfg.tcp.nodelay = true;
    let queues = rt.port.rx_queues() as usize;
    let mut split = None;
    if queues > 1 {
        let sp = PortSplit::new(cfg.ephemeral, queues).ok_or("too many queues for the ports")?;
        cfg.ephemeral = sp.range_of(queue as usize);
        split = Some(sp);
        if let Some(info) = rt.port.rss() {
            if let (Some(t), Some(reta)) = (
                Toeplitz::new(&info.key),
                Reta::from_entries(info.reta.clone()),
            ) {
                cfg.rss = Some(RssSteering {
                    toeplitz: Arc::new(t),
                    reta,
                    queue,
                });
            }
        }
    }
    // Mempool caches are per lcore: give this thread one if EAL did not start it.
    rt.eal.register_thread().map_err(|e| e.to_string())?;
    let q = rt.port.queue(queue).map_err(|e| e.to_string())?;
    let dev = DpdkDevice::new(q).map_err(|e| e.to_string())?;
    let dev = match (peer, split) {
        (Some(peer_ip), _) => Nic::AckPeer(Box::new(AckPeer::new(
            dev,
            rt.pool.clone(),
            ip.addr,
            peer_ip,
        ))),
        (None, Some(split)) => {
            // A frame of another stack's connection (a NIC without RSS, or with a hash we
            // cannot steer by) goes to its owner through the mesh.
            let port = rt
                .mesh
                .lock()
                .ok()
                .and_then(|mut m| m.get_mut(queue as usize)?.take());
            let port = port.ok_or_else(|| format!("queue {queue} has a stack already"))?;
            let mut d = Steered::new(dev, port, split);
            if let Some(rss) = cfg.rss.clone() {
                d = d.check_rss(rss);
            }
            Nic::Steered(Box::new(d))
        }
        (None, None) => Nic::Port(dev),
    };
    let clock = TscClock::new();
    Ok(lr_stack {
        stack: Stack::new(dev, rt.pool.clone(), cfg, clock.now()),
        eal: rt.eal.clone(),
        clock,
        evs: vec![Event::EMPTY; 256],
        pending: VecDeque::new(),
        remote: None,
        mesh_home: rt.mesh.clone(),
    })
}

/// Frees a stack (NULL is allowed): its connections end without a FIN and its queue pair
/// is released.
///
/// # Safety
/// `s` is NULL or from `lr_stack_new`, not in use on another thread, and not used again.
#[no_mangle]
pub unsafe extern "C" fn lr_stack_free(s: *mut lr_stack) {
    guard((), || {
        if !s.is_null() {
            // SAFETY: `s` came from lr_stack_new and is freed once (the caller's contract).
            let s = unsafe { Box::from_raw(s) };
            let home = s.mesh_home.clone();
            // Its end of the mesh goes back, for a new stack on the queue.
            if let Nic::Steered(d) = s.stack.into_device() {
                let (_, port) = d.into_parts();
                if let Ok(mut m) = home.lock() {
                    if let Some(slot) = m.get_mut(port.worker()) {
                        *slot = Some(port);
                    }
                }
            }
        }
    })
}

/// The stack behind `s`, if not NULL.
///
/// # Safety
/// `s` is NULL or from `lr_stack_new`, not freed, and used by no other thread meanwhile.
pub(crate) unsafe fn stack<'a>(s: *mut lr_stack) -> Option<&'a mut lr_stack> {
    // SAFETY: a non-NULL `s` came from lr_stack_new, is not freed, and only the calling
    // thread uses it now (the contract of every lr_stack call).
    unsafe { s.as_mut() }
}

/// The connection `conn` names on `s`, if it is live (a stale or made-up id is not).
fn conn_of(s: &lr_stack, conn: i64) -> Option<ConnId> {
    raw_id(conn).filter(|&id| s.stack.state(id).is_some())
}

/// Opens a connection to `dst_ip_port` ("198.19.0.2:5201") from an ephemeral port. Returns
/// its id (>= 0), or -EINVAL (bad arguments), -ENETUNREACH (no route), -EADDRNOTAVAIL (no
/// free port), -EMFILE (connection limit), -ENOBUFS (neighbour table full). LR_EV_CONNECTED
/// or LR_EV_ERROR follows from lr_poll.
///
/// # Safety
/// `s` is NULL or a live stack no other thread is using; `dst_ip_port` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn lr_connect(s: *mut lr_stack, dst_ip_port: *const c_char) -> i64 {
    guard(-libc::EIO as i64, || {
        // SAFETY: `s` is NULL or a live stack only this thread uses (the call's contract).
        let Some(s) = (unsafe { stack(s) }) else {
            return -libc::EINVAL as i64;
        };
        // SAFETY: the string is NULL or NUL-terminated (the call's contract).
        let Some(dst) =
            unsafe { str_arg(dst_ip_port) }.and_then(|d| d.parse::<SocketAddrV4>().ok())
        else {
            return -libc::EINVAL as i64;
        };
        match s.stack.connect(dst, None) {
            Ok(id) => id.to_raw() as i64,
            Err(e) => -errno::connect(e) as i64,
        }
    })
}

/// Queues up to `len` bytes of `buf` (copied) on `conn`. Returns the bytes taken (may be
/// fewer than `len`; LR_EV_WRITABLE says when to go on), -EAGAIN when the send buffer or the
/// pool is full, -ENOTCONN before the handshake finished, -EPIPE after lr_shutdown, the
/// connection's errno once it failed, -EINVAL for a bad pointer or id.
///
/// # Safety
/// `s` is NULL or a live stack no other thread is using; `buf` is NULL or `len` readable
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn lr_send(
    s: *mut lr_stack,
    conn: i64,
    buf: *const c_void,
    len: usize,
) -> i64 {
    guard(-libc::EIO as i64, || {
        // SAFETY: `s` is NULL or a live stack only this thread uses (the call's contract).
        let Some(s) = (unsafe { stack(s) }) else {
            return -libc::EINVAL as i64;
        };
        if (buf.is_null() && len > 0) || len > isize::MAX as usize {
            return -libc::EINVAL as i64;
        }
        let Some(id) = raw_id(conn) else {
            return -libc::EINVAL as i64;
        };
        let data: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: `buf` is not NULL and the caller gives `len` readable bytes there for
            // the call (the bytes are copied before it returns).
            unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) }
        };
        match s.stack.send(id, data) {
            Ok(n) => n as i64,
            Err(e) => -send_errno(s, id, e) as i64,
        }
    })
}

/// The errno of a refused send: the stack says "would block" both before the handshake
/// (ENOTCONN for C) and with a full buffer (EAGAIN), so only a refusal looks at the state,
/// not every send.
pub(crate) fn send_errno(s: &lr_stack, id: ConnId, e: IoError) -> i32 {
    match (e, s.stack.state(id)) {
        (IoError::WouldBlock, Some(State::SynSent)) => libc::ENOTCONN,
        (e, _) => errno::io(e),
    }
}

/// Runs RX, timers and TX once, then writes up to `max` events into `ev`; returns how many
/// (events that did not fit come first next time), or -EINVAL. With an `lr_remote`, it also
/// applies the handle's requests, and the events go to the handle instead.
///
/// # Safety
/// `s` is NULL or a live stack no other thread is using; `ev` is NULL or room for `max`
/// events.
#[no_mangle]
pub unsafe extern "C" fn lr_poll(s: *mut lr_stack, ev: *mut lr_event, max: c_int) -> c_int {
    guard(-libc::EIO, || {
        // SAFETY: `s` is NULL or a live stack only this thread uses (the call's contract).
        let Some(s) = (unsafe { stack(s) }) else {
            return -libc::EINVAL;
        };
        if max < 0 || (ev.is_null() && max > 0) {
            return -libc::EINVAL;
        }
        s.stack.poll(s.clock.now());
        if let Some(port) = s.remote.as_mut() {
            port.run(&mut s.stack);
        }
        loop {
            let n = s.stack.events(&mut s.evs);
            for e in &s.evs[..n] {
                expand(e, &mut s.pending);
            }
            if n < s.evs.len() {
                break;
            }
        }
        // SAFETY: `ev` has room for `max` events, checked not NULL above (the call's contract).
        unsafe { hand_out(&mut s.pending, ev, max) }
    })
}

/// FIN after everything queued (shutdown(SHUT_WR)); LR_EV_CLOSED (error 0) follows once
/// both sides closed. 0, or -EINVAL for a bad id.
///
/// # Safety
/// `s` is NULL or a live stack no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn lr_shutdown(s: *mut lr_stack, conn: i64) -> c_int {
    on_conn(s, conn, |st, id| st.shutdown(id))
}

/// Releases the id: a FIN after queued data as with lr_shutdown (an RST if received data
/// was left unread), and the connection ends on its own; its later events still come. 0,
/// or -EINVAL for a bad id.
///
/// # Safety
/// `s` is NULL or a live stack no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn lr_close(s: *mut lr_stack, conn: i64) -> c_int {
    on_conn(s, conn, |st, id| st.close(id))
}

/// `f` on connection `conn` of `s`: 0, its error as -errno, or -EINVAL for a NULL stack or
/// a bad id.
fn on_conn(
    s: *mut lr_stack,
    conn: i64,
    f: impl FnOnce(&mut Stack<Nic>, ConnId) -> Result<(), IoError>,
) -> c_int {
    guard(-libc::EIO, || {
        // SAFETY: `s` is NULL or a live stack only this thread uses (the call's contract).
        let Some(s) = (unsafe { stack(s) }) else {
            return -libc::EINVAL;
        };
        let Some(id) = conn_of(s, conn) else {
            return -libc::EINVAL;
        };
        match f(&mut s.stack, id) {
            Ok(()) => 0,
            Err(e) => -errno::io(e),
        }
    })
}
