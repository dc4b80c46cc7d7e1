//! `linerate send`: the load generator. One stack on queue pair 0 of one port, on the calling
//! core; `-P` connections spread round-robin over the `--dst`s; bulk or fixed-rate latency
//! mode; a progress line a second; a final report (text or JSON).
use crate::config::{self, FileConfig, Payload, SendArgs, Settings, Stop};
use crate::latency::{AckTracker, Hists, Percentiles, Schedule};
use crate::report::*;
use linerate::{Device, DpdkDevice};
use linerate::dpdk::{Eal, Mempool, Port, PortConfig, MBUF_DEFAULT_DATAROOM};
use linerate::pcap::{PcapDevice, PcapWriter};
use linerate::peer::AckPeer;
use linerate::Cc;
use linerate::{ConnId, ConnectError, IoError, Stack, StackConfig, State, TcpError, TcpInfo};
use linerate::{TcpConfig, TscClock};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

/// How `send` failed: usage errors exit 2, run-time errors 1.
#[derive(Debug)]
pub enum SendError {
    Usage(String),
    Fail(String),
}

impl From<linerate::dpdk::DpdkError> for SendError {
    fn from(e: linerate::dpdk::DpdkError) -> Self {
        SendError::Fail(e.to_string())
    }
}

const NS: u64 = 1_000_000_000;
/// Sends per connection per loop pass (fairness between connections).
const SENDS_PER_PASS: usize = 16;

static INTERRUPTS: AtomicU32 = AtomicU32::new(0);
static HANDLER_SET: AtomicBool = AtomicBool::new(false);

fn interrupted() -> bool {
    INTERRUPTS.load(Ordering::Relaxed) > 0
}

fn install_sigint() {
    if HANDLER_SET.swap(true, Ordering::SeqCst) {
        return;
    }
    let _ = ctrlc::set_handler(|| {
        // A second Ctrl-C while closing gives up on the graceful close.
        INTERRUPTS.fetch_add(1, Ordering::SeqCst);
    });
}

use crate::payload::random_payload;

fn load_payload(s: &Settings) -> Result<Vec<u8>, SendError> {
    match &s.payload {
        Payload::Random { seed } => Ok(random_payload(
            *seed,
            (s.size as usize).clamp(4 << 20, 64 << 20),
        )),
        Payload::File(p) => {
            let b = std::fs::read(p).map_err(|e| {
                SendError::Usage(format!("--payload-file: cannot read {}: {e}", p.display()))
            })?;
            if b.is_empty() {
                return Err(SendError::Usage(format!(
                    "--payload-file: {} is empty",
                    p.display()
                )));
            }
            Ok(b)
        }
    }
}

/// Open-loop pacing: a token bucket of payload bytes on the TSC clock.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    bytes_per_ns: f64,
    depth: f64,
    tokens: f64,
    last: u64,
}

impl TokenBucket {
    pub fn new(bits_per_sec: u64, write: u64, now: u64) -> Self {
        let bytes_per_ns = bits_per_sec as f64 / 8.0 / 1e9;
        // Five milliseconds of rate (a loop pass can take a few ms on a slow PMD), and at least
        // two writes.
        let depth = (bytes_per_ns * 5e6).max(2.0 * write as f64);
        TokenBucket {
            bytes_per_ns,
            depth,
            tokens: write as f64,
            last: now,
        }
    }

    pub fn refill(&mut self, now: u64) {
        let dt = now.saturating_sub(self.last) as f64;
        self.last = now;
        self.tokens = (self.tokens + dt * self.bytes_per_ns).min(self.depth);
    }

    /// Whole bytes available now.
    pub fn available(&self) -> u64 {
        self.tokens.max(0.0) as u64
    }

    pub fn take(&mut self, n: u64) {
        self.tokens -= n as f64;
    }
}

struct Conn {
    dst: SocketAddrV4,
    id: Option<ConnId>,
    /// connect() failed outright.
    connect_error: Option<ConnectError>,
    /// Stream bytes handed to send().
    queued: u64,
    acked: u64,
    info: Option<TcpInfo>,
    established: bool,
    error: Option<TcpError>,
    close_called: bool,
    /// When -n bytes were acked.
    done_at: Option<u64>,
    tracker: AckTracker,
    sched: Option<Schedule>,
    /// Latency mode: bytes left of the current message, and its intended time.
    msg_left: u64,
    msg_intended: u64,
}

impl Conn {
    fn state(&self) -> Option<State> {
        self.info.map(|i| i.state)
    }

    fn failed(&self) -> bool {
        self.connect_error.is_some() || self.error.is_some_and(|e| e != TcpError::Aborted)
    }
}

/// Entry point of `linerate send`.
pub fn run(args: SendArgs) -> Result<(), SendError> {
    let file = match &args.config {
        Some(p) => FileConfig::load(p).map_err(SendError::Usage)?,
        None => FileConfig::default(),
    };
    let mut s = config::merge(args, file).map_err(SendError::Usage)?;
    let payload = load_payload(&s)?;
    if !s.quiet {
        eprintln!("{}", s.echo());
    }
    install_sigint();

    let mut eal_args = s.eal.clone();
    if !eal_args.iter().any(|a| a.starts_with("--log-level")) {
        eal_args.push("--log-level=*:error".into());
    }
    let eal = Eal::init(&eal_args)?;
    let pool = Arc::new(Mempool::new(
        &eal,
        "send_pool",
        s.mbufs,
        256,
        MBUF_DEFAULT_DATAROOM,
        None,
    )?);
    let port = Port::open(
        &eal,
        &s.port,
        &PortConfig {
            rx_desc: s.rx_desc,
            tx_desc: s.tx_desc,
            ..Default::default()
        },
        pool.clone(),
    )?;
    s.port = port.name().to_string();
    let dev = DpdkDevice::new(port.queue(0)?)?;
    if s.ack_peer {
        // The in-process receiver answers ARP, SYN, data and FIN for the first --dst address
        // (config::merge checked that every --dst uses it and that it is on-link).
        let peer_ip = *s.dst[0].ip();
        let dev = AckPeer::new(dev, pool.clone(), s.ip.addr, peer_ip);
        drive(s, payload, eal, pool, port, dev)
    } else {
        drive(s, payload, eal, pool, port, dev)
    }
}

/// Runs the load on `dev` (the port's queue pair, or the in-process ACK peer around it) to the
/// end, prints the report, and tears DPDK down.
fn drive<D: Device>(
    s: Settings,
    payload: Vec<u8>,
    eal: Eal,
    pool: Arc<Mempool>,
    port: Port,
    dev: D,
) -> Result<(), SendError> {
    let writer = match &s.pcap {
        Some(p) => Some(PcapWriter::create(p, s.pcap_count).map_err(|e| {
            SendError::Usage(format!("--pcap: cannot create {}: {e}", p.display()))
        })?),
        None => None,
    };
    let dev = PcapDevice::new(dev, writer);
    if !s.quiet {
        eprintln!(
            "  port {} driver {} mac {} offloads {}",
            port.name(),
            port.driver(),
            port.mac().map(|m| m.to_string()).unwrap_or_default(),
            Device::offloads(&dev)
        );
    }

    let clock = TscClock::new();
    let mut tcp = TcpConfig {
        mss: s.mss,
        sndbuf: s.sndbuf as u32,
        nodelay: s.nodelay,
        cc: Cc::by_name(&s.cc).unwrap_or_default(),
        pacing: s.pacing,
        ..TcpConfig::default()
    };
    tcp.time_wait = 2 * NS;
    let mut sc = StackConfig::new(s.ip);
    sc.gateway = s.gw;
    sc.static_neigh = s.neigh.clone();
    sc.tcp = tcp;
    sc.max_conns = (s.connections as usize).max(1024);
    let mut stack = Stack::new(dev, pool.clone(), sc, clock.now());
    let port_before = port.stats().unwrap_or_default();

    let mut hists = Hists::default();
    let mut conns: Vec<Conn> = Vec::with_capacity(s.connections as usize);
    let t_start = clock.now();
    for i in 0..s.connections as usize {
        let dst = s.dst[i % s.dst.len()];
        let mut c = Conn {
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
            sched: s.latency.map(|r| Schedule::new(t_start, r)),
            msg_left: 0,
            msg_intended: 0,
        };
        match stack.connect_with(dst, None, tcp) {
            Ok(id) => {
                c.id = Some(id);
                c.info = stack.info(id);
            }
            Err(e @ ConnectError::NoRoute(_)) => return Err(SendError::Usage(e.to_string())),
            Err(e) => c.connect_error = Some(e),
        }
        conns.push(c);
        if i % 64 == 63 {
            stack.poll(clock.now());
        }
    }

    let mut bucket = s.rate.map(|r| TokenBucket::new(r, s.size, clock.now()));
    let deadline = match s.stop {
        Stop::Duration(d) => Some(t_start.saturating_add(d.as_nanos() as u64)),
        Stop::BytesPerConn(_) => None,
    };
    let limit = match s.stop {
        Stop::BytesPerConn(n) => n,
        Stop::Duration(_) => u64::MAX,
    };
    let plen = payload.len() as u64;
    let mut next_progress = t_start + NS;
    let mut last_prog = (t_start, 0u64, 0u64);
    let ended_by;

    loop {
        let now = clock.now();
        stack.poll(now);
        let now = clock.now();
        observe(&stack, &mut conns, &mut hists, now, limit);

        if interrupted() {
            ended_by = "interrupted";
            break;
        }
        if deadline.is_some_and(|d| now >= d) {
            ended_by = "duration";
            break;
        }
        let alive = conns
            .iter()
            .filter(|c| !c.failed() && c.done_at.is_none())
            .count();
        if alive == 0 {
            ended_by = if conns.iter().all(|c| c.failed()) {
                "all_failed"
            } else {
                "bytes"
            };
            break;
        }

        // Send.
        if let Some(b) = bucket.as_mut() {
            b.refill(now);
        }
        for c in conns.iter_mut() {
            let Some(id) = c.id else { continue };
            if c.close_called || !c.state().is_some_and(|st| st.can_send()) {
                continue;
            }
            for _ in 0..SENDS_PER_PASS {
                let remaining = limit.saturating_sub(c.queued);
                if remaining == 0 {
                    let _ = stack.close(id);
                    c.close_called = true;
                    break;
                }
                let mut want = s.size.min(remaining);
                let mut intended = None;
                if let Some(sched) = c.sched.as_mut() {
                    if c.msg_left == 0 {
                        let t = clock.now();
                        if !sched.ready(t) {
                            break;
                        }
                        c.msg_left = want;
                        c.msg_intended = sched.due();
                        sched.advance();
                    }
                    want = c.msg_left;
                    intended = Some(c.msg_intended);
                }
                let pos = c.queued % plen;
                let mut len = want.min(plen - pos);
                if let Some(b) = bucket.as_ref() {
                    let avail = b.available();
                    if avail < len {
                        if avail >= s.mss as u64 {
                            len = avail;
                        } else {
                            break;
                        }
                    }
                }
                let chunk = &payload[pos as usize..(pos + len) as usize];
                let t0 = clock.now();
                match stack.send(id, chunk) {
                    Ok(n) => {
                        stack.flush();
                        let t1 = clock.now();
                        let n = n as u64;
                        c.queued += n;
                        if let Some(b) = bucket.as_mut() {
                            b.take(n);
                        }
                        if c.sched.is_some() {
                            c.msg_left -= n;
                        }
                        c.tracker.on_send(&mut hists, c.queued, t0, t1, intended);
                        if n < len {
                            break;
                        }
                    }
                    Err(IoError::WouldBlock) => break,
                    Err(_) => break,
                }
            }
        }

        if now >= next_progress {
            next_progress += NS;
            if !s.quiet {
                let st = stack.stats();
                let acked: u64 = conns.iter().map(|c| c.acked).sum();
                let dt = now.saturating_sub(last_prog.0) as f64 / 1e9;
                let gbps = acked.saturating_sub(last_prog.1) as f64 * 8.0 / dt / 1e9;
                let mpps = st.dev.tx_frames.saturating_sub(last_prog.2) as f64 / dt / 1e6;
                last_prog = (now, acked, st.dev.tx_frames);
                let ps = port.stats().unwrap_or_default();
                let est = conns
                    .iter()
                    .filter(|c| c.state() == Some(State::Established))
                    .count();
                eprintln!(
                    "[{:>6.1}s] {:>8.3} Gbit/s {:>7.3} Mpps  conns {}/{}  retrans {}  drops imissed {} oerrors {} rx_nombuf {}",
                    now.saturating_sub(t_start) as f64 / 1e9,
                    gbps,
                    mpps,
                    est,
                    s.connections,
                    st.tcp.retrans_segs,
                    ps.imissed.saturating_sub(port_before.imissed),
                    ps.oerrors.saturating_sub(port_before.oerrors),
                    ps.rx_nombuf.saturating_sub(port_before.rx_nombuf),
                );
            }
        }
    }
    let t_end = clock.now();
    let acked_at_end: Vec<u64> = conns.iter().map(|c| c.acked).collect();
    let data_segs_at_end = stack.stats().tcp.data_segs_out;

    // Close: FIN after queued data; wait for the peer's FIN (TIME-WAIT) or give up and RST.
    let close_limit = match (ended_by, s.stop) {
        ("interrupted", _) => NS,
        (_, Stop::BytesPerConn(_)) => 5 * NS,
        _ => 3 * NS,
    };
    for c in conns.iter_mut() {
        let Some(id) = c.id else { continue };
        if c.close_called {
            continue;
        }
        match c.state() {
            Some(State::SynSent) => {
                let _ = stack.abort(id);
            }
            Some(_) => {
                let _ = stack.close(id);
            }
            None => {}
        }
        c.close_called = true;
    }
    let t_close = clock.now();
    let start_interrupts = INTERRUPTS.load(Ordering::Relaxed);
    loop {
        let now = clock.now();
        stack.poll(now);
        observe(&stack, &mut conns, &mut hists, clock.now(), limit);
        let open = conns.iter().any(|c| {
            c.id.is_some()
                && !matches!(
                    c.state(),
                    None | Some(State::TimeWait) | Some(State::Closed)
                )
        });
        if !open
            || now.saturating_sub(t_close) > close_limit
            || INTERRUPTS.load(Ordering::Relaxed) > start_interrupts
        {
            break;
        }
    }
    for c in conns.iter_mut() {
        if let Some(id) = c.id {
            if !matches!(
                c.state(),
                None | Some(State::TimeWait) | Some(State::Closed)
            ) {
                let _ = stack.abort(id);
            }
        }
    }
    stack.poll(clock.now());

    let pcap_frames = stack.device_mut().finish();
    if let (Some(p), false) = (&s.pcap, s.quiet) {
        match &pcap_frames {
            Ok(n) => eprintln!("  pcap {}: {n} frames", p.display()),
            Err(e) => eprintln!("linerate: warning: --pcap {}: {e}", p.display()),
        }
    }

    let report = build_report(
        &s,
        ended_by,
        &conns,
        &acked_at_end,
        data_segs_at_end,
        &hists,
        t_start,
        t_end,
        &stack,
        &port,
        &port_before,
    );
    if let Some(p) = &s.hist_out {
        if let Err(e) = write_hist_log(p, &hists, t_end.saturating_sub(t_start) as f64 / 1e9) {
            eprintln!("linerate: warning: --hist-out {}: {e}", p.display());
        }
    }
    if s.json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.to_text());
    }
    drop(stack);
    drop(port);
    drop(pool);
    drop(eal);
    if report.connections.errors == report.connections.requested {
        let first = conns
            .iter()
            .find_map(|c| {
                c.connect_error
                    .map(|e| e.to_string())
                    .or(c.error.map(|e| e.to_string()))
            })
            .unwrap_or_else(|| {
                "no connection was established (no SYN-ACK from the destination)".into()
            });
        return Err(SendError::Fail(format!(
            "all {} connections failed: {first}",
            report.connections.requested
        )));
    }
    Ok(())
}

/// After a poll: take each connection's ACK progress, state and error.
fn observe<D: Device>(
    stack: &Stack<D>,
    conns: &mut [Conn],
    hists: &mut Hists,
    now: u64,
    limit: u64,
) {
    for c in conns.iter_mut() {
        let Some(id) = c.id else { continue };
        match stack.info(id) {
            Some(info) => {
                c.acked = info.counters.bytes_acked;
                c.tracker.on_acked(hists, c.acked, now);
                if info.state != State::SynSent && info.error.is_none() {
                    c.established = true;
                }
                if let Some(e) = info.error {
                    c.error.get_or_insert(e);
                }
                if c.done_at.is_none() && c.acked >= limit {
                    c.done_at = Some(now);
                }
                c.info = Some(info);
            }
            None => {
                // Closed and freed: keep the last snapshot.
                c.id = None;
                if let Some(i) = c.info.as_mut() {
                    i.state = State::Closed;
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn build_report<D: Device>(
    s: &Settings,
    ended_by: &str,
    conns: &[Conn],
    acked_at_end: &[u64],
    data_segs_at_end: u64,
    hists: &Hists,
    t_start: u64,
    t_end: u64,
    stack: &Stack<D>,
    port: &Port,
    before: &linerate::dpdk::PortStats,
) -> Report {
    let secs = (t_end.saturating_sub(t_start)) as f64 / 1e9;
    let st = stack.stats();
    let bytes_acked: u64 = acked_at_end.iter().sum();
    let mut cs = Connections {
        requested: s.connections,
        ..Default::default()
    };
    let mut per_conn = Vec::with_capacity(conns.len());
    let mut rates = Vec::new();
    for (i, c) in conns.iter().enumerate() {
        cs.established += c.established as u32;
        if c.connect_error.is_some() {
            cs.connect_failed += 1;
        } else {
            match c.error {
                Some(TcpError::Refused) => cs.refused += 1,
                Some(TcpError::Reset) => cs.reset += 1,
                Some(TcpError::TimedOut) => cs.timed_out += 1,
                Some(TcpError::HostUnreachable) => cs.unreachable += 1,
                Some(TcpError::Aborted) | None => {
                    if !c.established {
                        cs.not_established += 1;
                    }
                }
            }
        }
        let failed = c.failed() || !c.established;
        cs.errors += failed as u32;
        let completed = !failed
            && match s.stop {
                Stop::BytesPerConn(n) => c.acked >= n,
                Stop::Duration(_) => true,
            };
        cs.completed += completed as u32;
        let end = c.done_at.unwrap_or(t_end).max(t_start + 1);
        let gbps = acked_at_end[i] as f64 * 8.0 / ((end - t_start) as f64 / 1e9) / 1e9;
        if c.established {
            rates.push(gbps);
        }
        per_conn.push(ConnReport {
            id: i as u32,
            dst: c.dst.to_string(),
            state: c
                .state()
                .map_or_else(|| "NONE".into(), |x| x.name().to_string()),
            error: c
                .connect_error
                .map(|e| e.to_string())
                .or(c.error.map(|e| e.to_string())),
            bytes_acked: acked_at_end[i],
            gbps,
            retrans_segs: c.info.map_or(0, |i| i.counters.retrans_segs),
            srtt_us: c.info.map_or(0, |i| i.srtt_us),
        });
    }
    let ps = port.stats().unwrap_or_default();
    let xstats: BTreeMap<String, u64> = port
        .xstats()
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| *v != 0)
        .collect();
    let d = st.drops;
    let drops: BTreeMap<String, u64> = [
        ("malformed", d.malformed),
        ("bad_ip_checksum", d.bad_ip_checksum),
        ("bad_tcp_checksum", d.bad_tcp_checksum),
        ("not_for_us", d.not_for_us),
        ("fragments", d.fragments),
        ("unsupported", d.unsupported),
        ("out_of_window", d.out_of_window),
        ("bad_rst", d.bad_rst),
        ("bad_syn", d.bad_syn),
        ("bad_ack", d.bad_ack),
        ("no_ack", d.no_ack),
        ("paws", d.paws),
        ("no_conn", d.no_conn),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let n = st.neigh;
    let neigh: BTreeMap<String, u64> = [
        ("requests_sent", n.requests_sent),
        ("replies_sent", n.replies_sent),
        ("replies_received", n.replies_received),
        ("resolved", n.resolved),
        ("failed", n.failed),
        ("pending_dropped", n.pending_dropped),
        ("ignored", n.ignored),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Report {
        schema: SCHEMA,
        version: env!("CARGO_PKG_VERSION"),
        ended_by: ended_by.to_string(),
        settings: ReportSettings {
            port: s.port.clone(),
            ip: s.ip.to_string(),
            gw: s.gw.map(|g| g.to_string()),
            dst: s.dst.iter().map(|d| d.to_string()).collect(),
            connections: s.connections,
            duration_s: match s.stop {
                Stop::Duration(d) => Some(d.as_secs_f64()),
                _ => None,
            },
            bytes_per_connection: match s.stop {
                Stop::BytesPerConn(n) => Some(n),
                _ => None,
            },
            size: s.size,
            payload: match &s.payload {
                Payload::Random { seed } => format!("random:{seed}"),
                Payload::File(p) => format!("file:{}", p.display()),
            },
            rate_bps: s.rate,
            latency_msg_rate: s.latency,
            nodelay: s.nodelay,
            mss: s.mss,
            cc: s.cc.clone(),
            sndbuf: s.sndbuf,
            mbufs: s.mbufs,
            ack_peer: s.ack_peer,
        },
        duration_s: secs,
        goodput_gbps: if secs > 0.0 {
            bytes_acked as f64 * 8.0 / secs / 1e9
        } else {
            0.0
        },
        data_mpps: if secs > 0.0 {
            data_segs_at_end as f64 / secs / 1e6
        } else {
            0.0
        },
        ns_per_segment: (data_segs_at_end > 0).then(|| secs * 1e9 / data_segs_at_end as f64),
        bytes_acked,
        bytes_sent: st.tcp.bytes_sent,
        segments: Segments {
            data_out: st.tcp.data_segs_out,
            out: st.tcp.segs_out,
            in_: st.tcp.segs_in,
            tx_frames: st.dev.tx_frames,
            rx_frames: st.dev.rx_frames,
        },
        retransmits: Retransmits {
            segments: st.tcp.retrans_segs,
            bytes: st.tcp.bytes_retrans,
            fast: st.tcp.fast_retrans,
            rto: st.tcp.rtos,
            tlp: st.tcp.tlps,
            spurious: st.tcp.spurious_retrans,
            spurious_rto: st.tcp.spurious_rtos,
            rack_lost: st.tcp.rack_lost,
            sack_reneging: st.tcp.sack_reneges,
            recoveries: st.tcp.sack_recoveries,
            undos: st.tcp.undos,
            ts_undos: st.tcp.ts_undos,
        },
        connections: cs,
        per_connection_gbps: MinMedMax::of(&rates),
        per_connection: per_conn,
        latency: Latency {
            send: Percentiles::of(&hists.send),
            ack_rtt: Percentiles::of(&hists.ack_rtt),
            send_corrected: Percentiles::of(&hists.send_corrected),
            ack_rtt_corrected: Percentiles::of(&hists.ack_rtt_corrected),
            unsampled: conns.iter().map(|c| c.tracker.unsampled).sum(),
        },
        port: PortReport {
            name: port.name().to_string(),
            driver: port.driver().to_string(),
            ipackets: ps.ipackets.saturating_sub(before.ipackets),
            opackets: ps.opackets.saturating_sub(before.opackets),
            ibytes: ps.ibytes.saturating_sub(before.ibytes),
            obytes: ps.obytes.saturating_sub(before.obytes),
            imissed: ps.imissed.saturating_sub(before.imissed),
            ierrors: ps.ierrors.saturating_sub(before.ierrors),
            oerrors: ps.oerrors.saturating_sub(before.oerrors),
            rx_nombuf: ps.rx_nombuf.saturating_sub(before.rx_nombuf),
            xstats,
        },
        stack: StackReport {
            drops,
            drops_total: d.total(),
            rst_sent: d.rst_sent,
            neigh,
            tx_partial: st.dev.tx_partial,
            would_block: st.tcp.would_block,
            partial_writes: st.tcp.partial_writes,
            alloc_failures: st.tcp.alloc_failures,
            pool_size: stack.pool().size(),
            pool_in_use: stack.pool().in_use(),
        },
    }
}

/// Writes the histograms as an HdrHistogram interval log (V2 + deflate, values in ns), one
/// tagged interval per histogram.
pub fn write_hist_log(path: &std::path::Path, h: &Hists, secs: f64) -> Result<(), String> {
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    use hdrhistogram::serialization::V2DeflateSerializer;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| e.to_string())?);
    let mut ser = V2DeflateSerializer::new();
    let mut w = IntervalLogWriterBuilder::new()
        .add_comment("linerate send latency histograms; values in nanoseconds")
        .with_start_time(std::time::SystemTime::now())
        .begin_log_with(&mut f, &mut ser)
        .map_err(|e| e.to_string())?;
    let dur = std::time::Duration::from_secs_f64(secs.max(0.0));
    for (tag, hist) in [
        ("send", &h.send),
        ("ack_rtt", &h.ack_rtt),
        ("send_corrected", &h.send_corrected),
        ("ack_rtt_corrected", &h.ack_rtt_corrected),
    ] {
        if hist.is_empty() {
            continue;
        }
        w.write_histogram(hist, std::time::Duration::ZERO, dur, Tag::new(tag))
            .map_err(|e| e.to_string())?;
    }
    drop(w);
    use std::io::Write;
    f.flush().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_paces() {
        // 8 Mbit/s = 1 byte/µs; 1000-byte writes.
        let mut b = TokenBucket::new(8_000_000, 1000, 0);
        assert_eq!(b.available(), 1000);
        b.take(1000);
        b.refill(500_000);
        assert_eq!(b.available(), 500);
        // Depth: 5 ms of rate (5000 bytes) caps a long idle gap.
        b.refill(1_000_000_000);
        assert_eq!(b.available(), 5000);
    }

    #[test]
    fn hist_log_round_trips() {
        let mut h = Hists::default();
        for v in [1_000u64, 2_000, 3_000] {
            h.send.record(v).unwrap();
        }
        let dir = std::env::temp_dir().join(format!("lr-hist-{}", std::process::id()));
        write_hist_log(&dir, &h, 1.0).unwrap();
        let text = std::fs::read(&dir).unwrap();
        let _ = std::fs::remove_file(&dir);
        let mut n = 0;
        for e in hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&text) {
            if let Ok(hdrhistogram::serialization::interval_log::LogEntry::Interval(i)) = e {
                assert_eq!(i.tag().unwrap().as_str(), "send");
                n += 1;
            }
        }
        assert_eq!(n, 1);
    }

    #[test]
    fn random_payload_is_deterministic() {
        assert_eq!(random_payload(1, 100), random_payload(1, 100));
        assert_ne!(random_payload(1, 100), random_payload(2, 100));
        assert_eq!(random_payload(1, 13).len(), 13);
    }
}
