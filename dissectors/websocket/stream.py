"""One TCP connection carrying WebSocket: a sans-I/O StreamDissector.

Feed `StreamData` / `StreamGap` / `StreamClose` in capture order, get back the
Messages each event completed. A partial frame is kept until more bytes arrive; a
capture that starts mid-connection, or a gap, puts the direction into *hunt* mode,
which resynchronises on the next plausible frame boundary and reports the bytes it
skipped. Every byte ends up in a Message, as a decode problem if nothing else.

Complete data messages go to a payload handler chosen by the negotiated subprotocol
(Wireshark's `ws.protocol` table) or by a probe over the payload when the handshake
was not captured; without a handler they become plain "websocket" Messages.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chargescope import backends
from chargescope.analyzer.accounting import StreamBytes
from chargescope.analyzer.byteranges import stream_problem
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
from chargescope.dissectors.websocket import frames as wsf
from chargescope.dissectors.websocket.deflate import (
    DEFAULT_MAX_MESSAGE,
    DeflateParams,
    InflateError,
    Inflater,
    negotiated_deflate,
)
from chargescope.dissectors.websocket.handshake import (
    HandshakeError,
    accept_for_key,
    parse_header_block,
    request_fields,
    response_fields,
)
from chargescope.dissectors.websocket.streamcore import (
    _FRAMES,
    PayloadHandler,
    coalesce,
)
from chargescope.dissectors.websocket.streamcore import Mode as _Mode
from chargescope.dissectors.websocket.streamcore import (
    WsMessageInfo as WsMessageInfo,  # re-exported: handlers import it from here
)
from chargescope.dissectors.websocket.streamcore import new_info as _new_info

MAX_HEADER_BLOCK = 64 << 10
# the connection's hot state and steady-state on_data (hot path "wsstream")
_core = backends.load("wsstream")
# plain ints on the per-frame path (enum member lookups cost more than the frame parse)
_OP_CONTINUATION, _OP_TEXT, _OP_BINARY = 0x0, 0x1, 0x2
HUNT_HORIZON = 64 << 10  # longest frame a resync candidate may claim without evidence
_HTTP_METHODS = (b"GET ", b"POST", b"PUT ", b"HEAD", b"OPTI", b"DELE", b"PATC", b"CONN")


@dataclass(frozen=True, slots=True)
class PayloadHandoff:
    """Where a payload dissector attaches on WebSocket (one declaration per fact).

    `factory(conn)` makes the connection's PayloadHandler, `handler(payload, info)`. A
    handler may also offer the fast entry `handler.deliver(payload, direction, ts_ns, src,
    dst, refs, subprotocol, charge_point_id, websocket) -> Message`, for a whole message
    without problems (the WsMessageInfo fields as arguments, none built): the steady-state
    path of hot path "wsstream" calls it when present. It must return what
    `handler(payload, info)` would (OCPP's does: `ocppdecode.OcppHandler`)."""

    name: str
    subprotocols: tuple[str, ...]  # exact Sec-WebSocket-Protocol values
    probe: Callable[[bytes], bool] | None  # used when no subprotocol is known
    factory: Callable[[Connection], PayloadHandler]


@dataclass(frozen=True, slots=True)
class WebSocketOptions:
    max_message_size: int = DEFAULT_MAX_MESSAGE  # per (decompressed) message
    show_secrets: bool = False


def _inflates_to_json(buf: bytearray, pos: int, head: wsf.FrameHeader) -> bool:
    """A whole compressed text message at `pos` whose first inflated bytes start a JSON
    array (OCPP-J): only on its own, i.e. without a shared window (no context takeover,
    or the first message after the window was reset)."""
    if not head.fin:
        return False
    # the first KiB is plenty for 64 inflated bytes (block header, Huffman tables)
    start = pos + head.header_len
    payload = bytes(buf[start:min(start + 1024, pos + head.total_len)])
    if head.masked:
        payload = wsf.unmask(payload, head.mask_key)
    if head.length <= 1024:
        payload += b"\x00\x00\xff\xff"  # RFC 7692 7.2.2: the tail the sender removed
    try:
        first = zlib.decompressobj(-15).decompress(payload, 64)
    except zlib.error:
        return False
    return first.lstrip(b" \t\r\n").startswith(b"[")


@dataclass(slots=True)
class _Fragmented:
    opcode: int
    compressed: bool
    start: int  # stream offset of the first frame
    ts_ns: int
    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    frames: int = 0
    oversized: bool = False
    problems: list[Problem] = field(default_factory=list)
    refs: list[ByteRef] = field(default_factory=list)


class _GeneralPath:
    """Everything but the steady-state segment, which `StreamCore` (hot path "wsstream")
    answers itself: WebSocketStream is this over the core."""

    def __init__(self, conn: Connection, handoffs: Sequence[PayloadHandoff] = (),
                 options: WebSocketOptions | None = None) -> None:
        super().__init__()  # the core: both Directions, the closed set, its hot fields
        self.conn = conn
        self.options = options or WebSocketOptions()
        self._cap = self.options.max_message_size
        self._handoffs = tuple(handoffs)
        self._ends = (str(conn.client), str(conn.server))
        self._ends_back = self._ends[::-1]  # (src, dst) of server -> client messages
        self.request: dict | None = None
        self.response: dict | None = None
        self.subprotocol = ""
        self.charge_point_id = ""
        self.deflate: DeflateParams | None = None
        self._handler: PayloadHandler | None = None
        self.payload_protocol = ""  # name of the payload handoff chosen (e.g. "ocpp")
        self._pending_body = 0  # body bytes of a non-101 response still expected
        self._response_msg: dict | None = None

    @property
    def accounting(self) -> StreamBytes:
        """Bytes made Messages of / reported undecodable, per direction."""
        d0, d1 = self._dirs
        return StreamBytes([d0.consumed, d1.consumed], [d0.undecodable, d1.undecodable])

    # ------------------------------------------------------------------ events

    def _on_data_general(self, event: StreamData) -> list[Message]:
        """`on_data` for any event (the core took the steady-state segments)."""
        d = self._dirs[event.direction]
        if event.direction in self._closed:  # bytes beyond this side's FIN (hostile TCP)
            d.undecodable += len(event.data)
            problem = self._problem("websocket.bytes.unparsed",
                                    f"{len(event.data)} bytes sent after this side closed",
                                    event.offset, event.refs)
            return [self._ws_message(event.direction, "Undecoded bytes", event.ts_ns,
                                     {"length": len(event.data)}, event.refs, [problem])]
        out: list[Message] = []
        expected = d.base + len(d.buf)
        data = event.data
        offset = event.offset
        if offset > expected and (d.buf or d.base):
            out.extend(self._gap(event.direction, expected, offset - expected, event.ts_ns,
                                 event.refs[0].frame if event.refs else 0))
        elif offset < expected:  # overlap the reassembler let through: keep the first copy
            cut = expected - offset
            d.undecodable += min(cut, len(data))
            data = data[cut:]
            offset = expected
            if not data:
                return out
        if not d.buf:
            d.base = offset
            if (d.mode is _FRAMES and d.frag is None and not d.skip and not d.tentative
                    and len(event.refs) == 1 and data is event.data):
                used = self._whole_frames(event, out)
                d.consumed += used
                if used == len(data):
                    return out
                data, offset = data[used:], offset + used
        d.buf += data
        d.refs.add(offset, _refs_for(event, offset))
        out.extend(self._process(event.direction, event.ts_ns))
        return out

    def _on_data_rest(self, event: StreamData, used: int, out: list[Message]) -> list[Message]:
        """After the core decoded `used` bytes of whole frames: buffer the rest, go on."""
        d = self._dirs[event.direction]
        offset = event.offset + used
        d.buf += event.data[used:]
        d.refs.add(offset, _refs_for(event, offset))
        out.extend(self._process(event.direction, event.ts_ns))
        return out

    def on_gap(self, event: StreamGap) -> list[Message]:
        d = self._dirs[event.direction]
        out = self._gap(event.direction, event.offset, event.length, event.ts_ns, event.frame,
                        event.exact)
        d.base = event.offset + event.length
        return out

    def on_close(self, event: StreamClose) -> list[Message]:
        """A side closed (FIN/RST) or the capture ended (-1).

        The closing side's leftovers are reported at once; "Connection closed" comes
        once, when no side can send any more (both closed, RST, or end of capture).
        """
        out: list[Message] = []
        if self._closed == {0, 1}:
            return out
        sides = (0, 1) if event.direction < 0 or event.reason == "rst" else (event.direction,)
        for direction in sides:
            if direction not in self._closed:
                out.extend(self._flush(direction, event.ts_ns, "connection closed"))
                self._closed.add(direction)
        if self._closed == {0, 1}:
            out.append(self._ws_message(-1 if event.direction < 0 else event.direction,
                                        "Connection closed", event.ts_ns,
                                        {"event": "close", "reason": event.reason,
                                         "closed_by": event.direction}, ()))
        return out

    # ------------------------------------------------------------------ helpers

    def _ws_message(self, direction: int, name: str, ts_ns: int, fields: dict,
                    refs: tuple[ByteRef, ...], problems: Sequence[Problem] = ()) -> Message:
        src, dst = (self._ends if direction != 1 else self._ends[::-1])
        fields = {"capture": self.conn.source, "connection": self.conn.index,
                  "charge_point_id": self.charge_point_id, "direction": direction, **fields}
        return Message(Link.B, "websocket", name, ts_ns, src, dst, fields, refs, tuple(problems))

    def _problem(self, kind: str, detail: str, offset: int, refs: tuple[ByteRef, ...],
                 frame: int = 0) -> Problem:
        return stream_problem(kind, detail, self.conn, offset, refs, frame)

    def _gap(self, direction: int, offset: int, length: int, ts_ns: int,
             frame: int, exact: bool = True) -> list[Message]:
        """Bytes that never arrived (`frame`: where that showed): resynchronise after them."""
        d = self._dirs[direction]
        out = self._flush(direction, ts_ns, f"{length} bytes missing at stream offset {offset}")
        if d.mode is _Mode.FRAMES or d.mode is _Mode.HANDSHAKE:
            d.mode = _Mode.HUNT
        d.skip = max(0, d.skip - length) if exact else 0  # inexact: where it ended is unknown
        if d.inflater is not None and d.inflater.context_takeover:
            d.inflater.reset()
            d.window_lost = True
        problem = self._problem("websocket.stream.gap",
                                f"{'' if exact else 'up to '}{length} bytes missing at "
                                f"stream offset {offset}; resynchronising on the next frame "
                                "boundary", offset, (),
                                frame)
        out.append(self._ws_message(direction, "Gap", ts_ns,
                                    {"event": "gap", "offset": offset, "length": length}, (),
                                    [problem]))
        d.base = offset + length
        return out

    def _flush(self, direction: int, ts_ns: int, why: str) -> list[Message]:
        """Report what is buffered but incomplete (a gap or the end of the stream)."""
        d = self._dirs[direction]
        out: list[Message] = []
        if d.frag is not None:
            frag = d.frag
            d.frag = None
            refs = coalesce(frag.refs)
            problem = self._problem("websocket.message.incomplete",
                                    f"fragmented message of {frag.frames} frame(s) never "
                                    f"finished: {why}", frag.start, refs)
            out.append(self._ws_message(direction, "Incomplete message", frag.ts_ns,
                                        {"opcode": frag.opcode, "size": frag.size}, refs,
                                        [*frag.problems, problem]))
        if d.buf:
            refs = d.refs.slice(d.base, d.base + len(d.buf))
            kind = ("websocket.bytes.unparsed" if d.mode is _Mode.OPAQUE
                    else "websocket.frame.truncated")
            problem = self._problem(kind, f"{len(d.buf)} bytes left undecoded ({d.mode.value}): "
                                    f"{why}", d.base, refs)
            out.append(self._ws_message(direction, "Undecoded bytes", ts_ns,
                                        {"length": len(d.buf)}, refs, [problem]))
            d.consume(len(d.buf), lost=True)
        return out

    def _process(self, direction: int, ts_ns: int) -> list[Message]:
        d = self._dirs[direction]
        out: list[Message] = []
        while d.buf:
            if d.skip:
                n = min(d.skip, len(d.buf))
                d.skip -= n
                d.consume(n, lost=True)  # payload of an oversized frame: not decoded
                continue
            if d.mode is _Mode.HANDSHAKE:
                if not self._handshake(direction, ts_ns, out):
                    break
            elif d.mode is _Mode.FRAMES:
                if not self._frame(direction, ts_ns, out):
                    break
            elif d.mode is _Mode.HUNT:
                if not self._hunt(direction, ts_ns, out):
                    break
            else:  # OPAQUE: kept until close/gap, reported then as unparsed bytes
                if self._pending_body and direction == 1:
                    if not self._response_body(ts_ns, out):
                        break
                    continue
                break
        return out

    # ------------------------------------------------------------------ handshake

    def _handshake(self, direction: int, ts_ns: int, out: list[Message]) -> bool:
        d = self._dirs[direction]
        prefix = bytes(d.buf[:5])
        is_http = prefix.startswith(b"HTTP/") if direction == 1 else prefix[:4] in _HTTP_METHODS
        if len(d.buf) < 5 and (b"HTTP/".startswith(prefix) or any(m.startswith(prefix[:4]) for m in _HTTP_METHODS)):
            return False
        if not is_http:
            d.mode = _Mode.HUNT  # the capture started after the handshake
            return True
        end = d.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(d.buf) > MAX_HEADER_BLOCK:
                refs = d.refs.slice(d.base, d.base + len(d.buf))
                out.append(self._ws_message(direction, "Handshake", ts_ns, {}, refs, [
                    self._problem("websocket.handshake.too_long",
                                  f"no end of HTTP headers within {MAX_HEADER_BLOCK} bytes",
                                  d.base, refs)]))
                d.consume(len(d.buf), lost=True)
                d.mode = _Mode.HUNT
                return True
            return False
        block_len = end + 4
        refs = d.refs.slice(d.base, d.base + block_len)
        problems: list[Problem] = []
        try:
            head = parse_header_block(bytes(d.buf[:end]))
            fields = (request_fields(head, self.options.show_secrets) if direction == 0
                      else response_fields(head))
        except HandshakeError as exc:
            problems.append(self._problem("websocket.handshake.malformed", str(exc), d.base, refs))
            out.append(self._ws_message(direction, "Handshake", ts_ns, {}, refs, problems))
            d.consume(block_len)
            d.mode = _Mode.HUNT
            return True
        d.consume(block_len)
        if direction == 0:
            self.request = fields
            self.charge_point_id = fields["charge_point_id"]
            d.mode = _Mode.FRAMES
            out.append(self._ws_message(0, "Handshake Request", ts_ns, fields, refs, problems))
            return True
        self.response = fields
        status = fields["status"]
        if status == 101:
            self.subprotocol = fields["subprotocol"]
            offered = (self.request or {}).get("subprotocols_offered") or []
            if not self.subprotocol and len(offered) == 1:
                # The server did not echo a subprotocol (a common CSMS bug); the client's
                # only offer is still the best statement of what it will speak.
                self.subprotocol = offered[0]
                fields["subprotocol_assumed"] = offered[0]
            self.deflate = negotiated_deflate(fields["extensions"])
            self._setup_inflaters()
            key = (self.request or {}).get("websocket_key", "")
            if key and fields["websocket_accept"] != accept_for_key(key):
                problems.append(self._problem(
                    "websocket.handshake.accept_mismatch",
                    "Sec-WebSocket-Accept does not match the client's key (RFC 6455 4.2.2)",
                    d.base - block_len, refs))
            d.mode = _Mode.FRAMES
            fields["deflate"] = self.deflate.as_fields() if self.deflate else None
            out.append(self._ws_message(1, "Handshake Response", ts_ns, fields, refs, problems))
            return True
        # Not upgraded (401, 404, ...): the connection stays HTTP.
        for dd in self._dirs:
            dd.mode = _Mode.OPAQUE
        self._pending_body = fields["content_length"] or 0
        self._response_msg = {"fields": fields, "refs": refs, "problems": problems, "ts": ts_ns}
        if not self._pending_body:
            self._emit_response(out)
        return True

    def _response_body(self, ts_ns: int, out: list[Message]) -> bool:
        d = self._dirs[1]
        if len(d.buf) < self._pending_body and self._pending_body <= MAX_HEADER_BLOCK:
            return False
        n = min(self._pending_body, len(d.buf))
        body = bytes(d.buf[:n])
        assert self._response_msg is not None
        self._response_msg["fields"]["body"] = body[:1024].decode("utf-8", "replace")
        self._response_msg["refs"] += d.refs.slice(d.base, d.base + n)
        d.consume(n)
        self._pending_body -= n
        if not self._pending_body:
            self._emit_response(out)
        return True

    def _emit_response(self, out: list[Message]) -> None:
        msg = self._response_msg
        assert msg is not None
        self._response_msg = None
        out.append(self._ws_message(1, "Handshake Response", msg["ts"], msg["fields"],
                                    msg["refs"], msg["problems"]))

    def _setup_inflaters(self) -> None:
        p = self.deflate
        for direction, d in enumerate(self._dirs):
            if p is None:
                d.inflater = None
            elif direction == 0:
                d.inflater = Inflater(context_takeover=not p.client_no_context_takeover,
                                      window_bits=p.client_max_window_bits,
                                      max_size=self.options.max_message_size)
            else:
                d.inflater = Inflater(context_takeover=not p.server_no_context_takeover,
                                      window_bits=p.server_max_window_bits,
                                      max_size=self.options.max_message_size)

    # ------------------------------------------------------------------ frames

    def _candidate(self, buf: bytearray, pos: int, from_client: bool) -> bool | None:
        """Is `pos` a frame boundary? True/False, or None while the bytes cannot tell yet.

        A boundary must hold a plausible frame *and* be followed by another plausible
        frame (a chain of two), unless the frame is a text frame, which is evidence enough
        on its own (compressed, RFC 7692: when its payload inflates to text that starts
        like JSON; waiting for the next frame would hand a charge point's CALL on only
        after its answer). Candidates claiming more than
        `HUNT_HORIZON` bytes without that evidence are rejected, so hunting never
        buffers much.
        """
        head = wsf.parse_header(buf, pos)
        if head is None or (head.length and len(buf) < pos + head.header_len + 1):
            return None
        if not wsf.plausible_frame_at(buf, pos, from_client=from_client,
                                      max_len=self.options.max_message_size):
            return False
        end = pos + head.total_len
        strong = head.opcode == _OP_TEXT and head.length > 0 and (
            not head.rsv1 or (end <= len(buf) and _inflates_to_json(buf, pos, head)))
        if end == len(buf) and head.opcode == 0x8 and head.length >= 2:
            # a Close ending exactly where the bytes end, with a registered close code
            code_bytes = bytes(buf[end - head.length:end - head.length + 2])
            if head.masked:
                code_bytes = wsf.unmask(code_bytes, head.mask_key[:2])
            if 1000 <= int.from_bytes(code_bytes, "big") <= 4999:
                return True
        if end >= len(buf):
            if strong:
                return True
            return None if head.length <= HUNT_HORIZON else False
        nxt = wsf.parse_header(buf, end)
        if nxt is None or (nxt.length and len(buf) < end + nxt.header_len + 1):
            return True if strong else None
        return wsf.plausible_frame_at(buf, end, from_client=from_client,
                                      max_len=self.options.max_message_size)

    def _hunt(self, direction: int, ts_ns: int, out: list[Message]) -> bool:
        d = self._dirs[direction]
        buf = d.buf
        pos = d.hunt_from
        d.hunt_from = 0
        found = False
        while pos < len(buf):
            verdict = self._candidate(buf, pos, direction == 0)
            if verdict is None:
                break  # cannot judge yet: wait for more bytes
            if verdict:
                found = True
                break
            pos += 1
        if pos:
            refs = d.refs.slice(d.base, d.base + pos)
            problem = self._problem("websocket.resync.skipped",
                                    f"{pos} bytes before the first plausible frame boundary",
                                    d.base, refs)
            out.append(self._ws_message(direction, "Undecoded bytes", ts_ns,
                                        {"length": pos}, refs, [problem]))
            d.consume(pos, lost=True)
        if found:
            d.mode = _Mode.FRAMES
            d.tentative = True
            if d.inflater is None and self.response is None:
                # Handshake unseen: compressed frames (RSV1) tell us deflate was on; assume
                # the shared window is unknown and inflate each message on its own.
                d.inflater = Inflater(context_takeover=False,
                                      max_size=self.options.max_message_size)
            return True
        return False

    def _frame(self, direction: int, ts_ns: int, out: list[Message]) -> bool:
        d = self._dirs[direction]
        head = wsf.parse_header(d.buf)
        if head is None:
            return False
        deflate_on = d.inflater is not None
        violations = wsf.header_violations(head, from_client=direction == 0, deflate=deflate_on)
        start = d.base
        if d.tentative:
            if violations:  # right after a resync, a bad header means a false boundary
                d.mode = _Mode.HUNT
                d.hunt_from = 1
                return True
            if head.opcode in (_OP_TEXT, _OP_BINARY):
                d.tentative = False
        cap = self.options.max_message_size
        if (head.opcode not in wsf.KNOWN_OPCODES and head.length <= HUNT_HORIZON
                and not any(k.startswith("websocket.mask") for k, _ in violations)):
            # A reserved opcode in an otherwise sane header: the frame's extent is known,
            # so report the whole frame and stay aligned (RFC 6455 5.2: peers fail the
            # connection; we keep reading what they send next, e.g. the Close).
            if len(d.buf) < head.total_len:
                return False
            refs = d.refs.slice(start, start + head.total_len)
            out.append(self._ws_message(direction, "Invalid frame", ts_ns,
                                        {"opcode": head.opcode, "length": head.length}, refs,
                                        [self._problem(k, t, start, refs) for k, t in violations]))
            d.consume(head.total_len)
            return True
        if head.opcode not in wsf.KNOWN_OPCODES or head.length > cap:
            header_refs = d.refs.slice(start, start + head.header_len)
            if head.opcode in wsf.KNOWN_OPCODES and not any(
                    k.startswith("websocket.mask") for k, _ in violations):
                # A well-formed but oversized frame: skip its payload without buffering it.
                problem = self._problem("websocket.frame.too_large",
                                        f"frame payload of {head.length} bytes exceeds the "
                                        f"{cap}-byte message cap; skipped", start, header_refs)
                out.append(self._ws_message(direction, "Oversized frame", ts_ns,
                                            {"opcode": head.opcode, "length": head.length},
                                            header_refs, [problem]))
                d.consume(head.header_len)
                d.skip = head.length
                if d.frag is not None:
                    d.frag.oversized = True
                return True
            problems = [self._problem(k, t, start, header_refs) for k, t in violations]
            if not problems:
                problems.append(self._problem("websocket.frame.implausible",
                                              f"frame header claims {head.length} bytes", start,
                                              header_refs))
            out.append(self._ws_message(direction, "Invalid frame", ts_ns,
                                        {"opcode": head.opcode, "length": head.length},
                                        header_refs, problems))
            d.consume(1, lost=True)
            d.mode = _Mode.HUNT
            return True
        if len(d.buf) < head.total_len:
            return False
        payload = bytes(d.buf[head.header_len:head.total_len])
        if head.masked:
            payload = wsf.unmask(payload, head.mask_key)
        refs = d.refs.slice(start, start + head.total_len)
        problems = [self._problem(k, t, start, refs) for k, t in violations]
        d.consume(head.total_len)
        if head.opcode >= 0x8:
            out.append(self._control(direction, head, payload, ts_ns, refs, problems, start))
            return True
        if head.opcode == _OP_CONTINUATION:
            frag = d.frag
            if frag is None:
                problems.append(self._problem("websocket.continuation.orphan",
                                              "continuation frame without a message to continue",
                                              start, refs))
                out.append(self._ws_message(direction, "Orphan continuation", ts_ns,
                                            {"length": len(payload)}, refs, problems))
                return True
        else:
            if d.frag is not None:
                out.extend(self._flush_frag(direction, ts_ns, "a new data frame started"))
            frag = d.frag = _Fragmented(head.opcode, head.rsv1 and deflate_on, start, ts_ns)
        frag.frames += 1
        frag.size += len(payload)
        frag.refs.extend(refs)
        frag.problems.extend(problems)
        if frag.size > cap:
            frag.oversized = True
            frag.parts.clear()
        elif not frag.oversized:
            frag.parts.append(payload)
        if head.fin:
            d.frag = None
            out.append(self._complete(direction, frag, ts_ns, coalesce(frag.refs)))
        return True

    def _flush_frag(self, direction: int, ts_ns: int, why: str) -> list[Message]:
        d = self._dirs[direction]
        frag = d.frag
        assert frag is not None
        d.frag = None
        refs = coalesce(frag.refs)
        problem = self._problem("websocket.message.incomplete",
                                f"fragmented message abandoned: {why}", frag.start, refs)
        return [self._ws_message(direction, "Incomplete message", frag.ts_ns,
                                 {"opcode": frag.opcode, "size": frag.size}, refs,
                                 [*frag.problems, problem])]

    def _control(self, direction: int, head: wsf.FrameHeader, payload: bytes, ts_ns: int,
                 refs: tuple[ByteRef, ...], problems: list[Problem], start: int) -> Message:
        """A control frame; `start` is its stream offset (where its problems point)."""
        name = wsf.Opcode(head.opcode).name.capitalize()
        fields: dict = {"opcode": head.opcode, "length": len(payload)}
        if head.opcode == wsf.Opcode.CLOSE:
            if len(payload) == 1:
                problems.append(self._problem("websocket.close.malformed",
                                              "close payload of 1 byte (RFC 6455 5.5.1)",
                                              start, refs))
            if len(payload) >= 2:
                fields["code"] = int.from_bytes(payload[:2], "big")
                fields["reason"] = payload[2:].decode("utf-8", "replace")
        else:
            fields["data"] = payload.hex()
        return self._ws_message(direction, name, ts_ns, fields, refs, problems)

    def _complete(self, direction: int, frag: _Fragmented, ts_ns: int,
                  refs: tuple[ByteRef, ...]) -> Message:
        if frag.oversized:
            d = self._dirs[direction]
            d.consumed -= frag.size  # the payloads beyond the cap were not decoded
            d.undecodable += frag.size
            ws = {"opcode": frag.opcode, "fragments": frag.frames, "compressed": frag.compressed,
                  "wire_size": frag.size}
            problems = [*frag.problems, self._problem(
                "websocket.message.too_large", f"message of {frag.size} bytes exceeds the "
                f"{self.options.max_message_size}-byte cap", frag.start, refs)]
            return self._ws_message(direction, "Oversized message", ts_ns, ws, refs, problems)
        return self._deliver(direction, frag.opcode, frag.compressed, b"".join(frag.parts),
                             frag.frames, frag.size, list(frag.problems), frag.start,
                             frag.ts_ns, refs)

    def _deliver(self, direction: int, opcode: int, compressed: bool, payload: bytes,
                 frames: int, wire_size: int, problems: list[Problem], start: int, ts_ns: int,
                 refs: tuple[ByteRef, ...]) -> Message:
        """A whole data message (reassembled, still compressed): inflate, check, hand on."""
        ws = {"opcode": opcode, "fragments": frames, "compressed": compressed,
              "wire_size": wire_size}
        if compressed:
            d = self._dirs[direction]
            assert d.inflater is not None
            try:
                inflated = d.inflater.inflate(payload)
            except InflateError as exc:
                why = " (the shared window was lost in a gap or before the capture)" \
                    if d.window_lost or self.response is None else ""
                problems.append(self._problem("websocket.deflate.failed",
                                              f"permessage-deflate payload does not inflate: "
                                              f"{exc}{why}", start, refs))
                return self._ws_message(direction, "Undecodable message", ts_ns, ws, refs,
                                        problems)
            ws["size"] = inflated.size
            if inflated.oversized:
                d.consumed -= wire_size  # a payload that inflates past the cap: not decoded
                d.undecodable += wire_size
                problems.append(self._problem(
                    "websocket.deflate.too_large",
                    f"message inflates to {inflated.size} bytes, over the "
                    f"{self.options.max_message_size}-byte cap (decompression bomb?)",
                    start, refs))
                return self._ws_message(direction, "Oversized message", ts_ns, ws, refs,
                                        problems)
            payload = inflated.data
        if opcode == _OP_TEXT and not payload.isascii():  # ASCII is UTF-8: no decode needed
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append(self._problem("websocket.text.invalid_utf8",
                                              f"text message is not UTF-8 at payload byte "
                                              f"{exc.start} (RFC 6455 8.1)", start, refs))
        handler = self._handler or self._payload_handler(payload)
        src, dst = self._ends if direction == 0 else self._ends_back
        if handler is None:
            fields = {**ws, "text" if opcode == 1 else "data":
                      payload.decode("utf-8", "replace") if opcode == 1 else payload.hex()}
            return self._ws_message(direction, "Text" if opcode == 1 else "Binary",
                                    ts_ns, fields, refs, problems)
        info = _new_info((self.conn, direction, ts_ns, src, dst, refs, self.subprotocol,
                          self.charge_point_id, ws, tuple(problems)))
        return handler(payload, info)

    def _payload_handler(self, payload: bytes) -> PayloadHandler | None:
        if self._handler is not None:
            return self._handler
        for handoff in self._handoffs:
            if self.subprotocol:
                if self.subprotocol in handoff.subprotocols:
                    break
            elif handoff.probe is not None and handoff.probe(payload):
                break
        else:
            return None
        self._handler = handoff.factory(self.conn)
        self.payload_protocol = handoff.name
        return self._handler


class WebSocketStream(_GeneralPath, _core.StreamCore):
    """StreamDissector for one TCP connection (see analyzer.handoff.StreamDissector)."""


def _refs_for(event: StreamData, offset: int) -> tuple[ByteRef, ...]:
    """The event's refs, trimmed when its head overlapped bytes already buffered."""
    cut = offset - event.offset
    refs = event.refs
    if not cut:
        return refs
    out: list[ByteRef] = []
    for ref in refs:
        if cut >= ref.length:
            cut -= ref.length
            continue
        out.append(ByteRef(ref.source, ref.frame, ref.start + cut, ref.length - cut))
        cut = 0
    return tuple(out)
