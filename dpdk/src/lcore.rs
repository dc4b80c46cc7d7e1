//! Running code on EAL lcores: one per-core stack per lcore, started like `std::thread::scope`
//! (borrowed data, joined before the call returns).
use super::{lcore_id, strerror, DpdkError, Eal, Result};
use linerate_dpdk_sys as sys;
use std::cell::UnsafeCell;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

/// Lcores some [`Eal::run_on`] call is using. EAL's own launch has no lock (two launchers on
/// one worker race on its state), so callers here claim their lcores first.
static CLAIMED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Why one lcore of an [`Eal::run_on`] call gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LcoreError {
    /// The closure panicked on the lcore.
    Panicked {
        /// The lcore it ran on.
        lcore: u32,
        /// The panic's message.
        msg: String,
    },
    /// The closure never ran there: EAL refused to launch it on this lcore or an earlier one
    /// of the call (something outside `run_on` launched there in the meantime).
    NotLaunched {
        /// The lcore it was to run on.
        lcore: u32,
        /// Why.
        msg: String,
    },
}

impl std::fmt::Display for LcoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LcoreError::Panicked { lcore, msg } => write!(f, "lcore {lcore} panicked: {msg}"),
            LcoreError::NotLaunched { lcore, msg } => {
                write!(f, "nothing ran on lcore {lcore}: {msg}")
            }
        }
    }
}

impl std::error::Error for LcoreError {}

/// One lcore's share of a call: what to run and where its result goes.
struct Job<'a, F, R> {
    f: &'a F,
    index: usize,
    out: UnsafeCell<Option<std::result::Result<R, String>>>,
}

impl<F: Fn(usize) -> R, R> Job<'_, F, R> {
    /// Runs the closure, catching a panic so that it never unwinds into EAL's C frames.
    fn run(&self) {
        let r = catch_unwind(AssertUnwindSafe(|| (self.f)(self.index))).map_err(|p| {
            p.downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into())
        });
        // SAFETY: only the thread running this job writes `out`, and nobody reads it before
        // the job is over (`run_on` reads it after the lcore's wait or the inline call).
        unsafe { *self.out.get() = Some(r) };
    }
}

/// EAL's entry point on a worker lcore.
unsafe extern "C" fn trampoline<F: Fn(usize) -> R, R>(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is a `Job<F, R>` that `run_on` keeps alive until `rte_eal_wait_lcore`
    // has returned for this lcore.
    let job = unsafe { &*(arg as *const Job<'_, F, R>) };
    job.run();
    0
}

/// Waits for the launched lcores and releases the claimed ones, also if the caller unwinds:
/// the jobs (borrowed by the lcores) must outlive every launch.
struct Scope {
    claimed: Vec<u32>,
    launched: Vec<u32>,
}

impl Scope {
    fn join(&mut self) {
        for l in self.launched.drain(..) {
            // SAFETY: `l` is a worker lcore this scope launched on; waiting has no other
            // precondition.
            unsafe { sys::rte_eal_wait_lcore(l) };
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        self.join();
        let mut c = CLAIMED.lock().unwrap_or_else(|p| p.into_inner());
        c.retain(|l| !self.claimed.contains(l));
    }
}

impl Eal {
    /// The main lcore: the thread that initialised EAL.
    pub fn main_lcore(&self) -> u32 {
        // SAFETY: EAL is initialised (self exists); a plain read of its configuration.
        unsafe { sys::rte_get_main_lcore() }
    }

    /// The lcores enabled with `-l`/`--lcores`: the main lcore first, then the workers in
    /// order.
    pub fn lcores(&self) -> Vec<u32> {
        let mut out = vec![self.main_lcore()];
        let mut i = u32::MAX; // rte_get_next_lcore starts after `i`; -1 starts at 0.
        loop {
            // SAFETY: EAL is initialised; the call only walks its lcore table.
            i = unsafe { sys::rte_get_next_lcore(i, 1, 0) };
            if i >= sys::LR_RTE_MAX_LCORE {
                return out;
            }
            out.push(i);
        }
    }

    /// Runs `f(i)` on `lcores[i]` for every `i` at once and returns each result, in order,
    /// once all have finished: like `std::thread::scope`, so `f` may borrow from the caller.
    /// A worker lcore runs it through `rte_eal_remote_launch`; the main lcore runs it on the
    /// calling thread, which must then be the main lcore. A panic in `f` becomes that index's
    /// [`LcoreError::Panicked`] and never crosses into C.
    ///
    /// Refused with [`DpdkError::InvalidArg`], nothing run, when an lcore is not enabled, is
    /// listed twice, is busy (another launch runs there), or is the main lcore while the caller
    /// is another thread. Worker lcores alone may be run on from any thread.
    pub fn run_on<F, R>(
        &self,
        lcores: &[u32],
        f: F,
    ) -> Result<Vec<std::result::Result<R, LcoreError>>>
    where
        F: Fn(usize) -> R + Sync,
        R: Send,
    {
        let main = self.main_lcore();
        let jobs: Vec<Job<'_, F, R>> = (0..lcores.len())
            .map(|index| Job {
                f: &f,
                index,
                out: UnsafeCell::new(None),
            })
            .collect();
        // Declared after `jobs`, so dropped (and joined) before them even on unwind.
        let mut scope = self.claim(lcores, main)?;
        let mut failed: Option<String> = None;
        for (job, &l) in jobs.iter().zip(lcores) {
            if l == main {
                continue;
            }
            let arg = job as *const Job<'_, F, R> as *mut c_void;
            // SAFETY: `l` is an enabled worker in WAIT state that this call claimed; `job`
            // lives until `scope` has waited for `l` (it is joined below, and on unwind by its
            // drop, both before `jobs` goes). `F: Sync` and `R: Send` let the job run there.
            let rc = unsafe { sys::rte_eal_remote_launch(Some(trampoline::<F, R>), arg, l) };
            if rc != 0 {
                failed = Some(format!(
                    "rte_eal_remote_launch on lcore {l}: {}",
                    strerror(-rc)
                ));
                break;
            }
            scope.launched.push(l);
        }
        if failed.is_none() {
            if let Some(i) = lcores.iter().position(|&l| l == main) {
                jobs[i].run();
            }
        }
        scope.join();
        Ok(jobs
            .into_iter()
            .zip(lcores)
            .map(|(job, &lcore)| match job.out.into_inner() {
                Some(Ok(r)) => Ok(r),
                Some(Err(msg)) => Err(LcoreError::Panicked { lcore, msg }),
                None => Err(LcoreError::NotLaunched {
                    lcore,
                    msg: failed.clone().unwrap_or_default(),
                }),
            })
            .collect())
    }

    /// Checks `lcores` for [`Eal::run_on`] and claims them.
    fn claim(&self, lcores: &[u32], main: u32) -> Result<Scope> {
        let refuse = |what: String| Err(DpdkError::InvalidArg(what));
        for (i, &l) in lcores.iter().enumerate() {
            // SAFETY: EAL is initialised; `l` is in the table's range.
            if l >= sys::LR_RTE_MAX_LCORE || unsafe { sys::rte_lcore_is_enabled(l) } == 0 {
                return refuse(format!(
                    "lcore {l} is not enabled in EAL (enabled: {:?}): add it to -l/--lcores or leave it out",
                    self.lcores()
                ));
            }
            if lcores[..i].contains(&l) {
                return refuse(format!("lcore {l} is listed twice: list each lcore once"));
            }
            if l == main && lcore_id() != Some(main) {
                return refuse(format!(
                    "lcore {l} is the main lcore but this thread is not: call from the thread that initialised EAL, or leave lcore {l} out"
                ));
            }
        }
        let mut claimed = CLAIMED.lock().unwrap_or_else(|p| p.into_inner());
        for &l in lcores {
            // SAFETY: `l` is an enabled lcore; a plain read of its state.
            let busy = l != main && unsafe { sys::rte_eal_get_lcore_state(l) } != sys::WAIT;
            if busy || claimed.contains(&l) {
                return refuse(format!(
                    "lcore {l} is busy with another launch: wait for it to finish or pick another lcore"
                ));
            }
        }
        claimed.extend_from_slice(lcores);
        Ok(Scope {
            claimed: lcores.to_vec(),
            launched: Vec::new(),
        })
    }
}
