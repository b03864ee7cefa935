"""strict=false second-level events (xsi:nil, characters in element-only content, undeclared
elements and attributes) and xmldsig wildcard content: streams made by EXIficient from XML
instances (tools/exi_second_level_golden.py). Both backends decode them identically; the
cases re-encode byte for byte and our XML is EXIficient's after canonicalisation; the
wildcard cases are checked on the subtree the XML instance means."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope import backends
from chargescope.dissectors.exi import ExiError
from chargescope.dissectors.exi._codec import element_names
from chargescope.dissectors.exi.tables import grammar
from chargescope.dissectors.exi.xml import canonical, to_xml
from tests.conftest import DATA, twin_params

ALL = [json.loads(x) for x in (DATA / "exi" / "second_level.jsonl").read_text().splitlines()]
FRAGMENTS = [v for v in ALL if v.get("fragment")]
ALL = [v for v in ALL if not v.get("fragment")]
VECTORS = [v for v in ALL if not v.get("wildcard")]
WILDCARD = [v for v in ALL if v.get("wildcard")]  # the subtree checked, not the whole tree


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


def test_cases_present_wildcard():
    cases = {v["case"] for v in WILDCARD}
    assert {"undeclared-element", "undeclared-attribute", "keyinfo-other-namespace",
            "object-mixed-any", "signature-properties", "transform-xpath-and-any"} <= cases


@pytest.mark.parametrize("vector", WILDCARD, ids=[v["case"] for v in WILDCARD])
def test_undeclared_and_wildcard_content_decodes(impl, vector):
    g = grammar(vector["schema"])
    node = impl.decode(bytes.fromhex(vector["hex"]), g)
    for step in vector["path"]:
        node = node[step]
    assert node == vector["expected"]


@pytest.mark.parametrize("vector", WILDCARD[::3], ids=[v["case"] for v in WILDCARD[::3]])
def test_wildcard_content_truncation_raises_only_exi_error(impl, vector):
    g = grammar(vector["schema"])
    data = bytes.fromhex(vector["hex"])
    for cut in range(len(data)):
        with pytest.raises(ExiError):
            impl.decode(data[:cut], g)


@pytest.mark.parametrize("vector", WILDCARD, ids=[v["case"] for v in WILDCARD])
def test_undeclared_and_wildcard_content_reencodes_byte_for_byte(impl, vector):
    """SE(*) / AT(*) content goes back out with the stream's string table (misses added,
    hits by compact id), undeclared elements cast to xsd:anyType as EXIficient writes them."""
    g = grammar(vector["schema"])
    data = bytes.fromhex(vector["hex"])
    tree = impl.decode(data, g)
    assert impl.encode(tree, g) == data
    assert canonical(to_xml(tree, vector["schema"])) == vector["c14n"]


def test_wrong_wildcard_trees_are_refused_by_the_encoder(impl):
    vector = next(v for v in WILDCARD if v["case"] == "undeclared-elements-nested")
    g = grammar("iso2")
    for wrong in ({"{urn:x}Foo": [{"{urn:x}Bar": [7]}]},  # an undeclared element: an object
                  {"{urn:x}Foo": [{"b": 1}]},  # an undeclared attribute: text
                  {"{urn:x}": [{}]}):  # no local name
        tree = impl.decode(bytes.fromhex(vector["hex"]), g)
        header = tree["V2G_Message"]["Header"]
        del header["{urn:x}Foo"]
        header.update(wrong)
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


def test_xsi_type_json_form_and_refusals(impl):
    """xsi:type is the key "xsi:type" with the type's Clark name (a simple-typed element
    becomes {"xsi:type", "value"}); a type the schema does not name, or of the other shape,
    is refused by the encoder (and by the decoder when a stream names one)."""
    g = grammar("iso2")
    by_case = {v["case"]: v for v in VECTORS}
    assert {"type-same-type", "type-abstract-body-element", "type-simple", "type-then-nil",
            "type-din", "type-header", "type-datatypes-namespace"} <= set(by_case)
    body = by_case["type-simple"]["json"]["V2G_Message"]["Body"]
    assert body == {"SessionSetupReq": {"EVCCID": {
        "xsi:type": "{urn:iso:15118:2:2013:MsgDataTypes}evccIDType", "value": "0A0B"}}}
    body = by_case["type-then-nil"]["json"]["V2G_Message"]["Body"]
    assert body == {"SessionSetupReq": {
        "xsi:type": "{urn:iso:15118:2:2013:MsgBody}SessionSetupReqType", "xsi:nil": True}}
    vector = by_case["type-same-type"]
    for wrong in ("{urn:iso:15118:2:2013:MsgBody}NoSuchType", "SessionSetupReqType",
                  "{urn:iso:15118:2:2013:MsgDataTypes}evccIDType", 7):
        tree = json.loads(json.dumps(vector["json"]))
        tree["V2G_Message"]["Body"]["SessionSetupReq"]["xsi:type"] = wrong
        with pytest.raises(ExiError) as err:
            impl.encode(tree, g)
        assert err.value.kind == "exi.tree"
    # the stream names a simple type for a complex element: the type index of evccIDType
    # in the MsgDataTypes partition written where SessionSetupReqType was
    data = bytearray(bytes.fromhex(vector["hex"]))
    strings = dict(g.strings)
    body_names, types_names = (strings["urn:iso:15118:2:2013:MsgBody"],
                               strings["urn:iso:15118:2:2013:MsgDataTypes"])
    uris = [u for u, _ in g.strings]
    bits = "".join(f"{b:08b}" for b in data)
    old = (f"{uris.index('urn:iso:15118:2:2013:MsgBody') + 1:04b}" + "0" * 8
           + f"{body_names.index('SessionSetupReqType'):07b}")
    new = (f"{uris.index('urn:iso:15118:2:2013:MsgDataTypes') + 1:04b}" + "0" * 8
           + f"{types_names.index('evccIDType'):08b}")
    assert bits.count(old) == 1
    bits = bits.replace(old, new) + "0" * 7
    data = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits) - 7, 8))
    with pytest.raises(ExiError) as err:
        impl.decode(data, g)
    assert err.value.kind == "exi.unsupported"


_LOCAL = st.text(alphabet="abcXYZ", min_size=1, max_size=3)
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=5)
_URI = st.sampled_from(["urn:x", "urn:y", "http://www.w3.org/2000/09/xmldsig#"])
_ATTRIBUTE = st.one_of(_LOCAL, st.builds(lambda u, n: f"{{{u}}}{n}", _URI, _LOCAL))
_ELEMENT = st.builds(lambda u, n: f"{{{u}}}{n}", st.sampled_from(["urn:x", "urn:y"]), _LOCAL)


def _undeclared(children):
    return st.builds(lambda attrs, text, kids: {**attrs, **text, **kids},
                     st.dictionaries(_ATTRIBUTE, _TEXT, max_size=2),
                     st.one_of(st.just({}), st.builds(lambda t: {"value": t}, _TEXT)),
                     st.dictionaries(_ELEMENT, st.lists(children, min_size=1, max_size=2),
                                     max_size=2))


_CONTENT = st.recursive(st.just({}), _undeclared, max_leaves=6)


@settings(max_examples=60, deadline=None)
@given(attrs=st.dictionaries(  # a plain key naming a schema element is that element, not text
           _ATTRIBUTE.filter(lambda k: k not in element_names(grammar("iso2"))), _TEXT,
           max_size=2),
       elements=st.dictionaries(_ELEMENT, st.lists(_CONTENT, min_size=1, max_size=3),
                                max_size=2))
def test_undeclared_content_round_trips_on_both_backends(attrs, elements):
    """Any undeclared content (string-table misses, then hits; repeated qnames; nesting)
    decodes to the tree it was encoded from, and both backends write the same bytes."""
    g = grammar("iso2")
    tree = {"V2G_Message": {"Header": {"SessionID": "0102", **attrs, **elements},
                            "Body": {"SessionSetupReq": {"EVCCID": "0A0B"}}}}
    twin = backends.load_twin("exi")
    data = twin.encode(tree, g)
    assert twin.decode(data, g) == tree
    for impl in (twin, backends.load_extension("exi")):
        if impl is None:  # extension not built
            continue
        assert impl.encode(tree, g) == data
        assert impl.decode(data, g) == tree


@pytest.mark.parametrize("vector", FRAGMENTS, ids=[v["case"] for v in FRAGMENTS])
def test_wildcard_content_in_fragments(impl, vector):
    """xmldsig Transform ##other content inside SignedInfo as an EXI fragment (what a
    signature is computed over), by EXIficient: decoded and re-encoded byte for byte."""
    g = grammar(vector["schema"])
    data = bytes.fromhex(vector["hex"])
    tree = impl.decode_fragment(data, g)
    assert tree == vector["json"]
    (element, content), = tree.items()
    assert impl.encode_fragment(element, content, g) == data


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["case"].startswith("type-")],
                         ids=lambda v: v["case"])
def test_xsi_type_truncation_and_bit_flips_raise_only_exi_error(impl, vector):
    g = grammar(vector["schema"])
    data = bytes.fromhex(vector["hex"])
    for cut in range(len(data)):
        with pytest.raises(ExiError):
            impl.decode(data[:cut], g)
    twin = backends.load_twin("exi")
    for bit in range(8, len(data) * 8):  # past the header: flipped streams decode or raise
        flipped = bytearray(data)
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
        try:
            ours = impl.decode(bytes(flipped), g)
        except ExiError as exc:
            with pytest.raises(ExiError) as err:
                twin.decode(bytes(flipped), g)
            assert err.value.kind == exc.kind
        else:
            assert twin.decode(bytes(flipped), g) == ours


def test_nil_false_on_a_simple_element_json_form_and_refusals(impl):
    """xsi:nil="false" on a simple-typed element (a stream may carry it; EXIficient reads
    it, never writes it): {"xsi:nil": false, "value": v}, with xsi:type alongside."""
    g = grammar("iso2")
    by_case = {v["case"]: v for v in VECTORS}
    assert by_case["nil-false-simple"]["made_by"] == "chargescope"
    body = by_case["nil-false-simple"]["json"]["V2G_Message"]["Body"]
    assert body == {"SessionSetupReq": {"EVCCID": {"xsi:nil": False, "value": "0A0B"}}}
    assert by_case["nil-false-simple-with-type"]["json"]["V2G_Message"]["Body"][
        "SessionSetupReq"]["EVCCID"]["xsi:nil"] is False
    for wrong in ({"xsi:nil": False}, {"xsi:nil": False, "value": "0A", "Id": "x"},
                  {"xsi:nil": True, "value": "0A"}, {"xsi:nil": "false", "value": "0A"}):
        tree = json.loads(json.dumps(by_case["nil-false-simple"]["json"]))
        tree["V2G_Message"]["Body"]["SessionSetupReq"]["EVCCID"] = wrong
        with pytest.raises(ExiError) as err:
            impl.encode(tree, g)
        assert err.value.kind == "exi.tree"


ORDERED = [v for v in WILDCARD if "#order" in json.dumps(v["expected"])]


def test_order_only_where_undeclared_content_is_not_last():
    assert {v["case"] for v in ORDERED} == {
        "undeclared-before-declared", "undeclared-first-in-header",
        "undeclared-around-declared", "undeclared-interleaved",
        "undeclared-interleaved-children", "transform-any-before-xpath"}


@pytest.mark.parametrize("vector", ORDERED, ids=[v["case"] for v in ORDERED])
def test_order_refusals_and_default_placement(impl, vector):
    """A wrong "#order" is refused (exi.tree); without it the undeclared elements go after
    the declared ones, grouped by key: another valid stream of the same content."""
    g = grammar(vector["schema"])
    data = bytes.fromhex(vector["hex"])

    def holder(tree):  # the object that holds "#order"
        stack = [tree]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if "#order" in node:
                    return node
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
        raise AssertionError("no #order")

    order = holder(impl.decode(data, g))["#order"]
    key = order[0][0]
    for wrong in (order[:-1], order + [order[-1]], list(reversed(order)) + [[key, 99], [key, 0]],
                  [["{urn:nope}X", 0]] + order[1:], [[key, -1]] + order[1:], "x"):
        tree = impl.decode(data, g)
        holder(tree)["#order"] = wrong
        with pytest.raises(ExiError) as err:
            impl.encode(tree, g)
        assert err.value.kind == "exi.tree", wrong
    tree = impl.decode(data, g)
    del holder(tree)["#order"]
    again = impl.encode(tree, g)
    assert again != data
    assert impl.decode(again, g) == tree


_PLACED = st.lists(st.tuples(st.sampled_from(["{urn:x}A", "{urn:y}B", "{urn:x}C"]),
                             st.integers(0, 1)), min_size=1, max_size=6)


@settings(max_examples=80, deadline=None)
@given(placed=_PLACED.map(lambda p: sorted(p, key=lambda e: e[1])))
def test_undeclared_positions_round_trip_on_both_backends(placed):
    """Undeclared elements before and after the declared SessionID, in any order: the tree
    with its "#order" comes back (without it when the default placement is the order)."""
    g = grammar("iso2")
    header: dict = {"SessionID": "0102"}
    for n, (key, _) in enumerate(placed):
        header.setdefault(key, []).append({"value": str(n)})
    header["#order"] = [[key, at] for key, at in placed]
    tree = {"V2G_Message": {"Header": header, "Body": {"SessionSetupReq": {"EVCCID": "0A0B"}}}}
    first_seen = list(dict.fromkeys(key for key, _ in placed))
    default = [[key, 1] for key in first_seen for _ in header[key]]
    expected = json.loads(json.dumps(tree))
    if header["#order"] == default:
        del expected["V2G_Message"]["Header"]["#order"]
    twin = backends.load_twin("exi")
    data = twin.encode(tree, g)
    assert twin.decode(data, g) == expected
    assert canonical(to_xml(expected, "iso2")) == canonical(to_xml(tree, "iso2"))
    for impl in (twin, backends.load_extension("exi")):
        if impl is None:
            continue
        assert impl.encode(tree, g) == data == impl.encode(expected, g)
        assert impl.decode(data, g) == expected
