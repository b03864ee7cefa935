"""Hot path "treewalk": both implementations against the plain recursive definitions
they replaced (`v2g.tree.find`, `tls.pnc.find_chains`'s walk), on random trees."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.tls.pnc import find_chains
from tests.conftest import load_impl, twin_params

KEYS = ("MeterReading", "Value", "ContractSignatureCertChain", "CertificateChain",
        "OEMProvisioningCert", "Certificate", "SubCertificates", "Body", "x")
SUFFIXES = ("CertChain", "CertificateChain")
SINGLE = ("OEMProvisioningCert",)

leaves = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(("", "MII", "abc")),
                   st.booleans())
trees = st.recursive(leaves, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.sampled_from(KEYS), kids, max_size=5)),
    max_leaves=30)


def reference_find(node, key):
    """The definition `find` had before it became a hot path."""
    if isinstance(node, dict):
        if key in node:
            return node[key]
        for value in node.values():
            found = reference_find(value, key)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = reference_find(value, key)
            if found is not None:
                return found
    return None


def reference_sites(tree):
    """The walk `find_chains` made before it became a hot path."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if isinstance(value, dict) and (key.endswith("CertChain")
                                            or key.endswith("CertificateChain")) \
                    and "Certificate" in value:
                yield (key, value, False)
            elif key in SINGLE:
                yield (key, value, True)
            else:
                yield from reference_sites(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from reference_sites(value)


@pytest.mark.parametrize("which", twin_params("treewalk"))
@settings(max_examples=150, deadline=None)
@given(tree=trees, key=st.sampled_from(KEYS))
def test_find_is_the_recursive_definition(which, tree, key):
    found = load_impl("treewalk", which).find(tree, key)
    expected = reference_find(tree, key)
    assert found is expected or found == expected


@pytest.mark.parametrize("which", twin_params("treewalk"))
@settings(max_examples=150, deadline=None)
@given(tree=trees)
def test_chain_sites_are_the_recursive_walk(which, tree):
    sites = load_impl("treewalk", which).chain_sites(tree, SUFFIXES, "Certificate", SINGLE)
    assert sites == list(reference_sites(tree))


@pytest.mark.parametrize("which", twin_params("treewalk"))
def test_dict_subclasses_take_their_own_lookup(which):
    class Lower(dict):
        def __contains__(self, key):
            return super().__contains__(key.lower())

        def __getitem__(self, key):
            return super().__getitem__(key.lower())

    tree = [{"a": 1}, Lower(meterreading=5)]
    assert load_impl("treewalk", which).find(tree, "MeterReading") == 5


@pytest.mark.parametrize("which", twin_params("treewalk"))
def test_too_deep_a_tree_is_a_recursion_error_in_both(which):
    impl = load_impl("treewalk", which)
    tree: object = {"MeterReading": 1}
    for _ in range(impl.MAX_DEPTH + 5):
        tree = {"x": [tree]}
    with pytest.raises(RecursionError):
        impl.find(tree, "nothing")
    with pytest.raises(RecursionError):
        impl.chain_sites(tree, SUFFIXES, "Certificate", SINGLE)


def test_a_non_text_key_above_a_dict_fails_as_before():
    with pytest.raises(AttributeError):
        list(find_chains({1: {"Certificate": "x"}}))


@settings(max_examples=100, deadline=None)
@given(fields=st.one_of(trees, st.dictionaries(
    st.sampled_from(("V2G_Message", "Body", "PowerDeliveryReq", "x")),
    st.one_of(trees, st.dictionaries(st.sampled_from(("Body", "Header")), trees))),
    st.builds(lambda b: {"V2G_Message": {"Body": b}}, st.dictionaries(
        st.sampled_from(("PowerDeliveryReq", "x")), trees))),
    name=st.sampled_from(("PowerDeliveryReq", "x", "Body")))
def test_body_is_the_sub_composition(fields, name):
    """`tree.body` inlines `sub(sub(sub(fields, V2G_Message), Body), name)`."""
    from chargescope.analyzer.records import Link, Message
    from chargescope.analyzer.v2g.tree import body, sub

    message = Message(Link.A, "exi", name, 0, "", "", fields)
    v2g = sub(fields, "V2G_Message")
    expected = sub(sub(v2g, "Body"), name) if v2g else sub(fields, name)
    assert body(message) == expected
