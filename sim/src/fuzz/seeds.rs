//! Encoders for the frame harness's operations, and the hand-made seed inputs of both
//! harnesses (`fuzz/corpus/*/seed-*`): each seed takes a connection down one path a fuzzer
//! would take long to find by itself (the SYN-ACK, an exact RST, SACK recovery, ARP, the
//! timers, a reopened tuple).
use super::frames::*;

/// Operations, appended to an input.
#[derive(Default, Clone)]
pub struct Script(pub Vec<u8>);

/// Fields of a segment: see `Harness::seg`.
#[derive(Clone, Copy, Default)]
pub struct Seg {
    pub conn: u8,
    pub flags: u8,
    /// bits 0-1: what `ack` is relative to (the peer's last ACK, our highest sequence, our
    /// ISS + 1, the last ACK in segments); 2-3: options (none, timestamps, SYN options or
    /// SACK blocks, raw); 4+5: a wrong checksum; 6, 7: raw seq, raw ack.
    pub ctl: u8,
    pub dseq: i16,
    pub dack: i16,
    pub wnd: u16,
    /// Payload length / 6.
    pub len: u8,
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

impl Script {
    /// A script on the NIC variant `v` (bits 0-1 offloads, bit 2 no pacing).
    pub fn new(v: u8) -> Self {
        Script(vec![v])
    }

    /// A segment; `opts` are the option fields that follow it (timestamp delta first).
    pub fn seg(mut self, s: Seg, opts: &[u8]) -> Self {
        self.0.extend([SEG, s.conn, s.flags, s.ctl]);
        self.0.extend(s.dseq.to_le_bytes());
        self.0.extend(s.dack.to_le_bytes());
        self.0.extend(s.wnd.to_le_bytes());
        self.0.push(s.len);
        if s.ctl & 0x0c != 0 {
            self.0.extend(opts);
        }
        self
    }

    /// A plain ACK of everything sent so far, with timestamps.
    pub fn ack_all(self, conn: usize) -> Self {
        self.seg(
            Seg {
                conn: conn as u8,
                flags: ACK,
                ctl: 1 | 4,
                wnd: 65535,
                ..Seg::default()
            },
            &[0],
        )
    }

    pub fn raw(mut self, ctl: u8, frame: &[u8]) -> Self {
        self.0.extend([RAW, ctl]);
        self.0.extend((frame.len() as u16).to_le_bytes());
        self.0.extend(frame);
        self
    }

    pub fn arp(mut self, ctl: u8, rest: &[u8]) -> Self {
        self.0.extend([ARP, ctl]);
        self.0.extend(rest);
        self
    }

    /// Moves the clock 2^`log2` ns and polls.
    pub fn clock(mut self, log2: u8) -> Self {
        self.0.extend([CLOCK, log2]);
        self
    }

    /// App call `what` (0 send `n`, 1 close, 2 shutdown, 3 abort, 4 read, 5 reconnect,
    /// 6 flush, 7 events) on connection `conn`.
    pub fn app(mut self, conn: usize, what: u8, n: u16) -> Self {
        self.0.extend([APP, conn as u8, what]);
        if what == 0 {
            self.0.extend(n.to_le_bytes());
        }
        self
    }

    pub fn poll(mut self) -> Self {
        self.0.push(POLL);
        self
    }
}

/// Named seed inputs for `frame_input`.
pub fn frame_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let s = Script::new;
    let sack = |conn: usize, blocks: &[(i8, u8)]| {
        let mut o = vec![0u8, (blocks.len() - 1) as u8];
        for &(a, b) in blocks {
            o.extend([a as u8, b]);
        }
        (
            Seg {
                conn: conn as u8,
                flags: ACK,
                ctl: 8,
                wnd: 65535,
                ..Seg::default()
            },
            o,
        )
    };
    let mut v = vec![
        ("empty", s(0).0),
        (
            "ack-all",
            s(0).ack_all(ESTAB_SACK)
                .ack_all(ESTAB_PLAIN)
                .ack_all(FIN_WAIT1)
                .clock(20)
                .0,
        ),
        (
            "syn-ack",
            s(0).seg(
                Seg {
                    conn: SYN_SENT as u8,
                    flags: SYN | ACK,
                    ctl: 1 | 8,
                    wnd: 65535,
                    ..Seg::default()
                },
                &[0, 0xb4, 5, 7, 7],
            )
            .poll()
            .app(SYN_SENT, 0, 3000)
            .clock(22)
            .0,
        ),
        (
            "rst-exact",
            s(0).seg(
                Seg {
                    conn: ESTAB_SACK as u8,
                    flags: RST,
                    ..Seg::default()
                },
                &[],
            )
            .poll()
            .0,
        ),
        (
            "rst-in-window",
            s(0).seg(
                Seg {
                    conn: ESTAB_PLAIN as u8,
                    flags: RST,
                    dseq: 100,
                    ..Seg::default()
                },
                &[],
            )
            .0,
        ),
        (
            "syn-on-established",
            s(0).seg(
                Seg {
                    conn: ESTAB_SACK as u8,
                    flags: SYN,
                    ctl: 4,
                    ..Seg::default()
                },
                &[0],
            )
            .0,
        ),
        (
            "data-in",
            s(0).seg(
                Seg {
                    conn: ESTAB_SACK as u8,
                    flags: ACK | PSH,
                    ctl: 4,
                    wnd: 512,
                    len: 100,
                    ..Seg::default()
                },
                &[0],
            )
            .app(ESTAB_SACK, 4, 0)
            .0,
        ),
        (
            "fin-in",
            s(0).seg(
                Seg {
                    conn: ESTAB_PLAIN as u8,
                    flags: ACK | FIN,
                    ctl: 1,
                    wnd: 100,
                    ..Seg::default()
                },
                &[],
            )
            .app(ESTAB_PLAIN, 1, 0)
            .clock(30)
            .0,
        ),
        (
            "close-wait-read-close",
            s(0).app(CLOSE_WAIT, 4, 0)
                .app(CLOSE_WAIT, 1, 0)
                .ack_all(CLOSE_WAIT)
                .0,
        ),
        ("fin-wait2-timeout", s(0).clock(32).clock(32).0),
        (
            "time-wait-reuse",
            s(0).clock(30).app(TIME_WAIT, 5, 0).poll().0,
        ),
        (
            "time-wait-segment",
            s(0).seg(
                Seg {
                    conn: TIME_WAIT as u8,
                    flags: ACK | FIN,
                    ctl: 4,
                    ..Seg::default()
                },
                &[0],
            )
            .0,
        ),
        (
            "no-conn",
            s(0).seg(
                Seg {
                    conn: NO_CONN as u8,
                    flags: ACK,
                    len: 3,
                    ..Seg::default()
                },
                &[],
            )
            .0,
        ),
        (
            "zero-window",
            s(0).seg(
                Seg {
                    conn: ESTAB_SACK as u8,
                    flags: ACK,
                    ctl: 1 | 4,
                    ..Seg::default()
                },
                &[0],
            )
            .clock(29)
            .clock(30)
            .clock(30)
            .0,
        ),
        ("rto", s(0).clock(28).clock(29).clock(30).0),
        (
            "arp-reply",
            s(0).arp(0x80 | 1 | (1 << 2), &[255]).clock(20).0,
        ),
        ("arp-request", s(0).arp(0, &[255]).0),
        ("arp-conflict", s(4).arp(1 | (2 << 2), &[255]).0),
        (
            "dupacks",
            (0..4)
                .fold(s(0), |s, _| {
                    s.seg(
                        Seg {
                            conn: ESTAB_PLAIN as u8,
                            flags: ACK,
                            ctl: 0,
                            wnd: 65535,
                            ..Seg::default()
                        },
                        &[],
                    )
                })
                .0,
        ),
        (
            "offloads-tso",
            s(2).ack_all(ESTAB_SACK)
                .app(ESTAB_SACK, 0, 19_000)
                .clock(20)
                .0,
        ),
        ("abort-all", (0..8).fold(s(1), |s, k| s.app(k, 3, 0)).0),
        ("raw-ipv4", s(0).raw(1 | 2 | 4 | 8 | 16, &[0x45; 60]).0),
    ];
    let dsack = sack(ESTAB_SACK, &[(-1, 0)]);
    let holes = sack(ESTAB_SACK, &[(2, 1), (5, 2)]);
    let more = sack(ESTAB_SACK, &[(1, 8)]);
    v.push((
        "sack-recovery",
        s(0).seg(holes.0, &holes.1)
            .seg(more.0, &more.1)
            .seg(dsack.0, &dsack.1)
            .clock(25)
            .0,
    ));
    v
}

/// Named seed inputs for `tcp_options`: Linux's SYN and data layouts, SACK, and the
/// malformed ones the parser must refuse.
pub fn option_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", vec![]),
        ("ts", vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]),
        (
            "syn-linux",
            vec![
                2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
            ],
        ),
        ("sack-3", [&[1u8, 1, 5, 26][..], &[0; 24]].concat()),
        ("bad-len0", vec![2, 0, 0, 0]),
        ("bad-past-end", vec![8, 40, 0, 0]),
        ("bad-mss-len", vec![2, 3, 0, 0]),
        ("unknown-eol", vec![30, 4, 9, 9, 0, 2, 0]),
        (
            "writer-script",
            vec![40, 6, 0xb4, 5, 7, 7, 1, 2, 3, 4, 5, 6, 7, 8, 7, 8, 1, 2],
        ),
    ]
}
