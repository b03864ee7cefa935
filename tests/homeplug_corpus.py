"""Corpus captures with HomePlug frames, read as raw Ethernet bytes (test helper)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from conftest import CORPUS
from scapy.utils import RawPcapReader

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
    reader = RawPcapReader(str(path))
    try:
        for number, (data, meta) in enumerate(reader, start=1):
            split = split_ethernet(bytes(data))
            if split is not None and split[2] == ETHERTYPE_HOMEPLUG:
                sec = getattr(meta, "sec", None)
                if sec is None:  # pcapng metadata
                    ts = (meta.tshigh << 32 | meta.tslow) * 1000
                else:
                    ts = sec * 1_000_000_000 + meta.usec * 1000
                yield number, bytes(data), ts
    finally:
        reader.close()


def mme_offset(eth: bytes) -> int:
    split = split_ethernet(eth)
    assert split is not None
    return split[3]
