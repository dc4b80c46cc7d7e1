//! lr-impair daemon: binds nfnetlink queues (fwd and rev), decides per packet with a seeded
//! engine per direction, holds delayed packets on a timer heap and issues their verdicts
//! later (out of order), injects duplicates through a raw IPPROTO_RAW socket (locally sent,
//! so they take the OUTPUT path and are never queued again), and writes counters as JSON.
//!
//! Usage:
//!   lr-impair --check --spec "<spec>"          validate; print derived facts (key=value)
//!   lr-impair --spec "<spec>" [--stats PATH] [--pidfile PATH] [--fwd-queue N]
//!             [--rev-queue N] [--maxlen N]
//!
//! Queue configuration: NFQNL_COPY_PACKET with the full packet when corrupting or
//! duplicating, else only the first 64 bytes (the length comes from NFQA_CAP_LEN);
//! queue maxlen 16384 by default; NFQA_CFG_F_FAIL_OPEN off (a full queue drops, and the
//! kernel counts it: we report it as kernel_queue_dropped); NFQA_CFG_F_GSO off, so the
//! kernel segments GSO packets and resolves partial checksums before queueing: decisions are
//! per wire packet and a corrupted packet always fails the receiver's checksum.

use lr_impair::engine::{corrupt_packet, Decision, Engine};
use lr_impair::nl::{self, MsgBuf};
use lr_impair::spec::{self, Spec};
use lr_impair::{json_str, parse_proc_queue, Counters};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering as AtOrd};
use std::time::{Duration, Instant};

static TERM: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    TERM.store(true, AtOrd::SeqCst);
}

struct Args {
    spec: String,
    check: bool,
    stats: Option<String>,
    pidfile: Option<String>,
    queues: [u16; 2],
    maxlen: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        spec: String::new(),
        check: false,
        stats: None,
        pidfile: None,
        queues: [0, 1],
        maxlen: 16384,
    };
    let mut it = std::env::args().skip(1);
    let mut have_spec = false;
    while let Some(k) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{k} needs a value"));
        match k.as_str() {
            "--spec" => {
                a.spec = val()?;
                have_spec = true;
            }
            "--check" => a.check = true,
            "--stats" => a.stats = Some(val()?),
            "--pidfile" => a.pidfile = Some(val()?),
            "--fwd-queue" => a.queues[0] = val()?.parse().map_err(|_| "bad --fwd-queue")?,
            "--rev-queue" => a.queues[1] = val()?.parse().map_err(|_| "bad --rev-queue")?,
            "--maxlen" => a.maxlen = val()?.parse().map_err(|_| "bad --maxlen")?,
            "-h" | "--help" => {
                println!(
                    "usage: lr-impair [--check] --spec \"<spec>\" [--stats PATH] [--pidfile PATH] \
                     [--fwd-queue N] [--rev-queue N] [--maxlen N]"
                );
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument '{k}'")),
        }
    }
    if !have_spec {
        return Err("--spec is required".into());
    }
    if a.queues[0] == a.queues[1] {
        return Err("--fwd-queue and --rev-queue must differ".into());
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lr-impair: {e}");
            std::process::exit(2);
        }
    };
    let spec = match spec::parse(&args.spec) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lr-impair: bad spec: {e}");
            std::process::exit(2);
        }
    };
    if args.check {
        println!("needs_queue={}", u8::from(spec.needs_queue()));
        println!("needs_payload={}", u8::from(spec.needs_payload()));
        println!("dir={}", spec.dir);
        println!("expected_loss={}", spec.expected_loss());
        if let Some(r) = spec.rate_bps {
            println!("rate_bps={r}");
            println!("burst_bytes={}", spec.burst_bytes().unwrap());
            println!("limit_bytes={}", spec.effective_limit().unwrap());
        }
        return;
    }
    if let Err(e) = run(&args, &spec) {
        eprintln!("lr-impair: {e}");
        if let Some(p) = &args.pidfile {
            let _ = std::fs::remove_file(p);
        }
        std::process::exit(1);
    }
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", io::Error::last_os_error())
}

fn setsockopt_int(fd: i32, level: i32, opt: i32, val: i32) -> bool {
    // SAFETY: fd is a socket we own; the option value is a valid c_int.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            &val as *const i32 as *const libc::c_void,
            std::mem::size_of::<i32>() as libc::socklen_t,
        ) == 0
    }
}

struct NlSock {
    fd: i32,
    seq: u32,
}

impl NlSock {
    fn open() -> Result<NlSock, String> {
        // SAFETY: plain socket(2) call.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                nl::NETLINK_NETFILTER,
            )
        };
        if fd < 0 {
            return Err(os_err("netlink socket"));
        }
        let big = 64 << 20;
        if !setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, big) {
            setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, big);
        }
        if !setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, 8 << 20) {
            setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, 8 << 20);
        }
        setsockopt_int(fd, libc::SOL_NETLINK, libc::NETLINK_NO_ENOBUFS, 1);
        // SAFETY: sockaddr_nl is plain old data; zeroed is a valid value.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: sa is a valid sockaddr_nl of the given size.
        let r = unsafe {
            libc::bind(
                fd,
                &sa as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if r < 0 {
            return Err(os_err("netlink bind"));
        }
        Ok(NlSock { fd, seq: 1 })
    }

    fn send(&self, buf: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_nl zeroed = the kernel (pid 0); buf is valid for its length.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        let r = unsafe {
            libc::sendto(
                self.fd,
                buf.as_ptr() as *const libc::c_void,
                buf.len(),
                0,
                &sa as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Sends one config request and waits for its ACK; returns the errno on failure.
    fn request(&mut self, build: impl FnOnce(&mut MsgBuf, u32)) -> Result<(), i32> {
        self.seq += 1;
        let seq = self.seq;
        let mut m = MsgBuf::new();
        build(&mut m, seq);
        self.send(&m.buf)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        let mut buf = vec![0u8; 1 << 16];
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, 100) };
            // SAFETY: buf is valid for its length.
            let n = unsafe {
                libc::recv(
                    self.fd,
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n <= 0 {
                continue;
            }
            for m in nl::messages(&buf[..n as usize]).flatten() {
                if m.msg_type == nl::NLMSG_ERROR {
                    if let Ok((err, s)) = nl::parse_error(m.body) {
                        if s == seq {
                            return if err == 0 { Ok(()) } else { Err(-err) };
                        }
                    }
                }
            }
        }
        Err(libc::ETIMEDOUT)
    }
}

impl Drop for NlSock {
    fn drop(&mut self) {
        // SAFETY: we own fd.
        unsafe { libc::close(self.fd) };
    }
}

/// A packet whose verdict is pending on the timer heap.
struct Held {
    deadline: Instant,
    seq: u64,
    queue: u16,
    dir: usize,
    id: u32,
    payload: Option<Vec<u8>>,
    dup: Option<Vec<u8>>,
}

impl PartialEq for Held {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Held {
    // Min-heap on (deadline, arrival order) inside std's max-heap.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.deadline, o.seq, o.dir).cmp(&(self.deadline, self.seq, self.dir))
    }
}

struct State {
    engines: [Engine; 2],
    counters: [Counters; 2],
    next_seq: [u64; 2],
    max_released: [Option<u64>; 2],
    heap: BinaryHeap<Held>,
    out: MsgBuf,
    dups: Vec<(usize, Vec<u8>)>,
    full_copy: bool,
}

impl State {
    fn release(&mut self, h: Held) {
        let c = &mut self.counters[h.dir];
        match self.max_released[h.dir] {
            Some(m) if h.seq < m => c.overtaken += 1,
            _ => self.max_released[h.dir] = Some(h.seq),
        }
        self.out
            .verdict(h.queue, h.id, nl::NF_ACCEPT, h.payload.as_deref());
        if let Some(d) = h.dup {
            self.dups.push((h.dir, d));
        }
    }

    fn on_packet(&mut self, p: &nl::Packet, dir: usize, now: Instant) {
        let seq = self.next_seq[dir];
        self.next_seq[dir] += 1;
        let d: Decision = self.engines[dir].decide();
        let c = &mut self.counters[dir];
        c.seen += 1;
        c.bytes += u64::from(p.len);
        if d.drop {
            c.dropped += 1;
            c.bursts += u64::from(d.burst_start);
            self.out.verdict(p.queue, p.id, nl::NF_DROP, None);
            return;
        }
        let complete = self.full_copy && p.payload.len() as u32 == p.len;
        let mut payload = None;
        if let (Some(w), true) = (d.corrupt, complete) {
            let mut v = p.payload.to_vec();
            if corrupt_packet(&mut v, w) {
                c.corrupted += 1;
                payload = Some(v);
            }
        }
        let dup = (d.dup && complete).then(|| p.payload.to_vec());
        if d.reordered {
            c.reordered += 1;
        }
        let h = Held {
            deadline: now + Duration::from_nanos(d.delay_ns),
            seq,
            queue: p.queue,
            dir,
            id: p.id,
            payload,
            dup,
        };
        if d.delay_ns > 0 {
            c.delayed += 1;
            c.held += 1;
            self.heap.push(h);
        } else {
            self.release(h);
        }
    }

    fn release_due(&mut self, now: Instant, all: bool) {
        while let Some(top) = self.heap.peek() {
            if !all && top.deadline > now {
                break;
            }
            let h = self.heap.pop().unwrap();
            self.counters[h.dir].held -= 1;
            self.release(h);
        }
    }
}

struct RawInjector {
    fd: i32,
}

impl RawInjector {
    fn open() -> Result<RawInjector, String> {
        // SAFETY: plain socket(2) call. IPPROTO_RAW implies IP_HDRINCL.
        let fd = unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::IPPROTO_RAW,
            )
        };
        if fd < 0 {
            return Err(os_err("raw socket for duplicates"));
        }
        Ok(RawInjector { fd })
    }

    fn send(&self, pkt: &[u8]) -> bool {
        if pkt.len() < 20 || pkt[0] >> 4 != 4 {
            return false;
        }
        // SAFETY: sockaddr_in zeroed is valid; pkt is valid for its length.
        let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        sa.sin_family = libc::AF_INET as u16;
        sa.sin_addr.s_addr = u32::from_ne_bytes(pkt[16..20].try_into().unwrap());
        let r = unsafe {
            libc::sendto(
                self.fd,
                pkt.as_ptr() as *const libc::c_void,
                pkt.len(),
                libc::MSG_DONTWAIT,
                &sa as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as u32,
            )
        };
        r == pkt.len() as isize
    }
}

fn write_stats(path: &str, spec_str: &str, st: &State, queues: [u16; 2], extra: &str) {
    let proc = std::fs::read_to_string("/proc/net/netfilter/nfnetlink_queue").unwrap_or_default();
    let mut dirs = String::new();
    for (i, name) in ["fwd", "rev"].iter().enumerate() {
        let k = parse_proc_queue(&proc, queues[i]).unwrap_or_default();
        let mut c = st.counters[i].to_json();
        c.pop();
        if i > 0 {
            dirs.push(',');
        }
        dirs.push_str(&format!(
            "\"{name}\":{c},\"queue\":{},\"kernel_queue_total\":{},\"kernel_queue_dropped\":{},\"kernel_user_dropped\":{}}}",
            queues[i], k.queue_total, k.queue_dropped, k.user_dropped
        ));
    }
    let json = format!(
        "{{\"spec\":{},\"pid\":{},{dirs}{extra}}}",
        json_str(spec_str),
        std::process::id()
    );
    let tmp = format!("{path}.tmp");
    if std::fs::write(&tmp, json).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

const BATCH: usize = 64;
const BUFSZ: usize = 65536 + 4096;

fn run(args: &Args, spec: &Spec) -> Result<(), String> {
    // SAFETY: installing an async-signal-safe handler that only stores an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let mut sock = NlSock::open()?;
    let full_copy = spec.needs_payload();
    let range = if full_copy { 0xffff } else { 64 };
    let active = [spec.dir.fwd(), spec.dir.rev()];
    for (i, &q) in args.queues.iter().enumerate() {
        if !active[i] {
            continue;
        }
        sock.request(|m, s| m.config_cmd(s, q, nl::NFQNL_CFG_CMD_BIND, nl::AF_INET))
            .map_err(|e| {
                if e == libc::EBUSY {
                    format!("queue {q} is bound by another process (another lr-impair running?)")
                } else {
                    format!("bind queue {q}: {}", io::Error::from_raw_os_error(e))
                }
            })?;
        sock.request(|m, s| {
            m.config_params(
                s,
                q,
                &nl::QueueParams {
                    copy_mode: nl::NFQNL_COPY_PACKET,
                    copy_range: range,
                    maxlen: args.maxlen,
                    flags: 0,
                    mask: nl::NFQA_CFG_F_FAIL_OPEN | nl::NFQA_CFG_F_GSO,
                },
            )
        })
        .map_err(|e| format!("configure queue {q}: {}", io::Error::from_raw_os_error(e)))?;
    }
    let injector = if spec.dup > 0.0 {
        Some(RawInjector::open()?)
    } else {
        None
    };
    if let Some(p) = &args.pidfile {
        std::fs::write(p, format!("{}\n", std::process::id()))
            .map_err(|e| format!("write pidfile {p}: {e}"))?;
    }

    let mut st = State {
        engines: [Engine::new(spec, 0), Engine::new(spec, 1)],
        counters: Default::default(),
        next_seq: [0; 2],
        max_released: [None; 2],
        heap: BinaryHeap::new(),
        out: MsgBuf::new(),
        dups: Vec::new(),
        full_copy,
    };
    let mut verdict_errors = 0u64;
    let mut send_errors = 0u64;
    let mut recv_errors = 0u64;
    let extra = |ve: u64, se: u64, re: u64| {
        format!(",\"verdict_errors\":{ve},\"send_errors\":{se},\"recv_errors\":{re}")
    };

    let mut bufs = vec![0u8; BATCH * BUFSZ];
    // SAFETY: iovec/mmsghdr are plain C structs; pointers target `bufs`, which is never
    // reallocated while they are in use.
    let mut iovs: Vec<libc::iovec> = (0..BATCH)
        .map(|i| libc::iovec {
            iov_base: unsafe { bufs.as_mut_ptr().add(i * BUFSZ) } as *mut libc::c_void,
            iov_len: BUFSZ,
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH)
        .map(|i| {
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_iov = &mut iovs[i];
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();

    let stats_every = Duration::from_millis(100);
    let mut next_stats = Instant::now();
    let flush = |st: &mut State, sock: &NlSock, se: &mut u64| {
        if !st.out.is_empty() {
            if sock.send(&st.out.buf).is_err() {
                *se += 1;
            }
            st.out.clear();
        }
        // Copies go out after the originals' verdicts were sent.
        for (dir, d) in std::mem::take(&mut st.dups) {
            let ok = injector.as_ref().is_some_and(|inj| inj.send(&d));
            let c = &mut st.counters[dir];
            if ok {
                c.duplicated += 1;
            } else {
                c.inject_errors += 1;
            }
        }
    };

    while !TERM.load(AtOrd::Relaxed) {
        // 1. Drain the socket in batches.
        for _ in 0..16 {
            // SAFETY: msgs points at BATCH valid mmsghdr/iovec/buffer triples.
            let n = unsafe {
                libc::recvmmsg(
                    sock.fd,
                    msgs.as_mut_ptr(),
                    BATCH as u32,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n <= 0 {
                if n < 0 {
                    let e = io::Error::last_os_error().raw_os_error();
                    if e != Some(libc::EAGAIN) && e != Some(libc::EINTR) {
                        recv_errors += 1;
                    }
                }
                break;
            }
            let now = Instant::now();
            for (i, m) in msgs.iter().enumerate().take(n as usize) {
                let len = m.msg_len as usize;
                let data = &bufs[i * BUFSZ..i * BUFSZ + len];
                for msg in nl::messages(data).flatten() {
                    if msg.msg_type == nl::NLMSG_ERROR {
                        if let Ok((e, _)) = nl::parse_error(msg.body) {
                            if e != 0 {
                                verdict_errors += 1;
                            }
                        }
                        continue;
                    }
                    if msg.msg_type != (nl::NFNL_SUBSYS_QUEUE << 8) | nl::NFQNL_MSG_PACKET {
                        continue;
                    }
                    let Ok(p) = nl::parse_packet(msg.body) else {
                        continue;
                    };
                    match args.queues.iter().position(|&q| q == p.queue) {
                        Some(dir) => st.on_packet(&p, dir, now),
                        None => st.out.verdict(p.queue, p.id, nl::NF_ACCEPT, None),
                    }
                }
                if st.out.buf.len() > 256 * 1024 {
                    flush(&mut st, &sock, &mut send_errors);
                }
            }
            if (n as usize) < BATCH {
                break;
            }
        }
        // 2. Release what is due, then send verdicts and duplicates.
        let now = Instant::now();
        st.release_due(now, false);
        flush(&mut st, &sock, &mut send_errors);
        // 3. Counters.
        if now >= next_stats {
            if let Some(p) = &args.stats {
                write_stats(
                    p,
                    &args.spec,
                    &st,
                    args.queues,
                    &extra(verdict_errors, send_errors, recv_errors),
                );
            }
            next_stats = now + stats_every;
        }
        // 4. Wait for packets, the next deadline or the next stats write.
        let mut wake = next_stats;
        if let Some(h) = st.heap.peek() {
            wake = wake.min(h.deadline);
        }
        let timeout = wake.saturating_duration_since(Instant::now());
        if timeout.is_zero() {
            continue;
        }
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        let mut pfd = libc::pollfd {
            fd: sock.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd and timespec.
        unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
    }

    // Shutdown: release everything held at once, report, unbind.
    st.release_due(Instant::now(), true);
    flush(&mut st, &sock, &mut send_errors);
    if let Some(p) = &args.stats {
        write_stats(
            p,
            &args.spec,
            &st,
            args.queues,
            &extra(verdict_errors, send_errors, recv_errors),
        );
    }
    for (i, &q) in args.queues.iter().enumerate() {
        if active[i] {
            let _ = sock.request(|m, s| m.config_cmd(s, q, nl::NFQNL_CFG_CMD_UNBIND, nl::AF_INET));
        }
    }
    if let Some(p) = &args.pidfile {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}
