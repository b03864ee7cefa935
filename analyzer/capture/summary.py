"""What is in a capture file (capinfos' job): one streaming pass, one record out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from chargescope import backends
from chargescope.analyzer.capture.census import ProtocolCensus
from chargescope.analyzer.capture.model import Interface
from chargescope.analyzer.capture.reader import open_capture
from chargescope.analyzer.records import Problem


@dataclass(frozen=True, slots=True)
class CaptureSummary:
    """Counts and facts about one capture; `first_ts_ns`/`last_ts_ns` are the earliest and
    latest frame timestamps (None without frames), `per_interface` frames per interface."""

    path: str
    format: str
    compressed: bool
    version: str
    sections: int
    interfaces: tuple[Interface, ...]
    frames: int
    bytes: int
    truncated: int
    malformed: int
    first_ts_ns: int | None
    last_ts_ns: int | None
    per_interface: dict[int, int] = field(default_factory=dict)
    secrets: tuple[tuple[str, int], ...] = ()  # (type name, size in bytes)
    names: int = 0
    skipped_blocks: int = 0
    problems: tuple[Problem, ...] = ()
    protocols: dict[str, int] = field(default_factory=dict)  # ProtocolCensus counts

    @property
    def duration_ns(self) -> int:
        if self.first_ts_ns is None or self.last_ts_ns is None:
            return 0
        return self.last_ts_ns - self.first_ts_ns


def summarize(path: str | Path, impl: ModuleType | None = None,
              protocols: bool = True, convert: bool = False) -> CaptureSummary:
    """Read the whole file once (streaming) and count; raises NotACaptureError like open.

    With `protocols`, every frame also goes through the link/IP/transport decode (hot
    path "netdecode") for the per-protocol counts.
    """
    decode = backends.load("netdecode").decode if protocols else None
    census = ProtocolCensus()
    first: int | None = None
    last: int | None = None
    per_interface: dict[int, int] = {}
    with open_capture(path, impl, convert=convert) as cap:
        for batch in cap.batches():
            low = min(f.ts_ns for f in batch)
            high = max(f.ts_ns for f in batch)
            first = low if first is None else min(first, low)
            last = high if last is None else max(last, high)
            for frame in batch:
                per_interface[frame.interface] = per_interface.get(frame.interface, 0) + 1
                if decode is not None:
                    census.add(decode(frame))
    return CaptureSummary(
        path=cap.source, format=cap.format, compressed=cap.compressed, version=cap.version,
        sections=max(cap.sections, 1), interfaces=tuple(cap.interfaces),
        frames=cap.frames_read, bytes=cap.bytes_read, truncated=cap.truncated,
        malformed=cap.malformed, first_ts_ns=first, last_ts_ns=last,
        per_interface=per_interface,
        secrets=tuple((s.type_name, len(s.data)) for s in cap.secrets), names=len(cap.names),
        skipped_blocks=cap.skipped_blocks, problems=tuple(cap.problems),
        protocols=dict(sorted(census.counts.items())))
