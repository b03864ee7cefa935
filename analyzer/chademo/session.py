"""CHAdeMO sessions from decoded frames: one transition table, one builder.

A session runs from the first vehicle frame to the end of the charger's stop (vehicle
contactors reported open again, or the connector unlocked). Its phases follow the
flag edges visible on CAN (IEEE 2030.1.1 numbering, see the dissector's layouts):

    parameters --ev.enable (H'102.5.0 0->1)--> permitted
    permitted --evse.lock (H'109.5.2 0->1)--> insulation_test
    insulation_test --ev.contactor_closed (H'102.5.3 1->0)--> contactors_closed
    contactors_closed/insulation_test --evse.charging (H'109.5.0 0->1)--> charging
    any live phase --a stop event--> stopping --ev.contactor_open / evse.unlock--> ended

Stop events (first one decides the stop cause): ev.disable, ev.stop_request, ev.fault,
evse.fault, evse.incompatible, evse.stop_control, evse.charging_off. A recording with
a silence longer than `SESSION_GAP_NS`, or a new ev.enable after `ended`, starts a
new session.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chargescope.analyzer.records import Finding, Message, Severity
from chargescope.dissectors.chademo.versions import apply_version, defined, version_name

SESSION_GAP_NS = 5_000_000_000

PHASES = ("parameters", "permitted", "insulation_test", "contactors_closed", "charging",
          "stopping", "ended")
STOP_EVENTS: dict[str, str] = {
    "ev.disable": "vehicle request (charging enabled cleared, H'102.5.0)",
    "ev.stop_request": "vehicle normal stop request (H'102.5.4)",
    "ev.fault": "vehicle fault flags (H'102.4 / H'102.5.2)",
    "evse.fault": "charger fault flags (H'109.5.1 / H'109.5.4)",
    "evse.incompatible": "battery incompatibility (H'109.5.3)",
    "evse.stop_control": "charger stop control (H'109.5.5)",
    "evse.charging_off": "charger stopped energizing (H'109.5.0 cleared)",
    "timeout": "communication timeout of a periodic frame",
}
# within one frame, a fault explains the stop better than the flags cleared with it
_PRIORITY = {"ev.fault": 0, "evse.fault": 0, "evse.incompatible": 1}
_LIVE = ("parameters", "permitted", "insulation_test", "contactors_closed", "charging")

# (phase, event) -> next phase; "*" matches every live phase
TRANSITIONS: dict[tuple[str, str], str] = {
    ("parameters", "ev.enable"): "permitted",
    ("parameters", "evse.lock"): "insulation_test",
    ("permitted", "evse.lock"): "insulation_test",
    ("insulation_test", "ev.contactor_closed"): "contactors_closed",
    ("permitted", "ev.contactor_closed"): "contactors_closed",
    ("insulation_test", "evse.charging"): "charging",
    ("contactors_closed", "evse.charging"): "charging",
    ("permitted", "evse.charging"): "charging",
    ("parameters", "evse.charging"): "charging",
    **{("*", event): "stopping" for event in STOP_EVENTS if event != "timeout"},
    ("stopping", "ev.contactor_open"): "ended",
    ("stopping", "evse.unlock"): "ended",
}


def next_phase(phase: str, event: str) -> str | None:
    """The phase after `event` in `phase`, or None when the table has no such edge."""
    found = TRANSITIONS.get((phase, event))
    if found is None and phase in _LIVE:
        found = TRANSITIONS.get(("*", event))
    return found


@dataclass(frozen=True, slots=True)
class PhaseChange:
    ts_ns: int
    event: str
    phase: str  # the phase entered
    message: Message


@dataclass(slots=True)
class ChademoSession:
    index: int
    source: str
    messages: list[Message] = field(default_factory=list)
    phases: list[PhaseChange] = field(default_factory=list)
    events: list[tuple[int, str, Message]] = field(default_factory=list)  # every flag edge
    findings: list[Finding] = field(default_factory=list)
    stop_event: str = ""
    version_applied: bool = False  # messages re-read for the agreed protocol (once)

    @property
    def start_ns(self) -> int:
        return self.messages[0].ts_ns

    @property
    def end_ns(self) -> int:
        return self.messages[-1].ts_ns

    @property
    def phase(self) -> str:
        return self.phases[-1].phase if self.phases else "parameters"

    @property
    def reached(self) -> set[str]:
        return {"parameters"} | {p.phase for p in self.phases}

    @property
    def stop_cause(self) -> str:
        if self.stop_event:
            return STOP_EVENTS.get(self.stop_event, self.stop_event)
        return "recording ended before a stop"

    def first(self, can_id: int) -> Message | None:
        return next((m for m in self.messages if m.fields.get("can_id") == can_id), None)

    def last(self, can_id: int) -> Message | None:
        return next((m for m in reversed(self.messages) if m.fields.get("can_id") == can_id),
                    None)

    def last_before(self, can_id: int, ts_ns: int) -> Message | None:
        """The last frame of `can_id` strictly before `ts_ns`."""
        found = None
        for m in self.messages:
            if m.ts_ns >= ts_ns:
                break
            if m.fields.get("can_id") == can_id:
                found = m
        return found

    def phases_by(self, phase: str) -> Message | None:
        """The message that moved the session into `phase` (None if never)."""
        return next((p.message for p in self.phases if p.phase == phase), None)

    @property
    def protocol(self) -> dict[str, Any]:
        """Control protocol numbers of both sides and the agreed (lower) one."""
        ev, evse = self.first(0x102), self.first(0x109)
        numbers = {"vehicle": ev.fields.get("protocol_number") if ev else None,
                   "charger": evse.fields.get("protocol_number") if evse else None}
        known = [n for n in numbers.values() if n is not None]
        numbers["agreed"] = min(known) if len(known) == 2 else None
        numbers["version"] = version_name(numbers["agreed"])
        return numbers

    def apply_version(self) -> None:
        """Re-read every message for the agreed protocol (see dissectors/chademo/versions.py);
        phases and events then point at the re-read messages."""
        agreed = self.protocol["agreed"]
        if agreed is None or self.version_applied:
            return
        self.version_applied = True
        mapped = {id(m): apply_version(m, agreed) for m in self.messages}
        self.messages = [mapped[id(m)] for m in self.messages]
        self.phases = [PhaseChange(p.ts_ns, p.event, p.phase, mapped.get(id(p.message), p.message))
                       for p in self.phases]
        self.events = [(ts, event, mapped.get(id(m), m)) for ts, event, m in self.events]

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    @property
    def verdict(self) -> str:
        if self.worst == Severity.ERROR:
            return "failed"
        if "charging" in self.reached and self.phase == "ended":
            return "ok"
        if "charging" in self.reached:
            return "charged, stop not seen"
        return "no charge"


def _flag(message: Message, group: str, name: str) -> bool | None:
    flags = message.fields.get(group)
    return flags.get(name) if isinstance(flags, dict) else None


# (can id, flags group, flag, event on 0->1, event on 1->0)
_EDGES: tuple[tuple[int, str, str, str, str], ...] = (
    (0x102, "status", "charging_enabled", "ev.enable", "ev.disable"),
    (0x102, "status", "contactor_open", "ev.contactor_open", "ev.contactor_closed"),
    (0x102, "status", "normal_stop_request", "ev.stop_request", ""),
    (0x102, "status", "charging_system_fault", "ev.fault", ""),
    (0x109, "status", "connector_locked", "evse.lock", "evse.unlock"),
    (0x109, "status", "charging", "evse.charging", "evse.charging_off"),
    (0x109, "status", "stop_control", "evse.stop_control", ""),
    (0x109, "status", "station_malfunction", "evse.fault", ""),
    (0x109, "status", "charging_system_malfunction", "evse.fault", ""),
    (0x109, "status", "battery_incompatible", "evse.incompatible", ""),
)


class SessionBuilder:
    """Feed CHAdeMO Messages in time order; `finish()` returns the sessions."""

    def __init__(self, source: str = "") -> None:
        self.source = source
        self.sessions: list[ChademoSession] = []
        self._current: ChademoSession | None = None
        self._flags: dict[tuple[int, str], bool] = {}
        self._fault_bits: bool = False
        self._numbers: dict[int, int] = {}  # can id (0x102/0x109) -> protocol number

    @property
    def _agreed(self) -> int | None:
        return min(self._numbers.values()) if len(self._numbers) == 2 else None

    def _open(self) -> ChademoSession:
        session = ChademoSession(len(self.sessions), self.source)
        self.sessions.append(session)
        self._current = session
        self._flags = {}
        self._fault_bits = False
        self._numbers = {}
        return session

    def _edges(self, message: Message) -> list[str]:
        can_id = message.fields.get("can_id")
        if can_id in (0x102, 0x109) and isinstance(message.fields.get("protocol_number"), int):
            self._numbers.setdefault(can_id, message.fields["protocol_number"])
        events = []
        for edge_id, group, name, rising, falling in _EDGES:
            if edge_id != can_id:
                continue
            if not defined(can_id, f"{group}.{name}", self._agreed):
                continue  # a flag the agreed version does not define moves no phase
            value = _flag(message, group, name)
            if value is None:
                continue
            before = self._flags.get((edge_id, name))
            self._flags[(edge_id, name)] = value
            if before is None:
                # a fault present from the first frame is still a fault
                if value and rising in ("ev.fault", "evse.fault", "evse.incompatible"):
                    events.append(rising)
                continue
            if value != before:
                event = rising if value else falling
                if event:
                    events.append(event)
        if can_id == 0x102:
            faults = message.fields.get("faults")
            raised = isinstance(faults, dict) and any(faults.values())
            if raised and not self._fault_bits:
                events.append("ev.fault")
            self._fault_bits = raised
        return sorted(events, key=lambda e: _PRIORITY.get(e, 2))

    def feed(self, message: Message) -> None:
        session = self._current
        if session is not None and message.ts_ns - session.end_ns > SESSION_GAP_NS:
            session = None
        if session is None:
            if message.src != "vehicle":
                return  # a session starts with the vehicle's first frame
            session = self._open()
        events = self._edges(message)
        if session.phase == "ended" and "ev.enable" in events:
            session = self._open()
            events = self._edges(message)
        session.messages.append(message)
        for event in events:
            session.events.append((message.ts_ns, event, message))
            phase = next_phase(session.phase, event)
            if phase is None or phase == session.phase:
                continue
            if phase == "stopping" and not session.stop_event:
                session.stop_event = event
            session.phases.append(PhaseChange(message.ts_ns, event, phase, message))

    def finish(self) -> list[ChademoSession]:
        # flag edges were read off the superset decode as frames came; the fields of each
        # session are now read for the protocol it agreed
        for session in self.sessions:
            session.apply_version()
        return self.sessions


def build_sessions(messages: Iterable[Message], source: str = "") -> list[ChademoSession]:
    builder = SessionBuilder(source)
    for message in messages:
        builder.feed(message)
    return builder.finish()
