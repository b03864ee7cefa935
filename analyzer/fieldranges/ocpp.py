"""Field spans of link B: the WebSocket upgrade (an HTTP head) and OCPP-J messages.

An OCPP message's refs cover its WebSocket frame(s), headers included. The frames are
parsed again, their payloads unmasked (masking keeps positions) and joined with a map
back to the frame bytes; the JSON array is scanned by `json_spans` and its members named
as the OCPP-J codec names them. A permessage-deflate message has no byte positions for its
JSON: fields then highlight the whole message, and the note says why.
"""

from __future__ import annotations

from chargescope.analyzer.fieldranges import NoPositions, Spans, UnitBytes
from chargescope.analyzer.fieldranges.http import map_pieces, scan_head, start_line_spans
from chargescope.analyzer.fieldranges.jsonspans import json_spans
from chargescope.analyzer.records import Message
from chargescope.dissectors.websocket.frames import parse_header, unmask

# OCPP-J array members by message type id (OCPP-J 1.6 §4, 2.0.1 §4, 2.1 adds 5 and 6)
RPC_MEMBERS: dict[int, tuple[str, ...]] = {
    2: ("message_type_id", "unique_id", "action", "payload"),
    3: ("message_type_id", "unique_id", "payload"),
    4: ("message_type_id", "unique_id", "error_code", "error_description", "error_details"),
    5: ("message_type_id", "unique_id", "error_code", "error_description", "error_details"),
    6: ("message_type_id", "unique_id", "action", "payload"),
}

# handshake field -> header (lower case) it is read from (dissectors/websocket/handshake.py)
HANDSHAKE_HEADERS: dict[str, str] = {
    "host": "host",
    "upgrade": "upgrade",
    "subprotocols_offered": "sec-websocket-protocol",
    "extensions_offered": "sec-websocket-extensions",
    "websocket_key": "sec-websocket-key",
    "websocket_version": "sec-websocket-version",
    "authorization": "authorization",
    "subprotocol": "sec-websocket-protocol",
    "extensions": "sec-websocket-extensions",
    "websocket_accept": "sec-websocket-accept",
    "content_length": "content-length",
    "www_authenticate": "www-authenticate",
}


def websocket_spans(message: Message, unit: UnitBytes) -> Spans:
    fields = message.fields
    if fields.get("http") not in ("request", "response"):
        return frame_spans(unit.data)[0]
    head = scan_head(unit.data)
    spans = start_line_spans(head, fields["http"] == "response")
    for name, header in HANDSHAKE_HEADERS.items():
        if name in fields and header in head.headers:
            spans[(name,)] = head.headers[header]
    if ("path",) in spans:
        spans[("charge_point_id",)] = spans[("path",)]
    return spans


def frame_spans(data: bytes) -> tuple[Spans, bytes, list[tuple[int, int, int]]]:
    """Spans of the frame headers, the joined unmasked payload and its map to `data`."""
    spans: Spans = {("websocket",): []}
    payload = bytearray()
    segments = []
    pos = 0
    while pos < len(data):
        head = parse_header(data, pos)
        if head is None or pos + head.total_len > len(data):
            raise NoPositions("the message's bytes are not whole WebSocket frames")
        if head.rsv1:
            raise NoPositions("permessage-deflate compressed: no byte positions inside the "
                              "JSON, whole message shown")
        spans[("websocket",)].append((pos, head.header_len))
        body = data[pos + head.header_len:pos + head.total_len]
        segments.append((len(payload), pos + head.header_len, head.length))
        payload += unmask(body, head.mask_key) if head.masked else body
        pos += head.total_len
    spans[("websocket", "opcode")] = [(s, 1) for s, _n in spans[("websocket",)][:1]]
    spans[("websocket", "fragments")] = list(spans[("websocket",)])
    spans[("websocket", "wire_size")] = [(s, n) for _d, s, n in segments]
    return spans, bytes(payload), segments


def ocpp_spans(message: Message, unit: UnitBytes) -> Spans:
    if (message.fields.get("websocket") or {}).get("compressed"):
        raise NoPositions("permessage-deflate compressed: no byte positions inside the JSON, "
                          "whole message shown")
    spans, payload, segments = frame_spans(unit.data)
    json = json_spans(payload)
    mtype = message.fields.get("message_type_id")
    members = RPC_MEMBERS.get(mtype if isinstance(mtype, int) else -1, ())
    for path, (start, length) in json.items():
        index = path[0] if path else None
        if isinstance(index, int) and index < len(members):
            spans[(members[index], *path[1:])] = map_pieces(segments, start, length)
    if ("message_type_id",) in spans:
        spans[("message_type",)] = spans[("message_type_id",)]
    return spans
