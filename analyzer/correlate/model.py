"""Records of the correlator: per-link sessions in, joined charging sessions out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chargescope.analyzer.records import Finding, Message, Severity


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """A milestone of a per-link session (names from `milestones.MILESTONES`)."""

    ts_ns: int
    name: str
    detail: dict[str, Any] = field(default_factory=dict)
    message: Message | None = None


@dataclass(frozen=True, slots=True)
class LinkSession:
    """One link's view of (part of) a charging session, as its builder summarised it.

    `source` names the capture source whose clock `start_ns`/`end_ns` and the event
    times use. `keys` holds join keys by the names in `keys.KEY_NAMES` (raw values;
    the correlator normalises them). `outcome` is "success", "failed", "incomplete" or
    "unknown"; `stage` says how far it got (the last stage reached or the failing one).
    `stop_reason` is one of "ev", "evse", "remote", "local", "fault", "power-loss",
    "other" or "" when unknown.
    """

    link: str  # "A", "B", "C"
    kind: str  # "v2g", "slac", "ocpp.transaction", "ocpp.connection", "ocpi.session", ...
    ident: str  # link-local id: V2G SessionID, OCPP transactionId, OCPI session id, ...
    source: str
    start_ns: int
    end_ns: int
    keys: dict[str, str] = field(default_factory=dict)
    outcome: str = "unknown"
    stage: str = ""
    energy_wh: float | None = None
    stop_reason: str = ""
    protocol: str = ""  # "DIN 70121", "ISO 15118-2", "OCPP 1.6", "OCPI 2.2.1", ...
    events: tuple[LinkEvent, ...] = ()
    findings: tuple[Finding, ...] = ()
    messages: tuple[Message, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.link}:{self.kind}:{self.ident or '?'}"

    def first(self, name: str) -> LinkEvent | None:
        for event in self.events:
            if event.name == name:
                return event
        return None

    def has(self, name: str) -> bool:
        return self.first(name) is not None


@dataclass(frozen=True, slots=True)
class JoinEdge:
    """Why two link sessions belong to one charging session."""

    a: str  # LinkSession.label
    b: str
    key: str  # "emaid=id_token", "evse_id", "site:charge_point_id", "time-overlap", ...
    confidence: float  # 0..1
    reason: str


@dataclass(frozen=True, slots=True)
class ClockOffset:
    """The offset assumed for a capture source: add `offset_ns` to its times to get reference time."""

    source: str
    reference: str
    offset_ns: int
    basis: str  # what it was estimated from, e.g. "3 matched event pairs (median)"
    samples: int = 0


@dataclass(frozen=True, slots=True)
class ChargingSession:
    """The joined story of one charging session across links A, B and C."""

    index: int
    parts: tuple[LinkSession, ...]
    joins: tuple[JoinEdge, ...]
    confidence: float  # the weakest join that holds the session together (1.0 when one part)
    start_ns: int  # reference clock
    end_ns: int
    verdict: str  # "success", "failed", "inconclusive"
    verdict_reason: str
    findings: tuple[Finding, ...]  # per-link and cross-link, in time order

    def link_parts(self, link: str) -> tuple[LinkSession, ...]:
        return tuple(p for p in self.parts if p.link == link)

    @property
    def links(self) -> str:
        return "".join(sorted({p.link for p in self.parts}))

    @property
    def keys(self) -> dict[str, str]:
        """Every join key its parts carry (the first part's value where two differ)."""
        out: dict[str, str] = {}
        for part in self.parts:
            for key, value in part.keys.items():
                if value and key not in out:
                    out[key] = str(value)
        return out

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)
