//! Finds DPDK 22.11 with pkg-config, generates bindings with bindgen and builds the C shim.
//! Every failure a new user can hit ends in one line that names the package to install.
use std::env;
use std::path::PathBuf;

fn fail(msg: &str) -> ! {
    // cargo shows build-script stderr; keep the actionable line first and alone.
    eprintln!("error: {msg}");
    println!("cargo:warning={msg}");
    std::process::exit(1);
}

fn main() {
    println!("cargo:rerun-if-changed=shim/shim.c");
    println!("cargo:rerun-if-changed=shim/shim.h");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let lib = match pkg_config::Config::new()
        .atleast_version("22.11")
        .cargo_metadata(true)
        .probe("libdpdk")
    {
        Ok(lib) => lib,
        Err(e) => fail(&format!(
            "DPDK 22.11 not found by pkg-config (install it: apt-get install libdpdk-dev dpdk pkg-config) [{}]",
            e.to_string().lines().next().unwrap_or("")
        )),
    };
    // pkg-config's cflags carry `-include rte_config.h -march=corei7`; the include
    // paths alone miss them, and the inline functions need both.
    let out = std::process::Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .unwrap_or_else(|_| fail("pkg-config is missing (install it: apt-get install pkg-config)"));
    let cflags: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();

    let mut cc = cc::Build::new();
    cc.file("shim/shim.c").opt_level(3).warnings(true);
    for p in &lib.include_paths {
        cc.include(p);
    }
    let mut it = cflags.iter();
    while let Some(f) = it.next() {
        if f == "-include" {
            if let Some(h) = it.next() {
                cc.flag("-include").flag(h);
            }
        } else if f.starts_with("-m") {
            cc.flag(f);
        }
    }
    cc.compile("linerate_shim");

    let mut clang_args: Vec<String> = cflags.clone();
    clang_args.push("-Ishim".into());
    if !libclang_present() {
        fail("libclang not found for bindgen (install it: apt-get install libclang-dev)");
    }
    let bindings = bindgen::Builder::default()
        .header("shim/shim.h")
        .clang_args(&clang_args)
        .allowlist_function("rte_(eal|eth|pktmbuf|mempool|lcore|socket|ring|strerror|get_tsc).*")
        .allowlist_function("lr_.*")
        .allowlist_function("rte_thread_(register|unregister)")
        .allowlist_function("rte_get_(main|next)_lcore")
        .allowlist_function("rte_dev_(probe|remove)")
        .allowlist_function("rte_openlog_stream")
        .allowlist_type("rte_(mbuf|mempool|eth_.*|ether_addr)")
        .allowlist_var("LR_.*")
        .allowlist_type("lr_.*")
        .allowlist_var("RTE_(MAX_ETHPORTS|ETH_NAME_MAX_LEN|ETH_XSTATS_NAME_SIZE|MEMPOOL_CACHE_MAX_SIZE|MBUF_DEFAULT_BUF_SIZE|PKTMBUF_HEADROOM|ETH_LINK_.*|ETH_MQ_.*|ETH_RSS_.*)")
        .allowlist_var("E[A-Z0-9]+")
        .blocklist_item("per_lcore_.*")
        .opaque_type("rte_arp_.*")
        .opaque_type("rte_.*_hdr")
        .derive_default(true)
        .derive_debug(true)
        .layout_tests(true)
        .prepend_enum_name(false)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .unwrap_or_else(|e| fail(&format!("bindgen failed on DPDK headers ({e}); is libdpdk-dev 22.11 installed? (apt-get install libdpdk-dev libclang-dev)")));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|e| fail(&format!("cannot write bindings: {e}")));
}

/// bindgen panics with a long message when libclang is absent; check first.
fn libclang_present() -> bool {
    if env::var_os("LIBCLANG_PATH").is_some() {
        return true;
    }
    let dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib"];
    dirs.iter().any(|d| {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("libclang"))
            })
            .unwrap_or(false)
    }) || std::fs::read_dir("/usr/lib")
        .map(|rd| {
            rd.flatten().any(|e| {
                e.file_name().to_string_lossy().starts_with("llvm-")
                    && e.path().join("lib").read_dir().is_ok_and(|mut r| {
                        r.any(|x| {
                            x.map(|x| x.file_name().to_string_lossy().starts_with("libclang"))
                                .unwrap_or(false)
                        })
                    })
            })
        })
        .unwrap_or(false)
}
