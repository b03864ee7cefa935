"""CHAdeMO sessions for `analyze`: a source reader for CAN text logs and a link analyzer
summarising each session as a correlator `LinkSession` (link "A", kind "chademo").

A CHAdeMO session has no EVCCID, MAC or EVSEID on CAN: its only join key is the file
name of its recording (`can_source`), which a site map EVSE may list (`can_source =
"..."`); the correlator then joins it with links B/C by site identity and time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from chargescope.analyzer.chademo.canlog import read_text_log
from chargescope.analyzer.chademo.checks import check_session
from chargescope.analyzer.chademo.report import parameters
from chargescope.analyzer.chademo.session import ChademoSession, SessionBuilder
from chargescope.analyzer.correlate.model import LinkEvent, LinkSession
from chargescope.analyzer.links import LinkResult
from chargescope.analyzer.records import Message, Problem
from chargescope.dissectors.chademo import decode_can

# stop event -> LinkSession.stop_reason vocabulary
_STOP_REASON = {"ev.disable": "ev", "ev.stop_request": "ev", "ev.fault": "fault",
                "evse.fault": "fault", "evse.incompatible": "fault",
                "evse.stop_control": "evse", "evse.charging_off": "evse", "timeout": "other"}
# phase entered -> milestone (see correlate/milestones.py)
_MILESTONE = {"charging": "chademo.charging", "stopping": "chademo.stop"}


def read_can_log(path: Path) -> Iterator[Message | Problem]:
    """The CHAdeMO Messages of a CAN text log in time order, then its problems."""
    rec = read_text_log(path)
    messages = [m for m in map(decode_can, rec.frames) if m is not None]
    messages.sort(key=lambda m: m.ts_ns)
    yield from messages
    yield from rec.problems


def link_session(s: ChademoSession) -> LinkSession:
    events = [LinkEvent(s.start_ns, "chademo.start", {"protocol": s.protocol["agreed"]},
                        s.messages[0])]
    for change in s.phases:
        name = _MILESTONE.get(change.phase)
        if name:
            events.append(LinkEvent(change.ts_ns, name, {"event": change.event},
                                    change.message))
    failed = s.verdict == "failed"
    if failed:
        worst = next(f for f in s.findings if f.severity == s.worst)
        events.append(LinkEvent(worst.ts_ns or s.end_ns, "chademo.failed",
                                {"code": worst.code}, worst.evidence[0] if worst.evidence
                                else None))
    outcome = "failed" if failed else "success" if s.verdict == "ok" else "incomplete"
    params = parameters(s)
    return LinkSession(
        link="A", kind="chademo", ident=f"{s.index}", source=s.source, start_ns=s.start_ns,
        end_ns=s.end_ns, keys={"can_source": Path(s.source).name}, outcome=outcome, stage=s.phase, energy_wh=params["energy_wh"],
        stop_reason=_STOP_REASON.get(s.stop_event, ""),
        protocol=f"CHAdeMO {params['protocol']['version']} (protocol number "
                 f"{params['protocol']['agreed']})",
        events=tuple(sorted(events, key=lambda e: e.ts_ns)), findings=tuple(s.findings),
        messages=tuple(s.messages))


class ChademoLinkAnalyzer:
    """Fed every Message of one source; keeps the CHAdeMO ones."""

    def __init__(self, source: str) -> None:
        self._builder = SessionBuilder(source)

    def feed(self, message: Message) -> None:
        if message.protocol == "chademo":
            self._builder.feed(message)

    def finish(self) -> LinkResult:
        sessions = self._builder.finish()
        for s in sessions:
            check_session(s)
        return LinkResult([link_session(s) for s in sessions], [])
