//! Zero-copy payload: registered hugepage regions that queued segments point into instead of
//! holding copies (the kernel's page frags of an skb), each with the partial checksums that
//! give a segment's checksum without reading its bytes. A region registered with tickets
//! (`ZcRegion`) is the app's to write again: each send leases its bytes until the peer has
//! them and no frame reads them (`crate::zc`).
use linerate_dpdk::{Mbuf, TxRegion, ZcRegion};
use linerate_proto::wire::checksum::{self, PrefixSums};
use std::sync::Arc;

/// A payload region registered with a stack (`Stack::register_region`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegionId(pub(crate) u16);

impl RegionId {
    /// The number C callers hold.
    pub fn to_raw(self) -> u16 {
        self.0
    }

    /// The region numbered `n` (`to_raw`); a number no region has is refused by every call.
    pub fn from_raw(n: u16) -> RegionId {
        RegionId(n)
    }
}

/// A region's bytes: shared and immutable, or the app's to reuse.
enum Buf {
    Shared(Arc<TxRegion>),
    Zc(Box<Zc>),
}

/// A reusable region with its tickets' bookkeeping.
struct Zc {
    buf: ZcRegion,
    /// Tickets not open.
    free: Vec<u16>,
    tickets: Vec<Ticket>,
    /// The NIC does not do TCP checksums: segments sum their bytes when queued.
    csum: bool,
}

/// What the stack keeps of an open ticket (`crate::zc`): a connection's tickets form a list
/// in send order.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ticket {
    /// The connection's next ticket (`TicketId`), or `TicketId::NONE`.
    pub(crate) next: u32,
    /// Sequence number after the ticket's last byte.
    pub(crate) end: u32,
    /// Where its bytes end in the region.
    pub(crate) off_end: u32,
    /// Bytes it covers.
    pub(crate) bytes: u32,
}

/// A ticket of a region, packed (region << 16 | ticket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TicketId(pub(crate) u32);

impl TicketId {
    pub(crate) const NONE: TicketId = TicketId(u32::MAX);
    pub(crate) fn new(r: u16, t: u16) -> Self {
        TicketId((r as u32) << 16 | t as u32)
    }
    pub(crate) fn region(self) -> u16 {
        (self.0 >> 16) as u16
    }
    pub(crate) fn ticket(self) -> u16 {
        self.0 as u16
    }
    pub(crate) fn is_none(self) -> bool {
        self == Self::NONE
    }
}

/// The ticket of a segment of a shared region.
pub(crate) const NO_TICKET: u16 = u16::MAX;

struct Region {
    buf: Buf,
    /// `None` when the NIC does TCP checksums (no sums needed), and for reusable regions.
    sums: Option<PrefixSums>,
    /// The sums of the region's aligned chunks of one size (the first full-sized segment
    /// length asked for, normally the MSS): a bulk sender's segments start at multiples of
    /// it, and this small table stays in cache where the prefix table does not.
    chunks: Option<(u32, Vec<u32>)>,
}

/// Shortest chunk worth a table of its own.
const MIN_CHUNK: u32 = 512;

/// The stack's registered regions. A region is never unregistered while the stack lives:
/// queued segments and frames in the TX ring point into it.
#[derive(Default)]
pub(crate) struct Regions {
    v: Vec<Region>,
}

impl Regions {
    /// Registers `buf`, building its checksum table unless `csum_offload`. `None` when 65 536
    /// regions are registered already, or `buf` is too large for 32-bit offsets.
    pub(crate) fn register(&mut self, buf: Arc<TxRegion>, csum_offload: bool) -> Option<RegionId> {
        let id = u16::try_from(self.v.len()).ok()?;
        u32::try_from(buf.len()).ok()?;
        let sums = (!csum_offload).then(|| PrefixSums::new(buf.as_slice()));
        self.v.push(Region {
            buf: Buf::Shared(buf),
            sums,
            chunks: None,
        });
        Some(RegionId(id))
    }

    /// Registers reusable region `buf`; `None` when 65 536 regions are registered already,
    /// or `buf` is too large for 32-bit offsets.
    pub(crate) fn register_zc(&mut self, buf: ZcRegion, csum_offload: bool) -> Option<RegionId> {
        let id = u16::try_from(self.v.len()).ok()?;
        u32::try_from(buf.len()).ok()?;
        let n = buf.tickets();
        let zc = Zc {
            // Popped from the back: ticket 0 first.
            free: (0..n).rev().collect(),
            tickets: vec![Ticket::default(); n as usize],
            buf,
            csum: !csum_offload,
        };
        self.v.push(Region {
            buf: Buf::Zc(Box::new(zc)),
            sums: None,
            chunks: None,
        });
        Some(RegionId(id))
    }

    /// Whether region `id` is reusable (sends from it take tickets), or `None` when it is
    /// not this stack's or `len` bytes at `off` leave it.
    #[inline]
    pub(crate) fn kind(&self, id: RegionId, off: usize, len: usize) -> Option<bool> {
        let g = self.v.get(id.0 as usize)?;
        let n = g.slice().len();
        off.checked_add(len).filter(|&end| end <= n)?;
        Some(matches!(g.buf, Buf::Zc(_)))
    }

    fn zc(&self, r: u16) -> Option<&Zc> {
        match &self.v.get(r as usize)?.buf {
            Buf::Zc(z) => Some(z),
            Buf::Shared(_) => None,
        }
    }

    fn zc_mut(&mut self, r: u16) -> Option<&mut Zc> {
        match &mut self.v.get_mut(r as usize)?.buf {
            Buf::Zc(z) => Some(z),
            Buf::Shared(_) => None,
        }
    }

    /// Opens a ticket of reusable region `r` over `len` bytes at `off`; `None` when all its
    /// tickets are open.
    pub(crate) fn open(&mut self, r: u16, off: u32, len: u32) -> Option<TicketId> {
        let z = self.zc_mut(r)?;
        let t = z.free.pop()?;
        if !z.buf.open(t, off as usize, len as usize) {
            z.free.push(t);
            return None;
        }
        Some(TicketId::new(r, t))
    }

    /// Adds `more` bytes after held ticket `t`'s to it.
    pub(crate) fn extend(&mut self, t: TicketId, more: u32) -> bool {
        self.zc_mut(t.region())
            .is_some_and(|z| z.buf.extend(t.ticket(), more as usize))
    }

    /// Its sender is done with held ticket `t`.
    pub(crate) fn release(&mut self, t: TicketId) {
        if let Some(z) = self.zc_mut(t.region()) {
            z.buf.release(t.ticket());
        }
    }

    /// True once released ticket `t` is complete; it is free again.
    pub(crate) fn reap(&mut self, t: TicketId) -> bool {
        let Some(z) = self.zc_mut(t.region()) else {
            return false;
        };
        if !z.buf.reap(t.ticket()) {
            return false;
        }
        z.free.push(t.ticket());
        true
    }

    /// The stack's record of ticket `t`.
    pub(crate) fn ticket(&mut self, t: TicketId) -> Option<&mut Ticket> {
        self.zc_mut(t.region())?
            .tickets
            .get_mut(t.ticket() as usize)
    }

    /// Reusable region `r`, for the app to write.
    pub(crate) fn zc_region(&mut self, r: RegionId) -> Option<&mut ZcRegion> {
        self.zc_mut(r.0).map(|z| &mut z.buf)
    }

    /// Reusable region `r`.
    pub(crate) fn zc_region_ref(&self, r: RegionId) -> Option<&ZcRegion> {
        self.zc(r.0).map(|z| &z.buf)
    }

    /// The partial checksum of `len` bytes at `off` in region `r` (0 without a table).
    #[inline]
    pub(crate) fn sum(&mut self, r: u16, off: u32, len: u32) -> u32 {
        let Some(g) = self.v.get_mut(r as usize) else {
            return 0;
        };
        if let Buf::Zc(z) = &g.buf {
            // The bytes change between sends: no table, a pass over them (still in cache
            // when the app has just written them).
            let (a, b) = (off as usize, off as usize + len as usize);
            return match z.buf.as_slice().get(a..b) {
                Some(s) if z.csum => checksum::sum(s, 0),
                _ => 0,
            };
        }
        let Some(sums) = &g.sums else {
            return 0;
        };
        let Buf::Shared(b) = &g.buf else {
            return 0;
        };
        let bytes = b.as_slice();
        if len >= MIN_CHUNK && off % len == 0 {
            // Built once, at the first full-sized segment (not in steady state).
            let (c, t) = g.chunks.get_or_insert_with(|| {
                let t = (0..bytes.len() / len as usize)
                    .map(|k| sums.range(bytes, k * len as usize, (k + 1) * len as usize))
                    .collect();
                (len, t)
            });
            if *c == len {
                if let Some(&x) = t.get((off / len) as usize) {
                    return x;
                }
            }
        }
        sums.range(bytes, off as usize, (off + len) as usize)
    }

    /// The bytes of `len` at `off` of region `r`.
    pub(crate) fn bytes(&self, r: u16, off: u32, len: u32) -> Option<&[u8]> {
        let (a, b) = (off as usize, off as usize + len as usize);
        self.v.get(r as usize)?.slice().get(a..b)
    }

    /// Frames for consecutive slices of region `r` from `off`, one per entry of `lens`
    /// (`TxRegion::frames`), under ticket `t` of a reusable region, appended to `out`.
    /// False, with none built, when the pool runs short.
    #[inline]
    pub(crate) fn frames(
        &self,
        r: u16,
        t: u16,
        off: u32,
        lens: &[u32],
        out: &mut Vec<Mbuf>,
    ) -> bool {
        let Some(g) = self.v.get(r as usize) else {
            return false;
        };
        match &g.buf {
            Buf::Shared(b) => b.frames(off as usize, lens, out),
            Buf::Zc(z) => z.buf.frames(t, off as usize, lens, out),
        }
    }

    /// An mbuf over `len` bytes at `off` of region `r` (no copy), under ticket `t` of a
    /// reusable region.
    #[inline]
    pub(crate) fn view(&self, r: u16, t: u16, off: u32, len: u32) -> Option<Mbuf> {
        match &self.v.get(r as usize)?.buf {
            Buf::Shared(b) => b.view(off as usize, len as usize),
            Buf::Zc(z) => z.buf.view(t, off as usize, len as usize),
        }
    }
}

impl Region {
    #[inline]
    fn slice(&self) -> &[u8] {
        match &self.buf {
            Buf::Shared(b) => b.as_slice(),
            Buf::Zc(z) => z.buf.as_slice(),
        }
    }
}
