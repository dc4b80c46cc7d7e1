//! A connection's settings: [`TcpConfig`] as the app gives them (Linux's defaults), and the
//! compact copy the connection block keeps ([`ConnCfg`]).
use linerate_proto::cc::Cc;
use linerate_proto::timer::{Nanos, MS, SEC};

/// Per-connection settings; `Default` follows Linux.
#[derive(Debug, Clone, Copy)]
pub struct TcpConfig {
    /// MSS we advertise (MTU 1500 − 40).
    pub mss: u16,
    /// Send buffer: most bytes queued and unacknowledged. With `sndbuf_auto` the buffer
    /// starts at 64 KiB and grows to twice the congestion window up to this (Linux's
    /// `tcp_wmem` autotuning); without, it is this from the start (like setting `SO_SNDBUF`).
    pub sndbuf: u32,
    /// Grow the send buffer with the window instead of holding `sndbuf` from the start (on by
    /// default: a connection that cannot send fast holds little, so many fit).
    pub sndbuf_auto: bool,
    /// Receive buffer; sets the advertised window and the window scale.
    pub rcvbuf: u32,
    /// Disable Nagle (RFC 896): send short segments at once (`TCP_NODELAY`).
    pub nodelay: bool,
    /// Offer timestamps (RFC 7323) in the SYN.
    pub timestamps: bool,
    /// Offer SACK (RFC 2018) in the SYN.
    pub sack: bool,
    /// Offer window scaling (RFC 7323) in the SYN.
    pub window_scaling: bool,
    /// Lower bound of the retransmission timeout (Linux: 200 ms).
    pub min_rto: Nanos,
    /// Upper bound of the retransmission timeout (Linux: 120 s).
    pub max_rto: Nanos,
    /// SYN retransmissions before ETIMEDOUT (Linux tcp_syn_retries: 6).
    pub syn_retries: u8,
    /// Data retransmissions, or zero-window probes in a row unanswered, before ETIMEDOUT
    /// (Linux tcp_retries2: 15).
    pub retries: u8,
    /// Delayed-ACK timeout (Linux: 40 ms minimum).
    pub delack: Nanos,
    /// TIME-WAIT length (Linux: 60 s).
    pub time_wait: Nanos,
    /// FIN-WAIT-2 timeout for closed connections (Linux tcp_fin_timeout: 60 s).
    pub fin_timeout: Nanos,
    /// Congestion control (CUBIC by default, as Linux).
    pub cc: Cc,
    /// Pace segments over the RTT at a rate derived from cwnd/srtt (`tcp::pacing`). On by
    /// default, as Linux with the fq qdisc; off sends each window as fast as it opens.
    pub pacing: bool,
    /// Answer the SYN-ACK with an ACK at once (on by default, as Linux). Off is Linux's
    /// `TCP_QUICKACK` = 0 before `connect`: the handshake's ACK waits up to `delack` so that
    /// the app's first write carries it, which saves a segment per connection for a client
    /// that speaks first (a request, a connection-rate load).
    pub quickack: bool,
    /// Every write waits for the next `flush` or `poll` (or a `close` before then) to be
    /// sent, as Linux's autocorking does while earlier frames still wait for the NIC, and as
    /// `MSG_MORE` asks for: a client that writes its request and closes sends one segment
    /// with the data and the FIN instead of two. Off by default: a write goes out at once
    /// when nothing else waits. Lighter than Linux's `TCP_CORK`, which holds a partial
    /// segment until uncorked: nothing waits past the next `flush` or `poll`.
    pub cork: bool,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss: 1460,
            sndbuf: 4 << 20,
            sndbuf_auto: true,
            rcvbuf: 1 << 20,
            nodelay: false,
            timestamps: true,
            sack: true,
            window_scaling: true,
            min_rto: 200 * MS,
            max_rto: 120 * SEC,
            syn_retries: 6,
            retries: 15,
            delack: 40 * MS,
            time_wait: 60 * SEC,
            fin_timeout: 60 * SEC,
            cc: Cc::default(),
            pacing: true,
            quickack: true,
            cork: false,
        }
    }
}

/// A [`TcpConfig`] value out of range, found by [`TcpConfig::validate`]: the field, its
/// value and what it may be, as one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpConfigError {
    /// The field, e.g. `mss`.
    pub field: &'static str,
    /// Its value (times in nanoseconds).
    pub value: u64,
    /// What it may be.
    pub allowed: &'static str,
}

impl std::fmt::Display for TcpConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TcpConfig::{} is {}: it must be {}",
            self.field, self.value, self.allowed
        )
    }
}

impl std::error::Error for TcpConfigError {}

/// Linux's `TCP_MIN_MSS`: room for 40 bytes of options and 8 of data.
pub const MIN_MSS: u16 = 88;
/// Most bytes a scaled window can announce (RFC 7323 §2.3: shift 14).
const MAX_BUF: u32 = 1 << 30;
/// Longest time a connection keeps (microseconds in a u32: about 71 minutes).
const MAX_TIME: Nanos = u32::MAX as Nanos * 1000;

impl TcpConfig {
    /// Checks every value against what the stack can honour; `connect` refuses a
    /// configuration that fails (`ConnectError::Config`) instead of misbehaving later.
    pub fn validate(&self) -> Result<(), TcpConfigError> {
        let bad = |field, value: u64, allowed| {
            Err(TcpConfigError {
                field,
                value,
                allowed,
            })
        };
        if self.mss < MIN_MSS || self.mss > 65_495 {
            return bad(
                "mss",
                self.mss.into(),
                "88 to 65495 (Linux's TCP_MIN_MSS to 64 KiB less headers)",
            );
        }
        if self.sndbuf < u32::from(self.mss) {
            return bad("sndbuf", self.sndbuf.into(), "at least one mss");
        }
        if self.rcvbuf < u32::from(self.mss) || self.rcvbuf > MAX_BUF {
            return bad(
                "rcvbuf",
                self.rcvbuf.into(),
                "one mss to 1 GiB (the largest scaled window)",
            );
        }
        if self.min_rto < MS || self.min_rto > MAX_TIME {
            return bad("min_rto", self.min_rto, "1 ms to 71 minutes");
        }
        if self.max_rto < self.min_rto || self.max_rto > MAX_TIME {
            return bad("max_rto", self.max_rto, "min_rto to 71 minutes");
        }
        if self.delack < MS || self.delack > 500 * MS {
            return bad("delack", self.delack, "1 ms to 500 ms (RFC 1122 §4.2.3.2)");
        }
        if self.time_wait > MAX_TIME {
            return bad("time_wait", self.time_wait, "at most 71 minutes");
        }
        if self.fin_timeout > MAX_TIME {
            return bad("fin_timeout", self.fin_timeout, "at most 71 minutes");
        }
        Ok(())
    }
}

/// A connection's settings as its block keeps them: `TcpConfig` less what only `connect`
/// reads (congestion control, RTO bounds but the upper one), times in microseconds: 28 bytes
/// where `TcpConfig` takes 176, which counts with a million connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnCfg {
    pub(crate) sndbuf: u32,
    pub(crate) rcvbuf: u32,
    delack_us: u32,
    time_wait_us: u32,
    fin_timeout_us: u32,
    max_rto_us: u32,
    pub(crate) mss: u16,
    pub(crate) syn_retries: u8,
    pub(crate) retries: u8,
    pub(crate) nodelay: bool,
    pub(crate) timestamps: bool,
    pub(crate) sack: bool,
    pub(crate) window_scaling: bool,
    pub(crate) pacing: bool,
    pub(crate) quickack: bool,
    pub(crate) cork: bool,
}

/// Nanoseconds to microseconds, saturating (at about 71 minutes).
fn us(t: Nanos) -> u32 {
    (t / 1000).min(u32::MAX as u64) as u32
}

impl ConnCfg {
    pub(crate) fn of(c: &TcpConfig) -> Self {
        ConnCfg {
            sndbuf: c.sndbuf,
            rcvbuf: c.rcvbuf,
            delack_us: us(c.delack),
            time_wait_us: us(c.time_wait),
            fin_timeout_us: us(c.fin_timeout),
            max_rto_us: us(c.max_rto),
            mss: c.mss,
            syn_retries: c.syn_retries,
            retries: c.retries,
            nodelay: c.nodelay,
            timestamps: c.timestamps,
            sack: c.sack,
            window_scaling: c.window_scaling,
            pacing: c.pacing,
            quickack: c.quickack,
            cork: c.cork,
        }
    }

    pub(crate) fn delack(&self) -> Nanos {
        self.delack_us as Nanos * 1000
    }

    pub(crate) fn time_wait(&self) -> Nanos {
        self.time_wait_us as Nanos * 1000
    }

    pub(crate) fn fin_timeout(&self) -> Nanos {
        self.fin_timeout_us as Nanos * 1000
    }

    pub(crate) fn max_rto(&self) -> Nanos {
        self.max_rto_us as Nanos * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_each_bad_value_names_its_field() {
        assert_eq!(TcpConfig::default().validate(), Ok(()));
        let d = TcpConfig::default();
        let cases = [
            (TcpConfig { mss: 11, ..d }, "mss"),
            (
                TcpConfig {
                    mss: MIN_MSS - 1,
                    ..d
                },
                "mss",
            ),
            (TcpConfig { sndbuf: 100, ..d }, "sndbuf"),
            (TcpConfig { rcvbuf: 0, ..d }, "rcvbuf"),
            (
                TcpConfig {
                    rcvbuf: (1 << 30) + 1,
                    ..d
                },
                "rcvbuf",
            ),
            (TcpConfig { min_rto: 0, ..d }, "min_rto"),
            (
                TcpConfig {
                    min_rto: 2 * SEC,
                    max_rto: SEC,
                    ..d
                },
                "max_rto",
            ),
            (
                TcpConfig {
                    max_rto: 5000 * SEC,
                    ..d
                },
                "max_rto",
            ),
            (TcpConfig { delack: SEC, ..d }, "delack"),
            (
                TcpConfig {
                    time_wait: 5000 * SEC,
                    ..d
                },
                "time_wait",
            ),
            (
                TcpConfig {
                    fin_timeout: 5000 * SEC,
                    ..d
                },
                "fin_timeout",
            ),
        ];
        for (c, field) in cases {
            let e = c.validate().expect_err(field);
            assert_eq!(e.field, field);
            let line = e.to_string();
            assert!(
                line.starts_with(&format!("TcpConfig::{field} is ")),
                "{line}"
            );
            assert!(!line.contains('\n'));
        }
        let edge = TcpConfig {
            mss: MIN_MSS,
            sndbuf: MIN_MSS.into(),
            min_rto: MS,
            max_rto: MS,
            delack: 500 * MS,
            ..d
        };
        assert_eq!(edge.validate(), Ok(()));
    }
}
