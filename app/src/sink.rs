//! `linerate sink`: the kernel-socket receiver of the test topology (design.md §5).
//!
//! Accepts TCP connections on `--listen`, one thread per connection, reads each until EOF
//! (or reset) while hashing the bytes with SHA-256, and prints one line per closed
//! connection:
//!
//! ```text
//! conn <n> peer <ip:port> bytes <N> sha256 <hex> secs <f> gbps <f> closed fin|rst
//! ```
//!
//! or with `--json` one object per line:
//! `{"conn":1,"peer":"198.18.0.1:40000","bytes":N,"sha256":"..","secs":f,"gbps":f,"closed":"fin"}`.
//! `listening <addr>` goes to stderr once the socket is bound (tests wait for it).
//! `secs` runs from accept to EOF/reset.

use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct SinkArgs {
    /// Address to listen on (ip:port).
    #[arg(long, default_value = "0.0.0.0:5201")]
    pub listen: SocketAddr,
    /// Print one JSON object per closed connection instead of a text line.
    #[arg(long)]
    pub json: bool,
    /// Exit after this many connections have closed (0 = run forever).
    #[arg(long, default_value_t = 0)]
    pub count: u64,
    /// Exit with an error if no connection activity (accept or close) happens for this many
    /// seconds.
    #[arg(long)]
    pub timeout: Option<f64>,
    /// SO_RCVBUF for accepted sockets, in bytes (set on the listener, inherited).
    #[arg(long)]
    pub rcvbuf: Option<usize>,
    /// The echo side of `linerate send --rr`: after every --request bytes received, send
    /// this many bytes back (TCP_NODELAY on), e.g. --respond 1024
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..=(16 << 20)))]
    pub respond: Option<u64>,
    /// With --respond: the request size, bytes [default: 1]
    #[arg(long, value_name = "BYTES", requires = "respond", value_parser = clap::value_parser!(u64).range(1..=(16 << 20)))]
    pub request: Option<u64>,
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    Fin,
    Rst,
}

/// The outcome of one connection.
#[derive(Debug, Clone)]
pub struct ConnReport {
    pub conn: u64,
    pub peer: SocketAddr,
    pub bytes: u64,
    pub sha256: String,
    pub secs: f64,
    pub closed: Closed,
    /// Responses sent (--respond).
    pub responses: u64,
}

impl ConnReport {
    pub fn gbps(&self) -> f64 {
        if self.secs > 0.0 {
            self.bytes as f64 * 8.0 / self.secs / 1e9
        } else {
            0.0
        }
    }

    pub fn line(&self, json: bool) -> String {
        let closed = match self.closed {
            Closed::Fin => "fin",
            Closed::Rst => "rst",
        };
        if json {
            serde_json::json!({
                "conn": self.conn,
                "peer": self.peer.to_string(),
                "bytes": self.bytes,
                "sha256": self.sha256,
                "secs": self.secs,
                "gbps": self.gbps(),
                "closed": closed,
                "responses": self.responses,
            })
            .to_string()
        } else {
            format!(
                "conn {} peer {} bytes {} sha256 {} secs {:.6} gbps {:.3} closed {}",
                self.conn,
                self.peer,
                self.bytes,
                self.sha256,
                self.secs,
                self.gbps(),
                closed
            )
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `stream` to EOF or reset, hashing everything; with `respond` = (request,
/// response), answers every request's worth of bytes with a response of zeros.
pub fn drain(
    conn: u64,
    peer: SocketAddr,
    mut stream: TcpStream,
    respond: Option<(u64, u64)>,
) -> ConnReport {
    let start = Instant::now();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    let answer = vec![0u8; respond.map_or(0, |(_, r)| r as usize)];
    let (mut pending, mut responses) = (0u64, 0u64);
    if respond.is_some() {
        let _ = stream.set_nodelay(true);
    }
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break Closed::Fin,
            Ok(n) => {
                h.update(&buf[..n]);
                bytes += n as u64;
                if let Some((req, _)) = respond {
                    pending += n as u64;
                    while pending >= req {
                        pending -= req;
                        if stream.write_all(&answer).is_err() {
                            break;
                        }
                        responses += 1;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // ECONNRESET and anything else that ends the stream abnormally.
            Err(_) => break Closed::Rst,
        }
    };
    ConnReport {
        conn,
        peer,
        bytes,
        sha256: hex(&h.finalize()),
        secs: start.elapsed().as_secs_f64(),
        closed,
        responses,
    }
}

fn set_rcvbuf(l: &TcpListener, bytes: usize) -> Result<(), String> {
    socket2::SockRef::from(l)
        .set_recv_buffer_size(bytes)
        .map_err(|e| format!("SO_RCVBUF: {e}"))
}

enum Event {
    Accepted,
    Done(ConnReport),
    AcceptError(String),
}

/// Binds and serves until `count` connections closed (or forever), reporting to `out`.
/// `on_bound` gets the bound address (the port may be 0 in `args.listen`).
pub fn serve(
    args: &SinkArgs,
    out: &mut dyn Write,
    on_bound: &mut dyn FnMut(SocketAddr),
) -> Result<(), String> {
    let listener =
        TcpListener::bind(args.listen).map_err(|e| format!("bind {}: {e}", args.listen))?;
    if let Some(b) = args.rcvbuf {
        set_rcvbuf(&listener, b)?;
    }
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    on_bound(local);

    let respond = args.respond.map(|r| (args.request.unwrap_or(1), r));
    let (tx, rx) = mpsc::channel::<Event>();
    std::thread::Builder::new()
        .name("sink-accept".into())
        .spawn(move || {
            let mut n = 0u64;
            for s in listener.incoming() {
                match s {
                    Ok(stream) => {
                        n += 1;
                        let conn = n;
                        let peer = stream
                            .peer_addr()
                            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                        if tx.send(Event::Accepted).is_err() {
                            return;
                        }
                        let tx = tx.clone();
                        let _ = std::thread::Builder::new()
                            .name(format!("sink-conn-{conn}"))
                            .spawn(move || {
                                let _ = tx.send(Event::Done(drain(conn, peer, stream, respond)));
                            });
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.raw_os_error() == Some(libc::EMFILE) => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => {
                        let _ = tx.send(Event::AcceptError(e.to_string()));
                        return;
                    }
                }
            }
        })
        .map_err(|e| format!("spawn: {e}"))?;

    let mut closed = 0u64;
    let mut open = 0u64;
    loop {
        let ev = match args.timeout {
            Some(t) => match rx.recv_timeout(Duration::from_secs_f64(t.max(0.0))) {
                Ok(ev) => ev,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "idle timeout after {t}s ({closed} closed, {open} still open)"
                    ))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err("accept thread ended".into())
                }
            },
            None => rx.recv().map_err(|_| "accept thread ended".to_string())?,
        };
        match ev {
            Event::Accepted => open += 1,
            Event::Done(r) => {
                open -= 1;
                closed += 1;
                writeln!(out, "{}", r.line(args.json)).map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())?;
                if args.count > 0 && closed >= args.count {
                    return Ok(());
                }
            }
            Event::AcceptError(e) => return Err(format!("accept: {e}")),
        }
    }
}

/// Entry point of `linerate sink`.
pub fn run(args: &SinkArgs) -> Result<(), String> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    serve(args, &mut out, &mut |a| {
        eprintln!("listening {a}");
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    type Started = (
        SocketAddr,
        std::thread::JoinHandle<Result<(), String>>,
        Arc<Mutex<Vec<u8>>>,
    );

    fn start(json: bool, count: u64) -> Started {
        let args = SinkArgs {
            listen: "127.0.0.1:0".parse().unwrap(),
            json,
            count,
            timeout: Some(10.0),
            rcvbuf: Some(1 << 20),
            respond: None,
            request: None,
        };
        let buf = Arc::new(Mutex::new(Vec::new()));
        let (atx, arx) = mpsc::channel();
        let b2 = buf.clone();
        let h = std::thread::spawn(move || {
            let mut out = Shared(b2);
            serve(&args, &mut out, &mut |a| atx.send(a).unwrap())
        });
        (arx.recv().unwrap(), h, buf)
    }

    #[test]
    fn hashes_each_connection() {
        let (addr, h, out) = start(true, 2);
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let want = hex(&Sha256::digest(&data));
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&data).unwrap();
        drop(s);
        let s = TcpStream::connect(addr).unwrap();
        drop(s);
        h.join().unwrap().unwrap();
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        let big = lines.iter().find(|v| v["bytes"] == 3_000_000).unwrap();
        assert_eq!(big["sha256"], want);
        assert_eq!(big["closed"], "fin");
        let empty = lines.iter().find(|v| v["bytes"] == 0).unwrap();
        assert_eq!(
            empty["sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn reset_is_reported_and_text_format() {
        let (addr, h, out) = start(false, 1);
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"hello").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        // SO_LINGER 0 makes close() send RST.
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
        h.join().unwrap().unwrap();
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert!(text.starts_with("conn 1 peer 127.0.0.1:"), "{text}");
        assert!(text.contains(" bytes 5 sha256 "), "{text}");
        assert!(text.trim_end().ends_with("closed rst"), "{text}");
    }

    #[test]
    fn idle_timeout_errors() {
        let args = SinkArgs {
            listen: "127.0.0.1:0".parse().unwrap(),
            json: false,
            count: 0,
            timeout: Some(0.2),
            rcvbuf: None,
            respond: None,
            request: None,
        };
        let mut out = Vec::new();
        let e = serve(&args, &mut out, &mut |_| {}).unwrap_err();
        assert!(e.contains("idle timeout"), "{e}");
    }
}
