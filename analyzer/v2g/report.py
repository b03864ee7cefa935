"""Presenting V2G sessions: the key fields of each message, the ladder, the JSON document.

Front ends (CLI, TUI, reports) use these functions and the frozen records; they never reach
into the analyser.
"""

from __future__ import annotations

from typing import Any

from chargescope.analyzer.records import Finding, Message
from chargescope.analyzer.v2g.records import LinkAReport, V2GSession
from chargescope.analyzer.v2g.tree import body, find, items, physical, session_id

# Fields worth a glance in a ladder line, in display order (element names as in the XSDs).
_SCALARS = ("ResponseCode", "EVSEProcessing", "EVProcessing", "EVCCID", "EVSEID",
            "SelectedPaymentOption", "SelectedAuthorizationService",
            "RequestedEnergyTransferMode", "EVRequestedEnergyTransferType", "ChargeProgress",
            "ReadyToChargeState", "ChargingSession", "EVSEStatusCode", "EVSENotification",
            "EVSEIsolationStatus", "EVErrorCode", "EVRESSSOC", "RCD", "SchemaID")
_VALUES = ("EVTargetVoltage", "EVTargetCurrent", "EVSEPresentVoltage", "EVSEPresentCurrent",
           "EVSEMaxCurrent")
_UNITS = {"Voltage": "V", "Current": "A"}


def key_fields(msg: Message) -> dict[str, Any]:
    """The few fields that tell what a message said (for a ladder line or a table cell)."""
    if msg.protocol == "sdp":
        return {k: msg.fields[k] for k in ("Security", "TransportProtocol", "SECCIPAddress",
                                           "SECCPort") if k in msg.fields}
    if msg.name == "ConnectionClosed":
        return {"reason": msg.fields.get("reason"), "closed_by": msg.fields.get("closed_by")}
    b = body(msg)
    out: dict[str, Any] = {}
    if msg.name == "supportedAppProtocolReq":
        out["offered"] = [f"{p.get('ProtocolNamespace')}#{p.get('SchemaID')}"
                          for p in items(b, "AppProtocol")]
    if msg.name.startswith("SessionSetup"):
        out["SessionID"] = session_id(msg)
    service = b.get("SelectedEnergyTransferService")
    if isinstance(service, dict):
        out["ServiceID"] = service.get("ServiceID")
    mode = next((k for k in b if k.endswith("ControlMode") or k.endswith("EnergyTransferMode")),
                None)
    if mode:
        out["mode"] = mode
    for key in _SCALARS:
        value = b.get(key) if key in b else find(b, key)
        if value is not None and not isinstance(value, (dict, list)):
            out[key] = value
    for key in _VALUES:
        value = physical(b.get(key) if key in b else find(b, key))
        if value is not None:
            unit = next((u for word, u in _UNITS.items() if word in key), "")
            out[key] = f"{value:g} {unit}".strip()
    if msg.problems:
        out["problem"] = msg.problems[0].kind
    return out


def _direction(session: V2GSession, msg: Message) -> str:
    direction = (msg.fields.get("v2gtp") or {}).get("direction")
    if direction in (0, 1):  # the EVCC is the TCP client, whichever connection this is
        return "EV -> EVSE" if direction == 0 else "EV <- EVSE"
    if msg.src == session.evcc:
        return "EV -> EVSE"
    if msg.src == session.secc:
        return "EV <- EVSE"
    return "   --    "


def _fmt(fields: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in fields.items())


def _runs(msgs: tuple[Message, ...]) -> list[list[int]]:
    """Indices of consecutive messages with the same base name (a loop is one run)."""
    runs: list[list[int]] = []
    prev = None
    for i, msg in enumerate(msgs):
        base = msg.name[:-3] if msg.name.endswith(("Req", "Res")) else msg.name
        if base != prev:
            runs.append([])
            prev = base
        runs[-1].append(i)
    return runs


def ladder_lines(session: V2GSession, *, max_loop: int = 3) -> list[str]:
    """One line per message (time since session start, direction, name, key fields), with
    findings under the message they point at. A loop (charge loop, CableCheck Ongoing) shows
    its first `max_loop` request/response pairs, the messages findings point at, and its last
    pair; the rest is folded into one "... n more" line, in place."""
    pinned: dict[int, list[Finding]] = {}
    for f in session.findings:
        if f.evidence:
            pinned.setdefault(id(f.evidence[-1]), []).append(f)
    msgs = session.messages
    lines: list[str] = []
    for run in _runs(msgs):
        keep = set(run[:2 * max_loop]) | set(run[-2:]) | {i for i in run if id(msgs[i]) in pinned}
        hidden = 0
        for i in run:
            if i not in keep:
                hidden += 1
                continue
            if hidden:
                lines.append(f"{'':>10}  ... {hidden} more")
                hidden = 0
            msg = msgs[i]
            t = (msg.ts_ns - session.start_ns) / 1e9
            lines.append(f"{t:10.3f}  {_direction(session, msg)}  {msg.name:<32} "
                         f"{_fmt(key_fields(msg))}".rstrip())
            for f in pinned.get(id(msg), []):
                lines.append(f"{'':>10}  !! {f.severity}: {f.code}: {f.text}")
    return lines


def verdict_line(session: V2GSession) -> str:
    o = session.outcome
    if o.status == "success":
        return f"VERDICT: success ({o.reason})"
    return f"VERDICT: {o.status} at {o.stage}: {o.reason}" + (f" [{o.code}]" if o.code else "")


def session_header(session: V2GSession) -> list[str]:
    proto = session.protocol_title or "unknown protocol"
    if session.schema_guessed:
        proto += " (schema guessed: handshake not captured)"
    return [
        f"V2G session {session.index}  SessionID={session.session_id or '-'}  {proto}",
        f"  EVCC {session.evcc or '-'}  SECC {session.secc or '-'}  TCP streams "
        f"{', '.join(map(str, session.connections))}",
        f"  EVCCID={session.evcc_id or '-'}  EVSEID={session.evse_id or '-'}  "
        f"payment={session.payment or '-'}  energy={session.energy_transfer or '-'}"
        + (f"  control={session.control_mode}" if session.control_mode else ""),
    ]


def finding_document(f: Finding) -> dict[str, Any]:
    return {"code": f.code, "severity": str(f.severity), "text": f.text, "ts_ns": f.ts_ns,
            "requirement": f.requirement,
            "evidence": [{"name": m.name, "ts_ns": m.ts_ns,
                          "refs": [[r.source, r.frame, r.start, r.length] for r in m.refs]}
                         for m in f.evidence],
            **({"extra": f.extra} if f.extra else {})}


def message_document(msg: Message, *, full: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {"ts_ns": msg.ts_ns, "protocol": msg.protocol, "name": msg.name,
                           "src": msg.src, "dst": msg.dst, "key_fields": key_fields(msg),
                           "refs": [[r.source, r.frame, r.start, r.length] for r in msg.refs]}
    if full:
        doc["fields"] = msg.fields
    if msg.problems:
        doc["problems"] = [{"kind": p.kind, "detail": p.detail, "offset": p.offset}
                           for p in msg.problems]
    return doc


def session_document(s: V2GSession, *, full: bool = False) -> dict[str, Any]:
    return {
        "index": s.index, "session_id": s.session_id, "protocol": s.protocol,
        "protocol_title": s.protocol_title, "namespace": s.namespace,
        "schema_guessed": s.schema_guessed, "evcc": s.evcc, "secc": s.secc,
        "evcc_id": s.evcc_id, "evse_id": s.evse_id, "payment": s.payment,
        "energy_transfer": s.energy_transfer, "control_mode": s.control_mode,
        "tcp_streams": list(s.connections),
        "start_ns": s.start_ns, "end_ns": s.end_ns,
        "outcome": {"status": s.outcome.status, "stage": s.outcome.stage,
                    "reason": s.outcome.reason, "code": s.outcome.code,
                    "charged": s.outcome.charged},
        "findings": [finding_document(f) for f in s.findings],
        "messages": [message_document(m, full=full) for m in s.messages],
    }


def report_document(report: LinkAReport, *, full: bool = False) -> dict[str, Any]:
    return {
        "discovery": [message_document(m, full=full) for m in report.discovery],
        "announced": [{"ip": ip, "port": port} for ip, port in report.announced],
        "findings": [finding_document(f) for f in report.findings],
        "sessions": [session_document(s, full=full) for s in report.sessions],
    }
