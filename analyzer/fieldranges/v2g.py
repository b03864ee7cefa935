"""Field spans of link A's IP units: the V2GTP header, EXI elements, SDP payloads.

A V2GTP or EXI message's refs cover the whole V2GTP unit (header + payload); an SDP
message's the UDP payload (also a V2GTP unit). EXI elements come from the codec's slow
"with positions" decode: a bit span becomes the bytes it touches, so an element starting
mid-byte highlights that byte too.
"""

from __future__ import annotations

from chargescope.analyzer.fieldranges import NoPositions, Spans, UnitBytes
from chargescope.analyzer.records import Message
from chargescope.dissectors import exi, v2gtp
from chargescope.dissectors.sdp import RESPONSE_LEN

HEADER = v2gtp.HEADER_LEN

# V2GTP header field -> (offset, length), as in dissectors/v2gtp.HEADER
HEADER_FIELDS: dict[str, tuple[int, int]] = {
    "version": (0, 1),
    "inverse_version": (1, 1),
    "payload_type": (2, 2),
    "payload_type_name": (2, 2),
    "payload_length": (4, 4),
}


def _header_spans(data: bytes) -> Spans:
    if len(data) < HEADER or data[0] != v2gtp.PROTOCOL_VERSION:
        # e.g. a V2GTP unit carried in TLS: its refs are the encrypted record's bytes
        raise NoPositions("the message's bytes in the capture are not its V2GTP unit "
                          "(decrypted TLS payload?): whole message shown")
    spans: Spans = {("v2gtp",): [(0, HEADER)]}
    for name, span in HEADER_FIELDS.items():
        spans[("v2gtp", name)] = [span]
    return spans


def v2gtp_spans(message: Message, unit: UnitBytes) -> Spans:
    if not message.refs or "version" not in message.fields.get("v2gtp", {}):
        raise NoPositions("no V2GTP unit (connection event)")
    spans = _header_spans(unit.data)
    if "payload" in message.fields:
        spans[("payload",)] = [(HEADER, len(unit.data) - HEADER)]
    return spans


def exi_spans(message: Message, unit: UnitBytes) -> Spans:
    spans = _header_spans(unit.data)
    schema = message.fields.get("schema")
    if not schema:
        raise NoPositions("no EXI schema recorded for this message")
    payload = unit.data[HEADER:]
    tree, bits = exi.positions(payload, schema)
    root = next(iter(tree))
    if message.fields.get(root) != tree[root]:
        raise NoPositions("re-decoding the capture's bytes gives another tree")
    spans[("schema",)] = [(HEADER, len(payload))]
    for path, (start, end) in bits.items():
        first, last = start >> 3, (end + 7) >> 3
        spans[path] = [(HEADER + first, max(1, last - first))]
    return spans


# SDP payload fields: (offset, length) after the V2GTP header, per payload type
SDP_FIELDS: dict[int, dict[str, tuple[int, int]]] = {
    0x9000: {"Security": (0, 1), "TransportProtocol": (1, 1)},
    0x9001: {"SECCIPAddress": (0, 16), "SECCPort": (16, 2),
             "Security": (RESPONSE_LEN - 2, 1), "TransportProtocol": (RESPONSE_LEN - 1, 1)},
}


def sdp_spans(message: Message, unit: UnitBytes) -> Spans:
    spans = _header_spans(unit.data)
    ptype = int.from_bytes(unit.data[2:4], "big")
    for name, (offset, length) in SDP_FIELDS.get(ptype, {}).items():
        if name in message.fields:
            spans[(name,)] = [(HEADER + offset, length)]
    if "payload" in message.fields:
        spans[("payload",)] = [(HEADER, len(unit.data) - HEADER)]
    return spans
