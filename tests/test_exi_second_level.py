"""strict=false second-level events (xsi:nil, characters in element-only content, ...): streams
made by EXIficient from XML instances (tools/exi_second_level_golden.py). Both backends decode
them, re-encode them byte for byte, and our XML is EXIficient's XML after canonicalisation."""

from __future__ import annotations

import json

import pytest

from chargescope import backends
from chargescope.dissectors.exi import ExiError
from chargescope.dissectors.exi.tables import grammar
from chargescope.dissectors.exi.xml import canonical, to_xml
from tests.conftest import DATA, twin_params

VECTORS = [json.loads(x) for x in (DATA / "exi" / "second_level.jsonl").read_text().splitlines()]


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
