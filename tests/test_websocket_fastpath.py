"""Hot path "wsstream": the steady-state on_data (Cython core and its twin) gives exactly
the Messages and byte books of the general path, on generated and mutated conversations.

The reference is the general path alone: every segment buffered and parsed frame by frame
(`_on_data_general`, with no whole-frame shortcut at all). Conversations mix OCPP-J text
(well-formed, invalid, unpaired, duplicate ids, DataTransfer, bad JSON), non-ASCII and
invalid UTF-8 text, binary frames, lengths at the 7/16/64-bit length boundaries,
compressed and fragmented messages, control frames, masking against the direction, then
get cut at random points, with gaps, two-reference segments and flipped bits.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ws_builder import CONN, MASK, Deflater, feed, request, response

from chargescope.analyzer.records import ByteRef, StreamClose, StreamData, StreamGap
from chargescope.dissectors.ocpp import payload_handoff
from chargescope.dissectors.websocket import WebSocketOptions
from chargescope.dissectors.websocket.frames import Opcode, build_frame
from chargescope.dissectors.websocket.stream import _GeneralPath
from tests.conftest import load_impl, twin_params
from tests.test_ocpp_fastpath import _texts

UIDS = ["u1", "u2", "u3"]
EXTRA_TEXTS = [
    '[2,"u1","Heartbeat",{"x":"\u00e9t\u00e9"}]',  # non-ASCII, valid UTF-8
    b'[2,"u2","Heartbeat",{"x":"\xff"}]',  # invalid UTF-8
    "",
    "[3, 7]",
    '[2,"u1","DataTransfer",{"vendorId":"V"}]',
]
# None: as it comes; the 16/64-bit boundaries (65535, 65536) go to one message at most
# (`big`): they are long to hunt through after a gap
LENGTH = st.sampled_from([None, None, None, 0, 125, 126])


def _reference_class():
    twin = load_impl("wsstream", "python")

    class GeneralOnly(_GeneralPath, twin.StreamCore):
        """Every segment through the general path, every frame through `_frame`."""

        def on_data(self, event):
            return self._on_data_general(event)

        def _whole_frames(self, event, out):
            return 0

    return GeneralOnly


def _stream_class(impl):
    return type(f"WebSocketStream_{impl}", (_GeneralPath, load_impl("wsstream", impl).StreamCore),
                {})


MESSAGE = st.tuples(
    st.integers(0, 1),  # direction
    st.integers(0, len(_texts("u")) + len(EXTRA_TEXTS) + 2),  # what: text, binary, control
    st.sampled_from(UIDS),
    LENGTH,
    st.integers(1, 3),  # frames (fragments)
    st.booleans(),  # compressed, when negotiated
    st.integers(0, 19),  # 0: masked against its direction
)
CONVERSATION = st.fixed_dictionaries({
    "handshake": st.sampled_from(["", "ocpp1.6", "ocpp2.0.1", "ocpp2.0.1+ctx",
                                  "ocpp1.6+noctx", "none"]),
    "messages": st.lists(MESSAGE, min_size=1, max_size=14),
    # segment sizes; 1 MiB: all that is pending in one segment (whole frames, often several)
    "cuts": st.lists(st.one_of(st.integers(1, 3000), st.just(1 << 20)), min_size=1, max_size=6),
    "flush": st.lists(st.booleans(), min_size=1, max_size=5),
    "mutations": st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), max_size=2),
    "gap_at": st.one_of(st.none(), st.integers(0, 40)),
    "two_refs_at": st.one_of(st.none(), st.integers(0, 40)),
    "big": st.one_of(st.none(), st.tuples(st.integers(0, 13), st.sampled_from([65535, 65536]))),
})


def _payload(what, uid, length):
    texts = _texts(uid)
    n = len(texts)
    if what < n:
        data = texts[what].encode()
    elif what < n + len(EXTRA_TEXTS):
        extra = EXTRA_TEXTS[what - n]
        data = extra if isinstance(extra, bytes) else extra.encode()
    else:
        return None
    if length is not None and len(data) < length:
        data += b" " * (length - len(data))  # JSON allows trailing whitespace
    return data


def _frames(direction, what, uid, length, parts, compress, mask_ok, deflaters):
    """The wire bytes of one message."""
    mask = MASK if (direction == 0) == bool(mask_ok) else b""
    data = _payload(what, uid, length)
    if data is None:  # binary, ping, close
        n = len(_texts(uid)) + len(EXTRA_TEXTS)
        if what == n:
            return build_frame(b"\x00\x01binary" * 3, Opcode.BINARY, mask_key=mask)
        if what == n + 1:
            return build_frame(b"ping", Opcode.PING, mask_key=mask)
        return build_frame(b"\x03\xe8bye", Opcode.CLOSE, mask_key=mask)
    rsv1 = False
    if compress and deflaters[direction] is not None:
        data = deflaters[direction].compress(data)
        rsv1 = True
    if parts == 1 or len(data) < parts:
        return build_frame(data, Opcode.TEXT, mask_key=mask, rsv1=rsv1)
    step = len(data) // parts
    out = b""
    for i in range(parts):
        piece = data[i * step:(i + 1) * step if i < parts - 1 else len(data)]
        out += build_frame(piece, Opcode.TEXT if i == 0 else Opcode.CONTINUATION,
                           fin=i == parts - 1, mask_key=mask, rsv1=rsv1 and i == 0)
    return out


def _events(conv):
    handshake = conv["handshake"]
    sub, _, deflate = handshake.partition("+")
    ext = {"": "", "ctx": "permessage-deflate",
           "noctx": "permessage-deflate; client_no_context_takeover; "
                    "server_no_context_takeover"}[deflate]
    deflaters = [None, None]
    if deflate:
        deflaters = [Deflater(deflate == "ctx"), Deflater(deflate == "ctx")]
    pending = [b"", b""]
    if handshake != "none":
        pending[0] = request(subprotocols=sub or "ocpp1.6", extensions=ext)
        pending[1] = response(subprotocol=sub, extensions=ext)
    offsets = [0, 0]
    events = []
    ts = 1_700_000_000 * 10**9
    frame_no = [0]
    cuts, flushes = conv["cuts"], conv["flush"]
    k = [0]

    def emit(direction):
        data = pending[direction]
        pending[direction] = b""
        pos = 0
        while pos < len(data):
            n = cuts[k[0] % len(cuts)]
            k[0] += 1
            piece = data[pos:pos + n]
            frame_no[0] += 1
            i = len(events)
            if conv["gap_at"] == i:
                events.append(StreamGap(CONN, direction, offsets[direction], len(piece),
                                        ts + i, frame_no[0]))
            else:
                if conv["two_refs_at"] == i and len(piece) > 1:
                    half = len(piece) // 2
                    refs = (ByteRef("synthetic", frame_no[0], 66, half),
                            ByteRef("synthetic", frame_no[0] + 1, 54, len(piece) - half))
                    frame_no[0] += 1
                else:
                    refs = (ByteRef("synthetic", frame_no[0], 66, len(piece)),)
                events.append(StreamData(CONN, direction, offsets[direction], piece, ts + i, refs))
            offsets[direction] += len(piece)
            pos += len(piece)

    emit(0)
    emit(1)
    for i, (direction, what, uid, length, parts, compress, mask_ok) in enumerate(
            conv["messages"]):
        if conv["big"] is not None and conv["big"][0] == i:
            length = conv["big"][1]
        pending[direction] += _frames(direction, what, uid, length, parts, compress, mask_ok,
                                      deflaters)
        if flushes[i % len(flushes)]:
            emit(direction)
    emit(0)
    emit(1)
    for pos, bit in conv["mutations"]:  # flip one bit of one segment
        data_events = [j for j, e in enumerate(events) if isinstance(e, StreamData)]
        if data_events:
            j = data_events[pos % len(data_events)]
            e = events[j]
            b = bytearray(e.data)
            b[pos % len(b)] ^= 1 << bit
            events[j] = StreamData(e.conn, e.direction, e.offset, bytes(b), e.ts_ns, e.refs)
    events.append(StreamClose(CONN, 0, ts + 10**6, "fin"))
    events.append(StreamClose(CONN, 1, ts + 10**6 + 1, "fin"))
    return events


def _run(cls, events, cap):
    stream = cls(CONN, [payload_handoff()], WebSocketOptions(max_message_size=cap))
    out = feed(stream, events)
    books = stream.accounting
    # fields compared with their key order (outputs are serialised)
    return ([(m, json.dumps(m.fields, default=repr)) for m in out],
            (books.consumed, books.undecodable))


@pytest.mark.parametrize("impl", twin_params("wsstream"))
@pytest.mark.parametrize("cap", [1 << 20, 200])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv=CONVERSATION)
def test_fast_path_equals_general_path(impl, cap, conv):
    events = _events(conv)
    assert _run(_stream_class(impl), events, cap) == _run(_reference_class(), events, cap)


@pytest.mark.parametrize("impl", twin_params("wsstream"))
def test_fast_path_takes_the_steady_state(impl):
    """It does answer the common segment (else it would be dead code): no general call."""
    cls = _stream_class(impl)
    calls = []

    class Counting(cls):
        def _on_data_general(self, event):
            calls.append(event.offset)
            return super()._on_data_general(event)

    conv = {"handshake": "ocpp2.0.1", "messages": [(0, 2, "u1", None, 1, False, 1),
                                                    (1, 6, "u1", None, 1, False, 1)] * 3,
            "cuts": [3000], "flush": [True], "mutations": [], "gap_at": None,
            "two_refs_at": None, "big": None}
    events = _events(conv)
    got = _run(Counting, events, 1 << 20)
    assert calls == [0, 0]  # the two handshake segments only
    assert got == _run(_reference_class(), events, 1 << 20)
    names = [m.name for m, _ in got[0]]
    assert names.count("Heartbeat Request") == 3 and names.count("Heartbeat Response") == 3
