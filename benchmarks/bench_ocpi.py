"""OCPI over HTTP: chargescope's decode beside h11 alone and tshark, same input, same run.

Input: the TCP payloads of tests/data/ocpi/ocpi221-extrawest.pcap (a real
extrawest-ocpi CPO/eMSP conversation: chunked, gzip, keep-alive), replayed as
StreamData `--repeat` times (a fresh connection each time, so nothing is cached).

Rows:
* chargescope HttpStream + OcpiDecoder + OcpiAnalysis (what `chargescope ocpi` does
  after reassembly: framing, gzip, JSON, envelope, object validation, state);
* chargescope HttpStream only (HTTP framing and content codings);
* h11 alone, parsing the same bytes with one server/client connection per exchange
  (the floor for a pure-Python HTTP/1.1 parse);
* end to end on a capture of the conversation `--repeat` times over (own client address
  per copy): `chargescope ocpi`'s path (read, reassemble, decode, analyse) beside
  tshark -Y "http.request or http.response" (full dissection incl. JSON).

    python benchmarks/bench_ocpi.py [--repeat 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import h11

from chargescope.analyzer.ocpi.state import OcpiAnalysis
from chargescope.analyzer.pipeline import iter_stream_events
from chargescope.analyzer.records import Connection, StreamClose, StreamData
from chargescope.dissectors.http.stream import HttpStream
from chargescope.dissectors.ocpi.decode import OcpiContext, OcpiDecoder
from chargescope.dissectors.ocpi.stream import OcpiStream

PCAP = Path(__file__).resolve().parent.parent / "tests" / "data" / "ocpi" / "ocpi221-extrawest.pcap"


def stream_events() -> list:
    from chargescope.analyzer.capture import open_capture

    with open_capture(PCAP) as capture:
        return [e for e in iter_stream_events(capture.frames())
                if isinstance(e, StreamData | StreamClose)]


def replay(events: list, repeat: int, make) -> int:
    count = 0
    for i in range(repeat):
        dissectors: dict[int, object] = {}
        for event in events:
            conn = event.conn
            if conn.index not in dissectors:
                dissectors[conn.index] = make(Connection(conn.index + 1000 * i, conn.client,
                                                         conn.server, conn.source))
            d = dissectors[conn.index]
            out = d.on_data(event) if isinstance(event, StreamData) else d.on_close(event)
            count += len(out)
    return count


def run_full(events: list, repeat: int) -> int:
    decoder = OcpiDecoder(OcpiContext())
    analysis = OcpiAnalysis()

    class Feeding(OcpiStream):
        def on_data(self, event):
            out = super().on_data(event)
            for m in out:
                analysis.add(m)
            return out

        def on_close(self, event):
            out = super().on_close(event)
            for m in out:
                analysis.add(m)
            return out

    count = replay(events, repeat, lambda conn: Feeding(conn, decoder))
    analysis.finish()
    return count


def run_http(events: list, repeat: int) -> int:
    return replay(events, repeat, HttpStream)


def run_h11(events: list, repeat: int) -> int:
    """h11 on each direction's bytes, one fresh Connection per message (as HttpStream does)."""
    data: dict[tuple[int, int], bytearray] = {}
    for e in events:
        if isinstance(e, StreamData):
            data.setdefault((e.conn.index, e.direction), bytearray()).extend(e.data)
    count = 0
    for _ in range(repeat):
        for (_conn, direction), blob in data.items():
            if direction == 1:
                continue  # the client role needs the matching request: requests only
            buf = bytes(blob)
            while buf:
                conn = h11.Connection(h11.SERVER)
                conn.receive_data(buf)
                while True:
                    event = conn.next_event()
                    if isinstance(event, h11.EndOfMessage):
                        count += 1
                        break
                    if event is h11.NEED_DATA or event is h11.PAUSED:
                        break
                buf = conn.trailing_data[0] if event is not h11.NEED_DATA else b""
    return count


def make_big(repeat: int, path: Path) -> None:
    """The capture `repeat` times over, each copy's client side on its own 127.x address."""
    import socket

    import dpkt

    with PCAP.open("rb") as handle:
        reader = dpkt.pcap.Reader(handle)
        linktype = reader.datalink()
        packets = list(reader)
    first = packets[0][0]
    span = packets[-1][0] - first + 1
    with path.open("wb") as out:
        writer = dpkt.pcap.Writer(out, linktype=linktype)
        for i in range(repeat):
            client = socket.inet_aton(f"127.1.{i >> 8}.{i & 255}")
            for ts, buf in packets:
                eth = dpkt.ethernet.Ethernet(buf)
                ip, tcp = eth.data, eth.data.data
                if tcp.sport > 9400:
                    ip.src = client
                else:
                    ip.dst = client
                ip.sum = 0  # recomputed on pack
                writer.writepkt(bytes(eth), ts + i * span)


def end_to_end(path: Path, runs: int) -> tuple[float, float | None, int]:
    """(chargescope msgs/s, tshark msgs/s, messages) reading the same big capture."""
    from chargescope.analyzer.ocpi.sources import read_capture
    from chargescope.analyzer.records import Message

    ours, count = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        analysis = OcpiAnalysis()
        count = 0
        for m in read_capture(path):
            if isinstance(m, Message):
                analysis.add(m)
                count += 1
        analysis.finish()
        ours.append(count / (time.perf_counter() - start))
    if not shutil.which("tshark"):
        return statistics.median(ours), None, count
    shark = []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(["tshark", "-r", str(path), "-Y", "http.request or http.response",
                              "-T", "fields", "-e", "frame.number"],
                             capture_output=True, text=True, check=True)
        shark.append(len(out.stdout.split()) / (time.perf_counter() - start))
    return statistics.median(ours), statistics.median(shark), count


def measure(fn, events, repeat: int, runs: int) -> tuple[float, int]:
    rates, count = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        count = fn(events, repeat)
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    events = stream_events()
    rows = []
    full, n = measure(run_full, events, args.repeat, args.runs)
    rows.append(("chargescope HTTP + OCPI decode + analysis", full, n))
    http, n = measure(run_http, events, args.repeat, args.runs)
    rows.append(("chargescope HttpStream only", http, n))
    floor, n = measure(run_h11, events, args.repeat, args.runs)
    rows.append(("h11 alone (requests only)", floor, n))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.pcap"
        make_big(args.repeat, big)
        ours, shark, count = end_to_end(big, args.runs)
    print(f"input: {PCAP.name} x{args.repeat} ({count} HTTP/OCPI messages), medians of "
          f"{args.runs}")
    print("| path | msgs/s | vs tshark |")
    print("|---|---:|---:|")
    ratio = (lambda rate: f"{rate / shark:.1f}x") if shark else (lambda rate: "-")
    print(f"| chargescope ocpi end to end (read, reassemble, decode, analyse) | {ours:,.0f} | "
          f"{ratio(ours)} |")
    for name, rate, _n in rows:
        print(f"| {name} (stream events in memory) | {rate:,.0f} | {ratio(rate)} |")
    if shark:
        print(f"| tshark -Y 'http.request or http.response' (same capture) | {shark:,.0f} | "
              "1.0x |")


if __name__ == "__main__":
    main()
