//! A pcap tap: wraps any [`Device`] and records the frames that cross it (both directions)
//! to a classic libpcap file, for `--pcap` and for checking our frames with tshark.
use linerate_dpdk::{Device, Mbuf, Offloads};
use linerate_proto::wire::ethernet::MacAddr;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes Ethernet frames in the classic pcap format (microsecond timestamps).
pub struct PcapWriter {
    out: BufWriter<File>,
    written: u64,
    limit: u64,
    snaplen: u32,
}

impl PcapWriter {
    /// Creates `path`; records at most `limit` frames (0 = no limit).
    pub fn create(path: &Path, limit: u64) -> io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        let snaplen: u32 = 65535;
        // Global header: magic, version 2.4, thiszone, sigfigs, snaplen, LINKTYPE_ETHERNET.
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&snaplen.to_le_bytes())?;
        out.write_all(&1u32.to_le_bytes())?;
        Ok(PcapWriter {
            out,
            written: 0,
            limit,
            snaplen,
        })
    }

    /// Records one frame with the wall-clock time. Errors are reported once by `finish`.
    pub fn record(&mut self, frame: &[u8]) -> io::Result<()> {
        if self.limit != 0 && self.written >= self.limit {
            return Ok(());
        }
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let cap = frame.len().min(self.snaplen as usize);
        self.out.write_all(&(t.as_secs() as u32).to_le_bytes())?;
        self.out.write_all(&t.subsec_micros().to_le_bytes())?;
        self.out.write_all(&(cap as u32).to_le_bytes())?;
        self.out.write_all(&(frame.len() as u32).to_le_bytes())?;
        self.out.write_all(&frame[..cap])?;
        self.written += 1;
        Ok(())
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.written
    }

    /// True once the frame limit is reached (later frames are not written).
    pub fn is_full(&self) -> bool {
        self.limit != 0 && self.written >= self.limit
    }

    /// Flushes the file; returns the frames written.
    pub fn finish(mut self) -> io::Result<u64> {
        self.out.flush()?;
        Ok(self.written)
    }
}

/// A device that records what passes through it. TX frames are recorded as handed to the
/// inner device (only the ones it accepted), RX frames as received.
/// A device wrapper that copies every frame it carries, both ways, into a pcap writer.
pub struct PcapDevice<D: Device> {
    inner: D,
    writer: Option<PcapWriter>,
    error: Option<io::Error>,
}

impl<D: Device> PcapDevice<D> {
    /// Taps `inner`; with no writer it only passes frames through.
    pub fn new(inner: D, writer: Option<PcapWriter>) -> Self {
        PcapDevice {
            inner,
            writer,
            error: None,
        }
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, mutably.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// Flushes and closes the capture; returns frames written, or the first write error.
    pub fn finish(&mut self) -> io::Result<u64> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match self.writer.take() {
            Some(w) => w.finish(),
            None => Ok(0),
        }
    }

    fn record(&mut self, frame: &[u8]) {
        if let Some(w) = self.writer.as_mut() {
            if let Err(e) = w.record(frame) {
                self.error.get_or_insert(e);
                self.writer = None;
            }
        }
    }
}

impl<D: Device> Device for PcapDevice<D> {
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        let start = out.len();
        let n = self.inner.rx_burst(out);
        if self.writer.as_ref().is_some_and(|w| !w.is_full()) {
            let copies: Vec<Vec<u8>> = out[start..].iter().map(frame_bytes).collect();
            for f in &copies {
                self.record(f);
            }
        }
        n
    }

    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        // Copy before handing over: after tx_burst the NIC owns the frames.
        let recording = self.writer.as_ref().is_some_and(|w| !w.is_full());
        let copies: Vec<Vec<u8>> = if recording {
            pkts.iter().map(frame_bytes).collect()
        } else {
            Vec::new()
        };
        let n = self.inner.tx_burst(pkts);
        for f in copies.iter().take(n) {
            self.record(f);
        }
        n
    }

    fn mac(&self) -> MacAddr {
        self.inner.mac()
    }

    fn offloads(&self) -> Offloads {
        // Offloaded checksums would show as wrong in the capture; a tap computes them itself.
        if self.writer.is_some() {
            Offloads::default()
        } else {
            self.inner.offloads()
        }
    }

    fn tx_done_cleanup(&mut self) {
        self.inner.tx_done_cleanup();
    }
}

/// The whole frame, every chained segment.
fn frame_bytes(m: &Mbuf) -> Vec<u8> {
    let mut v = Vec::with_capacity(m.pkt_len());
    m.copy_to(&mut v);
    v
}
