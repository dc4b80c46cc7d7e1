//! `linerate ksend -P N -n BYTES`: the kernel baseline for fixed-size transfers, the
//! counterpart of `linerate send -P N -n BYTES` in the completion-time matrix
//! (docs/recovery.md). Each of N kernel TCP connections writes BYTES (the same generated
//! payload) and is done when the kernel reports every byte acknowledged, which is when
//! linerate counts a connection done too. The FIN and the peer's close are left out of the
//! time: a lost FIN would add a retransmission timeout that says nothing about how fast the
//! data got through.
//!
//! "Acknowledged" is read from `/proc/net/tcp` (its `tx_queue` is `write_seq - snd_una`),
//! polled every `POLL` once a connection's writes are all in the socket buffer; that needs no
//! `unsafe` in this crate, and the poll step is small beside transfers of seconds.
//! The run's recovery counters (retransmitted segments, RTOs, SACK recoveries, loss
//! probes) are the deltas of `/proc/net/snmp` and `/proc/net/netstat` over the run. They are
//! per network namespace, so they count every TCP socket in it; in lr-kgen that is this run
//! alone.
use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The report's schema (its own, beside `ksend`'s message report).
pub const SCHEMA: u32 = 1;

/// How often `/proc/net/tcp` is read while connections wait for their last ACK.
const POLL: Duration = Duration::from_millis(1);

/// Settings of a bulk run.
#[derive(Debug, Clone, PartialEq)]
pub struct Bulk {
    pub connect: SocketAddr,
    pub conns: usize,
    pub bytes: u64,
    /// TCP_CONGESTION for every connection (`None`: the namespace's default).
    pub cc: Option<String>,
    /// The run gives up after this long, and reports the connections not done.
    pub limit: Duration,
}

/// The kernel's recovery counters over a run (namespace-wide deltas).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct KernelCounters {
    /// `Tcp: RetransSegs`.
    pub retrans_segs: u64,
    /// `TcpExt: TCPTimeouts`: retransmission timeouts.
    pub rtos: u64,
    /// `TcpExt: TCPSackRecovery`: SACK recovery episodes.
    pub sack_recoveries: u64,
    /// `TcpExt: TCPLossProbes`: tail loss probes sent.
    pub tlps: u64,
    /// `TcpExt: TCPLostRetransmit`: retransmissions found lost (by RACK).
    pub lost_retransmits: u64,
    /// `TcpExt: TCPSpuriousRTOs`: timeouts found spurious.
    pub spurious_rtos: u64,
}

/// The report of a bulk run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BulkReport {
    pub schema: u32,
    pub connect: String,
    pub connections: usize,
    pub bytes_per_connection: u64,
    /// The congestion control the kernel used (TCP_CONGESTION read back).
    pub cc: String,
    /// From before the first connect until the last connection's data was all acked (or the
    /// limit, if a connection did not finish).
    pub completion_s: f64,
    /// Each connection's time from the run's start to its last byte acked (`null`: not done).
    pub per_connection_s: Vec<Option<f64>>,
    pub completed: usize,
    /// Connections that failed (connect, write), each with its error.
    pub errors: Vec<String>,
    pub kernel: KernelCounters,
}

impl BulkReport {
    /// One line for the exit status when a connection failed: the first error.
    pub fn failure(&self) -> Option<String> {
        let first = self.errors.first()?;
        Some(match self.errors.len() {
            1 => first.clone(),
            n => format!("{first} (and {} more failed)", n - 1),
        })
    }

    pub fn to_text(&self) -> String {
        let k = &self.kernel;
        format!(
            "linerate ksend report: {} of {} connections sent {} bytes each to {} ({}) in {:.3} s\n  \
             kernel: {} segments retransmitted, {} RTOs, {} SACK recoveries, {} loss probes, \
             {} lost retransmissions, {} spurious RTOs{}",
            self.completed,
            self.connections,
            self.bytes_per_connection,
            self.connect,
            self.cc,
            self.completion_s,
            k.retrans_segs,
            k.rtos,
            k.sack_recoveries,
            k.tlps,
            k.lost_retransmits,
            k.spurious_rtos,
            self.errors
                .iter()
                .map(|e| format!("\n  error: {e}"))
                .collect::<String>()
        )
    }
}

/// What a writer thread tells the run.
enum Msg {
    /// Connection `i` is up: a handle on its socket, which keeps it open until the run ends.
    Up(TcpStream),
    /// Connection `i` has written everything; its local port.
    Written(usize, u16),
    /// Connection `i` failed.
    Failed(usize, String),
}

/// Runs the transfer. Only errors before any connection was tried come back as `Err`.
pub fn run(b: &Bulk) -> Result<BulkReport, String> {
    let before = read_counters()?;
    let payload: std::sync::Arc<[u8]> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let threads: Vec<_> = (0..b.conns)
        .map(|i| {
            let (tx, payload, b) = (tx.clone(), payload.clone(), b.clone());
            std::thread::spawn(move || {
                let _ = tx.send(match write_all(&b, &payload, &tx) {
                    Ok(port) => Msg::Written(i, port),
                    Err(e) => Msg::Failed(i, e),
                });
            })
        })
        .collect();
    drop(tx);
    let mut socks = Vec::with_capacity(b.conns);
    let mut done: Vec<Option<f64>> = vec![None; b.conns];
    let mut waiting: HashMap<u16, usize> = HashMap::new();
    let (mut errors, mut settled) = (Vec::new(), 0);
    while settled < b.conns && start.elapsed() < b.limit {
        while let Ok(m) = rx.try_recv() {
            match m {
                Msg::Up(s) => socks.push(s),
                Msg::Written(i, port) => {
                    waiting.insert(port, i);
                }
                Msg::Failed(i, e) => {
                    errors.push(format!("connection {i}: {e}"));
                    settled += 1;
                }
            }
        }
        if !waiting.is_empty() {
            let now = start.elapsed().as_secs_f64();
            for port in unacked_zero(b.connect, &waiting)? {
                if let Some(i) = waiting.remove(&port) {
                    done[i] = Some(now);
                    settled += 1;
                }
            }
        }
        std::thread::sleep(POLL);
    }
    let completion_s = if done.iter().all(Option::is_some) {
        done.iter().flatten().fold(0.0, |a: f64, &t| a.max(t))
    } else {
        start.elapsed().as_secs_f64()
    };
    // The congestion control the kernel gave the connections, read back from one of them.
    let cc = socks.first().map_or_else(String::new, |s: &TcpStream| {
        let name = socket2::SockRef::from(s)
            .tcp_congestion()
            .unwrap_or_default();
        String::from_utf8_lossy(&name)
            .trim_end_matches('\0')
            .to_string()
    });
    // Cut at the limit, a writer may still block in write(); shutting the socket down wakes
    // it. The handles still in the channel are dropped with it.
    if settled < b.conns {
        for s in &socks {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
    drop(socks);
    drop(rx);
    for t in threads {
        let _ = t.join();
    }
    let after = read_counters()?;
    Ok(BulkReport {
        schema: SCHEMA,
        connect: b.connect.to_string(),
        connections: b.conns,
        bytes_per_connection: b.bytes,
        cc,
        completion_s,
        completed: done.iter().flatten().count(),
        per_connection_s: done,
        errors,
        kernel: after.minus(&before),
    })
}

/// Connects, sets the congestion control and writes `b.bytes`; the local port.
fn write_all(b: &Bulk, payload: &[u8], tx: &mpsc::Sender<Msg>) -> Result<u16, String> {
    let mut sock = TcpStream::connect_timeout(&b.connect, Duration::from_secs(5))
        .map_err(|e| format!("connect {}: {e}", b.connect))?;
    let s = socket2::SockRef::from(&sock);
    if let Some(cc) = &b.cc {
        s.set_tcp_congestion(cc.as_bytes()).map_err(|e| {
            format!("--cc {cc}: the kernel refused it ({e}); see /proc/sys/net/ipv4/tcp_available_congestion_control")
        })?;
    }
    let port = sock
        .local_addr()
        .map_err(|e| format!("local address: {e}"))?
        .port();
    let handle = sock.try_clone().map_err(|e| format!("dup: {e}"))?;
    let _ = tx.send(Msg::Up(handle));
    let mut left = b.bytes;
    while left > 0 {
        let n = left.min(payload.len() as u64) as usize;
        sock.write_all(&payload[..n])
            .map_err(|e| format!("write: {e}"))?;
        left -= n as u64;
    }
    Ok(port)
}

/// The local ports, among `waiting`, of connections to `peer` with nothing unacknowledged.
fn unacked_zero(peer: SocketAddr, waiting: &HashMap<u16, usize>) -> Result<Vec<u16>, String> {
    let text =
        std::fs::read_to_string("/proc/net/tcp").map_err(|e| format!("/proc/net/tcp: {e}"))?;
    Ok(parse_proc_tcp(&text)
        .filter(|r| r.remote_port == peer.port() && r.tx_queue == 0)
        .map(|r| r.local_port)
        .filter(|p| waiting.contains_key(p))
        .collect())
}

/// One row of `/proc/net/tcp`: the fields the run reads.
#[derive(Debug, PartialEq)]
struct ProcTcpRow {
    local_port: u16,
    remote_port: u16,
    tx_queue: u32,
}

/// Rows of `/proc/net/tcp` ("sl local rem st tx:rx ..."; addresses as HEXIP:HEXPORT). Lines
/// that do not parse are skipped.
fn parse_proc_tcp(text: &str) -> impl Iterator<Item = ProcTcpRow> + '_ {
    text.lines().skip(1).filter_map(|l| {
        let mut f = l.split_whitespace().skip(1);
        let port = |a: &str| u16::from_str_radix(a.rsplit_once(':')?.1, 16).ok();
        let local_port = port(f.next()?)?;
        let remote_port = port(f.next()?)?;
        let _state = f.next()?;
        let (tx, _) = f.next()?.split_once(':')?;
        Some(ProcTcpRow {
            local_port,
            remote_port,
            tx_queue: u32::from_str_radix(tx, 16).ok()?,
        })
    })
}

impl KernelCounters {
    fn minus(&self, o: &Self) -> Self {
        Self {
            retrans_segs: self.retrans_segs.saturating_sub(o.retrans_segs),
            rtos: self.rtos.saturating_sub(o.rtos),
            sack_recoveries: self.sack_recoveries.saturating_sub(o.sack_recoveries),
            tlps: self.tlps.saturating_sub(o.tlps),
            lost_retransmits: self.lost_retransmits.saturating_sub(o.lost_retransmits),
            spurious_rtos: self.spurious_rtos.saturating_sub(o.spurious_rtos),
        }
    }
}

fn read_counters() -> Result<KernelCounters, String> {
    let snmp =
        std::fs::read_to_string("/proc/net/snmp").map_err(|e| format!("/proc/net/snmp: {e}"))?;
    let netstat = std::fs::read_to_string("/proc/net/netstat")
        .map_err(|e| format!("/proc/net/netstat: {e}"))?;
    Ok(counters_of(&snmp, &netstat))
}

/// The counters from the text of `/proc/net/snmp` and `/proc/net/netstat`, where each group
/// is a header line of names and a line of values, both starting with "Group:". Missing
/// counters read as 0.
fn counters_of(snmp: &str, netstat: &str) -> KernelCounters {
    let tcp = group(snmp, "Tcp:");
    let ext = group(netstat, "TcpExt:");
    let get = |m: &HashMap<&str, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    KernelCounters {
        retrans_segs: get(&tcp, "RetransSegs"),
        rtos: get(&ext, "TCPTimeouts"),
        sack_recoveries: get(&ext, "TCPSackRecovery"),
        tlps: get(&ext, "TCPLossProbes"),
        lost_retransmits: get(&ext, "TCPLostRetransmit"),
        spurious_rtos: get(&ext, "TCPSpuriousRTOs"),
    }
}

fn group<'a>(text: &'a str, name: &str) -> HashMap<&'a str, u64> {
    let mut lines = text.lines().filter(|l| l.starts_with(name));
    let (Some(keys), Some(vals)) = (lines.next(), lines.next()) else {
        return HashMap::new();
    };
    keys.split_whitespace()
        .zip(vals.split_whitespace())
        .skip(1)
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_tcp_rows() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
                 0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n   \
                 1: 010112C6:D13C 020013C6:1451 01 0000A5B0:00000000 01:00000015 00000000     0        0 2 1 0 20 4 30 10 -1\n\
                 garbage line\n";
        let rows: Vec<_> = parse_proc_tcp(t).collect();
        assert_eq!(
            rows,
            vec![
                ProcTcpRow {
                    local_port: 8080,
                    remote_port: 0,
                    tx_queue: 0
                },
                ProcTcpRow {
                    local_port: 0xD13C,
                    remote_port: 5201,
                    tx_queue: 0xA5B0
                },
            ]
        );
    }

    #[test]
    fn counters_from_snmp_and_netstat() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm RetransSegs InErrs\nTcp: 1 290 0\n";
        let netstat = "TcpExt: SyncookiesSent TCPTimeouts TCPLossProbes TCPSackRecovery TCPLostRetransmit TCPSpuriousRTOs\n\
                       TcpExt: 0 17 69 192 19 1\nIpExt: InNoRoutes\nIpExt: 0\n";
        let c = counters_of(snmp, netstat);
        assert_eq!(
            c,
            KernelCounters {
                retrans_segs: 290,
                rtos: 17,
                sack_recoveries: 192,
                tlps: 69,
                lost_retransmits: 19,
                spurious_rtos: 1
            }
        );
        assert_eq!(c.minus(&c), KernelCounters::default());
        assert_eq!(counters_of("", ""), KernelCounters::default());
    }
}
