"""HTTP/1.1 stream dissector: framing, pairing, codings, resync and hostile input."""

from __future__ import annotations

import gzip
import zlib

import pytest
from http_feed import CONN, run, summary
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.dissectors.http.body import MAX_DECODED_BYTES
from chargescope.dissectors.http.stream import HttpStream

REQ = (b"GET /ocpi/cpo/2.2.1/locations?offset=0&limit=2 HTTP/1.1\r\nHost: cpo\r\n"
       b"Authorization: Token secret-abc\r\n\r\n")
CHUNKED = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
POST = b"POST /ocpi/emsp/2.2.1/tokens/X/authorize HTTP/1.1\r\nHost: e\r\nContent-Length: 2\r\n\r\n{}"
CLOSE_DELIMITED = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"

FEEDS = [pytest.param(None, id="whole"), pytest.param(1, id="byte-by-byte"),
         pytest.param(7, id="7-byte-pieces")]


def _gzip_response(body: bytes, coding: str = "gzip") -> bytes:
    packed = gzip.compress(body) if coding == "gzip" else zlib.compress(body)
    return (b"HTTP/1.1 200 OK\r\nContent-Encoding: " + coding.encode() +
            b"\r\nContent-Length: " + str(len(packed)).encode() + b"\r\n\r\n" + packed)


@pytest.mark.parametrize("chunk", FEEDS)
def test_keepalive_pipelining_chunked_and_close_delimited(chunk):
    messages = run(HttpStream(CONN), [(0, REQ + POST), (1, CHUNKED + CLOSE_DELIMITED)],
                   chunk=chunk)
    assert summary(messages) == [
        ("GET /ocpi/cpo/2.2.1/locations", "request", 0, None, 0, ()),
        ("POST /ocpi/emsp/2.2.1/tokens/X/authorize", "request", 1, "{}", 2, ()),
        ("200 OK", "response", 0, "hello world", 11, ()),
        ("200 OK", "response", 1, "until the end", 13, ()),
    ]
    get, post, first, second = messages
    assert get.fields["query"] == {"offset": "0", "limit": "2"}
    assert first.fields["chunked"] is True
    assert first.fields["request"]["method"] == "GET"
    assert second.fields["request"]["target"] == "/ocpi/emsp/2.2.1/tokens/X/authorize"
    assert (get.src, get.dst) == ("10.0.0.1:40000", "10.0.0.2:8080")
    assert (first.src, first.dst) == ("10.0.0.2:8080", "10.0.0.1:40000")


@pytest.mark.parametrize("chunk", FEEDS)
def test_byte_refs_cover_each_message_exactly(chunk):
    messages = run(HttpStream(CONN), [(0, REQ + POST), (1, CHUNKED)], chunk=chunk)
    get, post, resp = messages
    assert sum(r.length for r in get.refs) == len(REQ)
    assert sum(r.length for r in post.refs) == len(POST)
    assert sum(r.length for r in resp.refs) == len(CHUNKED)
    if chunk is None:
        assert post.refs[0].start == 54 + len(REQ)


def test_keepalive_request_after_response_is_paired():
    script = [(0, REQ), (1, CHUNKED), (0, POST), (1, CLOSE_DELIMITED)]
    messages = run(HttpStream(CONN), script)
    assert [m.fields.get("exchange") for m in messages] == [0, 0, 1, 1]
    assert messages[3].fields["request"]["method"] == "POST"


def test_trailing_bytes_wait_for_more_data():
    stream = HttpStream(CONN)
    messages = run(stream, [(0, REQ + POST[:20])], close=False)
    assert [m.name for m in messages] == ["GET /ocpi/cpo/2.2.1/locations"]
    assert all(not m.problems for m in messages)


def test_authorization_is_masked_unless_asked():
    masked = run(HttpStream(CONN), [(0, REQ)])[0].fields["headers"]
    assert ["Authorization", "Token secret-abc"] not in masked
    assert any(v.startswith("Token <redacted ") for k, v in masked if k == "Authorization")
    shown = run(HttpStream(CONN, show_secrets=True), [(0, REQ)])[0].fields["headers"]
    assert ["Authorization", "Token secret-abc"] in shown


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_content_codings_are_undone(coding):
    body = b'{"data": [], "status_code": 1000}' * 50
    messages = run(HttpStream(CONN), [(0, REQ), (1, _gzip_response(body, coding))])
    resp = messages[1]
    assert resp.ok
    assert resp.fields["body"] == body.decode()
    assert resp.fields["content_encoding"] == coding
    assert resp.fields["decoded_length"] == len(body)


def test_raw_deflate_is_accepted():
    packer = zlib.compressobj(wbits=-15)
    packed = packer.compress(b"raw deflate") + packer.flush()
    resp = (b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: " +
            str(len(packed)).encode() + b"\r\n\r\n" + packed)
    assert run(HttpStream(CONN), [(0, REQ), (1, resp)])[1].fields["body"] == "raw deflate"


def test_gzip_bomb_is_a_problem_not_a_blow_up():
    bomb = gzip.compress(b"\0" * (MAX_DECODED_BYTES + 1024), compresslevel=9)
    resp = run(HttpStream(CONN), [(0, REQ), (1, _gzip_response_raw(bomb))])[1]
    assert [p.kind for p in resp.problems] == ["http.body.decoded-too-large"]
    assert "body" not in resp.fields


def _gzip_response_raw(packed: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " +
            str(len(packed)).encode() + b"\r\n\r\n" + packed)


def test_bad_gzip_is_a_problem():
    resp = run(HttpStream(CONN), [(0, REQ), (1, _gzip_response_raw(b"\x1f\x8bnot gzip"))])[1]
    assert [p.kind for p in resp.problems] == ["http.body.coding-invalid"]


def test_truncated_gzip_is_a_problem():
    packed = gzip.compress(b"x" * 1000)[:-12]
    resp = run(HttpStream(CONN), [(0, REQ), (1, _gzip_response_raw(packed))])[1]
    assert [p.kind for p in resp.problems] == ["http.body.coding-invalid"]


def test_unknown_coding_is_reported():
    resp = (b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\nabc")
    got = run(HttpStream(CONN), [(0, REQ), (1, resp)])[1]
    assert [p.kind for p in got.problems] == ["http.body.coding-unknown"]


@pytest.mark.parametrize("chunk", FEEDS)
def test_broken_chunking_then_resynchronises(chunk):
    broken = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n"
    good = b"HTTP/1.1 204 No Content\r\n\r\n"
    messages = run(HttpStream(CONN), [(0, REQ + POST), (1, broken + good)], chunk=chunk)
    kinds = [(m.name, tuple(p.kind for p in m.problems)) for m in messages]
    assert ("200 OK", ("http.message.malformed",)) in kinds
    assert kinds[-1] == ("204 No Content", ())
    assert messages[-1].fields["request"]["method"] == "POST"


@pytest.mark.parametrize("chunk", [None, 4096])
def test_giant_headers_are_refused(chunk):
    giant = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    messages = run(HttpStream(CONN), [(0, giant + POST)], chunk=chunk)
    assert messages[0].problems[0].kind == "http.head.too-large"
    assert messages[-1].name == "POST /ocpi/emsp/2.2.1/tokens/X/authorize"


def test_mid_connection_start_skips_to_first_message():
    tail_of_previous = b'"status_code": 1000}\r\n'
    messages = run(HttpStream(CONN), [(0, b"ing body" + POST), (1, tail_of_previous + CHUNKED)])
    names = [(m.name, tuple(p.kind for p in m.problems)) for m in messages]
    assert names == [
        ("HTTP skipped bytes", ("http.stream.skipped",)),
        ("POST /ocpi/emsp/2.2.1/tokens/X/authorize", ()),
        ("HTTP skipped bytes", ("http.stream.skipped",)),
        ("200 OK", ()),
    ]
    assert messages[0].fields["length"] == len(b"ing body")
    assert messages[2].fields["length"] == len(tail_of_previous)


def test_gap_in_a_body_reports_and_resynchronises():
    body_req = b"PUT /ocpi/emsp/2.2.1/sessions/NL/ABC/1 HTTP/1.1\r\nHost: e\r\nContent-Length: 40\r\n\r\n"
    script = [(0, body_req + b"0123456789"), ("gap", 0, 20), (0, b"0123456789" + POST),
              (1, CHUNKED + CHUNKED)]
    messages = run(HttpStream(CONN), script)
    names = [(m.name, tuple(p.kind for p in m.problems)) for m in messages]
    assert names[0] == ("PUT /ocpi/emsp/2.2.1/sessions/NL/ABC/1", ("http.stream.gap",))
    assert messages[0].fields["incomplete"] is True
    assert ("HTTP gap", ("http.stream.gap",)) in names
    assert ("POST /ocpi/emsp/2.2.1/tokens/X/authorize", ()) in names
    responses = [m for m in messages if m.fields.get("kind") == "response"]
    assert [r.fields["request"]["method"] for r in responses] == ["PUT", "POST"]


def test_response_cut_by_close_is_truncated():
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"
    messages = run(HttpStream(CONN), [(0, REQ), (1, resp)])
    assert [p.kind for p in messages[1].problems] == ["http.message.truncated"]


def test_websocket_upgrade_goes_opaque():
    upgrade = (b"GET /ocpp/CP1 HTTP/1.1\r\nHost: c\r\nConnection: Upgrade\r\n"
               b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
    switch = (b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
              b"Upgrade: websocket\r\n\r\n")
    frames = b"\x81\x05hello"
    messages = run(HttpStream(CONN), [(0, upgrade + frames), (1, switch + frames)])
    assert messages[0].name == "GET /ocpp/CP1"
    assert messages[1].fields["status"] == 101 and messages[1].fields["upgraded"]
    skipped = [m for m in messages if m.fields.get("kind") == "skipped"]
    assert sum(m.fields["length"] for m in skipped) == 2 * len(frames)


def test_refused_upgrade_keeps_parsing():
    upgrade = (b"GET /x HTTP/1.1\r\nHost: c\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
    messages = run(HttpStream(CONN), [(0, upgrade + POST), (1, CHUNKED + CHUNKED)])
    assert [m.name for m in messages if m.fields.get("kind") == "request"] == [
        "GET /x", "POST /ocpi/emsp/2.2.1/tokens/X/authorize"]
    assert all(m.ok for m in messages)


CONNECT = b"CONNECT cpo.example:443 HTTP/1.1\r\nHost: cpo.example:443\r\n\r\n"
TUNNEL_C, TUNNEL_S = b"\x16\x03\x01\x00\x05hello", b"\x16\x03\x03\x00\x05world"


def _books_balance(stream: HttpStream, script: list) -> None:
    for direction in (0, 1):
        sent = sum(len(item[1]) for item in script if item[0] == direction)
        assert stream.accounting.consumed[direction] + \
            stream.accounting.undecodable[direction] == sent


@pytest.mark.parametrize("chunk", FEEDS)
def test_connect_2xx_opens_a_tunnel_out_of_scope_and_counted(chunk):
    script = [(0, CONNECT + TUNNEL_C), (1, b"HTTP/1.1 200 Connection established\r\n\r\n"
                                         + TUNNEL_S), (0, TUNNEL_C), (1, TUNNEL_S)]
    stream = HttpStream(CONN)
    live = run(stream, script, chunk=chunk, close=False)
    # the answer is a message as soon as its head is in (h11 pauses: no end of message)
    assert [m.name for m in live] == ["CONNECT cpo.example:443", "200 Connection established"]
    assert live[1].fields["tunnel"] and live[1].fields["exchange"] == 0 and live[1].ok
    stream = HttpStream(CONN)
    messages = run(stream, script, chunk=chunk)
    assert [m.name for m in messages][:2] == [m.name for m in live]
    skipped = [m for m in messages if m.fields.get("kind") == "skipped"]
    assert sorted(m.fields["length"] for m in skipped) == [2 * len(TUNNEL_C), 2 * len(TUNNEL_S)]
    assert all(p.kind == "http.stream.skipped" and "CONNECT tunnel" in p.detail
               for m in skipped for p in m.problems)
    assert not [m for m in messages if m.fields.get("kind") == "malformed"]
    _books_balance(stream, script)


def test_refused_connect_keeps_parsing():
    refused = b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
    messages = run(HttpStream(CONN), [(0, CONNECT + REQ), (1, refused + CHUNKED)])
    assert [m.name for m in messages if m.fields.get("kind") == "request"] == [
        "CONNECT cpo.example:443", "GET /ocpi/cpo/2.2.1/locations"]
    assert all(m.ok for m in messages)


@pytest.mark.parametrize(("target", "host", "port"), [
    ("cpo.example:443", "cpo.example", 443), ("10.0.0.9:8443", "10.0.0.9", 8443),
    ("[2001:db8::1]:443", "2001:db8::1", 443), ("cpo.example", "cpo.example", None),
    ("cpo.example:https", "cpo.example", None), ("[2001:db8::1", "[2001:db8::1", None),
    ("h:99999", "h", None)])
def test_connect_is_named_by_its_authority(target, host, port):
    connect = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()
    request = run(HttpStream(CONN), [(0, connect)])[0]
    assert request.name == f"CONNECT {target}"
    fields = request.fields
    assert (fields["authority"], fields["host"], fields["port"]) == (target, host, port)
    assert (fields["target"], fields["path"], fields["query"]) == (target, "", {})
    # RFC 9110 9.3.6: the target is host:port; without a port the tunnel's end is unknown
    assert [p.kind for p in request.problems] == (
        [] if port is not None else ["http.connect.bad-authority"])
    if port is None:
        assert target in request.problems[0].detail and request.problems[0].offset == 0


def test_connect_without_host_is_flagged_and_the_tunnel_still_opens():
    connect = b"CONNECT :443 HTTP/1.1\r\nHost: x\r\n\r\n"
    messages = run(HttpStream(CONN), [(0, connect),
                                      (1, b"HTTP/1.1 200 Connection established\r\n\r\n")])
    request, answer = messages[0], messages[1]
    assert [p.kind for p in request.problems] == ["http.connect.bad-authority"]
    assert "no host" in request.problems[0].detail
    assert answer.name == "200 Connection established" and answer.ok


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 Connection established\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"])
@pytest.mark.parametrize("direction", [0, 1])
def test_gap_after_a_protocol_switch_is_reported(answer, direction):
    opening = CONNECT if answer.startswith(b"HTTP/1.1 200") else (
        b"GET /x HTTP/1.1\r\nHost: c\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
    script = [(0, opening + TUNNEL_C), (1, answer + TUNNEL_S), ("gap", direction, 40),
              (direction, TUNNEL_C)]
    stream = HttpStream(CONN)
    messages = run(stream, script)
    gaps = [m for m in messages if m.fields.get("kind") == "gap"]
    assert len(gaps) == 1
    sent = len(opening + TUNNEL_C) if direction == 0 else len(answer + TUNNEL_S)
    assert (gaps[0].fields["offset"], gaps[0].fields["length"]) == (sent, 40)
    assert [(p.kind, p.offset) for p in gaps[0].problems] == [("http.stream.gap", sent)]
    # the tunnel bytes before the gap are reported before it, those after it at the close
    skipped = [m for m in messages if m.fields.get("kind") == "skipped"]
    assert sum(m.fields["length"] for m in skipped) == 3 * len(TUNNEL_C)
    assert messages.index(gaps[0]) > min(messages.index(m) for m in skipped)
    _books_balance(stream, [item for item in script if item[0] != "gap"])


def test_answer_to_an_earlier_pipelined_request_keeps_the_upgrade_held():
    upgrade = (b"GET /ws HTTP/1.1\r\nHost: c\r\nConnection: Upgrade\r\n"
               b"Upgrade: websocket\r\n\r\n")
    switch = (b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
              b"Upgrade: websocket\r\n\r\n")
    frames = b"\x81\x05hello"
    script = [(0, REQ + upgrade + frames), (1, CHUNKED), (1, switch + frames)]
    stream = HttpStream(CONN)
    messages = run(stream, script)
    assert [(m.name, m.fields.get("exchange")) for m in messages
            if m.fields.get("kind") in ("request", "response")] == [
        ("GET /ocpi/cpo/2.2.1/locations", 0), ("GET /ws", 1), ("200 OK", 0),
        ("101 Switching Protocols", 1)]
    # the WebSocket bytes stay held until the 101 says they are not HTTP
    assert all(m.ok for m in messages if m.fields.get("kind") != "skipped")
    skipped = [m for m in messages if m.fields.get("kind") == "skipped"]
    assert sum(m.fields["length"] for m in skipped) == 2 * len(frames)
    _books_balance(stream, script)


@pytest.mark.parametrize("exact", [True, False])
def test_gap_text_says_up_to_when_the_gap_is_inexact(exact):
    from chargescope.analyzer.records import StreamGap

    stream = HttpStream(CONN)
    run(stream, [(0, REQ)], close=False)
    messages = stream.on_gap(StreamGap(CONN, 0, len(REQ), 100, 5, exact=exact))
    messages += stream.on_gap(StreamGap(CONN, 1, 0, 100, 5, exact=exact))
    details = [p.detail for m in messages for p in m.problems if p.kind == "http.stream.gap"]
    assert len(details) == 2
    assert all(("up to 100 bytes" in d) == (not exact) for d in details)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.binary(max_size=200)), max_size=8))
def test_random_bytes_never_crash_and_are_accounted(script):
    messages = run(HttpStream(CONN), script, chunk=13)
    for m in messages:
        assert m.fields["kind"] in ("request", "response", "skipped", "malformed", "gap")
        if m.fields["kind"] in ("skipped", "malformed"):
            assert m.problems


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64), st.integers(0, len(REQ + POST)))
def test_mutated_requests_never_crash(noise, at):
    data = REQ + POST
    messages = run(HttpStream(CONN), [(0, data[:at] + noise + data[at:])], chunk=5)
    assert all(m.link == "C" for m in messages)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=30))
def test_any_segmentation_gives_the_same_messages(sizes):
    requests, responses = REQ + POST + REQ, CHUNKED + CLOSE_DELIMITED
    whole = summary(run(HttpStream(CONN), [(0, requests), (1, responses)]))

    def cut(data):
        out, pos, i = [], 0, 0
        while pos < len(data):
            size = sizes[i % len(sizes)]
            out.append(data[pos:pos + size])
            pos, i = pos + size, i + 1
        return out

    script = [(0, piece) for piece in cut(requests)] + [(1, piece) for piece in cut(responses)]
    assert summary(run(HttpStream(CONN), script)) == whole


def test_probe_claims_http_but_not_websocket_upgrades():
    from chargescope.dissectors.http.probe import probe

    assert probe(REQ, 0) and probe(CHUNKED, 1)
    upgrade = (b"GET /ocpp/CP1 HTTP/1.1\r\nHost: c\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\n\r\n")
    assert not probe(upgrade, 0)
    assert not probe(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", 1)
    assert not probe(b"\x16\x03\x01\x02\x00", 0)  # TLS ClientHello
    assert not probe(b"\x81\x05hello", 1)
