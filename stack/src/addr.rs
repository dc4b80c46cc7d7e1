//! The stack's own IPv4 addresses (the kernel keeps them on the `in_device`): what IP
//! input accepts as a destination, what ARP answers for, and what connections send from;
//! and the sources no packet may carry (the kernel's martians).
use linerate_proto::wire::ipv4::Ipv4Cidr;
use std::net::Ipv4Addr;

/// The stack's own addresses: its address on the port and, for connections, an optional
/// range of further ones (`StackConfig::src_range`), all answered for ARP; and its subnet's
/// broadcast addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalAddrs {
    pub(crate) primary: Ipv4Addr,
    first: u32,
    count: u32,
    /// The subnet's network and directed broadcast addresses: the two broadcast routes the
    /// kernel adds for an address with a prefix shorter than /31 (`fib_add_ifaddr`); the
    /// limited broadcast for /31 and /32, which have neither.
    net: u32,
    bcast: u32,
}

impl LocalAddrs {
    /// `ip.addr` alone, or with the addresses `first..=last` (none when `last < first`).
    pub(crate) fn new(ip: Ipv4Cidr, range: Option<(Ipv4Addr, Ipv4Addr)>) -> Self {
        let (first, count) = match range {
            Some((a, b)) if u32::from(b) >= u32::from(a) => {
                (u32::from(a), u32::from(b) - u32::from(a) + 1)
            }
            _ => (0, 0),
        };
        let (net, bcast) = if ip.prefix_len < 31 {
            (u32::from(ip.network()), u32::from(ip.broadcast()))
        } else {
            (u32::MAX, u32::MAX)
        };
        LocalAddrs {
            primary: ip.addr,
            first,
            count,
            net,
            bcast,
        }
    }

    /// One of ours.
    #[inline]
    pub(crate) fn contains(&self, ip: Ipv4Addr) -> bool {
        ip == self.primary || u32::from(ip).wrapping_sub(self.first) < self.count
    }

    /// A source no packet may come from (`ip_route_input_slow`'s martian sources, and
    /// `fib_validate_source` refusing a local one): 0/8, loopback, multicast, the limited
    /// broadcast, our subnet's network and broadcast addresses, and our own. Nothing from
    /// such an address is answered or learnt: a reply would go to a broadcast or multicast
    /// group, or to ourselves.
    #[inline]
    pub(crate) fn is_martian_src(&self, ip: Ipv4Addr) -> bool {
        let a = u32::from(ip);
        let top = a >> 24;
        top == 0
            || top == 127
            || a >> 28 == 0xe
            || a == u32::MAX
            || a == self.bcast
            || a == self.net
            || self.contains(ip)
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
            // `i` is below the count when it comes from the connect rotation: no division.
            let i = if i < self.count { i } else { i % self.count };
            Ipv4Addr::from(self.first + i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(prefix_len: u8) -> LocalAddrs {
        let ip = Ipv4Cidr {
            addr: Ipv4Addr::new(198, 18, 0, 1),
            prefix_len,
        };
        let range = (Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 12));
        LocalAddrs::new(ip, Some(range))
    }

    #[test]
    fn martian_sources() {
        let l = ours(24);
        for m in [
            [0, 0, 0, 0],
            [0, 1, 2, 3],
            [127, 0, 0, 1],
            [127, 255, 255, 254],
            [224, 0, 0, 1],
            [239, 255, 255, 250],
            [255, 255, 255, 255],
            [198, 18, 0, 255],
            [198, 18, 0, 0],
            [198, 18, 0, 1],
            [198, 18, 0, 10],
            [198, 18, 0, 12],
        ] {
            assert!(l.is_martian_src(Ipv4Addr::from(m)), "{m:?}");
        }
        for ok in [
            [198, 18, 0, 2],
            [198, 18, 0, 9],
            [198, 18, 0, 13],
            [198, 18, 0, 254],
            [198, 18, 1, 0],
            [198, 19, 255, 255],
            [223, 255, 255, 255],
        ] {
            assert!(!l.is_martian_src(Ipv4Addr::from(ok)), "{ok:?}");
        }
        // A /15's broadcast addresses are its own; a /31 or /32 has none.
        assert!(ours(15).is_martian_src(Ipv4Addr::new(198, 19, 255, 255)));
        assert!(!ours(15).is_martian_src(Ipv4Addr::new(198, 18, 0, 255)));
        assert!(!ours(31).is_martian_src(Ipv4Addr::new(198, 18, 0, 0)));
        assert!(!ours(32).is_martian_src(Ipv4Addr::new(198, 18, 0, 0)));
    }
}
