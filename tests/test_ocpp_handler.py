"""Hot path "ocppdecode", the WebSocket side: `OcppHandler` (both twins, through its
PayloadHandler call and its fast entry `deliver`) gives exactly the Messages and decoder
state of the plain decoder fed the same messages, whatever the sequence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.records import ByteRef, Connection, Endpoint, Problem
from chargescope.dissectors.ocpp.conversation import OcppDecoder
from chargescope.dissectors.websocket.stream import WsMessageInfo
from tests.conftest import load_impl, twin_params
from tests.test_ocpp_fastpath import STEPS, UIDS, _texts

CONN = Connection(3, Endpoint("10.0.0.2", 40000), Endpoint("10.0.0.1", 9000), "c.pcap")
# what the WebSocket layer may say about the connection, message after message
SUBPROTOCOLS = ["", "ocpp1.6", "ocpp2.0.1", "ocpp2.1", "nonsense"]
CHARGE_POINTS = ["", "CP1", "CP2"]
CONTEXT = st.tuples(st.sampled_from(SUBPROTOCOLS), st.sampled_from(CHARGE_POINTS),
                    st.booleans())


def _decoder(version, validate, max_pending):
    return OcppDecoder(3, version=version, version_source="option" if version else "",
                       validate=validate, capture="c.pcap", max_pending=max_pending)


def _message_args(i, step, context):
    kind, uid, direction, as_bytes, with_problem = step
    text = _texts(uid)[kind]
    refs = (ByteRef("c.pcap", i + 1, 54, len(text)),)
    problems = (Problem("websocket.text.invalid_utf8", "x", "c.pcap", i + 1, 0, "unit"),) \
        if with_problem and i % 5 == 0 else ()
    subprotocol, charge_point_id, _entry = context
    websocket = {"opcode": 1, "fragments": 1, "compressed": False, "wire_size": len(text)}
    return (text.encode() if as_bytes else text, direction, i * 1000, "a", "b", refs,
            subprotocol, charge_point_id, websocket, problems)


def _reference(steps, contexts, version, validate, max_pending):
    """The decoder alone, given the context as the handler's contract says."""
    dec = _decoder(version, validate, max_pending)
    applied = ""
    out = []
    for i, (step, context) in enumerate(zip(steps, contexts, strict=True)):
        (payload, direction, ts_ns, src, dst, refs, subprotocol, charge_point_id, websocket,
         problems) = _message_args(i, step, context)
        if subprotocol and subprotocol != applied:
            dec.set_subprotocol(subprotocol)
            applied = subprotocol
        dec.charge_point_id = charge_point_id
        out.append(dec.decode(payload, direction, ts_ns, src, dst, refs, dict(websocket),
                              problems))
    return out, _state(dec)


def _through_handler(impl, steps, contexts, version, validate, max_pending):
    dec = _decoder(version, validate, max_pending)
    dec._decode_common = load_impl("ocppdecode", impl).decode_common  # one implementation
    handler = load_impl("ocppdecode", impl).OcppHandler(dec)
    out = []
    for i, (step, context) in enumerate(zip(steps, contexts, strict=True)):
        (payload, direction, ts_ns, src, dst, refs, subprotocol, charge_point_id, websocket,
         problems) = _message_args(i, step, context)
        if context[2] and not problems:
            out.append(handler.deliver(payload, direction, ts_ns, src, dst, refs, subprotocol,
                                       charge_point_id, websocket))
        else:
            out.append(handler(payload, WsMessageInfo(CONN, direction, ts_ns, src, dst, refs,
                                                      subprotocol, charge_point_id, websocket,
                                                      problems)))
    return out, _state(dec)


def _state(dec):
    return (list(dec._pending.items()), list(dec._answered.items()), dec.version,
            dec.version_source, dec.charge_point_id)


def _ordered(result):
    """Messages with their fields' key order made visible (outputs are serialised)."""
    messages, state = result
    return [(m, [list(m.fields)]) for m in messages], state


@pytest.mark.parametrize("impl", twin_params("ocppdecode"))
@pytest.mark.parametrize("version, validate, max_pending", [
    ("2.0.1", True, 4096), (None, True, 4096), ("1.6", True, 2),
    ("2.1", frozenset({"TransactionEvent"}), 4096), ("2.0.1", False, 4096)])
@settings(max_examples=40, deadline=None)
@given(steps=STEPS, data=st.data())
def test_handler_equals_the_decoder(impl, version, validate, max_pending, steps, data):
    contexts = data.draw(st.lists(CONTEXT, min_size=len(steps), max_size=len(steps)))
    got = _through_handler(impl, steps, contexts, version, validate, max_pending)
    assert _ordered(got) == _ordered(_reference(steps, contexts, version, validate, max_pending))


@pytest.mark.parametrize("impl", twin_params("ocppdecode"))
def test_handler_keeps_templates_current(impl):
    """A new charge point id or subprotocol mid-connection shows in the next Message."""
    dec = _decoder(None, True, 4096)
    dec._decode_common = load_impl("ocppdecode", impl).decode_common
    handler = load_impl("ocppdecode", impl).OcppHandler(dec)
    beat = _texts(UIDS[0])[2].encode()
    answer = b'[3, "u1", {"currentTime": "2024-05-01T10:15:00Z"}]'
    seen = []
    for cpid, sub in (("CP1", "ocpp1.6"), ("CP1", "ocpp1.6"), ("CP2", "ocpp1.6"),
                      ("CP2", "ocpp2.0.1")):
        call = handler.deliver(beat, 0, 0, "a", "b", (), sub, cpid, {"opcode": 1})
        result = handler.deliver(answer, 1, 0, "b", "a", (), sub, cpid, {"opcode": 1})
        seen.append((call.fields["charge_point_id"], call.fields["ocpp_version"],
                     result.name, result.fields["paired"], list(result.fields)[-1]))
    assert seen == [("CP1", "1.6", "Heartbeat Response", True, "websocket")] * 2 + [
        ("CP2", "1.6", "Heartbeat Response", True, "websocket"),
        ("CP2", "1.6", "Heartbeat Response", True, "websocket")]  # the handshake's version stays


def _general(*_args):
    return None


@pytest.mark.parametrize("impl", twin_params("ocppdecode"))
@settings(max_examples=30, deadline=None)
@given(steps=STEPS, data=st.data())
def test_decode_common_follows_changes_made_to_the_decoder(impl, steps, data):
    """Whoever changes the decoder between messages (charge point id, capture name,
    subprotocol), `decode_common` answers from the state as it is now."""
    changes = data.draw(st.lists(st.tuples(st.sampled_from(CHARGE_POINTS),
                                           st.sampled_from(["c.pcap", "d.pcap"]),
                                           st.sampled_from(SUBPROTOCOLS)),
                                 min_size=len(steps), max_size=len(steps)))

    def run(common):
        dec = _decoder(None, True, 4096)
        dec._decode_common = common
        out = []
        for i, (step, (cpid, capture, sub)) in enumerate(zip(steps, changes, strict=True)):
            dec.charge_point_id = cpid
            dec.capture = capture
            if sub:
                dec.set_subprotocol(sub)
            payload, direction, ts_ns, src, dst, refs, *_rest = _message_args(i, step,
                                                                              ("", "", False))
            out.append(dec.decode(payload, direction, ts_ns, src, dst, refs, None))
        return _ordered((out, _state(dec)))

    assert run(load_impl("ocppdecode", impl).decode_common) == run(_general)
