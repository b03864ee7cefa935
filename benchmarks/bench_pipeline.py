"""Decode + reassembly benchmark: chargescope's link/IP/TCP decode and TCP reassembly beside
tshark's two-pass TCP conversation pass, on one generated capture, in one run.

    python benchmarks/bench_pipeline.py                  # 100 MB capture, every tool
    python benchmarks/bench_pipeline.py --size 20 --tools read,decode,streams,tshark-conv

The capture (generated once, cached under benchmarks/data/, gitignored) is a charging
mix with real TCP behaviour, so reassembly does real work: HomePlug MMEs, SDP over
UDP/IPv6, V2GTP over TCP/IPv6, OCPP over TCP/IPv4 in a VLAN and OCPI-like HTTP, as
many concurrent connections, each with handshake, data both ways with ACKs, ~1 %
reordered and ~1 % retransmitted segments, and FIN close. Every tool runs in its own
subprocess (peak RSS per tool) and the table prints frames/s, MB/s and the ratio to
tshark. Tests never assert times; this is not a test.

`run_decode_reassembly(path, limit) -> (frames, bytes)` is the runner the capture
benchmark (`bench_capture.py`, RUNNERS) can import for its "full decode + TCP
reassembly" row.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
T0 = 1_700_000_000_000_000_000


# --- the capture ---------------------------------------------------------------------------
class _Conn:
    def __init__(self, rng: random.Random, kind: int, index: int) -> None:
        self.kind = kind  # 0 V2GTP/IPv6, 1 OCPP/IPv4+VLAN, 2 HTTP/IPv4
        self.cport = 32768 + index % 28000
        self.sport = (61000, 443, 80)[kind]
        self.seq = [rng.getrandbits(32), rng.getrandbits(32)]
        self.left = rng.randint(20, 400)  # data segments before FIN
        self.state = 0  # 0 handshake, 1 data, 2 closing
        self.index = index


def _headers(conn: _Conn, direction: int, flags: int, ack: int, payload: bytes) -> bytes:
    ports = (conn.cport, conn.sport) if direction == 0 else (conn.sport, conn.cport)
    tcp = struct.pack(">HHIIBBHHH", ports[0], ports[1], conn.seq[direction] & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, 0x50, flags, 8192, 0, 0) + payload
    a = bytes([10, 1, conn.index >> 8 & 0xFF, conn.index & 0xFF])
    b = bytes([10, 2, 0, 1])
    if conn.kind == 0:
        la = b"\xfe\x80" + b"\x00" * 10 + a
        lb = b"\xfe\x80" + b"\x00" * 13 + b"\x01"
        src, dst = (la, lb) if direction == 0 else (lb, la)
        ip = struct.pack(">IHBB", 0x60000000, len(tcp), 6, 64) + src + dst
        return b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x86\xdd" + ip + tcp
    src, dst = (a, b) if direction == 0 else (b, a)
    ip = struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0) + src + dst
    eth = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02"
    if conn.kind == 1:
        eth += b"\x81\x00\x00\x0a"
    return eth + b"\x08\x00" + ip + tcp


def _traffic(seed: int) -> Iterator[bytes]:
    """An endless mixed charging capture, one frame at a time."""
    rng = random.Random(seed)
    blob = rng.randbytes(4096)
    conns: list[_Conn] = []
    made = 0
    held: bytes | None = None
    held_at: tuple[_Conn, int, int] | None = None  # (connection, direction, length) of `held`

    def acked(conn: _Conn, direction: int) -> int:
        """What the peer acknowledges of `direction`: never a held segment's bytes (an ACK
        the capture shows before the data it acknowledges would be a capture loss)."""
        if held_at is not None and held_at[0] is conn and held_at[1] == direction:
            return conn.seq[direction] - held_at[2]
        return conn.seq[direction]

    while True:
        roll = rng.random()
        if roll < 0.08:
            mm = struct.pack("<BH", 1, rng.choice((0x6064, 0x6065, 0x606A, 0x606E, 0xA008)))
            yield (b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x03\x88\xe1" + mm + b"\x00\x00"
                   + blob[:rng.randint(40, 90)])
            continue
        if roll < 0.10:
            udp = struct.pack(">HHHH", 50000, 15118, 8 + 20, 0) + blob[:20]
            ip = struct.pack(">IHBB", 0x60000000, len(udp), 17, 255) + b"\xfe\x80" + b"\0" * 13 \
                + b"\x01" + b"\xff\x02" + b"\0" * 13 + b"\x01"
            yield b"\x33\x33\x00\x00\x00\x01\x02\x00\x00\x00\x00\x01\x86\xdd" + ip + udp
            continue
        while len(conns) < 32:
            conns.append(_Conn(rng, made % 3, made))
            made += 1
        conn = rng.choice(conns)
        if conn.state == 0:
            yield _headers(conn, 0, 0x02, 0, b"")
            conn.seq[0] += 1
            yield _headers(conn, 1, 0x12, conn.seq[0], b"")
            conn.seq[1] += 1
            yield _headers(conn, 0, 0x10, conn.seq[1], b"")
            conn.state = 1
            continue
        if conn.left == 0 and (held_at is None or held_at[0] is not conn):
            yield _headers(conn, 0, 0x11, conn.seq[1], b"")
            conn.seq[0] += 1
            yield _headers(conn, 1, 0x11, conn.seq[0], b"")
            conn.seq[1] += 1
            yield _headers(conn, 0, 0x10, conn.seq[1], b"")
            conns.remove(conn)
            continue
        if conn.left == 0:
            continue  # closes once its held segment is out
        conn.left -= 1
        direction = rng.random() < 0.4
        size = rng.choice((24, 60, 120, 300, 600, 1200, 1400))
        payload = blob[rng.randint(0, 2000):][:size]
        seg = _headers(conn, direction, 0x18, acked(conn, 1 - direction), payload)
        conn.seq[direction] += len(payload)
        ack = _headers(conn, 1 - direction, 0x10, conn.seq[direction], b"")
        fate = rng.random()
        if fate < 0.01 and held is None:
            held = seg  # reordered: sent after the next segment
            held_at = (conn, direction, len(payload))
            continue
        yield seg
        if fate > 0.99:
            yield seg  # retransmitted
        if held is not None:
            yield held
            held = held_at = None
        yield ack


def generate(path: Path, size_mb: int) -> None:
    """Write ~size_mb of the mix as nanosecond pcap (own writer: no dependency on reader)."""
    target = size_mb * 1_000_000
    tmp = path.with_suffix(".tmp")
    pack = struct.Struct("<IIII").pack
    with open(tmp, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
        written = 24
        ts = T0
        for data in _traffic(1):
            ts += 91_000
            f.write(pack(ts // 1_000_000_000, ts % 1_000_000_000, len(data), len(data)))
            f.write(data)
            written += 16 + len(data)
            if written >= target:
                break
    tmp.rename(path)


# --- reading frames ----------------------------------------------------------------------
def frames_of(path: Path) -> Iterator:
    """Frames via chargescope's capture reader when present, else a minimal pcap loop."""
    try:
        from chargescope.analyzer.capture import open_capture
    except ImportError:
        yield from _minimal_pcap(path)
        return
    with open_capture(path) as cap:
        yield from cap.frames()


def _minimal_pcap(path: Path) -> Iterator:
    from chargescope.analyzer.records import Frame

    with open(path, "rb") as f:
        header = f.read(24)
        magic, = struct.unpack("<I", header[:4])
        scale = 1 if magic == 0xA1B23C4D else 1000
        linktype, = struct.unpack("<I", header[20:24])
        unpack = struct.Struct("<IIII").unpack
        number = 0
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, caplen, wirelen = unpack(rec)
            number += 1
            yield Frame(number, sec * 1_000_000_000 + frac * scale, linktype, f.read(caplen),
                        wirelen)


# --- the tools ---------------------------------------------------------------------------
def run_read(path: Path, limit: int) -> tuple[int, int]:
    frames = size = 0
    for frame in frames_of(path):
        frames += 1
        size += len(frame.data)
        if frames == limit:
            break
    return frames, size


def run_decode(which: str) -> Callable[[Path, int], tuple[int, int]]:
    def run(path: Path, limit: int) -> tuple[int, int]:
        from chargescope import backends

        impl = backends.load_twin("netdecode") if which == "python" else \
            backends.load_extension("netdecode")
        if impl is None:
            raise SystemExit("netdecode extension not built")
        decode = impl.decode
        frames = size = 0
        for frame in frames_of(path):
            decode(frame)
            frames += 1
            size += len(frame.data)
            if frames == limit:
                break
        return frames, size
    return run


def run_decode_reassembly(path: Path, limit: int) -> tuple[int, int]:
    """Full link/IP/TCP decode, IP defragmentation and TCP reassembly (stream events)."""
    from itertools import islice

    from chargescope.analyzer.net import Packet
    from chargescope.analyzer.pipeline import iter_stream_events

    frames = size = 0
    source = frames_of(path)
    if limit:
        source = islice(source, limit)
    for item in iter_stream_events(source):
        if type(item) is Packet:
            frames += 1
            size += len(item.frame.data)
    return frames, size


def run_pipeline(path: Path, limit: int) -> tuple[int, int]:
    """The whole Pipeline with the built-in handoffs (whatever dissectors are registered)."""
    from itertools import islice

    from chargescope.analyzer.pipeline import Pipeline

    source = frames_of(path)
    if limit:
        source = islice(source, limit)
    pipeline = Pipeline()
    for _item in pipeline.run(source):
        pass
    return pipeline.stats.frames, path.stat().st_size


class _NullDissector:
    """A stream dissector that does nothing: what is left is the pipeline itself."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def on_data(self, event) -> list:
        return []

    on_gap = on_close = on_data


def run_pipeline_core(path: Path, limit: int) -> tuple[int, int]:
    """Pipeline().run with every TCP connection handed to a dissector that does nothing and
    no frame handoffs: reading, decode, reassembly and the pipeline's own per-frame work
    (hot paths "pipeloop" and the reassembler's steady-state fast path)."""
    from itertools import islice

    from chargescope.analyzer.handoff import StreamHandoff
    from chargescope.analyzer.pipeline import Pipeline

    source = frames_of(path)
    if limit:
        source = islice(source, limit)
    pipeline = Pipeline(frame_handoffs=(), stream_handoffs=(
        StreamHandoff("null", (), lambda data, direction: True, _NullDissector),), tls=False)
    for _item in pipeline.run(source):
        pass
    return pipeline.stats.frames, path.stat().st_size


def run_tshark(args: tuple[str, ...]) -> Callable[[Path, int], tuple[int, int]]:
    """tshark with extra taps; frames and bytes from an io,stat tap in the same pass."""
    def run(path: Path, limit: int) -> tuple[int, int]:
        from bench_capture import run_tshark as io_stat_pass

        return io_stat_pass(path, limit, args)
    return run


RUNNERS: dict[str, Callable[[Path, int], tuple[int, int]]] = {
    "read": run_read,
    "decode": run_decode("cython"),
    "decode-python": run_decode("python"),
    "streams": run_decode_reassembly,
    "pipeline-core": run_pipeline_core,
    "pipeline": run_pipeline,
    "tshark-conv": run_tshark(("-2", "-z", "conv,tcp")),
    "tshark-io": run_tshark(()),
}
LABELS = {
    "read": "chargescope frames (read only)",
    "decode": "+ link/IP/TCP decode (Cython)",
    "decode-python": "+ link/IP/TCP decode (pure Python)",
    "streams": "+ decode + IP/TCP reassembly (iter_stream_events)",
    "pipeline-core": "Pipeline().run, do-nothing stream dissector",
    "pipeline": "Pipeline().run, built-in handoffs",
    "tshark-conv": "tshark -2 -q -z conv,tcp",
    "tshark-io": "tshark -q -z io,stat,0",
}


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure(tool: str, path: Path, limit: int) -> dict:
    """One tool's frames, bytes, CPU seconds (user+sys: fair on a shared machine, where
    wall time mostly measures the neighbours), wall seconds and peak RSS."""
    who = resource.RUSAGE_CHILDREN if tool.startswith("tshark") else resource.RUSAGE_SELF
    cpu0, wall0 = _cpu(who), time.perf_counter()
    frames, size = RUNNERS[tool](path, limit)
    cpu, wall = _cpu(who) - cpu0, time.perf_counter() - wall0
    if tool.startswith("tshark"):  # the only child this process had
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    else:
        from bench_capture import own_peak_rss_mb

        rss_mb = own_peak_rss_mb()
    return {"frames": frames, "bytes": size, "seconds": cpu, "wall": wall, "rss_mb": rss_mb}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=100, help="capture size in MB (default 100)")
    ap.add_argument("--tools", default=",".join(RUNNERS), help="comma list of " + ",".join(RUNNERS))
    ap.add_argument("--file", type=Path, help="benchmark this capture instead of generating one")
    ap.add_argument("--limit", type=int, default=0, help="only the first N frames")
    ap.add_argument("--measure", help=argparse.SUPPRESS)  # internal: one tool, JSON out
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.file, args.limit)))
        return
    path = args.file
    if path is None:
        DATA.mkdir(exist_ok=True)
        path = DATA / f"tcpmix_{args.size}MB.pcap"
        if not path.exists():
            print(f"generating {path} ...", file=sys.stderr)
            generate(path, args.size)
    rows = {}
    for tool in args.tools.split(","):
        out = subprocess.run([sys.executable, __file__, "--measure", tool, "--file", str(path),
                              "--limit", str(args.limit)], capture_output=True, text=True)
        if out.returncode:
            print(f"{tool}: failed: {out.stderr.strip()[-300:]}", file=sys.stderr)
            continue
        rows[tool] = json.loads(out.stdout)
    ref = rows.get("tshark-conv")
    print(f"capture: {path.name}, {path.stat().st_size / 1e6:.0f} MB")
    print("rates per CPU second (user+sys; tshark: its process), one run each")
    print(f"| {'tool':52} | {'frames':>9} | {'frames/s':>10} | {'MB/s':>7} | {'peak RSS MB':>11} "
          f"| {'vs tshark -2 conv':>17} |")
    print(f"|{'-' * 54}|{'-' * 11}|{'-' * 12}|{'-' * 9}|{'-' * 13}|{'-' * 19}|")
    for tool, row in rows.items():
        rate = row["frames"] / row["seconds"]
        mbs = row["bytes"] / row["seconds"] / 1e6
        ratio = f"{rate / (ref['frames'] / ref['seconds']):.1f}x" if ref else "-"
        print(f"| {LABELS[tool]:52} | {row['frames']:>9} | {rate:>10,.0f} | {mbs:>7.1f} | "
              f"{row['rss_mb']:>11.0f} | {ratio:>17} |")


if __name__ == "__main__":
    main()
