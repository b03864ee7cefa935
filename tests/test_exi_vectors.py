"""Golden tests: the 420 EXIficient reference vectors, decoded and encoded by both backends."""

from __future__ import annotations

import json

import pytest

from chargescope import backends
from chargescope.dissectors import exi
from chargescope.dissectors.exi.tables import grammar
from tests.conftest import CORPUS, corpus_path, twin_params

REFERENCE = CORPUS / "exi-reference"


def _vectors() -> list:
    if not REFERENCE.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason="corpus not present"))]
    out = []
    for path in sorted(REFERENCE.glob("*/*.jsonl")):
        for line in path.read_text().splitlines():
            v = json.loads(line)
            out.append(pytest.param(v, id=f"{path.parent.name}-{v['message']}-{v['variant']}"))
    return out


VECTORS = _vectors()


def _impl(name: str):
    return backends.load_twin("exi") if name == "python" else backends.load_extension("exi")


@pytest.fixture(params=twin_params("exi"))
def impl(request):
    return _impl(request.param)


def test_reference_set_is_complete():
    corpus_path("exi-reference", "README.md")
    assert len(VECTORS) == 420


@pytest.mark.parametrize("vector", VECTORS)
def test_decode_matches_reference(impl, vector):
    assert impl.decode(bytes.fromhex(vector["hex"]), grammar(vector["namespace"])) == vector["json"]


@pytest.mark.parametrize("vector", VECTORS)
def test_encode_is_byte_identical(impl, vector):
    assert impl.encode(vector["json"], grammar(vector["namespace"])).hex().upper() == vector["hex"]


def test_public_api_accepts_short_names_and_namespaces():
    path = corpus_path("exi-reference", "din", "CurrentDemandReq.jsonl")
    v = json.loads(path.read_text().splitlines()[0])
    data = bytes.fromhex(v["hex"])
    assert exi.decode(data, "din") == exi.decode(data, "urn:din:70121:2012:MsgDef") == v["json"]
    assert exi.encode(v["json"], "din") == data


def test_unknown_schema_is_an_exi_error():
    with pytest.raises(exi.ExiError) as err:
        exi.decode(b"\x80\x00", "iso3")
    assert err.value.kind == "exi.schema"


def test_cookie_and_buffer_types_are_accepted(impl):
    path = corpus_path("exi-reference", "iso2", "SessionSetupReq.jsonl")
    v = json.loads(path.read_text().splitlines()[2])
    data = bytes.fromhex(v["hex"])
    g = grammar("iso2")
    assert impl.decode(b"$EXI" + data, g) == v["json"]
    assert impl.decode(bytearray(data), g) == v["json"]
    assert exi.decode(memoryview(data), "iso2") == v["json"]
