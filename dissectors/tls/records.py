"""The TLS record layer (RFC 5246 §6.2, RFC 8446 §5.1): header recognition and framing."""

from __future__ import annotations

from dataclasses import dataclass

from chargescope.analyzer.byteranges import slice_refs  # noqa: F401 (re-exported)
from chargescope.analyzer.records import ByteRef

HEADER_LEN = 5
CHANGE_CIPHER_SPEC = 20
ALERT = 21
HANDSHAKE = 22
APPLICATION_DATA = 23
HEARTBEAT = 24
CONTENT_TYPES = {CHANGE_CIPHER_SPEC: "ChangeCipherSpec", ALERT: "Alert", HANDSHAKE: "Handshake",
                 APPLICATION_DATA: "ApplicationData", HEARTBEAT: "Heartbeat"}
# 2^14 plaintext + 2048 expansion allowed by RFC 5246 §6.2.3 (TLS 1.3 allows 2^14 + 256)
MAX_FRAGMENT = (1 << 14) + 2048


@dataclass(frozen=True, slots=True)
class Record:
    """One TLS record as it was on the wire (fragment still protected if it was)."""

    direction: int
    content_type: int
    version: int
    fragment: bytes
    offset: int  # stream offset of the record header
    ts_ns: int
    refs: tuple[ByteRef, ...]  # frame bytes of the fragment (header excluded)
    frame: int = 0  # the frame of the header: where problems of an empty record point


def header_ok(data: bytes | bytearray, pos: int = 0) -> bool:
    """Is there a plausible record header at `pos` (type, version 3.x, length)?"""
    if len(data) - pos < HEADER_LEN:
        return False
    return (data[pos] in CONTENT_TYPES and data[pos + 1] == 3 and data[pos + 2] <= 4
            and int.from_bytes(data[pos + 3:pos + 5], "big") <= MAX_FRAGMENT)


def probe(first_bytes: bytes, direction: int) -> bool:
    """Heuristic for the pipeline: a TLS handshake record (0x16 0x03 0x0x) starts the stream."""
    return len(first_bytes) >= 3 and first_bytes[0] == HANDSHAKE and header_ok(
        first_bytes[:HEADER_LEN].ljust(HEADER_LEN, b"\0"))


