"""Field spans of CHAdeMO CAN frames, from the layouts that decode them.

A CHAdeMO message's refs cover the CAN frame's data bytes; each layout field names its
byte offset and size, and a flag its bit (the byte holding that bit is highlighted).
"""

from __future__ import annotations

from chargescope.analyzer.fieldranges import NoPositions, Spans, UnitBytes
from chargescope.analyzer.records import Message
from chargescope.dissectors.chademo.layouts import LAYOUTS


def chademo_spans(message: Message, unit: UnitBytes) -> Spans:
    layout = LAYOUTS.get(message.fields.get("can_id", -1))
    if layout is None:
        raise NoPositions("not a CHAdeMO frame id")
    spans: Spans = {("raw",): [(0, len(unit.data))]}
    for spec in layout.fields:
        if spec.offset + spec.size > len(unit.data):
            continue  # a short frame: the field is not there
        spans[(spec.name,)] = [(spec.offset, spec.size)]
        for bit, name in spec.bits:
            spans[(spec.name, name)] = [(spec.offset + bit // 8, 1)]
    return spans
