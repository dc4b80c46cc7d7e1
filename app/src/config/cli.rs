//! The `linerate send` command line (clap). Every value stays a string here: parsing and
//! validation happen in [`fn@super::merge`], after the `--config` file is folded in, so that a
//! flag and its file key give the same error.
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct SendArgs {
    /// EAL arguments, space-separated, e.g. "-l 0 --vdev=net_af_packet0,iface=lr-gen0"
    /// (also accepted after a trailing `--`)
    #[arg(long, allow_hyphen_values = true, value_name = "EAL ARGS")]
    pub dpdk: Option<String>,
    /// Port: id, PCI address or vdev name [default: 0]
    #[arg(long)]
    pub port: Option<String>,
    /// Our address on the port with its prefix, e.g. 198.18.0.1/24 (required)
    #[arg(long)]
    pub ip: Option<String>,
    /// Default gateway, e.g. 198.18.0.254
    #[arg(long)]
    pub gw: Option<String>,
    /// Static ARP entry ip=mac, e.g. 198.18.0.254=02:00:00:00:00:01 (repeatable)
    #[arg(long, value_name = "IP=MAC")]
    pub neigh: Vec<String>,
    /// Destination ip:port (repeatable; connections are spread round-robin)
    #[arg(long, value_name = "IP:PORT")]
    pub dst: Vec<String>,
    /// Connections [default: 1]
    #[arg(short = 'P', value_name = "CONNECTIONS")]
    pub parallel: Option<String>,
    /// Run time, e.g. 10s, 500ms, 2m [default: 10s]
    #[arg(short = 't', value_name = "DURATION")]
    pub time: Option<String>,
    /// Bytes to send per connection (instead of -t), e.g. 1GiB
    #[arg(short = 'n', value_name = "BYTES")]
    pub bytes: Option<String>,
    /// Bytes per send() call, e.g. 64KiB [default: 128KiB]
    #[arg(long)]
    pub size: Option<String>,
    /// Send this file's bytes on every connection, looping until -n/-t
    #[arg(long, value_name = "PATH")]
    pub payload_file: Option<PathBuf>,
    /// Total payload rate across connections in bits/s, e.g. 10G, 500M (open loop)
    #[arg(long, value_name = "BITS/S")]
    pub rate: Option<String>,
    /// Disable Nagle (send partial segments at once)
    #[arg(long)]
    pub nodelay: bool,
    /// Copy the payload into the stack on every write (the `send` API) instead of sending
    /// references to it from hugepage memory (`send_region`, the default)
    #[arg(long)]
    pub copy: bool,
    /// MSS to advertise and send with, e.g. 1460
    #[arg(long)]
    pub mss: Option<String>,
    /// Congestion control: cubic (RFC 9438) or reno [default: cubic]
    #[arg(long)]
    pub cc: Option<String>,
    /// Send each window as fast as it opens instead of pacing it over the RTT
    #[arg(long)]
    pub no_pacing: bool,
    /// Send buffer per connection, e.g. 4MiB [default: 4MiB]
    #[arg(long)]
    pub sndbuf: Option<String>,
    /// Latency mode: messages of --size at --msg-rate per connection, coordinated-omission
    /// corrected (implies --nodelay)
    #[arg(long)]
    pub latency: bool,
    /// Messages per second per connection in --latency mode, e.g. 1000, 10k
    #[arg(long, value_name = "N/S")]
    pub msg_rate: Option<String>,
    /// Print the final report as one JSON object (docs/report-schema.md)
    #[arg(long)]
    pub json: bool,
    /// Write the latency histograms as an HdrHistogram interval log
    #[arg(long, value_name = "PATH")]
    pub hist_out: Option<PathBuf>,
    /// Record frames to this pcap file (forces software checksums)
    #[arg(long, value_name = "PATH")]
    pub pcap: Option<PathBuf>,
    /// Frames to record with --pcap [default: 10000; 0 = no limit]
    #[arg(long, value_name = "N")]
    pub pcap_count: Option<String>,
    /// Read settings from a TOML file (keys as the long flags; flags override it)
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// No settings echo and no progress lines
    #[arg(long)]
    pub quiet: bool,
    /// Per-core stacks, one per lcore and queue pair (default: one per lcore in the EAL's -l;
    /// the main lcore works too). The port needs that many queue pairs (af_packet: qpairs=N)
    #[arg(long, value_name = "N")]
    pub workers: Option<String>,
    /// Mbufs in the pool (default: sized from connections × sndbuf)
    #[arg(long, value_name = "N")]
    pub mbufs: Option<String>,
    /// Answer our own traffic with an in-process TCP receiver (ARP, SYN-ACK, ACKs, FIN) on
    /// the first --dst address instead of the network: measures the stack's own cost, e.g. on
    /// --vdev=net_null0 (the --dst address must be on --ip's subnet)
    #[arg(long)]
    pub ack_peer: bool,
    /// With --ack-peer: present the port to the stack as doing IPv4 and TCP checksums in
    /// hardware (emulated: nothing computes them, the peer does not read them), to measure the
    /// stack's offload path on a device without offloads
    #[arg(long)]
    pub ack_peer_offloads: bool,
    /// With --ack-peer: present the port as TSO- and checksum-capable (emulated: the stack
    /// hands over frames of up to 64 KiB and the peer counts each as the MSS segments a NIC
    /// would cut it into), to measure the stack's TSO path on a device without TSO
    #[arg(long)]
    pub ack_peer_tso: bool,
    /// More source addresses, FIRST-LAST on --ip's subnet (each answers ARP; connections take
    /// them in turn, 28 232 ports each), e.g. 198.18.0.10-198.18.0.73
    #[arg(long, value_name = "FIRST-LAST")]
    pub src_range: Option<String>,
    /// Hold mode: open -P connections and keep them established with a small send (--size,
    /// 64 bytes unless given) every --hold-interval, until -t
    #[arg(long)]
    pub hold: bool,
    /// With --hold: how often each connection sends [default: 1s]
    #[arg(long, value_name = "DURATION")]
    pub hold_interval: Option<String>,
    /// Connection-rate mode: open N new connections per second on a fixed schedule (open
    /// loop); each sends -n bytes and closes with FIN; runs for -t, or until -P connections
    /// (if given) are done
    #[arg(long, value_name = "N/S")]
    pub cps: Option<String>,
    /// Request/response mode (like neper's tcp_rr): each connection sends a REQ-byte request
    /// and waits for RESP bytes back before the next; with --msg-rate, requests start on a
    /// fixed schedule and latency is coordinated-omission corrected. e.g. --rr 64/1KiB
    #[arg(long, value_name = "REQ/RESP")]
    pub rr: Option<String>,
    /// Print one JSON object per second on stdout (a time series for plotting)
    #[arg(long)]
    pub json_lines: bool,
    /// With --ack-peer: the receiver ACKs once per burst of segments of a connection, as
    /// Linux with GRO does, instead of every second segment
    #[arg(long)]
    pub ack_peer_gro: bool,
    /// EAL arguments after `--`
    #[arg(last = true, allow_hyphen_values = true, hide = true)]
    pub eal: Vec<String>,
}
