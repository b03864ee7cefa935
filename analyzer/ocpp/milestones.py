"""Milestones of link B for the correlator (names from `analyzer.correlate.milestones`).

`MilestoneCollector` watches one charger's OCPP Messages and records the moments the
cross-link checks reason about; `link_sessions` turns an `OcppReport` into the
correlator's `LinkSession`s, one per transaction plus one per authorization that
never led to a transaction.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from chargescope.analyzer.correlate.keys import normalise
from chargescope.analyzer.correlate.model import LinkEvent, LinkSession
from chargescope.analyzer.ocpp.meter import energy_wh
from chargescope.analyzer.records import Message
from chargescope.analyzer.shapes import obj, text

# how far before a transaction's start its authorization and plug-in may lie
LEAD_NS = 300 * 10**9
TAIL_NS = 60 * 10**9
_CERT_ACTIONS = frozenset({"Get15118EVCertificate", "GetCertificateStatus"})
# OCPP stop reasons -> the correlator's vocabulary
_STOP_REASON = {
    "EVDisconnected": "ev", "EVDeparted": "ev", "StoppedByEV": "ev", "EVCommunicationLost": "ev",
    "Remote": "remote", "Local": "local", "DeAuthorized": "local",
    "PowerLoss": "power-loss", "Reboot": "other", "HardReset": "other", "SoftReset": "other",
    "EmergencyStop": "fault", "GroundFault": "fault", "OvercurrentFault": "fault",
    "ImmediateReset": "other", "UnlockCommand": "remote", "EnergyLimitReached": "evse",
    "TimeLimitReached": "evse", "SOCLimitReached": "evse", "MasterPass": "local", "Other": "other",
}


class MilestoneCollector:
    def __init__(self) -> None:
        self.events: list[LinkEvent] = []
        self._auth_tokens: dict[str, Any] = {}  # Authorize unique id -> idTag/idToken
        # Authorize unique id -> serial numbers of iso15118CertificateHashData (PnC)
        self._auth_serials: dict[str, list[str]] = {}

    def feed(self, msg: Message) -> None:
        f = msg.fields
        action, mtype, p = f.get("action"), f.get("message_type"), f.get("payload")
        if mtype == "CALLERROR" and action in _CERT_ACTIONS:
            self._add(msg, "ocpp.cert_failed", action=action, error_code=f.get("error_code"))
            return
        if not isinstance(p, dict):
            return
        if mtype == "CALL":
            self._call(msg, action, p)
        elif mtype == "CALLRESULT":
            self._result(msg, action, p)

    def _add(self, msg: Message, name: str, **detail: Any) -> None:
        self.events.append(LinkEvent(msg.ts_ns, name, detail, msg))

    def _call(self, msg: Message, action: str | None, p: dict) -> None:
        if action == "Authorize":
            token = text(p.get("idTag")) or text(obj(p.get("idToken")).get("idToken"))
            self._auth_tokens[msg.fields["unique_id"]] = token
            if len(self._auth_tokens) > 1024:
                self._auth_tokens.pop(next(iter(self._auth_tokens)))
            serials = certificate_serials(p.get("iso15118CertificateHashData"))
            if serials:
                self._auth_serials[msg.fields["unique_id"]] = serials
                if len(self._auth_serials) > 1024:
                    self._auth_serials.pop(next(iter(self._auth_serials)))
        elif action == "StatusNotification":
            self._add(msg, "ocpp.status", status=p.get("status") or p.get("connectorStatus"),
                      connector=p.get("connectorId"), evse=p.get("evseId"))
        elif action == "StopTransaction":
            self._add(msg, "ocpp.tx_ended", transaction_id=str(p.get("transactionId")),
                      reason=p.get("reason", "Local"))
        elif action in ("MeterValues", "TransactionEvent"):
            readings = energy_wh(p.get("meterValue"))
            info = obj(p.get("transactionInfo"))
            tx = p.get("transactionId", info.get("transactionId"))
            if action == "TransactionEvent" and p.get("eventType") == "Started":
                self._add(msg, "ocpp.tx_started", transaction_id=str(tx))
            for _, wh in readings:
                self._add(msg, "ocpp.meter", energy_wh=wh, transaction_id=str(tx))
            if action == "TransactionEvent" and p.get("eventType") == "Ended":
                self._add(msg, "ocpp.tx_ended", transaction_id=str(tx),
                          reason=info.get("stoppedReason", "Local"))

    def _result(self, msg: Message, action: str | None, p: dict) -> None:
        if action == "BootNotification":
            self._add(msg, "ocpp.boot", status=p.get("status"))
        elif action == "Authorize":
            info = obj(p.get("idTagInfo") or p.get("idTokenInfo"))
            token = self._auth_tokens.pop(msg.fields["unique_id"], None)
            serials = self._auth_serials.pop(msg.fields["unique_id"], None)
            status = text(info.get("status"))
            name = "ocpp.authorize_accepted" if status == "Accepted" else "ocpp.authorize_rejected"
            self._add(msg, name, status=status, id_token=token,
                      **({"cert_serials": serials} if serials else {}))
            cert = p.get("certificateStatus")
            if cert is not None and cert != "Accepted":
                self._add(msg, "ocpp.cert_failed", action=action, status=cert)
        elif action == "StartTransaction":
            self._add(msg, "ocpp.tx_started", transaction_id=str(p.get("transactionId")))
        elif action in ("RemoteStartTransaction", "RequestStartTransaction"):
            self._add(msg, "ocpp.remote_start", status=p.get("status"),
                      transaction_id=p.get("transactionId"))
        elif action in _CERT_ACTIONS and p.get("status") not in (None, "Accepted"):
            self._add(msg, "ocpp.cert_failed", action=action, status=p.get("status"))


def certificate_serials(hash_data: Any) -> list[str]:
    """Serial numbers (normalised hex) in an OCPP 2.x iso15118CertificateHashData list (the
    OCSP request data of the contract certificate chain the EV presented)."""
    if not isinstance(hash_data, list):
        return []
    return [normalise("contract_serial", h["serialNumber"]) for h in hash_data
            if isinstance(h, dict) and isinstance(h.get("serialNumber"), str)
            and h["serialNumber"].strip()]


def _serial_keys(keys: dict[str, str], events: Any) -> None:
    serials = sorted({s for e in events for s in e.detail.get("cert_serials", ())})
    if serials:
        keys["contract_serial"] = ",".join(serials)


def link_sessions(report: Any) -> list[LinkSession]:
    """The correlator's view of an `OcppReport` (see analyzer.correlate.model.LinkSession)."""
    out: list[LinkSession] = []
    for ch in report.chargers:
        events: tuple[LinkEvent, ...] = ch.milestones
        source = _source(events)
        used: set[int] = set()
        # a charger serves thousands of transactions over a long capture: each one looks
        # only at the events in its time window (indices in their order), and the finding
        # payloads are turned into text once, not once per transaction
        by_time = sorted((e.ts_ns, i) for i, e in enumerate(events))
        times = [t for t, _i in by_time]
        texts = [(f, [str(m.fields.get("payload")) for m in f.evidence
                      if m.fields.get("payload")]) for f in ch.findings]
        for tx in ch.transactions:
            start = tx.started_ns or _first_ts(events, tx.transaction_id) or 0
            end = tx.ended_ns or (events[-1].ts_ns if events else start)
            picked = []
            window = sorted(i for _t, i in by_time[bisect_left(times, start - LEAD_NS):
                                                   bisect_right(times, end + TAIL_NS)])
            for i in window:
                e = events[i]
                tid = e.detail.get("transaction_id")
                if tid is not None and tid != tx.transaction_id and e.name != "ocpp.remote_start":
                    continue
                token = e.detail.get("id_token")
                if token is not None and tx.id_token is not None and str(token) != tx.id_token:
                    continue  # another card presented at the same charger
                if start - LEAD_NS <= e.ts_ns <= end + TAIL_NS:
                    if e.name == "ocpp.status" and tx.connector_id is not None \
                            and e.detail.get("connector") not in (None, tx.connector_id):
                        continue
                    picked.append(e)
                    used.add(i)
            keys = {"charge_point_id": ch.charge_point_id, "transaction_id": tx.transaction_id}
            if tx.id_token:
                keys["id_token"] = tx.id_token
                if tx.id_token_type == "eMAID":
                    keys["emaid"] = tx.id_token
            _serial_keys(keys, picked)
            if tx.connector_id is not None or tx.evse_id is not None:
                keys["connector"] = (f"{tx.evse_id}:{tx.connector_id}" if tx.evse_id is not None
                                     else str(tx.connector_id))
            if tx.auth_status not in (None, "Accepted"):
                outcome, stage = "failed", "authorization"
            elif tx.ended_ns is None:
                outcome, stage = "incomplete", "charging"
            else:
                outcome, stage = "success", "ended"
            out.append(LinkSession(
                "B", "ocpp.transaction", tx.transaction_id, source, start, end, keys, outcome, stage,
                tx.energy_wh, _STOP_REASON.get(tx.stop_reason or "", "other" if tx.stop_reason else ""),
                f"OCPP {tx.ocpp_version}", tuple(picked),
                tuple(f for f, payloads in texts
                      if any(tx.transaction_id in text for text in payloads)),
                tuple(e.message for e in picked if e.message is not None)))
        for i, e in enumerate(events):
            if i in used or e.name not in ("ocpp.authorize_rejected", "ocpp.authorize_accepted",
                                           "ocpp.cert_failed"):
                continue
            keys = {"charge_point_id": ch.charge_point_id}
            if e.detail.get("id_token"):
                keys["id_token"] = str(e.detail["id_token"])
            _serial_keys(keys, (e,))
            failed = e.name != "ocpp.authorize_accepted"
            out.append(LinkSession(
                "B", "ocpp.authorization", f"{ch.charge_point_id}@{e.ts_ns}", source, e.ts_ns,
                e.ts_ns, keys, "failed" if failed else "incomplete", "authorization", None, "",
                "OCPP", (e,), (), (e.message,) if e.message is not None else ()))
    return out


def _source(events: tuple[LinkEvent, ...]) -> str:
    for e in events:
        if e.message is not None and e.message.refs:
            return e.message.refs[0].source
    return ""


def _first_ts(events: tuple[LinkEvent, ...], tx_id: str) -> int | None:
    return next((e.ts_ns for e in events if e.detail.get("transaction_id") == tx_id), None)

