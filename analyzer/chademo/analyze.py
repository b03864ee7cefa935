"""One recording in, CHAdeMO sessions with findings out (what the CLI and tests use)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from chargescope.analyzer.chademo.can import CanFrame
from chargescope.analyzer.chademo.canlog import read_recording
from chargescope.analyzer.chademo.checks import ChademoCheckConfig, check_session
from chargescope.analyzer.chademo.session import ChademoSession, SessionBuilder
from chargescope.analyzer.records import Message, Problem
from chargescope.dissectors.chademo import decode_can


@dataclass(slots=True)
class ChademoResult:
    source: str
    format: str
    frames: int = 0
    sessions: list[ChademoSession] = field(default_factory=list)
    out_of_scope: Counter = field(default_factory=Counter)  # CAN id -> frames
    problems: list[Problem] = field(default_factory=list)


def analyze_frames(frames: list[CanFrame], source: str, fmt: str = "",
                   config: ChademoCheckConfig | None = None) -> ChademoResult:
    result = ChademoResult(source, fmt, len(frames))
    builder = SessionBuilder(source)
    # logs are not always in time order (several interfaces, CANDue buffering)
    for frame in sorted(frames, key=lambda f: f.ts_ns):
        message = decode_can(frame)
        if message is None:
            result.out_of_scope[frame.can_id] += 1
            continue
        builder.feed(message)
    result.sessions = builder.finish()
    for session in result.sessions:
        check_session(session, config)
    return result


def analyze_recording(path: str | Path, config: ChademoCheckConfig | None = None
                      ) -> ChademoResult:
    """Read any supported recording (pcap/pcapng/candump/SavvyCAN/CANDue) and judge it."""
    rec = read_recording(path)
    result = analyze_frames(rec.frames, rec.source, rec.format, config)
    result.problems = rec.problems
    return result


def decode_recording(path: str | Path) -> list[Message]:
    """Every CHAdeMO Message of a recording, in file order."""
    rec = read_recording(path)
    return [m for m in map(decode_can, rec.frames) if m is not None]
