"""Resource caps: one frozen record holding every bound chargescope puts on hostile input.

A capture from a broken charger or a stranger's prototype may announce a 4 GiB WebSocket
frame, hold a TCP gap open forever, inflate a 1 kB deflate stream to gigabytes or nest EXI
elements without end. Every layer that buffers or decompresses has a cap; they all live in
`Limits`, which `Pipeline(limits=...)`, `analyze(..., limits=...)` and the CLI's shared
``--limit KEY=VALUE`` option pass down. Hitting a cap is never fatal: the layer reports a
Problem with the cap's stable code (registered below as a warning finding), accounts for
the bytes it could not decode, and goes on.

    from chargescope.analyzer.limits import Limits, parse_limit_options
    limits = Limits(tcp_buffer=64 << 10)                   # or
    limits = parse_limit_options(["tcp-buffer=64KiB", "exi-depth=32"])

`CAPS` is the table (CLI key, field, default, unit, finding code, what it bounds);
FUZZING.md prints it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.records import Finding, FindingSpec, Message, Problem, Severity

KiB = 1 << 10
MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    """Every resource cap, with its default (see `CAPS` for keys and finding codes)."""

    tcp_buffer: int = 4 * MiB  # out-of-order bytes held behind a gap, per TCP direction
    tcp_connections: int = 100_000  # TCP connections tracked at once (each carries a session)
    ip_fragments: int = 16 * MiB  # bytes of IP fragments held for incomplete datagrams
    ws_message: int = 16 * MiB  # one WebSocket message, after permessage-deflate
    http_body: int = 16 * MiB  # one HTTP body as transferred (Content-Length or chunked)
    http_decoded: int = 32 * MiB  # one HTTP body after gzip/deflate
    exi_depth: int = 64  # EXI element nesting (the V2G schemas nest < 20 deep)
    exi_string: int = 256 * KiB  # one EXI string (characters) or binary value (bytes)
    homeplug_fragments: int = 1024  # HomePlug MME fragment sets waiting for their last part
    ocpp_pending: int = 4096  # OCPP CALLs per connection waiting for their answer
    tls_pending: int = 4 * MiB  # bytes of TLS records per connection waiting for a key

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"limit {f.name.replace('_', '-')} must be a positive "
                                 f"integer, got {value!r}")

    def with_options(self, options: Iterable[str]) -> Limits:
        """A copy with ``KEY=VALUE`` overrides (CLI syntax, see `parse_limit_options`)."""
        return replace(self, **_parse(options))


@dataclass(frozen=True, slots=True)
class Cap:
    """One row of the caps table: how the cap is named, set and reported."""

    key: str  # CLI key: --limit KEY=VALUE
    field: str  # Limits attribute
    unit: str  # "bytes" (accepts KiB/MiB/GiB suffixes) or "count"
    codes: tuple[str, ...]  # Problem kinds = finding codes emitted when the cap is hit
    what: str


CAPS: tuple[Cap, ...] = (
    Cap("tcp-buffer", "tcp_buffer", "bytes", ("limit.tcp.buffer",),
        "out-of-order TCP bytes held per direction behind a gap; beyond it the gap is "
        "declared lost and the held bytes delivered"),
    Cap("tcp-connections", "tcp_connections", "count", ("limit.tcp.connections",),
        "TCP connections tracked at once (and so V2G/OCPP/OCPI stream sessions); beyond it "
        "the least recently active is closed"),
    Cap("ip-fragments", "ip_fragments", "bytes", ("limit.ip.fragments",),
        "bytes of IP fragments held for incomplete datagrams; beyond it the oldest datagram "
        "is given up"),
    Cap("ws-message", "ws_message", "bytes", ("websocket.frame.too_large", "websocket.message.too_large",
                                          "websocket.deflate.too_large"),
        "one WebSocket message (all fragments, after permessage-deflate); beyond it the "
        "payload is skipped"),
    Cap("http-body", "http_body", "bytes", ("http.body.too-large",),
        "one HTTP body as transferred (Content-Length, chunked or close-delimited); beyond "
        "it the body is not kept"),
    Cap("http-decoded", "http_decoded", "bytes", ("http.body.decoded-too-large",),
        "one HTTP body after Content-Encoding gzip/deflate; inflation stops at the cap"),
    Cap("exi-depth", "exi_depth", "count", ("limit.exi.depth",),
        "EXI element nesting depth; deeper documents are not decoded"),
    Cap("exi-string", "exi_string", "count", ("limit.exi.string",),
        "characters of one EXI string or bytes of one binary value"),
    Cap("homeplug-fragments", "homeplug_fragments", "count", ("limit.homeplug.fragments",),
        "HomePlug MME fragment sets held at once; beyond it the oldest is given up"),
    Cap("ocpp-pending", "ocpp_pending", "count", ("limit.ocpp.pending",),
        "OCPP CALLs per connection waiting for their answer; beyond it the oldest is "
        "forgotten (its late answer shows as unpaired)"),
    Cap("tls-pending", "tls_pending", "bytes", ("tls.pending.overflow",),
        "bytes of TLS records per connection waiting for a key; beyond it the oldest are "
        "left encrypted"),
)
CAP_BY_KEY = {cap.key: cap for cap in CAPS}
CAP_BY_CODE = {code: cap for cap in CAPS for code in cap.codes}
DEFAULT_LIMITS = Limits()

LIMIT_FINDINGS: tuple[FindingSpec, ...] = tuple(
    FindingSpec(code, Severity.WARNING, "limit", f"resource cap {cap.key} reached: {cap.what}")
    for cap in CAPS for code in cap.codes)
REGISTRY = FindingRegistry(LIMIT_FINDINGS)

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": KiB, "kb": KiB, "kib": KiB, "ki": KiB, "m": MiB, "mb": MiB,
          "mib": MiB, "mi": MiB, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "gi": 1 << 30}


def parse_value(cap: Cap, text: str) -> int:
    """'64MiB', '65536', '1g' -> bytes for byte caps; a plain count for count caps."""
    match = _SIZE.match(text)
    if match is None or (cap.unit == "count" and match.group(2)):
        unit = "a size like 65536, 64KiB or 16MiB" if cap.unit == "bytes" else "a count"
        raise ValueError(f"--limit {cap.key}: expected {unit}, got {text!r}")
    return int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]


def _parse(options: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for option in options:
        key, sep, value = option.partition("=")
        cap = CAP_BY_KEY.get(key.strip().lower())
        if not sep or cap is None:
            raise ValueError(f"--limit {option!r}: expected KEY=VALUE with KEY one of "
                             + ", ".join(c.key for c in CAPS))
        out[cap.field] = parse_value(cap, value)
    return out


def parse_limit_options(options: Iterable[str], base: Limits = DEFAULT_LIMITS) -> Limits:
    """`Limits` from CLI ``KEY=VALUE`` strings over `base`; ValueError names a bad one."""
    return base.with_options(options)


def size_text(value: int) -> str:
    """A byte count the way --help shows defaults: 4MiB, 256KiB, 100 bytes."""
    for unit, size in (("GiB", 1 << 30), ("MiB", MiB), ("KiB", KiB)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


def defaults_help() -> str:
    """One line per cap for --help: key=default."""
    return ", ".join(f"{cap.key}={_default_text(cap)}" for cap in CAPS)


def _default_text(cap: Cap) -> str:
    value = getattr(DEFAULT_LIMITS, cap.field)
    return size_text(value) if cap.unit == "bytes" else str(value)


class LimitHits:
    """Collects the cap hits of one source; `findings()` gives one warning per code.

    A hostile capture can hit a cap thousands of times (every frame of a flood): the
    report says so once per code, with the count and the first `KEEP` hits as evidence.
    """

    KEEP = 20

    def __init__(self) -> None:
        self._hits: dict[str, list[Finding]] = {}
        self._counts: dict[str, int] = {}

    def add(self, problem: Problem, message: Message | None = None) -> None:
        if problem.kind not in CAP_BY_CODE:
            return
        self._counts[problem.kind] = self._counts.get(problem.kind, 0) + 1
        kept = self._hits.setdefault(problem.kind, [])
        if len(kept) < self.KEEP:
            finding = limit_finding(problem, message)
            assert finding is not None
            kept.append(finding)

    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        for code, kept in self._hits.items():
            first, count = kept[0], self._counts[code]
            if count == 1:
                out.append(first)
                continue
            text = f"{count} times; first: {first.text}"
            out.append(REGISTRY.make(
                code, text, ts_ns=first.ts_ns,
                evidence=[m for f in kept for m in f.evidence], **first.extra, count=count,
                hits=[{k: f.extra[k] for k in ("source", "frame", "offset", "where")}
                      for f in kept]))
        return out


def limit_finding(problem: Problem, message: Message | None = None) -> Finding | None:
    """The warning finding for a Problem that reports a cap hit (None for other Problems).

    The evidence names the file, frame, stream offset and the cap: the Problem's own
    fields, plus the Message that carried it when there is one.
    """
    cap = CAP_BY_CODE.get(problem.kind)
    if cap is None:
        return None
    ts = message.ts_ns if message is not None else 0
    frame = problem.frame
    if not frame and message is not None and message.refs:
        frame = message.refs[0].frame  # stream problems name the offset; the unit its frame
    return REGISTRY.make(problem.kind, f"{problem.source or '-'} frame {frame} "
                         f"{problem.where} offset {problem.offset}: {problem.detail}",
                         ts_ns=ts, evidence=(message,) if message is not None else (),
                         cap=cap.key, source=problem.source, frame=frame,
                         offset=problem.offset, where=problem.where)
