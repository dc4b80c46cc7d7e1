//! TCP option parsing and writing, the wire views and checksums on any bytes
//! (`linerate_sim::fuzz::options`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| linerate_sim::fuzz::options(data));
