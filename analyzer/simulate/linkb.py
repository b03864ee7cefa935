"""Link B script: the charger's OCPP-J conversation with the CSMS (1.6 or 2.0.1).

Follows the link A facts: Authorize when the charger asked, the transaction around
the energy transfer, meter values that integrate to the same energy, certificate
requests for Plug & Charge. Payloads follow the official JSON schemas (tests validate
them with the `ocpp` package's schema files).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from typing import Any

from chargescope.analyzer.simulate.events import Ocpp, WsOpen
from chargescope.analyzer.simulate.facts import MS, SECOND, Facts
from chargescope.analyzer.simulate.pki import contract_chain
from chargescope.analyzer.simulate.scenarios import Fault, Scenario, forwarded_emaid

BOOT_LEAD_NS = 8 * SECOND  # the capture starts with the charger (re)connecting
HEARTBEAT_S = 60
METER_PERIOD_NS = 10 * SECOND
REMOTE_WAIT_NS = 190 * SECOND  # the CSMS capture runs past the correlator's 120 s start timeout


def iso_time(ts_ns: int) -> str:
    """OCPP/OCPI timestamps: UTC with milliseconds and a Z."""
    moment = dt.datetime.fromtimestamp(ts_ns // SECOND, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ts_ns % SECOND // MS:03d}Z"


class Conversation:
    """CALL/CALLRESULT pairs on the charger's WebSocket, with seeded message ids.

    OCPP-J allows one outstanding CALL per direction: `events()` moves a CALL that would
    overlap the previous one of its side until just after that one was answered.
    """

    GAP_NS = 15 * MS

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.opened: list[Any] = []
        self._calls: list[tuple[int, bool, str, str, dict, int, dict]] = []

    def call(self, ts_ns: int, from_cp: bool, action: str, payload: dict, result: dict,
             answer_ns: int | None = None) -> int:
        """A CALL and its CALLRESULT; returns the result's time."""
        unique_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        answered = answer_ns if answer_ns is not None else ts_ns + int(
            self.rng.uniform(25, 90) * MS)
        self._calls.append((ts_ns, from_cp, unique_id, action, payload, answered, result))
        return answered

    def events(self) -> list[Any]:
        out: list[Any] = list(self.opened)
        free = {True: 0, False: 0}
        for ts, from_cp, unique_id, action, payload, answered, result in sorted(
                self._calls, key=lambda c: c[0]):
            shift = max(0, free[from_cp] + self.GAP_NS - ts)
            ts, answered = ts + shift, answered + shift
            free[from_cp] = answered
            out.append(Ocpp(ts, from_cp, [2, unique_id, action, payload]))
            out.append(Ocpp(answered, not from_cp, [3, unique_id, result]))
        return sorted(out, key=lambda e: e.ts_ns)


def _sampled(facts: Facts, ts_ns: int, context: str, v16: bool) -> dict:
    """One meter value: energy register, power, current, voltage, SoC at `ts_ns`."""
    sample = None
    for candidate in facts.samples:
        if candidate.ts_ns <= ts_ns:
            sample = candidate
    charging = sample is not None and facts.charge_stop_ns is not None and \
        ts_ns < facts.charge_stop_ns
    volts = sample.voltage_v if sample else 0.0
    amps = sample.current_a if sample and charging else 0.0
    phases = facts.scenario.charge.phases if facts.scenario.charge.mode == "AC" else 1
    values = [("Energy.Active.Import.Register", facts.meter_at(ts_ns), "Wh"),
              ("Power.Active.Import", round(volts * amps * phases), "W"),
              ("Current.Import", amps, "A"), ("Voltage", volts, "V")]
    if sample and facts.scenario.charge.mode == "DC":
        values.append(("SoC", sample.soc, "Percent"))
    if v16:
        sampled = [{"value": str(value), "context": context, "measurand": measurand,
                    "unit": unit} for measurand, value, unit in values]
    else:
        sampled = [{"value": value, "context": context, "measurand": measurand,
                    "unitOfMeasure": {"unit": unit}} for measurand, value, unit in values]
    return {"timestamp": iso_time(ts_ns), "sampledValue": sampled}


def script(scn: Scenario, facts: Facts, rng: random.Random,
           exi_b64: Callable[[], str] | None = None) -> list[Any]:
    """Every link B event of the scenario in time order.

    `exi_b64` returns the EV's CertificateInstallationReq as base64 EXI (what a PnC
    charger forwards in Get15118EVCertificate); needed only for the certificate fault.
    """
    conv = Conversation(rng)
    v16 = scn.ocpp == "ocpp1.6"
    start = facts.plug_ns - BOOT_LEAD_NS
    conv.opened.append(WsOpen(start))
    t = start + 120 * MS
    if v16:
        t = conv.call(t, True, "BootNotification", {
            "chargePointVendor": "Simulated", "chargePointModel": "DC-150" if
            scn.charge.mode == "DC" else "AC-22", "chargePointSerialNumber": "SN-0042",
            "firmwareVersion": "4.2.1"},
            {"currentTime": iso_time(t + 40 * MS), "interval": HEARTBEAT_S, "status": "Accepted"})
    else:
        t = conv.call(t, True, "BootNotification", {
            "chargingStation": {"model": "DC-150" if scn.charge.mode == "DC" else "AC-22",
                                "vendorName": "Simulated", "serialNumber": "SN-0042",
                                "firmwareVersion": "4.2.1"}, "reason": "PowerUp"},
            {"currentTime": iso_time(t + 40 * MS), "interval": HEARTBEAT_S, "status": "Accepted"})
    boot_done = t
    status = _status_sender(conv, scn, v16)
    status(t + 60 * MS, "Available")
    end = _session(conv, scn, facts, v16, status, exi_b64)
    if Fault.OCPI_RESULT_TIMEOUT in scn.faults:
        end = max(end, facts.plug_ns + REMOTE_WAIT_NS)
    beat = boot_done + HEARTBEAT_S * SECOND
    while beat < end + 5 * SECOND:
        conv.call(beat, True, "Heartbeat", {}, {"currentTime": iso_time(beat + 30 * MS)})
        beat += HEARTBEAT_S * SECOND
    return conv.events()


def _status_sender(conv: Conversation, scn: Scenario, v16: bool) -> Callable[[int, str], None]:
    connector = scn.ids.connector_id
    last: list[str] = []

    def send(ts_ns: int, state: str) -> None:
        if v16:
            conv.call(ts_ns, True, "StatusNotification", {
                "connectorId": connector, "errorCode": "NoError", "status": state,
                "timestamp": iso_time(ts_ns)}, {})
        else:
            v201 = {"Preparing": "Occupied", "Charging": "Occupied", "SuspendedEV": "Occupied",
                    "Finishing": "Occupied"}.get(state, state)
            if last and last[-1] == v201:
                return  # 2.0.1 reports connector states only: Occupied once per plug-in
            last.append(v201)
            conv.call(ts_ns, True, "StatusNotification", {
                "timestamp": iso_time(ts_ns), "connectorStatus": v201, "evseId": 1,
                "connectorId": connector}, {})
    return send


def _session(conv: Conversation, scn: Scenario, facts: Facts, v16: bool,
             status: Callable[[int, str], None], exi_b64: Callable[[], str] | None) -> int:
    """The charging session on B; returns the time of its last message."""
    ids = scn.ids
    if Fault.OCPI_RESULT_TIMEOUT in scn.faults:
        # the CPO backend relays the OCPI START_SESSION; the charger accepts, no EV comes
        ts = facts.plug_ns + 400 * MS
        return conv.call(ts, False, "RequestStartTransaction", {
            "idToken": {"idToken": ids.rfid_uid, "type": "ISO14443"},
            "remoteStartId": ids.remote_start_id, "evseId": 1}, {"status": "Accepted"})
    status(facts.plug_ns + 250 * MS, "Preparing")
    tx = _Transaction(conv, scn, facts, v16)
    if not v16:
        tx.started(facts.plug_ns + 300 * MS, "CablePluggedIn")
    if facts.cert_request_ns is not None:
        ok = Fault.PNC_CERT not in scn.faults
        conv.call(facts.cert_request_ns, True, "Get15118EVCertificate", {
            "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install",
            "exiRequest": exi_b64() if exi_b64 else ""},
            {"status": "Accepted" if ok else "Failed", "exiResponse": ""},
            answer_ns=facts.cert_answer_ns)
    accepted = False
    if facts.auth_request_ns is not None:
        accepted = Fault.CSMS_REJECTS not in scn.faults
        pnc = scn.payment == "PnC"
        if scn.remote_start:
            # started from the eMSP's app: the CSMS relays OCPI START_SESSION; a remote start
            # is authorized by the eMSP, so the charger sends no Authorize
            conv.call(facts.auth_request_ns, False, "RequestStartTransaction", {
                "idToken": {"idToken": ids.rfid_uid, "type": "ISO14443"},
                "remoteStartId": ids.remote_start_id, "evseId": 1}, {"status": "Accepted"},
                answer_ns=facts.auth_answer_ns)
        elif v16:
            conv.call(facts.auth_request_ns, True, "Authorize", {"idTag": ids.rfid_uid},
                      {"idTagInfo": {"status": "Accepted" if accepted else "Invalid"}},
                      answer_ns=facts.auth_answer_ns)
        else:
            token = ({"idToken": forwarded_emaid(scn), "type": "eMAID"} if pnc else
                     {"idToken": ids.rfid_uid, "type": "ISO14443"})
            payload: dict[str, Any] = {"idToken": token}
            result: dict[str, Any] = {"idTokenInfo": {"status": "Accepted" if accepted else
                                                      "Invalid"}}
            if pnc:
                # the OCSP data of the contract the charger forwards (a stale one with
                # EMAID_MISMATCH: the charger cached an earlier contract whole)
                payload["iso15118CertificateHashData"] = [
                    contract_chain(forwarded_emaid(scn)).ocsp_hash_data()]
                result["certificateStatus"] = "Accepted"
            conv.call(facts.auth_request_ns, True, "Authorize", payload, result,
                      answer_ns=facts.auth_answer_ns)
    if accepted:
        facts.tx_start_ns = facts.auth_answer_ns + 300 * MS
        if v16:
            tx.started(facts.tx_start_ns, "Authorized")
        elif scn.remote_start:
            tx.updated(facts.tx_start_ns, "RemoteStart", idtoken=True,
                       remote_start_id=ids.remote_start_id)
        else:
            tx.updated(facts.tx_start_ns, "Authorized", idtoken=True)
    if facts.charged:
        status(facts.charge_start_ns + 80 * MS, "Charging")
        if not v16:
            tx.updated(facts.charge_start_ns + 90 * MS, "ChargingStateChanged", state="Charging")
        meter = facts.charge_start_ns + METER_PERIOD_NS
        while meter < facts.charge_stop_ns:
            tx.meter(meter)
            meter += METER_PERIOD_NS
        status(facts.charge_stop_ns + 80 * MS, "SuspendedEV")
        if not v16:
            tx.updated(facts.charge_stop_ns + 90 * MS, "ChargingStateChanged", state="SuspendedEV")
    end = facts.unplug_ns or (facts.session_end_ns or facts.plug_ns) + 6 * SECOND
    if facts.session_end_ns is not None:
        status(facts.session_end_ns + 150 * MS, "Finishing")
    if tx.open:
        reason = "EVDisconnected" if facts.charged else "Other"
        tx.ended(end + 200 * MS, reason)
    status(end + 400 * MS, "Available")
    return end + 400 * MS


class _Transaction:
    """The OCPP transaction of the session: 1.6 Start/Stop/MeterValues, 2.0.1 TransactionEvent."""

    def __init__(self, conv: Conversation, scn: Scenario, facts: Facts, v16: bool) -> None:
        self.conv, self.scn, self.facts, self.v16 = conv, scn, facts, v16
        self.seq = 0
        self.open = False

    def _event(self, ts_ns: int, kind: str, trigger: str, info: dict, context: str,
               idtoken: bool = False) -> None:
        ids = self.scn.ids
        payload: dict[str, Any] = {
            "eventType": kind, "timestamp": iso_time(ts_ns), "triggerReason": trigger,
            "seqNo": self.seq, "transactionInfo": {"transactionId": ids.tx_uuid, **info},
            "evse": {"id": 1, "connectorId": ids.connector_id},
            "meterValue": [_sampled(self.facts, ts_ns, context, False)]}
        if idtoken:
            payload["idToken"] = ({"idToken": forwarded_emaid(self.scn), "type": "eMAID"}
                                  if self.scn.payment == "PnC" else
                                  {"idToken": ids.rfid_uid, "type": "ISO14443"})
        result = {"idTokenInfo": {"status": "Accepted"}} if idtoken else {}
        self.conv.call(ts_ns, True, "TransactionEvent", payload, result)
        self.seq += 1

    def started(self, ts_ns: int, trigger: str) -> None:
        ids = self.scn.ids
        self.open = True
        if self.v16:
            self.conv.call(ts_ns, True, "StartTransaction", {
                "connectorId": ids.connector_id, "idTag": ids.rfid_uid,
                "meterStart": self.scn.charge.meter_start_wh, "timestamp": iso_time(ts_ns)},
                {"idTagInfo": {"status": "Accepted"}, "transactionId": ids.transaction_id})
        else:
            self._event(ts_ns, "Started", trigger, {"chargingState": "EVConnected"},
                        "Transaction.Begin")

    def updated(self, ts_ns: int, trigger: str, state: str | None = None,
                idtoken: bool = False, remote_start_id: int | None = None) -> None:
        info: dict[str, Any] = {"chargingState": state} if state else {}
        if remote_start_id is not None:
            info["remoteStartId"] = remote_start_id
        self._event(ts_ns, "Updated", trigger, info, "Sample.Periodic" if trigger ==
                    "MeterValuePeriodic" else "Sample.Clock", idtoken)

    def meter(self, ts_ns: int) -> None:
        if self.v16:
            self.conv.call(ts_ns, True, "MeterValues", {
                "connectorId": self.scn.ids.connector_id,
                "transactionId": self.scn.ids.transaction_id,
                "meterValue": [_sampled(self.facts, ts_ns, "Sample.Periodic", True)]}, {})
        else:
            self.updated(ts_ns, "MeterValuePeriodic")

    def ended(self, ts_ns: int, reason: str) -> None:
        ids = self.scn.ids
        self.open = False
        if self.v16:
            self.conv.call(ts_ns, True, "StopTransaction", {
                "idTag": ids.rfid_uid, "meterStop": self.facts.meter_stop_wh,
                "timestamp": iso_time(ts_ns), "transactionId": ids.transaction_id,
                "reason": reason,
                "transactionData": [_sampled(self.facts, ts_ns, "Transaction.End", True)]},
                {"idTagInfo": {"status": "Accepted"}})
        else:
            self._event(ts_ns, "Ended", "EVCommunicationLost",
                        {"chargingState": "Idle", "stoppedReason": reason}, "Transaction.End")
