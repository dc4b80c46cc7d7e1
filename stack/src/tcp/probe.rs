//! The probes `tcp::timers` asks for, sent through `tcp::output`: the persist timer's window
//! probe (`tcp_write_wakeup`) and the tail loss probe (`tcp_send_loss_probe`).
use super::output::{event_new_data_sent, send_control, transmit_skb};
use super::rack::{self, Probe};
use super::sendmsg::{fragment, materialize};
use super::{wnd, Tcb};
use crate::ip::IpLayer;
use linerate_dpdk::Device;
use linerate_proto::timer::{Deadline, Nanos};
use linerate_proto::wire::tcp::flags;

/// `tcp_write_wakeup`: the persist timer's probe. When the window has room at the send head
/// but too little for output to send into (sender silly-window avoidance, RFC 9293
/// §3.8.6.2.1, whose override this is), the head leaves cut to that room, at most a send
/// MSS, as new data under the retransmission timer. Otherwise a bare ACK one below
/// `snd_una` (`tcp_xmit_probe_skb`), which the peer answers with its window (§3.8.6.1).
pub(crate) fn write_wakeup<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, now: Nanos) {
    if let Some(n) = wnd::wakeup_len(tcb) {
        if !ip.dst_resolved(&tcb.dst) {
            return;
        }
        if tcb.unsent >= tcb.queue.len() {
            materialize(tcb, ip, 1);
        }
        let idx = tcb.unsent;
        let Some(len) = tcb.queue.get(idx).map(|s| s.len) else {
            return;
        };
        // A segment that cannot be cut (no mbuf) waits for the next probe.
        if (len <= n || fragment(tcb, ip, idx, n)) && transmit_skb(tcb, idx, ip, now) {
            event_new_data_sent(tcb);
            if tcb.rto_at.is_none() {
                tcb.rto_at = Deadline::at(now + tcb.rtt.current());
            }
        }
        return;
    }
    let seq = tcb.snd_una.wrapping_sub(1);
    let _ = send_control(tcb, ip, flags::ACK, seq, now);
    tcb.counters.zero_window_probes += 1;
}

/// `tcp_send_loss_probe` (RFC 8985 §7.3): sends the probe `rack::tlp_probe` asked for: one
/// new segment if the receive window allows, otherwise the highest unSACKed segment again.
pub(crate) fn send_loss_probe<D: Device>(
    tcb: &mut Tcb,
    ip: &mut IpLayer<D>,
    probe: Probe,
    now: Nanos,
) {
    if !ip.dst_resolved(&tcb.dst) {
        return;
    }
    if probe == Probe::NewData && tcb.unsent >= tcb.queue.len() {
        materialize(tcb, ip, 1);
    }
    if probe == Probe::NewData && transmit_skb(tcb, tcb.unsent, ip, now) {
        event_new_data_sent(tcb);
        rack::on_tlp_sent(tcb, false, now);
        return;
    }
    let target = match probe {
        Probe::Retransmit(i) => Some(i),
        Probe::NewData => rack::tlp_retransmit_target(tcb),
    };
    if let Some(i) = target {
        if transmit_skb(tcb, i, ip, now) {
            rack::on_tlp_sent(tcb, true, now);
        }
    }
}
