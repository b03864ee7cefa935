"""WebSocket (RFC 6455) with permessage-deflate (RFC 7692) over reassembled TCP.

`stream_factory(...)` builds the per-connection StreamDissector; `probe` is the
heuristic for the TCP handoff table (an HTTP upgrade, or a plausible frame when the
capture starts mid-connection).
"""

from __future__ import annotations

from collections.abc import Sequence

from chargescope.analyzer.records import Connection
from chargescope.dissectors.websocket.deflate import InflateError, Inflater
from chargescope.dissectors.websocket.frames import Opcode, parse_header, plausible_frame_at, unmask
from chargescope.dissectors.websocket.handshake import looks_like_upgrade_request
from chargescope.dissectors.websocket.stream import (
    PayloadHandoff,
    WebSocketOptions,
    WebSocketStream,
    WsMessageInfo,
)


def probe(first_bytes: bytes, direction: int) -> bool:
    """Heuristic over a direction's first bytes: an upgrade request, or a frame."""
    if direction == 0 and looks_like_upgrade_request(first_bytes):
        return True
    if first_bytes.startswith(b"HTTP/1.1 101"):
        return True
    return _text_frame_with_json(first_bytes, direction == 0)


def _text_frame_with_json(buf: bytes, from_client: bool) -> bool:
    """Mid-connection: a text frame, masked as its direction requires, holding JSON."""
    if not plausible_frame_at(buf, 0, from_client=from_client):
        return False
    head = parse_header(buf)
    if head is None or head.opcode != Opcode.TEXT:
        return False
    payload = buf[head.header_len:head.total_len]
    if head.masked:
        payload = unmask(payload, head.mask_key)
    if head.rsv1:  # compressed: only judge a frame we hold whole
        if len(payload) < head.length:
            return False
        try:
            payload = Inflater(context_takeover=False, max_size=1 << 16).inflate(payload).data
        except InflateError:
            return False
    return payload.lstrip()[:1] in (b"[", b"{")


def stream_factory(handoffs: Sequence[PayloadHandoff] = (),
                   options: WebSocketOptions | None = None):
    def factory(conn: Connection) -> WebSocketStream:
        return WebSocketStream(conn, handoffs, options)

    return factory


__all__ = ["PayloadHandoff", "WebSocketOptions", "WebSocketStream", "WsMessageInfo",
           "probe", "stream_factory"]
