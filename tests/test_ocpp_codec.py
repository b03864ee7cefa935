"""OCPP-J RPC framing and schema validation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.dissectors.ocpp import looks_like_ocpp
from chargescope.dissectors.ocpp.codec import parse_rpc
from chargescope.dissectors.ocpp.conversation import OcppDecoder
from chargescope.dissectors.ocpp.schemas import SchemaStore, default_store


@pytest.mark.parametrize("text, mtype, uid, action, kinds", [
    ('[2,"1","Heartbeat",{}]', 2, "1", "Heartbeat", []),
    ('[3,"1",{"currentTime":"2024-01-01T00:00:00Z"}]', 3, "1", None, []),
    ('[4,"1","NotImplemented","nope",{}]', 4, "1", None, []),
    ('[5,"1","InternalError","bad result",{}]', 5, "1", None, []),
    ('[6,"1","NotifyPeriodicEventStream",{}]', 6, "1", "NotifyPeriodicEventStream", []),
    ('[2,"1","Heartbeat"]', 2, "1", "Heartbeat", ["ocpp.rpc.shape", "ocpp.rpc.payload"]),
    ('[2,1,"Heartbeat",{}]', 2, "1", "Heartbeat", ["ocpp.rpc.unique_id"]),
    ('[2,"' + "x" * 37 + '","Heartbeat",{}]', 2, "x" * 37, "Heartbeat", ["ocpp.rpc.unique_id"]),
    ('[7,"1",{}]', 7, "1", None, ["ocpp.rpc.type_unknown"]),
    ('{"a":1}', None, None, None, ["ocpp.rpc.not_array"]),
    ('[2,"1","Heartbeat",{', None, None, None, ["ocpp.json.syntax"]),
    ('[3,"1",[]]', 3, "1", None, ["ocpp.rpc.payload"]),
    ('[4,"1",5,"x",{}]', 4, "1", None, ["ocpp.rpc.error_code"]),
])
def test_rpc_shapes(text, mtype, uid, action, kinds):
    rpc = parse_rpc(text.encode())
    assert rpc.message_type_id == mtype
    assert rpc.unique_id == uid
    assert rpc.action == action
    assert [k for k, _, _ in rpc.problems] == kinds


def test_json_syntax_error_carries_offset():
    rpc = parse_rpc(b'[2,"1","Heartbeat",{')
    assert rpc.problems[0][2] > 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_hostile_bytes_never_raise(data):
    parse_rpc(data)
    OcppDecoder(0, version="1.6").decode(data, direction=0, ts_ns=0, src="a", dst="b")


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                           lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
                           max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values, max_size=6))
def test_any_json_array_decodes_to_a_message(doc):
    for version in ("1.6", "2.0.1", "2.1"):
        msg = OcppDecoder(0, version=version).decode(json.dumps(doc).encode(), direction=1,
                                                     ts_ns=0, src="a", dst="b")
        assert msg.protocol == "ocpp"
        json.dumps(msg.fields)  # stays JSON-serialisable


def test_validation_names_pointer_and_rule():
    store = SchemaStore()
    bad = {"chargePointVendor": "x" * 21, "chargePointModel": "M", "extra": 1}
    violations = store.validate("1.6", "BootNotification", False, bad)
    assert {(v.pointer, v.rule) for v in violations} == {("/chargePointVendor", "maxLength"),
                                                         ("", "additionalProperties")}
    assert store.validate("1.6", "BootNotification", False,
                          {"chargePointVendor": "V", "chargePointModel": "M"}) == []
    assert store.validate("1.6", "NoSuchAction", False, {}) is None


def test_nested_pointer_for_2x_meter_values():
    payload = {"eventType": "Started", "timestamp": "2024-01-01T00:00:00Z", "triggerReason": "Authorized",
               "seqNo": 0, "transactionInfo": {"transactionId": "t"},
               "meterValue": [{"timestamp": "2024-01-01T00:00:00Z",
                               "sampledValue": [{"value": 1, "measurand": "Bogus"}]}]}
    violations = default_store().validate("2.0.1", "TransactionEvent", False, payload)
    assert [(v.pointer, v.rule) for v in violations] == [("/meterValue/0/sampledValue/0/measurand", "enum")]


def test_actions_per_version():
    store = default_store()
    assert "StartTransaction" in store.actions("1.6") and "StartTransaction" not in store.actions("2.0.1")
    assert "TransactionEvent" in store.actions("2.0.1")
    assert "NotifyPeriodicEventStream" in store.actions("2.1")
    assert "NotifyPeriodicEventStream" not in store.actions("2.0.1")


def test_results_are_named_after_their_call_per_side():
    dec = OcppDecoder(0, version="1.6")
    call = dec.decode(b'[2,"7","Heartbeat",{}]', direction=0, ts_ns=1, src="cp", dst="csms")
    # the same id from the other side is a different call
    other = dec.decode(b'[2,"7","Reset",{"type":"Soft"}]', direction=1, ts_ns=2, src="csms", dst="cp")
    res = dec.decode(b'[3,"7",{"currentTime":"2024-01-01T00:00:00Z"}]', direction=1, ts_ns=3,
                     src="csms", dst="cp")
    res2 = dec.decode(b'[3,"7",{"status":"Accepted"}]', direction=0, ts_ns=4, src="cp", dst="csms")
    assert (call.name, other.name, res.name, res2.name) == (
        "Heartbeat Request", "Reset Request", "Heartbeat Response", "Reset Response")
    assert res.fields["schema"] == "valid" and res2.fields["schema"] == "valid"
    unpaired = dec.decode(b'[3,"99",{}]', direction=1, ts_ns=5, src="csms", dst="cp")
    assert unpaired.fields["action"] is None and unpaired.fields["schema"] == "unpaired"


def test_version_guess_uses_the_schemas():
    dec = OcppDecoder(0)
    msg = dec.decode(b'[2,"1","BootNotification",{"reason":"PowerUp","chargingStation":'
                     b'{"model":"M","vendorName":"V"}}]', direction=0, ts_ns=0, src="a", dst="b")
    assert msg.fields["ocpp_version"] == "2.0.1" and msg.fields["version_source"] == "guessed"
    dec16 = OcppDecoder(0)
    dec16.decode(b'[2,"1","StartTransaction",{}]', direction=0, ts_ns=0, src="a", dst="b")
    assert dec16.version == "1.6"


def test_send_is_not_defined_before_2_1():
    msg = OcppDecoder(0, version="2.0.1").decode(b'[6,"1","NotifyPeriodicEventStream",{}]',
                                                 direction=0, ts_ns=0, src="a", dst="b")
    assert "ocpp.rpc.type_unsupported" in [p.kind for p in msg.problems]


def test_pnc_data_transfer_is_unpacked():
    text = json.dumps([2, "1", "DataTransfer", {"vendorId": "org.openchargealliance.iso15118pnc",
                                                "messageId": "Authorize",
                                                "data": json.dumps({"idToken": {"idToken": "X"}})}])
    msg = OcppDecoder(0, version="1.6").decode(text.encode(), direction=0, ts_ns=0, src="a", dst="b")
    assert msg.fields["iso15118_pnc"] == {"message_id": "Authorize", "data": {"idToken": {"idToken": "X"}}}


def test_probe():
    assert looks_like_ocpp(b'[2,"1","Heartbeat",{}]')
    assert looks_like_ocpp(b' [ 3 ,"1",{}]')
    assert not looks_like_ocpp(b'[20,1]')
    assert not looks_like_ocpp(b'{"a":1}')


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=8), st.sampled_from([None, "jsonl", "text"]))
def test_hostile_log_lines_never_raise(lines, fmt):
    from chargescope.analyzer.ocpp.logs import read_log_lines

    for msg in read_log_lines([line + "\n" for line in lines], "fuzz.log", fmt):
        assert msg.protocol == "ocpp"


def test_json_array_log_of_records_and_of_bare_arrays():
    from chargescope.analyzer.ocpp.logs import read_log_lines

    records = json.dumps([{"time": "2024-01-01T00:00:00Z", "dir": "out", "cp": "X",
                           "msg": '[2,"1","Reset",{"type":"Soft"}]'}], indent=1).splitlines(True)
    (msg,) = read_log_lines(records, "a.json")
    assert (msg.fields["direction"], msg.fields["charge_point_id"], msg.name) == (1, "X", "Reset Request")
    bare = json.dumps([[2, "1", "Heartbeat", {}], [3, "1", {"currentTime": "2024-01-01T00:00:00Z"}]],
                      indent=1).splitlines(True)
    names = [m.name for m in read_log_lines(bare, "b.json")]
    assert names == ["Heartbeat Request", "Heartbeat Response"]


def test_text_log_direction_words_and_cp_side():
    from chargescope.analyzer.ocpp.logs import read_log_lines

    lines = ['[2024-01-01T10:00:00.000Z] station=CP9 RX [2,"1","Heartbeat",{}]\n',
             '[2024-01-01T10:00:00.100Z] station=CP9 TX [3,"1",{"currentTime":"2024-01-01T00:00:00Z"}]\n',
             'random noise line\n']
    csms = list(read_log_lines(lines, "c.log"))
    assert [m.fields["direction"] for m in csms] == [0, 1]
    cp_side = list(read_log_lines(lines, "c.log", log_side="cp"))
    assert [m.fields["direction"] for m in cp_side] == [1, 0]
    assert csms[0].fields["charge_point_id"] == "CP9"
    assert csms[1].ts_ns - csms[0].ts_ns == 100_000_000


def test_callresulterror_is_named_after_the_call_it_objects_to():
    dec = OcppDecoder(0, version="2.1")
    dec.decode(b'[2,"9","Heartbeat",{}]', direction=0, ts_ns=0, src="a", dst="b")
    dec.decode(b'[3,"9",{"currentTime":"bad"}]', direction=1, ts_ns=1, src="b", dst="a")
    err = dec.decode(b'[5,"9","FormatViolation","bad result",{}]', direction=0, ts_ns=2,
                     src="a", dst="b")
    assert (err.name, err.fields["message_type"], err.fields["error_code"]) == (
        "Heartbeat ResultError", "CALLRESULTERROR", "FormatViolation")


def test_real_world_text_log_shapes():
    """Line shapes of SteVe, evcc and the `ocpp` package (Home Assistant, openWB) logs."""
    from chargescope.analyzer.ocpp.logs import read_log_lines

    steve = [
        "[INFO]\t2025-01-02\t10:00:00,100\tde.rwth.idsg.steve.ocpp.ws.WebSocketLogger\t(qtp-1)\t-\t"
        '[chargeBoxId=CB7,\tsessionId=abc]\tReceived:\t[2, "a1", "Heartbeat", {}]\n',
        "[INFO]\t2025-01-02\t10:00:00,105\tde.rwth.idsg.steve.ocpp.ws.WebSocketLogger\t(qtp-1)\t-\t"
        '[chargeBoxId=CB7,\tsessionId=abc]\tSending:\t[3,"a1",{"currentTime":"2025-01-02T10:00:00Z"}]\n',
    ]
    evcc = ['[ocpp  ] TRACE 2025/01/02 10:00:00 recv EVB42: [2,"x","Heartbeat",{}]\n',
            '[ocpp  ] TRACE 2025/01/02 10:00:01 send EVB42: [3,"x",{"currentTime":"2025-01-02T10:00:01Z"}]\n']
    pkg = ['2025-01-02 10:00:00 INFO (MainThread) [ocpp] Wallbox9: send [2,"t1","TriggerMessage",'
           '{"requestedMessage":"BootNotification"}]\n',
           '2025-01-02 10:00:00 INFO (MainThread) [ocpp] Wallbox9: receive message [3,"t1",\n',
           "{\n", '"status": "Accepted"\n', "}]\n"]
    for lines, cp, first_dir in ((steve, "CB7", 0), (evcc, "EVB42", 0), (pkg, "Wallbox9", 1)):
        msgs = list(read_log_lines(lines, "x.log", version="1.6"))
        assert len(msgs) == 2, lines
        assert [m.fields["charge_point_id"] for m in msgs] == [cp, cp]
        assert [m.fields["direction"] for m in msgs] == [first_dir, 1 - first_dir]
        assert msgs[1].fields["action"] == msgs[0].fields["action"]  # paired across lines
        assert all(m.ok for m in msgs) and all(m.fields["schema"] == "valid" for m in msgs)
        assert msgs[0].ts_ns > 1_735_000_000 * 10**9


def test_deeply_nested_json_is_a_problem_not_a_crash():
    from chargescope.analyzer.ocpp.logs import read_log_lines

    deep = '[2,"1","DataTransfer",' + "[" * 200_000 + "]" * 200_000 + "]"
    msg = OcppDecoder(0, version="1.6").decode(deep.encode(), direction=0, ts_ns=0, src="a", dst="b")
    assert [p.kind for p in msg.problems] == ["ocpp.json.syntax"]
    for fmt in ("jsonl", "text"):
        line = json.dumps({"message": deep}) if fmt == "jsonl" else "2024-01-01T00:00:00Z " + deep
        (got,) = read_log_lines([line + "\n"], "deep.log", fmt)
        assert not got.ok
    pnc = json.dumps([2, "1", "DataTransfer", {"vendorId": "org.openchargealliance.iso15118pnc",
                                               "data": "[" * 100_000}])
    msg = OcppDecoder(0, version="1.6").decode(pnc.encode(), direction=0, ts_ns=0, src="a", dst="b")
    assert msg.fields["iso15118_pnc"]["data_problem"]


@pytest.mark.parametrize("doc, kinds", [
    ([2, "1", "Heartbeat", {}], []),
    ([3, "1", {}], []),
    ([2.0, "1", "Heartbeat", {}], ["ocpp.rpc.type_unknown"]),  # a float is no MessageTypeId
    ([True, "1", {}], ["ocpp.rpc.type_unknown"]),
    ([2, "", "Heartbeat", {}], ["ocpp.rpc.unique_id"]),
    ([3, "x" * 37, {}], ["ocpp.rpc.unique_id"]),
    ([2, "1", "", {}], ["ocpp.rpc.action"]),
    ([2, "1", "Heartbeat", []], ["ocpp.rpc.payload"]),
    ([3, 1, {}], ["ocpp.rpc.unique_id"]),
    ([3, "1", "Heartbeat", {}], ["ocpp.rpc.shape", "ocpp.rpc.payload"]),
])
def test_common_shapes_and_their_near_misses(doc, kinds):
    """The CALL/CALLRESULT fast path answers only what the full checks would accept."""
    from chargescope.dissectors.ocpp.codec import parse_rpc_value

    assert [k for k, _, _ in parse_rpc_value(doc).problems] == kinds
    assert [k for k, _, _ in parse_rpc(json.dumps(doc).encode()).problems] == kinds


def test_each_message_is_validated_even_after_its_action_was_valid():
    dec = OcppDecoder(0, version="1.6", version_source="option")
    good = b'[2,"1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
    bad = b'[2,"2","BootNotification",{"chargePointVendor":"V"}]'
    verdicts = [dec.decode(t, direction=d, ts_ns=0, src="a", dst="b").fields
                for t, d in ((good, 0), (bad, 0), (good, 0), (b'[3,"1",{"status":"Accepted"}]', 1))]
    assert [f["schema"] for f in verdicts] == ["valid", "invalid", "valid", "invalid"]
    assert [e["rule"] for e in verdicts[1]["schema_errors"]] == ["required"]
    assert {e["pointer"] for e in verdicts[3]["schema_errors"]} == {""}  # required fields
    lenient = OcppDecoder(0, version="1.6", version_source="option",
                          validate=frozenset({"BootNotification"}))
    for text in (good, bad):
        fields = lenient.decode(text, direction=0, ts_ns=0, src="a", dst="b").fields
        assert fields["schema"] == "not-validated"
