//! The SACK scoreboard and SACK-based loss recovery.
//!
//! - RFC 2018: SACK blocks mark segments the receiver holds (`Seg::sacked`).
//! - RFC 6675: the scoreboard's `pipe` estimate (§4 SetPipe), `IsLost` (§4: DupThresh
//!   discontiguous SACKed segments, or more than (DupThresh − 1)·SMSS SACKed bytes above),
//!   entering recovery (§5) and retransmitting lost segments before new data (§5 NextSeg
//!   rules 1–2; rule 2, new data, is `write_xmit`'s job once `pipe` leaves room).
//! - RFC 6937: Proportional Rate Reduction sets cwnd = pipe + sndcnt on every ACK in recovery.
//! - RFC 2883 / RFC 3708: DSACK blocks; a DSACK for a segment we retransmitted is a spurious
//!   retransmission, and when every retransmission of an episode is DSACKed the congestion
//!   response is undone.
//! - RFC 3522 (Eifel detection) with the RFC 4015 response: a spurious RTO is recognised by
//!   the timestamp echoed on the first ACK after the timeout.
//!
//! The marks live in the queue entries (`tcp::scoreboard`) and the byte totals here, so an
//! ACK allocates nothing. This module only decides: it marks segments and sets the window;
//! `output::xmit_retransmit_queue` sends what is marked lost.
use super::scoreboard::{mark_lost, DUP_THRESH};
use super::{rack, seq_ge, seq_gt, seq_le, seq_lt, Tcb};
use linerate_proto::cc::CongestionControl;
use linerate_proto::timer::{Deadline, Nanos};

/// Ranges of retransmitted segments that were cumulatively acknowledged, remembered so that a
/// later DSACK for them (they are below `snd_una` by then) can be recognised (RFC 3708 §3).
/// Adjacent ranges merge, so four cover four separate runs of retransmissions (a slot costs
/// 8 bytes of every connection block).
const REXMIT_RING: usize = 4;

/// Per-connection recovery state beyond NewReno's (`Tcb::in_recovery`, `recover`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SackState {
    /// Bytes of queued segments marked SACKed.
    pub(crate) sacked_out: u32,
    /// Bytes of queued segments marked lost (and not SACKed since).
    pub(crate) lost_out: u32,
    /// Bytes of lost segments whose retransmission is in flight.
    pub(crate) retrans_out: u32,
    /// In RTO recovery (Linux's TCP_CA_Loss): until `snd_una` passes `recover`.
    pub(crate) in_loss: bool,
    // PRR (RFC 6937 §3).
    pub(crate) prr_delivered: u32,
    pub(crate) prr_out: u32,
    pub(crate) recover_fs: u32,
    // Undo (RFC 3708 §3, RFC 4015): the episode's retransmissions not yet DSACKed and the
    // window before the reduction.
    pub(crate) undo_active: bool,
    pub(crate) undo_retrans: u32,
    pub(crate) prior_cwnd: u32,
    pub(crate) prior_ssthresh: u32,
    /// Eifel (RFC 3522 §3.2): our TSval on the first retransmission of an RTO episode, and
    /// `snd_una` then.
    pub(crate) rto_tsval: Option<u32>,
    pub(crate) rto_una: u32,
    /// Our TSval on the first retransmission of the current episode (Linux's
    /// `retrans_stamp`). An ACK that advances `snd_una` echoing an older TSval was triggered
    /// by an original, not by a retransmission: the hole was reordering, not loss.
    pub(crate) undo_tsval: Option<u32>,
    /// Every hole filled so far in this episode was filled by an original (see
    /// `undo_tsval`); cleared by the first one that may have been a retransmission.
    pub(crate) ts_undo_ok: bool,
    /// Queue entries that have been transmitted more than once (`Seg::retrans > 0`). While
    /// there are none, send times rise with sequence along the queue, which lets RACK stop
    /// at the first segment it does not find overdue (`rack::detect_loss`).
    pub(crate) rexmitted_segs: u32,
    rexmit_ring: [(u32, u32); REXMIT_RING],
    rexmit_pos: u8,
}

/// What the SACK option of one ACK told us.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SackNews {
    /// Payload bytes newly marked SACKed.
    pub(crate) newly_sacked: u32,
    /// The DSACK block, if the first block was one (RFC 2883 §4).
    pub(crate) dsack: Option<(u32, u32)>,
}

impl SackState {
    /// Remembers a retransmitted range that the cumulative ACK just covered.
    pub(crate) fn note_rexmit_acked(&mut self, seq: u32, end: u32) {
        // The run the last one ended continues: extend it.
        let last = (self.rexmit_pos as usize + REXMIT_RING - 1) % REXMIT_RING;
        let (a, b) = self.rexmit_ring[last];
        if a != b && b == seq {
            self.rexmit_ring[last].1 = end;
            return;
        }
        let i = self.rexmit_pos as usize % REXMIT_RING;
        self.rexmit_ring[i] = (seq, end);
        self.rexmit_pos = ((i + 1) % REXMIT_RING) as u8;
    }

    fn rexmit_ring_overlaps(&self, s: u32, e: u32) -> bool {
        self.rexmit_ring
            .iter()
            .any(|&(a, b)| a != b && seq_lt(s, b) && seq_lt(a, e))
    }
}

/// Marks queue entry `idx` SACKed; returns its payload bytes if newly so.
fn mark_sacked(tcb: &mut Tcb, idx: usize, now: Nanos) -> u32 {
    let seg = &mut tcb.queue[idx];
    if seg.sacked {
        return 0;
    }
    seg.sacked = true;
    let (len, sent_at, end, retrans) = (seg.slen(), seg.sent_at, seg.end(), seg.retrans > 0);
    if seg.lost {
        seg.lost = false;
        tcb.sb.lost_out = tcb.sb.lost_out.saturating_sub(len);
    }
    if seg.rexmit {
        seg.rexmit = false;
        tcb.sb.retrans_out = tcb.sb.retrans_out.saturating_sub(len);
    }
    tcb.sb.sacked_out += len;
    rack::on_delivered(tcb, sent_at, end, retrans, true, now);
    len
}

/// Processes the SACK blocks of an ACK whose cumulative point is `ack` (already validated
/// against `snd_una..=snd_max`). Bogus blocks (empty, inverted, beyond `snd_max`, or wider
/// than the window) are ignored: packet data never panics us.
pub(crate) fn on_sack_blocks(
    tcb: &mut Tcb,
    blocks: &[(u32, u32)],
    ack: u32,
    now: Nanos,
) -> SackNews {
    let mut news = SackNews::default();
    let max_span = tcb.snd_max.wrapping_sub(tcb.snd_una).max(1);
    for (i, &(s, e)) in blocks.iter().enumerate() {
        if !seq_lt(s, e) || e.wrapping_sub(s) > max_span.max(1 << 20) || seq_gt(e, tcb.snd_max) {
            continue;
        }
        // RFC 2883 §4: the first block is a DSACK when it lies below the cumulative ACK, or
        // inside the second block.
        if i == 0 {
            let below = seq_le(e, ack);
            let inside = blocks
                .get(1)
                .is_some_and(|&(s2, e2)| seq_ge(s, s2) && seq_le(e, e2) && seq_lt(s2, e2));
            if below || inside {
                news.dsack = Some((s, e));
                tcb.counters.dsacks_in += 1;
                if below {
                    continue;
                }
            }
        }
        if seq_le(e, tcb.snd_una) {
            continue;
        }
        let s = if seq_lt(s, tcb.snd_una) {
            tcb.snd_una
        } else {
            s
        };
        if tcb.unsent == 0 {
            continue;
        }
        // The first in-flight entry that ends after `s` (the queue is in sequence order).
        let end_of = |seg: &super::Seg| seg.seq.wrapping_add(seg.len);
        let first = tcb
            .queue
            .range(..tcb.unsent)
            .take_while(|g| seq_le(end_of(g), s))
            .count();
        let mut idx = first;
        while idx < tcb.unsent {
            let g = &tcb.queue[idx];
            if !seq_lt(g.seq, e) {
                break;
            }
            // Whole segments only: a block covering part of one marks nothing. (A FIN
            // riding on a SACKed segment is handled when the data is acked without it.)
            if g.len > 0 && seq_ge(g.seq, s) && seq_le(end_of(g), e) && !g.sacked {
                let n = mark_sacked(tcb, idx, now);
                news.newly_sacked += n;
                tcb.counters.sacked_bytes += n as u64;
            }
            idx += 1;
        }
    }
    news
}

/// A DSACK arrived (RFC 2883 §4): was it for a retransmission (RFC 3708 §3)? If every
/// retransmission of the episode has been DSACKed, undo its congestion response.
pub(crate) fn on_dsack(tcb: &mut Tcb, s: u32, e: u32) {
    let in_queue = tcb
        .queue
        .range(..tcb.unsent.min(tcb.queue.len()))
        .any(|g| g.retrans > 0 && seq_lt(s, g.end()) && seq_lt(g.seq, e));
    if !(in_queue || tcb.sb.rexmit_ring_overlaps(s, e)) {
        return; // a duplicate the network made, not us
    }
    tcb.counters.spurious_retrans += 1;
    rack::widen_reo_wnd(tcb);
    if tcb.sb.undo_active && tcb.sb.undo_retrans > 0 {
        tcb.sb.undo_retrans -= 1;
        if tcb.sb.undo_retrans == 0 {
            undo(tcb);
        }
    }
}

/// Restores the window from before a reduction that turned out needless (RFC 3708 §5 and
/// RFC 4015 §3's "restore" option).
fn undo(tcb: &mut Tcb) {
    tcb.sb.undo_active = false;
    tcb.sb.undo_tsval = None;
    tcb.ccs.cwnd = tcb.ccs.cwnd.max(tcb.sb.prior_cwnd);
    tcb.ccs.ssthresh = tcb.ccs.ssthresh.max(tcb.sb.prior_ssthresh);
    tcb.counters.undos += 1;
    if tcb.in_recovery || tcb.sb.in_loss {
        tcb.in_recovery = false;
        tcb.sb.in_loss = false;
        // Segments marked lost but not resent are presumed fine; RACK re-marks any that are
        // really lost.
        for i in 0..tcb.unsent.min(tcb.queue.len()) {
            let g = &mut tcb.queue[i];
            if g.lost && !g.rexmit {
                g.lost = false;
                tcb.sb.lost_out = tcb.sb.lost_out.saturating_sub(g.slen());
            }
        }
    }
}

/// Starts an undo episode (fast recovery or RTO): remembers the window to restore.
pub(crate) fn start_episode(tcb: &mut Tcb) {
    tcb.sb.undo_active = true;
    tcb.sb.undo_retrans = 0;
    tcb.sb.undo_tsval = None;
    tcb.sb.ts_undo_ok = true;
    tcb.sb.prior_cwnd = tcb.ccs.cwnd;
    tcb.sb.prior_ssthresh = tcb.ccs.ssthresh;
}

/// Eifel detection (RFC 3522 §3.2) on the first ACK for new data after an RTO: if it echoes
/// a timestamp older than the retransmission's, the original arrived and the timeout was
/// spurious. Response (RFC 4015 §2–3): restore the window, leave RTO recovery and resume
/// with new data rather than go-back-N.
pub(crate) fn eifel_check(tcb: &mut Tcb, tsecr: Option<u32>) {
    let Some(rts) = tcb.sb.rto_tsval.take() else {
        return;
    };
    let Some(tsecr) = tsecr else { return };
    if !tcb.ts_on || tsecr == 0 || !seq_lt(tsecr, rts) {
        return;
    }
    tcb.counters.spurious_rtos += 1;
    tcb.sb.undo_active = true;
    tcb.sb.undo_retrans = 0;
    undo(tcb);
}

/// Timestamp undo for fast recovery (Linux's `tcp_try_undo_partial` and
/// `tcp_try_undo_recovery` with `tcp_packet_delayed`; the RFC 3522 test applied to each
/// ACK that advances `snd_una` in SACK recovery). A receiver echoes the TSval of the
/// segment that fills a hole (RFC 7323 §4.3), so an echo older than our first
/// retransmission says an original filled it: the network reordered, nothing was lost.
/// Once every filled hole says so and no retransmission is still in flight, the reduction
/// is undone. Returns true when it was.
pub(crate) fn ts_undo_check(tcb: &mut Tcb, tsecr: Option<u32>) -> bool {
    if !tcb.in_recovery || !tcb.sb.undo_active || !tcb.sb.ts_undo_ok || !tcb.ts_on {
        return false;
    }
    let Some(rts) = tcb.sb.undo_tsval else {
        return false; // nothing retransmitted yet
    };
    match tsecr {
        Some(e) if e != 0 && seq_lt(e, rts) => {}
        _ => {
            // A retransmission may have filled this hole: a real loss, no undo this episode.
            tcb.sb.ts_undo_ok = false;
            return false;
        }
    }
    rack::widen_reo_wnd(tcb);
    if tcb.sb.retrans_out > 0 && seq_lt(tcb.snd_una, tcb.recover) {
        return false; // wait until no retransmission is in flight
    }
    tcb.counters.ts_undos += 1;
    undo(tcb);
    true
}

/// RFC 6675 §4 IsLost for every unSACKed, unmarked segment: DupThresh SACKed segments or
/// more than (DupThresh − 1)·SMSS SACKed bytes above it.
fn mark_lost_dupthresh(tcb: &mut Tcb) {
    if tcb.sb.sacked_out == 0 {
        return;
    }
    let (mut bytes, mut segs) = (0u32, 0u32);
    let lim = (DUP_THRESH - 1) * tcb.mss;
    for i in (0..tcb.unsent.min(tcb.queue.len())).rev() {
        let g = &tcb.queue[i];
        if g.sacked {
            bytes += g.len; // SACKed payload: a FIN is not SACKed data
            segs += 1;
        } else if !g.lost && (segs >= DUP_THRESH || bytes > lim) {
            mark_lost(tcb, i);
        }
    }
}

/// Enters SACK-based fast recovery (RFC 6675 §5 steps 1–3, RFC 6937 §3 initialisation).
fn enter_recovery(tcb: &mut Tcb) {
    start_episode(tcb);
    let flight = tcb.in_flight();
    let ss = tcb.cc.ssthresh_after_loss(&tcb.ccs, flight);
    tcb.ccs.ssthresh = ss;
    tcb.recover = tcb.snd_max; // RecoveryPoint = HighData
    tcb.in_recovery = true;
    tcb.sb.prr_delivered = 0;
    tcb.sb.prr_out = 0;
    tcb.sb.recover_fs = flight.max(1);
    tcb.counters.sack_recoveries += 1;
    tcb.tlp_at = Deadline::NONE;
}

/// PRR (RFC 6937 §3.1, with the PRR-SSRB bound): how many bytes this ACK lets us send,
/// applied as cwnd = pipe + sndcnt.
fn prr_update(tcb: &mut Tcb, delivered: u32) {
    let sb = &mut tcb.sb;
    sb.prr_delivered = sb.prr_delivered.saturating_add(delivered);
    let pipe = tcb.pipe() as i64;
    let ss = tcb.ccs.ssthresh as i64;
    let mss = tcb.mss as i64;
    let (pd, po) = (tcb.sb.prr_delivered as i64, tcb.sb.prr_out as i64);
    let mut sndcnt = if pipe > ss {
        // Proportional part: ceil(prr_delivered · ssthresh / RecoverFS) − prr_out.
        let fs = tcb.sb.recover_fs.max(1) as i64;
        (pd * ss + fs - 1) / fs - po
    } else {
        // Slow-start reduction bound: at most one MSS beyond what was delivered.
        (ss - pipe).min((pd - po).max(delivered as i64) + mss)
    };
    if po == 0 {
        sndcnt = sndcnt.max(mss); // the fast retransmit itself always goes
    }
    let sndcnt = sndcnt.max(0);
    tcb.ccs.cwnd = (pipe + sndcnt).clamp(tcb.mss as i64, u32::MAX as i64) as u32;
}

/// Loss detection and recovery after an ACK (or the reordering timer) on a SACK
/// connection: RACK and RFC 6675 mark losses, recovery starts if something is lost, and PRR
/// sets cwnd. The caller then runs `output::xmit_retransmit_queue`, which resends what is
/// marked lost before any new data.
pub(crate) fn after_ack(tcb: &mut Tcb, delivered: u32, now: Nanos) {
    if !tcb.sack_ok {
        return;
    }
    rack::detect_loss(tcb, now);
    // RFC 6675's DupThresh rule until reordering is seen; from then on RACK's adaptive
    // reordering window alone decides (RFC 8985 §4 lets RACK replace DupThresh).
    if !tcb.rack.reordering_seen {
        mark_lost_dupthresh(tcb);
    }
    if tcb.sb.lost_out > 0 && !tcb.in_recovery && !tcb.sb.in_loss {
        enter_recovery(tcb);
    }
    if tcb.in_recovery {
        prr_update(tcb, delivered);
    }
}
