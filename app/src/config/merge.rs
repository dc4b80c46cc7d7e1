//! The merge of the command line over the `--config` file into validated [`Settings`]: one
//! function per concern (EAL, addresses and routes in [`super::network`], the workload, TCP
//! options, output, the mempool). Errors are one line, naming the flag, with an example. The concerns run in a
//! fixed order, so that when several values are wrong the same one is reported every time.
use super::cli::SendArgs;
use super::file::{FileConfig, Num, OneOrMany};
use super::modes::{check_capacity, hold, latency, parse_rr, stop};
use super::network::network;
use super::settings::{mempool_size, Payload, Settings, Stop, DEFAULT_SIZE, DEFAULT_SNDBUF};
use super::value::{num, pick, plain_u64};
use crate::units;
use std::path::PathBuf;

/// RX and TX descriptors per ring (not a flag yet; the mempool is sized for them).
const RX_DESC: u16 = 1024;
const TX_DESC: u16 = 1024;

/// Merges the command line over the file and validates everything. Errors are one line,
/// naming the flag, with an example.
pub fn merge(cli: SendArgs, file: FileConfig) -> Result<Settings, String> {
    let eal = eal_args(&cli, &file);
    let port =
        pick(cli.port.clone(), file.port.as_ref().map(Num::text)).unwrap_or_else(|| "0".into());
    let net = network(&cli, &file)?;
    let work = workload(&cli, &file)?;
    check_capacity(work.connections, work.cps.is_some(), &net)?;
    // Small messages that must not wait for an ACK: Nagle off, as neper and --latency do.
    let small = work.latency.is_some() || work.hold.is_some() || work.rr.is_some();
    let tcp = tcp_options(&cli, &file, small)?;
    let out = output(&cli, &file)?;
    let mbufs = mbufs(&cli, &file, work.connections, tcp.sndbuf, tcp.mss)?;
    let workers = workers(&cli, &file, out.pcap.is_some(), work.connections)?;
    // Checked last: a missing --dpdk should not hide a bad value elsewhere.
    if eal.is_empty() {
        return Err("--dpdk is required: the EAL arguments, e.g. --dpdk \"-l 0 --vdev=net_af_packet0,iface=lr-gen0\"".into());
    }
    Ok(Settings {
        eal,
        port,
        ip: net.ip,
        gw: net.gw,
        neigh: net.neigh,
        dst: net.dst,
        connections: work.connections as u32,
        stop: work.stop,
        size: work.size,
        payload: work.payload,
        rate: work.rate,
        nodelay: tcp.nodelay,
        mss: tcp.mss as u16,
        cc: tcp.cc,
        pacing: tcp.pacing,
        sndbuf: tcp.sndbuf,
        latency: work.latency,
        hold: work.hold,
        cps: work.cps,
        rr: work.rr,
        src_range: net.src_range,
        json: out.json,
        json_lines: out.json_lines,
        hist_out: out.hist_out,
        pcap: out.pcap,
        pcap_count: out.pcap_count,
        quiet: out.quiet,
        mbufs,
        mbufs_auto: cli.mbufs.is_none() && file.mbufs.is_none(),
        workers,
        rx_desc: RX_DESC,
        tx_desc: TX_DESC,
        ack_peer: net.ack_peer,
        ack_peer_offloads: net.ack_peer_offloads,
        ack_peer_tso: net.ack_peer_tso,
        ack_peer_gro: net.ack_peer_gro,
        copy: cli.copy || file.copy.unwrap_or(false),
    })
}

/// EAL arguments: --dpdk (one string, or a list in the file), plus anything after `--`.
fn eal_args(cli: &SendArgs, file: &FileConfig) -> Vec<String> {
    let mut eal: Vec<String> = match (&cli.dpdk, &file.dpdk) {
        (Some(s), _) => s.split_whitespace().map(String::from).collect(),
        (None, Some(OneOrMany::One(s))) => s.split_whitespace().map(String::from).collect(),
        (None, Some(OneOrMany::Many(v))) => v.clone(),
        (None, None) => Vec::new(),
    };
    eal.extend(cli.eal.iter().cloned());
    eal
}

/// What to send, how much, how fast, and when to stop.
struct Workload {
    connections: u64,
    stop: Stop,
    size: u64,
    payload: Payload,
    rate: Option<u64>,
    latency: Option<u64>,
    /// --hold: the interval of each connection's small send.
    hold: Option<std::time::Duration>,
    /// --cps: new connections per second.
    cps: Option<u64>,
    /// --rr: request and response bytes.
    rr: Option<(u64, u64)>,
}

fn workload(cli: &SendArgs, file: &FileConfig) -> Result<Workload, String> {
    let cps = num("--cps", &cli.cps, &file.cps, units::parse_count)?;
    let p_given = cli.parallel.is_some() || file.connections.is_some();
    let connections = match cps {
        Some(0) => {
            return Err("--cps: must be > 0 new connections per second (e.g. --cps 10k)".into())
        }
        Some(n) if n > 100_000_000 => {
            return Err(format!(
                "--cps: {n} is out of range (1 to 100M per second, e.g. --cps 10k)"
            ))
        }
        // With --cps, -P (if given) is how many to open in all; none: as many as -t allows.
        Some(_) if !p_given => 0,
        _ => num("-P", &cli.parallel, &file.connections, plain_u64)?.unwrap_or(1),
    };
    if (connections == 0 && cps.is_none()) || connections > 1_000_000 {
        return Err(format!(
            "-P: {connections} connections is out of range (1 to 1000000, e.g. -P 4)"
        ));
    }
    let hold = hold(cli, file)?;
    let stop = stop(cli, file, cps.is_some())?;
    let size_given = num("--size", &cli.size, &file.size, units::parse_bytes)?;
    // A held connection's send is small unless --size says otherwise.
    let size = size_given.unwrap_or(if hold.is_some() { 64 } else { DEFAULT_SIZE });
    if size == 0 || size > (1 << 30) {
        return Err(format!(
            "--size: {size} bytes is out of range (1 to 1GiB, e.g. --size 64KiB)"
        ));
    }
    let payload = match pick(cli.payload_file.clone(), file.payload_file.clone()) {
        Some(p) => Payload::File(p),
        None => Payload::Random { seed: 1 },
    };
    let rate = num("--rate", &cli.rate, &file.rate, units::parse_rate)?;
    let rr = pick(cli.rr.clone(), file.rr.clone())
        .map(|r| parse_rr(&r))
        .transpose()?;
    if rr.is_some() && (cli.latency || file.latency.unwrap_or(false)) {
        return Err(
            "--rr and --latency exclude each other: --rr with --msg-rate is latency-timed".into(),
        );
    }
    let latency = latency(cli, file, rr.is_some())?;
    if latency.is_some() && rate.is_some() {
        return Err(
            "--rate and --latency exclude each other: latency mode paces by --msg-rate".into(),
        );
    }
    let modes = [
        ("--rr", rr.is_some()),
        ("--latency", latency.is_some() && rr.is_none()),
        ("--hold", hold.is_some()),
        ("--cps", cps.is_some()),
    ];
    let on: Vec<&str> = modes.iter().filter(|m| m.1).map(|m| m.0).collect();
    if on.len() > 1 {
        return Err(format!(
            "{} exclude each other: pick one mode",
            on.join(" and ")
        ));
    }
    if hold.is_some() && (rate.is_some() || matches!(stop, Stop::BytesPerConn(_))) {
        return Err("--hold keeps connections open for -t: --rate and -n do not apply".into());
    }
    if rr.is_some() && (rate.is_some() || !matches!(stop, Stop::Duration(_))) {
        return Err("--rr runs for -t: --rate and -n do not apply (--msg-rate sets a rate)".into());
    }
    if cps.is_some() && rate.is_some() {
        return Err("--cps and --rate exclude each other: --cps sets the pace".into());
    }
    Ok(Workload {
        connections,
        stop,
        size,
        payload,
        rate,
        latency,
        hold,
        cps,
        rr,
    })
}

struct TcpOptions {
    nodelay: bool,
    mss: u64,
    cc: String,
    pacing: bool,
    sndbuf: u64,
}

fn tcp_options(cli: &SendArgs, file: &FileConfig, latency: bool) -> Result<TcpOptions, String> {
    // Latency mode measures each message: Nagle would hold small ones back.
    let nodelay = cli.nodelay || file.nodelay.unwrap_or(false) || latency;
    let mss = num("--mss", &cli.mss, &file.mss, plain_u64)?.unwrap_or(1460);
    if !(88..=1460).contains(&mss) {
        return Err(format!(
            "--mss: {mss} is out of range (88 to 1460; jumbo frames are not supported yet; e.g. --mss 1460)"
        ));
    }
    let cc = pick(cli.cc.clone(), file.cc.clone()).unwrap_or_else(|| "cubic".into());
    if linerate::Cc::by_name(&cc).is_none() {
        return Err(format!(
            "--cc: unknown congestion control '{cc}' (known: {})",
            linerate::Cc::names().join(", ")
        ));
    }
    let pacing = !cli.no_pacing && file.pacing.unwrap_or(true);
    let sndbuf =
        num("--sndbuf", &cli.sndbuf, &file.sndbuf, units::parse_bytes)?.unwrap_or(DEFAULT_SNDBUF);
    if !(4096..=(1u64 << 30)).contains(&sndbuf) {
        return Err(format!(
            "--sndbuf: {sndbuf} bytes is out of range (4KiB to 1GiB, e.g. --sndbuf 4MiB)"
        ));
    }
    Ok(TcpOptions {
        nodelay,
        mss,
        cc,
        pacing,
        sndbuf,
    })
}

/// The report format, the histogram log, the capture, and quiet.
struct Output {
    json: bool,
    json_lines: bool,
    hist_out: Option<PathBuf>,
    pcap: Option<PathBuf>,
    pcap_count: u64,
    quiet: bool,
}

fn output(cli: &SendArgs, file: &FileConfig) -> Result<Output, String> {
    let pcap_count =
        num("--pcap-count", &cli.pcap_count, &file.pcap_count, plain_u64)?.unwrap_or(10_000);
    Ok(Output {
        json: cli.json || file.json.unwrap_or(false),
        json_lines: cli.json_lines || file.json_lines.unwrap_or(false),
        hist_out: pick(cli.hist_out.clone(), file.hist_out.clone()),
        pcap: pick(cli.pcap.clone(), file.pcap.clone()),
        pcap_count,
        quiet: cli.quiet || file.quiet.unwrap_or(false),
    })
}

/// --workers: 1 to 64 (a port has at most 64 queue pairs here), at most one per connection;
/// a capture records one queue, so --pcap takes one worker.
fn workers(
    cli: &SendArgs,
    file: &FileConfig,
    pcap: bool,
    connections: u64,
) -> Result<Option<u32>, String> {
    let Some(n) = num("--workers", &cli.workers, &file.workers, plain_u64)? else {
        return Ok(None);
    };
    if !(1..=64).contains(&n) {
        return Err(format!(
            "--workers: {n} is out of range (1 to 64, one per lcore, e.g. --workers 2)"
        ));
    }
    if connections > 0 && n > connections {
        return Err(format!(
            "--workers {n} needs at least {n} connections (-P {n}): each worker runs its own"
        ));
    }
    if pcap && n > 1 {
        return Err(format!(
            "--pcap records one queue: use --workers 1 with it (got --workers {n})"
        ));
    }
    Ok(Some(n as u32))
}

/// --mbufs, or enough for every connection's send buffer (see [`mempool_size`]).
fn mbufs(
    cli: &SendArgs,
    file: &FileConfig,
    connections: u64,
    sndbuf: u64,
    mss: u64,
) -> Result<u32, String> {
    match num("--mbufs", &cli.mbufs, &file.mbufs, plain_u64)? {
        Some(m) if !(1024..=16_777_215).contains(&m) => Err(format!(
            "--mbufs: {m} is out of range (1024 to 16777215, e.g. --mbufs 65535)"
        )),
        Some(m) => Ok(m as u32),
        None => Ok(mempool_size(connections, sndbuf, mss, RX_DESC, TX_DESC)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
                    workers: Some("0".into()),
                    ..base()
                },
                "--workers: 0 is out of range",
            ),
            (
                SendArgs {
                    workers: Some("2".into()),
                    parallel: Some("1".into()),
                    ..base()
                },
                "--workers 2 needs at least 2 connections",
            ),
            (
                SendArgs {
                    workers: Some("2".into()),
                    parallel: Some("2".into()),
                    pcap: Some("x.pcap".into()),
                    ..base()
                },
                "--pcap records one queue",
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
}
