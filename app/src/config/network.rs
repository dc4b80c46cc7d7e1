//! Our address, the gateway, static neighbours and the destinations, checked against each
//! other (the gateway on our subnet, a route to every destination, the `--ack-peer` rules).
use super::cli::SendArgs;
use super::file::FileConfig;
use super::value::{list, pick};
use linerate::{Ipv4Cidr, MacAddr, Route, RouteTable};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Our address, the gateway, static neighbours and the destinations.
pub(super) struct Network {
    pub ip: Ipv4Cidr,
    pub gw: Option<Ipv4Addr>,
    pub neigh: Vec<(Ipv4Addr, MacAddr)>,
    pub dst: Vec<SocketAddrV4>,
    pub ack_peer: bool,
    pub ack_peer_offloads: bool,
    pub ack_peer_tso: bool,
    pub ack_peer_gro: bool,
    pub src_range: Option<(Ipv4Addr, Ipv4Addr)>,
}

pub(super) fn network(cli: &SendArgs, file: &FileConfig) -> Result<Network, String> {
    let ip = parse_ip(pick(cli.ip.as_deref(), file.ip.as_deref()))?;
    let gw = pick(cli.gw.as_deref(), file.gw.as_deref())
        .map(|g| parse_gw(g, ip))
        .transpose()?;
    let neigh = list(&cli.neigh, &file.neigh)
        .iter()
        .map(|s| parse_neigh(s))
        .collect::<Result<Vec<_>, _>>()?;
    let dst_s = list(&cli.dst, &file.dst);
    if dst_s.is_empty() {
        return Err("--dst is required: where to send, e.g. --dst 198.19.0.2:5201".into());
    }
    let dst = dst_s
        .iter()
        .map(|s| parse_dst(s))
        .collect::<Result<Vec<_>, _>>()?;
    let ack_peer = cli.ack_peer || file.ack_peer.unwrap_or(false);
    if ack_peer {
        check_ack_peer(ip, &dst)?;
    }
    let ack_peer_tso = cli.ack_peer_tso || file.ack_peer_tso.unwrap_or(false);
    if ack_peer_tso && !ack_peer {
        return Err(
            "--ack-peer-tso needs --ack-peer (it changes what the in-process receiver \
             presents to the stack)"
                .into(),
        );
    }
    // TSO needs checksum offload: it implies it.
    let ack_peer_offloads =
        ack_peer_tso || cli.ack_peer_offloads || file.ack_peer_offloads.unwrap_or(false);
    if ack_peer_offloads && !ack_peer {
        return Err(
            "--ack-peer-offloads needs --ack-peer (it changes what the in-process \
             receiver presents to the stack)"
                .into(),
        );
    }
    let ack_peer_gro = cli.ack_peer_gro || file.ack_peer_gro.unwrap_or(false);
    if ack_peer_gro && !ack_peer {
        return Err(
            "--ack-peer-gro needs --ack-peer (it sets how the in-process receiver ACKs)".into(),
        );
    }
    let src_range = pick(cli.src_range.as_deref(), file.src_range.as_deref())
        .map(|r| parse_src_range(r, ip, gw, &dst))
        .transpose()?;
    check_routes(ip, gw, &dst)?;
    Ok(Network {
        ack_peer_gro,
        src_range,
        ip,
        gw,
        neigh,
        dst,
        ack_peer,
        ack_peer_offloads,
        ack_peer_tso,
    })
}

fn parse_ip(ip: Option<&str>) -> Result<Ipv4Cidr, String> {
    let ip_s =
        ip.ok_or("--ip is required: our address and prefix on the port, e.g. --ip 198.18.0.1/24")?;
    let ip: Ipv4Cidr = ip_s.trim().parse().map_err(|_| {
        format!("--ip: invalid address '{ip_s}' (expected addr/prefix, e.g. 198.18.0.1/24)")
    })?;
    // Ipv4Cidr's parser insists on the '/' today; this keeps the clearer message should it
    // ever accept a bare address.
    if !ip_s.contains('/') {
        return Err(format!(
            "--ip: '{ip_s}' has no prefix length (e.g. 198.18.0.1/24)"
        ));
    }
    Ok(ip)
}

fn parse_gw(g: &str, ip: Ipv4Cidr) -> Result<Ipv4Addr, String> {
    let a: Ipv4Addr = g.trim().parse().map_err(|_| {
        format!("--gw: invalid address '{g}' (expected an IPv4 address, e.g. 198.18.0.254)")
    })?;
    if !ip.contains(a) {
        return Err(format!(
            "--gw: gateway {a} is not inside --ip {ip} (pick a gateway on the port's subnet)"
        ));
    }
    Ok(a)
}

/// --src-range FIRST-LAST: addresses on --ip's subnet, none of them --ip itself, the
/// gateway or a destination.
fn parse_src_range(
    r: &str,
    ip: Ipv4Cidr,
    gw: Option<Ipv4Addr>,
    dst: &[SocketAddrV4],
) -> Result<(Ipv4Addr, Ipv4Addr), String> {
    let bad = || {
        format!(
            "--src-range: invalid range '{r}' (expected FIRST-LAST, e.g. 198.18.0.10-198.18.0.73)"
        )
    };
    let (a, b) = r.split_once('-').ok_or_else(bad)?;
    let a: Ipv4Addr = a.trim().parse().map_err(|_| bad())?;
    let b: Ipv4Addr = b.trim().parse().map_err(|_| bad())?;
    if u32::from(b) < u32::from(a) {
        return Err(format!(
            "--src-range: {a} comes after {b} (give FIRST-LAST in order)"
        ));
    }
    if !ip.contains(a) || !ip.contains(b) {
        return Err(format!(
            "--src-range: {a}-{b} is not inside --ip {ip} (the addresses must be on the port's subnet)"
        ));
    }
    let inside = |x: Ipv4Addr| (u32::from(a)..=u32::from(b)).contains(&u32::from(x));
    let taken = std::iter::once(ip.addr)
        .chain(gw)
        .chain(dst.iter().map(|d| *d.ip()))
        .find(|x| inside(*x));
    if let Some(x) = taken {
        return Err(format!(
            "--src-range: {a}-{b} includes {x}, which is --ip, the gateway or a destination"
        ));
    }
    Ok((a, b))
}

fn parse_dst(s: &str) -> Result<SocketAddrV4, String> {
    s.trim().parse::<SocketAddrV4>().map_err(|_| {
        format!("--dst: invalid destination '{s}' (expected ip:port, e.g. 198.19.0.2:5201)")
    })
}

fn parse_neigh(s: &str) -> Result<(Ipv4Addr, MacAddr), String> {
    let bad = || {
        format!(
            "--neigh: invalid entry '{s}' (expected ip=mac, e.g. 198.18.0.254=02:00:00:00:00:01)"
        )
    };
    let (ip, mac) = s.split_once('=').ok_or_else(bad)?;
    let ip: Ipv4Addr = ip.trim().parse().map_err(|_| bad())?;
    let mac: MacAddr = mac.trim().parse().map_err(|_| bad())?;
    Ok((ip, mac))
}

/// The in-process peer answers ARP for one address on our subnet, so every --dst must be that
/// one address, on-link and not ours.
fn check_ack_peer(ip: Ipv4Cidr, dst: &[SocketAddrV4]) -> Result<(), String> {
    let peer = *dst[0].ip();
    if !ip.contains(peer) || peer == ip.addr {
        return Err(format!(
            "--ack-peer: --dst {peer} must be another address on --ip {ip}'s subnet (the in-process peer answers ARP for it), e.g. --ip 198.18.0.1/24 --dst 198.18.0.2:5201"
        ));
    }
    if let Some(d) = dst.iter().find(|d| d.ip() != &peer) {
        return Err(format!(
            "--ack-peer: every --dst must use one address (the in-process peer is {peer}, not {})",
            d.ip()
        ));
    }
    Ok(())
}

/// No route: say so before EAL starts (the stack's own ConnectError text).
fn check_routes(ip: Ipv4Cidr, gw: Option<Ipv4Addr>, dst: &[SocketAddrV4]) -> Result<(), String> {
    let mut routes = RouteTable::new();
    routes.add_connected(ip);
    if let Some(g) = gw {
        routes.add(Route {
            dst: Ipv4Cidr {
                addr: Ipv4Addr::UNSPECIFIED,
                prefix_len: 0,
            },
            gateway: Some(g),
        });
    }
    for d in dst {
        if routes.lookup(*d.ip()).is_none() {
            return Err(linerate::ConnectError::NoRoute(*d.ip()).to_string());
        }
    }
    Ok(())
}
