"""V2GTP (ISO 15118-2 §7.8.3, DIN 70121 §8.7.3, ISO 15118-20 Table 12): the transfer protocol
that frames every SDP datagram and every EXI message between EVCC and SECC.

One declaration per fact: the header layout is a `construct` Struct (readable spec and the
builder `simulate` uses) and `PAYLOAD_TYPES` is the single table of payload type codes.
`V2gtpStream` is the sans-I/O stream dissector for one TCP connection: feed it the
reassembler's `StreamData`/`StreamGap`/`StreamClose` events and it returns one `Message` per
V2GTP unit, whatever the segmentation, resynchronising on the next valid header after a gap or
a bad header.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from construct import Bytes, Const, Int8ub, Int16ub, Int32ub, Struct, this

from chargescope import backends
from chargescope.analyzer.accounting import StreamBytes
from chargescope.analyzer.byteranges import refs_between, slice_refs, stream_problem
from chargescope.analyzer.handoff import StreamHandoff
from chargescope.analyzer.limits import DEFAULT_LIMITS, Limits
from chargescope.analyzer.records import (
    ByteRef,
    Connection,
    Link,
    Message,
    Problem,
    StreamClose,
    StreamData,
    StreamGap,
)

PROTOCOL_VERSION = 0x01
INVERSE_PROTOCOL_VERSION = 0xFE
HEADER_LEN = 8
# No V2G message comes near this (the largest, CertificateInstallationRes with a full chain,
# is a few kB); a header announcing more is corrupt or hostile and must not make us buffer it.
MAX_PAYLOAD_LEN = 1 << 20

HEADER = Struct(
    "version" / Int8ub,
    "inverse_version" / Int8ub,
    "payload_type" / Int16ub,
    "payload_length" / Int32ub,
)

# The builder: a whole V2GTP unit with a valid version pair (what `simulate` writes).
UNIT = Struct(
    "version" / Const(PROTOCOL_VERSION, Int8ub),
    "inverse_version" / Const(INVERSE_PROTOCOL_VERSION, Int8ub),
    "payload_type" / Int16ub,
    "payload_length" / Int32ub,
    "payload" / Bytes(this.payload_length),
)


@dataclass(frozen=True, slots=True)
class PayloadType:
    code: int
    name: str
    # EXI grammar for the payload: "sap" means "supportedAppProtocol, then the agreed schema"
    # (0x8001 carries the handshake and then DIN / ISO 15118-2); None: not EXI.
    schema: str | None
    transport: str  # "tcp" or "udp"


PAYLOAD_TYPES: dict[int, PayloadType] = {
    p.code: p
    for p in (
        PayloadType(0x8001, "EXI (SAP / DIN 70121 / ISO 15118-2)", "sap", "tcp"),
        PayloadType(0x8002, "ISO 15118-20 main stream", "iso20_CommonMessages", "tcp"),
        PayloadType(0x8003, "ISO 15118-20 AC main stream", "iso20_AC", "tcp"),
        PayloadType(0x8004, "ISO 15118-20 DC main stream", "iso20_DC", "tcp"),
        PayloadType(0x8005, "ISO 15118-20 ACDP main stream", "iso20_ACDP", "tcp"),
        PayloadType(0x8006, "ISO 15118-20 WPT main stream", "iso20_WPT", "tcp"),
        PayloadType(0x8101, "ISO 15118-20 schedule renegotiation", None, "tcp"),
        PayloadType(0x8102, "ISO 15118-20 metering confirmation", None, "tcp"),
        PayloadType(0x8103, "ISO 15118-20 ACDP system status", None, "tcp"),
        PayloadType(0x8104, "ISO 15118-20 parking status", None, "tcp"),
        PayloadType(0x9000, "SDP request", None, "udp"),
        PayloadType(0x9001, "SDP response", None, "udp"),
        PayloadType(0x9002, "SDP request (wireless)", None, "udp"),
        PayloadType(0x9003, "SDP response (wireless)", None, "udp"),
    )
}
TCP_PAYLOAD_TYPES = frozenset(c for c, p in PAYLOAD_TYPES.items() if p.transport == "tcp")


def payload_type_name(code: int) -> str:
    known = PAYLOAD_TYPES.get(code)
    if known:
        return known.name
    if code >= 0xA000:
        return "manufacturer specific"
    return "reserved"


@dataclass(frozen=True, slots=True)
class Header:
    version: int
    inverse_version: int
    payload_type: int
    payload_length: int

    def as_fields(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "inverse_version": self.inverse_version,
            "payload_type": self.payload_type,
            "payload_type_name": payload_type_name(self.payload_type),
            "payload_length": self.payload_length,
        }


# Message(...) without the frozen dataclass __init__ (same record; hot path "recordbuild")
_new_message = backends.load("recordbuild").builder(Message)
_new_ref = backends.load("recordbuild").builder(ByteRef)
_HEADER_FAST = struct.Struct(">BBHI")  # the same layout as HEADER, for the hot path


def parse_header(data: bytes | bytearray | memoryview) -> Header:
    """The 8-byte header at the start of `data` (caller guarantees 8 bytes).

    Uses `struct` on the hot path; `HEADER` (construct) is the specification and the oracle
    the tests compare this against.
    """
    return Header(*_HEADER_FAST.unpack_from(data, 0))


def build(payload_type: int, payload: bytes) -> bytes:
    """One V2GTP unit (header + payload), as `simulate` and the tests write them."""
    return UNIT.build({"payload_type": payload_type, "payload_length": len(payload),
                       "payload": payload})


def header_problem(header: Header, *, tcp: bool) -> tuple[str, str] | None:
    """(kind, detail) when the header cannot start a valid unit on this transport, else None."""
    if header.version != PROTOCOL_VERSION or header.inverse_version != INVERSE_PROTOCOL_VERSION:
        return ("v2gtp.header.version",
                f"expected version 0x01 / inverse 0xFE, found 0x{header.version:02X} / "
                f"0x{header.inverse_version:02X}")
    if header.payload_length > MAX_PAYLOAD_LEN:
        return ("v2gtp.header.length",
                f"payload length {header.payload_length} exceeds {MAX_PAYLOAD_LEN} bytes")
    if tcp and header.payload_type not in TCP_PAYLOAD_TYPES and header.payload_type < 0xA000:
        return ("v2gtp.header.payload_type",
                f"payload type 0x{header.payload_type:04X} ({payload_type_name(header.payload_type)})"
                " is not a V2G TCP payload type")
    return None


def probe(first_bytes: bytes, direction: int) -> bool:
    """Heuristic for the pipeline: does this TCP stream start with a V2GTP header?

    V2G TCP ports are dynamic (announced in SDP), so a stream is recognised by its first
    bytes: 0x01 0xFE and a payload type carried over TCP, with a sane length.
    """
    if len(first_bytes) < HEADER_LEN:
        return False
    header = parse_header(first_bytes)
    return header_problem(header, tcp=True) is None and header.payload_type in TCP_PAYLOAD_TYPES


# --- EXI payloads -----------------------------------------------------------------------------

class ExiUnavailable(RuntimeError):
    """The EXI codec is not installed: payloads are reported undecoded, never dropped."""


ExiDecoder = Callable[[bytes, str], dict]


def default_exi_decoder(data: bytes, schema: str, *, max_depth: int = 64,
                        max_string: int = 256 * 1024) -> dict:
    """The one place that calls the EXI codec (chargescope.dissectors.exi.decode), with
    the exi-depth / exi-string caps (`Limits`)."""
    decode = _exi_decode or _load_exi_decode()
    return decode(data, schema, max_depth=max_depth, max_string=max_string)


_exi_decode: Callable[..., dict] | None = None  # found once: an import per message cost ~2 us


def _load_exi_decode() -> Callable[..., dict]:
    global _exi_decode
    try:
        from chargescope.dissectors import exi
    except ImportError as exc:  # the codec lands separately; report, do not crash
        raise ExiUnavailable(str(exc)) from exc
    _exi_decode = exi.decode
    return _exi_decode


# Schemas tried, in order, on a 0x8001 payload when the connection's handshake was not seen
# (capture started late): users ask for exactly this (wireshark-v2g #20, #36, #61).
SAP_CANDIDATES = ("appHand", "din", "iso2")

# supportedAppProtocol namespaces -> the EXI schema of the messages that follow.
NAMESPACE_SCHEMAS: dict[str, str] = {
    "urn:din:70121:2012:MsgDef": "din",
    "urn:iso:15118:2:2013:MsgDef": "iso2",
    "urn:iso:15118:2:2010:MsgDef": "iso1",
    "urn:iso:std:iso:15118:-20:CommonMessages": "iso20_CommonMessages",
    "urn:iso:std:iso:15118:-20:AC": "iso20_CommonMessages",
    "urn:iso:std:iso:15118:-20:DC": "iso20_CommonMessages",
    "urn:iso:std:iso:15118:-20:WPT": "iso20_CommonMessages",
    "urn:iso:std:iso:15118:-20:ACDP": "iso20_CommonMessages",
}


def message_name(tree: dict) -> str:
    """The V2G message name of a decoded tree (EXIficient JSON form, see DESIGN.md)."""
    if not tree:
        return "EXI"
    root = next(iter(tree))
    node = tree[root]
    if root == "V2G_Message" and isinstance(node, dict):
        body = node.get("Body") or {}
        if isinstance(body, dict) and body:
            return next(iter(body))
        return "V2G_Message"
    return root


# --- the stream dissector -----------------------------------------------------------------------

@dataclass(slots=True)
class _Direction:
    """Buffered bytes of one direction, with the frame refs that cover them."""

    buf: bytearray
    start: int  # stream offset of buf[0]
    segments: list[tuple[int, ByteRef]]  # (stream offset of the ref's first byte, ref)
    ts_ns: int = 0
    synced: bool = True  # False after a gap/bad header until a valid header is found
    skipped: int = 0  # bytes discarded while resynchronising (reported, not silent)
    skipped_from: int = 0
    last_frame: int = 0  # the frame of the latest bytes, for problems found at the close

    def refs(self, start: int, end: int) -> tuple[ByteRef, ...]:
        return refs_between(self.segments, start, end)

    def consume(self, n: int) -> None:
        del self.buf[:n]
        self.start += n
        self.segments = [(s, r) for s, r in self.segments if s + r.length > self.start]


class V2gtpStream:
    """Sans-I/O V2GTP dissector for one TCP connection (a `StreamDissector`).

    Keeps the connection's EXI context: the supportedAppProtocol offer (SchemaID ->
    namespace) and the agreed schema, so 0x8001 payloads after the handshake decode with the
    grammar the two sides agreed on.
    """

    def __init__(self, conn: Connection, decoder: ExiDecoder | None = None) -> None:
        self.conn = conn
        client, server = str(conn.client), str(conn.server)
        self._ends = ((client, server), (server, client))  # (src, dst) per direction
        self._decode = decoder or default_exi_decoder
        self._dirs = [_Direction(bytearray(), 0, []), _Direction(bytearray(), 0, [])]
        self.accounting = StreamBytes()  # bytes made units of / reported undecodable
        self._offered: dict[int, str] = {}  # SchemaID -> namespace, from the EVCC's offer
        self.agreed_schema: str | None = None
        self.agreed_namespace: str | None = None
        self.guessed = False  # schema found by trying candidates (handshake not seen)

    # StreamDissector interface
    def on_data(self, event: StreamData) -> list[Message]:
        d = self._dirs[event.direction]
        if not d.buf and d.synced and not d.skipped and len(event.refs) == 1:
            return self._whole_units(d, event)
        return self._buffered(d, event)

    def _buffered(self, d: _Direction, event: StreamData) -> list[Message]:
        """`on_data` in general: the bytes join the direction's buffer, units are cut
        from it."""
        if not d.buf:
            d.start = event.offset
            d.segments = []
        elif event.offset != d.start + len(d.buf):
            # The reassembler promises in-order data; a jump without a gap event is treated
            # like a gap so we never glue unrelated bytes together.
            expected = d.start + len(d.buf)
            out = self._lose(event.direction, event.offset, event.ts_ns,
                             gap=max(1, event.offset - expected),
                             frame=event.refs[0].frame if event.refs else 0)
            return out + self.on_data(event)
        pos = event.offset
        for ref in event.refs:
            d.segments.append((pos, ref))
            pos += ref.length
        d.buf += event.data
        d.ts_ns = event.ts_ns
        if event.refs:
            d.last_frame = event.refs[-1].frame
        return self._drain(event.direction)

    def _whole_units(self, d: _Direction, event: StreamData) -> list[Message]:
        """`on_data` with nothing buffered, in sync, and one frame's bytes (the common
        case): the complete, valid units at the start of the data become Messages straight
        from it; from the first partial or faulty unit on, the general path takes the rest
        with the state it would have had (same Messages either way)."""
        data = event.data
        if type(data) is not bytes:
            data = bytes(data)
        ref = event.refs[0]
        direction = event.direction
        base = event.offset
        size = len(data)
        pos = 0
        out: list[Message] = []
        consumed = self.accounting.consumed
        unpack = _HEADER_FAST.unpack_from
        while size - pos >= HEADER_LEN:
            header = Header(*unpack(data, pos))
            total = HEADER_LEN + header.payload_length
            if size - pos < total or header_problem(header, tcp=True) is not None:
                break  # partial or faulty: the general path reports or waits
            out.append(self._unit_message(
                direction, header, data[pos + HEADER_LEN:pos + total], base + pos, event.ts_ns,
                (_new_ref(ref.source, ref.frame, ref.start + pos, total),)))
            consumed[direction] += total
            pos += total
        d.ts_ns = event.ts_ns
        d.last_frame = ref.frame
        d.start = base + pos
        if pos < size:  # what the general path holds after consuming the units above
            d.buf += data[pos:] if pos else data
            d.segments = [(base, ref)]
            out += self._drain(direction)
        else:
            d.segments = []
        return out

    def on_gap(self, event: StreamGap) -> list[Message]:
        return self._lose(event.direction, event.offset + event.length, event.ts_ns,
                          gap=event.length, frame=event.frame, exact=event.exact)

    def on_close(self, event: StreamClose) -> list[Message]:
        out: list[Message] = []
        for direction, d in enumerate(self._dirs):
            if event.direction in (0, 1) and event.reason == "fin" and \
                    direction != event.direction:
                continue  # a half-close: the other side may still send (RST ends both)
            if d.buf or d.skipped:
                out.extend(self._lose(direction, d.start + len(d.buf), event.ts_ns,
                                      reason="stream closed inside a V2GTP unit",
                                      frame=d.last_frame))
        # The session analyser needs to know how the connection ended (FIN, RST, end of
        # capture): that is often the whole story of a failed session.
        src, dst = self._endpoints(max(event.direction, 0))
        closed_by = {0: "client", 1: "server"}.get(event.direction, "both")
        out.append(Message(Link.A, "v2gtp", "ConnectionClosed", event.ts_ns, src, dst,
                           {"v2gtp": {"tcp_stream": self.conn.index}, "reason": event.reason,
                            "closed_by": closed_by}))
        return out

    # internals
    def _endpoints(self, direction: int) -> tuple[str, str]:
        return self._ends[direction]

    def _problem_message(self, direction: int, kind: str, detail: str, offset: int,
                         ts_ns: int, refs: tuple[ByteRef, ...] = (),
                         extra: dict | None = None, frame: int = 0) -> Message:
        """A V2GTP Message carrying one problem; it names `frame` when given (where the
        problem showed: a gap's, the next header's), else the first frame of `refs`."""
        src, dst = self._endpoints(direction)
        problem = stream_problem(kind, detail, self.conn, offset, () if frame else refs, frame)
        return Message(Link.A, "v2gtp", "V2GTP", ts_ns, src, dst,
                       {"v2gtp": {**(extra or {}), "tcp_stream": self.conn.index,
                                  "direction": direction},
                        "stream_offset": offset}, refs, (problem,))

    def _lose(self, direction: int, resume_at: int, ts_ns: int, *, gap: int = 0,
              reason: str = "", frame: int = 0, exact: bool = True) -> list[Message]:
        """Drop what is buffered (it can no longer complete) and report it as one problem."""
        d = self._dirs[direction]
        out: list[Message] = []
        lost_from = d.start - d.skipped if d.skipped else d.start
        lost = len(d.buf) + d.skipped
        self.accounting.undecodable[direction] += len(d.buf)  # skipped: counted as skipped
        if lost or gap:
            refs = d.refs(d.start, d.start + len(d.buf))
            kind = "v2gtp.stream.gap" if gap else "v2gtp.stream.truncated"
            what = (f"{'' if exact else 'up to '}{gap} bytes missing from the capture; "
                    if gap else (reason + "; " if reason else ""))
            out.append(self._problem_message(
                direction, kind,
                f"{what}{lost} buffered bytes discarded, resynchronising on the next V2GTP header",
                lost_from, ts_ns, refs, frame=frame if gap or not refs else 0))
        d.buf.clear()
        d.segments = []
        d.start = resume_at
        d.skipped = 0
        d.synced = not gap  # after a gap we are mid-unit: look for a header
        return out

    def _drain(self, direction: int) -> list[Message]:
        d = self._dirs[direction]
        out: list[Message] = []
        while len(d.buf) >= HEADER_LEN:
            header = parse_header(d.buf)
            bad = header_problem(header, tcp=True)
            if bad is not None:
                if d.synced:
                    # A bad header where one must be: report it once, then hunt for the next.
                    out.append(self._problem_message(direction, bad[0], bad[1], d.start,
                                                     d.ts_ns, d.refs(d.start, d.start + HEADER_LEN),
                                                     header.as_fields()))
                    d.synced = False
                    d.consume(1)
                    self.accounting.undecodable[direction] += 1
                    continue
                idx = _find_header(d.buf, 1)
                if idx < 0:
                    keep = HEADER_LEN - 1  # a header may straddle the next segment
                    self._skip(direction, max(0, len(d.buf) - keep))
                    break
                self._skip(direction, idx)
                continue
            total = HEADER_LEN + header.payload_length
            if len(d.buf) < total:
                break
            if d.skipped:
                found = d.refs(d.start, d.start + 1)  # the header that ended the hunt
                out.append(self._problem_message(
                    direction, "v2gtp.stream.resync",
                    f"{d.skipped} bytes skipped before the next valid V2GTP header",
                    d.skipped_from, d.ts_ns, frame=found[0].frame if found else 0))
                d.skipped = 0
            d.synced = True
            unit_refs = d.refs(d.start, d.start + total)
            payload = bytes(d.buf[HEADER_LEN:total])
            out.append(self._unit_message(direction, header, payload, d.start, d.ts_ns,
                                          unit_refs))
            d.consume(total)
            self.accounting.consumed[direction] += total
        return out

    def _skip(self, direction: int, n: int) -> None:
        """Drop `n` bytes while hunting for a header (reported once the hunt ends)."""
        d = self._dirs[direction]
        if not d.skipped:
            d.skipped_from = d.start
        d.skipped += n
        d.consume(n)
        self.accounting.undecodable[direction] += n

    def _unit_message(self, direction: int, header: Header, payload: bytes, offset: int,
                      ts_ns: int, refs: tuple[ByteRef, ...]) -> Message:
        src, dst = self._endpoints(direction)
        fields: dict[str, Any] = {"v2gtp": {**header.as_fields(), "tcp_stream": self.conn.index,
                                            "direction": direction},
                                  "stream_offset": offset}
        ptype = PAYLOAD_TYPES.get(header.payload_type)
        if ptype is None or ptype.schema is None:
            fields["payload"] = payload.hex().upper()
            return _new_message(Link.A, "v2gtp", payload_type_name(header.payload_type), ts_ns,
                                src, dst, fields, refs, ())
        problems: list[Problem] = []
        tree, schema, err = self._decode_payload(ptype.schema, payload)
        if tree is None:
            fields["payload"] = payload.hex().upper()
            at = HEADER_LEN + err[2]  # the frame holding the byte where decoding failed
            problems.append(stream_problem(err[0], err[1], self.conn, offset + at,
                                           slice_refs(refs, min(at, HEADER_LEN + len(payload) - 1), 1)
                                           or refs))
            return Message(Link.A, "v2gtp", "EXI", ts_ns, src, dst, fields, refs,
                           tuple(problems))
        fields["schema"] = schema
        if self.guessed and ptype.schema == "sap":
            fields["schema_guessed"] = True
        fields.update(tree)
        self._learn(tree)
        return _new_message(Link.A, "exi", message_name(tree), ts_ns, src, dst, fields, refs, ())

    def _decode_payload(self, kind: str, payload: bytes
                        ) -> tuple[dict | None, str, tuple[str, str, int]]:
        if kind != "sap":
            candidates: tuple[str, ...] = (kind,)
        elif self.agreed_schema:
            candidates = (self.agreed_schema,)
        else:
            candidates = SAP_CANDIDATES
        first_err: tuple[str, str, int] = ("exi.decode.failed", "no schema to decode with", 0)
        for schema in candidates:
            try:
                tree = self._decode(payload, schema)
            except ExiUnavailable as exc:
                return None, "", ("exi.codec.unavailable", f"EXI codec not available: {exc}", 0)
            except Exception as exc:  # any codec failure is the payload's problem, not ours
                if schema == candidates[0]:
                    bit = getattr(exc, "bit_offset", getattr(exc, "offset", 0)) or 0
                    first_err = (getattr(exc, "kind", "exi.decode.failed"),
                                 f"{schema}: {exc}", int(bit) // 8)
                continue
            if kind == "sap" and not self.agreed_schema and schema != "appHand":
                # Handshake never seen: stick to the grammar that decoded cleanly.
                self.agreed_schema, self.guessed = schema, True
            return tree, schema, first_err
        return None, "", first_err

    def _learn(self, tree: dict) -> None:
        """Follow the supportedAppProtocol handshake of this connection."""
        if "supportedAppProtocolReq" in tree:
            offer = tree["supportedAppProtocolReq"].get("AppProtocol") or []
            if isinstance(offer, dict):
                offer = [offer]
            self._offered = {p.get("SchemaID"): p.get("ProtocolNamespace", "") for p in offer
                             if isinstance(p, dict) and isinstance(p.get("SchemaID"), int)}
        elif "supportedAppProtocolRes" in tree:
            res = tree["supportedAppProtocolRes"]
            schema_id = res.get("SchemaID")
            namespace = self._offered.get(schema_id) if isinstance(schema_id, int) else None
            if str(res.get("ResponseCode", "")).startswith("OK") and namespace:
                self.agreed_namespace = namespace
                self.agreed_schema = NAMESPACE_SCHEMAS.get(namespace)
                self.guessed = False


def _find_header(buf: bytearray, start: int) -> int:
    """Index of the next plausible V2GTP header at or after `start`, or -1."""
    i = buf.find(b"\x01\xfe", start)
    while i >= 0:
        if i + HEADER_LEN > len(buf):
            return i  # maybe a header: wait for the rest
        if header_problem(parse_header(buf[i:]), tcp=True) is None:
            return i
        i = buf.find(b"\x01\xfe", i + 1)
    return -1


def stream_factory(conn: Connection) -> V2gtpStream:
    return V2gtpStream(conn)


def stream_handoff(limits: Limits = DEFAULT_LIMITS) -> StreamHandoff:
    """The V2GTP handoff decoding EXI within `limits` (exi-depth, exi-string)."""
    if limits.exi_depth == DEFAULT_LIMITS.exi_depth and \
            limits.exi_string == DEFAULT_LIMITS.exi_string:
        return HANDOFF
    decoder = functools.partial(default_exi_decoder, max_depth=limits.exi_depth,
                                max_string=limits.exi_string)
    return StreamHandoff(name="v2gtp", tcp_ports=(), probe=probe,
                         factory=lambda conn: V2gtpStream(conn, decoder))


# Where V2GTP attaches (read by analyzer.handoff.stream_handoffs): the V2G TCP port is dynamic
# (announced in SDP), so by heuristic on the first bytes, never by port.
HANDOFF = StreamHandoff(name="v2gtp", tcp_ports=(), probe=probe, factory=stream_factory)
