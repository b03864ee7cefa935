"""Field spans of HTTP messages (link C OCPI, and the WebSocket upgrade of link B).

An HTTP message's refs cover its head and body. The head is scanned line by line: the
start line's parts and each header's value by lower-case name. A JSON body is scanned by
`json_spans`; a chunked body is first de-chunked with a map back to where each decoded
byte sits, so a value split by a chunk boundary highlights both pieces.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chargescope.analyzer.fieldranges import NoPositions, Spans, UnitBytes
from chargescope.analyzer.fieldranges.jsonspans import json_spans
from chargescope.analyzer.records import Message

Pieces = list[tuple[int, int]]


@dataclass(slots=True)
class Head:
    """Where the parts of an HTTP head are, in the message's bytes."""

    start_line: list[tuple[int, int]] = field(default_factory=list)  # the 3 parts
    headers: dict[str, Pieces] = field(default_factory=dict)  # lower name -> value spans
    body_start: int = -1


def scan_head(data: bytes) -> Head:
    head = Head()
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise NoPositions("no complete HTTP head in the message's bytes")
    head.body_start = end + 4
    pos = 0
    first = True
    while pos < end:
        stop = data.find(b"\r\n", pos)
        stop = end if stop < 0 or stop > end else stop
        line = data[pos:stop]
        if first:
            at = pos
            for part in line.split(b" ", 2):
                head.start_line.append((at, len(part)))
                at += len(part) + 1
            first = False
        elif b":" in line:
            name, _, value = line.partition(b":")
            lead = len(value) - len(value.lstrip(b" \t"))
            start = pos + len(name) + 1 + lead
            length = len(value.strip(b" \t"))
            key = name.strip().decode("latin-1").lower()
            head.headers.setdefault(key, []).append((start, length))
        pos = stop + 2
    return head


def _dechunk(data: bytes, start: int) -> tuple[bytes, list[tuple[int, int, int]]]:
    """The body of a chunked message and (decoded offset, message offset, length) segments."""
    out = bytearray()
    segments = []
    pos = start
    while pos < len(data):
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            break
        size = int(data[pos:eol].split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        segments.append((len(out), eol + 2, size))
        out += data[eol + 2:eol + 2 + size]
        pos = eol + 2 + size + 2
    return bytes(out), segments


def map_pieces(segments: list[tuple[int, int, int]], start: int, length: int) -> Pieces:
    """Decoded bytes start..start+length as spans of the message, through `segments`."""
    out = []
    end = start + length
    for decoded, at, size in segments:
        lo, hi = max(start, decoded), min(end, decoded + size)
        if lo < hi:
            out.append((at + lo - decoded, hi - lo))
    return out


def body_spans(data: bytes, head: Head) -> dict[tuple, Pieces]:
    """JSON value spans of the body by JSON path, in message offsets ({} when not JSON)."""
    if "gzip" in b"".join(data[s:s + n] for s, n in head.headers.get("content-encoding", [])
                          ).decode("latin-1"):
        raise NoPositions("compressed HTTP body: whole message shown")
    if head.headers.get("transfer-encoding"):
        body, segments = _dechunk(data, head.body_start)
    else:
        body = data[head.body_start:]
        segments = [(0, head.body_start, len(body))]
    if not body.strip():
        return {}
    try:
        spans = json_spans(body)
    except ValueError:
        return {}
    return {path: map_pieces(segments, s, n) for path, (s, n) in spans.items()}


REQUEST_LINE = ("method", "path", "http_version")
STATUS_LINE = ("http_version", "status", "reason")


def start_line_spans(head: Head, response: bool) -> Spans:
    """The request line's method, path, version or the status line's version, status, reason."""
    names = STATUS_LINE if response else REQUEST_LINE
    return {(name,): [span] for name, span in zip(names, head.start_line, strict=False)}


def http_spans(message: Message, unit: UnitBytes) -> Spans:
    data = unit.data
    head = scan_head(data)
    fields = message.fields
    spans = start_line_spans(head, "status" in fields)
    spans[("headers",)] = [(head.start_line[-1][0] + head.start_line[-1][1],
                            head.body_start - head.start_line[-1][0] - head.start_line[-1][1])]
    for name, pieces in head.headers.items():
        spans[("headers", name)] = pieces
    for path, pieces in body_spans(data, head).items():
        spans[("body", *path)] = pieces
    if head.body_start < len(data):
        spans[("body",)] = [(head.body_start, len(data) - head.body_start)]
    return spans


# OCPI fields lifted out of the JSON body (responses: the envelope's members)
OCPI_ENVELOPE = ("data", "status_code", "status_message", "timestamp")


def ocpi_spans(message: Message, unit: UnitBytes) -> Spans:
    spans = http_spans(message, unit)
    for path in [p for p in spans if p[:1] == ("body",) and len(p) > 1]:
        if path[1] in OCPI_ENVELOPE and message.fields.get("kind") == "response":
            spans[path[1:]] = spans[path]
    if ("status_code",) in spans:
        spans[("status_class",)] = spans[("status_code",)]
    if ("headers", "authorization") in spans:
        spans[("authorization",)] = spans[("headers", "authorization")]
    return spans
