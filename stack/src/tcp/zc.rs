//! The acknowledgement side of zero-copy leases (`crate::zc`): a connection releases the
//! tickets its peer has acknowledged and completes them, in send order, once their frames
//! are gone. Called from `Stack::after_event`, which every ACK of a connection ends in.
use crate::region::{Regions, Ticket, TicketId};
use crate::tcp::{Slot, State, Tcb, LISTED_ZC};
use linerate_proto::seq::seq_le;

/// Releases and completes connection `id`'s (`tcb`'s) tickets as far as they go, and lists
/// it in `waiters` to be looked at again while a released one waits for its frames. Takes
/// the stack's parts, not the stack: `after_event` calls it with the block it already has.
pub(crate) fn progress_listed(
    tcb: &mut Tcb,
    regions: &mut Regions,
    waiters: &mut Vec<Slot>,
    id: Slot,
) {
    if progress(tcb, regions) && tcb.waits & LISTED_ZC == 0 {
        tcb.waits |= LISTED_ZC;
        waiters.push(id);
    }
}

/// Releases the tickets whose bytes the peer has (all of them once the connection has
/// ended: nothing will be sent again), then completes released ones from the front while
/// their frames are gone. True while a released ticket still waits for its frames.
fn progress(tcb: &mut Tcb, regions: &mut Regions) -> bool {
    let ended = tcb.state == State::Closed;
    let mut held = TicketId(tcb.zc.held);
    while let Some(&mut Ticket { next, end, .. }) = regions.ticket(held) {
        if !ended && !seq_le(end, tcb.snd_una) {
            break;
        }
        regions.release(held);
        held = TicketId(next);
    }
    tcb.zc.held = held.0;
    let mut head = TicketId(tcb.zc.head);
    while head != held {
        let Some(&mut Ticket { next, bytes, .. }) = regions.ticket(head) else {
            break;
        };
        if !regions.reap(head) {
            break;
        }
        tcb.zc_done += bytes as u64;
        head = TicketId(next);
    }
    tcb.zc.head = head.0;
    if head.is_none() {
        tcb.zc.tail = head.0;
    }
    head != held
}
