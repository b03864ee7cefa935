"""`chargescope analyze`: all links joined per charging session."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from chargescope.analyzer.analysis import UnreadableSource, analyze
from chargescope.analyzer.correlate import SiteMap, SiteMapError
from chargescope.analyzer.records import Severity
from chargescope.analyzer.report import render_json, render_text
from chargescope.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    SOURCE_SUFFIXES,
    capture_options,
    current_limits,
    diag,
    emit_json,
    expand_captures,
    problem_record,
)


@click.command("analyze")
@capture_options
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write the tables (sessions, link_sessions, findings, messages, "
                   "problems) to this directory.")
@click.option("--format", "export_format", type=click.Choice(["parquet", "csv", "json"]),
              default="parquet", show_default=True, help="File format for --export.")
@click.option("--no-timeline", is_flag=True, help="Leave the per-session timeline out of the text.")
def command(captures, as_json, keylog, site, show_secrets, export_dir, export_format,
            no_timeline):
    """Join every link of every charging session and judge it.

    CAPTURES are capture files (pcap, pcapng, gzip-compressed; Ethernet, cooked and
    SocketCAN link types), OCPP logs (JSON lines, JSON arrays, timestamp-prefixed text; see
    `chargescope ocpp --help`), HAR files and HTTP JSON-lines logs (OCPI), CAN logs
    (candump, SavvyCAN CSV, CANDue; CHAdeMO) or directories of them; each file is one
    capture source with its own clock. A directory holding a `site.toml` (as `chargescope
    simulate` writes) uses it as the site map unless --site is given. Prints one block per charging
    session (verdict, join keys, cross-link timeline, findings) and a summary. Exit
    status: 0 no error findings, 1 error findings, 2 unreadable input.
    """
    paths = expand_captures(captures, SOURCE_SUFFIXES)
    if site is None:
        site = discover_site_map(captures)
        if site is not None:
            diag(f"using site map {site} (give --site to choose another)")
    if not paths:
        diag("chargescope analyze: no capture files found")
        sys.exit(EXIT_BAD_INPUT)
    try:
        site_map = SiteMap.load(site) if site else None
        bar = ProgressBar() if sys.stderr.isatty() else None
        result = analyze(paths, site_map, keep_messages=bool(export_dir), keylog_files=keylog,
                         on_bytes=bar.update if bar else None, limits=current_limits())
        if bar:
            bar.close()
    except (UnreadableSource, SiteMapError) as exc:
        diag(f"chargescope analyze: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    for problem in result.problems[:20]:
        diag(f"problem: {problem}")
    if len(result.problems) > 20:
        diag(f"... {len(result.problems) - 20} more problems (see --json or --export)")
    if export_dir:
        from chargescope.analyzer.export import write

        try:
            written = write(result, export_dir, export_format)
        except ImportError as exc:
            diag(f"chargescope analyze: --export needs pandas and pyarrow "
                 f"(pip install 'chargescope[export]'): {exc}")
            sys.exit(EXIT_BAD_INPUT)
        for path in written:
            diag(f"wrote {path}")
    if as_json:
        doc = render_json(result.correlation, result.link_findings)
        doc["sources"] = [vars_of(s) for s in result.sources]
        doc["problems"] = [problem_record(p) for p in result.problems]
        emit_json(doc)
    else:
        click.echo(render_text(result.correlation, show_timeline=not no_timeline,
                               other_findings=result.link_findings))
    errors = any(f.severity is Severity.ERROR for f in result.findings)
    sys.exit(EXIT_FINDINGS if errors else EXIT_OK)


class ProgressBar:
    """A one-line byte progress bar on stderr (only when stderr is a terminal)."""

    WIDTH = 30

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and done < total:
            return
        self.last = now
        frac = done / total if total else 1.0
        filled = int(frac * self.WIDTH)
        elapsed = now - self.started
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {frac:4.0%} "
                         f"{done / 1e6:7.1f}/{total / 1e6:.1f} MB  ETA {eta:4.0f} s ")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\r" + " " * (self.WIDTH + 50) + "\r")
        sys.stderr.flush()


SITE_MAP_NAME = "site.toml"


def discover_site_map(captures: tuple[Path, ...]) -> Path | None:
    """A `site.toml` inside a directory given on the command line, as `simulate` writes it."""
    found = [p / SITE_MAP_NAME for p in captures if p.is_dir() and (p / SITE_MAP_NAME).is_file()]
    return found[0] if len(found) == 1 else None


def vars_of(record) -> dict:
    return {name: getattr(record, name) for name in record.__slots__}
