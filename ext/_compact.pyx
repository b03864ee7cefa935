# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython hot path "compact": the byte form of a stored message's fields.

Twin of `chargescope.analyzer.compactcodec` (same layout, same atom policy, same results,
same exceptions); the layout and the policy are documented there. Writes into a growing C
buffer and reads with a pointer, calling back into Python only to make an atom.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem, PyDict_Next
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy

from chargescope.analyzer.compactcodec import (
    MAX_ATOMS,
    MAX_DEPTH,
    MAX_KEY_ATOM,
    MAX_PENDING,
    MAX_VALUE_ATOM,
    AtomTable,
)

cdef extern from "Python.h":
    int PyFloat_Pack8(double x, char *p, int le) except -1
    double PyFloat_Unpack8(const char *p, int le) except? -1.0
    long long PyLong_AsLongLongAndOverflow(object o, int *overflow) except? -1
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t *size) except NULL

__all__ = ["AtomTable", "Window", "attributes", "pack", "unpack"]

cdef Py_ssize_t C_MAX_DEPTH = MAX_DEPTH
cdef Py_ssize_t C_MAX_ATOMS = MAX_ATOMS
cdef Py_ssize_t C_MAX_KEY_ATOM = MAX_KEY_ATOM
cdef Py_ssize_t C_MAX_VALUE_ATOM = MAX_VALUE_ATOM
cdef Py_ssize_t C_MAX_PENDING = MAX_PENDING


cdef class _Writer:
    cdef unsigned char* buf
    cdef Py_ssize_t n
    cdef Py_ssize_t cap
    cdef object table
    cdef dict index
    cdef list strings
    cdef dict pending

    def __cinit__(self, table):
        self.cap = 256
        self.n = 0
        self.buf = <unsigned char*> PyMem_Malloc(self.cap)
        if self.buf == NULL:
            raise MemoryError()
        self.table = table
        self.index = table.index
        self.strings = table.strings
        self.pending = table.pending

    def __dealloc__(self):
        PyMem_Free(self.buf)

    cdef int reserve(self, Py_ssize_t extra) except -1:
        cdef Py_ssize_t want = self.n + extra
        cdef unsigned char* grown
        if want <= self.cap:
            return 0
        while self.cap < want:
            self.cap *= 2
        grown = <unsigned char*> PyMem_Realloc(self.buf, self.cap)
        if grown == NULL:
            raise MemoryError()
        self.buf = grown
        return 0

    cdef inline int byte(self, unsigned char b) except -1:
        if self.n >= self.cap:
            self.reserve(1)
        self.buf[self.n] = b
        self.n += 1
        return 0

    cdef int varint(self, uint64_t v) except -1:
        self.reserve(10)
        while v >= 0x80:
            self.buf[self.n] = <unsigned char> ((v & 0x7F) | 0x80)
            self.n += 1
            v >>= 7
        self.buf[self.n] = <unsigned char> v
        self.n += 1
        return 0

    cdef int raw(self, const char* p, Py_ssize_t size) except -1:
        self.reserve(size)
        memcpy(self.buf + self.n, p, size)
        self.n += size
        return 0

    cdef Py_ssize_t atom(self, str s, bint key) except -2:
        cdef PyObject* found = PyDict_GetItem(self.index, s)
        cdef Py_ssize_t n
        if found != NULL:
            return <Py_ssize_t> <object> found
        if PyList_GET_SIZE(self.strings) >= C_MAX_ATOMS:
            return -1
        n = len(s)
        if key:
            return self.table.add(s) if n <= C_MAX_KEY_ATOM else -1
        if n > C_MAX_VALUE_ATOM:
            return -1
        if s in self.pending:
            del self.pending[s]
            return self.table.add(s)
        if len(self.pending) >= C_MAX_PENDING:
            self.pending.clear()
        self.pending[s] = None
        return -1

    cdef int string(self, str s, bint key) except -1:
        cdef Py_ssize_t i = self.atom(s, key)
        cdef Py_ssize_t size
        cdef const char* p
        cdef bytes encoded
        if i >= 0:
            if i < 128:
                self.byte(<unsigned char> (0x80 | i))
            else:
                self.byte(0x07)
                self.varint(<uint64_t> (i - 128))
            return 0
        try:
            p = PyUnicode_AsUTF8AndSize(s, &size)
        except UnicodeEncodeError:  # lone surrogates: kept as the twin keeps them
            encoded = s.encode("utf-8", "surrogatepass")
            p = PyBytes_AS_STRING(encoded)
            size = PyBytes_GET_SIZE(encoded)
        if size < 32:
            self.byte(<unsigned char> (0x20 | size))
        else:
            self.byte(0x06)
            self.varint(<uint64_t> size)
        self.raw(p, size)
        return 0

    cdef int value(self, object v, Py_ssize_t depth) except -1:
        cdef type t = type(v)
        cdef int overflow = 0
        cdef long long x
        cdef Py_ssize_t i, size
        cdef Py_ssize_t pos = 0
        cdef PyObject* key
        cdef PyObject* item
        cdef char f[8]
        cdef bytes raw
        if t is str:
            return self.string(<str> v, False)
        if t is int:
            x = PyLong_AsLongLongAndOverflow(v, &overflow)
            if overflow == 0:
                if 0 <= x < 64:
                    return self.byte(<unsigned char> (0x40 | x))
                self.byte(0x03)
                return self.varint((<uint64_t> x << 1) ^ <uint64_t> (x >> 63))
            raw = v.to_bytes(v.bit_length() // 8 + 1, "little", signed=True)
            self.byte(0x04)
            self.varint(<uint64_t> PyBytes_GET_SIZE(raw))
            return self.raw(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw))
        if t is dict:
            if depth >= C_MAX_DEPTH:
                raise ValueError(f"fields nested deeper than {MAX_DEPTH}")
            self.byte(0x0B)
            self.varint(<uint64_t> len(<dict> v))
            while PyDict_Next(v, &pos, &key, &item):
                if type(<object> key) is str:
                    self.string(<str> <object> key, True)
                else:
                    self.value(<object> key, depth + 1)
                self.value(<object> item, depth + 1)
            return 0
        if v is None:
            return self.byte(0x00)
        if v is False:
            return self.byte(0x01)
        if v is True:
            return self.byte(0x02)
        if t is float:
            self.byte(0x05)
            PyFloat_Pack8(<double> v, f, 1)
            return self.raw(f, 8)
        if t is list:
            if depth >= C_MAX_DEPTH:
                raise ValueError(f"fields nested deeper than {MAX_DEPTH}")
            size = PyList_GET_SIZE(v)
            self.byte(0x09)
            self.varint(<uint64_t> size)
            i = 0
            while i < PyList_GET_SIZE(v):
                self.value(<object> PyList_GET_ITEM(v, i), depth + 1)
                i += 1
            return 0
        if t is tuple:
            if depth >= C_MAX_DEPTH:
                raise ValueError(f"fields nested deeper than {MAX_DEPTH}")
            size = PyTuple_GET_SIZE(v)
            self.byte(0x0A)
            self.varint(<uint64_t> size)
            for i in range(size):
                self.value(<object> PyTuple_GET_ITEM(v, i), depth + 1)
            return 0
        if t is bytes:
            self.byte(0x08)
            self.varint(<uint64_t> PyBytes_GET_SIZE(v))
            return self.raw(PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v))
        raise TypeError(f"cannot compact a {t.__name__}")


def pack(tuple items, table) -> bytes:
    """The byte form of each of `items`, one after the other (read back with `unpack`)."""
    cdef _Writer w = _Writer(table)
    for item in items:
        w.value(item, 0)
    return PyBytes_FromStringAndSize(<char*> w.buf, w.n)


cdef class _Reader:
    cdef const unsigned char* p
    cdef Py_ssize_t pos
    cdef Py_ssize_t end
    cdef list strings
    cdef Py_ssize_t nstrings

    cdef uint64_t varint(self) except? 0xFFFFFFFFFFFFFFFF:
        cdef uint64_t v = 0
        cdef unsigned int shift = 0
        cdef unsigned char b
        while True:
            if self.pos >= self.end:
                raise ValueError("compact form ends inside a number")
            b = self.p[self.pos]
            self.pos += 1
            if shift == 63 and b > 1:
                raise ValueError("compact form has a number past 64 bits")
            v |= (<uint64_t> (b & 0x7F)) << shift
            if b < 0x80:
                return v
            shift += 7

    cdef Py_ssize_t take(self, uint64_t n) except -1:
        """Step over `n` bytes, returning where they start."""
        cdef Py_ssize_t start = self.pos
        if n > <uint64_t> (self.end - self.pos):
            raise ValueError("compact form ends inside a value")
        self.pos += <Py_ssize_t> n
        return start

    cdef object atom(self, uint64_t i):
        if i >= <uint64_t> self.nstrings:
            if i >= <uint64_t> len(self.strings):
                raise ValueError(f"compact form names atom {i}, not in its table")
            self.nstrings = len(self.strings)
        return <object> PyList_GET_ITEM(self.strings, <Py_ssize_t> i)

    cdef object text(self, uint64_t n, bint build):
        cdef Py_ssize_t at = self.take(n)
        if not build:
            return None
        return PyUnicode_DecodeUTF8(<const char*> self.p + at, <Py_ssize_t> n, "surrogatepass")

    cdef object value(self, bint build, Py_ssize_t depth):
        cdef unsigned char tag
        cdef uint64_t n, z, k
        cdef Py_ssize_t at
        cdef dict d
        cdef list items
        if self.pos >= self.end:
            raise ValueError("compact form ends before a value")
        tag = self.p[self.pos]
        self.pos += 1
        if tag >= 0x80:
            return self.atom(tag & 0x7F) if build else None
        if tag >= 0x40:
            return tag & 0x3F
        if tag >= 0x20:
            return self.text(tag & 0x1F, build)
        if 0x09 <= tag <= 0x0B and depth >= C_MAX_DEPTH:
            raise ValueError(f"compact form nested deeper than {MAX_DEPTH}")
        if tag == 0x0B:
            n = self.varint()
            if not build:
                for k in range(n):
                    self.value(False, depth + 1)
                    self.value(False, depth + 1)
                return None
            d = {}
            for k in range(n):
                key = self.value(True, depth + 1)
                item = self.value(True, depth + 1)
                try:
                    d[key] = item
                except TypeError:
                    raise ValueError("compact form has an unhashable dict key") from None
            return d
        if tag == 0x09 or tag == 0x0A:
            n = self.varint()
            if not build:
                for k in range(n):
                    self.value(False, depth + 1)
                return None
            items = []
            for k in range(n):
                items.append(self.value(True, depth + 1))
            return items if tag == 0x09 else tuple(items)
        if tag == 0x07:
            n = self.varint() + 128  # read even when stepping over
            return self.atom(n) if build else None
        if tag == 0x03:
            z = self.varint()
            return <int64_t> ((z >> 1) ^ (-(z & 1)))
        if tag == 0x06:
            return self.text(self.varint(), build)
        if tag == 0x00:
            return None
        if tag == 0x01:
            return False
        if tag == 0x02:
            return True
        if tag == 0x05:
            at = self.take(8)
            return PyFloat_Unpack8(<const char*> self.p + at, 1)
        if tag == 0x04:
            n = self.varint()
            at = self.take(n)
            return int.from_bytes(PyBytes_FromStringAndSize(<const char*> self.p + at, n),
                                  "little", signed=True)
        if tag == 0x08:
            n = self.varint()
            at = self.take(n)
            return PyBytes_FromStringAndSize(<const char*> self.p + at, n)
        raise ValueError(f"unknown compact tag 0x{tag:02x}")


def unpack(bytes data, table, Py_ssize_t index):
    """Item `index` of what `pack` wrote into `data` (the earlier items are stepped over)."""
    cdef _Reader r = _Reader.__new__(_Reader)
    cdef Py_ssize_t i
    r.p = <const unsigned char*> PyBytes_AS_STRING(data)
    r.pos = 0
    r.end = PyBytes_GET_SIZE(data)
    r.strings = table.strings
    r.nstrings = len(r.strings)
    for i in range(index):
        r.value(False, 0)
    return r.value(True, 0)


# ---- the attributes of a stored Message (see records.py) ----

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        const char* name
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    void Py_XINCREF(PyObject*)
    void Py_XDECREF(PyObject*)
    void PyObject_GC_UnTrack(void*)
    void PyUnicode_InternInPlace(PyObject**)
    Py_ssize_t Py_REFCNT(object)

cdef enum:
    CACHE = 256  # decoded messages kept (direct-mapped by address)


cdef inline Py_ssize_t _offset(slot) except -1:
    if type(slot).__name__ != "member_descriptor":
        raise TypeError("a slot's member descriptor is expected")
    return (<PyMemberDescrObject*> <PyObject*> slot).d_member.offset


cdef class _Decoded:
    """The decoded fields and refs of recently read messages, one entry per address bucket."""
    cdef list entries
    cdef object table
    cdef object byte_ref

    def __cinit__(self, table, byte_ref):
        self.entries = [None] * CACHE
        self.table = table
        self.byte_ref = byte_ref

    cdef list entry(self, object message, bytes blob, int which):
        cdef Py_ssize_t bucket = (<size_t> <void*> message >> 4) % CACHE
        cdef object found = <object> PyList_GET_ITEM(self.entries, bucket)
        cdef list entry
        if found is not None and (<list> found)[0] is message:
            entry = <list> found
        else:
            entry = [message, None, None]
            self.entries[bucket] = entry
        if entry[which] is None:
            if which == 1:
                entry[1] = unpack(blob, self.table, 1)
            else:
                entry[2] = tuple([self.byte_ref(*row) for row in unpack(blob, self.table, 0)])
        return entry

    def clear(self):
        self.entries = [None] * CACHE


cdef class _SlotAttribute:
    cdef type owner  # the record class the slots belong to (never subclassed)
    cdef Py_ssize_t offset
    cdef Py_ssize_t other  # the offset of the other slot of the pair
    cdef object packed
    cdef _Decoded decoded
    cdef str name

    cdef inline int check(self, object obj) except -1:
        if type(obj) is not self.owner:
            raise TypeError(f"a {self.owner.__name__} is expected, not {type(obj).__name__}")
        return 0

    cdef inline object raw(self, object obj, Py_ssize_t offset):
        cdef PyObject* value = (<PyObject**> (<char*> <void*> obj + offset))[0]
        if value == NULL:
            raise AttributeError(f"'{type(obj).__name__}' object has no attribute '{self.name}'")
        return <object> value

    def __set__(self, obj, value):
        cdef PyObject** at
        cdef PyObject* old
        self.check(obj)
        at = <PyObject**> (<char*> <void*> obj + self.offset)
        old = at[0]
        Py_XINCREF(<PyObject*> value)
        at[0] = <PyObject*> value
        Py_XDECREF(old)


cdef class FieldsAttribute(_SlotAttribute):
    """`message.fields`: the dict, decoded from the byte form of a compacted message."""
    cdef tuple interned  # offsets of the str slots interned when compacting

    def __get__(self, obj, objtype):
        if obj is None:
            return self
        self.check(obj)
        value = self.raw(obj, self.offset)
        if type(value) is bytes and self.raw(obj, self.other) is self.packed:
            return self.decoded.entry(obj, <bytes> value, 1)[1]
        return value

    cpdef bint compact(self, message) except -1:
        """Keep `message`'s refs and fields as one byte form (in place); False when a value
        cannot be carried (it then stays as it was). Interns its str slots, and takes it
        off the garbage collector's lists: a compacted record refers to no container that
        could lead back to it."""
        cdef PyObject** at
        cdef PyObject** other
        cdef Py_ssize_t offset
        cdef list rows = []
        self.check(message)
        fields = self.raw(message, self.offset)
        refs = self.raw(message, self.other)
        if refs is self.packed:
            return True
        if type(fields) is not dict or type(refs) is not tuple:
            return False
        for ref in <tuple> refs:
            if type(ref) is not self.decoded.byte_ref:
                return False
            rows.append((ref.source, ref.frame, ref.start, ref.length))
        try:
            blob = pack((tuple(rows), fields), self.decoded.table)
        except (TypeError, ValueError):
            return False
        at = <PyObject**> (<char*> <void*> message + self.offset)
        other = <PyObject**> (<char*> <void*> message + self.other)
        Py_XINCREF(<PyObject*> blob)
        Py_XDECREF(at[0])
        at[0] = <PyObject*> blob
        Py_XINCREF(<PyObject*> self.packed)
        Py_XDECREF(other[0])
        other[0] = <PyObject*> self.packed
        for offset in self.interned:
            at = <PyObject**> (<char*> <void*> message + offset)
            if at[0] != NULL and type(<object> at[0]) is str:
                PyUnicode_InternInPlace(at)
        PyObject_GC_UnTrack(<void*> message)
        return True


cdef class RefsAttribute(_SlotAttribute):
    """`message.refs`: the ByteRef tuple, decoded from the byte form of a compacted message."""

    def __get__(self, obj, objtype):
        if obj is None:
            return self
        self.check(obj)
        value = self.raw(obj, self.offset)
        if value is self.packed:
            return self.decoded.entry(obj, <bytes> self.raw(obj, self.other), 2)[2]
        return value


def attributes(fields_slot, refs_slot, packed, table, byte_ref, intern_slots=()):
    """The descriptors for a record's `fields` and `refs` slots (given as their member
    descriptors): reading them decodes a compacted record (`packed` in the refs slot, the byte
    form in the fields slot), writing them stores as the slot would. Also the cache of decoded
    forms (`.clear()`)."""
    cdef _Decoded decoded = _Decoded(table, byte_ref)
    cdef FieldsAttribute fields = FieldsAttribute.__new__(FieldsAttribute)
    cdef RefsAttribute refs = RefsAttribute.__new__(RefsAttribute)
    fields.offset, fields.other, fields.name = _offset(fields_slot), _offset(refs_slot), "fields"
    refs.offset, refs.other, refs.name = _offset(refs_slot), _offset(fields_slot), "refs"
    if fields_slot.__objclass__ is not refs_slot.__objclass__:
        raise TypeError("both slots must belong to one class")
    fields.owner = refs.owner = fields_slot.__objclass__
    fields.packed = refs.packed = packed
    fields.decoded = refs.decoded = decoded
    fields.interned = tuple(_offset(slot) for slot in intern_slots)
    return fields, refs, decoded


cdef class Window:
    """Compacts each message added once `size` newer ones have been added, unless nothing
    else holds it any more (it is about to be freed: compacting it would be wasted work)."""
    cdef FieldsAttribute attribute
    cdef list ring
    cdef Py_ssize_t size
    cdef Py_ssize_t pos

    def __init__(self, FieldsAttribute attribute, Py_ssize_t size):
        if size < 1:
            raise ValueError("a window holds one message at least")
        self.attribute = attribute
        self.size = size
        self.ring = [None] * size
        self.pos = 0

    def add(self, message):
        old = <object> PyList_GET_ITEM(self.ring, self.pos)
        self.ring[self.pos] = message
        self.pos = (self.pos + 1) % self.size
        if old is not None and Py_REFCNT(old) > 1:  # more holders than `old` here
            self.attribute.compact(old)

    def flush(self):
        """Compact every message still in the window (the analyzers are done reading)."""
        cdef Py_ssize_t i
        for i in range(self.size):
            old = self.ring[(self.pos + i) % self.size]
            self.ring[(self.pos + i) % self.size] = None
            if old is not None and Py_REFCNT(old) > 1:
                self.attribute.compact(old)
        self.pos = 0
