//! Replays every committed fuzz input — the seed corpus in `fuzz/corpus/<target>/` and the
//! crashes found so far in `fuzz/regressions/<target>/` — through the same harnesses the
//! fuzz targets run (`linerate_sim::fuzz`), on the stable toolchain in every `cargo test`.
//! `write_seeds` regenerates the hand-made seeds.
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The harnesses share one mempool and check that every mbuf comes back after each input:
/// two tests replaying at once would see each other's mbufs. One at a time.
fn serial() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

type Harness = fn(&[u8]);

const TARGETS: [(&str, Harness); 2] = [
    ("frame_input", linerate_sim::fuzz::frames),
    ("tcp_options", linerate_sim::fuzz::options),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir`, sorted (none if it does not exist).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Runs `files` through `run`, naming the file that fails.
fn replay(run: Harness, files: &[PathBuf]) {
    for f in files {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        if std::env::var_os("LR_FUZZ_TRACE").is_some() {
            eprintln!("{}", f.display());
        }
        if let Err(e) = std::panic::catch_unwind(|| run(&data)) {
            let msg = e
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| e.downcast_ref::<&str>().copied())
                .unwrap_or("?");
            panic!("{} fails: {msg}", f.display());
        }
    }
}

#[test]
fn sim_fuzz_corpus_replays_clean() {
    let _turn = serial();
    for (name, run) in TARGETS {
        let files = inputs(&fuzz_dir().join("corpus").join(name));
        assert!(
            files.len() >= 9,
            "fuzz/corpus/{name} holds {} inputs",
            files.len()
        );
        let t = std::time::Instant::now();
        replay(run, &files);
        eprintln!("{name}: {} corpus inputs in {:?}", files.len(), t.elapsed());
    }
}

#[test]
fn sim_fuzz_regressions_stay_fixed() {
    let _turn = serial();
    for (name, run) in TARGETS {
        let files = inputs(&fuzz_dir().join("regressions").join(name));
        replay(run, &files);
        eprintln!("{name}: {} regression inputs", files.len());
    }
}

/// Writes the hand-made seeds into `fuzz/corpus/` (run with `--ignored` and
/// `LR_WRITE_SEEDS=1` after changing the harness's input format; a minimised fuzz run adds
/// to them). Without the variable it does nothing, so that `--include-ignored` (as
/// scripts/test.sh runs) leaves the committed corpus alone.
#[test]
#[ignore = "writes into the source tree"]
fn write_seeds() {
    if std::env::var_os("LR_WRITE_SEEDS").is_none() {
        return;
    }
    use linerate_sim::fuzz::seeds;
    for (name, set) in [
        ("frame_input", seeds::frame_seeds()),
        ("tcp_options", seeds::option_seeds()),
    ] {
        let dir = fuzz_dir().join("corpus").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (seed, data) in set {
            std::fs::write(dir.join(format!("seed-{seed}")), data).unwrap();
        }
    }
}
