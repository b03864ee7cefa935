"""The decoded JSON form as XML (lxml), in schema order with the schema's namespaces.

    to_xml(tree: dict, schema: str) -> lxml.etree._Element
    fragment_to_xml(element_name: str, content, schema: str) -> lxml.etree._Element
    to_xml_bytes(tree: dict, schema: str, *, c14n: bool = True) -> bytes
    canonical(root) -> str   (C14N 2.0, prefixes rewritten)

Element order comes from the grammar (the same choice the encoder makes), so the document is
what an EXI decoder such as EXIficient writes for the same stream: on all 420 reference
vectors the canonical forms are identical (tests/test_exi_xml.py). Prefixes are not
preserved by the V2G options, hence the prefix-rewriting canonical form.
"""

from __future__ import annotations

from functools import cache

from lxml import etree

from ._codec import (
    ORDER,
    SECOND_LEVEL_CH,
    SECOND_LEVEL_EE,
    XSI_NIL,
    XSI_TYPE,
    Placement,
    _after_characters,
    _split_clark,
    _text_of,
    _tree_error,
    check_all_used,
    document_root,
    element_items,
    fragment_element,
    next_event,
    put_nil,
    simple_after_type,
    wildcard_items,
    xsi_type_bits,
)
from .tables import AT, CH, COMPLEX, EE, SE, SIMPLE, XS_NS, Grammar, grammar

XSI = "http://www.w3.org/2001/XMLSchema-instance"

# conventional prefixes of the V2G namespaces (readability only; C14N compares URIs)
PREFIXES = {
    "urn:iso:15118:2:2010:AppProtocol": "app",
    "urn:din:70121:2012:MsgDef": "v2gci_d", "urn:din:70121:2012:MsgHeader": "v2gci_h",
    "urn:din:70121:2012:MsgBody": "v2gci_b", "urn:din:70121:2012:MsgDataTypes": "v2gci_t",
    "urn:iso:15118:2:2013:MsgDef": "ns", "urn:iso:15118:2:2013:MsgHeader": "v2gci_h",
    "urn:iso:15118:2:2013:MsgBody": "v2gci_b", "urn:iso:15118:2:2013:MsgDataTypes": "v2gci_t",
    "http://www.w3.org/2000/09/xmldsig#": "xmlsig",
    "urn:iso:std:iso:15118:-20:CommonTypes": "ct",
    "urn:iso:std:iso:15118:-20:CommonMessages": "cm", "urn:iso:std:iso:15118:-20:AC": "ac",
    "urn:iso:std:iso:15118:-20:DC": "dc", "urn:iso:std:iso:15118:-20:WPT": "wpt",
    "urn:iso:std:iso:15118:-20:ACDP": "acdp",
}


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _qname(uri: str, name: str) -> str:
    return f"{{{uri}}}{name}" if uri else name


def _fill(el: etree._Element, g: Grammar, state: int, shape: int, content,
          path: list[str]) -> None:
    used: dict[str, int] = {}
    if isinstance(content, dict) and XSI_TYPE in content:
        _, state = xsi_type_bits(g, state, shape, content, path)  # checks the type
        uri, _, local = content[XSI_TYPE][1:].partition("}")
        prefix = next((p for p, u in el.nsmap.items() if u == uri and p), None)
        if prefix is None:
            raise _tree_error(path + [XSI_TYPE], f"no prefix declared for {uri}")
        el.set(f"{{{XSI}}}type", f"{prefix}:{local}")
        used[XSI_TYPE] = 1
        if shape == SIMPLE:
            content = simple_after_type(content)
    if isinstance(content, dict) and XSI_NIL in content and state in g.empty:
        nil = put_nil(None, g, state, shape, content, path)
        el.set(f"{{{XSI}}}nil", "true" if nil else "false")
        used[XSI_NIL] = 1
        if nil:
            state, shape = g.empty[state], COMPLEX
        elif shape == SIMPLE:
            content = content["value"]
    items = element_items(shape, content, path)
    wild: dict = {}
    placement = None
    if shape == COMPLEX:  # undeclared / wildcard content: as the encoder tells it apart
        if ORDER in items:
            used[ORDER] = 1
        wild = wildcard_items(g, state, items, used)
        if wild:
            items = {k: v for k, v in items.items() if k not in wild}
            placement = Placement(content, wild, path)
    last_child = None
    while True:
        prods = g.states[state][1]
        code = next_event(g, state, items, used, path)
        if code == SECOND_LEVEL_EE:
            _fill_wild(el, g, wild, path, placement)
            return
        if code == SECOND_LEVEL_CH:
            used["value"] = 1
            text = _text_of(items["value"], path)
            if last_child is None:
                el.text = (el.text or "") + text
            else:
                last_child.tail = (last_child.tail or "") + text
            state = _after_characters(g.states, state)
            continue
        prod = prods[code]
        kind = prod[0]
        if kind == EE:
            check_all_used(items, used, path)
            _fill_wild(el, g, wild, path, placement)
            return
        if kind == CH:
            used["value"] = 1
            text = _text(items["value"])
            if last_child is None:
                el.text = (el.text or "") + text
            else:
                last_child.tail = (last_child.tail or "") + text
            state = prod[2]
        elif kind == AT:
            used[prod[1]] = 1
            el.set(_qname(prod[4], prod[1]), _text(items[prod[1]]))
            state = prod[3]
        elif kind == SE:
            while placement is not None and (due := placement.due(False)) is not None:
                last_child = _next_wild_child(el, g, wild, due, placement, path)
            key = prod[1]
            n = used.get(key, 0)
            used[key] = n + 1
            child_content = items[key][n] if prod[4] else items[key]
            last_child = etree.SubElement(el, _qname(prod[6], key))
            _fill(last_child, g, prod[2], prod[3], child_content, path + [key])
            state = prod[5]
            if placement is not None:
                placement.declared += 1
        else:
            raise _tree_error(path, "wildcard content cannot be written")


def _fill_wild(el: etree._Element, g: Grammar, wild: dict, path: list[str],
               placement: Placement | None) -> None:
    """Undeclared attributes, then the undeclared / wildcard child elements still to come
    (where the encoder writes them: all of them, after the declared ones, without an
    ORDER)."""
    for key, value in wild.items():
        if not isinstance(value, list):
            if not isinstance(value, str):
                raise _tree_error(path + [key], f"an undeclared attribute is text, got {value!r}")
            el.set(_qname(*_split_clark(key)), value)
    if placement is None:
        placement = Placement({}, wild, path)
    while (key := placement.due(True)) is not None:
        _next_wild_child(el, g, wild, key, placement, path)


def _next_wild_child(el: etree._Element, g: Grammar, wild: dict, key: str,
                     placement: Placement, path: list[str]) -> etree._Element:
    """The next occurrence of wildcard child `key`, written where the placement stands."""
    n = sum(1 for k, _ in placement.queue[:placement.next] if k == key)
    placement.next += 1
    return _wild_child(el, g, key, wild[key][n], path + [key])


def _wild_child(el: etree._Element, g: Grammar, key: str, content,
                path: list[str]) -> etree._Element:
    """A global element in its grammar, else an undeclared element cast to xsd:anyType
    (xsi:type written, as EXIficient's XML has it): attributes, text, children."""
    uri, local = _split_clark(key)
    declared = g.globals.get((uri, local))
    if declared is not None:
        child = etree.SubElement(el, _qname(uri, local))
        _fill(child, g, declared[0], declared[1], content, path)
        return child
    if not isinstance(content, dict):
        raise _tree_error(path, f"an undeclared element is an object, got {content!r}")
    child = etree.SubElement(el, _qname(uri, local), nsmap={"xs": XS_NS})
    child.set(f"{{{XSI}}}type", "xs:anyType")
    if "value" in content:
        child.text = _text_of(content["value"], path)
    wild = {k: v for k, v in content.items() if k not in ("value", ORDER)}
    _fill_wild(child, g, wild, path, Placement(content, wild, path))
    return child


@cache
def _nsmap(schema: str) -> dict[str, str]:
    """Prefix -> URI for every namespace the schema set's elements and attributes use."""
    g = grammar(schema)
    uris = {root[3] for root in g.document[1]}
    for state in g.states:
        for prod in state[1]:
            if prod[0] == SE:
                uris.add(prod[6])
            elif prod[0] == AT:
                uris.add(prod[4])
    uris.discard("")
    return {PREFIXES.get(uri, f"ns{i}"): uri for i, uri in enumerate(sorted(uris))}


def to_xml(tree: dict, schema: str) -> etree._Element:
    """The XML document of a decoded tree (raises ExiError like encode)."""
    g = grammar(schema)
    index, name, content = document_root(tree, g)
    _, state, shape, uri = g.document[1][index]
    root = etree.Element(_qname(uri, name), nsmap=_nsmap(g.name))
    _fill(root, g, state, shape, content, [name])
    return root


def fragment_to_xml(element_name: str, content, schema: str) -> etree._Element:
    """One fragment element (as given to encode_fragment) as XML."""
    g = grammar(schema)
    index, name, state, shape = fragment_element(element_name, g)
    uri = g.fragment[1][index][3]
    root = etree.Element(_qname(uri, name), nsmap=_nsmap(g.name))
    _fill(root, g, state, shape, content, [name])
    return root


def to_xml_bytes(tree: dict, schema: str, *, c14n: bool = True) -> bytes:
    """Serialised XML: canonical (C14N 2.0, prefixes rewritten) or as built."""
    root = to_xml(tree, schema)
    if c14n:
        return canonical(root).encode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def canonical(root: etree._Element) -> str:
    """C14N 2.0 with prefixes rewritten: equal for documents that differ only in prefixes
    and namespace declarations, as EXI streams without prefix preservation do. The qname
    value of xsi:type is rewritten with the prefixes."""
    return etree.canonicalize(xml_data=etree.tostring(root).decode(), rewrite_prefixes=True,
                              qname_aware_attrs=[f"{{{XSI}}}type"])

