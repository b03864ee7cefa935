"""permessage-deflate (RFC 7692): negotiation parsing and the bounded inflater."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.dissectors.websocket.deflate import (
    DeflateParams,
    InflateError,
    Inflater,
    negotiated_deflate,
)


def sender(wbits: int, context_takeover: bool):
    z = None

    def compress(data: bytes) -> bytes:
        nonlocal z
        if z is None or not context_takeover:
            z = zlib.compressobj(wbits=-wbits)
        return (z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH))[:-4]

    return compress


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=3000), min_size=1, max_size=6), st.integers(9, 15), st.booleans())
def test_inflate_round_trips_any_window_and_takeover(messages, wbits, takeover):
    compress = sender(wbits, takeover)
    inflater = Inflater(context_takeover=takeover, window_bits=wbits)
    for data in messages:
        out = inflater.inflate(compress(data))
        assert (out.data, out.size, out.oversized) == (data, len(data), False)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 200_000), st.integers(1_000, 50_000))
def test_output_never_exceeds_the_cap(size, cap):
    payload = sender(15, False)(b"A" * size)
    out = Inflater(context_takeover=False, max_size=cap).inflate(payload)
    assert out.size == size
    assert out.oversized == (size > cap)
    assert len(out.data) <= cap


def test_window_stays_in_sync_after_an_oversized_message():
    compress = sender(15, True)
    inflater = Inflater(context_takeover=True, max_size=1000)
    assert inflater.inflate(compress(b"x" * 5000)).oversized
    assert inflater.inflate(compress(b"x" * 500)).data == b"x" * 500  # back-references work


def test_garbage_raises_inflate_error():
    with pytest.raises(InflateError):
        Inflater(context_takeover=False).inflate(b"\xff\xff\xff\xff")


def test_negotiation_parameters():
    assert negotiated_deflate(["foo", "permessage-deflate; client_max_window_bits=10; "
                                      "server_no_context_takeover"]) == DeflateParams(
        server_no_context_takeover=True, client_max_window_bits=10)
    assert negotiated_deflate(["permessage-deflate; server_max_window_bits=\"12\""]) == DeflateParams(
        server_max_window_bits=12)
    assert negotiated_deflate(["x-webkit-deflate-frame"]) is None
    assert negotiated_deflate(["permessage-deflate; client_max_window_bits=99"]).client_max_window_bits == 15
