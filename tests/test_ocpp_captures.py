"""Real traffic: the `ocpp` package's charge point and CSMS recorded on loopback.

tests/data/ocpp holds pcaps made by tools/make_ocpp_captures.py with truth files (the
texts as the charge point sent and received them) and the same traffic as CSMS logs.
The analyzer must reproduce every message, every transaction and the expected findings,
from the capture and from each log format alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ocpp_streams import dissect, stream_events

from chargescope.analyzer.ocpp import analyze
from chargescope.analyzer.ocpp.logs import read_log
from chargescope.dissectors.ocpp import payload_handoff
from chargescope.dissectors.ocpp.codec import rpc_array
from chargescope.dissectors.websocket import stream_factory

DATA = Path(__file__).resolve().parent / "data" / "ocpp"
SCENARIOS = ["ocpp16_basic", "ocpp201_deflate", "ocpp21_nocontext"]
EXPECTED_FINDINGS = {
    "ocpp16_basic": {"ocpp.security.basic_auth_cleartext", "ocpp.auth.rejected", "ocpp.callerror",
                     "ocpp.rpc.malformed", "ocpp.call.unanswered"},
    "ocpp201_deflate": {"ocpp.security.basic_auth_cleartext", "ocpp.tx.seqno_gap", "ocpp.callerror",
                        "ocpp.status.faulted", "ocpp.auth.rejected"},
    "ocpp21_nocontext": {"ocpp.security.basic_auth_cleartext"},
}


def truth(name):
    return json.loads((DATA / f"{name}.truth.json").read_text())


def capture_messages(name):
    return dissect(stream_events(DATA / f"{name}.pcap"), stream_factory([payload_handoff()]))


def check_messages(name, messages):
    expected = truth(name)["messages"]
    ocpp = [m for m in messages if m.protocol == "ocpp"]
    assert len(ocpp) == len(expected)
    for msg, exp in zip(ocpp, expected, strict=True):
        assert msg.fields["direction"] == (0 if exp["direction"] == "cp->csms" else 1)
        try:
            wire = json.loads(exp["text"])
        except ValueError:
            assert [p.kind for p in msg.problems] == ["ocpp.json.syntax"]
            continue
        assert rpc_array(msg.fields) == wire
        if wire[0] in (3, 4):
            assert msg.fields["action"] is not None  # named after its CALL


@pytest.mark.parametrize("name", SCENARIOS)
def test_capture_reproduces_every_message(name):
    msgs = capture_messages(name)
    check_messages(name, msgs)
    t = truth(name)
    ocpp = [m for m in msgs if m.protocol == "ocpp"]
    assert {m.fields["ocpp_version"] for m in ocpp} == {t["subprotocol"].removeprefix("ocpp")}
    assert all(m.fields["version_source"] == "handshake" for m in ocpp)
    compressed = {m.fields["websocket"]["compressed"] for m in ocpp}
    assert compressed == {t["compression"] != "off"}
    assert all(m.refs and m.refs[0].source == f"{name}.pcap" for m in ocpp)


@pytest.mark.parametrize("name", SCENARIOS)
def test_capture_transactions_and_findings(name):
    report = analyze(capture_messages(name))
    assert {f.code for f in report.findings} == EXPECTED_FINDINGS[name]
    (charger,) = report.chargers
    assert charger.charge_point_id == truth(name)["charge_point_id"]
    txs = {t.transaction_id: t for t in charger.transactions}
    for exp in truth(name)["transactions"]:
        tx = txs[str(exp["transaction_id"])]
        if "meter_stop" in exp:
            assert (tx.meter_start_wh, tx.meter_stop_wh) == (exp["meter_start"], exp["meter_stop"])
        if "energy_wh" in exp:
            assert tx.energy_wh == exp["energy_wh"]
        assert tx.stop_reason == exp.get("reason", exp.get("stopped_reason"))
        assert tx.remote_start == exp.get("remote_start", False)


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("fmt", ["jsonl", "log"])
def test_logs_give_the_same_messages(name, fmt):
    version = truth(name)["subprotocol"].removeprefix("ocpp")
    msgs = list(read_log(DATA / f"{name}.{fmt}", version=version))
    check_messages(name, msgs)
    assert {m.fields["charge_point_id"] for m in msgs} == {truth(name)["charge_point_id"]}


def test_log_without_direction_infers_it():
    lines = [json.dumps({"timestamp": 1_700_000_000.5, "message": m}) + "\n" for m in (
        [2, "a", "Heartbeat", {}], [3, "a", {"currentTime": "2024-01-01T00:00:00Z"}],
        [2, "b", "Reset", {"type": "Soft"}], [3, "b", {"status": "Accepted"}])]
    from chargescope.analyzer.ocpp.logs import read_log_lines

    msgs = list(read_log_lines(lines, "x.jsonl"))
    assert [m.fields["direction"] for m in msgs] == [0, 1, 1, 0]
    assert [m.name for m in msgs] == ["Heartbeat Request", "Heartbeat Response", "Reset Request",
                                      "Reset Response"]
    assert msgs[0].ts_ns == 1_700_000_000_500_000_000


def test_unauthorized_handshake():
    msgs = capture_messages("ocpp16_unauthorized")
    report = analyze(msgs)
    assert [m.name for m in msgs] == ["Handshake Request", "Handshake Response", "Connection closed"]
    assert {f.code for f in report.findings} == {"websocket.handshake.rejected",
                                                 "ocpp.security.basic_auth_cleartext"}


def test_link_sessions_for_the_correlator():
    from chargescope.analyzer.correlate import build_sessions
    from chargescope.analyzer.correlate.milestones import MILESTONES
    from chargescope.analyzer.ocpp import link_sessions

    parts = link_sessions(analyze(capture_messages("ocpp16_basic")))
    by_kind = {p.kind: p for p in parts}
    tx = by_kind["ocpp.transaction"]
    assert (tx.ident, tx.outcome, tx.energy_wh, tx.stop_reason) == ("42", "success", 1500, "remote")
    assert tx.keys == {"charge_point_id": "CP16-001", "transaction_id": "42", "id_token": "GOODTAG1",
                       "connector": "1"}
    names = [e.name for e in tx.events]
    assert {"ocpp.authorize_accepted", "ocpp.tx_started", "ocpp.tx_ended", "ocpp.meter"} <= set(names)
    assert "ocpp.authorize_rejected" not in names  # BADTAG01 is another card
    rejected = by_kind["ocpp.authorization"]
    assert rejected.outcome == "failed" and rejected.keys["id_token"] == "BADTAG01"
    assert all(e.name in MILESTONES for p in parts for e in p.events)
    assert build_sessions(parts).sessions


@pytest.mark.parametrize("cut", [0, 5])
def test_capture_starting_mid_connection(cut):
    """Drop the handshake and the first exchanges (and `cut` bytes of the next segment)."""
    from chargescope.analyzer.records import StreamData
    from chargescope.dissectors.websocket.stream import WebSocketStream

    events = stream_events(DATA / "ocpp16_basic.pcap")
    data = [e for e in events if isinstance(e, StreamData)]
    first = data[6]  # after handshake + two exchanges
    kept = [StreamData(first.conn, first.direction, first.offset + cut, first.data[cut:], first.ts_ns,
                       first.refs)] + data[7:]
    ws = WebSocketStream(first.conn, [payload_handoff()])
    msgs = [m for e in kept for m in ws.on_data(e)]
    full = [m for m in capture_messages("ocpp16_basic") if m.protocol == "ocpp"]
    ocpp = [m for m in msgs if m.protocol == "ocpp"]
    tail = full[-len(ocpp):]
    assert [m.fields["unique_id"] for m in ocpp] == [m.fields["unique_id"] for m in tail]
    assert ocpp[-1].fields["ocpp_version"] == "1.6"
    if cut:
        assert msgs[0].name == "Undecoded bytes"
        assert msgs[0].problems[0].kind == "websocket.resync.skipped"
    # names of results paired from the CALLs seen after the cut
    assert all(m.fields["action"] for m in ocpp[2:] if m.fields["message_type"] == "CALLRESULT")


def test_malformed_frame_sent_raw():
    msgs = capture_messages("ocpp16_badframe")
    assert [m.name for m in msgs] == ["Handshake Request", "Handshake Response",
                                      "BootNotification Request", "BootNotification Response",
                                      "Invalid frame", "Close", "Close", "Connection closed"]
    assert [p.kind for p in msgs[4].problems] == ["websocket.opcode.reserved"]
    assert msgs[5].fields["code"] == 1002
    report = analyze(msgs)
    assert {f.code for f in report.findings} == {"ocpp.security.basic_auth_cleartext",
                                                 "websocket.malformed", "websocket.close.abnormal"}
