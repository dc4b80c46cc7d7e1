//! `tcp_output.c`: which queued segments may go now (`tcp_write_xmit`), putting the TCP
//! header in front of one and handing the IP layer a reference to it (`tcp_transmit_skb`),
//! resending what the scoreboard marked lost (`tcp_xmit_retransmit_queue`) and control
//! segments; `tcp::probe` sends its probes through `transmit_skb`. `tcp::sendmsg` fills the
//! write queue it sends from, cut to the send MSS that `tcp::wnd` sets.
use super::header::{finish_checksum, ts_option_sum, write_ts_option, TcpHdr};
use super::rack;
use super::sendmsg::{fragment, materialize};
use super::{scoreboard, seq_gt, seq_lt, wnd, Payload, Seg, State, Tcb, TcpError};
use super::{WAIT_DEV, WAIT_NEIGH};
use crate::ip::{IpLayer, Unit, XmitError, L4, MAX_UNIT_SEGS};
use crate::region::Regions;
use linerate_dpdk::Device;
use linerate_proto::timer::{Deadline, Nanos};
use linerate_proto::wire::checksum;
use linerate_proto::wire::tcp::{flags, OptionWriter};
use linerate_proto::wire::{ETH_HEADER_LEN, IPV4_HEADER_LEN, TCP_HEADER_LEN, TCP_TS_OPTIONS_LEN};
use std::mem::ManuallyDrop;

/// Headroom every data mbuf needs: Ethernet + IPv4 + TCP with the largest options.
const MAX_HEADER: usize = ETH_HEADER_LEN + IPV4_HEADER_LEN + TCP_HEADER_LEN + 40;
// Headers are prepended into the mbuf's headroom, never moved: it must hold them all.
const _: () = assert!(MAX_HEADER <= linerate_dpdk::MBUF_HEADROOM as usize);

/// States in which queued data and FIN may be (re)sent.
#[inline]
fn may_send(state: State) -> bool {
    matches!(
        state,
        State::Established | State::CloseWait | State::FinWait1 | State::Closing | State::LastAck
    )
}

/// `tcp_write_xmit`: sends queued segments while the congestion window, the peer's receive
/// window, Nagle and the device allow, in pieces of the send MSS (`wnd::send_mss`).
pub(crate) fn write_xmit<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, now: Nanos) {
    if !may_send(tcb.state) {
        return;
    }
    if tcb.fin_wanted && !tcb.fin_queued {
        queue_fin(tcb, ip);
    }
    tcb.waits &= !(WAIT_DEV | WAIT_NEIGH);
    if tcb.unsent >= tcb.queue.len() && tcb.pend.len == 0 {
        return;
    }
    ip.dst_check(&mut tcb.dst, now);
    if !ip.dst_ready(&tcb.dst, now) {
        // Data waits on the write queue (not copied into the neighbour's queue) until the
        // reply comes; the stack calls us again then.
        tcb.waits |= WAIT_NEIGH;
        return;
    }
    let pacing = tcb.cfg.pacing;
    if pacing && tcb.pace_at.is_some_and(|t| t > now) {
        // The gate is closed and its timer armed: an ACK meanwhile need not try the queue
        // (`tcp_pacing_check`); with many connections that try was a quarter of the core.
        return;
    }
    tcb.cwnd_limited = false;
    // Pacing (tcp::pacing): refresh the rate from cwnd/srtt and accrue tokens.
    if pacing {
        let rate = linerate_proto::pacing::rate(&tcb.ccs, tcb.in_flight(), tcb.rtt.srtt_us);
        tcb.pacer.update(now, rate, tcb.mss);
    }
    tcb.pace_at = Deadline::NONE;
    while tcb.unsent < tcb.queue.len() || tcb.pend.len > 0 {
        if !ip.has_room() {
            tcb.waits |= WAIT_DEV;
            break;
        }
        if tcb.pend.len > 0 {
            // Cut what the window lets leave now, at most a unit, less what is cut and
            // unsent already (one segment at least when none is, for the checks below
            // to stop on): a unit never ends early at a cut.
            let room = tcb.ccs.cwnd.saturating_sub(tcb.pipe()).min(MAX_UNIT_BYTES);
            let ready = tcb
                .write_seq
                .wrapping_sub(tcb.snd_nxt)
                .saturating_sub(tcb.pend.len);
            if ready == 0 || ready < room {
                materialize(tcb, ip, room.saturating_sub(ready));
            }
        }
        // A peer with small windows bounds the send MSS below the size segments were cut to:
        // the next one leaves in a piece that fits (`tso_fragment` in `tcp_write_xmit`).
        let mss = wnd::send_mss(tcb);
        if mss < tcb.mss {
            if let Some(&Seg { seq, len, .. }) = tcb.queue.get(tcb.unsent) {
                if len > mss && wnd::snd_wnd_test(tcb, seq, len, mss) {
                    fragment(tcb, ip, tcb.unsent, mss);
                }
            }
        }
        let k = sendable_segs(tcb, mss, now);
        if k == 0 {
            break;
        }
        let first = tcb.unsent;
        let sent = if k == 1 {
            transmit_skb(tcb, first, ip, now) as usize
        } else {
            transmit_unit(tcb, first, k, ip, now)
        };
        let bytes = events_new_data_sent(tcb, sent);
        if pacing {
            tcb.pacer.on_sent(bytes);
        }
        if sent > 0 && tcb.rto_at.is_none() {
            tcb.rto_at = Deadline::at(now + tcb.rtt.current());
        }
        if sent < k {
            // The device or a region's frame pool is full (or a copied segment is still in
            // the NIC's ring): the stack runs us again once it drains.
            tcb.waits |= WAIT_DEV;
            break;
        }
    }
}

/// Most payload bytes in one TSO unit: what fits an IPv4 total length under the largest
/// TCP header (the kernel's `GSO_LEGACY_MAX_SIZE` less headers).
const MAX_UNIT_BYTES: u32 = 65_535 - IPV4_HEADER_LEN as u32 - 60;

/// How many segments from `unsent` may leave now as one unit (0: none): the congestion
/// window against RFC 6675's pipe, the peer's receive window, Nagle (against the send MSS
/// `mss`) and the pacing gate, each applied to every segment in turn exactly as if they
/// left one by one (`tcp_write_xmit`'s checks with `tcp_tso_segs`' grouping). Only
/// zero-copy segments that are new data, back to back in one region and of the full MSS
/// but for the last, group (what one TSO frame can carry); any other segment goes alone. Sets the reason it stopped
/// (`cwnd_limited`, the persist timer, `pace_at`) when the first segment may not go.
fn sendable_segs(tcb: &mut Tcb, mss: u32, now: Nanos) -> usize {
    let first = tcb.unsent;
    let (pipe0, flight0) = (tcb.pipe(), tcb.in_flight());
    let wnd_end = tcb.snd_una.wrapping_add(tcb.snd_wnd);
    let (cwnd, nodelay, pacing) = (tcb.ccs.cwnd, tcb.cfg.nodelay, tcb.cfg.pacing);
    let qlen = tcb.queue.len();
    let (mut k, mut total) = (0usize, 0u32);
    // Where the previous segment's payload ends, if the next one may join its unit.
    let mut joins_at: Option<(u16, u32, u16)> = None;
    let mut stop = None;
    // One pass over the deque's range (indexing a VecDeque per segment re-wraps each time).
    for s in tcb.queue.range(first..) {
        let (seq, len, fin) = (s.seq, s.len, s.fin);
        if k > 0 {
            let joins = match s.data {
                Payload::Region {
                    region,
                    off,
                    ticket,
                } => joins_at == Some((region, off, ticket)),
                Payload::Copied(_) => false,
            };
            if !joins || total + len > MAX_UNIT_BYTES || k == MAX_UNIT_SEGS {
                break;
            }
        }
        // Congestion window (RFC 5681) against RFC 6675's pipe (in flight less SACKed and
        // lost bytes): always allow one segment when nothing is in the network.
        let pipe = pipe0 + total;
        if pipe > 0 && pipe.saturating_add(len) > cwnd {
            stop = Some(Stop::Cwnd);
            break;
        }
        // Receive window (RFC 9293 §3.8.6): the whole segment must fit.
        if seq_gt(seq.wrapping_add(len), wnd_end) {
            stop = Some(Stop::Rwnd);
            break;
        }
        // Nagle (RFC 896): hold a short segment while data is unacknowledged.
        let flight = flight0 + total;
        let last = first + k + 1 == qlen;
        if len < mss && !fin && !nodelay && flight > 0 && last {
            break;
        }
        if pacing && !tcb.pacer.may_send(total + len) {
            stop = Some(Stop::Pacing(len, flight));
            break;
        }
        total += len;
        k += 1;
        // Only zero-copy segments of new data, full-sized but the last, group (what one TSO
        // frame can carry).
        joins_at = match s.data {
            Payload::Region {
                region,
                off,
                ticket,
            } if !fin && len == tcb.mss && !seq_lt(seq, tcb.snd_max) => {
                Some((region, off + len, ticket))
            }
            _ => None,
        };
        if joins_at.is_none() {
            break;
        }
    }
    match stop {
        Some(Stop::Cwnd) => tcb.cwnd_limited = true,
        Some(Stop::Rwnd) if k == 0 && flight0 == 0 && tcb.persist_at.is_none() => {
            // Zero (or too small) window with nothing in flight: probe it (§3.8.6.1).
            tcb.persist_at = Deadline::at(now + tcb.rtt.current());
        }
        // Pacing gate: when it closes, the timer wheel wakes us at `pace_at`. In slow start
        // the window may double within an RTT while the gate spreads it, so a sender using
        // half of it or more still counts as window-limited (RFC 7661 §4.3's rationale).
        Some(Stop::Pacing(len, flight)) if k == 0 => {
            tcb.pacer.held_back();
            tcb.pace_at = Deadline::at(now + tcb.pacer.wait(len).max(1));
            if tcb.ccs.in_slow_start() && 2 * flight as u64 >= tcb.ccs.cwnd as u64 {
                tcb.cwnd_limited = true;
            }
        }
        _ => {}
    }
    k
}

/// Why `sendable_segs` stopped before the end of the queue.
enum Stop {
    Cwnd,
    Rwnd,
    /// The pacing gate, at a segment of this length with this much in flight.
    Pacing(u32, u32),
}

/// `tcp_transmit_skb` for a TSO unit: the `k` zero-copy segments from `first` under one
/// TCP header, handed to the IP layer as one unit (`IpLayer::queue_xmit_unit`), which sends
/// it as a hardware TSO frame or cuts it in software. Every segment is marked sent exactly
/// as `transmit_skb` marks one. Returns how many segments left, from the front.
fn transmit_unit<D: Device>(
    tcb: &mut Tcb,
    first: usize,
    k: usize,
    ip: &mut IpLayer<D>,
    now: Nanos,
) -> usize {
    let Payload::Region {
        region,
        off,
        ticket,
    } = tcb.queue[first].data
    else {
        return 0;
    };
    let thl = if tcb.ts_on {
        TCP_HEADER_LEN + TCP_TS_OPTIONS_LEN
    } else {
        TCP_HEADER_LEN
    };
    let (mut lens, mut sums) = ([0u32; MAX_UNIT_SEGS], [0u32; MAX_UNIT_SEGS]);
    for (i, s) in tcb.queue.range(first..first + k).enumerate() {
        (lens[i], sums[i]) = (s.len, s.csum);
    }
    let seq = tcb.queue[first].seq;
    let end = &tcb.queue[first + k - 1];
    let mut last_flags = 0;
    if end.fin {
        last_flags |= flags::FIN;
    }
    if first + k == tcb.queue.len() && end.len > 0 && tcb.pend.len == 0 {
        last_flags |= flags::PSH;
    }
    let mut hdr = [0u8; TCP_HEADER_LEN + TCP_TS_OPTIONS_LEN];
    let hsum = write_header(tcb, &mut hdr[..thl], seq, flags::ACK, now);
    let unit = Unit {
        tcp: &hdr[..thl],
        // The sum without the sequence number: each segment adds its own.
        tcp_sum: hsum - ((seq >> 16) + (seq & 0xffff)),
        seq,
        last_flags,
        region,
        ticket,
        off,
        lens: &lens[..k],
        sums: &sums[..k],
        mss: tcb.mss.min(u16::MAX as u32) as u16,
        csum_offloaded: ip.tcp_csum_offload(),
    };
    let n = ip.queue_xmit_unit(&mut tcb.dst, &unit);
    // New data only: what `scoreboard::on_transmit` does for it is PRR's count.
    let mut bytes = 0u64;
    for s in tcb.queue.range_mut(first..first + n) {
        s.sent_at = now;
        bytes += s.len as u64;
    }
    if tcb.in_recovery {
        tcb.sb.prr_out = tcb.sb.prr_out.saturating_add(bytes as u32);
    }
    let c = &mut tcb.counters;
    c.segs_out += n as u64;
    c.data_segs_out += n as u64;
    c.bytes_sent += bytes;
    if n > 0 {
        // RFC 8985 §7.2: (re)arm the tail loss probe after new data.
        let extra = tcb.queue[first + n - 1].end().wrapping_sub(tcb.snd_max);
        rack::schedule_tlp(tcb, now, extra);
        tcb.ack_now = false;
        tcb.delack_at = Deadline::NONE;
        tcb.segs_unacked = 0;
    }
    n
}

/// The segment at `unsent` left for the first time (`tcp_event_new_data_sent`).
#[inline]
pub(crate) fn event_new_data_sent(tcb: &mut Tcb) {
    events_new_data_sent(tcb, 1);
}

/// The `n` segments from `unsent` left for the first time; returns their payload bytes.
#[inline]
fn events_new_data_sent(tcb: &mut Tcb, n: usize) -> u32 {
    if n == 0 {
        return 0;
    }
    let first = tcb.unsent;
    let (s0, end) = (tcb.queue[first].seq, tcb.queue[first + n - 1].end());
    // Payload bytes: the span less a FIN's one (only the last can carry it).
    let bytes = end.wrapping_sub(s0) - tcb.queue[first + n - 1].fin as u32;
    tcb.snd_nxt = end;
    if seq_gt(end, tcb.snd_max) {
        tcb.snd_max = end;
    }
    tcb.unsent += n;
    bytes
}

/// Puts FIN on the last unsent segment, or on a new empty one.
fn queue_fin<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>) {
    materialize(tcb, ip, u32::MAX);
    if tcb.unsent < tcb.queue.len() {
        if let Some(last) = tcb.queue.back_mut() {
            last.fin = true;
            tcb.fin_queued = true;
            tcb.write_seq = tcb.write_seq.wrapping_add(1);
            return;
        }
    }
    let Some(m) = ip.alloc() else { return }; // retried on the next call
    tcb.queue.push_back(Seg::new(
        Payload::Copied(ManuallyDrop::new(m)),
        tcb.write_seq,
        true,
    ));
    tcb.copied_segs += 1;
    tcb.write_seq = tcb.write_seq.wrapping_add(1);
    tcb.fin_queued = true;
}

/// Writes our TCP header for `seq`/`fl` into `h` (which is the header's length, options
/// included), with the timestamps option when on (a SYN's options are the caller's).
/// Returns the word sum of what it wrote, for the checksum.
#[inline]
fn write_header(tcb: &Tcb, h: &mut [u8], seq: u32, fl: u8, now: Nanos) -> u32 {
    let ack = if fl & flags::ACK != 0 { tcb.rcv_nxt } else { 0 };
    let wnd = if fl & flags::SYN != 0 {
        tcb.rcv_wnd().min(0xffff)
    } else {
        (tcb.rcv_wnd() >> tcb.rcv_wscale).min(0xffff)
    };
    let th = TcpHdr {
        src_port: tcb.local_port,
        dst_port: tcb.remote_port,
        seq,
        ack,
        flags: fl,
        window: wnd as u16,
    };
    th.write(h);
    let mut sum = th.sum(h.len());
    if h.len() > TCP_HEADER_LEN && fl & flags::SYN == 0 {
        let (tsval, tsecr) = (tcb.ts_now(now), tcb.ts_recent);
        write_ts_option(&mut h[TCP_HEADER_LEN..], tsval, tsecr);
        sum += ts_option_sum(tsval, tsecr);
    }
    sum
}

/// `tcp_transmit_skb`: (re)builds the headers of queue entry `idx` in its headroom and hands
/// the NIC a reference, keeping the original on the queue. False when the previous
/// transmission of this segment is still in the device's queue (the kernel's
/// `skb_still_in_host_queue`) or the device is full.
pub(crate) fn transmit_skb<D: Device>(
    tcb: &mut Tcb,
    idx: usize,
    ip: &mut IpLayer<D>,
    now: Nanos,
) -> bool {
    let thl = if tcb.ts_on {
        TCP_HEADER_LEN + TCP_TS_OPTIONS_LEN
    } else {
        TCP_HEADER_LEN
    };
    let last = idx + 1 == tcb.queue.len() && tcb.pend.len == 0;
    let offload = ip.tcp_csum_offload();
    if seq_lt(tcb.queue[idx].seq, tcb.snd_una) && !trim_head(tcb, idx, &mut ip.regions, offload) {
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
    let mut hdr = [0u8; TCP_HEADER_LEN + TCP_TS_OPTIONS_LEN];
    let hsum = write_header(tcb, &mut hdr[..thl], seq, fl, now);
    let (src, dst) = (tcb.local_ip, tcb.remote_ip);
    let tcp_len = thl + len as usize;
    finish_checksum(&mut hdr[..thl], src, dst, tcp_len, hsum, psum, offload);
    let l4 = L4 {
        hdr_len: thl as u8,
        csum_offloaded: offload,
    };
    let seg = &mut tcb.queue[idx];
    match seg.data {
        Payload::Copied(ref mut m) => {
            // A frame the NIC still holds is never written (the kernel's
            // skb_still_in_host_queue).
            if !m.is_unique() || !ip.has_room() {
                return false;
            }
            if seg.hdr > 0 {
                m.adj(seg.hdr as usize);
                seg.hdr = 0;
            }
            let Some(h) = m.prepend(thl) else {
                return false;
            };
            h.copy_from_slice(&hdr[..thl]);
            // The IP layer hands the NIC a reference; the original stays for retransmission.
            if ip.queue_xmit_ref(m, &mut tcb.dst, l4).is_err() {
                m.adj(thl); // the segment stays a clean payload
                return false;
            }
            seg.hdr = (m.len() - len as usize) as u16;
        }
        Payload::Region {
            region,
            off,
            ticket,
        } => {
            // A header mbuf chained to a view of the region: the queue keeps no mbuf.
            if !ip.has_room() {
                return false;
            }
            let Some(mut m) = ip.alloc_region_frame((region, ticket), off, len) else {
                tcb.counters.alloc_failures += 1;
                return false;
            };
            let Some(h) = m.prepend(thl) else {
                return false;
            };
            h.copy_from_slice(&hdr[..thl]);
            if ip.queue_xmit(m, &mut tcb.dst, None, l4, now).is_err() {
                return false;
            }
        }
    }
    let retrans = seq_lt(seq, tcb.snd_max);
    // Only a frame the device took counts as sent (RACK's xmit_ts, RFC 8985 §6.1).
    seg.sent_at = now;
    if retrans {
        if seg.retrans == 0 {
            tcb.sb.rexmitted_segs += 1;
        }
        seg.retrans = seg.retrans.saturating_add(1);
    }
    scoreboard::on_transmit(tcb, idx, retrans, len, now);
    if !retrans {
        // RFC 8985 §7.2: (re)arm the tail loss probe after new data.
        let extra = tcb.queue[idx].end().wrapping_sub(tcb.snd_max);
        rack::schedule_tlp(tcb, now, extra);
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
    tcb.delack_at = Deadline::NONE;
    tcb.segs_unacked = 0;
    true
}

/// `tcp_xmit_retransmit_queue`: resends segments marked lost, lowest first, while the
/// window allows (RFC 6675 §5 NextSeg rule 1), in fast recovery and RTO recovery alike.
pub(crate) fn xmit_retransmit_queue<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, now: Nanos) {
    if tcb.sb.lost_out == 0 || !may_send(tcb.state) {
        return;
    }
    let mut i = 0;
    while i < tcb.unsent.min(tcb.queue.len()) {
        let g = &tcb.queue[i];
        if g.lost && !g.rexmit && !g.sacked {
            let pipe = tcb.pipe();
            if pipe > 0 && pipe.saturating_add(g.slen()) > tcb.ccs.cwnd {
                tcb.cwnd_limited = true;
                break;
            }
            if !transmit_skb(tcb, i, ip, now) {
                break;
            }
            if tcb.in_recovery {
                tcb.counters.fast_retrans += 1;
            }
            if tcb.rto_at.is_none() {
                tcb.rto_at = Deadline::at(now + tcb.rtt.current());
            }
        }
        i += 1;
    }
}

/// `tcp_trim_head`: drops the acknowledged front of a partly acknowledged segment before it
/// is retransmitted, so the retransmission starts at `snd_una` (a receiver may reject a
/// segment that begins below its window even when its FIN is new). Recomputes the payload's
/// partial checksum unless the NIC does checksums. False while the NIC still holds the
/// previous transmission.
fn trim_head(tcb: &mut Tcb, idx: usize, regions: &mut Regions, csum_offload: bool) -> bool {
    let una = tcb.snd_una;
    let seg = &mut tcb.queue[idx];
    let cut = una.wrapping_sub(seg.seq).min(seg.len);
    if cut == 0 {
        return true;
    }
    match seg.data {
        Payload::Copied(ref mut m) => {
            if !m.is_unique() {
                return false;
            }
            if seg.hdr > 0 {
                m.adj(seg.hdr as usize);
                seg.hdr = 0;
            }
            if !m.adj(cut as usize) {
                return false;
            }
        }
        Payload::Region { ref mut off, .. } => *off += cut,
    }
    scoreboard::on_trim(tcb, idx, cut);
    let seg = &mut tcb.queue[idx];
    seg.seq = seg.seq.wrapping_add(cut);
    seg.len -= cut;
    if !csum_offload {
        seg.csum = match seg.data {
            Payload::Copied(ref m) => checksum::sum(m.data(), 0),
            Payload::Region { region, off, .. } => regions.sum(region, off, seg.len),
        };
    }
    true
}

/// Sends the SYN (again) and arms the retransmission timer; fails the connection if it cannot.
pub(crate) fn send_syn<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, now: Nanos) {
    let iss = tcb.iss;
    match send_control(tcb, ip, flags::SYN, iss, now) {
        Ok(()) => tcb.rto_at = Deadline::at(now + tcb.rtt.current()),
        Err(e) => tcb.fail(e),
    }
}

/// Sends a segment without payload in its own mbuf: SYN, pure ACK, RST, window probe.
pub(crate) fn send_control<D: Device>(
    tcb: &mut Tcb,
    ip: &mut IpLayer<D>,
    fl: u8,
    seq: u32,
    now: Nanos,
) -> Result<(), TcpError> {
    let Some(mut m) = ip.alloc() else {
        return Ok(()); // like a loss: timers recover
    };
    let mut opts = [0u8; 40];
    let optlen = if fl & flags::SYN != 0 {
        let ts = tcb.cfg.timestamps.then(|| (tcb.ts_now(now), 0));
        let ws = tcb.cfg.window_scaling.then_some(tcb.rcv_wscale);
        let mut w = OptionWriter::new(&mut opts);
        // The buffer is 40 bytes and SYN options take at most 20: these cannot fail.
        let _ = w.syn(tcb.cfg.mss, tcb.cfg.sack, ts, ws);
        w.finish()
    } else if tcb.ts_on {
        TCP_TS_OPTIONS_LEN
    } else {
        0
    };
    let thl = TCP_HEADER_LEN + optlen;
    let Some(h) = m.prepend(thl) else {
        return Ok(());
    };
    let mut hsum = write_header(tcb, h, seq, fl, now);
    if fl & flags::SYN != 0 {
        h[TCP_HEADER_LEN..thl].copy_from_slice(&opts[..optlen]);
        hsum += checksum::sum(&opts[..optlen], 0); // rare: summing the bytes is fine
    }
    let offload = ip.tcp_csum_offload();
    finish_checksum(h, tcb.local_ip, tcb.remote_ip, thl, hsum, 0, offload);
    let l4 = L4 {
        hdr_len: thl as u8,
        csum_offloaded: offload,
    };
    match ip.queue_xmit(m, &mut tcb.dst, None, l4, now) {
        Ok(()) => {}
        Err(XmitError::Busy) => return Ok(()),
        Err(XmitError::Unreachable) => return Err(TcpError::HostUnreachable),
    }
    tcb.counters.segs_out += 1;
    if fl & flags::ACK != 0 {
        tcb.ack_now = false;
        tcb.delack_at = Deadline::NONE;
        tcb.segs_unacked = 0;
    }
    Ok(())
}

/// A pure ACK for the current receive state (`tcp_send_ack`).
pub(crate) fn send_ack<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, now: Nanos) {
    let seq = tcb.snd_nxt;
    let _ = send_control(tcb, ip, flags::ACK, seq, now);
}
