# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython EXI decoder: the hot-path twin of dissectors/exi/_codec.py.

Same functions, signatures and exceptions as the twin:
    decode(data: bytes, grammar: Grammar) -> dict
    encode(tree: dict, grammar: Grammar) -> bytes   (the twin's encoder, not yet compiled)
Tests run both on the same inputs and require identical output (tests/test_exi_*.py).
"""

import base64

from chargescope.dissectors.exi._codec import encode  # noqa: F401  (shared, see docstring)
from chargescope.dissectors.exi.errors import ExiError
from chargescope.dissectors.exi.tables import expected_events

DEF MAX_DEPTH = 64

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


cdef object read_uint(Reader* r):
    cdef Py_ssize_t start = r.pos
    cdef unsigned long long value = 0
    cdef int shift = 0
    cdef unsigned long long octet
    cdef object big
    while True:
        if r.pos + 8 > r.nbits:
            raise ExiError("exi.truncated", "stream ends inside an unsigned integer", start)
        octet = read_bits(r, 8)
        if shift <= 56:
            value |= (octet & 0x7F) << shift
            if not octet & 0x80:
                return value
            shift += 7
        else:
            # beyond 63 bits: continue in Python integers
            big = value
            while True:
                big |= (<object>(octet & 0x7F)) << shift
                if not octet & 0x80:
                    return big
                shift += 7
                if r.pos + 8 > r.nbits:
                    raise ExiError("exi.truncated", "stream ends inside an unsigned integer",
                                   start)
                octet = read_bits(r, 8)


cdef bytes read_octets(Reader* r, object length_obj):
    cdef Py_ssize_t start = r.pos
    cdef Py_ssize_t length, i
    if length_obj * 8 > r.nbits - start:
        raise ExiError("exi.value", f"binary length {length_obj} exceeds the "
                       f"{(r.nbits - start) // 8} bytes left", start)
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
    cdef object code = read_uint(r)
    cdef Py_ssize_t length, i
    cdef object point
    if code < 2:
        raise ExiError("exi.value", "string-table hit, but the V2G options keep no values "
                       "in the string table", start)
    if (code - 2) * 8 > r.nbits - r.pos:
        raise ExiError("exi.value", f"string length {code - 2} exceeds the bits left", start)
    length = code - 2
    cdef bytearray ascii = bytearray(length)
    cdef list chars = None
    for i in range(length):
        point = read_uint(r)
        if chars is None and point < 128:
            ascii[i] = <unsigned char>point
            continue
        if point > 0x10FFFF:
            raise ExiError("exi.value", f"code point {point:#x} out of range", start)
        if chars is None:
            chars = [chr(c) for c in ascii[:i]]
        chars.append(chr(point))
    if chars is None:
        return ascii.decode("ascii")
    return "".join(chars)


cdef object read_value(Reader* r, tuple dt):
    cdef int kind = dt[0]
    cdef Py_ssize_t start
    cdef unsigned long long index
    cdef tuple values
    if kind == D_NBIT:
        return <long long>read_bits(r, dt[2]) + <long long>dt[1]
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
        values = dt[1]
        index = read_bits(r, (len(values) - 1).bit_length())
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


cdef bint second_level_end(Reader* r, object g, int state, Py_ssize_t start) except -1:
    cdef tuple second = g.second[state]
    cdef unsigned long long code = read_bits(r, second[0])
    if <long long>code == <long long>second[1]:
        return True
    if <long long>code == <long long>second[2]:
        return False
    events = g.states[state][2]
    name = events[code] if code < <unsigned long long>len(events) else f"undefined code {code}"
    raise ExiError("exi.unsupported", f"second-level event {name} is not supported", start,
                   state, expected_events(g.states, state))


cdef object untyped_value(Reader* r, tuple datatypes, tuple prods):
    text = read_string(r)
    for prod in prods:
        if prod[0] == K_CH:
            kind = datatypes[prod[1]][0]
            if kind == D_INT or kind == D_UINT or kind == D_NBIT:
                try:
                    return int(text)
                except ValueError:
                    return text
            if kind == D_BOOL and text in ("true", "false"):
                return text == "true"
    return text


cdef object empty_value(tuple datatypes, tuple prods, Py_ssize_t start):
    for prod in prods:
        if prod[0] == K_CH:
            kind = datatypes[prod[1]][0]
            if kind == D_STR or kind == D_BIN_HEX or kind == D_BIN_B64:
                return ""
            raise ExiError("exi.value", "element ended before its value", start)
    return None


cdef int element(Reader* r, object g, tuple states, tuple datatypes, int state, int shape,
                 dict parent, str name, bint is_list, int depth) except -1:
    cdef dict node = {}
    cdef object value = None
    cdef tuple st, prods, prod
    cdef int width, kind, content2
    cdef Py_ssize_t start, nprods
    cdef unsigned long long code
    if depth > MAX_DEPTH:
        raise ExiError("exi.value", f"elements nested deeper than {MAX_DEPTH}", r.pos)
    if shape == SHAPE_COMPLEX:
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
            st = <tuple>states[state]
            width = st[0]
            prods = <tuple>st[1]
            nprods = len(prods)
            start = r.pos
            code = read_bits(r, width) if width else 0
            if code >= <unsigned long long>nprods:
                if code > <unsigned long long>nprods:
                    raise ExiError("exi.event_code", f"event code {code} is undefined here",
                                   start, state, expected_events(states, state))
                if second_level_end(r, g, state, start):
                    if value is None:
                        value = empty_value(datatypes, prods, start)
                        if shape == SHAPE_COMPLEX and value is not None:
                            node["value"] = value
                    break
                value = untyped_value(r, datatypes, prods)
                if shape == SHAPE_COMPLEX:
                    node["value"] = value
                content2 = st[3]
                if content2 >= 0:
                    state = content2
                continue
            prod = <tuple>prods[code]
            kind = prod[0]
            if kind == K_SE:
                element(r, g, states, datatypes, prod[2], prod[3], node, prod[1], prod[4],
                        depth + 1)
                state = prod[5]
            elif kind == K_CH:
                value = read_value(r, <tuple>datatypes[prod[1]])
                if shape == SHAPE_COMPLEX:
                    node["value"] = value
                state = prod[2]
            elif kind == K_AT:
                node[prod[1]] = read_value(r, <tuple>datatypes[prod[2]])
                state = prod[3]
            elif kind == K_EE:
                break
            else:
                raise ExiError("exi.unsupported", "wildcard element content is not supported",
                               start, state, expected_events(states, state))
    except ExiError as exc:
        if exc.state is None:
            exc.state = state
            exc.expected = expected_events(states, state)
        exc.path.insert(0, name)
        raise
    if shape == SHAPE_SIMPLE:
        if is_list:
            lst = parent.get(name)
            if lst is None:
                parent[name] = [value]
            else:
                lst.append(value)
        else:
            parent[name] = value
    return 0


def decode(data, g):
    cdef bytes buf = bytes(data)
    cdef Reader r
    cdef dict tree = {}
    cdef unsigned long long bits, code
    cdef Py_ssize_t start
    r.buf = buf
    r.pos = 0
    r.nbits = len(buf) * 8
    try:
        if r.nbits >= 32 and buf[:4] == b"$EXI":
            r.pos = 32
        start = r.pos
        bits = read_bits(&r, 8)
        if bits >> 6 != 2:
            raise ExiError("exi.header", f"distinguishing bits {bits >> 6:02b}, expected 10",
                           start)
        if bits & 0x20:
            raise ExiError("exi.header", "EXI options in the header are not supported (the "
                           "V2G profile sends none)", start)
        if bits & 0x1F:
            raise ExiError("exi.header", f"EXI version field {bits & 0x1F:05b}, expected "
                           "00000 (final version 1)", start)
        width, roots = g.document
        start = r.pos
        code = read_bits(&r, width)
        if code >= <unsigned long long>len(roots):
            raise ExiError("exi.unsupported" if code == len(roots) else "exi.event_code",
                           f"document starts with event code {code}, not a declared root "
                           "element", start, None, tuple(f"SE({x[0]})" for x in roots))
        name, state, shape = roots[code]
        element(&r, g, g.states, g.datatypes, state, shape, tree, name, False, 0)
    except ExiError as exc:
        exc.partial = tree
        raise
    return tree
