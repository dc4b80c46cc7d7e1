//! The SACK scoreboard's per-segment marks, as Linux keeps them in `TCP_SKB_CB(skb)->sacked`:
//! `sacked` (the receiver holds it), `lost` (marked lost, to be retransmitted) and `rexmit`
//! (a lost segment's retransmission is in flight), with their byte totals in
//! [`SackState`](super::sack::SackState) so that RFC 6675's pipe is
//! `in_flight − sacked − lost + rexmit` without a walk. Every other TCP module reads or
//! moves these marks; this one calls nothing above it.
use super::{seq_lt, Tcb};
use linerate_proto::timer::{Deadline, Nanos};

/// RFC 5681/6675 DupThresh.
pub(crate) const DUP_THRESH: u32 = 3;
/// Marks queue entry `idx` lost (to be retransmitted). A lost retransmission (RACK) becomes
/// eligible for another retransmission.
pub(crate) fn mark_lost(tcb: &mut Tcb, idx: usize) -> bool {
    let seg = &mut tcb.queue[idx];
    if seg.sacked || (seg.lost && !seg.rexmit) {
        return false;
    }
    let len = seg.slen();
    if seg.rexmit {
        seg.rexmit = false;
        tcb.sb.retrans_out = tcb.sb.retrans_out.saturating_sub(len);
    } else {
        seg.lost = true;
        tcb.sb.lost_out += len;
    }
    true
}

/// Scoreboard bookkeeping for a segment leaving the queue (cumulatively acknowledged).
pub(crate) fn on_seg_acked(tcb: &mut Tcb, idx: usize) {
    let s = &tcb.queue[idx];
    let (len, sacked, lost, rexmit, retrans, seq, end) = (
        s.slen(),
        s.sacked,
        s.lost,
        s.rexmit,
        s.retrans > 0,
        s.seq,
        s.end(),
    );
    if sacked {
        tcb.sb.sacked_out = tcb.sb.sacked_out.saturating_sub(len);
    }
    if lost {
        tcb.sb.lost_out = tcb.sb.lost_out.saturating_sub(len);
    }
    if rexmit {
        tcb.sb.retrans_out = tcb.sb.retrans_out.saturating_sub(len);
    }
    if retrans {
        tcb.sb.note_rexmit_acked(seq, end);
        tcb.sb.rexmitted_segs = tcb.sb.rexmitted_segs.saturating_sub(1);
    }
}

/// Scoreboard bookkeeping when `cut` bytes are trimmed off the front of entry `idx`.
pub(crate) fn on_trim(tcb: &mut Tcb, idx: usize, cut: u32) {
    let s = &tcb.queue[idx];
    let (sacked, lost, rexmit) = (s.sacked, s.lost, s.rexmit);
    if sacked {
        tcb.sb.sacked_out = tcb.sb.sacked_out.saturating_sub(cut);
    }
    if lost {
        tcb.sb.lost_out = tcb.sb.lost_out.saturating_sub(cut);
    }
    if rexmit {
        tcb.sb.retrans_out = tcb.sb.retrans_out.saturating_sub(cut);
    }
}

/// Scoreboard bookkeeping for a transmission of entry `idx` (called by `transmit`).
pub(crate) fn on_transmit(tcb: &mut Tcb, idx: usize, retrans: bool, len: u32, now: Nanos) {
    if tcb.in_recovery {
        tcb.sb.prr_out = tcb.sb.prr_out.saturating_add(len.max(1));
    }
    if !retrans {
        return;
    }
    if tcb.sb.undo_active && (tcb.in_recovery || tcb.sb.in_loss) {
        tcb.sb.undo_retrans += 1;
        if tcb.sb.undo_tsval.is_none() && tcb.ts_on {
            tcb.sb.undo_tsval = Some(tcb.ts_now(now));
        }
    }
    let seg = &mut tcb.queue[idx];
    if seg.lost && !seg.rexmit {
        seg.rexmit = true;
        tcb.sb.retrans_out += seg.slen();
    }
}

/// The front segment's payload was cumulatively acknowledged but not its FIN (a receiver
/// that drops a FIN arriving out of order): what is left of it is not SACKed.
pub(crate) fn unsack_partial_head(tcb: &mut Tcb) {
    let una = tcb.snd_una;
    if let Some(g) = tcb.queue.front_mut() {
        if g.sacked && seq_lt(g.seq, una) {
            g.sacked = false;
            let n = g.slen();
            tcb.sb.sacked_out = tcb.sb.sacked_out.saturating_sub(n);
        }
    }
}

/// Forgets every SACK mark: the receiver reneged (RFC 2018 §8, RFC 6675 §5.1).
pub(crate) fn clear_sacked(tcb: &mut Tcb) {
    for i in 0..tcb.unsent.min(tcb.queue.len()) {
        tcb.queue[i].sacked = false;
    }
    tcb.sb.sacked_out = 0;
}

/// RTO (RFC 6298 §5.4; RFC 6675 §5.1): every unSACKed segment in flight is presumed lost
/// and is resent, lowest first, as the (collapsed) window reopens. SACK marks are kept, so
/// what the receiver holds is not resent.
pub(crate) fn on_rto(tcb: &mut Tcb) {
    for i in 0..tcb.unsent.min(tcb.queue.len()) {
        let g = &mut tcb.queue[i];
        if g.sacked {
            continue;
        }
        if g.rexmit {
            g.rexmit = false;
            tcb.sb.retrans_out = tcb.sb.retrans_out.saturating_sub(g.slen());
        }
        if !g.lost {
            g.lost = true;
            tcb.sb.lost_out += g.slen();
        }
    }
    tcb.sb.in_loss = true;
    tcb.rack.tlp_end_seq = None;
    tcb.tlp_at = Deadline::NONE;
    tcb.reo_at = Deadline::NONE;
}

/// Recomputes the byte counters from the queue (debug builds check them against the
/// incremental ones).
#[cfg(debug_assertions)]
pub(crate) fn recount(tcb: &Tcb) -> (u32, u32, u32) {
    let (mut s, mut l, mut r) = (0, 0, 0);
    for g in tcb.queue.range(..tcb.unsent.min(tcb.queue.len())) {
        if g.sacked {
            s += g.slen();
        }
        if g.lost {
            l += g.slen();
        }
        if g.rexmit {
            r += g.slen();
        }
    }
    (s, l, r)
}
