//! `linerate send`: the load generator. One stack per worker (an EAL lcore with its own queue
//! pair of one port; one worker runs on the calling core); `-P` connections spread
//! round-robin over the `--dst`s and the workers; bulk or fixed-rate latency mode; a progress
//! line a second; a final report (text or JSON) over all workers.
//!
//! This file sets up (settings, payload, EAL, port, stack) and runs the phases in order; the
//! loop itself is in [`run_loop`], several workers in [`workers`], what the run leaves behind
//! (report, histogram log, exit status) in [`finish`].
mod board;
mod bucket;
mod conn;
mod cps;
mod finish;
mod part;
mod run_loop;
mod sigint;
mod workers;

use crate::config::{self, FileConfig, Payload, SendArgs, Settings};
use crate::config::{queue_pair_mbufs, MAX_MBUFS};
use crate::payload::random_payload;
use linerate::dpdk::{Eal, Mempool, Port, PortConfig, TxRegion, MBUF_DEFAULT_DATAROOM};
use linerate::pcap::{PcapDevice, PcapWriter};
use linerate::peer::AckPeer;
use linerate::steer::{SteerStats, RSS_KEY_MS};
use linerate::{Cc, Device, DpdkDevice, RegionId, Stack, StackConfig, TcpConfig, TscClock};
use run_loop::{Run, Sender};
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

/// DPDK as a run holds it. Fields drop in declaration order: the port, its mempool, then our
/// EAL handle (every DPDK object holds a clone, so the EAL is cleaned up after the last).
struct Dpdk {
    port: Port,
    pool: Arc<Mempool>,
    /// Keeps the EAL up for the run (and allocates the payload region).
    eal: Eal,
    /// The lcores the workers run on, the main lcore first: one queue pair each.
    lcores: Vec<u32>,
}

/// Entry point of `linerate send`.
pub fn run(args: SendArgs) -> Result<(), SendError> {
    let mut s = settings(args)?;
    let payload = load_payload(&s)?;
    if !s.quiet {
        eprintln!("{}", s.echo());
    }
    sigint::install();

    let dpdk = open_port(&mut s)?;
    if dpdk.lcores.len() > 1 {
        return workers::run(&s, &payload, dpdk);
    }
    let dev = DpdkDevice::new(dpdk.port.queue(0)?)?;
    if s.ack_peer {
        let dev = ack_peer(&s, &dpdk, dev);
        drive(s, payload, dpdk, dev)
    } else {
        drive(s, payload, dpdk, dev)
    }
}

/// The in-process receiver for --ack-peer around `dev`: it answers ARP, SYN, data and FIN for
/// the first --dst address (config::merge checked that every --dst uses it and that it is
/// on-link).
fn ack_peer<D: Device>(s: &Settings, dpdk: &Dpdk, dev: D) -> AckPeer<D> {
    let peer_ip = *s.dst[0].ip();
    let mut dev = AckPeer::new(dev, dpdk.pool.clone(), s.ip.addr, peer_ip);
    // --rr: the peer answers each request with the response.
    dev.respond = s.rr.map(|(q, r)| (q as u32, r as u32));
    if s.ack_peer_gro {
        // One ACK per burst of a connection (the batch's end ACKs what is owed), as a
        // receiver with GRO gives; 64 segments is GRO's largest aggregate.
        dev.ack_every = 64;
    }
    if s.ack_peer_tso {
        dev.emulate_tso()
    } else if s.ack_peer_offloads {
        dev.emulate_offloads()
    } else {
        dev
    }
}

/// The command line merged over the `--config` file.
fn settings(args: SendArgs) -> Result<Settings, SendError> {
    let file = match &args.config {
        Some(p) => FileConfig::load(p).map_err(SendError::Usage)?,
        None => FileConfig::default(),
    };
    config::merge(args, file).map_err(SendError::Usage)
}

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

/// Starts the EAL, decides the workers (--workers, else one per lcore, at most one per
/// connection; one with --pcap), and opens the port with a queue pair per worker and a mempool sized by the
/// settings; `s.port` becomes the port's name (it may have been given as an id or PCI
/// address).
fn open_port(s: &mut Settings) -> Result<Dpdk, SendError> {
    let mut eal_args = s.eal.clone();
    if !eal_args.iter().any(|a| a.starts_with("--log-level")) {
        eal_args.push("--log-level=*:error".into());
    }
    let eal = Eal::init(&eal_args)?;
    let mut lcores = eal.lcores();
    let n = match s.workers {
        Some(n) if n as usize > lcores.len() => {
            return Err(SendError::Usage(format!(
                "--workers {n} needs {n} lcores, but the EAL has {} ({:?}): widen --dpdk's -l, e.g. -l 0-{}",
                lcores.len(),
                lcores,
                n - 1
            )))
        }
        Some(n) => n as usize,
        // A capture records one queue: one worker unless --workers says otherwise (which
        // config::merge refuses with --pcap).
        None if s.pcap.is_some() => 1,
        // --cps without -P has no count to share out (connections is 0 then).
        None if s.connections == 0 => lcores.len(),
        None => lcores.len().min(s.connections as usize),
    };
    lcores.truncate(n);
    let mbufs = if s.mbufs_auto {
        let more = (n as u64 - 1) * queue_pair_mbufs(s.rx_desc, s.tx_desc);
        (s.mbufs as u64 + more).min(MAX_MBUFS as u64) as u32
    } else {
        s.mbufs
    };
    let pool = Arc::new(Mempool::new(
        &eal,
        "send_pool",
        mbufs,
        512,
        MBUF_DEFAULT_DATAROOM,
        None,
    )?);
    let cfg = PortConfig {
        rx_queues: n as u16,
        tx_queues: n as u16,
        rx_desc: s.rx_desc,
        tx_desc: s.tx_desc,
        rss_key: (n > 1).then(|| RSS_KEY_MS.to_vec()),
        ..Default::default()
    };
    let port = Port::open(&eal, &s.port, &cfg, pool.clone()).map_err(|e| {
        let e = e.to_string();
        if n > 1 && e.contains("queues") {
            SendError::Usage(format!(
                "{e}: {n} workers need {n} queue pairs (net_af_packet: add qpairs={n} to its --vdev), or pass --workers 1"
            ))
        } else {
            SendError::Fail(e)
        }
    })?;
    s.port = port.name().to_string();
    s.mbufs = mbufs;
    Ok(Dpdk {
        port,
        pool,
        eal,
        lcores,
    })
}

/// Runs the load on `dev` (the port's queue pair, or the in-process ACK peer around it) to the
/// end, prints the report, and tears DPDK down.
fn drive<D: Device>(s: Settings, payload: Vec<u8>, dpdk: Dpdk, dev: D) -> Result<(), SendError> {
    let dev = pcap_tap(&s, dev)?;
    if !s.quiet {
        print_port(&dpdk.port, &dev);
    }
    let clock = TscClock::new();
    let tcp = tcp_config(&s);
    let mut stack = Stack::new(dev, dpdk.pool.clone(), stack_config(&s, tcp), clock.now());
    let region = payload_region(&dpdk, &payload)?;
    let region = register(&mut stack, region)?;
    let sender = Sender::new(&s, &payload, region, clock, stack);
    let plan: Vec<usize> = (0..s.connections as usize).collect();
    let port_before = dpdk.port.stats().unwrap_or_default();
    let mut run = Run::connect(sender, &dpdk.port, tcp, &plan, None)?;
    let ended = run.send_until_done()?;
    run.close(ended.by);
    finish_pcap(&s, &mut run.tx.stack);
    let part = run.into_part(ended, dpdk.lcores[0], SteerStats::default());
    let result = finish::finish(&finish::Outcome {
        s: &s,
        port: &dpdk.port,
        port_before: &port_before,
        pool: &dpdk.pool,
        parts: &[part],
        failed: &[],
    });
    // The stack holds mbufs of the pool: it goes before DPDK does.
    drop(dpdk);
    result
}

/// The payload laid out once in hugepage memory: connections send references to it, never
/// copies (each worker lays its own).
fn payload_region(dpdk: &Dpdk, payload: &[u8]) -> Result<Arc<TxRegion>, SendError> {
    let mut r = TxRegion::new(&dpdk.eal, payload.len(), None).map_err(|e| {
        SendError::Usage(format!(
            "payload: {e} (the {} MiB payload lives in hugepages)",
            payload.len() >> 20
        ))
    })?;
    r.fill(|b| b.copy_from_slice(payload));
    Ok(Arc::new(r))
}

fn register<D: Device>(stack: &mut Stack<D>, r: Arc<TxRegion>) -> Result<RegionId, SendError> {
    stack
        .register_region(r)
        .ok_or_else(|| SendError::Usage("payload: the stack has no room for a region".into()))
}

/// `--pcap`: every frame through `dev` is also written to the file (forcing software
/// checksums); without it the tap passes frames through.
fn pcap_tap<D: Device>(s: &Settings, dev: D) -> Result<PcapDevice<D>, SendError> {
    let writer = match &s.pcap {
        Some(p) => Some(PcapWriter::create(p, s.pcap_count).map_err(|e| {
            SendError::Usage(format!("--pcap: cannot create {}: {e}", p.display()))
        })?),
        None => None,
    };
    Ok(PcapDevice::new(dev, writer))
}

/// Flushes the capture and says how many frames it holds.
fn finish_pcap<D: Device>(s: &Settings, stack: &mut Stack<PcapDevice<D>>) {
    let pcap_frames = stack.device_mut().finish();
    if let (Some(p), false) = (&s.pcap, s.quiet) {
        match &pcap_frames {
            Ok(n) => eprintln!("  pcap {}: {n} frames", p.display()),
            Err(e) => eprintln!("linerate: warning: --pcap {}: {e}", p.display()),
        }
    }
}

fn print_port<D: Device>(port: &Port, dev: &D) {
    eprintln!(
        "  port {} driver {} mac {} offloads {}",
        port.name(),
        port.driver(),
        port.mac().map(|m| m.to_string()).unwrap_or_default(),
        Device::offloads(dev)
    );
}

fn tcp_config(s: &Settings) -> TcpConfig {
    TcpConfig {
        mss: s.mss,
        sndbuf: s.sndbuf as u32,
        nodelay: s.nodelay,
        cc: Cc::by_name(&s.cc).unwrap_or_default(),
        pacing: s.pacing,
        time_wait: 2 * NS,
        // A connection-rate or request/response client speaks first: its request carries
        // the handshake's ACK.
        quickack: s.cps.is_none() && s.rr.is_none(),
        // A connection-rate client writes its -n and closes: data and FIN in one segment.
        cork: s.cps.is_some(),
        ..TcpConfig::default()
    }
}

fn stack_config(s: &Settings, tcp: TcpConfig) -> StackConfig {
    let mut sc = StackConfig::new(s.ip);
    sc.gateway = s.gw;
    sc.static_neigh = s.neigh.clone();
    sc.tcp = tcp;
    sc.max_conns = if s.cps.is_some() {
        // Connections come and go: as many as the memory holds at once.
        1 << 22
    } else {
        (s.connections as usize).max(1024)
    };
    if s.cps.is_some() {
        // Every connection's TIME-WAIT (2 s here), at the highest rate one core reaches.
        sc.max_time_wait = 1 << 22;
    }
    sc.src_range = s.src_range;
    sc
}
