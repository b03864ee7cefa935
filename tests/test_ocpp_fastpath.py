"""Hot path "ocppdecode": the common CALL/CALLRESULT in one go gives exactly the Message
(and the decoder state) of the general path, both twins, whatever the sequence."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chargescope.analyzer.records import ByteRef
from chargescope.dissectors.ocpp.conversation import OcppDecoder
from tests.conftest import load_impl, twin_params

UIDS = ["u1", "u2", "u3", "x" * 36, "y" * 37, ""]
EVENT = {"eventType": "Started", "timestamp": "2024-05-01T10:15:00Z", "triggerReason": "Authorized",
         "seqNo": 0, "transactionInfo": {"transactionId": "T1"}}


def _texts(uid: str) -> list:
    """One OCPP-J text of each kind that matters to the fast path's decisions."""
    return [
        json.dumps([2, uid, "TransactionEvent", EVENT]),
        json.dumps([2, uid, "TransactionEvent", {**EVENT, "eventType": "Nope"}]),
        json.dumps([2, uid, "Heartbeat", {}]),
        json.dumps([2, uid, "StartTransaction", {"connectorId": 1, "idTag": "A",
                                                 "meterStart": 0, "timestamp": "t"}]),
        json.dumps([2, uid, "DataTransfer", {"vendorId": "org.openchargealliance.iso15118pnc",
                                             "messageId": "Authorize", "data": "{}"}]),
        json.dumps([2, uid, "NoSuchAction", {}]),
        json.dumps([3, uid, {}]),
        json.dumps([3, uid, {"currentTime": "2024-05-01T10:15:00Z"}]),
        json.dumps([3, uid, {"idTokenInfo": {"status": "Accepted"}}]),
        json.dumps([4, uid, "GenericError", "x", {}]),
        json.dumps([5, uid, "GenericError", "x", {}]),
        json.dumps([6, uid, "NotifyPeriodicEventStream", {"id": 1, "pending": 0,
                                                           "basetime": "t", "data": []}]),
        json.dumps([2, uid, "Heartbeat", []]),
        json.dumps([2.0, uid, "Heartbeat", {}]),
        json.dumps([2, 7, "Heartbeat", {}]),
        '[2, "' + uid + '", "Heartbeat", {}',
        "[]",
        json.dumps([2, uid, "Heartbeat", {"a": float("nan")}]).replace("NaN", "1"),
    ]


_ANY_STEP = st.tuples(st.integers(0, len(_texts("u")) - 1), st.sampled_from(UIDS),
                     st.integers(0, 1), st.booleans(), st.booleans())
# a CALL and its answer from the other side (what the fast path is for)
_PAIR = st.tuples(st.sampled_from([0, 1, 2, 3, 4]), st.sampled_from([6, 7, 8, 9]),
                  st.sampled_from(UIDS[:3]), st.integers(0, 1), st.booleans()).map(
    lambda t: [(t[0], t[2], t[3], t[4], False), (t[1], t[2], 1 - t[3], t[4], False)])
STEPS = st.lists(st.one_of(_ANY_STEP.map(lambda s: [s]), _PAIR), min_size=1,
                 max_size=25).map(lambda groups: [s for g in groups for s in g])


def _run(steps, version, common, validate, max_pending):
    dec = OcppDecoder(3, version=version, version_source="option" if version else "",
                      validate=validate, capture="c.pcap", max_pending=max_pending)
    dec._decode_common = common
    out = []
    for i, (kind, uid, direction, as_bytes, with_problem) in enumerate(steps):
        text = _texts(uid)[kind]
        refs = (ByteRef("c.pcap", i + 1, 54, len(text)),)
        problems = ()
        if with_problem and i % 5 == 0:
            from chargescope.analyzer.records import Problem

            problems = (Problem("websocket.text.invalid_utf8", "x", "c.pcap", i + 1, 0, "unit"),)
        out.append(dec.decode(text.encode() if as_bytes else text, direction, i * 1000,
                              "a", "b", refs, {"opcode": 1}, problems))
    return out, (list(dec._pending.items()), list(dec._answered.items()), dec.version,
                 dec.version_source)


def _general(*_args):
    return None


@pytest.mark.parametrize("impl", twin_params("ocppdecode"))
@pytest.mark.parametrize("version, validate, max_pending", [
    ("2.0.1", True, 4096), ("1.6", True, 4096), (None, True, 4096), ("2.0.1", True, 2),
    ("2.1", frozenset({"TransactionEvent"}), 4096), ("2.0.1", False, 4096)])
@settings(max_examples=40, deadline=None)
@given(steps=STEPS)
# a duplicate CALL id while it waits moves to the end of the pending order
@example(steps=[(2, "u1", 0, True, False), (2, "u2", 0, True, False),
                (2, "u1", 0, True, False), (2, "u3", 0, True, False)])
def test_fast_path_equals_general_path(impl, version, validate, max_pending, steps):
    common = load_impl("ocppdecode", impl).decode_common
    fast = _run(steps, version, common, validate, max_pending)
    general = _run(steps, version, _general, validate, max_pending)
    assert fast == general


@pytest.mark.parametrize("impl", twin_params("ocppdecode"))
def test_fast_path_takes_the_common_messages(impl):
    """It does answer the common case (else it would be dead code)."""
    common = load_impl("ocppdecode", impl).decode_common
    dec = OcppDecoder(0, version="2.0.1", version_source="option")
    call = json.dumps([2, "u1", "TransactionEvent", EVENT]).encode()
    assert common(dec, call, 0, 0, "a", "b", (), None) is None  # no compiled check cached yet
    dec.decode(call, 0, 0, "a", "b")
    dec.decode(json.dumps([3, "u1", {}]).encode(), 1, 0, "b", "a")
    message = common(dec, json.dumps([2, "u2", "TransactionEvent", EVENT]).encode(), 0, 5,
                     "a", "b", (), None)
    assert message is not None and message.fields["schema"] == "valid"
    result = common(dec, json.dumps([3, "u2", {}]).encode(), 1, 6, "b", "a", (), None)
    assert result is not None and result.name == "TransactionEvent Response"
    assert result.fields["paired"] is True
    assert common(dec, json.dumps([3, "u9", {}]).encode(), 1, 7, "b", "a", (), None) is None
