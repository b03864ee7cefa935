"""TLS streams: what an encrypted stream may keep when shared.

Record headers stay (so the record layer and its lengths still parse); application
data and alerts become zero octets (their ciphertext is of no use without keys and may
be decrypted later by whoever holds a key log); in cleartext handshake records
(TLS <= 1.2) each certificate of a Certificate message is replaced by its re-issued
twin (`certs.CertificateReissuer`: same length, pseudonymised subject, throwaway CA
tree), or by a marker of the same length when it could not be re-issued, since
subjects name the EVSE, the contract (eMAID) or the operator. Other handshake messages
(hello, key exchange) stay for the TLS checks.
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


def scrub_tls(stream: bytes, certificates: dict[bytes, bytes] | None = None) -> bytes:
    """Same-length copy of a TLS byte stream with payloads scrubbed (see module doc);
    `certificates` maps original DER to re-issued DER."""
    out = bytearray(stream)
    pos = 0
    while pos + 5 <= len(out) and _RECORD_START.match(bytes(out[pos:pos + 3])):
        content = out[pos]
        end = min(pos + 5 + int.from_bytes(out[pos + 3:pos + 5], "big"), len(out))
        if content in (CONTENT_APPLICATION, CONTENT_ALERT):
            out[pos + 5:end] = bytes(end - pos - 5)
        elif content == CONTENT_HANDSHAKE:
            _scrub_certificates(out, pos + 5, end, certificates or {})
        pos = end
    if pos < len(out):  # not records any more (or cut): nothing readable is kept
        out[pos:] = bytes(len(out) - pos)
    return bytes(out)


def _scrub_certificates(out: bytearray, start: int, end: int,
                        certificates: dict[bytes, bytes]) -> None:
    for body, body_end in _certificate_messages(out, start, end):
        entries = list(_entries(out, body, body_end))
        if not entries or any(bytes(out[a:b]) not in certificates for a, b in entries):
            n = body_end - body
            out[body:body_end] = (CERT_MARKER * (n // len(CERT_MARKER) + 1))[:n]
            continue
        for a, b in entries:
            out[a:b] = certificates[bytes(out[a:b])]


def _certificate_messages(buf: bytes | bytearray, start: int, end: int):
    """(body start, body end) of each Certificate handshake message in one record."""
    at = start
    while at + 4 <= end:
        length = int.from_bytes(buf[at + 1:at + 4], "big")
        body_end = min(at + 4 + length, end)
        if buf[at] == HANDSHAKE_CERTIFICATE:
            yield at + 4, body_end
        at = body_end


def _entries(buf: bytes | bytearray, body: int, body_end: int):
    """(start, end) of each DER certificate of a TLS 1.2 Certificate message body."""
    if body + 3 > body_end:
        return
    end = min(body + 3 + int.from_bytes(buf[body:body + 3], "big"), body_end)
    at = body + 3
    while at + 3 <= end:
        n = int.from_bytes(buf[at:at + 3], "big")
        if at + 3 + n > end:
            return
        yield at + 3, at + 3 + n
        at += 3 + n


def tls_certificates(stream: bytes) -> list[bytes]:
    """The DER certificates of the cleartext Certificate messages of a TLS stream."""
    found: list[bytes] = []
    pos = 0
    while pos + 5 <= len(stream) and _RECORD_START.match(stream[pos:pos + 3]):
        end = min(pos + 5 + int.from_bytes(stream[pos + 3:pos + 5], "big"), len(stream))
        if stream[pos] == CONTENT_HANDSHAKE:
            for body, body_end in _certificate_messages(stream, pos + 5, end):
                found.extend(stream[a:b] for a, b in _entries(stream, body, body_end))
        pos = end
    return found
