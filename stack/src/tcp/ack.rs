//! `tcp_ack`: ACK processing for an established connection. SACK blocks and the scoreboard,
//! the cumulative ACK with RTT sampling, DSACK and timestamp undo, Eifel, reneging, then
//! loss detection and recovery (`sack::after_ack`), window updates, and without SACK the
//! NewReno path with duplicate ACKs and fast retransmit. Also the challenge ACK, which
//! both halves of input send.
use super::output;
use super::scoreboard::{self, DUP_THRESH};
use super::segment::SegIn;
use super::{rack, sack, seq_ge, seq_gt, seq_le, seq_lt, wnd, Payload, Seg, State, Tcb};
use crate::ip::IpLayer;
use linerate_dpdk::Device;
use linerate_proto::cc::CongestionControl;
use linerate_proto::timer::{Deadline, Nanos};
use linerate_proto::wire::tcp::flags;
use std::mem::ManuallyDrop;

/// Answers an invalid segment with an ACK (RFC 5961's challenge ACK, RFC 9293's reply to an
/// unacceptable segment) within RFC 5961 §7's limits (`ratelimit`). A segment with data
/// is always answered, as in Linux: two ends cannot loop on data, and the peer needs to
/// learn where we are.
pub(crate) fn challenge_ack<D: Device>(
    tcb: &mut Tcb,
    ip: &mut IpLayer<D>,
    seg: &SegIn,
    now: Nanos,
) {
    if !seg.payload.is_empty() && !seg.has(flags::SYN) {
        tcb.ack_now = true;
    } else if ip.limits.challenge(tcb.oow_ack_at, now) {
        tcb.oow_ack_at = now.max(1);
        tcb.ack_now = true;
    }
}

/// ACK processing (`tcp_ack`). Returns false when the segment must go no further.
///
/// Order, as in RFC 6675 §5 and RFC 8985 §6.2: the SACK blocks update the scoreboard (and
/// RACK) first, then the cumulative ACK frees segments, then loss detection, recovery, PRR
/// and retransmission run on the updated scoreboard (`sack::after_ack`). Without SACK the
/// NewReno path (RFC 5681 §3.2, RFC 6582) runs as before.
pub(crate) fn process_ack<D: Device>(
    tcb: &mut Tcb,
    ip: &mut IpLayer<D>,
    seg: &SegIn,
    now: Nanos,
) -> bool {
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
