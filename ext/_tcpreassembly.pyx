# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython hot path "tcpreassembly": TCP segments -> stream events.

Twin of `chargescope.analyzer.reassembly.tcp` (read its docstring for the rules): same
constructor, same `feed`/`finish`/`connection_of`, same events and Problems in the
same order. Sequence arithmetic and the per-direction state are C integers here;
`None` states of the twin (no ISN/base/FIN yet) are -1.
"""

from collections import OrderedDict

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.pycapsule cimport PyCapsule_New
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM
from libc.string cimport memcmp

from chargescope.analyzer.net import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, ip_text
from chargescope.analyzer.reassembly.tcp import (
    DEFAULT_CLOSED_TIMEOUT_NS,
    DEFAULT_IDLE_TIMEOUT_NS,
    DEFAULT_MAX_BUFFER,
    DEFAULT_MAX_CONNECTIONS,
    MAX_PENDING_CHUNKS,
    MAX_UNSEEN_ACKED,
    buffer_cap_problem,
    connection_cap_problem,
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
from chargescope.ext._recordbuild import builder

cdef long long MOD32 = 1LL << 32
cdef long long HALF32 = 1LL << 31
cdef int PLAIN_MASK = TCP_SYN | TCP_FIN | TCP_RST
cdef Py_ssize_t MAX_CHUNKS = MAX_PENDING_CHUNKS
cdef long long MAX_UNSEEN = MAX_UNSEEN_ACKED

cdef object _ByteRef = builder(ByteRef)
cdef object _StreamData = builder(StreamData)
cdef object _NO_EVENT = object()  # `_fast`: taken, no event


# What `_fast` tells its caller besides the event (the pipeline loop's extension declares
# the same struct: keep the two in step).
cdef struct FastInfo:
    int version  # 4 or 6
    int direction  # of the StreamData
    Py_ssize_t length  # of its data
    PyObject* conn  # its Connection (borrowed)


# Frame's slots, read in place by the fast path (checked once at import, as the capture
# reader's extension does to write them; otherwise attributes are read).
cdef Py_ssize_t FRAME_SLOT[8]
cdef bint FAST_FRAME_READ = False
cdef tuple DIRECTIONS = (0, 1)


# The fast path builds its ByteRef and StreamData by filling their slots directly, as the
# "recordbuild" builders do, without a Python call per record (checked once at import;
# if either record stops being a plain slotted class, the builders are used).
cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    object PyType_GenericAlloc(PyTypeObject* type, Py_ssize_t nitems)
    void PyObject_GC_UnTrack(void* op)

cdef int T_OBJECT_EX = 16
cdef Py_ssize_t REF_SLOT[4]
cdef Py_ssize_t DATA_SLOT[6]
cdef bint FAST_RECORDS = False


cdef bint _slots(object cls, Py_ssize_t* out, Py_ssize_t n):
    import dataclasses
    names = [f.name for f in dataclasses.fields(cls)]
    if len(names) != n or hasattr(cls, "__post_init__") or "__dict__" in dir(cls):
        return False
    for i, name in enumerate(names):
        desc = cls.__dict__.get(name)
        if type(desc).__name__ != "member_descriptor":
            return False
        if (<PyMemberDescrObject*>desc).d_member.type != T_OBJECT_EX:
            return False
        out[i] = (<PyMemberDescrObject*>desc).d_member.offset
    return True


FAST_RECORDS = _slots(ByteRef, REF_SLOT, 4) and _slots(StreamData, DATA_SLOT, 6)
FAST_FRAME_READ = _slots(Frame, FRAME_SLOT, 8) and tuple(Frame.__dataclass_fields__) == (
    "number", "ts_ns", "linktype", "data", "wirelen", "interface", "source", "offset")



def _in_place() -> tuple:
    """(records built in place, Frame slots read in place): both True unless a record's
    layout changed (tests check it; the fallbacks give the same results, slower)."""
    return FAST_RECORDS, FAST_FRAME_READ


cdef inline bint _filled(object frame):
    """A Frame whose slots can be read in place (all set: built through its __init__)."""
    cdef int i
    if not FAST_FRAME_READ or type(frame) is not Frame:
        return False
    for i in range(8):
        if (<PyObject**>((<char*><PyObject*>frame) + FRAME_SLOT[i]))[0] == NULL:
            return False
    return True


cdef inline object _slot(object obj, Py_ssize_t offset):
    """The value in a slot `_filled` found set."""
    return <object>(<PyObject**>((<char*><PyObject*>obj) + offset))[0]


cdef inline void _put(object obj, Py_ssize_t offset, object value):
    Py_INCREF(value)
    (<PyObject**>((<char*><PyObject*>obj) + offset))[0] = <PyObject*>value


cdef object _stream_data(object conn, object direction, long long start, bytes payload,
                         object ts, object source, object number, Py_ssize_t offset,
                         Py_ssize_t length):
    """StreamData(conn, direction, start, payload, ts, (ByteRef(source, number, offset,
    length),)): records of immutable values only, so kept off the cycle collector."""
    if not FAST_RECORDS:
        return _StreamData(conn, direction, start, payload, ts,
                           (_ByteRef(source, number, offset, length),))
    ref = PyType_GenericAlloc(<PyTypeObject*>ByteRef, 0)
    _put(ref, REF_SLOT[0], source)
    _put(ref, REF_SLOT[1], number)
    _put(ref, REF_SLOT[2], offset)
    _put(ref, REF_SLOT[3], length)
    PyObject_GC_UnTrack(<void*>ref)
    refs = (ref,)
    event = PyType_GenericAlloc(<PyTypeObject*>StreamData, 0)
    _put(event, DATA_SLOT[0], conn)
    _put(event, DATA_SLOT[1], direction)
    _put(event, DATA_SLOT[2], start)
    _put(event, DATA_SLOT[3], payload)
    _put(event, DATA_SLOT[4], ts)
    _put(event, DATA_SLOT[5], refs)
    PyObject_GC_UnTrack(<void*>event)
    return event
cdef object _StreamGap = builder(StreamGap)
cdef object _StreamClose = builder(StreamClose)


cdef class _Chunk:
    cdef long long start
    cdef bytes data
    cdef object ref
    cdef long long ts_ns


cdef class _Half:
    cdef long long isn, base, next, pending_bytes, fin_at, last_start
    cdef list pending
    cdef bint closed
    cdef bytes last_data

    def __cinit__(self):
        self.isn = -1
        self.base = -1
        self.next = 0
        self.pending = []
        self.pending_bytes = 0
        self.fin_at = -1
        self.closed = False
        self.last_start = 0
        self.last_data = b""


cdef class _Conn:
    cdef object conn
    cdef _Half h0, h1
    cdef tuple client_key, server_key
    cdef long long last_ts, last_frame
    cdef bint finished
    cdef int cport, sport  # client_key's ports (client's, server's), for `_match`
    cdef int slot  # its place in TcpReassembler._recent (`_recent_slot`)

    cdef inline _Half half(self, int direction):
        return self.h0 if direction == 0 else self.h1


cdef enum:
    RECENT = 256  # connections the fast path remembers, direct-mapped


cdef inline int _recent_slot(int sport, int dport, int src_last, int dst_last) noexcept:
    """Where a connection sits in `_recent`: the same for both directions (symmetric in
    the two ports and the two addresses' last bytes)."""
    return ((sport ^ dport) ^ ((src_last ^ dst_last) << 4)) & (RECENT - 1)


cdef inline int _match(_Conn state, object source, const unsigned char* addrs,
                       Py_ssize_t half_len, int sport, int dport) except -2:
    """The direction of a segment from (`source`, `addrs`: source then destination
    address, `half_len` bytes each, ports) in connection `state`, -1 if not in it: the
    key comparison the lookup dict would make."""
    key_source = <object>PyTuple_GET_ITEM(state.client_key, 0)
    cdef bytes key_addrs = <bytes>PyTuple_GET_ITEM(state.client_key, 1)
    cdef const char* ka = PyBytes_AS_STRING(key_addrs)
    if PyBytes_GET_SIZE(key_addrs) != 2 * half_len or not (
            key_source is source or key_source == source):
        return -1
    if sport == state.cport and dport == state.sport and memcmp(addrs, ka, 2 * half_len) == 0:
        return 0
    if (sport == state.sport and dport == state.cport
            and memcmp(addrs, ka + half_len, half_len) == 0
            and memcmp(addrs + half_len, ka, half_len) == 0):
        return 1
    return -1


cdef inline bytes _addresses(object packet):
    cdef Py_ssize_t l3 = packet.l3_offset
    data = packet.frame.data
    if packet.ip_version == 4:
        return data[l3 + 12:l3 + 20]
    return data[l3 + 8:l3 + 40]


cdef _Chunk _piece(long long lo, long long hi, long long start, bytes data, object ref,
                   long long ts):
    cdef long long skip = lo - start
    cdef _Chunk chunk = _Chunk.__new__(_Chunk)
    chunk.start = lo
    chunk.data = data[skip:hi - start]
    chunk.ref = _ByteRef(ref.source, ref.frame, ref.start + skip, hi - lo)
    chunk.ts_ns = ts
    return chunk


cdef object _conflict(_Conn state, int direction, long long offset, long long length,
                      object ref):
    side = "client" if direction == 0 else "server"
    return Problem("tcp.overlap.conflict",
                   f"TCP stream {state.conn.index} {side} bytes {offset}..{offset + length} "
                   f"retransmitted with different content; first copy kept",
                   ref.source, ref.frame, offset, "stream")


cdef list _map_refs(tuple origin, long long skip, long long length):
    cdef list out = []
    cdef long long pos = 0, end = skip + length, lo, hi, rlen
    for ref in origin:
        rlen = ref.length
        lo = pos if pos > skip else skip
        hi = pos + rlen if pos + rlen < end else end
        if lo < hi:
            out.append(ByteRef(ref.source, ref.frame, ref.start + lo - pos, hi - lo))
        pos += rlen
        if pos >= end:
            break
    return out


cdef class TcpReassembler:
    """Turns TCP Packets into stream events; one instance per pipeline run."""

    cdef public long long max_buffer, idle_timeout_ns, max_connections, closed_timeout_ns
    cdef object _conns
    cdef dict _lookup
    cdef long long _next_index, _expiry_step, _next_expiry
    cdef object _tail  # the _Conn known to be last in `_conns` (None: not known)
    cdef list _recent  # _Conns the fast path took, by `_recent_slot`: looked at first

    def __init__(self, *, max_buffer=DEFAULT_MAX_BUFFER,
                 idle_timeout_ns=DEFAULT_IDLE_TIMEOUT_NS,
                 max_connections=DEFAULT_MAX_CONNECTIONS,
                 closed_timeout_ns=DEFAULT_CLOSED_TIMEOUT_NS):
        self.max_buffer = max_buffer
        self.idle_timeout_ns = idle_timeout_ns
        self.max_connections = max_connections
        self.closed_timeout_ns = min(closed_timeout_ns, idle_timeout_ns)
        self._conns = OrderedDict()
        self._lookup = {}
        self._next_index = 0
        self._expiry_step = max(1, self.closed_timeout_ns // 16)
        self._next_expiry = -(1LL << 62)
        self._tail = None
        self._recent = [None] * RECENT

    @property
    def open_connections(self):
        return len(self._conns)

    def connection_of(self, packet):
        """The connection a TCP packet belongs to (after `feed`), like tcp.stream."""
        entry = self._lookup.get((packet.frame.source, _addresses(packet), packet.sport,
                                  packet.dport))
        return (<_Conn>entry[0]).conn if entry else None

    def feed(self, packet, tuple origin=()):
        """The events one decoded TCP packet causes (empty for pure ACKs and old data)."""
        cdef list events = []
        cdef _Conn state
        cdef _Half half
        cdef int direction, flags, syn
        cdef long long ts, seq, length, rel32, diff, start, at, payload_offset
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
        found = entry is not None
        if found:
            state = <_Conn>entry[0]
            direction = entry[1]
            if syn and not flags & TCP_ACK:
                isn = state.half(direction).isn
                if isn != -1 and isn != <long long>packet.tcp_seq:
                    if not state.finished:
                        self._close(state, -1, "reused", ts, events)
                    self._forget(state)
                    found = False
        if not found:
            opened = self._open(packet, key, addrs, events)
            state = <_Conn>opened[0]
            direction = opened[1]
        elif state is not self._tail:
            self._conns.move_to_end(state.client_key)
            self._tail = state
        state.last_ts = ts
        number = frame.number
        state.last_frame = number
        if state.finished:
            return events
        if flags & TCP_ACK and not flags & TCP_RST and state.half(direction).base != -1:
            self._acked(state, 1 - direction, state.half(1 - direction), packet.tcp_ack,
                        number, ts, events)
        half = state.half(direction)
        length = packet.payload_length
        if length == 0 and flags & PLAIN_MASK == 0 and half.base != -1:
            return events
        seq = packet.tcp_seq
        if half.isn == -1:
            half.isn = seq
        if syn:
            if half.base == -1:
                half.base = (seq + 1) % MOD32
            seq = (seq + 1) % MOD32
        if half.base == -1:
            half.base = seq
        rel32 = (seq - half.base) % MOD32
        if rel32 < 0:
            rel32 += MOD32
        diff = (rel32 - half.next % MOD32) % MOD32
        if diff < 0:
            diff += MOD32
        if diff >= HALF32:
            diff -= MOD32
        start = half.next + diff
        if length:
            payload_offset = packet.payload_offset
            data = frame.data[payload_offset:payload_offset + length]
            if type(data) is not bytes:
                data = bytes(data)
            if origin:
                at = start
                for ref in _map_refs(origin, payload_offset - packet.l4_offset, length):
                    self._segment(state, direction, half, at,
                                  data[at - start:at - start + ref.length], ref, ts, events)
                    at += ref.length
            else:
                ref = _ByteRef(source, number, payload_offset, length)
                self._segment(state, direction, half, start, data, ref, ts, events)
        if flags & TCP_FIN and half.fin_at == -1:
            half.fin_at = start + length
        if flags & TCP_RST:
            self._reset(state, direction, ts, events)
            return events
        if half.fin_at != -1 and not half.closed:
            if half.next >= half.fin_at:
                half.closed = True
                events.append(_StreamClose(state.conn, direction, ts, "fin"))
                if state.half(1 - direction).closed:
                    state.finished = True
        return events

    def feed_frame(self, frame):
        """The steady-state fast path (see the twin's docstring): `(ip_version, event)`
        for a frame it takes (event: the StreamData, or None), None for any other frame,
        before any state is touched."""
        cdef FastInfo info
        event = self._fast(frame, &info)
        if event is None:
            return None
        return info.version, (None if event is _NO_EVENT else event)

    cdef object _fast(self, object frame, FastInfo* info):
        """`feed_frame` without its result tuple: None (not taken), _NO_EVENT (taken,
        nothing to deliver) or the StreamData; `info` the IP version, and the event's
        direction, length and connection."""
        cdef const unsigned char* p
        cdef Py_ssize_t n, pos, avail, start, end, hlen, ihl, total, plen, length, half_len
        cdef Py_ssize_t offset, l3, l4
        cdef int linktype, ethertype, flags, sport, dport, direction
        cdef long long ts, diff, ack, seq, family
        cdef _Conn state
        cdef _Half half, other
        cdef int slot
        cdef bint in_place = _filled(frame)
        if in_place:
            ts_obj = _slot(frame, FRAME_SLOT[1])
            data = _slot(frame, FRAME_SLOT[3])
            linktype_obj = _slot(frame, FRAME_SLOT[2])
        else:
            ts_obj = frame.ts_ns
            data = frame.data
            linktype_obj = frame.linktype
        ts = ts_obj
        if ts >= self._next_expiry:
            return None
        if type(data) is not bytes:
            return None
        if type(linktype_obj) is not int:
            return None
        linktype = linktype_obj
        p = <const unsigned char*>PyBytes_AS_STRING(data)
        n = PyBytes_GET_SIZE(data)
        # -- the shape: the checks of `net.plain_tcp`, in the same order
        if linktype == 1:
            if n < 14:
                return None
            ethertype = (p[12] << 8) | p[13]
            pos = 14
        elif linktype == 113:
            if n < 16:
                return None
            ethertype = (p[14] << 8) | p[15]
            pos = 16
        elif linktype == 276:
            if n < 20:
                return None
            ethertype = (p[0] << 8) | p[1]
            pos = 20
        elif linktype == 101 or linktype == 12 or linktype == 14:
            if n < 1:
                return None
            if p[0] >> 4 == 4:
                ethertype = 0x0800
            elif p[0] >> 4 == 6:
                ethertype = 0x86DD
            else:
                return None
            pos = 0
        elif linktype == 228:
            ethertype = 0x0800
            pos = 0
        elif linktype == 229:
            ethertype = 0x86DD
            pos = 0
        elif linktype == 0 or linktype == 108:
            if n < 4:
                return None
            if linktype == 108 or (p[0] == 0 and p[1] == 0):
                family = ((<long long>p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]
            else:
                family = ((<long long>p[3]) << 24) | (p[2] << 16) | (p[1] << 8) | p[0]
            if family == 2:
                ethertype = 0x0800
            elif family == 10 or family == 24 or family == 28 or family == 30:
                ethertype = 0x86DD
            else:
                return None
            pos = 4
        else:
            return None
        while ethertype == 0x8100 or ethertype == 0x88A8 or ethertype == 0x9100:
            if pos + 4 > n:
                return None
            ethertype = (p[pos + 2] << 8) | p[pos + 3]
            pos += 4
        avail = n - pos
        if ethertype == 0x0800:
            if avail < 20 or p[pos] >> 4 != 4 or p[pos + 9] != 6:
                return None
            ihl = (p[pos] & 0x0F) * 4
            total = (p[pos + 2] << 8) | p[pos + 3]
            if total == 0:
                total = avail
            if ihl < 20 or total < ihl or total > avail:
                return None
            if (p[pos + 6] & 0x3F) or p[pos + 7]:
                return None
            info.version = 4
            start = pos + ihl
            end = pos + total
            l3 = pos + 12
            half_len = 4
        elif ethertype == 0x86DD:
            if avail < 40 or p[pos] >> 4 != 6 or p[pos + 6] != 6:
                return None
            plen = (p[pos + 4] << 8) | p[pos + 5]
            if plen == 0:
                plen = avail - 40
            elif plen > avail - 40:
                return None
            info.version = 6
            start = pos + 40
            end = start + plen
            l3 = pos + 8
            half_len = 16
        else:
            return None
        if end - start < 20:
            return None
        hlen = (p[start + 12] >> 4) * 4
        if hlen < 20 or hlen > end - start:
            return None
        l4 = start
        offset = start + hlen
        length = end - offset
        flags = p[l4 + 13]
        if flags & PLAIN_MASK:
            return None
        # -- the connection: the one taken last, else the lookup `feed` does
        sport = (p[l4] << 8) | p[l4 + 1]
        dport = (p[l4 + 2] << 8) | p[l4 + 3]
        source = _slot(frame, FRAME_SLOT[6]) if in_place else frame.source
        slot = _recent_slot(sport, dport, p[l3 + half_len - 1], p[l3 + 2 * half_len - 1])
        recent = self._recent[slot]
        direction = -1 if recent is None else _match(<_Conn>recent, source, p + l3, half_len,
                                                     sport, dport)
        if direction >= 0:
            state = <_Conn>recent
        else:
            entry = self._lookup.get(
                (source, PyBytes_FromStringAndSize(<const char*>p + l3, 2 * half_len),
                 sport, dport))
            if entry is None:
                return None
            state = <_Conn>(<tuple>entry)[0]
            direction = (<tuple>entry)[1]
        half = state.half(direction)
        if state.finished or half.base == -1:
            return None
        if flags & TCP_ACK:
            other = state.half(1 - direction)
            if other.base != -1:
                ack = ((<long long>p[l4 + 8]) << 24) | (p[l4 + 9] << 16) | (p[l4 + 10] << 8) \
                    | p[l4 + 11]
                diff = ((ack - other.base) % MOD32 - other.next % MOD32) % MOD32
                if diff < 0:
                    diff += MOD32
                if 1 < diff < HALF32:
                    return None
        if length:
            if half.pending or half.fin_at != -1:
                return None
            seq = ((<long long>p[l4 + 4]) << 24) | (p[l4 + 5] << 16) | (p[l4 + 6] << 8) \
                | p[l4 + 7]
            diff = ((seq - half.base) % MOD32 - half.next % MOD32) % MOD32
            if diff != 0:
                return None
        # -- the steady state: from here on, what `feed` does for it
        self._recent[slot] = state
        if state is not self._tail:
            self._conns.move_to_end(state.client_key)
            self._tail = state
        number = _slot(frame, FRAME_SLOT[0]) if in_place else frame.number
        state.last_ts = ts
        state.last_frame = number
        if not length:
            return _NO_EVENT
        info.direction = direction
        info.length = length
        info.conn = <PyObject*>state.conn
        payload = PyBytes_FromStringAndSize(<const char*>p + offset, length)
        start = half.next
        half.next = start + length
        half.last_start = start
        half.last_data = payload
        return _stream_data(state.conn, DIRECTIONS[direction], start, payload, ts_obj, source,
                            number, offset, length)

    def finish(self, ts_ns=None):
        """End of capture: gaps for missing bytes, then close every open connection."""
        cdef list events = []
        cdef _Conn state
        for state in self._conns.values():
            if not state.finished:
                self._close(state, -1, "end-of-capture",
                            state.last_ts if ts_ns is None else ts_ns, events)
        self._conns.clear()
        self._lookup.clear()
        self._tail = None
        self._recent = [None] * RECENT
        return events

    # -- internals ---------------------------------------------------------------------

    cdef tuple _open(self, packet, tuple key, bytes addrs, list events):
        cdef Py_ssize_t half = len(addrs) >> 1
        cdef _Conn state, old
        cdef int flags = packet.tcp_flags
        src, dst = addrs[:half], addrs[half:]
        rkey = (key[0], dst + src, packet.dport, packet.sport)
        source = packet.frame.source
        handshake = bool(flags & TCP_SYN)
        if handshake:
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
        state = _Conn.__new__(_Conn)
        state.conn = conn
        state.h0 = _Half()
        state.h1 = _Half()
        state.client_key = ckey
        state.server_key = rkey if ckey is key else key
        state.last_ts = packet.frame.ts_ns
        state.last_frame = 0
        state.finished = False
        state.cport = ckey[2]
        state.sport = ckey[3]
        addrs = ckey[1]
        state.slot = _recent_slot(state.cport, state.sport, addrs[len(addrs) // 2 - 1],
                                  addrs[len(addrs) - 1])
        if len(self._conns) >= self.max_connections:
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

    cdef void _segment(self, _Conn state, int direction, _Half half, long long start,
                       bytes data, object ref, long long ts, list events):
        cdef long long n = len(data)
        cdef long long end = start + n, cut
        if end <= half.next:
            if not (n == 1 and end == half.next):
                self._check_delivered(state, direction, half, start, data, ref, events)
            return
        if start > half.next:
            self._buffer(state, direction, half, start, data, ref, ts, events)
            if half.pending_bytes > self.max_buffer or len(half.pending) > MAX_CHUNKS:
                events.append(buffer_cap_problem(state.conn, direction, half.next,
                                                 half.pending_bytes, len(half.pending),
                                                 self.max_buffer, ref))
                self._skip_to_pending(state, direction, half, events)
            return
        if start < half.next:
            self._check_delivered(state, direction, half, start, data, ref, events)
            cut = half.next - start
            data = data[cut:]
            ref = _ByteRef(ref.source, ref.frame, ref.start + cut, ref.length - cut)
            start = half.next
        self._deliver(state, direction, half, start, data, (ref,), ts, events)

    cdef void _deliver(self, _Conn state, int direction, _Half half, long long start,
                       bytes data, tuple refs, long long ts, list events):
        cdef list pending = half.pending
        cdef _Chunk chunk
        cdef long long end, skip, clen
        if pending and (<_Chunk>pending[0]).start <= start + len(data):
            parts = [data]
            ref_list = list(refs)
            end = start + len(data)
            while pending and (<_Chunk>pending[0]).start <= end:
                chunk = <_Chunk>pending.pop(0)
                clen = len(chunk.data)
                half.pending_bytes -= clen
                skip = end - chunk.start
                if skip >= clen:
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
        events.append(_StreamData(state.conn, direction, start, data, ts, refs))

    cdef void _buffer(self, _Conn state, int direction, _Half half, long long start,
                      bytes data, object ref, long long ts, list events):
        cdef long long end = start + len(data), cur = start, c_end, lo, hi
        cdef list pending = half.pending
        cdef list pieces = []
        cdef _Chunk chunk
        for chunk in pending:
            c_end = chunk.start + len(chunk.data)
            if c_end <= cur:
                continue
            if chunk.start >= end:
                break
            if chunk.start > cur:
                pieces.append(_piece(cur, chunk.start, start, data, ref, ts))
            lo = cur if cur > chunk.start else chunk.start
            hi = end if end < c_end else c_end
            if data[lo - start:hi - start] != chunk.data[lo - chunk.start:hi - chunk.start]:
                events.append(_conflict(state, direction, lo, hi - lo, ref))
            cur = cur if cur > c_end else c_end
            if cur >= end:
                break
        if cur < end:
            pieces.append(_piece(cur, end, start, data, ref, ts))
        for chunk in pieces:
            half.pending_bytes += len(chunk.data)
            pending.append(chunk)
        if pieces:
            pending.sort(key=_chunk_start)

    cdef void _check_delivered(self, _Conn state, int direction, _Half half, long long start,
                               bytes data, object ref, list events):
        cdef long long last_end = half.last_start + len(half.last_data)
        cdef long long lo = start if start > half.last_start else half.last_start
        cdef long long hi = start + len(data)
        if last_end < hi:
            hi = last_end
        if lo < hi and (data[lo - start:hi - start]
                        != half.last_data[lo - half.last_start:hi - half.last_start]):
            events.append(_conflict(state, direction, lo, hi - lo, ref))

    cdef void _acked(self, _Conn state, int direction, _Half half, long long ack,
                     object frame, long long ts, list events):
        cdef long long diff, upto, unseen
        if half.base == -1:
            return
        diff = ((ack - half.base) % MOD32 - half.next % MOD32) % MOD32
        if diff < 0:
            diff += MOD32
        if diff <= 1 or diff >= HALF32:
            return
        upto = half.next + diff
        if half.pending and (<_Chunk>half.pending[0]).start < upto:
            self._release(state, direction, half, upto, events)
        if half.fin_at != -1:
            if half.fin_at < upto:
                upto = half.fin_at
        elif upto - half.next == 1:
            return
        unseen = upto - half.next
        if 0 < unseen <= MAX_UNSEEN:
            events.append(_StreamGap(state.conn, direction, half.next, unseen, ts, frame))
            half.next = upto
            if half.pending:
                self._release(state, direction, half, upto, events)

    cdef void _release(self, _Conn state, int direction, _Half half, long long upto,
                       list events):
        cdef list pending = half.pending
        cdef _Chunk chunk
        cdef long long start
        while pending and ((<_Chunk>pending[0]).start < upto
                           or (<_Chunk>pending[0]).start == half.next):
            chunk = <_Chunk>pending.pop(0)
            data = chunk.data
            half.pending_bytes -= len(data)
            start = chunk.start
            if start > half.next:
                events.append(_StreamGap(state.conn, direction, half.next, start - half.next,
                                         chunk.ts_ns, chunk.ref.frame))
            half.next = start + len(data)
            half.last_start = start
            half.last_data = data
            events.append(_StreamData(state.conn, direction, start, data, chunk.ts_ns,
                                      (chunk.ref,)))

    cdef void _skip_to_pending(self, _Conn state, int direction, _Half half, list events):
        while half.pending and (half.pending_bytes > self.max_buffer
                                or len(half.pending) > MAX_CHUNKS):
            self._release(state, direction, half, (<_Chunk>half.pending[0]).start + 1,
                          events)

    cdef void _drain(self, _Conn state, int direction, long long ts, list events):
        cdef _Half half = state.half(direction)
        cdef Py_ssize_t n = len(half.pending)
        if n:  # (no negative indexing: wraparound is off)
            self._release(state, direction, half, (<_Chunk>half.pending[n - 1]).start + 1,
                          events)
        if half.fin_at != -1 and half.fin_at > half.next:
            events.append(_StreamGap(state.conn, direction, half.next, half.fin_at - half.next,
                                     ts, state.last_frame))
            half.next = half.fin_at

    cdef void _reset(self, _Conn state, int direction, long long ts, list events):
        self._drain(state, 0, ts, events)
        self._drain(state, 1, ts, events)
        state.finished = True
        events.append(_StreamClose(state.conn, direction, ts, "rst"))

    cdef void _close(self, _Conn state, int direction, str reason, long long ts, list events):
        cdef _Half half
        cdef int d
        for d in range(2):
            half = state.half(d)
            self._drain(state, d, ts, events)
            if half.fin_at != -1 and not half.closed:
                half.closed = True
                events.append(_StreamClose(state.conn, d, ts, "fin"))
        state.finished = True
        if not (state.h0.closed and state.h1.closed):
            events.append(_StreamClose(state.conn, direction, ts, reason))

    cdef void _forget(self, _Conn state):
        if state is self._tail:
            self._tail = None
        if self._recent[state.slot] is state:
            self._recent[state.slot] = None
        del self._conns[state.client_key]
        del self._lookup[state.client_key]
        del self._lookup[state.server_key]

    cdef void _expire(self, long long now, list events):
        cdef long long idle_limit = now - self.idle_timeout_ns
        cdef long long closed_limit = now - self.closed_timeout_ns
        cdef _Conn state
        cdef list stale = []
        for state in self._conns.values():
            if state.last_ts >= closed_limit:
                break
            if state.finished or state.last_ts < idle_limit:
                stale.append(state)
        for state in stale:
            self._forget(state)
            if not state.finished:
                self._close(state, -1, "idle-timeout", now, events)


def _chunk_start(_Chunk chunk):
    return chunk.start


# For the pipeline loop's extension (hot path "pipeloop"): `TcpReassembler._fast` as a
# C function, so that it is called without a Python call and a result tuple per frame.
# Signature: (reassembler, frame, FastInfo*) -> None | NO_EVENT | StreamData.
cdef object _fast_frame(object reassembler, object frame, FastInfo* info):
    return (<TcpReassembler>reassembler)._fast(frame, info)


FAST_FRAME = PyCapsule_New(<void*>_fast_frame, b"chargescope.tcpreassembly.fast_frame", NULL)
NO_EVENT = _NO_EVENT
