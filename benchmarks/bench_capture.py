"""Capture ingest benchmark: chargescope frame iteration beside scapy, dpkt and tshark.

    python benchmarks/bench_capture.py                 # 500 MB capture, every tool
    python benchmarks/bench_capture.py --size 50       # 50 MB while iterating
    python benchmarks/bench_capture.py --format pcapng --tools cython,dpkt

Generates (once, cached under benchmarks/data/, gitignored) a mixed EV-charging capture:
HomePlug MMEs, SDP over UDP, V2GTP over TCP, OCPP over WebSocket and OCPI-like HTTP,
then runs every tool in its own subprocess (so peak RSS is per tool) and prints one table.
Absolute numbers drift on a shared machine: read the ratios, measured in the same run.

Adding a row (e.g. full decode + TCP reassembly): write a function `(path, limit) ->
(frames, bytes)` and add it to RUNNERS; it then shows up in --tools and in the table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
T0 = 1_700_000_000_000_000_000


# --- the capture ---------------------------------------------------------------------------
def templates() -> list[bytes]:
    """Distinct frames of a charging session mix (built once with scapy)."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Dot1Q, Ether

    ev, evse = "00:01:87:00:00:01", "00:01:87:00:00:02"
    out = []
    for mmtype in (0x6064, 0x6065, 0x606A, 0x606E, 0x607C, 0x607D, 0xA008):
        body = struct.pack("<BH", 1, mmtype) + bytes(2) + os.urandom(40 + mmtype % 50)
        out.append(bytes(Ether(src=ev, dst=evse, type=0x88E1) / body))
    v6 = IPv6(src="fe80::1", dst="fe80::2")
    out.append(bytes(Ether() / v6 / UDP(sport=50000, dport=15118) / bytes.fromhex("01fe9000000200")))
    out.append(bytes(Ether() / v6 / UDP(sport=15118, dport=50000) / os.urandom(28)))
    for size in (20, 60, 120, 300, 600):
        v2gtp = bytes.fromhex("01fe8001") + struct.pack(">I", size) + os.urandom(size)
        out.append(bytes(Ether() / v6 / TCP(sport=51000, dport=61000, flags="PA") / v2gtp))
        out.append(bytes(Ether() / v6 / TCP(sport=61000, dport=51000, flags="A")))
    ip = IP(src="10.1.0.5", dst="10.1.0.1")
    for size in (80, 250, 700, 1400):
        ocpp = b"\x81\x7e" + struct.pack(">H", size) + b'[2,"1","MeterValues",{' + os.urandom(size)
        out.append(bytes(Ether() / Dot1Q(vlan=10) / ip / TCP(sport=40000, dport=443) / ocpp))
        out.append(bytes(Ether() / ip / TCP(sport=443, dport=40000, flags="A")))
    http = b"PUT /ocpi/2.2.1/sessions/NL/ABC/1 HTTP/1.1\r\nHost: emsp\r\n\r\n" + os.urandom(500)
    out.append(bytes(Ether() / IP(src="10.2.0.1", dst="10.2.0.2") / TCP(dport=80) / http))
    return out


def generate(path: Path, size_mb: int, fmt: str) -> None:
    """Write ~size_mb of frames cycling through the templates; ns timestamps."""
    sys.path.insert(0, str(HERE.parent))
    from chargescope.analyzer.capture.writer import PcapngWriter, PcapWriter

    frames = templates()
    target = size_mb * 1_000_000
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        if fmt == "pcap":
            w = PcapWriter(f, nano=True)
        else:
            w = PcapngWriter(f)
            w.add_interface(1, name="eth0")
            w.add_interface(1, name="plc0", tsresol=1_000_000)
        i = 0
        while f.tell() < target:
            data = frames[i % len(frames)]
            ts = T0 + i * 137_000
            if fmt == "pcap":
                w.write(data, ts)
            else:
                w.write(data, ts - ts % 1000 if i % 5 == 0 else ts, interface=int(i % 5 == 0))
            i += 1
    tmp.rename(path)


# --- the tools (each runs in a fresh process: see measure) ----------------------------------
def run_chargescope(which: str) -> Callable[[Path, int], tuple[int, int]]:
    def run(path: Path, limit: int) -> tuple[int, int]:
        from chargescope import backends
        from chargescope.analyzer.capture import open_capture

        impl = backends.load_twin("capture") if which == "python" else \
            backends.load_extension("capture")
        if impl is None:
            raise SystemExit("capture extension not built")
        frames = size = 0
        with open_capture(path, impl) as cap:
            for _frame in cap.frames():
                frames += 1
                if frames == limit:
                    break
            size = cap.bytes_read
        return frames, size
    return run


def run_scapy(path: Path, limit: int) -> tuple[int, int]:
    from scapy.utils import PcapReader

    frames = size = 0
    with PcapReader(str(path)) as reader:
        for pkt in reader:
            frames += 1
            size += len(pkt)
            if frames == limit:
                break
    return frames, size


def run_dpkt(path: Path, limit: int) -> tuple[int, int]:
    import dpkt

    frames = size = 0
    with open(path, "rb") as f:
        reader = dpkt.pcapng.Reader(f) if path.suffix == ".pcapng" else dpkt.pcap.Reader(f)
        for _ts, buf in reader:
            frames += 1
            size += len(buf)
            if frames == limit:
                break
    return frames, size


def run_tshark(path: Path, limit: int, extra: tuple[str, ...] = ()) -> tuple[int, int]:
    cmd = ["tshark", "-n", "-r", str(path), *extra, "-q", "-z", "io,stat,0"]
    if limit:
        cmd[1:1] = ["-c", str(limit)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    # the io,stat table's one row: | 0.0 <> Dur | FRAMES | BYTES |
    row = [line for line in out.splitlines() if "<>" in line][-1]
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    return int(cells[1]), int(cells[2])


def _bench_pipeline():
    """The decode + reassembly runner lives beside this script (bench_pipeline.py)."""
    sys.path.insert(0, str(HERE))
    import bench_pipeline

    return bench_pipeline


RUNNERS: dict[str, Callable[[Path, int], tuple[int, int]]] = {
    "cython": run_chargescope("cython"),
    "python": run_chargescope("python"),
    "scapy": run_scapy,
    "dpkt": run_dpkt,
    "tshark": run_tshark,
    "decode": lambda path, limit: _bench_pipeline().run_decode_reassembly(path, limit),
    "tshark-conv": lambda path, limit: run_tshark(path, limit, ("-2", "-z", "conv,tcp")),
}
LABELS = {
    "cython": "chargescope frames() (Cython)",
    "python": "chargescope frames() (pure Python)",
    "scapy": "scapy PcapReader",
    "dpkt": "dpkt bare Reader loop",
    "tshark": "tshark -q -z io,stat,0",
    "decode": "chargescope decode + IP/TCP reassembly",
    "tshark-conv": "tshark -2 -z conv,tcp (two-pass, reassembly)",
}
# slow peers are measured on the first N frames (the rate is what matters), and once
LIMITS = {"scapy": 200_000}
RUN_ONCE = {"scapy", "tshark", "tshark-conv"}


def measure(tool: str, path: Path, limit: int) -> dict:
    """In-process run of one tool: frames, bytes, seconds, peak RSS (MB)."""
    start = time.perf_counter()
    frames, size = RUNNERS[tool](path, limit)
    seconds = time.perf_counter() - start
    if tool.startswith("tshark"):  # the only child this process had
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    else:
        rss_mb = own_peak_rss_mb()
    return {"frames": frames, "bytes": size, "seconds": seconds, "rss_mb": rss_mb}


def own_peak_rss_mb() -> float:
    """This process's peak RSS. Linux keeps ru_maxrss across fork+exec (it would show the
    parent's peak), so read the high-water mark of our own memory map instead."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=500, help="capture size in MB (default 500)")
    ap.add_argument("--format", choices=["pcap", "pcapng"], default="pcap")
    ap.add_argument("--tools", default=",".join(RUNNERS), help="comma list of " + ",".join(RUNNERS))
    ap.add_argument("--file", type=Path, help="benchmark this capture instead of generating one")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per fast tool; the median is shown (scapy, tshark run once)")
    ap.add_argument("--measure", help=argparse.SUPPRESS)  # internal: one tool, JSON out
    ap.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.file, args.limit)))
        return
    path = args.file
    if path is None:
        DATA.mkdir(exist_ok=True)
        path = DATA / f"mixed_{args.size}MB.{args.format}"
        if not path.exists():
            print(f"generating {path} ...", file=sys.stderr)
            generate(path, args.size, args.format)
    mb = path.stat().st_size / 1e6
    rows = {}
    for tool in args.tools.split(","):
        if tool.startswith("tshark") and not shutil.which("tshark"):
            continue
        limit = LIMITS.get(tool, 0)
        cmd = [sys.executable, __file__, "--measure", tool, "--file", str(path),
               "--limit", str(limit)]
        runs = []
        for _ in range(1 if tool in RUN_ONCE else max(1, args.repeat)):
            print(f"running {tool} ...", file=sys.stderr)
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                print(f"{tool} failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
                break
            runs.append(json.loads(done.stdout))
        if runs:
            runs.sort(key=lambda r: r["seconds"])
            rows[tool] = runs[len(runs) // 2]
    total = max((r["frames"] for t, r in rows.items() if not LIMITS.get(t)), default=0)
    print(f"\n{path.name}: {mb:.0f} MB, {total:,} frames ({args.format}); "
          f"python {sys.version.split()[0]}; median of {args.repeat} runs per fast tool\n")
    print("| tool | frames | s | frames/s | MB/s | peak RSS MB | vs scapy | vs dpkt | vs tshark |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rate = {t: r["frames"] / r["seconds"] for t, r in rows.items()}
    for tool, r in rows.items():
        file_mb = mb * r["frames"] / total if total else 0
        ratios = [f"{rate[tool] / rate[p]:.1f}×" if p in rate else "-"
                  for p in ("scapy", "dpkt", "tshark")]
        note = " (first frames)" if LIMITS.get(tool) else ""
        print(f"| {LABELS.get(tool, tool)}{note} | {r['frames']:,} | {r['seconds']:.2f} | "
              f"{rate[tool]:,.0f} | {file_mb / r['seconds']:.0f} | {r['rss_mb']:.0f} | "
              + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
