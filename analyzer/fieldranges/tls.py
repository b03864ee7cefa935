"""Field spans of TLS messages: the record with its header, the hellos' fixed fields.

A TLS message's refs cover the record's fragment, not its 5-byte header, which sits just
before the fragment in the stream: found in the first frame's preceding bytes and checked
(content type, version 3.x, length equal to the fragment's) before it is highlighted.
"""

from __future__ import annotations

from chargescope.analyzer.fieldranges import NoPositions, Spans, UnitBytes
from chargescope.analyzer.records import Message
from chargescope.dissectors.tls.records import CONTENT_TYPES, HEADER_LEN

HELLOS = {"ClientHello": 1, "ServerHello": 2}


def tls_spans(message: Message, unit: UnitBytes) -> Spans:
    if "tls" not in message.fields:
        raise NoPositions("no TLS record")
    spans: Spans = {}
    header = unit.prefix[-HEADER_LEN:]
    if (len(header) == HEADER_LEN and header[0] in CONTENT_TYPES and header[1] == 3
            and int.from_bytes(header[3:5], "big") == len(unit.data)):
        # the record, header included (the dissector's fields name no header members)
        spans[("tls",)] = [(-HEADER_LEN, HEADER_LEN + len(unit.data))]
    if message.name in HELLOS and len(unit.data) >= 38 and unit.data[0] == HELLOS[message.name]:
        # handshake header (type, 24-bit length), then legacy_version and random (RFC 8446 4.1)
        spans[("tls", "legacy_version")] = [(4, 2)]
        spans[("tls", "random")] = [(6, 32)]
    return spans
