"""Corpus captures with HomePlug frames, read with the project's capture reader (test helper)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from conftest import CORPUS

from chargescope.analyzer.capture import open_capture
from chargescope.dissectors.homeplug.mme import split_ethernet
from chargescope.dissectors.homeplug.registry import ETHERTYPE_HOMEPLUG

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".dump", ".cap")


def corpus_captures() -> list[Path]:
    root = CORPUS / "pcaps"
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(CAPTURE_SUFFIXES))


def homeplug_frames(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """(1-based frame number, Ethernet bytes, ts_ns) of the frames with EtherType 0x88E1
    (VLAN tags allowed: `mme_offset` finds the MME)."""
    with open_capture(path) as capture:
        for frame in capture.frames():
            split = split_ethernet(frame.data)
            if split is not None and split[2] == ETHERTYPE_HOMEPLUG:
                yield frame.number, bytes(frame.data), frame.ts_ns


def mme_offset(eth: bytes) -> int:
    split = split_ethernet(eth)
    assert split is not None
    return split[3]
