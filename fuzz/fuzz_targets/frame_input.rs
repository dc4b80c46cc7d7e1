//! Frames, app calls and clock steps against a stack with a connection in every state
//! (`linerate_sim::fuzz::frames`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| linerate_sim::fuzz::frames(data));
