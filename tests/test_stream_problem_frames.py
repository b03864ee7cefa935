"""Every Problem a stream dissector reports names its file and a frame (never frame 0).

The hostile conversations of the accounting properties (valid units, junk, gaps, any
segmentation, every kind of close) through V2GTP, WebSocket/OCPP, HTTP/OCPI and TLS:
whatever went wrong, each Problem points at a capture frame the hex view can open.
"""

from __future__ import annotations

from hypothesis import given, settings

from chargescope.analyzer.records import Message
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
from tests.test_stream_accounting import play as play_accounted
from tests.ws_builder import request, response


def play(dissector, items: list, close: str) -> list[Message]:
    """Every Message of the conversation (item n arrives in frame n)."""
    out: list[Message] = []
    play_accounted(dissector, items, close, out)
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
