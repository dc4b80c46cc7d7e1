//! The stack's own IPv4 addresses (the kernel keeps them on the `in_device`): what IP
//! input accepts as a destination, what ARP answers for, and what connections send from.
use std::net::Ipv4Addr;

/// The stack's own addresses: its address on the port and, for connections, an optional
/// range of further ones (`StackConfig::src_range`), all answered for ARP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalAddrs {
    pub(crate) primary: Ipv4Addr,
    first: u32,
    count: u32,
}

impl LocalAddrs {
    /// `primary` alone, or with the addresses `first..=last` (none when `last < first`).
    pub(crate) fn new(primary: Ipv4Addr, range: Option<(Ipv4Addr, Ipv4Addr)>) -> Self {
        let (first, count) = match range {
            Some((a, b)) if u32::from(b) >= u32::from(a) => {
                (u32::from(a), u32::from(b) - u32::from(a) + 1)
            }
            _ => (0, 0),
        };
        LocalAddrs {
            primary,
            first,
            count,
        }
    }

    /// One of ours.
    #[inline]
    pub(crate) fn contains(&self, ip: Ipv4Addr) -> bool {
        ip == self.primary || u32::from(ip).wrapping_sub(self.first) < self.count
    }

    /// Addresses connections use: the range, or the primary alone.
    pub(crate) fn sources(&self) -> u32 {
        self.count.max(1)
    }

    /// Source address `i` (of `sources()`).
    pub(crate) fn source(&self, i: u32) -> Ipv4Addr {
        if self.count == 0 {
            self.primary
        } else {
            Ipv4Addr::from(self.first + i % self.count)
        }
    }
}
