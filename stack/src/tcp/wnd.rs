//! The peer's receive window as the sender sees it: the sender side of silly-window
//! avoidance (RFC 9293 §3.8.6.2.1) the way Linux does it. The segment size is bounded by
//! the largest window the peer has offered (`tcp_bound_to_half_wnd`), so a peer that only
//! ever offers small windows gets segments that fit them; a segment is sent only when its
//! first such piece fits the window (`tcp_snd_wnd_test`); and a window too small for that
//! is left to the persist timer, whose probe carries what fits (`tcp::probe`). Decisions
//! only: `tcp::output` and `tcp::probe` send.
use super::{seq_gt, Tcb};
use linerate_proto::wire::{TCP_HEADER_LEN, TCP_TS_OPTIONS_LEN};

/// Linux's `TCP_MSS_DEFAULT` (RFC 9293's default MSS, 536).
const MSS_DEFAULT: u32 = 536;

/// `tcp_bound_to_half_wnd`: a segment of `pktsize` bytes against a peer whose largest
/// window was `max_window`. Half that window once it is above the default MSS, so that two
/// segments are in flight and the window is used in halves (RFC 9293's Fs = 1/2); the whole
/// window below that, where halving buys nothing; never under 68 bytes of IPv4 less the
/// TCP header of `hdr_len` (a minimum-MTU segment).
pub(crate) fn bound_to_half_wnd(max_window: u32, pktsize: u32, hdr_len: u32) -> u32 {
    let cutoff = if max_window > MSS_DEFAULT {
        max_window >> 1
    } else {
        max_window
    };
    if cutoff > 0 && pktsize > cutoff {
        cutoff.max(68 - hdr_len)
    } else {
        pktsize
    }
}

/// The send MSS (Linux's `mss_cache` after `tcp_sync_mss`): the peer's MSS, bounded by its
/// largest window. The size goal new segments are cut to and the size output sends in.
#[inline]
pub(crate) fn send_mss(tcb: &Tcb) -> u32 {
    let hdr = TCP_HEADER_LEN as u32
        + if tcb.ts_on {
            TCP_TS_OPTIONS_LEN as u32
        } else {
            0
        };
    bound_to_half_wnd(tcb.max_window, tcb.mss, hdr).min(tcb.mss)
}

/// `tcp_snd_wnd_test`: whether the first `mss` bytes (all of them when fewer) of a segment
/// of `len` at `seq` fit in the peer's window.
#[inline]
pub(crate) fn snd_wnd_test(tcb: &Tcb, seq: u32, len: u32, mss: u32) -> bool {
    let end = seq.wrapping_add(len.min(mss));
    !seq_gt(end, tcb.snd_una.wrapping_add(tcb.snd_wnd))
}

/// The first byte not yet sent and how many follow it in that segment, cut already or still
/// pending (Linux's `tcp_send_head`); `None` when nothing waits.
pub(crate) fn send_head(tcb: &Tcb) -> Option<(u32, u32)> {
    if let Some(s) = tcb.queue.get(tcb.unsent) {
        return Some((s.seq, s.len));
    }
    (tcb.pend.len > 0).then(|| (tcb.write_seq.wrapping_sub(tcb.pend.len), tcb.pend.len))
}

/// `tcp_ack_probe`: whether the window now takes the segment that waits, so that output
/// will send it: only then is the persist timer done and its backoff over. A window that
/// opened too little to send into leaves both, for the probe to use.
pub(crate) fn window_opened(tcb: &Tcb) -> bool {
    send_head(tcb).is_none_or(|(seq, len)| snd_wnd_test(tcb, seq, len, send_mss(tcb)))
}

/// What a persist-timer probe (`tcp_write_wakeup`) carries: `Some(n)`, the first `n` bytes
/// at the send head (as many as the window has room for, at most a send MSS: the override
/// of RFC 9293 §3.8.6.2.1 for a window too small to send into otherwise); `None` when the
/// window has no room there, and the probe is a bare ACK.
pub(crate) fn wakeup_len(tcb: &Tcb) -> Option<u32> {
    let (seq, len) = send_head(tcb)?;
    let wnd_end = tcb.snd_una.wrapping_add(tcb.snd_wnd);
    if !seq_gt(wnd_end, seq) {
        return None;
    }
    Some(len.min(wnd_end.wrapping_sub(seq)).min(send_mss(tcb)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_bound_follows_linux() {
        // A large window leaves the MSS alone.
        assert_eq!(bound_to_half_wnd(65_535, 1460, 20), 1460);
        assert_eq!(bound_to_half_wnd(2920, 1460, 20), 1460);
        // Above the default MSS: half the largest window.
        assert_eq!(bound_to_half_wnd(2000, 1460, 20), 1000);
        assert_eq!(bound_to_half_wnd(1000, 1460, 32), 500);
        // At or below it: the whole window.
        assert_eq!(bound_to_half_wnd(500, 1460, 20), 500);
        assert_eq!(bound_to_half_wnd(536, 1460, 20), 536);
        // Never below a minimum-MTU segment.
        assert_eq!(bound_to_half_wnd(30, 1460, 20), 48);
        assert_eq!(bound_to_half_wnd(30, 1460, 32), 36);
        // No window seen yet: nothing to bound by.
        assert_eq!(bound_to_half_wnd(0, 1460, 20), 1460);
    }
}
