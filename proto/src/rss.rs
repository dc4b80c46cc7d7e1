//! Receive-side scaling: the Toeplitz hash NICs compute over a packet's addresses and ports,
//! the redirection table (RETA) that turns that hash into a receive queue, and a local-port
//! picker that steers a connection's inbound packets to the queue of the core that owns it.
//!
//! The hash follows Microsoft's "RSS hashing functions" definition: for each input bit, left
//! to right, when the bit is set XOR in the 32 key bits that start at that bit position.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

/// The 40-byte key of Microsoft's "Verifying the RSS Hash Calculation" suite, also the default
/// of many NIC drivers.
pub const RSS_KEY_MS: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// Input bytes hashed through lookup tables: the IPv4/TCP tuple. Longer inputs (IPv6) fall
/// back to the bitwise loop for the rest, which keeps the tables at 12 KiB.
const TABLE_BYTES: usize = 12;

/// The shortest key accepted: 12 input bytes need 12 + 4 key bytes.
const MIN_KEY_LEN: usize = TABLE_BYTES + 4;

/// Key bytes `byte..byte + 5` as the low 40 bits of a u64, zero past the end of the key.
fn key_bits40(key: &[u8], byte: usize) -> u64 {
    (0..5).fold(0u64, |acc, i| {
        (acc << 8) | u64::from(key.get(byte + i).copied().unwrap_or(0))
    })
}

/// The 32 key bits starting at bit `bit` (bit 0 is the MSB of `key[0]`): what one set input
/// bit at that position contributes to the hash.
fn key_window(key: &[u8], bit: usize) -> u32 {
    (key_bits40(key, bit / 8) >> (8 - bit % 8)) as u32
}

/// A Toeplitz hasher for one key, with per-byte lookup tables built once.
#[derive(Clone)]
pub struct Toeplitz {
    key: Vec<u8>,
    /// `tables[i][v]`: the hash contribution of byte value `v` at input position `i`. The hash
    /// is linear over XOR, so the contributions of the bytes simply XOR together.
    tables: Box<[[u32; 256]; TABLE_BYTES]>,
}

impl Toeplitz {
    /// Builds the hasher for `key`, or `None` when the key is shorter than 16 bytes (the
    /// 12-byte IPv4/TCP input needs 16). 40-byte (most NICs) and 52-byte (some Intel NICs) keys
    /// work; see [`max_input_len`](Self::max_input_len).
    pub fn new(key: &[u8]) -> Option<Toeplitz> {
        if key.len() < MIN_KEY_LEN {
            return None;
        }
        let mut tables = Box::new([[0u32; 256]; TABLE_BYTES]);
        for (pos, table) in tables.iter_mut().enumerate() {
            let windows: [u32; 8] = std::array::from_fn(|j| key_window(key, pos * 8 + j));
            // Each value is a smaller value plus its lowest set bit: one XOR per entry.
            for v in 1..256usize {
                let low = v.trailing_zeros() as usize;
                table[v] = table[v & (v - 1)] ^ windows[7 - low];
            }
        }
        Some(Toeplitz {
            key: key.to_vec(),
            tables,
        })
    }

    /// The key this hasher was built from.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The longest input [`hash`](Self::hash) accepts: key length − 4 bytes, since the last
    /// input bit needs 32 key bits from its position on (36 bytes with a 40-byte key, enough
    /// for IPv6/TCP).
    pub fn max_input_len(&self) -> usize {
        self.key.len() - 4
    }

    /// The Toeplitz hash of `input`, as the NIC computes it (and reports it in the mbuf).
    ///
    /// # Panics
    /// If `input` is longer than [`max_input_len`](Self::max_input_len).
    pub fn hash(&self, input: &[u8]) -> u32 {
        assert!(
            input.len() <= self.max_input_len(),
            "RSS input of {} bytes needs a key of at least {} bytes, have {}",
            input.len(),
            input.len() + 4,
            self.key.len()
        );
        let (head, tail) = input.split_at(input.len().min(TABLE_BYTES));
        let mut h = head
            .iter()
            .zip(self.tables.iter())
            .fold(0u32, |h, (&b, table)| h ^ table[usize::from(b)]);
        for (i, &b) in tail.iter().enumerate() {
            let bits = key_bits40(&self.key, TABLE_BYTES + i);
            for j in 0..8 {
                if b & (0x80 >> j) != 0 {
                    h ^= (bits >> (8 - j)) as u32;
                }
            }
        }
        h
    }
}

impl fmt::Debug for Toeplitz {
    // The 12 KiB of tables say nothing the key does not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Toeplitz")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The RSS input for an IPv4/TCP (or UDP) packet, in network byte order: source address,
/// destination address, source port, destination port.
pub fn ipv4_tcp_input(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> [u8; 12] {
    let mut input = [0u8; 12];
    input[..4].copy_from_slice(&src.octets());
    input[4..8].copy_from_slice(&dst.octets());
    input[8..10].copy_from_slice(&sport.to_be_bytes());
    input[10..].copy_from_slice(&dport.to_be_bytes());
    input
}

/// The RSS input for an IPv4 packet hashed on addresses only: source, then destination.
pub fn ipv4_input(src: Ipv4Addr, dst: Ipv4Addr) -> [u8; 8] {
    let mut input = [0u8; 8];
    input[..4].copy_from_slice(&src.octets());
    input[4..].copy_from_slice(&dst.octets());
    input
}

/// A redirection table (RETA): the NIC sends a packet to queue `entries[hash % len]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reta {
    entries: Vec<u16>,
}

impl Reta {
    /// The table most drivers program by default: entry `i` is queue `i % queues`.
    ///
    /// # Panics
    /// If `size` or `queues` is zero.
    pub fn round_robin(size: usize, queues: u16) -> Reta {
        assert!(size > 0 && queues > 0, "a RETA needs entries and queues");
        Reta {
            entries: (0..size)
                .map(|i| (i % usize::from(queues)) as u16)
                .collect(),
        }
    }

    /// A table with the given entries (queue numbers), or `None` when there are none.
    pub fn from_entries(entries: Vec<u16>) -> Option<Reta> {
        (!entries.is_empty()).then_some(Reta { entries })
    }

    /// The queue numbers, indexed by the hash's low bits.
    pub fn entries(&self) -> &[u16] {
        &self.entries
    }

    /// The queue a packet with RSS hash `hash` lands on: `entries[hash % len]`. NICs index
    /// the table with the hash's low bits; their table sizes (64, 128, 512, …) are powers of
    /// two, for which `% len` is exactly that mask.
    pub fn queue_of(&self, hash: u32) -> u16 {
        self.entries[hash as usize % self.entries.len()]
    }
}

/// Picks local ports for connections to one remote endpoint from one local address so that
/// the inbound packets (remote → local) hash to a chosen queue.
///
/// The hash is linear over XOR in the input bits, so the inbound hash is the hash of the tuple
/// with local port 0, XOR the contribution of each set bit of the local port. Both parts are
/// computed once here; a candidate port then costs 16 masked XORs.
///
/// ```
/// use linerate_proto::rss::{PortPicker, Reta, Toeplitz, RSS_KEY_MS};
/// use std::net::{Ipv4Addr, SocketAddrV4};
///
/// let t = Toeplitz::new(&RSS_KEY_MS).unwrap();
/// let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 5201);
/// let picker = PortPicker::new(&t, Ipv4Addr::new(10, 0, 0, 1), remote);
/// let reta = Reta::round_robin(128, 4);
/// let port = picker.find(&reta, 3, (32768, 60999), 32768, |_| false).unwrap();
/// assert_eq!(reta.queue_of(picker.hash_for(port)), 3);
/// ```
#[derive(Clone, Debug)]
pub struct PortPicker {
    /// Hash of the inbound tuple with destination (local) port 0.
    base: u32,
    /// `windows[j]`: contribution of local-port bit `j`, counting from the MSB.
    windows: [u32; 16],
}

impl PortPicker {
    /// The picker for connections from `local` to `remote`, under hasher `t`.
    pub fn new(t: &Toeplitz, local: Ipv4Addr, remote: SocketAddrV4) -> PortPicker {
        let base = t.hash(&ipv4_tcp_input(*remote.ip(), local, remote.port(), 0));
        // The local port is the inbound destination port: input bits 80..96.
        let windows = std::array::from_fn(|j| key_window(t.key(), 80 + j));
        PortPicker { base, windows }
    }

    /// The RSS hash of inbound packets (remote → local) when the local port is `local_port`.
    pub fn hash_for(&self, local_port: u16) -> u32 {
        self.windows
            .iter()
            .enumerate()
            .fold(self.base, |h, (j, &w)| {
                // All ones when port bit j is set, else zero: no branch per bit.
                let mask = 0u32.wrapping_sub(u32::from(local_port >> (15 - j)) & 1);
                h ^ (w & mask)
            })
    }

    /// The first local port, scanning from `start` up through the inclusive `range` and
    /// wrapping to its low end, for which `taken(port)` is false and inbound packets land on
    /// `want_queue` through `reta`. A `start` outside the range starts at its low end.
    ///
    /// `None` when no port qualifies: an empty range (`range.0 > range.1`), a queue that
    /// `reta` never names, or every matching port taken. `taken` is only asked about ports
    /// that map to `want_queue`.
    pub fn find(
        &self,
        reta: &Reta,
        want_queue: u16,
        range: (u16, u16),
        start: u16,
        mut taken: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        let (lo, hi) = range;
        if lo > hi || !reta.entries().contains(&want_queue) {
            return None;
        }
        let len = u32::from(hi - lo) + 1;
        let first = if (lo..=hi).contains(&start) {
            u32::from(start - lo)
        } else {
            0
        };
        (0..len)
            .map(|k| lo + ((first + k) % len) as u16)
            .find(|&port| reta.queue_of(self.hash_for(port)) == want_queue && !taken(port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Textbook Toeplitz, one bit at a time with a sliding 32-bit key window: the reference
    /// the table path must agree with.
    fn reference_hash(key: &[u8], input: &[u8]) -> u32 {
        let mut window = u32::from_be_bytes([key[0], key[1], key[2], key[3]]);
        let mut result = 0;
        for (i, &byte) in input.iter().enumerate() {
            for b in 0..8 {
                if byte & (0x80 >> b) != 0 {
                    result ^= window;
                }
                let next = key.get(4 + i).map_or(0, |k| (k >> (7 - b)) & 1);
                window = (window << 1) | u32::from(next);
            }
        }
        result
    }

    /// xorshift64: reproducible pseudo-random bytes without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    /// Microsoft's IPv4 verification rows, as its table prints them: destination, source,
    /// "IPv4 only" hash, "IPv4 with TCP" hash. DPDK's app/test/test_thash.c has the same rows.
    #[rustfmt::skip] // one row per line, as in the published table
    const MS_V4: [(&str, &str, u32, u32); 5] = [
        ("161.142.100.80:1766", "66.9.149.187:2794", 0x323e8fc2, 0x51ccc178),
        ("65.69.140.83:4739", "199.92.111.2:14230", 0xd718262a, 0xc626b0ea),
        ("12.22.207.184:38024", "24.19.198.95:12898", 0xd2d0a5de, 0x5c2b394a),
        ("209.142.163.6:2217", "38.27.205.30:48228", 0x82989176, 0xafc7327f),
        ("202.188.127.2:1303", "153.39.163.191:44251", 0x5d1809c5, 0x10e828a2),
    ];

    #[test]
    fn rss_microsoft_ipv4_vectors() {
        let t = Toeplitz::new(&RSS_KEY_MS).unwrap();
        for (dst, src, v4, v4_tcp) in MS_V4 {
            let dst: SocketAddrV4 = dst.parse().unwrap();
            let src: SocketAddrV4 = src.parse().unwrap();
            assert_eq!(
                t.hash(&ipv4_input(*src.ip(), *dst.ip())),
                v4,
                "{src} -> {dst}"
            );
            let tcp = ipv4_tcp_input(*src.ip(), *dst.ip(), src.port(), dst.port());
            assert_eq!(t.hash(&tcp), v4_tcp, "{src} -> {dst}");
            assert_eq!(reference_hash(&RSS_KEY_MS, &tcp), v4_tcp, "{src} -> {dst}");
        }
    }

    #[test]
    fn rss_input_layout_is_network_order() {
        let input = ipv4_tcp_input(
            Ipv4Addr::new(1, 2, 3, 4),
            Ipv4Addr::new(5, 6, 7, 8),
            0x0a0b,
            0x0c0d,
        );
        assert_eq!(input, [1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0x0b, 0x0c, 0x0d]);
        assert_eq!(
            ipv4_input(Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::new(5, 6, 7, 8)),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
    }

    #[test]
    fn rss_table_path_matches_bitwise_reference() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let key_len = MIN_KEY_LEN + rng.below(52 - MIN_KEY_LEN + 1);
            let key = rng.bytes(key_len);
            let t = Toeplitz::new(&key).unwrap();
            assert_eq!(t.key(), &key[..]);
            // Lengths past 12 exercise the bitwise tail (IPv6 inputs are 32 and 36 bytes).
            let input_len = rng.below(t.max_input_len() + 1);
            let input = rng.bytes(input_len);
            assert_eq!(
                t.hash(&input),
                reference_hash(&key, &input),
                "key {key:02x?}"
            );
        }
    }

    #[test]
    fn rss_key_length_limits() {
        assert!(Toeplitz::new(&RSS_KEY_MS[..15]).is_none());
        let short = Toeplitz::new(&RSS_KEY_MS[..16]).unwrap();
        assert_eq!(short.max_input_len(), 12);
        let input = ipv4_tcp_input(
            Ipv4Addr::new(66, 9, 149, 187),
            Ipv4Addr::new(161, 142, 100, 80),
            2794,
            1766,
        );
        // A 12-byte input reads only the first 16 key bytes.
        assert_eq!(short.hash(&input), 0x51ccc178);
        assert_eq!(Toeplitz::new(&[0x5a; 52]).unwrap().max_input_len(), 48);
    }

    #[test]
    #[should_panic(expected = "needs a key of at least 17 bytes")]
    fn rss_input_longer_than_key_allows_panics() {
        Toeplitz::new(&RSS_KEY_MS[..16]).unwrap().hash(&[0; 13]);
    }

    #[test]
    fn rss_reta_round_robin_and_queue_of() {
        let reta = Reta::round_robin(8, 3);
        assert_eq!(reta.entries(), &[0, 1, 2, 0, 1, 2, 0, 1]);
        assert_eq!(reta.queue_of(0), 0);
        assert_eq!(reta.queue_of(5), 2);
        assert_eq!(reta.queue_of(8), 0);
        assert_eq!(reta.queue_of(13), 2);
        assert_eq!(reta.queue_of(u32::MAX), 1, "entry 7");
        assert_eq!(Reta::round_robin(4, 8).entries(), &[0, 1, 2, 3]);

        assert!(Reta::from_entries(Vec::new()).is_none());
        let custom = Reta::from_entries(vec![3, 1]).unwrap();
        assert_eq!(custom.queue_of(2), 3);
        assert_eq!(custom.queue_of(7), 1);
    }

    /// A picker for one arbitrary tuple under the Microsoft key.
    fn ms_picker() -> PortPicker {
        let t = Toeplitz::new(&RSS_KEY_MS).unwrap();
        let remote = SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 45), 5201);
        PortPicker::new(&t, Ipv4Addr::new(192, 168, 7, 10), remote)
    }

    /// A `taken` that claims no port.
    fn free(_: u16) -> bool {
        false
    }

    #[test]
    fn rss_port_picker_hash_matches_full_hash() {
        let mut rng = Rng(42);
        for _ in 0..50 {
            let key = rng.bytes(40);
            let t = Toeplitz::new(&key).unwrap();
            let local = Ipv4Addr::from(rng.next() as u32);
            let remote = SocketAddrV4::new(Ipv4Addr::from(rng.next() as u32), rng.next() as u16);
            let picker = PortPicker::new(&t, local, remote);
            let ports = [0, 1, 0x8000, u16::MAX].into_iter();
            for p in ports.chain((0..200).map(|_| rng.next() as u16)) {
                let full = ipv4_tcp_input(*remote.ip(), local, remote.port(), p);
                assert_eq!(picker.hash_for(p), t.hash(&full), "port {p}");
            }
        }
    }

    #[test]
    fn rss_find_spreads_a_range_evenly_and_honours_taken() {
        let picker = ms_picker();
        let reta = Reta::round_robin(128, 4);
        let range = (32768u16, 32768 + 27_999);
        let mut all = HashSet::new();
        for queue in 0..4 {
            // Claim every port of this queue, one find at a time, resuming after the last.
            let mut taken = HashSet::new();
            let mut start = range.0;
            while let Some(p) = picker.find(&reta, queue, range, start, |p| taken.contains(&p)) {
                assert!((range.0..=range.1).contains(&p));
                assert_eq!(reta.queue_of(picker.hash_for(p)), queue);
                assert!(taken.insert(p), "taken port {p} returned again");
                start = p.wrapping_add(1);
            }
            let share = taken.len() as f64 / 28_000.0;
            assert!((0.20..=0.30).contains(&share), "queue {queue}: {share}");
            all.extend(taken);
        }
        assert_eq!(all.len(), 28_000, "every port maps to exactly one queue");
    }

    #[test]
    fn rss_find_wraps_from_start() {
        let picker = ms_picker();
        let reta = Reta::round_robin(128, 4);
        let range = (1000, 1999);
        let first = picker.find(&reta, 2, range, 1000, free).unwrap();
        let last = (1000..=1999)
            .rev()
            .find(|&p| reta.queue_of(picker.hash_for(p)) == 2)
            .unwrap();
        assert!(first < last);
        // Past the last match the scan wraps to the low end.
        assert_eq!(picker.find(&reta, 2, range, last + 1, free), Some(first));
        assert_eq!(picker.find(&reta, 2, range, last, free), Some(last));
        // A start outside the range begins at its low end.
        assert_eq!(picker.find(&reta, 2, range, 5, free), Some(first));
        assert_eq!(picker.find(&reta, 2, range, 2000, free), Some(first));
    }

    #[test]
    fn rss_find_none_when_nothing_qualifies() {
        let picker = ms_picker();
        let reta = Reta::round_robin(128, 4);
        let full = (1, u16::MAX);
        assert_eq!(picker.find(&reta, 4, full, 1, free), None, "no such queue");
        let mut asked = 0;
        let all_taken = |_| {
            asked += 1;
            true
        };
        assert_eq!(picker.find(&reta, 1, (2000, 2999), 2500, all_taken), None);
        assert!((200..=300).contains(&asked), "only matching ports: {asked}");
        assert_eq!(picker.find(&reta, 1, (3000, 2999), 3000, free), None);
        // A one-port range whose port maps elsewhere.
        let q = reta.queue_of(picker.hash_for(4000));
        let other = (q + 1) % 4;
        assert_eq!(picker.find(&reta, other, (4000, 4000), 4000, free), None);
        assert_eq!(picker.find(&reta, q, (4000, 4000), 4000, free), Some(4000));
        // The full port space, with wrap-around arithmetic at both ends.
        let p = picker
            .find(&reta, 0, (0, u16::MAX), u16::MAX, free)
            .unwrap();
        assert_eq!(reta.queue_of(picker.hash_for(p)), 0);
    }
}
