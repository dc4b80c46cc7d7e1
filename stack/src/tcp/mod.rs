//! TCP: the connection block and the kernel's TCP files, one module each.
//!
//! Calls go one way: `input` (`tcp_input.c`: segment acceptance, ACK processing) and
//! `timers` (`tcp_timer.c`) decide with `sack` (the SACK scoreboard and recovery),
//! `rack` (RACK-TLP) and `wnd` (the peer's window), which only mark segments and return
//! what to do; `output` (`tcp_output.c`) builds segments and hands them to the IP layer,
//! and `probe` sends the probes that timers ask for through it. `scoreboard` keeps the
//! per-segment marks every one of them reads. Congestion control, the RTO
//! estimator and pacing are pure code in `linerate-proto`.
pub(crate) mod ack;
pub(crate) mod config;
pub(crate) mod header;
pub(crate) mod info;
pub(crate) mod input;
pub(crate) mod output;
pub(crate) mod probe;
pub(crate) mod rack;
pub(crate) mod sack;
pub(crate) mod scoreboard;
pub(crate) mod segment;
pub(crate) mod sendmsg;
pub(crate) mod stateless;
pub(crate) mod timers;
pub(crate) mod timewait;
pub(crate) mod tw_index;
pub(crate) mod tw_queue;
pub(crate) mod wnd;
pub(crate) mod zc;

use crate::ip::Dst;
pub(crate) use config::ConnCfg;
pub use config::{TcpConfig, TcpConfigError};
pub use info::{TcpCounters, TcpInfo};
use linerate_dpdk::Mbuf;
use linerate_proto::cc::{Cc, CcState};
use linerate_proto::pacing::Pacer;
use linerate_proto::timer::{Deadline, Nanos, RttEstimator, MS};
use std::collections::VecDeque;
use std::mem::ManuallyDrop;
use std::net::Ipv4Addr;

pub(crate) use linerate_proto::seq::{seq_ge, seq_gt, seq_le, seq_lt};

/// A connection's slot in its stack's table (internal: the public handle is [`ConnId`]).
pub(crate) type Slot = u32;

/// A connection: its slot in the stack and that slot's generation, which moves on each time
/// the slot is freed. A stale id (its connection freed, the slot perhaps holding another)
/// gets [`crate::IoError::NotConnected`] or `None` and never reaches the newer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    slot: Slot,
    gen: u32,
}

impl ConnId {
    /// No connection: what [`crate::event::Event::EMPTY`] names (slot and generation past
    /// any real one).
    pub const NONE: ConnId = ConnId {
        slot: u32::MAX,
        gen: u32::MAX,
    };

    /// Generations wrap below 2^31, so that [`ConnId::to_raw`] is a non-negative `i64`.
    pub(crate) const GEN_MASK: u32 = (1 << 31) - 1;

    pub(crate) fn new(slot: Slot, gen: u32) -> ConnId {
        ConnId {
            slot,
            gen: gen & Self::GEN_MASK,
        }
    }

    pub(crate) fn slot(self) -> Slot {
        self.slot
    }

    /// The slot: dense, below `StackConfig::max_conns`, and unique among the stack's live
    /// connections, so an app can index its own tables by it.
    pub fn index(self) -> usize {
        self.slot as usize
    }

    /// The slot's generation.
    pub fn generation(self) -> u32 {
        self.gen
    }

    /// As one integer, generation above slot: what the C ABI hands out (never negative).
    pub fn to_raw(self) -> u64 {
        (self.gen as u64) << 32 | self.slot as u64
    }

    /// Back from [`ConnId::to_raw`]; `None` for a value it never returns.
    pub fn from_raw(raw: u64) -> Option<ConnId> {
        let gen = (raw >> 32) as u32;
        (gen <= Self::GEN_MASK).then_some(ConnId {
            slot: raw as u32,
            gen,
        })
    }
}

impl Default for ConnId {
    /// [`ConnId::NONE`].
    fn default() -> ConnId {
        ConnId::NONE
    }
}

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.slot, self.gen)
    }
}

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
    /// Retransmissions, or zero-window probes unanswered, exhausted: ETIMEDOUT.
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
            TcpError::TimedOut => "connection timed out (retransmissions or probes unanswered)",
            TcpError::HostUnreachable => "host unreachable (no ARP reply from the next hop)",
            TcpError::Aborted => "connection aborted",
        })
    }
}

impl std::error::Error for TcpError {}

/// Where a queued segment's payload lives.
#[derive(Debug)]
pub(crate) enum Payload {
    /// Copied in by `send`: the bytes are in this mbuf, after `Seg::hdr` bytes of headers
    /// left there by the last transmission. A FIN without data has an empty one.
    /// (Freed by hand, `Tcb::free_queue` and the ACK path: with no drop glue a queue's
    /// acked entries can be let go without reading each, `tcp::ack`'s fast path.)
    Copied(ManuallyDrop<Mbuf>),
    /// Zero-copy (`send_region`): `Seg::len` bytes at `off` of a registered region, leased
    /// under `ticket` when the region is reusable (else `NO_TICKET`). Each transmission is a
    /// header mbuf chained to a fresh view of those bytes.
    Region { region: u16, off: u32, ticket: u16 },
}

/// The end of the write queue not yet cut into segments: `len` bytes of region `region`
/// at `off` (under `ticket`), the last `len` bytes before `write_seq`. A write appends here
/// and touches no queue entry; output cuts segments off the front just before they leave,
/// so that each entry is written and read while its cache line is still there (with many
/// connections, writing entries at write time and reading them at the next ACK missed
/// twice per line).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Pend {
    pub(crate) region: u16,
    pub(crate) ticket: u16,
    pub(crate) off: u32,
    pub(crate) len: u32,
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
    /// Low 32 bits of `zc_done`.
    pub(crate) zc: u32,
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
            zc: 0,
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
/// `Tcb::waits`: on the stack's list of connections whose released zero-copy tickets wait
/// for their last frames to be freed.
pub(crate) const LISTED_ZC: u8 = 32;

/// A connection's zero-copy tickets (`crate::zc`), packed `TicketId`s in send order: `head`
/// to `tail` are open, those from `held` on still held by the connection (the ones before it
/// wait for their frames to be freed). `u32::MAX`: none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ZcList {
    pub(crate) head: u32,
    pub(crate) held: u32,
    pub(crate) tail: u32,
}

impl ZcList {
    pub(crate) const EMPTY: ZcList = ZcList {
        head: u32::MAX,
        held: u32::MAX,
        tail: u32::MAX,
    };
}

/// Send buffer a connection starts with, bytes (grown with the window up to
/// `TcpConfig::sndbuf`, as `tcp_sndbuf_expand` does).
pub(crate) const SNDBUF_INIT: u32 = 64 << 10;

/// Least a queued segment costs the send buffer: it holds an mbuf (2 KiB of the pool) however
/// short it is, so a peer announcing a tiny MSS may make a connection hold at most
/// `sndbuf` / 1 KiB of them (4 096 at 4 MiB) rather than `sndbuf` / MSS (65 536 at MSS 64),
/// and the per-ACK walks of the queue stay as short.
pub(crate) const MIN_SEG_CHARGE: u32 = 1024;

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
    /// The largest window the peer has offered (Linux's `max_window`, RFC 9293's
    /// Max(SND.WND), RFC 5961's MAX.SND.WND): what sender-side silly-window avoidance
    /// measures against, and how far below `snd_una` an ACK may be and still be taken as
    /// old rather than forged.
    pub(crate) max_window: u32,
    pub(crate) snd_wl1: u32,
    pub(crate) snd_wl2: u32,
    pub(crate) snd_wscale: u8,
    pub(crate) rcv_wscale: u8,

    // Receive sequence space.
    pub(crate) irs: u32,
    pub(crate) rcv_nxt: u32,

    /// Payload bytes per segment: peer MSS less our options. `wnd::send_mss` bounds it by
    /// the peer's largest window (the two make the kernel's mss_cache).
    pub(crate) mss: u32,
    pub(crate) ts_on: bool,
    pub(crate) ts_recent: u32,
    /// When `ts_recent` was last set, in seconds of the stack's clock: RFC 7323 §5.5 lets a
    /// timestamp held over 24 idle days lapse (the peer's clock may have wrapped since).
    pub(crate) ts_recent_at: u32,
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
    /// Zero-copy bytes written after the queue and not yet cut into segments
    /// (`sendmsg::materialize` cuts them when they may leave).
    pub(crate) pend: Pend,
    /// Entries of `queue` with a copied payload (an mbuf to free when acked).
    pub(crate) copied_segs: u32,

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
    /// Zero-window probes sent since the peer last answered anything (Linux's
    /// `icsk_probes_out`): at `cfg.retries` the persist timer gives up.
    pub(crate) probes_out: u8,
    /// TIME-WAIT or FIN-WAIT-2 expiry.
    pub(crate) close_at: Deadline,
    /// Earliest deadline this connection has in the timer wheel.
    pub(crate) wheel_at: Deadline,
    /// Output and the timer re-arm wait for the end of the RX burst or the app's flush
    /// (`Stack::run_deferred`); any `after_event` before then does them and clears it.
    pub(crate) deferred: bool,

    /// Received bytes not yet read: allocated when the first byte comes (a sender's peer
    /// mostly sends none). Boxed: 8 bytes in the block where the deque itself takes 32.
    #[allow(clippy::box_collection)]
    pub(crate) rx: Option<Box<VecDeque<u8>>>,
    pub(crate) ack_now: bool,
    /// When the last challenge ACK went (0: never; `ratelimit`).
    pub(crate) oow_ack_at: Nanos,
    /// The owed ACK is the handshake's and quickack is off: it waits for the app's next
    /// flush or poll (`Stack::late_acks`), so that the app's first segment can carry it.
    pub(crate) ack_after_app: bool,
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
    /// Zero-copy tickets not yet complete.
    pub(crate) zc: ZcList,
    /// Bytes of zero-copy sends from reusable regions whose memory has come back.
    pub(crate) zc_done: u64,
}

impl Drop for Tcb {
    fn drop(&mut self) {
        self.free_queue();
    }
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
        self.free_queue();
        self.unsent = 0;
        self.pend = Pend::default();
        self.sb = Default::default();
    }

    /// Empties the write queue, its copied payloads back to the pool (also when the block
    /// is dropped: `Payload::Copied` does not free itself).
    pub(crate) fn free_queue(&mut self) {
        for s in self.queue.drain(..) {
            if let Payload::Copied(m) = s.data {
                drop(ManuallyDrop::into_inner(m));
            }
        }
        self.copied_segs = 0;
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

    /// What `bytes` of queued data cost the send buffer: their length, or, with an MSS below
    /// [`MIN_SEG_CHARGE`], that much per segment (Linux charges an skb's truesize).
    #[inline]
    fn sndbuf_charge(&self, bytes: u32) -> u32 {
        if self.mss >= MIN_SEG_CHARGE {
            bytes
        } else {
            bytes
                .div_ceil(self.mss.max(1))
                .saturating_mul(MIN_SEG_CHARGE)
        }
    }

    /// Grows the send buffer to twice the congestion window (never shrinks, as in Linux),
    /// charged as `sndbuf_charge` (Linux's `tcp_sndbuf_expand` counts segments' truesize).
    #[inline]
    pub(crate) fn expand_sndbuf(&mut self) {
        let want = self
            .sndbuf_charge(self.ccs.cwnd.saturating_mul(2))
            .min(self.cfg.sndbuf);
        if want > self.sndbuf {
            self.sndbuf = want;
        }
    }

    /// Free send-buffer space, in bytes of data.
    #[inline]
    pub(crate) fn send_space(&self) -> u32 {
        let free = self
            .sndbuf
            .saturating_sub(self.sndbuf_charge(self.queued_bytes()));
        if self.mss >= MIN_SEG_CHARGE {
            free
        } else {
            free / MIN_SEG_CHARGE * self.mss
        }
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
            reordering_seen: self.rack.reordering_seen,
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
