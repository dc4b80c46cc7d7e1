//! What a connection tells the app about itself (like `ss -ti`): its counters and a snapshot.
use super::{State, TcpError};

/// Counters and estimates of one connection, like `ss -ti`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// Payload bytes sent for the first time.
    pub bytes_sent: u64,
    /// Payload bytes sent again.
    pub bytes_retrans: u64,
    /// Payload bytes the peer acknowledged.
    pub bytes_acked: u64,
    /// Payload bytes received in order.
    pub bytes_received: u64,
    /// Segments sent, control segments included.
    pub segs_out: u64,
    /// Segments received.
    pub segs_in: u64,
    /// Of `segs_in`: plain ACKs that a later ACK in the same RX burst superseded, so that
    /// only the later one was processed.
    pub acks_coalesced: u64,
    /// Segments with payload sent.
    pub data_segs_out: u64,
    /// Segments retransmitted.
    pub retrans_segs: u64,
    /// Retransmissions in fast recovery (RFC 5681, RFC 6675).
    pub fast_retrans: u64,
    /// Retransmission timeouts.
    pub rtos: u64,
    /// Duplicate ACKs received.
    pub dupacks_in: u64,
    /// Zero-window probes sent (RFC 9293 §3.8.6.1).
    pub zero_window_probes: u64,
    /// `send` calls that took only part of the buffer.
    pub partial_writes: u64,
    /// `send` calls that took nothing (WouldBlock).
    pub would_block: u64,
    /// mbuf allocation failures in `send` (pool exhausted: backpressure).
    pub alloc_failures: u64,
    /// Segments that arrived out of order and were dropped (and re-ACKed).
    pub ooo_dropped: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub tlps: u64,
    /// Probes that repaired a loss (ACKed beyond the probe without a DSACK, §7.4).
    pub tlp_recoveries: u64,
    /// Retransmissions the receiver reported as duplicates (DSACK, RFC 2883/3708).
    pub spurious_retrans: u64,
    /// RTOs found spurious by their timestamp echo (Eifel, RFC 3522).
    pub spurious_rtos: u64,
    /// Congestion responses undone (all retransmissions DSACKed, a spurious RTO, or holes
    /// filled by delayed originals).
    pub undos: u64,
    /// Of `undos`: fast recoveries undone because the timestamp echoes showed every hole was
    /// filled by an original (reordering, not loss).
    pub ts_undos: u64,
    /// The receiver discarded data it had SACKed (RFC 2018 §8).
    pub sack_reneges: u64,
    /// Payload bytes newly marked SACKed.
    pub sacked_bytes: u64,
    /// DSACK blocks received.
    pub dsacks_in: u64,
    /// SACK-based recovery episodes entered (RFC 6675).
    pub sack_recoveries: u64,
    /// Segments RACK marked lost by time (RFC 8985 §6.2).
    pub rack_lost: u64,
    /// The connection ended early in TIME-WAIT for a new connection to take its 4-tuple.
    pub tw_reused: u64,
}

impl TcpCounters {
    /// Adds `o` field by field (for stack-wide totals).
    pub fn add(&mut self, o: &TcpCounters) {
        self.bytes_sent += o.bytes_sent;
        self.bytes_retrans += o.bytes_retrans;
        self.bytes_acked += o.bytes_acked;
        self.bytes_received += o.bytes_received;
        self.segs_out += o.segs_out;
        self.segs_in += o.segs_in;
        self.acks_coalesced += o.acks_coalesced;
        self.data_segs_out += o.data_segs_out;
        self.retrans_segs += o.retrans_segs;
        self.fast_retrans += o.fast_retrans;
        self.rtos += o.rtos;
        self.dupacks_in += o.dupacks_in;
        self.zero_window_probes += o.zero_window_probes;
        self.partial_writes += o.partial_writes;
        self.would_block += o.would_block;
        self.alloc_failures += o.alloc_failures;
        self.ooo_dropped += o.ooo_dropped;
        self.tlps += o.tlps;
        self.tlp_recoveries += o.tlp_recoveries;
        self.spurious_retrans += o.spurious_retrans;
        self.spurious_rtos += o.spurious_rtos;
        self.undos += o.undos;
        self.ts_undos += o.ts_undos;
        self.sack_reneges += o.sack_reneges;
        self.sacked_bytes += o.sacked_bytes;
        self.dsacks_in += o.dsacks_in;
        self.sack_recoveries += o.sack_recoveries;
        self.rack_lost += o.rack_lost;
        self.tw_reused += o.tw_reused;
    }
}

/// A snapshot of a connection for the app (`ss -ti`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TcpInfo {
    /// Connection state.
    pub state: State,
    /// Why the connection ended, if it failed.
    pub error: Option<TcpError>,
    /// Payload bytes per segment (the peer's MSS less our options).
    pub mss: u32,
    /// Congestion window, bytes.
    pub cwnd: u32,
    /// Slow-start threshold, bytes.
    pub ssthresh: u32,
    /// Smoothed RTT, µs.
    pub srtt_us: u32,
    /// RTT variation, µs.
    pub rttvar_us: u32,
    /// Current retransmission timeout with backoff, µs.
    pub rto_us: u64,
    /// The peer's receive window, bytes (scaled).
    pub snd_wnd: u32,
    /// The window we advertise, bytes.
    pub rcv_wnd: u32,
    /// Bytes sent and not acknowledged.
    pub in_flight: u32,
    /// Bytes queued and not sent yet.
    pub unsent_bytes: u32,
    /// Congestion control name.
    pub cc: &'static str,
    /// Timestamps were negotiated.
    pub timestamps: bool,
    /// SACK was negotiated.
    pub sack: bool,
    /// The peer's window scale shift.
    pub snd_wscale: u8,
    /// Our window scale shift.
    pub rcv_wscale: u8,
    /// Counters since the connection opened.
    pub counters: TcpCounters,
    /// Pacing rate, bytes per second (0: not pacing).
    pub pacing_rate: u64,
    /// RACK has seen the network reorder this connection's segments (Linux's
    /// `tcpi_reord_seen`, as a flag): its reordering window is open from then on.
    pub reordering_seen: bool,
}
