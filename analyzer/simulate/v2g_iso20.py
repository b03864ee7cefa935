"""Link A: the ISO 15118-20 DC dialogue (EIM, scheduled control mode)."""

from __future__ import annotations

from chargescope.analyzer.simulate import v2g_trees as t
from chargescope.analyzer.simulate.dialogue import (
    PT_ISO20,
    PT_ISO20_DC,
    Dialogue,
    authorize,
    handshake,
    loop_times,
)
from chargescope.analyzer.simulate.facts import MS, SECOND, Facts
from chargescope.analyzer.simulate.scenarios import Scenario


def run(d: Dialogue, scn: Scenario, facts: Facts) -> None:
    ids, ch = scn.ids, scn.charge
    handshake(d, scn)
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
    if not authorize(d, facts, scn,
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
    loop_times(facts, scn, d.t + 20 * MS)
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
