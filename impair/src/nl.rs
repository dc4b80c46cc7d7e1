//! nfnetlink_queue message encoding and decoding (byte level; no sockets here).
//!
//! Wire format: `nlmsghdr` (16 bytes, host order) + `nfgenmsg` (family, version, res_id in
//! network order = queue number) + attributes (`nlattr`: u16 len, u16 type, payload, padded
//! to 4). nfqueue attribute payloads are in network byte order.

pub const NETLINK_NETFILTER: i32 = 12;
pub const NFNL_SUBSYS_QUEUE: u16 = 3;
pub const NFQNL_MSG_PACKET: u16 = 0;
pub const NFQNL_MSG_VERDICT: u16 = 1;
pub const NFQNL_MSG_CONFIG: u16 = 2;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 1;
pub const NLM_F_ACK: u16 = 4;

pub const NFQNL_CFG_CMD_BIND: u8 = 1;
pub const NFQNL_CFG_CMD_UNBIND: u8 = 2;

pub const NFQNL_COPY_META: u8 = 1;
pub const NFQNL_COPY_PACKET: u8 = 2;

pub const NFQA_CFG_CMD: u16 = 1;
pub const NFQA_CFG_PARAMS: u16 = 2;
pub const NFQA_CFG_QUEUE_MAXLEN: u16 = 3;
pub const NFQA_CFG_MASK: u16 = 4;
pub const NFQA_CFG_FLAGS: u16 = 5;

pub const NFQA_CFG_F_FAIL_OPEN: u32 = 1;
pub const NFQA_CFG_F_CONNTRACK: u32 = 2;
pub const NFQA_CFG_F_GSO: u32 = 4;

pub const NFQA_PACKET_HDR: u16 = 1;
pub const NFQA_VERDICT_HDR: u16 = 2;
pub const NFQA_PAYLOAD: u16 = 10;
pub const NFQA_CAP_LEN: u16 = 13;

pub const NF_DROP: u32 = 0;
pub const NF_ACCEPT: u32 = 1;

pub const AF_INET: u16 = 2;
const NLMSG_HDRLEN: usize = 16;
const NLA_TYPE_MASK: u16 = 0x3fff;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Queue parameters sent with NFQNL_MSG_CONFIG.
#[derive(Clone, Copy, Debug)]
pub struct QueueParams {
    pub copy_mode: u8,
    pub copy_range: u32,
    pub maxlen: u32,
    /// Flag values (NFQA_CFG_F_*), applied to the bits set in `mask`.
    pub flags: u32,
    pub mask: u32,
}

/// Appends netlink messages to a buffer (several may go into one datagram).
#[derive(Default, Debug)]
pub struct MsgBuf {
    pub buf: Vec<u8>,
    start: usize,
}

impl MsgBuf {
    pub fn new() -> MsgBuf {
        MsgBuf::default()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Starts an nfqueue message: nlmsghdr + nfgenmsg.
    pub fn begin(&mut self, msg_type: u16, flags: u16, seq: u32, family: u8, queue: u16) {
        self.start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // len, patched in end()
        self.buf
            .extend_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | msg_type).to_ne_bytes());
        self.buf
            .extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // portid: kernel
        self.buf.push(family);
        self.buf.push(0); // NFNETLINK_V0
        self.buf.extend_from_slice(&queue.to_be_bytes());
    }

    pub fn attr(&mut self, ty: u16, data: &[u8]) {
        let len = 4 + data.len();
        assert!(len <= u16::MAX as usize, "netlink attribute too long");
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf
            .resize(self.start + align4(self.buf.len() - self.start), 0);
    }

    pub fn end(&mut self) {
        let len = (self.buf.len() - self.start) as u32;
        self.buf[self.start..self.start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    /// Config: bind/unbind a queue (`pf` is the protocol family, AF_INET).
    pub fn config_cmd(&mut self, seq: u32, queue: u16, cmd: u8, pf: u16) {
        self.begin(NFQNL_MSG_CONFIG, NLM_F_ACK, seq, 0, queue);
        let mut d = [0u8; 4];
        d[0] = cmd;
        d[2..4].copy_from_slice(&pf.to_be_bytes());
        self.attr(NFQA_CFG_CMD, &d);
        self.end();
    }

    /// Config: copy mode and range, queue length, and flags (with mask).
    pub fn config_params(&mut self, seq: u32, queue: u16, p: &QueueParams) {
        self.begin(NFQNL_MSG_CONFIG, NLM_F_ACK, seq, 0, queue);
        let mut d = [0u8; 5];
        d[..4].copy_from_slice(&p.copy_range.to_be_bytes());
        d[4] = p.copy_mode;
        self.attr(NFQA_CFG_PARAMS, &d);
        self.attr(NFQA_CFG_QUEUE_MAXLEN, &p.maxlen.to_be_bytes());
        self.attr(NFQA_CFG_FLAGS, &p.flags.to_be_bytes());
        self.attr(NFQA_CFG_MASK, &p.mask.to_be_bytes());
        self.end();
    }

    /// A verdict for one packet, optionally replacing its contents.
    pub fn verdict(&mut self, queue: u16, id: u32, verdict: u32, payload: Option<&[u8]>) {
        self.begin(NFQNL_MSG_VERDICT, 0, 0, AF_INET as u8, queue);
        let mut v = [0u8; 8];
        v[..4].copy_from_slice(&verdict.to_be_bytes());
        v[4..].copy_from_slice(&id.to_be_bytes());
        self.attr(NFQA_VERDICT_HDR, &v);
        if let Some(p) = payload {
            self.attr(NFQA_PAYLOAD, p);
        }
        self.end();
    }
}

/// One netlink message inside a datagram.
#[derive(Debug, PartialEq, Eq)]
pub struct Msg<'a> {
    pub msg_type: u16,
    pub flags: u16,
    pub seq: u32,
    pub body: &'a [u8],
}

/// Splits a datagram into netlink messages. Stops at a malformed header.
pub fn messages(mut buf: &[u8]) -> impl Iterator<Item = Result<Msg<'_>, String>> {
    std::iter::from_fn(move || {
        if buf.is_empty() {
            return None;
        }
        if buf.len() < NLMSG_HDRLEN {
            buf = &[];
            return Some(Err("truncated netlink header".into()));
        }
        let len = u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            buf = &[];
            return Some(Err(format!("bad netlink message length {len}")));
        }
        let m = Msg {
            msg_type: u16::from_ne_bytes(buf[4..6].try_into().unwrap()),
            flags: u16::from_ne_bytes(buf[6..8].try_into().unwrap()),
            seq: u32::from_ne_bytes(buf[8..12].try_into().unwrap()),
            body: &buf[NLMSG_HDRLEN..len],
        };
        buf = &buf[align4(len).min(buf.len())..];
        Some(Ok(m))
    })
}

/// Iterates over `(type, payload)` of netlink attributes (flags masked off the type).
pub fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes(buf[0..2].try_into().unwrap()) as usize;
        let ty = u16::from_ne_bytes(buf[2..4].try_into().unwrap()) & NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            return None;
        }
        let data = &buf[4..len];
        buf = &buf[align4(len).min(buf.len())..];
        Some((ty, data))
    })
}

/// The parts of an NFQNL_MSG_PACKET we use.
#[derive(Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub queue: u16,
    pub id: u32,
    pub hw_protocol: u16,
    pub hook: u8,
    pub payload: &'a [u8],
    /// Full packet length (NFQA_CAP_LEN if the copy was truncated, else the payload length).
    pub len: u32,
}

/// Parses the body (after nlmsghdr) of an NFQNL_MSG_PACKET.
pub fn parse_packet(body: &[u8]) -> Result<Packet<'_>, String> {
    if body.len() < 4 {
        return Err("packet message too short".into());
    }
    let queue = u16::from_be_bytes([body[2], body[3]]);
    let mut id = None;
    let mut hw_protocol = 0;
    let mut hook = 0;
    let mut payload: &[u8] = &[];
    let mut cap_len = None;
    for (ty, d) in attrs(&body[4..]) {
        match ty {
            NFQA_PACKET_HDR if d.len() >= 7 => {
                id = Some(u32::from_be_bytes(d[0..4].try_into().unwrap()));
                hw_protocol = u16::from_be_bytes([d[4], d[5]]);
                hook = d[6];
            }
            NFQA_PAYLOAD => payload = d,
            NFQA_CAP_LEN if d.len() >= 4 => {
                cap_len = Some(u32::from_be_bytes(d[0..4].try_into().unwrap()))
            }
            _ => {}
        }
    }
    let id = id.ok_or("packet message without NFQA_PACKET_HDR")?;
    Ok(Packet {
        queue,
        id,
        hw_protocol,
        hook,
        payload,
        len: cap_len.unwrap_or(payload.len() as u32),
    })
}

/// Parses an NLMSG_ERROR body: returns the (negative errno or 0 for an ACK) and the
/// sequence number of the request it answers.
pub fn parse_error(body: &[u8]) -> Result<(i32, u32), String> {
    if body.len() < 4 + NLMSG_HDRLEN {
        return Err("short NLMSG_ERROR".into());
    }
    let err = i32::from_ne_bytes(body[0..4].try_into().unwrap());
    let seq = u32::from_ne_bytes(body[12..16].try_into().unwrap());
    Ok((err, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ne16(x: u16) -> [u8; 2] {
        x.to_ne_bytes()
    }
    fn ne32(x: u32) -> [u8; 4] {
        x.to_ne_bytes()
    }

    #[test]
    fn encode_bind() {
        let mut m = MsgBuf::new();
        m.config_cmd(7, 3, NFQNL_CFG_CMD_BIND, AF_INET);
        let mut want = Vec::new();
        want.extend_from_slice(&ne32(28));
        want.extend_from_slice(&ne16(0x0302));
        want.extend_from_slice(&ne16(NLM_F_REQUEST | NLM_F_ACK));
        want.extend_from_slice(&ne32(7));
        want.extend_from_slice(&ne32(0));
        want.extend_from_slice(&[0, 0, 0, 3]); // AF_UNSPEC, v0, queue 3 big-endian
        want.extend_from_slice(&ne16(8));
        want.extend_from_slice(&ne16(NFQA_CFG_CMD));
        want.extend_from_slice(&[1, 0, 0, 2]); // BIND, pad, pf AF_INET big-endian
        assert_eq!(m.buf, want);
    }

    #[test]
    fn encode_params_pads_attributes() {
        let mut m = MsgBuf::new();
        m.config_params(
            1,
            0x0102,
            &QueueParams {
                copy_mode: NFQNL_COPY_PACKET,
                copy_range: 0xffff,
                maxlen: 16384,
                flags: 0,
                mask: NFQA_CFG_F_FAIL_OPEN,
            },
        );
        let b = &m.buf;
        assert_eq!(b.len(), 20 + 12 + 8 + 8 + 8);
        assert_eq!(
            u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize,
            b.len()
        );
        assert_eq!(&b[18..20], &[1, 2]);
        // params: len 9 (4 + 5), type 2, range be 0x0000ffff, mode 2, 3 bytes pad
        assert_eq!(&b[20..22], &ne16(9));
        assert_eq!(&b[22..24], &ne16(NFQA_CFG_PARAMS));
        assert_eq!(&b[24..32], &[0, 0, 0xff, 0xff, 2, 0, 0, 0]);
        assert_eq!(&b[32..34], &ne16(8));
        assert_eq!(&b[34..36], &ne16(NFQA_CFG_QUEUE_MAXLEN));
        assert_eq!(&b[36..40], &16384u32.to_be_bytes());
        assert_eq!(&b[44..48], &0u32.to_be_bytes());
        assert_eq!(&b[52..56], &1u32.to_be_bytes());
        let a: Vec<(u16, Vec<u8>)> = attrs(&b[20..]).map(|(t, d)| (t, d.to_vec())).collect();
        assert_eq!(
            a.iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![
                NFQA_CFG_PARAMS,
                NFQA_CFG_QUEUE_MAXLEN,
                NFQA_CFG_FLAGS,
                NFQA_CFG_MASK
            ]
        );
    }

    #[test]
    fn encode_verdicts_batch_and_roundtrip() {
        let mut m = MsgBuf::new();
        m.verdict(1, 0xdead_beef, NF_DROP, None);
        m.verdict(0, 42, NF_ACCEPT, Some(&[1, 2, 3, 4, 5]));
        let msgs: Vec<Msg> = messages(&m.buf).map(|r| r.unwrap()).collect();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].msg_type, 0x0301);
        assert_eq!(msgs[0].flags, NLM_F_REQUEST);
        assert_eq!(msgs[0].body[..4], [2, 0, 0, 1]);
        assert_eq!(&msgs[0].body[4..6], &ne16(12));
        assert_eq!(&msgs[0].body[6..8], &ne16(NFQA_VERDICT_HDR));
        assert_eq!(&msgs[0].body[8..16], &[0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
        let a: Vec<_> = attrs(&msgs[1].body[4..]).collect();
        assert_eq!(a[0], (NFQA_VERDICT_HDR, &[0, 0, 0, 1, 0, 0, 0, 42][..]));
        assert_eq!(a[1], (NFQA_PAYLOAD, &[1, 2, 3, 4, 5][..]));
        // second message: 16 + 4 + 12 + (9 padded to 12)
        assert_eq!(m.buf.len(), 32 + 44);
    }

    fn packet_msg(queue: u16, id: u32, payload: &[u8], cap_len: Option<u32>) -> Vec<u8> {
        let mut b = Vec::new();
        let attr = |b: &mut Vec<u8>, ty: u16, d: &[u8]| {
            b.extend_from_slice(&((4 + d.len()) as u16).to_ne_bytes());
            b.extend_from_slice(&ty.to_ne_bytes());
            b.extend_from_slice(d);
            while b.len() & 3 != 0 {
                b.push(0);
            }
        };
        b.extend_from_slice(&[0; 16]);
        b.extend_from_slice(&[2, 0]);
        b.extend_from_slice(&queue.to_be_bytes());
        let mut hdr = id.to_be_bytes().to_vec();
        hdr.extend_from_slice(&0x0800u16.to_be_bytes());
        hdr.push(2); // NF_INET_FORWARD
        attr(&mut b, NFQA_PACKET_HDR, &hdr);
        attr(&mut b, 0x8000 | 11, &[0; 8]); // a nested attribute we skip
        attr(&mut b, NFQA_PAYLOAD, payload);
        if let Some(c) = cap_len {
            attr(&mut b, NFQA_CAP_LEN, &c.to_be_bytes());
        }
        let len = b.len() as u32;
        b[0..4].copy_from_slice(&len.to_ne_bytes());
        b[4..6].copy_from_slice(&0x0300u16.to_ne_bytes());
        b
    }

    #[test]
    fn decode_packet() {
        let mut dgram = packet_msg(1, 77, &[0x45, 0, 0, 20, 9], None);
        dgram.extend(packet_msg(0, 78, &[0x45; 64], Some(1500)));
        let msgs: Vec<Msg> = messages(&dgram).map(|r| r.unwrap()).collect();
        assert_eq!(msgs.len(), 2);
        assert_eq!(
            msgs[0].msg_type,
            (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET
        );
        let p = parse_packet(msgs[0].body).unwrap();
        assert_eq!(
            p,
            Packet {
                queue: 1,
                id: 77,
                hw_protocol: 0x0800,
                hook: 2,
                payload: &[0x45, 0, 0, 20, 9],
                len: 5
            }
        );
        let p = parse_packet(msgs[1].body).unwrap();
        assert_eq!((p.queue, p.id, p.payload.len(), p.len), (0, 78, 64, 1500));
        assert!(parse_packet(&[2, 0, 0, 0]).is_err());
    }

    #[test]
    fn decode_error_and_garbage() {
        let mut b = Vec::new();
        b.extend_from_slice(&ne32(36));
        b.extend_from_slice(&ne16(NLMSG_ERROR));
        b.extend_from_slice(&ne16(0));
        b.extend_from_slice(&ne32(5));
        b.extend_from_slice(&ne32(0));
        b.extend_from_slice(&(-16i32).to_ne_bytes()); // -EBUSY
        b.extend_from_slice(&ne32(28));
        b.extend_from_slice(&ne16(0x0302));
        b.extend_from_slice(&ne16(5));
        b.extend_from_slice(&ne32(9));
        b.extend_from_slice(&ne32(0));
        let m: Vec<_> = messages(&b).collect();
        assert_eq!(m.len(), 1);
        let m = m.into_iter().next().unwrap().unwrap();
        assert_eq!(m.msg_type, NLMSG_ERROR);
        assert_eq!(parse_error(m.body).unwrap(), (-16, 9));
        let bad: Vec<_> = messages(&[1, 0, 0, 0, 0, 0]).collect();
        assert!(bad[0].is_err());
        let mut long = b.clone();
        long[0..4].copy_from_slice(&ne32(400));
        assert!(messages(&long).next().unwrap().is_err());
    }
}
