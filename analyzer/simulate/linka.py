"""Link A script: SLAC, SDP and the V2G dialogue (DIN 70121, ISO 15118-2, ISO 15118-20).

Runs first and records in `Facts` when the charger had to ask the CSMS (Authorize,
certificates), when energy flowed and how much; links B and C follow those facts.
Timing follows the standards' orders of magnitude: SLAC about 1.5 s, V2G pairs tens of
ms apart, the control loop every `loop_period_ms`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from typing import Any

from chargescope.analyzer.simulate import v2g_trees as t
from chargescope.analyzer.simulate.events import Mme, Sdp, TcpClose, TcpOpen, V2g
from chargescope.analyzer.simulate.facts import MS, SECOND, Facts, charge_samples
from chargescope.analyzer.simulate.pki import contract_chain
from chargescope.analyzer.simulate.scenarios import Fault, Scenario

BROADCAST = "ff:ff:ff:ff:ff:ff"
PT_SAP = 0x8001  # supportedAppProtocol, DIN 70121, ISO 15118-2
PT_ISO20 = 0x8002  # ISO 15118-20 common messages
PT_ISO20_DC = 0x8004
SECC_PORT = 61341
EIM_TAP_DELAY_NS = 1_200 * MS  # the driver taps the RFID card after the EV asked
CSMS_ANSWER_NS = 180 * MS  # Authorize round trip charger -> CSMS (-> eMSP) -> charger
NUM_SOUNDS = 10


class Dialogue:
    """The V2G request/response sequence on one TCP connection, with its clock."""

    def __init__(self, events: list, rng: random.Random, ts_ns: int) -> None:
        self.events, self.rng, self.t = events, rng, ts_ns
        self.schema, self.ptype = "iso2", PT_SAP  # of the exchanges `_authorize` repeats

    def ms(self, low: float, high: float) -> int:
        return int(self.rng.uniform(low, high) * MS)

    def pair(self, schema: str, ptype: int, req: dict, res: dict, think: tuple = (8, 25),
             proc: tuple = (15, 45)) -> int:
        """EV request after `think` ms, EVSE response `proc` ms later; returns request time."""
        sent = self.t + self.ms(*think)
        self.events.append(V2g(sent, True, schema, ptype, req))
        self.t = sent + self.ms(*proc)
        self.events.append(V2g(self.t, False, schema, ptype, res))
        return sent


def _slac(events: list, scn: Scenario, facts: Facts, rng: random.Random) -> bool:
    """The SLAC run (ISO 15118-3): returns whether it matched."""
    ids = scn.ids
    ts = facts.plug_ns + 400 * MS
    # the EV leaves any previous network: a fresh random NMK in its own modem
    _set_key(events, ts, scn, rng, rng.randbytes(7).hex(), rng.randbytes(16).hex())
    run_id = rng.randbytes(8).hex()
    app = {"application_type": 0, "security_type": 0}
    ts += 250 * MS
    facts.slac_start_ns = ts
    if Fault.SLAC_TIMEOUT in scn.faults:
        # TT_match_sequence: the EV retries CM_SLAC_PARM.REQ, nobody answers
        for attempt in range(3):
            events.append(Mme(ts + attempt * 250 * MS, ids.ev_mac, BROADCAST, "CM_SLAC_PARM",
                              "REQ", {**app, "run_id": run_id}))
        return False
    events.append(Mme(ts, ids.ev_mac, BROADCAST, "CM_SLAC_PARM", "REQ", {**app, "run_id": run_id}))
    ts += 22 * MS
    events.append(Mme(ts, ids.secc_mac, ids.ev_mac, "CM_SLAC_PARM", "CNF", {
        "m_sound_target": BROADCAST, "num_sounds": NUM_SOUNDS, "time_out": 6, "resp_type": 1,
        "forwarding_sta": ids.ev_mac, **app, "run_id": run_id}))
    ts += 30 * MS
    for _ in range(3):
        events.append(Mme(ts, ids.ev_mac, BROADCAST, "CM_START_ATTEN_CHAR", "IND", {
            **app, "num_sounds": NUM_SOUNDS, "time_out": 6, "resp_type": 1,
            "forwarding_sta": ids.ev_mac, "run_id": run_id}))
        ts += 20 * MS
    for left in range(NUM_SOUNDS - 1, -1, -1):
        events.append(Mme(ts, ids.ev_mac, BROADCAST, "CM_MNBC_SOUND", "IND", {
            **app, "sender_id": "00" * 17, "cnt": left, "run_id": run_id, "reserved": "00" * 8,
            "rnd": rng.randbytes(16).hex()}))
        ts += 20 * MS
    ts += 380 * MS  # the EVSE waits out TT_EVSE_match_MNBS before reporting
    aag = [rng.randint(18, 34) for _ in range(58)]
    events.append(Mme(ts, ids.secc_mac, ids.ev_mac, "CM_ATTEN_CHAR", "IND", {
        **app, "source_address": ids.ev_mac, "run_id": run_id, "source_id": "00" * 17,
        "resp_id": "00" * 17, "num_sounds": NUM_SOUNDS, "num_groups": len(aag), "aag": aag}))
    ts += 9 * MS
    events.append(Mme(ts, ids.ev_mac, ids.secc_mac, "CM_ATTEN_CHAR", "RSP", {
        **app, "source_address": ids.ev_mac, "run_id": run_id, "source_id": "00" * 17,
        "resp_id": "00" * 17, "result": 0}))
    ts += 60 * MS
    match = {"pev_id": "00" * 17, "pev_mac": ids.ev_mac, "evse_id": "00" * 17,
             "evse_mac": ids.secc_mac, "run_id": run_id, "reserved": "00" * 8}
    events.append(Mme(ts, ids.ev_mac, ids.secc_mac, "CM_SLAC_MATCH", "REQ",
                      {**app, "mvf_length": 0x3E, **match}))
    ts += 25 * MS
    nid, nmk = rng.randbytes(7).hex(), rng.randbytes(16).hex()
    events.append(Mme(ts, ids.secc_mac, ids.ev_mac, "CM_SLAC_MATCH", "CNF", {
        **app, "mvf_length": 0x56, **match, "nid": nid, "reserved2": 0, "nmk": nmk}))
    facts.slac_matched_ns = ts
    _set_key(events, ts + 15 * MS, scn, rng, nid, nmk)  # join the EVSE's logical network
    return True


def _set_key(events: list, ts: int, scn: Scenario, rng: random.Random, nid: str,
             nmk: str) -> None:
    """CM_SET_KEY.REQ from the EV host to its own modem, and the modem's confirmation."""
    ids = scn.ids
    events.append(Mme(ts, ids.ev_mac, ids.ev_modem_mac, "CM_SET_KEY", "REQ", {
        "key_type": 1, "my_nonce": rng.randbytes(4).hex(), "your_nonce": "00000000", "pid": 4,
        "prn": 0, "pmn": 0, "cco_capability": 0, "nid": nid, "new_eks": 1, "new_key": nmk}))
    events.append(Mme(ts + 3 * MS, ids.ev_modem_mac, ids.ev_mac, "CM_SET_KEY", "CNF", {
        "result": 0, "my_nonce": rng.randbytes(4).hex(), "your_nonce": "00000000", "pid": 4,
        "prn": 0, "pmn": 0, "cco_capability": 0}))


def script(scn: Scenario, facts: Facts, rng: random.Random) -> list[Any]:
    """Every link A event of the scenario, in time order; fills `facts`."""
    events: list[Any] = []
    facts.plug_ns = scn.start_ns
    if Fault.OCPI_RESULT_TIMEOUT in scn.faults:
        return events  # nobody plugged in: the remote start never reached an EV
    if not _slac(events, scn, facts, rng):
        facts.unplug_ns = facts.slac_start_ns + 20 * SECOND  # the driver gives up
        return events
    ts = facts.slac_matched_ns + 1_400 * MS  # the AVLN forms, the EV configures IPv6
    events.append(Sdp(ts, True))
    events.append(Sdp(ts + 11 * MS, False))
    ts += 40 * MS
    events.append(TcpOpen(ts))
    d = Dialogue(events, rng, ts + 2 * MS)
    flow = {"iso2": _iso2, "din": _din, "iso20": _iso20}[scn.protocol]
    flow(d, scn, facts)
    events.append(TcpClose(d.t + 20 * MS))
    facts.session_end_ns = d.t + 20 * MS
    facts.unplug_ns = d.t + 6 * SECOND
    return sorted(events, key=lambda e: e.ts_ns)


def _handshake(d: Dialogue, scn: Scenario) -> None:
    offers = {"iso20": [(t.NS_ISO20_DC, 1, 0), (t.NS_ISO2, 2, 0), (t.NS_DIN, 2, 0)],
              "iso2": [(t.NS_ISO2, 2, 0), (t.NS_DIN, 2, 0)],
              "din": [(t.NS_DIN, 2, 0)]}[scn.protocol]
    d.pair("appHand", PT_SAP, t.app_protocol_req(offers), t.app_protocol_res(1))


def _authorize(d: Dialogue, facts: Facts, scn: Scenario, req: Any, res: Any, pnc: bool) -> bool:
    """The authorization wait: Ongoing until the CSMS answered on link B, then the verdict.

    `req()` builds the request, `res(processing, ok)` the response. EIM: the driver taps
    the card some time after the EV asked; PnC: the charger forwards the contract at once.
    """
    first = d.t
    facts.auth_request_ns = first + (40 * MS if pnc else EIM_TAP_DELAY_NS)
    facts.auth_answer_ns = facts.auth_request_ns + CSMS_ANSWER_NS
    ok = Fault.CSMS_REJECTS not in scn.faults
    while True:
        d.pair(d.schema, d.ptype, req(), res("Ongoing", True), think=(90, 110) if d.t > first
               else (8, 25))
        if d.t >= facts.auth_answer_ns:
            break
    d.pair(d.schema, d.ptype, req(), res("Finished", ok), think=(90, 110))
    return ok


def _loop_times(facts: Facts, scn: Scenario, start: int) -> None:
    facts.samples = charge_samples(scn.charge, start)


# ---- ISO 15118-2 ---------------------------------------------------------------------

def _iso2(d: Dialogue, scn: Scenario, facts: Facts) -> None:
    ids, ch = scn.ids, scn.charge
    dc, pnc = ch.mode == "DC", scn.payment == "PnC"
    d.schema, d.ptype = "iso2", PT_SAP
    _handshake(d, scn)
    sid = ids.session_id_hex
    now_s = d.t // SECOND

    def msg(name: str, body: dict, signature: dict | None = None, session: str = sid) -> dict:
        return t.v2g(session, name, body, signature)

    mode = "DC_extended" if dc else "AC_three_phase_core"
    d.pair("iso2", PT_SAP, msg("SessionSetupReq", {"EVCCID": ids.evccid}, session="00"),
           msg("SessionSetupRes", {"ResponseCode": "OK_NewSessionEstablished",
                                   "EVSEID": ids.evse_id, "EVSETimeStamp": now_s}))
    cert_install = pnc and Fault.PNC_CERT in scn.faults
    services = {"ServiceID": 1, "ServiceCategory": "EVCharging", "FreeService": False,
                "SupportedEnergyTransferMode": {"EnergyTransferMode": [mode]}}
    res = {"ResponseCode": "OK",
           "PaymentOptionList": {"PaymentOption": ["Contract", "ExternalPayment"]},
           "ChargeService": services}
    if pnc:
        res["ServiceList"] = {"Service": [{"ServiceID": 2, "ServiceCategory": "ContractCertificate",
                                           "FreeService": True}]}
    d.pair("iso2", PT_SAP, msg("ServiceDiscoveryReq", {}), msg("ServiceDiscoveryRes", res))
    selected = [{"ServiceID": 1}] + ([{"ServiceID": 2, "ParameterSetID": 1}] if cert_install else [])
    d.pair("iso2", PT_SAP, msg("PaymentServiceSelectionReq", {
        "SelectedPaymentOption": "Contract" if pnc else "ExternalPayment",
        "SelectedServiceList": {"SelectedService": selected}}),
        msg("PaymentServiceSelectionRes", {"ResponseCode": "OK"}))
    chain = contract_chain(ids.emaid)
    if cert_install:
        body = {"Id": "ID1", "OEMProvisioningCert": chain.b64(chain.sub_ca_der),
                "ListOfRootCertificateIDs": {"RootCertificateID": [
                    {"X509IssuerName": "CN=V2G Root CA (simulated)", "X509SerialNumber": 1}]}}
        signature = _signature(chain, "ID1", body)
        sent = d.t = d.t + d.ms(8, 25)
        facts.cert_request_ns = sent + 30 * MS
        facts.cert_answer_ns = facts.cert_request_ns + 420 * MS
        answered_ms = (facts.cert_answer_ns - sent) / MS + 15
        failed = {"ResponseCode": "FAILED_NoCertificateAvailable",
                  "SAProvisioningCertificateChain": {"Certificate": ""},
                  "ContractSignatureCertChain": {"Certificate": ""},
                  "ContractSignatureEncryptedPrivateKey": {"Id": "ID2", "value": ""},
                  "DHpublickey": {"Id": "ID3", "value": ""},
                  "eMAID": {"Id": "ID4", "value": ""}}
        d.pair("iso2", PT_SAP, msg("CertificateInstallationReq", body, signature),
               msg("CertificateInstallationRes", failed),
               think=(0, 0), proc=(answered_ms, answered_ms))
        return  # the EV has no contract: it closes the connection
    if pnc:
        d.pair("iso2", PT_SAP, msg("PaymentDetailsReq", {
            "eMAID": ids.emaid,
            "ContractSignatureCertChain": {"Certificate": chain.b64(chain.contract_der),
                                           "SubCertificates": {"Certificate": [
                                               chain.b64(chain.sub_ca_der)]}}}),
            msg("PaymentDetailsRes", {"ResponseCode": "OK",
                                      "GenChallenge": base64.b64encode(d.rng.randbytes(16)).decode(),
                                      "EVSETimeStamp": d.t // SECOND}))
    challenge = base64.b64encode(hashlib.sha256(sid.encode()).digest()[:16]).decode()

    def auth_req() -> dict:
        if not pnc:
            return msg("AuthorizationReq", {})
        body = {"Id": "ID1", "GenChallenge": challenge}
        return msg("AuthorizationReq", body, _signature(chain, "ID1", body))

    def auth_res(processing: str, ok: bool) -> dict:
        return msg("AuthorizationRes", {"ResponseCode": "OK" if ok else "FAILED",
                                        "EVSEProcessing": processing})

    if not _authorize(d, facts, scn, auth_req, auth_res, pnc):
        return
    v = ch.voltage_v
    if dc:
        evp = {"DepartureTime": 3600, "DC_EVStatus": t.dc_ev_status(ch.soc_start),
               "EVMaximumCurrentLimit": t.pv(ch.current_a + 30, "A"),
               "EVMaximumPowerLimit": t.pv(90000, "W"),
               "EVMaximumVoltageLimit": t.pv(v * 1.12, "V"),
               "EVEnergyCapacity": t.pv(60000, "Wh"), "EVEnergyRequest": t.pv(30000, "Wh"),
               "FullSOC": 100, "BulkSOC": 80}
        evsep = {"DC_EVSEStatus": t.dc_evse_status(False),
                 "EVSEMaximumCurrentLimit": t.pv(200, "A"),
                 "EVSEMaximumPowerLimit": t.pv(150000, "W"),
                 "EVSEMaximumVoltageLimit": t.pv(920, "V"),
                 "EVSEMinimumCurrentLimit": t.pv(0, "A"),
                 "EVSEMinimumVoltageLimit": t.pv(150, "V"),
                 "EVSEPeakCurrentRipple": t.pv(5, "A")}
        cpd_req = {"RequestedEnergyTransferMode": mode, "DC_EVChargeParameter": evp}
        cpd_param = {"DC_EVSEChargeParameter": evsep}
    else:
        cpd_req = {"RequestedEnergyTransferMode": mode, "AC_EVChargeParameter": {
            "DepartureTime": 3600, "EAmount": t.pv(20000, "Wh"), "EVMaxVoltage": t.pv(400, "V"),
            "EVMaxCurrent": t.pv(32, "A"), "EVMinCurrent": t.pv(6, "A")}}
        cpd_param = {"AC_EVSEChargeParameter": {"AC_EVSEStatus": t.ac_evse_status(),
                                                "EVSENominalVoltage": t.pv(v, "V"),
                                                "EVSEMaxCurrent": t.pv(ch.current_a, "A")}}
    schedule = {"SAScheduleTuple": [{"SAScheduleTupleID": 1, "PMaxSchedule": {"PMaxScheduleEntry": [
        {"RelativeTimeInterval": {"start": 0, "duration": 86400},
         "PMax": t.pv(150000 if dc else v * ch.current_a * ch.phases, "W")}]}}]}
    d.pair("iso2", PT_SAP, msg("ChargeParameterDiscoveryReq", cpd_req),
           msg("ChargeParameterDiscoveryRes", {"ResponseCode": "OK", "EVSEProcessing": "Finished",
                                               "SAScheduleList": schedule, **cpd_param}))
    status = (lambda **kw: {"DC_EVSEStatus": t.dc_evse_status(False, **kw)}) if dc else (
        lambda: {"AC_EVSEStatus": t.ac_evse_status()})
    if dc:
        _dc_precharge(d, scn, facts, "iso2", msg, din=False)
    pd_ev = ({"DC_EVPowerDeliveryParameter": {"DC_EVStatus": t.dc_ev_status(ch.soc_start),
                                              "ChargingComplete": False}} if dc else {})
    d.pair("iso2", PT_SAP, msg("PowerDeliveryReq", {"ChargeProgress": "Start",
                                                    "SAScheduleTupleID": 1, **pd_ev}),
           msg("PowerDeliveryRes", {"ResponseCode": "OK", **status()}), proc=(60, 120))
    facts.charge_start_ns = d.t
    _loop_times(facts, scn, d.t + 20 * MS)
    meter_id = f"{ids.charge_point_id}-M1"
    for sample in facts.samples:
        d.t = sample.ts_ns - d.ms(8, 14)
        reading = facts.meter_at(sample.ts_ns)
        if dc:
            req = msg("CurrentDemandReq", {
                "DC_EVStatus": t.dc_ev_status(sample.soc),
                "EVTargetCurrent": t.pv(ch.current_a, "A"),
                "EVMaximumVoltageLimit": t.pv(v * 1.12, "V"),
                "EVMaximumCurrentLimit": t.pv(ch.current_a + 30, "A"),
                "EVMaximumPowerLimit": t.pv(90000, "W"),
                "ChargingComplete": False, "EVTargetVoltage": t.pv(sample.voltage_v, "V")})
            res = msg("CurrentDemandRes", {
                "ResponseCode": "OK", **status(),
                "EVSEPresentVoltage": t.pv(sample.voltage_v, "V"),
                "EVSEPresentCurrent": t.pv(sample.current_a, "A"),
                "EVSECurrentLimitAchieved": False, "EVSEVoltageLimitAchieved": False,
                "EVSEPowerLimitAchieved": False, "EVSEID": ids.evse_id, "SAScheduleTupleID": 1,
                "MeterInfo": t.meter_info(meter_id, reading, sample.ts_ns // SECOND)})
        else:
            req = msg("ChargingStatusReq", {})
            res = msg("ChargingStatusRes", {
                "ResponseCode": "OK", "EVSEID": ids.evse_id, "SAScheduleTupleID": 1,
                "EVSEMaxCurrent": t.pv(ch.current_a, "A"),
                "MeterInfo": t.meter_info(meter_id, reading, sample.ts_ns // SECOND),
                "ReceiptRequired": False, "AC_EVSEStatus": t.ac_evse_status()})
        d.pair("iso2", PT_SAP, req, res, think=(8, 14), proc=(8, 20))
    last_soc = facts.samples[-1].soc
    pd_ev = ({"DC_EVPowerDeliveryParameter": {"DC_EVStatus": t.dc_ev_status(last_soc),
                                              "ChargingComplete": True}} if dc else {})
    d.pair("iso2", PT_SAP, msg("PowerDeliveryReq", {"ChargeProgress": "Stop",
                                                    "SAScheduleTupleID": 1, **pd_ev}),
           msg("PowerDeliveryRes", {"ResponseCode": "OK", **status()}), think=(40, 60),
           proc=(150, 300))
    facts.charge_stop_ns = d.t
    if dc:
        for _ in range(2):
            d.pair("iso2", PT_SAP, msg("WeldingDetectionReq", {"DC_EVStatus": t.dc_ev_status(last_soc)}),
                   msg("WeldingDetectionRes", {"ResponseCode": "OK", **status(),
                                               "EVSEPresentVoltage": t.pv(12, "V")}), think=(80, 120))
    d.pair("iso2", PT_SAP, msg("SessionStopReq", {"ChargingSession": "Terminate"}),
           msg("SessionStopRes", {"ResponseCode": "OK"}))


def _signature(chain: Any, ref: str, body: dict) -> dict:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()
    return t.xmldsig(ref, base64.b64encode(digest).decode(),
                     base64.b64encode(chain.sign(digest)).decode())


def _dc_precharge(d: Dialogue, scn: Scenario, facts: Facts, schema: str, msg: Any,
                  din: bool) -> bool:
    """CableCheck (Ongoing, then the verdict) and PreCharge until the voltages meet."""
    ch = scn.charge
    fail = Fault.CABLE_CHECK in scn.faults
    for index in range(4):
        last = index == 3
        processing = "Finished" if last else "Ongoing"
        code = "FAILED" if last and fail else "OK"
        status = t.dc_evse_status(din, code="EVSE_EmergencyShutdown" if last and fail else
                                  "EVSE_Ready", isolation="Fault" if last and fail else "Valid")
        d.pair(schema, PT_SAP, msg("CableCheckReq", {"DC_EVStatus": t.dc_ev_status(ch.soc_start)}),
               msg("CableCheckRes", {"ResponseCode": code, "DC_EVSEStatus": status,
                                     "EVSEProcessing": processing}),
               think=(8, 25) if not index else (450, 550))
    if fail:
        return False
    target = round(ch.voltage_v * 0.97, 1)
    for step in range(6):
        present = round(target * min(1.0, 0.25 + 0.16 * step), 1)
        d.pair(schema, PT_SAP, msg("PreChargeReq", {"DC_EVStatus": t.dc_ev_status(ch.soc_start),
                                                    "EVTargetVoltage": t.pv(target, "V"),
                                                    "EVTargetCurrent": t.pv(2, "A")}),
               msg("PreChargeRes", {"ResponseCode": "OK",
                                    "DC_EVSEStatus": t.dc_evse_status(din),
                                    "EVSEPresentVoltage": t.pv(present, "V")}), think=(40, 60))
    return True


# ---- DIN 70121 ------------------------------------------------------------------------

def _din(d: Dialogue, scn: Scenario, facts: Facts) -> None:
    ids, ch = scn.ids, scn.charge
    d.schema, d.ptype = "din", PT_SAP
    _handshake(d, scn)
    sid = ids.session_id_hex

    def msg(name: str, body: dict, session: str = sid) -> dict:
        return t.v2g(session, name, body)

    evse_id_hex = ids.evse_id.encode("ascii").hex().upper()  # DIN EVSEID is hexBinary
    d.pair("din", PT_SAP, msg("SessionSetupReq", {"EVCCID": ids.evccid}, session="00"),
           msg("SessionSetupRes", {"ResponseCode": "OK_NewSessionEstablished",
                                   "EVSEID": evse_id_hex, "DateTimeNow": d.t // SECOND}))
    d.pair("din", PT_SAP, msg("ServiceDiscoveryReq", {}), msg("ServiceDiscoveryRes", {
        "ResponseCode": "OK", "PaymentOptions": {"PaymentOption": ["ExternalPayment"]},
        "ChargeService": {"ServiceTag": {"ServiceID": 1, "ServiceCategory": "EVCharging"},
                          "FreeService": False, "EnergyTransferType": "DC_extended"}}))
    d.pair("din", PT_SAP, msg("ServicePaymentSelectionReq", {
        "SelectedPaymentOption": "ExternalPayment",
        "SelectedServiceList": {"SelectedService": [{"ServiceID": 1}]}}),
        msg("ServicePaymentSelectionRes", {"ResponseCode": "OK"}))
    if not _authorize(d, facts, scn, lambda: msg("ContractAuthenticationReq", {}),
                      lambda p, ok: msg("ContractAuthenticationRes", {
                          "ResponseCode": "OK" if ok else "FAILED", "EVSEProcessing": p}), False):
        return
    d.pair("din", PT_SAP, msg("ChargeParameterDiscoveryReq", {
        "EVRequestedEnergyTransferType": "DC_extended",
        "DC_EVChargeParameter": {"DC_EVStatus": t.dc_ev_status(ch.soc_start),
                                 "EVMaximumCurrentLimit": t.pv(ch.current_a + 30, "A"),
                                 "EVMaximumPowerLimit": t.pv(90000, "W"),
                                 "EVMaximumVoltageLimit": t.pv(ch.voltage_v * 1.12, "V"),
                                 "EVEnergyCapacity": t.pv(60000, "Wh"),
                                 "EVEnergyRequest": t.pv(30000, "Wh"),
                                 "FullSOC": 100, "BulkSOC": 80}}),
        msg("ChargeParameterDiscoveryRes", {
            "ResponseCode": "OK", "EVSEProcessing": "Finished",
            "SAScheduleList": {"SAScheduleTuple": [{"SAScheduleTupleID": 1, "PMaxSchedule": {
                "PMaxScheduleID": 1, "PMaxScheduleEntry": [
                    {"RelativeTimeInterval": {"start": 0, "duration": 86400}, "PMax": 32767}]}}]},
            "DC_EVSEChargeParameter": {
                "DC_EVSEStatus": t.dc_evse_status(True),
                "EVSEMaximumCurrentLimit": t.pv(200, "A"),
                "EVSEMaximumPowerLimit": t.pv(150000, "W"),
                "EVSEMaximumVoltageLimit": t.pv(920, "V"),
                "EVSEMinimumCurrentLimit": t.pv(0, "A"),
                "EVSEMinimumVoltageLimit": t.pv(150, "V"),
                "EVSEPeakCurrentRipple": t.pv(5, "A")}}))
    if not _dc_precharge(d, scn, facts, "din", msg, din=True):
        return
    status = {"DC_EVSEStatus": t.dc_evse_status(True)}
    d.pair("din", PT_SAP, msg("PowerDeliveryReq", {
        "ReadyToChargeState": True,
        "DC_EVPowerDeliveryParameter": {"DC_EVStatus": t.dc_ev_status(ch.soc_start),
                                        "ChargingComplete": False}}),
        msg("PowerDeliveryRes", {"ResponseCode": "OK", **status}), proc=(60, 120))
    facts.charge_start_ns = d.t
    _loop_times(facts, scn, d.t + 20 * MS)
    for sample in facts.samples:
        d.t = sample.ts_ns - d.ms(8, 14)
        d.pair("din", PT_SAP, msg("CurrentDemandReq", {
            "DC_EVStatus": t.dc_ev_status(sample.soc),
            "EVTargetCurrent": t.pv(ch.current_a, "A"),
            "EVMaximumVoltageLimit": t.pv(ch.voltage_v * 1.12, "V"),
            "EVMaximumCurrentLimit": t.pv(ch.current_a + 30, "A"),
            "EVMaximumPowerLimit": t.pv(90000, "W"),
            "ChargingComplete": False, "EVTargetVoltage": t.pv(sample.voltage_v, "V")}),
            msg("CurrentDemandRes", {
                "ResponseCode": "OK", **status,
                "EVSEPresentVoltage": t.pv(sample.voltage_v, "V"),
                "EVSEPresentCurrent": t.pv(sample.current_a, "A"),
                "EVSECurrentLimitAchieved": False, "EVSEVoltageLimitAchieved": False,
                "EVSEPowerLimitAchieved": False}), think=(8, 14), proc=(8, 20))
    last_soc = facts.samples[-1].soc
    d.pair("din", PT_SAP, msg("PowerDeliveryReq", {
        "ReadyToChargeState": False,
        "DC_EVPowerDeliveryParameter": {"DC_EVStatus": t.dc_ev_status(last_soc),
                                        "ChargingComplete": True}}),
        msg("PowerDeliveryRes", {"ResponseCode": "OK", **status}), think=(40, 60), proc=(150, 300))
    facts.charge_stop_ns = d.t
    for _ in range(2):
        d.pair("din", PT_SAP, msg("WeldingDetectionReq", {"DC_EVStatus": t.dc_ev_status(last_soc)}),
               msg("WeldingDetectionRes", {"ResponseCode": "OK", **status,
                                           "EVSEPresentVoltage": t.pv(12, "V")}), think=(80, 120))
    d.pair("din", PT_SAP, msg("SessionStopReq", {}), msg("SessionStopRes", {"ResponseCode": "OK"}))


# ---- ISO 15118-20 DC -----------------------------------------------------------------

def _iso20(d: Dialogue, scn: Scenario, facts: Facts) -> None:
    ids, ch = scn.ids, scn.charge
    _handshake(d, scn)
    sid = ids.session_id_hex
    cm, dc = "iso20_CommonMessages", "iso20_DC"

    def msg(name: str, body: dict, session: str = sid) -> dict:
        return t.iso20(session, d.t // SECOND, name, body)

    d.pair(cm, PT_ISO20, msg("SessionSetupReq", {"EVCCID": ids.evccid}, session="00" * 8),
           msg("SessionSetupRes", {"ResponseCode": "OK_NewSessionEstablished",
                                   "EVSEID": ids.evse_id}))
    d.pair(cm, PT_ISO20, msg("AuthorizationSetupReq", {}), msg("AuthorizationSetupRes", {
        "ResponseCode": "OK", "AuthorizationServices": ["EIM"],
        "CertificateInstallationService": False, "EIM_ASResAuthorizationMode": {}}))
    d.schema, d.ptype = cm, PT_ISO20
    if not _authorize(d, facts, scn,
                      lambda: msg("AuthorizationReq", {"SelectedAuthorizationService": "EIM",
                                                       "EIM_AReqAuthorizationMode": {}}),
                      lambda p, ok: msg("AuthorizationRes", {
                          "ResponseCode": "OK" if ok else "FAILED", "EVSEProcessing": p}), False):
        return
    d.pair(cm, PT_ISO20, msg("ServiceDiscoveryReq", {}), msg("ServiceDiscoveryRes", {
        "ResponseCode": "OK", "ServiceRenegotiationSupported": False,
        "EnergyTransferServiceList": {"Service": [{"ServiceID": 2, "FreeService": False}]}}))
    d.pair(cm, PT_ISO20, msg("ServiceSelectionReq", {
        "SelectedEnergyTransferService": {"ServiceID": 2, "ParameterSetID": 1}}),
        msg("ServiceSelectionRes", {"ResponseCode": "OK"}))
    v = ch.voltage_v
    d.pair(dc, PT_ISO20_DC, msg("DC_ChargeParameterDiscoveryReq", {"DC_CPDReqEnergyTransferMode": {
        "EVMaximumChargePower": t.rational(90000), "EVMinimumChargePower": t.rational(0),
        "EVMaximumChargeCurrent": t.rational(ch.current_a + 30),
        "EVMinimumChargeCurrent": t.rational(0), "EVMaximumVoltage": t.rational(v * 1.12),
        "EVMinimumVoltage": t.rational(v * 0.8)}}),
        msg("DC_ChargeParameterDiscoveryRes", {"ResponseCode": "OK", "DC_CPDResEnergyTransferMode": {
            "EVSEMaximumChargePower": t.rational(150000), "EVSEMinimumChargePower": t.rational(0),
            "EVSEMaximumChargeCurrent": t.rational(200), "EVSEMinimumChargeCurrent": t.rational(0),
            "EVSEMaximumVoltage": t.rational(920), "EVSEMinimumVoltage": t.rational(150)}}))
    anchor = d.t // SECOND
    d.pair(cm, PT_ISO20, msg("ScheduleExchangeReq", {
        "MaximumSupportingPoints": 24,
        "Scheduled_SEReqControlMode": {"DepartureTime": 3600,
                                       "EVTargetEnergyRequest": t.rational(30000)}}),
        msg("ScheduleExchangeRes", {"ResponseCode": "OK", "EVSEProcessing": "Finished",
                                    "Scheduled_SEResControlMode": {"ScheduleTuple": [{
                                        "ScheduleTupleID": 1, "ChargingSchedule": {"PowerSchedule": {
                                            "TimeAnchor": anchor, "PowerScheduleEntries": {
                                                "PowerScheduleEntry": [{
                                                    "Duration": 86400,
                                                    "Power": t.rational(150000)}]}}}}]}}))
    for index in range(4):
        d.pair(dc, PT_ISO20_DC, msg("DC_CableCheckReq", {}), msg("DC_CableCheckRes", {
            "ResponseCode": "OK", "EVSEProcessing": "Finished" if index == 3 else "Ongoing"}),
            think=(8, 25) if not index else (450, 550))
    target = round(v * 0.97, 1)
    for step in range(6):
        present = round(target * min(1.0, 0.25 + 0.16 * step), 1)
        done = step == 5
        d.pair(dc, PT_ISO20_DC, msg("DC_PreChargeReq", {
            "EVProcessing": "Finished" if done else "Ongoing",
            "EVPresentVoltage": t.rational(target), "EVTargetVoltage": t.rational(target)}),
            msg("DC_PreChargeRes", {"ResponseCode": "OK",
                                    "EVSEPresentVoltage": t.rational(present)}), think=(40, 60))
    d.pair(cm, PT_ISO20, msg("PowerDeliveryReq", {"EVProcessing": "Finished",
                                                  "ChargeProgress": "Start"}),
           msg("PowerDeliveryRes", {"ResponseCode": "OK"}), proc=(60, 120))
    facts.charge_start_ns = d.t
    _loop_times(facts, scn, d.t + 20 * MS)
    for sample in facts.samples:
        d.t = sample.ts_ns - d.ms(8, 14)
        d.pair(dc, PT_ISO20_DC, msg("DC_ChargeLoopReq", {
            "MeterInfoRequested": False, "EVPresentVoltage": t.rational(sample.voltage_v),
            "Scheduled_DC_CLReqControlMode": {"EVTargetCurrent": t.rational(ch.current_a),
                                              "EVTargetVoltage": t.rational(sample.voltage_v)}}),
            msg("DC_ChargeLoopRes", {
                "ResponseCode": "OK", "EVSEPresentCurrent": t.rational(sample.current_a),
                "EVSEPresentVoltage": t.rational(sample.voltage_v),
                "EVSEPowerLimitAchieved": False, "EVSECurrentLimitAchieved": False,
                "EVSEVoltageLimitAchieved": False, "Scheduled_DC_CLResControlMode": {}}),
            think=(8, 14), proc=(8, 20))
    d.pair(cm, PT_ISO20, msg("PowerDeliveryReq", {"EVProcessing": "Finished",
                                                  "ChargeProgress": "Stop"}),
           msg("PowerDeliveryRes", {"ResponseCode": "OK"}), think=(40, 60), proc=(150, 300))
    facts.charge_stop_ns = d.t
    d.pair(dc, PT_ISO20_DC, msg("DC_WeldingDetectionReq", {"EVProcessing": "Finished"}),
           msg("DC_WeldingDetectionRes", {"ResponseCode": "OK",
                                          "EVSEPresentVoltage": t.rational(12)}), think=(80, 120))
    d.pair(cm, PT_ISO20, msg("SessionStopReq", {"ChargingSession": "Terminate"}),
           msg("SessionStopRes", {"ResponseCode": "OK"}))
