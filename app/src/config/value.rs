//! How one setting is read: the flag if given, else its file key; numbers go through the
//! flag's own parser so that both spell errors the same way.
use super::file::{Num, OneOrMany};

pub(super) fn pick<T>(cli: Option<T>, file: Option<T>) -> Option<T> {
    cli.or(file)
}

/// A numeric flag or its file key, parsed by `parse`; errors are prefixed with `flag`.
pub(super) fn num(
    flag: &str,
    cli: &Option<String>,
    file: &Option<Num>,
    parse: fn(&str) -> Result<u64, String>,
) -> Result<Option<u64>, String> {
    match pick(cli.clone(), file.as_ref().map(Num::text)) {
        None => Ok(None),
        Some(s) => parse(&s).map(Some).map_err(|e| format!("{flag}: {e}")),
    }
}

/// A repeatable flag: given on the command line, it replaces the file's list entirely.
pub(super) fn list(cli: &[String], file: &Option<OneOrMany>) -> Vec<String> {
    if cli.is_empty() {
        file.clone().map(OneOrMany::into_vec).unwrap_or_default()
    } else {
        cli.to_vec()
    }
}

pub(super) fn plain_u64(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("invalid number '{s}' (e.g. 4, 64)"))
}
