//! RACK-TLP (RFC 8985): time-based loss detection and the tail loss probe.
//!
//! RACK (§6) marks a segment lost when a segment sent sufficiently later has been delivered
//! (cumulatively or by SACK): "sent more than RACK.rtt + RACK.reo_wnd before the most
//! recently delivered segment". It needs no duplicate-ACK count, so it works under
//! reordering and for lost retransmissions. When a segment is not yet overdue, the
//! reordering timer (`Tcb::reo_at`) re-runs detection when it will be.
//!
//! TLP (§7) sends a probe 2·SRTT after the last transmission when nothing else would
//! (new data if any, else the highest segment again) so that a tail loss produces SACK
//! feedback (and fast recovery) instead of an RTO. The probe timer is `Tcb::tlp_at`.
use super::scoreboard::{mark_lost, DUP_THRESH};
use super::{seq_gt, seq_lt, State, Tcb};
use linerate_proto::cc::CongestionControl;
use linerate_proto::timer::{Deadline, Nanos, MS, SEC};

/// RFC 8985 §7.2 WCDelAckT: the worst-case delayed-ACK time added to the PTO when only one
/// segment is in flight.
pub(crate) const MAX_ACK_DELAY: Nanos = 200 * MS;
/// §6.2 step 4: how many recoveries an enlarged reordering window persists.
const REO_WND_PERSIST: u8 = 16;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RackState {
    /// Send time and end sequence of the most recently sent segment that was delivered
    /// (RACK.xmit_ts, RACK.end_seq); `valid` once there is one.
    pub(crate) xmit_ts: Nanos,
    pub(crate) end_seq: u32,
    pub(crate) valid: bool,
    /// RACK.rtt: the RTT of that segment.
    pub(crate) rtt: Nanos,
    /// RACK.min_RTT (0 until the first sample).
    pub(crate) min_rtt: Nanos,
    /// RACK.fack: the highest end sequence delivered; a delivery below it is reordering.
    pub(crate) fack: u32,
    pub(crate) reordering_seen: bool,
    pub(crate) reo_wnd_mult: u8,
    pub(crate) reo_wnd_persist: u8,
    /// `snd_max` when the multiplier last grew: once per round trip (§6.2 step 4).
    pub(crate) dsack_round: Option<u32>,
    /// TLP.end_seq (§7.3) while a probe is outstanding, and whether it was a retransmission.
    pub(crate) tlp_end_seq: Option<u32>,
    pub(crate) tlp_retrans: bool,
    /// The timestamp echo of the ACK being processed (for §6.2 step 2).
    pub(crate) ack_tsecr: Option<u32>,
}

/// RFC 8985 §6.2: was (t1, s1) sent after (t2, s2)?
#[inline]
fn sent_after(t1: Nanos, s1: u32, t2: Nanos, s2: u32) -> bool {
    t1 > t2 || (t1 == t2 && seq_gt(s1, s2))
}

/// An RTT sample was taken (§6.2 step 1: RACK.min_RTT).
pub(crate) fn on_rtt_sample(tcb: &mut Tcb, rtt: Nanos) {
    let r = &mut tcb.rack;
    if r.min_rtt == 0 || rtt < r.min_rtt {
        r.min_rtt = rtt.max(1);
    }
}

/// §6.2 steps 2–3 for one newly delivered (acked or SACKed) segment.
/// `sacked`: delivered by a SACK block, whose ACK's timestamp echo says nothing about it
/// (RFC 7323 §4.3 echoes the segment at the left edge).
pub(crate) fn on_delivered(
    tcb: &mut Tcb,
    xmit_ts: Nanos,
    end: u32,
    retrans: bool,
    sacked: bool,
    now: Nanos,
) {
    if xmit_ts == 0 {
        return;
    }
    let rtt = now.saturating_sub(xmit_ts);
    // Step 2: an ACK for a retransmitted segment that echoes a timestamp older than the
    // retransmission, or comes faster than min_RTT, is for the original.
    if retrans && !sacked {
        if let Some(e) = tcb.rack.ack_tsecr.filter(|&e| tcb.ts_on && e != 0) {
            if seq_lt(e, tcb.ts_now(xmit_ts)) {
                return;
            }
        }
    }
    let r = &mut tcb.rack;
    if retrans && r.min_rtt > 0 && rtt < r.min_rtt {
        return;
    }
    if !r.valid || sent_after(xmit_ts, end, r.xmit_ts, r.end_seq) {
        r.rtt = rtt;
        r.xmit_ts = xmit_ts;
        r.end_seq = end;
        r.valid = true;
    }
    // Step 3: delivered below the highest delivered sequence → the network reordered.
    if seq_lt(end, r.fack) {
        r.reordering_seen = true;
    } else {
        r.fack = end;
    }
}

/// Evidence that a retransmission was caused by reordering: a DSACK for it (§6.2 step 4),
/// or a hole filled by the delayed original (the timestamp echo, `sack::ts_undo_check`;
/// §6.2 leaves the choice of evidence open). Widens the reordering window, at most once
/// per round trip, and keeps it for 16 recoveries.
pub(crate) fn widen_reo_wnd(tcb: &mut Tcb) {
    let una = tcb.snd_una;
    let r = &mut tcb.rack;
    if r.dsack_round.is_some_and(|s| seq_lt(una, s)) {
        return;
    }
    r.dsack_round = Some(tcb.snd_max);
    r.reo_wnd_mult = r.reo_wnd_mult.saturating_add(1).max(2);
    r.reo_wnd_persist = REO_WND_PERSIST;
    r.reordering_seen = true;
}

/// Recovery ended (§6.2 step 4: the multiplier decays after 16 recoveries).
pub(crate) fn on_recovery_exit(tcb: &mut Tcb) {
    let r = &mut tcb.rack;
    if r.reo_wnd_persist > 0 {
        r.reo_wnd_persist -= 1;
        if r.reo_wnd_persist == 0 {
            r.reo_wnd_mult = 1;
        }
    }
}

/// §6.2 step 4: RACK.reo_wnd.
fn reo_wnd(tcb: &Tcb) -> Nanos {
    let r = &tcb.rack;
    let srtt = tcb.rtt.srtt_us as Nanos * 1000;
    if !r.reordering_seen
        && (tcb.in_recovery || tcb.sb.in_loss || tcb.sb.sacked_out >= DUP_THRESH * tcb.mss)
    {
        return 0;
    }
    let base = if r.min_rtt > 0 { r.min_rtt } else { srtt };
    let w = (r.reo_wnd_mult.max(1) as Nanos) * base / 4;
    if srtt > 0 {
        w.min(srtt)
    } else {
        w
    }
}

/// §6.2 step 5: marks lost every segment sent RACK.rtt + reo_wnd before the most recently
/// delivered one, and arms the reordering timer for the earliest that is not yet overdue.
///
/// Linux walks a list sorted by send time and stops at the first segment sent after the
/// delivered one. Our queue is in sequence order, which is send order too while no segment
/// in it was retransmitted (`SackState::rexmitted_segs` = 0); then the walk stops there as
/// well, so an ACK costs the few segments it can mark, not the whole flight.
pub(crate) fn detect_loss(tcb: &mut Tcb, now: Nanos) {
    if !tcb.rack.valid {
        return;
    }
    let wnd = reo_wnd(tcb);
    let (rx, rs, rrtt) = (tcb.rack.xmit_ts, tcb.rack.end_seq, tcb.rack.rtt);
    let in_send_order = tcb.sb.rexmitted_segs == 0;
    let mut timeout: Nanos = 0;
    for i in 0..tcb.unsent.min(tcb.queue.len()) {
        let g = &tcb.queue[i];
        if !sent_after(rx, rs, g.sent_at, g.end()) {
            if in_send_order {
                break; // every later segment was sent later still
            }
            continue;
        }
        if g.sacked || (g.lost && !g.rexmit) || g.sent_at == 0 {
            continue;
        }
        let deadline = g.sent_at + rrtt + wnd;
        if deadline <= now {
            if mark_lost(tcb, i) {
                tcb.counters.rack_lost += 1;
            }
        } else {
            timeout = timeout.max(deadline - now);
        }
    }
    tcb.reo_at = (timeout > 0).then(|| now + timeout).into();
}

/// §7.2: (re)arms the probe timeout after new data went out or new data was acknowledged.
/// `extra` is flight not yet counted in `snd_max` (a segment being sent now).
pub(crate) fn schedule_tlp(tcb: &mut Tcb, now: Nanos, extra: u32) {
    tcb.tlp_at = Deadline::NONE;
    let flight = tcb.in_flight().saturating_add(extra);
    if !tcb.sack_ok
        || tcb.in_recovery
        || tcb.sb.in_loss
        || tcb.rack.tlp_end_seq.is_some()
        || flight == 0
        || !matches!(
            tcb.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        )
    {
        return;
    }
    let srtt = tcb.rtt.srtt_us as Nanos * 1000;
    let mut pto = if srtt > 0 { 2 * srtt } else { SEC };
    if flight <= tcb.mss {
        pto += MAX_ACK_DELAY;
    }
    let pto = pto.max(MS);
    // The probe is pointless if the RTO fires first.
    if tcb.rto_at.is_some_and(|r| r <= now + pto) {
        return;
    }
    tcb.tlp_at = Deadline::at(now + pto);
}

/// What a tail loss probe sends (§7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// The next new segment, if the receive window allows it; otherwise `Retransmit`.
    NewData,
    /// The highest unSACKed segment again (queue index).
    Retransmit(usize),
}

/// §7.3: the probe timer fired. Decides what the probe is, if one is due; output sends it
/// and reports back with [`on_tlp_sent`].
pub(crate) fn tlp_probe(tcb: &Tcb) -> Option<Probe> {
    if !tcb.sack_ok
        || tcb.snd_una == tcb.snd_max
        || tcb.in_recovery
        || tcb.sb.in_loss
        || tcb.rack.tlp_end_seq.is_some()
        || !matches!(
            tcb.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        )
    {
        return None;
    }
    let wnd_end = tcb.snd_una.wrapping_add(tcb.snd_wnd);
    if tcb.unsent < tcb.queue.len() {
        let g = &tcb.queue[tcb.unsent];
        if !seq_gt(g.seq.wrapping_add(g.len), wnd_end) {
            return Some(Probe::NewData);
        }
    } else if tcb.pend.len > 0 {
        // The first segment output would cut from the pending bytes.
        let end = tcb.snd_nxt.wrapping_add(tcb.pend.len.min(tcb.mss));
        if !seq_gt(end, wnd_end) {
            return Some(Probe::NewData);
        }
    }
    tlp_retransmit_target(tcb).map(Probe::Retransmit)
}

/// The segment a retransmitted probe resends: the highest unSACKed one.
pub(crate) fn tlp_retransmit_target(tcb: &Tcb) -> Option<usize> {
    (0..tcb.unsent.min(tcb.queue.len()))
        .rev()
        .find(|&i| !tcb.queue[i].sacked)
}

/// A probe went out: remember its end (TLP.end_seq) and let the RTO guard it.
pub(crate) fn on_tlp_sent(tcb: &mut Tcb, retrans: bool, now: Nanos) {
    tcb.counters.tlps += 1;
    tcb.rack.tlp_end_seq = Some(tcb.snd_max);
    tcb.rack.tlp_retrans = retrans;
    tcb.tlp_at = Deadline::NONE;
    tcb.rto_at = Deadline::at(now + tcb.rtt.current());
}

/// §7.4: the ACK side of a probe. A DSACK for the probe means nothing was lost; an ACK
/// beyond the probe without one means the probe repaired a loss, which gets a congestion
/// response like fast recovery's.
pub(crate) fn on_ack_tlp(tcb: &mut Tcb, ack: u32, dsack: Option<(u32, u32)>) {
    let Some(end) = tcb.rack.tlp_end_seq else {
        return;
    };
    if !tcb.rack.tlp_retrans {
        if !seq_lt(ack, end) {
            tcb.rack.tlp_end_seq = None;
        }
        return;
    }
    if let Some((_, e)) = dsack {
        if !seq_gt(e, end) {
            tcb.rack.tlp_end_seq = None; // the probe was a duplicate: no loss
            return;
        }
    }
    if seq_gt(ack, end) {
        tcb.rack.tlp_end_seq = None;
        let flight = tcb.in_flight();
        let ss = tcb.cc.ssthresh_after_loss(&tcb.ccs, flight);
        tcb.ccs.ssthresh = ss;
        tcb.ccs.cwnd = ss.min(tcb.ccs.cwnd).max(tcb.mss);
        tcb.counters.tlp_recoveries += 1;
    }
}
