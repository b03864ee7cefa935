"""`chargescope slac CAPTURE...`: SLAC runs (ISO 15118-3) as ladders with verdicts."""

from __future__ import annotations

from pathlib import Path

import click

from chargescope.analyzer.capture import NotACaptureError
from chargescope.analyzer.records import Severity
from chargescope.analyzer.slac.capture import analyze_capture
from chargescope.analyzer.slac.checks import SlacCheckConfig
from chargescope.analyzer.slac.report import capture_json, capture_text, timers_json
from chargescope.analyzer.slac.timing import DEFAULT_ATTENUATION_LIMIT_DB
from chargescope.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    capture_options,
    current_limits,
    diag,
    emit_json,
    expand_captures,
)


@click.command("slac")
@capture_options
@click.option("--atten-limit", type=float, default=DEFAULT_ATTENUATION_LIMIT_DB, show_default=True,
              help="Average attenuation (dB) above which a matched link is reported.")
def command(captures: tuple[Path, ...], as_json: bool, keylog: tuple[Path, ...], site: Path | None,
            show_secrets: bool, atten_limit: float) -> None:
    """SLAC runs (ISO 15118-3 matching) per EV and RUN_ID: ladder, verdict, findings."""
    config = SlacCheckConfig(attenuation_limit_db=atten_limit)
    results = []
    for path in expand_captures(captures):
        try:
            results.append(analyze_capture(path, show_secrets=show_secrets, config=config,
                                           limits=current_limits()))
        except (NotACaptureError, OSError) as exc:
            diag(f"{path}: not readable as a capture: {exc}")
            raise SystemExit(EXIT_BAD_INPUT) from exc
    worst = max((f.severity for r in results for _run, fs in r.runs for f in fs), default=None)
    if as_json:
        emit_json({"captures": [capture_json(r) for r in results],
                   "timers_ms": timers_json(), "attenuation_limit_db": atten_limit})
    else:
        for r in results:
            click.echo("\n".join(capture_text(r)))
            for problem in r.problems[:20]:
                diag(f"  problem: {problem}")
    raise SystemExit(EXIT_FINDINGS if worst == Severity.ERROR else EXIT_OK)


__all__ = ["command"]
