"""Session builder: transactions (1.6 and 2.x), charger state and checks, by finding code."""

from __future__ import annotations

import pytest
from ocpp_builder import Ocpp, exchange

from chargescope.analyzer.ocpp import analyze
from chargescope.analyzer.ocpp.findings import SPECS, registry

OK16 = {"idTagInfo": {"status": "Accepted"}}
T0 = "2024-01-01T00:00:00Z"


def codes(report):
    return [f.code for f in report.findings]


def mv16(tx, wh, conn=1):
    return {"connectorId": conn, "transactionId": tx, "meterValue": [
        {"timestamp": T0, "sampledValue": [{"value": str(wh), "unit": "Wh"}]}]}


def test_registry_codes_are_unique_and_namespaced():
    assert len({s.code for s in SPECS}) == len(SPECS)
    assert all(s.code.split(".")[0] in ("ocpp", "websocket") for s in SPECS)
    assert "E01.FR.07" == registry()["ocpp.tx.seqno_gap"].requirement


def test_16_transaction_rebuilt_with_energy_and_reason():
    o = Ocpp()
    msgs = []
    msgs += exchange(o, "Authorize", {"idTag": "T1"}, OK16, 1)
    msgs += exchange(o, "StartTransaction", {"connectorId": 1, "idTag": "T1", "meterStart": 100,
                                             "timestamp": T0}, {"transactionId": 7, **OK16}, 2)
    msgs += exchange(o, "MeterValues", mv16(7, 600), {}, 3)
    msgs += exchange(o, "MeterValues", {"connectorId": 1, "transactionId": 7, "meterValue": [
        {"timestamp": T0, "sampledValue": [{"value": "1.1", "unit": "kWh",
                                            "measurand": "Energy.Active.Import.Register"}]}]}, {}, 4)
    msgs += exchange(o, "StopTransaction", {"transactionId": 7, "meterStop": 1200, "timestamp": T0,
                                            "reason": "EVDisconnected"}, {}, 5)
    report = analyze(msgs)
    assert codes(report) == []
    (tx,) = report.chargers[0].transactions
    assert (tx.transaction_id, tx.id_token, tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh,
            tx.stop_reason, tx.connector_id) == ("7", "T1", 100, 1200, 1100, "EVDisconnected", 1)


def test_16_lifecycle_faults():
    o = Ocpp()
    msgs = []
    msgs += exchange(o, "StartTransaction", {"connectorId": 1, "idTag": "T1", "meterStart": 500,
                                             "timestamp": T0}, {"transactionId": 7, **OK16}, 1)
    msgs += exchange(o, "MeterValues", mv16(7, 900), {}, 2)
    msgs += exchange(o, "MeterValues", mv16(7, 800), {}, 3)  # register goes backwards
    msgs += exchange(o, "StopTransaction", {"transactionId": 7, "meterStop": 950, "timestamp": T0}, {}, 4)
    msgs += exchange(o, "StopTransaction", {"transactionId": 7, "meterStop": 950, "timestamp": T0}, {}, 5)
    msgs += exchange(o, "StopTransaction", {"transactionId": -1, "meterStop": 10, "timestamp": T0}, {}, 6)
    got = codes(analyze(msgs))
    assert got == ["ocpp.meter.decreasing", "ocpp.tx.after_end", "ocpp.tx.invalid_id",
                   "ocpp.tx.stop_without_start"]
    tx = analyze(msgs).chargers[0].transactions[0]
    assert tx.stop_reason == "Local"  # absent reason means Local


def test_16_stop_below_meter_values_is_inconsistent():
    o = Ocpp()
    msgs = []
    msgs += exchange(o, "StartTransaction", {"connectorId": 1, "idTag": "T1", "meterStart": 0,
                                             "timestamp": T0}, {"transactionId": 3, **OK16}, 1)
    msgs += exchange(o, "MeterValues", mv16(3, 900), {}, 2)
    msgs += exchange(o, "StopTransaction", {"transactionId": 3, "meterStop": 500, "timestamp": T0}, {}, 3)
    assert codes(analyze(msgs)) == ["ocpp.meter.stop_inconsistent"]


def test_authorization_rejections():
    o = Ocpp()
    msgs = exchange(o, "Authorize", {"idTag": "BAD"}, {"idTagInfo": {"status": "Blocked"}}, 1)
    msgs += exchange(o, "StartTransaction", {"connectorId": 1, "idTag": "BAD", "meterStart": 0,
                                             "timestamp": T0},
                     {"transactionId": 1, "idTagInfo": {"status": "Invalid"}}, 2)
    assert codes(analyze(msgs)) == ["ocpp.auth.rejected", "ocpp.auth.rejected"]


def tx_event(event, seq, tx="T-1", wh=None, **extra):
    p = {"eventType": event, "timestamp": T0, "triggerReason": "Authorized", "seqNo": seq,
         "transactionInfo": {"transactionId": tx, **extra.pop("info", {})}, **extra}
    if wh is not None:
        p["meterValue"] = [{"timestamp": T0, "sampledValue": [
            {"value": wh, "unitOfMeasure": {"unit": "kWh", "multiplier": 0}}]}]
    return p


def test_2x_transaction_with_seqno_gap_and_events_after_end():
    o = Ocpp("2.0.1")
    msgs = []
    msgs += exchange(o, "TransactionEvent", tx_event("Started", 0, wh=1.0, evse={"id": 2, "connectorId": 1},
                                                     idToken={"idToken": "AB", "type": "ISO14443"}), {}, 1)
    msgs += exchange(o, "TransactionEvent", tx_event("Updated", 1, wh=2.5), {}, 2)
    msgs += exchange(o, "TransactionEvent", tx_event("Ended", 4, wh=3.0, info={"stoppedReason": "EVDisconnected"}),
                     {}, 3)
    msgs += exchange(o, "TransactionEvent", tx_event("Updated", 5), {}, 4)
    report = analyze(msgs)
    assert codes(report) == ["ocpp.tx.seqno_gap", "ocpp.tx.after_end"]
    (tx,) = report.chargers[0].transactions
    assert (tx.evse_id, tx.connector_id, tx.id_token, tx.id_token_type) == (2, 1, "AB", "ISO14443")
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (1000, 3000, 2000)
    assert tx.stop_reason == "EVDisconnected" and tx.seq_nos == (0, 1, 4, 5)


def test_2x_ended_without_started():
    o = Ocpp("2.0.1")
    msgs = exchange(o, "TransactionEvent", tx_event("Ended", 3), {}, 1)
    assert codes(analyze(msgs)) == ["ocpp.tx.stop_without_start"]


def boot16(status, interval=60):
    return {"status": status, "currentTime": T0, "interval": interval}


BOOT16 = {"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "1.2",
          "chargePointSerialNumber": "S1"}


def test_boot_pending_loop_rejected_and_calls_before_acceptance():
    o = Ocpp()
    msgs = []
    for i in range(3):
        msgs += exchange(o, "BootNotification", BOOT16, boot16("Pending"), 1 + i)
    msgs += exchange(o, "Heartbeat", {}, {"currentTime": T0}, 5)  # B02.FR.09
    msgs += exchange(o, "BootNotification", BOOT16, boot16("Rejected"), 6)
    msgs += exchange(o, "BootNotification", BOOT16, boot16("Accepted", 30), 7)
    report = analyze(msgs)
    assert codes(report) == ["ocpp.boot.pending_loop", "ocpp.boot.call_before_accepted",
                             "ocpp.boot.rejected"]
    ch = report.chargers[0]
    assert ch.boot == {"vendor": "V", "model": "M", "firmware": "1.2", "serial": "S1", "reason": None}
    assert ch.heartbeat_interval == 30
    assert [s for _, s in ch.boot_statuses] == ["Pending"] * 3 + ["Rejected", "Accepted"]


def test_missed_heartbeats_and_status_timeline():
    o = Ocpp()
    msgs = exchange(o, "BootNotification", BOOT16, boot16("Accepted", 10), 0)
    msgs += exchange(o, "Heartbeat", {}, {"currentTime": T0}, 10)
    msgs += exchange(o, "StatusNotification", {"connectorId": 1, "errorCode": "GroundFailure",
                                               "status": "Faulted"}, {}, 45)  # 35 s silence
    report = analyze(msgs)
    assert codes(report) == ["ocpp.heartbeat.missed", "ocpp.status.faulted"]
    (s,) = report.chargers[0].status_timeline
    assert (s.connector_id, s.status, s.error_code) == (1, "Faulted", "GroundFailure")


def test_schema_violation_error_spelling_and_time_checks():
    o = Ocpp("2.0.1")
    msgs = [o.call("Heartbeat", {"bogus": 1}, 1)]
    msgs.append(o.error(msgs[0].fields["unique_id"], "FormationViolation", 1.1))
    msgs += exchange(o, "StatusNotification", {"timestamp": "2024-01-01T00:00:00", "connectorStatus":
                                               "Available", "evseId": 1, "connectorId": 1}, {}, 2)
    msgs += exchange(o, "StatusNotification", {"timestamp": "1970-01-01T00:00:05Z", "connectorStatus":
                                               "Available", "evseId": 1, "connectorId": 1}, {}, 3)
    msgs += exchange(o, "StatusNotification", {"timestamp": "yesterday", "connectorStatus":
                                               "Available", "evseId": 1, "connectorId": 1}, {}, 4)
    report = analyze(msgs)
    assert codes(report) == ["ocpp.schema.violation", "ocpp.callerror", "ocpp.callerror.code_unknown",
                             "ocpp.time.no_timezone", "ocpp.time.implausible", "ocpp.time.drift",
                             "ocpp.time.malformed"]
    spelling = report.findings[2].text
    assert "FormatViolation" in spelling


def test_payload_of_another_version_is_a_version_mismatch():
    o = Ocpp("2.0.1")
    msgs = exchange(o, "BootNotification", BOOT16, {"status": "Accepted", "currentTime": T0,
                                                    "interval": 5}, 1)
    got = codes(analyze(msgs))
    assert got[:2] == ["ocpp.schema.violation", "ocpp.version.mismatch"]


def test_reconnect_storm_and_subprotocol_checks():
    msgs = []
    for i in range(3):
        o = Ocpp(conn=i)
        msgs.append(o.ws("Handshake Request", i * 5, subprotocols_offered=["ocpp1.6"]))
        msgs.append(o.ws("Handshake Response", i * 5 + 0.01, status=101,
                         subprotocol="ocpp1.6" if i < 2 else "ocpp2.0.1"))
        msgs.append(o.ws("Connection closed", i * 5 + 1, event="close"))
    got = codes(analyze(msgs))
    assert got == ["ocpp.reconnect.storm", "ocpp.subprotocol.mismatch", "ocpp.subprotocol.changed"]


def test_unanswered_call_on_close_is_an_error_finding():
    o = Ocpp()
    msgs = [o.call("Heartbeat", {}, 1), o.ws("Connection closed", 2, event="close")]
    report = analyze(msgs)
    assert codes(report) == ["ocpp.call.unanswered"]
    assert report.worst is not None and str(report.worst) == "error"


def test_certificate_operations_without_tls():
    o = Ocpp("2.0.1")
    msgs = exchange(o, "SignCertificate", {"csr": "x"}, {"status": "Accepted"}, 1)
    assert codes(analyze(msgs)) == []  # from a log: transport unknown
    o.dec.capture = "site.pcap"
    msgs = exchange(o, "SignCertificate", {"csr": "x"}, {"status": "Accepted"}, 1)
    assert codes(analyze(msgs)) == ["ocpp.security.cert_ops_without_tls"]


def test_energy_rising_after_faulted_and_stuck_connector():
    o = Ocpp()
    msgs = exchange(o, "StartTransaction", {"connectorId": 1, "idTag": "T1", "meterStart": 0,
                                            "timestamp": T0}, {"transactionId": 5, **OK16}, 1)
    msgs += exchange(o, "MeterValues", mv16(5, 100), {}, 2)
    msgs += exchange(o, "StatusNotification", {"connectorId": 1, "errorCode": "OverCurrentFailure",
                                               "status": "Faulted"}, {}, 3)
    msgs += exchange(o, "MeterValues", mv16(5, 400), {}, 4)
    msgs += exchange(o, "MeterValues", mv16(5, 700), {}, 5)  # reported once per fault
    msgs += exchange(o, "Heartbeat", {}, {"currentTime": T0}, 900)  # capture runs on
    got = codes(analyze(msgs))
    assert got == ["ocpp.status.faulted", "ocpp.status.energy_while_faulted", "ocpp.status.stuck"]


def test_faulted_without_energy_is_not_charging():
    o = Ocpp()
    msgs = exchange(o, "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                              "status": "Finishing"}, {}, 1)
    msgs += exchange(o, "Heartbeat", {}, {"currentTime": T0}, 60)
    assert codes(analyze(msgs)) == []  # Finishing for a minute is not stuck


def test_station_clock_drift_reported_once():
    o = Ocpp()
    now = 0  # capture clock: 2024-01-01T00:00:00Z
    late = "2024-01-01T00:10:00Z"  # = now + 600 s
    msgs = exchange(o, "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                              "status": "Available", "timestamp": late}, {}, now)
    msgs += exchange(o, "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                               "status": "Available", "timestamp": late}, {}, now + 1)
    report = analyze(msgs)
    assert codes(report) == ["ocpp.time.drift"]
    assert "+600 s" in report.findings[0].text
    ok = exchange(Ocpp(), "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                                 "status": "Available", "timestamp": late}, {}, now + 590)
    assert codes(analyze(ok)) == []


def test_csms_requests_to_a_rejected_station():
    o = Ocpp()
    msgs = exchange(o, "BootNotification", BOOT16, boot16("Rejected"), 1)
    msgs += exchange(o, "GetConfiguration", {}, {"configurationKey": []}, 2, direction=1)
    msgs += exchange(o, "GetConfiguration", {}, {"configurationKey": []}, 3, direction=1)
    msgs += exchange(o, "BootNotification", BOOT16, boot16("Accepted"), 4)
    msgs += exchange(o, "GetConfiguration", {}, {"configurationKey": []}, 5, direction=1)
    assert codes(analyze(msgs)) == ["ocpp.boot.rejected", "ocpp.boot.csms_call_while_rejected"]


def test_connection_dropped_after_silence_without_close_frame():
    o = Ocpp()
    msgs = exchange(o, "Heartbeat", {}, {"currentTime": T0}, 1)
    msgs.append(o.ws("Connection closed", 61.2, event="close", reason="rst"))
    report = analyze(msgs)
    assert codes(report) == ["ocpp.connection.idle_drop"]
    assert "60.2 s" in report.findings[0].text
    o2 = Ocpp(conn=1)
    clean = exchange(o2, "Heartbeat", {}, {"currentTime": T0}, 1)
    clean += [o2.ws("Close", 61, code=1000), o2.ws("Connection closed", 61.2, event="close")]
    assert codes(analyze(clean)) == []


def test_heartbeat_interval_follows_accepted_changes():
    o = Ocpp()
    msgs = exchange(o, "BootNotification", BOOT16, boot16("Accepted", 10), 0)
    msgs += exchange(o, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "300"},
                     {"status": "Accepted"}, 1, direction=1)
    msgs += exchange(o, "Heartbeat", {}, {"currentTime": T0}, 2)
    msgs += exchange(o, "Heartbeat", {}, {"currentTime": T0}, 250)  # fine at 300 s
    report = analyze(msgs)
    assert codes(report) == [] and report.chargers[0].heartbeat_interval == 300
    o2 = Ocpp("2.0.1")
    msgs = exchange(o2, "SetVariables", {"setVariableData": [
        {"attributeValue": "30", "component": {"name": "OCPPCommCtrlr"},
         "variable": {"name": "HeartbeatInterval"}}]}, {"setVariableResult": [
        {"attributeStatus": "Rejected", "component": {"name": "OCPPCommCtrlr"},
         "variable": {"name": "HeartbeatInterval"}}]}, 1, direction=1)
    assert analyze(msgs).chargers[0].heartbeat_interval is None  # rejected: unchanged


@pytest.mark.parametrize("result", [True, 5, "Accepted", [True, {"attributeStatus": "Accepted",
                                                                 "variable": "HeartbeatInterval"}]])
def test_a_broken_set_variables_result_changes_nothing_and_never_crashes(result):
    # a schema-invalid answer is still analysed: its shape must not stop the analysis
    o2 = Ocpp("2.0.1")
    msgs = exchange(o2, "SetVariables", {"setVariableData": [
        {"attributeValue": "30", "component": {"name": "OCPPCommCtrlr"},
         "variable": {"name": "HeartbeatInterval"}}]}, {"setVariableResult": result}, 1,
        direction=1)
    assert analyze(msgs).chargers[0].heartbeat_interval is None
