//! rte_flow steering of TCP destination-port ranges to RX queues. Per-core stacks share a port,
//! one per RX queue, and each owns a contiguous range of local ports, so an inbound frame's TCP
//! destination port names its owner. Where the PMD has rte_flow, the NIC puts each range on
//! its owner's queue; where it refuses, redirecting in software is the caller's business.
use super::{strerror, DpdkError, Port, Result};
use linerate_dpdk_sys as sys;
use std::ffi::CStr;
use std::os::raw::c_char;
use std::ptr::NonNull;

/// The fewest `(value, mask)` prefix blocks that cover the inclusive port range `range`
/// exactly, lowest first: a port `p` of the range matches (`p & mask == value`) exactly one
/// block, a port outside it none. Like the CIDR blocks of an address range, so at most 30;
/// `(0, 65535)` is one block with mask 0, a single port one with mask `0xffff`. Empty when
/// `range.0 > range.1`.
pub fn port_blocks(range: (u16, u16)) -> Vec<(u16, u16)> {
    let mut blocks = Vec::new();
    let mut at = u32::from(range.0);
    // Exclusive end in u32, so that a range ending at 65535 needs no special case.
    let end = u32::from(range.1) + 1;
    while at < end {
        // The block at `at` is as large as both its alignment and what is left allow; taking
        // the largest each time is what makes the cover minimal.
        let align = if at == 0 {
            1 << 16
        } else {
            1 << at.trailing_zeros()
        };
        let fit = 1u32 << (31 - (end - at).leading_zeros());
        let size = align.min(fit);
        blocks.push((at as u16, !(size - 1) as u16));
        at += size;
    }
    blocks
}

/// The rte_flow rules that steer a TCP destination-port range to one RX queue, from
/// [`Port::steer_tcp_dst_ports`]. Dropping it destroys the rules; it keeps its port open until
/// then, because a rule must not outlive the port it was made on.
pub struct FlowRules {
    port: Port,
    range: (u16, u16),
    queue: u16,
    rules: Vec<NonNull<sys::rte_flow>>,
}

impl FlowRules {
    /// Number of rules: one per prefix block of the range (see [`port_blocks`]).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules (never for rules a port handed out).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The steered destination-port range, inclusive.
    pub fn range(&self) -> (u16, u16) {
        self.range
    }

    /// The RX queue the range is steered to.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// The port the rules are on.
    pub fn port(&self) -> &Port {
        &self.port
    }
}

impl std::fmt::Debug for FlowRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowRules")
            .field("port", &self.port.name())
            .field("range", &self.range)
            .field("queue", &self.queue)
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl Drop for FlowRules {
    fn drop(&mut self) {
        for f in self.rules.drain(..).rev() {
            // SAFETY: `f` came from rte_flow_create on this port, which is still open (we hold
            // a clone), and is destroyed once: drain takes it out. A refusal leaves nothing
            // to do; closing the port flushes what is left.
            unsafe { sys::lr_flow_destroy(self.port.id(), f.as_ptr()) };
        }
    }
}

// SAFETY: the rule handles are only handed back to rte_flow_destroy, which ethdev serialises
// per port for PMDs whose flow ops are not thread-safe; `&self` methods never touch them.
unsafe impl Send for FlowRules {}
// SAFETY: as above; nothing reachable through `&FlowRules` uses the handles.
unsafe impl Sync for FlowRules {}

impl Port {
    /// Steers inbound IPv4 TCP frames whose destination port lies in `range` (inclusive) to
    /// RX queue `queue`: one rte_flow rule (ETH / IPV4 / TCP destination port under a prefix
    /// mask, action QUEUE) per block of [`port_blocks`]. All or nothing: when the PMD refuses
    /// a rule, the ones already made are destroyed and the error says which PMD refused and
    /// what rte_flow said. PMDs without rte_flow (net_null, net_af_packet) refuse every rule;
    /// net_tap takes exact ports only (mask `0xffff`), and only on a kernel with TC flower,
    /// skbedit and multiq. A queue the port does not have, or an empty range, is refused
    /// before DPDK is asked.
    pub fn steer_tcp_dst_ports(&self, range: (u16, u16), queue: u16) -> Result<FlowRules> {
        if queue >= self.rx_queues() {
            return Err(DpdkError::InvalidArg(format!(
                "port {} has {} RX queue(s): cannot steer TCP ports to queue {queue}",
                self.name(),
                self.rx_queues()
            )));
        }
        if range.0 > range.1 {
            return Err(DpdkError::InvalidArg(format!(
                "empty TCP port range {}-{}: give (first, last) with first <= last",
                range.0, range.1
            )));
        }
        let blocks = port_blocks(range);
        let mut rules = FlowRules {
            port: self.clone(),
            range,
            queue,
            rules: Vec::with_capacity(blocks.len()),
        };
        for (value, mask) in blocks {
            let mut flow = std::ptr::null_mut();
            let mut said = [0 as c_char; 256];
            // SAFETY: a valid port id; `flow` is writable and `said` is `said.len()` bytes
            // long, which the shim NUL-terminates within.
            let rc = unsafe {
                sys::lr_flow_tcp_dport_queue(
                    self.id(),
                    value,
                    mask,
                    queue,
                    &mut flow,
                    said.as_mut_ptr(),
                    said.len(),
                )
            };
            match NonNull::new(flow) {
                Some(f) if rc == 0 => rules.rules.push(f),
                _ => {
                    // SAFETY: the shim wrote a NUL-terminated string into `said` (or left
                    // it zeroed).
                    let said = unsafe { CStr::from_ptr(said.as_ptr()) }.to_string_lossy();
                    // Returning drops `rules`, which destroys the rules made so far.
                    return Err(refused(self, value, mask, queue, rc, &said));
                }
            }
        }
        Ok(rules)
    }
}

/// The one-line error for a rule the PMD refused: which PMD, which rule, what rte_flow said.
fn refused(port: &Port, value: u16, mask: u16, queue: u16, rc: i32, said: &str) -> DpdkError {
    let errno = if rc < 0 { -rc } else { libc::EIO };
    let text = strerror(errno);
    // PMD messages are free text: keep the error on one line.
    let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
    let why = if said.is_empty() || said == text {
        text
    } else {
        format!("{said} ({text})")
    };
    let last = value | !mask;
    let ports = if last == value {
        format!("port {value}")
    } else {
        format!("ports {value}-{last} (mask {mask:#06x})")
    };
    DpdkError::Port {
        port: port.id(),
        op: "steer_tcp_dst_ports",
        errno,
        msg: format!(
            "{}'s rte_flow refused the rule for TCP destination {ports} to RX queue {queue}: {why}",
            port.driver()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::port_blocks;

    /// Checks that `port_blocks(range)` covers exactly the range, each port once, with blocks
    /// that are prefixes, in order, and that no two could merge into one (so none is wasted).
    fn check(range: (u16, u16)) -> Vec<(u16, u16)> {
        let blocks = port_blocks(range);
        assert!(blocks.len() <= 30, "{range:?}: {} blocks", blocks.len());
        for &(v, m) in &blocks {
            assert_eq!(
                v & !m,
                0,
                "{range:?}: value {v:#x} has bits outside mask {m:#x}"
            );
            assert_eq!(
                m.leading_ones() + m.trailing_zeros(),
                16,
                "{m:#x} is a prefix"
            );
        }
        for w in blocks.windows(2) {
            let ((v0, m0), (v1, m1)) = (w[0], w[1]);
            assert!(v0 < v1, "{range:?}: blocks in order");
            // Two buddies of one size would be one block of twice the size.
            let size = !m0 as u32 + 1;
            let buddies =
                m0 == m1 && (v0 as u32) % (2 * size) == 0 && v1 as u32 == v0 as u32 + size;
            assert!(!buddies, "{range:?}: {w:?} could be one block");
        }
        for p in 0..=u16::MAX {
            let hits = blocks.iter().filter(|&&(v, m)| p & m == v).count();
            let inside = range.0 <= p && p <= range.1;
            assert_eq!(
                hits,
                usize::from(inside),
                "{range:?}: port {p} in {hits} blocks"
            );
        }
        blocks
    }

    #[test]
    fn whole_space_is_one_block_with_mask_zero() {
        assert_eq!(check((0, 65535)), vec![(0, 0)]);
    }

    #[test]
    fn a_single_port_is_one_exact_block() {
        assert_eq!(check((40005, 40005)), vec![(40005, 0xffff)]);
        assert_eq!(check((0, 0)), vec![(0, 0xffff)]);
        assert_eq!(check((65535, 65535)), vec![(65535, 0xffff)]);
    }

    #[test]
    fn aligned_ranges_are_one_block() {
        assert_eq!(check((40000, 40063)), vec![(40000, 0xffc0)]);
        assert_eq!(check((32768, 65535)), vec![(32768, 0x8000)]);
        assert_eq!(check((0, 32767)), vec![(0, 0x8000)]);
    }

    #[test]
    fn an_ephemeral_style_range_splits_by_its_bits() {
        // 46383 - 32768 + 1 = 13616 = 0x3530: from a 32768-aligned start, one block per bit.
        assert_eq!(
            check((32768, 46383)),
            vec![
                (32768, 0xe000),
                (40960, 0xf000),
                (45056, 0xfc00),
                (46080, 0xff00),
                (46336, 0xffe0),
                (46368, 0xfff0),
            ]
        );
    }

    #[test]
    fn the_worst_range_needs_thirty_blocks() {
        assert_eq!(check((1, 65534)).len(), 30);
    }

    #[test]
    fn an_empty_range_has_no_blocks() {
        assert!(port_blocks((2, 1)).is_empty());
    }

    #[test]
    fn random_ranges_are_covered_exactly() {
        // xorshift64: deterministic, and no dependency for a test.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..60 {
            let a = next() as u16;
            // Short and long ranges both: a short one sits at an arbitrary alignment.
            let len = if i % 2 == 0 {
                next() as u16 % 2048
            } else {
                next() as u16
            };
            let b = a.saturating_add(len);
            check((a, b));
        }
    }
}
