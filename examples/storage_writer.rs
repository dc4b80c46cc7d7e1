//! A storage writer: zero-copy bulk writes with completions. Blocks live in a ring in one
//! `ZcRegion`, each connection owning its own slice of it; a block is written in place, sent
//! with `send_region`, and written again only once a `ZC_DONE` event says its memory came
//! back. Times each block from its first `send_region` to the completion covering it.
//!
//! ```sh
//! cargo run --release --features ack-peer --example storage_writer -- \
//!     --eal "-l 0 --in-memory --no-pci --no-telemetry --vdev=net_null0" --bytes 1G --conns 2
//! ```
//!
//! Flags (sizes take K, M, G): `--eal`, `--block` (256K), `--blocks` in the ring (8, split
//! evenly over connections), `--bytes` in total (1G), `--conns` (1). On net_null the port is
//! answered by the in-process ACK peer, as in `order_sender`.
use linerate::dpdk::{
    Eal, Mempool, Port, PortConfig, ZcRegion, MAX_TICKETS, MBUF_DEFAULT_DATAROOM,
};
use linerate::event::{Event, ERROR, ZC_DONE};
use linerate::peer::AckPeer;
use linerate::{
    ConnId, DpdkDevice, IoError, Ipv4Cidr, Nanos, Stack, StackConfig, State, TscClock, SEC,
};
use std::collections::VecDeque;
use std::error::Error;
use std::net::SocketAddrV4;
use std::process::ExitCode;
use std::sync::Arc;

const DEFAULT_EAL: &str = "-l 0 --in-memory --no-pci --no-telemetry --vdev=net_null0";
/// Leases are per 4 KiB page: blocks of whole pages never share one with a neighbour that
/// is still in flight.
const PAGE: usize = 4096;

/// A block written and not yet returned; `end` counts in the connection's stream.
struct Block {
    end: u64,
    len: usize,
    off: usize,
    sent_at: Option<Nanos>,
}

/// One connection's writer; connection c's k-th block is block k·conns + c overall.
#[derive(Default)]
struct Conn {
    next: u64,
    written: u64,
    sent: u64,
    done: u64,
    inflight: VecDeque<Block>,
    closed: bool,
}

fn size(s: &str, what: &str) -> Result<u64, String> {
    let (num, mul) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 1 << 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 1 << 20),
        Some(b'G' | b'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{what}: {s:?} is not a size above 0 (like 4096, 256K, 1G)"))
}

fn main() -> ExitCode {
    // One line per error, said plainly (not `main`'s Debug form).
    run().map_or_else(
        |e| {
            eprintln!("storage_writer: {e}");
            ExitCode::FAILURE
        },
        |()| ExitCode::SUCCESS,
    )
}

fn run() -> Result<(), Box<dyn Error>> {
    let (mut eal_args, mut block, mut blocks, mut total, mut nconns) =
        (DEFAULT_EAL.to_string(), 256 << 10, 8, 1 << 30, 1);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let v = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--eal" => eal_args = v,
            "--block" => block = size(&v, "--block")?,
            "--blocks" => blocks = size(&v, "--blocks")?,
            "--bytes" => total = size(&v, "--bytes")?,
            "--conns" => nconns = size(&v, "--conns")?,
            _ => Err(format!(
                "unknown flag {flag}: use --eal, --block, --blocks, --bytes, --conns"
            ))?,
        }
    }
    if block % PAGE as u64 != 0 {
        Err(format!(
            "--block {block} must be a multiple of {PAGE} (the lease granule)"
        ))?;
    }
    if blocks % nconns != 0 {
        Err(format!(
            "--blocks {blocks} must be a multiple of --conns {nconns}"
        ))?;
    }
    let ring = blocks.saturating_mul(block);
    let ring = usize::try_from(ring).ok().filter(|&n| n < 1 << 32);
    let ring = ring.ok_or("--block × --blocks must be under 4 GiB")?;
    let (block, slot, per) = (block as usize, block as usize, (blocks / nconns) as usize);
    let nblocks = total.div_ceil(block as u64);

    let eal = Eal::init(&eal_args.split_whitespace().collect::<Vec<_>>())?;
    let pool = Mempool::new(&eal, "storage", 16_383, 512, MBUF_DEFAULT_DATAROOM, None)?;
    let pool = Arc::new(pool);
    let port = Port::open(&eal, "0", &PortConfig::default(), pool.clone())?;
    let local: Ipv4Cidr = "198.18.0.1/24".parse()?;
    let dst: SocketAddrV4 = "198.18.0.2:5201".parse()?;
    let dev = DpdkDevice::new(port.queue(0)?)?;
    let dev = AckPeer::new(dev, pool.clone(), local.addr, *dst.ip());
    let clock = TscClock::new();
    let mut stack = Stack::new(dev, pool, StackConfig::new(local), clock.now());
    // A block may go out in several sends (a full send buffer takes part), each a ticket.
    let tickets = blocks.saturating_mul(4).min(MAX_TICKETS as u64) as u16;
    let region = ZcRegion::new(&eal, ring, tickets, None)?;
    let r = stack
        .register_zc_region(region)
        .ok_or("no region id left")?;
    let ids = (0..nconns)
        .map(|_| stack.connect(dst, None))
        .collect::<Result<Vec<ConnId>, _>>()?;
    let mut conns: Vec<Conn> = ids.iter().map(|_| Conn::default()).collect();
    let deadline = clock.now() + 5 * SEC;
    while ids
        .iter()
        .any(|&id| stack.state(id) != Some(State::Established))
    {
        if clock.now() > deadline {
            Err(format!("no handshake in 5 s: {:?}", stack.info(ids[0])))?;
        }
        stack.poll(clock.now());
    }

    let mut evs = [Event::EMPTY; 64];
    let mut lat = Vec::with_capacity(nblocks.min(1 << 20) as usize);
    let mut completions = 0u64;
    let (t0, mut last) = (clock.now(), clock.now());
    while ids.iter().any(|&id| stack.state(id).is_some()) {
        stack.poll(clock.now());
        loop {
            let n = stack.events(&mut evs);
            for e in &evs[..n] {
                let Some(ci) = ids.iter().position(|&id| id == e.conn) else {
                    continue;
                };
                if e.what & ERROR != 0 {
                    Err(format!("connection {ci} failed: {:?}", e.error))?;
                }
                if e.what & ZC_DONE == 0 {
                    continue;
                }
                let c = &mut conns[ci];
                (completions, c.done, last) = (completions + 1, e.zc_done, e.at);
                while c.inflight.front().is_some_and(|b| b.end <= c.done) {
                    let b = c.inflight.pop_front().expect("front checked");
                    lat.push(e.at.saturating_sub(b.sent_at.expect("returned, so sent")));
                    // Its memory came back: the block must be ours to write again.
                    let free = stack.zc_bytes_mut(r, b.off, b.len).is_some();
                    assert!(free, "block at {} still leased after ZC_DONE", b.off);
                }
            }
            if n < evs.len() {
                break;
            }
        }
        for (ci, (c, &id)) in conns.iter_mut().zip(&ids).enumerate() {
            // Fill free slots: block k's slot was last used by block k - per, returned.
            let mut g = c.next * nconns + ci as u64;
            while c.inflight.len() < per && g < nblocks {
                let len = (total - g * block as u64).min(block as u64) as usize;
                let off = (ci * per + c.next as usize % per) * slot;
                let buf = stack
                    .zc_bytes_mut(r, off, len)
                    .expect("a free slot is returned");
                buf.fill(g as u8);
                // A header a reader can check: the block's number and length.
                let hdr = g
                    .to_le_bytes()
                    .into_iter()
                    .chain((len as u64).to_le_bytes());
                buf.iter_mut().zip(hdr).for_each(|(d, s)| *d = s);
                c.written += len as u64;
                let end = c.written;
                c.inflight.push_back(Block {
                    end,
                    len,
                    off,
                    sent_at: None,
                });
                c.next += 1;
                g += nconns;
            }
            // Send what is written, a block at a time (slots are not contiguous).
            while c.sent < c.written {
                let now = clock.now();
                let b = c.inflight.iter_mut().find(|b| b.end > c.sent);
                let b = b.expect("unsent bytes are in flight");
                let skip = b.len - (b.end - c.sent) as usize;
                match stack.send_region(id, r, b.off + skip, b.len - skip) {
                    Ok(0) | Err(IoError::WouldBlock | IoError::NoTicket) => break,
                    Ok(k) => {
                        b.sent_at.get_or_insert(now);
                        c.sent += k as u64;
                    }
                    Err(e) => Err(format!("send_region at {}: {e}", c.sent))?,
                }
            }
            if !c.closed && g >= nblocks && c.sent == c.written {
                stack.close(id)?;
                c.closed = true;
            }
        }
        if clock.now() > last + 5 * SEC {
            let sent: Vec<_> = conns.iter().map(|c| (c.sent, c.done)).collect();
            Err(format!(
                "no completion in 5 s; (sent, returned) per connection: {sent:?}"
            ))?;
        }
    }
    let bytes: u64 = conns.iter().map(|c| c.done).sum();
    if bytes != total || conns.iter().any(|c| !c.inflight.is_empty()) {
        Err(format!(
            "{bytes} of {total} bytes came back before the connections closed"
        ))?;
    }
    assert!(
        stack.zc_bytes_mut(r, 0, ring).is_some(),
        "ring free at the end"
    );
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize] as f64 / 1e3;
    let ns = last.saturating_sub(t0).max(1) as f64;
    println!(
        "storage_writer: bytes={bytes} blocks={} completions={completions} gbit_s={:.2} p50_complete_us={:.1} p99_complete_us={:.1}",
        lat.len(),
        bytes as f64 * 8.0 / ns,
        pct(0.5),
        pct(0.99)
    );
    Ok(())
}
