# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Record walking for pcap and pcapng EPBs: the Cython side of hot path "capture".

Same functions, arguments, results and exceptions as the pure-Python twin
`chargescope.analyzer.capture.walk` (read its docstring for the contract).

Speed comes from reading the header fields straight from the buffer and from building
each `Frame` without calling its dataclass `__init__` (whose frozen-field assignments
cost more than the whole record walk): the object is allocated and its slots filled in
C, exactly what `object.__setattr__` does, and it is left out of the cycle collector. That path is taken only after checking at
import that `Frame` is still the slotted record this module expects; otherwise the
ordinary constructor is used.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_Append
from cpython.ref cimport Py_INCREF, PyObject, PyTypeObject
from libc.stdint cimport int64_t, uint32_t, uint64_t

from chargescope.analyzer.records import Frame


cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        const char* name
        int type
        Py_ssize_t offset
    int T_OBJECT_EX


cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    object PyType_GenericAlloc(PyTypeObject* type, Py_ssize_t nitems)
    void PyObject_GC_UnTrack(void* op)


NEED_DATA = 0
OTHER_BLOCK = 1
BAD_RECORD = 2
MAX_CAPLEN = 262144
MAX_BLOCK = 16 * 1024 * 1024 + 4096

cdef enum:
    C_NEED_DATA = 0
    C_OTHER_BLOCK = 1
    C_BAD_RECORD = 2
    C_MAX_CAPLEN = 262144
    C_MAX_BLOCK = 16 * 1024 * 1024 + 4096
    C_EPB = 6

cdef int64_t INT64_MAX_ = 0x7FFFFFFFFFFFFFFF

_FIELDS = ("number", "ts_ns", "linktype", "data", "wirelen", "interface", "source", "offset")
cdef Py_ssize_t SLOT[8]
cdef bint FAST_FRAMES = False
cdef PyTypeObject* FRAME_TYPE = <PyTypeObject*>Frame


def _check_frame_layout():
    """True when Frame's fields are exactly _FIELDS, each a plain object slot."""
    global FAST_FRAMES
    cdef PyMemberDescrObject* descr
    FAST_FRAMES = False
    if tuple(getattr(Frame, "__dataclass_fields__", ())) != _FIELDS:
        return False
    if "__dict__" in dir(Frame) or Frame.__new__ is not object.__new__:
        return False
    for i, name in enumerate(_FIELDS):
        attr = Frame.__dict__.get(name)
        if type(attr).__name__ != "member_descriptor":
            return False
        descr = <PyMemberDescrObject*>attr
        if descr.d_member.type != T_OBJECT_EX:
            return False
        SLOT[i] = descr.d_member.offset
    FAST_FRAMES = True
    return True


_check_frame_layout()


def _use_fast_frames(bint on):
    """Switch direct slot filling off (tests of the ordinary-constructor path) or back on
    (only if the layout check passes); returns whether it is now on."""
    global FAST_FRAMES
    if on:
        return _check_frame_layout()
    FAST_FRAMES = False
    return False


cdef inline void _put(object obj, int i, object value):
    Py_INCREF(value)
    (<PyObject**>((<char*><PyObject*>obj) + SLOT[i]))[0] = <PyObject*>value


cdef inline object _frame(object number, object ts_ns, object linktype, object data,
                          object wirelen, object interface, object source, object offset):
    if not FAST_FRAMES:
        return Frame(number, ts_ns, linktype, data, wirelen, interface, source, offset)
    obj = PyType_GenericAlloc(FRAME_TYPE, 0)
    _put(obj, 0, number)
    _put(obj, 1, ts_ns)
    _put(obj, 2, linktype)
    _put(obj, 3, data)
    _put(obj, 4, wirelen)
    _put(obj, 5, interface)
    _put(obj, 6, source)
    _put(obj, 7, offset)
    # A Frame holds only ints, bytes and a str: it can never be part of a reference
    # cycle, so the cycle collector need not see it (CPython untracks such tuples too).
    # Without this, collections over millions of young Frames cost more than reading.
    PyObject_GC_UnTrack(<void*>obj)
    return obj


cdef inline uint32_t _u32(const unsigned char* p, bint little) noexcept nogil:
    if little:
        return (<uint32_t>p[0]) | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)
    return (<uint32_t>p[3]) | (<uint32_t>p[2] << 8) | (<uint32_t>p[1] << 16) | (<uint32_t>p[0] << 24)


def walk_pcap(bytes buf, Py_ssize_t pos, bint little, bint nano, object linktype,
              Py_ssize_t number, Py_ssize_t base, object source, list out):
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(buf)
    cdef Py_ssize_t end = PyBytes_GET_SIZE(buf)
    cdef uint32_t sec, frac, caplen, wirelen
    cdef int64_t frac_scale = 1 if nano else 1000
    cdef int64_t ts
    cdef Py_ssize_t size = 0, cut = 0
    iface = 0
    while True:
        if end - pos < 16:
            return pos, number, NEED_DATA, size, cut
        sec = _u32(p + pos, little)
        frac = _u32(p + pos + 4, little)
        caplen = _u32(p + pos + 8, little)
        wirelen = _u32(p + pos + 12, little)
        if caplen > C_MAX_CAPLEN:
            return pos, number, BAD_RECORD, size, cut
        if <Py_ssize_t>caplen > end - pos - 16:
            return pos, number, NEED_DATA, size, cut
        number += 1
        size += caplen
        cut += caplen < wirelen
        ts = <int64_t>sec * 1000000000 + <int64_t>frac * frac_scale
        data = PyBytes_FromStringAndSize(<const char*>p + pos + 16, caplen)
        PyList_Append(out, _frame(number, ts, linktype, data, wirelen, iface, source, base + pos))
        pos += 16 + caplen


def walk_pcapng(bytes buf, Py_ssize_t pos, bint little, list ifaces, Py_ssize_t first_iface,
                Py_ssize_t number, Py_ssize_t base, object source, list out):
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(buf)
    cdef Py_ssize_t end = PyBytes_GET_SIZE(buf)
    cdef Py_ssize_t count = len(ifaces)
    cdef uint32_t btype, total, iface, caplen, wirelen
    cdef uint64_t ts
    cdef int64_t ns_per_unit, offset_ns
    cdef Py_ssize_t i
    cdef Py_ssize_t size = 0, cut = 0
    # per-interface values unpacked once per call, not per frame
    cdef int64_t[64] units_small
    cdef int64_t[64] offsets_small
    cdef uint64_t[64] max_ticks  # beyond this, ticks * ns_per_unit + offset leaves int64
    if count > 64:
        return _walk_pcapng_many(buf, pos, little, ifaces, first_iface, number, base, source, out)
    linktypes = []
    iface_objs = []
    for i in range(count):
        lt, npu, off = ifaces[i]
        linktypes.append(lt)
        units_small[i] = npu
        offsets_small[i] = off
        # in Python integers: INT64_MAX - off overflows int64 when off < 0
        max_ticks[i] = (0x7FFFFFFFFFFFFFFF - off) // npu if npu > 0 else 0
        iface_objs.append(first_iface + i)
    while True:
        if end - pos < 8:
            return pos, number, NEED_DATA, size, cut
        btype = _u32(p + pos, little)
        total = _u32(p + pos + 4, little)
        if btype != C_EPB:
            return pos, number, OTHER_BLOCK, size, cut
        if total < 32 or total & 3 or total > C_MAX_BLOCK:
            return pos, number, BAD_RECORD, size, cut
        if end - pos < total:
            return pos, number, NEED_DATA, size, cut
        iface = _u32(p + pos + 8, little)
        caplen = _u32(p + pos + 20, little)
        if _u32(p + pos + total - 4, little) != total or iface >= count or caplen > total - 32:
            return pos, number, BAD_RECORD, size, cut
        ns_per_unit = units_small[iface]
        offset_ns = offsets_small[iface]
        ts = (<uint64_t>_u32(p + pos + 12, little) << 32) | _u32(p + pos + 16, little)
        if ns_per_unit == 0 or ts > max_ticks[iface]:
            return pos, number, OTHER_BLOCK, size, cut
        wirelen = _u32(p + pos + 24, little)
        number += 1
        size += caplen
        cut += caplen < wirelen
        data = PyBytes_FromStringAndSize(<const char*>p + pos + 28, caplen)
        # unsigned arithmetic: ts * ns_per_unit <= INT64_MAX - offset_ns < 2**64, and the
        # two's-complement wrap of adding a negative offset gives the right int64
        PyList_Append(out, _frame(number,
                                  <int64_t>(ts * <uint64_t>ns_per_unit + <uint64_t>offset_ns),
                                  linktypes[iface], data, wirelen, iface_objs[iface], source,
                                  base + pos))
        pos += total


def _walk_pcapng_many(bytes buf, Py_ssize_t pos, bint little, list ifaces,
                      Py_ssize_t first_iface, Py_ssize_t number, Py_ssize_t base,
                      object source, list out):
    """More than 64 interfaces in one section: the plain loop, still exact."""
    from chargescope.analyzer.capture import walk
    return walk.walk_pcapng(buf, pos, little, ifaces, first_iface, number, base, source, out)
