"""CHAdeMO sessions from a live SocketCAN capture (`chargescope chademo --live can0`)."""

from __future__ import annotations

from collections.abc import Callable

from chargescope.analyzer.chademo.analyze import ChademoResult, analyze_frames
from chargescope.analyzer.chademo.can import CanFrame, can_from_frame
from chargescope.analyzer.chademo.checks import ChademoCheckConfig
from chargescope.analyzer.live.capture import LiveCapture
from chargescope.analyzer.records import Message, Problem
from chargescope.dissectors.chademo import decode_can

LIVE_FORMAT = "SocketCAN live"


def run_live(capture: LiveCapture, config: ChademoCheckConfig | None = None,
             on_message: Callable[[Message], None] | None = None) -> ChademoResult:
    """Read `capture` (entered by the caller) until it stops; each CHAdeMO Message is
    shown through `on_message` as it arrives, the sessions are judged at the end exactly
    as `analyze_recording` would judge the pcapng the capture wrote."""
    frames: list[CanFrame] = []
    problems: list[Problem] = []
    for frame in capture.frames():
        got = can_from_frame(frame)
        if isinstance(got, Problem):
            problems.append(got)
            continue
        if got is None:
            continue
        frames.append(got)
        message = decode_can(got)
        if message is not None and on_message is not None:
            on_message(message)
    result = analyze_frames(frames, capture.iface, LIVE_FORMAT, config)
    result.problems = problems
    return result
