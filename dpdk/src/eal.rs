use super::{errno, strerror, DpdkError, Result};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

static INITIALISED: AtomicBool = AtomicBool::new(false);
static GLOBAL: OnceLock<Mutex<Option<Eal>>> = OnceLock::new();
/// What EAL printed during init (shown with LINERATE_EAL_LOG=1, and mined for errors).
static EAL_LOG: Mutex<String> = Mutex::new(String::new());

/// EAL's log from init, for error messages about devices that failed to probe.
pub(crate) fn init_log() -> String {
    EAL_LOG.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The most telling line of EAL's output: an option error, or a failure it logged.
fn eal_reason(log: &str) -> Option<String> {
    let keys = [
        "unrecognized option",
        "invalid option",
        "requires an argument",
        "invalid",
        "unavailable",
        "FATAL",
        "failed",
        "Cannot",
        "cannot",
        "No such",
        "Error",
        "error",
    ];
    // Skip EAL's usage text (indented, or bracketed notes).
    let lines = || {
        log.lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('\t') && !l.starts_with('['))
    };
    keys.iter()
        .find_map(|k| lines().find(|l| l.contains(k)))
        .map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("EAL: ").unwrap_or(l);
            l.strip_prefix("linerate: ").unwrap_or(l).to_owned()
        })
}

/// Sends stdout, stderr and DPDK's log stream to a temporary file while EAL initialises.
/// (Other threads' output in that window lands there too; EAL init happens once, at start.)
struct Capture {
    file: *mut libc::FILE,
    saved_stdout: i32,
    saved_stderr: i32,
}

impl Capture {
    fn start() -> Option<Capture> {
        // SAFETY: plain libc calls; every failure is checked and undone, and the FILE is
        // only used by this struct.
        unsafe {
            let file = libc::tmpfile();
            if file.is_null() {
                return None;
            }
            libc::fflush(std::ptr::null_mut());
            let saved_stdout = libc::dup(1);
            let saved_stderr = libc::dup(2);
            let fd = libc::fileno(file);
            if saved_stdout < 0
                || saved_stderr < 0
                || libc::dup2(fd, 1) < 0
                || libc::dup2(fd, 2) < 0
            {
                if saved_stdout >= 0 {
                    libc::dup2(saved_stdout, 1);
                    libc::close(saved_stdout);
                }
                if saved_stderr >= 0 {
                    libc::dup2(saved_stderr, 2);
                    libc::close(saved_stderr);
                }
                libc::fclose(file);
                return None;
            }
            linerate_dpdk_sys::rte_openlog_stream(file as *mut linerate_dpdk_sys::FILE);
            Some(Capture {
                file,
                saved_stdout,
                saved_stderr,
            })
        }
    }

    fn finish(self) -> String {
        // SAFETY: restores what `start` replaced, then reads the temporary file back.
        unsafe {
            libc::fflush(std::ptr::null_mut());
            libc::dup2(self.saved_stdout, 1);
            libc::close(self.saved_stdout);
            libc::dup2(self.saved_stderr, 2);
            libc::close(self.saved_stderr);
            // Back to DPDK's default stream (stderr).
            linerate_dpdk_sys::rte_openlog_stream(std::ptr::null_mut());
            libc::rewind(self.file);
            let mut out = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = libc::fread(
                    buf.as_mut_ptr() as *mut libc::c_void,
                    1,
                    buf.len(),
                    self.file,
                );
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            libc::fclose(self.file);
            String::from_utf8_lossy(&out).into_owned()
        }
    }
}

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
            linerate_dpdk_sys::rte_eal_cleanup();
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
        owned.push(c"linerate".to_owned());
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
        // EAL prints its usage and a page of log lines; keep them, and turn a failure into
        // one line that carries the reason EAL gave.
        let capture = Capture::start();
        // SAFETY: argv holds argc valid NUL-terminated strings that live forever.
        let rc = unsafe { linerate_dpdk_sys::rte_eal_init(argv.len() as i32, argv.as_mut_ptr()) };
        let log = capture.map(Capture::finish).unwrap_or_default();
        if std::env::var_os("LINERATE_EAL_LOG").is_some() {
            eprint!("{log}");
        }
        *EAL_LOG.lock().unwrap_or_else(|p| p.into_inner()) = log.clone();
        if rc < 0 {
            let e = errno();
            // EAL cannot be initialised again after a failed attempt in 22.11 (it leaves
            // state behind), so INITIALISED stays set.
            let hint = if !no_huge && hugepages_total() == Some(0) {
                "no hugepages are reserved: run scripts/setup.sh, or pass --no-huge"
            } else if e == libc_enodev() {
                "check the --vdev/-a arguments name a driver and an interface that exist"
            } else {
                "check the EAL arguments"
            };
            let reason = eal_reason(&log).unwrap_or_else(|| strerror(e));
            return Err(DpdkError::EalInit {
                errno: e,
                msg: reason,
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
        let rc = unsafe { linerate_dpdk_sys::rte_thread_register() };
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
    unsafe { linerate_dpdk_sys::lr_tsc_hz() }
}

fn libc_enodev() -> i32 {
    linerate_dpdk_sys::ENODEV as i32
}

/// HugePages_Total from /proc/meminfo.
pub(crate) fn hugepages_total() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    s.lines()
        .find(|l| l.starts_with("HugePages_Total:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}
