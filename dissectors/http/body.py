"""HTTP body decoding: content codings with a hard size cap, text for the Message.

A compressed body that would inflate past the cap is a decode problem, never a
memory blow-up: zlib's `max_length` stops inflation at the cap and whatever is
left unconsumed proves the body was bigger.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass

from chargescope.analyzer.records import Problem

# Caps: a roaming API page of 1,000 locations is a few MB; anything far beyond is hostile.
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_DECODED_BYTES = 32 * 1024 * 1024

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass(frozen=True, slots=True)
class DecodedBody:
    data: bytes
    encoding: str  # content codings applied, as named in the header ("" if identity)
    problems: tuple[Problem, ...]


def _inflate(data: bytes, coding: str, cap: int) -> bytes:
    """Inflate one coding; raises zlib.error or OverflowError (over the cap)."""
    wbits = _WBITS[coding]
    try:
        return _inflate_with(data, wbits, cap)
    except zlib.error:
        if coding != "deflate":
            raise
        # Servers disagree on "deflate": RFC 9110 says zlib-wrapped, many send raw deflate.
        return _inflate_with(data, -zlib.MAX_WBITS, cap)


def _inflate_with(data: bytes, wbits: int, cap: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, cap)
    if inflater.unconsumed_tail:
        raise OverflowError(cap)
    out += inflater.flush()
    if len(out) > cap:
        raise OverflowError(cap)
    if not inflater.eof:
        raise zlib.error("compressed stream ends before its end marker")
    return out


def decode_body(raw: bytes, content_encoding: str, *, cap: int = MAX_DECODED_BYTES,
                offset: int = 0) -> DecodedBody:
    """Undo the content codings named in `content_encoding` (applied left to right)."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    data = raw
    problems: list[Problem] = []
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding not in _WBITS:
            problems.append(Problem("http.body.coding-unknown",
                                    f"content coding {coding!r} is not one of gzip, deflate, identity",
                                    offset=offset, where="stream"))
            break
        try:
            data = _inflate(data, coding, cap)
        except OverflowError:
            problems.append(Problem("http.body.decoded-too-large",
                                    f"{coding} body inflates past the {cap} byte cap",
                                    offset=offset, where="stream"))
            data = b""
            break
        except zlib.error as exc:
            problems.append(Problem("http.body.coding-invalid",
                                    f"expected a valid {coding} stream: {exc}",
                                    offset=offset, where="stream"))
            break
    return DecodedBody(data=data, encoding=",".join(codings), problems=tuple(problems))


def body_fields(data: bytes) -> dict[str, object]:
    """The body as JSON-serialisable Message fields: text when it is UTF-8, else base64."""
    if not data:
        return {}
    try:
        return {"body": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(data).decode("ascii")}
