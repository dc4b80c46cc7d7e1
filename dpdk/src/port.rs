use super::rss::{self, RssInfo};
use super::{errno, strerror, DpdkError, Eal, Mempool, QueuePair, Result};
use linerate_proto::wire::ethernet::MacAddr;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Largest burst handed to or taken from a queue in one call.
pub const MAX_BURST: usize = 32;

/// How to set a port up.
#[derive(Debug, Clone)]
pub struct PortConfig {
    /// Number of RX queues (1..=64); one per stack core.
    pub rx_queues: u16,
    /// Number of TX queues (1..=64); one per stack core.
    pub tx_queues: u16,
    /// RX ring size per queue, in descriptors (clamped to the device's limits). Each holds an
    /// mbuf, so the RX pool must cover `rx_queues * rx_desc`.
    pub rx_desc: u16,
    /// TX ring size per queue, in descriptors (clamped to the device's limits).
    pub tx_desc: u16,
    /// Enable every TX/RX offload the device has that linerate uses.
    pub offloads: bool,
    /// Use TSO if the device has it (off by default: linerate sends MSS segments).
    pub tso: bool,
    /// MTU to set on the port; `None` keeps the device's default.
    pub mtu: Option<u16>,
    /// Put the port in promiscuous mode (best effort: a failure is ignored).
    pub promiscuous: bool,
    /// RSS hash key for a port with several RX queues (e.g. the 40-byte Microsoft key); `None`,
    /// or a length other than the device's key size, keeps the device's key. See [`Port::rss`].
    pub rss_key: Option<Vec<u8>>,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            rx_queues: 1,
            tx_queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            offloads: true,
            tso: false,
            mtu: None,
            promiscuous: false,
            rss_key: None,
        }
    }
}

/// Which offloads are *enabled* on the port (not merely offered by the device).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offloads {
    /// The NIC fills in IPv4 header checksums on TX.
    pub tx_ipv4_cksum: bool,
    /// The NIC fills in TCP checksums on TX.
    pub tx_tcp_cksum: bool,
    /// The NIC segments large TCP sends (TSO).
    pub tx_tso: bool,
    /// The NIC accepts chained (multi-segment) mbufs on TX.
    pub tx_multi_seg: bool,
    /// The NIC checks IPv4 header checksums on RX (see [`crate::Mbuf::rx_cksum_good`]).
    pub rx_ipv4_cksum: bool,
    /// The NIC checks TCP checksums on RX (see [`crate::Mbuf::rx_cksum_good`]).
    pub rx_tcp_cksum: bool,
    /// Most mbuf segments the NIC takes in one TSO packet (`tx_desc_lim.nb_seg_max`; 0: the
    /// driver gives no limit).
    pub tx_seg_max: u16,
}

impl std::fmt::Display for Offloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let items = [
            (self.tx_ipv4_cksum, "tx-ipv4-cksum"),
            (self.tx_tcp_cksum, "tx-tcp-cksum"),
            (self.tx_tso, "tx-tso"),
            (self.tx_multi_seg, "tx-multi-seg"),
            (self.rx_ipv4_cksum, "rx-ipv4-cksum"),
            (self.rx_tcp_cksum, "rx-tcp-cksum"),
        ];
        let on: Vec<&str> = items.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
        if on.is_empty() {
            f.write_str("none (checksums in software)")
        } else {
            f.write_str(&on.join(","))
        }
    }
}

/// Link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    /// The link is up.
    pub up: bool,
    /// Link speed in Mbit/s, as the driver reports it.
    pub speed_mbps: u32,
    /// The link is full duplex.
    pub full_duplex: bool,
}

/// The basic ethdev counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Packets the NIC dropped on RX because the RX ring was full (not polled fast enough).
    pub imissed: u64,
    /// Packets received with errors.
    pub ierrors: u64,
    /// Packets that failed to send.
    pub oerrors: u64,
    /// RX mbuf allocation failures (the RX pool ran dry).
    pub rx_nombuf: u64,
}

pub(crate) struct PortInner {
    pub(crate) id: u16,
    name: String,
    driver: String,
    offloads: Offloads,
    rx_queues: u16,
    tx_queues: u16,
    rss: Option<RssInfo>,
    pub(crate) claimed: AtomicU64,
    // Keeps the RX pool and EAL alive as long as the port can use them.
    _pool: Arc<Mempool>,
    _eal: Eal,
}

impl Drop for PortInner {
    fn drop(&mut self) {
        // SAFETY: the port is valid; no queue handle is left (each holds the Arc).
        unsafe {
            linerate_dpdk_sys::rte_eth_dev_stop(self.id);
            linerate_dpdk_sys::rte_eth_dev_close(self.id);
        }
    }
}

/// An ethdev port: configured, started, and its queues handed out one owner each.
#[derive(Clone)]
pub struct Port {
    pub(crate) inner: Arc<PortInner>,
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Port")
            .field("id", &self.inner.id)
            .field("name", &self.inner.name)
            .field("driver", &self.inner.driver)
            .finish()
    }
}

fn port_err(port: u16, op: &'static str, rc: i32) -> DpdkError {
    // ethdev returns -errno; rte_errno is not always set.
    let e = if rc < 0 { -rc } else { errno() };
    DpdkError::Port {
        port,
        op,
        errno: e,
        msg: strerror(e),
    }
}

/// Names of all ports EAL knows.
pub fn port_names() -> Vec<String> {
    (0..linerate_dpdk_sys::RTE_MAX_ETHPORTS as u16)
        .filter_map(port_name)
        .collect()
}

fn port_name(id: u16) -> Option<String> {
    // SAFETY: plain query with a valid buffer of the size DPDK documents.
    unsafe {
        if linerate_dpdk_sys::rte_eth_dev_is_valid_port(id) == 0 {
            return None;
        }
        let mut buf = [0 as std::os::raw::c_char; linerate_dpdk_sys::RTE_ETH_NAME_MAX_LEN as usize];
        if linerate_dpdk_sys::rte_eth_dev_get_name_by_port(id, buf.as_mut_ptr()) != 0 {
            return None;
        }
        Some(CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned())
    }
}

/// Resolves a port given as an id ("0"), a PCI address or a vdev name ("net_null0").
pub fn find_port(wanted: &str) -> Result<u16> {
    if let Ok(id) = wanted.parse::<u16>() {
        if port_name(id).is_some() {
            return Ok(id);
        }
    } else if let Ok(c) = CString::new(wanted) {
        let mut id = 0u16;
        // SAFETY: valid C string and out pointer.
        if unsafe { linerate_dpdk_sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) } == 0 {
            return Ok(id);
        }
    }
    // A vdev whose probe failed (e.g. an interface that does not exist) explains itself in
    // EAL's log; say so rather than only "not found".
    let log = super::eal::init_log();
    let probe_error = log
        .lines()
        .find(|l| {
            l.contains("failed") && !l.contains("Bus (vdev) probe failed") && !l.starts_with(' ')
        })
        .map(|l| l.trim().to_owned());
    Err(DpdkError::NoSuchPort {
        wanted: wanted.to_owned(),
        available: port_names(),
        probe_error,
    })
}

impl Port {
    /// Finds, configures and starts a port. RX queues take their mbufs from `pool`.
    pub fn open(eal: &Eal, wanted: &str, cfg: &PortConfig, pool: Arc<Mempool>) -> Result<Port> {
        let id = find_port(wanted)?;
        let name = port_name(id).unwrap_or_else(|| wanted.to_owned());
        if cfg.rx_queues == 0 || cfg.tx_queues == 0 || cfg.rx_queues > 64 || cfg.tx_queues > 64 {
            return Err(DpdkError::InvalidArg(format!(
                "port {name}: queue counts must be 1..=64 (got rx {} tx {})",
                cfg.rx_queues, cfg.tx_queues
            )));
        }
        // SAFETY: a zeroed dev_info is a valid out-parameter.
        let mut info: linerate_dpdk_sys::rte_eth_dev_info = unsafe { std::mem::zeroed() };
        // SAFETY: valid port id and out pointer.
        let rc = unsafe { linerate_dpdk_sys::rte_eth_dev_info_get(id, &mut info) };
        if rc != 0 {
            return Err(port_err(id, "dev_info_get", rc));
        }
        let driver = if info.driver_name.is_null() {
            String::from("?")
        } else {
            // SAFETY: DPDK's driver name is a static NUL-terminated string.
            unsafe { CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        if cfg.rx_queues > info.max_rx_queues || cfg.tx_queues > info.max_tx_queues {
            return Err(DpdkError::InvalidArg(format!(
                "port {name} ({driver}) has at most {} RX and {} TX queues (asked for {} and {})",
                info.max_rx_queues, info.max_tx_queues, cfg.rx_queues, cfg.tx_queues
            )));
        }
        // Every RX descriptor holds an mbuf; a pool that cannot fill them starves RX at once.
        let need = cfg.rx_queues as u32 * cfg.rx_desc as u32 + 64;
        if pool.size() < need {
            return Err(DpdkError::InvalidArg(format!(
                "mbuf pool '{}' of {} mbufs is too small for {} RX queue(s) x {} descriptors: give it at least {need}",
                pool.name(), pool.size(), cfg.rx_queues, cfg.rx_desc
            )));
        }
        let txcapa = info.tx_offload_capa;
        let rxcapa = info.rx_offload_capa;
        let has = |capa: u64, bit: u64| cfg.offloads && capa & bit != 0;
        let mut offloads = Offloads {
            tx_ipv4_cksum: has(txcapa, linerate_dpdk_sys::LR_ETH_TX_OFFLOAD_IPV4_CKSUM),
            tx_tcp_cksum: has(txcapa, linerate_dpdk_sys::LR_ETH_TX_OFFLOAD_TCP_CKSUM),
            tx_tso: cfg.tso && has(txcapa, linerate_dpdk_sys::LR_ETH_TX_OFFLOAD_TCP_TSO),
            // net_null never reads a frame and frees whole chains, so chained frames are
            // safe on it although 22.11 does not list the capability.
            tx_multi_seg: has(txcapa, linerate_dpdk_sys::LR_ETH_TX_OFFLOAD_MULTI_SEGS)
                || (cfg.offloads && driver == "net_null"),
            rx_ipv4_cksum: has(rxcapa, linerate_dpdk_sys::LR_ETH_RX_OFFLOAD_IPV4_CKSUM),
            rx_tcp_cksum: has(rxcapa, linerate_dpdk_sys::LR_ETH_RX_OFFLOAD_TCP_CKSUM),
            tx_seg_max: info.tx_desc_lim.nb_seg_max,
        };
        // A chained frame is two segments (header, payload view): a driver that takes fewer
        // per MTU-sized packet gets flat frames.
        let mtu_segs = info.tx_desc_lim.nb_mtu_seg_max;
        if mtu_segs == 1 || offloads.tx_seg_max == 1 {
            offloads.tx_multi_seg = false;
        }
        let bit = |on: bool, b: u64| if on { b } else { 0 };
        // SAFETY: a zeroed rte_eth_conf is DPDK's documented default configuration.
        let mut conf: linerate_dpdk_sys::rte_eth_conf = unsafe { std::mem::zeroed() };
        conf.txmode.offloads = bit(
            offloads.tx_ipv4_cksum,
            linerate_dpdk_sys::LR_ETH_TX_OFFLOAD_IPV4_CKSUM,
        ) | bit(
            offloads.tx_tcp_cksum,
            linerate_dpdk_sys::LR_ETH_TX_OFFLOAD_TCP_CKSUM,
        ) | bit(
            offloads.tx_tso,
            linerate_dpdk_sys::LR_ETH_TX_OFFLOAD_TCP_TSO,
        ) | bit(
            offloads.tx_multi_seg && txcapa & linerate_dpdk_sys::LR_ETH_TX_OFFLOAD_MULTI_SEGS != 0,
            linerate_dpdk_sys::LR_ETH_TX_OFFLOAD_MULTI_SEGS,
        );
        conf.rxmode.offloads = bit(
            offloads.rx_ipv4_cksum,
            linerate_dpdk_sys::LR_ETH_RX_OFFLOAD_IPV4_CKSUM,
        ) | bit(
            offloads.rx_tcp_cksum,
            linerate_dpdk_sys::LR_ETH_RX_OFFLOAD_TCP_CKSUM,
        );
        let rss_req = rss::request(cfg, &info, &mut conf);
        // SAFETY: valid port and configuration.
        let rc = unsafe {
            linerate_dpdk_sys::rte_eth_dev_configure(id, cfg.rx_queues, cfg.tx_queues, &conf)
        };
        if rc != 0 {
            return Err(port_err(id, "configure", rc));
        }
        let rss_on = rss::configured(id, rss_req);
        if let Some(mtu) = cfg.mtu {
            // SAFETY: valid configured port.
            let rc = unsafe { linerate_dpdk_sys::rte_eth_dev_set_mtu(id, mtu) };
            if rc != 0 {
                return Err(port_err(id, "set_mtu", rc));
            }
        }
        let mut rxd = cfg.rx_desc;
        let mut txd = cfg.tx_desc;
        // SAFETY: valid port; the function clamps the counts to the device's limits.
        let rc =
            unsafe { linerate_dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut rxd, &mut txd) };
        if rc != 0 {
            return Err(port_err(id, "adjust_nb_rx_tx_desc", rc));
        }
        // SAFETY: valid port.
        let socket = unsafe { linerate_dpdk_sys::rte_eth_dev_socket_id(id) };
        let socket = if socket < 0 { 0 } else { socket as u32 };
        for q in 0..cfg.rx_queues {
            let mut rxconf = info.default_rxconf;
            rxconf.offloads = conf.rxmode.offloads;
            // SAFETY: valid port, queue index < configured count, live pool.
            let rc = unsafe {
                linerate_dpdk_sys::rte_eth_rx_queue_setup(
                    id,
                    q,
                    rxd,
                    socket,
                    &rxconf,
                    pool.as_ptr(),
                )
            };
            if rc != 0 {
                return Err(port_err(id, "rx_queue_setup", rc));
            }
        }
        for q in 0..cfg.tx_queues {
            let mut txconf = info.default_txconf;
            txconf.offloads = conf.txmode.offloads;
            // SAFETY: valid port, queue index < configured count.
            let rc =
                unsafe { linerate_dpdk_sys::rte_eth_tx_queue_setup(id, q, txd, socket, &txconf) };
            if rc != 0 {
                return Err(port_err(id, "tx_queue_setup", rc));
            }
        }
        if cfg.promiscuous {
            // SAFETY: valid port. Failure is harmless (some vdevs are always promiscuous).
            unsafe { linerate_dpdk_sys::rte_eth_promiscuous_enable(id) };
        }
        // SAFETY: valid, configured port.
        let rc = unsafe { linerate_dpdk_sys::rte_eth_dev_start(id) };
        if rc != 0 {
            return Err(port_err(id, "start", rc));
        }
        let rss = rss_on
            .then(|| rss::read_back(id, &info, cfg.rx_queues))
            .flatten();
        Ok(Port {
            inner: Arc::new(PortInner {
                id,
                name,
                driver,
                offloads,
                rx_queues: cfg.rx_queues,
                tx_queues: cfg.tx_queues,
                rss,
                claimed: AtomicU64::new(0),
                _pool: pool,
                _eal: eal.clone(),
            }),
        })
    }

    /// The ethdev port id.
    pub fn id(&self) -> u16 {
        self.inner.id
    }

    /// The device name EAL gave the port (e.g. `net_af_packet0`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The PMD's driver name (e.g. `net_af_packet`).
    pub fn driver(&self) -> &str {
        &self.inner.driver
    }

    /// The offloads enabled on the port.
    pub fn offloads(&self) -> Offloads {
        self.inner.offloads
    }

    /// Number of RX queues.
    pub fn rx_queues(&self) -> u16 {
        self.inner.rx_queues
    }

    /// RSS as read back from the started port: `Some` only with several RX queues on a device
    /// that hashes IPv4 TCP and reports both its key and its RETA. `None` otherwise (one
    /// queue; net_af_packet, af_xdp or virtio without RSS; net_tap, which has no RETA;
    /// net_null, which does not say its key's size; a PMD that refuses a read-back, as mlx5
    /// and some VFs may): then which queue a flow lands on is not known.
    pub fn rss(&self) -> Option<&RssInfo> {
        self.inner.rss.as_ref()
    }

    /// The port's MAC address.
    pub fn mac(&self) -> Result<MacAddr> {
        let mut a = linerate_dpdk_sys::rte_ether_addr::default();
        // SAFETY: valid port and out pointer.
        let rc = unsafe { linerate_dpdk_sys::rte_eth_macaddr_get(self.inner.id, &mut a) };
        if rc != 0 {
            return Err(port_err(self.inner.id, "macaddr_get", rc));
        }
        Ok(MacAddr(a.addr_bytes))
    }

    /// The current link state, without waiting for the link to come up.
    pub fn link(&self) -> Result<LinkStatus> {
        let mut l = linerate_dpdk_sys::rte_eth_link::default();
        // SAFETY: valid port and out pointer.
        let rc = unsafe { linerate_dpdk_sys::rte_eth_link_get_nowait(self.inner.id, &mut l) };
        if rc != 0 {
            return Err(port_err(self.inner.id, "link_get", rc));
        }
        Ok(LinkStatus {
            up: l.link_status() != 0,
            speed_mbps: l.link_speed,
            full_duplex: l.link_duplex() != 0,
        })
    }

    /// The basic ethdev counters (since start or the last [`Port::reset_stats`]).
    pub fn stats(&self) -> Result<PortStats> {
        let mut s = linerate_dpdk_sys::rte_eth_stats::default();
        // SAFETY: valid port and out pointer.
        let rc = unsafe { linerate_dpdk_sys::rte_eth_stats_get(self.inner.id, &mut s) };
        if rc != 0 {
            return Err(port_err(self.inner.id, "stats_get", rc));
        }
        Ok(PortStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    /// All extended statistics, by name.
    pub fn xstats(&self) -> Result<Vec<(String, u64)>> {
        let id = self.inner.id;
        // SAFETY: a NULL buffer of size 0 asks for the count.
        let n = unsafe { linerate_dpdk_sys::rte_eth_xstats_get_names(id, std::ptr::null_mut(), 0) };
        if n < 0 {
            return Err(port_err(id, "xstats_get_names", n));
        }
        let n = n as usize;
        let mut names = vec![
            linerate_dpdk_sys::rte_eth_xstat_name {
                name: [0; linerate_dpdk_sys::RTE_ETH_XSTATS_NAME_SIZE as usize]
            };
            n
        ];
        let mut vals = vec![linerate_dpdk_sys::rte_eth_xstat::default(); n];
        // SAFETY: buffers hold n entries each.
        let got_names = unsafe {
            linerate_dpdk_sys::rte_eth_xstats_get_names(id, names.as_mut_ptr(), n as u32)
        };
        // SAFETY: valid port; `vals` holds n entries and DPDK writes at most n.
        let got_vals =
            unsafe { linerate_dpdk_sys::rte_eth_xstats_get(id, vals.as_mut_ptr(), n as u32) };
        if got_names < 0 || got_vals < 0 {
            return Err(port_err(id, "xstats_get", got_names.min(got_vals)));
        }
        let m = (got_names as usize).min(got_vals as usize).min(n);
        Ok(vals[..m]
            .iter()
            .filter_map(|v| {
                let nm = names.get(v.id as usize)?;
                // SAFETY: DPDK NUL-terminates names within the fixed-size array.
                let s = unsafe { CStr::from_ptr(nm.name.as_ptr()) }
                    .to_string_lossy()
                    .into_owned();
                Some((s, v.value))
            })
            .collect())
    }

    /// One extended statistic by name.
    pub fn xstat(&self, name: &str) -> Result<Option<u64>> {
        Ok(self
            .xstats()?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v))
    }

    /// Resets basic and extended statistics.
    pub fn reset_stats(&self) {
        // SAFETY: valid port.
        unsafe {
            linerate_dpdk_sys::rte_eth_stats_reset(self.inner.id);
            linerate_dpdk_sys::rte_eth_xstats_reset(self.inner.id);
        }
    }

    /// Claims RX/TX queue pair `q`. Each pair has one owner, so burst calls need no lock.
    pub fn queue(&self, q: u16) -> Result<QueuePair> {
        if q >= self.inner.rx_queues.min(self.inner.tx_queues) {
            return Err(DpdkError::InvalidArg(format!(
                "port {} has no queue pair {q}",
                self.inner.name
            )));
        }
        let bit = 1u64 << q;
        if self.inner.claimed.fetch_or(bit, Ordering::AcqRel) & bit != 0 {
            return Err(DpdkError::InvalidArg(format!(
                "queue pair {q} of port {} is already owned",
                self.inner.name
            )));
        }
        Ok(QueuePair {
            port: self.clone(),
            queue: q,
        })
    }
}
