"""Mapping bytes of a reassembled or decrypted stream back to the frames they came from.

Every stream layer (TCP reassembly, V2GTP, WebSocket, HTTP, TLS) keeps, for the bytes it
holds, the `ByteRef`s of the frames that carried them; `slice_refs` and `refs_between`
cut those lists down to the bytes of one unit, so the hex view can highlight exactly
them, and `stream_problem` pins a decode problem of such a unit to its capture frame.
"""

from __future__ import annotations

from collections.abc import Iterable

from chargescope.analyzer.records import ByteRef, Connection, Problem


def slice_refs(refs: Iterable[ByteRef], skip: int, length: int) -> tuple[ByteRef, ...]:
    """The frame byte ranges of bytes skip..skip+length of data that `refs` cover in order."""
    out = []
    pos = 0
    end = skip + length
    for ref in refs:
        lo, hi = max(pos, skip), min(pos + ref.length, end)
        if lo < hi:
            out.append(ByteRef(ref.source, ref.frame, ref.start + lo - pos, hi - lo))
        pos += ref.length
        if pos >= end:
            break
    return tuple(out)


def refs_between(spans: Iterable[tuple[int, ByteRef]], start: int, end: int
                 ) -> tuple[ByteRef, ...]:
    """The frame byte ranges of stream bytes start..end, from (stream offset, ref) spans."""
    out = []
    for offset, ref in spans:
        lo, hi = max(start, offset), min(end, offset + ref.length)
        if lo < hi:
            out.append(ByteRef(ref.source, ref.frame, ref.start + lo - offset, hi - lo))
    return tuple(out)


def stream_problem(kind: str, detail: str, conn: Connection, offset: int,
                   refs: tuple[ByteRef, ...] = (), frame: int = 0) -> Problem:
    """A Problem at stream `offset` of `conn`, naming the capture frame it was seen in: the
    first of `refs` (the bytes concerned) or else `frame` (e.g. a `StreamGap.frame`)."""
    if refs:
        return Problem(kind, detail, refs[0].source, refs[0].frame, offset, "stream")
    return Problem(kind, detail, conn.source, frame, offset, "stream")
