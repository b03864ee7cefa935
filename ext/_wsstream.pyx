# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython hot path "wsstream": a WebSocket connection's hot state and steady-state on_data.

Twin of `chargescope.dissectors.websocket.streamcore` (same classes, same Messages, same
decisions to hand over to the general path; see there). Here the state is C fields, and
the common segment is read, split, unmasked and handed on in one call: no list of frame
tuples, no interpreted frame per segment, and for a handler with a fast entry (`deliver`,
OCPP's) no WsMessageInfo.
"""

from cpython.bytearray cimport PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_GET_SIZE

from chargescope import backends
from chargescope.analyzer.records import ByteRef, StreamData
# one definition of these for both implementations (the twin module is plain Python)
from chargescope.dissectors.websocket.streamcore import Mode, RefMap, new_info

include "_wsframe.pxi"
include "_records.pxi"

_new_ref = backends.load("recordbuild").builder(ByteRef)  # ByteRef(...), slots filled directly
cdef object _FRAMES = Mode.FRAMES
cdef object _HANDSHAKE = Mode.HANDSHAKE
# the websocket dict of a whole uncompressed text message (copied, then two values set)
cdef dict _WEBSOCKET = {"opcode": 1, "fragments": 1, "compressed": False, "wire_size": 0}

# slot offsets of the records read and built per segment (all 0: read as attributes)
cdef Py_ssize_t _SD[6]
if not _plain_record(StreamData, ("conn", "direction", "offset", "data", "ts_ns", "refs"), _SD):
    _SD[:] = [0, 0, 0, 0, 0, 0]
cdef Py_ssize_t _BR[4]
cdef bint _BR_OK = _plain_record(ByteRef, ("source", "frame", "start", "length"), _BR)


cdef inline object _field(object record, Py_ssize_t offset, str name):
    """A record's field, through its slot when its offset is known."""
    return _slot(record, offset) if offset else getattr(record, name)


cdef inline object _byte_ref(source, frame, start, length):
    """ByteRef(source, frame, start, length), its slots filled directly."""
    if not _BR_OK:
        return _new_ref(source, frame, start, length)
    ref = PyType_GenericAlloc(ByteRef, 0)
    _fill(ref, _BR[0], source)
    _fill(ref, _BR[1], frame)
    _fill(ref, _BR[2], start)
    _fill(ref, _BR[3], length)
    return ref


cdef inline bint _ascii(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """bytes.isascii() over `n` bytes at `p`, eight at a time."""
    cdef uint64_t acc = 0, word
    cdef Py_ssize_t i = 0
    while i + 8 <= n:
        memcpy(&word, &p[i], 8)
        acc |= word
        i += 8
    while i < n:
        acc |= p[i]
        i += 1
    return (acc & 0x8080808080808080ULL) == 0


cdef class Direction:
    """One direction's state: buffered bytes, mode, fragment, inflater, byte books."""

    cdef public bytearray buf
    cdef public long long base  # stream offset of buf[0]
    cdef public object mode
    cdef public object frag  # the fragmented message being reassembled
    cdef public object skip  # payload bytes of an oversized frame still to discard
    cdef public object refs
    cdef public object inflater
    cdef public bint window_lost
    cdef public bint tentative  # just resynchronised: the boundary is not yet confirmed
    cdef public object hunt_from  # where the next hunt starts (1 after a false boundary)
    cdef public long long consumed  # bytes made Messages of (analyzer/accounting.py)
    cdef public long long undecodable  # bytes skipped, cut short or left unparsed, reported

    def __init__(self):
        self.buf = bytearray()
        self.base = 0
        self.mode = _HANDSHAKE
        self.frag = None
        self.skip = 0
        self.refs = RefMap()
        self.inflater = None
        self.window_lost = False
        self.tentative = False
        self.hunt_from = 0
        self.consumed = 0
        self.undecodable = 0

    def consume(self, n, lost=False):
        del self.buf[:n]
        self.base += n
        self.refs.drop_before(self.base)
        if lost:
            self.undecodable += n
        else:
            self.consumed += n


cdef class StreamCore:
    """The hot state of one WebSocket connection and its steady-state `on_data`.

    Subclasses provide the general path: `_on_data_general(event)`, `_on_data_rest(event,
    used, out)` and `_deliver(...)` (see stream.py).
    """

    cdef public tuple _dirs
    cdef public set _closed
    cdef public object _handler
    cdef public Py_ssize_t _cap
    cdef public object conn
    cdef public tuple _ends, _ends_back
    cdef public object subprotocol, charge_point_id
    cdef object _entry_of, _entry  # the handler whose `deliver` is cached, and it

    def __init__(self):
        self._dirs = (Direction(), Direction())
        self._closed = set()
        self._handler = None
        self._cap = 0
        self.conn = None
        self._ends = ("", "")
        self._ends_back = ("", "")
        self.subprotocol = ""
        self.charge_point_id = ""

    def on_data(self, event):
        if type(event) is not StreamData:
            return self._on_data_general(event)
        direction_value = _field(event, _SD[1], "direction")
        if not (direction_value == 0 or direction_value == 1):
            return self._on_data_general(event)  # what it makes of it, as the twin's
        cdef int direction = direction_value
        cdef Direction d = <Direction> self._dirs[direction]
        data = _field(event, _SD[3], "data")
        refs = _field(event, _SD[5], "refs")
        if (PyByteArray_GET_SIZE(d.buf) or d.mode is not _FRAMES or d.frag is not None
                or d.skip or d.tentative or type(refs) is not tuple or len(<tuple> refs) != 1
                or type(data) is not bytes or _field(event, _SD[2], "offset") != d.base
                or direction in self._closed):
            return self._on_data_general(event)
        cdef list out = []
        cdef Py_ssize_t used = self._frames(direction, d, <bytes> data, (<tuple> refs)[0],
                                            _field(event, _SD[4], "ts_ns"), out)
        d.consumed += used
        if used == PyBytes_GET_SIZE(data):
            return out
        return self._on_data_rest(event, used, out)

    def _whole_frames(self, event, list out):
        """The twin's `_whole_frames` (the general path calls it): returns the bytes used."""
        direction = event.direction
        d = self._dirs[direction]  # indexed as the twin does (-1 is the last)
        return self._frames(direction, <Direction?> d, bytes(event.data), event.refs[0],
                            event.ts_ns, out)

    cdef Py_ssize_t _frames(self, int direction, Direction d, bytes data, ref, ts_ns,
                            list out) except -1:
        """Decode the whole unfragmented data frames at the start of `data` (one frame
        reference `ref`) into `out`; returns the bytes used (the twin's _whole_frames)."""
        cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
        cdef const unsigned char* buf = <const unsigned char*> PyBytes_AS_STRING(data)
        cdef Py_ssize_t pos = 0, end, head = 0, size
        cdef bint from_client = direction == 0
        cdef bint deflate_on = d.inflater is not None
        cdef int opcode
        cdef bint rsv1
        end = _whole_data_frame(buf, 0, n, from_client, deflate_on, self._cap, &head)
        if end < 0:
            return 0
        if type(ref) is ByteRef and _BR_OK:
            source, frame, at = _slot(ref, _BR[0]), _slot(ref, _BR[1]), _slot(ref, _BR[2])
        else:
            source, frame, at = ref.source, ref.frame, ref.start
        cdef long long base = d.base
        src, dst = self._ends if direction == 0 else self._ends_back
        while end >= 0:
            opcode = buf[pos] & 0x0F
            rsv1 = (buf[pos] & 0x40) != 0
            size = end - pos - head
            payload = _payload(buf + pos + head, size,
                               buf + pos + head - 4 if buf[pos + 1] & 0x80 else NULL)
            refs = (_byte_ref(source, frame, at + pos, end - pos),)
            handler = self._handler
            if handler is None or rsv1 or (opcode == 0x1 and not _ascii(
                    <const unsigned char*> PyBytes_AS_STRING(payload), size)):
                out.append(self._deliver(direction, opcode, rsv1, payload, 1, size, [],
                                         base + pos, ts_ns, refs))
            else:
                # `_deliver` written out for its common case: an uncompressed message,
                # ASCII if text (so valid UTF-8), to the connection's payload handler
                websocket = _WEBSOCKET.copy()
                if opcode != 0x1:
                    websocket["opcode"] = opcode
                websocket["wire_size"] = size
                if handler is not self._entry_of:
                    self._entry = getattr(handler, "deliver", None)
                    self._entry_of = handler
                if self._entry is not None:
                    out.append(self._entry(payload, direction, ts_ns, src, dst, refs,
                                           self.subprotocol, self.charge_point_id, websocket))
                else:
                    out.append(handler(payload, new_info((
                        self.conn, direction, ts_ns, src, dst, refs, self.subprotocol,
                        self.charge_point_id, websocket, ()))))
            pos = end
            end = _whole_data_frame(buf, pos, n, from_client, deflate_on, self._cap, &head)
        d.base += pos
        return pos
