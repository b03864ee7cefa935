"""Helpers for HTTP stream tests: feed a conversation to a StreamDissector three ways."""

from __future__ import annotations

from collections.abc import Iterable

from chargescope.analyzer.records import (
    ByteRef,
    Connection,
    Endpoint,
    Message,
    StreamClose,
    StreamData,
    StreamGap,
)

CONN = Connection(index=0, client=Endpoint("10.0.0.1", 40000),
                  server=Endpoint("10.0.0.2", 8080), source="test")


def run(dissector, script: Iterable[tuple], *, chunk: int | None = None,
        close: bool = True) -> list[Message]:
    """Play `script` — (direction, bytes) or ("gap", direction, length) — in order.

    `chunk` splits every data item into pieces of that size (1 = byte by byte).
    Frames are numbered per piece so ByteRefs can be checked.
    """
    offsets = [0, 0]
    frame = 0
    ts = 0
    out: list[Message] = []
    for item in script:
        ts += 1000
        if item[0] == "gap":
            _, direction, length = item
            out += dissector.on_gap(StreamGap(CONN, direction, offsets[direction], length, ts))
            offsets[direction] += length
            continue
        direction, data = item
        size = chunk or max(len(data), 1)
        for i in range(0, len(data), size):
            piece = data[i:i + size]
            frame += 1
            ref = ByteRef("test", frame, 54, len(piece))
            out += dissector.on_data(StreamData(CONN, direction, offsets[direction], piece, ts,
                                                (ref,)))
            offsets[direction] += len(piece)
    if close:
        out += dissector.on_close(StreamClose(CONN, -1, ts + 1000, "fin"))
    return out


def summary(messages: list[Message]) -> list[tuple]:
    """What must not depend on how the bytes were cut: names, key fields, problem kinds."""
    rows = []
    for m in messages:
        f = m.fields
        rows.append((m.name, f.get("kind"), f.get("exchange"), f.get("body"),
                     f.get("body_length"), tuple(p.kind for p in m.problems)))
    return rows
