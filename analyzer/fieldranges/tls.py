"""Field spans of TLS messages: the record header and the record (or handshake) length.

A TLS message's refs cover the record's fragment, not its 5-byte header, which sits just
before the fragment in the stream: found in the first frame's preceding bytes and checked
(content type, version 3.x, length equal to the fragment's) before it is highlighted.
"""

from __future__ import annotations

from chargescope.analyzer.fieldranges import NoPositions, Spans, UnitBytes
from chargescope.analyzer.records import Message
from chargescope.dissectors.tls.records import CONTENT_TYPES, HEADER_LEN


def tls_spans(message: Message, unit: UnitBytes) -> Spans:
    if "tls" not in message.fields:
        raise NoPositions("no TLS record")
    spans: Spans = {}
    header = unit.prefix[-HEADER_LEN:]
    if (len(header) == HEADER_LEN and header[0] in CONTENT_TYPES and header[1] == 3
            and int.from_bytes(header[3:5], "big") == len(unit.data)):
        spans[("tls",)] = [(-HEADER_LEN, HEADER_LEN + len(unit.data))]
        spans[("tls", "content_type")] = [(-HEADER_LEN, 1)]
        spans[("tls", "record_version")] = [(-HEADER_LEN + 1, 2)]
        spans[("tls", "length")] = [(-2, 2)]
    elif unit.data[:1] and message.name == "Alert":
        raise NoPositions("protected record (decrypted): whole record shown")
    if "handshake_type" not in message.fields["tls"] and message.name in (
            "ClientHello", "ServerHello", "Certificate") and len(unit.data) >= 4:
        spans[("tls", "handshake_length")] = [(1, 3)]
    return spans
