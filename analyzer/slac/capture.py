"""One capture file -> its SLAC runs and findings (what `chargescope slac` reports)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.limits import DEFAULT_LIMITS, Limits
from chargescope.analyzer.records import Finding, Frame, Message, Problem
from chargescope.analyzer.slac.checks import SlacCheckConfig, check_run
from chargescope.analyzer.slac.frames import slac_inputs
from chargescope.analyzer.slac.runs import SlacRun, SlacRunBuilder, Traffic
from chargescope.dissectors.homeplug.mme import HomePlugDissector


@dataclass(frozen=True, slots=True)
class SlacCaptureResult:
    capture: str
    mmes: int  # HomePlug MMEs decoded (fragments reassembled count once)
    runs: tuple[tuple[SlacRun, tuple[Finding, ...]], ...]
    problems: tuple[Problem, ...]  # capture-file problems, then MME decode problems
    unattributed: tuple[Message, ...]  # SLAC MMEs naming no EV of any run


def _frames(path: Path, problems: list[Problem]) -> Iterator[Frame]:
    with open_capture(path) as capture:
        yield from capture.frames()
        problems.extend(capture.problems)


def analyze_capture(path: Path, *, show_secrets: bool = False,
                    config: SlacCheckConfig | None = None,
                    limits: Limits = DEFAULT_LIMITS) -> SlacCaptureResult:
    """Read, decode and judge one capture (raises NotACaptureError / OSError if unreadable)."""
    file_problems: list[Problem] = []
    decode_problems: list[Problem] = []
    builder = SlacRunBuilder()
    mmes = 0
    for item in slac_inputs(_frames(path, file_problems), HomePlugDissector(
            show_secrets=show_secrets, max_fragment_sets=limits.homeplug_fragments)):
        if isinstance(item, Traffic):
            builder.feed_traffic(item)
            continue
        mmes += 1
        decode_problems.extend(item.problems)
        builder.feed(item)
        builder.mark_time(item.ts_ns)
    runs = tuple((run, tuple(check_run(run, config))) for run in builder.runs())
    return SlacCaptureResult(str(path), mmes, runs, tuple(file_problems + decode_problems),
                             tuple(builder.unattributed))
