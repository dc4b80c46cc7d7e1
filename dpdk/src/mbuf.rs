use std::ptr::NonNull;

/// An owning handle to one `rte_mbuf`: a packet's first segment, which may chain others
/// (a header mbuf in front of zero-copy payload views, see [`Mbuf::chain`]).
///
/// Dropping it frees it (returns it to its pool once the last reference goes). `clone` takes a
/// *reference* (refcount + 1) to the same buffer and never copies data: this is how the NIC
/// gets a segment while the original stays on the retransmit queue (the seed's `skb_clone`).
/// Mutable access to the bytes is only given while the handle is the sole reference.
#[repr(transparent)]
pub struct Mbuf {
    ptr: NonNull<linerate_dpdk_sys::rte_mbuf>,
}

// SAFETY: an mbuf may be freed from any thread (mempool ops are thread-safe), and the handle
// gives no shared mutable access.
unsafe impl Send for Mbuf {}

/// Offload metadata for TX: which checksums the NIC fills in and the header lengths it needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOffload {
    /// The NIC computes the IPv4 header checksum.
    pub ip_cksum: bool,
    /// The NIC computes the TCP checksum (the TCP header must carry the pseudo-header sum).
    pub tcp_cksum: bool,
    /// TSO segment size; 0 means no TSO.
    pub tso_segsz: u16,
    /// Length of the L2 (Ethernet) header in bytes.
    pub l2_len: u8,
    /// Length of the L3 (IPv4) header in bytes.
    pub l3_len: u16,
    /// Length of the L4 (TCP) header in bytes.
    pub l4_len: u8,
}

impl Mbuf {
    #[inline]
    pub(crate) fn from_nonnull(ptr: NonNull<linerate_dpdk_sys::rte_mbuf>) -> Mbuf {
        Mbuf { ptr }
    }

    #[inline]
    fn raw(&self) -> &linerate_dpdk_sys::rte_mbuf {
        // SAFETY: the pointer is a live mbuf for as long as this handle exists.
        unsafe { self.ptr.as_ref() }
    }

    /// Bytes of packet data in this segment.
    #[inline]
    pub fn len(&self) -> usize {
        self.raw().data_len as usize
    }

    /// True when the segment holds no packet data.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free space in front of the data.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.raw().data_off as usize
    }

    /// Free space after the data.
    #[inline]
    pub fn tailroom(&self) -> usize {
        let m = self.raw();
        m.buf_len as usize - m.data_off as usize - m.data_len as usize
    }

    /// The packet data.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let m = self.raw();
        // SAFETY: [buf_addr + data_off, + data_len) lies inside the mbuf's buffer, which lives
        // as long as this reference; nobody writes it while a shared borrow exists because
        // writers need the unique handle (`data_mut`).
        unsafe {
            std::slice::from_raw_parts(
                (m.buf_addr as *const u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    /// How many handles (including the NIC's) refer to this buffer.
    #[inline]
    pub fn refcnt(&self) -> u16 {
        // SAFETY: live mbuf; DPDK updates refcnt atomically, so read it as an atomic. The
        // field is a naturally aligned u16.
        unsafe {
            std::sync::atomic::AtomicU16::from_ptr(std::ptr::addr_of_mut!(
                (*self.ptr.as_ptr()).refcnt
            ))
        }
        .load(std::sync::atomic::Ordering::Acquire)
    }

    /// True when this handle is the only reference, so the bytes may be changed.
    #[inline]
    pub fn is_unique(&self) -> bool {
        self.refcnt() == 1
    }

    /// The packet data, writable; `None` while another reference (e.g. the NIC's) exists.
    #[inline]
    pub fn data_mut(&mut self) -> Option<&mut [u8]> {
        if !self.is_unique() {
            return None;
        }
        let m = self.raw();
        let (addr, off, len) = (
            m.buf_addr as *mut u8,
            m.data_off as usize,
            m.data_len as usize,
        );
        // SAFETY: we hold the only reference (refcnt 1) and &mut self, so nobody else can
        // read or write these bytes while the borrow lives.
        Some(unsafe { std::slice::from_raw_parts_mut(addr.add(off), len) })
    }

    /// Grows the data by `len` bytes at the front (into headroom) and returns them.
    /// `None` when not unique or the headroom is too small. (rte_pktmbuf_prepend, done here
    /// in Rust because it is on the per-segment path three times.)
    #[inline]
    pub fn prepend(&mut self, len: usize) -> Option<&mut [u8]> {
        if len > self.headroom() || !self.is_unique() {
            return None;
        }
        // SAFETY: unique handle (no other reader), len <= data_off, so the new data start
        // stays inside the buffer; single-segment mbuf, so pkt_len tracks data_len.
        unsafe {
            let m = self.ptr.as_mut();
            m.data_off -= len as u16;
            m.data_len += len as u16;
            m.pkt_len += len as u32;
            Some(std::slice::from_raw_parts_mut(
                (m.buf_addr as *mut u8).add(m.data_off as usize),
                len,
            ))
        }
    }

    /// Grows the data by `len` bytes at the end (into tailroom) and returns them.
    #[inline]
    pub fn append(&mut self, len: usize) -> Option<&mut [u8]> {
        if len > self.tailroom() || !self.is_unique() || self.nb_segs() != 1 {
            return None;
        }
        // SAFETY: unique handle, len <= tailroom, so the bytes stay inside the buffer.
        unsafe {
            let m = self.ptr.as_mut();
            let at = m.data_off as usize + m.data_len as usize;
            m.data_len += len as u16;
            m.pkt_len += len as u32;
            Some(std::slice::from_raw_parts_mut(
                (m.buf_addr as *mut u8).add(at),
                len,
            ))
        }
    }

    /// Removes `len` bytes from the front. False if fewer bytes are there or not unique.
    #[inline]
    pub fn adj(&mut self, len: usize) -> bool {
        if len > self.len() || !self.is_unique() {
            return false;
        }
        // SAFETY: unique handle, len <= data_len.
        unsafe {
            let m = self.ptr.as_mut();
            m.data_off += len as u16;
            m.data_len -= len as u16;
            m.pkt_len -= len as u32;
        }
        true
    }

    /// Removes `len` bytes from the end. False if fewer bytes are there or not unique.
    #[inline]
    pub fn trim(&mut self, len: usize) -> bool {
        if len > self.len() || !self.is_unique() || self.nb_segs() != 1 {
            return false;
        }
        // SAFETY: unique handle, len <= data_len.
        unsafe {
            let m = self.ptr.as_mut();
            m.data_len -= len as u16;
            m.pkt_len -= len as u32;
        }
        true
    }

    /// Sets the TX offload flags and lengths the PMD reads (only while unique).
    #[inline]
    pub fn set_tx_offload(&mut self, o: TxOffload) -> bool {
        if !self.is_unique() {
            return false;
        }
        let mut flags = 0u64;
        if o.ip_cksum || o.tcp_cksum || o.tso_segsz > 0 {
            flags |= linerate_dpdk_sys::LR_MBUF_F_TX_IPV4;
        }
        if o.ip_cksum {
            flags |= linerate_dpdk_sys::LR_MBUF_F_TX_IP_CKSUM;
        }
        if o.tso_segsz > 0 {
            flags |= linerate_dpdk_sys::LR_MBUF_F_TX_TCP_SEG;
        } else if o.tcp_cksum {
            flags |= linerate_dpdk_sys::LR_MBUF_F_TX_TCP_CKSUM;
        }
        // SAFETY: unique handle; the shim writes only offload metadata fields.
        unsafe {
            linerate_dpdk_sys::lr_mbuf_set_tx_offload(
                self.ptr.as_ptr(),
                flags,
                o.l2_len,
                o.l3_len,
                o.l4_len,
                o.tso_segsz,
            )
        };
        true
    }

    /// TX: the offload requests [`Mbuf::set_tx_offload`] left on this mbuf (what a NIC reads).
    pub fn tx_offload(&self) -> TxOffload {
        let f = self.raw().ol_flags;
        // SAFETY: reads the tx_offload bitfields through the shim's accessor.
        let lens = unsafe { linerate_dpdk_sys::lr_mbuf_tx_lens(self.ptr.as_ptr()) };
        let l4 = f & linerate_dpdk_sys::LR_MBUF_F_TX_L4_MASK;
        TxOffload {
            ip_cksum: f & linerate_dpdk_sys::LR_MBUF_F_TX_IP_CKSUM != 0,
            tcp_cksum: l4 == linerate_dpdk_sys::LR_MBUF_F_TX_TCP_CKSUM
                || f & linerate_dpdk_sys::LR_MBUF_F_TX_TCP_SEG != 0,
            tso_segsz: self.tso_segsz(),
            l2_len: lens as u8,
            l3_len: (lens >> 8) as u8 as u16,
            l4_len: (lens >> 16) as u8,
        }
    }

    /// TX: the TSO segment size set by [`Mbuf::set_tx_offload`] (0: not a TSO frame).
    #[inline]
    pub fn tso_segsz(&self) -> u16 {
        if self.raw().ol_flags & linerate_dpdk_sys::LR_MBUF_F_TX_TCP_SEG == 0 {
            return 0;
        }
        // SAFETY: reads the tx_offload bitfield through the shim's accessor.
        unsafe { linerate_dpdk_sys::lr_mbuf_tso_segsz(self.ptr.as_ptr()) }
    }

    /// RX: true when the NIC checked the IPv4 and L4 checksums and found them good.
    #[inline]
    pub fn rx_cksum_good(&self) -> bool {
        let f = self.raw().ol_flags;
        f & linerate_dpdk_sys::LR_MBUF_F_RX_IP_CKSUM_MASK
            == linerate_dpdk_sys::LR_MBUF_F_RX_IP_CKSUM_GOOD
            && f & linerate_dpdk_sys::LR_MBUF_F_RX_L4_CKSUM_MASK
                == linerate_dpdk_sys::LR_MBUF_F_RX_L4_CKSUM_GOOD
    }

    /// RX: true when the NIC found a bad IPv4 or L4 checksum.
    #[inline]
    pub fn rx_cksum_bad(&self) -> bool {
        let f = self.raw().ol_flags;
        f & linerate_dpdk_sys::LR_MBUF_F_RX_IP_CKSUM_MASK
            == linerate_dpdk_sys::LR_MBUF_F_RX_IP_CKSUM_BAD
            || f & linerate_dpdk_sys::LR_MBUF_F_RX_L4_CKSUM_MASK
                == linerate_dpdk_sys::LR_MBUF_F_RX_L4_CKSUM_BAD
    }

    /// RX: the NIC's RSS hash of the frame, when the NIC delivered one (the port has several
    /// RX queues and RSS on; see [`crate::Port::rss`]).
    #[inline]
    pub fn rss_hash(&self) -> Option<u32> {
        if self.raw().ol_flags & linerate_dpdk_sys::LR_MBUF_F_RX_RSS_HASH == 0 {
            return None;
        }
        // SAFETY: live mbuf; the shim reads the `hash.rss` union member, which the flag says
        // the PMD wrote.
        Some(unsafe { linerate_dpdk_sys::lr_mbuf_rss_hash(self.ptr.as_ptr()) })
    }

    /// Bytes of the whole packet, every chained segment included.
    #[inline]
    pub fn pkt_len(&self) -> usize {
        self.raw().pkt_len as usize
    }

    /// Segments in the packet (1 unless chained).
    #[inline]
    pub fn nb_segs(&self) -> usize {
        self.raw().nb_segs as usize
    }

    /// The data of each segment, in order: the frame as the NIC reads it.
    pub fn segments(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut cur: *const linerate_dpdk_sys::rte_mbuf = self.ptr.as_ptr();
        std::iter::from_fn(move || {
            if cur.is_null() {
                return None;
            }
            // SAFETY: `cur` is this packet's head or a segment chained to it; the chain is
            // owned by this handle and lives as long as the borrow of `self`. Segments are
            // written only through the unique head handle, which `&self` excludes.
            unsafe {
                let m = &*cur;
                cur = m.next;
                Some(std::slice::from_raw_parts(
                    (m.buf_addr as *const u8).add(m.data_off as usize),
                    m.data_len as usize,
                ))
            }
        })
    }

    /// Appends the whole packet's bytes, every segment, to `out`.
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        for s in self.segments() {
            out.extend_from_slice(s);
        }
    }

    /// Chains `tail` (a packet of one or more segments) after this packet's last segment:
    /// `rte_pktmbuf_chain`. Gives `tail` back when this handle is shared or the chain would
    /// exceed DPDK's segment limit.
    #[inline]
    pub fn chain(&mut self, tail: Mbuf) -> Result<(), Mbuf> {
        if !self.is_unique() {
            return Err(tail);
        }
        // SAFETY: both are live packets; this handle is the only reference to the head. On
        // success the head owns `tail`'s reference (freed with the chain), so forget it here.
        let rc =
            unsafe { linerate_dpdk_sys::lr_pktmbuf_chain(self.ptr.as_ptr(), tail.ptr.as_ptr()) };
        if rc != 0 {
            return Err(tail);
        }
        std::mem::forget(tail);
        Ok(())
    }

    /// Identity of the underlying buffer (for tests and debugging).
    pub fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }
}

impl Mbuf {
    /// Drops every handle in `v` with one `rte_pktmbuf_free_bulk` call (cheaper than one free
    /// each: the mempool takes them back in bulk), leaving `v` empty with its capacity.
    pub fn free_bulk(v: &mut Vec<Mbuf>) {
        if v.is_empty() {
            return;
        }
        // SAFETY: `Mbuf` is repr(transparent) over a non-null `rte_mbuf` pointer, so the
        // vector's buffer is an array of `v.len()` valid mbuf pointers, each owning one
        // reference. The bulk free drops each reference once (recycling at zero, as
        // `rte_pktmbuf_free` does), and `set_len(0)` forgets the handles so that their `Drop`
        // does not free them again.
        unsafe {
            linerate_dpdk_sys::lr_pktmbuf_free_bulk(v.as_mut_ptr().cast(), v.len() as u32);
            v.set_len(0);
        }
    }
}

impl Clone for Mbuf {
    /// Takes another reference to the same buffer (no data copy).
    #[inline]
    fn clone(&self) -> Mbuf {
        // SAFETY: live mbuf; incrementing the refcount makes the new handle own one reference.
        unsafe { linerate_dpdk_sys::lr_mbuf_refcnt_update(self.ptr.as_ptr(), 1) };
        Mbuf { ptr: self.ptr }
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this handle owns one reference; free drops it and recycles at zero.
        unsafe { linerate_dpdk_sys::lr_pktmbuf_free(self.ptr.as_ptr()) }
    }
}

impl std::fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mbuf")
            .field("len", &self.len())
            .field("headroom", &self.headroom())
            .field("refcnt", &self.refcnt())
            .finish()
    }
}
