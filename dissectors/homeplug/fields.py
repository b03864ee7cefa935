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


def u8list(name: str, count_field: str) -> cs.Construct:
    con = name / cs.Array(lambda ctx: ctx[count_field], cs.Int8ul)
    return _tag(con, ("u8list", name, count_field))


def group(name: str, count_field: str, *members: cs.Construct) -> cs.Construct:
    """A counted list of records (stations, networks): list of dicts."""
    con = name / cs.Array(lambda ctx: ctx[count_field], cs.Struct(*members))
    return _tag(con, ("group", name, count_field, members))


def switch(name: str, selector: str, cases: dict[int, cs.Construct]) -> cs.Construct:
    """A field whose layout depends on an earlier field; absent (None) for other values.

    Each case is a single helper-built field (its own name is ignored: the value goes
    under `name`) or a `layout(...)` of several fields (the value is then a dict).
    """
    inner = {value: case if isinstance(case, cs.Struct) else case.subcon
             for value, case in cases.items()}
    con = name / cs.Switch(lambda ctx: ctx[selector], inner, default=cs.Pass)
    return _tag(con, ("switch", name, selector, cases))


def layout(*members: cs.Construct) -> cs.Struct:
    return cs.Struct(*members)
