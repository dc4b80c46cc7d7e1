//! Zero-copy payload: registered hugepage regions that queued segments point into instead of
//! holding copies (the kernel's page frags of an skb), each with the partial checksums that
//! give a segment's checksum without reading its bytes.
use linerate_dpdk::{Mbuf, TxRegion};
use linerate_proto::wire::checksum::PrefixSums;
use std::sync::Arc;

/// A payload region registered with a stack (`Stack::register_region`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegionId(pub(crate) u16);

struct Region {
    buf: Arc<TxRegion>,
    /// `None` when the NIC does TCP checksums (no sums needed).
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
            buf,
            sums,
            chunks: None,
        });
        Some(RegionId(id))
    }

    /// Bytes in region `id`, or `None` for an id this stack did not give out.
    pub(crate) fn len(&self, id: RegionId) -> Option<usize> {
        self.v.get(id.0 as usize).map(|r| r.buf.len())
    }

    /// The partial checksum of `len` bytes at `off` in region `r` (0 without a table).
    #[inline]
    pub(crate) fn sum(&mut self, r: u16, off: u32, len: u32) -> u32 {
        let Some(g) = self.v.get_mut(r as usize) else {
            return 0;
        };
        let Some(sums) = &g.sums else {
            return 0;
        };
        let bytes = g.buf.as_slice();
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
        self.v.get(r as usize)?.buf.as_slice().get(a..b)
    }

    /// Frames for consecutive slices of region `r` from `off`, one per entry of `lens`
    /// (`TxRegion::frames`), appended to `out`. False, with none built, when the pool runs
    /// short.
    #[inline]
    pub(crate) fn frames(&self, r: u16, off: u32, lens: &[u32], out: &mut Vec<Mbuf>) -> bool {
        self.v
            .get(r as usize)
            .is_some_and(|g| g.buf.frames(off as usize, lens, out))
    }

    /// An mbuf over `len` bytes at `off` of region `r` (no copy).
    #[inline]
    pub(crate) fn view(&self, r: u16, off: u32, len: u32) -> Option<Mbuf> {
        self.v.get(r as usize)?.buf.view(off as usize, len as usize)
    }
}
