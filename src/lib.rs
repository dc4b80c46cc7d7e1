//! linerate: a user-space TCP sender on DPDK.
//!
//! Apps embed this crate: it re-exports the per-core stack (`linerate_stack`) and the DPDK
//! device layer (`dpdk`). See docs/architecture.md.
pub use linerate_stack as stack;
pub use linerate_stack::*;
