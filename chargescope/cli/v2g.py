"""`chargescope v2g CAPTURE...`: V2G sessions of link A, a ladder and a verdict per session."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from chargescope.analyzer.records import Message, Problem, Severity
from chargescope.analyzer.v2g import V2GAnalyser
from chargescope.analyzer.v2g.records import LinkAReport
from chargescope.analyzer.v2g.report import (
    finding_document,
    ladder_lines,
    report_document,
    session_header,
    verdict_line,
)
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

LINK_A_PROTOCOLS = ("sdp", "v2gtp", "exi")


def analyse_capture(path: Path, keylog_files: tuple[Path, ...] = ()
                    ) -> tuple[LinkAReport, list[Problem]]:
    """Read one capture through the pipeline and build its V2G sessions (TLS decrypted with
    `keylog_files`, the capture's DSBs and in-band disclosed secrets)."""
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.pipeline import Pipeline
    from chargescope.analyzer.tls.sources import frames_with_secrets, load_key_logs

    analyser = V2GAnalyser()
    problems: list[Problem] = []
    keylog = load_key_logs(keylog_files)
    with open_capture(path) as capture:
        for item in Pipeline(keylog=keylog, limits=current_limits()).run(
                frames_with_secrets(capture, keylog)):
            if isinstance(item, Message):
                if item.protocol in LINK_A_PROTOCOLS:
                    analyser.feed(item)
            else:
                problems.append(item)
        problems.extend(capture.problems)
    return analyser.finish(), problems


@click.command("v2g")
@capture_options
@click.option("--full", is_flag=True, help="With --json: include every decoded tree.")
@click.option("--loop", "max_loop", default=3, show_default=True,
              help="Ladder: show at most this many requests of a repeating loop.")
@click.option("--session", "only", multiple=True, metavar="ID",
              help="Only sessions with this SessionID (or index); may repeat.")
def command(captures: tuple[Path, ...], as_json: bool, keylog, site, show_secrets: bool,
            full: bool, max_loop: int, only: tuple[str, ...]) -> None:
    """V2G sessions (SDP, supportedAppProtocol, DIN 70121, ISO 15118-2/-20): ladder and verdict."""
    files = expand_captures(captures)
    if not files:
        diag("no capture files found")
        raise SystemExit(EXIT_BAD_INPUT)
    documents, worst, bad = [], 0, 0
    for path in files:
        try:
            report, problems = analyse_capture(path, tuple(keylog or ()))
        except (OSError, ValueError) as exc:
            diag(f"{path}: cannot read: {exc}")
            bad += 1
            continue
        if only:
            wanted = {o.upper() for o in only}
            report = replace(report, sessions=tuple(
                s for s in report.sessions
                if s.session_id.upper() in wanted or str(s.index) in wanted))
        for problem in problems[:20]:
            diag(f"{path}: {problem}")
        if len(problems) > 20:
            diag(f"{path}: ... {len(problems) - 20} more problems")
        findings = list(report.findings) + [f for s in report.sessions for f in s.findings]
        worst = max([worst] + [int(f.severity) for f in findings])
        if as_json:
            documents.append({"capture": str(path), **report_document(report, full=full),
                              "problems": len(problems)})
        else:
            _print_report(path, report, max_loop)
    if as_json:
        emit_json({"captures": documents})
    if bad == len(files):
        raise SystemExit(EXIT_BAD_INPUT)
    raise SystemExit(EXIT_FINDINGS if worst >= Severity.ERROR else EXIT_OK)


def _print_report(path: Path, report: LinkAReport, max_loop: int) -> None:
    click.echo(f"== {path}")
    sdp = report.discovery
    if sdp:
        click.echo(f"SDP: {sum(m.name == 'SDPRequest' for m in sdp)} requests, "
                   f"{sum(m.name == 'SDPResponse' for m in sdp)} responses; announced "
                   + (", ".join(f"[{ip}]:{port}" for ip, port in report.announced) or "-"))
    for f in report.findings:
        doc = finding_document(f)
        click.echo(f"  !! {doc['severity']}: {f.code}: {f.text}")
    if not report.sessions:
        click.echo("no V2G session found")
    for session in report.sessions:
        click.echo("")
        for line in session_header(session):
            click.echo(line)
        for line in ladder_lines(session, max_loop=max_loop):
            click.echo(line)
        click.echo(verdict_line(session))
    click.echo("")
