"""Hostile input: truncation, bit flips and random bytes give ExiError (never another
exception, never a hang); round trips on random schema-valid trees."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chargescope import backends
from chargescope.dissectors import exi
from chargescope.dissectors.exi.tables import SCHEMAS, grammar
from tests.conftest import corpus_path, twin_params
from tests.exi_trees import trees


@pytest.fixture(params=twin_params("exi"))
def impl(request):
    return backends.load_twin("exi") if request.param == "python" else \
        backends.load_extension("exi")


def _sample(schema: str, message: str) -> dict:
    path = corpus_path("exi-reference", schema, f"{message}.jsonl")
    return json.loads(path.read_text().splitlines()[1])  # the "max" variant


def test_truncated_streams_report_offset_and_partial_tree(impl):
    v = _sample("iso2", "ChargeParameterDiscoveryRes")
    data = bytes.fromhex(v["hex"])
    g = grammar("iso2")
    for cut in sorted({*range(0, 40), *range(40, len(data) - 1, max(1, len(data) // 40))}):
        with pytest.raises(exi.ExiError) as err:
            impl.decode(data[:cut], g)
        e = err.value
        assert e.kind in ("exi.truncated", "exi.value", "exi.header")
        assert e.bit_offset is not None and e.bit_offset <= cut * 8
        if cut > 2:
            assert "V2G_Message" in e.partial and e.path[0] == "V2G_Message"


def test_error_names_the_grammar_state_and_expected_events(impl):
    # DIN SessionSetupReq, then an event code the Header grammar does not define
    data = bytes.fromhex("809A02")  # header, V2G_Message, Header... cut short and skewed
    with pytest.raises(exi.ExiError) as err:
        impl.decode(data + b"\xff" * 2, grammar("din"))
    assert err.value.expected  # e.g. ("SE(SessionID)",)
    assert err.value.state is not None


def test_wrong_header_is_reported(impl):
    with pytest.raises(exi.ExiError) as err:
        impl.decode(b"\x40\x00", grammar("din"))
    assert err.value.kind == "exi.header" and err.value.bit_offset == 0
    with pytest.raises(exi.ExiError) as err:
        impl.decode(b"\xa0\x00", grammar("din"))  # options present
    assert err.value.kind == "exi.header"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300), schema=st.sampled_from(sorted(SCHEMAS)))
def test_random_bytes_only_raise_exi_error(data, schema):
    for impl in (backends.load_twin("exi"), backends.load_extension("exi")):
        if impl is None:
            continue
        try:
            tree = impl.decode(b"\x80" + data, grammar(schema))
        except exi.ExiError as e:
            assert e.partial is not None
        else:
            assert isinstance(tree, dict) and len(tree) == 1


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_bit_flips_only_raise_exi_error(data):
    v = _sample("iso20_DC", "DC_ChargeLoopReq")
    raw = bytearray.fromhex(v["hex"])
    for _ in range(data.draw(st.integers(1, 4))):
        bit = data.draw(st.integers(0, len(raw) * 8 - 1))
        raw[bit // 8] ^= 0x80 >> (bit % 8)
    for impl in (backends.load_twin("exi"), backends.load_extension("exi")):
        if impl is None:
            continue
        try:
            impl.decode(bytes(raw), grammar("iso20_DC"))
        except exi.ExiError:
            pass


@pytest.mark.parametrize("schema", sorted(SCHEMAS))
def test_round_trip_on_generated_trees(schema):
    g = grammar(schema)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.data_too_large])
    @given(trees(schema, nil=True))
    def check(tree):
        data = backends.load_twin("exi").encode(tree, g)
        assert backends.load_twin("exi").decode(data, g) == tree
        ext = backends.load_extension("exi")
        if ext is not None:
            assert ext.encode(tree, g) == data
            assert ext.decode(data, g) == tree

    check()


def test_encode_rejects_trees_the_schema_forbids():
    with pytest.raises(exi.ExiError) as err:
        exi.encode({"V2G_Message": {"Header": {"SessionID": "00"}, "Bogus": {}}}, "din")
    assert err.value.kind == "exi.tree"
    with pytest.raises(exi.ExiError):
        exi.encode({"supportedAppProtocolRes": {"ResponseCode": "Maybe"}}, "appHand")
