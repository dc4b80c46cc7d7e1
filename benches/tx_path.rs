//! Criterion benches of the per-segment TX path (send → frame handed to the device) and of
//! ACK processing, on a real DPDK net_null port with the in-process ACK peer.
//! Run: `cargo bench --bench tx_path` (as root; uses hugepages when reserved).
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use linerate::dpdk::{Mempool, Port, PortConfig, MBUF_DEFAULT_DATAROOM};
use linerate::DpdkDevice;
use linerate::{ConnId, Stack, StackConfig, State, TscClock};
use linerate_stack::peer::AckPeer;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MSS: usize = 1448;
const BATCH: u64 = 64;

struct Bench {
    stack: Stack<AckPeer<DpdkDevice>>,
    clock: TscClock,
    id: ConnId,
    payload: Vec<u8>,
    _port: Port,
}

fn setup() -> Bench {
    let eal = linerate_sim::eal::eal(&["net_null0"]);
    eal.register_thread().expect("lcore for the mempool cache");
    let pool = Arc::new(
        Mempool::new(&eal, "bench_pool", 32_767, 256, MBUF_DEFAULT_DATAROOM, None).expect("pool"),
    );
    let port = Port::open(
        &eal,
        "net_null0",
        &PortConfig {
            rx_desc: 1024,
            tx_desc: 1024,
            ..Default::default()
        },
        pool.clone(),
    )
    .expect("net_null0");
    let clock = TscClock::new();
    let peer_ip = Ipv4Addr::new(198, 18, 0, 2);
    let dev = AckPeer::new(
        DpdkDevice::new(port.queue(0).unwrap()).unwrap(),
        pool.clone(),
        Ipv4Addr::new(198, 18, 0, 1),
        peer_ip,
    );
    let mut cfg = StackConfig::new("198.18.0.1/24".parse().unwrap());
    cfg.tcp.nodelay = true;
    let mut stack = Stack::new(dev, pool, cfg, clock.now());
    let id = stack
        .connect(SocketAddrV4::new(peer_ip, 5201), None)
        .unwrap();
    while stack.state(id) != Some(State::Established) {
        stack.poll(clock.now());
    }
    let mut b = Bench {
        stack,
        clock,
        id,
        payload: vec![0xa5; MSS],
        _port: port,
    };
    // Warm up: grow cwnd and fill the pool caches.
    for _ in 0..200 {
        b.send_batch();
        b.stack.poll(b.clock.now());
    }
    b
}

impl Bench {
    fn send_batch(&mut self) {
        for _ in 0..BATCH {
            // The peer ACKs as fast as we poll, so the send buffer never fills here.
            let _ = self.stack.send(self.id, &self.payload);
        }
        self.stack.flush();
    }
}

fn benches(c: &mut Criterion) {
    let mut b = setup();
    let mut g = c.benchmark_group("per_segment");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    // send() of one MSS (copy + checksum) → tcp/ip/eth headers → TX burst to net_null.
    g.bench_function("tx_path_send_to_device", |bn| {
        bn.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let t0 = Instant::now();
                b.send_batch();
                t += t0.elapsed();
                b.stack.poll(b.clock.now()); // ACKs, untimed
                done += BATCH;
            }
            t
        })
    });
    // poll() taking the peer's ACKs (one per two segments): parse, validate, free, cwnd.
    g.bench_function("ack_processing_per_segment", |bn| {
        bn.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                b.send_batch(); // untimed
                let t0 = Instant::now();
                b.stack.poll(b.clock.now());
                t += t0.elapsed();
                done += BATCH;
            }
            t
        })
    });
    // The whole loop per segment: what one core sustains.
    g.bench_function("full_loop_per_segment", |bn| {
        bn.iter_custom(|iters| {
            let t0 = Instant::now();
            let mut done = 0;
            while done < iters {
                b.send_batch();
                b.stack.poll(b.clock.now());
                done += BATCH;
            }
            t0.elapsed()
        })
    });
    g.finish();
    let st = b.stack.stats();
    eprintln!(
        "{:?} peer {:?} drops {:?}",
        b.stack.info(b.id),
        b.stack.device().stats,
        st.drops
    );
    eprintln!(
        "segments out {} bytes acked {} would-block {} alloc failures {}",
        st.tcp.data_segs_out, st.tcp.bytes_acked, st.tcp.would_block, st.tcp.alloc_failures
    );
    assert_eq!(st.tcp.retrans_segs, 0, "the bench ran clean");
    assert_eq!(st.drops.total(), 0);
}

criterion_group!(tx, benches);
criterion_main!(tx);
