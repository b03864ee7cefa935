"""HTTP/1.1 over one reassembled TCP connection: a sans-I/O StreamDissector.

Parsing of each message is h11's (python-hyper/h11): a well-kept, strict, sans-I/O
HTTP/1.1 parser that already handles request lines, header folding rules,
Content-Length, chunked bodies, close-delimited responses, 1xx responses and a cap
on incomplete heads. h11 is built for one endpoint of a live connection, so a
passive observer drives it one message at a time: a fresh server-role
`h11.Connection` reads each request, a fresh client-role one reads each response
after being told (by a mirrored send) which request it answers, and whatever h11
holds after `EndOfMessage` (`trailing_data`) seeds the next message. That gives
pipelining and keep-alive for free and lets this module do what h11 cannot:
start mid-connection, resynchronise after gaps or garbage, and pair responses with
requests for a third party.

Every byte is accounted for: a message that breaks carries a Problem, and bytes
skipped while resynchronising are reported in a Message of their own.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import SplitResult, parse_qsl, urlsplit

import h11

from chargescope.analyzer.accounting import StreamBytes
from chargescope.analyzer.byteranges import refs_between
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
from chargescope.dissectors.http.body import (
    MAX_BODY_BYTES,
    MAX_DECODED_BYTES,
    body_fields,
    decode_body,
)
from chargescope.dissectors.http.secrets import mask_header

MAX_HEAD_BYTES = 64 * 1024  # h11 refuses a request/status line + headers longer than this

_METHODS = rb"GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|CONNECT|TRACE"
# Not anchored to line starts: after a gap, the next message follows a body's last byte.
REQUEST_START = re.compile(rb"(?:" + _METHODS + rb") [^ \r\n]+ HTTP/1\.[01]\r?\n")
RESPONSE_START = re.compile(rb"HTTP/1\.[01] [1-5]\d\d[ \r\n]")
_STARTS = (REQUEST_START, RESPONSE_START)
_KEEP_FOR_SCAN = 2048  # bytes kept while resynchronising, enough for one start line

SYNC, RESYNC, OPAQUE, HOLD = "sync", "resync", "opaque", "hold"


@dataclass(slots=True)
class _Pending:
    """A parsed request still waiting for its response."""

    method: str
    target: str
    exchange: int
    ts_ns: int
    upgrade: bytes  # the Upgrade header value, b"" if none


@dataclass(slots=True)
class _Partial:
    """The message being read in one direction."""

    start: int  # stream offset of its first byte
    head: h11.Request | h11.Response | None = None
    body: bytearray = field(default_factory=bytearray)
    body_len: int = 0
    informational: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    pending: _Pending | None = None  # responses: the request answered


class _Direction:
    """Parser state for one direction of the connection."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.mode = RESYNC  # until the first bytes show a message start
        self.h11: h11.Connection | None = None
        self.partial: _Partial | None = None
        self.raw = bytearray()  # bytes of the current message (kept up to a cap, for resync)
        self.raw_start = 0  # stream offset of raw[0]
        self.next_offset: int | None = None  # stream offset expected next
        self.scan = bytearray()  # resync buffer
        self.scan_start = 0
        self.skipped = 0  # bytes dropped while resynchronising, not yet reported
        self.skipped_at = 0
        self.refs: deque[tuple[int, ByteRef]] = deque()
        self.ts_ns = 0
        self.first_seen = True
        self.closing = False

    def add_refs(self, offset: int, refs: tuple[ByteRef, ...]) -> None:
        pos = offset
        for ref in refs:
            self.refs.append((pos, ref))
            pos += ref.length

    def refs_for(self, start: int, end: int) -> tuple[ByteRef, ...]:
        return refs_between(self.refs, start, end)

    def forget_before(self, offset: int) -> None:
        while self.refs and self.refs[0][0] + self.refs[0][1].length <= offset:
            self.refs.popleft()

    def first_frame(self, offset: int) -> int:
        for pos, ref in self.refs:
            if pos + ref.length > offset:
                return ref.frame
        return 0


class HttpStream:
    """StreamDissector for HTTP/1.1: yields one `http` Message per request and response."""

    def __init__(self, conn: Connection, *, show_secrets: bool = False,
                 max_body: int = MAX_BODY_BYTES, max_decoded: int = MAX_DECODED_BYTES) -> None:
        self.conn = conn
        self.show_secrets = show_secrets
        self.max_body = max_body  # body bytes kept per message (Limits.http_body)
        self.max_decoded = max_decoded  # after gzip/deflate (Limits.http_decoded)
        self._dirs = (_Direction(0), _Direction(1))
        self._pending: deque[_Pending] = deque()
        self._exchanges = 0
        self._held = bytearray()  # client bytes after an Upgrade request, until the answer
        self._held_offset = 0
        self._hold_exchange = -1  # the Upgrade/CONNECT request whose answer ends the hold
        self._switch = "a protocol switch"  # what made the connection opaque
        self._closed = [False, False]
        self._extra: list[Message] = []  # messages released while completing another
        self.accounting = StreamBytes()  # bytes made messages of / reported undecodable

    # -- StreamDissector -------------------------------------------------------------

    def on_data(self, event: StreamData) -> list[Message]:
        d = self._dirs[event.direction]
        out: list[Message] = []
        d.ts_ns = event.ts_ns
        d.add_refs(event.offset, event.refs)
        if self._closed[event.direction]:  # bytes beyond this side's FIN (hostile TCP)
            if not d.skipped:
                d.skipped_at = event.offset
            d.skipped += len(event.data)
            return self._report_skipped(d, "sent after this side closed")
        data = event.data
        if d.next_offset is not None and event.offset > d.next_offset:
            # the reassembler should have sent a StreamGap; treat the hole as one
            out += self._gap(d, d.next_offset, event.offset - d.next_offset, event.ts_ns,
                             event.refs[0].frame if event.refs else 0)
        d.next_offset = event.offset + len(data)
        if d.first_seen:
            d.first_seen = False
            d.scan_start = d.skipped_at = event.offset
        out += self._feed(d, event.offset, data)
        return out

    def on_gap(self, event: StreamGap) -> list[Message]:
        d = self._dirs[event.direction]
        d.ts_ns = event.ts_ns
        out = self._gap(d, event.offset, event.length, event.ts_ns, event.frame, event.exact)
        d.next_offset = event.offset + event.length
        return out

    def on_close(self, event: StreamClose) -> list[Message]:
        out: list[Message] = []
        # a FIN closes one side; RST or the end of the capture both
        which = (event.direction,) if event.direction in (0, 1) and event.reason == "fin" \
            else (0, 1)
        for index in which:
            if self._closed[index]:
                continue
            self._closed[index] = True
            d = self._dirs[index]
            d.ts_ns = event.ts_ns
            while index == 0 and self._held:  # each pass reads at least one request
                held, self._held = bytes(self._held), bytearray()
                d.mode = SYNC
                out += self._feed(d, self._held_offset, held)
            if d.mode == SYNC and d.h11 is not None:
                d.h11.receive_data(b"")
                d.closing = True  # an error now means "cut short", not garbage to rescan
                out += self._pump(d)
            if d.partial is not None and d.partial.head is not None:
                out.append(self._broken(d, "http.message.truncated",
                                        "the connection closed before the message ended"))
            if d.scan:  # still looking for a message start
                if not d.skipped:
                    d.skipped_at = d.scan_start
                d.skipped += len(d.scan)
                d.scan.clear()
            out += self._report_skipped(d, "")
            # everything this side sent is reported: nothing more is parsed from it
            d.raw, d.partial, d.h11 = bytearray(), None, None
            if d.mode == SYNC:
                d.mode = RESYNC
        return out

    # -- feeding -----------------------------------------------------------------------

    def _feed(self, d: _Direction, offset: int, data: bytes) -> list[Message]:
        if d.mode == OPAQUE:
            d.skipped += len(data)
            return []
        if d.mode == HOLD:
            if not self._held:
                self._held_offset = offset
            self._held += data
            return []
        if d.mode == RESYNC:
            if not d.scan:
                d.scan_start = offset
            d.scan += data
            return self._resync(d)
        if d.h11 is None:  # between messages: the next one starts here
            self._start_message(d, offset)
        d.raw += data
        if len(d.raw) > self.max_body + MAX_HEAD_BYTES:  # too big to rescan: keep the tail only
            del d.raw[:len(d.raw) - _KEEP_FOR_SCAN]
            d.raw_start = offset + len(data) - len(d.raw)
        assert d.h11 is not None
        if data:  # h11 reads an empty chunk as end of stream and then refuses more data
            d.h11.receive_data(data)
        return self._pump(d)

    def _resync(self, d: _Direction) -> list[Message]:
        match = _STARTS[d.index].search(d.scan)
        if match is None:
            keep = min(len(d.scan), _KEEP_FOR_SCAN)
            drop = len(d.scan) - keep
            if drop:
                if not d.skipped:
                    d.skipped_at = d.scan_start
                d.skipped += drop
                del d.scan[:drop]
                d.scan_start += drop
            return []
        out: list[Message] = []
        if match.start():
            if not d.skipped:
                d.skipped_at = d.scan_start
            d.skipped += match.start()
        out += self._report_skipped(d, "resynchronised on a message start")
        start = d.scan_start + match.start()
        rest = bytes(d.scan[match.start():])
        d.scan.clear()
        self._start_message(d, start)
        d.mode = SYNC
        out += self._feed(d, start, rest)
        return out

    def _start_message(self, d: _Direction, start: int) -> None:
        d.forget_before(start)
        d.raw = bytearray()
        d.raw_start = start
        d.partial = None
        if d.index == 0:
            d.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
            return
        d.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        pending = self._pending.popleft() if self._pending else None
        method, target, upgrade = ("GET", "/", b"") if pending is None else (
            pending.method, pending.target, pending.upgrade)
        headers = [("Host", "observed")]
        if upgrade:
            headers += [("Connection", "Upgrade"), ("Upgrade", upgrade)]
        try:
            d.h11.send(h11.Request(method=method, target=target or "/", headers=headers))
            d.h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError:
            d.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
            d.h11.send(h11.Request(method="GET", target="/", headers=[("Host", "observed")]))
            d.h11.send(h11.EndOfMessage())
        d.partial = _Partial(start=start, pending=pending)

    def _pump(self, d: _Direction) -> list[Message]:
        out: list[Message] = []
        conn = d.h11
        while conn is not None and d.mode == SYNC:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                out += self._protocol_error(d, str(exc))
                break
            if event is h11.PAUSED and conn.their_state is h11.SWITCHED_PROTOCOL \
                    and d.index == 1 and d.partial is not None and d.partial.head is not None:
                out += self._tunnel(d)  # a 2xx to CONNECT: no EndOfMessage will follow
                break
            if event is h11.NEED_DATA or event is h11.PAUSED or isinstance(
                    event, h11.ConnectionClosed):
                break
            partial = d.partial
            if partial is None:
                partial = d.partial = _Partial(start=d.raw_start)
            if isinstance(event, h11.InformationalResponse):
                partial.informational.append(event.status_code)
                if event.status_code == 101:
                    out += self._switch_protocols(d, event)
                    break
            elif isinstance(event, (h11.Request, h11.Response)):
                partial.head = event
                size = sum(len(k) + len(v) + 4 for k, v in event.headers.raw_items())
                if size > MAX_HEAD_BYTES:  # h11 only caps heads that arrive in pieces
                    partial.problems.append(self._problem(
                        d, "http.head.too-large",
                        f"{size} bytes of headers, over the {MAX_HEAD_BYTES} byte cap",
                        partial.start))
                if isinstance(event, h11.Request) and event.method == b"CONNECT":
                    problem = _connect_target_problem(event.target.decode("latin-1"))
                    if problem:
                        partial.problems.append(self._problem(
                            d, "http.connect.bad-authority", problem, partial.start))
            elif isinstance(event, h11.Data):
                partial.body_len += len(event.data)
                if len(partial.body) < self.max_body:
                    partial.body += event.data[:self.max_body - len(partial.body)]
            elif isinstance(event, h11.EndOfMessage):
                trailing, _closed = conn.trailing_data
                end = d.raw_start + len(d.raw) - len(trailing)
                out.append(self._complete(d, end))
                out += self._extra
                self._extra = []
                conn = self._next_message(d, end, bytes(trailing))
                if conn is not None and trailing:
                    continue
                break
        return out

    def _next_message(self, d: _Direction, start: int, trailing: bytes) -> h11.Connection | None:
        if d.mode == HOLD and trailing:
            self._held_offset = start
            self._held += trailing
        elif d.mode == OPAQUE and trailing:  # after a CONNECT's 2xx: the tunnel's bytes
            if not d.skipped:
                d.skipped_at = start
            d.skipped += len(trailing)
        if d.mode != SYNC or not trailing:
            # started lazily: a response parser must know the request it answers
            d.h11 = None
            d.forget_before(start)
            d.raw = bytearray()
            d.raw_start = start
            return None
        self._start_message(d, start)
        d.raw += trailing
        assert d.h11 is not None
        if trailing:
            d.h11.receive_data(trailing)
        return d.h11

    # -- results -----------------------------------------------------------------------

    def _endpoints(self, d: _Direction) -> tuple[str, str]:
        client, server = str(self.conn.client), str(self.conn.server)
        return (client, server) if d.index == 0 else (server, client)

    def _headers(self, head: h11.Request | h11.Response) -> list[list[str]]:
        out = []
        for name, value in head.headers.raw_items():
            text_name = name.decode("latin-1")
            text_value = value.decode("latin-1")
            out.append([text_name, mask_header(text_name, text_value, self.show_secrets)])
        return out

    def _complete(self, d: _Direction, end: int) -> Message:
        partial = d.partial
        assert partial is not None and partial.head is not None
        head = partial.head
        fields = self._head_fields(d, head)
        encoding = _header(head, b"content-encoding")
        fields["body_length"] = partial.body_len
        problems = list(partial.problems)
        if partial.body_len > len(partial.body):
            problems.append(Problem("http.body.too-large",
                                    f"body of {partial.body_len} bytes kept only up to "
                                    f"{self.max_body} (http-body cap)",
                                    source=self.conn.source,
                                    frame=d.first_frame(partial.start), offset=partial.start,
                                    where="stream"))
        if encoding:
            decoded = decode_body(bytes(partial.body), encoding, offset=partial.start,
                                  cap=self.max_decoded)
            fields["content_encoding"] = decoded.encoding
            fields["decoded_length"] = len(decoded.data)
            fields.update(body_fields(decoded.data))
            problems += [_at(p, self.conn.source, d.first_frame(partial.start))
                         for p in decoded.problems]
        else:
            fields.update(body_fields(bytes(partial.body)))
        message = self._message(d, partial, fields, end, problems,
                                over_cap=partial.body_len - len(partial.body))
        if fields["kind"] == "response" and self._dirs[0].mode == HOLD \
                and fields.get("exchange") == self._hold_exchange:
            # the held request's answer, and not a switch (101 and a CONNECT's 2xx end
            # in _switch_protocols / _tunnel); answers to earlier pipelined requests
            # leave the hold alone
            self._extra = self._release_hold()
        return message

    def _head_fields(self, d: _Direction, head: h11.Request | h11.Response) -> dict:
        fields: dict = {"version": head.http_version.decode("ascii"),
                        "headers": self._headers(head)}
        chunked = b"chunked" in _header(head, b"transfer-encoding").encode().lower()
        fields["chunked"] = chunked
        if isinstance(head, h11.Request):
            target = head.target.decode("latin-1")
            fields.update(kind="request", method=head.method.decode("ascii"), target=target,
                          exchange=self._exchanges)
            if head.method == b"CONNECT":  # authority-form `host:port`, no path (RFC 9110 §9.3.6)
                host, port = split_authority(target)
                fields.update(path="", query={}, authority=target, host=host, port=port)
            else:
                split = split_url(target)
                fields.update(path=split.path, query=dict(parse_qsl(split.query)))
            return fields
        pending = d.partial.pending if d.partial else None
        fields.update(kind="response", status=head.status_code,
                      reason=head.reason.decode("latin-1"))
        if d.partial and d.partial.informational:
            fields["informational"] = list(d.partial.informational)
        if pending is None:
            fields["request"] = None
        else:
            fields.update(exchange=pending.exchange,
                          request={"method": pending.method, "target": pending.target,
                                   "ts_ns": pending.ts_ns})
        return fields

    def _message(self, d: _Direction, partial: _Partial, fields: dict, end: int,
                 problems: list[Problem], lost: int = -1, over_cap: int = 0) -> Message:
        """The Message for bytes [partial.start, end); `lost` of them (all: -1) count as
        undecodable when the message broke off, else all count as consumed but the
        `over_cap` body bytes beyond the http-body cap (not decoded: undecodable)."""
        if lost < 0:
            self.accounting.consumed[d.index] += end - partial.start - over_cap
            self.accounting.undecodable[d.index] += over_cap
        else:
            self.accounting.undecodable[d.index] += lost
        src, dst = self._endpoints(d)
        if fields.get("kind") == "request":
            name = request_name(fields)
            self._request_done(d, partial, fields)
        elif fields.get("kind") == "response":
            name = f"{fields['status']} {fields['reason']}".strip()
        else:
            name = "HTTP"
        message = Message(link=Link.C, protocol="http", name=name, ts_ns=d.ts_ns, src=src,
                          dst=dst, fields=fields, refs=d.refs_for(partial.start, end),
                          problems=tuple(problems))
        d.partial = None
        return message

    def _request_done(self, d: _Direction, partial: _Partial, fields: dict) -> None:
        head = partial.head
        assert isinstance(head, h11.Request)
        upgrade = _header(head, b"upgrade").encode("latin-1")
        self._pending.append(_Pending(method=fields["method"], target=fields["target"],
                                      exchange=self._exchanges, ts_ns=d.ts_ns,
                                      upgrade=upgrade or b""))
        self._exchanges += 1
        if upgrade or fields["method"] == "CONNECT":
            d.mode = HOLD  # the answer decides whether what follows is still HTTP
            self._hold_exchange = self._exchanges - 1

    def _switch_protocols(self, d: _Direction, event: h11.InformationalResponse) -> list[Message]:
        partial = d.partial
        assert partial is not None
        fields = self._head_fields(d, h11.Response(status_code=200, headers=event.headers,
                                                   reason=event.reason))
        fields.update(status=101, reason=event.reason.decode("latin-1"), upgraded=True)
        fields["informational"] = []
        trailing, _ = d.h11.trailing_data if d.h11 else (b"", False)
        end = d.raw_start + len(d.raw) - len(trailing)
        message = self._message(d, partial, fields, end, list(partial.problems))
        # both directions now carry another protocol: count, do not parse
        out = [message, *self._go_opaque(d)]
        self._opaque_bytes(d, end, trailing)
        return out

    def _tunnel(self, d: _Direction) -> list[Message]:
        """A 2xx answer to CONNECT: the response ends at its head and both directions
        carry the tunnel, out of scope here (counted and reported as not HTTP)."""
        partial = d.partial
        assert partial is not None and partial.head is not None and d.h11 is not None
        fields = self._head_fields(d, partial.head)
        fields.update(body_length=0, tunnel=True)
        trailing, _ = d.h11.trailing_data
        end = d.raw_start + len(d.raw) - len(trailing)
        message = self._message(d, partial, fields, end, list(partial.problems))
        self._switch = "a CONNECT tunnel opened"
        out = [message, *self._go_opaque(d)]
        self._opaque_bytes(d, end, bytes(trailing))
        return out

    def _opaque_bytes(self, d: _Direction, end: int, trailing: bytes) -> None:
        """What followed the switch: `d`'s bytes after its answer and the client's held
        bytes, counted as not HTTP (reported with the rest at the next gap or close)."""
        for side, start, size in ((d, end, len(trailing)),
                                  (self._dirs[0], self._held_offset, len(self._held))):
            if size:
                if not side.skipped:
                    side.skipped_at = start
                side.skipped += size
        self._held.clear()

    def _go_opaque(self, d: _Direction) -> list[Message]:
        """Both directions switch protocols after `d`'s message: the other side's message
        in progress ends there (reported), and bytes a resync was scanning are not HTTP."""
        out: list[Message] = []
        other = self._dirs[1 - d.index]
        if other.mode == SYNC and (other.raw or (other.partial is not None
                                                 and other.partial.head is not None)):
            if other.partial is None:
                other.partial = _Partial(start=other.raw_start)
            out.append(self._broken(other, "http.message.truncated",
                                    "the connection switched protocols before it ended"))
            other.raw = bytearray()
        for side in self._dirs:
            side.mode = OPAQUE
            side.h11 = None
            if side.scan:
                if not side.skipped:
                    side.skipped_at = side.scan_start
                side.skipped += len(side.scan)
                side.scan.clear()
        return out

    def _release_hold(self) -> list[Message]:
        """The answer to an Upgrade/CONNECT request was not a switch: resume the client side."""
        client = self._dirs[0]
        if client.mode != HOLD:
            return []
        client.mode = SYNC
        held, self._held = bytes(self._held), bytearray()
        return self._feed(client, self._held_offset, held) if held else []

    # -- failures ----------------------------------------------------------------------

    def _problem(self, d: _Direction, kind: str, detail: str, offset: int,
                 frame: int = 0) -> Problem:
        """A problem at stream `offset`: in the frame holding that byte, else `frame`."""
        return Problem(kind, detail, source=self.conn.source,
                       frame=d.first_frame(offset) or frame, offset=offset, where="stream")

    def _broken(self, d: _Direction, kind: str, detail: str, reread: int = 0) -> Message:
        """The message in progress, ended early: what was read plus the reason. Its bytes
        count as undecodable, but for the last `reread` the caller scans again."""
        partial = d.partial
        assert partial is not None
        end = d.raw_start + len(d.raw)
        problems = [*partial.problems, self._problem(d, kind, detail, partial.start)]
        lost = end - partial.start - reread
        if partial.head is None:
            self.accounting.undecodable[d.index] += lost
            src, dst = self._endpoints(d)
            d.partial = None
            return Message(link=Link.C, protocol="http", name="HTTP malformed", ts_ns=d.ts_ns,
                           src=src, dst=dst, fields={"kind": "malformed",
                                                     "length": end - partial.start},
                           refs=d.refs_for(partial.start, end), problems=tuple(problems))
        fields = self._head_fields(d, partial.head)
        fields["body_length"] = partial.body_len
        fields.update(body_fields(bytes(partial.body)))
        fields["incomplete"] = True
        return self._message(d, partial, fields, end, problems, lost)

    def _protocol_error(self, d: _Direction, detail: str) -> list[Message]:
        if d.partial is None:
            d.partial = _Partial(start=d.raw_start)
        if d.closing:
            message = self._broken(d, "http.message.truncated",
                                   f"the connection closed before the message ended ({detail})")
            d.h11 = None
            d.mode = RESYNC
            return [message]
        kind = "http.head.too-large" if "buffer" in detail.lower() else "http.message.malformed"
        message = self._broken(d, kind, f"expected a valid HTTP/1.1 message: {detail}",
                               reread=max(0, len(d.raw) - 1))
        rest = bytes(d.raw[1:])
        rest_start = d.raw_start + 1
        d.h11 = None
        d.mode = RESYNC
        d.scan = bytearray()
        d.scan_start = rest_start
        answered = message.fields.get("exchange", self._hold_exchange)
        out = [message, *self._release_hold()] if d.index == 1 \
            and answered == self._hold_exchange else [message]
        if rest:
            out += self._feed(d, rest_start, rest)
        return out

    def _gap(self, d: _Direction, offset: int, length: int, ts_ns: int,
             frame: int, exact: bool = True) -> list[Message]:
        """Bytes that never arrived (`frame`: where that showed): resynchronise after them.
        Inexact (under TLS: lost records' plaintext size unknown): `length` is at most."""
        out: list[Message] = []
        size = f"{length} bytes" if exact else f"up to {length} bytes"
        if d.mode == SYNC and d.partial is None and d.raw:  # a head cut short by the gap
            d.partial = _Partial(start=d.raw_start)
        if d.mode == SYNC and d.partial is not None and (d.partial.head is not None or d.raw):
            out.append(self._broken(d, "http.stream.gap",
                                    f"{size} missing at stream offset {offset}"))
        elif d.mode in (RESYNC, HOLD, OPAQUE):
            if d.mode == RESYNC and d.scan:
                if not d.skipped:
                    d.skipped_at = d.scan_start
                d.skipped += len(d.scan)
                d.scan.clear()
        if d.mode == OPAQUE:  # the bytes lost were not HTTP, but their loss is reported
            size += f" after {self._switch}"
        out += self._report_skipped(d, "")
        out.append(self._gap_message(d, offset, length, ts_ns, frame, size))
        if d.mode in (SYNC, RESYNC):
            d.mode = RESYNC
            d.h11 = None
            d.partial = None
            d.scan = bytearray()
            d.scan_start = offset + length
        return out

    def _gap_message(self, d: _Direction, offset: int, length: int, ts_ns: int,
                     frame: int, size: str) -> Message:
        src, dst = self._endpoints(d)
        return Message(link=Link.C, protocol="http", name="HTTP gap", ts_ns=ts_ns, src=src,
                       dst=dst, fields={"kind": "gap", "offset": offset, "length": length},
                       problems=(self._problem(d, "http.stream.gap",
                                               f"{size} never captured", offset,
                                               frame),))

    def _report_skipped(self, d: _Direction, why: str) -> list[Message]:
        if not d.skipped:
            return []
        count, at = d.skipped, d.skipped_at
        d.skipped = 0
        self.accounting.undecodable[d.index] += count
        src, dst = self._endpoints(d)
        detail = f"{count} bytes are not part of any HTTP message"
        if d.mode == OPAQUE:
            detail = f"{count} bytes after {self._switch}, not HTTP"
        elif why:
            detail += f" ({why})"
        return [Message(link=Link.C, protocol="http", name="HTTP skipped bytes", ts_ns=d.ts_ns,
                        src=src, dst=dst, fields={"kind": "skipped", "offset": at,
                                                  "length": count},
                        refs=d.refs_for(at, at + count),
                        problems=(self._problem(d, "http.stream.skipped", detail, at),))]


def split_url(url: str) -> SplitResult:
    """`urlsplit` that never raises: a URL it rejects (an unclosed "[" IPv6 host, a bad
    port) is kept whole as the path, so the message still decodes."""
    try:
        return urlsplit(url)
    except ValueError:
        return SplitResult("", "", url, "", "")


def request_name(fields: dict) -> str:
    """A request's Message name: method and path, or CONNECT and its authority."""
    return f"{fields['method']} {fields.get('authority', fields['path'])}"


def split_authority(target: str) -> tuple[str, int | None]:
    """The host and port of an authority-form target (`host:port`, `[v6]:port`); the
    port is None when absent or not a number in 0..65535. Never raises."""
    if target.startswith("["):
        close = target.find("]")
        if close < 0:
            return target, None
        host, rest = target[1:close], target[close + 1:]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, colon, port_text = target.rpartition(":")
        if not colon:
            return target, None
    port = int(port_text) if port_text.isascii() and port_text.isdigit() \
        and len(port_text) <= 5 and int(port_text) <= 65535 else None
    return host, port


def _connect_target_problem(target: str) -> str:
    """Why a CONNECT target is not the `host:port` RFC 9110 §9.3.6 requires, or ""."""
    host, port = split_authority(target)
    if port is None:
        return (f"CONNECT target {target!r} has no valid port (RFC 9110 §9.3.6 requires "
                "host:port); where the tunnel leads is not known")
    if not host:
        return f"CONNECT target {target!r} has no host (RFC 9110 §9.3.6 requires host:port)"
    return ""


def _header(head: h11.Request | h11.Response | h11.InformationalResponse, name: bytes) -> str:
    # raw_items() is one list; iterating `head.headers` goes through the Sequence ABC per item
    values = [v for k, v in head.headers.raw_items() if k.lower() == name]
    return ", ".join(v.decode("latin-1") for v in values)


def _at(problem: Problem, source: str, frame: int) -> Problem:
    return Problem(problem.kind, problem.detail, source=source, frame=frame,
                   offset=problem.offset, where=problem.where)
