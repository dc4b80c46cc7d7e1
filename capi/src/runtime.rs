//! `lr_runtime`: EAL, one port and its hugepage mbuf pool.
use crate::{guard, put_err, str_arg};
use linerate::dpdk::{Eal, Mempool, Port, PortConfig, MBUF_DEFAULT_DATAROOM};
use linerate::steer::{mesh, MeshPort, RSS_KEY_MS};
use std::ffi::c_char;
use std::ptr;
use std::sync::{Arc, Mutex};

/// Mbufs per queue pair: the RX and TX rings and a few thousand in flight.
const MBUFS_PER_QUEUE: u32 = 16_383;

/// EAL, a port with one queue pair per EAL lcore, and the pool its stacks share.
pub struct lr_runtime {
    pub(crate) eal: Eal,
    pub(crate) pool: Arc<Mempool>,
    pub(crate) port: Port,
    /// With several queue pairs: each stack's end of the mesh that passes a frame landing
    /// on another stack's queue to its owner (taken by `lr_stack_new`).
    pub(crate) mesh: Arc<Mutex<Vec<Option<MeshPort>>>>,
}

/// Starts EAL with `eal_args` (as on a DPDK command line, space-separated, without the
/// program name), opens `port` (a name such as "net_null0" or a port number) with one queue
/// pair per lcore of `-l`, and makes the mbuf pool. NULL on failure, with a one-line reason
/// in `err` (of `errlen` bytes; may be NULL). EAL starts once per process.
///
/// # Safety
/// `eal_args` and `port` are NULL or NUL-terminated strings; `err` is NULL or `errlen`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn lr_runtime_new(
    eal_args: *const c_char,
    port: *const c_char,
    err: *mut c_char,
    errlen: usize,
) -> *mut lr_runtime {
    // SAFETY: the caller's contract for the strings.
    guard(ptr::null_mut(), || match unsafe { new(eal_args, port) } {
        Ok(rt) => Box::into_raw(Box::new(rt)),
        Err(msg) => {
            // SAFETY: `err` is NULL or `errlen` writable bytes (the call's contract).
            unsafe { put_err(err, errlen, &msg) };
            ptr::null_mut()
        }
    })
}

/// # Safety
/// The strings are NULL or NUL-terminated.
unsafe fn new(eal_args: *const c_char, port: *const c_char) -> Result<lr_runtime, String> {
    // SAFETY: the string is NULL or NUL-terminated (the call's contract).
    let args = unsafe { str_arg(eal_args) }.ok_or("eal_args: NULL or not UTF-8")?;
    // SAFETY: the string is NULL or NUL-terminated (the call's contract).
    let name = unsafe { str_arg(port) }.ok_or("port: NULL or not UTF-8")?;
    let argv: Vec<&str> = args.split_whitespace().collect();
    let eal = Eal::init(&argv).map_err(|e| e.to_string())?;
    let queues = eal.lcores().len().clamp(1, 64) as u16;
    let pool = Mempool::new(
        &eal,
        "lr_capi_pool",
        MBUFS_PER_QUEUE * queues as u32,
        512,
        MBUF_DEFAULT_DATAROOM,
        None,
    )
    .map_err(|e| e.to_string())?;
    let pool = Arc::new(pool);
    let cfg = PortConfig {
        rx_queues: queues,
        tx_queues: queues,
        rss_key: (queues > 1).then(|| RSS_KEY_MS.to_vec()),
        ..Default::default()
    };
    let port = Port::open(&eal, name, &cfg, pool.clone()).map_err(|e| e.to_string())?;
    let mesh = match queues {
        1 => Vec::new(),
        n => mesh(n as usize, 4096).into_iter().map(Some).collect(),
    };
    Ok(lr_runtime {
        eal,
        pool,
        port,
        mesh: Arc::new(Mutex::new(mesh)),
    })
}

/// Queue pairs the runtime's port has (one per EAL lcore): the stacks it can hold, one per
/// queue, each on its own thread. 0 for NULL.
///
/// # Safety
/// `rt` is NULL or a live runtime.
#[no_mangle]
pub unsafe extern "C" fn lr_runtime_queues(rt: *const lr_runtime) -> u16 {
    // SAFETY: a non-NULL `rt` came from lr_runtime_new and is not being freed (contract).
    guard(0, || {
        unsafe { rt.as_ref() }.map_or(0, |rt| rt.port.rx_queues())
    })
}

/// Frees a runtime (NULL is allowed). Stacks made from it keep working; the port closes
/// when the last of them is freed.
///
/// # Safety
/// `rt` is NULL or from `lr_runtime_new`, and is not used again.
#[no_mangle]
pub unsafe extern "C" fn lr_runtime_free(rt: *mut lr_runtime) {
    guard((), || {
        if !rt.is_null() {
            // SAFETY: `rt` came from lr_runtime_new and is freed once (the caller's contract).
            drop(unsafe { Box::from_raw(rt) });
        }
    })
}
