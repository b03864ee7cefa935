"""The `analyze` report: one block per charging session, then a summary.

Text for people (a compact cross-link timeline, findings with evidence and the join
keys used) and a JSON document for machines; both are built from the same
`Correlation`, never from protocol objects.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from chargescope.analyzer.correlate import ChargingSession, Correlation, LinkSession
from chargescope.analyzer.correlate.milestones import MILESTONES
from chargescope.analyzer.records import Finding, Severity

SECOND = 1_000_000_000
TIMELINE_LIMIT = 40  # milestones shown per session in text; JSON has all


def utc(ts_ns: int) -> str:
    stamp = dt.datetime.fromtimestamp(ts_ns / SECOND, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts_ns % SECOND // 1_000_000:03d}Z"


def duration(ns: int) -> str:
    seconds = ns / SECOND
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _ref_time(corr: Correlation, part: LinkSession, ts_ns: int) -> int:
    off = corr.offsets.get(part.source)
    return ts_ns + (off.offset_ns if off else 0)


def timeline(corr: Correlation, session: ChargingSession) -> list[tuple[int, str, str, dict]]:
    """(reference time, link, milestone, detail) for every milestone of the session."""
    rows = [(_ref_time(corr, part, event.ts_ns), part.link, event.name, event.detail)
            for part in session.parts for event in part.events]
    return sorted(rows, key=lambda row: row[0])


def _finding_line(finding: Finding) -> str:
    req = f" {finding.requirement}" if finding.requirement else ""
    return f"{str(finding.severity).upper():7} {finding.code}: {finding.text}{req}"


def render_text(corr: Correlation, *, show_timeline: bool = True,
                other_findings: list[Finding] = ()) -> str:
    """The report; `other_findings` are per-link findings outside any session."""
    lines: list[str] = []
    for session in corr.sessions:
        lines.extend(_session_block(corr, session, show_timeline))
        lines.append("")
    if other_findings:
        lines.append("Findings outside any charging session:")
        lines.extend("  " + _finding_line(f) for f in other_findings)
        lines.append("")
    lines.extend(_summary(corr, other_findings))
    return "\n".join(lines)


def _session_block(corr: Correlation, session: ChargingSession, show_timeline: bool) -> list[str]:
    keys = session.keys
    head = (f"Session {session.index}  {session.verdict.upper()}  {session.verdict_reason}")
    lines = [head]
    lines.append(f"  {utc(session.start_ns)}  duration {duration(session.end_ns - session.start_ns)}"
                 f"  links {session.links}  join confidence {session.confidence:.2f}")
    who = []
    for label, key in (("EV", "ev_mac"), ("EVCCID", "evccid"), ("charger", "charge_point_id"),
                       ("connector", "connector"), ("EVSE", "evse_id"), ("contract", "emaid"),
                       ("idToken", "id_token"), ("tx", "transaction_id"),
                       ("OCPI session", "ocpi_session_id")):
        if key in keys:
            who.append(f"{label} {keys[key]}")
    if who:
        lines.append("  " + "  ".join(who))
    for part in session.parts:
        energy = f"  {part.energy_wh / 1000:.3f} kWh" if part.energy_wh is not None else ""
        proto = f" {part.protocol}" if part.protocol else ""
        stage = f" at {part.stage}" if part.stage else ""
        lines.append(f"  link {part.link}: {part.kind}{proto} {part.ident}  {part.outcome}{stage}"
                     f"{energy}  [{part.source}]")
    for edge in session.joins:
        lines.append(f"  joined {edge.a} + {edge.b} by {edge.key} ({edge.confidence:.2f}):"
                     f" {edge.reason}")
    if show_timeline:
        rows = timeline(corr, session)
        if rows:
            lines.append("  timeline:")
            for ts, link, name, detail in rows[:TIMELINE_LIMIT]:
                extra = " ".join(f"{k}={v}" for k, v in detail.items() if k != "message")
                desc = MILESTONES.get(name, ("", name))[1]
                lines.append(f"    {(ts - session.start_ns) / SECOND:+9.3f}s  {link}  {name:26}"
                             f" {extra or desc}")
            if len(rows) > TIMELINE_LIMIT:
                lines.append(f"    ... {len(rows) - TIMELINE_LIMIT} more (see --json)")
    if session.findings:
        lines.append("  findings:")
        lines.extend("    " + _finding_line(f) for f in session.findings)
    return lines


def _summary(corr: Correlation, other_findings: list[Finding]) -> list[str]:
    verdicts = Counter(s.verdict for s in corr.sessions)
    sev = Counter(f.severity for f in [*corr.all_findings, *other_findings])
    lines = [f"{len(corr.sessions)} charging session(s): "
             + ", ".join(f"{verdicts.get(v, 0)} {v}" for v in ("success", "failed", "inconclusive")),
             "findings: " + ", ".join(f"{sev.get(s, 0)} {s}" for s in
                                      (Severity.ERROR, Severity.WARNING, Severity.NOTE))]
    alone = 0
    for off in corr.offsets.values():
        if off.source == off.reference:
            alone += 1
            continue
        lines.append(f"clock: {off.source} {off.offset_ns / SECOND:+.3f} s vs {off.reference}"
                     f" ({off.basis})")
    if alone > 1:
        lines.append(f"clock: {alone} clock groups (sources sharing no moment with another "
                     "are their own reference; state offsets in the site map's [clock])")
    for finding in corr.findings:
        lines.append(_finding_line(finding))
    return lines


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "severity": str(finding.severity),
        "text": finding.text,
        "time": utc(finding.ts_ns) if finding.ts_ns else None,
        "ts_ns": finding.ts_ns,
        "link": finding.link,
        "requirement": finding.requirement or None,
        "evidence": [message_ref_json(m) for m in finding.evidence],
    }


def message_ref_json(message) -> dict[str, Any]:
    return {
        "link": str(message.link),
        "protocol": message.protocol,
        "name": message.name,
        "ts_ns": message.ts_ns,
        "frames": [{"source": r.source, "frame": r.frame, "start": r.start, "length": r.length}
                   for r in message.refs],
    }


def part_json(corr: Correlation, part: LinkSession) -> dict[str, Any]:
    return {
        "link": part.link,
        "kind": part.kind,
        "id": part.ident,
        "source": part.source,
        "protocol": part.protocol or None,
        "start_ns": part.start_ns,
        "end_ns": part.end_ns,
        "outcome": part.outcome,
        "stage": part.stage or None,
        "energy_wh": part.energy_wh,
        "stop_reason": part.stop_reason or None,
        "keys": dict(part.keys),
        "events": [{"ts_ns": e.ts_ns, "name": e.name, "detail": e.detail} for e in part.events],
        "findings": [finding_json(f) for f in part.findings],
    }


def render_json(corr: Correlation, other_findings: list[Finding] = ()) -> dict[str, Any]:
    sessions = []
    for session in corr.sessions:
        sessions.append({
            "index": session.index,
            "verdict": session.verdict,
            "verdict_reason": session.verdict_reason,
            "start": utc(session.start_ns),
            "start_ns": session.start_ns,
            "end_ns": session.end_ns,
            "links": session.links,
            "confidence": session.confidence,
            "keys": session.keys,
            "joins": [{"a": e.a, "b": e.b, "key": e.key, "confidence": e.confidence,
                       "reason": e.reason} for e in session.joins],
            "parts": [part_json(corr, p) for p in session.parts],
            "timeline": [{"ts_ns": ts, "link": link, "milestone": name, "detail": detail}
                         for ts, link, name, detail in timeline(corr, session)],
            "findings": [finding_json(f) for f in session.findings],
        })
    verdicts = Counter(s.verdict for s in corr.sessions)
    return {
        "sessions": sessions,
        "clock_offsets": [{"source": o.source, "reference": o.reference,
                           "offset_ns": o.offset_ns, "basis": o.basis, "samples": o.samples}
                          for o in corr.offsets.values()],
        "findings": [finding_json(f) for f in [*corr.findings, *other_findings]],
        "summary": {"sessions": len(corr.sessions),
                    **{v: verdicts.get(v, 0) for v in ("success", "failed", "inconclusive")},
                    "errors": sum(1 for f in [*corr.all_findings, *other_findings]
                                  if f.severity is Severity.ERROR)},
    }
