//! What the cross-thread handle adds to submit-to-wire latency, measured in one run: 64-byte
//! messages on one connection at a fixed rate, each stamped with the TSC just before the
//! call, sent by the stack's own thread (`Stack::send`) or by an app thread through
//! `linerate::remote` (`Request::Message`, the message inline in the queue), the two
//! alternating in rounds. A device wrapper
//! under the stack reads each message's stamp when its frame is accepted by `tx_burst`.
//!
//! ```sh
//! cargo run --release --features ack-peer --example remote_latency -- \
//!     "-l 0 --in-memory --no-pci --no-telemetry --vdev=net_null0" 20000 10 50000
//! ```
//!
//! Arguments, all optional: EAL arguments, messages per round, rounds, messages per second.
//! The port is answered by the in-process ACK peer; the stack runs on the EAL main lcore.
//! Each round's p50s go to stderr: a round far off the others had a busy CPU.
use linerate::dpdk::MBUF_DEFAULT_DATAROOM;
use linerate::dpdk::{rdtsc, tsc_hz, Eal, Mbuf, Mempool, Offloads, Port, PortConfig};
use linerate::event::ERROR;
use linerate::peer::AckPeer;
use linerate::remote::{remote, RemoteHandle, Reply};
use linerate::IoError;
use linerate::{ConnId, Device, DpdkDevice, Ipv4Cidr, MacAddr, Stack, StackConfig, State};
use linerate::{TscClock, SEC};
use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

const DEFAULT_EAL: &str = "-l 0 --in-memory --no-pci --no-telemetry --vdev=net_null0";
const MSG: usize = 64;

/// A message: magic, then the TSC stamp at 8..16.
fn message() -> [u8; MSG] {
    let mut m = [0x4f_u8; MSG];
    m[..8].copy_from_slice(b"LRLATMSG");
    m
}

/// Passes frames through, timing each message from its stamp to the hand-over of the frame
/// with its last byte. Messages are read off the byte stream by TCP sequence number: a send
/// that waited (a full window) leaves merged into a bigger segment, off message boundaries,
/// and a retransmission is not new data.
struct Meter<D> {
    inner: D,
    tap: Tap,
}

#[derive(Default)]
struct Tap {
    cycles: Vec<u64>,
    /// The first payload byte's sequence number; stream bytes seen so far.
    base: Option<u32>,
    next: u32,
    /// The message being put together.
    msg: Vec<u8>,
    /// This burst's payloads, copied (after `tx_burst` the frames are the device's), and
    /// each frame's sequence number and end in `scratch`.
    scratch: Vec<u8>,
    frames: Vec<(u32, usize)>,
}

/// A frame's TCP sequence number and payload, if it is IPv4 TCP.
fn tcp(f: &[u8]) -> Option<(u32, &[u8])> {
    if f.len() < 54 || f[12..14] != [0x08, 0x00] || f[23] != 6 {
        return None;
    }
    let ip = &f[14..];
    let total = (u16::from_be_bytes([ip[2], ip[3]]) as usize).min(ip.len());
    let t = ip.get((ip[0] & 0x0f) as usize * 4..total)?;
    let seq = u32::from_be_bytes(t.get(4..8)?.try_into().ok()?);
    Some((seq, t.get((*t.get(12)? >> 4) as usize * 4..)?))
}

impl Tap {
    /// Takes in an accepted frame's payload, which starts at sequence number `seq`.
    fn feed(&mut self, seq: u32, mut data: &[u8], now: u64) {
        if data.is_empty() {
            return;
        }
        // No data rides on the SYN: the first payload starts the stream.
        let base = *self.base.get_or_insert(seq);
        let ahead = self.next.wrapping_sub(seq.wrapping_sub(base)) as i32;
        if ahead < 0 || ahead as usize >= data.len() {
            return; // old bytes only (the stack never skips ahead)
        }
        data = &data[ahead as usize..];
        self.next = self.next.wrapping_add(data.len() as u32);
        while !data.is_empty() {
            let k = (MSG - self.msg.len()).min(data.len());
            self.msg.extend_from_slice(&data[..k]);
            data = &data[k..];
            if self.msg.len() == MSG {
                if self.msg[..8] == message()[..8] {
                    let stamp = u64::from_le_bytes(self.msg[8..16].try_into().unwrap());
                    self.cycles.push(now.saturating_sub(stamp));
                }
                self.msg.clear();
            }
        }
    }
}

impl<D: Device> Device for Meter<D> {
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        self.inner.rx_burst(out)
    }

    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let (now, t) = (rdtsc(), &mut self.tap);
        t.scratch.clear();
        t.frames.clear();
        for m in pkts.iter() {
            // Copied sends are one mbuf each: `data` is the whole frame.
            let (seq, data) = tcp(m.data()).unwrap_or((0, &[]));
            t.scratch.extend_from_slice(data);
            t.frames.push((seq, t.scratch.len()));
        }
        let n = self.inner.tx_burst(pkts);
        let scratch = std::mem::take(&mut t.scratch);
        let frames = std::mem::take(&mut t.frames);
        let mut from = 0;
        for &(seq, end) in &frames[..n] {
            t.feed(seq, &scratch[from..end], now);
            from = end;
        }
        (t.scratch, t.frames) = (scratch, frames);
        n
    }

    fn mac(&self) -> MacAddr {
        self.inner.mac()
    }

    fn offloads(&self) -> Offloads {
        self.inner.offloads()
    }

    fn tx_done_cleanup(&mut self) {
        self.inner.tx_done_cleanup()
    }
}

/// One cross-thread phase: connection, messages, clock, ns between messages.
type Job = (ConnId, usize, TscClock, f64);

/// The app thread: per job, submits the messages on the schedule and reports why it stopped
/// if it did (a refusal comes back as a reply).
fn app(
    mut h: RemoteHandle,
    jobs: mpsc::Receiver<Job>,
    done: mpsc::Sender<Result<u64, String>>,
    busy: Arc<AtomicBool>,
) {
    let mut msg = message();
    let take = |h: &mut RemoteHandle| -> Result<(), String> {
        while let Some(r) = h.take() {
            match r {
                Reply::Event(e) if e.what & ERROR == 0 => {}
                other => return Err(format!("the stack refused: {other:?}")),
            }
        }
        Ok(())
    };
    for (conn, n, clock, gap) in jobs {
        let mut run = || -> Result<u64, String> {
            let t0 = clock.now();
            // Submits that found the queue full: at this rate the stack's thread keeps it
            // empty unless the host takes its CPU away for a while.
            let mut waits = 0;
            for i in 0..n {
                let due = t0 + (i as f64 * gap) as u64;
                while clock.now() < due {
                    take(&mut h)?;
                }
                let give_up = clock.now() + 5_000_000_000;
                loop {
                    // Stamped at each try: the figure is submit → wire, not time spent waiting.
                    msg[8..16].copy_from_slice(&rdtsc().to_le_bytes());
                    match h.send_message(conn, &msg) {
                        Ok(()) => break,
                        Err(Some(_)) if clock.now() < give_up => {
                            waits += 1;
                            take(&mut h)?;
                            std::hint::spin_loop();
                        }
                        Err(Some(_)) => return Err("request queue full for 5 s".into()),
                        Err(None) => return Err("message too long".into()),
                    }
                }
            }
            take(&mut h)?;
            Ok(waits)
        };
        let res = run();
        busy.store(false, Ordering::Release);
        if done.send(res).is_err() {
            return;
        }
    }
}

type S = Stack<Meter<AckPeer<DpdkDevice>>>;

/// p50, p99 and p99.9 in ns.
fn pcts(cycles: &mut [u64], hz: u64) -> [u64; 3] {
    cycles.sort_unstable();
    let ns = |c: u64| (c as u128 * 1_000_000_000 / hz as u128) as u64;
    [0.5, 0.99, 0.999].map(|p| ns(cycles[((cycles.len() - 1) as f64 * p) as usize]))
}

fn run() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The EAL string is optional: a first argument that is a number is the message count.
    let skip = usize::from(args.first().is_some_and(|a| a.parse::<u64>().is_err()));
    let eal_args = args
        .first()
        .filter(|_| skip == 1)
        .map_or(DEFAULT_EAL, String::as_str);
    let num = |i: usize, default: u64, what: &str| match args.get(skip + i) {
        None => Ok(default),
        Some(s) => s
            .parse()
            .ok()
            .filter(|&v| v > 0)
            .ok_or(format!("{what}: {s:?} is not a whole number above 0")),
    };
    let n = num(0, 20_000, "messages per round")? as usize;
    let rounds = num(1, 10, "rounds")? as usize;
    let rate = num(2, 50_000, "messages per second")?;
    if args.len() > skip + 3 {
        return Err("too many arguments: give [EAL arguments] [messages per round] [rounds] [messages per second]".into());
    }

    // The app thread starts before EAL pins this thread to the main lcore, so that it keeps
    // the process's CPU mask rather than sharing lcore 0 with the stack.
    let (handle, mut port) = remote(1024);
    let (job_tx, job_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let busy = Arc::new(AtomicBool::new(false));
    let app_thread = std::thread::spawn({
        let busy = busy.clone();
        move || app(handle, job_rx, done_tx, busy)
    });

    let eal = Eal::init(&eal_args.split_whitespace().collect::<Vec<_>>())?;
    let pool = Mempool::new(&eal, "remote_lat", 16_383, 512, MBUF_DEFAULT_DATAROOM, None)?;
    let pool = Arc::new(pool);
    let port0 = Port::open(&eal, "0", &PortConfig::default(), pool.clone())?;
    let local: Ipv4Cidr = "198.18.0.1/24".parse()?;
    let dst: std::net::SocketAddrV4 = "198.18.0.2:5201".parse()?;
    let nic = DpdkDevice::new(port0.queue(0)?)?;
    let peer = AckPeer::new(nic, pool.clone(), local.addr, *dst.ip());
    let tap = Tap {
        cycles: Vec::with_capacity(n + 64),
        ..Tap::default()
    };
    let dev = Meter { inner: peer, tap };
    let mut cfg = StackConfig::new(local);
    cfg.tcp.nodelay = true;
    let clock = TscClock::new();
    let mut stack = Stack::new(dev, pool, cfg, clock.now());
    let conn = stack.connect(dst, None)?;
    let deadline = clock.now() + 5 * SEC;
    while stack.state(conn) != Some(State::Established) {
        if clock.now() > deadline {
            return Err(format!("no handshake in 5 s: {:?}", stack.info(conn)).into());
        }
        stack.poll(clock.now());
    }

    let (mut same, mut cross) = (Vec::new(), Vec::new());
    let (mut sent, mut msg, hz) = (0u64, message(), tsc_hz());
    // Same-thread sends that found the send buffer full and waited for ACKs, and
    // cross-thread submits that found the request queue full.
    let (mut waits, mut queue_waits) = (0u64, 0u64);
    let gap = SEC as f64 / rate as f64;
    // Round 0 warms both paths up and is not counted; in the others the phases' order
    // alternates, so that neither always runs right after the other.
    for round in 0..=rounds {
        let k = if round == 0 { n.min(5_000) } else { n };
        let mut note = format!("round {round}:");
        for cross_phase in [round % 2 == 1, round % 2 == 0] {
            let mut loop_ns = 0;
            if cross_phase {
                busy.store(true, Ordering::Release);
                job_tx.send((conn, k, clock, gap))?;
                let (t0, mut loops) = (clock.now(), 0);
                while busy.load(Ordering::Acquire) {
                    stack.poll(clock.now());
                    port.run(&mut stack);
                    loops += 1;
                }
                // A request waits half a loop on average before `run` sees it.
                loop_ns = (clock.now() - t0) / loops.max(1);
                queue_waits += done_rx.recv()??;
            } else {
                let t0 = clock.now();
                for i in 0..k {
                    let due = t0 + (i as f64 * gap) as u64;
                    while clock.now() < due {
                        stack.poll(clock.now());
                    }
                    // A full send buffer is backpressure, not an error: poll (ACKs free it)
                    // and send again, stamped again, so the figure times the accepted send.
                    let give_up = clock.now() + 5 * SEC;
                    loop {
                        msg[8..16].copy_from_slice(&rdtsc().to_le_bytes());
                        match stack.send(conn, &msg) {
                            Ok(MSG) => break,
                            Err(IoError::WouldBlock) if clock.now() < give_up => {
                                waits += 1;
                                stack.poll(clock.now());
                            }
                            other => return Err(format!("message {i}: send gave {other:?}").into()),
                        }
                    }
                }
            }
            // The phase is over once every byte is acknowledged and every message timed.
            sent += k as u64;
            let (deadline, want) = (clock.now() + 5 * SEC, sent * MSG as u64);
            let acked = |s: &S| s.info(conn).map_or(0, |i| i.counters.bytes_acked);
            while acked(&stack) < want || stack.device().tap.cycles.len() < k {
                if clock.now() > deadline {
                    let timed = stack.device().tap.cycles.len();
                    let acked = acked(&stack);
                    let what =
                        format!("{acked} of {want} bytes acked, {timed} of {k} messages timed");
                    return Err(format!("after 5 s: {what}").into());
                }
                stack.poll(clock.now());
                // The app thread's last requests may still be in the ring when it says it is
                // done: apply them too.
                if cross_phase {
                    port.run(&mut stack);
                }
            }
            // Copied out, not taken: the meter keeps its capacity and never allocates.
            let got = &mut stack.device_mut().tap.cycles;
            let p50 = pcts(got, hz)[0];
            note += &if cross_phase {
                format!(" cross_p50_ns={p50} stack_loop_ns={loop_ns}")
            } else {
                format!(" same_p50_ns={p50}")
            };
            if round > 0 {
                if cross_phase { &mut cross } else { &mut same }.extend_from_slice(got);
            }
            got.clear();
        }
        // Events of same-thread phases stay queued (one per connection) for the app thread.
        eprintln!("{note}");
    }
    drop(job_tx);
    app_thread.join().map_err(|_| "the app thread panicked")?;

    let [s50, s99, s999] = pcts(&mut same, hz);
    let [c50, c99, c999] = pcts(&mut cross, hz);
    println!(
        "remote_latency: same_p50_ns={s50} same_p99_ns={s99} same_p999_ns={s999} cross_p50_ns={c50} cross_p99_ns={c99} cross_p999_ns={c999} added_p50_ns={} messages={} send_waits={waits} queue_waits={queue_waits}",
        c50 as i64 - s50 as i64,
        same.len()
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("remote_latency: {e}");
        std::process::exit(1);
    }
}
