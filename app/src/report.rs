//! The final report of `linerate send`: text for people, one JSON object (schema 1, see
//! docs/report-schema.md) for scripts. Both come from the same [`Report`].
use crate::latency::Percentiles;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub schema: u32,
    pub version: &'static str,
    /// "bytes" (every connection reached -n), "duration" (-t elapsed), "interrupted" (SIGINT),
    /// "all_failed" (no connection could be used).
    pub ended_by: String,
    pub settings: ReportSettings,
    /// Seconds from the first connect to the end of sending (excluding the close phase).
    pub duration_s: f64,
    pub goodput_gbps: f64,
    /// Data segments sent per second during the sending phase, in millions (schema 1 addition).
    pub data_mpps: f64,
    /// Nanoseconds of the sending phase per data segment (the whole run loop on one core:
    /// send, flush, poll, ACK processing); null when no data segment went out.
    pub ns_per_segment: Option<f64>,
    pub bytes_acked: u64,
    pub bytes_sent: u64,
    pub segments: Segments,
    pub retransmits: Retransmits,
    pub connections: Connections,
    pub per_connection_gbps: Option<MinMedMax>,
    pub per_connection: Vec<ConnReport>,
    pub latency: Latency,
    pub port: PortReport,
    pub stack: StackReport,
    /// One entry per per-core stack (schema 1 addition).
    pub workers: Vec<WorkerReport>,
    /// --cps: the connection rate asked for and reached (schema 1 addition; null otherwise).
    pub cps: Option<CpsReport>,
    /// What the connections cost in memory (schema 1 addition).
    pub memory: MemoryReport,
    /// --rr: transactions done (schema 1 addition; null otherwise).
    pub rr: Option<RrReport>,
}

/// Request/response mode's figures.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct RrReport {
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// Transactions completed (response read in full), over all connections.
    pub transactions: u64,
    /// Per second of the sending phase.
    pub per_s: f64,
}

/// Connection-rate mode's figures.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct CpsReport {
    /// --cps.
    pub target_per_s: u64,
    /// Connections opened (connect() called), over the sending phase.
    pub opened: u64,
    pub achieved_per_s: f64,
    /// Connections completed per second (see `connections.completed`).
    pub completed_per_s: f64,
}

/// Memory the connections took.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct MemoryReport {
    /// Heap bytes the stacks hold for their connections at the end of the sending phase
    /// (`Stack::conn_memory`: table, index, timer wheel, events, queues), summed.
    pub stack_bytes: u64,
    /// `stack_bytes` per connection the stacks held then.
    pub stack_bytes_per_conn: Option<f64>,
    /// Of `stack_bytes`: write queues and receive buffers (in-flight and unread data; a
    /// queue keeps its capacity once grown).
    pub queue_bytes: u64,
    /// Per connection, what is not queue: the block, its index entry, its timer-wheel slot
    /// and its share of the event queue (the idle cost of a connection).
    pub idle_bytes_per_conn: Option<f64>,
    /// The process's resident set at the end of the sending phase, and before the first
    /// connect (kB from /proc/self/status, as bytes).
    pub rss_bytes: u64,
    pub rss_before_bytes: u64,
    /// (rss − rss before) per connection held at the end: what each cost the whole process
    /// (the load generator's own bookkeeping and, with --ack-peer, the peer's included).
    pub rss_per_conn: Option<f64>,
    /// Connections the stacks held at the end of the sending phase.
    pub conns_held: u64,
}

/// One worker: a per-core stack on its own lcore and queue pair.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct WorkerReport {
    pub lcore: u32,
    pub queue: u16,
    /// Connections it ran.
    pub connections: u32,
    pub bytes_acked: u64,
    /// Its data segments per second over its sending phase, in millions.
    pub data_mpps: f64,
    /// Frames that landed on another worker's queue and were passed to this one.
    pub redirected_in: u64,
    /// Frames for another worker's connections that landed on this one's queue.
    pub redirected_out: u64,
    /// Frames this worker dropped on input (malformed, not ours, out of window, ...).
    pub drops: u64,
    /// Frames for another worker dropped because its inbox was full.
    pub redirect_drops: u64,
    /// SYN-ACKs that RSS put on this queue although the key and RETA read back send them
    /// elsewhere (RSS not steering as configured; the redirect carried them).
    pub syn_acks_misrouted: u64,
    /// Why the worker did not run, if it did not (its connections count as failed).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportSettings {
    pub port: String,
    pub ip: String,
    pub gw: Option<String>,
    pub dst: Vec<String>,
    pub connections: u32,
    pub duration_s: Option<f64>,
    pub bytes_per_connection: Option<u64>,
    /// --cps (new connections per second), --hold (its interval in seconds), --src-range.
    pub cps: Option<u64>,
    /// --rr: [request, response] bytes.
    pub rr: Option<[u64; 2]>,
    pub hold_interval_s: Option<f64>,
    pub src_range: Option<String>,
    pub size: u64,
    pub payload: String,
    pub rate_bps: Option<u64>,
    pub latency_msg_rate: Option<u64>,
    pub nodelay: bool,
    pub mss: u16,
    pub cc: String,
    pub sndbuf: u64,
    pub mbufs: u32,
    /// `--ack-peer`: an in-process receiver answered instead of the network.
    pub ack_peer: bool,
    /// `--ack-peer-offloads`: the peer presented emulated checksum offload (an emulation:
    /// label any figure from it so).
    pub ack_peer_offloads: bool,
    /// `--ack-peer-tso`: the peer presented emulated TSO as well (label figures so).
    pub ack_peer_tso: bool,
    pub ack_peer_gro: bool,
    /// `--copy`: the payload was copied per write instead of referenced (zero copy).
    pub copy: bool,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Segments {
    pub data_out: u64,
    pub out: u64,
    #[serde(rename = "in")]
    pub in_: u64,
    pub tx_frames: u64,
    pub rx_frames: u64,
    /// Of `in`: plain ACKs a later ACK in the same RX burst superseded.
    pub acks_coalesced: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Retransmits {
    pub segments: u64,
    pub bytes: u64,
    pub fast: u64,
    pub rto: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub tlp: u64,
    /// Retransmissions the receiver reported as unneeded by DSACK (RFC 2883/3708).
    pub spurious: u64,
    /// RTOs found spurious by the timestamp echo (RFC 3522).
    pub spurious_rto: u64,
    /// Segments RACK marked lost by time (RFC 8985).
    pub rack_lost: u64,
    /// Times the receiver dropped data it had SACKed.
    pub sack_reneging: u64,
    /// SACK recovery episodes entered (RFC 6675).
    pub recoveries: u64,
    /// Congestion responses undone (DSACK, Eifel, or timestamp echoes showing reordering).
    pub undos: u64,
    /// Of `undos`: recoveries undone because delayed originals filled every hole.
    pub ts_undos: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Connections {
    pub requested: u32,
    pub established: u32,
    /// Reached -n bytes acked and closed with FIN (or, with -t, were sending at the end).
    pub completed: u32,
    /// Connections that failed, by any cause below.
    pub errors: u32,
    pub refused: u32,
    pub reset: u32,
    pub timed_out: u32,
    pub unreachable: u32,
    /// Still in SYN-SENT when the run ended.
    pub not_established: u32,
    /// connect() itself failed (no free port, too many connections, neighbour table full).
    pub connect_failed: u32,
    /// Established but never had a byte acknowledged: starved (schema 1 addition).
    pub no_data: u32,
}

impl Connections {
    /// Adds `o`'s counts (all but `requested`).
    pub fn add(&mut self, o: &Connections) {
        self.established += o.established;
        self.completed += o.completed;
        self.errors += o.errors;
        self.refused += o.refused;
        self.reset += o.reset;
        self.timed_out += o.timed_out;
        self.unreachable += o.unreachable;
        self.not_established += o.not_established;
        self.connect_failed += o.connect_failed;
        self.no_data += o.no_data;
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct MinMedMax {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl MinMedMax {
    pub fn of(v: &[f64]) -> Option<MinMedMax> {
        if v.is_empty() {
            return None;
        }
        let mut s = v.to_vec();
        s.sort_by(|a, b| a.total_cmp(b));
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        Some(MinMedMax {
            min: s[0],
            median,
            max: s[n - 1],
        })
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConnReport {
    pub id: u32,
    pub dst: String,
    pub state: String,
    pub error: Option<String>,
    pub bytes_acked: u64,
    pub gbps: f64,
    pub retrans_segs: u64,
    pub srtt_us: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    /// send() call to frame accepted by rte_eth_tx_burst, from the actual call time.
    pub send: Option<Percentiles>,
    /// send() call to the ACK covering its last byte, from the actual call time.
    pub ack_rtt: Option<Percentiles>,
    /// Latency mode only: as `send`, from the intended (scheduled) time.
    pub send_corrected: Option<Percentiles>,
    /// Latency mode only: as `ack_rtt`, from the intended (scheduled) time.
    pub ack_rtt_corrected: Option<Percentiles>,
    /// --cps: connect() to ESTABLISHED.
    pub connect: Option<Percentiles>,
    /// --cps: connect() to the last byte acked and both FINs done.
    pub complete: Option<Percentiles>,
    /// --rr: a request's first send() to its response's last byte read.
    pub transaction: Option<Percentiles>,
    /// --rr with --msg-rate: as `transaction`, from the request's intended time.
    pub transaction_corrected: Option<Percentiles>,
    /// Sends not sampled for ACK RTT (the per-connection ring was full).
    pub unsampled: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PortReport {
    pub name: String,
    pub driver: String,
    pub ipackets: u64,
    pub opackets: u64,
    pub ibytes: u64,
    pub obytes: u64,
    pub imissed: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    pub rx_nombuf: u64,
    /// Non-zero extended statistics, by name.
    pub xstats: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StackReport {
    /// Frames dropped on input, by reason (non-zero and zero alike).
    pub drops: BTreeMap<String, u64>,
    pub drops_total: u64,
    pub rst_sent: u64,
    pub neigh: BTreeMap<String, u64>,
    pub tx_partial: u64,
    pub gso_units: u64,
    pub gso_frames: u64,
    pub tso_frames: u64,
    pub would_block: u64,
    pub partial_writes: u64,
    pub alloc_failures: u64,
    pub pool_size: u32,
    pub pool_in_use: u32,
    /// TIME-WAIT records: `held` at the end, `reused`, `overflow`, `segs_in`, `acks`,
    /// `rst_ignored`.
    pub time_wait: BTreeMap<String, u64>,
    /// Replies to invalid segments held back by RFC 5961 §7's limits: `challenge_acks`,
    /// `rsts`.
    pub reply_limited: BTreeMap<String, u64>,
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("report serialises")
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let c = &self.connections;
        let _ = writeln!(s, "linerate send report (ended by {})", self.ended_by);
        let _ = writeln!(
            s,
            "  goodput        {:.3} Gbit/s over {:.3} s",
            self.goodput_gbps, self.duration_s
        );
        let _ = writeln!(
            s,
            "  data rate      {:.3} Mpps of data segments, {} ns/segment",
            self.data_mpps,
            self.ns_per_segment
                .map_or_else(|| "-".to_string(), |n| format!("{n:.1}"))
        );
        let _ = writeln!(
            s,
            "  bytes          {} acked, {} sent",
            self.bytes_acked, self.bytes_sent
        );
        let _ = writeln!(
            s,
            "  segments       {} data out, {} out, {} in ({} ACKs coalesced; {} frames tx, {} rx)",
            self.segments.data_out,
            self.segments.out,
            self.segments.in_,
            self.segments.acks_coalesced,
            self.segments.tx_frames,
            self.segments.rx_frames
        );
        if self.workers.len() > 1 {
            for w in &self.workers {
                let _ = match &w.error {
                    Some(e) => writeln!(s, "  worker {:<7} lcore {} FAILED: {e}", w.queue, w.lcore),
                    None => writeln!(
                        s,
                        "  worker {:<7} lcore {}, {} conns, {} bytes acked, {:.3} Mpps; redirected {} in, {} out ({} dropped); {} drops",
                        w.queue, w.lcore, w.connections, w.bytes_acked, w.data_mpps,
                        w.redirected_in, w.redirected_out, w.redirect_drops, w.drops
                    ),
                };
            }
        }
        let r = &self.retransmits;
        let _ = writeln!(
            s,
            "  retransmits    {} segments ({} bytes), {} fast, {} RTO, {} TLP, {} RACK-lost; spurious {} (+{} RTO); SACK reneging {}; {} recoveries, {} undone ({} by timestamps)",
            r.segments, r.bytes, r.fast, r.rto, r.tlp, r.rack_lost, r.spurious, r.spurious_rto, r.sack_reneging, r.recoveries, r.undos, r.ts_undos
        );
        let _ = writeln!(
            s,
            "  connections    {} requested, {} established, {} completed, {} errors \
             (refused {}, reset {}, timed out {}, unreachable {}, not established {}, connect failed {}); {} moved no data",
            c.requested,
            c.established,
            c.completed,
            c.errors,
            c.refused,
            c.reset,
            c.timed_out,
            c.unreachable,
            c.not_established,
            c.connect_failed,
            c.no_data
        );
        if let Some(x) = &self.rr {
            let _ = writeln!(
                s,
                "  transactions   {} of {}/{} bytes, {:.0}/s",
                x.transactions, x.request_bytes, x.response_bytes, x.per_s
            );
        }
        if let Some(x) = &self.cps {
            let _ = writeln!(
                s,
                "  conn rate      {} opened at {:.0}/s (asked {}/s), {:.0} completed/s",
                x.opened, x.achieved_per_s, x.target_per_s, x.completed_per_s
            );
        }
        let m = &self.memory;
        if let Some(b) = m.stack_bytes_per_conn {
            let _ = writeln!(
                s,
                "  memory         {} connections held: stack {:.0} B each ({:.0} B idle + queues; {} MiB); process RSS {} MiB ({} MiB before connecting{})",
                m.conns_held,
                b,
                m.idle_bytes_per_conn.unwrap_or(0.0),
                m.stack_bytes >> 20,
                m.rss_bytes >> 20,
                m.rss_before_bytes >> 20,
                m.rss_per_conn.map_or(String::new(), |r| format!(", {r:.0} B per connection"))
            );
        }
        if let Some(m) = self.per_connection_gbps {
            let _ = writeln!(
                s,
                "  per-conn       min {:.3} / median {:.3} / max {:.3} Gbit/s",
                m.min, m.median, m.max
            );
        }
        let _ = writeln!(
            s,
            "  latency (us)   {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "count", "p50", "p90", "p99", "p99.9", "max", "mean"
        );
        let rows = [
            ("send", &self.latency.send),
            ("ack-rtt", &self.latency.ack_rtt),
            ("send (co)", &self.latency.send_corrected),
            ("ack-rtt (co)", &self.latency.ack_rtt_corrected),
            ("connect", &self.latency.connect),
            ("complete", &self.latency.complete),
            ("transaction", &self.latency.transaction),
            ("transact (co)", &self.latency.transaction_corrected),
        ];
        for (name, p) in rows {
            match p {
                Some(p) => {
                    let _ = writeln!(
                        s,
                        "    {:<12} {:>10} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                        name, p.count, p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.max_us, p.mean_us
                    );
                }
                None if name.ends_with("(co)")
                    || name.starts_with("con")
                    || name.starts_with("tr") => {}
                None => {
                    let _ = writeln!(s, "    {name:<12} {:>10}", 0);
                }
            }
        }
        if self.latency.send_corrected.is_some() {
            let _ = writeln!(
                s,
                "    (co) = from the intended send time (coordinated-omission corrected)"
            );
        }
        let p = &self.port;
        let _ = writeln!(
            s,
            "  port           {} ({}): opackets {} obytes {} ipackets {} ibytes {} imissed {} ierrors {} oerrors {} rx_nombuf {}",
            p.name, p.driver, p.opackets, p.obytes, p.ipackets, p.ibytes, p.imissed, p.ierrors, p.oerrors, p.rx_nombuf
        );
        if !p.xstats.is_empty() {
            let _ = writeln!(s, "  xstats         {}", kv_join(&p.xstats));
        }
        let st = &self.stack;
        let nz: BTreeMap<String, u64> = st
            .drops
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let _ = writeln!(
            s,
            "  stack drops    {} total{}{}; rst sent {}",
            st.drops_total,
            if nz.is_empty() { "" } else { ": " },
            kv_join(&nz),
            st.rst_sent
        );
        let _ = writeln!(s, "  neighbours     {}", kv_join(&st.neigh));
        let _ = write!(
            s,
            "  send path      would-block {} partial-writes {} alloc-failures {} tx-partial {} pool {}/{} in use",
            st.would_block, st.partial_writes, st.alloc_failures, st.tx_partial, st.pool_in_use, st.pool_size
        );
        s
    }
}

fn kv_join(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample() -> Report {
        Report {
            schema: SCHEMA,
            version: env!("CARGO_PKG_VERSION"),
            ended_by: "bytes".into(),
            settings: ReportSettings {
                port: "0".into(),
                ip: "198.18.0.1/24".into(),
                gw: Some("198.18.0.254".into()),
                dst: vec!["198.19.0.2:5201".into()],
                connections: 2,
                duration_s: None,
                bytes_per_connection: Some(1000),
                size: 131072,
                payload: "random".into(),
                rate_bps: None,
                latency_msg_rate: None,
                nodelay: false,
                mss: 1460,
                cc: "reno".into(),
                sndbuf: 4 << 20,
                mbufs: 8191,
                ack_peer: false,
                ack_peer_offloads: false,
                ack_peer_tso: false,
                ack_peer_gro: false,
                copy: false,
                cps: None,
                rr: None,
                hold_interval_s: None,
                src_range: None,
            },
            duration_s: 1.0,
            goodput_gbps: 0.000016,
            data_mpps: 0.5,
            ns_per_segment: Some(2000.0),
            bytes_acked: 2000,
            bytes_sent: 2000,
            segments: Segments::default(),
            retransmits: Retransmits::default(),
            connections: Connections {
                requested: 2,
                established: 2,
                completed: 2,
                ..Default::default()
            },
            per_connection_gbps: MinMedMax::of(&[1.0, 3.0]),
            per_connection: vec![],
            latency: Latency {
                send: None,
                ack_rtt: None,
                send_corrected: None,
                ack_rtt_corrected: None,
                connect: None,
                complete: None,
                transaction: None,
                transaction_corrected: None,
                unsampled: 0,
            },
            port: PortReport {
                xstats: [("tx_good_packets".to_string(), 5)].into_iter().collect(),
                ..Default::default()
            },
            stack: StackReport::default(),
            cps: None,
            memory: MemoryReport::default(),
            rr: None,
            workers: vec![
                WorkerReport {
                    lcore: 0,
                    queue: 0,
                    connections: 1,
                    bytes_acked: 1000,
                    data_mpps: 0.25,
                    redirected_in: 3,
                    ..Default::default()
                },
                WorkerReport {
                    lcore: 1,
                    queue: 1,
                    connections: 1,
                    bytes_acked: 1000,
                    data_mpps: 0.25,
                    redirected_out: 3,
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn json_has_the_schema_fields() {
        let v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(v["schema"], 1);
        for k in [
            "version",
            "ended_by",
            "settings",
            "duration_s",
            "goodput_gbps",
            "data_mpps",
            "ns_per_segment",
            "bytes_acked",
            "bytes_sent",
            "segments",
            "retransmits",
            "connections",
            "per_connection_gbps",
            "per_connection",
            "latency",
            "port",
            "stack",
            "workers",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        for k in [
            "lcore",
            "queue",
            "connections",
            "bytes_acked",
            "data_mpps",
            "redirected_in",
            "redirected_out",
            "drops",
            "redirect_drops",
            "syn_acks_misrouted",
            "error",
        ] {
            assert!(v["workers"][0].get(k).is_some(), "missing workers[].{k}");
        }
        assert_eq!(v["workers"][1]["redirected_out"], 3);
        assert_eq!(v["segments"]["in"], 0);
        assert_eq!(v["connections"]["errors"], 0);
        assert_eq!(v["per_connection_gbps"]["median"], 2.0);
        assert_eq!(v["port"]["xstats"]["tx_good_packets"], 5);
        assert!(v["latency"]["send"].is_null());
        assert_eq!(v["data_mpps"], 0.5);
        assert_eq!(v["ns_per_segment"], 2000.0);
        assert_eq!(v["settings"]["ack_peer"], false);
    }

    #[test]
    fn text_mentions_everything() {
        let t = sample().to_text();
        for w in [
            "goodput",
            "ns/segment",
            "retransmits",
            "connections",
            "per-conn",
            "latency",
            "xstats",
            "stack drops",
            "neighbours",
            "redirected 3 in",
        ] {
            assert!(t.contains(w), "{w} missing in\n{t}");
        }
    }

    #[test]
    fn median() {
        assert_eq!(MinMedMax::of(&[]), None);
        let m = MinMedMax::of(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((m.min, m.median, m.max), (1.0, 3.0, 5.0));
    }
}
