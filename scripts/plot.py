#!/usr/bin/env python3
"""The figures of docs/benchmarks.md, drawn as SVG from a bench run's JSON (stdlib only).

  plot.py goodput OUT.svg LABEL=FILE...        goodput over time (--json-lines files)
  plot.py scale OUT.svg LABEL=N:FILE,N:FILE... ns per data segment against connections
  plot.py cdf OUT.svg LABEL=FILE:PATH...       latency percentiles (PATH: a jq-like dotted
                                               path to a Percentiles object, e.g.
                                               latency.send or send)

A file or field that is missing leaves its series out; a figure with no series at all is
still written (with a note), so that a failed measurement never breaks the report.
"""
import json
import math
import sys

W, H = 720, 420
L, R, T, B = 80, 170, 40, 60
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def load_all(path):
    """Every JSON object in a file (one per line, or one document)."""
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    if not out:
        try:
            out = [json.loads(text)]
        except ValueError:
            pass
    return out


def field(obj, path):
    for k in path.strip(".").split("."):
        if not isinstance(obj, dict) or obj.get(k) is None:
            return None
        obj = obj[k]
    return obj


def fmt(v):
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 0.01:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{v:g}"


class Axis:
    def __init__(self, lo, hi, log, lo_px, hi_px):
        if log:
            lo, hi = math.log10(max(lo, 1e-12)), math.log10(max(hi, 1e-12))
        if hi <= lo:
            hi = lo + 1
        self.lo, self.hi, self.log, self.a, self.b = lo, hi, log, lo_px, hi_px

    def px(self, v):
        if self.log:
            v = math.log10(max(v, 1e-12))
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def ticks(self):
        if self.log:
            return [10 ** e for e in range(math.floor(self.lo), math.ceil(self.hi) + 1)
                    if self.lo - 1e-9 <= e <= self.hi + 1e-9]
        step = 10 ** math.floor(math.log10((self.hi - self.lo) / 4 or 1))
        for m in (1, 2, 5, 10):
            if (self.hi - self.lo) / (step * m) <= 6:
                step *= m
                break
        t, out = math.ceil(self.lo / step) * step, []
        while t <= self.hi + 1e-9:
            out.append(round(t, 10))
            t += step
        return out


def svg(out, title, xlabel, ylabel, series, xlog=False, ylog=False, xticks=None):
    pts = [p for _, s in series for p in s]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{W}" height="{H}" fill="white"/>',
             f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>']
    if not pts:
        parts.append(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">'
                     'no data in this run (see target/bench/)</text></svg>')
        open(out, "w", encoding="utf-8").write("\n".join(parts) + "\n")
        return
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    xa = Axis(min(xs), max(xs), xlog, L, W - R)
    ya = Axis(0 if not ylog else min(ys), max(ys) * (1 if ylog else 1.1), ylog, H - B, T)
    parts.append(f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>')
    parts.append(f'<line x1="{L}" y1="{H - B}" x2="{L}" y2="{T}" stroke="black"/>')
    for v in ya.ticks():
        y = ya.px(v)
        parts.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(v)}</text>')
    for v, lab in (xticks or [(v, fmt(v)) for v in xa.ticks()]):
        x = xa.px(v)
        parts.append(f'<line x1="{x:.1f}" y1="{H - B}" x2="{x:.1f}" y2="{H - B + 5}" stroke="black"/>')
        parts.append(f'<text x="{x:.1f}" y="{H - B + 18}" text-anchor="middle">{lab}</text>')
    parts.append(f'<text x="{(L + W - R) / 2}" y="{H - 18}" text-anchor="middle">{xlabel}</text>')
    parts.append(f'<text x="18" y="{(T + H - B) / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 18 {(T + H - B) / 2})">{ylabel}</text>')
    for i, (name, s) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        d = " ".join(f"{xa.px(x):.1f},{ya.px(y):.1f}" for x, y in s)
        parts.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{d}"/>')
        for x, y in s:
            parts.append(f'<circle cx="{xa.px(x):.1f}" cy="{ya.px(y):.1f}" r="3" fill="{c}"/>')
        ly = T + 10 + 18 * i
        parts.append(f'<line x1="{W - R + 12}" y1="{ly}" x2="{W - R + 32}" y2="{ly}" '
                     f'stroke="{c}" stroke-width="3"/>')
        parts.append(f'<text x="{W - R + 38}" y="{ly + 4}">{name}</text>')
    parts.append("</svg>")
    open(out, "w", encoding="utf-8").write("\n".join(parts) + "\n")


def goodput(out, args):
    series = []
    for a in args:
        name, path = a.split("=", 1)
        s = [(o["t_s"], o["goodput_gbps"]) for o in load_all(path)
             if "t_s" in o and "goodput_gbps" in o]
        if s:
            series.append((name, s))
    svg(out, "Goodput over time", "seconds", "Gbit/s", series)


def scale(out, args):
    series = []
    for a in args:
        name, spec = a.split("=", 1)
        s = []
        for item in spec.split(","):
            n, path = item.split(":", 1)
            objs = load_all(path)
            v = field(objs[-1], "ns_per_segment") if objs else None
            if v:
                s.append((int(n), v))
        if s:
            series.append((name, sorted(s)))
    svg(out, "Cost per data segment against connections (one lcore)", "connections",
        "ns per data segment", series, xlog=True, ylog=True)


# Percentile points of a Percentiles object, as "nines" (1 / (1 - p)) for a log axis.
POINTS = [("min_us", 0.0), ("p50_us", 0.5), ("p90_us", 0.9), ("p99_us", 0.99),
          ("p999_us", 0.999)]


def cdf(out, args):
    series = []
    for a in args:
        name, rest = a.split("=", 1)
        path, fpath = rest.rsplit(":", 1)
        objs = load_all(path)
        p = field(objs[-1], fpath) if objs else None
        if not isinstance(p, dict):
            continue
        s = [(1 / (1 - q), p[k]) for k, q in POINTS if p.get(k) is not None]
        if s:
            series.append((name, s))
    ticks = [(1 / (1 - q), lab) for q, lab in
             ((0.0, "min"), (0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p99.9"))]
    svg(out, "Send latency by percentile", "percentile", "µs", series, xlog=True, ylog=True,
        xticks=ticks)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("goodput", "scale", "cdf"):
        print(__doc__, file=sys.stderr)
        return 2
    {"goodput": goodput, "scale": scale, "cdf": cdf}[sys.argv[1]](sys.argv[2], sys.argv[3:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
