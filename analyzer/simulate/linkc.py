"""Link C script: OCPI 2.2.1 between the CPO's gateway and the eMSP.

Real-time token authorization while the charger waits for the CSMS, the Session
(PUT when the transaction starts, PATCH while charging, PATCH COMPLETED), the CDR, and
remote start commands. Energy is the link B meter's (kWh, 3 decimals) unless the
scenario injects a mismatch.
"""

from __future__ import annotations

import random
from typing import Any

from chargescope.analyzer.simulate.events import Http
from chargescope.analyzer.simulate.facts import MS, SECOND, Facts
from chargescope.analyzer.simulate.linkb import iso_time
from chargescope.analyzer.simulate.scenarios import Fault, Scenario, forwarded_emaid

VERSION = "2.2.1"
PATCH_PERIOD_NS = 15 * SECOND
MISMATCH_WH = 310  # the injected CDR error: a stale reading added to the session energy
PRICE_PER_KWH = 0.59


def _ok(data: Any, ts_ns: int) -> dict:
    envelope: dict[str, Any] = {"status_code": 1000, "status_message": "Success",
                                "timestamp": iso_time(ts_ns)}
    if data is not None:
        envelope = {"data": data, **envelope}
    return envelope


class _Gateway:
    def __init__(self, scn: Scenario, rng: random.Random) -> None:
        self.scn, self.rng = scn, rng
        self.events: list[Any] = []

    def exchange(self, ts_ns: int, from_cpo: bool, method: str, path: str, body: Any,
                 status: int, response: Any) -> int:
        answered = ts_ns + int(self.rng.uniform(30, 120) * MS)
        self.events.append(Http(ts_ns, from_cpo, method, path, body, answered, status, response))
        return answered


def token(scn: Scenario, ts_ns: int) -> dict:
    """The OCPI Token of the session's payer (RFID for EIM, contract for PnC)."""
    ids = scn.ids
    pnc = scn.payment == "PnC"
    emaid = forwarded_emaid(scn)  # the CPO reports the contract the charger forwarded
    return {"country_code": ids.emsp_party[0], "party_id": ids.emsp_party[1],
            "uid": emaid.replace("-", "") if pnc else ids.rfid_uid,
            "type": "OTHER" if pnc else "RFID", "contract_id": emaid,
            "issuer": "Simulated eMSP", "valid": True, "whitelist": "ALLOWED",
            "last_updated": iso_time(ts_ns - 86400 * SECOND)}


def _cdr_token(scn: Scenario) -> dict:
    full = token(scn, 0)
    return {key: full[key] for key in ("country_code", "party_id", "uid", "type", "contract_id")}


def script(scn: Scenario, facts: Facts, rng: random.Random) -> list[Any]:
    gw = _Gateway(scn, rng)
    ids = scn.ids
    cc, pid = ids.cpo_party
    emsp = f"/ocpi/emsp/{VERSION}"
    if Fault.OCPI_RESULT_TIMEOUT in scn.faults:
        ts = facts.plug_ns - 300 * MS
        # the CPO relays the command as RequestStartTransaction with this reference as its
        # remoteStartId, so links B and C share the key
        reference = str(ids.remote_start_id)
        gw.exchange(ts, False, "POST", f"/ocpi/cpo/{VERSION}/commands/START_SESSION", {
            "response_url": f"https://emsp.example{emsp}/commands/START_SESSION/{reference}",
            "token": token(scn, ts), "location_id": ids.location_id, "evse_uid": ids.evse_uid,
            "authorization_reference": reference},
            200, _ok({"result": "ACCEPTED", "timeout": 30}, ts + 60 * MS))
        # the CPO never POSTs the CommandResult to response_url: that is the fault. The
        # gateway keeps pushing EVSE status (held for the remote user, then released), so
        # the capture outlasts the command's 30 s timeout.
        evse = f"{emsp}/locations/{cc}/{pid}/{ids.location_id}/{ids.evse_uid}"
        for later, status in ((45 * SECOND, "RESERVED"), (150 * SECOND, "AVAILABLE")):
            at = ts + later
            gw.exchange(at, True, "PATCH", evse, {"status": status,
                                                  "last_updated": iso_time(at)},
                        200, _ok(None, at + 40 * MS))
        return gw.events
    pnc = scn.payment == "PnC"
    if scn.remote_start and facts.auth_request_ns is not None:
        _remote_start(gw, scn, facts)
    elif facts.auth_request_ns is not None and not pnc:
        ts = facts.auth_request_ns + 30 * MS
        path = f"{emsp}/tokens/{ids.rfid_uid}/authorize?type=RFID"
        body = {"location_id": ids.location_id, "evse_uids": [ids.evse_uid]}
        if Fault.TOKEN_UNKNOWN_C in scn.faults:
            gw.exchange(ts, True, "POST", path, body, 404, {
                "status_code": 2004, "status_message": "Unknown Token",
                "timestamp": iso_time(ts + 50 * MS)})
        else:
            gw.exchange(ts, True, "POST", path, body, 200, _ok({
                "allowed": "ALLOWED", "token": token(scn, ts),
                "authorization_reference": ids.authorization_reference}, ts + 50 * MS))
    if facts.tx_start_ns is None:
        return gw.events
    sessions = f"{emsp}/sessions/{cc}/{pid}/{ids.ocpi_session_id}"
    start = facts.tx_start_ns + 700 * MS
    auth_method = "COMMAND" if scn.remote_start else "WHITELIST" if pnc else "AUTH_REQUEST"
    reference = str(ids.remote_start_id) if scn.remote_start else ids.authorization_reference
    session = {
        "country_code": cc, "party_id": pid, "id": ids.ocpi_session_id,
        "start_date_time": iso_time(facts.tx_start_ns), "kwh": 0.0,
        "cdr_token": _cdr_token(scn), "auth_method": auth_method,
        "authorization_reference": reference,
        "location_id": ids.location_id, "evse_uid": ids.evse_uid,
        "connector_id": str(ids.connector_id), "currency": "EUR", "status": "ACTIVE",
        "last_updated": iso_time(start)}
    gw.exchange(start, True, "PUT", sessions, session, 200, _ok(None, start + 40 * MS))
    meter_start = scn.charge.meter_start_wh
    if facts.charged:
        ts = facts.charge_start_ns + PATCH_PERIOD_NS
        while ts < facts.charge_stop_ns:
            kwh = round((facts.meter_at(ts) - meter_start) / 1000, 3)
            gw.exchange(ts, True, "PATCH", sessions, {"kwh": kwh, "last_updated": iso_time(ts)},
                        200, _ok(None, ts + 40 * MS))
            ts += PATCH_PERIOD_NS
    end = (facts.unplug_ns or facts.session_end_ns or start) + 1_200 * MS
    energy_wh = facts.meter_stop_wh - meter_start
    kwh = round(energy_wh / 1000, 3)
    gw.exchange(end, True, "PATCH", sessions, {
        "status": "COMPLETED", "end_date_time": iso_time(end - 1_000 * MS), "kwh": kwh,
        "last_updated": iso_time(end)}, 200, _ok(None, end + 40 * MS))
    billed_wh = energy_wh + (MISMATCH_WH if Fault.ENERGY_MISMATCH in scn.faults else 0)
    total_energy = round(billed_wh / 1000, 3)
    hours = round((end - facts.tx_start_ns) / SECOND / 3600, 4)
    cost = round(total_energy * PRICE_PER_KWH, 2)
    ts = end + 2 * SECOND
    cdr = {
        "country_code": cc, "party_id": pid, "id": ids.cdr_id,
        "start_date_time": iso_time(facts.tx_start_ns), "end_date_time": iso_time(end - SECOND),
        "session_id": ids.ocpi_session_id, "cdr_token": _cdr_token(scn),
        "auth_method": auth_method, "authorization_reference": reference,
        "cdr_location": {
            "id": ids.location_id, "name": "Simulated Charging Park",
            "address": "Musterstrasse 1", "city": "Berlin", "postal_code": "10115",
            "country": "DEU", "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
            "evse_uid": ids.evse_uid, "evse_id": ids.evse_id,
            "connector_id": str(ids.connector_id),
            "connector_standard": "IEC_62196_T2_COMBO" if scn.charge.mode == "DC" else
            "IEC_62196_T2",
            "connector_format": "CABLE" if scn.charge.mode == "DC" else "SOCKET",
            "connector_power_type": "DC" if scn.charge.mode == "DC" else "AC_3_PHASE"},
        "currency": "EUR",
        "charging_periods": [{"start_date_time": iso_time(facts.tx_start_ns),
                              "dimensions": [{"type": "ENERGY", "volume": total_energy}]}],
        "total_cost": {"excl_vat": cost, "incl_vat": round(cost * 1.19, 2)},
        "total_energy": total_energy, "total_time": hours, "last_updated": iso_time(ts)}
    gw.exchange(ts, True, "POST", f"{emsp}/cdrs", cdr, 200, _ok(None, ts + 40 * MS))
    return sorted(gw.events, key=lambda e: e.ts_ns)


def _remote_start(gw: _Gateway, scn: Scenario, facts: Facts) -> None:
    """START_SESSION from the eMSP just before the CSMS relays it; the CPO's result after."""
    ids = scn.ids
    emsp = f"/ocpi/emsp/{VERSION}"
    reference = str(ids.remote_start_id)
    ts = facts.auth_request_ns - 150 * MS
    result_url = f"{emsp}/commands/START_SESSION/{reference}"
    gw.exchange(ts, False, "POST", f"/ocpi/cpo/{VERSION}/commands/START_SESSION", {
        "response_url": f"https://emsp.example{result_url}", "token": token(scn, ts),
        "location_id": ids.location_id, "evse_uid": ids.evse_uid,
        "authorization_reference": reference},
        200, _ok({"result": "ACCEPTED", "timeout": 30}, ts + 60 * MS))
    at = facts.auth_answer_ns + 120 * MS
    gw.exchange(at, True, "POST", result_url, {"result": "ACCEPTED"}, 200,
                _ok(None, at + 40 * MS))
