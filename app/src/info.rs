//! `linerate info`: the port report, and the first proof that the DPDK path reaches the
//! network (ARP for the gateway through the PMD).
use linerate::dpdk::{Eal, Mempool, Port, PortConfig, MBUF_DEFAULT_DATAROOM};
use linerate::Ipv4Cidr;
use linerate_proto::wire::arp::{self, ArpPacket};
use linerate_proto::wire::ethernet::{EtherType, EthernetFrame, MacAddr};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// EAL arguments, space-separated, e.g. "-l 0 --vdev=net_af_packet0,iface=lr-gen0"
    #[arg(long, allow_hyphen_values = true)]
    pub dpdk: String,
    /// Port: id, PCI address or vdev name (default: the first port)
    #[arg(long, default_value = "0")]
    pub port: String,
    /// Our address on the port, with prefix (e.g. 198.18.0.1/24)
    #[arg(long)]
    pub ip: Option<Ipv4Cidr>,
    /// Gateway to resolve by ARP (e.g. 198.18.0.254)
    #[arg(long)]
    pub gw: Option<Ipv4Addr>,
    /// How long to wait for the ARP reply, in milliseconds
    #[arg(long, default_value_t = 3000)]
    pub arp_timeout_ms: u64,
}

pub fn run(a: &InfoArgs) -> Result<(), String> {
    let args: Vec<&str> = a.dpdk.split_whitespace().collect();
    let eal = Eal::init(&args).map_err(|e| e.to_string())?;
    let pool = Arc::new(
        Mempool::new(&eal, "info_pool", 4096, 128, MBUF_DEFAULT_DATAROOM, None)
            .map_err(|e| e.to_string())?,
    );
    let port = Port::open(&eal, &a.port, &PortConfig::default(), pool.clone())
        .map_err(|e| e.to_string())?;
    let mac = port.mac().map_err(|e| e.to_string())?;
    let link = port.link().map_err(|e| e.to_string())?;
    println!("port        {} (id {})", port.name(), port.id());
    println!("driver      {}", port.driver());
    println!("mac         {mac}");
    println!(
        "link        {} {} Mbit/s {}",
        if link.up { "up" } else { "down" },
        link.speed_mbps,
        if link.full_duplex {
            "full-duplex"
        } else {
            "half-duplex"
        }
    );
    println!("offloads    {}", port.offloads());
    println!(
        "mempool     {} mbufs of {} bytes, {} in use",
        pool.size(),
        MBUF_DEFAULT_DATAROOM,
        pool.in_use()
    );
    if let (Some(ip), Some(gw)) = (a.ip, a.gw) {
        if !ip.contains(gw) {
            return Err(format!(
                "gateway {gw} is not inside {ip}: pick a gateway on the port's subnet"
            ));
        }
        let t0 = Instant::now();
        let gw_mac = arp_resolve(
            &port,
            &pool,
            mac,
            ip.addr,
            gw,
            Duration::from_millis(a.arp_timeout_ms),
        )?;
        println!(
            "gateway     {gw} is-at {gw_mac} (ARP through the PMD, {:.1} ms)",
            t0.elapsed().as_secs_f64() * 1e3
        );
    }
    let st = port.stats().map_err(|e| e.to_string())?;
    println!(
        "stats       rx {} pkts / tx {} pkts, imissed {} oerrors {} rx_nombuf {}",
        st.ipackets, st.opackets, st.imissed, st.oerrors, st.rx_nombuf
    );
    Ok(())
}

fn arp_resolve(
    port: &Port,
    pool: &Mempool,
    our_mac: MacAddr,
    our_ip: Ipv4Addr,
    target: Ipv4Addr,
    timeout: Duration,
) -> Result<MacAddr, String> {
    let mut q = port.queue(0).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    let mut next = Instant::now();
    let mut rx = Vec::new();
    while Instant::now() < deadline {
        if Instant::now() >= next {
            let mut m = pool.alloc().ok_or("mbuf pool exhausted")?;
            let buf = m
                .append(arp::FRAME_LEN)
                .ok_or("mbuf too small for an ARP frame")?;
            arp::emit_frame(
                buf,
                arp::ArpOp::REQUEST,
                MacAddr::BROADCAST,
                our_mac,
                our_ip,
                MacAddr::ZERO,
                target,
            )
            .map_err(|e| e.to_string())?;
            let mut b = vec![m];
            q.tx_burst(&mut b);
            next = Instant::now() + Duration::from_millis(500);
        }
        q.rx_burst(&mut rx);
        for m in rx.drain(..) {
            let Ok(eth) = EthernetFrame::new_checked(m.data()) else {
                continue;
            };
            if eth.ethertype() != EtherType::ARP {
                continue;
            }
            if let Ok(p) = ArpPacket::new_checked(eth.payload()) {
                if p.operation() == arp::ArpOp::REPLY && p.sender_ip() == target {
                    return Ok(p.sender_mac());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Err(format!("no ARP reply from {target} within {} ms: is the topology up (scripts/topology.sh up) and the port on the right interface?", timeout.as_millis()))
}
