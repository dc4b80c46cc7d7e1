//! TCP: the connection block and the kernel's TCP files, one module each.
//!
//! Calls go one way: `input` (`tcp_input.c`: segment acceptance, ACK processing) and
//! `timers` (`tcp_timer.c`) decide with `sack` (the SACK scoreboard and recovery) and
//! `rack` (RACK-TLP), which only mark segments and return what to do; `output`
//! (`tcp_output.c`) alone builds segments and hands them to the IP layer. `scoreboard`
//! keeps the per-segment marks every one of them reads. Congestion control, the RTO
//! estimator and pacing are pure code in `linerate-proto`.
pub(crate) mod header;
pub(crate) mod input;
pub(crate) mod output;
pub(crate) mod rack;
pub(crate) mod sack;
pub(crate) mod scoreboard;
pub(crate) mod timers;

use crate::ip::Dst;
use linerate_dpdk::Mbuf;
use linerate_proto::cc::{Cc, CcState};
use linerate_proto::pacing::Pacer;
use linerate_proto::timer::Deadline;
use linerate_proto::timer::{Nanos, RttEstimator, MS, SEC};
use std::collections::VecDeque;
use std::net::Ipv4Addr;

pub(crate) use linerate_proto::seq::{seq_ge, seq_gt, seq_le, seq_lt};

/// Index of a connection in its stack.
pub type ConnId = u32;

/// RFC 9293 states (LISTEN and SYN-RECEIVED are absent: linerate only opens actively).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Our SYN is out; waiting for the SYN-ACK.
    SynSent,
    /// Open: data flows both ways.
    Established,
    /// We sent FIN; it is not acknowledged yet.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's.
    FinWait2,
    /// Both sides sent FIN at once; ours is not acknowledged yet.
    Closing,
    /// Both FINs done; waiting out old duplicates (2·MSL).
    TimeWait,
    /// The peer sent FIN; we may still send.
    CloseWait,
    /// The peer closed first and we sent our FIN; waiting for its ACK.
    LastAck,
    /// Done (or failed: see the connection's error).
    Closed,
}

impl State {
    /// The RFC 9293 name (`ESTABLISHED`, …).
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
    /// Send buffer: most bytes queued and unacknowledged. With `sndbuf_auto` the buffer
    /// starts at 64 KiB and grows to twice the congestion window up to this (Linux's
    /// `tcp_wmem` autotuning); without, it is this from the start (like setting `SO_SNDBUF`).
    pub sndbuf: u32,
    /// Grow the send buffer with the window instead of holding `sndbuf` from the start (on by
    /// default: a connection that cannot send fast holds little, so many fit).
    pub sndbuf_auto: bool,
    /// Receive buffer; sets the advertised window and the window scale.
    pub rcvbuf: u32,
    /// Disable Nagle (RFC 896): send short segments at once (`TCP_NODELAY`).
    pub nodelay: bool,
    /// Offer timestamps (RFC 7323) in the SYN.
    pub timestamps: bool,
    /// Offer SACK (RFC 2018) in the SYN.
    pub sack: bool,
    /// Offer window scaling (RFC 7323) in the SYN.
    pub window_scaling: bool,
    /// Lower bound of the retransmission timeout (Linux: 200 ms).
    pub min_rto: Nanos,
    /// Upper bound of the retransmission timeout (Linux: 120 s).
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
    /// Congestion control (CUBIC by default, as Linux).
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
            sndbuf_auto: true,
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

/// A connection's settings as its block keeps them: `TcpConfig` less what only `connect`
/// reads (congestion control, RTO bounds but the upper one), times in microseconds: 28 bytes
/// where `TcpConfig` takes 176, which counts with a million connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnCfg {
    pub(crate) sndbuf: u32,
    pub(crate) rcvbuf: u32,
    delack_us: u32,
    time_wait_us: u32,
    fin_timeout_us: u32,
    max_rto_us: u32,
    pub(crate) mss: u16,
    pub(crate) syn_retries: u8,
    pub(crate) retries: u8,
    pub(crate) nodelay: bool,
    pub(crate) timestamps: bool,
    pub(crate) sack: bool,
    pub(crate) window_scaling: bool,
    pub(crate) pacing: bool,
}

/// Nanoseconds to microseconds, saturating (at about 71 minutes).
fn us(t: Nanos) -> u32 {
    (t / 1000).min(u32::MAX as u64) as u32
}

impl ConnCfg {
    pub(crate) fn of(c: &TcpConfig) -> Self {
        ConnCfg {
            sndbuf: c.sndbuf,
            rcvbuf: c.rcvbuf,
            delack_us: us(c.delack),
            time_wait_us: us(c.time_wait),
            fin_timeout_us: us(c.fin_timeout),
            max_rto_us: us(c.max_rto),
            mss: c.mss,
            syn_retries: c.syn_retries,
            retries: c.retries,
            nodelay: c.nodelay,
            timestamps: c.timestamps,
            sack: c.sack,
            window_scaling: c.window_scaling,
            pacing: c.pacing,
        }
    }

    pub(crate) fn delack(&self) -> Nanos {
        self.delack_us as Nanos * 1000
    }

    pub(crate) fn time_wait(&self) -> Nanos {
        self.time_wait_us as Nanos * 1000
    }

    pub(crate) fn fin_timeout(&self) -> Nanos {
        self.fin_timeout_us as Nanos * 1000
    }

    pub(crate) fn max_rto(&self) -> Nanos {
        self.max_rto_us as Nanos * 1000
    }
}

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
}

/// Where a queued segment's payload lives.
#[derive(Debug)]
pub(crate) enum Payload {
    /// Copied in by `send`: the bytes are in this mbuf, after `Seg::hdr` bytes of headers
    /// left there by the last transmission. A FIN without data has an empty one.
    Copied(Mbuf),
    /// Zero-copy (`send_region`): `Seg::len` bytes at `off` of a registered region. Each
    /// transmission is a header mbuf chained to a fresh view of those bytes.
    Region { region: u16, off: u32 },
}

/// One segment on the write/retransmit queue.
#[derive(Debug)]
pub(crate) struct Seg {
    pub(crate) data: Payload,
    pub(crate) seq: u32,
    pub(crate) len: u32,
    /// Header bytes pushed in front of a copied payload by the last transmission.
    pub(crate) hdr: u16,
    /// Internet-checksum partial sum of the payload: kept while copying it in (the kernel's
    /// csum-and-copy) or read from the region's table, so transmitting only sums the header.
    pub(crate) csum: u32,
    pub(crate) fin: bool,
    pub(crate) sent_at: Nanos,
    pub(crate) retrans: u16,
    /// SACK scoreboard (`tcp::sack`): the receiver holds this segment.
    pub(crate) sacked: bool,
    /// Marked lost (RFC 6675 IsLost, RACK, or an RTO), to be retransmitted.
    pub(crate) lost: bool,
    /// The retransmission of this lost segment is in flight (counts in pipe again).
    pub(crate) rexmit: bool,
}

impl Seg {
    /// An empty segment at `seq` with payload `data`, carrying FIN or not.
    pub(crate) fn new(data: Payload, seq: u32, fin: bool) -> Self {
        Seg {
            data,
            seq,
            len: 0,
            hdr: 0,
            csum: 0,
            fin,
            sent_at: 0,
            retrans: 0,
            sacked: false,
            lost: false,
            rexmit: false,
        }
    }

    /// Sequence number after this segment (FIN counts one).
    #[inline]
    pub(crate) fn end(&self) -> u32 {
        self.seq
            .wrapping_add(self.len)
            .wrapping_add(self.fin as u32)
    }

    /// Sequence space the segment occupies (payload, plus one for FIN).
    #[inline]
    pub(crate) fn slen(&self) -> u32 {
        self.len + self.fin as u32
    }
}

/// What the stack last reported to the app for a connection (`crate::event`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reported {
    /// Number of the connection's event in the event queue, if it is still there (numbers
    /// wrap; a stale one only costs a second event instead of a merge).
    pub(crate) seq: u32,
    /// Low 32 bits of `bytes_acked`.
    pub(crate) una: u32,
    /// The peer's FIN was reported (READABLE).
    pub(crate) fin: bool,
    /// Low 32 bits of `bytes_received`.
    pub(crate) rcvd: u32,
    pub(crate) state: State,
    /// A send came up short: report WRITABLE once space comes back.
    pub(crate) want_write: bool,
}

impl Reported {
    /// A connection just opened: in SYN-SENT, nothing acked.
    pub(crate) fn new() -> Self {
        Reported {
            seq: 0,
            una: 0,
            fin: false,
            rcvd: 0,
            state: State::SynSent,
            want_write: false,
        }
    }
}

/// `Tcb::waits`: output stopped with data it may send, because the device (its backlog, or a
/// region's frame pool) was full; the stack runs it again once the device drains.
pub(crate) const WAIT_DEV: u8 = 1;
/// `Tcb::waits`: output waits for the next hop's ARP reply.
pub(crate) const WAIT_NEIGH: u8 = 2;
/// `Tcb::waits`: on the stack's list of device waiters.
pub(crate) const LISTED_DEV: u8 = 4;
/// `Tcb::waits`: on the stack's list of neighbour waiters.
pub(crate) const LISTED_NEIGH: u8 = 8;
/// `Tcb::waits`: on the stack's list of connections a full pool turned away with nothing
/// queued (no ACK of theirs will come to say WRITABLE).
pub(crate) const LISTED_POOL: u8 = 16;

/// Send buffer a connection starts with, bytes (grown with the window up to
/// `TcpConfig::sndbuf`, as `tcp_sndbuf_expand` does).
pub(crate) const SNDBUF_INIT: u32 = 64 << 10;

/// The transmission control block.
#[derive(Debug)]
pub(crate) struct Tcb {
    pub(crate) state: State,
    pub(crate) local_ip: Ipv4Addr,
    pub(crate) local_port: u16,
    pub(crate) remote_ip: Ipv4Addr,
    pub(crate) remote_port: u16,
    pub(crate) cfg: ConnCfg,

    // Send sequence space (RFC 9293 §3.3.1), plus snd_max: the highest sequence sent.
    pub(crate) iss: u32,
    pub(crate) snd_una: u32,
    pub(crate) snd_nxt: u32,
    pub(crate) snd_max: u32,
    /// Sequence of the next byte `send` will queue.
    pub(crate) write_seq: u32,
    pub(crate) snd_wnd: u32,
    pub(crate) snd_wl1: u32,
    pub(crate) snd_wl2: u32,
    pub(crate) snd_wscale: u8,
    pub(crate) rcv_wscale: u8,

    // Receive sequence space.
    pub(crate) irs: u32,
    pub(crate) rcv_nxt: u32,

    /// Payload bytes per segment (the kernel's mss_cache): peer MSS less our options.
    pub(crate) mss: u32,
    pub(crate) ts_on: bool,
    pub(crate) ts_recent: u32,
    pub(crate) ts_offset: u32,
    pub(crate) sack_ok: bool,

    /// The send buffer now: `SNDBUF_INIT`, grown to twice the congestion window as it opens,
    /// up to `cfg.sndbuf` (Linux's `tcp_sndbuf_expand`). A connection that the pool or the
    /// loop cannot feed quickly holds little, so a million of them fit.
    pub(crate) sndbuf: u32,
    /// Write queue (grown as the send buffer grows): acked segments leave the front; `queue[..unsent]` are in flight,
    /// `queue[unsent..]` not yet sent.
    pub(crate) queue: VecDeque<Seg>,
    pub(crate) unsent: usize,

    pub(crate) rtt: RttEstimator,
    pub(crate) cc: Cc,
    pub(crate) ccs: CcState,
    pub(crate) cwnd_limited: bool,
    pub(crate) dupacks: u32,
    pub(crate) in_recovery: bool,
    pub(crate) recover: u32,

    /// Consecutive RTOs without progress.
    pub(crate) retries: u8,
    pub(crate) rto_at: Deadline,
    pub(crate) delack_at: Deadline,
    pub(crate) persist_at: Deadline,
    pub(crate) persist_backoff: u8,
    /// TIME-WAIT or FIN-WAIT-2 expiry.
    pub(crate) close_at: Deadline,
    /// Earliest deadline this connection has in the timer wheel.
    pub(crate) wheel_at: Deadline,
    /// Output and the timer re-arm wait for the end of the RX burst or the app's flush
    /// (`Stack::run_deferred`).
    pub(crate) deferred: bool,

    /// Received bytes not yet read: allocated when the first byte comes (a sender's peer
    /// mostly sends none). Boxed: 8 bytes in the block where the deque itself takes 32.
    #[allow(clippy::box_collection)]
    pub(crate) rx: Option<Box<VecDeque<u8>>>,
    pub(crate) ack_now: bool,
    pub(crate) segs_unacked: u32,

    /// The app asked for FIN (shutdown(Write) or close); `fin_queued` once it is on the queue.
    pub(crate) fin_wanted: bool,
    pub(crate) fin_queued: bool,
    pub(crate) peer_fin: bool,
    /// The app has let go (close/abort): free the slot once CLOSED.
    pub(crate) released: bool,
    pub(crate) error: Option<TcpError>,

    /// The cached route: next hop and IPv4 ID counter.
    pub(crate) dst: Dst,
    pub(crate) syn_at: Nanos,
    pub(crate) counters: TcpCounters,
    /// The pacing gate (`tcp::pacing`).
    pub(crate) pacer: Pacer,
    /// When the closed pacing gate lets the next segment go (a timer-wheel deadline).
    pub(crate) pace_at: Deadline,
    /// SACK scoreboard totals, PRR and undo state (`tcp::sack`).
    pub(crate) sb: sack::SackState,
    /// RACK-TLP state (`tcp::rack`).
    pub(crate) rack: rack::RackState,
    /// Tail loss probe deadline (RFC 8985 §7.2).
    pub(crate) tlp_at: Deadline,
    /// RACK reordering-timer deadline (RFC 8985 §6.2 step 5).
    pub(crate) reo_at: Deadline,
    /// What the app was last told (`crate::event`).
    pub(crate) reported: Reported,
    /// What output waits for ([`WAIT_DEV`], [`WAIT_NEIGH`]) and the stack's wait lists the
    /// connection is on: the kernel's TSQ wake-up and neighbour queue, without a walk over
    /// every connection.
    pub(crate) waits: u8,
}

impl Tcb {
    /// Ends the connection with `err`: CLOSED, timers off, queued segments back to the pool.
    pub(crate) fn fail(&mut self, err: TcpError) {
        self.error = Some(err);
        self.end();
    }

    /// CLOSED (`tcp_done`): timers off, queued segments back to the pool, scoreboard cleared.
    pub(crate) fn end(&mut self) {
        self.state = State::Closed;
        self.rto_at = Deadline::NONE;
        self.delack_at = Deadline::NONE;
        self.persist_at = Deadline::NONE;
        self.close_at = Deadline::NONE;
        self.tlp_at = Deadline::NONE;
        self.reo_at = Deadline::NONE;
        self.queue.clear();
        self.unsent = 0;
        self.sb = Default::default();
    }

    /// Bytes in flight (sent, not acknowledged).
    #[inline]
    pub(crate) fn in_flight(&self) -> u32 {
        self.snd_nxt.wrapping_sub(self.snd_una)
    }

    /// RFC 6675 §4 SetPipe: bytes the sender believes are in the network — in flight, less
    /// SACKed and lost bytes, plus retransmissions of lost bytes. Limited transmit (RFC 3042
    /// §2): the first two duplicate ACKs each let one new segment out, as if it had left.
    #[inline]
    pub(crate) fn pipe(&self) -> u32 {
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
    pub(crate) fn queued_bytes(&self) -> u32 {
        self.write_seq.wrapping_sub(self.snd_una)
    }

    /// Grows the send buffer to twice the congestion window (never shrinks, as in Linux).
    #[inline]
    pub(crate) fn expand_sndbuf(&mut self) {
        let want = self.ccs.cwnd.saturating_mul(2).min(self.cfg.sndbuf);
        if want > self.sndbuf {
            self.sndbuf = want;
        }
    }

    /// Free send-buffer space.
    #[inline]
    pub(crate) fn send_space(&self) -> u32 {
        self.sndbuf.saturating_sub(self.queued_bytes())
    }

    /// Enough space to be worth a write: at least half of what is queued (Linux's
    /// `sk_stream_is_writeable`), so that WRITABLE does not fire for every acked segment.
    #[inline]
    pub(crate) fn writable(&self) -> bool {
        self.state.can_send() && self.send_space() >= self.queued_bytes() / 2
    }

    /// Window we advertise, before scaling: free receive-buffer space.
    #[inline]
    pub(crate) fn rcv_wnd(&self) -> u32 {
        self.cfg.rcvbuf.saturating_sub(self.rx_len() as u32)
    }

    /// Received bytes waiting to be read.
    #[inline]
    pub(crate) fn rx_len(&self) -> usize {
        self.rx.as_ref().map_or(0, |q| q.len())
    }

    /// Heap bytes of the receive buffer.
    pub(crate) fn rx_capacity(&self) -> usize {
        self.rx
            .as_ref()
            .map_or(0, |q| q.capacity() + std::mem::size_of::<VecDeque<u8>>())
    }

    /// Our timestamp clock: milliseconds, with a per-connection offset (RFC 7323 §5.4).
    #[inline]
    pub(crate) fn ts_now(&self, now: Nanos) -> u32 {
        ((now / MS) as u32).wrapping_add(self.ts_offset)
    }

    /// The earliest of this connection's deadlines.
    pub(crate) fn next_deadline(&self) -> Option<Nanos> {
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
        .filter_map(Deadline::get)
        .min()
    }

    pub(crate) fn info(&self) -> TcpInfo {
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
            cc: linerate_proto::cc::CongestionControl::name(&self.cc),
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
pub(crate) fn wscale_for(rcvbuf: u32) -> u8 {
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
    fn connection_block_fits_in_a_kib() {
        // With its table entry (~16 B) and its timer-wheel slot (24 B), an idle connection
        // stays within 1 KiB: keep it so when adding fields.
        let n = std::mem::size_of::<Option<Tcb>>();
        assert!(n + 16 + 24 <= 1024, "Tcb is {n} bytes");
    }

    #[test]
    fn window_scale_fits_buffer() {
        assert_eq!(wscale_for(65535), 0);
        assert_eq!(wscale_for(65536), 1);
        assert_eq!(wscale_for(1 << 20), 5);
        assert_eq!(wscale_for(u32::MAX), 14);
    }
}
