"""Frames from a capture file via scapy's raw readers, for tests that need real captures.

Independent of chargescope's own capture reader on purpose: the decode, reassembly and
pipeline tests then check one component at a time.
"""

from __future__ import annotations

from pathlib import Path

from scapy.utils import RawPcapNgReader, RawPcapReader

from chargescope.analyzer.records import Frame


def read_frames(path: Path | str) -> list[Frame]:
    path = str(path)
    frames: list[Frame] = []
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"\x0a\x0d\x0d\x0a":
        reader = RawPcapNgReader(path)
        with reader:
            for number, (data, meta) in enumerate(reader, 1):
                ts = ((meta.tshigh << 32) | meta.tslow) * 1_000_000_000 // meta.tsresol
                frames.append(Frame(number, ts, meta.linktype, bytes(data),
                                    meta.wirelen or len(data), source=path))
        return frames
    reader = RawPcapReader(path)
    scale = 1 if getattr(reader, "nano", False) else 1000
    with reader:
        for number, (data, meta) in enumerate(reader, 1):
            ts = meta.sec * 1_000_000_000 + meta.usec * scale
            frames.append(Frame(number, ts, reader.linktype, bytes(data),
                                meta.wirelen or len(data), source=path))
    return frames
