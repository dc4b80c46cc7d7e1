//! One inbound segment, parsed: what the kernel keeps in `TCP_SKB_CB` of a received skb,
//! read by both halves of input (`tcp::input`, `tcp::ack`).
use linerate_proto::wire::tcp::{flags, TcpOptions};

/// One inbound segment, parsed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegIn<'a> {
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: u8,
    pub(crate) wnd: u16,
    pub(crate) opts: TcpOptions,
    pub(crate) payload: &'a [u8],
}

impl SegIn<'_> {
    #[inline]
    pub(crate) fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
    /// Sequence space the segment occupies (SYN and FIN count one each).
    #[inline]
    pub(crate) fn seq_len(&self) -> u32 {
        self.payload.len() as u32 + self.has(flags::SYN) as u32 + self.has(flags::FIN) as u32
    }
}
