# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython EXI decoder: the hot-path twin of dissectors/exi/_codec.py.

Same functions, signatures and exceptions as the twin:
    decode(data: bytes, grammar: Grammar) -> dict
    encode(tree: dict, grammar: Grammar) -> bytes
    decode_fragment(data: bytes, grammar: Grammar) -> dict
    encode_fragment(name: str, content, grammar: Grammar) -> bytes
Tests run both on the same inputs and require identical output (tests/test_exi_*.py).
"""

import base64
import binascii

from chargescope.dissectors.exi.errors import ExiError
from chargescope.dissectors.exi import _codec as twin
from chargescope.dissectors.exi._codec import (
    ORDER,
    XSI_NIL,
    XSI_TYPE,
    _text_of,
    _untyped_pending,
    put_nil,
    simple_after_type,
    wildcard_at,
    wildcard_order,
    xsi_type_at,
    xsi_type_bits,
)
from chargescope.dissectors.exi.tables import (
    S2_AT,
    S2_CH,
    S2_EE,
    S2_NIL,
    S2_SE,
    S2_TYPE,
    SEW,
    S2_WIDTH,
    expected_events,
)

DEF MAX_DEPTH = 64  # encoder bound; the decoder's comes from Limits.exi_depth
DEF MAX_STRING = 256 * 1024  # Limits.exi_string default

cdef enum:
    K_SE = 0
    K_AT = 1
    K_CH = 2
    K_EE = 3
    D_BIN_HEX = 0
    D_BIN_B64 = 1
    D_BOOL = 2
    D_INT = 3
    D_UINT = 4
    D_NBIT = 5
    D_STR = 6
    D_ENUM = 7
    SHAPE_COMPLEX = 0
    SHAPE_SIMPLE = 1


cdef struct Reader:
    const unsigned char* buf
    Py_ssize_t pos
    Py_ssize_t nbits
    long long max_depth  # Limits.exi_depth
    long long max_string  # Limits.exi_string: characters of a string, bytes of a binary


from cpython.mem cimport PyMem_Free, PyMem_Malloc


cdef extern from "Python.h":
    long long PyLong_AsLongLongAndOverflow(object obj, int* overflow) except? -1


cdef int* _ints(Py_ssize_t n) except NULL:
    cdef int* p = <int*>PyMem_Malloc((n if n > 0 else 1) * sizeof(int))
    if p == NULL:
        raise MemoryError()
    return p


cdef class CTables:
    """A grammar's tables flattened into C arrays, built once per Grammar."""
    cdef int nstates
    cdef int* st_width
    cdef int* st_first
    cdef int* st_nprods
    cdef int* st_w2
    cdef int* st_ee2
    cdef int* st_ch2
    cdef int* st_nil2
    cdef int* st_at2
    cdef int* st_se2
    cdef int* st_empty
    cdef int* st_has_ch
    cdef int* st_content2
    cdef int* p_kind
    cdef int* p_a
    cdef int* p_b
    cdef int* p_list
    cdef int* p_next
    cdef list p_name
    cdef int* dt_kind
    cdef long long* dt_min
    cdef long long* dt_max
    cdef int* dt_bits
    cdef list dt_values
    cdef list dt_index
    cdef object g

    def __cinit__(self, g):
        cdef Py_ssize_t i, j, k, nprods = 0
        self.g = g
        states = g.states
        self.nstates = len(states)
        for st in states:
            nprods += len(st[1])
        self.st_width = _ints(self.nstates)
        self.st_first = _ints(self.nstates)
        self.st_nprods = _ints(self.nstates)
        self.st_w2 = _ints(self.nstates)
        self.st_ee2 = _ints(self.nstates)
        self.st_ch2 = _ints(self.nstates)
        self.st_nil2 = _ints(self.nstates)
        self.st_at2 = _ints(self.nstates)
        self.st_se2 = _ints(self.nstates)
        self.st_empty = _ints(self.nstates)
        self.st_has_ch = _ints(self.nstates)
        self.st_content2 = _ints(self.nstates)
        self.p_kind = _ints(nprods)
        self.p_a = _ints(nprods)
        self.p_b = _ints(nprods)
        self.p_list = _ints(nprods)
        self.p_next = _ints(nprods)
        self.p_name = [None] * nprods
        k = 0
        for i in range(self.nstates):
            st = states[i]
            second = g.second[i]
            self.st_width[i] = st[0]
            self.st_first[i] = k
            self.st_nprods[i] = len(st[1])
            self.st_w2[i] = second[S2_WIDTH]
            self.st_ee2[i] = second[S2_EE]
            self.st_ch2[i] = second[S2_CH]
            self.st_nil2[i] = second[S2_NIL]
            self.st_at2[i] = second[S2_AT]
            self.st_se2[i] = second[S2_SE]
            self.st_empty[i] = g.empty.get(i, -1)
            self.st_has_ch[i] = any(p[0] == K_CH for p in st[1])
            self.st_content2[i] = st[3]
            for prod in st[1]:
                kind = prod[0]
                self.p_kind[k] = kind
                self.p_a[k] = self.p_b[k] = self.p_list[k] = self.p_next[k] = -1
                if kind == K_SE:
                    self.p_name[k] = prod[1]
                    self.p_a[k] = prod[2]
                    self.p_b[k] = prod[3]
                    self.p_list[k] = 1 if prod[4] else 0
                    self.p_next[k] = prod[5]
                elif kind == K_AT:
                    self.p_name[k] = prod[1]
                    self.p_a[k] = prod[2]
                    self.p_next[k] = prod[3]
                    # decode only (another element's attribute in a relaxed grammar)
                    self.p_list[k] = 1 if len(prod) > 5 and prod[5] else 0
                elif kind == K_CH:
                    self.p_a[k] = prod[1]
                    self.p_next[k] = prod[2]
                k += 1
        ndt = len(g.datatypes)
        self.dt_kind = _ints(ndt)
        self.dt_bits = _ints(ndt)
        self.dt_min = <long long*>PyMem_Malloc((ndt if ndt else 1) * sizeof(long long))
        self.dt_max = <long long*>PyMem_Malloc((ndt if ndt else 1) * sizeof(long long))
        if self.dt_min == NULL or self.dt_max == NULL:
            raise MemoryError()
        self.dt_values = [None] * ndt
        self.dt_index = [None] * ndt
        for j in range(ndt):
            dt = g.datatypes[j]
            self.dt_kind[j] = dt[0]
            self.dt_bits[j] = 0
            self.dt_min[j] = 0
            self.dt_max[j] = 0
            if dt[0] == D_NBIT:
                self.dt_min[j] = dt[1]
                self.dt_bits[j] = dt[2]
                self.dt_max[j] = dt[3]
            elif dt[0] == D_ENUM:
                self.dt_values[j] = dt[1]
                self.dt_index[j] = {v: i for i, v in reversed(list(enumerate(dt[1])))}
                self.dt_bits[j] = (len(dt[1]) - 1).bit_length()

    def __dealloc__(self):
        PyMem_Free(self.st_width)
        PyMem_Free(self.st_first)
        PyMem_Free(self.st_nprods)
        PyMem_Free(self.st_w2)
        PyMem_Free(self.st_ee2)
        PyMem_Free(self.st_ch2)
        PyMem_Free(self.st_nil2)
        PyMem_Free(self.st_at2)
        PyMem_Free(self.st_se2)
        PyMem_Free(self.st_empty)
        PyMem_Free(self.st_has_ch)
        PyMem_Free(self.st_content2)
        PyMem_Free(self.p_kind)
        PyMem_Free(self.p_a)
        PyMem_Free(self.p_b)
        PyMem_Free(self.p_list)
        PyMem_Free(self.p_next)
        PyMem_Free(self.dt_kind)
        PyMem_Free(self.dt_bits)
        PyMem_Free(self.dt_min)
        PyMem_Free(self.dt_max)


cdef dict _tables = {}


cdef CTables tables_for(object g):
    cdef CTables t = _tables.get(g.name)
    if t is None or t.g is not g:
        t = CTables(g)
        _tables[g.name] = t
    return t


cdef int _truncated(Reader* r, int n) except -1:
    raise ExiError("exi.truncated", f"stream ends: {n} bits needed, {r.nbits - r.pos} left",
                   r.pos)


cdef inline unsigned long long read_bits(Reader* r, int n) except? 0xFFFFFFFFFFFFFFFF:
    cdef Py_ssize_t p = r.pos
    cdef unsigned long long v = 0
    cdef int avail, take, octet
    if p + n > r.nbits:
        _truncated(r, n)
    while n > 0:
        octet = r.buf[p >> 3]
        avail = 8 - (p & 7)
        take = avail if avail < n else n
        v = (v << take) | ((octet >> (avail - take)) & ((1 << take) - 1))
        p += take
        n -= take
    r.pos = p
    return v


cdef inline unsigned long long read_uint_c(Reader* r, bint* big) except? 0xFFFFFFFFFFFFFFFF:
    """An unsigned integer that fits 63 bits; sets big[0] (position unchanged) otherwise."""
    cdef Py_ssize_t start = r.pos
    cdef Py_ssize_t p = r.pos
    cdef unsigned long long value = 0
    cdef int shift = 0
    cdef unsigned int octet
    cdef const unsigned char* buf = r.buf
    cdef int off
    big[0] = False
    while True:
        if p + 8 > r.nbits:
            raise ExiError("exi.truncated", "stream ends inside an unsigned integer", start)
        off = p & 7
        if off:
            octet = ((buf[p >> 3] << off) | (buf[(p >> 3) + 1] >> (8 - off))) & 0xFF
        else:
            octet = buf[p >> 3]
        p += 8
        value |= (<unsigned long long>(octet & 0x7F)) << shift
        if not octet & 0x80:
            r.pos = p
            return value
        shift += 7
        if shift > 56:
            big[0] = True
            return 0


cdef object read_uint(Reader* r):
    cdef bint big
    cdef unsigned long long small = read_uint_c(r, &big)
    if not big:
        return small
    cdef Py_ssize_t start = r.pos
    cdef object value = 0
    cdef int shift = 0
    cdef unsigned long long octet
    while True:
        if r.pos + 8 > r.nbits:
            raise ExiError("exi.truncated", "stream ends inside an unsigned integer", start)
        octet = read_bits(r, 8)
        value |= (<object>(octet & 0x7F)) << shift
        if not octet & 0x80:
            return value
        shift += 7


cdef bytes read_octets(Reader* r, object length_obj):
    cdef Py_ssize_t start = r.pos
    cdef Py_ssize_t length, i
    if length_obj * 8 > r.nbits - start:
        raise ExiError("exi.value", f"binary length {length_obj} exceeds the "
                       f"{(r.nbits - start) // 8} bytes left", start)
    if length_obj > r.max_string:
        raise ExiError("limit.exi.string", f"binary value of {length_obj} bytes exceeds the "
                       f"exi-string cap of {r.max_string}", start)
    length = length_obj
    if not start & 7:
        r.pos = start + length * 8
        return r.buf[start >> 3:(start >> 3) + length]
    cdef bytearray out = bytearray(length)
    for i in range(length):
        out[i] = <unsigned char>read_bits(r, 8)
    return bytes(out)


cdef object read_string(Reader* r):
    cdef Py_ssize_t start = r.pos
    cdef bint big
    cdef unsigned long long code = read_uint_c(r, &big)
    cdef Py_ssize_t length, i
    cdef unsigned long long point
    if big or code > <unsigned long long>(r.nbits - r.pos) // 8 + 2:
        raise ExiError("exi.value", f"string length {read_uint(r) - 2 if big else code - 2} "
                       "exceeds the bits left", start)
    if code < 2:
        raise ExiError("exi.value", "string-table hit, but the V2G options keep no values "
                       "in the string table", start)
    length = code - 2
    if length > r.max_string:
        raise ExiError("limit.exi.string", f"string of {length} characters exceeds the "
                       f"exi-string cap of {r.max_string}", start)
    cdef bytearray ascii = bytearray(length)
    cdef unsigned char* out = ascii
    cdef list chars = None
    for i in range(length):
        point = read_uint_c(r, &big)
        if big or point > 0x10FFFF:
            raise ExiError("exi.value", "code point out of range", start)
        if chars is None:
            if point < 128:
                out[i] = <unsigned char>point
                continue
            chars = [chr(c) for c in ascii[:i]]
        chars.append(chr(point))
    if chars is None:
        return ascii.decode("ascii")
    return "".join(chars)


cdef object read_value(Reader* r, CTables t, int d):
    cdef int kind = t.dt_kind[d]
    cdef Py_ssize_t start
    cdef unsigned long long index
    cdef tuple values
    if kind == D_NBIT:
        return <long long>read_bits(r, t.dt_bits[d]) + t.dt_min[d]
    if kind == D_UINT:
        return read_uint(r)
    if kind == D_BOOL:
        return read_bits(r, 1) == 1
    if kind == D_INT:
        if read_bits(r, 1):
            return -(read_uint(r) + 1)
        return read_uint(r)
    if kind == D_ENUM:
        start = r.pos
        values = <tuple>t.dt_values[d]
        index = read_bits(r, t.dt_bits[d])
        if index >= <unsigned long long>len(values):
            raise ExiError("exi.value", f"enumeration index {index} of {len(values)} values",
                           start)
        return values[index]
    if kind == D_STR:
        return read_string(r)
    if kind == D_BIN_HEX:
        return read_octets(r, read_uint(r)).hex().upper()
    if kind == D_BIN_B64:
        return base64.b64encode(read_octets(r, read_uint(r))).decode("ascii")
    raise ExiError("exi.unsupported", f"datatype kind {kind}", r.pos)


cdef int second_level(Reader* r, CTables t, int state, Py_ssize_t start) except -1:
    """Which second-level event (tables.S2_*) the code read here is; others unsupported."""
    cdef long long code = <long long>read_bits(r, t.st_w2[state])
    if code == t.st_ee2[state]:
        return S2_EE
    if code == t.st_ch2[state]:
        return S2_CH
    if code == t.st_nil2[state]:
        return S2_NIL
    if code == t.st_se2[state]:
        return S2_SE
    if code == t.st_at2[state]:
        return S2_AT
    if code == t.g.second[state][S2_TYPE]:  # rare: looked up in the Python tables
        return S2_TYPE
    events = t.g.states[state][2]
    name = events[code] if code < len(events) else f"undefined code {code}"
    raise ExiError("exi.unsupported", f"second-level event {name} is not supported", start,
                   state, expected_events(t.g.states, state))


cdef int first_ch(CTables t, int state):
    cdef int k
    for k in range(t.st_first[state], t.st_first[state] + t.st_nprods[state]):
        if t.p_kind[k] == K_CH:
            return k
    return -1


cdef object untyped_value(Reader* r, CTables t, int state):
    text = read_string(r)
    cdef int k = first_ch(t, state)
    cdef int kind
    if k >= 0:
        kind = t.dt_kind[t.p_a[k]]
        if kind == D_INT or kind == D_UINT or kind == D_NBIT:
            try:
                return int(text)
            except ValueError:
                return text
        if kind == D_BOOL and text in ("true", "false"):
            return text == "true"
    return text


cdef object empty_value(CTables t, int state, Py_ssize_t start):
    cdef int k = first_ch(t, state)
    cdef int kind
    if k < 0:
        return None
    kind = t.dt_kind[t.p_a[k]]
    if kind == D_STR or kind == D_BIN_HEX or kind == D_BIN_B64:
        return ""
    raise ExiError("exi.value", "element ended before its value", start)


cdef object wildcard(Reader* r, CTables t, int event, object uri, dict node, int depth,
                     list ctx):
    """Undeclared / wildcard content (rare): the twin decodes it from the same position and
    the stream's string table lives in ctx[1] between calls. The element's key (None for
    an attribute)."""
    r.pos, ctx[1], key = wildcard_at(ctx[0], r.pos, ctx[1], t.g, event, uri, node, depth,
                                     r.max_depth, r.max_string)
    return key


cdef int element(Reader* r, CTables t, int state, int shape, dict parent, str name,
                 bint is_list, int depth, list ctx) except -1:
    cdef dict node = None
    cdef object value = None
    cdef list placed = None  # [key, declared children before it] of wildcard children
    cdef int declared = 0  # declared child elements so far
    cdef int width, kind, k
    cdef Py_ssize_t start, nprods
    cdef unsigned long long code
    if depth > r.max_depth:
        raise ExiError("limit.exi.depth", f"elements nested deeper than the exi-depth cap "
                       f"of {r.max_depth}", r.pos)
    if shape == SHAPE_COMPLEX:
        node = {}
        if is_list:
            lst = parent.get(name)
            if lst is None:
                parent[name] = [node]
            else:
                lst.append(node)
        else:
            parent[name] = node
    try:
        while True:
            width = t.st_width[state]
            nprods = t.st_nprods[state]
            start = r.pos
            code = read_bits(r, width) if width else 0
            if code >= <unsigned long long>nprods:
                if code > <unsigned long long>nprods:
                    raise ExiError("exi.event_code", f"event code {code} is undefined here",
                                   start, state, expected_events(t.g.states, state))
                event = second_level(r, t, state, start)
                if event == S2_EE:
                    if value is None:
                        value = empty_value(t, state, start)
                        if shape == SHAPE_COMPLEX and value is not None:
                            node["value"] = value
                    break
                if event == S2_TYPE:  # rare: the twin reads the qname (string table)
                    if node is None:
                        node = {}
                    r.pos, ctx[1], key, state = xsi_type_at(ctx[0], r.pos, ctx[1], t.g, shape,
                                                            start)
                    node[XSI_TYPE] = key
                    continue
                if event == S2_SE or event == S2_AT:
                    if node is None:
                        node = {}
                    key = wildcard(r, t, event, None, node, depth, ctx)
                    if key is not None:
                        if placed is None:
                            placed = []
                        placed.append([key, declared])
                    if event == S2_SE and t.st_content2[state] >= 0:
                        state = t.st_content2[state]
                    continue
                if event == S2_NIL:
                    nil = read_bits(r, 1) == 1
                    if shape == SHAPE_COMPLEX:
                        node[XSI_NIL] = nil
                    elif nil:
                        value = {XSI_NIL: True}
                    else:  # a simple-typed element then becomes {"xsi:nil": false, "value"}
                        if node is None:
                            node = {}
                        node[XSI_NIL] = False
                    if nil:
                        state = t.st_empty[state]
                    continue
                value = untyped_value(r, t, state)
                if shape == SHAPE_COMPLEX:
                    node["value"] = value
                if t.st_content2[state] >= 0:
                    state = t.st_content2[state]
                continue
            k = t.st_first[state] + <int>code
            kind = t.p_kind[k]
            if kind == K_SE:
                declared += 1
                element(r, t, t.p_a[k], t.p_b[k], node, <str>t.p_name[k], t.p_list[k],
                        depth + 1, ctx)
                state = t.p_next[k]
            elif kind == K_CH:
                value = read_value(r, t, t.p_a[k])
                if shape == SHAPE_COMPLEX:
                    node["value"] = value
                state = t.p_next[k]
            elif kind == K_AT:
                node[<str>t.p_name[k]] = read_value(r, t, t.p_a[k])
                state = t.p_next[k]
            elif kind == K_EE:
                break
            else:  # SE(*) / SE(uri:*) / AT(*) of a wildcard or the ur-type
                if node is None:
                    node = {}
                key = wildcard(r, t, SEW if kind == SEW else S2_AT,
                               t.g.states[state][1][code][1], node, depth, ctx)
                if key is not None:
                    if placed is None:
                        placed = []
                    placed.append([key, declared])
                state = t.g.states[state][1][code][2]
    except ExiError as exc:
        if exc.state is None:
            exc.state = state
            exc.expected = expected_events(t.g.states, state)
        exc.path.insert(0, name)
        raise
    if placed is not None:
        order = wildcard_order(placed, declared, node)
        if order is not None:
            node[ORDER] = order
    if shape == SHAPE_SIMPLE:
        if node:  # undeclared content in a simple-typed element: an object after all
            value = node if value is None else {**node, "value": value}
        if is_list:
            lst = parent.get(name)
            if lst is None:
                parent[name] = [value]
            else:
                lst.append(value)
        else:
            parent[name] = value
    return 0


cdef int read_header(Reader* r, bytes buf) except -1:
    cdef unsigned long long bits
    cdef Py_ssize_t start
    if r.nbits >= 32 and buf[:4] == b"$EXI":
        r.pos = 32
    start = r.pos
    bits = read_bits(r, 8)
    if bits >> 6 != 2:
        raise ExiError("exi.header", f"distinguishing bits {bits >> 6:02b}, expected 10",
                       start)
    if bits & 0x20:
        raise ExiError("exi.header", "EXI options in the header are not supported (the "
                       "V2G profile sends none)", start)
    if bits & 0x1F:
        raise ExiError("exi.header", f"EXI version field {bits & 0x1F:05b}, expected "
                       "00000 (final version 1)", start)
    return 0


def decode_fragment(data, g, long long max_depth=MAX_DEPTH, long long max_string=MAX_STRING):
    """An EXI fragment (§8.5.2): zero or more elements, then ED; a repeated root element
    becomes a list of its contents."""
    cdef bytes buf = data if type(data) is bytes else bytes(data)
    cdef Reader r
    cdef dict tree = {}
    cdef set repeated = set()
    cdef unsigned long long code
    cdef Py_ssize_t start, count
    cdef CTables t = tables_for(g)
    cdef list ctx = [buf, None]
    r.buf = buf
    r.pos = 0
    r.nbits = len(buf) * 8
    r.max_depth = max_depth
    r.max_string = max_string
    try:
        read_header(&r, buf)
        width, elements = g.fragment
        count = len(elements)
        while True:
            start = r.pos
            code = read_bits(&r, width)
            if code == <unsigned long long>count:  # SE(*)
                wildcard(&r, t, SEW, None, tree, -1, ctx)
                continue
            if code >= <unsigned long long>count:
                if code == <unsigned long long>(count + 1):
                    break
                raise ExiError("exi.event_code",
                               f"fragment event code {code} is not a declared element",
                               start, None, tuple(f"SE({x[0]})" for x in elements)
                               + ("SE(*)", "ED"))
            name, state, shape = elements[code][:3]
            if name in tree and name not in repeated:
                tree[name] = [tree[name]]
                repeated.add(name)
            element(&r, t, state, shape, tree, name, name in repeated, 0, ctx)
    except ExiError as exc:
        exc.partial = tree
        raise
    return tree


def decode(data, g, long long max_depth=MAX_DEPTH, long long max_string=MAX_STRING):
    cdef bytes buf = data if type(data) is bytes else bytes(data)
    cdef Reader r
    cdef dict tree = {}
    cdef unsigned long long code
    cdef Py_ssize_t start
    cdef CTables t = tables_for(g)
    r.buf = buf
    r.pos = 0
    r.nbits = len(buf) * 8
    r.max_depth = max_depth
    r.max_string = max_string
    try:
        read_header(&r, buf)
        width, roots = g.document
        start = r.pos
        code = read_bits(&r, width)
        if code >= <unsigned long long>len(roots):
            raise ExiError("exi.unsupported" if code == len(roots) else "exi.event_code",
                           f"document starts with event code {code}, not a declared root "
                           "element", start, None, tuple(f"SE({x[0]})" for x in roots))
        name, state, shape = roots[code][:3]
        element(&r, t, state, shape, tree, name, False, 0, [buf, None])
    except ExiError as exc:
        exc.partial = tree
        raise
    return tree


# ---------------------------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------------------------
cdef class Writer:
    """Bits into a bytearray; a 64-bit accumulator holds fewer than 8 pending bits."""
    cdef bytearray out
    cdef unsigned long long acc
    cdef int nacc

    def __cinit__(self):
        self.out = bytearray()
        self.acc = 0
        self.nacc = 0

    cdef inline void bits(self, unsigned long long value, int n):
        # n <= 56 keeps acc within 64 bits (nacc < 8)
        self.acc = (self.acc << n) | value
        self.nacc += n
        while self.nacc >= 8:
            self.nacc -= 8
            self.out.append(<unsigned char>((self.acc >> self.nacc) & 0xFF))
        self.acc &= (1ULL << self.nacc) - 1

    cdef void uint_c(self, unsigned long long value):
        cdef unsigned long long low
        while True:
            low = value & 0x7F
            value >>= 7
            if value:
                self.bits(low | 0x80, 8)
            else:
                self.bits(low, 8)
                return

    cdef void uint(self, object value):
        if value < 0x8000000000000000:
            self.uint_c(<unsigned long long>value)
            return
        while True:
            low = value & 0x7F
            value >>= 7
            if value:
                self.bits(<unsigned long long>(low | 0x80), 8)
            else:
                self.bits(<unsigned long long>low, 8)
                return

    cdef bytes getvalue(self):
        if self.nacc:
            return bytes(self.out) + bytes([(self.acc << (8 - self.nacc)) & 0xFF])
        return bytes(self.out)


cdef object tree_error(list path, str detail):
    exc = ExiError("exi.tree", detail)
    exc.path = list(path)
    return exc


cdef int put_value(Writer w, CTables t, int d, object value, list path) except -1:
    cdef int kind = t.dt_kind[d]
    cdef long long v
    cdef int overflow
    if kind == D_NBIT or kind == D_UINT or kind == D_INT:
        if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
            raise tree_error(path, f"expected an integer, got {value!r}")
        if kind == D_NBIT:
            v = PyLong_AsLongLongAndOverflow(value, &overflow)
            if overflow or not t.dt_min[d] <= v <= t.dt_max[d]:
                raise tree_error(path, f"{value} outside [{t.dt_min[d]}, {t.dt_max[d]}]")
            w.bits(<unsigned long long>(v - t.dt_min[d]), t.dt_bits[d])
        elif kind == D_UINT:
            if value < 0:
                raise tree_error(path, f"expected an unsigned integer, got {value}")
            w.uint(value)
        elif value < 0:
            w.bits(1, 1)
            w.uint(-value - 1)
        else:
            w.bits(0, 1)
            w.uint(value)
    elif kind == D_BOOL:
        if not isinstance(value, bool):
            raise tree_error(path, f"expected a boolean, got {value!r}")
        w.bits(1 if value else 0, 1)
    elif kind == D_ENUM:
        index = (<dict>t.dt_index[d]).get(value) if isinstance(value, (str, int)) else None
        if index is None or isinstance(value, bool) != isinstance(
                (<tuple>t.dt_values[d])[index], bool):
            raise tree_error(path, f"{value!r} is not one of {t.dt_values[d]}")
        w.bits(<unsigned long long>index, t.dt_bits[d])
    elif kind == D_STR:
        put_string(w, value, path)
    elif kind == D_BIN_HEX or kind == D_BIN_B64:
        try:
            raw = bytes.fromhex(value) if kind == D_BIN_HEX else base64.b64decode(
                value, validate=True)
        except (ValueError, TypeError, binascii.Error):
            raise tree_error(path, f"expected {'hex' if kind == D_BIN_HEX else 'base64'} "
                             f"text, got {value!r}") from None
        put_octets(w, raw)
    else:
        raise tree_error(path, f"datatype kind {kind} cannot be encoded")
    return 0


cdef int put_string(Writer w, object value, list path) except -1:
    cdef Py_UCS4 ch
    if not isinstance(value, str):
        raise tree_error(path, f"expected a string, got {value!r}")
    w.uint_c(len(<str>value) + 2)
    for ch in <str>value:
        w.uint_c(<unsigned long long>ch)
    return 0


cdef void put_octets(Writer w, bytes raw):
    cdef const unsigned char* p = raw
    cdef Py_ssize_t i, n = len(raw)
    w.uint_c(n)
    if w.nacc == 0:
        w.out += raw
        return
    for i in range(n):
        w.bits(p[i], 8)


cdef bint int_out_of_range(CTables t, int d, object value) except -1:
    """An integer the datatype cannot carry: the reference encoder sends it untyped."""
    cdef int kind = t.dt_kind[d]
    cdef int overflow
    cdef long long v
    if type(value) is not int:
        if not isinstance(value, int) or isinstance(value, bool):
            return False
    v = PyLong_AsLongLongAndOverflow(value, &overflow)
    if kind == D_NBIT:
        return overflow != 0 or not t.dt_min[d] <= v <= t.dt_max[d]
    if kind == D_UINT:
        return overflow < 0 or (not overflow and v < 0)
    return False


cdef int put_characters(Writer w, CTables t, int state, int k, object value,
                        list path) except -1:
    """CH for value (or untyped CH for an integer out of range); returns the next state."""
    cdef int width = t.st_width[state]
    cdef int kind = t.dt_kind[t.p_a[k]]
    if (kind == D_NBIT or kind == D_UINT) and int_out_of_range(t, t.p_a[k], value):
        w.bits(<unsigned long long>t.st_nprods[state], width)
        w.bits(<unsigned long long>t.st_ch2[state], t.st_w2[state])
        put_string(w, str(value), path)
        return state if t.st_content2[state] < 0 else t.st_content2[state]
    if width:
        w.bits(<unsigned long long>(k - t.st_first[state]), width)
    put_value(w, t, t.p_a[k], value, path)
    return t.p_next[k]


cdef int put_end(Writer w, CTables t, int state, list path) except -1:
    """EE at `state`: first level when the grammar has it there, else second level."""
    cdef int k
    for k in range(t.st_first[state], t.st_first[state] + t.st_nprods[state]):
        if t.p_kind[k] == K_EE:
            if t.st_width[state]:
                w.bits(<unsigned long long>(k - t.st_first[state]), t.st_width[state])
            return 0
    if t.st_ee2[state] < 0:
        raise tree_error(path, f"no event of {expected_events(t.g.states, state)} fits "
                         f"the remaining keys []")
    w.bits(<unsigned long long>t.st_nprods[state], t.st_width[state])
    w.bits(<unsigned long long>t.st_ee2[state], t.st_w2[state])
    return 0


cdef int put_simple(Writer w, CTables t, int state, object value, list path) except -1:
    """A simple-typed element: CH then EE (an empty string/binary value is EE alone)."""
    cdef int k = first_ch(t, state)
    cdef int dkind
    if k < 0:
        raise tree_error(path, f"no event of {expected_events(t.g.states, state)} fits "
                         f"the remaining keys ['value']")
    dkind = t.dt_kind[t.p_a[k]]
    if not (value == "" and isinstance(value, str)
            and (dkind == D_STR or dkind == D_BIN_HEX or dkind == D_BIN_B64)):
        state = put_characters(w, t, state, k, value, path)
    return put_end(w, t, state, path)


cdef int put_element(Writer w, CTables t, int state, int shape, object content, list path,
                     int depth) except -1:
    cdef dict items
    cdef dict used = {}
    cdef int width, k, first, last, chosen, ee_code, kind, n, count
    cdef str key
    if depth > MAX_DEPTH:
        raise tree_error(path, f"tree nested deeper than {MAX_DEPTH}")
    if type(content) is dict and XSI_TYPE in <dict>content:
        fields, state = xsi_type_bits(t.g, state, shape, content, path)
        for field in fields:
            w.bits(<unsigned long long>field[0], field[1])
        used[XSI_TYPE] = 1
        if shape == SHAPE_SIMPLE:
            content = simple_after_type(<dict>content)
    if t.st_empty[state] >= 0 and type(content) is dict and XSI_NIL in <dict>content:
        nil = put_nil(None, t.g, state, shape, content, path)
        w.bits(<unsigned long long>t.st_nprods[state], t.st_width[state])
        w.bits(<unsigned long long>t.st_nil2[state], t.st_w2[state])
        w.bits(1 if nil else 0, 1)
        used[XSI_NIL] = 1
        if nil:
            state, shape = t.st_empty[state], SHAPE_COMPLEX
        elif shape == SHAPE_SIMPLE:
            content = (<dict>content)["value"]
    if shape == SHAPE_SIMPLE:
        return put_simple(w, t, state, content, path)
    if isinstance(content, dict):
        items = <dict>content
    else:
        raise tree_error(path, f"expected an object, got {content!r}")
    cdef bint has_value = "value" in items
    while True:
        width = t.st_width[state]
        first = t.st_first[state]
        last = first + t.st_nprods[state]
        if has_value and not t.st_has_ch[state] and t.st_ch2[state] >= 0 and \
                not used.get("value") and \
                _untyped_pending(t.g, state, t.g.states[state][1], items, used):
            used["value"] = 1
            w.bits(<unsigned long long>t.st_nprods[state], width)
            w.bits(<unsigned long long>t.st_ch2[state], t.st_w2[state])
            put_string(w, _text_of(items["value"], path), path)
            if t.st_content2[state] >= 0:
                state = t.st_content2[state]
            continue
        chosen = -1
        ee_code = -1
        for k in range(first, last):
            kind = t.p_kind[k]
            if kind == K_SE or kind == K_AT:
                if kind == K_AT and t.p_list[k]:
                    continue
                key = <str>t.p_name[k]
                value = items.get(key, _MISSING)
                if value is not _MISSING:
                    if kind == K_SE and t.p_list[k]:
                        if not isinstance(value, list):
                            raise tree_error(path + [key], "expected a list (maxOccurs > 1)")
                        count = len(<list>value)
                    else:
                        count = 1
                    if used.get(key, 0) < count:
                        chosen = k
                        break
            elif kind == K_CH:
                if "value" in items and not used.get("value"):
                    dkind = t.dt_kind[t.p_a[k]]
                    if items["value"] == "" and (dkind == D_STR or dkind == D_BIN_HEX
                                                 or dkind == D_BIN_B64):
                        used["value"] = 1
                        continue
                    chosen = k
                    break
            elif kind == K_EE and ee_code < 0:
                ee_code = k
        if chosen < 0:
            chosen = ee_code
        if chosen < 0:
            leftover = [x for x in items if used.get(x, 0) == 0]
            if leftover or t.st_ee2[state] < 0:
                raise tree_error(path, f"no event of {expected_events(t.g.states, state)} "
                                 f"fits the remaining keys {leftover}")
            w.bits(<unsigned long long>t.st_nprods[state], width)
            w.bits(<unsigned long long>t.st_ee2[state], t.st_w2[state])
            return 0
        kind = t.p_kind[chosen]
        if kind == K_CH:
            used["value"] = 1
            state = put_characters(w, t, state, chosen, items["value"], path)
            continue
        if width:
            w.bits(<unsigned long long>(chosen - first), width)
        if kind == K_EE:
            leftover = [x for x in items if x not in used]
            if leftover:
                raise tree_error(path, f"keys {leftover} are not allowed here by the schema")
            return 0
        key = <str>t.p_name[chosen]
        if kind == K_SE:
            n = used.get(key, 0)
            used[key] = n + 1
            child = items[key][n] if t.p_list[chosen] else items[key]
            path.append(key)
            put_element(w, t, t.p_a[chosen], t.p_b[chosen], child, path, depth + 1)
            path.pop()
            state = t.p_next[chosen]
        else:
            used[key] = 1
            path.append(key)
            put_value(w, t, t.p_a[chosen], items[key], path)
            path.pop()
            state = t.p_next[chosen]


cdef object _MISSING = object()


def encode(tree, g):
    if not isinstance(tree, dict) or len(tree) != 1:
        raise tree_error([], "the tree must be an object with exactly one root element")
    (name, content), = tree.items()
    index = g.roots.get(name)
    if index is None:
        raise tree_error([name], f"{name!r} is not a root element of {g.name}")
    cdef CTables t = tables_for(g)
    cdef Writer w = Writer()
    w.bits(0x80, 8)
    width, roots = g.document
    w.bits(<unsigned long long>index, width)
    _, state, shape = roots[index][:3]
    try:
        put_element(w, t, state, shape, content, [name], 0)
    except ExiError as exc:
        # undeclared / wildcard content (rare; it needs the stream's string table): the twin
        # writes the whole tree, or raises its own error for a tree that is wrong
        if exc.kind != "exi.tree":
            raise
        return twin.encode(tree, g)
    return w.getvalue()


def encode_fragment(name, content, g):
    if not isinstance(name, str) or name not in g.fragment_index:
        raise tree_error([str(name)], f"{name!r} is not an element of {g.name}")
    index = g.fragment_index[name]
    width, elements = g.fragment
    local, state, shape = elements[index][:3]
    cdef CTables t = tables_for(g)
    cdef Writer w = Writer()
    w.bits(0x80, 8)
    w.bits(<unsigned long long>index, width)
    try:
        put_element(w, t, state, shape, content, [local], 0)
    except ExiError as exc:
        if exc.kind != "exi.tree":  # undeclared / wildcard content: as in encode()
            raise
        return twin.encode_fragment(name, content, g)
    w.bits(<unsigned long long>(len(elements) + 1), width)
    return w.getvalue()
