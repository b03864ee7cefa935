"""Pure-Python twin of hot path "compact": a byte form of a message's fields, exact both ways.

A stored `Message` keeps its refs and fields as one `bytes` value instead of nested dicts
(see `analyzer/store.py`): a field tree of a DC charging loop message is ~2.3 KB of dicts,
strs and ints as Python objects and ~100 bytes in this form. The round trip is exact: the
same types (None, bool, int of any size, float bit for bit, str including lone surrogates,
bytes, list, tuple, dict with its key order), nothing else (`TypeError`: the caller keeps
such a message as it is).

Repeated strings are written as indexes into an `AtomTable` (one per process, append-only,
so every byte form stays readable): dict keys at once, other strings when seen a second time.

Layout: one byte tag, then its body. Integers in bodies are unsigned LEB128 varints.

    0x00 None   0x01 False   0x02 True
    0x03 int (zigzag varint, 64-bit)   0x04 int (varint n, n bytes little-endian signed)
    0x05 float (8 bytes IEEE 754 little-endian)
    0x06 str (varint n, n bytes UTF-8 with surrogatepass)   0x20+n str of n < 32 such bytes
    0x07 atom (varint index - 128)     0x80+i atom i < 128
    0x08 bytes (varint n, n bytes)
    0x09 list   0x0A tuple   0x0B dict: varint count, then the items (a dict: key, value)
    0x40+v int v < 64
"""

from __future__ import annotations

import struct
import sys
import threading

MAX_DEPTH = 100  # deeper trees stay as they are (ValueError): no recursion on hostile JSON
MAX_ATOMS = 1 << 18  # an atom table never grows past this (later strings go inline)
MAX_KEY_ATOM = 64  # longest dict key made an atom (in characters)
MAX_VALUE_ATOM = 128  # longest other string made an atom (a capture path is one)
MAX_PENDING = 1 << 16  # strings seen once, remembered until the second sighting

_FLOAT = struct.Struct("<d")


class AtomTable:
    """Strings shared by every byte form written with it: index -> str and back.

    Append-only: an index once given keeps its string for the life of the table.
    `pending` holds strings (not keys) seen once: the second sighting makes them atoms,
    so a string met once (a unique id, a timestamp) does not grow the table.
    """

    __slots__ = ("strings", "index", "pending", "_lock")

    def __init__(self) -> None:
        self.strings: list[str] = []
        self.index: dict[str, int] = {}
        self.pending: dict[str, None] = {}
        self._lock = threading.Lock()

    def add(self, s: str) -> int:
        """The index of `s`, made an atom now if it is not one (-1 once the table is full)."""
        with self._lock:  # two writers must not give one index to two strings
            i = self.index.get(s)
            if i is not None:
                return i
            if len(self.strings) >= MAX_ATOMS:
                return -1
            i = len(self.strings)
            self.strings.append(s)
            self.index[s] = i
            return i

    def __len__(self) -> int:
        return len(self.strings)


def _atom(table: AtomTable, s: str, key: bool) -> int:
    """The atom index to write `s` with, or -1 to write it inline (the policy both twins share)."""
    i = table.index.get(s)
    if i is not None:
        return i
    n = len(s)
    if len(table.strings) >= MAX_ATOMS:
        return -1
    if key:
        return table.add(s) if n <= MAX_KEY_ATOM else -1
    if n > MAX_VALUE_ATOM:
        return -1
    pending = table.pending
    if s in pending:
        del pending[s]
        return table.add(s)
    if len(pending) >= MAX_PENDING:
        pending.clear()
    pending[s] = None
    return -1


def _varint(out: bytearray, v: int) -> None:
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _str(out: bytearray, table: AtomTable, s: str, key: bool) -> None:
    i = _atom(table, s, key)
    if i >= 0:
        if i < 128:
            out.append(0x80 | i)
        else:
            out.append(0x07)
            _varint(out, i - 128)
        return
    raw = s.encode("utf-8", "surrogatepass")
    if len(raw) < 32:
        out.append(0x20 | len(raw))
    else:
        out.append(0x06)
        _varint(out, len(raw))
    out += raw


def _value(out: bytearray, table: AtomTable, v: object, depth: int) -> None:
    t = type(v)
    if t is str:
        _str(out, table, v, False)
    elif t is int:
        if 0 <= v < 64:
            out.append(0x40 | v)
        elif -(1 << 63) <= v < (1 << 63):
            out.append(0x03)
            _varint(out, ((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF)
        else:
            raw = v.to_bytes(v.bit_length() // 8 + 1, "little", signed=True)
            out.append(0x04)
            _varint(out, len(raw))
            out += raw
    elif t is dict:
        if depth >= MAX_DEPTH:
            raise ValueError(f"fields nested deeper than {MAX_DEPTH}")
        out.append(0x0B)
        _varint(out, len(v))
        for key, item in v.items():
            if type(key) is str:
                _str(out, table, key, True)
            else:
                _value(out, table, key, depth + 1)
            _value(out, table, item, depth + 1)
    elif v is None:
        out.append(0x00)
    elif v is False:
        out.append(0x01)
    elif v is True:
        out.append(0x02)
    elif t is float:
        out.append(0x05)
        out += _FLOAT.pack(v)
    elif t is list or t is tuple:
        if depth >= MAX_DEPTH:
            raise ValueError(f"fields nested deeper than {MAX_DEPTH}")
        out.append(0x09 if t is list else 0x0A)
        _varint(out, len(v))
        for item in v:
            _value(out, table, item, depth + 1)
    elif t is bytes:
        out.append(0x08)
        _varint(out, len(v))
        out += v
    else:
        raise TypeError(f"cannot compact a {t.__name__}")


def pack(items: tuple, table: AtomTable) -> bytes:
    """The byte form of each of `items`, one after the other (read back with `unpack`).

    TypeError for a value of another type than those listed above (a subclass too);
    ValueError for containers nested deeper than MAX_DEPTH."""
    out = bytearray()
    for item in items:
        _value(out, table, item, 0)
    return bytes(out)


class _Reader:
    __slots__ = ("data", "pos", "strings")

    def __init__(self, data: bytes, strings: list[str]) -> None:
        self.data = data
        self.pos = 0
        self.strings = strings

    def varint(self) -> int:
        data = self.data
        shift = 0
        v = 0
        while True:
            if self.pos >= len(data):
                raise ValueError("compact form ends inside a number")
            b = data[self.pos]
            self.pos += 1
            if shift == 63 and b > 1:
                raise ValueError("compact form has a number past 64 bits")
            v |= (b & 0x7F) << shift
            if b < 0x80:
                return v
            shift += 7

    def atom(self, i: int) -> str:
        if i >= len(self.strings):
            raise ValueError(f"compact form names atom {i}, not in its table")
        return self.strings[i]

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise ValueError("compact form ends inside a value")
        raw = self.data[self.pos:end]
        self.pos = end
        return raw

    def value(self, build: bool = True, depth: int = 0):
        """The next value (`build=False`: step over it, returning None)."""
        if self.pos >= len(self.data):
            raise ValueError("compact form ends before a value")
        tag = self.data[self.pos]
        self.pos += 1
        if tag >= 0x80:
            return self.atom(tag & 0x7F) if build else None
        if tag >= 0x40:
            return tag & 0x3F
        if tag >= 0x20:
            raw = self.take(tag & 0x1F)
            return raw.decode("utf-8", "surrogatepass") if build else None
        if 0x09 <= tag <= 0x0B and depth >= MAX_DEPTH:
            raise ValueError(f"compact form nested deeper than {MAX_DEPTH}")
        if tag == 0x0B:
            n = self.varint()
            if not build:
                for _ in range(n):
                    self.value(False, depth + 1)
                    self.value(False, depth + 1)
                return None
            out = {}
            for _ in range(n):
                key = self.value(True, depth + 1)
                item = self.value(True, depth + 1)
                try:
                    out[key] = item
                except TypeError:
                    raise ValueError("compact form has an unhashable dict key") from None
            return out
        if tag == 0x09 or tag == 0x0A:
            n = self.varint()
            items = [self.value(build, depth + 1) for _ in range(n)]
            if not build:
                return None
            return items if tag == 0x09 else tuple(items)
        if tag == 0x07:
            i = self.varint() + 128
            return self.atom(i) if build else None
        if tag == 0x03:
            z = self.varint()
            return (z >> 1) ^ -(z & 1)
        if tag == 0x06:
            raw = self.take(self.varint())
            return raw.decode("utf-8", "surrogatepass") if build else None
        if tag == 0x00:
            return None
        if tag == 0x01:
            return False
        if tag == 0x02:
            return True
        if tag == 0x05:
            return _FLOAT.unpack(self.take(8))[0]
        if tag == 0x04:
            return int.from_bytes(self.take(self.varint()), "little", signed=True)
        if tag == 0x08:
            return self.take(self.varint())
        raise ValueError(f"unknown compact tag 0x{tag:02x}")


def unpack(data: bytes, table: AtomTable, index: int) -> object:
    """Item `index` of what `pack` wrote into `data` (the earlier items are stepped over).

    ValueError when `data` is not such a form (cut short, unknown tag)."""
    reader = _Reader(data, table.strings)
    for _ in range(index):
        reader.value(False)
    return reader.value()


# ---- the attributes of a stored Message (see records.py) ----

CACHE = 256  # decoded messages kept (direct-mapped by address)


class _Decoded:
    """The decoded fields and refs of recently read messages, one entry per address bucket."""

    def __init__(self, table: AtomTable, byte_ref) -> None:
        self.entries: list = [None] * CACHE
        self.table = table
        self.byte_ref = byte_ref

    def entry(self, message, blob: bytes, which: int) -> list:
        bucket = (id(message) >> 4) % CACHE
        entry = self.entries[bucket]
        if entry is None or entry[0] is not message:
            entry = self.entries[bucket] = [message, None, None]
        if entry[which] is None:
            if which == 1:
                entry[1] = unpack(blob, self.table, 1)
            else:
                entry[2] = tuple([self.byte_ref(*row) for row in unpack(blob, self.table, 0)])
        return entry

    def clear(self) -> None:
        self.entries = [None] * CACHE


class _SlotAttribute:
    def __init__(self, name: str, slot, other, packed, decoded: _Decoded) -> None:
        self.name = name
        self.owner = slot.__objclass__
        self.slot = slot
        self.other = other
        self.packed = packed
        self.decoded = decoded

    def check(self, obj) -> None:
        if type(obj) is not self.owner:
            raise TypeError(f"a {self.owner.__name__} is expected, not {type(obj).__name__}")

    def __set__(self, obj, value) -> None:
        self.check(obj)
        self.slot.__set__(obj, value)


class FieldsAttribute(_SlotAttribute):
    """`message.fields`: the dict, decoded from the byte form of a compacted message."""

    interned: tuple = ()  # the str slots interned when compacting

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        self.check(obj)
        value = self.slot.__get__(obj, objtype)
        if type(value) is bytes and self.other.__get__(obj, objtype) is self.packed:
            return self.decoded.entry(obj, value, 1)[1]
        return value

    def compact(self, message) -> bool:
        """Keep `message`'s refs and fields as one byte form (in place); False when a value
        cannot be carried (it then stays as it was). Interns its str slots. (The extension
        also takes it off the garbage collector's lists, which Python code cannot do.)"""
        self.check(message)
        fields = self.slot.__get__(message, None)
        refs = self.other.__get__(message, None)
        if refs is self.packed:
            return True
        if type(fields) is not dict or type(refs) is not tuple:
            return False
        rows = []
        for ref in refs:
            if type(ref) is not self.decoded.byte_ref:
                return False
            rows.append((ref.source, ref.frame, ref.start, ref.length))
        try:
            blob = pack((tuple(rows), fields), self.decoded.table)
        except (TypeError, ValueError):
            return False
        self.slot.__set__(message, blob)
        self.other.__set__(message, self.packed)
        for slot in self.interned:
            value = slot.__get__(message, None)
            if type(value) is str:
                slot.__set__(message, sys.intern(value))
        return True


class RefsAttribute(_SlotAttribute):
    """`message.refs`: the ByteRef tuple, decoded from the byte form of a compacted message."""

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        self.check(obj)
        value = self.slot.__get__(obj, objtype)
        if value is self.packed:
            return self.decoded.entry(obj, self.other.__get__(obj, objtype), 2)[2]
        return value


def attributes(fields_slot, refs_slot, packed, table: AtomTable, byte_ref, intern_slots=()):
    """The descriptors for a record's `fields` and `refs` slots (given as their member
    descriptors): reading them decodes a compacted record (`packed` in the refs slot, the byte
    form in the fields slot), writing them stores as the slot would. Also the cache of decoded
    forms (`.clear()`)."""
    if fields_slot.__objclass__ is not refs_slot.__objclass__:
        raise TypeError("both slots must belong to one class")
    decoded = _Decoded(table, byte_ref)
    fields = FieldsAttribute("fields", fields_slot, refs_slot, packed, decoded)
    fields.interned = tuple(intern_slots)
    return fields, RefsAttribute("refs", refs_slot, fields_slot, packed, decoded), decoded


class Window:
    """Compacts each message added once `size` newer ones have been added, unless nothing
    else holds it any more (it is about to be freed: compacting it would be wasted work)."""

    def __init__(self, attribute: FieldsAttribute, size: int) -> None:
        if size < 1:
            raise ValueError("a window holds one message at least")
        self.attribute = attribute
        self.size = size
        self.ring: list = [None] * size
        self.pos = 0

    def add(self, message) -> None:
        old = self.ring[self.pos]
        self.ring[self.pos] = message
        self.pos = (self.pos + 1) % self.size
        if old is not None and sys.getrefcount(old) > 2:  # more than `old` and the argument
            self.attribute.compact(old)

    def flush(self) -> None:
        """Compact every message still in the window (the analyzers are done reading)."""
        for i in range(self.size):
            at = (self.pos + i) % self.size
            old = self.ring[at]
            self.ring[at] = None
            if old is not None and sys.getrefcount(old) > 2:
                self.attribute.compact(old)
        self.pos = 0


TABLE = AtomTable()  # the process's table: every compacted Message reads its strings here
