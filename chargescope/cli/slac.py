"""`chargescope slac CAPTURE...`: SLAC runs (ISO 15118-3) as ladders with verdicts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from chargescope.analyzer.records import Frame, Problem, Severity
from chargescope.analyzer.slac import SlacCheckConfig, SlacRunBuilder, Traffic, check_run
from chargescope.analyzer.slac.frames import slac_inputs
from chargescope.analyzer.slac.report import finding_json, ladder_text, run_json
from chargescope.analyzer.slac.timing import DEFAULT_ATTENUATION_LIMIT_DB
from chargescope.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    capture_options,
    diag,
    emit_json,
    expand_captures,
)
from chargescope.dissectors.homeplug.mme import HomePlugDissector


def _frames(path: Path, problems: list[Problem]) -> Iterator[Frame]:
    try:
        from chargescope.analyzer.capture import open_capture
    except ImportError:  # the project's capture reader is not merged yet: read with scapy
        yield from _scapy_frames(path)
        return
    with open_capture(path) as capture:
        yield from capture.frames()
        problems.extend(capture.problems)


def _scapy_frames(path: Path) -> Iterator[Frame]:
    from scapy.utils import RawPcapReader

    reader = RawPcapReader(str(path))
    try:
        for number, (data, meta) in enumerate(reader, start=1):
            sec = getattr(meta, "sec", None)
            if sec is None:  # pcapng: microsecond resolution assumed
                ts = (meta.tshigh << 32 | meta.tslow) * 1000
            else:
                ts = sec * 1_000_000_000 + meta.usec * 1000
            linktype = getattr(meta, "linktype", getattr(reader, "linktype", 1))
            yield Frame(number, ts, linktype, bytes(data), getattr(meta, "wirelen", len(data)),
                        source=str(path))
    finally:
        reader.close()


def analyze_capture(path: Path, *, show_secrets: bool, config: SlacCheckConfig) -> dict:
    problems: list[Problem] = []
    builder = SlacRunBuilder()
    dissector = HomePlugDissector(show_secrets=show_secrets)
    decode_problems: list[Problem] = []
    mmes = 0
    for item in slac_inputs(_frames(path, problems), dissector):
        if isinstance(item, Traffic):
            builder.feed_traffic(item)
            continue
        mmes += 1
        decode_problems.extend(item.problems)
        builder.feed(item)
        builder.mark_time(item.ts_ns)
    runs = [(run, check_run(run, config)) for run in builder.runs()]
    return {"capture": str(path), "mmes": mmes, "runs": runs,
            "problems": problems + decode_problems,
            "unattributed": builder.unattributed}


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
            results.append(analyze_capture(path, show_secrets=show_secrets, config=config))
        except Exception as exc:  # NotACaptureError (or scapy's) or unreadable file
            if exc.__class__.__name__ not in ("NotACaptureError", "Scapy_Exception") \
                    and not isinstance(exc, OSError):
                raise
            diag(f"{path}: not readable as a capture: {exc}")
            raise SystemExit(EXIT_BAD_INPUT) from exc
    worst = max((f.severity for r in results for _run, fs in r["runs"] for f in fs), default=None)
    if as_json:
        emit_json({"captures": [{
            "capture": r["capture"], "mmes": r["mmes"],
            "runs": [run_json(run, fs) for run, fs in r["runs"]],
            "unattributed_mmes": [{"name": m.name, "frame": m.refs[0].frame if m.refs else 0}
                                  for m in r["unattributed"]],
            "problems": [str(p) for p in r["problems"]],
        } for r in results]})
    else:
        for r in results:
            click.echo(f"{r['capture']}: {r['mmes']} HomePlug MMEs, {len(r['runs'])} SLAC run(s)")
            for index, (run, findings) in enumerate(r["runs"], start=1):
                click.echo("\n".join(ladder_text(index, run, findings)))
            if r["unattributed"]:
                click.echo(f"  {len(r['unattributed'])} SLAC MME(s) naming no EV seen in a run")
            for problem in r["problems"][:20]:
                diag(f"  problem: {problem}")
    raise SystemExit(EXIT_FINDINGS if worst == Severity.ERROR else EXIT_OK)


__all__ = ["command", "analyze_capture", "finding_json"]
