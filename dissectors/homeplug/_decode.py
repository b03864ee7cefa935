"""Pure-Python twin of `chargescope.ext._homeplug`: MME header + program interpreter.

Same functions, same results, same (absent) exceptions as the Cython extension; the
test matrix runs both on the same inputs. Neither raises on hostile bytes: a short
unit yields the fields decoded so far plus a problem tuple
`(field name, offset, octets needed, octets left)`.

`decode_mme(buf, start, end, table)` returns
`(mmv, mmtype, fmi, fmsn, oui, body_start, entry, fields, stop, problem)`:
`fmi` is the fragmentation byte (high nibble: fragments - 1, low nibble: index),
`oui` is -1 when the MME has none, `entry` the table entry (None when the MMTYPE is
not declared), `fields` None when the body was not decoded (unknown MMTYPE, a
fragment, or a short header: then `problem` says which header field was short).
"""

from __future__ import annotations

(U8, U16, U32, U64, MAC, HEX, TEXT, HEXVAR, TEXTVAR, HEXREST, U8LIST, GROUP, SWITCH, STRUCT, NIBBLES,
 BITS, GP_TLVS, TEXTREST) = range(18)
TLV_TYPE_VENDOR = 0x1F
ANY_MMV = 0xFF
_SIZES = {U8: 1, U16: 2, U32: 4, U64: 8, MAC: 6}


def _mac(b: bytes) -> str:
    return b.hex(":")


def _text(b: bytes) -> str:
    return b.split(b"\x00", 1)[0].decode("ascii", "backslashreplace")


def _gp_tlvs(buf: bytes, pos: int, end: int, name: str) -> tuple:
    """CM_SLAC_USER_DATA TLVs: (items, stop, problem); ends at a zero header or < 2 octets."""
    items = []
    while end - pos >= 2:
        header = buf[pos] | (buf[pos + 1] << 8)
        if header == 0:
            return items, pos + 2, None
        tlv_type = header >> 9
        length = header & 0x1FF
        if pos + 2 + length > end:
            return items, pos, (name, pos, 2 + length, end - pos)
        value = buf[pos + 2:pos + 2 + length]
        if tlv_type == TLV_TYPE_VENDOR and length >= 4:
            items.append({"type": tlv_type, "length": length, "oui": value[:3].hex(":"),
                          "subtype": value[3], "value": value[4:].hex()})
        else:
            items.append({"type": tlv_type, "length": length, "value": value.hex()})
        pos += 2 + length
    return items, pos, None


def decode_body(program: tuple, buf: bytes, start: int, end: int) -> tuple:
    """Run `program` over buf[start:end]: (fields, stop offset, problem or None)."""
    if buf.__class__ is not bytes:  # the extension's typed argument rejects the same
        raise TypeError(f"buf must be bytes, not {type(buf).__name__}")
    if start < 0:
        raise ValueError("start must not be negative")
    end = min(end, len(buf))
    out: dict = {}
    pos = start
    for kind, name, a, b in program:
        if kind == SWITCH:
            case = b.get(tuple([out.get(s) for s in a]) if a.__class__ is tuple else out.get(a))
            if case is None:
                out[name] = None
                continue
            kind, name, a, b = case
        if kind <= MAC:
            size = _SIZES[kind]
        elif kind == HEX or kind == TEXT:
            size = a
        elif kind == HEXVAR or kind == TEXTVAR or kind == U8LIST:
            size = out[a]
        elif kind == HEXREST or kind == TEXTREST:
            size = end - pos
        elif kind == NIBBLES:
            size = (out[a] + 1) >> 1
        elif kind == BITS:  # a packed little-endian integer: its fields go in this record
            if pos + a > end:
                return out, pos, (name, pos, a, end - pos)
            value = int.from_bytes(buf[pos:pos + a], "little")
            for field, shift, width in b:
                out[field] = (value >> shift) & ((1 << width) - 1)
            pos += a
            continue
        elif kind == GP_TLVS:
            items, pos, problem = _gp_tlvs(buf, pos, end, name)
            out[name] = items
            if problem is not None:
                return out, pos, problem
            continue
        elif kind == STRUCT:
            item, pos, problem = decode_body(b, buf, pos, end)
            out[name] = item
            if problem is not None:
                return out, pos, problem
            continue
        else:  # GROUP
            items = []
            out[name] = items
            for _ in range(out[a]):
                item, pos, problem = decode_body(b, buf, pos, end)
                items.append(item)
                if problem is not None:
                    return out, pos, problem
            continue
        if pos + size > end:
            return out, pos, (name, pos, size, end - pos)
        chunk = buf[pos:pos + size]
        if kind == U8:
            value = chunk[0]
        elif kind <= U64:
            value = int.from_bytes(chunk, "little")
        elif kind == MAC:
            value = _mac(chunk)
        elif kind == TEXT or kind == TEXTVAR:
            value = _text(chunk)
        elif kind == TEXTREST:
            value = chunk.split(b"\x00", 1)[0].decode("utf-8", "backslashreplace")
        elif kind == U8LIST:
            value = list(chunk)
        else:
            value = chunk.hex()
        out[name] = value
        pos += size
    return out, pos, None


def decode_mme(buf: bytes, start: int, end: int, table: dict) -> tuple:
    """Header, dispatch and body of one MME in buf[start:end] (see module doc)."""
    if buf.__class__ is not bytes:
        raise TypeError(f"buf must be bytes, not {type(buf).__name__}")
    if start < 0:
        raise ValueError("start must not be negative")
    end = min(end, len(buf))
    if end - start < 3:
        return (-1, -1, 0, 0, -1, start, None, None, start, ("mmtype", start, 3, end - start))
    mmv = buf[start]
    mmtype = buf[start + 1] | (buf[start + 2] << 8)
    pos = start + 3
    fmi = fmsn = 0
    if mmv >= 1:
        if end - pos < 2:
            return (mmv, mmtype, 0, 0, -1, pos, None, None, pos, ("fmi", pos, 2, end - pos))
        fmi = buf[pos]
        fmsn = buf[pos + 1]
        pos += 2
    oui = -1
    if 0x8000 <= mmtype < 0xC000:
        if end - pos < 3:
            return (mmv, mmtype, fmi, fmsn, -1, pos, None, None, pos, ("oui", pos, 3, end - pos))
        oui = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2]
        pos += 3
    key_oui = oui if oui >= 0 else 0
    entry = table.get(mmtype | (key_oui << 16) | (mmv << 40))
    if entry is None:
        entry = table.get(mmtype | (key_oui << 16) | (ANY_MMV << 40))
    if entry is None or fmi & 0xF0:
        return (mmv, mmtype, fmi, fmsn, oui, pos, entry, None, pos, None)
    fields, stop, problem = decode_body(entry[1], buf, pos, end)
    return (mmv, mmtype, fmi, fmsn, oui, pos, entry, fields, stop, problem)
