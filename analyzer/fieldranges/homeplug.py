"""Field spans of HomePlug AV / GP MMEs, from the same construct layouts that decode them.

The MME header (MMV, MMTYPE, FMI/FMSN from MMV 1, OUI for vendor MMTYPEs) is fixed; the
body is walked member by member through the registry's `construct` layout, noting the
stream position before and after each one (counted groups and byte lists per element).
"""

from __future__ import annotations

import io
from typing import Any

import construct as cs

from chargescope.analyzer.fieldranges import NoPositions, Spans, UnitBytes
from chargescope.analyzer.records import Message
from chargescope.dissectors.homeplug.program import layout_for

MAX_ELEMENTS = 4096  # a counted group never holds more than a byte's worth; bound anyway


def _walk(members: Any, stream: io.BytesIO, path: tuple, spans: Spans,
          outer: dict[str, Any]) -> dict[str, Any]:
    """Parse `members` from `stream`, recording each one's span under `path`."""
    values: dict[str, Any] = {}
    for member in members:
        name = member.name
        op = getattr(member, "_cs_op", ("",))
        start = stream.tell()
        if op[0] == "group":
            count = min(int(values.get(op[2], outer.get(op[2], 0))), MAX_ELEMENTS)
            items = []
            for index in range(count):
                item_start = stream.tell()
                items.append(_walk(op[3], stream, (*path, name, index), spans, values))
                spans[(*path, name, index)] = [(item_start, stream.tell() - item_start)]
            value: Any = items
        else:
            value = member.parse_stream(stream, **outer, **values)
            if op[0] == "u8list":
                for index in range(len(value)):
                    spans[(*path, name, index)] = [(start + index, 1)]
        values[name] = value
        spans[(*path, name)] = [(start, stream.tell() - start)]
    return values


def mme_spans(message: Message, unit: UnitBytes) -> Spans:
    if len(message.refs) != 1:
        raise NoPositions("MME reassembled from fragments: whole message shown")
    data = unit.data
    fields = message.fields
    if "mmtype" not in fields or len(data) < 3:
        raise NoPositions("no MME header")
    mmv, mmtype = data[0], int.from_bytes(data[1:3], "little")
    spans: Spans = {("mmv",): [(0, 1)], ("mmtype",): [(1, 2)]}
    pos = 3
    if mmv >= 1:
        spans[("fmi",)] = [(3, 2)]
        spans[("fmi", "nf_mi")] = spans[("fmi", "fn_mi")] = [(3, 1)]
        spans[("fmi", "fmsn")] = [(4, 1)]
        pos = 5
    oui = 0
    if "oui" in fields:
        spans[("oui",)] = spans[("vendor",)] = [(pos, 3)]
        oui = int.from_bytes(data[pos:pos + 3], "big")
        pos += 3
    struct = layout_for(mmtype, oui, mmv)
    if struct is None:
        if "body" in fields:
            spans[("body",)] = [(pos, len(data) - pos)]
        return spans
    body: Spans = {}
    try:
        _walk(struct.subcons, io.BytesIO(data[pos:]), (), body, {})
    except cs.ConstructError:
        pass  # a short MME: the fields before the cut are placed, the rest are not there
    for path, pieces in body.items():
        spans[path] = [(pos + start, length) for start, length in pieces]
    return spans
