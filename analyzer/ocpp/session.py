"""Link-B session builder: Messages in, per-charger state, transactions and findings out.

    from chargescope.analyzer.ocpp import OcppAnalyzer
    analyzer = OcppAnalyzer(call_timeout_ns=30 * 10**9)
    for msg in messages:            # link-B Messages ("websocket" / "ocpp"), capture order
        analyzer.feed(msg)
    report = analyzer.finish()      # OcppReport

Composes the pairing tables (`pairing`), the charger and transaction trackers and the
single-message checks; every finding carries the Messages that show it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from chargescope.analyzer.correlate.model import LinkEvent
from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.ocpp.charger import ChargerTracker, ConnectionInfo, StatusChange
from chargescope.analyzer.ocpp.checks import CHECKS, close_check, subprotocol_check
from chargescope.analyzer.ocpp.findings import registry as ocpp_registry
from chargescope.analyzer.ocpp.meter import energy_wh
from chargescope.analyzer.ocpp.milestones import MilestoneCollector
from chargescope.analyzer.ocpp.pairing import (
    DEFAULT_TIMEOUT_NS,
    PairingFinding,
    PairingTracker,
)
from chargescope.analyzer.ocpp.transactions import Transaction, TransactionTracker
from chargescope.analyzer.records import Finding, Link, Message, Severity
from chargescope.analyzer.shapes import obj

IDLE_DROP_NS = 20 * 10**9  # a silence this long before a TCP close without Close frames


@dataclass(frozen=True, slots=True)
class ChargerReport:
    charge_point_id: str
    boot: dict[str, Any]
    boot_statuses: tuple[tuple[int, str], ...]
    heartbeat_interval: int | None
    ocpp_versions: tuple[str, ...]
    connections: tuple[ConnectionInfo, ...]
    status_timeline: tuple[StatusChange, ...]
    transactions: tuple[Transaction, ...]
    iso15118: tuple[dict[str, Any], ...]
    findings: tuple[Finding, ...]
    messages: int
    milestones: tuple[LinkEvent, ...] = ()  # for the correlator (milestones.link_sessions)


@dataclass(frozen=True, slots=True)
class OcppReport:
    chargers: tuple[ChargerReport, ...]
    findings: tuple[Finding, ...]
    messages: int

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)


def connection_key(msg: Message) -> Hashable:
    """(capture file, connection index): indexes are unique within one capture only."""
    return (msg.fields.get("capture", ""), msg.fields.get("connection"))


class OcppAnalyzer:
    def __init__(self, call_timeout_ns: int = DEFAULT_TIMEOUT_NS,
                 registry: FindingRegistry | None = None) -> None:
        self.registry = registry or ocpp_registry()
        self.pairing = PairingTracker(call_timeout_ns)
        self._chargers: dict[str, ChargerTracker] = {}
        self._txs: dict[str, TransactionTracker] = {}
        self._findings: list[Finding] = []
        self._by_charger: dict[str, list[Finding]] = {}
        self._conn_cp: dict[Hashable, str] = {}
        self._requests: dict[Hashable, Message] = {}
        self._counts: dict[str, int] = {}
        self._milestones: dict[str, MilestoneCollector] = {}
        self._fault_reported: set[tuple] = set()
        self._last_frame: dict[Hashable, Message] = {}  # per open connection
        self._close_seen: dict[Hashable, bool] = {}
        self._messages = 0
        self._last_ts = 0
        self._end_by_source: dict[Hashable, int] = {}  # last timestamp per capture source
        self._cp_sources: dict[str, set[Hashable]] = {}  # charger -> sources it appears in

    # ---------------------------------------------------------------- feeding

    def _charger_id(self, msg: Message, conn: Hashable) -> str:
        cp = self._conn_cp.get(conn)
        if cp:
            return cp
        cp = msg.fields.get("charge_point_id") or ""
        if not cp:  # handshake not captured: name the charger by its address
            cp = msg.src if msg.fields.get("direction") == 0 else msg.dst
        self._conn_cp[conn] = cp
        return cp

    def _emit(self, cp: str, code: str, text: str, evidence: Iterable[Message], ts_ns: int,
              **extra: Any) -> None:
        finding = self.registry.make(code, text, ts_ns=ts_ns, evidence=evidence, link=Link.B.value,
                                     charge_point_id=cp, **extra)
        self._findings.append(finding)
        self._by_charger.setdefault(cp, []).append(finding)

    def feed(self, msg: Message) -> None:
        if msg.link is not Link.B or msg.protocol not in ("websocket", "ocpp"):
            return
        self._messages += 1
        self._last_ts = max(self._last_ts, msg.ts_ns)
        conn = connection_key(msg)
        group = conn[0]
        if msg.ts_ns > self._end_by_source.get(group, 0):
            self._end_by_source[group] = msg.ts_ns
        cp = self._charger_id(msg, conn)
        self._cp_sources.setdefault(cp, set()).add(group)
        self._counts[cp] = self._counts.get(cp, 0) + 1
        charger = self._chargers.get(cp)
        if charger is None:
            charger = self._chargers[cp] = ChargerTracker(cp)
            self._txs[cp] = TransactionTracker()
            self._milestones[cp] = MilestoneCollector()
        for check in CHECKS[msg.protocol]:
            for code, text in check(msg):
                self._emit(cp, code, text, (msg,), msg.ts_ns)
        if msg.name == "Close":
            if not self._close_seen.get(conn):
                for code, text in close_check(msg):
                    self._emit(cp, code, text, (msg,), msg.ts_ns)
            self._close_seen[conn] = True
        if msg.name != "Connection closed":
            self._last_frame[conn] = msg
        if msg.protocol == "websocket":
            self._websocket(msg, conn, cp, charger)
            return
        self._pairing_findings(self.pairing.feed(msg, conn), cp)
        for code, text, evidence in charger.on_ocpp(msg, conn):
            self._emit(cp, code, text, evidence, msg.ts_ns)
        for code, text, evidence in self._txs[cp].feed(msg):
            self._emit(cp, code, text, evidence, msg.ts_ns)
        self._milestones[cp].feed(msg)
        self._energy_while_faulted(msg, cp, charger)

    def _pairing_findings(self, found: Iterable[PairingFinding], cp: str) -> None:
        for pf in found:
            if pf.code == "ocpp.call.not_captured" and pf.evidence:
                self._txs[self._conn_cp.get(pf.conn, cp)].start_answer_not_captured(pf.evidence[0])
            self._emit(self._conn_cp.get(pf.conn, cp), pf.code,
                       f"{pf.action or '?'} [{pf.unique_id}]: {self.registry[pf.code].summary}",
                       pf.evidence, pf.ts_ns, unique_id=pf.unique_id)

    def _energy_while_faulted(self, msg: Message, cp: str, charger: ChargerTracker) -> None:
        """FIELD_NOTES pattern 11: still charging after reporting Faulted."""
        f = msg.fields
        if f.get("message_type") != "CALL" or f.get("action") not in ("MeterValues", "TransactionEvent"):
            return
        if not energy_wh(obj(f.get("payload")).get("meterValue")):
            return
        evse, connector, tx_id = self._txs[cp].place_of(msg)
        if connector is None:
            return
        status = charger.current_status(evse, connector)
        if status is None or status.status != "Faulted":
            return
        key = (cp, evse, connector, status.ts_ns)
        if key in self._fault_reported:
            return
        self._fault_reported.add(key)
        readings = self._txs[cp].readings(tx_id)
        if len(readings) >= 2 and readings[-1] > readings[-2]:
            self._emit(cp, "ocpp.status.energy_while_faulted",
                       f"connector {connector} Faulted yet transaction {tx_id} energy rose to "
                       f"{readings[-1]:g} Wh", (msg,), msg.ts_ns)
        else:
            self._fault_reported.discard(key)

    def _websocket(self, msg: Message, conn: Hashable, cp: str, charger: ChargerTracker) -> None:
        if msg.name == "Handshake Request":
            self._requests[conn] = msg
        elif msg.name == "Handshake Response":
            for code, text in subprotocol_check(self._requests.pop(conn, None), msg):
                self._emit(cp, code, text, (msg,), msg.ts_ns)
        elif msg.fields.get("event") == "gap":  # capture loss: pairing must not guess
            self._txs[cp].capture_gap(msg.fields.get("direction", 0), msg.ts_ns)
            self._pairing_findings(self.pairing.gap(conn, msg.fields.get("direction", 0),
                                                    msg.ts_ns), cp)
        elif msg.name == "Connection closed":
            self._idle_drop(msg, conn, cp)
            for pf in self.pairing.close(conn, msg.ts_ns):
                if pf.code == "ocpp.call.not_captured" and pf.evidence:
                    self._txs[cp].start_answer_not_captured(pf.evidence[0])
                why = ("connection closed before the answer" if pf.code == "ocpp.call.unanswered"
                       else self.registry[pf.code].summary)
                self._emit(cp, pf.code, f"{pf.action or '?'} [{pf.unique_id}]: {why}",
                           pf.evidence, pf.ts_ns, unique_id=pf.unique_id)
        for code, text, evidence in charger.on_websocket(msg, conn):
            self._emit(cp, code, text, evidence, msg.ts_ns)

    def _idle_drop(self, msg: Message, conn: Hashable, cp: str) -> None:
        """FIELD_NOTES pattern 4: TCP closed after a silence, no Close frame exchanged."""
        last = self._last_frame.pop(conn, None)
        closed_cleanly = self._close_seen.pop(conn, False)
        if last is None or closed_cleanly:
            return
        idle = msg.ts_ns - last.ts_ns
        if idle >= IDLE_DROP_NS:
            self._emit(cp, "ocpp.connection.idle_drop",
                       f"{cp}: TCP closed ({msg.fields.get('reason')}) {idle / 1e9:.1f} s after "
                       "the last frame, without a WebSocket Close", (last, msg), msg.ts_ns)

    # ---------------------------------------------------------------- results

    def finish(self) -> OcppReport:
        for pf in self.pairing.finish(self._end_by_source):
            cp = self._conn_cp.get(pf.conn, "")
            # at_end: a live snapshot's "end" is only now; the answer may still come
            self._emit(cp, pf.code, f"{pf.action or '?'} [{pf.unique_id}]: "
                       f"{self.registry[pf.code].summary}", pf.evidence, pf.ts_ns,
                       unique_id=pf.unique_id, **({"at_end": True} if pf.at_end else {}))
        for cp, tracker in self._txs.items():
            for code, text, evidence in tracker.finish():
                self._emit(cp, code, text, evidence, evidence[0].ts_ns if evidence else 0)
        for cp, charger in self._chargers.items():
            end = max((self._end_by_source.get(g, 0) for g in self._cp_sources.get(cp, ())),
                      default=self._last_ts)
            for code, text, evidence in charger.stuck(end):
                self._emit(cp, code, text, evidence, end)
        chargers = []
        for cp, ch in self._chargers.items():
            findings = sorted(self._by_charger.get(cp, []), key=lambda f: f.ts_ns)
            chargers.append(ChargerReport(
                cp, dict(ch.boot), tuple(ch.boot_statuses), ch.heartbeat_interval,
                tuple(ch.ocpp_versions), tuple(ch.connection_infos()), tuple(ch.statuses),
                tuple(self._txs[cp].transactions()), tuple(ch.iso15118), tuple(findings),
                self._counts.get(cp, 0), tuple(self._milestones[cp].events)))
        findings = tuple(sorted(self._findings, key=lambda f: f.ts_ns))
        return OcppReport(tuple(chargers), findings, self._messages)


def analyze(messages: Iterable[Message], **options: Any) -> OcppReport:
    analyzer = OcppAnalyzer(**options)
    for msg in messages:
        analyzer.feed(msg)
    return analyzer.finish()
