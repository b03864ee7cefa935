"""Decoding one CAN frame with its registered CHAdeMO layout (see layouts.py).

Each layout is compiled once into a `struct` format (gaps as pad bytes) so a full
frame is unpacked in one call; frames shorter than the layout take the slow path that
decodes field by field what is present.
"""

from __future__ import annotations

import struct
from typing import Any

from chargescope.analyzer.chademo.can import CanFrame
from chargescope.analyzer.records import ByteRef, Link, Message, Problem
from chargescope.dissectors.chademo.layouts import LAYOUTS, FieldSpec, FrameLayout

CHADEMO_IDS = frozenset(LAYOUTS)
P_SHORT = "chademo.frame.short"
_CODES = {1: "B", 2: "H"}


def is_chademo_id(can_id: int, extended: bool = False) -> bool:
    return not extended and can_id in LAYOUTS


def _post(spec: FieldSpec, raw: int) -> Any:
    if raw == spec.not_used:
        return None
    if spec.kind == "flags":
        return {name: bool(raw >> bit & 1) for bit, name in spec.bits}
    if spec.kind == "inv":
        raw = 0xFF - raw
    if spec.scale != 1.0:
        return round(raw * spec.scale, 3)
    return raw


class _Compiled:
    __slots__ = ("layout", "need", "unpack", "specs", "plain", "name", "dst")

    def __init__(self, layout: FrameLayout) -> None:
        self.layout = layout
        self.specs = tuple(sorted(layout.fields, key=lambda f: f.offset))
        fmt, pos = "<", 0
        for spec in self.specs:
            fmt += "x" * (spec.offset - pos) + _CODES[spec.size]
            pos = spec.offset + spec.size
        self.need = pos
        self.unpack = struct.Struct(fmt).unpack_from
        # fields whose raw value is the value: no post-processing
        self.plain = tuple(s.kind == "u" and s.scale == 1.0 for s in self.specs)
        self.name = f"0x{layout.can_id:03X} {layout.name}"
        self.dst = "charger" if layout.sender == "vehicle" else "vehicle"


_COMPILED = {can_id: _Compiled(layout) for can_id, layout in LAYOUTS.items()}


def decode_can(frame: CanFrame) -> Message | None:
    """The CHAdeMO Message of `frame`, or None for ids outside CHAdeMO."""
    compiled = _COMPILED.get(frame.can_id)
    if compiled is None or frame.extended:
        return None
    data = frame.data
    fields: dict[str, Any] = {"can_id": frame.can_id, "raw": data.hex()}
    problems: tuple[Problem, ...] = ()
    if len(data) >= compiled.need:
        for spec, plain, raw in zip(compiled.specs, compiled.plain, compiled.unpack(data),
                                    strict=True):
            fields[spec.name] = raw if plain else _post(spec, raw)
    else:
        for spec in compiled.specs:
            if spec.offset + spec.size <= len(data):
                raw = int.from_bytes(data[spec.offset:spec.offset + spec.size], "little")
                fields[spec.name] = _post(spec, raw)
        problems = (Problem(P_SHORT, f"{compiled.name}: {compiled.need} data bytes expected, "
                            f"{len(data)} present", frame.source, frame.number,
                            frame.offset + len(data), "unit"),)
    return Message(Link.A, "chademo", compiled.name, frame.ts_ns, compiled.layout.sender,
                   compiled.dst, fields, (ByteRef(frame.source, frame.number, frame.offset,
                                                  len(data)),), problems)
