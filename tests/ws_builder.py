"""Test helper: build WebSocket conversations as StreamData events (RFC 6455 client/server)."""

from __future__ import annotations

import base64
import zlib

from chargescope.analyzer.records import (
    ByteRef,
    Connection,
    Endpoint,
    StreamClose,
    StreamData,
)
from chargescope.dissectors.websocket.frames import Opcode, build_frame
from chargescope.dissectors.websocket.handshake import accept_for_key

CONN = Connection(0, Endpoint("10.0.0.2", 40000), Endpoint("10.0.0.1", 9000), "synthetic")
KEY = base64.b64encode(b"0123456789abcdef").decode()
MASK = b"\x11\x22\x33\x44"


def request(cp_id: str = "CP-1", subprotocols: str = "ocpp1.6", extensions: str = "",
            auth: str | None = None) -> bytes:
    lines = [f"GET /ocpp/{cp_id} HTTP/1.1", "Host: csms", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 13",
             f"Sec-WebSocket-Protocol: {subprotocols}"]
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    if auth:
        lines.append(f"Authorization: Basic {base64.b64encode(auth.encode()).decode()}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def response(subprotocol: str = "ocpp1.6", extensions: str = "", status: int = 101,
             accept: str | None = None) -> bytes:
    if status != 101:
        body = b"no such charger"
        return (f"HTTP/1.1 {status} Not Found\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {accept or accept_for_key(KEY)}"]
    if subprotocol:
        lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Deflater:
    """permessage-deflate sender side (RFC 7692 7.2.1)."""

    def __init__(self, context_takeover: bool = True, wbits: int = 15) -> None:
        self.context_takeover = context_takeover
        self.wbits = wbits
        self._z = None

    def compress(self, data: bytes) -> bytes:
        if self._z is None or not self.context_takeover:
            self._z = zlib.compressobj(wbits=-self.wbits)
        out = self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]


def client_frame(text: str | bytes, **kw) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return build_frame(data, kw.pop("opcode", Opcode.TEXT), mask_key=kw.pop("mask_key", MASK), **kw)


def server_frame(text: str | bytes, **kw) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return build_frame(data, kw.pop("opcode", Opcode.TEXT), **kw)


class Conversation:
    """Collects the bytes of both directions as StreamData events, one per chunk."""

    def __init__(self, conn: Connection = CONN) -> None:
        self.conn = conn
        self.offsets = [0, 0]
        self.events: list = []
        self.ts = 1_700_000_000 * 10**9
        self.frame_no = 0

    def send(self, direction: int, data: bytes, ts_step_ns: int = 10**6) -> None:
        self.ts += ts_step_ns
        self.frame_no += 1
        self.events.append(StreamData(self.conn, direction, self.offsets[direction], data, self.ts,
                                      (ByteRef("synthetic", self.frame_no, 66, len(data)),)))
        self.offsets[direction] += len(data)

    def close(self) -> None:
        """Both sides send FIN, client first."""
        self.events.append(StreamClose(self.conn, 0, self.ts + 1, "fin"))
        self.events.append(StreamClose(self.conn, 1, self.ts + 2, "fin"))


def split_bytewise(events: list) -> list:
    """The same stream, each StreamData cut into one-byte events (h11's byte-by-byte feed)."""
    out: list = []
    for ev in events:
        if not isinstance(ev, StreamData):
            out.append(ev)
            continue
        ref = ev.refs[0]
        for i in range(len(ev.data)):
            out.append(StreamData(ev.conn, ev.direction, ev.offset + i, ev.data[i:i + 1], ev.ts_ns,
                                  (ByteRef(ref.source, ref.frame, ref.start + i, 1),)))
    return out


def feed(dissector, events: list) -> list:
    out: list = []
    for ev in events:
        if isinstance(ev, StreamData):
            out.extend(dissector.on_data(ev))
        elif isinstance(ev, StreamClose):
            out.extend(dissector.on_close(ev))
        else:
            out.extend(dissector.on_gap(ev))
    return out
