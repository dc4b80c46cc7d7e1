//! An order sender, the trading case: 64-byte messages on one connection at a fixed rate,
//! each timed from the `send` call to its frame accepted by the NIC's `tx_burst`. With
//! `nodelay` the stack hands a message of up to one MSS to the device inside `send`, so the
//! call's duration is the send-to-wire latency. Prints p50, p99, p99.9 and max.
//!
//! ```sh
//! cargo run --release --features ack-peer --example order_sender -- \
//!     "-l 0 --in-memory --no-pci --no-telemetry --vdev=net_null0" 100000 100000
//! ```
//!
//! Arguments: EAL arguments, messages, messages per second. The port is answered by the
//! in-process ACK peer (on net_null: the stack's own cost, as a NIC user would see it).
use linerate::dpdk::{Eal, Mempool, Port, PortConfig, MBUF_DEFAULT_DATAROOM};
use linerate::peer::AckPeer;
use linerate::{DpdkDevice, Ipv4Cidr, Stack, StackConfig, State, TscClock, SEC};
use std::error::Error;
use std::net::SocketAddrV4;
use std::sync::Arc;

const DEFAULT_EAL: &str = "-l 0 --in-memory --no-pci --no-telemetry --vdev=net_null0";

fn arg<T: std::str::FromStr>(
    args: &[String],
    i: usize,
    default: T,
    what: &str,
) -> Result<T, String> {
    args.get(i).map_or(Ok(default), |s| {
        s.parse()
            .map_err(|_| format!("{what}: {s:?} is not a number"))
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let eal_args = args.first().map_or(DEFAULT_EAL, String::as_str);
    let n: usize = arg(&args, 1, 100_000, "messages")?;
    let rate: u64 = arg(&args, 2, 100_000, "messages per second")?;
    if n == 0 || rate == 0 {
        return Err("messages and rate must be above 0".into());
    }
    let eal = Eal::init(&eal_args.split_whitespace().collect::<Vec<_>>())?;
    let pool = Arc::new(Mempool::new(
        &eal,
        "orders",
        16_383,
        512,
        MBUF_DEFAULT_DATAROOM,
        None,
    )?);
    let port = Port::open(&eal, "0", &PortConfig::default(), pool.clone())?;
    let local: Ipv4Cidr = "198.18.0.1/24".parse()?;
    let dst: SocketAddrV4 = "198.18.0.2:5201".parse()?;
    let dev = DpdkDevice::new(port.queue(0)?)?;
    let dev = AckPeer::new(dev, pool.clone(), local.addr, *dst.ip());
    let mut cfg = StackConfig::new(local);
    cfg.tcp.nodelay = true;
    let clock = TscClock::new();
    let mut stack = Stack::new(dev, pool, cfg, clock.now());
    let conn = stack.connect(dst, None)?;
    let deadline = clock.now() + 5 * SEC;
    while stack.state(conn) != Some(State::Established) {
        if clock.now() > deadline {
            return Err(format!("no handshake in 5 s: {:?}", stack.info(conn)).into());
        }
        stack.poll(clock.now());
    }

    // The messages, on a fixed schedule; the stack polls while it waits for the next.
    let msg = [0x4f_u8; 64];
    let mut lat = Vec::with_capacity(n);
    let gap = SEC as f64 / rate as f64;
    let t0 = clock.now();
    for i in 0..n {
        let due = t0 + (i as f64 * gap) as u64;
        while clock.now() < due {
            stack.poll(clock.now());
        }
        let a = clock.now();
        match stack.send(conn, &msg) {
            Ok(64) => {}
            other => return Err(format!("message {i}: send gave {other:?}").into()),
        }
        lat.push(clock.now() - a);
    }
    let want = (n * msg.len()) as u64;
    let deadline = clock.now() + 5 * SEC;
    let acked = |s: &Stack<_>| s.info(conn).map_or(0, |i| i.counters.bytes_acked);
    while acked(&stack) < want && clock.now() < deadline {
        stack.poll(clock.now());
    }
    lat.sort_unstable();
    let pct = |p: f64| lat[((n - 1) as f64 * p) as usize];
    println!(
        "order_sender: {n} messages of 64 bytes at {rate}/s: send-to-wire p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns; {} of {want} bytes acked",
        pct(0.5),
        pct(0.99),
        pct(0.999),
        lat[n - 1],
        acked(&stack)
    );
    if acked(&stack) != want {
        return Err("not every message was acknowledged".into());
    }
    Ok(())
}
