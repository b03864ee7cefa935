"""Transactions rebuilt from OCPP messages: 1.6 Start/Stop/MeterValues, 2.x TransactionEvent.

Fed OCPP Messages of one charge point in capture order (requests and their paired
responses); yields (code, text, evidence) findings and keeps a bounded set of
transactions. Records handed out are frozen snapshots.

Capture loss: the session builder tells the tracker about gaps in the charge point's
bytes (`capture_gap`) and about StartTransaction CALLs whose answer the pairing judged
not captured (`start_answer_not_captured`). A transaction whose start (or the answer
assigning its id) may sit in lost bytes is then a note, `ocpp.tx.start_not_captured`,
not the warning `ocpp.tx.stop_without_start`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chargescope.analyzer.ocpp.meter import energy_wh
from chargescope.analyzer.records import Message
from chargescope.analyzer.shapes import ident, obj, text

FindingTuple = tuple[str, str, tuple[Message, ...]]
MAX_REMEMBERED = 4096  # capture gaps and unanswered StartTransactions kept per charger


@dataclass(frozen=True, slots=True)
class Transaction:
    transaction_id: str
    ocpp_version: str
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    id_token_type: str | None
    auth_status: str | None
    started_ns: int | None
    ended_ns: int | None
    meter_start_wh: float | None
    meter_stop_wh: float | None
    energy_wh: float | None
    stop_reason: str | None
    trigger_reasons: tuple[str, ...]
    seq_nos: tuple[int, ...]
    events: int
    remote_start: bool
    remote_stop: bool

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(slots=True)
class _Tx:
    transaction_id: str
    ocpp_version: str
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str | None = None
    id_token_type: str | None = None
    auth_status: str | None = None
    started_ns: int | None = None
    ended_ns: int | None = None
    meter_start: float | None = None
    meter_stop: float | None = None
    readings: list[float] = field(default_factory=list)
    stop_reason: str | None = None
    trigger_reasons: list[str] = field(default_factory=list)
    seq_nos: list[int] = field(default_factory=list)
    seq_ts: list[int] = field(default_factory=list)  # capture time of each seq_nos entry
    events: int = 0
    remote_start: bool = False
    remote_stop: bool = False
    ended: bool = False
    start_msg: Message | None = None
    last_reading_msg: Message | None = None
    after_gap: bool = False  # first seen after charge-point bytes were lost from the capture

    def freeze(self) -> Transaction:
        start = self.meter_start if self.meter_start is not None else (
            self.readings[0] if self.readings else None)
        stop = self.meter_stop if self.meter_stop is not None else (
            self.readings[-1] if self.readings and self.ended else None)
        energy = stop - start if start is not None and stop is not None else None
        return Transaction(self.transaction_id, self.ocpp_version, self.evse_id, self.connector_id,
                           self.id_token, self.id_token_type, self.auth_status, self.started_ns,
                           self.ended_ns, start, stop, energy, self.stop_reason,
                           tuple(self.trigger_reasons), tuple(self.seq_nos), self.events,
                           self.remote_start, self.remote_stop)


def _is_invalid_id(value: Any) -> bool:
    return isinstance(value, int) and value <= 0 or value in ("-1", "0")


class TransactionTracker:
    def __init__(self) -> None:
        self._txs: dict[str, _Tx] = {}
        self._order: list[str] = []
        self._start_requests: dict[str, Message] = {}  # 1.6 StartTransaction by unique id
        self._remote_start_pending = False
        self._remote_stop_ids: set[str] = set()
        self._unanswered_starts: list[Message] = []  # StartTransaction CALLs, answer lost
        self._gaps: list[int] = []  # times of capture gaps in the charge point's bytes

    def capture_gap(self, direction: int, ts_ns: int) -> None:
        """Bytes of one direction were lost from the capture (seen at `ts_ns`); only the
        charge point's (direction 0) can hold its transaction events."""
        if direction == 0:
            self._gaps.append(ts_ns)
            del self._gaps[:-MAX_REMEMBERED]

    def start_answer_not_captured(self, call: Message) -> None:
        """The pairing's verdict on a StartTransaction CALL: its answer, which assigns the
        transactionId, may be in bytes the capture lost. The transaction is then learned
        from the first MeterValues/StopTransaction naming an unknown id."""
        if call.fields.get("action") != "StartTransaction" or call.fields.get("message_type") != "CALL":
            return
        self._start_requests.pop(call.fields.get("unique_id"), None)
        self._unanswered_starts.append(call)
        del self._unanswered_starts[:-MAX_REMEMBERED]

    def place_of(self, msg: Message) -> tuple[int | None, int | None, str | None]:
        """(evse, connector, transaction id) a MeterValues/TransactionEvent CALL is about."""
        p = obj(msg.fields.get("payload"))
        if msg.fields.get("action") == "MeterValues":
            tx = p.get("transactionId")
            return None, ident(p.get("connectorId")), None if tx is None else str(tx)
        info = obj(p.get("transactionInfo"))
        tx_id = info.get("transactionId")
        tx = self._txs.get(str(tx_id)) if tx_id is not None else None
        if tx is None:
            return None, None, None
        return tx.evse_id, tx.connector_id, tx.transaction_id

    def readings(self, tx_id: str | None) -> list[float]:
        """Energy register readings (Wh) seen so far for a transaction, in order."""
        tx = self._txs.get(tx_id) if tx_id is not None else None
        return list(tx.readings) if tx is not None else []

    def transactions(self) -> list[Transaction]:
        return [self._txs[t].freeze() for t in self._order]

    def _tx(self, tx_id: str, version: str) -> _Tx:
        tx = self._txs.get(tx_id)
        if tx is None:
            tx = self._txs[tx_id] = _Tx(tx_id, version, after_gap=bool(self._gaps))
            self._order.append(tx_id)
        return tx

    def _no_start(self, tx: _Tx, what: str, msg: Message) -> FindingTuple:
        """A transaction ends that never started in the capture: a note when lost bytes
        before its first message could hold the start, else a warning."""
        if tx.after_gap:
            return ("ocpp.tx.start_not_captured",
                    f"{what} without a start in this capture: its start was not captured "
                    "(charge-point bytes were lost before it was first seen)", (msg,))
        return ("ocpp.tx.stop_without_start", f"{what} never started in this capture", (msg,))

    def _adopt_unanswered_start(self, tx: _Tx, msg: Message,
                                connector: Any) -> list[FindingTuple]:
        """A transactionId first met in `msg` belongs to the oldest StartTransaction (same
        connector) whose answer was not captured."""
        for i, req in enumerate(self._unanswered_starts):
            if connector is None or obj(req.fields.get("payload")).get("connectorId") in (
                    None, connector):
                del self._unanswered_starts[i]
                self._start_from_request(tx, req)
                tx.remote_start = self._remote_start_pending
                self._remote_start_pending = False
                return [("ocpp.tx.start_not_captured",
                         f"transaction {tx.transaction_id}: the StartTransaction answer assigning "
                         f"it was not captured; id learned from {msg.fields.get('action')}, start "
                         f"taken from the request [{req.fields.get('unique_id')}]", (req, msg))]
        return []

    @staticmethod
    def _start_from_request(tx: _Tx, req: Message) -> None:
        rp = obj(req.fields.get("payload"))
        tx.connector_id = ident(rp.get("connectorId"))
        tx.id_token = text(rp.get("idTag"))
        tx.started_ns = req.ts_ns
        tx.start_msg = req
        if isinstance(rp.get("meterStart"), int | float):
            tx.meter_start = float(rp["meterStart"])

    def feed(self, msg: Message) -> list[FindingTuple]:
        f = msg.fields
        action = f.get("action")
        mtype = f.get("message_type")
        payload = f.get("payload")
        if not isinstance(payload, dict) or action is None:
            return []
        version = f.get("ocpp_version") or ""
        handler = _HANDLERS.get((action, mtype))
        if handler is None:
            return []
        return handler(self, msg, payload, version)

    # ---------------------------------------------------------------- 1.6

    def _start_req(self, msg: Message, p: dict, version: str) -> list[FindingTuple]:
        self._start_requests[msg.fields["unique_id"]] = msg
        return []

    def _start_conf(self, msg: Message, p: dict, version: str) -> list[FindingTuple]:
        uid = msg.fields["unique_id"]
        req = self._start_requests.pop(uid, None)
        if req is None:  # a late answer to a start judged not captured: it is answered
            req = next((r for r in self._unanswered_starts
                        if r.fields.get("unique_id") == uid), None)
            if req is not None:
                self._unanswered_starts.remove(req)
        tx_id = p.get("transactionId")
        out: list[FindingTuple] = []
        if tx_id is None:
            return out
        tx = self._tx(str(tx_id), version)
        tx.events += 1
        status = text(obj(p.get("idTagInfo")).get("status"))
        tx.auth_status = status
        if req is not None:
            self._start_from_request(tx, req)
        tx.remote_start = self._remote_start_pending
        self._remote_start_pending = False
        if status not in (None, "Accepted"):
            out.append(("ocpp.auth.rejected",
                        f"StartTransaction for idTag {tx.id_token!r} answered idTagInfo.status={status}",
                        tuple(m for m in (req, msg) if m is not None)))
        if _is_invalid_id(tx_id):
            out.append(("ocpp.tx.invalid_id", f"CSMS assigned transactionId {tx_id}", (msg,)))
        return out

    def _meter_values(self, msg: Message, p: dict, version: str) -> list[FindingTuple]:
        tx_id = p.get("transactionId")
        if tx_id is None:
            return []
        out: list[FindingTuple] = []
        if _is_invalid_id(tx_id):
            out.append(("ocpp.tx.invalid_id", f"MeterValues with transactionId {tx_id}", (msg,)))
        known = str(tx_id) in self._txs
        tx = self._tx(str(tx_id), version)
        if not known:
            out.extend(self._adopt_unanswered_start(tx, msg, p.get("connectorId")))
        if tx.connector_id is None:
            tx.connector_id = p.get("connectorId")
        tx.events += 1
        if tx.ended:
            out.append(("ocpp.tx.after_end", f"MeterValues for transaction {tx_id} after its stop", (msg,)))
        out.extend(self._readings(tx, msg, [wh for _, wh in energy_wh(p.get("meterValue"))]))
        return out

    def _readings(self, tx: _Tx, msg: Message, values: list[float]) -> list[FindingTuple]:
        out: list[FindingTuple] = []
        for wh in values:
            prev = tx.readings[-1] if tx.readings else tx.meter_start
            if prev is not None and wh < prev:
                evidence = tuple(m for m in (tx.last_reading_msg or tx.start_msg, msg) if m is not None)
                out.append(("ocpp.meter.decreasing",
                            f"transaction {tx.transaction_id}: energy register went from {prev:g} Wh "
                            f"to {wh:g} Wh", evidence))
            tx.readings.append(wh)
            tx.last_reading_msg = msg
        return out

    def _stop_req(self, msg: Message, p: dict, version: str) -> list[FindingTuple]:
        tx_id = p.get("transactionId")
        out: list[FindingTuple] = []
        if _is_invalid_id(tx_id):
            out.append(("ocpp.tx.invalid_id", f"StopTransaction with transactionId {tx_id}", (msg,)))
        known = str(tx_id) in self._txs
        tx = self._tx(str(tx_id), version)
        tx.events += 1
        if not known:
            out.extend(self._adopt_unanswered_start(tx, msg, None))
        if tx.started_ns is None and tx.start_msg is None:
            out.append(self._no_start(tx, f"StopTransaction for transaction {tx_id}", msg))
        if tx.ended:
            out.append(("ocpp.tx.after_end", f"second StopTransaction for transaction {tx_id}", (msg,)))
        tx.ended = True
        tx.ended_ns = msg.ts_ns
        tx.stop_reason = text(p.get("reason", "Local"))  # 1.6: absent reason means Local
        if tx.id_token is None:
            tx.id_token = p.get("idTag")
        tx.remote_stop = tx.remote_stop or str(tx_id) in self._remote_stop_ids
        stop = p.get("meterStop")
        if isinstance(stop, int | float):
            tx.meter_stop = float(stop)
            ref = max(tx.readings) if tx.readings else tx.meter_start
            if ref is not None and stop < ref:
                code = "ocpp.meter.decreasing" if tx.meter_start is not None and stop < tx.meter_start \
                    else "ocpp.meter.stop_inconsistent"
                out.append((code, f"transaction {tx_id}: meterStop {stop:g} Wh below earlier reading "
                            f"{ref:g} Wh", tuple(m for m in (tx.last_reading_msg or tx.start_msg, msg)
                                                 if m is not None)))
        out.extend(self._readings(tx, msg, [wh for _, wh in energy_wh(p.get("transactionData"))]))
        return out

    def _remote_start(self, msg: Message, p: dict, version: str) -> list[FindingTuple]:
        self._remote_start_pending = True
        return []

    def _remote_stop(self, msg: Message, p: dict, version: str) -> list[FindingTuple]:
        tx_id = p.get("transactionId")
        if tx_id is not None:
            self._remote_stop_ids.add(str(tx_id))
            if str(tx_id) in self._txs:
                self._txs[str(tx_id)].remote_stop = True
        return []

    # ---------------------------------------------------------------- 2.x

    def _tx_event(self, msg: Message, p: dict, version: str) -> list[FindingTuple]:
        info = obj(p.get("transactionInfo"))
        tx_id = info.get("transactionId")
        if tx_id is None:
            return []
        out: list[FindingTuple] = []
        known = str(tx_id) in self._txs
        tx = self._tx(str(tx_id), version)
        tx.events += 1
        event = p.get("eventType")
        seq = p.get("seqNo")
        if isinstance(seq, int):
            tx.seq_nos.append(seq)
            tx.seq_ts.append(msg.ts_ns)
        if p.get("triggerReason"):
            tx.trigger_reasons.append(p["triggerReason"])
        evse = p.get("evse") or {}
        if isinstance(evse, dict) and ident(evse.get("id")) is not None:
            tx.evse_id = ident(evse.get("id"))
            tx.connector_id = ident(evse.get("connectorId", tx.connector_id))
        token = p.get("idToken")
        if isinstance(token, dict):
            tx.id_token = text(token.get("idToken"))
            tx.id_token_type = text(token.get("type"))
        if tx.ended:
            out.append(("ocpp.tx.after_end",
                        f"TransactionEvent {event} (seqNo {seq}) after transaction {tx_id} ended", (msg,)))
        if event == "Started":
            tx.started_ns = msg.ts_ns
            tx.start_msg = msg
            tx.remote_start = tx.remote_start or info.get("remoteStartId") is not None
        elif event == "Ended":
            if not known or tx.start_msg is None:
                out.append(self._no_start(tx, f"transaction {tx_id} Ended", msg))
            tx.ended = True
            tx.ended_ns = msg.ts_ns
            tx.stop_reason = text(info.get("stoppedReason", "Local"))  # 2.x: absent means Local
            if p.get("triggerReason") == "RemoteStop":
                tx.remote_stop = True
        out.extend(self._readings(tx, msg, [wh for _, wh in energy_wh(p.get("meterValue"))]))
        if event == "Ended" and tx.readings:
            tx.meter_stop = tx.readings[-1]
        if event == "Started" and tx.readings and tx.meter_start is None:
            tx.meter_start = tx.readings[0]
        return out

    def _tx_event_conf(self, msg: Message, p: dict, version: str) -> list[FindingTuple]:
        status = text(obj(p.get("idTokenInfo")).get("status"))
        if status is not None and status != "Accepted":
            return [("ocpp.auth.rejected", f"TransactionEvent answered idTokenInfo.status={status}", (msg,))]
        return []

    def finish(self) -> list[FindingTuple]:
        out: list[FindingTuple] = []
        for tx_id in self._order:
            tx = self._txs[tx_id]
            if not tx.seq_nos:
                continue
            seen = sorted(tx.seq_nos)
            missing = sorted(set(range(seen[0], seen[-1] + 1)) - set(seen))
            repeated = sorted({s for s in seen if seen.count(s) > 1})
            if missing or repeated:
                lost = [s for s in missing if self._gap_explains(tx, s)]
                missing = [s for s in missing if s not in lost]
                parts = []
                if missing:
                    parts.append(f"missing seqNo {', '.join(map(str, missing))}")
                if lost:
                    parts.append(f"seqNo {', '.join(map(str, lost))} not captured (charge-point "
                                 "bytes lost from the capture)")
                if repeated:
                    parts.append(f"repeated seqNo {', '.join(map(str, repeated))}")
                evidence = (tx.start_msg,) if tx.start_msg is not None else ()
                out.append(("ocpp.tx.seqno_gap", f"transaction {tx_id}: {'; '.join(parts)}", evidence))
        return out

    def _gap_explains(self, tx: _Tx, seq: int) -> bool:
        """A capture gap in the charge point's bytes lies between the events seen just
        before and just after the missing `seq`."""
        lo = max((t for s, t in zip(tx.seq_nos, tx.seq_ts, strict=True) if s < seq), default=None)
        hi = min((t for s, t in zip(tx.seq_nos, tx.seq_ts, strict=True) if s > seq), default=None)
        if lo is None or hi is None:
            return False
        return any(lo <= g <= hi for g in self._gaps)


_HANDLERS = {
    ("StartTransaction", "CALL"): TransactionTracker._start_req,
    ("StartTransaction", "CALLRESULT"): TransactionTracker._start_conf,
    ("MeterValues", "CALL"): TransactionTracker._meter_values,
    ("StopTransaction", "CALL"): TransactionTracker._stop_req,
    ("RemoteStartTransaction", "CALL"): TransactionTracker._remote_start,
    ("RemoteStopTransaction", "CALL"): TransactionTracker._remote_stop,
    ("RequestStartTransaction", "CALL"): TransactionTracker._remote_start,
    ("RequestStopTransaction", "CALL"): TransactionTracker._remote_stop,
    ("TransactionEvent", "CALL"): TransactionTracker._tx_event,
    ("TransactionEvent", "CALLRESULT"): TransactionTracker._tx_event_conf,
}
