"""Link A: the DIN 70121 dialogue (DC, external payment only)."""

from __future__ import annotations

from chargescope.analyzer.simulate import v2g_trees as t
from chargescope.analyzer.simulate.dialogue import (
    PT_SAP,
    Dialogue,
    authorize,
    dc_precharge,
    handshake,
    loop_times,
)
from chargescope.analyzer.simulate.facts import MS, SECOND, Facts
from chargescope.analyzer.simulate.scenarios import Scenario


def run(d: Dialogue, scn: Scenario, facts: Facts) -> None:
    ids, ch = scn.ids, scn.charge
    d.schema, d.ptype = "din", PT_SAP
    handshake(d, scn)
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
    if not authorize(d, facts, scn, lambda: msg("ContractAuthenticationReq", {}),
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
    if not dc_precharge(d, scn, facts, "din", msg, din=True):
        return
    status = {"DC_EVSEStatus": t.dc_evse_status(True)}
    d.pair("din", PT_SAP, msg("PowerDeliveryReq", {
        "ReadyToChargeState": True,
        "DC_EVPowerDeliveryParameter": {"DC_EVStatus": t.dc_ev_status(ch.soc_start),
                                        "ChargingComplete": False}}),
        msg("PowerDeliveryRes", {"ResponseCode": "OK", **status}), proc=(60, 120))
    facts.charge_start_ns = d.t
    loop_times(facts, scn, d.t + 20 * MS)
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
