"""Byte spans of every value in a JSON document, keyed by JSON-pointer-like paths.

`json_spans(b'{"a": [1, {"b": true}]}')` gives `{(): (0, 23), ("a",): (6, 16),
("a", 0): (7, 1), ("a", 1): (10, 11), ("a", 1, "b"): (16, 4)}` as (start, length) in
bytes of the input. Scalars and strings are read with the standard library's own
decoder (`raw_decode`), so what a span covers is exactly what `json.loads` reads; the
scanner only walks containers. Malformed or over-deep input raises `ValueError`.
"""

from __future__ import annotations

import json

MAX_DEPTH = 200
_DECODER = json.JSONDecoder()
_WS = " \t\r\n"

Path = tuple[str | int, ...]


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def _expect(text: str, pos: int, chars: str) -> str:
    if pos >= len(text) or text[pos] not in chars:
        found = text[pos] if pos < len(text) else "end of text"
        raise ValueError(f"expected one of {chars!r} at {pos}, found {found!r}")
    return text[pos]


def _value(text: str, pos: int, path: Path, out: dict[Path, tuple[int, int]],
           depth: int) -> int:
    """Record the span of the value at `pos` (and of everything inside); return its end."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH}")
    pos = _skip(text, pos)
    start = pos
    char = text[pos] if pos < len(text) else ""
    if char in ("{", "["):
        close = "}" if char == "{" else "]"
        pos = _skip(text, pos + 1)
        index = 0
        if pos < len(text) and text[pos] == close:
            pos += 1
        else:
            while True:
                if char == "{":
                    _expect(text, pos, '"')
                    key, pos = _DECODER.raw_decode(text, pos)
                    pos = _skip(text, pos)
                    _expect(text, pos, ":")
                    pos = _value(text, pos + 1, (*path, key), out, depth + 1)
                else:
                    pos = _value(text, pos, (*path, index), out, depth + 1)
                    index += 1
                pos = _skip(text, pos)
                if _expect(text, pos, "," + close) == close:
                    pos += 1
                    break
                pos = _skip(text, pos + 1)
    else:
        _obj, pos = _DECODER.raw_decode(text, pos)
    out[path] = (start, pos - start)
    return pos


def json_spans(data: bytes) -> dict[Path, tuple[int, int]]:
    """(start, length) in bytes of every value of the JSON document in `data`."""
    text = data.decode("utf-8")
    chars: dict[Path, tuple[int, int]] = {}
    _value(text, 0, (), chars, 0)
    if len(text) == len(data):  # ASCII: characters are bytes
        return chars
    offsets = [0] * (len(text) + 1)  # character index -> byte offset
    pos = 0
    for i, char in enumerate(text):
        offsets[i] = pos
        pos += len(char.encode("utf-8", "surrogatepass"))
    offsets[len(text)] = pos
    return {path: (offsets[s], offsets[s + n] - offsets[s]) for path, (s, n) in chars.items()}
