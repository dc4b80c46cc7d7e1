//! One EAL per test or benchmark process, with the arguments every one of them uses.
use linerate_dpdk::{DpdkError, Eal, Mempool, MBUF_DEFAULT_DATAROOM};
use std::sync::Arc;

/// EAL arguments for tests and benchmarks on lcore 0: no PCI, no telemetry, hugepages when
/// reserved, else `--no-huge` (and say so), plus `--vdev=` for each of `vdevs`.
pub fn eal_args(vdevs: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "--no-pci",
        "--no-telemetry",
        "-l",
        "0",
        "--log-level=*:error",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if hugepages() > 0 {
        a.push("--in-memory".into());
    } else {
        eprintln!(
            "note: no hugepages reserved; running DPDK with --no-huge (run scripts/setup.sh)"
        );
        a.extend([
            "--no-huge".into(),
            "--no-shconf".into(),
            "-m".into(),
            "512".into(),
        ]);
    }
    for v in vdevs {
        a.push(format!("--vdev={v}"));
    }
    a
}

/// [`eal_args`] with lcore 0 on the CPUs this process may run on (`--lcores 0@(…)`) instead
/// of CPU 0, which `-l 0` pins the main thread to whatever the process's affinity was: for
/// the fuzzers and their replay test, which must stay off a CPU kept for benchmarks.
pub fn eal_args_here(vdevs: &[&str]) -> Vec<String> {
    let mut a = eal_args(vdevs);
    if let Some(cpus) = allowed_cpus() {
        if let Some(i) = a.iter().position(|s| s == "-l") {
            a.splice(i..i + 2, [format!("--lcores=0@({cpus})")]);
        }
    }
    a
}

/// This process's CPUs as a list ("1", "0-3,6"), from /proc/self/status.
fn allowed_cpus() -> Option<String> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("Cpus_allowed_list:"))?;
    let v = l.split_once(':')?.1.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// Free 2 MiB hugepages on this machine.
pub fn hugepages() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("HugePages_Free:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The process's EAL, initialised on first use with [`eal_args`].
pub fn eal(vdevs: &[&str]) -> Eal {
    Eal::global(&eal_args(vdevs)).unwrap_or_else(|e| panic!("{e}"))
}

/// A pool of `n` default-sized mbufs without a per-lcore cache.
///
/// Out of hugepage memory, it tries again for up to 10 s before it panics: hugepages are
/// shared by every process on the machine, and a test should not fail because another one
/// (a previous test binary, a sender a test just stopped) has not given its pages back yet.
pub fn pool(eal: &Eal, name: &str, n: u32) -> Arc<Mempool> {
    let mut tries = 0;
    loop {
        match Mempool::new(eal, name, n, 0, MBUF_DEFAULT_DATAROOM, None) {
            Ok(p) => return Arc::new(p),
            Err(e @ DpdkError::Mempool { errno, .. })
                if tries < 100
                    && std::io::Error::from_raw_os_error(errno).kind()
                        == std::io::ErrorKind::OutOfMemory =>
            {
                if tries == 0 {
                    eprintln!("note: pool '{name}': {e}; trying again for up to 10 s");
                }
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => panic!("{e}"),
        }
    }
}
