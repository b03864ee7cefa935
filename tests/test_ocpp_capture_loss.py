"""A sniffer loses a link-B segment: OCPP pairing must say "not captured", not "broken".

The demo's link-B capture with one TCP segment taken out (a CALL from the charge point
or the CSMS's CALLRESULT) must give a `websocket.stream.gap` and an
`ocpp.call.not_captured` note instead of the false `ocpp.call.unanswered` (plus a run of
`ocpp.call.concurrent`) or `ocpp.result.unknown_id` the pairing used to report.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import twin_params
from lossy import demo_frames, payload_frames, reassembly_twin
from ocpp_builder import BASE, Ocpp, S

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.ocpp import analyze
from chargescope.analyzer.ocpp.findings import registry
from chargescope.analyzer.ocpp.pairing import PairingTracker
from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import Frame, Message, Severity

CAPTURE = "energy-mismatch-linkB-csms.pcapng"  # OCPP 1.6 over ws://, a clean session
CSMS_PORT = 80
CAPTURE_LOSS_CODES = {"websocket.stream.gap", "ocpp.call.not_captured"}


def _codes(frames: list[Frame]) -> list[str]:
    messages = [m for m in Pipeline().run(frames)
                if isinstance(m, Message) and m.protocol in ("websocket", "ocpp")]
    return sorted(f.code for f in analyze(messages).findings)


@pytest.fixture(params=twin_params("tcpreassembly"))
def impl(request, monkeypatch) -> str:
    return reassembly_twin(request, monkeypatch)


def test_code_is_registered_as_a_note() -> None:
    assert registry()["ocpp.call.not_captured"].severity is Severity.NOTE


def test_whole_capture_has_no_capture_loss_findings(impl: str) -> None:
    assert _codes(demo_frames(CAPTURE)) == []


@pytest.mark.parametrize("to_csms", [False, True], ids=["result-lost", "call-lost"])
@pytest.mark.parametrize("which", [1, 2, 5, 9, -1])  # boot, authorize, start, meter, stop
def test_one_lost_segment_gives_a_note_not_a_pairing_error(impl: str, to_csms: bool,
                                                          which: int) -> None:
    frames = demo_frames(CAPTURE)
    lost = payload_frames(frames, CSMS_PORT, to_csms)[which]
    codes = _codes([f for f in frames if f.number != lost])
    assert codes.count("websocket.stream.gap") == 1
    assert codes.count("ocpp.call.not_captured") == 1
    # a lost StartTransaction (or its answer) leaves the transaction's start not captured
    assert set(codes) - CAPTURE_LOSS_CODES <= {"ocpp.tx.start_not_captured"}
    assert "ocpp.tx.stop_without_start" not in codes
    assert not {"ocpp.call.unanswered", "ocpp.call.concurrent",
                "ocpp.result.unknown_id"} & set(codes)


def _messages(frames: list[Frame]) -> list[Message]:
    return [m for m in Pipeline().run(frames)
            if isinstance(m, Message) and m.protocol in ("websocket", "ocpp")]


def _frame_of(frames: list[Frame], action: str, mtype: str, nth: int = 0) -> int:
    """The frame carrying the `nth` `action` message of type `mtype` in the whole capture."""
    found = [m.refs[0].frame for m in _messages(frames)
             if m.fields.get("action") == action and m.fields.get("message_type") == mtype]
    return found[nth]


def test_lost_start_answer_learns_the_transaction_from_later_messages(impl: str) -> None:
    """OCPP 1.6: the StartTransaction.conf (which assigns the transactionId) is lost; the
    transaction starts with the request and its id is learned from MeterValues."""
    frames = demo_frames(CAPTURE)
    (whole,) = analyze(_messages(frames)).chargers[0].transactions
    lost = _frame_of(frames, "StartTransaction", "CALLRESULT")
    report = analyze(_messages([f for f in frames if f.number != lost]))
    codes = sorted(f.code for f in report.findings)
    assert codes == ["ocpp.call.not_captured", "ocpp.tx.start_not_captured",
                     "websocket.stream.gap"]
    (tx,) = report.chargers[0].transactions
    assert tx.transaction_id == whole.transaction_id
    for name in ("started_ns", "ended_ns", "connector_id", "id_token", "meter_start_wh",
                 "meter_stop_wh", "energy_wh", "stop_reason"):
        assert getattr(tx, name) == getattr(whole, name), name
    assert tx.auth_status is None  # only the lost answer carried it
    (note,) = [f for f in report.findings if f.code == "ocpp.tx.start_not_captured"]
    assert [m.fields.get("action") for m in note.evidence] == ["StartTransaction", "MeterValues"]


def test_lost_start_request_is_a_note_not_a_stop_without_start(impl: str) -> None:
    frames = demo_frames(CAPTURE)
    lost = _frame_of(frames, "StartTransaction", "CALL")
    codes = sorted(f.code for f in analyze(_messages(
        [f for f in frames if f.number != lost])).findings)
    assert codes == ["ocpp.call.not_captured", "ocpp.tx.start_not_captured",
                     "websocket.stream.gap"]


CAPTURE_201 = "dc-pnc-happy-linkB-csms.pcapng"  # OCPP 2.0.1 over ws://, a clean session


def test_201_transaction_started_lost_is_a_note(impl: str) -> None:
    frames = demo_frames(CAPTURE_201)
    assert _codes(frames) == []
    lost = _frame_of(frames, "TransactionEvent", "CALL", 0)  # eventType Started
    report = analyze(_messages([f for f in frames if f.number != lost]))
    codes = sorted(f.code for f in report.findings)
    assert codes == ["ocpp.call.not_captured", "ocpp.tx.start_not_captured",
                     "websocket.stream.gap"]


def test_201_seqno_lost_in_a_gap_says_not_captured(impl: str) -> None:
    frames = demo_frames(CAPTURE_201)
    lost = _frame_of(frames, "TransactionEvent", "CALL", 1)  # the first Updated, seqNo 1
    report = analyze(_messages([f for f in frames if f.number != lost]))
    (gap,) = [f for f in report.findings if f.code == "ocpp.tx.seqno_gap"]
    assert "not captured" in gap.text and "missing" not in gap.text


def test_seqno_missing_without_a_gap_is_still_missing() -> None:
    from chargescope.analyzer.ocpp.transactions import TransactionTracker

    o = Ocpp(version="2.0.1")
    tracker = TransactionTracker()
    for seq, event in [(0, "Started"), (2, "Updated"), (3, "Ended")]:
        tracker.feed(o.call("TransactionEvent", {
            "eventType": event, "timestamp": "2024-01-01T00:00:00Z", "triggerReason": "Authorized",
            "seqNo": seq, "transactionInfo": {"transactionId": "T1"}}, 1 + seq))
    tracker.capture_gap(0, int((BASE + 10) * S))  # after the events: explains nothing
    ((code, text, _),) = tracker.finish()
    assert code == "ocpp.tx.seqno_gap" and "missing seqNo 1" in text and "not captured" not in text


def _lost_start_answer(o: Ocpp, connector: int):
    """A tracker that saw StartTransaction (uid "s", meterStart 10, idTag "T") on
    `connector` and was told its answer was not captured."""
    from chargescope.analyzer.ocpp.transactions import TransactionTracker

    tracker = TransactionTracker()
    start = o.call("StartTransaction", {"connectorId": connector, "idTag": "T",
                                        "meterStart": 10, "timestamp": "2024-01-01T00:00:00Z"},
                   1, uid="s")
    tracker.feed(start)
    tracker.start_answer_not_captured(start)
    return tracker


def test_unanswered_start_is_adopted_only_on_its_connector() -> None:
    o = Ocpp()
    tracker = _lost_start_answer(o, connector=2)
    mv = {"meterValue": [{"timestamp": "2024-01-01T00:00:05Z",
                          "sampledValue": [{"value": "20"}]}]}
    other = tracker.feed(o.call("MeterValues", {"connectorId": 1, "transactionId": 5, **mv}, 5))
    assert other == []  # connector 1's transaction is not the lost start on connector 2
    mine = tracker.feed(o.call("MeterValues", {"connectorId": 2, "transactionId": 6, **mv}, 6))
    assert [c for c, _, _ in mine] == ["ocpp.tx.start_not_captured"]
    by_id = {t.transaction_id: t for t in tracker.transactions()}
    assert by_id["6"].meter_start_wh == 10 and by_id["6"].id_token == "T"
    assert by_id["5"].started_ns is None


DATA_OCPP = Path(__file__).resolve().parent / "data" / "ocpp"


@pytest.mark.parametrize(("capture", "action", "mtype"), [
    ("ocpp16_basic.pcap", "StartTransaction", "CALLRESULT"),
    ("ocpp16_basic.pcap", "StartTransaction", "CALL"),
    # OCPP 2.1 with permessage-deflate (no context takeover): the first TransactionEvent
    # (Started) lost; the WebSocket resync must hand the next CALL on before its answer
    ("ocpp21_nocontext.pcap", "TransactionEvent", "CALL")])
def test_start_lost_from_a_library_made_capture(impl: str, capture: str, action: str,
                                                mtype: str) -> None:
    with open_capture(DATA_OCPP / capture) as source:
        frames = list(source.frames())
    whole = _messages(frames)
    lost = _frame_of(frames, action, mtype)
    codes = sorted(f.code for f in analyze(_messages(
        [f for f in frames if f.number != lost])).findings)
    assert codes == sorted([f.code for f in analyze(whole).findings] + [
        "websocket.stream.gap", "ocpp.call.not_captured", "ocpp.tx.start_not_captured"])


def test_a_late_answer_takes_back_a_start_judged_not_captured() -> None:
    o = Ocpp()
    tracker = _lost_start_answer(o, connector=1)
    tracker.feed(o.result("s", {"transactionId": 9, "idTagInfo": {"status": "Accepted"}}, 50))
    mv = {"meterValue": [{"timestamp": "2024-01-01T00:01:00Z",
                          "sampledValue": [{"value": "20"}]}]}
    assert tracker.feed(o.call("MeterValues", {"connectorId": 1, "transactionId": 10, **mv},
                               60)) == []  # the start is transaction 9's, not 10's
    by_id = {t.transaction_id: t for t in tracker.transactions()}
    assert by_id["9"].id_token == "T" and by_id["9"].meter_start_wh == 10
    assert by_id["10"].started_ns is None


HB = {"currentTime": "2024-01-01T00:00:00Z"}


def _run(tracker: PairingTracker, steps: list) -> list[str]:
    out = []
    for step in steps:
        if isinstance(step, tuple):  # ("gap", direction, t)
            out += [f.code for f in tracker.gap(0, step[1], int((BASE + step[2]) * S))]
        else:
            out += [f.code for f in tracker.feed(step, 0)]
    return out


def test_a_gap_on_the_caller_side_does_not_excuse_a_missing_answer() -> None:
    o = Ocpp()
    t = PairingTracker()
    steps = [o.call("Heartbeat", {}, 1, uid="a"), ("gap", 0, 1.5)]  # CP bytes lost, not CSMS
    codes = _run(t, steps) + [f.code for f in t.expire(int((BASE + 40) * S), None)]
    assert codes == ["ocpp.call.unanswered"]


def test_answer_after_the_gap_is_still_paired() -> None:
    o = Ocpp()
    t = PairingTracker()
    steps = [o.call("Heartbeat", {}, 1, uid="a"), ("gap", 1, 1.05), o.result("a", HB, 1.1),
             o.call("Heartbeat", {}, 2, uid="b"), o.result("b", HB, 2.1)]
    assert _run(t, steps) == []
    assert t.finish({None: (BASE + 3) * S}) == []


@pytest.mark.parametrize("end", ["timeout", "close", "end", "next-call"])
def test_answer_lost_in_a_gap_is_not_captured_however_the_call_ends(end: str) -> None:
    o = Ocpp()
    t = PairingTracker()
    codes = _run(t, [o.call("Heartbeat", {}, 1, uid="a"), ("gap", 1, 1.1)])
    if end == "timeout":
        codes += [f.code for f in t.expire(int((BASE + 40) * S), None)]
    elif end == "close":
        codes += [f.code for f in t.close(0, int((BASE + 2) * S))]
    elif end == "end":
        codes += [f.code for f in t.finish({None: (BASE + 2) * S})]
    else:
        codes += _run(t, [o.call("Heartbeat", {}, 2, uid="b"), o.result("b", HB, 2.1)])
    assert codes == ["ocpp.call.not_captured"]


def test_orphan_answer_is_unknown_id_unless_the_callers_bytes_had_a_gap() -> None:
    o = Ocpp()
    assert _run(PairingTracker(), [o.result("zz", HB, 1)]) == ["ocpp.result.unknown_id"]
    assert _run(PairingTracker(), [("gap", 0, 0.9), o.result("zz", HB, 1)]) == [
        "ocpp.call.not_captured"]
    # long after the gap (beyond the call timeout) an orphan is an orphan again
    assert _run(PairingTracker(), [("gap", 0, 0.9), o.result("zz", HB, 100)]) == [
        "ocpp.result.unknown_id"]


def test_result_lost_under_tls_is_not_captured_on_wss(tmp_path) -> None:
    """Both halves together: a TLS record lost on wss:// reaches the OCPP pairing."""
    from ocpp.messages import Call, CallResult

    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.tls.sources import frames_with_secrets, load_key_logs
    from tests import ws_builder as ws
    from tests.tls_session import wss_capture

    boot = {"chargePointModel": "M", "chargePointVendor": "V"}
    accepted = {"status": "Accepted", "currentTime": "2025-01-01T00:00:00Z", "interval": 300}
    exchange = [(0, ws.request("CP-7")), (1, ws.response())]
    for uid in ("1", "2"):
        exchange += [(0, ws.client_frame(Call(uid, "BootNotification", boot).to_json())),
                     (1, ws.server_frame(CallResult(uid, accepted,
                                                    action="BootNotification").to_json()))]
    path, keyfile = wss_capture(tmp_path, exchange)

    def run(lost: int | None) -> tuple[list[Message], list[str]]:
        keylog = load_key_logs([keyfile])
        with open_capture(path) as capture:
            frames = [f for f in frames_with_secrets(capture, keylog)
                      if not isinstance(f, Frame) or f.number != lost]
        messages = [m for m in Pipeline(keylog=keylog).run(frames) if isinstance(m, Message)
                    and m.protocol in ("websocket", "ocpp")]
        return messages, sorted(f.code for f in analyze(messages).findings)

    whole, codes = run(None)
    assert "ocpp.call.not_captured" not in codes
    (first_result,) = [m for m in whole if m.fields.get("message_type") == "CALLRESULT"
                       and m.fields.get("unique_id") == "1"]
    messages, codes = run(first_result.refs[0].frame)
    assert [m.fields.get("unique_id") for m in messages
            if m.fields.get("message_type") == "CALLRESULT"] == ["2"]  # decryption went on
    assert codes.count("ocpp.call.not_captured") == 1
    assert not {"ocpp.call.unanswered", "ocpp.call.concurrent",
                "ocpp.call.pending_at_end"} & set(codes)
