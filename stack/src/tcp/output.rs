//! `tcp_write_xmit` and `tcp_transmit_skb`: which queued segments may go now, and putting
//! the TCP header in front of one and handing the NIC a reference to it.
use super::timer::Nanos;
use super::{csum_add, seq_gt, seq_lt, State, Tcb, TcpError};
use crate::dev::Device;
use crate::ip;
use crate::neigh::ETH_HDR;
use crate::stack::NetCtx;
use crate::wire::checksum;
use crate::wire::ipv4::Protocol;
use crate::wire::tcp::{flags, OptionWriter};
use std::net::Ipv4Addr;

pub const TCP_HDR: usize = 20;
/// NOP, NOP, TS: the options on every segment once timestamps are on.
pub const TS_OPTS: usize = 12;
/// Headroom every data mbuf needs: Ethernet + IPv4 + TCP with the largest options.
pub const MAX_HEADER: usize = ETH_HDR + ip::IP_HDR + TCP_HDR + 40;

/// `tcp_write_xmit`: sends queued segments while the congestion window, the peer's receive
/// window, Nagle and the device allow.
pub fn write_xmit<D: Device>(tcb: &mut Tcb, net: &mut NetCtx<D>, now: Nanos) {
    if !matches!(
        tcb.state,
        State::Established | State::CloseWait | State::FinWait1 | State::Closing | State::LastAck
    ) {
        return;
    }
    if tcb.fin_wanted && !tcb.fin_queued {
        queue_fin(tcb, net);
    }
    if tcb.unsent >= tcb.queue.len() {
        return;
    }
    check_route(tcb, net, now);
    if !net.neigh.is_resolved(tcb.neigh) {
        // Data waits on the write queue (not copied into the neighbour's queue) until the
        // reply comes; the stack calls us again then.
        let pool = net.pool.clone();
        net.neigh.kick(tcb.neigh, now, &mut net.dev, &pool);
        return;
    }
    tcb.cwnd_limited = false;
    // Pacing (tcp::pacing): refresh the rate from cwnd/srtt and accrue tokens.
    let pacing = tcb.cfg.pacing;
    if pacing {
        let rate = super::pacing::rate(&tcb.ccs, tcb.in_flight(), tcb.rtt.srtt_us);
        tcb.pacer.update(now, rate, tcb.mss);
    }
    tcb.pace_at = None;
    while tcb.unsent < tcb.queue.len() {
        if !net.dev.has_room() {
            break;
        }
        let (seq, len, fin) = {
            let s = &tcb.queue[tcb.unsent];
            (s.seq, s.len, s.fin)
        };
        let flight = tcb.in_flight();
        // Congestion window (RFC 5681) against RFC 6675's pipe (in flight less SACKed and
        // lost bytes): always allow one segment when nothing is in the network.
        let pipe = tcb.pipe();
        if pipe > 0 && pipe.saturating_add(len) > tcb.ccs.cwnd {
            tcb.cwnd_limited = true;
            break;
        }
        // Receive window (RFC 9293 §3.8.6): the whole segment must fit.
        let wnd_end = tcb.snd_una.wrapping_add(tcb.snd_wnd);
        if seq_gt(seq.wrapping_add(len), wnd_end) {
            if flight == 0 && tcb.persist_at.is_none() {
                // Zero (or too small) window with nothing in flight: probe it (§3.8.6.1).
                tcb.persist_at = Some(now + tcb.rtt.current());
            }
            break;
        }
        // Nagle (RFC 896): hold a short segment while data is unacknowledged.
        let last = tcb.unsent + 1 == tcb.queue.len();
        if len < tcb.mss && !fin && !tcb.cfg.nodelay && flight > 0 && last {
            break;
        }
        // Pacing gate: when it closes, the timer wheel wakes us at `pace_at`. In slow start
        // the window may double within an RTT while the gate spreads it, so a sender using
        // half of it or more still counts as window-limited (RFC 7661 §4.3's rationale).
        if pacing && !tcb.pacer.may_send(len) {
            tcb.pace_at = Some(now + tcb.pacer.wait(len).max(1));
            if tcb.ccs.in_slow_start() && 2 * flight as u64 >= tcb.ccs.cwnd as u64 {
                tcb.cwnd_limited = true;
            }
            break;
        }
        if !transmit(tcb, tcb.unsent, net, now) {
            break;
        }
        if pacing {
            tcb.pacer.on_sent(len);
        }
        let end = tcb.queue[tcb.unsent].end();
        tcb.snd_nxt = end;
        if seq_gt(end, tcb.snd_max) {
            tcb.snd_max = end;
        }
        tcb.unsent += 1;
        if tcb.rto_at.is_none() {
            tcb.rto_at = Some(now + tcb.rtt.current());
        }
    }
}

/// The seed's `__sk_dst_check`: the connection caches its next hop with the route table's
/// generation; when the table has changed since, look the route up again. A destination that
/// lost its route keeps the old next hop (its segments still go out; RTOs end it if the path
/// is really gone).
#[inline]
fn check_route<D: Device>(tcb: &mut Tcb, net: &mut NetCtx<D>, now: Nanos) {
    if tcb.route_gen == net.routes.generation() {
        return;
    }
    tcb.route_gen = net.routes.generation();
    if let Some(hop) = net.routes.lookup(tcb.remote_ip) {
        if let Ok(n) = net.neigh.lookup_or_create(hop.addr, now) {
            tcb.neigh = n;
        }
    }
}

/// Puts FIN on the last unsent segment, or on a new empty one.
fn queue_fin<D: Device>(tcb: &mut Tcb, net: &mut NetCtx<D>) {
    if tcb.unsent < tcb.queue.len() {
        if let Some(last) = tcb.queue.back_mut() {
            last.fin = true;
            tcb.fin_queued = true;
            tcb.write_seq = tcb.write_seq.wrapping_add(1);
            return;
        }
    }
    let Some(m) = net.pool.alloc() else { return }; // retried on the next call
    tcb.queue.push_back(super::Seg {
        mbuf: m,
        seq: tcb.write_seq,
        len: 0,
        hdr: 0,
        csum: 0,
        fin: true,
        sent_at: 0,
        retrans: 0,
        sacked: false,
        lost: false,
        rexmit: false,
    });
    tcb.write_seq = tcb.write_seq.wrapping_add(1);
    tcb.fin_queued = true;
}

/// Writes a TCP header for `seq`/`flags` into `h` (which is `TCP_HDR + opts` long), with the
/// timestamps option when on. Returns the header's partial checksum sum.
#[inline]
fn write_header(tcb: &Tcb, h: &mut [u8], seq: u32, fl: u8, now: Nanos) {
    h[0..2].copy_from_slice(&tcb.local_port.to_be_bytes());
    h[2..4].copy_from_slice(&tcb.remote_port.to_be_bytes());
    h[4..8].copy_from_slice(&seq.to_be_bytes());
    let ack = if fl & flags::ACK != 0 { tcb.rcv_nxt } else { 0 };
    h[8..12].copy_from_slice(&ack.to_be_bytes());
    h[12] = ((h.len() / 4) as u8) << 4;
    h[13] = fl;
    let wnd = if fl & flags::SYN != 0 {
        tcb.rcv_wnd().min(0xffff)
    } else {
        (tcb.rcv_wnd() >> tcb.rcv_wscale).min(0xffff)
    };
    h[14..16].copy_from_slice(&(wnd as u16).to_be_bytes());
    h[16..20].fill(0); // checksum, urgent pointer
    if h.len() > TCP_HDR && fl & flags::SYN == 0 {
        h[20] = 1;
        h[21] = 1;
        h[22] = 8;
        h[23] = 10;
        h[24..28].copy_from_slice(&tcb.ts_now(now).to_be_bytes());
        h[28..32].copy_from_slice(&tcb.ts_recent.to_be_bytes());
    }
}

/// Sets the TCP checksum: the pseudo-header sum only when the NIC completes it, otherwise
/// the full sum from the header and the payload's precomputed partial sum.
#[inline]
fn finish_checksum(
    h: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    tcp_len: usize,
    payload_sum: u32,
    offload: bool,
) {
    let ph = checksum::pseudo_header_v4(src, dst, Protocol::TCP, tcp_len as u16);
    let c = if offload {
        !checksum::fold(ph)
    } else {
        checksum::fold(csum_add(csum_add(ph, checksum::sum(h, 0)), payload_sum))
    };
    h[16..18].copy_from_slice(&c.to_be_bytes());
}

/// `tcp_transmit_skb`: (re)builds the headers of queue entry `idx` in its headroom and hands
/// the NIC a reference, keeping the original on the queue. False when the previous
/// transmission of this segment is still in the device's queue (the kernel's
/// `skb_still_in_host_queue`) or the device is full.
pub fn transmit<D: Device>(tcb: &mut Tcb, idx: usize, net: &mut NetCtx<D>, now: Nanos) -> bool {
    let thl = if tcb.ts_on {
        TCP_HDR + TS_OPTS
    } else {
        TCP_HDR
    };
    let last = idx + 1 == tcb.queue.len();
    if seq_lt(tcb.queue[idx].seq, tcb.snd_una) && !trim_head(tcb, idx) {
        return false;
    }
    let (seq, len, fin, psum) = {
        let s = &tcb.queue[idx];
        (s.seq, s.len, s.fin, s.csum)
    };
    let mut fl = flags::ACK;
    if fin {
        fl |= flags::FIN;
    }
    if last && len > 0 {
        fl |= flags::PSH;
    }
    let mut hdr = [0u8; TCP_HDR + TS_OPTS];
    write_header(tcb, &mut hdr[..thl], seq, fl, now);
    let offl = net.offloads;
    let (src, dst) = (tcb.local_ip, tcb.remote_ip);
    finish_checksum(
        &mut hdr[..thl],
        src,
        dst,
        thl + len as usize,
        psum,
        offl.tx_tcp_cksum,
    );
    tcb.ip_id = tcb.ip_id.wrapping_add(1);
    let ident = tcb.ip_id;
    let seg = &mut tcb.queue[idx];
    if !seg.mbuf.is_unique() || !net.dev.has_room() {
        return false;
    }
    if seg.hdr > 0 {
        seg.mbuf.adj(seg.hdr as usize);
        seg.hdr = 0;
    }
    let Some(h) = seg.mbuf.prepend(thl) else {
        return false;
    };
    h.copy_from_slice(&hdr[..thl]);
    if !ip::push_header(
        &mut seg.mbuf,
        src,
        dst,
        ident,
        ip::DEFAULT_TTL,
        &offl,
        thl as u8,
        offl.tx_tcp_cksum,
    ) || !net.neigh.push_hh(tcb.neigh, &mut seg.mbuf)
    {
        // Undo so the segment stays a clean payload.
        let pushed = seg.mbuf.len() - len as usize;
        seg.mbuf.adj(pushed);
        return false;
    }
    seg.hdr = (thl + ip::IP_HDR + ETH_HDR) as u16;
    let retrans = seq_lt(seq, tcb.snd_max);
    // The reference the NIC frees when done; the original stays for retransmission.
    let r = seg.mbuf.clone();
    if net.dev.xmit(r).is_err() {
        return false;
    }
    // Only a frame the device took counts as sent (RACK's xmit_ts, RFC 8985 §6.1).
    seg.sent_at = now;
    if retrans {
        seg.retrans = seg.retrans.saturating_add(1);
    }
    super::sack::on_transmit(tcb, idx, retrans, len, now);
    if !retrans {
        // RFC 8985 §7.2: (re)arm the tail loss probe after new data.
        let extra = tcb.queue[idx].end().wrapping_sub(tcb.snd_max);
        super::rack::schedule_tlp(tcb, now, extra);
    }
    let c = &mut tcb.counters;
    c.segs_out += 1;
    if len > 0 {
        c.data_segs_out += 1;
    }
    if retrans {
        c.retrans_segs += 1;
        c.bytes_retrans += len as u64;
    } else {
        c.bytes_sent += len as u64;
    }
    tcb.ack_now = false;
    tcb.delack_at = None;
    tcb.segs_unacked = 0;
    true
}

/// `tcp_trim_head`: drops the acknowledged front of a partly acknowledged segment before it
/// is retransmitted, so the retransmission starts at `snd_una` (a receiver may reject a
/// segment that begins below its window even when its FIN is new). Recomputes the payload's
/// partial checksum. False while the NIC still holds the previous transmission.
fn trim_head(tcb: &mut Tcb, idx: usize) -> bool {
    let una = tcb.snd_una;
    let seg = &mut tcb.queue[idx];
    let cut = una.wrapping_sub(seg.seq).min(seg.len);
    if cut == 0 {
        return true;
    }
    if !seg.mbuf.is_unique() {
        return false;
    }
    if seg.hdr > 0 {
        seg.mbuf.adj(seg.hdr as usize);
        seg.hdr = 0;
    }
    if !seg.mbuf.adj(cut as usize) {
        return false;
    }
    super::sack::on_trim(tcb, idx, cut);
    let seg = &mut tcb.queue[idx];
    seg.seq = seg.seq.wrapping_add(cut);
    seg.len -= cut;
    seg.csum = checksum::sum(seg.mbuf.data(), 0);
    true
}

/// Sends a segment without payload in its own mbuf: SYN, pure ACK, RST, window probe.
pub fn send_control<D: Device>(
    tcb: &mut Tcb,
    net: &mut NetCtx<D>,
    fl: u8,
    seq: u32,
    now: Nanos,
) -> Result<(), TcpError> {
    let Some(mut m) = net.pool.alloc() else {
        return Ok(());
    }; // like a loss: timers recover
    let mut opts = [0u8; 40];
    let optlen = if fl & flags::SYN != 0 {
        let ts = tcb.cfg.timestamps.then(|| (tcb.ts_now(now), 0));
        let ws = tcb.cfg.window_scaling.then_some(tcb.rcv_wscale);
        let mut w = OptionWriter::new(&mut opts);
        // The buffer is 40 bytes and SYN options take at most 20: these cannot fail.
        let _ = w.syn(tcb.cfg.mss, tcb.cfg.sack, ts, ws);
        w.finish()
    } else if tcb.ts_on {
        TS_OPTS
    } else {
        0
    };
    let thl = TCP_HDR + optlen;
    let Some(h) = m.prepend(thl) else {
        return Ok(());
    };
    write_header(tcb, h, seq, fl, now);
    if fl & flags::SYN != 0 {
        h[TCP_HDR..thl].copy_from_slice(&opts[..optlen]);
    }
    let offl = net.offloads;
    finish_checksum(h, tcb.local_ip, tcb.remote_ip, thl, 0, offl.tx_tcp_cksum);
    tcb.ip_id = tcb.ip_id.wrapping_add(1);
    if !ip::push_header(
        &mut m,
        tcb.local_ip,
        tcb.remote_ip,
        tcb.ip_id,
        ip::DEFAULT_TTL,
        &offl,
        thl as u8,
        offl.tx_tcp_cksum,
    ) {
        return Ok(());
    }
    let pool = net.pool.clone();
    net.neigh
        .output(tcb.neigh, m, now, &mut net.dev, &pool)
        .map_err(|_| TcpError::HostUnreachable)?;
    tcb.counters.segs_out += 1;
    if fl & flags::ACK != 0 {
        tcb.ack_now = false;
        tcb.delack_at = None;
        tcb.segs_unacked = 0;
    }
    Ok(())
}

/// A pure ACK for the current receive state.
pub fn send_ack<D: Device>(tcb: &mut Tcb, net: &mut NetCtx<D>, now: Nanos) {
    let seq = tcb.snd_nxt;
    let _ = send_control(tcb, net, flags::ACK, seq, now);
}

/// Stateless RST in reply to a segment that matches no connection (RFC 9293 §3.10.7.1).
// The arguments are the fields of the segment being answered.
#[allow(clippy::too_many_arguments)]
pub fn send_reset_reply<D: Device>(
    net: &mut NetCtx<D>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seg_seq: u32,
    seg_ack: u32,
    seg_flags: u8,
    seg_len: u32,
    now: Nanos,
) {
    let Some(hop) = net.routes.lookup(dst) else {
        return;
    };
    let Ok(nidx) = net.neigh.lookup_or_create(hop.addr, now) else {
        return;
    };
    let Some(mut m) = net.pool.alloc() else {
        return;
    };
    let Some(h) = m.prepend(TCP_HDR) else { return };
    let (seq, ack, fl) = if seg_flags & flags::ACK != 0 {
        (seg_ack, 0, flags::RST)
    } else {
        let syn_fin = (seg_flags & (flags::SYN | flags::FIN)).count_ones();
        (
            0,
            seg_seq.wrapping_add(seg_len).wrapping_add(syn_fin),
            flags::RST | flags::ACK,
        )
    };
    h[0..2].copy_from_slice(&sport.to_be_bytes());
    h[2..4].copy_from_slice(&dport.to_be_bytes());
    h[4..8].copy_from_slice(&seq.to_be_bytes());
    h[8..12].copy_from_slice(&ack.to_be_bytes());
    h[12] = 5 << 4;
    h[13] = fl;
    h[14..20].fill(0);
    finish_checksum(h, src, dst, TCP_HDR, 0, false);
    let offl = crate::dpdk::Offloads::default();
    if ip::push_header(
        &mut m,
        src,
        dst,
        0,
        ip::DEFAULT_TTL,
        &offl,
        TCP_HDR as u8,
        false,
    ) {
        let pool = net.pool.clone();
        if net.neigh.output(nidx, m, now, &mut net.dev, &pool).is_ok() {
            net.drops.rst_sent += 1;
        }
    }
}

/// Copies `data` into the write queue (`tcp_sendmsg`): into the tail segment up to the size
/// goal, then into new mbufs. Returns the bytes taken; stops at the send-buffer limit or when
/// the pool is empty.
pub fn copy_to_queue<D: Device>(tcb: &mut Tcb, net: &mut NetCtx<D>, data: &[u8]) -> usize {
    let goal = tcb.mss as usize;
    let mut done = 0;
    while done < data.len() {
        let room = tcb.cfg.sndbuf.saturating_sub(tcb.queued_bytes()) as usize;
        if room == 0 {
            break;
        }
        let can_append = tcb.unsent < tcb.queue.len()
            && tcb
                .queue
                .back()
                .is_some_and(|s| !s.fin && (s.len as usize) < goal && s.hdr == 0);
        if !can_append {
            // Keep mbufs back for RX and control frames: a send buffer that drained the pool
            // would starve the ACKs that free it (deadlock instead of backpressure).
            if !net.may_take_send_mbuf() {
                tcb.counters.alloc_failures += 1;
                break;
            }
            let Some(m) = net.pool.alloc() else {
                tcb.counters.alloc_failures += 1;
                break;
            };
            tcb.queue.push_back(super::Seg {
                mbuf: m,
                seq: tcb.write_seq,
                len: 0,
                hdr: 0,
                csum: 0,
                fin: false,
                sent_at: 0,
                retrans: 0,
                sacked: false,
                lost: false,
                rexmit: false,
            });
        }
        let Some(seg) = tcb.queue.back_mut() else {
            break;
        };
        let n = (goal - seg.len as usize)
            .min(data.len() - done)
            .min(room)
            .min(seg.mbuf.tailroom());
        if n == 0 {
            break;
        }
        let chunk = &data[done..done + n];
        let Some(dst) = seg.mbuf.append(n) else { break };
        dst.copy_from_slice(chunk);
        let mut s = checksum::sum(chunk, 0);
        if seg.len & 1 == 1 {
            // A piece starting at an odd offset contributes its bytes swapped (RFC 1071 §2(B)).
            s = (s as u16).swap_bytes() as u32;
        }
        seg.csum = csum_add(seg.csum, s);
        seg.len += n as u32;
        tcb.write_seq = tcb.write_seq.wrapping_add(n as u32);
        done += n;
    }
    done
}

/// Runs whichever of the connection's timers are due (`tcp_write_timer`, `tcp_delack_timer`,
/// `tcp_probe_timer`, TIME-WAIT).
pub fn on_timers<D: Device>(tcb: &mut Tcb, net: &mut NetCtx<D>, now: Nanos) {
    if tcb.rto_at.is_some_and(|t| t <= now) {
        tcb.rto_at = None;
        retransmit_timer(tcb, net, now);
    }
    if tcb.delack_at.is_some_and(|t| t <= now) {
        tcb.delack_at = None;
        if tcb.state != State::Closed {
            send_ack(tcb, net, now);
        }
    }
    if tcb.persist_at.is_some_and(|t| t <= now) {
        tcb.persist_at = None;
        probe_timer(tcb, net, now);
    }
    if tcb.reo_at.is_some_and(|t| t <= now) {
        tcb.reo_at = None;
        super::rack::on_reo_timer(tcb, net, now);
    }
    if tcb.tlp_at.is_some_and(|t| t <= now) {
        tcb.tlp_at = None;
        super::rack::on_tlp_timer(tcb, net, now);
    }
    if tcb.pace_at.is_some_and(|t| t <= now) {
        // The pacing gate reopened; the caller (`Stack::after_event`) runs `write_xmit`.
        tcb.pace_at = None;
    }
    if tcb.close_at.is_some_and(|t| t <= now) {
        tcb.close_at = None;
        if matches!(tcb.state, State::TimeWait | State::FinWait2) {
            super::input::end(tcb);
        }
    }
}

/// RTO expiry (RFC 6298 §5.4–5.7, RFC 5681 §3.1 eq. 4): back off, collapse cwnd to one
/// segment, and go back to the first unacknowledged segment.
fn retransmit_timer<D: Device>(tcb: &mut Tcb, net: &mut NetCtx<D>, now: Nanos) {
    if net.neigh.is_failed(tcb.neigh) {
        super::input::fail(tcb, TcpError::HostUnreachable);
        return;
    }
    if tcb.state == State::SynSent {
        if tcb.retries >= tcb.cfg.syn_retries {
            super::input::fail(tcb, TcpError::TimedOut);
            return;
        }
        tcb.retries += 1;
        tcb.rtt.back_off();
        tcb.counters.rtos += 1;
        let iss = tcb.iss;
        if let Err(e) = send_control(tcb, net, flags::SYN, iss, now) {
            super::input::fail(tcb, e);
            return;
        }
        tcb.rto_at = Some(now + tcb.rtt.current());
        return;
    }
    if tcb.snd_una == tcb.snd_max {
        return; // nothing outstanding
    }
    if tcb.retries >= tcb.cfg.retries {
        super::input::fail(tcb, TcpError::TimedOut);
        return;
    }
    if tcb.retries == 0 {
        // Only the first timeout of an episode sets ssthresh (RFC 5681 §3.1 note); it also
        // opens an undo episode (RFC 3708, RFC 4015) and records our timestamp for Eifel
        // detection (RFC 3522 §3.2). A timeout in fast recovery keeps that episode's undo
        // state (the window to restore is the one from before fast recovery).
        if !(tcb.in_recovery && tcb.sb.undo_active) {
            super::sack::start_episode(tcb);
        }
        let flight = tcb.snd_max.wrapping_sub(tcb.snd_una);
        tcb.ccs.ssthresh =
            super::cc::CongestionControl::ssthresh_after_loss(&mut tcb.cc, &tcb.ccs, flight);
        tcb.sb.rto_tsval = tcb.ts_on.then(|| tcb.ts_now(now));
        tcb.sb.rto_una = tcb.snd_una;
    }
    super::cc::CongestionControl::on_rto(&mut tcb.cc, &tcb.ccs);
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
    super::sack::on_rto(tcb);
    super::sack::xmit_lost(tcb, net, now);
    tcb.rto_at = Some(now + tcb.rtt.current());
}

/// Zero-window probe (RFC 9293 §3.8.6.1): an ACK with an old sequence number makes the peer
/// answer with its current window.
fn probe_timer<D: Device>(tcb: &mut Tcb, net: &mut NetCtx<D>, now: Nanos) {
    let blocked = tcb.unsent < tcb.queue.len() && tcb.in_flight() == 0;
    if !blocked
        || !tcb.state.can_send()
            && !matches!(tcb.state, State::FinWait1 | State::LastAck | State::Closing)
    {
        return;
    }
    let seq = tcb.snd_una.wrapping_sub(1);
    let _ = send_control(tcb, net, flags::ACK, seq, now);
    tcb.counters.zero_window_probes += 1;
    tcb.persist_backoff = tcb.persist_backoff.saturating_add(1).min(20);
    let t = tcb
        .rtt
        .rto
        .saturating_mul(1 << tcb.persist_backoff.min(10))
        .min(tcb.cfg.max_rto);
    tcb.persist_at = Some(now + t);
}
