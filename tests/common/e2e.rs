//! The end-to-end harness: one DPDK port on lr-gen's veth (net_af_packet), a linerate stack on
//! it, and `linerate sink` on the kernel's sockets in lr-sink.
use super::{eal, pool};
use linerate::dpdk::{Mempool, Port, PortConfig};
use linerate::Ipv4Cidr;
use linerate::{ConnId, Stack, StackConfig, State, TscClock};
use linerate::{Device, DpdkDevice};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

pub const OUR_IP: &str = "198.18.0.1/24";
pub const GW: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 254);
pub const SINK_IP: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);

pub struct Env {
    pub port: Port,
    pub pool: Arc<Mempool>,
}

static ENV: OnceLock<Env> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

/// Turns for tests that run their own DPDK process on lr-gen0 (two at once would both see
/// every frame).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The shared port (one per process: EAL and the vdev live for the whole test binary), and a
/// lock so tests take turns on its single queue pair.
pub fn env() -> (&'static Env, MutexGuard<'static, ()>) {
    let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let env = ENV.get_or_init(|| {
        let eal =
            eal(&["net_af_packet0,iface=lr-gen0,qpairs=1,blocksz=4096,framesz=2048,framecnt=4096"]);
        let pool = pool(&eal, "e2e_pool", 65_535);
        let port = Port::open(
            &eal,
            "net_af_packet0",
            &PortConfig {
                rx_desc: 1024,
                tx_desc: 1024,
                ..Default::default()
            },
            pool.clone(),
        )
        .expect("af_packet port on lr-gen0 starts (is the topology up, and are we in lr-gen?)");
        Env { port, pool }
    });
    (env, guard)
}

pub fn stack_config() -> StackConfig {
    let mut c = StackConfig::new(OUR_IP.parse::<Ipv4Cidr>().expect("valid CIDR"));
    c.gateway = Some(GW);
    c.tcp.time_wait = 1_000_000_000;
    c
}

pub fn new_stack(env: &Env, cfg: StackConfig, clock: &TscClock) -> Stack<DpdkDevice> {
    let q = env.port.queue(0).expect("queue pair 0 is free");
    Stack::new(
        DpdkDevice::new(q).expect("device"),
        env.pool.clone(),
        cfg,
        clock.now(),
    )
}

/// `linerate send` over lr-gen's veth (af_packet) to `sink`, through the router, on lcores
/// `lcores`, with `qpairs` queue pairs; the caller adds the workload flags.
pub fn send_to_sink(sink: SocketAddrV4, lcores: &str, qpairs: u16) -> Command {
    let vdev = format!("--vdev=net_af_packet0,iface=lr-gen0,framecnt=4096,qpairs={qpairs}");
    let eal = if super::hugepages() > 0 {
        format!("--no-pci --no-telemetry --in-memory -l {lcores} {vdev}")
    } else {
        eprintln!("note: no hugepages reserved; running DPDK with --no-huge");
        format!("--no-pci --no-telemetry --no-huge --no-shconf -m 1024 -l {lcores} {vdev}")
    };
    let mut c = Command::new(linerate_bin());
    c.args([
        "send",
        "--dpdk",
        &eal,
        "--ip",
        "198.18.0.1/24",
        "--gw",
        "198.18.0.254",
    ])
    .args(["--dst", &sink.to_string()]);
    c
}

/// Runs `linerate send` (`cmd`) to its end: its stderr is echoed, it must succeed, and the
/// last line of its stdout is the JSON report, returned.
pub fn run_report(cmd: &mut Command) -> serde_json::Value {
    report_of(cmd.output().expect("run linerate send"))
}

/// The JSON report on the last line of a successful run's stdout.
fn report_of(out: std::process::Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!("{stderr}");
    assert!(out.status.success(), "linerate send failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("the report is one JSON object ({e}): {stdout}"))
}

/// `run_report` for a run that must end within `secs` seconds: one that stalls is killed
/// and fails the test instead of hanging it.
pub fn run_report_within(cmd: &mut Command, secs: u64) -> serde_json::Value {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run linerate send");
    let end = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect");
            panic!(
                "linerate send stalled: still running after {secs} s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    report_of(child.wait_with_output().expect("collect"))
}

/// The sink saw `n` connections, each `bytes` long with SHA-256 `sha`, closed with FIN.
pub fn assert_all_whole(conns: &[SinkConn], n: usize, bytes: u64, sha: &str) {
    assert_eq!(conns.len(), n, "one sink report per connection");
    for c in conns {
        assert_eq!(c.bytes, bytes, "{c:?}");
        assert_eq!(c.sha256, sha, "bytes intact: {c:?}");
        assert_eq!(c.closed, "fin", "{c:?}");
    }
}

/// The `linerate` binary built next to this test.
pub fn linerate_bin() -> PathBuf {
    if let Ok(p) = std::env::var("LINERATE_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test exe path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("linerate");
    assert!(
        bin.exists(),
        "{} missing: build the workspace first (cargo build)",
        bin.display()
    );
    bin
}

/// One connection's report from the sink.
#[derive(Debug, Clone)]
pub struct SinkConn {
    pub bytes: u64,
    pub sha256: String,
    pub closed: String,
    /// Responses it sent (`--respond`).
    pub responses: u64,
}

pub struct Sink {
    child: Child,
    pub port: u16,
}

impl Sink {
    /// Starts `linerate sink` in lr-sink, waiting for `count` connections.
    pub fn start(port: u16, count: usize) -> Sink {
        Self::start_with(port, count, &[])
    }

    /// `start` with more sink flags (e.g. `--respond`).
    pub fn start_with(port: u16, count: usize, extra: &[&str]) -> Sink {
        let mut child = Command::new("ip")
            .args(["netns", "exec", "lr-sink"])
            .arg(linerate_bin())
            .args([
                "sink",
                "--listen",
                &format!("{SINK_IP}:{port}"),
                "--json",
                "--count",
                &count.to_string(),
                "--timeout",
                "120",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sink");
        // Wait for "listening" on stderr.
        let err = child.stderr.take().expect("stderr");
        let mut r = BufReader::new(err);
        let mut line = String::new();
        r.read_line(&mut line).expect("sink stderr");
        assert!(line.contains("listening"), "sink did not start: {line}");
        std::thread::spawn(move || {
            let mut s = String::new();
            while r.read_line(&mut s).map(|n| n > 0).unwrap_or(false) {
                eprint!("sink: {s}");
                s.clear();
            }
        });
        Sink { child, port }
    }

    pub fn addr(&self) -> SocketAddrV4 {
        SocketAddrV4::new(SINK_IP, self.port)
    }

    /// Waits for the sink to exit and returns its per-connection reports.
    pub fn finish(mut self) -> Vec<SinkConn> {
        let out = self.child.stdout.take().expect("stdout");
        let mut res = Vec::new();
        for line in BufReader::new(out).lines() {
            let line = line.expect("sink stdout");
            let v: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("sink printed {line:?}: {e}"));
            res.push(SinkConn {
                bytes: v["bytes"].as_u64().expect("bytes"),
                sha256: v["sha256"].as_str().expect("sha256").to_owned(),
                closed: v["closed"].as_str().expect("closed").to_owned(),
                responses: v["responses"].as_u64().unwrap_or(0),
            });
        }
        let st = self.child.wait().expect("sink exits");
        assert!(st.success(), "sink failed: {st}");
        res
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Deterministic pseudo-random bytes.
pub fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    linerate_sim::SimRng::new(seed).fill(&mut v);
    v
}

pub fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Sends `payloads[i]` on connection i (all opened to `dst`), closes each when done, and
/// polls until every connection is CLOSED/freed or `limit` passes. Returns the stack.
pub fn transfer<D: Device>(
    stack: &mut Stack<D>,
    clock: &TscClock,
    dst: SocketAddrV4,
    payloads: &[Vec<u8>],
    limit: Duration,
) -> Vec<ConnId> {
    let ids: Vec<ConnId> = payloads
        .iter()
        .map(|_| stack.connect(dst, None).expect("connect"))
        .collect();
    let mut off = vec![0usize; ids.len()];
    let mut closed = vec![false; ids.len()];
    let t0 = Instant::now();
    loop {
        stack.poll(clock.now());
        let mut all_done = true;
        for (i, &id) in ids.iter().enumerate() {
            match stack.state(id) {
                Some(State::SynSent) => {
                    all_done = false;
                    continue;
                }
                None => continue,
                Some(State::Closed) => {
                    if let Some(e) = stack.error(id) {
                        panic!("connection {i} failed: {e} ({:?})", stack.info(id));
                    }
                    continue;
                }
                Some(_) => all_done = false,
            }
            while off[i] < payloads[i].len() {
                match stack.send(id, &payloads[i][off[i]..]) {
                    Ok(n) => off[i] += n,
                    Err(linerate::IoError::WouldBlock) => break,
                    Err(e) => panic!("send on connection {i}: {e}"),
                }
            }
            if off[i] == payloads[i].len() && !closed[i] {
                stack.close(id).expect("close");
                closed[i] = true;
            }
        }
        if all_done {
            break;
        }
        assert!(
            t0.elapsed() < limit,
            "transfer did not finish in {limit:?}: {:?}",
            ids.iter().map(|&id| stack.info(id)).collect::<Vec<_>>()
        );
    }
    ids
}

/// Polls for `d` (to let TIME-WAIT and late frames settle).
pub fn settle<D: Device>(stack: &mut Stack<D>, clock: &TscClock, d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        stack.poll(clock.now());
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Runs `scripts/topology.sh` with args.
pub fn topology(args: &[&str]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let st = Command::new("bash")
        .arg(root.join("scripts/topology.sh"))
        .args(args)
        .status()
        .expect("topology.sh runs");
    assert!(st.success(), "scripts/topology.sh {args:?} failed");
}
