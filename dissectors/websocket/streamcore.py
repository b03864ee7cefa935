"""Pure-Python twin of hot path "wsstream" (`ext/_wsstream.pyx`): the hot state of a
WebSocket connection and its steady-state `on_data`.

`WebSocketStream` (stream.py) is `_GeneralPath` over `StreamCore`: the core owns the two
`Direction`s and the few attributes the per-segment work reads, and answers `on_data`
itself for the common segment (frames mode, nothing buffered, in order, one frame
reference, no fragment, skip or unconfirmed resync): the whole unfragmented data frames at
its start are unmasked and handed on straight from the segment, each to the payload
handler's fast entry `deliver` when it has one. Anything else goes to the general path
(`_on_data_general`) before any state is touched; a segment whose tail is not a whole
frame goes on in `_on_data_rest`. Same Messages either way: the tests compare them.

The mode enum, the offset map and WsMessageInfo live here (the extension imports them:
one definition for both implementations).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

from chargescope import backends
from chargescope.analyzer.byteranges import refs_between
from chargescope.analyzer.records import ByteRef, Connection, Message, Problem, StreamData

_new_ref = backends.load("recordbuild").builder(ByteRef)  # ByteRef(...), slots filled directly
_split_data_frames = backends.load("wsframes").split_data_frames
_OP_TEXT = 0x1


class Mode(enum.Enum):
    HANDSHAKE = "handshake"
    FRAMES = "frames"
    HUNT = "hunt"
    OPAQUE = "opaque"  # not WebSocket (e.g. after an HTTP 401): counted, reported


# plain module names for the per-event checks (an Enum member lookup costs ~0.1 us)
_FRAMES = Mode.FRAMES


class WsMessageInfo(NamedTuple):
    """Everything a payload handler needs besides the payload itself.

    Immutable like a record, but a tuple: it is built once per message on the hot
    path and a frozen dataclass's ten field assignments would double its cost."""

    conn: Connection
    direction: int  # 0 client -> server (charge point -> CSMS for OCPP-J), 1 back
    ts_ns: int
    src: str
    dst: str
    refs: tuple[ByteRef, ...]
    subprotocol: str  # "" when the handshake was not seen
    charge_point_id: str
    websocket: dict  # opcode, fragments, compressed, sizes
    problems: tuple[Problem, ...]


PayloadHandler = Callable[[bytes, WsMessageInfo], Message]
# WsMessageInfo from one tuple, skipping the generated __new__ (once per message)
new_info = partial(tuple.__new__, WsMessageInfo)


def coalesce(refs: Sequence[ByteRef]) -> tuple[ByteRef, ...]:
    """Adjacent ranges of the same frame merged: one range per frame piece, however fed."""
    out: list[ByteRef] = []
    for ref in refs:
        if out:
            last = out[-1]
            if (last.source == ref.source and last.frame == ref.frame
                    and last.start + last.length == ref.start):
                out[-1] = ByteRef(last.source, last.frame, last.start, last.length + ref.length)
                continue
        out.append(ref)
    return tuple(out)


class RefMap:
    """Maps stream offsets of buffered bytes back to frame byte ranges."""

    __slots__ = ("_spans",)

    def __init__(self) -> None:
        self._spans: list[tuple[int, ByteRef]] = []

    def add(self, offset: int, refs: Sequence[ByteRef]) -> None:
        for ref in refs:
            self._spans.append((offset, ref))
            offset += ref.length

    def slice(self, start: int, end: int) -> tuple[ByteRef, ...]:
        return coalesce(list(refs_between(self._spans, start, end)))

    def drop_before(self, offset: int) -> None:
        spans = self._spans
        i = 0
        while i < len(spans) and spans[i][0] + spans[i][1].length <= offset:
            i += 1
        if i:
            del spans[:i]


class Direction:
    """One direction's state: buffered bytes, mode, fragment, inflater, byte books."""

    __slots__ = ("buf", "base", "mode", "frag", "skip", "refs", "inflater", "window_lost",
                 "tentative", "hunt_from", "consumed", "undecodable")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.base = 0  # stream offset of buf[0]
        self.mode = Mode.HANDSHAKE
        self.frag: Any = None  # the fragmented message being reassembled
        self.skip = 0  # payload bytes of an oversized frame still to discard
        self.refs = RefMap()
        self.inflater: Any = None
        self.window_lost = False
        self.tentative = False  # just resynchronised: the boundary is not yet confirmed
        self.hunt_from = 0  # where the next hunt starts (1 after a false boundary)
        self.consumed = 0  # bytes made Messages of (analyzer/accounting.py)
        self.undecodable = 0  # bytes skipped, cut short or left unparsed, reported

    def consume(self, n: int, lost: bool = False) -> None:
        del self.buf[:n]
        self.base += n
        self.refs.drop_before(self.base)
        if lost:
            self.undecodable += n
        else:
            self.consumed += n


class StreamCore:
    """The hot state of one WebSocket connection and its steady-state `on_data`.

    Subclasses provide the general path: `_on_data_general(event)`, `_on_data_rest(event,
    used, out)` and `_deliver(...)` (see stream.py). The other attributes here are set by
    the subclass (`_cap` from the options, `_handler` once chosen, ...).
    """

    def __init__(self) -> None:
        self._dirs = (Direction(), Direction())
        self._closed: set[int] = set()  # directions that sent FIN/RST
        self._handler: Any = None
        self._cap = 0  # the per-message size cap
        self.conn: Any = None
        self._ends: tuple[str, str] = ("", "")
        self._ends_back: tuple[str, str] = ("", "")  # (src, dst) of server -> client
        self.subprotocol = ""
        self.charge_point_id = ""

    def on_data(self, event: StreamData) -> list[Message]:
        direction = event.direction
        d = self._dirs[direction]
        if (d.buf or d.mode is not _FRAMES or d.frag is not None or d.skip or d.tentative
                or len(event.refs) != 1 or event.offset != d.base or direction in self._closed):
            return self._on_data_general(event)
        out: list[Message] = []
        used = self._whole_frames(event, out)
        d.consumed += used
        if used == len(event.data):
            return out
        return self._on_data_rest(event, used, out)

    def _whole_frames(self, event: StreamData, out: list[Message]) -> int:
        """Decode the unfragmented, well-formed data frames at the start of `event.data`
        straight from it, without buffering; returns the bytes used. The first frame that
        is partial, fragmented, control or faulty stops it, and the general path takes
        over from there (same Messages either way). The split is hot path "wsframes"."""
        direction = event.direction
        d = self._dirs[direction]
        frames, used = _split_data_frames(event.data, 0, direction == 0, d.inflater is not None,
                                          self._cap)
        if frames:
            ref = event.refs[0]
            source, frame, at = ref.source, ref.frame, ref.start
            base, ts_ns = d.base, event.ts_ns
            src, dst = self._ends if direction == 0 else self._ends_back
            for opcode, rsv1, start, end, payload in frames:
                refs = (_new_ref(source, frame, at + start, end - start),)
                handler = self._handler
                if handler is None or rsv1 or (opcode == _OP_TEXT and not payload.isascii()):
                    out.append(self._deliver(direction, opcode, rsv1, payload, 1, len(payload),
                                             [], base + start, ts_ns, refs))
                    continue
                # `_deliver` written out for its common case: an uncompressed message,
                # ASCII if text (so valid UTF-8), to the connection's payload handler
                websocket = {"opcode": opcode, "fragments": 1, "compressed": False,
                             "wire_size": len(payload)}
                deliver = getattr(handler, "deliver", None)
                if deliver is not None:
                    out.append(deliver(payload, direction, ts_ns, src, dst, refs,
                                       self.subprotocol, self.charge_point_id, websocket))
                else:
                    out.append(handler(payload, new_info((
                        self.conn, direction, ts_ns, src, dst, refs, self.subprotocol,
                        self.charge_point_id, websocket, ()))))
        d.base += used
        return used
