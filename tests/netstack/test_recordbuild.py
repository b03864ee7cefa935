"""recordbuild twins: the fast constructor gives the very record the class would."""

from __future__ import annotations

import dataclasses
import gc

import pytest
from conftest import load_impl, twin_params
from hypothesis import given
from hypothesis import strategies as st

from chargescope.analyzer.records import ByteRef, Connection, Endpoint, StreamData


@pytest.fixture(params=twin_params("recordbuild"))
def build(request):
    return load_impl("recordbuild", request.param).builder


@given(source=st.text(max_size=8), frame=st.integers(), start=st.integers(0, 1 << 40),
       length=st.integers(0, 1 << 16))
def test_byteref_equal_to_the_class(source, frame, start, length) -> None:
    for which in ("python", "cython"):
        impl = load_impl("recordbuild", which)
        if impl is None:
            continue
        made = impl.builder(ByteRef)(source, frame, start, length)
        assert type(made) is ByteRef
        assert made == ByteRef(source, frame, start, length)
        assert hash(made) == hash(ByteRef(source, frame, start, length))


def test_records_stay_frozen_and_collectable(build) -> None:
    conn = Connection(0, Endpoint("10.0.0.1", 1), Endpoint("10.0.0.2", 2))
    refs = (ByteRef("s", 1, 54, 3),)
    data = build(StreamData)(conn, 0, 0, b"abc", 5, refs)
    assert data == StreamData(conn, 0, 0, b"abc", 5, refs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.offset = 1
    del data
    gc.collect()
    assert refs[0].frame == 1  # references were counted, not stolen


def test_wrong_arity_raises_like_the_class(build) -> None:
    with pytest.raises(TypeError):
        build(ByteRef)("s", 1)


def test_classes_it_cannot_serve_come_back_unchanged(build) -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            if self.value < 0:
                raise ValueError("negative")

    assert build(Checked) is Checked
    assert build(int) is int


def test_message_is_built_fast_through_its_slot_attributes(build) -> None:
    """Message.fields/.refs are read through the compact-storage descriptors; the fast
    constructor fills the slots behind them and the record is the class's own."""
    from chargescope import backends
    from chargescope.analyzer.records import Link, Message

    refs = (ByteRef("s", 1, 54, 3),)
    args = (Link.B, "ocpp", "Heartbeat Request", 5, "a", "b", {"x": [1]}, refs, ())
    made = build(Message)(*args)
    assert type(made) is Message and made == Message(*args)
    assert made.fields == {"x": [1]} and made.refs == refs
    extension = backends.load_extension("recordbuild")
    if extension is not None and build is extension.builder:
        assert build(Message) is not Message  # the slot constructor, not the class
