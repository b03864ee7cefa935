"""TCP reassembly per connection and direction: segments in, stream events out.

Feed decoded TCP `Packet`s in capture order with `TcpReassembler.feed(packet)`; each
call returns the events that packet caused, in order: `StreamOpen`, `StreamData`
(in-order bytes, with a `ByteRef` per frame chunk), `StreamGap` (bytes that will never
arrive), `StreamClose`, and `Problem`s (conflicting retransmissions). Call
`finish()` at the end of the capture to drain what is still buffered.

Rules, chosen to match what users know from tshark's "follow TCP stream":

* Connections are keyed by source and 4-tuple; the side sending a SYN without ACK is
  the client. A connection already open when the capture starts gets the higher port
  as client (equal ports: the first sender) and `handshake_seen=False`.
* Each direction's stream offset 0 is the byte after the SYN, or the first byte seen.
  Sequence numbers are unwrapped against the next expected offset (wraparound safe).
* Retransmissions and overlaps are resolved once: the first bytes seen for a stream
  offset win. A later copy with different bytes is reported as a
  ``tcp.overlap.conflict`` Problem (checked against buffered segments and the last
  delivered chunk; a one-byte keep-alive probe at the last byte is not a conflict).
* Out-of-order segments wait in a bounded buffer per direction (`max_buffer` bytes,
  `MAX_PENDING_CHUNKS` pieces) for the missing bytes before them. A hole the peer has
  acknowledged will never be filled (the peer got those bytes; only the capture lost
  them, as PLC sniffers do: Wireshark's "ACKed segment that wasn't captured"), so the
  first ACK beyond it declares it at once: a `StreamGap`, then the buffered bytes up to
  the ACK. An ACK beyond everything seen (nothing buffered) is a gap too, declared
  before the acknowledging packet's own bytes, so that a lost response is known before
  the next request; except one byte (the ACK of a FIN not captured) and more than
  `MAX_UNSEEN_ACKED` bytes (a bogus ACK). Otherwise the hole waits until the buffer
  overflows, or FIN/RST, idle timeout or end of capture. Released bytes keep the time of the frame that carried
  them (one `StreamData` per buffered piece), so messages above keep capture order;
  a gap carries the frame (and time) of the first bytes after it.
* A SYN with a new sequence number on a known 4-tuple, or any SYN after the
  connection closed, starts a new connection (port reuse), like tshark's `tcp.stream`.
* Idle connections (no packet for `idle_timeout_ns` of capture time) are closed with
  reason ``"idle-timeout"``; closed ones (FIN both ways, RST) are kept for late
  retransmissions for `closed_timeout_ns` (60 s, like TIME_WAIT), then forgotten. So
  memory is bounded by the open connections; beyond
  `max_connections` tracked at once the least recently active is closed (``"evicted"``).

StreamClose reasons: ``"fin"``, ``"rst"``, ``"idle-timeout"``, ``"evicted"``, ``"reused"``
(a new SYN took over the 4-tuple) and ``"end-of-capture"``.

`feed_frame(frame)` is the steady-state fast path the pipeline tries first: a frame
straight to its event (no Packet) when it is a plain segment of an open connection
carrying the next bytes or none; otherwise None, with nothing changed, and the caller
decodes and calls `feed`. Both give the same events and leave the same state.
"""

from __future__ import annotations

from collections import OrderedDict

from chargescope import backends
from chargescope.analyzer.byteranges import slice_refs
from chargescope.analyzer.net import (
    TCP_ACK,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    Packet,
    ip_text,
    plain_tcp,
)
from chargescope.analyzer.records import (
    ByteRef,
    Connection,
    Endpoint,
    Frame,
    Problem,
    StreamClose,
    StreamData,
    StreamGap,
    StreamOpen,
)

Event = StreamOpen | StreamData | StreamGap | StreamClose | Problem

PLAIN_MASK = TCP_SYN | TCP_FIN | TCP_RST  # flags that change a stream's state
MOD32 = 1 << 32
HALF32 = 1 << 31

DEFAULT_MAX_BUFFER = 4 << 20  # out-of-order bytes held per direction
DEFAULT_IDLE_TIMEOUT_NS = 600 * 1_000_000_000  # ten minutes of capture time
DEFAULT_CLOSED_TIMEOUT_NS = 60 * 1_000_000_000  # closed ones wait for late packets (TIME_WAIT)
DEFAULT_MAX_CONNECTIONS = 100_000  # tracked at once; the least recently active go first
MAX_PENDING_CHUNKS = 1024  # out-of-order pieces per direction (hostile 1-byte segments)
MAX_UNSEEN_ACKED = 65535  # largest acknowledged-but-never-seen tail taken as a capture loss

PROBLEM_KINDS: dict[str, str] = {
    "tcp.overlap.conflict": "retransmitted or overlapping bytes differ (first copy kept)",
    "limit.tcp.buffer": "out-of-order bytes held behind a gap reached the tcp-buffer cap "
                        "(Limits.tcp_buffer); the gap was declared lost",
    "limit.tcp.connections": "connections tracked reached the tcp-connections cap "
                             "(Limits.tcp_connections); the least recently active was closed",
}


class _Chunk:
    """Bytes waiting in the out-of-order buffer, with where they came from."""

    __slots__ = ("start", "data", "ref", "ts_ns")

    def __init__(self, start: int, data: bytes, ref: ByteRef, ts_ns: int) -> None:
        self.start = start
        self.data = data
        self.ref = ref
        self.ts_ns = ts_ns


class _Half:
    """One direction of a connection."""

    __slots__ = ("isn", "base", "next", "pending", "pending_bytes", "fin_at", "closed",
                 "last_start", "last_data")

    def __init__(self) -> None:
        self.isn: int | None = None  # SYN's sequence number, or the first one seen
        self.base: int | None = None  # sequence number of stream offset 0
        self.next = 0  # next stream offset expected
        self.pending: list[_Chunk] = []  # sorted, non-overlapping, all beyond `next`
        self.pending_bytes = 0
        self.fin_at: int | None = None  # stream offset of the FIN
        self.closed = False
        self.last_start = 0  # the last delivered chunk, to spot conflicting retransmissions
        self.last_data = b""


class _Conn:
    __slots__ = ("conn", "halves", "client_key", "server_key", "last_ts", "last_frame",
                 "finished")

    def __init__(self, conn: Connection, client_key: tuple, server_key: tuple,
                 ts_ns: int) -> None:
        self.conn = conn
        self.halves = (_Half(), _Half())
        self.client_key = client_key  # (source, addresses, ports) as the client sends
        self.server_key = server_key  # the same as the server sends
        self.last_ts = ts_ns
        self.last_frame = 0  # number of the last frame seen, for gaps found at the end
        self.finished = False  # both FINs delivered, or RST: late packets are ignored


def _addresses(packet: Packet) -> bytes:
    """Source then destination address, as one slice of the IP header."""
    l3 = packet.l3_offset
    if packet.ip_version == 4:
        return packet.frame.data[l3 + 12:l3 + 20]
    return packet.frame.data[l3 + 8:l3 + 40]


class TcpReassembler:
    """Turns TCP Packets into stream events; one instance per pipeline run."""

    def __init__(self, *, max_buffer: int = DEFAULT_MAX_BUFFER,
                 idle_timeout_ns: int = DEFAULT_IDLE_TIMEOUT_NS,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 closed_timeout_ns: int = DEFAULT_CLOSED_TIMEOUT_NS) -> None:
        self.max_buffer = max_buffer
        self.idle_timeout_ns = idle_timeout_ns
        self.max_connections = max_connections
        self.closed_timeout_ns = min(closed_timeout_ns, idle_timeout_ns)
        build = backends.load("recordbuild").builder  # fast record constructors
        self._byteref = build(ByteRef)
        self._streamdata = build(StreamData)
        # key: (source, client address + server address, client port, server port)
        self._conns: OrderedDict[tuple, _Conn] = OrderedDict()  # least recently active first
        self._lookup: dict[tuple, tuple[_Conn, int]] = {}  # either side's key -> direction
        self._tail: _Conn | None = None  # known to be last in `_conns` (None: not known)
        self._next_index = 0
        # idle connections are looked for every 1/16 of the timeout of capture time
        self._expiry_step = max(1, self.closed_timeout_ns // 16)
        self._next_expiry = -(1 << 62)

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def connection_of(self, packet: Packet) -> Connection | None:
        """The connection a TCP packet belongs to (after `feed`), like tcp.stream."""
        addrs = _addresses(packet)
        source = packet.frame.source
        entry = self._lookup.get((source, addrs, packet.sport, packet.dport))
        return entry[0].conn if entry else None

    def feed(self, packet: Packet, origin: tuple[ByteRef, ...] = ()) -> list[Event]:
        """The events one decoded TCP packet causes (empty for pure ACKs and old data).

        `origin` is given for a datagram rebuilt from IP fragments: it maps the IP
        payload to the fragments' frames, so that byte references point there.
        """
        events: list[Event] = []
        frame = packet.frame
        ts = frame.ts_ns
        if ts >= self._next_expiry:
            self._next_expiry = ts + self._expiry_step
            self._expire(ts, events)
        addrs = _addresses(packet)
        source = frame.source
        key = (source, addrs, packet.sport, packet.dport)
        flags = packet.tcp_flags
        syn = flags & TCP_SYN
        entry = self._lookup.get(key)
        if entry is not None:
            state, direction = entry
        else:
            state = None
            direction = 0
        if state is not None and syn and not flags & TCP_ACK:
            # a SYN on a known 4-tuple: a retransmission when it repeats the first sequence
            # number seen in its direction, else port reuse (tshark's tcp.stream rule)
            isn = state.halves[direction].isn
            if isn is not None and isn != packet.tcp_seq:
                if not state.finished:
                    self._close(state, -1, "reused", ts, events)
                self._forget(state)
                state = None
        if state is None:
            state, direction = self._open(packet, key, addrs, events)
        elif state is not self._tail:
            self._conns.move_to_end(state.client_key)
            self._tail = state
        state.last_ts = ts
        state.last_frame = frame.number
        if state.finished:
            return events
        if flags & TCP_ACK and not flags & TCP_RST and state.halves[direction].base is not None:
            # bytes the peer has, seen or not (not from a side's first packet: an ACK
            # answering a SYN may belong to an older connection on the same ports)
            self._acked(state, 1 - direction, state.halves[1 - direction], packet.tcp_ack,
                        frame.number, ts, events)
        half = state.halves[direction]
        if not packet.payload_length and flags & PLAIN_MASK == 0 and half.base is not None:
            return events  # a bare ACK on a known direction: nothing to reassemble
        seq = packet.tcp_seq
        if half.isn is None:
            half.isn = seq
        if syn:
            if half.base is None:
                half.base = (seq + 1) % MOD32
            seq = (seq + 1) % MOD32
        length = packet.payload_length
        if half.base is None:
            half.base = seq
        rel32 = (seq - half.base) % MOD32
        diff = (rel32 - half.next % MOD32) % MOD32
        if diff >= HALF32:
            diff -= MOD32
        start = half.next + diff
        if length:
            data = frame.data[packet.payload_offset:packet.payload_offset + length]
            if origin:
                skip = packet.payload_offset - packet.l4_offset  # TCP header, in IP payload
                at = start
                for ref in slice_refs(origin, skip, length):
                    piece = data[at - start:at - start + ref.length]
                    self._segment(state, direction, half, at, piece, ref, ts, events)
                    at += ref.length
            else:
                ref = self._byteref(source, frame.number, packet.payload_offset, length)
                self._segment(state, direction, half, start, data, ref, ts, events)
        if flags & TCP_FIN and half.fin_at is None:
            half.fin_at = start + length
        if flags & TCP_RST:
            self._reset(state, direction, ts, events)
            return events
        if half.fin_at is not None and not half.closed:
            if half.next >= half.fin_at:
                half.closed = True
                events.append(StreamClose(state.conn, direction, ts, "fin"))
                if state.halves[1 - direction].closed:
                    state.finished = True
        return events

    def feed_frame(self, frame: Frame) -> tuple[int, StreamData | None] | None:
        """The steady-state fast path: a frame straight to its stream event, no Packet.

        Takes a frame only when it is a plain TCP segment (`net.plain_tcp`: a decode would
        find a whole, unfragmented segment) with no SYN/FIN/RST of a known, open
        connection whose direction is under way, carrying either no bytes or the next
        in-order bytes with nothing buffered, and acknowledging nothing unseen; and only
        between idle checks. Then it does what `feed(decode(frame))` would and returns
        `(ip_version, event)`: the StreamData, or None for a bare ACK or an old
        acknowledgement. Anything else returns None *before any state is touched*, and
        the caller takes the general path (`decode` + `feed`): same events, same state.
        """
        ts = frame.ts_ns
        if ts >= self._next_expiry:
            return None
        shape = plain_tcp(frame)
        if shape is None:
            return None
        version, l3, l4, offset, length = shape
        data = frame.data
        flags = data[l4 + 13]
        if flags & PLAIN_MASK:
            return None
        addrs = data[l3 + 12:l3 + 20] if version == 4 else data[l3 + 8:l3 + 40]
        entry = self._lookup.get((frame.source, addrs, (data[l4] << 8) | data[l4 + 1],
                                  (data[l4 + 2] << 8) | data[l4 + 3]))
        if entry is None:
            return None
        state, direction = entry
        half = state.halves[direction]
        if state.finished or half.base is None:
            return None
        if flags & TCP_ACK:
            other = state.halves[1 - direction]
            if other.base is not None:
                ack = int.from_bytes(data[l4 + 8:l4 + 12])
                if 1 < ((ack - other.base) % MOD32 - other.next % MOD32) % MOD32 < HALF32:
                    return None  # acknowledges bytes not seen: `_acked` has work to do
        if length:
            if half.pending or half.fin_at is not None:
                return None
            seq = int.from_bytes(data[l4 + 4:l4 + 8])
            if ((seq - half.base) % MOD32 - half.next % MOD32) % MOD32:
                return None  # not the next byte expected (old, overlapping or ahead)
        # the steady state: from here on, what `feed` does for it
        if state is not self._tail:
            self._conns.move_to_end(state.client_key)
            self._tail = state
        state.last_ts = ts
        state.last_frame = frame.number
        if not length:
            return version, None
        payload = data[offset:offset + length]
        start = half.next
        half.next = start + length
        half.last_start = start
        half.last_data = payload
        return version, self._streamdata(
            state.conn, direction, start, payload, ts,
            (self._byteref(frame.source, frame.number, offset, length),))

    def finish(self, ts_ns: int | None = None) -> list[Event]:
        """End of capture: gaps for missing bytes, then close every open connection."""
        events: list[Event] = []
        for state in self._conns.values():
            if not state.finished:
                self._close(state, -1, "end-of-capture",
                            state.last_ts if ts_ns is None else ts_ns, events)
        self._conns.clear()
        self._lookup.clear()
        self._tail = None
        return events

    # -- internals ---------------------------------------------------------------------

    def _open(self, packet: Packet, key: tuple, addrs: bytes, events: list[Event]
              ) -> tuple[_Conn, int]:
        half = len(addrs) >> 1
        src, dst = addrs[:half], addrs[half:]
        rkey = (key[0], dst + src, packet.dport, packet.sport)
        flags = packet.tcp_flags
        source = packet.frame.source
        handshake = bool(flags & TCP_SYN)
        if handshake:
            # SYN: sender is the client; SYN+ACK without SYN seen: receiver is the client
            client_is_sender = not flags & TCP_ACK
        else:
            client_is_sender = packet.sport >= packet.dport
        if client_is_sender:
            ckey, direction = key, 0
            client = Endpoint(ip_text(src), packet.sport)
            server = Endpoint(ip_text(dst), packet.dport)
        else:
            ckey, direction = rkey, 1
            client = Endpoint(ip_text(dst), packet.dport)
            server = Endpoint(ip_text(src), packet.sport)
        conn = Connection(self._next_index, client, server, source)
        self._next_index += 1
        state = _Conn(conn, ckey, rkey if ckey is key else key, packet.frame.ts_ns)
        if len(self._conns) >= self.max_connections:  # e.g. a SYN scan: evict the stalest
            old = next(iter(self._conns.values()))
            events.append(connection_cap_problem(old.conn, conn, self.max_connections,
                                                 packet.frame))
            self._forget(old)
            if not old.finished:
                self._close(old, -1, "evicted", packet.frame.ts_ns, events)
        self._conns[ckey] = state
        self._tail = state
        self._lookup[ckey] = (state, 0)
        self._lookup[state.server_key] = (state, 1)
        events.append(StreamOpen(conn, packet.frame.ts_ns, handshake))
        return state, direction

    def _segment(self, state: _Conn, direction: int, half: _Half, start: int, data: bytes,
                 ref: ByteRef, ts: int, events: list[Event]) -> None:
        end = start + len(data)
        if end <= half.next:
            # a keep-alive repeats the last byte, often as garbage: not a conflict
            if not (len(data) == 1 and end == half.next):
                self._check_delivered(state, direction, half, start, data, ref, events)
            return
        if start > half.next:
            self._buffer(state, direction, half, start, data, ref, ts, events)
            if half.pending_bytes > self.max_buffer or len(half.pending) > MAX_PENDING_CHUNKS:
                events.append(buffer_cap_problem(state.conn, direction, half.next,
                                                 half.pending_bytes, len(half.pending),
                                                 self.max_buffer, ref))
                self._skip_to_pending(state, direction, half, events)
            return
        if start < half.next:
            self._check_delivered(state, direction, half, start, data, ref, events)
            cut = half.next - start
            data = data[cut:]
            ref = self._byteref(ref.source, ref.frame, ref.start + cut, ref.length - cut)
            start = half.next
        self._deliver(state, direction, half, start, data, (ref,), ts, events)

    def _deliver(self, state: _Conn, direction: int, half: _Half, start: int, data: bytes,
                 refs: tuple[ByteRef, ...], ts: int, events: list[Event]) -> None:
        """Emit in-order bytes starting at half.next, plus buffered bytes they unlock."""
        pending = half.pending
        if pending and pending[0].start <= start + len(data):
            parts = [data]
            ref_list = list(refs)
            end = start + len(data)
            while pending and pending[0].start <= end:
                chunk = pending.pop(0)
                half.pending_bytes -= len(chunk.data)
                skip = end - chunk.start
                if skip >= len(chunk.data):
                    continue
                piece = chunk.data[skip:] if skip else chunk.data
                parts.append(piece)
                r = chunk.ref
                ref_list.append(ByteRef(r.source, r.frame, r.start + skip, r.length - skip)
                                if skip else r)
                end += len(piece)
            data = b"".join(parts)
            refs = tuple(ref_list)
        half.next = start + len(data)
        half.last_start = start
        half.last_data = data
        events.append(self._streamdata(state.conn, direction, start, data, ts, refs))

    def _buffer(self, state: _Conn, direction: int, half: _Half, start: int, data: bytes,
                ref: ByteRef, ts: int, events: list[Event]) -> None:
        """Keep the parts of an out-of-order segment not already buffered (first seen wins)."""
        end = start + len(data)
        pending = half.pending
        pieces: list[_Chunk] = []
        cur = start
        for chunk in pending:
            c_end = chunk.start + len(chunk.data)
            if c_end <= cur:
                continue
            if chunk.start >= end:
                break
            if chunk.start > cur:
                pieces.append(_piece(cur, chunk.start, start, data, ref, ts))
            lo = max(cur, chunk.start)
            hi = min(end, c_end)
            if data[lo - start:hi - start] != chunk.data[lo - chunk.start:hi - chunk.start]:
                events.append(_conflict(state, direction, lo, hi - lo, ref))
            cur = max(cur, c_end)
            if cur >= end:
                break
        if cur < end:
            pieces.append(_piece(cur, end, start, data, ref, ts))
        for piece in pieces:
            half.pending_bytes += len(piece.data)
            pending.append(piece)
        if pieces:
            pending.sort(key=_chunk_start)

    def _check_delivered(self, state: _Conn, direction: int, half: _Half, start: int,
                         data: bytes, ref: ByteRef, events: list[Event]) -> None:
        """Compare a retransmission with the last delivered chunk where they overlap."""
        last_end = half.last_start + len(half.last_data)
        lo = max(start, half.last_start)
        hi = min(start + len(data), last_end)
        if lo < hi and (data[lo - start:hi - start]
                        != half.last_data[lo - half.last_start:hi - half.last_start]):
            events.append(_conflict(state, direction, lo, hi - lo, ref))

    def _acked(self, state: _Conn, direction: int, half: _Half, ack: int, frame: int,
               ts: int, events: list[Event]) -> None:
        """The peer acknowledged bytes up to `ack`: holes before it are capture losses."""
        if half.base is None:
            return
        diff = ((ack - half.base) % MOD32 - half.next % MOD32) % MOD32
        if diff <= 1 or diff >= HALF32:  # nothing unseen acknowledged (or an older ACK)
            return
        upto = half.next + diff
        if half.pending and half.pending[0].start < upto:
            self._release(state, direction, half, upto, events)
        if half.fin_at is not None:
            upto = min(upto, half.fin_at)  # the FIN takes a sequence number, not a byte
        elif upto - half.next == 1:
            return  # as likely the ACK of a FIN the capture lost as one lost byte
        unseen = upto - half.next
        if 0 < unseen <= MAX_UNSEEN_ACKED:
            events.append(StreamGap(state.conn, direction, half.next, unseen, ts, frame))
            half.next = upto
            if half.pending:  # now contiguous with the gap
                self._release(state, direction, half, upto, events)

    def _release(self, state: _Conn, direction: int, half: _Half, upto: int,
                 events: list[Event]) -> None:
        """Deliver the buffered pieces starting before `upto`, and the ones contiguous
        with them, each with its own frame time; a gap before each hole."""
        pending = half.pending
        while pending and (pending[0].start < upto or pending[0].start == half.next):
            chunk = pending.pop(0)
            data = chunk.data
            half.pending_bytes -= len(data)
            start = chunk.start
            if start > half.next:
                events.append(StreamGap(state.conn, direction, half.next, start - half.next,
                                        chunk.ts_ns, chunk.ref.frame))
            half.next = start + len(data)
            half.last_start = start
            half.last_data = data
            events.append(self._streamdata(state.conn, direction, start, data, chunk.ts_ns,
                                           (chunk.ref,)))

    def _skip_to_pending(self, state: _Conn, direction: int, half: _Half,
                         events: list[Event]) -> None:
        """Give up on the missing bytes before the first buffered chunk: gap, then deliver."""
        while half.pending and (half.pending_bytes > self.max_buffer
                                or len(half.pending) > MAX_PENDING_CHUNKS):
            self._release(state, direction, half, half.pending[0].start + 1, events)

    def _drain(self, state: _Conn, direction: int, ts: int, events: list[Event]) -> None:
        """Deliver everything buffered, with gaps where bytes are missing (and up to FIN)."""
        half = state.halves[direction]
        if half.pending:
            self._release(state, direction, half, half.pending[-1].start + 1, events)
        if half.fin_at is not None and half.fin_at > half.next:
            events.append(StreamGap(state.conn, direction, half.next, half.fin_at - half.next,
                                    ts, state.last_frame))
            half.next = half.fin_at

    def _reset(self, state: _Conn, direction: int, ts: int, events: list[Event]) -> None:
        for d in (0, 1):
            self._drain(state, d, ts, events)
        state.finished = True
        events.append(StreamClose(state.conn, direction, ts, "rst"))

    def _close(self, state: _Conn, direction: int, reason: str, ts: int,
               events: list[Event]) -> None:
        for d in (0, 1):
            half = state.halves[d]
            self._drain(state, d, ts, events)
            if half.fin_at is not None and not half.closed:
                half.closed = True
                events.append(StreamClose(state.conn, d, ts, "fin"))
        state.finished = True
        if not (state.halves[0].closed and state.halves[1].closed):
            events.append(StreamClose(state.conn, direction, ts, reason))

    def _forget(self, state: _Conn) -> None:
        if state is self._tail:
            self._tail = None
        del self._conns[state.client_key]
        del self._lookup[state.client_key]
        del self._lookup[state.server_key]

    def _expire(self, now: int, events: list[Event]) -> None:
        """Forget closed connections quiet for `closed_timeout_ns`, close idle open ones."""
        idle_limit = now - self.idle_timeout_ns
        closed_limit = now - self.closed_timeout_ns
        stale = []
        for state in self._conns.values():  # least recently active first
            if state.last_ts >= closed_limit:
                break
            if state.finished or state.last_ts < idle_limit:
                stale.append(state)
        for state in stale:
            self._forget(state)
            if not state.finished:
                self._close(state, -1, "idle-timeout", now, events)


def _chunk_start(chunk: _Chunk) -> int:
    return chunk.start


def _piece(lo: int, hi: int, start: int, data: bytes, ref: ByteRef, ts: int) -> _Chunk:
    skip = lo - start
    return _Chunk(lo, data[skip:hi - start],
                  ByteRef(ref.source, ref.frame, ref.start + skip, hi - lo), ts)


def buffer_cap_problem(conn: Connection, direction: int, offset: int, held: int, pieces: int,
                       cap: int, ref: ByteRef) -> Problem:
    """The tcp-buffer cap was hit (shared by both twins: same text, same fields)."""
    side = "client" if direction == 0 else "server"
    what = (f"{held} bytes held, over the tcp-buffer cap of {cap}" if held > cap else
            f"{pieces} pieces held, over {MAX_PENDING_CHUNKS}")
    return Problem("limit.tcp.buffer",
                   f"TCP stream {conn.index} {side}: out-of-order data waiting behind the gap "
                   f"at stream offset {offset}: {what}; the missing bytes are reported as a "
                   "gap and the held bytes delivered", ref.source, ref.frame, offset, "stream")


def connection_cap_problem(old: Connection, new: Connection, cap: int, frame) -> Problem:
    """The tcp-connections cap was hit: `old` is closed ("evicted") to track `new`."""
    return Problem("limit.tcp.connections",
                   f"{cap} TCP connections tracked (tcp-connections cap): TCP stream "
                   f"{old.index} ({old.client} -> {old.server}), the least recently active, "
                   f"is closed to track TCP stream {new.index}", frame.source, frame.number,
                   0, "frame")


def _conflict(state: _Conn, direction: int, offset: int, length: int, ref: ByteRef) -> Problem:
    side = "client" if direction == 0 else "server"
    return Problem("tcp.overlap.conflict",
                   f"TCP stream {state.conn.index} {side} bytes {offset}..{offset + length} "
                   f"retransmitted with different content; first copy kept",
                   ref.source, ref.frame, offset, "stream")


