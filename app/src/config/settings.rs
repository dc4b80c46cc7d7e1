//! The validated settings of `linerate send` (what [`fn@super::merge`] produces and the run
//! reads), their defaults, and the settings echo printed before a run.
use crate::units;
use linerate::{Ipv4Cidr, MacAddr};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

/// How the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Duration(Duration),
    BytesPerConn(u64),
    /// --cps: `bytes` per connection, new connections for `run`.
    Cps {
        run: Duration,
        bytes: u64,
    },
}

/// Where the payload comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Random { seed: u64 },
    File(PathBuf),
}

/// Validated, merged settings of `linerate send`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub eal: Vec<String>,
    pub port: String,
    pub ip: Ipv4Cidr,
    pub gw: Option<Ipv4Addr>,
    pub neigh: Vec<(Ipv4Addr, MacAddr)>,
    pub dst: Vec<SocketAddrV4>,
    pub connections: u32,
    pub stop: Stop,
    pub size: u64,
    pub payload: Payload,
    /// Total payload rate in bits/s.
    pub rate: Option<u64>,
    pub nodelay: bool,
    pub mss: u16,
    pub cc: String,
    /// Pace each connection at a rate from cwnd/srtt (`--no-pacing` turns it off).
    pub pacing: bool,
    pub sndbuf: u64,
    /// Latency mode: messages per second per connection.
    pub latency: Option<u64>,
    /// Hold mode: each connection sends `size` bytes at this interval.
    pub hold: Option<Duration>,
    /// Connection-rate mode: new connections per second.
    pub cps: Option<u64>,
    /// Request/response mode: (request, response) bytes.
    pub rr: Option<(u64, u64)>,
    /// Further source addresses (inclusive range).
    pub src_range: Option<(Ipv4Addr, Ipv4Addr)>,
    pub json: bool,
    /// One JSON object per second on stdout.
    pub json_lines: bool,
    pub hist_out: Option<PathBuf>,
    pub pcap: Option<PathBuf>,
    pub pcap_count: u64,
    pub quiet: bool,
    pub mbufs: u32,
    /// `--mbufs` was not given: the pool grows with the number of workers.
    pub mbufs_auto: bool,
    /// `--workers`: per-core stacks; None = one per EAL lcore.
    pub workers: Option<u32>,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// `--ack-peer`: an in-process receiver on `dst[0]`'s address answers instead of the
    /// network.
    pub ack_peer: bool,
    /// `--ack-peer-offloads`: the peer presents emulated IPv4/TCP checksum offload.
    pub ack_peer_offloads: bool,
    /// `--ack-peer-tso`: the ACK peer also presents TSO (emulated).
    pub ack_peer_tso: bool,
    /// `--ack-peer-gro`: the ACK peer ACKs once per burst of a connection (GRO receiver).
    pub ack_peer_gro: bool,
    /// `--copy`: writes copy the payload (`send`) instead of referencing it (`send_region`).
    pub copy: bool,
}

pub const DEFAULT_SIZE: u64 = 128 << 10;
pub const DEFAULT_SNDBUF: u64 = 4 << 20;
pub const DEFAULT_TIME: Duration = Duration::from_secs(10);
pub const MAX_MBUFS: u32 = 262_143;
pub const MIN_MBUFS: u32 = 8_191;

/// Mbufs for `conns` connections with `sndbuf` each: a full send buffer of MSS segments per
/// connection, the RX and TX rings, the stack's TX backlog and its reserve; capped.
pub fn mempool_size(conns: u64, sndbuf: u64, mss: u64, rx_desc: u16, tx_desc: u16) -> u32 {
    let per_conn = sndbuf.div_ceil(mss.clamp(536, 9000) - 12).max(1);
    let want = conns
        .saturating_mul(per_conn)
        .saturating_add(queue_pair_mbufs(rx_desc, tx_desc));
    want.clamp(MIN_MBUFS as u64, MAX_MBUFS as u64) as u32
}

/// Mbufs one stack needs beside its connections' data: its RX and TX rings, its TX backlog,
/// the reserve `send` leaves, and room for a per-lcore cache. Each further worker adds this.
pub fn queue_pair_mbufs(rx_desc: u16, tx_desc: u16) -> u64 {
    rx_desc as u64 + tx_desc as u64 + linerate::TX_BACKLOG as u64 + 2048 + 512
}

/// One line of the settings echo.
type EchoLine = (&'static str, String);

impl Settings {
    /// The settings echo: one block of `key value` lines.
    pub fn echo(&self) -> String {
        let mut s = String::from("linerate send");
        let lines = self.echo_network().into_iter();
        for (k, v) in lines
            .chain(self.echo_workload())
            .chain(self.echo_resources())
        {
            s.push_str(&format!("\n  {k:<12}{v}"));
        }
        s
    }

    /// Where the traffic goes: EAL, port, addresses.
    fn echo_network(&self) -> Vec<EchoLine> {
        let mut v = vec![
            ("eal", self.eal.join(" ")),
            ("port", self.port.clone()),
            (
                "ip",
                match self.gw {
                    Some(g) => format!("{} gw {g}", self.ip),
                    None => format!("{} (no gateway)", self.ip),
                },
            ),
        ];
        if !self.neigh.is_empty() {
            let neigh: Vec<String> = self.neigh.iter().map(|(i, m)| format!("{i}={m}")).collect();
            v.push(("neigh", neigh.join(" ")));
        }
        if let Some((a, b)) = self.src_range {
            v.push(("src-range", format!("{a}-{b}")));
        }
        let dst: Vec<String> = self.dst.iter().map(|d| d.to_string()).collect();
        v.push(("dst", dst.join(" ")));
        v
    }

    /// What is sent, how fast, and when the run stops.
    fn echo_workload(&self) -> Vec<EchoLine> {
        let mut v = vec![
            (
                "workers",
                match self.workers {
                    Some(n) => n.to_string(),
                    None => "one per lcore in -l".into(),
                },
            ),
            ("connections", self.connections.to_string()),
            (
                "stop",
                match self.stop {
                    Stop::Duration(d) => format!("after {}", units::fmt_duration(d)),
                    Stop::BytesPerConn(n) => format!("after {n} bytes per connection"),
                    Stop::Cps { run, bytes } => format!(
                        "after {}; {bytes} bytes per connection",
                        units::fmt_duration(run)
                    ),
                },
            ),
            ("size", format!("{} per send", units::fmt_bytes(self.size))),
            (
                "payload",
                match &self.payload {
                    Payload::Random { seed } => format!("pseudo-random (seed {seed})"),
                    Payload::File(p) => format!("file {}", p.display()),
                },
            ),
            ("mode", self.mode_text()),
        ];
        if self.ack_peer {
            let peer = self.dst[0].ip();
            v.push((
                "ack-peer",
                format!("in-process receiver at {peer} answers (no network)"),
            ));
            if self.ack_peer_gro {
                v.push((
                    "ack-policy",
                    "one ACK per burst of a connection (a GRO receiver)".into(),
                ));
            }
            if self.ack_peer_tso {
                v.push((
                    "offloads",
                    "TSO and IPv4/TCP checksum offload EMULATED by the ack peer (nothing cuts \
                     frames or computes checksums)"
                        .into(),
                ));
            } else if self.ack_peer_offloads {
                v.push((
                    "offloads",
                    "IPv4/TCP checksum offload EMULATED by the ack peer (nothing computes them)"
                        .into(),
                ));
            }
        }
        v.push((
            "rate",
            match self.rate {
                Some(r) => format!("{} total (token bucket)", units::fmt_rate(r as f64)),
                None => "unlimited".into(),
            },
        ));
        v
    }

    /// The mode line of the echo.
    fn mode_text(&self) -> String {
        if let Some((q, r)) = self.rr {
            match self.latency {
                Some(m) => format!("request/response {q}/{r} bytes, {m} requests/s per connection"),
                None => format!("request/response {q}/{r} bytes, closed loop"),
            }
        } else if let Some(m) = self.latency {
            format!("latency, {m} messages/s per connection")
        } else if let Some(d) = self.hold {
            format!(
                "hold, a send every {} per connection",
                units::fmt_duration(d)
            )
        } else if let Some(n) = self.cps {
            format!("connection rate, {n} new connections/s")
        } else {
            "bulk".into()
        }
    }

    /// TCP options, the mempool, and the files the run writes.
    fn echo_resources(&self) -> Vec<EchoLine> {
        let on_off = |b: bool| if b { "on" } else { "off" };
        let mut v = vec![
            (
                "tcp",
                format!(
                    "mss {} sndbuf {} cc {} nodelay {} pacing {}",
                    self.mss,
                    units::fmt_bytes(self.sndbuf),
                    self.cc,
                    on_off(self.nodelay),
                    on_off(self.pacing)
                ),
            ),
            (
                "mempool",
                format!(
                    "{} mbufs (rx {} tx {} descriptors)",
                    self.mbufs, self.rx_desc, self.tx_desc
                ),
            ),
        ];
        if let Some(p) = &self.pcap {
            v.push((
                "pcap",
                format!("{} ({} frames max)", p.display(), self.pcap_count),
            ));
        }
        if let Some(p) = &self.hist_out {
            v.push(("hist-out", p.display().to_string()));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mempool_sizing() {
        // 1 connection of 4 MiB: 2897 segments + rings + backlog + reserve.
        let m = mempool_size(1, 4 << 20, 1460, 1024, 1024);
        assert!((8191..20_000).contains(&m), "{m}");
        let m64 = mempool_size(128, 4 << 20, 1460, 1024, 1024);
        assert_eq!(m64, MAX_MBUFS, "capped");
        assert!(mempool_size(1, 4096, 1460, 1024, 1024) >= MIN_MBUFS);
        assert_eq!(
            mempool_size(u64::MAX, u64::MAX, 1460, 1024, 1024),
            MAX_MBUFS
        );
    }
}
