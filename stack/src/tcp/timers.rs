//! `tcp_timer.c`: what each of a connection's timers does when it fires: the retransmission
//! timer (RFC 6298), delayed ACK, zero-window probes, RACK's reordering timer and the tail
//! loss probe (RFC 8985), the pacing gate and TIME-WAIT. The wheel itself is
//! `linerate_proto::timer`; the stack sets each connection's earliest deadline in it.
use super::output::{self, send_ack};
use super::{probe, rack, sack, scoreboard, State, Tcb, TcpError, WAIT_NEIGH};
use crate::ip::IpLayer;
use linerate_dpdk::Device;
use linerate_proto::cc::CongestionControl;
use linerate_proto::timer::{Deadline, Nanos};

/// Runs whichever of the connection's timers are due (`tcp_write_timer`, `tcp_delack_timer`,
/// `tcp_probe_timer`, TIME-WAIT).
pub(crate) fn on_timers<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, now: Nanos) {
    if tcb.rto_at.is_some_and(|t| t <= now) {
        tcb.rto_at = Deadline::NONE;
        retransmit_timer(tcb, ip, now);
    }
    if tcb.delack_at.is_some_and(|t| t <= now) {
        tcb.delack_at = Deadline::NONE;
        if tcb.state != State::Closed {
            send_ack(tcb, ip, now);
        }
    }
    if tcb.persist_at.is_some_and(|t| t <= now) {
        tcb.persist_at = Deadline::NONE;
        probe_timer(tcb, ip, now);
    }
    if tcb.reo_at.is_some_and(|t| t <= now) {
        tcb.reo_at = Deadline::NONE;
        // RFC 8985 §6.3: detect again, recover, retransmit.
        if tcb.sack_ok && tcb.snd_una != tcb.snd_max {
            sack::after_ack(tcb, 0, now);
            output::xmit_retransmit_queue(tcb, ip, now);
        }
    }
    if tcb.tlp_at.is_some_and(|t| t <= now) {
        tcb.tlp_at = Deadline::NONE;
        if let Some(probe) = rack::tlp_probe(tcb) {
            probe::send_loss_probe(tcb, ip, probe, now);
        }
    }
    if tcb.pace_at.is_some_and(|t| t <= now) {
        // The pacing gate reopened; the caller (`Stack::after_event`) runs `write_xmit`.
        tcb.pace_at = Deadline::NONE;
    }
    if tcb.close_at.is_some_and(|t| t <= now) {
        tcb.close_at = Deadline::NONE;
        if matches!(tcb.state, State::TimeWait | State::FinWait2) {
            tcb.end();
        }
    }
}

/// RTO expiry (RFC 6298 §5.4–5.7, RFC 5681 §3.1 eq. 4): back off, collapse cwnd to one
/// segment, and go back to the first unacknowledged segment.
fn retransmit_timer<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, now: Nanos) {
    if ip.dst_failed(&tcb.dst) {
        tcb.fail(TcpError::HostUnreachable);
        return;
    }
    if tcb.state == State::SynSent {
        if tcb.retries >= tcb.cfg.syn_retries {
            tcb.fail(TcpError::TimedOut);
            return;
        }
        tcb.retries += 1;
        tcb.rtt.back_off();
        tcb.counters.rtos += 1;
        // As at connect: while ARP goes unanswered the SYN waits for the reply (the stack
        // sends it then), not in the neighbour's queue, where it outlived an abort of the
        // connection and went out after the reply, beside a new connection's SYN on the tuple.
        if ip.dst_ready(&tcb.dst, now) {
            output::send_syn(tcb, ip, now);
        } else {
            tcb.waits |= WAIT_NEIGH;
            tcb.rto_at = Deadline::at(now + tcb.rtt.current());
        }
        return;
    }
    if tcb.snd_una == tcb.snd_max {
        return; // nothing outstanding
    }
    if tcb.retries >= tcb.cfg.retries {
        tcb.fail(TcpError::TimedOut);
        return;
    }
    if tcb.retries == 0 {
        // Only the first timeout of an episode sets ssthresh (RFC 5681 §3.1 note); it also
        // opens an undo episode (RFC 3708, RFC 4015) and records our timestamp for Eifel
        // detection (RFC 3522 §3.2). A timeout in fast recovery keeps that episode's undo
        // state (the window to restore is the one from before fast recovery).
        if !(tcb.in_recovery && tcb.sb.undo_active) {
            sack::start_episode(tcb);
        }
        let flight = tcb.snd_max.wrapping_sub(tcb.snd_una);
        tcb.ccs.ssthresh = CongestionControl::ssthresh_after_loss(&mut tcb.cc, &tcb.ccs, flight);
        tcb.sb.rto_tsval = tcb.ts_on.then(|| tcb.ts_now(now));
        tcb.sb.rto_una = tcb.snd_una;
    }
    CongestionControl::on_rto(&mut tcb.cc, &tcb.ccs);
    tcb.ccs.cwnd = tcb.mss;
    tcb.ccs.bytes_acked = 0;
    tcb.in_recovery = false;
    tcb.dupacks = 0;
    tcb.recover = tcb.snd_max;
    tcb.retries += 1;
    tcb.counters.rtos += 1;
    tcb.rtt.back_off();
    // RTO recovery: everything unSACKed in flight is lost and goes again, lowest first, as
    // the window reopens (RFC 5681 §3.1, RFC 6675 §5.1); no go-back-N over SACKed data.
    tcb.snd_nxt = tcb.snd_max;
    scoreboard::on_rto(tcb);
    output::xmit_retransmit_queue(tcb, ip, now);
    tcb.rto_at = Deadline::at(now + tcb.rtt.current());
}

/// `tcp_probe_timer`: the persist timer (RFC 9293 §3.8.6.1) of a connection with data
/// waiting, nothing in flight and a window too small to send into. Gives up with
/// [`TcpError::TimedOut`] after `cfg.retries` probes in a row went unanswered (Linux counts
/// `icsk_probes_out` against `tcp_retries2`): every ACK resets the count (`tcp::ack`), so
/// a receiver that keeps answering with a zero window is kept (RFC 1122 §4.2.2.17), and one
/// that has vanished does not pin the connection and its buffers forever.
fn probe_timer<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, now: Nanos) {
    let waiting = tcb.unsent < tcb.queue.len() || tcb.pend.len > 0;
    let may_send = tcb.state.can_send()
        || matches!(tcb.state, State::FinWait1 | State::LastAck | State::Closing);
    if !waiting || tcb.in_flight() > 0 || !may_send {
        tcb.probes_out = 0;
        return;
    }
    if tcb.probes_out >= tcb.cfg.retries {
        tcb.fail(TcpError::TimedOut);
        return;
    }
    // `tcp_send_probe0`.
    probe::write_wakeup(tcb, ip, now);
    if tcb.in_flight() > 0 {
        // Data went into the window: the retransmission timer guards it from here.
        tcb.probes_out = 0;
        tcb.persist_backoff = 0;
        return;
    }
    tcb.probes_out = tcb.probes_out.saturating_add(1);
    tcb.persist_backoff = tcb.persist_backoff.saturating_add(1).min(20);
    let t = tcb
        .rtt
        .rto
        .saturating_mul(1 << tcb.persist_backoff.min(10))
        .min(tcb.cfg.max_rto());
    tcb.persist_at = Deadline::at(now + t);
}
