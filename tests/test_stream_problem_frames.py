"""Every Problem a stream dissector reports names its file and a frame (never frame 0).

The hostile conversations of the accounting properties (valid units, junk, gaps, any
segmentation, every kind of close) through V2GTP, WebSocket/OCPP, HTTP/OCPI and TLS:
whatever went wrong, each Problem points at a capture frame the hex view can open.
"""

from __future__ import annotations

from hypothesis import given, settings

from chargescope.analyzer.records import (
    ByteRef,
    Message,
    StreamClose,
    StreamData,
    StreamGap,
)
from chargescope.analyzer.tls.keylog import KeyLog
from chargescope.dissectors import v2gtp
from chargescope.dissectors.http.stream import HttpStream
from chargescope.dissectors.ocpp import payload_handoff
from chargescope.dissectors.tls.stream import TlsStream
from chargescope.dissectors.websocket import WebSocketOptions, WebSocketStream
from tests.test_stream_accounting import (
    CLOSES,
    CONN,
    HTTP_UNITS,
    TLS_UNITS,
    V2GTP_UNITS,
    WS_UNITS,
    conversation,
)
from tests.ws_builder import request, response


def play(dissector, items: list, close: str) -> list[Message]:
    """Feed (direction, bytes) and ("gap", direction, n) items, frame n for item n (a gap
    shows at its own frame, as the reassembler says); returns every Message."""
    offsets = [0, 0]
    out: list[Message] = []
    for n, item in enumerate(items, 1):
        if item[0] == "gap":
            _, direction, length = item
            out += dissector.on_gap(StreamGap(CONN, direction, offsets[direction], length, n, n))
            offsets[direction] += length
            continue
        direction, data = item
        if not data:
            continue
        out += dissector.on_data(StreamData(CONN, direction, offsets[direction], data, n,
                                            (ByteRef("acct", n, 54, len(data)),)))
        offsets[direction] += len(data)
    if close == "fin":
        out += dissector.on_close(StreamClose(CONN, 0, 10**6, "fin"))
        out += dissector.on_close(StreamClose(CONN, 1, 10**6 + 1, "fin"))
    elif close.startswith("rst"):
        out += dissector.on_close(StreamClose(CONN, int(close[-1]), 10**6, "rst"))
    else:
        out += dissector.on_close(StreamClose(CONN, -1, 10**6, close))
    return out


def assert_pinned(messages: list[Message], items: list) -> None:
    frames = len(items)
    for m in messages:
        for p in m.problems:
            assert p.source == "acct" and 1 <= p.frame <= frames, (m.name, p)


@settings(max_examples=150, deadline=None)
@given(conversation(V2GTP_UNITS), CLOSES)
def test_v2gtp_problems_name_a_frame(items, close) -> None:
    assert_pinned(play(v2gtp.V2gtpStream(CONN), items, close), items)


@settings(max_examples=150, deadline=None)
@given(conversation(WS_UNITS), CLOSES)
def test_websocket_problems_name_a_frame(items, close) -> None:
    items = [(0, request()), (1, response(extensions="permessage-deflate")), *items]
    stream = WebSocketStream(CONN, [payload_handoff()], WebSocketOptions(max_message_size=256))
    assert_pinned(play(stream, items, close), items)


@settings(max_examples=150, deadline=None)
@given(conversation(HTTP_UNITS), CLOSES)
def test_http_problems_name_a_frame(items, close) -> None:
    assert_pinned(play(HttpStream(CONN, max_body=50), items, close), items)


@settings(max_examples=150, deadline=None)
@given(conversation(TLS_UNITS), CLOSES)
def test_tls_problems_name_a_frame(items, close) -> None:
    assert_pinned(play(TlsStream(CONN, KeyLog(), (), max_pending=200), items, close), items)
