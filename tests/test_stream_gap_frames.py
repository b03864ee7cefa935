"""Every stream layer pins its problems to a capture frame, gaps included.

A `StreamGap` carries the frame where the loss showed; WebSocket, HTTP, V2GTP and TLS must
name it (not frame 0) in their gap problems, and a jump in offsets without a gap event
must name the frame of the bytes after the jump. Then the same on real captures: a demo
capture with one TCP segment removed, through the whole pipeline, for each layer.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import twin_params
from lossy import demo_frames, payload_frames, reassembly_twin
from ws_builder import client_frame, request, response

from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import (
    ByteRef,
    Connection,
    Endpoint,
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

CONN = Connection(0, Endpoint("10.0.0.2", 40000), Endpoint("10.0.0.1", 9000), "gaps.pcap")
BOOT = '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
V2GTP_HEAD = bytes.fromhex("01fe8001000000")  # a header missing its last length byte
TLS_HEAD = bytes.fromhex("1603030040")  # a handshake record header, body still to come

# layer -> (dissector factory, gap problem kind, bytes before the gap, bytes after it)
LAYERS: dict[str, tuple[Callable, str, bytes, bytes]] = {
    "websocket": (lambda: WebSocketStream(CONN, [payload_handoff()], WebSocketOptions()),
                  "websocket.stream.gap", request(), client_frame(BOOT)),
    "http": (lambda: HttpStream(CONN), "http.stream.gap",
             b"POST /ocpi/2.2.1/sessions HTTP/1.1\r\nContent-Length: 40\r\n\r\n{",
             b"GET /ocpi/versions HTTP/1.1\r\nHost: h\r\n\r\n"),
    "v2gtp": (lambda: v2gtp.V2gtpStream(CONN), "v2gtp.stream.gap", V2GTP_HEAD,
              bytes.fromhex("01fe800100000000")),
    "tls": (lambda: TlsStream(CONN, KeyLog()), "tls.stream.gap", TLS_HEAD,
            bytes.fromhex("160303000101")),
}


def _data(offset: int, data: bytes, frame: int) -> StreamData:
    return StreamData(CONN, 0, offset, data, frame * 1000, (ByteRef("gaps.pcap", frame, 54,
                                                                    len(data)),))


def _problems(messages: list[Message]) -> list:
    return [p for m in messages for p in m.problems]


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_a_gap_event_names_its_frame(layer: str) -> None:
    make, kind, before, after = LAYERS[layer]
    dissector = make()
    out = dissector.on_data(_data(0, before, 1))
    out += dissector.on_gap(StreamGap(CONN, 0, len(before), 30, 42_000, 42))
    out += dissector.on_data(_data(len(before) + 30, after, 43))
    out += dissector.on_close(StreamClose(CONN, -1, 44_000, "end-of-capture"))
    problems = _problems(out)
    assert 42 in [p.frame for p in problems if p.kind == kind]
    assert all(p.frame in (1, 42, 43) and p.source == "gaps.pcap" for p in problems), problems


@pytest.mark.parametrize("layer", ["http", "v2gtp", "websocket"])  # TLS trusts the offsets
def test_a_jump_without_gap_event_names_the_frame_after_it(layer: str) -> None:
    make, kind, before, after = LAYERS[layer]
    dissector = make()
    out = dissector.on_data(_data(0, before, 1))
    out += dissector.on_data(_data(len(before) + 30, after, 43))
    frames = [p.frame for p in _problems(out) if p.kind == kind]
    assert 43 in frames and set(frames) <= {1, 43}  # 1: a unit cut short names its start


def test_websocket_gap_after_the_handshake_is_the_gap_frame() -> None:
    """The case of the bug report: nothing buffered, so no bytes to take a frame from."""
    make = LAYERS["websocket"][0]
    ws = make()
    out = ws.on_data(_data(0, request(), 1))
    out += ws.on_data(StreamData(CONN, 1, 0, response(), 2000,
                                 (ByteRef("gaps.pcap", 2, 54, len(response())),)))
    out += ws.on_data(_data(len(request()), client_frame(BOOT), 3))
    lost = len(client_frame(BOOT))
    out += ws.on_gap(StreamGap(CONN, 0, len(request()) + lost, lost, 5000, 5))
    (gap,) = [p for p in _problems(out) if p.kind == "websocket.stream.gap"]
    assert (gap.frame, gap.offset, gap.where) == (5, len(request()) + lost, "stream")


# -- the same through the pipeline, on demo captures with one segment taken out -------------

CAPTURES = {
    "v2gtp": ("energy-mismatch-linkA-plc.pcapng", 61341, 40),
    "websocket": ("energy-mismatch-linkB-csms.pcapng", None, 5),
    "http": ("energy-mismatch-linkC-ocpi.pcap", None, 2),
}


@pytest.fixture(params=twin_params("tcpreassembly"))
def impl(request, monkeypatch) -> str:
    return reassembly_twin(request, monkeypatch)


@pytest.mark.parametrize("layer", sorted(CAPTURES))
def test_a_lost_segment_is_reported_where_it_showed(impl: str, layer: str) -> None:
    name, port, which = CAPTURES[layer]
    frames = demo_frames(name)
    lost = payload_frames(frames, port)[which]
    problems = [item for m in Pipeline().run(f for f in frames if f.number != lost)
                if isinstance(m, Message) for item in m.problems]
    kind = LAYERS[layer][1]
    gaps = [p for p in problems if p.kind == kind]
    assert gaps and all(p.frame > lost for p in gaps)
    assert all(p.frame > 0 and p.source.endswith(name) for p in problems)


def test_websocket_control_frame_problem_names_its_stream_offset() -> None:
    """A close frame with a 1-byte payload: the problem points at the frame's stream offset
    (not at the byte position inside the capture frame)."""
    ws = LAYERS["websocket"][0]()
    out = ws.on_data(_data(0, request(), 1))
    out += ws.on_data(StreamData(CONN, 1, 0, response(), 2000,
                                 (ByteRef("gaps.pcap", 2, 54, len(response())),)))
    close = client_frame(b"\x03", opcode=0x8)
    out += ws.on_data(_data(len(request()), close, 3))
    (problem,) = [p for p in _problems(out) if p.kind == "websocket.close.malformed"]
    assert (problem.frame, problem.offset, problem.where) == (3, len(request()), "stream")
