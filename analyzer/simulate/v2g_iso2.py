"""Link A: the ISO 15118-2 dialogue (AC or DC, EIM or Plug & Charge)."""

from __future__ import annotations

import base64
import hashlib

from chargescope.analyzer.simulate import v2g_trees as t
from chargescope.analyzer.simulate.dialogue import (
    PT_SAP,
    Dialogue,
    authorize,
    dc_precharge,
    handshake,
    loop_times,
    signature,
)
from chargescope.analyzer.simulate.facts import MS, SECOND, Facts
from chargescope.analyzer.simulate.pki import contract_chain, oem_provisioning
from chargescope.analyzer.simulate.scenarios import Fault, Scenario


def run(d: Dialogue, scn: Scenario, facts: Facts) -> None:
    ids, ch = scn.ids, scn.charge
    dc, pnc = ch.mode == "DC", scn.payment == "PnC"
    d.schema, d.ptype = "iso2", PT_SAP
    handshake(d, scn)
    sid = ids.session_id_hex
    now_s = d.t // SECOND

    def msg(name: str, body: dict, signed: dict | None = None, session: str = sid) -> dict:
        return t.v2g(session, name, body, signed)

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
        oem = oem_provisioning(ids.evccid)
        body = {"Id": "ID1", "OEMProvisioningCert": oem.b64,
                "ListOfRootCertificateIDs": {"RootCertificateID": [
                    {"X509IssuerName": "CN=V2G Root CA (simulated)", "X509SerialNumber": 1}]}}
        install_signature = signature(oem.key, "ID1", "CertificateInstallationReq", body)
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
        d.pair("iso2", PT_SAP, msg("CertificateInstallationReq", body, install_signature),
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
        return msg("AuthorizationReq", body,
                   signature(chain.contract_key, "ID1", "AuthorizationReq", body))

    def auth_res(processing: str, ok: bool) -> dict:
        return msg("AuthorizationRes", {"ResponseCode": "OK" if ok else "FAILED",
                                        "EVSEProcessing": processing})

    if not authorize(d, facts, scn, auth_req, auth_res, pnc):
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
        dc_precharge(d, scn, facts, "iso2", msg, din=False)
    pd_ev = ({"DC_EVPowerDeliveryParameter": {"DC_EVStatus": t.dc_ev_status(ch.soc_start),
                                              "ChargingComplete": False}} if dc else {})
    d.pair("iso2", PT_SAP, msg("PowerDeliveryReq", {"ChargeProgress": "Start",
                                                    "SAScheduleTupleID": 1, **pd_ev}),
           msg("PowerDeliveryRes", {"ResponseCode": "OK", **status()}), proc=(60, 120))
    facts.charge_start_ns = d.t
    loop_times(facts, scn, d.t + 20 * MS)
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
