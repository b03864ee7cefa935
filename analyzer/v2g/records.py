"""What the V2G analyser hands out: frozen facts about sessions (never analyser objects)."""

from __future__ import annotations

from dataclasses import dataclass

from chargescope.analyzer.records import Finding, Message


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its response (either may be missing)."""

    name: str  # base name, e.g. "CableCheck"
    request: Message | None
    response: Message | None

    @property
    def latency_ns(self) -> int | None:
        if self.request is None or self.response is None:
            return None
        return self.response.ts_ns - self.request.ts_ns


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # "success", "failed" or "incomplete"
    stage: str  # the stage the session reached (or failed in), e.g. "cable check"
    reason: str  # one sentence: why it ended
    code: str = ""  # the finding code that decided it, "" for success
    charged: bool = False  # the charging loop was reached


@dataclass(frozen=True, slots=True)
class V2GSession:
    index: int
    session_id: str  # hex as on the wire ("" before SessionSetupRes)
    protocol: str  # "din", "iso2", "iso20" or "" when unknown
    protocol_title: str
    namespace: str  # agreed in supportedAppProtocol ("" when not captured)
    schema_guessed: bool
    evcc: str  # endpoint of the EV side
    secc: str  # endpoint of the charger side
    evcc_id: str
    evse_id: str
    payment: str  # "ExternalPayment"/"Contract" (DIN/ISO-2), "EIM"/"PnC" (-20)
    energy_transfer: str  # e.g. "DC_extended", "AC_three_phase_core", "DC_BPT"
    control_mode: str  # ISO 15118-20: "Scheduled" or "Dynamic" ("" otherwise)
    connections: tuple[int, ...]
    start_ns: int
    end_ns: int
    messages: tuple[Message, ...]
    exchanges: tuple[Exchange, ...]
    findings: tuple[Finding, ...]
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class LinkAReport:
    sessions: tuple[V2GSession, ...]
    discovery: tuple[Message, ...]  # SDP requests and responses
    findings: tuple[Finding, ...]  # discovery-level findings (SDP)
    announced: tuple[tuple[str, int], ...]  # (SECC IP, TCP port) learned from SDP responses
