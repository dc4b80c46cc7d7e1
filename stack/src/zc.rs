//! Zero-copy sends whose memory comes back: the kernel's MSG_ZEROCOPY with its completion
//! notifications, for the storage case.
//!
//! A send from a reusable region (`ZcRegion`) leases its bytes under a ticket; consecutive
//! small sends of one connection that continue each other share one (up to 64 KiB), as the
//! kernel merges notifications. A connection keeps its tickets in send order. Once the peer has
//! acknowledged a ticket's last byte (or the connection has ended) the connection releases
//! it; once no frame holds its bytes (the device has freed them) it is complete. Completions
//! are reported in send order, as `Event::zc_done`, the bytes returned so far. The release
//! and completion side runs on every ACK, in `tcp::zc`.
use crate::region::{RegionId, Regions, Ticket, TicketId};
use crate::socket::IoError;
use crate::stack::Stack;
use crate::tcp::{sendmsg, ConnId, Tcb, LISTED_ZC};
use linerate_dpdk::{Device, ZcRegion};

impl<D: Device> Stack<D> {
    /// Registers reusable zero-copy region `region` with this stack, which owns it from now
    /// on. [`Stack::send_region`] from it leases the bytes sent until an event with
    /// [`crate::event::ZC_DONE`] covers them; meanwhile [`Stack::zc_bytes_mut`] refuses them.
    /// `None` when 65 536 regions are registered already, or it is 4 GiB or larger.
    pub fn register_zc_region(&mut self, region: ZcRegion) -> Option<RegionId> {
        let offload = self.ip.tcp_csum_offload();
        self.ip.regions.register_zc(region, offload)
    }

    /// The `len` bytes at `off` of reusable region `r`, to write the next send's data into.
    /// `None` while a send still leases any page of them, or for a region or range this
    /// stack does not have.
    pub fn zc_bytes_mut(&mut self, r: RegionId, off: usize, len: usize) -> Option<&mut [u8]> {
        self.ip.regions.zc_region(r)?.bytes_mut(off, len)
    }

    /// Reusable region `r` (to read its bytes, or ask whether a range is busy).
    pub fn zc_region(&self, r: RegionId) -> Option<&ZcRegion> {
        self.ip.regions.zc_region_ref(r)
    }

    /// The first byte of reusable region `r`, for C callers that write it in place. Writing
    /// a byte that a send still leases (see [`Stack::zc_bytes_mut`]) breaks the data on the
    /// wire; the pointer is valid while the stack lives.
    pub fn zc_region_base(&mut self, r: RegionId) -> Option<*mut u8> {
        Some(self.ip.regions.zc_region(r)?.as_mut_ptr())
    }

    /// `send_region` from a reusable region: leases the bytes taken under a ticket.
    pub(crate) fn send_zc(
        &mut self,
        id: ConnId,
        r: RegionId,
        off: usize,
        len: usize,
    ) -> Result<usize, IoError> {
        let slot = self.slot_of(id)?;
        let tcb = Self::sendable(&mut self.conns, slot)?;
        let take = (len.min(u32::MAX as usize) as u32).min(tcb.send_space());
        if take == 0 {
            return self.after_send(slot, 0, len);
        }
        let regions = &mut self.ip.regions;
        let Some(t) = lease(tcb, regions, r, off as u32, take) else {
            return Err(IoError::NoTicket);
        };
        let n = sendmsg::region_to_queue(tcb, &mut self.ip, (r, t.ticket()), off as u32, take);
        self.after_send(slot, n as usize, len)
    }

    /// Runs `after_event` again for connections whose released tickets waited for frames.
    /// A device that frees sent frames lazily is asked to free them first.
    pub(crate) fn run_zc_waiters(&mut self) {
        self.ip.dev.tx_done_cleanup();
        let mut waiters = std::mem::take(&mut self.zc_waiters);
        for id in waiters.drain(..) {
            if let Some(Some(tcb)) = self.conns.get_mut(id as usize) {
                if tcb.waits & LISTED_ZC != 0 {
                    tcb.waits &= !LISTED_ZC;
                    self.after_event(id);
                }
            }
        }
        waiters.append(&mut self.zc_waiters);
        self.zc_waiters = waiters;
    }
}

/// Most bytes consecutive sends merge into one ticket: one TSO unit's worth.
const MERGE_MAX: u32 = 64 << 10;

/// The ticket `take` bytes at `off` of region `r` go under: the connection's last one when
/// it is still held and these bytes continue it in the region and in sequence, else a new
/// one at the end of its list. `None` when the region has no ticket free.
fn lease(
    tcb: &mut Tcb,
    regions: &mut Regions,
    r: RegionId,
    off: u32,
    take: u32,
) -> Option<TicketId> {
    let tail = TicketId(tcb.zc.tail);
    let write_seq = tcb.write_seq;
    let end = write_seq.wrapping_add(take);
    if !TicketId(tcb.zc.held).is_none() && tail.region() == r.0 {
        // Small writes merge (their segments pack full); large ones keep their own ticket,
        // so that a storage app's blocks come back one by one, not a ring's worth at once.
        let continues = regions
            .ticket(tail)
            .is_some_and(|m| m.off_end == off && m.end == write_seq && m.bytes + take <= MERGE_MAX);
        if continues && regions.extend(tail, take) {
            if let Some(m) = regions.ticket(tail) {
                (m.end, m.off_end, m.bytes) = (end, off + take, m.bytes + take);
            }
            return Some(tail);
        }
    }
    let t = regions.open(r.0, off, take)?;
    if let Some(m) = regions.ticket(t) {
        *m = Ticket {
            next: TicketId::NONE.0,
            end,
            off_end: off + take,
            bytes: take,
        };
    }
    if tail.is_none() {
        tcb.zc.head = t.0;
    } else if let Some(m) = regions.ticket(tail) {
        m.next = t.0;
    }
    if TicketId(tcb.zc.held).is_none() {
        tcb.zc.held = t.0;
    }
    tcb.zc.tail = t.0;
    Some(t)
}
