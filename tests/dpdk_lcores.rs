//! Code on EAL lcores (`Eal::lcores`, `Eal::run_on`) and RSS on a multi-queue port. This
//! process has its own EAL with two lcores, so it is a test file of its own. Runs in plain
//! `cargo test` (as root, like every DPDK program), as tests/dpdk_port.rs does.
//!
//! EAL makes the thread that initialises it the main lcore (lcore 0), and the test harness
//! runs each test on a thread of its own that ends with the test. So one long-lived thread
//! initialises EAL and then runs, one at a time, what tests need done on the main lcore.
mod common;

use linerate_dpdk::{lcore_id, Eal, LcoreError, Port, PortConfig};
use linerate_sim::eal::{eal_args, pool};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Mutex, MutexGuard, OnceLock};

type Task = Box<dyn FnOnce(&Eal) + Send>;

struct MainLcore {
    eal: Eal,
    tasks: mpsc::Sender<Task>,
}

/// CPUs this process may run on (`Cpus_allowed_list`), so that the lcores can be pinned to
/// CPUs that exist here whatever the cpuset.
fn allowed_cpus() -> Vec<u32> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or("");
    let mut cpus = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
            cpus.extend(a..=b);
        }
    }
    cpus
}

/// The process's EAL (lcores 0 and 1 when there are two CPUs, else lcore 0 alone) and the
/// thread that is its main lcore.
fn main_lcore() -> &'static MainLcore {
    static MAIN: OnceLock<MainLcore> = OnceLock::new();
    MAIN.get_or_init(|| {
        let mut args = eal_args(&["net_null7"]);
        let cpus = allowed_cpus();
        if cpus.len() >= 2 {
            // eal_args pins lcore 0 with `-l 0`; map lcores 0 and 1 onto the CPUs we have.
            let at = args
                .iter()
                .position(|a| a == "-l")
                .expect("eal_args passes -l");
            args.splice(
                at..at + 2,
                [
                    "--lcores".to_string(),
                    format!("0@{},1@{}", cpus[0], cpus[1]),
                ],
            );
        }
        let (tasks, rx) = mpsc::channel::<Task>();
        let (eal_tx, eal_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("lcore0".into())
            .spawn(move || {
                let eal = Eal::global(&args).unwrap_or_else(|e| panic!("{e}"));
                eal_tx.send(eal.clone()).unwrap();
                for task in rx {
                    // A failed assertion fails its test (on_main sees it), not this thread.
                    let _ = catch_unwind(AssertUnwindSafe(|| task(&eal)));
                }
            })
            .unwrap();
        let eal = eal_rx
            .recv()
            .expect("EAL initialises (see the panic above)");
        MainLcore { eal, tasks }
    })
}

/// Runs `f` on the main lcore and returns what it returns.
fn on_main<T: Send + 'static>(f: impl FnOnce(&Eal) -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::sync_channel(1);
    main_lcore()
        .tasks
        .send(Box::new(move |eal| {
            let _ = tx.send(f(eal));
        }))
        .unwrap();
    rx.recv()
        .expect("the task failed on the main lcore (see the panic above)")
}

/// The EAL with two lcores, serialised between tests (they share lcore 1); `None`, after a
/// note, on a machine with one CPU.
fn two_lcores() -> Option<(Eal, MutexGuard<'static, ()>)> {
    static SERIAL: Mutex<()> = Mutex::new(());
    let eal = main_lcore().eal.clone();
    if eal.lcores().len() < 2 {
        eprintln!("note: skipped: this machine has fewer than 2 CPUs for lcores 0 and 1");
        return None;
    }
    Some((eal, SERIAL.lock().unwrap_or_else(|p| p.into_inner())))
}

#[test]
fn lcores_are_main_then_workers() {
    let Some((eal, _serial)) = two_lcores() else {
        return;
    };
    assert_eq!(eal.main_lcore(), 0);
    assert_eq!(eal.lcores(), vec![0, 1]);
    assert_eq!(
        on_main(|_| lcore_id()),
        Some(0),
        "the host thread is lcore 0"
    );
    assert_eq!(lcore_id(), None, "a test thread is no lcore");
}

#[test]
fn run_on_runs_each_closure_on_its_own_lcore() {
    let Some((eal, _serial)) = two_lcores() else {
        return;
    };
    let results = on_main(|eal| {
        // Borrowed by both lcores: run_on returns only after both are done with it.
        let seen = [AtomicU32::new(u32::MAX), AtomicU32::new(u32::MAX)];
        let r = eal
            .run_on(&[0, 1], |i| {
                let me = lcore_id().expect("runs on an EAL lcore");
                seen[i].store(me, Ordering::Relaxed);
                me * 10 + i as u32
            })
            .expect("lcores 0 and 1 are free");
        let seen = seen.map(|a| a.into_inner());
        (r, seen)
    });
    assert_eq!(results.0, vec![Ok(0), Ok(11)]);
    assert_eq!(results.1, [0, 1], "closure i ran on lcores[i]");

    // Worker lcores alone may be run on from any thread.
    let hits = AtomicU32::new(0);
    let r = eal.run_on(&[1], |_| {
        hits.fetch_add(1, Ordering::Relaxed);
        lcore_id()
    });
    assert_eq!(r.unwrap(), vec![Ok(Some(1))]);
    assert_eq!(hits.into_inner(), 1);
}

#[test]
fn a_panic_on_a_worker_is_an_err_for_its_index_only() {
    let Some(_serial) = two_lcores() else {
        return;
    };
    let r = on_main(|eal| {
        eal.run_on(&[0, 1], |i| {
            if i == 1 {
                panic!("worker {i} gives up");
            }
            "fine"
        })
        .expect("lcores 0 and 1 are free")
    });
    assert_eq!(r[0], Ok("fine"));
    assert_eq!(
        r[1],
        Err(LcoreError::Panicked {
            lcore: 1,
            msg: "worker 1 gives up".into()
        })
    );
    assert_eq!(
        r[1].as_ref().unwrap_err().to_string(),
        "lcore 1 panicked: worker 1 gives up"
    );
    // The lcore is free again afterwards.
    let again = on_main(|eal| eal.run_on(&[1], |_| lcore_id()).unwrap());
    assert_eq!(again, vec![Ok(Some(1))]);
}

#[test]
fn bad_lcore_lists_are_refused_before_anything_runs() {
    let Some((eal, _serial)) = two_lcores() else {
        return;
    };
    let ran = AtomicU32::new(0);
    let run = |lcores: &[u32]| {
        eal.run_on(lcores, |_| ran.fetch_add(1, Ordering::Relaxed))
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let e = run(&[1, 5]);
    assert!(e.contains("lcore 5 is not enabled"), "{e}");
    let e = run(&[1, 1]);
    assert!(e.contains("lcore 1 is listed twice"), "{e}");
    // This test's thread is not the main lcore.
    let e = run(&[1, 0]);
    assert!(e.contains("lcore 0 is the main lcore"), "{e}");
    assert!(e.lines().count() == 1, "{e}");
    assert_eq!(ran.load(Ordering::Relaxed), 0, "nothing ran");

    // A worker that is busy: lcore 1 waits while lcore 0 tries to launch there again.
    let nested = on_main(|eal| {
        let release = AtomicBool::new(false);
        let r = eal
            .run_on(&[0, 1], |i| {
                if i == 1 {
                    while !release.load(Ordering::Acquire) {
                        std::hint::spin_loop();
                    }
                    return None;
                }
                let e = eal.run_on(&[1], |_| ()).map(|_| ()).unwrap_err();
                release.store(true, Ordering::Release);
                Some(e.to_string())
            })
            .unwrap();
        r.into_iter().map(Result::unwrap).collect::<Vec<_>>()
    });
    let e = nested[0].as_deref().unwrap();
    assert!(e.contains("lcore 1 is busy"), "{e}");
}

/// net_null with two RX queues and a key: the port opens in RSS mode and passes frames on
/// both queue pairs, but `Port::rss` is `None`, as it must be. net_null (22.11) offers the
/// hash types and takes a RETA, but reports no key size and its key read-back does not say
/// the key's length, so the key in effect is unknown (and the given key cannot be checked
/// against the device's size, so the device keeps its own). Nothing can be steered by half a
/// configuration. It makes up its RX frames anyway, with no hash.
#[test]
fn net_null_with_two_rx_queues_opens_and_passes_frames() {
    let eal = main_lcore().eal.clone();
    let pool = pool(&eal, "t_rss_null", 2048);
    let key: Vec<u8> = (1..=40).collect();
    let port = Port::open(
        &eal,
        "net_null7",
        &PortConfig {
            rx_queues: 2,
            tx_queues: 2,
            rx_desc: 256,
            tx_desc: 256,
            rss_key: Some(key.clone()),
            ..Default::default()
        },
        pool.clone(),
    )
    .expect("net_null starts with two queue pairs");
    assert_eq!(port.rx_queues(), 2);
    assert_eq!(port.rss(), None);
    common::flow::assert_net_null_pairs_pass_frames(&port, &pool);
}
