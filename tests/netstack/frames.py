"""Frames of a capture file through chargescope's own reader, as a list."""

from __future__ import annotations

from pathlib import Path

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.records import Frame


def read_frames(path: Path | str) -> list[Frame]:
    with open_capture(path) as cap:
        return list(cap.frames())
