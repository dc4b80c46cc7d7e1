//! linerate's test harness (dev-only, never linked into an app):
//!
//! - [`wire`]: the simulation device, an in-memory wire with seeded loss, duplication,
//!   reordering, corruption, delay and a bottleneck rate, on a virtual clock.
//! - [`harness`]: a stack and smoltcp as an independent TCP receiver on that wire.
//! - [`sackpeer`]: a minimal SACK/DSACK-generating receiver for the recovery tests.
//! - [`fuzz`]: the fuzz harnesses (frames against live connections, TCP options), run by
//!   the targets in `fuzz/` and by the corpus replay test.
//! - [`eal`]: EAL arguments and pools for tests and benchmarks (hugepages when reserved,
//!   else `--no-huge`).
#![forbid(unsafe_code)]

pub mod eal;
pub mod fuzz;
pub mod harness;
pub mod sackpeer;
pub mod wire;

pub use wire::{Dir, Impairer, LinkStats, SimConfig, SimDevice, SimPeer, SimRng, SimWire};
