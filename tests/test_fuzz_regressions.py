"""Inputs the fuzzer once crashed on (tests/data/fuzz/<target>-<kind>-<hash>.bin) stay fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.fuzz import TARGETS, run_one

FIXTURES = sorted((Path(__file__).parent / "data" / "fuzz").glob("*.bin"))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_former_crash_runs_clean(path: Path) -> None:
    target = path.stem.split("-crash-")[0].split("-hang-")[0]
    assert target in TARGETS, f"fixture {path.name} names no fuzz target"
    finding = run_one(TARGETS[target].run, path.read_bytes(), timeout=10.0)
    assert finding is None, finding.error if finding else ""


def test_http_ignores_an_empty_chunk_instead_of_ending_the_stream() -> None:
    from chargescope.analyzer.records import StreamData
    from chargescope.dissectors.http.stream import HttpStream
    from tools.fuzz import _conn

    conn = _conn()
    http = HttpStream(conn)
    req = b"GET /ocpi/versions HTTP/1.1\r\nHost: x\r\n\r\n"
    assert http.on_data(StreamData(conn, 0, 0, b"", 0)) == []
    messages = http.on_data(StreamData(conn, 0, 0, req, 1))
    assert len(messages) == 1 and not messages[0].problems


def test_ocpi_token_with_non_ascii_credential_is_kept_verbatim() -> None:
    from chargescope.dissectors.ocpi.decode import token_of

    assert token_of("Token ZW1z\u00e9MTA") == ("ZW1z\u00e9MTA", False)


def test_urls_urlsplit_rejects_still_decode() -> None:
    from chargescope.dissectors.http.stream import split_url
    from chargescope.dissectors.ocpi.decode import OcpiContext

    assert split_url("http://[fe80::1/ocpi/commands").path == "http://[fe80::1/ocpi/commands"
    assert split_url("https://h:9/ocpi/x?a=1").path == "/ocpi/x"
    ctx = OcpiContext()
    ctx.learn_response_url("http://[broken/cb/1", "START_SESSION")
    assert list(ctx.response_urls.values()) == ["START_SESSION"]


def test_deflate_window_bits_with_a_non_ascii_digit_fall_back_to_15() -> None:
    from chargescope.dissectors.websocket.deflate import negotiated_deflate

    params = negotiated_deflate(["permessage-deflate; client_max_window_bits=1\u00b2"])
    assert params is not None and params.client_max_window_bits == 15


@pytest.mark.parametrize("head", [b"HTTP/1.1 1\xb21 Switching Protocols",
                                  b"HTTP/1.1 101 OK\r\nContent-Length: 1\xb2"])
def test_handshake_numbers_with_non_ascii_digits_do_not_crash(head: bytes) -> None:
    from chargescope.dissectors.websocket.handshake import (
        HandshakeError,
        parse_header_block,
        response_fields,
    )

    try:
        fields = response_fields(parse_header_block(head))
    except HandshakeError:
        return
    assert fields["content_length"] is None
