"""TLS streams: what an encrypted stream may keep when shared.

Record headers stay (so the record layer and its lengths still parse); application
data and alerts become zero octets (their ciphertext is of no use without keys and may
be decrypted later by whoever holds a key log); in cleartext handshake records
(TLS <= 1.2) Certificate messages are replaced by a marker of the same length, since
their subjects name the EVSE, the contract (eMAID) or the operator. Other handshake
messages (hello, key exchange) stay for the TLS checks.
"""

from __future__ import annotations

import re

from chargescope.analyzer.anonymize.pseudonym import CERT_MARKER

_RECORD_START = re.compile(rb"^[\x14-\x17]\x03[\x00-\x04]")
CONTENT_HANDSHAKE = 22
CONTENT_APPLICATION = 23
CONTENT_ALERT = 21
HANDSHAKE_CERTIFICATE = 11


def looks_like_tls(stream: bytes) -> bool:
    return bool(_RECORD_START.match(stream)) and len(stream) >= 5


def scrub_tls(stream: bytes) -> bytes:
    """Same-length copy of a TLS byte stream with payloads scrubbed (see module doc)."""
    out = bytearray(stream)
    pos = 0
    while pos + 5 <= len(out) and _RECORD_START.match(bytes(out[pos:pos + 3])):
        content = out[pos]
        end = min(pos + 5 + int.from_bytes(out[pos + 3:pos + 5], "big"), len(out))
        if content in (CONTENT_APPLICATION, CONTENT_ALERT):
            out[pos + 5:end] = bytes(end - pos - 5)
        elif content == CONTENT_HANDSHAKE:
            _scrub_certificates(out, pos + 5, end)
        pos = end
    if pos < len(out):  # not records any more (or cut): nothing readable is kept
        out[pos:] = bytes(len(out) - pos)
    return bytes(out)


def _scrub_certificates(out: bytearray, start: int, end: int) -> None:
    at = start
    while at + 4 <= end:
        length = int.from_bytes(out[at + 1:at + 4], "big")
        body_end = min(at + 4 + length, end)
        if out[at] == HANDSHAKE_CERTIFICATE:
            n = body_end - at - 4
            out[at + 4:body_end] = (CERT_MARKER * (n // len(CERT_MARKER) + 1))[:n]
        at = body_end
