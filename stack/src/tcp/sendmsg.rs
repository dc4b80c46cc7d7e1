//! `tcp_sendmsg`: the app's bytes onto the write queue. A copy goes into mbufs with its
//! checksum partial sum (the kernel's csum-and-copy); zero copy grows the pending range
//! (`Tcb::pend`, the skb the kernel would grow), which `materialize` cuts into segments as
//! `tcp::output` lets them leave. The send buffer is checked per segment, as Linux does.
//! The size goal is the send MSS (`wnd::send_mss`); `fragment` cuts a queued segment that
//! is longer than what may leave (a goal that shrank since, a window probe's room).
use super::{wnd, Payload, Pend, Seg, Tcb};
use crate::ip::IpLayer;
use crate::region::RegionId;
use linerate_dpdk::Device;
use linerate_proto::wire::checksum;
use std::mem::ManuallyDrop;

/// `tcp_sendmsg`'s copy: `data` goes into the tail segment up to the size goal, then into
/// new mbufs, with the payload's checksum partial sum computed on the way (the kernel's
/// csum-and-copy; skipped when the NIC does TCP checksums) so that transmitting only sums
/// the header. Returns the bytes taken; stops at the send-buffer limit or when the pool's
/// share for data is used up.
pub(crate) fn copy_to_queue<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, data: &[u8]) -> usize {
    let goal = wnd::send_mss(tcb) as usize;
    // The NIC sums the payload itself: no partial sum to keep.
    let csum_offload = ip.tcp_csum_offload();
    materialize(tcb, ip, u32::MAX);
    let mut done = 0;
    while done < data.len() {
        let room = tcb.send_space() as usize;
        if room == 0 {
            break;
        }
        let can_append = tcb.unsent < tcb.queue.len()
            && tcb.queue.back().is_some_and(|s| {
                matches!(s.data, Payload::Copied(_))
                    && !s.fin
                    && (s.len as usize) < goal
                    && s.hdr == 0
            });
        if !can_append {
            // Mbufs stay back for RX and control frames (`IpLayer::alloc_send`): a send
            // buffer that drained the pool would deadlock instead of pushing back.
            let Some(m) = ip.alloc_send() else {
                tcb.counters.alloc_failures += 1;
                break;
            };
            tcb.queue.push_back(Seg::new(
                Payload::Copied(ManuallyDrop::new(m)),
                tcb.write_seq,
                false,
            ));
            tcb.copied_segs += 1;
        }
        let Some(seg) = tcb.queue.back_mut() else {
            break;
        };
        let Payload::Copied(ref mut m) = seg.data else {
            break;
        };
        // Filled to the goal whatever the room, as in `region_to_queue`.
        let n = (goal - seg.len as usize)
            .min(data.len() - done)
            .min(m.tailroom());
        if n == 0 {
            break;
        }
        let chunk = &data[done..done + n];
        let Some(dst) = m.append(n) else { break };
        dst.copy_from_slice(chunk);
        if !csum_offload {
            let mut s = checksum::sum(chunk, 0);
            if seg.len & 1 == 1 {
                // A piece starting at an odd offset contributes its bytes swapped (RFC 1071
                // §2(B)).
                s = (s as u16).swap_bytes() as u32;
            }
            seg.csum = checksum::add(seg.csum, s);
        }
        seg.len += n as u32;
        tcb.write_seq = tcb.write_seq.wrapping_add(n as u32);
        done += n;
    }
    done
}

/// `tcp_sendmsg` with zero copy (the kernel's MSG_ZEROCOPY frags): appends `len` bytes at
/// `off` of registered region `r` to the pending range (`Tcb::pend`), which `materialize`
/// cuts into segments of the size goal, checksums read from the region's table, as they may
/// leave. Returns the bytes taken; stops at the send-buffer limit. Nothing is allocated from
/// the pool: frames take their mbufs when they leave. `ticket` is the lease the bytes are
/// under (a reusable region) or `NO_TICKET`.
pub(crate) fn region_to_queue<D: Device>(
    tcb: &mut Tcb,
    ip: &mut IpLayer<D>,
    (r, ticket): (RegionId, u16),
    off: u32,
    len: u32,
) -> u32 {
    let space = tcb.send_space();
    if space == 0 {
        return 0;
    }
    let p = tcb.pend;
    if p.len > 0 && !(p.region == r.0 && p.ticket == ticket && p.off + p.len == off) {
        // Not a continuation of the pending bytes: they become segments first.
        materialize(tcb, ip, u32::MAX);
    }
    let goal = wnd::send_mss(tcb);
    let mut fill = 0;
    if tcb.pend.len == 0 {
        fill = fill_unsent_tail(tcb, ip, (r, ticket), off, len);
        tcb.pend = Pend {
            region: r.0,
            ticket,
            off: off + fill,
            len: 0,
        };
    }
    // The buffer is checked per segment, not per byte, as Linux checks
    // `sk_stream_memory_free` before each new skb: a segment once begun is filled to the
    // goal. A write cut short by the buffer then never ends in a short segment, which
    // would leave alone once the queue before it is acked, and put every later segment
    // off the payload's grid of precomputed sums (most of the scale run's were off it).
    // Pending bytes are cut into segments of the goal from their start, so the partial
    // last one is filled first, then whole segments while the buffer has room.
    let mut done = fill;
    let part = tcb.pend.len % goal;
    if part > 0 {
        done += (goal - part).min(len - done);
    }
    if done < space {
        done += (len - done).min((space - done).div_ceil(goal).saturating_mul(goal));
    }
    tcb.pend.len += done - fill;
    tcb.write_seq = tcb.write_seq.wrapping_add(done);
    done
}

/// Fills an unsent tail segment of region `r` (under `ticket`) that ends where `off`
/// starts, up to the size goal, from the `len` bytes there; returns the bytes it took.
fn fill_unsent_tail<D: Device>(
    tcb: &mut Tcb,
    ip: &mut IpLayer<D>,
    (r, ticket): (RegionId, u16),
    off: u32,
    len: u32,
) -> u32 {
    let goal = wnd::send_mss(tcb);
    if tcb.unsent >= tcb.queue.len() {
        return 0;
    }
    let Some(s) = tcb.queue.back_mut() else {
        return 0;
    };
    let Payload::Region {
        region,
        off: at,
        ticket: t,
    } = s.data
    else {
        return 0;
    };
    if region != r.0 || t != ticket || s.fin || s.len >= goal || at + s.len != off {
        return 0;
    }
    let n = (goal - s.len).min(len);
    s.len += n;
    if !ip.tcp_csum_offload() {
        s.csum = ip.regions.sum(region, at, s.len);
    }
    n
}

/// Cuts pending zero-copy bytes (`Tcb::pend`) into segments of the size goal at the end of
/// the queue, at least one and then while fewer than `want` bytes were cut.
pub(crate) fn materialize<D: Device>(tcb: &mut Tcb, ip: &mut IpLayer<D>, want: u32) {
    let (goal, csum_offload) = (wnd::send_mss(tcb), ip.tcp_csum_offload());
    let mut cut = 0;
    while tcb.pend.len > 0 && (cut == 0 || cut < want) {
        let p = tcb.pend;
        let n = goal.min(p.len);
        let data = Payload::Region {
            region: p.region,
            off: p.off,
            ticket: p.ticket,
        };
        let mut seg = Seg::new(data, tcb.write_seq.wrapping_sub(p.len), false);
        seg.len = n;
        if !csum_offload {
            seg.csum = ip.regions.sum(p.region, p.off, n);
        }
        tcb.queue.push_back(seg);
        tcb.pend.off += n;
        tcb.pend.len -= n;
        cut += n;
    }
}

/// `tcp_fragment`: cuts unsent queue entry `idx` after its first `len` bytes, the rest (and
/// a FIN) becoming the next entry, so that the first part fits a window smaller than the
/// entry. A zero-copy entry is cut in place; a copied one's tail moves into a new mbuf. The
/// byte stream stays as it was. False when it cannot (no mbuf, or nothing to cut).
pub(crate) fn fragment<D: Device>(
    tcb: &mut Tcb,
    ip: &mut IpLayer<D>,
    idx: usize,
    len: u32,
) -> bool {
    let csum_offload = ip.tcp_csum_offload();
    let Some(s) = tcb.queue.get(idx) else {
        return false;
    };
    if idx < tcb.unsent || len == 0 || len >= s.len {
        return false;
    }
    let (seq, rest, fin) = (s.seq.wrapping_add(len), s.len - len, s.fin);
    let data = match s.data {
        Payload::Region {
            region,
            off,
            ticket,
        } => Payload::Region {
            region,
            off: off + len,
            ticket,
        },
        Payload::Copied(ref m) => {
            // Never sent, so no header in front and no reference out; checked all the same.
            if s.hdr != 0 || !m.is_unique() || m.len() != s.len as usize {
                return false;
            }
            let Some(mut t) = ip.alloc_send() else {
                tcb.counters.alloc_failures += 1;
                return false;
            };
            let Some(dst) = t.append(rest as usize) else {
                return false;
            };
            dst.copy_from_slice(&m.data()[len as usize..]);
            Payload::Copied(ManuallyDrop::new(t))
        }
    };
    let mut tail = Seg::new(data, seq, fin);
    tail.len = rest;
    let s = &mut tcb.queue[idx];
    if let Payload::Copied(ref mut m) = s.data {
        if !m.trim(rest as usize) {
            if let Payload::Copied(t) = tail.data {
                drop(ManuallyDrop::into_inner(t));
            }
            return false;
        }
        tcb.copied_segs += 1;
    }
    s.len = len;
    s.fin = false;
    if !csum_offload {
        (s.csum, tail.csum) = match (&s.data, &tail.data) {
            (Payload::Copied(a), Payload::Copied(b)) => {
                (checksum::sum(a.data(), 0), checksum::sum(b.data(), 0))
            }
            (Payload::Region { region, off, .. }, Payload::Region { off: o2, .. }) => {
                let r = *region;
                (ip.regions.sum(r, *off, len), ip.regions.sum(r, *o2, rest))
            }
            _ => (0, 0),
        };
    }
    tcb.queue.insert(idx + 1, tail);
    true
}
