# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython MME decoder: same functions and results as dissectors/homeplug/_decode.py.

Runs the programs compiled from the construct layouts (dissectors/homeplug/program.py);
every read is bounds-checked against `end` before the pointer is touched.
"""

cdef enum:
    K_U8 = 0
    K_U16 = 1
    K_U32 = 2
    K_U64 = 3
    K_MAC = 4
    K_HEX = 5
    K_TEXT = 6
    K_HEXVAR = 7
    K_TEXTVAR = 8
    K_HEXREST = 9
    K_U8LIST = 10
    K_GROUP = 11
    K_SWITCH = 12
    K_STRUCT = 13
    K_NIBBLES = 14
    K_BITS = 15
    K_GP_TLVS = 16
    K_TEXTREST = 17
    ANY_MMV = 0xFF
    TLV_TYPE_VENDOR = 0x1F

cdef const char* _DIGITS = b"0123456789abcdef"


cdef inline str _mac(const unsigned char* p):
    cdef char out[17]
    cdef int i
    for i in range(6):
        out[i * 3] = _DIGITS[p[i] >> 4]
        out[i * 3 + 1] = _DIGITS[p[i] & 15]
        if i < 5:
            out[i * 3 + 2] = 58  # ':'
    return out[:17].decode("ascii")


cdef inline object _text(bytes chunk):
    return chunk.split(b"\x00", 1)[0].decode("ascii", "backslashreplace")


cdef tuple _gp_tlvs(bytes buf, Py_ssize_t pos, Py_ssize_t end, object name):
    """CM_SLAC_USER_DATA TLVs: (items, stop, problem); ends at a zero header or < 2 octets."""
    cdef const unsigned char* p = buf
    cdef list items = []
    cdef unsigned int header, tlv_type, length
    cdef bytes value
    while end - pos >= 2:
        header = p[pos] | (p[pos + 1] << 8)
        if header == 0:
            return items, pos + 2, None
        tlv_type = header >> 9
        length = header & 0x1FF
        if pos + 2 + <Py_ssize_t>length > end:
            return items, pos, (name, pos, 2 + length, end - pos)
        value = buf[pos + 2:pos + 2 + length]
        if tlv_type == TLV_TYPE_VENDOR and length >= 4:
            items.append({"type": tlv_type, "length": length, "oui": value[:3].hex(":"),
                          "subtype": p[pos + 5], "value": value[4:].hex()})
        else:
            items.append({"type": tlv_type, "length": length, "value": value.hex()})
        pos += 2 + length
    return items, pos, None


cdef tuple _decode_body(tuple program, bytes buf, Py_ssize_t start, Py_ssize_t end):
    cdef dict out = {}
    cdef Py_ssize_t pos = start, size, i, count
    cdef const unsigned char* p = buf
    cdef int kind, shift, width
    cdef object name, a, b, case, items, item, problem, sel, field
    cdef unsigned long long value
    cdef tuple ins, sub
    for ins in program:
        kind = ins[0]
        name = ins[1]
        a = ins[2]
        b = ins[3]
        if kind == K_SWITCH:
            if type(a) is tuple:
                case = (<dict>b).get(tuple([out.get(sel) for sel in <tuple>a]))
            else:
                case = (<dict>b).get(out.get(a))
            if case is None:
                out[name] = None
                continue
            kind = (<tuple>case)[0]
            name = (<tuple>case)[1]
            a = (<tuple>case)[2]
            b = (<tuple>case)[3]
        if kind == K_U8:
            size = 1
        elif kind == K_U16:
            size = 2
        elif kind == K_U32:
            size = 4
        elif kind == K_U64:
            size = 8
        elif kind == K_MAC:
            size = 6
        elif kind == K_HEX or kind == K_TEXT:
            size = a
        elif kind == K_HEXVAR or kind == K_TEXTVAR or kind == K_U8LIST:
            size = out[a]
        elif kind == K_HEXREST or kind == K_TEXTREST:
            size = end - pos
        elif kind == K_NIBBLES:
            size = (<Py_ssize_t>out[a] + 1) >> 1
        elif kind == K_BITS:  # a packed little-endian integer: its fields go in this record
            size = a
            if pos + size > end:
                return out, pos, (name, pos, size, end - pos)
            value = 0
            for i in range(size - 1, -1, -1):
                value = (value << 8) | p[pos + i]
            for field in <tuple>b:
                shift = (<tuple>field)[1]
                width = (<tuple>field)[2]
                out[(<tuple>field)[0]] = (value >> shift) & ((<unsigned long long>0xFFFFFFFFFFFFFFFF) >> (64 - width))
            pos += size
            continue
        elif kind == K_GP_TLVS:
            sub = _gp_tlvs(buf, pos, end, name)
            out[name] = sub[0]
            pos = sub[1]
            if sub[2] is not None:
                return out, pos, sub[2]
            continue
        elif kind == K_STRUCT:
            sub = _decode_body(<tuple>b, buf, pos, end)
            out[name] = sub[0]
            pos = sub[1]
            if sub[2] is not None:
                return out, pos, sub[2]
            continue
        else:  # K_GROUP
            items = []
            out[name] = items
            count = out[a]
            for i in range(count):
                sub = _decode_body(<tuple>b, buf, pos, end)
                item = sub[0]
                pos = sub[1]
                problem = sub[2]
                items.append(item)
                if problem is not None:
                    return out, pos, problem
            continue
        if pos + size > end:
            return out, pos, (name, pos, size, end - pos)
        if kind == K_U8:
            out[name] = p[pos]
        elif kind <= K_U64:
            value = 0
            for i in range(size - 1, -1, -1):
                value = (value << 8) | p[pos + i]
            out[name] = value
        elif kind == K_MAC:
            out[name] = _mac(p + pos)
        elif kind == K_TEXT or kind == K_TEXTVAR:
            out[name] = _text(buf[pos:pos + size])
        elif kind == K_TEXTREST:
            out[name] = buf[pos:pos + size].split(b"\x00", 1)[0].decode("utf-8", "backslashreplace")
        elif kind == K_U8LIST:
            out[name] = [p[pos + i] for i in range(size)]
        else:
            out[name] = buf[pos:pos + size].hex()
        pos += size
    return out, pos, None


def decode_body(tuple program not None, bytes buf not None, Py_ssize_t start, Py_ssize_t end):
    """Run `program` over buf[start:end]: (fields, stop offset, problem or None)."""
    if start < 0:
        raise ValueError("start must not be negative")
    if end > len(buf):
        end = len(buf)
    return _decode_body(program, buf, start, end)


def decode_mme(bytes buf not None, Py_ssize_t start, Py_ssize_t end, dict table not None):
    """Header, dispatch and body of one MME in buf[start:end] (see the twin's doc)."""
    cdef const unsigned char* p = buf
    cdef Py_ssize_t pos
    cdef int mmv, mmtype, fmi = 0, fmsn = 0
    cdef long long oui = -1, key_oui
    cdef object entry
    cdef tuple body
    if start < 0:
        raise ValueError("start must not be negative")
    if end > len(buf):
        end = len(buf)
    if end - start < 3:
        return (-1, -1, 0, 0, -1, start, None, None, start, ("mmtype", start, 3, end - start))
    mmv = p[start]
    mmtype = p[start + 1] | (p[start + 2] << 8)
    pos = start + 3
    if mmv >= 1:
        if end - pos < 2:
            return (mmv, mmtype, 0, 0, -1, pos, None, None, pos, ("fmi", pos, 2, end - pos))
        fmi = p[pos]
        fmsn = p[pos + 1]
        pos += 2
    if 0x8000 <= mmtype < 0xC000:
        if end - pos < 3:
            return (mmv, mmtype, fmi, fmsn, -1, pos, None, None, pos, ("oui", pos, 3, end - pos))
        oui = (p[pos] << 16) | (p[pos + 1] << 8) | p[pos + 2]
        pos += 3
    key_oui = oui if oui >= 0 else 0
    entry = table.get(mmtype | (key_oui << 16) | (<long long>mmv << 40))
    if entry is None:
        entry = table.get(mmtype | (key_oui << 16) | (<long long>ANY_MMV << 40))
    if entry is None or fmi & 0xF0:
        return (mmv, mmtype, fmi, fmsn, oui, pos, entry, None, pos, None)
    body = _decode_body(<tuple>(<tuple>entry)[1], buf, pos, end)
    return (mmv, mmtype, fmi, fmsn, oui, pos, entry, body[0], body[1], body[2])
