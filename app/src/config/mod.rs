//! `linerate send` settings: the command line ([`cli`], clap), the `--config` TOML file
//! ([`mod@file`]), and their merge (command-line flags override file values) into validated
//! [`Settings`] ([`settings`]). The merge is [`merge`](merge::merge), with the addresses and
//! routes in [`network`], the run's mode and end in [`modes`], and the flag-over-file lookup of
//! one value in [`value`].
mod cli;
mod file;
mod merge;
mod modes;
mod network;
mod settings;
mod value;

pub use cli::SendArgs;
pub use file::FileConfig;
pub use merge::merge;
pub use settings::{queue_pair_mbufs, Payload, Settings, Stop, MAX_MBUFS};
