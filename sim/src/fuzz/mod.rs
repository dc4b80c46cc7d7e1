//! Fuzz harnesses, shared by the coverage-guided targets in `fuzz/` and by the replay test
//! (`tests/sim_fuzz_corpus.rs`), which runs every corpus and regression input on stable:
//!
//! - [`frames`]: a stack with live connections in every state it has (SYN-SENT, waiting for
//!   ARP, ESTABLISHED with and without SACK and timestamps, data in flight, FIN-WAIT-1/2,
//!   CLOSE-WAIT, a TIME-WAIT record) takes the input as a script of frames, app calls and
//!   clock steps. Segments are built relative to each connection's real sequence numbers, so
//!   most of them reach TCP's state machine rather than its drop counters. It proves no panic,
//!   that every frame the stack sends is well formed and carries only the bytes the app gave
//!   (at their offsets), that its counters agree, and that every mbuf returns to the pool.
//! - [`options`]: TCP option parsing: the fast and full parsers agree, what `OptionWriter`
//!   writes parses back to what was written, and the wire views take any bytes.
//!
//! A failed check panics, which is what a fuzzer reports as a crash.
use linerate_dpdk::Mempool;
use std::sync::{Arc, OnceLock};

mod frames;
mod options;
mod peer;
pub mod seeds;

pub use frames::frames;
pub use options::options;

/// The process's pool for the frame harness: EAL initialises once per process, and a pool
/// per input would cost more than the input.
fn pool() -> Arc<Mempool> {
    static POOL: OnceLock<Arc<Mempool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let eal = linerate_dpdk::Eal::global(&crate::eal::eal_args_here(&[]))
            .unwrap_or_else(|e| panic!("{e}"));
        crate::eal::pool(&eal, "fuzz", 4095)
    })
    .clone()
}

/// The input as a stream of fields; past its end every field reads as zero, so that any
/// input decodes.
pub(crate) struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Input { rest: data }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn u8(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&b, rest)) => {
                self.rest = rest;
                b
            }
            None => 0,
        }
    }

    pub(crate) fn peek(&self) -> &[u8] {
        &self.rest[..self.rest.len().min(12)]
    }

    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub(crate) fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = b;
        a
    }
}
