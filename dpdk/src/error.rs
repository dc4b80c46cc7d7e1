use std::fmt;

/// Errors of the DPDK layer. Each carries the `rte_errno` text and, where one exists, what the
/// user can do about it; `Display` is one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpdkError {
    /// rte_eal_init failed.
    EalInit {
        /// `rte_errno` after the failure (0 when EAL reported none).
        errno: i32,
        /// Why: the telling line of EAL's own output if it printed one, else the errno text.
        msg: String,
        /// What the user can try; empty when there is no advice.
        hint: &'static str,
    },
    /// EAL runs once per process; a second `Eal::init` was made.
    EalAlreadyInitialized,
    /// An argument could not be passed to C (contains a NUL byte, or is out of range).
    InvalidArg(String),
    /// A mempool could not be created.
    Mempool {
        /// The name the pool was to have.
        name: String,
        /// `rte_errno` after the failure (e.g. `ENOMEM`, `EEXIST`).
        errno: i32,
        /// DPDK's text for `errno`.
        msg: String,
        /// What the user can try; empty when there is no advice.
        hint: &'static str,
    },
    /// No ethdev port matches the name or id.
    NoSuchPort {
        /// The port as the caller gave it (id, PCI address or vdev name).
        wanted: String,
        /// Names of the ports EAL does know, to show the user what exists.
        available: Vec<String>,
        /// EAL's log line for a device that failed to probe, if one did.
        probe_error: Option<String>,
    },
    /// An ethdev call failed.
    Port {
        /// The ethdev port id.
        port: u16,
        /// The ethdev operation that failed (e.g. `"configure"`, `"rx_queue_setup"`).
        op: &'static str,
        /// The (positive) errno the call returned, or `rte_errno` when it returned none.
        errno: i32,
        /// DPDK's text for `errno`.
        msg: String,
    },
}

pub(crate) type Result<T> = std::result::Result<T, DpdkError>;

impl fmt::Display for DpdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DpdkError::EalInit { msg, hint, .. } => {
                write!(f, "DPDK EAL init failed: {msg}")?;
                if !hint.is_empty() {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
            DpdkError::EalAlreadyInitialized => {
                write!(
                    f,
                    "DPDK EAL is already initialised in this process (it runs once per process)"
                )
            }
            DpdkError::InvalidArg(a) => write!(f, "invalid DPDK argument: {a}"),
            DpdkError::Mempool {
                name, msg, hint, ..
            } => {
                write!(f, "cannot create mbuf pool '{name}': {msg}")?;
                if !hint.is_empty() {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
            DpdkError::NoSuchPort {
                wanted,
                available,
                probe_error,
            } => {
                if let Some(p) = probe_error {
                    write!(f, "no DPDK port '{wanted}': a device failed to probe: {p}")
                } else if available.is_empty() {
                    write!(f, "no DPDK port '{wanted}': EAL found no ports at all (pass one with --vdev=... or bind a NIC to vfio-pci)")
                } else {
                    write!(
                        f,
                        "no DPDK port '{wanted}' (available: {})",
                        available.join(", ")
                    )
                }
            }
            DpdkError::Port { port, op, msg, .. } => write!(f, "port {port}: {op} failed: {msg}"),
        }
    }
}

impl std::error::Error for DpdkError {}
