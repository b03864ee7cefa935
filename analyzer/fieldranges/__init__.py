"""Per-field byte ranges of a decoded Message: what the hex pane highlights for one field.

The hot path pays nothing: dissectors keep only the unit's `refs`. When a user selects a
field, `field_ranges(message, read_frame)` re-reads the unit's bytes from the capture and
asks the protocol's *span finder* (one registered function per protocol, imported only
then) where each field sits in those bytes; the spans are mapped back to frame
`ByteRef`s through the unit's refs (`slice_refs`), so a field split across TCP segments
highlights in each frame that carries part of it.

A span finder is `fn(message, unit: UnitBytes) -> dict[FieldPath, list[(start, length)]]`,
offsets relative to the unit's first byte; a negative start names bytes just before the
unit in its first frame (the TLS record header the record's refs exclude). Paths are the
keys into `message.fields` (`("V2G_Message", "Body", "SessionSetupReq", "EVCCID")`,
`("payload", "meterValue", 0, "timestamp")`). A finder that cannot place fields raises
`NoPositions` with the reason (a deflated WebSocket message, a decrypted TLS payload whose
refs point at ciphertext): the field then highlights the whole message and the note says why.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from chargescope.analyzer.byteranges import slice_refs
from chargescope.analyzer.records import ByteRef, Message

FieldPath = tuple[str | int, ...]
Spans = dict[FieldPath, list[tuple[int, int]]]
ReadFrame = Callable[[str, int], bytes | None]

PREFIX_LEN = 16  # bytes before the unit offered to finders (record headers)

# protocol -> "module:function" of its span finder (imported on first use only)
FINDERS: dict[str, str] = {
    "v2gtp": "chargescope.analyzer.fieldranges.v2g:v2gtp_spans",
    "exi": "chargescope.analyzer.fieldranges.v2g:exi_spans",
    "sdp": "chargescope.analyzer.fieldranges.v2g:sdp_spans",
    "homeplug": "chargescope.analyzer.fieldranges.homeplug:mme_spans",
    "websocket": "chargescope.analyzer.fieldranges.ocpp:websocket_spans",
    "ocpp": "chargescope.analyzer.fieldranges.ocpp:ocpp_spans",
    "http": "chargescope.analyzer.fieldranges.http:http_spans",
    "ocpi": "chargescope.analyzer.fieldranges.http:ocpi_spans",
    "tls": "chargescope.analyzer.fieldranges.tls:tls_spans",
    "chademo": "chargescope.analyzer.fieldranges.chademo:chademo_spans",
}


class NoPositions(Exception):
    """The finder cannot place this message's fields; the text says why (shown to the user)."""


@dataclass(frozen=True, slots=True)
class UnitBytes:
    """The bytes `message.refs` cover, in order, and a few bytes before the first one."""

    data: bytes
    prefix: bytes = b""


@dataclass(frozen=True, slots=True)
class FieldRanges:
    """Where a message's fields are: path -> frame byte ranges; `whole` is the message."""

    ranges: dict[FieldPath, tuple[ByteRef, ...]]
    whole: tuple[ByteRef, ...]
    note: str = ""  # why fields are not placed (empty when they are)

    def of(self, path: FieldPath) -> tuple[ByteRef, ...]:
        """The ranges of `path`, else of its nearest placed ancestor, else the message's."""
        for end in range(len(path), 0, -1):
            refs = self.ranges.get(tuple(path[:end]))
            if refs:
                return refs
        return self.whole


def unit_bytes(refs: tuple[ByteRef, ...], read_frame: ReadFrame) -> UnitBytes | None:
    """The bytes of `refs` read back from the capture; None when a frame is unavailable."""
    parts = []
    prefix = b""
    for n, ref in enumerate(refs):
        frame = read_frame(ref.source, ref.frame)
        if frame is None or ref.start + ref.length > len(frame):
            return None
        parts.append(frame[ref.start:ref.start + ref.length])
        if n == 0:
            prefix = frame[max(0, ref.start - PREFIX_LEN):ref.start]
    return UnitBytes(b"".join(parts), prefix)


def _finder(protocol: str) -> Callable[[Message, UnitBytes], Spans] | None:
    target = FINDERS.get(protocol)
    if target is None:
        return None
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def to_refs(refs: tuple[ByteRef, ...], start: int, length: int) -> tuple[ByteRef, ...]:
    """Frame ranges of unit bytes start..start+length (negative: before the unit)."""
    if start < 0:
        first = refs[0]
        before = min(length, -start)
        head = (ByteRef(first.source, first.frame, first.start + start, before),)
        return head + (slice_refs(refs, 0, length - before) if length > before else ())
    return slice_refs(refs, start, length)


def field_ranges(message: Message, read_frame: ReadFrame) -> FieldRanges:
    """Where each field of `message` lies in the capture (slow path: one message, on demand)."""
    whole = message.refs
    if not whole:
        return FieldRanges({}, (), "the message has no bytes in a capture")
    finder = _finder(message.protocol)
    if finder is None:
        return FieldRanges({}, whole, f"no field positions for {message.protocol}")
    unit = unit_bytes(whole, read_frame)
    if unit is None:
        return FieldRanges({}, whole, "frame bytes not available")
    try:
        spans = finder(message, unit)
    except NoPositions as exc:
        return FieldRanges({}, whole, str(exc))
    except Exception as exc:  # noqa: BLE001 - hostile bytes must never take the viewer down
        return FieldRanges({}, whole, f"field positions failed: {type(exc).__name__}: {exc}")
    ranges = {}
    for path, pieces in spans.items():
        placed = tuple(r for start, length in pieces if length > 0
                       for r in to_refs(whole, start, length))
        if placed:
            ranges[path] = placed
    return FieldRanges(ranges, whole)
