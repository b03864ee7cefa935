"""Hot path "compact": the byte form of stored message fields, both twins.

Property tests: any value of the carried types comes back exactly (type for type, float bit
for bit, dict key order), each twin reads the other's bytes, and both write the same bytes
from the same table state. Hostile bytes give ValueError (never a crash), other types
TypeError, deep nesting ValueError, in both.
"""

from __future__ import annotations

import math
import struct
from dataclasses import FrozenInstanceError, dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.compactcodec import MAX_DEPTH, MAX_KEY_ATOM, MAX_VALUE_ATOM, AtomTable
from tests.conftest import load_impl, twin_params

TWINS = twin_params("compact")

scalars = (st.none() | st.booleans() | st.integers() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text() | st.binary()
           | st.sampled_from(["", "\udc80", "a\ud800b", "é" * 40, "key"]))
keys = st.text(max_size=80) | st.integers() | st.none() | st.booleans() | st.tuples(st.integers())
values = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=5)
                      | st.lists(children, max_size=5).map(tuple)
                      | st.dictionaries(keys, children, max_size=5)),
    max_leaves=40)


def same(a, b) -> bool:
    """Equal and of the same types all the way down (floats by their bits, dicts in order)."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    if type(a) is dict:
        return list(a) == list(b) and all(same(k, k2) for k, k2 in zip(a, b, strict=True)) \
            and all(same(a[k], b[k2]) for k, k2 in zip(a, b, strict=True))
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize("which", TWINS)
@given(value=values, extra=values)
@settings(max_examples=300, deadline=None)
def test_round_trip_exact_and_readable_by_both(which, value, extra):
    impl = load_impl("compact", which)
    table = AtomTable()
    data = impl.pack((value, extra), table)
    for reader in ("python", "cython"):
        other = load_impl("compact", reader) if reader == "python" else impl
        assert same(other.unpack(data, table, 0), value)
        assert same(other.unpack(data, table, 1), extra)
    again = impl.pack((value, extra), table)  # atoms made by the first pass are used now
    assert same(impl.unpack(again, table, 0), value)


@given(value=values)
@settings(max_examples=200, deadline=None)
def test_twins_write_the_same_bytes(value):
    python = load_impl("compact", "python")
    cython = load_impl("compact", "cython")
    if cython is None:
        pytest.skip("compact extension not built")
    t1, t2 = AtomTable(), AtomTable()
    for _ in range(3):  # first, second sighting, then atoms
        assert python.pack((value,), t1) == cython.pack((value,), t2)
        assert t1.strings == t2.strings


@pytest.mark.parametrize("which", TWINS)
@given(data=st.binary(max_size=64))
@settings(max_examples=300, deadline=None)
def test_hostile_bytes_raise_value_error_alike(which, data):
    impl = load_impl("compact", which)
    python = load_impl("compact", "python")
    table = AtomTable()
    table.add("only")
    outcomes = []
    for reader in (impl, python):
        try:
            outcomes.append(("ok", reader.unpack(data, table, 0)))
        except ValueError as exc:
            outcomes.append(("error", str(exc)))
    assert outcomes[0][0] == outcomes[1][0]
    if outcomes[0][0] == "ok":
        assert same(outcomes[0][1], outcomes[1][1])
    else:
        assert outcomes[0][1] == outcomes[1][1]


class Text(str):
    pass


@pytest.mark.parametrize("which", TWINS)
@pytest.mark.parametrize("value", [object(), bytearray(b"x"), {1, 2}, Text("x"), [1, {"a": 1.5j}],
                                   {"k": memoryview(b"")}])
def test_other_types_are_refused(which, value):
    with pytest.raises(TypeError):
        load_impl("compact", which).pack((value,), AtomTable())


@pytest.mark.parametrize("which", TWINS)
def test_nesting_past_the_cap_is_refused_both_ways(which):
    impl = load_impl("compact", which)
    deep: list = []
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(ValueError):
        impl.pack((deep,), AtomTable())
    ok: list = []
    for _ in range(MAX_DEPTH - 1):
        ok = [ok]
    assert same(impl.unpack(impl.pack((ok,), AtomTable()), AtomTable(), 0), ok)
    nested = b"\x09\x01" * (MAX_DEPTH + 5) + b"\x00"  # hand-made bytes nesting deeper
    with pytest.raises(ValueError):
        impl.unpack(nested, AtomTable(), 0)


@pytest.mark.parametrize("which", TWINS)
def test_atom_policy_keys_at_once_values_when_seen_twice(which):
    impl = load_impl("compact", which)
    table = AtomTable()
    impl.pack(({"SessionID": "0A23", "long": "x" * (MAX_VALUE_ATOM + 1)},), table)
    assert table.strings == ["SessionID", "long"]
    impl.pack(({"SessionID": "0A23", "long": "x" * (MAX_VALUE_ATOM + 1)},), table)
    assert table.strings == ["SessionID", "long", "0A23"]
    impl.pack(({"k" * (MAX_KEY_ATOM + 1): 1},), table)
    assert len(table) == 3  # a long key stays inline
    small = impl.pack(({"SessionID": "0A23"},), table)
    assert small == bytes([0x0B, 1, 0x80, 0x82])  # dict of 1: atom 0 -> atom 2


# ---- the descriptors that read a compacted record ----

@dataclass(frozen=True, slots=True)
class Ref:
    source: str
    frame: int
    start: int
    length: int


def record_class(which):
    """A record shaped like Message, its fields/refs read through `which`'s attributes."""
    impl = load_impl("compact", which)

    @dataclass(frozen=True, slots=True)
    class Record:
        name: str
        fields: dict
        refs: tuple = ()

    table = AtomTable()
    slots = (Record.fields, Record.refs)
    Record.fields, Record.refs, decoded = impl.attributes(*slots, PACKED, table, Ref,
                                                          (Record.name,))
    return impl, Record, slots, table, decoded


PACKED = ("packed",)


@pytest.mark.parametrize("which", TWINS)
def test_attributes_read_eager_and_packed_records_alike(which):
    impl, Record, (fslot, rslot), table, decoded = record_class(which)
    fields = {"x": [1, 2.5, None], "y": (b"\x00",), "z": {"n": -7}}
    eager = Record("a", fields, (Ref("s", 300, 2, 3),))
    assert eager.fields is fields and eager.refs == (Ref("s", 300, 2, 3),)
    stored = Record("a", {}, ())
    fslot.__set__(stored, impl.pack(((("s", 300, 2, 3),), fields), table))
    rslot.__set__(stored, PACKED)
    assert same(stored.fields, fields)
    assert stored.refs == eager.refs and type(stored.refs) is tuple
    assert stored == eager and repr(stored) == repr(eager)
    assert stored.fields is stored.fields  # decoded once while it is among the recent
    decoded.clear()
    assert same(stored.fields, fields)
    with pytest.raises(FrozenInstanceError):
        stored.fields = {}
    with pytest.raises(TypeError):  # another object than a Record: refused, never read
        Record.fields.__get__(Ref("s", 1, 2, 3), Ref)
    with pytest.raises(AttributeError):  # an unset slot reads as a plain slot would
        Record.__new__(Record).fields  # noqa: B018
    bytes_fields = Record("b", b"raw", ())  # bytes in the slot without PACKED: plain value
    assert bytes_fields.fields == b"raw"


@pytest.mark.parametrize("which", TWINS)
def test_compact_rewrites_in_place_and_window_follows(which):
    import gc
    import sys

    impl, Record, (fslot, rslot), table, decoded = record_class(which)
    fields = {"a": [1, (2.0, "x")], "b": None}
    name = "".join(["na", "me"])  # a str not interned yet
    record = Record(name, fields, (Ref("s", 1, 2, 3),))
    attribute = Record.fields
    assert attribute.compact(record) is True
    assert rslot.__get__(record, Record) is PACKED and type(fslot.__get__(record, Record)) is bytes
    assert same(record.fields, fields) and record.refs == (Ref("s", 1, 2, 3),)
    assert attribute.compact(record) is True  # already compact: nothing to do
    assert record.name is sys.intern("name")
    if which == "cython":
        assert not gc.is_tracked(record)  # holds no container: the collector can skip it
    odd = Record("odd", {"x": object()}, ())
    assert attribute.compact(odd) is False and type(fslot.__get__(odd, Record)) is dict
    window = impl.Window(attribute, 2)
    held = [Record(f"r{n}", {"n": n}, ()) for n in range(4)]
    for record in held:
        window.add(record)
    assert [rslot.__get__(r, Record) is PACKED for r in held] == [True, True, False, False]
    window.flush()
    assert all(rslot.__get__(r, Record) is PACKED for r in held)
    with pytest.raises(ValueError):
        impl.Window(attribute, 0)
