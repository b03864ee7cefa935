"""Decoding one CAN frame with its registered CHAdeMO layout (see layouts.py)."""

from __future__ import annotations

from typing import Any

from chargescope.analyzer.chademo.can import CanFrame
from chargescope.analyzer.records import ByteRef, Link, Message, Problem
from chargescope.dissectors.chademo.layouts import LAYOUTS, FieldSpec

CHADEMO_IDS = frozenset(LAYOUTS)
P_SHORT = "chademo.frame.short"
P_EXTENDED = "chademo.frame.extended_id"


def is_chademo_id(can_id: int, extended: bool = False) -> bool:
    return not extended and can_id in LAYOUTS


def _value(spec: FieldSpec, data: bytes) -> Any:
    raw = int.from_bytes(data[spec.offset:spec.offset + spec.size], "little")
    if spec.kind == "flags":
        return {name: bool(raw >> bit & 1) for bit, name in spec.bits}
    if spec.kind == "inv":
        raw = 0xFF - raw
    if spec.scale != 1.0:
        return round(raw * spec.scale, 3)
    return raw


def decode_can(frame: CanFrame) -> Message | None:
    """The CHAdeMO Message of `frame`, or None for ids outside CHAdeMO."""
    layout = LAYOUTS.get(frame.can_id)
    if layout is None or frame.extended:
        return None
    data = frame.data
    fields: dict[str, Any] = {"can_id": frame.can_id, "raw": data.hex()}
    problems: list[Problem] = []
    for spec in layout.fields:
        if spec.offset + spec.size <= len(data):
            fields[spec.name] = _value(spec, data)
    need = max(s.offset + s.size for s in layout.fields)
    if len(data) < need:
        problems.append(Problem(P_SHORT, f"0x{frame.can_id:03X} {layout.name}: {need} data "
                                f"bytes expected, {len(data)} present", frame.source,
                                frame.number, frame.offset + len(data), "unit"))
    dst = "charger" if layout.sender == "vehicle" else "vehicle"
    return Message(Link.A, "chademo", f"0x{frame.can_id:03X} {layout.name}", frame.ts_ns,
                   layout.sender, dst, fields,
                   (ByteRef(frame.source, frame.number, frame.offset, len(data)),),
                   tuple(problems))
