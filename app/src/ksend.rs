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
        Ok(Ksend {
            connect,
            size: size as usize,
            msg_rate,
            time,
            nodelay: !self.nagle,
            json: self.json,
        })
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
        for (name, p) in [("send", &self.send), ("send-corr", &self.send_corrected)] {
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
}
