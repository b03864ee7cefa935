"""Several capture files as one frame stream in timestamp order (what mergecap does).

Streaming: one frame per file is held at a time. Frames keep their own `source` and
`number`; ties go to the file given first. Files are assumed to be each in time order,
as mergecap assumes; a frame earlier than its predecessor is passed through, not reordered.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path

from chargescope.analyzer.capture.reader import CaptureFile, open_capture
from chargescope.analyzer.records import Frame


def _ts(frame: Frame) -> int:
    return frame.ts_ns


def merge_frames(captures: Iterable[CaptureFile]) -> Iterator[Frame]:
    """Merge already open captures (their problems and counters stay readable on each)."""
    captures = list(captures)
    if len(captures) == 1:  # nothing to merge: no per-frame heap work
        return captures[0].frames()
    return heapq.merge(*(cap.frames() for cap in captures), key=_ts)


def iter_frames(paths: Iterable[str | Path]) -> Iterator[Frame]:
    """Open every path and yield all their frames merged by timestamp; closes the files."""
    with ExitStack() as stack:
        captures = [stack.enter_context(open_capture(p)) for p in paths]
        yield from merge_frames(captures)
