"""Hot path "wsframes": the Cython frame splitter and its pure-Python twin agree, and
both return exactly the whole unfragmented data frames a segment starts with."""

from __future__ import annotations

import pytest
from conftest import load_impl, twin_params
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chargescope import backends
from chargescope.dissectors.websocket.frames import build_frame

CAP = 1 << 20


@pytest.fixture(params=twin_params("wsframes"), scope="module")
def impl(request):
    return load_impl("wsframes", request.param)


def _raw_header(b0: int, length: int, encoding: int, mask_key: bytes) -> bytes:
    """A header with the length in the given encoding (0: 7-bit, 1: 16-bit, 2: 64-bit),
    even where RFC 6455 wants the shortest one (the splitter must read any)."""
    mask_bit = 0x80 if mask_key else 0
    if encoding == 0 and length < 126:
        head = bytes([b0, mask_bit | length])
    elif encoding <= 1 and length < 1 << 16:
        head = bytes([b0, mask_bit | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([b0, mask_bit | 127]) + length.to_bytes(8, "big")
    return head + mask_key


frame_st = st.tuples(
    st.integers(0, 0xFF),  # byte 0: FIN, RSV1-3, opcode, all combinations
    st.binary(max_size=300),
    st.sampled_from([b"", b"\x12\x34\x56\x78", b"\x00\x00\x00\x00", b"\xff\xfe\xfd\xfc"]),
    st.integers(0, 2),
)


@settings(max_examples=300)
@given(frames=st.lists(frame_st, max_size=6), cut=st.integers(0, 4000),
       from_client=st.booleans(), deflate_on=st.booleans(), cap=st.sampled_from([0, 10, 200, CAP]),
       pos=st.integers(0, 8))
def test_twins_agree_on_any_bytes(frames, cut, from_client, deflate_on, cap, pos):
    data = b"".join(_raw_header(b0, len(p), enc, key) + p for b0, p, key, enc in frames)[:cut]
    py = backends.load_twin("wsframes").split_data_frames
    ext = backends.load_extension("wsframes")
    expected = py(data, pos, from_client, deflate_on, cap)
    if ext is not None:
        assert ext.split_data_frames(data, pos, from_client, deflate_on, cap) == expected


@given(payloads=st.lists(st.tuples(st.binary(max_size=70000 // 8), st.booleans()), max_size=5),
       tail=st.binary(max_size=20), from_client=st.booleans())
def test_whole_frames_come_back_unmasked(impl, payloads, tail, from_client):
    # a tail that is itself a whole frame (e.g. a masked empty text frame) is split too
    assume(not impl.split_data_frames(tail, 0, from_client, False, CAP)[0])
    key = b"\x37\xfa\x21\x3d" if from_client else b""
    data = b"".join(build_frame(p, 0x1 if text else 0x2, mask_key=key) for p, text in payloads)
    frames, end = impl.split_data_frames(data + tail, 0, from_client, False, CAP)
    assert [(f[0], f[4]) for f in frames] == [(0x1 if t else 0x2, p) for p, t in payloads]
    assert end >= len(data)
    if frames:
        assert frames[0][2] == 0 and frames[-1][3] == len(data)
        assert all(a[3] == b[2] for a, b in zip(frames, frames[1:], strict=False))


@pytest.mark.parametrize("frame, why", [
    (build_frame(b"[]", fin=False), "not FIN"),
    (build_frame(b"ping", 0x9), "control"),
    (build_frame(b"x", 0x0), "continuation"),
    (build_frame(b"[]", rsv1=True), "RSV1 without deflate"),
    (bytes([0xA1, 2]) + b"[]", "RSV2"),
    (bytes([0x91, 2]) + b"[]", "RSV3"),
    (build_frame(b"[]", mask_key=b"abcd"), "masked from the server"),
    (build_frame(b"x" * 11), "over the cap"),
    (build_frame(b"[1,2,3]")[:-1], "partial payload"),
    (bytes([0x81, 126, 0]), "partial header"),
    (bytes([0x81, 127]) + (1 << 63).to_bytes(8, "big") + b"[]", "64-bit length, MSB set"),
])
def test_stops_at_the_first_frame_the_general_path_must_see(impl, frame, why):
    good = build_frame(b"[2]")
    frames, end = impl.split_data_frames(good + frame, 0, False, False, 10)
    assert [f[4] for f in frames] == [b"[2]"], why
    assert end == len(good)


def test_rsv1_passes_when_deflate_was_negotiated(impl):
    frames, end = impl.split_data_frames(build_frame(b"\x00", rsv1=True), 0, False, True, CAP)
    assert frames == [(0x1, True, 0, 3, b"\x00")] and end == 3


def test_start_position_and_bad_arguments(impl):
    data = b"junk" + build_frame(b"[3]")
    assert impl.split_data_frames(data, 4, False, False, CAP) == ([(1, False, 4, 9, b"[3]")], 9)
    assert impl.split_data_frames(data, 99, False, False, CAP) == ([], 99)
    assert impl.split_data_frames(b"", 0, False, False, CAP) == ([], 0)
    with pytest.raises(ValueError):
        impl.split_data_frames(data, -1, False, False, CAP)


def test_a_tail_that_is_a_whole_empty_frame_is_split_too(impl):
    # what hypothesis once drew as "tail": a client's masked empty text frame (key 0)
    data = build_frame(b"[2]", mask_key=b"abcd") + b"\x81\x80\0\0\0\0"
    frames, end = impl.split_data_frames(data, 0, True, False, CAP)
    assert [(f[0], f[4]) for f in frames] == [(0x1, b"[2]"), (0x1, b"")] and end == len(data)
