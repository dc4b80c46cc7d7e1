//! TCP: the connection block, sequence arithmetic, and the layers of the kernel's TCP —
//! `output` (`tcp_write_xmit`, `tcp_transmit_skb`), `input` (`tcp_rcv_*`, ACK processing),
//! `cc` (congestion control) and `timer` (the wheel and RFC 6298).
pub mod cc;
pub mod input;
pub mod output;
pub mod pacing;
pub mod rack;
pub mod sack;
pub mod timer;

use crate::dpdk::Mbuf;
use cc::{Cc, CcState};
use std::collections::VecDeque;
use std::net::Ipv4Addr;
use timer::{Nanos, RttEstimator, MS, SEC};

/// Index of a connection in its stack.
pub type ConnId = u32;

/// RFC 9293 states (LISTEN and SYN-RECEIVED are absent: linerate only opens actively).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    SynSent,
    Established,
    FinWait1,
    FinWait2,
    Closing,
    TimeWait,
    CloseWait,
    LastAck,
    Closed,
}

impl State {
    pub fn name(&self) -> &'static str {
        match self {
            State::SynSent => "SYN-SENT",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::Closing => "CLOSING",
            State::TimeWait => "TIME-WAIT",
            State::CloseWait => "CLOSE-WAIT",
            State::LastAck => "LAST-ACK",
            State::Closed => "CLOSED",
        }
    }

    /// States in which our side may still queue data.
    pub fn can_send(&self) -> bool {
        matches!(self, State::Established | State::CloseWait)
    }

    /// States in which the peer may still send data.
    pub fn can_receive(&self) -> bool {
        matches!(self, State::Established | State::FinWait1 | State::FinWait2)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a connection ended abnormally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpError {
    /// The peer answered the SYN with RST: ECONNREFUSED.
    Refused,
    /// The peer reset an established connection: ECONNRESET.
    Reset,
    /// Retransmissions exhausted: ETIMEDOUT.
    TimedOut,
    /// ARP for the next hop failed: EHOSTUNREACH.
    HostUnreachable,
    /// The app aborted the connection.
    Aborted,
}

impl std::fmt::Display for TcpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TcpError::Refused => "connection refused (RST in reply to SYN)",
            TcpError::Reset => "connection reset by peer",
            TcpError::TimedOut => "connection timed out (retransmissions exhausted)",
            TcpError::HostUnreachable => "host unreachable (no ARP reply from the next hop)",
            TcpError::Aborted => "connection aborted",
        })
    }
}

impl std::error::Error for TcpError {}

/// Per-connection settings; `Default` follows Linux.
#[derive(Debug, Clone, Copy)]
pub struct TcpConfig {
    /// MSS we advertise (MTU 1500 − 40).
    pub mss: u16,
    /// Send buffer: most bytes queued and unacknowledged.
    pub sndbuf: u32,
    /// Receive buffer; sets the advertised window and the window scale.
    pub rcvbuf: u32,
    pub nodelay: bool,
    pub timestamps: bool,
    pub sack: bool,
    pub window_scaling: bool,
    pub min_rto: Nanos,
    pub max_rto: Nanos,
    /// SYN retransmissions before ETIMEDOUT (Linux tcp_syn_retries: 6).
    pub syn_retries: u8,
    /// Data retransmissions before ETIMEDOUT (Linux tcp_retries2: 15).
    pub retries: u8,
    /// Delayed-ACK timeout (Linux: 40 ms minimum).
    pub delack: Nanos,
    /// TIME-WAIT length (Linux: 60 s).
    pub time_wait: Nanos,
    /// FIN-WAIT-2 timeout for closed connections (Linux tcp_fin_timeout: 60 s).
    pub fin_timeout: Nanos,
    pub cc: Cc,
    /// Pace segments over the RTT at a rate derived from cwnd/srtt (`tcp::pacing`). On by
    /// default, as Linux with the fq qdisc; off sends each window as fast as it opens.
    pub pacing: bool,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss: 1460,
            sndbuf: 4 << 20,
            rcvbuf: 1 << 20,
            nodelay: false,
            timestamps: true,
            sack: true,
            window_scaling: true,
            min_rto: 200 * MS,
            max_rto: 120 * SEC,
            syn_retries: 6,
            retries: 15,
            delack: 40 * MS,
            time_wait: 60 * SEC,
            fin_timeout: 60 * SEC,
            cc: Cc::default(),
            pacing: true,
        }
    }
}

/// Counters and estimates of one connection, like `ss -ti`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpCounters {
    pub bytes_sent: u64,
    pub bytes_retrans: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub segs_out: u64,
    pub segs_in: u64,
    pub data_segs_out: u64,
    pub retrans_segs: u64,
    pub fast_retrans: u64,
    pub rtos: u64,
    pub dupacks_in: u64,
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
    }
}

/// A snapshot of a connection for the app (`ss -ti`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TcpInfo {
    pub state: State,
    pub error: Option<TcpError>,
    pub mss: u32,
    pub cwnd: u32,
    pub ssthresh: u32,
    pub srtt_us: u32,
    pub rttvar_us: u32,
    pub rto_us: u64,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
    pub in_flight: u32,
    pub unsent_bytes: u32,
    pub cc: &'static str,
    pub timestamps: bool,
    pub sack: bool,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    pub counters: TcpCounters,
    /// Pacing rate, bytes per second (0: not pacing).
    pub pacing_rate: u64,
}

/// One segment on the write/retransmit queue. Its payload lives in `mbuf` after `hdr` bytes
/// of headers left there by the last transmission.
#[derive(Debug)]
pub struct Seg {
    pub mbuf: Mbuf,
    pub seq: u32,
    pub len: u32,
    /// Header bytes pushed in front of the payload by the last transmission.
    pub hdr: u16,
    /// Internet-checksum partial sum of the payload, kept while copying it in (the kernel's
    /// csum-and-copy), so transmitting only sums the header.
    pub csum: u32,
    pub fin: bool,
    pub sent_at: Nanos,
    pub retrans: u16,
    /// SACK scoreboard (`tcp::sack`): the receiver holds this segment.
    pub sacked: bool,
    /// Marked lost (RFC 6675 IsLost, RACK, or an RTO), to be retransmitted.
    pub lost: bool,
    /// The retransmission of this lost segment is in flight (counts in pipe again).
    pub rexmit: bool,
}

impl Seg {
    /// Sequence number after this segment (FIN counts one).
    #[inline]
    pub fn end(&self) -> u32 {
        self.seq
            .wrapping_add(self.len)
            .wrapping_add(self.fin as u32)
    }

    /// Sequence space the segment occupies (payload, plus one for FIN).
    #[inline]
    pub fn slen(&self) -> u32 {
        self.len + self.fin as u32
    }
}

// Sequence-space comparisons (RFC 9293 §3.4), modulo 2^32.
#[inline]
pub fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}
#[inline]
pub fn seq_le(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}
#[inline]
pub fn seq_gt(a: u32, b: u32) -> bool {
    seq_lt(b, a)
}
#[inline]
pub fn seq_ge(a: u32, b: u32) -> bool {
    seq_le(b, a)
}

/// Adds two internet-checksum partial sums (each ≤ 0xffff after folding).
#[inline]
pub(crate) fn csum_add(a: u32, b: u32) -> u32 {
    let s = a + b;
    (s & 0xffff) + (s >> 16)
}

/// The transmission control block.
#[derive(Debug)]
pub struct Tcb {
    pub id: ConnId,
    pub state: State,
    pub local_ip: Ipv4Addr,
    pub local_port: u16,
    pub remote_ip: Ipv4Addr,
    pub remote_port: u16,
    pub cfg: TcpConfig,

    // Send sequence space (RFC 9293 §3.3.1), plus snd_max: the highest sequence sent.
    pub iss: u32,
    pub snd_una: u32,
    pub snd_nxt: u32,
    pub snd_max: u32,
    /// Sequence of the next byte `send` will queue.
    pub write_seq: u32,
    pub snd_wnd: u32,
    pub snd_wl1: u32,
    pub snd_wl2: u32,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,

    // Receive sequence space.
    pub irs: u32,
    pub rcv_nxt: u32,

    /// Payload bytes per segment (the kernel's mss_cache): peer MSS less our options.
    pub mss: u32,
    pub ts_on: bool,
    pub ts_recent: u32,
    pub ts_offset: u32,
    pub sack_ok: bool,

    /// Write queue: acked segments leave the front; `queue[..unsent]` are in flight,
    /// `queue[unsent..]` not yet sent.
    pub queue: VecDeque<Seg>,
    pub unsent: usize,

    pub rtt: RttEstimator,
    pub cc: Cc,
    pub ccs: CcState,
    pub cwnd_limited: bool,
    pub dupacks: u32,
    pub in_recovery: bool,
    pub recover: u32,

    /// Consecutive RTOs without progress.
    pub retries: u8,
    pub rto_at: Option<Nanos>,
    pub delack_at: Option<Nanos>,
    pub persist_at: Option<Nanos>,
    pub persist_backoff: u8,
    /// TIME-WAIT or FIN-WAIT-2 expiry.
    pub close_at: Option<Nanos>,
    /// Earliest deadline this connection has in the timer wheel.
    pub wheel_at: Option<Nanos>,

    pub rx: VecDeque<u8>,
    pub ack_now: bool,
    pub segs_unacked: u32,

    /// The app asked for FIN (shutdown(Write) or close); `fin_queued` once it is on the queue.
    pub fin_wanted: bool,
    pub fin_queued: bool,
    pub peer_fin: bool,
    /// The app has let go (close/abort): free the slot once CLOSED.
    pub released: bool,
    pub error: Option<TcpError>,

    pub neigh: usize,
    pub route_gen: u32,
    pub ip_id: u16,
    pub syn_at: Nanos,
    pub counters: TcpCounters,
    /// The pacing gate (`tcp::pacing`).
    pub pacer: pacing::Pacer,
    /// When the closed pacing gate lets the next segment go (a timer-wheel deadline).
    pub pace_at: Option<Nanos>,
    /// SACK scoreboard totals, PRR and undo state (`tcp::sack`).
    pub sb: sack::SackState,
    /// RACK-TLP state (`tcp::rack`).
    pub rack: rack::RackState,
    /// Tail loss probe deadline (RFC 8985 §7.2).
    pub tlp_at: Option<Nanos>,
    /// RACK reordering-timer deadline (RFC 8985 §6.2 step 5).
    pub reo_at: Option<Nanos>,
}

impl Tcb {
    /// Bytes in flight (sent, not acknowledged).
    #[inline]
    pub fn in_flight(&self) -> u32 {
        self.snd_nxt.wrapping_sub(self.snd_una)
    }

    /// RFC 6675 §4 SetPipe: bytes the sender believes are in the network — in flight, less
    /// SACKed and lost bytes, plus retransmissions of lost bytes. Limited transmit (RFC 3042
    /// §2): the first two duplicate ACKs each let one new segment out, as if it had left.
    #[inline]
    pub fn pipe(&self) -> u32 {
        let p = self
            .in_flight()
            .saturating_sub(self.sb.sacked_out.saturating_add(self.sb.lost_out))
            .saturating_add(self.sb.retrans_out);
        if !self.in_recovery && self.sb.sacked_out == 0 && self.dupacks > 0 && self.dupacks < 3 {
            p.saturating_sub(self.dupacks * self.mss)
        } else {
            p
        }
    }

    /// Bytes queued and not yet acknowledged (what the send buffer holds).
    #[inline]
    pub fn queued_bytes(&self) -> u32 {
        self.write_seq.wrapping_sub(self.snd_una)
    }

    /// Window we advertise, before scaling: free receive-buffer space.
    #[inline]
    pub fn rcv_wnd(&self) -> u32 {
        self.cfg.rcvbuf.saturating_sub(self.rx.len() as u32)
    }

    /// Our timestamp clock: milliseconds, with a per-connection offset (RFC 7323 §5.4).
    #[inline]
    pub fn ts_now(&self, now: Nanos) -> u32 {
        ((now / MS) as u32).wrapping_add(self.ts_offset)
    }

    /// The earliest of this connection's deadlines.
    pub fn next_deadline(&self) -> Option<Nanos> {
        [
            self.rto_at,
            self.delack_at,
            self.persist_at,
            self.close_at,
            self.pace_at,
            self.tlp_at,
            self.reo_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn info(&self) -> TcpInfo {
        TcpInfo {
            state: self.state,
            error: self.error,
            mss: self.mss,
            cwnd: self.ccs.cwnd,
            ssthresh: self.ccs.ssthresh,
            srtt_us: self.rtt.srtt_us,
            rttvar_us: self.rtt.rttvar_us,
            rto_us: self.rtt.current() / 1000,
            snd_wnd: self.snd_wnd,
            rcv_wnd: self.rcv_wnd(),
            in_flight: self.in_flight(),
            unsent_bytes: self.write_seq.wrapping_sub(self.snd_nxt),
            cc: cc::CongestionControl::name(&self.cc),
            timestamps: self.ts_on,
            sack: self.sack_ok,
            snd_wscale: self.snd_wscale,
            rcv_wscale: self.rcv_wscale,
            counters: self.counters,
            pacing_rate: if self.cfg.pacing { self.pacer.rate } else { 0 },
        }
    }
}

/// The window scale that lets `rcvbuf` be advertised (RFC 7323 §2.3).
pub fn wscale_for(rcvbuf: u32) -> u8 {
    let mut s = 0u8;
    while s < 14 && (rcvbuf >> s) > 0xffff {
        s += 1;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_comparisons_wrap() {
        assert!(seq_lt(1, 2));
        assert!(seq_lt(u32::MAX, 0), "wraps");
        assert!(seq_gt(5, u32::MAX - 5));
        assert!(seq_le(7, 7) && seq_ge(7, 7));
        assert!(
            seq_lt(0, 0x7fff_ffff),
            "less than half the space ahead is later"
        );
        assert!(
            seq_gt(0, 0x8000_0001),
            "more than half the space ahead is earlier"
        );
    }

    #[test]
    fn window_scale_fits_buffer() {
        assert_eq!(wscale_for(65535), 0);
        assert_eq!(wscale_for(65536), 1);
        assert_eq!(wscale_for(1 << 20), 5);
        assert_eq!(wscale_for(u32::MAX), 14);
    }

    #[test]
    fn checksum_partial_sums_add() {
        use crate::wire::checksum;
        let data: Vec<u8> = (0..301u32).map(|i| (i * 7) as u8).collect();
        let whole = checksum::sum(&data, 0);
        // Split at an even and an odd offset, as `send` does when copying in pieces.
        for cut in [100usize, 101] {
            let a = checksum::sum(&data[..cut], 0);
            let mut b = checksum::sum(&data[cut..], 0);
            if cut % 2 == 1 {
                b = (b as u16).swap_bytes() as u32;
            }
            assert_eq!(
                checksum::fold(csum_add(a, b)),
                checksum::fold(whole),
                "cut {cut}"
            );
        }
    }
}
