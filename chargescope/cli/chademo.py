"""`chargescope chademo CAPTURE|LOG...`: CHAdeMO sessions over CAN as ladders with verdicts."""

from __future__ import annotations

from pathlib import Path

import click

from chargescope.analyzer.capture import NotACaptureError
from chargescope.analyzer.chademo.analyze import analyze_recording
from chargescope.analyzer.chademo.canlog import NotACanRecording
from chargescope.analyzer.chademo.checks import ChademoCheckConfig
from chargescope.analyzer.chademo.report import result_json, result_text
from chargescope.analyzer.records import Severity
from chargescope.cli.common import (
    CAPTURE_SUFFIXES,
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    diag,
    emit_json,
    expand_captures,
)

LOG_SUFFIXES = CAPTURE_SUFFIXES + (".log", ".candump", ".txt", ".csv", ".asc")


@click.command("chademo")
@click.argument("recordings", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: one JSON document on stdout.")
@click.option("--timeout-ms", type=int, default=1000, show_default=True,
              help="Gap of a periodic frame reported as a communication timeout.")
@click.option("--overshoot-a", type=int, default=10, show_default=True,
              help="Present current above the request by more than this is an overshoot.")
def command(recordings: tuple[Path, ...], as_json: bool, timeout_ms: int,
            overshoot_a: int) -> None:
    """CHAdeMO sessions (IEEE 2030.1.1) from SocketCAN pcaps or CAN logs (candump -l,
    candump ASCII, SavvyCAN CSV, CANDue): ladder, stop cause, verdict, findings."""
    config = ChademoCheckConfig(timeout_ns=timeout_ms * 1_000_000, overshoot_a=overshoot_a)
    results = []
    named = {p for p in recordings if not p.is_dir()}
    for path in expand_captures(recordings, LOG_SUFFIXES):
        try:
            results.append(analyze_recording(path, config))
        except (NotACaptureError, NotACanRecording, OSError) as exc:
            diag(f"{path}: not readable as a CAN recording: {exc}")
            if path in named:  # a file found in a directory may be anything: skip it
                raise SystemExit(EXIT_BAD_INPUT) from exc
    worst = max((f.severity for r in results for s in r.sessions for f in s.findings),
                default=None)
    if as_json:
        emit_json({"recordings": [result_json(r) for r in results]})
    else:
        for r in results:
            click.echo("\n".join(result_text(r)))
    raise SystemExit(EXIT_FINDINGS if worst == Severity.ERROR else EXIT_OK)


__all__ = ["command"]
