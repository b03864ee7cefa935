"""permessage-deflate (RFC 7692): negotiated parameters and a bounded inflater.

The inflater never holds more than `max_size` bytes of output per message: past the
cap it keeps inflating in chunks (so a shared LZ77 window stays in sync for the
messages after it) but throws the output away and reports the message as oversized.
A decompression bomb is therefore a finding, not a memory blow-up.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

# RFC 7692 7.2.2: the sender removes this tail from every compressed message.
_TAIL = b"\x00\x00\xff\xff"
_CHUNK = 1 << 16
DEFAULT_MAX_MESSAGE = 16 << 20


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """What the server's Sec-WebSocket-Extensions response agreed to (RFC 7692 7.1)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15

    def as_fields(self) -> dict:
        return {
            "server_no_context_takeover": self.server_no_context_takeover,
            "client_no_context_takeover": self.client_no_context_takeover,
            "server_max_window_bits": self.server_max_window_bits,
            "client_max_window_bits": self.client_max_window_bits,
        }


def negotiated_deflate(extensions: list[str]) -> DeflateParams | None:
    """Parameters of the first permessage-deflate offer the server accepted, else None."""
    for ext in extensions:
        name, *params = [p.strip() for p in ext.split(";")]
        if name.lower() != "permessage-deflate":
            continue
        values: dict[str, str] = {}
        for param in params:
            key, _, value = param.partition("=")
            values[key.strip().lower()] = value.strip().strip('"')
        return DeflateParams(
            server_no_context_takeover="server_no_context_takeover" in values,
            client_no_context_takeover="client_no_context_takeover" in values,
            server_max_window_bits=_bits(values.get("server_max_window_bits")),
            client_max_window_bits=_bits(values.get("client_max_window_bits")),
        )
    return None


def _bits(text: str | None) -> int:
    if text and text.isascii() and text.isdigit() and 8 <= int(text) <= 15:  # "1²".isdigit()
        return int(text)
    return 15


class InflateError(ValueError):
    """The compressed payload is not a valid raw DEFLATE stream (in this context)."""


@dataclass(frozen=True, slots=True)
class Inflated:
    data: bytes  # b"" when oversized
    size: int  # decompressed size (counted even past the cap)
    oversized: bool


class Inflater:
    """One direction's decompressor: shared window unless no_context_takeover."""

    def __init__(self, *, context_takeover: bool, window_bits: int = 15,
                 max_size: int = DEFAULT_MAX_MESSAGE) -> None:
        self.context_takeover = context_takeover
        # Inflating with the largest window accepts streams made with any smaller one.
        self.window_bits = max(window_bits, 9)
        self.max_size = max_size
        self._zobj = None

    def reset(self) -> None:
        self._zobj = None

    def inflate(self, payload: bytes) -> Inflated:
        if self._zobj is None or not self.context_takeover:
            self._zobj = zlib.decompressobj(wbits=-15)
        zobj = self._zobj
        parts: list[bytes] = []
        size = 0
        data = payload + _TAIL
        try:
            while data:
                out = zobj.decompress(data, _CHUNK)
                size += len(out)
                if size <= self.max_size:
                    parts.append(out)
                elif parts:
                    parts = []
                data = zobj.unconsumed_tail
                if not out and not data:
                    break
        except zlib.error as exc:
            self._zobj = None  # the shared window is lost: later messages may fail too
            raise InflateError(str(exc)) from None
        if size > self.max_size:
            return Inflated(b"", size, True)
        return Inflated(b"".join(parts), size, False)
