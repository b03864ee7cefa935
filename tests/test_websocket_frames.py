"""RFC 6455 frame header parsing, masking and the resync heuristic."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chargescope.dissectors.websocket.frames import (
    Opcode,
    build_frame,
    header_violations,
    parse_header,
    plausible_frame_at,
    unmask,
)


@given(st.binary(max_size=70000), st.binary(min_size=4, max_size=4), st.booleans(),
       st.sampled_from([Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION]))
def test_build_then_parse_round_trips(payload, key, masked, opcode):
    key = key if masked else b""
    wire = build_frame(payload, opcode, mask_key=key, fin=True)
    head = parse_header(wire)
    assert head is not None
    assert head.opcode == opcode and head.fin and head.masked == masked
    assert head.length == len(payload) and head.total_len == len(wire)
    body = wire[head.header_len:]
    assert (unmask(body, head.mask_key) if masked else body) == payload


@given(st.binary(max_size=300), st.binary(min_size=4, max_size=4))
def test_unmask_is_its_own_inverse(data, key):
    assert unmask(unmask(data, key), key) == data


def test_known_masking_vector_from_rfc6455_5_7():
    # "Hello", masked with 37 fa 21 3d (RFC 6455 section 5.7)
    wire = bytes.fromhex("818537fa213d7f9f4d5158")
    head = parse_header(wire)
    assert head.masked and head.length == 5
    assert unmask(wire[head.header_len:], head.mask_key) == b"Hello"


@given(st.binary(max_size=20))
def test_short_input_means_need_more_never_an_exception(data):
    head = parse_header(data)
    if head is not None:
        assert head.header_len <= len(data)


def test_every_prefix_of_a_header_is_incomplete():
    wire = build_frame(b"x" * 70000, mask_key=b"abcd")
    head = parse_header(wire)
    for n in range(head.header_len):
        assert parse_header(wire[:n]) is None


def test_violations_name_the_rule():
    def kinds(wire, from_client, deflate=False):
        return {k for k, _ in header_violations(parse_header(wire), from_client=from_client,
                                                deflate=deflate)}

    assert kinds(build_frame(b"x", mask_key=b""), True) == {"websocket.mask.missing"}
    assert kinds(build_frame(b"x", mask_key=b"abcd"), False) == {"websocket.mask.unexpected"}
    assert kinds(build_frame(b"x" * 126, Opcode.PING), False) == {"websocket.control.too_long"}
    assert kinds(build_frame(b"", Opcode.PING, fin=False), False) == {"websocket.control.fragmented"}
    assert kinds(build_frame(b"x", 0x3), False) == {"websocket.opcode.reserved"}
    assert kinds(build_frame(b"x", rsv1=True), False) == {"websocket.rsv.set"}
    assert kinds(build_frame(b"x", rsv1=True), False, deflate=True) == set()


def test_resync_heuristic_accepts_ocpp_text_and_rejects_noise():
    frame = build_frame(b'[2,"1","Heartbeat",{}]', mask_key=b"\x01\x02\x03\x04")
    assert plausible_frame_at(frame, 0, from_client=True)
    assert not plausible_frame_at(frame, 0, from_client=False)  # masking says client
    assert not plausible_frame_at(build_frame(b"hello", mask_key=b"\0\0\0\0"), 0, from_client=True)
    assert not plausible_frame_at(build_frame(b"x", Opcode.CONTINUATION), 0, from_client=False)
    assert not plausible_frame_at(b"\x8f\x00", 0, from_client=False)
