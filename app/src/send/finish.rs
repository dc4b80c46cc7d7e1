//! What a run leaves behind: the [`Report`] built from the loop's final state, the
//! HdrHistogram log, and the exit status.
//!
//! The report types and their printing live in [`crate::report`]; building one reads the
//! send loop's own state (its connections, the stack, the port), so it lives here and
//! `crate::report` stays free of the send loop.
use super::conn::Conn;
use super::part::{Failed, Part};
use super::SendError;
use crate::config::{Payload, Settings, Stop};
use crate::latency::{Hists, Percentiles};
use crate::report::{
    ConnReport, Connections, CpsReport, Latency, MemoryReport, MinMedMax, PortReport, Report,
    ReportSettings, Retransmits, RrReport, Segments, StackReport, WorkerReport, SCHEMA,
};
use linerate::dpdk::{Mempool, Port, PortStats};
use linerate::{NeighStats, RxDrops, StackStats, TcpCounters};
use std::collections::BTreeMap;

/// A whole run, ended and closed: the settings, the port and its counters before the run,
/// the pool, what each worker that ran left, and the workers that did not run.
#[derive(Clone, Copy)]
pub(super) struct Outcome<'a> {
    pub s: &'a Settings,
    pub port: &'a Port,
    pub port_before: &'a PortStats,
    pub pool: &'a Mempool,
    pub parts: &'a [Part],
    pub failed: &'a [Failed],
}

/// The report of a run, `hists` being every worker's histograms added up.
fn build_report(o: &Outcome, hists: &Hists) -> Report {
    let Outcome {
        s,
        port,
        port_before,
        pool,
        parts,
        failed,
    } = *o;
    let t_start = parts.iter().map(|p| p.t_start).min().unwrap_or(0);
    let t_end = parts.iter().map(|p| p.ended.t_end).max().unwrap_or(t_start);
    let secs = (t_end.saturating_sub(t_start)) as f64 / 1e9;
    let mut st = StackStats::default();
    for p in parts {
        st.add(&p.stats);
    }
    let data_segs: u64 = parts.iter().map(|p| p.ended.data_segs).sum();
    let bytes_acked: u64 = parts.iter().map(|p| p.ended.acked_total).sum();
    // Every connection with its rate over its own worker's sending phase, in -P order.
    let mut all: Vec<(usize, &Conn, ConnReport)> = parts
        .iter()
        .flat_map(|p| {
            (p.conns.iter().zip(&p.ended.acked)).map(|((i, c), &acked)| {
                (*i, c, conn_report(*i, c, acked, p.t_start, p.ended.t_end))
            })
        })
        .collect();
    all.sort_by_key(|(i, _, _)| *i);
    let rates: Vec<f64> = all
        .iter()
        .filter(|(_, c, _)| c.established)
        .map(|(_, _, r)| r.gbps)
        .collect();
    let conns: Vec<&Conn> = all.iter().map(|(_, c, _)| *c).collect();
    let mut workers: Vec<WorkerReport> = parts.iter().map(worker_report).collect();
    workers.extend(failed.iter().map(|f| WorkerReport {
        lcore: f.lcore,
        queue: f.queue,
        error: Some(f.error.clone()),
        ..Default::default()
    }));
    workers.sort_by_key(|w| w.queue);
    Report {
        schema: SCHEMA,
        version: env!("CARGO_PKG_VERSION"),
        ended_by: ended_by(parts),
        settings: report_settings(s),
        duration_s: secs,
        goodput_gbps: if secs > 0.0 {
            bytes_acked as f64 * 8.0 / secs / 1e9
        } else {
            0.0
        },
        data_mpps: if secs > 0.0 {
            data_segs as f64 / secs / 1e6
        } else {
            0.0
        },
        ns_per_segment: (data_segs > 0).then(|| secs * 1e9 / data_segs as f64),
        bytes_acked,
        bytes_sent: st.tcp.bytes_sent,
        segments: segments(&st),
        retransmits: retransmits(&st.tcp),
        connections: tally(s, parts, &conns),
        per_connection_gbps: MinMedMax::of(&rates),
        // A list of a million is no report: up to PER_CONN_MAX, in -P order.
        per_connection: all
            .into_iter()
            .take(PER_CONN_MAX)
            .map(|(_, _, r)| r)
            .collect(),
        latency: latency(hists, &conns),
        port: port_report(port, port_before),
        stack: stack_report(pool, &st),
        workers,
        cps: s.cps.map(|target| {
            let opened: u64 = parts.iter().map(|p| p.opened).sum();
            let completed: u64 = parts
                .iter()
                .filter_map(|p| p.retired.map(|c| c.completed as u64))
                .sum();
            let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
            CpsReport {
                target_per_s: target,
                opened,
                achieved_per_s: per_s(opened),
                completed_per_s: per_s(completed),
            }
        }),
        memory: memory(parts),
        rr: s.rr.map(|(q, r)| {
            let n = hists.transaction.len();
            RrReport {
                request_bytes: q,
                response_bytes: r,
                transactions: n,
                per_s: if secs > 0.0 { n as f64 / secs } else { 0.0 },
            }
        }),
    }
}

/// Connections listed one by one in the report, at most.
const PER_CONN_MAX: usize = 10_000;

/// The connections' memory: the stacks' own (summed), the process's RSS (its largest at the
/// end of any worker's sending phase, against its smallest before connecting).
fn memory(parts: &[Part]) -> MemoryReport {
    let held: u64 = parts.iter().map(|p| p.mem.conns_held).sum();
    let stack: u64 = parts.iter().map(|p| p.mem.stack_bytes).sum();
    let queues: u64 = parts.iter().map(|p| p.mem.queue_bytes).sum();
    let rss = parts.iter().map(|p| p.mem.rss).max().unwrap_or(0);
    let before = parts.iter().map(|p| p.mem.rss_before).min().unwrap_or(0);
    let per = |b: u64| (held > 0).then(|| b as f64 / held as f64);
    MemoryReport {
        stack_bytes: stack,
        stack_bytes_per_conn: per(stack),
        queue_bytes: queues,
        idle_bytes_per_conn: per(stack - queues),
        rss_bytes: rss,
        rss_before_bytes: before,
        rss_per_conn: per(rss.saturating_sub(before)),
        conns_held: held,
    }
}

/// How the whole run ended: a Ctrl-C or the clock if either ended any worker, "bytes" when
/// every worker's connections finished -n, "all_failed" only when every worker's failed.
fn ended_by(parts: &[Part]) -> String {
    let by = |w: &str| parts.iter().any(|p| p.ended.by == w);
    let all = |w: &str| !parts.is_empty() && parts.iter().all(|p| p.ended.by == w);
    if by("interrupted") {
        "interrupted"
    } else if by("duration") {
        "duration"
    } else if all("all_failed") || parts.is_empty() {
        "all_failed"
    } else {
        "bytes"
    }
    .to_string()
}

fn worker_report(p: &Part) -> WorkerReport {
    let secs = p.ended.t_end.saturating_sub(p.t_start) as f64 / 1e9;
    WorkerReport {
        lcore: p.lcore,
        queue: p.queue,
        connections: p.opened as u32,
        bytes_acked: p.ended.acked_total,
        data_mpps: if secs > 0.0 {
            p.ended.data_segs as f64 / secs / 1e6
        } else {
            0.0
        },
        redirected_in: p.steer.redirected_in,
        redirected_out: p.steer.redirected_out,
        drops: p.stats.drops.total(),
        redirect_drops: p.steer.redirect_drops,
        syn_acks_misrouted: p.steer.syn_acks_misrouted,
        error: None,
    }
}

/// Builds the report of the run, writes the histogram log (--hist-out), prints the report,
/// and gives the exit status.
pub(super) fn finish(o: &Outcome) -> Result<(), SendError> {
    let mut hists = Hists::default();
    for p in o.parts {
        hists.add(&p.hists);
    }
    let report = build_report(o, &hists);
    let misrouted: u64 = report.workers.iter().map(|w| w.syn_acks_misrouted).sum();
    if misrouted > 0 {
        eprintln!(
            "linerate: warning: RSS put {misrouted} SYN-ACKs on another queue than its key and RETA say: the software redirect carried their connections"
        );
    }
    if let Some(p) = &o.s.hist_out {
        if let Err(e) = write_hist_log(p, &hists, report.duration_s) {
            eprintln!("linerate: warning: --hist-out {}: {e}", p.display());
        }
    }
    if o.s.json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.to_text());
    }
    status(&report, o.parts)
}

fn report_settings(s: &Settings) -> ReportSettings {
    ReportSettings {
        port: s.port.clone(),
        ip: s.ip.to_string(),
        gw: s.gw.map(|g| g.to_string()),
        dst: s.dst.iter().map(|d| d.to_string()).collect(),
        connections: s.connections,
        duration_s: match s.stop {
            Stop::Duration(d) | Stop::Cps { run: d, .. } => Some(d.as_secs_f64()),
            _ => None,
        },
        bytes_per_connection: match s.stop {
            Stop::BytesPerConn(n) | Stop::Cps { bytes: n, .. } => Some(n),
            _ => None,
        },
        cps: s.cps,
        rr: s.rr.map(|(q, r)| [q, r]),
        hold_interval_s: s.hold.map(|d| d.as_secs_f64()),
        src_range: s.src_range.map(|(a, b)| format!("{a}-{b}")),
        size: s.size,
        payload: match &s.payload {
            Payload::Random { seed } => format!("random:{seed}"),
            Payload::File(p) => format!("file:{}", p.display()),
        },
        rate_bps: s.rate,
        latency_msg_rate: s.latency,
        nodelay: s.nodelay,
        mss: s.mss,
        cc: s.cc.clone(),
        sndbuf: s.sndbuf,
        mbufs: s.mbufs,
        ack_peer: s.ack_peer,
        ack_peer_offloads: s.ack_peer_offloads,
        ack_peer_tso: s.ack_peer_tso,
        ack_peer_gro: s.ack_peer_gro,
        copy: s.copy,
    }
}

/// Connection `i`: `acked` is its count at the end of the sending phase, and its rate runs
/// to when it finished -n (or to the end).
fn conn_report(i: usize, c: &Conn, acked: u64, t_start: u64, t_end: u64) -> ConnReport {
    let end = c.done_at.unwrap_or(t_end).max(t_start + 1);
    ConnReport {
        id: i as u32,
        dst: c.dst.to_string(),
        state: c
            .state()
            .map_or_else(|| "NONE".into(), |x| x.name().to_string()),
        error: c.error_text(),
        bytes_acked: acked,
        gbps: acked as f64 * 8.0 / ((end - t_start) as f64 / 1e9) / 1e9,
        retrans_segs: c.retrans_segs,
        srtt_us: c.srtt_us,
    }
}

/// How the connections fared: each is counted once by its error (or as not established),
/// and as failed or completed.
fn tally(s: &Settings, parts: &[Part], conns: &[&Conn]) -> Connections {
    let mut cs = Connections {
        requested: s.connections,
        ..Default::default()
    };
    if s.cps.is_some() {
        // Every connection opened was asked for; those done during the run were counted as
        // they finished.
        cs.requested = parts.iter().map(|p| p.opened as u32).sum();
        for r in parts.iter().filter_map(|p| p.retired) {
            cs.add(&r);
        }
    } else {
        // Connections of a worker that never ran failed too.
        let missing = (s.connections as usize).saturating_sub(conns.len()) as u32;
        cs.errors += missing;
        cs.not_established += missing;
    }
    let limit = match s.stop {
        Stop::BytesPerConn(n) | Stop::Cps { bytes: n, .. } => n,
        Stop::Duration(_) => u64::MAX,
    };
    for c in conns {
        c.count_into(&mut cs, limit);
    }
    cs
}

fn segments(st: &StackStats) -> Segments {
    Segments {
        data_out: st.tcp.data_segs_out,
        out: st.tcp.segs_out,
        in_: st.tcp.segs_in,
        tx_frames: st.dev.tx_frames,
        rx_frames: st.dev.rx_frames,
        acks_coalesced: st.tcp.acks_coalesced,
    }
}

fn retransmits(t: &TcpCounters) -> Retransmits {
    Retransmits {
        segments: t.retrans_segs,
        bytes: t.bytes_retrans,
        fast: t.fast_retrans,
        rto: t.rtos,
        tlp: t.tlps,
        spurious: t.spurious_retrans,
        spurious_rto: t.spurious_rtos,
        rack_lost: t.rack_lost,
        sack_reneging: t.sack_reneges,
        recoveries: t.sack_recoveries,
        undos: t.undos,
        ts_undos: t.ts_undos,
    }
}

fn latency(hists: &Hists, conns: &[&Conn]) -> Latency {
    Latency {
        send: Percentiles::of(&hists.send),
        ack_rtt: Percentiles::of(&hists.ack_rtt),
        send_corrected: Percentiles::of(&hists.send_corrected),
        ack_rtt_corrected: Percentiles::of(&hists.ack_rtt_corrected),
        connect: Percentiles::of(&hists.connect),
        complete: Percentiles::of(&hists.complete),
        transaction: Percentiles::of(&hists.transaction),
        transaction_corrected: Percentiles::of(&hists.transaction_corrected),
        unsampled: conns.iter().map(|c| c.tracker.unsampled).sum(),
    }
}

/// The port's counters over the run (since `before`), and its non-zero xstats.
fn port_report(port: &Port, before: &PortStats) -> PortReport {
    let ps = port.stats().unwrap_or_default();
    let xstats: BTreeMap<String, u64> = port
        .xstats()
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| *v != 0)
        .collect();
    PortReport {
        name: port.name().to_string(),
        driver: port.driver().to_string(),
        ipackets: ps.ipackets.saturating_sub(before.ipackets),
        opackets: ps.opackets.saturating_sub(before.opackets),
        ibytes: ps.ibytes.saturating_sub(before.ibytes),
        obytes: ps.obytes.saturating_sub(before.obytes),
        imissed: ps.imissed.saturating_sub(before.imissed),
        ierrors: ps.ierrors.saturating_sub(before.ierrors),
        oerrors: ps.oerrors.saturating_sub(before.oerrors),
        rx_nombuf: ps.rx_nombuf.saturating_sub(before.rx_nombuf),
        xstats,
    }
}

fn stack_report(pool: &Mempool, st: &StackStats) -> StackReport {
    StackReport {
        drops: drop_counts(&st.drops),
        drops_total: st.drops.total(),
        rst_sent: st.drops.rst_sent,
        neigh: neigh_counts(&st.neigh),
        tx_partial: st.dev.tx_partial,
        gso_units: st.dev.gso_units,
        gso_frames: st.dev.gso_frames,
        tso_frames: st.dev.tso_frames,
        would_block: st.tcp.would_block,
        partial_writes: st.tcp.partial_writes,
        alloc_failures: st.tcp.alloc_failures,
        pool_size: pool.size(),
        pool_in_use: pool.in_use(),
        time_wait: [
            ("held", st.time_wait.held as u64),
            ("reused", st.time_wait.reused),
            ("overflow", st.time_wait.overflow),
            ("segs_in", st.time_wait.segs_in),
            ("acks", st.time_wait.acks),
            ("rst_ignored", st.time_wait.rst_ignored),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        reply_limited: [
            ("challenge_acks", st.limited.challenge_acks),
            ("rsts", st.limited.rsts),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    }
}

fn drop_counts(d: &RxDrops) -> BTreeMap<String, u64> {
    [
        ("malformed", d.malformed),
        ("bad_ip_checksum", d.bad_ip_checksum),
        ("bad_tcp_checksum", d.bad_tcp_checksum),
        ("not_for_us", d.not_for_us),
        ("martian_src", d.martian_src),
        ("fragments", d.fragments),
        ("unsupported", d.unsupported),
        ("out_of_window", d.out_of_window),
        ("bad_rst", d.bad_rst),
        ("bad_syn", d.bad_syn),
        ("bad_ack", d.bad_ack),
        ("no_ack", d.no_ack),
        ("paws", d.paws),
        ("no_conn", d.no_conn),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn neigh_counts(n: &NeighStats) -> BTreeMap<String, u64> {
    [
        ("requests_sent", n.requests_sent),
        ("replies_sent", n.replies_sent),
        ("replies_received", n.replies_received),
        ("resolved", n.resolved),
        ("failed", n.failed),
        ("pending_dropped", n.pending_dropped),
        ("ignored", n.ignored),
        ("evicted", n.evicted),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The exit status: a failure when no connection could be used, naming the first error.
fn status(report: &Report, parts: &[Part]) -> Result<(), SendError> {
    if report.connections.errors != report.connections.requested {
        return Ok(());
    }
    let conns = parts.iter().flat_map(|p| p.conns.iter().map(|(_, c)| c));
    let first = conns
        .filter_map(Conn::error_text)
        .next()
        .or_else(|| report.workers.iter().find_map(|w| w.error.clone()))
        .unwrap_or_else(|| {
            "no connection was established (no SYN-ACK from the destination)".into()
        });
    Err(SendError::Fail(format!(
        "all {} connections failed: {first}",
        report.connections.requested
    )))
}

/// Writes the histograms as an HdrHistogram interval log (V2 + deflate, values in ns), one
/// tagged interval per histogram.
fn write_hist_log(path: &std::path::Path, h: &Hists, secs: f64) -> Result<(), String> {
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    use hdrhistogram::serialization::V2DeflateSerializer;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| e.to_string())?);
    let mut ser = V2DeflateSerializer::new();
    let mut w = IntervalLogWriterBuilder::new()
        .add_comment("linerate send latency histograms; values in nanoseconds")
        .with_start_time(std::time::SystemTime::now())
        .begin_log_with(&mut f, &mut ser)
        .map_err(|e| e.to_string())?;
    let dur = std::time::Duration::from_secs_f64(secs.max(0.0));
    for (tag, hist) in [
        ("send", &h.send),
        ("ack_rtt", &h.ack_rtt),
        ("send_corrected", &h.send_corrected),
        ("ack_rtt_corrected", &h.ack_rtt_corrected),
        ("connect", &h.connect),
        ("complete", &h.complete),
        ("transaction", &h.transaction),
        ("transaction_corrected", &h.transaction_corrected),
    ] {
        if hist.is_empty() {
            continue;
        }
        w.write_histogram(hist, std::time::Duration::ZERO, dur, Tag::new(tag))
            .map_err(|e| e.to_string())?;
    }
    drop(w);
    use std::io::Write;
    f.flush().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hist_log_round_trips() {
        let mut h = Hists::default();
        for v in [1_000u64, 2_000, 3_000] {
            h.send.record(v).unwrap();
        }
        let dir = std::env::temp_dir().join(format!("lr-hist-{}", std::process::id()));
        write_hist_log(&dir, &h, 1.0).unwrap();
        let text = std::fs::read(&dir).unwrap();
        let _ = std::fs::remove_file(&dir);
        let mut n = 0;
        for e in hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&text) {
            if let Ok(hdrhistogram::serialization::interval_log::LogEntry::Interval(i)) = e {
                assert_eq!(i.tag().unwrap().as_str(), "send");
                n += 1;
            }
        }
        assert_eq!(n, 1);
    }
}
