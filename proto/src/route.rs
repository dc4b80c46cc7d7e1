//! The routing table: connected subnets and gateways, longest-prefix match.
//!
//! The kernel's FIB, reduced to what a sender needs. Connections cache their lookup result
//! together with the table's generation (the seed's `__sk_dst_check`): any change to the table
//! bumps the generation and every cached route is looked up again on next use.
use crate::wire::ipv4::Ipv4Cidr;
use std::net::Ipv4Addr;

/// One route: traffic to `dst` goes to `gateway`, or directly (connected) when `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The destination prefix the route covers.
    pub dst: Ipv4Cidr,
    /// The next-hop router, or `None` when `dst` is directly connected.
    pub gateway: Option<Ipv4Addr>,
}

/// The result of a lookup: the next hop to resolve with ARP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    /// The address to resolve: the route's gateway, or the destination itself when it is on
    /// a connected subnet.
    pub addr: Ipv4Addr,
    /// The table's generation at the lookup; the result is stale once
    /// [`RouteTable::generation`] has moved on.
    pub generation: u32,
}

/// The routing table: the routes, longest prefix first so that the first match is the
/// longest, and a generation counter that every change bumps so that cached lookups can be
/// checked cheaply.
#[derive(Debug, Default)]
pub struct RouteTable {
    // Sorted by prefix length, longest first, so the first match is the longest.
    routes: Vec<Route>,
    generation: u32,
}

impl RouteTable {
    /// An empty table: no route to anywhere.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the connected subnet of an interface address (e.g. 198.18.0.1/24).
    pub fn add_connected(&mut self, ifaddr: Ipv4Cidr) {
        self.add(Route {
            dst: Ipv4Cidr {
                addr: ifaddr.network(),
                prefix_len: ifaddr.prefix_len,
            },
            gateway: None,
        });
    }

    /// Adds (or replaces) a route.
    pub fn add(&mut self, r: Route) {
        self.routes.retain(|x| x.dst != r.dst);
        let pos = self
            .routes
            .iter()
            .position(|x| x.dst.prefix_len < r.dst.prefix_len)
            .unwrap_or(self.routes.len());
        self.routes.insert(pos, r);
        self.generation = self.generation.wrapping_add(1);
    }

    /// Removes the route for exactly `dst`. Returns whether one was there.
    pub fn remove(&mut self, dst: Ipv4Cidr) -> bool {
        let n = self.routes.len();
        self.routes.retain(|x| x.dst != dst);
        let removed = self.routes.len() != n;
        if removed {
            self.generation = self.generation.wrapping_add(1);
        }
        removed
    }

    /// Longest-prefix match. `None`: no route to host.
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<NextHop> {
        self.routes
            .iter()
            .find(|r| r.dst.contains(dst))
            .map(|r| NextHop {
                addr: r.gateway.unwrap_or(dst),
                generation: self.generation,
            })
    }

    /// Bumped on every change; a cached `NextHop` with an older generation is stale.
    #[inline]
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The routes, longest prefix first (the order lookups try them in).
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins() {
        let mut t = RouteTable::new();
        t.add_connected(c("198.18.0.1/24"));
        t.add(Route {
            dst: c("0.0.0.0/0"),
            gateway: Some(ip("198.18.0.254")),
        });
        t.add(Route {
            dst: c("198.19.0.0/16"),
            gateway: Some(ip("198.18.0.253")),
        });
        t.add(Route {
            dst: c("198.19.5.0/24"),
            gateway: Some(ip("198.18.0.252")),
        });
        assert_eq!(
            t.lookup(ip("198.18.0.7")).unwrap().addr,
            ip("198.18.0.7"),
            "connected: next hop is the host"
        );
        assert_eq!(t.lookup(ip("198.19.0.2")).unwrap().addr, ip("198.18.0.253"));
        assert_eq!(t.lookup(ip("198.19.5.9")).unwrap().addr, ip("198.18.0.252"));
        assert_eq!(
            t.lookup(ip("198.20.0.1")).unwrap().addr,
            ip("198.18.0.254"),
            "default route"
        );
    }

    #[test]
    fn no_route_and_generation() {
        let mut t = RouteTable::new();
        assert!(t.lookup(ip("198.18.0.1")).is_none());
        t.add_connected(c("198.18.0.1/24"));
        let g = t.lookup(ip("198.18.0.9")).unwrap().generation;
        assert!(t.lookup(ip("198.19.0.1")).is_none());
        t.add(Route {
            dst: c("198.19.0.0/24"),
            gateway: Some(ip("198.18.0.254")),
        });
        assert_ne!(t.generation(), g, "a change invalidates cached routes");
        assert!(t.remove(c("198.19.0.0/24")));
        assert!(!t.remove(c("198.19.0.0/24")));
        assert!(t.lookup(ip("198.19.0.1")).is_none());
    }

    #[test]
    fn replacing_a_route_keeps_one_entry() {
        let mut t = RouteTable::new();
        t.add(Route {
            dst: c("198.19.0.0/16"),
            gateway: Some(ip("198.18.0.1")),
        });
        t.add(Route {
            dst: c("198.19.0.0/16"),
            gateway: Some(ip("198.18.0.2")),
        });
        assert_eq!(t.routes().len(), 1);
        assert_eq!(t.lookup(ip("198.19.1.1")).unwrap().addr, ip("198.18.0.2"));
    }
}
