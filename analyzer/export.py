"""Exports: the analysis as documented tables (pandas DataFrames, Parquet/CSV/JSON files).

Tables and their columns:

* ``sessions``: one row per joined charging session — index, verdict, verdict_reason,
  start_ns, end_ns, links, confidence, join_keys (``key=value;...``), n_findings,
  worst_severity, and the main identities (evccid, evse_id, emaid, id_token,
  charge_point_id, transaction_id, ocpi_session_id).
* ``link_sessions``: one row per per-link session — session (index of the charging
  session it joined, 0 when none), link, kind, id, source, protocol, start_ns, end_ns,
  outcome, stage, energy_wh, stop_reason, keys (JSON).
* ``findings``: one row per finding — session (0 when none), code, severity, link, ts_ns, text,
  requirement, evidence (JSON list of frame references).
* ``messages``: one row per decoded message (when kept) — source, link, protocol, name,
  ts_ns, src, dst, frames (JSON), problems, fields (JSON).
* ``problems``: one row per decode/read problem — kind, detail, source, frame, offset, where.
* ``frames``: one row per captured frame of every capture source — source, number,
  ts_ns, src, dst, protocol, length, caplen, interface, info (as `chargescope frames`).

Loading one in pandas is one line: ``pandas.read_parquet("out/sessions.parquet")``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chargescope.analyzer.analysis import Analysis
from chargescope.analyzer.report import message_ref_json

FORMATS = ("parquet", "csv", "json")


def rows(analysis: Analysis, *, frames: bool = True, messages: bool = True
         ) -> dict[str, list[dict[str, Any]]]:
    """The tables as lists of plain dicts (no pandas needed).

    The frames table re-reads every capture and the messages table serialises every
    decoded tree; `frames=False` / `messages=False` leave them empty.
    """
    corr = analysis.correlation
    sessions, parts, findings = [], [], []
    owner: dict[int, int] = {}
    for session in corr.sessions:
        keys = session.keys
        sessions.append({
            "index": session.index, "verdict": session.verdict,
            "verdict_reason": session.verdict_reason, "start_ns": session.start_ns,
            "end_ns": session.end_ns, "links": session.links, "confidence": session.confidence,
            "join_keys": ";".join(sorted({e.key for e in session.joins})),
            "n_findings": len(session.findings),
            "worst_severity": str(session.worst) if session.worst else "",
            **{k: keys.get(k, "") for k in ("evccid", "evse_id", "emaid", "id_token",
                                             "charge_point_id", "transaction_id",
                                             "ocpi_session_id")},
        })
        for part in session.parts:
            owner[id(part)] = session.index
        for finding in session.findings:
            findings.append(_finding_row(session.index, finding))
    # session 0: findings of no session, the correlator's and the per-link ones (cap
    # hits among them: a batch under a lowered --limit must keep its limit.* findings)
    for finding in [*corr.findings, *analysis.link_findings]:
        findings.append(_finding_row(0, finding))
    for session in corr.sessions:
        for part in session.parts:
            parts.append({
                "session": owner.get(id(part), 0), "link": part.link, "kind": part.kind,
                "id": part.ident, "source": part.source, "protocol": part.protocol,
                "start_ns": part.start_ns, "end_ns": part.end_ns, "outcome": part.outcome,
                "stage": part.stage, "energy_wh": part.energy_wh,
                "stop_reason": part.stop_reason, "keys": json.dumps(dict(part.keys)),
            })
    messages = [{
        "source": m.refs[0].source if m.refs else "", "link": str(m.link),
        "protocol": m.protocol, "name": m.name, "ts_ns": m.ts_ns, "src": m.src, "dst": m.dst,
        "frames": json.dumps(message_ref_json(m)["frames"]),
        "problems": "; ".join(str(p) for p in m.problems),
        "fields": json.dumps(m.fields, default=str),
    } for m in (analysis.messages if messages else ())]
    problems = [{"kind": p.kind, "detail": p.detail, "source": p.source, "frame": p.frame,
                 "offset": p.offset, "where": p.where} for p in analysis.problems]
    return {"sessions": sessions, "link_sessions": parts, "findings": findings,
            "messages": messages, "problems": problems,
            "frames": frame_rows(s.path for s in analysis.sources if s.reader == "capture")
            if frames else []}


def frame_rows(paths) -> list[dict[str, Any]]:
    """The frames table: every capture re-read, one summary row per frame."""
    from chargescope import backends
    from chargescope.analyzer.capture import open_capture
    from chargescope.cli.frames import frame_record

    decode = backends.load("netdecode").decode
    out = []
    for path in paths:
        with open_capture(path) as capture:
            for frame in capture.frames():
                row = frame_record(frame, 0, True, decode)
                out.append({"source": row.pop("file"), **row})
    return out


def _finding_row(session: int, finding) -> dict[str, Any]:
    return {
        "session": session, "code": finding.code, "severity": str(finding.severity),
        "link": finding.link, "ts_ns": finding.ts_ns, "text": finding.text,
        "requirement": finding.requirement,
        "evidence": json.dumps([message_ref_json(m) for m in finding.evidence]),
    }


def dataframes(analysis: Analysis):
    """The tables as pandas DataFrames (pandas imported only here)."""
    import pandas as pd

    return {name: pd.DataFrame.from_records(table) if table else pd.DataFrame()
            for name, table in rows(analysis).items()}


def write(analysis: Analysis, out_dir: str | Path, fmt: str = "parquet") -> list[Path]:
    """Write every table to `out_dir` as `<table>.<fmt>`; returns the paths written."""
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in dataframes(analysis).items():
        path = out / f"{name}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        elif fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_json(path, orient="records", lines=True)
        written.append(path)
    return written
