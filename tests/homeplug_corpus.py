"""Corpus captures with HomePlug frames, read as raw Ethernet bytes (test helper)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from conftest import CORPUS
from scapy.utils import RawPcapReader

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".dump", ".cap")


def corpus_captures() -> list[Path]:
    root = CORPUS / "pcaps"
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(CAPTURE_SUFFIXES))


def homeplug_frames(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """(1-based frame number, Ethernet bytes, ts_ns) of the frames with EtherType 0x88E1."""
    reader = RawPcapReader(str(path))
    try:
        for number, (data, meta) in enumerate(reader, start=1):
            if len(data) >= 14 and data[12:14] == b"\x88\xe1":
                sec = getattr(meta, "sec", None)
                if sec is None:  # pcapng metadata
                    ts = (meta.tshigh << 32 | meta.tslow) * 1000
                else:
                    ts = sec * 1_000_000_000 + meta.usec * 1000
                yield number, bytes(data), ts
    finally:
        reader.close()
