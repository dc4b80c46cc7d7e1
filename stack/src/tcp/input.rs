//! `tcp_rcv_state_process`: segment acceptance (RFC 9293 §3.10.7.4 with the RFC 5961
//! hardening), SYN-ACK and option negotiation, the fast path's plain ACKs, in-order data,
//! RST and FIN. ACK processing proper is `tcp::ack` (`tcp_ack`).
use super::ack::{challenge_ack, process_ack};
use super::segment::SegIn;
use super::stateless::{self, RstFor};
use super::{seq_ge, seq_gt, seq_le, seq_lt, State, Tcb, TcpError};
use crate::ip::IpLayer;
use linerate_dpdk::Device;
use linerate_proto::cc::CcState;
use linerate_proto::timer::{Deadline, Nanos};
use linerate_proto::wire::tcp::{flags, TcpOptions};
use linerate_proto::wire::TCP_TS_OPTIONS_LEN;

/// RFC 7323 §5.5: a `ts_recent` untouched for 24 days no longer rejects segments.
const PAWS_IDLE_SECS: u32 = 24 * 24 * 60 * 60;

/// The stack's clock in whole seconds (wraps after 136 years).
#[inline]
fn secs(now: Nanos) -> u32 {
    (now / linerate_proto::timer::SEC) as u32
}

/// Processes one segment for `tcb`.
pub(crate) fn rcv<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, seg: &SegIn, now: Nanos) {
    tcb.counters.segs_in += 1;
    match tcb.state {
        State::SynSent => return rcv_syn_sent(tcb, ip, seg, now),
        State::Closed => return,
        _ => {}
    }
    let rst = seg.has(flags::RST);
    // PAWS (RFC 7323 §5.3): an old timestamp marks an old duplicate.
    if tcb.ts_on && !rst {
        if let Some((tsval, _)) = seg.opts.timestamps {
            if seq_lt(tsval, tcb.ts_recent)
                && secs(now).wrapping_sub(tcb.ts_recent_at) < PAWS_IDLE_SECS
                && !disordered_ack(tcb, seg, tsval)
            {
                ip.drops.paws += 1;
                // An old pure ACK is the network reordering ACKs: answering it would only
                // add load (Linux stopped too: TCP_RFC7323_PAWS_ACK). Data gets the
                // RFC 7323 reply.
                if !seg.payload.is_empty() || seg.has(flags::SYN | flags::FIN) {
                    challenge_ack(tcb, ip, seg, now);
                }
                return;
            }
        }
    }
    if !acceptable(tcb.rcv_nxt, tcb.rcv_wnd(), seg.seq, seg.seq_len()) {
        ip.drops.out_of_window += 1;
        if !rst {
            // RFC 9293: answer an unacceptable segment with an ACK.
            challenge_ack(tcb, ip, seg, now);
        } else {
            ip.drops.bad_rst += 1;
        }
        return;
    }
    if rst {
        // RFC 5961 §3.2: only an exact match resets; anything else in the window gets a
        // challenge ACK.
        if seg.seq == tcb.rcv_nxt {
            if matches!(tcb.state, State::Closing | State::LastAck | State::TimeWait) {
                // Both FINs are out and ours is (being) acknowledged: the app has nothing
                // left to lose, so close quietly (RFC 9293 §3.10.7.4; the kernel does the same
                // for TIME-WAIT, which also avoids RFC 1337's assassination hazard). A
                // late duplicate of ours answered with RST by a peer that closed gets here.
                tcb.end();
            } else {
                tcb.fail(TcpError::Reset);
            }
        } else {
            ip.drops.bad_rst += 1;
            challenge_ack(tcb, ip, seg, now);
        }
        return;
    }
    if seg.has(flags::SYN) {
        // RFC 5961 §4: a SYN on a synchronized connection gets a challenge ACK.
        challenge_ack(tcb, ip, seg, now);
        ip.drops.bad_syn += 1;
        return;
    }
    if !seg.has(flags::ACK) {
        ip.drops.no_ack += 1;
        return;
    }
    // RFC 7323 §4.3: remember the peer's timestamp for segments at the left window edge,
    // once the ACK has proved acceptable (Linux's FLAG_UPDATE_TS_RECENT): a segment whose
    // sequence number an off-path sender guessed but whose ACK is old or forged must not
    // move `ts_recent` ahead and make PAWS drop the peer's real segments.
    let ack_ok = seq_ge(seg.ack, tcb.snd_una) && seq_le(seg.ack, tcb.snd_max);
    if tcb.ts_on && ack_ok {
        if let Some((tsval, _)) = seg.opts.timestamps {
            if seq_le(seg.seq, tcb.rcv_nxt) && seq_ge(tsval, tcb.ts_recent) {
                tcb.ts_recent = tsval;
                tcb.ts_recent_at = secs(now);
            }
        }
    }
    if !process_ack(tcb, ip, seg, now) {
        return;
    }
    if tcb.state == State::Closed {
        return;
    }
    rcv_data(tcb, seg, now);
}

/// Whether `seg` is a plain ACK of new data that a later one from the same RX burst may
/// stand in for: the connection is established with a clean scoreboard (no SACKed, lost or
/// retransmitted segment, no recovery, RTO episode or tail probe), and the segment is a bare
/// ACK at `rcv_nxt`, no SACK blocks, no payload, a fresh timestamp. For such a run of ACKs,
/// processing the last one ends where processing each would, but for the RTT samples in
/// between and congestion control seeing the run as one stretch ACK (FreeBSD's LRO ACK
/// compression makes the same trade).
pub(crate) fn plain_ack(tcb: &Tcb, seg: &SegIn) -> bool {
    let sb = &tcb.sb;
    tcb.state == State::Established
        && seg.flags == flags::ACK
        && seg.payload.is_empty()
        && seg.opts.sack_len == 0
        && seg.seq == tcb.rcv_nxt
        && seq_gt(seg.ack, tcb.snd_una)
        && seq_le(seg.ack, tcb.snd_max)
        && (!tcb.ts_on
            || seg
                .opts
                .timestamps
                .is_some_and(|(v, _)| seq_ge(v, tcb.ts_recent)))
        && !tcb.in_recovery
        && !sb.in_loss
        && sb.sacked_out == 0
        && sb.lost_out == 0
        && sb.retrans_out == 0
        && sb.rto_tsval.is_none()
        && tcb.rack.tlp_end_seq.is_none()
}

/// A plain ACK held back (`plain_ack`): all it carries, free of the frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlainAck {
    seq: u32,
    ack: u32,
    wnd: u16,
    timestamps: Option<(u32, u32)>,
}

impl PlainAck {
    pub(crate) fn of(seg: &SegIn) -> Self {
        PlainAck {
            seq: seg.seq,
            ack: seg.ack,
            wnd: seg.wnd,
            timestamps: seg.opts.timestamps,
        }
    }

    /// The segment again, for `rcv`.
    pub(crate) fn seg(&self) -> SegIn<'static> {
        SegIn {
            seq: self.seq,
            ack: self.ack,
            flags: flags::ACK,
            wnd: self.wnd,
            opts: TcpOptions {
                timestamps: self.timestamps,
                ..TcpOptions::default()
            },
            payload: &[],
        }
    }

    /// Whether plain ACK `newer`, received after this one, makes it redundant: it
    /// acknowledges more, and nothing between them reordered.
    pub(crate) fn superseded_by(&self, tcb: &Tcb, newer: &SegIn) -> bool {
        let ts_order = match (self.timestamps, newer.opts.timestamps) {
            (Some((a, _)), Some((b, _))) => seq_ge(b, a),
            (None, None) => true,
            _ => false,
        };
        plain_ack(tcb, newer) && newer.seq == self.seq && seq_gt(newer.ack, self.ack) && ts_order
    }
}

/// A duplicate ACK overtaken by a later one (its TSval is older than `ts_recent`) is not an
/// old duplicate from a previous incarnation: it is accepted, so that its SACK and DSACK
/// blocks count (Linux's `tcp_disordered_ack`). It must be a pure ACK at `rcv_nxt` for
/// `snd_una` that leaves the send window as it is, and no older than one RTO.
fn disordered_ack(tcb: &Tcb, seg: &SegIn, tsval: u32) -> bool {
    let rto_ms = (tcb.rtt.current() / linerate_proto::timer::MS) as u32;
    seg.payload.is_empty()
        && !seg.has(flags::SYN | flags::FIN | flags::RST)
        && seg.has(flags::ACK)
        && seg.seq == tcb.rcv_nxt
        && seg.ack == tcb.snd_una
        && (seg.wnd as u32) << tcb.snd_wscale == tcb.snd_wnd
        && tcb.ts_recent.wrapping_sub(tsval) <= rto_ms
}

/// RFC 9293 §3.10.7.4's four cases: is a segment of `len` at `seq` acceptable to a receiver
/// expecting `nxt` with window `wnd`?
pub(crate) fn acceptable(nxt: u32, wnd: u32, seq: u32, len: u32) -> bool {
    let in_wnd = |s: u32| seq_le(nxt, s) && seq_lt(s, nxt.wrapping_add(wnd));
    match (len, wnd) {
        (0, 0) => seq == nxt,
        (0, _) => in_wnd(seq),
        (_, 0) => false,
        (_, _) => in_wnd(seq) || in_wnd(seq.wrapping_add(len - 1)),
    }
}

fn rcv_syn_sent<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, seg: &SegIn, now: Nanos) {
    let ack_ok = seg.has(flags::ACK) && seq_gt(seg.ack, tcb.iss) && seq_le(seg.ack, tcb.snd_max);
    if seg.has(flags::ACK) && !ack_ok {
        ip.drops.bad_ack += 1;
        if !seg.has(flags::RST) && ip.limits.reset(now) {
            let to = RstFor {
                local: (tcb.local_ip, tcb.local_port),
                remote: (tcb.remote_ip, tcb.remote_port),
                seq: seg.seq,
                ack: seg.ack,
                flags: seg.flags,
                len: seg.payload.len() as u32,
            };
            if stateless::send_reset(ip, &to, now) {
                ip.drops.rst_sent += 1;
            }
        }
        return;
    }
    if seg.has(flags::RST) {
        if ack_ok {
            tcb.fail(TcpError::Refused);
        } else {
            ip.drops.bad_rst += 1;
        }
        return;
    }
    if !seg.has(flags::SYN) || !ack_ok {
        // Simultaneous open is not supported: a client-only stack never listens.
        ip.drops.bad_syn += 1;
        return;
    }
    tcb.irs = seg.seq;
    tcb.rcv_nxt = seg.seq.wrapping_add(1);
    tcb.snd_una = seg.ack;
    let o = &seg.opts;
    if tcb.cfg.window_scaling && o.wscale.is_some() {
        tcb.snd_wscale = o.wscale.unwrap_or(0);
    } else {
        tcb.snd_wscale = 0;
        tcb.rcv_wscale = 0;
    }
    tcb.sack_ok = tcb.cfg.sack && o.sack_permitted;
    tcb.ts_on = tcb.cfg.timestamps && o.timestamps.is_some();
    if let Some((tsval, _)) = o.timestamps {
        tcb.ts_recent = tsval;
        tcb.ts_recent_at = secs(now);
    }
    // RFC 9293 §3.7.1: the peer's MSS (536 if absent), less our per-segment options.
    let peer_mss = o.mss.unwrap_or(536).max(64) as u32;
    let opts = if tcb.ts_on {
        TCP_TS_OPTIONS_LEN as u32
    } else {
        0
    };
    tcb.mss = peer_mss.min(tcb.cfg.mss as u32) - opts;
    tcb.snd_wnd = seg.wnd as u32; // never scaled in a SYN (RFC 7323 §2.2)
    tcb.max_window = tcb.snd_wnd;
    tcb.snd_wl1 = seg.seq;
    tcb.snd_wl2 = seg.ack;
    tcb.ccs = CcState::new(tcb.mss);
    if tcb.retries == 0 {
        // Karn: only an unretransmitted SYN gives a sample.
        tcb.rtt
            .sample(((now.saturating_sub(tcb.syn_at)) / 1000) as u32);
    }
    tcb.retries = 0;
    tcb.rtt.backoff = 0;
    tcb.rto_at = Deadline::NONE;
    tcb.state = State::Established;
    tcb.ack_now = true;
    // Without quickack the ACK waits for the app's turn, whose first segment carries it
    // (`Stack::after_event`).
    tcb.ack_after_app = !tcb.cfg.quickack;
}

/// In-order data and FIN (out-of-order segments are dropped and re-ACKed).
fn rcv_data(tcb: &mut Tcb, seg: &SegIn, now: Nanos) {
    let mut seq = seg.seq;
    let mut data = seg.payload;
    if !data.is_empty() && tcb.state.can_receive() {
        if seq_lt(seq, tcb.rcv_nxt) {
            let skip = tcb.rcv_nxt.wrapping_sub(seq) as usize;
            data = data.get(skip..).unwrap_or(&[]);
            seq = tcb.rcv_nxt;
            tcb.ack_now = true; // partly or wholly duplicate
        }
        if !data.is_empty() {
            if seq != tcb.rcv_nxt {
                tcb.counters.ooo_dropped += 1;
                tcb.ack_now = true; // a duplicate ACK tells the peer where the hole is
                return;
            }
            let n = data.len().min(tcb.rcv_wnd() as usize);
            tcb.rx
                .get_or_insert_with(Default::default)
                .extend(data[..n].iter().copied());
            tcb.rcv_nxt = tcb.rcv_nxt.wrapping_add(n as u32);
            tcb.counters.bytes_received += n as u64;
            tcb.segs_unacked += 1;
            if n < data.len() {
                tcb.ack_now = true;
                return; // FIN beyond the window is not accepted yet
            }
            // Delayed ACK (RFC 9293 §3.8.6.3): at least every second full segment.
            if tcb.segs_unacked >= 2 {
                tcb.ack_now = true;
            } else if tcb.delack_at.is_none() {
                tcb.delack_at = Deadline::at(now + tcb.cfg.delack());
            }
            seq = seq.wrapping_add(n as u32);
        }
    } else if !data.is_empty() {
        seq = seq.wrapping_add(data.len() as u32);
    }
    if seg.has(flags::FIN) && seq == tcb.rcv_nxt && !tcb.peer_fin {
        tcb.rcv_nxt = tcb.rcv_nxt.wrapping_add(1);
        tcb.peer_fin = true;
        tcb.ack_now = true;
        match tcb.state {
            State::Established => tcb.state = State::CloseWait,
            State::FinWait1 => tcb.state = State::Closing,
            State::FinWait2 => {
                tcb.state = State::TimeWait;
                tcb.close_at = Deadline::at(now + tcb.cfg.time_wait());
            }
            _ => {}
        }
    } else if seg.has(flags::FIN) && tcb.state == State::TimeWait {
        // A retransmitted FIN: ACK it again and restart TIME-WAIT (RFC 9293 §3.10.7.4).
        tcb.ack_now = true;
        tcb.close_at = Deadline::at(now + tcb.cfg.time_wait());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acceptability_cases() {
        let ok = acceptable;
        assert!(
            ok(100, 0, 100, 0),
            "empty segment at the edge of a zero window"
        );
        assert!(!ok(100, 0, 101, 0));
        assert!(ok(100, 10, 105, 0));
        assert!(!ok(100, 10, 110, 0), "right edge is exclusive");
        assert!(!ok(100, 0, 100, 5), "data into a zero window");
        assert!(ok(100, 10, 95, 10), "overlaps the left edge");
        assert!(!ok(100, 10, 80, 10), "wholly old");
        assert!(ok(u32::MAX - 2, 10, 3, 2), "across the wrap");
    }
}
