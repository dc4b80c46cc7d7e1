//! The checked-in header is what cbindgen makes of the crate now. After changing the C ABI:
//! `LR_BLESS=1 cargo test -p linerate-capi --test header` rewrites it.

#[test]
fn header_is_current() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let cfg = cbindgen::Config::from_file(format!("{dir}/cbindgen.toml")).expect("cbindgen.toml");
    let mut fresh = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(cfg)
        .generate()
        .expect("cbindgen reads capi/src")
        .write(&mut fresh);
    let fresh = String::from_utf8(fresh).expect("UTF-8 header");
    let path = format!("{dir}/include/linerate.h");
    if std::env::var_os("LR_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write the header");
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == fresh,
        "capi/include/linerate.h is stale: LR_BLESS=1 cargo test -p linerate-capi --test header"
    );
    for name in [
        "lr_runtime_new",
        "lr_stack_new",
        "lr_connect",
        "lr_send",
        "lr_poll",
        "lr_shutdown",
        "lr_close",
        "lr_stack_free",
        "lr_runtime_free",
        "LR_EV_ERROR = 6",
    ] {
        assert!(fresh.contains(name), "the header lacks {name}");
    }
}
