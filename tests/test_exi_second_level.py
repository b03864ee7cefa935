"""strict=false second-level events (xsi:nil, characters in element-only content, undeclared
elements and attributes) and xmldsig wildcard content: streams made by EXIficient from XML
instances (tools/exi_second_level_golden.py). Both backends decode them identically; the
round-trip cases re-encode byte for byte and our XML is EXIficient's after canonicalisation;
the decode-only cases give the subtree the XML instance means."""

from __future__ import annotations

import json

import pytest

from chargescope import backends
from chargescope.dissectors.exi import ExiError
from chargescope.dissectors.exi.tables import grammar
from chargescope.dissectors.exi.xml import canonical, to_xml
from tests.conftest import DATA, twin_params

ALL = [json.loads(x) for x in (DATA / "exi" / "second_level.jsonl").read_text().splitlines()]
VECTORS = [v for v in ALL if not v.get("decode_only")]
DECODE_ONLY = [v for v in ALL if v.get("decode_only")]


@pytest.fixture(params=twin_params("exi"))
def impl(request):
    if request.param == "python":
        return backends.load_twin("exi")
    return backends.load_extension("exi")


def test_cases_present():
    cases = {v["case"] for v in VECTORS}
    assert {"nil-simple", "nil-with-attribute", "characters-in-element-only"} <= cases


@pytest.mark.parametrize("vector", VECTORS, ids=[v["case"] for v in VECTORS])
def test_second_level_golden(impl, vector):
    g = grammar(vector["schema"])
    data = bytes.fromhex(vector["hex"])
    tree = impl.decode(data, g)
    assert tree == vector["json"]
    assert impl.encode(tree, g) == data
    assert canonical(to_xml(tree, vector["schema"])) == vector["c14n"]


def test_cases_present_decode_only():
    cases = {v["case"] for v in DECODE_ONLY}
    assert {"undeclared-element", "undeclared-attribute", "keyinfo-other-namespace",
            "object-mixed-any", "signature-properties", "transform-xpath-and-any"} <= cases


@pytest.mark.parametrize("vector", DECODE_ONLY, ids=[v["case"] for v in DECODE_ONLY])
def test_undeclared_and_wildcard_content_decodes(impl, vector):
    g = grammar(vector["schema"])
    node = impl.decode(bytes.fromhex(vector["hex"]), g)
    for step in vector["path"]:
        node = node[step]
    assert node == vector["expected"]


@pytest.mark.parametrize("vector", DECODE_ONLY[::3], ids=[v["case"] for v in DECODE_ONLY[::3]])
def test_wildcard_content_truncation_raises_only_exi_error(impl, vector):
    g = grammar(vector["schema"])
    data = bytes.fromhex(vector["hex"])
    for cut in range(len(data)):
        with pytest.raises(ExiError):
            impl.decode(data[:cut], g)


def test_wildcard_trees_are_refused_by_the_encoder(impl):
    """Until the encoder writes undeclared content, it says so instead of dropping it."""
    vector = next(v for v in DECODE_ONLY if v["case"] == "undeclared-element")
    g = grammar("iso2")
    tree = impl.decode(bytes.fromhex(vector["hex"]), g)
    with pytest.raises(ExiError) as err:
        impl.encode(tree, g)
    assert err.value.kind == "exi.tree"


def test_nil_json_form(impl):
    g = grammar("iso2")
    by_case = {v["case"]: v for v in VECTORS}
    body = by_case["nil-with-attribute"]["json"]["V2G_Message"]["Body"]
    assert body == {"AuthorizationReq": {"xsi:nil": True, "Id": "A"}}
    body = by_case["nil-simple"]["json"]["V2G_Message"]["Body"]
    assert body == {"SessionSetupReq": {"EVCCID": {"xsi:nil": True}}}
    # a nil element cannot carry content, and xsi:nil must be a boolean
    tree = json.loads(json.dumps(by_case["nil-complex-no-attributes"]["json"]))
    tree["V2G_Message"]["Body"]["SessionSetupReq"]["EVCCID"] = "0A"
    with pytest.raises(ExiError) as err:
        impl.encode(tree, g)
    assert err.value.kind == "exi.tree"
    tree["V2G_Message"]["Body"]["SessionSetupReq"] = {"xsi:nil": "yes"}
    with pytest.raises(ExiError) as err:
        impl.encode(tree, g)
    assert err.value.kind == "exi.tree"
