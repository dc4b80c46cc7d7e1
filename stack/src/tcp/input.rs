//! `tcp_rcv_state_process` / `tcp_ack`: segment acceptance (RFC 9293 §3.10.7.4 with the
//! RFC 5961 hardening), SYN-ACK and option negotiation, ACK processing with RTT sampling,
//! duplicate ACKs and fast retransmit, window updates, in-order data, RST and FIN.
use super::output;
use super::scoreboard::{self, DUP_THRESH};
use super::stateless::{self, RstFor};
use super::{rack, sack, seq_ge, seq_gt, seq_le, seq_lt, wnd, Payload, Seg, State, Tcb, TcpError};
use crate::ip::IpLayer;
use linerate_dpdk::Device;
use linerate_proto::cc::{CcState, CongestionControl};
use linerate_proto::timer::{Deadline, Nanos};
use linerate_proto::wire::tcp::{flags, TcpOptions};
use linerate_proto::wire::TCP_TS_OPTIONS_LEN;
use std::mem::ManuallyDrop;

/// One inbound segment, parsed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegIn<'a> {
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: u8,
    pub(crate) wnd: u16,
    pub(crate) opts: TcpOptions,
    pub(crate) payload: &'a [u8],
}

impl SegIn<'_> {
    #[inline]
    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
    /// Sequence space the segment occupies (SYN and FIN count one each).
    #[inline]
    fn seq_len(&self) -> u32 {
        self.payload.len() as u32 + self.has(flags::SYN) as u32 + self.has(flags::FIN) as u32
    }
}

/// RFC 7323 §5.5: a `ts_recent` untouched for 24 days no longer rejects segments.
const PAWS_IDLE_SECS: u32 = 24 * 24 * 60 * 60;

/// The stack's clock in whole seconds (wraps after 136 years).
#[inline]
fn secs(now: Nanos) -> u32 {
    (now / linerate_proto::timer::SEC) as u32
}

/// Answers an invalid segment with an ACK (RFC 5961's challenge ACK, RFC 9293's reply to an
/// unacceptable segment) within RFC 5961 §7's limits (`ratelimit`). A segment with data
/// is always answered, as in Linux: two ends cannot loop on data, and the peer needs to
/// learn where we are.
fn challenge_ack<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, seg: &SegIn, now: Nanos) {
    if !seg.payload.is_empty() && !seg.has(flags::SYN) {
        tcb.ack_now = true;
    } else if ip.limits.challenge(tcb.oow_ack_at, now) {
        tcb.oow_ack_at = now.max(1);
        tcb.ack_now = true;
    }
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

/// ACK processing (`tcp_ack`). Returns false when the segment must go no further.
///
/// Order, as in RFC 6675 §5 and RFC 8985 §6.2: the SACK blocks update the scoreboard (and
/// RACK) first, then the cumulative ACK frees segments, then loss detection, recovery, PRR
/// and retransmission run on the updated scoreboard (`sack::after_ack`). Without SACK the
/// NewReno path (RFC 5681 §3.2, RFC 6582) runs as before.
fn process_ack<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, seg: &SegIn, now: Nanos) -> bool {
    let ack = seg.ack;
    if seq_gt(ack, tcb.snd_max) {
        // Acknowledges something never sent (RFC 9293; RFC 5961 §5).
        ip.drops.bad_ack += 1;
        challenge_ack(tcb, ip, seg, now);
        return false;
    }
    if seq_lt(ack, tcb.snd_una) {
        // RFC 5961 §5.2: older than the largest window the peer ever offered is no ACK of
        // ours but a blind guess: drop the segment and say where we are.
        if seq_lt(ack, tcb.snd_una.wrapping_sub(tcb.max_window)) {
            ip.drops.bad_ack += 1;
            challenge_ack(tcb, ip, seg, now);
            return false;
        }
        return true; // an old ACK: ignore it, but the segment may carry data
    }
    // The peer answered: the persist timer's unanswered probes start again from none.
    tcb.probes_out = 0;
    let wnd = (seg.wnd as u32) << tcb.snd_wscale;
    let wnd_changed = wnd != tcb.snd_wnd;
    if seq_lt(tcb.snd_wl1, seg.seq) || (tcb.snd_wl1 == seg.seq && seq_le(tcb.snd_wl2, ack)) {
        tcb.snd_wnd = wnd;
        tcb.snd_wl1 = seg.seq;
        tcb.snd_wl2 = ack;
        tcb.max_window = tcb.max_window.max(wnd);
    }
    if tcb.persist_at.is_some() && wnd::window_opened(tcb) {
        // `tcp_ack_probe`: output sends now; the probes and their backoff are done.
        tcb.persist_at = Deadline::NONE;
        tcb.persist_backoff = 0;
    }
    // TSecr sanity: an echo of a time our clock has not reached is not one of ours
    // (FreeBSD drops it too); everything below takes it as absent.
    let tsecr = seg
        .opts
        .timestamps
        .map(|(_, e)| e)
        .filter(|&e| !tcb.ts_on || !seq_gt(e, tcb.ts_now(now)));
    tcb.rack.ack_tsecr = tsecr;
    // SACK blocks (RFC 2018, RFC 2883): the scoreboard first.
    let prior_sacked = tcb.sb.sacked_out;
    let mut news = sack::SackNews::default();
    if tcb.sack_ok && seg.opts.sack_len > 0 && tcb.snd_una != tcb.snd_max {
        news = sack::on_sack_blocks(tcb, seg.opts.sack_blocks(), ack, now);
        if let Some((s, e)) = news.dsack {
            sack::on_dsack(tcb, s, e);
        }
    }
    if ack == tcb.snd_una {
        // RFC 5681 §2: a duplicate ACK carries no data, no SYN/FIN, does not move the window,
        // and arrives while data is outstanding. RFC 6675 §2 also counts an ACK carrying SACK
        // blocks: a receiver that drains its buffer (Linux) moves the window on every dupack.
        let sack_news = tcb.sack_ok && seg.opts.sack_len > 0;
        if seg.payload.is_empty()
            && !seg.has(flags::FIN)
            && tcb.snd_una != tcb.snd_max
            && (!wnd_changed || sack_news)
        {
            tcb.dupacks += 1;
            tcb.counters.dupacks_in += 1;
            if tcb.sack_ok {
                // RFC 6675 §5 (a): DupThresh duplicate ACKs mark the first segment lost even
                // when the SACK blocks alone do not.
                if tcb.dupacks >= DUP_THRESH
                    && !tcb.rack.reordering_seen
                    && !tcb.in_recovery
                    && !tcb.sb.in_loss
                    && !tcb.queue.is_empty()
                {
                    scoreboard::mark_lost(tcb, 0);
                }
            } else if tcb.in_recovery {
                tcb.ccs.cwnd = tcb.ccs.cwnd.saturating_add(tcb.mss); // §3.2 step 4
            } else if tcb.dupacks == 3 {
                enter_fast_recovery(tcb, ip, now);
            }
        }
        rack::on_ack_tlp(tcb, ack, news.dsack);
        let delivered = tcb.sb.sacked_out.saturating_sub(prior_sacked);
        if tcb.sack_ok && tcb.snd_una != tcb.snd_max {
            sack::after_ack(tcb, delivered, now);
            output::xmit_retransmit_queue(tcb, ip, now);
        }
        check_scoreboard(tcb);
        return true;
    }
    // New data acknowledged.
    let acked = ack.wrapping_sub(tcb.snd_una);
    tcb.snd_una = ack;
    if seq_lt(tcb.snd_nxt, ack) {
        tcb.snd_nxt = ack;
    }
    let mut seq_rtt = None;
    let mut retrans_acked = false;
    if let Some(rtt) = ack_all_clean(tcb, ack.wrapping_sub(acked), ack, now) {
        seq_rtt = rtt;
    }
    while let Some(front) = tcb.queue.front() {
        if !seq_le(front.end(), ack) {
            break;
        }
        if front.retrans > 0 {
            retrans_acked = true;
        } else if front.sent_at > 0 {
            seq_rtt = Some(now.saturating_sub(front.sent_at));
        }
        let (sent_at, end, retrans, sacked) =
            (front.sent_at, front.end(), front.retrans > 0, front.sacked);
        if !sacked {
            rack::on_delivered(tcb, sent_at, end, retrans, false, now);
        }
        scoreboard::on_seg_acked(tcb, 0);
        // The mbuf goes back to the pool in a bulk free (now, or when the NIC is done).
        if let Some(Seg {
            data: Payload::Copied(m),
            ..
        }) = tcb.queue.pop_front()
        {
            tcb.copied_segs -= 1;
            ip.dev.free_later(ManuallyDrop::into_inner(m));
        }
        tcb.unsent = tcb.unsent.saturating_sub(1);
    }
    if tcb.queue.is_empty() {
        // Back to the ring's start (`clear` resets it): the next segments are cut into the
        // entries this ACK just read, still in cache, not into lines a lap of the ring old.
        tcb.queue.clear();
    }
    if retrans_acked {
        // Karn's rule (Linux's FLAG_RETRANS_DATA_ACKED): an ACK that covers a retransmission
        // may answer it rather than the older, unretransmitted segments after it.
        seq_rtt = None;
    }
    // RTT: from the newest unretransmitted segment, else from the echoed timestamp.
    let sample_us = match seq_rtt {
        Some(ns) => Some((ns / 1000) as u32),
        None => tsecr.filter(|&e| tcb.ts_on && e != 0).and_then(|e| {
            // An echo older than two RTOs is of no transmission this ACK can answer (that
            // would have been sent again since): a forged or stale TSecr must not take the
            // RTO to its ceiling and pacing to a crawl.
            let us = tcb.ts_now(now).wrapping_sub(e).saturating_mul(1000);
            (u64::from(us) * 1000 <= 2 * tcb.rtt.current()).then_some(us)
        }),
    };
    if let Some(us) = sample_us {
        tcb.rtt.sample(us);
        rack::on_rtt_sample(tcb, us as Nanos * 1000);
    }
    // HyStart++ (RFC 9406): the sample and the round (snd_una against snd_max) before cwnd grows.
    let (una, max) = (tcb.snd_una, tcb.snd_max);
    tcb.cc.on_rtt_sample(&mut tcb.ccs, sample_us, una, max, now);
    // Eifel (RFC 3522): the first ACK of new data after an RTO tells whether it was spurious.
    if tcb.sb.rto_tsval.is_some() && seq_gt(ack, tcb.sb.rto_una) {
        sack::eifel_check(tcb, tsecr);
    }
    let fin_acked = tcb.fin_queued && ack == tcb.write_seq;
    tcb.counters.bytes_acked += (acked - fin_acked as u32) as u64;
    tcb.retries = 0;
    // A hole filled by a delayed original, not our retransmission: undo (Linux's
    // tcp_try_undo_partial / tcp_try_undo_recovery).
    if tcb.sack_ok && sack::ts_undo_check(tcb, tsecr) {
        tcb.dupacks = 0;
    }
    if tcb.in_recovery && tcb.sack_ok {
        if seq_ge(ack, tcb.recover) {
            // End of SACK recovery (RFC 6675 §5; RFC 6937 §3: cwnd = ssthresh).
            tcb.in_recovery = false;
            tcb.ccs.cwnd = tcb.ccs.ssthresh.max(tcb.mss);
            tcb.dupacks = 0;
            rack::on_recovery_exit(tcb);
        }
        // A partial ACK needs nothing special: the scoreboard says what is lost.
    } else if tcb.in_recovery {
        if seq_ge(ack, tcb.recover) {
            // Full ACK: leave recovery (RFC 6582 §3.2 step 3), deflating to ssthresh.
            tcb.in_recovery = false;
            tcb.ccs.cwnd = tcb.ccs.ssthresh.max(tcb.mss);
            tcb.dupacks = 0;
        } else {
            // Partial ACK: the next hole is lost too; resend it and deflate (step 4).
            if !tcb.queue.is_empty() && tcb.unsent > 0 && output::transmit_skb(tcb, 0, ip, now) {
                tcb.counters.fast_retrans += 1;
            }
            tcb.ccs.cwnd = tcb
                .ccs
                .cwnd
                .saturating_sub(acked)
                .saturating_add(tcb.mss)
                .max(tcb.mss);
        }
    } else {
        if tcb.sb.in_loss && seq_ge(ack, tcb.recover) {
            tcb.sb.in_loss = false; // RTO recovery is over
            rack::on_recovery_exit(tcb);
        }
        tcb.dupacks = 0;
        let limited = tcb.cwnd_limited;
        let srtt = tcb.rtt.srtt_us;
        tcb.cc.on_ack(&mut tcb.ccs, acked, limited, now, srtt);
    }
    scoreboard::unsack_partial_head(tcb);
    // Reneging (RFC 2018 §8, RFC 6675 §5.1): the receiver SACKed the segment at the new
    // cumulative ACK yet did not acknowledge it, so it dropped what it had SACKed. Forget
    // the SACK marks; RACK and the RTO will resend.
    if tcb.sb.sacked_out > 0
        && tcb
            .queue
            .front()
            .is_some_and(|s| s.sacked && s.seq == tcb.snd_una)
    {
        scoreboard::clear_sacked(tcb);
        tcb.counters.sack_reneges += 1;
    }
    rack::on_ack_tlp(tcb, ack, news.dsack);
    // RFC 6298 §5.2–5.3.
    tcb.rto_at = if tcb.snd_una == tcb.snd_max {
        Deadline::NONE
    } else {
        Deadline::at(now + tcb.rtt.current())
    };
    if tcb.snd_una == tcb.snd_max {
        tcb.reo_at = Deadline::NONE;
        tcb.tlp_at = Deadline::NONE;
    } else {
        // Loss detection, recovery, PRR and retransmissions on the updated scoreboard;
        // without SACK this only resends what an RTO marked lost.
        let delivered = acked
            .saturating_add(tcb.sb.sacked_out)
            .saturating_sub(prior_sacked);
        sack::after_ack(tcb, delivered, now);
        output::xmit_retransmit_queue(tcb, ip, now);
        // RFC 8985 §7.2: restart the probe timer on an ACK of new data.
        rack::schedule_tlp(tcb, now, 0);
    }
    check_scoreboard(tcb);
    if fin_acked {
        match tcb.state {
            State::FinWait1 => {
                tcb.state = State::FinWait2;
                if tcb.released {
                    tcb.close_at = Deadline::at(now + tcb.cfg.fin_timeout());
                }
            }
            State::Closing => {
                tcb.state = State::TimeWait;
                tcb.close_at = Deadline::at(now + tcb.cfg.time_wait());
            }
            State::LastAck => {
                tcb.state = State::Closed;
                tcb.rto_at = Deadline::NONE;
            }
            _ => {}
        }
    }
    true
}

/// The common ACK, for everything sent, with a clean scoreboard (nothing SACKed, lost or
/// retransmitted, no copied payload) and no delivery beyond the old `snd_una` on record:
/// every sent entry leaves at once, and only the newest is read, for the RTT and RACK
/// (what the per-entry walk would leave: the entries were sent in order). The rest are
/// let go unread (no drop glue): with many connections, reading each was a cache miss
/// per line of the queue. Returns the RTT sample when it took the ACK.
fn ack_all_clean(tcb: &mut Tcb, old_una: u32, ack: u32, now: Nanos) -> Option<Option<Nanos>> {
    let n = tcb.unsent;
    let sb = &tcb.sb;
    if n < 2
        || ack != tcb.snd_nxt
        || tcb.copied_segs != 0
        || sb.sacked_out != 0
        || sb.lost_out != 0
        || sb.retrans_out != 0
        || sb.rexmitted_segs != 0
        || seq_gt(tcb.rack.fack, old_una)
    {
        return None;
    }
    let last = tcb.queue.get(n - 1)?;
    let (sent_at, end) = (last.sent_at, last.end());
    if end != ack || last.retrans > 0 {
        return None;
    }
    rack::on_delivered(tcb, sent_at, end, false, false, now);
    tcb.queue.drain(..n);
    tcb.unsent = 0;
    Some((sent_at > 0).then(|| now.saturating_sub(sent_at)))
}

/// Debug builds check the incremental scoreboard counters against a recount.
#[inline]
fn check_scoreboard(tcb: &Tcb) {
    #[cfg(debug_assertions)]
    {
        let (s, l, r) = scoreboard::recount(tcb);
        debug_assert_eq!(
            (s, l, r),
            (tcb.sb.sacked_out, tcb.sb.lost_out, tcb.sb.retrans_out),
            "scoreboard counters drifted"
        );
        let n = tcb.unsent.min(tcb.queue.len());
        let flight = tcb.queue.range(..n);
        let rexmitted = flight.clone().filter(|g| g.retrans > 0).count() as u32;
        debug_assert_eq!(rexmitted, tcb.sb.rexmitted_segs, "rexmitted_segs drifted");
        if rexmitted == 0 && n > 1 {
            // RACK's early stop relies on this (rack::detect_loss).
            let sorted = flight
                .zip(tcb.queue.range(1..n))
                .all(|(a, b)| a.sent_at <= b.sent_at);
            debug_assert!(sorted, "unretransmitted segments out of send order");
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = tcb;
}

/// Third duplicate ACK: fast retransmit and enter recovery (RFC 5681 §3.2, RFC 6582).
fn enter_fast_recovery<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, now: Nanos) {
    if seq_le(tcb.snd_una, tcb.recover) && tcb.recover != tcb.iss {
        // RFC 6582 §3.2 step 2: still inside the previous recovery episode.
        return;
    }
    let flight = tcb.in_flight();
    let ss = tcb.cc.ssthresh_after_loss(&tcb.ccs, flight);
    tcb.ccs.ssthresh = ss;
    tcb.ccs.cwnd = ss.saturating_add(3 * tcb.mss);
    tcb.recover = tcb.snd_max;
    tcb.in_recovery = true;
    if !tcb.queue.is_empty() && output::transmit_skb(tcb, 0, ip, now) {
        tcb.counters.fast_retrans += 1;
        tcb.rto_at = Deadline::at(now + tcb.rtt.current());
    }
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
