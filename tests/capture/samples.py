"""Small captures built in memory for the reader tests, and a helper to read them."""

from __future__ import annotations

import io
from pathlib import Path

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.capture.writer import PcapngWriter, PcapWriter
from chargescope.analyzer.records import Frame, Problem

T0 = 1_700_000_000_123_456_789  # ns


def payloads(n: int = 5) -> list[bytes]:
    return [bytes([i]) * (40 + 7 * i) for i in range(n)]


def pcap_bytes(little: bool = True, nano: bool = True, linktype: int = 1, n: int = 5) -> bytes:
    out = io.BytesIO()
    with PcapWriter(out, linktype=linktype, nano=nano, little=little) as w:
        for i, data in enumerate(payloads(n)):
            w.write(data, T0 + i * 1_000_000, wirelen=len(data) + (i % 2) * 10)
    return out.getvalue()


def pcapng_bytes(little: bool = True, n: int = 5) -> bytes:
    out = io.BytesIO()
    with PcapngWriter(out, little=little) as w:
        w.add_interface(1, name="eth0")
        w.add_interface(1, name="plc0", tsresol=1_000_000)
        for i, data in enumerate(payloads(n)):
            w.write(data, T0 - (T0 % 1000) + i * 1_000_000, interface=i % 2)
    return out.getvalue()


def read(path: Path, impl) -> tuple[list[Frame], list[Problem], object]:
    """All frames and problems of `path` with hot-path implementation `impl`."""
    with open_capture(path, impl) as cap:
        frames = list(cap.frames())
    return frames, cap.problems, cap


def kinds(problems: list[Problem]) -> list[str]:
    return [p.kind for p in problems]
