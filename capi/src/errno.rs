//! linerate's errors as the errno values C callers know (returned negated).
use linerate::{ConnectError, IoError, TcpError};

/// A failed connection's errno (as `connect`/`send` would set it on a kernel socket).
pub(crate) fn tcp(e: TcpError) -> i32 {
    match e {
        TcpError::Refused => libc::ECONNREFUSED,
        TcpError::Reset => libc::ECONNRESET,
        TcpError::TimedOut => libc::ETIMEDOUT,
        TcpError::HostUnreachable => libc::EHOSTUNREACH,
        TcpError::Aborted => libc::ECONNABORTED,
    }
}

/// A refused `connect`.
pub(crate) fn connect(e: ConnectError) -> i32 {
    match e {
        ConnectError::NoRoute(_) => libc::ENETUNREACH,
        ConnectError::AddrInUse => libc::EADDRINUSE,
        ConnectError::NoPorts => libc::EADDRNOTAVAIL,
        ConnectError::TooManyConnections => libc::EMFILE,
        ConnectError::NeighTableFull => libc::ENOBUFS,
        ConnectError::Config(_) => libc::EINVAL,
    }
}

/// A refused send, shutdown or close on a connection that exists.
pub(crate) fn io(e: IoError) -> i32 {
    match e {
        IoError::WouldBlock => libc::EAGAIN,
        IoError::NotConnected | IoError::BadRegion => libc::EINVAL,
        IoError::Shutdown => libc::EPIPE,
        // Every ticket leased: like a full send buffer, it clears as completions come.
        IoError::NoTicket => libc::ENOBUFS,
        IoError::Conn(e) => tcp(e),
    }
}
