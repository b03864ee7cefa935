"""Each stream dissector's books balance on hostile input: fed = consumed + undecodable.

Random conversations (valid units, junk, gaps, any segmentation) go through V2GTP,
WebSocket/OCPP, HTTP/OCPI and TLS; after the close every byte fed in each direction is
either consumed by a Message or reported undecodable. The TLS plaintext stream is
checked the same way through `accounting.fold`.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.accounting import StreamTotals, fold
from chargescope.analyzer.records import (
    ByteRef,
    Connection,
    Endpoint,
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
from tests.ws_builder import client_frame, request, response, server_frame

CONN = Connection(3, Endpoint("10.0.0.1", 40000), Endpoint("10.0.0.2", 15118), "acct")


def play(dissector, items: list, close: str, out: list | None = None) -> list[int]:
    """Feed (direction, bytes) and ("gap", direction, n) items, item n in frame n (a gap
    shows there too); returns bytes fed per side. `out` collects the Messages."""
    offsets, fed = [0, 0], [0, 0]
    got: list = [] if out is None else out
    for n, item in enumerate(items, 1):
        if item[0] == "fin":  # a side closes mid-conversation (hostile: it may send more)
            got += dissector.on_close(StreamClose(CONN, item[1], n, "fin"))
            continue
        if item[0] == "gap":
            _, direction, length = item
            got += dissector.on_gap(StreamGap(CONN, direction, offsets[direction], length, n,
                                              n))
            offsets[direction] += length
            continue
        direction, data = item
        if not data:
            continue
        got += dissector.on_data(StreamData(CONN, direction, offsets[direction], data, n,
                                            (ByteRef("acct", n, 54, len(data)),)))
        offsets[direction] += len(data)
        fed[direction] += len(data)
    if close == "fin":
        got += dissector.on_close(StreamClose(CONN, 0, 10**6, "fin"))
        got += dissector.on_close(StreamClose(CONN, 1, 10**6 + 1, "fin"))
    elif close.startswith("rst"):  # as the reassembler says it: the side that reset
        got += dissector.on_close(StreamClose(CONN, int(close[-1]), 10**6, "rst"))
    else:
        got += dissector.on_close(StreamClose(CONN, -1, 10**6, close))
    return fed


def assert_balanced(dissector, fed: list[int]) -> None:
    account = dissector.accounting
    for d in (0, 1):
        assert account.consumed[d] + account.undecodable[d] == fed[d], (d, account, fed)
    totals: dict[str, StreamTotals] = {}
    fold(totals, "x", fed, [0, 0], fed, account)
    assert all(row.balanced for row in totals.values()), totals


def conversation(units: st.SearchStrategy[bytes]) -> st.SearchStrategy[list]:
    """Units and junk, cut anywhere, on both sides, with the odd gap."""
    piece = st.one_of(units, st.binary(max_size=40))
    chunk = st.tuples(st.integers(0, 1), st.lists(piece, max_size=3).map(b"".join))
    gap = st.tuples(st.just("gap"), st.integers(0, 1), st.integers(1, 50))
    fin = st.tuples(st.just("fin"), st.integers(0, 1))
    return st.lists(st.one_of(chunk, chunk, chunk, gap, fin), max_size=12)


CLOSES = st.sampled_from(["fin", "rst0", "rst1", "end-of-capture"])

V2GTP_UNITS = st.one_of(
    st.binary(max_size=30).map(lambda p: v2gtp.build(0x8101, p)),
    st.binary(max_size=30).map(lambda p: v2gtp.build(0x8001, p)),
    st.just(b"\x01\xfe\x80\x01\xff\xff\xff\xff"))  # a header announcing far too much


@settings(max_examples=150, deadline=None)
@given(conversation(V2GTP_UNITS), CLOSES)
def test_v2gtp_books_balance(items, close) -> None:
    stream = v2gtp.V2gtpStream(CONN)
    assert_balanced(stream, play(stream, items, close))


BOOT = '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
WS_UNITS = st.one_of(
    st.just(client_frame(BOOT)), st.just(server_frame('[3,"b1",{}]')),
    st.binary(max_size=300).map(client_frame), st.binary(max_size=300).map(server_frame),
    st.just(client_frame(b"[" + b"x" * 400)),  # over the lowered message cap
    st.just(client_frame(b"ab", fin=False)), st.just(client_frame(b"cd", opcode=0)))


@settings(max_examples=150, deadline=None)
@given(st.booleans(), conversation(WS_UNITS), CLOSES)
def test_websocket_books_balance(handshake, items, close) -> None:
    stream = WebSocketStream(CONN, [payload_handoff()], WebSocketOptions(max_message_size=256))
    if handshake:
        items = [(0, request()), (1, response(extensions="permessage-deflate")), *items]
    assert_balanced(stream, play(stream, items, close))


HTTP_UNITS = st.one_of(
    st.just(b"GET /ocpi/versions HTTP/1.1\r\nHost: h\r\n\r\n"),
    st.binary(max_size=60).map(lambda b: b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: "
                               + str(len(b)).encode() + b"\r\n\r\n" + b),
    st.just(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
    st.just(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
    st.just(b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
    st.just(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket"
            b"\r\n\r\n"),
    st.just(b"HTTP/1.1 200 OK\r\n\r\nclose-delimited body"),
    st.just(b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"),
    st.just(b"HTTP/1.1 200 Connection established\r\n\r\n"))


@settings(max_examples=200, deadline=None)
@given(conversation(HTTP_UNITS), CLOSES)
def test_http_books_balance(items, close) -> None:
    stream = HttpStream(CONN, max_body=50)
    assert_balanced(stream, play(stream, items, close))


def _record(ctype: int, body: bytes) -> bytes:
    return bytes([ctype, 3, 3]) + len(body).to_bytes(2, "big") + body


TLS_UNITS = st.one_of(
    st.binary(max_size=60).map(lambda b: _record(23, b)),  # application data, no key
    st.just(_record(21, b"\x02\x28")),  # alert
    st.just(_record(22, b"\x01\x00\x00\x02\x03\x03")),  # a broken ClientHello
    st.just(_record(20, b"\x01")))


@settings(max_examples=150, deadline=None)
@given(conversation(TLS_UNITS), CLOSES)
def test_tls_books_balance(items, close) -> None:
    stream = TlsStream(CONN, KeyLog(), (), max_pending=200)
    assert_balanced(stream, play(stream, items, close))
