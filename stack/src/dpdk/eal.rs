use super::{errno, strerror, DpdkError, Result};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

static INITIALISED: AtomicBool = AtomicBool::new(false);
static GLOBAL: OnceLock<Mutex<Option<Eal>>> = OnceLock::new();

/// The DPDK Environment Abstraction Layer. Initialised once per process; cleaned up when the
/// last clone (held by every `Mempool` and `Port`) drops.
#[derive(Clone)]
pub struct Eal {
    _inner: Arc<EalInner>,
}

struct EalInner;

impl Drop for EalInner {
    fn drop(&mut self) {
        // SAFETY: every DPDK object holds an `Eal` clone, so none is alive any more.
        unsafe {
            dpdk_sys::rte_eal_cleanup();
        }
    }
}

impl std::fmt::Debug for Eal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Eal")
    }
}

impl Eal {
    /// Initialises EAL from command-line style arguments (without the program name), e.g.
    /// `["--no-pci", "-l", "0", "--vdev=net_null0"]`.
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::EalAlreadyInitialized);
        }
        let no_huge = args.iter().any(|a| a.as_ref() == "--no-huge");
        let mut owned = Vec::with_capacity(args.len() + 1);
        owned.push(CString::new("linerate").expect("static string has no NUL"));
        for a in args {
            match CString::new(a.as_ref()) {
                Ok(c) => owned.push(c),
                Err(_) => {
                    INITIALISED.store(false, Ordering::SeqCst);
                    return Err(DpdkError::InvalidArg(format!(
                        "EAL argument {:?} contains a NUL byte",
                        a.as_ref()
                    )));
                }
            }
        }
        // EAL may keep pointers into argv for the life of the process, so leak it (once).
        let argv: &'static mut [*mut std::os::raw::c_char] = Box::leak(
            owned
                .into_iter()
                .map(CString::into_raw)
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        // SAFETY: argv holds argc valid NUL-terminated strings that live forever.
        let rc = unsafe { dpdk_sys::rte_eal_init(argv.len() as i32, argv.as_mut_ptr()) };
        if rc < 0 {
            let e = errno();
            // EAL cannot be initialised again after a failed attempt in 22.11 (it leaves
            // state behind), so INITIALISED stays set.
            let hint = if !no_huge && hugepages_total() == Some(0) {
                "no hugepages are reserved: run scripts/setup.sh, or pass --no-huge"
            } else if e == libc_enodev() {
                "check the --vdev/-a arguments name a driver and an interface that exist"
            } else {
                "check the EAL arguments; EAL's own log above says which one"
            };
            return Err(DpdkError::EalInit {
                errno: e,
                msg: strerror(e),
                hint,
            });
        }
        Ok(Eal {
            _inner: Arc::new(EalInner),
        })
    }

    /// The process-wide EAL: initialised with `args` on the first call, shared afterwards
    /// (later `args` are ignored). Convenient for tests and for apps with one DPDK setup.
    pub fn global<S: AsRef<str>>(args: &[S]) -> Result<Eal> {
        let cell = GLOBAL.get_or_init(|| Mutex::new(None));
        let mut g = cell.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = g.as_ref() {
            return Ok(e.clone());
        }
        let e = Eal::init(args)?;
        *g = Some(e.clone());
        Ok(e)
    }

    /// Registers the calling (non-EAL) thread with EAL, giving it an lcore id so that mempool
    /// caches work on it. Threads EAL launched are registered already.
    pub fn register_thread(&self) -> Result<u32> {
        if let Some(id) = super::lcore_id() {
            return Ok(id);
        }
        // SAFETY: EAL is initialised (self exists); registering the current thread is allowed.
        let rc = unsafe { dpdk_sys::rte_thread_register() };
        if rc < 0 {
            let e = errno();
            return Err(DpdkError::EalInit {
                errno: e,
                msg: format!("cannot register thread: {}", strerror(e)),
                hint: "raise the lcore count with -l or --lcores",
            });
        }
        super::lcore_id().ok_or_else(|| DpdkError::EalInit {
            errno: 0,
            msg: "thread registered but has no lcore id".into(),
            hint: "",
        })
    }
}

/// TSC ticks per second, as EAL measured them.
pub fn tsc_hz() -> u64 {
    // SAFETY: reads a value EAL computed at init; returns 0 before init, which callers treat
    // as "unknown".
    unsafe { dpdk_sys::lr_tsc_hz() }
}

fn libc_enodev() -> i32 {
    dpdk_sys::ENODEV as i32
}

/// HugePages_Total from /proc/meminfo.
pub(crate) fn hugepages_total() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    s.lines()
        .find(|l| l.starts_with("HugePages_Total:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}
