//! The run's mode and its end: -t or -n, --latency with --msg-rate, --hold, --cps, --rr, and
//! the check that -P fits the ports, source addresses and destinations.
use super::cli::SendArgs;
use super::file::{FileConfig, Num};
use super::network::Network;
use super::settings::{Stop, DEFAULT_TIME};
use super::value::{num, pick};
use crate::units;

/// --rr REQ/RESP: two byte counts, each 1 byte to 16 MiB.
pub(super) fn parse_rr(r: &str) -> Result<(u64, u64), String> {
    let bad = |why: String| format!("--rr: {why} (expected REQ/RESP bytes, e.g. --rr 64/1KiB)");
    let (q, a) = r
        .split_once('/')
        .ok_or_else(|| bad(format!("'{r}' has no '/'")))?;
    let q = units::parse_bytes(q).map_err(bad)?;
    let a = units::parse_bytes(a).map_err(bad)?;
    if !(1..=16 << 20).contains(&q) || !(1..=16 << 20).contains(&a) {
        return Err(bad(format!(
            "{q}/{a} is out of range (1 byte to 16MiB each)"
        )));
    }
    Ok((q, a))
}

/// --hold and --hold-interval: the interval of each held connection's send.
pub(super) fn hold(
    cli: &SendArgs,
    file: &FileConfig,
) -> Result<Option<std::time::Duration>, String> {
    let on = cli.hold || file.hold.unwrap_or(false);
    let every = match pick(
        cli.hold_interval.clone(),
        file.hold_interval.as_ref().map(Num::text),
    ) {
        None => None,
        Some(s) => Some(units::parse_duration(&s).map_err(|e| format!("--hold-interval: {e}"))?),
    };
    match (on, every) {
        (false, Some(_)) => Err("--hold-interval only applies with --hold".into()),
        (false, None) => Ok(None),
        (true, Some(d)) if d < std::time::Duration::from_millis(1) => {
            Err("--hold-interval: must be at least 1ms (e.g. --hold-interval 1s)".into())
        }
        (true, d) => Ok(Some(d.unwrap_or(std::time::Duration::from_secs(1)))),
    }
}

/// Ephemeral ports per source address and destination (32768..=60999, as Linux).
const PORTS: u64 = 60999 - 32768 + 1;

/// More connections than ports × source addresses × destinations cannot be open at once.
pub(super) fn check_capacity(connections: u64, cps: bool, net: &Network) -> Result<(), String> {
    if cps {
        return Ok(()); // ports are reused as connections finish
    }
    let srcs = net
        .src_range
        .map_or(1, |(a, b)| u32::from(b) as u64 - u32::from(a) as u64 + 1);
    let dsts = {
        let mut d = net.dst.clone();
        d.sort();
        d.dedup();
        d.len() as u64
    };
    let max = PORTS * srcs * dsts;
    if connections > max {
        return Err(format!(
            "-P {}: at most {max} connections fit ({PORTS} ports × {srcs} source address(es) × {dsts} destination(s)); add --dst ports or a --src-range",
            connections
        ));
    }
    Ok(())
}

/// -t or -n (not both); a 10 s run when neither is given.
pub(super) fn stop(cli: &SendArgs, file: &FileConfig, cps: bool) -> Result<Stop, String> {
    let time = match pick(cli.time.clone(), file.time.as_ref().map(Num::text)) {
        None => None,
        Some(s) => Some(units::parse_duration(&s).map_err(|e| format!("-t: {e}"))?),
    };
    let bytes = num("-n", &cli.bytes, &file.bytes, units::parse_bytes)?;
    if cps {
        // Connection-rate mode: -n is each connection's request, -t the run.
        return match (time, bytes) {
            (_, None) | (_, Some(0)) => Err(
                "--cps needs -n <bytes each connection sends>, e.g. --cps 10k -n 1KiB -t 10s"
                    .into(),
            ),
            (Some(t), _) if t.is_zero() => Err("-t: the duration must be > 0".into()),
            (t, Some(n)) => Ok(Stop::Cps {
                run: t.unwrap_or(DEFAULT_TIME),
                bytes: n,
            }),
        };
    }
    match (time, bytes) {
        (Some(_), Some(_)) => {
            Err("-t and -n exclude each other: give a duration or a byte count".into())
        }
        (Some(t), None) if t.is_zero() => Err("-t: the duration must be > 0".into()),
        (Some(t), None) => Ok(Stop::Duration(t)),
        (None, Some(0)) => Err("-n: the byte count must be > 0 (e.g. -n 1GiB)".into()),
        (None, Some(n)) => Ok(Stop::BytesPerConn(n)),
        (None, None) => Ok(Stop::Duration(DEFAULT_TIME)),
    }
}

/// Latency mode: --latency and --msg-rate come together; the result is messages/s per
/// connection. With --rr, --msg-rate alone sets the requests' rate.
pub(super) fn latency(cli: &SendArgs, file: &FileConfig, rr: bool) -> Result<Option<u64>, String> {
    let latency_on = cli.latency || file.latency.unwrap_or(false);
    let msg_rate = num(
        "--msg-rate",
        &cli.msg_rate,
        &file.msg_rate,
        units::parse_count,
    )?;
    match (latency_on, msg_rate) {
        (true, Some(0)) => Err("--msg-rate: must be > 0 (e.g. --msg-rate 1000)".into()),
        (true, Some(m)) => Ok(Some(m)),
        (true, None) => Err(
            "--latency needs --msg-rate <messages/s per connection>, e.g. --msg-rate 1000".into(),
        ),
        (false, Some(0)) if rr => Err("--msg-rate: must be > 0 (e.g. --msg-rate 1000)".into()),
        (false, Some(m)) if rr => Ok(Some(m)),
        (false, Some(_)) => Err("--msg-rate only applies with --latency or --rr".into()),
        (false, None) => Ok(None),
    }
}
