"""The WebSocket StreamDissector: handshake, frames, deflate, gaps, resync, hostile input.

Every reader is checked three ways (h11's `tr()`): the whole input at once, fed one
byte at a time, and with trailing bytes that must stay buffered, not misparsed.
"""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ws_builder import (
    CONN,
    Conversation,
    Deflater,
    client_frame,
    feed,
    request,
    response,
    server_frame,
    split_bytewise,
)

from chargescope.analyzer.records import StreamData, StreamGap
from chargescope.dissectors.ocpp import payload_handoff
from chargescope.dissectors.websocket import WebSocketOptions, WebSocketStream, probe
from chargescope.dissectors.websocket.frames import Opcode, build_frame

BOOT = '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
BOOT_OK = '[3,"b1",{"status":"Accepted","currentTime":"2024-01-01T00:00:00Z","interval":300}]'


def stream(**options) -> WebSocketStream:
    return WebSocketStream(CONN, [payload_handoff()], WebSocketOptions(**options))


def summary(messages):
    return [(m.protocol, m.name, m.fields.get("unique_id"), tuple(p.kind for p in m.problems),
             m.refs) for m in messages]


def basic_conversation(deflate: str = "") -> Conversation:
    conv = Conversation()
    conv.send(0, request(extensions="permessage-deflate" if deflate else "",
                         auth="CP-1:hunter2"))
    ext = {"": "", "ctx": "permessage-deflate",
           "noctx": "permessage-deflate; client_no_context_takeover; server_no_context_takeover; "
                    "server_max_window_bits=10; client_max_window_bits=10"}[deflate]
    conv.send(1, response(extensions=ext))
    ctx = deflate != "noctx"
    cd, sd = Deflater(ctx, 10 if not ctx else 15), Deflater(ctx, 10 if not ctx else 15)
    for i in range(3):
        call = BOOT.replace('"b1"', f'"b{i}"')
        res = BOOT_OK.replace('"b1"', f'"b{i}"')
        if deflate:
            conv.send(0, client_frame(cd.compress(call.encode()), rsv1=True))
            conv.send(1, server_frame(sd.compress(res.encode()), rsv1=True))
        else:
            conv.send(0, client_frame(call))
            conv.send(1, server_frame(res))
    conv.send(0, client_frame(b"", opcode=Opcode.PING))
    conv.send(1, server_frame(b"", opcode=Opcode.PONG))
    conv.send(0, client_frame(b"\x03\xe8bye", opcode=Opcode.CLOSE))
    conv.close()
    return conv


@pytest.mark.parametrize("deflate", ["", "ctx", "noctx"])
def test_conversation_whole_and_bytewise_agree(deflate):
    conv = basic_conversation(deflate)
    whole = feed(stream(), conv.events)
    bytewise = feed(stream(), split_bytewise(conv.events))
    assert summary(whole) == summary(bytewise)
    names = [m.name for m in whole]
    assert names[:2] == ["Handshake Request", "Handshake Response"]
    assert names.count("BootNotification Request") == 3
    assert names.count("BootNotification Response") == 3
    assert names[-4:] == ["Ping", "Pong", "Close", "Connection closed"]
    assert all(m.ok for m in whole)
    ocpp = [m for m in whole if m.protocol == "ocpp"]
    assert all(m.fields["schema"] == "valid" for m in ocpp)
    assert all(m.fields["websocket"]["compressed"] == bool(deflate) for m in ocpp)
    assert whole[-2].fields["code"] == 1000 and whole[-2].fields["reason"] == "bye"


def test_refs_point_at_the_frame_bytes():
    conv = basic_conversation()
    msgs = feed(stream(), conv.events)
    boot = msgs[2]
    (ref,) = boot.refs
    data_event = conv.events[2]
    assert ref.frame == data_event.refs[0].frame and ref.length == len(data_event.data)


def test_trailing_partial_frame_stays_buffered_then_reported_at_close():
    conv = Conversation()
    conv.send(0, request())
    conv.send(1, response())
    frame = client_frame(BOOT)
    conv.send(0, frame + frame[:7])  # a whole frame plus the start of the next
    ws = stream()
    out = feed(ws, conv.events)
    assert [m.name for m in out][-1] == "BootNotification Request"
    conv.close()
    tail = feed(ws, conv.events[-2:])
    assert [p.kind for m in tail for p in m.problems] == ["websocket.frame.truncated"]
    assert tail[0].fields["length"] == 7


def test_basic_auth_password_is_masked_unless_asked():
    conv = basic_conversation()
    masked = feed(stream(), conv.events)[0].fields["authorization"]
    shown = feed(stream(show_secrets=True), conv.events)[0].fields["authorization"]
    assert masked == {"scheme": "Basic", "user": "CP-1", "password": "********"}
    assert shown["password"] == "hunter2"
    assert "hunter2" not in repr(feed(stream(), conv.events))


def test_handshake_fields_and_accept_check():
    conv = Conversation()
    conv.send(0, request(cp_id="CP%2F7", subprotocols="ocpp2.0.1, ocpp1.6"))
    conv.send(1, response(subprotocol="ocpp2.0.1", accept="AAAA"))
    req, res = feed(stream(), conv.events)
    assert req.fields["charge_point_id"] == "CP/7"
    assert req.fields["subprotocols_offered"] == ["ocpp2.0.1", "ocpp1.6"]
    assert res.fields["status"] == 101 and res.fields["subprotocol"] == "ocpp2.0.1"
    assert [p.kind for p in res.problems] == ["websocket.handshake.accept_mismatch"]


def test_http_error_instead_of_upgrade():
    conv = Conversation()
    conv.send(0, request())
    conv.send(1, response(status=404))
    conv.close()
    msgs = feed(stream(), conv.events)
    assert msgs[1].fields["status"] == 404 and msgs[1].fields["body"] == "no such charger"
    assert [m.name for m in msgs] == ["Handshake Request", "Handshake Response", "Connection closed"]


def test_fragmented_message_with_interleaved_ping():
    text = BOOT.encode()
    conv = Conversation()
    conv.send(0, request())
    conv.send(1, response())
    conv.send(0, client_frame(text[:10], fin=False) + client_frame(b"p", opcode=Opcode.PING)
              + client_frame(text[10:30], opcode=Opcode.CONTINUATION, fin=False)
              + client_frame(text[30:], opcode=Opcode.CONTINUATION))
    msgs = feed(stream(), conv.events)
    assert [m.name for m in msgs[2:]] == ["Ping", "BootNotification Request"]
    assert msgs[3].fields["websocket"]["fragments"] == 3 and msgs[3].ok


def test_orphan_continuation_and_interrupted_fragments_are_reported():
    conv = Conversation()
    conv.send(0, request())
    conv.send(1, response())
    conv.send(1, server_frame(b"abc", opcode=Opcode.CONTINUATION))
    conv.send(1, server_frame(b"[3,", fin=False) + server_frame(BOOT_OK))
    msgs = feed(stream(), conv.events)[2:]
    kinds = [[p.kind for p in m.problems] for m in msgs]
    assert kinds == [["websocket.continuation.orphan"], ["websocket.message.incomplete"], []]


def test_gap_resynchronises_on_next_frame():
    conv = Conversation()
    conv.send(0, request())
    conv.send(1, response())
    conv.send(0, client_frame(BOOT))
    ws = stream()
    out = feed(ws, conv.events)
    lost = client_frame(BOOT.replace("b1", "b2"))
    out += ws.on_gap(StreamGap(CONN, 0, conv.offsets[0], 10, conv.ts))
    # the rest of the lost frame arrives, then a whole frame
    after = lost[10:] + client_frame(BOOT.replace("b1", "b3"))
    out += ws.on_data(StreamData(CONN, 0, conv.offsets[0] + 10, after, conv.ts, ()))
    names = [m.name for m in out]
    assert names[-3:] == ["Gap", "Undecoded bytes", "BootNotification Request"]
    assert out[-1].fields["unique_id"] == "b3"
    assert [p.kind for p in out[-2].problems] == ["websocket.resync.skipped"]
    assert out[-2].fields["length"] == len(lost) - 10


def test_capture_starting_mid_connection_without_handshake():
    conv = Conversation()
    conv.send(0, b"\x00\x01garbage" + client_frame(BOOT))
    conv.send(1, server_frame(BOOT_OK))
    msgs = feed(stream(), conv.events)
    assert [m.name for m in msgs] == ["Undecoded bytes", "BootNotification Request",
                                      "BootNotification Response"]
    assert msgs[1].fields["ocpp_version"] == "1.6" and msgs[1].fields["version_source"] == "guessed"
    assert msgs[2].fields["action"] == "BootNotification"


def test_deflate_with_lost_context_is_a_problem_not_a_crash():
    d = Deflater(True)
    d.compress(BOOT.encode())  # earlier message the capture missed: shared window unknown
    second = d.compress(BOOT.encode())
    conv = Conversation()
    conv.send(0, client_frame(BOOT))  # mid-connection, no handshake
    conv.send(0, client_frame(second, rsv1=True))
    msgs = feed(stream(), conv.events)
    kinds = [p.kind for m in msgs for p in m.problems]
    assert "websocket.deflate.failed" in kinds or msgs[-1].name == "BootNotification Request"


def test_decompression_bomb_is_capped():
    bomb = zlib.compressobj(wbits=-15)
    payload = bomb.compress(b"[" * (8 << 20)) + bomb.flush(zlib.Z_SYNC_FLUSH)
    conv = Conversation()
    conv.send(0, request(extensions="permessage-deflate"))
    conv.send(1, response(extensions="permessage-deflate"))
    conv.send(0, client_frame(payload[:-4], rsv1=True))
    conv.send(0, client_frame(Deflater().compress(BOOT.encode()), rsv1=True))
    msgs = feed(stream(max_message_size=1 << 20), conv.events)
    assert [p.kind for p in msgs[2].problems] == ["websocket.deflate.too_large"]
    assert msgs[2].fields["size"] == 8 << 20


def test_oversized_frame_is_skipped_without_buffering():
    conv = Conversation()
    conv.send(0, request())
    conv.send(1, response())
    conv.send(0, client_frame(b"[" + b"x" * 5000))
    conv.send(0, client_frame(BOOT))
    msgs = feed(stream(max_message_size=1000), conv.events)
    assert [m.name for m in msgs[2:]] == ["Oversized frame", "BootNotification Request"]


def test_probe_recognises_upgrade_and_mid_stream_frames():
    assert probe(request(), 0)
    assert probe(client_frame(BOOT), 0)
    assert probe(server_frame(BOOT_OK), 1)
    assert not probe(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0)
    assert not probe(b"\x16\x03\x01\x02\x00", 0)  # TLS ClientHello


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=50))
def test_hostile_bytes_never_crash_and_every_byte_is_accounted(data, chunk):
    conv = Conversation()
    conv.send(0, request())
    conv.send(1, response(extensions="permessage-deflate"))
    for i in range(0, len(data), chunk):
        conv.send(i % 2, data[i:i + chunk])
    conv.close()
    msgs = feed(stream(max_message_size=4096), conv.events)
    assert msgs[-1].name == "Connection closed"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=5), st.booleans())
def test_random_text_messages_round_trip(texts, deflate):
    conv = Conversation()
    conv.send(0, request(extensions="permessage-deflate" if deflate else ""))
    conv.send(1, response(extensions="permessage-deflate" if deflate else ""))
    d = Deflater()
    for t in texts:
        data = t.encode()
        conv.send(0, client_frame(d.compress(data), rsv1=True) if deflate else client_frame(data))
    ws = WebSocketStream(CONN, [], WebSocketOptions())
    msgs = feed(ws, conv.events)[2:]
    assert [m.fields["text"] for m in msgs] == texts


def test_frame_builder_masks_client_frames():
    assert build_frame(b"abc", mask_key=b"\x00\x00\x00\x01")[1] & 0x80


def test_credentials_in_the_url_query_are_masked():
    conv = Conversation()
    conv.send(0, request().replace(b"GET /ocpp/CP-1 ", b"GET /ocpp/CP-1?token=abc123&site=7 "))
    masked = feed(stream(), conv.events)[0].fields
    assert masked["path"] == "/ocpp/CP-1?token=********&site=7"
    assert masked["charge_point_id"] == "CP-1"
    shown = feed(stream(show_secrets=True), conv.events)[0].fields
    assert shown["path"] == "/ocpp/CP-1?token=abc123&site=7"


def test_single_offer_is_assumed_when_the_server_echoes_no_subprotocol():
    conv = Conversation()
    conv.send(0, request(subprotocols="ocpp2.0.1"))
    conv.send(1, response(subprotocol=""))
    conv.send(0, client_frame('[2,"1","Heartbeat",{}]'))
    msgs = feed(stream(), conv.events)
    assert msgs[1].fields["subprotocol"] == "" and msgs[1].fields["subprotocol_assumed"] == "ocpp2.0.1"
    assert msgs[2].fields["ocpp_version"] == "2.0.1"
    assert msgs[2].fields["version_source"] == "handshake"


def rechunk(events, sizes):
    """Each StreamData cut into pieces of the given sizes (cycled), refs cut alike."""
    from chargescope.analyzer.records import ByteRef

    out, k = [], 0
    for ev in events:
        if not isinstance(ev, StreamData):
            out.append(ev)
            continue
        (ref,) = ev.refs
        pos = 0
        while pos < len(ev.data):
            n = sizes[k % len(sizes)]
            k += 1
            piece = ev.data[pos:pos + n]
            out.append(StreamData(ev.conn, ev.direction, ev.offset + pos, piece, ev.ts_ns,
                                  (ByteRef(ref.source, ref.frame, ref.start + pos, len(piece)),)))
            pos += len(piece)
    return out


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["ocpp16_basic", "ocpp201_deflate", "ocpp21_nocontext", "ocpp16_badframe"]),
       st.lists(st.integers(1, 400), min_size=1, max_size=8))
def test_real_captures_decode_the_same_however_segmented(name, sizes):
    from pathlib import Path

    from ocpp_streams import stream_events

    events = stream_events(Path(__file__).resolve().parent / "data" / "ocpp" / f"{name}.pcap")
    conn = next(e.conn for e in events if hasattr(e, "conn"))
    whole = feed(WebSocketStream(conn, [payload_handoff()]), events[1:])
    pieces = feed(WebSocketStream(conn, [payload_handoff()]), rechunk(events[1:], sizes))
    assert summary(pieces) == summary(whole)


@pytest.mark.parametrize("size", [10, 3000])
@pytest.mark.parametrize("mask_key", [b"", b"\x01\x02\x03\x04"])
def test_a_compressed_json_text_frame_is_evidence_on_its_own(size: int, mask_key: bytes) -> None:
    """Resync after a gap: a compressed (RFC 7692) text frame whose payload inflates to a
    JSON array is a frame boundary without waiting for the next frame; random bytes,
    or a fragment (no FIN), are not."""
    import json as _json
    import random
    import zlib

    from chargescope.dissectors.websocket import frames as wsf
    from chargescope.dissectors.websocket.stream import _inflates_to_json

    text = _json.dumps([2, "u", "DataTransfer", {"data": "ab" * size}]).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = (packer.compress(text) + packer.flush(zlib.Z_SYNC_FLUSH))[:-4]

    def check(data: bytes, fin: bool = True) -> bool:
        buf = bytearray(wsf.build_frame(data, rsv1=True, fin=fin, mask_key=mask_key))
        return _inflates_to_json(buf, 0, wsf.parse_header(buf, 0))

    assert check(payload)
    assert not check(payload, fin=False)
    assert not check(random.Random(7).randbytes(len(payload)))  # (fixed: no flakiness)
