//! `linerate ksend`: the kernel baseline for send latency (design.md §6). One TCP connection
//! through the kernel's socket API (`std::net::TcpStream`, `TCP_NODELAY`), messages of `--size`
//! bytes at `--msg-rate` per second for `-t`, and each `write()` call timed with `Instant` into
//! an HdrHistogram. Like `linerate send --latency`, it reports the latency from the actual call
//! time (`send`) and from the message's intended time on the fixed-rate schedule
//! (`send_corrected`, coordinated-omission corrected), as p50/p90/p99/p99.9/max.
//!
//! A `write()` that takes only part of the message (the socket buffer is full) is followed by
//! further calls until the message is out; the message's latency runs from its first call to
//! the end of its last, so a blocked send shows up as the time it blocked. Between messages it
//! spins on the clock (one core busy, like `linerate send`'s polling loop).
use crate::kbulk::Bulk;
use crate::latency::{new_hist, Percentiles};
use crate::units;
use hdrhistogram::Histogram;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub const SCHEMA: u32 = 1;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct KsendArgs {
    /// Where to connect (ip:port), e.g. 198.19.0.2:5201 (a `linerate sink`)
    #[arg(long, value_name = "IP:PORT")]
    pub connect: Option<String>,
    /// Bytes per message, e.g. 64 [default: 64]
    #[arg(long)]
    pub size: Option<String>,
    /// Messages per second, e.g. 10k [default: 10k]
    #[arg(long, value_name = "N/S")]
    pub msg_rate: Option<String>,
    /// Run time, e.g. 5s, 500ms [default: 10s]
    #[arg(short = 't', value_name = "DURATION")]
    pub time: Option<String>,
    /// Leave Nagle on (default: TCP_NODELAY, like `linerate send --latency`)
    #[arg(long)]
    pub nagle: bool,
    /// Print the report as one JSON object
    #[arg(long)]
    pub json: bool,
    /// Request/response: write REQ bytes, read RESP bytes back, again, each transaction timed
    /// (closed loop; with --msg-rate, on that schedule); against `linerate sink --respond
    /// RESP --request REQ`. The kernel baseline of `linerate send --rr`
    #[arg(long, value_name = "REQ/RESP")]
    pub rr: Option<String>,
    /// Fixed-size transfer: each of -P connections writes BYTES and is done when the kernel
    /// has them all acknowledged; the kernel baseline of `linerate send -P N -n BYTES`
    #[arg(short = 'n', value_name = "BYTES")]
    pub bytes: Option<String>,
    /// Connections for -n, e.g. 8 [default: 1]
    #[arg(short = 'P', value_name = "N")]
    pub parallel: Option<String>,
    /// The kernel's congestion control for these connections (TCP_CONGESTION), e.g. cubic
    /// [default: the namespace's net.ipv4.tcp_congestion_control]
    #[arg(long, value_name = "NAME")]
    pub cc: Option<String>,
}

/// Validated settings of `linerate ksend`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ksend {
    pub connect: SocketAddr,
    pub size: usize,
    pub msg_rate: u64,
    pub time: Duration,
    pub nodelay: bool,
    pub json: bool,
    /// --rr: request and response bytes, and whether --msg-rate paces the requests.
    pub rr: Option<(usize, usize, bool)>,
    /// -n: a fixed-size transfer instead of timed messages.
    pub bulk: Option<Bulk>,
    /// --cc, for the message and --rr modes.
    pub cc: Option<String>,
}

impl KsendArgs {
    /// Parses and checks every flag; errors are one line naming the flag.
    pub fn validate(&self) -> Result<Ksend, String> {
        let c = self.connect.as_deref().ok_or(
            "--connect is required: where to send, e.g. --connect 198.19.0.2:5201".to_string(),
        )?;
        let connect: SocketAddr = c.trim().parse().map_err(|_| {
            format!("--connect: invalid address '{c}' (expected ip:port, e.g. 198.19.0.2:5201)")
        })?;
        let size = match &self.size {
            None => 64,
            Some(s) => units::parse_bytes(s).map_err(|e| format!("--size: {e}"))?,
        };
        if size == 0 || size > (16 << 20) {
            return Err(format!(
                "--size: {size} bytes is out of range (1 to 16MiB, e.g. --size 64)"
            ));
        }
        let msg_rate = match &self.msg_rate {
            None => 10_000,
            Some(s) => units::parse_count(s).map_err(|e| format!("--msg-rate: {e}"))?,
        };
        if msg_rate == 0 || msg_rate > 10_000_000 {
            return Err(format!(
                "--msg-rate: {msg_rate} is out of range (1 to 10M messages/s, e.g. --msg-rate 10k)"
            ));
        }
        let time = match &self.time {
            None => Duration::from_secs(10),
            Some(s) => units::parse_duration(s).map_err(|e| format!("-t: {e}"))?,
        };
        if time.is_zero() {
            return Err("-t: the duration must be > 0".into());
        }
        let rr = match &self.rr {
            None => None,
            Some(r) => {
                let bad =
                    || format!("--rr: invalid '{r}' (expected REQ/RESP bytes, e.g. --rr 64/1KiB)");
                let (q, a) = r.split_once('/').ok_or_else(bad)?;
                let q = units::parse_bytes(q).map_err(|_| bad())?;
                let a = units::parse_bytes(a).map_err(|_| bad())?;
                if !(1..=16 << 20).contains(&q) || !(1..=16 << 20).contains(&a) {
                    return Err(format!(
                        "--rr: {q}/{a} is out of range (1 byte to 16MiB each)"
                    ));
                }
                Some((q as usize, a as usize, self.msg_rate.is_some()))
            }
        };
        if let Some(cc) = &self.cc {
            if cc.is_empty() || cc.len() > 15 || !cc.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "--cc: invalid name '{cc}' (a kernel congestion control, e.g. --cc cubic)"
                ));
            }
        }
        let bulk = self.bulk(connect, time, rr.is_some())?;
        Ok(Ksend {
            bulk,
            cc: self.cc.clone(),
            connect,
            size: size as usize,
            msg_rate,
            time,
            nodelay: !self.nagle,
            json: self.json,
            rr,
        })
    }

    /// -n and -P: the fixed-size transfer, if -n is given.
    fn bulk(&self, connect: SocketAddr, time: Duration, rr: bool) -> Result<Option<Bulk>, String> {
        let Some(n) = &self.bytes else {
            if self.parallel.is_some() {
                return Err("-P: connections are for a fixed-size transfer; add -n BYTES, e.g. -P 8 -n 8MiB".into());
            }
            return Ok(None);
        };
        if rr || self.size.is_some() || self.msg_rate.is_some() {
            return Err(
                "-n: a fixed-size transfer takes no --rr, --size or --msg-rate (drop them, or drop -n)"
                    .into(),
            );
        }
        let bytes = units::parse_bytes(n).map_err(|e| format!("-n: {e}"))?;
        if bytes == 0 {
            return Err("-n: the transfer must be at least 1 byte, e.g. -n 8MiB".into());
        }
        let conns = match &self.parallel {
            None => 1,
            Some(p) => p.trim().parse::<usize>().map_err(|_| {
                format!("-P: invalid '{p}' (expected a number of connections, e.g. -P 8)")
            })?,
        };
        if !(1..=1024).contains(&conns) {
            return Err(format!(
                "-P: {conns} is out of range (1 to 1024 connections)"
            ));
        }
        // -t bounds a bulk run; without it, five minutes.
        let limit = if self.time.is_some() {
            time
        } else {
            Duration::from_secs(300)
        };
        Ok(Some(Bulk {
            connect,
            conns,
            bytes,
            cc: self.cc.clone(),
            limit,
        }))
    }
}

/// The result of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KsendReport {
    pub schema: u32,
    pub connect: String,
    pub size: usize,
    pub msg_rate: u64,
    pub nodelay: bool,
    pub duration_s: f64,
    pub messages: u64,
    pub bytes: u64,
    /// `write()` calls that took only part of a message.
    pub partial_writes: u64,
    /// From the first `write()` of a message to the return of its last.
    pub send: Option<Percentiles>,
    /// From the message's intended time to the return of its last `write()`.
    pub send_corrected: Option<Percentiles>,
    /// --rr: [request, response] bytes, transactions and their rate (null otherwise).
    pub rr: Option<[usize; 2]>,
    pub transactions: u64,
    pub transactions_per_s: f64,
    /// --rr: a request's first `write()` to its response's last byte read.
    pub transaction: Option<Percentiles>,
    /// --rr with --msg-rate: from the request's intended time.
    pub transaction_corrected: Option<Percentiles>,
}

impl KsendReport {
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "linerate ksend report: {} messages of {} bytes to {} at {}/s over {:.3} s (nodelay {}, partial writes {})\n",
            self.messages,
            self.size,
            self.connect,
            self.msg_rate,
            self.duration_s,
            if self.nodelay { "on" } else { "off" },
            self.partial_writes
        );
        s.push_str(&format!(
            "  latency (us)   {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
            "count", "p50", "p90", "p99", "p99.9", "max", "mean"
        ));
        if let Some([q, a]) = self.rr {
            s.push_str(&format!(
                "  transactions   {} of {q}/{a} bytes, {:.0}/s\n",
                self.transactions, self.transactions_per_s
            ));
        }
        for (name, p) in [
            ("send", &self.send),
            ("send-corr", &self.send_corrected),
            ("transaction", &self.transaction),
            ("transact-corr", &self.transaction_corrected),
        ] {
            if let Some(p) = p {
                s.push_str(&format!(
                    "    {name:<12} {:>10} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>10.2}\n",
                    p.count, p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.max_us, p.mean_us
                ));
            }
        }
        s.pop();
        s
    }
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let _ = h.record((d.as_nanos() as u64).max(1));
}

/// Entry point of `linerate ksend`. Usage errors come back as `Err` before any I/O.
pub fn run(k: &Ksend) -> Result<KsendReport, String> {
    let mut sock = TcpStream::connect_timeout(&k.connect, Duration::from_secs(5))
        .map_err(|e| format!("connect {}: {e}", k.connect))?;
    sock.set_nodelay(k.nodelay)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    if let Some(cc) = &k.cc {
        socket2::SockRef::from(&sock)
            .set_tcp_congestion(cc.as_bytes())
            .map_err(|e| format!("--cc {cc}: the kernel refused it ({e})"))?;
    }
    if let Some(rr) = k.rr {
        return run_rr(k, sock, rr);
    }
    let msg: Vec<u8> = (0..k.size).map(|i| (i % 251) as u8).collect();
    let mut send = new_hist();
    let mut corrected = new_hist();
    let interval = 1e9 / k.msg_rate as f64;
    let start = Instant::now();
    let mut sent = 0u64;
    let mut partial = 0u64;
    loop {
        let due = start + Duration::from_nanos((sent as f64 * interval) as u64);
        if due.saturating_duration_since(start) >= k.time {
            break;
        }
        // Wait for the message's time by spinning (like linerate's polling loop; a sleep would
        // add the timer's wake-up slack to the corrected latency).
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        let t0 = Instant::now();
        let mut off = 0;
        while off < msg.len() {
            match sock.write(&msg[off..]) {
                Ok(0) => return Err("write: the connection closed".into()),
                Ok(n) => {
                    off += n;
                    if off < msg.len() {
                        partial += 1;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("write: {e}")),
            }
        }
        let t1 = Instant::now();
        record(&mut send, t1 - t0);
        record(&mut corrected, t1.saturating_duration_since(due));
        sent += 1;
    }
    let duration_s = start.elapsed().as_secs_f64();
    let _ = sock.shutdown(std::net::Shutdown::Write);
    Ok(KsendReport {
        schema: SCHEMA,
        connect: k.connect.to_string(),
        size: k.size,
        msg_rate: k.msg_rate,
        nodelay: k.nodelay,
        duration_s,
        messages: sent,
        bytes: sent * k.size as u64,
        partial_writes: partial,
        send: Percentiles::of(&send),
        send_corrected: Percentiles::of(&corrected),
        rr: None,
        transactions: 0,
        transactions_per_s: 0.0,
        transaction: None,
        transaction_corrected: None,
    })
}

/// --rr: write the request, read the whole response, time it; closed loop, or on the
/// --msg-rate schedule (then also from each request's intended time).
fn run_rr(
    k: &Ksend,
    mut sock: TcpStream,
    (req, resp, paced): (usize, usize, bool),
) -> Result<KsendReport, String> {
    use std::io::Read;
    let request: Vec<u8> = (0..req).map(|i| (i % 251) as u8).collect();
    let mut buf = vec![0u8; resp];
    let (mut lat, mut corrected) = (new_hist(), new_hist());
    let interval = 1e9 / k.msg_rate as f64;
    let start = Instant::now();
    let mut done = 0u64;
    loop {
        let due = start + Duration::from_nanos((done as f64 * interval) as u64);
        if paced {
            if due.saturating_duration_since(start) >= k.time {
                break;
            }
            while Instant::now() < due {
                std::hint::spin_loop();
            }
        } else if start.elapsed() >= k.time {
            break;
        }
        let t0 = Instant::now();
        sock.write_all(&request)
            .map_err(|e| format!("write: {e}"))?;
        sock.read_exact(&mut buf)
            .map_err(|e| format!("read: {e}"))?;
        let t1 = Instant::now();
        record(&mut lat, t1 - t0);
        if paced {
            record(&mut corrected, t1.saturating_duration_since(due));
        }
        done += 1;
    }
    let duration_s = start.elapsed().as_secs_f64();
    let _ = sock.shutdown(std::net::Shutdown::Write);
    Ok(KsendReport {
        schema: SCHEMA,
        connect: k.connect.to_string(),
        size: req,
        msg_rate: if paced { k.msg_rate } else { 0 },
        nodelay: k.nodelay,
        duration_s,
        messages: done,
        bytes: done * req as u64,
        partial_writes: 0,
        send: None,
        send_corrected: None,
        rr: Some([req, resp]),
        transactions: done,
        transactions_per_s: done as f64 / duration_s.max(1e-9),
        transaction: Percentiles::of(&lat),
        transaction_corrected: Percentiles::of(&corrected),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    fn args(connect: &str) -> KsendArgs {
        KsendArgs {
            connect: Some(connect.into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_and_errors() {
        let k = args("127.0.0.1:5201").validate().unwrap();
        assert_eq!(k.size, 64);
        assert_eq!(k.msg_rate, 10_000);
        assert_eq!(k.time, Duration::from_secs(10));
        assert!(k.nodelay);
        let cases: Vec<(KsendArgs, &str)> = vec![
            (KsendArgs::default(), "--connect is required"),
            (args("198.19.0.2"), "--connect: invalid address"),
            (
                KsendArgs {
                    size: Some("0".into()),
                    ..args("127.0.0.1:1")
                },
                "--size:",
            ),
            (
                KsendArgs {
                    size: Some("12Q".into()),
                    ..args("127.0.0.1:1")
                },
                "--size:",
            ),
            (
                KsendArgs {
                    msg_rate: Some("0".into()),
                    ..args("127.0.0.1:1")
                },
                "--msg-rate:",
            ),
            (
                KsendArgs {
                    msg_rate: Some("fast".into()),
                    ..args("127.0.0.1:1")
                },
                "--msg-rate:",
            ),
            (
                KsendArgs {
                    time: Some("0s".into()),
                    ..args("127.0.0.1:1")
                },
                "-t:",
            ),
            (
                KsendArgs {
                    time: Some("x".into()),
                    ..args("127.0.0.1:1")
                },
                "-t:",
            ),
        ];
        for (a, want) in cases {
            let e = a.validate().unwrap_err();
            assert!(e.starts_with(want), "want {want:?}, got {e:?}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn sends_at_the_rate_and_reports() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let rx = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut v = Vec::new();
            s.read_to_end(&mut v).unwrap();
            v.len()
        });
        let k = KsendArgs {
            msg_rate: Some("2000".into()),
            time: Some("200ms".into()),
            json: true,
            ..args(&addr.to_string())
        }
        .validate()
        .unwrap();
        let r = run(&k).unwrap();
        assert_eq!(r.messages, 400);
        assert_eq!(rx.join().unwrap(), 400 * 64);
        let p = r.send.unwrap();
        assert_eq!(p.count, 400);
        assert!(p.p50_us > 0.0 && p.p50_us <= p.p999_us && p.p999_us <= p.max_us);
        assert!(r.send_corrected.unwrap().p50_us >= p.min_us);
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["schema"], 1);
        assert!(v["send"]["p999_us"].is_number());
        assert!(r.to_text().contains("send-corr"));
    }

    /// --rr against a responder: each transaction is a request out and a response back.
    #[test]
    fn request_response_counts_transactions() {
        use std::io::Write as _;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let srv = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let (mut req, mut n) = ([0u8; 10], 0u64);
            while s.read_exact(&mut req).is_ok() {
                s.write_all(&[7u8; 300]).unwrap();
                n += 1;
            }
            n
        });
        let k = KsendArgs {
            rr: Some("10/300".into()),
            time: Some("200ms".into()),
            ..args(&addr.to_string())
        }
        .validate()
        .unwrap();
        assert_eq!(k.rr, Some((10, 300, false)));
        let r = run(&k).unwrap();
        assert!(r.transactions > 10, "{r:?}");
        assert_eq!(srv.join().unwrap(), r.transactions);
        assert_eq!(r.transaction.unwrap().count, r.transactions);
        assert!(
            r.transaction_corrected.is_none(),
            "closed loop: nothing to correct"
        );
        for bad in ["10", "0/5", "5/x"] {
            let e = KsendArgs {
                rr: Some(bad.into()),
                ..args("127.0.0.1:1")
            }
            .validate()
            .unwrap_err();
            assert!(e.starts_with("--rr:"), "{bad}: {e}");
        }
    }
}
