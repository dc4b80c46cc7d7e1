//! `linerate send` settings: the command line (clap), the `--config` TOML file, and the merge
//! of the two (command-line flags override file values) into validated [`Settings`].
use crate::units;
use linerate::{Route, RouteTable};
use linerate::MacAddr;
use linerate::Ipv4Cidr;
use serde::Deserialize;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct SendArgs {
    /// EAL arguments, space-separated, e.g. "-l 0 --vdev=net_af_packet0,iface=lr-gen0"
    /// (also accepted after a trailing `--`)
    #[arg(long, allow_hyphen_values = true, value_name = "EAL ARGS")]
    pub dpdk: Option<String>,
    /// Port: id, PCI address or vdev name [default: 0]
    #[arg(long)]
    pub port: Option<String>,
    /// Our address on the port with its prefix, e.g. 198.18.0.1/24 (required)
    #[arg(long)]
    pub ip: Option<String>,
    /// Default gateway, e.g. 198.18.0.254
    #[arg(long)]
    pub gw: Option<String>,
    /// Static ARP entry ip=mac, e.g. 198.18.0.254=02:00:00:00:00:01 (repeatable)
    #[arg(long, value_name = "IP=MAC")]
    pub neigh: Vec<String>,
    /// Destination ip:port (repeatable; connections are spread round-robin)
    #[arg(long, value_name = "IP:PORT")]
    pub dst: Vec<String>,
    /// Connections [default: 1]
    #[arg(short = 'P', value_name = "CONNECTIONS")]
    pub parallel: Option<String>,
    /// Run time, e.g. 10s, 500ms, 2m [default: 10s]
    #[arg(short = 't', value_name = "DURATION")]
    pub time: Option<String>,
    /// Bytes to send per connection (instead of -t), e.g. 1GiB
    #[arg(short = 'n', value_name = "BYTES")]
    pub bytes: Option<String>,
    /// Bytes per send() call, e.g. 64KiB [default: 128KiB]
    #[arg(long)]
    pub size: Option<String>,
    /// Send this file's bytes on every connection, looping until -n/-t
    #[arg(long, value_name = "PATH")]
    pub payload_file: Option<PathBuf>,
    /// Total payload rate across connections in bits/s, e.g. 10G, 500M (open loop)
    #[arg(long, value_name = "BITS/S")]
    pub rate: Option<String>,
    /// Disable Nagle (send partial segments at once)
    #[arg(long)]
    pub nodelay: bool,
    /// MSS to advertise and send with, e.g. 1460
    #[arg(long)]
    pub mss: Option<String>,
    /// Congestion control: cubic (RFC 9438) or reno [default: cubic]
    #[arg(long)]
    pub cc: Option<String>,
    /// Send each window as fast as it opens instead of pacing it over the RTT
    #[arg(long)]
    pub no_pacing: bool,
    /// Send buffer per connection, e.g. 4MiB [default: 4MiB]
    #[arg(long)]
    pub sndbuf: Option<String>,
    /// Latency mode: messages of --size at --msg-rate per connection, coordinated-omission
    /// corrected (implies --nodelay)
    #[arg(long)]
    pub latency: bool,
    /// Messages per second per connection in --latency mode, e.g. 1000, 10k
    #[arg(long, value_name = "N/S")]
    pub msg_rate: Option<String>,
    /// Print the final report as one JSON object (docs/report-schema.md)
    #[arg(long)]
    pub json: bool,
    /// Write the latency histograms as an HdrHistogram interval log
    #[arg(long, value_name = "PATH")]
    pub hist_out: Option<PathBuf>,
    /// Record frames to this pcap file (forces software checksums)
    #[arg(long, value_name = "PATH")]
    pub pcap: Option<PathBuf>,
    /// Frames to record with --pcap [default: 10000; 0 = no limit]
    #[arg(long, value_name = "N")]
    pub pcap_count: Option<String>,
    /// Read settings from a TOML file (keys as the long flags; flags override it)
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// No settings echo and no progress lines
    #[arg(long)]
    pub quiet: bool,
    /// Mbufs in the pool (default: sized from connections × sndbuf)
    #[arg(long, value_name = "N")]
    pub mbufs: Option<String>,
    /// Answer our own traffic with an in-process TCP receiver (ARP, SYN-ACK, ACKs, FIN) on
    /// the first --dst address instead of the network: measures the stack's own cost, e.g. on
    /// --vdev=net_null0 (the --dst address must be on --ip's subnet)
    #[arg(long)]
    pub ack_peer: bool,
    /// EAL arguments after `--`
    #[arg(last = true, allow_hyphen_values = true, hide = true)]
    pub eal: Vec<String>,
}

/// A TOML value that may be written as a number or a string with a unit.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum Num {
    Int(u64),
    Float(f64),
    Str(String),
}

impl Num {
    fn text(&self) -> String {
        match self {
            Num::Int(i) => i.to_string(),
            Num::Float(f) => f.to_string(),
            Num::Str(s) => s.clone(),
        }
    }
}

/// A TOML value that may be one string or a list of them.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// The `--config` file: every key is optional; names follow the long flags (`-` or `_`).
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub dpdk: Option<OneOrMany>,
    pub port: Option<Num>,
    pub ip: Option<String>,
    pub gw: Option<String>,
    pub neigh: Option<OneOrMany>,
    pub dst: Option<OneOrMany>,
    #[serde(alias = "P", alias = "parallel")]
    pub connections: Option<Num>,
    #[serde(alias = "t", alias = "duration")]
    pub time: Option<Num>,
    #[serde(alias = "n")]
    pub bytes: Option<Num>,
    pub size: Option<Num>,
    #[serde(alias = "payload_file")]
    pub payload_file: Option<PathBuf>,
    pub rate: Option<Num>,
    pub nodelay: Option<bool>,
    pub mss: Option<Num>,
    pub cc: Option<String>,
    pub pacing: Option<bool>,
    pub sndbuf: Option<Num>,
    pub latency: Option<bool>,
    #[serde(alias = "msg_rate")]
    pub msg_rate: Option<Num>,
    pub json: Option<bool>,
    #[serde(alias = "hist_out")]
    pub hist_out: Option<PathBuf>,
    pub pcap: Option<PathBuf>,
    #[serde(alias = "pcap_count")]
    pub pcap_count: Option<Num>,
    pub quiet: Option<bool>,
    pub mbufs: Option<Num>,
    #[serde(alias = "ack_peer")]
    pub ack_peer: Option<bool>,
}

impl FileConfig {
    pub fn parse(text: &str, path: &str) -> Result<FileConfig, String> {
        toml::from_str(text).map_err(|e| {
            // toml's message spans lines (it quotes the source); keep it to one.
            let msg = e.message().replace('\n', " ");
            match e.span() {
                Some(sp) => {
                    let line = text[..sp.start.min(text.len())].matches('\n').count() + 1;
                    format!("--config {path}: line {line}: {msg}")
                }
                None => format!("--config {path}: {msg}"),
            }
        })
    }

    pub fn load(path: &std::path::Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--config: cannot read {}: {e}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }
}

/// How the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Duration(Duration),
    BytesPerConn(u64),
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
    pub json: bool,
    pub hist_out: Option<PathBuf>,
    pub pcap: Option<PathBuf>,
    pub pcap_count: u64,
    pub quiet: bool,
    pub mbufs: u32,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// `--ack-peer`: an in-process receiver on `dst[0]`'s address answers instead of the
    /// network.
    pub ack_peer: bool,
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
        .saturating_add(rx_desc as u64 + tx_desc as u64)
        .saturating_add(linerate::TX_BACKLOG as u64)
        .saturating_add(2048 + 512);
    want.clamp(MIN_MBUFS as u64, MAX_MBUFS as u64) as u32
}

fn pick<T>(cli: Option<T>, file: Option<T>) -> Option<T> {
    cli.or(file)
}

fn num(
    flag: &str,
    cli: Option<String>,
    file: Option<Num>,
    parse: fn(&str) -> Result<u64, String>,
) -> Result<Option<u64>, String> {
    match pick(cli, file.map(|n| n.text())) {
        None => Ok(None),
        Some(s) => parse(&s).map(Some).map_err(|e| format!("{flag}: {e}")),
    }
}

fn plain_u64(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("invalid number '{s}' (e.g. 4, 64)"))
}

fn parse_dst(s: &str) -> Result<SocketAddrV4, String> {
    s.trim().parse::<SocketAddrV4>().map_err(|_| {
        format!("--dst: invalid destination '{s}' (expected ip:port, e.g. 198.19.0.2:5201)")
    })
}

fn parse_neigh(s: &str) -> Result<(Ipv4Addr, MacAddr), String> {
    let bad = || {
        format!(
            "--neigh: invalid entry '{s}' (expected ip=mac, e.g. 198.18.0.254=02:00:00:00:00:01)"
        )
    };
    let (ip, mac) = s.split_once('=').ok_or_else(bad)?;
    let ip: Ipv4Addr = ip.trim().parse().map_err(|_| bad())?;
    let mac: MacAddr = mac.trim().parse().map_err(|_| bad())?;
    Ok((ip, mac))
}

/// Merges the command line over the file and validates everything. Errors are one line,
/// naming the flag, with an example.
pub fn merge(cli: SendArgs, file: FileConfig) -> Result<Settings, String> {
    // EAL arguments: --dpdk, plus anything after `--`.
    let mut eal: Vec<String> = match (cli.dpdk, file.dpdk) {
        (Some(s), _) => s.split_whitespace().map(String::from).collect(),
        (None, Some(OneOrMany::One(s))) => s.split_whitespace().map(String::from).collect(),
        (None, Some(OneOrMany::Many(v))) => v,
        (None, None) => Vec::new(),
    };
    eal.extend(cli.eal);

    let port = pick(cli.port, file.port.map(|n| n.text())).unwrap_or_else(|| "0".into());

    let ip_s = pick(cli.ip, file.ip)
        .ok_or("--ip is required: our address and prefix on the port, e.g. --ip 198.18.0.1/24")?;
    let ip: Ipv4Cidr = ip_s.trim().parse().map_err(|_| {
        format!("--ip: invalid address '{ip_s}' (expected addr/prefix, e.g. 198.18.0.1/24)")
    })?;
    if !ip_s.contains('/') {
        return Err(format!(
            "--ip: '{ip_s}' has no prefix length (e.g. 198.18.0.1/24)"
        ));
    }
    let gw = match pick(cli.gw, file.gw) {
        None => None,
        Some(g) => {
            let a: Ipv4Addr = g.trim().parse().map_err(|_| {
                format!("--gw: invalid address '{g}' (expected an IPv4 address, e.g. 198.18.0.254)")
            })?;
            if !ip.contains(a) {
                return Err(format!(
                    "--gw: gateway {a} is not inside --ip {ip} (pick a gateway on the port's subnet)"
                ));
            }
            Some(a)
        }
    };
    let neigh_s = if cli.neigh.is_empty() {
        file.neigh.map(OneOrMany::into_vec).unwrap_or_default()
    } else {
        cli.neigh
    };
    let neigh = neigh_s
        .iter()
        .map(|s| parse_neigh(s))
        .collect::<Result<Vec<_>, _>>()?;
    let dst_s = if cli.dst.is_empty() {
        file.dst.map(OneOrMany::into_vec).unwrap_or_default()
    } else {
        cli.dst
    };
    if dst_s.is_empty() {
        return Err("--dst is required: where to send, e.g. --dst 198.19.0.2:5201".into());
    }
    let dst = dst_s
        .iter()
        .map(|s| parse_dst(s))
        .collect::<Result<Vec<_>, _>>()?;
    let ack_peer = cli.ack_peer || file.ack_peer.unwrap_or(false);
    if ack_peer {
        let peer = *dst[0].ip();
        if !ip.contains(peer) || peer == ip.addr {
            return Err(format!(
                "--ack-peer: --dst {peer} must be another address on --ip {ip}'s subnet (the in-process peer answers ARP for it), e.g. --ip 198.18.0.1/24 --dst 198.18.0.2:5201"
            ));
        }
        if let Some(d) = dst.iter().find(|d| d.ip() != &peer) {
            return Err(format!(
                "--ack-peer: every --dst must use one address (the in-process peer is {peer}, not {})",
                d.ip()
            ));
        }
    }
    // No route: say so before EAL starts (the stack's own ConnectError text).
    let mut routes = RouteTable::new();
    routes.add_connected(ip);
    if let Some(g) = gw {
        routes.add(Route {
            dst: Ipv4Cidr {
                addr: Ipv4Addr::UNSPECIFIED,
                prefix_len: 0,
            },
            gateway: Some(g),
        });
    }
    for d in &dst {
        if routes.lookup(*d.ip()).is_none() {
            return Err(linerate::ConnectError::NoRoute(*d.ip()).to_string());
        }
    }

    let connections = num("-P", cli.parallel, file.connections, plain_u64)?.unwrap_or(1);
    if connections == 0 || connections > 1_000_000 {
        return Err(format!(
            "-P: {connections} connections is out of range (1 to 1000000, e.g. -P 4)"
        ));
    }
    let time = match pick(cli.time, file.time.map(|n| n.text())) {
        None => None,
        Some(s) => Some(units::parse_duration(&s).map_err(|e| format!("-t: {e}"))?),
    };
    let bytes = num("-n", cli.bytes, file.bytes, units::parse_bytes)?;
    let stop = match (time, bytes) {
        (Some(_), Some(_)) => {
            return Err("-t and -n exclude each other: give a duration or a byte count".into())
        }
        (Some(t), None) if t.is_zero() => return Err("-t: the duration must be > 0".into()),
        (Some(t), None) => Stop::Duration(t),
        (None, Some(0)) => return Err("-n: the byte count must be > 0 (e.g. -n 1GiB)".into()),
        (None, Some(n)) => Stop::BytesPerConn(n),
        (None, None) => Stop::Duration(DEFAULT_TIME),
    };
    let size = num("--size", cli.size, file.size, units::parse_bytes)?.unwrap_or(DEFAULT_SIZE);
    if size == 0 || size > (1 << 30) {
        return Err(format!(
            "--size: {size} bytes is out of range (1 to 1GiB, e.g. --size 64KiB)"
        ));
    }
    let payload = match pick(cli.payload_file, file.payload_file) {
        Some(p) => Payload::File(p),
        None => Payload::Random { seed: 1 },
    };
    let rate = num("--rate", cli.rate, file.rate, units::parse_rate)?;
    let latency_on = cli.latency || file.latency.unwrap_or(false);
    let msg_rate = num(
        "--msg-rate",
        cli.msg_rate,
        file.msg_rate,
        units::parse_count,
    )?;
    let latency = match (latency_on, msg_rate) {
        (true, Some(0)) => return Err("--msg-rate: must be > 0 (e.g. --msg-rate 1000)".into()),
        (true, Some(m)) => Some(m),
        (true, None) => {
            return Err(
                "--latency needs --msg-rate <messages/s per connection>, e.g. --msg-rate 1000"
                    .into(),
            )
        }
        (false, Some(_)) => return Err("--msg-rate only applies with --latency".into()),
        (false, None) => None,
    };
    if latency.is_some() && rate.is_some() {
        return Err(
            "--rate and --latency exclude each other: latency mode paces by --msg-rate".into(),
        );
    }
    let nodelay = cli.nodelay || file.nodelay.unwrap_or(false) || latency.is_some();
    let mss = num("--mss", cli.mss, file.mss, plain_u64)?.unwrap_or(1460);
    if !(88..=1460).contains(&mss) {
        return Err(format!(
            "--mss: {mss} is out of range (88 to 1460; jumbo frames are not supported yet; e.g. --mss 1460)"
        ));
    }
    let cc = pick(cli.cc, file.cc).unwrap_or_else(|| "cubic".into());
    if linerate::Cc::by_name(&cc).is_none() {
        return Err(format!(
            "--cc: unknown congestion control '{cc}' (known: {})",
            linerate::Cc::names().join(", ")
        ));
    }
    let pacing = !cli.no_pacing && file.pacing.unwrap_or(true);
    let sndbuf =
        num("--sndbuf", cli.sndbuf, file.sndbuf, units::parse_bytes)?.unwrap_or(DEFAULT_SNDBUF);
    if !(4096..=(1u64 << 30)).contains(&sndbuf) {
        return Err(format!(
            "--sndbuf: {sndbuf} bytes is out of range (4KiB to 1GiB, e.g. --sndbuf 4MiB)"
        ));
    }
    let pcap_count =
        num("--pcap-count", cli.pcap_count, file.pcap_count, plain_u64)?.unwrap_or(10_000);
    let rx_desc = 1024;
    let tx_desc = 1024;
    let mbufs = match num("--mbufs", cli.mbufs, file.mbufs, plain_u64)? {
        Some(m) if !(1024..=16_777_215).contains(&m) => {
            return Err(format!(
                "--mbufs: {m} is out of range (1024 to 16777215, e.g. --mbufs 65535)"
            ))
        }
        Some(m) => m as u32,
        None => mempool_size(connections, sndbuf, mss, rx_desc, tx_desc),
    };
    if eal.is_empty() {
        return Err("--dpdk is required: the EAL arguments, e.g. --dpdk \"-l 0 --vdev=net_af_packet0,iface=lr-gen0\"".into());
    }
    Ok(Settings {
        eal,
        port,
        ip,
        gw,
        neigh,
        dst,
        connections: connections as u32,
        stop,
        size,
        payload,
        rate,
        nodelay,
        mss: mss as u16,
        cc,
        pacing,
        sndbuf,
        latency,
        json: cli.json || file.json.unwrap_or(false),
        hist_out: pick(cli.hist_out, file.hist_out),
        pcap: pick(cli.pcap, file.pcap),
        pcap_count,
        quiet: cli.quiet || file.quiet.unwrap_or(false),
        mbufs,
        rx_desc,
        tx_desc,
        ack_peer,
    })
}

impl Settings {
    /// The settings echo: one block of `key value` lines.
    pub fn echo(&self) -> String {
        let mut s = String::from("linerate send\n");
        let mut kv = |k: &str, v: String| s.push_str(&format!("  {k:<12}{v}\n"));
        kv("eal", self.eal.join(" "));
        kv("port", self.port.clone());
        kv(
            "ip",
            match self.gw {
                Some(g) => format!("{} gw {g}", self.ip),
                None => format!("{} (no gateway)", self.ip),
            },
        );
        if !self.neigh.is_empty() {
            kv(
                "neigh",
                self.neigh
                    .iter()
                    .map(|(i, m)| format!("{i}={m}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        kv(
            "dst",
            self.dst
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        );
        kv("connections", self.connections.to_string());
        kv(
            "stop",
            match self.stop {
                Stop::Duration(d) => format!("after {}", units::fmt_duration(d)),
                Stop::BytesPerConn(n) => format!("after {n} bytes per connection"),
            },
        );
        kv("size", format!("{} per send", units::fmt_bytes(self.size)));
        kv(
            "payload",
            match &self.payload {
                Payload::Random { seed } => format!("pseudo-random (seed {seed})"),
                Payload::File(p) => format!("file {}", p.display()),
            },
        );
        kv(
            "mode",
            match self.latency {
                Some(m) => format!("latency, {m} messages/s per connection"),
                None => "bulk".into(),
            },
        );
        if self.ack_peer {
            kv(
                "ack-peer",
                format!(
                    "in-process receiver at {} answers (no network)",
                    self.dst[0].ip()
                ),
            );
        }
        kv(
            "rate",
            match self.rate {
                Some(r) => format!("{} total (token bucket)", units::fmt_rate(r as f64)),
                None => "unlimited".into(),
            },
        );
        kv(
            "tcp",
            format!(
                "mss {} sndbuf {} cc {} nodelay {} pacing {}",
                self.mss,
                units::fmt_bytes(self.sndbuf),
                self.cc,
                if self.nodelay { "on" } else { "off" },
                if self.pacing { "on" } else { "off" }
            ),
        );
        kv(
            "mempool",
            format!(
                "{} mbufs (rx {} tx {} descriptors)",
                self.mbufs, self.rx_desc, self.tx_desc
            ),
        );
        if let Some(p) = &self.pcap {
            kv(
                "pcap",
                format!("{} ({} frames max)", p.display(), self.pcap_count),
            );
        }
        if let Some(p) = &self.hist_out {
            kv("hist-out", p.display().to_string());
        }
        s.pop();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> SendArgs {
        SendArgs {
            dpdk: Some("-l 0 --vdev=net_null0".into()),
            ip: Some("198.18.0.1/24".into()),
            gw: Some("198.18.0.254".into()),
            dst: vec!["198.19.0.2:5201".into()],
            ..Default::default()
        }
    }

    #[test]
    fn defaults() {
        let s = merge(base(), FileConfig::default()).unwrap();
        assert_eq!(s.connections, 1);
        assert_eq!(s.stop, Stop::Duration(Duration::from_secs(10)));
        assert_eq!(s.size, 128 << 10);
        assert_eq!(s.sndbuf, 4 << 20);
        assert_eq!(s.port, "0");
        assert_eq!(s.cc, "cubic");
        assert!(s.pacing);
        assert_eq!(s.payload, Payload::Random { seed: 1 });
        assert!(!s.nodelay);
        assert_eq!(s.eal, vec!["-l", "0", "--vdev=net_null0"]);
    }

    #[test]
    fn file_values_and_cli_override() {
        let f = FileConfig::parse(
            r#"
            dpdk = ["-l", "0", "--vdev=net_null0"]
            ip = "198.18.0.1/24"
            gw = "198.18.0.254"
            dst = ["198.19.0.2:5201", "198.19.0.3:5201"]
            connections = 8
            time = "2s"
            size = "64KiB"
            rate = "1G"
            nodelay = true
            neigh = "198.18.0.254=02:00:00:00:00:01"
            payload-file = "/tmp/x"
            "#,
            "t.toml",
        )
        .unwrap();
        let cli = SendArgs {
            parallel: Some("3".into()),
            size: Some("1500".into()),
            ..Default::default()
        };
        let s = merge(cli, f.clone()).unwrap();
        assert_eq!(s.connections, 3, "CLI overrides file");
        assert_eq!(s.size, 1500, "CLI overrides file");
        assert_eq!(s.stop, Stop::Duration(Duration::from_secs(2)));
        assert_eq!(s.rate, Some(1_000_000_000));
        assert!(s.nodelay);
        assert_eq!(s.dst.len(), 2);
        assert_eq!(s.neigh.len(), 1);
        assert_eq!(s.payload, Payload::File("/tmp/x".into()));
        // Bare numbers in TOML work too.
        let f2 = FileConfig::parse("size = 4096\ntime = 3\nsndbuf = 65536", "t").unwrap();
        let s2 = merge(base(), f2).unwrap();
        assert_eq!(s2.size, 4096);
        assert_eq!(s2.stop, Stop::Duration(Duration::from_secs(3)));
        assert_eq!(s2.sndbuf, 65536);
        assert!(s2.echo().contains("sndbuf 64KiB"), "{}", s2.echo());
    }

    #[test]
    fn file_errors_are_one_line() {
        let e = FileConfig::parse("bogus = 1\n", "c.toml").unwrap_err();
        assert!(e.starts_with("--config c.toml: line 1:"), "{e}");
        assert!(e.contains("bogus"), "{e}");
        assert!(!e.contains('\n'));
        let e = FileConfig::parse("ip = [1", "c.toml").unwrap_err();
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn errors_name_the_flag() {
        let cases: Vec<(SendArgs, &str)> = vec![
            (
                SendArgs {
                    ip: Some("1.2.3".into()),
                    ..base()
                },
                "--ip:",
            ),
            (
                SendArgs {
                    ip: Some("198.18.0.1".into()),
                    ..base()
                },
                "--ip:",
            ),
            (SendArgs { ip: None, ..base() }, "--ip is required"),
            (
                SendArgs {
                    gw: Some("x".into()),
                    ..base()
                },
                "--gw:",
            ),
            (
                SendArgs {
                    gw: Some("198.19.0.1".into()),
                    ..base()
                },
                "--gw:",
            ),
            (
                SendArgs {
                    dst: vec!["198.19.0.2".into()],
                    ..base()
                },
                "--dst:",
            ),
            (
                SendArgs {
                    dst: vec![],
                    ..base()
                },
                "--dst is required",
            ),
            (
                SendArgs {
                    neigh: vec!["1.2.3.4".into()],
                    ..base()
                },
                "--neigh:",
            ),
            (
                SendArgs {
                    size: Some("12Q".into()),
                    ..base()
                },
                "--size:",
            ),
            (
                SendArgs {
                    rate: Some("fast".into()),
                    ..base()
                },
                "--rate:",
            ),
            (
                SendArgs {
                    time: Some("10x".into()),
                    ..base()
                },
                "-t:",
            ),
            (
                SendArgs {
                    bytes: Some("1Zb".into()),
                    ..base()
                },
                "-n:",
            ),
            (
                SendArgs {
                    time: Some("1s".into()),
                    bytes: Some("1".into()),
                    ..base()
                },
                "-t and -n",
            ),
            (
                SendArgs {
                    parallel: Some("0".into()),
                    ..base()
                },
                "-P:",
            ),
            (
                SendArgs {
                    cc: Some("bogus".into()),
                    ..base()
                },
                "--cc: unknown congestion control 'bogus' (known: cubic, reno)",
            ),
            (
                SendArgs {
                    mss: Some("20".into()),
                    ..base()
                },
                "--mss:",
            ),
            (
                SendArgs {
                    latency: true,
                    ..base()
                },
                "--latency needs --msg-rate",
            ),
            (
                SendArgs {
                    msg_rate: Some("10".into()),
                    ..base()
                },
                "--msg-rate only",
            ),
            (
                SendArgs {
                    dpdk: None,
                    ..base()
                },
                "--dpdk is required",
            ),
            (SendArgs { gw: None, ..base() }, "no route to 198.19.0.2"),
        ];
        for (args, want) in cases {
            let e = merge(args, FileConfig::default()).unwrap_err();
            assert!(e.starts_with(want), "want {want:?}, got {e:?}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn cc_names_and_pacing() {
        for cc in linerate::Cc::names() {
            let a = SendArgs {
                cc: Some(cc.to_string()),
                ..base()
            };
            assert_eq!(merge(a, FileConfig::default()).unwrap().cc, *cc);
        }
        let s = merge(
            SendArgs {
                no_pacing: true,
                ..base()
            },
            FileConfig::default(),
        )
        .unwrap();
        assert!(!s.pacing);
        assert!(s.echo().contains("pacing off"), "{}", s.echo());
        let f = FileConfig::parse("pacing = false\ncc = \"reno\"", "t").unwrap();
        let s = merge(base(), f).unwrap();
        assert!(!s.pacing);
        assert_eq!(s.cc, "reno");
    }

    #[test]
    fn latency_mode_implies_nodelay() {
        let s = merge(
            SendArgs {
                latency: true,
                msg_rate: Some("10k".into()),
                size: Some("64".into()),
                ..base()
            },
            FileConfig::default(),
        )
        .unwrap();
        assert_eq!(s.latency, Some(10_000));
        assert!(s.nodelay);
    }

    #[test]
    fn ack_peer_needs_one_on_link_destination() {
        let ok = SendArgs {
            gw: None,
            dst: vec!["198.18.0.2:5201".into(), "198.18.0.2:5202".into()],
            ack_peer: true,
            ..base()
        };
        let s = merge(ok.clone(), FileConfig::default()).unwrap();
        assert!(s.ack_peer);
        assert!(
            s.echo().contains("in-process receiver at 198.18.0.2"),
            "{}",
            s.echo()
        );
        let f = FileConfig::parse("ack-peer = true", "t").unwrap();
        let s = merge(
            SendArgs {
                ack_peer: false,
                ..ok.clone()
            },
            f,
        )
        .unwrap();
        assert!(s.ack_peer, "from the file");
        assert!(!merge(base(), FileConfig::default()).unwrap().ack_peer);
        for (dst, want) in [
            (
                vec!["198.19.0.2:5201"],
                "--ack-peer: --dst 198.19.0.2 must be",
            ),
            (
                vec!["198.18.0.1:5201"],
                "--ack-peer: --dst 198.18.0.1 must be",
            ),
            (
                vec!["198.18.0.2:5201", "198.18.0.3:5201"],
                "--ack-peer: every --dst must use one address",
            ),
        ] {
            let e = merge(
                SendArgs {
                    dst: dst.into_iter().map(String::from).collect(),
                    gw: Some("198.18.0.254".into()),
                    ..ok.clone()
                },
                FileConfig::default(),
            )
            .unwrap_err();
            assert!(e.starts_with(want), "want {want:?}, got {e:?}");
            assert!(!e.contains('\n'));
        }
    }

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
