"""RFC 6455 section 5.2 base framing: header parsing and unmasking, pure functions.

`parse_header` answers None while the header is incomplete (need more data), never
raises on short input, and leaves judging the values (reserved opcodes, oversized
control frames, masking direction) to `header_violations` so that the stream object
can report them and go on.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from chargescope import backends

_unmask = backends.load("wsmask").unmask


class Opcode(enum.IntEnum):
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @property
    def is_control(self) -> bool:
        return self >= 0x8


KNOWN_OPCODES = frozenset(int(o) for o in Opcode)


class FrameHeader(NamedTuple):
    """One parsed frame header (an immutable tuple, not a record: it never leaves the
    WebSocket layer, and a frozen dataclass's nine field assignments cost more than the
    whole header parse on this per-frame path)."""

    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: int
    masked: bool
    length: int  # payload length
    mask_key: bytes  # b"" when unmasked
    header_len: int  # bytes before the payload

    @property
    def total_len(self) -> int:
        return self.header_len + self.length


def parse_header(buf: bytes | bytearray | memoryview, pos: int = 0) -> FrameHeader | None:
    """The frame header starting at `buf[pos]`, or None when more bytes are needed."""
    avail = len(buf) - pos
    if avail < 2:
        return None
    b0 = buf[pos]
    b1 = buf[pos + 1]
    masked = bool(b1 & 0x80)
    length = b1 & 0x7F
    need = 2
    if length == 126:
        need = 4
    elif length == 127:
        need = 10
    if masked:
        need += 4
    if avail < need:
        return None
    if length == 126:
        length = int.from_bytes(buf[pos + 2:pos + 4], "big")
    elif length == 127:
        length = int.from_bytes(buf[pos + 2:pos + 10], "big")
    mask_key = bytes(buf[pos + need - 4:pos + need]) if masked else b""
    return FrameHeader(b0 & 0x80 != 0, b0 & 0x40 != 0, b0 & 0x20 != 0, b0 & 0x10 != 0,
                       b0 & 0x0F, masked, length, mask_key, need)


def header_violations(head: FrameHeader, *, from_client: bool | None,
                      deflate: bool) -> list[tuple[str, str]]:
    """(problem kind, detail) for every RFC 6455 rule the header breaks."""
    out: list[tuple[str, str]] = []
    if head.opcode not in KNOWN_OPCODES:
        out.append(("websocket.opcode.reserved", f"opcode 0x{head.opcode:x} is reserved (RFC 6455 5.2)"))
    if head.rsv2 or head.rsv3 or (head.rsv1 and not deflate):
        out.append(("websocket.rsv.set", "reserved bits set without a negotiated extension defining them"))
    if head.opcode >= 0x8:
        if head.length > 125:
            out.append(("websocket.control.too_long", f"control frame payload {head.length} > 125 bytes (RFC 6455 5.5)"))
        if not head.fin:
            out.append(("websocket.control.fragmented", "control frame without FIN (RFC 6455 5.5)"))
    if from_client is True and not head.masked:
        out.append(("websocket.mask.missing", "client-to-server frame is not masked (RFC 6455 5.1)"))
    if from_client is False and head.masked:
        out.append(("websocket.mask.unexpected", "server-to-client frame is masked (RFC 6455 5.1)"))
    if head.length >= 1 << 63:
        out.append(("websocket.length.invalid", "64-bit payload length has its most significant bit set"))
    return out


def unmask(payload: bytes | bytearray | memoryview, key: bytes) -> bytes:
    """XOR `payload` with the repeating 4-byte `key` (its own inverse).

    Hot path "wsmask": the Cython extension when built, else its pure-Python twin.
    """
    return _unmask(payload, key)


def build_frame(payload: bytes, opcode: int = Opcode.TEXT, *, fin: bool = True,
                mask_key: bytes = b"", rsv1: bool = False) -> bytes:
    """Encode one frame: for tests, fixtures and `simulate` (the inverse of parse_header)."""
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (opcode & 0x0F)
    mask_bit = 0x80 if mask_key else 0
    n = len(payload)
    if n < 126:
        head = bytes([b0, mask_bit | n])
    elif n < 1 << 16:
        head = bytes([b0, mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, mask_bit | 127]) + n.to_bytes(8, "big")
    return head + mask_key + (unmask(payload, mask_key) if mask_key else payload)


def plausible_frame_at(buf: bytes | bytearray, pos: int, *, from_client: bool | None,
                       max_len: int = 1 << 24) -> bool:
    """Resynchronisation heuristic: does a sane data/control frame start at `pos`?

    Used when a capture starts mid-connection or after a gap. A candidate must have
    a known opcode, RSV2/RSV3 clear, the masking its direction requires, a bounded
    length, and, for a complete unfragmented text frame, a payload that starts like
    JSON (OCPP-J is a JSON array) or a compressed payload.
    """
    head = parse_header(buf, pos)
    if head is None or head.opcode not in KNOWN_OPCODES or head.rsv2 or head.rsv3:
        return False
    if from_client is not None and head.masked != from_client:
        return False
    if head.length > max_len or (head.opcode >= 0x8 and (head.length > 125 or not head.fin
                                                          or head.rsv1)):
        return False
    if head.opcode == Opcode.CONTINUATION:
        return False  # never resynchronise into the middle of a fragmented message
    if head.opcode == Opcode.TEXT and not head.rsv1 and head.length:
        start = pos + head.header_len
        first = buf[start:start + 1]
        if first:
            byte = unmask(first, head.mask_key[:1])[0] if head.masked else first[0]
            return byte in b"[{ \t\r\n"
    return True
