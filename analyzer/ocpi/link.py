"""Link C for the correlator: OCPI sessions, commands, authorizations and tokens as LinkSessions.

Milestone names come from `analyzer.correlate.milestones` (ocpi.*), join keys from
`analyzer.correlate.keys`. Findings that name a session or command travel with it;
the rest are returned loose.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from chargescope.analyzer.correlate.model import LinkEvent, LinkSession
from chargescope.analyzer.links import LinkResult, loose
from chargescope.analyzer.ocpi.state import CommandState, OcpiAnalysis, OcpiReport
from chargescope.analyzer.records import Finding, Message


class OcpiLinkAnalyzer:
    """`LinkAnalyzer` for link C: feed every Message of one source, then `finish()`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.analysis = OcpiAnalysis()

    def feed(self, message: Message) -> None:
        if str(message.link) == "C" and message.protocol in ("ocpi", "http"):
            self.analysis.add(message)

    def finish(self) -> LinkResult:
        report = self.analysis.finish()
        sessions = link_sessions(self.analysis, report, self.source)
        return LinkResult(sessions, loose(report.findings, sessions))


def _protocol(version: str) -> str:
    return f"OCPI {version}" if version else "OCPI"


def _event(ts: int, name: str, detail: dict[str, Any], message: Message) -> LinkEvent:
    return LinkEvent(ts, name, detail, message)


class _Citations:
    """The findings whose evidence holds a message (`message in finding.evidence`), in
    finding order, without testing every finding for every message (quadratic over a
    long capture: thousands of authorizations times thousands of findings). Findings
    are bucketed by what equal messages share (time, name, ends); the bucket is then
    checked with `in`, as before."""

    def __init__(self, findings: tuple[Finding, ...]) -> None:
        self.findings = findings
        self._by_key: dict[tuple, list[int]] = defaultdict(list)
        self._always: list[int] = []  # evidence that is no Message: checked every time
        for n, finding in enumerate(findings):
            keys = set()
            for item in finding.evidence:
                key = _key(item)
                if key is None:
                    keys = None
                    break
                keys.add(key)
            if keys is None:
                self._always.append(n)
                continue
            for key in keys:
                self._by_key[key].append(n)

    def citing(self, messages: Iterable[Message]) -> tuple[Finding, ...]:
        """The findings citing any of `messages`, in finding order."""
        messages = tuple(messages)
        candidates = set(self._always)
        for message in messages:
            candidates.update(self._by_key.get(_key(message), ()))
        return tuple(self.findings[n] for n in sorted(candidates)
                     if any(m in self.findings[n].evidence for m in messages))


def _key(item: Any) -> tuple | None:
    try:
        return (item.ts_ns, item.name, item.src, item.dst)
    except AttributeError:
        return None


def link_sessions(analysis: OcpiAnalysis, report: OcpiReport, source: str) -> list[LinkSession]:
    out: list[LinkSession] = []
    citations = _Citations(report.findings)
    for key, s in report.sessions.items():
        events = tuple(_event(*e) for e in sorted(s.events, key=lambda e: e[0]))
        if not events and s.last is None:
            continue
        start = events[0].ts_ns if events else s.last.ts_ns  # type: ignore[union-attr]
        end = max((e.ts_ns for e in events), default=start)
        if s.status == "INVALID":
            outcome = "failed"
        elif s.status == "COMPLETED" and s.cdrs:
            outcome = "success"
        else:
            outcome = "incomplete"
        energy = s.energy_kwh if s.energy_kwh is not None else s.kwh
        findings = tuple(f for f in report.findings if f.extra.get("session") == key
                         or (s.cdrs and f.extra.get("cdr_id") in s.cdrs))
        messages = tuple(e.message for e in events if e.message is not None)
        out.append(LinkSession("C", "ocpi.session", s.keys.get("ocpi_session_id", key), source,
                               start, end, dict(s.keys), outcome, (s.status or "").lower(),
                               None if energy is None else energy * 1000.0, "",
                               _protocol(s.version), events, findings, messages))
    for command in analysis.commands.values():
        out.append(_command_session(command, citations, source))
    for message, uid, info in analysis.authorization_events:
        unknown = message.fields.get("status") == 404 or message.fields.get("status_code") == 2004
        name = "ocpi.token_unknown" if unknown else "ocpi.token_authorized"
        allowed = info.get("allowed")
        keys = {"token_uid": uid} if uid else {}
        token = info.get("token") if isinstance(info.get("token"), dict) else {}
        if token.get("contract_id"):
            keys["emaid"] = str(token["contract_id"])
        if isinstance(info.get("authorization_reference"), str):
            keys["authorization_reference"] = info["authorization_reference"]
        location = info.get("location") if isinstance(info.get("location"), dict) else {}
        if location.get("location_id"):
            keys["location_id"] = str(location["location_id"])
        event = _event(message.ts_ns, name, {"allowed": allowed}, message)
        outcome = "success" if allowed == "ALLOWED" else "failed"
        findings = citations.citing((message,))
        out.append(LinkSession("C", "ocpi.authorization", f"{uid}@{message.ts_ns}", source,
                               message.ts_ns, message.ts_ns, keys, outcome, "authorization",
                               None, "", _protocol(message.fields.get("version", "")), (event,),
                               findings, (message,)))
    for message, token in analysis.tokens_seen:
        uid = str(token.get("uid", ""))
        keys = {"token_uid": uid} if uid else {}
        if token.get("contract_id"):
            keys["emaid"] = str(token["contract_id"])
        event = _event(message.ts_ns, "ocpi.token_known",
                       {"valid": token.get("valid"), "whitelist": token.get("whitelist")}, message)
        out.append(LinkSession("C", "ocpi.token", f"{uid}@{message.ts_ns}", source, message.ts_ns,
                               message.ts_ns, keys, "unknown", "token", None, "",
                               _protocol(message.fields.get("version", "")), (event,), (),
                               (message,)))
    return out


def _command_session(command: CommandState, citations: _Citations,
                     source: str) -> LinkSession:
    request = command.request
    body = request.fields.get("body") if isinstance(request.fields.get("body"), dict) else {}
    keys: dict[str, str] = {}
    token = body.get("token") if isinstance(body.get("token"), dict) else {}
    for name, value in (("token_uid", token.get("uid")), ("emaid", token.get("contract_id")),
                        ("location_id", body.get("location_id")),
                        ("evse_uid", body.get("evse_uid")),
                        ("ocpi_session_id", body.get("session_id")),
                        ("authorization_reference", body.get("authorization_reference"))):
        if isinstance(value, str) and value:
            keys[name] = value
    events = []
    if command.command == "START_SESSION":
        events.append(_event(request.ts_ns, "ocpi.start_session",
                             {"result": command.result or None}, request))
    if command.callback_message is not None:
        events.append(_event(command.callback_ts_ns, "ocpi.command_result",
                             {"result": command.callback, "command": command.command},
                             command.callback_message))
    if command.callback == "ACCEPTED":
        outcome = "success"
    elif (command.result and command.result != "ACCEPTED") or command.callback:
        outcome = "failed"
    else:
        outcome = "incomplete"
    messages = tuple(m for m in (request, command.response, command.callback_message)
                     if m is not None)
    mine = citations.citing(messages)
    end = max(request.ts_ns, command.callback_ts_ns)
    return LinkSession("C", "ocpi.command", f"{command.command}@{command.response_url}", source,
                       request.ts_ns, end, keys, outcome, command.command.lower(), None, "",
                       _protocol(request.fields.get("version", "")), tuple(events), mine,
                       messages)
