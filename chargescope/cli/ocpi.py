"""`chargescope ocpi CAPTURE|HAR|LOG...`: OCPI parties, sessions, CDRs, commands (link C)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from chargescope.analyzer.limits import DEFAULT_LIMITS, Limits
from chargescope.analyzer.ocpi.sources import read_any
from chargescope.analyzer.ocpi.state import OcpiAnalysis, OcpiReport
from chargescope.analyzer.records import Message, Problem, Severity
from chargescope.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    capture_options,
    current_limits,
    diag,
    emit_json,
    expand_captures,
    iso_time,
    problem_record,
)

HELP = """Decode OCPI 2.1.1 / 2.2.1 / 2.3.0 over HTTP/1.1 and rebuild what the parties
did: per party pair the modules used, sessions (status history, kWh), CDRs, token
authorizations, commands with their result callbacks, and findings (status codes,
envelope and schema violations, pagination, sessions without CDR, CDR totals, ...).

\b
CAPTURE: pcap/pcapng (plain HTTP; HTTPS needs TLS decryption); HTTP is found by
its first bytes, so any port works and captures may start mid-connection.
HAR: a browser/Postman/proxy export (.har, or .json with log.entries).
LOG: JSON lines (.jsonl/.ndjson), one HTTP message per line, see
chargescope.dissectors.http.logs for the format.

Authorization tokens and credentials tokens are shown as fingerprints
("Token <redacted 1a2b3c4d>") unless --show-secrets.

Exit status: 0 no error findings, 1 error findings, 2 unreadable input."""



def message_record(m: Message) -> dict[str, Any]:
    ref = m.refs[0] if m.refs else None
    rec: dict[str, Any] = {"ts": iso_time(m.ts_ns), "source": ref.source if ref else "",
                           "frame": ref.frame if ref else 0, "protocol": m.protocol,
                           "name": m.name, "src": m.src, "dst": m.dst, **m.fields}
    if m.problems:
        rec["problems"] = [problem_record(p) for p in m.problems]
    return rec




def analyse(paths: list[Path], *, show_secrets: bool, keep: bool,
            keylog_files: tuple[Path, ...] = (), limits: Limits = DEFAULT_LIMITS
            ) -> tuple[list[dict], list[Message], list[Problem]]:
    """One OcpiReport per input (each is its own capture source with its own clock)."""
    reports, kept, problems = [], [], []
    for path in paths:
        analysis = OcpiAnalysis()
        for item in read_any(path, show_secrets=show_secrets, keylog_files=keylog_files,
                             limits=limits):
            if isinstance(item, Problem):
                problems.append(item)
                continue
            if item.link != "C":
                continue
            analysis.add(item)
            if keep:
                kept.append(item)
        reports.append({"source": str(path), "report": analysis.finish()})
    return reports, kept, problems


def _print_report(source: str, report: OcpiReport) -> None:
    click.echo(f"== {source}: {report.messages} messages, {report.problems} decode problems")
    for party in report.parties.values():
        who = f"{party.key}"
        if party.role:
            who += f" ({party.role}{', ' + party.name if party.name else ''})"
        if party.addresses:
            who += f" at {', '.join(sorted(party.addresses))}"
        click.echo(f"party {who}")
    for pair, state in sorted(report.pairs.items()):
        click.echo(f"\n{pair[0]} <-> {pair[1]}: {state.exchanges} requests, OCPI "
                   f"{', '.join(sorted(state.versions)) or '?'}; modules "
                   f"{', '.join(sorted(state.modules))}")
        for key in state.sessions:
            s = report.sessions[key]
            history = " -> ".join(status for _, _, status in s.history) or "?"
            click.echo(f"  session {key}: {history}, kwh {s.kwh if s.kwh is not None else '?'}"
                       f", CDR {', '.join(s.cdrs) or 'none'}")
        for cdr in state.cdrs:
            click.echo(f"  cdr {cdr['id']} (session {cdr['session_id']}): "
                       f"{cdr['total_energy']} kWh, {cdr['total_time']} h, "
                       f"cost {cdr['total_cost']} {cdr['currency'] or ''}")
        if state.tokens:
            valid = sum(1 for t in state.tokens if t.get("valid") is True)
            click.echo(f"  tokens exchanged: {len(state.tokens)} ({valid} valid)")
        for auth in state.authorizations:
            click.echo(f"  authorize {auth['token_uid']}: {auth['allowed'] or '-'} "
                       f"(HTTP {auth['status']}, status_code {auth['status_code']})")
        for c in state.commands:
            click.echo(f"  command {c.command}: {c.result or 'no answer'}"
                       f" (status_code {c.status_code}), result callback: "
                       f"{c.callback or 'none'}")
    if report.findings:
        click.echo("\nfindings:")
    for f in report.findings:
        ref = f.evidence[0].refs[0] if f.evidence and f.evidence[0].refs else None
        where = f" [frame {ref.frame}]" if ref else ""
        click.echo(f"  {str(f.severity):7} {f.code}: {f.text}{where}")


@click.command("ocpi", help=HELP)
@capture_options
@click.option("--messages", "with_messages", is_flag=True,
              help="Also list every decoded message (with --json: include them).")
def command(captures: tuple[Path, ...], as_json: bool, keylog: tuple[Path, ...],
            site: Path | None, show_secrets: bool, with_messages: bool) -> None:
    paths = expand_captures(captures)
    for extra in (".har", ".jsonl", ".ndjson"):
        for given in captures:
            if given.is_dir():
                paths += sorted(p for p in given.rglob(f"*{extra}") if p.is_file())
    if not paths:
        diag("no capture, HAR or log files found")
        raise SystemExit(EXIT_BAD_INPUT)
    try:
        reports, messages, problems = analyse(paths, show_secrets=show_secrets,
                                              keep=with_messages, keylog_files=tuple(keylog),
                                              limits=current_limits())
    except (OSError, ValueError, ImportError) as exc:
        diag(f"chargescope ocpi: cannot read input: {exc}")
        raise SystemExit(EXIT_BAD_INPUT) from exc
    if as_json:
        document: dict[str, Any] = {"sources": [{"source": r["source"], **r["report"].to_json()}
                                                for r in reports],
                                    "problems": [problem_record(p) for p in problems]}
        if with_messages:
            document["messages"] = [message_record(m) for m in messages]
        emit_json(document)
    else:
        for r in reports:
            _print_report(r["source"], r["report"])
        if with_messages:
            click.echo("\nmessages:")
            for m in messages:
                ref = m.refs[0] if m.refs else None
                status = m.fields.get("status_code", m.fields.get("status", ""))
                click.echo(f"  {iso_time(m.ts_ns)[11:23]} {ref.frame if ref else '-':>5} "
                           f"{m.src} -> {m.dst} {m.name} {status or ''}"
                           f"{' !' + ','.join(p.kind for p in m.problems) if m.problems else ''}")
        for p in problems:
            diag(str(p))
    worst = max((f.severity for r in reports for f in r["report"].findings), default=None)
    raise SystemExit(EXIT_FINDINGS if worst == Severity.ERROR else EXIT_OK)
