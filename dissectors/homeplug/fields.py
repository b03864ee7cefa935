"""Field building blocks for MME layouts: `construct` types that also say how to compile.

Every MME layout in `registry.py` is a `construct.Struct` built only from the helpers
below. Each helper returns a normal construct object (so the layout parses and builds,
and is the readable spec), tagged with a `_cs_op` attribute that `program.py` turns
into the flat instruction the fast decoders execute. One declaration, three uses:
spec, encoder (`chargescope simulate`), oracle for the Cython decoder.

Value forms (the Message field types): integers as int, MAC addresses as
"aa:bb:cc:dd:ee:ff", opaque byte strings (RunID, NID, keys, IDs) as lower-case hex,
counted byte arrays (attenuation groups) as lists of int.
"""

from __future__ import annotations

from typing import Any

import construct as cs

MAC_LEN = 6


class _Mac(cs.Adapter):
    def _decode(self, obj: bytes, context: Any, path: str) -> str:
        return ":".join(f"{b:02x}" for b in obj)

    def _encode(self, obj: str, context: Any, path: str) -> bytes:
        return bytes(int(part, 16) for part in obj.split(":"))


class _Hex(cs.Adapter):
    def _decode(self, obj: bytes, context: Any, path: str) -> str:
        return bytes(obj).hex()

    def _encode(self, obj: str, context: Any, path: str) -> bytes:
        return bytes.fromhex(obj)


class _Text(cs.Adapter):
    """Fixed-size ASCII, NUL padded (version strings); undecodable bytes kept as \\xNN."""

    def _decode(self, obj: bytes, context: Any, path: str) -> str:
        return bytes(obj).split(b"\x00", 1)[0].decode("ascii", "backslashreplace")

    def _encode(self, obj: str, context: Any, path: str) -> bytes:
        return obj.encode("ascii")


class _Utf8Text(cs.Adapter):
    """The rest of an MME as UTF-8 text up to a NUL (self-describing vendor payloads);
    undecodable bytes kept as \\xNN."""

    def _decode(self, obj: bytes, context: Any, path: str) -> str:
        return bytes(obj).split(b"\x00", 1)[0].decode("utf-8", "backslashreplace")

    def _encode(self, obj: str, context: Any, path: str) -> bytes:
        return obj.encode("utf-8")


def _tag(con: cs.Construct, op: tuple) -> cs.Construct:
    con._cs_op = op  # read by program.compile_layout
    return con


def u8(name: str) -> cs.Construct:
    return _tag(name / cs.Int8ul, ("u8", name))


def u16(name: str) -> cs.Construct:
    """Little-endian, as all HomePlug AV MME integers."""
    return _tag(name / cs.Int16ul, ("u16", name))


def u32(name: str) -> cs.Construct:
    return _tag(name / cs.Int32ul, ("u32", name))


def u64(name: str) -> cs.Construct:
    return _tag(name / cs.Int64ul, ("u64", name))


def mac(name: str) -> cs.Construct:
    return _tag(name / _Mac(cs.Bytes(MAC_LEN)), ("mac", name))


def hexbytes(name: str, size: int) -> cs.Construct:
    return _tag(name / _Hex(cs.Bytes(size)), ("hex", name, size))


def text(name: str, size: int) -> cs.Construct:
    return _tag(name / _Text(cs.Bytes(size)), ("text", name, size))


def length_of(name: str, target: str, *, width: int = 1) -> cs.Construct:
    """A length field: parsed as an int, rebuilt from len(bytes.fromhex(target))."""
    fmt = cs.Int8ul if width == 1 else cs.Int16ul
    con = name / cs.Rebuild(fmt, lambda ctx: len(bytes.fromhex(ctx[target])))
    return _tag(con, ("u8" if width == 1 else "u16", name))


def text_length_of(name: str, target: str) -> cs.Construct:
    con = name / cs.Rebuild(cs.Int8ul, lambda ctx: len(ctx[target].encode("ascii")))
    return _tag(con, ("u8", name))


def count_of(name: str, target: str) -> cs.Construct:
    """A count field: parsed as an int, rebuilt from len(target list)."""
    con = name / cs.Rebuild(cs.Int8ul, lambda ctx: len(ctx[target]))
    return _tag(con, ("u8", name))


def hexvar(name: str, length_field: str) -> cs.Construct:
    con = name / _Hex(cs.Bytes(lambda ctx: ctx[length_field]))
    return _tag(con, ("hexvar", name, length_field))


def textvar(name: str, length_field: str) -> cs.Construct:
    con = name / _Text(cs.Bytes(lambda ctx: ctx[length_field]))
    return _tag(con, ("textvar", name, length_field))


def nibbles(name: str, count_field: str) -> cs.Construct:
    """`count_field` 4-bit values packed two per octet (CM_AMP_MAP amplitudes), as hex."""
    con = name / _Hex(cs.Bytes(lambda ctx: (ctx[count_field] + 1) // 2))
    return _tag(con, ("nibbles", name, count_field))


def hexrest(name: str) -> cs.Construct:
    """All remaining bytes of the MME (raw bodies, encrypted payloads)."""
    return _tag(name / _Hex(cs.GreedyBytes), ("hexrest", name))


def textrest(name: str) -> cs.Construct:
    """All remaining bytes as UTF-8 text (to the first NUL)."""
    return _tag(name / _Utf8Text(cs.GreedyBytes), ("textrest", name))


def u8list(name: str, count_field: str) -> cs.Construct:
    con = name / cs.Array(lambda ctx: ctx[count_field], cs.Int8ul)
    return _tag(con, ("u8list", name, count_field))


def group(name: str, count_field: str, *members: cs.Construct) -> cs.Construct:
    """A counted list of records (stations, networks): list of dicts."""
    con = name / cs.Array(lambda ctx: ctx[count_field], cs.Struct(*members))
    return _tag(con, ("group", name, count_field, members))


def switch(name: str, selector: str | tuple[str, ...], cases: dict) -> cs.Construct:
    """A field whose layout depends on earlier fields; absent (None) for other values.

    `selector` names one earlier field (cases keyed by its value) or a tuple of them
    (cases keyed by the tuple of their values, e.g. VS_LNK_STATS.CNF's status and
    direction). Each case is a single helper-built field (its own name is ignored: the
    value goes under `name`) or a `layout(...)` of several fields (the value is a dict).
    """
    inner = {value: case if isinstance(case, cs.Struct) else case.subcon
             for value, case in cases.items()}
    if isinstance(selector, tuple):
        def key(ctx: Any) -> tuple:
            return tuple(ctx[s] for s in selector)
    else:
        def key(ctx: Any) -> Any:
            return ctx[selector]
    con = name / cs.Switch(key, inner, default=cs.Pass)
    return _tag(con, ("switch", name, selector, cases))


class _BitField(cs.Construct):
    """One named bit range of a little-endian integer of `size` octets.

    Every field of a `bits()` group parses the same octets (all but the last through
    `Peek`); the last one consumes them and, when building, packs every field of the
    group from the context. Bit 0 is the least significant bit of the integer.
    """

    def __init__(self, size: int, fields: tuple[tuple[str, int, int], ...], index: int):
        super().__init__()
        self.size = size
        self.fields = fields
        self.index = index

    def _parse(self, stream: Any, context: Any, path: str) -> int:
        value = int.from_bytes(cs.stream_read(stream, self.size, path), "little")
        _name, shift, width = self.fields[self.index]
        return (value >> shift) & ((1 << width) - 1)

    def _build(self, obj: int, stream: Any, context: Any, path: str) -> int:
        value = 0
        for name, shift, width in self.fields:
            field_value = context[name]
            if not 0 <= field_value < (1 << width):
                raise cs.ValidationError(f"{name}={field_value} does not fit {width} bit(s)", path=path)
            value |= field_value << shift
        cs.stream_write(stream, value.to_bytes(self.size, "little"), self.size, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        return self.size


def bits(group_name: str, size: int, *fields: tuple[str, int]) -> tuple[cs.Construct, ...]:
    """Bit fields packed in a little-endian integer of `size` octets, listed from bit 0.

    Returns one construct per field, to splat into `layout(...)`: each field becomes a
    plain int in the record (no nesting), so a later `switch` can select on it (the
    delimiter type of a frame control). `group_name` names the octets in problems.
    """
    if not 1 <= size <= 8:  # the fast decoders hold the group in one 64-bit integer
        raise ValueError(f"bits {group_name}: {size} octets, at most 8")
    placed: list[tuple[str, int, int]] = []
    shift = 0
    for name, width in fields:
        placed.append((name, shift, width))
        shift += width
    if shift != size * 8:
        raise ValueError(f"bits {group_name}: {shift} bits declared for {size} octet(s)")
    frozen = tuple(placed)
    members: list[cs.Construct] = []
    for index, (name, _shift, _width) in enumerate(frozen):
        con = _BitField(size, frozen, index)
        members.append(name / (con if index == len(frozen) - 1 else cs.Peek(con)))
    _tag(members[0], ("bits", group_name, size, frozen))
    for con in members[1:]:
        _tag(con, ("covered",))  # decoded by the group's first field's instruction
    return tuple(members)


TLV_TYPE_VENDOR = 0x1F  # HomePlug GP / ISO 15118-3 vendor-defined TLV: OUI + subtype first
_TLV_LENGTH_BITS = 9  # TLV header: 16 bits little-endian, length in bits 0-8, type in 9-15


class _GpTlvs(cs.Construct):
    """CM_SLAC_USER_DATA TLVs until a zero header (consumed) or fewer than 2 octets left."""

    def _parse(self, stream: Any, context: Any, path: str) -> list[dict]:
        items: list[dict] = []
        while True:
            if cs.stream_size(stream) - cs.stream_tell(stream, path) < 2:
                return items
            header = int.from_bytes(cs.stream_read(stream, 2, path), "little")
            if header == 0:
                return items
            tlv_type, length = header >> _TLV_LENGTH_BITS, header & ((1 << _TLV_LENGTH_BITS) - 1)
            value = cs.stream_read(stream, length, path)
            items.append(_tlv_record(tlv_type, length, value))

    def _build(self, obj: list[dict], stream: Any, context: Any, path: str) -> list[dict]:
        for item in obj:
            value = bytes.fromhex(item["value"])
            if "oui" in item:
                value = bytes.fromhex(item["oui"].replace(":", "")) + bytes([item["subtype"]]) + value
            header = (item["type"] << _TLV_LENGTH_BITS) | len(value)
            cs.stream_write(stream, header.to_bytes(2, "little") + value, 2 + len(value), path)
        cs.stream_write(stream, b"\x00\x00", 2, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise cs.SizeofError(path=path)


def _tlv_record(tlv_type: int, length: int, value: bytes) -> dict:
    if tlv_type == TLV_TYPE_VENDOR and length >= 4:
        return {"type": tlv_type, "length": length, "oui": value[:3].hex(":"),
                "subtype": value[3], "value": value[4:].hex()}
    return {"type": tlv_type, "length": length, "value": value.hex()}


def gp_tlvs(name: str) -> cs.Construct:
    """The TLV list of CM_SLAC_USER_DATA: list of {type, length, [oui, subtype,] value}."""
    return _tag(name / _GpTlvs(), ("gp_tlvs", name))


def layout(*members: cs.Construct) -> cs.Struct:
    return cs.Struct(*members)
