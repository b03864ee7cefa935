"""Hot path "wsmask": the Cython extension and its pure-Python twin agree byte for byte."""

from __future__ import annotations

import pytest
from conftest import load_impl, twin_params
from hypothesis import given
from hypothesis import strategies as st


@pytest.fixture(params=twin_params("wsmask"), scope="module")
def impl(request):
    return load_impl("wsmask", request.param)


@given(data=st.binary(max_size=3000), key=st.binary(min_size=4, max_size=4))
def test_unmask_matches_reference(impl, data, key):
    expected = bytes(b ^ key[i % 4] for i, b in enumerate(data))
    assert impl.unmask(data, key) == expected
    assert impl.unmask(bytearray(data), key) == expected
    assert impl.unmask(memoryview(data), key) == expected


@given(data=st.binary(max_size=64), key=st.binary(max_size=7))
def test_any_key_length_and_empty_inputs(impl, data, key):
    expected = bytes(b ^ key[i % len(key)] for i, b in enumerate(data)) if key else data
    assert impl.unmask(data, key) == expected


def test_rfc6455_example(impl):
    assert impl.unmask(bytes.fromhex("7f9f4d5158"), bytes.fromhex("37fa213d")) == b"Hello"
