//! RSS on a multi-queue port: what `Port::open` asks of the device before configure, and what
//! it reads back after start. The read-back, not the request, is what a stack may steer by:
//! PMDs substitute their own key or keep their own RETA without saying so.
use super::PortConfig;
use linerate_dpdk_sys as sys;
use std::sync::Mutex;

/// RSS as the device applies it on a started port, read back from it: with these a connection
/// can pick a source port whose inbound frames hash (Toeplitz over `key`) to the RETA entry of
/// the queue that owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RssInfo {
    /// The hash key in effect. Differs from [`PortConfig::rss_key`] when the device did not
    /// take that one (e.g. its length is not the device's key size): then it is the device's.
    pub key: Vec<u8>,
    /// The redirection table: entry `hash % reta.len()` is the RX queue a frame lands on.
    pub reta: Vec<u16>,
    /// The flow types hashed (`RTE_ETH_RSS_*` bits), as the device reports them.
    pub hash_functions: u64,
}

/// What a port asked of RSS at configure time.
pub(crate) struct RssRequest {
    /// The caller's key when it fits the device (`None`: the device's own).
    key: Option<Box<[u8]>>,
}

/// Keys that ports' configurations point at, by port id: ethdev keeps the pointer from
/// `rte_eth_conf`, and PMDs read it at start (and restart), so a key lives until the port is
/// configured again, even when `Port::open` fails after configure.
static KEYS: Mutex<Vec<(u16, Box<[u8]>)>> = Mutex::new(Vec::new());

/// Sets `conf` up for RSS if the port has several RX queues and the device hashes
/// non-fragmented IPv4 TCP; `None` leaves RX in single-queue mode. `conf` points into the
/// request (its key) from then on.
pub(crate) fn request(
    cfg: &PortConfig,
    info: &sys::rte_eth_dev_info,
    conf: &mut sys::rte_eth_conf,
) -> Option<RssRequest> {
    let offered = info.flow_type_rss_offloads;
    if cfg.rx_queues < 2 || offered & sys::LR_ETH_RSS_NONFRAG_IPV4_TCP == 0 {
        return None;
    }
    // A key of the wrong size fails configure on some PMDs: use the device's instead; the
    // read-back shows which key is in effect.
    let mut key = cfg
        .rss_key
        .as_ref()
        .filter(|k| !k.is_empty() && k.len() == info.hash_key_size as usize)
        .map(|k| k.clone().into_boxed_slice());
    conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
    // Without this offload some PMDs leave the mbuf's hash field unset.
    conf.rxmode.offloads |= info.rx_offload_capa & sys::LR_ETH_RX_OFFLOAD_RSS_HASH;
    let rss = &mut conf.rx_adv_conf.rss_conf;
    (rss.rss_key, rss.rss_key_len) = match key.as_mut() {
        Some(k) => (k.as_mut_ptr(), k.len() as u8),
        None => (std::ptr::null_mut(), 0),
    };
    rss.rss_hf = (sys::LR_ETH_RSS_IPV4 | sys::LR_ETH_RSS_NONFRAG_IPV4_TCP) & offered;
    Some(RssRequest { key })
}

/// Port `id` was configured with `req`: keeps its key (dropping the one an earlier
/// configuration pointed at). True when RSS is on.
pub(crate) fn configured(id: u16, req: Option<RssRequest>) -> bool {
    let mut keys = KEYS.lock().unwrap_or_else(|p| p.into_inner());
    keys.retain(|(p, _)| *p != id);
    match req {
        Some(RssRequest { key: Some(k) }) => keys.push((id, k)),
        Some(_) => {}
        None => return false,
    }
    true
}

const GROUP: usize = sys::LR_ETH_RETA_GROUP_SIZE as usize;

/// On a started port configured for RSS: writes a round-robin RETA over the RX queues, then
/// reads the RETA and the key back. `None` when the device refuses either read (mlx5 and
/// some VFs do): the port works, but its RSS is not known.
pub(crate) fn read_back(id: u16, info: &sys::rte_eth_dev_info, rx_queues: u16) -> Option<RssInfo> {
    let size = info.reta_size as usize;
    if size == 0 || rx_queues == 0 {
        return None;
    }
    let mut groups = vec![sys::rte_eth_rss_reta_entry64::default(); size.div_ceil(GROUP)];
    for i in 0..size {
        let g = &mut groups[i / GROUP];
        g.mask |= 1 << (i % GROUP);
        g.reta[i % GROUP] = (i % rx_queues as usize) as u16;
    }
    // SAFETY: valid started port; `groups` holds reta_size entries, as ethdev requires. A
    // refusal is fine: the query below reports whatever table is in effect.
    unsafe { sys::rte_eth_dev_rss_reta_update(id, groups.as_mut_ptr(), info.reta_size) };
    for g in &mut groups {
        g.reta = [0; GROUP];
    }
    // SAFETY: as above; the masks still select every entry, which the query fills in.
    let rc = unsafe { sys::rte_eth_dev_rss_reta_query(id, groups.as_mut_ptr(), info.reta_size) };
    if rc != 0 {
        return None;
    }
    let reta = (0..size)
        .map(|i| groups[i / GROUP].reta[i % GROUP])
        .collect();

    // Room for any key (its length is a u8); some PMDs copy their key without looking at
    // the length given, so the buffer is never smaller than what they can write.
    let mut key = vec![0u8; 256];
    let asked = if info.hash_key_size > 0 {
        info.hash_key_size
    } else {
        u8::MAX
    };
    let mut conf = sys::rte_eth_rss_conf {
        rss_key: key.as_mut_ptr(),
        rss_key_len: asked,
        rss_hf: 0,
    };
    // SAFETY: valid started port; `rss_key` points at 256 writable bytes.
    let rc = unsafe { sys::rte_eth_dev_rss_hash_conf_get(id, &mut conf) };
    // Without a reported key size, a length the PMD left as asked says nothing.
    let len = match conf.rss_key_len {
        0 => info.hash_key_size,
        n if info.hash_key_size == 0 && n == u8::MAX => 0,
        n => n,
    } as usize;
    if rc != 0 || len == 0 {
        return None;
    }
    key.truncate(len);
    Some(RssInfo {
        key,
        reta,
        hash_functions: conf.rss_hf,
    })
}
