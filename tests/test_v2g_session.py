"""The V2G session analyser on decoded conversations built from the reference trees."""

from __future__ import annotations

import pytest
from v2g_helpers import SID, Script, din_dc_session, prelude

from chargescope.analyzer.records import Severity
from chargescope.analyzer.v2g import FINDINGS, analyse
from chargescope.analyzer.v2g.states import NEXT


def codes(session) -> list[str]:
    return [f.code for f in session.findings]


def only(report):
    assert len(report.sessions) == 1
    return report.sessions[0]


def test_healthy_din_dc_session_is_a_success_with_facts():
    s = only(analyse(din_dc_session().messages))
    assert s.outcome.status == "success" and s.outcome.charged
    assert s.protocol == "din" and s.namespace == "urn:din:70121:2012:MsgDef"
    assert (s.session_id, s.evcc_id, s.evse_id) == (SID, "020000000001", "49A89A")
    assert (s.payment, s.energy_transfer) == ("ExternalPayment", "DC_extended")
    assert [f for f in s.findings if f.severity >= Severity.WARNING] == []
    # every request paired with its response
    assert all(e.request is not None and e.response is not None for e in s.exchanges)
    assert s.exchanges[0].name == "supportedAppProtocol"


def test_failed_response_code_decides_the_verdict():
    s = prelude(Script("din"))
    s.pair("CableCheck", ResponseCode="FAILED", EVSEProcessing="Finished")
    s.close()
    sess = only(analyse(s.messages))
    assert "v2g.response.failed" in codes(sess)
    assert sess.outcome.status == "failed"
    assert sess.outcome.code == "v2g.response.failed" and sess.outcome.stage == "cable check"
    assert "FAILED" in sess.outcome.reason


def test_unexpected_request_is_a_sequence_finding():
    s = Script("din").handshake()
    s.add("SessionSetupReq", sid="00").add("SessionSetupRes", 5)
    s.pair("CurrentDemand")  # skips everything in between
    sess = only(analyse(s.messages))
    found = [f for f in sess.findings if f.code == "v2g.sequence.unexpected"]
    assert found and found[0].extra["after"] == "SessionSetup"
    assert found[0].requirement == "[V2G2-538] [V2G-DC-666]"


def test_repeated_non_loop_request():
    s = Script("din").handshake()
    s.add("SessionSetupReq", sid="00").add("SessionSetupRes", 5)
    s.pair("ServiceDiscovery").pair("ServiceDiscovery")
    assert "v2g.sequence.repeated" in codes(only(analyse(s.messages)))


def test_missing_response_then_reset():
    s = Script("din").handshake()
    s.add("SessionSetupReq", sid="00").add("SessionSetupRes", 5)
    s.add("ServiceDiscoveryReq")
    s.close("rst")
    sess = only(analyse(s.messages))
    assert codes(sess) == ["v2g.response.missing", "v2g.session.tcp_reset"]
    assert sess.outcome.status == "failed"
    assert sess.outcome.code == "v2g.response.missing"
    assert sess.exchanges[-1].response is None


def test_response_timeout_against_the_protocols_value():
    s = Script("din").handshake()
    s.add("SessionSetupReq", sid="00").add("SessionSetupRes", 5)
    # DIN Table 75: CurrentDemand 250 ms; 300 ms is too late, 200 ms is fine
    s.pair("ServiceDiscovery", res_dt_ms=2100)
    sess = only(analyse(s.messages))
    f = [f for f in sess.findings if f.code == "v2g.timing.response_timeout"]
    assert len(f) == 1 and f[0].extra["limit_s"] == 2.0


def test_current_demand_timeout_is_250_ms():
    s = prelude(Script("din"))
    s.pair("CableCheck", EVSEProcessing="Finished").pair("PreCharge").pair("PowerDelivery")
    s.pair("CurrentDemand", res_dt_ms=300).pair("CurrentDemand", res_dt_ms=200)
    sess = only(analyse(s.messages))
    f = [f for f in sess.findings if f.code == "v2g.timing.response_timeout"]
    assert len(f) == 1 and f[0].extra["limit_s"] == 0.25
    assert f[0].evidence[0].name == "CurrentDemandReq"


def test_cable_check_over_40_s_and_ongoing_abandoned():
    s = prelude(Script("iso2"))
    for _ in range(6):
        s.pair("CableCheck", EVSEProcessing="Ongoing", dt_ms=9000)
    s.pair("SessionStop").close()
    sess = only(analyse(s.messages))
    assert "v2g.timing.cable_check_timeout" in codes(sess)
    assert sess.outcome.status == "failed"
    assert sess.outcome.code == "v2g.timing.cable_check_timeout"


def test_precharge_not_converging_then_stop():
    v = lambda x: {"Multiplier": 0, "Unit": "V", "Value": x}  # noqa: E731
    s = prelude(Script("din"))
    s.pair("CableCheck", EVSEProcessing="Finished")
    for present in (10, 20, 30):
        s.pair("PreCharge", req={"EVTargetVoltage": v(400)}, EVSEPresentVoltage=v(present),
               dt_ms=1000)
    s.pair("PowerDelivery", req={"ReadyToChargeState": False}).pair("SessionStop").close()
    sess = only(analyse(s.messages))
    f = [f for f in sess.findings if f.code == "v2g.dc.precharge_not_converged"]
    assert f and f[0].extra["gap_v"] == 370.0
    assert sess.outcome.status == "failed" and sess.outcome.stage == "precharge"
    assert not sess.outcome.charged


def test_precharge_over_7_s_in_din():
    v = lambda x: {"Multiplier": 0, "Unit": "V", "Value": x}  # noqa: E731
    s = Script("din").handshake()
    s.add("SessionSetupReq", sid="00").add("SessionSetupRes", 5)
    for present in (10, 100, 200, 300, 395):
        s.pair("PreCharge", req={"EVTargetVoltage": v(400)}, EVSEPresentVoltage=v(present),
               dt_ms=2000)
    sess = only(analyse(s.messages))
    assert "v2g.timing.precharge_timeout" in codes(sess)
    assert "v2g.dc.precharge_not_converged" not in codes(sess)


def test_evse_emergency_shutdown_and_ev_error():
    status = {"EVSEIsolationStatus": "Fault", "EVSEStatusCode": "EVSE_EmergencyShutdown",
              "NotificationMaxDelay": 0, "EVSENotification": "StopCharging"}
    s = prelude(Script("din"))
    s.pair("CableCheck", EVSEProcessing="Finished").pair("PreCharge")
    s.pair("PowerDelivery", req={"ReadyToChargeState": True})
    s.pair("CurrentDemand", req={"DC_EVStatus__EVErrorCode": "FAILED_RESSTemperatureInhibit"},
           DC_EVSEStatus=status)
    s.close()
    got = set(codes(only(analyse(s.messages))))
    assert {"v2g.evse.shutdown", "v2g.evse.isolation_fault", "v2g.evse.stop_requested",
            "v2g.ev.error"} <= got


def test_stop_notifications_after_the_ev_stops_are_normal():
    s = din_dc_session()
    # the charger reports EVSE_Shutdown only after the EV sent PowerDelivery(stop): normal
    msgs = s.messages
    i = max(k for k, m in enumerate(msgs) if m.name == "WeldingDetectionRes")
    msgs[i].fields["V2G_Message"]["Body"]["WeldingDetectionRes"]["DC_EVSEStatus"][
        "EVSEStatusCode"] = "EVSE_Shutdown"
    sess = only(analyse(msgs))
    assert "v2g.evse.shutdown" not in codes(sess)
    assert sess.outcome.status == "success"


def test_dc_loop_overcurrent_and_overvoltage_are_aggregated():
    v = lambda x, u="V": {"Multiplier": 0, "Unit": u, "Value": x}  # noqa: E731
    s = prelude(Script("iso2"), cpd_req={
        "RequestedEnergyTransferMode": "DC_extended", "AC_EVChargeParameter": None,
        "DC_EVChargeParameter": {"DC_EVStatus": {"EVReady": True, "EVErrorCode": "NO_ERROR",
                                                 "EVRESSSOC": 50},
                                 "EVMaximumCurrentLimit": v(100, "A"),
                                 "EVMaximumVoltageLimit": v(400)}})
    s.pair("CableCheck", EVSEProcessing="Finished").pair("PreCharge").pair("PowerDelivery")
    for present_v, present_i in ((390, 50), (410, 70), (420, 80)):
        s.pair("CurrentDemand", req={"EVTargetVoltage": v(395), "EVTargetCurrent": v(50, "A")},
               EVSEPresentVoltage=v(present_v), EVSEPresentCurrent=v(present_i, "A"))
    s.pair("PowerDelivery", req={"ChargeProgress": "Stop"}).pair("SessionStop").close()
    sess = only(analyse(s.messages))
    got = {f.code: f for f in sess.findings}
    assert got["v2g.dc.overvoltage"].extra == {"stage": "charging loop", "count": 2,
                                               "worst": 20.0}
    assert got["v2g.dc.overcurrent"].extra["count"] == 2
    assert got["v2g.dc.voltage_deviation"].extra["worst"] == 25.0
    # the EV ended the session itself with SessionStop: the violations are findings (exit
    # status 1), the verdict says how the session ended
    assert sess.outcome.status == "success"


def test_handshake_failure():
    s = Script("din").handshake(ok=False).close()
    sess = only(analyse(s.messages))
    assert sess.outcome.code == "v2g.handshake.failed" and sess.outcome.stage == "handshake"


def test_no_handshake_in_capture_means_note_and_schema_protocol():
    s = Script("iso2")
    s.add("ServiceDiscoveryReq").add("ServiceDiscoveryRes", 5)
    sess = only(analyse(s.messages))
    assert sess.protocol == "iso2"
    assert codes(sess) == ["v2g.handshake.not_captured", "v2g.session.capture_ended"]
    assert sess.outcome.status == "incomplete"


def test_session_id_mismatch():
    s = Script("din").handshake()
    s.add("SessionSetupReq", sid="00").add("SessionSetupRes", 5)
    s.add("ServiceDiscoveryReq", sid="FFFF").add("ServiceDiscoveryRes", 5)
    assert "v2g.session.id_mismatch" in codes(only(analyse(s.messages)))


def test_din_payment_must_be_external():
    s = Script("din").handshake()
    s.add("SessionSetupReq", sid="00").add("SessionSetupRes", 5)
    s.pair("ServiceDiscovery").pair("ServicePaymentSelection",
                                    req={"SelectedPaymentOption": "Contract"})
    assert "v2g.payment.not_external" in codes(only(analyse(s.messages)))


def test_iso2_pause_and_resume_is_one_session():
    a = Script("iso2", stream=0).handshake()
    a.add("SessionSetupReq", sid="00").add("SessionSetupRes", 5)
    a.pair("ServiceDiscovery").pair("PaymentServiceSelection",
                                    req={"SelectedPaymentOption": "ExternalPayment"})
    a.pair("Authorization").pair("ChargeParameterDiscovery").pair("PowerDelivery")
    a.pair("SessionStop", req={"ChargingSession": "Pause"}).close()
    b = Script("iso2", stream=1, t0_ms=a.t_ms + 5000).handshake()
    b.add("SessionSetupReq", sid=SID).add("SessionSetupRes", 5, ResponseCode="OK_OldSessionJoined")
    b.pair("ServiceDiscovery").pair("PaymentServiceSelection").pair("Authorization")
    b.pair("ChargeParameterDiscovery").pair("PowerDelivery").pair("ChargingStatus")
    b.pair("PowerDelivery", req={"ChargeProgress": "Stop"}).pair("SessionStop").close()
    sess = only(analyse(a.messages + b.messages))
    assert sess.connections == (0, 1)
    assert sess.outcome.status == "success" and sess.outcome.charged


def test_two_sessions_on_two_connections():
    a = din_dc_session()
    b = din_dc_session()
    msgs = a.messages + [m.__class__(**{**{k: getattr(m, k) for k in m.__slots__},
                                        "fields": {**m.fields, "v2gtp": {"tcp_stream": 1}},
                                        "ts_ns": m.ts_ns + 10**12})
                         for m in b.messages]
    report = analyse(msgs)
    assert len(report.sessions) == 2


def test_iso20_dc_session():
    r = lambda x: {"Exponent": 0, "Value": x}  # noqa: E731
    s = Script("iso20_CommonMessages").handshake()
    s.add("SessionSetupReq", sid="00", EVCCID="WMIV1234567890ABCDEX")
    s.add("SessionSetupRes", 5, EVSEID="DE*ABC*E1")
    s.pair("AuthorizationSetup")
    s.pair("Authorization", EVSEProcessing="Finished")
    s.pair("ServiceDiscovery")
    s.pair("ServiceSelection", req={"SelectedEnergyTransferService": {"ServiceID": 6,
                                                                       "ParameterSetID": 1}})
    s.pair("DC_ChargeParameterDiscovery")
    s.pair("ScheduleExchange", req={"Dynamic_SEReqControlMode": None,
                                    "Scheduled_SEReqControlMode": {}},
           EVSEProcessing="Finished")
    s.pair("DC_CableCheck", EVSEProcessing="Finished")
    s.pair("DC_PreCharge", req={"EVTargetVoltage": r(400)}, EVSEPresentVoltage=r(398))
    s.pair("PowerDelivery")
    s.pair("DC_ChargeLoop", res_dt_ms=600)  # -20 charge loop: 0.5 s
    s.pair("PowerDelivery", req={"ChargeProgress": "Stop"})
    s.pair("DC_WeldingDetection").pair("SessionStop").close()
    sess = only(analyse(s.messages))
    assert sess.protocol == "iso20" and sess.namespace.endswith(":-20:DC")
    assert (sess.payment, sess.energy_transfer, sess.control_mode) == ("EIM", "DC_BPT", "Scheduled")
    assert sess.evcc_id == "WMIV1234567890ABCDEX"
    assert codes(sess) == ["v2g.timing.response_timeout"]


def test_every_code_registered_once_and_named_by_the_table():
    names = [f.code for f in FINDINGS]
    assert len(names) == len(set(names))
    assert all(n.startswith("v2g.") for n in names)
    for table in NEXT.values():
        for state, allowed in table.items():
            # every target is itself a state of the table (no dangling names)
            assert allowed <= set(table), (state, allowed - set(table))


@pytest.mark.parametrize("cut", range(0, 60, 7))
def test_any_prefix_of_a_session_is_analysed_without_error(cut):
    msgs = din_dc_session().messages[:cut]
    report = analyse(msgs)
    for sess in report.sessions:
        assert sess.outcome.status in ("success", "failed", "incomplete")


def test_precharge_gap_accepted_by_the_ev_is_a_warning_not_the_end():
    v = lambda x: {"Multiplier": 0, "Unit": "V", "Value": x}  # noqa: E731
    s = prelude(Script("din"))
    s.pair("CableCheck", EVSEProcessing="Finished")
    for present in (40, 106, 366):
        s.pair("PreCharge", req={"EVTargetVoltage": v(460)}, EVSEPresentVoltage=v(present))
    s.pair("PowerDelivery", req={"ReadyToChargeState": True})
    s.pair("CurrentDemand").pair("PowerDelivery", req={"ReadyToChargeState": False})
    s.pair("WeldingDetection").pair("SessionStop").close()
    sess = only(analyse(s.messages))
    gap = [f for f in sess.findings if f.code == "v2g.dc.precharge_gap"]
    assert gap and gap[0].extra["gap_v"] == 94.0 and gap[0].severity == Severity.WARNING
    assert "v2g.dc.precharge_not_converged" not in codes(sess)
    assert sess.outcome.status == "success"


def test_half_close_waits_for_the_late_response():
    s = prelude(Script("iso2"))
    s.pair("CableCheck", EVSEProcessing="Finished").pair("PreCharge").pair("PowerDelivery")
    s.add("CurrentDemandReq")
    s.close("fin", by="client")  # the EV closes its side first ...
    s.add("CurrentDemandRes", 5)  # ... and the charger still answers
    s.close("fin", by="server")
    sess = only(analyse(s.messages))
    assert "v2g.response.missing" not in codes(sess)
    assert "v2g.response.unsolicited" not in codes(sess)
    assert sess.outcome.code == "v2g.session.no_stop"
    assert "client closed" in sess.outcome.reason


def test_one_sided_fin_at_end_of_capture_still_names_the_closer():
    s = prelude(Script("iso2")).close("fin", by="server")
    sess = only(analyse(s.messages))
    assert sess.outcome.code == "v2g.session.no_stop" and "server" in sess.outcome.reason


def test_a_failing_loop_is_one_finding_with_a_count():
    s = prelude(Script("din"))
    for _ in range(50):
        s.pair("CableCheck", ResponseCode="FAILED_SequenceError", EVSEProcessing="Finished")
    sess = only(analyse(s.messages))
    failed = [f for f in sess.findings if f.code == "v2g.response.failed"]
    assert len(failed) == 1 and failed[0].extra["count"] == 50
    assert failed[0].evidence[0].ts_ns < s.messages[-1].ts_ns  # the first occurrence


def test_current_demand_after_power_delivery_stop_is_the_fatal_error():
    # pyPLC 2022-12-20 alpi: a slow precharge the EV ignored, then PowerDelivery with
    # ReadyToChargeState=false followed by CurrentDemand -> FAILED_SequenceError, shutdown
    v = lambda x: {"Multiplier": 0, "Unit": "V", "Value": x}  # noqa: E731
    s = prelude(Script("din"))
    s.pair("CableCheck", EVSEProcessing="Finished")
    for present in (0, 230, 230, 230, 230):
        s.pair("PreCharge", req={"EVTargetVoltage": v(230)}, EVSEPresentVoltage=v(present),
               dt_ms=1900)
    s.pair("PowerDelivery", req={"ReadyToChargeState": False})
    s.pair("CurrentDemand", ResponseCode="FAILED_SequenceError")
    s.add("CurrentDemandReq")  # the EV tries once more; the charger resets
    s.close("rst")
    sess = only(analyse(s.messages))
    assert {"v2g.timing.precharge_timeout", "v2g.sequence.unexpected",
            "v2g.response.failed"} <= set(codes(sess))
    # the EV went on after its own sequence error; the charger's FAILED answer ended it
    assert sess.outcome.code == "v2g.response.failed"
    assert sess.outcome.stage == "charging loop"
    unexpected = next(f for f in sess.findings if f.code == "v2g.sequence.unexpected")
    assert "PowerDelivery:stop" in unexpected.text


def test_old_connection_reset_after_resume_is_not_a_failure():
    a = Script("iso2", stream=0).handshake()
    a.add("SessionSetupReq", sid="00").add("SessionSetupRes", 5)
    a.pair("ServiceDiscovery").pair("PaymentServiceSelection").pair("Authorization")
    a.pair("ChargeParameterDiscovery").pair("PowerDelivery")
    a.pair("SessionStop", req={"ChargingSession": "Pause"})
    b = Script("iso2", stream=1, t0_ms=a.t_ms + 5000).handshake()
    b.add("SessionSetupReq", sid=SID).add("SessionSetupRes", 5, ResponseCode="OK_OldSessionJoined")
    old_reset = Script("iso2", stream=0, t0_ms=b.t_ms + 1).close("rst")  # late RST, old conn
    b.pair("ServiceDiscovery").pair("PaymentServiceSelection").pair("Authorization")
    b.pair("ChargeParameterDiscovery").pair("PowerDelivery").pair("ChargingStatus")
    b.pair("PowerDelivery", req={"ChargeProgress": "Stop"}).pair("SessionStop").close("rst")
    msgs = sorted(a.messages + b.messages + old_reset.messages, key=lambda m: m.ts_ns)
    sess = only(analyse(msgs))
    assert "v2g.session.tcp_reset" not in codes(sess)
    assert sess.outcome.status == "success"


def test_late_responses_the_ev_tolerated_do_not_make_the_verdict():
    # Josev ISO-2 DC against Josev: CurrentDemandRes 575 ms late, the EV charged on and
    # stopped normally (its own log: "Communication session terminated")
    s = prelude(Script("iso2"))
    s.pair("CableCheck", EVSEProcessing="Finished").pair("PreCharge").pair("PowerDelivery")
    for _ in range(5):
        s.pair("CurrentDemand", res_dt_ms=575)
    s.pair("PowerDelivery", req={"ChargeProgress": "Stop"}).pair("WeldingDetection")
    s.pair("SessionStop").close()
    sess = only(analyse(s.messages))
    assert "v2g.timing.response_timeout" in codes(sess)
    assert sess.outcome.status == "success"


def test_dc_steps_in_an_ac_session_are_out_of_sequence():
    s = prelude(Script("iso2"), cpd_req={"RequestedEnergyTransferMode": "AC_three_phase_core"})
    s.pair("CableCheck", ResponseCode="FAILED_SequenceError")
    sess = only(analyse(s.messages))
    assert "v2g.sequence.unexpected" in codes(sess)


def _sdp(name, ts, port=61000, security="NoTLS"):
    from chargescope.analyzer.records import Link, Message
    fields = {"Security": security, "TransportProtocol": "TCP"}
    if name == "SDPResponse":
        fields.update(SECCIPAddress="fe80::1", SECCPort=port)
    return Message(Link.A, "sdp", name, ts, "", "", fields)


def test_sdp_findings():
    s = din_dc_session()  # the SECC is [fe80::1]:61000
    msgs = [_sdp("SDPRequest", 1), _sdp("SDPRequest", 2), _sdp("SDPResponse", 3, 62000)]
    report = analyse(msgs + s.messages)
    got = {f.code: f for f in report.findings}
    assert set(got) == {"v2g.sdp.retries", "v2g.sdp.port_mismatch"}
    assert got["v2g.sdp.port_mismatch"].extra["used_port"] == 61000
    tls = analyse([_sdp("SDPRequest", 1), _sdp("SDPResponse", 2, 62000, "TLS")])
    assert [f.code for f in tls.findings] == ["v2g.tls.not_decrypted"]
    lone = analyse([_sdp("SDPRequest", 1), _sdp("SDPRequest", 2)])
    assert {f.code for f in lone.findings} == {"v2g.sdp.unanswered", "v2g.sdp.retries"}
    plain = analyse([_sdp("SDPRequest", 1), _sdp("SDPResponse", 2, 62000)])
    assert [f.code for f in plain.findings] == ["v2g.sdp.no_connection"]


def test_more_than_50_sdp_requests():
    report = analyse([_sdp("SDPRequest", i) for i in range(1, 53)])
    limit = [f for f in report.findings if f.code == "v2g.sdp.retry_limit"]
    assert limit and limit[0].extra["count"] == 52 and limit[0].requirement == "[V2G2-161]"
    assert limit[0].evidence[0].ts_ns == 51  # the 51st request is the first too many
